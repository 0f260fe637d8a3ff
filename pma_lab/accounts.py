"""Accounts in the client's words, and the checks every stage words alike.

A household's accounts are named in running text by the kind the profile states ("taxable
account", "Traditional IRA", "Roth IRA", "IRA" when it does not say which; the account's id
only to tell two of a kind apart, or when it is the custodian's account number the client
knows from a statement, :func:`is_account_number`: "taxable account (XXXX-1234)"):
:func:`profile_account_names` is the one source the proposal, the dashboard, the CLI and
the plan's notes read, while the trade files' ``Account`` column keeps the ids a custodian
needs. A minimum cash
(``[[accounts]] min_cash``) above its account's value is refused in the same words at
ingest (:func:`pma_lab.io.client.load_client`), in the single-account engine and in the
household problem. The household's tax rows' labels live here too, since its notes
(:mod:`pma_lab.optimize.household`) and the report's rows (:mod:`pma_lab.report.shelf`)
must read alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from pma_lab.errors import InfeasibleError
from pma_lab.formatting import fmt_usd

__all__ = ["ACCOUNT_KINDS", "TAX_TREATMENTS", "account_kind", "account_names",
           "is_account_number",
           "profile_account_names", "account_name", "tax_treatment", "unstated_ira_kinds",
           "unstated_ira_note", "TAX_OF_THESE_TRADES",
           "TAX_OF_TODAYS_TRADES", "MIN_CASH_CONFLICT", "min_cash_over",
           "min_cash_conflict"]


TAX_OF_THESE_TRADES = "Tax this year of these trades"
"""The household's row of its trades' tax this year (:mod:`pma_lab.report.shelf`), and the
head of the household's note that explains it (:mod:`pma_lab.optimize.household`)."""
TAX_OF_TODAYS_TRADES = ("Tax this year of today's trades only (every account; the plan's "
                        "tax for the year also counts its later trades, dividends and "
                        "interest)")
"""The same row around the plan's first step: today's trades of every account."""

ACCOUNT_KINDS = {"taxable": "taxable", "traditional": "Traditional IRA", "roth": "Roth IRA",
                 "ira": "IRA"}
"""An account's kind (``taxable``, an IRA's ``traditional``/``roth``; ``ira``: an IRA whose
kind the profile does not state) in running text and in the Account column of the
proposal's tables (:func:`account_names`). The tables' Type column says how the kind is
taxed instead (:data:`TAX_TREATMENTS`): repeating the name told the reader nothing.
(:func:`pma_lab.formatting.fmt_account_type` words a bare account type code, ``ira`` as
``IRA (retirement)``, where no profile is at hand.)"""

TAX_TREATMENTS = {"taxable": "Taxable", "traditional": "Tax-deferred", "roth": "Tax-free",
                  "ira": "Tax-deferred (assumed)"}
"""How each kind of account is taxed, the Type column of the proposal's account tables:
gains and income taxed each year; withdrawals taxed as ordinary income (a traditional
IRA); qualified withdrawals tax-free (a Roth IRA). An IRA whose kind the profile does not
state is treated as traditional (:func:`unstated_ira_note`), an assumption the column
says."""


def account_kind(account: object) -> str:
    """The kind an account is named by: what the profile states, nothing more.

    ``taxable``; an IRA's ``ira_kind`` (``traditional`` or ``roth``) when the profile sets
    it; ``ira`` for an IRA whose kind it does not state (named ``IRA``, never "Traditional
    IRA": the optimiser treats it as traditional, :func:`pma_lab.optimize.household.
    household_accounts`, but the client did not say so). ``account``: a profile's
    ``[[accounts]]`` entry (:class:`~pma_lab.io.profile.AccountSpec`) or anything with its
    ``account_type`` and ``ira_kind``; another type reads as its code.

    Examples
    --------
    >>> from types import SimpleNamespace as A
    >>> [account_kind(A(account_type="taxable")), account_kind(A(account_type="ira")),
    ...  account_kind(A(account_type="ira", ira_kind="roth"))]
    ['taxable', 'ira', 'roth']
    """
    typ = account.account_type  # type: ignore[attr-defined]
    code = str(getattr(typ, "value", typ))
    if code != "ira":
        return code
    kind = str(getattr(account, "ira_kind", "") or "")
    return kind if kind in ("traditional", "roth") else code


_ACCOUNT_NUMBER = re.compile(r"[0-9A-Zx*#\u2022. -]+")
"""What a custodian's account number is made of: digits, capital letters (a masked
number's ``XXXX``, a brokerage prefix), mask characters (``x`` too) and separators."""


