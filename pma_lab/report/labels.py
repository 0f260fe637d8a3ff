"""Every label a client reads for a plan, a plan comparison or the benchmark, in one place.

The proposal (:mod:`pma_lab.report.proposal`), the dashboard
(:mod:`pma_lab.app.dashboard`) and the command line (``pma-lab transition``) take from here

* the plan names (:func:`plan_name`: ``Move now``, ``Move over 3 years``,
  ``Gains budget $150,000 a year``, ``Gains budget: short-term $0 a year, long-term
  unlimited`` (one term capped, no total), ``Hold (no change)``) and the client's-plan marker
  (:data:`YOUR_PLAN`, :func:`plan_cell`; :data:`YOUR_PLAN_WITHDRAWING`,
  :data:`YOUR_PLAN_ADDING` and :func:`own_plan_words` when the plans' withdrawal or
  addition, typed in the dashboard or given with ``--plans ...:flow=``, is not the
  profile's: a profile declares none);
* the headings of the plan comparison (:data:`COMPARISON`, :func:`comparison_headings`)
  and of the tracking error by year (:func:`te_year_heading`), and the after-tax range
  cell (:func:`after_tax_range`);
* the benchmark's name (:func:`benchmark_label`, :attr:`Benchmark.label
  <pma_lab.market.benchmark.Benchmark.label>`);
* the active manager's names an active + index core leaves out because of the client's
  restrictions, and why (:func:`excluded_from_model`; proposal, dashboard, ``target build``);
* the value a target's name count was sized on (:func:`target_sizing`: one account's
  value, or a household's total across its accounts);
* why today's realised gains exceed the gains budget when a restriction forces a sale
  (:func:`forced_sales_note`; proposal, dashboard, ``pma-lab rebalance``);
* the accounts of a household in the client's words (:func:`account_names`: ``taxable``,
  ``Traditional IRA``, ``Roth IRA``).

A plan or a column that reads differently in two front ends is a bug (issue 10): a front
end never spells one of these labels itself. The plan wording is written once, in
:func:`pma_lab.formatting.fmt_plan` (the core layer, because the engine's comparison names
plans too); :func:`plan_name` is that function.

A budget plan is worded ``Gains budget ... a year``, not ``Tax budget``: the budget caps the
net capital gains realised in a tax year, not the tax (a $150,000 budget is about $35,700 of
federal tax at 23.8 %), and a client reading "tax budget $150,000" would expect the tax.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pma_lab.accounts import (  # noqa: F401 - re-exported: the report's names for them
    ACCOUNT_KINDS,
    TAX_OF_THESE_TRADES,
    TAX_OF_TODAYS_TRADES,
    account_kind,
    account_name,
    account_names,
    profile_account_names,
)
from pma_lab.formatting import (
    YOUR_PLAN,
    YOUR_PLAN_ADDING,
    YOUR_PLAN_WITHDRAWING,
    fmt_pct,
    fmt_plan,
    fmt_usd,
    your_plan_mark,
)
from pma_lab.tax.rules import CAPITAL_LOSS_LIMIT, FilingStatus

__all__ = ["YOUR_PLAN", "YOUR_PLAN_WITHDRAWING", "YOUR_PLAN_ADDING", "OWN_PLAN",
           "OWN_PLAN_WITHDRAWING", "OWN_PLAN_ADDING", "own_plan_words", "Measure",
           "COMPARISON", "COMPARISON_EXTRA", "OUTCOMES",
           "OUTCOMES_CAPTION", "plan_name",
           "plan_cell", "heading", "comparison_headings", "te_year_heading",
           "after_tax_range", "benchmark_label", "PLAN", "NOTE", "COMPARISON_CAPTION",
           "ALTERNATIVES_CAPTION", "TE_YEARS_CAPTION", "TE_STEPS_CAPTION", "CARRYFORWARD_CREATED",
           "ECONOMIC_TAX", "sleeve_share", "excluded_from_model",
           "completion_sizing", "target_sizing", "ACCOUNT_KINDS", "account_names",
           "profile_account_names", "account_kind", "account_name",
           "TAX_OF_THESE_TRADES", "TAX_OF_TODAYS_TRADES", "FRONTIER_TAX",
           "restriction_reason", "carryforward_rows", "forced_sales_note"]

PLAN = "Plan"
"""The heading of the plan column."""
NOTE = "Note"
"""The heading of the notes column (a plan that could not be completed, what it did)."""
COMPARISON_CAPTION = "Transition plans on the expected path"
ALTERNATIVES_CAPTION = ("The alternatives side by side (expected path; the range is from the "
                        "Monte Carlo paths)")
TE_YEARS_CAPTION = "Tracking error to the {benchmark} at the end of each year (expected path)"
TE_STEPS_CAPTION = ("Tracking error to the {benchmark} at each step (annual steps on the "
                    "as-of anniversary, {day}; expected path)")
"""The tracking-error-by-year table's caption with annual steps: a year's figure is its
one step's, the first today's (reviewer 1, session 25: "at the end of each year" headed the
July steps)."""
FRONTIER_TAX = "Tax of today's trades (against no trade)"
"""The frontier table's tax column: the Schedule D tax of one point's trades today against
not trading, not a plan's whole-year "Tax this year" (reviewer 1, session 22: both columns
read "Tax this year", $3,295 and $3,132 for the same plan)."""

CARRYFORWARD_CREATED = "Loss carryforward added (negative: used up)"
"""The change a set of trades makes to the loss carryforward into next year: positive when
their net loss beyond the yearly offset against income adds to it, negative when their gains
use up losses carried in (a column heading; :func:`carryforward_rows` spells out the
carryforward before and after)."""
CARRY_FAILED = ("Loss carryforward: your tax return's could not be computed, since the "
                "household's trades today (every account's) could not be solved; why is "
                "said below")
"""The words where the return's loss carryforward goes when a household's could not be
solved: the dashboard's line on today's trades (its household section below says why) and
``pma-lab frontier`` under its table (the error on the next line)."""
ECONOMIC_TAX = "Economic tax"
"""Every gain and loss at the client's rate for its term, losses credited in full."""


