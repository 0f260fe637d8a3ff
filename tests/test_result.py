"""Result construction lives in :mod:`pma_lab.optimize.result` (:func:`build_result`, split
out of ``rebalance.py``, issue 15): a result rebuilt from its own trades is the same, and a
name both bought and sold is refused outside the relaxation."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pandas as pd
import pytest

from pma_lab.errors import SolverFailedError
from pma_lab.io.client import load_client
from pma_lab.optimize.checks import trade_arrays
from pma_lab.optimize.decisions import lot_decisions
from pma_lab.optimize.engine import default_settings, prepare, problem_for_client
from pma_lab.optimize.result import _snap, build_result, replaced, trade_columns, trade_lists
from pma_lab.paths import samples_dir


@pytest.fixture(scope="module")
def solved():
    c = load_client(samples_dir() / "clients" / "balanced-6040" / "profile.toml")
    setup = prepare(c)
    p = problem_for_client(setup, None, default_settings(setup, whole_shares=False,
                                                           min_trade=0.0))
    return p, p.solve()


def test_a_result_rebuilt_from_its_trades_is_the_same(solved):
    p, res = solved
    x, b = p._arrays(res)
    again = build_result(p, "two_step", res.status, 0.0, set(), x=x, b=b)
    for name in ("lot_trades", "trades", "decisions"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(res, name),
                                      check_exact=False, rtol=1e-9)
    for k in ("tax", "realized_st", "realized_lt", "te_after", "turnover", "cash_after"):
        assert again.summary[k] == pytest.approx(res.summary[k], rel=1e-9, abs=1e-6), k
    assert again.summary.ledger_checked and again.summary.seconds == 0.0


def test_a_name_bought_and_sold_is_a_bug_except_in_the_relaxation(solved):
    p, _ = solved
    j = int(np.flatnonzero(p.v > 0)[0])
    i = int(p.lot_asset[j])
    x = np.zeros(p.nl)
    x[j] = p.v[j] / 2
    b = np.zeros(p.na)
    b[i] = p.v[j] / 4
    with pytest.raises(SolverFailedError, match="both bought and sold"):
        build_result(p, "two_step", "optimal", 0.0, set(), x=x, b=b)
    r = build_result(p, "relaxed", "optimal", 0.0, set(), x=x, b=b)
    assert r.trades.side.tolist() == ["sell"]


def test_a_lots_round_off_weight_is_no_sale(solved):
    """A lot whose sold weight is solver round-off (a billionth of a share) is not sold: it
    reached the ledger check as a zero-share sale ('shares must be positive', the frontier
    benchmark's COF lot at one point of its sweep)."""
    p, res = solved
    x, b = p._arrays(res)
    held = np.flatnonzero((p.v > 0) & (x == 0))
    j = int(held[0])
    x = x.copy()
    x[j] = 1e-9 * p.v[j] / float(p.state.lots.shares.iloc[j])  # 1e-9 of a share
    r = build_result(p, "two_step", res.status, 0.0, set(), x=x, b=b)
    assert p.state.lots.lot_id.iloc[j] not in set(r.lot_trades.lot_id)
    assert (r.lot_trades.shares > 0).all() and r.summary.ledger_checked
    pd.testing.assert_frame_equal(r.lot_trades, res.lot_trades, check_exact=False, rtol=1e-9)


def _trades_one_name_at_a_time(p, b, sold, w_after):
    """The trade table as build_result wrote it before session 11 (a row per name)."""
    px = p.state.prices.to_numpy()
    rows = []
    for i, t in enumerate(p.state.assets):
        if b[i] > 0 or sold[i] > 0:
            net = b[i] - sold[i]
            rows.append({"ticker": t, "side": "buy" if net > 0 else "sell",
                         "shares": float(_snap(abs(net) * p.V / px[i])),
                         "value": abs(net) * p.V, "weight_before": p.h[i],
                         "weight_after": w_after[i],
                         "target_weight": float(p.wt[i]) if i < p.nm else 0.0})
    return pd.DataFrame(rows, columns=["ticker", "side", "shares", "value",
                                       "weight_before", "weight_after", "target_weight"])


def test_the_vectorised_tables_are_the_row_by_row_ones(solved):
    """Session 11 builds the trade table, the order sizes and the trade arrays from the
    lots' columns read once per state (``state.lot_columns``), not row by row: the same
    tables, dtypes included, on random trades (partial and full lots, buys, no trade)."""
    from pma_lab.optimize.checks import trade_arrays
    from pma_lab.optimize.state import lot_columns

    p, res = solved
    rng = np.random.default_rng(11)
    assert lot_columns(p.state) is lot_columns(p.state)  # read once
    for _ in range(5):
        x = p.v * rng.choice([0.0, 0.0, 0.37, 1.0], p.nl)
        sold = p.A @ x
        b = np.where(sold > 0, 0.0, rng.choice([0.0, 0.0, 0.002], p.na))
        r = build_result(p, "two_step", "optimal", 0.0, set(), x=x, b=b)
        w_after = p.h + b - sold
        pd.testing.assert_frame_equal(r.trades.drop(columns="wash_replacement"),
                                      _trades_one_name_at_a_time(p, b, sold, w_after))
        x2, b2 = trade_arrays(p, r)
        lots = p.state.lots
        j_of = {lid: j for j, lid in enumerate(lots.lot_id)}
        ref = np.zeros(p.nl)
        for row in r.lot_trades.itertuples():
            j = j_of[row.lot_id]
            ref[j] = p.v[j] if row.full_lot else float(row.shares) * float(
                lots.price.iat[j]) / p.V
        np.testing.assert_array_equal(x2, ref)
        assert np.allclose(b2, b, rtol=1e-9, atol=1e-15)
    empty = build_result(p, "two_step", "optimal", 0.0, set(), x=np.zeros(p.nl),
                         b=np.zeros(p.na))
    assert len(empty.trades) == 0 and len(empty.lot_trades) == 0


def test_a_result_solved_without_the_ledger_then_checked_is_the_ledgers():
    """ledger_checked: the same problem solved without a ledger, then replayed through it,
    is the result of solving it with the ledger, every table and figure to the last bit
    (balanced-6040's gain budget: its check reads the ledger's gains, 3.6e-12 from the
    trades' own). A result already checked is refused."""
    from pma_lab.errors import SettingsError
    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.optimize.result import ledger_checked

    setup = prepare(load_client(samples_dir() / "clients" / "balanced-6040" /
                                "profile.toml"))
    p = problem_for_client(setup)
    want = p.solve()
    bare = RebalanceProblem(p.state, p.risk, setup.target.weights, p.settings, None)
    res = bare.solve()
    assert not res.summary.ledger_checked and "wash_loss_disallowed" not in res.lot_trades
    assert (res.checks.constraint == "budget.total").any()
    got = ledger_checked(res, p.state, setup.ledger)
    for name in ("lot_trades", "trades", "decisions", "checks"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name),
                                      check_exact=True, obj=name)
    skip = {"seconds", "solver_seconds", "build_seconds"}
    assert {k: v for k, v in dict(got.summary).items() if k not in skip} == \
        {k: v for k, v in dict(want.summary).items() if k not in skip}
    with pytest.raises(SettingsError, match="already replayed through a ledger"):
        ledger_checked(want, p.state, setup.ledger)