def is_account_number(account_id: object) -> bool:
    """Whether an account id is a custodian's account number, which the client knows.

    An id of digits, capital letters, mask characters (``x``, ``*``, ``#``, ``•``) and
    separators with at least 4 digits (``XXXX-1234``, ``****5678``, ``Z12-345678``): the
    number on the client's statements, as the profile gives it from the custodian's file.
    An internal key of the profile (``taxable``, ``ira``, ``ira-2``, ``joint``,
    ``trust2021``) is not: the client never saw it.

    Examples
    --------
    >>> [is_account_number(a) for a in ("XXXX-1234", "xxxx1234", "****5678", "Z12-345678",
    ...                                 "123")]
    [True, True, True, True, False]
    >>> [is_account_number(a) for a in ("taxable", "ira-2", "IRA-2", "trust2021", "")]
    [False, False, False, False, False]
    """
    text = str(account_id).strip()
    return (_ACCOUNT_NUMBER.fullmatch(text) is not None
            and sum(ch.isdigit() for ch in text) >= 4)


def account_names(accounts: Sequence[tuple[str, str]], noun: bool = False) -> list[str]:
    """Each account in the client's words: its kind, with its id when two share a kind.

    ``accounts``: ``(account id, kind)`` pairs (kind ``taxable``, ``traditional``,
    ``roth`` or ``ira``, :func:`account_kind`; an unknown or empty kind leaves the id
    alone). ``noun``: a name a sentence can stand on (``taxable account`` rather than
    ``taxable``), for notes and captions. An id that is the custodian's account number
    (:func:`is_account_number`) follows the kind in parentheses, one or several of a kind,
    so that the name and the trade files' ``Account`` column (which carry the ids a
    custodian needs) are seen to be the same account.

    Examples
    --------
    >>> account_names([("taxable", "taxable"), ("ira", "traditional"), ("r", "roth")])
    ['taxable', 'Traditional IRA', 'Roth IRA']
    >>> account_names([("joint", "taxable"), ("trust", "taxable"), ("ira", "")])
    ['taxable (“joint”)', 'taxable (“trust”)', 'ira']
    >>> account_names([("taxable", "taxable"), ("ira", "traditional"),
    ...                ("ira-2", "traditional")], noun=True)
    ['taxable account', 'Traditional IRA (“ira”)', 'Traditional IRA (“ira-2”)']
    >>> account_names([("t", "taxable"), ("old", "ira"), ("r", "roth")], noun=True)
    ['taxable account', 'IRA', 'Roth IRA']
    >>> account_names([("XXXX-1234", "taxable"), ("XXXX-5678", "roth")], noun=True)
    ['taxable account (XXXX-1234)', 'Roth IRA (XXXX-5678)']
    """
    kinds = [str(k) for _, k in accounts]
    out = []
    for (acc, _), k in zip(accounts, kinds, strict=True):
        words = ACCOUNT_KINDS.get(k)
        if words is not None and noun and k == "taxable":
            words = "taxable account"
        if words is None:
            out.append(str(acc))
        elif is_account_number(acc):
            out.append(f"{words} ({str(acc).strip()})")
        elif kinds.count(k) > 1:
            out.append(f"{words} (“{acc}”)")
        else:
            out.append(words)
    return out


def profile_account_names(accounts: Sequence[object], noun: bool = True) -> dict[str, str]:
    """A profile's ``[[accounts]]`` by id, each in the client's words.

    The one place the proposal, the dashboard, the CLI and the plan's notes name a client's
    accounts: each by the kind the profile states (:func:`account_kind`), its id added
    when two share a kind (:func:`account_names`; ``noun``: ``taxable account`` rather
    than ``taxable``).

    Examples
    --------
    >>> from types import SimpleNamespace as A
    >>> profile_account_names([A(account_id="t", account_type="taxable"),
    ...                        A(account_id="r", account_type="ira", ira_kind="roth")])
    {'t': 'taxable account', 'r': 'Roth IRA'}
    >>> profile_account_names([A(account_id="t", account_type="taxable"),
    ...                        A(account_id="ira", account_type="ira", ira_kind="")])
    {'t': 'taxable account', 'ira': 'IRA'}
    """
    ids = [str(a.account_id) for a in accounts]  # type: ignore[attr-defined]
    names = account_names([(i, account_kind(a)) for i, a in zip(ids, accounts, strict=True)],
                          noun=noun)
    return dict(zip(ids, names, strict=True))