@dataclass(frozen=True)
class Measure:
    """One figure of the plan comparison.

    Attributes
    ----------
    key : str
        The column of ``TransitionAnalysis.comparison`` (or ``after_tax_range``: the 10th to
        90th percentile of the after-tax value, one text cell).
    heading : str
        What the client reads; ``{years}`` is the horizon (``5 years``, ``1 year``).
    format : str
        The :data:`pma_lab.formatting.FORMATTERS` name its numbers are printed with
        (``years``: with the horizon, ``not within 5 years``; ``text``: already text).
    """

    key: str
    heading: str
    format: str

    def label(self, horizon: int) -> str:
        """The heading with the horizon filled in."""
        return self.heading.format(years=years(horizon))


def years(n: int) -> str:
    """A whole number of years in the client's words: ``1 year``, ``5 years``."""
    return f"{n} year{'' if n == 1 else 's'}"


COMPARISON: tuple[Measure, ...] = (
    Measure("tax_year1", "Tax this year", "usd"),
    Measure("tax_total", "Tax over {years}", "usd"),
    Measure("pv_tax", "Tax, present value", "usd"),
    Measure("years_to_target", "Time to reach the target", "years"),
    Measure("te_start", "Tracking error today", "pct"),
    Measure("te_end", "Tracking error in {years}", "pct"),
    Measure("after_tax_wealth", "After-tax value in {years}", "usd"),
    Measure("after_tax_range", "Range (1 in 10 below / above)", "text"),
    Measure("vs_hold", "Against holding", "usd"),
    Measure("carryforward_end", "Loss carryforward left", "usd"),
)
"""The figures every front end compares plans by, in this order: the proposal's page-one
side-by-side table (one column a plan), its comparison table and the dashboard's (one row a
plan), and the command line's."""

COMPARISON_BY_KEY = {m.key: m for m in COMPARISON}
""":data:`COMPARISON` by key."""

COMPARISON_EXTRA: tuple[Measure, ...] = (
    Measure("liquidation_tax", "Tax if sold in {years}", "usd"),
)
"""Figures the one-row-a-plan comparison adds after :data:`COMPARISON`."""

EQUITY_SHARE = Measure("equity_share_end", "Equity share in {years}", "pct1")
"""A mixed portfolio's equity share at the horizon, shown beside "Against holding" when the
plans' mixes differ (:func:`pma_lab.report.proposal.mix_differs`)."""

MIX_AFTER_TAX = Measure("vs_hold_mix", "Of which from the stock/bond mix", "usd")
"""The part of "Against holding" (after tax) a plan's stock/bond mix makes
(:func:`pma_lab.plan.analysis.mix_after_tax`), shown right after it when the plans' mixes
differ (:func:`pma_lab.report.proposal.mix_differs`)."""

MIX_MEASURES: tuple[Measure, ...] = (MIX_AFTER_TAX, EQUITY_SHARE)
"""What the comparison adds after "Against holding", in this order, when the plans' mixes
differ: like with like."""

OUTCOMES: tuple[Measure, ...] = (
    Measure("after_tax_wealth_median", "After-tax value in {years}, middle path", "usd"),
    Measure("prob_below_diversified", "Chance of ending below moving now", "pct0"),
    Measure("embedded_gain_end", "Gain left unrealised in {years}", "usd"),
)
"""More figures by plan, for research and the command line (:data:`OUTCOMES_CAPTION`)."""
OUTCOMES_CAPTION = ("More figures by plan: the middle of the Monte Carlo paths, how often a "
                    "plan ends below moving now on the same path, and the gain left "
                    "unrealised (expected path)")

_BY_KEY = {m.key: m for m in (*COMPARISON, *COMPARISON_EXTRA, *OUTCOMES)}


def plan_name(plan: object) -> str:
    """A plan in client words (:func:`pma_lab.formatting.fmt_plan`)."""
    return fmt_plan(plan)


OWN_PLAN = "This is the client's own plan (from the profile)."
"""The dashboard planner's words for the client's own plan."""

OWN_PLAN_WITHDRAWING = "This is the client's own plan (from the profile), with this withdrawal."
"""The planner's words for the client's own plan with a withdrawal typed in (the profile's
plan has none, or another)."""

