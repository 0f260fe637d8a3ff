"""Name selection (backward elimination + swaps) on a problem small enough to solve by hand."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from pma_lab.errors import InfeasibleError, SettingsError
from pma_lab.portfolio.selection import SelectionSettings, reselect_names, select_names

B = np.array([0.4, 0.3, 0.2, 0.1])  # a benchmark of four uncorrelated names, unit variance


def toy():
    """min ||w - b||^2 s.t. sum(w) = 1, 0 <= w <= upper (a tracking problem, Sigma = I)."""
    w = cp.Variable(4, nonneg=True)
    ub = cp.Parameter(4, nonneg=True)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(w - B)), [cp.sum(w) == 1, w <= ub])
    calls = []

    def solve(upper):
        ub.value = upper
        prob.solve(solver=cp.CLARABEL)
        calls.append(upper.copy())
        return prob.status, np.asarray(w.value), float(prob.value)

    ub.value = np.ones(4)
    prob.solve(solver=cp.CLARABEL)
    return np.asarray(w.value), float(prob.value), solve, calls


def test_two_names_keep_the_largest_and_share_the_rest_evenly():
    # Holding A and B only: w = b + t on both with 2t = 0.3 (what C and D held), so
    # w = (0.55, 0.45); the objective is 2 x 0.15^2 + 0.2^2 + 0.1^2 = 0.095.
    w0, f0, solve, calls = toy()
    assert w0 == pytest.approx(B, abs=1e-7)  # unconstrained: the benchmark itself
    sel = select_names(w0, f0, solve, lambda w: 2 * (w - B), np.ones(4, bool), 1.0, 2)
    assert sel.weights == pytest.approx([0.55, 0.45, 0, 0], abs=1e-6)
    assert sel.names == 2 and sel.status == "optimal"
    assert sel.path == (4, 3, 2)  # fine steps (4 <= 2 x 2): one name at a time
    # the swaps tried, by the gradient 2(w - b) = (0.3, 0.3, -0.4, -0.2): B out, C in
    # (w = (0.6, 0, 0.4, 0): 0.2^2 + 0.3^2 + 0.2^2 + 0.1^2 = 0.18 > 0.095), then B out, D in
    # (w = (0.65, 0, 0, 0.35): 0.255); neither is kept and the last solve holds A, B again
    assert sel.swaps_kept == 0 and sel.method == "backward elimination + swaps"
    assert [list(c) for c in calls] == [[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 1, 0],
                                        [1, 0, 0, 1], [1, 1, 0, 0]]


def test_a_name_not_allowed_is_never_held_and_swaps_can_be_off():
    w0, f0, solve, _ = toy()
    allowed = np.array([False, True, True, True])
    sel = select_names(w0, f0, solve, lambda w: 2 * (w - B), allowed, 1.0, 2,
                       SelectionSettings(swap_rounds=0))
    # A is dropped at the first re-solve; B and C share 0.5: (0.3 + 0.25, 0.2 + 0.25)
    assert sel.weights == pytest.approx([0, 0.55, 0.45, 0], abs=1e-6)
    assert sel.method == "backward elimination"


def test_a_failed_re_solve_raises_the_callers_error():
    w0, f0, _, _ = toy()

    def solve(upper):
        return "infeasible", np.zeros(4), np.inf

    with pytest.raises(InfeasibleError, match="kept 3"):
        select_names(w0, f0, solve, lambda w: w, np.ones(4, bool), 1.0, 2,
                     on_failure=lambda st, keep: InfeasibleError(
                         f"{st}: kept {int(keep.sum())}", ["max_names"]))


def test_settings_are_checked():
    with pytest.raises(SettingsError, match="drop_fraction"):
        SelectionSettings(drop_fraction=1.5)
    with pytest.raises(ValueError, match="at least 1"):
        w0, f0, solve, _ = toy()
        select_names(w0, f0, solve, lambda w: w, np.ones(4, bool), 1.0, 0)


def grad(w):
    return 2 * (w - B)


def test_reselect_keeps_the_held_names_unless_a_change_gains_enough():
    # Holding A and C: w = b + t on both with 2t = 0.4 (what B and D held), so
    # w = (0.6, 0, 0.4, 0), objective 0.2^2 + 0.3^2 + 0.2^2 + 0.1^2 = 0.18 (root 0.4243);
    # the best pair A, B has 0.095 (root 0.3082, see above): swapping C for B gains 0.116.
    _, _, solve, calls = toy()
    held = np.array([True, False, True, False])
    keep = reselect_names(held, solve, grad, np.ones(4, bool), 1.0, 2, min_gain=0.2)
    assert keep.weights == pytest.approx([0.6, 0, 0.4, 0], abs=1e-6)
    assert keep.swaps_kept == 0 and keep.path == (2,)
    assert keep.method == "held names kept + swaps"
    # the swaps tried (gradient (0.4, -0.6, 0.4, -0.2), C the smallest held): B in
    # (0.095, a gain of 0.116 < 0.2), then D in ((0.65, 0, 0, 0.35): 0.255, worse)
    assert [list(c) for c in calls] == [[1, 0, 1, 0], [1, 1, 0, 0], [1, 0, 0, 1],
                                      [1, 0, 1, 0]]
    _, _, solve, _ = toy()
    swap = reselect_names(held, solve, grad, np.ones(4, bool), 1.0, 2, min_gain=0.1)
    assert swap.weights == pytest.approx([0.55, 0.45, 0, 0], abs=1e-6)
    assert swap.swaps_kept == 1
    # a fresh selection would not have kept C: A and B (the first test)


def test_reselect_fills_a_freed_slot_and_drops_among_the_held_only():
    # C held but no longer allowed: A alone (w = (1, 0, 0, 0), 0.5), then the free slot is
    # filled by the best re-solve of the gradient's candidates B (0.095) and D (0.255),
    # whatever min_gain (a buy only)
    _, _, solve, _ = toy()
    sel = reselect_names(np.array([True, False, True, False]), solve, grad,
                         np.array([True, True, False, True]), 1.0, 2, min_gain=1.0)
    assert sel.weights == pytest.approx([0.55, 0.45, 0, 0], abs=1e-6)
    # three held, two allowed by the count: over A, B, C (0.1 / 3 each added), then C,
    # the smallest, goes; D (never held) is not considered by the elimination
    _, _, solve, _ = toy()
    sel = reselect_names(np.array([True, True, True, False]), solve, grad,
                         np.ones(4, bool), 1.0, 2, min_gain=1.0)
    assert sel.path == (3, 2)
    assert sel.weights == pytest.approx([0.55, 0.45, 0, 0], abs=1e-6)
    # nothing held is allowed: None (the caller selects afresh); bad arguments refused
    _, _, solve, _ = toy()
    assert reselect_names(np.array([False, False, True, False]), solve, grad,
                          np.array([True, True, False, True]), 1.0, 2) is None
    with pytest.raises(ValueError, match="min_gain"):
        reselect_names(np.ones(4, bool), solve, grad, np.ones(4, bool), 1.0, 2, min_gain=-0.1)
    with pytest.raises(ValueError, match="at least 1"):
        reselect_names(np.ones(4, bool), solve, grad, np.ones(4, bool), 1.0, 0)


def test_swaps_go_on_while_an_excluded_name_is_cheaper_than_a_held_one():
    # Six names under a one-factor model (betas, specific variances); two names held.
    # Elimination ends at C, D (0.837, 0.163; objective 0.002252). The gradient there is
    # (A 0.00368, B 0.00528, C 0.02207, D 0.02206, E 0.00039, F -0.00349): after F (D out,
    # F in: 0.002783, not kept) every excluded name's gradient is above 0, but below the
    # held names' 0.0221, and with the weights' sum fixed that is what promises a decrease
    # (weight moved from D to A: e (0.00368 - 0.02206) < 0). Swapping on: E (0.002277),
    # then A, kept (A, C at 0.2428, 0.7572: 0.001728, the best of the 15 pairs). Stopping
    # at a gradient of 0 (the old gate) left C, D.
    beta = np.array([0.956, 0.874, 0.992, 1.607, 1.192, 0.434])
    spec = np.array([0.0167, 0.008, 0.0625, 0.0784, 0.0515, 0.0439])
    b = np.array([0.065, 0.004, 0.709, 0.085, 0.067, 0.070])
    sigma = 0.04 * np.outer(beta, beta) + np.diag(spec)
    w = cp.Variable(6, nonneg=True)
    ub = cp.Parameter(6, nonneg=True)
    prob = cp.Problem(cp.Minimize(cp.quad_form(w - b, sigma)), [cp.sum(w) == 1, w <= ub])

    def solve(upper):
        ub.value = upper
        prob.solve(solver=cp.CLARABEL)
        return prob.status, np.asarray(w.value), float(prob.value)

    _, w0, f0 = solve(np.ones(6))
    sel = select_names(w0, f0, solve, lambda x: 2 * sigma @ (x - b), np.ones(6, bool), 1.0, 2)
    assert sel.path == (6, 4, 3, 2)
    assert sel.swaps_kept == 1
    assert sel.weights == pytest.approx([0.2428, 0, 0.7572, 0, 0, 0], abs=1e-4)
    pairs = []
    for i in range(6):
        for j in range(i + 1, 6):
            pairs.append(solve(np.isin(np.arange(6), [i, j]).astype(float))[2])
    assert solve((sel.weights > 0).astype(float))[2] == pytest.approx(min(pairs), rel=1e-6)
    assert min(pairs) == pytest.approx(0.001728, abs=5e-7)
