"""prepare() with a researcher's own models (issue 15): what is given is used, checked
against the client's date, the risk model's coverage and the client's screens."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pma_lab.errors import DataError
from pma_lab.io.client import load_client
from pma_lab.market.benchmark import Benchmark
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.portfolio.risk import RiskModel

NAMES = ["AAPL", "MSFT", "XOM", "JNJ"]


def small_risk(as_of=None) -> RiskModel:
    cov = np.diag([0.09, 0.06, 0.08, 0.03]) + 0.01
    return RiskModel.from_covariance(NAMES, cov, as_of=as_of)


@pytest.fixture(scope="module")
def retiree():
    return load_client(clients_dir() / "retiree" / "profile.toml")


def test_given_models_are_used_and_an_undated_one_takes_the_client_date(retiree):
    bench = Benchmark.from_weights(pd.Series({"AAPL": 0.5, "MSFT": 0.3, "JNJ": 0.2}))
    s = prepare(retiree, risk=small_risk(), benchmark=bench,
                target=pd.Series({"AAPL": 0.6, "JNJ": 0.4}))
    assert s.risk.as_of == retiree.as_of and s.benchmark.as_of == retiree.as_of
    assert s.benchmark.name == "custom"
    assert s.target.method == "given" and s.target.names == 2
    expected = s.risk.tracking_error(pd.Series({"AAPL": 0.6, "JNJ": 0.4}), bench.weights)
    assert s.target.tracking_error == pytest.approx(expected)


def test_a_benchmark_name_outside_the_risk_model_is_an_error_not_a_rescale(retiree):
    bench = Benchmark.from_weights(pd.Series({"AAPL": 0.5, "NVDA": 0.5}))
    with pytest.raises(DataError, match=r"benchmark 'custom' holds 1 names the risk model "
                       r"does not cover \(NVDA\)"):
        prepare(retiree, risk=small_risk(), benchmark=bench)


def test_a_target_the_screens_exclude_is_refused(retiree):
    bench = Benchmark.from_weights(pd.Series({"AAPL": 0.5, "MSFT": 0.5}))
    with pytest.raises(DataError, match=r"screens exclude \(XOM\)"):
        prepare(retiree, risk=small_risk(), benchmark=bench,
                target=pd.Series({"AAPL": 0.5, "XOM": 0.5}))


def test_a_risk_model_at_another_date_is_refused(retiree):
    with pytest.raises(DataError, match="the risk model is as of 2025-01-02"):
        prepare(retiree, risk=small_risk("2025-01-02"))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"benchmark": pd.Series({"AAPL": 0.5, "MSFT": 0.5})},
     r"prepare\(benchmark=<Series>\): benchmark must be a Benchmark; wrap weights by ticker "
     r"with pma_lab.Benchmark.from_weights\(weights\)"),
    ({"risk": np.diag([0.09, 0.06, 0.08, 0.03])},
     r"prepare\(risk=<ndarray>\): risk must be a RiskModel; wrap a covariance with "
     r"pma_lab.RiskModel.from_covariance"),
    ({"market": "data/samples/market"},
     r"prepare\(market=<str>\): market must be a MarketData; pass pma_lab.load_market\(\)"),
    ({"target": ["AAPL", "MSFT"]},
     r"prepare\(target=<list>\): target must be a Target or Series or dict; pass a Target, "
     r"or weights by ticker"),
    ({"names": 0}, r"prepare\(names=0\): names must be a whole number >= 1"),
])
def test_a_model_of_the_wrong_type_is_a_settings_error_saying_how(retiree, kwargs, message):
    """These used to end in AttributeError or numpy's 'truth value ... is ambiguous'."""
    from pma_lab.errors import SettingsError

    with pytest.raises(SettingsError, match=message):
        prepare(retiree, **kwargs)


def test_prepare_needs_a_loaded_client():
    from pma_lab.errors import SettingsError

    with pytest.raises(SettingsError, match=r"prepare\(client=<PosixPath>\): client must be a "
                       r"Client; load it with pma_lab.load_client"):
        prepare(clients_dir() / "retiree" / "profile.toml")


