"""pma_lab.plan.analysis: the plan comparison's notes."""

from __future__ import annotations


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
