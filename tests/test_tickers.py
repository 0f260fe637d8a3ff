"""Ticker hints and the identity table derived from the security master (pma_lab.market.tickers)."""

from __future__ import annotations

import difflib
import random
import string

import pandas as pd
import pytest

from pma_lab.io.ingest import known_tickers
from pma_lab.market.data import load_market
from pma_lab.market.tickers import IdentityTable, TickerSuggester, issuer_links


def test_suggestions_are_one_typo_away_then_difflibs():
    known = known_tickers()
    rnd = random.Random(3)
    words = ["APPL", "GOOGLE", "MSFTT", "BRK.C", "KLA", "NVDIA", "X", ""]
    words += ["".join(rnd.choice(string.ascii_uppercase + ".") for _ in range(rnd.randint(1, 7)))
              for _ in range(400)]
    suggest = TickerSuggester(known, limit=None)
    for w in words:
        typo = [k for k in known if len(k) == len(w) >= 3 and k != w and (
            sum(a != b for a, b in zip(k, w, strict=True)) == 1 or any(
                k == w[:i] + w[i + 1] + w[i] + w[i + 2:] for i in range(len(w) - 1))) and (
            k[0] == w[0] or difflib.SequenceMatcher(None, w, k).ratio() >= 0.75)]
        typo.sort(key=lambda k: (-difflib.SequenceMatcher(None, w, k).ratio(), k))
        got = tuple(difflib.get_close_matches(w, list(known), n=3, cutoff=0.75))
        assert suggest(w) == tuple(dict.fromkeys(typo + list(got)))[:3], w


def test_a_swapped_pair_of_letters_is_suggested_first():
    """Reviewer 1 (session 21): "APPL" was answered "did you mean PPL, APP, PYPL?" (difflib's
    three best), without AAPL; one swap of adjacent letters, the commonest ticker typo, now
    comes first."""
    suggest = TickerSuggester(known_tickers())
    assert suggest("APPL")[0] == "AAPL"
    assert suggest("MSTF")[0] == "MSFT" and suggest("NVAD")[0] == "NVDA"
    assert "AAPL" not in difflib.get_close_matches("APPL", list(known_tickers()), n=3,
                                                   cutoff=0.75)
    # no hint from one letter or two (reviewer 2: "X" was answered "A, C, D")
    assert suggest("X") == ()
    assert suggest("AB") == tuple(difflib.get_close_matches("AB", list(known_tickers()), n=3,
                                                            cutoff=0.75))


def test_suggestions_stop_after_the_limit_and_are_cheap():
    known = known_tickers()
    suggest = TickerSuggester(known, limit=2)
    assert suggest("APPL") and suggest("MSFTT")
    assert suggest("GOOGLE") == ()  # the third distinct word gets no hint
    assert suggest("APPL")  # words already seen keep theirs
    # many distinct unknown tickers in one file: hints for the first 50 only (the speed is
    # measured by benchmarks/bench_tickers.py)
    words = [f"{t[:3]}{c}" for t in ("AAPL", "MSFT", "NVDA") for c in string.ascii_uppercase]
    words = [w for w in words if w not in known and
             difflib.get_close_matches(w, list(known), n=3, cutoff=0.75)][:60]
    many = TickerSuggester(known)
    hinted = [bool(many(w)) for w in words]
    assert len(words) == 60 and all(hinted[:50]) and not any(hinted[50:])


def test_issuer_links_classify_share_classes_and_renames_over_time():
    m = load_market()
    links = issuer_links(m.universe.frame(), m.membership())
    rel = {(r.ticker_a, r.ticker_b): r.relation for r in links.itertuples()}
    for pair in [("DISCA", "DISCK"), ("UA", "UAA"), ("GOOG", "GOOGL"), ("FOX", "FOXA"),
                 ("NWS", "NWSA")]:
        assert rel[pair] == "share_class", pair
    for pair in [("FB", "META"), ("DISCA", "WBD"), ("DISCK", "WBD"), ("BK", "BNY"),
                 ("BALL", "BLL"), ("ABC", "COR")]:
        assert rel[pair] == "renamed", pair
    # the classification follows the membership intervals, not a hand list
    mem = m.membership()
    mem.loc[mem.ticker == "UA", "start_date"] = pd.Timestamp("2022-06-21")  # after UAA left
    rel2 = {(r.ticker_a, r.ticker_b): r.relation
            for r in issuer_links(m.universe.frame(), mem).itertuples()}
    assert rel2[("UA", "UAA")] == "renamed"


def test_default_table_groups_by_issuer():
    t = IdentityTable.default()
    assert t.members("DISCK") == {"DISCA", "DISCK", "WBD"}
    assert t.group("GOOGL") == t.group("GOOG") and t.group("UAA") == t.group("UA")
    assert t.group("AAPL") == "AAPL"
    assert IdentityTable.default() is t  # cached


def test_default_table_names_groups_as_a_client_reads_them():
    """Reviewer 1 (session 20): a lock on Meta read "FB,META"; the renamed-from symbols
    follow the current ones, share classes trading today are listed side by side."""
    t = IdentityTable.default()
    assert t.label("FB") == t.label("META") == "META (was FB)"
    assert t.label("DISCA") == "WBD (was DISCA, DISCK)"
    assert t.label("GOOGL") == "GOOG, GOOGL"
    assert t.label("AAPL") == "AAPL"
    assert t.with_groups([["AAPL", "ZZZZ"]]).label("FB") == "META (was FB)"  # kept


def test_share_classes_that_left_the_index_are_not_former_symbols():
    """Session 23: ``former`` held every symbol outside the current constituents list, so
    UA and UAA (out of the S&P 500, both still trading, both priced) read as symbols no
    longer traded: a lock on a held UAA was named "UAA" without UA, and a lots file's UAA
    was called renamed to UA."""
    t = IdentityTable.default()
    assert not {"UA", "UAA"} & t.former
    assert {"FB", "DISCA", "DISCK", "BK", "RE"} <= t.former  # renamed away
    assert not {"META", "WBD", "GOOG", "EG"} & t.former
    assert t.label("UAA") == "UA, UAA"
    m = load_market()
    assert "UA" in m.prices and "UAA" in m.prices


def test_issuer_links_take_the_constituents_columns_from_the_manifest_vintages():
    import dataclasses

    from pma_lab.errors import MarketDataError

    m = load_market()
    v = m.vintages
    assert [c for _d, c in v.constituent_lists][-1] == v.constituents_column
    base = issuer_links(m.universe.frame(), m.membership(), v)
    assert (base.evidence == "both in the 2021-04-25 constituents list").sum() == 0
    assert set(base.evidence[base.ticker_a == "BK"]) == {
        "never in one constituents list (2021-04-25, 2026-08-08)"}
    # another vintage of the security master, with other column names: same links
    ren = {c: f"members_{i}" for i, (_d, c) in enumerate(v.constituent_lists)}
    other = dataclasses.replace(
        v, constituents_column=ren[v.constituents_column],
        constituent_lists=tuple((d, ren[c]) for d, c in v.constituent_lists))
    universe = m.universe.frame().rename(columns=ren)
    pd.testing.assert_frame_equal(issuer_links(universe, m.membership(), other), base)
    with pytest.raises(MarketDataError, match="'in_sp500_2026_08_08'.*constituent_lists"):
        issuer_links(universe, m.membership(), v)