def test_a_rebalance_lists_every_held_stock_the_risk_model_does_not_cover(retiree):
    """It used to stop at the first one, with no fix ("ABT is held but is neither a stock of
    the risk model nor a packaged fund; it cannot be managed here")."""
    from pma_lab.optimize.engine import problem_for_client

    setup = prepare(retiree, risk=small_risk())  # a target alone needs no held name
    held = {lt.ticker for lt in setup.ledger.lots()} - set(NAMES)
    funds = set(setup.market.etf_info().ticker)
    missing = sorted(held - funds)
    assert len(missing) > 10
    with pytest.raises(DataError, match=rf"the risk model does not cover {len(missing)} "
                       rf"stock\(s\) held in account \S+ \({', '.join(missing[:10])} \.\.\.\); "
                       r"a rebalance must model what it may sell: add them to your risk model"):
        problem_for_client(setup)


def test_an_accounts_own_no_buy_list_holds_in_its_rebalance(tmp_path):
    """roth-household's taxable account with its own [[accounts]] no_buy = ["AAPL"]: the
    rebalance (and so every plan's step) buys no AAPL. Before, only the household optimiser
    read an account's list: the taxable rebalance bought 48 AAPL ($14,828)."""
    import shutil

    from pma_lab.optimize.engine import account_state_for, default_settings, problem_for_client

    src = clients_dir() / "roth-household"
    shutil.copy(src / "lots.csv", tmp_path / "lots.csv")
    text = (src / "profile.toml").read_text(encoding="utf-8")
    text = text.replace('relief = "min_tax"\ncash = 10000.0\n',
                        'relief = "min_tax"\ncash = 10000.0\nno_buy = ["AAPL"]\n')
    assert 'no_buy = ["AAPL"]' in text
    (tmp_path / "profile.toml").write_text(text, encoding="utf-8")
    setup = prepare(load_client(tmp_path / "profile.toml"))
    assert "AAPL" in account_state_for(setup, "taxable").no_buy
    assert "AAPL" not in account_state_for(setup, "roth").no_buy  # only its own account
    r = problem_for_client(setup, "taxable", default_settings(setup)).solve()
    assert "AAPL" not in set(r.trades.ticker[r.trades.side == "buy"])
    assert len(r.trades[r.trades.side == "buy"]) > 5  # it still buys toward the target


def test_a_household_target_is_sized_on_every_account():
    """roth-household: the target's name count was sized on the taxable account alone
    ($900,162.37 of lots + $10,000 cash = $910,162.37: 30 + 10 x log2(1.8203) = 38.6 -> 39
    names), though one target is held across the household's three accounts. It is now
    sized on the household's total: + IRA $399,592.91 + $4,000 + Roth $249,624.64 + $2,500
    = $1,565,879.92, 40 + 40 x log2(1.5659) = 65.9 -> 66 names; the setup says which
    accounts it summed and the front ends say it in words."""
    from pma_lab.portfolio.target import names_for_account
    from pma_lab.report import labels

    s = prepare(load_client(clients_dir() / "roth-household" / "profile.toml"))
    parts = dict(s.size_accounts)
    assert list(parts) == ["taxable", "ira", "roth"]
    assert parts["taxable"] == pytest.approx(900_162.37 + 10_000, abs=0.005)
    assert parts["ira"] == pytest.approx(399_592.91 + 4_000, abs=0.005)
    assert parts["roth"] == pytest.approx(249_624.64 + 2_500, abs=0.005)
    assert s.account_size == pytest.approx(1_565_879.92, abs=0.01)
    assert names_for_account(parts["taxable"]) == 39  # what it was
    assert s.target.max_names == s.target.names == 66
    assert s.sizing.household and s.sizing.names == 66
    assert labels.target_sizing(s.sizing) == (
        "$1,565,880, the household's total across its 3 accounts (taxable account $910,162, "
        "Traditional IRA $403,593 and Roth IRA $252,125: lots at the as-of prices plus "
        "cash)")


