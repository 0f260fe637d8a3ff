"""The Lagrangian bound of a sign pattern (pma_lab.optimize.pattern_bound, issue 16, session
12): a lower bound on the pattern's optimum, tight enough to skip patterns the two-step
would not keep, and the same trades with and without the skipping."""

from __future__ import annotations

import datetime as dt
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pandas as pd
import pytest

from pma_lab.optimize import pattern_bound as pattern_bound_module
from pma_lab.optimize import strategies
from pma_lab.optimize.gap import random_account, random_book, study_market
from pma_lab.optimize.pattern_bound import PatternData, dual_start, pattern_bound
from pma_lab.optimize.rebalance import RebalanceProblem, RebalanceSettings, account_state
from pma_lab.tax.liability import TaxProfile

AS_OF = dt.date(2024, 6, 28)


@pytest.fixture(scope="module")
def market():
    return study_market(AS_OF)


def _book(market, seed: int, n: int):
    return random_account(market, seed, n, AS_OF)


def _frames(r):
    return r.lot_trades, r.trades, r.decisions, r.weights


def _pruned_and_full(st, sub, target, s, led):
    """The problem solved with pattern pruning and without (every pattern solved), after
    checking their frames are equal to the bit: (on, off, its result, off's result)."""
    on = RebalanceProblem(st, sub, target, s, led)
    off = RebalanceProblem(st, sub, target, s, led)
    off.prune_patterns = False
    a, b = on.solve(), off.solve()
    for x, y in zip(_frames(a), _frames(b), strict=True):
        assert x.equals(y)
    return on, off, a, b


@pytest.mark.parametrize("seed", [4, 7, 11])
def test_the_bound_is_below_every_patterns_optimum_and_close_to_it(market, seed):
    """Each loss-relevant name's other side, one at a time from the two-step's sides: the
    bound (from the two-step's multipliers) is never above the pattern's solved optimum
    (beyond the solver's 1e-9) and, where covered, within 1e-6 of it."""
    st, sub, target, led = _book(market, seed, 40)
    p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.4), led)
    p.solve()
    base = p._last_sell.copy()
    rel = np.flatnonzero(p._loss_relevant() & p.has_lots)
    assert len(rel)
    buy, lot_cap, w_cap = p.base_buy, p.base_lot_cap, p.base_w_cap
    checked = 0
    for i in rel[:6]:
        p.prune_patterns = False
        p._fixed(base, buy, lot_cap, w_cap)  # the multipliers the bound starts from
        flip = base.copy()
        flip[i] = not flip[i]
        bound = pattern_bound(p, flip, buy, lot_cap, w_cap)
        p._tie_base = None  # solve it (no tie skip)
        assert p._fixed(flip, buy, lot_cap, w_cap) == "optimal"
        value = float(p.exact.value)
        assert bound <= value + 1e-9 * max(1.0, abs(value))
        if np.isfinite(bound):
            assert bound >= value - 1e-6
            checked += 1
    assert checked


def test_skipping_patterns_keeps_every_trade_on_random_books(market, monkeypatch):
    """Random books, with and without a TE cap and whole shares, at five aversions: the
    frames with ``prune_patterns`` equal those that solve every pattern, to the bit, and
    some patterns were skipped (bounded whatever the book's size: these books are small)."""
    monkeypatch.setattr(strategies, "PRUNE_MIN_LOTS", 0)
    pruned = 0
    for seed, n in ((1, 30), (5, 45), (9, 25)):
        st, sub, target, led = _book(market, seed, n)
        for s in (RebalanceSettings(gamma_tax=0.5, min_trade=100.0),
                  RebalanceSettings(gamma_tax=0.5, min_trade=100.0, te_cap=0.03,
                                    whole_shares=True)):
            on = RebalanceProblem(st, sub, target, s, led)
            off = RebalanceProblem(st, sub, target, s, led)
            off.prune_patterns = False
            for g in (0.5, 0.2, 1.0, 0.0, 0.05):
                on.update(gamma_tax=g)
                off.update(gamma_tax=g)
                a, b = on.solve(), off.solve()
                for x, y in zip(_frames(a), _frames(b), strict=True):
                    assert x.equals(y)
                assert a.summary.tax == b.summary.tax
                assert off.pruned_solves == 0
                pruned += on.pruned_solves
                # a pruned pattern is not solved (and the solution in hand stays the
                # incumbent's, so later ties with it are skipped too)
                assert a.summary.solves <= b.summary.solves - on.pruned_solves
    assert pruned > 0


def test_a_binding_cap_prunes_by_the_capped_bound_and_keeps_every_trade(market):
    """Session 17: under a binding TE cap (0.5 %, 1 %) on small random books (far below
    ``PRUNE_MIN_LOTS``), patterns are pruned by the capped bound from the incumbent's
    cost weight and multipliers: the frames equal those that solve every pattern, to the
    bit, with one sign-fixed solve fewer per pruned pattern."""
    pruned = 0
    for seed, n in ((1, 20), (3, 40), (2, 60)):
        st, sub, target, led = _book(market, seed, n)
        for cap in (0.005, 0.01):
            s = RebalanceSettings(te_cap=cap)
            on, off, a, b = _pruned_and_full(st, sub, target, s, led)
            assert a.summary.tax == b.summary.tax
            assert float(on.exact.value) == float(off.exact.value)
            assert off.pruned_solves == 0
            assert a.summary.solves == b.summary.solves - on.pruned_solves
            pruned += on.pruned_solves
    assert pruned >= 5


