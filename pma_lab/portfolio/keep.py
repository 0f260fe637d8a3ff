"""The keep list's rule for a given target: a kept name may not be weighted below today.

A kept name (``[restrictions] hold_no_add``) is never sold, so a target given to
:func:`pma_lab.optimize.engine.prepare` or read from a target weights file
(:func:`pma_lab.io.models.read_target_weights`) may give it today's weight or more, or
leave it out. One rule and one set of words for both (here, below the io and optimize
layers that use them).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

__all__ = ["kept_below_today", "kept_below_words", "KEPT_BELOW_FIX"]


def kept_below_today(weights: Mapping[str, float] | pd.Series, kept: Mapping[str, float]
                     ) -> list[tuple[str, float, float]]:
    """The kept names a target weights below today's weight: ``(ticker, today, target)``.

    A kept name is never sold, so a target may give it today's weight or more (it is held
    at today's) or leave it out (the rest is scaled around it); less would have to be
    sold. The one rule for a target given to :func:`pma_lab.optimize.engine.prepare` and a
    target
    weights file (:func:`pma_lab.io.models.read_target_weights`), worded by
    :func:`kept_below_words`.
    """
    return [(t, f, float(weights[t])) for t, f in sorted(kept.items())
            if float(weights.get(t, 0.0)) > 0 and f > float(weights[t]) + 1e-9]


KEPT_BELOW_FIX = ("raise its weight in the target weights file (or leave it out: the target "
                  "is then scaled around it), or take it off [restrictions] hold_no_add in "
                  "the profile")
"""How to fix a kept name weighted below today's weight (:func:`kept_below_today`)."""


def kept_below_words(ticker: str, today: float, target: float) -> str:
    """A kept name weighted below today's weight, in words (both weights).

    >>> kept_below_words("AAPL", 0.0324, 0.01)
    'AAPL is 3.24% of what is managed today, the target gives it 1.00%'
    """
    return f"{ticker} is {today:.2%} of what is managed today, the target gives it {target:.2%}"
