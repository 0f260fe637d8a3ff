"""One plan along one path: compiled step problems shared between plans (issue 16).

The plans of a comparison start from the same account, so their step-0 problems differ
only in settings: :class:`pma_lab.plan.simulation.StepProblems` compiles such a problem
once. Every plan's figures must be those of building each step's problem anew.
"""

from __future__ import annotations

import datetime as dt
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sample_copy import copy_sample_client  # tests/ is on sys.path

from pma_lab.errors import SettingsError
from pma_lab.io.client import load_client
from pma_lab.optimize.engine import default_settings, prepare, with_min_cash
from pma_lab.paths import clients_dir
from pma_lab.plan.plans import parse_plan
from pma_lab.plan.simulation import (
    StepProblems,
    TransitionSettings,
    _budget_spent,
    _Managed,
    _same_state,
    _state,
)
from pma_lab.plan.transition import DEFAULT_PLANS, run_transition

# the proposal's comparison (annual steps, plans in one process as in a batch), fewer paths
ANNUAL = TransitionSettings(steps_per_year=1, workers=1, mc_paths=100)
FIXTURES = Path(__file__).parent / "fixtures"
TIMING = ["seconds", "build_seconds", "solver_seconds"]


def setup_of(name: str):
    return prepare(load_client(clients_dir() / name / "profile.toml"))


@pytest.fixture(scope="module")
def young():
    return setup_of("young-pro")


def _assert_same_runs(reused, fresh) -> None:
    """Every plan's years, steps, dispositions, gifts, trades and outcomes identical."""
    assert [r.plan.name for r in reused.runs] == [r.plan.name for r in fresh.runs]
    for a, b in zip(reused.runs, fresh.runs, strict=True):
        name = a.plan.name
        assert a.years.equals(b.years), name  # tax, TE, wealth by year, to the bit
        assert a.steps.drop(columns=TIMING).equals(b.steps.drop(columns=TIMING)), name
        assert a.dispositions.equals(b.dispositions), name  # Decimal: to the cent
        assert a.gifts.equals(b.gifts), name
        assert a.events == b.events, name
        assert (a.after_tax_wealth, a.liquidation_tax, a.failed, a.carryforward_value) == \
            (b.after_tax_wealth, b.liquidation_tax, b.failed, b.carryforward_value), name
        assert np.array_equal(a.mc.wealth, b.mc.wealth), name
        assert np.array_equal(a.mc.tax_by_year, b.mc.tax_by_year), name
    assert reused.comparison.equals(fresh.comparison)


def _reused_steps(analysis) -> int:
    """Solved steps whose problem was compiled for another plan (no build of their own)."""
    solved = [~r.steps.status.isin(["held", "within band", "budget spent", "no trade",
                                    "empty"])
              for r in analysis.runs]
    return sum(int((s & (r.steps.build_seconds == 0)).sum())
               for s, r in zip(solved, analysis.runs, strict=True))


@pytest.mark.parametrize("client", ["young-pro", "household"])
def test_shared_step_problems_give_the_fresh_builds_figures(client, young):
    setup = young if client == "young-pro" else setup_of(client)
    fresh = run_transition(setup, DEFAULT_PLANS, replace(ANNUAL, reuse_problems=False))
    reused = run_transition(setup, DEFAULT_PLANS, ANNUAL)
    _assert_same_runs(reused, fresh)
    assert _reused_steps(fresh) == 0
    # step 0: every plan but the first to solve it (and hold, whose state differs)
    assert _reused_steps(reused) >= 4


def test_plans_on_threads_share_problems_safely(young):
    fresh = run_transition(young, DEFAULT_PLANS, replace(ANNUAL, reuse_problems=False))
    with ThreadPoolExecutor(3) as pool:
        reused = run_transition(young, DEFAULT_PLANS, ANNUAL, executor=pool)
    _assert_same_runs(reused, fresh)


def _step0(setup, plan: str = "3y"):
    s = TransitionSettings(steps_per_year=1)
    acc = setup.taxable_accounts()[0]
    cash = next(a.cash for a in setup.client.profile.accounts if a.account_id == acc)
    managed = _Managed(setup, acc)
    st = _state(setup, parse_plan(plan), acc, setup.ledger, setup.as_of, setup.prices, cash,
                0, s, managed)
    base = with_min_cash(setup, acc, default_settings(setup), st, can_sell=True)
    return st, base, managed


def test_a_problem_is_reused_only_for_the_same_account_and_compiled_settings(young):
    st, base, managed = _step0(young)
    store = StepProblems()
    p1, built = store.take(young, st, base, managed)
    assert built
    # taken: a second plan asking for it meanwhile gets its own
    p2, built2 = store.take(young, st, base, managed)
    assert built2 and p2 is not p1
    store.give_back(p1)
    p3, built3 = store.take(young, st, base, managed)
    assert p3 is p1 and not built3 and store.reused == 1
    store.give_back(p3)
    # one lot's value one unit in the last place away: another account, another problem
    lots = st.lots.copy()
    lots.loc[lots.index[0], "value"] = np.nextafter(lots.value.iat[0], np.inf)
    other = replace(st, lots=lots)
    assert not _same_state(st, other)
    assert store.take(young, other, base, managed)[0] is not p1
    # a setting compiled into the problem (not a Parameter): another problem
    assert store.take(young, st, replace(base, aggregate=False), managed)[0] is not p1
    # the settings that are Parameters (e.g. the cash target, the tax aversion) reuse it
    p4, built4 = store.take(young, st, replace(base, gamma_tax=3.0, cash_target=0.02),
                            managed)
    assert p4 is p1 and not built4


def test_the_store_keeps_the_earliest_steps_problems(young):
    st, base, managed = _step0(young)
    store = StepProblems(size=2)
    later = [replace(st, as_of=st.as_of + dt.timedelta(days=91 * k)) for k in (1, 2)]
    p0, _ = store.take(young, st, base, managed)  # step 0
    store.give_back(p0)
    p2, _ = store.take(young, later[1], base, managed)
    store.give_back(p2)
    p1, _ = store.take(young, later[0], base, managed)
    store.give_back(p1)  # three for two places: the latest date's (p2) leaves
    assert store.take(young, later[1], base, managed)[0] is not p2
    assert store.take(young, st, base, managed)[0] is p0
    assert store.take(young, later[0], base, managed)[0] is p1
    # the same date: the one given back first leaves
    store = StepProblems(size=1)
    q1, _ = store.take(young, st, base, managed)
    store.give_back(q1)
    st2 = replace(st, cash=st.cash + 1.0)
    q2, _ = store.take(young, st2, base, managed)
    store.give_back(q2)
    assert store.take(young, st, base, managed)[0] is not q1
    assert store.take(young, st2, base, managed)[0] is q2


