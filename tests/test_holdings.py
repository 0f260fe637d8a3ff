"""Lots valued at a past as-of date (pma_lab.io.holdings, issue 13).

The packaged closes are dividend- and split-adjusted to a recent base: AMZN's 2020-06-30
close there is 137.94, a twentieth of the 2,758.82 the exchange printed before the 2022
20:1 split. A book held in 2020 holds 2020 shares bought at 2020 prices, so its lots are
valued, their gains computed and whole shares counted at raw closes; risk and returns keep
the adjusted series.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pma_lab.io.client import load_client
from pma_lab.io.holdings import lock_reason, lock_symbols, prices_at, summarize_lots
from pma_lab.market.benchmark import Benchmark
from pma_lab.market.data import load_market
from pma_lab.optimize.engine import prepare, rebalance_client
from pma_lab.paths import clients_dir
from pma_lab.portfolio.risk import RiskModel

DAY = dt.date(2020, 6, 30)
PROFILE = """\
schema_version = 1

[client]
id = "book-2020"
name = "A book held in 2020"
as_of = 2020-06-30

[tax]
filing_status = "single"
st_rate = 0.37
lt_rate = 0.2

[[accounts]]
id = "taxable"
type = "taxable"
relief = "hifo"
cash = 10000.0

[lots]
files = ["lots.csv"]
default_account = "taxable"

