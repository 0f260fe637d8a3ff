"""US federal tax constants and rule functions: the one place tax law lives in code.

Everything here is a named constant or a small pure function with a test at its boundary
dates. Sources are cited as in ``../shared/docs/tax-and-optimization.md`` (Pub 550, 26 CFR
§1.1091-1, Rev. Rul. 2008-5, Rev. Rul. 66-7, the Schedule D worksheets, Tax-Calculator and
the IRS inflation-adjustment releases). Where the law is open, the behaviour is a named
flag on :class:`TaxPolicy` with the conservative choice as the default.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

__all__ = [
    "FilingStatus",
    "Term",
    "TaxPolicy",
    "DEFAULT_POLICY",
    "WASH_SALE_WINDOW_DAYS",
    "CAPITAL_LOSS_LIMIT",
    "NIIT_RATE",
    "REIT_DIVIDEND_DEDUCTION",
    "REIT_DIVIDEND_DEDUCTION_DECIMAL",
    "NIIT_THRESHOLD",
    "ORDINARY_BRACKETS",
    "LTCG_BRACKETS",
    "CHARITY_LIMIT_CAPITAL_GAIN_PROPERTY",
    "CHARITY_LIMIT_ORDINARY_PROPERTY",
    "CHARITY_CARRYFORWARD_YEARS",
    "ORDINARY_RATES",
    "LTCG_RATES",
    "TAX_TABLE_LIMIT",
    "TAX_TABLE_ROWS",
    "NIIT_RATE_DECIMAL",
    "CHARITY_FLOOR_RATE",
    "CHARITY_FLOOR_FIRST_YEAR",
    "ITEMIZED_LIMIT_FRACTION",
    "ITEMIZED_LIMIT_FIRST_YEAR",
    "top_bracket_start",
    "CENT",
    "money",
    "add_years",
    "long_term_date",
    "is_long_term",
    "term_of",
    "days_held",
    "wash_sale_window",
    "in_wash_window",
    "first_clean_buy_date",
    "ordinary_rate",
    "ltcg_rate",
    "niit",
    "supported_tax_years",
    "BondIssuer",
    "InterestTaxation",
    "interest_taxation",
]

CENT = Decimal("0.01")


def money(x: Decimal) -> Decimal:
    """Round a dollar amount to the cent, half up (the convention on Form 8949)."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


class FilingStatus(StrEnum):
    """Federal filing status."""

    SINGLE = "single"
    MFJ = "mfj"  # married filing jointly (and qualifying surviving spouse)
    MFS = "mfs"  # married filing separately
    HOH = "hoh"  # head of household


class Term(StrEnum):
    """Character of a capital gain or loss."""

    SHORT = "ST"
    LONG = "LT"


# --------------------------------------------------------------------------------------
# Holding period (Pub 550 "Holding Period"; Rev. Rul. 66-7 for month ends)
# --------------------------------------------------------------------------------------


