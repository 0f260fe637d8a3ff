"""Year-round tax-loss-harvesting backtest on point-in-time history.

One path (:func:`run_backtest`) runs three portfolios from the same start over the same
days, all valued at raw prices with splits and dividends as events
(:mod:`pma_lab.market.corpactions`):

* **harvest**: a cap-weighted direct-indexing portfolio of the largest point-in-time
  S&P 500 members that scans for losses at the chosen frequency, sells lots whose loss
  passes the threshold and buys a substitute (same GICS industry, the most correlated over
  the past year, never substantially identical per :class:`pma_lab.market.tickers.IdentityTable`)
  while the estimated tracking error of the open swaps stays under the cap; after the
  31-day window it swaps back;
* **hold**: the same portfolio without harvesting (same membership changes, dividends and
  cash flows): tax alpha is the difference of the two after-tax returns, as in Chaudhuri,
  Burnham and Lo (2020);
* **index fund**: the SPY total return, its dividends (the portfolio's yield) taxed yearly.

Every trade goes through one :class:`pma_lab.tax.ledger.Ledger` per portfolio, so wash sales are
enforced share by share (against substitutes, reinvested dividends and new cash); the
engine checks the ledger's lock table before every buy and every loss sale, and
:func:`wash_sale_violations` replays the recorded trades through a fresh ledger to count
disallowed losses (must be 0).

Tax: capital gains net yearly. With ``outside_gains`` every realised gain or loss is worth
its short- or long-term rate (the literature's assumption); without, losses only offset the
portfolio's own gains plus :data:`pma_lab.tax.rules.CAPITAL_LOSS_LIMIT` of ordinary income a
year, the rest carried forward. Taxes (and refunds) settle in a side account that earns the
index fund's return, so both portfolios are compared like with like. Dividends are taxed at
the qualified rate when paid.

Approximations, stated: index weights are a cap proxy (2018 market cap scaled by the price
ratio, constant share counts); names of the point-in-time index without prices (most
delisted companies) are left out and counted (``names_missing_prices``); a spin-off is a
value-preserving share factor (no new security is held).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np
import pandas as pd

from pma_lab.errors import DataError, LedgerError
from pma_lab.market.corpactions import CorporateActions, load_corporate_actions
from pma_lab.market.data import MarketData, load_market
from pma_lab.market.tickers import IdentityTable
from pma_lab.tax.ledger import Account, Ledger, LotRelief, Side, Trade
from pma_lab.tax.rules import CAPITAL_LOSS_LIMIT, FilingStatus, first_clean_buy_date

__all__ = ["FREQUENCIES", "END_STATES", "BacktestSettings", "PathResult", "run_backtest",
           "scan_dates", "wash_sale_violations"]

FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "annual")
END_STATES = ("liquidate", "step_up", "donate")
_ACC = "taxable"
_LOCK_IN_GAIN = 0.5  # lock-in: lots whose price is more than 50 % above their basis


@dataclass(frozen=True)
class BacktestSettings:
    """Settings of one backtest path (rates are fractions, money in USD).

    Attributes
    ----------
    start : pd.Timestamp
        First trading day (on or after this date).
    years : int
        Horizon.
    frequency : str
        Harvest scans: one of :data:`FREQUENCIES`.
    threshold : float
        Harvest a lot when its loss is at least this share of its basis.
    threshold_usd : float
        ... and at least this many dollars.
    te_cap : float
        Cap on the estimated annualised tracking error of the open swaps to the hold
        portfolio (0.02 = 2 %).
    substitutes : bool
        Buy a substitute when harvesting (else hold the cash for the 31 days).
    n_names : int
        Largest members held.
    initial_value : float
        Starting dollars.
    contribution : float
        Dollars added at each anniversary (negative: withdrawn).
    reinvest_dividends : bool
        Reinvest dividends (else they are paid out to the investor).
    st_rate, lt_rate, dividend_rate, ordinary_rate : float
        Short-term, long-term, qualified-dividend and ordinary rates (defaults as in
        Chaudhuri et al.: 35 % / 15 %; dividends 15 %).
    outside_gains : bool
        Losses worth their rate against outside gains (else only within the portfolio
        plus the $3,000 a year).
    end_state : str
        One of :data:`END_STATES`.
    weighting : str
        ``cap_proxy`` (2018 market cap x price ratio, each name at most ``max_weight``) or
        ``equal``.
    max_weight : float
        Largest weight of one name under ``cap_proxy``. The proxy assumes constant share
        counts, which fails for names whose share count changed a lot (Citigroup and AIG
        in 2005 come out at 15 % and 13 %, several times their real weight).
    trading_cost_bps : float
        One-way cost of a trade in basis points of its value (half the bid-ask spread plus
        any commission), in both accounts: a buy executes that much above the day's
        close and a sale below it, and the ledger books those prices (the cost is in the
        basis and the proceeds, as on Form 8949). Share counts are sized at the close, so
        cash may dip below zero by a day's buying costs until the next dividend or sale.
        Default 0: no trading costs, as in the packaged study (reviewer 1, session 25).
    """

    start: pd.Timestamp
    years: int = 10
    frequency: str = "monthly"
    threshold: float = 0.05
    threshold_usd: float = 0.0
    te_cap: float = 0.02
    substitutes: bool = True
    n_names: int = 500
    initial_value: float = 1_000_000.0
    contribution: float = 0.0
    reinvest_dividends: bool = True
    st_rate: float = 0.35
    lt_rate: float = 0.15
    dividend_rate: float = 0.15
    ordinary_rate: float = 0.35
    outside_gains: bool = True
    end_state: str = "liquidate"
    weighting: str = "cap_proxy"
    max_weight: float = 0.03
    trading_cost_bps: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", pd.Timestamp(self.start))
        if self.frequency not in FREQUENCIES:
            raise DataError(f"frequency {self.frequency!r} is not one of {FREQUENCIES}")
        if self.end_state not in END_STATES:
            raise DataError(f"end state {self.end_state!r} is not one of {END_STATES}")
        if self.weighting not in ("cap_proxy", "equal"):
            raise DataError(f"weighting {self.weighting!r} is not 'cap_proxy' or 'equal'")
        if not 0 < self.max_weight <= 1:
            raise DataError(f"max_weight must be in (0, 1] (got {self.max_weight})")
        if not 1 <= self.years <= 30:
            raise DataError(f"years must be 1..30 (got {self.years})")
        if self.n_names < 5:
            raise DataError(f"n_names must be at least 5 (got {self.n_names})")
        for name in ("threshold", "te_cap", "st_rate", "lt_rate", "dividend_rate",
                     "ordinary_rate"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0 <= v < 1):
                raise DataError(f"{name} must be a fraction in [0, 1) (got {v})")
        if not (math.isfinite(self.trading_cost_bps) and 0 <= self.trading_cost_bps < 500):
            raise DataError("trading_cost_bps must be basis points in [0, 500) (got "
                            f"{self.trading_cost_bps}); 5 is half the spread of a large "
                            "S&P 500 stock plus no commission")
        if not (math.isfinite(self.initial_value) and self.initial_value > 0):
            raise DataError(f"initial_value must be positive (got {self.initial_value})")


@dataclass(frozen=True)
class PathResult:
    """One path: yearly rows, the summary and the trades of the harvest portfolio.

    Attributes
    ----------
    settings : BacktestSettings
    yearly : pd.DataFrame
        One row per year: harvested losses, realised gains, taxes, turnover, TE, lock-in.
    summary : dict
        Annualised after-tax and pre-tax returns of the three portfolios, tax alpha, etc.
    trades : tuple[Trade, ...]
        Every trade of the harvest portfolio (for the replay check).
    journal : tuple
        Trades and splits ``(date, ticker, ratio)`` of the harvest ledger, in applied order.
    """

    settings: BacktestSettings
    yearly: pd.DataFrame
    summary: dict
    trades: tuple[Trade, ...] = field(repr=False)
    journal: tuple = field(repr=False)


def scan_dates(calendar: pd.DatetimeIndex, frequency: str) -> pd.DatetimeIndex:
    """First trading day of each period (every day for ``daily``)."""
    if frequency == "daily":
        return calendar
    key = {"weekly": calendar.to_period("W"), "monthly": calendar.to_period("M"),
           "quarterly": calendar.to_period("Q"), "annual": calendar.to_period("Y")}[frequency]
    first = ~pd.Series(key).duplicated().to_numpy()
    return calendar[first]


# ------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class _Data:
    cal: pd.DatetimeIndex
    raw: np.ndarray  # (days, tickers) raw closes
    adj: np.ndarray
    tickers: list[str]
    col: dict[str, int]
    events: dict[int, list[tuple[int, str, float]]]  # day -> (col, kind, amount)
    last_day: np.ndarray  # last day index with a close, per ticker
    industry: np.ndarray
    cap_base: np.ndarray  # market cap / adjusted price at the cap date (shares proxy)
    fund: np.ndarray  # SPY adjusted close
    members: list[tuple[str, pd.Timestamp, pd.Timestamp | None]]
    identity: IdentityTable


def _load(market: MarketData, view: CorporateActions, start: pd.Timestamp,
          end: pd.Timestamp) -> _Data:
    adj_all = view.adjusted
    lo = adj_all.index.searchsorted(start - pd.Timedelta(days=400))
    hi = adj_all.index.searchsorted(end, side="right")
    adj = adj_all.iloc[lo:hi]
    raw = (adj * view.factors.iloc[lo:hi]).to_numpy()
    tickers = list(adj.columns)
    col = {t: i for i, t in enumerate(tickers)}
    cal = adj.index
    ev: dict[int, list[tuple[int, str, float]]] = {}
    e = view.events
    e = e[(e.date > cal[0]) & (e.date <= cal[-1])]
    pos = cal.searchsorted(e.date.to_numpy())
    for p, t, k, a in zip(pos, e.ticker, e.kind, e.amount, strict=True):
        ev.setdefault(int(p), []).append((col[t], k, float(a)))
    a_np = adj.to_numpy()
    valid = np.isfinite(adj_all.to_numpy())
    last_all = np.where(valid.any(0), len(valid) - 1 - np.argmax(valid[::-1], 0), -1)
    last_day = last_all - lo
    uni = market.universe.frame().set_index("ticker").reindex(tickers)
    industry = uni["gics_industry"].fillna(uni["gics_sector"]).fillna("").to_numpy()
    # shares outstanding from the data's cap anchors (manifest vintages): the first
    # preferred, else the second over the last close
    first, second = market.vintages.cap_anchors[:2]
    cap_first = uni[first.column].to_numpy(dtype=float)
    cap_second = uni[second.column].to_numpy(dtype=float)
    p_first = adj_all.iloc[adj_all.index.searchsorted(first.price_date)].to_numpy()
    plast = adj_all.ffill().iloc[-1].to_numpy()
    base = np.where(np.isfinite(cap_first / p_first), cap_first / p_first, cap_second / plast)
    fund = market.etfs.frame()["SPY"].reindex(cal).ffill().to_numpy()
    mem = market.universe.membership()
    members = [(r.ticker, r.start_date, None if pd.isna(r.end_date) else r.end_date)
               for r in mem.itertuples()]
    return _Data(cal, raw, a_np, tickers, col, ev, last_day, industry, base, fund, members,
                 IdentityTable.default())


def _members_on(d: _Data, day: pd.Timestamp) -> tuple[set[str], int]:
    """Point-in-time members with a price, and the count of members without."""
    names = {t for t, s, e in d.members if s <= day and (e is None or day < e)}
    priced = {t for t in names if t in d.col}
    return priced, len(names) - len(priced)


# --------------------------------------------------------------------------- portfolio
class _Book:
    """One portfolio: a ledger, shares mirror, cash, and its trade record."""

    def __init__(self, name: str, identity: IdentityTable, cost: float = 0.0) -> None:
        self.name = name
        self.cost = cost  # one-way trading cost, a fraction of the trade's value
        self.led = Ledger([Account(_ACC, relief=LotRelief.MIN_TAX)], identity=identity)
        self.shares: dict[int, int] = {}  # col -> micro-shares
        self.cash = 0.0
        self.trades: list[Trade] = []
        self.splits: list[tuple[dt.date, str, Decimal]] = []
        self.journal: list[Trade | tuple[dt.date, str, Decimal]] = []  # in applied order
        self.sold_value = 0.0
        # orig -> (substitute, its micro-shares, day sold, proceeds of the harvest)
        self.swaps: dict[int, tuple[int, int, dt.date, float]] = {}
        self.wallet = 0.0  # taxes paid (-) and refunds (+), compounding at the fund
        self.carry_st = 0.0
        self.carry_lt = 0.0
        self.payout = 0.0  # dividends paid out (not reinvested), compounding likewise
        self.harvested: dict[int, float] = {}
        self.factor_events = 0  # share factors (spin-offs) and odd splits paid as cash
        self.last_sale: dict[str, dt.date] = {}  # ticker -> last sale day
        # the scan's wash-sale locks: from the ledger once, then kept up to date by the
        # engine's own trades (a buy locks loss sales of its group, a sale locks buys)
        self.no_buy: set[str] = set()
        self.no_loss: set[str] = set()
        self.dividends: dict[int, float] = {}

    def buy(self, day: dt.date, t: str, c: int, micro: int, price: float) -> None:
        if micro <= 0:
            return
        sh = Decimal(micro) / 1_000_000
        px = Decimal(repr(round(float(price) * (1 + self.cost), 4)))
        self.led.buy(day, _ACC, t, sh, px)
        self.trades.append(Trade(day, _ACC, t, Side.BUY, sh, px))
        self.journal.append(self.trades[-1])
        self.shares[c] = self.shares.get(c, 0) + micro
        self.cash -= float(sh * px)
        self.no_loss.add(self.led.identity.group(t))

    def sell(self, day: dt.date, t: str, c: int, micro: int, price: float,
             lot_id: str | None = None, in_lieu: bool = False) -> float:
        if micro <= 0:
            return 0.0
        sh = Decimal(micro) / 1_000_000
        # cash in lieu of a split's fraction is paid at the price, no trading cost
        px = Decimal(repr(round(float(price) * (1 - (0.0 if in_lieu else self.cost)), 4)))
        method = LotRelief.SPECIFIC if lot_id else LotRelief.MIN_TAX
        self.led.sell(day, _ACC, t, sh, px, method=method, lot_id=lot_id)
        self.trades.append(Trade(day, _ACC, t, Side.SELL, sh, px, lot_id=lot_id,
                                 method=method))
        self.journal.append(self.trades[-1])
        self.shares[c] -= micro
        if self.shares[c] == 0:
            del self.shares[c]
        self.last_sale[t] = day
        self.no_buy.add(self.led.identity.group(t))  # conservative: it may be a loss
        v = float(sh * px)
        self.cash += v
        self.sold_value += v
        return v

    def value(self, prices: np.ndarray) -> float:
        return self.cash + sum(m / 1e6 * prices[c] for c, m in self.shares.items())


def _split(book: _Book, day: dt.date, t: str, c: int, ratio: float, price: float) -> bool:
    """Apply a split or share factor to one portfolio.

    Fractions finer than the ratio allows are sold first (cash in lieu, as brokers do).
    """
    if c not in book.shares:
        return True
    r = Decimal(repr(round(float(ratio), 6)))
    num, den = r.as_integer_ratio()
    last = book.last_sale.get(t)
    if den > 100 or (last is not None and (day - last).days <= 31):
        return False  # not a standard ratio, or pending wash-sale state to rescale
    for lot in book.led.lots(ticker=t):
        q = int(lot.shares * 1_000_000)
        frac = q % den
        if frac:
            book.sell(day, t, c, frac, price, lot_id=lot.lot_id, in_lieu=True)
    try:
        book.led.split(day, t, r)
    except LedgerError as exc:  # pragma: no cover - fractions were sold above
        raise LedgerError(f"backtest split of {t} on {day}: {exc}") from exc
    book.splits.append((day, t, r))
    book.journal.append((day, t, r))
    if c in book.shares:
        book.shares[c] = book.shares[c] * num // den
    return True


def _tax_year(book: _Book, s: BacktestSettings, year: int) -> dict[str, float]:
    """Net the year's realised gains; returns the tax (+ paid, - refund) and the pieces."""
    r = book.led.realized(year)
    st, lt = float(r["st"]), float(r["lt"])
    if s.outside_gains:
        tax = st * s.st_rate + lt * s.lt_rate
        return {"st": st, "lt": lt, "cg_tax": tax, "carry": 0.0}
    limit = float(CAPITAL_LOSS_LIMIT[FilingStatus.SINGLE])
    a, b = st - book.carry_st, lt - book.carry_lt
    book.carry_st = book.carry_lt = 0.0
    if a >= 0 and b >= 0:
        tax = a * s.st_rate + b * s.lt_rate
    elif a < 0 and b < 0:
        ded_st = min(-a, limit)
        ded_lt = min(-b, limit - ded_st)
        book.carry_st, book.carry_lt = -a - ded_st, -b - ded_lt
        tax = -(ded_st + ded_lt) * s.ordinary_rate
    else:
        net = a + b
        if net >= 0:
            tax = net * (s.lt_rate if a < 0 else s.st_rate)
        else:
            ded = min(-net, limit)
            if a < 0:
                book.carry_st = -net - ded
            else:
                book.carry_lt = -net - ded
            tax = -ded * s.ordinary_rate
    return {"st": st, "lt": lt, "cg_tax": tax, "carry": book.carry_st + book.carry_lt}


