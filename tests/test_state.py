"""The account state lives in :mod:`pma_lab.optimize.state` (split out of
``rebalance.py``, issue 15); every old import path gives the very same objects."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import pma_lab
from pma_lab.errors import DataError
from pma_lab.optimize import rebalance, state


@pytest.mark.parametrize("name", ["AccountState", "account_state"])
def test_state_is_the_same_object_from_every_import_path(name):
    obj = getattr(state, name)
    assert obj.__module__ == "pma_lab.optimize.state"
    assert getattr(rebalance, name) is obj
    assert getattr(pma_lab, name) is obj
    assert name in rebalance.__all__ and name in state.__all__


def test_a_fund_the_risk_model_cannot_see_through_is_refused():
    info = pd.DataFrame({"ticker": ["AGG"], "category": ["bond"], "gics_sector": [None]})
    with pytest.raises(DataError, match="AGG .bond. cannot be modelled"):
        state._lookthrough("AGG", ["AAPL"], pd.Series({"AAPL": 1.0}), info,
                           pd.Series({"AAPL": "Information Technology"}))


def test_an_account_worth_nothing_says_what_it_holds_and_how_to_fix_it():
    """A cash balance more negative than the lots are worth: the message gives the lots and
    the cash, a cash flow only when there is one (it said "flow $0.00" for a withdrawal
    already in the cash), and the fix."""
    from test_rebalance import DAY, ETF, SECTORS, TARGET, TAX, ledger, model

    from pma_lab.optimize.state import account_state

    px = pd.Series({"AAA": 100.0, "BBB": 50.0, "CCC": 20.0, "DDD": 4000.0})
    led = ledger([("T", "AAA", 10, 1000, "2018-01-02")])
    with pytest.raises(DataError, match=r"^account T has no value to rebalance on "
                       r"\S+ \(lots \$1,000.00, cash \$-5,000.00\); give it lots or a "
                       r"positive cash balance \(a withdrawal larger than the account "
                       r"cannot be raised: withdraw less\)$"):
        account_state(led, "T", DAY, px, model(), TARGET, TAX, cash=-5_000.0,
                      sectors=SECTORS, etf_info=ETF)


def _per_lot_rows(led, as_of, px):
    """The lots table as the state built it row by row before (the reference)."""
    rows = []
    for lt in led.lots(account="T"):
        p = float(px[lt.ticker])
        value = float(lt.shares) * p
        lto = lt.long_term_on()
        term = "LT" if lto is None or as_of >= lto else "ST"
        rows.append({"lot_id": lt.lot_id, "ticker": lt.ticker, "shares": float(lt.shares),
                     "basis": float(lt.basis), "price": p, "value": value,
                     "gain": value - float(lt.basis), "term": term, "acquired": lt.acquired,
                     "holding_start": lt.holding_start, "long_term_on": lto,
                     "days_to_lt": 0 if term == "LT" else (lto - as_of).days})
    return pd.DataFrame(rows, columns=state._LOT_COLUMNS).astype(
        {"shares": float, "basis": float, "price": float, "value": float, "gain": float,
         "days_to_lt": int})


def test_the_lots_table_is_the_row_by_row_one_to_the_bit():
    """The state's lots are built one column at a time (a frame of per-lot rows cost ~5 ms
    a transition step): the same values to the bit, the same dtypes, inherited lots with
    no long-term date, an empty account typed as before."""
    import datetime as dt
    from decimal import Decimal as D

    from test_rebalance import DAY, ETF, SECTORS, TARGET, TAX, ledger, model

    px = pd.Series({"AAA": 100.3, "BBB": 50.1, "CCC": 20.7, "DDD": 0.1 + 0.2})
    led = ledger([("T", "AAA", "10.5", "1000.07", "2018-01-02"),
                  ("T", "BBB", "3", "170.01", "2026-05-02"),
                  ("T", "DDD", "7.123456", "2.02", "2026-07-30")])
    led.add_lot("T", "CCC", D("1.5"), D("9.99"), dt.date(2026, 1, 5), inherited=True)
    st = state.account_state(led, "T", DAY, px, model(), TARGET, TAX, cash=5.0,
                             sectors=SECTORS, etf_info=ETF)
    want = _per_lot_rows(led, DAY, px)
    assert st.lots.equals(want) and (st.lots.dtypes == want.dtypes).all()
    for c in ("shares", "basis", "price", "value", "gain"):
        assert st.lots[c].to_numpy().tobytes() == want[c].to_numpy().tobytes()
    assert list(st.lots.term) == ["LT", "ST", "LT", "ST"]  # CCC: inherited
    assert st.lots.long_term_on.iloc[2] is None and st.lots.days_to_lt.iloc[1] > 0
    assert st.value == float(want.value.sum()) + 5.0
    empty = state.account_state(ledger([]), "T", DAY, px, model(), TARGET, TAX, cash=5.0,
                                sectors=SECTORS, etf_info=ETF).lots
    ref = _per_lot_rows(ledger([]), DAY, px)
    assert empty.equals(ref) and (empty.dtypes == ref.dtypes).all() and not len(empty)


def test_states_of_one_model_share_its_alignment_until_an_input_changes():
    """A transition's steps build states on the same risk model, target and sectors: the
    target and sectors are aligned to the model once. Another target, sectors or fund held
    aligns them again; a state's sectors are its own (changing them changes no other
    state's)."""
    from test_rebalance import DAY, ETF, SECTORS, TARGET, TAX, ledger, model

    px = pd.Series({"AAA": 100.0, "BBB": 50.0, "CCC": 20.0, "DDD": 10.0, "SPY": 500.0})
    rm = model()
    led = ledger([("T", "AAA", 10, 1000, "2018-01-02")])

    def build(target=TARGET, sectors=SECTORS, lots=led):
        return state.account_state(lots, "T", DAY, px, rm, target, TAX, sectors=sectors,
                                   etf_info=ETF)

    def kept():
        return rm.__dict__["_state_aligned"]

    a = build()
    first = kept()
    b = build()
    assert kept() is first and first.target_of is TARGET and first.sectors_of is SECTORS
    assert list(a.assets) == list(TARGET.index) and a.prices.equals(b.prices)
    a.sectors.iloc[0] = "Changed"
    assert b.sectors.iloc[0] == "Energy" and build().sectors.iloc[0] == "Energy"
    assert first.sectors.iloc[0] == "Energy"
    other = pd.Series({"AAA": 0.5, "CCC": 0.5})
    build(target=other)
    assert kept() is not first and kept().target_of is other
    assert kept().target.tolist()[1] != kept().target.tolist()[1]  # BBB: NaN, not in it
    # a name out of the target is needed only when held: BBB, DDD need no price now
    cheap = build(target=other)
    assert list(cheap.prices.index) == list(TARGET.index)
    renamed = SECTORS.rename({"AAA": "AAA"}).replace("Energy", "Oil")
    assert build(sectors=renamed).sectors.iloc[0] == "Oil"
    fund = build(lots=ledger([("T", "SPY", 1, 400, "2018-01-02")]))
    assert fund.assets[-1] == "SPY" and list(fund.prices.index)[-1] == "SPY"
    assert list(build().prices.index) == list(TARGET.index)


