"""Custodian exports' summary rows: total rows, footers and cash positions (read_lots).

The files are the layouts a reviewer exported from Schwab, Fidelity and a spreadsheet
(session 19): an "Account Total" row, disclaimer lines under the lots, the Fidelity core
money-market position ``SPAXX**`` and an XLSX "Total" row.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from pma_lab.errors import LotDataError, Severity
from pma_lab.io.ingest import read_blotter, read_lots

AS_OF = dt.date(2026, 7, 31)
KNOWN = {"AAPL", "MSFT", "BRK.B", "NVDA", "XOM", "INTC", "JNJ", "KO"}

SCHWAB = '''"Positions for account Individual XXXX-4821 as of 07/31/2026"
""
"Symbol","Description","Quantity","Open Date","Cost/Share","Cost Basis"
"AAPL","APPLE INC","150","03/15/2019","$45.12","$6,768.00"
"MSFT","MICROSOFT CORP","80","01/10/2022","$314.98","$25,198.40"
"MSFT","MICROSOFT CORP","40","07/20/2026","$510.00","$20,400.00"
"BRK.B","BERKSHIRE HATHAWAY B","25","05/05/2020","$185.40","$4,635.00"
"NVDA","NVIDIA CORP","300","08/01/2025","$178.00","$53,400.00"
"XOM","EXXON MOBIL","200","06/01/2022","$95.00","$19,000.00"
"INTC","INTEL CORP","500","04/01/2021","$64.00","$32,000.00"
"JNJ","JOHNSON & JOHNSON","60","06/30/2018","$160.00","$9,600.00"
"Account Total","","{shares}","","","{cost}"
'''

FIDELITY_HEAD = ("Account Name/Number,Symbol,Description,Quantity,Date Acquired,"
                 "Cost Basis Total,Cost Basis Per Share\n"
                 'X12345678,AAPL,APPLE INC,150,03/15/2019,"$6,768.00",$45.12\n'
                 'X12345678,MSFT,MICROSOFT CORP,80,01/10/2022,"$25,198.40",$314.98\n')
FIDELITY_FOOT = (
    "\n"
    '"The data and information in this spreadsheet is provided to you solely for your use."\n'
    '"Brokerage services are provided by Fidelity Brokerage Services LLC (FBS), 900 Salem '
    'Street, Smithfield, RI 02917."\n'
    '"Date downloaded 07/31/2026 5:02 PM ET"\n')


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def lots(path: Path, **kw):
    kw.setdefault("as_of", AS_OF)
    kw.setdefault("default_account", "taxable")
    kw.setdefault("known", KNOWN)
    kw.setdefault("market", None)
    kw.setdefault("date_order", "MDY")
    return read_lots(path, **kw)


def warned(result, code: str) -> list:
    return [w for w in result.warnings if w.code == code]


def errors(exc) -> list:
    return [i for i in exc.value.issues if i.severity is Severity.ERROR]


# ------------------------------------------------------------------------------- totals
def test_schwab_account_total_row_is_skipped_and_checked(tmp_path):
    p = write(tmp_path, "schwab.csv", SCHWAB.format(shares="", cost="$171,001.40"))
    got = lots(p)
    assert len(got) == 8 and list(got.lots.source_row) == list(range(4, 12))
    (w,) = warned(got, "total_row")
    assert (w.row, w.column, w.value) == (12, "Symbol", "Account Total")
    assert "read as a total row" in w.message and "total cost matches" in w.message
    assert w.fix == "nothing to do"


def test_total_row_that_disagrees_with_its_lots_is_an_error_naming_both(tmp_path):
    p = write(tmp_path, "schwab.csv", SCHWAB.format(shares="1,355", cost="$171,000.00"))
    with pytest.raises(LotDataError) as e:
        lots(p)
    (bad,) = errors(e)
    assert (bad.code, bad.row, bad.column) == ("total_mismatch", 12, "Cost Basis")
    assert "$171,000.00" in bad.message and "$171,001.40" in bad.message
    assert "rows 4-11" in bad.message
    # the shares (150+80+40+25+300+200+500+60 = 1,355) agree: no error about them
    p2 = write(tmp_path, "schwab2.csv", SCHWAB.format(shares="1,300", cost="$171,001.40"))
    with pytest.raises(LotDataError) as e2:
        lots(p2)
    (bad2,) = errors(e2)
    assert (bad2.code, bad2.column) == ("total_mismatch", "Quantity")
    assert "1,300" in bad2.message and "1,355" in bad2.message


def test_subtotals_per_account_and_grand_total(tmp_path):
    p = write(tmp_path, "multi.csv",
              "account,ticker,shares,acquired,cost_total\n"
              "taxable,AAPL,10,2020-01-02,1000\n"
              "taxable,MSFT,5,2020-01-02,500\n"
              ",Subtotal,15,,1500\n"
              "ira,KO,20,2021-03-04,800\n"
              ",Account Total,20,,800.00\n"
              ",Grand Total:,35,,\"$2,300.00\"\n")
    got = lots(p, accounts=["taxable", "ira"])
    assert list(got.lots.ticker) == ["AAPL", "MSFT", "KO"]
    assert [w.row for w in warned(got, "total_row")] == [4, 6, 7]
    assert all("shares and total cost match" in w.message for w in warned(got, "total_row"))


def test_a_total_ticker_with_a_date_is_still_a_lot(tmp_path):
    p = write(tmp_path, "t.csv", "ticker,shares,acquired,cost_total\n"
                                 "AAPL,10,2020-01-02,1000\nTotal,5,2020-01-02,500\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert [(i.code, i.row) for i in errors(e)] == [("unknown_ticker", 3)]
    assert not [i for i in e.value.issues if i.code == "total_row"]


def test_xlsx_total_row_and_one_cell_footer(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["Unrealized Gain/Loss - Lot Details as of 07/31/2026", None, None, None,
                 None], [None] * 5,
                ["Symbol", "Quantity", "Acquired", "Cost Per Share", "Total Cost"],
                ["AAPL", "150", "03/15/2019", "$45.12", "$6,768.00"], [None] * 5,
                ["MSFT", 80, dt.datetime(2022, 1, 10), 314.98, 25198.4],
                ["KO", 100, "2020-06-01 00:00:00", 45.5, 4550],
                ["Total", None, None, None, "$36,516.40"],
                ["Data as of 07/31/2026", None, None, None, None]):
        ws.append(row)
    p = tmp_path / "custodian.xlsx"
    wb.save(p)
    got = lots(p)
    assert list(got.lots.ticker) == ["AAPL", "MSFT", "KO"]
    (t,) = warned(got, "total_row")
    assert (t.row, t.value) == (8, "Total")
    (f,) = warned(got, "footer_skipped")
    assert f.row == 9 and "row 9" in f.message and f.value == "Data as of 07/31/2026"


def test_a_file_of_only_total_rows_is_an_error(tmp_path):
    p = write(tmp_path, "t.csv", "ticker,shares,acquired,cost_total\nTotal,,,0\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert [i.code for i in errors(e)] == ["header_only"]


# ------------------------------------------------------------------------------- footers
def test_fidelity_footer_lines_are_skipped_with_one_warning(tmp_path):
    p = write(tmp_path, "fidelity.csv", FIDELITY_HEAD + FIDELITY_FOOT)
    got = lots(p)
    assert list(got.lots.ticker) == ["AAPL", "MSFT"]
    (f,) = warned(got, "footer_skipped")
    assert f.row == 5 and "rows 5-7 after the last data row" in f.message
    assert f.value.startswith("The data and information")


def test_a_text_line_between_lots_is_still_an_error_without_the_comma_guess(tmp_path):
    p = write(tmp_path, "fidelity.csv",
              FIDELITY_HEAD + '"Some note about the account"\n'
              'X12345678,KO,COCA COLA,100,06/01/2020,"$5,000.00",$50.00\n')
    with pytest.raises(LotDataError) as e:
        lots(p)
    (bad,) = errors(e)
    assert (bad.code, bad.row) == ("ragged_row", 4)
    assert "line of text" in bad.message and "comma" not in bad.fix


def test_a_row_with_too_many_fields_still_suggests_the_comma(tmp_path):
    p = write(tmp_path, "r.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,1,2024-01-02,1,234.5\nMSFT,1,2024-01-02,2\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    (bad,) = errors(e)
    assert bad.code == "ragged_row" and "unquoted comma" in bad.fix


def test_blotter_footer_is_skipped_too(tmp_path):
    p = write(tmp_path, "b.csv", "date,account,account_type,ticker,side,shares,price\n"
                                 "2026-01-05,taxable,taxable,AAPL,buy,10,200\n"
                                 "\n\"Generated by the desk, not advice\"\n")
    got = read_blotter(p, known=KNOWN)
    assert len(got.trades) == 1
    assert [w.row for w in got.warnings if w.code == "footer_skipped"] == [4]


# ------------------------------------------------------------------------------- cash
def test_fidelity_core_cash_is_an_error_pointing_to_the_account_cash(tmp_path):
    p = write(tmp_path, "fidelity.csv",
              FIDELITY_HEAD + "X12345678,SPAXX**,HELD IN MONEY MARKET,5000,,,\n"
              + FIDELITY_FOOT)
    with pytest.raises(LotDataError) as e:
        lots(p)
    (bad,) = errors(e)  # only this: not a blank date, blank basis or bad ticker as well
    assert (bad.code, bad.row, bad.column, bad.value) == ("cash_position", 4, "Symbol",
                                                          "SPAXX**")
    assert "cash" in bad.message and "money-market" in bad.message
    assert "5,000 units" in bad.fix and "$5,000.00" in bad.fix
    assert "cash of account 'taxable'" in bad.fix
    assert "delete this row" in bad.fix


@pytest.mark.parametrize("name", ["Cash & Cash Investments", "Cash", "Money Market",
                                  "FDRXX", "cash and money market"])
def test_cash_rows_by_name_or_fund(tmp_path, name):
    p = write(tmp_path, "c.csv", "account,ticker,shares,acquired,cost_total\n"
                                 "taxable,AAPL,10,2020-01-02,1000\n"
                                 f'ira,"{name}",,,\n')
    with pytest.raises(LotDataError) as e:
        lots(p, accounts=["taxable", "ira"])
    (bad,) = errors(e)
    assert (bad.code, bad.row) == ("cash_position", 3)
    assert "account 'ira'" in bad.fix


def test_a_money_market_symbol_in_the_security_master_is_a_lot(tmp_path):
    p = write(tmp_path, "c.csv", "ticker,shares,acquired,cost_total\nSWVXX,10,2020-01-02,10\n")
    got = lots(p, known=KNOWN | {"SWVXX"})
    assert list(got.lots.ticker) == ["SWVXX"]


# ------------------------------------------------------------------------------- reviewer's files
FIXTURES = Path(__file__).parent / "fixtures" / "custodian"  # as exported, session 19


def test_reviewer_profiles_load_with_their_total_rows_skipped(tmp_path):
    from pma_lab.io.client import load_client

    for f in FIXTURES.iterdir():
        shutil.copy(f, tmp_path / f.name)
    for name, n in (("profile_schwab.toml", 8), ("profile_xlsx.toml", 3)):
        client = load_client(tmp_path / name)
        assert len(client.lots) == n
        assert [w.code for w in client.warnings].count("total_row") == 1


def test_reviewer_fidelity_profile_names_the_cash_row_and_the_various_row(tmp_path):
    from pma_lab.io.client import load_client

    for f in FIXTURES.iterdir():
        shutil.copy(f, tmp_path / f.name)
    with pytest.raises(LotDataError) as e:
        load_client(tmp_path / "profile.toml")
    assert [(i.code, i.row) for i in errors(e)] == [("cash_position", 4),
                                                    ("unparsable_date", 5)]
    assert [(i.code, i.row) for i in e.value.issues if i.code == "footer_skipped"] == [
        ("footer_skipped", 7)]


def test_a_security_name_with_total_in_it_is_not_a_total_row(tmp_path):
    p = write(tmp_path, "t.csv", "ticker,shares,acquired,cost_total\n"
                                 "AAPL,10,2020-01-02,1000\nTotal Return Bond Fund,5,,500\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert ("invalid_ticker", 3) in [(i.code, i.row) for i in errors(e)]
    assert not [i for i in e.value.issues if i.code == "total_row"]


def test_a_cut_short_last_row_is_not_a_footer(tmp_path):
    p = write(tmp_path, "t.csv", "ticker,shares,acquired,cost_total\n"
                                 "AAPL,10,2020-01-02,1000\nMSFT\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    (bad,) = errors(e)
    assert (bad.code, bad.row) == ("ragged_row", 3) and "cut short" in bad.message


def test_cash_row_without_an_account_names_its_account(tmp_path):
    p = write(tmp_path, "c.csv", "account,ticker,shares,acquired,cost_total\n"
                                 "taxable,AAPL,10,2020-01-02,1000\n,FDRXX,2500,,\n")
    with pytest.raises(LotDataError) as e:
        lots(p, accounts=["taxable"], default_account=None)
    cash = [i for i in errors(e) if i.code == "cash_position"]
    assert len(cash) == 1 and "cash of its account" in cash[0].fix
    assert "$2,500.00" in cash[0].fix


def test_xlsx_date_time_cells_read_as_their_date_and_a_serial_names_its_date(tmp_path):
    """Reviewer 1 (session 21): a date-time cell (2015-06-01 15:30) was refused with "write
    the date as YYYY-MM-DD"; it is read as its date (a holding period counts days). A date
    column's number 45869 (an Excel serial in a cell not formatted as a date) stays an error,
    whose fix now names the date it would be."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in (["Symbol", "Quantity", "Acquired", "Total Cost"],
                ["AAPL", 10, dt.datetime(2015, 6, 1, 15, 30), 1000],
                ["MSFT", 5, "2016-02-03T09:05", 500]):
        ws.append(row)
    p = tmp_path / "times.xlsx"
    wb.save(p)
    got = lots(p)
    assert [d.date() for d in got.lots.acquired] == [dt.date(2015, 6, 1), dt.date(2016, 2, 3)]
    ws.append(["KO", 7, 45869, 700])
    wb.save(p)
    with pytest.raises(LotDataError) as e:
        lots(p)
    (i,) = errors(e)
    assert (i.code, i.row, i.column, i.value) == ("unparsable_date", 4, "Acquired", "45869")
    assert i.fix.startswith("45869 looks like an Excel date serial, which is 2025-07-31 in "
                            "Excel's usual 1900 date system: format the cell as a date")


