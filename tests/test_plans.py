"""pma_lab.plan.plans: budget plans that cap one term without a total (issue 15), worded in
client terms the same way in the proposal, the dashboard and the command line."""

from __future__ import annotations

import pandas as pd
import pytest

import pma_lab
from pma_lab.errors import DataError, SettingsError
from pma_lab.formatting import YOUR_PLAN, fmt_plan
from pma_lab.io.client import load_client
from pma_lab.optimize.rebalance import Budgets
from pma_lab.paths import clients_dir
from pma_lab.plan.plans import Plan, client_plan, parse_plan

CORE = clients_dir() / "core-active" / "profile.toml"  # [budgets] long_term = 50000 only


@pytest.mark.parametrize(("text", "budgets", "label"), [
    ("budget:lt=50000", Budgets(None, None, 50000.0),
     "Gains budget: long-term $50,000 a year, short-term unlimited"),
    ("budget:st=0", Budgets(None, 0.0, None),
     "Gains budget: short-term $0 a year, long-term unlimited"),
    ("budget:st=0:lt=50000", Budgets(None, 0.0, 50000.0),
     "Gains budget: short-term $0 and long-term $50,000 a year"),
    ("budget:lt=50000:te=0.03", Budgets(None, None, 50000.0),
     "Gains budget: long-term $50,000 a year, short-term unlimited, tracking error to the "
     "target at most 3.00%"),
    ("budget:150000:st=0:lt=150000", Budgets(150000.0, 0.0, 150000.0),
     "Gains budget $150,000 a year (short-term $0, long-term $150,000)"),
    ("budget:25000", Budgets(25000.0), "Gains budget $25,000 a year"),
])
def test_a_budget_may_cap_one_term_without_a_total(text, budgets, label):
    p = parse_plan(text)
    assert p.kind == "budget" and p.budgets() == budgets  # never summed into a total
    assert fmt_plan(p) == label


@pytest.mark.parametrize(("text", "match"), [
    ("budget", r"a budget needs a total \(budget:25000\) or a short- or long-term cap"),
    ("budget:lt=-5", "lt=-5 must be zero or positive"),
    ("budget:st=nan", "st=nan must be zero or positive"),
    ("budget:lt=lots", "lt='lots' is not a number"),
])
def test_a_budget_without_a_cap_or_with_a_bad_one_is_refused(text, match):
    with pytest.raises(DataError, match=match):
        parse_plan(text)


def test_the_clients_long_term_budget_is_not_summed_into_a_total():
    """core-active's profile caps long-term gains at $50,000 and sets no total: its plan is
    budget:lt=50000 (it was budget:50000:lt=50000, a $50,000 cap on all gains)."""
    c = load_client(CORE)
    assert c.profile.budgets.total is None and c.profile.budgets.long_term == 50000
    mine = client_plan(_Setup(c))
    assert mine.name == "budget:lt=50000" and mine.budget is None
    assert mine.same_as(parse_plan("budget:lt=50000", mine.gift))
    assert fmt_plan(mine) == "Gains budget: long-term $50,000 a year, short-term unlimited"


class _Setup:  # client_plan reads only setup.client
    def __init__(self, client):
        self.client = client


def test_the_proposal_says_what_the_client_asked_for():
    from pma_lab.report.proposal import _why

    c = load_client(CORE)
    text = _why(_Setup(c), client_plan(_Setup(c)))
    assert text == ("You asked to keep the net long-term capital gains within $50,000 each "
                    "tax year, with no cap on the total, so the move to the target goes as "
                    "fast as that allows.")


def test_the_dashboard_planner_adopts_the_same_plan_and_words():
    from pma_lab.app.dashboard.widgets import TransitionPlanner

    t = TransitionPlanner()
    t.client = load_client(CORE)
    assert t.plan == "budget:lt=50000" and not t.budget_total
    assert t.label == "Gains budget: long-term $50,000 a year, short-term unlimited"
    assert "This is the client&#x27;s own plan" in t._text.value
    assert "no cap on the total" in t._text.value
    t.budget = 30_000  # a budget typed in is a total, the profile's split kept
    assert t.plan == "budget:30000:lt=50000" and t.budget_total
    t.client = load_client(clients_dir() / "household" / "profile.toml")  # total $20,000
    assert t.plan == "budget:20000" and t.budget_total