def _ann(end: float, start: float, years: float) -> float:
    return (end / start) ** (1.0 / years) - 1.0 if end > 0 and start > 0 else float("nan")


# ------------------------------------------------------------------------------ engine
def run_backtest(settings: BacktestSettings, market: MarketData | None = None,
                 view: CorporateActions | None = None) -> PathResult:
    """Run one path (harvest, hold and index fund) from ``settings.start``.

    Raises
    ------
    DataError
        If the start or the horizon falls outside the price history.
    """
    s = settings
    market = market or load_market()
    view = view or load_corporate_actions(market)
    cal_all = view.adjusted.index
    if s.start < cal_all[0]:
        raise DataError(f"start {s.start:%Y-%m-%d} is before the first price "
                        f"({cal_all[0]:%Y-%m-%d}); start on or after it")
    end = s.start + pd.DateOffset(years=s.years)
    if end > cal_all[-1]:
        raise DataError(f"start {s.start:%Y-%m-%d} + {s.years} years ends after the last "
                        f"price ({cal_all[-1]:%Y-%m-%d}); shorten --years or start earlier")
    d = _load(market, view, s.start, end)
    i0 = int(d.cal.searchsorted(s.start))
    i_end = int(d.cal.searchsorted(end, side="right")) - 1
    scans = set(d.cal.get_indexer(scan_dates(d.cal[i0:i_end], s.frequency)))
    months = set(d.cal.get_indexer(scan_dates(d.cal[i0:i_end + 1], "monthly")))
    logret = np.log(d.adj[1:] / d.adj[:-1])

    members, missing = _members_on(d, d.cal[i0])
    missing_total = {missing}
    cost = s.trading_cost_bps / 1e4
    books = {k: _Book(k, d.identity, cost) for k in ("harvest", "hold")}

    def weights(i: int, names: set[str]) -> dict[int, float]:
        # columns in the set's order (the argsort below breaks ties by it), vectorised
        idx = np.fromiter((d.col[t] for t in names), dtype=np.intp, count=len(names))
        idx = idx[(d.last_day[idx] > i) & np.isfinite(d.raw[i, idx])]
        caps = d.cap_base[idx] * d.adj[i, idx]
        ok = np.isfinite(caps) & (caps > 0)
        cols = idx[ok].tolist()
        caps = caps[ok]
        top = np.argsort(-caps)[: s.n_names]
        if s.weighting == "equal":
            return {cols[j]: 1.0 / len(top) for j in top}
        wt = caps[top] / caps[top].sum()
        for _ in range(50):  # cap each weight, spread the excess pro rata over the rest
            over = wt > s.max_weight + 1e-12
            if not over.any() or over.all():
                break
            excess = (wt[over] - s.max_weight).sum()
            wt[over] = s.max_weight
            wt[~over] += excess * wt[~over] / wt[~over].sum()
        return {cols[j]: float(x) for j, x in zip(top, wt, strict=True)}

    w0 = weights(i0, members)
    day0 = d.cal[i0].date()
    for b in books.values():
        b.cash = s.initial_value
        for c, w in w0.items():
            b.buy(day0, d.tickers[c], c, int(w * s.initial_value / d.raw[i0, c]) * 1_000_000,
                  d.raw[i0, c])
    fund_val, fund_basis, fund_wallet = s.initial_value, s.initial_value, 0.0
    rows: list[dict] = []
    year_start = {k: b.value(d.raw[i0]) for k, b in books.items()}
    month_vals: dict[str, list[float]] = {"harvest": [], "hold": []}
    year_div = {"harvest": 0.0, "hold": 0.0}
    year_no = 0
    anniversary = s.start
    for i in range(i0 + 1, i_end + 1):
        day = d.cal[i].date()
        px = d.raw[i]
        gross = d.fund[i] / d.fund[i - 1] if np.isfinite(d.fund[i] / d.fund[i - 1]) else 1.0
        fund_val *= gross
        for b in books.values():
            b.wallet *= gross
            b.payout *= gross
        fund_wallet *= gross
        for c, kind, amt in d.events.get(i, []):
            t = d.tickers[c]
            for k, b in books.items():
                if c not in b.shares:
                    continue
                if kind == "dividend":
                    cash = b.shares[c] / 1e6 * amt
                    year_div[k] += cash
                    b.wallet -= cash * s.dividend_rate
                    if s.reinvest_dividends:
                        b.cash += cash
                    else:
                        b.payout += cash
                elif kind == "split" and _split(b, day, t, c, amt, px[c] * amt):
                    pass
                else:  # a spin-off-like share factor (or an odd split): its value in cash
                    b.cash += b.shares[c] / 1e6 * px[c] * max(amt - 1.0, 0.0)
                    b.factor_events += 1
        # delisted or no more prices: sell at the last close, then cash
        for b in books.values():
            for c in [c for c in b.shares if d.last_day[c] == i]:
                b.sell(day, d.tickers[c], c, b.shares[c], px[c])
                b.swaps.pop(c, None)
        if i in scans or i in months:
            members, missing = _members_on(d, d.cal[i])
            missing_total.add(missing)
            w = weights(i, members)
            new_year = d.cal[i] >= anniversary + pd.DateOffset(years=1)
            if new_year:
                anniversary = anniversary + pd.DateOffset(years=1)
            for k, b in books.items():
                _locks(b, day)
                if i in scans and k == "harvest":
                    _harvest(b, d, s, i, logret, w)
                _follow_index(b, d, i, w)
                if new_year and s.contribution:
                    _cash_flow(b, d, i, s.contribution, w)
                _invest(b, d, i, w)
            if i in months:
                for k, b in books.items():
                    month_vals[k].append(b.value(px) + b.payout)  # pre-tax
        is_last = i == i_end
        if (d.cal[i].year != d.cal[min(i + 1, len(d.cal) - 1)].year) or is_last:
            lock_in = _lock_in(books["harvest"], d, i)  # before any end-state sale
            if is_last:
                _end_state(books, d, s, i)
            yr = d.cal[i].year
            row: dict = {"year": yr, "year_no": year_no}
            vals = {}
            for k, b in books.items():
                t = _tax_year(b, s, yr)
                b.wallet -= t["cg_tax"]
                vals[k] = b.value(px)
                row[f"{k}_st"], row[f"{k}_lt"] = t["st"], t["lt"]
                row[f"{k}_cg_tax"] = t["cg_tax"]
                row[f"{k}_carryforward"] = t["carry"]
                row[f"{k}_value"] = vals[k]
                row[f"{k}_after_tax_wealth"] = vals[k] + b.wallet + b.payout
                row[f"{k}_dividends"] = year_div[k]
            hb = books["harvest"]
            row["harvested_losses"] = -sum(v for v in hb.harvested.values())
            row["harvested_pct"] = row["harvested_losses"] / max(year_start["harvest"], 1.0)
            row["turnover"] = hb.sold_value / max(0.5 * (year_start["harvest"]
                                                         + vals["harvest"]), 1.0)
            mv = month_vals
            hv, ov = np.array(mv["harvest"][-13:]), np.array(mv["hold"][-13:])
            act = np.diff(np.log(hv)) - np.diff(np.log(ov)) if len(hv) > 2 else np.array([])
            row["te_realized"] = float(np.std(act, ddof=1) * math.sqrt(12)) \
                if len(act) > 2 else float("nan")
            row["lock_in"] = lock_in
            row["open_swaps"] = len(hb.swaps)
            fund_tax = year_div["hold"] / max(vals["hold"], 1.0) * fund_val * s.dividend_rate
            fund_wallet -= fund_tax
            fund_basis += year_div["hold"] / max(vals["hold"], 1.0) * fund_val
            row["fund_value"] = fund_val
            rows.append(row)
            for b in books.values():
                b.harvested.clear()
                b.sold_value = 0.0
            year_div = {"harvest": 0.0, "hold": 0.0}
            year_start = dict(vals)
            year_no += 1
    yearly = pd.DataFrame(rows)
    yrs = (d.cal[i_end] - d.cal[i0]).days / 365.25
    fund_after = fund_val - max(fund_val - fund_basis, 0.0) * s.lt_rate + fund_wallet
    invested = s.initial_value
    last = rows[-1]
    h_at, o_at = last["harvest_after_tax_wealth"], last["hold_after_tax_wealth"]
    pre_h = last["harvest_value"] + books["harvest"].payout
    pre_o = last["hold_value"] + books["hold"].payout
    summary = {
        "start": f"{d.cal[i0]:%Y-%m-%d}", "end": f"{d.cal[i_end]:%Y-%m-%d}",
        "years": yrs, "frequency": s.frequency, "st_rate": s.st_rate, "lt_rate": s.lt_rate,
        "outside_gains": s.outside_gains, "end_state": s.end_state,
        "trading_cost_bps": s.trading_cost_bps,
        "after_tax_harvest_annual": _ann(h_at, invested, yrs),
        "after_tax_hold_annual": _ann(o_at, invested, yrs),
        "after_tax_fund_annual": _ann(fund_after, invested, yrs),
        "tax_alpha_annual": _ann(h_at, invested, yrs) - _ann(o_at, invested, yrs),
        "tax_alpha_vs_fund_annual": _ann(h_at, invested, yrs) - _ann(fund_after, invested,
                                                                     yrs),
        "pre_tax_excess_annual": _ann(pre_h, invested, yrs) - _ann(pre_o, invested, yrs),
        "te_realized": float(np.nanmedian(yearly["te_realized"]))
        if yearly["te_realized"].notna().any() else float("nan"),
        # the horizon's liquidation is not turnover
        "turnover_annual": float(yearly["turnover"].iloc[:-1].mean()
                                 if len(yearly) > 1 else yearly["turnover"].mean()),
        "names_held_start": len(w0), "names_missing_prices": max(missing_total),
        "trades": len(books["harvest"].trades),
        "share_factors_as_cash": books["harvest"].factor_events,
    }
    return PathResult(s, yearly, summary, tuple(books["harvest"].trades),
                      tuple(books["harvest"].journal))


