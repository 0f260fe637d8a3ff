"""Dividends through the brackets: DividendIncome and year_tax(..., dividends=...), and the
same figures over arrays of paths (pma_lab.tax.vectorized) to the cent.

Hand-checked from the 2026 married-filing-jointly brackets (24 % to 403,550, 32 % to
512,450, 35 % to 768,700), the 2026 MFJ long-term bands (0 % to 98,900, 15 % to 613,700,
then 20 %) and the $250,000 MFJ NIIT threshold.
"""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest

from pma_lab.errors import SettingsError
from pma_lab.tax.liability import (
    DividendIncome,
    InterestIncome,
    TaxProfile,
    carryforward_value,
    net_capital_gains,
    year_tax,
    yearly_netting,
)
from pma_lab.tax.rules import FilingStatus
from pma_lab.tax.vectorized import (
    DividendPaths,
    InterestPaths,
    carryforward_paths,
    dividend_tax_paths,
    interest_tax_paths,
    net_paths,
    year_tax_paths,
)

NO_GAINS = net_capital_gains([], [])


def _mfj(income: float, state: float = 0.05) -> TaxProfile:
    return TaxProfile.from_income(FilingStatus.MFJ, 2026, income, state_rate=state)


def test_a_million_at_1_3_percent_stacks_on_ordinary_income_and_under_the_gains():
    """$1,000,000 of stocks yielding 1.3 %: $13,000 of qualified dividends. MFJ 2026 with
    $605,000 of taxable income (MAGI the same), 5 % state, and a $10,000 LT gain.

    * Dividends, preferential, on top of the 605,000 of ordinary income: 8,700 fill the
      15 % band to 613,700 (1,305.00) and 4,300 are above it at 20 % (860.00): 2,165.00;
      NIIT 3.8 % x 13,000 = 494.00 (MAGI above 250,000); state 5 % x 13,000 = 650.00
      (the state taxes dividends as ordinary income): 3,309.00.
    * The gain on top of the dividends: all above 613,700, 20 %: 2,000.00; NIIT 380.00;
      state 500.00. Without the dividends the gain would fill the 8,700 left in the 15 %
      band (1,305.00) and 1,300 at 20 % (260.00): 1,565.00, so the dividends cost the
      gain 435.00 more.
    """
    prof = _mfj(605_000)
    gain = net_capital_gains([], [D(10_000)])
    div = DividendIncome(qualified=D(1_000_000) * D("0.013"))
    t = year_tax(gain, prof, dividends=div)
    assert (t.dividend_income_tax, t.dividend_niit, t.dividend_state) == \
        (D("2165.00"), D("494.00"), D("650.00"))
    assert t.dividend_tax == D("3309.00")
    assert (t.income_tax, t.niit, t.state) == (D("2000.00"), D("380.00"), D("500.00"))
    assert t.total == D("3309.00") + D("2880.00")
    assert year_tax(gain, prof).income_tax == D("1565.00")
    assert t.interest_tax == 0


def test_reit_dividends_are_ordinary_less_the_199a_deduction_beneath_the_qualified():
    """The same client also holds $100,000 of REITs yielding 4 %: $4,000 of ordinary
    dividends, of which 20 % (800.00) is deducted under section 199A: 3,200 of ordinary
    income at 35 % (605,000 is in the 35 % bracket): 1,120.00. The qualified 13,000 now sit
    on 608,200 of ordinary income: 5,500 at 15 % (825.00), 7,500 at 20 % (1,500.00).
    Federal 3,445.00; NIIT 3.8 % x 17,000 = 646.00 (the deduction is below AGI: MAGI sees
    the whole dividend); state 5 % x 17,000 = 850.00."""
    t = year_tax(NO_GAINS, _mfj(605_000),
                 dividends=DividendIncome(qualified=D(13_000), reit=D(4_000)))
    assert (t.dividend_income_tax, t.dividend_niit, t.dividend_state) == \
        (D("3445.00"), D("646.00"), D("850.00"))
    assert DividendIncome(reit=D(4_000)).section_199a == D("800.00")


def test_dividends_sit_on_top_of_the_interest():
    """$20,000 of taxable interest first (400,000 -> 420,000: 3,550 at 24 % and 16,450 at
    32 %: 852 + 5,264 = 6,116.00), then 13,000 qualified dividends on 420,000 of ordinary
    income: all in the 15 % band, 1,950.00; NIIT 494.00; no state."""
    t = year_tax(NO_GAINS, _mfj(400_000, 0.0), interest=InterestIncome(taxable=D(20_000)),
                 dividends=DividendIncome(qualified=D(13_000)))
    assert t.interest_income_tax == D("6116.00")
    assert (t.dividend_income_tax, t.dividend_niit, t.dividend_state) == \
        (D("1950.00"), D("494.00"), D("0.00"))


def test_dividends_at_given_marginal_rates():
    # all-in 40.8 % / 23.8 %: qualified at the LT rate, REIT's 80 % at the ST rate
    t = year_tax(NO_GAINS, TaxProfile.from_rates(0.408, 0.238),
                 dividends=DividendIncome(qualified=D(10_000), reit=D(1_000)))
    assert t.dividend_tax == D("2380.00") + D("326.40")