@pytest.mark.parametrize(("text", "day"), [
    ("07/23/2021 15:30", dt.date(2021, 7, 23)), ("2021-07-23 3:30 PM", dt.date(2021, 7, 23)),
    ("2021-07-23T15:30:00Z", dt.date(2021, 7, 23)), ("2021-07-23 12:05 am", dt.date(2021, 7, 23)),
    ("2021-07-23 99:99", None), ("2021-07-23 13:30 PM", None), ("45869.5", None)])
def test_a_date_cells_time_of_day(tmp_path, text, day):
    """Reviewer 2 (session 21): "2021-01-15 99:99" was read as a date while "07/23/2021 15:30"
    (a US Excel CSV) was refused; a time after a date is read when it is a time of day and
    refused, saying so, when it is not."""
    p = write(tmp_path, "t.csv", f"ticker,shares,acquired,cost_total\nAAPL,10,{text},1000\n")
    if day is not None:
        assert lots(p).lots.acquired.iloc[0].date() == day
        return
    with pytest.raises(LotDataError) as e:
        lots(p)
    (i,) = errors(e)
    assert (i.code, i.row, i.value) == ("unparsable_date", 2, text)
    assert ("is not a time of day" in i.message) is (":" in text)


def test_a_blotter_date_cells_time_orders_the_day_as_the_time_column(tmp_path):
    """Reviewer 2 (session 21): a custodian's blotter listing the day's trades newest first
    with date-time cells was replayed in file order (the sale before the buy), the times
    dropped; a date cell's time is the trade's time, as the time column's, and the two
    disagreeing is an error."""
    p = write(tmp_path, "b.csv", "date,account,account_type,ticker,side,shares,price\n"
                                 "2026-03-02 15:00:00,taxable,taxable,AAPL,sell,10,400\n"
                                 "2026-03-02 10:00:00,taxable,taxable,AAPL,buy,10,420\n"
                                 "2026-03-03 00:00:00,taxable,taxable,AAPL,buy,1,420\n")
    got = read_blotter(p, known=KNOWN)
    assert [t.time for t in got.trades] == [dt.time(15), dt.time(10), None]
    p = write(tmp_path, "c.csv", "date,time,account,account_type,ticker,side,shares,price\n"
                                 "2026-03-02 15:00,14:00,taxable,taxable,AAPL,buy,10,400\n")
    with pytest.raises(Exception) as e:
        read_blotter(p, known=KNOWN)
    (i,) = [i for i in e.value.issues if i.code == "inconsistent_time"]
    assert (i.row, i.column) == (2, "time")