def test_a_states_lot_columns_are_those_read_from_its_lots_table():
    """account_state keeps the columns it built the lots table from as the state's
    lot_columns (reading them back cost as much again): the columns read from the table,
    the same values, types and order, read-only as the table's."""
    import dataclasses

    import numpy as np
    from test_rebalance import DAY, ETF, SECTORS, TARGET, TAX, ledger, model

    px = pd.Series({"AAA": 100.3, "BBB": 50.1, "CCC": 20.7, "DDD": 9.9})
    led = ledger([("T", "AAA", "10.5", "1000.07", "2018-01-02"),
                  ("T", "BBB", "3", "170.01", "2026-05-02"),
                  ("T", "AAA", "2", "100", "2026-07-01")])
    st = state.account_state(led, "T", DAY, px, model(), TARGET, TAX, sectors=SECTORS,
                             etf_info=ETF, must_sell=["BBB"], max_shares={"AAA": 5})
    kept = st.__dict__["_lot_columns"]
    again = state.lot_columns(dataclasses.replace(st))  # read from the table
    assert again is not kept
    for f in dataclasses.fields(state.LotColumns):
        a, b = getattr(kept, f.name), getattr(again, f.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.tolist() == b.tolist() and \
                [type(v) for v in a.tolist()] == [type(v) for v in b.tolist()], f.name
            assert not (a.dtype == float and a.flags.writeable), f.name
        elif isinstance(a, pd.DataFrame):
            assert a is st.lots and b.equals(a), f.name
        else:
            assert a == b, f.name
    # shares per name, summed on first use (a skipped step's state never sums them)
    assert "held" not in kept.__dict__
    want = st.lots.groupby("ticker").shares.sum()
    for held in (kept.held, again.held):
        assert held.equals(want) and held.index.equals(want.index) and held.name == "shares"
    assert kept.held is kept.held
    assert kept.must_sell.tolist() == [False, False, True]  # lots in ticker order
    assert kept.glide.tolist() == [True, True, False]


def test_a_target_changed_in_place_is_aligned_again():
    """Review 14 L2: the alignment kept with the risk model matched the target by identity,
    so a target Series changed in place gave the next state the old target."""
    from pma_lab.optimize.state import _aligned

    tickers = ["AAA", "BBB", "CCC"]
    risk = SimpleNamespace(tickers=tickers)
    target = pd.Series({"AAA": 0.5, "BBB": 0.5})
    sectors = pd.Series({"AAA": "Energy", "BBB": "Utilities", "CCC": np.nan})
    first = _aligned(risk, target, sectors, ())
    assert _aligned(risk, target, sectors, ()) is first  # unchanged: kept
    target["BBB"] = 0.0
    again = _aligned(risk, target, sectors, ())
    assert again is not first and again.target[1] == 0.0
    sectors["AAA"] = "Materials"
    assert _aligned(risk, target, sectors, ()).sectors["AAA"] == "Materials"


def test_a_funds_look_through_is_computed_once_per_target_and_fund_row(monkeypatch):
    """A transition's steps holding a fund built its look-through column at every step
    (~0.9 CPU-ms a state): now once per risk model, target, sectors and
    the fund table's row for it (session 16). The column is the one computed afresh; a
    different category or tracked sector in the fund table is a different column."""
    from test_rebalance import DAY, SECTORS, TARGET, TAX, ledger, model

    calls = []
    real = state._lookthrough

    def counted(asset, *args):
        calls.append(asset)
        return real(asset, *args)

    monkeypatch.setattr(state, "_lookthrough", counted)
    px = pd.Series({"AAA": 100.0, "BBB": 50.0, "CCC": 20.0, "DDD": 40.0, "SPY": 500.0})
    led = ledger([("T", "AAA", 10, 900, "2018-01-02"), ("T", "SPY", 4, 1500, "2019-03-04")])
    rm = model()
    tracker = pd.DataFrame({"ticker": ["SPY"], "category": ["sp500_tracker"],
                            "gics_sector": [None]})
    sector = pd.DataFrame({"ticker": ["SPY"], "category": ["sector_spdr"],
                           "gics_sector": ["Energy"]})
    first = [state.account_state(led, "T", DAY, px, rm, TARGET, TAX, sectors=SECTORS,
                                 etf_info=tracker.copy()) for _ in range(3)]
    assert calls == ["SPY"]
    fresh = real("SPY", list(rm.tickers), TARGET, tracker, SECTORS)
    for st in first:
        assert st.lookthrough[:, 4].tobytes() == fresh.tobytes()
    np.testing.assert_array_equal(fresh, [0.25, 0.25, 0.25, 0.25])
    energy = state.account_state(led, "T", DAY, px, rm, TARGET, TAX, sectors=SECTORS,
                                 etf_info=sector)
    assert calls == ["SPY", "SPY"]
    np.testing.assert_array_equal(energy.lookthrough[:, 4], [0.5, 0.5, 0.0, 0.0])
    # a new target (a model update's) is aligned again, its column computed again
    other = TARGET.copy()
    other["AAA"] = 0.5
    other["BBB"] = 0.0
    again = state.account_state(led, "T", DAY, px, rm, other, TAX, sectors=SECTORS,
                                etf_info=tracker)
    assert calls == ["SPY", "SPY", "SPY"]
    np.testing.assert_array_equal(again.lookthrough[:, 4], [0.5, 0.0, 0.25, 0.25])


def test_the_states_of_one_model_and_target_share_their_assets_index():
    """A result's weights are indexed by the state's assets: the states account_state
    builds on one risk model and target share one index (indexing ~500 tickers again for
    each result cost ~0.4 ms); a state made otherwise (dataclasses.replace) gets its own,
    equal to its assets (session 16)."""
    import dataclasses

    from test_rebalance import DAY, ETF, SECTORS, TARGET, TAX, ledger, model

    px = pd.Series({"AAA": 100.0, "BBB": 50.0, "CCC": 20.0, "DDD": 40.0})
    led = ledger([("T", "AAA", 10, 900, "2018-01-02")])
    rm = model()
    a, b = (state.account_state(led, "T", DAY, px * k, rm, TARGET, TAX, sectors=SECTORS,
                                etf_info=ETF) for k in (1.0, 1.1))
    assert state.asset_index(a) is state.asset_index(b)
    assert list(state.asset_index(a)) == list(a.assets) == ["AAA", "BBB", "CCC", "DDD"]
    c = dataclasses.replace(a, no_buy=frozenset(a.assets))
    assert state.asset_index(c) is not state.asset_index(a)
    assert state.asset_index(c).equals(state.asset_index(a))
    assert state.asset_index(c) is state.asset_index(c)
