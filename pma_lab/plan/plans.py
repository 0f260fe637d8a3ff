"""Transition plans: what each plan does, parsed from text, and the client's own plan.

Plans (:class:`Plan`, parsed from text by :func:`parse_plan`):

* ``immediate`` -- go to the target now (no tax aversion, a token trading cost), then
  maintain it;
* ``<N>y`` (``3y``, ``5y``, any N) -- a tracking-error glide path: the cap on TE to the
  target falls linearly from today's TE to the target band over N years while taxes are
  minimised, then the plan maintains the target;
* ``budget:<USD>`` -- each tax year, net realised gains at most the budget (zero allowed;
  ``budget:<total>:st=<USD>:lt=<USD>`` sets separate short- and long-term budgets too, and
  ``budget:lt=<USD>`` or ``budget:st=<USD>`` caps one term without a total, as a
  profile's ``[budgets]`` with only ``long_term`` does),
  minimising tracking error; once within the target band the plan maintains it within the
  budget; ``te=<cap>`` adds the client's own TE ceiling (never loosened);
* ``hold`` -- the reference: the legacy holdings are never sold; gifts and cash flows are
  the same as every plan's, cash (today's and any added) is invested in the target's names
  without selling (buy only, tracking error minimised) and withdrawals are raised by the
  sales of least tax.

The comparison is like-for-like: every plan, ``hold`` included, makes the same gifts
(``gift=<USD>`` a year of appreciated long-term lots, default the profile's
``[charity]``) and the same cash flows (``flow=<USD>`` a year, negative withdraws), each at
the start of every plan year; cash left in the account earns the Treasury bill rate
(:func:`pma_lab.plan.scenarios.bill_rate`). The client's own plan (:func:`client_plan`, from
``[transition]`` and ``[budgets]``) is always compared (``is_client_plan``), and so are the
diversified reference ``immediate`` and ``hold``.

A mixed portfolio (a bond ladder in the profile, :mod:`pma_lab.plan.sleeves`) carries its
ladder through every plan alike, ``hold`` included: the same rules move coupons, maturing
rungs and the rebalance band's sales between the sleeves, and an equity sale to the bonds
is a withdrawal each plan raises in its own way (``hold``: the sales of least tax).

``concentrated=keep|build|sell`` decides the concentrated position's fate (keep: carved
out and untouched; build: held as is, the rest built around it; sell: sold down like any
other name). Restricted names already held follow the profile's ``[restrictions.held]``
(:class:`~pma_lab.io.profile.HeldAction`) in every plan except ``hold``.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import TYPE_CHECKING

from pma_lab.errors import DataError, SettingsError
from pma_lab.formatting import fmt_plan
from pma_lab.plan.grammar import (
    BUDGET_EXAMPLE,
    DEFAULT_PLANS,
    OPTION_NAMES,
    OPTION_PATTERN,
    PLAN_OPTIONS,
    USD_TEXT,
    plan_grammar,
)
from pma_lab.schema import LIMITS, WITHDRAWAL_WHEN, header_key, withdrawal_word
from pma_lab.validation import check_int, check_number, check_text

if TYPE_CHECKING:  # the optimizer pulls in cvxpy: parsing and checking plans does not need it
    from pma_lab.optimize.engine import ClientSetup
    from pma_lab.optimize.settings import Budgets

__all__ = ["Plan", "parse_plan", "split_plans", "plan_label", "client_plan", "check_comparable",
           "DEFAULT_PLANS", "DIVERSIFIED_PLAN"]

DIVERSIFIED_PLAN = "immediate"
"""The diversified reference: Monte Carlo results say how often a plan ends below it."""
_KINDS = ("immediate", "timeline", "budget", "hold")
_CONCENTRATED = ("keep", "build", "sell")
_USES = {"immediate": (), "hold": (), "timeline": ("years",),
         "budget": ("budget", "st_budget", "lt_budget")}
_NUMBER_FIX = {
    "flow": "a dollar amount a year in digits, negative to withdraw (flow=-20000 withdraws "
            "$20,000 a year, flow=5000 adds $5,000; no $ or commas)",
    "gift": "a dollar amount a year in digits, zero or more (gift=10000; no $ or commas)",
    "st": "a dollar amount a year in digits (st=0 realises no net short-term gain)",
    "lt": "a dollar amount a year in digits (lt=50000)",
    "te": "the cap as a fraction (te=0.03 for 3 %)",
}
"""How to write each numeric plan option, for the messages of :func:`parse_plan`."""

_PLAN = re.compile(r"^(immediate|hold|(\d+)y|budget(?::(\d+(?:\.\d{1,2})?))?)"  # cents at most
                   rf"((?::{OPTION_PATTERN})*)$")
_FORM = re.compile(r"^(immediate|hold|\d+y|budget)$")
"""A plan's form alone (its first part), to tell an option's mistake from the form's."""
_AMOUNT = re.compile(r"^\d+(?:\.\d{1,2})?$")
"""A budget's amount as :data:`_PLAN` reads it (:data:`~pma_lab.plan.grammar.USD_TEXT`)."""


