"""Schedule D netting and its tax over arrays of paths, exact to the cent.

The Monte Carlo replay of a transition plan nets every path's gains year by year: the same
arithmetic as :mod:`pma_lab.tax.liability` (Schedule D netting with the $3,000 offset and
carryforwards by character, the year's tax stacked through the brackets or at the
profile's marginal rates, the charitable deduction's AGI limits and floor, and the value of
a loss carryforward left at the horizon), but on numpy arrays with one entry per path
instead of one Decimal computation per path.

Every amount is held as whole cents in ``int64`` arrays, so sums, differences, minima and
maxima are exact; every product with a rate is computed as an exact fraction (the rate's
Decimal as a ratio of integers, in Python integers when ``int64`` could overflow) and
rounded half up (away from zero) where :func:`pma_lab.tax.rules.money` rounds in the Decimal
code. The results are therefore the Decimal functions' to the cent, not approximately
(tested against them on hand-built and random cases): :func:`cents` for
``money(Decimal(repr(x)))``, :func:`net_paths` for
:func:`~pma_lab.tax.liability.net_capital_gains`, :func:`year_tax_paths` for
:func:`~pma_lab.tax.liability.year_tax` (the gains and the charity, stacked on the year's
interest and dividends), :func:`interest_tax_paths` and :func:`dividend_tax_paths` for
their own tax, :func:`charitable_paths` for
:func:`~pma_lab.tax.liability.charitable_deductions` and :func:`carryforward_paths` for
:func:`~pma_lab.tax.liability.carryforward_value`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from decimal import Decimal

import numpy as np

from pma_lab.errors import DataError
from pma_lab.tax.liability import DividendIncome, InterestIncome, TaxProfile, _bracket_year
from pma_lab.tax.rules import (
    CHARITY_CARRYFORWARD_YEARS,
    CHARITY_FLOOR_FIRST_YEAR,
    CHARITY_FLOOR_RATE,
    CHARITY_LIMIT_CAPITAL_GAIN_PROPERTY,
    CHARITY_LIMIT_ORDINARY_PROPERTY,
    ITEMIZED_LIMIT_FIRST_YEAR,
    ITEMIZED_LIMIT_FRACTION,
    LTCG_BRACKETS,
    LTCG_RATES,
    NIIT_RATE_DECIMAL,
    NIIT_THRESHOLD,
    ORDINARY_BRACKETS,
    ORDINARY_RATES,
    REIT_DIVIDEND_DEDUCTION_DECIMAL,
    TAX_TABLE_LIMIT,
    TAX_TABLE_ROWS,
    FilingStatus,
    money,
    top_bracket_start,
)

__all__ = ["cents", "cents_of", "Nettings", "net_paths", "InterestPaths",
           "interest_tax_paths", "DividendPaths", "dividend_tax_paths", "year_tax_paths",
           "charitable_paths", "carryforward_paths"]

_SAFE = 2 ** 62  # products below this fit in int64


def cents_of(x: Decimal | float | int) -> int:
    """An amount in whole cents (a Decimal or a float through ``str``, as ``_dec`` does).

    Raises
    ------
    DataError
        When the amount is not a whole number of cents (the exact arithmetic needs cents).
    """
    d = x if isinstance(x, Decimal) else Decimal(str(x))
    c = d * 100
    if c != c.to_integral_value():
        raise DataError(f"amount {d} is not a whole number of cents; round it to the cent")
    return int(c)


def cents(x: np.ndarray) -> np.ndarray:
    """Float dollars to whole cents as ``money(Decimal(repr(float(x))))`` rounds them.

    Half a cent rounds away from zero, on the float's shortest decimal form (what ``repr``
    prints): elements within round-off of half a cent are decided through that form.

    Raises
    ------
    DataError
        For NaN or infinite amounts.
    """
    x = np.asarray(x, dtype=float)
    if not np.isfinite(x).all():
        raise DataError("an amount is NaN or infinite; the tax of a path needs finite gains")
    y = x * 100.0
    out = np.rint(y)
    near = np.abs(np.abs(y - np.trunc(y)) - 0.5) <= 1e-6 + 1e-13 * np.abs(y)
    for i in zip(*np.nonzero(near), strict=True):
        out[i] = int(money(Decimal(repr(float(x[i])))) * 100)
    return out.astype(np.int64)


def _round_div(num: np.ndarray, den: int) -> np.ndarray:
    """``num / den`` rounded half away from zero (``den > 0``), exactly."""
    q = (2 * np.abs(num) + den) // (2 * den)
    return np.where(num < 0, -q, q)


def _money(terms: list[tuple[np.ndarray, Decimal]]) -> np.ndarray:
    """``money(sum(amount * rate))`` in cents, for amounts in cents.

    Exact: the rates are taken as ratios of integers over a common denominator; in Python
    integers when the products could overflow ``int64``.
    """
    ratios = [r.as_integer_ratio() for _, r in terms]
    den = 1
    for _, d in ratios:
        den = den * d // math.gcd(den, d)
    nums = [n * (den // d) for n, d in ratios]
    big = max((int(np.abs(a).max(initial=0)) for a, _ in terms), default=0)
    wide = (big * sum(abs(n) for n in nums) + den) * 2 >= _SAFE
    acc = None
    for (a, _), n in zip(terms, nums, strict=True):
        a = np.asarray(a, dtype=np.int64)
        term = (a.astype(object) * n) if wide else a * np.int64(n)
        acc = term if acc is None else acc + term
    return _round_div(acc, den).astype(np.int64)


# ------------------------------------------------------------------------------ netting
@dataclass(frozen=True)
class Nettings:
    """Schedule D netting of one tax year on every path (int64 cents, one entry a path).

    The fields are :class:`pma_lab.tax.liability.Netting`'s lines: ``st_net`` (line 7, carryover
    included), ``lt_net`` (line 15), ``combined`` (line 16), ``deduction`` (line 21, a
    positive amount) and the carryovers out by character (worksheet lines 8 and 13).
    """

    st_net: np.ndarray
    lt_net: np.ndarray
    combined: np.ndarray
    deduction: np.ndarray
    carryout_st: np.ndarray
    carryout_lt: np.ndarray

    @property
    def taxable_st(self) -> np.ndarray:
        """Net short-term gain taxed at ordinary rates (0 when the year nets to a loss)."""
        st, lt, c = self.st_net, self.lt_net, self.combined
        return np.where(c <= 0, 0, np.where((st > 0) & (lt < 0), c, np.maximum(st, 0)))

    @property
    def taxable_lt(self) -> np.ndarray:
        """Net capital gain taxed at long-term rates (0 when the year nets to a loss)."""
        st, lt, c = self.st_net, self.lt_net, self.combined
        return np.where(c <= 0, 0, np.where((lt > 0) & (st < 0), c, np.maximum(lt, 0)))

    @property
    def agi_change(self) -> np.ndarray:
        """The net gain (line 16), or minus the deduction when the year nets to a loss."""
        return np.where(self.combined > 0, self.combined, -self.deduction)


def net_paths(st: np.ndarray, lt: np.ndarray, carryin_st: np.ndarray | int,
              carryin_lt: np.ndarray | int, loss_limit: Decimal,
              taxable_income: Decimal | None = None) -> Nettings:
    """Net each path's year as :func:`pma_lab.tax.liability.net_capital_gains` does.

    Parameters
    ----------
    st, lt : np.ndarray
        Net short- and long-term gain (+) or loss (-) of the year, int64 cents, one a path
        (the netting depends on the rows only through their sums).
    carryin_st, carryin_lt : np.ndarray | int
        Loss carryovers into the year (positive cents).
    loss_limit : Decimal
        $3,000, or $1,500 married filing separately.
    taxable_income : Decimal | None
        Taxable income before the loss deduction (worksheet line 1 plus the deduction);
        ``None``: large enough for the whole deduction.

    Returns
    -------
    Nettings
    """
    st_net = np.asarray(st, dtype=np.int64) - carryin_st
    lt_net = np.asarray(lt, dtype=np.int64) - carryin_lt
    combined = st_net + lt_net
    deduction = np.where(combined < 0, np.minimum(-combined, cents_of(loss_limit)), 0)
    line4 = deduction if taxable_income is None else \
        np.minimum(deduction, max(cents_of(taxable_income), 0))
    line5 = np.maximum(-st_net, 0)
    line8 = np.maximum(line5 - (line4 + np.maximum(lt_net, 0)), 0)
    line11 = np.maximum(line4 - line5, 0)
    line13 = np.maximum(np.maximum(-lt_net, 0) - (np.maximum(st_net, 0) + line11), 0)
    loss = combined < 0
    return Nettings(st_net, lt_net, combined, deduction, np.where(loss, line8, 0),
                    np.where(loss, line13, 0))


# ------------------------------------------------------------------------------ the brackets
def _schedule_tax(x: np.ndarray, status: FilingStatus, year: int) -> np.ndarray:
    """Tax Rate Schedule on ``x`` cents, exact, in units of 1/10,000 of a dollar."""
    tax = np.zeros_like(x)
    low = 0
    for top, rate in _brackets(status, year):
        part = np.maximum((x if top is None else np.minimum(x, top)) - low, 0)
        tax += part * rate
        if top is None:
            break
        low = top
    return tax


@functools.cache
def _brackets(status: FilingStatus, year: int) -> tuple[tuple[int | None, int], ...]:
    """The year's ordinary brackets: (top in cents or None, rate in percent)."""
    tops = [cents_of(t) for t in ORDINARY_BRACKETS[year][status]]
    out = []
    for top, rate in zip([*tops, None], ORDINARY_RATES, strict=True):
        n, d = rate.as_integer_ratio()  # 0.10 ... 0.37: d divides 100
        out.append((top, n * (100 // d)))
    return tuple(out)


def _ordinary_income_tax(x: np.ndarray, status: FilingStatus, year: int) -> np.ndarray:
    """:func:`pma_lab.tax.liability.ordinary_income_tax` in cents (Tax Table below $100,000).

    Each of the two methods is computed only when some amount needs it (the paths of a
    wealthy client's replay are all above the Tax Table: its rows are not read then).
    """
    year = _bracket_year(year)
    limit, rows = _table_cents()
    above = x >= limit
    exact = _round_div(_schedule_tax(x, status, year), 100) if above.any() else 0
    if ((x >= 500) & ~above).any():
        mid = np.where(x < 1500, 1000, 2000)  # $5-$15: $10, $15-$25: $20
        for lo, w in rows:  # the first row that applies wins
            mid = np.where(x >= lo, (x // w) * w + w // 2, mid)
        table = _round_div(_schedule_tax(mid, status, year), 10_000) * 100
    else:
        table = 0
    out = np.where(above, exact, np.where(x < 500, 0, table))
    return np.where(x <= 0, 0, out)


@functools.cache
def _table_cents() -> tuple[int, tuple[tuple[int, int], ...]]:
    """The Tax Table's limit and its rows (lower bound, width), in cents, last row first."""
    return cents_of(TAX_TABLE_LIMIT), tuple((cents_of(lo), cents_of(w))
                                            for lo, w in reversed(TAX_TABLE_ROWS))


def _regular_tax(taxable: np.ndarray, preferential: np.ndarray, status: FilingStatus,
                 year: int) -> np.ndarray:
    """:func:`pma_lab.tax.liability.regular_tax` in cents (the QDCG worksheet, line by line)."""
    l1 = np.maximum(taxable, 0)
    l4 = np.maximum(preferential, 0)
    zero_top, fifteen_top = _ltcg_tops(status, _bracket_year(year))
    l5 = np.maximum(l1 - l4, 0)
    l7 = np.minimum(l1, zero_top)
    l9 = l7 - np.minimum(l5, l7)
    l10 = np.minimum(l1, l4)
    l12 = l10 - l9
    l16 = np.maximum(np.minimum(l1, fifteen_top) - (l5 + l9), 0)
    l17 = np.minimum(l12, l16)
    l20 = l10 - (l9 + l17)
    l23 = _money([(l17, LTCG_RATES[1])]) + _money([(l20, LTCG_RATES[2])]) + \
        _ordinary_income_tax(l5, status, year)
    whole = _ordinary_income_tax(l1, status, year)
    return np.where(l4 == 0, whole, np.minimum(l23, whole))


@functools.cache
def _ltcg_tops(status: FilingStatus, year: int) -> tuple[int, int]:
    """Tops of the 0 % and 15 % long-term bands in cents."""
    zero_top, fifteen_top = (cents_of(v) for v in LTCG_BRACKETS[year][status])
    return zero_top, fifteen_top


@dataclass(frozen=True)
class InterestPaths:
    """A year's interest income on every path, by which taxes reach it (int64 cents).

    Each field is one entry a path, or a scalar shared by every path:
    :attr:`~pma_lab.tax.liability.InterestIncome.federal` (in taxable income),
    :attr:`~pma_lab.tax.liability.InterestIncome.niit` (net investment income, in MAGI) and
    :attr:`~pma_lab.tax.liability.InterestIncome.state`.
    """

    federal: np.ndarray | int = 0
    niit: np.ndarray | int = 0
    state: np.ndarray | int = 0

    @classmethod
    def of(cls, interest: InterestIncome | None) -> InterestPaths:
        """The same interest on every path (``None``: none)."""
        if interest is None:
            return cls()
        return cls(cents_of(interest.federal), cents_of(interest.niit),
                   cents_of(interest.state))

    def __add__(self, other: InterestPaths) -> InterestPaths:
        return InterestPaths(self.federal + other.federal, self.niit + other.niit,
                             self.state + other.state)


@dataclass(frozen=True)
class DividendPaths:
    """A year's dividends on every path, by how they are taxed (int64 cents).

    Each field is one entry a path, or a scalar shared by every path:
    :attr:`~pma_lab.tax.liability.DividendIncome.qualified` and
    :attr:`~pma_lab.tax.liability.DividendIncome.reit` (a REIT's ordinary dividends).
    """

    qualified: np.ndarray | int = 0
    reit: np.ndarray | int = 0

    @classmethod
    def of(cls, dividends: DividendIncome | None) -> DividendPaths:
        """The same dividends on every path (``None``: none)."""
        if dividends is None:
            return cls()
        return cls(cents_of(dividends.qualified), cents_of(dividends.reit))

    def __add__(self, other: DividendPaths) -> DividendPaths:
        return DividendPaths(self.qualified + other.qualified, self.reit + other.reit)

    @property
    def total(self) -> np.ndarray:
        """All the dividends (in MAGI, net investment income and the state's base)."""
        return np.asarray(self.qualified, dtype=np.int64) + \
            np.asarray(self.reit, dtype=np.int64)

    @property
    def federal(self) -> np.ndarray:
        """In federal taxable income: the dividends less the REITs' 199A deduction."""
        reit = np.asarray(self.reit, dtype=np.int64)
        return self.total - _money([(reit, REIT_DIVIDEND_DEDUCTION_DECIMAL)]).reshape(
            reit.shape)


def _stacked_base(profile: TaxProfile, interest: InterestPaths | None,
                  dividends: DividendPaths | None = None
                  ) -> tuple[int, int, int, np.ndarray | int, np.ndarray | int,
                             np.ndarray | int]:
    """(taxable income, MAGI, preferential income) before and after interest and dividends.

    The interest sits beneath the dividends, both beneath the gains.
    """
    ti = cents_of(profile.taxable_income)
    magi = cents_of(profile.magi if profile.magi is not None else profile.taxable_income)
    p0 = min(cents_of(profile.preferential_income), max(ti, 0))
    i = interest or InterestPaths()
    d = dividends or DividendPaths()
    return ti, magi, p0, \
        ti + np.asarray(i.federal, dtype=np.int64) + d.federal, \
        magi + np.asarray(i.niit, dtype=np.int64) + d.total, \
        p0 + np.asarray(d.qualified, dtype=np.int64)


def interest_tax_paths(interest: InterestPaths, profile: TaxProfile, *,
                       year: int | None = None) -> np.ndarray:
    """Each path's ``YearTax.interest_tax`` of :func:`pma_lab.tax.liability.year_tax`, in cents.

    Stacked (income known): ``T(TI + I, P) - T(TI, P)`` through the year's brackets, the
    NIIT of the MAGI change and the state rate on the state-taxed part; with all-in rates
    given, the marginal rates where each tax applies. The interest sits beneath the gains,
    so its tax does not depend on them.

    Parameters
    ----------
    interest : InterestPaths
    profile : TaxProfile
    year : int | None
        The tax year (default: the profile's).

    Returns
    -------
    np.ndarray
        int64 cents (a 0-d array when every field of ``interest`` is a scalar).
    """
    year = profile.tax_year if year is None else year
    fed, nii, st = (np.asarray(v, dtype=np.int64) for v in
                    (interest.federal, interest.niit, interest.state))
    if (fed < 0).any() or (nii < 0).any() or (st < 0).any():
        raise DataError("an interest amount is negative")
    state_rate = Decimal(str(profile.state_rate))
    if not profile.stacked:
        return _money([(fed, Decimal(str(profile.federal_st_rate))),
                       (nii, Decimal(str(profile.niit_rate))), (st, state_rate)])
    status = profile.filing_status
    ti, magi, p0, ti_i, magi_i, _ = _stacked_base(profile, interest)
    t_base = _regular_tax(np.array([ti]), np.array([p0]), status, year)[0]
    ti_i = np.atleast_1d(ti_i)
    fed_tax = _regular_tax(ti_i, np.full(ti_i.shape, p0), status, year) - t_base
    fed_tax = fed_tax.reshape(np.shape(interest.federal))
    niit = _niit_paths(profile, magi, nii)
    return fed_tax + niit + _money([(st, state_rate)])


def dividend_tax_paths(dividends: DividendPaths, profile: TaxProfile, *,
                       interest: InterestPaths | None = None,
                       year: int | None = None) -> np.ndarray:
    """Each path's ``YearTax.dividend_tax`` of :func:`pma_lab.tax.liability.year_tax`, in cents.

    Stacked (income known): ``T(TI + I + Q + R - S, P + Q) - T(TI + I, P)`` through the
    year's brackets (qualified dividends Q preferential, a REIT's R ordinary less its 199A
    deduction S), the NIIT of the MAGI change Q + R above MAGI + interest and the state
    rate on Q + R; with all-in rates given, the marginal rates. The dividends sit on top
    of the year's ``interest`` and beneath the gains, so their tax does not depend on the
    gains.

    Parameters
    ----------
    dividends : DividendPaths
    profile : TaxProfile
    interest : InterestPaths | None
        The year's interest income, beneath the dividends.
    year : int | None
        The tax year (default: the profile's).

    Returns
    -------
    np.ndarray
        int64 cents, one a path (a 0-d array when every field is a scalar).
    """
    year = profile.tax_year if year is None else year
    q, r = (np.asarray(v, dtype=np.int64) for v in (dividends.qualified, dividends.reit))
    if (q < 0).any() or (r < 0).any():
        raise DataError("a dividend amount is negative")
    total, fed = dividends.total, dividends.federal
    state_rate = Decimal(str(profile.state_rate))
    if not profile.stacked:
        return (_money([(q, Decimal(str(profile.federal_lt_rate))),
                        (fed - q, Decimal(str(profile.federal_st_rate)))])
                + _money([(total, Decimal(str(profile.niit_rate)))])
                + _money([(total, state_rate)]))
    status = profile.filing_status
    _, _, p0, ti_i, magi_i, _ = _stacked_base(profile, interest)
    ti_i, ti_d, p_d = np.broadcast_arrays(np.atleast_1d(ti_i), np.atleast_1d(ti_i + fed),
                                          np.atleast_1d(p0 + q))
    fed_tax = _regular_tax(ti_d, p_d, status, year) - \
        _regular_tax(ti_i, np.full(ti_i.shape, p0), status, year)
    fed_tax = fed_tax.reshape(np.broadcast_shapes(np.shape(total), np.shape(magi_i)))
    return fed_tax + _niit_paths(profile, magi_i, total) + _money([(total, state_rate)])


def _niit_paths(profile: TaxProfile, magi: np.ndarray | int, change: np.ndarray
                ) -> np.ndarray:
    """NIIT of a MAGI change that is also net investment income (``_niit_change``)."""
    if profile.niit_override is not None:
        return _money([(change, NIIT_RATE_DECIMAL)]) if profile.niit_override else 0 * change
    thr = cents_of(NIIT_THRESHOLD[profile.filing_status])
    return _money([(np.maximum(magi + change - thr, 0) - np.maximum(magi - thr, 0),
                    NIIT_RATE_DECIMAL)])


def year_tax_paths(n: Nettings, profile: TaxProfile, charitable: np.ndarray | int = 0,
                   *, year: int | None = None, interest: InterestPaths | None = None,
                   dividends: DividendPaths | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each path's :func:`pma_lab.tax.liability.year_tax`: (gains tax, charity saving) in cents.

    Parameters
    ----------
    n : Nettings
    profile : TaxProfile
        Stacked through the year's brackets when the income is known, else at the all-in
        marginal rates; the year's taxable income is the profile's.
    charitable : np.ndarray | int
        Charitable deduction allowed in the year (cents, >= 0).
    year : int | None
        The tax year (default: the profile's).
    interest : InterestPaths | None
        The year's interest income: the gains are stacked on top of it (its own tax is
        :func:`interest_tax_paths`).
    dividends : DividendPaths | None
        The year's dividends: on top of the interest, the gains on top of them (their own
        tax is :func:`dividend_tax_paths`).

    Returns
    -------
    (np.ndarray, np.ndarray)
        ``YearTax.gains_tax`` and ``YearTax.charity_saving`` (<= 0), int64 cents.
    """
    year = profile.tax_year if year is None else year
    c = np.broadcast_to(np.asarray(charitable, dtype=np.int64), n.combined.shape)
    if (c < 0).any():
        raise DataError("a charitable deduction is negative")
    tst, tlt, ded = n.taxable_st, n.taxable_lt, n.deduction
    if not profile.stacked:
        st, lt = Decimal(str(profile.st_rate)), Decimal(str(profile.lt_rate))
        gains = _money([(tst, st), (tlt, lt), (-ded, st)])
        return gains, -_money([(c, st)])
    status = profile.filing_status
    _, _, _, ti0, magi, p0 = _stacked_base(profile, interest, dividends)
    ti1 = np.maximum(ti0 + tst + tlt - ded, 0)
    p1 = p0 + tlt
    if np.ndim(ti0) == 0 and np.ndim(p0) == 0:
        t0 = _regular_tax(np.array([int(ti0)]), np.array([int(p0)]), status, year)[0]
    else:
        a, b = np.broadcast_arrays(np.atleast_1d(ti0), np.atleast_1d(p0))
        t0 = _regular_tax(a, b, status, year)
    t1 = _regular_tax(ti1, p1, status, year)
    st_state = Decimal(str(profile.state_rate))
    lt_state = st_state if profile.state_lt_rate is None else \
        Decimal(str(profile.state_lt_rate))
    state = _money([(tst, st_state), (tlt, lt_state), (-ded, st_state)])
    niit = _niit_paths(profile, magi, n.agi_change)
    saving = np.zeros_like(t1)
    if (c > 0).any():
        limit = np.zeros_like(t1)
        if year >= ITEMIZED_LIMIT_FIRST_YEAR:
            top = cents_of(top_bracket_start(status, _bracket_year(year)))
            limit = _money([(np.minimum(c, np.maximum(ti1 - top, 0)),
                             ITEMIZED_LIMIT_FRACTION)])
        ti2 = np.maximum(ti1 - (c - limit), 0)
        fed = _regular_tax(ti2, p1, status, year) - t1
        st_cr = -_money([(c, st_state)]) if profile.state_charitable_deduction else 0 * c
        saving = np.where(c > 0, fed + st_cr, 0)
    return t1 - t0 + niit + state, saving


# ------------------------------------------------------------------------------ charity
def charitable_paths(gift_cg: np.ndarray, gift_ord: np.ndarray, years: list[int],
                     agi: Decimal) -> np.ndarray:
    """Each path's deduction per year, as :func:`pma_lab.tax.liability.charitable_deductions`.

    Parameters
    ----------
    gift_cg, gift_ord : np.ndarray
        (paths, years) int64 cents: capital gain property at FMV and ordinary-income
        property at the lesser of basis and FMV, given each year.
    years : list[int]
        Consecutive tax years (one column each).
    agi : Decimal
        AGI of every year (the contribution base).

    Returns
    -------
    np.ndarray
        (paths, years) int64 cents: the deduction allowed each year.

    Raises
    ------
    DataError
        When there are gifts and AGI is not positive.
    """
    n_p = gift_cg.shape[0]
    if agi <= 0 and (gift_cg.any() or gift_ord.any()):
        raise DataError("AGI is missing or not positive; give tax.agi in the profile (the "
                        "charitable limits are shares of AGI)")
    room50 = cents_of(money(agi * CHARITY_LIMIT_ORDINARY_PROPERTY))
    room30 = cents_of(money(agi * CHARITY_LIMIT_CAPITAL_GAIN_PROPERTY))
    floor_amt = cents_of(money(agi * CHARITY_FLOOR_RATE))
    carry: list[tuple[int, str, np.ndarray]] = []  # (year of gift, kind, cents), oldest first
    out = np.zeros((n_p, len(years)), dtype=np.int64)
    for i, y in enumerate(years):
        taken: dict[str, np.ndarray] = {}
        new: dict[str, np.ndarray] = {}
        for kind, amount in (("ord", gift_ord[:, i]), ("cg", gift_cg[:, i])):
            room = np.full(n_p, room50, dtype=np.int64) if kind == "ord" else \
                np.maximum(np.minimum(room30, room50 - taken["ord"]), 0)
            take = np.minimum(amount, room)
            room = room - take
            new[kind] = amount - take
            for _, k, item in carry:
                if k == kind:
                    t = np.minimum(item, room)
                    item -= t
                    room = room - t
                    take = take + t
            taken[kind] = take
        if y >= CHARITY_FLOOR_FIRST_YEAR:
            left = np.full(n_p, floor_amt, dtype=np.int64)
            for kind in ("cg", "ord"):
                cut = np.minimum(left, taken[kind])
                taken[kind] = taken[kind] - cut
                left = left - cut
                new[kind] = np.where(new[kind] > 0, new[kind] + cut, 0)
        carry = [c for c in carry if y - c[0] < CHARITY_CARRYFORWARD_YEARS]
        carry.extend((y, k, new[k]) for k in ("ord", "cg"))
        out[:, i] = taken["ord"] + taken["cg"]
    return out


# ------------------------------------------------------------------------------ carryforward
def carryforward_paths(carry_st: np.ndarray, carry_lt: np.ndarray, profile: TaxProfile, *,
                       discount_rate: float, first_year: int, horizon_years: int = 30,
                       interest: InterestPaths | None = None,
                       dividends: DividendPaths | None = None) -> np.ndarray:
    """Each path's :func:`pma_lab.tax.liability.carryforward_value` (no future gains), in cents.

    The carryforwards are used against ordinary income, at most the loss limit a year
    (less when taxable income is smaller), each year's saving valued as the Decimal
    function values it (on top of each path's ``interest`` a year) and discounted at
    ``discount_rate``.

    Parameters
    ----------
    carry_st, carry_lt : np.ndarray
        Carryforwards by character (int64 cents, >= 0), one a path.
    profile : TaxProfile
    discount_rate : float
    first_year : int
        Tax year of the first use.
    horizon_years : int
    interest : InterestPaths | None
        Interest income of each following year, per path or shared (default none).
    dividends : DividendPaths | None
        Dividends of each following year, per path or shared (default none).

    Returns
    -------
    np.ndarray
        The present value (int64 cents) of each path's carryforwards.
    """
    c_st = np.asarray(carry_st, dtype=np.int64).copy()
    c_lt = np.asarray(carry_lt, dtype=np.int64).copy()
    if (c_st < 0).any() or (c_lt < 0).any():
        raise DataError("carryforwards are positive amounts")
    n_p = len(c_st)
    inc = interest or InterestPaths()
    div = dividends or DividendPaths()
    fed, nii, st, q, r = (np.broadcast_to(np.asarray(v, dtype=np.int64), (n_p,))
                          for v in (inc.federal, inc.niit, inc.state, div.qualified,
                                    div.reit))
    ti = None if profile.taxable_income is None else Decimal(str(profile.taxable_income))
    pv = np.zeros_like(c_st)
    live = np.flatnonzero(c_st + c_lt > 0)  # the paths with carryforward left
    # first every year's netting (integer arithmetic), then the years' taxes: without
    # gains a year nets to a loss, so its tax depends on the deduction (and the path's
    # interest and dividends, the same every year) and on the year only through its
    # brackets (no charity here; every year after the tabulated ones has the last's); each
    # distinct (brackets, deduction, income) is taxed once, in one call per brackets'
    # year, not one call a year (most paths deduct the full offset year after year)
    nets: list[tuple[int, np.ndarray, Nettings]] = []
    for t in range(1, horizon_years + 1):
        if not len(live):
            break
        zero = np.zeros(len(live), dtype=np.int64)
        n = net_paths(zero, zero, c_st[live], c_lt[live], profile.loss_limit, ti)
        nets.append((t, live, n))
        c_st[live], c_lt[live] = n.carryout_st, n.carryout_lt
        live = live[c_st[live] + c_lt[live] > 0]
    savings: dict[int, np.ndarray] = {}
    by_brackets: dict[int, list[tuple[int, np.ndarray, Nettings]]] = {}
    for item in nets:
        by_brackets.setdefault(_bracket_year(first_year + item[0] - 1), []).append(item)
    for group in by_brackets.values():
        rows = np.concatenate([lv for _, lv, _ in group])
        n = Nettings(*(np.concatenate([getattr(g, f.name) for _, _, g in group])
                       for f in fields(Nettings)))
        key = np.stack([n.deduction, fed[rows], nii[rows], st[rows], q[rows], r[rows]],
                       axis=1)
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        one = Nettings(*(getattr(n, f.name)[first] for f in fields(Nettings)))
        at = rows[first]
        saving = -year_tax_paths(one, profile, year=first_year + group[0][0] - 1,
                                 interest=InterestPaths(fed[at], nii[at], st[at]),
                                 dividends=DividendPaths(q[at], r[at]))[0][inv.ravel()]
        k = 0
        for t, lv, _ in group:
            savings[t] = saving[k:k + len(lv)]
            k += len(lv)
    for t, lv, _ in nets:
        disc = Decimal(1) / Decimal(str(1 + discount_rate)) ** t
        pv[lv] += _money([(savings[t], disc)])
    return pv
