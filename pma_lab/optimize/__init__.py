"""One decision: the tax-aware rebalance, its frontier, optimality gaps."""