def test_one_account_is_sized_on_its_own_value_and_a_profile_size_on_the_profile(retiree):
    """A one-account client is sized as before (its value, no household words); a profile's
    [target] account_size overrides both and is said to be the profile's."""
    from dataclasses import replace as dc_replace

    from pma_lab.report import labels

    s = prepare(retiree, risk=small_risk(), benchmark=Benchmark.from_weights(
        pd.Series({"AAPL": 0.5, "MSFT": 0.5})), target=pd.Series({"AAPL": 1.0}))
    (acc, value), = s.size_accounts
    assert acc == retiree.profile.accounts[0].account_id and value == s.account_size
    assert not s.sizing.household
    assert labels.target_sizing(s.sizing) == f"${s.account_size:,.0f}"
    prof = retiree.profile
    sized = dc_replace(retiree, profile=dc_replace(
        prof, target=dc_replace(prof.target, account_size=2_000_000.0)))
    s2 = prepare(sized, risk=small_risk(), benchmark=Benchmark.from_weights(
        pd.Series({"AAPL": 0.5, "MSFT": 0.5})), target=pd.Series({"AAPL": 1.0}))
    assert s2.account_size == 2_000_000.0 and s2.size_accounts == ()
    assert labels.target_sizing(s2.sizing) == "$2,000,000 (set in your profile)"


def _young_pro_with_min_cash(min_cash: float):
    from dataclasses import replace as dc_replace

    c = load_client(clients_dir() / "young-pro" / "profile.toml")
    acc = dc_replace(c.profile.accounts[0], min_cash=min_cash)
    return dc_replace(c, profile=dc_replace(c.profile, accounts=(acc,)))


@pytest.fixture(scope="module")
def young_pro_floor():
    """young-pro (one taxable account: $380,000 cash + lots, $515,116.33 in all) with
    [[accounts]] min_cash = 20000: without it the rebalance invests all but $7.60."""
    return prepare(_young_pro_with_min_cash(20_000.0))


def test_an_accounts_min_cash_is_the_single_account_cash_target(young_pro_floor):
    """The profile's USD floor maps to the engine's cash target at the account's value:
    20,000 / 515,116.33 = 3.88 %; the trades leave $20,000 plus what whole shares leave
    (under one share of the priciest name bought), and the check row reads the floor. The
    plan's first step (the proposal's trades today) keeps it too."""
    from pma_lab.optimize.engine import rebalance_client
    from pma_lab.plan.simulation import first_trades

    r = rebalance_client(young_pro_floor)
    assert r.summary.value == pytest.approx(515_116.33, abs=0.01)
    bought = r.trades[r.trades.side == "buy"]
    share = float((bought.value / bought.shares).max())  # the priciest share bought
    assert 20_000.0 <= r.summary.cash_after < 20_000.0 + share
    row = r.checks.set_index("constraint").loc["cash >= target"]
    assert row.limit == pytest.approx(20_000.0) and bool(row.ok)
    today = first_trades(young_pro_floor)
    assert 20_000.0 <= today.summary.cash_after < 20_000.0 + share


def test_a_min_cash_above_the_account_or_beyond_the_budget_names_the_conflict(
        young_pro_floor):
    """$600,000 is more than the account is worth ($515,116.33): the error names the
    account, both amounts and the profile key. $500,000 needs sales of about $120,000 of
    lots with gains, which a $0 gains budget forbids: both are named."""
    from dataclasses import replace as dc_replace

    from pma_lab.errors import InfeasibleError
    from pma_lab.optimize.engine import default_settings, rebalance_client
    from pma_lab.optimize.rebalance import Budgets

    s = young_pro_floor
    over = dc_replace(s, client=_young_pro_with_min_cash(600_000.0))
    with pytest.raises(InfeasibleError, match=r"account taxable: min_cash \$600,000.00, but "
                       r"the account is worth \$515,116.33 .*lower min_cash of \[\[accounts\]\] "
                       r'id = "taxable" in .*young-pro.profile\.toml') as e:
        rebalance_client(over)
    assert e.value.conflicts == ("min_cash", "account value")
    big = dc_replace(s, client=_young_pro_with_min_cash(500_000.0))
    with pytest.raises(InfeasibleError, match=r"the account's \[\[accounts\]\] min_cash") as e:
        rebalance_client(big, settings=default_settings(
            big, budgets=Budgets(0.0, None, None, "gain")))
    assert set(e.value.conflicts) == {"budgets", "cash_target"}