OWN_PLAN_ADDING = "This is the client's own plan (from the profile), with this addition."
"""The planner's words for the client's own plan with cash added each year (``flow=``
above zero; the profile's plan has none)."""


def plan_cell(plan: object, mine: bool, withdrawing: bool | None = None) -> str:
    """A plan's label in a table or legend: client words, the client's own plan marked.

    ``withdrawing``: the plan is the client's own but for its cash flow (a withdrawal typed
    in the dashboard, or given to the plans compared): marked
    :data:`YOUR_PLAN_WITHDRAWING` instead of :data:`YOUR_PLAN`. ``None``: from the plan's
    ``flow`` (a profile declares none, :func:`pma_lab.formatting.your_plan_mark`): below
    zero a withdrawal, above zero an addition (:data:`YOUR_PLAN_ADDING`).
    """
    return (your_plan_mark(plan, withdrawing) if mine else "") + fmt_plan(plan)


def own_plan_words(plan: object) -> str:
    """The planner's sentence for the client's own plan ``plan`` (a parsed plan).

    :data:`OWN_PLAN`, :data:`OWN_PLAN_WITHDRAWING` when the plan withdraws or
    :data:`OWN_PLAN_ADDING` when it adds cash, by :func:`plan_cell`'s rule (the sign of
    ``flow``, :func:`pma_lab.formatting.your_plan_mark`).
    """
    return {YOUR_PLAN_WITHDRAWING: OWN_PLAN_WITHDRAWING,
            YOUR_PLAN_ADDING: OWN_PLAN_ADDING}.get(your_plan_mark(plan), OWN_PLAN)


def heading(key: str, horizon: int) -> str:
    """The heading of one comparison figure (:data:`COMPARISON`), the horizon filled in.

    Raises
    ------
    KeyError
        For a key that is not a comparison figure.
    """
    return _BY_KEY[key].label(horizon)


def comparison_headings(horizon: int, extra: bool = True) -> Mapping[str, str]:
    """Column key -> heading of the one-row-a-plan comparison, in order."""
    ms = (*COMPARISON, *COMPARISON_EXTRA) if extra else COMPARISON
    return {PLAN: PLAN} | {m.key: m.label(horizon) for m in ms} | {"note": NOTE}


def te_year_heading(year: int) -> str:
    """The heading of the tracking error at the end of a calendar year (``2027``)."""
    return str(int(year))


def after_tax_range(p10: object, p90: object) -> str:
    """The range cell: ``$1,234,567 to $1,456,789`` (10th to 90th percentile)."""
    return f"{fmt_usd(p10)} to {fmt_usd(p90)}"


def benchmark_label(benchmark: object | None) -> str:
    """The benchmark's name in client words (``S&P 500``; a file's name for a custom one)."""
    return "S&P 500" if benchmark is None else str(benchmark.label)  # type: ignore[attr-defined]


def sleeve_share(x: float) -> str:
    """A sleeve's share of the account: whole percent, one decimal when it is not whole.

    >>> sleeve_share(0.4), sleeve_share(0.38), sleeve_share(0.375)
    ('40%', '38%', '37.5%')
    """
    return fmt_pct(x, 0 if abs(x * 100 - round(x * 100)) < 1e-9 else 1)


_RESTRICTION_WORDS = {
    "no_buy": "on your do-not-buy list",
    "hold_no_add": "on your keep-but-do-not-add list",
    "never_hold": "on your never-hold list",
}


# the reasons are "; "-joined and a restriction's own words may hold "; ": split only
# before the next restriction's key or screen id
_REASON_SPLIT = re.compile(r"; (?=(?:no_buy|hold_no_add|never_hold|exclude_sectors|"
                           r"exclude_industries): |[\w-]+ screen\b)")


def restriction_reason(reason: str) -> str:
    """Why a name is restricted, in client words (the eligibility table's reasons).

    The individual restrictions' keys (``no_buy: restricted by client (...)``) become the
    list they are on, a sector or industry exclusion says which; a screen's reason is kept
    as the catalog words it. Several reasons are joined with "and".

    >>> restriction_reason("no_buy: restricted by client (do not buy; may keep if held)")
    'on your do-not-buy list'
    >>> restriction_reason("exclude_sectors: GICS sector Energy excluded by client")
    'in the Energy sector, which you exclude'
    """
    out = []
    for part in _REASON_SPLIT.split(str(reason)):
        key, _, text = part.partition(": ")
        if key in _RESTRICTION_WORDS:
            out.append(_RESTRICTION_WORDS[key])
        elif key in ("exclude_sectors", "exclude_industries"):
            kind = "sector" if key == "exclude_sectors" else "industry"
            name = text.removeprefix(f"GICS {kind} ").removesuffix(" excluded by client")
            out.append(f"in the {name} {kind}, which you exclude")
        elif part:
            out.append(part)
    return " and ".join(dict.fromkeys(out))


def _names(tickers: list[str]) -> str:
    return tickers[0] if len(tickers) == 1 else \
        f"{', '.join(tickers[:-1])} and {tickers[-1]}"


