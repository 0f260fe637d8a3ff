"""Netting, the $3,000 offset, carryovers, NIIT and charitable limits (notes §6: CL, NI, CH)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal as D

import pytest

from pma_lab.tax.ledger import Account, Ledger
from pma_lab.tax.liability import (
    InterestIncome,
    TaxProfile,
    capital_gains_tax,
    carryforward_value,
    charitable_deductions,
    net_capital_gains,
    ordinary_income_tax,
    regular_tax,
    year_tax,
    yearly_netting,
)
from pma_lab.tax.rules import FilingStatus, ltcg_rate, niit, ordinary_rate


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


# ------------------------------------------------------------------ bracket stacking (issue 9.5)
def _household_tax():
    from pma_lab.io.profile import load_profile
    from pma_lab.paths import clients_dir

    return load_profile(clients_dir() / "household" / "profile.toml").tax


def test_household_gain_crossing_the_20_percent_threshold_is_stacked():
    # household: MFJ 2026, taxable income $430,000, MAGI = taxable income, state 5.75 %.
    # An immediate transition realises $280,000 of net LT gain (taxable income 710,000).
    # Before: ordinary tax on 430,000 = 2,480 + 9,120 + 24,332 + 46,116
    #         + 32 % x 26,450 (8,464) = 90,512.
    # After (QDCG worksheet): ordinary 430,000 again 90,512; the gain fills the 15 % band
    # from 430,000 to 613,700 (183,700 x 15 % = 27,555) and the 96,300 above the
    # $613,700 threshold is taxed at 20 % (19,260): 137,327 < regular tax on 710,000.
    # Federal: 137,327 - 90,512 = 46,815 (a flat 15 % would say 42,000).
    # NIIT: MAGI 430,000 -> 710,000, all of the gain above $250,000: 3.8 % x 280,000 = 10,640
    # State: 5.75 % x 280,000 = 16,100.   Total 73,555 (marginal rates said 68,740).
    prof = _household_tax()
    assert prof.stacked and prof.taxable_income == 430_000
    t = year_tax(net_capital_gains([], [D(280_000)]), prof)
    assert (t.income_tax, t.niit, t.state) == (D("46815.00"), D("10640.00"), D("16100.00"))
    assert capital_gains_tax(net_capital_gains([], [D(280_000)]), prof) == D("73555.00")
    assert regular_tax(D(430_000), D(0), FilingStatus.MFJ, 2026) == D("90512.00")
    assert regular_tax(D(710_000), D(280_000), FilingStatus.MFJ, 2026) == D("137327.00")


def test_short_term_gain_climbs_the_ordinary_brackets():
    # MFJ 2026, taxable income 500,000 (MAGI the same): a 30,000 ST gain fills the 32 %
    # bracket to 512,450 (12,450 x 32 % = 3,984) and 17,550 at 35 % (6,142.50) = 10,126.50;
    # NIIT 3.8 % x 30,000 = 1,140 (MAGI already above 250,000).
    prof = TaxProfile.from_income(FilingStatus.MFJ, 2026, 500_000)
    t = year_tax(net_capital_gains([D(30_000)], []), prof)
    assert (t.income_tax, t.niit, t.state) == (D("10126.50"), D("1140.00"), D("0.00"))
    assert t.total == D("11266.50")


def test_niit_only_on_the_part_of_magi_above_the_threshold():
    # single 2026, taxable income 150,000, MAGI 180,000, 50,000 LT gain: all in the 15 % band
    # (taxable income 200,000 < 545,500) = 7,500; MAGI goes to 230,000, 30,000 above the
    # $200,000 threshold: NIIT 3.8 % x 30,000 = 1,140 (marginal rates said 0: MAGI was below).
    prof = TaxProfile.from_income(FilingStatus.SINGLE, 2026, 150_000, magi=180_000)
    t = year_tax(net_capital_gains([], [D(50_000)]), prof)
    assert (t.income_tax, t.niit) == (D("7500.00"), D("1140.00"))


def test_gain_fills_the_zero_percent_band_first():
    # MFJ 2026, taxable income 60,000 (Tax Table: row 60,000-60,050 taxed at its midpoint
    # 60,025: 2,480 + 12 % x 35,225 = 6,707). A 60,000 LT gain: 38,900 fills the 0 % band to
    # $98,900, the other 21,100 at 15 % = 3,165 (worksheet: 0 + 3,165 + 6,707 = 9,872 against
    # a regular tax of 15,824 on 120,000).
    assert ordinary_income_tax(D(60_000), FilingStatus.MFJ, 2026) == D(6707)
    prof = TaxProfile.from_income(FilingStatus.MFJ, 2026, 60_000)
    t = year_tax(net_capital_gains([], [D(60_000)]), prof)
    assert t.income_tax == D("3165.00") and t.niit == 0


@pytest.mark.parametrize("income, table_tax", [
    (D(4), D(0)),  # row 0-5
    (D(5), D(1)),  # row 5-15: 10 % of 10
    (D(24), D(2)),  # row 15-25: 10 % of 20
    (D(2_999), D(299)),  # row 2,975-3,000: 10 % of 2,987.50 = 298.75 -> 299
    (D(3_000), D(303)),  # row 3,000-3,050: 10 % of 3,025 = 302.50 -> 303 (half up)
    (D("99999.99"), D(11501)),  # row 99,950-100,000: 2,480 + 12 % x 75,175 = 11,501
    (D(100_000), D("11504.00")),  # rate schedule from 100,000: 2,480 + 12 % x 75,200
])
def test_tax_table_rows_below_100000(income, table_tax):
    assert ordinary_income_tax(income, FilingStatus.MFJ, 2026) == table_tax


def test_loss_offset_is_valued_through_the_brackets_it_lowers():
    # MFJ 2026, taxable income 405,000: the $3,000 offset lowers ordinary income to
    # 402,000: 1,450 at 32 % (464) + 1,550 at 24 % (372) = 836; NIIT 3.8 % x 3,000 = 114
    prof = TaxProfile.from_income(FilingStatus.MFJ, 2026, 405_000)
    n = net_capital_gains([D(-10_000)], [])
    t = year_tax(n, prof)
    assert (t.income_tax, t.niit) == (D("-836.00"), D("-114.00"))
    # and the yearly table's tax column is the same stacked figure
    led = Ledger([Account("T")])
    led.buy(dt.date(2026, 1, 5), "T", "X", D(100), D(200))
    led.sell(dt.date(2026, 3, 2), "T", "X", D(100), D(100))
    y = yearly_netting(led.dispositions(as_decimal=True), prof)
    assert y.tax.iloc[0] == D("-950.00") and y.carryout_st.iloc[0] == D(7000)


def test_qualified_dividends_sit_on_top_of_ordinary_income():
    # MFJ 2026, taxable income 430,000 of which 30,000 qualified dividends: ordinary income
    # is 400,000, so a 10,000 ST gain is 3,550 at 24 % (852) + 6,450 at 32 % (2,064) = 2,916
    prof = TaxProfile.from_income(FilingStatus.MFJ, 2026, 430_000, preferential_income=30_000)
    assert year_tax(net_capital_gains([D(10_000)], []), prof).income_tax == D("2916.00")


def test_years_outside_the_table_use_the_nearest_brackets():
    prof = _household_tax()
    n = net_capital_gains([], [D(280_000)])
    assert capital_gains_tax(n, prof, year=2029) == capital_gains_tax(n, prof)
    # history replayed with a bracket-based profile (e.g. `ledger replay --profile`)
    assert capital_gains_tax(n, prof, year=2019) == capital_gains_tax(n, prof, year=2024)
    led = Ledger([Account("T")])
    led.buy(dt.date(2018, 1, 5), "T", "X", D(100), D(100))
    led.sell(dt.date(2020, 3, 2), "T", "X", D(100), D(150))
    y = yearly_netting(led.dispositions(as_decimal=True), prof)
    assert y.tax.iloc[0] == capital_gains_tax(net_capital_gains([], [D(5000)]), prof,
                                              year=2024)


# ------------------------------------------------------------------ charity (issues 9.6, 11.5)
def _sample_tax(client):
    from pma_lab.io.profile import load_profile
    from pma_lab.paths import clients_dir

    return load_profile(clients_dir() / client / "profile.toml").tax


NO_GAINS = net_capital_gains([], [])


def test_capital_gain_property_is_limited_after_the_other_gifts():
    # 2024, AGI 100,000: ordinary-income property 45,000 goes first (50 % room: all of it);
    # capital gain property 20,000 then gets min(30 %, 50 % - 45 %) = 5,000: deducted
    # 50,000, 15,000 of *capital gain property* carried (IRC §170(b)(1)(C)(i)).
    # 2025, AGI 100,000, a 30,000 gift of LT stock: 30 % room = 30,000, the year's gift
    # first; the carryover waits: deducted 30,000 (applying the 30 % limit first would
    # have carried 15,000 of ordinary property and deducted 45,000 in 2025).
    years = charitable_deductions({2024: (D(20_000), D(45_000)), 2025: (D(30_000), D(0))},
                                  {2024: D(100_000), 2025: D(100_000)})
    assert [y.deducted for y in years] == [D(50_000), D(30_000)]
    assert [y.carryforward_cg for y in years] == [D(15_000), D(15_000)]
    assert [y.carryforward_ord for y in years] == [0, 0]


def test_2026_floor_of_half_a_percent_of_agi():
    # philanthropist: AGI 780,000, gives 150,000 of LT stock in 2026: 30 % room 234,000, so
    # no excess; the floor 0.5 % x 780,000 = 3,900 is not deductible and, with no excess
    # carried from the year, is lost (§170(d)(1)(C)): deducted 146,100
    (y,) = charitable_deductions({2026: (D(150_000), D(0))}, {2026: D(780_000)})
    assert (y.deducted, y.floor, y.floor_lost, y.carryforward_out) == (
        D("146100.00"), D("3900.00"), D("3900.00"), 0)
    # a year whose gifts exceed the limit carries the floor amount with the excess:
    # AGI 100,000, 40,000 of LT stock: 30,000 room - 500 floor = 29,500 deducted,
    # 10,000 excess + 500 = 10,500 carried; in 2027 the carryover is the year's only
    # contribution: 10,500 - 500 floor = 10,000 deducted, the 500 lost (no excess in 2027)
    y26, y27 = charitable_deductions({2026: (D(40_000), D(0))},
                                     {2026: D(100_000), 2027: D(100_000)})
    assert (y26.deducted, y26.carryforward_cg, y26.floor_lost) == (
        D("29500.00"), D("10500.00"), 0)
    assert (y27.deducted, y27.floor_lost, y27.carryforward_out) == (
        D("10000.00"), D("500.00"), 0)
    # before 2026 there is no floor
    (y25,) = charitable_deductions({2025: (D(150_000), D(0))}, {2025: D(780_000)})
    assert y25.deducted == D(150_000) and y25.floor == 0


def test_charity_is_worth_the_ordinary_rate_and_state_never_the_niit():
    # philanthropist: MFJ 2026, taxable income 700,000, MAGI 760,000, state 4.95 %; the
    # 146,100 deduction (above) lowers taxable income to 553,900, all in the 35 % bracket
    # (512,450 - 768,700): 51,135.00 federal; state 4.95 % x 146,100 = 7,231.95; no NIIT
    # (a charitable deduction lowers neither MAGI nor NII): saving 58,366.95. The marginal
    # all-in ST rate (35 % + 3.8 % + 4.95 %) would have said 63,918.75.
    prof = _sample_tax("philanthropist")
    t = year_tax(NO_GAINS, prof, D("146100.00"))
    assert (t.charity_income_tax, t.charity_state) == (D("-51135.00"), D("-7231.95"))
    assert t.niit == 0 and t.charity_saving == D("-58366.95") and t.total == D("-58366.95")
    # a state without the deduction: federal only
    no_state = dataclasses.replace(prof, state_charitable_deduction=False)
    assert year_tax(NO_GAINS, no_state, D("146100.00")).charity_saving == D("-51135.00")


def test_35_percent_cap_for_top_bracket_itemizers():
    # tech-exec: MFJ 2026, taxable income 1,150,000 (381,300 above the 37 % threshold of
    # 768,700); a 100,000 gift of LT stock with AGI 1,210,000: floor 6,050, deducted 93,950.
    # §68: reduction 2/37 x min(93,950, 381,300) = 5,078.38, so taxable income falls by
    # 88,871.62, all at 37 %: 32,882.50 = 35 % x 93,950 (37 % would be 34,761.50).
    (y,) = charitable_deductions({2026: (D(100_000), D(0))}, {2026: D(1_210_000)})
    assert y.deducted == D("93950.00")
    t = year_tax(NO_GAINS, _sample_tax("tech-exec"), y.deducted)
    assert (t.itemized_limit, t.charity_income_tax) == (D("5078.38"), D("-32882.50"))
    assert t.charity_state == D("-8737.35")  # 9.3 % x 93,950


def test_itemized_limit_only_on_the_part_above_the_37_percent_bracket():
    # MFJ 2026, taxable income 800,000 (31,300 above 768,700), deduction 100,000:
    # reduction 2/37 x 31,300 = 1,691.89; taxable income 701,691.89:
    # 37 % x 31,300 = 11,581 + 35 % x 67,008.11 = 23,452.84 -> 35,033.84
    prof = TaxProfile.from_income(FilingStatus.MFJ, 2026, 800_000)
    t = year_tax(NO_GAINS, prof, D(100_000))
    assert (t.itemized_limit, t.charity_income_tax) == (D("1691.89"), D("-35033.84"))
    # 2025 had no such limit (and its own brackets): 37 % x 48,400 above 751,600 = 17,908
    # + 35 % x 51,600 = 18,060 -> 35,968
    t25 = year_tax(NO_GAINS, prof, D(100_000), year=2025)
    assert (t25.itemized_limit, t25.charity_income_tax) == (0, D("-35968.00"))


def test_charity_is_valued_after_the_gains_it_is_stacked_with():
    # household (MFJ 2026, 430,000): a 280,000 LT gain and a 50,000 deduction. The deduction
    # lowers ordinary income 430,000 -> 380,000 (26,450 at 32 % + 23,550 at 24 % = 14,116)
    # and pulls 50,000 of the gain from the 20 % band into the 15 % band (2,500 more):
    # federal saving 16,616; state 5.75 % x 50,000 = 2,875
    prof = _household_tax()
    t = year_tax(net_capital_gains([], [D(280_000)]), prof, D(50_000))
    assert t.gains_tax == D("73555.00")
    assert (t.charity_income_tax, t.charity_state) == (D("-16616.00"), D("-2875.00"))


# ------------------------------------------------------------------ carryforward value (9.4)
def test_carryforward_used_only_against_ordinary_income():
    # MFJ 2026, taxable income 405,000 (MAGI the same), no state. A 10,000 ST carryforward
    # with no future gains: 3,000 a year against ordinary income. Each 3,000 saves 836
    # (1,450 at 32 % + 1,550 at 24 %) + 114 NIIT = 950; the last 1,000 saves 320 + 38 = 358.
    # PV at 4 %: 950/1.04 = 913.46, 950/1.04^2 = 878.33, 950/1.04^3 = 844.55,
    # 358/1.04^4 = 306.02: 2,942.36
    prof = TaxProfile.from_income(FilingStatus.MFJ, 2026, 405_000)
    v = carryforward_value(10_000, 0, prof, discount_rate=0.04)
    assert list(v.schedule.year) == [2027, 2028, 2029, 2030]
    assert list(v.schedule.saving) == [D("950.00")] * 3 + [D("358.00")]
    assert list(v.schedule.pv) == [D("913.46"), D("878.33"), D("844.55"), D("306.02")]
    assert v.value == D("2942.36") and v.unused == 0
    assert "ordinary income only" in v.assumption and "4.00%" in v.assumption


def test_carryforward_value_has_no_rate_of_its_own():
    """The discount rate comes from one place, the cash rate, passed in: the old fixed 4 %
    default is gone. The same 10,000 ST carryforward as above at the packaged cash rate of
    4.41 %: 950/1.0441 = 909.87, 950/1.0441^2 = 950/1.090145 = 871.44,
    950/1.0441^3 = 950/1.138220 = 834.64, 358/1.0441^4 = 358/1.188416 = 301.24: 2,917.19."""
    prof = TaxProfile.from_income(FilingStatus.MFJ, 2026, 405_000)
    with pytest.raises(TypeError, match="discount_rate"):
        carryforward_value(10_000, 0, prof)
    v = carryforward_value(10_000, 0, prof, discount_rate=0.0441)
    assert list(v.schedule.pv) == [D("909.87"), D("871.44"), D("834.64"), D("301.24")]
    assert v.value == D("2917.19") and "4.41%" in v.assumption


def test_carryforward_offset_is_valued_on_top_of_the_years_interest():
    """The carryforward's offset against ordinary income is worth the tax of the income it
    comes off, interest included (tax-and-optimization.md §5.8: T(income) - T(income -
    3,000), income with the year's interest, as every year of a plan stacks it). MFJ 2026,
    taxable income 400,000 (24 % up to 403,550), no state, a 5,000 ST carryforward, 4.41 %:

    * no interest: 3,000 off 400,000 all at 24 % = 720 + NIIT 114 = 834 -> 834/1.0441 =
      798.77; then 2,000: 480 + 76 = 556 -> 556/1.090145 = 510.02: 1,308.79.
    * $10,000 of taxable interest a year: income 410,000, the 3,000 comes off at 32 %:
      960 + 114 = 1,074 -> 1,028.64; then 640 + 76 = 716 -> 656.79: 1,685.43."""
    prof = TaxProfile.from_income(FilingStatus.MFJ, 2026, 400_000)
    bare = carryforward_value(5_000, 0, prof, discount_rate=0.0441)
    assert list(bare.schedule.saving) == [D("834.00"), D("556.00")]
    assert bare.value == D("1308.79")
    v = carryforward_value(5_000, 0, prof, discount_rate=0.0441,
                           interest=InterestIncome(taxable=D(10_000)))
    assert list(v.schedule.saving) == [D("1074.00"), D("716.00")]
    assert list(v.schedule.pv) == [D("1028.64"), D("656.79")] and v.value == D("1685.43")
    assert "on top of $10,000 of interest income a year" in v.assumption


def test_carryforward_used_against_future_gains_keeps_its_character():
    # the same client, a 10,000 LT carryforward and 6,000 of LT gain realised every year.
    # Year 1: LT net 6,000 - 10,000 = -4,000: deduct 3,000, carry 1,000. Without the
    # carryforward the 6,000 gain costs 15 % (900) + 3.8 % (228) = 1,128; with it the year
    # saves 950: 2,078 / 1.04 = 1,998.08. Year 2: 5,000 of gain left taxed (750 + 190 = 940):
    # saving 188 / 1.04^2 = 173.82. Total 2,171.90.
    prof = TaxProfile.from_income(FilingStatus.MFJ, 2026, 405_000)
    v = carryforward_value(0, 10_000, prof, discount_rate=0.04, future_lt_gains=6_000)
    assert list(v.schedule.used_lt) == [D(9000), D(1000)]
    assert list(v.schedule.saving) == [D("2078.00"), D("188.00")]
    assert v.value == D("2171.90")
    # a large carryforward with no gains is mostly unused after the horizon
    big = carryforward_value(310_000, 0, prof, discount_rate=0.04, horizon_years=30)
    assert big.unused == D(220_000) and big.value < D(20_000)


def test_yearly_netting_values_the_charitable_deduction_on_top_of_the_gains():
    # the household example above through the yearly table: a 280,000 LT gain in 2026 and
    # a 50,000 deduction: tax 73,555 and charity saving 16,616 + 2,875 = 19,491
    led = Ledger([Account("T")])
    led.buy(dt.date(2020, 1, 6), "T", "X", D(1000), D(100))
    led.sell(dt.date(2026, 3, 2), "T", "X", D(1000), D(380))
    disp = led.dispositions(as_decimal=True)
    prof = _household_tax()
    y = yearly_netting(disp, prof, charitable={2026: D(50_000)}).set_index("year")
    assert y.at[2026, "tax"] == D("73555.00") and y.at[2026, "charity_saving"] == D("-19491.00")
    assert "charity_saving" not in yearly_netting(disp, prof).columns


def test_netting_columns_are_the_yearly_tables_columns():
    """netting_columns gives yearly_netting's figures as lists, without the DataFrame
    (issue 16: a plan's tax context and yearly table read a figure or two of ~10 tables
    a plan): the same columns, the same Decimals, for a year range, carry-ins, a gift's
    deduction, interest and dividends, and no year at all."""
    from pma_lab.tax.liability import DividendIncome, netting_columns

    led = Ledger([Account("T")])
    led.buy(dt.date(2020, 1, 6), "T", "X", D(1000), D(100))
    led.buy(dt.date(2025, 6, 2), "T", "Y", D(500), D(90))
    led.sell(dt.date(2025, 9, 2), "T", "Y", D(500), D(60))
    led.sell(dt.date(2027, 3, 2), "T", "X", D(400), D(380))
    disp = led.dispositions(as_decimal=True)
    prof = _household_tax()
    kw = {"years": [2025, 2026, 2027, 2028], "charitable": {2027: D(50_000)},
          "interest": {2026: InterestIncome(taxable=D("1234.56"))},
          "dividends": {2027: DividendIncome(D("800.00"), D("120.00"))}}
    for args, kwargs in (((disp, prof), {}), ((disp, prof, D(1000), D(4000)), kw),
                         ((disp.iloc[:0], prof), {})):
        want = yearly_netting(*args, **kwargs)
        got = netting_columns(*args, **kwargs)
        assert list(got) == list(want.columns)
        assert {c: list(v) for c, v in got.items()} == {c: list(want[c]) for c in want}
    assert list(netting_columns(disp, prof, **kw)["tax_dividends"])[2] > 0

def test_is_long_term_takes_midnight_timestamps_and_refuses_a_time_of_day():
    """Review 23 #7: a Timestamp beside a date raised pandas' raw TypeError, and a time of
    day moved the long-term date (bought 2020-01-01 10:00, a sale on 2021-01-02 read as
    short-term). Days at the boundary: midnight Timestamps are their day; a time refused."""
    import pandas as pd

    from pma_lab.errors import DataError
    from pma_lab.tax.rules import as_day, days_held, is_long_term

    day, ts = dt.date(2020, 1, 1), pd.Timestamp("2020-01-01")
    for start in (day, ts, dt.datetime(2020, 1, 1)):
        for sale in (dt.date(2021, 1, 2), pd.Timestamp("2021-01-02")):
            assert is_long_term(start, sale)
        assert not is_long_term(start, pd.Timestamp("2021-01-01"))
        assert days_held(start, pd.Timestamp("2021-01-01")) == 366
    assert as_day(ts) == day and type(as_day(ts)) is dt.date
    with pytest.raises(DataError, match="holding_start 2020-01-01 10:00:00 has a time of day"):
        is_long_term(pd.Timestamp("2020-01-01 10:00"), pd.Timestamp("2021-01-02"))
    with pytest.raises(DataError, match="sale_date is missing"):
        is_long_term(day, pd.NaT)
    with pytest.raises(DataError, match="is not a date"):
        is_long_term("2020-01-01", day)


def test_long_term_date_is_kept_per_day_and_still_checks_the_day():
    """Session 24: a transition asked for every open lot's long-term date at every step
    (~16,000 times in the household sample's proposal); it is kept per day. A midnight
    Timestamp reads its day's date, a time of day is still refused after its day was
    kept, and the month-end rule holds."""
    import pandas as pd

    from pma_lab.errors import DataError
    from pma_lab.tax.rules import long_term_date

    long_term_date.cache_clear()
    day = dt.date(2023, 2, 28)
    assert long_term_date(day) == dt.date(2024, 3, 1)
    assert long_term_date(pd.Timestamp(day)) == dt.date(2024, 3, 1)
    assert long_term_date(dt.date(2008, 2, 5)) == dt.date(2009, 2, 6)
    assert long_term_date(day) == dt.date(2024, 3, 1)  # kept
    assert long_term_date.cache_info().hits == 1 and long_term_date.cache_info().misses == 3
    with pytest.raises(DataError, match="has a time of day"):
        long_term_date(pd.Timestamp("2023-02-28 10:00"))
