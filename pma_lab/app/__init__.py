"""Entry points: the command line, batch, demo and the dashboard."""
