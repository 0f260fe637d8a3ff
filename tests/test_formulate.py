"""The formulation (:mod:`pma_lab.optimize.formulate`): the problem's arrays on a
hand-checkable book and its problem variants (DPP, compiled once). Books are
test_constraints' (test_rebalance's synthetic 4-stock model, all lots long-term)."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from test_constraints import BOOK  # tests/ is on sys.path (pytest's prepend mode)
from test_rebalance import TARGET, ledger, model, problem

from pma_lab.errors import NotDPPError
from pma_lab.optimize.formulate import exact_problem, linear_hull, relaxation
from pma_lab.optimize.rebalance import RebalanceSettings


def test_the_arrays_are_the_books_weights_gains_and_rates():
    p = problem(ledger(BOOK))
    assert p.V == pytest.approx(100000.0)
    assert list(p.state.assets[:4]) == ["AAA", "BBB", "CCC", "DDD"]
    assert p.h[:4] == pytest.approx([0.4, 0.3, 0.2, 0.1])  # $40k, $30k, $20k, $10k
    assert p.wt == pytest.approx([0.25] * 4)
    by_ticker = dict(zip(p.state.lots.ticker, p.g, strict=True))
    assert by_ticker["AAA"] == pytest.approx(0.75)  # $30,000 gain on $40,000
    assert by_ticker["BBB"] == pytest.approx(-0.2)  # $6,000 loss on $30,000
    assert (p.rate == 0.20).all() and not p.st_lot.any()  # long-term lots, LT rate
    assert p.sec_names == ["Energy", "Utilities"]
    assert p.S.toarray().tolist() == [[1, 1, 0, 0], [0, 0, 1, 1]]
    assert (p.A @ p.v == p.h).all()


@pytest.mark.parametrize("aggregate", [True, False])
def test_the_problem_variants_are_dpp_and_compiled_once(aggregate):
    p = problem(ledger(BOOK), RebalanceSettings(aggregate=aggregate, te_cap=0.02))
    capped, free = exact_problem(p, True), exact_problem(p, False)
    assert capped is exact_problem(p, True) and free is p._exact_problem(False)
    assert len(capped.constraints) == len(free.constraints) + 1  # the TE cap
    hull = linear_hull(p)
    assert hull is p._linear_hull()
    for prob in (capped, free, hull, p.relaxed):
        assert prob.is_dcp(dpp=True)
    # lots are aggregated into classes (no per-lot variable) unless asked otherwise
    assert (p.x is None) == aggregate and (p.x is not None or p.sc is not None)
    if not aggregate:
        assert p.x.shape == (p.nl,)
    r = p.solve()
    assert np.isfinite(r.summary.te_after) and r.summary.te_after <= 0.02 + 1e-6


def test_the_relaxation_is_written_when_first_read():
    p = problem(ledger(BOOK), RebalanceSettings(te_cap=0.02))
    assert p._relaxed is None and not p._dpp_checked  # a build writes neither
    rel = p.relaxed
    assert rel is p.relaxed is relaxation(p)
    assert p.lam.shape == (p.na,)  # the branch weights come with it
    direct = problem(ledger(BOOK), RebalanceSettings(te_cap=0.02))
    assert linear_hull(direct) is direct._linear_hull() and direct._relaxed is not None
    # the same trades as when the relaxation was written at the build (the demo too)
    a = problem(ledger(BOOK), RebalanceSettings(te_cap=0.02)).solve().trades
    b = p.solve().trades
    pd.testing.assert_frame_equal(a, b)


def test_a_variant_that_is_not_dpp_is_refused_before_cvxpy_compiles_it():
    p = problem(ledger(BOOK), RebalanceSettings(dual_qp=False))
    cons, _ = p._exact_parts
    # a Parameter times a Parameter times a variable: convex, but not DPP
    p._exact_parts = (cons, p.P["gamma_tax"] * p.P["gamma_tc"] * cp.sum(p.b))
    p._exact_cache.clear()
    with pytest.raises(NotDPPError, match="sign-fixed rebalance problem is not DPP"):
        p.solve()
    # both solved by cvxpy (the certified duals, on by default, compile neither)
    ok = problem(ledger(BOOK), RebalanceSettings(dual_qp=False, dual_relaxation=False))
    ok.solve()
    assert ok.relaxed in ok._dpp_checked.values()  # checked once, at its first compile
    assert any(q in ok._dpp_checked.values() for q in ok._exact_cache.values())


def test_a_models_target_and_sectors_are_aligned_once_and_again_when_changed():
    # the problems of one risk model share its target weights and sector map (a plan's
    # steps): the same arrays, read-only, until the target changes (in place too)
    rm = model()
    target = TARGET.copy()
    p1 = problem(ledger(BOOK), target=target, rm=rm)
    p2 = problem(ledger(BOOK), target=target, rm=rm)
    assert p2.wt is p1.wt and p2.S is p1.S and not p1.wt.flags.writeable
    assert p2.tracking is p1.tracking  # one term per model, its loadings kept with it
    target["AAA"], target["BBB"] = 0.4, 0.1  # changed in place: aligned again
    p3 = problem(ledger(BOOK), target=target, rm=rm)
    assert p3.wt is not p1.wt and p3.wt.tolist() == [0.4, 0.1, 0.25, 0.25]
    assert p1.wt.tolist() == [0.25] * 4
    other = problem(ledger(BOOK), target=TARGET.copy())  # another model: its own
    assert other.wt is not p1.wt and other.wt.tolist() == [0.25] * 4


def _data(prob):
    data = prob.get_problem_data("CLARABEL")[0]
    return {k: (v.toarray() if hasattr(v, "toarray") else v) for k, v in data.items()
            if k in ("A", "b", "c", "P")}


def test_without_a_fund_the_look_through_is_the_weights_and_compiles_the_same(monkeypatch):
    import pma_lab.optimize.formulate as formulate

    p = problem(ledger(BOOK), RebalanceSettings(te_cap=0.02))
    assert p.formulation.look is p.w  # no fund held: M is the identity, not multiplied
    got = [_data(exact_problem(p, c)) for c in (False, True)] + [_data(p.relaxed)]
    monkeypatch.setattr(formulate, "_identity", lambda M: False)
    q = problem(ledger(BOOK), RebalanceSettings(te_cap=0.02))
    assert q.formulation.look is not q.w  # written as M @ w
    want = [_data(exact_problem(q, c)) for c in (False, True)] + [_data(q.relaxed)]
    for g, w in zip(got, want, strict=True):  # the same problem data, to the bit
        assert g.keys() == w.keys()
        for k in g:
            assert np.array_equal(g[k], w[k]), k
    monkeypatch.undo()
    held = problem(ledger([*BOOK, ("T", "SPY", 60, 10000, "2018-01-02")]))
    assert held.na > held.nm and held.formulation.look is not held.w  # a fund: M @ w
