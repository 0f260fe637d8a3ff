"""Choosing which names a long-only portfolio holds: backward elimination, then swaps.

A portfolio limited to ``N`` names is a mixed-integer problem. Both portfolios built here
with a name count, the direct-indexed target (:mod:`pma_lab.portfolio.target`) and the
completion sleeve of an active + index core (:mod:`pma_lab.portfolio.completion`), use the
same heuristic under the factor risk model (Boyd et al. 2017 §4.7, "fix and re-solve"):

1. **Backward elimination.** Start from the convex solution over every allowed name; keep
   the largest weights (drop a fraction of the smallest, coarse steps while more than
   twice ``N`` names are held, fine steps near ``N``, never below ``N``) and re-solve, until
   at most ``N`` names hold weight.
2. **Swaps.** Swap the smallest held name for the excluded allowed name whose gradient
   promises the largest decrease of the objective (its gradient below the costliest held
   name's: the weights' sum is fixed, so weight moves from a held name to it); keep a
   swap only when the re-solved objective improves and the name count still holds; end
   holding the best solution.

A portfolio that already holds names and is re-targeted (the completion sleeve at an update
of its active model) starts from them instead (:func:`reselect_names`): a held name is
changed only for a material gain, since each change is a sale.

The caller owns the convex problem: :func:`select_names` only sets per-name upper bounds
(``cap`` for a name that may be held, 0 otherwise) through the ``solve`` callable, so a DPP
problem compiled once with an upper-bound Parameter is re-solved without recompiling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pma_lab.validation import check_int, check_number

__all__ = ["SelectionSettings", "Selection", "select_names", "reselect_names",
           "check_selection"]

SolveFn = Callable[[np.ndarray], tuple[str, np.ndarray, float]]
"""``solve(upper) -> (status, weights, objective)``: re-solve with per-name upper bounds."""
GradientFn = Callable[[np.ndarray], np.ndarray]
"""``gradient(weights)``: the objective's gradient (only its order and sign are used)."""

_OK = ("optimal", "optimal_inaccurate")
_FILL_TRIES = 3  # candidates re-solved for a free slot (reselect_names)


@dataclass(frozen=True)
class SelectionSettings:
    """How names are chosen (see the module docs).

    Attributes
    ----------
    drop_fraction : float
        Share of the held names dropped per elimination round while more than twice the
        name count are held.
    fine_drop_fraction : float
        ... once fewer than twice the name count remain.
    swap_rounds : int
        Swaps tried after elimination (0: none).
    min_weight : float
        Weights at or below this count as not held.
    """

    drop_fraction: float = 0.25
    fine_drop_fraction: float = 0.05
    swap_rounds: int = 8
    min_weight: float = 1e-6

    def __post_init__(self) -> None:
        check_selection(self)