def test_a_retirement_or_unknown_account_is_refused_for_a_rebalance_or_frontier(tmp_path):
    """`pma-lab frontier --account ira` reported an economic tax of -$16,539 for an IRA,
    whose sales are not taxed (review 13b H1): the account must be a taxable one."""
    import pytest

    from pma_lab.errors import SettingsError
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare, problem_for_client
    from pma_lab.paths import client_profile

    setup = prepare(load_client(client_profile("household")))
    ira = next(a.account_id for a in setup.client.profile.accounts
               if a.account_id not in setup.taxable_accounts())
    with pytest.raises(SettingsError, match="retirement account, whose sales are not taxed"):
        problem_for_client(setup, ira)
    with pytest.raises(SettingsError, match="not an account of the profile.*pass one of"):
        problem_for_client(setup, "no-such-account")


def test_a_partial_risk_model_names_the_proxy_it_leaves(retiree):
    """A researcher's 4-name risk model and no benchmark: the S&P 500 proxy is restricted to
    the 4 names and rescaled to one. It used to keep the name "S&P 500 proxy" (the proposal,
    the dashboard and ``pma-lab target build`` said "S&P 500" of a 4-name remainder); its
    name now gives the names and the index weight left."""
    from pma_lab.market.benchmark import sp500_proxy

    s = prepare(retiree, risk=small_risk())
    proxy = sp500_proxy(s.as_of, s.market)
    share = float(proxy.weights.reindex(NAMES).sum())
    assert sorted(s.benchmark.weights.index) == sorted(NAMES)
    assert s.benchmark.weights.sum() == pytest.approx(1.0)
    assert s.benchmark.name == (f"S&P 500 proxy over the 4 of {len(proxy.weights)} names "
                                f"your risk model covers ({share:.1%} of its weight)")
    assert s.benchmark.label == s.benchmark.name  # not "S&P 500"
    # the packaged model covers the whole proxy: its name is unchanged
    assert prepare(retiree).benchmark.name == "S&P 500 proxy"


