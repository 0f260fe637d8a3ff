"""Property tests of the ledger over random trade sequences (hypothesis).

Invariants: shares and basis are conserved (every disallowed loss reappears as basis on a
replacement, except IRA replacements), no lot goes negative, and replaying the same trades
in any row order gives the same result. When the ledger is the compiled build (``make
setup``, see setup.py), every property also runs against ``ledger.py`` as pure Python, and
both must give the same tables to the cent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pma_lab.tax import ledger
from pma_lab.tax.ledger import Account, AccountType, LotRelief, Side, Trade

# the ledger as loaded (compiled when built) and, when that is compiled, its source
MODULES = [ledger, ledger.pure_python()] if ledger.COMPILED else [ledger]
BUILDS = pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.__name__.rsplit(".")[-1])

ACCOUNTS = (Account("T"), Account("S", relief=LotRelief.HIFO),
            Account("I", AccountType.IRA))
TICKERS = ("X", "Y", "GOOG", "GOOGL")
START = dt.date(2024, 1, 2)


@st.composite
def blotters(draw):
    """A feasible blotter: sells never exceed what the account holds on that day."""
    n = draw(st.integers(1, 40))
    held: dict[tuple[str, str], D] = {}
    day = 0
    trades = []
    for i in range(n):
        day += draw(st.integers(0, 20))
        date = START + dt.timedelta(days=day)
        acc = draw(st.sampled_from(ACCOUNTS)).account_id
        tk = draw(st.sampled_from(TICKERS))
        price = D(draw(st.integers(100, 20000))) / 100
        have = held.get((acc, tk), D(0))
        if have > 0 and draw(st.booleans()):
            q = min(have, D(draw(st.integers(1, 60))) / 2)
            method = draw(st.sampled_from([None, LotRelief.FIFO, LotRelief.HIFO,
                                           LotRelief.MIN_TAX]))
            trades.append(Trade(date, acc, tk, Side.SELL, q, price, method=method, row=i + 2))
            held[(acc, tk)] = have - q
        else:
            q = D(draw(st.integers(1, 60))) / 2
            trades.append(Trade(date, acc, tk, Side.BUY, q, price, row=i + 2))
            held[(acc, tk)] = have + q
    return trades


def _as(mod, trades):
    """The blotter as ``mod``'s trades (the pure-Python module has its own classes)."""
    if mod is ledger:
        return trades
    return [mod.Trade(t.date, t.account, t.ticker, mod.Side(t.side.value), t.shares, t.price,
                      t.lot_id, mod.LotRelief(t.method.value) if t.method else None, t.fees,
                      t.row) for t in trades]


def _run(trades, mod=ledger):
    accounts = [mod.Account(a.account_id, mod.AccountType(a.account_type.value),
                            mod.LotRelief(a.relief.value)) for a in ACCOUNTS]
    led = mod.replay(_as(mod, trades), accounts)
    return led, led.dispositions(as_decimal=True), led.lots(), led.gifts(), \
        led.wash_sale_matches()


@BUILDS
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trades=blotters())
def test_conservation_and_no_negative_lots(mod, trades):
    led, disp, lots, _gifts, matches = _run(trades, mod)
    bought = {}
    for t in trades:
        if t.side is Side.BUY:
            bought[(t.account, t.ticker)] = bought.get((t.account, t.ticker), D(0)) + t.shares
    # shares: bought = open + sold, per account and ticker (IRA sales realise nothing but
    # still reduce shares; compare total outflow with the blotter's sells)
    sold = {}
    for t in trades:
        if t.side is Side.SELL:
            sold[(t.account, t.ticker)] = sold.get((t.account, t.ticker), D(0)) + t.shares
    open_sh = {}
    for lt in lots:
        assert lt.shares > 0 and lt.basis >= 0
        open_sh[(lt.account, lt.ticker)] = open_sh.get((lt.account, lt.ticker), D(0)) + lt.shares
    for key, b in bought.items():
        assert b == open_sh.get(key, D(0)) + sold.get(key, D(0))
    # taxable dispositions cover exactly the taxable shares sold
    for (acc, tk), q in sold.items():
        if acc != "I":
            got = disp[(disp.account == acc) & (disp.ticker == tk)].shares.sum()
            assert got == q
    # basis: cost in + disallowed losses moved onto taxable replacements
    #      = basis still open + basis carried out by taxable and IRA sales
    cost_in = sum((_cost(t) for t in trades if t.side is Side.BUY), D(0))
    moved = sum((m.disallowed for m in matches.itertuples() if not m.permanent), D(0))
    basis_open = sum((lt.basis for lt in lots), D(0))
    basis_out = sum(disp.cost_basis, D(0)) + _ira_basis_out(led)
    assert cost_in + moved == basis_open + basis_out
    # every W adjustment comes from matches, and IRA matches are the permanent part
    assert sum(disp.adjustment_amount, D(0)) == sum(matches.disallowed, D(0))
    perm = sum((m.disallowed for m in matches.itertuples() if m.permanent), D(0))
    assert sum(disp.disallowed_permanently, D(0)) == perm
    # an adjustment never exceeds the loss it defers; gains are never adjusted
    for r in disp.itertuples():
        assert r.adjustment_amount <= max(r.cost_basis - r.proceeds, D(0))


