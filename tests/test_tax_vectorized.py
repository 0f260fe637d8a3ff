"""The netting over arrays of paths is the Decimal netting, to the cent (pma_lab.tax.vectorized)."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pytest

from pma_lab.errors import DataError
from pma_lab.tax.liability import (
    InterestIncome,
    TaxProfile,
    carryforward_value,
    charitable_deductions,
    net_capital_gains,
    year_tax,
)
from pma_lab.tax.rules import FilingStatus, money
from pma_lab.tax.vectorized import (
    InterestPaths,
    carryforward_paths,
    cents,
    cents_of,
    charitable_paths,
    interest_tax_paths,
    net_paths,
    year_tax_paths,
)

PROFILES = {
    "rates": TaxProfile.from_rates(0.37 + 0.038 + 0.133, 0.20 + 0.038 + 0.133, agi=800_000),
    "rates_mfs": TaxProfile.from_rates(0.35, 0.15, FilingStatus.MFS),
    "table": TaxProfile.from_income(FilingStatus.SINGLE, 2025, 41_237.0, state_rate=0.0307),
    "middle": TaxProfile.from_income(FilingStatus.MFJ, 2026, 180_000.0, magi=240_000.0,
                                     state_rate=0.05, state_lt_rate=0.04,
                                     preferential_income=6_000.0),
    "top": TaxProfile.from_income(FilingStatus.MFJ, 2026, 1_150_000.0, state_rate=0.093,
                                  agi=1_200_000.0),
    "niit_forced": TaxProfile.from_income(FilingStatus.HOH, 2024, 95_000.0, niit=True,
                                          state_rate=0.0633,
                                          state_charitable_deduction=False),
    "mfs_zero_income": TaxProfile.from_income(FilingStatus.MFS, 2026, 0.0),
}


def _c(x: D) -> int:
    return int(x * 100)


def _random_cents(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """Amounts in cents of all signs and sizes, with zeros and exact round figures."""
    x = np.round(rng.standard_t(2, n) * scale * 100).astype(np.int64)
    x[rng.random(n) < 0.1] = 0
    x[rng.random(n) < 0.1] = -300_000  # exactly the $3,000 offset
    return x


def test_cents_rounds_half_a_cent_up_as_money_does():
    x = np.array([0.005, 1.015, 2.675, -0.125, -1.005, 1e9 + 0.005, 0.1 + 0.2, -0.0,
                  12345.675, 99.994999, 1234567.125])
    rng = np.random.default_rng(1)
    x = np.concatenate([x, rng.normal(0, 1e5, 5000),
                        np.round(rng.normal(0, 1e4, 5000), 3)])  # many exact half cents
    want = [int(money(D(repr(float(v)))) * 100) for v in x]
    assert cents(x).tolist() == want
    with pytest.raises(DataError, match="NaN"):
        cents(np.array([np.nan]))
    with pytest.raises(DataError, match="whole number of cents"):
        cents_of(D("1.005"))


def test_a_hand_built_year_nets_as_schedule_d():
    # $10,000 ST loss, $4,000 LT gain, $1,500 LT carried in: line 16 -7,500, $3,000
    # deducted, the rest carries as short-term (worksheet line 8)
    n = net_paths(np.array([-1_000_000]), np.array([400_000]), 0, 150_000, D(3000))
    assert (n.combined[0], n.deduction[0], n.carryout_st[0], n.carryout_lt[0]) == \
        (-750_000, 300_000, 450_000, 0)
    g, s = year_tax_paths(n, TaxProfile.from_rates(0.40, 0.20))
    assert (g[0], s[0]) == (-120_000, 0)  # the offset at the ST rate
    # the same by the Decimal function
    d = net_capital_gains([D(-10000)], [D(4000)], D(0), D(1500))
    assert _c(d.carryout_st) == 450_000
    assert _c(year_tax(d, TaxProfile.from_rates(0.40, 0.20)).gains_tax) == -120_000


@pytest.mark.parametrize("ti", [None, D(0), D(1000), D(250_000)])
def test_random_nettings_are_the_decimal_nettings(ti):
    rng = np.random.default_rng(7)
    n = 3000
    st, lt = _random_cents(rng, n, 20_000), _random_cents(rng, n, 20_000)
    c_st = np.abs(_random_cents(rng, n, 5_000))
    c_lt = np.abs(_random_cents(rng, n, 5_000))
    for limit in (D(3000), D(1500)):
        v = net_paths(st, lt, c_st, c_lt, limit, ti)
        for i in range(0, n, 7):
            d = net_capital_gains([D(int(st[i])) / 100], [D(int(lt[i])) / 100],
                                  D(int(c_st[i])) / 100, D(int(c_lt[i])) / 100, limit, ti)
            got = (v.st_net[i], v.lt_net[i], v.combined[i], v.deduction[i],
                   v.carryout_st[i], v.carryout_lt[i], v.taxable_st[i], v.taxable_lt[i],
                   v.agi_change[i])
            assert got == tuple(_c(x) for x in (
                d.st_net, d.lt_net, d.combined, d.deduction, d.carryout_st, d.carryout_lt,
                d.taxable_st, d.taxable_lt, d.agi_change)), i


@pytest.mark.parametrize("name", sorted(PROFILES))
@pytest.mark.parametrize("year", [2025, 2026, 2029])
def test_random_year_taxes_are_the_decimal_year_taxes(name, year):
    prof = PROFILES[name]
    rng = np.random.default_rng(year)
    n = 400
    st, lt = _random_cents(rng, n, 60_000), _random_cents(rng, n, 60_000)
    c_st, c_lt = np.abs(_random_cents(rng, n, 4_000)), np.abs(_random_cents(rng, n, 4_000))
    gift = np.where(rng.random(n) < 0.5, np.abs(_random_cents(rng, n, 30_000)), 0)
    v = net_paths(st, lt, c_st, c_lt, prof.loss_limit)
    gains, saving = year_tax_paths(v, prof, gift, year=year)
    for i in range(n):
        d = net_capital_gains([D(int(st[i])) / 100], [D(int(lt[i])) / 100],
                              D(int(c_st[i])) / 100, D(int(c_lt[i])) / 100, prof.loss_limit)
        yt = year_tax(d, prof, D(int(gift[i])) / 100, year=year)
        assert (gains[i], saving[i]) == (_c(yt.gains_tax), _c(yt.charity_saving)), i


@pytest.mark.parametrize("name", sorted(PROFILES))
@pytest.mark.parametrize("year", [2026, 2029])
def test_random_year_taxes_with_interest_are_the_decimal_year_taxes(name, year):
    # each path its own interest of every kind: the gains stacked on it, and its own tax
    prof = PROFILES[name]
    rng = np.random.default_rng(year + 7)
    n = 300
    st, lt = _random_cents(rng, n, 60_000), _random_cents(rng, n, 60_000)
    gift = np.where(rng.random(n) < 0.3, np.abs(_random_cents(rng, n, 30_000)), 0)
    kinds = [np.where(rng.random(n) < 0.7, np.abs(_random_cents(rng, n, 40_000)), 0)
             for _ in range(4)]  # taxable, treasury, in-state, out-of-state
    incomes = [InterestIncome(*(D(int(k[i])) / 100 for k in kinds)) for i in range(n)]
    ip = InterestPaths(*(np.array([_c(getattr(x, f)) for x in incomes])
                         for f in ("federal", "niit", "state")))
    v = net_paths(st, lt, 0, 0, prof.loss_limit)
    gains, saving = year_tax_paths(v, prof, gift, year=year, interest=ip)
    itax = interest_tax_paths(ip, prof, year=year)
    for i in range(n):
        d = net_capital_gains([D(int(st[i])) / 100], [D(int(lt[i])) / 100],
                              loss_limit=prof.loss_limit)
        yt = year_tax(d, prof, D(int(gift[i])) / 100, year=year, interest=incomes[i])
        assert (gains[i], saving[i], itax[i]) == \
            (_c(yt.gains_tax), _c(yt.charity_saving), _c(yt.interest_tax)), i
    # the same interest on every path, given once
    one = InterestPaths.of(incomes[0])
    assert interest_tax_paths(one, prof, year=year) == itax[0]
    every = InterestPaths(*(np.full(n, x) for x in (one.federal, one.niit, one.state)))
    assert (year_tax_paths(v, prof, gift, year=year, interest=one)[0] ==
            year_tax_paths(v, prof, gift, year=year, interest=every)[0]).all()


def test_charitable_limits_carryovers_and_floor_are_the_decimal_ones():
    rng = np.random.default_rng(3)
    years = list(range(2024, 2032))  # before and after the 2026 floor; carryovers expire
    n = 300
    agi = D("400000")
    big = rng.random((n, len(years))) < 0.3
    cg = np.where(big, rng.integers(0, 30_000_000, (n, len(years))),
                  rng.integers(0, 300_000, (n, len(years))))
    cg[:, 3:] = np.where(rng.random((n, len(years) - 3)) < 0.5, 0, cg[:, 3:])
    od = np.where(rng.random((n, len(years))) < 0.2,
                  rng.integers(0, 25_000_000, (n, len(years))), 0)
    cg[0], od[0] = [20_000_000] + [0] * 7, [0] * 8  # one big gift carried five years
    got = charitable_paths(cg, od, years, agi)
    for p in range(n):
        want = charitable_deductions(
            {y: (D(int(cg[p, i])) / 100, D(int(od[p, i])) / 100)
             for i, y in enumerate(years)}, {y: agi for y in years})
        assert got[p].tolist() == [_c(w.deducted) for w in want], p
    with pytest.raises(DataError, match="AGI"):
        charitable_paths(cg, od, years, D(0))


@pytest.mark.parametrize("name", ["rates", "table", "top", "mfs_zero_income"])
def test_carryforward_values_are_the_decimal_values(name):
    prof = PROFILES[name]
    rng = np.random.default_rng(11)
    n = 60
    c_st = np.abs(_random_cents(rng, n, 8_000))
    c_lt = np.abs(_random_cents(rng, n, 8_000))
    c_st[:3], c_lt[:3] = [0, 0, 5_000_000], [0, 123_456, 0]
    got = carryforward_paths(c_st, c_lt, prof, discount_rate=0.0412, first_year=2031,
                             horizon_years=12)
    for p in range(n):
        want = carryforward_value(D(int(c_st[p])) / 100, D(int(c_lt[p])) / 100, prof,
                                  discount_rate=0.0412, first_year=2031, horizon_years=12)
        assert got[p] == _c(want.value), p


@pytest.mark.parametrize("name", ["rates", "table", "top", "mfs_zero_income"])
def test_carryforward_values_on_each_paths_interest_are_the_decimal_values(name):
    """A plan values the carryforward left at its horizon on top of the last year's
    interest, which differs by path (the cash's): every path's value is the Decimal
    carryforward_value with that path's interest, to the cent."""
    prof = PROFILES[name]
    rng = np.random.default_rng(12)
    n = 60
    c_st = np.abs(_random_cents(rng, n, 8_000))
    c_lt = np.abs(_random_cents(rng, n, 8_000))
    c_st[:3], c_lt[:3] = [0, 0, 5_000_000], [0, 123_456, 0]
    cash = np.abs(_random_cents(rng, n, 20_000))  # taxable interest on cash
    cash[5:15] = 0
    bonds = InterestIncome(treasury=D("30594.00"))
    incomes = [bonds + InterestIncome(taxable=D(int(c)) / 100) for c in cash]
    ip = InterestPaths(*(np.array([_c(getattr(x, f)) for x in incomes])
                         for f in ("federal", "niit", "state")))
    got = carryforward_paths(c_st, c_lt, prof, discount_rate=0.0441, first_year=2031,
                             horizon_years=12, interest=ip)
    for p in range(n):
        want = carryforward_value(D(int(c_st[p])) / 100, D(int(c_lt[p])) / 100, prof,
                                  discount_rate=0.0441, first_year=2031, horizon_years=12,
                                  interest=incomes[p])
        assert got[p] == _c(want.value), p
    if prof.stacked:  # the interest raises what the offset saves (never lowers it by more
        # than a cent of rounding): in higher brackets
        bare = carryforward_paths(c_st, c_lt, prof, discount_rate=0.0441, first_year=2031,
                                  horizon_years=12)
        assert (got >= bare - 1).all()
        if name == "table":
            assert (got > bare + 100).any()


@pytest.mark.parametrize("name", ["table", "middle", "top", "rates"])
def test_carryforward_years_are_taxed_once_per_brackets_year(name, monkeypatch):
    """Every path's value is the Decimal carryforward_value's when the use runs through
    the tabulated years (2024-2026, each its own brackets) and past them (the last one's),
    with each path's interest; the years' savings are taxed in one call per brackets' year
    (issue 16: not one call a year, 30 a replay)."""
    import pma_lab.tax.vectorized as vec

    prof = PROFILES[name]
    rng = np.random.default_rng(13)
    n = 40
    c_st = np.abs(_random_cents(rng, n, 6_000))
    c_lt = np.abs(_random_cents(rng, n, 6_000))
    c_st[:4], c_lt[:4] = [0, 0, 5_000_000, 2_000_000], [0, 123_456, 0, 1_000_001]
    cash = np.abs(_random_cents(rng, n, 20_000))
    incomes = [InterestIncome(taxable=D(int(c)) / 100) for c in cash]
    ip = InterestPaths(*(np.array([_c(getattr(x, f)) for x in incomes])
                         for f in ("federal", "niit", "state")))
    calls = []
    taxed = vec.year_tax_paths
    monkeypatch.setattr(vec, "year_tax_paths",
                        lambda *a, **k: calls.append(k["year"]) or taxed(*a, **k))
    got = carryforward_paths(c_st, c_lt, prof, discount_rate=0.0441, first_year=2024,
                             horizon_years=15, interest=ip)
    assert calls == [2024, 2025, 2026]
    for p in range(n):
        want = carryforward_value(D(int(c_st[p])) / 100, D(int(c_lt[p])) / 100, prof,
                                  discount_rate=0.0441, first_year=2024, horizon_years=15,
                                  interest=incomes[p])
        assert got[p] == _c(want.value), p


@pytest.mark.parametrize("where", ["above the table", "in the table", "none", "mixed"])
def test_ordinary_income_tax_reads_the_table_or_the_schedule_as_each_amount_needs(where):
    """Each method (Tax Table below $100,000, the schedule from it) is computed only when
    some amount needs it: every amount's tax is the Decimal function's, for arrays all on
    one side, all without tax, or mixed."""
    from pma_lab.tax.liability import ordinary_income_tax
    from pma_lab.tax.vectorized import _ordinary_income_tax

    rng = np.random.default_rng(7)
    x = {"above the table": rng.integers(10_000_000, 300_000_000, 200),
         "in the table": rng.integers(500, 10_000_000, 200),
         "none": -rng.integers(0, 1_000_000, 200),
         "mixed": np.concatenate([rng.integers(-100_000, 300_000_000, 200),
                                  [0, 499, 500, 1499, 1500, 2499, 9_999_999, 10_000_000]])
         }[where].astype(np.int64)
    for status in (FilingStatus.SINGLE, FilingStatus.MFJ):
        got = _ordinary_income_tax(x, status, 2026)
        assert got.shape == x.shape and got.dtype == np.int64
        want = [_c(ordinary_income_tax(D(int(v)) / 100, status, 2026)) for v in x]
        assert got.tolist() == want
