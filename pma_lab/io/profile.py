"""Client profiles: a TOML file read strictly into a frozen :class:`ClientProfile`.

The sample profiles in ``data/samples/clients/`` show the format; ``_SECTIONS`` below lists
every key. Every key has a type (checked for every item of a list, with inf/NaN, absurd
amounts, control characters and dates outside 1900-2100 refused everywhere), unknown keys
are errors (with a "did you mean" suggestion), and every problem in the file is reported at
once as a :class:`~pma_lab.errors.ProfileError` naming the key path.

Files named in ``[lots]`` (``files``, ``recent_trades``) are resolved against the profile's
folder with symlinks followed and must stay inside it, or inside a folder listed in
``lots.allowed_dirs`` (the one explicit way to read files from elsewhere). Two more
``[lots]`` keys are opt-ins of ingestion (:class:`~pma_lab.schema.ReadPolicy`):
``allow_hidden`` (read hidden workbook rows, columns and sheets as lots) and
``allow_before_market_data`` (accept lots older than the packaged prices).
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pma_lab.errors import Issue, ProfileError, Severity
from pma_lab.market.tickers import TickerSuggester, normalize_ticker
from pma_lab.portfolio.restrictions import (  # noqa: F401 (re-exported)
    HELD_ACTIONS,
    HELD_KEYS,
    HeldAction,
    Restrictions,
)
from pma_lab.schema import (
    GICS_SECTORS,
    LIMITS,
    RESTRICTION_CATEGORIES,
    WITHDRAWAL_INPUT,
    ReadPolicy,
    withdrawal_word,
)
from pma_lab.tax.ledger import Account, AccountType, LotRelief
from pma_lab.tax.liability import TaxProfile
from pma_lab.tax.rules import FilingStatus, supported_tax_years

__all__ = [
    "AccountSpec",
    "LotsSpec",
    "Restrictions",
    "HeldAction",
    "HELD_ACTIONS",
    "HELD_KEYS",
    "Budgets",
    "TargetSpec",
    "TransitionSpec",
    "ConcentratedSpec",
    "CharitySpec",
    "FixedIncomeSpec",
    "CoreSpec",
    "ClientProfile",
    "load_profile",
    "SCHEMA_VERSION",
]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class AccountSpec:
    """An account of the client (household)."""

    account_id: str
    account_type: AccountType = AccountType.TAXABLE
    relief: LotRelief = LotRelief.FIFO
    cash: float = 0.0
    # an IRA's kind as the profile states it: "traditional", "roth", or "" when it does not
    # (the household optimiser treats that as traditional; the client's words say "IRA",
    # pma_lab.accounts.account_kind)
    ira_kind: str = ""
    no_buy: tuple[str, ...] = ()  # tickers this account must not buy (household optimiser)
    min_cash: float = 0.0  # USD the account keeps in cash after trading (household optimiser)
    # how the client knows the account (pma_lab.accounts.account_names): its own name
    # ("Family trust") and its account number as statements print it ("XXXX-1234");
    # "": not set (the kind's words, and no number unless the id is a masked number)
    name: str = ""
    number: str = ""

    def account(self) -> Account:
        """The ledger's view of this account."""
        return Account(self.account_id, self.account_type, self.relief)


@dataclass(frozen=True)
class LotsSpec:
    """Where the client's lots are and how to read them.

    ``files`` and ``recent_trades`` are resolved (symlinks followed) and lie inside the
    profile's folder or one of ``allowed_dirs`` (the ``lots.allowed_dirs`` key, the only way
    to read files from elsewhere). ``policy`` holds the ingestion opt-ins
    (``lots.allow_hidden``, ``lots.allow_before_market_data``).
    """

    files: tuple[Path, ...]
    default_account: str | None = None
    date_order: str | None = None
    sheet: str | None = None
    delimiter: str = ","
    recent_trades: Path | None = None
    policy: ReadPolicy = field(default_factory=ReadPolicy)
    allowed_dirs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class LotsReadable:
    """What a profile with errors still says of its lots: enough to read the lots files.

    Set as :attr:`pma_lab.errors.ProfileError.lots` when no error concerns the accounts,
    the ``[lots]`` section or the as-of date (:func:`pma_lab.io.client.load_client` then
    lists the lots files' errors with the profile's).
    """

    spec: LotsSpec
    account_ids: tuple[str, ...]
    as_of: dt.date | None


@dataclass(frozen=True)
class Budgets:
    """Capital-gains budgets per tax year in USD of net realised gain (``None``: no cap)."""

    total: float | None = None
    short_term: float | None = None
    long_term: float | None = None


@dataclass(frozen=True)
class TargetSpec:
    """The target model and account size."""

    model: str = "sp500"
    account_size: float | None = None
    names: int | None = None
    benchmark_file: Path | None = None  # weights file (ticker, weight[, date]); None: proxy


@dataclass(frozen=True)
class FixedIncomeSpec:
    """The client's bond ladder (``[fixed_income]``; see :mod:`pma_lab.portfolio.ladder`)."""

    kind: str = "treasury"  # "treasury" or "muni"
    years: int = 5  # 5 or 10 (a 1-5 or 1-10 year ladder)
    amount: float | None = None  # USD; None: decided by the allocation
    muni_ratio: float | None = None  # modelled muni / Treasury yield; None: the default
    in_state: bool = True  # munis of the client's own state (state-exempt)


@dataclass(frozen=True)
class CoreSpec:
    """A core allocation and its equity sleeve (``[core]``; :mod:`pma_lab.portfolio.allocation`).

    ``allocation``: ``"60/40"`` / ``"70/30"`` (or ``None``: all equity); ``band``: drift
    allowed before selling (share points); ``equity_sleeve``: ``"direct_index"`` or
    ``"active_index"`` (an active model file plus a completion sleeve,
    :mod:`pma_lab.portfolio.completion`) with ``active_model`` (weights file ``ticker, weight[,
    date]`` in the profile's folder) and ``active_share`` (the active sleeve's share of the
    equity).
    """

    allocation: str | None = None
    band: float = 0.05
    equity_sleeve: str = "direct_index"
    active_model: Path | None = None
    active_share: float | None = None


@dataclass(frozen=True)
class TransitionSpec:
    """The client's preferred transition mode."""

    mode: str = "budget"
    years: int | None = None
    annual_budget: float | None = None


@dataclass(frozen=True)
class ConcentratedSpec:
    """A concentrated position and what to do with it."""

    ticker: str
    strategy: str = "keep"


@dataclass(frozen=True)
class CharitySpec:
    """Charitable giving of appreciated lots."""

    annual_gift: float = 0.0


