"""One account's state as the rebalance reads it: lots, locks, prices, year-to-date gains.

:func:`account_state` collects, from the household ledger at a date, what
:class:`~pma_lab.optimize.rebalance.RebalanceProblem` consumes: the account's lots (with
term, gain and days to long-term), the risk model's stocks plus any held fund seen through
its look-through composition, the restrictions, the wash-sale locks of the whole household
and this tax year's realised gains. Both are re-exported by
:mod:`pma_lab.optimize.rebalance` and ``pma_lab``.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from pma_lab.errors import DataError
from pma_lab.portfolio.risk import RiskModel
from pma_lab.tax.ledger import Ledger, Lot
from pma_lab.tax.liability import TaxProfile

__all__ = ["AccountState", "LotColumns", "account_state", "go_to_target_shares",
           "go_to_target_state", "least_gain_order", "lookthrough_matrix", "lot_columns"]


@dataclass(frozen=True)
class AccountState:
    """What the optimizer reads about one account at a date (see :func:`account_state`)."""

    account_id: str
    as_of: dt.date
    value: float  # V: lots + cash + contribution (USD)
    cash: float  # cash before the flow (USD)
    contribution: float  # USD added (negative: withdrawn)
    assets: tuple[str, ...]  # model stocks, then held look-through funds
    n_model: int
    lots: pd.DataFrame  # one row per lot
    lookthrough: np.ndarray  # (n_model, n_assets)
    prices: pd.Series  # by asset
    sectors: pd.Series  # by model ticker
    no_buy: frozenset[str]
    must_sell: frozenset[str]
    hold_no_add: frozenset[str]
    wash_no_buy: Mapping[str, dt.date]  # ticker -> locked through (inclusive)
    wash_no_loss_sale: Mapping[str, dt.date]
    ytd_st: float  # net realised ST gain this tax year before the trade (USD)
    ytd_lt: float
    tax: TaxProfile
    sector_limits: Mapping[str, float] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)  # ticker -> wash-sale group
    no_sell: frozenset[str] = frozenset()  # lots kept as they are (e.g. build around)
    carryin_st: float = 0.0  # capital loss carried into the tax year (USD, positive)
    carryin_lt: float = 0.0
    max_weight: Mapping[str, float] = field(default_factory=dict)  # glide caps (of V)

    def __getattr__(self, name: str) -> object:
        """``lots`` of a state :func:`account_state` made: its table, built when first read.

        A transition's step reads its lots as arrays (:func:`lot_columns`); most steps
        (a skipped maintenance step, a solve and its result) never read the table, whose
        build was two thirds of building a state (~0.7 CPU-ms). Once built it is the
        field's value, as a table passed in is; ``replace``, equality and ``repr`` read
        it as any field.
        """
        if name == "lots":
            table = self.__dict__.get("_lot_table")
            if table is not None:
                frame = table()
                object.__setattr__(self, "lots", frame)
                return frame
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


@dataclass(frozen=True)
class LotColumns:
    """An account state's lot columns as arrays, read once (the state does not change).

    A re-solve reads them to build its result, the per-lot decisions and the checks;
    reading ``state.lots`` column by column each time (string columns converted to lists)
    was about a tenth of a re-solve's work outside the solver.

    Attributes
    ----------
    lot_id, ticker, term : np.ndarray
        Per lot (object arrays of str).
    long_term_on : list
        Per lot, the date it turns long-term (None when already long-term or inherited).
    shares, price, basis, gain : np.ndarray
        Per lot (float).
    acquired, holding_start : np.ndarray
        Per lot, its purchase date and the start of its holding period (object arrays, as
        the lots table's columns).
    recorded_basis, recorded_acquired : np.ndarray
        Per lot, its basis (float) and purchase date as the lots file records them, what
        the custodian identifies it by: ``basis`` and ``acquired`` but for a gift lot a
        sale today reports under the FMV at the gift (or with neither gain nor loss),
        whose record is the donor's basis and acquisition date.
    value, days_to_lt : np.ndarray
        Per lot, the table's value (float) and days to long-term (int).
    row : Mapping[str, int]
        A lot id's row.
    held : pd.Series
        Shares held per ticker (the lots table's ``groupby("ticker").shares.sum()``),
        computed on first use: a step whose solve is skipped never reads it.
    must_sell, glide : np.ndarray
        Per lot: its name must be sold (``state.must_sell``), or is sold along a glide
        (``state.max_weight``).
    turns_long_text : list[str]
        Per lot, "turns long-term on DATE" (the decision's reason for a deferral).
    table : _LotTable
        The state's lots table (:attr:`AccountState.lots`), which ``held`` sums; a state
        :func:`account_state` made builds it when first read.
    """

    lot_id: np.ndarray
    ticker: np.ndarray
    term: np.ndarray
    long_term_on: list
    shares: np.ndarray
    price: np.ndarray
    basis: np.ndarray
    gain: np.ndarray
    acquired: np.ndarray
    holding_start: np.ndarray
    value: np.ndarray
    days_to_lt: np.ndarray
    recorded_basis: np.ndarray
    recorded_acquired: np.ndarray
    row: Mapping[str, int]
    must_sell: np.ndarray
    glide: np.ndarray
    turns_long_text: list[str]
    # the state's lots table, which ``held`` sums (built when first read: _LotTable)
    table: _LotTable = field(repr=False, compare=False)

    @functools.cached_property
    def held(self) -> pd.Series:
        """Shares held per ticker (see the class docs)."""
        return self.table().groupby("ticker").shares.sum()


class _LotTable:
    """An account state's lots table (:attr:`AccountState.lots`), built on first call.

    Holds the lots, their prices and the date :func:`_lot_frame` builds it from (dropped
    once built), or a table given.
    """

    __slots__ = ("_args", "_frame", "from_lots")

    def __init__(self, lots: Sequence[Lot] | None = None,
                 px_of: Mapping[str, float] | None = None, as_of: dt.date | None = None,
                 frame: pd.DataFrame | None = None) -> None:
        self._args = (lots, px_of, as_of) if frame is None else None
        self._frame = frame
        # made from the lots: the table is built of the state's LotColumns (_same_lots)
        self.from_lots = frame is None

    def __call__(self) -> pd.DataFrame:
        frame = self._frame
        if frame is None:
            frame = self._frame = _lot_frame(*self._args)[0]
            self._args = None
        return frame


def lot_columns(state: AccountState) -> LotColumns:
    """The state's :class:`LotColumns`, computed on first use and kept with the state.

    From its lots table when :func:`account_state` did not keep them (a state made by
    hand or by ``replace``). A table without the ``value``, ``days_to_lt``, ``acquired``
    or ``holding_start`` column (made by hand) reads them as ``account_state`` makes
    them: shares x price, the days to ``long_term_on`` (0 once long-term), unknown
    (None); without ``recorded_basis`` or ``recorded_acquired``, the lots' ``basis`` and
    ``acquired``.
    """
    cols = state.__dict__.get("_lot_columns")
    if cols is None:
        lots = state.lots
        object.__setattr__(state, "_lot_table", _LotTable(frame=lots))
        shares = lots.shares.to_numpy(dtype=float)
        price = lots.price.to_numpy(dtype=float)
        term, ltos = lots.term.tolist(), lots.long_term_on.tolist()
        basis = lots.basis.to_numpy(dtype=float)
        acquired = lots.acquired.tolist() if "acquired" in lots else [None] * len(lots)
        cols = _keep_columns(
            state, lots.lot_id.tolist(), lots.ticker.tolist(), term, ltos, shares, price,
            basis, lots.gain.to_numpy(dtype=float), acquired,
            lots.holding_start.tolist() if "holding_start" in lots else [None] * len(lots),
            lots.value.to_numpy(dtype=float) if "value" in lots else shares * price,
            lots.days_to_lt.to_numpy() if "days_to_lt" in lots else
            _days_to_lt(term, ltos, state.as_of),
            lots.recorded_basis.to_numpy(dtype=float) if "recorded_basis" in lots else
            basis.copy(),
            lots.recorded_acquired.tolist() if "recorded_acquired" in lots else acquired)
    return cols


def least_gain_order(gain_per_dollar: np.ndarray, short_term: np.ndarray,
                     sellable: np.ndarray) -> list[int]:
    """The sellable lots in the order of least gain per dollar: every least-gain sale's.

    Lots at a loss first, then the least gain per dollar (the highest basis), long-term
    before short-term at the same gain per dollar, then the lots' order (a stable sort).
    The withdrawal's sales (:func:`pma_lab.plan.withdrawal.least_gains`) and the
    whole-share refund of the rounding (:func:`pma_lab.optimize.rounding.fund_cash`) both
    sell in this order.

    Parameters
    ----------
    gain_per_dollar : np.ndarray
        Per lot, the gain realised per dollar sold (negative: a loss).
    short_term : np.ndarray
        Per lot, whether it is held short-term (bool).
    sellable : np.ndarray
        Per lot, whether it may be sold (bool); the others are left out.

    Returns
    -------
    list[int]
        Lot positions, first sold first.
    """
    return [int(j) for j in np.lexsort((short_term, gain_per_dollar)) if sellable[j]]


def asset_index(state: AccountState) -> pd.Index:
    """``pd.Index(state.assets)``, kept with the state.

    The alignment's index when :func:`account_state` made the state (the same assets,
    shared by the states of one risk model and target), else made on first use. A
    result's weights are a Series over the state's assets, and indexing ~500 tickers
    again for each (strings into an Arrow array) cost ~0.4 ms a result.
    """
    got = state.__dict__.get("_asset_index")
    if got is None:
        got = pd.Index(list(state.assets))
        object.__setattr__(state, "_asset_index", got)
    return got


def _keep_columns(state: AccountState, lot_id: list[str], ticker: list[str], term: list[str],
                  ltos: list, shares: np.ndarray, price: np.ndarray, basis: np.ndarray,
                  gain: np.ndarray, acquired: list, holding_start: list, value: np.ndarray,
                  days_to_lt: np.ndarray, recorded_basis: np.ndarray,
                  recorded_acquired: list) -> LotColumns:
    """The state's :class:`LotColumns` from its lots' columns, kept with the state.

    :func:`account_state` gives the columns it built the lots table from (reading them
    back from the table, string columns converted to lists, cost as much again).
    """
    tick = np.asarray(ticker, dtype=object)
    lid = np.asarray(lot_id, dtype=object)
    for a in (shares, price, basis, gain, value, days_to_lt, recorded_basis):
        a.flags.writeable = False  # read by every result of the state, never written
    cols = LotColumns(
        lot_id=lid, ticker=tick, term=np.asarray(term, dtype=object), long_term_on=ltos,
        shares=shares, price=price, basis=basis, gain=gain,
        acquired=np.asarray(acquired, dtype=object),
        holding_start=np.asarray(holding_start, dtype=object), value=value,
        days_to_lt=days_to_lt, recorded_basis=recorded_basis,
        recorded_acquired=np.asarray(recorded_acquired, dtype=object),
        row={x: j for j, x in enumerate(lot_id)},
        must_sell=np.array([t in state.must_sell for t in tick], dtype=bool),
        glide=np.array([t in state.max_weight for t in tick], dtype=bool),
        turns_long_text=[_turns_long_text(d) for d in ltos],
        table=state.__dict__["_lot_table"])
    # a cache beside the frozen fields (not a field: equality and replace ignore it)
    object.__setattr__(state, "_lot_columns", cols)
    return cols


@functools.lru_cache(maxsize=4096)
def _turns_long_text(day: dt.date | None) -> str:
    """``f"turns long-term on {day}"``, once per date (a lot keeps it across a plan's steps)."""
    return f"turns long-term on {day}"


@dataclass(frozen=True)
class _Aligned:
    """The target and the sectors aligned to a risk model's tickers (see :func:`_aligned`)."""

    target_of: pd.Series  # the target and sectors these were aligned from (kept alive,
    sectors_of: pd.Series  # so that an identity check cannot match a reused id)
    funds: tuple[str, ...]
    assets: pd.Index  # the model's tickers, then the funds held
    target: np.ndarray  # target weights in model order (NaN: not in the target)
    sectors: pd.Series  # GICS sector by model ticker
    contents: tuple  # what target_of and sectors_of held when aligned (:func:`_contents`)
    # the benchmark weights the funds are looked through to (None: no fund held) and a
    # copy of what they held when aligned
    benchmark_of: pd.Series | None = None
    benchmark_contents: pd.Series | None = None
    # each fund's look-through column under this benchmark and these sectors, by the fund
    # table's row for it (:func:`_fund_column`)
    columns: dict = field(default_factory=dict, compare=False, repr=False)
    # the look-through matrices built from those columns (:func:`_look_matrix`)
    matrices: dict = field(default_factory=dict, compare=False, repr=False)
    # the positions of ``assets`` in a prices index (:func:`_prices_of`), by the index
    positions: dict = field(default_factory=dict, compare=False, repr=False)
    # the model names the target holds (weight > 0), and each asset's wash-sale identity
    # group by identity table (:func:`_groups`), kept for the next state
    in_target: frozenset = field(default=frozenset(), compare=False, repr=False)
    groups: dict = field(default_factory=dict, compare=False, repr=False)


def _groups(aligned: _Aligned, assets: Sequence[str], identity: object) -> dict[str, str]:
    """Each asset's identity group under ``identity`` (a frozen table), a new dict.

    Kept with ``aligned`` by table and assets (a transition's states share both): the
    same mapping as ``{t: identity.group(t) for t in assets}``.
    """
    key = (id(identity), tuple(assets))
    got = aligned.groups.get(key)
    if got is None or got[0] is not identity:
        got = (identity, {t: identity.group(t) for t in assets})
        aligned.groups[key] = got
    return dict(got[1])


def _contents(target: pd.Series, sectors: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Copies of a target and sectors, to see a later change made in place."""
    return target.copy(), sectors.copy()


def _unchanged(got: _Aligned, target: pd.Series, sectors: pd.Series,
               benchmark: pd.Series | None = None) -> bool:
    """Whether ``target``, ``sectors`` and ``benchmark`` still hold what they held for ``got``.

    The same objects may have been changed in place (``target[t] = 0``): the alignment
    kept with the risk model would then be stale (review 14).
    """
    t, s = got.contents
    if not (target.equals(t) and sectors.equals(s)):
        return False
    if benchmark is None:
        return got.benchmark_of is None
    return got.benchmark_contents is not None and benchmark.equals(got.benchmark_contents)


def _aligned(risk: RiskModel, target: pd.Series, sectors: pd.Series,
             funds: tuple[str, ...], benchmark: pd.Series | None = None) -> _Aligned:
    """``target`` and ``sectors`` aligned to ``risk``'s tickers, and the state's assets.

    Kept with the risk model (beside its frozen fields, as :func:`lot_columns` keeps its
    columns with the state) for the next state built on the same model, target, sectors,
    benchmark and funds held: a transition's steps share them, and aligning them again
    (two pandas reindexes and an index of ~500 tickers) was a third of building a state.
    """
    got = risk.__dict__.get("_state_aligned")
    if (got is not None and got.target_of is target and got.sectors_of is sectors
            and got.benchmark_of is benchmark and got.funds == funds
            and _unchanged(got, target, sectors, benchmark)):
        return got
    model = list(risk.tickers)
    tw = target.reindex(model).to_numpy(dtype=float)
    tw.flags.writeable = False
    got = _Aligned(target, sectors, funds, pd.Index(model + list(funds)), tw,
                   sectors.reindex(model), _contents(target, sectors), benchmark,
                   None if benchmark is None else benchmark.copy(),
                   in_target=frozenset(t for t, w in zip(model, tw, strict=True) if w > 0))
    object.__setattr__(risk, "_state_aligned", got)
    return got


def _fund_column(aligned: _Aligned, asset: str, model: list[str], benchmark: pd.Series,
                 etf_info: pd.DataFrame, sectors: pd.Series) -> np.ndarray:
    """:func:`_lookthrough`'s column for ``asset``, kept with ``aligned`` for the next state.

    It depends on the benchmark and the sectors (those ``aligned`` was made from, checked
    by :func:`_aligned`), the model's tickers (``aligned``'s) and the fund table's category
    and tracked sector of ``asset`` (the key): a transition's steps holding a fund built
    it again at every step (set_index of the fund table, two reindexes: 0.86 CPU-ms a
    state against 0.05 for this lookup, ~0.1 CPU-s of young-pro's 120 states). A fund not
    in the table once, or more than once, is left to :func:`_lookthrough` (its error, as
    before).
    """
    # the row by numpy (a boolean .loc of the table cost as much as the column itself)
    at = np.flatnonzero(etf_info["ticker"].to_numpy() == asset)
    if len(at) != 1:
        return _lookthrough(asset, model, benchmark, etf_info, sectors)
    cat, sec = etf_info["category"].iat[at[0]], etf_info["gics_sector"].iat[at[0]]
    key = (asset, cat, sec if pd.notna(sec) else None)
    col = aligned.columns.get(key)
    if col is None:
        col = _lookthrough(asset, model, benchmark, etf_info, sectors)
        col.flags.writeable = False
        aligned.columns[key] = col
    return col


class _LookMatrix:
    """An account state's look-through matrix, dense and (built on first use) sparse.

    Shared by the states of one alignment holding the same funds (:func:`_look_matrix`);
    the dense array is read-only.
    """

    __slots__ = ("dense", "_csr")

    def __init__(self, dense: np.ndarray) -> None:
        self.dense = dense
        self._csr: sp.csr_matrix | None = None

    def csr(self) -> sp.csr_matrix:
        """``sp.csr_matrix(self.dense)``, built once (the same matrix, to the bit)."""
        got = self._csr
        if got is None:
            got = self._csr = sp.csr_matrix(self.dense)
        return got


def _look_matrix(aligned: _Aligned, columns: list[np.ndarray], n_model: int) -> _LookMatrix:
    """The look-through matrix: the model's identity, then each fund's column.

    Kept with ``aligned`` by the columns (each kept there too, :func:`_fund_column`): a
    transition's states holding the same funds share one read-only matrix and its sparse
    form, which the step's problem (``M``) and its TE before the trade read. Building the
    dense ``n x n`` matrix and its sparse form anew at every state cost ~2-4 CPU-ms a
    state on a 500-name model.
    """
    key = tuple(id(c) for c in columns)
    got = aligned.matrices.get(key)
    if got is not None and all(a is b for a, b in zip(got[0], columns, strict=True)):
        return got[1]
    look = np.zeros((n_model, n_model + len(columns)))
    look[np.arange(n_model), np.arange(n_model)] = 1.0
    for k, col in enumerate(columns):
        look[:, n_model + k] = col
    look.flags.writeable = False
    got = (tuple(columns), _LookMatrix(look))
    if not any(c.flags.writeable for c in columns):  # each column kept with ``aligned``
        aligned.matrices[key] = got
    return got[1]


def _prices_of(aligned: _Aligned, prices: pd.Series) -> pd.Series:
    """``prices.reindex(aligned.assets).astype(float)``, by positions kept per index.

    A transition's steps take their prices from one table (each step's row has the same
    index object), so the assets' positions in it are looked up once (kept with
    ``aligned``, holding the index: pandas indexes are immutable); the same values (NaN
    for an asset without a price), index and name. An index with repeated labels goes
    through pandas, which refuses it as before (and so do an empty or non-numeric one).
    """
    index = prices.index
    if not len(index) or not isinstance(prices.dtype, np.dtype) or \
            prices.dtype.kind not in "fiu" or not index.is_unique:
        return prices.reindex(aligned.assets).astype(float)
    got = aligned.positions.get(id(index))
    if got is None or got[0] is not index:
        pos = index.get_indexer(aligned.assets)
        got = (index, pos, bool((pos < 0).any()))
        if len(aligned.positions) >= 8:
            aligned.positions.clear()
        aligned.positions[id(index)] = got
    _, pos, missing = got
    values = prices.to_numpy()
    out = values[pos].astype(float)  # a new array (fancy indexing copies)
    if missing:
        out[pos < 0] = np.nan
    return pd.Series(out, index=aligned.assets, name=prices.name, copy=False)


def lookthrough_matrix(state: AccountState) -> sp.csr_matrix:
    """``sp.csr_matrix(state.lookthrough)``, kept with the state (shared with its alignment).

    A state :func:`account_state` made shares it with the states of the same alignment and
    funds; any other state (made by hand, or by :func:`dataclasses.replace`) gets its own,
    made on first use. A look-through changed in place (a writeable array) is read again.
    """
    look = state.lookthrough
    if look.flags.writeable:
        return sp.csr_matrix(look)
    got = state.__dict__.get("_look")
    if got is None or got.dense is not look:
        got = _LookMatrix(look)
        object.__setattr__(state, "_look", got)
    return got.csr()


def _lookthrough(asset: str, model: list[str], benchmark: pd.Series | None,
                 etf_info: pd.DataFrame, sectors: pd.Series) -> np.ndarray:
    """What fund ``asset`` holds, over the model's tickers (sums to one).

    An S&P 500 tracker holds the benchmark (``benchmark``: the S&P 500's weights, every
    name of it, those the client's screens exclude or the target leaves out included); a
    sector fund holds the benchmark's names of its GICS sector, in the benchmark's
    proportions (:func:`pma_lab.plan.scenarios.fund_composition`, used by the report and
    the simulations, is the same composition). The benchmark is the setup's
    (:attr:`~pma_lab.optimize.engine.ClientSetup.benchmark`): the packaged S&P 500 proxy is
    restricted to the names the risk model covers and rescaled, the names left out listed
    in its ``missing`` table. Every benchmark name must be one of ``model``'s (a risk
    model restricted to the target and the holdings drops them: see
    :func:`~pma_lab.optimize.engine.managed_risk`).

    Raises
    ------
    DataError
        For a fund pma_lab does not model, a missing benchmark, or benchmark names the risk
        model lacks.
    """
    info = etf_info.set_index("ticker")
    if asset not in info.index:
        raise DataError(f"{asset} is held but is neither a stock of the risk model nor a "
                        "packaged fund; it cannot be managed here")
    cat = info.at[asset, "category"]
    if cat not in ("sp500_tracker", "sector_spdr", "vanguard_sector"):
        raise DataError(
            f"{asset} ({cat}) cannot be modelled by the equity risk model; pma_lab models "
            "S&P 500 stocks, S&P 500 trackers and sector funds. Sell or transfer it outside "
            "the managed account, or remove the lot")
    if benchmark is None:
        raise DataError(f"{asset} is a fund held: pass the benchmark's weights "
                        "(benchmark=setup.benchmark.weights) to look through it; a tracker "
                        "holds the S&P 500, not the client's target")
    mset = set(model)
    lacking = [t for t in benchmark.index[benchmark > 0] if t not in mset]
    if lacking:
        raise DataError(f"{asset} holds the benchmark, and the risk model lacks "
                        f"{len(lacking)} of its names ({', '.join(map(str, lacking[:10]))}); "
                        "pass a risk model covering every benchmark name (managed_risk "
                        "keeps them when a fund is held)")
    comp = benchmark.reindex(model).fillna(0.0)
    if cat != "sp500_tracker" and pd.notna(info.at[asset, "gics_sector"]):
        comp = comp.where(sectors.reindex(model) == info.at[asset, "gics_sector"], 0.0)
    return (comp / comp.sum()).to_numpy()


_UNBUILT = pd.DataFrame()
"""The placeholder :func:`account_state` makes a state with before its lots table is
made lazy (:class:`_LotTable`); never a state's ``lots``."""

_LOT_COLUMNS = ["lot_id", "ticker", "shares", "basis", "price", "value", "gain", "term",
                "acquired", "holding_start", "long_term_on", "days_to_lt", "recorded_basis",
                "recorded_acquired"]
"""The columns of :attr:`AccountState.lots`, in order (:class:`LotColumns` says what the
``recorded_`` ones are: the lot as the lots file records it)."""


def _lot_frame(lots: Sequence[Lot], px_of: Mapping[str, float], as_of: dt.date
               ) -> tuple[pd.DataFrame, float, tuple | None]:
    """The lots as :attr:`AccountState.lots` holds them, their value (USD) and columns.

    The columns are the arguments of :func:`_keep_columns` after the state (None when
    there is no lot).

    One row per lot, in the order given: shares, basis, price, value (shares x price), gain
    (value - basis) as float; term ``"LT"``/``"ST"`` on ``as_of``; the days to long-term
    (0 once long-term). Built from one array per column (a frame of per-lot rows, then
    cast, cost ~5 ms a transition step); typed even when empty (an account holding only
    cash).
    """
    if not lots:
        empty = pd.DataFrame([], columns=_LOT_COLUMNS).astype(
            {"shares": float, "basis": float, "price": float, "value": float,
             "gain": float, "days_to_lt": int, "recorded_basis": float})
        return empty, float(empty.value.sum()), None
    lot_value, columns = _lot_arrays(lots, px_of, as_of)
    (lot_id, ticker, term, ltos, shares, price, basis, gain, acquired, holding_start, value,
     days, recorded_basis, recorded_acquired) = columns
    frame = pd.DataFrame({
        "lot_id": lot_id, "ticker": ticker,
        "shares": shares, "basis": basis, "price": price, "value": value,
        "gain": gain, "term": term, "acquired": acquired,
        "holding_start": holding_start, "long_term_on": ltos,
        "days_to_lt": days, "recorded_basis": recorded_basis,
        "recorded_acquired": recorded_acquired}, columns=_LOT_COLUMNS)
    return frame, lot_value, columns


def _lot_arrays(lots: Sequence[Lot], px_of: Mapping[str, float], as_of: dt.date
                ) -> tuple[float, tuple]:
    """The lots' value (USD) and the columns :func:`_lot_frame`'s table is made of.

    ``lots`` is not empty. The columns are the arguments of :func:`_keep_columns` after
    the state: lot ids, tickers, terms on ``as_of`` and the dates each turns long-term
    (lists), shares, prices, bases and gains (value - basis; value = shares x price; a
    gift lot's basis is the one a sale today reports under the dual basis: the FMV at the
    gift below it, held from the gift, or the value between the two bases) as
    float arrays, the purchase dates and holding starts (lists), the values and the days
    to long-term (0 once long-term; int64), then the bases (float) and purchase dates
    (list) the lots file records (a gift lot's: the donor's, whatever a sale reports).
    """
    ltos = [lt.long_term_on() for lt in lots]
    shares = np.array([float(lt.shares) for lt in lots], dtype=float)
    basis = np.array([float(lt.basis) for lt in lots], dtype=float)
    price = np.array([px_of[lt.ticker] for lt in lots], dtype=float)
    value = shares * price
    acquired = [lt.acquired for lt in lots]
    recorded_basis, recorded_acquired = basis.copy(), list(acquired)
    for i, lt in enumerate(lots):
        if lt.loss_basis is not None:
            basis[i], ltos[i], start = lt.sale_basis(float(value[i]))
            if start != lt.holding_start:  # a loss from the FMV, held from the gift
                acquired[i] = start
    gain = value - basis
    term = ["LT" if lto is None or as_of >= lto else "ST" for lto in ltos]
    lot_id, ticker = [lt.lot_id for lt in lots], [lt.ticker for lt in lots]
    days = _days_to_lt(term, ltos, as_of)
    return float(value.sum()), (lot_id, ticker, term, ltos, shares, price, basis, gain,
                                acquired,
                                [lt.holding_start for lt in lots], value, days,
                                recorded_basis, recorded_acquired)


def _days_to_lt(term: list[str], ltos: list, as_of: dt.date) -> np.ndarray:
    """Each lot's days to long-term on ``as_of`` (0 once long-term), int64."""
    return np.array([0 if t == "LT" else (lto - as_of).days
                     for t, lto in zip(term, ltos, strict=True)], dtype=np.int64)


def account_state(ledger: Ledger, account_id: str, as_of: dt.date, prices: pd.Series,
                  risk: RiskModel, target: pd.Series, tax: TaxProfile, cash: float = 0.0,
                  contribution: float = 0.0, sectors: pd.Series | None = None,
                  etf_info: pd.DataFrame | None = None, no_buy: Sequence[str] = (),
                  must_sell: Sequence[str] = (), hold_no_add: Sequence[str] = (),
                  sector_limits: Mapping[str, float] | None = None,
                  no_sell: Sequence[str] = (), exclude: Sequence[str] = (),
                  carryin: tuple[float, float] = (0.0, 0.0),
                  max_shares: Mapping[str, float] | None = None,
                  lots: Sequence[Lot] | None = None,
                  benchmark: pd.Series | None = None) -> AccountState:
    """Collect one account's lots, locks, prices and year-to-date gains for the optimizer.

    Parameters
    ----------
    ledger : Ledger
        The household ledger: its lock table covers every account of the household (IRA
        purchases included), its history gives this year's realised gains.
    account_id : str
        The taxable account to rebalance.
    as_of : datetime.date
    prices : pd.Series
        Prices at ``as_of`` for every held asset and every target name.
    risk : RiskModel
    target : pd.Series
        Target weights over model tickers.
    tax : TaxProfile
    cash, contribution : float
        Cash in the account and cash added now (negative: withdrawn), USD.
    sectors, etf_info
        GICS sector per ticker and the fund table (default: the packaged data).
    no_buy, must_sell, hold_no_add
        Restrictions (tickers).
    sector_limits : Mapping[str, float] | None
        Maximum look-through weight per GICS sector after the trade.
    no_sell : Sequence[str]
        Names whose lots must not be sold (e.g. a concentrated position built around).
    exclude : Sequence[str]
        Names carved out of the managed account (held aside, e.g. a concentrated
        position the client keeps): their lots are not part of the state.
    carryin : tuple[float, float]
        Capital loss carried into the tax year (ST, LT), for the ledger-checked tax and the
        carryforward the trade creates.
    max_shares : Mapping[str, float] | None
        Most shares of a name that may remain after the trade (a restriction's glide:
        ``sell_within``); enforced as a maximum weight, sold whatever the tax.
    lots : Sequence[Lot] | None
        The account's open lots as ``ledger.lots(account=account_id)`` gives them now, when
        the caller has read them already (a transition's step); default: read here.
    benchmark : pd.Series | None
        The benchmark's weights by ticker (the S&P 500's: ``setup.benchmark.weights``),
        needed when a fund is held: an S&P 500 tracker holds the benchmark and a sector
        fund the benchmark's names of its sector (:func:`_lookthrough`), whatever the
        client's target and screens. Every benchmark name must be a ``risk`` ticker.

    Raises
    ------
    DataError
        Missing prices, unmanageable holdings, or an empty account.
    """
    if etf_info is None or sectors is None:
        from pma_lab.market.data import load_market

        m = load_market()
        etf_info = m.etf_info() if etf_info is None else etf_info
        if sectors is None:
            uni = m.universe.frame()
            sectors = uni.set_index("ticker").gics_sector if "ticker" in uni else \
                uni.gics_sector
    model = list(risk.tickers)
    carve = set(exclude)
    if lots is None:
        lots = ledger.lots(account=account_id)
    lots = [lt for lt in lots if lt.ticker not in carve]
    held = sorted({lt.ticker for lt in lots})
    mset = set(model)
    funds = [t for t in held if t not in mset]
    assets = model + funds
    aligned = _aligned(risk, target, sectors, tuple(funds), benchmark if funds else None)
    look = _look_matrix(aligned, [_fund_column(aligned, f, model, benchmark, etf_info,
                                               sectors) for f in funds], len(model))
    px = _prices_of(aligned, prices)
    # arrays, not a Series lookup per name (those were ~5 % of a transition step); the
    # target's names kept with the alignment
    need = set(held) | aligned.in_target
    ok = dict(zip(assets, px.to_numpy() > 0, strict=True))
    missing = sorted(t for t in need if not ok.get(t, False))
    if missing:
        raise DataError(f"no price on {as_of} for {', '.join(missing[:10])}; pass prices for "
                        "every held asset and every target name")
    # a dict, not a Series lookup per lot (those were ~15 % of building the state)
    px_of = dict(zip(assets, px.to_numpy(dtype=float).tolist(), strict=True))
    # the lots as arrays; their table (the state's ``lots``) is built when first read
    if lots:
        lot_value, columns = _lot_arrays(lots, px_of, as_of)
        lots_df = _UNBUILT
    else:
        lots_df, lot_value, columns = _lot_frame(lots, px_of, as_of)
    wash_buy: dict[str, dt.date] = {}
    wash_loss: dict[str, dt.date] = {}
    for lock, group, until in ledger.lock_rows(as_of):
        for t in ledger.identity.members(group):
            (wash_buy if lock == "no_buy" else wash_loss)[t] = until
    ytd_st, ytd_lt = ledger.year_gains(as_of.year)
    value = lot_value + cash + contribution
    if value <= 0:
        flow = f", cash flow ${contribution:,.2f}" if contribution else ""
        raise DataError(f"account {account_id} has no value to rebalance on {as_of} "
                        f"(lots ${lot_value:,.2f}, cash ${cash:,.2f}{flow}); "
                        "give it lots or a positive cash balance (a withdrawal larger "
                        "than the account cannot be raised: withdraw less)")
    st = AccountState(account_id, as_of, value, cash, contribution, tuple(assets),
                      len(model), lots_df, look.dense, px, aligned.sectors.copy(deep=False),
                      frozenset(no_buy), frozenset(must_sell), frozenset(hold_no_add),
                      wash_buy, wash_loss, ytd_st, ytd_lt, tax, dict(sector_limits or {}),
                      _groups(aligned, assets, ledger.identity), frozenset(no_sell),
                      float(carryin[0]), float(carryin[1]),
                      {t: max(float(n), 0.0) * float(px[t]) / value
                       for t, n in (max_shares or {}).items() if t in px.index})
    if columns is not None:
        # the lots table, built from the lots when first read (AccountState.__getattr__)
        object.__delattr__(st, "lots")
        object.__setattr__(st, "_lot_table", _LotTable(lots, px_of, as_of))
        _keep_columns(st, *columns)
    # the assets' index and the look-through's sparse form (caches beside the frozen
    # fields, as the lots' columns)
    object.__setattr__(st, "_asset_index", aligned.assets)
    object.__setattr__(st, "_look", look)
    return st


def go_to_target_state(state: AccountState) -> AccountState:
    """The account as going to the target now sees it: a glide's names must go today.

    The one place that decides what "to the target now" means for a restriction's
    ``sell_within:N`` glide (``state.max_weight``): the glide paces a plan that moves over
    time, and moving now sells the name in full today, as a ``sell`` restriction's name
    (``must_sell``). Both ends of "now" read it: the immediate plan's first step, "Move
    now" (:func:`pma_lab.plan.simulation.first_trades`, :func:`~pma_lab.plan.simulation.
    simulate`), and the efficient frontier's "Go to target" point
    (:func:`pma_lab.optimize.frontier.efficient_frontier`), so the two make the same
    trades. Reviewer 1, session 24: chen's Move now kept 5 of its 300 XOM (fossil fuels
    ``sell_within:2``) as a hedge of the names kept.

    Parameters
    ----------
    state : AccountState

    Returns
    -------
    AccountState
        ``state`` itself when it has no glide cap; else a copy whose glide names are
        must-sell names and which has no glide cap (its caches kept: the lots' columns
        with the must-sell and glide flags made again).

    Examples
    --------
    >>> import datetime as dt
    >>> st = AccountState("A", dt.date(2026, 1, 2), 1.0, 0.0, 0.0, (), 0, pd.DataFrame(),
    ...                   np.zeros((0, 0)), pd.Series(dtype=float), pd.Series(dtype=object),
    ...                   frozenset(), frozenset({"MO"}), frozenset(), {}, {}, 0.0, 0.0,
    ...                   None, max_weight={"XOM": 0.01})
    >>> now = go_to_target_state(st)
    >>> sorted(now.must_sell), now.max_weight, go_to_target_state(now) is now
    (['MO', 'XOM'], {}, True)
    """
    if not state.max_weight:
        return state
    now = copy.copy(state)  # the frozen fields and the caches kept beside them
    object.__setattr__(now, "must_sell", state.must_sell | frozenset(state.max_weight))
    object.__setattr__(now, "max_weight", {})
    cols = state.__dict__.get("_lot_columns")
    if cols is not None:
        object.__setattr__(now, "_lot_columns", replace(
            cols, must_sell=cols.must_sell | cols.glide, glide=np.zeros_like(cols.glide)))
    return now


def go_to_target_shares(sell_share: Mapping[str, float]) -> dict[str, float]:
    """A household's restricted names as going to the target now sees them: all sold today.

    :func:`go_to_target_state`'s rule for the household rebalance, whose accounts are not
    account states: ``sell_share`` (ticker -> the share of each account's holding sold
    now, :class:`pma_lab.optimize.household.HouseholdProblem`: ``1`` for a ``sell``
    restriction, ``1/N`` for a ``sell_within:N`` glide's first year) with every name's
    share ``1``, as a glide's names become must-sell names of one account. The household
    around "Move now"'s first step reads it
    (:attr:`pma_lab.optimize.household.HouseholdSettings.glide_now`), so every account
    sells a glide's names in full today, as the plan's own account does.

    Examples
    --------
    >>> go_to_target_shares({"MO": 1.0, "XOM": 1 / 3})
    {'MO': 1.0, 'XOM': 1.0}
    """
    return {t: 1.0 for t in sell_share}


def _same_value(a: object, b: object) -> bool:
    """Whether two of an account state's fields are the same, to the bit for numbers."""
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return (isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame)
                and list(a.columns) == list(b.columns) and _same_value(a.index, b.index)
                and all(_same_value(a[c], b[c]) for c in a.columns))
    if isinstance(a, pd.Series | pd.Index) or isinstance(b, pd.Series | pd.Index):
        if type(a) is not type(b) or len(a) != len(b):
            return False
        if isinstance(a, pd.Series) and not _same_value(a.index, b.index):
            return False
        return _same_value(a.to_numpy(), b.to_numpy())
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.dtype == b.dtype and a.shape == b.shape):
            return False
        if a.dtype.kind in "biufc":
            return a.tobytes() == b.tobytes()
        return a.tolist() == b.tolist()
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and np.float64(a).tobytes() == np.float64(b).tobytes()
    return type(a) is type(b) and a == b


