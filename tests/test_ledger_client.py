"""The household ledger built from a lots file plus a recent-trades blotter (issue 11, item 1).

Lots of the lots file and loss sales of the blotter are matched in both directions, on the
real household sample client: its blotter sells 165 KLAC (bought 2026-06-17 at 238.73) on
2026-07-21 at 217.56, a loss of 3,493.05 (21.17 a share).
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal as D

import pytest

from pma_lab.errors import BlotterError
from pma_lab.io.client import load_client
from pma_lab.paths import clients_dir
from pma_lab.tax.ledger import LotRelief

LOSS = D("3493.05")


def household(tmp_path, lots: str = "", trades: str = ""):
    folder = tmp_path / "household"
    shutil.copytree(clients_dir() / "household", folder)
    with open(folder / "household_lots.csv", "a") as f:
        f.write(lots)
    with open(folder / "recent_trades.csv", "a") as f:
        f.write(trades)
    return load_client(folder / "profile.toml")


def klac_sale(led):
    disp = led.dispositions(as_decimal=True)
    (row,) = disp[disp.ticker == "KLAC"].itertuples()
    return row


def test_sample_as_shipped_keeps_the_klac_loss_open():
    led = load_client(clients_dir() / "household" / "profile.toml").ledger()
    sale = klac_sale(led)
    assert sale.cost_basis - sale.proceeds == LOSS and sale.adjustment_amount == 0
    locks = led.locks(dt.date(2026, 7, 31))
    assert ("no_buy", "KLAC") in set(zip(locks.lock, locks.group, strict=True))
    assert len(led.lots()) == 60  # every lot of the file, nothing doubled


def test_ira_lot_bought_after_the_loss_sale_disallows_it_for_good(tmp_path):
    # Rev. Rul. 2008-5: the IRA's purchase a week after the loss sale washes it permanently
    c = household(tmp_path, lots="ira,HH-0061,KLAC,2026-07-28,200,190.80\n")
    led = c.ledger()
    sale = klac_sale(led)
    assert sale.adjustment_code == "W" and sale.adjustment_amount == LOSS
    assert sale.disallowed_permanently == LOSS and sale.gain_loss == 0
    ira = {lt.lot_id: lt for lt in led.lots(account="ira", ticker="KLAC")}
    assert ira["HH-0061/w1"].shares == 165 and ira["HH-0061"].shares == 35
    assert sum(lt.basis for lt in ira.values()) == D("38160.00")  # no basis increase
    assert all(lt.wash_adjustment == 0 for lt in ira.values())
    locks = led.locks(c.as_of)
    assert ("no_buy", "KLAC") not in set(zip(locks.lock, locks.group, strict=True))


def test_taxable_lot_bought_before_the_loss_sale_takes_the_basis(tmp_path):
    c = household(tmp_path, lots="taxable,HH-0061,KLAC,2026-07-01,100,266.19\n")
    led = c.ledger()
    sale = klac_sale(led)
    # 100 replacement shares absorb 100 of the 165 loss shares: 100 x 21.17
    assert sale.adjustment_amount == D("2117.00") and sale.disallowed_permanently == 0
    assert sale.gain_loss == D("-1376.05")
    (lot,) = led.lots(account="taxable", ticker="KLAC")
    assert lot.lot_id == "HH-0061" and lot.basis == D("26619.00") + D("2117.00")
    assert lot.used_as_replacement
    # bought before the sale: held over the union of both periods (TaxPolicy default)
    assert lot.holding_start == dt.date(2026, 6, 17)


def test_blotter_buy_still_held_is_the_lots_file_lot(tmp_path):
    # the blotter rebuys 50 KLAC three days after the loss sale; the lots file lists them
    c = household(tmp_path, lots="taxable,HH-0061,KLAC,2026-07-24,50,210.52\n",
                  trades="2026-07-24,taxable,taxable,KLAC,buy,50,210.52,,\n")
    led = c.ledger()
    assert len(led.lots()) == 61
    (lot,) = led.lots(account="taxable", ticker="KLAC")
    assert lot.lot_id == "HH-0061" and lot.shares == 50
    assert lot.basis == D("10526.00") + D("1058.50")  # 50 x 21.17 deferred onto it
    assert lot.holding_start == dt.date(2026, 7, 24) - dt.timedelta(days=34)
    assert klac_sale(led).adjustment_amount == D("1058.50")


def test_blotter_buy_still_held_with_the_custodians_adjusted_basis(tmp_path):
    """A custodian's lots file shows the wash-sale adjusted basis (210.52 + 21.17 a share):
    the same lot, accepted, and the adjustment is not added twice."""
    c = household(tmp_path, lots="taxable,HH-0061,KLAC,2026-07-24,50,231.69\n",
                  trades="2026-07-24,taxable,taxable,KLAC,buy,50,210.52,,\n")
    (lot,) = c.ledger().lots(account="taxable", ticker="KLAC")
    assert lot.basis == D("10526.00") + D("1058.50")


def test_blotter_buy_still_held_with_another_basis_is_an_error(tmp_path):
    """Reviewer 1 (session 21): the lots file said $31 a share for the blotter's buy at $24
    and ``lots validate`` passed with 0 warnings, the ledger silently taking the blotter's
    $24. A basis that is neither the buy's nor its adjusted one is refused, naming the lots
    file's row and column, the blotter's row and both bases."""
    c = household(tmp_path, lots="taxable,HH-0061,KLAC,2026-07-24,50,220.00\n",
                  trades="2026-07-24,taxable,taxable,KLAC,buy,50,210.52,,\n")
    with pytest.raises(BlotterError) as e:
        c.ledger()
    (issue,) = e.value.issues
    # the lots file's own header (unit_cost), the title naming both files (reviewer 2)
    assert (issue.file.endswith("household_lots.csv"), issue.row, issue.column, issue.code) == (
        True, 62, "unit_cost", "blotter_basis_differs")
    assert "problem found in the lots and blotter files" in str(e.value)
    assert ("lot HH-0061 (KLAC, 50 shares) has a cost basis of $11,000.00 in the lots file, "
            "but it is the blotter's buy of KLAC on 2026-07-24 (row 8 of ") in str(e.value)
    assert ("whose basis is $10,526.00, or $11,584.50 with the wash-sale adjustment of "
            "$1,058.50 the replay adds") in str(e.value)


def test_an_ira_lot_bought_in_the_blotter_may_carry_any_basis(tmp_path):
    """An IRA lot's basis has no tax effect: the basis check is for taxable lots (reviewer
    2, session 21: an IRA lot at cost 0 was a hard error)."""
    c = household(tmp_path, lots="ira,HH-0061,KLAC,2026-07-24,50,0\n",
                  trades="2026-07-24,ira,ira,KLAC,buy,50,210.52,,\n")
    (lot,) = [lt for lt in c.ledger().lots(account="ira", ticker="KLAC")
              if lt.root_id == "HH-0061"]
    assert lot.shares == 50


def test_blotter_buy_missing_from_the_lots_file_is_an_error(tmp_path):
    c = household(tmp_path, trades="2026-07-24,taxable,taxable,KLAC,buy,50,210.52,,\n")
    with pytest.raises(BlotterError, match="row 8.*no such lot") as e:
        c.ledger()
    assert e.value.codes == ("blotter_lot_not_held",)
    assert e.value.issues[0].column == "shares"  # the sample blotter's own header


def test_a_blotter_lot_not_held_is_named_by_the_files_own_header(tmp_path):
    """Reviewer 2 (session 24): the error named column 'shares' where the file says
    Quantity."""
    folder = tmp_path / "household"
    shutil.copytree(clients_dir() / "household", folder)
    (folder / "recent_trades.csv").write_text(
        "date,account,account_type,ticker,side,quantity,price\n"
        "2026-07-24,taxable,taxable,KLAC,buy,50,210.52\n")
    with pytest.raises(BlotterError) as e:
        load_client(folder / "profile.toml").ledger()
    assert [(i.code, i.row, i.column) for i in e.value.issues] == [
        ("blotter_lot_not_held", 2, "quantity")]


def test_a_blotter_sale_beyond_the_shares_held_quotes_the_cell_as_written(tmp_path):
    """Reviewer (session 24, left open): a sale written with its sign ('-150') was quoted
    without it ('150'), and a buy's '50' as '50.0'; both errors quote the cell."""
    c = household(tmp_path, trades="2026-07-24,ira,ira,MMM,sell,-150,150,,\n")
    with pytest.raises(BlotterError) as e:
        c.ledger()
    assert [(i.column, i.value, i.code) for i in e.value.issues] == [
        ("shares", "-150", "insufficient_shares")]
    c = household(tmp_path / "b", trades="2026-07-24,taxable,taxable,KLAC,buy,50,210.52,,\n")
    with pytest.raises(BlotterError) as e:
        c.ledger()
    assert [(i.column, i.value, i.code) for i in e.value.issues] == [
        ("shares", "50", "blotter_lot_not_held")]