# ------------------------------------------------------------------------------- activity
ACTIVITY = Path(__file__).parent / "fixtures" / "custodian" / "fidelity_activity.csv"


def test_an_activity_export_reads_as_the_blotter_it_records(tmp_path):
    """F20 (session 22's reviewer): a Fidelity activity export ("Accounts History": YOU
    BOUGHT / YOU SOLD actions, a sale's negative quantity, newest first, dividends, a cash
    sweep and a transfer of cash among the trades, no account type) is the household
    sample's recent trades as its custodian writes them: the client's ledger is the one its
    plain blotter gives, and every row left out is named."""
    from pma_lab.io.client import load_client
    from pma_lab.paths import clients_dir

    plain = load_client(clients_dir() / "household" / "profile.toml")
    folder = tmp_path / "household"
    shutil.copytree(clients_dir() / "household", folder)
    shutil.copy(ACTIVITY, folder / "recent_trades.csv")
    got = load_client(folder / "profile.toml")
    cols = ["account", "ticker", "date_acquired", "date_sold", "shares", "proceeds",
            "cost_basis", "adjustment_code", "adjustment_amount", "gain_loss", "term"]
    want = plain.ledger().dispositions(as_decimal=True)[cols].sort_values(cols[:4])
    have = got.ledger().dispositions(as_decimal=True)[cols].sort_values(cols[:4])
    assert len(want) == 2 and have.reset_index(drop=True).equals(want.reset_index(drop=True))
    a, b = plain.ledger().locks(plain.as_of), got.ledger().locks(got.as_of)
    assert sorted(zip(a.lock, a.group, strict=True)) == sorted(zip(b.lock, b.group,
                                                                   strict=True))
    skipped = sorted((w.code, w.row, w.column) for w in got.warnings
                     if w.code in ("not_a_trade", "cash_sweep"))
    assert skipped == [("cash_sweep", 7, "Symbol"), ("not_a_trade", 6, "Action"),
                       ("not_a_trade", 9, "Action")]
    said = " ".join(w.message for w in got.warnings)
    assert "row 6 (DIVIDEND RECEIVED ...) moves no shares" in said
    assert "row 9 (ELECTRONIC FUNDS ...) moves no shares" in said
    assert "row 7: buys and sales of a money-market fund" in said


