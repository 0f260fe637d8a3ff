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


def test_a_failed_hold_gives_no_against_holding_and_says_why_once():
    """Reviewer 23 #1: "+$268,262 against holding" was measured against a Hold run that
    failed (today's account less the tax of selling, no growth). Against a failed hold
    every "against holding" is NaN ("\u2013"), and the proposal's note under the plans,
    the dashboard's and the command line's say why in one sentence."""
    import math
    from dataclasses import replace

    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare
    from pma_lab.paths import clients_dir
    from pma_lab.plan.analysis import _compare
    from pma_lab.plan.transition import TransitionSettings, run_transition
    from pma_lab.report import proposal

    setup = prepare(load_client(clients_dir() / "tech-exec" / "profile.toml"))
    s = TransitionSettings(horizon_years=1, steps_per_year=1, mc_paths=0, workers=1)
    an = run_transition(setup, ["hold", "budget:150000"], s)
    assert not proposal.hold_failed_note(an)  # hold completed: nothing to say
    ok = an.comparison.set_index("plan")
    assert math.isfinite(ok.loc["budget:150000", "vs_hold"])
    runs = [replace(r, failed="step 0 (2026-07-31): infeasible") if r.plan.kind == "hold"
            else r for r in an.runs]
    acc = setup.taxable_accounts()[0]
    c = _compare(runs, "budget:150000", s.expected_return, setup, acc, 0.04)
    assert c.vs_hold.isna().all() and c.value_vs_hold.isna().all()
    assert c.mix_vs_hold.isna().all() and c.vs_hold_mix.isna().all()
    bad = replace(an, runs=tuple(runs), comparison=c)
    bad = replace(bad, comparison=bad.comparison_shown())
    note = proposal.hold_failed_note(bad)
    assert note.startswith(proposal.HOLD_FAILED) and "infeasible" in note
    page = proposal.plans_note(bad)
    assert page.count("could not be completed") == 1 and note in page
    assert proposal.hold_failed_note(bad, reason=False) in proposal.plans_note(
        bad, failed=False)
    row = bad.comparison.set_index("plan").loc["budget:150000"]
    import pandas as pd

    figs = dict(proposal._figures(row, pd.DataFrame({"year": [2026], "te": [0.01]}),
                                  "S&P 500", 1, ""))
    value = next(v for k, v in figs.items() if k.startswith("After-tax value"))
    assert value.endswith("(against holding: \u2013)")