def _lock_in(b: _Book, d: _Data, i: int) -> float:
    """Share of the portfolio's value in lots more than 50 % above their basis."""
    tot = locked = 0.0
    for ticker, _lid, micro, cents in b.led.lot_amounts():
        c = d.col[ticker]
        v = micro / 1e6 * d.raw[i, c]
        tot += v
        if cents > 0 and v > (1 + _LOCK_IN_GAIN) * (cents / 100):
            locked += v
    return locked / tot if tot else 0.0


def _locks(b: _Book, day: dt.date) -> tuple[set[str], set[str]]:
    """The ledger's lock table at a scan's start, as two sets the scan's trades extend."""
    b.no_buy, b.no_loss = b.led.lock_groups(day)
    return b.no_buy, b.no_loss


def _harvest(b: _Book, d: _Data, s: BacktestSettings, i: int, logret: np.ndarray,
             w: dict[int, float]) -> None:
    day = d.cal[i].date()
    px = d.raw[i]
    no_buy, no_loss = b.no_buy, b.no_loss
    group = d.identity.group
    # swap back once the original's window has passed
    for orig, (sub, micro, sold, proceeds) in list(b.swaps.items()):
        if day < first_clean_buy_date(sold) or group(d.tickers[orig]) in no_buy:
            continue
        if not np.isfinite(px[orig]) or d.last_day[orig] <= i:
            continue
        held = min(micro, b.shares.get(sub, 0)) if sub != orig else 0
        amount = proceeds
        if held and group(d.tickers[sub]) not in no_loss:
            amount = b.sell(day, d.tickers[sub], sub, held, px[sub])
            no_buy.add(group(d.tickers[sub]))
        elif held:
            continue
        del b.swaps[orig]
        n = int(min(amount, max(b.cash, 0.0)) / px[orig])
        b.buy(day, d.tickers[orig], orig, n * 1_000_000, px[orig])
        no_loss.add(group(d.tickers[orig]))
    value = b.value(px)
    lo = max(i - 252, 0)
    te2 = sum(_pair_var(logret, lo, i, o, sub) * (m / 1e6 * px[sub] / value) ** 2
              for o, (sub, m, _d, _p) in b.swaps.items() if sub != o)
    lots_by: dict[str, list[tuple[str, int, int]]] = {}
    for t, lid, micro, cents in b.led.lot_amounts():
        lots_by.setdefault(t, []).append((lid, micro, cents))
    cands = []
    for t, lots in lots_by.items():
        c = d.col[t]
        g = group(t)
        if g in no_loss or c in b.swaps or not np.isfinite(px[c]):
            continue
        picks = []
        loss = 0.0
        for lid, micro, cents in lots:
            v = micro / 1e6 * px[c]
            bs = cents / 100
            if bs > 0 and (bs - v) >= s.threshold * bs and (bs - v) >= s.threshold_usd:
                picks.append((lid, micro))
                loss += bs - v
        if picks:
            cands.append((loss, c, picks))
    cands.sort(key=lambda x: -x[0])
    for loss, c, picks in cands:
        t = d.tickers[c]
        if group(t) in no_loss or group(t) in no_buy:
            continue  # bought (as a substitute) or sold earlier in this scan
        sub = _substitute(d, b, i, c, no_buy, logret, w) if s.substitutes else None
        micro = sum(m for _lid, m in picks)
        wt = micro / 1e6 * px[c] / value
        var = _pair_var(logret, lo, i, c, sub)
        if not np.isfinite(var) or te2 + var * wt * wt > s.te_cap ** 2:
            continue
        te2 += var * wt * wt
        proceeds = 0.0
        for lid, m in picks:
            proceeds += b.sell(day, t, c, m, px[c], lot_id=lid)
        b.harvested[c] = b.harvested.get(c, 0.0) - loss
        no_buy.add(group(t))
        bought = 0
        if sub is not None:
            bought = int(proceeds / px[sub])
            b.buy(day, d.tickers[sub], sub, bought * 1_000_000, px[sub])
            no_loss.add(group(d.tickers[sub]))
        b.swaps[c] = (sub if sub is not None else c, bought * 1_000_000, day, proceeds)


