"""Raw prices and corporate actions on known events (pma_lab.market.corpactions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pma_lab.errors import MarketDataError
from pma_lab.market.corpactions import (
    CorporateActions,
    check_events,
    load_corporate_actions,
    raw_factors,
    trailing_dividend_yield,
    trailing_dividend_yields,
)
from pma_lab.market.data import load_market


@pytest.fixture(scope="module")
def view():
    return load_corporate_actions()


def test_aapl_four_for_one_split_2020(view) -> None:
    # exchange closes: 499.23 on 2020-08-28, 129.04 on 2020-08-31 (first day after 4:1)
    assert view.raw_close("AAPL", "2020-08-28") == pytest.approx(499.23, rel=2e-3)
    assert view.raw_close("AAPL", "2020-08-31") == pytest.approx(129.04, rel=2e-3)
    ev = view.events
    split = ev[(ev.ticker == "AAPL") & (ev.kind == "split")
               & (ev.date == pd.Timestamp("2020-08-31"))]
    assert split.amount.tolist() == [4.0]


def test_amzn_twenty_for_one_split_2022_dated(view) -> None:
    # after the AlphaVantage panel: ratio from raw/adjusted, date from the curated list
    assert view.raw_close("AMZN", "2022-06-03") == pytest.approx(2447.00, rel=5e-3)
    assert view.raw_close("AMZN", "2022-06-06") == pytest.approx(124.79, rel=5e-3)
    # the adjusted close of 2020-06-30 is 1/20 of the exchange close (2758.82)
    assert view.raw_close("AMZN", "2020-06-30") == pytest.approx(2758.82, rel=5e-3)
    assert view.adjusted.at[pd.Timestamp("2020-06-30"), "AMZN"] < 200
    ev = view.events
    s = ev[(ev.ticker == "AMZN") & (ev.kind == "split")]
    assert (s.date == pd.Timestamp("2022-06-06")).any()
    assert view.provenance.set_index("ticker").at["AMZN", "split_dates"] == "dated"


def test_known_dividend_paid_in_raw_dollars(view) -> None:
    # AAPL paid $0.82 a (pre-split) share with ex-date 2020-08-07
    ev = view.events
    d = ev[(ev.ticker == "AAPL") & (ev.kind == "dividend")
           & (ev.date == pd.Timestamp("2020-08-07"))]
    assert d.amount.tolist() == [pytest.approx(0.82)]


def test_total_return_equals_adjusted_return_on_event_days(view) -> None:
    ev = view.events
    for t in ("AAPL", "MSFT", "XOM", "AMZN"):
        raw, adj = view.raw[t], view.adjusted[t]
        mine = ev[(ev.ticker == t) & (ev.date > raw.index[0])]
        for r in mine.drop_duplicates("date").head(40).itertuples():
            i = raw.index.get_loc(r.date)
            day = ev[(ev.ticker == t) & (ev.date == r.date)]
            share = float(np.prod(day[day.kind != "dividend"].amount)) if len(day) else 1.0
            cash = float(day[day.kind == "dividend"].amount.sum())
            total = share * (raw.iloc[i] + cash) / raw.iloc[i - 1]
            assert total == pytest.approx(adj.iloc[i] / adj.iloc[i - 1], rel=1e-9)


def test_rebuilt_raw_close_close_to_exchange_close(view) -> None:
    prov = view.provenance.dropna(subset=["raw_err_median"])
    # measured: median name within 0.06 % of the AlphaVantage close, 90 % within 0.5 %
    assert prov.raw_err_median.median() < 1e-3
    assert (prov.raw_err_median < 5e-3).mean() > 0.85
    assert len(prov) > 450


def test_approximations_are_flagged(view) -> None:
    ev = view.events
    after = ev[ev.date > pd.Timestamp("2021-04-21")]
    assert set(after.source) <= {"derived", "derived_dated"}
    assert (after[after.kind == "dividend"].note.str.contains("approximated")).all()
    assert "adjusted_only" in set(view.provenance.raw_source)
    assert view.source_of("NOT_A_TICKER") == "adjusted_only"


def test_raw_factors_hand_example() -> None:
    idx = pd.date_range("2024-01-01", periods=4, freq="D")
    adj = pd.Series([50.0, 51.0, 52.0, 52.0], index=idx)
    ev = pd.DataFrame({"date": [idx[2], idx[2]], "kind": ["split", "dividend"],
                       "amount": [2.0, 1.0]})
    k = raw_factors(adj, ev)
    # before the event: K = 2 * (1 + 1/52); after: 1
    assert k.tolist() == pytest.approx([2 * (1 + 1 / 52)] * 2 + [1.0, 1.0])


def test_bad_events_name_row_and_column() -> None:
    ev = pd.DataFrame({"date": [pd.Timestamp("2020-01-02")], "ticker": ["X"],
                       "kind": ["merger"], "amount": [1.0], "source": [""], "note": [""]})
    with pytest.raises(MarketDataError, match=r"row 0, column 'kind'"):
        check_events(ev, "raw_events.parquet")
    ev["kind"] = "dividend"
    ev["amount"] = -1.0
    with pytest.raises(MarketDataError, match=r"column 'amount'"):
        check_events(ev, "raw_events.parquet")


def test_raw_close_errors(view) -> None:
    with pytest.raises(MarketDataError, match="not a trading day"):
        view.raw_close("AAPL", "2020-08-29")
    with pytest.raises(MarketDataError, match="no prices"):
        view.raw_close("NOPE", "2020-08-28")


def test_trailing_dividend_yield_2019(view) -> None:
    """Published 2019 yields: AAPL $3.04 a (pre-split) share over $293.65 = 1.04 %,
    XOM $3.43 over $69.78 = 4.92 %; AMZN paid none. The fast path (K rebuilt only after
    the date) gives the full raw view's close."""
    dy = trailing_dividend_yield(load_market(), ["AAPL", "XOM", "AMZN"], "2019-12-31")
    assert dy.as_of == pd.Timestamp("2019-12-31") and dy.start == pd.Timestamp("2018-12-31")
    assert dy.yields["AAPL"] == pytest.approx(3.04 / 293.65, rel=5e-3)
    assert dy.yields["XOM"] == pytest.approx(3.43 / 69.78, rel=5e-3)
    assert dy.yields["AMZN"] == 0.0
    ev = view.events
    paid = ev[(ev.ticker == "XOM") & (ev.kind == "dividend") & (ev.date > dy.start)
              & (ev.date <= dy.as_of)].amount.sum()
    assert dy.yields["XOM"] == pytest.approx(paid / view.raw_close("XOM", dy.as_of),
                                             rel=1e-9)
    assert not dy.approximated and not dy.missing


