"""Benchmark: apply every category screen plus name and sector restrictions to the universe.

The dashboard re-applies the screens on every restriction toggle, so applying them must
stay well inside the toggle's budget. Goal: the best of 5 runs <= 0.05 s (it was a timed
unit test, ``tests/test_screens.py::test_apply_is_cheap``, until session 14: speed lives
here, not in tests). Prints one JSON object with the best and median times and the load.
"""

from __future__ import annotations

import json
import os
import statistics
import time

from pma_lab.market.data import load_market
from pma_lab.portfolio.restrictions import Restrictions
from pma_lab.portfolio.screens import apply_screens, load_catalog
from pma_lab.schema import RESTRICTION_CATEGORIES

GOAL_SECONDS = 0.05


def main() -> None:
    universe = load_market().universe.frame()
    catalog = load_catalog()
    r = Restrictions(categories=RESTRICTION_CATEGORIES, never_hold=("AAPL",),
                     no_buy=("MSFT",), exclude_sectors=("Utilities",))
    apply_screens(universe, r, catalog)  # warm
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        apply_screens(universe, r, catalog)
        runs.append(time.perf_counter() - t0)
    best = min(runs)
    print(json.dumps({"benchmark": "screens_apply", "names": len(universe),
                      "best_seconds": round(best, 4),
                      "median_seconds": round(statistics.median(runs), 4),
                      "goal_seconds": GOAL_SECONDS, "met": best <= GOAL_SECONDS,
                      "loadavg": os.getloadavg()}, indent=2))


if __name__ == "__main__":
    main()
