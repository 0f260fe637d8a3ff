"""The root of a monotone function in a bracket, by false position (the Illinois variant).

The certified duals search one-dimensional roots of monotone, piecewise smooth slopes:
the fund's sale that minimises the names' Lagrangian (:func:`pma_lab.optimize.
pattern_bound._fund_dual`), the step along the projected gradient where the dual stops
rising (:func:`pma_lab.optimize.pattern_bound._kink_step`) and a lone split name's sell
share (:func:`pma_lab.optimize.relax_dual._one_share`). Each keeps a bracket ``[t_lo,
t_hi]`` whose ends' values have opposite signs and tries the zero of the line through
them (:func:`secant_zero`); the Illinois variant (Dowell and Jarratt, 1971) halves the
value of an end kept twice in a row, so that a convex or concave piece does not leave
one end in place for ever (:class:`Illinois`).

Each caller keeps its own evaluations and stopping rules; this module is only the
arithmetic, written once.
"""

from __future__ import annotations

import math

__all__ = ["Illinois", "secant_zero"]


def secant_zero(t_lo: float, f_lo: float, t_hi: float, f_hi: float) -> float:
    """The zero of the line through ``(t_lo, f_lo)`` and ``(t_hi, f_hi)``, safeguarded.

    Parameters
    ----------
    t_lo, t_hi : float
        The bracket's ends (``t_lo < t_hi``).
    f_lo, f_hi : float
        The function's values there, of opposite signs (either may be the negative one).

    Returns
    -------
    float
        ``t_lo - f_lo (t_hi - t_lo) / (f_hi - f_lo)`` when it lies strictly inside the
        bracket, else (it does not, an end's value is not finite, or the two are equal)
        the midpoint.
    """
    if math.isfinite(f_lo) and math.isfinite(f_hi) and f_hi != f_lo:
        t = t_lo - f_lo * (t_hi - t_lo) / (f_hi - f_lo)
        if t_lo < t < t_hi:
            return t
    return 0.5 * (t_lo + t_hi)


class Illinois:
    """A bracket of a root of a monotone function, narrowed by the Illinois method.

    Parameters
    ----------
    t_lo, f_lo, t_hi, f_hi : float
        The bracket's ends and the function's values there; ``f_lo`` is finite and of
        the other sign than ``f_hi`` (which may be infinite, with ``t_hi`` too: no upper
        end found yet, :meth:`point` then gives the midpoint). The function rises when
        ``f_lo < f_hi``, else falls.

    Attributes
    ----------
    t_lo, f_lo, t_hi, f_hi : float
        The bracket now (an end's value halved each time the other end was replaced
        twice in a row).
    """

    __slots__ = ("t_lo", "f_lo", "t_hi", "f_hi", "rising", "_side")

    def __init__(self, t_lo: float, f_lo: float, t_hi: float, f_hi: float):
        self.t_lo, self.f_lo, self.t_hi, self.f_hi = t_lo, f_lo, t_hi, f_hi
        self.rising = bool(f_lo < f_hi)
        self._side = 0  # the end the last update replaced: -1 the lower, 1 the upper

    def point(self) -> float:
        """The next point to evaluate: the secant's zero (:func:`secant_zero`)."""
        return secant_zero(self.t_lo, self.f_lo, self.t_hi, self.f_hi)

    def update(self, t: float, f: float) -> None:
        """Replace the end on ``f``'s side of the root by ``(t, f)`` (``t`` inside the bracket).

        A value of the lower end's sign (strictly) replaces the lower end, any other (0
        included) the upper one; the end kept for the second time in a row has its
        value halved (Illinois).
        """
        if f < 0 if self.rising else f > 0:
            self.t_lo, self.f_lo = t, f
            if self._side == -1:
                self.f_hi *= 0.5
            self._side = -1
        else:
            self.t_hi, self.f_hi = t, f
            if self._side == 1:
                self.f_lo *= 0.5
            self._side = 1