def test_dividend_income_is_checked_and_adds_by_kind():
    with pytest.raises(SettingsError, match="0 or more"):
        DividendIncome(qualified=D(-1))
    assert DividendIncome(D(1), D(2)) + DividendIncome(D(3), D(4)) == DividendIncome(D(4),
                                                                                     D(6))


def test_yearly_netting_has_each_years_dividend_tax():
    none = pd.DataFrame({"date_sold": [], "gain_loss": [], "term": []})
    frame = yearly_netting(none, _mfj(605_000), years=[2026, 2027],
                           dividends={2027: DividendIncome(qualified=D(13_000))})
    assert frame.tax_dividends.tolist() == [D("0.00"), D("3309.00")]


PROFILES = {
    "rates": TaxProfile.from_rates(0.37 + 0.038 + 0.133, 0.20 + 0.038 + 0.133),
    "table": TaxProfile.from_income(FilingStatus.SINGLE, 2025, 41_237.0, state_rate=0.0307),
    "middle": TaxProfile.from_income(FilingStatus.MFJ, 2026, 180_000.0, magi=240_000.0,
                                     state_rate=0.05, state_lt_rate=0.04,
                                     preferential_income=6_000.0),
    "top": TaxProfile.from_income(FilingStatus.MFJ, 2026, 1_150_000.0, state_rate=0.093),
    "niit_forced": TaxProfile.from_income(FilingStatus.HOH, 2024, 95_000.0, niit=True,
                                          state_rate=0.0633),
}


def _c(x: D) -> int:
    return int(x * 100)


def _amounts(rng: np.random.Generator, n: int, scale: float, zeros: float = 0.2
             ) -> np.ndarray:
    x = np.abs(np.round(rng.standard_t(2, n) * scale * 100)).astype(np.int64)
    x[rng.random(n) < zeros] = 0
    return x


@pytest.mark.parametrize("name", sorted(PROFILES))
@pytest.mark.parametrize("year", [2026, 2029])
def test_random_dividend_years_are_the_decimal_year_taxes(name, year):
    """Each path its own interest and dividends (qualified and REIT, odd cents so the 199A
    deduction rounds): the gains stacked on them, and each one's own tax, to the cent."""
    prof = PROFILES[name]
    rng = np.random.default_rng(year + 13)
    n = 300
    st = np.round(rng.standard_t(2, n) * 6_000_000).astype(np.int64)
    lt = np.round(rng.standard_t(2, n) * 6_000_000).astype(np.int64)
    gift = np.where(rng.random(n) < 0.3, _amounts(rng, n, 30_000), 0)
    cash, q, r = _amounts(rng, n, 20_000), _amounts(rng, n, 30_000), _amounts(rng, n, 5_000)
    r[:5] = [1, 3, 5, 7, 12_345]  # 199A deductions of 0.2, 0.6, 1.0, 1.4 cents ...
    interest = [InterestIncome(taxable=D(int(c)) / 100) for c in cash]
    divs = [DividendIncome(D(int(a)) / 100, D(int(b)) / 100) for a, b in zip(q, r, strict=True)]
    ip = InterestPaths(cash, cash, cash)
    dp = DividendPaths(q, r)
    v = net_paths(st, lt, 0, 0, prof.loss_limit)
    gains, saving = year_tax_paths(v, prof, gift, year=year, interest=ip, dividends=dp)
    itax = interest_tax_paths(ip, prof, year=year)
    dtax = dividend_tax_paths(dp, prof, interest=ip, year=year)
    for i in range(n):
        d = net_capital_gains([D(int(st[i])) / 100], [D(int(lt[i])) / 100],
                              loss_limit=prof.loss_limit)
        yt = year_tax(d, prof, D(int(gift[i])) / 100, year=year, interest=interest[i],
                      dividends=divs[i])
        assert (gains[i], saving[i], itax[i], dtax[i]) == \
            (_c(yt.gains_tax), _c(yt.charity_saving), _c(yt.interest_tax),
             _c(yt.dividend_tax)), i
    # the same dividends on every path, given once
    one = DividendPaths.of(divs[7])
    assert dividend_tax_paths(one, prof, year=year) == \
        _c(year_tax(NO_GAINS, prof, year=year, dividends=divs[7]).dividend_tax)


@pytest.mark.parametrize("name", ["rates", "table", "top"])
def test_carryforward_values_on_each_paths_dividends_are_the_decimal_values(name):
    prof = PROFILES[name]
    rng = np.random.default_rng(21)
    n = 60
    c_st, c_lt = _amounts(rng, n, 8_000, 0.1), _amounts(rng, n, 8_000, 0.1)
    q, r = _amounts(rng, n, 20_000), _amounts(rng, n, 3_000)
    got = carryforward_paths(c_st, c_lt, prof, discount_rate=0.0441, first_year=2031,
                             horizon_years=12, dividends=DividendPaths(q, r))
    for p in range(n):
        want = carryforward_value(D(int(c_st[p])) / 100, D(int(c_lt[p])) / 100, prof,
                                  discount_rate=0.0441, first_year=2031, horizon_years=12,
                                  dividends=DividendIncome(D(int(q[p])) / 100,
                                                           D(int(r[p])) / 100))
        assert got[p] == _c(want.value), p