@dataclass(frozen=True)
class Plan:
    """A transition plan (see the module docs)."""

    name: str
    kind: str  # immediate | timeline | budget | hold
    years: int | None = None
    budget: float | None = None  # total net realised gain per tax year (USD; None: no total)
    st_budget: float | None = None
    lt_budget: float | None = None
    te_cap: float | None = None
    gift: float = 0.0  # USD of appreciated lots donated per year
    flow: float = 0.0  # USD added per year (negative: withdrawn)
    concentrated: str | None = None  # keep | build | sell

    def __post_init__(self) -> None:
        """Check the plan when it is built (issue 15), so a typo never runs as another plan.

        Raises
        ------
        SettingsError
            Naming the field, the value and the fix: an unknown ``kind`` or
            ``concentrated``, a timeline without 1-30 ``years``, a budget plan with no
            cap (total, short- or long-term), a budget, TE cap, gift or flow out of
            range, or a field the plan's kind does not use (it would be silently ignored).
        """
        check_text(self, "name")
        for field, choices in (("kind", _KINDS), ("concentrated", _CONCENTRATED)):
            value = getattr(self, field)
            if field == "concentrated" and value is None:
                continue
            if value not in choices:
                close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise SettingsError(f"Plan({field}={value!r}): {field} must be one of "
                                    f"{', '.join(map(repr, choices))}{hint}")
        unused = [f for f, v in (("years", self.years), ("budget", self.budget),
                                 ("st_budget", self.st_budget), ("lt_budget", self.lt_budget))
                  if v is not None and f not in _USES[self.kind]]
        if self.kind == "hold" and self.te_cap is not None:
            unused.append("te_cap")
        if unused:
            raise SettingsError(f"Plan(kind={self.kind!r}, {unused[0]}="
                                f"{getattr(self, unused[0])!r}): a {self.kind} plan does not use "
                                f"{', '.join(unused)}; leave {'them' if len(unused) > 1 else 'it'}"
                                f" None, or use the plan kind that does (timeline: years; "
                                f"budget: budget, st_budget, lt_budget)")
        if self.kind == "timeline":
            check_int(self, "years", low=1, meaning="the timeline in years, 1 to 30")
            if self.years > 30:
                raise SettingsError(f"Plan(years={self.years!r}): years must be 1 to 30 (the "
                                    "timeline in years); pass a whole number from 1 to 30")
        for field in ("budget", "st_budget", "lt_budget"):
            check_number(self, field, low=0, optional=True,
                         meaning="net realised gain per tax year in USD, 0 realises none")
        if self.kind == "budget" and (self.budget, self.st_budget, self.lt_budget) == (
                None, None, None):
            raise SettingsError("Plan(kind='budget', budget=None, st_budget=None, "
                                "lt_budget=None): a budget plan needs a total (budget=25000) "
                                "or a short- or long-term cap (lt_budget=50000, st_budget=0)")
        check_number(self, "te_cap", low=0, low_open=True, high=1, optional=True,
                     meaning="tracking error as a fraction, 0.03 = 3 %")
        check_number(self, "gift", low=0, meaning="USD of appreciated lots donated per year")
        check_number(self, "flow", meaning="USD added per year, negative withdraws")

    def same_as(self, other: Plan) -> bool:
        """Whether two plans do the same thing (their names may differ)."""
        return replace(self, name="") == replace(other, name="")

    def budgets(self) -> Budgets:
        """The plan's yearly gain budgets (none for plans without a budget)."""
        from pma_lab.optimize.settings import Budgets  # imports cvxpy (pma_lab.solvers)

        if self.kind != "budget":
            return Budgets()
        return Budgets(self.budget, self.st_budget, self.lt_budget)


