"""Lot-level holdings summary: values, embedded gains by term, holding-period and lock calendar.

This is what ``pma-lab lots summarize`` prints and what the proposal's holdings section
shows: every lot valued at the as-of price, its unrealised gain and character, the lots
turning long-term in the next 30/60/90 days, and the household's wash-sale locks
("do not buy until", "do not sell at a loss until").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pma_lab.errors import Issue, PriceDataError, Severity
from pma_lab.formatting import fmt_shares, fmt_usd
from pma_lab.io.client import Client
from pma_lab.market.corpactions import load_corporate_actions
from pma_lab.market.data import DEFAULT_MAX_STALENESS_DAYS, MarketData, load_market
from pma_lab.tax.ledger import Ledger
from pma_lab.tax.liability import yearly_netting
from pma_lab.tax.rules import WASH_SALE_WINDOW_DAYS

__all__ = ["LotsSummary", "summarize_lots", "prices_at", "lock_action", "lock_reason",
           "lock_symbols", "valued_lots", "turning_long_term", "gift_lot_words"]

HORIZONS = (30, 60, 90)


def lock_action(lock: str) -> str:
    """What a wash-sale lock forbids, in the client's words (CLI and proposal alike).

    >>> lock_action("no_buy"), lock_action("no_loss_sale")
    ('do not buy', 'do not sell at a loss')
    """
    return "do not buy" if lock == "no_buy" else "do not sell at a loss"


def lock_reason(lock: str, since: dt.date, ira: bool = False, shares: float = 0.0,
                lot_shares: float = 0.0, ira_since: dt.date | None = None,
                purchases: Sequence[tuple[dt.date, bool, float]] = ()) -> str:
    """Why a wash-sale lock runs to its date: the loss sale or purchase that set it.

    For a ``no_loss_sale`` lock, what a loss sale through its date costs: with a purchase
    in an IRA (``ira``) the washed loss is lost for good (Rev. Rul. 2008-5: no basis goes
    to the IRA lot), otherwise it is deferred to the shares bought. Only as many shares'
    loss as were bought (``shares``) are washed: when a lot holds more (``lot_shares``)
    the words say "up to N shares' loss". ``ira``, ``shares``, ``lot_shares`` and
    ``ira_since`` are the columns of :meth:`pma_lab.tax.ledger.Ledger.locks`.

    The purchase named is the one that sets the lock's date: ``since`` (the latest
    purchase) for a taxable one; the IRA purchase (``ira_since``, its latest; ``None``:
    ``since``) when it sets the date. When an earlier IRA purchase sits behind a lock a
    later taxable purchase extends, both are named: the loss would be lost for good
    through the IRA purchase's 30 days (the purchases absorb a loss in the order bought,
    Reg. §1.1091-1(c)), deferred after them.

    >>> lock_reason("no_buy", dt.date(2026, 7, 31))
    'loss sale on 2026-07-31 (wash sale)'
    >>> lock_reason("no_loss_sale", dt.date(2026, 7, 8), True, 63, 27)
    'the loss would be lost for good (IRA purchase on 2026-07-08)'
    >>> lock_reason("no_loss_sale", dt.date(2026, 7, 9), False, 22, 52)
    "a wash sale: up to 22 shares' loss deferred to the shares bought on 2026-07-09"
    >>> lock_reason("no_loss_sale", dt.date(2026, 7, 9), True, 40, 30, dt.date(2026, 7, 1))
    ... # doctest: +NORMALIZE_WHITESPACE
    'the loss would be lost for good through 2026-07-31 (IRA purchase on 2026-07-01), then
    a wash sale defers it to the shares bought on 2026-07-09'

    With no taxable lot outside the purchases (``lot_shares`` 0) only a sale of part of a
    purchased lot is washed, by the rest of it (the ledger's ``same_lot_replacement``
    convention, :class:`pma_lab.tax.rules.TaxPolicy`); a sale of all of it is not, unless
    shares are bought again within 30 days (reviewer 1, session 22: "the loss deferred to
    the shares bought" read as if a loss existed; reviewer 2: not as law, and not when an
    IRA buys the stock again):

    >>> lock_reason("no_loss_sale", dt.date(2026, 7, 10), False, 100, 0)[:64]
    'pma_lab counts selling only part of the shares bought on 2026-07'

    With ``purchases`` (the lock's purchases in the order bought, ``(day, in an IRA,
    shares)``, the ``purchases`` column of the locks) holding both a taxable and an IRA
    purchase, the words follow them: a loss sale's shares are washed by the purchases in
    the order bought (Reg. §1.1091-1(c)), each purchase's shares at most, each for its 30
    days; a taxable purchase defers its shares' loss, an IRA's loses it for good
    (:func:`_mixed_lock_words`; session 23: a taxable purchase bought before an IRA's
    read as if the IRA's took the whole loss).

    >>> lock_reason("no_loss_sale", dt.date(2026, 7, 31), True, 320, 400, dt.date(2026, 7, 31),
    ...             ((dt.date(2026, 7, 31), False, 157), (dt.date(2026, 7, 31), True, 163)))
    ... # doctest: +NORMALIZE_WHITESPACE
    "a wash sale: the first 157 shares' loss deferred to the shares bought on 2026-07-31, the
    next 163 shares' loss lost for good (IRA purchase on 2026-07-31)"
    """
    if lock == "no_buy":
        return f"loss sale on {since.isoformat()} (wash sale)"
    kinds = {bool(ira_p) for _d, ira_p, _n in purchases}
    if len(kinds) == 2:
        return _mixed_lock_words(purchases, lot_shares)
    if not ira and lot_shares <= 0:
        return (f"pma_lab counts selling only part of the shares bought on "
                f"{since.isoformat()} at a loss as a wash sale (the rest of them replace the "
                "shares sold); selling all of them is not one, unless shares are bought "
                "again within 30 days in any account, an IRA included")
    part = "the loss" if shares >= lot_shares else f"up to {shares:,.0f} shares' loss"
    if ira:
        bought = since if ira_since is None or pd.isna(ira_since) else ira_since
        why = f"{part} would be lost for good"
        if bought >= since:
            return f"{why} (IRA purchase on {bought.isoformat()})"
        ends = bought + dt.timedelta(days=WASH_SALE_WINDOW_DAYS)  # the IRA purchase's part
        return (f"{why} through {ends.isoformat()} (IRA purchase on "
                f"{bought.isoformat()}), then a wash sale defers it to the shares bought on "
                f"{since.isoformat()}")
    return f"a wash sale: {part} deferred to the shares bought on {since.isoformat()}"


def _mixed_lock_words(purchases: Sequence[tuple[dt.date, bool, float]],
                      lot_shares: float) -> str:
    """:func:`lock_reason`'s words for a lock of taxable and IRA purchases.

    For each stretch of days that ends when a purchase's 30 days end, the purchases still
    in their window absorb a loss sale's shares in the order bought: a lot of
    ``lot_shares`` shares has its first shares washed by the first purchase, the next by
    the next. A taxable purchase defers that loss to its shares; an IRA's is lost for good
    (Rev. Rul. 2008-5). With no taxable lot outside the purchases (``lot_shares`` 0) a loss
    sale can only be of the taxable purchases' own shares, which never replace themselves
    (Rev. Rul. 56-602): the IRA's purchases wash a sale of all of them.
    """
    if lot_shares > 0:
        return f"a wash sale: {_stretch_words(purchases, lot_shares)}"
    bought = sorted({day for day, ira, _n in purchases if not ira})
    own = sum(n for _day, ira, n in purchases if not ira)
    return (f"selling all the shares bought on {', '.join(d.isoformat() for d in bought)} "
            "at a loss is a wash sale: "
            + _stretch_words([p for p in purchases if p[1]], own))


def _shares_loss(n: float) -> str:
    """``"1 share's loss"``, ``"1,200 shares' loss"``."""
    return f"{n:,.0f} share's loss" if round(n) == 1 else f"{n:,.0f} shares' loss"


def _stretch_words(purchases: Sequence[tuple[dt.date, bool, float]], cap: float) -> str:
    """Which purchase washes how many of a ``cap``-share loss sale's shares, by stretch.

    See :func:`_mixed_lock_words`; the purchases in the order bought.
    """
    window = dt.timedelta(days=WASH_SALE_WINDOW_DAYS)
    ends = sorted({day + window for day, _ira, _n in purchases})
    stretches = []
    for end in ends:
        left, pieces = cap, []
        live = [(day, ira, n) for day, ira, n in purchases if day + window >= end and n > 0]
        for k, (day, ira, n) in enumerate(live):
            if left <= 0:
                break
            take = min(left, n)
            left -= take
            if k == 0 and (left <= 0 or len(live) == 1):
                part = "the loss" if take >= cap else f"up to {_shares_loss(take)}"
            else:
                part = f"the {'first' if k == 0 else 'next'} {_shares_loss(take)}"
            pieces.append(f"{part} lost for good (IRA purchase on {day.isoformat()})" if ira
                          else f"{part} deferred to the shares bought on {day.isoformat()}")
        stretches.append((end, ", ".join(pieces)))
    if len(stretches) == 1:
        return stretches[0][1]
    return "; then ".join(f"through {end.isoformat()}: {words}" for end, words in stretches)


def lock_symbols(tickers: str, held: set[str], names: str,
                 former: frozenset[str] | None = None) -> str:
    """A lock's symbols as the client knows them: every symbol of its group that trades.

    The ledger's identity group carries every symbol the security ever had (FB and META)
    and, for share classes treated as one security, every class (GOOG and GOOGL): buying
    any of them washes the loss. A client can trade only the current symbols, so those
    are shown, held or not (reviewer 1, session 22: a GOOGL lock read "GOOGL" alone while
    the target bought GOOG); ``former`` (default: the packaged security master's,
    :attr:`pma_lab.market.tickers.IdentityTable.former`: renamed-away symbols, not the
    share classes that left the index, UA and UAA both trade) says which are no longer
    traded. When no member is held (a lock from a recent loss sale of a name sold out)
    the group's ``names`` are shown (``META (was FB)``,
    :meth:`pma_lab.market.tickers.IdentityTable.label`). The CLI
    (:meth:`LotsSummary.to_text`) and the proposal's calendar both name locks so.

    >>> lock_symbols("FB,META", {"META"}, "META (was FB)", frozenset({"FB"}))
    'META'
    >>> lock_symbols("FB,META", set(), "META (was FB)", frozenset({"FB"}))
    'META (was FB)'
    >>> lock_symbols("GOOG,GOOGL", {"GOOGL"}, "GOOG, GOOGL", frozenset({"FB"}))
    'GOOG, GOOGL'
    """
    members = tickers.split(",")
    if not any(t in held for t in members):
        return names
    if former is None:
        from pma_lab.market.tickers import IdentityTable

        former = IdentityTable.default().former
    return ", ".join(t for t in members if t not in former or t in held)


def _check_dated(market: MarketData, stocks: list[str], etfs: list[str],
                 as_of: dt.date) -> None:
    """Refuse lots the packaged prices cannot value at ``as_of``, in a client's terms.

    The tables' own error (:meth:`pma_lab.market.data.PriceHistory.at`) speaks to a library
    user (``max_staleness_days``); a client's lots are valued at the analysis date, which
    the profile's ``client.as_of`` (or ``--as-of``) sets. Two cases:

    * the date is after the data's last date: the latest analysis date that works;
    * a held name's prices end earlier than the date, the data going on (delisted,
      acquired): the names and their last close, and to take those lots out or price
      them -- not an earlier analysis date (reviewer 2, session 20: EA's 2024 close
      advised an as_of in 2024, before most of the client's lots).

    Tickers without any close before the date are left to the tables' error (it names
    them).

    Raises
    ------
    PriceDataError
        In either case above.
    """
    late, gone = [], []
    for table, names in ((market.prices, stocks), (market.etfs, etfs)):
        if not names:
            continue
        last = table.last_valid(as_of, names)
        stale = last[last["staleness_days"] > DEFAULT_MAX_STALENESS_DAYS]
        (late if pd.Timestamp(as_of) > table.last_date else gone).append(stale)
    late = [t for t in late if len(t)]
    gone = pd.concat(gone) if any(len(t) for t in gone) else None
    if late:
        bad = pd.concat(late)
        newest = bad["date"].max()
        latest = newest + pd.Timedelta(days=DEFAULT_MAX_STALENESS_DAYS)
        names = ", ".join(list(bad.index[:8])) + (f" and {len(bad) - 8} more"
                                                   if len(bad) > 8 else "")
        raise PriceDataError(
            f"the analysis date {as_of} is after the packaged prices: {len(bad)} held "
            f"ticker(s) ({names}) have no close within {DEFAULT_MAX_STALENESS_DAYS} days "
            f"before it (the last is {newest.date()}); set client.as_of in the profile, or "
            f"pass --as-of, to a date on or before {latest.date()}")
    if gone is not None:
        gone = gone[gone["date"].notna()]
        if len(gone):
            raise PriceDataError(_gone_words(market, gone["date"], as_of))


def _gone_words(market: MarketData, last: pd.Series, as_of: dt.date) -> str:
    """Why held names (``last``: ticker -> last close) have no price at ``as_of``.

    A name in the data's current S&P 500 constituents list still trades: the packaged
    prices lack it (UNH, ED, LULU, ROP, XYL end 2024-03-08, missing upstream: DATA_CARD.md);
    the message says so instead of calling it delisted (reviewer 1, session 25: a UNH
    holder was told to take a real holding out of the lots file). Any other name's prices
    end because it was delisted, acquired or renamed.
    """
    v = market.vintages
    uni = market.universe.frame()
    current = set(uni.ticker[uni[v.constituents_column].fillna(False).astype(bool)])
    listed = [t for t in last.index if t in current]
    gone = [t for t in last.index if t not in current]

    def names(ts: list[str]) -> str:
        return ", ".join(f"{t} (last close {last[t].date()})" for t in ts)

    parts = []
    if gone:
        parts.append(f"{names(gone)}: their prices end earlier (delisted, acquired or "
                     "renamed): take those lots out of the lots file (or record their "
                     "sale), or correct the ticker to the name it trades under now")
    if listed:
        parts.append(f"{names(listed)}: still in the S&P 500 list of "
                     f"{v.constituents_date.date()}: the packaged prices miss "
                     f"{'its' if len(listed) == 1 else 'their'} later closes "
                     "(missing upstream, see data/samples/market/DATA_CARD.md), so pma_lab "
                     "cannot value or trade those lots at this date: analyse the account "
                     "without them (a lots file without those rows; the holding stays "
                     "outside the proposal, its tax and tracking error)")
    return (f"{len(last)} held ticker(s) have no price at the analysis date {as_of}: "
            + "; ".join(parts))


def stale_price_issues(market: MarketData, tickers: Sequence[str], as_of: dt.date,
                       source: str) -> list[Issue]:
    """Warnings for held names priced at an earlier day's close than the analysis date.

    :func:`prices_at` takes each name's last close on or before ``as_of`` and refuses one
    older than :data:`~pma_lab.market.data.DEFAULT_MAX_STALENESS_DAYS` days; a close
    within that limit but older than the date was used without a word (reviewer 1,
    session 23, #11). Two warnings (:class:`~pma_lab.errors.Issue`, code ``stale_price``):

    * the date is not a market day of the packaged prices (a weekend, a holiday, or after
      their last day): every price is the close of the latest market day before it;
    * a name has no close on that market day (a halt, a listing change, missing data): its
      price is an older close; the names and their closes' dates are listed.

    Names without any close, or with one older than the limit, are left to
    :func:`prices_at`'s error; ``source`` is the file the warnings name (the profile).
    """
    day = pd.Timestamp(as_of)
    names = sorted(set(tickers))
    stocks = [t for t in names if t in market.universe and t in market.prices.tickers]
    etfs = [t for t in names if t not in stocks and t in market.etfs.tickers]
    issues: list[Issue] = []
    market_day = None
    old: list[tuple[str, pd.Timestamp]] = []
    for table, group in ((market.prices, stocks), (market.etfs, etfs)):
        if not group:
            continue
        cal = table.calendar
        at = int(cal.searchsorted(day, side="right"))
        if not at:
            continue
        latest = cal[at - 1]
        market_day = latest if market_day is None else max(market_day, latest)
        last = table.last_valid(as_of, group)
        ok = last["date"].notna() & (last["staleness_days"] <= DEFAULT_MAX_STALENESS_DAYS)
        old += [(t, d) for t, d in last["date"][ok & (last["date"] < latest)].items()]
    if market_day is not None and market_day < day:
        issues.append(Issue(
            source, None, "client.as_of", str(as_of),
            f"the analysis date {as_of} is not a market day of the packaged prices: the "
            f"holdings are priced at the closes of {market_day.date()}, "
            f"{(day - market_day).days} day{'s' * ((day - market_day).days != 1)} before it",
            f"nothing, if the closes of {market_day.date()} are the prices to trade at; "
            "else set client.as_of (or --as-of) to the market day you mean",
            Severity.WARNING, "stale_price"))
    if old:
        listed = ", ".join(f"{t} (close of {d.date()})" for t, d in sorted(old)[:20])
        more = f" and {len(old) - 20} more" if len(old) > 20 else ""
        issues.append(Issue(
            source, None, "client.as_of", str(as_of),
            f"{len(old)} held name{'s have' if len(old) != 1 else ' has'} no close on "
            f"{market_day.date() if market_day is not None else as_of}, the last market "
            f"day on or before the analysis date, and {'are' if len(old) != 1 else 'is'} "
            f"priced at an older close: {listed}{more}",
            "check those names' listings (a halt, a ticker change, a takeover) and their "
            "prices before trading; the proposal values and trades them at these closes",
            Severity.WARNING, "stale_price"))
    return issues


def prices_at(market: MarketData, tickers: list[str], as_of: dt.date) -> pd.Series:
    """Last close on or before ``as_of`` for stocks and ETFs alike, in raw (exchange) dollars.

    Lots are valued, gains computed and whole shares counted at the price a client saw
    that day: stock closes are the packaged adjusted closes converted to raw closes with
    the corporate actions after them (:meth:`pma_lab.market.corpactions.CorporateActions.
    to_raw`; equal to the adjusted close on the data's last date, 1/20 of it for AMZN in
    2020). Returns, risk and weights keep the adjusted series (ratios, unchanged). ETF
    prices stay as packaged (no ETF events are in the data).

    Raises
    ------
    PriceDataError
        Naming every ticker without a recent price (no value is made up).
    """
    stocks = [t for t in tickers if t in market.universe and t in market.prices.tickers]
    etfs = [t for t in tickers if t not in stocks and t in market.etfs.tickers]
    missing = sorted(set(tickers) - set(stocks) - set(etfs))
    if missing:
        raise PriceDataError(
            f"no price series for {', '.join(missing)}; pma_lab has prices for the S&P 500 "
            "universe and the packaged ETFs only")
    _check_dated(market, stocks, etfs, as_of)
    parts = []
    if stocks:
        adjusted = market.prices.at(as_of, stocks)
        parts.append(load_corporate_actions(market).to_raw(adjusted, as_of))
    if etfs:
        parts.append(market.etfs.at(as_of, etfs))
    return pd.concat(parts).reindex(tickers)


@dataclass(frozen=True)
class LotsSummary:
    """Holdings of a client at a date.

    Attributes
    ----------
    as_of : datetime.date
    lots : pd.DataFrame
        One row per open lot: account, account_type, ticker, lot_id, shares, price,
        market_value, basis (as recorded: a gift lot's is the donor's), sale_basis (the
        basis ``unrealized`` is measured from: :func:`valued_lots`), unrealized, term,
        holding_start, long_term_on, days_to_long_term, wash_adjustment.
    holdings : pd.DataFrame
        One row per account and ticker: shares, market_value, weight (of the household's
        total incl. cash), basis (the lots' ``sale_basis``: the basis the unrealised
        gains beside it are measured from, so market value less basis is the unrealised
        gain), unrealized_st, unrealized_lt, lots.
    turning_long_term : pd.DataFrame
        Taxable lots that turn long-term within 90 days, with the horizon bucket.
    locks : pd.DataFrame
        Wash-sale locks (see :meth:`pma_lab.tax.ledger.Ledger.locks`).
    realized : pd.DataFrame
        This year's Schedule D netting of the recent trades, the profile's carry-ins
        included (its ``st_net``/``lt_net`` add them: :meth:`realized_this_year` is the
        year's own sales).
    totals : pd.Series
        Market value, cash, total, embedded ST/LT gains and losses (taxable accounts).
    """

    client_id: str
    as_of: dt.date
    lots: pd.DataFrame
    holdings: pd.DataFrame
    turning_long_term: pd.DataFrame
    locks: pd.DataFrame
    realized: pd.DataFrame
    totals: pd.Series

    def realized_this_year(self) -> tuple[int, float, float] | None:
        """``(year, short-term net, long-term net)`` of the year's own sales (USD).

        The nets of :attr:`realized` less the carry-ins (a loss carryforward is not a sale
        of this year; Schedule D adds it on lines 6 and 14); ``None`` without a year.
        """
        if not len(self.realized):
            return None
        r = self.realized.iloc[-1]
        return (int(r.year), float(r.st_net) + float(r.carryin_st),
                float(r.lt_net) + float(r.carryin_lt))

    def plot_embedded_gains(self, top: int = 30) -> go.Figure:
        """Bar chart of unrealised gain by ticker, stacked short-/long-term (taxable lots)."""
        tax = self.lots[self.lots.account_type == "taxable"]
        g = tax.pivot_table(index="ticker", columns="term", values="unrealized",
                            aggfunc="sum", fill_value=0.0)
        for term in ("ST", "LT"):
            if term not in g:
                g[term] = 0.0
        g = g.loc[g.abs().sum(axis=1).sort_values(ascending=False).index[:top]]
        fig = go.Figure([
            go.Bar(name="long-term", x=g.index, y=g["LT"], marker_color="#1f4e79"),
            go.Bar(name="short-term", x=g.index, y=g["ST"], marker_color="#e3a21a"),
        ])
        fig.update_layout(barmode="relative", height=460,
                          title=f"Unrealised gain by ticker, taxable lots, {self.as_of}",
                          yaxis_title="USD", xaxis_tickangle=-60,
                          margin={"t": 90, "b": 100, "l": 70, "r": 20},
                          legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
        return fig

    def to_text(self) -> str:
        """A plain-text report for the terminal."""
        t = self.totals
        n_taxable = self.lots.account[self.lots.account_type == "taxable"].nunique()
        lines = [
            f"Client {self.client_id} as of {self.as_of}",
            f"  market value {fmt_usd(t.market_value, 2)} + cash {fmt_usd(t.cash, 2)} = "
            f"{fmt_usd(t.total_value, 2)} in {int(t.lots)} lots of {int(t.tickers)} tickers",
            f"  embedded gains (taxable account{'' if n_taxable == 1 else 's'}): "
            f"ST {fmt_usd(t.st_gain, 2)} / {fmt_usd(t.st_loss, 2)}, "
            f"LT {fmt_usd(t.lt_gain, 2)} / {fmt_usd(t.lt_loss, 2)} (gains / losses)",
        ]
        mine = self.realized_this_year()
        if mine is not None:
            lines.append(f"  realised in {mine[0]} (its sales, before carryforwards): ST net "
                         f"{fmt_usd(mine[1], 2)}, LT net {fmt_usd(mine[2], 2)}")
        lo = 1
        for h in HORIZONS:  # disjoint bands (1-30, 31-60, 61-90 days), said as such
            sel = self.turning_long_term[self.turning_long_term.within_days == h]
            if len(sel):
                lines.append(f"  turning long-term in {lo}-{h} days: {len(sel)} lot"
                             f"{'s' if len(sel) != 1 else ''}, "
                             f"unrealised {fmt_usd(sel.unrealized.sum(), 2)}")
            lo = h + 1
        if len(self.locks):
            lines.append("  wash-sale locks:")
            held = set(self.lots.ticker)
            for r in self.locks.itertuples():
                why = lock_reason(r.lock, r.since, r.ira, r.shares, r.lot_shares, r.ira_since,
                                  r.purchases)
                lines.append(f"    {lock_action(r.lock)} "
                             f"{lock_symbols(r.tickers, held, r.names)} through {r.until}: "
                             f"{why}")
        gifts = self.lots[self.lots.gift_date.notna()] if "gift_date" in self.lots else ()
        if len(gifts):
            lines.append("  gift lots (IRC §1015 dual basis):")
            lines += [f"    {gift_lot_words(r)}" for r in gifts.itertuples()]
            lines.append(f"    {GIFT_BASIS_NOTE}")
        lines.append("")
        hold = self.holdings.copy()
        with pd.option_context("display.max_rows", 500, "display.width", 140,
                               "display.float_format", "{:,.2f}".format):
            lines.append(hold.to_string(index=False))
        return "\n".join(lines)


def valued_lots(ledger: Ledger, as_of: dt.date, market: MarketData | None = None
                ) -> pd.DataFrame:
    """The open lots of ``ledger`` valued at ``as_of``: :attr:`LotsSummary.lots`.

    One row per open lot (account, ticker, acquired date, lot id order) with its price,
    market value, unrealised gain, term and days to long-term.

    A gift lot's (``gift_date`` set) unrealised gain is what a sale at the price would
    realise under its dual basis (IRC §1015, Pub 551): above the donor's basis
    (``basis``) a gain from it, with the donor's holding period; below the FMV at the gift
    (``loss_basis``, when lower) a loss from the FMV, held from the gift date (its term,
    holding start and long-term date are then the gift's); in between, neither gain nor
    loss. ``sale_basis`` is the basis that gain is measured from (``basis``, the lot's
    record, but for such a gift lot: the FMV at the gift, or the value itself), so
    ``market_value - sale_basis`` is ``unrealized``.
    """
    market = market or load_market()
    lots = ledger.open_lots()
    px = prices_at(market, sorted(set(lots.ticker)), as_of) if len(lots) else pd.Series(
        dtype=float)
    lots["price"] = lots.ticker.map(px).astype(float)
    lots["market_value"] = lots.shares * lots.price
    lots["unrealized"] = lots.market_value - lots.basis
    lots["sale_basis"] = lots.basis.astype(float)
    gifts = np.flatnonzero(lots.loss_basis.notna().to_numpy())
    if len(gifts):  # a gift lot below the donor's basis: the rule the optimiser reads
        held = ledger.lots()  # open_lots' rows, in its order
        mv = lots.market_value.to_numpy()
        gain = lots.unrealized.to_numpy().copy()
        used = lots.sale_basis.to_numpy().copy()
        ltos, starts = list(lots.long_term_on), list(lots.holding_start)
        for i in gifts:
            used[i], ltos[i], starts[i] = held[i].sale_basis(float(mv[i]))
            gain[i] = mv[i] - used[i]
        lots["unrealized"], lots["long_term_on"], lots["holding_start"] = gain, ltos, starts
        lots["sale_basis"] = used
    lots["term"] = [
        "LT" if inh or (lto is not None and as_of >= lto) else "ST"
        for inh, lto in zip(lots.inherited, lots.long_term_on, strict=True)]
    lots["days_to_long_term"] = [
        0 if lto is None else max((lto - as_of).days, 0) for lto in lots.long_term_on]
    cols = ["account", "account_type", "ticker", "lot_id", "shares", "price", "market_value",
            "basis", "sale_basis", "unrealized", "term", "acquired", "holding_start",
            "long_term_on", "days_to_long_term", "wash_adjustment", "inherited", "loss_basis",
            "gift_date"]
    return lots[cols].sort_values(["account", "ticker", "acquired", "lot_id"],
                                  ignore_index=True)


GIFT_BASIS_NOTE = ("A gift lot's basis in the holdings is the one its unrealised gain or loss "
                   "is measured from, a sale's at today's price under the dual basis: the "
                   "donor's for a gain, the value at the gift for a loss, today's value when "
                   "between the two (neither gain nor loss).")
"""Which basis the holdings count for a gift lot: the CLI's lots summary and the
proposal's holdings table say it under the gift lots' words."""


def gift_lot_words(lot: object) -> str:
    """Why a gift lot's gain or loss is what it is: its two bases, in the client's words.

    ``lot`` is a row of :func:`valued_lots` with a ``gift_date`` (IRC §1015, Pub 551): a
    gain is measured from the donor's basis, with the donor's holding period; when the
    value at the gift was below the donor's basis, a loss is measured from that value,
    held from the gift; a price between the two gives neither gain nor loss.

    >>> import datetime as dt
    >>> from types import SimpleNamespace as Row
    >>> print(gift_lot_words(Row(ticker="KO", lot_id="g1", shares=100.0, basis=10000.0,
    ...     loss_basis=8000.0, gift_date=dt.date(2026, 3, 2), acquired=dt.date(2010, 1, 4),
    ...     market_value=9000.0)))  # doctest: +NORMALIZE_WHITESPACE
    KO lot g1 (100 shares), a gift received 2026-03-02: gain basis $10,000 (the donor's,
    held since 2010-01-04), loss basis $8,000 (the value at the gift, held since
    2026-03-02); at $9,000 a sale gives neither gain nor loss
    """
    get = lot.__getattribute__
    basis, mv = float(get("basis")), float(get("market_value"))
    lb = float(get("loss_basis"))
    gift = pd.Timestamp(get("gift_date")).date().isoformat()
    head = (f"{get('ticker')} lot {get('lot_id')} ({fmt_shares(get('shares'))} shares), a "
            f"gift received {gift}: gain basis {fmt_usd(basis)} (the donor's, held since "
            f"{pd.Timestamp(get('acquired')).date().isoformat()})")
    if np.isnan(lb):  # the value at the gift was not below the donor's basis
        return (f"{head}, also the loss basis (the value at the gift was not below it); at "
                f"{fmt_usd(mv)} a sale gives a {'gain' if mv >= basis else 'loss'} of "
                f"{fmt_usd(abs(mv - basis))}")
    head += f", loss basis {fmt_usd(lb)} (the value at the gift, held since {gift})"
    if mv > basis:
        return f"{head}; at {fmt_usd(mv)} a sale gives a gain of {fmt_usd(mv - basis)}"
    if mv < lb:
        return f"{head}; at {fmt_usd(mv)} a sale gives a loss of {fmt_usd(lb - mv)}"
    return f"{head}; at {fmt_usd(mv)} a sale gives neither gain nor loss"


def turning_long_term(lots: pd.DataFrame) -> pd.DataFrame:
    """The taxable lots of :func:`valued_lots` turning long-term within 90 days.

    :attr:`LotsSummary.turning_long_term`: with ``within_days``, the horizon of
    :data:`HORIZONS` each falls in.
    """
    taxable = lots.account_type == "taxable"
    soon = lots[taxable & (lots.days_to_long_term > 0) & (lots.days_to_long_term <= 90)].copy()
    soon["within_days"] = [next(h for h in HORIZONS if d <= h) for d in soon.days_to_long_term]
    return soon


def summarize_lots(client: Client, market: MarketData | None = None,
                   ledger: Ledger | None = None) -> LotsSummary:
    """Value every lot at the client's as-of date and build the holdings summary.

    Parameters
    ----------
    client : Client
        From :func:`pma_lab.io.client.load_client`.
    market : MarketData | None
        Market data (default: the packaged data).
    ledger : Ledger | None
        The household ledger (default: ``client.ledger()``).
    """
    market = market or load_market()
    led = ledger or client.ledger()
    as_of = client.as_of
    lots = valued_lots(led, as_of, market)
    taxable = lots.account_type == "taxable"
    cash = client.profile.cash
    total_value = float(lots.market_value.sum()) + cash

    # the basis beside the unrealised gains is the one they are measured from (a gift
    # lot's under its dual basis, reviewer s25: the donor's beside a gain from the FMV)
    g = lots.drop(columns="basis").rename(columns={"sale_basis": "basis"}).assign(
        unrealized_st=np.where(lots.term == "ST", lots.unrealized, 0.0),
        unrealized_lt=np.where(lots.term == "LT", lots.unrealized, 0.0))
    # the sums in one pass over the groups (named aggregations grouped once a column: ~2x)
    by = g.groupby(["account", "account_type", "ticker"], as_index=False)
    holdings = by[["shares", "market_value", "basis", "unrealized_st", "unrealized_lt"]].sum()
    holdings["lots"] = by["lot_id"].count()["lot_id"].to_numpy()
    holdings.insert(5, "weight", holdings.market_value / total_value if total_value else 0.0)
    holdings = holdings.sort_values(["account", "market_value"], ascending=[True, False],
                                    ignore_index=True)

    soon = turning_long_term(lots)

    st, lt = lots[taxable & (lots.term == "ST")], lots[taxable & (lots.term == "LT")]
    totals = pd.Series({
        "market_value": float(lots.market_value.sum()), "cash": cash,
        "total_value": total_value, "lots": len(lots), "tickers": lots.ticker.nunique(),
        "st_gain": float(st.unrealized.clip(lower=0).sum()),
        "st_loss": float(st.unrealized.clip(upper=0).sum()),
        "lt_gain": float(lt.unrealized.clip(lower=0).sum()),
        "lt_loss": float(lt.unrealized.clip(upper=0).sum()),
        # Retirement accounts' value includes their cash, like "total_value" does.
        "ira_value": float(lots[~taxable].market_value.sum()) + sum(
            a.cash for a in client.profile.accounts if a.account_type.value != "taxable"),
    })
    prof = client.profile
    c_st, c_lt = prof.carryforward_into(as_of.year, f"the analysis date {as_of}")
    realized = yearly_netting(led.dispositions(as_decimal=True), prof.tax,
                              Decimal(str(c_st)), Decimal(str(c_lt)), years=[as_of.year])
    return LotsSummary(client.client_id, as_of, lots, holdings, soon, led.locks(as_of),
                       realized, totals)


def check_prices(client: Client, market: MarketData | None = None) -> None:
    """The client's lots can be priced at its analysis date (``lots validate``, the batch).

    Raises
    ------
    PriceDataError
        As :func:`prices_at`: the analysis date after the packaged prices (with the latest
        date that works), or a ticker without a price series.
    """
    tickers = sorted(set(client.lots.lots.ticker))
    if tickers:
        prices_at(market or load_market(), tickers, client.as_of)
