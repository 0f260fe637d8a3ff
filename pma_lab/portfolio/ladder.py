"""Treasury and municipal bond ladders: rungs, coupons, yields, cash flows, duration.

A ladder of ``N`` years (1-5 or 1-10) splits an amount equally over ``N`` rungs maturing
1, 2, ..., ``N`` years after ``as_of``. Each rung is modelled as a bond **bought at par**
whose coupon equals its yield, paying half the coupon every six months and the face value
at maturity (the US convention for Treasury notes and most munis).

Yields
------
* **Treasury**: the par yield of the packaged Treasury par curve
  (``data/samples/market/treasury_par_curve.parquet``, public-domain US Treasury data) at
  each rung's maturity, linearly interpolated between published tenors (the curve has
  1, 2, 3, 5, 7 and 10 years; 4, 6, 8 and 9 years are interpolated). The curve used is the
  last one published **on or before** ``as_of``: the packaged curve ends on 2025-07-11, so
  for any later ``as_of`` the yields are those of 2025-07-11 and every output says so
  (:attr:`Ladder.curve_date`, :attr:`Ladder.notes`).
* **Municipal**: the open data has no municipal yield curve (SOURCES.md: the Bond Buyer
  index was discontinued in 2016 and no open MMD/ICE curve exists), so muni yields are
  **modelled** as a ratio of the Treasury par yield of the same maturity:
  ``muni = ratio x treasury``. The default ratio, :data:`DEFAULT_MUNI_RATIO` = 0.80, is
  the level around which the 10-year AAA muni / 10-year Treasury ratio hovered for twenty
  years before 2008 ("between 75% and 90%"; Goodwin Procter, *Muni-Treasury Benchmark
  Missing the Mark*, Public Finance Update, 14 May 2009,
  https://www.goodwinlaw.com/publications/2009/05/public-finance-update-may-14-2009/05_03).
  The ratio has been far from it at times (186 % in 2008, the same source; about 115 % in
  July 2012, Bloomberg) and differs by maturity and credit, so a client's profile can set
  its own (``[fixed_income] muni_ratio``). Every output states that muni yields are modelled
  and with which ratio.

Taxes
-----
The **tax-equivalent yield** is the yield a fully taxable bond (federal ordinary rate +
NIIT + state) would need to leave the same after-tax yield:
``tey = y x (1 - taxed rate of this bond) / (1 - fully taxed rate)``. Treasury interest is
state-exempt; in-state munis are exempt from federal, NIIT and state tax; out-of-state munis
are state-taxed (:func:`pma_lab.tax.rules.interest_taxation`). The client's rates come
from the profile (:class:`pma_lab.tax.liability.TaxProfile`). When it knows the client's
income, they are those of the ladder's first-year interest added to that income as fully
taxable interest, through the same stacking the plans tax the interest with
(:func:`pma_lab.tax.liability.year_tax`): each tax of that interest divided by it, so
coupons that cross a bracket or the NIIT threshold are priced at what they cost. When
the profile gives rates only, they are its marginal rates (``federal_st_rate`` is the
ordinary rate). The federal deduction of state income tax is ignored (it is capped by the SALT
limit for most clients who would buy munis). When the profile gives all-in rates only
(``st_rate``), the state part is unknown and the Treasury state exemption cannot be
credited; the notes say so.

Simplifications (all stated in :attr:`Ladder.notes`): bonds at par (no premium/discount),
no accrued interest, credit risk of munis ignored (AAA), whole par increments per rung
(:attr:`LadderSettings.par_increment`; the remainder stays cash), coupons paid out (not
reinvested), maturing rungs reinvested at the long end of the ladder.

Reinvestment
------------
A rung that matures in ``j`` years buys a new ``N``-year rung (``N``: the ladder's length)
at the **implied forward par yield** of today's curve (:attr:`LadderSettings.reinvest`
``"forward"``, the default): zero rates are bootstrapped from the par curve on a half-year
grid (:func:`discount_factors`; par yields between tenors interpolated linearly, coupons
semiannual) and the forward par yield of a bond bought at ``j`` and maturing at ``j + N``
is ``2 (D(j) - D(j + N)) / sum_i D(j + i/2)`` (:func:`forward_par_yield`): the coupon of a
bond that can be locked in today for that date at no cost, so reinvesting at it is
consistent with today's prices (a static curve, ``"today"``, assumes that rates drift back
to today's curve, a bet against the market's own term structure). It is not a forecast;
every output says which assumption was used (:attr:`Ladder.notes`). Munis reinvest at the
modelled ratio of the Treasury forward.
Inside a transition plan the ladder's coupons are invested too, by the core allocation's
rules (:mod:`pma_lab.plan.sleeves`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

import numpy as np
import pandas as pd

from pma_lab.errors import DataError
from pma_lab.market.data import MarketData, load_market
from pma_lab.tax.liability import InterestIncome, TaxProfile, net_capital_gains, year_tax
from pma_lab.tax.rules import BondIssuer, add_years, interest_taxation

__all__ = [
    "LadderKind",
    "LadderSettings",
    "Ladder",
    "build_ladder",
    "ladder_for_profile",
    "parse_years",
    "par_yields",
    "tax_equivalent_yield",
    "after_tax_yield",
    "interest_rates",
    "interest_tax",
    "interest_tax_words",
    "reinvestment_plan",
    "discount_factors",
    "forward_par_yield",
    "zero_rates",
    "REINVEST_CHOICES",
    "DEFAULT_MUNI_RATIO",
    "MUNI_RATIO_SOURCE",
    "LADDER_SPANS",
    "CURVE_STALENESS_DAYS",
]

DEFAULT_MUNI_RATIO = 0.80
"""Modelled muni yield as a fraction of the Treasury par yield of the same maturity."""

MUNI_RATIO_SOURCE = (
    "Goodwin Procter, 'Muni-Treasury Benchmark Missing the Mark', Public Finance Update, "
    "14 May 2009: the 10-year AAA muni yield hovered between 75% and 90% of the 10-year "
    "Treasury yield over the twenty years before 2008")

LADDER_SPANS = (5, 10)
"""Ladder lengths offered (years): 1-5 and 1-10."""

REINVEST_CHOICES = ("forward", "today")
"""How maturing rungs are reinvested: at the implied forward par yields of today's curve
(the default) or at today's yields (a static curve)."""

