"""A transition plan checks itself when built (issue 15): a typo never runs as another plan.

``Plan(kind="immedate")`` used to be accepted and simulated as a budget plan's
``approach`` phase; ``parse_plan("hold:te=0.03")`` and ``parse_plan("3y:st=0")`` silently
dropped the option; ``te=3`` (meaning 3 %) became a 300 % cap.
"""

from __future__ import annotations

import pytest

import pma_lab
from pma_lab.errors import DataError, SettingsError
from pma_lab.plan.plans import Plan, parse_plan


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "immedate"}, r"Plan\(kind='immedate'\): kind must be one of .*did you mean "
                           r"'immediate'\?"),
    ({"kind": "timeline"}, r"Plan\(years=None\): years must be a whole number"),
    ({"kind": "timeline", "years": 31}, r"Plan\(years=31\): years must be 1 to 30"),
    ({"kind": "timeline", "years": 2.5}, r"Plan\(years=2.5\): years must be a whole number"),
    ({"kind": "budget"}, r"Plan\(budget=None\): budget must be a number"),
    ({"kind": "budget", "budget": -5}, r"Plan\(budget=-5\): budget must be >= 0"),
    ({"kind": "budget", "budget": 0, "st_budget": float("nan")},
     r"Plan\(st_budget=nan\): st_budget must be finite"),
    ({"kind": "immediate", "budget": 1000},
     r"a immediate plan does not use budget; leave it None"),
    ({"kind": "hold", "te_cap": 0.03}, r"a hold plan does not use te_cap"),
    ({"kind": "immediate", "te_cap": 5}, r"Plan\(te_cap=5\): te_cap must be > 0 and <= 1 "
                                         r"\(tracking error as a fraction, 0.03 = 3 %\)"),
    ({"kind": "immediate", "gift": -1}, r"Plan\(gift=-1\): gift must be >= 0"),
    ({"kind": "immediate", "flow": float("inf")}, r"Plan\(flow=inf\): flow must be finite"),
    ({"kind": "immediate", "concentrated": "sell_down"},
     r"concentrated must be one of 'keep', 'build', 'sell'"),
])
def test_a_plan_checks_itself_when_built(kwargs, message):
    with pytest.raises(SettingsError, match=message):
        Plan(name="mine", **kwargs)


def test_a_valid_plan_is_built_as_given():
    p = pma_lab.Plan("mine", "budget", budget=0.0, st_budget=0.0, lt_budget=5000.0,
                     te_cap=0.03, gift=100.0, flow=-500.0, concentrated="keep")
    assert p.budgets().long_term == 5000.0 and p.te_cap == 0.03
    assert Plan("go", "immediate").same_as(parse_plan("immediate"))


@pytest.mark.parametrize(("text", "message"), [
    ("budget:0:te=3", r"plan 'budget:0:te=3': Plan\(te_cap=3.0\): te_cap must be > 0 and "
                      r"<= 1"),
    ("budget:5:st=-3", r"plan 'budget:5:st=-3': Plan\(st_budget=-3.0\): st_budget must be "
                       r">= 0"),
    ("immediate:te=nan", r"plan 'immediate:te=nan': .*te_cap must be finite"),
    ("hold:te=0.03", r"plan 'hold:te=0.03': .*a hold plan does not use te_cap"),
    ("3y:st=0", r"plan '3y:st=0': st= and lt= are budgets, used by budget:<USD> plans only"),
])
def test_parse_plan_refuses_what_it_used_to_drop_or_accept(text, message):
    with pytest.raises(DataError, match=message):
        parse_plan(text)


def test_parse_plan_keeps_every_option_it_accepts():
    p = parse_plan("budget:0:st=0:lt=100:te=0.02:gift=100:flow=-50:concentrated=sell")
    assert (p.budget, p.st_budget, p.lt_budget, p.te_cap, p.gift, p.flow, p.concentrated) == \
        (0.0, 0.0, 100.0, 0.02, 100.0, -50.0, "sell")
    assert parse_plan("3y:te=0.04").te_cap == 0.04
    assert parse_plan("hold", 2500.0).gift == 2500.0