_THOUSANDS = re.compile(r"^\d{3}(?:\.\d*)?(?::|$)")
"""A plan text that is the tail of a thousands separator: ``000`` of ``flow=-20,000``."""


def split_plans(text: str) -> tuple[str, ...]:
    """The plans of a comma-separated list (``--plans``), blanks dropped.

    Raises
    ------
    DataError
        Where a comma is a thousands separator inside an amount (``flow=-20,000`` reads as
        the plans ``...flow=-20`` and ``000``): the commas separate plans, so the error says
        to write the amount without separators.
    """
    parts = [p.strip() for p in text.split(",")]
    for before, p in pairwise(parts):
        if before[-1:].isdigit() and _THOUSANDS.match(p):
            tok, head = before.rsplit(":", 1)[-1], p.split(":")[0]
            raise DataError(
                f"plans {text!r}: the commas separate plans, so '{tok},{head}' reads as two "
                f"({tok} and {head}); write the amount in digits, without a thousands "
                f"separator or $: {tok.replace('$', '')}{head}")
    return tuple(p for p in parts if p)


def _withdrawal_fix(key: str, value: str) -> str:
    """The fix of a plan option ``key=value`` that dates a withdrawal or names it otherwise.

    A date (``date=``, ``when=``, ``on=``, ``day=``, ``withdrawal_date=``):
    :data:`~pma_lab.schema.WITHDRAWAL_WHEN`. The withdrawal by another name
    (``withdraw=20000``, ``withdrawal=20000``): write ``flow=-20000``, the amount given
    (``<USD>`` when it is not a number), negative to withdraw; a flow by another name
    (``flows=``, ``cashflow=``) keeps the sign given.
    """
    k = header_key(key)
    if k in ("date", "when", "on", "day") or "date" in k:
        return WITHDRAWAL_WHEN
    try:
        usd = float(value)
    except ValueError:
        usd = math.nan
    if not math.isfinite(usd):
        flow = "-<USD>" if "withdraw" in k else "<USD>"
    else:  # a withdrawal's amount, negative; a flow by another name keeps its sign
        usd = -abs(usd) if "withdraw" in k else usd
        flow = f"{usd:.2f}".rstrip("0").rstrip(".")
    return (f"a plan's withdrawal is its cash flow: write flow={flow} (negative to "
            "withdraw, positive to add)")