def completion_sizing(comp: object) -> str:
    """What the completion sleeve's name count was sized on, and what the sleeve holds.

    ``comp``: a :class:`~pma_lab.portfolio.completion.CompletionResult`. The name count
    follows the sleeve's planned share (``1 - active_share``); when the client's
    restrictions leave names of the manager's model out, the sleeve holds more than that.
    The proposal, the dashboard and ``target build`` all say it in these words.

    Examples
    --------
    >>> from pma_lab.portfolio.completion import ExcludedName
    >>> from types import SimpleNamespace
    >>> comp = SimpleNamespace(excluded=(ExcludedName("NFLX", 0.05, 0.02, "no_buy"),),
    ...                        alpha=0.4, completion_share=0.62, account_size=1_630_150.0)
    >>> print(completion_sizing(comp))  # doctest: +NORMALIZE_WHITESPACE
    the name count uses the completion sleeve's planned 60% of the account, $978,090; the
    sleeve holds 62%, $1,010,693, after NFLX is left out
    """
    ex = tuple(getattr(comp, "excluded", ()))
    planned, held = 1.0 - comp.alpha, comp.completion_share  # type: ignore[attr-defined]
    size = getattr(comp, "account_size", None)

    def dollars(x: float) -> str:
        return "" if size is None else f", {fmt_usd(size * x)}"

    text = (f"the name count uses the completion sleeve's {'planned ' if ex else ''}"
            f"{sleeve_share(planned)} of the account{dollars(planned)}")
    if ex:
        text += (f"; the sleeve holds {sleeve_share(held)}{dollars(held)}, after "
                 f"{_names([e.ticker for e in ex])} {'is' if len(ex) == 1 else 'are'} "
                 "left out")
    return text




def target_sizing(sizing: object) -> str:
    """The value a target's name count was sized on, in words (proposal, dashboard, CLI).

    ``sizing``: a :class:`~pma_lab.portfolio.target.TargetSizing`. One account: its value
    alone (as before households were sized on their total); a household: its total and
    each account's part, the accounts named by their kind (:func:`account_names`); a size
    the profile sets: that it is the profile's.

    Examples
    --------
    >>> from pma_lab.portfolio.target import TargetSizing
    >>> print(target_sizing(TargetSizing(66, 1_565_879.92, (("taxable", 910_162.37),
    ...       ("ira", 403_592.91), ("roth", 252_124.64)), ("taxable", "traditional",
    ...       "roth"))))  # doctest: +NORMALIZE_WHITESPACE
    $1,565,880, the household's total across its 3 accounts (taxable account $910,162,
    Traditional IRA $403,593 and Roth IRA $252,125: lots at the as-of prices plus cash)
    >>> target_sizing(TargetSizing(39, 910_162.37, (("taxable", 910_162.37),)))
    '$910,162'
    >>> target_sizing(TargetSizing(40, 1_000_000.0))
    '$1,000,000 (set in your profile)'
    """
    size = fmt_usd(sizing.account_size)  # type: ignore[attr-defined]
    accounts = tuple(sizing.accounts)  # type: ignore[attr-defined]
    if not accounts:
        return f"{size} (set in your profile)"
    if len(accounts) == 1:
        return size
    kinds = tuple(getattr(sizing, "kinds", ())) or ("",) * len(accounts)
    names = list(getattr(sizing, "labels", ())) or account_names(
        [(a, k) for (a, _), k in zip(accounts, kinds, strict=True)], noun=True)
    parts = [f"{n} {fmt_usd(v)}" for n, (_, v) in zip(names, accounts, strict=True)]
    return (f"{size}, the household's total across its {len(parts)} accounts "
            f"({', '.join(parts[:-1])} and {parts[-1]}: lots at the as-of prices plus cash)")


def excluded_from_model(comp: object) -> str:
    """Which of the active manager's names the client's restrictions leave out, and why.

    ``comp``: a :class:`~pma_lab.portfolio.completion.CompletionResult`. One paragraph
    naming each excluded stock with its model weight and the screen or restriction (in
    client words, :func:`restriction_reason`), then where its weight goes (the completion
    sleeve; the manager's other weights unchanged) and what the sleeve's name count was
    sized on (:func:`completion_sizing`); ``""`` when none is excluded.

    Examples
    --------
    >>> from pma_lab.portfolio.completion import ExcludedName
    >>> from types import SimpleNamespace
    >>> comp = SimpleNamespace(excluded=(ExcludedName("PM", 0.05, 0.02, "tobacco screen"),),
    ...                        alpha=0.4, active_held=0.38, completion_share=0.62)
    >>> print(excluded_from_model(comp))  # doctest: +NORMALIZE_WHITESPACE
    Left out of the manager's model because of your restrictions: PM, 5.0% of the model,
    tobacco screen. Its 2.0% of your account goes to the completion sleeve (62.0% of your
    account), optimised around the rest of the model; the manager's other stocks keep their
    weights, not scaled up, so the active sleeve holds 38.0% of your account instead of
    40.0%. The name count uses the completion sleeve's planned 60% of the account; the
    sleeve holds 62%, after PM is left out.
    """
    ex = tuple(getattr(comp, "excluded", ()))
    if not ex:
        return ""
    names = "; ".join(f"{e.ticker}, {fmt_pct(e.model_weight, 1)} of the model, "
                      f"{restriction_reason(e.reason)}" for e in ex)
    gone = sum(e.account_weight for e in ex)
    sizing = completion_sizing(comp)
    return (f"Left out of the manager's model because of your restrictions: {names}. "
            f"{'Its' if len(ex) == 1 else 'Their'} {fmt_pct(gone, 1)} of your account goes "
            f"to the completion sleeve ({fmt_pct(comp.completion_share, 1)} of your "  # type: ignore[attr-defined]
            "account), optimised around the rest of the model; the manager's other stocks "
            "keep their weights, not scaled up, so the active sleeve holds "
            f"{fmt_pct(comp.active_held, 1)} of your account instead of "  # type: ignore[attr-defined]
            f"{fmt_pct(comp.alpha, 1)}. {sizing[0].upper()}{sizing[1:]}.")  # type: ignore[attr-defined]


