"""The tax-lot ledger: the single source of tax truth in pma_lab.

Every number about realised gains, basis, holding periods and wash sales comes from here:
the optimizer reads lot attributes and lock tables from it, the transition simulator
applies its trades through it, and ``pma-lab ledger replay`` exposes it as Form 8949 rows.

Money is :class:`decimal.Decimal` rounded to the cent with remainders carried, so a lot's
basis and a sale's proceeds are conserved exactly when they are split across lots or
replacement shares. Shares are Decimal too (fractional shares are common).

Rules implemented (citations as in ``tax-and-optimization.md`` §5-§6):

* Holding period (Pub 550): from the day after acquisition; long-term when held more than one
  year (:func:`pma_lab.taxrules.is_long_term`, with the Feb-29 policy there). Inherited lots are
  always long-term.
* Lot relief: FIFO (the IRS default), HIFO, specific identification, and min-tax (losses
  first: short-term losses then long-term losses, largest loss per share first; then
  long-term gains before short-term gains, smallest gain per share first).
* Wash sales (§1091, Reg. §1.1091-1, Pub 550, Rev. Rul. 2008-5): a loss on a disposition is
  disallowed when substantially identical shares (same identity group, any account of the
  household) are acquired within 30 days before or after the sale. Replacement shares are
  matched in the order bought; several losses are matched in order of disposition (same
  day: in order of original acquisition); each replacement share absorbs one loss share
  once; the disallowed loss is added to the replacement's basis and the sold shares'
  holding period is tacked on (new start = replacement date minus days the sold shares
  were held); a purchase in an IRA disallows the loss permanently with no basis increase;
  gains never trigger the rule; a loss on one block never reduces gains on others.
* Charitable gifts of lots (no gain realised), stock splits and stock dividends (shares
  scale, basis and holding period stay), gifted lots with a dual basis (Pub 551).

Only transactions in non-decreasing date order are accepted; :func:`replay` sorts a
blotter canonically first (by date; buys before sells on a day; then account, ticker,
price, shares, lot id) so the result never depends on the order of input rows.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import numpy as np
import pandas as pd

from pma_lab.errors import InsufficientSharesError, LedgerError
from pma_lab.taxrules import (
    DEFAULT_POLICY,
    WASH_SALE_WINDOW_DAYS,
    TaxPolicy,
    Term,
    add_years,
    first_clean_buy_date,
    long_term_date,
    money,
    term_of,
)
from pma_lab.tickers import IdentityTable

__all__ = [
    "AccountType",
    "Side",
    "LotRelief",
    "Account",
    "Lot",
    "Trade",
    "Ledger",
    "replay",
    "DISPOSITION_COLUMNS",
]

ZERO = Decimal(0)
_WINDOW = dt.timedelta(days=WASH_SALE_WINDOW_DAYS)


class AccountType(StrEnum):
    """Tax treatment of an account."""

    TAXABLE = "taxable"
    IRA = "ira"  # traditional or Roth IRA: no capital gains; purchases still wash losses


class Side(StrEnum):
    """Direction of a trade."""

    BUY = "buy"
    SELL = "sell"


class LotRelief(StrEnum):
    """How the lots relieved by a sale (or a gift) are chosen."""

    FIFO = "fifo"
    HIFO = "hifo"
    SPECIFIC = "specific"
    MIN_TAX = "min_tax"


@dataclass(frozen=True)
class Account:
    """An account of the household; all accounts share one wash-sale lock table."""

    account_id: str
    account_type: AccountType = AccountType.TAXABLE
    relief: LotRelief = LotRelief.FIFO


@dataclass(frozen=True)
class Lot:
    """A snapshot of one open tax lot.

    Attributes
    ----------
    lot_id : str
        Identifier; pieces split off by wash-sale matching get ``<root>/w<n>``.
    root_id : str
        The identifier of the lot as first acquired (specific identification uses it).
    account, ticker : str
        Where and what.
    shares : Decimal
        Shares held.
    basis : Decimal
        Adjusted total basis in dollars (cost plus any disallowed wash-sale losses).
    acquired : datetime.date
        Trade date of the acquisition.
    holding_start : datetime.date
        Start of the holding period after tacking (equals ``acquired`` unless the lot
        replaced shares sold in a wash sale).
    wash_adjustment : Decimal
        Disallowed losses added to this lot's basis.
    inherited : bool
        Inherited lot (stepped-up basis, always long-term).
    loss_basis : Decimal | None
        For a gifted lot whose FMV at the gift was below the donor's basis: the basis used to
        compute a loss (Pub 551 dual basis); ``None`` otherwise.
    used_as_replacement : bool
        These shares already absorbed a wash-sale loss and cannot absorb another.
    """

    lot_id: str
    root_id: str
    account: str
    ticker: str
    shares: Decimal
    basis: Decimal
    acquired: dt.date
    holding_start: dt.date
    wash_adjustment: Decimal = ZERO
    inherited: bool = False
    loss_basis: Decimal | None = None
    used_as_replacement: bool = False

    @property
    def basis_per_share(self) -> Decimal:
        """Adjusted basis per share."""
        return self.basis / self.shares if self.shares else ZERO

    def term_on(self, sale_date: dt.date) -> Term:
        """Character a sale of this lot on ``sale_date`` would have."""
        return term_of(self.holding_start, sale_date, self.inherited)

    def long_term_on(self) -> dt.date | None:
        """First date a sale is long-term (``None`` for inherited lots, always long-term)."""
        return None if self.inherited else long_term_date(self.holding_start)


@dataclass(frozen=True)
class Trade:
    """One blotter row: a buy or a sell of whole or fractional shares at a price."""

    date: dt.date
    account: str
    ticker: str
    side: Side
    shares: Decimal
    price: Decimal
    lot_id: str | None = None  # sell: the lot to relieve (specific ID); buy: the new lot's id
    method: LotRelief | None = None  # sell: overrides the account's relief method
    fees: Decimal = ZERO  # commissions: added to a buy's basis, deducted from a sale's proceeds
    row: int | None = None  # source row, for error messages


# ------------------------------------------------------------------------------------------
# internal mutable state
# ------------------------------------------------------------------------------------------


class _L:
    """Mutable lot (internal).

    ``k`` is the order-bought key and ``ltd`` the first long-term sale date, both cached
    because they are read on every sale.
    """

    __slots__ = (
        "lot_id", "root_id", "account", "ticker", "group", "shares", "basis", "acquired",
        "holding_start", "ltd", "wash_adj", "loss_basis", "used", "seq", "piece", "nsplit",
        "deemed_long", "is_ira", "k", "bps", "hkey",
    )

    def __init__(self, lot_id: str, root_id: str, account: str, ticker: str, group: str,
                 shares: Decimal, basis: Decimal, acquired: dt.date, holding_start: dt.date,
                 seq: int, inherited: bool, loss_basis: Decimal | None, is_ira: bool,
                 piece: int = 0):
        self.lot_id = lot_id
        self.root_id = root_id
        self.account = account
        self.ticker = ticker
        self.group = group
        self.shares = shares
        self.basis = basis
        self.acquired = acquired
        self.wash_adj = ZERO
        self.loss_basis = loss_basis
        self.used = False
        self.seq = seq
        self.piece = piece  # 0 for the lot as acquired, n for the n-th piece split off it
        self.nsplit = 0
        self.deemed_long = inherited
        self.is_ira = is_ira
        self.k = (acquired, seq, piece)
        self.holding_start = holding_start
        self.ltd = long_term_date(holding_start)
        self.bps = float(basis / shares)
        self.hkey = (-self.bps, self.k)

    def set_start(self, start: dt.date) -> None:
        self.holding_start = start
        self.ltd = long_term_date(start)

    def touch(self) -> None:
        """Refresh the cached basis per share (a float, used only to order lots)."""
        if self.shares > 0:
            self.bps = float(self.basis / self.shares)
            self.hkey = (-self.bps, self.k)

    def key(self) -> tuple[dt.date, int, int]:
        return self.k

    def term(self, sale: dt.date) -> Term:
        return Term.LONG if self.deemed_long or sale >= self.ltd else Term.SHORT

    def snapshot(self) -> Lot:
        return Lot(self.lot_id, self.root_id, self.account, self.ticker, self.shares,
                   self.basis, self.acquired, self.holding_start, self.wash_adj,
                   self.deemed_long, self.loss_basis, self.used)


class _D:
    """Mutable disposition (internal): one lot piece sold in one sale."""

    __slots__ = (
        "n", "account", "ticker", "group", "lot_id", "shares", "acquired_orig",
        "holding_start", "sold", "proceeds", "basis", "adjustment", "permanent", "term",
        "inherited", "lot_key", "row", "tpos",
    )

    def __init__(self, n: int, lot: _L, shares: Decimal, sold: dt.date, proceeds: Decimal,
                 basis: Decimal, term: Term, row: int | None):
        self.n = n
        self.account = lot.account
        self.ticker = lot.ticker
        self.group = lot.group
        self.lot_id = lot.lot_id
        self.shares = shares
        self.acquired_orig = lot.acquired
        self.holding_start = lot.holding_start
        self.sold = sold
        self.proceeds = proceeds
        self.basis = basis
        self.adjustment = ZERO  # disallowed loss (code W), positive
        self.permanent = ZERO  # part of adjustment lost for good (IRA replacement)
        self.term = term
        self.inherited = lot.deemed_long
        self.lot_key = lot.k
        self.row = row
        self.tpos = 0  # position of the trade in the replay's canonical order


class _Loss:
    """Loss shares of a disposition still open to wash-sale matching (internal)."""

    __slots__ = ("disp", "shares_left", "loss_left", "days_held", "root_id", "deemed_long")

    def __init__(self, disp: _D, loss: Decimal, days_held: int, root_id: str,
                 deemed_long: bool):
        self.disp = disp
        self.shares_left = disp.shares
        self.loss_left = loss
        self.days_held = days_held
        self.root_id = root_id
        self.deemed_long = deemed_long

    def order(self) -> tuple[dt.date, dt.date, int, int, int]:
        # Reg. §1.1091-1(b): in order of disposition; same day: in order of original acquisition
        return (self.disp.sold, *self.disp.lot_key, self.disp.n)


@dataclass(frozen=True)
class _Gift:
    account: str
    ticker: str
    lot_id: str
    shares: Decimal
    acquired: dt.date
    holding_start: dt.date
    date: dt.date
    fmv: Decimal
    basis: Decimal
    term: Term

    @property
    def deduction_base(self) -> Decimal:
        # Long-term capital gain property: FMV. Short-term (ordinary-income) property: the
        # lesser of basis and FMV (Pub 526).
        return self.fmv if self.term is Term.LONG else min(self.basis, self.fmv)


_TERM_TEXT = {Term.SHORT: "ST", Term.LONG: "LT"}

DISPOSITION_COLUMNS = [
    "account", "ticker", "lot_id", "shares", "date_acquired", "date_sold", "proceeds",
    "cost_basis", "adjustment_code", "adjustment_amount", "gain_loss", "term",
    "disallowed_permanently", "inherited", "source_row",
]


@dataclass
class _Match:
    sale_account: str
    sale_ticker: str
    sale_lot_id: str
    sale_date: dt.date
    replacement_account: str
    replacement_ticker: str
    replacement_lot_id: str
    replacement_date: dt.date
    shares: Decimal
    disallowed: Decimal
    permanent: bool
    new_holding_start: dt.date | None


class Ledger:
    """A household's tax-lot ledger with IRS-exact wash-sale matching.

    Parameters
    ----------
    accounts : Iterable[Account]
        The household's accounts. Trades in an account not declared here raise.
    identity : IdentityTable | None
        Substantially-identical groups; default :meth:`IdentityTable.default` following
        ``policy.share_classes_identical``.
    policy : TaxPolicy
        Conventions where the law is open.

    Notes
    -----
    Transactions must come in non-decreasing date order; matching of a day's loss sales
    against acquisitions in the previous 30 days runs when the clock moves past the day (or
    when a result is read), so all of a day's sales are matched together in order of the
    sold lots' original acquisition (Reg. §1.1091-1(b)).
    """

    def __init__(self, accounts: Iterable[Account], identity: IdentityTable | None = None,
                 policy: TaxPolicy = DEFAULT_POLICY):
        self.policy = policy
        self.identity = identity or IdentityTable.default(policy.share_classes_identical)
        self.accounts: dict[str, Account] = {}
        for a in accounts:
            if a.account_id in self.accounts:
                raise LedgerError(f"account '{a.account_id}' declared twice")
            self.accounts[a.account_id] = a
        self._lots: dict[tuple[str, str], list[_L]] = {}
        self._cands: dict[str, list[_L]] = {}  # per identity group, in order bought
        self._pending: dict[str, list[_Loss]] = {}
        self._today: list[_Loss] = []
        self._disps: list[_D] = []
        self._matches: list[_Match] = []
        self._gifts: list[_Gift] = []
        self._ira_sales: list[tuple] = []
        self._fork_groups: set[str] | None = None  # set on forks limited to some groups
        self._clock: dt.date | None = None
        self._tpos = 0  # canonical position of the trade being applied (set by replay)
        self._seq = 0
        self._ids: set[str] = set()

    # ---------------------------------------------------------------- helpers
    def _account(self, account: str) -> Account:
        try:
            return self.accounts[account]
        except KeyError:
            known = ", ".join(sorted(self.accounts)) or "none"
            raise LedgerError(
                f"account '{account}' is not declared (declared: {known}); add it to the "
                "profile's [[accounts]] or fix the account column"
            ) from None

    def _advance(self, date: dt.date) -> None:
        if self._clock is not None:
            if date < self._clock:
                raise LedgerError(
                    f"transaction dated {date} is earlier than one already applied "
                    f"({self._clock}); apply transactions in date order (replay() sorts them)"
                )
            if date > self._clock:
                self._settle()
        self._clock = date

    def _outside_fork(self, ticker: str) -> None:
        raise LedgerError(f"this ledger is a fork limited to {sorted(self._fork_groups)}; "
                          f"fork it with {ticker!r} included to trade it")

    def _new_id(self, wanted: str | None) -> str:
        if wanted is not None:
            if wanted in self._ids:
                raise LedgerError(f"lot id '{wanted}' is used twice; lot ids must be unique")
            self._ids.add(wanted)
            return wanted
        while True:
            self._seq += 1
            cand = f"L{self._seq:06d}"
            if cand not in self._ids:
                self._ids.add(cand)
                return cand

    def _insert_lot(self, lot: _L) -> None:
        lots = self._lots.setdefault((lot.account, lot.ticker), [])
        if not lots or lots[-1].k <= lot.k:
            lots.append(lot)
        else:
            bisect.insort(lots, lot, key=_L.key)
        if not lot.used:
            cands = self._cands.setdefault(lot.group, [])
            if len(cands) > 32 and self._clock is not None:
                lo = self._clock - _WINDOW
                cands[:] = [c for c in cands if c.acquired >= lo and c.shares > 0 and not c.used]
            if not cands or cands[-1].k <= lot.k:
                cands.append(lot)
            else:
                bisect.insort(cands, lot, key=_L.key)

    # ---------------------------------------------------------------- opening lots
    def add_lot(self, account: str, ticker: str, shares: Decimal, basis: Decimal,
                acquired: dt.date, lot_id: str | None = None, inherited: bool = False,
                loss_basis: Decimal | None = None) -> str:
        """Add an already-held lot (from a lots file); returns its id.

        Opening lots can be added in any order and before or after trades, as long as their
        acquisition date is not after the ledger's clock. They count as acquisitions for
        wash-sale matching like any buy on their acquisition date.
        """
        acc = self._account(account)
        if shares <= 0:
            raise LedgerError(f"lot {lot_id or ''} of {ticker}: shares must be positive")
        if self._clock is not None and acquired > self._clock:
            raise LedgerError(f"lot {lot_id} of {ticker} acquired {acquired}, after the ledger "
                              f"date {self._clock}")
        self._seq += 1
        lid = self._new_id(lot_id)
        lot = _L(lid, lid, account, ticker, self.identity.group(ticker), shares, basis,
                 acquired, acquired, self._seq, inherited, loss_basis,
                 acc.account_type is AccountType.IRA)
        self._insert_lot(lot)
        return lid

    # ---------------------------------------------------------------- trades
    def apply(self, trade: Trade) -> None:
        """Apply one trade (buy or sell)."""
        if trade.side is Side.BUY:
            self.buy(trade.date, trade.account, trade.ticker, trade.shares, trade.price,
                     lot_id=trade.lot_id, fees=trade.fees)
        else:
            self.sell(trade.date, trade.account, trade.ticker, trade.shares, trade.price,
                      method=trade.method, lot_id=trade.lot_id, fees=trade.fees, row=trade.row)

    def buy(self, date: dt.date, account: str, ticker: str, shares: Decimal, price: Decimal,
            lot_id: str | None = None, fees: Decimal = ZERO) -> str:
        """Buy shares: open a lot, matching it first against pending wash-sale losses.

        Returns
        -------
        str
            The new lot's id (pieces split off for wash sales get ``<id>/w<n>``).
        """
        acc = self.accounts.get(account) or self._account(account)
        if shares <= 0:
            raise LedgerError(f"buy of {ticker} on {date}: shares must be positive")
        if date != self._clock:
            self._advance(date)
        group = self.identity.group(ticker)
        if self._fork_groups is not None and group not in self._fork_groups:
            self._outside_fork(ticker)
        self._seq += 1
        lid = self._new_id(lot_id)
        lot = _L(lid, lid, account, ticker, group, shares, money(shares * price + fees), date,
                 date, self._seq, False, None, acc.account_type is AccountType.IRA)
        pend = self._pending.get(group)
        if pend:
            # pending losses are kept in order of disposition (Reg. §1.1091-1(b))
            cutoff = date - _WINDOW
            matched = pend[0].disp.sold < cutoff
            for p in pend:
                if lot.used:
                    break
                if p.shares_left > 0 and p.disp.sold >= cutoff:
                    piece = self._match(p, lot)
                    matched = True
                    if piece is not lot:
                        self._insert_lot(piece)
            if matched:
                self._pending[group] = [p for p in pend
                                        if p.shares_left > 0 and p.disp.sold >= cutoff]
        self._insert_lot(lot)
        return lid

    def _select(self, lots: list[_L], method: LotRelief, shares: Decimal, price: Decimal,
                date: dt.date, lot_id: str | None, what: Callable[[], str]
                ) -> list[tuple[_L, Decimal]]:
        if method is LotRelief.SPECIFIC:
            if lot_id is None:
                raise LedgerError(f"{what()}: specific identification needs a lot_id")
            order = [lt for lt in lots if lt.root_id == lot_id or lt.lot_id == lot_id]
            if not order:
                ids = ", ".join(sorted({lt.root_id for lt in lots})) or "none"
                raise LedgerError(f"{what()}: lot '{lot_id}' is not open (open lots: {ids})")
        elif method is LotRelief.FIFO:
            order = lots
        elif method is LotRelief.HIFO:
            order = sorted(lots, key=_HIFO_KEY)
        elif method is LotRelief.MIN_TAX:
            order = _min_tax_order(lots, float(price), date)
        else:  # pragma: no cover - enum exhausted
            raise LedgerError(f"unknown lot relief method {method}")
        out: list[tuple[_L, Decimal]] = []
        left = shares
        for lt in order:
            k = lt.shares if lt.shares <= left else left
            out.append((lt, k))
            left -= k
            if left <= 0:
                return out
        avail = shares - left
        if method is LotRelief.SPECIFIC:
            raise InsufficientSharesError(
                f"{what()}: lot '{lot_id}' holds {avail} shares, the sale asks for {shares}")
        raise InsufficientSharesError(
            f"{what()}: the account holds {avail} shares, the sale asks for {shares}; "
            "reduce the quantity or add the missing lots")

    def sell(self, date: dt.date, account: str, ticker: str, shares: Decimal, price: Decimal,
             method: LotRelief | None = None, lot_id: str | None = None, fees: Decimal = ZERO,
             row: int | None = None) -> list[int]:
        """Sell shares, relieving lots by ``method`` (default: the account's method).

        Returns
        -------
        list[int]
            Indices of the dispositions created (one per lot piece relieved); empty for IRA
            sales, which realise nothing taxable.
        """
        acc = self.accounts.get(account) or self._account(account)
        if shares <= 0:
            raise LedgerError(f"sale of {ticker} on {date}: shares must be positive")
        if date != self._clock:
            self._advance(date)
        if self._fork_groups is not None and self.identity.group(ticker) not in \
                self._fork_groups:
            self._outside_fork(ticker)
        method = method or (LotRelief.SPECIFIC if lot_id else acc.relief)
        lots = self._lots.get((account, ticker), [])
        picks = self._select(lots, method, shares, price, date, lot_id,
                             lambda: f"sale of {shares} {ticker} in account '{account}' on "
                                     f"{date}")
        total_proceeds = money(shares * price - fees)
        out: list[int] = []
        p_left, s_left = total_proceeds, shares
        for lot, k in picks:
            proceeds = p_left if k == s_left else money(p_left * k / s_left)
            p_left -= proceeds
            s_left -= k
            basis = lot.basis if k == lot.shares else money(lot.basis * k / lot.shares)
            loss_basis = None
            if lot.loss_basis is not None:
                loss_basis = (lot.loss_basis if k == lot.shares
                              else money(lot.loss_basis * k / lot.shares))
                lot.loss_basis -= loss_basis
            lot.basis -= basis
            lot.shares -= k
            lot.touch()
            if acc.account_type is AccountType.IRA:
                self._ira_sales.append((date, account, ticker, lot.lot_id, k, proceeds, basis,
                                        self._tpos))
                continue
            if loss_basis is not None:  # Pub 551 dual basis of a gifted lot
                if proceeds > basis:
                    pass
                elif proceeds < loss_basis:
                    basis = loss_basis
                else:
                    basis = proceeds
            term = lot.term(date)
            d = _D(len(self._disps), lot, k, date, proceeds, basis, term, row)
            d.tpos = self._tpos
            self._disps.append(d)
            out.append(d.n)
            if proceeds < basis:
                self._today.append(_Loss(d, basis - proceeds, (date - lot.holding_start).days,
                                         lot.root_id, lot.deemed_long))
        if picks[-1][0].shares <= 0 or len(picks) > 1:
            self._lots[(account, ticker)] = [lt for lt in lots if lt.shares > 0]
        return out

    def donate(self, date: dt.date, account: str, ticker: str, shares: Decimal,
               fmv_price: Decimal, method: LotRelief | None = None,
               lot_id: str | None = None) -> None:
        """Give shares to a public charity: no gain is realised; the gift is recorded.

        The deduction base is FMV for long-term lots and the lesser of basis and FMV for
        short-term lots; the AGI limits and carryforward are applied by
        :func:`pma_lab.tax.charitable_deductions`.
        """
        acc = self._account(account)
        if acc.account_type is AccountType.IRA:
            raise LedgerError(f"gift of {ticker} from IRA '{account}': lots in an IRA cannot be "
                              "donated as appreciated stock; use a taxable account")
        self._advance(date)
        if self._fork_groups is not None and self.identity.group(ticker) not in \
                self._fork_groups:
            self._outside_fork(ticker)
        method = method or (LotRelief.SPECIFIC if lot_id else acc.relief)
        lots = self._lots.get((account, ticker), [])
        def what() -> str:
            return f"gift of {shares} {ticker} from account '{account}' on {date}"

        for lot, k in self._select(lots, method, shares, fmv_price, date, lot_id, what):
            basis = lot.basis if k == lot.shares else money(lot.basis * k / lot.shares)
            if lot.loss_basis is not None:
                lb = lot.loss_basis if k == lot.shares else money(lot.loss_basis * k / lot.shares)
                lot.loss_basis -= lb
            lot.basis -= basis
            lot.shares -= k
            self._gifts.append(_Gift(account, ticker, lot.lot_id, k, lot.acquired,
                                     lot.holding_start, date, money(k * fmv_price), basis,
                                     lot.term(date)))
        self._lots[(account, ticker)] = [lt for lt in lots if lt.shares > 0]

    def split(self, date: dt.date, ticker: str, ratio: Decimal) -> None:
        """Apply a stock split or nontaxable stock dividend (``ratio`` new shares per old).

        Shares of every lot in every account scale; basis and holding period stay, so a 2 %
        stock dividend is ``ratio=Decimal("1.02")`` (Pub 550; VITA "Lenny").
        """
        if ratio <= 0:
            raise LedgerError(f"split of {ticker} on {date}: ratio must be positive")
        self._advance(date)
        for (_acc, tk), lots in self._lots.items():
            if tk == ticker:
                for lt in lots:
                    lt.shares *= ratio
                    lt.touch()
        for losses in (self._today, *self._pending.values()):
            for p in losses:
                if p.disp.ticker == ticker:
                    p.shares_left *= ratio

    # ---------------------------------------------------------------- wash-sale matching
    def _match(self, loss: _Loss, lot: _L) -> _L:
        """Match ``loss`` against the free shares of ``lot``.

        Returns the replacement piece: ``lot`` itself when all its shares are used, else a
        new lot split off it (not yet inserted; the caller inserts it).
        """
        k = lot.shares if lot.shares <= loss.shares_left else loss.shares_left
        dis = loss.loss_left if k == loss.shares_left else money(
            loss.loss_left * k / loss.shares_left)
        loss.shares_left -= k
        loss.loss_left -= dis
        d = loss.disp
        d.adjustment += dis
        if k == lot.shares:
            piece = lot
        else:
            basis = money(lot.basis * k / lot.shares)
            lot.basis -= basis
            lot.shares -= k
            lot.touch()
            lot.nsplit += 1
            piece = _L(f"{lot.root_id}/w{lot.nsplit}" if lot.piece == 0
                       else f"{lot.lot_id}.{lot.nsplit}",
                       lot.root_id, lot.account, lot.ticker, lot.group, k, basis,
                       lot.acquired, lot.holding_start, lot.seq, False, None, lot.is_ira,
                       lot.nsplit if lot.piece == 0 else lot.piece * 1000 + lot.nsplit)
        piece.used = True
        new_start: dt.date | None = None
        if lot.is_ira:
            d.permanent += dis  # Rev. Rul. 2008-5: lost for good, no basis increase
        else:
            piece.basis += dis
            piece.wash_adj += dis
            piece.touch()
            new_start = piece.acquired - dt.timedelta(days=loss.days_held)
            if loss.deemed_long:  # replaced an inherited lot: deemed held > 1 year
                new_start = min(new_start, add_years(piece.acquired, -1) - dt.timedelta(days=1))
            piece.set_start(new_start)
        self._matches.append(_Match(d.account, d.ticker, d.lot_id, d.sold, piece.account,
                                    piece.ticker, piece.lot_id, piece.acquired, k, dis,
                                    lot.is_ira, new_start))
        return piece

    def _settle(self) -> None:
        """Match the current day's loss sales against acquisitions in the window."""
        if not self._today:
            return
        today, self._today = self._today, []
        day = self._clock
        lo = day - _WINDOW
        today.sort(key=_Loss.order)
        for loss in today:
            g = loss.disp.group
            cands = self._cands.get(g)
            if cands:
                keep = [c for c in cands if c.acquired >= lo and c.shares > 0 and not c.used]
                self._cands[g] = keep
                for c in keep:
                    if loss.shares_left <= 0:
                        break
                    if c.used or c.shares <= 0:
                        continue
                    if (not self.policy.same_lot_replacement) and c.root_id == loss.root_id:
                        continue
                    piece = self._match(loss, c)
                    if piece is not c:
                        self._insert_lot(piece)
            if loss.shares_left > 0:
                pend = self._pending.setdefault(g, [])
                if pend and pend[0].disp.sold < lo:
                    pend[:] = [p for p in pend if p.disp.sold >= lo and p.shares_left > 0]
                pend.append(loss)

    def fork(self, tickers: Iterable[str] | None = None) -> Ledger:
        """An independent copy for what-if trades (the original is never changed).

        With ``tickers``, only the state of their identity groups is copied (cheap even for
        a ledger with thousands of lots); the fork then refuses trades in other groups,
        whose state it shares read-only with the original.
        """
        self._settle()
        new = Ledger.__new__(Ledger)
        new.policy, new.identity = self.policy, self.identity
        new.accounts = dict(self.accounts)
        groups = None if tickers is None else {self.identity.group(t) for t in tickers}

        def mine(group: str) -> bool:
            return groups is None or group in groups

        lot_map: dict[int, _L] = {}

        def copy_lot(lot: _L) -> _L:
            c = copy.copy(lot)
            lot_map[id(lot)] = c
            return c

        new._lots = {k: ([copy_lot(lt) for lt in v] if mine(self.identity.group(k[1])) else v)
                     for k, v in self._lots.items()}
        new._cands = {g: ([lot_map.get(id(lt), lt) for lt in v] if mine(g) else v)
                      for g, v in self._cands.items()}
        disp_map: dict[int, _D] = {}
        disps = []
        for d in self._disps:
            if mine(d.group):
                c = copy.copy(d)
                disp_map[id(d)] = c
                disps.append(c)
            else:
                disps.append(d)
        new._disps = disps
        pend: dict[str, list[_Loss]] = {}
        for g, losses in self._pending.items():
            if mine(g):
                out = []
                for p in losses:
                    c = copy.copy(p)
                    c.disp = disp_map[id(p.disp)]
                    out.append(c)
                pend[g] = out
            else:
                pend[g] = losses
        new._pending = pend
        new._today = []
        new._matches = list(self._matches)
        new._gifts = list(self._gifts)
        new._ira_sales = list(self._ira_sales)
        new._clock, new._tpos, new._seq = self._clock, self._tpos, self._seq
        new._ids = set(self._ids)
        new._fork_groups = groups
        return new

    def import_history(self, history: Ledger) -> None:
        """Take over another ledger's realised history: dispositions and open loss shares.

        Used when the current lots come from a custodian file and the recent trades from a
        blotter replayed in a separate ledger: the blotter's sales count toward this year's
        realised gains, and its loss shares not yet absorbed by a replacement stay open to
        wash-sale matching against purchases made here (within 30 days of each sale). The
        history's buys are not imported; lots still held are in the lots file.
        """
        history._settle()
        self._settle()
        if self._disps:
            raise LedgerError("import_history() must come before any sale in this ledger")
        for n, d in enumerate(history._disps):
            d.n = n
            d.group = self.identity.group(d.ticker)
        self._disps = list(history._disps)
        self._matches = list(history._matches) + self._matches
        for losses in history._pending.values():
            for p in losses:
                if p.shares_left > 0:
                    self._pending.setdefault(p.disp.group, []).append(p)
        if history._clock is not None and (self._clock is None or history._clock > self._clock):
            self._clock = history._clock

    # ---------------------------------------------------------------- results
    def settle(self) -> None:
        """Match the last day's losses now (results are read after this automatically)."""
        self._settle()

    @property
    def clock(self) -> dt.date | None:
        """Date of the latest transaction applied."""
        return self._clock

    def lots(self, account: str | None = None, ticker: str | None = None) -> list[Lot]:
        """Open lots (snapshots), in order bought."""
        self._settle()
        out: list[Lot] = []
        for (acc, tk), lots in sorted(self._lots.items()):
            if (account is None or acc == account) and (ticker is None or tk == ticker):
                out.extend(lt.snapshot() for lt in lots if lt.shares > 0)
        return out

    def open_lots(self) -> pd.DataFrame:
        """Open lots as a DataFrame (one row per lot, numeric columns as float)."""
        rows = [
            {
                "lot_id": lt.lot_id, "root_id": lt.root_id, "account": lt.account,
                "account_type": self.accounts[lt.account].account_type.value,
                "ticker": lt.ticker, "shares": float(lt.shares), "basis": float(lt.basis),
                "basis_per_share": float(lt.basis_per_share), "acquired": lt.acquired,
                "holding_start": lt.holding_start, "long_term_on": lt.long_term_on(),
                "wash_adjustment": float(lt.wash_adjustment), "inherited": lt.inherited,
                "used_as_replacement": lt.used_as_replacement,
            }
            for lt in self.lots()
        ]
        return pd.DataFrame(rows, columns=[
            "lot_id", "root_id", "account", "account_type", "ticker", "shares", "basis",
            "basis_per_share", "acquired", "holding_start", "long_term_on",
            "wash_adjustment", "inherited", "used_as_replacement"])

    def dispositions(self, as_decimal: bool = False) -> pd.DataFrame:
        """Realised dispositions in the shape of Form 8949, in order of sale.

        Columns: account, ticker, lot_id, shares, date_acquired (after tacking), date_sold,
        proceeds, cost_basis (after adjustments), adjustment_code (``W`` for a wash sale),
        adjustment_amount (disallowed loss, positive), gain_loss (proceeds - basis +
        adjustment), term (ST/LT), disallowed_permanently (IRA replacement), inherited,
        source_row. Money columns are Decimal when ``as_decimal`` else float.
        """
        self._settle()
        ds = self._disps

        def money_col(values: list[Decimal]) -> list[Decimal] | np.ndarray:
            return values if as_decimal else np.array(values, dtype=float)

        proceeds = [d.proceeds for d in ds]
        basis = [d.basis for d in ds]
        adj = [d.adjustment for d in ds]
        cols = {
            "account": [d.account for d in ds],
            "ticker": [d.ticker for d in ds],
            "lot_id": [d.lot_id for d in ds],
            "shares": money_col([d.shares for d in ds]),
            "date_acquired": [d.holding_start for d in ds],
            "date_sold": [d.sold for d in ds],
            "proceeds": money_col(proceeds),
            "cost_basis": money_col(basis),
            "adjustment_code": ["W" if a else "" for a in adj],
            "adjustment_amount": money_col(adj),
            "gain_loss": money_col([p - b + a for p, b, a in zip(proceeds, basis, adj,
                                                                 strict=True)]),
            "term": [_TERM_TEXT[d.term] for d in ds],
            "disallowed_permanently": money_col([d.permanent for d in ds]),
            "inherited": [d.inherited for d in ds],
            "source_row": [d.row for d in ds],
        }
        return pd.DataFrame(cols, columns=DISPOSITION_COLUMNS)

    def wash_sale_matches(self) -> pd.DataFrame:
        """Every wash-sale match: which sale's loss went onto which replacement shares."""
        self._settle()
        cols = list(_Match.__dataclass_fields__)
        ms = sorted(self._matches, key=lambda m: (m.sale_date, m.sale_account, m.sale_lot_id,
                                                  m.replacement_date, m.replacement_lot_id))
        return pd.DataFrame([[getattr(m, c) for c in cols] for m in ms], columns=cols)

    def gifts(self) -> pd.DataFrame:
        """Charitable gifts of lots, with the deduction base of each."""
        self._settle()
        cols = ["account", "ticker", "lot_id", "shares", "acquired", "holding_start", "date",
                "fmv", "basis", "term", "deduction_base"]
        return pd.DataFrame(
            [[g.account, g.ticker, g.lot_id, g.shares, g.acquired, g.holding_start, g.date,
              g.fmv, g.basis, g.term.value, g.deduction_base] for g in self._gifts],
            columns=cols)

    def ira_sales(self) -> pd.DataFrame:
        """Sales inside IRAs (no gain or loss is realised; kept for share and basis audit)."""
        return pd.DataFrame([r[:7] for r in self._ira_sales],
                            columns=["date", "account", "ticker", "lot_id", "shares", "proceeds",
                                     "basis"])

    def realized(self, year: int | None = None) -> dict[str, Decimal]:
        """Net realised ST and LT gain (after wash-sale adjustments), optionally for a year."""
        self._settle()
        st = lt = ZERO
        for d in self._disps:
            if year is not None and d.sold.year != year:
                continue
            g = d.proceeds - d.basis + d.adjustment
            if d.term is Term.SHORT:
                st += g
            else:
                lt += g
        return {"st": st, "lt": lt}

    def locks(self, as_of: dt.date) -> pd.DataFrame:
        """Wash-sale lock table at ``as_of`` for the household, one row per lock.

        ``no_buy``: a loss realised in the last 30 days still has loss shares no replacement
        absorbed; buying any ticker of the group on or before ``until`` washes it (the first
        clean day is ``until`` + 1).
        ``no_loss_sale``: shares acquired in the last 30 days can still absorb a loss; selling
        another lot of the group at a loss on or before ``until`` is a wash sale.
        """
        self._settle()
        lo = as_of - _WINDOW
        rows: dict[tuple[str, str], dt.date] = {}
        for g, losses in self._pending.items():
            for p in losses:
                if p.shares_left > 0 and lo <= p.disp.sold <= as_of:
                    until = first_clean_buy_date(p.disp.sold) - dt.timedelta(days=1)
                    rows[("no_buy", g)] = max(rows.get(("no_buy", g), until), until)
        for lots in self._lots.values():
            for lt in lots:
                if lo <= lt.acquired <= as_of and lt.shares > 0 and not lt.used:
                    key = ("no_loss_sale", lt.group)
                    until = lt.acquired + _WINDOW
                    rows[key] = max(rows.get(key, until), until)
        out = [{"lock": k[0], "group": k[1],
                "tickers": ",".join(sorted(self.identity.members(k[1]))), "until": v}
               for k, v in sorted(rows.items())]
        return pd.DataFrame(out, columns=["lock", "group", "tickers", "until"])


_HIFO_KEY = operator.attrgetter("hkey")


def _min_tax_order(lots: list[_L], price: float, date: dt.date) -> list[_L]:
    """Min-tax relief order.

    Short-term losses, then long-term losses (largest loss per share first), then long-term
    gains, then short-term gains (smallest gain per share first). Within every bucket that
    is highest basis per share first, so one HIFO sort and a stable partition give the
    order. Floats only order lots; amounts stay Decimal.
    """
    st_loss, lt_loss, lt_gain, st_gain = [], [], [], []
    for lt in sorted(lots, key=_HIFO_KEY):
        long = lt.deemed_long or date >= lt.ltd
        if lt.bps > price:
            (lt_loss if long else st_loss).append(lt)
        else:
            (lt_gain if long else st_gain).append(lt)
    return st_loss + lt_loss + lt_gain + st_gain


def _auto_id(t: Trade, pos: int) -> str | None:
    """Lot id of a buy: the blotter's, else one derived from the row (or position)."""
    if t.side is not Side.BUY or t.lot_id is not None:
        return t.lot_id
    return f"R{t.row}" if t.row is not None else f"T{pos + 1:06d}"


def _replay_part(items: list[tuple[int, Trade]], accounts: list[Account],
                 opening: list[dict], identity: IdentityTable, policy: TaxPolicy) -> Ledger:
    led = Ledger(accounts, identity=identity, policy=policy)
    for lot in opening:
        led.add_lot(**lot)
    buy, sell = led.buy, led.sell
    for pos, t in items:
        led._tpos = pos
        try:
            if t.side is Side.BUY:
                buy(t.date, t.account, t.ticker, t.shares, t.price, _auto_id(t, pos), t.fees)
            else:
                sell(t.date, t.account, t.ticker, t.shares, t.price, t.method, t.lot_id, t.fees,
                     t.row)
        except LedgerError as e:
            where = f"row {t.row}: " if t.row is not None else ""
            raise type(e)(f"{where}{e}") from None
    led.settle()
    return led


def replay(trades: Sequence[Trade], accounts: Iterable[Account],
           opening_lots: Iterable[dict] = (), identity: IdentityTable | None = None,
           policy: TaxPolicy = DEFAULT_POLICY) -> Ledger:
    """Replay a blotter through a fresh ledger in canonical order.

    Parameters
    ----------
    trades : Sequence[Trade]
        The blotter rows, in any order. Buys without a lot id get ``R<row>`` (or
        ``T<position>`` when the trade has no source row).
    accounts : Iterable[Account]
        The household's accounts.
    opening_lots : Iterable[dict]
        Lots held before the first trade: dicts with keys of :meth:`Ledger.add_lot`.
    identity, policy
        As for :class:`Ledger`.

    Returns
    -------
    Ledger
        The ledger after every trade, settled.

    Raises
    ------
    LedgerError
        A trade cannot be applied; the message names the blotter row.
    """
    accounts = list(accounts)
    identity = identity or IdentityTable.default(policy.share_classes_identical)
    opening = list(opening_lots)
    order = sorted(trades, key=lambda t: (t.date, t.side is Side.SELL, t.account, t.ticker,
                                          t.price, t.shares, t.lot_id or "", t.fees,
                                          t.row if t.row is not None else -1))
    return _replay_part(list(enumerate(order)), accounts, opening, identity, policy)
