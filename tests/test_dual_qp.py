"""The sign-fixed QP solved by its Lagrangian dual (pma_lab.optimize.dual_qp, issue 16,
session 13): the same optimum as the cvxpy solve, a certificate checked on every use that
rejects a wrong solution (the cvxpy solve then runs, counted), and the frontier with it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from test_frontier import pin_one_split  # tests/ is on sys.path (pytest's prepend mode)

from pma_lab.errors import SettingsError
from pma_lab.io.client import load_client
from pma_lab.optimize import dual_qp as dual_qp_module
from pma_lab.optimize import pattern_bound
from pma_lab.optimize.dual_qp import DualQP, violation_and_objective
from pma_lab.optimize.engine import prepare, problem_for_client
from pma_lab.optimize.frontier import efficient_frontier
from pma_lab.optimize.gap import book_state, random_account, random_book, study_market
from pma_lab.optimize.rebalance import RebalanceProblem, RebalanceSettings, account_state
from pma_lab.paths import clients_dir
from pma_lab.tax.liability import TaxProfile

AS_OF = dt.date(2024, 6, 28)


@pytest.fixture(scope="module")
def market():
    return study_market(AS_OF)


def _problem(market, seed: int, n: int, **settings) -> RebalanceProblem:
    rm, px, sectors = market
    led, sub, target = random_book(np.random.default_rng(seed), rm, px, sectors, n)
    st = book_state(led, sub, target, px, sectors, AS_OF)
    return RebalanceProblem(st, sub, target, RebalanceSettings(**settings), led)


def _solution(p: RebalanceProblem) -> tuple:
    return (np.array(p.sc.value, dtype=float), np.array(p.b.value, dtype=float),
            float(p.exact.value))


def _patterns(p: RebalanceProblem):
    """The two-step's sides, then each of the first loss-relevant names flipped."""
    p.solve()
    base = p._last_sell.copy()
    yield base
    for i in np.flatnonzero(p._loss_relevant() & p.has_lots)[:4]:
        flip = base.copy()
        flip[i] = not flip[i]
        yield flip


def _solve_fixed(p, solver, sell, buy, lot_cap, w_cap):
    """Solve one sign pattern anew with ``solver`` as the pattern solver (None: cvxpy);
    the solution (:func:`_solution`)."""
    p.pattern_solver = solver
    p._tie_base = None
    assert p._fixed(sell, buy, lot_cap, w_cap) == "optimal"
    return _solution(p)


@pytest.mark.parametrize("seed", [3, 8])
def test_the_dual_solution_is_the_cvxpy_solution(market, seed):
    """Sign patterns of random books: the dual's weights are the cvxpy solve's within the
    solver's accuracy (1e-7 of the account), its objective no higher than the solver's
    (beyond 1e-9), its certificate within the tolerances; every call certified."""
    p = _problem(market, seed, 40, gamma_tax=0.4)
    buy, lot_cap, w_cap = p.base_buy, p.base_lot_cap, p.base_w_cap
    dual = DualQP(p)
    n = 0
    for sell in _patterns(p):
        sc0, b0, v0 = _solve_fixed(p, None, sell, buy, lot_cap, w_cap)
        sc1, b1, v1 = _solve_fixed(p, dual, sell, buy, lot_cap, w_cap)
        assert dual.last["status"] == "solved"
        assert p._log[-1]["solver"] == "dual"
        assert np.max(np.abs(sc1 - sc0)) < 1e-7 and np.max(np.abs(b1 - b0)) < 1e-7
        assert v1 <= v0 + 1e-9
        assert dual.last["violation"] <= dual.feas_tol
        assert abs(dual.last["gap"]) <= dual.gap_tol
        n += 1
    assert n >= 2
    assert dual.stats == {"solved": n, "capped": 0, "not_covered": 0, "rejected": 0}


def test_a_perturbed_solution_is_rejected_and_the_cvxpy_solve_runs(market, monkeypatch):
    """Multipliers moved off the maximum (a wrong solution): the certificate fails (a
    constraint violated or a duality gap), the call returns None, the rejection is
    counted, and the problem's own cvxpy solve gives the optimum."""
    p = _problem(market, 3, 40, gamma_tax=0.4)
    buy, lot_cap, w_cap = p.base_buy, p.base_lot_cap, p.base_w_cap
    sell = next(_patterns(p))
    p._tie_base = None
    p._fixed(sell, buy, lot_cap, w_cap)
    expected = _solution(p)
    real = dual_qp_module.maximise

    def perturbed(c, y, *args, **kwargs):
        y, D, g, H, w = real(c, y, *args, **kwargs)
        y = y.copy()
        y[0] += 1e-3  # the cash multiplier: more cash than the row allows is spent
        D, g, H, w = dual_qp_module._dual(c, y)
        return y, D, g, H, w

    monkeypatch.setattr(dual_qp_module, "maximise", perturbed)
    dual = DualQP(p)
    p.pattern_solver = dual
    p._tie_base = None
    assert dual(p, sell, buy, lot_cap, w_cap) is None
    assert dual.last["status"] == "rejected"
    assert dual.last["violation"] > dual.feas_tol or abs(dual.last["gap"]) > dual.gap_tol
    assert dual.stats["rejected"] == 1 and dual.fallbacks == 1
    p._tie_base = None
    assert p._fixed(sell, buy, lot_cap, w_cap) == "optimal"
    assert dual.stats["rejected"] == 2
    assert p._log[-1]["solver"] != "dual"
    got = _solution(p)
    assert np.allclose(got[0], expected[0], atol=1e-9) and got[2] == pytest.approx(expected[2])


def test_added_constraints_are_not_covered(market):
    """A researcher's constraint is not in the dual: the cvxpy solve runs, counted."""
    p = _problem(market, 8, 30, gamma_tax=0.4)
    name = next(t for t in p.state.assets[: p.nm] if p.h[p.asset_index[t]] > 0)
    p.add_constraint(lambda q: q.w[q.asset_index[name]] <= 0.9, name="cap")
    dual = DualQP(p)
    p.pattern_solver = dual
    p.solve()
    assert dual.stats["solved"] == 0 and dual.stats["not_covered"] > 0


def test_the_frontier_with_the_dual_solver(market, monkeypatch):
    """A frontier with ``dual_qp=True``: the sign-fixed QPs solved by the dual and
    counted (``Frontier.qp_solves``); the swept points' whole-share trades, tax and TE as
    with cvxpy. Go to target (a tax tie-breaker only) sells a lot exactly in full where
    PIQP stops short of it and the whole-share step rounds that partial sale down: its
    TE (all its objective weighs) is lower with the dual, its tax within $25."""
    p = _problem(market, 5, 35, gamma_tax=0.4, whole_shares=True, min_trade=200.0)
    gammas = [2.0, 0.5, 0.1]
    new = efficient_frontier(p, gammas=gammas, dual_qp=True)
    old = efficient_frontier(p, gammas=gammas, dual_qp=False)
    assert new.qp_solves["solved"] > 0 and old.qp_solves == {}
    assert set(new.qp_solves) == {"solved", "capped", "not_covered", "rejected"}
    cols = ["te", "tax_economic", "tax_this_year", "trades", "names"]
    swept = new.all_points.kind != "target"
    np.testing.assert_allclose(new.all_points.loc[swept, cols].to_numpy(float),
                               old.all_points.loc[swept, cols].to_numpy(float),
                               rtol=0, atol=1e-6)
    assert list(new.certificates.signs) == list(old.certificates.signs)
    t_new, t_old = new.all_points[~swept].iloc[0], old.all_points[~swept].iloc[0]
    assert t_new.te <= t_old.te + 1e-9
    assert abs(t_new.tax_economic - t_old.tax_economic) < 25.0
    # on two forked workers: every point the serial sweep's, the workers' QPs counted
    # (the schedule pinned: a worker slow to start could have its chain, 2-3, taken
    # over, and the QPs counted depended on where it was split)
    pin_one_split(monkeypatch)
    two = efficient_frontier(p, gammas=gammas, dual_qp=True, workers=2)
    assert two.chains == ((2, 3), (4, 4)) and two.all_points.equals(new.all_points)
    assert two.certificates.equals(new.certificates)
    assert two.qp_solves["solved"] >= new.qp_solves["solved"]