TERM_WORDS = ("A lot held more than one year is long-term; otherwise short-term. Each year "
              "short-term gains and losses are netted together, long-term ones together, "
              "and a net loss of one term offsets a net gain of the other: only the net "
              "short-term gain left is taxed at your ordinary-income rate, and the net "
              "long-term gain at the lower long-term rate.")
"""What short- and long-term mean, with Schedule D's netting (the glossary's entry): a
short-term gain is not taxed at ordinary rates as such, only the year's net short-term gain
after the losses it nets against (reviewer 1, session 22: "short-term, taxed as ordinary
income" left the netting out)."""


def loss_limit(setup=None) -> str:
    """The client's yearly capital-loss offset against ordinary income, in dollars.

    ``"$3,000"``, or ``"$1,500"`` for married filing separately (the engine's own limit,
    :attr:`pma_lab.tax.liability.TaxProfile.loss_limit`); ``"$3,000"`` without a client.

    >>> loss_limit()
    '$3,000'
    """
    limit = (CAPITAL_LOSS_LIMIT[FilingStatus.SINGLE] if setup is None
             else setup.client.profile.tax.loss_limit)
    return fmt_usd(float(limit))


def carryforward_rows(summary: Mapping[str, float], year: int, limit: str = "$3,000",
                      carried_in: float | None = None, trades: str = "today's trades"
                      ) -> list[tuple[str, float]]:
    """The loss carryforward around a set of trades, as a client and a tax accountant read it.

    One wording for the proposal's harvesting table, the dashboard's line on today's trades
    and ``pma-lab rebalance``: what came in from earlier years (``carried_in``, the
    profile's carryover, if given), what goes into next year without the trades (after the
    year's other sales and the yearly offset against income, ``limit``), what the trades
    add or use up, and what goes into next year after them; the last is the second plus
    or minus the third.

    Parameters
    ----------
    summary : Mapping[str, float]
        A rebalance summary: ``carryforward_st_before`` / ``carryforward_lt_before`` (the
        carryforward into next year without the trades) and ``carryforward_st`` /
        ``carryforward_lt`` (the change the trades make).
    year : int
        The tax year of the trades.
    limit : str
        The client's yearly offset against ordinary income (:func:`loss_limit`).
    carried_in : float | None
        The loss carried in from earlier years (USD), or ``None`` to leave the row out.
    trades : str
        What the trades are called (``today's trades``, ``these trades``).

    Returns
    -------
    list[tuple[str, float]]
        (label, USD) rows.

    Examples
    --------
    >>> s = {"carryforward_st_before": 0.0, "carryforward_lt_before": 15_500.0,
    ...      "carryforward_st": 0.0, "carryforward_lt": -15_500.0}
    >>> for label, usd in carryforward_rows(s, 2026, carried_in=18_500.0):
    ...     print(f"{label}: {fmt_usd(usd)}")  # doctest: +NORMALIZE_WHITESPACE
    Loss carryforward from earlier years into 2026: $18,500
    Loss carryforward into 2027 without today's trades (after the year's other sales
    and the $3,000 offset against income): $15,500
    Used up by today's trades' gains: $15,500
    Loss carryforward into 2027 after today's trades: $0
    """
    before = float(summary["carryforward_st_before"]) + float(summary["carryforward_lt_before"])
    change = float(summary["carryforward_st"]) + float(summary["carryforward_lt"])
    rows = [] if carried_in is None else [
        (f"Loss carryforward from earlier years into {year}", float(carried_in))]
    rows.append((f"Loss carryforward into {year + 1} without {trades} (after the year's "
                 f"other sales and the {limit} offset against income)", before))
    rows.append((f"Used up by {trades}' gains", -change) if change < 0 else
                (f"Added by {trades}' losses", change))
    rows.append((f"Loss carryforward into {year + 1} after {trades}", before + change))
    return rows


OVER_TARGET_RATIO = 1.5
"""A purchase that leaves a name above this multiple of its target weight is explained
(:func:`over_target_note`)."""

OVER_TARGET_MIN = 0.0025
"""...when it is at least this far above it (a share of the account: 0.25 %)."""

OVER_TARGET_SHOWN = 4
"""The most names the note lists with their weights (the others are counted)."""


