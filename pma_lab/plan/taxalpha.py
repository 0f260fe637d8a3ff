"""Tax-alpha study: rolling starts of :func:`pma_lab.plan.backtest.run_backtest` as distributions.

:func:`rolling_study` runs one path per start (optionally on Dask), then
:func:`summarize` reports the annualised tax alpha as a distribution (median, p10, p90;
the text quotes min and max under :data:`MIN_PATHS_FOR_PERCENTILES` paths),
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

from pma_lab.errors import DataError
from pma_lab.files import write_folder
from pma_lab.formatting import fmt_pct
from pma_lab.plan.backtest import BacktestSettings, PathResult, run_backtest, wash_sale_violations

__all__ = ["LITERATURE", "MIN_PATHS_FOR_PERCENTILES", "StudyResult", "Comparison",
           "compare_variants", "decay_figure", "findings", "lock_in_figure", "parse_starts",
           "rolling_study", "spread_text",
           "summarize", "variant_row", "write_study"]

MIN_PATHS_FOR_PERCENTILES = 10
"""Below this many paths the text quotes the range (min to max), not p10/p90: a tenth
percentile of two or three paths is an interpolation between them, not a statistic."""

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

        cluster = None if scheduler else LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=50,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
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


def _full_years(yearly: pd.DataFrame) -> pd.DataFrame:
    """The yearly rows of the account years every path has.

    A path whose horizon ends a few days into a further calendar year (3 years from
    2010-01-04) has a stub last row; its median over the few paths that have it read
    "harvested 0.00% in its last year" in the findings. The by-year medians and figures
    use the years all paths share.
    """
    if not len(yearly):
        return yearly
    n = yearly["start"].nunique()
    have = yearly.groupby("year_no")["start"].nunique()
    return yearly[yearly["year_no"].isin(have.index[have == n])]


def summarize(paths: pd.DataFrame, yearly: pd.DataFrame) -> dict:
    """The study's summary (``summary.json``): distributions, decay, lock-in by year."""
    full = _full_years(yearly)
    decay = full.groupby("year_no")["harvested_pct"].median()
    lock = full.groupby("year_no")["lock_in"].median()
    return {
        "starts": len(paths),
        "tax_alpha_annual_median": _q(paths.tax_alpha_annual, 0.5),
        "tax_alpha_annual_p10": _q(paths.tax_alpha_annual, 0.1),
        "tax_alpha_annual_p90": _q(paths.tax_alpha_annual, 0.9),
        "tax_alpha_annual_min": _q(paths.tax_alpha_annual, 0.0),
        "tax_alpha_annual_max": _q(paths.tax_alpha_annual, 1.0),
        "tax_alpha_vs_fund_annual_median": _q(paths.tax_alpha_vs_fund_annual, 0.5),
        "pre_tax_excess_annual_median": _q(paths.pre_tax_excess_annual, 0.5),
        # per path: the after-tax difference less the pre-tax one (what tax adds)
        "tax_effect_annual_median": _q(paths.tax_alpha_annual - paths.pre_tax_excess_annual,
                                       0.5),
        "te_realized_median": _q(paths.te_realized, 0.5),
        "turnover_annual_median": _q(paths.turnover_annual, 0.5),
        "wash_sale_violations": int(paths.wash_sale_violations.sum()),
        "names_missing_prices": int(paths.names_missing_prices.max()),
        "harvest_by_year_median": [float(v) for v in decay.to_numpy()],
        "lock_in_by_year_median": [float(v) for v in lock.to_numpy()],
    }


def spread_text(summary: dict) -> str:
    """The spread of the tax alpha over the paths, in words fit for the number of paths.

    ``p10 x, p90 y`` from :data:`MIN_PATHS_FOR_PERCENTILES` paths on; below that ``range of
    N paths x to y`` (min and max), and ``one path`` for a single start.
    """
    n = int(summary["starts"])
    if n <= 1:
        return "one path: no spread"
    if n < MIN_PATHS_FOR_PERCENTILES:
        return (f"range of {n} paths {fmt_pct(summary['tax_alpha_annual_min'])} to "
                f"{fmt_pct(summary['tax_alpha_annual_max'])}")
    return (f"p10 {fmt_pct(summary['tax_alpha_annual_p10'])}, "
            f"p90 {fmt_pct(summary['tax_alpha_annual_p90'])} over {n} paths")


def parts_text(summary: dict) -> str:
    """The tax alpha's two parts in words: the pre-tax drift and the tax effect (medians).

    A tax alpha mixes the harvest portfolio's drift from the hold portfolio before tax
    (not a tax effect) with the tax effect proper; notebook 04's findings
    (:func:`findings`) and the command line's ``backtest`` say both in these words.
    """
    return (f"its median pre-tax excess (the harvest portfolio's drift from the hold "
            f"portfolio before tax, not a tax effect) was "
            f"{fmt_pct(summary['pre_tax_excess_annual_median'])} a year and its median tax "
            f"effect (per path, tax alpha less pre-tax excess) "
            f"{fmt_pct(summary['tax_effect_annual_median'])}")