def test_the_dual_is_the_frontiers_default(market):
    """``efficient_frontier`` solves the sign-fixed QPs by the dual unless told not to
    (session 13: the proposal, the dashboard and ``pma-lab frontier`` sweep with the
    default): the same frontier as ``dual_qp=True``, the QPs counted; ``dual_qp=False``
    keeps every QP in cvxpy."""
    p = _problem(market, 5, 35, gamma_tax=0.4, whole_shares=True, min_trade=200.0)
    default = efficient_frontier(p, gammas=[0.5])
    assert default.qp_solves["solved"] > 0
    assert default.all_points.equals(efficient_frontier(p, gammas=[0.5], dual_qp=True).all_points)
    assert efficient_frontier(p, gammas=[0.5], dual_qp=False).qp_solves == {}


def test_the_kink_search_reaches_the_maximum_where_newton_stalls(market):
    """A sector limit 20 % below the sector's weight today: at zero multipliers no name
    of the sector responds to its limit (each would sell from its first lot's kink on),
    so Newton's steps leave that multiplier where it is and stall; the search along the
    projected gradient (``kinks=True``) passes the kinks and reaches the maximum, equal
    to the cvxpy solve's optimum (beyond the solver's accuracy), and the dual solver is
    certified there."""
    rm, px, sectors = market
    led, sub, target = random_book(np.random.default_rng(2), rm, px, sectors, 40)
    tax = TaxProfile.from_rates(0.408, 0.238)
    etf = pd.DataFrame({"ticker": [], "category": [], "gics_sector": []})
    st = account_state(led, "T", AS_OF, px, sub, target, tax, cash=0.0, sectors=sectors,
                       etf_info=etf)
    held = pd.Series(st.lots.value.to_numpy(), index=st.lots.ticker).groupby(level=0).sum()
    by_sector = (held / st.value).groupby(sectors.reindex(held.index)).sum()
    limit = {by_sector.idxmax(): 0.8 * float(by_sector.max())}
    st = account_state(led, "T", AS_OF, px, sub, target, tax, cash=0.0, sectors=sectors,
                       etf_info=etf, sector_limits=limit)
    p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=2.0), led)
    p.solve()
    sell, buy, lot_cap, w_cap = p._last_sell.copy(), p.base_buy, p.base_lot_cap, p.base_w_cap
    optimum = float(p.exact.value)
    c = pattern_bound._setup(p, sell, buy, lot_cap, w_cap)
    y0 = np.zeros(4 + c.S.shape[0] + c.B.shape[1])
    y, D, g, _, _ = pattern_bound.maximise(c, y0, np.inf, 40, True)
    assert pattern_bound._stationarity(c, y, g) > 1e-3  # stalled below the maximum
    assert D < optimum - 1e-3
    y, D, g, _, _ = pattern_bound.maximise(c, y0, np.inf, 40, True, kinks=True)
    assert pattern_bound._stationarity(c, y, g) < 1e-12
    assert optimum - 1e-9 <= D <= optimum + 1e-12
    dual = DualQP(p)
    p.pattern_solver = dual
    p._tie_base = None
    assert p._fixed(sell, buy, lot_cap, w_cap) == "optimal"
    assert dual.stats["solved"] == 1
    assert float(p.exact.value) == pytest.approx(optimum, abs=1e-9)


def test_the_kink_search_stops_at_a_falling_multipliers_bound(market):
    """Sessions 20-21: started with the gain budgets' multipliers at 1 (budgets that do
    not bind: no curvature, a large negative gradient) and the binding sector limit's
    above its optimum, where its names are sold out (no curvature either), Newton leaves
    those multipliers and the kink search (:func:`pattern_bound._kink_step`) runs. Its
    first step, scaled by the other rows' curvature, overshot far past the bound (0) of
    the falling multipliers, where the clipped path is flat, and the search stopped there
    with no better point: the ascent stalled ~3,000 below the optimum (projected gradient
    ~1e3; young-pro's plan steps: gap 1.18, each QP to PIQP, until session 20's
    ``dual_qp._bound_step`` patched :func:`dual_qp._ascend` alone). Now the search stops at
    the path's first breakpoint and searches the piece before it: ``maximise`` alone
    reaches the maximum, the cvxpy solve's optimum, and the solution it writes passes the
    certificate (constraints within FEAS_TOL, gap within GAP_TOL) from every such start."""
    rm, px, sectors = market
    led, sub, target = random_book(np.random.default_rng(2), rm, px, sectors, 40)
    tax = TaxProfile.from_rates(0.408, 0.238)
    etf = pd.DataFrame({"ticker": [], "category": [], "gics_sector": []})
    st = account_state(led, "T", AS_OF, px, sub, target, tax, cash=0.0, sectors=sectors,
                       etf_info=etf)
    held = pd.Series(st.lots.value.to_numpy(), index=st.lots.ticker).groupby(level=0).sum()
    by_sector = (held / st.value).groupby(sectors.reindex(held.index)).sum()
    limit = {by_sector.idxmax(): 0.8 * float(by_sector.max())}
    st = account_state(led, "T", AS_OF, px, sub, target, tax, cash=0.0, sectors=sectors,
                       etf_info=etf, sector_limits=limit)
    p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=2.0), led)
    p.solve()
    sell, buy, lot_cap, w_cap = p._last_sell.copy(), p.base_buy, p.base_lot_cap, p.base_w_cap
    optimum = float(p.exact.value)
    c = pattern_bound._setup(p, sell, buy, lot_cap, w_cap)
    ns = c.S.shape[0]
    y_opt, _, _, _, _ = pattern_bound.maximise(c, dual_qp_module.cold_start(c), np.inf, 40,
                                               True, kinks=True)
    k = 4 + int(np.argmax(y_opt[4:4 + ns]))  # the binding limit's multiplier
    assert y_opt[k] > 1.0 and np.all(y_opt[1:4] == 0.0)
    dual = DualQP(p)
    for raised in (1.15, 1.2, 1.25, 2.0, 3.0):
        y0 = dual_qp_module.cold_start(c)
        y0[1:4] = 1.0
        y0[k] = raised * y_opt[k]
        trades: dict = {}
        y, D, g, _, _ = pattern_bound.maximise(c.with_memo(), y0, np.inf, 40, True,
                                               kinks=True, trades=trades)
        assert pattern_bound._stationarity(c, y, g) < 1e-12  # was ~1e3: stalled
        assert optimum - 1e-9 <= D <= optimum + 1e-12  # was ~3,000 below
        # the certificate DualQP checks, on the solution maximise's trades write
        assert dual._write(p, c, y, trades) == "optimal"
        viol, value = violation_and_objective(p._exact_problem(False), {})
        assert viol <= dual_qp_module.FEAS_TOL
        assert abs(value - D) <= dual_qp_module.GAP_TOL
        got = dual_qp_module._ascend(c, y0, 40)
        assert got is not None
        assert optimum - 1e-9 <= got[1] <= optimum + 1e-12


