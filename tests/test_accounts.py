"""Accounts in the client's words (:mod:`pma_lab.accounts`): one source for every front end.

The proposal (``_account_names``) and :func:`pma_lab.accounts.profile_account_names` named
an IRA whose kind the profile does not state differently, and the profile loader wrote
"traditional" for it, so the proposal called the household sample's IRA a "Traditional
IRA" though its profile says only ``type = "ira"``. Now the loader keeps what the profile
states (``ira_kind = ""``), the account is named "IRA" everywhere, the optimiser still
treats it as traditional and the household notes say so.
"""

from __future__ import annotations

from types import SimpleNamespace as A

import pytest

from pma_lab.accounts import (
    account_kind,
    account_name,
    account_names,
    is_account_number,
    profile_account_names,
)
from pma_lab.io.client import load_client
from pma_lab.io.holdings import summarize_lots
from pma_lab.optimize.engine import prepare
from pma_lab.optimize.household import AccountKind, household_accounts
from pma_lab.paths import clients_dir
from pma_lab.report import labels, shelf
from pma_lab.report import proposal as report

HOUSEHOLD = clients_dir() / "household" / "profile.toml"  # its IRA: type = "ira", no kind
ROTH_HOUSEHOLD = clients_dir() / "roth-household" / "profile.toml"  # both kinds stated


def test_the_kind_is_what_the_profile_states_and_nothing_more():
    assert [account_kind(A(account_type="taxable")),
            account_kind(A(account_type="ira", ira_kind="traditional")),
            account_kind(A(account_type="ira", ira_kind="roth")),
            account_kind(A(account_type="ira", ira_kind="")),
            account_kind(A(account_type="ira"))] == ["taxable", "traditional", "roth", "ira",
                                                      "ira"]
    # an IRA of no stated kind is an "IRA", never a "Traditional IRA"; two of them
    # numbered in profile order (never the profile's internal keys)
    accounts = [A(account_id="t", account_type="taxable"),
                A(account_id="old", account_type="ira", ira_kind=""),
                A(account_id="new", account_type="ira", ira_kind=""),
                A(account_id="r", account_type="ira", ira_kind="roth")]
    assert profile_account_names(accounts) == {
        "t": "taxable account", "old": "IRA 1", "new": "IRA 2", "r": "Roth IRA"}
    assert profile_account_names(accounts, noun=False)["t"] == "taxable"
    assert account_name(accounts, "t", capital=True) == "Taxable account"
    assert account_name(accounts, "nope") == "nope"  # an id the profile does not declare
    # the same words as the household's names of the same kinds
    assert list(profile_account_names(accounts).values()) == account_names(
        [("t", "taxable"), ("old", "ira"), ("new", "ira"), ("r", "roth")], noun=True)


def test_the_loader_keeps_an_unstated_ira_kind_and_the_optimiser_treats_it_as_traditional():
    c = load_client(HOUSEHOLD)
    assert [(a.account_id, a.ira_kind) for a in c.profile.accounts] == [("taxable", ""),
                                                                         ("ira", "")]
    hh = household_accounts(c.profile)
    assert [a.kind for a in hh] == [AccountKind.TAXABLE, AccountKind.TRADITIONAL]
    assert [a.named_kind for a in hh] == ["taxable", "ira"]
    stated = load_client(ROTH_HOUSEHOLD)
    assert [a.ira_kind for a in stated.profile.accounts] == ["", "traditional", "roth"]
    assert profile_account_names(stated.profile.accounts) == {
        "taxable": "taxable account", "ira": "Traditional IRA", "roth": "Roth IRA"}