def _pair_var(logret: np.ndarray, lo: int, i: int, a: int, b: int | None) -> float:
    if b is None:
        return float(np.nanvar(logret[lo:i, a]) * 252)
    diff = logret[lo:i, a] - logret[lo:i, b]
    return float(np.nanvar(diff) * 252)


def _substitute(d: _Data, b: _Book, i: int, c: int, no_buy: set[str], logret: np.ndarray,
                w: dict[int, float]) -> int | None:
    """Most correlated same-industry index name, not substantially identical, not locked."""
    g0 = d.identity.group(d.tickers[c])
    ind = d.industry[c]
    lo = max(i - 252, 0)
    best, best_rho = None, -2.0
    if not ind:
        return None
    x = logret[lo:i, c]
    fx = np.isfinite(x)
    # the candidates, in the order of w, filtered with whole-array tests first
    peer = (d.industry == ind) & (d.last_day > i + 25) & np.isfinite(d.raw[i])
    for j in w:
        if j == c or not peer[j]:
            continue
        g = d.identity.group(d.tickers[j])
        if g == g0 or g in no_buy or j in b.swaps:
            continue
        y = logret[lo:i, j]
        ok = fx & np.isfinite(y)
        if ok.sum() < 60:  # a substitute needs 3 months of common returns
            continue
        rho = float(np.corrcoef(x[ok], y[ok])[0, 1])
        if rho > best_rho:
            best, best_rho = j, rho
    return best


