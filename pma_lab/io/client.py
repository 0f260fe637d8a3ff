"""A client as the engine sees it: profile + validated lots + recent trades, at an as-of date.

:func:`load_client` is the one entry point the CLI, notebooks and batch jobs use to turn a
profile file into typed objects; :meth:`Client.ledger` builds the household's tax-lot ledger
(lots from the custodian files, realised history and open wash-sale losses from the recent
trades blotter).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import numpy as np

from pma_lab.errors import (
    BlotterError,
    ClientFilesError,
    Issue,
    LedgerError,
    LotDataError,
    LotsBlotterError,
    PmaLabError,
    ProfileError,
    Severity,
)
from pma_lab.io.ingest import (
    Blotter,
    LotSet,
    _freeze,
    empty_lots,
    known_tickers,
    read_blotter,
    read_lots,
    replay_problems,
)
from pma_lab.io.profile import ClientProfile, LotsReadable, LotsSpec, load_profile
from pma_lab.io.profile import profile_path as _path
from pma_lab.tax.ledger import (
    Account,
    AccountType,
    Ledger,
    Side,
    Trade,
    _auto_id,
    _file_order,
    replay,
)

__all__ = ["Client", "LotsReplaced", "load_client", "load_client_replacing", "find_clients",
           "to_date"]


def to_date(value: str | dt.date | None, what: str = "as_of") -> dt.date | None:
    """Parse an ISO date given on the command line or in a notebook parameter.

    A ``datetime`` or pandas ``Timestamp`` at midnight becomes its day
    (:func:`pma_lab.tax.rules.as_day`); one with a time of day is refused.
    """
    if value is None or type(value) is dt.date:
        return value
    if isinstance(value, dt.date):
        from pma_lab.tax.rules import as_day

        return as_day(value, what)
    if isinstance(value, str) and not value.strip():
        return None  # an empty parameter means "not given"
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise PmaLabError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD") from None


@dataclass(frozen=True)
class Client:
    """A client's validated inputs at an explicit as-of date.

    Attributes
    ----------
    profile : ClientProfile
    lots : LotSet
        All lots from the profile's files (or the files given explicitly).
    recent_trades : Blotter | None
        Recent trades (realised history and wash-sale locks), if the profile names them.
    as_of : datetime.date
    price_warnings : tuple[Issue, ...]
        Held names priced at an earlier day's close than ``as_of`` (within the staleness
        limit; :func:`pma_lab.io.holdings.stale_price_issues`), part of :attr:`warnings`.
    """

    profile: ClientProfile
    lots: LotSet
    recent_trades: Blotter | None
    as_of: dt.date
    price_warnings: tuple[Issue, ...] = ()

    @property
    def client_id(self) -> str:
        """The client's id."""
        return self.profile.client_id

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """Every non-fatal finding from the profile, lots and trades."""
        out = self.profile.warnings + self.lots.warnings
        if self.recent_trades is not None:
            out += self.recent_trades.warnings
        return out + self.price_warnings

    def accounts(self) -> tuple[Account, ...]:
        """The household's accounts for the ledger."""
        return self.profile.ledger_accounts()

    def ledger(self) -> Ledger:
        """Build the household ledger: current lots plus the recent trades' history.

        Without recent trades this is the lots file. With them, the blotter is replayed
        with the lots file's lots as lots held at its end (:func:`pma_lab.tax.ledger.replay`,
        ``held_lots``), so wash sales are matched in both directions across the two files:
        a lot of the lots file bought within 30 days after a loss sale of the blotter
        washes it (an IRA lot for good, Rev. Rul. 2008-5), and a taxable lot bought within
        30 days before one takes the disallowed loss into its basis. A blotter buy still
        held at the end is the same lot as the lots file's lot of that account, ticker and
        date with the same id, or else with the same number of shares: it is replayed once,
        under the lots file's id, with its basis from the blotter's trade (plus any wash-sale
        adjustment computed here).

        Raises
        ------
        BlotterError
            A blotter buy still held after the blotter's sales has no lot in the lots file.
        PmaLabError
            The replay leaves a lot with other shares than the lots file says.
        """
        if self.recent_trades is None or not self.recent_trades.trades:
            return self.lots.to_ledger(self.accounts())
        accounts = self._history_accounts()
        trades = list(self.recent_trades.trades)
        rename, paired = self._pair_blotter_buys(trades, accounts)
        if rename:  # replay each still-held blotter buy under its lots-file id
            trades = [replace(t, lot_id=rename[bid]) if (bid := _blotter_id(t, pos)) in rename
                      else t for pos, t in enumerate(_file_order(trades))]
        held = [kw for i, kw in enumerate(self.lots.ledger_lots()) if i not in paired]
        led = self._replay(trades, accounts, held)
        want = {r.lot_id: Decimal(repr(float(r.shares)))
                for i, r in enumerate(self.lots.lots.itertuples()) if i in paired}
        got: dict[str, Decimal] = {}
        for lt in led.lots():
            if lt.root_id in want:
                got[lt.root_id] = got.get(lt.root_id, Decimal(0)) + lt.shares
        for lot_id, shares in want.items():
            if got.get(lot_id, Decimal(0)) != shares:
                raise PmaLabError(
                    f"{self.recent_trades.source}: after the recent trades, lot {lot_id} holds "
                    f"{got.get(lot_id, 0)} shares but the lots file says {shares}; make the "
                    "lots file and the blotter agree (same lot ids help)")
        self._check_paired_basis(led, paired)
        return led

    def _check_paired_basis(self, led: Ledger, paired: dict[int, Trade | None]) -> None:
        """Refuse a lots-file lot whose basis is neither the blotter buy's nor its adjusted one.

        A paired lot is replayed with its basis from the blotter's buy (price times shares
        plus fees) and any wash-sale adjustment the replay computes; a custodian's lots file
        shows either that basis or the adjusted one. Any other basis in the lots file would
        be replaced behind the user's back, so each such lot is an error naming both files'
        rows (half a cent a share of rounding allowed).

        A taxable lot only: an IRA lot's basis has no tax effect.

        Raises
        ------
        LotsBlotterError
            With every such lot (the lots file's row and column, the blotter's row).
        """
        rows = list(self.lots.lots.itertuples())
        # an IRA lot's basis has no tax effect (no gain or loss is realised in an IRA)
        ira = {a.account_id for a in self.accounts() if a.account_type is AccountType.IRA}
        ids = {rows[i].lot_id: i for i in paired if rows[i].account not in ira}
        basis: dict[str, list[Decimal]] = {}  # lot id -> [basis, wash adjustment]
        for lt in led.lots():
            if lt.root_id in ids:
                e = basis.setdefault(lt.root_id, [Decimal(0), Decimal(0)])
                e[0] += lt.basis
                e[1] += lt.wash_adjustment
        problems = []
        for lot_id, i in ids.items():
            r, t = rows[i], paired[i]
            b, adj = basis.get(lot_id, [Decimal(0), Decimal(0)])
            have = Decimal(repr(float(r.cost_total)))
            shares = Decimal(repr(float(r.shares)))
            tol = max(Decimal("0.01"), Decimal("0.005") * shares)
            if abs(have - b) <= tol or abs(have - (b - adj)) <= tol:
                continue
            where = f" (row {t.row} of {self.recent_trades.source})" if t and t.row else ""
            made = (f"${b - adj:,.2f}, or ${b:,.2f} with the wash-sale adjustment of "
                    f"${adj:,.2f} the replay adds" if adj else f"${b:,.2f}")
            problems.append(Issue(
                str(r.source_file), int(r.source_row), self.lots.basis_header(r.source_file),
                f"{have:,.2f}",
                f"lot {lot_id} ({r.ticker}, {float(shares):,g} shares) has a cost basis of "
                f"${have:,.2f} in the lots file, but it is the blotter's buy of {r.ticker} on "
                f"{r.acquired.date()}{where}, whose basis is {made}",
                "make the two files agree: correct the lots file's cost basis or the blotter's "
                "price (and fees) of that buy", Severity.ERROR, "blotter_basis_differs"))
        if problems:
            raise LotsBlotterError(
                f"{', '.join(self.lots.sources)} and {self.recent_trades.source}", problems)

    def _replay(self, trades: list[Trade], accounts: Sequence[Account], held: list[dict]
                ) -> Ledger:
        """:func:`replay`, its refused sales reported as rows of the recent-trades blotter."""
        try:
            # the lots the blotter's sales of earlier shares name (acquired, cost_basis)
            return replay(trades, accounts, self.recent_trades.sold_lots, held_lots=held)
        except LedgerError as e:
            raise replay_problems(self.recent_trades, e) or e from None

    def _pair_blotter_buys(self, trades: list[Trade], accounts: Sequence[Account]
                           ) -> tuple[dict[str, str], dict[int, Trade | None]]:
        """Blotter buys still held at the end, paired with their lots-file lots.

        Returns the blotter lot id -> lots-file lot id map and the paired lots-file rows
        (row position -> the blotter's buy).
        """
        probe = self._replay(trades, accounts, [])
        left: dict[str, list] = {}  # blotter lot id -> [account, ticker, acquired, shares]
        for lt in probe.lots():
            e = left.setdefault(lt.root_id, [lt.account, lt.ticker, lt.acquired, Decimal(0)])
            e[3] += lt.shares
        if not left:
            return {}, {}
        df = self.lots.lots
        rows = list(df.itertuples())
        by_id = {r.lot_id: i for i, r in enumerate(rows)}
        rename: dict[str, str] = {}
        paired: dict[int, Trade | None] = {}
        problems = []
        buys = {bid: t for pos, t in enumerate(_file_order(trades))
                if t.side is Side.BUY and (bid := _auto_id(t, pos)) in left}
        for bid, (acc, tk, acq, sh) in left.items():
            i = by_id.get(bid)
            if i is None or i in paired or (rows[i].account, rows[i].ticker) != (acc, tk):
                i = next((j for j, r in enumerate(rows) if j not in paired and
                          (r.account, r.ticker, r.acquired.date()) == (acc, tk, acq) and
                          Decimal(repr(float(r.shares))) == sh), None)
            if i is None:
                t = buys.get(bid)
                problems.append(Issue(
                    # the file's own header (reviewer 2, session 24: 'shares' for Quantity)
                    self.recent_trades.source, t.row if t else None,
                    self.recent_trades.columns.get("shares", "shares"),
                    # the cell as the file writes it ('50', not the value read, '50.0')
                    self.recent_trades.cell(t.row, "shares", str(t.shares)) if t else None,
                    f"the blotter buys {tk} in account {acc!r} on {acq} and still holds {sh} "
                    "of those shares after its sales, but the lots file has no such lot "
                    f"(account {acc!r}, {tk}, acquired {acq}, {sh} shares)",
                    "add the lot to the lots file (same lot id as the blotter, or same "
                    "account, ticker, date and shares), or record its sale in the blotter",
                    Severity.ERROR, "blotter_lot_not_held"))
                continue
            paired[i] = buys.get(bid)
            if rows[i].lot_id != bid:
                rename[bid] = rows[i].lot_id
        if problems:
            raise BlotterError(self.recent_trades.source, problems)
        return rename, paired

    def _history_accounts(self) -> tuple[Account, ...]:
        declared = {a.account_id: a for a in self.accounts()}
        for a in self.recent_trades.accounts if self.recent_trades else ():
            if a.account_id in declared and declared[a.account_id].account_type != \
                    a.account_type:
                raise PmaLabError(
                    f"{self.recent_trades.source}: account {a.account_id!r} is "
                    f"{a.account_type.value} in the blotter but "
                    f"{declared[a.account_id].account_type.value} in the profile; make them "
                    "agree")
            declared.setdefault(a.account_id, a)
        return tuple(declared.values())