@dataclass(frozen=True)
class TradingSpec:
    """How trades reach the custodian.

    Attributes
    ----------
    fractional_shares : bool
        Whether the custodian accepts fractional quantities (default ``False``: every
        trade list is in whole shares).
    min_trade_usd : float
        No order below this many dollars (default 250; sales that close a position or
        that a restriction forces are exempt).
    wash_sale_mode : str
        A loss lot of a name bought in the last 30 days: ``"forbid"`` (default) never
        sells it at a loss; ``"disallow"`` may sell it, the loss disallowed and added to
        the replacement shares' basis (:class:`pma_lab.modes.WashSaleMode`).
    """

    fractional_shares: bool = False
    min_trade_usd: float = 250.0
    wash_sale_mode: str = "forbid"


@dataclass(frozen=True)
class ClientProfile:
    """Everything pma_lab knows about a client besides the lots.

    Attributes
    ----------
    client_id, name, description : str
        Identity (``client_id`` is safe as a file name).
    as_of : datetime.date | None
        Default analysis date.
    tax : TaxProfile
        Marginal rates and filing status.
    carryforward_st, carryforward_lt : float
        Capital loss carryovers into the tax year (``tax.tax_year``); every figure reads
        them through :meth:`carryforward_into`, which refuses them for another year.
    accounts : tuple[AccountSpec, ...]
        The client's accounts (a household may hold several, including IRAs).
    lots : LotsSpec
        Lots files (resolved to absolute paths).
    restrictions, budgets, target, transition, concentrated, charity
        The client's preferences (``concentrated`` and ``charity`` may be ``None``).
    trading : TradingSpec
        Whole or fractional shares and the minimum trade (``[trading]``).
    path : Path
        The profile file.
    warnings : tuple[Issue, ...]
        Non-fatal findings.
    """

    client_id: str
    name: str
    as_of: dt.date | None
    description: str
    tax: TaxProfile
    carryforward_st: float
    carryforward_lt: float
    accounts: tuple[AccountSpec, ...]
    lots: LotsSpec
    restrictions: Restrictions
    budgets: Budgets
    target: TargetSpec
    transition: TransitionSpec | None
    concentrated: ConcentratedSpec | None
    charity: CharitySpec | None
    path: Path
    warnings: tuple[Issue, ...] = ()
    trading: TradingSpec = TradingSpec()
    fixed_income: FixedIncomeSpec | None = None
    core: CoreSpec | None = None

    @property
    def cash(self) -> float:
        """Cash across all accounts."""
        return sum(a.cash for a in self.accounts)

    def target_restrictions(self) -> Restrictions:
        """The restrictions a target (and its completion sleeve) is built under.

        ``[restrictions]`` plus the names that no account may buy: those on every
        ``[[accounts]] no_buy`` list. A one-account client's own ``no_buy`` therefore acts
        as ``[restrictions] no_buy`` does; in a household, a name one account may still
        buy stays in the target (each account's rebalance keeps its own list).

        Returns
        -------
        Restrictions
            ``self.restrictions`` with ``no_buy`` extended (order kept, no duplicates).
        """
        lists = [set(a.no_buy) for a in self.accounts]
        shared = set.intersection(*lists) if lists else set()
        r = self.restrictions
        extra = [t for a in self.accounts[:1] for t in a.no_buy
                 if t in shared and t not in r.no_buy]
        if not extra:
            return r
        return replace(r, no_buy=tuple(dict.fromkeys((*r.no_buy, *extra))))

    def carryforward_into(self, year: int, when: str | None = None) -> tuple[float, float]:
        """The capital loss carried into tax ``year``, short- and long-term (USD, >= 0).

        The one rule every figure reads (the rebalance, the household, a plan's yearly
        tax, the withdrawal rule, the proposal, the dashboard and the command line):
        ``[tax] carryforward_st`` / ``carryforward_lt`` are the loss carried INTO the
        profile's tax year (``tax.tax_year``; ``client.as_of``'s year when it is absent),
        Schedule D's lines 6 and 14 of that year, from the previous return's Capital Loss
        Carryover Worksheet. They are the carry into ``year`` when ``year`` is the tax
        year. For another year they say nothing: the carry into a later year depends on
        the gains and losses realised in between (all of the client's, not only those
        pma_lab sees), and the carry into an earlier year is not the one into the tax
        year; taking them as 0 would drop them, taking them as they are would count them
        in the wrong year. So a non-zero carryforward for another year is an error that
        names the fix (:meth:`carryforward_issue`); with none (0 and 0) every year's is 0.
        A plan's later years chain the carry from this one through each year's netting.

        Parameters
        ----------
        year : int
            The tax year of the analysis (its date's calendar year).
        when : str | None
            What falls in ``year``, for the message (default ``"the analysis year"``),
            e.g. ``"the analysis date 2027-01-15"``.

        Returns
        -------
        tuple[float, float]
            The short- and long-term loss carried into ``year``.

        Raises
        ------
        ProfileError
            Code ``stale_carryforward``, naming the profile file and the key, when a
            carryforward is given and ``year`` is not the profile's tax year.
        """
        issue = self.carryforward_issue(year, when)
        if issue is not None:
            raise ProfileError(str(self.path), [issue])
        if year != self.tax.tax_year:  # no carryforward given: none into any year
            return 0.0, 0.0
        return float(self.carryforward_st), float(self.carryforward_lt)

    def carryforward_issue(self, year: int, when: str | None = None) -> Issue | None:
        """Why the profile's loss carryforward cannot be read as the carry into ``year``.

        ``None`` when ``year`` is the profile's tax year or no carryforward is given; else
        the error of :meth:`carryforward_into` (what, where, how to fix).
        """
        st, lt = float(self.carryforward_st), float(self.carryforward_lt)
        base = self.tax.tax_year
        if year == base or (st <= 0 and lt <= 0):
            return None
        from pma_lab.formatting import fmt_usd

        what = when or "the analysis year"
        key = "tax.carryforward_lt" if lt > 0 else "tax.carryforward_st"
        later = (f"the carry into {year} depends on the gains and losses realised in "
                 f"{base}" + (f"-{year - 1}" if year - 1 > base else "")) if year > base \
            else f"the carry into {year} is not the one into {base}"
        return Issue(
            str(self.path), None, key, f"{fmt_usd(st)} short-term / {fmt_usd(lt)} long-term",
            f"the loss carryforwards are the loss carried into tax year {base} (tax.tax_year, "
            f"or client.as_of's year when it is absent), but {what} is in {year}: {later}, "
            "so they are neither used nor taken as 0",
            f"set tax_year = {year} and carryforward_st / carryforward_lt to the loss carried "
            f"into {year} (the Capital Loss Carryover Worksheet of the {year - 1} return; 0 "
            f"for none; tax_year also sets the brackets an income-based profile is taxed "
            f"at, so check taxable_income and the rates are {year}'s too), or analyse as of "
            f"a date in {base}", code="stale_carryforward")

    def account_ids(self) -> tuple[str, ...]:
        """Declared account ids."""
        return tuple(a.account_id for a in self.accounts)

    def ledger_accounts(self) -> tuple[Account, ...]:
        """The accounts as the ledger needs them."""
        return tuple(a.account() for a in self.accounts)


