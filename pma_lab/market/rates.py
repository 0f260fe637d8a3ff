"""The cash rate: what cash earns, and what every present value in pma_lab discounts at.

One rate, from one place: the 3-month Treasury bill par yield of the packaged Treasury
par curve (``treasury_par_curve.parquet``, public-domain US Treasury data) on the last
curve published on or before the analysis date (:func:`cash_rate`). The transition plans
grow cash and carry taxes at it, the loss carryforward left at a plan's horizon and the
carryforward a frontier point creates are discounted at it
(:func:`pma_lab.tax.liability.carryforward_value` takes it as ``discount_rate``), and the
proposal's glossary states it (:func:`pma_lab.report.proposal.glossary`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from pma_lab.market.data import MarketData

__all__ = ["BillRate", "cash_rate", "CASH_RATE_TENOR", "CASH_RATE_STALENESS_DAYS"]

CASH_RATE_TENOR = "3M"
"""The Treasury bill whose par yield is the cash rate."""

CASH_RATE_STALENESS_DAYS = 731
"""How old the last published curve may be (the packaged curve ends 2025-07-11; the sample
clients are as of 2026-07-31)."""

_TENOR_WORDS = {"1M": "1-month", "3M": "3-month", "6M": "6-month", "1Y": "1-year"}


@dataclass(frozen=True)
class BillRate:
    """The annual rate cash earns, and where it comes from."""

    rate: float  # annual, decimal (bond-equivalent)
    source: str  # e.g. "3-month Treasury bill par yield of 2025-07-11, from the packaged ..."
    curve_date: dt.date | None = None


def cash_rate(market: MarketData, as_of: dt.date, tenor: str = CASH_RATE_TENOR,
              max_staleness_days: int = CASH_RATE_STALENESS_DAYS) -> BillRate:
    """The Treasury bill par yield on the last curve published on or before ``as_of``.

    The packaged curve (public-domain Treasury data) ends 2025-07-11; a later ``as_of``
    uses that last curve and the source says how old it is, so a report can show it.

    Raises
    ------
    PriceDataError
        When no curve was published within ``max_staleness_days`` before ``as_of``.
    """
    curve = market.treasury.at(as_of, max_staleness_days=max_staleness_days)
    day = pd.Timestamp(curve.name).date()
    rate = market.treasury.risk_free_rate(as_of, tenor, max_staleness_days)
    age = (as_of - day).days
    label = _TENOR_WORDS.get(tenor, tenor)
    stale = f", {age} days before {as_of}" if age > 7 else ""
    # no brackets: the source is quoted inside the glossary's own brackets
    return BillRate(rate, f"{label} Treasury bill par yield of {day}, from the packaged "
                          f"Treasury curve{stale}", day)
