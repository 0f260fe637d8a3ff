"""The text forms of a transition plan, as :func:`pma_lab.plan.plans.parse_plan` reads them.

One table for the parser (which options it accepts), its error messages and the command
line's ``--plans`` help, so the help cannot list a form the parser refuses or miss one it
accepts. Kept apart from :mod:`pma_lab.plan.plans` (which imports the optimizer) so the
command line can word its help without importing cvxpy.
"""

from __future__ import annotations

__all__ = ["PLAN_FORMS", "PLAN_OPTIONS", "OPTION_NAMES", "OPTION_PATTERN", "plan_grammar",
           "BUDGET_EXAMPLE", "DEFAULT_PLANS", "DEFAULT_YEARS", "USD_TEXT"]

DEFAULT_PLANS = ("immediate", "3y", "5y", "budget:0", "budget:25000")
"""The plans compared when none are given (the client's own, ``immediate`` and ``hold``
are always added)."""
DEFAULT_YEARS = 5
"""The transition horizon in years when none is given."""

PLAN_FORMS: tuple[tuple[str, str], ...] = (
    ("immediate", "move to the target now"),
    ("hold", "keep the legacy holdings, never selling them: the reference"),
    ("<N>y", "move over N years, 1 to 30, e.g. 3y"),
    ("budget:<USD>", "realise at most USD of net capital gains each tax year, 0 for "
                     "none"),
    ("budget:st=<USD>", "cap the short-term gains only, no total"),
    ("budget:lt=<USD>", "cap the long-term gains only, no total"),
)
"""Each plan form and what it does (``<USD>`` as :data:`USD_TEXT` says)."""

USD_TEXT = ("a non-negative dollar amount in digits, cents allowed (25000 or 25000.50, no $ "
            "or commas)")
"""What a ``<USD>`` budget may be: the parser accepts exactly this (digits, at most two
decimals), and its error messages and the help say so."""

PLAN_OPTIONS: tuple[tuple[str, str], ...] = (
    ("st=<USD>", "a short-term gains budget a year, budget plans only (above the total, "
                 "it binds only when long-term losses offset short-term gains)"),
    ("lt=<USD>", "a long-term gains budget a year, budget plans only (above the total, "
                 "it binds only when short-term losses offset long-term gains)"),
    ("te=<cap>", "the client's own ceiling on tracking error to the target, a "
                 "fraction, 0.03 for 3 %, not for hold"),
    ("gift=<USD>", "appreciated lots given to charity each year, default the "
                   "profile's"),
    ("flow=<USD>", "cash added each year, negative to withdraw"),
    ("concentrated=keep|build|sell", "keep the concentrated position, build around it or "
                                     "sell it down"),
)
"""The options a plan may add, each as ``:name=value`` after its form."""

OPTION_NAMES: tuple[str, ...] = tuple(o.split("=", 1)[0] for o, _ in PLAN_OPTIONS)
"""The option names :func:`pma_lab.plan.plans.parse_plan` accepts (``st``, ``lt``, ...)."""

OPTION_PATTERN = r"[^:=]+=[^:]+"
"""One ``:name=value`` option as the plan pattern reads it (regular expression, without
the colon): any name, known or not (``flow_date``, ``withdrawal-date``), so an unknown
name reaches the unknown-option error that names it and lists :data:`OPTION_NAMES`
instead of failing the whole pattern (``budget:10000:flow_date=2027-01-01`` read as a bad
budget before); the name is checked against :data:`OPTION_NAMES` after the match."""

BUDGET_EXAMPLE = "budget:25000"
"""A budget plan as an example in messages."""


def plan_grammar() -> str:
    """Every plan form and option in one paragraph, for help text and error messages.

    Returns
    -------
    str
        ``immediate - move to the target now; hold - ...; ... Options, each added after a
        plan as :name=value: st=<USD> - ...; ... Examples: budget:25000:st=0:te=0.03, ...``
    """
    forms = "; ".join(f"{f} - {d}" for f, d in PLAN_FORMS)
    opts = "; ".join(f"{o} - {d}" for o, d in PLAN_OPTIONS)
    return (f"{forms}; <USD> is {USD_TEXT}. Options, each added after a plan as "
            f":name=value, each at most once: {opts}. "
            f"Examples: {BUDGET_EXAMPLE}:st=0:te=0.03, 5y:gift=10000.")
