"""Decisions over time: transitions, scenarios, Monte Carlo, backtests."""