def test_an_activity_exports_sale_beyond_the_shares_held_quotes_its_negative_quantity(
        tmp_path):
    """Reviewer (session 24, left open): a replay's refused sale showed the quantity it
    read ('1650'), not the cell the file writes ('-1650'); the error quotes the cell, as
    every other input error does, under the file's own header (Quantity)."""
    from pma_lab.errors import BlotterError
    from pma_lab.io.client import load_client
    from pma_lab.paths import clients_dir

    folder = tmp_path / "household"
    shutil.copytree(clients_dir() / "household", folder)
    text = ACTIVITY.read_text().replace("Cash,-165,217.56", "Cash,-1650,217.56")
    (folder / "recent_trades.csv").write_text(text)
    with pytest.raises(BlotterError) as e:
        load_client(folder / "profile.toml").ledger()
    (bad,) = e.value.issues
    assert (bad.row, bad.column, bad.value, bad.code) == (
        4, "Quantity", "-1650", "insufficient_shares")
    assert "(value: '-1650')" in str(e.value)


def test_an_activity_export_without_the_profile_asks_for_the_account_types(tmp_path):
    with pytest.raises(Exception) as e:
        read_blotter(ACTIVITY, known=KNOWN | {"KLAC", "BMY", "MMM"})
    (bad,) = [i for i in e.value.issues if i.severity is Severity.ERROR]
    assert (bad.code, bad.column) == ("missing_column", "account_type")
    assert "[[accounts]]" in bad.fix
    from pma_lab.tax.ledger import AccountType

    with pytest.raises(Exception) as e:
        read_blotter(ACTIVITY, known=KNOWN | {"KLAC", "BMY", "MMM"},
                     accounts={"taxable": AccountType.TAXABLE})
    bad = [(i.row, i.column, i.code) for i in e.value.issues if i.severity is Severity.ERROR]
    assert bad == [(5, "Account", "unknown_account"), (10, "Account", "unknown_account")]