def check_selection(settings: object) -> None:
    """Validate the selection fields of any settings holding them.

    ``drop_fraction``, ``fine_drop_fraction``, ``swap_rounds`` and ``min_weight``; errors
    name the settings' own type (:class:`SelectionSettings`,
    :class:`pma_lab.portfolio.target.TargetSettings`).
    """
    for name in ("drop_fraction", "fine_drop_fraction"):
        check_number(settings, name, low=0, low_open=True, high=1, high_open=True,
                     meaning="a share of the held names")
    check_int(settings, "swap_rounds", low=0)
    check_number(settings, "min_weight", low=0, high=1, high_open=True)


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select_names`.

    Attributes
    ----------
    weights : np.ndarray
        The last solve's weights (clipped at zero), the best solution found; the caller's
        problem holds the same solution.
    status : str
        Solver status of that solve.
    path : tuple[int, ...]
        Names held after each elimination round.
    swaps_kept : int
        Swaps that improved the objective (re-selecting, :func:`reselect_names`: with the
        names added to free slots).
    method : str
        ``"backward elimination"`` with ``" + swaps"`` when swaps were tried.
    """

    weights: np.ndarray
    status: str
    path: tuple[int, ...]
    swaps_kept: int
    method: str

    @property
    def names(self) -> int:
        """Names held (weights above zero)."""
        return int((self.weights > 0).sum())


def select_names(w0: np.ndarray, f0: float, solve: SolveFn, gradient: GradientFn,
                 allowed: np.ndarray, cap: float | np.ndarray, max_names: int,
                 settings: SelectionSettings | None = None,
                 on_failure: Callable[[str, np.ndarray], Exception] | None = None
                 ) -> Selection:
    """Reduce a solution to at most ``max_names`` names (see the module docs).

    Parameters
    ----------
    w0 : np.ndarray
        The convex solution over every allowed name (already solved by the caller).
    f0 : float
        Its objective value.
    solve : callable
        ``solve(upper) -> (status, weights, objective)`` with per-name upper bounds.
    gradient : callable
        The objective's gradient at a weight vector.
    allowed : np.ndarray
        Boolean mask of the names that may be held.
    cap : float | np.ndarray
        Upper bound of a name that may be held.
    max_names : int
        The name count (at least 1).
    settings : SelectionSettings | None
    on_failure : callable | None
        ``on_failure(status, kept_mask)`` builds the error raised when an elimination
        re-solve is not optimal (default: a ``RuntimeError`` naming the status).

    Returns
    -------
    Selection
    """
    s = settings or SelectionSettings()
    if max_names < 1:
        raise ValueError(f"the name count must be at least 1 (got {max_names})")
    allowed = np.asarray(allowed, dtype=bool)

    def bounds(keep: np.ndarray) -> np.ndarray:
        return np.where(keep & allowed, cap, 0.0)

    def fail(status: str, keep: np.ndarray) -> Exception:
        if on_failure is not None:
            return on_failure(status, keep & allowed)
        return RuntimeError(f"a re-solve during name selection ended {status}")

    w = np.asarray(w0, dtype=float).clip(min=0.0)
    status, f = "optimal", float(f0)
    path: list[int] = []
    while True:
        held = np.flatnonzero(w > s.min_weight)
        path.append(len(held))
        if len(held) <= max_names:
            break
        # coarse steps far from N, fine steps near it (the last choices matter most)
        frac = s.drop_fraction if len(held) > 2 * max_names else s.fine_drop_fraction
        keep_n = max(max_names, min(len(held) - 1, int(len(held) * (1 - frac))))
        order = held[np.argsort(-w[held], kind="stable")]
        keep = np.zeros(len(w), dtype=bool)
        keep[order[:keep_n]] = True
        status, w, f = solve(bounds(keep))
        if status not in _OK:
            raise fail(status, keep)
        w = np.asarray(w, dtype=float).clip(min=0.0)
    method = "backward elimination"
    kept = 0
    if s.swap_rounds > 0:
        method += " + swaps"
        best_w, best_f, kept = _swaps(w, f, solve, gradient, allowed, bounds, max_names, s)
        status, w, _ = solve(bounds(best_w > s.min_weight))  # hold the best solution found
        w = np.asarray(w, dtype=float).clip(min=0.0)
    return Selection(w, status, tuple(path), kept, method)


def reselect_names(held: np.ndarray, solve: SolveFn, gradient: GradientFn,
                   allowed: np.ndarray, cap: float | np.ndarray, max_names: int,
                   settings: SelectionSettings | None = None, min_gain: float = 0.0,
                   on_failure: Callable[[str, np.ndarray], Exception] | None = None
                   ) -> Selection | None:
    """Re-select after a change of the problem, keeping the names already held.

    A portfolio already holding names (the completion sleeve before its active model's
    update) is re-targeted from them rather than chosen afresh: a fresh selection
    (:func:`select_names`) of a problem whose optimum is flat in which names are held
    re-chooses among near-equivalent sets (8 of core-active's 40 completion names for a
    one-name update of its active model, for no better tracking), and each change is a
    sale. So:

    1. Solve over the held names still allowed (more than ``max_names`` of them: backward
       elimination among them only).
    2. Fill the slots left free (held names no longer allowed, or held at zero by the new
       problem): of the few excluded allowed names whose gradient promises the largest
       decrease, add the one whose re-solve is best, when the objective improves (a buy
       only: nothing held is sold).
    3. Swaps as :func:`select_names`'s, each kept only when it improves the objective by at
       least ``min_gain``.

    The gain is measured on the objective's square root (a tracking error when the
    objective is a tracking variance): a name held is changed only when that improves
    tracking by ``min_gain`` or more.

    Parameters
    ----------
    held : np.ndarray
        Boolean mask of the names held now.
    solve, gradient, allowed, cap, max_names, settings, on_failure
        As :func:`select_names`.
    min_gain : float
        The improvement of the objective's square root a change of name must bring (0: any).

    Returns
    -------
    Selection | None
        ``None`` when no held name is allowed any more or the solve over them fails (the
        caller selects afresh).
    """
    s = settings or SelectionSettings()
    if max_names < 1:
        raise ValueError(f"the name count must be at least 1 (got {max_names})")
    if min_gain < 0:
        raise ValueError(f"min_gain must be >= 0 (got {min_gain})")
    allowed = np.asarray(allowed, dtype=bool)
    keep = np.asarray(held, dtype=bool) & allowed
    if not keep.any():
        return None

    def bounds(k: np.ndarray) -> np.ndarray:
        return np.where(k & allowed, cap, 0.0)

    status, w, f = solve(bounds(keep))
    if status not in _OK:
        return None
    w = np.asarray(w, dtype=float).clip(min=0.0)
    path = [int((w > s.min_weight).sum())]
    if path[0] > max_names:  # fewer names than held: drop among the held ones only
        sel = select_names(w, f, solve, gradient, keep, cap, max_names,
                           SelectionSettings(s.drop_fraction, s.fine_drop_fraction, 0,
                                             s.min_weight), on_failure)
        status, w, path = sel.status, sel.weights, path + list(sel.path[1:])
        f = solve(bounds(w > s.min_weight))[2]
    best_w, best_f, kept = w, float(f), 0
    tried = np.zeros(len(best_w), dtype=bool)
    while int((best_w > s.min_weight).sum()) < max_names:  # 2. the free slots
        out = np.flatnonzero(allowed & (best_w <= s.min_weight) & ~tried)
        grad = gradient(best_w)
        out = [j for j in out[np.argsort(grad[out], kind="stable")][:_FILL_TRIES]
               if grad[j] < 0]
        best = None
        tried[out] = True
        for j in out:  # the gradient's best few, each re-solved: the best objective wins
            k = best_w > s.min_weight
            k[j] = True
            st, w, f = solve(bounds(k))
            if st in _OK and f < (best_f if best is None else best[1]):
                best = (np.asarray(w, dtype=float).clip(min=0.0), f)
        if best is None:  # a buy only (nothing held is sold): any improvement fills it
            break
        best_w, best_f, kept = best[0], best[1], kept + 1
    if s.swap_rounds > 0:  # 3. swaps, each for a material gain only
        best_w, best_f, more = _swaps(best_w, best_f, solve, gradient, allowed, bounds,
                                      max_names, s, min_gain)
        kept += more
    status, w, _ = solve(bounds(best_w > s.min_weight))  # hold the best solution found
    if status not in _OK:
        return None
    w = np.asarray(w, dtype=float).clip(min=0.0)
    method = "held names kept" + (" + swaps" if s.swap_rounds > 0 else "")
    return Selection(w, status, tuple(path), kept, method)


def _better(f: float, best: float, gain: float) -> bool:
    """``f`` improves on ``best``: by any amount (``gain`` 0), or its root by ``gain``."""
    if gain == 0:
        return f < best
    return float(np.sqrt(max(f, 0.0))) <= float(np.sqrt(max(best, 0.0))) - gain


def _swaps(w: np.ndarray, f: float, solve: SolveFn, gradient: GradientFn,
           allowed: np.ndarray, bounds: Callable[[np.ndarray], np.ndarray], max_names: int,
           s: SelectionSettings, min_gain: float = 0.0) -> tuple[np.ndarray, float, int]:
    """Local search after elimination; returns the best weights, objective and swaps kept.

    Each round swaps the smallest held name for the excluded allowed name of lowest
    gradient not yet tried against a held name, while that gradient is below the costliest
    held name's: with the weights' sum fixed, the budget's projection of the gradient
    (moving weight from a held name to the excluded one) is what promises a decrease, not
    the gradient's sign. A swap is kept when it improves the objective (by ``min_gain`` on
    its root, see :func:`_better`) and the name count still holds.
    """
    best_w, best_f, kept = w, f, 0
    tried: set[tuple[int, int]] = set()
    for _ in range(s.swap_rounds):
        held = np.flatnonzero(best_w > s.min_weight)
        out = np.flatnonzero(allowed & (best_w <= s.min_weight))
        if not len(out) or not len(held):
            break
        grad = gradient(best_w)
        j_in = next((j for j in out[np.argsort(grad[out])]
                     if not any((i, j) in tried for i in held)), None)
        # the weights' sum is fixed, so a name comes in only as another's weight goes out:
        # moving e from held name i to j changes the objective by e (g_j - g_i), and j
        # promises a decrease while its gradient is below the costliest held name's (the
        # gradient's level, 0 or any other, says nothing about it)
        if j_in is None or grad[j_in] >= grad[held].max():
            break
        i_out = held[np.argmin(best_w[held])]
        tried.add((int(i_out), int(j_in)))
        keep = best_w > s.min_weight
        keep[i_out], keep[j_in] = False, True
        status, w, f = solve(bounds(keep))
        w = np.asarray(w, dtype=float).clip(min=0.0)
        if (status in _OK and _better(f, best_f, min_gain)
                and int((w > s.min_weight).sum()) <= max_names):
            best_w, best_f, kept = w, f, kept + 1
    return best_w, best_f, kept