def test_trailing_dividend_yield_states_what_it_cannot_know(view) -> None:
    """After April 2021 the dividends are derived (flagged); a name without dividend
    data is missing, not a 0 % payer, and a portfolio's yield is that of the covered
    weight, with the coverage."""
    no_data = str(view.provenance.ticker[view.provenance.raw_source == "adjusted_only"]
                  .iloc[0])
    dy = trailing_dividend_yield(load_market(), ["XOM", "AMZN", no_data], "2026-07-31")
    assert "XOM" in dy.approximated and no_data in dy.missing
    y, covered = dy.of(pd.Series({"XOM": 0.25, "AMZN": 0.25, no_data: 0.5}))
    assert covered == pytest.approx(0.5)
    assert y == pytest.approx(0.5 * dy.yields["XOM"])
    assert np.isnan(dy.of(pd.Series({no_data: 1.0}))[0])
    with pytest.raises(MarketDataError, match="before the first close"):
        trailing_dividend_yield(load_market(), ["XOM"], "1990-01-02")


def test_att_yield_after_the_warnermedia_spin_off(view) -> None:
    """AT&T's dividend is $1.11 a year ($0.2775 a quarter) since the 2022 WarnerMedia
    spin-off (AT&T press release of 2022-02-01: "expected annual dividend ... changed from
    $2.08 to $1.11"; first $0.2775 paid 2022-05-02, record 2022-04-14). The derivation used
    to keep the 2021 rate and book the spin-off as a 5/4 split: 7.85 % on 2026-07-31, twice
    the real yield. The spin-off is a share factor on its date, not cash."""
    dy = trailing_dividend_yield(load_market(), ["T", "MMM"], "2026-07-31")
    close = view.raw_close("T", dy.as_of)
    assert dy.yields["T"] == pytest.approx(1.11 / close, rel=1e-6)
    assert 0.035 < dy.yields["T"] < 0.06
    ev = view.events
    t = ev[(ev.ticker == "T") & (ev.date > "2021-04-21")]
    spin = t[t.kind == "share_factor"]
    assert list(spin.date) == [pd.Timestamp("2022-04-11")] and 1.2 < spin.amount.iloc[0] < 1.5
    assert t[t.kind == "split"].empty
    assert set(t[(t.kind == "dividend") & (t.date > "2022-04-11")].amount) == {0.2775}
    # names whose dividends still cannot be told from an undated spin-off are named
    assert "T" not in dy.uncertain and "MMM" in dy.uncertain
    assert "MMM" in dy.caveat(["MMM", "T"]) and dy.caveat(["T"]) == ""


