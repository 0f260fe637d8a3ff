"""What the ledger's speed work must not change: garbage collection and order ties.

The speed target itself lives in ``benchmarks/bench_ledger.py`` (no timed tests); these tests
pin the side conditions of the tricks it relies on.
"""

from __future__ import annotations

import datetime as dt
import gc
import weakref
from decimal import Decimal as D

import pytest

from pma_lab.tax.ledger import Account, AccountType, Ledger, LotRelief, Side, Trade, replay


def _blotter() -> list[Trade]:
    day = dt.date(2024, 1, 2)
    return [Trade(day, "T", "X", Side.BUY, D(10), D(5), row=2),
            Trade(day + dt.timedelta(days=3), "T", "X", Side.SELL, D(4), D(4), row=3),
            Trade(day + dt.timedelta(days=5), "I", "X", Side.BUY, D(4), D(4), row=4)]


ACCOUNTS = [Account("T"), Account("I", AccountType.IRA)]


@pytest.mark.parametrize("enabled", [True, False])
def test_replay_leaves_the_collector_as_it_found_it(enabled):
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        led = replay(_blotter(), ACCOUNTS)
        assert gc.isenabled() is enabled
        led.dispositions()
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_replay_keeps_the_callers_frozen_objects_frozen():
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        replay(_blotter(), ACCOUNTS).dispositions()
        # a replay that unfroze the caller's objects would leave 0 (gc.unfreeze empties the
        # permanent generation); a few frozen objects may be freed meanwhile by another
        # thread of the test process (under xdist: 583,990 -> 583,987 once), so not '=='
        assert gc.get_freeze_count() > 0.9 * frozen
    finally:
        gc.unfreeze()


def test_cyclic_garbage_made_around_a_replay_is_still_collected():
    class Node:
        pass

    def cycle() -> weakref.ref:
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    before = cycle()
    replay(_blotter(), ACCOUNTS).dispositions()
    after = cycle()
    gc.collect()
    assert before() is None and after() is None


@pytest.mark.parametrize("method", [LotRelief.HIFO, LotRelief.MIN_TAX])
def test_equal_basis_per_share_relieves_the_lot_bought_first(method):
    # HIFO and min-tax order lots by a float basis per share; a tie must go to the lot
    # bought first (the lot list is kept in order bought and the sorts are stable).
    led = Ledger([Account("T")])
    for i, day in enumerate(("2024-03-01", "2024-01-02", "2024-02-01")):
        led.add_lot("T", "X", D(10), D(100), dt.date.fromisoformat(day), lot_id=f"L{i}")
    led.sell(dt.date(2024, 6, 3), "T", "X", D(15), D(12), method=method)
    sold = led.dispositions()
    assert sold.lot_id.tolist() == ["L1", "L2"]
    assert sold.shares.tolist() == [10.0, 5.0]


def test_wash_sale_pieces_sort_after_their_lot_and_before_later_lots():
    # A replacement split by a wash sale keeps its place in the order bought: FIFO
    # relieves the remainder of the lot, then its piece, then the lot bought later.
    led = Ledger([Account("T")])
    led.buy(dt.date(2024, 1, 2), "T", "X", D(10), D(10), lot_id="A")
    led.sell(dt.date(2024, 2, 1), "T", "X", D(10), D(8))  # loss of 20
    led.buy(dt.date(2024, 2, 5), "T", "X", D(20), D(8), lot_id="B")  # 10 shares replace
    led.buy(dt.date(2024, 2, 6), "T", "X", D(5), D(8), lot_id="C")
    ids = [lt.lot_id for lt in led.lots()]
    assert ids == ["B", "B/w1", "C"]
    led.sell(dt.date(2024, 3, 1), "T", "X", D(25), D(9))
    assert led.dispositions().lot_id.tolist()[1:] == ["B", "B/w1", "C"]