def test_the_summary_reads_the_trades_arrays_as_the_trade_lists(solved, monkeypatch):
    """build_result sums the gains by term, counts fractional quantities and finds the
    smallest order from the arrays it builds the trade lists from (reading the lists'
    string columns back cost ~5 ms a result): the figures the lists give, to the bit, on
    random trades (partial and full lots, buys, none)."""
    from pma_lab.optimize.result import (
        _fractional_quantities,
        _name_trade_arrays,
        _order_sizes,
        _taxed,
    )
    from pma_lab.optimize.state import lot_columns

    p, _res = solved
    rng = np.random.default_rng(5)
    seen = set()
    closing = 0  # results with an exempt (closing) sale
    for k in range(8):
        x = p.v * rng.choice([0.0, 0.0, 0.37, 0.5, 1.0], p.nl) if k else np.zeros(p.nl)
        sold = p.A @ x
        b = np.where(sold > 0, 0.0, rng.choice([0.0, 0.0, 0.0013, 0.002], p.na)) if k \
            else np.zeros(p.na)
        r = build_result(p, "two_step", "optimal", 0.0, set(), x=x, b=b)
        lt = r.lot_trades
        st_gain = float(lt.gain[lt.term == "ST"].sum())
        lt_gain = float(lt.gain[lt.term == "LT"].sum())
        ref = _taxed(lt, {}, 0.0, p.V)
        got = _taxed(lt, {}, 0.0, p.V, gains=(st_gain, lt_gain))
        assert ref == got
        # the summary's own gains (the arrays' sums; without a ledger nothing replaces
        # them) are the list's column sums to the bit (review 14 M2: the lines above
        # alone passed with any gains in build_result)
        with monkeypatch.context() as m:
            m.setattr(p, "ledger", None)
            bare = build_result(p, "two_step", "optimal", 0.0, set(), x=x, b=b).summary
        assert np.float64(bare.realized_st).tobytes() == np.float64(st_gain).tobytes()
        assert np.float64(bare.realized_lt).tobytes() == np.float64(lt_gain).tobytes()
        assert r.summary.fractional_quantities == _fractional_quantities(r.trades, lt)
        sizes = _order_sizes(p, r.trades, lt)
        want = float(sizes.min()) if len(sizes) else float("nan")
        assert np.float64(r.summary.smallest_order).tobytes() == np.float64(want).tobytes()
        # the sizes from the sold lots' arrays (build_result's) are the frames' (the same
        # orders kept: closing sales and must-sell sales exempt)
        named = _name_trade_arrays(p, b, sold, p.h + b - sold, p.state.prices.to_numpy(),
                                   "two_step")
        cols = lot_columns(p.state)
        rows = np.array([cols.row[i] for i in lt.lot_id.tolist()], dtype=int)
        arrays = _order_sizes(p, r.trades, lt, named, (rows, lt.shares.to_numpy()))
        assert np.asarray(arrays).tobytes() == np.asarray(sizes, dtype=float).tobytes()
        closing += int(len(arrays) < len(r.trades))
        seen.add((len(lt) > 0, r.summary.fractional_quantities > 0))
    assert {(False, False), (True, True)} <= seen
    assert closing