# ------------------------------------------------------------------------------- validation
class _Checker:
    def __init__(self, file: str):
        self.file = file
        self.issues: list[Issue] = []

    def err(self, key: str, code: str, message: str, fix: str, value: Any = None,
            severity: Severity = Severity.ERROR) -> None:
        text = None if value is None else repr(value)
        if text is not None and len(text) > 80:
            text = text[:80] + "..."
        self.issues.append(Issue(self.file, None, key or None, text, message, fix, severity,
                                 code))

    def table(self, data: dict, path: str, allowed: Collection[str]) -> None:
        for k in data:
            if k not in allowed:
                near = difflib.get_close_matches(k, list(allowed), n=1, cutoff=0.6)
                hint = f"did you mean '{near[0]}'? " if near else ""
                if withdrawal_word(k):  # a withdrawal, or its date: said how it is given
                    hint = f"{WITHDRAWAL_INPUT}; "
                self.err(f"{path}.{k}" if path else k, "unknown_key",
                         f"'{k}' is not a known key{' of [' + path + ']' if path else ''}",
                         f"{hint}allowed keys: {', '.join(sorted(allowed))}")

    def get(self, data: dict, path: str, key: str, types: tuple[type, ...], required: bool,
            default: Any = None, check: Callable[[Any], str | None] | None = None,
            name: str | None = None) -> Any:
        full = name or (f"{path}.{key}" if path else key)
        if key not in data:
            if required:
                self.err(full, "missing_key", f"'{full}' is required",
                         f"add {key} = ... to the [{path}] table" if path else f"add {key}")
            return default
        v = data[key]
        if float in types and isinstance(v, int) and not isinstance(v, bool):
            if abs(v) > LIMITS.max_amount:  # also too large for a float (10**400)
                self.err(full, "out_of_range",
                         f"'{full}' is larger than {LIMITS.max_amount:,.0f}",
                         "write the amount in USD", f"{str(v)[:20]}... ({len(str(v))} digits)")
                return default
            v = float(v)
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            self.err(full, "wrong_type", f"'{full}' must be {names}, got {type(v).__name__}",
                     _type_fix(full, types, v), v)
            return default
        problem = _plausible(v)
        if problem:
            self.err(full, *problem.split("|", 2), value=v)
            return default
        if check is not None:
            problem = check(v)
            if problem:
                self.err(full, *problem.split("|", 2), value=v)  # code|message|fix
                return default
        return v


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _plausible(v: Any) -> str | None:
    """``code|message|fix`` for a value no key accepts, else ``None``.

    Refused everywhere: inf/NaN, amounts beyond ``LIMITS.max_amount``, control characters
    (tab and newline are allowed; single-line keys refuse newlines themselves) and dates
    outside 1900-2100.
    """
    if isinstance(v, float):
        if not math.isfinite(v):
            return "non_finite|the value is infinite or NaN (not a number)|write a number"
        if abs(v) > LIMITS.max_amount:
            return (f"out_of_range|the value is larger than {LIMITS.max_amount:,.0f}|write "
                    "the amount in USD (rates as decimals, e.g. 0.238)")
    if isinstance(v, str) and _CONTROL.search(v):
        return ("invalid_value|the text holds a control character (tab, form feed, "
                "escape...)|remove it; write plain text")
    if isinstance(v, dt.date) and not LIMITS.earliest_date <= (
            v.date() if isinstance(v, dt.datetime) else v) <= LIMITS.latest_date:
        return (f"out_of_range|the date is outside {LIMITS.earliest_date.year}-"
                f"{LIMITS.latest_date.year}|write the date as YYYY-MM-DD")
    return None


def _single_line(v: str) -> str | None:
    if "\n" in v or "\r" in v:
        return "invalid_value|the value must be one line|remove the line break"
    return None


def _rate(v: float) -> str | None:
    if not 0.0 <= v <= 1.0:
        return ("rate_out_of_range|the rate must be between 0 and 1|write rates as decimals, "
                "e.g. 0.238 for 23.8 %")
    return None


def _state_rate(v: float) -> str | None:
    from pma_lab.tax.rules import MAX_STATE_RATE

    if not 0.0 <= v <= MAX_STATE_RATE:
        return (f"rate_out_of_range|a state rate must be between 0 and {MAX_STATE_RATE:g} "
                f"({MAX_STATE_RATE:.0%}; California's top rate is 13.3 %)|write the state's "
                "marginal rate as a decimal, e.g. 0.0575 for 5.75 %")
    return None


def _budget(v: float) -> str | None:
    if v < 0:
        return ("negative_budget|a capital-gains budget cannot be negative|use 0 for "
                "'realise no net gains' or remove the key for no cap")
    return None


def _nonneg(v: float) -> str | None:
    if v < 0:
        return "negative_amount|the amount cannot be negative|write a positive amount or 0"
    return None


def _min_cash(v: float) -> str | None:
    if v < 0:
        return ("negative_amount|the minimum cash cannot be negative|write the USD the "
                "account keeps in cash after trading, e.g. min_cash = 5000.0, or 0 for none")
    return None


def _enum(values: Collection[str]) -> Callable[[str], str | None]:
    def check(v: str) -> str | None:
        if v not in values:
            return f"invalid_value|{v!r} is not allowed|use one of: {', '.join(values)}"
        return None
    return check


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _account_display(v: str) -> str | None:
    """``[[accounts]] name``: the client's own words for the account."""
    if not v.strip() or len(v) > 60 or any(not ch.isprintable() for ch in v):
        return ("invalid_value|the account's name must be 1 to 60 printable characters|"
                'write it as the client says it, e.g. name = "Family trust"')
    return None


_NUMBER = re.compile(r"^[A-Za-z0-9*#\u2022. -]{1,32}$")


def _numbers_apart(c, accounts: list, where: dict[str, str]) -> None:
    """A declared ``number`` must not read as another account's id or number.

    The proposal shows an account's number beside its name so that the client and the
    service team match it with the trade files' ``Account`` column (the ids); a number
    equal (case aside) to another account's id, or to the masked id shown as another
    account's number, would point them at that account's orders.
    """
    from pma_lab.accounts import is_account_number

    shown = {a.account_id: a.number or (a.account_id if is_account_number(a.account_id)
                                        else "") for a in accounts}
    for a in accounts:
        if not a.number:
            continue
        # another declared number equal to it is the per-key check's (reported there)
        clash = next((o.account_id for o in accounts if o is not a and a.number.casefold()
                      in (o.account_id.casefold(),
                          "" if o.number else shown[o.account_id].casefold())), None)
        if clash is not None:
            c.err(f"{where[a.account_id]}.number", "duplicate_account",
                  f"account {a.account_id!r} has the number {a.number!r}, which is how "
                  f"account {clash!r} reads (its id or number, case aside) in the proposal "
                  "and the trade files", "give each account the number its statements "
                  "print, different from every other account's id and number", a.number)


