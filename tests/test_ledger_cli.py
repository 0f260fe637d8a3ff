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
    assert main(["ledger", "replay", str(trades)]) == 2  # an input error, as elsewhere
    assert "t.csv, row 2, column 'shares'" in capsys.readouterr().err
    # a time that cannot be read is an input error naming the row
    trades.write_text("date,time,account,account_type,ticker,side,shares,price\n"
                      "2024-01-02,9h30,T,taxable,AAPL,buy,10,150\n")
    assert main(["ledger", "replay", str(trades)]) == 2
    assert "row 2, column 'time'" in capsys.readouterr().err


def test_every_oversold_sale_is_listed_with_file_row_column_and_fix(tmp_path, capsys):
    trades = tmp_path / "t.csv"
    trades.write_text("date,account,account_type,ticker,side,shares,price\n"
                      "2024-01-02,T,taxable,AAPL,buy,10,150\n"
                      "2024-02-01,T,taxable,AAPL,sell,20,160\n"
                      "2024-03-01,T,taxable,MSFT,sell,5,400\n"
                      "2024-04-01,T,taxable,AAPL,sell,4,170\n")
    assert main(["ledger", "replay", str(trades)]) == 2
    err = capsys.readouterr().err
    assert "2 problems found in the blotter file" in err
    lines = [ln for ln in err.splitlines() if ln.strip().startswith("- ")]
    assert len(lines) == 2
    aapl, msft = lines
    assert f"{trades}, row 3, column 'shares'" in aapl
    assert "holds 10 shares, the sale asks for 20" in aapl and "(value: '20')" in aapl
    assert "Fix: sell at most 10 shares, or record the missing purchase" in aapl
    assert f"{trades}, row 4, column 'shares'" in msft
    assert "sale of MSFT" in msft and "holds 0 shares, the sale asks for 5" in msft
    assert "Fix: record the missing purchase" in msft and "delete the sale" in msft
    # row 5 sells 4 of the 10 AAPL still held once row 3 is left out: not a problem


def test_many_oversold_sales_are_capped_with_and_n_more(tmp_path, capsys):
    trades = tmp_path / "t.csv"
    rows = "".join(f"2024-01-{d:02d},T,taxable,KO,sell,1,60\n" for d in range(2, 30))
    rows += "".join(f"2024-02-{d:02d},T,taxable,KO,sell,1,60\n" for d in range(1, 28))
    trades.write_text("date,account,account_type,ticker,side,shares,price\n" + rows)
    assert main(["ledger", "replay", str(trades)]) == 2
    err = capsys.readouterr().err
    assert "55 problems found" in err and "... and 15 more" in err


