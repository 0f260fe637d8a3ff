"""The proposal's citation of the tax-alpha study: "What tax-loss harvesting has been worth".

The study is the rolling backtest of docs/tax_alpha.md (:func:`pma_lab.plan.taxalpha.rolling_study`:
64 quarterly start dates 2000-2015, 10-year horizons, monthly harvesting). Its summary is
packaged in ``data/samples/studies/tax_alpha.json`` (written by
``scripts/package_tax_alpha_study.py`` from the study's JSON in ``benchmarks/``), so an
installed pma_lab has it. :func:`load_tax_alpha_study` reads and checks that file;
:func:`tax_alpha_view` lays it out: the range (p10, median, p90; never a single number), the
losses harvested by year (the decay), the assumptions of the study, and the warning that
these are hindsight figures and no promise.

The study's "after tax, harvest minus an index fund" figure is deliberately not packaged
and never shown: it mixes in the survivorship of the study's universe (docs/tax_alpha.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pma_lab.errors import DataError
from pma_lab.formatting import fmt_num, fmt_pct
from pma_lab.paths import samples_dir
from pma_lab.report.proposal import Markdown, ReportTable, _kv
from pma_lab.report.shelf import View

__all__ = ["STUDY_FILE", "TaxAlphaStudy", "load_tax_alpha_study", "tax_alpha_range",
           "harvest_by_year_table", "tax_alpha_assumptions", "tax_alpha_view"]

STUDY_FILE = Path("studies") / "tax_alpha.json"
"""The packaged study summary, relative to :func:`pma_lab.paths.samples_dir`."""

_FIX = "re-create it with `python scripts/package_tax_alpha_study.py` from a source checkout"


@dataclass(frozen=True)
class TaxAlphaStudy:
    """The packaged summary of the rolling tax-alpha study (rates are decimals a year).

    Attributes
    ----------
    p10, median, p90 : float
        Annualised tax alpha (harvest minus the same portfolio not harvested, after tax)
        across the start dates.
    harvest_by_year : tuple[float, ...]
        Median losses harvested in each calendar year of the study, as a share of the
        account's value at the start of that year (the first and last are part-years).
    starts : int
        Number of start dates.
    first_start, last_start : str
        ISO dates of the first and last start.
    settings : dict
        The backtest's settings (years, frequency, threshold, te_cap, n_names, st_rate,
        lt_rate, outside_gains, end_state, ...).
    names_missing_prices : int
        Most point-in-time members without prices (left out) on any start.
    median_without_outside_gains : float
        Median tax alpha of the variant without outside gains (fewer starts and names).
    without_outside_gains_starts, without_outside_gains_names : int
    source : str
        Where the figures come from.
    path : Path
        The file read.
    pre_tax_excess : float
        Median pre-tax return of the harvesting account over the one not harvested a year
        (the substitutes' drift, part of the tax alpha; NaN when the file has none).
    turnover : float
        Median one-way turnover a year of the harvesting account (sales as a share of its
        value; NaN when the file has none), which the trading-cost sentence quotes.
    """

    p10: float
    median: float
    p90: float
    harvest_by_year: tuple[float, ...]
    starts: int
    first_start: str
    last_start: str
    settings: dict
    names_missing_prices: int
    median_without_outside_gains: float
    without_outside_gains_starts: int
    without_outside_gains_names: int
    source: str
    path: Path
    turnover: float = float("nan")
    pre_tax_excess: float = float("nan")


def _get(doc: dict, path: Path, *keys: str) -> object:
    v: object = doc
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            raise DataError(f"{path}: key {'.'.join(keys)!r} is missing; {_FIX}")
        v = v[k]
    return v


def _rate(doc: dict, path: Path, *keys: str) -> float:
    v = _get(doc, path, *keys)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
            or abs(v) > 1:
        raise DataError(f"{path}: {'.'.join(keys)} = {v!r} is not a rate (a finite decimal "
                        f"between -1 and 1); {_FIX}")
    return float(v)


def load_tax_alpha_study(path: str | Path | None = None) -> TaxAlphaStudy:
    """Read the packaged tax-alpha study summary.

    Parameters
    ----------
    path : str | Path | None
        The JSON file (default: :data:`STUDY_FILE` in the packaged samples).

    Returns
    -------
    TaxAlphaStudy

    Raises
    ------
    DataError
        When the file is missing, not JSON, or a key is missing or not a rate; the message
        names the file and the key.
    """
    p = Path(path) if path is not None else samples_dir() / STUDY_FILE
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{p}: the tax-alpha study summary is missing; {_FIX}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: not a JSON file ({e}); {_FIX}") from None
    if not isinstance(doc, dict):
        raise DataError(f"{p}: expected a JSON object; {_FIX}")
    p10, med, p90 = (_rate(doc, p, "summary", f"tax_alpha_annual_{k}")
                     for k in ("p10", "median", "p90"))
    if not p10 <= med <= p90:
        raise DataError(f"{p}: the percentiles are out of order (p10 {p10}, median {med}, "
                        f"p90 {p90}); {_FIX}")
    decay = _get(doc, p, "summary", "harvest_by_year_median")
    if not isinstance(decay, list) or not decay:
        raise DataError(f"{p}: summary.harvest_by_year_median must be a list of rates; "
                        f"{_FIX}")
    harvest = tuple(_rate({"v": v}, p, "v") for v in decay)
    settings = _get(doc, p, "settings")
    for k in ("years", "frequency", "threshold", "te_cap", "n_names", "st_rate", "lt_rate",
              "outside_gains", "end_state"):
        _get(doc, p, "settings", k)
    return TaxAlphaStudy(
        p10, med, p90, harvest, int(_get(doc, p, "summary", "starts")),  # type: ignore
        str(_get(doc, p, "first_start")), str(_get(doc, p, "last_start")),
        dict(settings),  # type: ignore[arg-type]
        int(_get(doc, p, "summary", "names_missing_prices")),  # type: ignore[arg-type]
        _rate(doc, p, "without_outside_gains", "tax_alpha_annual_median"),
        int(_get(doc, p, "without_outside_gains", "starts")),  # type: ignore[arg-type]
        int(_get(doc, p, "without_outside_gains", "n_names")),  # type: ignore[arg-type]
        str(doc.get("source", "")), p,
        float(doc["summary"].get("turnover_annual_median", float("nan"))),
        float(doc["summary"].get("pre_tax_excess_annual_median", float("nan"))))


def tax_alpha_range(study: TaxAlphaStudy) -> ReportTable:
    """The range of yearly tax alpha across the start dates (p10, median, p90)."""
    return _kv([
        ("1 start date in 10 added less than", f"{fmt_pct(study.p10)} a year"),
        ("Half the start dates added more than", f"{fmt_pct(study.median)} a year"),
        ("1 start date in 10 added more than", f"{fmt_pct(study.p90)} a year"),
    ], caption=f"After-tax return added by harvesting, {study.starts} start dates "
               f"{study.first_start[:4]}-{study.last_start[:4]}, "
               f"{study.settings['years']} years each" + _drift_words(study))


def _drift_words(study: TaxAlphaStudy) -> str:
    """The caption's note that the figures include the substitutes' pre-tax drift.

    Reviewer 1, session 25: "after-tax return added by harvesting" read as the tax effect
    alone; it is the after-tax difference to the same portfolio not harvested, which
    includes what the substitute stocks earned before tax against the names sold.
    """
    if not math.isfinite(study.pre_tax_excess):
        return ""
    return ("; the difference to the same portfolio not harvested, after tax, so it "
            "includes what the substitute stocks earned before tax against the stocks sold "
            f"(a median {fmt_pct(study.pre_tax_excess)} a year)")


def harvest_by_year_table(study: TaxAlphaStudy) -> ReportTable:
    """Median losses harvested in each year of the study (the decay)."""
    h = study.harvest_by_year
    frame = pd.DataFrame({"Year of the study": range(1, len(h) + 1),
                          "Losses harvested (share of the account)": h})
    return ReportTable(frame, formats={"Year of the study": "int",
                                       "Losses harvested (share of the account)": "pct"},
                       caption="Losses harvested each calendar year, median across the start "
                               "dates (the first and the last are part-years)")


def tax_alpha_assumptions(study: TaxAlphaStudy) -> Markdown:
    """The study's assumptions, the survivorship caveat and the hindsight warning."""
    s = study.settings
    og = ("losses used against gains realised outside the account, so each harvested loss "
          "is worth the tax rate it offsets" if s["outside_gains"] else
          "no gains outside the account")
    return Markdown(
        "What the study assumed: an account holding up to the "
        f"{fmt_num(s['n_names'])} largest S&P 500 members on each date (membership as it "
        "was then, not today's list); harvesting scans every "
        f"{'month' if s['frequency'] == 'monthly' else s['frequency']}, selling lots down "
        f"at least {fmt_pct(s['threshold'], 0)} and buying similar stocks of the same "
        f"industry within a {fmt_pct(s['te_cap'], 0)} tracking-error budget, with wash "
        f"sales enforced; tax rates of {fmt_pct(s['st_rate'], 0)} short-term and "
        f"{fmt_pct(s['lt_rate'], 0)} long-term, not yours; {og}; the account sold at the "
        f"end of {s['years']} years. Without gains elsewhere to offset, the value is much "
        f"lower: in a smaller run ({study.without_outside_gains_starts} start dates, "
        f"{fmt_num(study.without_outside_gains_names)} stocks) the median was "
        f"{fmt_pct(study.median_without_outside_gains)} a year.\n\n"
        + _costs_words(study) +
        "Companies that left the index without a price history in our data (mostly those "
        f"taken over or delisted; up to {fmt_num(study.names_missing_prices)} names on a "
        "start date) are left out, so the study's universe is the survivors. That is why we "
        "compare harvesting only with the same portfolio not harvested, and not with an "
        "index fund: that comparison would mix the survivors' extra return into the "
        "result.\n\n"
        "These figures are hindsight: they describe what harvesting added in past markets, "
        "computed after the fact. They are not a forecast and not a promise of what it "
        "will add to your account, which depends on how markets move from here, on your "
        "own tax rates and on whether you have gains elsewhere to offset.")


def _costs_words(study: TaxAlphaStudy) -> str:
    """What the study assumed of trading costs (reviewer 1, session 25: nothing was said).

    The study's trades are at each day's close unless its settings carry
    ``trading_cost_bps`` (:class:`pma_lab.plan.backtest.BacktestSettings`); with its
    turnover known, the sentence says what each basis point would take off: a sale and
    the buy it pays for, twice the one-way turnover, an upper bound on the difference (the
    portfolio not harvested trades too).
    """
    bps = float(study.settings.get("trading_cost_bps", 0.0) or 0.0)
    if bps > 0:
        return (f"Every trade paid {fmt_num(bps, 1)} basis points of its value (half the "
                "spread plus commissions), in both accounts.\n\n")
    text = ("Trades were at each day's closing price, with no bid-ask spread or "
            "commission")
    if math.isfinite(study.turnover):
        text += (f": the harvesting account sold a median {fmt_pct(study.turnover, 0)} of "
                 "its value a year and bought as much back, so every basis point a trade "
                 f"costs would take up to {fmt_num(2 * study.turnover, 2)} basis points a "
                 "year off the figures above")
    return text + ".\n\n"


def tax_alpha_view(study: TaxAlphaStudy, client=None) -> View | None:
    """The section "What tax-loss harvesting has been worth".

    ``None`` for a client without a taxable account: harvesting is worth nothing in a
    retirement account.
    """
    if client is not None and not any(
            str(getattr(a.account_type, "value", a.account_type)) == "taxable"
            for a in client.profile.accounts):
        return None
    h = study.harvest_by_year
    later = h[6:-1] if len(h) > 7 else h[-1:]
    intro = (
        f"In {study.starts} historical start dates from {study.first_start[:4]} to "
        f"{study.last_start[:4]}, harvesting losses every month in an S&P 500 "
        "direct-indexing account added between "
        f"{fmt_pct(study.p10)} and {fmt_pct(study.p90)} a year after tax over "
        f"{study.settings['years']} years (median {fmt_pct(study.median)}), against the "
        "same portfolio without harvesting. Most of it came early: the losses harvested "
        f"fell from {fmt_pct(h[0])} of the account's value in the first year to at most "
        f"{fmt_pct(max(later))} a year from the seventh year on, as the account's "
        "remaining lots gained.")
    return View("What tax-loss harvesting has been worth", intro, [
        tax_alpha_range(study), harvest_by_year_table(study), tax_alpha_assumptions(study)])