@pytest.mark.parametrize("ticker, ira_lot, loss_lot, price, loss", [
    ("NOW", "HH-0011", "HH-0046", "111.23", D("16281.00")),   # 201 x (192.23 - 111.23)
    ("UBER", "HH-0014", "HH-0055", "70.36", D("6275.14")),    # 211 x (100.10 - 70.36)
])
def test_the_iras_july_purchase_sold_on_the_plans_day_still_washes_the_taxable_loss(
        ticker, ira_lot, loss_lot, price, loss):
    """The household sample on its plan's day, 2026-07-31: the IRA bought 232 NOW on
    2026-07-15 and 572 UBER on 2026-07-22 and sells them that day (its trade list), at the
    proposal's prices. Had the taxable account sold its NOW lot HH-0046 (201 shares at
    $192.23) or its UBER lot HH-0055 (211 at $100.10) the same day, the $16,281.00 and
    $6,275.14 losses would be disallowed for good (§1091(a): the IRA *acquired* the shares
    within 30 days before; Rev. Rul. 2008-5), which is why the trade list keeps both lots
    (its wash-sale lock). Before session 13 the ledger allowed them, because the IRA's
    shares were no longer held at the end of the day."""
    led = load_client(clients_dir() / "household" / "profile.toml").ledger().fork([ticker])
    day = dt.date(2026, 7, 31)
    locks = led.locks(day)
    assert ("no_loss_sale", ticker) in set(zip(locks.lock, locks.group, strict=True))
    ira = next(lt for lt in led.lots(account="ira", ticker=ticker) if lt.lot_id == ira_lot)
    led.sell(day, "ira", ticker, ira.shares, D(price), method=LotRelief.SPECIFIC,
             lot_id=ira_lot)
    held = next(lt for lt in led.lots(account="taxable", ticker=ticker)
                if lt.lot_id == loss_lot)
    led.sell(day, "taxable", ticker, held.shares, D(price), method=LotRelief.SPECIFIC,
             lot_id=loss_lot)
    disp = led.dispositions(as_decimal=True)
    (row,) = disp[disp.lot_id == loss_lot].itertuples()
    assert row.cost_basis - row.proceeds == loss
    assert row.adjustment_amount == loss and row.disallowed_permanently == loss
    assert row.gain_loss == 0