def test_the_ascent_leaves_a_singular_pair_of_budget_multipliers(monkeypatch):
    """Session 21: one of tech-exec's zero-gain-budget plan steps (the sign-fixed QP's
    Lagrangian data as ``DualQP`` built it, saved from the plans' replay,
    ``benchmarks/bench_dual_replay.py``). The names whose sale ends inside a lot there sell
    long-term lots only, so the total and long-term budgets' Hessian rows are equal (the
    two budgets too, $0 of gain left): ``D`` is linear along their multipliers'
    difference on these pieces, Newton's step along it is ~1e7 and every halving fails,
    and the kink search along the projected gradient zigzags with the cash multiplier
    (~3e-8 a step): the ascent ended at projected gradient 3.2e-4 and the certificate
    failed (PIQP solved it). The null-space step (:func:`dual_qp._null_step`: the gradient's
    part in the free block's singular directions, searched to the next kink) reaches the
    maximum; without it (``NULL_ROUNDS = 0``) the ascent stalls as before."""
    with np.load(Path(__file__).parent / "fixtures" / "dual_qp" /
                 "tech_exec_singular_budgets.npz") as f:
        data = {k: (f[k].item() if f[k].ndim == 0 else f[k]) for k in f.files}
    data["n"] = int(data["n"])
    c = pattern_bound.PatternData(**data, fund=None)
    at: dict = {}
    y, D, _, _, _ = dual_qp_module._ascend(c, dual_qp_module.cold_start(c), 40, at)
    assert pattern_bound._stationarity(c, y, at["g"]) < 1e-12
    monkeypatch.setattr(dual_qp_module, "NULL_ROUNDS", 0)
    at0: dict = {}
    y0, D0, _, _, _ = dual_qp_module._ascend(c, dual_qp_module.cold_start(c), 40, at0)
    assert pattern_bound._stationarity(c, y0, at0["g"]) > 1e-4  # stalled
    # ~2.0e-4 above the stall (1.7e-3 before session 24's adapted line search, whose
    # stall is nearer): far beyond the certificate's 1e-10
    assert D > D0 + 1e-4


def test_every_problem_solves_its_qps_by_the_dual_unless_told_not_to(market):
    """Session 14: a RebalanceProblem installs the certified dual (``pattern_solver``)
    and uses it while ``RebalanceSettings.dual_qp`` (the default); ``dual_qp=False``
    sends every sign-fixed problem to cvxpy, as before. The same trades within the QP
    solver's accuracy, the dual's objective no higher."""
    st, sub, target, led = random_account(market, 3, 40)
    on = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.4), led)
    off = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.4, dual_qp=False),
                           led)
    assert isinstance(on.pattern_solver, DualQP) and not on.pattern_solver.warm
    a, b = on.solve(), off.solve()
    fixed_on = {e["solver"] for e in on._log if e["problem"] == "sign-fixed"}
    fixed_off = {e["solver"] for e in off._log if e["problem"] == "sign-fixed"}
    assert fixed_on == {"dual"} and "dual" not in fixed_off
    assert on.pattern_solver.stats["solved"] >= 1 and off.pattern_solver.stats["solved"] == 0
    assert list(a.trades.ticker) == list(b.trades.ticker)
    # PIQP's accuracy: 1e-7 of the account
    assert np.max(np.abs(a.trades.value - b.trades.value)) / on.V < 1e-7
    assert float(on.exact.value) <= float(off.exact.value) + 1e-9
    on.update(dual_qp=False)  # a setting like any other: the next solve goes to cvxpy
    on.solve()
    # (the relaxation's own dual, relax_dual, logs "dual" for the relaxed problem)
    assert "dual" not in {e["solver"] for e in on._log if e["problem"] == "sign-fixed"}
    with pytest.raises(SettingsError, match=r"dual_qp='yes'.*True"):
        RebalanceSettings(dual_qp="yes")


def _capped(market, seed: int, share: float, **settings) -> tuple:
    """A random book with a TE cap at ``share`` of the uncapped solution's TE (binding)."""
    st, sub, target, led = random_account(market, seed, 40)
    p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.4, **settings), led)
    te = p.solve().summary.te_after
    cap = share * te
    p.update(te_cap=cap)
    return p, cap


@pytest.mark.parametrize("seed", [3, 8])
@pytest.mark.parametrize("share", [0.9, 0.5])
def test_a_binding_te_cap_is_solved_by_the_dual_at_clarabels_optimum(market, seed, share):
    """Session 14: the sign-fixed problem whose TE cap binds, solved by the dual (a search
    on the cap's multiplier, each point the exact uncapped dual with the costs weighed
    down): at the capped problem's optimum as cvxpy + Clarabel find it (weights within
    the solver's accuracy, the dual's objective no higher beyond 1e-9), TE at the cap and
    not above it, the weak-duality gap with the cap's term within the tolerance; the
    capped problem is ``exact`` and holds the cap's multiplier; counted as ``capped``."""
    p, cap = _capped(market, seed, share)
    buy, lot_cap, w_cap = p.base_buy, p.base_lot_cap, p.base_w_cap
    dual = DualQP(p)
    n = 0
    for sell in _patterns(p):
        sc0, b0, v0 = _solve_fixed(p, None, sell, buy, lot_cap, w_cap)
        if p.exact is not p._exact_cache.get(True):
            continue  # the cap does not bind for these sides
        assert p._log[-1]["solver"] == "CLARABEL"
        sc1, b1, v1 = _solve_fixed(p, dual, sell, buy, lot_cap, w_cap)
        assert dual.last["status"] == "solved" and p._log[-1]["solver"] == "dual"
        assert p.exact is p._exact_cache[True] and dual.last["cap_multiplier"] > 0
        assert np.max(np.abs(sc1 - sc0)) < 1e-6 and np.max(np.abs(b1 - b0)) < 1e-6
        assert v1 <= v0 + 1e-9
        te2 = float(p.te2_exact.value)
        assert cap ** 2 * (1 - 1e-12) <= te2 <= cap ** 2
        assert dual.last["violation"] <= dual.feas_tol
        assert abs(dual.last["gap"]) <= dual.gap_tol
        cap_row = p.exact.constraints[-1]
        assert float(cap_row.dual_value) == pytest.approx(dual.last["cap_multiplier"])
        n += 1
    assert n >= 2
    assert dual.stats == {"solved": n, "capped": n, "not_covered": 0, "rejected": 0}