def disallowed_words(summary: Mapping[str, object]) -> str:
    """The loss the trades' wash sales disallow, and how much of it stays deferred.

    ``summary``: a rebalance summary's ``disallowed_loss`` (Form 8949's code W amounts)
    and ``disallowed_loss_deferred`` (in the basis of replacement shares still held).
    The rest is recognised today, when the replacement shares are sold the same day
    (their basis carries the loss), or lost for good to a retirement account's purchase
    (reviewer 1, session 25: "$8,794 disallowed" read as deferred when the replacement
    lot was sold too and $0 stayed deferred). ``""``: no loss disallowed.
    """
    total = float(summary.get("disallowed_loss", 0.0) or 0.0)
    if not total > 0.005:
        return ""
    deferred = float(summary.get("disallowed_loss_deferred", total))
    head = f"wash sales: {fmt_usd(total)} of loss disallowed (Form 8949 code W)"
    if deferred >= total - 0.005:
        return head + ", all of it deferred in the basis of replacement shares still held"
    return (f"{head}; {fmt_usd(deferred)} of it stays deferred in the basis of replacement "
            "shares still held, the rest is recognised today (the replacement shares are "
            "sold too) or lost for good (a retirement account bought them)")


def over_target_note(result: object, target: Mapping[str, float] | None = None) -> str:
    """Why a purchase leaves a name well above its target weight; ``""`` when none does.

    A name bought to more than :data:`OVER_TARGET_RATIO` times its target weight (MU at
    3.37 % of the account against a 1.57 % target; reviewer 1, session 22, F15: FIS at
    twice its target without a word) is either whole-share rounding (the excess is less
    than one share) or the optimiser's trade-off: with holdings kept above their targets
    (to defer their gains, or restricted), the cash bought where it lowers the tracking
    error to the target most, which can be a name above its target rather than a name of
    the target left below it. ``result``: a rebalance's result (its ``trades``,
    ``weights`` and ``summary.value``); ``target``: the target's weights by ticker (to
    name the target's names left below it; ``None``: not named). The proposal's
    "Today's trades", the dashboard's line on today's trades and ``pma-lab rebalance``
    say it in these words.

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> r = SimpleNamespace(summary=SimpleNamespace(value=1_000_000.0),
    ...     trades=pd.DataFrame({"ticker": ["MU", "AMD"], "side": ["buy", "buy"],
    ...                          "shares": [400.0, 10.0], "value": [34_000.0, 2_000.0],
    ...                          "weight_after": [0.034, 0.011],
    ...                          "target_weight": [0.016, 0.010]}),
    ...     weights=pd.Series({"MU": 0.034, "AMD": 0.011, "PG": 0.05, "AAPL": 0.0}))
    >>> print(over_target_note(r, {"MU": 0.016, "AMD": 0.01, "PG": 0.01, "AAPL": 0.08}))
    ... # doctest: +NORMALIZE_WHITESPACE
    MU is bought above its target weight (3.40% of the account against 1.60%): with
    holdings kept above their targets (the most: PG +4.00%), this weight lowers the
    tracking error to the target more than the same dollars in the target's names left
    below it for now (AAPL)
    """
    t = result.trades  # type: ignore[attr-defined]
    if not len(t) or "target_weight" not in t:
        return ""
    V = float(result.summary.value)  # type: ignore[attr-defined]
    buy = t[(t.side == "buy") & (t.target_weight > 0)
            & (t.weight_after > OVER_TARGET_RATIO * t.target_weight)
            & (t.weight_after - t.target_weight >= OVER_TARGET_MIN)]
    if not len(buy):
        return ""
    share = (buy.value / buy.shares.where(buy.shares > 0)).fillna(0.0)
    excess = (buy.weight_after - buy.target_weight) * V
    whole = buy[excess <= share + 0.005]
    rest = buy[excess > share + 0.005]
    parts = []
    if len(whole):
        names = list(whole.ticker)
        parts.append(f"{_names(names)} {'is' if len(names) == 1 else 'are'} bought above "
                     f"{'its' if len(names) == 1 else 'their'} target weight by less than "
                     "one share (orders are in whole shares)")
    if len(rest):
        rest = rest.assign(excess=excess[rest.index]).sort_values(
            ["excess", "ticker"], ascending=[False, True], kind="stable")
        shown = rest.head(OVER_TARGET_SHOWN)
        names = list(shown.ticker) + ([f"{len(rest) - len(shown)} other names"]
                                      if len(rest) > len(shown) else [])
        one = len(rest) == 1
        pcts = (f"{fmt_pct(rest.weight_after.iat[0])} of the account against "
                f"{fmt_pct(rest.target_weight.iat[0])}" if one else
                "; ".join(f"{tk} {fmt_pct(a)} of the account against {fmt_pct(b)}"
                          for tk, a, b in zip(shown.ticker, shown.weight_after,
                                             shown.target_weight, strict=True)))
        words = (f"{_names(names)} {'is' if one else 'are'} bought above "
                 f"{'its' if one else 'their'} target weight{'' if one else 's'} ({pcts})")
        w = result.weights  # type: ignore[attr-defined]
        tw = {str(k): float(v) for k, v in (dict(target) if target is not None
                                            else {}).items()}
        bought = set(t.ticker[t.side == "buy"])
        over = sorted(((float(v) - tw.get(str(k), 0.0), str(k)) for k, v in w.items()
                       if str(k) not in bought and float(v) - tw.get(str(k), 0.0) > 1e-4),
                      reverse=True)[:3]
        kept = (f" with holdings kept above their targets (the most: "
                f"{', '.join(f'{k} +{fmt_pct(d)}' for d, k in over)}),") if over else ""
        floor = float(rest.target_weight.min())
        below = [k for k, v in sorted(tw.items(), key=lambda kv: -kv[1])
                 if v >= floor and float(w.get(k, 0.0)) < 0.5 * v][:3] if tw else []
        words += (f":{kept} {'this weight lowers' if one else 'these weights lower'} the "
                  "tracking error to the target more than the same dollars in "
                  + (f"the target's names left below it for now ({_names(below)})" if below
                     else "other names of the target"))
        parts.append(words)
    return "; ".join(parts)


