"""``pma-lab ledger replay``: opening lots and same-day order (issue 11, items 3 and 7)."""

from __future__ import annotations

import pandas as pd

from pma_lab.app.cli import main

BLOTTER = ("date,account,account_type,ticker,side,shares,price\n"
           "2024-01-02,T,taxable,AAPL,sell,10,150\n"
           "2024-03-04,T,taxable,AAPL,buy,10,170\n")


def test_opening_lots_dated_inside_the_blotter_are_an_input_error(tmp_path, capsys):
    trades = tmp_path / "t.csv"
    trades.write_text(BLOTTER)
    lots = tmp_path / "lots.csv"
    lots.write_text("lot_id,account,ticker,acquired,shares,cost_total\n"
                    "A1,T,AAPL,2023-06-01,10,1900\n"
                    "A2,T,AAPL,2024-02-01,10,1900\n")
    assert main(["ledger", "replay", str(trades), "--lots", str(lots)]) == 2
    err = capsys.readouterr().err
    assert "lots.csv, row 3, column 'acquired'" in err and "lot A2 (AAPL)" in err
    assert "row 2: sell AAPL on 2024-01-02" in err


def test_opening_lots_before_the_blotter_replay(tmp_path):
    trades = tmp_path / "t.csv"
    trades.write_text(BLOTTER)
    lots = tmp_path / "lots.csv"
    lots.write_text("lot_id,account,ticker,acquired,shares,cost_total\n"
                    "A1,T,AAPL,2023-06-01,10,1900\n")
    out = tmp_path / "8949.csv"
    assert main(["ledger", "replay", str(trades), "--lots", str(lots), "--out", str(out)]) == 0
    (row,) = pd.read_csv(out).itertuples()
    assert row.lot_id == "A1" and row.adjustment_amount == 0  # the buy is 62 days later


def test_time_column_orders_a_day(tmp_path, capsys):
    trades = tmp_path / "t.csv"
    # the file lists the sale first; the times say the buy came first
    trades.write_text("date,time,account,account_type,ticker,side,shares,price\n"
                      "2024-06-03,15:55,T,taxable,AAPL,sell,10,160\n"
                      "2024-06-03,09:31,T,taxable,AAPL,buy,10,170\n")
    out = tmp_path / "8949.csv"
    assert main(["ledger", "replay", str(trades), "--out", str(out)]) == 0
    (row,) = pd.read_csv(out).itertuples()
    assert row.lot_id == "R3" and row.gain_loss == -100
    # without the times the file order holds: the sale comes before any shares are held
    trades.write_text("date,account,account_type,ticker,side,shares,price\n"
                      "2024-06-03,T,taxable,AAPL,sell,10,160\n"
                      "2024-06-03,T,taxable,AAPL,buy,10,170\n")
    assert main(["ledger", "replay", str(trades)]) == 1
    assert "row 2: sale of AAPL" in capsys.readouterr().err
    # a time that cannot be read is an input error naming the row
    trades.write_text("date,time,account,account_type,ticker,side,shares,price\n"
                      "2024-01-02,9h30,T,taxable,AAPL,buy,10,150\n")
    assert main(["ledger", "replay", str(trades)]) == 2
    assert "row 2, column 'time'" in capsys.readouterr().err
