"""Benchmark and study: the tax-loss-harvesting backtest (issue 13).

Parts (each prints one JSON object; ``--out DIR`` also writes the study's files there):

* ``single`` (default): one 10-year monthly backtest of the 500-name portfolio from
  2005-01-03 (goal <= 30 s on 2 cores), with where the time goes (cProfile, top functions).
* ``--rolling``: 64 quarterly starts 2000-2015, 10-year horizons, monthly harvesting
  (goal <= 10 min on 2 cores with ``--workers 2``): ``summary.json`` of the study.
* ``--shapes``: the literature's shapes on fewer starts (every ``--every`` years from 2000): harvest
  frequency (annual, quarterly, monthly, weekly, daily), with and without outside gains, and the
  end states.

The machine's load average is printed with every result, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from pma_lab.market.corpactions import load_corporate_actions
from pma_lab.market.data import load_market
from pma_lab.plan.backtest import BacktestSettings, run_backtest, wash_sale_violations
from pma_lab.plan.taxalpha import parse_starts, rolling_study, write_study


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def single() -> dict:
    """One 10-year monthly 500-name path, timed and profiled."""
    m = load_market()
    t0 = time.perf_counter()
    v = load_corporate_actions(m)
    t_view = time.perf_counter() - t0
    s = BacktestSettings(start=pd.Timestamp("2005-01-03"), years=10)
    t0 = time.perf_counter()
    r = run_backtest(s, m, v)
    wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    viol = wash_sale_violations(r)
    t_replay = time.perf_counter() - t0
    prof = cProfile.Profile()
    prof.enable()
    run_backtest(s, m, v)
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    top = sorted(((k[2], v[3]) for k, v in st.stats.items()  # type: ignore[attr-defined]
                  if "pma_lab" in k[0]), key=lambda x: -x[1])[:8]
    return {"part": "single", "wall_s": round(wall, 2), "raw_view_load_s": round(t_view, 2),
            "replay_check_s": round(t_replay, 2), "wash_sale_violations": viol,
            "goal_s": 30, "load_avg": _load(),
            "cumulative_s_by_function": {k: round(x, 2) for k, x in top},
            "summary": {k: (round(v, 5) if isinstance(v, float) else v)
                        for k, v in r.summary.items()}}


def rolling(workers: int, out: Path | None) -> dict:
    """64 quarterly starts 2000-2015, 10 years each."""
    cal = load_market().prices.calendar
    starts = parse_starts("2000-01-03:2015-12-31:quarterly", cal)
    base = BacktestSettings(start=starts[0], years=10)
    t0 = time.perf_counter()
    res = rolling_study(base, starts, workers=workers)
    wall = time.perf_counter() - t0
    if out is not None:
        write_study(res, out)
    return {"part": "rolling", "starts": len(starts), "workers": workers,
            "wall_s": round(wall, 1), "goal_s": 600, "load_avg": _load(), **res.summary}


def shapes(workers: int, every: int, names: int, only: list[str] | None) -> dict:
    """Frequency ordering, outside gains and end states on starts every ``every`` years."""
    cal = load_market().prices.calendar
    starts = parse_starts("2000-01-03:2014-12-31:annual", cal)[::every]
    base = BacktestSettings(start=starts[0], years=10, n_names=names)
    variants = {
        "annual": replace(base, frequency="annual"),
        "quarterly": replace(base, frequency="quarterly"),
        "monthly": base,
        "weekly": replace(base, frequency="weekly"),
        "daily": replace(base, frequency="daily"),
        "monthly_no_outside_gains": replace(base, outside_gains=False),
        "monthly_step_up": replace(base, end_state="step_up"),
        "monthly_donate": replace(base, end_state="donate"),
        "monthly_no_substitutes": replace(base, substitutes=False),
    }
    if only:
        variants = {k: v for k, v in variants.items() if k in only}
    out: dict = {"part": "shapes", "starts": [f"{s:%Y-%m-%d}" for s in starts],
                 "n_names": names}
    t0 = time.perf_counter()
    for name, s in variants.items():
        sm = rolling_study(s, starts, workers=workers).summary
        out[name] = {k: sm[k] for k in ("tax_alpha_annual_median", "tax_alpha_annual_p10",
                                        "tax_alpha_annual_p90", "pre_tax_excess_annual_median",
                                        "te_realized_median", "turnover_annual_median",
                                        "wash_sale_violations", "harvest_by_year_median")}
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    out["load_avg"] = _load()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rolling", action="store_true")
    ap.add_argument("--shapes", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--every", type=int, default=2, help="--shapes: years between starts")
    ap.add_argument("--names", type=int, default=500, help="--shapes: names held")
    ap.add_argument("--only", default="", help="--shapes: comma-separated variants")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    if a.rolling:
        res = rolling(a.workers, a.out)
    elif a.shapes:
        res = shapes(a.workers, a.every, a.names, a.only.split(",") if a.only else None)
    else:
        res = single()
    text = json.dumps(res, indent=1, default=str)
    print(text)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / f"bench_{res['part']}.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