def test_a_pattern_with_a_solved_patterns_sides_is_not_solved_again(market, monkeypatch):
    """Session 17: a flip that gives its loss-relevant names the sides of a pattern the
    certified dual solved already (its problem, and so its solve from multipliers set by
    the data, is that one's) is pruned when that one did not win, with no bound (the
    capped bound is switched off here): seed 4's 20-name book at a 1 % cap has one; the
    frames are those of solving every pattern."""
    monkeypatch.setattr(strategies, "capped_bound", lambda *a, **k: -np.inf)
    st, sub, target, led = _book(market, 4, 20)
    s = RebalanceSettings(te_cap=0.01)
    on, off, a, b = _pruned_and_full(st, sub, target, s, led)
    assert on.pruned_solves == 1
    assert a.summary.solves == b.summary.solves - 1


def test_uncovered_problems_get_no_bound(market):
    """One variable per lot (``aggregate=False``) and the capped loss credit: no bound,
    every pattern solved."""
    st, sub, target, led = _book(market, 4, 30)
    for s in (RebalanceSettings(gamma_tax=0.4, aggregate=False),
              RebalanceSettings(gamma_tax=0.4, tax_credit="capped")):
        p = RebalanceProblem(st, sub, target, s, led)
        p.solve()
        assert pattern_bound(p, p._last_sell, p.base_buy, p.base_lot_cap,
                             p.base_w_cap) == -np.inf
        assert p.pruned_solves == 0


def test_a_pattern_is_not_pruned_against_a_worse_incumbent(market):
    """Against an incumbent far above the pattern's optimum the bound never proves it
    cannot win (it is a lower bound of that optimum)."""
    st, sub, target, led = _book(market, 7, 40)
    p = RebalanceProblem(st, sub, target, replace(RebalanceSettings(), gamma_tax=0.4), led)
    p.solve()
    value = float(p.exact.value)
    sides = p._last_sell
    assert pattern_bound(p, sides, p.base_buy, p.base_lot_cap, p.base_w_cap,
                         target=value + 1e-4) < value + 1e-4


@pytest.mark.parametrize("dual_qp", [False, True])
def test_a_pattern_whose_qp_would_pass_the_cap_is_solved(market, monkeypatch, dual_qp):
    """A random book whose capped re-solve goes to the capped problem once a pattern's QP
    ends above the 3 % TE cap: that pattern's bound proves it cannot win, but skipping it
    would leave the later solves on the QP path (other round-off in the trades); it is
    solved, and the frames equal those that solve every pattern. With the certified dual
    (the default since session 14) every solve, capped or not, is the dual's: the same."""
    monkeypatch.setattr(strategies, "PRUNE_MIN_LOTS", 0)
    rm, px, sectors = market
    rng = np.random.default_rng(42)
    n = int(rng.integers(12, 61))
    led, sub, target = random_book(rng, rm, px, sectors, n)
    tax = TaxProfile.from_rates(0.408, 0.238)
    etf = pd.DataFrame({"ticker": [], "category": [], "gics_sector": []})
    st = account_state(led, "T", AS_OF, px, sub, target, tax, sectors=sectors, etf_info=etf)
    s = RebalanceSettings(gamma_tax=0.5, min_trade=100.0, te_cap=0.03, dual_qp=dual_qp)
    on, off, a, b = _pruned_and_full(st, sub, target, s, led)
    assert [e["solver"] for e in on._log] == [e["solver"] for e in off._log]
    fixed = [e["solver"] for e in on._log if e["problem"] == "sign-fixed"]
    if dual_qp:
        assert set(fixed) == {"dual"} and on.pattern_solver.stats["capped"] > 0
    else:
        assert "CLARABEL" in fixed


def test_a_pattern_with_nothing_to_sell_is_bounded(market, monkeypatch):
    """A sign pattern with no sellable lot pieces (a two-name book, seed 15): the bound
    handles the empty sale curves (review, session 12: an IndexError where solving every
    pattern worked) and the trades are those of the full search."""
    monkeypatch.setattr(strategies, "PRUNE_MIN_LOTS", 0)
    st, sub, target, led = _book(market, 15, 2)
    s = RebalanceSettings(gamma_tax=0.5)
    on, off, a, b = _pruned_and_full(st, sub, target, s, led)