FORCED_REASONS = ("restriction: must not hold", "restriction: sold along its glide")
"""The starts of the decision ledger's reasons for a sale a restriction forces
(:mod:`pma_lab.optimize.decisions`: ``must not hold (sold now, whatever the tax)``, ``sold
along its glide (sell_within)``)."""


def forced_sales_note(result: object) -> str:
    """Why today's realised gains may exceed the gains budget: the restrictions' sales.

    A sale a restriction forces is made whatever the tax, so a gains budget smaller than
    the gain it realises is raised to that gain (never above:
    :func:`pma_lab.optimize.limits.budget_limits`). When the rebalance ``result`` (a
    :class:`~pma_lab.optimize.result.RebalanceResult`) had a budget raised so, this gives
    the forced sales' realised gain (a must-sell lot's whole sale, and of a glide name's
    sale only the shares its glide forces: the decisions' ``forced_shares``,
    :mod:`pma_lab.optimize.decisions`; the rest is the optimiser's choice), the names sold
    now whatever the tax apart from those sold along their glide (``sell_within``), each
    group's gain, and each cap raised with its value and the raise (the summary's
    ``raised_caps``, :class:`~pma_lab.optimize.result.RaisedCap`), and says that the other
    trades realise no net gain beyond it; ``""`` when no budget was raised. The proposal's
    "Today's trades", the dashboard's line on today's trades and ``pma-lab rebalance`` all
    say it in these words.

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> from pma_lab.optimize.result import RaisedCap
    >>> r = SimpleNamespace(
    ...     summary=SimpleNamespace(budget_raised_by_restrictions=3_546.0, raised_caps=(
    ...         RaisedCap("total", 25_000.0, 3_546.0), RaisedCap("short-term", 0.0, 2_367.0))),
    ...     decisions=pd.DataFrame({
    ...         "lot_id": ["L1", "L2", "L3"], "ticker": ["MO", "XOM", "AAPL"],
    ...         "action": ["sell", "sell (part)", "sell"],
    ...         "reason": ["restriction: must not hold (sold now, whatever the tax)",
    ...                    "restriction: sold along its glide (sell_within)", "rebalance"],
    ...         "forced_shares": [100.0, 60.0, 0.0]}),
    ...     lot_trades=pd.DataFrame({"lot_id": ["L1", "L2", "L3"],
    ...                              "ticker": ["MO", "XOM", "AAPL"],
    ...                              "shares": [100.0, 80.0, 5.0],
    ...                              "gain": [12_316.0, 21_640.0, -90.0]}))
    >>> print(forced_sales_note(r))  # doctest: +NORMALIZE_WHITESPACE
    $28,546 of the realised gains come from the sales your restrictions force: MO sold now
    whatever the tax ($12,316) and XOM sold along its glide (sell within the years you
    set; $16,230). That is more than the gains budget allows, so the restrictions' sales
    raise its total $25,000 by $3,546 and its short-term $0 by $2,367, and the other
    trades realise no net gain beyond it
    """
    summary = result.summary  # type: ignore[attr-defined]
    raised = float(getattr(summary, "budget_raised_by_restrictions", 0.0) or 0.0)
    if not raised > 0.005:  # the checks' threshold: below half a cent is round-off
        return ""
    d = result.decisions  # type: ignore[attr-defined]
    reason = d.reason.astype(str)
    lots = result.lot_trades  # type: ignore[attr-defined]
    forced = lots.lot_id.map(d.set_index("lot_id").forced_shares).fillna(0.0)
    # the gain of the shares a restriction forces (a lot's gain is the same per share)
    forced_gain = lots.gain * (forced / lots.shares.where(lots.shares > 0)).fillna(0.0)
    parts = []
    total = 0.0
    for start, glide in ((FORCED_REASONS[0], False), (FORCED_REASONS[1], True)):
        sel = lots.lot_id.isin(set(d.lot_id[reason.str.startswith(start)])) & (forced > 0)
        if not sel.any():
            continue
        gain = float(forced_gain[sel].sum())
        total += gain
        tickers = list(dict.fromkeys(lots.ticker[sel]))
        its = "its" if len(tickers) == 1 else "their"
        parts.append(f"{_names(tickers)} sold along {its} glide (sell within the years you "
                     f"set; {fmt_usd(gain)})" if glide else
                     f"{_names(tickers)} sold now whatever the tax ({fmt_usd(gain)})")
    if not parts:
        return ""
    caps = tuple(getattr(summary, "raised_caps", ()))
    how = (" and ".join(f"its {c}" for c in caps) if caps else f"it by {fmt_usd(raised)}")
    return (f"{fmt_usd(total)} of the realised gains come from the sales your restrictions "
            f"force: {' and '.join(parts)}. That is more than the gains budget allows, so "
            f"the restrictions' sales raise {how}, and the other trades realise no net "
            "gain beyond it")