@pytest.mark.slow
def test_quarterly_plans_share_step_0(young):
    """20 quarterly steps a plan: step 0 is kept for every plan (each gives back 19 more)."""
    s = TransitionSettings(horizon_years=5, steps_per_year=4, workers=1, mc_paths=0)
    fresh = run_transition(young, DEFAULT_PLANS, replace(s, reuse_problems=False))
    reused = run_transition(young, DEFAULT_PLANS, s)
    step0 = [r.steps.iloc[0] for r in reused.runs if r.plan.kind != "hold"
             and r.steps.status.iat[0] not in ("within band", "budget spent")]
    assert sum(r.build_seconds == 0 for r in step0) == len(step0) - 1 >= 3
    for a, b in zip(reused.runs, fresh.runs, strict=True):
        assert a.years.equals(b.years) and a.dispositions.equals(b.dispositions)


def test_without_reuse_every_step_builds_its_problem(young):
    st, base, managed = _step0(young)
    store = StepProblems(reuse=False)
    p1, _ = store.take(young, st, base, managed)
    store.give_back(p1)
    p2, built = store.take(young, st, base, managed)
    assert built and p2 is not p1 and store.built == 2 and store.reused == 0


def test_reuse_problems_must_be_a_flag():
    with pytest.raises(SettingsError, match="reuse_problems must be True or False"):
        TransitionSettings(reuse_problems="no")
    with pytest.raises(SettingsError, match="skip_no_trade must be True or False"):
        TransitionSettings(skip_no_trade=1)


def _budget_spent_with_pandas(today, st, plan, base, keep=0.0) -> bool:
    """The previous implementation of ``_budget_spent`` (pandas groupby), to compare with."""
    spare = st.cash + st.contribution - keep
    if plan.kind != "budget" or not (-0.01 if keep > 0 else 0.0) <= spare < base.min_trade:
        return False
    lots = st.lots
    if not len(lots) or set(lots.ticker) & st.must_sell:
        return False
    if any(w > st.max_weight[t] + 1e-9 for t, w in today.weights(st.max_weight).items()):
        return False
    if plan.te_cap is not None and today.te > plan.te_cap:
        return False
    lots = lots[~lots.ticker.isin(list(st.no_sell))]
    if not len(lots):
        return True
    if (lots.gain <= 0).any() or (lots.value <= 0).any():
        return False
    b = plan.budgets()
    big = math.inf
    left_total = big if b.total is None else max(b.total - st.ytd_st - st.ytd_lt, 0.0)
    left = {"ST": big if b.short_term is None else max(b.short_term - st.ytd_st, 0.0),
            "LT": big if b.long_term is None else max(b.long_term - st.ytd_lt, 0.0)}
    per = lots.assign(g=lots.gain / lots.value)
    for _, name in per.groupby("ticker", sort=False):
        legs = []
        for term, part in name.groupby("term", sort=False):
            g = float(part.g.min())
            legs.append((g, min(float(part.value.sum()), left[term] / g)))
        total, room = 0.0, left_total
        for g, most in sorted(legs):
            take = min(most, room / g)
            total += take
            room -= take * g
        smallest = min(base.min_trade, float(name.value.sum()), float(name.value.min())) \
            if base.whole_shares else 0.0
        if total >= smallest:
            return False
    return True


def test_budget_spent_decides_as_the_pandas_version(young):
    """Random gain lots (1-40 lots on 1-12 names), budgets and gains so far: same answer."""
    st, base, managed = _step0(young)
    st = replace(st, cash=0.0, contribution=0.0, must_sell=frozenset(),
                 max_weight={}, no_sell=frozenset())
    today = managed.today(st)
    rng = np.random.default_rng(7)
    plans = [parse_plan(p) for p in ("budget:0", "budget:25000",
                                     "budget:150000:st=0:lt=150000", "budget:3000:st=500")]
    answers = set()
    for _ in range(600):
        n = int(rng.integers(1, 41))
        value = rng.uniform(1.0, 20_000.0, n)
        lots = pd.DataFrame({
            "ticker": rng.choice([f"N{i}" for i in range(int(rng.integers(1, 13)))], n),
            "term": rng.choice(["ST", "LT"], n),
            "value": value, "gain": value * rng.uniform(1e-4, 0.9, n)})
        s = replace(st, lots=lots, ytd_st=float(rng.choice([0.0, 400.0, 2_000.0])),
                    ytd_lt=float(rng.choice([0.0, 1_000.0, 30_000.0])))
        b = replace(base, min_trade=float(rng.choice([0.0, 50.0, 500.0])),
                    whole_shares=bool(rng.integers(0, 2)))
        for plan in plans:
            got = _budget_spent(today, s, plan, b)
            assert got == _budget_spent_with_pandas(today, s, plan, b)
            answers.add(got)
    assert answers == {True, False}  # both answers exercised


@pytest.mark.parametrize("kwargs, match", [
    ({"reuse": "no"}, "reuse must be True or False"),
    ({"size": 0}, "a whole number >= 1"),
    ({"size": "8"}, "a whole number >= 1"),
    ({"size": True}, "a whole number >= 1"),
])
def test_step_problems_checks_its_arguments(kwargs, match):
    """Review (session 11): reuse='no' kept reuse on, size=0 silently disabled it and
    size='8' failed later in give_back with a TypeError."""
    from pma_lab.plan.simulation import StepProblems

    with pytest.raises(SettingsError, match=match):
        StepProblems(**kwargs)


def test_look_through_weights_read_prices_as_a_series_or_their_dict():
    """simulate passes each step's prices as a dict of plain floats (Series.to_dict was
    ~0.5 ms a call, three a step): the same values, the same weights to the bit."""
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare
    from pma_lab.paths import clients_dir
    from pma_lab.plan.simulation import _LookThrough

    setup = prepare(load_client(clients_dir() / "young-pro" / "profile.toml"))
    look = _LookThrough(setup)
    lots = setup.ledger.lots(account=setup.taxable_accounts()[0])
    px = setup.prices
    fast = dict(zip(px.index.tolist(), px.to_numpy().tolist(), strict=True))
    assert fast == px.to_dict() and all(type(v) is float for v in fast.values())
    w1, total1 = look.weights(lots, px, 1234.5, set())
    w2, total2 = look.weights(lots, fast, 1234.5, set())
    assert w1.tobytes() == w2.tobytes() and total1 == total2


