"""The tax-lot ledger: the single source of tax truth in pma_lab.

Every number about realised gains, basis, holding periods and wash sales comes from here:
the optimizer reads lot attributes and lock tables from it, the transition simulator
applies its trades through it, and ``pma-lab ledger replay`` exposes it as Form 8949 rows.

Numbers: :class:`decimal.Decimal` at the edges (arguments and results), integers inside.
Money is held in whole cents and shares in whole micro-shares (1e-6 share; custodians report
fractional shares to at most six decimals, and a quantity given more finely is rounded
half-even to that unit at the door). Prices and fees keep every digit they are given: an
amount such as ``shares x price + fees`` is computed exactly and rounded once to the cent,
half up (the Form 8949 convention), and a lot's basis or a sale's proceeds split across lots
or replacement shares is divided exactly with remainders carried, so money is conserved to
the cent. Integer arithmetic (and pausing the cycle collector while a replay allocates its
lots) makes a replay about twice as fast as the Decimal ledger it replaced, with the same
Form 8949 rows (``benchmarks/bench_ledger.py`` measures both).

Rules implemented (citations as in ``tax-and-optimization.md`` §5-§6):

* Holding period (Pub 550): from the day after acquisition; long-term when held more than one
  year (:func:`pma_lab.tax.rules.long_term_date`, with the month-end rule of Rev. Rul. 66-7
  there). Inherited lots are always long-term.
* Lot relief: FIFO (the IRS default), HIFO, specific identification, and min-tax (losses
  first: short-term losses then long-term losses, largest loss per share first; then
  long-term gains before short-term gains, smallest gain per share first).
* Wash sales (§1091, Reg. §1.1091-1, Pub 550, Rev. Rul. 2008-5): a loss on a disposition is
  disallowed when substantially identical shares (same identity group, any account of the
  household) are acquired **by purchase** within 30 days before or after the sale; inherited
  and gifted lots are never replacement shares. Replacement shares are matched in the order
  bought; several losses are matched in order of disposition (same day: in order of
  original acquisition); each replacement share absorbs one loss share once (Reg.
  §1.1091-1(e)). A purchase counts whether or not its shares are still held when the loss
  is matched (the statute asks what was *acquired*): an IRA's purchase disposed of before
  or on the loss-sale day still disallows the loss for good, and a taxable purchase sold
  on the loss-sale day takes the loss into the basis of its own sale (never the shares of
  the loss sale's own lot, nor shares whose own loss was already matched); a taxable
  purchase sold on an earlier day is not counted (docs/tax_rules.md gives the sources and
  this one convention). The disallowed loss is added to the replacement's basis and the
  sold shares' holding period is tacked on (a replacement bought after the sale starts its
  holding period at its purchase date minus the days the sold shares were held; one bought
  before the sale per :attr:`pma_lab.tax.rules.TaxPolicy.tack_overlap_twice`); a purchase in
  an IRA disallows the loss permanently with no basis increase; gains never trigger the
  rule; a loss on one block never reduces gains on others.
* Charitable gifts of lots (no gain realised), stock splits and stock dividends (shares
  scale, basis and holding period stay), gifted lots with a dual basis (Pub 551).

Order of transactions. A ledger accepts transactions in non-decreasing date order.
:func:`replay` orders a blotter by date and, **within a day, in file order** (``Trade.row``,
or the order of the sequence when rows are missing) unless the trades carry a time of day
(``Trade.time``, the blotter's optional ``time`` column), in which case a day's trades run
by time (ties in file order). Same-day order matters: a sale can only relieve shares
bought before it, and lot ids, relief and replacement order follow it. Loss sales of a
day are matched against acquisitions together at the end of the day, in order of the sold
shares' original acquisition (Reg. §1.1091-1(b)), so that part does not depend on order.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import datetime as dt
import gc
import heapq
import importlib.util
import math
import operator
import os
import sys
import types
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from enum import StrEnum
from typing import Final

import numpy as np
import pandas as pd

from pma_lab.errors import InsufficientSharesError, LedgerError

try:  # read by mypyc when it compiles this module (setup.py); a no-op otherwise
    from mypy_extensions import mypyc_attr
except ImportError:  # pragma: no cover - mypy_extensions comes with mypy
    def mypyc_attr(*_args: object, **_kwargs: object):  # type: ignore[misc]
        """No-op stand-in for :func:`mypy_extensions.mypyc_attr`."""
        return lambda cls: cls

from pma_lab.market.tickers import IdentityTable
from pma_lab.tax.rules import (
    DEFAULT_POLICY,
    WASH_SALE_WINDOW_DAYS,
    TaxPolicy,
    Term,
    add_years,
    first_clean_buy_date,
    long_term_date,
    term_of,
)

__all__ = [
    "AccountType",
    "Side",
    "LotRelief",
    "Account",
    "Lot",
    "Trade",
    "Ledger",
    "TradeCheck",
    "replay",
    "opening_lot_conflicts",
    "DISPOSITION_COLUMNS",
    "SHARE_UNIT",
    "COMPILED",
    "pure_python",
]

ZERO = Decimal(0)
SHARE_UNIT = Decimal("0.000001")
"""The smallest share quantity the ledger holds (one micro-share)."""
# Final: the compiled build reads these constants without a dictionary lookup
_MICRO: Final = 1_000_000
_WINDOW: Final = dt.timedelta(days=WASH_SALE_WINDOW_DAYS)
_ONE_DAY: Final = dt.timedelta(days=1)
_LONG: Final = Term.LONG
_SHORT: Final = Term.SHORT


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


_IRA: Final = AccountType.IRA
_BUY: Final = Side.BUY
_FIFO: Final = LotRelief.FIFO
_HIFO: Final = LotRelief.HIFO
_SPECIFIC: Final = LotRelief.SPECIFIC
_MIN_TAX: Final = LotRelief.MIN_TAX


# compiled: a regular Python class (copied, pickled and compared like one)
@mypyc_attr(native_class=False)
@dataclass(frozen=True)
class Account:
    """An account of the household; all accounts share one wash-sale lock table."""

    account_id: str
    account_type: AccountType = AccountType.TAXABLE
    relief: LotRelief = LotRelief.FIFO


# compiled: a regular Python class (copied, pickled and compared like one)
@mypyc_attr(native_class=False)
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
    gift_date : datetime.date | None
        For a lot received as a gift (given with its date): the day it was received. A loss
        computed from the FMV at the gift (``loss_basis``) is held from that day; a gain, or
        a loss from the donor's basis, keeps the donor's holding period (``holding_start``).
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
    gift_date: dt.date | None = None

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

    def sale_basis(self, value: float) -> tuple[float, dt.date | None, dt.date]:
        """The basis (USD), long-term date and holding start a sale for ``value`` reports.

        ``value`` is what the whole lot sells for. A gift's dual basis (IRC §1015, Pub 551)
        as the Form 8949 row of that sale reads it: below the FMV at the gift
        (``loss_basis``), a loss from that FMV, held from the gift (the row's acquisition
        date is the gift's); between the FMV and the donor's basis, the proceeds (neither
        gain nor loss); otherwise, as every other lot, the basis, the long-term date and
        the holding start it has. The optimiser's single account and household, the lots
        summary and the trade file's ``Acquired`` / ``Cost per Share`` read it here.
        """
        basis = float(self.basis)
        if self.loss_basis is None or value > basis:
            return basis, self.long_term_on(), self.holding_start
        lb = float(self.loss_basis)
        if value < lb and self.gift_date is not None:
            return lb, long_term_date(self.gift_date), self.gift_date
        if value < lb:
            return lb, self.long_term_on(), self.holding_start
        return value, self.long_term_on(), self.holding_start


# compiled: a regular Python class (copied, pickled and compared like one)
@mypyc_attr(native_class=False)
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
    row: int | None = None  # source row: file order within a day, and error messages
    time: dt.time | None = None  # time of day, when the blotter has one (orders a day)


# ------------------------------------------------------------------------------------------
# Decimal <-> integer at the edges
# ------------------------------------------------------------------------------------------

_Q_CACHE: Final[dict[object, int]] = {}
_CACHE_MAX: Final = 1 << 16


def _dec(x: object, what: str) -> Decimal:
    if isinstance(x, Decimal):
        d = x
    else:
        try:
            d = Decimal(x) if isinstance(x, int) else Decimal(str(x))
        except (InvalidOperation, ValueError, TypeError):
            raise LedgerError(f"{what}: {x!r} is not a number") from None
    if not d.is_finite():
        raise LedgerError(f"{what}: {x!r} is not a finite number")
    return d


def _micro(x: object, what: str = "shares") -> int:
    """Shares as whole micro-shares (rounded half-even to 1e-6 share)."""
    try:
        q = _Q_CACHE.get(x)
    except TypeError:  # unhashable, or a signalling NaN
        q = None
    if q is not None:
        return q
    d = _dec(x, what)
    q = int(d.scaleb(6).to_integral_value(ROUND_HALF_EVEN))
    if len(_Q_CACHE) < _CACHE_MAX:
        _Q_CACHE[x] = q
    return q


def _ratio(x: object, what: str) -> tuple[int, int]:
    """An exact decimal as a fraction ``(numerator, denominator > 0)``."""
    if x.__class__ is Decimal and x.is_finite():
        return x.as_integer_ratio()
    return _dec(x, what).as_integer_ratio()


def _rdiv(n: int, d: int) -> int:
    """``n / d`` rounded to an integer, half away from zero (``d > 0``)."""
    if n >= 0:
        return (2 * n + d) // (2 * d)
    return -((-2 * n + d) // (2 * d))


def _amount(q: int, price: object, fees: object, sign: int) -> int:
    """``shares x price + sign x fees`` in cents, exact then rounded half up once."""
    if price.__class__ is Decimal and price.is_finite():  # the usual case, inline
        pn, pd_ = price.as_integer_ratio()
    else:
        pn, pd_ = _ratio(price, "price")
    if not fees:
        n, d = q * pn, pd_ * 10_000
    else:
        fn, fd = _ratio(fees, "fees")
        n, d = q * pn * fd + sign * fn * pd_ * _MICRO, pd_ * fd * 10_000
    if n >= 0:  # _rdiv, inline
        return (2 * n + d) // (2 * d)
    return -((-2 * n + d) // (2 * d))


COMPILED: bool = not hasattr(_rdiv, "__code__")
"""True when this module is the mypyc-compiled build of ``ledger.py`` (see ``setup.py``),
False when it runs as pure Python (the same source)."""


def pure_python() -> types.ModuleType:
    """The ledger module run as pure Python from ``ledger.py`` (itself when not compiled).

    The compiled build and the source must give the same results; tests and
    ``benchmarks/bench_ledger.py`` run both. Its classes are distinct from the compiled
    module's (a ``Trade`` of one is not a ``Trade`` of the other).
    """
    if not COMPILED:
        return sys.modules[__name__]
    name = f"{__name__}_pure"
    mod = sys.modules.get(name)
    if mod is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ledger.py")
        loader = importlib.machinery.SourceFileLoader(name, path)
        spec = importlib.util.spec_from_file_location(name, path, loader=loader)
        if spec is None:  # pragma: no cover - a path and a loader always give a spec
            raise ImportError(f"cannot load {path} as pure Python")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        try:
            loader.exec_module(mod)
        except BaseException:
            del sys.modules[name]
            raise
    return mod


def _cents(x: object, what: str) -> int:
    """A dollar amount in cents (rounded half up to the cent)."""
    n, d = _ratio(x, what)
    return _rdiv(n * 100, d)


def _usd(c: int) -> Decimal:
    return Decimal(c).scaleb(-2)


_SH_CACHE: Final[dict[int, Decimal]] = {}
_LTD: Final[dict[dt.date, dt.date]] = {}


def _long_term_date(start: dt.date) -> dt.date:
    """:func:`pma_lab.tax.rules.long_term_date`, memoised (lots share few distinct dates)."""
    d = long_term_date(start)
    if len(_LTD) < _CACHE_MAX:
        _LTD[start] = d
    return d


def _sh(q: int) -> Decimal:
    """Micro-shares as a Decimal share count (no trailing zeros)."""
    d = _SH_CACHE.get(q)
    if d is None:
        whole, frac = divmod(q, _MICRO)
        d = Decimal(whole) if not frac else Decimal(q).scaleb(-6).normalize()
        if len(_SH_CACHE) < _CACHE_MAX:
            _SH_CACHE[q] = d
    return d


# ------------------------------------------------------------------------------------------
# internal mutable state
# ------------------------------------------------------------------------------------------


# the fields of _L and _D (their __slots__; named here because a compiled class has no
# __slots__ attribute, and __reduce__ copies them all)
_L_FIELDS = (
    "lot_id", "root_id", "account", "ticker", "group", "q", "b", "acquired", "hs", "ltd",
    "wadj", "lb", "used", "seq", "piece", "nsplit", "deemed_long", "is_ira", "k", "hkey",
    "repl", "held", "gone", "gd", "gift",
)
_D_FIELDS = (
    "n", "account", "ticker", "group", "lot_id", "q", "hs", "sold", "proceeds", "basis",
    "adj", "perm", "term", "inherited", "lot_key", "row", "state", "q_left", "loss_left",
    "root_id",
)
# _D.state: a gain (or a loss not yet in a day's matching), a loss waiting for the end of its
# day's matching, a loss whose matching has run
_GAIN: Final = 0
_WAITING: Final = 1
_MATCHED: Final = 2


class _L:
    """Mutable lot (internal): ``q`` micro-shares, ``b`` basis in cents.

    ``k`` is the order-bought key: the tuple (acquisition date, sequence number, piece
    number) packed into one integer that orders the same (date ordinal, then 64 bits each
    for the sequence and piece numbers, which never come near 2**64). ``ltd`` is the first
    long-term sale date and ``hkey`` the HIFO key (minus the basis per share in dollars, a
    float that only orders lots; ties go to the lot bought first, because a lot list is
    always in ``k`` order and the sorts are stable). Both are cached because every sale
    reads them; :meth:`touch` refreshes ``hkey`` after a change of shares or basis.
    ``repl``: a purchase, so it can be a wash-sale replacement; ``held``: a lot of the
    holdings file that the blotter being replayed did not buy, so the blotter's sales may
    not relieve it.

    ``gone``: not shares held but purchased shares **already disposed of** that can still
    be replacement shares (§1091(a) asks whether shares were *acquired* in the 61-day
    period, not whether they are still held): ``q`` is how many of them have not yet
    absorbed a loss (Reg. §1.1091-1(e)). Such a record lives only in the candidates list,
    never among the open lots. In an IRA (``gd`` is None) it stays a candidate for 30
    days after its purchase; in a taxable account ``gd`` is the disposition of those shares,
    which takes the disallowed loss into its basis (§1091(d)), and it is a candidate on the
    day of that disposition only.
    """

    __slots__ = _L_FIELDS

    def __init__(self, lot_id: str, root_id: str, account: str, ticker: str, group: str,
                 q: int, b: int, acquired: dt.date, hs: dt.date, seq: int, inherited: bool,
                 lb: int | None, is_ira: bool, piece: int = 0, repl: bool = True,
                 held: bool = False):
        self.lot_id = lot_id
        self.root_id = root_id
        self.account = account
        self.ticker = ticker
        self.group = group
        self.q = q
        self.b = b
        self.acquired = acquired
        self.wadj = 0
        self.lb = lb
        self.used = False
        self.seq = seq
        self.piece = piece  # 0 for the lot as acquired, n for the n-th piece split off it
        self.nsplit = 0
        self.deemed_long = inherited
        self.is_ira = is_ira
        self.k = (acquired.toordinal() << 128) | (seq << 64) | piece
        self.hs = hs
        self.ltd = _LTD.get(hs) or _long_term_date(hs)
        self.hkey = -(b * 10_000 / q)
        self.repl = repl
        self.held = held
        self.gone = False
        self.gd: _D | None = None
        # a gift's date (the donee's acquisition): a sale whose loss is computed from the
        # FMV at the gift has its holding period start there, not at the donor's date
        self.gift: dt.date | None = None

    def set_start(self, start: dt.date) -> None:
        self.hs = start
        self.ltd = _LTD.get(start) or _long_term_date(start)

    def touch(self) -> None:
        if self.q > 0:
            self.hkey = -(self.b * 10_000 / self.q)

    def key(self) -> int:
        return self.k

    # copy, deepcopy and pickle: a compiled (mypyc) object cannot be made without its
    # constructor, so they rebuild it from its fields (all immutable values)
    def __reduce__(self) -> tuple[object, tuple[dict[str, object]]]:
        return (_new_lot, (_fields(self, _L_FIELDS),))

    def __copy__(self) -> _L:
        # what __reduce__ gives, field by field (Ledger.fork copies thousands of lots:
        # ~3x faster than the generic path)
        c = _L(self.lot_id, self.root_id, self.account, self.ticker, self.group, self.q,
               self.b, self.acquired, self.hs, self.seq, self.deemed_long, self.lb,
               self.is_ira, self.piece, self.repl, self.held)
        c.wadj, c.used, c.nsplit, c.k = self.wadj, self.used, self.nsplit, self.k
        c.ltd, c.hkey = self.ltd, self.hkey
        c.gone, c.gd, c.gift = self.gone, self.gd, self.gift
        return c

    def snapshot(self) -> Lot:
        return Lot(self.lot_id, self.root_id, self.account, self.ticker, _sh(self.q),
                   _usd(self.b), self.acquired, self.hs, _usd(self.wadj), self.deemed_long,
                   None if self.lb is None else _usd(self.lb), self.used, self.gift)


class _D:
    """Mutable disposition (internal): one lot piece sold in one sale (cents, micro-shares).

    A loss (proceeds below basis) also carries what wash-sale matching reads and consumes:
    ``q_left`` loss shares not yet matched, ``loss_left`` cents of loss on them, and the
    sold lot's ``root_id`` (set by :meth:`Ledger.sell` for losses only; ``hs`` and
    ``inherited`` are the sold shares' holding-period start and inherited flag).
    ``state``: ``_GAIN``, ``_WAITING`` (a loss in its day's matching, not yet matched) or
    ``_MATCHED`` (its matching has run).
    """

    __slots__ = _D_FIELDS
    # set by Ledger.sell for losses only (declared so that a type checker, and mypyc, see them)
    q_left: int
    loss_left: int
    root_id: str

    def __init__(self, n: int, lot: _L, q: int, sold: dt.date, proceeds: int, basis: int,
                 term: Term, row: int | None):
        self.n = n
        self.account = lot.account
        self.ticker = lot.ticker
        self.group = lot.group
        self.lot_id = lot.lot_id
        self.q = q
        self.hs = lot.hs
        self.sold = sold
        self.proceeds = proceeds
        self.basis = basis
        self.adj = 0  # disallowed loss (code W), positive
        self.perm = 0  # part of adj lost for good (IRA replacement)
        self.term = term
        self.inherited = lot.deemed_long
        self.lot_key = lot.k
        self.row = row
        self.state = _GAIN

    def order(self) -> tuple[dt.date, int, int]:
        # Reg. §1.1091-1(b): in order of disposition; same day: in order of original acquisition
        return (self.sold, self.lot_key, self.n)

    def __reduce__(self) -> tuple[object, tuple[dict[str, object]]]:  # see _L.__reduce__
        return (_new_disposition, (_fields(self, _D_FIELDS),))


_STAND_IN: Final = _L("", "", "", "", "", 1, 0, dt.date(1, 1, 1), dt.date(1, 1, 1), 0, False, None,
               False)


def _fields(obj: object, names: Sequence[str]) -> dict[str, object]:
    """The attributes ``names`` that are set on ``obj`` (a _D's loss fields may not be)."""
    out: dict[str, object] = {}
    for name in names:
        try:
            out[name] = getattr(obj, name)
        except AttributeError:
            continue
    return out


def _set_fields(obj: object, state: dict[str, object]) -> None:
    for name, value in state.items():
        setattr(obj, name, value)


def _new_lot(state: dict[str, object]) -> _L:
    """A copied or unpickled _L: placeholder values, then every field of ``state``."""
    c = _L("", "", "", "", "", 1, 0, _STAND_IN.acquired, _STAND_IN.acquired, 0, False, None,
           False)
    _set_fields(c, state)
    return c


def _new_disposition(state: dict[str, object]) -> _D:
    """A copied or unpickled _D."""
    c = _D(0, _STAND_IN, 0, _STAND_IN.acquired, 0, 0, _SHORT, None)
    _set_fields(c, state)
    return c


def _new_ledger(accounts: list[Account], state: dict[str, object]) -> Ledger:
    """A copied or unpickled Ledger."""
    new = Ledger(accounts)
    _set_fields(new, state)
    return new


# compiled: a regular Python class (copied, pickled and compared like one)
@mypyc_attr(native_class=False)
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


# compiled: a regular Python class (see _Gift)
@mypyc_attr(native_class=False)
@dataclass(frozen=True)
class TradeCheck:
    """What a day's trades would do to a ledger, from :meth:`Ledger.check_trades`.

    Attributes
    ----------
    year_before, year_after : tuple[Decimal, Decimal, Decimal, Decimal]
        :meth:`Ledger.year_totals` of the trades' year without and with the trades (ST
        gains, ST losses, LT gains, LT losses; losses negative).
    realized : dict[str, Decimal]
        :meth:`Ledger.realized_since` of the dispositions the trades make (``"st"``,
        ``"lt"``, ``"adjustment"``).
    matches : tuple[tuple, ...]
        :meth:`Ledger.match_rows` of the wash-sale matches the trades make.
    """

    year_before: tuple[Decimal, Decimal, Decimal, Decimal]
    year_after: tuple[Decimal, Decimal, Decimal, Decimal]
    realized: dict[str, Decimal]
    matches: tuple[tuple, ...]


# one identity group's part of a day's trades (Ledger.check_trades): the change of the
# year's totals (ST gains, ST losses, LT gains, LT losses; cents), the ST and LT gain and
# the disallowed loss of the dispositions made (cents), the matches made (as Ledger._matches
# holds them) and whether the group's purchases can change any of it
_Part = tuple[tuple[int, int, int, int], int, int, int, tuple[tuple, ...], bool]
_NO_PART: Final[_Part] = ((0, 0, 0, 0), 0, 0, 0, (), False)
_MEMO_MAX: Final = 100_000  # parts kept per ledger state (then the memo starts again)


def _match_key(m: tuple) -> tuple:
    """:meth:`Ledger.match_rows`' order: sale date, account and lot, replacement date, lot."""
    return (m[3], m[0], m[2], m[7], m[6])


_TERM_TEXT: Final = {Term.SHORT: "ST", Term.LONG: "LT"}

DISPOSITION_COLUMNS = [
    "account", "ticker", "lot_id", "shares", "date_acquired", "date_sold", "proceeds",
    "cost_basis", "adjustment_code", "adjustment_amount", "gain_loss", "term",
    "disallowed_permanently", "inherited", "source_row",
]

_MATCH_COLUMNS = [
    "sale_account", "sale_ticker", "sale_lot_id", "sale_date", "replacement_account",
    "replacement_ticker", "replacement_lot_id", "replacement_date", "shares", "disallowed",
    "permanent", "new_holding_start",
]


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
    sold lots' original acquisition (Reg. §1.1091-1(b)). Amounts are Decimal in and out and
    integer cents and micro-shares inside (see the module docstring).
    """

    def __init__(self, accounts: Iterable[Account], identity: IdentityTable | None = None,
                 policy: TaxPolicy = DEFAULT_POLICY):
        self.policy = policy
        self.identity = identity or IdentityTable.default(policy.share_classes_identical)
        self._gof = self.identity._group_of
        self.accounts: dict[str, Account] = {}
        for a in accounts:
            if a.account_id in self.accounts:
                raise LedgerError(f"account '{a.account_id}' declared twice")
            self.accounts[a.account_id] = a
        self._lots: dict[tuple[str, str], list[_L]] = {}
        self._cands: dict[str, list[_L]] = {}  # per identity group, in order bought
        self._pending: dict[str, list[_D]] = {}  # losses with loss shares left to match
        self._today: list[_D] = []  # the day's losses, matched when the day is over
        self._disps: list[_D] = []
        self._matches: list[tuple] = []
        self._gifts: list[_Gift] = []
        self._ira_sales: list[tuple] = []
        self._fork_groups: set[str] | None = None  # set on forks limited to some groups
        self._clock: dt.date | None = None
        self._glast: dict[str, dt.date] = {}  # per identity group: date of its last trade
        self._n_held = 0  # lots the blotter being replayed may not relieve
        self._tpos = 0  # position of the trade being applied (set by replay)
        self._seq = 0
        self._ids: set[str] = set()
        # bumped by the changes that move none of check_trades' state counters (a split,
        # an imported history, held lots released)
        self._version = 0
        # check_trades' parts of each identity group's trades: (state token, parts, the
        # year's totals by group), for the ledger as it stood at the token
        self._memo: tuple[tuple, dict[tuple, _Part], dict[int, dict[str, list[int]]]] | None \
            = None

    def __reduce__(self) -> tuple[object, tuple[list[Account], dict[str, object]]]:
        # copy, deepcopy and pickle (see _L.__reduce__); check_trades' kept parts are not
        # carried (a copy starts without them, and a pickle stays the ledger's size)
        state = _fields(self, _LEDGER_FIELDS)
        state["_memo"] = None
        return (_new_ledger, (list(self.accounts.values()), state))

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
        raise LedgerError(f"this ledger is a fork limited to {sorted(self._fork_groups or ())}; "
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
        lots = self._lots.get((lot.account, lot.ticker))
        if lots is None:
            self._lots[(lot.account, lot.ticker)] = [lot]
        elif not lots or lots[-1].k <= lot.k:
            lots.append(lot)
        else:
            bisect.insort(lots, lot, key=_L.key)
        if lot.repl and not lot.used:
            cands = self._cands.get(lot.group)
            if cands is None:
                self._cands[lot.group] = [lot]
                return
            if len(cands) > 32 and self._clock is not None:
                lo = self._clock - _WINDOW
                cands[:] = [c for c in cands if c.acquired >= lo and c.q > 0 and not c.used]
            if not cands or cands[-1].k <= lot.k:
                cands.append(lot)
            else:
                bisect.insort(cands, lot, key=_L.key)

    def _absorb_pending(self, lot: _L, date: dt.date) -> None:
        """Match a purchase on ``date`` against earlier losses still open (in sale order)."""
        group = lot.group
        pend = self._pending.get(group)
        if not pend:
            return
        cutoff = date - _WINDOW
        matched = pend[0].sold < cutoff
        for p in pend:
            if lot.used:
                break
            if p.q_left > 0 and p.sold >= cutoff:
                piece = self._match(p, lot)
                matched = True
                if piece is not lot:
                    self._insert_lot(piece)
        if matched:
            self._pending[group] = [p for p in pend if p.q_left > 0 and p.sold >= cutoff]

    # ---------------------------------------------------------------- opening lots
    def add_lot(self, account: str, ticker: str, shares: Decimal, basis: Decimal,
                acquired: dt.date, lot_id: str | None = None, inherited: bool = False,
                loss_basis: Decimal | None = None, gifted: bool = False,
                gift_date: dt.date | None = None) -> str:
        """Add a lot acquired on ``acquired`` (from a lots file); returns its id.

        Before any trade, lots can be added in any order (opening lots). Once trades have
        been applied, a lot dated on or after the ledger's clock is an acquisition on that
        date (the clock moves to it), and an earlier one is accepted only when no trade of
        its identity group is dated after it. A purchased lot counts as an acquisition for
        wash-sale matching on its date, like a buy; an inherited lot, or a gift
        (``gifted``, or a ``loss_basis`` given), is never a replacement (§1091(a) covers
        acquisitions by purchase only).

        A gift (IRC §1015, Pub 551): ``basis`` is the donor's adjusted basis (the gain
        basis), ``acquired`` the donor's acquisition date (the holding period tacks on to the
        donor's), ``loss_basis`` the FMV at the gift when it is below the donor's basis (the
        loss basis; a sale between the two bases has neither gain nor loss), and
        ``gift_date`` the day the gift was received (a loss computed from the FMV is held
        from then, Pub 551 "Holding period"; the Form 8949 row dates it so).

        Raises
        ------
        LedgerError
            Shares not positive, the lot is dated before trades of its identity group
            already applied, or a gift dated before the donor's acquisition or with a loss
            basis above its basis.
        """
        return self._add(account, ticker, shares, basis, acquired, lot_id, inherited,
                         loss_basis, gifted, gift_date=gift_date)

    def _add(self, account: str, ticker: str, shares: Decimal, basis: Decimal,
             acquired: dt.date, lot_id: str | None = None, inherited: bool = False,
             loss_basis: Decimal | None = None, gifted: bool = False,
             held: bool = False, gift_date: dt.date | None = None) -> str:
        acc = self._account(account)
        if gift_date is not None and gift_date < acquired:
            raise LedgerError(f"lot {lot_id or ''} of {ticker}: received as a gift on "
                              f"{gift_date}, before the donor's acquisition on {acquired}; "
                              "give the donor's acquisition date as the lot's date")
        q = _micro(shares, f"lot {lot_id or ''} of {ticker}: shares")
        if q <= 0:
            raise LedgerError(f"lot {lot_id or ''} of {ticker}: shares must be positive")
        group = self._gof.get(ticker, ticker)
        if self._fork_groups is not None and group not in self._fork_groups:
            self._outside_fork(ticker)
        if self._clock is not None:
            if acquired < self._clock:
                last = self._glast.get(group)
                if last is not None and last > acquired:
                    raise LedgerError(
                        f"lot {lot_id or ''} of {ticker} in account '{account}' acquired "
                        f"{acquired} is dated before trades of {ticker}'s identity group "
                        f"already applied (the last on {last}); add lots in date order with "
                        "the trades, or before any trade as opening lots")
            else:
                self._advance(acquired)
            self._glast[group] = max(acquired, self._glast.get(group, acquired))
        self._seq += 1
        lid = self._new_id(lot_id)
        lb = None if loss_basis is None else _cents(loss_basis, f"lot {lid}: loss basis")
        b = _cents(basis, f"lot {lid}: basis")
        if lb is not None and lb > b:
            raise LedgerError(f"lot {lid} of {ticker}: the loss basis {_usd(lb)} is above the "
                              f"basis {_usd(b)}; a gift's loss basis is the lower of the "
                              "donor's basis and the FMV at the gift (Pub 551)")
        repl = not (inherited or gifted or lb is not None or gift_date is not None)
        lot = _L(lid, lid, account, ticker, group, q, b, acquired, acquired, self._seq,
                 inherited, lb, acc.account_type is AccountType.IRA, repl=repl, held=held)
        lot.gift = gift_date
        if held:
            self._n_held += 1
        if repl and self._clock is not None:
            self._absorb_pending(lot, acquired)
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
        q = _Q_CACHE.get(shares) if shares.__class__ is Decimal else None
        if q is None:
            q = _micro(shares)
        if q <= 0:
            raise LedgerError(f"buy of {ticker} on {date}: shares must be positive")
        if date != self._clock:
            self._advance(date)
        group = self._gof.get(ticker, ticker)
        if self._fork_groups is not None and group not in self._fork_groups:
            self._outside_fork(ticker)
        self._glast[group] = date
        self._seq += 1
        ids = self._ids
        if lot_id is not None and lot_id not in ids:  # _new_id's usual case, inline
            ids.add(lot_id)
            lid = lot_id
        else:
            lid = self._new_id(lot_id)
        lot = _L(lid, lid, account, ticker, group, q, _amount(q, price, fees, 1), date,
                 date, self._seq, False, None, acc.account_type is _IRA)
        if self._pending.get(group):  # a list emptied by matching stays in the dict
            self._absorb_pending(lot, date)
        self._insert_lot(lot)
        return lid

    def _select(self, lots: list[_L], method: LotRelief, q: int, price: Decimal,
                date: dt.date, lot_id: str | None, ctx: tuple[str, str, str]
                ) -> list[tuple[_L, int]]:
        """The lot pieces a sale (or gift) of ``q`` micro-shares relieves, in order.

        ``ctx`` is (what, ticker, account) for error messages.
        """
        if lots and lots[0].q >= q and (
                method is _FIFO or (len(lots) == 1 and method is not _SPECIFIC)):
            order = lots[:1]
        elif method is _FIFO or (not lots and method is not _SPECIFIC):
            order = lots  # nothing held: HIFO and min-tax have nothing to rank
        elif method is _HIFO:
            best = min(lots, key=_HIFO_KEY)
            order = [best] if best.q >= q else sorted(lots, key=_HIFO_KEY)
        elif method is _SPECIFIC:
            if lot_id is None:
                what = _what(ctx, date)
                raise LedgerError(f"{what}: specific identification needs a lot_id",
                                  column="lot_id", fix="fill in the lot_id to relieve")
            order = [lt for lt in lots if lt.root_id == lot_id or lt.lot_id == lot_id]
            if not order:
                what = _what(ctx, date)
                ids = ", ".join(sorted({lt.root_id for lt in lots})) or "none"
                raise LedgerError(f"{what}: lot '{lot_id}' is not open (open lots: {ids})",
                                  column="lot_id",
                                  fix="name an open lot, or record the lot's purchase first")
        elif method is _MIN_TAX:
            order = _min_tax_order(lots, float(price), date, q)
        else:  # pragma: no cover - enum exhausted
            raise LedgerError(f"unknown lot relief method {method}")
        out: list[tuple[_L, int]] = []
        left = q
        for lt in order:
            if lt.acquired > date:
                what = _what(ctx, date)
                raise LedgerError(
                    f"{what}: lot '{lt.lot_id}' was acquired {lt.acquired}, after the sale; "
                    "a lot can only be sold after it is acquired (check the lot's date)",
                    column="date", fix="correct the sale's date or the lot's acquisition date")
            k = lt.q if lt.q <= left else left
            out.append((lt, k))
            left -= k
            if left <= 0:
                return out
        avail = _sh(q - left)
        what = _what(ctx, date)
        if method is _SPECIFIC:
            fix = (f"sell at most {avail} shares of lot '{lot_id}', or relieve the rest "
                   "from another lot on a second row")
            raise InsufficientSharesError(
                f"{what}: lot '{lot_id}' holds {avail} shares, the sale asks for {_sh(q)}; "
                f"{fix}", column="shares", fix=fix)
        missing = ("record the missing purchase (a buy row before this sale, or a lot held "
                   "before the blotter starts)")
        fix = (f"sell at most {avail} shares, or {missing}" if q > left else
               f"{missing}, or delete the sale")
        raise InsufficientSharesError(
            f"{what}: the account holds {avail} shares, the sale asks for {_sh(q)}; {fix}",
            column="shares", fix=fix)

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
        if account not in self.accounts:
            self._account(account)  # raises: the account is checked before the shares
        q = _Q_CACHE.get(shares) if shares.__class__ is Decimal else None
        if q is None:
            q = _micro(shares)
        return self._sell(date, account, ticker, q, price, method, lot_id, fees, row)

    def _sell(self, date: dt.date, account: str, ticker: str, q: int, price: Decimal,
              method: LotRelief | None, lot_id: str | None, fees: Decimal,
              row: int | None) -> list[int]:
        """:meth:`sell` of ``q`` micro-shares."""
        acc = self.accounts.get(account) or self._account(account)
        if q <= 0:
            raise LedgerError(f"sale of {ticker} on {date}: shares must be positive")
        if date != self._clock:
            self._advance(date)
        group = self._gof.get(ticker, ticker)
        if self._fork_groups is not None and group not in self._fork_groups:
            self._outside_fork(ticker)
        self._glast[group] = date
        if method is None:
            method = _SPECIFIC if lot_id else acc.relief
        key = (account, ticker)
        lots = self._lots.get(key, _NO_LOTS)
        pool = [lt for lt in lots if not lt.held] if self._n_held else lots
        picks = self._select(pool, method, q, price, date, lot_id, ("sale", ticker, account))
        p_left = _amount(q, price, fees, -1)
        out: list[int] = []
        s_left = q
        is_ira = acc.account_type is _IRA
        gone_ok = self.policy.disposed_replacements
        tpos = self._tpos
        disps = self._disps
        emptied = False
        for lot, k in picks:
            # pro-rata shares of proceeds and basis, exact and rounded half away from zero
            if k == s_left:
                proceeds = p_left
            else:
                n = p_left * k  # _rdiv, inline
                proceeds = ((2 * n + s_left) // (2 * s_left) if n >= 0
                            else -((-2 * n + s_left) // (2 * s_left)))
            p_left -= proceeds
            s_left -= k
            lq = lot.q
            if k == lq:
                basis = lot.b
                emptied = True
            else:
                basis = (2 * lot.b * k + lq) // (2 * lq)  # basis >= 0
            loss_basis = None
            if lot.lb is not None:
                loss_basis = lot.lb if k == lq else _rdiv(lot.lb * k, lq)
                lot.lb -= loss_basis
            lot.b -= basis
            lot.q = lq - k
            if lq > k:
                lot.hkey = -(lot.b * 10_000 / lot.q)
            # purchased shares bought in the last 30 days stay replacement candidates once
            # sold (§1091(a): "has acquired"); see _L and _settle
            recent = (lot.repl and not lot.used and lot.acquired >= date - _WINDOW
                      and gone_ok)
            if is_ira:
                self._ira_sales.append((date, account, ticker, lot.lot_id, k, proceeds, basis,
                                        tpos))
                if recent:
                    self._add_gone(lot, k, None)
                continue
            from_fmv = False
            if loss_basis is not None:  # Pub 551 dual basis of a gifted lot
                if proceeds > basis:
                    pass
                elif proceeds < loss_basis:
                    basis = loss_basis
                    from_fmv = lot.gift is not None
                else:
                    basis = proceeds
            n = len(disps)
            if from_fmv:  # a loss from the FMV at the gift: held from the gift (Pub 551)
                gift = lot.gift
                assert gift is not None
                d = _D(n, lot, k, date, proceeds, basis,
                       _LONG if date >= (_LTD.get(gift) or _long_term_date(gift)) else _SHORT,
                       row)
                d.hs = gift
            else:
                d = _D(n, lot, k, date, proceeds, basis,
                       _LONG if lot.deemed_long or date >= lot.ltd else _SHORT, row)
            disps.append(d)
            out.append(n)
            if proceeds < basis:
                d.q_left = k
                d.loss_left = basis - proceeds
                d.root_id = lot.root_id
                d.state = _WAITING
                self._today.append(d)
            if recent:
                self._add_gone(lot, k, d)
        if emptied:
            if method is _FIFO and pool is lots:
                m = len(picks) if picks[-1][0].q <= 0 else len(picks) - 1
                del lots[:m]  # FIFO empties a prefix
            else:
                for lot, _k in picks:
                    if lot.q <= 0:
                        lots.remove(lot)
        return out

    def sell_lots(self, date: dt.date, account: str,
                  sales: Iterable[tuple[str, str, Decimal | None, Decimal]]) -> None:
        """Sell lots by specific identification, one sale per ``(ticker, lot_id, shares, price)``.

        The sales of :meth:`sell` with ``method=SPECIFIC`` in order (the same dispositions
        and wash-sale matching), for a day's list of lot sales: ``shares`` ``None`` sells
        every share the lot ``lot_id`` holds before the first of these sales (its exact
        micro-shares, with no Decimal snapshot of the other open lots).

        Raises
        ------
        LedgerError
            A whole-lot sale (``shares`` ``None``) of a lot that is not open in ``account``;
            otherwise as :meth:`sell`.
        """
        if account not in self.accounts:
            self._account(account)  # raises, naming the declared accounts
        todo = list(sales)
        whole: dict[str, int] = {}
        held: dict[str, dict[str, int]] = {}  # per ticker: the open lots' micro-shares
        for ticker, lot_id, shares, _price in todo:
            if shares is None:
                of = held.get(ticker)
                if of is None:
                    of = held[ticker] = {lt.lot_id: lt.q for lt in
                                         self._lots.get((account, ticker), _NO_LOTS)
                                         if lt.q > 0}
                q = of.get(lot_id, 0)
                if q <= 0:
                    raise LedgerError(
                        f"sale of {ticker} in account '{account}' on {date}: lot '{lot_id}' "
                        "is not open; name an open lot, or give the shares to sell",
                        column="lot_id", fix="name an open lot of the ticker")
                whole[lot_id] = q
        for ticker, lot_id, shares, price in todo:
            if shares is None:
                q = whole[lot_id]
            else:
                got = _Q_CACHE.get(shares) if shares.__class__ is Decimal else None
                q = _micro(shares) if got is None else got
            self._sell(date, account, ticker, q, price, _SPECIFIC, lot_id, ZERO, None)

    def position(self) -> tuple[int, int]:
        """How many dispositions and wash-sale matches the ledger holds (settled).

        Read before trades and pass to :meth:`realized_since` and :meth:`match_rows` for
        what the trades added.
        """
        self._settle()
        return len(self._disps), len(self._matches)

    def year_totals(self, year: int) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """Exact ST gains, ST losses, LT gains, LT losses of the dispositions sold in ``year``.

        The sums (after wash-sale adjustments; losses negative) that Schedule D nets, over
        :meth:`dispositions`' ``gain_loss`` of the year's rows with ``as_decimal=True``
        (integer cents summed, so the same Decimals in any order), without building it.
        """
        self._settle()
        sg = sl = lg = ll = 0
        for d in self._disps:
            if d.sold.year != year:
                continue
            g = _gain(d)
            if d.term is _SHORT:
                if g > 0:
                    sg += g
                else:
                    sl += g
            elif g > 0:
                lg += g
            else:
                ll += g
        return _usd(sg), _usd(sl), _usd(lg), _usd(ll)

    def realized_since(self, n: int) -> dict[str, Decimal]:
        """Net ST and LT gain and the disallowed loss (code W) of dispositions ``n`` onward.

        ``n`` from :meth:`position`: what the trades since then realised (``"st"``,
        ``"lt"``, ``"adjustment"``), the sums of :meth:`dispositions`' ``gain_loss`` and
        ``adjustment_amount`` over those rows, exact.
        """
        self._settle()
        st = lt = adj = 0
        for d in self._disps[n:]:
            g = _gain(d)
            adj += d.adj
            if d.term is _SHORT:
                st += g
            else:
                lt += g
        return {"st": _usd(st), "lt": _usd(lt), "adjustment": _usd(adj)}

    def match_rows(self, start: int = 0) -> list[tuple]:
        """The wash-sale matches made since ``start`` (:meth:`position`) as row tuples.

        The rows of :meth:`wash_sale_matches` (its columns, shares and disallowed as
        Decimal, in its order) that the matches from the ``start``-th one on make.
        """
        self._settle()
        ms = sorted(self._matches[start:], key=lambda m: (m[3], m[0], m[2], m[7], m[6]))
        return [m[:8] + (_sh(m[8]), _usd(m[9])) + m[10:] for m in ms]

    def check_trades(self, date: dt.date, account: str,
                     sales: Iterable[tuple[str, str, Decimal | None, Decimal]],
                     buys: Iterable[tuple[str, Decimal, Decimal]]) -> TradeCheck:
        """What a day's trades would do, replayed on a fork (this ledger is not changed).

        The figures of ``f = fork(tickers)``, ``n, m = f.position()``,
        ``f.sell_lots(date, account, sales)``, ``f.buy(date, account, ticker, shares,
        price)`` for each of ``buys`` in order, then ``f.year_totals(date.year)`` (and this
        ledger's), ``f.realized_since(n)`` and ``f.match_rows(m)``: the same Decimals and
        rows (the purchases' lot ids included).

        Identity groups do not interact (a sale relieves its own ticker's lots, wash sales
        match within a group, and every figure is a sum over dispositions or a list of
        matches sorted by sale), so each group's part is replayed on its own and kept for
        the ledger as it stands: a trade list whose group has the same sales as one checked
        before (and the same purchases, where they can matter: the group has a loss sold
        that day or one still open to matching) reuses it. A frontier's neighbouring points
        differ in a few names: only those are replayed.

        Raises
        ------
        LedgerError
            As :meth:`sell_lots` and :meth:`buy` on the fork.
        """
        if account not in self.accounts:
            self._account(account)  # raises, naming the declared accounts
        self._settle()
        year = date.year
        todo = list(sales)
        # the lot ids and sequence numbers the purchases get when bought in this order
        # (buy without a lot id), so that each group's replay gives them the same
        seq, ids = self._seq, self._ids
        mine: set[str] = set()
        bought: list[tuple[str, Decimal, Decimal, str, int]] = []
        for ticker, shares, price in buys:
            seq += 1
            lot_seq = seq
            while True:
                seq += 1
                cand = f"L{seq:06d}"
                if cand not in ids and cand not in mine:
                    mine.add(cand)
                    break
            bought.append((ticker, shares, price, cand, lot_seq))
        gof = self._gof
        by_sales: dict[str, list[tuple[str, str, Decimal | None, Decimal]]] = {}
        for s in todo:
            by_sales.setdefault(gof.get(s[0], s[0]), []).append(s)
        by_buys: dict[str, list[tuple[str, Decimal, Decimal, str, int]]] = {}
        for b in bought:
            by_buys.setdefault(gof.get(b[0], b[0]), []).append(b)
        # the policy decides the wash-sale matching: a ledger handed another policy (it is
        # a public attribute) starts the memo again (review 16)
        token = self.state_token()
        memo = self._memo
        if memo is None or memo[0] != token or len(memo[1]) > _MEMO_MAX:
            memo = self._memo = (token, {}, {})
        kept, years = memo[1], memo[2]
        if year not in years:
            totals: dict[str, list[int]] = {}
            for d in self._disps:
                if d.sold.year == year:
                    _add_total(totals.setdefault(d.group, [0, 0, 0, 0]), d)
            years[year] = totals
        before = years[year]
        parts: dict[str, _Part] = {}
        missing: list[str] = []
        for g in {**dict.fromkeys(by_sales), **dict.fromkeys(by_buys)}:
            sk = tuple(by_sales.get(g, ()))
            if not sk and not self._pending.get(g):
                parts[g] = _NO_PART  # purchases alone, nothing to wash: no disposition
                continue
            got = kept.get((date, account, g, sk))
            if got is not None and got[5]:  # the purchases matter: keyed with them
                got = kept.get((date, account, g, sk, tuple(by_buys.get(g, ()))))
            if got is None:
                missing.append(g)
            else:
                parts[g] = got
        if missing:
            fresh = self._group_parts(date, account, todo, bought, set(missing), before)
            for g, part in fresh.items():
                parts[g] = part
                sk = tuple(by_sales.get(g, ()))
                kept[(date, account, g, sk)] = part
                if part[5]:
                    kept[(date, account, g, sk, tuple(by_buys.get(g, ())))] = part
        made: list[tuple[tuple, str, tuple]] = [
            (_match_key(m), g, m) for g, part in parts.items() for m in part[4]]
        made.sort(key=operator.itemgetter(0))  # stable: each group's own order kept
        if any(a[0] == b[0] and a[1] != b[1] for a, b in zip(made, made[1:], strict=False)):
            # two groups' matches tie in match_rows' order (a sale lot id used in two
            # groups): the whole replay's order, from one fork
            return self._check_whole(date, account, todo, bought)
        base = [0, 0, 0, 0]
        for t in before.values():
            for i in range(4):
                base[i] += t[i]
        after = list(base)
        st = lt = adj = 0
        for part in parts.values():
            for i in range(4):
                after[i] += part[0][i]
            st += part[1]
            lt += part[2]
            adj += part[3]
        return TradeCheck(
            (_usd(base[0]), _usd(base[1]), _usd(base[2]), _usd(base[3])),
            (_usd(after[0]), _usd(after[1]), _usd(after[2]), _usd(after[3])),
            {"st": _usd(st), "lt": _usd(lt), "adjustment": _usd(adj)},
            tuple(m[:8] + (_sh(m[8]), _usd(m[9])) + m[10:] for _, _, m in made))

    def _replayed(self, date: dt.date, account: str,
                  sales: list[tuple[str, str, Decimal | None, Decimal]],
                  bought: list[tuple[str, Decimal, Decimal, str, int]],
                  groups: set[str] | None) -> tuple[Ledger, int, int]:
        """A fork with the trades of ``groups`` (None: all) applied and settled.

        Also the fork's counts of dispositions and matches before the trades.
        """
        gof = self._gof
        s_in = [s for s in sales if groups is None or gof.get(s[0], s[0]) in groups]
        b_in = [b for b in bought if groups is None or gof.get(b[0], b[0]) in groups]
        f = self.fork({s[0] for s in s_in} | {b[0] for b in b_in})
        n0, m0 = len(f._disps), len(f._matches)
        f.sell_lots(date, account, s_in)
        for ticker, shares, price, lot_id, lot_seq in b_in:
            f._seq = lot_seq - 1  # as when bought after every purchase before it
            f.buy(date, account, ticker, shares, price, lot_id=lot_id)
        f._settle()
        return f, n0, m0

    def _check_whole(self, date: dt.date, account: str,
                     sales: list[tuple[str, str, Decimal | None, Decimal]],
                     bought: list[tuple[str, Decimal, Decimal, str, int]]) -> TradeCheck:
        """:meth:`check_trades` by one replay of every trade, nothing kept."""
        f, n0, m0 = self._replayed(date, account, sales, bought, None)
        return TradeCheck(self.year_totals(date.year), f.year_totals(date.year),
                          f.realized_since(n0), tuple(f.match_rows(m0)))

    def _group_parts(self, date: dt.date, account: str,
                     sales: list[tuple[str, str, Decimal | None, Decimal]],
                     bought: list[tuple[str, Decimal, Decimal, str, int]],
                     groups: set[str], before: dict[str, list[int]]) -> dict[str, _Part]:
        """Each of ``groups``' part of the trades (:data:`_Part`), from one fork."""
        f, n0, m0 = self._replayed(date, account, sales, bought, groups)
        year = date.year
        after: dict[str, list[int]] = {g: [0, 0, 0, 0] for g in groups}
        for d in f._disps:  # the year's every disposition of the groups, after the trades
            if d.sold.year == year and d.group in groups:
                _add_total(after[d.group], d)
        made: dict[str, list[int]] = {g: [0, 0, 0] for g in groups}
        loss: set[str] = set()
        for d in f._disps[n0:]:
            r = made[d.group]
            g_l = _gain(d)
            r[2] += d.adj
            if d.term is _SHORT:
                r[0] += g_l
            else:
                r[1] += g_l
            if d.state != _GAIN:
                loss.add(d.group)
        matches: dict[str, list[tuple]] = {g: [] for g in groups}
        gof = self._gof
        for m in f._matches[m0:]:
            matches[gof.get(m[1], m[1])].append(m)
        out: dict[str, _Part] = {}
        for g in groups:
            a, b0 = after[g], before.get(g, [0, 0, 0, 0])
            sensitive = g in loss or bool(matches[g]) or bool(self._pending.get(g))
            out[g] = ((a[0] - b0[0], a[1] - b0[1], a[2] - b0[2], a[3] - b0[3]),
                      made[g][0], made[g][1], made[g][2], tuple(matches[g]), sensitive)
        return out

    def donate(self, date: dt.date, account: str, ticker: str, shares: Decimal,
               fmv_price: Decimal, method: LotRelief | None = None,
               lot_id: str | None = None) -> None:
        """Give shares to a public charity: no gain is realised; the gift is recorded.

        The deduction base is FMV for long-term lots and the lesser of basis and FMV for
        short-term lots; the AGI limits and carryforward are applied by
        :func:`pma_lab.tax.liability.charitable_deductions`.
        """
        acc = self._account(account)
        if acc.account_type is AccountType.IRA:
            raise LedgerError(f"gift of {ticker} from IRA '{account}': lots in an IRA cannot be "
                              "donated as appreciated stock; use a taxable account")
        q = _micro(shares)
        if q <= 0:
            raise LedgerError(f"gift of {ticker} on {date}: shares must be positive")
        self._advance(date)
        group = self._gof.get(ticker, ticker)
        if self._fork_groups is not None and group not in self._fork_groups:
            self._outside_fork(ticker)
        self._glast[group] = date
        method = method or (_SPECIFIC if lot_id else acc.relief)
        lots = self._lots.get((account, ticker), _NO_LOTS)
        pool = [lt for lt in lots if not lt.held] if self._n_held else lots

        for lot, k in self._select(pool, method, q, fmv_price, date, lot_id,
                                   ("gift", ticker, account)):
            basis = lot.b if k == lot.q else _rdiv(lot.b * k, lot.q)
            if lot.lb is not None:
                lot.lb -= lot.lb if k == lot.q else _rdiv(lot.lb * k, lot.q)
            lot.b -= basis
            lot.q -= k
            lot.touch()
            term = _LONG if lot.deemed_long or date >= lot.ltd else _SHORT
            self._gifts.append(_Gift(account, ticker, lot.lot_id, _sh(k), lot.acquired,
                                     lot.hs, date, _usd(_amount(k, fmv_price, 0, 1)),
                                     _usd(basis), term))
        self._lots[(account, ticker)] = [lt for lt in lots if lt.q > 0]

    def split(self, date: dt.date, ticker: str, ratio: Decimal) -> None:
        """Apply a stock split or nontaxable stock dividend (``ratio`` new shares per old).

        Shares of every lot in every account scale; basis and holding period stay, so a 2 %
        stock dividend is ``ratio=Decimal("1.02")`` (Pub 550; VITA "Lenny"). Resulting
        quantities finer than :data:`SHARE_UNIT` are an error (record the cash paid in lieu
        of the fraction as a sale first).
        """
        rn, rd = _ratio(ratio, f"split of {ticker}: ratio")
        if rn <= 0:
            raise LedgerError(f"split of {ticker} on {date}: ratio must be positive")
        self._advance(date)
        self._version += 1
        group = self._gof.get(ticker, ticker)
        self._glast[group] = date

        def scale(q: int, what: str) -> int:
            num = q * rn
            if num % rd:
                raise LedgerError(
                    f"split of {ticker} on {date} by {ratio}: {what} would hold "
                    f"{Decimal(num) / Decimal(rd) / _MICRO} shares, finer than "
                    f"{SHARE_UNIT} share; record the fraction paid in cash as a sale first")
            return num // rd

        for (_acc, tk), lots in self._lots.items():
            if tk == ticker:
                for lt in lots:
                    lt.q = scale(lt.q, f"lot '{lt.lot_id}'")
                    lt.touch()
        for losses in (self._today, *self._pending.values()):
            for p in losses:
                if p.ticker == ticker:
                    p.q_left = scale(p.q_left, f"the loss of lot '{p.lot_id}'")
        for cands in self._cands.values():
            for c in cands:
                if c.gone and c.ticker == ticker:
                    c.q = scale(c.q, f"the sold shares of lot '{c.lot_id}'")

    # ---------------------------------------------------------------- wash-sale matching
    def _tacked_start(self, loss: _D, acquired: dt.date) -> dt.date:
        """Holding-period start of a replacement bought on ``acquired`` (§1223(3))."""
        sold = loss.sold
        if acquired <= sold and not self.policy.tack_overlap_twice:
            start = acquired if acquired < loss.hs else loss.hs  # the union of both periods
        else:
            start = acquired - (sold - loss.hs)
        if loss.inherited:  # replaced an inherited lot: deemed held > 1 year
            start = min(start, add_years(acquired, -1) - _ONE_DAY)
        return start

    def _match(self, loss: _D, lot: _L) -> _L:
        """Match ``loss`` against the free shares of ``lot``.

        Returns the replacement piece: ``lot`` itself when all its shares are used, else a
        new lot split off it (not yet inserted; the caller inserts it).
        """
        lq, left = lot.q, loss.q_left
        k = lq if lq <= left else left
        dis = loss.loss_left if k == left else _rdiv(loss.loss_left * k, left)
        loss.q_left = left - k
        loss.loss_left -= dis
        d = loss
        d.adj += dis
        if k == lq:
            piece = lot
        else:
            basis = _rdiv(lot.b * k, lq)
            lot.b -= basis
            lot.q = lq - k
            lot.touch()
            lot.nsplit += 1
            piece = _L(f"{lot.root_id}/w{lot.nsplit}" if lot.piece == 0
                       else f"{lot.lot_id}.{lot.nsplit}",
                       lot.root_id, lot.account, lot.ticker, lot.group, k, basis,
                       lot.acquired, lot.hs, lot.seq, False, None, lot.is_ira,
                       lot.nsplit if lot.piece == 0 else lot.piece * 1000 + lot.nsplit,
                       held=lot.held)
            if lot.held:
                self._n_held += 1
        piece.used = True
        new_start: dt.date | None = None
        if lot.is_ira:
            d.perm += dis  # Rev. Rul. 2008-5: lost for good, no basis increase
        else:
            piece.b += dis
            piece.wadj += dis
            piece.touch()
            new_start = self._tacked_start(loss, piece.acquired)
            piece.set_start(new_start)
        self._matches.append((d.account, d.ticker, d.lot_id, d.sold, piece.account,
                              piece.ticker, piece.lot_id, piece.acquired, k, dis, lot.is_ira,
                              new_start))
        return piece

    def _add_gone(self, lot: _L, k: int, d: _D | None) -> None:
        """Keep ``k`` shares of ``lot`` just sold as replacement candidates (see :class:`_L`).

        ``d`` is the taxable disposition of those shares (None in an IRA).
        """
        g = _L(lot.lot_id, lot.root_id, lot.account, lot.ticker, lot.group, k, 0,
               lot.acquired, lot.hs, lot.seq, False, None, lot.is_ira, lot.piece)
        g.gone = True
        g.gd = d
        cands = self._cands.get(lot.group)
        if cands is None:
            self._cands[lot.group] = [g]
        elif not cands or cands[-1].k <= g.k:
            cands.append(g)
        else:
            bisect.insort(cands, g, key=_L.key)

    def _split_disposition(self, r: _D, k: int, queue: list) -> _D:
        """Split ``k`` of the ``r.q`` shares of disposition ``r`` into a new row.

        Proceeds, basis and (for a loss waiting for its day's matching) the loss shares
        are divided exactly, the remainders staying on ``r``; the new row is returned.
        """
        q = r.q
        m = copy.copy(r)
        m.n = len(self._disps)
        m.q = k
        m.proceeds = _rdiv(r.proceeds * k, q)
        m.basis = _rdiv(r.basis * k, q)
        r.q = q - k
        r.proceeds -= m.proceeds
        r.basis -= m.basis
        if r.state == _WAITING:
            m.q_left = _rdiv(r.q_left * k, q)
            if r.q_left == q and r.loss_left == r.basis + m.basis - r.proceeds - m.proceeds:
                # nothing matched yet: each row's loss is its own basis minus proceeds (a
                # pro-rata share of the loss, rounded apart from them, could be a cent
                # more than the row's loss and defer more than it)
                m.loss_left = max(m.basis - m.proceeds, 0)
            else:
                m.loss_left = _rdiv(r.loss_left * k, q)
            r.q_left -= m.q_left
            r.loss_left -= m.loss_left
            heapq.heappush(queue, (m.order(), m))
        self._disps.append(m)
        return m

    def _match_gone(self, loss: _D, c: _L, queue: list) -> None:
        """Match ``loss`` against purchased shares ``c`` already disposed of.

        In an IRA the matched loss is disallowed for good (Rev. Rul. 2008-5). In a taxable
        account it is added to the basis of the disposition of the replacement shares (a
        row split off for the matched shares when they are only part of it), whose holding
        period is tacked (§1091(d), §1223(3)): a loss on it grows before its own matching;
        a gain the adjustment turns into a loss joins the day's matching.
        """
        left, cq = loss.q_left, c.q
        k = cq if cq <= left else left
        dis = loss.loss_left if k == left else _rdiv(loss.loss_left * k, left)
        loss.q_left = left - k
        loss.loss_left -= dis
        loss.adj += dis
        c.q = cq - k
        if c.q <= 0:
            c.used = True
        r = c.gd
        new_start: dt.date | None = None
        rid = c.lot_id
        if r is None:
            loss.perm += dis
        else:
            kr = r.q if k == cq else _rdiv(r.q * k, cq)
            if kr < r.q:
                r = self._split_disposition(r, kr, queue)
            r.basis += dis
            new_start = self._tacked_start(loss, c.acquired)
            r.hs = new_start
            r.term = (_LONG if r.inherited
                      or r.sold >= (_LTD.get(new_start) or _long_term_date(new_start))
                      else _SHORT)
            if r.state == _WAITING:
                r.loss_left += dis
            elif r.proceeds < r.basis:
                r.q_left = r.q
                r.loss_left = r.basis - r.proceeds
                r.root_id = c.root_id
                r.state = _WAITING
                heapq.heappush(queue, (r.order(), r))
            rid = r.lot_id
        self._matches.append((loss.account, loss.ticker, loss.lot_id, loss.sold, c.account,
                              c.ticker, rid, c.acquired, k, dis, r is None, new_start))

    def _settle(self) -> None:
        """Match the current day's loss sales against acquisitions in the window.

        Losses are matched in order of the sold shares' original acquisition (Reg.
        §1.1091-1(b)); the acquisitions in the window are matched in the order bought (Reg.
        §1.1091-1(c), (d)), whether still held or already disposed of (see :class:`_L`):
        not the shares of the loss sale's own lot once sold, and not shares whose own
        loss has already been matched (so that two losses never replace each other).
        """
        if not self._today:
            return
        today, self._today = self._today, []
        day = self._clock
        if day is None:  # pragma: no cover - losses imply a clock
            return
        lo = day - _WINDOW
        queue = [(d.order(), d) for d in today]
        heapq.heapify(queue)
        same_lot = self.policy.same_lot_replacement
        while queue:
            loss = heapq.heappop(queue)[1]
            loss.state = _MATCHED
            g = loss.group
            cands = self._cands.get(g)
            if cands:
                keep = [c for c in cands if c.acquired >= lo and c.q > 0 and not c.used
                        and (c.gd is None or c.gd.sold == day)]
                self._cands[g] = keep
                for c in keep:
                    if loss.q_left <= 0:
                        break
                    if c.used or c.q <= 0 or c.acquired > day:
                        continue
                    if c.gone:
                        gd = c.gd
                        if c.root_id == loss.root_id or (
                                gd is not None and (gd is loss or gd.state == _MATCHED)):
                            continue
                        self._match_gone(loss, c, queue)
                        continue
                    if not same_lot and c.root_id == loss.root_id:
                        continue
                    piece = self._match(loss, c)
                    if piece is not c:
                        self._insert_lot(piece)
            if loss.q_left > 0:
                pend = self._pending.setdefault(g, [])
                if pend and pend[0].sold < lo:
                    pend[:] = [p for p in pend if p.sold >= lo and p.q_left > 0]
                pend.append(loss)

    def _release_held(self) -> None:
        """End of a blotter: lots of the holdings file become ordinary lots."""
        if self._n_held:
            self._version += 1
            for lots in self._lots.values():
                for lt in lots:
                    lt.held = False
            self._n_held = 0

    def fork(self, tickers: Iterable[str] | None = None) -> Ledger:
        """An independent copy for what-if trades (the original is never changed).

        With ``tickers``, only the state of their identity groups is copied (cheap even for
        a ledger with thousands of lots); the fork then refuses trades in other groups,
        whose state it shares read-only with the original.
        """
        self._settle()
        new = Ledger(self.accounts.values(), identity=self.identity, policy=self.policy)
        groups = None if tickers is None else {self.identity.group(t) for t in tickers}

        def mine(group: str) -> bool:
            return groups is None or group in groups

        lot_map: dict[int, _L] = {}

        def copy_lot(lot: _L) -> _L:
            c = lot.__copy__()  # copy.copy's dispatch costs as much as the copy
            lot_map[id(lot)] = c
            return c

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

        def copy_cand(lot: _L) -> _L:
            c = lot_map.get(id(lot))
            if c is not None:
                return c
            if not lot.gone:
                return lot
            c = lot.__copy__()  # shares already sold: copied with their disposition
            gd = lot.gd
            if gd is not None:
                c.gd = disp_map.get(id(gd), gd)
            return c

        new._lots = {k: ([copy_lot(lt) for lt in v] if mine(self._gof.get(k[1], k[1])) else v)
                     for k, v in self._lots.items()}
        new._cands = {g: ([copy_cand(lt) for lt in v] if mine(g) else v)
                      for g, v in self._cands.items()}
        pend: dict[str, list[_D]] = {}
        for g, losses in self._pending.items():
            pend[g] = [disp_map[id(p)] for p in losses] if mine(g) else losses
        new._pending = pend
        new._today = []
        new._matches = list(self._matches)
        new._gifts = list(self._gifts)
        new._ira_sales = list(self._ira_sales)
        new._clock, new._tpos, new._seq = self._clock, self._tpos, self._seq
        new._glast = dict(self._glast)
        new._n_held = self._n_held
        new._ids = set(self._ids)
        new._fork_groups = groups
        return new

    def import_history(self, history: Ledger) -> None:
        """Take over another ledger's realised history: dispositions and open loss shares.

        The history's sales count toward realised gains, and its loss shares not yet
        absorbed by a replacement stay open to wash-sale matching against purchases made
        here later (within 30 days of each sale). The history's lots are not imported, and
        lots already in this ledger are **not** matched against the history's losses: to
        replay recent trades against a holdings file use :func:`replay` with
        ``held_lots`` (what :meth:`pma_lab.io.client.Client.ledger` does).
        """
        history._settle()
        self._settle()
        if self._disps:
            raise LedgerError("import_history() must come before any sale in this ledger")
        self._version += 1
        for n, d in enumerate(history._disps):
            d.n = n
            d.group = self._gof.get(d.ticker, d.ticker)
        self._disps = list(history._disps)
        self._matches = list(history._matches) + self._matches
        for losses in history._pending.values():
            for p in losses:
                if p.q_left > 0:
                    self._pending.setdefault(p.group, []).append(p)
        if history._clock is not None and (self._clock is None or history._clock > self._clock):
            self._clock = history._clock
        for g, day in history._glast.items():
            self._glast[g] = max(day, self._glast.get(g, day))

    # ---------------------------------------------------------------- results
    def state_token(self) -> tuple[object, ...]:
        """A token of the ledger's state: equal tokens, the same lots, sales and matches.

        It changes with every purchase, sale, gift, IRA sale, split, imported history and
        released lot, and with another wash-sale policy object: what a figure computed from
        the ledger can be kept by (:meth:`check_trades`'s memo; the household problems
        :func:`pma_lab.optimize.household.solve_for_client` keeps for a client).
        """
        self._settle()
        return (self._seq, len(self._disps), len(self._matches), len(self._gifts),
                len(self._ira_sales), self._clock, self._n_held, self._tpos, self._version,
                id(self.policy))

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
                out.extend(lt.snapshot() for lt in lots if lt.q > 0)
        return out

    def lot_amounts(self) -> list[tuple[str, str, int, int]]:
        """Open lots as ``(ticker, lot_id, micro-shares, basis in cents)``, exact integers.

        The order and the lots of :meth:`lots`, without its Decimal snapshots (for loops
        that read every lot at every step, such as the harvesting backtest):
        ``micro / 1e6`` and ``cents / 100`` are the floats of the snapshot's ``shares``
        and ``basis``.
        """
        self._settle()
        return [(lt.ticker, lt.lot_id, lt.q, lt.b)
                for _key, lots in sorted(self._lots.items()) for lt in lots if lt.q > 0]

    def open_lots(self) -> pd.DataFrame:
        """Open lots as a DataFrame (one row per lot, numeric columns as float).

        ``loss_basis`` (NaN unless a gift's FMV was below the donor's basis) and
        ``gift_date`` (``None`` unless the lot was received as a gift on a known day) are
        a gifted lot's dual basis (:meth:`add_lot`).
        """
        rows = [
            {
                "lot_id": lt.lot_id, "root_id": lt.root_id, "account": lt.account,
                "account_type": self.accounts[lt.account].account_type.value,
                "ticker": lt.ticker, "shares": float(lt.shares), "basis": float(lt.basis),
                "basis_per_share": float(lt.basis_per_share), "acquired": lt.acquired,
                "holding_start": lt.holding_start, "long_term_on": lt.long_term_on(),
                "wash_adjustment": float(lt.wash_adjustment), "inherited": lt.inherited,
                "used_as_replacement": lt.used_as_replacement,
                "loss_basis": math.nan if lt.loss_basis is None else float(lt.loss_basis),
                "gift_date": lt.gift_date,
            }
            for lt in self.lots()
        ]
        return pd.DataFrame(rows, columns=[
            "lot_id", "root_id", "account", "account_type", "ticker", "shares", "basis",
            "basis_per_share", "acquired", "holding_start", "long_term_on",
            "wash_adjustment", "inherited", "used_as_replacement", "loss_basis", "gift_date"])

    def disposition_count(self) -> int:
        """The rows of :meth:`dispositions`, without building the table.

        A plan's simulation counts the ledger's sales before its first step, to read its own
        after the last (the table of every earlier sale was built for its length).
        """
        self._settle()
        return len(self._disps)

    def gift_count(self) -> int:
        """The rows of :meth:`gifts`, without building the table."""
        self._settle()
        return len(self._gifts)

    def dispositions(self, as_decimal: bool = False) -> pd.DataFrame:
        """Realised dispositions in the shape of Form 8949, in order of sale.

        Columns: account, ticker, lot_id, shares, date_acquired (after tacking), date_sold,
        proceeds, cost_basis (after adjustments), adjustment_code (``W`` for a wash sale),
        adjustment_amount (disallowed loss, positive), gain_loss (proceeds - basis +
        adjustment), term (ST/LT), disallowed_permanently (IRA replacement), inherited,
        source_row. Money columns are Decimal (to the cent) when ``as_decimal`` else float.
        """
        with _gc_paused():
            return self._dispositions(as_decimal)

    def _dispositions(self, as_decimal: bool) -> pd.DataFrame:
        self._settle()
        ds = self._disps
        proceeds = np.array([d.proceeds for d in ds], dtype=np.int64)
        basis = np.array([d.basis for d in ds], dtype=np.int64)
        adj = np.array([d.adj for d in ds], dtype=np.int64)
        perm = np.array([d.perm for d in ds], dtype=np.int64)
        gain = proceeds - basis + adj  # _gain, column-wise
        def money_col(values: np.ndarray) -> object:
            return [_usd(int(v)) for v in values] if as_decimal else values / 100

        shares: object = ([_sh(d.q) for d in ds] if as_decimal else
                          np.array([d.q for d in ds], dtype=np.int64) / _MICRO)
        cols = {
            "account": [d.account for d in ds],
            "ticker": [d.ticker for d in ds],
            "lot_id": [d.lot_id for d in ds],
            "shares": shares,
            "date_acquired": [d.hs for d in ds],
            "date_sold": [d.sold for d in ds],
            "proceeds": money_col(proceeds),
            "cost_basis": money_col(basis),
            "adjustment_code": np.where(adj != 0, "W", "").astype(object),
            "adjustment_amount": money_col(adj),
            "gain_loss": money_col(gain),
            "term": [_TERM_TEXT[d.term] for d in ds],
            "disallowed_permanently": money_col(perm),
            "inherited": [d.inherited for d in ds],
            "source_row": [d.row for d in ds],
        }
        return pd.DataFrame(cols, columns=DISPOSITION_COLUMNS)

    def wash_sale_matches(self) -> pd.DataFrame:
        """Every wash-sale match: which sale's loss went onto which replacement shares."""
        return pd.DataFrame(self.match_rows(), columns=_MATCH_COLUMNS)

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
        return pd.DataFrame([(*r[:4], _sh(r[4]), _usd(r[5]), _usd(r[6]))
                             for r in self._ira_sales],
                            columns=["date", "account", "ticker", "lot_id", "shares", "proceeds",
                                     "basis"])

    def realized(self, year: int | None = None) -> dict[str, Decimal]:
        """Net realised ST and LT gain (after wash-sale adjustments), optionally for a year."""
        self._settle()
        st = lt = 0
        for d in self._disps:
            if year is not None and d.sold.year != year:
                continue
            g = _gain(d)
            if d.term is _SHORT:
                st += g
            else:
                lt += g
        return {"st": _usd(st), "lt": _usd(lt)}

    def year_gains(self, year: int) -> tuple[float, float]:
        """Net realised ST and LT gain of the dispositions sold in ``year``, as floats.

        The sums of :meth:`dispositions`' float ``gain_loss`` column over the year's rows of
        each term, to the bit as pandas sums them (the same float values summed by numpy in
        the same order), without building the table (a transition reads them at every
        step). Exact figures: :meth:`realized`.
        """
        self._settle()
        st: list[int] = []
        lt: list[int] = []
        for d in self._disps:
            if d.sold.year == year:
                (st if d.term is _SHORT else lt).append(_gain(d))
        return (float((np.array(st, dtype=np.int64) / 100).sum()),
                float((np.array(lt, dtype=np.int64) / 100).sum()))

    def locks(self, as_of: dt.date) -> pd.DataFrame:
        """Wash-sale lock table at ``as_of`` for the household, one row per lock.

        ``no_buy``: a loss realised in the last 30 days still has loss shares no replacement
        absorbed; buying any ticker of the group on or before ``until`` washes it (the first
        clean day is ``until`` + 1).
        ``no_loss_sale``: shares purchased in the last 30 days can still absorb a loss;
        selling another lot of the group at a loss on or before ``until`` is a wash sale
        (inherited and gifted lots never lock).
        ``since``: the day of the loss sale (``no_buy``) or of the purchase
        (``no_loss_sale``) that sets ``until`` (the latest one when several do), so a
        client can be told why the lock runs to that date. ``names``: the group as a
        client reads it (:meth:`IdentityTable.label`: ``META (was FB)``, not ``FB,META``).

        For ``no_loss_sale`` (0, False and 0 for ``no_buy``): ``ira``, whether any of the
        purchases behind the lock is in an IRA (a loss it washes is lost for good, Rev. Rul.
        2008-5, not deferred to its basis); ``shares``, how many purchased shares can still
        absorb a loss (only that many shares of a loss sale are washed); ``lot_shares``, the
        most shares of one taxable lot of the group outside those purchases (a loss sale of
        it is washed in part when ``shares`` is less); ``ira_since``, the day of the latest
        IRA purchase behind it (``None``: none), which may be earlier than ``since`` when a
        later taxable purchase sets ``until`` (the IRA's part of the lock then ends 30 days
        after ``ira_since``; :func:`pma_lab.io.holdings.lock_reason` names both).
        ``purchases`` (``()`` for ``no_buy``): the purchases behind a ``no_loss_sale`` lock
        in the order bought (the order they absorb a loss, Reg. §1.1091-1(c)), each
        ``(date, in an IRA, shares that can still absorb a loss)``, consecutive purchases
        of one day and kind added up, so the words can say which purchase washes how many
        shares of a loss sale and until when.
        """
        since: dict[tuple[str, str], dt.date] = {}
        info: dict[tuple[str, str], list] = {}
        rows = sorted(self._lock_rows(as_of, since, info).items())
        most: dict[str, int] = {}
        for lots in self._lots.values():
            for lt in lots:
                key = ("no_loss_sale", lt.group)
                if (key in info and not lt.is_ira and lt.q > 0 and lt.acquired <= as_of
                        and id(lt) not in info[key][2]):
                    most[lt.group] = max(most.get(lt.group, 0), lt.q)
        out = [{"lock": k[0], "group": k[1],
                "tickers": ",".join(sorted(self.identity.members(k[1]))), "until": v,
                "since": since[k], "names": self.identity.label(k[1]),
                "ira": bool(info[k][0]) if k in info else False,
                "shares": info[k][1] / _MICRO if k in info else 0.0,
                "lot_shares": most.get(k[1], 0) / _MICRO if k in info else 0.0,
                "ira_since": info[k][3] if k in info else None,
                "purchases": _purchases(info[k][4]) if k in info else ()}
               for k, v in rows]
        return pd.DataFrame(out, columns=["lock", "group", "tickers", "until", "since",
                                          "names", "ira", "shares", "lot_shares",
                                          "ira_since", "purchases"])

    def lock_rows(self, as_of: dt.date) -> list[tuple[str, str, dt.date]]:
        """The rows of :meth:`locks` as ``(lock, group, until)`` tuples, in its order.

        Without building its table (for loops that read the locks at every step, such as
        a transition's account states).
        """
        return [(k[0], k[1], v) for k, v in sorted(self._lock_rows(as_of).items())]

    def lock_groups(self, as_of: dt.date) -> tuple[set[str], set[str]]:
        """The identity groups locked at ``as_of``: ``(no_buy, no_loss_sale)``.

        The groups of :meth:`locks` without building its table (for loops that read the
        locks at every step, such as the harvesting backtest).
        """
        no_buy: set[str] = set()
        no_loss: set[str] = set()
        for kind, group in self._lock_rows(as_of):
            (no_buy if kind == "no_buy" else no_loss).add(group)
        return no_buy, no_loss

    def _lock_rows(self, as_of: dt.date, since: dict[tuple[str, str], dt.date] | None = None,
                   info: dict[tuple[str, str], list] | None = None
                   ) -> dict[tuple[str, str], dt.date]:
        """``(lock, group) -> until`` of :meth:`locks`; ``since`` gets each lock's event day.

        ``info`` gets, for each ``no_loss_sale`` lock, ``[any purchase in an IRA, its
        purchases' micro-shares that can still absorb a loss, the ids of its open lots, the
        day of its latest IRA purchase or None, (order-bought key, day, in an IRA,
        micro-shares) of each purchase]``.
        """
        self._settle()
        lo = as_of - _WINDOW
        rows: dict[tuple[str, str], dt.date] = {}
        seen: dict[tuple[str, str], dt.date] = {} if since is None else since

        def note(key: tuple[str, str], until: dt.date, day: dt.date) -> None:
            if key not in rows or until > rows[key] or (until == rows[key]
                                                        and day > seen[key]):
                rows[key], seen[key] = until, day

        got: dict[tuple[str, str], list] = {} if info is None else info

        def add(key: tuple[str, str], lt: _L) -> None:
            row = got.setdefault(key, [False, 0, set(), None, []])
            row[0] = row[0] or lt.is_ira
            row[1] += lt.q
            row[2].add(id(lt))
            row[4].append((lt.k, lt.acquired, lt.is_ira, lt.q))
            if lt.is_ira and (row[3] is None or lt.acquired > row[3]):
                row[3] = lt.acquired

        for g, losses in self._pending.items():
            for p in losses:
                if p.q_left > 0 and lo <= p.sold <= as_of:
                    note(("no_buy", g), first_clean_buy_date(p.sold) - _ONE_DAY, p.sold)
        for lots in self._lots.values():
            for lt in lots:
                if lo <= lt.acquired <= as_of and lt.q > 0 and not lt.used and lt.repl:
                    note(("no_loss_sale", lt.group), lt.acquired + _WINDOW, lt.acquired)
                    if info is not None:
                        add(("no_loss_sale", lt.group), lt)
        # purchases already sold still replace: an IRA's for 30 days after its purchase, a
        # taxable account's on the day of its sale (see _L)
        for cands in self._cands.values():
            for c in cands:
                gd = c.gd
                if (c.gone and c.q > 0 and not c.used and lo <= c.acquired <= as_of
                        and (gd is None or (gd.sold == as_of and gd.state != _MATCHED))):
                    note(("no_loss_sale", c.group),
                         c.acquired + _WINDOW if gd is None else as_of, c.acquired)
                    if info is not None:
                        add(("no_loss_sale", c.group), c)
        return rows


def _purchases(rows: list[tuple[int, dt.date, bool, int]]
               ) -> tuple[tuple[dt.date, bool, float], ...]:
    """A lock's purchases in the order bought, ``(day, in an IRA, shares)``.

    Consecutive purchases of one day and kind (pieces of one lot, two orders) are added up.
    """
    out: list[list] = []
    for _k, day, ira, q in sorted(rows, key=operator.itemgetter(0)):
        if out and out[-1][0] == day and out[-1][1] == ira:
            out[-1][2] += q
        else:
            out.append([day, ira, q])
    return tuple((day, ira, q / _MICRO) for day, ira, q in out)


_HIFO_KEY: Final = operator.attrgetter("hkey")
# every attribute Ledger.__init__ sets (Ledger.__reduce__ copies them all)
_LEDGER_FIELDS = (
    "policy", "identity", "_gof", "accounts", "_lots", "_cands", "_pending", "_today",
    "_disps", "_matches", "_gifts", "_ira_sales", "_fork_groups", "_clock", "_glast",
    "_n_held", "_tpos", "_seq", "_ids", "_version", "_memo",
)


def _gain(d: _D) -> int:
    """Disposition ``d``'s gain or loss in cents (Form 8949 column h, losses negative).

    Proceeds less basis plus the wash-sale adjustment (code W: the disallowed loss,
    positive). Every figure of realised gain reads it (:meth:`Ledger._dispositions`
    computes it column-wise on the same integers).
    """
    return d.proceeds - d.basis + d.adj


def _add_total(t: list[int], d: _D) -> None:
    """Add disposition ``d``'s gain or loss to ``t`` (:meth:`Ledger.year_totals`' sums)."""
    g = _gain(d)
    if d.term is _SHORT:
        if g > 0:
            t[0] += g
        else:
            t[1] += g
    elif g > 0:
        t[2] += g
    else:
        t[3] += g


def _what(ctx: tuple[str, str, str], date: dt.date) -> str:
    kind, ticker, account = ctx
    prep = "from" if kind == "gift" else "in"
    return f"{kind} of {ticker} {prep} account '{account}' on {date}"
_NO_LOTS: Final[list[_L]] = []


def _min_tax_order(lots: list[_L], price: float, date: dt.date, q: int) -> list[_L]:
    """Min-tax relief order (enough of it to cover ``q`` micro-shares).

    Short-term losses, then long-term losses (largest loss per share first), then long-term
    gains, then short-term gains (smallest gain per share first). Within every bucket that
    is highest basis per share first: one pass partitions the lots (in order bought) into
    the four buckets and a stable HIFO sort of each gives the order (ties: the lot bought
    first). Floats only order lots; amounts stay exact. When the first lot covers the sale
    only that lot is returned.
    """
    if len(lots) == 1:
        return lots
    stl: list[_L] = []
    ltl: list[_L] = []
    ltg: list[_L] = []
    stg: list[_L] = []
    for lt in lots:
        if -lt.hkey > price:
            (ltl if lt.deemed_long or date >= lt.ltd else stl).append(lt)
        else:
            (ltg if lt.deemed_long or date >= lt.ltd else stg).append(lt)
    first = stl or ltl or ltg or stg
    best = min(first, key=_HIFO_KEY)
    if best.q >= q:
        return [best]
    out: list[_L] = []
    for bucket in (stl, ltl, ltg, stg):
        if bucket:
            bucket.sort(key=_HIFO_KEY)
            out += bucket
    return out


# ------------------------------------------------------------------------------------------
# replay
# ------------------------------------------------------------------------------------------


def _file_order(trades: Sequence[Trade]) -> list[Trade]:
    """Trades by date, then time of day when given, then file order (see module docstring)."""
    rows = [t.row for t in trades]
    use_rows = None not in rows
    timed = any(t.time is not None for t in trades)
    if timed:
        days: dict[dt.date, list[Trade]] = {}
        for t in trades:
            days.setdefault(t.date, []).append(t)
        for day, ts in days.items():
            given = [t.time is not None for t in ts]
            if any(given) and not all(given):
                bare = [t.row for t in ts if t.time is None]
                raise LedgerError(
                    f"trades on {day} have a time of day on some rows and none on others "
                    f"(rows without one: {bare}); give every trade of the day a time, or none")
    midnight = dt.time(0)
    if use_rows:
        if timed:
            return sorted(trades, key=lambda t: (t.date, t.time or midnight, t.row))
        return sorted(trades, key=_DATE_ROW)
    if timed:
        return sorted(trades, key=lambda t: (t.date, t.time or midnight))
    return sorted(trades, key=operator.attrgetter("date"))


_DATE_ROW = operator.attrgetter("date", "row")


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cycle collector while many acyclic objects are made (a large speed-up).

    On the way out the objects made meanwhile are handed to the oldest generation
    (``gc.freeze()`` then ``gc.unfreeze()``, two list splices) instead of being traversed
    by a young-generation collection that would find every one of them alive (a tenth of a
    replay's time). They are still examined by full collections, so cyclic garbage is
    reclaimed as usual, only not before the next full collection. Skipped when the caller
    has frozen objects itself (``gc.get_freeze_count()``), which must stay frozen.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def opening_lot_conflicts(trades: Sequence[Trade], opening_lots: Sequence[dict],
                          identity: IdentityTable) -> list[tuple[int, Trade]]:
    """Opening lots acquired after the first trade they would interact with.

    An opening lot is held before the blotter starts, so it must not be acquired after the
    blotter's first trade in its identity group (a sale could relieve it before it existed,
    and its purchase would be matched against losses more than 30 days away).

    Parameters
    ----------
    trades : Sequence[Trade]
        The blotter.
    opening_lots : Sequence[dict]
        Keyword dicts of :meth:`Ledger.add_lot`.
    identity : IdentityTable
        The identity groups.

    Returns
    -------
    list[tuple[int, Trade]]
        ``(index of the opening lot, the first trade of its group)`` for each conflict.
    """
    first: dict[str, Trade] = {}
    for t in _file_order(trades):
        first.setdefault(identity.group(t.ticker), t)
    out = []
    for i, lot in enumerate(opening_lots):
        ft = first.get(identity.group(lot["ticker"]))
        if ft is not None and lot["acquired"] > ft.date:
            out.append((i, ft))
    return out


def _auto_id(t: Trade, pos: int) -> str | None:
    """Lot id of a buy: the blotter's, else one derived from the row (or position)."""
    if t.side is not _BUY or t.lot_id is not None:
        return t.lot_id
    return f"R{t.row}" if t.row is not None else f"T{pos + 1:06d}"


def _apply_all(led: Ledger, items: Iterable[tuple[int, Trade]],
               held: list[dict]) -> None:
    # led.buy/led.sell called directly: in the compiled build a direct call of a method is
    # a C call, a call through a bound method held in a variable is a generic Python call
    n_held = len(held)
    j = 0
    problems: list[tuple[int | None, str | None, str | None, str, str]] = []
    first: tuple[LedgerError, Trade] | None = None
    for pos, t in items:
        date = t.date
        while j < n_held and held[j]["acquired"] <= date:
            led._add(**held[j], held=True)
            j += 1
        led._tpos = pos
        try:
            if t.side is _BUY:
                lid = t.lot_id
                if lid is None:  # _auto_id, inline
                    lid = f"R{t.row}" if t.row is not None else f"T{pos + 1:06d}"
                led.buy(date, t.account, t.ticker, t.shares, t.price, lid, t.fees)
            else:
                led.sell(date, t.account, t.ticker, t.shares, t.price, t.method, t.lot_id,
                         t.fees, t.row)
        except LedgerError as e:
            # a sale refused by lot selection changed nothing: note it, leave it out and go
            # on, so one message lists every such row (no second replay is needed)
            if t.side is _BUY or e.column is None:
                where = f"row {t.row}: " if t.row is not None else ""
                raise type(e)(f"{where}{e}", column=e.column, fix=e.fix,
                              problems=problems) from None
            msg = str(e)
            if e.fix and msg.endswith("; " + e.fix):
                msg = msg[:-len(e.fix) - 2]
            value = (f"{t.shares.normalize():f}" if e.column == "shares" else
                     t.lot_id if e.column == "lot_id" else str(t.date))
            problems.append((t.row, e.column, value, msg, e.fix or "correct the row"))
            first = first or (e, t)
    if first is not None:
        e, t = first
        where = f"row {t.row}: " if t.row is not None else ""
        more = (f" ({len(problems) - 1} more sale{'s' if len(problems) > 2 else ''} cannot "
                "be applied: see .problems)" if len(problems) > 1 else "")
        raise type(e)(f"{where}{e}{more}", column=e.column, fix=e.fix,
                      problems=problems) from None
    for lot in held[j:]:
        led._add(**lot, held=True)
    led._release_held()


def replay(trades: Sequence[Trade], accounts: Iterable[Account],
           opening_lots: Iterable[dict] = (), identity: IdentityTable | None = None,
           policy: TaxPolicy = DEFAULT_POLICY, *, held_lots: Iterable[dict] = ()) -> Ledger:
    """Replay a blotter through a fresh ledger, by date and in file order within a day.

    Parameters
    ----------
    trades : Sequence[Trade]
        The blotter rows, in any order: they run by date, then by ``time`` when the trades
        have one, then in file order (``row``; the sequence's order when rows are
        missing). Buys without a lot id get ``R<row>`` (or ``T<position>`` when the trade
        has no source row).
    accounts : Iterable[Account]
        The household's accounts.
    opening_lots : Iterable[dict]
        Lots held before the blotter starts: dicts with keys of :meth:`Ledger.add_lot`.
        None may be acquired after the blotter's first trade in its identity group.
    identity, policy
        As for :class:`Ledger`.
    held_lots : Iterable[dict]
        Lots held at the **end** of the blotter that it did not buy (a custodian's lots
        file next to a blotter of recent trades): dicts with keys of
        :meth:`Ledger.add_lot`. Each enters on its acquisition date (before that day's
        trades) as an acquisition, so a purchased one washes a loss sale of the blotter in
        the 30 days either side of it, in the order bought with the blotter's own buys;
        the blotter's sales never relieve them.

    Returns
    -------
    Ledger
        The ledger after every trade, settled.

    Raises
    ------
    LedgerError
        A trade cannot be applied (the message names the blotter row), or an opening lot
        is acquired after the first trade of its identity group (the message names the lot).
        A sale that lot selection refuses (more shares than held, a lot that is not open or
        acquired after the sale) changes nothing: the replay leaves it out and goes on, and
        the error (of the first such sale's type) lists every one in ``.problems``
        (row, column, value, message, fix), so a blotter is corrected in one pass.
    """
    with _gc_paused():
        return _replay(trades, list(accounts), list(opening_lots),
                       identity or IdentityTable.default(policy.share_classes_identical),
                       policy, held_lots)


def _replay(trades: Sequence[Trade], accounts: list[Account], opening: list[dict],
            identity: IdentityTable, policy: TaxPolicy, held_lots: Iterable[dict]) -> Ledger:
    order = _file_order(trades)
    bad = opening_lot_conflicts(order, opening, identity) if opening else []
    if bad:
        i, t = bad[0]
        lot = opening[i]
        where = f"row {t.row}, " if t.row is not None else ""
        more = f" ({len(bad) - 1} more opening lots likewise)" if len(bad) > 1 else ""
        raise LedgerError(
            f"opening lot {lot.get('lot_id') or i + 1} ({lot['ticker']} in account "
            f"'{lot['account']}', acquired {lot['acquired']}) is dated after the blotter's "
            f"first trade of its identity group ({where}{t.side.value} {t.ticker} on "
            f"{t.date}){more}; opening lots are held before the blotter starts: correct the "
            "acquisition date, or record the purchase as a buy in the blotter")
    held = sorted(held_lots, key=lambda lt: lt["acquired"])
    led = Ledger(accounts, identity=identity, policy=policy)
    for lot in opening:
        led.add_lot(**lot)
    _apply_all(led, enumerate(order), held)
    led.settle()
    return led

