"""Treasury and muni ladders: hand-checked cash flows, yields, durations and the CLI."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pandas as pd
import pytest

from pma_lab.app.cli import main
from pma_lab.errors import DataError, PriceDataError
from pma_lab.market.data import load_market
from pma_lab.portfolio.ladder import (
    DEFAULT_MUNI_RATIO,
    LadderSettings,
    build_ladder,
    discount_factors,
    forward_par_yield,
    interest_rates,
    par_yields,
    parse_years,
    reinvestment_plan,
    tax_equivalent_yield,
    zero_rates,
)
from pma_lab.tax.liability import InterestIncome, TaxProfile, net_capital_gains, year_tax
from pma_lab.tax.rules import BondIssuer, FilingStatus

# 37 % federal ordinary, 3.8 % NIIT, 9.3 % state (California's 9.3 % bracket): 50.1 % in all
HIGH = TaxProfile(FilingStatus.MFJ, 2026, 0.37, 0.20, niit_rate=0.038, state_rate=0.093,
                  source="brackets")
DAY = dt.date(2024, 1, 2)  # published curve: 1Y 4.80, 2Y 4.33, 3Y 4.09, 5Y 3.93, 7Y 3.92 ...


@pytest.fixture(scope="module")
def market():
    return load_market()


def test_par_yields_are_the_published_curve_and_interpolated(market):
    y, day = par_yields(market, DAY, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert day == DAY
    assert list(y.round(6)) == [0.048, 0.0433, 0.0409, 0.0401, 0.0393]  # 4y = (4.09+3.93)/2


def test_treasury_ladder_cash_flows_by_hand(market):
    lad = build_ladder("treasury", "1-5", 100_000, DAY, HIGH, market=market)
    assert list(lad.rungs.amount) == [20_000.0] * 5
    assert [d.isoformat() for d in lad.rungs.maturity] == [
        "2025-01-02", "2026-01-02", "2027-01-02", "2028-01-02", "2029-01-02"]
    assert list(lad.rungs.coupon.round(6)) == [0.048, 0.0433, 0.0409, 0.0401, 0.0393]
    cf = lad.cash_flows.set_index("year")
    # year 1: every rung pays its coupon: 20,000 x (4.80 + 4.33 + 4.09 + 4.01 + 3.93) % = 4,232
    assert cf.coupons[1] == pytest.approx(4232.0)
    assert cf.total[1] == pytest.approx(24232.0)
    # year 3: rungs 3, 4, 5 pay coupons: 20,000 x (4.09 + 4.01 + 3.93) % = 2,406
    assert cf.coupons[3] == pytest.approx(2406.0)
    # year 5: the last rung: 20,000 x 3.93 % + 20,000
    assert cf.total[5] == pytest.approx(20786.0)
    assert cf.principal.sum() == pytest.approx(100_000.0)
    # Treasury interest: federal 37 % + NIIT 3.8 %, no state tax, each to the cent:
    # 1,565.84 + 160.82 = 1,726.66, so 2,505.34 is kept (4,232 x 0.592 = 2,505.344)
    assert cf.interest_tax[1] == 1726.66
    assert cf.after_tax_coupons[1] == pytest.approx(2505.34, abs=1e-9)
    assert lad.cash_left == 0.0
    assert lad.curve_date == DAY


def test_durations_match_the_par_bond_formula(market):
    lad = build_ladder("treasury", "1-5", 100_000, DAY, HIGH, market=market)
    for _, r in lad.rungs.iterrows():
        y, n = r["yield"], r.rung
        # modified duration of a par bond, semiannual coupons: (1 - (1 + y/2)^-2n) / y
        assert r.modified_duration == pytest.approx((1 - (1 + y / 2) ** (-2 * n)) / y)
        assert r.duration == pytest.approx(r.modified_duration * (1 + y / 2))
    assert lad.rungs.duration.iloc[0] == pytest.approx(0.9882, abs=1e-4)  # 1-year 4.80 %
    assert lad.duration == pytest.approx(lad.rungs.duration.mean())  # equal rungs


def test_tax_equivalent_yields_by_hand():
    assert tax_equivalent_yield(0.032, BondIssuer.MUNI_IN_STATE, HIGH) == pytest.approx(
        0.032 / 0.499)  # 6.41 %
    assert tax_equivalent_yield(0.032, BondIssuer.MUNI_OUT_OF_STATE, HIGH) == pytest.approx(
        0.032 * 0.907 / 0.499)
    assert tax_equivalent_yield(0.04, BondIssuer.TREASURY, HIGH) == pytest.approx(
        0.04 * 0.592 / 0.499)  # state-exempt: 4.75 %
    assert tax_equivalent_yield(0.04, BondIssuer.TAXABLE, HIGH) == pytest.approx(0.04)
    # rates adding up to 100 % or more are refused where they are built (issue 15)
    with pytest.raises(DataError, match="100 % or more"):
        tax_equivalent_yield(0.04, BondIssuer.TREASURY,
                             TaxProfile(FilingStatus.MFJ, 2026, 0.9, 0.2, state_rate=0.2))


def test_tax_equivalent_yield_at_the_rates_the_ladders_interest_pays(market):
    # single 2026, taxable income $180,000 (balanced-6040), state 5 %: $35,000 of interest
    # on top costs 9,458 federal (21,775 x 24 % + 13,225 x 32 %) and 570 NIIT (15,000 over
    # the $200,000 threshold x 3.8 %), so the rates are 27.02 % and 1.63 %, not the 24 %
    # and 0 % of the margin at $180,000
    tax = TaxProfile.from_income(FilingStatus.SINGLE, 2026, 180_000, state_rate=0.05)
    fed, niit, state = interest_rates(tax, 35_000)
    assert (fed, niit, state) == pytest.approx((9_458 / 35_000, 570 / 35_000, 0.05))
    assert interest_rates(tax) == (0.24, 0.0, 0.05)  # no income given: the margin
    # a 4 % Treasury: after tax 4 % x (1 - 27.02 % - 1.63 %) = 2.854 %; a fully taxable
    # bond keeps 1 - 33.65 %: 4.301 % (the margin said 4 % x 0.76 / 0.71 = 4.282 %)
    tey = tax_equivalent_yield(0.04, BondIssuer.TREASURY, tax, 35_000)
    assert tey == pytest.approx(0.04 * (1 - fed - niit) / (1 - fed - niit - 0.05))
    assert tey == pytest.approx(0.043014, abs=1e-6)
    assert tax_equivalent_yield(0.04, BondIssuer.TREASURY, tax) == pytest.approx(
        0.04 * 0.76 / 0.71)
    # a ladder prices every rung at its own first-year interest's rates, and says so
    lad = build_ladder("treasury", 10, 850_000, dt.date(2026, 7, 31), tax, market=market)
    income = float(lad.rungs.annual_income.sum())
    assert income == pytest.approx(34_930.75)
    f2, n2, _ = interest_rates(tax, income)
    assert list(lad.rungs.after_tax_yield) == pytest.approx(
        list(lad.rungs["yield"] * (1 - f2 - n2)))
    assert any("$34,931 of first-year interest" in n and f"federal {f2:.1%}" in n
               for n in lad.notes)
    # its first year's interest after tax is what the plans keep of it: 34,930.75 less
    # its tax stacked on $180,000 (10,003.21: 9,435.84 federal and 567.37 NIIT)
    t = year_tax(net_capital_gains([], []), tax, interest=InterestIncome(
        treasury=D("34930.75")))
    assert t.interest_tax == D("10003.21")
    assert lad.cash_flows.after_tax_coupons[0] == pytest.approx(34_930.75 - 10_003.21,
                                                                abs=0.01)


def test_each_ladder_years_interest_is_taxed_at_that_years_rates(market, capsys):
    """balanced-6040's ladder (1-10 year Treasuries, 10 x $85,000, 2026-07-31; single,
    taxable income $180,000, state 5 %, Treasury interest state-exempt). Each year's
    interest is taxed at the rates it reaches, not at year 1's (28.64 % for every year on
    main, 10,003.21 / 34,930.75):

    * year 1 (to 2027-07-31): 34,930.75 of coupons: 21,775 x 24 % = 5,226.00 + 13,155.75 x
      32 % = 4,209.84, NIIT 3.8 % x 14,930.75 = 567.37: 10,003.21 (28.64 %), after tax
      24,927.54.
    * year 2: the 1-year rung (4.09 %, 3,476.50) has matured: 31,454.25; 5,226.00 +
      9,679.25 x 32 % = 3,097.36, NIIT 3.8 % x 11,454.25 = 435.26: 8,758.62 (27.85 %),
      after tax 22,695.63 (main: 22,446.61).
    * year 10: the 10-year rung alone, 85,000 x 4.43 % = 3,765.50: 183,765.50 is all in
      the 24 % bracket and below the $200,000 NIIT threshold: 903.72 (24.00 %), after tax
      2,861.78 (main: 2,687.16)."""
    from pma_lab.report import shelf

    tax = TaxProfile.from_income(FilingStatus.SINGLE, 2026, 180_000, state_rate=0.05)
    lad = build_ladder("treasury", 10, 850_000, dt.date(2026, 7, 31), tax, market=market)
    cf = lad.cash_flows.set_index("year")
    assert cf.coupons[[1, 2, 10]].tolist() == pytest.approx([34_930.75, 31_454.25, 3_765.50])
    assert cf.interest_tax[[1, 2, 10]].tolist() == [10_003.21, 8_758.62, 903.72]
    assert cf.after_tax_coupons[[1, 2, 10]].tolist() == pytest.approx(
        [24_927.54, 22_695.63, 2_861.78], abs=0.005)
    assert cf.interest_tax_rate[10] == pytest.approx(0.24)
    assert (cf.interest_tax_rate.diff().dropna() < 1e-9).all()  # less interest, lower rates
    # the proposal's table and the CLI print the same figures
    shown = shelf.ladder_cash_flows(lad).formatted()
    assert shown["Tax on interest"].tolist()[:2] == ["$10,003", "$8,759"]
    assert shown["Interest after tax"].tolist()[-1] == "$2,862"
    assert any("each ladder year's interest is taxed at the rates that year's own interest"
               in n for n in lad.notes)


def test_muni_ladder_is_modelled_and_says_so(market):
    lad = build_ladder("muni", 10, 1_000_000, dt.date(2026, 7, 31), HIGH, market=market)
    # the packaged curve ends 2025-07-11: that curve is used, and every output says so
    assert lad.curve_date == dt.date(2025, 7, 11)
    assert "2025-07-11" in lad.notes[0] and "ends there" in lad.notes[0]
    assert any("MODELLED" in n and "Goodwin" in n for n in lad.notes)
    assert (lad.rungs["yield"] == DEFAULT_MUNI_RATIO * lad.rungs.treasury_yield).all()
    assert (lad.rungs.after_tax_yield == lad.rungs["yield"]).all()  # in-state: no tax
    csv = lad.to_csv_frame()
    assert list(csv.columns[:5]) == ["maturity", "amount", "coupon", "yield",
                                     "tax_equivalent_yield"]
    assert csv.yield_basis.str.startswith("modelled: 80% of the Treasury par curve of "
                                          "2025-07-11").all()
    # $100,000 a rung is a whole number of $5,000 bonds
    assert (lad.rungs.amount == 100_000.0).all() and lad.cash_left == 0.0


def test_par_increments_leave_cash_that_is_reported(market):
    lad = build_ladder("muni", "1-5", 123_456, DAY, HIGH, market=market)
    assert (lad.rungs.amount == 20_000.0).all()  # 24,691 a rung -> four $5,000 bonds
    assert lad.cash_left == pytest.approx(23_456.0)
    assert "$23,456.00 stays in cash" in lad.notes[-1]


def test_bad_requests_say_how_to_fix(market):
    with pytest.raises(DataError, match="use 1-5 or 1-10"):
        parse_years("1-7")
    with pytest.raises(DataError, match="use treasury or muni"):
        build_ladder("corporate", 5, 1e5, DAY, HIGH, market=market)
    with pytest.raises(DataError, match="invest at least \\$50,000"):
        build_ladder("muni", 10, 40_000, DAY, HIGH, market=market)
    with pytest.raises(DataError, match="muni_ratio"):
        LadderSettings(muni_ratio=8.0)
    with pytest.raises(PriceDataError, match="2025-07-11"):
        build_ladder("treasury", 5, 1e5, dt.date(2028, 1, 3), HIGH, market=market)


def test_reinvestment_rolls_maturing_rungs_to_the_long_end(market):
    # at today's yields (a static curve): the forward default is tested below
    lad = build_ladder("treasury", "1-5", 100_000, DAY, HIGH,
                       LadderSettings(reinvest="today"), market=market)
    assert "at today's 5-year yield" in lad.notes[-2]
    plan = reinvestment_plan(lad, 7)
    assert list(plan.maturing_amount) == [20_000.0] * 7
    assert plan.reinvest_maturity[0] == dt.date(2030, 1, 2)
    assert plan.coupons[0] == pytest.approx(4232.0)
    # year 2: the 4.80 % rung was rolled into a 3.93 % five-year rung
    assert plan.coupons[1] == pytest.approx(20_000 * (0.0433 + 0.0409 + 0.0401 + 0.0393
                                                      + 0.0393))
    assert plan.ladder_yield.iloc[-1] == pytest.approx(0.0393)  # all rolled after 5 years


def test_cli_writes_one_row_per_rung(tmp_path, capsys):
    prof = tmp_path / "profile.toml"
    prof.write_text('schema_version = 1\n[client]\nid = "muni-test"\nname = "Muni test"\n'
                    'as_of = 2026-07-31\n'
                    '[tax]\nfiling_status = "mfj"\ntaxable_income = 900000.0\n'
                    'state_rate = 0.103\nniit = "yes"\n[[accounts]]\nid = "taxable"\n'
                    '[lots]\nfiles = ["lots.csv"]\n[fixed_income]\nkind = "muni"\n'
                    'muni_ratio = 0.7\n', encoding="utf-8")
    (tmp_path / "lots.csv").write_text("ticker,acquired,shares,cost_per_share\n"
                                       "AAPL,2020-01-02,10,70.0\n", encoding="utf-8")
    out = tmp_path / "ladder.csv"
    rc = main(["ladder", "--kind", "muni", "--years", "1-10", "--amount", "500000",
               "--profile", str(prof), "--out", str(out)])
    assert rc == 0
    df = pd.read_csv(out)
    assert len(df) == 10
    assert list(df.columns) == ["maturity", "amount", "coupon", "yield",
                                "tax_equivalent_yield", "yield_basis"]
    assert df.amount.sum() == 500_000.0
    assert df.yield_basis.str.contains("modelled: 70%").all()
    # 37 % + 3.8 % + 10.3 % = 51.1 %: an in-state muni's TEY is its yield / 0.489
    assert (df.tax_equivalent_yield - df["yield"] / 0.489).abs().max() < 1e-3
    printed = capsys.readouterr().out
    assert "MODELLED" in printed and "2025-07-11" in printed
    # the cash flows by year, as the proposal shows them (in-state munis: no tax)
    assert "Cash flows by year" in printed and "interest after tax" in printed
    prof.write_text(prof.read_text().replace("0.7", "7.0"), encoding="utf-8")
    assert main(["ladder", "--kind", "muni", "--years", "1-10", "--amount", "500000",
                 "--profile", str(prof)]) == 2
    assert "muni_ratio" in capsys.readouterr().err


def test_forward_rates_bootstrapped_from_the_par_curve_by_hand(market):
    """The curve of 2025-07-11 (the one the 2026 samples use): 6M 4.31 %, 1Y 4.09 %,
    2Y 3.90 % (1.5 years interpolated: 3.995 %). Bootstrapped by hand, semiannual coupons
    at par: D(0.5) = 1 / 1.02155, D(1) = (1 - 0.02045 D(0.5)) / 1.02045, ...; the one-year
    par yield one year forward is 2 (D(1) - D(2)) / (D(1.5) + D(2)) = 3.7028 %, below both
    today's 1- and 2-year par yields (an inverted front end)."""
    day = dt.date(2026, 7, 31)
    d, curve_day = discount_factors(market, day)
    assert curve_day == dt.date(2025, 7, 11) and d.index[-1] == 30.0 and d[0.0] == 1.0
    d05 = 1 / (1 + 0.0431 / 2)
    d1 = (1 - 0.0409 / 2 * d05) / (1 + 0.0409 / 2)
    d15 = (1 - 0.03995 / 2 * (d05 + d1)) / (1 + 0.03995 / 2)
    d2 = (1 - 0.0390 / 2 * (d05 + d1 + d15)) / (1 + 0.0390 / 2)
    assert list(d[[0.5, 1.0, 1.5, 2.0]]) == pytest.approx([d05, d1, d15, d2], abs=1e-12)
    assert (d05, d1, d15, d2) == pytest.approx((0.978905, 0.960342, 0.942438, 0.925755),
                                               abs=1e-6)
    f = forward_par_yield(d, 1.0, 1)
    assert f == pytest.approx(2 * (d1 - d2) / (d15 + d2), abs=1e-12)
    assert f == pytest.approx(0.037028, abs=1e-6)
    # no arbitrage: the forward bond at that coupon costs today what paying par at 1 does
    assert f / 2 * (d15 + d2) + d2 == pytest.approx(d1, abs=1e-12)
    # at start 0 the forward par yield is the curve's own par yield, at every tenor
    for n, y in ((1, 0.0409), (2, 0.0390), (5, 0.0399), (10, 0.0443)):
        assert forward_par_yield(d, 0.0, n) == pytest.approx(y, abs=1e-12)
    z = zero_rates(d)
    assert z[1.0] == pytest.approx(2 * (d1 ** -0.5 - 1), abs=1e-12)
    with pytest.raises(DataError, match="curve spans 0 to 30"):
        forward_par_yield(d, 25.0, 10)