def test_the_ledger_check_reads_the_wash_sales_the_trades_make(solved):
    """A purchase today washes a loss sold 26 days ago whose wash-sale match sorts before
    one made earlier (a loss sold 22 days ago, washed 3 days later): the check's
    disallowed loss and replacement purchases are the new match's (it read the sorted
    match table's last rows: the earlier match's $15.00, and no replacement)."""
    import datetime as dt
    from decimal import Decimal as D

    from pma_lab.optimize.result import _ledger_check
    from pma_lab.tax.ledger import Account, Ledger, LotRelief

    st = solved[0].state
    day, acc = st.as_of, st.account_id
    led = Ledger([Account(acc)])
    led.buy(day - dt.timedelta(days=200), acc, "AAPL", D(10), D("50.07"), lot_id="A")
    led.buy(day - dt.timedelta(days=150), acc, "ABBV", D(8), D("20.00"), lot_id="C")
    led.sell(day - dt.timedelta(days=26), acc, "AAPL", D(4), D("40.00"), LotRelief.SPECIFIC,
             "A")
    led.sell(day - dt.timedelta(days=22), acc, "ABBV", D(3), D("15.00"), LotRelief.SPECIFIC,
             "C")
    led.buy(day - dt.timedelta(days=19), acc, "ABBV", D(3), D("16.00"), lot_id="D")
    lot_trades = pd.DataFrame({"lot_id": [], "ticker": [], "shares": [], "price": [],
                               "full_lot": []})
    trades = pd.DataFrame({"ticker": ["AAPL"], "side": ["buy"], "shares": [4.0]})
    got = _ledger_check(st, led, lot_trades, trades)
    assert got["disallowed"] == 40.28  # A's loss: 4 x 50.07 - 4 x 40.00
    assert got["wash_replacements"] == {"AAPL"} and got["wash_by_lot"] == {}
    assert got["realized_st"] == got["realized_lt"] == 0.0 and got["tax"] == 11.68
    assert len(led.wash_sale_matches()) == 1  # the ledger checked is never changed