CURVE_STALENESS_DAYS = 731
"""How old the last published curve may be for an ``as_of`` (the packaged curve ends
2025-07-11; the sample clients are as of 2026-07-31). Older curves are refused."""

_TENOR_YEARS = {"1M": 1 / 12, "1.5M": 1.5 / 12, "2M": 2 / 12, "3M": 0.25, "4M": 4 / 12,
                "6M": 0.5, "1Y": 1.0, "2Y": 2.0, "3Y": 3.0, "5Y": 5.0, "7Y": 7.0,
                "10Y": 10.0, "20Y": 20.0, "30Y": 30.0}


class LadderKind(StrEnum):
    """What the ladder holds."""

    TREASURY = "treasury"
    MUNI = "muni"


@dataclass(frozen=True)
class LadderSettings:
    """How a ladder is built.

    Attributes
    ----------
    muni_ratio : float
        Modelled muni / Treasury yield ratio (default :data:`DEFAULT_MUNI_RATIO`).
    in_state : bool
        Munis bought from the client's own state (exempt from state tax). Default True.
    par_increment : float | None
        Face value steps per rung in USD; ``None``: $1,000 for Treasuries, $5,000 for munis
        (the usual minimum denominations [R]).
    reinvest : str
        ``"forward"`` (default): maturing rungs buy new long rungs at the implied forward
        par yields of today's curve; ``"today"``: at today's long-rung yield (a static
        curve). See the module docs.
    """

    muni_ratio: float = DEFAULT_MUNI_RATIO
    in_state: bool = True
    par_increment: float | None = None
    reinvest: str = "forward"

    def __post_init__(self) -> None:
        if self.reinvest not in REINVEST_CHOICES:
            raise DataError(f"reinvest {self.reinvest!r} is not known; use 'forward' (the "
                            "implied forward yields of today's curve) or 'today' (today's "
                            "yields, a static curve)")
        if not (np.isfinite(self.muni_ratio) and 0.2 <= self.muni_ratio <= 2.0):
            raise DataError(f"muni_ratio {self.muni_ratio!r} is not plausible; give the muni "
                            "yield as a fraction of the Treasury yield between 0.2 and 2.0 "
                            f"(default {DEFAULT_MUNI_RATIO})")
        if self.par_increment is not None and not (
                np.isfinite(self.par_increment) and self.par_increment > 0):
            raise DataError(f"par_increment {self.par_increment!r} must be a positive amount "
                            "in USD, e.g. 1000")

    def increment(self, kind: LadderKind) -> float:
        """Face-value step of a rung for ``kind``."""
        if self.par_increment is not None:
            return float(self.par_increment)
        return 5000.0 if kind is LadderKind.MUNI else 1000.0