def test_a_fee_and_a_commission_add_up_and_a_sales_quantity_may_be_negative(tmp_path):
    p = write(tmp_path, "b.csv", "date,account,account_type,ticker,action,quantity,price,"
                                 "commission,fees\n"
                                 "2026-07-01,t,taxable,AAPL,Buy,10,200,4.95,0.05\n"
                                 "2026-07-02,t,taxable,AAPL,Sell,-4,210,,0.02\n")
    got = read_blotter(p, known=KNOWN)
    assert [(t.side.value, t.shares, t.fees) for t in got.trades] == [
        ("buy", 10, Decimal("5.0")), ("sell", 4, Decimal("0.02"))]


@pytest.mark.parametrize("action", ["Stock Split", "Transfer of Assets"])
def test_a_row_moving_shares_without_a_buy_or_sale_is_an_error(tmp_path, action):
    p = write(tmp_path, "b.csv", "date,account,account_type,ticker,action,quantity,price\n"
                                 "2026-07-01,t,taxable,AAPL,Buy,10,200\n"
                                 f"2026-07-02,t,taxable,AAPL,{action},10,0\n")
    with pytest.raises(Exception) as e:
        read_blotter(p, known=KNOWN)
    (bad,) = [i for i in e.value.issues if i.severity is Severity.ERROR]
    assert (bad.row, bad.column, bad.code) == (3, "action", "invalid_value")
    assert "belongs in the lots file" in bad.fix


