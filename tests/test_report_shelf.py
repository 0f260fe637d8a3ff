"""The proposal's shelf sections and the tax-alpha citation, on the result objects directly.

Cheap by design: no proposal is rendered here (the rendered proposals are checked in
tests/test_proposal_checklist.py). Hand-built results check the arithmetic and the
escaping; three sample clients are prepared once each (module fixture, about 8 s on an
idle machine) for the engines' own results.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pma_lab.errors import DataError
from pma_lab.formatting import fmt_pct, fmt_usd
from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.optimize.household import HouseholdResult
from pma_lab.paths import clients_dir, repo_root
from pma_lab.plan.transition import TransitionSettings, first_trades
from pma_lab.portfolio.allocation import CORE_ALLOCATIONS, plan_sleeves
from pma_lab.portfolio.completion import active_model_weights, completion_names
from pma_lab.portfolio.ladder import ladder_for_profile
from pma_lab.portfolio.target import TargetBuilder, names_for_account
from pma_lab.report import evidence, shelf
from pma_lab.report import proposal as report
from pma_lab.report.proposal import ReportTable


def _client(cid: str):
    return load_client(clients_dir() / cid / "profile.toml")


@pytest.fixture(scope="module")
def setups():
    cache: dict = {}

    def get(cid: str):
        if cid not in cache:
            cache[cid] = prepare(_client(cid))
        return cache[cid]

    return get


def _text(obj) -> str:
    """Visible text of an object's HTML (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", obj._repr_html_()))


def _toy_household(account: str = "taxable") -> HouseholdResult:
    """Two accounts, hand-made: a taxable loss lot and an IRA gain lot sold, one buy each."""
    trades = pd.DataFrame({
        "account": [account, account, "ira", "ira"],
        "kind": ["taxable", "taxable", "traditional", "traditional"],
        "ticker": ["AAA", "BBB", "CCC", "AAA"], "side": ["sell", "buy", "sell", "buy"],
        "shares": [10.0, 4.0, 5.0, 2.0], "price": [50.0, 100.0, 20.0, 50.0]})
    trades["value"] = trades.shares * trades.price
    lot_sales = pd.DataFrame({
        "account": [account, "ira"], "lot_id": ["L1", "L2"], "ticker": ["AAA", "CCC"],
        "shares": [10.0, 5.0], "proceeds": [500.0, 100.0], "gain": [-150.0, 40.0],
        "term": ["ST", "LT"], "taxable": [True, False]})
    accounts = pd.DataFrame({
        "account": [account, "ira"], "kind": ["taxable", "traditional"],
        "value": [3000.0, 1000.0], "cash_before": [100.0, 10.0],
        "cash_after": [200.0, 10.0], "bought": [400.0, 100.0], "sold": [500.0, 100.0],
        "realized_st": [-150.0, 0.0], "realized_lt": [0.0, 0.0]})
    location = pd.DataFrame({"account": [account, "ira"], "kind": ["taxable", "traditional"],
                             "cost_before": [0.0, 70.0], "cost_after": [0.0, 63.0]})
    return HouseholdResult("optimal", trades, lot_sales, accounts, pd.DataFrame(), location,
                           0.05, 0.01, -150.0 * 0.4, pd.DataFrame(), 0.1,
                           ("a note <b>escaped</b>",))


# ------------------------------------------------------------------------------ household
def test_household_view_of_a_toy_result_by_hand():
    r = _toy_household()
    v = shelf.household_view(r)
    assert v.title == "One plan across your accounts"
    # the accounts named in the client's words, as the Type column and the sizing row
    assert "across your 2 accounts, taxable account and Traditional IRA:" in v.intro
    # the tax row is these trades' (page 1's "Tax this year" is the plan's whole year)
    assert shelf.TAX_OF_THESE_TRADES in shelf.household_summary(r).frame["item"].tolist()
    # the account's trades: the lot sold with its term and gain, the buy as a new lot
    t = shelf.account_trades_table(r, "taxable")
    f = t.frame
    assert list(f.Action) == ["Sell", "Buy"] and list(f.Lot) == ["L1", "new lot"]
    assert f["Est. gain"].iloc[0] == -150.0 and np.isnan(f["Est. gain"].iloc[1])
    assert f["Est. price"].iloc[0] == 50.0 and f["Est. amount"].sum() == 900.0
    txt = t.formatted()
    assert list(txt.Term) == ["Short-term", "\u2013"] and list(txt.Shares) == ["10", "4"]
    # a retirement account's sale shows no gain (it is not taxed)
    ira = shelf.account_trades_table(r, "ira")
    assert "Est. gain" not in ira.frame.columns and "not taxed" in ira.caption
    assert {"Lot", "Term"} <= set(ira.frame.columns)
    # asset location: shares of the household and the location cost before/after
    loc = shelf.location_table(r).frame
    assert list(loc["Share of household"]) == [0.75, 0.25]
    assert list(loc["Tax treatment"]) == ["Taxable", "Tax-deferred"]
    assert list(loc.Account) == ["Taxable account", "Traditional IRA"]  # names, not ids
    assert list(loc["Location cost after"]) == [0.0, 63.0]
    s = _text(shelf.household_summary(r))
    assert fmt_pct(0.05) in s and fmt_pct(0.01) in s and fmt_usd(-60.0) in s
    assert "a note <b>escaped</b>" in _text(v)  # shown as text ...
    assert "<b>escaped" not in v._repr_html_()  # ... never as markup
    bundle = v._repr_mimebundle_()
    assert bundle[shelf.SECTION_MIMETYPE] == {"title": "One plan across your accounts"}


def test_household_orders_and_the_trade_files_rows_by_hand():
    """The toy's 4 orders (AAA sold and BBB bought in taxable, CCC sold and AAA bought in
    the IRA) with the taxable AAA sale taken from two lots (6 from L1, 4 from L3): the
    trade file lists each lot sold on its own row, 3 sale rows + 2 purchases = 5 rows. The
    summary used to say "Orders across the accounts | 4" beside a 5-row file."""
    r = _toy_household()
    lots = r.lot_sales
    split = pd.concat([lots.iloc[[0]].assign(shares=6.0, proceeds=300.0, gain=-90.0),
                       lots.iloc[[0]].assign(lot_id="L3", shares=4.0, proceeds=200.0,
                                             gain=-60.0),
                       lots.iloc[[1]]], ignore_index=True)
    r = replace(r, lot_sales=split)
    assert len(shelf.household_trade_rows(r)) == 5  # every account's rows (no fixed one)
    got = dict(zip(*shelf.household_summary(r).formatted()[["item", "value"]].T.values,
                   strict=True))
    assert got[shelf.ORDERS_ROW] == "4 orders, 5 rows"  # was "4 (5 rows)": each count named
    assert r.summary().trade_file_rows == 5 and r.summary().orders == 4