def parse_years(text: str | int) -> int:
    """``"1-5"`` -> 5, ``"1-10"`` -> 10 (also accepts 5 and 10).

    Raises
    ------
    DataError
        For any other span.
    """
    s = str(text).strip()
    n = s[2:] if s.startswith("1-") else s
    if not n.isdigit() or int(n) not in LADDER_SPANS:
        raise DataError(f"ladder years {text!r} is not offered; use 1-5 or 1-10")
    return int(n)


def par_yields(market: MarketData, as_of: dt.date, years: list[float]
               ) -> tuple[pd.Series, dt.date]:
    """Treasury par yields (decimals) at the given maturities, and the curve's date.

    Linear interpolation between the published tenors of the last curve on or before
    ``as_of`` (within :data:`CURVE_STALENESS_DAYS`).

    Raises
    ------
    PriceDataError
        When no curve is recent enough.
    DataError
        When a maturity is outside the published tenors of that curve.
    """
    curve = market.treasury.at(as_of, max_staleness_days=CURVE_STALENESS_DAYS).dropna()
    day = pd.Timestamp(curve.name).date()
    x = np.array([_TENOR_YEARS[t] for t in curve.index])
    y = curve.to_numpy(dtype=float) / 100.0
    order = np.argsort(x)
    x, y = x[order], y[order]
    out = []
    for m in years:
        if m < x[0] or m > x[-1]:
            raise DataError(f"no Treasury par yield for {m} years on {day}: the curve spans "
                            f"{x[0]:.2f} to {x[-1]:.0f} years")
        out.append(float(np.interp(m, x, y)))
    return pd.Series(out, index=years, name="par_yield"), day


def discount_factors(market: MarketData, as_of: dt.date) -> tuple[pd.Series, dt.date]:
    """Discount factors bootstrapped from the Treasury par curve, on a half-year grid.

    The par curve of :func:`par_yields` (the last on or before ``as_of``), its par yields
    interpolated linearly at every half year from 0.5 to its longest tenor, each taken as
    the coupon of a bond priced at par paying semiannually:
    ``D(t_k) = (1 - y_k / 2 * sum_{i<k} D(t_i)) / (1 + y_k / 2)``.

    Returns
    -------
    tuple[pd.Series, datetime.date]
        ``D`` indexed by years (0.0, 0.5, 1.0, ...; ``D(0) = 1``) and the curve's date.
    """
    curve = market.treasury.at(as_of, max_staleness_days=CURVE_STALENESS_DAYS).dropna()
    longest = max(_TENOR_YEARS[t] for t in curve.index)
    grid = [k / 2 for k in range(1, int(2 * longest) + 1)]
    par, day = par_yields(market, as_of, grid)
    d: list[float] = []
    for y in par.to_numpy():
        d.append((1.0 - y / 2 * sum(d)) / (1.0 + y / 2))
    return pd.Series([1.0, *d], index=[0.0, *grid], name="discount"), day


def _discount_at(discount: pd.Series, t: float) -> float:
    """``D(t)``, log-linear between the grid's points (a flat forward between them)."""
    x = discount.index.to_numpy(dtype=float)
    if not 0.0 <= t <= x[-1] + 1e-9:
        raise DataError(f"no discount factor at {t:g} years: the curve spans 0 to "
                        f"{x[-1]:g} years")
    return float(np.exp(np.interp(t, x, np.log(discount.to_numpy(dtype=float)))))


def forward_par_yield(discount: pd.Series, start: float, years: int) -> float:
    """The par yield, fixed today, of a ``years``-year bond bought ``start`` years from now.

    Semiannual coupons: ``2 (D(s) - D(s + N)) / sum_{i=1..2N} D(s + i/2)``, the coupon
    at which the forward-starting bond is worth, today, what paying its price at ``s``
    is (``D(s)``). With ``start = 0`` it is the par yield of today's curve.

    Raises
    ------
    DataError
        When the bond would mature beyond the curve's longest tenor.
    """
    ds = _discount_at(discount, start)
    annuity = sum(_discount_at(discount, start + i / 2) for i in range(1, 2 * years + 1))
    return 2.0 * (ds - _discount_at(discount, start + years)) / annuity