def add_years(d: dt.date, years: int) -> dt.date:
    """Return the same calendar date ``years`` later; Feb 29 maps to Feb 28."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # Feb 29 -> Feb 28
        return d.replace(year=d.year + years, day=28)


def _is_month_end(d: dt.date) -> bool:
    return (d + dt.timedelta(days=1)).day == 1


@functools.lru_cache(maxsize=1 << 16)
def as_day(value: object, what: str = "date") -> dt.date:
    """``value`` as a calendar day (:class:`datetime.date`), checked at the boundary.

    A ``datetime.date`` is returned as it is; a ``datetime`` or pandas ``Timestamp`` at
    midnight becomes its day. The tax rules count whole days, so a time of day other than
    midnight is refused rather than dropped (``2020-01-01 10:00`` would move the
    long-term date by a day in a comparison with a plain day), as is anything else.

    Raises
    ------
    DataError
        For a time of day, a missing value (``NaT``) or a value that is not a date,
        naming ``what`` and how to give the day.
    """
    if type(value) is dt.date:
        return value
    from pma_lab.errors import DataError

    if isinstance(value, dt.datetime):
        if value != value:  # pandas' NaT
            raise DataError(f"{what} is missing (NaT); give a day, e.g. "
                            "datetime.date(2026, 7, 31)")
        if value.time() != dt.time(0):
            raise DataError(f"{what} {value} has a time of day; the tax rules count whole "
                            f"days: give the day alone ({value.date()}, or "
                            "Timestamp.normalize() for midnight)")
        return value.date()
    if isinstance(value, dt.date):  # a subclass of date
        return dt.date(value.year, value.month, value.day)
    raise DataError(f"{what} {value!r} is not a date (a {type(value).__name__}); give a "
                    "datetime.date, e.g. datetime.date(2026, 7, 31)")


@functools.lru_cache(maxsize=1 << 16)
def long_term_date(holding_start: dt.date) -> dt.date:
    """First sale date on which a lot with this holding-period start is long-term.

    Pub 550: count from the day after acquisition; the sale day counts; long-term means held
    *more than* one year. Bought 2008-02-05: a sale on 2009-02-05 is short-term, on
    2009-02-06 long-term.

    Month-end rule (Rev. Rul. 66-7, holding periods run by calendar months): property
    acquired on the **last day of a month** is held more than one year from the **first day
    of the 13th month** after it. For most month ends that is the day after the anniversary,
    as above; it differs only for Feb 28 before a leap year: bought 2023-02-28, a sale on
    2024-02-29 is short-term and the lot is long-term from 2024-03-01. Bought on Feb 29 it is
    long-term from Mar 1 of the next year [R, flag for review, tax-and-optimization.md §5.1].

    Kept per day (a pure function of it: a transition asks for every open lot's date
    at every step, ~16,000 times in the household sample's proposal).
    """
    holding_start = as_day(holding_start, "holding_start")
    if _is_month_end(holding_start):
        y, m = holding_start.year + 1, holding_start.month + 1
        if m == 13:
            y, m = y + 1, 1
        return dt.date(y, m, 1)
    return add_years(holding_start, 1) + dt.timedelta(days=1)


def is_long_term(holding_start: dt.date, sale_date: dt.date) -> bool:
    """Return True when a sale on ``sale_date`` is long-term (held more than one year).

    See :func:`long_term_date` for the day-count and the month-end rule. Either date may
    be a ``datetime`` or pandas ``Timestamp`` at midnight (:func:`as_day`).

    Raises
    ------
    DataError
        For a time of day other than midnight, or a value that is not a date.
    """
    return as_day(sale_date, "sale_date") >= long_term_date(holding_start)


def term_of(holding_start: dt.date, sale_date: dt.date, inherited: bool = False) -> Term:
    """Character of a disposition; inherited property is always long-term (IRC §1223(9))."""
    if inherited or is_long_term(holding_start, sale_date):
        return Term.LONG
    return Term.SHORT


def days_held(holding_start: dt.date, sale_date: dt.date) -> int:
    """Days in the holding period: from the day after ``holding_start`` through the sale."""
    return (as_day(sale_date, "sale_date") - as_day(holding_start, "holding_start")).days


# --------------------------------------------------------------------------------------
# Wash sales (26 U.S.C. §1091, 26 CFR §1.1091-1, Pub 550, Rev. Rul. 2008-5)
# --------------------------------------------------------------------------------------

WASH_SALE_WINDOW_DAYS = 30
"""Days before and after a loss sale in which an acquisition makes it a wash sale (the
61-day period of §1.1091-1(a))."""


def wash_sale_window(sale_date: dt.date) -> tuple[dt.date, dt.date]:
    """Return the first and last day (inclusive) of the 61-day window around a sale."""
    w = dt.timedelta(days=WASH_SALE_WINDOW_DAYS)
    return sale_date - w, sale_date + w


def in_wash_window(sale_date: dt.date, acquisition_date: dt.date) -> bool:
    """True when an acquisition on ``acquisition_date`` falls in the sale's 61-day window."""
    return abs((acquisition_date - sale_date).days) <= WASH_SALE_WINDOW_DAYS


def first_clean_buy_date(loss_sale_date: dt.date) -> dt.date:
    """First day a repurchase no longer washes a loss sold on ``loss_sale_date`` (day 31)."""
    return loss_sale_date + dt.timedelta(days=WASH_SALE_WINDOW_DAYS + 1)


@dataclass(frozen=True)
class TaxPolicy:
    """Conventions where the law is open; each default is the conservative reading.

    Attributes
    ----------
    same_lot_replacement : bool
        Shares still held from a purchase made within 30 days before a partial loss sale of
        the *same* lot count as replacement shares (tax-and-optimization.md §5.2, open
        point 1). Default ``True`` (conservative: more losses deferred).
    share_classes_identical : bool
        Share classes of one issuer are substantially identical. Default ``True``. The
        classes are derived from the security master: tickers sharing an SEC CIK whose
        S&P 500 membership overlapped (GOOG/GOOGL, FOX/FOXA, NWS/NWSA, UA/UAA,
        DISCA/DISCK; see :meth:`pma_lab.market.tickers.IdentityTable.default`). A renamed ticker
        (FB/META) is the same security and is grouped whatever this flag says.
    tack_overlap_twice : bool
        How the holding period of a replacement bought **before** the loss sale is tacked
        (§1223(3); tax-and-optimization.md §5.2, open point 2). The replacement's holding
        period "includes" the period the sold shares were held, and the two periods
        overlap from the replacement's purchase to the sale.

        * ``False`` (default, the overlap counted once): the replacement is treated as held
          over the union of the two periods, so its holding period starts at the earlier
          of its purchase date and the sold shares' start. Sold shares held from
          2020-01-02, a replacement bought 2020-06-01, the loss sale on 2020-06-15: the
          replacement's holding period starts 2020-01-02.
        * ``True`` (the overlap counted twice): every day the sold shares were held is
          added before the replacement's purchase date (start = purchase date minus days
          held): in the example 2020-06-01 minus 165 days = 2019-12-19, as some brokers
          and reference engines report it.

        Replacements bought after the sale are tacked the same way under both readings
        (purchase date minus days held; nothing overlaps).
    disposed_replacements : bool
        Purchased shares already disposed of still replace (``docs/tax_rules.md``): an IRA's
        purchase sold before or on the loss-sale day, a taxable purchase sold on that day.
        Default ``True``, the statute's test (shares *acquired* in the 61-day period).
        ``False`` is the ledger before session 13 (only shares still held at the end of the
        loss-sale day replace), which no source supports: kept to compare with figures
        made then (``benchmarks/bench_ledger.py`` checks the earlier ledgers with it).

    Notes
    -----
    Fixed rules, not flags (``docs/tax_rules.md``): with ``disposed_replacements`` (the
    default), shares **purchased** in the 61-day period are replacement shares whether or
    not they are still held when the loss is matched (§1091(a) and Reg. §1.1091-1(a), (c),
    (d) speak of shares *acquired*), except a taxable purchase sold on a day **before**
    the loss sale, which is not counted (no authority either way; the public engines do
    not, so a closed sale is never reopened). Only purchases are replacements (inherited
    and gifted lots are not, Reg. §1.1091-1(f)). The
    $3,000 capital-loss limit is :data:`CAPITAL_LOSS_LIMIT` (a what-if override belongs in
    :class:`pma_lab.tax.liability.TaxProfile`, not here).
    """

    same_lot_replacement: bool = True
    share_classes_identical: bool = True
    tack_overlap_twice: bool = False
    disposed_replacements: bool = True


DEFAULT_POLICY = TaxPolicy()

# --------------------------------------------------------------------------------------
# Capital loss limit (IRC §1211(b); Schedule D line 21)
# --------------------------------------------------------------------------------------

CAPITAL_LOSS_LIMIT: dict[FilingStatus, Decimal] = {
    FilingStatus.SINGLE: Decimal(3000),
    FilingStatus.MFJ: Decimal(3000),
    FilingStatus.HOH: Decimal(3000),
    FilingStatus.MFS: Decimal(1500),
}

# --------------------------------------------------------------------------------------
# Rates and brackets
# --------------------------------------------------------------------------------------

NIIT_RATE = 0.038
"""Net investment income tax rate (IRC §1411)."""

MAX_STATE_RATE = 0.20
"""The highest state (plus city) marginal rate on gains a profile or the dashboard takes,
as a fraction. California's top rate is 13.3 %, New York State's and City's together under
15 %; a larger figure is a typing error (a percent written where a decimal is asked)."""

SMALL_STATE_RATE = 0.01
"""A state rate above 0 and below this (1 %) is accepted but said back: in the dashboard's
percent field, 0.0575 is 0.0575 %, probably the profile's decimal 5.75 % typed there."""

REIT_DIVIDEND_DEDUCTION = 0.20
"""Share of qualified REIT dividends deducted from taxable income (IRC §199A(b)(1)(B),
made permanent by Pub. L. 119-21 in 2025): a REIT's ordinary dividends are taxed at 80 % of
the federal ordinary rate (the NIIT and state tax apply to the whole dividend)."""

REIT_DIVIDEND_DEDUCTION_DECIMAL = Decimal(str(REIT_DIVIDEND_DEDUCTION))
""":data:`REIT_DIVIDEND_DEDUCTION` as an exact decimal (the deduction of a year's REIT
dividends is rounded to the cent, :class:`pma_lab.tax.liability.DividendIncome`)."""

NIIT_THRESHOLD: dict[FilingStatus, float] = {
    FilingStatus.MFJ: 250_000.0,
    FilingStatus.MFS: 125_000.0,
    FilingStatus.SINGLE: 200_000.0,
    FilingStatus.HOH: 200_000.0,
}
"""MAGI thresholds for the NIIT; not indexed for inflation (IRS NIIT page)."""

_ORDINARY_RATES = (0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37)

# Upper thresholds of the 10/12/22/24/32/35 % brackets; 37 % above the last.
# 2024, 2025: Tax-Calculator policy_current_law.json (II_brk1..6), cross-checked [V].
# 2026: IRS inflation adjustments for 2026 (Oct 2025 release) as reproduced by two
# independent tax-preparer pages [V2]; MFS 35 % top = half the MFJ figure [D], as in
# every earlier year.
ORDINARY_BRACKETS: dict[int, dict[FilingStatus, tuple[float, ...]]] = {
    2024: {
        FilingStatus.SINGLE: (11_600, 47_150, 100_525, 191_950, 243_725, 609_350),
        FilingStatus.MFJ: (23_200, 94_300, 201_050, 383_900, 487_450, 731_200),
        FilingStatus.MFS: (11_600, 47_150, 100_525, 191_950, 243_725, 365_600),
        FilingStatus.HOH: (16_550, 63_100, 100_500, 191_950, 243_700, 609_350),
    },
    2025: {
        FilingStatus.SINGLE: (11_925, 48_475, 103_350, 197_300, 250_525, 626_350),
        FilingStatus.MFJ: (23_850, 96_950, 206_700, 394_600, 501_050, 751_600),
        FilingStatus.MFS: (11_925, 48_475, 103_350, 197_300, 250_525, 375_800),
        FilingStatus.HOH: (17_000, 64_850, 103_350, 197_300, 250_500, 626_350),
    },
    2026: {
        FilingStatus.SINGLE: (12_400, 50_400, 105_700, 201_775, 256_225, 640_600),
        FilingStatus.MFJ: (24_800, 100_800, 211_400, 403_550, 512_450, 768_700),
        FilingStatus.MFS: (12_400, 50_400, 105_700, 201_775, 256_225, 384_350),
        FilingStatus.HOH: (17_700, 67_450, 105_700, 201_750, 256_200, 640_600),
    },
}

# Top of the 0 % and of the 15 % long-term capital gain brackets; 20 % above.
# Tax-Calculator CG_brk1/CG_brk2 [V]; 2024/2025 cross-checked on preparer pages.
LTCG_BRACKETS: dict[int, dict[FilingStatus, tuple[float, float]]] = {
    2024: {
        FilingStatus.SINGLE: (47_025, 518_900),
        FilingStatus.MFJ: (94_050, 583_750),
        FilingStatus.MFS: (47_025, 291_850),
        FilingStatus.HOH: (63_000, 551_350),
    },
    2025: {
        FilingStatus.SINGLE: (48_350, 533_400),
        FilingStatus.MFJ: (96_700, 600_050),
        FilingStatus.MFS: (48_350, 300_000),
        FilingStatus.HOH: (64_750, 566_700),
    },
    2026: {
        FilingStatus.SINGLE: (49_450, 545_500),
        FilingStatus.MFJ: (98_900, 613_700),
        FilingStatus.MFS: (49_450, 306_850),
        FilingStatus.HOH: (66_200, 579_600),
    },
}


def supported_tax_years() -> tuple[int, ...]:
    """Tax years whose brackets are tabulated."""
    return tuple(sorted(ORDINARY_BRACKETS))


def _check_year(year: int) -> None:
    if year not in ORDINARY_BRACKETS:
        years = ", ".join(map(str, supported_tax_years()))
        raise ValueError(
            f"no federal brackets for tax year {year}; tabulated years are {years}. "
            "Give st_rate and lt_rate directly in the profile, or use a tabulated year."
        )


def ordinary_rate(taxable_income: float, status: FilingStatus, year: int) -> float:
    """Marginal federal ordinary rate (the short-term gain rate) at ``taxable_income``."""
    _check_year(year)
    for top, rate in zip(ORDINARY_BRACKETS[year][status], _ORDINARY_RATES, strict=False):
        if taxable_income <= top:
            return rate
    return _ORDINARY_RATES[-1]


def ltcg_rate(taxable_income: float, status: FilingStatus, year: int) -> float:
    """Marginal federal long-term capital gain rate (0/15/20 %) at ``taxable_income``."""
    _check_year(year)
    zero_top, fifteen_top = LTCG_BRACKETS[year][status]
    if taxable_income <= zero_top:
        return 0.0
    if taxable_income <= fifteen_top:
        return 0.15
    return 0.20


def niit(net_investment_income: float, magi: float, status: FilingStatus) -> float:
    """Net investment income tax: 3.8 % of the lesser of NII and MAGI over the threshold."""
    base = min(net_investment_income, magi - NIIT_THRESHOLD[status])
    return round(NIIT_RATE * max(base, 0.0), 2)


# --------------------------------------------------------------------------------------
# Charitable gifts of appreciated property (IRC §170(b)(1)(C), (e); Pub 526)
# --------------------------------------------------------------------------------------

CHARITY_LIMIT_CAPITAL_GAIN_PROPERTY = Decimal("0.30")
"""AGI limit for long-term capital gain property given to a public charity (deducted at FMV)."""

CHARITY_LIMIT_ORDINARY_PROPERTY = Decimal("0.50")
"""AGI limit for ordinary-income property (short-term lots, deducted at the lesser of basis and
FMV) given to a public charity [R]."""

CHARITY_CARRYFORWARD_YEARS = 5
"""Years an excess charitable deduction can be carried forward."""

# --------------------------------------------------------------------------------------
# Computing the regular tax: Tax Table, Tax Computation Worksheet and the Qualified
# Dividends and Capital Gain Tax Worksheet (Form 1040 instructions; IRC §1(h), §1(j))
# --------------------------------------------------------------------------------------

ORDINARY_RATES: tuple[Decimal, ...] = tuple(Decimal(str(r)) for r in _ORDINARY_RATES)
"""The seven ordinary rates as exact decimals (10 % ... 37 %)."""

LTCG_RATES: tuple[Decimal, Decimal, Decimal] = (Decimal("0"), Decimal("0.15"),
                                                 Decimal("0.20"))
"""Rates of the three long-term capital gain bands (IRC §1(h)(1)); the band tops are
:data:`LTCG_BRACKETS`. Net capital gain of stock has no 25 % / 28 % part."""

TAX_TABLE_LIMIT = Decimal(100_000)
"""Taxable income below this is taxed with the Tax Table (rows of $50, $25 below $3,000,
computed at the row's midpoint and rounded to the dollar); from it on, with the Tax
Computation Worksheet (exact). Form 1040 instructions, "Tax Table" and QDCG worksheet
lines 22 and 24."""

TAX_TABLE_ROWS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal(3_000), Decimal(50)),  # from $3,000: $50 rows
    (Decimal(25), Decimal(25)),  # $25 to $3,000: $25 rows
)
"""Row widths of the Tax Table by the row's lower bound; below $25 the rows are $0-$5
($0 tax), $5-$15 and $15-$25 (tax at $10 and $20)."""