def test_todays_weights_and_te_are_the_sparse_products_to_the_bit(young):
    """_Managed.today sums each asset's lots with a bincount and skips the look-through
    product without a fund (an identity): the lot-to-asset and look-through sparse
    products' figures to the bit, with and without a fund held."""
    import scipy.sparse as sp
    from test_rebalance import BENCH, DAY, ETF, SECTORS, TARGET, TAX, ledger, model

    from pma_lab.optimize.state import account_state
    from pma_lab.plan.simulation import _look

    st, _base, managed = _step0(young)
    index = {t: i for i, t in enumerate(st.assets)}
    nl, na = len(st.lots), len(st.assets)
    rows = np.array([index[t] for t in st.lots.ticker], dtype=int)
    A = sp.csr_matrix((np.ones(nl), (rows, np.arange(nl))), shape=(na, nl))
    h = A @ (st.lots.value.to_numpy() / st.value)
    _, tracking, wt = managed._pieces(set(st.assets[:st.n_model]))
    today = managed.today(st)
    assert today.h.tobytes() == h.tobytes()
    assert today.te == tracking.te(sp.csr_matrix(st.lookthrough) @ h - wt)
    px = pd.Series({"AAA": 100.0, "BBB": 50.0, "CCC": 20.0, "DDD": 10.0, "SPY": 500.0})
    rng = np.random.default_rng(3)
    for lots in ([("T", "AAA", 10, 1000, "2018-01-02")],
                 [("T", "AAA", 10, 1000, "2018-01-02"), ("T", "SPY", 3, 900, "2019-01-02")]):
        s = account_state(ledger(lots), "T", DAY, px, model(), TARGET, TAX,
                          sectors=SECTORS, etf_info=ETF, benchmark=BENCH)
        for _ in range(20):
            w = rng.uniform(0, 1, len(s.assets)) * rng.integers(0, 2, len(s.assets))
            assert _look(s, w).tobytes() == (sp.csr_matrix(s.lookthrough) @ w).tobytes()
    assert len(s.assets) > s.n_model  # the fund case was checked


def test_a_maintenance_step_whose_losses_are_too_small_to_trade_holds_without_a_solve(
        monkeypatch, tmp_path):
    """Review 14: household's immediate plan kept solving maintenance steps that traded
    nothing because a locked loss, shrinking as prices rose, was still a loss. A loss whose
    whole credit (rate x loss) plus TE^2 is within band^2 of the account cannot make a
    trade worth more than the band's tolerance: the step holds, with the same figures.
    The household without its keep list: since session 22 its AAPL is never sold, and the
    plan's steps then stay outside the band."""
    import pma_lab.plan.simulation as sim

    keep = 'hold_no_add = ["AAPL"]   # one spouse\'s employer: keep, do not add\n'
    setup = prepare(load_client(copy_sample_client("household", tmp_path,
                                                   [("profile.toml", keep, "")])))
    s = TransitionSettings(steps_per_year=4, workers=1, mc_paths=0)
    new = sim._nothing_to_maintain

    def old(today, st, settings, base, keep=0.0):  # the rule before: any loss solves
        if ((st.lots.gain < 0) & ~st.lots.ticker.isin(list(st.wash_no_loss_sale))).any():
            return False
        return new(today, st, settings, base, keep)

    runs = {}
    for label, rule in (("old", old), ("new", new)):
        monkeypatch.setattr(sim, "_nothing_to_maintain", rule)
        runs[label] = run_transition(setup, ["immediate"], s)
    held = {k: int((a.runs[0].steps.status == "within band").sum()) for k, a in runs.items()}
    # Session 18: with the share classes' issuer factor no sample client's step has such a
    # loss any more (household, roth-household, core-active, retiree, tech-exec,
    # philanthropist, muni-ca, balanced-6040, young-pro: immediate quarterly, household
    # monthly, 3y: the same held steps under both rules); the rule's bound is tested
    # exactly below, this test checks that holding never changes a figure
    assert held["new"] >= held["old"] > 0
    a, b = runs["old"].runs[0], runs["new"].runs[0]
    assert a.years.equals(b.years) and a.dispositions.equals(b.dispositions)
    cols = ["status", *TIMING]
    assert a.steps.drop(columns=cols).equals(b.steps.drop(columns=cols))


def test_the_maintenance_skip_bound_holds_exactly_at_band_squared():
    """Review 14 L8: a maintenance step holds while TE^2 + aversion x (rate x loss) / value
    is within band^2 and solves just above it; a loss a wash-sale lock disallows earns no
    credit, so it never makes the step solve."""
    from pma_lab.plan.simulation import _nothing_to_maintain, _Today

    setup = setup_of("core-active")
    st, base, _ = _step0(setup)
    s = TransitionSettings(steps_per_year=4)
    lots = st.lots.copy()
    lots["gain"] = lots.gain.abs()  # no loss but the one below
    lots.loc[lots.index[0], "term"] = "LT"
    name = lots.ticker.iat[0]
    st = replace(st, cash=0.0, contribution=0.0, must_sell=frozenset(),
                 wash_no_loss_sale=frozenset())
    today = _Today(np.zeros(len(st.assets)), {t: i for i, t in enumerate(st.assets)}, 0.003)
    room = (s.te_band ** 2 - today.te ** 2) * st.value / s.maintain_gamma_tax  # credit, USD
    edge = room / st.tax.lt_rate  # the loss whose whole credit fills it

    def holds(loss: float, locked: bool = False) -> bool:
        lots.loc[lots.index[0], "gain"] = -loss
        at = replace(st, lots=lots.copy(),
                     wash_no_loss_sale=frozenset({name}) if locked else frozenset())
        return _nothing_to_maintain(today, at, s, base)

    assert holds(0.0) and holds(0.99 * edge)
    assert not holds(1.01 * edge)
    assert holds(100 * edge, locked=True)
    # TE already at the band: no room for any credit
    assert not _nothing_to_maintain(replace(today, te=s.te_band), replace(
        st, lots=lots.assign(gain=lots.gain.where(lots.index != lots.index[0], -1.0))),
        s, base)


def test_the_plans_share_the_restricted_risk_models_of_a_setup(young):
    """Every plan's _Managed reads the risk pieces kept with the setup: a held set whose
    names outside the target are the same gives the very model another plan computed
    (and the state alignment kept with it), equal to managed_risk's for that held set."""
    from pma_lab.optimize.engine import managed_risk

    acc = young.client.profile.accounts[0].account_id
    a, b = _Managed(young, acc), _Managed(young, acc)
    target = list(young.target.weights.index)
    outside = sorted(set(young.risk.tickers) - set(target))[:2]
    rm = a.risk(set(target[:3]))
    assert b.risk(set(target[5:9])) is rm  # the same names managed: the same model
    assert rm.tickers == managed_risk(young, set(target[:3])).tickers
    other = b.risk(set(target[:3]) | set(outside))
    assert other is not rm and a.risk(set(outside)) is other
    assert other.tickers == managed_risk(young, set(outside)).tickers
    assert set(outside) <= set(other.tickers) and not set(outside) & set(rm.tickers)