def zero_rates(discount: pd.Series) -> pd.Series:
    """Zero-coupon yields (semiannual compounding, decimals) of the discount factors."""
    d = discount.iloc[1:]
    t = d.index.to_numpy(dtype=float)
    return pd.Series(2.0 * (d.to_numpy(dtype=float) ** (-1.0 / (2 * t)) - 1.0), index=d.index,
                     name="zero_rate")


def interest_rates(tax: TaxProfile, income: float = 0.0) -> tuple[float, float, float]:
    """(federal ordinary, NIIT, state) rates on interest.

    With the income known (``tax.stacked``) and ``income`` > 0: ``income`` of fully
    taxable interest is added to the profile's taxable income as
    :func:`pma_lab.tax.liability.year_tax` stacks it, and each of its taxes is divided by
    it (the rates that interest really pays, across any bracket or NIIT threshold it
    crosses). Otherwise the profile's marginal rates.
    """
    if not tax.stacked or income <= 0:
        return float(tax.federal_st_rate), float(tax.niit_rate), float(tax.state_rate)
    amount = Decimal(str(round(float(income), 2)))
    t = year_tax(net_capital_gains([], []), tax, interest=InterestIncome(taxable=amount))
    return (float(t.interest_income_tax / amount), float(t.interest_niit / amount),
            float(tax.state_rate))


def after_tax_yield(y: float, issuer: BondIssuer, tax: TaxProfile,
                    income: float = 0.0) -> float:
    """Yield left after the client's taxes on the bond's interest.

    At the :func:`interest_rates` of ``income`` USD of interest a year (0: the marginal
    rates).
    """
    fed, niit, state = interest_rates(tax, income)
    who = interest_taxation(issuer)
    rate = fed * who.federal + niit * who.niit + state * who.state
    return y * (1.0 - rate)


def interest_tax(coupons: float, issuer: BondIssuer, tax: TaxProfile, year: int) -> float:
    """The tax of one year's ``coupons`` (USD) from ``issuer``, as the plans tax it.

    :func:`pma_lab.tax.liability.year_tax`'s interest tax of the coupons (rounded to the
    cent) added to the profile's income in tax ``year``: each year at the rates its own
    interest reaches (a ladder pays less interest as its rungs mature, so its later years
    sit in lower brackets, or below the NIIT threshold); with rates given directly, the
    profile's marginal rates.
    """
    amount = Decimal(repr(float(coupons))).quantize(Decimal("0.01"))
    t = year_tax(net_capital_gains([], []), tax, year=year,
                 interest=InterestIncome.of(issuer, amount))
    return float(t.interest_tax)


def interest_tax_words(issuer: BondIssuer, state: str = "the client's state") -> str:
    """How a bond's interest is taxed, in words (from ``interest_taxation``).

    ``state`` names the state in the sentence ("your state" for the client's own pages).
    """
    t = interest_taxation(issuer)
    if not t.federal and not t.state:
        return "exempt from federal and state income tax"
    fed = "taxed federally" if t.federal else "exempt from federal income tax"
    return f"{fed} and {f'taxed by {state}' if t.state else f'exempt from {state} tax'}"


def tax_equivalent_yield(y: float, issuer: BondIssuer, tax: TaxProfile,
                         income: float = 0.0) -> float:
    """The fully taxable yield with the same after-tax yield as ``y`` from ``issuer``.

    Fully taxable = federal ordinary + NIIT + state, at the :func:`interest_rates` of
    ``income`` USD of interest a year (0: the marginal rates). Example: 37 % federal, 3.8 % NIIT,
    9.3 % state (50.1 % in all): a 3.20 % in-state muni is worth 3.20 / 0.499 = 6.41 %; a
    4.00 % Treasury is worth 4.00 x 0.592 / 0.499 = 4.75 %.

    Raises
    ------
    DataError
        When the rates add up to 100 % or more.
    """
    fed, niit, state = interest_rates(tax, income)
    full = fed + niit + state
    if full >= 1.0:
        raise DataError(f"marginal rates add up to {full:.1%}; check the profile's tax rates")
    return after_tax_yield(y, issuer, tax, income) / (1.0 - full)