def test_the_ledger_checks_decimals_are_the_floats_reprs():
    """result._decimal keeps each float's Decimal(repr(x)) (the ledger check's prices and
    shares): the same Decimal whether kept or not, a negative zero keeps its sign."""
    import math
    from decimal import Decimal as D

    from pma_lab.optimize.result import _decimal

    for x in (41.5, 0.1 + 0.2, 1e-7, 123456.789, -0.0, 0.0, 3, 41.5):
        got = _decimal(x)
        assert got == D(repr(float(x))) and str(got) == str(D(repr(float(x))))
    assert str(_decimal(-0.0)) == "-0.0" and str(_decimal(0.0)) == "0.0"
    assert _decimal(math.nan).is_nan()


def test_the_years_netting_is_the_same_kept_or_not():
    """result._netted keeps the year's netting by its totals; a profile that cannot be
    hashed is netted each time, to the same figures."""
    import dataclasses
    import datetime as dt
    from decimal import Decimal as D

    from pma_lab.optimize.result import _netted, _netting
    from pma_lab.tax.liability import FilingStatus, TaxProfile

    class Unhashable(TaxProfile):
        __hash__ = None

    tax = TaxProfile(FilingStatus.MFJ, 2024, 0.37, 0.20, niit_rate=0.038)
    loose = Unhashable(**{f.name: getattr(tax, f.name) for f in dataclasses.fields(tax)})
    day, carry = dt.date(2024, 6, 28), (D("1200.00"), D(0))
    for totals in ((D("5000.00"), D("-9000.00"), D(0), D("-250.50")), (D(0),) * 4):
        want = _netting(totals, day, tax, carry)
        assert _netted(totals, day, tax, carry) == want == _netted(totals, day, loose, carry)


def test_a_results_decisions_and_checks_are_built_when_first_read():
    """A whole-share result keeps its decisions (build_result) and its checks (checked) as
    their columns and rows until they are read (a plan's steps read neither table of most
    results): read, they are the tables lot_decisions and check_constraints build; a
    replaced() result shares the tables not yet built, and a pickled one builds them."""
    c = load_client(samples_dir() / "clients" / "balanced-6040" / "profile.toml")
    setup = prepare(c)
    p = problem_for_client(setup, None, default_settings(setup))
    res = p.solve()
    assert res.summary.method.endswith("(whole shares)") and len(res.lot_trades)
    assert {"decisions", "checks"}.isdisjoint(res.__dict__)
    other = replaced(res, summary=dataclasses.replace(res.summary, note="n"))
    assert {"decisions", "checks"}.isdisjoint(other.__dict__) and other.summary.note == "n"
    x, _ = p._arrays(res)
    w = res.weights.reindex(list(p.state.assets)).to_numpy()
    pd.testing.assert_frame_equal(res.decisions, lot_decisions(p, x, set(), w, p.settings),
                                  check_exact=False, rtol=1e-9)
    assert other.decisions is res.decisions  # one build serves both
    assert res.checks.equals(p.check_constraints(res)) and res.checks.ok.all()
    again = pickle.loads(pickle.dumps(replaced(res, summary=res.summary)))
    assert again.decisions.equals(res.decisions) and again.checks.equals(res.checks)
    with pytest.raises(TypeError, match="not a RebalanceResult field"):
        replaced(res, decision=None)


def test_the_trades_a_result_keeps_are_its_tables_read_back():
    """build_result keeps the trades as checks.trade_arrays reads them back from its
    tables (the check that follows every whole-share solve reads them), to the bit."""
    c = load_client(samples_dir() / "clients" / "balanced-6040" / "profile.toml")
    setup = prepare(c)
    p = problem_for_client(setup, None, default_settings(setup))
    res = p.solve()
    x, b = trade_arrays(p, res)
    made = build_result(p, "two_step (whole shares)", "optimal", 0.0, set(), x=x, b=b)
    assert "_trade_arrays" in made.__dict__
    # not checked yet: no checks, an empty table built when read (the field's default)
    assert "checks" not in made.__dict__ and made.checks.equals(pd.DataFrame())
    kept = trade_arrays(p, made)
    read = trade_arrays(p, dataclasses.replace(made))  # the tables only
    assert "_trade_arrays" not in dataclasses.replace(made).__dict__
    assert all(np.array_equal(k, r) for k, r in zip(kept, read, strict=True))
    assert np.flatnonzero(kept[0]).size and np.flatnonzero(kept[1]).size
    pickle.loads(pickle.dumps(made))  # the kept trades (a weak reference) are not pickled