def _same_state(a: AccountState, b: AccountState, but: tuple[str, ...] = ()) -> bool:
    """Whether two account states are the same in every field (numbers to the bit).

    ``but``: fields left out of the comparison. A field holding the same object in both
    is the same.
    """
    return all(_same_lots(a, b) if f.name == "lots" else
               getattr(a, f.name) is getattr(b, f.name)
               or _same_value(getattr(a, f.name), getattr(b, f.name))
               for f in fields(AccountState) if f.name not in but)


_TABLE_COLUMNS = ("lot_id", "ticker", "term", "shares", "price", "basis", "gain", "acquired",
                  "holding_start", "value", "days_to_lt", "recorded_basis",
                  "recorded_acquired")
"""The :class:`LotColumns` a lots table made from the lots (:class:`_LotTable`) is built
of, with ``long_term_on``: all of its columns."""


def _same_lots(a: AccountState, b: AccountState) -> bool:
    """Whether two states' lots tables are the same (every column, numbers to the bit).

    Two tables :func:`account_state` made from the lots are compared by the columns they
    are built of (:func:`lot_columns`, the same values), without building them (a
    transition's shared step problems compare their states, :class:`pma_lab.plan.
    simulation.StepProblems`); other tables as tables.
    """
    ta, tb = a.__dict__.get("_lot_table"), b.__dict__.get("_lot_table")
    if ta is not None and tb is not None and ta.from_lots and tb.from_lots:
        ca, cb = a.__dict__["_lot_columns"], b.__dict__["_lot_columns"]
        return ca is cb or (ca.long_term_on == cb.long_term_on and all(
            _same_value(getattr(ca, c), getattr(cb, c)) for c in _TABLE_COLUMNS))
    return a.lots is b.lots or _same_value(a.lots, b.lots)