def test_the_shared_risk_pieces_of_a_setup_are_bounded(young, monkeypatch):
    """Review 15 L6: the pieces kept with a setup are a small LRU (MANAGED_PIECES sets of
    names outside the target): past the bound the least recently used set is dropped
    (computed again when held again), the others kept, the most recently read first."""
    import pma_lab.plan.simulation as sim

    monkeypatch.setattr(sim, "MANAGED_PIECES", 2)
    setup = replace(young)  # a copy: none of the fixture's pieces
    acc = setup.client.profile.accounts[0].account_id
    m = _Managed(setup, acc)
    assert isinstance(m._risk, sim._PieceCache) and m._risk.size == 2 and not len(m._risk)
    target = set(setup.target.weights.index)
    x, y, z = sorted(set(setup.risk.tickers) - target)[:3]
    rx, ry = m.risk(target | {x}), m.risk(target | {y})
    assert m.risk({x}) is rx  # read: x is now the most recently used
    rz = m.risk({z})  # a third set: y (least recently used) dropped
    assert len(m._risk) == 2 and len(sim._shared_pieces(setup)) == 2
    assert m.risk({x}) is rx and m.risk({z}) is rz
    ry2 = m.risk({y})  # computed again (x dropped now), equal to the first
    assert ry2 is not ry and ry2.tickers == ry.tickers
    assert len(m._risk) == 2 and _Managed(setup, acc)._risk is m._risk


def test_a_plan_runs_on_one_blas_thread(monkeypatch, blas_threads):
    """simulate runs a plan's steps with one OpenBLAS thread (issue 16: the rounding's,
    states' and results' small products cost more waking the other threads than the
    products), and the count is restored after."""
    import pma_lab.plan.simulation as sim

    count = blas_threads.count
    blas_threads.set(2)
    seen = []
    monkeypatch.setattr(sim, "_simulate", lambda *a: seen.append(count()) or "simulated")
    assert sim.simulate(None, None, None, None) == "simulated"
    assert seen == [1] and count() == 2


# ---------------------------------------------------------------- steps that trade nothing
# (issue 16, s19: a plan step whose solve is certain to answer "no trade" skips it)

QUARTERLY = TransitionSettings(workers=1, mc_paths=20)  # the proposal's steps, few paths
CLIENTS = sorted(p.name for p in clients_dir().iterdir() if (p / "profile.toml").exists())


@pytest.mark.parametrize("client", CLIENTS)
def test_skipping_the_steps_that_trade_nothing_changes_no_figure(client, young):
    """Each sample client's plans (the proposal's quarterly comparison) with and without
    the no-trade skip: every step's trades, tax, TE, cash, notes, every year's figures,
    the dispositions, the events and the Monte Carlo replay are the same; only the skipped
    steps' status reads "no trade" (a solve's "optimal"), and the solve, run, traded
    nothing there."""
    setup = young if client == "young-pro" else setup_of(client)
    solved = run_transition(setup, DEFAULT_PLANS, replace(QUARTERLY, skip_no_trade=False))
    skipped = run_transition(setup, DEFAULT_PLANS, QUARTERLY)
    n = 0
    for a, b in zip(solved.runs, skipped.runs, strict=True):
        name = a.plan.name
        assert a.years.equals(b.years), name
        cols = ["status", *TIMING]
        assert a.steps.drop(columns=cols).equals(b.steps.drop(columns=cols)), name
        assert a.dispositions.equals(b.dispositions) and a.gifts.equals(b.gifts), name
        assert a.events == b.events, name
        assert (a.after_tax_wealth, a.liquidation_tax, a.failed, a.carryforward_value) == \
            (b.after_tax_wealth, b.liquidation_tax, b.failed, b.carryforward_value), name
        assert np.array_equal(a.mc.wealth, b.mc.wealth), name
        assert np.array_equal(a.mc.tax_by_year, b.mc.tax_by_year), name
        skip = (b.steps.status == "no trade").to_numpy()
        assert "no trade" not in set(a.steps.status)
        assert (a.steps.status[skip] != b.steps.status[skip]).all()
        assert not (b.steps.status[~skip] != a.steps.status[~skip]).any(), name
        # the solve there traded nothing: no sale or purchase booked on those days
        days = set(b.steps.date[skip])
        assert not any(e[0] in ("sell", "buy") and e[1][0] in days for e in a.events), name
        n += int(skip.sum())
    assert solved.comparison.equals(skipped.comparison)
    if client == "young-pro":  # its glide steps (3y, 5y) keep their cap without a trade
        assert n >= 20


@pytest.fixture(scope="module")
def certified(young):
    """young-pro's 5y plan, quarterly: each step's certificate inputs and its answer."""
    import pma_lab.plan.simulation as sim

    seen = []
    real = sim._solve_trades_nothing

    def spy(today, st, settings, tracking, wt):
        ok = real(today, st, settings, tracking, wt)
        seen.append((today, st, settings, tracking, wt, ok))
        return ok

    sim._solve_trades_nothing = spy
    try:
        run_transition(young, ["5y"], replace(QUARTERLY, mc_paths=0))
    finally:
        sim._solve_trades_nothing = real
    assert any(c[-1] for c in seen) and not all(c[-1] for c in seen)
    return seen


def _solve(setup, st, settings):
    from pma_lab.plan.simulation import _step_problem

    acc = setup.taxable_accounts()[0]
    prob = _step_problem(setup, st, settings, None, _Managed(setup, acc))
    prob.update(settings)
    return prob.solve()


def test_a_step_the_bound_lets_skip_trades_nothing_when_solved(young, certified):
    """The bound is checked against the solve itself: young-pro's 5y steps, each with
    other tax aversions, minimum trades and cash above the target (the certificate's
    three levers): wherever it says "no trade", the solve (whole shares, the minimum
    trade's re-solve, the rounding) returns no trade, no note and today's TE; it does
    say so for some and solves others that do trade (so a bound that skipped wrongly
    fails here)."""
    from pma_lab.plan.simulation import _solve_trades_nothing

    rows = [c for c in certified if c[-1]][:3] + [c for c in certified if not c[-1]][:1]
    yes = no_but_trades = 0
    for today, st, settings, tracking, wt, _ in rows:
        for gamma, mt, extra in ((settings.gamma_tax, settings.min_trade, 0.0),
                                 (0.02, settings.min_trade, 0.0),
                                 (0.0, settings.min_trade, 0.0),
                                 (settings.gamma_tax, 20.0, 0.0),
                                 (settings.gamma_tax, settings.min_trade, 300.0),
                                 (settings.gamma_tax, 2_000.0, 900.0)):
            at = st if not extra else replace(st, cash=st.cash + extra,
                                              value=st.value + extra)
            if gamma == 0.0:  # one lot ten times as large, no TE cap: a name well over
                # its target that only the tax aversion kept (delta <= 0 without it)
                lots = st.lots.copy()
                j = lots.index[int(np.argmax(lots.value.to_numpy()))]
                grown = float(lots.at[j, "value"]) * 9
                lots.loc[j, ["shares", "basis", "value", "gain"]] *= 10
                at = replace(at, lots=lots, value=at.value + grown)
            s = replace(settings, gamma_tax=gamma, min_trade=mt,
                        cash_target=settings.cash_target * st.value / at.value,
                        te_cap=None if gamma == 0.0 else settings.te_cap)
            ok = _solve_trades_nothing(today, at, s, tracking, wt) if at is st else \
                _solve_trades_nothing(_today_of(at, tracking, wt), at, s, tracking, wt)
            res = _solve(young, at, s)
            if ok:
                yes += 1
                assert res.trades.empty and res.lot_trades.empty, (gamma, mt, extra)
                assert not res.summary.note
            elif not res.trades.empty:
                no_but_trades += 1
    assert yes >= 3 and no_but_trades >= 2