[target]
model = "sp500"
"""
# AMZN's exchange close on 2019-06-28 was 1,893.63 (94.68 in the adjusted prices)
LOTS = """\
lot_id,account,ticker,acquired,shares,cost_per_share
A1,taxable,AMZN,2019-06-28,10,1893.63
M1,taxable,MSFT,2019-06-28,100,133.96
"""


@pytest.fixture(scope="module")
def book_2020(tmp_path_factory):
    folder = tmp_path_factory.mktemp("book-2020")
    (folder / "profile.toml").write_text(PROFILE)
    (folder / "lots.csv").write_text(LOTS)
    return load_client(folder / "profile.toml")


def test_prices_at_a_past_date_are_raw_closes():
    m = load_market()
    px = prices_at(m, ["AMZN", "SPY"], DAY)
    assert px["AMZN"] == pytest.approx(2758.82, abs=0.005)
    assert m.prices.at(DAY, ["AMZN"])["AMZN"] == pytest.approx(137.941, abs=0.001)
    assert px["SPY"] == m.etfs.at(DAY, ["SPY"])["SPY"]  # no ETF events: as packaged
    # on the data's last date the adjusted close is the exchange close; in its last month
    # the approximated dividends (MET's and VLO's dated 2026-08-03 by the schedule) are
    # not applied, so the sample clients' 2026-07-31 books keep the packaged closes
    last = m.prices.last_date.date()
    assert prices_at(m, ["AMZN"], last)["AMZN"] == m.prices.at(last, ["AMZN"])["AMZN"]
    recent = dt.date(2026, 7, 31)
    assert prices_at(m, ["MET", "VLO"], recent).equals(m.prices.at(recent, ["MET", "VLO"]))


def test_a_2020_book_is_valued_at_2020_prices(book_2020):
    lots = summarize_lots(book_2020).lots.set_index("lot_id")
    amzn = lots.loc["A1"]
    assert amzn.shares == 10
    assert amzn.market_value == pytest.approx(27_588.20, abs=0.01)
    assert amzn.unrealized == pytest.approx(27_588.20 - 18_936.30, abs=0.01)  # a gain
    assert amzn.term == "LT"


def test_a_2020_rebalance_trades_2020_shares_at_2020_prices(book_2020):
    names = ["AMZN", "MSFT", "JNJ", "XOM"]
    risk = RiskModel.from_covariance(names, np.diag([0.09, 0.06, 0.03, 0.08]) + 0.01)
    bench = Benchmark.from_weights(pd.Series({"MSFT": 0.5, "JNJ": 0.3, "XOM": 0.2}))
    setup = prepare(book_2020, risk=risk, benchmark=bench,
                    target=pd.Series({"MSFT": 0.5, "JNJ": 0.5}))
    r = rebalance_client(setup)
    sold = r.lot_trades.set_index("lot_id").loc["A1"]
    # whole 2020 shares of the 10 held (not 20x as many at a twentieth of the price)
    assert 0 < sold.shares <= 10 and sold.shares == round(sold.shares)
    assert sold.price == pytest.approx(2758.82, abs=0.005)
    per_share_gain = 2758.82 - 1893.63
    assert sold.gain == pytest.approx(per_share_gain * sold.shares, abs=0.05)
    assert r.checks.ok.all(), r.checks


def test_retirement_value_includes_the_retirement_accounts_cash():
    """"Of which in retirement accounts" sits under "Total value", which counts cash."""
    from pma_lab.paths import client_profile
    client = load_client(client_profile("roth-household"))
    s = summarize_lots(client)
    lots = s.lots[s.lots.account_type != "taxable"]
    cash = sum(a.cash for a in client.profile.accounts if a.account_type.value != "taxable")
    assert cash == 6500.0
    assert s.totals.ira_value == pytest.approx(float(lots.market_value.sum()) + cash)
    from pma_lab.report.proposal import client_summary

    rows = dict(client_summary(client, s).frame.itertuples(index=False, name=None))
    assert rows["Of which in retirement accounts"] == "$655,718"  # $403,593 + $252,125


@pytest.mark.parametrize("name, year, st, lt", [
    ("retiree", 2026, 0.0, 0.0),  # an $18,500 long-term carryforward, no sale in 2026
    ("household", 2026, 1_082.75 - 3_493.05, 0.0)])  # 2026's own sales
def test_realised_so_far_is_the_years_sales_not_its_carryforward(name, year, st, lt):
    """retiree's client summary read "Realised so far in 2026 ... $0 / -$18,500" beside
    "Loss carryforwards $0 / $18,500": the carry-in shown twice, once as a 2026 sale."""
    from pma_lab.paths import client_profile
    from pma_lab.report.proposal import client_summary

    client = load_client(client_profile(name))
    s = summarize_lots(client)
    got = s.realized_this_year()
    assert got[0] == year and got[1] == pytest.approx(st, abs=0.005)
    assert got[2] == pytest.approx(lt, abs=0.005)
    rows = dict(client_summary(client, s).frame.itertuples(index=False, name=None))
    from pma_lab.formatting import fmt_usd
    assert rows[f"Realised so far in {year} (short-term / long-term net)"] == \
        f"{fmt_usd(st)} / {fmt_usd(lt)}"
    if name == "household":  # the terminal's words sign dollars as everything else does
        assert f"ST net {fmt_usd(st, 2)}, LT net $0.00" in s.to_text()
        assert fmt_usd(st, 2) == "-$2,410.30" and "$-" not in s.to_text()
    if name == "retiree":
        assert rows["Loss carryforwards short-term / long-term"] == "$0 / $18,500"
        assert "-$18,500" not in s.to_text()
        assert "embedded gains (taxable account): ST" in s.to_text()  # one: not "accounts"


def test_an_analysis_date_after_the_prices_fails_in_lots_validate_in_a_clients_terms(
        tmp_path, capsys):
    """Reviewer 1, session 20: `lots validate` said OK to an as_of the packaged prices end
    before, and `lots summarize` then asked to "raise max_staleness_days" (no CLI option or
    profile key). Validate now prices the lots, and the error says the data's last date and
    the latest analysis date that works, in the profile's and the CLI's words."""
    from pma_lab.app.cli import main
    from pma_lab.market.data import load_market

    src = clients_dir() / "young-pro"
    prof = (src / "profile.toml").read_text()
    last = load_market().prices.last_date.date()
    late = last + dt.timedelta(days=30)
    for f in src.iterdir():
        if f.suffix in (".csv", ".xlsx"):
            (tmp_path / f.name).write_bytes(f.read_bytes())
    p = tmp_path / "profile.toml"
    import re

    p.write_text(re.sub(r"as_of = \d{4}-\d\d-\d\d", f"as_of = {late}", prof, count=1))
    assert main(["lots", "validate", "--profile", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"the analysis date {late} is after the packaged prices" in err
    assert f"(the last is {last})" in err and "client.as_of" in err and "--as-of" in err
    assert "max_staleness_days" not in err
    assert main(["lots", "validate", "--profile", str(p), "--as-of", str(last)]) == 0


def test_the_summary_says_the_turning_long_term_bands_as_disjoint_day_ranges():
    """Reviewer 1, session 20: "turning long-term within 60 days: 2 lots" counted the 31-60
    day lots only. The text now names each band's days: tech-exec has one lot in 1-30 days,
    two in 31-60 and one in 61-90."""
    text = summarize_lots(load_client(clients_dir() / "tech-exec" / "profile.toml")).to_text()
    assert "turning long-term in 1-30 days: 1 lot," in text
    assert "turning long-term in 31-60 days: 2 lots," in text
    assert "turning long-term in 61-90 days: 1 lot," in text
    assert "within 60 days" not in text


def test_a_held_name_whose_prices_end_early_is_not_blamed_on_the_analysis_date(tmp_path,
                                                                             capsys):
    """Reviewer 2, session 20: a lot of EA (packaged prices end 2024-03-08) made `lots
    validate` say the analysis date 2026-07-31 was "after the packaged prices" and advise
    an as_of on or before 2024-03-13, before most of the client's lots. Within the data's
    dates the table's own error names the ticker and its last close."""
    from pma_lab.app.cli import main

    src = clients_dir() / "young-pro"
    for f in src.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    lots = tmp_path / "brokerage_export.csv"
    lots.write_text(lots.read_text().rstrip("\n") + "\nEA,10,01/15/2022,130.00\n")
    assert main(["lots", "validate", "--profile", str(tmp_path / "profile.toml")]) == 2
    err = capsys.readouterr().err
    assert "after the packaged prices" not in err
    assert "EA (last close 2024-03-08)" in err and "take those lots out" in err
    assert "max_staleness_days" not in err