@dataclass(frozen=True)
class Ladder:
    """A built ladder; tables are data, reports only lay them out.

    Attributes
    ----------
    kind : LadderKind
    years : int
        5 or 10.
    amount : float
        The amount asked for (USD).
    as_of : datetime.date
    curve_date : datetime.date
        Date of the Treasury curve used (the last one on or before ``as_of``).
    rungs : pd.DataFrame
        One row per rung: ``rung`` (years), ``maturity`` (date), ``amount`` (face = cost,
        USD), ``coupon``, ``yield`` (decimals), ``treasury_yield`` (the curve's par yield),
        ``after_tax_yield``, ``tax_equivalent_yield`` (decimals), ``annual_income`` (USD),
        ``duration`` and ``modified_duration`` (years).
    cash_flows : pd.DataFrame
        One row per ladder year ``year`` (1..N, the 12 months ending ``period_end``):
        ``coupons``, ``principal``, ``total`` (USD, before tax), ``interest_tax`` (the tax
        of that year's coupons at that year's rates, :func:`interest_tax`, in the tax
        year of ``period_end``), ``after_tax_coupons`` (coupons less it) and
        ``interest_tax_rate`` (the tax over the coupons).
    cash_left : float
        The part of ``amount`` not invested (par increments), USD.
    duration, modified_duration : float
        Value-weighted over the rungs (years).
    settings : LadderSettings
    issuer : BondIssuer
    notes : tuple[str, ...]
        Plain statements every output shows (curve date, modelled muni yields, assumptions).
    """

    kind: LadderKind
    years: int
    amount: float
    as_of: dt.date
    curve_date: dt.date
    rungs: pd.DataFrame
    cash_flows: pd.DataFrame
    cash_left: float
    duration: float
    modified_duration: float
    settings: LadderSettings
    issuer: BondIssuer
    notes: tuple[str, ...] = field(default=())
    discount: pd.Series | None = field(default=None, repr=False)

    @property
    def invested(self) -> float:
        """Face value bought (USD)."""
        return float(self.rungs.amount.sum())

    def reinvest_yield(self, start: float) -> float:
        """The yield of a new long rung bought ``start`` years from ``as_of`` (decimal).

        With ``settings.reinvest == "forward"`` (the default), the implied forward par
        yield of today's curve for a bond of the ladder's length bought then
        (:func:`forward_par_yield`; munis: times the modelled ratio); past the curve's
        longest tenor, the last forward it has. With ``"today"``, the longest rung's yield.
        """
        if self.settings.reinvest == "today" or self.discount is None:
            return float(self.rungs["yield"].iloc[-1])
        ratio = self.settings.muni_ratio if self.kind is LadderKind.MUNI else 1.0
        last = float(self.discount.index[-1]) - self.years
        return ratio * forward_par_yield(self.discount, min(max(start, 0.0), last),
                                         self.years)

    @property
    def yield_(self) -> float:
        """Value-weighted yield of the rungs (decimal)."""
        return float(np.average(self.rungs["yield"], weights=self.rungs.amount))

    @property
    def tax_equivalent_yield(self) -> float:
        """Value-weighted tax-equivalent yield of the rungs (decimal)."""
        return float(np.average(self.rungs.tax_equivalent_yield, weights=self.rungs.amount))

    def summary(self) -> pd.Series:
        """Headline figures (units in the index names)."""
        return pd.Series({
            "kind": str(self.kind), "years": f"1-{self.years}", "as_of": self.as_of,
            "curve_date": self.curve_date, "invested_usd": self.invested,
            "cash_left_usd": self.cash_left, "yield": self.yield_,
            "tax_equivalent_yield": self.tax_equivalent_yield,
            "annual_income_usd": float(self.rungs.annual_income.sum()),
            "duration_years": self.duration, "modified_duration_years": self.modified_duration,
        })

    @property
    def yield_basis(self) -> str:
        """Where the yields come from, in a few words (shown on every row of the CSV)."""
        curve = f"Treasury par curve of {self.curve_date.isoformat()}"
        if self.kind is LadderKind.MUNI:
            return f"modelled: {self.settings.muni_ratio:.0%} of the {curve}"
        return curve

    def to_csv_frame(self) -> pd.DataFrame:
        """The CLI's table: ``maturity, amount, coupon, yield, tax_equivalent_yield``.

        Rates in percent (4.05 means 4.05 %), rounded to 4 decimals; amounts in USD. A last
        column, ``yield_basis``, says on every row where the yields come from (the curve's
        date; for munis that the yields are modelled and with which ratio).
        """
        r = self.rungs
        return pd.DataFrame({
            "maturity": [d.isoformat() for d in r.maturity],
            "amount": r.amount.round(2),
            "coupon": (100 * r.coupon).round(4),
            "yield": (100 * r["yield"]).round(4),
            "tax_equivalent_yield": (100 * r.tax_equivalent_yield).round(4),
            "yield_basis": self.yield_basis,
        })

    def display_cash_flows(self) -> pd.DataFrame:
        """The cash flows by year formatted for a client (dollars, percent)."""
        from pma_lab.formatting import fmt_date, fmt_pct, fmt_usd

        c = self.cash_flows
        return pd.DataFrame({
            "year": c.year, "year ending": [fmt_date(d) for d in c.period_end],
            "interest": [fmt_usd(v) for v in c.coupons],
            "tax on interest": [fmt_usd(v) for v in c.interest_tax],
            "tax rate": [fmt_pct(v) for v in c.interest_tax_rate],
            "interest after tax": [fmt_usd(v) for v in c.after_tax_coupons],
            "principal repaid": [fmt_usd(v) for v in c.principal],
            "total": [fmt_usd(v) for v in c.total],
        })

    def display_table(self) -> pd.DataFrame:
        """The rungs formatted for a client (dollars, percent, years)."""
        from pma_lab.formatting import fmt_date, fmt_num, fmt_pct, fmt_usd

        r = self.rungs
        return pd.DataFrame({
            "maturity": [fmt_date(d) for d in r.maturity],
            "amount": [fmt_usd(v) for v in r.amount],
            "coupon": [fmt_pct(v) for v in r.coupon],
            "yield": [fmt_pct(v) for v in r["yield"]],
            "after-tax yield": [fmt_pct(v) for v in r.after_tax_yield],
            "tax-equivalent yield": [fmt_pct(v) for v in r.tax_equivalent_yield],
            "income / yr": [fmt_usd(v) for v in r.annual_income],
            "duration (yrs)": [fmt_num(v, 2) for v in r.duration],
        })