KEPT_AROUND = {
    "built": "the target's other names are chosen to track the benchmark around {it}",
    "completion": "the completion sleeve (the index part of your core) is chosen to track "
                  "the benchmark around {it}, beside the manager's model",
    "given": "the given target's other names are scaled to the remaining {rest}, each in "
             "its own proportion",
}
"""How the target is built around the keep list, by kind of target
(``target.diagnostics["kept_around"]``; a target built from the benchmark has none)."""


def kept_in_target(fixed: Mapping[str, float], household: bool = False,
                   not_held: Sequence[str] = (), outside: Sequence[str] = (),
                   around: str = "built") -> str:
    """The keep list as the target applies it, in words.

    ``fixed``: the kept names the target holds at today's weights (weight by ticker,
    :attr:`pma_lab.portfolio.target.Target.diagnostics`'s ``fixed``), largest first, of the
    household's accounts together when ``household``; ``not_held``: kept names not held
    (never bought); ``outside``: kept holdings outside the target (a fund the risk model
    does not cover: never sold, not part of the target's weights); ``around``: how the rest
    of the target is built around the kept names (:data:`KEPT_AROUND`: ``"built"`` from the
    benchmark, an active + index core's ``"completion"`` sleeve, or a ``"given"`` target
    scaled to what is left).

    Examples
    --------
    >>> kept_in_target({"AAPL": 0.123}, around="given")  # doctest: +NORMALIZE_WHITESPACE
    "AAPL 12.30% of the account, today's weight: never sold or added to, so the given
    target's other names are scaled to the remaining 87.70%, each in its own proportion"
    """
    parts = []
    if fixed:
        names = ", ".join(f"{t} {fmt_pct(w)}" for t, w in sorted(fixed.items(),
                                                                  key=lambda kv: -kv[1]))
        it = "it" if len(fixed) == 1 else "them"
        scope = "your accounts together" if household else "the account"
        how = KEPT_AROUND[around].format(it=it, rest=fmt_pct(1.0 - sum(fixed.values())))
        parts.append(f"{names} of {scope}, today's weight: never sold or added to, so {how}")
    if outside:
        parts.append(f"{', '.join(outside)} kept as held (never sold or added to), outside "
                     "the target's weights (not a stock the risk model covers)")
    if not_held:
        parts.append(f"{', '.join(not_held)} not held, so never bought")
    return "; ".join(parts)


def kept_shares_words(account_size: float, managed: float) -> str:
    """Why a target's illustration at an account size shows the kept names' shares held.

    The keep list's target weights are of what the client manages today (``managed``,
    USD); at another account size (a profile's ``[target] account_size``) they would be
    more shares than the client holds, or fewer, yet the names are never sold or added to
    (:func:`pma_lab.portfolio.target.round_to_shares`'s ``held``).

    Examples
    --------
    >>> kept_shares_words(2_000_000, 1_234_567.8)  # doctest: +NORMALIZE_WHITESPACE
    "the kept names show the shares you hold (never sold or added to, so never more):
    their target weights are of what you manage today, $1,234,568, not of the account size
    $2,000,000, so the other names share the rest of the account size in the target's
    proportions"
    """
    return (f"the kept names show the shares you hold (never sold or added to, so never "
            f"more): their target weights are of what you manage today, "
            f"{fmt_usd(managed)}, not of the account size {fmt_usd(account_size)}, so the "
            "other names share the rest of the account size in the target's proportions")


def keep_list_words(setup: object) -> str:
    """The keep list as the target and the trades apply it, in words ("" without one).

    The kept names the target holds at today's weights (a target built from the benchmark,
    an active + index core's or a given target: each says how the rest is built around
    them), those held outside it (a fund), and those not held (never bought):
    :func:`kept_in_target`. The proposal's target
    summary and models table (the dashboard's models panel) and ``pma-lab target build``
    read it.
    """
    from pma_lab.optimize.engine import keep_names

    keep = keep_names(setup)  # type: ignore[arg-type]
    if not keep:
        return ""
    fixed = dict(setup.target.diagnostics.get("fixed") or {})  # type: ignore[attr-defined]
    held = {lt.ticker for lt in setup.ledger.lots()}  # type: ignore[attr-defined]
    diag = setup.target.diagnostics  # type: ignore[attr-defined]
    return kept_in_target(fixed, setup.sizing.household,  # type: ignore[attr-defined]
                          sorted(keep - held), sorted((keep & held) - set(fixed)),
                          str(diag.get("kept_around", "built")))
