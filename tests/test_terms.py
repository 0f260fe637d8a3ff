"""Objective terms (:mod:`pma_lab.optimize.terms`): one formula for the solver and the
reports, equal to the risk model's own tracking error."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from test_rebalance import TICKERS, ledger, model, problem  # tests/ is on sys.path

from pma_lab.optimize.rebalance import RebalanceSettings
from pma_lab.optimize.terms import TaxTerm, TrackingVariance, TradingCost


def test_tracking_variance_is_the_risk_models_and_the_compiled_terms():
    rm = model()
    tv = TrackingVariance.of(rm)
    rng = np.random.default_rng(3)
    w, bench = rng.dirichlet(np.ones(4)), np.full(4, 0.25)
    a = w - bench
    assert tv.te(a) == pytest.approx(rm.tracking_error(pd.Series(w, TICKERS),
                                                       pd.Series(bench, TICKERS)), rel=1e-12)
    cov = rm.covariance().to_numpy()
    assert tv.value(a) == pytest.approx(a @ cov @ a, rel=1e-12)
    assert np.allclose(tv.sigma(a), cov @ a) and np.allclose(tv.diagonal(), np.diag(cov))
    # the cvxpy form: factor + specific parts at a == the numeric value
    act = cp.Variable(4)
    factor, spec, cons = tv.compile(act)
    prob = cp.Problem(cp.Minimize(factor + spec), [*cons, act == a])
    prob.solve(solver="CLARABEL")
    assert prob.value == pytest.approx(tv.value(a), rel=1e-6)
    assert prob.is_dcp(dpp=True)
    f = cp.Variable(2)
    s = cp.Variable(4)
    both = cp.Problem(cp.Minimize(TrackingVariance.from_parts(f, s)),
                      [f == tv.loadings().T @ a, s == np.multiply(tv.scale(), a)])
    both.solve(solver="CLARABEL")
    assert both.value == pytest.approx(tv.value(a), rel=1e-6)


def test_tax_and_trading_cost_terms_match_the_result():
    led = ledger([("T", "AAA", 400, 10000, "2018-01-02"),   # LT gain
                  ("T", "BBB", 600, 36000, "2024-01-02"),   # LT loss
                  ("T", "CCC", 1000, 20000, "2020-01-02")])
    p = problem(led, RebalanceSettings(gamma_tax=0.1))
    r = p.solve()
    x, b = p._arrays(r)
    assert isinstance(p.tax_term, TaxTerm)
    assert p.tax_term.value(x) * p.V == pytest.approx(r.summary.tax_model, abs=1e-6)
    # the linear tax is gain x rate summed over the lots sold
    expect = sum(g * (0.20 if t == "LT" else 0.40)
                 for g, t in zip(r.lot_trades.gain, r.lot_trades.term, strict=True))
    assert r.summary.tax_model == pytest.approx(expect, abs=0.01)
    tc = TradingCost(0.001)
    assert tc.value(b, x) == pytest.approx(0.001 * (b.sum() + x.sum()))
    bv, xv = cp.Variable(len(b)), cp.Variable(len(x))
    expr = tc.cvx(bv, cp.sum(xv))
    bv.value, xv.value = b, x
    assert expr.value == pytest.approx(tc.value(b, x))
    tt = TaxTerm(np.array([0.4, 0.2]), np.array([0.5, -0.5]))
    xs = cp.Variable(2, nonneg=True)
    cap = cp.Parameter(nonneg=True, value=0.0)
    tax, cons = tt.capped(xs, cap, 0.4)
    # a loss alone earns no credit once the usable credit is zero
    prob = cp.Problem(cp.Minimize(tax), [*cons, xs == np.array([0.0, 1.0])])
    prob.solve(solver="CLARABEL")
    assert prob.value == pytest.approx(0.0, abs=1e-7) and tt.value(np.array([0, 1.0])) == -0.1