def _durations(y: float, years: int) -> tuple[float, float]:
    """Macaulay and modified duration of a par bond with semiannual coupons."""
    t = np.arange(1, 2 * years + 1) / 2.0
    cf = np.full(t.size, y / 2.0)
    cf[-1] += 1.0
    df = (1.0 + y / 2.0) ** (-2.0 * t)
    pv = cf * df
    mac = float((t * pv).sum() / pv.sum())
    return mac, mac / (1.0 + y / 2.0)


def build_ladder(kind: LadderKind | str, years: int | str, amount: float, as_of: dt.date,
                 tax: TaxProfile, settings: LadderSettings | None = None,
                 market: MarketData | None = None) -> Ladder:
    """Build a 1-5 or 1-10 year Treasury or muni ladder of ``amount`` USD at ``as_of``.

    Parameters
    ----------
    kind : LadderKind | str
        ``"treasury"`` or ``"muni"``.
    years : int | str
        5 / 10 or ``"1-5"`` / ``"1-10"``.
    amount : float
        USD to invest, split equally across the rungs in whole par increments.
    as_of : datetime.date
    tax : TaxProfile
        The client's marginal rates (for after-tax and tax-equivalent yields).
    settings : LadderSettings | None
    market : MarketData | None

    Returns
    -------
    Ladder

    Raises
    ------
    DataError
        For an unknown kind or span, or an amount too small for one increment per rung.
    PriceDataError
        When no Treasury curve was published within two years before ``as_of``.
    """
    try:
        k = LadderKind(kind)
    except ValueError:
        raise DataError(f"ladder kind {kind!r} is not known; use treasury or muni") from None
    n = parse_years(years)
    s = settings or LadderSettings()
    if not (np.isfinite(amount) and 0 < amount <= 1e12):
        raise DataError(f"ladder amount {amount!r} must be a positive amount in USD")
    step = s.increment(k)
    per_rung = np.floor(amount / n / step) * step
    if per_rung <= 0:
        raise DataError(f"${amount:,.0f} over {n} rungs is less than one ${step:,.0f} bond "
                        f"per rung; invest at least ${n * step:,.0f} or use a shorter ladder")
    m = market or load_market()
    ty, curve_day = par_yields(m, as_of, [float(i) for i in range(1, n + 1)])
    issuer = (BondIssuer.TREASURY if k is LadderKind.TREASURY else
              BondIssuer.MUNI_IN_STATE if s.in_state else BondIssuer.MUNI_OUT_OF_STATE)
    ratio = s.muni_ratio if k is LadderKind.MUNI else 1.0
    income = float(per_rung) * sum(float(ty[float(i)]) * ratio for i in range(1, n + 1))
    rows = []
    for i in range(1, n + 1):
        y = float(ty[float(i)]) * ratio
        mac, mod = _durations(y, i)
        rows.append({
            "rung": i, "maturity": add_years(as_of, i), "amount": float(per_rung),
            "coupon": y, "yield": y, "treasury_yield": float(ty[float(i)]),
            "after_tax_yield": after_tax_yield(y, issuer, tax, income),
            "tax_equivalent_yield": tax_equivalent_yield(y, issuer, tax, income),
            "annual_income": float(per_rung) * y, "duration": mac, "modified_duration": mod,
        })
    rungs = pd.DataFrame(rows)
    flows = []
    for j in range(1, n + 1):
        live = rungs[rungs.rung >= j]
        coupons = float((live.amount * live.coupon).sum())
        principal = float(rungs.amount[rungs.rung == j].sum())
        end = add_years(as_of, j)
        tax_j = interest_tax(coupons, issuer, tax, end.year)
        flows.append({"year": j, "period_end": end, "coupons": coupons,
                      "principal": principal, "total": coupons + principal,
                      "interest_tax": tax_j, "after_tax_coupons": coupons - tax_j,
                      "interest_tax_rate": tax_j / coupons if coupons else 0.0})
    w = rungs.amount / rungs.amount.sum()
    discount, _ = discount_factors(m, as_of)
    notes = _notes(k, n, as_of, curve_day, s, issuer, tax, amount - per_rung * n, step,
                   income, discount)
    return Ladder(k, n, float(amount), as_of, curve_day, rungs, pd.DataFrame(flows),
                  float(amount - per_rung * n), float((w * rungs.duration).sum()),
                  float((w * rungs.modified_duration).sum()), s, issuer, notes, discount)


