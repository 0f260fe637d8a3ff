"""Tax profile, capital gain netting, the $3,000 offset and carryforwards, charitable limits.

The arithmetic follows Schedule D and its Capital Loss Carryover Worksheet line by line,
so every figure can be checked against the form:

* ST and LT are netted separately (each including its carryover), then combined (line 16).
* A net loss is deductible up to $3,000 ($1,500 MFS), or less when taxable income is small
  (worksheet lines 1-4).
* What is not deducted carries forward keeping its character (worksheet lines 5-13).

Tax is valued at the client's marginal rates (:class:`TaxProfile`): short-term gains and the
ordinary-income offset at the ST rate, net long-term gains at the LT rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from pma_lab.taxrules import (
    CAPITAL_LOSS_LIMIT,
    CHARITY_CARRYFORWARD_YEARS,
    CHARITY_LIMIT_CAPITAL_GAIN_PROPERTY,
    CHARITY_LIMIT_ORDINARY_PROPERTY,
    NIIT_RATE,
    NIIT_THRESHOLD,
    FilingStatus,
    ltcg_rate,
    money,
    ordinary_rate,
)

__all__ = [
    "TaxProfile",
    "Netting",
    "net_capital_gains",
    "yearly_netting",
    "capital_gains_tax",
    "CharitableYear",
    "charitable_deductions",
]

ZERO = Decimal(0)


@dataclass(frozen=True)
class TaxProfile:
    """A client's marginal rates and what they were derived from.

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
        The incomes the rates were derived from (``None`` when rates were given directly).
    source : str
        ``"given"`` or ``"brackets"``.
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
                    agi: float | None = None) -> TaxProfile:
        """Profile with marginal rates read off the tabulated brackets.

        Parameters
        ----------
        filing_status, tax_year
            Select the bracket table (2024, 2025, 2026 are tabulated).
        taxable_income : float
            Taxable income before the gains being valued; sets both marginal rates.
        magi : float | None
            Modified AGI for the NIIT test (default: ``taxable_income``).
        state_rate, state_lt_rate : float
            State marginal rates (the LT one defaults to the ST one).
        niit : bool | None
            Force the NIIT on or off; ``None`` applies it when MAGI exceeds the threshold.
        agi : float | None
            AGI for charitable limits.
        """
        magi = taxable_income if magi is None else magi
        if niit is None:
            niit = magi > NIIT_THRESHOLD[filing_status]
        return cls(
            filing_status, tax_year,
            ordinary_rate(taxable_income, filing_status, tax_year),
            ltcg_rate(taxable_income, filing_status, tax_year),
            NIIT_RATE if niit else 0.0, state_rate, state_lt_rate, taxable_income, magi,
            agi, source="brackets",
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


def capital_gains_tax(n: Netting, profile: TaxProfile) -> Decimal:
    """Tax (negative: saving) of a year's netting at the profile's marginal rates."""
    st = Decimal(str(profile.st_rate))
    lt = Decimal(str(profile.lt_rate))
    return money(n.taxable_st * st + n.taxable_lt * lt - n.deduction * st)


def yearly_netting(dispositions: pd.DataFrame, profile: TaxProfile,
                   carryin_st: Decimal = ZERO, carryin_lt: Decimal = ZERO,
                   taxable_income: Mapping[int, Decimal] | None = None,
                   years: Iterable[int] | None = None) -> pd.DataFrame:
    """Schedule D netting for each year, chaining carryovers from year to year.

    Parameters
    ----------
    dispositions : pd.DataFrame
        Form 8949 rows from :meth:`pma_lab.ledger.Ledger.dispositions` (``as_decimal=True``
        keeps the arithmetic exact; floats are converted through ``str``).
    profile : TaxProfile
        Filing status (loss limit) and rates (tax column).
    carryin_st, carryin_lt : Decimal
        Carryovers into the first year.
    taxable_income : Mapping[int, Decimal] | None
        Taxable income before the capital loss deduction, per year (see
        :func:`net_capital_gains`).
    years : Iterable[int] | None
        Years to report (default: from the first to the last year with a disposition; years
        in between with no sales still appear, carrying losses through).

    Returns
    -------
    pd.DataFrame
        One row per year: st/lt gains and losses, carry-in, line 7/15/16 nets, deduction,
        carry-out by character, taxable ST and LT, and tax at marginal rates.
    """
    df = dispositions
    yrs = sorted(set(years) if years is not None else
                 ({d.year for d in df["date_sold"]} if len(df) else set()))
    if yrs and years is None:
        yrs = list(range(yrs[0], yrs[-1] + 1))
    rows = []
    c_st, c_lt = Decimal(carryin_st), Decimal(carryin_lt)
    sold_year = [d.year for d in df["date_sold"]] if len(df) else []
    for y in yrs:
        st_rows = [Decimal(str(g)) for g, t, yy in zip(df["gain_loss"], df["term"], sold_year,
                                                      strict=True) if yy == y and t == "ST"]
        lt_rows = [Decimal(str(g)) for g, t, yy in zip(df["gain_loss"], df["term"], sold_year,
                                                      strict=True) if yy == y and t == "LT"]
        ti = None if taxable_income is None else taxable_income.get(y)
        n = net_capital_gains(st_rows, lt_rows, c_st, c_lt, profile.loss_limit,
                              None if ti is None else Decimal(str(ti)))
        rows.append({
            "year": y, "st_gains": n.st_gains, "st_losses": n.st_losses,
            "lt_gains": n.lt_gains, "lt_losses": n.lt_losses,
            "carryin_st": n.carryin_st, "carryin_lt": n.carryin_lt,
            "st_net": n.st_net, "lt_net": n.lt_net, "combined": n.combined,
            "deduction": n.deduction, "carryout_st": n.carryout_st,
            "carryout_lt": n.carryout_lt, "taxable_st": n.taxable_st,
            "taxable_lt": n.taxable_lt, "tax": capital_gains_tax(n, profile),
        })
        c_st, c_lt = n.carryout_st, n.carryout_lt
    return pd.DataFrame(rows, columns=[
        "year", "st_gains", "st_losses", "lt_gains", "lt_losses", "carryin_st", "carryin_lt",
        "st_net", "lt_net", "combined", "deduction", "carryout_st", "carryout_lt",
        "taxable_st", "taxable_lt", "tax"])


@dataclass(frozen=True)
class CharitableYear:
    """Charitable deduction of appreciated property in one year."""

    year: int
    agi: Decimal
    given_capital_gain_property: Decimal  # FMV of long-term lots given this year
    given_ordinary_property: Decimal  # lesser of basis and FMV of short-term lots given
    deducted: Decimal
    carryforward_out: Decimal
    expired: Decimal


def charitable_deductions(gifts_by_year: Mapping[int, tuple[Decimal, Decimal]],
                          agi_by_year: Mapping[int, Decimal],
                          carryin: Iterable[tuple[int, Decimal]] = ()) -> list[CharitableYear]:
    """Apply the AGI limits and the 5-year carryforward to gifts of stock to public charities.

    Long-term (capital gain) property is deducted at FMV up to 30 % of AGI; short-term
    (ordinary-income) property at the lesser of basis and FMV up to 50 % of AGI less the
    capital gain property deducted. Any excess carries forward five years and is used
    oldest first after the current year's gifts (IRC §170(d)(1), the Pub 526 worksheet
    order); what is still unused after five years expires and is reported.

    Parameters
    ----------
    gifts_by_year : Mapping[int, tuple[Decimal, Decimal]]
        Year -> (capital gain property at FMV, ordinary-income property at basis).
    agi_by_year : Mapping[int, Decimal]
        AGI per year; every year with a gift or carryover needs one.
    carryin : Iterable[tuple[int, Decimal]]
        Earlier carryovers as (year of gift, amount).

    Returns
    -------
    list[CharitableYear]
        One entry per year from the first gift to the last year in ``agi_by_year``.
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
        room30 = money(agi * CHARITY_LIMIT_CAPITAL_GAIN_PROPERTY)
        room50 = money(agi * CHARITY_LIMIT_ORDINARY_PROPERTY)
        deducted = ZERO
        new_carry: list[list] = []
        for kind, amount in (("cg", cg), ("ord", ordinary)):
            room = room30 if kind == "cg" else room50 - deducted
            room = max(room, ZERO)
            take = min(amount, room)
            room -= take
            deducted += take
            if amount > take:
                new_carry.append([y, amount - take, kind])
            for item in carry:  # oldest first
                if item[2] != kind:
                    continue
                t = min(item[1], room)
                item[1] -= t
                room -= t
                deducted += t
        expired = sum((a for yy, a, _ in carry if y - yy >= CHARITY_CARRYFORWARD_YEARS), ZERO)
        carry = [c for c in carry if c[1] > 0 and y - c[0] < CHARITY_CARRYFORWARD_YEARS]
        carry.extend(new_carry)
        out.append(CharitableYear(y, agi, cg, ordinary, deducted,
                                  sum((c[1] for c in carry), ZERO), expired))
    return out