def test_recent_trades_selling_more_than_they_bought_name_every_row(tmp_path):
    """A recent-trades sale the blotter cannot cover is an input error of the blotter (file,
    row, column shares, the fix), every such row at once (session 13)."""
    c = household(tmp_path, trades="2026-07-24,taxable,taxable,BMY,sell,10,55,,\n"
                                   "2026-07-24,ira,ira,MMM,sell,100,150,,\n")
    with pytest.raises(BlotterError) as e:
        c.ledger()
    got = [(i.row, i.column, i.code) for i in e.value.issues]
    assert [g[1:] for g in got] == [("shares", "insufficient_shares")] * 2
    assert e.value.source.endswith("recent_trades.csv")
    assert "holds 0 shares, the sale asks for 100" in str(e.value)  # sold on row 6


def test_lots_validate_replays_the_recent_trades(tmp_path, capsys):
    """``pma-lab lots validate`` and the batch's inputs-first step fail on a blotter sale
    without shares behind it, as every later command does (reviewer 1, session 19: validate
    said "OK" with exit 0, ``lots summarize`` then exited 2)."""
    from pma_lab.app.batch import validate_client
    from pma_lab.app.cli import main

    household(tmp_path, trades="2026-07-24,taxable,taxable,BMY,sell,10,55,,\n")
    prof = tmp_path / "household" / "profile.toml"
    assert main(["lots", "validate", "--profile", str(prof)]) == 2
    err = capsys.readouterr().err
    assert "recent_trades.csv, row" in err and "column 'shares'" in err
    assert "holds 0 shares, the sale asks for 10" in err and "Fix:" in err
    with pytest.raises(BlotterError):
        validate_client(str(prof))


def test_a_loss_sale_of_earlier_shares_names_its_lot_and_the_buyback_washes_it(tmp_path):
    """Reviewer 1 (session 24): a blotter with only the loss sale and the buyback was
    refused (the sale's shares were bought before the blotter); the service team's realised
    gain/loss report gives the sold lot's acquisition date and cost basis, and with them the
    sale replays and the lots file's buyback washes it, the holding period carried over."""
    folder = tmp_path / "household"
    shutil.copytree(clients_dir() / "household", folder)
    (folder / "recent_trades.csv").write_text(
        "date,account,account_type,ticker,side,shares,price,acquired,cost_basis\n"
        "2026-07-21,taxable,taxable,KLAC,sell,165,217.56,2026-06-17,39390.45\n")
    sale = klac_sale(load_client(folder / "profile.toml").ledger())
    assert sale.cost_basis - sale.proceeds == LOSS and sale.adjustment_amount == 0
    with open(folder / "household_lots.csv", "a") as f:
        f.write("taxable,HH-0061,KLAC,2026-07-28,200,190.80\n")
    led = load_client(folder / "profile.toml").ledger()
    sale = klac_sale(led)
    assert sale.adjustment_code == "W" and sale.adjustment_amount == LOSS
    (lot,) = [lt for lt in led.lots(account="taxable", ticker="KLAC") if lt.shares == 165]
    assert lot.basis == D("165") * D("190.80") + LOSS
    assert lot.holding_start == dt.date(2026, 7, 28) - dt.timedelta(days=34)
    # half a lot is an error naming what is missing
    (folder / "recent_trades.csv").write_text(
        "date,account,account_type,ticker,side,shares,price,acquired,cost_basis\n"
        "2026-07-21,taxable,taxable,KLAC,sell,165,217.56,2026-06-17,\n")
    with pytest.raises(BlotterError) as e:
        load_client(folder / "profile.toml")
    assert [(i.row, i.column, i.code) for i in e.value.issues
            if i.severity.value == "error"] == [(2, "cost_basis", "sold_lot_incomplete")]