def test_the_realised_gains_rows_name_one_taxable_account_in_the_singular():
    """The toy has one taxable account (and an IRA): its rows say "(taxable account)";
    with two taxable accounts, "(taxable accounts)" (it said the plural for one)."""
    r = _toy_household()
    items = shelf.household_summary(r).frame["item"].tolist()
    assert "Short-term gains realised (taxable account)" in items
    assert "Long-term gains realised (taxable account)" in items
    two = replace(r, accounts=r.accounts.assign(kind="taxable"))
    items = shelf.household_summary(two).frame["item"].tolist()
    assert "Short-term gains realised (taxable accounts)" in items


def test_an_accounts_trades_are_captioned_by_its_name_in_the_singular_when_one():
    """Issue 14: "Account ira (Traditional IRA): 1 lots sold, 1 purchases": the profile's
    account id and no singular. Now the account's name and "1 lot sold, 1 purchase"; two
    accounts of one kind told apart by their ids, in quotes."""
    r = _toy_household()
    assert shelf.account_trades_table(r, "taxable").caption == (
        "Taxable account: 1 lot sold, 1 purchase")
    assert shelf.account_trades_table(r, "ira").caption.startswith(
        "Traditional IRA: 1 lot sold, 1 purchase; a retirement account's sales")
    # two traditional IRAs with no name: numbered in order, never by the profile's keys
    two = _toy_household("ira-2")
    two = replace(two, accounts=two.accounts.assign(kind=["traditional", "traditional"]))
    assert shelf.account_trades_table(two, "ira-2").caption.startswith(
        "Traditional IRA 1: 1 lot sold, 1 purchase")
    assert shelf.account_trades_table(two, "ira").caption.startswith(
        "Traditional IRA 2: 1 lot sold")
    assert "across your 2 accounts, Traditional IRA 1 and Traditional " \
           "IRA 2:" in shelf.household_view(two).intro
    # ... or by the names and numbers the profile gives them
    named = replace(two, named_kinds=(("ira-2", "traditional", "Rollover IRA", ""),
                                      ("ira", "traditional", "", "XXXX-9876")))
    assert shelf.account_trades_table(named, "ira-2").caption.startswith("Rollover IRA: ")
    assert "across your 2 accounts, Rollover IRA and Traditional IRA (XXXX-9876):" \
        in shelf.household_view(named).intro


def test_the_accounts_minimum_cash_is_shown_beside_its_cash():
    r = _toy_household()
    assert "Minimum cash" not in shelf.location_table(r).frame  # no account keeps one
    r = replace(r, accounts=r.accounts.assign(min_cash=[150.0, 0.0]))
    t = shelf.location_table(r)
    cols = list(t.frame.columns)
    assert cols[cols.index("Cash after") + 1] == "Minimum cash"
    assert list(t.formatted()["Minimum cash"]) == ["$150", "$0"]


def test_todays_trades_tax_adds_up_to_page_ones_tax_this_year_by_hand():
    """roth-household's figures: the household's tax of today's trades $5,616, page 1's
    "Tax this year (2026)" $6,475.12 = the plan's trades that year $5,687.19 + tax on
    dividends $763.96 + on interest $23.97. The section used to show only the $5,616 under
    a "Tax this year" label: now the dividends ($764), the interest ($24) and the plan's
    later trades ($6,475 - $5,616 - $764 - $24 = $71) add it up to page 1's figure, in the
    words and order of the proposal's "Today's trades" (PlanYearTax.rows: one arithmetic;
    the household's rows used to lump dividends and interest, put the later trades first
    and show a $0 row)."""
    r = replace(_toy_household(), fixed_account="taxable", tax_this_year=5_616.0)
    t = shelf.PlanYearTax(2026, 6_475.12, 5_687.19, dividends=763.96, interest=23.97)
    total = "= Your plan's tax for 2026 (\u201cTax this year\u201d)"
    rows = shelf.household_summary(r, t).formatted()[["item", "value"]].values.tolist()
    i = [k for k, _ in rows].index(shelf.TAX_OF_TODAYS_TRADES)
    assert rows[i:i + 5] == [
        [shelf.TAX_OF_TODAYS_TRADES, "$5,616"],
        ["... plus tax on dividends in 2026", "$764"],
        ["... plus tax on interest in 2026", "$24"],
        ["... plus the plan's later trades in 2026", "$71"],
        [total, "$6,475"]]
    # the trade summary's rows, to the word and the dollar
    assert [tuple(x) for x in rows[i + 1:i + 5]] == t.rows(5_616.0)
    # no "page 1" (pma-lab household and the dashboard have none)
    assert "only" in shelf.TAX_OF_TODAYS_TRADES and "page" not in shelf.TAX_OF_TODAYS_TRADES
    assert not [k for k, _ in t.rows(5_616.0) if "page" in k]
    # with the plan's tax on today's sales alone ($5,900.40 on the year's income): the
    # stacking on that income is $5,900 - $5,616 = $284, the later trades the rest,
    # $6,475 - $5,616 - $284 - $764 - $24 = -$213 (whole dollars: the rows add up exactly)
    stacked = replace(t, trades_today=5_900.40)
    got = dict(shelf.household_summary(r, stacked).formatted()[["item", "value"]].values)
    assert got["... plus today's gains taxed on top of the year's income"] == "$284"
    assert got["... plus the plan's later trades in 2026"] == "-$213"
    # a carried-in loss: selling nothing, $3,000 of it offsets income (-$983 at 32.75 %,
    # retiree's); today's tax is measured against that, so it is a row of its own and the
    # later trades are not charged with it: 5,616 - 983 + 764 + 24 + 1,054 = 6,475
    carried = replace(t, no_sale=-982.50, trades_today=4_633.0)  # 5,616 - 983: no stack
    got = dict(shelf.household_summary(r, carried).formatted()[["item", "value"]].values)
    assert got["... plus the tax of 2026 if nothing in the account is sold"] == "-$983"
    assert got["... plus the plan's later trades in 2026"] == "$1,054"
    assert "... plus today's gains taxed on top of the year's income" not in got
    # a gift's deduction is its own row, a negative part added (the household's "less"
    # a negative saving used to read as a subtraction of it); without the plan's year, no
    # reconciliation
    gift = replace(t, total=t.total - 500.0, charity=-500.0)
    got = dict(shelf.household_summary(r, gift).formatted()[["item", "value"]].values)
    assert got["... plus the gift deduction (a tax saving)"] == "-$500"
    assert got["... plus the plan's later trades in 2026"] == "$71"
    # the row reads as the table's other subtracted parts (a negative figure after
    # "... plus"), not "plus the ... saving" of a minus figure; the total's label above
    # the rows names the gift among what the plan's year also counts (it named only the
    # later trades, dividends and interest)
    assert not [k for k in got if "tax saving\"" in k or k.endswith("tax saving")]
    assert got[shelf.TAX_OF_TODAYS_TRADES_GIFT] == "$5,616"
    assert shelf.TAX_OF_TODAYS_TRADES not in got
    assert "gift deduction" in shelf.TAX_OF_TODAYS_TRADES_GIFT
    assert "today's trades only" in shelf.TAX_OF_TODAYS_TRADES_GIFT
    plain = dict(shelf.household_summary(r, t).formatted()[["item", "value"]].values)
    assert plain[shelf.TAX_OF_TODAYS_TRADES] == "$5,616"
    assert not [k for k in shelf.household_summary(r).frame["item"] if k.startswith("=")]
    # with one step a year the rest is rounding, as in the trade summary
    assert ("... plus rounding", "$71") in replace(t, steps_per_year=1).rows(5_616.0)
    # the section passes it on
    v = shelf.household_view(r, t)
    assert total in _text(v)