@pytest.mark.slow
def test_the_household_samples_ira_reads_ira_in_every_section():
    """household: "Traditional IRA" in the proposal's "Accounts" row, its tables, the
    name count's sizing and the household section, though the profile never said so."""
    c = load_client(HOUSEHOLD)
    summary = summarize_lots(c)
    rows = report.client_summary(c, summary).frame.set_index("item").value
    assert rows["Accounts"] == "Taxable account, cash $15,000; IRA, cash $5,000"
    t = report.retirement_holdings_table(summary, c).frame
    assert set(zip(t.Account, t["Tax treatment"], strict=True)) == {
        ("IRA", "Tax-deferred (assumed)")}
    setup = prepare(c)
    assert labels.target_sizing(setup.sizing).endswith(
        "(taxable account $1,199,603 and IRA $498,815: lots at the as-of prices plus cash)")
    r = shelf.household(setup)
    assert r.named_kinds == (("taxable", "taxable", "", ""), ("ira", "ira", "", ""))
    v = shelf.household_view(r)
    text = "\n".join([v.intro, *(repr(p) for p in v.parts)])
    assert "Traditional IRA" not in text
    assert "across your 2 accounts, taxable account and IRA:" in v.intro
    loc = shelf.location_table(r).frame
    assert list(zip(loc.Account, loc["Tax treatment"], strict=True)) == [
        ("Taxable account", "Taxable"), ("IRA", "Tax-deferred (assumed)")]
    assert any(p.caption.startswith("IRA: ") for p in v.parts if hasattr(p, "caption"))
    # the treatment the location cost assumes is said, not hidden behind the name
    # in the client's words: no profile key (that is the service team's, on the CLI)
    assert ("We treated your IRA as a traditional IRA (withdrawals taxed as ordinary "
            "income) in the asset location: we have not recorded which kind it is. Please "
            "tell your adviser if it is a Roth IRA.") in r.notes
    assert not [n for n in r.notes if "ira_kind" in n or "[[accounts]]" in n]
    # the tables a machine reads: the kind the profile states and how it is taxed
    assert r.accounts.set_index("account")[["kind", "taxed_as"]].to_dict("index") == {
        "taxable": {"kind": "taxable", "taxed_as": "taxable"},
        "ira": {"kind": "ira", "taxed_as": "traditional"}}
    assert set(r.trades.kind) <= {"taxable", "ira"} and set(
        r.trades.taxed_as[r.trades.account == "ira"]) == {"traditional"}
    assert r.location.set_index("account").taxed_as["ira"] == "traditional"


def test_the_holdings_tables_and_the_calendar_name_accounts_alike():
    """The taxable-holdings table's Account column showed the id ``taxable`` beside the
    retirement-holdings table's names, whose Type column repeated the name ("Roth IRA |
    Roth IRA") or read "IRA | IRA (retirement)"; the calendar showed ids too. Now every
    Account column holds names and the retirement table says how each is taxed."""
    c = load_client(ROTH_HOUSEHOLD)
    summary = summarize_lots(c)
    taxable = report.holdings_table(summary, c).frame
    assert set(taxable.Account) == {"Taxable account"}
    ret = report.retirement_holdings_table(summary, c).frame
    assert "Type" not in ret and set(zip(ret.Account, ret["Tax treatment"], strict=True)) == {
        ("Traditional IRA", "Tax-deferred"), ("Roth IRA", "Tax-free")}
    # without the client (a notebook with the summary only): the ids, as before
    assert set(report.holdings_table(summary).frame.Account) == {"taxable"}
    # the calendar: lots by their account's name, locks bind every account
    cal = report.calendar(summary, client=c).frame
    assert set(cal.Account) <= {"Taxable account", "Traditional IRA", "Roth IRA",
                                "All accounts"}
    assert "All accounts" in set(cal.Account)
    # one account: its name (two of a kind keep their id in parentheses: account_names)
    solo = load_client(clients_dir() / "retiree" / "profile.toml")
    s = summarize_lots(solo)
    names = set(report.calendar(s, client=solo).frame.Account)
    assert names and names <= {account_name(solo.profile.accounts,
                                            solo.profile.accounts[0].account_id,
                                            capital=True)}
    assert set(report.holdings_table(s, solo).frame.Account) == names


RETIREE = clients_dir() / "retiree" / "profile.toml"  # id = "XXXX-1234": the custodian's


def test_internal_keys_are_not_account_numbers():
    """Only a custodian's account number joins the name: the samples' keys do not."""
    ids = {a.account_id for p in clients_dir().glob("*/profile.toml")
           for a in load_client(p).profile.accounts}
    assert {i for i in ids if is_account_number(i)} == {"XXXX-1234"}
    assert profile_account_names(load_client(ROTH_HOUSEHOLD).profile.accounts) == {
        "taxable": "taxable account", "ira": "Traditional IRA", "roth": "Roth IRA"}
    # two of a kind, numbered: each by its number, no quotes (the number is no nickname)
    assert account_names([("XXXX-1234", "taxable"), ("XXXX-9876", "taxable")], noun=True) \
        == ["taxable account (XXXX-1234)", "taxable account (XXXX-9876)"]