def test_a_newest_first_file_with_a_days_buy_and_sale_of_a_name_needs_their_times(tmp_path):
    """A replay runs a day's trades in file order: in a file listed newest first the day's
    sale above its buy would be replayed before it."""
    body = ("2026-07-02,t,taxable,AAPL,sell,5,210\n"
            "2026-07-02,t,taxable,AAPL,buy,5,205\n"
            "2026-07-02,t,taxable,MSFT,buy,1,400\n"
            "2026-07-01,t,taxable,AAPL,buy,10,200\n")
    p = write(tmp_path, "b.csv", "date,account,account_type,ticker,side,shares,price\n" + body)
    with pytest.raises(Exception) as e:
        read_blotter(p, known=KNOWN)
    bad = [(i.row, i.column, i.code) for i in e.value.issues if i.severity is Severity.ERROR]
    assert bad == [(2, "date", "unordered_same_day"), (3, "date", "unordered_same_day")]
    assert "add a time column" in e.value.issues[0].fix
    timed = write(tmp_path, "t.csv", "date,time,account,account_type,ticker,side,shares,price\n"
                  + "".join(f"{r[:10]},{h},{r[11:]}" for r, h in zip(
                      body.splitlines(keepends=True), ["15:00", "10:00", "11:00", "10:00"],
                      strict=True)))
    assert len(read_blotter(timed, known=KNOWN).trades) == 4
    oldest = write(tmp_path, "o.csv", "date,account,account_type,ticker,side,shares,price\n"
                   + "".join(reversed(body.splitlines(keepends=True))))
    assert len(read_blotter(oldest, known=KNOWN).trades) == 4


def test_schwabs_acquired_open_date_header_and_its_thousands(tmp_path):
    """Reviewer 1 (session 24): Schwab's "Acquired/Open Date" was no known header; the
    missing date column then left "3,000" shares ambiguous (the market check that settles
    it needs the dates), two errors that renaming the header made go away."""
    text = ('"Symbol","Quantity","Cost Basis","Acquired/Open Date"\n'
            '"AAPL","3,000","$8,100.00","03/09/2009"\n')
    got = lots(write(tmp_path, "s.csv", text), market="market", known="market")
    assert got.lots.shares.iloc[0] == 3000
    missing = write(tmp_path, "m.csv", text.replace("Acquired/Open Date", "When"))
    with pytest.raises(LotDataError) as e:
        lots(missing, market="market", known="market")
    assert [(i.code, i.column) for i in errors(e)] == [("missing_column", "acquired")]