def test_trailing_dividend_yield_is_cached_per_date(view, monkeypatch) -> None:
    """A historical date rebuilds K for every ticker with later events (the slow part):
    once per date and ticker. A second lookup at that date (the household's asset location
    after the proposal's characteristics) rebuilds nothing and gives the same yields; a
    new ticker at that date is rebuilt alone; the raw closes are the full view's."""
    import pma_lab.market.corpactions as ca

    calls: list[str] = []
    real = ca.raw_factors

    def counting(adjusted, events):
        calls.append(str(events.ticker.iloc[0]))
        return real(adjusted, events)

    monkeypatch.setattr(ca, "raw_factors", counting)
    monkeypatch.setattr(ca, "_RAW_CLOSES", {})
    m = load_market()
    first = trailing_dividend_yield(m, ["AAPL", "XOM"], "2019-12-31")
    assert sorted(calls) == ["AAPL", "XOM"]  # both split or paid after 2019
    again = trailing_dividend_yield(m, ["XOM", "AAPL"], "2019-12-31")
    assert sorted(calls) == ["AAPL", "XOM"]
    pd.testing.assert_series_equal(first.yields.sort_index(), again.yields.sort_index())
    trailing_dividend_yield(m, ["AAPL", "MSFT"], "2019-12-31")
    assert sorted(calls) == ["AAPL", "MSFT", "XOM"]
    closes = ca._RAW_CLOSES[(str(m.data_dir), pd.Timestamp("2019-12-31"))]
    for t in ("AAPL", "XOM", "MSFT"):
        assert closes[t] == pytest.approx(view.raw_close(t, "2019-12-31"), rel=1e-9)


def test_trailing_dividend_yield_copies_no_closes_and_sums_the_years_dividends(
        view, monkeypatch) -> None:
    """A proposal asks twice (its plans' dividends, its characteristics table): the yields
    read the prices' calendar and the folder's dividends kept once, and copy the ~500
    names' closes only for a date's raw closes not kept yet (the copy, ~6 ms, and the
    string comparisons over every event were most of its ~20 ms). The yields are the
    year's cash dividends, ex-date in (start, as_of], of each name over its raw close, as
    the events read directly; a name asked twice is asked once."""
    import pma_lab.market.corpactions as ca

    m = load_market()
    names = [*m.prices.tickers[:300], "AAPL", "SPY"]
    copies: list[int] = []
    real = type(m.prices).frame
    monkeypatch.setattr(type(m.prices), "frame",
                        lambda self: copies.append(1) or real(self))
    first = trailing_dividend_yield(m, names, "2026-07-31")  # the raw closes may be kept
    copies.clear()
    y = trailing_dividend_yield(m, names, "2026-07-31")
    assert not copies, "the closes were copied for a date already kept"
    pd.testing.assert_series_equal(first.yields, y.yields, check_exact=True)
    ev = ca._read_events(m)[0]
    div = ev[(ev.kind == "dividend") & (ev.date > y.start) & (ev.date <= y.as_of)]
    paid = div.groupby("ticker")["amount"].sum()
    close = ca._RAW_CLOSES[(str(m.data_dir), y.as_of)]
    for t in ("AAPL", "MSFT", "XOM", "BRK.B"):
        if t in y.yields.index:
            assert y.yields[t] == paid.get(t, 0.0) / close[t]
    assert "SPY" in y.missing and "SPY" not in y.yields.index
    assert y.approximated == frozenset(div.ticker[(div.source != "alphavantage")
                                                  & div.ticker.isin(y.yields.index)])


