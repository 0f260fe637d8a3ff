"""pma_lab.plan.analysis: the plan comparison's notes."""

from __future__ import annotations

import numpy as np
import pytest


def test_later_steps_widening_one_limit_read_once():
    """Reviewer 1, session 20: a plan's notes read "at a later step (keeping close to the
    target), the tracking-error limit of 0.50% was widened to 2.00% ...; at a later step
    (...), ... widened to 1.00% ..." -- the same sentence twice. Merged per phase and limit;
    a single step's note and the other notes are kept as they are, in order."""
    from pma_lab.plan.analysis import merge_widened

    def w(phase, was, cap):
        return (f"at a later step ({phase}), the tracking-error limit of {was} was widened "
                f"to {cap} so the plan could be completed")

    notes = ["first note", w("keeping close to the target", "0.50%", "2.00%"),
             w("on the glide path", "1.00%", "2.00%"),
             w("keeping close to the target", "0.50%", "1.00%"), "last note"]
    assert merge_widened(notes) == [
        "first note",
        "at 2 later steps (keeping close to the target), the tracking-error limit of 0.50% "
        "was widened, to 2.00% at most, so the plan could be completed",
        w("on the glide path", "1.00%", "2.00%"), "last note"]
    assert merge_widened(notes[:2]) == notes[:2]


def test_paired_stats_are_the_per_path_differences_and_their_standard_error():
    """Plans compared on the same paths: the mean per-path difference, its standard error
    (std of the differences / sqrt(paths)) and whether it is within PAIRED_Z of zero."""
    from pma_lab.plan.analysis import PAIRED_Z, paired_stats

    b = np.array([100.0, 200.0, 300.0, 400.0])
    st = paired_stats(b + np.array([1.0, -1.0, 3.0, 1.0]), b)
    assert st["paths"] == 4 and st["diff_mean"] == 1.0
    assert st["diff_se"] == pytest.approx(np.std([1, -1, 3, 1], ddof=1) / 2)
    assert st["within_noise"] is (1.0 <= PAIRED_Z * st["diff_se"])
    assert st["prob_below"] == 0.25
    assert st["prob_below_se"] == pytest.approx(np.sqrt(0.25 * 0.75 / 4))
    far = paired_stats(b + 50.0 + np.array([1.0, -1.0, 1.0, -1.0]), b)
    assert not far["within_noise"] and far["prob_below"] == 0.0