def test_a_rounding_remainder_is_not_shown_as_later_trades():
    """muni-ca's "Today's trades" (quarterly, $0 budget): the plan's later trades in 2026
    cost $0.00 (tax on gains -$30.46, of which today's sales -$30.46), yet the rows read
    "... plus tax on interest in 2026 $1" and "... plus the plan's later trades in 2026
    -$1": two lines that cancel, the second only the whole dollars' remainder (today's
    -$30.47 shown -$30, the yearly table's -$31, dividends $2,299.68 -> $2,300, interest
    $0.80 -> $1). With the year's tax on gains to the cent, a remainder whose later trades
    cost under half a dollar is "rounding"; real later trades keep their words, and the
    rows still add up to the shown total."""
    muni = shelf.PlanYearTax(2026, 2_270.02, -31.0, dividends=2_300.0, interest=1.0,
                             trades_today=-30.46, trades_exact=-30.46)
    rows = muni.rows(-30.47)
    assert rows == [("... plus tax on dividends in 2026", "$2,300"),
                    ("... plus tax on interest in 2026", "$1"),
                    ("... plus rounding", "-$1"),
                    ("= Your plan's tax for 2026 (\u201cTax this year\u201d)", "$2,270")]
    assert -30 + sum(_usd(v) for _, v in rows[:-1]) == _usd(rows[-1][1])
    words = [w for _, w, _ in muni.parts(-30.47)]
    assert words[-1] == "-$1 from rounding" and not [w for w in words if "later" in w]
    # the cent figure unknown: as before, the remainder is named as later trades
    plain = replace(muni, trades_exact=float("nan")).rows(-30.47)
    assert ("... plus the plan's later trades in 2026", "-$1") in plain
    # later trades that do cost something keep their row
    later = replace(muni, total=2_250.02, trades=-51.0, trades_exact=-50.46)
    assert ("... plus the plan's later trades in 2026", "-$21") in later.rows(-30.47)


def test_household_view_escapes_account_ids():
    r = _toy_household(account='<img src=x onerror="alert(1)">')
    # two taxable accounts, one named by the profile's name (the profile chooses it)
    r = replace(r, accounts=r.accounts.assign(kind="taxable"),
                named_kinds=((r.accounts.account.iloc[0], "taxable", '<b>"x"</b>', ""),
                             ("ira", "taxable", "", "")))
    page = shelf.household_view(r)._repr_html_()
    assert "<img" not in page and "<b>\"x" not in page and "&lt;b&gt;" in page


def test_household_only_for_several_accounts(setups):
    s = setups("roth-household")
    r = shelf.household(s)
    assert r is not None
    v = shelf.household_view(r)
    # one trade table per account; its rows are the result's lot sales and buys
    names = ["Taxable account", "Traditional IRA", "Roth IRA"]
    tables = [p for p in v.parts if isinstance(p, ReportTable)
              and p.caption.split(":")[0] in names]
    # each caption names its account in the client's words, never its id
    assert [t.caption.split(":")[0] for t in tables] == names
    for t, acc in zip(tables, ["taxable", "ira", "roth"], strict=True):
        f = t.frame
        sells = r.lot_sales[r.lot_sales.account == acc]
        buys = r.account_trades(acc).query("side == 'buy'")
        assert (f.Action == "Sell").sum() == len(sells) and (f.Action == "Buy").sum() == len(buys)
        a = r.accounts.set_index("account").loc[acc]
        assert f["Est. amount"][f.Action == "Buy"].sum() == pytest.approx(a.bought)
        assert f["Est. amount"][f.Action == "Sell"].sum() == pytest.approx(a.sold)
        if acc == "taxable":  # gains shown are the ledger's realised gains
            assert f["Est. gain"].sum() == pytest.approx(a.realized_st + a.realized_lt)
        else:  # no gain column in a retirement account
            assert "Est. gain" not in f.columns
        assert "TSLA" not in set(f.Symbol[f.Action == "Buy"]) or acc != "roth"
    # every kind stated in the profile: no note that one is assumed
    assert not [n for n in r.notes if "We treated your" in n]
    # a single-account client has no household section (young-pro has one account)
    assert len(_client("young-pro").profile.accounts) == 1
    assert shelf.household_view(None) is None