def _follow_index(b: _Book, d: _Data, i: int, w: dict[int, float]) -> None:
    """Sell names that left the index (or the top n), unless they are a swap's substitute."""
    day = d.cal[i].date()
    subs = {v[0] for v in b.swaps.values()}
    no_loss = b.no_loss
    for c in list(b.shares):
        if c in w or c in subs or c in b.swaps:
            continue
        t = d.tickers[c]
        if d.identity.group(t) in no_loss:
            continue  # a loss sale now would wash; sell at the next scan
        b.sell(day, t, c, b.shares[c], d.raw[i, c])


def _cash_flow(b: _Book, d: _Data, i: int, amount: float, w: dict[int, float]) -> None:
    """Add cash, or raise a withdrawal by selling pro rata (never a washing loss sale)."""
    if amount >= 0:
        b.cash += amount
        return
    day = d.cal[i].date()
    px = d.raw[i]
    _nb, no_loss = b.no_buy, b.no_loss
    need = -amount - max(b.cash, 0.0)
    value = b.value(px) - b.cash
    for c in list(b.shares):
        if need <= 0 or value <= 0:
            break
        t = d.tickers[c]
        if d.identity.group(t) in no_loss:
            continue
        frac = min(1.0, -amount / value)
        n = int(b.shares[c] / 1e6 * frac + 0.999999)
        b.sell(day, t, c, min(n * 1_000_000, b.shares[c]), px[c])
    b.cash += amount
    b.payout += -amount  # the investor keeps what was withdrawn


