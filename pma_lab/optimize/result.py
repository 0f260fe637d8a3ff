"""What a rebalance returns: the trades and a typed summary of their consequences.

:class:`RebalanceSummary` is a frozen dataclass with one typed field per figure (it was a
30-field :class:`pandas.Series`). It still reads like a mapping (``summary["tax"]``,
``summary.get("tax")``, ``dict(summary)``), so tables and CSV writers can take it whole
(:meth:`RebalanceSummary.to_series`); a changed figure is a new summary
(:func:`dataclasses.replace`), never an edit in place.

:func:`build_result` makes a result from a solved
:class:`~pma_lab.optimize.rebalance.RebalanceProblem` and its trades (weights sold per lot,
bought per asset): the lot and name trades in shares and dollars, the tracking error before
and after, the tax (replayed through a copy of the household ledger when the problem has
one) and the per-lot decisions (:mod:`pma_lab.optimize.decisions`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from pma_lab.errors import SettingsError, SolverFailedError
from pma_lab.formatting import fmt_shares, fmt_usd
from pma_lab.optimize.constraints import GainBudgets
from pma_lab.optimize.decisions import decision_columns
from pma_lab.optimize.state import asset_index, lot_columns
from pma_lab.tax.liability import yearly_netting

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.optimize.settings import RebalanceSettings
    from pma_lab.optimize.state import AccountState
    from pma_lab.tax.ledger import Ledger
    from pma_lab.tax.liability import TaxProfile

__all__ = ["Deferred", "RaisedCap", "RebalanceSummary", "RebalanceResult", "TradeColumns",
           "build_result", "deferred_result", "ledger_checked", "replaced", "replay_trades",
           "trade_columns", "trade_lists", "washed_shares"]


_CAP_WORDS: Final = ("total", "short-term", "long-term")

_OFFSET_WORDS: Final = {
    "total": "the forced sales' gain less the losses harvested, which offset it",
    "short-term": "the forced sales' short-term gain less the short-term losses harvested, "
                  "which offset it",
    "long-term": "the forced sales' long-term gain less the long-term losses harvested, "
                 "which offset it",
}


@dataclass(frozen=True)
class RaisedCap:
    """One gain cap the restrictions' sales raised (:func:`caps_raised`).

    Attributes
    ----------
    cap : str
        ``"total"``, ``"short-term"`` or ``"long-term"``.
    limit : float | None
        The cap in gain dollars; ``None`` for a cap in another unit ("its limit").
    by : float
        The raise (USD).
    offset : bool
        Whether the raise was lowered by the losses the step harvests, which offset the
        forced gains (:func:`pma_lab.plan.simulation._solve_within_forced`).

    Examples
    --------
    >>> str(RaisedCap("total", 25_000.0, 3_546.0))
    'total $25,000 by $3,546'
    >>> str(RaisedCap("long-term", 30_000.0, 24_885.499999999996))  # as fmt_usd rounds
    'long-term $30,000 by $24,886'
    >>> str(RaisedCap("short-term", 0.0, 2_367.0, offset=True))  # doctest: +NORMALIZE_WHITESPACE
    "short-term $0 by $2,367 (the forced sales' short-term gain less the short-term losses
    harvested, which offset it)"
    """

    cap: str
    limit: float | None
    by: float
    offset: bool = False

    def __str__(self) -> str:
        """The cap, its value and the raise, as the notes quote it."""
        # fmt_usd, as every other figure a client reads: the year's overrun note said
        # "$24,886 over" and this "by $24,885" for one raise of $24,885.50 (``:,.0f``
        # rounds the binary value 24885.4999... down; reviewer 1, session 24, whitman)
        value = "its limit" if self.limit is None else fmt_usd(self.limit)
        why = f" ({_OFFSET_WORDS[self.cap]})" if self.offset else ""
        return f"{self.cap} {value} by {fmt_usd(self.by)}{why}"


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
        disallowed by wash sales, USD: every wash-sale adjustment the trades make (Form
        8949's code W amounts), including a loss whose replacement shares are sold the
        same day (its basis carries the loss, so the loss is recognised today).
    disallowed_loss_deferred : float
        Of ``disallowed_loss``, the part still deferred after the trades: in the basis of
        replacement shares held (USD; not the part recognised today through the sale of
        the replacement shares, nor a loss lost for good to a retirement account's
        purchase). Reviewer 1, session 25: $8,793.80 disallowed and $0 deferred when a
        loss lot and its replacement lot are both sold.
    tax_model, tax_pct : float
        The optimiser's own linear tax (USD) and the tax as a share of the account.
    carryforward_st, carryforward_lt : float
        Loss carryforward into next year that the trades create, by character (NaN
        without a ledger); ``carryforward_*_before`` next year's carryforward without
        today's trades (not the carry-in: that is ``carryforward_*_in``).
    carryforward_st_in, carryforward_lt_in : float
        The loss carried into this year from earlier years, by character (USD, positive;
        the profile's carry-in the ledger's netting starts from). Reviewer 1, session 25:
        the retiree's ``carryforward_lt_before`` 15,500 read as the carry-in, 18,500.
    te_before, te_after, turnover, cash_after : float
        Ex-ante tracking error before and after (annualised; before: the holdings as a
        share of the account today, before a withdrawal or addition), one-way turnover
        (share of the account) and cash after trading (USD).
    names_after, fractional_quantities, solves, inaccurate_solves, relaxation_fallbacks : int
        Names held after, quantities that are not whole shares, solver calls.
    smallest_order : float
        The smallest order the minimum trade applies to (NaN: none).
    status, method, relaxation, formulation, dropped_for_name_cap : str
        Solver status, buy/sell method, relaxation used, problem form, names dropped by the
        name cap.
    restriction_gain_min, budget_raised_by_restrictions : float
        Gains the restrictions force, and by how much they raised a gains budget (USD,
        the largest raise of a cap).
    seconds, solver_seconds, build_seconds : float
        Wall time of the rebalance, of its solves, and of building the problem.
    ledger_checked : bool
        Whether the trades were replayed through the ledger.
    raised_caps : tuple[RaisedCap, ...]
        Each gain cap the restrictions' sales raised, with its value and the raise (empty:
        none, :func:`caps_raised`), which :func:`pma_lab.report.labels.forced_sales_note`
        quotes; the figure ``budget_raised_caps`` says them in words
        (``"total $25,000 by $3,546; short-term $0 by $2,367"``; ``""``: none).
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
    disallowed_loss_deferred: float
    carryforward_st: float
    carryforward_lt: float
    carryforward_st_in: float
    carryforward_lt_in: float
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
    raised_caps: tuple[RaisedCap, ...] = ()

    @property
    def budget_raised_caps(self) -> str:
        """The caps raised in words (``raised_caps``; ``""``: none), the figure's value."""
        return "; ".join(str(c) for c in self.raised_caps)

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

    def to_series(self, cents: bool = False) -> pd.Series:
        """Every figure as a :class:`pandas.Series` (for a table or ``summary.csv``).

        The loss carryforward reads as the carry-in from earlier years into this year
        (``carryforward_st_in``), then next year's carryforward without today's trades
        (``carryforward_st_before``), with them (``carryforward_st_after``) and the change
        between them (``carryforward_st_change``; the attributes ``carryforward_st`` /
        ``_lt`` are the change), so a level is never read beside a change under one name.
        ``_before`` / ``_after`` keep their names (files read them): both are next
        year's figure, the year's own gains and losses netted against the carry-in.

        Parameters
        ----------
        cents : bool
            Dollar figures (:data:`USD_FIGURES`) rounded to the cent, as files write them
            (reviewer 1, session 25: ``cash_after 4.34000000000916`` in ``summary.csv``).
        """
        d = dict(self)
        out: dict[str, object] = {}
        for k, v in d.items():
            if k in ("carryforward_st", "carryforward_lt"):
                continue
            out[k] = v
            if k in ("carryforward_st_before", "carryforward_lt_before"):
                term = k.split("_")[1]
                change = d[f"carryforward_{term}"]
                out[f"carryforward_{term}_after"] = v + change
                out[f"carryforward_{term}_change"] = change
        if cents:
            for k in USD_FIGURES:
                if isinstance(out.get(k), float) and np.isfinite(out[k]):
                    out[k] = round(out[k], 2)
        return pd.Series(out, dtype=object)