def _blotter_id(t: Trade, pos: int) -> str | None:
    """The lot id a blotter trade names or (a buy without one) gets in a replay."""
    return _auto_id(t, pos) if t.side is Side.BUY else t.lot_id


@dataclass(frozen=True)
class LotsReplaced:
    """What :func:`load_client_replacing` took from the new files and kept of the profile's.

    Attributes
    ----------
    new : tuple[tuple[str, str, int], ...]
        ``(file, account id, lots)`` read from the new files.
    replaced : tuple[tuple[str, str, int], ...]
        ``(profile file, account id, lots)``: the profile's lots of the new files' accounts,
        left out.
    kept : tuple[tuple[str, str, int], ...]
        ``(profile file, account id, lots)``: the profile's lots of the other accounts, kept.
    empty : tuple[str, ...]
        The declared accounts (ids, profile order) left with no lot.
    """

    new: tuple[tuple[str, str, int], ...] = ()
    replaced: tuple[tuple[str, str, int], ...] = ()
    kept: tuple[tuple[str, str, int], ...] = ()
    empty: tuple[str, ...] = ()


def _by_file_account(df) -> tuple[tuple[str, str, int], ...]:
    """``(file, account, lots)`` of a lots frame, in the frame's order."""
    out: dict[tuple[str, str], int] = {}
    for f, a in zip(df.source_file, df.account, strict=True):
        out[(str(f), str(a))] = out.get((str(f), str(a)), 0) + 1
    return tuple((f, a, n) for (f, a), n in out.items())


