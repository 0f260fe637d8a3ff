"""cvxpy's conic restructuring of a parametrised problem, done as the row permutation it is.

When cvxpy compiles a DPP problem for a conic solver (Clarabel), its
``ConicSolver.format_constraints`` reorders the rows of the parametrised data tensor into
the solver's cone layout: an equality row is negated, an inequality row kept, and the
rows of each second-order cone ``(t, X)`` interleaved (``t_k`` followed by the column
``X[:, k]``). cvxpy does this by multiplying a restructuring matrix into the tensor
reshaped to ``rows x (variables + 1)(parameters + 1)`` columns; scipy's sparse product
and conversions cost time in that column count (~5.3 million on the 500-name benchmark
book's relaxation: 0.85-1.3 CPU-s, ~90 % of the relaxation's compile and the first
frontier point's largest part, for a tensor of 47,000 entries).

The restructuring matrix is a signed permutation of the rows, so :func:`fast_cone_format`
builds the very same matrix with cvxpy's own helper (``get_spacing_matrix``), checks that
it is one, and moves each tensor entry to its row with its sign (~6 ms): the tensor, the
problem data and so the solve are cvxpy's to the bit. Any other cone (exponential, power,
PSD), or a restructuring that is not a signed permutation, goes through cvxpy's own code,
as does any cvxpy other than the release this replicates (:data:`REPLICATES`).

The patch is a class attribute, so while one thread is inside the block every thread's
conic compile takes the permutation, and a thread still inside when the outermost block
ends takes cvxpy's code: the data are the same either way (tested to the bit), only the
compile's speed differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import cvxpy
import numpy as np
import scipy.sparse as sp
from cvxpy.constraints import SOC, NonNeg, Zero
from cvxpy.reductions.dcp2cone.cone_matrix_stuffing import ParamConeProg
from cvxpy.reductions.solvers.conic_solvers.conic_solver import ConicSolver

__all__ = ["fast_cone_format", "signed_row_permutation", "REPLICATES"]

REPLICATES = "1.9.3"
"""The cvxpy release whose ``ConicSolver.format_constraints`` (and ``ParamConeProg``'s
fields) this replicates; any other release compiles with cvxpy's own code
(``constraints.txt`` installs exactly this one)."""

_ORIGINAL = ConicSolver.__dict__["format_constraints"]  # the classmethod itself
calls = {"fast": 0, "cvxpy": 0}
"""Restructurings done as a permutation (``fast``) or by cvxpy's code (``cvxpy``)."""


def signed_row_permutation(constraints) -> tuple[np.ndarray, np.ndarray] | None:
    """The restructuring cvxpy makes of ``constraints``' rows, as ``(new_row, sign)`` per row.

    The matrix ``ConicSolver.format_constraints`` builds (cvxpy 1.9): ``-I`` for an
    equality, ``I`` for an inequality, the interleaving spacing matrices for a
    second-order cone (``t_k`` to row ``k (x_dim + 1)``, ``X[i, k]`` to row
    ``k (x_dim + 1) + 1 + i``), block-diagonal, written here as the row each old row
    moves to (the tests build the matrix itself, as cvxpy does, and check the same
    answer: ``tests/test_cone_format.py``). ``None`` for any other cone or when the matrix is
    not a signed permutation (one entry ``+-1`` in every row and column).
    """
    rows, signs = [], []
    top = 0
    for con in constraints:
        height = sum(arg.size for arg in con.args)
        if type(con) is Zero or type(con) is NonNeg:
            rows.append(np.arange(top, top + height, dtype=np.int64))
            signs.append(np.full(height, -1.0 if type(con) is Zero else 1.0))
        elif type(con) is SOC:
            if con.axis != 0:
                return None
            x_dim = con.args[1].shape[0] if con.args[1].shape else 1
            n_cones = con.args[0].size
            if con.args[1].size != x_dim * n_cones or x_dim < 1:
                return None
            step = x_dim + 1
            k = np.arange(n_cones, dtype=np.int64)
            x_rows = (k[:, None] * step + 1 + np.arange(x_dim, dtype=np.int64)).ravel()
            rows.append(top + np.concatenate([k * step, x_rows]))
            signs.append(np.ones(height))
        else:
            return None
        top += height
    if not rows:
        return None
    return np.concatenate(rows), np.concatenate(signs)


def _format_constraints(cls, problem, exp_cone_order):
    """``ConicSolver.format_constraints`` with the restructuring as a row permutation."""
    perm = signed_row_permutation(problem.constraints) \
        if cvxpy.__version__ == REPLICATES else None
    if perm is None:
        calls["cvxpy"] += 1
        return _ORIGINAL.__func__(cls, problem, exp_cone_order)
    calls["fast"] += 1
    new_row, sign = perm
    m = len(new_row)
    a = problem.A.tocoo()
    # a tensor row is (block of m rows: a variable's column or the constant) x m + row
    block, row = np.divmod(a.row.astype(np.int64), m)
    # the class cvxpy's product gives: an array once any operand is one (its spacing
    # matrices are), so a matrix only for a matrix tensor without a cone to interleave
    kind = sp.coo_matrix if not isinstance(problem.A, sp.sparray) and not any(
        type(c) is SOC for c in problem.constraints) else sp.coo_array
    restructured = kind((a.data * sign[row], (block * m + new_row[row],
                                              a.col.astype(np.int64))), shape=a.shape)
    return ParamConeProg(
        problem.q,
        problem.x,
        restructured,
        problem.variables,
        problem.var_id_to_col,
        problem.constraints,
        problem.parameters,
        problem.param_id_to_col,
        P=problem.P,
        formatted=True,
        lower_bounds=problem.lower_bounds,
        upper_bounds=problem.upper_bounds,
        lb_tensor=problem.lb_tensor,
        ub_tensor=problem.ub_tensor,
        dir_cones=problem.dir_cones,
    )


@contextmanager
def fast_cone_format() -> Iterator[None]:
    """Within the block, conic compiles restructure the tensor as a permutation (see above).

    Re-entrant; cvxpy's own method is put back on leaving the outermost block.
    """
    if ConicSolver.__dict__["format_constraints"] is not _ORIGINAL:
        yield  # already inside a block
        return
    ConicSolver.format_constraints = classmethod(_format_constraints)
    try:
        yield
    finally:
        ConicSolver.format_constraints = _ORIGINAL
