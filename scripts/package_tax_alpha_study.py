"""Copy the tax-alpha study's summary into the package (data/samples/studies/tax_alpha.json).

The proposal cites the rolling study of docs/tax_alpha.md ("What tax-loss harvesting has
been worth"). The study's figures live in ``benchmarks/bench_backtest_rolling.json`` (64
quarterly starts, 2000-2015, 10-year horizons, monthly harvesting) and
``benchmarks/bench_backtest_shapes.json`` (the variant without outside gains), which the
wheel does not ship. This script copies the summary keys the proposal reads, and the
settings of the run (the defaults of :class:`pma_lab.plan.backtest.BacktestSettings` that
``benchmarks/bench_backtest.py --rolling`` uses, and the start dates from the packaged
calendar), into ``data/samples/studies/tax_alpha.json``. Re-run it after a new study run::

    .venv/bin/python scripts/package_tax_alpha_study.py
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from pma_lab.files import write_text
from pma_lab.market.data import load_market
from pma_lab.plan.backtest import BacktestSettings
from pma_lab.plan.taxalpha import parse_starts

ROOT = Path(__file__).resolve().parents[1]
ROLLING = ROOT / "benchmarks" / "bench_backtest_rolling.json"
SHAPES = ROOT / "benchmarks" / "bench_backtest_shapes.json"
OUT = ROOT / "data" / "samples" / "studies" / "tax_alpha.json"
STARTS = "2000-01-03:2015-12-31:quarterly"  # as benchmarks/bench_backtest.py --rolling
SUMMARY_KEYS = ("starts", "tax_alpha_annual_median", "tax_alpha_annual_p10",
                "tax_alpha_annual_p90", "pre_tax_excess_annual_median", "te_realized_median",
                "turnover_annual_median", "wash_sale_violations", "names_missing_prices",
                "harvest_by_year_median", "lock_in_by_year_median")
SETTINGS_KEYS = ("years", "frequency", "threshold", "te_cap", "substitutes", "n_names",
                 "st_rate", "lt_rate", "dividend_rate", "outside_gains", "end_state",
                 "weighting", "max_weight")


def main() -> None:
    """Write the packaged study file."""
    rolling = json.loads(ROLLING.read_text())
    shapes = json.loads(SHAPES.read_text())
    starts = parse_starts(STARTS, load_market().prices.calendar)
    if len(starts) != rolling["starts"]:
        raise SystemExit(f"{ROLLING.name} has {rolling['starts']} starts, {STARTS} gives "
                         f"{len(starts)}: the study was run with other starts")
    base = dataclasses.asdict(BacktestSettings(start=starts[0]))
    no_og = shapes["monthly_no_outside_gains"]
    doc = {
        "source": ("benchmarks/bench_backtest_rolling.json (rolling_study, "
                   "benchmarks/bench_backtest.py --rolling) and "
                   "benchmarks/bench_backtest_shapes.json; method in docs/tax_alpha.md"),
        "summary": {k: rolling[k] for k in SUMMARY_KEYS},
        "settings": {k: base[k] for k in SETTINGS_KEYS},
        "first_start": f"{starts[0]:%Y-%m-%d}", "last_start": f"{starts[-1]:%Y-%m-%d}",
        "start_spacing": "quarterly",
        "without_outside_gains": {
            "tax_alpha_annual_median": no_og["tax_alpha_annual_median"],
            "starts": len(shapes["starts"]), "n_names": shapes["n_names"]},
    }
    write_text(OUT, json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