def load_client_replacing(profile_path: str | Path, lots_files: Sequence[str | Path], *,
                          as_of: str | dt.date | None = None,
                          known: Collection[str] | None | str = "market",
                          date_order: str | None = None,
                          over: Sequence[str | Path] = ()) -> tuple[Client, LotsReplaced]:
    """:func:`load_client` with new lots files replacing only the accounts they hold.

    A custodian that exports one file per account gives a new file for one account; the
    profile's other files still hold the other accounts' lots. The new files' lots replace
    the profile's lots of the same accounts (a file without an account column holds the
    profile's ``default_account``); the profile's lots of every other account are kept,
    and the whole is validated as :func:`load_client` validates a client (recent trades,
    ``min_cash``). Reviewer 1 (session 22): the dashboard's upload replaced every lots file
    of a client, silently emptying an IRA whose lots were in another file.

    ``over``: earlier new files (the latest first) laid over the profile's the same way
    before ``lots_files``: each keeps the lots of the accounts no later file holds, so a
    client's one-file-per-account exports uploaded one after the other are all in effect.
    Their kept and replaced lots are listed with the profile's (by file).

    Returns
    -------
    (Client, LotsReplaced)
        The client and what was replaced, kept and left empty.

    Raises
    ------
    ProfileError, LotDataError, BlotterError
        As :func:`load_client`; the profile's own files' problems too (their lots could not
        be kept).
    """
    if not lots_files:
        raise PmaLabError("load_client_replacing: give at least one lots file")
    _path(profile_path, "load_client_replacing")
    replaced: list[tuple[str, str, int]] = []
    client = _load_client(profile_path, as_of, lots_files, known, date_order, replaced,
                          [Path(f) for f in over])
    df = client.lots.lots
    is_new = df.source_file.astype(str).isin({str(Path(f)) for f in lots_files})
    held = set(df.account)
    empty = tuple(a for a in client.profile.account_ids() if a not in held)
    return client, LotsReplaced(_by_file_account(df[is_new]), tuple(replaced),
                                _by_file_account(df[~is_new]), empty)