def test_the_cap_search_reuses_the_ascents_evaluations_to_the_bit(market, monkeypatch):
    """Session 15: the ascent hands over the trades, gradient and weights of the evaluation
    that found its maximum (none evaluated again) and the slope of the cap's search uses
    them: the same bits as evaluating them again, in fewer evaluations of the dual, and
    the same bits with fixed arrays kept across evaluations at other targets (a fund's)."""
    p, _ = _capped(market, 8, 0.5)
    sell, buy, lot_cap, w_cap = p._last_sell.copy(), p.base_buy, p.base_lot_cap, p.base_w_cap
    p._fixed(sell, buy, lot_cap, w_cap)  # the caps set for these sides
    c = pattern_bound._setup(p, sell, buy, lot_cap, w_cap)
    cap2 = float(p.P["te2_cap"].value)
    calls = [0]
    real = pattern_bound._dual

    def counted(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(pattern_bound, "_dual", counted)
    monkeypatch.setattr(dual_qp_module, "_dual", counted)
    runs = {}
    for reuse in (True, False):
        calls[0] = 0
        at: dict = {}
        y, D, trades, te2, H = dual_qp_module._ascend(c, dual_qp_module.cold_start(c),
                                                      40, at)
        again: dict = {}
        D1, g1, H1, w1 = real(dual_qp_module._weighed(c, 1.0), y, again)
        assert (D, H.tobytes()) == (D1, H1.tobytes())
        assert at["g"].tobytes() == g1.tobytes() and at["w"].tobytes() == w1.tobytes()
        assert all(trades[k].tobytes() == again[k].tobytes() for k in ("sold", "bought"))
        assert te2 > cap2
        extra = (at["g"], at["w"]) if reuse else ()
        t, y_t, D_t, tr_t, steps = dual_qp_module._cap_search(c, y, H, te2, cap2, 40, *extra)
        runs[reuse] = (t, y_t.tobytes(), D_t, tr_t["sold"].tobytes(), tr_t["bought"].tobytes(),
                       steps, calls[0])
    assert runs[True][:-1] == runs[False][:-1]
    assert runs[True][-1] < runs[False][-1]
    # a copy at another target (as _fund_dual makes) shares the fixed arrays: its values
    # are those of a fresh copy, and the original's stay its own
    y0 = dual_qp_module.cold_start(c)
    shifted = c.replace(wt=0.9 * c.wt)
    for d in (shifted, c):
        got, ref = real(d, y0), real(replace(d, memo=None), y0)  # no caches
        assert got[0] == ref[0] and got[1].tobytes() == ref[1].tobytes()
    assert shifted.fixed is c.fixed and shifted.centre is not c.centre
    # copies with other data (the relaxation's branches: other risk, caps, sides) made
    # once the original's fixed arrays and sort are cached: their own values
    c_run = c.with_memo()
    real(c_run, y0)  # both caches filled for c's data
    for change in ({"q": 2.0 * c.q}, {"lo_sell": 0.0 * c.lo_sell},
                   {"sell_ok": np.zeros_like(c.sell_ok), "hold_ok": np.ones_like(c.hold_ok)}):
        other = c_run.replace(**change)
        alone = replace(other, memo=None)
        got, ref = real(other, y0), real(alone, y0)
        assert got[0] == ref[0] and got[1].tobytes() == ref[1].tobytes()


def test_a_capped_solution_the_certificate_rejects_goes_to_cvxpy(market, monkeypatch):
    """A cap multiplier moved off the search's (a wrong capped solution): the weak-duality
    gap fails the certificate, the call returns None, counted as rejected, and the
    problem's own cvxpy solve (Clarabel, with the cap) gives the optimum."""
    p, _ = _capped(market, 3, 0.6)
    sell, buy, lot_cap, w_cap = p._last_sell.copy(), p.base_buy, p.base_lot_cap, p.base_w_cap
    p.pattern_solver = None
    p._tie_base = None
    p._fixed(sell, buy, lot_cap, w_cap)
    assert p.exact is p._exact_cache[True]
    expected = _solution(p)
    real = dual_qp_module._cap_search

    def off(*args, **kwargs):
        t, *rest = real(*args, **kwargs)
        return (0.97 * t, *rest)

    monkeypatch.setattr(dual_qp_module, "_cap_search", off)
    dual = DualQP(p)
    p.pattern_solver = dual
    p._tie_base = None
    assert p._fixed(sell, buy, lot_cap, w_cap) == "optimal"
    assert dual.last["status"] == "rejected" and abs(dual.last["gap"]) > dual.gap_tol
    assert dual.stats == {"solved": 0, "capped": 0, "not_covered": 0, "rejected": 1}
    assert p._log[-1]["solver"] == "CLARABEL"
    got = _solution(p)
    assert np.allclose(got[0], expected[0], atol=1e-9) and got[2] == pytest.approx(expected[2])


def test_a_cap_the_dual_does_not_solve_is_left_to_cvxpy(market):
    """``DualQP(cap=False)`` (the dual before session 14) leaves a binding cap to cvxpy:
    counted as not covered, Clarabel solves it."""
    p, _ = _capped(market, 8, 0.6)
    dual = DualQP(p, cap=False)
    p.pattern_solver = dual
    p.solve()
    assert dual.stats["not_covered"] > 0 and dual.stats["capped"] == 0
    assert "CLARABEL" in {e["solver"] for e in p._log if e["problem"] == "sign-fixed"}


def test_the_certificate_counts_a_variables_own_bounds():
    """Review 14 M1: the purchases and sales are ``nonneg`` variables, a bound cvxpy keeps
    on the variable, not in the problem's constraints: a written solution with a negative
    purchase must fail the feasibility half of the certificate like any violated row."""
    x = cp.Variable(2, nonneg=True)
    y = cp.Variable(bounds=[0.0, 1.0])
    qp = cp.Problem(cp.Minimize(cp.sum_squares(x) + y), [cp.sum(x) == 1])
    cache: dict = {}
    x.save_value(np.array([1.5, -0.5]))  # the row holds; the bound does not
    y.save_value(np.array(0.5))
    viol, obj = violation_and_objective(qp, cache)
    assert viol == pytest.approx(0.5) and obj == pytest.approx(2.5 + 0.5)
    x.save_value(np.array([0.25, 0.75]))
    y.save_value(np.array(1.25))  # above its upper bound
    assert violation_and_objective(qp, cache)[0] == pytest.approx(0.25)
    y.save_value(np.array(1.0))
    assert violation_and_objective(qp, cache)[0] == 0.0


FUND_PRICE = 500.0


def _fund_problem(market, seed: int, n: int, funds=("sp500",), lots: int = 5,
                  **settings) -> RebalanceProblem:
    """A random book of ``n`` names that also holds funds with ``lots`` lots each (gains and
    losses, short and long term): ``"sp500"`` an S&P 500 tracker (its look-through is the
    benchmark, here the book's names at equal weights: not the target), ``"sector"`` a
    sector fund of the book's most common sector (the benchmark's names of it)."""
    rm, px, sectors = market
    rng = np.random.default_rng(seed)
    led, sub, target = random_book(rng, rm, px, sectors, n)
    sec = sectors.reindex(list(sub.tickers)).value_counts().index[-1]
    kinds = {"sp500": ("SPY", "sp500_tracker", None), "sector": ("XLF", "sector_spdr", sec)}
    rows = [kinds[f] for f in funds]
    etf = pd.DataFrame(rows, columns=["ticker", "category", "gics_sector"])
    prices = pd.concat([px, pd.Series({r[0]: FUND_PRICE for r in rows})])
    for ticker, _, _ in rows:
        for _ in range(lots):
            basis = FUND_PRICE * float(rng.uniform(0.6, 1.5))
            shares = int(rng.integers(20, 80))
            acq = AS_OF - dt.timedelta(days=int(rng.integers(10, 1500)))
            led.add_lot("T", ticker, Decimal(shares), Decimal(str(round(shares * basis, 2))),
                        acq)
    bench = pd.Series(1.0 / len(sub.tickers), index=list(sub.tickers))
    st = account_state(led, "T", AS_OF, prices, sub, target,
                       TaxProfile.from_rates(0.408, 0.238), cash=0.0, sectors=sectors,
                       etf_info=etf, benchmark=bench)
    return RebalanceProblem(st, sub, target, RebalanceSettings(**settings), led)


@pytest.mark.parametrize(("kind", "seed", "gamma", "inside"), [
    ("sp500", 3, 0.4, False), ("sp500", 8, 0.4, False), ("sector", 8, 0.4, True),
    ("sector", 3, 0.1, True)])
def test_a_fund_holding_book_is_solved_by_the_dual_at_cvxpys_optimum(market, kind, seed,
                                                                      gamma, inside):
    """Session 15: an account holding a fund (its look-through moves every name's active
    weight) is covered: the fund's sale is found inside the dual (the Lagrangian is
    convex in it, the names separable given it). Every sign pattern certified, the dual's
    weights are Clarabel's at 1e-12 within 1e-9, its objective no higher than PIQP's or
    Clarabel's; the fund is sold in part, whole lots (the loss lots: the slope's sign
    turns at a kink) or, for the sector fund at a low tax aversion (its look-through
    concentrated in few names), within a lot (the secant inside a segment). On main:
    not covered."""
    p = _fund_problem(market, seed, 40, (kind,), gamma_tax=gamma)
    assert p.na == p.nm + 1
    buy, lot_cap, w_cap = p.base_buy, p.base_lot_cap, p.base_w_cap
    dual = DualQP(p)
    n, sold, within = 0, [], 0
    fund_lots = p.lot_asset == p.nm
    for sell in _patterns(p):
        sc0, b0, v0 = _solve_fixed(p, None, sell, buy, lot_cap, w_cap)
        assert p._log[-1]["solver"] != "dual"
        sc1, b1, v1 = _solve_fixed(p, dual, sell, buy, lot_cap, w_cap)
        assert dual.last["status"] == "solved" and p._log[-1]["solver"] == "dual"
        assert v1 <= v0 + 1e-9
        assert dual.last["violation"] <= dual.feas_tol
        assert abs(dual.last["gap"]) <= dual.gap_tol
        x = p._x_value()
        sold.append(float(x[fund_lots].sum()))
        within += int(np.any(fund_lots & (x > 1e-9) & (x < p.v - 1e-9)))
        # PIQP stops at 1e-8 residuals and selling the fund for its look-through barely
        # moves the objective (not at all for the S&P 500 tracker, whose look-through is
        # the target): its weights are off by up to ~3e-6 there (objective ~3e-9 higher);
        # Clarabel at 1e-12 is the reference for the weights
        qp = p._exact_problem(False)
        qp.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
        assert qp.status == "optimal"
        sc2, b2 = np.array(p.sc.value, dtype=float), np.array(p.b.value, dtype=float)
        assert np.max(np.abs(sc1 - sc2)) < 1e-9 and np.max(np.abs(b1 - b2)) < 1e-9
        assert v1 <= float(qp.value) + 1e-11
        n += 1
    assert n >= 2
    assert dual.stats == {"solved": n, "capped": 0, "not_covered": 0, "rejected": 0}
    assert 1e-6 < max(sold) < p.h[p.nm] - 1e-6
    assert (within > 0) == inside


def test_a_fund_holding_book_with_a_binding_te_cap(market):
    """The cap's search runs on the dual with the fund inside (its lots' costs weighed
    like the names'): at Clarabel's optimum, counted as capped."""
    p = _fund_problem(market, 8, 40, ("sector",), gamma_tax=0.4)
    te = p.solve().summary.te_after
    p.update(te_cap=0.6 * te)
    buy, lot_cap, w_cap = p.base_buy, p.base_lot_cap, p.base_w_cap
    sell = p._last_sell.copy()
    sc0, b0, v0 = _solve_fixed(p, None, sell, buy, lot_cap, w_cap)
    assert p.exact is p._exact_cache[True] and p._log[-1]["solver"] == "CLARABEL"
    dual = DualQP(p)
    sc1, b1, v1 = _solve_fixed(p, dual, sell, buy, lot_cap, w_cap)
    assert dual.last["status"] == "solved" and dual.stats["capped"] == 1
    assert np.max(np.abs(sc1 - sc0)) < 1e-6 and np.max(np.abs(b1 - b0)) < 1e-6
    assert v1 <= v0 + 1e-9
    assert float(p.te2_exact.value) <= (0.6 * te) ** 2


def test_the_bound_of_a_fund_holding_pattern_is_below_its_optimum(market):
    """The pattern bound (the same Lagrangian) covers a fund: below the pattern's optimum
    (weak duality) and equal to it at the maximum, for each sign pattern."""
    p = _fund_problem(market, 3, 40, ("sp500",), gamma_tax=0.4)
    buy, lot_cap, w_cap = p.base_buy, p.base_lot_cap, p.base_w_cap
    for sell in _patterns(p):
        _, _, optimum = _solve_fixed(p, None, sell, buy, lot_cap, w_cap)
        D, w, slope = pattern_bound.pattern_solution(p, sell, buy, lot_cap, w_cap,
                                                     steps=40, converge=True)
        assert np.isfinite(D) and D <= optimum + 1e-10
        assert D >= optimum - 1e-6 * max(1.0, abs(optimum))


def test_two_funds_are_not_covered_and_go_to_cvxpy(market):
    """Two funds held (their look-throughs overlap): not covered, every sign-fixed
    problem goes to cvxpy as before and the solve completes."""
    p = _fund_problem(market, 3, 40, ("sp500", "sector"), gamma_tax=0.4)
    assert p.na == p.nm + 2
    p.solve()
    dual = p.pattern_solver
    assert dual.stats["solved"] == 0 and dual.stats["not_covered"] >= 1
    assert "dual" not in {e["solver"] for e in p._log if e["problem"] == "sign-fixed"}


def test_a_fund_holding_frontier_is_swept_by_the_dual(market):
    """The frontier's warm-started dual (multipliers from the last solve, the fund's sale
    from the last evaluation) covers a fund-holding book: every QP certified, the points'
    whole-share trades, tax and TE those of the cvxpy sweep."""
    p = _fund_problem(market, 3, 35, ("sector",), gamma_tax=0.4, whole_shares=True,
                      min_trade=200.0)
    gammas = [2.0, 0.5, 0.1]
    new = efficient_frontier(p, gammas=gammas, dual_qp=True)
    old = efficient_frontier(p, gammas=gammas, dual_qp=False)
    assert new.qp_solves["solved"] > 0
    assert new.qp_solves["not_covered"] == 0 and new.qp_solves["rejected"] == 0
    cols = ["te", "tax_economic", "tax_this_year", "trades", "names"]
    np.testing.assert_allclose(new.all_points[cols].to_numpy(float),
                               old.all_points[cols].to_numpy(float), rtol=0, atol=1e-6)
    assert list(new.certificates.signs) == list(old.certificates.signs)


@pytest.mark.parametrize("seed", [3, 7])
def test_names_that_must_be_sold_in_full_are_covered(market, seed):
    """Session 15: a must-sell name's sale (all its lots) was reached in the dual through
    cumulative sums over the whole book that can fall ~1e-16 short of its lots' sum: no
    segment reached it, ``D = -inf``, not covered (seed 3: 3 of 3 QPs, seed 7: 4 of 4 to
    cvxpy; retiree's plan comparison 7 of 95). The sale may now fall short by 1e-13:
    every pattern certified, the must-sell names sold (within the certificate's 1e-9),
    the weights PIQP's within its accuracy and the objective no higher. Fails on main."""
    st, sub, target, led = random_account(market, seed, 40)
    held = sorted(set(st.lots.ticker))
    st = replace(st, must_sell=frozenset(held[:8]))
    p = RebalanceProblem(st, sub, target, RebalanceSettings(gamma_tax=0.4), led)
    buy, lot_cap, w_cap = p.base_buy, p.base_lot_cap, p.base_w_cap
    must = np.array([t in st.must_sell for t in st.assets])
    dual = DualQP(p)
    n = 0
    for sell in _patterns(p):
        p.pattern_solver = None
        p._tie_base = None
        if p._fixed(sell, buy, lot_cap, w_cap) != "optimal":
            continue  # a must-sell name flipped to buy-only: infeasible either way
        sc0, b0, v0 = _solution(p)
        sc1, b1, v1 = _solve_fixed(p, dual, sell, buy, lot_cap, w_cap)
        assert dual.last["status"] == "solved" and p._log[-1]["solver"] == "dual"
        assert np.max(np.abs(sc1 - sc0)) < 1e-7 and np.max(np.abs(b1 - b0)) < 1e-7
        assert v1 <= v0 + 1e-9
        w = p.h + p.b.value - np.bincount(p.lot_asset, weights=p._x_value(), minlength=p.na)
        assert np.all(w[must] <= dual.feas_tol)
        n += 1
    assert n >= 2
    assert dual.stats == {"solved": n, "capped": 0, "not_covered": 0, "rejected": 0}


@pytest.mark.parametrize("seed", [3, 8])
def test_the_capped_bound_is_below_each_flips_optimum_and_proves_it_worse(market, seed):
    """Session 17: the capped bound of a pattern one name away from a capped solve, from
    that solve's cost weight and multipliers (:func:`~pma_lab.optimize.dual_qp.
    capped_bound`), is never above the pattern's optimum (beyond the solver's 1e-9: weak
    duality with the cap's multiplier); it proves each flip that is worse than the solve
    at least 95 % of the way (so a flip is pruned), and is within 1e-8 of the optimum
    where the flip's cost weight is within 2 % of the solve's (the one Newton step on the
    weight is exact on the names' pieces). A target reached stops it early, still a
    lower bound; without a cap there is no capped bound."""
    p, _ = _capped(market, seed, 0.5)
    buy, lot_cap, w_cap = p.base_buy, p.base_lot_cap, p.base_w_cap
    dual = DualQP(p)
    patterns = list(_patterns(p))
    base = patterns[0]
    *_, v0 = _solve_fixed(p, dual, base, buy, lot_cap, w_cap)
    assert dual.last["status"] == "solved" and dual.last["cap_multiplier"] > 0
    t, y = dual.last["t"], dual.last["y"].copy()
    assert t == pytest.approx(1.0 / (1.0 + dual.last["cap_multiplier"] / 100.0))
    near = 0
    for flip in patterns[1:]:
        bound = dual_qp_module.capped_bound(p, flip, buy, lot_cap, w_cap, t, y)
        *_, value = _solve_fixed(p, dual, flip, buy, lot_cap, w_cap)
        assert dual.last["status"] == "solved"
        assert bound <= value + 1e-9 * max(1.0, abs(value))
        if value > v0:
            assert bound >= v0 + 0.95 * (value - v0)
        if abs(dual.last["t"] / t - 1.0) < 0.02:
            assert bound >= value - 1e-8
            near += 1
        if value > v0:  # a target the bound reaches: still a lower bound, and reaches it
            aim = v0 + 0.5 * (value - v0)
            early = dual_qp_module.capped_bound(p, flip, buy, lot_cap, w_cap, t, y,
                                                target=aim)
            assert aim <= early <= value + 1e-9 * max(1.0, abs(value))
    assert near >= 1
    p.update(te_cap=None)
    assert dual_qp_module.capped_bound(p, base, buy, lot_cap, w_cap, t, y) == -np.inf


def _ascent_points(c, steps: int = 40) -> list:
    """The multipliers an ascent from :func:`cold_start` passes (each Newton step's start)."""
    points = []
    real = pattern_bound._dual

    def kept(d, y, *args, **kwargs):
        points.append(np.array(y))
        return real(d, y, *args, **kwargs)

    pattern_bound._dual = kept
    try:
        dual_qp_module._ascend(c, dual_qp_module.cold_start(c), steps)
    finally:
        pattern_bound._dual = real
    return points



def _solved_setup(market, fund: bool):
    """The dual's setup of a solved small problem, with a held fund or without (capped)."""
    if fund:
        p = _fund_problem(market, 8, 40, ("sector",), gamma_tax=0.4)
    else:
        p, _ = _capped(market, 8, 0.5)
    p.solve()
    sell, buy, lot_cap, w_cap = p._last_sell.copy(), p.base_buy, p.base_lot_cap, p.base_w_cap
    c = pattern_bound._setup(p, sell, buy, lot_cap, w_cap)
    assert (c.fund is not None) == fund
    return c

@pytest.mark.parametrize("fund", [False, True])
def test_a_lazy_hessian_is_the_eager_one_to_the_bit(market, fund):
    """Session 20: the ascent's trial points form their Hessian only when it is read
    (``hessian="lazy"``: a line search's rejected step, the kink search's points short of
    the best and the fund's sales on the way to its minimum never do). Formed, it is the
    eager one to the bit, and so are the value, gradient, weights and the trades' rows
    (relax_dual's model); without the Hessian (``hessian=False``) the rest is the same."""
    c = _solved_setup(market, fund)
    points = _ascent_points(c)
    assert len(points) >= 4  # (5 before session 24: the ascent ends one evaluation sooner)
    for y in points:
        eager, lazy, none = {}, {}, {}
        D0, g0, H0, w0 = pattern_bound._dual(c.with_memo(), y, eager)
        D1, g1, H1, w1 = pattern_bound._dual(c.with_memo(), y, lazy, "lazy")
        D2, g2, H2, w2 = pattern_bound._dual(c.with_memo(), y, none, False)
        if g0 is None:
            assert g1 is None and g2 is None
            continue
        assert isinstance(H1, pattern_bound._Lazy) and H2 is None
        assert "rows" not in lazy  # not formed yet
        assert H1().tobytes() == H0.tobytes() and H1() is H1()  # formed once
        for D, g, w in ((D1, g1, w1), (D2, g2, w2)):
            assert D == D0 and g.tobytes() == g0.tobytes() and w.tobytes() == w0.tobytes()
        for key in ("sold", "bought", "inner", "rows") + (("fund_sold",) if fund else ()):
            assert lazy[key].tobytes() == eager[key].tobytes()
        assert none["sold"].tobytes() == eager["sold"].tobytes()


def test_a_fund_dual_without_the_hessian_skips_the_names_dual_at_the_step(market):
    """Session 20: a held fund's Hessian subtracts the fund's curvature, a difference of
    the names' dual at the fund's sale and 1e-8 past it; without the Hessian (the cap
    search's slope) that second evaluation is not made: one evaluation of the names'
    dual fewer wherever the sale is inside a lot, the same value, gradient and weights."""
    p = _fund_problem(market, 3, 40, ("sector",), gamma_tax=0.1)  # sold within a lot
    p.solve()
    sell, buy, lot_cap, w_cap = p._last_sell.copy(), p.base_buy, p.base_lot_cap, p.base_w_cap
    c = pattern_bound._setup(p, sell, buy, lot_cap, w_cap)
    names: list = []
    real = pattern_bound._dual

    def counted(d, y, *args, **kwargs):
        if d.fund is None:
            names.append(1)
        return real(d, y, *args, **kwargs)

    inside = 0
    for y in _ascent_points(c):
        counts, got = [], []
        for hessian in (True, False):
            names.clear()
            pattern_bound._dual = counted
            try:
                trades: dict = {}
                got.append(real(c.with_memo(), y, trades, hessian)[:2] + (trades,))
            finally:
                pattern_bound._dual = real
            counts.append(len(names))
        (D0, g0, t0), (D1, g1, t1) = got
        if g0 is None:
            continue
        assert D0 == D1 and g0.tobytes() == g1.tobytes()
        assert t0["fund_sold"].tobytes() == t1["fund_sold"].tobytes()
        assert counts[1] in (counts[0], counts[0] - 1)
        inside += counts[1] < counts[0]
    assert inside > 0  # the sector fund is sold within a lot (its look-through's curvature)


def _names_duals(monkeypatch) -> list:
    """A list that receives one entry per evaluation of the names' dual (no fund)."""
    names: list = []
    real = pattern_bound._dual

    def counted(d, y, *args, **kwargs):
        if d.fund is None:
            names.append(1)
        return real(d, y, *args, **kwargs)

    monkeypatch.setattr(pattern_bound, "_dual", counted)
    return names


def test_a_fund_sale_searched_from_a_nearby_sale_is_the_same_in_fewer_evaluations(
        market, monkeypatch):
    """Session 22: the fund's sale that minimises the names' Lagrangian is the first kink
    whose right slope is not below 0 (then the secant inside the segment before it). From
    the last evaluation's sale (an ascent's next point, the cap search's next cost
    weight) it is mostly a kink or two away: the search gallops out from there (1, 2, 4,
    ... kinks) instead of bisecting everything on that side, and finds the same kink, so
    the same sale, value, gradient and trades to the bit as the search from the least
    sale. A fund of 40 lots, along an ascent's points from :func:`cold_start`: on main
    (bisection) as many evaluations of the names' dual as from the least sale."""
    p = _fund_problem(market, 3, 40, ("sector",), lots=40, gamma_tax=0.1)
    p.solve()
    sell, buy, lot_cap, w_cap = p._last_sell.copy(), p.base_buy, p.base_lot_cap, p.base_w_cap
    c = pattern_bound._setup(p, sell, buy, lot_cap, w_cap)
    assert c.fund is not None and len(c.fund.lots) >= 30
    points, seen = [], set()
    for y in _ascent_points(c):
        if y.tobytes() not in seen:
            seen.add(y.tobytes())
            points.append(y)
    assert len(points) >= 4  # (5 before session 24: the ascent ends one evaluation sooner)
    names = _names_duals(monkeypatch)
    real = pattern_bound._fund_dual
    fresh = warm = compared = 0
    prev = None
    for y in points:
        names.clear()
        c0 = c.with_memo()
        t0: dict = {}
        D0, g0, _, w0 = real(c0, y, t0, False)
        n0 = len(names)
        if prev is not None and g0 is not None:
            c1 = c.with_memo()
            c1.memo.fund_s = prev
            names.clear()
            t1: dict = {}
            D1, g1, _, w1 = real(c1, y, t1, False)
            assert D1 == D0 and g1.tobytes() == g0.tobytes() and w1.tobytes() == w0.tobytes()
            assert t1["fund_sold"].tobytes() == t0["fund_sold"].tobytes()
            assert c1.memo.fund_s == c0.memo.fund_s
            fresh, warm, compared = fresh + n0, warm + len(names), compared + 1
        prev = c0.memo.fund_s
    assert compared >= 3
    assert warm <= 0.75 * fresh, (warm, fresh)  # session 22, five points: 19 of 28 (main: 27)


def test_the_cap_search_starts_each_fund_sale_from_the_last_one(market, monkeypatch):
    """Session 22: the cap search's ascents and its slope's dual at ``t + h`` start the
    fund's sale from the last evaluation's (:func:`dual_qp._fund_sale`), not from the
    least sale: the same answer to the bit (the search finds the same kink), fewer
    evaluations of the names' dual (young-pro's replayed plan comparison: 6,346 -> 5,902
    evaluations of the dual with the fund's inside). On main: no ``_fund_sale``."""
    p = _fund_problem(market, 8, 40, ("sector",), lots=40, gamma_tax=0.4)
    te = p.solve().summary.te_after
    p.update(te_cap=0.8 * te)
    sell, buy, lot_cap, w_cap = p._last_sell.copy(), p.base_buy, p.base_lot_cap, p.base_w_cap
    c = pattern_bound._setup(p, sell, buy, lot_cap, w_cap)
    cap2 = float(p.P["te2_cap"].value)
    names = _names_duals(monkeypatch)
    got, counts = [], []
    for seeded in (True, False):
        if not seeded:
            monkeypatch.setattr(dual_qp_module, "_fund_sale", lambda c: None)
        at: dict = {}
        y, _, _, te2, H = dual_qp_module._ascend(c, dual_qp_module.cold_start(c), 40, at)
        assert te2 > cap2
        names.clear()
        found = dual_qp_module._cap_search(c, y, H, te2, cap2, 40, at["g"], at["w"], at["c"])
        assert found is not None
        got.append(found)
        counts.append(len(names))
    (t1, y1, D1, tr1, n1), (t0, y0, D0, tr0, n0) = got
    assert t1 == t0 and y1.tobytes() == y0.tobytes() and D1 == D0 and n1 == n0
    for key in ("sold", "bought", "fund_sold"):
        assert tr1[key].tobytes() == tr0[key].tobytes()
    assert counts[0] < counts[1], counts


def _staircase_search(monkeypatch) -> tuple:
    """The cap's search on a constructed TE^2(t): flat from t = 1 down to 0.004, then
    rising 0.035 per unit of t on pieces 2e-5 long between flat pieces 1e-5 long (as
    young-pro's fund's capped QPs, session 21), the slope on a flat piece ~1e-10. The
    ascent and the slope are replaced by the model (``y`` one multiplier, moving with t);
    returns the search's answer, its ascents' cost weights and the root's bracket."""
    cap2, period, rise, s = 2.5e-5, 3e-5, 1e-5, 0.035
    t_star = 46 * period + rise / 2  # mid-piece: TE^2 meets the cap there

    def stair(t: float) -> float:
        x = min(t, 0.004)
        k, r = divmod(x, period)
        return k * rise + min(r, rise)

    base = cap2 - s * stair(t_star)

    def te2(t: float) -> float:
        return base + s * stair(t)

    def slope_at(t: float) -> float:
        if t >= 0.004:
            return 0.0
        return s if (t % period) < rise else 1e-10 * (-1) ** int(t / period)

    ts: list = []

    def ascend(ct, y0, steps, at, fund_s=None):  # ct: the cost weight (``_weighed`` below)
        assert fund_s is None  # no fund (``_fund_sale`` below)
        ts.append(ct)
        at.update(g=np.zeros(1), w=np.zeros(1), c=ct)
        return np.array([ct]), -te2(ct), {"t": ct}, te2(ct), -np.eye(1)

    monkeypatch.setattr(dual_qp_module, "_ascend", ascend)
    monkeypatch.setattr(dual_qp_module, "_weighed", lambda c, t, fund_s=None: t)
    monkeypatch.setattr(dual_qp_module, "_fund_sale", lambda c: None)
    monkeypatch.setattr(dual_qp_module, "_lower", lambda c, n: np.full(n, -np.inf))
    monkeypatch.setattr(dual_qp_module, "_slope",
                        lambda c, t, y, H, g, w, ct, pieces=None: (slope_at(t), np.ones(1)))
    got = dual_qp_module._cap_search(None, np.ones(1), -np.eye(1), te2(1.0), cap2, 40,
                                     np.zeros(1), np.zeros(1), 1.0)
    return got, ts, cap2, te2


def test_the_cap_search_steps_over_short_flat_pieces(monkeypatch):
    """Session 21: where TE^2 rises on pieces between short flat ones (young-pro's 6
    capped QPs took 17-18 steps each, 4,731 of its 7,946 evaluations of the dual), a
    slope near zero (a flat piece's) no longer sends Newton's step out of the bracket to
    be halved or quartered: the search steps by the secant through the point before
    (TE^2's mean rise), and once the cap is bracketed, by the Illinois step between the
    ends. The answer is the same root (TE^2
    within the band below the cap) in 9 ascents; the search before took 17 (4
    quarterings over the flat start, then Newton's steps too short by the pieces' slope
    and quarterings and halvings after each flat slope)."""
    got, ts, cap2, te2 = _staircase_search(monkeypatch)
    assert got is not None
    t, y, D, trades, n = got
    assert -dual_qp_module.CAP_RTOL * cap2 <= te2(t) - cap2 <= 0
    assert n == len(ts) and n <= 9
    assert ts[:4] == [0.25, 0.0625, 0.015625, 0.00390625]  # the flat start: quartered


def _counted(monkeypatch) -> list:
    """Every evaluation of the dual (the names' inside a held fund's too), by its ``y``."""
    seen: list = []
    real = pattern_bound._dual

    def counted(c, y, *args, **kwargs):
        seen.append(np.array(y))
        return real(c, y, *args, **kwargs)

    monkeypatch.setattr(pattern_bound, "_dual", counted)
    monkeypatch.setattr(dual_qp_module, "_dual", counted)
    return seen


@pytest.mark.parametrize("fund", [False, True])
def test_an_ascent_from_the_maximum_evaluates_the_dual_once(market, monkeypatch, fund):
    """Session 24: where the projected gradient is at most ``KINK_STATIONARY`` and the
    Newton step cannot raise ``D`` by what goes on (concave: at most the gradient times
    the step), the certified ascent ends without evaluating the step. From the maximum
    an ascent evaluates ``D`` once, there (main: twice or more, the second a step of
    round-off it took or halved up to 8 times), and returns it to the bit."""
    c = _solved_setup(market, fund)
    y, D, _, _, _ = dual_qp_module._ascend(c, dual_qp_module.cold_start(c), 40)
    assert pattern_bound._stationarity(c, y, pattern_bound._dual(c, y)[1]) \
        <= pattern_bound.KINK_STATIONARY
    outer = _counted(monkeypatch)
    cm = c.with_memo()
    y2, D2, _, _, _ = pattern_bound.maximise(cm, y, np.inf, 40, True, kinks=True)
    names = sum(1 for _ in outer)  # a fund's: its names' duals at the sales it searches
    assert y2.tobytes() == y.tobytes() and D2 == D
    assert all(v.tobytes() == y.tobytes() for v in outer), names
    # without the stop (kinks=False: the bound's ascent, as before) the step is evaluated
    outer.clear()
    pattern_bound.maximise(c.with_memo(), y, np.inf, 40, True)
    assert any(v.tobytes() != y.tobytes() for v in outer)


@pytest.fixture(scope="module")
def tech_exec():
    return prepare(load_client(clients_dir() / "tech-exec" / "profile.toml"))


@pytest.mark.parametrize("gamma_tax,te_cap", [(1.0, None), (3.0, 0.03)])
def test_an_adapted_line_search_reaches_the_maximum_in_fewer_evaluations(tech_exec, monkeypatch,
                                                                          gamma_tax, te_cap):
    """Session 24: the certified ascent's line search starts at twice the last accepted
    step (``maximise(adapt=True)``), not at the full Newton step each time: the same
    maximum (to 1e-12 of ``D``, a projected gradient at most 1e-9) in fewer evaluations of
    the dual from :func:`cold_start` on tech-exec's sign-fixed QPs (12 -> 11; the nine
    sample clients' plan comparisons: 1 trial in 4 failed and was halved; main: no
    ``adapt``). Random books of 40-150 names take no halving: the same count."""
    p = problem_for_client(tech_exec, settings=RebalanceSettings(gamma_tax=gamma_tax,
                                                                 te_cap=te_cap))
    qps = []
    real = dual_qp_module._setup

    def kept(*args):
        c = real(*args)
        if c is not None:
            qps.append(c)
        return c

    monkeypatch.setattr(dual_qp_module, "_setup", kept)
    p.solve()
    assert qps
    seen = _counted(monkeypatch)
    count = dict.fromkeys((False, True), 0)
    for c in qps:
        got = {}
        for adapt in (False, True):
            seen.clear()
            y, D, g, _, _ = pattern_bound.maximise(c.with_memo(), dual_qp_module.cold_start(c),
                                                   np.inf, 40, True, kinks=True, adapt=adapt)
            got[adapt] = D, pattern_bound._stationarity(c, y, g)
            count[adapt] += len(seen)
        assert abs(got[True][0] - got[False][0]) <= 1e-12 * max(1.0, abs(got[False][0])), got
        assert got[True][1] <= 1e-9 and got[False][1] <= 1e-9, got
    assert count[True] < count[False], count


@pytest.mark.parametrize("seed", [3, 8])
def test_the_cap_searchs_slope_from_the_pieces_is_the_differences_one(market, monkeypatch,
                                                                       seed):
    """Session 24: given the ascent's trades with its Hessian's rows (no fund held), the
    cap search's slope ``d TE^2 / dt`` and ``dy / dt`` are the names' pieces' own
    (:func:`_piece_slope`), with no evaluation of the dual; the differences over a step
    of ``1e-7 t`` (two evaluations) agree to their round-off (1e-6 of TE^2). Along a cap
    search from :func:`DualQP.solve`'s start, at every point it passes (main: no
    ``pieces``)."""
    p, _ = _capped(market, seed, 0.5)
    p.solve()
    sell, buy, lot_cap, w_cap = p._last_sell.copy(), p.base_buy, p.base_lot_cap, p.base_w_cap
    c = pattern_bound._setup(p, sell, buy, lot_cap, w_cap)
    cap2 = float(p.P["te2_cap"].value)
    at: dict = {}
    y, _, trades, te2, H = dual_qp_module._ascend(c, dual_qp_module.cold_start(c), 40, at)
    assert te2 > cap2
    real = dual_qp_module._slope
    seen = _counted(monkeypatch)
    checked = []

    def both(c, t, y, H, g0=None, w0=None, ct=None, pieces=None):
        assert pieces is not None and "sell_lots" in pieces
        seen.clear()
        s1, dy1 = real(c, t, y, H, g0, w0, ct, pieces)
        assert not seen  # no evaluation of the dual
        s0, dy0 = real(c, t, y, H, g0, w0, ct)
        assert len(seen) == 2
        assert abs(s1 - s0) <= 1e-6 * (abs(s0) + te2), (s1, s0)  # (round-off: ~1e-9 te2)
        assert np.allclose(dy1, dy0, rtol=1e-6, atol=1e-6 * max(1.0, np.abs(dy0).max()))
        checked.append(abs(s0) > 1e-9)
        return s1, dy1

    monkeypatch.setattr(dual_qp_module, "_slope", both)
    found = dual_qp_module._cap_search(c, y, H, te2, cap2, 40, at["g"], at["w"], at["c"],
                                       trades)
    assert found is not None and sum(checked) >= 2, checked