def parse_plan(text: str, default_gift: float = 0.0, concentrated: str | None = None,
               default_flow: float = 0.0) -> Plan:
    """Parse ``immediate``, ``hold``, ``3y``, ``budget:25000:st=0:te=0.03:gift=50000`` ...

    The forms and options are :mod:`pma_lab.plan.grammar`'s (the command line's help).

    Raises
    ------
    DataError
        With the accepted forms.
    """
    t = text.strip().lower()
    m = _PLAN.match(t)
    if not m:
        parts = t.split(":")
        amount = parts[1] if t.startswith("budget:") else ""
        if amount and "=" not in amount and not _AMOUNT.match(amount):
            # budget:-5, budget:$25,000, budget:lots
            raise DataError(f"plan {text!r}: the budget {amount!r} must be {USD_TEXT}, "
                            f"e.g. {BUDGET_EXAMPLE} (budget:0 realises no net gain)")
        # the form is one the grammar has: an option written without its value
        # (budget:10000:flow, 3y:te=) is named, with the options a plan accepts
        options = parts[2:] if amount and "=" not in amount else parts[1:]
        bare = next((p for p in options if not re.fullmatch(OPTION_PATTERN, p)), None)
        if _FORM.match(parts[0]) and bare is not None:
            listed = (f"a plan's options are {', '.join(o for o, _ in PLAN_OPTIONS)}, each "
                      "added as :name=value (budget:25000:flow=-20000)")
            if bare == "":  # budget:10000:, hold:, budget:10000::te=0.03
                where = ("a trailing ':' with no option after it; remove it" if t.endswith(":")
                         else "'::' with no option between; remove one ':'")
                raise DataError(f"plan {text!r}: {where} ({listed})")
            raise DataError(f"plan {text!r}: option {bare!r} is not name=value; {listed}")
        raise DataError(f"plan {text!r} is not understood; write one of {plan_grammar()}")
    opts: dict[str, str] = {}
    for part in filter(None, (m.group(4) or "").split(":")):
        k, v = part.split("=", 1)
        if k not in OPTION_NAMES:
            # a withdrawal's date, or the withdrawal by another name: said how it is given
            # (flow_date=: a date of the flow)
            dated = withdrawal_word(k, dates=True) or header_key(k).startswith("flow")
            why = f"; {_withdrawal_fix(k, v)}" if dated else ""
            raise DataError(f"plan {text!r}: unknown option {k!r}; a plan's options are "
                            f"{', '.join(o for o, _ in PLAN_OPTIONS)}{why}")
        if k in opts:  # never let the later one silently win
            raise DataError(f"plan {text!r}: {k}= is given twice ({k}={opts[k]} and {k}={v}); "
                            f"keep one")
        opts[k] = v

    def num(k: str) -> float | None:
        if k not in opts:
            return None
        try:
            return float(opts[k])
        except ValueError:
            raise DataError(f"plan {text!r}: {k}={opts[k]!r} is not a number; write "
                            f"{_NUMBER_FIX.get(k, 'a number in digits')}") from None

    conc = opts.get("concentrated", concentrated)
    if conc not in (None, "keep", "build", "sell"):
        raise DataError(f"plan {text!r}: concentrated must be keep, build or sell")
    gift, flow = num("gift"), num("flow")
    if gift is not None and not 0 <= gift < float("inf"):
        raise DataError(f"plan {text!r}: gift={opts['gift']} must be zero or positive (a "
                        "dollar amount a year, e.g. gift=10000)")
    if flow is not None and not abs(flow) < float("inf"):
        raise DataError(f"plan {text!r}: flow={opts['flow']} must be a dollar amount a year, "
                        "negative to withdraw, e.g. flow=-20000")
    for k, v in (("gift", gift), ("flow", flow)):  # as the input files' amounts (README)
        if v is not None and abs(v) > LIMITS.max_amount:
            span = (f"from -${LIMITS.max_amount:,.0f} to ${LIMITS.max_amount:,.0f}"
                    if k == "flow" else f"at most ${LIMITS.max_amount:,.0f}")
            raise DataError(f"plan {text!r}: {k}={opts[k]} is outside the plausible range "
                            f"(it must be {span} a year); correct {k}=: a value this far "
                            "out is a typo or a unit mix-up")
    te = num("te")
    if te is not None and not 0 < te <= 1:
        fix = (f"write te={te / 100:g} for {te:g} %" if 1 < te <= 100 else
               "write the cap as a fraction, e.g. te=0.03 for 3 %, or leave te= out for no cap")
        said = (f"would be {te * 100:g} %" if 1 < te < float("inf") else
                "is not a tracking-error cap")
        raise DataError(f"plan {text!r}: te={opts['te']} {said}; {fix}")
    if m.group(1) == "hold" and te is not None:
        raise DataError(f"plan {text!r}: hold takes no te= (it never sells to track the "
                        "target); te= applies to timeline and budget plans, like 3y:te=0.02 or "
                        f"{BUDGET_EXAMPLE}:te=0.03")
    common = dict(te_cap=te, gift=default_gift if gift is None else gift,
                  flow=default_flow if flow is None else flow, concentrated=conc)
    if m.group(1) in ("immediate", "hold"):
        kind, extra = m.group(1), {}
    elif m.group(2):
        years = int(m.group(2))
        if not 1 <= years <= 30:
            raise DataError(f"plan {text!r}: the timeline must be 1 to 30 years")
        kind, extra = "timeline", {"years": years}
    else:
        budget = None if m.group(3) is None else float(m.group(3))
        st, lt = num("st"), num("lt")
        if budget is None and st is None and lt is None:
            raise DataError(f"plan {text!r}: a budget needs a total (budget:25000) or a "
                            "short- or long-term cap (budget:lt=50000, budget:st=0)")
        for k, v in (("st", st), ("lt", lt)):
            if v is not None and not 0 <= v < float("inf"):
                raise DataError(f"plan {text!r}: {k}={opts[k]} must be zero or positive "
                                "(a dollar amount a year)")
        kind, extra = "budget", {"budget": budget, "st_budget": st, "lt_budget": lt}
    if kind != "budget" and ("st" in opts or "lt" in opts):
        raise DataError(f"plan {text!r}: st= and lt= are budgets, used by budget plans only; "
                        f"remove them or write budget:<USD>:st=... (or budget:st=...)")
    try:
        return Plan(text, kind, **extra, **common)
    except SettingsError as e:  # name the text the user wrote (te=3 for 3 %, gift=inf ...)
        raise SettingsError(f"plan {text!r}: {e}") from None


