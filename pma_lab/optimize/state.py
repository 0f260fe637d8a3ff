"""One account's state as the rebalance reads it: lots, locks, prices, year-to-date gains.

:func:`account_state` collects, from the household ledger at a date, what
:class:`~pma_lab.optimize.rebalance.RebalanceProblem` consumes: the account's lots (with
term, gain and days to long-term), the risk model's stocks plus any held fund seen through
its look-through composition, the restrictions, the wash-sale locks of the whole household
and this tax year's realised gains. Both are re-exported by
:mod:`pma_lab.optimize.rebalance` and ``pma_lab``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pma_lab.errors import DataError
from pma_lab.portfolio.risk import RiskModel
from pma_lab.tax.ledger import Ledger
from pma_lab.tax.liability import TaxProfile

__all__ = ["AccountState", "LotColumns", "account_state", "lot_columns"]


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
    row : Mapping[str, int]
        A lot id's row.
    held : pd.Series
        Shares held per ticker.
    must_sell, glide : np.ndarray
        Per lot: its name must be sold (``state.must_sell``), or is sold along a glide
        (``state.max_weight``).
    turns_long_text : list[str]
        Per lot, "turns long-term on DATE" (the decision's reason for a deferral).
    """

    lot_id: np.ndarray
    ticker: np.ndarray
    term: np.ndarray
    long_term_on: list
    shares: np.ndarray
    price: np.ndarray
    basis: np.ndarray
    gain: np.ndarray
    row: Mapping[str, int]
    held: pd.Series
    must_sell: np.ndarray
    glide: np.ndarray
    turns_long_text: list[str]


def lot_columns(state: AccountState) -> LotColumns:
    """The state's :class:`LotColumns`, computed on first use and kept with the state."""
    cols = state.__dict__.get("_lot_columns")
    if cols is None:
        lots = state.lots
        tick = np.asarray(lots.ticker.tolist(), dtype=object)
        lot_id = np.asarray(lots.lot_id.tolist(), dtype=object)
        ltos = lots.long_term_on.tolist()
        cols = LotColumns(
            lot_id=lot_id, ticker=tick,
            term=np.asarray(lots.term.tolist(), dtype=object), long_term_on=ltos,
            shares=lots.shares.to_numpy(dtype=float), price=lots.price.to_numpy(dtype=float),
            basis=lots.basis.to_numpy(dtype=float), gain=lots.gain.to_numpy(dtype=float),
            row={lid: j for j, lid in enumerate(lot_id.tolist())},
            held=lots.groupby("ticker").shares.sum(),
            must_sell=np.array([t in state.must_sell for t in tick], dtype=bool),
            glide=np.array([t in state.max_weight for t in tick], dtype=bool),
            turns_long_text=[f"turns long-term on {d}" for d in ltos])
        # a cache beside the frozen fields (not a field: equality and replace ignore it)
        object.__setattr__(state, "_lot_columns", cols)
    return cols


def _lookthrough(asset: str, model: list[str], target: pd.Series, etf_info: pd.DataFrame,
                 sectors: pd.Series) -> np.ndarray:
    info = etf_info.set_index("ticker")
    if asset not in info.index:
        raise DataError(f"{asset} is held but is neither a stock of the risk model nor a "
                        "packaged fund; it cannot be managed here")
    cat = info.at[asset, "category"]
    comp = target.reindex(model).fillna(0.0)
    if cat in ("sector_spdr", "vanguard_sector") and pd.notna(info.at[asset, "gics_sector"]):
        comp = comp.where(sectors.reindex(model) == info.at[asset, "gics_sector"], 0.0)
    elif cat != "sp500_tracker":
        raise DataError(
            f"{asset} ({cat}) cannot be modelled by the equity risk model; pma_lab models "
            "S&P 500 stocks, S&P 500 trackers and sector funds. Sell or transfer it outside "
            "the managed account, or remove the lot")
    return (comp / comp.sum()).to_numpy()


