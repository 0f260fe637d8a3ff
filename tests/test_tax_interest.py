"""Interest income through the brackets: InterestIncome and year_tax(..., interest=...).

Every figure is worked by hand from the 2026 single brackets (10 % to 12,400, 12 % to
50,400, 22 % to 105,700, 24 % to 201,775, 32 % to 256,225, 35 % to 640,600, then 37 %),
the 2026 single long-term bands (0 % to 49,450, 15 % to 545,500, then 20 %) and the
$200,000 single NIIT threshold.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from pma_lab.errors import SettingsError
from pma_lab.tax.ledger import Account, Ledger
from pma_lab.tax.liability import (
    InterestIncome,
    TaxProfile,
    capital_gains_tax,
    net_capital_gains,
    year_tax,
    yearly_netting,
)
from pma_lab.tax.rules import BondIssuer, FilingStatus

NO_GAINS = net_capital_gains([], [])


def _single(income: float, state: float = 0.05, magi: float | None = None) -> TaxProfile:
    return TaxProfile.from_income(FilingStatus.SINGLE, 2026, income, magi=magi,
                                  state_rate=state)


def test_treasury_interest_and_lt_gains_cross_the_15_percent_band():
    # single 2026: $400,000 of wages (taxable income, MAGI the same), $50,000 of Treasury
    # interest and a $150,000 LT gain; state 5 %.
    # Interest: taxable income 400,000 -> 450,000, all in the 35 % bracket: 17,500;
    #   NIIT 3.8 % x 50,000 = 1,900 (MAGI already above 200,000); state 0 (Treasury).
    # Gains on top: ordinary income 450,000, the gain from 450,000 to 545,500 at 15 %
    #   (95,500 x 15 % = 14,325) and 54,500 above at 20 % (10,900): 25,225;
    #   NIIT 3.8 % x 150,000 = 5,700; state 5 % x 150,000 = 7,500.
    # Without the interest the gain would fill 145,500 of the 15 % band (21,825) and only
    # 4,500 at 20 % (900): 22,725, so the interest costs the gains 2,500 more.
    prof = _single(400_000)
    gain = net_capital_gains([], [D(150_000)])
    t = year_tax(gain, prof, interest=InterestIncome(treasury=D(50_000)))
    assert (t.interest_income_tax, t.interest_niit, t.interest_state) == \
        (D("17500.00"), D("1900.00"), D("0.00"))
    assert t.interest_tax == D("19400.00")
    assert (t.income_tax, t.niit, t.state) == (D("25225.00"), D("5700.00"), D("7500.00"))
    assert t.total == D("19400.00") + D("38425.00")
    assert year_tax(gain, prof).income_tax == D("22725.00")
    assert capital_gains_tax(gain, prof, interest=InterestIncome(treasury=D(50_000))) == \
        D("38425.00")


def test_interest_crossing_a_bracket_and_the_niit_threshold():
    # balanced-6040's situation: single 2026, taxable income 180,000 (MAGI the same), and a
    # ladder paying $35,000 of Treasury interest.
    # Federal: 180,000 -> 201,775 at 24 % (21,775 x 24 % = 5,226), 201,775 -> 215,000 at
    #   32 % (13,225 x 32 % = 4,232): 9,458 (a flat 24 % said 8,400).
    # NIIT: MAGI 180,000 -> 215,000, 15,000 of it above 200,000: 570 (the marginal rate at
    #   180,000 said none). State: 0.
    prof = _single(180_000)
    t = year_tax(NO_GAINS, prof, interest=InterestIncome.of(BondIssuer.TREASURY, 35_000))
    assert (t.interest_income_tax, t.interest_niit, t.interest_state) == \
        (D("9458.00"), D("570.00"), D("0.00"))
    assert t.gains_tax == 0 and t.total == D("10028.00")
    # a $20,000 LT gain now sits on 215,000: 15 % (3,000) and all of it above the NIIT
    # threshold (760); without the interest MAGI would reach only 200,000 (no NIIT)
    gain = net_capital_gains([], [D(20_000)])
    with_i = year_tax(gain, prof, interest=InterestIncome(treasury=D(35_000)))
    assert (with_i.income_tax, with_i.niit, with_i.state) == \
        (D("3000.00"), D("760.00"), D("1000.00"))
    assert year_tax(gain, prof).niit == 0


@pytest.mark.parametrize("issuer, fed, niit, state", [
    (BondIssuer.TREASURY, "9458.00", "570.00", "0.00"),  # federal + NIIT, state-exempt
    (BondIssuer.MUNI_IN_STATE, "0.00", "0.00", "0.00"),  # exempt from all three
    (BondIssuer.MUNI_OUT_OF_STATE, "0.00", "0.00", "1750.00"),  # 5 % x 35,000, state only
    (BondIssuer.TAXABLE, "9458.00", "570.00", "1750.00"),  # a corporate: everywhere
])
def test_who_taxes_each_kind_of_interest(issuer, fed, niit, state):
    t = year_tax(NO_GAINS, _single(180_000), interest=InterestIncome.of(issuer, 35_000))
    assert (t.interest_income_tax, t.interest_niit, t.interest_state) == \
        (D(fed), D(niit), D(state))


def test_municipal_interest_does_not_move_the_gains():
    # muni interest is outside federal taxable income and MAGI: the gains' tax is the same
    prof = _single(180_000)
    gain = net_capital_gains([D(10_000)], [D(20_000)])
    muni = InterestIncome(muni_in_state=D(60_000), muni_out_of_state=D(1_000))
    t = year_tax(gain, prof, interest=muni)
    assert t.gains_tax == year_tax(gain, prof).gains_tax
    assert t.interest_tax == D("50.00")  # 5 % x 1,000 out-of-state


def test_interest_at_given_marginal_rates():
    # all-in rates given: Treasury interest at the whole ST rate (no separate state part),
    # munis untaxed (no state rate known)
    prof = TaxProfile.from_rates(0.40, 0.25)
    t = year_tax(net_capital_gains([], [D(10_000)]), prof,
                 interest=InterestIncome(treasury=D(10_000), muni_out_of_state=D(5_000)))
    assert t.interest_tax == D("4000.00") and t.gains_tax == D("2500.00")
    assert t.method == "marginal"


def test_interest_income_is_checked_and_adds_by_kind():
    a = InterestIncome.of(BondIssuer.TREASURY, 100.5) + InterestIncome.of("muni_in_state", 7)
    assert (a.treasury, a.muni_in_state, a.total) == (D("100.5"), D(7), D("107.5"))
    assert (a.federal, a.niit, a.state) == (D("100.5"), D("100.5"), D(0))
    with pytest.raises(SettingsError, match="treasury=-1.*0 or more"):
        InterestIncome(treasury=-1)
    with pytest.raises(SettingsError, match="taxable=nan"):
        InterestIncome(taxable=float("nan"))


def test_yearly_netting_taxes_each_years_gains_on_top_of_its_interest():
    # the first example through the yearly table: 2026 has the 150,000 gain and 50,000 of
    # Treasury interest, 2027 only 50,000 of interest
    led = Ledger([Account("T")])
    led.buy(dt.date(2020, 1, 6), "T", "X", D(1000), D(100))
    led.sell(dt.date(2026, 3, 2), "T", "X", D(1000), D(250))
    disp = led.dispositions(as_decimal=True)
    prof = _single(400_000)
    i = InterestIncome(treasury=D(50_000))
    y = yearly_netting(disp, prof, years=[2026, 2027],
                       interest={2026: i, 2027: i}).set_index("year")
    assert y.at[2026, "tax"] == D("38425.00") and y.at[2026, "tax_interest"] == D("19400.00")
    assert y.at[2027, "tax"] == 0 and y.at[2027, "tax_interest"] == D("19400.00")
    assert "tax_interest" not in yearly_netting(disp, prof).columns