def _account_number(v: str) -> str | None:
    """``[[accounts]] number``: the account number as the client's statements print it."""
    if not _NUMBER.fullmatch(v) or not any(ch.isdigit() for ch in v):
        return ("invalid_value|the account number must be 1 to 32 letters, digits, mask "
                "characters (* # \u2022 .), spaces or '-', with at least one digit|write it as "
                'the statements print it, masked, e.g. number = "XXXX-1234"')
    return None


def _ident(v: str) -> str | None:
    if not _ID.fullmatch(v):
        return ("invalid_value|the id may only use letters, digits, '.', '-' and '_' (max 64)"
                "|rename it, e.g. 'smith-family'")
    return None


_TOP = {"schema_version", "client", "tax", "accounts", "lots", "restrictions", "budgets",
        "target", "transition", "concentrated", "charity", "trading", "fixed_income", "core"}
_SECTIONS = {
    "client": {"id", "name", "as_of", "description"},
    "tax": {"filing_status", "tax_year", "st_rate", "lt_rate", "taxable_income", "magi",
            "state_rate", "state_lt_rate", "niit", "agi", "carryforward_st",
            "carryforward_lt", "qualified_dividends", "state_charitable_deduction"},
    "accounts": {"id", "type", "relief", "cash", "ira_kind", "no_buy", "min_cash", "name",
                 "number"},
    "lots": {"files", "default_account", "date_order", "sheet", "delimiter", "recent_trades",
             "allow_hidden", "allow_before_market_data", "allowed_dirs"},
    "restrictions": {"categories", "no_buy", "never_hold", "hold_no_add", "exclude_sectors",
                     "exclude_industries", "sector_max_weight", "sector_tilts", "held"},
    "budgets": {"total", "short_term", "long_term"},
    "target": {"model", "account_size", "names", "benchmark_file"},
    "transition": {"mode", "years", "annual_budget"},
    "concentrated": {"ticker", "strategy"},
    "charity": {"annual_gift"},
    "trading": {"fractional_shares", "min_trade_usd", "wash_sale_mode"},
    "fixed_income": {"kind", "years", "amount", "muni_ratio", "in_state"},
    "core": {"allocation", "band", "equity_sleeve", "active_model", "active_share"},
}
TARGET_MODELS = ("sp500",)
TRANSITION_MODES = ("immediate", "timeline", "budget")
CONCENTRATED_STRATEGIES = ("keep", "build_around", "sell_down")


def _section(c: _Checker, doc: dict, name: str, required: bool = False) -> dict | None:
    if name not in doc:
        if required:
            c.err(name, "missing_key", f"the [{name}] table is required",
                  f"add a [{name}] table")
        return None
    v = doc[name]
    if not isinstance(v, dict):
        c.err(name, "wrong_type", f"'{name}' must be a table", f"write it as [{name}]", v)
        return None
    c.table(v, name, _SECTIONS[name])
    return v


def _tickers(c: _Checker, data: dict, path: str, key: str, known: Collection[str] | None
             ) -> tuple[str, ...]:
    raw = c.get(data, path, key, (list,), False, [])
    out = []
    suggest = None
    for i, t in enumerate(raw):
        full = f"{path}.{key}[{i}]"
        if not isinstance(t, str):
            c.err(full, "wrong_type", "tickers must be strings", 'write e.g. "AAPL"', t)
            continue
        sp = normalize_ticker(t)
        if not sp.valid:
            c.err(full, "invalid_ticker", f"{t!r} is not a ticker", "write the exchange ticker",
                  t)
            continue
        if known is not None and sp.ticker not in known:
            suggest = suggest or TickerSuggester(known)  # fast; hints for 50 at most
            near = suggest(sp.ticker)
            c.err(full, "unknown_ticker", f"{sp.ticker} is not in the security master",
                  (f"did you mean {', '.join(near)}? " if near else "") + "check the symbol", t)
            continue
        out.append(sp.ticker)
    return tuple(out)


def _strings(c: _Checker, data: dict, path: str, key: str, required: bool = False
             ) -> list[tuple[int, str]]:
    """A list-of-strings key as (index, text) pairs; other items are ``wrong_type`` errors."""
    raw = c.get(data, path, key, (list,), required, [])
    out = []
    for i, v in enumerate(raw):
        full = f"{path}.{key}[{i}]"
        if not isinstance(v, str):
            c.err(full, "wrong_type", f"'{full}' must be a string, got {type(v).__name__}",
                  f"write each item of {path}.{key} as a quoted string", v)
        elif problem := _plausible(v) or _single_line(v):
            c.err(full, *problem.split("|", 2), value=v)
        else:
            out.append((i, v))
    return out


def _inside(c: _Checker, profile: Path, key: str, name: str, roots: Sequence[Path],
            must_exist: bool = True) -> Path | None:
    """Resolve a file named in the profile, confined to ``roots``.

    The path is resolved against the profile's folder with every symlink followed, so
    ``../``, absolute paths and links that lead outside the profile's folder (and outside
    the ``lots.allowed_dirs``) are errors before anything is read. ``must_exist=False``: a
    missing file is no error (a lots file that other files replace).
    """
    fp = (profile.parent / name).resolve()
    if not any(fp.is_relative_to(r) for r in roots):
        c.err(key, "path_outside", f"{name} is outside the profile's folder "
              f"({roots[0]})" + (" and lots.allowed_dirs" if len(roots) > 1 else "")
              + (" once its symbolic links are followed" if
                 (profile.parent / name).absolute() != fp and not Path(name).is_absolute()
                 and ".." not in Path(name).parts else ""),
              "put the file in the profile's folder (or a sub-folder), or list its folder "
              "in lots.allowed_dirs", name)
        return None
    if not fp.exists():
        if not must_exist:
            return fp
        c.err(key, "file_not_found", f"{name} does not exist next to the profile",
              "check the name; paths are relative to the profile's folder", name)
    elif not fp.is_file():
        c.err(key, "not_a_file", f"{name} is not a regular file",
              "name a .csv or .xlsx file, not a folder or device", name)
    return fp