def test_a_step_reads_its_trades_as_columns_without_building_the_tables():
    """A result solved without a ledger (a plan's step) keeps its trade lists as the
    columns they are built of: the step's bookkeeping (simulation._apply) and the checks
    read those, the tables are built only when read (of the same columns), and the
    bookkeeping of the tables is the same; a result the ledger checks has its tables
    built (the ledger's replay marks them)."""
    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.plan.simulation import _apply

    setup = prepare(load_client(samples_dir() / "clients" / "balanced-6040" /
                                "profile.toml"))
    p = problem_for_client(setup)
    st = p.state
    bare = RebalanceProblem(st, p.risk, setup.target.weights, p.settings, None)
    res = bare.solve()
    assert {"lot_trades", "trades", "decisions"}.isdisjoint(res.__dict__)
    copied = pickle.loads(pickle.dumps(res))  # (a plan run in a worker process)
    assert {"lot_trades", "trades", "decisions"}.isdisjoint(copied.__dict__)

    def applied(result):
        led, events = setup.ledger.fork(), []
        change = _apply(led, st.account_id, st.as_of, result, st.prices, events, None,
                        0.0, frozenset())
        return change, events, led.lots()

    got = applied(res)
    assert {"lot_trades", "trades"}.isdisjoint(res.__dict__) and got[1]
    cols = trade_columns(res)
    for kept, table in ((cols.lots, res.lot_trades), (cols.names, res.trades)):
        assert len(table) and list(kept) == list(table.columns)
        assert trade_lists(kept, *table.columns) == [table[c].tolist() for c in table]
    assert applied(dataclasses.replace(res)) == got  # the tables read: the same trades
    assert copied.lot_trades.equals(res.lot_trades) and copied.trades.equals(res.trades)
    assert "_columns" not in dataclasses.replace(res).__dict__
    assert {"lot_trades", "trades"} <= set(p.solve().__dict__)


def test_a_raised_cap_is_quoted_as_fmt_usd_rounds_it():
    """Reviewer 1 (session 24): whitman's forced ABBV sale raises the long-term cap by
    $24,885.50 (24885.499999999996 as the step computes it); the plans-compared note
    (fmt_usd, half away from zero after float noise is removed) said "$24,886 over", the
    trades-today note (``:,.0f`` on the binary value) "by $24,885". One rounding now."""
    from pma_lab.formatting import fmt_usd
    from pma_lab.optimize.result import RaisedCap

    by = 24_885.499999999996
    assert str(RaisedCap("long-term", 30_000.0, by)) == \
        f"long-term $30,000 by {fmt_usd(by)}" == "long-term $30,000 by $24,886"
    assert fmt_usd(54_885.5 - 30_000.0) == "$24,886"  # the year's overrun, as noted
    assert str(RaisedCap("total", 25_000.0, 2.5)) == "total $25,000 by $3"  # half up