def load_client(profile_path: str | Path, *, as_of: str | dt.date | None = None,
                lots_files: Sequence[str | Path] | None = None,
                known: Collection[str] | None | str = "market",
                date_order: str | None = None) -> Client:
    """Read a client's profile, lots and recent trades, validating everything.

    Parameters
    ----------
    profile_path : str | Path
        The profile (TOML).
    as_of : str | datetime.date | None
        Analysis date; default the profile's ``client.as_of``.
    lots_files : Sequence[str | Path] | None
        Lots files to read instead of the profile's ``lots.files``.
    known : Collection[str] | None | "market"
        Accepted tickers (default: the packaged security master and ETFs).
    date_order : {"MDY", "DMY"} | None
        Overrides the profile's ``lots.date_order``.

    Raises
    ------
    ProfileError, LotDataError, BlotterError
        With every problem found (all lots files are read before raising); a
        ``ProfileError`` (``stale_carryforward``) also when the profile gives a loss
        carryforward into another tax year than the analysis date's
        (:meth:`ClientProfile.carryforward_into`).
    TypeError
        When ``profile_path`` is not a path (a path to a profile.toml is expected).
    """
    _path(profile_path, "load_client")
    return _load_client(profile_path, as_of, lots_files, known, date_order, None, ())


def _load_client(profile_path: str | Path, as_of: str | dt.date | None,
                 lots_files: Sequence[str | Path] | None,
                 known: Collection[str] | None | str, date_order: str | None,
                 replaced: list[tuple[str, str, int]] | None,
                 over: Sequence[Path]) -> Client:
    """Read a client (:func:`load_client`), the new lots files replacing some or all lots.

    With ``replaced`` (a list) the given ``lots_files`` replace only the profile's lots of
    the accounts they hold, and ``replaced`` receives the profile's ``(file, account,
    lots)`` left out (:func:`load_client_replacing`; ``over``: earlier new files laid
    over the profile's first); without it they replace all.
    """
    packaged = known == "market"
    if packaged:
        known = known_tickers()
    try:
        profile = load_profile(profile_path, known=known,
                               lots_replaced=bool(lots_files) and replaced is None)
    except ProfileError as e:
        _raise_with_lots_errors(e, as_of, lots_files, known, date_order)
        raise
    day = to_date(as_of) or profile.as_of
    if day is None:
        raise PmaLabError(f"{profile_path}: no as-of date; pass --as-of YYYY-MM-DD or set "
                          "client.as_of in the profile")
    # the loss carryforwards are those into the profile's tax year: given for another year
    # than the analysis date's, they are refused with the inputs (ClientProfile.
    # carryforward_into, which every figure reads)
    stale = profile.carryforward_issue(day.year, f"the analysis date {day}")
    if stale is not None:
        raise ProfileError(str(profile_path), [stale])
    spec = profile.lots
    files = [Path(f) for f in lots_files] if lots_files else list(spec.files)
    sets: list[LotSet] = []
    aliases = {k: a.account_id for a in profile.accounts for k in (a.name, a.number) if k}
    # an all-cash account (a new direct-indexing account funded with cash) has no lots: a
    # header-only export is then its empty account, read with a warning naming the file;
    # with no cash anywhere a header-only file stays an error (a truncated export: there
    # would be nothing to manage)
    funded = profile.cash > 0
    errors = _read_all_lots(files, sets, day, profile.account_ids(), spec, date_order, known,
                            aliases, empty_ok=funded)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise LotDataError(", ".join(e.source for e in errors),
                           [i for e in errors for i in e.issues])
    lots = sets[0] if sets else empty_lots("", day)
    for s in sets[1:]:
        lots = lots.concat(s)
    if not len(lots) and not funded and not (replaced is not None and lots_files):
        raise ProfileError(str(profile_path), [_nothing_to_manage(str(profile_path))])
    if replaced is not None and lots_files:
        lots = _keep_other_accounts(lots, day, profile.account_ids(), spec, date_order, known,
                                    replaced, over)
    recent = None
    if spec.recent_trades is not None:
        declared = {a.account_id: a.account_type for a in profile.ledger_accounts()}
        one = next(iter(declared)) if len(declared) == 1 else None
        recent = read_blotter(spec.recent_trades, known=known, as_of=day,
                              date_order=date_order or spec.date_order, policy=spec.policy,
                              accounts=declared, default_account=spec.default_account or one)
    core = profile.core
    if packaged and core is not None and core.equity_sleeve == "active_index" \
            and core.active_model is not None:
        from pma_lab.io.models import check_active_model_prices

        check_active_model_prices(core.active_model, day, known)
    _check_min_cash(profile, profile_path, lots, day)
    stale = _stale_prices(profile_path, lots, day) if packaged else ()
    return Client(replace(profile, as_of=day), lots, recent, day, stale)