def _held_actions(c: _Checker, rs: dict, categories: Collection[str],
                  meant: Collection[str] = ()) -> tuple[tuple[str, HeldAction], ...]:
    """``[restrictions.held]``: restriction -> "sell" | "no_buy" | "sell_within:<years>".

    ``meant``: the categories a misspelt ``categories`` entry was suggested as; a held key
    naming one of them is not reported again (the misspelling's error says "did you mean").
    """
    table = c.get(rs, "restrictions", "held", (dict,), False, {})
    out = []
    for key, val in table.items():
        full = f"restrictions.held.{key}"
        if key in meant and key not in categories:
            continue
        if key not in (*categories, *HELD_KEYS):
            listed = ", ".join((*categories, *HELD_KEYS))
            c.err(full, "unknown_key", f"{key!r} is not a restriction of this profile",
                  f"use one of: {listed} (a category must also be in categories)", key)
            continue
        if not isinstance(val, str):
            c.err(full, "wrong_type", f"'{full}' must be str, got {type(val).__name__}",
                  'write e.g. "sell", "no_buy" or "sell_within:3"', val)
            continue
        try:
            out.append((key, HeldAction.parse(val)))
        except ValueError as e:
            c.err(full, "invalid_value", str(e),
                  'write "sell" (now, whatever the tax), "sell_within:<years>" (1 to 30, '
                  'a glide) or "no_buy" (never bought, not force-sold)', val)
    for key, act in out:
        if key == "never_hold" and act.action == "no_buy":
            c.err("restrictions.held.never_hold", "contradictory",
                  "never_hold names cannot be kept", "use sell or sell_within:<years>, or "
                  "move the names to no_buy", str(act))
    return tuple(out)


def _gics_industries() -> list[str]:
    from pma_lab.market.data import load_market

    return sorted(load_market().gics_structure("2023").industry.unique())