def test_household_location_uses_the_trailing_dividend_yields_and_says_so(setups):
    """roth-household: asset location used to see 0 % yields (only the IRA's size cost
    anything: $11,175 -> $11,194 a year, the taxable account $0); it now reads each stock's
    trailing dividend yield (the proposal's dividend-yield characteristic), the taxable
    account's holdings cost their dividends' tax, and the section says which yields.
    VICI, a REIT without dividend data, read 0 % (the cheapest stock to hold in a taxable
    account) and the taxable account bought 1,289 shares ($33,965); it now takes the
    median yield of the Real Estate stocks with data, taxed as a REIT's dividends, and is
    bought in the IRA and the Roth only."""
    from pma_lab.market.corpactions import trailing_dividend_yield
    from pma_lab.optimize.household import (
        household_for_client,
        location_yields_sentence,
        reit_dividend_rate,
    )

    s = setups("roth-household")
    p = household_for_client(s)
    dy = trailing_dividend_yield(s.market, s.risk.tickers, s.as_of)
    y = p.location_inputs.income_yield
    known = [t for t in p.tickers if t in dy.yields.index]
    assert y[known].to_numpy() == pytest.approx(dy.yields[known].to_numpy(), abs=0)
    # the names without dividend data in the 66-name household target (VICI; DELL and
    # PLTR since the target is sized on the household's total) take their sector's median
    missing = list(y.drop(known).index)
    assert missing == ["DELL", "PLTR", "VICI"] and y.max() > 0.01
    for t in missing:
        peers = dy.yields[s.sectors.reindex(dy.yields.index) == s.sectors[t]]
        assert len(peers) > 10 and y[t] == pytest.approx(peers.median(), abs=0)
    rate = reit_dividend_rate(s.client.profile.tax)
    assert p.location_inputs.income_rate["VICI"] == rate
    r = shelf.household(s)
    loc = r.location.set_index("account")
    assert loc.cost_before["taxable"] > 1_000 and loc.cost_before["roth"] == 0
    buys = r.trades[r.trades.side == "buy"]
    assert "VICI" not in set(buys.ticker[buys.account == "taxable"])
    assert "VICI" in set(buys.ticker[buys.account != "taxable"])
    reits = [t for t in p.tickers if s.sectors.get(t) == "Real Estate"]
    sentence = location_yields_sentence(dy, p.tickers, 0.07,
                                        filled={t: s.sectors[t] for t in missing},
                                        reits=reits, reit_rate=rate)
    assert r.location_source == sentence and sentence.count(". ") == 0
    assert html.escape(sentence) in shelf.household_view(r)._repr_html_()


def test_household_summary_reads_the_tax_this_year_and_the_carryforward(setups):
    """roth-household: the household harvests a net loss in the taxable account; the
    summary used to read only "Estimated tax on them" = the losses at the marginal rates
    (-$18,754), while the trade section and the frontier read the tax this year after the
    $3,000 limit. It now reads the same three figures as the frontier: tax this year
    (-$3,000 x the ordinary rate: no other sale in 2026, no carry-in), the carryforward
    created (the rest of the net loss) and the economic tax."""
    s = setups("roth-household")
    r = shelf.household(s)
    net = float(r.accounts.realized_st.sum() + r.accounts.realized_lt.sum())
    assert net < -3_000
    st_rate = s.client.profile.tax.st_rate
    assert r.tax_this_year == pytest.approx(-3_000 * st_rate, abs=0.01)
    assert r.carryforward_st + r.carryforward_lt == pytest.approx(-net - 3_000, abs=0.01)
    f = shelf.household_summary(r).frame
    rows = dict(zip(f["item"], f["value"], strict=True))
    assert rows[shelf.TAX_OF_THESE_TRADES] == fmt_usd(r.tax_this_year)
    assert rows["Loss carryforward added (negative: used up)"] == fmt_usd(-net - 3_000)
    assert fmt_usd(r.tax_estimate) in [v for k, v in rows.items()
                                       if k.startswith("Economic tax")]
    # the household's tracking error to the benchmark, as the rest of the proposal reads it
    assert rows["Household tracking error to the S&P 500 today"] == fmt_pct(
        r.te_benchmark_before)
    after = r.holdings.household
    assert r.te_benchmark_after == pytest.approx(
        s.risk.tracking_error(after, s.benchmark.weights), rel=1e-9)
    assert r.te_benchmark_after < r.te_benchmark_before

def test_the_plans_own_wash_sale_is_stated_as_the_ledger_finds_it(setups):
    """household: recent IRA purchases lock loss sales in the taxable account. A plan that
    sells those locked losses anyway (wash-sale mode "disallow", a low tax weight) washes
    its own loss against the IRA's purchase; the household section used to raise "a bug in
    the wash-sale constraints" for it (or, within the taxable account, say it "found no wash
    sale"). Now each washed sale is named with its disallowed loss (for good: an IRA
    replacement), every sale the trade list marks among them. Session 25 (reviewer, left
    open): the trade list's Wash Sale cell, the decisions' reasons and the section's
    opening say the loss is lost for good, as the notes and the lock words do (they said
    "disallowed" alone, as of a loss deferred to the replacement shares' basis)."""
    from pma_lab.optimize.engine import default_settings, rebalance_client

    s = setups("household")
    plan = rebalance_client(s, settings=default_settings(s, wash_sale_mode="disallow",
                                                         gamma_tax=0.05))
    ct = report.custodian_trades(plan)
    marked = set(ct["Lot ID"][ct["Wash Sale"].str.startswith("yes") & (ct.Action == "SELL")])
    assert marked  # the plan sells locked losses
    # the marks are the plan's ledger replay (IRA lots bought within 30 days replace the
    # loss shares), each with its disallowed loss, adding up to the summary's
    sells = ct[ct.Action == "SELL"].set_index("Lot ID")["Wash Sale"]
    washed = plan.lot_trades.set_index("lot_id").wash_loss_disallowed
    assert set(washed.index[washed > 0]) == marked
    good = ", lost for good: an IRA bought the replacement shares"
    reasons = plan.decisions.set_index("lot_id").reason
    for lot in marked:
        assert sells[lot] == f"yes ({fmt_usd(float(washed[lot]))} disallowed{good})"
        assert reasons[lot].endswith("is washed and lost for good, an IRA bought the "
                                     "replacement shares)")
    assert float(washed.sum()) == pytest.approx(plan.summary.disallowed_loss, abs=0.01)
    r = shelf.household(s, plan)
    w = r.fixed_wash_sales
    assert len(w) and set(w.sale_lot_id) <= marked and w.permanent.all()
    note = next(n for n in r.notes if n.startswith("Wash sales across every account"))
    assert "found no wash sale" not in note
    for m in w.itertuples():
        # the IRA replacement: the trade list's amount is the household replay's
        assert sells[m.sale_lot_id] == f"yes ({fmt_usd(float(m.disallowed))} disallowed{good})"
        assert (f"{m.sale_ticker} lot {m.sale_lot_id}: {fmt_usd(float(m.disallowed))} of its "
                "loss disallowed for good") in note
    # the IRA sells its META, NOW and UBER bought in July the same day: those purchases
    # still replace whichever sale the ledger applies first (docs/tax_rules.md), so the
    # replay finds every sale the trade list marks, and the note says why the locks stay
    assert set(w.sale_lot_id) == marked
    assert "does not find" not in note
    assert "do not free a loss sale of them" in note
    total = fmt_usd(float(w.disallowed.astype(float).sum()))
    assert (f"{total} of loss disallowed, lost for good (a retirement account bought the "
            "replacement shares)") in shelf.household_view(r).intro