def _stale_prices(path: str | Path, lots: LotSet, day: dt.date) -> tuple[Issue, ...]:
    """The held names' stale-price warnings (:func:`pma_lab.io.holdings.stale_price_issues`).

    Nothing when the packaged prices cannot be read or cannot price a name: the steps that
    price the lots name those problems.
    """
    from pma_lab.errors import MarketDataError, PriceDataError
    from pma_lab.io.holdings import stale_price_issues
    from pma_lab.market.data import load_market

    df = lots.lots
    if not len(df):
        return ()
    try:
        return tuple(stale_price_issues(load_market(), list(df.ticker.astype(str)), day,
                                        str(path)))
    except (MarketDataError, PriceDataError):
        return ()


def _keep_other_accounts(lots: LotSet, day: dt.date, accounts: Collection[str],
                         spec: LotsSpec, date_order: str | None,
                         known: Collection[str] | None,
                         replaced: list[tuple[str, str, int]],
                         over: Sequence[Path] = ()) -> LotSet:
    """``lots`` (the new files') plus the other files' lots of the other accounts.

    The other files are ``over`` (earlier new files, the latest first), then the profile's;
    each keeps its lots of the accounts that no file before it holds. The lots left out go
    to ``replaced`` as ``(file, account, lots)``; a file left with no lot is dropped with
    its warnings.

    Raises
    ------
    LotDataError
        The profile's own files' problems (their lots cannot be kept), or a lot id used
        both in a new file and in a kept profile file.
    """
    held = set(lots.lots.account)
    theirs: list[LotSet] = []
    files = [*over, *spec.files]
    errors = _read_all_lots(files, theirs, day, accounts, spec, date_order, known)
    if errors:
        raise LotDataError(", ".join(e.source for e in errors),
                           [i for e in errors for i in e.issues])
    # layers: each earlier new file on its own, then the profile's files together (two
    # profile files may hold lots of the same account)
    layers = [[s] for s in theirs[:len(over)]] + [theirs[len(over):]]
    for layer in layers:
        gained: set[str] = set()
        for s in layer:
            df = s.lots
            drop = df.account.isin(held)
            replaced.extend(_by_file_account(df[drop]))
            gained |= set(df.account[~drop])
            if drop.all():
                continue
            lots = lots.concat(s if not drop.any() else
                               replace(s, lots=_freeze(df[~drop].reset_index(drop=True))))
        held |= gained
    return lots