def _today_of(st, tracking, wt):
    """The account's weights and TE before a step (as _Managed.today computes them)."""
    from pma_lab.plan.simulation import _look, _Today

    index = {t: i for i, t in enumerate(st.assets)}
    rows = np.array([index[t] for t in st.lots.ticker.tolist()], dtype=np.intp)
    h = np.bincount(rows, weights=st.lots.value.to_numpy() / st.value,
                    minlength=len(st.assets))
    return _Today(h, index, tracking.te(_look(st, h) - wt))


def test_the_no_trade_bound_refuses_what_it_cannot_prove(certified):
    """Each condition of the certificate on a step it lets skip: a forced sale (a held
    name to sell, a held name capped), a sector limit, a name-count cap, a lot at a loss
    or at no gain, a budget already spent, no minimum trade, cash below its target or at
    the minimum trade, TE at its cap, or a tax aversion too low for holding to be the
    optimum (delta <= 0): each makes the step solve."""
    from pma_lab.optimize.settings import Budgets
    from pma_lab.plan.simulation import _solve_trades_nothing

    today, st, settings, tracking, wt, _ = next(c for c in certified if c[-1])

    def ok(st=st, settings=settings, today=today) -> bool:
        return _solve_trades_nothing(today, st, settings, tracking, wt)

    assert ok()
    name = st.lots.ticker.iat[0]
    lots = st.lots.copy()
    assert not ok(st=replace(st, must_sell=st.must_sell | {name}))
    assert not ok(st=replace(st, max_weight={name: 0.5}))
    assert not ok(st=replace(st, sector_limits={"Information Technology": 0.9}))
    assert not ok(settings=replace(settings, max_names=1000))
    for gain in (0.0, -1.0):
        assert not ok(st=replace(st, lots=lots.assign(
            gain=lots.gain.where(lots.index != lots.index[0], gain))))
    # the same lot at a loss but not to be sold: proven again
    assert ok(st=replace(st, no_sell=st.no_sell | {name}, lots=lots.assign(
        gain=lots.gain.where(lots.ticker != name, -1.0))))
    ytd = st.ytd_st + st.ytd_lt
    assert ok(settings=replace(settings, budgets=Budgets(total=max(ytd, 0.0) + 1.0)))
    assert not ok(settings=replace(settings, budgets=Budgets(total=0.0)),
                  st=replace(st, ytd_lt=st.ytd_lt + 10.0 - ytd))
    assert not ok(settings=replace(settings, min_trade=0.0))
    spare = st.cash + st.contribution - settings.cash_target * st.value
    assert not ok(st=replace(st, contribution=st.contribution - spare - 0.02))
    assert not ok(settings=replace(settings, min_trade=spare + 0.01))
    assert not ok(settings=replace(settings, te_cap=today.te))
    assert ok(settings=replace(settings, te_cap=1.01 * today.te + 1e-4))
    # below a least tax aversion holding is no longer proven the optimum (delta falls to
    # zero, the bound on the sales grows without limit)
    lo, hi = 0.0, settings.gamma_tax
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if ok(settings=replace(settings, gamma_tax=mid)) else (mid, hi)
    assert 0 < hi < settings.gamma_tax
    assert not ok(settings=replace(settings, gamma_tax=0.99 * hi))


def test_the_no_trade_bound_stays_below_a_stub_lot_by_the_solvers_round_off(certified):
    """Reviewer 2, session 19 (1a7a75d, no test then): a sale within the solver's
    round-off of a lot's value is read as the whole lot (``RebalanceProblem._solution``),
    which the minimum trade does not stop, so the certificate's bound on the sales (``X``,
    USD) must stay below every sellable lot's value by ``max(CLEAN, accuracy)`` of the
    account (``off``: $0.05 on young-pro's $524,000). ``X`` is read from the certificate's
    minimum-trade test (it refuses when ``2 X`` plus the spare cash reaches the minimum
    trade, less $0.01), then a stub lot at a gain worth ``X + off / 2`` is added to a step
    it lets skip: the step now solves (before 1a7a75d the bound was compared with the
    lot's value alone, ``X`` below it, and the step was skipped). A stub worth ``X + 2
    off`` is below no bound: skipped again."""
    from pma_lab.optimize.constraints import CLEAN
    from pma_lab.plan.simulation import _solve_trades_nothing

    today, st, settings, tracking, wt, _ = next(c for c in certified if c[-1])
    V = st.value
    off = max(CLEAN, settings.accuracy) * V  # the solver's round-off, USD
    lots = st.lots
    sell = ~lots.ticker.isin(list(st.no_sell)) & (lots.gain > 0)
    j = lots.index[sell.to_numpy()][0]

    def with_stub(usd: float, min_trade: float = settings.min_trade) -> bool:
        row = lots.loc[[j]].copy()  # lot j's name, term and gain per dollar: same bound
        f = usd / float(row.value.iloc[0])
        row[["shares", "basis", "value", "gain"]] = row[["shares", "basis", "value",
                                                         "gain"]] * f
        row.index = [len(lots)]
        if "lot_id" in row:
            row["lot_id"] = "STUB"
        at = replace(st, lots=pd.concat([lots, row]), value=V + usd)
        s = replace(settings, cash_target=settings.cash_target * V / (V + usd),
                    min_trade=min_trade)
        return _solve_trades_nothing(_today_of(at, tracking, wt), at, s, tracking, wt)

    big = 100 * off + 100.0  # a stub no bound reaches (sizes the account as the others)
    assert with_stub(big)
    spare = st.cash + st.contribution - settings.cash_target * V
    lo, hi = spare + 0.01, float(settings.min_trade)  # refused at lo, skipped at hi
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if with_stub(big, mid) else (mid, hi)
    X = (hi - 0.01 - spare) / 2  # 2 X + spare = min_trade - 0.01 (spare: kept by s)
    assert 0 < X and 0.01 < off < 1.0, (X, off)
    assert not with_stub(X + off / 2)  # main before 1a7a75d: skipped
    assert with_stub(X + 2 * off)


_FLOW_LOTS = """\
"Symbol","Quantity","Open Date","Cost/Share"
"AAPL","150","03/15/2019","$45.12"
"MSFT","80","01/10/2022","$314.98"
"MSFT","40","07/20/2026","$510.00"
"BRK.B","25","05/05/2020","$185.40"
"NVDA","300","08/01/2025","$178.00"
"XOM","200","06/01/2022","$95.00"
"INTC","500","04/01/2021","$64.00"
"JNJ","60","06/30/2018","$160.00"
"""