# --------------------------------------------------------------------------------- ladder
def test_muni_ladder_view_says_modelled_first_with_the_curve_date():
    c = _client("muni-ca")
    lad = shelf.ladder(c)
    v = shelf.ladder_view(lad)
    first = v.intro.split("\n\n")[0]
    assert "modelled, not market quotes" in first and "80%" in first
    assert lad.curve_date.isoformat() in first
    rungs = shelf.ladder_rungs(lad)
    assert list(rungs.frame.Amount) == list(lad.rungs.amount)
    assert list(rungs.formatted()["Tax-equivalent yield"]) == [
        fmt_pct(x) for x in lad.rungs.tax_equivalent_yield]
    assert "Treasury yield" in rungs.frame  # modelled from it: shown next to it
    cf = shelf.ladder_cash_flows(lad).frame
    # by hand: the principal repaid is the amount invested; year 1 pays every coupon
    assert cf["Principal repaid"].sum() == pytest.approx(1_500_000.0)
    assert cf.Interest.iloc[0] == pytest.approx((lad.rungs.amount * lad.rungs.coupon).sum())
    s = _text(shelf.ladder_summary(lad))
    assert "4.9 years" in s and fmt_pct(lad.tax_equivalent_yield) in s
    assert any("MODELLED" in n for n in lad.notes) and "MODELLED" in _text(v)


def test_treasury_ladder_view_and_no_ladder():
    c = _client("balanced-6040")
    v = shelf.ladder_view(shelf.ladder(c))
    assert "Treasury ladder of $850,000" in v.intro and "modelled" not in v.intro
    assert "Treasury yield" not in shelf.ladder_rungs(ladder_for_profile(c.profile)).frame
    assert shelf.ladder(_client("young-pro")) is None and shelf.ladder_view(None) is None


# ------------------------------------------------------------------------ core allocation
def test_sleeves_table_and_moves_by_hand():
    # 700 equity / 300 bonds in a 60/40 with a 5-point band: 70 % is above 65 %, so sell
    # back to the edge (not to the target): 700 - 0.65 x 1000 = 50 of equity
    plan = plan_sleeves(CORE_ALLOCATIONS["60/40"], 700.0, 300.0)
    t = shelf.sleeves_table(plan).frame
    assert list(t["Share today"]) == [0.7, 0.3]
    assert list(t["Value after"]) == pytest.approx([650.0, 350.0])
    assert list(t["Band low"]) == pytest.approx([0.55, 0.35])
    m = shelf.sleeve_moves(plan).frame
    assert list(m.From) == ["equity"] and m.Amount.iloc[0] == pytest.approx(50.0)
    inside = plan_sleeves(CORE_ALLOCATIONS["60/40"], 620.0, 380.0)
    assert "No move" in _text(shelf.sleeve_moves(inside))


def test_sixty_forty_client_sleeves_and_the_mixed_note(setups):
    s = setups("balanced-6040")
    plan = shelf.sleeves(s)
    assert plan is not None and plan.allocation.band == 0.05
    t = shelf.sleeves_table(plan).formatted()
    note = shelf.mixed_note(s).text
    # the same figures in the note and in the table
    assert t["Value today"].iloc[0] in note and t["Share today"].iloc[0] in note
    # the plans cover the whole portfolio now (pma_lab.plan.sleeves): no "equity only"
    assert "$850,000" in note and "60/40" in note and "not part of them" not in note
    assert "cover your whole portfolio" in note
    # the interest is stacked on the profile's income (a $35k coupon crosses the 32 %
    # bracket and the NIIT threshold), beneath the gains, and the note says so plainly
    assert ("taxed federally and exempt from your state tax: it is added to the taxable "
            "income in your profile as ordinary income, below any capital gains") in note
    assert "3.8% investment income tax" in note and "your state's rate" not in note
    assert "is not added to that income" not in note and "too low" not in note
    assert "between 55% and 65%" not in note and "55% to 65% band" in note
    assert "Tracking error is that of your equity holdings" in note
    v = shelf.sleeves_view(plan)
    assert "between 55% and 65%" in v.intro
    assert shelf.sleeves(setups("roth-household")) is None
    assert shelf.mixed_note(setups("roth-household")) is None
    # an in-state muni ladder: no tax, no brackets
    muni = shelf.mixed_note(setups("muni-ca")).text
    assert "exempt from federal and state income tax, so it adds no tax" in muni


