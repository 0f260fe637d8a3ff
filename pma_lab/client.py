"""A client as the engine sees it: profile + validated lots + recent trades, at an as-of date.

:func:`load_client` is the one entry point the CLI, notebooks and batch jobs use to turn a
profile file into typed objects; :meth:`Client.ledger` builds the household's tax-lot ledger
(lots from the custodian files, realised history and open wash-sale losses from the recent
trades blotter).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pma_lab.errors import Issue, LotDataError, PmaLabError
from pma_lab.ingest import Blotter, LotSet, known_tickers, read_blotter, read_lots
from pma_lab.ledger import Account, Ledger, replay
from pma_lab.profile import ClientProfile, load_profile

__all__ = ["Client", "load_client", "find_clients", "to_date"]


def to_date(value: str | dt.date | None, what: str = "as_of") -> dt.date | None:
    """Parse an ISO date given on the command line or in a notebook parameter."""
    if value is None or isinstance(value, dt.date):
        return value
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
    """

    profile: ClientProfile
    lots: LotSet
    recent_trades: Blotter | None
    as_of: dt.date

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
        return out

    def accounts(self) -> tuple[Account, ...]:
        """The household's accounts for the ledger."""
        return self.profile.ledger_accounts()

    def ledger(self) -> Ledger:
        """Build the household ledger: current lots plus the recent trades' history."""
        led = self.lots.to_ledger(self.accounts())
        if self.recent_trades is not None and self.recent_trades.trades:
            hist = replay(self.recent_trades.trades, self._history_accounts(), (),
                          identity=led.identity, policy=led.policy)
            led.import_history(hist)
        return led

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
        With every problem found (all lots files are read before raising).
    """
    if known == "market":
        known = known_tickers()
    profile = load_profile(profile_path, known=known)
    day = to_date(as_of) or profile.as_of
    if day is None:
        raise PmaLabError(f"{profile_path}: no as-of date; pass --as-of YYYY-MM-DD or set "
                          "client.as_of in the profile")
    spec = profile.lots
    files = [Path(f) for f in lots_files] if lots_files else list(spec.files)
    sets: list[LotSet] = []
    errors: list[LotDataError] = []
    for f in files:
        try:
            sets.append(read_lots(
                f, as_of=day, accounts=profile.account_ids(),
                default_account=spec.default_account, date_order=date_order or spec.date_order,
                known=known, delimiter=spec.delimiter, sheet=spec.sheet, policy=spec.policy))
        except LotDataError as e:
            errors.append(e)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise LotDataError(", ".join(e.source for e in errors),
                           [i for e in errors for i in e.issues])
    lots = sets[0]
    for s in sets[1:]:
        lots = lots.concat(s)
    recent = None
    if spec.recent_trades is not None:
        recent = read_blotter(spec.recent_trades, known=known, as_of=day,
                              date_order=date_order or spec.date_order, policy=spec.policy)
    return Client(replace(profile, as_of=day), lots, recent, day)


def find_clients(folder: str | Path) -> list[Path]:
    """Profiles under a clients folder: every ``*/profile.toml`` (sorted)."""
    return sorted(Path(folder).glob("*/profile.toml"))