@pytest.mark.slow
def test_a_long_term_budget_binds_the_transition_and_the_cli_words_it(tmp_path, capsys):
    """End to end: pma-lab transition --plans budget:lt=0 realises no net long-term gain in
    any year (short-term gains are not capped), and the table names the plan in words."""
    from pma_lab.app.cli import main

    out = tmp_path / "t"
    code = main(["transition", "--profile", str(CORE), "--plans", "budget:lt=0",
                 "--years", "2", "--annual", "--mc-paths", "0", "--workers", "1",
                 "--out", str(out)])
    text = capsys.readouterr()
    assert code == 0, text.err
    assert "Gains budget: long-term $0 a year, short-term unlimited" in text.out
    mine = f"{YOUR_PLAN}Gains budget: long-term $50,000 a year, short-term unlimited"
    assert mine in text.out  # the client's
    yearly = pd.read_csv(out / "yearly.csv")
    mine = yearly[yearly.plan == "budget:lt=0"]
    assert len(mine) >= 2 and (mine["lt"] <= 0.5).all()  # whole dollars of rounding
    now = yearly[yearly.plan == "immediate"]
    assert now["lt"].iloc[0] > 1000  # the budget binds: moving now realises long-term gains

# ---------------------------------------------------------------- a Plan checks itself
# Plan(kind="immedate") used to be accepted and simulated as a budget plan's approach
# phase; parse_plan("hold:te=0.03") and parse_plan("3y:st=0") silently dropped the option;
# te=3 (meaning 3 %) became a 300 % cap.


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "immedate"}, r"Plan\(kind='immedate'\): kind must be one of .*did you mean "
                           r"'immediate'\?"),
    ({"kind": "timeline"}, r"Plan\(years=None\): years must be a whole number"),
    ({"kind": "timeline", "years": 31}, r"Plan\(years=31\): years must be 1 to 30"),
    ({"kind": "timeline", "years": 2.5}, r"Plan\(years=2.5\): years must be a whole number"),
    ({"kind": "budget"}, r"a budget plan needs a total \(budget=25000\) or a short- or "
                         r"long-term cap"),
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
    ("budget:0:te=3", r"plan 'budget:0:te=3': te=3 would be 300 %; write te=0.03 for 3 %$"),
    ("3y:te=5", r"plan '3y:te=5': te=5 would be 500 %; write te=0.05 for 5 %$"),
    ("3y:te=0", r"te=0 is not a tracking-error cap; write the cap as a fraction, e.g. "
                r"te=0.03 for 3 %, or leave te= out for no cap"),
    ("immediate:te=nan", r"plan 'immediate:te=nan': te=nan is not a tracking-error cap"),
    ("hold:te=0.03", r"plan 'hold:te=0.03': hold takes no te= .*; te= applies to timeline "
                     r"and budget plans, like 3y:te=0.02"),
    ("5y:gift=inf", r"gift=inf must be zero or positive"),
    ("5y:flow=-inf", r"flow=-inf must be a dollar amount a year"),
    # the README's plausibility limit of every dollar amount ($1e12), as the input files'
    ("immediate:flow=-1e13", r"plan 'immediate:flow=-1e13': flow=-1e13 is outside the "
                             r"plausible range \(it must be from -\$1,000,000,000,000 to "
                             r"\$1,000,000,000,000 a year\); correct flow=: a value this far "
                             r"out is a typo or a unit mix-up"),
    ("hold:gift=2e12", r"gift=2e12 is outside the plausible range \(it must be at most "
                       r"\$1,000,000,000,000 a year\)"),
    # a number that is not one says what one looks like
    ("immediate:flow=abc", r"plan 'immediate:flow=abc': flow='abc' is not a number; write a "
                           r"dollar amount a year in digits, negative to withdraw "
                           r"\(flow=-20000 withdraws \$20,000 a year"),
    ("3y:te=abc", r"te='abc' is not a number; write the cap as a fraction \(te=0.03 for 3 %\)"),
    ("budget:st=0:st=5", r"plan 'budget:st=0:st=5': st= is given twice \(st=0 and st=5\); "
                         r"keep one"),
    ("3y:te=0.03:te=0.5", r"te= is given twice \(te=0.03 and te=0.5\)"),
    ("hold:gift=1:gift=2", r"gift= is given twice \(gift=1 and gift=2\)"),
    ("budget:25000.505", r"the budget '25000.505' must be a non-negative dollar amount in "
                         r"digits, cents allowed"),
    ("budget:$25,000", r"cents allowed \(25000 or 25000.50, no \$ or commas\)"),
    ("3y:st=0", r"plan '3y:st=0': st= and lt= are budgets, used by budget plans only"),
])
def test_parse_plan_refuses_what_it_used_to_drop_or_accept(text, message):
    with pytest.raises(DataError, match=message):
        parse_plan(text)


