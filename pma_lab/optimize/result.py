"""What a rebalance returns: the trades and a typed summary of their consequences.

:class:`RebalanceSummary` is a frozen dataclass with one typed field per figure (it was a
30-field :class:`pandas.Series`). It still reads like a mapping (``summary["tax"]``,
``summary.get("tax")``, ``dict(summary)``), so tables and CSV writers can take it whole
(:meth:`RebalanceSummary.to_series`); a changed figure is a new summary
(:func:`dataclasses.replace`), never an edit in place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["RebalanceSummary", "RebalanceResult"]


@dataclass(frozen=True)
class RebalanceSummary(Mapping):
    """The consequences of one rebalance (see :class:`RebalanceResult`).

    Attributes
    ----------
    account, as_of, value : str, datetime.date, float
        The taxable account, the analysis date and the account's value (USD).
    realized_st, realized_lt, tax, disallowed_loss : float
        Realised gains by term, this year's tax of the trades from the ledger's netting
        (the optimiser's linear estimate when no ledger is attached) and the loss
        disallowed by wash sales, USD.
    tax_model, tax_pct : float
        The optimiser's own linear tax (USD) and the tax as a share of the account.
    carryforward_st, carryforward_lt : float
        Loss carryforward into next year that the trades create, by character (NaN
        without a ledger); ``carryforward_*_before`` the year's carryforward without them.
    te_before, te_after, turnover, cash_after : float
        Ex-ante tracking error before and after (annualised), one-way turnover (share of
        the account) and cash after trading (USD).
    names_after, fractional_quantities, solves, inaccurate_solves, relaxation_fallbacks : int
        Names held after, quantities that are not whole shares, solver calls.
    smallest_order : float
        The smallest order the minimum trade applies to (NaN: none).
    status, method, relaxation, formulation, dropped_for_name_cap : str
        Solver status, buy/sell method, relaxation used, problem form, names dropped by the
        name cap.
    restriction_gain_min, budget_raised_by_restrictions : float
        Gains the restrictions force, and by how much they raised a gains budget (USD).
    seconds, solver_seconds, build_seconds : float
        Wall time of the rebalance, of its solves, and of building the problem.
    ledger_checked : bool
        Whether the trades were replayed through the ledger.
    gift_value, gifts, note : float, pandas.DataFrame or None, str
        Set by a transition step that gives lots to charity: the gifts' value, the gifts,
        and the step's note.
    """

    account: str
    as_of: dt.date
    value: float
    realized_st: float
    realized_lt: float
    tax: float
    tax_model: float
    tax_pct: float
    disallowed_loss: float
    carryforward_st: float
    carryforward_lt: float
    carryforward_st_before: float
    carryforward_lt_before: float
    te_before: float
    te_after: float
    turnover: float
    cash_after: float
    names_after: int
    smallest_order: float
    fractional_quantities: int
    status: str
    method: str
    relaxation: str
    formulation: str
    dropped_for_name_cap: str
    restriction_gain_min: float
    budget_raised_by_restrictions: float
    solves: int
    inaccurate_solves: int
    relaxation_fallbacks: int
    seconds: float
    solver_seconds: float
    build_seconds: float
    ledger_checked: bool
    gift_value: float = 0.0
    gifts: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    note: str = ""

    def __getitem__(self, key: str | list[str]) -> object:
        """A figure by name, or a :class:`pandas.Series` of several (``s[["a", "b"]]``)."""
        if isinstance(key, list):
            return pd.Series({k: self[k] for k in key}, dtype=object)
        if key not in _FIGURES:
            raise KeyError(f"{key!r} is not a rebalance summary figure; the figures are: "
                           f"{', '.join(_FIGURES)}")
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIGURES)

    def __len__(self) -> int:
        return len(_FIGURES)

    def to_series(self) -> pd.Series:
        """Every figure as a :class:`pandas.Series` (for a table or ``summary.csv``)."""
        return pd.Series(dict(self), dtype=object)


_FIGURES = tuple(f.name for f in dataclasses.fields(RebalanceSummary))
"""The summary's field names, in order (read once)."""


@dataclass(frozen=True)
class RebalanceResult:
    """Proposed trades and their consequences.

    Attributes
    ----------
    lot_trades : pd.DataFrame
        One row per lot sold: lot_id, ticker, shares, price, proceeds, basis, gain, term.
    trades : pd.DataFrame
        One row per name traded: ticker, side, shares, value, weight before / after /
        target.
    decisions : pd.DataFrame
        One row per lot: action (hold, sell, harvest, defer) and the binding reason.
    summary : RebalanceSummary
        Realised ST and LT gain and the tax from the ledger's netting (the trades are
        replayed through a copy of the ledger: this year's Schedule D after the $3,000
        limit, carry-ins included), the loss carryforward the trades create, the
        optimiser's own linear tax, TE before and after, turnover, cash, names, status,
        method, solves and seconds (one typed field each).
    weights : pd.Series
        Post-trade weights by asset.
    checks : pd.DataFrame
        Every constraint evaluated at the trades (:meth:`RebalanceProblem.check_constraints`),
        filled when the trades went through the whole-share / minimum-trade step.
    """

    lot_trades: pd.DataFrame
    trades: pd.DataFrame
    decisions: pd.DataFrame
    summary: RebalanceSummary
    weights: pd.Series = field(repr=False, default_factory=pd.Series)
    checks: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    @property
    def status(self) -> str:
        """Solver status of the final solve."""
        return str(self.summary.status)