_FLOW_PROFILE = """\
schema_version = 1
[client]
id = "flow"
name = "Flow"
as_of = 2026-07-31
[tax]
filing_status = "mfj"
tax_year = 2026
taxable_income = 350000.0
state_rate = 0.06
carryforward_st = 12000.0
carryforward_lt = 4000.0
[[accounts]]
id = "taxable"
type = "taxable"
cash = 20000.0
[lots]
files = ["lots.csv"]
default_account = "taxable"
date_order = "MDY"
[budgets]
short_term = 0.0
long_term = 30000.0
[target]
model = "sp500"
names = 60
"""


def test_a_withdrawal_reserve_counts_the_lots_terms_on_the_withdrawals_day(tmp_path):
    """Review rev1 (F_flow): a budget plan's quarterly steps of a tax year hold back the
    gains a later withdrawal of that year needs (``_reserve_budget``), but counted the
    lots' terms of the step's day. The MSFT lot bought on 2026-07-20 at a loss is
    short-term in January and April 2027 (its loss offsets short-term gains under the
    ``st=0`` cap) and long-term on 2027-07-31, the withdrawal's day: the reserve was too
    small, the early steps spent the budget, and the $20,000 withdrawal stopped the plan
    ("a gains budget at least $162 larger"; $212 more with $30,200, $193 with $31,000).
    Now the terms are those of the withdrawal's day and every such plan completes."""
    from pma_lab.plan.simulation import _terms_on
    from pma_lab.plan.transition import TransitionSettings

    (tmp_path / "lots.csv").write_text(_FLOW_LOTS)
    (tmp_path / "profile.toml").write_text(_FLOW_PROFILE)
    setup = prepare(load_client(tmp_path / "profile.toml"), names=60)
    plans = ["budget:30000:st=0:lt=30000:flow=-20000",
             "budget:30200:st=0:lt=30200:flow=-20000"]
    an = run_transition(setup, plans, TransitionSettings(
        horizon_years=2, steps_per_year=4, workers=1, mc_paths=0))
    rows = an.comparison.set_index("plan")
    for p in plans:
        assert not rows.loc[p, "failed"], (p, rows.loc[p, "failed_why"])
    # the lot that turns long-term between the steps and the withdrawal: short-term on
    # the step's day, long-term on the withdrawal's
    from pma_lab.optimize.engine import account_state_for

    st = account_state_for(setup, "taxable")
    msft = (st.lots.ticker == "MSFT") & (st.lots.term == "ST")
    assert msft.sum() == 1 and float(st.lots.gain[msft].iloc[0]) < 0
    assert (_terms_on(st, st.as_of).lots.term == st.lots.term).all()
    april = _terms_on(st, dt.date(2027, 4, 30)).lots  # NVDA (bought 2025-08-01) is LT
    assert (april.term[msft] == "ST").all() and (april.term[~msft] == "LT").all()
    assert (_terms_on(st, dt.date(2027, 7, 31)).lots.term == "LT").all()


def test_a_budget_plan_holds_back_the_gains_of_the_years_later_glide_sales():
    """Review rev1 (rv-alex): a ``sell_within:2`` glide sells an eighth of the fossil
    names at every quarterly step, whatever the tax. The budget plan's first steps of a
    tax year spent the $25,000 budget and the year's later glide sales took it over:
    $28,242 (2026), $32,116 (2027), $28,533 (2028) of net gain. The steps now hold back
    the least gains of the year's later glide sales (``_later_glide``), as they hold back
    a later withdrawal's: every year of the glide stays within the budget (the forced
    sales alone fit it here)."""
    from pma_lab.plan.simulation import _later_glide

    setup = prepare(load_client(FIXTURES / "rv-alex" / "profile.toml"))
    an = run_transition(setup, ["budget:25000:st=0"], TransitionSettings(
        horizon_years=3, steps_per_year=4, workers=1, mc_paths=0))
    years = an.runs[0].years.set_index("year")
    assert not an.runs[0].failed
    for y in (2026, 2027, 2028):  # the glide's years (2026-07-31 to 2028-04-30)
        net = float(years["st"][y] + years["lt"][y])
        assert net <= 25_000 + 0.01, (y, net)
        assert float(years["st"][y]) <= 0.01, y  # the short-term $0 cap
    # step 0 (2026-07-31) of quarterly steps: one later step in 2026 (2026-10-31) sells
    # an eighth of today's fossil shares; the last step of a tax year holds nothing back
    st = _state(setup, parse_plan("budget:25000:st=0"), "taxable", setup.ledger,
                setup.as_of, setup.prices, 20_000.0, 0, TransitionSettings(steps_per_year=4),
                _Managed(setup, "taxable"))
    dates = [dt.date(2026, 7, 31), dt.date(2026, 10, 31), dt.date(2027, 1, 31),
             dt.date(2027, 4, 30)]
    g = _later_glide(_Managed(setup, "taxable").rules, st, 0, dates, 4, 0.07)
    assert g is not None and set(g.names) == {"XOM", "CVX"} and g.short + g.long > 0
    assert _later_glide(_Managed(setup, "taxable").rules, st, 1, dates, 4, 0.07) is None
    assert "alone realise more" not in an.comparison.notes.iloc[0]


def test_a_year_the_forced_sales_alone_take_over_the_budget_says_by_how_much():
    """Review rev1: a year over the budget had no note. Under a $5,000 budget the glide's
    forced sales, less the losses harvested, realise more than it allows in 2027 and
    2028: the plan's notes (proposal, dashboard, CLI) give each year's net gain, the
    budget and the overrun, as the yearly table has them. 2026's $90,527 of harvested
    losses offset its forced gains: $4,620 of net gain, within the budget (before the
    harvested losses made room for other gains: $19,426, noted as over; session 21)."""
    from pma_lab.formatting import fmt_usd

    setup = prepare(load_client(FIXTURES / "rv-alex" / "profile.toml"))
    an = run_transition(setup, ["budget:5000"], TransitionSettings(
        horizon_years=3, steps_per_year=4, workers=1, mc_paths=0))
    notes = an.comparison.set_index("plan").notes["budget:5000"]
    years = an.runs[0].years.set_index("year")
    assert float(years["st"][2026] + years["lt"][2026]) <= 5_000.5
    assert "2026:" not in notes
    for y in (2027, 2028):
        net = float(years["st"][y] + years["lt"][y])
        assert net > 5_000.5
        said = (f"{y}: net gains {fmt_usd(net)} against the plan's gains budget of $5,000, "
                f"{fmt_usd(net - 5_000)} over")
        # why, once (reviewer 1, session 22: the sentence was repeated every year)
        assert (said + (": the sales your restrictions force that year (made whatever the "
                        "tax) alone realise more than the budget allows, even with the "
                        "losses harvested that year set against them, so they raise it "
                        "and no other gain is realised" if y == 2027 else
                        ", for the same reason")) in notes, notes
    assert notes.count("alone realise more than the budget allows") == 1
    assert "2029:" not in notes  # the glide is over: within the budget


