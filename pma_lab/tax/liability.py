"""Tax profile, capital gain netting, the $3,000 offset and carryforwards, charitable limits.

The arithmetic follows Schedule D and its Capital Loss Carryover Worksheet line by line,
so every figure can be checked against the form:

* ST and LT are netted separately (each including its carryover), then combined (line 16).
* A net loss is deductible up to $3,000 ($1,500 MFS), or less when taxable income is small
  (worksheet lines 1-4).
* What is not deducted carries forward keeping its character (worksheet lines 5-13).

How the tax of a year's gains is valued depends on what the profile knows:

* **Income known** (:meth:`TaxProfile.from_income`, ``source == "brackets"``): the tax is
  ``T(income + gains) - T(income)`` with the year's brackets (:func:`year_tax`). The
  federal part is the Qualified Dividends and Capital Gain Tax Worksheet of the Form 1040
  instructions (:func:`regular_tax`): net capital gain is stacked on top of ordinary
  income through the 0 / 15 / 20 % bands, net short-term gain climbs the ordinary
  brackets, and the $3,000 deduction lowers ordinary income. The NIIT is 3.8 % of
  ``min(NII, MAGI - threshold)``, taken as the difference before and after the gains
  (IRC §1411; Reg. §1.1411-4). State tax is linear at the state rate(s).
* **Rates given directly** (:meth:`TaxProfile.from_rates`, all-in marginal rates): short-term
  gains and the ordinary-income offset at the ST rate, net long-term gain at the LT rate.

Interest (:class:`InterestIncome`: a bond ladder's coupons, by who taxes them) is ordinary
income: with the income known it is added to taxable income (Treasury and other taxable
interest), to MAGI and net investment income (the same) and to the state's base (taxable
and out-of-state municipal interest) *beneath* the year's gains, so the gains are stacked
on top of it (:func:`year_tax`); with rates given directly it is taxed at the marginal rates.

Dividends (:class:`DividendIncome`: a year's dividends of the stocks held) sit on top of
the interest and beneath the gains: qualified dividends are preferential income taxed as
net capital gain is (the 0 / 15 / 20 % bands on top of ordinary income), a REIT's ordinary
dividends are ordinary income less the section 199A deduction; both are net investment
income (the NIIT) and taxed by the state at its ordinary rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

import pandas as pd

from pma_lab.errors import SettingsError
from pma_lab.tax.rules import (
    CAPITAL_LOSS_LIMIT,
    CHARITY_CARRYFORWARD_YEARS,
    CHARITY_FLOOR_FIRST_YEAR,
    CHARITY_FLOOR_RATE,
    CHARITY_LIMIT_CAPITAL_GAIN_PROPERTY,
    CHARITY_LIMIT_ORDINARY_PROPERTY,
    ITEMIZED_LIMIT_FIRST_YEAR,
    ITEMIZED_LIMIT_FRACTION,
    LTCG_BRACKETS,
    LTCG_RATES,
    NIIT_RATE,
    NIIT_RATE_DECIMAL,
    NIIT_THRESHOLD,
    ORDINARY_BRACKETS,
    ORDINARY_RATES,
    REIT_DIVIDEND_DEDUCTION_DECIMAL,
    TAX_TABLE_LIMIT,
    TAX_TABLE_ROWS,
    BondIssuer,
    FilingStatus,
    interest_taxation,
    ltcg_rate,
    money,
    ordinary_rate,
    supported_tax_years,
    top_bracket_start,
)
from pma_lab.validation import check_choice, check_int, check_number

__all__ = [
    "TaxProfile",
    "Netting",
    "net_capital_gains",
    "yearly_netting",
    "netting_columns",
    "capital_gains_tax",
    "ordinary_income_tax",
    "regular_tax",
    "InterestIncome",
    "DividendIncome",
    "YearTax",
    "year_tax",
    "CarryforwardValue",
    "carryforward_value",
    "CharitableYear",
    "charitable_deductions",
]

ZERO = Decimal(0)


@dataclass(frozen=True)
class TaxProfile:
    """A client's tax situation: marginal rates, and the incomes they were derived from.

    Attributes
    ----------
    filing_status : FilingStatus
        Federal filing status (sets the $3,000 / $1,500 loss limit and NIIT threshold).
    tax_year : int
        The year the rates apply to.
    federal_st_rate, federal_lt_rate : float
        Marginal federal rates on short-term gains (ordinary) and long-term gains.
    niit_rate : float
        3.8 % when the net investment income tax applies at the margin, else 0.
    state_rate, state_lt_rate : float
        State rates on short- and long-term gains.
    taxable_income, magi, agi : float | None
        The incomes the rates were derived from (``None`` when rates were given directly):
        taxable income before the gains being valued, modified AGI for the NIIT, AGI for the
        charitable limits.
    source : str
        ``"given"`` or ``"brackets"``.
    preferential_income : float
        The part of ``taxable_income`` taxed at capital-gain rates already (qualified
        dividends); the gains being valued stack on top of it. Default 0: all of the
        client's other taxable income is ordinary.
    niit_override : bool | None
        ``None``: the NIIT follows MAGI against the threshold; ``True`` / ``False``: it
        applies to every dollar of gain / to none (the profile's ``niit = "yes"/"no"``).
    state_charitable_deduction : bool
        Whether the state allows the charitable deduction (not every state does, e.g.
        states without itemized deductions); when ``False`` a gift saves federal tax only.
    """

    filing_status: FilingStatus
    tax_year: int
    federal_st_rate: float
    federal_lt_rate: float
    niit_rate: float = 0.0
    state_rate: float = 0.0
    state_lt_rate: float | None = None
    taxable_income: float | None = None
    magi: float | None = None
    agi: float | None = None
    source: str = "given"
    preferential_income: float = 0.0
    niit_override: bool | None = None
    state_charitable_deduction: bool = True

    def __post_init__(self) -> None:
        check_choice(self, "filing_status", FilingStatus)
        check_int(self, "tax_year", low=1913, meaning="a calendar year, e.g. 2026")
        for name in ("federal_st_rate", "federal_lt_rate", "niit_rate", "state_rate",
                     "state_lt_rate"):
            check_number(self, name, low=0, high=1, high_open=True,
                         optional=name == "state_lt_rate",
                         meaning="a marginal rate as a fraction, e.g. 0.37 = 37 %")
        for name, rate in (("st_rate", self.st_rate), ("lt_rate", self.lt_rate)):
            if rate >= 1:
                raise SettingsError(
                    f"TaxProfile: the all-in {name} (federal + NIIT + state) is {rate:.4g}, "
                    "100 % or more; give each rate as a fraction (0.37 = 37 %), not in "
                    "percent")
        check_number(self, "taxable_income", low=0, optional=True, meaning="USD")
        for name in ("magi", "agi"):
            check_number(self, name, optional=True, meaning="USD")
        check_number(self, "preferential_income", low=0, meaning="USD")
        if self.source not in ("given", "brackets"):
            raise SettingsError(f"TaxProfile(source={self.source!r}): source must be "
                                "'given' or 'brackets'; build it with TaxProfile.from_rates "
                                "or TaxProfile.from_income")

    @property
    def st_rate(self) -> float:
        """All-in marginal rate on short-term gains (federal + NIIT + state)."""
        return self.federal_st_rate + self.niit_rate + self.state_rate

    @property
    def lt_rate(self) -> float:
        """All-in marginal rate on long-term gains (federal + NIIT + state)."""
        state = self.state_rate if self.state_lt_rate is None else self.state_lt_rate
        return self.federal_lt_rate + self.niit_rate + state

    @property
    def loss_limit(self) -> Decimal:
        """Ordinary-income offset for a net capital loss ($3,000, or $1,500 MFS)."""
        return CAPITAL_LOSS_LIMIT[self.filing_status]

    @property
    def stacked(self) -> bool:
        """True when taxes are computed through the brackets (the income is known)."""
        return self.source == "brackets" and self.taxable_income is not None

    @classmethod
    def from_rates(cls, st_rate: float, lt_rate: float,
                   filing_status: FilingStatus = FilingStatus.MFJ, tax_year: int = 2026,
                   agi: float | None = None) -> TaxProfile:
        """Profile from all-in marginal rates given directly (state and NIIT included)."""
        return cls(filing_status, tax_year, st_rate, lt_rate, agi=agi, source="given")

    @classmethod
    def from_income(cls, filing_status: FilingStatus, tax_year: int, taxable_income: float,
                    magi: float | None = None, state_rate: float = 0.0,
                    state_lt_rate: float | None = None, niit: bool | None = None,
                    agi: float | None = None, preferential_income: float = 0.0,
                    state_charitable_deduction: bool = True) -> TaxProfile:
        """Profile with marginal rates read off the tabulated brackets.

        Parameters
        ----------
        filing_status, tax_year
            Select the bracket table (2024, 2025, 2026 are tabulated).
        taxable_income : float
            Taxable income before the gains being valued; sets both marginal rates and is
            the base the gains are stacked on.
        magi : float | None
            Modified AGI for the NIIT test (default: ``taxable_income``).
        state_rate, state_lt_rate : float
            State marginal rates (the LT one defaults to the ST one).
        niit : bool | None
            Force the NIIT on or off; ``None`` applies it when MAGI exceeds the threshold.
        agi : float | None
            AGI for charitable limits.
        preferential_income : float
            Qualified dividends inside ``taxable_income`` (see the attribute).
        state_charitable_deduction : bool
            Whether the state allows the charitable deduction.
        """
        magi = taxable_income if magi is None else magi
        margin_niit = magi > NIIT_THRESHOLD[filing_status] if niit is None else niit
        return cls(
            filing_status, tax_year,
            ordinary_rate(taxable_income, filing_status, tax_year),
            ltcg_rate(taxable_income, filing_status, tax_year),
            NIIT_RATE if margin_niit else 0.0, state_rate, state_lt_rate, taxable_income,
            magi, agi, source="brackets", preferential_income=preferential_income,
            niit_override=niit, state_charitable_deduction=state_charitable_deduction,
        )

    def summary(self) -> pd.Series:
        """The profile as a labelled Series (for reports)."""
        return pd.Series({
            "filing_status": self.filing_status.value, "tax_year": self.tax_year,
            "federal_st_rate": self.federal_st_rate, "federal_lt_rate": self.federal_lt_rate,
            "niit_rate": self.niit_rate, "state_rate": self.state_rate,
            "st_rate": self.st_rate, "lt_rate": self.lt_rate, "source": self.source,
        })


@dataclass(frozen=True)
class Netting:
    """One tax year's Schedule D netting and carryover worksheet.

    Amounts are Decimal dollars; gains positive, losses negative, except the deduction and
    carryovers, which are positive amounts as on the worksheet.
    """

    st_gains: Decimal  # sum of positive ST rows (after wash-sale adjustments)
    st_losses: Decimal  # sum of negative ST rows (<= 0)
    lt_gains: Decimal
    lt_losses: Decimal
    carryin_st: Decimal  # ST loss carried in (>= 0)
    carryin_lt: Decimal
    st_net: Decimal  # Schedule D line 7 (includes the carryover)
    lt_net: Decimal  # line 15 (includes the carryover)
    combined: Decimal  # line 16
    deduction: Decimal  # line 21, as a positive amount
    carryout_st: Decimal  # worksheet line 8
    carryout_lt: Decimal  # worksheet line 13

    @property
    def taxable_st(self) -> Decimal:
        """Net short-term gain taxed at ordinary rates (0 when the year nets to a loss)."""
        if self.combined <= 0:
            return ZERO
        if self.st_net > 0 and self.lt_net < 0:
            return self.combined
        return max(self.st_net, ZERO)

    @property
    def taxable_lt(self) -> Decimal:
        """Net capital gain taxed at long-term rates (0 when the year nets to a loss)."""
        if self.combined <= 0:
            return ZERO
        if self.lt_net > 0 and self.st_net < 0:
            return self.combined
        return max(self.lt_net, ZERO)

    @property
    def agi_change(self) -> Decimal:
        """What the year's capital transactions add to AGI.

        The net gain (line 16), or minus the deduction (line 21) when the year nets to a loss.
        """
        return self.combined if self.combined > 0 else -self.deduction


def net_capital_gains(st_rows: Iterable[Decimal], lt_rows: Iterable[Decimal],
                      carryin_st: Decimal = ZERO, carryin_lt: Decimal = ZERO,
                      loss_limit: Decimal = Decimal(3000),
                      taxable_income: Decimal | None = None) -> Netting:
    """Net a year's gains and losses as Schedule D and the carryover worksheet do.

    Parameters
    ----------
    st_rows, lt_rows : Iterable[Decimal]
        Gain (+) or loss (-) of each disposition, after wash-sale adjustments.
    carryin_st, carryin_lt : Decimal
        Capital loss carryovers from the previous year (positive amounts).
    loss_limit : Decimal
        $3,000, or $1,500 for married filing separately.
    taxable_income : Decimal | None
        Taxable income of the year *before* the capital loss deduction (worksheet line 1 is
        taxable income after it; we add the deduction back ourselves). ``None`` assumes
        taxable income is large enough for the full deduction to count.

    Returns
    -------
    Netting
        The netting, the deduction against ordinary income, and carryovers by character.
    """
    st = [Decimal(x) for x in st_rows]
    lt = [Decimal(x) for x in lt_rows]
    st_g = sum((x for x in st if x > 0), ZERO)
    st_l = sum((x for x in st if x < 0), ZERO)
    lt_g = sum((x for x in lt if x > 0), ZERO)
    lt_l = sum((x for x in lt if x < 0), ZERO)
    st_net = st_g + st_l - carryin_st  # line 7
    lt_net = lt_g + lt_l - carryin_lt  # line 15
    combined = st_net + lt_net  # line 16
    deduction = min(-combined, loss_limit) if combined < 0 else ZERO  # line 21
    if combined >= 0:
        return Netting(st_g, st_l, lt_g, lt_l, carryin_st, carryin_lt, st_net, lt_net,
                       combined, ZERO, ZERO, ZERO)
    # Capital Loss Carryover Worksheet (next year's carryovers)
    line2 = deduction
    if taxable_income is None:
        line4 = line2
    else:  # line 1 is taxable income after the deduction: income_before - deduction
        line3 = max(taxable_income - deduction + line2, ZERO)
        line4 = min(line2, line3)
    line5 = max(-st_net, ZERO)
    line6 = max(lt_net, ZERO)
    line8 = max(line5 - (line4 + line6), ZERO)
    line9 = max(-lt_net, ZERO)
    line10 = max(st_net, ZERO)
    line11 = max(line4 - line5, ZERO)
    line13 = max(line9 - (line10 + line11), ZERO)
    return Netting(st_g, st_l, lt_g, lt_l, carryin_st, carryin_lt, st_net, lt_net, combined,
                   deduction, line8, line13)


# ------------------------------------------------------------------------------ regular tax
def _dec(x: float | Decimal) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def _bracket_year(year: int) -> int:
    """The tabulated year whose brackets apply to ``year``: itself, else the nearest.

    Years outside the table use the nearest tabulated year's brackets unchanged (not
    indexed): a projection assumption for later years, and for earlier ones (history
    replayed with a bracket-based profile) the best the table allows.
    """
    years = supported_tax_years()
    if year in years:
        return year
    return years[-1] if year > years[-1] else years[0]


def _schedule_tax(x: Decimal, status: FilingStatus, year: int) -> Decimal:
    """Tax Rate Schedule (IRC §1(j)) on ``x``, exact (not rounded)."""
    tax, low = ZERO, ZERO
    tops = [_dec(t) for t in ORDINARY_BRACKETS[year][status]]
    for top, rate in zip([*tops, None], ORDINARY_RATES, strict=True):
        if x <= low:
            break
        tax += ((x if top is None else min(x, top)) - low) * rate
        if top is None:
            break
        low = top
    return tax


def ordinary_income_tax(taxable_income: float | Decimal, status: FilingStatus,
                        year: int) -> Decimal:
    """Regular tax on ordinary taxable income, as the Form 1040 instructions compute it.

    Below $100,000 the Tax Table: the row containing the income ($50 wide from $3,000, $25
    wide from $25, then $15-$25, $5-$15, $0-$5) is taxed at its midpoint and rounded to the
    dollar. From $100,000 the Tax Computation Worksheet: the Tax Rate Schedule exactly, to
    the cent.

    Parameters
    ----------
    taxable_income : float | Decimal
        Taxable income (amounts <= 0 have no tax).
    status : FilingStatus
    year : int
        Tax year (outside the table: the nearest tabulated year's brackets, not indexed).
    """
    year = _bracket_year(year)
    x = _dec(taxable_income)
    if x <= 0:
        return ZERO
    if x >= TAX_TABLE_LIMIT:
        return money(_schedule_tax(x, status, year))
    if x < 5:
        return ZERO
    if x < 25:
        mid = Decimal(10) if x < 15 else Decimal(20)
    else:
        width = next(w for lo, w in TAX_TABLE_ROWS if x >= lo)
        mid = (x / width).to_integral_value(rounding=ROUND_FLOOR) * width + width / 2
    return _schedule_tax(mid, status, year).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def regular_tax(taxable_income: float | Decimal, preferential_income: float | Decimal,
                status: FilingStatus, year: int) -> Decimal:
    """Tax on all taxable income: the Qualified Dividends and Capital Gain Tax Worksheet.

    Line by line (Form 1040 instructions, line 16): ordinary income (line 5) is taxed
    through the ordinary brackets; the preferential part (qualified dividends plus net
    capital gain, line 4, capped at taxable income) sits on top of it and fills what is
    left of the 0 % band, then the 15 % band up to its ceiling, then 20 %; the result is
    the smaller of that and the regular tax on everything (line 25).

    Parameters
    ----------
    taxable_income : float | Decimal
        Form 1040 line 15 (worksheet line 1).
    preferential_income : float | Decimal
        Qualified dividends plus net capital gain (worksheet line 4 before the cap).
    status : FilingStatus
    year : int
    """
    l1 = max(_dec(taxable_income), ZERO)
    l4 = max(_dec(preferential_income), ZERO)
    if l4 == 0:
        return ordinary_income_tax(l1, status, year)
    zero_top, fifteen_top = (_dec(v) for v in LTCG_BRACKETS[_bracket_year(year)][status])
    l5 = max(l1 - l4, ZERO)
    l7 = min(l1, zero_top)
    l8 = min(l5, l7)
    l9 = l7 - l8  # taxed at 0 %
    l10 = min(l1, l4)
    l12 = l10 - l9
    l14 = min(l1, fifteen_top)
    l16 = max(l14 - (l5 + l9), ZERO)
    l17 = min(l12, l16)
    l18 = money(l17 * LTCG_RATES[1])
    l20 = l10 - (l9 + l17)
    l21 = money(l20 * LTCG_RATES[2])
    l23 = l18 + l21 + ordinary_income_tax(l5, status, year)
    return min(l23, ordinary_income_tax(l1, status, year))


def _amounts_as_decimals(obj: object, names: tuple[str, ...], what: str) -> None:
    """Set each field of a frozen income record to its Decimal, refusing a bad amount.

    Raises
    ------
    SettingsError
        ``Class(name=value): <what>`` for a value that is not a finite amount >= 0.
    """
    for name in names:
        raw = getattr(obj, name)
        try:
            v = _dec(raw)
        except (ArithmeticError, ValueError, TypeError):
            v = None
        if v is None or not v.is_finite() or v < 0:
            raise SettingsError(f"{type(obj).__name__}({name}={raw!r}): {what}")
        object.__setattr__(obj, name, v)


@dataclass(frozen=True)
class InterestIncome:
    """A year's interest income, by who taxes it (Decimal dollars, each >= 0).

    Which taxes apply to which kind is :func:`pma_lab.tax.rules.interest_taxation`'s:

    * ``taxable`` (corporate bonds, bank interest): federal ordinary rates, NIIT and state;
    * ``treasury``: federal ordinary rates and NIIT, exempt from state tax;
    * ``muni_in_state`` (bonds of the client's own state): exempt from all three;
    * ``muni_out_of_state``: exempt from federal tax and the NIIT, taxed by the state.

    Build one from a single bond kind with :meth:`of`; add them with ``+``.
    """

    taxable: Decimal = ZERO
    treasury: Decimal = ZERO
    muni_in_state: Decimal = ZERO
    muni_out_of_state: Decimal = ZERO

    _ISSUERS = {"taxable": BondIssuer.TAXABLE, "treasury": BondIssuer.TREASURY,
                "muni_in_state": BondIssuer.MUNI_IN_STATE,
                "muni_out_of_state": BondIssuer.MUNI_OUT_OF_STATE}

    def __post_init__(self) -> None:
        _amounts_as_decimals(self, tuple(self._ISSUERS), "interest is an amount in USD, 0 or "
                             "more (a year's coupons paid, by kind)")

    @classmethod
    def of(cls, issuer: BondIssuer, amount: float | Decimal) -> InterestIncome:
        """The interest ``amount`` of bonds of one ``issuer``."""
        name = next(k for k, v in cls._ISSUERS.items() if v is BondIssuer(issuer))
        return cls(**{name: _dec(amount)})

    def __add__(self, other: InterestIncome) -> InterestIncome:
        return InterestIncome(*(getattr(self, k) + getattr(other, k) for k in self._ISSUERS))

    def _taxed(self, which: str) -> Decimal:
        return sum((getattr(self, k) for k, iss in self._ISSUERS.items()
                    if getattr(interest_taxation(iss), which)), ZERO)

    @property
    def total(self) -> Decimal:
        """All the interest, taxed or not."""
        return sum((getattr(self, k) for k in self._ISSUERS), ZERO)

    @property
    def federal(self) -> Decimal:
        """The part in federal taxable income (ordinary income)."""
        return self._taxed("federal")

    @property
    def niit(self) -> Decimal:
        """The part that is net investment income (and in MAGI)."""
        return self._taxed("niit")

    @property
    def state(self) -> Decimal:
        """The part the client's state taxes."""
        return self._taxed("state")


NO_INTEREST = InterestIncome()


@dataclass(frozen=True)
class DividendIncome:
    """A year's dividends, by how they are taxed (Decimal dollars, each >= 0).

    * ``qualified``: qualified dividends (IRC §1(h)(11)), taxed as net capital gain is: on
      top of ordinary income through the 0 / 15 / 20 % bands (the Qualified Dividends and
      Capital Gain Tax Worksheet, :func:`regular_tax`), net investment income (the NIIT)
      and taxed by the state at its ordinary rate.
    * ``reit``: a REIT's ordinary dividends: ordinary income less the section 199A
      deduction (:data:`pma_lab.tax.rules.REIT_DIVIDEND_DEDUCTION` of them, rounded to the
      cent, :attr:`section_199a`; a deduction below AGI, so MAGI, the NIIT and the state
      see the whole dividend).

    Add them with ``+``.
    """

    qualified: Decimal = ZERO
    reit: Decimal = ZERO

    def __post_init__(self) -> None:
        _amounts_as_decimals(self, ("qualified", "reit"), "dividends are an amount in USD, 0 "
                             "or more (a year's dividends, by kind)")

    def __add__(self, other: DividendIncome) -> DividendIncome:
        return DividendIncome(self.qualified + other.qualified, self.reit + other.reit)

    @property
    def total(self) -> Decimal:
        """All the dividends (what MAGI, net investment income and the state see)."""
        return self.qualified + self.reit

    @property
    def section_199a(self) -> Decimal:
        """The section 199A deduction of the REIT dividends (to the cent)."""
        return money(self.reit * REIT_DIVIDEND_DEDUCTION_DECIMAL)

    @property
    def federal(self) -> Decimal:
        """What the dividends add to federal taxable income (after the 199A deduction)."""
        return self.qualified + self.reit - self.section_199a


NO_DIVIDENDS = DividendIncome()


@dataclass(frozen=True)
class YearTax:
    """The tax of one year's interest, capital gains and charitable deduction, by component.

    Decimal dollars; negative amounts are savings. ``method`` is ``"stacked"`` (income
    known: differences of the year's tax through the brackets) or ``"marginal"`` (all-in
    rates given: the gains' tax is all in ``income_tax``, ``niit`` and ``state`` are 0).
    The gains' components are stacked on top of the year's interest (``interest_*``) and
    dividends (``dividend_*``, themselves on top of the interest).
    """

    income_tax: Decimal  # federal regular tax of the gains (Schedule D, stacked)
    niit: Decimal  # net investment income tax of the gains
    state: Decimal  # state tax of the gains
    charity_income_tax: Decimal  # federal value of the charitable deduction (<= 0)
    charity_state: Decimal  # state value of the charitable deduction (<= 0)
    charitable_deduction: Decimal  # the deduction valued (after AGI limits and floor)
    itemized_limit: Decimal  # the §68 2/37 reduction of that deduction
    method: str
    interest_income_tax: Decimal = ZERO  # federal regular tax of the interest
    interest_niit: Decimal = ZERO  # NIIT of the interest
    interest_state: Decimal = ZERO  # state tax of the interest
    dividend_income_tax: Decimal = ZERO  # federal regular tax of the dividends
    dividend_niit: Decimal = ZERO  # NIIT of the dividends
    dividend_state: Decimal = ZERO  # state tax of the dividends

    @property
    def gains_tax(self) -> Decimal:
        """Tax of the year's netting (federal + NIIT + state)."""
        return self.income_tax + self.niit + self.state

    @property
    def charity_saving(self) -> Decimal:
        """Value of the charitable deduction (federal + state, never NIIT), <= 0."""
        return self.charity_income_tax + self.charity_state

    @property
    def interest_tax(self) -> Decimal:
        """Tax of the year's interest (federal + NIIT + state), beneath the gains."""
        return self.interest_income_tax + self.interest_niit + self.interest_state

    @property
    def dividend_tax(self) -> Decimal:
        """Tax of the year's dividends (federal + NIIT + state).

        On top of the interest and beneath the gains.
        """
        return self.dividend_income_tax + self.dividend_niit + self.dividend_state

    @property
    def total(self) -> Decimal:
        """Interest tax, dividend tax, gains tax and the charity saving."""
        return self.interest_tax + self.dividend_tax + self.gains_tax + self.charity_saving


def _niit_change(profile: TaxProfile, magi: Decimal, agi_change: Decimal) -> Decimal:
    """NIIT of an AGI change that is also net investment income.

    3.8 % x [min(NII, MAGI - threshold)]_+ after minus before. For a gain the result does
    not depend on the client's other NII: it is 3.8 % of the part of MAGI + gain above the
    threshold that was not above it before. For the $3,000 loss offset (which Reg.
    §1.1411-4(d)(2) lets reduce other investment income) it assumes the client's other
    net investment income (dividends, interest) is at least the offset.
    """
    if profile.niit_override is not None:
        return money(NIIT_RATE_DECIMAL * agi_change) if profile.niit_override else ZERO
    thr = _dec(NIIT_THRESHOLD[profile.filing_status])
    before = max(magi - thr, ZERO)
    after = max(magi + agi_change - thr, ZERO)
    return money(NIIT_RATE_DECIMAL * (after - before))


def year_tax(n: Netting, profile: TaxProfile,
             charitable_deduction: Decimal = ZERO, *, year: int | None = None,
             taxable_income: Decimal | None = None,
             interest: InterestIncome | None = None,
             dividends: DividendIncome | None = None) -> YearTax:
    """Tax of a year's interest, dividends, netting and charitable deduction, stacked.

    With the income known (``profile.stacked``), each part is a difference of the year's
    tax (Form 1040 QDCG worksheet, :func:`regular_tax`), in this order:

    * interest: ``T(TI + I, P) - T(TI, P)`` where TI is the client's taxable income
      before the interest and gains, P its preferential part and I the interest in
      federal taxable income (:attr:`InterestIncome.federal`: Treasury and other taxable
      interest, not municipal). Interest is ordinary income, so it sits beneath the
      preferential gains whatever order it is earned in. NIIT on the MAGI change
      (:attr:`InterestIncome.niit`, :func:`_niit_change`); state tax at the ST state rate
      on :attr:`InterestIncome.state` (taxable and out-of-state municipal interest).
    * dividends (:class:`DividendIncome`): ``T(TI + I + Q + R - S, P + Q) - T(TI + I, P)``
      where Q are the qualified dividends (preferential, as net capital gain), R a REIT's
      ordinary dividends and S their section 199A deduction; NIIT on the MAGI change of
      Q + R above MAGI + interest; state tax at the ST state rate on Q + R.
    * gains: ``T(TI + I + Q + R - S + ST + LT - D, P + Q + LT) - T(TI + I + Q + R - S,
      P + Q)`` (written below with the dividends in I and P) where ST / LT are the
      year's taxable short-term gain and net capital gain, and D the capital loss
      deduction (line 21; it lowers ordinary income, and taxable income cannot fall below
      zero). NIIT on the AGI change above MAGI + interest (:func:`_niit_change`); state
      tax at the state rate(s), the $3,000 offset at the ST state rate.
    * charity: a deduction C lowers taxable income but neither MAGI nor net investment
      income (it is below the line and not properly allocable to NII, Reg.
      §1.1411-4(f)), so it is worth the ordinary marginal rate, never the 3.8 % NIIT:
      ``T(TI' - C + R, P') - T(TI', P')`` with TI', P' after the gains. From 2026, R is the
      §68 reduction (P.L. 119-21 §70111): 2/37 of the lesser of C and the taxable income
      above the start of the 37 % bracket, which caps the value at 35 %. (The reduction
      depends on the client's other itemized deductions only through TI', so they need not
      be known.) The state credit is C at the ST state rate when the state allows it.

    With all-in rates given directly the tax is marginal: ST and the offset at the ST
    rate, LT at the LT rate, and the deduction at the ST rate (which then includes
    whatever the given rate includes); interest at the federal ordinary rate, the NIIT rate
    and the state rate where each applies (all-in rates have no separate state part, so
    Treasury interest is taxed at the whole ST rate); qualified dividends at the federal LT
    rate, REIT dividends less the 199A deduction at the federal ST rate, both at the NIIT
    and state rates.

    Parameters
    ----------
    n : Netting
    profile : TaxProfile
    charitable_deduction : Decimal
        Charitable deduction allowed this year, after the AGI limits and the 0.5 % floor
        (:func:`charitable_deductions`). The client is assumed to itemize.
    year : int | None
        The tax year (default: the profile's). Years outside the table use the nearest
        tabulated year's brackets; the 2026 itemized-deduction rules apply from 2026.
    taxable_income : Decimal | None
        The year's taxable income before the interest and gains (default: the profile's);
        MAGI moves with it.
    interest : InterestIncome | None
        The year's interest income (default none), taxed beneath the gains.
    dividends : DividendIncome | None
        The year's dividends (default none), taxed on top of the interest and beneath the
        gains.

    Returns
    -------
    YearTax
    """
    year = profile.tax_year if year is None else year
    c = _dec(charitable_deduction)
    i = NO_INTEREST if interest is None else interest
    d = NO_DIVIDENDS if dividends is None else dividends
    if c < 0:
        raise ValueError(f"charitable deduction {c} is negative")
    if not profile.stacked:
        st, lt = _dec(profile.st_rate), _dec(profile.lt_rate)
        gains = money(n.taxable_st * st + n.taxable_lt * lt - n.deduction * st)
        return YearTax(gains, ZERO, ZERO, -money(c * st), ZERO, c, ZERO, "marginal",
                       money(i.federal * _dec(profile.federal_st_rate)),
                       money(i.niit * _dec(profile.niit_rate)),
                       money(i.state * _dec(profile.state_rate)),
                       money(d.qualified * _dec(profile.federal_lt_rate)
                             + (d.reit - d.section_199a) * _dec(profile.federal_st_rate)),
                       money(d.total * _dec(profile.niit_rate)),
                       money(d.total * _dec(profile.state_rate)))
    status = profile.filing_status
    ti_base = _dec(profile.taxable_income) if taxable_income is None else \
        _dec(taxable_income)
    magi_base = _dec(profile.magi if profile.magi is not None else profile.taxable_income)
    magi_base += ti_base - _dec(profile.taxable_income)
    p0 = min(_dec(profile.preferential_income), max(ti_base, ZERO))
    st_state = _dec(profile.state_rate)
    # the interest: ordinary income beneath the gains
    ti0 = ti_base + i.federal
    magi = magi_base + i.niit
    t_base = regular_tax(ti_base, p0, status, year)
    t0 = regular_tax(ti0, p0, status, year) if i.federal else t_base
    i_niit = _niit_change(profile, magi_base, i.niit) if i.niit else ZERO
    i_state = money(i.state * st_state)
    # the dividends: on top of the interest (qualified ones preferential), beneath the gains
    ti_d = ti0 + d.federal
    p_d = p0 + d.qualified
    t_d = regular_tax(ti_d, p_d, status, year) if d.total else t0
    d_niit = _niit_change(profile, magi, d.total) if d.total else ZERO
    d_state = money(d.total * st_state)
    magi_d = magi + d.total
    # the gains on top
    ti1 = max(ti_d + n.taxable_st + n.taxable_lt - n.deduction, ZERO)
    p1 = p_d + n.taxable_lt
    t1 = regular_tax(ti1, p1, status, year)
    lt_state = st_state if profile.state_lt_rate is None else _dec(profile.state_lt_rate)
    state = money(n.taxable_st * st_state + n.taxable_lt * lt_state - n.deduction * st_state)
    niit = _niit_change(profile, magi_d, n.agi_change)
    limit = ZERO
    charity_fed = charity_state = ZERO
    if c > 0:
        if year >= ITEMIZED_LIMIT_FIRST_YEAR:
            above = max(ti1 - top_bracket_start(status, _bracket_year(year)), ZERO)
            limit = money(ITEMIZED_LIMIT_FRACTION * min(c, above))
        ti2 = max(ti1 - (c - limit), ZERO)
        charity_fed = regular_tax(ti2, p1, status, year) - t1
        if profile.state_charitable_deduction:
            charity_state = -money(c * st_state)
    return YearTax(t1 - t_d, niit, state, charity_fed, charity_state, c, limit, "stacked",
                   t0 - t_base, i_niit, i_state, t_d - t0, d_niit, d_state)


def capital_gains_tax(n: Netting, profile: TaxProfile, *, year: int | None = None,
                      taxable_income: Decimal | None = None,
                      interest: InterestIncome | None = None,
                      dividends: DividendIncome | None = None) -> Decimal:
    """Tax (negative: saving) of a year's netting.

    Stacked through the brackets when the profile knows the client's income (on top of
    the year's ``interest`` and ``dividends``, when given), at the profile's marginal rates
    when the rates were given directly (see :func:`year_tax`).
    """
    return year_tax(n, profile, year=year, taxable_income=taxable_income,
                    interest=interest, dividends=dividends).gains_tax


def yearly_netting(dispositions: pd.DataFrame, profile: TaxProfile,
                   carryin_st: Decimal = ZERO, carryin_lt: Decimal = ZERO,
                   taxable_income: Mapping[int, Decimal] | None = None,
                   years: Iterable[int] | None = None,
                   charitable: Mapping[int, Decimal] | None = None,
                   interest: Mapping[int, InterestIncome] | None = None,
                   dividends: Mapping[int, DividendIncome] | None = None) -> pd.DataFrame:
    """Schedule D netting for each year, chaining carryovers from year to year.

    Parameters
    ----------
    dispositions : pd.DataFrame
        Form 8949 rows from :meth:`pma_lab.tax.ledger.Ledger.dispositions` (``as_decimal=True``
        keeps the arithmetic exact; floats are converted through ``str``).
    profile : TaxProfile
        Filing status (loss limit) and rates (tax column).
    carryin_st, carryin_lt : Decimal
        Carryovers into the first year.
    taxable_income : Mapping[int, Decimal] | None
        Taxable income before the capital loss deduction, per year (see
        :func:`net_capital_gains`); with a bracket-based profile the year's gains are also
        stacked on it.
    years : Iterable[int] | None
        Years to report (default: from the first to the last year with a disposition; years
        in between with no sales still appear, carrying losses through).
    charitable : Mapping[int, Decimal] | None
        Charitable deduction allowed per year (after the AGI limits and the floor:
        :func:`charitable_deductions`); when given, a ``charity_saving`` column values it
        on top of the year's gains (:func:`year_tax`: ordinary rate and state, never NIIT).
    interest : Mapping[int, InterestIncome] | None
        Interest income per year (a year missing: none). When given, each year's gains
        are taxed on top of its interest and a ``tax_interest`` column holds the
        interest's own tax (:func:`year_tax`); ``tax`` stays the gains' tax.
    dividends : Mapping[int, DividendIncome] | None
        Dividends per year (a year missing: none), on top of the interest and beneath the
        gains; when given, a ``tax_dividends`` column holds their own tax.

    Returns
    -------
    pd.DataFrame
        One row per year: st/lt gains and losses, carry-in, line 7/15/16 nets, deduction,
        carry-out by character, taxable ST and LT, and the tax (:func:`capital_gains_tax`:
        stacked through the year's brackets when the profile knows the income, else at its
        marginal rates); ``charity_saving`` when ``charitable`` is given;
        ``tax_interest`` when ``interest`` is given; ``tax_dividends`` when ``dividends``
        is given.
    """
    out = netting_columns(dispositions, profile, carryin_st, carryin_lt, taxable_income,
                          years, charitable, interest, dividends)
    # one list per column (a frame of per-year row dicts cost ~2x as much): the same
    # values and column types (int years, Decimal amounts as objects)
    return pd.DataFrame(out if out["year"] else [], columns=list(out))


def netting_columns(dispositions: pd.DataFrame, profile: TaxProfile,
                    carryin_st: Decimal = ZERO, carryin_lt: Decimal = ZERO,
                    taxable_income: Mapping[int, Decimal] | None = None,
                    years: Iterable[int] | None = None,
                    charitable: Mapping[int, Decimal] | None = None,
                    interest: Mapping[int, InterestIncome] | None = None,
                    dividends: Mapping[int, DividendIncome] | None = None
                    ) -> dict[str, list]:
    """:func:`yearly_netting`'s columns as lists (column name -> one value a year).

    The same values without the DataFrame (~1 ms a call to build): for callers that read
    a figure or two of a year (a plan's tax context and yearly table, a few dozen calls a
    comparison). Arguments as :func:`yearly_netting`'s.
    """
    df = dispositions
    # the columns read once, each year's rows gathered in one pass (in their order: the
    # same sums), not three pandas columns read and scanned again for every year
    sold_year = [d.year for d in df["date_sold"]] if len(df) else []
    yrs = sorted(set(years) if years is not None else set(sold_year))
    if yrs and years is None:
        yrs = list(range(yrs[0], yrs[-1] + 1))
    by_year: dict[int, tuple[list[Decimal], list[Decimal]]] = {}
    if len(df):
        for g, t, yy in zip(df["gain_loss"].tolist(), df["term"].tolist(), sold_year,
                            strict=True):
            if t == "ST" or t == "LT":
                by_year.setdefault(yy, ([], []))[t == "LT"].append(Decimal(str(g)))
    columns = ["year", "st_gains", "st_losses", "lt_gains", "lt_losses", "carryin_st",
               "carryin_lt", "st_net", "lt_net", "combined", "deduction", "carryout_st",
               "carryout_lt", "taxable_st", "taxable_lt", "tax"] + \
        (["charity_saving"] if charitable else []) + \
        (["tax_interest"] if interest is not None else []) + \
        (["tax_dividends"] if dividends is not None else [])
    out: dict[str, list] = {c: [] for c in columns}
    c_st, c_lt = Decimal(carryin_st), Decimal(carryin_lt)
    for y in yrs:
        st_rows, lt_rows = by_year.get(y, ([], []))
        ti = None if taxable_income is None else taxable_income.get(y)
        n = net_capital_gains(st_rows, lt_rows, c_st, c_lt, profile.loss_limit,
                              None if ti is None else Decimal(str(ti)))
        yt = year_tax(n, profile, _dec((charitable or {}).get(y, ZERO)), year=y,
                      taxable_income=None if ti is None else Decimal(str(ti)),
                      interest=(interest or {}).get(y), dividends=(dividends or {}).get(y))
        row = {
            "year": y, "st_gains": n.st_gains, "st_losses": n.st_losses,
            "lt_gains": n.lt_gains, "lt_losses": n.lt_losses,
            "carryin_st": n.carryin_st, "carryin_lt": n.carryin_lt,
            "st_net": n.st_net, "lt_net": n.lt_net, "combined": n.combined,
            "deduction": n.deduction, "carryout_st": n.carryout_st,
            "carryout_lt": n.carryout_lt, "taxable_st": n.taxable_st,
            "taxable_lt": n.taxable_lt, "tax": yt.gains_tax,
            "charity_saving": yt.charity_saving, "tax_interest": yt.interest_tax,
            "tax_dividends": yt.dividend_tax,
        }
        for c in columns:
            out[c].append(row[c])
        c_st, c_lt = n.carryout_st, n.carryout_lt
    return out


@dataclass(frozen=True)
class CarryforwardValue:
    """Present value of capital-loss carryforwards under a stated usage assumption.

    Attributes
    ----------
    carry_st, carry_lt : Decimal
        The carryforwards valued, by character (positive amounts).
    value : Decimal
        Present value of the tax they save (>= 0): the sum of the schedule's ``pv``.
    schedule : pd.DataFrame
        One row per future tax year until the carryforwards are used or the horizon ends:
        year, used_st, used_lt (carryforward absorbed that year), deduction (of it, against
        ordinary income), saving (tax saved that year), discount (factor), pv, carry_st,
        carry_lt (left after the year).
    assumption : str
        The usage assumption in words (for reports).
    """

    carry_st: Decimal
    carry_lt: Decimal
    value: Decimal
    schedule: pd.DataFrame
    discount_rate: float
    future_st_gains: Decimal
    future_lt_gains: Decimal
    horizon_years: int
    assumption: str

    @property
    def unused(self) -> Decimal:
        """Carryforward still unused at the horizon (valued at zero)."""
        if not len(self.schedule):
            return self.carry_st + self.carry_lt
        last = self.schedule.iloc[-1]
        return last.carry_st + last.carry_lt


def carryforward_value(carry_st: float | Decimal, carry_lt: float | Decimal,
                       profile: TaxProfile, *, discount_rate: float,
                       future_st_gains: float | Decimal = 0,
                       future_lt_gains: float | Decimal = 0, horizon_years: int = 30,
                       first_year: int | None = None,
                       interest: InterestIncome | None = None,
                       dividends: DividendIncome | None = None) -> CarryforwardValue:
    """Value capital-loss carryforwards at the client's rates, discounted.

    Usage assumption (stated, and repeated in ``assumption``): in each of the following tax
    years the client realises ``future_st_gains`` of net short-term and ``future_lt_gains``
    of net long-term gain (default none). The carryforwards enter that year's Schedule D
    netting with their character (an ST carryforward offsets ST gains first, then LT
    gains; an LT one the reverse; what is left is deducted against ordinary income, at most
    $3,000 a year, and carries on), and the year's saving is the tax of the year's
    netting without them minus the tax with them (:func:`capital_gains_tax`: stacked
    through the brackets when the income is known, else at the marginal rates), on top of
    ``interest`` of interest income a year as every year's tax of a plan is
    (:func:`year_tax`: ``T(TI + I + G) - T(TI + I + G - used)``, the tax of
    tax-and-optimization.md §5.8 with the year's interest in the income). With no future
    gains this is the $3,000-a-year offset against ordinary income. Savings in the
    t-th following year are discounted by ``(1 + discount_rate) ** t`` (a carryforward
    created this year is first usable next year). What is unused after ``horizon_years``
    is worth nothing (carryforwards do not expire, but die with the taxpayer).

    Parameters
    ----------
    carry_st, carry_lt : float | Decimal
        Carryforwards by character (positive amounts).
    profile : TaxProfile
    discount_rate : float
        Annual discount rate, required: pma_lab discounts at the cash rate
        (:func:`pma_lab.market.rates.cash_rate`, the 3-month Treasury bill), as the
        transition plans and the frontier pass it.
    future_st_gains, future_lt_gains : float | Decimal
        Net gains realised each future year that the carryforwards can absorb.
    horizon_years : int
    first_year : int | None
        Tax year of the first use (default the year after the profile's).
    interest : InterestIncome | None
        Interest income of each following year (default none), beneath the gains and the
        offset: a plan values the carryforward left at its horizon on top of its last
        year's interest (income assumed unchanged, as the profile's).
    dividends : DividendIncome | None
        Dividends of each following year (default none), on top of the interest and
        beneath the gains and the offset, as ``interest``.

    Returns
    -------
    CarryforwardValue
    """
    c_st, c_lt = _dec(carry_st), _dec(carry_lt)
    fst, flt = _dec(future_st_gains), _dec(future_lt_gains)
    if min(c_st, c_lt, fst, flt) < 0:
        raise ValueError("carryforwards and future gains are positive amounts")
    y0 = profile.tax_year + 1 if first_year is None else first_year
    ti = None if profile.taxable_income is None else _dec(profile.taxable_income)
    rows = []
    pv = ZERO
    base = net_capital_gains([fst], [flt], loss_limit=profile.loss_limit, taxable_income=ti)
    for t in range(1, horizon_years + 1):
        if c_st + c_lt <= 0:
            break
        y = y0 + t - 1
        n = net_capital_gains([fst], [flt], c_st, c_lt, profile.loss_limit, ti)
        saving = capital_gains_tax(base, profile, year=y, interest=interest,
                                   dividends=dividends) - \
            capital_gains_tax(n, profile, year=y, interest=interest, dividends=dividends)
        disc = Decimal(1) / Decimal(str(1 + discount_rate)) ** t
        pv += money(saving * disc)
        rows.append({"year": y, "used_st": c_st - n.carryout_st,
                     "used_lt": c_lt - n.carryout_lt, "deduction": n.deduction,
                     "saving": saving, "discount": disc, "pv": money(saving * disc),
                     "carry_st": n.carryout_st, "carry_lt": n.carryout_lt})
        c_st, c_lt = n.carryout_st, n.carryout_lt
    schedule = pd.DataFrame(rows, columns=["year", "used_st", "used_lt", "deduction",
                                           "saving", "discount", "pv", "carry_st",
                                           "carry_lt"])
    cap = f"at most ${profile.loss_limit:,.0f} a year"
    use = (f"against ordinary income only, {cap}" if fst == flt == 0 else
           f"against ${fst:,.0f} of short-term and ${flt:,.0f} of long-term gains realised "
           f"each year, then against ordinary income ({cap})")
    how = "stacked through the brackets" if profile.stacked else "at the marginal rates"
    beneath = [f"${x.total:,.0f} of {what} a year" for x, what in
               ((interest, "interest income"), (dividends, "dividends"))
               if x is not None and x.total]
    if beneath:
        how += " on top of " + " and ".join(beneath)
    text = (f"Loss carryforwards are valued as used from {y0} {use}, each year's tax saving "
            f"{how} and discounted at {discount_rate:.2%} a year; what is unused after "
            f"{horizon_years} years counts as nothing.")
    return CarryforwardValue(_dec(carry_st), _dec(carry_lt), pv, schedule,
                             discount_rate, fst, flt, horizon_years, text)


@dataclass(frozen=True)
class CharitableYear:
    """Charitable deduction of appreciated property in one year.

    ``deducted`` is the deduction allowed (after the AGI limits and, from 2026, the 0.5 %
    floor); value it with :func:`year_tax`. Carryforwards keep their category:
    ``carryforward_cg`` (capital gain property, 30 % limit) and ``carryforward_ord``
    (ordinary-income property, 50 % limit).
    """

    year: int
    agi: Decimal
    given_capital_gain_property: Decimal  # FMV of long-term lots given this year
    given_ordinary_property: Decimal  # lesser of basis and FMV of short-term lots given
    deducted: Decimal
    carryforward_out: Decimal
    expired: Decimal
    floor: Decimal = ZERO  # the 0.5 %-of-AGI reduction applied this year
    floor_lost: Decimal = ZERO  # the part of it that does not carry forward
    carryforward_cg: Decimal = ZERO
    carryforward_ord: Decimal = ZERO


def charitable_deductions(gifts_by_year: Mapping[int, tuple[Decimal, Decimal]],
                          agi_by_year: Mapping[int, Decimal],
                          carryin: Iterable[tuple[int, Decimal]] = ()) -> list[CharitableYear]:
    """Apply the AGI limits, the 2026 floor and the 5-year carryforward to gifts of stock.

    Gifts to public (50 %) charities, as Pub 526 Worksheet 2 orders them:

    1. Ordinary-income property (short-term lots, deducted at the lesser of basis and FMV)
       up to 50 % of AGI: this year's gifts, then carryovers oldest first.
    2. Capital gain property (long-term lots at FMV) is taken into account *after* all
       other gifts (IRC §170(b)(1)(C)(i)): up to the lesser of 30 % of AGI and 50 % of AGI
       less step 1's deduction; this year's gifts, then carryovers oldest first.
    3. From 2026, the deduction is allowed only above 0.5 % of AGI (IRC §170(b)(1)(I),
       P.L. 119-21 §70425), taken first from capital gain property, then from the 50 %
       category. The part the floor disallows carries forward only when that category's
       gifts of the year exceed its limit (a carryover arises from the year,
       §170(d)(1)(C)); otherwise it is lost (``floor_lost``). The floor is applied to the
       year's whole deduction, carryovers included (they are treated as paid in the year
       they are carried to, §170(d)(1)(A)) [reading pending IRS guidance].

    What exceeds the limits carries forward five years keeping its category
    (§170(d)(1)); what is still unused after five years expires and is reported.
    Sources: the statute's text as amended (P.L. 119-21 §70425, seen on public copies of
    H.R. 1); Pub 526 Worksheet 2 for the ordering of the 50 % and 30 % categories.

    Parameters
    ----------
    gifts_by_year : Mapping[int, tuple[Decimal, Decimal]]
        Year -> (capital gain property at FMV, ordinary-income property at basis).
    agi_by_year : Mapping[int, Decimal]
        AGI (the contribution base) per year; every year with a gift or carryover needs one.
    carryin : Iterable[tuple[int, Decimal]]
        Earlier carryovers of capital gain property as (year of gift, amount).

    Returns
    -------
    list[CharitableYear]
        One entry per year from the first gift to the last year in ``agi_by_year``.

    Raises
    ------
    ValueError
        AGI missing or not positive in a year with a gift or carryover.
    """
    years = sorted(set(gifts_by_year) | set(agi_by_year))
    # carry entries: [year of gift, amount, kind] with kind "cg" (30 %) or "ord" (50 %)
    carry: list[list] = [[y, Decimal(a), "cg"] for y, a in carryin]
    out: list[CharitableYear] = []
    for y in years:
        agi = Decimal(agi_by_year.get(y, 0))
        cg, ordinary = (Decimal(v) for v in gifts_by_year.get(y, (ZERO, ZERO)))
        if agi <= 0 and (cg or ordinary or carry):
            raise ValueError(f"AGI for {y} is missing or not positive; give tax.agi in the "
                             "profile (the charitable limits are shares of AGI)")
        room50 = money(agi * CHARITY_LIMIT_ORDINARY_PROPERTY)
        room30 = money(agi * CHARITY_LIMIT_CAPITAL_GAIN_PROPERTY)
        taken: dict[str, Decimal] = {}
        new_carry: dict[str, Decimal] = {}
        for kind, amount in (("ord", ordinary), ("cg", cg)):
            room = room50 if kind == "ord" else max(min(room30, room50 - taken["ord"]), ZERO)
            take = min(amount, room)
            room -= take
            if amount > take:
                new_carry[kind] = amount - take
            for item in carry:  # oldest first, after this year's gifts of the kind
                if item[2] == kind:
                    t = min(item[1], room)
                    item[1] -= t
                    room -= t
                    take += t
            taken[kind] = take
        floor = floor_lost = ZERO
        if y >= CHARITY_FLOOR_FIRST_YEAR:
            left = money(agi * CHARITY_FLOOR_RATE)
            for kind in ("cg", "ord"):
                cut = min(left, taken[kind])
                taken[kind] -= cut
                left -= cut
                floor += cut
                if kind in new_carry:
                    new_carry[kind] += cut
                else:
                    floor_lost += cut
        expired = sum((a for yy, a, _ in carry if y - yy >= CHARITY_CARRYFORWARD_YEARS), ZERO)
        carry = [c for c in carry if c[1] > 0 and y - c[0] < CHARITY_CARRYFORWARD_YEARS]
        carry.extend([y, a, k] for k, a in new_carry.items())
        by_kind = {k: sum((c[1] for c in carry if c[2] == k), ZERO) for k in ("cg", "ord")}
        out.append(CharitableYear(y, agi, cg, ordinary, taken["ord"] + taken["cg"],
                                  by_kind["cg"] + by_kind["ord"], expired, floor, floor_lost,
                                  by_kind["cg"], by_kind["ord"]))
    return out