def _cost(t: Trade) -> D:
    from pma_lab.tax.rules import money

    return money(t.shares * t.price + t.fees)


def _ira_basis_out(led) -> D:
    """Basis that left IRAs through sales (no gain realised, but it leaves the books)."""
    return sum(led.ira_sales().basis, D(0))


@BUILDS
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trades=blotters(), rnd=st.randoms(use_true_random=False))
def test_row_order_does_not_matter(mod, trades, rnd):
    _, d1, l1, _, m1 = _run(trades, mod)
    shuffled = list(trades)
    rnd.shuffle(shuffled)
    _, d2, l2, _, m2 = _run(shuffled, mod)
    assert d1.drop(columns="source_row").equals(d2.drop(columns="source_row"))
    assert l1 == l2
    assert m1.equals(m2)



@pytest.mark.skipif(not ledger.COMPILED, reason="the ledger is not compiled (make setup)")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trades=blotters())
def test_compiled_and_pure_python_ledgers_agree_to_the_cent(trades):
    led, disp, lots, gifts, matches = _run(trades)
    pled, pdisp, plots, pgifts, pmatches = _run(trades, ledger.pure_python())
    assert disp.equals(pdisp)
    assert matches.equals(pmatches)
    assert gifts.equals(pgifts)
    assert led.ira_sales().equals(pled.ira_sales())
    assert led.open_lots().equals(pled.open_lots())
    assert [dataclasses.astuple(lt) for lt in lots] == [dataclasses.astuple(lt) for lt in plots]
    assert led.realized() == pled.realized()


def _fork_replay(led, day, acc, sales, buys):
    """check_trades' figures the long way: a fork, the sales, the buys, the reads."""
    f = led.fork({s[0] for s in sales} | {b[0] for b in buys})
    n, m = f.position()
    f.sell_lots(day, acc, sales)
    for ticker, q, price in buys:
        f.buy(day, acc, ticker, q, price)
    f.settle()
    return (led.year_totals(day.year), f.year_totals(day.year), f.realized_since(n),
            tuple(f.match_rows(m)))


@st.composite
def trade_lists(draw, lots):
    """A day's lot sales (whole or part, each open lot at most once) and buys."""
    sales = []
    for lt in draw(st.lists(st.sampled_from(lots), unique_by=lambda x: x.lot_id,
                            max_size=6)) if lots else []:
        price = D(draw(st.integers(100, 20000))) / 100
        if draw(st.booleans()):
            sales.append((lt.ticker, lt.lot_id, None, price))
        else:
            half = int(lt.shares * 2)
            q = D(draw(st.integers(1, max(half, 1)))) / 2
            sales.append((lt.ticker, lt.lot_id, min(q, lt.shares), price))
    buys = [(tk, D(draw(st.integers(1, 40))) / 2, D(draw(st.integers(100, 20000))) / 100)
            for tk in draw(st.lists(st.sampled_from(TICKERS), max_size=4))]
    return sales, buys


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trades=blotters(), data=st.data())
def test_check_trades_is_the_fork_replay_whatever_it_kept(trades, data):
    """Ledger.check_trades gives a fork's replay of the day's trades to the cent (year
    totals before and after, what the trades realise, the matches they make, purchases'
    lot ids included), for trade lists that change one ticker's trades at a time, so that
    each identity group's part kept from an earlier list is reused or not as it must be;
    the ledger checked is never changed."""
    led, disp, lots, _gifts, matches = _run(trades)
    day = trades[-1].date + dt.timedelta(days=data.draw(st.integers(0, 40)))
    acc = data.draw(st.sampled_from(("T", "S", "I")))
    sales, buys = data.draw(trade_lists(led.lots(acc)))
    for _ in range(5):
        assert led.check_trades(day, acc, sales, buys) == ledger.TradeCheck(
            *_fork_replay(led, day, acc, sales, buys))
        # the next list: one ticker's sales or buys drawn again, the rest as they were
        tk = data.draw(st.sampled_from(TICKERS))
        new_sales, new_buys = data.draw(trade_lists([lt for lt in led.lots(acc)
                                                     if lt.ticker == tk]))
        if data.draw(st.booleans()):
            sales = [s for s in sales if s[0] != tk] + new_sales
        buys = [b for b in buys if b[0] != tk] + [b for b in new_buys if b[0] == tk]
    assert led.dispositions(as_decimal=True).equals(disp)
    assert led.lots() == lots and led.wash_sale_matches().equals(matches)
