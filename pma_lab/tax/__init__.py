"""Tax: the rules (one place), the lot ledger, and a year's tax."""