def test_a_custodian_account_number_is_in_every_name_of_the_account(capsys):
    """The retiree sample's account is the custodian's masked number ``XXXX-1234``: the
    trade list and its file carry it (a custodian needs it), while the holdings table,
    "Today's trades" and the calendar called it "Taxable account", so a client reading
    both could not tell they were one account. Now every name of it carries the number,
    in the proposal, on the dashboard and on the command line."""
    from pma_lab.app.cli import main
    from pma_lab.app.dashboard.widgets import TaxEditor
    from pma_lab.plan.transition import client_plan, first_trades

    c = load_client(RETIREE)
    (acc,) = [a.account_id for a in c.profile.accounts]
    assert acc == "XXXX-1234"
    want = "Taxable account (XXXX-1234)"
    assert account_name(c.profile.accounts, acc, capital=True) == want
    # the proposal's tables
    s = summarize_lots(c)
    assert set(report.holdings_table(s, c).frame.Account) == {want}
    assert set(report.calendar(s, client=c).frame.Account) <= {want, "All accounts"}
    rows = dict(report.client_summary(c, s).frame.itertuples(index=False))
    assert rows["Account"].startswith(f"{want}, cash ")
    setup = prepare(c)
    trades = first_trades(setup, client_plan(setup), report.transition_settings())
    today = dict(report.trade_summary(setup, trades).frame.itertuples(index=False))
    assert today["Account"] == want
    # ... beside the trade list's Account column: the number itself
    assert set(report.custodian_trades(trades).Account) == {acc}
    # the dashboard: its cash field (its other labels call account_name as well)
    t = TaxEditor()
    t.client = c
    (cash,) = t._cash_box.children
    assert cash.description == f"{want} cash $"
    # its row takes the column's width, so the value beside the long name is not cut to
    # ~50 px ("40,00"; Chromium: label 239 px, input 147 px, inside the 400 px column)
    assert cash.layout.width == "calc(100% - 4px)"
    # the command line
    assert main(["rebalance", "--profile", str(RETIREE)]) == 0
    assert capsys.readouterr().out.startswith(
        "Rebalance of the taxable account (XXXX-1234) for retiree")


def test_ids_are_not_guessed_to_be_account_numbers():
    """The heuristic took ``TRUST2021``, ``IRA-2024`` and ``2021`` for account numbers
    ("Traditional IRA (IRA-2024)") but not ``trust2021``, and missed a lowercase mask
    (``xxxx-1234``), so the name dropped the number the trade file shows. Now only a
    masked number is one, and a profile declares any other (``number = ...``)."""
    for key in ("TRUST2021", "IRA-2024", "2021", "trust2021", "Z12-345678", "ira-2"):
        assert not is_account_number(key), key
    assert account_names([("IRA-2024", "traditional"), ("2021", "taxable")], noun=True) \
        == ["Traditional IRA", "taxable account"]
    assert account_names([("xxxx-1234", "taxable")], noun=True) \
        == ["taxable account (xxxx-1234)"]


def test_the_profiles_name_and_number_name_the_account():
    """``[[accounts]] name`` and ``number``: the client's own words and statement number."""
    accounts = [A(account_id="taxable", account_type="taxable", name="", number=""),
                A(account_id="trust", account_type="taxable", name="Family trust",
                  number="XXXX-1234"),
                A(account_id="IRA-2024", account_type="ira", ira_kind="traditional",
                  name="", number="XXXX-9876")]
    assert profile_account_names(accounts) == {
        "taxable": "taxable account", "trust": "Family trust (XXXX-1234)",
        "IRA-2024": "Traditional IRA (XXXX-9876)"}
    assert account_name(accounts, "taxable", capital=True) == "Taxable account"
    # a name alone; two unnamed of a kind numbered in profile order, no internal key
    assert account_names([("a", "taxable", "Joint account"), ("b", "taxable")],
                         noun=True) == ["Joint account", "taxable account"]
    names = account_names([("joint", "taxable"), ("trust", "taxable")], noun=True)
    assert names == ["taxable account 1", "taxable account 2"]
    assert not any("joint" in n or "trust" in n or "\u201c" in n for n in names)


def test_unnamed_twins_are_flagged_for_the_service_team(tmp_path, capsys):
    from pma_lab.accounts import unnamed_twins_note

    twins = [A(account_id="taxable", account_type="taxable"),
             A(account_id="trust", account_type="taxable")]
    note = unnamed_twins_note(twins, "p.toml")
    assert note.startswith('p.toml: [[accounts]] id = "taxable", [[accounts]] id = "trust"')
    assert 'set name = "..."' in note
    named = [twins[0], A(account_id="trust", account_type="taxable", name="Family trust")]
    assert unnamed_twins_note(named) == ""