def _klac_loss_and_replacement(solved, k1_sold: float, k2_sold: float):
    """The reviewer's book (session 24): K1, 200 KLAC at $250 bought 940 days ago; K2, 60
    at $200 bought 11 days ago; ``k1_sold`` and ``k2_sold`` of them sold today at $182.82,
    with the optimiser's (pre-replay) figures. Returns the state, the ledger, the lot sales,
    the trades and the two purchase days."""
    import datetime as dt
    from decimal import Decimal as D

    from pma_lab.tax.ledger import Account, Ledger

    st = solved[0].state
    day, acc = st.as_of, st.account_id
    k1_day, k2_day = day - dt.timedelta(days=940), day - dt.timedelta(days=11)
    led = Ledger([Account(acc)])
    led.buy(k1_day, acc, "KLAC", D(200), D("250.00"), lot_id="K1")
    led.buy(k2_day, acc, "KLAC", D(60), D("200.00"), lot_id="K2")
    sold = [k1_sold, k2_sold]
    proceeds = [round(q * 182.82, 2) for q in sold]
    basis = [k1_sold * 250.0, k2_sold * 200.0]
    lot_trades = pd.DataFrame({
        "lot_id": ["K1", "K2"], "ticker": ["KLAC", "KLAC"], "shares": sold,
        "price": [182.82, 182.82], "proceeds": proceeds, "basis": basis,
        "gain": [round(p - b, 2) for p, b in zip(proceeds, basis, strict=True)],
        "term": ["LT", "ST"], "wash_disallowed": [True, True],
        "full_lot": [k1_sold == 200.0, k2_sold == 60.0], "acquired": [k1_day, k2_day]})
    trades = pd.DataFrame({"ticker": ["KLAC"], "side": ["sell"], "shares": [sum(sold)]})
    return st, led, lot_trades, trades, k1_day, k2_day

def test_a_replacement_lot_sold_the_day_of_its_loss_reads_the_ledgers_figures(solved):
    """Review 24 (c5): a loss lot (K1, 200 sh at $250, long-term) and 49 of its 60
    replacement shares (K2, at $200, bought 11 days ago) sold the same day at $182.82. The
    ledger washes 60/200 of K1's $13,436 loss ($4,030.80) onto K2: K2's 49 shares sold
    take +$67.18 a share and K1's holding period, a -$4,133.64 long-term loss. The trade
    list said the optimiser's basis $9,800, gain -$841.82, short-term, acquired 11 days
    ago; its decision 'harvest ST loss'."""
    from pma_lab.optimize.result import _ledger_check, _mark_washes, _reworded_reasons

    st, led, lot_trades, trades, k1_day, _ = _klac_loss_and_replacement(solved, 200.0, 49.0)
    checked = _ledger_check(st, led, lot_trades, trades)
    assert set(checked["replaced_sold"]) == {"K2"}
    _mark_washes(lot_trades, trades, checked)
    k1, k2 = lot_trades.iloc[0], lot_trades.iloc[1]
    assert (k1.basis, k1.gain, k1.term, k1.acquired) == (50000.0, -13436.0, "LT", k1_day)
    assert k1.wash_loss_disallowed == pytest.approx(4030.80, abs=0.005)
    assert k2.basis == pytest.approx(13091.82, abs=0.005)
    assert k2.gain == pytest.approx(-4133.64, abs=0.005)
    assert (k2.term, k2.acquired, k2.wash_loss_disallowed) == ("LT", k1_day, 0.0)
    # the lot sales' gains by term are the ledger's realised ones
    assert lot_trades.gain[lot_trades.term == "LT"].sum() + 4030.80 == \
        pytest.approx(checked["realized_lt"], abs=0.01)
    assert checked["realized_st"] == 0.0
    dec = pd.DataFrame({"lot_id": ["K1", "K2"], "reason": ["harvest LT loss (...)",
                                                          "harvest ST loss (...)"]})
    got = _reworded_reasons(dec, lot_trades, checked["replaced_sold"])
    assert got.reason.tolist()[0] == "harvest LT loss (...)"
    assert got.reason.tolist()[1].startswith("harvest LT loss (bought within 30 days, but "
                                             "the loss of the 49 shares sold is allowed); "
                                             "replacement shares")
    assert "$13,092" in got.reason.tolist()[1] and str(k1_day) in got.reason.tolist()[1]
    # a reason that is no harvest is kept, the wash sale's words added: a harvest's, then
    # the replacement's (session 25: a forced loss sale's reason dropped the former)
    other = _reworded_reasons(dec.assign(reason=["x", "trim to target"]), lot_trades,
                              checked["replaced_sold"]).reason.tolist()
    assert other[0] == "x" and other[1].startswith(
        "trim to target; a loss sale (bought within 30 days, but the loss of the 49 shares "
        "sold is allowed); replacement shares")
    # no replacement sold today: no second replay, the optimiser's figures stand
    alone = lot_trades.iloc[:1].copy()
    assert _ledger_check(st, led, alone, trades)["replaced_sold"] == {}