def _notes(kind: LadderKind, n: int, as_of: dt.date, curve_day: dt.date, s: LadderSettings,
           issuer: BondIssuer, tax: TaxProfile, left: float, step: float,
           income: float = 0.0, discount: pd.Series | None = None) -> tuple[str, ...]:
    from pma_lab.formatting import fmt_pct

    age = (as_of - curve_day).days
    out = [f"Treasury yields are the par curve of {curve_day.isoformat()}, the last curve "
           f"published on or before {as_of.isoformat()} in the packaged data"
           + (f" ({age} days earlier; the packaged curve ends there)" if age > 7 else "")
           + "; 4-, 6-, 8- and 9-year yields are interpolated linearly."]
    if kind is LadderKind.MUNI:
        out.append(f"Muni yields are MODELLED, not market quotes: {s.muni_ratio:.0%} of the "
                   "Treasury par yield of the same maturity (no open municipal yield curve "
                   f"exists). Default ratio {DEFAULT_MUNI_RATIO:.0%}: {MUNI_RATIO_SOURCE}.")
        out.append("In-state munis: interest exempt from federal, NIIT and state tax."
                   if issuer is BondIssuer.MUNI_IN_STATE else
                   "Out-of-state munis: interest exempt from federal tax and the NIIT, taxed "
                   "by the client's state.")
    else:
        out.append("Treasury interest is taxed federally (ordinary rate and NIIT) and is "
                   "exempt from state income tax (31 U.S.C. 3124).")
    fed, niit, state = interest_rates(tax, income)
    rates = (f"at the rates the ladder's ${income:,.0f} of first-year interest pays when "
             "added to the profile's taxable income as fully taxable interest (each tax "
             "of it over it, through the brackets and the NIIT threshold, as the plans "
             f"tax it: federal {fmt_pct(fed, 1)}, NIIT {fmt_pct(niit, 1)}, state "
             f"{fmt_pct(state, 1)})"
             if tax.stacked and income > 0 else
             f"at the client's marginal rates (federal {fmt_pct(fed, 1)}, NIIT "
             f"{fmt_pct(niit, 1)}, state {fmt_pct(state, 1)})")
    out.append(f"Tax-equivalent yield: the yield of a fully taxable bond with the same "
               f"after-tax yield {rates}; the federal deduction of state tax is ignored.")
    if interest_taxation(issuer).federal or interest_taxation(issuer).state:
        out.append("Cash flows by year: each ladder year's interest is taxed at the rates "
                   "that year's own interest reaches (added to the profile's income in the "
                   "tax year the year ends; less interest as rungs mature, so lower rates "
                   "later), as the plans tax it; the rungs' after-tax and tax-equivalent "
                   "yields are at the first year's rates.")
    if tax.source == "given":
        out.append("The profile gives all-in rates only, so the state part is unknown: the "
                   "Treasury state exemption is not credited and in-state muni exemption "
                   "only covers the federal rate given.")
    out.append(_reinvest_note(kind, n, s, discount))
    out.append(f"Each rung is bought at par in ${step:,.0f} face steps; coupons equal the "
               "yield, paid semiannually; credit risk is ignored."
               + (f" ${left:,.2f} stays in cash." if left > 0.005 else ""))
    return tuple(out)