# ----------------------------------------------------------------------------- completion
def test_the_core_is_the_target_solved_once_with_the_sleeves_name_count(setups):
    s = setups("core-active")
    comp = s.completion
    # solved once in prepare: the shelf reads the same object, it does not solve again
    assert comp is not None and shelf.completion(s) is comp
    # the name count of the completion sleeve's dollars: 60 % of the account
    assert comp.max_names == completion_names(s.account_size, 0.4) == 40
    assert (comp.completion > 0).sum() <= 40
    # the account's target is the core: the active model at 40 % plus the sleeve
    active = active_model_weights(str(s.client.profile.core.active_model), s.as_of)
    total = (0.4 * active.reindex(comp.total.index).fillna(0.0) + 0.6 * comp.completion)
    pd.testing.assert_series_equal(s.target.weights, total[total > 0].sort_values(
        ascending=False), check_names=False, atol=1e-12)
    assert s.target.names == int((comp.total > 0).sum()) <= len(active) + 40
    assert s.target.tracking_error == pytest.approx(comp.te_total, rel=1e-12)
    # the offsets: the account's factor exposures against the benchmark are smaller than
    # the active sleeve's, in each industry's sum and in the factor TE, and the manager's
    # bets stay (each overweight name of the model is overweight in the account)
    e = comp.exposures
    assert e.total_active.abs().sum() < 0.5 * e.active_only.abs().sum()
    assert comp.te_factor_total < 0.25 * comp.te_factor_active_only
    bench = s.benchmark.weights.reindex(active.index).fillna(0.0)
    bets = active.index[active > bench]
    assert (comp.total.reindex(bets) > bench.reindex(bets)).all()
    # the proposal's target summary: one tracking-error row, the whole account's
    kv = report.target_summary(s).frame.set_index("item")["value"]
    te_rows = [k for k in kv.index if "Tracking error" in k]
    assert te_rows == ["Tracking error to the benchmark (ex-ante, annual)"]
    assert kv[te_rows[0]] == fmt_pct(comp.te_total)
    assert kv["Names in the target"] == str(s.target.names)
    assert "completion sleeve of 40 stocks" in kv["Active + index core"]
    hh = report.target_summary(setups("roth-household")).frame.set_index("item")["value"]
    assert not any("completion sleeve" in k for k in hh.index)
    # a household's name count: sized on every account, and the page says so
    assert hh["Names in the target"] == "66"
    assert hh["Account size used for the name count"] == (
        "$1,565,880, the household's total across its 3 accounts (taxable account $910,162, "
        "Traditional IRA $403,593 and Roth IRA $252,125: lots at the as-of prices plus "
        "cash)")
    assert kv["Account size used for the name count"].startswith(
        fmt_usd(s.account_size) + " (the completion sleeve's")  # one account: its value
    note = shelf.mixed_note(s).text
    assert fmt_pct(comp.te_total) in note and "to your active and index core" in note
    # the sample clients' README quotes these figures (written from the persona file)
    readme = (clients_dir() / "README.md").read_text(encoding="utf-8")
    quoted = re.search(r"(\d+) names for its \$978k.*?: (\d+) names in all, tracking error "
                       r"([\d.]+) %.*?alone: ([\d.]+) %; industry and style part ([\d.]+) %, "
                       r"from ([\d.]+) %\)\. A direct-indexed target alone would hold (\d+) "
                       r"names at ([\d.]+) %", readme)
    assert quoted is not None
    # ... and the direct-indexed target the client would have without the core
    buyable = set(s.eligibility.buyable())
    direct = TargetBuilder(s.risk, s.benchmark, s.sectors).build(
        [t for t in s.benchmark.weights.index if t in buyable],
        names_for_account(s.account_size))
    assert quoted.groups() == (
        str(comp.max_names), str(s.target.names), f"{comp.te_total:.2%}"[:-1],
        f"{comp.te_active_only:.2%}"[:-1], f"{comp.te_factor_total:.2%}"[:-1],
        f"{comp.te_factor_active_only:.2%}"[:-1], str(direct.names),
        f"{direct.tracking_error:.2%}"[:-1])


def test_completion_view_keeps_the_managers_bets(setups):
    s = setups("core-active")
    comp = shelf.completion(s)
    assert comp is not None
    t = shelf.tilts_table(comp, s.benchmark.weights).frame
    bench = s.benchmark.weights.reindex(t.Stock).fillna(0.0).to_numpy()
    assert t["Your target core's bet"].to_numpy() == pytest.approx(
        comp.total.reindex(t.Stock).to_numpy() - bench)
    assert (t["Manager's bet"] > 0).all() and (t["Your target core's bet"] > 0).all()
    ind = shelf.industry_exposures(comp).frame.set_index("Industry")
    e = comp.exposures
    assert ind["Difference, your target core"].to_dict() == pytest.approx(
        e.total_active.reindex(ind.index).to_dict())
    # the completion sleeve offsets the industry bets: smaller after than before
    assert ind["Difference, your target core"].abs().sum() < \
        ind["Difference, active sleeve alone"].abs().sum()
    st = shelf.style_exposures(comp).frame
    assert set(st.Style) == {"Size", "Momentum", "Volatility"}
    v = shelf.completion_view(comp, s.benchmark.weights)
    assert fmt_pct(comp.te_total) in _text(v) and fmt_pct(comp.te_active_only) in _text(v)
    assert shelf.completion(setups("roth-household")) is None


# ------------------------------------------------------------------------ tax-alpha study
def test_tax_alpha_section_reads_the_packaged_study():
    study = evidence.load_tax_alpha_study()
    doc = json.loads(study.path.read_text())
    sm = doc["summary"]
    assert (study.p10, study.median, study.p90) == (
        sm["tax_alpha_annual_p10"], sm["tax_alpha_annual_median"], sm["tax_alpha_annual_p90"])
    # the packaged copy agrees with the study's own output in benchmarks/
    bench = repo_root() / "benchmarks" / "bench_backtest_rolling.json"
    if bench.is_file():
        b = json.loads(bench.read_text())
        assert {k: b[k] for k in sm} == sm
    v = evidence.tax_alpha_view(study)
    text = _text(v)
    for x in (study.p10, study.median, study.p90, study.harvest_by_year[0]):
        assert fmt_pct(x) in text
    assert "hindsight" in text and "not a promise" in text and "survivors" in text
    assert "outside the account" in text and "35% short-term" in text
    assert "tax_alpha_vs_fund_annual_median" not in json.dumps(doc)  # never packaged
    rows = evidence.harvest_by_year_table(study).frame
    assert len(rows) == len(sm["harvest_by_year_median"])


def test_the_study_says_it_has_no_trading_costs_and_what_each_basis_point_takes(tmp_path):
    """Reviewer 1, session 25: the tax-alpha study trades at the close with no spread or
    commission and nothing said so. The assumptions now say it, with what each basis point
    a trade costs would take off a year (twice the study's one-way turnover, from the
    file); a study run with costs says what it paid."""
    study = evidence.load_tax_alpha_study()
    doc = json.loads(study.path.read_text())
    text = _text(evidence.tax_alpha_view(study))
    assert "with no bid-ask spread or commission" in text
    turnover = doc["summary"]["turnover_annual_median"]
    assert f"sold a median {round(100 * turnover)}% of its value a year" in text
    assert f"up to {2 * turnover:.2f} basis points a year off" in text
    doc["settings"]["trading_cost_bps"] = 5.0
    p = tmp_path / "study.json"
    p.write_text(json.dumps(doc))
    text = _text(evidence.tax_alpha_view(evidence.load_tax_alpha_study(p)))
    assert "Every trade paid 5.0 basis points of its value" in text
    assert "no bid-ask spread" not in text
    # and the range's caption says the figures include the substitutes' pre-tax drift
    caption = evidence.tax_alpha_range(study).caption
    drift = doc["summary"]["pre_tax_excess_annual_median"]
    assert caption.endswith("includes what the substitute stocks earned before tax against "
                            f"the stocks sold (a median {100 * drift:.2f}% a year)")


