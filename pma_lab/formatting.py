"""How a number reads to a client: one formatter per unit, shared by every front end.

The proposal (:mod:`pma_lab.report.proposal`), the dashboard (:mod:`pma_lab.app.dashboard`) and the
CLI
format money, percentages, shares, years and dates with these functions only, so a figure
reads the same wherever it is shown. One rule for what is missing: ``None``, NaN, ``pd.NA``
and ``NaT`` read :data:`MISSING` (an en dash), never ``nan`` or an empty cell that could
be mistaken for zero. A value that rounds to zero reads as zero, never ``-$0``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

__all__ = ["MISSING", "missing", "round_usd", "round_parts", "fmt_usd", "fmt_pct", "fmt_num",
           "fmt_shares", "fmt_rate", "fmt_years",
           "fmt_date", "fmt_month", "fmt_seconds", "fmt_bp", "fmt_plan", "fmt_term",
           "YOUR_PLAN", "YOUR_PLAN_WITHDRAWING", "YOUR_PLAN_ADDING", "your_plan_mark",
           "fmt_filing_status", "fmt_account_type", "FORMATTERS", "NUMERIC"]

MISSING = "\u2013"
"""What a missing value reads (an en dash)."""


def missing(x: object) -> bool:
    """True for ``None``, NaN, ``pd.NA`` and ``NaT``."""
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return isinstance(x, float) and math.isnan(x) or (
            not isinstance(x, (str, bytes, dt.date)) and bool(pd.isna(x)))
    except (TypeError, ValueError):
        return False


def _value(x: object, scale: float, digits: int) -> float | Decimal:
    """``scale * x`` rounded to ``digits`` decimals half away from zero, as a client reads it.

    Float noise is removed first (``0.35 + 0.038 + 0.0495`` is 0.43749999999999994, shown as
    43.75 % -> "43.8%" at one decimal, not "43.7%"), then halves round away from zero like
    the IRS's whole-dollar rounding (-$1,312.50 -> "-$1,313"; Python's ``round`` and
    ``format`` round halves to even). A value that rounds to zero is 0 (no "-$0").
    """
    v = scale * float(x)  # type: ignore[arg-type]
    if not math.isfinite(v):
        return v
    q = Decimal(repr(round(v, 9))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return Decimal(0) if q == 0 else q


def round_usd(x: object) -> float:
    """Whole dollars as :func:`fmt_usd` shows them (halves away from zero).

    Figures a sentence adds up are rounded by it first, so the shown parts add up to the
    shown total (``round_usd(2.5) == 3.0``, where Python's ``round`` gives 2).
    """
    return float(_value(x, 1.0, 0))


def round_parts(parts: Sequence[float], total: float | None = None) -> list[float]:
    """Whole dollars of ``parts`` that add up exactly to the shown ``total``.

    Each part is rounded by :func:`round_usd`; when their sum misses ``round_usd(total)``
    (``total`` defaults to the parts' sum) by ``k`` dollars, the ``k`` parts whose rounding
    moved them furthest the other way move one dollar back (largest remainder), so the
    shown total is still the total rounded on its own, as every other page shows it.

    Parameters
    ----------
    parts : sequence of float
        Signed amounts, USD (a saving as a negative part); NaN counts as 0.
    total : float, optional
        Their exact total, USD (the parts' sum when omitted).

    Returns
    -------
    list of float
        Whole dollars, one a part, summing to ``round_usd(total)``.

    Raises
    ------
    ValueError
        If ``total`` is further from the parts' sum than one dollar a part (the parts are
        not this total's), naming both.
    """
    vals = [0.0 if missing(v) else float(v) for v in parts]
    exact = math.fsum(vals) if total is None else float(total)
    whole = [round_usd(v) for v in vals]
    gap = int(round_usd(exact) - math.fsum(whole))
    if abs(gap) > len(vals):
        raise ValueError(f"round_parts: total {exact!r} is not the sum of the parts {vals!r} "
                         f"(sum {math.fsum(vals)!r}); pass the parts that add up to it")
    step = 1.0 if gap > 0 else -1.0
    # the parts rounded furthest against the gap's direction move first (stable on ties)
    order = sorted(range(len(vals)), key=lambda i: step * (whole[i] - vals[i]))
    for i in order[:abs(gap)]:
        whole[i] += step
    return whole


def fmt_usd(x: object, digits: int = 0) -> str:
    """Dollars: ``$1,234`` / ``-$1,234`` (``digits`` decimals); :data:`MISSING` if missing."""
    if missing(x):
        return MISSING
    v = _value(x, 1.0, digits)
    s = f"${abs(v):,.{digits}f}"
    return "-" + s if v < 0 else s


def fmt_pct(x: object, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.03048`` -> ``3.05%``; :data:`MISSING` if missing."""
    if missing(x):
        return MISSING
    return f"{_value(x, 100.0, digits):.{digits}f}%"


def fmt_bp(x: object) -> str:
    """A fraction in basis points: ``0.0012`` -> ``12 bp``."""
    if missing(x):
        return MISSING
    return f"{_value(x, 1e4, 0):,.0f} bp"


def fmt_num(x: object, digits: int = 0) -> str:
    """A number with thousands separators; :data:`MISSING` if missing."""
    if missing(x):
        return MISSING
    return f"{_value(x, 1.0, digits):,.{digits}f}"


def fmt_shares(x: object) -> str:
    """Shares: whole numbers without decimals, a fraction with up to 4 decimals.

    Trailing zeros are dropped (``35.5``, ``250.25``, ``3.2965``; reviewer 1, session 22:
    ``35.5000`` beside ``1,200``). A non-zero amount under a ten-thousandth of a share reads
    ``<0.0001`` (``>-0.0001`` if negative), never ``0`` or ``1e-05`` (session 23: 0.00001
    shares read "0"); within 1e-9 of a whole number is float noise and reads that number.
    """
    if missing(x):
        return MISSING
    v = float(x)  # type: ignore[arg-type]
    if abs(v - round(v)) < 1e-9:
        return f"{round(v) + 0:,.0f}"
    s = f"{v:,.4f}".rstrip("0").rstrip(".")
    if s in ("0", "-0"):
        return "<0.0001" if v > 0 else ">-0.0001"
    return s


def fmt_rate(x: object) -> str:
    """A tax rate to the hundredth of a percent, trailing zeros dropped.

    ``0.3275`` -> ``32.75%``, ``0.238`` -> ``23.8%``, ``0.37`` -> ``37%`` (reviewer 1,
    session 22: 32.75 % read "32.8%", and 23.75 % "23.8%", the federal top long-term rate).
    """
    if missing(x):
        return MISSING
    return f"{_value(x, 100.0, 2):.2f}".rstrip("0").rstrip(".") + "%"


def fmt_years(x: object, horizon: int | None = None) -> str:
    """Years to an event: ``today``, ``1 year``, ``2.5 years``; missing: not within the horizon.

    Parameters
    ----------
    x : float | None
        Years from today (NaN: not reached).
    horizon : int | None
        The horizon, to say "not within N years" for a missing value.
    """
    if missing(x):
        return (f"not within {horizon} year{'s' if horizon != 1 else ''}" if horizon
                else MISSING)
    v = float(x)  # type: ignore[arg-type]
    if v < 0.05:
        return "today"
    r = round(v, 1)
    return "1 year" if r == 1 else f"{r:g} years"


def fmt_date(x: object) -> str:
    """A date as ISO ``YYYY-MM-DD`` (what custodians and tax forms use)."""
    if missing(x):
        return MISSING
    if isinstance(x, (dt.date, pd.Timestamp)):
        return x.isoformat()[:10]
    return str(x)


def fmt_month(x: object) -> str:
    """A date as ``Jul 2027`` (for columns of a path over years)."""
    if missing(x):
        return MISSING
    d = pd.Timestamp(x)  # type: ignore[arg-type]
    return d.strftime("%b %Y")


def fmt_seconds(x: float) -> str:
    """Seconds with two decimals: ``1.23 s``."""
    return f"{x:.2f} s"


YOUR_PLAN = "\u2605 Your plan: "
"""The marker before the client's own plan wherever plans are listed (tables, legends, the
engine's comparison labels); :mod:`pma_lab.report.labels` hands it to the front ends."""

YOUR_PLAN_WITHDRAWING = "\u2605 Your plan, with this withdrawal: "
"""The marker of the client's own plan made with a withdrawal the profile does not have
(typed in the dashboard, or ``flow=`` given to the plans compared): the plan is the
client's, the cash flow is not from the profile."""

YOUR_PLAN_ADDING = "\u2605 Your plan, with this addition: "
"""The marker of the client's own plan made with cash added each year (``flow=`` above
zero given to the plans compared), which the profile does not have either."""


def your_plan_mark(plan: object, withdrawing: bool | None = None) -> str:
    """The marker before the client's own plan: :data:`YOUR_PLAN`, or with its cash flow.

    ``withdrawing``: whether the plan makes a withdrawal the profile does not have
    (:data:`YOUR_PLAN_WITHDRAWING`; ``False``: :data:`YOUR_PLAN`). ``None``: read from
    the plan's ``flow``: below zero a withdrawal, above zero an addition
    (:data:`YOUR_PLAN_ADDING`), zero :data:`YOUR_PLAN`. A profile declares no cash flow,
    so a plan's is always one given for the comparison (the dashboard's withdrawal box,
    ``--plans ...:flow=``), which every plan compared makes.
    """
    if withdrawing is None:
        flow = float(getattr(plan, "flow", 0.0) or 0.0)
        return YOUR_PLAN_WITHDRAWING if flow < 0 else YOUR_PLAN_ADDING if flow > 0 \
            else YOUR_PLAN
    return YOUR_PLAN_WITHDRAWING if withdrawing else YOUR_PLAN


def fmt_plan(plan: object) -> str:
    """A transition plan in the words a client reads, the same in every front end.

    ``Move now``, ``Move over 3 years``, ``Gains budget $150,000 a year`` (a budget caps the
    net capital gains realised each tax year, not the tax), ``Gains budget: long-term
    $50,000 a year, short-term unlimited`` (one term's cap, no total: the other term is
    said to be uncapped), ``Hold (no change)``; a tracking-error cap (``tracking error to
    the target at most 0.50%``: the cap is on the tracking error to the target), split
    budgets and a concentrated-position choice are added in words.

    Parameters
    ----------
    plan : Plan
        A :class:`pma_lab.plan.transition.Plan` (text: parse it with
        :func:`pma_lab.plan.transition.parse_plan` first).

    Raises
    ------
    DataError
        For plan text :func:`pma_lab.plan.transition.parse_plan` does not understand.
    """
    if isinstance(plan, str):
        raise TypeError(f"fmt_plan takes a Plan; parse the text {plan!r} with "
                        "pma_lab.plan.transition.parse_plan first")
    kind = plan.kind  # type: ignore[attr-defined]
    if kind == "hold":
        return "Hold (no change)"
    if kind == "immediate":
        text = "Move now"
    elif kind == "timeline":
        n = int(plan.years)  # type: ignore[attr-defined]
        text = f"Move over {n} year{'s' if n != 1 else ''}"
    else:
        split = [f"{w} {fmt_usd(v)}" for w, v in (
            ("short-term", plan.st_budget), ("long-term", plan.lt_budget))  # type: ignore[attr-defined]
            if v is not None]
        if plan.budget is None:  # type: ignore[attr-defined]  # a term's cap, no total
            text = f"Gains budget: {' and '.join(split)} a year"
            if len(split) == 1:  # say the other term is not capped
                other = "long-term" if plan.lt_budget is None else "short-term"  # type: ignore[attr-defined]
                text += f", {other} unlimited"
        else:
            text = f"Gains budget {fmt_usd(plan.budget)} a year"  # type: ignore[attr-defined]
            if split:
                text += f" ({', '.join(split)})"
    if plan.te_cap is not None:  # type: ignore[attr-defined]
        # the cap is on the tracking error to the target, not to the benchmark the plan
        # comparison's tracking-error columns show (an S&P 500 index, a 1.38 % column
        # beside a 0.50 % cap read as a broken promise)
        cap = fmt_pct(plan.te_cap)  # type: ignore[attr-defined]
        text += f", tracking error to the target at most {cap}"
    conc = {"keep": "keep", "build": "add to", "sell": "sell down"}
    if plan.concentrated is not None:  # type: ignore[attr-defined]
        text += f", {conc.get(plan.concentrated, plan.concentrated)} the concentrated position"  # type: ignore[attr-defined]
    return text


_TERMS = {"LT": "Long-term", "ST": "Short-term", "long": "Long-term", "short": "Short-term"}
_FILING = {"single": "Single", "mfj": "Married filing jointly",
           "mfs": "Married filing separately", "hoh": "Head of household",
           "qss": "Qualifying surviving spouse"}
_ACCOUNTS = {"taxable": "Taxable", "ira": "IRA (retirement)", "traditional": "Traditional IRA",
             "roth": "Roth IRA"}


def _code(x: object) -> str:
    return str(getattr(x, "value", x))


def fmt_term(x: object) -> str:
    """A holding period code (``LT``/``ST``) in words; :data:`MISSING` if missing."""
    if missing(x) or str(x).strip() == "":
        return MISSING
    return _TERMS.get(_code(x).strip(), _code(x))


def fmt_filing_status(x: object) -> str:
    """A filing status code (``mfj``) in words (``Married filing jointly``)."""
    return _FILING.get(_code(x).lower(), _code(x))


def fmt_account_type(x: object) -> str:
    """An account type code (``taxable``, ``ira``) in words."""
    return _ACCOUNTS.get(_code(x).lower(), _code(x))


FORMATTERS: Mapping[str, Callable[[object], str]] = {
    "usd": fmt_usd,
    "usd2": lambda x: fmt_usd(x, 2),
    "pct": fmt_pct,
    "pct1": lambda x: fmt_pct(x, 1),
    "pct0": lambda x: fmt_pct(x, 0),
    "int": fmt_num,
    "num2": lambda x: fmt_num(x, 2),
    "shares": fmt_shares,
    "years": fmt_years,
    "date": fmt_date,
    "term": fmt_term,
    "plan": fmt_plan,
    "text": lambda x: "" if missing(x) else str(x),
}
"""Column format name -> formatter (the names :class:`~pma_lab.report.proposal.ReportTable`
takes)."""

NUMERIC = frozenset({"usd", "usd2", "pct", "pct1", "pct0", "int", "num2", "shares", "years"})
"""Formats right-aligned in tables."""
