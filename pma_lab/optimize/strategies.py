"""How a rebalance decides, per name, whether to buy or to sell: the solve strategies.

Never buying and selling the same name at once is the one nonconvex constraint of the
rebalance. Each strategy is a function ``(problem, buy, lot_cap, w_cap) -> status`` that
leaves the problem's variables at its chosen solution (and ``problem._last_sell`` at the
sides it fixed, ``None`` for the relaxation); ``buy``, ``lot_cap`` and ``w_cap`` are the
caps per asset the solve starts from (:meth:`RebalanceProblem.solve` lowers them for the
name-count cap and the minimum trade). :data:`STRATEGIES` maps each
:class:`~pma_lab.modes.Method` value to its function, and :func:`strategy` looks one up,
naming the valid ones for an unknown name.

* ``two_step`` (:func:`two_step`): the convex relaxation, then the sign-fixed exact problem
  (Moehle, Kochenderfer, Boyd and Ang, 2021), with the roundings of :func:`best_signs`;
* ``relaxed`` (:func:`relaxed`): the relaxation only, a lower bound;
* ``enumerate`` (:func:`enumerate_signs`): every sign pattern of the loss-relevant names.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from pma_lab.modes import Method
from pma_lab.optimize.cone_format import fast_cone_format
from pma_lab.optimize.constraints import CLEAN as _CLEAN
from pma_lab.optimize.diagnose import SOLVED as _OK
from pma_lab.optimize.dual_qp import DualQP, capped_bound
from pma_lab.optimize.pattern_bound import pattern_bound, pattern_solution
from pma_lab.validation import as_choice

if TYPE_CHECKING:
    import cvxpy as cp

    from pma_lab.optimize.rebalance import RebalanceProblem

__all__ = ["STRATEGIES", "Strategy", "strategy", "two_step", "relaxed", "enumerate_signs",
           "best_signs", "by_group"]

PRUNE_MARGIN = 1e-8
"""A pattern is skipped when its bound exceeds the incumbent by this much (relative to
the objective, at least 1) beyond the comparison's own 1e-9: the interior-point solvers'
accuracy, so the solve it saves could not have been kept (their value is within ~1e-10
of the bound on the benchmark book)."""

PRUNE_MIN_LOTS = 1000
"""Patterns are bounded by the uncapped bound only in accounts of at least this many lots
(under a binding tracking-error cap the capped bound from the incumbent's solve, a few
evaluations against a cap search's ~57, applies at any size: session 17): on small books
(12-60 names, 100-600 lots, solves of a few ms) the bound (~1-4 ms) cost what it saved
(300 random re-solves: 16.3 CPU-s with it, 16.1 without); on the 4,400-lot benchmark book
a solve is ~40 ms and the bound ~3-6 ms. (A count, not a time: the same solves whatever
the machine's load.)"""

PRUNE_STATIONARY = 1e-9
PRUNE_CAP_SHARE = 0.95
"""With a tracking-error cap that has not bound yet, a pattern is skipped only when the
bound's multipliers maximise it (projected gradient below ``PRUNE_STATIONARY``) and the
weights there have TE^2 below ``PRUNE_CAP_SHARE`` of the cap's: its QP (the solve the
skip saves) would then stay within the cap, as the later solves' path assumes."""

Strategy = Callable[["RebalanceProblem", np.ndarray, np.ndarray, np.ndarray], str]
"""A solve strategy: ``(problem, buy, lot_cap, w_cap) -> solver status``."""


def _relaxation(p: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
                w_cap: np.ndarray) -> tuple[str, cp.Problem]:
    """Solve the relaxation at the given caps; return its status and the problem solved.

    Its compile (the first solve of a problem) restructures cvxpy's tensor as the row
    permutation it is (:func:`~pma_lab.optimize.cone_format.fast_cone_format`: the same
    problem data to the bit, 0.06 instead of ~0.9-1.4 CPU-s on the benchmark book).
    """
    p._set_caps(buy, lot_cap, w_cap)
    relaxation = p.relaxed
    status = None
    # the dual is written for the built-in objective: not with a researcher's terms
    solver = None if getattr(p, "_terms", None) else getattr(p, "relax_solver", None)
    if solver is not None and p.settings.dual_relaxation:
        # solved by its Lagrangian dual (pma_lab.optimize.relax_dual), certified; None:
        # not covered, a split name or not certified (Clarabel below)
        status = solver(p, buy, lot_cap, w_cap)
    if status is None:
        with fast_cone_format():
            status = p._run(relaxation)
            if status == "solver_error" and p.relaxed_form == "perspective envelope":
                # the perspective cones can stall the interior-point solver on degenerate
                # instances (e.g. no tax aversion): fall back, visibly, to the linear-hull
                # relaxation (exact quadratic, relaxed bounds), which it handles well
                p._fallbacks += 1
                relaxation = p._linear_hull()
                status = p._run(relaxation)
    cap = p.settings.te_cap
    if status in _OK and cap is not None and float(p.te2_exact.value) >= 0.999 * cap ** 2:
        # the relaxation's trades sit at the TE cap: the sign-fixed ones will too, so
        # they go straight to the capped problem (no solve without the cap first)
        p._cap_bound = True
    return status, relaxation


def relaxed(p: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
            w_cap: np.ndarray) -> str:
    """``"relaxed"``: the relaxation only (a lower bound; it may buy and sell a name)."""
    status, _ = _relaxation(p, buy, lot_cap, w_cap)
    p._last_sell = None
    return status


def two_step(p: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
             w_cap: np.ndarray) -> str:
    """``"two_step"``: Moehle et al.'s relaxation, then the sign-fixed exact problem.

    Without a name holding a sellable loss lot the exact problem with both sides open is
    solved directly (buying and selling a name at once never pays). Otherwise the
    problem's ``sign_search`` (if installed) is tried first; then the relaxation is
    solved and rounded to one side per identity group: by the sign of the relaxed net
    trade (``sign_rule="net"``) or the better of that and the relaxed sell share, improved
    by a few flips (``"best"``, :func:`best_signs`).

    When the installed ``sign_search`` stepped aside and has an ``after_two_step``
    method (:meth:`pma_lab.optimize.aggregate.WarmSigns.after_two_step`), it is called
    with the caps once the sides are chosen and solved, so it can bound how far those
    sides are from the optimum (no solve; the trades are unchanged). When the search
    stepped aside and the problem's ``pattern_solver`` has a ``begin`` method (the
    frontier's, :class:`pma_lab.optimize.frontier._PointDual`), it is called first: the
    two-step's first QP starts as a point's first does, not from the search's last QP.
    """
    search = None if getattr(p, "_terms", None) else p.sign_search  # built-in objective
    if search is not None and p._loss_relevant().any():
        status = search(p, buy, lot_cap, w_cap)
        if status is not None:
            return status
        # a pattern solver that starts a point's first QP afresh (the frontier's,
        # frontier._PointDual) starts the two-step's first one so too: its sides and
        # trades do not depend on the QPs the search tried and gave up
        begin = getattr(p.pattern_solver, "begin", None)
        if begin is not None:
            begin()
    status = _rounded(p, buy, lot_cap, w_cap)
    after = getattr(search, "after_two_step", None)
    if after is not None and status in _OK:
        after(p, buy, lot_cap, w_cap)
    return status


def _rounded(p: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
             w_cap: np.ndarray) -> str:
    """The two-step's own sides: the relaxation rounded (see :func:`two_step`)."""
    if not p._loss_relevant().any():
        # no name holds a sellable loss lot: buying and selling a name at once can
        # never pay, so the exact convex problem with both sides open is the optimum
        p._last_sell = np.zeros(p.na, dtype=bool)
        return p._fixed(p._last_sell, buy, lot_cap, w_cap)
    status, relaxation = _relaxation(p, buy, lot_cap, w_cap)
    if status not in _OK:
        p._last_sell = None
        return status
    net = np.asarray(p.b.value) - p.A @ p._x_value() if p.nl else \
        np.asarray(p.b.value)
    lam = np.asarray(p.lam.value)
    # sell when the relaxed net trade is a sale (ties: follow lambda); a name that may
    # not be bought anyway is free to sell
    has_lots = p.has_lots
    sell = (net < -_CLEAN) | ((np.abs(net) <= _CLEAN) & (lam > 0.5)) | (buy == 0)
    sell = by_group(p, sell & has_lots)
    if p.settings.sign_rule == "best":
        alt = by_group(p, ((lam > 0.5) | (buy == 0)) & has_lots)
        # the relaxation's optimum is a lower bound on every sign pattern's
        bound = -np.inf if relaxation.value is None else float(relaxation.value)
        return best_signs(p, sell, alt, lam, buy, lot_cap, w_cap, bound)
    p._last_sell = sell
    return p._fixed(sell, buy, lot_cap, w_cap)


def best_signs(p: RebalanceProblem, sell: np.ndarray, alt: np.ndarray, lam: np.ndarray,
               buy: np.ndarray, lot_cap: np.ndarray, w_cap: np.ndarray,
               bound: float = -np.inf) -> str:
    """The best of the two roundings of the relaxation, improved by a few flips.

    Where the relaxation splits a name between its branches, the net trade can point
    the wrong way (up to 87 % worse on random small books). Both roundings are solved
    exactly (net trade; relaxed sell share ``lambda > 0.5``); then, from the better,
    up to ``sign_flips`` split loss-relevant names are flipped one at a time (nearest
    ``lambda = 0.5`` first), keeping each flip that lowers the objective. Each
    pattern's problem is convex, so every candidate is a feasible trade and the result
    is never worse than the net-trade rule alone. The search stops as soon as a pattern
    reaches the relaxation's objective ``bound`` (a lower bound: that pattern is
    optimal), so a tight relaxation costs one exact solve, as before.
    """
    rel = p._loss_relevant()
    groups = p.state.groups
    member = np.array([groups.get(t, t) for t in p.state.assets], dtype=object)
    tried: dict[bytes, tuple[float, str]] = {}
    last: list[bytes] = []
    kept: dict[bytes, tuple] = {}
    # the certified dual's solves (pma_lab.optimize.dual_qp), from multipliers set by the
    # data alone: per pattern its cost weight and multipliers (where capped_bound starts
    # from), and per loss-relevant sides the pattern solved (or pruned) with them
    solver = p.pattern_solver
    dual = solver if isinstance(solver, DualQP) and not solver.warm else None
    start: dict[bytes, tuple[float, np.ndarray]] = {}
    same: dict[bytes, bytes] = {}

    def sides(pattern: np.ndarray) -> bytes:
        """What a pattern's problem depends on: the sides of its loss-relevant names."""
        return (pattern & rel).tobytes()

    def value(pattern: np.ndarray) -> float:
        key = pattern.tobytes()
        if key not in tried:
            solved = dual.stats["solved"] if dual is not None else -1
            status = p._fixed(pattern, buy, lot_cap, w_cap)
            tried[key] = (float(p.exact.value) if status in _OK else np.inf, status)
            last[:] = [key]
            if status in _OK:
                kept[key] = p._keep_solution()
                if dual is not None and dual.stats["solved"] == solved + 1:
                    start[key] = (dual.last["t"], dual.last["y"])
                    same.setdefault(sides(pattern), key)
        return tried[key][0]

    def better(a: float, b: float) -> bool:
        return a < b - 1e-9 * max(1.0, abs(b))

    def proven(f: float) -> bool:  # within solver accuracy of the lower bound
        return f <= bound + 1e-6 * max(1.0, abs(bound))

    ahead = p._ahead()

    def cannot_win(pattern: np.ndarray, f_inc: float, incumbent: np.ndarray) -> bool:
        """Whether a pattern is proven not lower than ``f_inc`` without solving it.

        Skipped (``prune_patterns``; not with a forked copy, whose requests are posted
        ahead, nor with a ``sign_search``) when

        * its loss-relevant names have the sides of a pattern solved by the certified
          dual (whose solve it would repeat to the bit: the same problem, from the same
          multipliers) or pruned, and that one is not lower than ``f_inc`` (session 17:
          a flip that undoes the roundings' difference);
        * or its Lagrangian bound is above ``f_inc`` by more than the comparison's
          tolerance plus the solver's accuracy, so ``better`` would not keep it: with a
          tracking-error cap that binds, the capped bound (:func:`~pma_lab.optimize.
          dual_qp.capped_bound`) from the ``incumbent`` pattern's cost weight and
          multipliers (session 17, every book: it costs a few evaluations of the dual
          against a cap search's 40-60); else, in accounts of ``PRUNE_MIN_LOTS`` lots or
          more, :func:`~pma_lab.optimize.pattern_bound.pattern_bound`.

        A tie with the solution in hand is left to ``_fixed``, which skips it cheaper.
        """
        if (ahead is not None or p.sign_search is not None or not p.prune_patterns
                or getattr(p, "_terms", None)
                or not np.isfinite(f_inc) or pattern.tobytes() in tried):
            return False
        twin = same.get(sides(pattern))
        if twin is not None and not better(tried[twin][0], f_inc):
            return pruned(pattern)
        s = p.settings
        inc = start.get(incumbent.tobytes())
        capped = s.te_cap is not None and p._cap_bound and inc is not None
        if p.nl < PRUNE_MIN_LOTS and not capped:
            return False  # a solve this small costs about what the bound does
        base = p._tie_base
        if base is not None and p.skip_proven_solves and \
                p._still_optimal(base, pattern, buy, lot_cap, w_cap):
            return False
        need = f_inc - 1e-9 * max(1.0, abs(f_inc)) + PRUNE_MARGIN * max(1.0, abs(f_inc))
        if capped:
            # the cap binds (a solve already went to the capped problem): the capped
            # bound, from the incumbent's cost weight and multipliers
            if capped_bound(p, pattern, buy, lot_cap, w_cap, *inc, target=need) < need:
                return False
        elif s.te_cap is not None and not p._cap_bound and s.qp_solver and p.lift_te_cap:
            # the pattern's solve would be its QP without the cap, and a QP above the cap
            # sends every later solve to the capped problem (_fixed_solve): skipped only
            # when the bound's multipliers maximise it (its weights are then the QP's
            # solution) and those weights are well within the cap
            bound, w, slope = pattern_solution(p, pattern, buy, lot_cap, w_cap,
                                               target=need, converge=True)
            if bound < need or w is None or slope > PRUNE_STATIONARY or \
                    p.tracking.value(w - p.wt) > PRUNE_CAP_SHARE * s.te_cap ** 2:
                return False
        elif pattern_bound(p, pattern, buy, lot_cap, w_cap, target=need) < need:
            return False
        return pruned(pattern)

    def pruned(pattern: np.ndarray) -> bool:
        tried[pattern.tobytes()] = (np.inf, "pruned")  # never kept: not lower than f_inc
        same.setdefault(sides(pattern), pattern.tobytes())
        p.pruned_solves += 1
        return True

    if ahead is not None and np.any((alt != sell) & rel):
        ahead.post(p, alt, buy, lot_cap, w_cap)  # the second rounding, beside the first
    best = sell
    f_best = value(sell)
    if not proven(f_best) and np.any((alt != sell) & rel) and \
            not cannot_win(alt, f_best, sell):
        f_alt = value(alt)
        if better(f_alt, f_best):
            best, f_best = alt, f_alt
    split = np.flatnonzero(rel & p.has_lots & (buy > 0) & (lam > 0.05) & (lam < 0.95))
    for i in sorted(split, key=lambda i: abs(lam[i] - 0.5))[: p.settings.sign_flips]:
        if proven(f_best):
            break
        cand = best.copy()
        cand[member == member[i]] = not best[i]  # a group shares one side
        if ahead is not None and cand.tobytes() not in tried:
            # beside the flip: the minimum-trade re-solve of the best pattern so far,
            # which solve() asks for next if the flip does not win
            _post_min_trade(p, ahead, best, kept.get(best.tobytes()), buy, lot_cap, w_cap)
        if cannot_win(cand, f_best, best):
            continue
        f_c = value(cand)
        if better(f_c, f_best):
            best, f_best = cand, f_c
    p._last_sell = best
    key = best.tobytes()
    if last and last[0] == key:
        return tried[key][1]
    if key in kept:  # solved before: put its solution and caps back (no new solve)
        p._fix_signs(best, buy, lot_cap, w_cap)
        p._restore_solution(kept[key])
        return tried[key][1]
    return p._fixed(best, buy, lot_cap, w_cap)


def _post_min_trade(p: RebalanceProblem, ahead: object, best: np.ndarray,
                    kept: tuple | None, buy: np.ndarray, lot_cap: np.ndarray,
                    w_cap: np.ndarray) -> None:
    """Post the minimum-trade re-solve ``solve()`` asks for if ``best`` stays the best.

    ``kept`` is ``best``'s kept solution (:mod:`pma_lab.optimize.lookahead`). The names
    trading less than the minimum at that solution are closed, as ``solve`` closes them;
    nothing is posted without a minimum trade or a kept solution.
    """
    s = p.settings
    if s.min_trade <= 0 or kept is None:
        return
    values = {id(var): val for var, val in kept[3]}
    sale = values.get(id(p.sc if p.aggregated else p.x)) if p.nl else None
    bought = values.get(id(p.b))
    if bought is None or (p.nl and sale is None):
        return
    small = p._small_trades(s.min_trade, sale, bought)
    if not small:
        return
    buy2, lot2 = buy.copy(), lot_cap.copy()
    buy2[small] = 0.0
    lot2[small] = 0.0
    ahead.post(p, best, buy2, lot2, w_cap)


def by_group(p: RebalanceProblem, sell: np.ndarray) -> np.ndarray:
    """Substantially identical names share one side: if one sells, none is bought."""
    groups = p.state.groups
    selling = {groups.get(t, t) for t, f in zip(p.state.assets, sell, strict=True) if f}
    return np.array([groups.get(t, t) in selling for t in p.state.assets])


def enumerate_signs(p: RebalanceProblem, buy: np.ndarray, lot_cap: np.ndarray,
                    w_cap: np.ndarray) -> str:
    """``"enumerate"``: the best of every sell/buy pattern of the loss-relevant names.

    The patterns run over the identity groups holding a sellable loss lot (2^k exact
    solves), an exact reference for small books.

    Raises
    ------
    ValueError
        For more than 12 such groups.
    """
    rel = p._loss_relevant()
    groups = p.state.groups
    names = sorted({groups.get(t, t) for t, r in zip(p.state.assets, rel, strict=True)
                    if r})
    if len(names) > 12:
        raise ValueError(f"enumeration over {len(names)} names (2^n solves) is only "
                         "meant for small reference books (<= 12 names with losses)")
    member = np.array([groups.get(t, t) for t in p.state.assets], dtype=object)
    best = (np.inf, None)
    for pattern in itertools.product((False, True), repeat=len(names)):
        sell = np.zeros(p.na, dtype=bool)
        for g, f in zip(names, pattern, strict=True):
            if f:
                sell |= member == g
        status = p._fixed(sell, buy, lot_cap, w_cap)
        if status in _OK and p.exact.value < best[0]:
            best = (p.exact.value, sell.copy())
    if best[1] is None:
        return "infeasible"
    p._last_sell = best[1]
    return p._fixed(best[1], buy, lot_cap, w_cap)


STRATEGIES: Mapping[str, Strategy] = MappingProxyType({
    Method.TWO_STEP.value: two_step,
    Method.RELAXED.value: relaxed,
    Method.ENUMERATE.value: enumerate_signs,
})
"""Solve strategy by method name (the values of :class:`~pma_lab.modes.Method`)."""


def strategy(method: Method | str, where: str = "") -> tuple[Method, Strategy]:
    """The method and its strategy function.

    Parameters
    ----------
    method : Method | str
        A :class:`~pma_lab.modes.Method` or its value (``"two_step"``, ``"relaxed"``,
        ``"enumerate"``).
    where : str
        What was called, for the message (default: ``solve(method=...)``).

    Raises
    ------
    SettingsError
        For an unknown name (e.g. ``"two-step"``), naming the valid ones and the closest.
    """
    m = as_choice(method, Method, where or f"solve(method={method!r})")
    return m, STRATEGIES[m.value]