def profile_path(path: object, where: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` when it is one (a ``str`` or path-like).

    Raises
    ------
    TypeError
        Saying a path to a profile.toml is expected (``load_client(123)`` raised pathlib's
        bare "expected str, bytes or os.PathLike object, not int").
    """
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    raise TypeError(f"{where}: {path!r} (a {type(path).__name__}) is not a path; pass the "
                    "path to a client's profile.toml, e.g. "
                    f"{where}(\"data/samples/clients/<client>/profile.toml\")")


def load_profile(path: str | Path, *, known: Collection[str] | None | str = "market",
                 lots_replaced: bool = False) -> ClientProfile:
    """Read and validate a client profile (TOML).

    Parameters
    ----------
    path : str | Path
        The profile file.
    known : Collection[str] | None | "market"
        Tickers accepted in restrictions; ``"market"`` uses the packaged security master.
    lots_replaced : bool
        Other files replace every lots file the profile names (``lots validate NEW.csv
        --profile P``): a named lots file that does not exist is then no error.

    Returns
    -------
    ClientProfile

    Raises
    ------
    ProfileError
        With every problem in the file (``.issues``; ``column`` holds the key path).
    TypeError
        When ``path`` is not a path (:func:`profile_path`).
    """
    p = profile_path(path, "load_profile")
    file = str(path)
    c = _Checker(file)
    if not p.is_file():
        c.err("", "file_not_found", "the profile file does not exist", "check the path")
        raise ProfileError(file, c.issues)
    try:
        doc = tomllib.loads(p.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        c.err("", "not_utf8", f"the profile is not UTF-8 text ({e.reason} at byte {e.start})",
              "re-save the profile as UTF-8")
        raise ProfileError(file, c.issues) from None
    except RecursionError:
        c.err("", "toml_too_deep", "the profile nests arrays or tables too deeply to read",
              "a profile nests at most a table in a table; remove the deep nesting")
        raise ProfileError(file, c.issues) from None
    except (tomllib.TOMLDecodeError, ValueError) as e:  # ValueError: a 4300+ digit integer
        m = re.search(r"line (\d+)", str(e))
        c.issues.append(Issue(file, int(m.group(1)) if m else None, None, None,
                              f"the profile is not valid TOML: {e}",
                              "fix the syntax on that line (strings need quotes, tables "
                              "[brackets], one key = value per line)", Severity.ERROR,
                              "toml_syntax"))
        raise ProfileError(file, c.issues) from None
    if known == "market":
        from pma_lab.io.ingest import known_tickers

        known = known_tickers()

    c.table(doc, "", _TOP)
    ver = c.get(doc, "", "schema_version", (int,), False, SCHEMA_VERSION)
    if ver != SCHEMA_VERSION:
        c.err("schema_version", "invalid_value", f"schema_version {ver} is not supported",
              f"write schema_version = {SCHEMA_VERSION}", ver)

    # [client]
    cl = _section(c, doc, "client", required=True) or {}
    client_id = c.get(cl, "client", "id", (str,), True, "", _ident)
    name = c.get(cl, "client", "name", (str,), True, "", _single_line)
    as_of = c.get(cl, "client", "as_of", (dt.date,), False, None)
    if isinstance(as_of, dt.datetime):
        c.err("client.as_of", "wrong_type", "as_of must be a date, not a date-time",
              "write as_of = 2026-07-31", as_of)
        as_of = None
    description = c.get(cl, "client", "description", (str,), False, "")
    as_of_given = "as_of" in cl

    # [tax]
    tx = _section(c, doc, "tax", required=True) or {}
    status = c.get(tx, "tax", "filing_status", (str,), True, "mfj",
                   _enum([s.value for s in FilingStatus]))
    year = c.get(tx, "tax", "tax_year", (int,), False, as_of.year if as_of else None)
    st_rate = c.get(tx, "tax", "st_rate", (float,), False, None, _rate)
    lt_rate = c.get(tx, "tax", "lt_rate", (float,), False, None, _rate)
    income = c.get(tx, "tax", "taxable_income", (float,), False, None, _nonneg)
    magi = c.get(tx, "tax", "magi", (float,), False, None, _nonneg)
    state = c.get(tx, "tax", "state_rate", (float,), False, 0.0, _state_rate)
    state_lt = c.get(tx, "tax", "state_lt_rate", (float,), False, None, _state_rate)
    niit = c.get(tx, "tax", "niit", (str,), False, "auto", _enum(["auto", "yes", "no"]))
    agi = c.get(tx, "tax", "agi", (float,), False, None, _nonneg)
    cf_st = c.get(tx, "tax", "carryforward_st", (float,), False, 0.0, _nonneg)
    cf_lt = c.get(tx, "tax", "carryforward_lt", (float,), False, 0.0, _nonneg)
    qdiv = c.get(tx, "tax", "qualified_dividends", (float,), False, 0.0, _nonneg)
    state_charity = c.get(tx, "tax", "state_charitable_deduction", (bool,), False, True)
    given = "st_rate" in tx or "lt_rate" in tx
    income_based = "taxable_income" in tx
    tax: TaxProfile | None = None
    fs = FilingStatus(status) if status in {s.value for s in FilingStatus} else FilingStatus.MFJ
    if given and income_based:
        c.err("tax", "contradictory", "both st_rate/lt_rate and taxable_income are given",
              "give either the all-in rates (st_rate, lt_rate) or taxable_income, not both")
    elif given:
        if "st_rate" not in tx or "lt_rate" not in tx:
            c.err("tax.lt_rate" if "lt_rate" not in tx else "tax.st_rate", "missing_key",
                  "st_rate and lt_rate must be given together", "add the missing rate")
        elif st_rate is None or lt_rate is None:
            pass  # already reported (wrong type or out of range)
        elif any(k in tx for k in ("state_rate", "niit", "magi", "qualified_dividends",
                                   "state_charitable_deduction")):
            c.err("tax", "contradictory",
                  "state_rate/niit/magi/qualified_dividends/state_charitable_deduction are "
                  "given with all-in st_rate/lt_rate",
                  "all-in rates already include state tax and NIIT; remove one or the other")
        elif year is None and as_of_given:
            pass  # client.as_of is given but wrong: already reported
        elif year is None:
            c.err("tax.tax_year", "missing_key", "the tax year is not known",
                  "add tax_year, or client.as_of")
        else:
            tax = TaxProfile.from_rates(st_rate, lt_rate, fs, year, agi=agi)
    elif income_based:
        if income is None or (year is None and as_of_given):
            pass  # already reported
        elif year is None:
            c.err("tax.tax_year", "missing_key", "the tax year is needed for the brackets",
                  "add tax_year or client.as_of")
        elif year not in supported_tax_years():
            c.err("tax.tax_year", "unsupported_tax_year",
                  f"no brackets are tabulated for {year}",
                  f"use one of {', '.join(map(str, supported_tax_years()))}, or give st_rate "
                  "and lt_rate directly", year)
        else:
            if qdiv > income:
                c.err("tax.qualified_dividends", "invalid_value",
                      "qualified dividends exceed the taxable income they are part of",
                      "give the qualified dividends included in taxable_income", qdiv)
            tax = TaxProfile.from_income(fs, year, income, magi, state, state_lt,
                                         None if niit == "auto" else niit == "yes", agi,
                                         qdiv, state_charity)
    else:
        c.err("tax", "missing_key", "no tax rates: give st_rate and lt_rate, or taxable_income",
              "add st_rate = 0.408 and lt_rate = 0.238 (all-in), or taxable_income = ...")

    # [[accounts]]
    accounts: list[AccountSpec] = []
    acc_raw = doc.get("accounts")
    if acc_raw is None:
        c.err("accounts", "missing_key", "at least one [[accounts]] entry is required",
              'add [[accounts]] with id = "taxable" and type = "taxable"')
    elif not isinstance(acc_raw, list) or not acc_raw:
        c.err("accounts", "wrong_type", "accounts must be a non-empty array of tables",
              "write each account as [[accounts]]")
    else:
        seen: set[str] = set()
        where: dict[str, str] = {}
        for i, a in enumerate(acc_raw):
            path = f"accounts[{i}]"
            if not isinstance(a, dict):
                c.err(path, "wrong_type", f"{path} must be a table, got {type(a).__name__}",
                      "write each account as [[accounts]] with id = ... and type = ...", a)
                continue
            c.table(a, path, _SECTIONS["accounts"])
            aid = c.get(a, path, "id", (str,), True, "", _ident)
            typ = c.get(a, path, "type", (str,), False, "taxable",
                        _enum([t.value for t in AccountType]))
            rel = c.get(a, path, "relief", (str,), False, "fifo",
                        _enum([r.value for r in LotRelief]))
            cash = c.get(a, path, "cash", (float,), False, 0.0, _nonneg)
            # named by the account's id, as the client's other min_cash messages name it
            min_cash = c.get(a, path, "min_cash", (float,), False, 0.0, _min_cash,
                             f"[[accounts]] {aid}: min_cash" if aid else None)
            kind = c.get(a, path, "ira_kind", (str,), False, "",
                         _enum(["traditional", "roth"]))
            if "ira_kind" in a and typ != AccountType.IRA.value:
                c.err(f"{path}.ira_kind", "contradictory", "ira_kind is set on an account "
                      f"of type {typ!r}", 'remove ira_kind, or set type = "ira"', kind)
            acc_no_buy = _tickers(c, a, path, "no_buy", known)
            disp = c.get(a, path, "name", (str,), False, "", _account_display).strip()
            number = c.get(a, path, "number", (str,), False, "", _account_number).strip()
            for key, v in (("name", disp), ("number", number)):
                other = next((o.account_id for o in accounts
                              if v and str(getattr(o, key)).casefold() == v.casefold()), None)
                if other is not None:
                    c.err(f"{path}.{key}", "duplicate_account", f"account {aid!r} has the "
                          f"{key} {v!r} of account {other!r}", f"give each account its own "
                          f"{key} (the client tells the accounts apart by it)", v)
            if aid in seen:
                c.err(f"{path}.id", "duplicate_account", f"account {aid!r} is declared twice",
                      "give each account its own id", aid)
            seen.add(aid)
            if aid and typ in {t.value for t in AccountType} and rel in {r.value for r in
                                                                       LotRelief}:
                accounts.append(AccountSpec(aid, AccountType(typ), LotRelief(rel), cash,
                                            kind, acc_no_buy, min_cash, disp, number))
                where[aid] = path
        _numbers_apart(c, accounts, where)
    ids = {a.account_id for a in accounts}

    # [lots]: optional for an all-cash account (a new account funded with cash has no lots)
    lt = _section(c, doc, "lots") or {}
    policy = ReadPolicy(
        allow_hidden=c.get(lt, "lots", "allow_hidden", (bool,), False, False),
        allow_before_market_data=c.get(lt, "lots", "allow_before_market_data", (bool,), False,
                                       False))
    folder = p.parent.resolve()
    extra: list[Path] = []
    for i, d in _strings(c, lt, "lots", "allowed_dirs"):
        dp = (p.parent / d).resolve()
        if not dp.is_dir():
            c.err(f"lots.allowed_dirs[{i}]", "file_not_found", f"{d} is not a folder",
                  "name an existing folder (relative to the profile's folder, or absolute)", d)
            continue
        extra.append(dp)
    roots = (folder, *extra)
    files = _strings(c, lt, "lots", "files")
    if lt.get("files") in (None, []) and not lots_replaced and accounts \
            and not sum(a.cash for a in accounts) > 0:  # a bad entry is its own error
        c.err("lots.files", "missing_value",
              "no lots file is named and no account has cash: there is nothing to manage",
              'name the lots file(s), e.g. [lots] files = ["lots.csv"], or, for a new '
              "account funded with cash, give the account its cash ([[accounts]] "
              "cash = 500000.0; no [lots] is needed then)")
    paths: list[Path] = []
    for i, f in files:
        fp = _inside(c, p, f"lots.files[{i}]", f, roots, must_exist=not lots_replaced)
        if fp is None:
            continue
        if fp in paths:
            c.err(f"lots.files[{i}]", "duplicate_file", f"{f} is listed twice (it is "
                  f"lots.files[{paths.index(fp)}] too)", "list each lots file once", f)
            continue
        paths.append(fp)
    default_account = c.get(lt, "lots", "default_account", (str,), False, None)
    if default_account is None and not files and len(accounts) == 1:
        # an all-cash account without [lots]: a lots file uploaded later (the dashboard)
        # holds the one account's lots
        default_account = accounts[0].account_id
    if default_account is not None and ids and default_account not in ids:
        c.err("lots.default_account", "unknown_account",
              f"default account {default_account!r} is not declared",
              f"use one of: {', '.join(sorted(ids))}", default_account)
    date_order = c.get(lt, "lots", "date_order", (str,), False, None, _enum(["MDY", "DMY"]))
    sheet = c.get(lt, "lots", "sheet", (str,), False, None)
    delim = c.get(lt, "lots", "delimiter", (str,), False, ",")
    if len(delim) != 1:
        c.err("lots.delimiter", "invalid_value", "the delimiter must be one character",
              'write e.g. delimiter = ";"', delim)
        delim = ","
    recent = c.get(lt, "lots", "recent_trades", (str,), False, None)
    recent_path = None if recent is None else _inside(c, p, "lots.recent_trades", recent,
                                                      roots)

    # [restrictions]
    rs = _section(c, doc, "restrictions") or {}
    cats = _strings(c, rs, "restrictions", "categories")
    good_cats = []
    meant: list[str] = []  # the categories a misspelt entry was suggested as
    for i, cat in cats:
        if cat not in RESTRICTION_CATEGORIES:
            near = difflib.get_close_matches(str(cat), RESTRICTION_CATEGORIES, n=1, cutoff=0.5)
            meant += near
            c.err(f"restrictions.categories[{i}]", "unknown_category",
                  f"{cat!r} is not a restriction category",
                  (f"did you mean '{near[0]}'? " if near else "")
                  + f"known: {', '.join(RESTRICTION_CATEGORIES)}", cat)
        else:
            good_cats.append(cat)
    no_buy = _tickers(c, rs, "restrictions", "no_buy", known)
    never = _tickers(c, rs, "restrictions", "never_hold", known)
    hold = _tickers(c, rs, "restrictions", "hold_no_add", known)
    clash = sorted(set(never) & set(hold))
    if clash:
        c.err("restrictions", "contradictory",
              f"{', '.join(clash)} are both never_hold and hold_no_add",
              "a name is either sold (never_hold) or kept (hold_no_add); remove it from one")
    sectors = []
    for i, s in _strings(c, rs, "restrictions", "exclude_sectors"):
        if s not in GICS_SECTORS:
            c.err(f"restrictions.exclude_sectors[{i}]", "invalid_value",
                  f"{s!r} is not a GICS sector", f"use one of: {', '.join(GICS_SECTORS)}", s)
        sectors.append(s)

    numbered = _strings(c, rs, "restrictions", "exclude_industries")
    industries = [ind for _, ind in numbered]
    all_industries = _gics_industries() if industries else []
    for i, ind in numbered:
        if ind not in all_industries:
            near = difflib.get_close_matches(str(ind), all_industries, n=1, cutoff=0.5)
            c.err(f"restrictions.exclude_industries[{i}]", "invalid_value",
                  f"{ind!r} is not a GICS industry",
                  (f"did you mean '{near[0]}'? " if near else "")
                  + "use GICS industry names (2023 structure)", ind)
    limits: list[tuple[str, float]] = []
    tilts: list[tuple[str, float]] = []
    for key, out, lo in (("sector_max_weight", limits, 0.0), ("sector_tilts", tilts, -1.0)):
        table = c.get(rs, "restrictions", key, (dict,), False, {})
        for sec, val in table.items():
            full = f"restrictions.{key}.{sec}"
            if sec not in GICS_SECTORS:
                c.err(full, "invalid_value", f"{sec!r} is not a GICS sector",
                      f"use one of: {', '.join(GICS_SECTORS)}", sec)
                continue
            if isinstance(val, int) and not isinstance(val, bool):
                val = float(val)
            if not isinstance(val, float) or not lo <= val <= 1.0:
                c.err(full, "invalid_value", f"{key} values must be numbers in [{lo:g}, 1]",
                      "write weights as decimals, e.g. 0.05 for 5 %", val)
                continue
            out.append((sec, val))
    clash = sorted(set(sectors) & {s for s, _ in limits + tilts})
    if clash:
        c.err("restrictions", "contradictory",
              f"{', '.join(clash)} are excluded and also limited or tilted",
              "an excluded sector has weight 0; remove the limit/tilt or the exclusion")
    held = _held_actions(c, rs, good_cats, meant)

    # [budgets]
    bd = _section(c, doc, "budgets") or {}
    budgets = Budgets(
        c.get(bd, "budgets", "total", (float,), False, None, _budget),
        c.get(bd, "budgets", "short_term", (float,), False, None, _budget),
        c.get(bd, "budgets", "long_term", (float,), False, None, _budget),
    )

    # [target]
    tg = _section(c, doc, "target") or {}
    target = TargetSpec(
        c.get(tg, "target", "model", (str,), False, "sp500", _enum(TARGET_MODELS)),
        c.get(tg, "target", "account_size", (float,), False, None,
              lambda v: None if v > 0 else "invalid_value|the account size must be positive"
              "|write the size in USD"),
        c.get(tg, "target", "names", (int,), False, None,
              lambda v: None if 1 <= v <= 600 else "invalid_value|names must be 1..600|"
              "write the number of names"),
    )
    bfile = c.get(tg, "target", "benchmark_file", (str,), False, None)
    if bfile is not None:
        bpath = _inside(c, p, "target.benchmark_file", bfile, (p.parent.resolve(),))
        target = TargetSpec(target.model, target.account_size, target.names, bpath)

    # optional sections
    transition = None
    tr = _section(c, doc, "transition")
    if tr is not None:
        mode = c.get(tr, "transition", "mode", (str,), True, "budget", _enum(TRANSITION_MODES))
        years = c.get(tr, "transition", "years", (int,), False, None,
                      lambda v: None if 1 <= v <= 30 else "invalid_value|years must be 1..30|"
                      "write e.g. years = 3")
        ab = c.get(tr, "transition", "annual_budget", (float,), False, None, _budget)
        if mode == "timeline" and years is None:
            c.err("transition.years", "missing_key", "a timeline transition needs years",
                  "add years = 3 (or 5)")
        if mode == "budget" and ab is None:
            c.err("transition.annual_budget", "missing_key",
                  "a budget transition needs annual_budget", "add annual_budget = 25000.0 "
                  "(0 allowed)")
        transition = TransitionSpec(mode, years, ab)
    concentrated = None
    cn = _section(c, doc, "concentrated")
    if cn is not None:
        ticker = c.get(cn, "concentrated", "ticker", (str,), True, None)
        tks = _tickers(c, {"ticker": [ticker]} if ticker is not None else {}, "concentrated",
                       "ticker", known)
        strat = c.get(cn, "concentrated", "strategy", (str,), False, "keep",
                      _enum(CONCENTRATED_STRATEGIES))
        if tks:
            concentrated = ConcentratedSpec(tks[0], strat)
            if tks[0] in never and strat in ("keep", "build_around"):
                c.err("concentrated.strategy", "contradictory",
                      f"{tks[0]} is never_hold but the strategy is {strat!r}",
                      "use strategy = \"sell_down\" or remove it from never_hold")
    charity = None
    ch = _section(c, doc, "charity")
    if ch is not None:
        charity = CharitySpec(c.get(ch, "charity", "annual_gift", (float,), True, 0.0, _nonneg))
        if charity.annual_gift > 0 and agi is None:
            c.err("tax.agi", "missing_key", "charitable giving needs the client's AGI "
                  "(deductions are limited to 30 % of AGI)", "add agi = ... to [tax]")

    fixed_income = None
    fi = _section(c, doc, "fixed_income")
    if fi is not None:
        fixed_income = FixedIncomeSpec(
            c.get(fi, "fixed_income", "kind", (str,), False, "treasury",
                  _enum(["treasury", "muni"])),
            c.get(fi, "fixed_income", "years", (int,), False, 5,
                  lambda v: None if v in (5, 10) else "invalid_value|years must be 5 or 10 "
                  "(a 1-5 or 1-10 year ladder)|write years = 5 or years = 10"),
            c.get(fi, "fixed_income", "amount", (float,), False, None,
                  lambda v: None if v > 0 else "invalid_value|the amount must be positive|"
                  "write the amount in USD"),
            c.get(fi, "fixed_income", "muni_ratio", (float,), False, None,
                  lambda v: None if 0.2 <= v <= 2.0 else "out_of_range|muni_ratio must be "
                  "between 0.2 and 2.0 (muni yield as a fraction of the Treasury yield)|"
                  "write e.g. muni_ratio = 0.8"),
            c.get(fi, "fixed_income", "in_state", (bool,), False, True))

    core = None
    co = _section(c, doc, "core")
    if co is not None:
        alloc = c.get(co, "core", "allocation", (str,), False, None,
                      _enum(["60/40", "70/30"]))
        band = c.get(co, "core", "band", (float,), False, 0.05,
                     lambda v: None if 0 <= v <= 0.2 else "out_of_range|band must be 0 to "
                     "0.2 (share points of drift allowed)|write e.g. band = 0.05")
        sleeve = c.get(co, "core", "equity_sleeve", (str,), False, "direct_index",
                       _enum(["direct_index", "active_index"]))
        model_name = c.get(co, "core", "active_model", (str,), False, None)
        model = None if model_name is None else _inside(c, p, "core.active_model",
                                                         model_name, (p.parent.resolve(),))
        share = c.get(co, "core", "active_share", (float,), False, None,
                      lambda v: None if 0 < v < 1 else "out_of_range|active_share must be "
                      "between 0 and 1|write e.g. active_share = 0.4")
        if sleeve == "active_index" and (model is None or share is None):
            c.err("core.active_model", "missing_key", "an active + index core needs "
                  "active_model and active_share", 'add active_model = "model.csv" and '
                  "active_share = 0.4")
        if sleeve == "direct_index" and (model_name is not None or share is not None):
            c.err("core.equity_sleeve", "contradictory", "active_model/active_share are set "
                  "but the equity sleeve is direct_index", 'set equity_sleeve = '
                  '"active_index" or remove them')
        if sleeve == "active_index" and (limits or tilts):
            keys = [k for k, v in (("sector_max_weight", limits), ("sector_tilts", tilts)) if v]
            c.err(f"restrictions.{keys[0]}", "contradictory",
                  f"[restrictions] {' and '.join(keys)} cannot apply to an active + index "
                  "core: its target is the manager's model plus a completion sleeve that "
                  "offsets the model's sector exposures toward the benchmark",
                  f"remove {' and '.join(keys)}, or set [core] equity_sleeve = "
                  '"direct_index"')
        if alloc is not None and fixed_income is None:
            c.err("core.allocation", "missing_key", f"a {alloc} allocation needs a bond "
                  "ladder", "add a [fixed_income] table (kind, years)")
        core = CoreSpec(alloc, band, sleeve, model, share)

    td = _section(c, doc, "trading") or {}
    trading = TradingSpec(
        c.get(td, "trading", "fractional_shares", (bool,), False, False),
        c.get(td, "trading", "min_trade_usd", (float,), False, 250.0, _nonneg),
        c.get(td, "trading", "wash_sale_mode", (str,), False, "forbid",
              _enum(("forbid", "disallow"))))

    if tax is None and not any(i.severity is Severity.ERROR for i in c.issues):
        c.err("tax", "missing_key", "the tax rates could not be determined",
              "give st_rate and lt_rate, or taxable_income with a tabulated tax_year")
    if any(i.severity is Severity.ERROR for i in c.issues):
        err = ProfileError(file, c.issues)
        if not any(i.severity is Severity.ERROR and str(i.column or "").startswith(
                ("accounts", "lots", "client.as_of")) for i in c.issues) and paths:
            # the lots files can still be read as the profile names them: load_client
            # reports their errors with the profile's (LotsReadable)
            err.lots = LotsReadable(
                LotsSpec(tuple(paths), default_account, date_order, sheet, delim, None, policy,
                         tuple(extra)), tuple(sorted(ids)), as_of)
        raise err
    return ClientProfile(
        client_id, name, as_of, description, tax, cf_st, cf_lt, tuple(accounts),
        LotsSpec(tuple(paths), default_account, date_order, sheet, delim, recent_path, policy,
                 tuple(extra)),
        Restrictions(tuple(good_cats), no_buy, never, hold, tuple(sectors), tuple(industries),
                     tuple(limits), tuple(tilts), held), budgets, target,
        transition, concentrated, charity, p.resolve(),
        tuple(i for i in c.issues if i.severity is Severity.WARNING), trading, fixed_income,
        core)


def _type_fix(full: str, types: tuple[type, ...], v: object) -> str:
    """How to write ``full`` in TOML as one of ``types``, given what was written (``v``)."""
    names = " or ".join(t.__name__ for t in types)
    if dt.date in types and isinstance(v, str):
        return (f"write {full} as a TOML date, unquoted: {_key_of(full)} = YYYY-MM-DD "
                f"(no quotes; you wrote \"{v}\")")
    if (float in types or int in types) and isinstance(v, str):
        return f"write {full} as a number, unquoted and without $ or commas (e.g. 25000.0)"
    if bool in types and isinstance(v, str):
        return f"write {full} as true or false, unquoted"
    return f"write {full} as {names}"


def _key_of(full: str) -> str:
    """The last part of a dotted key (``client.as_of`` -> ``as_of``)."""
    return full.rsplit(".", 1)[-1]
