"""The false-position root search the certified duals share (pma_lab.optimize.illinois,
review 15 D2/D11): the secant's zero safeguarded to the bracket, the Illinois halving,
and the same iterates to the bit as the three searches it replaced."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pma_lab.optimize.illinois import Illinois, secant_zero


def test_the_secant_zero_is_exact_on_a_line_whatever_the_sign_order():
    assert secant_zero(0.0, -1.0, 4.0, 3.0) == 1.0  # rising: f = t - 1
    assert secant_zero(0.0, 1.0, 4.0, -3.0) == 1.0  # falling
    assert secant_zero(2.0, -2.0, 3.0, 2.0) == 2.5


@pytest.mark.parametrize("f_lo, f_hi", [(-1.0, -1.0 + 1e-300), (1.0, math.inf),
                                        (-math.inf, 1.0), (math.nan, 1.0), (-1.0, 0.0)])
def test_the_secant_zero_falls_back_to_the_midpoint(f_lo, f_hi):
    """A zero outside the open bracket (or on its end), or an end's value that is not
    finite: the midpoint."""
    assert secant_zero(1.0, f_lo, 3.0, f_hi) == 2.0


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_illinois_finds_the_root_of_a_convex_function_where_false_position_stalls(sign):
    """On ``t^5 - 0.5`` (rising, or falling with the sign flipped) plain false position
    keeps the upper end for ever and creeps up from below; the Illinois halving reaches
    the root to 1e-12 in a few dozen evaluations, each inside the bracket."""
    def f(t):
        return sign * (t ** 5 - 0.5)

    root = 0.5 ** 0.2
    ill = Illinois(0.0, f(0.0), 1.0, f(1.0))
    assert ill.rising == (sign > 0)
    plain_lo, plain_hi = (0.0, f(0.0)), (1.0, f(1.0))
    evals = 0
    while evals < 60:
        evals += 1
        t = ill.point()
        assert ill.t_lo < t < ill.t_hi
        ill.update(t, f(t))
        tp = secant_zero(plain_lo[0], plain_lo[1], plain_hi[0], plain_hi[1])
        if (f(tp) < 0) == (sign > 0):
            plain_lo = (tp, f(tp))
        else:
            plain_hi = (tp, f(tp))
        if abs(t - root) <= 1e-12:
            break
    assert abs(t - root) <= 1e-12 and evals < 30
    assert abs(plain_lo[0] - root) > 1e-6 and plain_hi[0] == 1.0  # stalled


def test_an_end_kept_twice_in_a_row_has_its_value_halved_each_time():
    ill = Illinois(0.0, -1.0, 1.0, 4.0)
    ill.update(0.2, -0.5)  # the lower end replaced: the upper kept once
    assert (ill.t_lo, ill.f_lo, ill.t_hi, ill.f_hi) == (0.2, -0.5, 1.0, 4.0)
    ill.update(0.3, -0.25)  # kept twice: halved
    assert ill.f_hi == 2.0
    ill.update(0.35, -0.1)  # three times: halved again
    assert ill.f_hi == 1.0
    ill.update(0.5, 0.0)  # a zero value replaces the upper end; the lower is not halved
    assert (ill.t_hi, ill.f_hi, ill.f_lo) == (0.5, 0.0, -0.1)
    ill.update(0.45, 0.3)
    assert ill.f_lo == -0.05


def _kink_search_before(s, t0):
    """pattern_bound._kink_step's search on a falling slope ``s`` as written before
    review 15 (session 13's code): the iterates it evaluates."""
    s0 = s(0.0)
    t_lo, s_lo, t_hi, s_hi = 0.0, s0, np.inf, -np.inf
    t, side, out = t0, 0, []
    for _ in range(40):
        s_t = s(t)
        out.append(t)
        if abs(s_t) <= 1e-6 * s0:
            break
        if s_t > 0:
            t_lo, s_lo = t, s_t
            if side == 1:
                s_hi *= 0.5
            side = 1
        else:
            t_hi, s_hi = t, s_t
            if side == -1:
                s_lo *= 0.5
            side = -1
        if t_hi < np.inf and t_hi - t_lo <= 1e-12 * t_hi:
            break
        if t_hi == np.inf:
            t, side = 4.0 * t, 0
        elif np.isfinite(s_hi):
            t = t_lo + s_lo * (t_hi - t_lo) / (s_lo - s_hi)
            if not t_lo < t < t_hi:
                t = 0.5 * (t_lo + t_hi)
        else:
            t = 0.5 * (t_lo + t_hi)
    return out


def _kink_search_now(s, t0):
    """The same search with :class:`Illinois` (pattern_bound._kink_step's loop now)."""
    s0 = s(0.0)
    root = Illinois(0.0, s0, np.inf, -np.inf)
    t, out = t0, []
    for _ in range(40):
        s_t = s(t)
        out.append(t)
        if abs(s_t) <= 1e-6 * s0:
            break
        root.update(t, s_t)
        if root.t_hi < np.inf and root.t_hi - root.t_lo <= 1e-12 * root.t_hi:
            break
        t = 4.0 * t if root.t_hi == np.inf else root.point()
    return out


def _fund_search_before(f, t_lo, t_hi):
    """pattern_bound._fund_dual's secant on a rising slope as written in session 15."""
    f_lo, f_hi = f(t_lo), f(t_hi)
    side, out = 0, []
    for _ in range(60):
        t_new = t_lo - f_lo * (t_hi - t_lo) / (f_hi - f_lo)
        if not t_lo < t_new < t_hi:
            t_new = 0.5 * (t_lo + t_hi)
        f_new = f(t_new)
        out.append(t_new)
        if f_new == 0 or t_hi - t_lo <= 1e-15:
            break
        if f_new < 0:
            t_lo, f_lo = t_new, f_new
            if side == -1:
                f_hi *= 0.5
            side = -1
        else:
            t_hi, f_hi = t_new, f_new
            if side == 1:
                f_lo *= 0.5
            side = 1
        if abs(f_new) <= 1e-15:
            break
    return out


def _fund_search_now(f, t_lo, t_hi):
    root = Illinois(t_lo, f(t_lo), t_hi, f(t_hi))
    out = []
    for _ in range(60):
        t_new = root.point()
        f_new = f(t_new)
        out.append(t_new)
        if f_new == 0 or root.t_hi - root.t_lo <= 1e-15:
            break
        root.update(t_new, f_new)
        if abs(f_new) <= 1e-15:
            break
    return out


@pytest.mark.parametrize("seed", range(6))
def test_the_searches_take_the_same_steps_as_before_to_the_bit(seed):
    """Piecewise linear slopes (as the duals' are: one piece per lot), falling for the
    kink search and rising for the fund's: every iterate identical to the code the
    class replaced."""
    rng = np.random.default_rng(seed)
    knots = np.sort(rng.uniform(0.0, 10.0, 12))
    slopes = rng.uniform(0.1, 5.0, 13)
    root = rng.uniform(0.5, 9.5)

    def rising(t):
        # a continuous piecewise linear function of t, 0 at ``root``
        def g(x):
            return float(np.interp(x, knots, np.cumsum(slopes[:12])) + slopes[12] * x)
        return g(t) - g(root)

    def falling(t):
        return -rising(t)

    kink = (_kink_search_before(falling, 0.3), _kink_search_now(falling, 0.3))
    fund = (_fund_search_before(rising, 0.0, 10.0), _fund_search_now(rising, 0.0, 10.0))
    for before, now in (kink, fund):
        assert len(before) > 3
        assert np.asarray(before).tobytes() == np.asarray(now).tobytes()