def test_pattern_data_is_frozen_and_its_copies_keep_only_the_caches_they_can(market):
    """Review 15 M4: the pattern's Lagrangian data is a frozen PatternData. A copy
    (:meth:`PatternData.replace`) keeps the fixed arrays and the sort memo while their
    sources stay, and drops each one whose source changes (a new memo); an unknown
    field is an error. The dual of a copy equals that of the same data without caches,
    to the bit."""
    st, sub, target, led = _book(market, 4, 30)
    p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.4), led)
    p.solve()
    c = pattern_bound_module._setup(p, p._last_sell, p.base_buy, p.base_lot_cap,
                                    p.base_w_cap)
    assert isinstance(c, PatternData) and c.memo is None
    with pytest.raises(FrozenInstanceError):
        c.wt = c.wt * 0.5  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field"):
        c.replace(sorted={})
    m = c.with_memo()
    fixed, centre = m.fixed, m.centre
    y0 = dual_start(p)
    m_D = pattern_bound_module._dual(m, y0)
    assert m.memo.key == y0[1:4].tobytes() and m.memo.sorted is not None
    shifted = m.replace(wt=0.9 * c.wt)  # another target: the fixed arrays and sort stay
    assert shifted.fixed is fixed and shifted.memo is m.memo
    assert shifted.centre is not centre
    weighed = m.replace(unit=2.0 * c.unit)  # other costs: the fixed arrays stay, a new sort
    assert weighed.fixed is fixed and weighed.centre is centre
    assert weighed.memo is not m.memo and weighed.memo.key is None
    other = m.replace(sell_ok=np.zeros_like(c.sell_ok), hold_ok=np.ones_like(c.hold_ok))
    assert "fixed" not in vars(other) and other.centre is centre
    assert c.replace(q=2 * c.q).memo is None  # no memo: none made
    for d in (m, shifted, weighed, other):
        got = pattern_bound_module._dual(d, y0)
        ref = pattern_bound_module._dual(replace(d, memo=d.memo and type(d.memo)()), y0)
        assert got[0] == ref[0] and all(a.tobytes() == b.tobytes()
                                        for a, b in zip(got[1:], ref[1:], strict=True))
    assert pattern_bound_module._dual(m, y0)[0] == m_D[0]


def test_the_lots_sorted_again_at_other_budget_multipliers_are_sorted_anew(market):
    """Session 20: where the budgets' multipliers move and the lots' order stays (an
    ascent's later steps), :func:`_sorted` reuses the last sort's segments and computes
    only the costs again: the same bits as a sort from nothing; where the order changes
    the sort is made anew, keeping (session 23) the last sort's names in order, segments
    and ``q`` (sorted by name whatever the order within a name)."""
    st, sub, target, led = random_account(market, 3, 40)
    p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.4), led)
    p.solve()
    sell = p._last_sell.copy()
    c = pattern_bound_module._setup(p, sell, p.base_buy, p.base_lot_cap, p.base_w_cap)
    assert len(c.unit) > 5
    prev = pattern_bound_module._sorted(c, np.zeros(3))
    reused = 0
    # the short-term budget's multiplier at 10 reorders this book's lots, the others not
    for beta in ([1e-6, 0.0, 0.0], [0.0, 2e-6, 1e-6], [0.0, 10.0, 0.0], [0.0, 10.000001, 0.0],
                 [0.0, 0.0, 10.0]):
        beta = np.array(beta)
        fresh = pattern_bound_module._sorted(c, beta)
        again = pattern_bound_module._sorted(c, beta, prev=prev)
        assert len(fresh) == len(again) == 13
        for a, b in zip(fresh, again, strict=True):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
        reused += again[5] is prev[5]  # the sale's sizes kept: the same order
        assert again[1] is prev[1] and again[4] is prev[4] and again[12] is prev[12]
        prev = again
    assert reused == 3  # both cases ran


def test_the_newton_system_is_solved_as_numpy_solves_it_to_the_bit():
    """Session 23: :func:`maximise`'s Newton system is built by :func:`_regularised` (no
    ``np.diag``/``np.ix_``) and solved by :func:`_solve` (numpy's LAPACK gufunc without
    ``np.linalg.solve``'s checks): the same matrix, zeros' signs included, and the same
    solution to the bit as before; a singular system raises LinAlgError as before."""
    rng = np.random.default_rng(5)
    E = rng.normal(size=(30, 9))
    E[:, 3] = 0.0  # a row with no curvature (its zeros: -0.0 once negated)
    H = -(E.T @ E)
    H[7, 2] = H[2, 7] = -0.0
    curv = -H.diagonal()
    free = (curv > 1e-12 * curv.max()).nonzero()[0]
    mask = curv > 1e-12 * curv.max()
    Hf = -H[np.ix_(mask, mask)]
    old = Hf + 1e-12 * np.diag(np.diag(Hf))
    new = pattern_bound_module._regularised(H, free, curv[free])
    assert new.tobytes() == old.tobytes() and len(free) == 8
    g = rng.normal(size=len(free))
    assert pattern_bound_module._solve(new, g).tobytes() == np.linalg.solve(old, g).tobytes()
    with pytest.raises(np.linalg.LinAlgError, match="Singular"):
        pattern_bound_module._solve(np.ones((3, 3)), np.ones(3))
