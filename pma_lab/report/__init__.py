"""What people read: formatting, charts, the proposal and trade files."""