def test_tax_alpha_numbers_come_from_the_file(tmp_path):
    study = evidence.load_tax_alpha_study()
    doc = json.loads(study.path.read_text())
    doc["summary"].update(tax_alpha_annual_p10=0.0011, tax_alpha_annual_median=0.0022,
                          tax_alpha_annual_p90=0.0033)
    p = tmp_path / "study.json"
    p.write_text(json.dumps(doc))
    text = _text(evidence.tax_alpha_view(evidence.load_tax_alpha_study(p)))
    assert "between 0.11% and 0.33%" in text and "median 0.22%" in text


def test_tax_alpha_bad_study_files_say_which_file_and_key(tmp_path):
    good = json.loads(evidence.load_tax_alpha_study().path.read_text())
    p = tmp_path / "study.json"
    with pytest.raises(DataError, match=r"study\.json: the tax-alpha study summary is missing"):
        evidence.load_tax_alpha_study(p)
    p.write_text("{not json")
    with pytest.raises(DataError, match="not a JSON file"):
        evidence.load_tax_alpha_study(p)
    bad = json.loads(json.dumps(good))
    del bad["summary"]["tax_alpha_annual_p90"]
    p.write_text(json.dumps(bad))
    with pytest.raises(DataError, match=r"summary\.tax_alpha_annual_p90.*missing.*package_tax"):
        evidence.load_tax_alpha_study(p)
    bad = json.loads(json.dumps(good))
    bad["summary"]["tax_alpha_annual_median"] = 85.0  # percent, not a decimal
    p.write_text(json.dumps(bad))
    with pytest.raises(DataError, match="tax_alpha_annual_median = 85.0 is not a rate"):
        evidence.load_tax_alpha_study(p)


def test_tax_alpha_only_with_a_taxable_account():
    from types import SimpleNamespace

    study = evidence.load_tax_alpha_study()
    assert evidence.tax_alpha_view(study, _client("young-pro")) is not None
    ira_only = SimpleNamespace(profile=SimpleNamespace(accounts=[
        SimpleNamespace(account_type="ira")]))
    assert evidence.tax_alpha_view(study, ira_only) is None


# ------------------------------------------------------------------ the notebook's wiring
def _shelf_cells() -> list[str]:
    import nbformat

    from pma_lab.report.proposal import PROPOSAL_NOTEBOOK

    nb = nbformat.read(PROPOSAL_NOTEBOOK, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"
            and ("shelf." in c.source or "evidence." in c.source)]


def _run_cells(cells: list[str], ns: dict) -> list[object]:
    """Run cells as the kernel does: statements, then the last line's value is shown (a cell
    ending in an assignment shows nothing and is not listed)."""
    import ast

    shown = []
    for src in cells:
        *body, last = src.strip().splitlines()
        exec("\n".join(body), ns)  # noqa: S102 - the package's own notebook
        if isinstance(ast.parse(last).body[0], ast.Expr):
            shown.append(eval(last, ns))  # noqa: S307
        else:
            exec(last, ns)  # noqa: S102
    return shown


def test_the_notebook_shows_each_section_to_the_client_who_holds_it(setups):
    cells = _shelf_cells()
    # the mixed note, then each of the four products and the tax-alpha study: one call to
    # build it, one to show it (each cell one pma_lab call)
    assert len(cells) == 11
    want = {"balanced-6040": {"Your core allocation", "Your bond ladder"},
            "roth-household": {"One plan across your accounts"},
            "core-active": {"Your active and index core"}}
    for cid, titles in want.items():
        s = setups(cid)
        # the notebook's imports cell gives its cells shelf and evidence; its trades are
        # the client's plan's first step (the household is solved around them)
        trades = first_trades(s, None, TransitionSettings())
        # (no plan comparison here: the household's tax rows then stop at today's trades;
        # their sum to page 1's figure is checked in test_proposal_checklist.py)
        shown = _run_cells(cells, {"setup": s, "client": s.client, "shelf": shelf,
                                   "evidence": evidence, "trades": trades,
                                   "analysis": None})
        views = {v.title for v in shown if isinstance(v, shelf.View)}
        assert views == titles | {"What tax-loss harvesting has been worth"}, cid
        mixed = shown[0]
        assert (mixed is not None) == (cid in ("balanced-6040", "core-active")), cid
        if cid == "core-active":  # page 1 says what the plans cover and TE is against
            assert "the active manager's model at 40% of the account" in mixed.text
            assert "Tracking error is that of the whole account to the benchmark" \
                in mixed.text


def test_a_roth_reads_as_a_roth_ira_in_every_section():
    """roth-household: 'Your accounts today' called both IRAs 'IRA (retirement)' while the
    household section said 'Traditional IRA' and 'Roth IRA'; all read the profile's
    ira_kind now."""
    from pma_lab.io.holdings import summarize_lots

    c = _client("roth-household")
    summary = summarize_lots(c)
    rows = report.client_summary(c, summary).frame.set_index("item").value
    # named as the client names them, not by the profile's account ids (issue 14)
    assert rows["Accounts"] == ("Taxable account, cash $10,000; Traditional IRA, cash "
                                "$4,000; Roth IRA, cash $2,500")
    t = report.retirement_holdings_table(summary, c).frame
    # each account by its name, as the rest of the proposal names it, not by its id
    # ... and its tax treatment beside it, not the name again ("Roth IRA | Roth IRA")
    assert set(zip(t.Account, t["Tax treatment"], strict=True)) == {
        ("Traditional IRA", "Tax-deferred"), ("Roth IRA", "Tax-free")}
    # without the client (an older notebook) the type stays generic
    assert set(report.retirement_holdings_table(summary).frame.Type) == {"IRA (retirement)"}