USD_FIGURES = ("value", "realized_st", "realized_lt", "tax", "tax_model", "disallowed_loss",
               "disallowed_loss_deferred",
               *(f"carryforward_{t}_{w}" for t in ("st", "lt")
                 for w in ("in", "before", "after", "change")),
               "cash_after", "smallest_order", "restriction_gain_min",
               "budget_raised_by_restrictions", "gift_value")
"""The summary's figures in dollars (:meth:`RebalanceSummary.to_series`, ``cents``)."""

_FIGURES = tuple("budget_raised_caps" if f.name == "raised_caps" else f.name
                 for f in dataclasses.fields(RebalanceSummary))
"""The summary's figure names, in order (read once): its fields, the raised caps in words
(``budget_raised_caps``, a string for tables and ``summary.csv``) for ``raised_caps``."""


@dataclass(frozen=True)
class RebalanceResult:
    """Proposed trades and their consequences.

    Attributes
    ----------
    lot_trades : pd.DataFrame
        One row per lot sold: lot_id, ticker, shares, price, proceeds, basis, gain, term,
        ``acquired`` (the lot's purchase date; with ``basis`` Form 8949's pair),
        ``recorded_basis`` and ``recorded_acquired`` (the sold shares' basis and the lot's
        purchase date as the lots file records them, the custodian's record: a gift lot's
        donor basis and date; else ``basis`` and ``acquired`` before any wash-sale
        adjustment today's trades make), ``full_lot``,
        ``wash_disallowed`` (the optimiser's wash-sale lock on the lot) and, when a ledger
        checked the trades, ``wash_loss_disallowed`` (USD of the sale's loss the ledger's
        replay disallows under the wash-sale rule; 0 when none), ``wash_shares`` and
        ``loss_allowed_shares`` (the shares sold whose loss is washed, and allowed),
        ``wash_loss_recognised`` (USD of a loss disallowed today that this sale's basis
        carries: replacement shares sold the same day, so it is recognised today), and
        ``wash_lost_shares`` and ``wash_loss_lost`` (of the washed shares and USD, those an
        IRA's purchase replaces: lost for good, Rev. Rul. 2008-5, not deferred).
    trades : pd.DataFrame
        One row per name traded: ticker, side, shares, value, weight before / after /
        target and, when a ledger checked the trades, ``wash_replacement`` (a purchase
        the ledger's replay uses as replacement shares of a loss sold within 30 days).
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

    def __getattr__(self, name: str) -> object:
        """A table kept as its columns (:class:`Deferred`), built when first read.

        :func:`build_result` keeps the ``decisions`` as :class:`~pma_lab.optimize.
        decisions.DecisionColumns` and :func:`~pma_lab.optimize.checks.checked` the
        ``checks`` as their rows: a plan's steps read neither table of most results
        (building them was ~2 CPU-ms of a result, ~0.2 CPU-s of a client's plan
        comparison). Once built it is the field's value, as a table passed in is;
        ``dataclasses.replace``, equality and ``repr`` read it as any field
        (:func:`replaced` keeps the tables not yet read unbuilt).
        """
        deferred = self.__dict__.get("_deferred")
        if deferred is not None and name in deferred:
            frame = deferred[name]()
            object.__setattr__(self, name, frame)
            return frame
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getstate__(self) -> dict:
        """The fields and deferred tables to pickle (not :func:`build_result`'s trades)."""
        state = dict(self.__dict__)
        state.pop("_trade_arrays", None)  # a weak reference to the problem's state
        return state


class Deferred:
    """A result's table kept as what it is built from, built on first call and kept.

    Parameters
    ----------
    build : Callable[..., pd.DataFrame]
        A module-level function (so a result still pickles), called with ``args``.
    *args
        Its arguments (dropped once the table is built).
    """

    __slots__ = ("_args", "_build", "_frame")

    def __init__(self, build: Callable[..., pd.DataFrame], *args: object) -> None:
        self._build, self._args, self._frame = build, args, None

    def __call__(self) -> pd.DataFrame:
        """The table, built on the first call."""
        frame = self._frame
        if frame is None:
            frame = self._frame = self._build(*self._args)
            self._args = ()
        return frame


_TABLES: Final = ("lot_trades", "trades", "decisions", "checks")
"""The result's tables that may be :class:`Deferred`."""


def deferred_result(lot_trades: pd.DataFrame | Deferred, trades: pd.DataFrame | Deferred,
                    decisions: pd.DataFrame | Deferred, summary: RebalanceSummary,
                    weights: pd.Series, checks: pd.DataFrame | Deferred | None = None,
                    columns: TradeColumns | None = None) -> RebalanceResult:
    """A :class:`RebalanceResult` whose tables may be :class:`Deferred`.

    ``checks`` ``None``: an empty table (the field's default), built when read.
    ``columns``: the trade lists' columns (:func:`trade_columns` reads them), kept with
    the result.
    """
    tables = {"lot_trades": lot_trades, "trades": trades, "decisions": decisions,
              "checks": Deferred(pd.DataFrame) if checks is None else checks}
    res = RebalanceResult(**{k: None if isinstance(v, Deferred) else v
                             for k, v in tables.items()}, summary=summary, weights=weights)
    deferred = {k: v for k, v in tables.items() if isinstance(v, Deferred)}
    if deferred:
        for k in deferred:
            object.__delattr__(res, k)
        object.__setattr__(res, "_deferred", deferred)
    if columns is not None:
        object.__setattr__(res, "_columns", columns)
    return res


def replaced(result: RebalanceResult, **changes: object) -> RebalanceResult:
    """``dataclasses.replace(result, **changes)`` that keeps unread tables unbuilt.

    A table not read yet (:class:`Deferred`) stays so in the new result (one build serves
    both), and so do the trade lists' columns while neither list changes; a changed table
    may be a :class:`Deferred`.
    """
    unknown = set(changes) - {f.name for f in dataclasses.fields(RebalanceResult)}
    if unknown:
        raise TypeError(f"replaced(): {', '.join(sorted(unknown))} is not a "
                        "RebalanceResult field")
    have = result.__dict__
    deferred = have.get("_deferred", {})
    value = {t: changes[t] if t in changes else have[t] if t in have else deferred[t]
             for t in _TABLES}
    columns = None if {"lot_trades", "trades"} & set(changes) else have.get("_columns")
    return deferred_result(value["lot_trades"], value["trades"], value["decisions"],
                           changes.get("summary", result.summary),
                           changes.get("weights", result.weights), value["checks"], columns)


@dataclass(frozen=True)
class TradeColumns:
    """A result's trade lists' columns, as :func:`build_result` built the tables of them.

    Attributes
    ----------
    lots : Mapping[str, np.ndarray]
        ``lot_trades``' columns (arrays).
    names : Mapping[str, object]
        ``trades``' columns (arrays, or lists for ``ticker`` and ``side``).
    """

    lots: Mapping[str, object]
    names: Mapping[str, object]


class _FrameColumns(Mapping):
    """A table's columns read when asked for (a result made without its columns)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def __getitem__(self, name: str) -> object:
        return self._frame[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._frame.columns)

    def __len__(self) -> int:
        return len(self._frame.columns)


def trade_columns(result: RebalanceResult) -> TradeColumns:
    """The trade lists' columns of ``result``: the arrays its tables were built of.

    A plan's step reads its trades as lists (``trade_lists``); the tables are then built
    only when read otherwise. A result made by hand, checked by a ledger or with a table
    replaced reads its tables' columns.
    """
    kept = result.__dict__.get("_columns")
    if kept is not None:
        return kept
    return TradeColumns(_FrameColumns(result.lot_trades), _FrameColumns(result.trades))


def trade_lists(columns: Mapping[str, object], *names: str) -> list[list]:
    """Columns ``names`` of a :class:`TradeColumns` mapping as Python lists (``tolist``)."""
    return [c.tolist() if hasattr(c, "tolist") else list(c)  # type: ignore[union-attr]
            for c in (columns[n] for n in names)]


def caps_raised(budgets: object, raise_usd: np.ndarray | None) -> tuple[RaisedCap, ...]:
    """The gain caps the restrictions' sales raised (empty: none).

    ``budgets``: the solve's :class:`~pma_lab.optimize.settings.Budgets`; ``raise_usd``:
    the raise of each cap (total, short-, long-term; USD,
    :func:`pma_lab.optimize.limits.budget_limits`). A cap of gain dollars reads
    ``"total $25,000 by $3,546"``; raises below half a cent are round-off, not raises.

    >>> from pma_lab.optimize.settings import Budgets
    >>> caps = caps_raised(Budgets(total=25_000.0, short_term=0.0),
    ...                    np.array([3546.0, 2367.0, 0]))
    >>> "; ".join(str(c) for c in caps)
    'total $25,000 by $3,546; short-term $0 by $2,367'
    """
    if raise_usd is None or getattr(budgets, "unit", None) is None:
        return ()
    gain = str(getattr(budgets.unit, "value", budgets.unit)) == "gain"
    return tuple(RaisedCap(word, float(cap) if gain else None, float(r))
                 for word, cap, r in zip(_CAP_WORDS, (budgets.total, budgets.short_term,
                                                      budgets.long_term), raise_usd,
                                         strict=True)
                 if cap is not None and float(r) > 0.005)


def build_result(p: RebalanceProblem, method: str, status: str, seconds: float,
                 dropped: set[str], x: np.ndarray | None = None, b: np.ndarray | None = None,
                 settings: RebalanceSettings | None = None) -> RebalanceResult:
    """The result of trades ``x``, ``b`` of a solved problem: trades, summary, decisions.

    Parameters
    ----------
    p : RebalanceProblem
        The problem the trades were solved (and possibly rounded) for; its solve log gives
        the solver counts, its ledger (if any) checks the tax.
    method, status : str
        The method named in the summary (e.g. ``"two_step (whole shares)"``) and the
        solver status of the final solve.
    seconds : float
        Wall time of the rebalance.
    dropped : set[str]
        Names dropped for the name-count cap.
    x, b : np.ndarray | None
        Weight sold per lot and bought per asset (default: the solver's solution).
    settings : RebalanceSettings | None
        The settings the trades were made with (default: the problem's).

    Returns
    -------
    RebalanceResult
        Without ``checks`` (:meth:`RebalanceProblem.check_constraints` fills them).

    Raises
    ------
    SolverFailedError
        When a name is both bought and sold after a sign-fixed solve (a bug).
    """
    st, V = p.state, p.V
    s = settings or p.settings
    if x is None or b is None:
        x, b = p._solution()
    cols = lot_columns(st)  # the lots' columns as arrays, read once per state
    px = st.prices.to_numpy()
    sold_shares = np.where(x >= p.v, cols.shares, _snap(x * V / cols.price)) if p.nl else \
        np.zeros(0)
    # a lot whose sold weight is solver round-off (under a millionth of a share once
    # snapped) is not sold: no zero-share sale reaches the trade list or the ledger
    idx = np.flatnonzero((x > 0) & (sold_shares > 0)) if p.nl else np.zeros(0, dtype=int)
    sh = sold_shares[idx]
    lot_px = cols.price[idx]
    basis = cols.basis[idx] * sh / cols.shares[idx]
    proceeds = sh * lot_px
    gain, term, full = proceeds - basis, cols.term[idx], x[idx] >= p.v[idx]
    lot_cols = {
        "lot_id": cols.lot_id[idx], "ticker": cols.ticker[idx],
        "shares": sh, "price": lot_px, "proceeds": proceeds, "basis": basis,
        "gain": gain, "term": term,
        "wash_disallowed": p.locked_loss[idx],
        "full_lot": full,
        # the lot's purchase date: with its cost per share it identifies the lot at the
        # custodian when the lot id is pma_lab's own (``file:row``)
        "acquired": cols.acquired[idx],
        # the lot as the lots file records it (a gift lot's donor basis and date, whatever
        # the sale reports): what the custodian's own record of the lot reads
        "recorded_basis": cols.recorded_basis[idx] * sh / cols.shares[idx],
        "recorded_acquired": cols.recorded_acquired[idx]}
    sold = p.A @ x if p.nl else np.zeros(p.na)
    w_after = p.h + b - sold
    # "before" is the holdings as a share of the account today: a withdrawal (or an
    # addition) is in V (lots + cash + the flow) but not yet in the holdings, so their
    # weights are rescaled to the account before it (the same figure as without a flow;
    # a $20,000 withdrawal read 18.03% for holdings that read 16.98%)
    today = V - st.contribution
    look_before = p.M @ (p.h * (V / today) if st.contribution and today > 0 else p.h)
    look_after = p.M @ w_after
    named = _name_trade_arrays(p, b, sold, w_after, px, method)
    name_cols = _name_columns(p, named)
    te_before = p._te(look_before)
    te_after = p._te(look_after)
    model_tax = p.tax_term.value(x) * V
    if p.ledger is not None:  # the ledger's replay reads the tables and marks them
        lot_trades, trades = pd.DataFrame(lot_cols), _trades_frame(name_cols)
        checked = _ledger_check(st, p.ledger, lot_trades, trades)
        _mark_washes(lot_trades, trades, checked)
        columns = None
    else:  # the tables built when first read (a plan's step reads the columns)
        lot_trades, trades, checked = Deferred(pd.DataFrame, lot_cols), \
            Deferred(_trades_frame, name_cols), {}
        columns = TradeColumns(lot_cols, name_cols if name_cols is not None else
                               {c: [] for c in _TRADE_COLUMNS})
    buys = named["shares"][named["net"] > 0]
    summary = RebalanceSummary(**{
        "account": st.account_id, "as_of": st.as_of, "value": V,
        # the lots' gains by term summed as numpy arrays: the trade list's column sums
        # to the bit (a boolean selection of a string column cost ~2 ms a result)
        **_taxed(lot_trades, checked, model_tax, V,
                 gains=(float(gain[term == "ST"].sum()), float(gain[term == "LT"].sum()))),
        # the carry-in from earlier years (the netting's start), not next year's figure
        "carryforward_st_in": float(st.carryin_st), "carryforward_lt_in": float(st.carryin_lt),
        "te_before": te_before, "te_after": te_after,
        "turnover": float((b.sum() + sold.sum()) / 2),
        "cash_after": float(p.P["cash"].value + sold.sum() - b.sum()) * V,
        "names_after": int((w_after > 1e-6).sum()),
        # the smallest order the minimum trade applies to (NaN: none), and quantities
        # that are not whole shares (whole-lot sales exempt)
        "smallest_order": float(sizes.min()) if len(sizes := _order_sizes(p,
            None, None, named, (idx, sh))) else math.nan,
        "fractional_quantities": _fractional_count(buys, sh[~full]),
        "status": status, "method": method, "relaxation": p.relaxed_form,
        "formulation": (f"lot classes ({p.sc.size} for {p.nl} lots)"
                        if p.aggregated else f"lots ({p.nl})"),
        "dropped_for_name_cap": ", ".join(sorted(dropped)),
        "restriction_gain_min": float(p.g_eff @ p._forced_x) * V if p.nl else 0.0,
        "budget_raised_by_restrictions": p.budget_raised,
        "solves": len(p._log), "inaccurate_solves": p._inaccurate,
        "relaxation_fallbacks": p._fallbacks,
        "seconds": seconds,
        "solver_seconds": float(sum(r["solver_seconds"] or 0.0 for r in p._log)),
        "build_seconds": p.build_seconds,
        "ledger_checked": p.ledger is not None,
        "raised_caps": caps_raised(p.settings.budgets, getattr(p, "budget_raise", None)),
    })
    # the decisions' columns now (they read the problem, which a plan's next step
    # changes), their table when first read
    dec_cols = decision_columns(p, x, dropped, w_after, s, checked.get("wash_shares_by_lot"),
                                checked.get("wash_lost_shares_by_lot"))
    decisions = Deferred(_decision_frame, dec_cols) if not checked.get("replaced_sold") else \
        Deferred(_replaced_decisions, dec_cols, lot_trades, checked["replaced_sold"])
    weights = pd.Series(w_after, index=asset_index(st))
    res = deferred_result(lot_trades, trades, decisions, summary, weights, columns=columns)
    # the trades as checks.trade_arrays reads them back from the tables (the same
    # arithmetic on the same numbers), for the check that follows
    back = np.zeros(p.nl)
    back[idx] = np.where(full, p.v[idx], sh * lot_px / V)
    buy = np.flatnonzero(named["net"] > 0)
    bought = np.zeros(p.na)
    at = named["index"][buy]
    bought[at] = named["shares"][buy] * np.asarray(px, dtype=float)[at] / V
    object.__setattr__(res, "_trade_arrays", (weakref.ref(st), V, back, bought))
    return res


def _decision_frame(columns: object) -> pd.DataFrame:
    """The decisions table of :func:`~pma_lab.optimize.decisions.decision_columns`."""
    return columns.frame()  # type: ignore[attr-defined]


def _replaced_decisions(columns: object, lot_trades: pd.DataFrame,
                        replaced: Mapping[str, tuple]) -> pd.DataFrame:
    """The decisions table with the reasons of replacement lots sold today reworded.

    The lots of ``replaced`` (:func:`_replaced_sold`) were worded with their own term and
    basis; their sale's are the ledger's (``lot_trades`` holds them):
    :func:`_reworded_reasons`.
    """
    return _reworded_reasons(_decision_frame(columns), lot_trades, replaced)


def _reworded_reasons(dec: pd.DataFrame, lot_trades: pd.DataFrame,
                      lots: Mapping[str, tuple]) -> pd.DataFrame:
    """``dec`` with the harvest reasons of ``lots`` from ``lot_trades``' ledger figures.

    The lots are replacement lots sold the day of the loss they replace (``lots``:
    :func:`_replaced_sold`'s). Each one's harvest says its sale's term and washed shares
    (another reason is kept), then the basis and holding start the wash sale gives the
    shares sold, and each term's part when they fall in two. A copy; ``dec`` itself is
    not changed.
    """
    from pma_lab.optimize.decisions import loss_sale_reason

    dec = dec.copy()
    row = {str(i): k for k, i in enumerate(dec.lot_id.tolist())}
    reasons = dec.reason.tolist()
    for r in lot_trades[lot_trades.lot_id.astype(str).isin(lots)].itertuples():
        k = row.get(str(r.lot_id))
        if k is None:
            continue
        # a harvest's words say the sale's term; another loss sale's reason (a restriction)
        # is kept with the same wash-sale words; a gain sold's is kept
        words = loss_sale_reason(str(reasons[k]), str(r.term), bool(r.wash_disallowed),
                                 (float(r.shares), float(r.wash_shares)),
                                 float(r.wash_lost_shares)) \
            if float(r.gain) < 0 else reasons[k]
        held = lots[str(r.lot_id)][3]  # None: the shares' holding starts differ
        start = "" if held is None else f", held from {pd.Timestamp(held).date()}"
        reasons[k] = (f"{words}; replacement shares of a loss sold today: the washed loss "
                      f"raises the sold shares' basis to {fmt_usd(float(r.basis))}{start}"
                      f"{lots[str(r.lot_id)][4]}")
    dec["reason"] = pd.array(reasons, dtype=dec.reason.dtype)
    return dec


_TRADE_COLUMNS = ["ticker", "side", "shares", "value", "weight_before", "weight_after",
                  "target_weight"]


def _name_trade_arrays(p: RebalanceProblem, b: np.ndarray, sold: np.ndarray,
                       w_after: np.ndarray, px: np.ndarray, method: str
                       ) -> dict[str, np.ndarray]:
    """The columns of the name trades (the result's ``trades``) as arrays, and ``net``.

    ``net``: the weight bought less the weight sold.

    Raises
    ------
    SolverFailedError
        When a name is both bought and sold and ``method`` is not the relaxation.
    """
    ti = np.flatnonzero((b > 0) | (sold > 0))
    both = ti[(b[ti] > 0) & (sold[ti] > 0)]
    if len(both) and method != "relaxed":
        raise SolverFailedError(f"{p.state.assets[both[0]]} is both bought and sold after "
                                "the sign-fixed solve; this is a bug")
    net = b[ti] - sold[ti]
    size = np.abs(net) * p.V
    target = np.zeros(len(ti))
    model = ti < p.nm
    target[model] = p.wt[ti[model]]
    return {"index": ti, "net": net, "shares": _snap(size / px[ti]), "value": size,
            "weight_before": p.h[ti], "weight_after": w_after[ti], "target_weight": target}


def _name_columns(p: RebalanceProblem, named: dict[str, np.ndarray]
                  ) -> dict[str, object] | None:
    """The columns of the name trades' table, in the order of the assets.

    ``None``: no name traded.
    """
    ti = named["index"]
    if not len(ti):
        return None
    assets = p.state.assets
    return {"ticker": [assets[i] for i in ti],
            "side": ["buy" if n > 0 else "sell" for n in named["net"]],
            "shares": named["shares"], "value": named["value"],
            "weight_before": named["weight_before"], "weight_after": named["weight_after"],
            "target_weight": named["target_weight"]}


def _trades_frame(columns: dict[str, object] | None) -> pd.DataFrame:
    """The name trades' table of :func:`_name_columns`' columns."""
    if columns is None:
        return pd.DataFrame([], columns=_TRADE_COLUMNS)
    return pd.DataFrame(columns, columns=_TRADE_COLUMNS)


def _order_sizes(p: RebalanceProblem, trades: pd.DataFrame | None,
                 lot_trades: pd.DataFrame | None,
                 named: dict[str, np.ndarray] | None = None,
                 sold_lots: tuple[np.ndarray, np.ndarray] | None = None
                 ) -> pd.Series | np.ndarray:
    """USD of each name's order that the minimum trade applies to.

    Exempt: sales of names the restrictions force (must-sell, or a glide's cap below 1:
    :func:`_forced`) and sales that close the position.
    ``named``: the trades' :func:`_name_trade_arrays` (then an array is returned, the
    same values; the trade list's columns are not read again). ``sold_lots``: with
    ``named``, the lots ``lot_trades`` sells (their rows in the state's lots) and the
    shares each sells: each name's shares held and sold are then summed from arrays
    (a sale closes a position when every lot of the name is sold whole, the same shares
    summed in the same order on both sides), not grouped and reindexed by ticker (~4 ms
    a result, a tenth of a transition step's result), and ``trades`` and ``lot_trades``
    are not read (``None``).
    """
    st = p.state
    if named is not None and sold_lots is not None:
        ti = named["index"]
        if not len(ti):
            return named["value"]
        idx, sh = sold_lots
        shares = lot_columns(st).shares
        held = np.bincount(p.lot_asset, weights=shares, minlength=p.na)[ti] if p.nl \
            else np.zeros(len(ti))
        sold = np.bincount(p.lot_asset[idx], weights=sh, minlength=p.na)[ti] if p.nl \
            else np.zeros(len(ti))
        assets = st.assets
        must = np.array([_forced(st, assets[i]) for i in ti], dtype=bool)
        keep = ~((named["net"] <= 0) & (must | (np.abs(sold - held) < 1e-9)))
        return named["value"][keep]
    if not len(trades):
        return trades.value
    held = lot_columns(st).held
    sold = lot_trades.groupby("ticker").shares.sum() if len(lot_trades) \
        else pd.Series(dtype=float)
    if named is None:
        tick, sells, value = trades.ticker, (trades.side == "sell").to_numpy(), trades.value
    else:
        assets = st.assets
        tick = [assets[i] for i in named["index"]]
        sells, value = named["net"] <= 0, named["value"]
    closes = np.abs(sold.reindex(tick).fillna(0.0).to_numpy(dtype=float)
                    - held.reindex(tick).fillna(0.0).to_numpy(dtype=float)) < 1e-9
    must = np.array([_forced(st, t) for t in list(tick)], dtype=bool)
    keep = ~(sells & (must | closes))
    return value[keep]


def _forced(st: AccountState, ticker: str) -> bool:
    """Whether the restrictions force ``ticker``'s sale (must-sell, or a glide cap below 1).

    The names :func:`pma_lab.optimize.rounding.round_trades` sells as the restriction
    forces (its ``w_cap < 1``, :func:`pma_lab.optimize.limits.base_caps`): rounded up and
    exempt from the minimum trade, so the minimum-trade check exempts them alike (a
    glide's one-share sale of $169 under a $250 minimum read as a bug; review rev1 F1b).
    """
    return ticker in st.must_sell or float(st.max_weight.get(ticker, 1.0)) < 1.0


def _fractional_quantities(trades: pd.DataFrame, lot_trades: pd.DataFrame) -> int:
    """Quantities that are not whole shares (sales of a whole lot are exempt)."""
    buys = trades[trades.side == "buy"].shares.to_numpy(dtype=float)
    part = lot_trades.shares[~lot_trades.full_lot].to_numpy(dtype=float) \
        if len(lot_trades) else np.zeros(0)
    return _fractional_count(buys, part)


def _fractional_count(buys: np.ndarray, part: np.ndarray) -> int:
    """Quantities that are not whole shares among bought and (part-lot) sold shares."""
    q = np.concatenate([np.asarray(buys, dtype=float), np.asarray(part, dtype=float)])
    return int((np.abs(q - np.round(q)) > 1e-9).sum())


def replay_trades(led: Ledger, account: str, day: dt.date, lot_trades: pd.DataFrame,
                  trades: pd.DataFrame, prices: Mapping[str, float]) -> None:
    """Apply a result's trades to ``led`` (in place) on ``day``, then settle it.

    The sales relieve the very lots ``lot_trades`` names (a full lot at its exact shares)
    at their prices; the buys of ``trades`` are bought at ``prices[ticker]``.
    """
    replay_trades_lists(led, account, day, _lot_sales(lot_trades), _buys(trades, prices))


def _lot_sales(lot_trades: pd.DataFrame) -> list[tuple[str, str, Decimal | None, Decimal]]:
    """The lot sales as :meth:`Ledger.sell_lots` takes them.

    A full lot at its exact shares as the ledger holds them (``None``: no Decimal snapshot
    of every open lot); the others at the trade list's shares.
    """
    return [(ticker, lot_id, None if whole else _decimal(q), _decimal(price))
            for lot_id, ticker, q, price, whole in zip(
                lot_trades.lot_id.tolist(), lot_trades.ticker.tolist(),
                lot_trades.shares.tolist(), lot_trades.price.tolist(),
                lot_trades.full_lot.to_numpy(dtype=bool).tolist(), strict=True)]


def _buys(trades: pd.DataFrame, prices: Mapping[str, float]
          ) -> list[tuple[str, Decimal, Decimal]]:
    """The buys of ``trades`` as ``(ticker, shares, price)`` at ``prices[ticker]``."""
    buys = trades[trades.side == "buy"]
    tickers = buys.ticker.tolist()
    # a Series' prices read at once by position (a lookup each cost ~10 us, .loc ~1 ms)
    if isinstance(prices, pd.Series):
        at = prices.index.get_indexer(tickers) if tickers else np.zeros(0, dtype=int)
        px = prices.to_numpy()[at].tolist() if (at >= 0).all() else \
            prices.loc[tickers].tolist()  # a ticker without a price: .loc's KeyError
    else:
        px = [prices[t] for t in tickers]
    return [(ticker, _decimal(q), _decimal(price))
            for ticker, q, price in zip(tickers, buys.shares.tolist(), px, strict=True)]


_DECIMALS: dict[float, Decimal] = {}
_DECIMALS_MAX = 200_000


def _decimal(x: float) -> Decimal:
    """``Decimal(repr(float(x)))``, kept by value.

    A frontier's points sell at the same prices. Zero (whose sign ``repr`` keeps) and NaN
    are not kept.
    """
    x = float(x)
    d = _DECIMALS.get(x)
    if d is None:
        d = Decimal(repr(x))
        if x != 0 and len(_DECIMALS) < _DECIMALS_MAX:
            _DECIMALS[x] = d
    return d


def _mark_washes(lot_trades: pd.DataFrame, trades: pd.DataFrame, checked: dict) -> None:
    """Add the ledger's wash-sale marks to the trade lists (in place).

    The ledger's replay decides them (the optimiser's locks are its constraint, not the
    tax): USD disallowed per lot sold, and the purchases today that are replacement shares.
    """
    # the columns read as lists (iterating an Arrow-backed string column element by
    # element cost ~1 ms a result on the 456-name book)
    wash = checked["wash_by_lot"]
    ids = [str(i) for i in lot_trades.lot_id.tolist()]
    recognised = np.zeros(len(ids), dtype=float)
    for lot_id, (basis, gain, term, start, _) in checked.get("replaced_sold", {}).items():
        # a replacement lot sold today: the ledger's basis, gain and term (the disallowed
        # loss added, the loss shares' holding period tacked on)
        at = np.flatnonzero(np.array(ids) == lot_id)
        # the disallowed loss its basis took today, which its sale recognises today
        recognised[at] = max(float(basis) - float(lot_trades.basis.iloc[at].sum()), 0.0) \
            / max(len(at), 1)
        lot_trades.loc[lot_trades.index[at], ["basis", "gain", "term"]] = basis, gain, term
        if start is not None:
            lot_trades.loc[lot_trades.index[at], "acquired"] = start
    lot_trades["wash_loss_disallowed"] = np.array([wash.get(i, 0.0) for i in ids], dtype=float)
    lot_trades["wash_loss_recognised"] = recognised
    washed, allowed = washed_shares(ids, lot_trades.shares.to_numpy(dtype=float),
                                    lot_trades.gain.to_numpy(dtype=float),
                                    checked["wash_shares_by_lot"])
    lot_trades["wash_shares"] = washed
    lot_trades["loss_allowed_shares"] = allowed
    # of the washed shares, those an IRA's purchase replaces: their loss is lost for good
    # (Rev. Rul. 2008-5), not deferred to a basis
    lost = checked.get("wash_lost_shares_by_lot", {})
    lot_trades["wash_lost_shares"] = np.array([float(lost.get(i, 0.0)) for i in ids],
                                              dtype=float)
    lost_usd = checked.get("wash_lost_by_lot", {})
    lot_trades["wash_loss_lost"] = np.array([float(lost_usd.get(i, 0.0)) for i in ids],
                                            dtype=float)
    repl = checked["wash_replacements"]
    trades["wash_replacement"] = np.array(
        [side == "buy" and t in repl
         for side, t in zip(trades.side.tolist(), trades.ticker.tolist(), strict=True)],
        dtype=bool)


def washed_shares(lot_ids: list[str], shares: np.ndarray, gain: np.ndarray,
                  by_lot: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Of each lot sale, the shares whose loss the wash-sale rule washes, and the rest.

    Only the shares that replacement shares absorb are washed (Reg. §1.1091-1(c)): a
    loss sale of a lot with a purchase within 30 days that goes past the shares bought
    has the loss of the excess allowed. ``by_lot``: the shares the ledger's replay
    matched, per lot id sold (:func:`_ledger_check`). Returns ``(washed, allowed)``:
    ``allowed`` is the loss sale's shares less the washed ones (0 for a gain sale).

    >>> w, a = washed_shares(["L1", "L2", "L3"], np.array([65.0, 10.0, 5.0]),
    ...                      np.array([-650.0, -100.0, 50.0]), {"L1": 40.0})
    >>> w.tolist(), a.tolist()
    ([40.0, 0.0, 0.0], [25.0, 10.0, 0.0])
    """
    washed = np.array([float(by_lot.get(i, 0.0)) for i in lot_ids], dtype=float)
    allowed = np.where(gain < 0, np.maximum(shares - washed, 0.0), 0.0)
    return washed, allowed


def _taxed(lot_trades: pd.DataFrame, checked: dict, model_tax: float, V: float,
           gains: tuple[float, float] | None = None) -> dict:
    """The summary's gains, tax and carryforwards: the ledger's (``checked``) if any.

    ``gains``: the lots' ST and LT gains when the caller summed them (the same sums).
    """
    if gains is None:
        st_gain = float(lot_trades.gain[lot_trades.term == "ST"].sum())
        lt_gain = float(lot_trades.gain[lot_trades.term == "LT"].sum())
    else:
        st_gain, lt_gain = gains
    return {
        "realized_st": checked.get("realized_st", st_gain),
        "realized_lt": checked.get("realized_lt", lt_gain),
        "tax": checked.get("tax", model_tax), "tax_model": model_tax,
        "tax_pct": checked.get("tax", model_tax) / V,
        "disallowed_loss": checked.get("disallowed", 0.0),
        "disallowed_loss_deferred": checked.get("disallowed_deferred", 0.0),
        # loss carryforward into next year that the trade creates (after minus before)
        "carryforward_st": checked.get("carryforward_st", np.nan),
        "carryforward_lt": checked.get("carryforward_lt", np.nan),
        "carryforward_st_before": checked.get("carryforward_st_before", np.nan),
        "carryforward_lt_before": checked.get("carryforward_lt_before", np.nan),
    }


def ledger_checked(result: RebalanceResult, state: AccountState, ledger: Ledger
                   ) -> RebalanceResult:
    """A result solved without a ledger, as a problem with ``ledger`` returns it.

    The trades are replayed through a copy of ``ledger`` (:func:`build_result` with the
    problem's ledger does the same): the tax, gains, carryforwards, wash-sale marks and
    the realised-gain budgets' checks are the ledger's, every other figure and table is
    ``result``'s. A check the ledger's gains break is left in ``checks`` with ``ok``
    false (a problem with the ledger raises then: see :func:`~pma_lab.optimize.checks.
    checked`). The solve does not
    depend on the ledger, so this is the result of the same problem solved with it
    (:func:`pma_lab.plan.simulation.first_trades` returns a plan's simulated first step
    this way instead of solving it again).

    Parameters
    ----------
    result : RebalanceResult
        Of a problem built without a ledger (``summary.ledger_checked`` false).
    state : AccountState
        The account state the problem was built from.
    ledger : Ledger
        The household ledger as it stood before the trades.

    Raises
    ------
    SettingsError
        When ``result`` was already checked against a ledger.
    """
    if result.summary.ledger_checked:
        raise SettingsError("ledger_checked(result, ...): the result was already replayed "
                            "through a ledger; pass a result of a problem without one")
    lot_trades, trades = result.lot_trades.copy(), result.trades.copy()
    checked = _ledger_check(state, ledger, lot_trades, trades)
    _mark_washes(lot_trades, trades, checked)
    s = result.summary
    summary = dataclasses.replace(s, **_taxed(lot_trades, checked, s.tax_model, s.value),
                                  ledger_checked=True)
    # the realised-gain budgets' checks read the ledger's gains (as with the ledger)
    checks = result.checks if "constraint" not in result.checks else \
        GainBudgets.at_gains(result.checks, summary, state)
    dec = _washed_decisions(result, lot_trades)
    if checked.get("replaced_sold"):
        dec = {"decisions": _reworded_reasons(dec.get("decisions", result.decisions),
                                              lot_trades, checked["replaced_sold"])}
    return replaced(result, lot_trades=lot_trades, trades=trades, summary=summary,
                    checks=checks, **dec)


def _washed_decisions(result: RebalanceResult, lot_trades: pd.DataFrame) -> dict:
    """``{"decisions": ...}`` with the ledger's washed shares in the harvests' reasons.

    For :func:`ledger_checked`: the decisions were worded without a ledger (a harvest of a
    lot bought within 30 days read "disallowed" for all its shares); the reason of each
    loss sale the replay washes, or that the optimiser's lock marks, now says how many
    shares' loss is washed and how many allowed (:func:`~pma_lab.optimize.decisions.
    harvest_words`). Empty when no loss sale is washed or locked (the table is not built).
    """
    from pma_lab.optimize.decisions import loss_sale_reason

    if not len(lot_trades):
        return {}
    hit = (lot_trades.gain.to_numpy(dtype=float) < 0) & (
        lot_trades.wash_disallowed.to_numpy(dtype=bool)
        | (lot_trades.wash_shares.to_numpy(dtype=float) > 0))
    if not hit.any():
        return {}
    dec = result.decisions.copy()
    row = {str(i): k for k, i in enumerate(dec.lot_id.tolist())}
    reasons = dec.reason.tolist()
    for r in lot_trades[hit].itertuples():
        k = row.get(str(r.lot_id))
        # a loss sale (action "harvest", whatever its reason): a harvest's words, or a
        # restriction's reason with the same wash-sale words (it read as a harvest)
        if k is not None and str(dec.action.iat[k]).startswith("harvest"):
            reasons[k] = loss_sale_reason(str(reasons[k]), str(r.term),
                                          bool(r.wash_disallowed),
                                          (float(r.shares), float(r.wash_shares)),
                                          float(r.wash_lost_shares))
    dec["reason"] = pd.array(reasons, dtype=dec.reason.dtype)
    return {"decisions": dec}


def _ledger_check(st: AccountState, ledger: Ledger, lot_trades: pd.DataFrame,
                  trades: pd.DataFrame) -> dict:
    """Replay the trades on a fork of the ledger; return its realised figures.

    :meth:`Ledger.check_trades`: the figures of :func:`replay_trades` on a fork, each
    identity group's part replayed once per ledger state (a frontier's points share most).
    """
    day, acc = st.as_of, st.account_id
    # the history as it stood before the trades (a purchase today can wash an earlier
    # sale: its disposition is adjusted after the fact, and that counts against the trades)
    chk = ledger.check_trades(day, acc, _lot_sales(lot_trades), _buys(trades, st.prices))
    carry = (Decimal(repr(st.carryin_st)), Decimal(repr(st.carryin_lt)))
    before = _netted(chk.year_before, day, st.tax, carry)
    both = _netted(chk.year_after, day, st.tax, carry)
    new = chk.realized
    # the wash-sale matches the trades made (wash_sale_matches' rows, in its order)
    m = chk.matches
    wash_by_lot: dict[str, float] = {}
    shares_by_lot: dict[str, float] = {}
    lost_by_lot: dict[str, float] = {}  # an IRA's replacement: lost for good (r[10])
    lost_shares_by_lot: dict[str, float] = {}
    for r in m:
        if r[3] == day and r[0] == acc:  # sold today in this account
            wash_by_lot[str(r[2])] = wash_by_lot.get(str(r[2]), 0.0) + float(r[9])
            shares_by_lot[str(r[2])] = shares_by_lot.get(str(r[2]), 0.0) + float(r[8])
            if r[10]:
                lost_by_lot[str(r[2])] = lost_by_lot.get(str(r[2]), 0.0) + float(r[9])
                lost_shares_by_lot[str(r[2])] = (lost_shares_by_lot.get(str(r[2]), 0.0)
                                                 + float(r[8]))
    replaced_sold = _replaced_sold(ledger, day, acc, lot_trades, trades, st.prices, m)
    # every loss the trades wash: today's sales', and earlier sales' that today's
    # purchases replace (their dispositions are adjusted after the fact)
    disallowed = float(new["adjustment"]) + float(sum((r[9] for r in m if r[3] < day),
                                                      Decimal(0)))
    return {
        "realized_st": float(new["st"]),
        "realized_lt": float(new["lt"]),
        "tax": float(both[0] - before[0]),
        "disallowed": disallowed,
        "disallowed_deferred": _deferred(disallowed, m, lot_trades, replaced_sold),
        "carryforward_st": float(both[1] - before[1]),
        "carryforward_lt": float(both[2] - before[2]),
        "carryforward_st_before": float(before[1]),
        "carryforward_lt_before": float(before[2]),
        "wash_by_lot": wash_by_lot,
        "wash_shares_by_lot": shares_by_lot,
        "wash_lost_by_lot": lost_by_lot,
        "wash_lost_shares_by_lot": lost_shares_by_lot,
        "wash_replacements": {str(r[5]) for r in m if r[7] == day and r[4] == acc},
        "replaced_sold": replaced_sold,
    }


def _deferred(disallowed: float, matches: list[tuple], lot_trades: pd.DataFrame,
              replaced_sold: Mapping[str, tuple]) -> float:
    """Of the loss the trades disallow (``disallowed``), what stays in held lots' basis.

    Not deferred: the loss a retirement account's purchase replaces (lost for good, the
    matches' ``permanent``), and the loss added to the basis of a replacement lot sold
    today (``replaced_sold``: its sale's basis, the ledger's, less the lot's basis before
    today's adjustment, the ``basis`` column as the optimiser priced it), which today's
    sale recognises. Called before :func:`_mark_washes` writes the ledger's basis.
    """
    lost = float(sum((r[9] for r in matches if r[10]), Decimal(0)))
    recognised = 0.0
    if replaced_sold:
        ids = [str(i) for i in lot_trades.lot_id.tolist()]
        basis = lot_trades.basis.to_numpy(dtype=float)
        for lot_id, (ledger_basis, *_) in replaced_sold.items():
            own = float(basis[[i == lot_id for i in ids]].sum())
            recognised += max(float(ledger_basis) - own, 0.0)
    return max(disallowed - lost - recognised, 0.0)


def _replaced_sold(ledger: Ledger, day: dt.date, acc: str, lot_trades: pd.DataFrame,
                   trades: pd.DataFrame, prices: Mapping[str, float], matches: list[tuple]
                   ) -> dict[str, tuple[float, float, str, dt.date | None, str]]:
    """The ledger's figures of the lots sold today that today's wash sales adjusted.

    A replacement lot sold the same day as the loss it replaces (Reg. §1.1091-1): the
    replay adds the disallowed loss to its basis and tacks the loss shares' holding period
    to it, so its sale's basis, gain and term are not the optimiser's. Rare: only then
    (a match of a sale today in ``acc`` whose replacement lot id is one of today's lots
    sold) are the trades of the lots' identity groups replayed once more on a fork, and
    their dispositions read. Returns ``{lot_id: (basis, gain, term, holding_start,
    parts)}`` with the sums of the lot's dispositions today (gain before the lot's own
    disallowed loss, as the ``gain`` column has it), the term of the larger share count
    when its shares fall in both terms (``parts`` then words each term's shares and gain,
    else ``""``), and the holding start when all of them share one (else ``None``).
    """
    if not matches or not len(lot_trades):
        return {}
    sold = {str(i) for i in lot_trades.lot_id.tolist()}
    hit = {str(r[6]) for r in matches if r[3] == day and r[0] == acc and r[4] == acc
           and str(r[6]) in sold}
    if not hit:
        return {}
    group = ledger.identity.group
    groups = {group(str(t)) for i, t in zip(lot_trades.lot_id.tolist(),
                                            lot_trades.ticker.tolist(), strict=True)
              if str(i) in hit}
    sales = [s for s in _lot_sales(lot_trades) if group(s[0]) in groups]
    buys = [b for b in _buys(trades, prices) if group(b[0]) in groups]
    f = ledger.fork({s[0] for s in sales} | {b[0] for b in buys})
    n = f.position()[0]
    replay_trades_lists(f, acc, day, sales, buys)
    d = f.dispositions().iloc[n:]
    d = d[(d.account == acc) & d.lot_id.astype(str).isin(hit)]
    out: dict[str, tuple[float, float, str, dt.date | None, str]] = {}
    for lot_id, rows in d.groupby(d.lot_id.astype(str), sort=False):
        gain = rows.proceeds - rows.cost_basis
        by_term = rows.groupby("term").shares.sum()
        starts = set(rows.date_acquired.tolist())
        # shares in both terms (more sold than the loss replaced): one row, the words
        # say how the sale splits
        parts = "" if len(by_term) < 2 else "; " + ", ".join(
            f"{fmt_shares(float(q))} shares {'long' if t == 'LT' else 'short'}-term "
            f"({fmt_usd(float(gain[rows.term == t].sum()))})" for t, q in by_term.items())
        out[lot_id] = (float(rows.cost_basis.sum()), float(gain.sum()),
                       str(by_term.idxmax()), starts.pop() if len(starts) == 1 else None,
                       parts)
    return out


def replay_trades_lists(led: Ledger, account: str, day: dt.date,
                        sales: list[tuple[str, str, Decimal | None, Decimal]],
                        buys: list[tuple[str, Decimal, Decimal]]) -> None:
    """:func:`replay_trades` of lot sales and buys as :func:`_lot_sales`, :func:`_buys` list them.

    ``led`` is changed in place (a fork, for a check) and settled.
    """
    led.sell_lots(day, account, sales)
    for ticker, q, price in buys:
        led.buy(day, account, ticker, q, price)
    led.settle()


def _netted(totals: tuple[Decimal, Decimal, Decimal, Decimal], day: dt.date, tax: TaxProfile,
            carry: tuple[Decimal, Decimal]) -> tuple[object, object, object]:
    """The tax and the ST and LT carryout of ``day``'s year with the year's ``totals``.

    :func:`yearly_netting` of :func:`_year_rows`, kept (a frontier's points share the
    year before their trades) unless the profile cannot be hashed.
    """
    try:
        return _netted_kept(totals, day, tax, carry)
    except TypeError:  # an unhashable profile: netted each time
        return _netting(totals, day, tax, carry)


def _netting(totals: tuple[Decimal, Decimal, Decimal, Decimal], day: dt.date,
             tax: TaxProfile, carry: tuple[Decimal, Decimal]) -> tuple[object, object, object]:
    net = yearly_netting(_year_rows(totals, day), tax, *carry, years=[day.year])
    return net.tax.iloc[0], net.carryout_st.iloc[0], net.carryout_lt.iloc[0]


NETTED_KEPT: Final = 256
"""Years' nettings kept by their totals, day, profile and carry (a frontier's 25 points
share a few; a plan comparison's steps one a year each)."""
_netted_kept = functools.lru_cache(maxsize=NETTED_KEPT)(_netting)


def _year_rows(totals: tuple[Decimal, Decimal, Decimal, Decimal], day: dt.date
               ) -> pd.DataFrame:
    """A year's dispositions as :func:`yearly_netting` nets them, from their totals.

    One row per term and sign (gains, losses) holding their exact sum
    (:meth:`Ledger.year_totals`' ``totals``): the same Schedule D sums as the year's every
    row.
    """
    sg, sl, lg, ll = totals
    rows = [(g, t) for g, t in ((sg, "ST"), (sl, "ST"), (lg, "LT"), (ll, "LT")) if g != 0]
    return pd.DataFrame({"date_sold": [day] * len(rows), "gain_loss": [g for g, _ in rows],
                         "term": [t for _, t in rows]})


def _snap(shares: np.ndarray | float) -> np.ndarray:
    """Share counts within 1e-6 of a whole number are that number (float round-off)."""
    q = np.asarray(shares, dtype=float)
    r = np.round(q)
    return np.where(np.abs(q - r) < 1e-6, r, q)