NIIT_RATE_DECIMAL = Decimal("0.038")
"""The net investment income tax rate (IRC §1411) as an exact decimal."""

# --------------------------------------------------------------------------------------
# Itemized deductions from 2026 (P.L. 119-21, the 2025 reconciliation act)
# --------------------------------------------------------------------------------------

CHARITY_FLOOR_RATE = Decimal("0.005")
"""0.5 % of the contribution base (AGI): charitable contributions of an itemizer are
deductible only above it (IRC §170(b)(1)(I), added by P.L. 119-21 §70425). Applied first to
capital gain property (30 % contributions), then to 50 % contributions; the part disallowed
by the floor carries forward only from a year whose contributions of that category exceed
its percentage limit (§170(d)(1)(C))."""

CHARITY_FLOOR_FIRST_YEAR = 2026
"""First tax year of the 0.5 % floor (taxable years beginning after Dec 31, 2025)."""

ITEMIZED_LIMIT_FRACTION = Decimal(2) / Decimal(37)
"""IRC §68(a) as amended by P.L. 119-21 §70111: itemized deductions are reduced by 2/37 of
the lesser of the deductions and the taxable income (before §68, increased by the
deductions) above the start of the 37 % bracket, so a deduction saves at most 35 %."""

ITEMIZED_LIMIT_FIRST_YEAR = 2026
"""First tax year of the 2/37 limitation."""