def test_a_replacement_lot_sold_past_the_shares_it_replaces_spans_two_terms(solved):
    """10 of K1's loss shares sold, all 60 of K2: 10 of K2's shares replace them (long-term
    with K1's holding period, +$67.18 a share), 50 do not (short-term). The lot's one row
    sums the ledger's basis and gain, takes the term of the larger part (50 shares ST) and
    keeps K2's purchase date; its decision says how the sale splits."""
    from pma_lab.formatting import fmt_usd
    from pma_lab.optimize.result import _ledger_check, _mark_washes, _reworded_reasons

    st, led, lot_trades, trades, _, k2_day = _klac_loss_and_replacement(solved, 10.0, 60.0)
    checked = _ledger_check(st, led, lot_trades, trades)
    _mark_washes(lot_trades, trades, checked)
    k2 = lot_trades.iloc[1]
    assert k2.basis == pytest.approx(12671.80, abs=0.005)
    assert k2.gain == pytest.approx(-1702.60, abs=0.005)
    assert (k2.term, k2.acquired) == ("ST", k2_day)
    assert checked["realized_st"] == pytest.approx(-859.0) and \
        checked["realized_lt"] == pytest.approx(-843.6)
    dec = pd.DataFrame({"lot_id": ["K2"], "reason": ["harvest ST loss"]})
    got = _reworded_reasons(dec, lot_trades, checked["replaced_sold"]).reason.iat[0]
    assert got.endswith(f"; 10 shares long-term ({fmt_usd(-843.6)}), "
                        f"50 shares short-term ({fmt_usd(-859.0)})"), got
    assert "held from" not in got


@pytest.mark.parametrize(("k2_sold", "deferred"), [(49.0, 11 * 67.18), (60.0, 0.0),
                                                   (0.0, 4030.80)])
def test_the_disallowed_loss_says_how_much_stays_deferred(solved, k2_sold, deferred):
    """Reviewer 1 (session 25, #10): a loss lot and its replacement lot sold the same day
    reported the whole disallowed loss ($8,793.80 for NKE) while $0 stayed deferred. K1's
    $4,030.80 washed onto K2's 60 shares ($67.18 a share): K2's shares sold recognise
    theirs today, the shares still held keep the rest in their basis."""
    from pma_lab.optimize.result import _ledger_check, _taxed

    st, led, lot_trades, trades, _, _ = _klac_loss_and_replacement(
        solved, 200.0, k2_sold or 49.0)
    if not k2_sold:
        lot_trades = lot_trades.iloc[:1].copy()
    checked = _ledger_check(st, led, lot_trades, trades)
    assert checked["disallowed"] == pytest.approx(4030.80, abs=0.005)
    assert checked["disallowed_deferred"] == pytest.approx(deferred, abs=0.01)
    figures = _taxed(lot_trades, checked, 0.0, 1e6)
    assert figures["disallowed_loss"] == pytest.approx(4030.80, abs=0.005)
    assert figures["disallowed_loss_deferred"] == pytest.approx(deferred, abs=0.01)
    # the replacement lot's sale says the disallowed loss its basis carries, recognised
    # today (its Wash Sale cell said "no")
    from types import SimpleNamespace

    from pma_lab.formatting import fmt_usd
    from pma_lab.optimize.result import _mark_washes
    from pma_lab.report.proposal import wash_sale_marks

    _mark_washes(lot_trades, trades, checked)
    assert lot_trades.wash_loss_recognised.sum() + deferred == pytest.approx(4030.80,
                                                                             abs=0.01)
    cells, _ = wash_sale_marks(SimpleNamespace(lot_trades=lot_trades, trades=trades))
    assert cells[0].startswith("yes ($4,031 disallowed")
    if k2_sold:
        assert cells[1] == (f"replacement shares sold ({fmt_usd(4030.80 - deferred)} of "
                            "disallowed loss in their basis, recognised today)")
