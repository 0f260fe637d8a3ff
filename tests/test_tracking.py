"""The tracking-variance term (:mod:`pma_lab.portfolio.tracking`) is the one TE formula:
every caller agrees with it on a random book, and a source scan fails if a new copy of the
formula appears in the package outside the term's module."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

import pma_lab
from pma_lab.market.benchmark import Benchmark
from pma_lab.optimize import terms
from pma_lab.plan.simulation import _LookThrough
from pma_lab.portfolio.completion import CompletionProblem
from pma_lab.portfolio.risk import RiskModel
from pma_lab.portfolio.target import Target, TargetBuilder, round_to_shares
from pma_lab.portfolio.tracking import TrackingVariance

PACKAGE = Path(pma_lab.__file__).parent
N, K = 40, 5


def random_book(seed: int = 7) -> tuple[RiskModel, pd.Series, pd.Series]:
    """A random factor model and two random portfolios over N names."""
    rng = np.random.default_rng(seed)
    tickers = [f"S{i:02d}" for i in range(N)]
    root = rng.normal(0.0, 0.1, (K, K))
    rm = RiskModel.from_factors(tickers, rng.normal(0.0, 1.0, (N, K)), root @ root.T,
                                rng.uniform(0.01, 0.09, N))
    w = pd.Series(rng.dirichlet(np.ones(N)), tickers)
    bench = pd.Series(rng.dirichlet(np.ones(N)), tickers)
    return rm, w, bench


def test_the_term_is_one_object_reexported_where_the_optimizer_imported_it():
    rm, _, _ = random_book()
    assert terms.TrackingVariance is TrackingVariance
    tv = rm.tracking
    assert tv.exposures is rm.exposures and tv.factor_cov is rm.factor_cov \
        and tv.specific_var is rm.specific_var


def test_the_risk_models_numbers_are_the_terms():
    rm, w, bench = random_book()
    tv = rm.tracking
    a = (w - bench).to_numpy()
    cov = a @ tv.covariance() @ a  # the textbook a' Sigma a
    assert tv.value(a) == pytest.approx(cov, rel=1e-12)
    assert rm.tracking_error(w, bench) == tv.te(a)
    assert tv.factor_te(a) ** 2 + a @ (rm.specific_var * a) == pytest.approx(tv.value(a),
                                                                            rel=1e-12)
    by_factor, by_name = rm.decompose(w, bench)
    assert by_factor.variance.sum() == pytest.approx(tv.value(a), rel=1e-12)
    assert by_name.variance.sum() == pytest.approx(tv.value(a), rel=1e-12)
    np.testing.assert_array_equal(rm.covariance().to_numpy(), tv.covariance())
    np.testing.assert_array_equal(rm.factor_loadings(), tv.loadings())
    np.testing.assert_allclose(tv.diagonal(), np.diag(tv.covariance()), rtol=1e-12)
    np.testing.assert_allclose(tv.sigma(a), tv.covariance() @ a, rtol=1e-10, atol=1e-15)
    c = tv.chol(1e-14)
    np.testing.assert_allclose(c @ c.T, rm.factor_cov + 1e-14 * np.eye(K), atol=1e-15)


def test_every_cvxpy_copy_evaluates_to_the_term():
    """The risk model's DPP expression, the target problem's objective and the completion
    problem's objective, evaluated at a point, are the term's cvxpy expression there."""
    rm, w, bench = random_book()
    tv = rm.tracking
    a = (w - bench).to_numpy()
    exact = tv.expression(cp.Constant(a)).value
    assert exact == pytest.approx(tv.value(a), rel=1e-9)  # B = X chol(F + 1e-12 I)
    var = cp.Variable(N)
    var.value = a
    expr, params = rm.cvx_tracking_variance(var)
    assert set(params) == {"B", "d"} and expr.is_dcp(dpp=True)
    assert expr.value == pytest.approx(exact, rel=1e-12)
    # the target builder: 1e4 x the term at w
    bmk = Benchmark.from_weights(bench, known=set(rm.tickers))
    tb = TargetBuilder(rm, bmk, pd.Series("S", index=rm.tickers))
    tb.w.value = w.to_numpy()
    assert tb.problem.objective.value == pytest.approx(1e4 * exact, rel=1e-12)
    # the completion sleeve, minimising total TE: the term at alpha a + (1 - alpha) c - w_b
    cpb = CompletionProblem(rm, bench, preserve_bets=False)
    c = np.random.default_rng(1).dirichlet(np.ones(N))
    cpb.p_active.value, cpb.p_rest.value, cpb.c.value = 0.3 * w.to_numpy(), 0.7, c
    total = 0.3 * w.to_numpy() + 0.7 * c - bench.to_numpy()
    assert cpb.problem.objective.value == pytest.approx(
        tv.expression(cp.Constant(total)).value, rel=1e-12)


def test_solved_results_report_the_terms_tracking_error():
    rm, w, bench = random_book()
    tv = rm.tracking
    comp = CompletionProblem(rm, bench).solve(w, 0.4)
    wb = bench.to_numpy()
    assert comp.te_total == tv.te(comp.total.to_numpy() - wb)
    assert comp.te_factor_total == tv.factor_te(comp.total.to_numpy() - wb)
    assert comp.te_factor_active_only == tv.factor_te(w.to_numpy() - wb)
    # the transition's look-through TE (numpy, per simulation step)
    look = _LookThrough(SimpleNamespace(risk=rm, target=SimpleNamespace(weights=w),
                                        benchmark=SimpleNamespace(weights=bench)))
    assert look.te(w.to_numpy(), wb) == tv.te(w.to_numpy() - wb)
    # the target's whole shares: its TE is the term's at the rounded weights
    target = Target(None, w, tv.te(w.to_numpy() - wb), N, None, "random", "given", {})
    px = pd.Series(np.linspace(20.0, 400.0, N), rm.tickers)
    bmk = Benchmark.from_weights(bench, known=set(rm.tickers))
    r = round_to_shares(target, px, 250_000.0, rm, bmk)
    assert r.tracking_error == tv.te(r.weights.reindex(rm.tickers).to_numpy() - wb)
    # each share bought lowers TE more than any other affordable share would (greedy)
    assert r.tracking_error < tv.te(np.floor(w * 250_000.0 / px).mul(px).div(250_000.0)
                                    .to_numpy() - wb)


# ------------------------------------------------------------------ the source scan
RISK_ARRAYS = {"factor_cov", "specific_var"}
NUMPY = {"np", "numpy"}
CVX_RISK = {"sum_squares", "quad_form"}
# The rebalance's perspective relaxation (optimize/formulate.py) bounds the specific risk of
# the names whose trade sign is open by that risk itself (a lower bound of the term, not a
# copy of it).
ALLOWED = {("optimize/formulate.py", "sum_squares", "te2_r")}


def _assigned_name(parents: dict[ast.AST, ast.AST], node: ast.AST) -> str:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            return ",".join(ast.unparse(t) for t in targets)
    return ""


def formula_copies(source: str, rel: str) -> list[str]:
    """Where ``source`` computes with the risk model's ``F`` or ``D`` or builds a cvxpy risk
    term itself, instead of calling :class:`TrackingVariance`.

    Flagged: ``.factor_cov`` or ``.specific_var`` (read from any object, possibly indexed)
    as an operand of arithmetic, an argument of a numpy function, or copied into a local
    name; and a call of cvxpy's ``sum_squares`` or ``quad_form``. Passing the arrays on
    (to a constructor, ``.copy()``, a keyword) is not a copy of the formula.
    """
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in RISK_ARRAYS \
                and isinstance(node.ctx, ast.Load):
            up = node
            while isinstance(parents.get(up), ast.Subscript) and parents[up].value is up:
                up = parents[up]
            p = parents.get(up)
            numpy_call = isinstance(p, ast.Call) and up in p.args and isinstance(
                p.func, ast.Attribute) and ast.unparse(p.func).split(".")[0] in NUMPY
            alias = isinstance(p, ast.Assign | ast.AnnAssign) or (
                isinstance(p, ast.Tuple) and isinstance(parents.get(p), ast.Assign))
            if isinstance(p, ast.BinOp | ast.UnaryOp) or numpy_call or alias:
                found.append(f"{rel}:{node.lineno}: {ast.unparse(p)[:80]}")
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else \
                getattr(node.func, "id", "")
            if name in CVX_RISK and (rel, name, _assigned_name(parents, node)) not in ALLOWED:
                found.append(f"{rel}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_no_copy_of_the_tracking_error_formula_outside_the_term():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel != "portfolio/tracking.py":
            found += formula_copies(path.read_text(encoding="utf-8"), rel)
    assert not found, ("the tracking-error formula is written again; call "
                       "pma_lab.portfolio.tracking.TrackingVariance (RiskModel.tracking) "
                       "instead:\n" + "\n".join(found))


def test_the_scan_finds_each_old_copy_and_nothing_unrelated():
    copies = {
        "simulation": "def te(self, a):\n    fx = self.X.T @ a\n"
                      "    return float(np.sqrt(fx @ self.F @ fx + a @ (self.d2 * a)))\n"
                      "def init(self, r):\n    self.d2 = np.asarray(r.specific_var)\n",
        "target": "grad = 2 * (x @ (risk.factor_cov @ (x.T @ a)) + risk.specific_var * a)\n",
        "rounding": "gain = -(x[rows] @ f * x[rows]).sum(axis=1) - risk.specific_var[rows]\n",
        "scenarios": "X, F, d2 = risk.exposures, risk.factor_cov, risk.specific_var\n",
        "completion": "d = np.sqrt(risk.specific_var)\n",
        "cvxpy": "expr = cp.sum_squares(b.T @ a) + cp.sum_squares(cp.multiply(d, a))\n",
        "relaxation elsewhere": "te2_r = cp.sum_squares(cp.multiply(d, a))\n",
    }
    for what, src in copies.items():
        assert formula_copies(src, "plan/x.py"), what
    unrelated = (
        '"""TE^2 = (X\'a)\' F (X\'a) + a\' diag(D) a: sum_squares(B.T @ a)."""\n'
        "# sqrt(specific_var) in a comment\n"
        "m = RiskModel(day, names, factors, x, f.copy(), d, cov)\n"
        "sub = rm.specific_var[rows].copy()\n"
        "rm2 = RiskModel.from_factors(t, x, factor_cov=rm.factor_cov, specific_var=d)\n"
        "floor = s.specific_vol_floor ** 2\n"
        "v = self.F @ x + np.sqrt(d2)\n"
        "path = folder / 'factor_cov.csv'\n"
    )
    assert formula_copies(unrelated, "plan/x.py") == []
    relaxation = "te2_r = te2_r + cp.sum_squares(cp.multiply(d[open_m], a[open_m]))\n"
    assert formula_copies(relaxation, "optimize/formulate.py") == []


