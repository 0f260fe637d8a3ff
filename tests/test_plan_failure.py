"""Why a plan could not be completed, in the client's words (pma_lab.plan.failure)."""

from __future__ import annotations

import datetime as dt

from pma_lab.plan.failure import StepFailure, client_reason

DAY = dt.date(2027, 7, 31)


def test_a_withdrawal_that_leaves_too_little_names_it_not_the_gambling_screen():
    """M2 (session 13 review): young-pro withdrawing $500,000 from a $515,116 account read
    "relaxing a single constraint group does not help; the active groups are
    [restrictions.never hold]: relax several". The cause is the withdrawal: said in
    dollars, with the fix, and no group or profile key."""
    why = client_reason(StepFailure(4, DAY, 2, 500_000.0, 515_116.0,
                                    ("restrictions.never_hold",), single=False))
    assert why == ("On 2027-07-31 (year 2 of the plan) the plan withdraws $500,000 from an "
                   "account then worth $515,116, which leaves $15,116: too little to trade "
                   "within the plan's rules (your restrictions). To fix: a smaller "
                   "withdrawal.")


def test_the_rule_a_withdrawal_breaks_and_its_fix():
    why = client_reason(StepFailure(4, DAY, 2, 50_000.0, 497_651.3, ("budgets",),
                                    single=True))
    assert why == ("On 2027-07-31 (year 2 of the plan) the plan withdraws $50,000 from an "
                   "account then worth $497,651; the sales that raise it would break the "
                   "plan's gains budget. To fix: a smaller withdrawal or a larger gains "
                   "budget.")


def test_without_a_withdrawal_the_conflicting_rules_in_words():
    why = client_reason(StepFailure(2, DAY, 1, 0.0, 1e6, ("te_cap", "AAPL <= 5%"),
                                    single=True))
    assert why == ("On 2027-07-31 (year 1 of the plan) no trade could keep to the plan's "
                   "tracking-error ceiling and the limits on single names' weights together "
                   "with the plan's other rules. To fix: a looser tracking-error ceiling or "
                   "looser limits on single names.")
    none = client_reason(StepFailure(2, DAY, 1, 0.0, 1e6, ("one_side_per_name",)))
    assert "one_side" not in none and none.endswith("your advisor has the details.")
