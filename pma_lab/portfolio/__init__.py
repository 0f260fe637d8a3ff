"""What to own: risk models, screens, targets, ladders and allocations."""