def test_account_state_for_reads_the_fund_table_once_per_setup(monkeypatch):
    """Session 21: each transition step's state read (copied) the packaged fund table
    again; it is read once per setup and market."""
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import account_state_for, prepare
    from pma_lab.paths import clients_dir

    setup = prepare(load_client(clients_dir() / "young-pro" / "profile.toml"))
    calls = []
    real = type(setup.market).etf_info

    def counted(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(type(setup.market), "etf_info", counted)
    acc = setup.taxable_accounts()[0]
    a = account_state_for(setup, acc)
    b = account_state_for(setup, acc, cash=1_000.0)
    assert len(calls) == 1
    assert a.lookthrough.tobytes() == b.lookthrough.tobytes()


@pytest.fixture(scope="module")
def household():
    return prepare(load_client(clients_dir() / "household" / "profile.toml"))


def test_a_given_target_is_scaled_around_the_keep_list(household):
    """Session 24, item 1: a target given by the user (a target weights file) left the keep
    list (the household's AAPL, never sold) out of its weights, so the trades chased a
    target the client can never hold. Now the kept name is held at today's weight and the
    given target's other names are scaled to the rest, each in its own proportion; a Target
    object is treated the same, and the words say so."""
    from pma_lab.portfolio.target import Target
    from pma_lab.report.labels import keep_list_words

    s = household
    kept = s.target.diagnostics["fixed"]["AAPL"]  # today's weight (the built target's)
    buyable = set(s.eligibility.buyable())
    names = [t for t in s.benchmark.weights.index if t in buyable][:20]
    given = pd.Series(1 / 20, index=names)
    g = prepare(s.client, target=given)
    assert g.target.method == "given"
    assert g.target.diagnostics["fixed"] == {"AAPL": pytest.approx(kept, rel=1e-12)}
    assert g.target.weights["AAPL"] == pytest.approx(kept, rel=1e-12)
    assert g.target.weights.drop("AAPL").to_numpy() == pytest.approx((1 - kept) / 20)
    assert g.target.names == 21
    assert g.target.tracking_error == pytest.approx(
        g.risk.tracking_error(g.target.weights, g.benchmark.weights))
    assert keep_list_words(g) == (
        f"AAPL {kept:.2%} of your accounts together, today's weight: never sold or added "
        "to, so the given target's other names are scaled to the remaining "
        f"{1 - kept:.2%}, each in its own proportion")
    # a kept name the target holds at more than today's weight: held at today's, never
    # added to; a Target object the same
    more = pd.Series({"AAPL": 0.5, **{t: 0.5 / 20 for t in names}})
    obj = Target(s.as_of, more, 0.0, 21, None, "mine", "researcher's", {"note": 1})
    for t in (more, obj):
        h = prepare(s.client, target=t).target
        assert h.weights["AAPL"] == pytest.approx(kept, rel=1e-12)
        assert h.weights.drop("AAPL").to_numpy() == pytest.approx((1 - kept) / 20)
    assert h.method == "researcher's" and h.diagnostics["note"] == 1
    # a kept name the target holds at less than today's weight: it would have to be sold
    less = pd.Series({"AAPL": 0.01, **{t: 0.99 / 20 for t in names}})
    with pytest.raises(DataError, match=r"AAPL is .* of what is managed today, the target "
                                        r"gives it 1\.00%.*raise its weight in the target "
                                        "weights file"):
        prepare(s.client, target=less)

def test_the_keep_list_is_read_once_per_eligibility_and_keep_list(monkeypatch):
    """Session 24: a transition read the keep list (engine.keep_names) at every step of
    every plan, each read walking the universe's ~600 tickers (~0.1 CPU-s of the household
    sample's proposal); it is kept with the eligibility and the keep list it was read
    from. Another keep list, or the rule turned off, reads its own."""
    import dataclasses

    from pma_lab.optimize import engine

    setup = prepare(load_client(clients_dir() / "household" / "profile.toml"))
    r = setup.client.profile.restrictions
    first = engine.keep_names(setup)
    assert first == {"AAPL"}
    assert engine.keep_names(setup) is first  # kept, not read again
    # another keep list on the same eligibility: its own names (one outside the universe)
    other = dataclasses.replace(r, hold_no_add=("AAPL", "NOT-A-TICKER"))
    assert engine._kept(other, setup.eligibility) == {"AAPL", "NOT-A-TICKER"}
    assert engine._kept(r, setup.eligibility) == {"AAPL"}
    monkeypatch.setattr(engine, "KEEP_LIST_NEVER_SOLD", False)
    assert engine.keep_names(setup) == frozenset()


def test_an_accounts_held_rules_are_kept_while_the_ledger_is_unchanged(monkeypatch):
    """Session 24: each plan of a transition derived the account's restriction rules
    again (the eligibility table indexed, the ledger's lots read); they are kept with the
    setup until its ledger changes or the keep-list rule is switched."""
    import datetime as dt
    from decimal import Decimal

    from pma_lab.optimize import engine

    setup = prepare(load_client(clients_dir() / "household" / "profile.toml"))
    acc = setup.taxable_accounts()[0]
    rules = engine._HeldRules.of(setup, acc)
    assert engine._HeldRules.of(setup, acc) is rules
    assert rules == engine._HeldRules._read(setup, acc)
    assert "AAPL" in rules.keep
    monkeypatch.setattr(engine, "KEEP_LIST_NEVER_SOLD", False)
    off = engine._HeldRules.of(setup, acc)
    assert off is not rules and "AAPL" not in off.keep
    monkeypatch.setattr(engine, "KEEP_LIST_NEVER_SOLD", True)
    # a purchase changes the ledger's state: the rules are read again from it
    setup.ledger.buy(setup.as_of + dt.timedelta(days=1), acc, "MSFT", Decimal(1),
                     Decimal(100))
    again = engine._HeldRules.of(setup, acc)
    assert again is not rules and again == engine._HeldRules._read(setup, acc)