def test_trailing_dividend_yields_on_many_dates_are_each_dates_own() -> None:
    """The yields of several past dates at once (historical replays) are those of
    trailing_dividend_yield on each date to the bit; XOM's 2008 yield is its published
    $1.37 over $93.69 (1.46 %: only dividends with an ex-date up to the date count),
    different from its 2019 one."""
    m = load_market()
    names = ["AAPL", "XOM", "AMZN", "KO", "O", "META", "NOPE"]
    dates = ["2008-01-02", "2015-06-30", "2019-12-31", "2023-03-31"]
    many = trailing_dividend_yields(m, names, dates)
    assert list(many) == [pd.Timestamp(d) for d in dates]
    for d in dates:
        one, got = trailing_dividend_yield(m, names, d), many[pd.Timestamp(d)]
        assert one.yields.index.equals(got.yields.index)
        assert (one.yields.to_numpy() == got.yields.to_numpy()).all()
        assert (one.as_of, one.missing, one.approximated, one.uncertain) == \
            (got.as_of, got.missing, got.approximated, got.uncertain)
    y08 = many[pd.Timestamp("2008-01-02")]
    assert y08.yields["XOM"] == pytest.approx(1.37 / 93.69, rel=2e-2)
    assert "META" in y08.missing  # not listed until 2012
    assert y08.yields["XOM"] != many[pd.Timestamp("2019-12-31")].yields["XOM"]


def _filled_to_raw(view, adjusted: pd.Series, date) -> pd.Series:
    """``to_raw`` as it was: the factors' history forward-filled, its last row taken."""
    day = pd.Timestamp(date)
    cols = [t for t in adjusted.index if t in view.factors.columns]
    k = view.factors.loc[:day, cols]
    swap = [t for t in cols if t in view.valuation_factors.columns]
    if swap:
        k = k.copy()
        k[swap] = view.valuation_factors.loc[:day, swap]
    return adjusted * k.ffill().iloc[-1].reindex(adjusted.index).fillna(1.0)


def test_to_raw_reads_each_names_last_factor_as_the_forward_fill(view) -> None:
    """Every modelled name, an ETF and names with recent approximated dividends, on a
    trading day, a weekend and the data's last day: the forward fill's figures, bit for bit."""
    market = load_market()
    last = view.factors.index[-1]
    swap = list(view.valuation_factors.columns[:3])
    for date in ("2020-08-31", "2024-03-09", last):
        names = sorted(set(market.prices.tickers[:40]) | set(swap) | {"AAPL", "UNH"})
        adjusted = market.prices.last_valid(date, names)["close"].dropna()
        adjusted = pd.concat([adjusted, pd.Series({"SPY": 500.0})]).rename("px")
        got, want = view.to_raw(adjusted, date), _filled_to_raw(view, adjusted, date)
        assert got.index.equals(want.index) and got.name == want.name
        assert got.to_numpy().tobytes() == want.to_numpy().tobytes(), date


def test_to_raw_with_gaps_in_the_factors() -> None:
    """A name without a factor on the day takes its last one; one with none keeps its
    price; a valuation factor replaces the factor; a date before the data fails as before."""
    days = pd.bdate_range("2024-01-01", periods=4)
    nan = np.nan
    factors = pd.DataFrame({"A": [2.0, 3.0, 4.0, 5.0], "B": [1.5, nan, nan, nan],
                            "C": [nan] * 4, "D": [1.1, 1.2, 1.3, 1.4]}, index=days)
    valuation = pd.DataFrame({"D": [0.9, nan, nan, nan]}, index=days)
    view = CorporateActions(pd.DataFrame(), pd.DataFrame(), factors, factors * 0 + 1,
                            valuation)
    prices = pd.Series({"A": 10.0, "B": 10.0, "C": 10.0, "D": 10.0, "E": 10.0}, name="p")
    got = view.to_raw(prices, days[2])
    assert got.to_dict() == {"A": 40.0, "B": 15.0, "C": 10.0, "D": 9.0, "E": 10.0}
    assert got.to_numpy().tobytes() == _filled_to_raw(view, prices, days[2]).to_numpy(
    ).tobytes()
    with pytest.raises(IndexError):
        view.to_raw(prices, days[0] - pd.Timedelta(days=3))