def test_netting_money_is_to_the_cent_and_every_loss_is_negative(tmp_path, capsys):
    trades = tmp_path / "t.csv"
    trades.write_text("date,account,account_type,ticker,side,shares,price\n"
                      "2024-01-02,T,taxable,AAPL,buy,100,150\n"
                      "2024-02-01,T,taxable,AAPL,sell,100,80\n")
    out = tmp_path / "8949.csv"
    assert main(["ledger", "replay", str(trades), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "losses are negative" in text
    head, row = text.split("Yearly netting")[1].splitlines()[1:3]
    cells = dict(zip(head.split(), row.split(), strict=True))
    assert cells["st_losses"] == "-7000.00" and cells["st_gains"] == "0.00"
    assert cells["loss_deducted"] == "-3000.00" and cells["st_loss_carried_out"] == "-4000.00"
    assert cells["lt_loss_carried_in"] == "0.00"  # never -0.00
    assert all(v.count(".") == 1 and len(v.split(".")[1]) == 2
               for k, v in cells.items() if k != "year")
    csv_text = out.with_suffix(".netting.csv").read_text().splitlines()[1]
    assert csv_text == ("2024,0.00,-7000.00,0.00,0.00,0.00,0.00,-7000.00,0.00,-7000.00,"
                        "-3000.00,-4000.00,0.00,0.00,0.00,0.00")


def test_a_loss_carried_in_from_the_profile_is_shown_negative(tmp_path, capsys):
    trades = tmp_path / "t.csv"
    trades.write_text("date,account,account_type,ticker,side,shares,price\n"
                      "2024-01-02,T,taxable,AAPL,buy,10,150\n"
                      "2024-02-01,T,taxable,AAPL,sell,10,160\n")
    from pma_lab.paths import bad_inputs_dir

    prof = (bad_inputs_dir() / "base_profile.toml").read_text()
    assert "carryforward" not in prof
    p = tmp_path / "p.toml"  # the lots file it names sits next to it
    (tmp_path / "good_lots.csv").write_bytes((bad_inputs_dir() / "good_lots.csv").read_bytes())
    # the carryforward is the loss carried into the profile's tax year: 2024, the year the
    # netting starts (the blotter's first sale)
    p.write_text(prof.replace("[tax]", "[tax]\ntax_year = 2024\ncarryforward_lt = 7000", 1))
    assert main(["ledger", "replay", str(trades), "--profile", str(p)]) == 0
    text = capsys.readouterr().out
    head, row = text.split("Yearly netting")[1].splitlines()[1:3]
    cells = dict(zip(head.split(), row.split(), strict=True))
    assert cells["year"] == "2024"
    assert cells["lt_loss_carried_in"] == "-7000.00" and cells["st_gains"] == "100.00"


def test_a_carryforward_into_another_year_than_the_first_sales_is_refused(tmp_path, capsys):
    """Session 19: a profile's carryforward into 2026 (its client.as_of's year, no
    tax_year) was carried into the blotter's 2024 netting; it is the loss carried into
    2026, so the replay stops naming the profile, the key and the fix (exit 2)."""
    from pma_lab.paths import bad_inputs_dir

    trades = tmp_path / "t.csv"
    trades.write_text("date,account,account_type,ticker,side,shares,price\n"
                      "2024-01-02,T,taxable,AAPL,buy,10,150\n"
                      "2024-02-01,T,taxable,AAPL,sell,10,160\n")
    p = tmp_path / "p.toml"
    (tmp_path / "good_lots.csv").write_bytes((bad_inputs_dir() / "good_lots.csv").read_bytes())
    prof = (bad_inputs_dir() / "base_profile.toml").read_text()
    p.write_text(prof.replace("[tax]", "[tax]\ncarryforward_lt = 7000", 1))
    assert main(["ledger", "replay", str(trades), "--profile", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"{p}, column 'tax.carryforward_lt'" in err
    assert ("the loss carried into tax year 2026 (tax.tax_year, or client.as_of's year when "
            "it is absent), but the blotter's first sale (2024-02-01) is in 2024") in err
    assert "Fix: set tax_year = 2024 and carryforward_st / carryforward_lt" in err


def test_refused_sales_name_the_column_as_headed_in_the_file(tmp_path, capsys):
    trades = tmp_path / "t.csv"
    trades.write_text("Trade Date,Account,Account Type,Symbol,Action,Quantity,Price\n"
                      "2024-01-02,T,taxable,AAPL,buy,10,150\n"
                      "2024-02-01,T,taxable,AAPL,sell,20,160\n")
    assert main(["ledger", "replay", str(trades)]) == 2
    assert f"{trades}, row 3, column 'Quantity'" in capsys.readouterr().err


def test_an_inherited_lot_reads_inherited_in_form_8949s_date_column(tmp_path, capsys):
    """Form 8949's instructions: column (b) says "INHERITED" for inherited property, not a
    date (reviewer 1, session 19: the replay wrote the decedent's date, 2024-01-10). The
    sale 51 days later is long-term all the same; a bought lot keeps its date."""
    trades = tmp_path / "t.csv"
    trades.write_text("date,account,account_type,ticker,side,shares,price,lot_id\n"
                      "2024-03-01,T,taxable,KO,sell,100,60.00,INH1\n"
                      "2024-03-20,T,taxable,AAPL,sell,10,170,\n")
    lots = tmp_path / "lots.csv"
    lots.write_text("lot_id,account,ticker,acquired,shares,cost_per_share,inherited\n"
                    "INH1,T,KO,2024-01-10,100,59.00,yes\n"
                    "A1,T,AAPL,2023-06-01,10,190,no\n")
    out = tmp_path / "8949.csv"
    assert main(["ledger", "replay", str(trades), "--lots", str(lots), "--out", str(out)]) == 0
    rows = pd.read_csv(out).set_index("lot_id")
    assert rows.loc["INH1", "date_acquired"] == "INHERITED" and rows.loc["INH1", "term"] == "LT"
    assert rows.loc["A1", "date_acquired"] == "2023-06-01"
    printed = capsys.readouterr().out
    assert "INHERITED" in printed


WASH_PROFILE = """schema_version = 1
[client]
id = "wash"
name = "Wash Test"
as_of = 2026-07-31
[tax]
filing_status = "mfj"
tax_year = 2026
taxable_income = 400000.0
state_rate = 0.05
[[accounts]]
id = "taxable"
type = "taxable"
cash = 20000.0
[lots]
files = ["lots.csv"]
default_account = "taxable"
recent_trades = "recent_trades.csv"
[target]
model = "sp500"
names = 40
"""
WASH_LOTS = ("lot_id,account,ticker,acquired,shares,cost_per_share\n"
             "L1,taxable,AAPL,2016-05-12,400,20.57\n"
             "L2,taxable,INTC,2026-07-20,50,97.06\n")
WASH_TRADES = ("date,account,account_type,ticker,side,shares,price,lot_id,method\n"
               "2026-06-01,taxable,taxable,INTC,buy,200,109.33,B-INTC,\n"
               "2026-07-24,taxable,taxable,INTC,sell,200,92.32,B-INTC,specific\n")


def _wash_client(tmp_path):
    (tmp_path / "profile.toml").write_text(WASH_PROFILE)
    (tmp_path / "lots.csv").write_text(WASH_LOTS)
    (tmp_path / "recent_trades.csv").write_text(WASH_TRADES)
    return tmp_path / "profile.toml", tmp_path / "recent_trades.csv"


def test_the_profiles_own_recent_trades_replay_with_its_lots_as_held_after(tmp_path, capsys):
    """Reviewer 1, session 20: the client's INTC lot bought 2026-07-20 (lots file) washes
    the blotter's INTC loss sale of 2026-07-24 in `lots summarize`, but `ledger replay
    recent_trades.csv --profile` reported no wash sale and the whole loss. The profile's own
    recent trades are now replayed as every other command replays them: 50 of the 200
    shares' loss disallowed (50 x (109.33 - 92.32) = $850.50), the rest a short-term loss."""
    prof, trades = _wash_client(tmp_path)
    out = tmp_path / "8949.csv"
    assert main(["ledger", "replay", str(trades), "--profile", str(prof),
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 wash sales" in text
    (row,) = pd.read_csv(out).itertuples()
    assert row.adjustment_code == "W" and row.adjustment_amount == 850.50
    assert row.gain_loss == -2551.50
    from pma_lab.io.client import load_client

    disp = load_client(prof).ledger().dispositions()
    assert float(disp.gain_loss.sum()) == -2551.50


def test_another_blotter_with_a_profile_says_its_lots_are_not_replayed(tmp_path, capsys):
    prof, trades = _wash_client(tmp_path)
    other = tmp_path / "other.csv"
    other.write_text(WASH_TRADES)
    assert main(["ledger", "replay", str(other), "--profile", str(prof)]) == 0
    cap = capsys.readouterr()
    assert "0 wash sales" in cap.out
    assert "the profile's lots (" in cap.err and "lots.recent_trades" in cap.err