def test_a_custodians_wash_sale_column_says_what_is_made_of_it(tmp_path):
    """Reviewer 1 (session 24): Schwab's "Disallowed Loss" was called informational, with no
    word that a replacement lot's holding period is not carried over from it."""
    text = ('"Symbol","Quantity","Cost Basis","Open Date","Disallowed Loss"\n'
            '"AAPL","10","$2,000.00","07/01/2026","$150.00"\n')
    got = lots(write(tmp_path, "s.csv", text))
    (w,) = [w for w in got.warnings if w.code == "wash_column_read_as_basis"]
    assert w.column == "Disallowed Loss" and "recent_trades" in w.fix


def test_a_sold_lot_dated_after_its_sale_is_a_file_error_and_orders_nothing(tmp_path):
    """Reviewer 2 (session 24): a sale naming a lot acquired after it was reported only once
    every other problem was fixed, as "opening lot S2" without file or column; and a file
    listed newest first refused a day's buy beside a sale naming its own lot, whose order
    cannot change what it relieves."""
    head = "date,account,account_type,ticker,side,shares,price,acquired,cost_basis\n"
    bad = write(tmp_path, "b.csv", head + "2026-07-08,t,taxable,AAPL,sell,10,200,"
                                          "2026-07-20,2100\n"
                                          "2026-07-09,t,taxable,AAPL,buy,-1,200,,\n")
    with pytest.raises(Exception) as e:
        read_blotter(bad, known=KNOWN)
    assert sorted((i.row, i.column, i.code) for i in e.value.issues
                  if i.severity is Severity.ERROR) == [
        (2, "acquired", "sold_lot_after_sale"), (3, "shares", "non_positive_shares")]
    newest = write(tmp_path, "n.csv", head + "2026-07-08,t,taxable,AAPL,buy,5,205,,\n"
                                             "2026-07-08,t,taxable,AAPL,sell,10,200,"
                                             "2026-01-20,2100\n"
                                             "2026-07-01,t,taxable,MSFT,buy,1,400,,\n")
    got = read_blotter(newest, known=KNOWN)
    assert [t.lot_id for t in got.trades] == [None, "S3", None]
    assert got.sold_lots[0]["acquired"] == dt.date(2026, 1, 20)


def test_a_schwab_transactions_export_reads_with_its_as_of_dates_and_total_line(tmp_path):
    """Reviewer 2 (session 24): Schwab's "07/08/2026 as of 07/07/2026" date was unreadable,
    its "Transactions Total" line five errors and its "Fees & Comm" column ignored."""
    from pma_lab.tax.ledger import AccountType

    p = write(tmp_path, "s.csv",
              '"Date","Action","Symbol","Description","Quantity","Price","Fees & Comm",'
              '"Amount"\n'
              '"07/15/2026","Reinvest Shares","AAPL","APPLE","0.512","$210.00","",'
              '"-$107.52"\n'
              '"07/15/2026","Qualified Dividend","AAPL","APPLE","","","","$107.52"\n'
              '"07/08/2026 as of 07/07/2026","Sell","MSFT","MICROSOFT","150","$220.00",'
              '"$0.12","$32,999.88"\n'
              '"Transactions Total","","","","","","","$32,999.88"\n')
    got = read_blotter(p, known=KNOWN, accounts={"t": AccountType.TAXABLE},
                       default_account="t")
    assert [(t.date, t.side.value, t.ticker, t.shares, t.fees) for t in got.trades] == [
        (dt.date(2026, 7, 15), "buy", "AAPL", Decimal("0.512"), 0),
        (dt.date(2026, 7, 7), "sell", "MSFT", 150, Decimal("0.12"))]
    said = {w.code: w.row for w in got.warnings}
    assert said["as_of_date"] == 4 and said["total_row_skipped"] == 5
    assert said["not_a_trade"] == 3