def test_parse_plan_keeps_every_option_it_accepts():
    p = parse_plan("budget:0:st=0:lt=100:te=0.02:gift=100:flow=-50:concentrated=sell")
    assert (p.budget, p.st_budget, p.lt_budget, p.te_cap, p.gift, p.flow, p.concentrated) == \
        (0.0, 0.0, 100.0, 0.02, 100.0, -50.0, "sell")
    assert parse_plan("budget:25000.50").budget == 25000.5  # cents, as the messages say
    assert parse_plan("immediate:flow=-1e12").flow == -1e12  # the plausibility limit itself
    assert parse_plan("3y:te=0.04").te_cap == 0.04
    assert parse_plan("hold", 2500.0).gift == 2500.0


def test_a_term_cap_above_the_total_is_kept_and_the_help_says_when_it_binds():
    """budget:0:st=5000 is kept (it binds when long-term losses offset short-term gains,
    and the dashboard keeps a profile's split under a typed total); the grammar says so."""
    from pma_lab.plan.grammar import plan_grammar

    assert parse_plan("budget:0:st=5000").budgets() == Budgets(0.0, 5000.0, None)
    assert "above the total, it binds only when long-term losses offset" in plan_grammar()


@pytest.mark.parametrize("text", ["3y:flow=-20000:date=2027-03-01",
                                  "budget:25000:flow=-20000:when=2027-03-01",
                                  "immediate:on=today", "3y:day=1"])
def test_a_dated_withdrawal_is_refused_saying_when_a_plan_pays_it(text):
    """Session 17: a plan pays its withdrawal at the start of every plan year, the first
    on the analysis date; an option dating it was refused as an unknown option with the
    list of options alone, and now says when it is paid and that another date is not
    supported. Another unknown option reads as before."""
    from pma_lab.schema import WITHDRAWAL_WHEN

    with pytest.raises(DataError) as e:
        parse_plan(text)
    assert str(e.value).endswith("concentrated=keep|build|sell; " + WITHDRAWAL_WHEN)
    assert WITHDRAWAL_WHEN == ("a plan pays its withdrawal (flow=-<USD> a year) at the start "
                               "of every plan year, the first on the analysis date; another "
                               "date is not supported")
    with pytest.raises(DataError) as e:
        parse_plan("3y:tax=5")
    assert str(e.value).endswith("concentrated=keep|build|sell")


@pytest.mark.parametrize(("text", "fix"), [
    ("budget:25000:withdraw=20000", "write flow=-20000 (negative to withdraw"),
    ("immediate:withdrawal=20000", "write flow=-20000 (negative to withdraw"),
    ("3y:withdrawal=-1500.50", "write flow=-1500.5 (negative to withdraw"),
    ("3y:withdrawals=lots", "write flow=-<USD> (negative to withdraw"),
    ("3y:flows=5000", "write flow=5000 (negative to withdraw"),
])
def test_a_withdrawal_by_another_name_is_refused_saying_write_flow(text, fix):
    """Review 17: ``withdraw=20000`` (no date given) was refused with "...another date is
    not supported"; a withdrawal by another name now says to write it as the plan's
    flow, negative to withdraw (the dates keep their words)."""
    with pytest.raises(DataError) as e:
        parse_plan(text)
    msg = str(e.value)
    assert "concentrated=keep|build|sell; a plan's withdrawal is its cash flow: " + fix in msg
    assert "another date" not in msg