def write_study(result: StudyResult, out: Path | str) -> list[Path]:
    """Write ``summary.json``, ``starts.csv`` and ``paths.csv``, then the run marker.

    ``starts.csv`` has one row per start, ``paths.csv`` the yearly rows of every start; all
    go through the one safe writer (:func:`pma_lab.files.write_folder`).
    """
    return write_folder(out, {"summary.json": result.summary, "starts.csv": result.paths,
                              "paths.csv": result.yearly})


# ------------------------------------------------------------------ literature comparison
VARIANTS: dict[str, dict] = {
    "annual": {"frequency": "annual"},
    "quarterly": {"frequency": "quarterly"},
    "monthly": {"frequency": "monthly"},
    "monthly, no outside gains": {"frequency": "monthly", "outside_gains": False},
}
"""The variants :func:`compare_variants` runs by default (Vanguard's frequencies and the
outside-gains critique)."""

_COMPARABLE: dict[str, tuple[str, str]] = {
    "annual": ("Vanguard (2022), investor A", "annual"),
    "quarterly": ("Vanguard (2022), investor A", "quarterly"),
    "monthly": ("Chaudhuri, Burnham & Lo (2020)", "wash-sale rule"),
    "daily": ("Vanguard (2022), investor A", "daily"),
}
"""The comparable published row per variant (source, variant in :data:`LITERATURE`). Monthly
harvesting compares with Chaudhuri et al.'s 0.82 % *with* the wash-sale rule, which we
always enforce (``docs/tax_alpha.md``); Vanguard's 1.23 % (other rates, contributions) is
shown beside it, labelled. A variant without a published counterpart (no outside gains)
gets neither a number nor a source."""


def _published(source: str, variant: str) -> float:
    lit = LITERATURE[(LITERATURE.source == source) & (LITERATURE.variant == variant)]
    return float(lit.tax_alpha_pct_per_year.iloc[0])


def variant_row(name: str, summary: dict) -> dict:
    """One row of :attr:`Comparison.table` from a study's summary (percent a year).

    The spread is always given as min and max; p10 and p90 are NaN under
    :data:`MIN_PATHS_FOR_PERCENTILES` paths (a percentile of two paths is not a statistic).
    ``pre_tax_excess_median_pct`` (harvest minus hold before tax) and
    ``tax_effect_median_pct`` (per path, tax alpha less pre-tax excess; the median) sit
    beside the tax alpha so the reader sees how much of it is the harvest portfolio's pre-tax
    drift, not tax.
    """
    sm = summary
    few = sm["starts"] < MIN_PATHS_FOR_PERCENTILES
    nan = float("nan")
    comp = _COMPARABLE.get(name)
    vanguard = name if name in ("annual", "quarterly", "monthly", "daily") else None
    return {
        "variant": name,
        "paths": int(sm["starts"]),
        "tax_alpha_median_pct": 100 * sm["tax_alpha_annual_median"],
        "pre_tax_excess_median_pct": 100 * sm["pre_tax_excess_annual_median"],
        "tax_effect_median_pct": 100 * sm["tax_effect_annual_median"],
        "tax_alpha_min_pct": 100 * sm["tax_alpha_annual_min"],
        "tax_alpha_max_pct": 100 * sm["tax_alpha_annual_max"],
        "tax_alpha_p10_pct": nan if few else 100 * sm["tax_alpha_annual_p10"],
        "tax_alpha_p90_pct": nan if few else 100 * sm["tax_alpha_annual_p90"],
        "te_realized_pct": 100 * sm["te_realized_median"],
        "turnover_pct": 100 * sm["turnover_annual_median"],
        "wash_sale_violations": sm["wash_sale_violations"],
        "published_pct": _published(*comp) if comp else nan,
        "published_source": f"{comp[0]}, {comp[1]}" if comp else "",
        "vanguard_investor_a_pct": (_published("Vanguard (2022), investor A", vanguard)
                                    if vanguard else nan),
    }


@dataclass(frozen=True)
class Comparison:
    """Our tax alpha per variant next to the published numbers.

    Attributes
    ----------
    table : pd.DataFrame
        One row per variant (:func:`variant_row`): our median tax alpha and pre-tax excess,
        its spread (min/max under :data:`MIN_PATHS_FOR_PERCENTILES` paths, else p10/p90;
        percent a year), TE, turnover, the comparable published number where one exists
        and Vanguard's investor A beside it, labelled.
    studies : dict[str, StudyResult]
        The study behind each row.
    """

    table: pd.DataFrame
    studies: dict


def compare_variants(base: BacktestSettings, starts: Sequence[pd.Timestamp],
                     variants: dict[str, dict] | None = None, workers: int = 0) -> Comparison:
    """Run each variant over the same starts and tabulate it against :data:`LITERATURE`."""
    variants = variants or VARIANTS
    rows, studies = [], {}
    for name, kw in variants.items():
        st = rolling_study(replace(base, **kw), starts, workers=workers)
        studies[name] = st
        rows.append(variant_row(name, st.summary))
    return Comparison(pd.DataFrame(rows), studies)


