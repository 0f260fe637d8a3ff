"""Lot and blotter ingestion on small hand-made files (the bad corpus is in test_bad_inputs)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from pma_lab.errors import BlotterError, LotDataError, Severity
from pma_lab.io.ingest import read_blotter, read_lots
from pma_lab.schema import ReadPolicy
from pma_lab.tax.ledger import Account, LotRelief

AS_OF = dt.date(2026, 7, 31)
KNOWN = {"AAPL", "MSFT", "BRK.B", "NVDA", "SPY", "GOOG", "GOOGL", "KO", "ABBV"}


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def lots(path: Path, **kw):
    kw.setdefault("as_of", AS_OF)
    kw.setdefault("default_account", "taxable")
    kw.setdefault("known", KNOWN)
    kw.setdefault("market", None)  # made-up costs; the market check has its own tests
    return read_lots(path, **kw)


def codes(exc) -> list[str]:
    return [i.code for i in exc.value.issues if i.severity is Severity.ERROR]


def test_custodian_aliases_preamble_money_and_warnings(tmp_path):
    p = write(tmp_path, "schwab.csv",
              "Positions for account XXXX-1234 as of 07/31/2026\n"
              "Symbol,Quantity,Open Date,Cost Basis,Description\n"
              'AAPL,10,03/25/2024,"$1,701.20",Apple Inc\n'
              'brk-b,5.5,04/01/2024,"$2,000.00",Berkshire\n')
    ls = lots(p)
    df = ls.lots
    assert list(df.ticker) == ["AAPL", "BRK.B"]
    assert list(df.shares) == [10.0, 5.5]
    assert list(df.cost_total) == [1701.20, 2000.00]
    assert df.acquired.iloc[0] == dt.datetime(2024, 3, 25)
    assert list(df.lot_id) == ["schwab:3", "schwab:4"]  # generated from spreadsheet rows
    warn = {w.code for w in ls.warnings}
    assert warn == {"preamble_skipped", "ignored_column", "ticker_normalized",
                    "date_order_inferred"}
    assert all(w.severity is Severity.WARNING for w in ls.warnings)
    (spelled,) = [w for w in ls.warnings if w.code == "ticker_normalized"]
    assert spelled.fix == "nothing to do; write 'BRK.B' to silence this"


def test_all_problems_reported_together_with_row_and_column(tmp_path):
    p = write(tmp_path, "bad.csv",
              "ticker,shares,acquired,cost_per_share\n"
              "AAPL,-3,2024-01-02,10\n"
              "MSFT,4,2024-02-30,abc\n"
              "ZZZZ,1,2027-01-01,5\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    got = {(i.code, i.row, i.column) for i in e.value.issues}
    assert got == {("non_positive_shares", 2, "shares"), ("unparsable_date", 3, "acquired"),
                   ("non_numeric", 3, "cost_per_share"), ("unknown_ticker", 4, "ticker"),
                   ("future_date", 4, "acquired")}
    msg = str(e.value)
    assert "bad.csv, row 2, column 'shares'" in msg and "Fix:" in msg
    assert "nothing was loaded" in msg


def test_per_share_basis_is_exact_to_the_cent(tmp_path):
    p = write(tmp_path, "l.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,3,2024-01-02,10.005\nAAPL,7,2024-01-03,0.1\n")
    df = lots(p).lots
    assert list(df.cost_total) == [30.02, 0.70]  # 30.015 rounds half up


def test_both_cost_columns_must_agree(tmp_path):
    p = write(tmp_path, "l.csv", "ticker,shares,acquired,cost_per_share,cost_total\n"
                                 "AAPL,10,2024-01-02,10.00,100.04\n"
                                 "AAPL,10,2024-01-02,10.00,150.00\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert [(i.code, i.row) for i in e.value.issues if i.severity is Severity.ERROR] == [
        ("basis_mismatch", 3)]
    # reviewer 1 (session 24): the computed figure, so the wrong cell shows itself
    assert ("10 x $10.00 = $100.00, the total says $150.00" in
            next(i.message for i in e.value.issues if i.code == "basis_mismatch"))


@pytest.mark.parametrize("dates, order, expect", [
    (["03/25/2024", "04/01/2024"], None, [dt.datetime(2024, 3, 25), dt.datetime(2024, 4, 1)]),
    (["25/03/2024", "04/01/2024"], None, [dt.datetime(2024, 3, 25), dt.datetime(2024, 1, 4)]),
    (["03/04/2024"], "DMY", [dt.datetime(2024, 4, 3)]),
    (["05/05/2024"], None, [dt.datetime(2024, 5, 5)]),  # same either way: not ambiguous
    (["Mar 5, 2024"], None, [dt.datetime(2024, 3, 5)]),
])
def test_date_forms(tmp_path, dates, order, expect):
    body = "".join(f"AAPL,1,{d},1\n" if "," not in d else f'AAPL,1,"{d}",1\n' for d in dates)
    p = write(tmp_path, "d.csv", "ticker,shares,acquired,cost_per_share\n" + body)
    assert list(lots(p, date_order=order).lots.acquired) == expect


@pytest.mark.parametrize("date, code", [
    ("03/04/2024", "ambiguous_date"), ("3/4/24", "ambiguous_date"),
    ("last spring", "unparsable_date"), ("Various", "unparsable_date"),
    ("2024-13-45", "unparsable_date"),
])
def test_bad_dates(tmp_path, date, code):
    p = write(tmp_path, "d.csv", f"ticker,shares,acquired,cost_per_share\nAAPL,1,{date},1\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert codes(e) == [code]


def test_mixed_date_orders_are_refused(tmp_path):
    p = write(tmp_path, "d.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,1,25/03/2024,1\nAAPL,1,03/25/2024,1\n")
    with pytest.raises(LotDataError, match="mixes day-first and month-first"):
        lots(p)


def test_encoding_delimiter_empty_and_header_only(tmp_path):
    latin = write(tmp_path, "l1.csv", "ticker,shares,acquired,cost_per_share,desc\n"
                                      "AAPL,1,2024-01-02,1,Soci\u00e9t\u00e9\n", "latin-1")
    semi = write(tmp_path, "l2.csv", "ticker;shares;acquired;cost_per_share\nAAPL;1;2024-01-02;1\n")
    empty = write(tmp_path, "l3.csv", "")
    head = write(tmp_path, "l4.csv", "ticker,shares,acquired,cost_per_share\n")
    for path, code in ((latin, "not_utf8"), (empty, "empty_file"), (head, "header_only")):
        with pytest.raises(LotDataError) as e:
            lots(path)
        assert codes(e) == [code]
    # an account with no positions (reviewer 1, session 25, #12): read as no lots with a
    # warning naming the file when the client has cash (load_client's empty_ok)
    got = lots(head, empty_ok=True)
    assert len(got) == 0 and list(got.lots.columns) == list(lots(semi, delimiter=";").lots)
    (w,) = got.warnings
    assert (w.code, w.file, w.row, w.severity) == ("header_only", str(head), 1,
                                                   Severity.WARNING)
    assert "read as an account with no positions" in w.message and "export" in w.fix
    for path in (latin, empty):  # not a header-only file: still an error
        with pytest.raises(LotDataError):
            lots(path, empty_ok=True)
    # the semicolon file loads when the delimiter is declared, and is detected (saying so)
    assert len(lots(semi, delimiter=";")) == 1
    got = lots(semi)
    assert len(got) == 1 and [w.code for w in got.warnings] == ["detected_delimiter"]
    bom = write(tmp_path, "l5.csv", "\ufeffticker,shares,acquired,cost_per_share\n"
                                    "AAPL,1,2024-01-02,1\n")
    assert len(lots(bom)) == 1


def test_missing_and_ambiguous_columns(tmp_path):
    p = write(tmp_path, "m.csv", "ticker,acquired,cost_per_share\nAAPL,2024-01-02,1\n")
    with pytest.raises(LotDataError, match="required column 'shares' is missing"):
        lots(p)
    p2 = write(tmp_path, "a.csv", "Symbol,Ticker,shares,acquired,cost_per_share\n"
                                  "AAPL,AAPL,1,2024-01-02,1\n")
    with pytest.raises(LotDataError) as e:
        lots(p2)
    assert codes(e) == ["ambiguous_column"]


def test_duplicate_lot_ids_and_accounts(tmp_path):
    p = write(tmp_path, "d.csv", "lot_id,account,ticker,shares,acquired,cost_per_share\n"
                                 "A,taxable,AAPL,1,2024-01-02,1\n"
                                 "A,ira,AAPL,1,2024-01-02,1\n"
                                 "B,joint,AAPL,1,2024-01-02,1\n")
    with pytest.raises(LotDataError) as e:
        lots(p, accounts=["taxable", "ira"])
    assert sorted((i.code, i.row) for i in e.value.issues) == [
        ("duplicate_lot_id", 3), ("unknown_account", 4)]


def test_ragged_rows_and_blank_required_cells(tmp_path):
    p = write(tmp_path, "r.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,1,2024-01-02,1,234.5\nMSFT,,2024-01-02,1\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert sorted((i.code, i.row) for i in e.value.issues) == [
        ("missing_value", 3), ("ragged_row", 2)]


def test_xlsx_custodian_layout_dates_and_totals(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Positions"
    ws.append(["Account Number", "Symbol", "Quantity", "Open Date", "Cost Basis"])
    ws.append(["XXXX-1234", "NVDA", 100, dt.datetime(2016, 3, 1), 1234.5])
    ws.append(["XXXX-1234", "MSFT", 10.5, dt.datetime(2025, 12, 1), 5000])
    p = tmp_path / "pos.xlsx"
    wb.save(p)
    ls = lots(p, accounts=["XXXX-1234"], default_account=None)
    assert list(ls.lots.account) == ["XXXX-1234"] * 2
    assert list(ls.lots.cost_total) == [1234.5, 5000.0]
    assert list(ls.lots.source_row) == [2, 3]


def test_xlsx_formula_and_merged_cells_are_refused(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ticker", "shares", "acquired", "cost_total"])
    ws.append(["AAPL", 10, dt.datetime(2020, 1, 2), "=10*12.5"])
    ws.append(["MSFT", 1, dt.datetime(2020, 1, 2), 10])
    ws.merge_cells("A5:B5")
    p = tmp_path / "f.xlsx"
    wb.save(p)
    with pytest.raises(LotDataError) as e:
        lots(p)
    got = {(i.code, i.row) for i in e.value.issues if i.severity is Severity.ERROR}
    assert ("excel_formula", 2) in got and ("excel_merged_cells", 5) in got
    formula = next(i for i in e.value.issues if i.code == "excel_formula")
    assert formula.column == "cost_total" and "Paste Special" in formula.fix


def test_to_ledger_round_trip(tmp_path):
    p = write(tmp_path, "l.csv", "lot_id,ticker,shares,acquired,cost_total,inherited\n"
                                 "A,AAPL,10,2024-01-02,1000.10,no\nB,MSFT,3,2020-05-01,300,yes\n")
    led = lots(p).to_ledger([Account("taxable")])
    got = {lt.lot_id: lt for lt in led.lots()}
    assert got["A"].basis == D("1000.10") and got["A"].shares == D(10)
    assert got["B"].inherited and got["B"].acquired == dt.date(2020, 5, 1)


def test_lots_frame_is_read_only(tmp_path):
    p = write(tmp_path, "l.csv", "ticker,shares,acquired,cost_total\nAAPL,10,2024-01-02,1000\n")
    df = lots(p).lots
    with pytest.raises(ValueError):
        df.shares.to_numpy()[0] = 5.0


def test_blotter_reading_and_errors(tmp_path):
    head = "date,account,account_type,ticker,side,shares,price,lot_id,method\n"
    p = write(tmp_path, "t.csv", head +
                                 "2026-07-01,T,taxable,AAPL,buy,10,100,,\n"
                                 "2026-07-10,T,taxable,AAPL,SELL,4,90,,hifo\n")
    b = read_blotter(p, known=KNOWN)
    assert [t.side.value for t in b.trades] == ["buy", "sell"]
    assert b.trades[1].method.value == "hifo" and b.trades[1].row == 3
    assert [a.account_id for a in b.accounts] == ["T"]
    bad = write(tmp_path, "b.csv", "date,account,account_type,ticker,side,shares,price\n"
                                   "2026-07-01,T,taxable,AAPL,hold,10,100\n"
                                   "2026-07-02,T,ira,AAPL,buy,10,-1\n")
    with pytest.raises(BlotterError) as e:
        read_blotter(bad, known=KNOWN)
    assert sorted((i.code, i.row) for i in e.value.issues) == [
        ("inconsistent_account_type", 3), ("invalid_value", 2), ("negative_price", 3)]


# ------------------------------------------------------------------ issue 11: numbers
@pytest.mark.parametrize("cell, code", [
    ("inf", "non_finite"), ("-Infinity", "non_finite"), ("NaN", "non_finite"),
    ("1e308", "out_of_range"), ("9" * 400, "out_of_range"), ("1e-7", "out_of_range"),
    ("2e9", "out_of_range"),
])
def test_non_finite_and_absurd_share_counts_name_the_cell(tmp_path, cell, code):
    p = write(tmp_path, "n.csv", f"ticker,shares,acquired,cost_per_share\n"
                                 f"MSFT,4,2024-02-01,10\nAAPL,{cell},2024-01-02,10\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    [i] = [i for i in e.value.issues if i.severity is Severity.ERROR]
    assert (i.code, i.row, i.column) == (code, 3, "shares")
    assert len(i.value) <= 43  # a 400-digit cell is echoed cut short


@pytest.mark.parametrize("column, cell", [
    ("cost_per_share", "$inf"), ("cost_per_share", "1e8"), ("cost_total", "(NaN)"),
    ("cost_total", "1e13"),
])
def test_non_finite_and_absurd_costs(tmp_path, column, cell):
    p = write(tmp_path, "c.csv", f"ticker,shares,acquired,{column}\nAAPL,10,2024-01-02,{cell}\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert [(i.code, i.column) for i in e.value.issues] == [
        ("non_finite" if "n" in cell.lower() else "out_of_range", column)]


def test_a_product_beyond_a_trillion_dollars_is_refused(tmp_path):
    p = write(tmp_path, "c.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,900000000,2024-01-02,100000\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert codes(e) == ["out_of_range"]


def test_blotter_numbers_are_checked_before_the_ledger_sees_them(tmp_path):
    head = "date,account,account_type,ticker,side,shares,price,fees\n"
    p = write(tmp_path, "t.csv", head + "2026-07-01,T,taxable,AAPL,buy,10,1e308,0\n"
                                        "2026-07-02,T,taxable,AAPL,buy,inf,100,0\n"
                                        "2026-07-03,T,taxable,AAPL,buy,10,100,NaN\n"
                                        '2026-07-06,T,taxable,AAPL,buy,"1,000",100,0\n')
    with pytest.raises(BlotterError) as e:
        read_blotter(p, known=KNOWN)
    assert sorted((i.code, i.row, i.column) for i in e.value.issues) == [
        ("ambiguous_number", 5, "shares"), ("non_finite", 3, "shares"),
        ("non_finite", 4, "fees"), ("out_of_range", 2, "price")]


# ------------------------------------------------------------------ issue 11: basis vs market
# closes of the packaged data: AAPL 41.90 on 2019-03-04, KO 61.94 on 2024-11-04


def test_cost_per_share_far_from_the_close_names_the_row_and_the_close(tmp_path):
    p = write(tmp_path, "m.csv", "ticker,shares,acquired,cost_per_share\n"
                                 'AAPL,50,2019-03-04,"41,900"\nKO,100,2024-11-04,61.94\n'
                                 "KO,100,2024-11-04,2.50\n")
    with pytest.raises(LotDataError) as e:
        lots(p, market="market")
    first, second = [i for i in e.value.issues if i.severity is Severity.ERROR]
    assert (first.code, first.row, first.column, first.value) == (
        "basis_vs_market", 2, "cost_per_share", "41,900")
    assert "1,000 times the AAPL close of $41.90 on 2019-03-04" in first.message
    assert "41,900 for 41.90" in first.fix
    assert (second.code, second.row) == ("basis_vs_market", 4)
    assert "1/25 of the KO close of $61.94" in second.message


def test_thousands_separators_are_accepted_where_the_close_resolves_them(tmp_path):
    totals = write(tmp_path, "t.csv", "ticker,shares,acquired,cost_total\n"
                                      'AAPL,"1,500",2019-03-04,"62,850"\n'
                                      'KO,100,2024-11-04,"6,194"\n')
    ls = lots(totals, market="market")
    assert list(ls.lots.shares) == [1500.0, 100.0]
    assert list(ls.lots.cost_total) == [62850.0, 6194.0] and ls.warnings == ()
    # nothing resolves them without market data
    with pytest.raises(LotDataError) as e:
        lots(totals, market=None)
    assert sorted((i.code, i.row, i.column) for i in e.value.issues) == [
        ("ambiguous_number", 2, "cost_total"), ("ambiguous_number", 2, "shares"),
        ("ambiguous_number", 3, "cost_total")]
    # a per-share cost does not tell 1,500 shares from 1.5
    per_share = write(tmp_path, "p.csv", "ticker,shares,acquired,cost_per_share\n"
                                         'AAPL,"1,500",2019-03-04,41.90\n')
    with pytest.raises(LotDataError) as e:
        lots(per_share, market="market")
    assert [(i.code, i.column) for i in e.value.issues] == [("ambiguous_number", "shares")]
    # unambiguous separators need no check at all
    plain = write(tmp_path, "u.csv", "ticker,shares,acquired,cost_total\n"
                                     'AAPL,"1,500.5",2019-03-04,"62,870.95"\n')
    assert list(lots(plain, market=None).lots.shares) == [1500.5]


def test_lots_older_than_the_market_data_need_the_profile_opt_in(tmp_path):
    p = write(tmp_path, "o.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "KO,100,1995-06-01,10.00\nKO,100,2024-11-04,61.94\n")
    with pytest.raises(LotDataError) as e:
        lots(p, market="market")
    [i] = e.value.issues
    assert (i.code, i.row, i.column) == ("before_market_data", 2, "acquired")
    assert "2000-01-03" in i.message and "allow_before_market_data" in i.fix
    ls = lots(p, market="market", policy=ReadPolicy(allow_before_market_data=True))
    assert len(ls) == 2 and [(w.code, w.row) for w in ls.warnings] == [
        ("before_market_data", 2)]


def test_a_lot_dated_before_its_first_close_is_loaded_with_a_warning(tmp_path):
    # AbbVie was spun off from Abbott on 2013-01-02; a spun-off lot keeps the parent's date
    p = write(tmp_path, "s.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "ABBV,100,2008-05-01,30.00\nABBV,10,2008-05-01,30.00\n")
    ls = lots(p, market="market", known=None)
    [w] = ls.warnings
    assert (w.code, w.row, w.severity) == ("basis_unchecked", 2, Severity.WARNING)
    assert "2 lots" in w.message and "2013-01-02" in w.message


@pytest.mark.parametrize("date", ["1899-12-31", "1899-12-30", "0001-01-01", "01/01/0001",
                                  "Jan 01, 0001", "2101-01-01"])
def test_dates_outside_1900_to_2100_are_errors_not_tracebacks(tmp_path, date):
    body = f'AAPL,1,"{date}",1\n'
    p = write(tmp_path, "d.csv", "ticker,shares,acquired,cost_per_share\n" + body)
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert codes(e) == ["out_of_range"]
    blot = write(tmp_path, "b.csv", "date,account,account_type,ticker,side,shares,price\n"
                                    f'"{date}",T,taxable,AAPL,buy,1,1\n')
    with pytest.raises(BlotterError) as e:
        read_blotter(blot, known=KNOWN)  # no as-of date: the bound still holds
    assert codes(e) == ["out_of_range"]


# ------------------------------------------------------------------ issue 11: encodings
@pytest.mark.parametrize("codec, name", [
    ("utf-16-le", "UTF-16 little-endian"), ("utf-16-be", "UTF-16 big-endian"),
    ("utf-32-le", "UTF-32 little-endian"), ("utf-32-be", "UTF-32 big-endian"),
])
def test_utf16_and_utf32_without_bom_are_named(tmp_path, codec, name):
    p = write(tmp_path, "w.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,1,2024-01-02,1\n", codec)
    with pytest.raises(LotDataError) as e:
        lots(p)
    [i] = e.value.issues
    assert i.code == "not_utf8" and name in i.message and "UTF-8" in i.fix


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])  # Python writes a BOM for these
def test_utf16_and_utf32_with_bom_load(tmp_path, codec):
    p = write(tmp_path, "w.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,1,2024-01-02,1\n", codec)
    assert list(lots(p).lots.ticker) == ["AAPL"]


def test_binary_data_is_not_read_as_text(tmp_path):
    p = tmp_path / "b.csv"
    p.write_bytes(b"ticker,shares,acquired,cost_per_share\nAAPL,1,2024\x00\x07\x91,1\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert [(i.code, i.row) for i in e.value.issues] == [("unreadable_file", 2)]


# ------------------------------------------------------------------ issue 11: workbooks
def _workbook(path: Path) -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ticker", "shares", "acquired", "cost_per_share", "note"])
    ws.append(["AAPL", 10, dt.datetime(2020, 1, 2), 75.0])
    ws.append(["MSFT", 5, dt.datetime(2020, 1, 2), 150.0, "sold in 2023"])
    ws.append(["NVDA", 5, dt.datetime(2020, 1, 2), 6.0])
    return wb


def test_hidden_rows_columns_and_sheets_are_errors_unless_the_profile_opts_in(tmp_path):
    wb = _workbook(tmp_path)
    ws = wb.active
    ws.row_dimensions[3].hidden = True
    ws.column_dimensions["E"].hidden = True
    wb.create_sheet("Old lots").sheet_state = "veryHidden"
    wb["Old lots"].append(["ticker"])
    p = tmp_path / "h.xlsx"
    wb.save(p)
    with pytest.raises(LotDataError) as e:
        lots(p)
    got = {(i.code, i.row, i.column) for i in e.value.issues if i.severity is Severity.ERROR}
    assert got == {("excel_hidden", 3, None), ("excel_hidden", 1, "note"),
                   ("excel_hidden", None, None)}
    assert all("lots.allow_hidden" in i.fix for i in e.value.issues if i.code == "excel_hidden")
    ls = lots(p, policy=ReadPolicy(allow_hidden=True))
    assert list(ls.lots.ticker) == ["AAPL", "MSFT", "NVDA"]  # the hidden row is read
    assert sum(w.code == "excel_hidden" for w in ls.warnings) == 3


def test_empty_hidden_rows_and_columns_do_not_matter(tmp_path):
    wb = _workbook(tmp_path)
    wb.active.row_dimensions[20].hidden = True
    wb.active.column_dimensions["H"].hidden = True
    p = tmp_path / "e.xlsx"
    wb.save(p)
    assert len(lots(p)) == 3


def test_an_old_xls_workbook_under_an_xlsx_name_is_named(tmp_path):
    p = tmp_path / "old.xlsx"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4088))
    with pytest.raises(LotDataError) as e:
        lots(p)
    [i] = e.value.issues
    assert i.code == "unreadable_file" and "97-2003" in i.message and "save it as .xlsx" in i.fix


def test_a_csv_under_an_xlsx_name_is_named_as_csv_text(tmp_path):
    """A CSV renamed .xlsx: on main the issue said "cannot be opened as an Excel workbook
    (BadZipFile)"; now it says the file is CSV text and to rename it."""
    p = write(tmp_path, "lots.xlsx", "ticker,acquired,shares,cost_total\n"
              "AAPL,2024-01-02,10,1800\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    [i] = e.value.issues
    assert i.code == "unreadable_file" and "BadZipFile" not in i.message
    assert "plain text, not an Excel workbook: it looks like CSV" in i.message
    assert "rename it to .csv" in i.fix


def test_a_missing_columns_fix_reads_as_a_definition(tmp_path):
    """The fix named the column "holding trade date the lot was acquired" on main."""
    p = write(tmp_path, "l.csv", "Symbol,Qty,Purchased\nAAPL,10,2020-01-02\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    [i] = [i for i in e.value.issues if i.column == "acquired"]
    assert "holding" not in i.fix
    assert i.fix.endswith("date acquired, acquired date, open date): trade date the lot was "
                          "acquired (YYYY-MM-DD preferred)")


# ------------------------------------------------ session 13: a missing column hides nothing
def test_missing_cost_column_still_lists_the_row_problems_of_an_xlsx_lots_file(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Symbol", "Quantity", "Acquired"])
    ws.append(["AAPL", 10, "2022-02-30"])
    ws.append(["MSFT", 5, "yesterday"])
    ws.append(["KO", -3, "2021-03-04"])
    p = tmp_path / "nocost.xlsx"
    wb.save(p)
    with pytest.raises(LotDataError) as e:
        lots(p)
    got = {(i.row, i.column, i.code) for i in e.value.issues if i.severity is Severity.ERROR}
    assert (1, "cost basis", "missing_column") in got
    assert {r for r, c, _ in got if c == "Acquired"} == {2, 3}  # 2022-02-30, yesterday
    assert (4, "Quantity", "non_positive_shares") in got
    # the missing column is reported once, never once per row
    assert sum(1 for i in e.value.issues if i.column == "cost basis") == 1
    assert str(p) in str(e.value) and "4 problems" in str(e.value)


def test_blotter_without_price_still_lists_a_negative_share_count(tmp_path):
    # a buy's: a sale's negative quantity is its shares, as activity exports write it
    p = write(tmp_path, "noprice.csv", "date,account,account_type,ticker,side,shares\n"
                                       "2026-07-01,T,taxable,AAPL,buy,10\n"
                                       "2026-07-02,T,taxable,AAPL,buy,-5\n")
    with pytest.raises(BlotterError) as e:
        read_blotter(p, known=KNOWN)
    got = sorted((i.row, i.column, i.code) for i in e.value.issues
                 if i.severity is Severity.ERROR)
    assert got == [(1, "price", "missing_column"), (3, "shares", "non_positive_shares")]


# ------------------------------------- session 13: semicolon CSVs with decimal commas
EU = ("Symbol;Quantity;Acquired;Unit Cost;Cost Basis\n"
      "AAPL;10;2024-01-02;185,64;1.856,40\n"
      "MSFT;1.500;2024-01-02;370,87;556.305,00\n"
      "KO;3;2024-01-02;59,5;178,50\n")


def test_a_semicolon_export_with_decimal_commas_loads_and_says_what_was_detected(tmp_path):
    p = write(tmp_path, "eu.csv", EU)
    got = lots(p)
    assert got.lots["shares"].tolist() == [10, 1500, 3]
    assert got.lots["cost_total"].tolist() == [1856.40, 556305.00, 178.50]
    assert got.lots["cost_per_share"].round(2).tolist() == [185.64, 370.87, 59.50]
    warn = {w.code: w for w in got.warnings}
    assert set(warn) == {"detected_delimiter", "decimal_comma", "one_group_number"}
    assert "read with ';' as the delimiter" in warn["detected_delimiter"].message
    dec = warn["decimal_comma"]
    assert (dec.row, dec.column, dec.value) == (2, "Unit Cost", "185,64")  # the cell as written
    # "1.500" shares is 1500 in this file and 1.5 in another: the cell is named, not guessed
    # ("1.856,40" and "556.305,00" show their decimal mark: not named)
    (dot,) = [w for w in got.warnings if w.code == "one_group_number"]
    assert (dot.row, dot.column, dot.value) == (3, "Quantity", "1.500")
    assert "'1.500' was read as 1500" in dot.message
    assert "if it means 1.5 write 1,500 (with decimal commas)" in dot.fix
    # the same file declared with lots.delimiter = ";" reads the same, without the first note
    declared = lots(p, delimiter=";")
    assert [w.code for w in declared.warnings] == ["decimal_comma", "one_group_number"]
    assert declared.lots["cost_total"].tolist() == [1856.40, 556305.00, 178.50]


def test_a_decimal_comma_file_names_each_one_group_number_and_never_reads_0_500_as_500(
        tmp_path):
    # review 14 M1/L1-L3: "1,500" is 1.5 here (named: 1500 in a file of points); "1.500.000"
    # can only be a million (not named); "0.500" cannot be a thousands group
    p = write(tmp_path, "eu.csv", "Symbol;Quantity;Acquired;Unit Cost\n"
                                  "AAPL;10;2024-01-02;185,64\n"
                                  "MSFT;1,500;2024-01-02;370,87\n"
                                  "KO;1.500.000;2024-01-02;59,5\n")
    got = lots(p)
    assert got.lots["shares"].tolist() == [10, 1.5, 1_500_000]
    (one,) = [w for w in got.warnings if w.code == "one_group_number"]
    assert (one.row, one.column, one.value) == (3, "Quantity", "1,500")
    assert "'1,500' was read as 1.5" in one.message
    assert "if it means 1500 write 1500 (no thousands separator)" in one.fix
    for zero in ("0.500", "00.300"):
        bad = write(tmp_path, "z.csv", "Symbol;Quantity;Acquired;Unit Cost\n"
                                       "AAPL;10;2024-01-02;185,64\n"
                                       f"MSFT;{zero};2024-01-02;370,87\n"
                                       "KO;3;2024-01-02;59,5\n")
        with pytest.raises(LotDataError) as e:
            lots(bad)
        # one error: no cell of the other convention also called "not a number"
        (i,) = [i for i in e.value.issues if i.severity is Severity.ERROR]
        assert i.code == "mixed_decimal_marks" and i.value == zero


def test_a_decimal_comma_file_refuses_misgrouped_numbers_as_written(tmp_path):
    """Review 14 L6: "1.2.3" read as 123 and "12.34,5" as 1234.5 without a word; "1,2,3"
    was "not a number" quoting the rewritten '1.2.3' with a fix for decimal points. Each
    is now an error quoting the cell as written, with the file's own convention."""
    p = write(tmp_path, "eu.csv", "Symbol;Quantity;Acquired;Unit Cost\n"
                                  "AAPL;1.2.3;2024-01-02;185,64\n"
                                  "MSFT;1,2,3;2024-01-02;370,87\n"
                                  "KO;12.34,5;2024-01-02;59,5\n"
                                  "ABBV;1 234;2024-01-02;1.234,5\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    bad = [(i.row, i.column, i.code, i.value) for i in e.value.issues
           if i.severity is Severity.ERROR]
    assert bad == [(2, "Quantity", "non_numeric", "1.2.3"),
                   (3, "Quantity", "non_numeric", "1,2,3"),
                   (4, "Quantity", "non_numeric", "12.34,5")]
    i = next(i for i in e.value.issues if i.value == "1,2,3")
    assert "decimal comma" in i.fix and "1.234,56" in i.fix and "1,234.56" not in i.fix


def test_a_semicolon_blotter_with_decimal_commas_loads(tmp_path):
    p = write(tmp_path, "t.csv", "date;account;account_type;ticker;side;shares;price;fees\n"
                                 "2026-07-01;T;taxable;AAPL;buy;10;201,5;1,25\n")
    b = read_blotter(p, known=KNOWN)
    (t,) = b.trades
    assert (t.shares, t.price, t.fees) == (D("10.0"), D("201.5"), D("1.25"))
    assert {w.code for w in b.warnings} == {"detected_delimiter", "decimal_comma"}


def test_mixed_decimal_marks_and_undecided_dot_groups_are_errors(tmp_path):
    mixed = write(tmp_path, "m.csv", "ticker;shares;acquired;cost_per_share\n"
                                     "AAPL;10;2024-01-02;185,64\n"
                                     "KO;3;2024-01-02;59.5\n")
    with pytest.raises(LotDataError) as e:
        lots(mixed)
    (i,) = [i for i in e.value.issues if i.severity is Severity.ERROR]
    assert i.code == "mixed_decimal_marks" and (i.row, i.value) == (3, "59.5")  # the later cell
    assert "row 2, column 'cost_per_share': '185,64'" in i.message
    # "1.500" with nothing in the file showing its decimal mark: 1.5 or 1500? refused
    undecided = write(tmp_path, "u.csv", "ticker;shares;acquired;cost_total\n"
                                         "AAPL;1.500;2024-01-02;1000\n")
    with pytest.raises(LotDataError) as e:
        lots(undecided)
    assert codes(e) == ["ambiguous_number"]
    assert (e.value.issues[-1].row, e.value.issues[-1].column) == (2, "shares")


def test_an_unrecognisable_semicolon_file_is_refused_with_a_fix_that_exists(tmp_path):
    p = write(tmp_path, "x.csv", "foo;bar\n1;2\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    (i,) = e.value.issues
    assert i.code == "wrong_delimiter" and "--delimiter" not in i.fix
    assert "comma-separated CSV" in i.fix


def test_a_roth_or_traditional_blotter_account_is_an_ira(tmp_path):
    p = write(tmp_path, "t.csv", "date,account,account_type,ticker,side,shares,price\n"
                                 "2026-07-01,R,Roth IRA,AAPL,buy,10,100\n"
                                 "2026-07-01,R,roth,AAPL,buy,1,100\n"
                                 "2026-07-01,I,traditional,KO,buy,10,60\n"
                                 "2026-07-01,T,taxable,KO,buy,10,60\n")
    b = read_blotter(p, known=KNOWN)
    assert {a.account_id: a.account_type.value for a in b.accounts} == {
        "I": "ira", "R": "ira", "T": "taxable"}
    bad = write(tmp_path, "b.csv", "date,account,account_type,ticker,side,shares,price\n"
                                   "2026-07-01,R,roth,AAPL,buy,10,100\n"
                                   "2026-07-02,R,traditional,AAPL,buy,10,100\n"
                                   "2026-07-02,X,401k,AAPL,buy,10,100\n")
    with pytest.raises(BlotterError) as e:
        read_blotter(bad, known=KNOWN)
    got = {(i.row, i.code): i for i in e.value.issues}
    assert set(got) == {(3, "inconsistent_account_type"), (4, "invalid_value")}
    assert "a roth IRA on an earlier row" in got[3, "inconsistent_account_type"].message
    assert "a Roth IRA is an ira" in got[4, "invalid_value"].fix


def test_lots_validate_says_what_was_detected_in_a_semicolon_export(tmp_path, capsys):
    from pma_lab.app.cli import main
    from pma_lab.paths import bad_inputs_dir

    p = write(tmp_path, "eu.csv", EU)
    assert main(["lots", "validate", str(p), "--profile",
                 str(bad_inputs_dir() / "base_profile.toml")]) == 0
    got = capsys.readouterr()
    out = got.out + got.err  # the summary on stdout, the warnings on stderr
    # the three readings, and the file's lots booked to the default account though the
    # profile declares an IRA too (no account column)
    assert "OK: 3 lots" in out and "4 warning(s)" in out
    assert "booked to the default account 'taxable'" in out
    assert "read with ';' as the delimiter" in out
    assert "row 3, column 'Quantity': warning: '1.500' was read as 1500" in out
    assert "row 2, column 'Unit Cost': warning:" in out and "(value: '185,64')" in out


def test_a_renamed_or_unpriced_ticker_is_named_with_its_row_among_the_other_problems(
        tmp_path):
    """Reviewer 1 (session 22): FB in a lots file stopped the run later with "no price
    series for FB" alone (no file, row or column, and the file's other problems unseen)."""
    from pma_lab.market.data import load_market
    from pma_lab.market.tickers import IdentityTable

    m, former = load_market(), IdentityTable.default().former
    unpriced = sorted(t for t in m.universe.tickers
                      if t not in m.prices and t not in m.etfs and t not in former)[0]
    p = write(tmp_path, "r.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,10,2020-03-02,70.00\nFB,20,2021-05-03,320.00\n"
                                 f"{unpriced},5,2021-05-03,20.00\nKO,-3,2021-05-03,50.00\n")
    with pytest.raises(LotDataError) as e:
        lots(p, market="market", known="market")
    got = {i.code: i for i in e.value.issues}
    assert set(got) == {"renamed_ticker", "no_prices", "non_positive_shares"}
    fb = got["renamed_ticker"]
    assert (fb.row, fb.column, fb.value) == (3, "ticker", "FB")
    assert "FB now trades as META" in fb.message and fb.fix.startswith("write META")
    assert (got["no_prices"].row, got["no_prices"].column) == (4, "ticker")
    assert f"no prices for {unpriced}" in got["no_prices"].message


def test_a_lot_pasted_twice_is_loaded_with_a_warning_naming_both_rows(tmp_path):
    """Reviewer 1 (session 22): identical rows loaded silently as two lots."""
    p = write(tmp_path, "d.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "KO,50,2016-05-02,40.15\nAAPL,10,2020-03-02,70.00\n"
                                 "KO,50,2016-05-02,40.15\nKO,50,2016-05-02,40.16\n")
    ls = lots(p)
    assert len(ls) == 4  # nothing dropped
    [w] = [w for w in ls.warnings if w.code == "same_lot_twice"]
    assert (w.row, w.column, w.severity) == (2, "ticker", Severity.WARNING)
    assert w.message.startswith("rows 2 and 4 are the same lot in every column (KO, 50 "
                                "shares acquired 2016-05-02 for $2,007.50")
    assert "lot ids" in w.fix
    ids = write(tmp_path, "i.csv", "lot_id,ticker,shares,acquired,cost_per_share\n"
                                   "a,KO,50,2016-05-02,40.15\nb,KO,50,2016-05-02,40.15\n")
    assert not [w for w in lots(ids).warnings if w.code == "same_lot_twice"]


def test_a_file_without_an_account_column_says_which_account_its_lots_went_to(tmp_path):
    """Reviewer 1 (session 22): an IRA's workbook without an account column was booked to
    the taxable default account without a word, though the profile declares the IRA."""
    p = write(tmp_path, "ira.csv", "ticker,shares,acquired,cost_per_share\n"
                                   "KO,50,2016-05-02,40.15\nAAPL,10,2020-03-02,70.00\n")
    ls = lots(p, default_account="joint", accounts=["joint", "ira"])
    [w] = [w for w in ls.warnings if w.code == "default_account_used"]
    assert (w.row, w.column, w.value, w.severity) == (1, "account", "joint", Severity.WARNING)
    assert "all 2 of its lot rows are booked to the default account 'joint'" in w.message
    assert "also declares 'ira'" in w.message and "add an 'account' column" in w.fix
    assert set(ls.lots.account) == {"joint"}  # still booked as the profile says
    one = lots(p, default_account="joint", accounts=["joint"])
    assert not [w for w in one.warnings if w.code == "default_account_used"]


def test_an_option_or_a_cusip_row_is_named_as_such_with_its_fix(tmp_path):
    """Reviewer 1 (session 22): an option row and a Treasury note by CUSIP were told to
    "put the exchange ticker"; they have none (or the CUSIP stands for one)."""
    p = write(tmp_path, "o.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,10,2020-03-02,70.00\n"
                                 '"AAPL 01/15/2027 350.00 C",2,2026-01-05,12.00\n'
                                 "912828YK0,10,2021-05-03,99.00\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    got = {i.row: i for i in e.value.issues if i.code == "invalid_ticker"}
    assert got[3].message == "this is an option contract"
    assert got[3].fix.startswith("pma_lab manages stock and fund lots only: delete the row")
    assert got[4].message == "this is a CUSIP, not a ticker"
    assert got[4].fix.startswith("if it is a stock or fund, write its ticker instead")


def test_an_option_or_a_cusip_row_reads_one_error_not_its_follow_ons(tmp_path):
    """Reviewer 2 (session 22, 10): an option row (a short call, a blank cost) and a CUSIP
    row also read "shares must be greater than zero" and "the cost basis is blank": the
    fix is to delete the row, so its other cells are not checked."""
    p = write(tmp_path, "o.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,10,2020-03-02,70.00\n"
                                 '"AAPL 01/15/2027 350.00 C",-2,2026-01-05,1200.00\n'
                                 "-AAPL270115C350,2,31/31/2026,\n"
                                 "912828YK0,10000,2021-05-03,\n"
                                 "KO,-5,2016-05-02,40.15\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    got = [(i.row, i.column, i.code) for i in e.value.issues if i.severity is Severity.ERROR]
    assert got == [(3, "ticker", "invalid_ticker"), (4, "ticker", "invalid_ticker"),
                   (5, "ticker", "invalid_ticker"), (6, "shares", "non_positive_shares")]


def test_a_day_month_date_read_month_first_says_the_date_order_is_the_cause(tmp_path):
    """Reviewer 1 (session 22, F4): 13/02/2021 with lots.date_order MDY read "not a calendar
    date. Fix: check the month and day"; it names the order set and the other one's fix."""
    p = write(tmp_path, "d.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "KO,50,13/02/2021,40.15\nKO,50,02/30/2021,40.15\n")
    with pytest.raises(LotDataError) as e:
        lots(p, date_order="MDY")
    first, second = e.value.issues
    assert (first.row, first.column, first.value) == (2, "acquired", "13/02/2021")
    assert "read as month/day/year" in first.message and "reads as day/month/year" in \
        first.message
    assert first.fix.startswith('if the file writes day/month/year dates, set '
                                'lots.date_order = "DMY"')
    assert (second.row, second.message) == (3, "the acquisition date is not a calendar date")


def test_an_account_cell_with_the_accounts_name_says_which_id_to_write(tmp_path):
    """Reviewer 1 (session 22): "Joint Brokerage" (the profile's name of 'joint') read "the
    account is not declared" on every row."""
    p = write(tmp_path, "a.csv", "account,ticker,shares,acquired,cost_per_share\n"
                                 "Joint Brokerage,KO,50,2016-05-02,40.15\n"
                                 "joint brokerage ,AAPL,10,2020-03-02,70.00\n"
                                 "savings,AAPL,10,2020-03-02,70.00\n")
    with pytest.raises(LotDataError) as e:
        lots(p, accounts=["joint", "ira"], account_aliases={"Joint Brokerage": "joint",
                                                            "XXXX-4821": "joint"})
    got = {i.row: i for i in e.value.issues if i.code == "unknown_account"}
    assert got[2].message == ("'Joint Brokerage' is how the profile names account 'joint', "
                              "not its id")
    assert got[2].fix.startswith("write joint") and 3 in got
    assert got[4].message.startswith("the account is not declared in the profile")


def test_a_zero_basis_in_both_cost_columns_warns_once():
    """Reviewer 1 (session 22): a gift lot with $0 per share and $0 total warned twice."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = write(Path(d), "z.csv", "ticker,shares,acquired,cost_per_share,cost_total\n"
                                    "KO,50,2016-05-02,0,0\nAAPL,10,2020-03-02,70.00,700.00\n")
        ws = [w for w in lots(p).warnings if w.code == "zero_basis"]
    assert [(w.row, w.column) for w in ws] == [(2, "cost_per_share")]


def test_a_lot_id_a_file_gives_twice_across_files_names_the_other_row_and_the_fix(tmp_path):
    """An id a file gives itself is never changed: the clash names the other file's row,
    its account and how to make the ids unique (it said "used in more than one file")."""
    a = write(tmp_path, "a.csv", "account,lot_id,ticker,shares,acquired,cost_per_share\n"
                                 "taxable,1,KO,50,2016-05-02,40.15\n")
    b = write(tmp_path, "b.csv", "account,lot_id,ticker,shares,acquired,cost_per_share\n"
                                 "ira,1,KO,5,2016-05-02,40.15\n")
    with pytest.raises(LotDataError) as e:
        lots(a).concat(lots(b))
    first, second = e.value.issues
    assert (first.file, first.row, first.code) == (str(a), 2, "duplicate_lot_id")
    assert first.message.startswith(f"the lot id is also used in {b}, row 2 (account ira)")
    assert first.fix.startswith("rename one of the two (e.g. put the account first: "
                                "taxable-1)")
    assert second.message.startswith(f"the lot id is also used in {a}, row 2 (account "
                                     "taxable)")

# ----------------------------------------------------------------- gift lots (reviewer F22)
GIFT_LOTS = ("Symbol,Quantity,Date Acquired,Cost Basis,Date of Gift,FMV at Gift\n"
             "KO,100,2010-01-04,10000,2026-03-02,8000\n"      # FMV below the donor's basis
             "KO,50,2012-05-01,2000,2026-03-02,3000\n"        # FMV above it
             "KO,10,2016-06-01,400,,\n")                      # not a gift


def _gift_ledger(tmp_path):
    from pma_lab.tax.ledger import Ledger

    ls = lots(write(tmp_path, "gifts.csv", GIFT_LOTS), as_of=dt.date(2026, 7, 1))
    return ls, ls.to_ledger([Account("taxable")], Ledger([Account("taxable")]))


def test_gift_columns_are_read_by_custodian_headers_and_carried_as_a_dual_basis(tmp_path):
    """Reviewer F22: a lots file could not say a lot was a gift (IRC §1015, Pub 551)."""
    ls, led = _gift_ledger(tmp_path)
    assert not [w for w in ls.warnings if w.code == "ignored_column"]
    df = ls.lots
    assert [None if pd.isna(x) else pd.Timestamp(x).date() for x in df.gift_date] == \
        [dt.date(2026, 3, 2), dt.date(2026, 3, 2), None]
    assert df.fmv_at_gift.iloc[:2].tolist() == [8000.0, 3000.0] and np.isnan(
        df.fmv_at_gift.iloc[2])
    by_id = {lt.lot_id: lt for lt in led.lots()}
    below, above, bought = (by_id[f"gifts:{r}"] for r in (2, 3, 4))
    # gain basis: the donor's; loss basis: the FMV when lower; holding period: the donor's
    assert (below.basis, below.loss_basis, below.acquired, below.gift_date) == (
        D(10000), D(8000), dt.date(2010, 1, 4), dt.date(2026, 3, 2))
    assert (above.basis, above.loss_basis, above.gift_date) == (D(2000), None,
                                                                dt.date(2026, 3, 2))
    assert (bought.loss_basis, bought.gift_date) == (None, None)


@pytest.mark.parametrize("price, gain, acquired, term", [
    (D(120), D(2000), dt.date(2010, 1, 4), "LT"),   # above the donor's basis: gain, tacked
    (D(70), D(-1000), dt.date(2026, 3, 2), "ST"),   # below the FMV: loss from it, from the gift
    (D(90), D(0), dt.date(2010, 1, 4), "LT"),       # in between: neither gain nor loss
])
def test_a_gift_lot_sold_gives_the_pub_551_gain_loss_or_neither(tmp_path, price, gain,
                                                                  acquired, term):
    """Pub 551's example (tax doc GF-1: donor's basis 10,000, FMV 8,000) from a lots file."""
    _ls, led = _gift_ledger(tmp_path)
    led.sell(dt.date(2026, 6, 1), "taxable", "KO", D(100), price, method=LotRelief.SPECIFIC,
             lot_id="gifts:2")
    r = led.dispositions(as_decimal=True).iloc[0]
    assert (r.gain_loss, r.date_acquired, r.term) == (gain, acquired, term)


@pytest.mark.parametrize("sold, term", [(dt.date(2027, 3, 2), "ST"), (dt.date(2027, 3, 3), "LT")])
def test_a_loss_from_the_fmv_at_the_gift_is_held_from_the_gift(tmp_path, sold, term):
    """Pub 551: with the FMV as basis the holding period starts the day after the gift."""
    _ls, led = _gift_ledger(tmp_path)
    led.sell(sold, "taxable", "KO", D(100), D(70), method=LotRelief.SPECIFIC, lot_id="gifts:2")
    r = led.dispositions(as_decimal=True).iloc[0]
    assert (r.gain_loss, r.term) == (D(-1000), term)


def test_a_gift_lot_whose_fmv_was_above_the_donors_basis_keeps_the_donors_basis(tmp_path):
    _ls, led = _gift_ledger(tmp_path)
    led.sell(dt.date(2026, 6, 1), "taxable", "KO", D(50), D(30), method=LotRelief.SPECIFIC,
             lot_id="gifts:3")
    r = led.dispositions(as_decimal=True).iloc[0]
    assert (r.gain_loss, r.date_acquired, r.term) == (D(-500), dt.date(2012, 5, 1), "LT")


def test_gift_columns_errors_name_row_column_and_fix(tmp_path):
    p = write(tmp_path, "bad.csv",
              "ticker,shares,acquired,cost_total,gift_date,fmv_at_gift,inherited\n"
              "KO,100,2015-06-01,4000,2024-03-01,,no\n"        # FMV missing
              "KO,10,2016-06-01,400,,350,no\n"                 # gift date missing
              "KO,10,2016-06-01,400,2014-01-02,350,no\n"       # gift before the donor's date
              "KO,10,2016-06-01,400,2024-03-01,-5,no\n"        # negative FMV
              "KO,10,2016-06-01,400,2024-03-01,350,yes\n")     # inherited and a gift
    with pytest.raises(LotDataError) as e:
        lots(p)
    got = {(i.row, i.column, i.code): i for i in e.value.issues}
    assert set(got) == {(2, "fmv_at_gift", "gift_incomplete"),
                        (3, "gift_date", "gift_incomplete"),
                        (4, "gift_date", "gift_before_acquired"),
                        (5, "fmv_at_gift", "negative_basis"),
                        (6, "inherited", "gift_and_inherited")}
    assert "donor's acquisition date" in got[(4, "gift_date", "gift_before_acquired")].fix
    assert "blank the gift date" in got[(2, "fmv_at_gift", "gift_incomplete")].fix


def test_a_gift_lots_fmv_may_be_given_per_share_by_custodian_headers(tmp_path):
    """Session 24, item 3: a custodian's gift statement gives the FMV per share; the lots
    file took only the lot's total (fmv_at_gift), and an "FMV per share at gift" column was
    ignored, leaving the lot without its loss basis. The per share FMV times the shares is
    the lot's FMV, exactly as the total's; both on a row must agree."""
    per_share = ("Symbol,Quantity,Date Acquired,Cost Basis,Date of Gift,FMV Per Share at Gift\n"
                 "KO,100,2010-01-04,10000,2026-03-02,80\n"
                 "KO,50,2012-05-01,2000,2026-03-02,60\n"
                 "KO,10,2016-06-01,400,,\n")
    got = lots(write(tmp_path, "ps.csv", per_share), as_of=dt.date(2026, 7, 1))
    want = lots(write(tmp_path, "total.csv", GIFT_LOTS), as_of=dt.date(2026, 7, 1))
    assert not [w for w in got.warnings if w.code == "ignored_column"]
    pd.testing.assert_frame_equal(got.lots.drop(columns=["source_file", "lot_id"]),
                                  want.lots.drop(columns=["source_file", "lot_id"]))
    # both columns: agreeing is fine (to half a cent a share), disagreeing an error
    both = ("ticker,shares,acquired,cost_total,gift_date,fmv_at_gift,fmv_per_share_at_gift\n"
            "KO,100,2010-01-04,10000,2026-03-02,8000,80.004\n"
            "KO,50,2012-05-01,2000,2026-03-02,3000,70\n"
            "KO,10,2016-06-01,400,2024-03-01,,\n")
    with pytest.raises(LotDataError) as e:
        lots(write(tmp_path, "both.csv", both), as_of=dt.date(2026, 7, 1))
    issues = {(i.row, i.column, i.code): i for i in e.value.issues}
    assert set(issues) == {(3, "fmv_per_share_at_gift", "gift_fmv_mismatch"),
                           (4, "fmv_at_gift", "gift_incomplete")}
    bad = issues[(3, "fmv_per_share_at_gift", "gift_fmv_mismatch")]
    assert bad.message == ("the fair market value per share at the gift (70.0000 USD) times "
                           "the 50 shares is 3,500.00 USD, but the lot's fair market value "
                           "at the gift (fmv_at_gift) is 3,000.00 USD")
    assert bad.fix.startswith("keep one of the two FMV columns")
    # a gift date without any FMV column is not let through (it was: said on a missing
    # column, the issue was dropped)
    with pytest.raises(LotDataError) as e:
        lots(write(tmp_path, "nofmv.csv", "ticker,shares,acquired,cost_total,gift_date\n"
                                          "KO,100,2010-01-04,10000,2026-03-02\n"),
             as_of=dt.date(2026, 7, 1))
    assert [(i.row, i.column, i.code) for i in e.value.issues] == [
        (2, "gift_date", "gift_incomplete")]


def test_an_impossible_date_is_one_error_not_also_the_date_orders_reason(tmp_path):
    """Reviewer 1 (session 24): 09/31/2020 was "not a calendar date" and the reason slash
    dates were read month/day ("can only be read that way") at once."""
    p = write(tmp_path, "l.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,10,09/31/2020,50\nAAPL,10,01/02/2020,50\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    assert [(i.code, i.row) for i in e.value.issues] == [("unparsable_date", 2)]
    p = write(tmp_path, "m.csv", "ticker,shares,acquired,cost_per_share\n"
                                 "AAPL,10,09/30/2020,50\nAAPL,10,01/02/2020,50\n")
    assert [(i.code, i.row) for i in lots(p).warnings] == [("date_order_inferred", 2)]


@pytest.mark.parametrize("cell", ["--", "N/A", "unknown"])
def test_a_basis_the_custodian_does_not_know_says_where_to_get_it(tmp_path, cell):
    p = write(tmp_path, "l.csv", "ticker,shares,acquired,cost_total\n"
                                 f"AAPL,10,2020-01-02,{cell}\n")
    with pytest.raises(LotDataError) as e:
        lots(p)
    (i,) = e.value.issues
    assert (i.code, i.row, i.column) == ("unknown_basis", 2, "cost_total")
    assert "prior custodian" in i.fix