def plan_label(plan: Plan) -> str:
    """The plan in words a client reads, as :func:`pma_lab.formatting.fmt_plan` words it.

    One wording for the proposal, the dashboard and the CLI.
    """
    return fmt_plan(plan)

# ------------------------------------------------------------------------------ the plans
def client_plan(setup: ClientSetup) -> Plan:
    """The plan the client's profile asks for.

    From ``[transition]``; without one, the ``[budgets]`` as they are (a profile with
    only ``long_term = 50000`` caps the long-term gains, not the total: ``budget:lt=50000``),
    or a $0 budget.
    """
    prof = setup.client.profile
    tr = prof.transition
    gift = prof.charity.annual_gift if prof.charity else 0.0
    b = prof.budgets
    if tr is None:
        # no [transition]: follow the gain budgets when the profile has them, else realise
        # no net gain (the most tax-averse plan)
        if b.total is None and b.long_term is None and b.short_term is None:
            return parse_plan("budget:0", gift)
        text = "budget" + (f":{b.total:g}" if b.total is not None else "")
        text += f":st={b.short_term:g}" if b.short_term is not None else ""
        text += f":lt={b.long_term:g}" if b.long_term is not None else ""
        return parse_plan(text, gift)
    if tr.mode == "immediate":
        return parse_plan("immediate", gift)
    if tr.mode == "timeline":
        return parse_plan(f"{tr.years}y", gift)
    text = f"budget:{tr.annual_budget:g}"
    if b.short_term is not None:
        text += f":st={b.short_term:g}"
    if b.long_term is not None:
        text += f":lt={b.long_term:g}"
    return parse_plan(text, gift)


def _concentrated(setup: ClientSetup, plan: Plan) -> tuple[set[str], set[str]]:
    """The names carved out, and the names not to sell: ``(exclude, no_sell)``.

    The concentrated position's treatment, and the client's keep list
    (:func:`pma_lab.optimize.engine.keep_names`), which no gift, withdrawal or replay sells
    either.
    """
    from pma_lab.optimize.engine import keep_names

    keep = set(keep_names(setup))
    prof = setup.client.profile
    if prof.concentrated is None:
        return set(), keep
    mode = plan.concentrated or {"keep": "keep", "build_around": "build",
                                 "sell_down": "sell"}[prof.concentrated.strategy]
    t = prof.concentrated.ticker
    return ({t} if mode == "keep" else set()), ({t} if mode == "build" else set()) | keep

def check_comparable(parsed: Sequence[Plan]) -> tuple[float, float]:
    """The one gift and cash flow the plans share, so their results compare.

    Cheap: the command line calls it on ``--plans`` before any setup or solve.

    Returns
    -------
    tuple of float
        The plans' annual gift and cash flow.

    Raises
    ------
    DataError
        When the plans make different gifts or cash flows (or there is no plan).
    """
    gifts = {p.gift for p in parsed}
    flows = {p.flow for p in parsed}
    if len(gifts) > 1 or len(flows) > 1:
        raise DataError("the plans make different gifts or cash flows, so their results are "
                        "not comparable; give every plan the same gift= and flow= (or none, "
                        "for the profile's gift), or run them separately")
    if not gifts:
        raise DataError("no plan to compare; give at least one, e.g. \"immediate\"")
    return gifts.pop(), flows.pop()


def _reference_plans(setup: ClientSetup, parsed: list[Plan]) -> tuple[list[Plan], int]:
    """Add the client's plan, the diversified plan and hold.

    Returns the plans and the position of the client's plan among them.
    """
    gift, flow = check_comparable(parsed)
    mine = replace(client_plan(setup), gift=gift, flow=flow)
    out = list(parsed)
    at = next((i for i, p in enumerate(out) if p.same_as(mine)), None)
    if at is None:
        out.append(mine)
        at = len(out) - 1
    for ref in (DIVERSIFIED_PLAN, "hold"):
        p = parse_plan(ref, gift, default_flow=flow)
        if not any(q.same_as(p) for q in out):
            out.append(p)
    return out, at