def _bands(result: StudyResult) -> tuple[tuple[float, str], ...]:
    """(quantile, label) of the upper, middle and lower line.

    max/median/min under :data:`MIN_PATHS_FOR_PERCENTILES` paths, else p90/median/p10.
    """
    if result.summary["starts"] < MIN_PATHS_FOR_PERCENTILES:
        return ((1.0, "max"), (0.5, "median"), (0.0, "min"))
    return ((0.9, "p90"), (0.5, "median"), (0.1, "p10"))


def decay_figure(result: StudyResult) -> object:
    """Harvested losses (percent of the year's starting value) by year: median, p10, p90.

    Min and max instead of p10/p90 under :data:`MIN_PATHS_FOR_PERCENTILES` paths.
    """
    import plotly.graph_objects as go

    y = _full_years(result.yearly).groupby("year_no")["harvested_pct"]
    fig = go.Figure()
    for (q, name), dash in zip(_bands(result), ("dot", "solid", "dot"), strict=True):
        v = 100 * y.quantile(q)
        fig.add_trace(go.Scatter(x=v.index + 1, y=v.to_numpy(), name=name, mode="lines+markers",
                                 line={"dash": dash}))
    fig.update_layout(title="Harvest decays: losses harvested by year of the account",
                      xaxis_title="year of the account", yaxis_title="% of value harvested",
                      template="simple_white")
    return fig


def lock_in_figure(result: StudyResult) -> object:
    """Share of the portfolio in lots more than 50 % above basis, by year (median)."""
    import plotly.graph_objects as go

    y = _full_years(result.yearly).groupby("year_no")["lock_in"]
    fig = go.Figure()
    for q, name in _bands(result):
        v = 100 * y.quantile(q)
        fig.add_trace(go.Scatter(x=v.index + 1, y=v.to_numpy(), name=name,
                                 mode="lines+markers"))
    fig.update_layout(title="Lock-in: share of value in lots with gains above 50 %",
                      xaxis_title="year of the account", yaxis_title="% of portfolio value",
                      template="simple_white")
    return fig


def findings(comparison: Comparison, main: str = "monthly") -> str:
    """The findings in prose, every number computed from the runs."""
    t = comparison.table.set_index("variant")
    st = comparison.studies[main].summary
    decay = st["harvest_by_year_median"]
    lock = st["lock_in_by_year_median"]
    parts = [
        f"Over {st['starts']} start date(s), monthly harvesting added a median "
        f"{fmt_pct(st['tax_alpha_annual_median'])} a year after tax ({spread_text(st)}) "
        f"over the same portfolio held without harvesting; {parts_text(st)}, with a median "
        f"realised "
        f"tracking error of {fmt_pct(st['te_realized_median'])} and "
        f"{st['wash_sale_violations']} wash-sale violations on replay.",
    ]
    if main in t.index and not np.isnan(t.at[main, "published_pct"]):
        parts.append(
            f"The comparable published figure is {t.at[main, 'published_source']}: "
            f"{fmt_pct(t.at[main, 'published_pct'] / 100)} a year.")
    if len(decay) >= 2:
        parts.append(
            f"Harvesting decays: the median account harvested {fmt_pct(decay[0])} of its "
            f"value in its first year and {fmt_pct(decay[-1])} in its last, while the "
            f"share of value locked in lots more than 50 % above basis rose from "
            f"{fmt_pct(lock[0])} to {fmt_pct(lock[-1])}.")
    freq = [v for v in ("annual", "quarterly", "monthly") if v in t.index]
    if len(freq) == 3:
        a, q, m = (t.at[v, "tax_alpha_median_pct"] / 100 for v in freq)
        order = "annual < quarterly < monthly" if a < q < m else "not monotonic"
        va, vq, vm = (fmt_pct(_published("Vanguard (2022), investor A", v) / 100)
                      for v in freq)
        parts.append(
            f"By harvest frequency the medians are {fmt_pct(a)} (annual), {fmt_pct(q)} "
            f"(quarterly) and {fmt_pct(m)} (monthly): {order}; Vanguard's investor A (other "
            f"rates and contributions: compare the ordering, not the level) shows {va} < "
            f"{vq} < {vm} with diminishing steps.")
    if "monthly, no outside gains" in t.index:
        no = t.at["monthly, no outside gains", "tax_alpha_median_pct"] / 100
        pre = t.at["monthly, no outside gains", "pre_tax_excess_median_pct"] / 100
        tax = t.at["monthly, no outside gains", "tax_effect_median_pct"] / 100
        parts.append(
            f"Without outside gains to offset (losses only against the portfolio's own "
            f"gains plus $3,000 a year) the median falls to {fmt_pct(no)}; its median pre-tax "
            f"excess is {fmt_pct(pre)} and its median tax effect (per path, tax alpha less "
            f"pre-tax excess) {fmt_pct(tax)}: "
            "the value of harvesting depends on the client's other gains.")
    return " ".join(parts)