def _reinvest_note(kind: LadderKind, n: int, s: LadderSettings,
                   discount: pd.Series | None) -> str:
    """How maturing rungs are reinvested, with the first years' yields."""
    ratio = s.muni_ratio if kind is LadderKind.MUNI else 1.0
    if s.reinvest == "today" or discount is None:
        return (f"Maturing rungs are reinvested in new {n}-year rungs at today's {n}-year "
                "yield (the curve assumed unchanged).")
    ys = [ratio * forward_par_yield(discount, j, n) for j in (1, 2, 3)]
    return (f"Maturing rungs are reinvested in new {n}-year rungs at the implied forward "
            "yields of today's Treasury curve (zero rates bootstrapped from the par curve): "
            f"{ys[0]:.2%} for a rung bought in 1 year, {ys[1]:.2%} in 2, {ys[2]:.2%} in 3"
            + (f" ({ratio:.0%} of the Treasury forward)" if ratio != 1.0 else "")
            + "; the rates that can be locked in today, not a forecast.")


def reinvestment_plan(ladder: Ladder, horizon_years: int) -> pd.DataFrame:
    """A rolling ladder over ``horizon_years``: each maturing rung buys a new long rung.

    Year ``j``'s maturing rung is reinvested in a new bond maturing ``N`` years later (the
    ladder's length), at :meth:`Ladder.reinvest_yield` (by default the implied forward
    par yield of today's curve for a bond bought at ``j``; ``"today"``: the ``N``-year
    yield of the same curve). Coupons are paid out.

    Returns
    -------
    pd.DataFrame
        One row per year: ``year``, ``period_end``, ``maturing_amount``,
        ``reinvest_maturity``, ``reinvest_yield``, ``coupons`` (income that year, USD) and
        ``ladder_yield`` (value-weighted yield after the reinvestment).

    Raises
    ------
    DataError
        For a horizon outside 1..50 years.
    """
    if not 1 <= horizon_years <= 50:
        raise DataError(f"horizon {horizon_years} years: use 1 to 50")
    n = ladder.years
    book = [(int(r.rung), float(r.amount), float(r["yield"])) for _, r in
            ladder.rungs.iterrows()]
    rows = []
    for j in range(1, horizon_years + 1):
        coupons = sum(a * y for m, a, y in book if m >= j)
        maturing = sum(a for m, a, _ in book if m == j)
        book = [b for b in book if b[0] != j]
        long_y = ladder.reinvest_yield(j)
        if maturing > 0:
            book.append((j + n, maturing, long_y))
        total = sum(a for _, a, _ in book)
        rows.append({"year": j, "period_end": add_years(ladder.as_of, j),
                     "maturing_amount": maturing,
                     "reinvest_maturity": add_years(ladder.as_of, j + n) if maturing else None,
                     "reinvest_yield": long_y if maturing else np.nan, "coupons": coupons,
                     "ladder_yield": sum(a * y for _, a, y in book) / total if total else
                     np.nan})
    return pd.DataFrame(rows)


def ladder_for_profile(profile: object, as_of: dt.date | None = None,
                       market: MarketData | None = None) -> Ladder:
    """The ladder a profile's ``[fixed_income]`` table asks for (kind, years, amount).

    Raises
    ------
    DataError
        When the profile has no ``[fixed_income]`` table, no amount, or no as_of.
    """
    fi = getattr(profile, "fixed_income", None)
    if fi is None:
        raise DataError(f"client {getattr(profile, 'client_id', '?')} has no [fixed_income] "
                        "table; add kind, years and amount")
    if fi.amount is None:
        raise DataError("[fixed_income] has no amount; add amount = ... (USD)")
    day = as_of or getattr(profile, "as_of", None)
    if day is None:
        raise DataError("no as_of: pass one or set client.as_of in the profile")
    settings = LadderSettings(
        muni_ratio=DEFAULT_MUNI_RATIO if fi.muni_ratio is None else fi.muni_ratio,
        in_state=fi.in_state)
    return build_ladder(fi.kind, fi.years, fi.amount, day, profile.tax,  # type: ignore
                        settings, market)