def test_a_current_member_missing_from_the_packaged_prices_is_not_called_delisted(
        tmp_path, capsys):
    """Reviewer 1, session 25: a lot of UNH (in the S&P 500 list of 2026-08-08, but the
    packaged prices end 2024-03-08: missing upstream, DATA_CARD.md) was called "delisted,
    acquired or renamed" and the client told to take a real holding out. The message now
    tells the data's gap from a delisting, each name in its own words (EA beside it)."""
    from pma_lab.app.cli import main

    src = clients_dir() / "young-pro"
    for f in src.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    lots = tmp_path / "brokerage_export.csv"
    lots.write_text(lots.read_text().rstrip("\n") + "\nUNH,20,01/03/2022,501.55\n"
                    "EA,10,01/15/2022,130.00\n")
    assert main(["lots", "validate", "--profile", str(tmp_path / "profile.toml")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    unh = err[err.index("UNH (last close 2024-03-08)"):]
    assert unh.startswith("UNH (last close 2024-03-08): still in the S&P 500 list of "
                          "2026-08-08: the packaged prices miss its later closes")
    assert "delisted" not in unh
    ea = err[err.index("EA (last close 2024-03-08)"):err.index("UNH (")]
    assert "delisted, acquired or renamed" in ea and "take those lots out" in ea


def test_lock_words_say_an_ira_loses_the_loss_a_taxable_purchase_defers_it_and_how_much():
    """Reviewer (session 21): a loss washed by an IRA purchase is disallowed for good (Rev.
    Rul. 2008-5), by a taxable one deferred to the shares bought; fewer shares bought than
    a lot holds wash only that many shares' loss. Locks name held symbols as the calendar
    does (META, not "META (was FB)", when META is held)."""
    day = dt.date(2026, 7, 15)
    assert lock_reason("no_loss_sale", day, True, 232, 201) == \
        "the loss would be lost for good (IRA purchase on 2026-07-15)"
    assert lock_reason("no_loss_sale", day, True, 20, 201) == \
        "up to 20 shares' loss would be lost for good (IRA purchase on 2026-07-15)"
    assert lock_reason("no_loss_sale", day, False, 30, 30) == \
        "a wash sale: the loss deferred to the shares bought on 2026-07-15"
    assert lock_reason("no_loss_sale", day, False, 1500, 2000) == \
        "a wash sale: up to 1,500 shares' loss deferred to the shares bought on 2026-07-15"
    assert lock_reason("no_buy", day) == "loss sale on 2026-07-15 (wash sale)"
    assert lock_symbols("FB,META", {"META", "AAPL"}, "META (was FB)") == "META"
    assert lock_symbols("FB,META", {"AAPL"}, "META (was FB)") == "META (was FB)"
    # a share class the ledger treats as the same security is named too, held or not
    # (reviewer 1, session 22: "do not buy GOOGL" while the target held GOOG)
    assert lock_symbols("GOOG,GOOGL", {"GOOGL"}, "GOOG, GOOGL") == "GOOG, GOOGL"
    # taxable and IRA purchases (session 23): which purchase washes how many shares
    day = dt.date(2026, 7, 31)
    mixed = ((day, False, 9.0), (day, True, 27.0))
    assert lock_reason("no_loss_sale", day, True, 36, 20, day, mixed) == (
        "a wash sale: the first 9 shares' loss deferred to the shares bought on 2026-07-31, "
        "the next 11 shares' loss lost for good (IRA purchase on 2026-07-31)")
    # no taxable lot outside the purchases: a sale of the shares bought (never their own
    # replacement) is washed by the IRA's purchase alone
    assert lock_reason("no_loss_sale", day, True, 36, 0, day, mixed) == (
        "selling all the shares bought on 2026-07-31 at a loss is a wash sale: the loss lost "
        "for good (IRA purchase on 2026-07-31)")
    assert lock_reason("no_loss_sale", day, True, 36, 0, day,
                       ((day, False, 30.0), (day, True, 1.0))) == (
        "selling all the shares bought on 2026-07-31 at a loss is a wash sale: up to 1 "
        "share's loss lost for good (IRA purchase on 2026-07-31)")
    # share classes that left the index still trade: both named (session 23: "UAA" alone)
    assert lock_symbols("UA,UAA", {"UAA"}, "UA, UAA") == "UA, UAA"
    assert lock_symbols("DISCA,DISCK,WBD", {"WBD"}, "WBD (was DISCA, DISCK)") == "WBD"


GIFT_LOTS = """\
lot_id,account,ticker,acquired,shares,cost_total,gift_date,fmv_at_gift
G1,taxable,MSFT,2015-01-02,100,15000,2020-03-02,14000
G2,taxable,MSFT,2015-01-02,100,25000,2020-03-02,18000
G3,taxable,MSFT,2015-01-02,100,30000,2020-03-02,22000
"""


def test_gift_lots_are_valued_by_their_dual_basis_and_the_summary_says_why(tmp_path):
    """Reviewer F22: a gift lot's gain or loss follows IRC §1015's two bases; the lots
    summary (CLI) and the proposal's holdings table say both, so the figure can be read."""
    from pma_lab.report.proposal import holdings_table

    (tmp_path / "profile.toml").write_text(PROFILE)
    (tmp_path / "lots.csv").write_text(GIFT_LOTS)
    client = load_client(tmp_path / "profile.toml")
    s = summarize_lots(client)
    mv = 100 * float(prices_at(load_market(), ["MSFT"], DAY)["MSFT"])
    assert 18000 < mv < 22000  # between G2's bases, below G3's loss basis
    lots = s.lots.set_index("lot_id")
    # G1: a gain from the donor's basis, the donor's holding period (long-term)
    assert lots.loc["G1", "unrealized"] == pytest.approx(mv - 15000)
    assert lots.loc["G1", "term"] == "LT"
    # G2: between the donor's basis and the value at the gift: neither gain nor loss
    assert lots.loc["G2", "unrealized"] == 0
    # G3: a loss from the value at the gift, held from the gift (short-term)
    assert lots.loc["G3", "unrealized"] == pytest.approx(mv - 22000)
    assert (lots.loc["G3", "term"], lots.loc["G3", "long_term_on"]) == (
        "ST", dt.date(2021, 3, 3))
    # its holding start beside it is the gift's (reviewer 1, session 24: the donor's start
    # beside the gift's long-term date); G1 keeps the donor's
    assert lots.loc["G3", "holding_start"] == dt.date(2020, 3, 2)
    assert lots.loc["G1", "holding_start"] == lots.loc["G1", "acquired"]
    text = s.to_text()
    assert "gift lots (IRC §1015 dual basis):" in text
    assert ("MSFT lot G2 (100 shares), a gift received 2020-03-02: gain basis $25,000 (the "
            "donor's, held since 2015-01-02), loss basis $18,000 (the value at the gift, held "
            "since 2020-03-02)") in text
    assert "a sale gives neither gain nor loss" in text
    note = holdings_table(s, client).note
    assert note.startswith("Gift lots: MSFT lot G1") and note.count("a gift received") == 3
    assert f"a sale gives a loss of ${22000 - mv:,.0f}" in note


def test_a_gift_lots_basis_and_gain_in_the_holdings_are_one_pair(tmp_path):
    """Reviewers, session 25: the holdings table (proposal) and the CLI's lots summary
    showed a gift lot's donor basis beside an unrealised gain measured from the FMV at the
    gift (G3: $30,000 beside a loss from $22,000), so market value less cost basis was not
    the gain shown. The basis shown is the one the gain is measured from (the lots'
    ``sale_basis``; ``basis`` stays the lot's record), with a note saying which applies."""
    from pma_lab.app.cli import main
    from pma_lab.io.holdings import GIFT_BASIS_NOTE
    from pma_lab.report.proposal import holdings_table

    (tmp_path / "profile.toml").write_text(PROFILE)
    (tmp_path / "lots.csv").write_text(GIFT_LOTS)
    client = load_client(tmp_path / "profile.toml")
    s = summarize_lots(client)
    mv = 100 * float(prices_at(load_market(), ["MSFT"], DAY)["MSFT"])
    lots = s.lots.set_index("lot_id")
    # G1 a gain from the donor's $15,000; G2 neither (today's value); G3 a loss from $22,000
    assert lots.sale_basis.to_dict() == pytest.approx({"G1": 15000, "G2": mv, "G3": 22000})
    assert lots.basis.to_dict() == {"G1": 15000, "G2": 25000, "G3": 30000}  # the record
    np.testing.assert_allclose(lots.market_value - lots.sale_basis, lots.unrealized)
    h = s.holdings.set_index("ticker").loc["MSFT"]
    assert h.basis == pytest.approx(15000 + mv + 22000)
    assert h.market_value - h.basis == pytest.approx(h.unrealized_st + h.unrealized_lt)
    table = holdings_table(s, client)
    row = table.frame.set_index("Symbol").loc["MSFT"]
    assert row["Market value"] - row["Cost basis"] == pytest.approx(
        row["Unrealised short-term"] + row["Unrealised long-term"])
    assert table.note.endswith(GIFT_BASIS_NOTE)
    text = s.to_text()
    assert GIFT_BASIS_NOTE in text
    # the CLI's files: the same pair, to the cent
    out = tmp_path / "summary"
    assert main(["lots", "summarize", "--profile", str(tmp_path / "profile.toml"),
                 "--out", str(out)]) == 0
    held = pd.read_csv(out / "holdings.csv", comment="#").set_index("ticker").loc["MSFT"]
    assert held.basis == pytest.approx(round(15000 + mv + 22000, 2), abs=0.005)
    cli = pd.read_csv(out / "lots.csv", comment="#").set_index("lot_id")
    np.testing.assert_allclose(cli.market_value - cli.sale_basis, cli.unrealized, atol=0.011)


def test_prices_older_than_the_analysis_date_are_warned_about():
    """A close older than the analysis date but within the 5-day limit was used without a
    word (reviewer 1, session 23, #11). A date that is not a market day: one warning
    with the closes' day; a held name without a close on the last market day: its close's
    date, named. Both reach the client's warnings (the CLI, proposal, dashboard and batch
    list them); the samples' 2026-07-31, a market day where every held name closed, has
    none."""
    import types

    from pma_lab.errors import Severity
    from pma_lab.io.holdings import stale_price_issues
    from pma_lab.market.data import PriceHistory

    days = pd.to_datetime(["2026-07-27", "2026-07-28", "2026-07-29", "2026-07-30",
                           "2026-07-31"])
    px = pd.DataFrame({"AAA": [10.0, 11, 12, 13, 14], "BBB": [20.0, 21, np.nan, np.nan,
                                                            np.nan],
                       "CCC": [30.0, np.nan, np.nan, np.nan, np.nan]}, index=days)
    etf = pd.DataFrame({"SPY": [500.0, 501, 502, 503, 504]}, index=days)
    market = types.SimpleNamespace(universe={"AAA", "BBB", "CCC"},
                                   prices=PriceHistory.from_frame(px),
                                   etfs=PriceHistory.from_frame(etf))
    assert stale_price_issues(market, ["AAA", "SPY"], dt.date(2026, 7, 31), "p.toml") == []
    got = stale_price_issues(market, ["AAA", "BBB", "CCC", "SPY"], dt.date(2026, 8, 1),
                             "p.toml")
    assert [i.code for i in got] == ["stale_price", "stale_price"]
    assert all(i.severity is Severity.WARNING for i in got)
    assert "the analysis date 2026-08-01 is not a market day" in got[0].message
    assert "closes of 2026-07-31, 1 day before it" in got[0].message
    # BBB's and CCC's closes are older than the last market day (5 days before the date
    # at most: older is prices_at's error, not a warning)
    assert got[1].message.startswith("2 held names have no close on 2026-07-31")
    assert got[1].message.endswith("BBB (close of 2026-07-28), CCC (close of 2026-07-27)")
    later = stale_price_issues(market, ["AAA", "CCC"], dt.date(2026, 8, 2), "p.toml")
    assert len(later) == 1 and "2 days before it" in later[0].message
    # through load_client: the client's warnings carry them
    c = load_client(clients_dir() / "young-pro" / "profile.toml", as_of="2026-08-01")
    assert [w.code for w in c.warnings if w.code == "stale_price"] == ["stale_price"]
    assert "closes of 2026-07-31" in c.warnings[-1].format()
    assert not load_client(clients_dir() / "young-pro" / "profile.toml").price_warnings