def account_state(ledger: Ledger, account_id: str, as_of: dt.date, prices: pd.Series,
                  risk: RiskModel, target: pd.Series, tax: TaxProfile, cash: float = 0.0,
                  contribution: float = 0.0, sectors: pd.Series | None = None,
                  etf_info: pd.DataFrame | None = None, no_buy: Sequence[str] = (),
                  must_sell: Sequence[str] = (), hold_no_add: Sequence[str] = (),
                  sector_limits: Mapping[str, float] | None = None,
                  no_sell: Sequence[str] = (), exclude: Sequence[str] = (),
                  carryin: tuple[float, float] = (0.0, 0.0),
                  max_shares: Mapping[str, float] | None = None) -> AccountState:
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
    lots = [lt for lt in ledger.lots(account=account_id) if lt.ticker not in carve]
    held = sorted({lt.ticker for lt in lots})
    mset = set(model)
    funds = [t for t in held if t not in mset]
    assets = model + funds
    look = np.zeros((len(model), len(assets)))
    look[np.arange(len(model)), np.arange(len(model))] = 1.0
    for k, f in enumerate(funds):
        look[:, len(model) + k] = _lookthrough(f, model, target, etf_info, sectors)
    px = prices.reindex(assets).astype(float)
    # arrays, not a Series lookup per name (those were ~5 % of a transition step)
    tw = target.reindex(model).to_numpy(dtype=float)
    need = set(held) | {t for t, w in zip(model, tw, strict=True) if w > 0}
    ok = dict(zip(assets, px.to_numpy() > 0, strict=True))
    missing = sorted(t for t in need if not ok.get(t, False))
    if missing:
        raise DataError(f"no price on {as_of} for {', '.join(missing[:10])}; pass prices for "
                        "every held asset and every target name")
    rows = []
    # a dict, not a Series lookup per lot (those were ~15 % of building the state)
    px_of = dict(zip(assets, px.to_numpy(dtype=float).tolist(), strict=True))
    for lt in lots:
        p = px_of[lt.ticker]
        value = float(lt.shares) * p
        lto = lt.long_term_on()
        term = "LT" if lto is None or as_of >= lto else "ST"
        rows.append({
            "lot_id": lt.lot_id, "ticker": lt.ticker, "shares": float(lt.shares),
            "basis": float(lt.basis), "price": p, "value": value,
            "gain": value - float(lt.basis), "term": term, "acquired": lt.acquired,
            "holding_start": lt.holding_start, "long_term_on": lto,
            "days_to_lt": 0 if term == "LT" else (lto - as_of).days,
        })
    lots_df = pd.DataFrame(rows, columns=[
        "lot_id", "ticker", "shares", "basis", "price", "value", "gain", "term", "acquired",
        "holding_start", "long_term_on", "days_to_lt"]).astype(
        {"shares": float, "basis": float, "price": float, "value": float, "gain": float,
         "days_to_lt": int})  # typed even when empty (an account holding only cash)
    locks = ledger.locks(as_of)
    wash_buy: dict[str, dt.date] = {}
    wash_loss: dict[str, dt.date] = {}
    for r in locks.itertuples():
        for t in ledger.identity.members(r.group):
            (wash_buy if r.lock == "no_buy" else wash_loss)[t] = r.until
    hist = ledger.dispositions()
    if len(hist):
        year = hist.loc[np.array([d.year == as_of.year for d in hist.date_sold], dtype=bool)]
        ytd_st = float(year.gain_loss[year.term == "ST"].sum())
        ytd_lt = float(year.gain_loss[year.term == "LT"].sum())
    else:
        ytd_st = ytd_lt = 0.0
    value = float(lots_df.value.sum()) + cash + contribution
    if value <= 0:
        flow = f", cash flow ${contribution:,.2f}" if contribution else ""
        raise DataError(f"account {account_id} has no value to rebalance on {as_of} "
                        f"(lots ${lots_df.value.sum():,.2f}, cash ${cash:,.2f}{flow}); "
                        "give it lots or a positive cash balance (a withdrawal larger "
                        "than the account cannot be raised: withdraw less)")
    return AccountState(account_id, as_of, value, cash, contribution, tuple(assets),
                        len(model), lots_df, look, px, sectors.reindex(model),
                        frozenset(no_buy), frozenset(must_sell), frozenset(hold_no_add),
                        wash_buy, wash_loss, ytd_st, ytd_lt, tax, dict(sector_limits or {}),
                        {t: ledger.identity.group(t) for t in assets}, frozenset(no_sell),
                        float(carryin[0]), float(carryin[1]),
                        {t: max(float(n), 0.0) * float(px[t]) / value
                         for t, n in (max_shares or {}).items() if t in px.index})