def top_bracket_start(status: FilingStatus, year: int) -> Decimal:
    """Taxable income at which the 37 % bracket begins (the top of the 35 % bracket)."""
    _check_year(year)
    return Decimal(str(ORDINARY_BRACKETS[year][status][-1]))


# --------------------------------------------------------------------------------------
# Interest income of bonds: who taxes it
# --------------------------------------------------------------------------------------


class BondIssuer(StrEnum):
    """Who issued a bond, which decides who taxes its interest."""

    TREASURY = "treasury"
    MUNI_IN_STATE = "muni_in_state"  # issued in the client's state of residence
    MUNI_OUT_OF_STATE = "muni_out_of_state"
    TAXABLE = "taxable"  # e.g. a corporate bond: taxed everywhere


@dataclass(frozen=True)
class InterestTaxation:
    """Whether interest is taxed federally (ordinary rates), by the NIIT and by the state."""

    federal: bool
    niit: bool
    state: bool


def interest_taxation(issuer: BondIssuer) -> InterestTaxation:
    """Who taxes a bond's interest.

    * Treasury interest is taxed federally at ordinary rates and is net investment income
      (IRC §1411(c)(1)(A)(i)), but states may not tax it (31 U.S.C. §3124(a)) [V2].
    * Interest on state and local bonds is excluded from federal gross income (IRC §103(a)),
      so it is not net investment income either; the issuing state exempts its own bonds,
      most states tax other states' bonds [R: true of most states, not all; check the
      client's state].
    * Any other bond interest (corporates) is taxed everywhere.
    """
    if issuer is BondIssuer.TREASURY:
        return InterestTaxation(federal=True, niit=True, state=False)
    if issuer is BondIssuer.MUNI_IN_STATE:
        return InterestTaxation(federal=False, niit=False, state=False)
    if issuer is BondIssuer.MUNI_OUT_OF_STATE:
        return InterestTaxation(federal=False, niit=False, state=True)
    return InterestTaxation(federal=True, niit=True, state=True)