def test_maturing_rungs_reinvest_at_forward_yields_by_default(market):
    day = dt.date(2026, 7, 31)
    lad = build_ladder("treasury", "1-5", 100_000, day, HIGH, market=market)
    assert lad.settings.reinvest == "forward"
    d, _ = discount_factors(market, day)
    plan = reinvestment_plan(lad, 3)
    want = [forward_par_yield(d, j, 5) for j in (1, 2, 3)]
    assert list(plan.reinvest_yield) == pytest.approx(want, abs=1e-12)
    assert want[0] != pytest.approx(float(lad.rungs["yield"].iloc[-1]), abs=1e-4)
    # year 2's coupons: the four rungs left and the forward rung bought at year 1
    assert plan.coupons[1] == pytest.approx(20_000 * (lad.rungs["yield"].iloc[1:].sum()
                                                      + want[0]))
    # every output says so: the notes the CLI, the proposal and the dashboard print
    note = lad.notes[-2]
    assert note.startswith("Maturing rungs are reinvested in new 5-year rungs at the "
                           "implied forward yields of today's Treasury curve")
    assert f"{want[0]:.2%} for a rung bought in 1 year" in note
    # munis: the modelled ratio of the Treasury forward
    muni = build_ladder("muni", "1-5", 100_000, day, HIGH, market=market)
    assert muni.reinvest_yield(1.0) == pytest.approx(DEFAULT_MUNI_RATIO * want[0])
    with pytest.raises(DataError, match="use 'forward'"):
        LadderSettings(reinvest="tomorrow")
