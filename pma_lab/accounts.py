"""Accounts in the client's words, and the checks every stage words alike.

A household's accounts are named in running text by the ``name`` the profile gives them
(``[[accounts]] name = "Family trust"``) or else the kind it states ("taxable account",
"Traditional IRA", "Roth IRA", "IRA" when it does not say which), followed by the account
number the client knows from a statement (``number = "XXXX-1234"``, or an id that is a
masked number, :func:`is_account_number`), never the profile's internal id; two of a kind
left alike are numbered (:func:`account_names` states the rule):
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

__all__ = ["ACCOUNT_KINDS", "NUMBER_IN_TEXT", "NUMBERED_NAME_IN_TEXT", "TAX_TREATMENTS",
           "account_kind", "account_names",
           "is_account_number", "account_entry", "unnamed_twins_note",
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


_MASKED_NUMBER = re.compile(r"[Xx*#\u2022]{2,}[- ]?[0-9]{3,}")
"""A masked account number as custodians print it: two or more mask characters (``X``,
``x``, ``*``, ``#``, ``•``) then, after an optional ``-`` or space, its last 3 or more
digits (``XXXX-1234``, ``xxxx-1234``, ``****5678``, ``##1234``)."""

NUMBER_IN_TEXT = re.compile(r"(?<![\w*#\u2022])" + _MASKED_NUMBER.pattern + r"(?!\d)")
"""A masked account number inside a text (a name's ``(XXXX-1234)``): what a front end keeps
on one line (:func:`pma_lab.report.proposal.escape_text`)."""

NUMBERED_NAME_IN_TEXT = re.compile(
    r"(?<!\w)(?:" + "|".join(
        f"[{w[0].upper()}{w[0].lower()}]{re.escape(w[1:])}" for w in sorted(
            {"taxable account", *ACCOUNT_KINDS.values()}, key=len, reverse=True))
    + r") [0-9]{1,2}(?![0-9]|[.,][0-9])")
"""A kind's words numbered inside a text (``taxable account 2``, ``Traditional IRA 1``: two
accounts of one kind with neither name nor number, :func:`account_names`): what a front end
keeps on one line as it keeps a number (:func:`pma_lab.report.proposal.escape_text`); the
proposal's PDF broke it as "taxable account" / "2"."""


def is_account_number(account_id: object) -> bool:
    """Whether an account id is shown to the client as its account number.

    Only a masked number (:data:`_MASKED_NUMBER`: ``XXXX-1234``, ``xxxx-1234``,
    ``****5678``) is: that is how a custodian's file and the client's statements print it.
    Any other id is the profile's key and is never shown (``taxable``, ``ira-2``,
    ``trust2021``, ``TRUST2021``, ``IRA-2024``, ``2021``): no pattern can tell a year or a
    key from an account number, so a profile whose ids are not masked numbers declares
    ``number = "..."`` in the ``[[accounts]]`` entry (:func:`account_names`).

    Examples
    --------
    >>> [is_account_number(a) for a in ("XXXX-1234", "xxxx-1234", "****5678", "XX 123")]
    [True, True, True, True]
    >>> [is_account_number(a) for a in ("taxable", "ira-2", "IRA-2024", "TRUST2021",
    ...                                 "trust2021", "2021", "Z12-345678", "")]
    [False, False, False, False, False, False, False, False]
    """
    return _MASKED_NUMBER.fullmatch(str(account_id).strip()) is not None


def account_names(accounts: Sequence[tuple[str, ...]], noun: bool = False) -> list[str]:
    """Each account in the client's words (the one rule every front end names them by).

    ``accounts``: ``(account id, kind[, name[, number]])`` of each account in profile
    order: kind ``taxable``, ``traditional``, ``roth`` or ``ira`` (:func:`account_kind`;
    an unknown or empty kind leaves the id alone); ``name`` and ``number`` the profile's
    ``[[accounts]] name`` and ``number`` ("" when not set). ``noun``: a name a sentence
    can stand on (``taxable account`` rather than ``taxable``), for notes and captions.

    The rule:

    1. the account's ``name`` when the profile gives one (``Family trust``), else its
       kind's words (``taxable account``, ``Traditional IRA``, ``IRA``);
    2. then its account number in parentheses: the profile's ``number``, or the id itself
       when it is a masked number (:func:`is_account_number`), so that the name and the
       trade files' ``Account`` column (the ids a custodian needs) are seen to be the same
       account; an id that is the profile's own key is never shown;
    3. accounts this leaves with the same words (two taxable accounts with neither name nor
       number) are numbered in profile order: ``taxable account 1``, ``taxable account
       2`` (the command line asks the service team to set ``name``,
       :func:`unnamed_twins_note`).

    Examples
    --------
    >>> account_names([("taxable", "taxable"), ("ira", "traditional"), ("r", "roth")])
    ['taxable', 'Traditional IRA', 'Roth IRA']
    >>> account_names([("joint", "taxable"), ("trust", "taxable"), ("ira", "")])
    ['taxable 1', 'taxable 2', 'ira']
    >>> account_names([("taxable", "taxable"), ("ira", "traditional"),
    ...                ("ira-2", "traditional")], noun=True)
    ['taxable account', 'Traditional IRA 1', 'Traditional IRA 2']
    >>> account_names([("t", "taxable"), ("old", "ira"), ("r", "roth")], noun=True)
    ['taxable account', 'IRA', 'Roth IRA']
    >>> account_names([("XXXX-1234", "taxable"), ("xxxx-5678", "roth")], noun=True)
    ['taxable account (XXXX-1234)', 'Roth IRA (xxxx-5678)']
    >>> account_names([("joint", "taxable", "Joint account", ""),
    ...                ("trust", "taxable", "Family trust", "XXXX-1234"),
    ...                ("IRA-2024", "traditional", "", "")], noun=True)
    ['Joint account', 'Family trust (XXXX-1234)', 'Traditional IRA']
    """
    out = []
    for entry in accounts:
        acc, k, name, number = (*(str(x or "").strip() for x in entry), "", "")[:4]
        words = name or ACCOUNT_KINDS.get(k)
        if words is not None and not name and noun and k == "taxable":
            words = "taxable account"
        if words is None:
            out.append(acc)
            continue
        number = number or (acc if is_account_number(acc) else "")
        out.append(f"{words} ({number})" if number else words)
    twins = {n for n in out if out.count(n) > 1}
    seen: dict[str, int] = {}
    for i, n in enumerate(out):
        if n in twins:
            seen[n] = seen.get(n, 0) + 1
            out[i] = f"{n} {seen[n]}"
    return out


def account_entry(account: object) -> tuple[str, str, str, str]:
    """``(id, kind, name, number)`` of a profile's ``[[accounts]]`` entry.

    For :func:`account_names`; ``name``/``number`` are "" when not set.
    """
    return (str(account.account_id), account_kind(account),  # type: ignore[attr-defined]
            str(getattr(account, "name", "") or ""), str(getattr(account, "number", "") or ""))


def unnamed_twins_note(accounts: Sequence[object], profile: object = None) -> str:
    """For the service team: accounts of one kind the client can tell apart only by number.

    Two or more ``[[accounts]]`` of the same kind with neither ``name`` nor ``number``
    read ``taxable account 1``, ``taxable account 2`` (:func:`account_names`); "" when
    every account's name is its own.
    """
    plain = [a for a in accounts if not str(getattr(a, "name", "") or "")
             and not str(getattr(a, "number", "") or "")
             and not is_account_number(a.account_id)]  # type: ignore[attr-defined]
    kinds = [account_kind(a) for a in plain]
    ids = [str(a.account_id) for a, k in zip(plain, kinds, strict=True)  # type: ignore[attr-defined]
           if kinds.count(k) > 1]
    if not ids:
        return ""
    where = "the profile" if profile is None else str(profile)
    return (f"{where}: " + ", ".join(f'[[accounts]] id = "{i}"' for i in ids)
            + " share a kind and have no name: the client reads them numbered in profile "
            'order ("taxable account 1", "taxable account 2"). To fix: set name = "..." '
            '(the client\'s own words, e.g. "Family trust") or number = "XXXX-1234" in '
            "each of those [[accounts]] entries")


def profile_account_names(accounts: Sequence[object], noun: bool = True) -> dict[str, str]:
    """A profile's ``[[accounts]]`` by id, each in the client's words.

    The one place the proposal, the dashboard, the CLI and the plan's notes name a client's
    accounts: each by its ``name`` or the kind the profile states (:func:`account_kind`),
    its ``number`` after it (:func:`account_names`; ``noun``: ``taxable account`` rather
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
    >>> profile_account_names([A(account_id="t", account_type="taxable", name="Joint",
    ...                          number="XXXX-1234")])
    {'t': 'Joint (XXXX-1234)'}
    """
    entries = [account_entry(a) for a in accounts]
    names = account_names(entries, noun=noun)
    return dict(zip((e[0] for e in entries), names, strict=True))


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
