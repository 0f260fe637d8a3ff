"""The Monte Carlo replay of a plan (pma_lab.plan.montecarlo): a path whose cash falls below
the cash a step keeps sells more, as the expected path's step does."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.montecarlo import (
    MonteCarloPaths,
    Schedule,
    ScheduleStep,
    TaxContext,
    _RestoreRules,
    restore_order,
    revalue,
)
from pma_lab.plan.scenarios import expected_path, step_dates
from pma_lab.plan.transition import (
    TransitionSettings,
    _cash_rate,
    _tax_context,
    parse_plan,
    run_transition,
    simulate,
)
from pma_lab.tax.ledger import Account, Ledger, LotRelief
from pma_lab.tax.liability import TaxProfile
from pma_lab.tax.rules import FilingStatus

D0, D1, D2 = dt.date(2026, 12, 31), dt.date(2027, 12, 31), dt.date(2028, 12, 31)
LONG = dt.date(2020, 1, 1).toordinal()  # long-term at every step
SHORT = dt.date(2028, 6, 1).toordinal()  # short-term at D1


def _arr(t=float):
    return np.array([], dtype=t)


def _step(k, d, *, flow=0.0, sell=(), buy=(), keep=0.0, restore=None, no_sell=(),
          no_loss=()):
    """A schedule step selling ``sell`` = [(lot, fraction, long_term)] and buying ``buy`` =
    [(lot, fraction of the cash above ``keep``)]."""
    return ScheduleStep(
        k, d, 1.0, flow, _arr(int), _arr(), _arr(bool),
        np.array([j for j, _, _ in sell], dtype=int), np.array([f for _, f, _ in sell]),
        np.array([lt for _, _, lt in sell], dtype=bool), np.zeros(len(sell), dtype=bool),
        np.array([j for j, _ in buy], dtype=int), np.array([f for _, f in buy]), None, keep,
        restore, frozenset(no_sell), frozenset(no_loss))


def _schedule(steps, lt_from=(LONG, SHORT, LONG, LONG, LONG)):
    """Four lots of 100 shares: AAA (basis $5,000), BBB ($3,000), CCC ($6,000), DDD
    ($2,000), BBB short-term at D1, the others long-term; lot 4 is an AAA lot step 1 buys.
    $5,000 of cash."""
    return Schedule(("L1", "L2", "L3", "L4", "L5"), ("AAA", "BBB", "CCC", "DDD", "AAA"),
                    np.array([100.0, 100.0, 100.0, 100.0, 0.0]),
                    np.array([5000.0, 3000.0, 6000.0, 2000.0, 0.0]),
                    np.ones(5, dtype=bool), 5_000.0, tuple(steps),
                    lot_lt_from=np.array(lt_from, dtype=np.int64))


def _ctx(years=(2026, 2027, 2028)):
    prof = TaxProfile.from_income(FilingStatus.MFJ, 2026, 405_000, state_rate=0.05)
    z = Decimal(0)
    return TaxContext(prof, tuple(years), z, z, z, z, z, z)


# prices (AAA, BBB, CCC, DDD): path 1 AAA at 150 at step 1, path 2 at 60
PRICES = np.array([[[100.0, 30.0, 60.0, 20.0], [150.0, 20.0, 50.0, 100.0],
                    [150.0, 30.0, 60.0, 100.0]],
                   [[100.0, 30.0, 60.0, 20.0], [60.0, 20.0, 50.0, 100.0],
                    [60.0, 30.0, 60.0, 100.0]]])


def _paths(prices=PRICES, dates=(D0, D1, D2)):
    return MonteCarloPaths(tuple(dates), ("AAA", "BBB", "CCC", "DDD"), prices, 0.07, 0)


def test_a_path_below_the_min_cash_sells_in_min_tax_order_by_hand():
    """$5,000 of cash, min_cash $5,000. Step 1 withdraws $10,000 and sells the AAA lot
    (the expected path's step raised the withdrawal and bought AAA with the cash above
    the floor). Path 1 (AAA at 150): the sale raises $15,000, cash $10,000, $5,000 buys
    AAA; nothing more is sold. Path 2 (AAA at 60): the sale raises $6,000, cash $1,000:
    $4,000 short. It sells the short-term loss first (BBB, all $2,000: -$1,000), then the
    long-term loss (CCC, $2,000 of its $5,000: 40 %, -$400), never the DDD gain; cash
    $5,000, nothing bought. At the horizon (BBB 30, CCC 60) path 2 is worth 60 x 60 +
    100 x 100 + 5,000 = $18,600 (on main: its cash stayed at $1,000 and it held BBB and
    CCC: $20,000), path 1 33.33 x 150 + 3,000 + 6,000 + 10,000 + 5,000 = $29,000. Its
    taxes are those of a schedule that sells exactly those lots at step 1."""
    s1 = _step(1, D1, flow=-10_000.0, sell=[(0, 1.0, True)], buy=[(4, 1.0)], keep=5_000.0,
               restore=5_000.0)
    steps = (_step(0, D0, restore=5_000.0), s1, _step(2, D2))
    out = revalue(_schedule(steps), _paths(), _ctx(), D2, 0.04)
    assert out.value_end.tolist() == pytest.approx([29_000.0, 18_600.0])
    assert out.restored_by_year.ravel().tolist() == pytest.approx([0, 0, 0, 0, 4_000.0, 0])
    # without the step's restore (the replay on main) path 2 ends $1,400 higher
    old = revalue(_schedule((steps[0], replace(s1, restore=None), steps[2])), _paths(),
                  _ctx(), D2, 0.04)
    assert old.value_end.tolist() == pytest.approx([29_000.0, 20_000.0])
    # path 2's figures are those of scheduling the sales the restore chose
    explicit = _step(1, D1, flow=-10_000.0, sell=[(0, 1.0, True), (1, 1.0, False),
                                                   (2, 0.4, True)], keep=5_000.0)
    one = revalue(_schedule((steps[0], explicit, steps[2])), _paths(PRICES[1:]), _ctx(),
                  D2, 0.04)
    assert out.tax_by_year[1].tolist() == pytest.approx(one.tax_by_year[0].tolist(), abs=1e-6)
    assert out.liquidation_tax[1] == pytest.approx(one.liquidation_tax[0], abs=1e-6)
    assert out.wealth[1] == pytest.approx(one.wealth[0], abs=1e-6)
    assert out.tax_by_year[1, 1] < 0  # the year's net loss offsets ordinary income


@pytest.mark.parametrize("how", ["ledger lock", "purchase within 30 days"])
def test_the_restore_never_sells_a_locked_name_at_a_loss(how):
    """As above, but BBB may not be sold at a loss at step 1: the ledger locks it (shares
    bought in the last 30 days), or the schedule buys BBB 20 days later (a loss sale then
    would be washed). Path 2 skips BBB and sells $4,000 of CCC (80 %, -$800 long-term);
    the same as scheduling that sale. With CCC not to be sold either (``no_sell``), it
    sells $4,000 of DDD (40 %: a $3,200 long-term gain)."""
    d_buy = D1 + dt.timedelta(days=20)
    lock = ("BBB",) if how == "ledger lock" else ()
    s1 = _step(1, D1, flow=-10_000.0, sell=[(0, 1.0, True)], buy=[(4, 1.0)], keep=5_000.0,
               restore=5_000.0, no_loss=lock)
    later = _step(2, d_buy, buy=[] if lock else [(5, 1.0)])
    dates = (D0, D1, d_buy, D2)
    prices = np.concatenate([PRICES[:, :2], PRICES[:, 1:2], PRICES[:, 2:]], axis=1)

    def sched(s1_, sells_after=()):
        s = Schedule(("L1", "L2", "L3", "L4", "L5", "L6"),
                     ("AAA", "BBB", "CCC", "DDD", "AAA", "BBB"),
                     np.array([100.0, 100.0, 100.0, 100.0, 0.0, 0.0]),
                     np.array([5000.0, 3000.0, 6000.0, 2000.0, 0.0, 0.0]),
                     np.ones(6, dtype=bool), 5_000.0,
                     (_step(0, D0), s1_, later, _step(3, D2)),
                     lot_lt_from=np.array([LONG, SHORT, LONG, LONG, LONG, LONG]))
        return s

    ctx = _ctx()
    out = revalue(sched(s1), _paths(prices, dates), ctx, D2, 0.04)
    assert out.restored_by_year[1, 1] == pytest.approx(4_000.0)
    explicit = _step(1, D1, flow=-10_000.0, sell=[(0, 1.0, True), (2, 0.8, True)],
                     buy=[(4, 1.0)], keep=5_000.0)
    one = revalue(sched(explicit), _paths(prices[1:], dates), ctx, D2, 0.04)
    assert out.tax_by_year[1].tolist() == pytest.approx(one.tax_by_year[0].tolist(), abs=1e-6)
    assert out.value_end[1] == pytest.approx(one.value_end[0])
    # ... and with CCC not to be sold, DDD's gain
    out = revalue(sched(replace(s1, no_sell=frozenset({"CCC"}))), _paths(prices, dates),
                  ctx, D2, 0.04)
    explicit = _step(1, D1, flow=-10_000.0, sell=[(0, 1.0, True), (3, 0.4, True)],
                     buy=[(4, 1.0)], keep=5_000.0)
    one = revalue(sched(explicit), _paths(prices[1:], dates), ctx, D2, 0.04)
    assert out.tax_by_year[1].tolist() == pytest.approx(one.tax_by_year[0].tolist(), abs=1e-6)
    assert out.tax_by_year[1, 1] > 0


def test_the_restore_order_is_the_ledgers_min_tax_relief():
    """Five lots of one name at $50: the replay raising $12,500 (250 shares) relieves the
    lots the ledger's min-tax relief does (short-term loss, long-term loss, then the
    long-term gains lowest gain first): the same short- and long-term gains to the cent
    (-$1,000 short-term; -$500 + $250 long-term)."""
    day = dt.date(2027, 12, 31)
    lots = [  # (basis per share, acquired)
        (40.0, dt.date(2020, 3, 2)), (60.0, dt.date(2027, 6, 1)), (55.0, dt.date(2021, 5, 3)),
        (30.0, dt.date(2027, 9, 1)), (45.0, dt.date(2022, 1, 4))]
    led = Ledger([Account("t", relief=LotRelief.MIN_TAX)])
    ids = [led.add_lot("t", "XYZ", Decimal(100), Decimal(repr(100 * b)), d) for b, d in lots]
    lt_on = {lt_.lot_id: lt_.long_term_on() for lt_ in led.lots()}
    lt_from = [lt_on[i].toordinal() for i in ids]
    led.sell(day, "t", "XYZ", Decimal(250), Decimal(50), method=LotRelief.MIN_TAX)
    disp = led.dispositions(as_decimal=True)
    want = {t: sum((g for g, term in zip(disp.gain_loss, disp.term, strict=True)
                    if term == t), Decimal(0)) for t in ("ST", "LT")}
    assert (want["ST"], want["LT"]) == (Decimal(-1000), Decimal(-250))

    sched = Schedule(tuple(f"L{i}" for i in range(5)), ("XYZ",) * 5, np.full(5, 100.0),
                     np.array([100 * b for b, _ in lots]), np.ones(5, dtype=bool), 0.0,
                     (_step(0, day, restore=12_500.0),), lot_lt_from=np.array(lt_from))
    rules = _RestoreRules(sched)
    sh, basis = np.tile(sched.lot_shares, (1, 1)), np.tile(sched.lot_basis, (1, 1))
    cash, st, lt = np.zeros(1), np.zeros(1), np.zeros(1)
    rules.apply(sched.steps[0], np.full((1, 1), 50.0), np.zeros(5, dtype=int), sh, basis,
                cash, st, lt)
    assert cash.tolist() == pytest.approx([12_500.0])
    assert (round(st[0], 2), round(lt[0], 2)) == (float(want["ST"]), float(want["LT"]))
    left = {lt_.lot_id: float(lt_.shares) for lt_ in led.lots()}
    assert sh[0].tolist() == pytest.approx([left.get(i, 0.0) for i in ids])
    assert sh[0].tolist() == pytest.approx([100.0, 0.0, 0.0, 100.0, 50.0])


def test_restore_order_puts_lots_not_allowed_last():
    value = np.array([[100.0, 100.0, 100.0, 100.0]])
    gain = np.array([[-10.0, 10.0, -50.0, 5.0]])
    order = restore_order(value, gain, np.array([True, True, True, False]),
                          np.array([[True, True, False, True]]))
    # the long-term loss, the long-term gain, the short-term gain, then the locked lot
    assert order.tolist() == [[0, 1, 3, 2]]


def test_a_withdrawal_the_paths_prices_do_not_cover_is_raised_on_every_path():
    """Young-pro with min_cash = $20,000 and a $30,000 withdrawal a year: the expected
    path's trading steps keep $20,000 (their schedule records it); replayed on the
    expected path's own prices the replay sells nothing more (it reproduces the ledger);
    on Monte Carlo paths where the scheduled sales raise less than the withdrawal the
    replay sells more, and only those paths' wealth differs from the replay without it
    (main's)."""
    c = load_client(clients_dir() / "young-pro" / "profile.toml")
    acc = replace(c.profile.accounts[0], min_cash=20_000.0)
    setup = prepare(replace(c, profile=replace(c.profile, accounts=(acc,))))
    s = TransitionSettings(horizon_years=2, steps_per_year=2, workers=1, mc_paths=300)
    a = run_transition(setup, ["3y:flow=-30000"], s)
    run = next(r for r in a.runs if r.plan.name.startswith("3y") and r.path == "expected")
    sched = run.schedule
    assert sched is not None
    assert [x.restore for x in sched.steps] == [20_000.0] * 4 + [None]
    o = run.mc
    raised = o.restored_by_year.sum(axis=1)
    assert 0 < (raised > 0).sum() < len(raised)
    off = replace(sched, steps=tuple(replace(x, restore=None) for x in sched.steps))
    from pma_lab.plan.transition import _mc_paths
    paths = _mc_paths(setup, setup.taxable_accounts()[0],
                      step_dates(setup.as_of, s.horizon_years, s.steps_per_year), s)
    ctx = _tax_context(setup, list(run.years.year))
    rate = _cash_rate(setup, s).rate
    dates = step_dates(setup.as_of, s.horizon_years, s.steps_per_year)
    again = revalue(sched, paths, ctx, dates[-1], rate)
    assert again.wealth.tolist() == o.wealth.tolist()
    old = revalue(off, paths, ctx, dates[-1], rate)
    differs = ~np.isclose(old.wealth, again.wealth, rtol=0, atol=0.005)
    assert (differs == (raised > 0)).all()
    # on the expected path's own prices nothing more is sold
    exp = expected_path(setup.prices, dates, s.expected_return)
    tick = sorted(set(sched.lot_ticker))
    own = MonteCarloPaths(tuple(dates), tuple(tick), exp.prices[tick].to_numpy()[None],
                          0.07, 0)
    mine = revalue(sched, own, ctx, dates[-1], rate)
    assert mine.restored_by_year.sum() == 0
    assert mine.wealth[0] == pytest.approx(run.after_tax_wealth, abs=0.5)


def test_hold_restores_only_a_negative_balance():
    """Hold never sells but to raise a withdrawal: its steps keep $0 (not the min_cash)."""
    c = load_client(clients_dir() / "young-pro" / "profile.toml")
    acc = replace(c.profile.accounts[0], min_cash=20_000.0)
    setup = prepare(replace(c, profile=replace(c.profile, accounts=(acc,))))
    s = TransitionSettings(horizon_years=1, steps_per_year=2, workers=1, mc_paths=0)
    dates = step_dates(setup.as_of, s.horizon_years, s.steps_per_year)
    run = simulate(setup, parse_plan("hold:flow=-30000"), expected_path(
        setup.prices, dates, s.expected_return), s, record=True)
    assert {x.restore for x in run.schedule.steps} - {None} == {0.0}
    assert run.schedule.steps[-1].restore is None


@pytest.mark.parametrize(("client", "withdraws", "said"), [
    ("retiree", False, False),  # no min_cash, no withdrawal, no bond sleeve: never applies
    ("retiree", True, True),  # a withdrawal the paths' lower prices may not cover
    ("roth-household", False, True),  # min_cash = 5,000 kept at every step
    ("balanced-6040", False, True),  # the bond sleeve's moves take cash from the equities
])
def test_the_restore_sentence_is_stated_only_where_it_can_apply(client, withdraws, said):
    """The Monte Carlo assumption says a path below the cash a step keeps sells more only
    for a client whose steps keep cash: a withdrawal, a min_cash floor or a bond sleeve
    (on main it was stated for every client, 7 of the 9 demo clients for nothing)."""
    from pma_lab.plan.analysis import _MC_OVER, _MC_RESTORES, _MC_SHORT, _assumptions

    setup = prepare(load_client(clients_dir() / client / "profile.toml"))
    s = TransitionSettings(horizon_years=1, steps_per_year=1, mc_paths=2)
    dates = step_dates(setup.as_of, 1, 1)
    mc = MonteCarloPaths(tuple(dates), ("AAA",), np.ones((2, len(dates), 1)), 0.07, 0)
    acc = setup.taxable_accounts()[0]
    text = _assumptions(setup, s, (), _cash_rate(setup, s), mc, account_id=acc,
                        withdraws=withdraws)
    mc_sentence = next(a for a in text if a.startswith("Monte Carlo: 2 paths"))
    assert (_MC_RESTORES in mc_sentence) is said, mc_sentence
    assert (_MC_SHORT in mc_sentence) is withdraws  # a withdrawal a path cannot pay
    # ... and one its sales pay beyond the gains budget (session 18: "the plan's gain
    # budget kept on each path" was said though the sales for a withdrawal are not scaled)
    assert (_MC_OVER in mc_sentence) is withdraws
    assert mc_sentence.endswith("; probability below the diversified plan compares with "
                                "'immediate' on the same path.")


def test_a_withdrawal_a_path_cannot_pay_withdraws_what_there_is_by_hand():
    """$5,000 of cash and a $35,000 withdrawal at step 1 (hold-like: the step sells only to
    raise it). Path 1 (AAA 150, BBB 20, CCC 50, DDD 100: $32,000 of lots) pays it. Path 2
    (AAA 60: $23,000 of lots) sells every lot and still lacks $7,000: the step withdraws
    the $28,000 there is and records $7,000 of shortfall, owed at the cash rate (1 % to the
    horizon here), so its after-tax value is that of withdrawing $28,000 less $7,070. On
    main its cash went to -$7,000 and the shortfall was nowhere said."""
    from pma_lab.plan.montecarlo import outcomes_table, shortfall_note

    s1 = _step(1, D1, flow=-35_000.0, restore=0.0)
    last = replace(_step(2, D2), cash_growth=1.01)
    out = revalue(_schedule((_step(0, D0, restore=0.0), s1, last)), _paths(), _ctx(), D2,
                  0.04)
    assert out.shortfall_by_year.ravel().tolist() == pytest.approx([0, 0, 0, 0, 7_000.0, 0])
    assert out.shortfall_owed.tolist() == pytest.approx([0.0, 7_070.0])
    assert out.short_paths().tolist() == [False, True]
    assert out.restored_by_year[1, 1] == pytest.approx(23_000.0)  # every lot, then short
    assert out.value_end[1] == 0.0 and out.value_end[0] > 0
    # path 2 is the replay of withdrawing what there was ($28,000), less what it owes
    paid = revalue(_schedule((_step(0, D0, restore=0.0), replace(s1, flow=-28_000.0),
                              last)), _paths(PRICES[1:]), _ctx(), D2, 0.04)
    assert paid.shortfall_by_year.sum() == 0
    assert out.wealth[1] == pytest.approx(paid.wealth[0] - 7_070.0, abs=1e-6)
    assert out.tax_by_year[1].tolist() == pytest.approx(paid.tax_by_year[0].tolist())
    row = outcomes_table(["hold"], [out], None).iloc[0]
    assert (row.paths_short, row.shortfall_median, row.shortfall_max) == (1, 7_000.0, 7_000.0)
    assert shortfall_note(1, 2, 7_000.0, 7_000.0) == (
        "on 1 of 2 Monte Carlo paths the account could not pay every withdrawal even after "
        "selling all it may sell: short by $7,000 over the horizon on the middle of those "
        "paths, $7,000 at most; each withdrew what there was, and its after-tax value counts "
        "the rest as owed at the cash rate")
    assert shortfall_note(0, 2, 0.0, 0.0) == ""


def test_the_proposal_says_how_many_paths_could_not_pay_the_withdrawals():
    """young-pro withdrawing $250,000 a year for 2 years: the second withdrawal is most of
    the account, and on the paths where prices fell selling everything does not pay it.
    The comparison (the proposal's, the dashboard's and the command line's note), page one
    (the client's own plan) and the assumptions say so, with the figures of the paths."""
    from pma_lab.paths import client_profile
    from pma_lab.plan.montecarlo import shortfall_note
    from pma_lab.report import proposal as report

    setup = prepare(load_client(client_profile("young-pro")))
    a = run_transition(setup, ["2y:flow=-250000"], TransitionSettings(
        horizon_years=2, steps_per_year=4, workers=1, mc_paths=100))
    c = a.comparison.set_index("plan")
    notes = report.comparison_table(a).frame.note
    for r in a.runs:
        o, row = r.mc, c.loc[r.plan.name]
        short = o.short_paths()
        assert 0 < short.sum() < 100 and row.paths_short == short.sum()
        assert (o.shortfall_by_year[:, 0] == 0).all()  # the first year's is paid from cash
        assert (o.value_end[short] == 0).all() and (o.value_end[~short] > 0).all()
        total = o.shortfall_by_year.sum(axis=1)[short]
        assert row.shortfall_median == pytest.approx(np.median(total))
        assert row.shortfall_max == pytest.approx(total.max())
        said = shortfall_note(int(row.paths_short), 100, row.shortfall_median,
                              row.shortfall_max)
        assert said.startswith(f"on {short.sum()} of 100 Monte Carlo paths the account "
                               "could not pay every withdrawal") and notes[r.plan.name] \
            .endswith(said)
    mine = c[c.is_client_plan].iloc[0]
    page = str(report.recommendation(setup, a))
    assert f"On {mine.paths_short} of 100 Monte Carlo paths the account could not pay" in page
    assert any("withdraws what there is, and the rest is its shortfall" in x
               for x in a.assumptions)


def test_the_replay_runs_on_one_blas_thread(monkeypatch, blas_threads):
    """revalue's per-step products over every path run with one OpenBLAS thread (issue 16:
    waking the others cost more CPU than the products), and the count is restored."""
    import pma_lab.plan.montecarlo as mc

    count = blas_threads.count
    blas_threads.set(2)
    seen = []
    monkeypatch.setattr(mc, "_revalue", lambda *a: seen.append(count()) or "replayed")
    assert mc.revalue(None, None, None, D2, 0.04) == "replayed"
    assert seen == [1] and count() == 2