def account_name(accounts: Sequence[object], account_id: object, capital: bool = False) -> str:
    """One of a profile's accounts in the client's words (:func:`profile_account_names`).

    ``capital``: its first letter upper case, for a table cell or a label that starts with
    it (``Taxable account``). An id the profile does not declare stays as it is.

    Examples
    --------
    >>> from types import SimpleNamespace as A
    >>> account_name([A(account_id="t", account_type="taxable")], "t", capital=True)
    'Taxable account'
    >>> account_name([A(account_id="XXXX-1234", account_type="taxable")], "XXXX-1234",
    ...              capital=True)
    'Taxable account (XXXX-1234)'
    """
    n = profile_account_names(accounts).get(str(account_id), str(account_id))
    return n[:1].upper() + n[1:] if capital else n


def tax_treatment(kind: object) -> str:
    """How an account of ``kind`` (:func:`account_kind`) is taxed, in a table's words.

    An unknown kind reads as itself.

    Examples
    --------
    >>> [tax_treatment(k) for k in ("taxable", "traditional", "roth", "ira")]
    ['Taxable', 'Tax-deferred', 'Tax-free', 'Tax-deferred (assumed)']
    """
    return TAX_TREATMENTS.get(str(getattr(kind, "value", kind)), str(kind))


def unstated_ira_kinds(accounts: Sequence[object]) -> list[str]:
    """The ids of a profile's IRAs whose kind (``ira_kind``) it does not state."""
    return [str(a.account_id) for a in accounts  # type: ignore[attr-defined]
            if account_kind(a) == "ira"]


def unstated_ira_note(accounts: Sequence[object], profile: object = None) -> str:
    """For the service team: which ``[[accounts]]`` lack the ``ira_kind`` the plan assumes.

    The client reads that the IRA was treated as a traditional IRA, in words
    (:meth:`pma_lab.optimize.household.HouseholdProblem` notes); the command line says
    which profile key to set. "" when every IRA's kind is stated.

    Examples
    --------
    >>> from types import SimpleNamespace as A
    >>> print(unstated_ira_note([A(account_id="ira", account_type="ira", ira_kind="")],
    ...                         "p.toml"))  # doctest: +NORMALIZE_WHITESPACE
    p.toml: [[accounts]] id = "ira" is type = "ira" without ira_kind: the household
    rebalance treats it as a traditional IRA (the client is told so and asked to say if it
    is a Roth IRA). To fix: set ira_kind = "traditional" or "roth" in that [[accounts]] entry
    """
    ids = unstated_ira_kinds(accounts)
    if not ids:
        return ""
    one = len(ids) == 1
    where = "the profile" if profile is None else str(profile)
    return (f"{where}: " + ", ".join(f'[[accounts]] id = "{i}"' for i in ids)
            + f" {'is' if one else 'are'} type = \"ira\" without ira_kind: the household "
            f"rebalance treats {'it as a traditional IRA' if one else 'them as traditional IRAs'}"
            " (the client is told so and asked to say if it is a Roth IRA). To fix: set "
            f'ira_kind = "traditional" or "roth" in that [[accounts]] entr{"y" if one else "ies"}')


MIN_CASH_CONFLICT = ("The minimum cash conflicts with the account's value (each account "
                     "keeps its own cash; another account's cash or sales cannot count "
                     "toward it)")
"""Why a minimum cash above its account's value cannot be met (:func:`min_cash_conflict`)."""


def min_cash_over(account: str, min_cash: float, value: float, cash: float,
                  as_of: dt.date) -> str:
    """One account's minimum cash against its value, in the client's words (USD)."""
    return (f"account {account}: min_cash {fmt_usd(min_cash, 2)}, but the account is worth "
            f"{fmt_usd(value, 2)} (its lots at the {as_of} prices and its cash "
            f"{fmt_usd(cash, 2)})")


def min_cash_conflict(what: str, over: Sequence[tuple[str, float, float, float]],
                      as_of: dt.date, profile: object = None) -> InfeasibleError:
    """The error for accounts whose minimum cash is more than they are worth.

    Parameters
    ----------
    what : str
        The problem, e.g. ``"household rebalance"``.
    over : Sequence[tuple[str, float, float, float]]
        ``(account id, min_cash, value, cash)`` of each such account (USD; value: its lots
        at the as-of prices plus its cash).
    as_of : datetime.date
    profile : object
        The profile file (a path), named in the fix; ``None``: "the profile".

    Returns
    -------
    InfeasibleError
        Naming each account, its floor and value, the conflicting constraints
        (``min_cash``, ``account value``) and the profile key to change.
    """
    where = "the profile" if profile is None else str(profile)
    parts = "; ".join(min_cash_over(a, m, v, c, as_of) for a, m, v, c in over)
    return InfeasibleError(
        f"the {what} is infeasible: {parts}. {MIN_CASH_CONFLICT}. To fix: lower min_cash of "
        + ", ".join(f'[[accounts]] id = "{a}"' for a, *_ in over) + f" in {where} below the "
        "account's value, or move money into the account first",
        conflicts=("min_cash", "account value"))