def _invest(b: _Book, d: _Data, i: int, w: dict[int, float]) -> None:
    """Put cash into the most underweight names in whole shares (never a washing buy)."""
    if b.cash <= 0:
        return
    day = d.cal[i].date()
    px = d.raw[i]
    no_buy, _nl = b.no_buy, b.no_loss
    value = b.value(px)
    gap = []
    for c, wt in w.items():
        if d.identity.group(d.tickers[c]) in no_buy or c in b.swaps:
            continue
        held = b.shares.get(c, 0) / 1e6 * px[c]
        gap.append((wt * value - held, c))
    gap.sort(reverse=True)
    for g, c in gap:
        if g <= 0 or b.cash < px[c]:
            continue
        n = int(min(g, b.cash) / px[c])
        if n:
            b.buy(day, d.tickers[c], c, n * 1_000_000, px[c])


def _end_state(books: dict[str, _Book], d: _Data, s: BacktestSettings, i: int) -> None:
    """Liquidate, step up (no tax on unrealised gains) or donate appreciated lots."""
    day = d.cal[i].date()
    px = d.raw[i]
    if s.end_state == "step_up":
        return
    for b in books.values():
        no_buy, no_loss = _locks(b, day)
        for lot in b.led.lots():
            c = d.col[lot.ticker]
            q = int(lot.shares * 1_000_000)
            gain = float(lot.shares) * px[c] - float(lot.basis)
            if s.end_state == "donate" and gain > 0:
                b.led.donate(day, _ACC, lot.ticker, lot.shares,
                             Decimal(repr(round(float(px[c]), 4))), lot_id=lot.lot_id)
                b.shares[c] -= q
                b.cash += float(lot.shares) * px[c]  # given at full value, no gains tax
                continue
            if gain < 0 and d.identity.group(lot.ticker) in no_loss:
                continue  # left held (a washing sale); valued at market
            b.sell(day, lot.ticker, c, q, px[c], lot_id=lot.lot_id)


def wash_sale_violations(result: PathResult,
                         identity: IdentityTable | None = None) -> int:
    """Replay every trade and split of a path through a fresh ledger; count washed sales."""
    led = Ledger([Account(_ACC, relief=LotRelief.MIN_TAX)],
                 identity=identity or IdentityTable.default())
    for entry in result.journal:
        if isinstance(entry, Trade):
            led.apply(entry)
        else:
            led.split(*entry)
    disp = led.dispositions()
    return int((disp["adjustment_code"] == "W").sum())


def with_settings(s: BacktestSettings, **kw: object) -> BacktestSettings:
    """A copy of ``s`` with some fields changed."""
    return replace(s, **kw)