def _nothing_to_manage(path: str) -> Issue:
    """The profile's issue when the client has neither lots nor cash."""
    return Issue(path, None, "lots.files", None,
                 "the client has no lots and no cash: there is nothing to manage",
                 "name the lots file(s) in [lots] files, or give the new account its cash "
                 "([[accounts]] cash = 500000.0)", Severity.ERROR, "nothing_to_manage")


def _read_all_lots(files: Sequence[Path], sets: list[LotSet], day: dt.date,
                   accounts: Collection[str], spec: LotsSpec, date_order: str | None,
                   known: Collection[str] | None,
                   aliases: Mapping[str, str] | None = None,
                   empty_ok: bool = False) -> list[LotDataError]:
    """Read every lots file into ``sets``; the errors of those that fail, in file order.

    ``aliases``: each account's name and number -> its id (an account cell naming one is
    refused with the id to write). ``empty_ok``: a header-only file is an account with
    no positions (:func:`~pma_lab.io.ingest.read_lots`).
    """
    errors: list[LotDataError] = []
    for f in files:
        try:
            sets.append(read_lots(
                f, as_of=day, accounts=accounts,
                default_account=spec.default_account, date_order=date_order or spec.date_order,
                known=known, delimiter=spec.delimiter, sheet=spec.sheet, policy=spec.policy,
                account_aliases=aliases, empty_ok=empty_ok))
        except LotDataError as e:
            errors.append(e)
    return errors


