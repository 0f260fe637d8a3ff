"""Market data: prices, the universe, security identifiers, benchmarks."""
