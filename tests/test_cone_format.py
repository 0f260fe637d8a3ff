"""cvxpy's conic restructuring done as a row permutation
(:mod:`pma_lab.optimize.cone_format`): the same problem data to the bit, the relaxation's
compile through it, cvxpy's own code for any other cone."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
from cvxpy.constraints import SOC, NonNeg, Zero
from cvxpy.reductions.solvers.conic_solvers.conic_solver import ConicSolver

from pma_lab.io.client import load_client
from pma_lab.optimize import cone_format
from pma_lab.optimize.cone_format import fast_cone_format, signed_row_permutation
from pma_lab.optimize.engine import prepare, problem_for_client
from pma_lab.paths import clients_dir


def _spacing_permutation(constraints) -> tuple[np.ndarray, np.ndarray] | None:
    """``signed_row_permutation`` from the restructuring matrix built as cvxpy builds it.

    The reference the fast form is tested against (~10x slower: scipy's block-diagonal
    of one block per constraint).
    """
    blocks = []
    for con in constraints:
        height = sum(arg.size for arg in con.args)
        if type(con) is Zero:
            blocks.append(-sp.identity(height, format="csc"))
        elif type(con) is NonNeg:
            blocks.append(sp.identity(height, format="csc"))
        elif type(con) is SOC:
            if con.axis != 0:
                return None
            x_dim = con.args[1].shape[0] if con.args[1].shape else 1
            n_cones = con.args[0].size
            t = ConicSolver.get_spacing_matrix(shape=(height, n_cones), spacing=x_dim,
                                               streak=1, num_blocks=n_cones, offset=0)
            x = ConicSolver.get_spacing_matrix(shape=(height, con.args[1].size), spacing=1,
                                               streak=x_dim, num_blocks=n_cones, offset=1)
            blocks.append(sp.hstack([t, x]))
        else:
            return None
    if not blocks:
        return None
    r = sp.csc_matrix(sp.block_diag(blocks, format="csc"))
    r.sum_duplicates()
    r.eliminate_zeros()
    m = r.shape[0]
    if r.shape[1] != m or r.nnz != m or np.any(np.diff(r.indptr) != 1) \
            or not np.all(np.abs(r.data) == 1.0):
        return None
    new_row = r.indices.astype(np.int64)
    if np.any(np.bincount(new_row, minlength=m) != 1):
        return None
    return new_row, r.data.astype(np.float64)


def _same_data(a: dict, b: dict) -> None:
    for key in ("A", "b", "c", "P"):
        if key not in a:
            continue
        x, y = a[key], b[key]
        if sp.issparse(x):
            assert type(x) is type(y)
            assert np.array_equal(x.indptr, y.indptr) and np.array_equal(x.indices, y.indices)
            assert np.array_equal(x.data, y.data)
        else:
            assert np.array_equal(np.asarray(x), np.asarray(y))
    assert a["dims"].soc == b["dims"].soc and a["dims"].zero == b["dims"].zero


def _cones_problem() -> cp.Problem:
    """A DPP problem with equalities, inequalities and second-order cones of several sizes."""
    rng = np.random.default_rng(7)
    x, y, t = cp.Variable(6), cp.Variable(3), cp.Variable(4, nonneg=True)
    lo, cap = cp.Parameter(6, value=rng.random(6)), cp.Parameter(nonneg=True, value=2.0)
    c = rng.standard_normal((5, 6))
    cons = [cp.sum(x) == 1, x >= -lo, y <= cap, cp.norm(c @ x + 1, 2) <= cap * 3,
            cp.SOC(t[:3] + 1, cp.vstack([x[:3] - y, x[3:] + y]), axis=0),
            cp.SOC(t[3], y)]
    obj = cp.sum_squares(x) + cap * cp.sum(t) + cp.quad_over_lin(y, 2.0)
    return cp.Problem(cp.Minimize(obj), cons)


def test_the_problem_data_is_cvxpys_to_the_bit():
    ours, theirs = _cones_problem(), _cones_problem()
    before = dict(cone_format.calls)
    with fast_cone_format():
        got, _, _ = ours.get_problem_data(cp.CLARABEL)
    assert cone_format.calls["fast"] == before["fast"] + 1
    want, _, _ = theirs.get_problem_data(cp.CLARABEL)
    _same_data(got, want)
    # and after a Parameter changes (the tensor applied to new values)
    for prob in (ours, theirs):
        next(q for q in prob.parameters() if q.size == 6).value = np.full(6, 0.3)
    with fast_cone_format():
        ours.solve(cp.CLARABEL)
    theirs.solve(cp.CLARABEL)
    assert ours.value == theirs.value
    assert all(np.array_equal(u.value, v.value)
               for u, v in zip(ours.variables(), theirs.variables(), strict=True))


def test_other_cones_go_through_cvxpy_and_the_method_is_put_back():
    x = cp.Variable(3)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.exp(x)) - cp.sum(cp.log(x + 2))), [cp.sum(x) == 1])
    ref = cp.Problem(prob.objective, prob.constraints)
    original = ConicSolver.__dict__["format_constraints"]
    before = dict(cone_format.calls)
    with fast_cone_format(), fast_cone_format():  # re-entrant
        assert ConicSolver.__dict__["format_constraints"] is not original
        got, _, _ = prob.get_problem_data(cp.CLARABEL)
    assert ConicSolver.__dict__["format_constraints"] is original
    assert cone_format.calls["cvxpy"] == before["cvxpy"] + 1
    assert cone_format.calls["fast"] == before["fast"]
    _same_data(got, ref.get_problem_data(cp.CLARABEL)[0])


def test_the_permutation_refuses_what_is_not_one():
    x = cp.Variable(2)
    m = cp.Variable((2, 3))
    assert signed_row_permutation([]) is None
    assert signed_row_permutation([cp.constraints.ExpCone(x[0], x[1], x[0])]) is None
    assert signed_row_permutation([cp.SOC(x, m, axis=1)]) is None
    new_row, sign = signed_row_permutation([cp.constraints.Zero(x),
                                            cp.constraints.NonNeg(x)])
    assert list(new_row) == [0, 1, 2, 3] and list(sign) == [-1, -1, 1, 1]


@pytest.fixture(scope="module")
def tech_problem():
    return problem_for_client(prepare(load_client(clients_dir() / "tech-exec" /
                                                  "profile.toml")))


def test_the_relaxation_compiles_through_it_with_cvxpys_data(tech_problem):
    p = tech_problem
    before = dict(cone_format.calls)
    p.solve()  # the two-step: its relaxation's first solve compiles it
    assert any(e["problem"] == "relaxed" for e in p._log)
    assert cone_format.calls["fast"] == before["fast"] + 1
    with fast_cone_format():
        got, _, _ = p.relaxed.get_problem_data(p.settings.solver)
    fresh = cp.Problem(p.relaxed.objective, p.relaxed.constraints)  # compiled by cvxpy
    _same_data(got, fresh.get_problem_data(p.settings.solver)[0])


def test_the_permutation_is_the_one_cvxpys_matrix_makes():
    # equalities, inequalities and second-order cones of several sizes, in any order
    x, y, z = cp.Variable(5), cp.Variable((3, 4)), cp.Variable(7)
    Zero, NonNeg = cp.constraints.Zero, cp.constraints.NonNeg
    lists = [
        [Zero(x)],
        [NonNeg(z), Zero(x[:2])],
        [cp.SOC(y[0], y[1:], axis=0)],  # 4 cones of 2 entries
        [Zero(x), cp.SOC(x[0], z), NonNeg(y), cp.SOC(z[:4], y, axis=0), NonNeg(x[:1])],
        [cp.SOC(z[:1], cp.reshape(x[:3], (3, 1), order="F"), axis=0), Zero(z)],
    ]
    for cons in lists:
        fast, ref = signed_row_permutation(cons), _spacing_permutation(cons)
        assert ref is not None
        assert np.array_equal(fast[0], ref[0]) and np.array_equal(fast[1], ref[1])
        assert fast[0].dtype == ref[0].dtype and fast[1].dtype == ref[1].dtype
    assert _spacing_permutation([cp.SOC(x[:3], y, axis=1)]) is None


def test_the_relaxations_permutation_is_the_one_cvxpys_matrix_makes(tech_problem, monkeypatch):
    fast = cone_format.signed_row_permutation
    seen = []

    def spy(constraints):
        seen.append((fast(constraints), _spacing_permutation(constraints)))
        return seen[-1][0]

    monkeypatch.setattr(cone_format, "signed_row_permutation", spy)
    with fast_cone_format():
        cp.Problem(tech_problem.relaxed.objective,
                   tech_problem.relaxed.constraints).get_problem_data(cp.CLARABEL)
    assert len(seen) == 1 and seen[0][1] is not None
    (fast_row, fast_sign), (row, sign) = seen[0]
    assert np.array_equal(fast_row, row) and np.array_equal(fast_sign, sign)