def _raise_with_lots_errors(err: ProfileError, as_of: str | dt.date | None,
                            lots_files: Sequence[str | Path] | None,
                            known: Collection[str] | None, date_order: str | None) -> None:
    """Raise the profile's errors and its lots files' errors as one :class:`ClientFilesError`.

    Reviewer 1 (session 20): a profile with an error hid the lots files' errors until it
    was fixed. When the profile still says how to read its lots (``err.lots``,
    :class:`~pma_lab.io.profile.LotsReadable`) they are read and every problem of both
    is listed, each naming its file, row, column and fix. Returns (the caller re-raises
    ``err``) when the lots cannot be read or have no error.
    """
    seen = err.lots
    if not isinstance(seen, LotsReadable):
        return
    day = to_date(as_of) or seen.as_of
    if day is None:
        return
    files = [Path(f) for f in lots_files] if lots_files else list(seen.spec.files)
    errors = _read_all_lots(files, [], day, seen.account_ids, seen.spec, date_order, known)
    if errors:
        raise ClientFilesError(", ".join([err.source, *(e.source for e in errors)]),
                               [*err.issues, *(i for e in errors for i in e.issues)]) from None


def _check_min_cash(profile: ClientProfile, path: str | Path, lots: LotSet,
                    day: dt.date) -> None:
    """Every account's ``min_cash`` is at most its value: its lots at ``day``'s prices + cash.

    Checked with the inputs (``pma-lab lots validate``, batch's inputs-first step) rather
    than when the household or the rebalance is solved. Lots without a packaged price are
    left to the steps that price them (which name them).

    Raises
    ------
    ProfileError
        Naming the profile file and each account's key (``[[accounts]] ira: min_cash``),
        in the words of :func:`pma_lab.accounts.min_cash_conflict`.
    """
    floors = {a.account_id: a for a in profile.accounts if a.min_cash > 0}
    if not floors:
        return
    from pma_lab.accounts import MIN_CASH_CONFLICT, min_cash_over
    from pma_lab.errors import MarketDataError, PriceDataError
    from pma_lab.io.holdings import prices_at
    from pma_lab.market.data import load_market

    df = lots.lots[lots.lots.account.isin(list(floors))]
    try:
        px = prices_at(load_market(), sorted(set(df.ticker)), day) if len(df) else None
    except (MarketDataError, PriceDataError):
        return
    issues = []
    for aid, a in floors.items():
        mine = df[df.account == aid]
        worth = a.cash + (float((mine.shares.astype(float) * mine.ticker.map(px)).sum())
                          if len(mine) else 0.0)
        if not np.isfinite(worth) or a.min_cash <= worth + 0.005:
            continue
        issues.append(Issue(
            str(path), None, f"[[accounts]] {aid}: min_cash", repr(a.min_cash),
            f"{min_cash_over(aid, a.min_cash, worth, a.cash, day)}. {MIN_CASH_CONFLICT}",
            "lower min_cash below the account's value, or move money into the account "
            "first", Severity.ERROR, "min_cash_above_value"))
    if issues:
        raise ProfileError(str(path), issues)


def find_clients(folder: str | Path) -> list[Path]:
    """Profiles under a clients folder: every ``*/profile.toml`` (sorted)."""
    return sorted(Path(folder).glob("*/profile.toml"))