@pytest.mark.parametrize(("text", "plans"), [
    ("immediate, hold,budget:10000", ("immediate", "hold", "budget:10000")),
    ("3y,,budget:2500.50:flow=-20000", ("3y", "budget:2500.50:flow=-20000")),
    ("budget:25000,100y", ("budget:25000", "100y")),
])
def test_split_plans_splits_at_the_commas(text, plans):
    from pma_lab.plan.plans import split_plans

    assert split_plans(text) == plans


@pytest.mark.parametrize(("text", "message"), [
    ("budget:10000:flow=-20,000", "so 'flow=-20,000' reads as two (flow=-20 and 000); write "
                                  "the amount in digits, without a thousands separator or "
                                  "$: flow=-20000"),
    ("budget:1,500.50:te=0.02,hold", "so '1,500.50' reads as two (1 and 500.50)"),
])
def test_split_plans_names_a_thousands_separator(text, message):
    """A comma inside an amount (as the dashboard's box accepts it) is not read as two
    plans ('plan 000 is not understood' and a usage dump, review 17)."""
    from pma_lab.plan.plans import split_plans

    with pytest.raises(DataError) as e:
        split_plans(text)
    assert message in str(e.value) and "the commas separate plans" in str(e.value)


@pytest.mark.parametrize(("text", "option"), [
    ("budget:10000:flow_date=2027-01-01", "flow_date"),
    ("budget:10000:withdrawal_date=2027-01-01", "withdrawal_date"),
    ("3y:start-date=2027", "start-date"),
    ("budget:lt=5000:max_te=0.02", "max_te"),
])
def test_an_unknown_option_with_an_underscore_is_named_not_read_as_a_bad_budget(text, option):
    """Session 18: an option name with an underscore or a hyphen failed the plan pattern,
    so ``budget:10000:flow_date=2027-01-01`` read "the budget '10000' must be a
    non-negative dollar amount" (a budget it accepts) and ``3y:start-date=2027`` "not
    understood"; each now gets the unknown-option error naming it and listing the
    options (and a withdrawal's date, when it dates the flow, says when one is paid)."""
    from pma_lab.schema import WITHDRAWAL_WHEN

    with pytest.raises(DataError) as e:
        parse_plan(text)
    msg = str(e.value)
    assert f"unknown option {option!r}; a plan's options are st=<USD>, lt=<USD>, te=<cap>, " \
           "gift=<USD>, flow=<USD>, concentrated=keep|build|sell" in msg, msg
    assert "the budget" not in msg and "not understood" not in msg
    assert msg.endswith(WITHDRAWAL_WHEN) == (option in ("flow_date", "withdrawal_date"))


@pytest.mark.parametrize(("text", "words"), [
    ("budget:10000:", "a trailing ':' with no option after it; remove it"),
    ("hold:", "a trailing ':' with no option after it; remove it"),
    ("3y:te=0.03:", "a trailing ':' with no option after it; remove it"),
    ("budget:10000::te=0.03", "'::' with no option between; remove one ':'"),
])
def test_an_empty_option_says_where_the_colon_is(text, words):
    """Review s18 (r2): ``budget:10000:`` and ``hold:`` said "option '' is not name=value";
    the stray ':' is named, with the options a plan accepts, and removing it parses."""
    with pytest.raises(DataError) as e:
        parse_plan(text)
    msg = str(e.value)
    assert msg.startswith(f"plan {text!r}: {words} (a plan's options are st=<USD>"), msg
    assert "''" not in msg
    parse_plan(text.rstrip(":").replace("::", ":"))


@pytest.mark.parametrize(("text", "part"), [
    ("budget:10000:flow", "flow"), ("3y:te=", "te="), ("budget:st=0:te", "te"),
])
def test_an_option_without_its_value_is_named(text, part):
    """Session 18: ``budget:10000:flow`` read as a bad budget ('10000'), ``3y:te=`` as a
    plan not understood; the option without a value is named, with the options."""
    with pytest.raises(DataError, match=rf"option '{part}' is not name=value; a plan's "
                                        r"options are st=<USD>, lt=<USD>"):
        parse_plan(text)