def _frames_equal(a, b) -> None:
    assert a.lot_trades.equals(b.lot_trades)
    assert a.trades.equals(b.trades)
    assert a.decisions.equals(b.decisions)
    assert a.weights.equals(b.weights)
    assert a.checks.equals(b.checks)
    skip = {"seconds", "solver_seconds", "build_seconds"}
    assert {k: v for k, v in dict(a.summary).items() if k not in skip} == \
        {k: v for k, v in dict(b.summary).items() if k not in skip}


def test_a_state_differing_in_names_left_as_they_are_rebases_the_problem(young):
    """Session 21: a household's first step is solved again with names not bought or not
    sold (household.without_pairs), each a state differing from the step's in ``no_buy``
    / ``no_sell`` alone, which set Parameters only; each built and compiled its problem
    anew. The stored problem is now rebased on it (RebalanceProblem.rebase): the same
    trades, decisions, checks and figures as a fresh build's, to the bit."""
    st, base, managed = _step0(young)
    store = StepProblems()
    p1, _ = store.take(young, st, base, managed)
    first = p1.solve()
    store.give_back(p1)
    bought = [t for t in first.trades.ticker[first.trades.side == "buy"]][:2]
    sold = [t for t in first.trades.ticker[first.trades.side == "sell"]][:1]
    assert bought and sold
    st2 = replace(st, no_buy=st.no_buy | frozenset(bought),
                  no_sell=st.no_sell | frozenset(sold))
    p2, built = store.take(young, st2, base, managed)
    assert p2 is p1 and not built and store.rebased == 1 and p2.state is st2
    fresh, _ = StepProblems(reuse=False).take(young, st2, base, managed)
    again, ref = p2.solve(), fresh.solve()
    _frames_equal(again, ref)
    assert not set(bought) & set(again.trades.ticker[again.trades.side == "buy"])
    assert not set(sold) & set(again.lot_trades.ticker)
    store.give_back(p2)
    # and back to the step's own state: the first answer again
    p3, _ = store.take(young, st, base, managed)
    assert p3 is p1 and store.rebased == 2
    _frames_equal(p3.solve(), first)


def test_rebase_refuses_a_state_that_differs_in_more_than_names_left_as_they_are(young):
    st, base, managed = _step0(young)
    p, _ = StepProblems(reuse=False).take(young, st, base, managed)
    with pytest.raises(SettingsError, match="differs from the problem's in more than"):
        p.rebase(replace(st, cash=st.cash + 1.0))
    with pytest.raises(SettingsError, match="pass an AccountState"):
        p.rebase("state")
    p.add_constraint(lambda q: q.w[0] <= 1.0, name="cap")
    with pytest.raises(SettingsError, match="added constraints"):
        p.rebase(replace(st, no_buy=st.no_buy | {"AAPL"}))


def test_a_budget_the_restrictions_raise_makes_no_room_for_other_gains():
    """Review rev1: retiree's restrictions force $231,7xx of gains in 2026. The budget was
    raised to that gain, and the $38,227 of losses the step harvested made room for as
    much of other gains: "Gains budget $0" realised $231,840 of net gain ($55,869 of tax)
    where the 5-year glide, harvesting the same losses, realised $194,650 ($47,348). A
    budget realises no gain beyond the forced sales: the losses offset them, so the $0
    and $25,000 budgets realise the forced gains less the losses, as the glide does, and
    the note on the raise says so."""
    from pma_lab.plan.simulation import first_trades

    setup = setup_of("retiree")
    st = TransitionSettings(horizon_years=1, steps_per_year=1, workers=1, mc_paths=0)
    an = run_transition(setup, ["budget:0", "budget:25000", "5y"], st)
    years = {r.plan.name: r.years.set_index("year") for r in an.runs if r.path == "expected"}
    net = {k: float(y["st"][2026] + y["lt"][2026]) for k, y in years.items()}
    assert net["5y"] == pytest.approx(194_650.10, abs=1.0)
    for name in ("budget:0", "budget:25000"):
        y = years[name]
        assert float(y.harvested_losses[2026]) == pytest.approx(-38_227.01, abs=1.0)
        assert net[name] <= net["5y"] + 1.0, (name, net)  # before: $231,839.93
        assert float(y.tax[2026]) <= float(years["5y"].tax[2026]) + 1.0  # before: $55,869
    run = next(r for r in an.runs if r.path == "expected" and r.plan.name == "budget:0")
    res = first_trades(setup, run.plan, st, run=run)
    caps = res.summary.budget_raised_caps
    assert caps.startswith("total $0 by $") and "less the losses harvested" in caps, caps
    gains = res.lot_trades.gain
    assert float(gains.sum()) == pytest.approx(net["budget:0"], abs=1.0)


def test_a_long_term_cap_the_restrictions_raise_makes_no_room_for_other_long_term_gains():
    """Session 22: the rule above lowered only the total budget's raise. Retiree with a
    $0 long-term cap (no total) and a low tax weight: the restrictions' sales raise it to
    their $231,841 of long-term gain, and the $37,438 of long-term losses harvested made
    room for $36,398 of other long-term gains (net long-term $231,837). The long-term cap
    nets the long-term losses, so its raise is lowered by them as the total's is
    (``Budgets.forced_offset_lt``): net long-term $195,439, the forced long-term gains
    less those losses, and the note on the raise says so."""
    from pma_lab.optimize.engine import default_settings, problem_for_client
    from pma_lab.optimize.settings import Budgets
    from pma_lab.plan.simulation import _solve_within_forced

    setup = setup_of("retiree")
    s = replace(default_settings(setup), budgets=Budgets(long_term=0.0), gamma_tax=0.1)
    p = problem_for_client(setup, None, s)
    plain = p.solve()
    assert plain.summary.realized_lt == pytest.approx(231_837, abs=2.0)  # the room spent
    p.update(s)
    res = _solve_within_forced(p)
    lt = res.lot_trades[res.lot_trades.term == "LT"]
    forced_lt = float(np.maximum(p.brows[2], 0.0) @ p._forced_x) * p.V
    # no long-term gain beyond the forced sales' (a glide's round-up share allowed)
    assert float(lt.gain[lt.gain > 0].sum()) <= forced_lt + 1.0 + float(
        p._forced_margin[2]) * p.V
    assert res.summary.realized_lt == pytest.approx(195_439, abs=2.0)
    assert res.summary.realized_lt == pytest.approx(float(lt.gain.sum()), abs=0.01)
    b = p.settings.budgets
    assert b.forced_offset == 0.0 and b.forced_offset_st == 0.0 and b.forced_offset_lt > 0
    (cap,) = res.summary.raised_caps
    assert (cap.cap, cap.limit, cap.offset) == ("long-term", 0.0, True)
    assert res.summary.budget_raised_caps == (
        f"long-term $0 by ${cap.by:,.0f} (the forced sales' long-term gain less the "
        "long-term losses harvested, which offset it)")


