"""Tax-alpha study: rolling starts of :func:`pma_lab.backtest.run_backtest` as distributions.

:func:`rolling_study` runs one path per start (optionally on Dask), then
:func:`summarize` reports the annualised tax alpha as a distribution (median, p10, p90),
the harvest decay by year, turnover, realised TE and lock-in, and the wash-sale violations
counted by replaying every trade through a fresh ledger. :data:`LITERATURE` holds the
published numbers the shapes are compared with (``docs/tax_alpha.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from pma_lab.backtest import BacktestSettings, PathResult, run_backtest, wash_sale_violations
from pma_lab.errors import DataError
from pma_lab.files import write_json, write_text

__all__ = ["LITERATURE", "StudyResult", "parse_starts", "rolling_study", "summarize",
           "write_study"]

LITERATURE = pd.DataFrame([
    ("Chaudhuri, Burnham & Lo (2020)", "monthly, 500 largest, 1926-2018", "no wash-sale rule",
     1.08),
    ("Chaudhuri, Burnham & Lo (2020)", "monthly, 500 largest, 1926-2018", "wash-sale rule",
     0.82),
    ("Vanguard (2022), investor A", "10-year average", "annual", 0.38),
    ("Vanguard (2022), investor A", "10-year average", "quarterly", 1.07),
    ("Vanguard (2022), investor A", "10-year average", "monthly", 1.23),
    ("Vanguard (2022), investor A", "10-year average", "daily", 1.36),
], columns=["source", "setting", "variant", "tax_alpha_pct_per_year"])
"""Published tax alpha (percent a year), from ``tax-and-optimization.md`` §2 and §3.2."""


def parse_starts(spec: str, calendar: pd.DatetimeIndex) -> list[pd.Timestamp]:
    """``2000-01-03:2015-12-31:quarterly`` -> first trading day of each quarter in range.

    Raises
    ------
    DataError
        If the spec is not ``START:END:FREQUENCY`` with a known frequency.
    """
    parts = spec.split(":")
    freq = {"monthly": "M", "quarterly": "Q", "annual": "Y"}
    if len(parts) != 3 or parts[2] not in freq:
        raise DataError(f"--starts {spec!r}: use START:END:FREQUENCY with FREQUENCY one of "
                        f"{sorted(freq)}, e.g. 2000-01-03:2015-12-31:quarterly")
    try:
        a, b = pd.Timestamp(parts[0]), pd.Timestamp(parts[1])
    except ValueError as exc:
        raise DataError(f"--starts {spec!r}: dates must be YYYY-MM-DD ({exc})") from None
    cal = calendar[(calendar >= a) & (calendar <= b)]
    per = cal.to_period(freq[parts[2]])
    return list(cal[~pd.Series(per).duplicated().to_numpy()])


@dataclass(frozen=True)
class StudyResult:
    """Rolling-start results: one summary row per start, yearly rows, and the summary."""

    paths: pd.DataFrame
    yearly: pd.DataFrame
    summary: dict


def _one(settings: BacktestSettings) -> tuple[dict, pd.DataFrame]:
    r: PathResult = run_backtest(settings)
    row = dict(r.summary)
    row["wash_sale_violations"] = wash_sale_violations(r)
    y = r.yearly.copy()
    y.insert(0, "start", row["start"])
    return row, y


def rolling_study(base: BacktestSettings, starts: Sequence[pd.Timestamp],
                  workers: int = 0, scheduler: str | None = None) -> StudyResult:
    """Run one path per start (on Dask when ``workers`` or ``scheduler`` is given)."""
    jobs = [replace(base, start=s) for s in starts]
    if workers or scheduler:
        from dask.distributed import Client, LocalCluster

        cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1,
                                                      host="127.0.0.1", dashboard_address=None)
        with Client(scheduler or cluster) as client:
            out = client.gather(client.map(_one, jobs, pure=False))
        if cluster is not None:
            cluster.close()
    else:
        out = [_one(j) for j in jobs]
    paths = pd.DataFrame([o[0] for o in out])
    yearly = pd.concat([o[1] for o in out], ignore_index=True)
    return StudyResult(paths, yearly, summarize(paths, yearly))


def _q(x: pd.Series, q: float) -> float:
    x = x.dropna()
    return float(np.quantile(x, q)) if len(x) else float("nan")


def summarize(paths: pd.DataFrame, yearly: pd.DataFrame) -> dict:
    """The study's summary (``summary.json``): distributions, decay, lock-in by year."""
    decay = yearly.groupby("year_no")["harvested_pct"].median()
    lock = yearly.groupby("year_no")["lock_in"].median()
    return {
        "starts": len(paths),
        "tax_alpha_annual_median": _q(paths.tax_alpha_annual, 0.5),
        "tax_alpha_annual_p10": _q(paths.tax_alpha_annual, 0.1),
        "tax_alpha_annual_p90": _q(paths.tax_alpha_annual, 0.9),
        "tax_alpha_vs_fund_annual_median": _q(paths.tax_alpha_vs_fund_annual, 0.5),
        "pre_tax_excess_annual_median": _q(paths.pre_tax_excess_annual, 0.5),
        "te_realized_median": _q(paths.te_realized, 0.5),
        "turnover_annual_median": _q(paths.turnover_annual, 0.5),
        "wash_sale_violations": int(paths.wash_sale_violations.sum()),
        "names_missing_prices": int(paths.names_missing_prices.max()),
        "harvest_by_year_median": [float(v) for v in decay.to_numpy()],
        "lock_in_by_year_median": [float(v) for v in lock.to_numpy()],
    }


def write_study(result: StudyResult, out: Path | str) -> list[Path]:
    """Write ``summary.json``, ``starts.csv`` (one row per start) and ``paths.csv``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [write_json(out / "summary.json", result.summary),
            write_text(out / "starts.csv", result.paths.to_csv(index=False)),
            write_text(out / "paths.csv", result.yearly.to_csv(index=False))]