def test_the_loadings_are_computed_once_for_a_read_only_model():
    rm, _, _ = random_book()
    term = TrackingVariance.of(rm)
    b = term.loadings()
    assert term.loadings() is b and not b.flags.writeable
    again = TrackingVariance.of(rm).loadings()  # another term: computed anew, same bits
    assert again is not b and again.tobytes() == b.tobytes()
    # a term on writeable arrays (changed in place by its owner) computes them each time
    x = np.array(rm.exposures)
    free = TrackingVariance(x, np.array(rm.factor_cov), np.array(rm.specific_var))
    first = free.loadings()
    x *= 2.0
    assert free.loadings() == pytest.approx(2 * first)


def test_magnitudes_bound_the_sums_of_the_variance():
    """``|a|'(|X||F||X'| + D)|a| <= ||F||_F (sum |a_i| ||X_i||)^2 + max D (sum |a_i|)^2``
    (what the whole-share step's pruning of moves rests on), and no bound for a term
    whose covariance is not positive semidefinite or not finite."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(30, 4))
    g = rng.normal(size=(4, 4))
    tv = TrackingVariance(x, g @ g.T * 0.01, rng.uniform(0.0, 0.05, 30))
    xn, f_norm, d_max = tv.magnitudes()
    assert np.allclose(xn, np.linalg.norm(x, axis=1)) and d_max == tv.specific_var.max()
    for _ in range(200):
        a = rng.normal(size=30) * (rng.uniform(size=30) < 0.3)
        sums = np.abs(a) @ (np.abs(x) @ np.abs(tv.factor_cov) @ np.abs(x).T
                            + np.diag(tv.specific_var)) @ np.abs(a)
        assert sums <= f_norm * (np.abs(a) @ xn) ** 2 + d_max * np.abs(a).sum() ** 2
    assert TrackingVariance(x, g + g.T, tv.specific_var).magnitudes() is None  # indefinite
    assert TrackingVariance(x, tv.factor_cov, -tv.specific_var).magnitudes() is None
    bad = x.copy()
    bad[0, 0] = np.nan
    assert TrackingVariance(bad, tv.factor_cov, tv.specific_var).magnitudes() is None


def test_a_snapshot_keeps_the_values_when_the_arrays_change_in_place():
    rng = np.random.default_rng(12)
    tv = TrackingVariance(rng.normal(size=(6, 2)), np.eye(2) * 0.01, np.full(6, 0.02))
    snap = tv.snapshot()
    assert snap.same_values(tv) and tv.same_values(snap)
    assert snap.exposures is not tv.exposures
    tv.specific_var[3] = 0.5
    assert not snap.same_values(tv) and snap.specific_var[3] == 0.02
    assert not tv.snapshot().same_values(
        TrackingVariance(tv.exposures.astype(np.float32), tv.factor_cov, tv.specific_var))
