"""Netting, the $3,000 offset, carryovers, NIIT and charitable limits (notes §6: CL, NI, CH)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from pma_lab.ledger import Account, Ledger
from pma_lab.tax import (
    TaxProfile,
    capital_gains_tax,
    charitable_deductions,
    net_capital_gains,
    yearly_netting,
)
from pma_lab.taxrules import FilingStatus, ltcg_rate, niit, ordinary_rate


def test_cl1_bob_and_gloria():
    n = net_capital_gains([D(-7000)], [], taxable_income=D(26000))
    assert n.deduction == D(3000) and n.carryout_st + n.carryout_lt == D(4000)
    n2 = net_capital_gains([D(-2000)], [], taxable_income=D(26000))
    assert n2.deduction == D(2000) and n2.carryout_st == 0 and n2.carryout_lt == 0


def test_cl2_short_term_carryover():
    n = net_capital_gains([D(-15500)], [D(11600), D(-4500)])
    assert n.lt_net == D(7100) and n.st_net == D(-15500) and n.combined == D(-8400)
    assert n.deduction == D(3000) and n.carryout_st == D(5400) and n.carryout_lt == 0


def test_cl3_long_term_carryover():
    n = net_capital_gains([D(5000)], [D(-13000)])
    assert n.combined == D(-8000) and n.deduction == D(3000)
    assert n.carryout_lt == D(5000) and n.carryout_st == 0


def test_mfs_limit_and_small_taxable_income():
    n = net_capital_gains([D(-7000)], [], loss_limit=D(1500))
    assert n.deduction == D(1500) and n.carryout_st == D(5500)
    # taxable income of $1,000 before the deduction: only $1,000 of it counts as used
    n2 = net_capital_gains([D(-7000)], [], taxable_income=D(1000))
    assert n2.deduction == D(3000) and n2.carryout_st == D(6000)


def test_carryover_chains_across_years_keeping_character():
    led = Ledger([Account("T")])
    led.buy(dt.date(2020, 1, 2), "T", "X", D(100), D(100))
    led.buy(dt.date(2020, 1, 2), "T", "Y", D(100), D(100))
    led.sell(dt.date(2020, 6, 1), "T", "X", D(100), D(20))  # ST loss 8,000
    led.sell(dt.date(2023, 6, 1), "T", "Y", D(100), D(130))  # LT gain 3,000
    prof = TaxProfile.from_rates(0.40, 0.20)
    y = yearly_netting(led.dispositions(as_decimal=True), prof).set_index("year")
    assert list(y.index) == [2020, 2021, 2022, 2023]
    assert y.loc[2020, "deduction"] == D(3000) and y.loc[2020, "carryout_st"] == D(5000)
    assert y.loc[2021, "carryout_st"] == D(2000)
    assert y.loc[2022, "carryout_st"] == 0 and y.loc[2022, "deduction"] == D(2000)
    assert y.loc[2023, "taxable_lt"] == D(3000) and y.loc[2023, "tax"] == D(600)
    assert y.loc[2020, "tax"] == D(-1200)  # 3,000 offset at the 40 % ordinary rate


@pytest.mark.parametrize("st, lt, tax", [
    ([D(1000)], [D(2000)], D(400 + 400)),  # both gains: each at its rate
    ([D(1000)], [D(-400)], D(240)),  # ST gain, LT loss: net ST at 40 %
    ([D(-400)], [D(1000)], D(120)),  # LT gain, ST loss: net LT at 20 %
])
def test_tax_at_marginal_rates(st, lt, tax):
    prof = TaxProfile.from_rates(0.40, 0.20)
    assert capital_gains_tax(net_capital_gains(st, lt), prof) == tax


def test_ni1_ni2_niit():
    assert niit(125_000, 400_000, FilingStatus.MFJ) == 4750.0
    assert niit(125_000, 300_000, FilingStatus.MFJ) == 1900.0
    assert niit(125_000, 200_000, FilingStatus.MFJ) == 0.0


@pytest.mark.parametrize("year, status, income, st, lt", [
    (2024, FilingStatus.SINGLE, 47_150, 0.12, 0.15),
    (2024, FilingStatus.SINGLE, 47_151, 0.22, 0.15),
    (2025, FilingStatus.MFJ, 96_700, 0.12, 0.0),
    (2025, FilingStatus.MFJ, 96_951, 0.22, 0.15),
    (2025, FilingStatus.MFJ, 600_051, 0.35, 0.20),
    (2026, FilingStatus.MFJ, 768_701, 0.37, 0.20),
    (2026, FilingStatus.MFS, 384_351, 0.37, 0.20),
    (2026, FilingStatus.HOH, 66_200, 0.12, 0.0),
])
def test_brackets_at_boundaries(year, status, income, st, lt):
    assert ordinary_rate(income, status, year) == st
    assert ltcg_rate(income, status, year) == lt


def test_profile_from_income_adds_niit_and_state():
    p = TaxProfile.from_income(FilingStatus.MFJ, 2026, 900_000, magi=950_000, state_rate=0.093)
    assert p.federal_st_rate == 0.37 and p.federal_lt_rate == 0.20 and p.niit_rate == 0.038
    assert p.st_rate == pytest.approx(0.501) and p.lt_rate == pytest.approx(0.331)
    low = TaxProfile.from_income(FilingStatus.SINGLE, 2025, 60_000)
    assert low.niit_rate == 0 and low.st_rate == 0.22 and low.lt_rate == 0.15
    with pytest.raises(ValueError, match="no federal brackets for tax year 2019"):
        TaxProfile.from_income(FilingStatus.SINGLE, 2019, 60_000)


def test_ch1_charitable_limit_and_carryforward():
    years = charitable_deductions({2024: (D(200_000), D(0)), 2025: (D(100_000), D(0))},
                                  {2024: D(600_000), 2025: D(700_000)})
    assert [y.deducted for y in years] == [D(180_000), D(120_000)]
    assert [y.carryforward_out for y in years] == [D(20_000), D(0)]


def test_charitable_carryforward_expires_after_five_years():
    agi = {y: D(100_000) for y in range(2020, 2027)}
    years = charitable_deductions({2020: (D(400_000), D(0))}, agi)
    assert years[0].deducted == D(30_000)
    # 370,000 left; 30,000 a year for 2021-2025 = 150,000; 220,000 expires after 2025
    assert sum(y.deducted for y in years) == D(180_000)
    assert years[5].expired == D(220_000) and years[5].carryforward_out == 0


def test_ordinary_income_property_uses_the_50_percent_room():
    (y,) = charitable_deductions({2025: (D(30_000), D(30_000))}, {2025: D(100_000)})
    assert y.deducted == D(50_000) and y.carryforward_out == D(10_000)