# ------------------------------------------------------- the household around the plan
def test_household_around_the_plans_first_step(setups, tmp_path):
    """roth-household: the household is solved around the plan's first step (issue 14).
    The proposal showed two taxable trade lists (the plan's and the household's own) and
    its trade files carried only the plan's. Now the taxable account's orders are the
    plan's to the share, the household section lists only the IRA's and the Roth's, no
    retirement account buys a stock the plan sells at a loss, the household's tax this
    year is the plan's (sales in an IRA or a Roth realise nothing), and the trade files
    list every account's orders."""
    s = setups("roth-household")
    plan = first_trades(s, None, TransitionSettings())
    r = shelf.household(s, plan)
    assert r.fixed_account == "taxable"
    mine = r.account_trades("taxable").set_index(["ticker", "side"]).shares.sort_index()
    theirs = plan.trades.set_index(["ticker", "side"]).shares.sort_index()
    pd.testing.assert_series_equal(mine, theirs, check_names=False)
    sold = r.lot_sales[r.lot_sales.account == "taxable"].set_index("lot_id").shares
    assert sold.sort_index().to_dict() == plan.lot_trades.set_index(
        "lot_id").shares.sort_index().to_dict()
    # the hard constraint: the plan's loss sales are bought back in no account
    losses = set(plan.lot_trades.ticker[plan.lot_trades.gain < 0])
    assert losses and set(r.fixed_loss_names) == losses
    retire_buys = r.trades[(r.trades.account != "taxable") & (r.trades.side == "buy")]
    assert not losses & set(retire_buys.ticker) and len(retire_buys)
    # one tax truth: the combined trades' tax this year is the plan's own
    assert r.tax_this_year == pytest.approx(plan.summary.tax, abs=0.01)
    assert r.carryforward_st + r.carryforward_lt == pytest.approx(
        plan.summary.carryforward_st + plan.summary.carryforward_lt, abs=0.01)
    # the section: no second taxable list, the retirement accounts' lists, and it says so
    v = shelf.household_view(r)
    caps = [p.caption.split(":")[0] for p in v.parts if isinstance(p, ReportTable)
            and "lot" in p.caption and "sold" in p.caption]
    assert caps == ["Traditional IRA", "Roth IRA"]
    assert "The trades of the taxable account are the first step of your plan (the trades " \
           "proposed today): they are listed once, in the plan's trade list" in v.intro
    # the trade files: the plan's rows, then the household's other accounts' rows
    rows = shelf.household_trade_rows(r)
    assert set(rows.Account) == {"ira", "roth"} and rows["Est. Gain"].isna().all()
    acc = r.accounts.set_index("account")
    for a in ("ira", "roth"):
        f = rows[rows.Account == a]
        assert f["Est. Amount"][f.Action == "BUY"].sum() == pytest.approx(acc.bought[a])
        assert f["Est. Amount"][f.Action == "SELL"].sum() == pytest.approx(acc.sold[a])
    bundle = v._repr_mimebundle_()[report.TABLE_MIMETYPE]
    assert bundle["name"] == "household_trades" and len(bundle["rows"]) == len(rows)
    frame = report.export_trades(plan, tmp_path / "t.csv", tmp_path / "t.xlsx", r)
    n_plan = len(report.custodian_trades(plan))
    assert len(frame) == n_plan + len(rows)
    on_disk = pd.read_csv(tmp_path / "t.csv", dtype={"Quantity": str})
    assert list(on_disk.Account.drop_duplicates()) == ["taxable", "ira", "roth"]
    assert on_disk.Quantity.str.fullmatch(r"\d+").all()  # whole shares
    with pytest.raises(DataError, match="not solved around these trades"):
        report.export_trades(plan, None, None, shelf.household(s))


# ------------------------------------------ the household's tax rows: one arithmetic
def _concept(label: str) -> str:
    """Which part of the plan's first-year tax a reconciliation row is, by its words (the
    household's rows and the trade summary's have worded them differently)."""
    lab = label.lower()
    for key, words in (("total", ("= ",)), ("today", ("estimated tax", "today's trades only")),
                       ("later", ("later trades", "rounding")),
                       ("hold", ("nothing in the account is sold",)),
                       ("stack", ("taxed on top",)),
                       ("charity", ("gift deduction",)),
                       ("income", ("dividends", "interest"))):
        if any(lab.startswith(w) if w == "= " else w in lab for w in words):
            return key
    raise AssertionError(f"not a tax row: {label!r}")


def _usd(cell: str) -> float:
    return float(cell.replace("$", "").replace(",", ""))


def _cents(rows) -> dict[str, int]:
    """``{concept: cents}`` of (label, USD) rows; a concept's rows summed (dividends and
    interest), a concept without a row 0."""
    out = dict.fromkeys(("today", "stack", "hold", "charity", "income", "later", "total"), 0)
    for label, v in rows:
        out[_concept(label)] += round(100 * v)
    return out


def _year_rows(table: ReportTable, head: str) -> list[tuple[str, float]]:
    """The rows from ``head`` (today's tax) to the ``=`` total, figures as shown."""
    f = table.formatted()
    items, values = list(f["item"]), list(f["value"])
    i = items.index(head)
    j = next(k for k in range(i, len(items)) if items[k].startswith("="))
    return [(items[k], _usd(values[k])) for k in range(i, j + 1)]


@pytest.mark.parametrize("cid", ["household", "roth-household"])
def test_household_tax_rows_are_the_trade_summarys_to_the_cent(setups, cid):
    """The household section adds today's trades' tax up to the plan's "Tax this year"
    (:func:`shelf.household_summary` with :func:`shelf.plan_year_tax`); the proposal's
    "Today's trades" does the same for the taxable account (:func:`report.trade_summary`,
    :func:`report.year_tax_parts`). Around the plan's first step both start from the same
    tax of today's trades (retirement accounts' sales are not taxed), so every part, in
    the cent, is the same on both paths: today's tax, the gains stacked on the year's
    income, Hold's tax of the year's sales, the gift's saving, the tax on dividends and
    interest, the later trades and the total (page 1's), as the CLI runs the plan."""
    from pma_lab.plan.transition import client_plan, run_transition

    s = setups(cid)
    mine = client_plan(s)
    an = run_transition(s, [mine], TransitionSettings(mc_paths=0, horizon_years=1, workers=1))
    run = next(r for r in an.runs if r.path == "expected" and r.plan == mine)
    trades = first_trades(s, mine, TransitionSettings(), run=run)
    r = shelf.household(s, trades)
    assert r.fixed_account == "taxable"
    assert round(100 * r.tax_this_year) == round(100 * float(trades.summary["tax"]))
    # the household's rows, as the section shows them
    house = _cents(_year_rows(shelf.household_summary(r, shelf.plan_year_tax(an)),
                              shelf.TAX_OF_TODAYS_TRADES))
    # the trade summary's rows, as the proposal shows them
    single = _cents(_year_rows(report.trade_summary(s, trades, an), "Estimated tax"))
    # the parts themselves (numbers, before formatting)
    year, total, parts = report.year_tax_parts(an, r.tax_this_year)
    raw = _cents([("Estimated tax", round(r.tax_this_year)), *((w, v) for v, _, w in parts),
                  ("= total", round(total))])
    assert house == single == raw, (house, single, raw)
    # whole dollars adding up exactly, to the comparison's figure for the year
    assert sum(v for k, v in house.items() if k != "total") == house["total"]
    row = an.comparison[an.comparison.is_client_plan].iloc[0]
    assert house["total"] == 100 * round(float(row.tax_year1))
    assert year == int(run.years.year.iloc[0])