def test_a_steps_rules_problem_and_result_leave_the_lots_table_unbuilt(young):
    """Issue 16: a step reads its state's lots as the arrays account_state keeps
    (lot_columns): the skip rules, the weights and TE before the step, the shared step
    problem and its solve and result never build the state's lots table (two thirds of
    building a state, ~0.7 CPU-ms); the rules answer as on the table."""
    from pma_lab.plan.simulation import _lot_fields, _nothing_to_maintain, _solve_trades_nothing

    st, base, managed = _step0(young)
    assert "lots" not in st.__dict__
    today = managed.today(st)
    s = TransitionSettings(steps_per_year=1)
    answers = (_nothing_to_maintain(today, st, s, base),
               _budget_spent(today, st, parse_plan("budget:0"), base),
               _solve_trades_nothing(today, st, base, *managed.pieces(st)))
    store = StepProblems()
    prob, built = store.take(young, st, base, managed)
    res = prob.solve()
    assert built and len(res.trades) and "lots" not in st.__dict__
    # the same answers and arrays from the table (a state replaced keeps no columns)
    table = replace(st)
    assert "lots" in st.__dict__ and "_lot_columns" not in table.__dict__
    assert answers == (_nothing_to_maintain(managed.today(table), table, s, base),
                       _budget_spent(managed.today(table), table, parse_plan("budget:0"),
                                     base),
                       _solve_trades_nothing(managed.today(table), table, base,
                                             *managed.pieces(table)))
    for a, b in zip(_lot_fields(st), _lot_fields(table), strict=True):
        assert a.dtype == b.dtype and a.tolist() == b.tolist()
    assert managed.today(table).h.tobytes() == today.h.tobytes()
    assert StepProblems._key(table, base) == StepProblems._key(st, base)


def test_a_glides_whole_share_over_the_years_cap_marks_the_year_as_raised():
    """Reviewer 1 (session 24): chen's budget plan went $51 over its 2027 budget with no
    note. A glide's forced sale that fits the budget exactly but not rounded up to a whole
    share raises no cap (``budget_raised_by_restrictions`` is 0), so its year was not
    among the years whose overrun is explained (``_note_forced_overrun``). A step whose
    sales go over a cap it was solved under is now (``_over_caps``); a step within its
    caps is not."""
    from test_rounding import _glide_book  # tests/ is on sys.path

    from pma_lab.plan.simulation import _over_caps

    p, pa = _glide_book(budget=10.0, min_trade=0.0)  # half a share's gain and $10
    res = p.solve()
    assert float(res.summary.budget_raised_by_restrictions) <= 0.005  # the old test
    assert _over_caps(res, p.state, p.settings.budgets)  # one share: over by ~pa/4 - 10
    p.update(replace(p.settings, budgets=replace(p.settings.budgets,
                                                 total=0.5 * pa + 1.0)))
    assert not _over_caps(p.solve(), p.state, p.settings.budgets)
    assert not _over_caps(res, p.state, replace(p.settings.budgets, total=None))


def test_move_now_sells_a_glides_names_in_full():
    """Reviewer 1 (session 24): "Move now" (sell what differs from the target today,
    whatever the tax) kept 5 of chen's 300 XOM (fossil fuels ``sell_within:2``): its step
    0 only capped the name at the glide's line and kept a few shares as a hedge of the
    names the client keeps. The retiree's kept one of its 645 SLB (``sell_within:3``).
    Moving now sells every glide name in full today
    (:func:`pma_lab.optimize.state.go_to_target_state`); the plan's later steps hold none."""
    from pma_lab.plan.simulation import first_trades

    setup = prepare(load_client(clients_dir() / "retiree" / "profile.toml"))
    s = TransitionSettings(mc_paths=0, workers=1)
    res = first_trades(setup, "immediate", s)
    held: dict[str, float] = {}
    for lt in setup.ledger.lots():
        held[lt.ticker] = held.get(lt.ticker, 0.0) + float(lt.shares)
    sold = res.trades.set_index("ticker").shares
    for t in ("COP", "CVX", "SLB", "XOM"):  # the profile's fossil-fuel names held
        assert float(sold[t]) == held[t], t
    assert res.weights.reindex(["COP", "CVX", "SLB", "XOM"]).fillna(0.0).abs().max() < 1e-12
    # each is sold as a name the client must not hold, not along its glide
    why = res.decisions.set_index("ticker").reason
    assert why[why.index.isin(["SLB", "XOM"])].str.contains("must not hold").all()
    # a glide plan's first step still sells only what its glide asks (and what the tax
    # allows): the glide paces the plans that move over time
    paced = first_trades(setup, "3y", s).trades.set_index("ticker").shares
    assert float(paced.get("SLB", 0.0)) < held["SLB"]

def test_annual_steps_date_each_years_figures_by_its_step():
    """Reviewer 1 (session 25, #18): with annual steps yearly.csv's first-year value_end
    was today's value under a heading of "the end of each year", and Move now's time to the
    target read 1 year (0.3 years quarterly). The years' figures now carry the step they
    are measured on (``end_step``: with annual steps the first year's is today). The time
    to the target stays the first step within the band (tech-exec: a wash-sale lock keeps
    Move now above the band's 0.50 % for weeks, which its note says), as fine as the
    steps' spacing: the lead kept that rather than call the target reached today."""
    from pma_lab.plan.transition import TransitionSettings

    s = prepare(load_client(clients_dir() / "tech-exec" / "profile.toml"))
    for per_year in (1, 4):
        st = TransitionSettings(mc_paths=0, horizon_years=1, steps_per_year=per_year,
                                workers=1)
        an = run_transition(s, [parse_plan("immediate")], st)
        run = next(r for r in an.runs if r.path == "expected")
        assert not run.failed
        assert float(run.steps.te_target.iloc[0]) > st.te_band  # the locks kept it above
        # a later step's (quarterly: the next one), never today's
        assert not run.years_to_target <= 0, per_year
        if per_year == 4:
            assert run.years_to_target == pytest.approx(
                (run.steps.date.iloc[1] - run.steps.date.iloc[0]).days / 365.25)
        assert "as close as wash-sale locks" in str(run.steps.note.iloc[0])
        assert run.years.end_step.iloc[0] == (s.as_of if per_year == 1 else
                                              run.steps.date[run.steps.year == s.as_of.year]
                                              .iloc[-1])
        assert isinstance(run.years.end_step.iloc[0], dt.date)
