from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from pma_lab.errors import DataError, ProfileError, RestrictionError
from pma_lab.io.profile import load_profile
from pma_lab.market.data import load_market
from pma_lab.portfolio.restrictions import HeldAction, Restrictions
from pma_lab.portfolio.screens import (
    CATALOG_PATH,
    ELIGIBILITY_COLUMNS,
    Eligibility,
    ScreenCatalog,
    ScreenFamily,
    ScreenMethod,
    apply_screens,
    load_catalog,
)
from pma_lab.schema import RESTRICTION_CATEGORIES


@pytest.fixture(scope="module")
def catalog() -> ScreenCatalog:
    return load_catalog()


@pytest.fixture(scope="module")
def universe() -> pd.DataFrame:
    return load_market().universe.frame()


@pytest.fixture(scope="module")
def members(universe: pd.DataFrame) -> pd.DataFrame:
    return universe[universe.in_sp500_2026_08_08.astype(bool)].reset_index(drop=True)


def hits(frame: pd.DataFrame, *categories: str) -> set[str]:
    e = apply_screens(frame, Restrictions(categories=categories))
    return set(e.excluded().ticker)


def row(e: Eligibility, ticker: str) -> pd.Series:
    t = e.table
    return t[t.ticker == ticker].iloc[0]


# ----------------------------------------------------------------------------- catalog
def test_catalog_loads_with_every_category(catalog: ScreenCatalog) -> None:
    assert set(catalog.ids) == set(RESTRICTION_CATEGORIES)
    assert catalog.version == "2026.11"
    assert catalog.as_of == dt.date(2026, 11, 22)
    assert catalog.gics_structure == "2023-03-18"
    assert load_catalog() is catalog  # cached
    assert load_catalog(CATALOG_PATH) is catalog
    for sid, s in catalog.screens.items():
        assert s.id == sid
        assert isinstance(s.family, ScreenFamily) and isinstance(s.method, ScreenMethod)
        assert len(s.definition) > 40 and len(s.approximation) > 40, sid
        for t in s.tickers:
            assert t.reason and t.source, (sid, t.ticker)


def test_catalog_is_immutable(catalog: ScreenCatalog) -> None:
    with pytest.raises(TypeError):
        catalog.screens["tobacco"] = catalog.screens["alcohol"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog.screens["tobacco"].name = "x"  # type: ignore[misc]


def test_catalog_tickers_are_in_universe(catalog: ScreenCatalog, universe: pd.DataFrame
                                         ) -> None:
    known = set(universe.ticker)
    listed = {t.ticker for s in catalog.screens.values() for t in s.tickers}
    assert listed and listed <= known


def test_composites_and_rules(catalog: ScreenCatalog) -> None:
    cv = catalog.screen("catholic_values")
    assert cv.method is ScreenMethod.COMPOSITE
    assert {"controversial_weapons", "adult_entertainment"} <= set(cv.includes)
    rules = catalog.rules("catholic_values")
    assert set(rules.key[rules.via == "controversial_weapons"]) == {
        t.ticker for t in catalog.screen("controversial_weapons").tickers}
    sh = catalog.screen("shariah")
    assert {"alcohol", "tobacco", "gambling", "adult_entertainment"} <= set(sh.includes)
    assert sh.gics_industry_codes and sh.gics_2018_sub_industry_codes
    with pytest.raises(RestrictionError, match="did you mean 'tobacco'"):
        catalog.screen("tobaco")


def test_approximations_state_the_limits(catalog: ScreenCatalog) -> None:
    assert "balance-sheet" in catalog.screen("shariah").approximation
    assert "no company" in catalog.screen("civilian_firearms").approximation.lower()
    assert "no company" in catalog.screen("adult_entertainment").approximation.lower()
    assert "controversy" in catalog.screen("human_rights").approximation


# ------------------------------------------------------------------------ broken catalogs
@pytest.fixture(scope="module")
def catalog_text() -> str:
    return CATALOG_PATH.read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "screens.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_unknown_key_is_named_with_fix(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace('[screens.tobacco]\n', '[screens.tobacco]\ncolour = "red"\n')
    with pytest.raises(RestrictionError, match=r"screens\.tobacco\.colour: 'colour' is not a "
                       r"known key.*allowed keys"):
        load_catalog(write(tmp_path, text))


def test_misspelled_key_gets_suggestion(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace('version = "2026.11"', 'verison = "2026.11"')
    with pytest.raises(RestrictionError, match="did you mean 'version'"):
        load_catalog(write(tmp_path, text))


def test_unknown_screen_id(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text + '\n[screens.crypto]\nname = "Crypto"\n'
    with pytest.raises(RestrictionError, match=r"screens\.crypto: 'crypto' is not a screen id"):
        load_catalog(write(tmp_path, text))


def test_missing_screen_id(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace("[screens.tobacco]", "[screens.tobacco_old]")
    with pytest.raises(RestrictionError, match=r"screens\.tobacco: is missing"):
        load_catalog(write(tmp_path, text))


def test_bad_gics_code(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace('"30203010",  # Tobacco', '"30203099",  # Tobacco')
    with pytest.raises(RestrictionError, match=r"screens\.tobacco\.gics_sub_industry_codes\[0\]"
                       r": '30203099' is not a sub-industry code of the GICS 2023-03-18"):
        load_catalog(write(tmp_path, text))


def test_the_gics_structure_is_the_market_datas_manifest(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """Issue 15: the structure's date was a constant in screens.py ("2023-03-18"); it is
    the manifest's ``vintages.gics_structures``, with the same message and fix."""
    import json

    from pma_lab.market.data import clear_market_cache
    from pma_lab.paths import market_dir
    from pma_lab.portfolio.screens import clear_catalog_cache

    src = market_dir()
    dst = tmp_path / "samples" / "market"
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file():
            (dst / f.name).symlink_to(f) if f.suffix == ".parquet" else \
                (dst / f.name).write_bytes(f.read_bytes())
    manifest = json.loads((dst / "manifest.json").read_text())
    for g in manifest["vintages"]["gics_structures"]:
        g["date"] = {"2023": "2024-01-31", "2018": "2018-10-01"}[g["vintage"]]
    (dst / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("PMA_LAB_DATA", str(tmp_path / "samples"))
    clear_market_cache()
    clear_catalog_cache()
    try:
        assert load_market().vintages.gics_structure == "2024-01-31"
        with pytest.raises(RestrictionError) as info:
            load_catalog()
        msg = str(info.value)
        assert "gics_structure: must be '2024-01-31', got '2023-03-18'" in msg
        assert 'write gics_structure = "2024-01-31" and use codes of that structure' in msg
        # the catalog written for that structure loads and carries its date
        fixed = CATALOG_PATH.read_text(encoding="utf-8").replace(
            'gics_structure = "2023-03-18"', 'gics_structure = "2024-01-31"')
        assert load_catalog(write(tmp_path, fixed)).gics_structure == "2024-01-31"
        bad18 = fixed.replace('"40102010",  # Thrifts', '"40102099",  # Thrifts')
        with pytest.raises(RestrictionError, match="the GICS 2018-10-01 structure"):
            load_catalog(write(tmp_path, bad18))
    finally:
        monkeypatch.delenv("PMA_LAB_DATA")
        clear_market_cache()
        clear_catalog_cache()


def test_bad_industry_code_and_2018_code(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace('"401010",  # Banks', '"4010",  # Banks')
    text = text.replace('"40102010",  # Thrifts', '"40102099",  # Thrifts')
    with pytest.raises(RestrictionError) as info:
        load_catalog(write(tmp_path, text))
    msg = str(info.value)
    assert "2 problems" in msg
    assert "screens.shariah.gics_industry_codes[0]: '4010' is not an industry code" in msg
    assert "'40102099' is not a sub-industry code of the GICS 2018-09-29 structure" in msg


def test_unknown_ticker(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace('ticker = "TSN"', 'ticker = "TSNX"')
    with pytest.raises(RestrictionError, match=r"screens\.shariah\.tickers\[0\]\.ticker: 'TSNX'"
                       r" is not in the universe.*did you mean TSN"):
        load_catalog(write(tmp_path, text))


def test_dash_ticker_gets_dot_form_hint(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace('ticker = "HRL"', 'ticker = "BRK-B"')
    with pytest.raises(RestrictionError, match="did you mean BRK.B"):
        load_catalog(write(tmp_path, text))


def test_ticker_entry_needs_reason(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace('reason = "pork: Tyson Foods is a major US pork processor"\n',
                                "")
    with pytest.raises(RestrictionError, match=r"screens\.shariah\.tickers\[0\]\.reason: is "
                       "required"):
        load_catalog(write(tmp_path, text))


def test_include_cycle(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace(
        'includes = ["alcohol", "tobacco", "gambling", "adult_entertainment"]',
        'includes = ["alcohol", "tobacco", "gambling", "adult_entertainment", '
        '"catholic_values"]')
    text = text.replace(
        'includes = ["controversial_weapons", "adult_entertainment", "tobacco", "gambling"]',
        'includes = ["controversial_weapons", "adult_entertainment", "tobacco", "gambling", '
        '"shariah"]')
    with pytest.raises(RestrictionError, match=r"include cycle (catholic_values -> shariah -> "
                       r"catholic_values|shariah -> catholic_values -> shariah).*Fix: remove"):
        load_catalog(write(tmp_path, text))


def test_self_include(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace(
        'includes = ["alcohol", "tobacco", "gambling", "adult_entertainment"]',
        'includes = ["alcohol", "shariah"]')
    with pytest.raises(RestrictionError, match="cannot include itself"):
        load_catalog(write(tmp_path, text))


def test_method_without_rules(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace(
        'definition = "Excludes producers of adult entertainment (pornography)."\ntickers = []',
        'definition = "Excludes producers of adult entertainment (pornography)."')
    with pytest.raises(RestrictionError, match="a 'tickers' screen needs a tickers list"):
        load_catalog(write(tmp_path, text))


def test_all_problems_reported_at_once(tmp_path: Path, catalog_text: str) -> None:
    text = catalog_text.replace('"30203010",  # Tobacco', '"30203099",  # Tobacco')
    text = text.replace('ticker = "TSN"', 'ticker = "TSNX"')
    text = text.replace('family = "values"', 'family = "ethics"', 1)
    with pytest.raises(RestrictionError, match="3 problems") as info:
        load_catalog(write(tmp_path, text))
    assert "nothing was loaded" in str(info.value)
    assert "'ethics' is not a family" in str(info.value)


def test_syntax_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RestrictionError, match="not valid TOML"):
        load_catalog(write(tmp_path, "version = \n"))
    with pytest.raises(RestrictionError, match="does not exist"):
        load_catalog(tmp_path / "nope.toml")


def test_edited_file_is_reloaded(tmp_path: Path, catalog_text: str) -> None:
    p = write(tmp_path, catalog_text)
    assert load_catalog(p).version == "2026.11"
    p.write_text(catalog_text.replace('version = "2026.11"', 'version = "2026.12-draft"'),
                 encoding="utf-8")
    assert load_catalog(p).version == "2026.12-draft"


# ------------------------------------------------------------------------ category hits
def test_tobacco(members: pd.DataFrame) -> None:
    assert hits(members, "tobacco") == {"MO", "PM"}


def test_alcohol(members: pd.DataFrame) -> None:
    assert hits(members, "alcohol") >= {"STZ", "TAP", "BF.B"}


def test_fossil_fuels(members: pd.DataFrame) -> None:
    h = hits(members, "fossil_fuels")
    assert {"XOM", "CVX", "COP", "SLB", "KMI"} <= h
    assert not h & {"NEE", "DUK", "LIN", "AAPL"}
    assert set(members.ticker[members.gics_sector == "Energy"]) == h


def test_gambling_including_2018_classified_names(universe: pd.DataFrame) -> None:
    expected = {"LVS", "WYNN", "MGM", "CZR"} & set(universe.ticker)
    assert "CZR" in expected  # a 2021-only member, classified under the 2018 structure
    assert hits(universe, "gambling") >= expected


def test_shariah(universe: pd.DataFrame, members: pd.DataFrame) -> None:
    h = hits(members, "shariah")
    assert {"JPM", "BAC", "GS", "AXP", "BRK.B", "AIG", "MO", "PM", "STZ", "LVS", "TSN",
            "HRL"} <= h
    assert not h & {"AAPL", "MSFT", "NVDA", "V", "MA", "LLY"}
    assert "PBCT" in hits(universe, "shariah")  # Thrifts & Mortgage Finance (2018 code)


def test_controversial_weapons_and_catholic_values(members: pd.DataFrame,
                                                   catalog: ScreenCatalog) -> None:
    weapons = hits(members, "controversial_weapons")
    assert {"LMT", "NOC", "GD", "BA", "RTX"} <= weapons
    assert weapons == {t.ticker for t in catalog.screen("controversial_weapons").tickers}
    cv = hits(members, "catholic_values")
    assert weapons <= cv
    assert {"PFE", "MO"} <= cv
    assert not cv & {"AAPL", "JPM", "XOM"}
    e = apply_screens(members, Restrictions(categories=("catholic_values",)))
    assert "catholic_values screen (via controversial_weapons): listed:" in row(e, "LMT").reasons


def test_empty_screens_and_human_rights(members: pd.DataFrame, catalog: ScreenCatalog) -> None:
    assert hits(members, "civilian_firearms") == set()
    assert hits(members, "adult_entertainment") == set()
    assert hits(members, "human_rights") == {
        t.ticker for t in catalog.screen("human_rights").tickers}


# ------------------------------------------------------------------ individual restrictions
def test_individual_restrictions_set_flags(universe: pd.DataFrame) -> None:
    r = Restrictions(never_hold=("AAPL",), no_buy=("MSFT",), hold_no_add=("NVDA",))
    e = apply_screens(universe, r)
    a, m, n, x = (row(e, t) for t in ("AAPL", "MSFT", "NVDA", "AMZN"))
    assert (a.can_buy, a.can_hold, a.must_sell, a.hold_no_add) == (False, False, True, False)
    assert (m.can_buy, m.can_hold, m.must_sell, m.hold_no_add) == (False, True, False, False)
    assert (n.can_buy, n.can_hold, n.must_sell, n.hold_no_add) == (False, True, False, True)
    assert (x.can_buy, x.can_hold, x.must_sell, x.hold_no_add) == (True, True, False, False)
    assert a.reasons.startswith("never_hold: restricted by client")
    assert m.reasons.startswith("no_buy: restricted by client")
    assert n.reasons.startswith("hold_no_add: restricted by client")
    assert x.reasons == "" and x.screens == ()
    assert "AAPL" not in e.buyable() and "MSFT" not in e.buyable() and "AMZN" in e.buyable()
    assert list(e.excluded().ticker) == ["AAPL"]


def test_sector_and_industry_exclusions(members: pd.DataFrame) -> None:
    r = Restrictions(exclude_sectors=("Utilities",), exclude_industries=("Banks",))
    e = apply_screens(members, r)
    out = e.excluded()
    utilities = set(members.ticker[members.gics_sector == "Utilities"])
    banks = set(members.ticker[members.gics_industry == "Banks"])
    assert set(out.ticker) == utilities | banks
    assert row(e, "NEE").reasons == "exclude_sectors: GICS sector Utilities excluded by client"
    assert row(e, "JPM").reasons == "exclude_industries: GICS industry Banks excluded by client"
    assert row(e, "JPM").must_sell and not row(e, "JPM").can_buy


def test_screen_beats_hold_no_add(members: pd.DataFrame) -> None:
    e = apply_screens(members, Restrictions(categories=("tobacco",), hold_no_add=("MO",)))
    mo = row(e, "MO")
    assert (mo.can_buy, mo.can_hold, mo.must_sell, mo.hold_no_add) == (False, False, True,
                                                                       False)
    assert "tobacco screen" in mo.reasons and "hold_no_add" in mo.reasons


def test_every_restricted_name_has_a_reason(universe: pd.DataFrame) -> None:
    r = Restrictions(categories=RESTRICTION_CATEGORIES, never_hold=("AAPL",), no_buy=("MSFT",),
                     hold_no_add=("NVDA",), exclude_sectors=("Utilities",),
                     exclude_industries=("Chemicals",))
    e = apply_screens(universe, r)
    t = e.table
    assert list(t.columns) == list(ELIGIBILITY_COLUMNS)
    assert len(t) == len(universe) and t.ticker.is_unique
    assert (t.reasons[~t.can_buy] != "").all()
    assert (t.reasons[t.can_buy] == "").all()
    assert (t.must_sell == ~t.can_hold).all()
    assert not (t.can_buy & ~t.can_hold).any()
    assert all(r.strip() for r in e.excluded().reasons)
    for col in ("can_buy", "can_hold", "must_sell", "hold_no_add"):
        assert t[col].dtype == bool


# ------------------------------------------------------------ what happens to held names
def held(**actions: str) -> tuple[tuple[str, HeldAction], ...]:
    return tuple((k, HeldAction.parse(v)) for k, v in actions.items())


def test_each_restriction_sets_its_own_action_on_held_names(members: pd.DataFrame) -> None:
    r = Restrictions(categories=("tobacco", "fossil_fuels", "gambling"),
                     held=held(fossil_fuels="sell_within:3", gambling="no_buy"))
    e = apply_screens(members, r)
    mo, xom, lvs = row(e, "MO"), row(e, "XOM"), row(e, "LVS")
    # tobacco is not listed: sold now (the default)
    assert (mo.can_buy, mo.can_hold, mo.must_sell, mo.held_action) == (False, False, True,
                                                                       "sell")
    assert (xom.can_buy, xom.can_hold, xom.must_sell, xom.held_action,
            xom.sell_within_years) == (False, False, False, "sell_within:3", 3.0)
    assert (lvs.can_buy, lvs.can_hold, lvs.must_sell, lvs.held_action) == (False, True, False,
                                                                           "no_buy")
    assert pd.isna(mo.sell_within_years) and pd.isna(lvs.sell_within_years)
    effect = e.summary().set_index("restriction").effect
    assert (effect["tobacco"], effect["fossil_fuels"], effect["gambling"]) == (
        "sell", "sell_within:3", "no_buy")
    t = e.table
    assert ((t.must_sell | t.sell_within_years.notna()) == ~t.can_hold).all()


def test_the_strictest_action_wins_for_a_name_hit_twice(members: pd.DataFrame) -> None:
    r = Restrictions(categories=("tobacco", "shariah"),
                     held=held(tobacco="sell_within:5", shariah="sell_within:2"))
    assert row(apply_screens(members, r), "MO").held_action == "sell_within:2"
    r = Restrictions(categories=("tobacco",), never_hold=("MO",),
                     held=held(tobacco="no_buy"))
    assert row(apply_screens(members, r), "MO").held_action == "sell"


def test_held_actions_are_checked(members: pd.DataFrame) -> None:
    with pytest.raises(RestrictionError, match="'alcohol' is not a restriction"):
        apply_screens(members, Restrictions(categories=("tobacco",),
                                            held=held(alcohol="sell")))
    with pytest.raises(RestrictionError, match="never_hold names cannot be kept"):
        apply_screens(members, Restrictions(never_hold=("MO",), held=held(never_hold="no_buy")))
    with pytest.raises(ValueError, match="sell_within:<years>"):
        HeldAction.parse("sell_soon")
    assert str(HeldAction.parse("sell_within:3")) == "sell_within:3"
    assert HeldAction.parse("no_buy").describe() == (
        "never bought; shares held are not force-sold (they may be sold to rebalance or "
        "harvest a loss)")


def test_profile_reads_held_actions_and_names_bad_ones(tmp_path: Path) -> None:
    base = (Path(__file__).parents[1] / "data" / "samples" / "bad" / "base_profile.toml"
            ).read_text()
    good = tmp_path / "good.toml"
    good.write_text(base.replace('categories = ["tobacco"]', 'categories = ["tobacco"]\n'
                                 '[restrictions.held]\ntobacco = "sell_within:2"'))
    (tmp_path / "good_lots.csv").write_text("ticker,acquired,shares,cost_per_share\n")
    prof = load_profile(good)
    assert prof.restrictions.held_action("tobacco") == HeldAction("sell_within", 2)
    bad = tmp_path / "bad.toml"
    bad.write_text(base.replace('categories = ["tobacco"]', 'categories = ["tobacco"]\n'
                                '[restrictions.held]\ntobacco = "sell_within:0"\n'
                                'alcohol = "sell"\nnever_hold = 3'))
    with pytest.raises(ProfileError) as e:
        load_profile(bad)
    where = {i.column: i.code for i in e.value.issues}
    assert where == {"restrictions.held.tobacco": "invalid_value",
                     "restrictions.held.alcohol": "unknown_key",
                     "restrictions.held.never_hold": "wrong_type"}


def test_name_hit_by_two_screens_lists_both(members: pd.DataFrame) -> None:
    e = apply_screens(members, Restrictions(categories=("tobacco", "shariah")))
    mo = row(e, "MO")
    assert mo.screens == ("tobacco", "shariah")
    assert "tobacco screen: GICS sub-industry Tobacco (30203010)" in mo.reasons
    assert "shariah screen (via tobacco): GICS sub-industry Tobacco (30203010)" in mo.reasons
    assert row(e, "JPM").screens == ("shariah",)
    assert row(e, "JPM").reasons == "shariah screen: GICS industry Banks (401010)"


def test_sector_limits_and_tilts_pass_through(members: pd.DataFrame) -> None:
    r = Restrictions(sector_max_weight=(("Information Technology", 0.25),),
                     sector_tilts=(("Health Care", 0.02), ("Energy", -0.01)))
    e = apply_screens(members, r)
    assert e.sector_limits == {"Information Technology": 0.25}
    assert e.sector_tilts == {"Health Care": 0.02, "Energy": -0.01}
    assert e.table.can_buy.all()


def test_pair_fields_take_the_profiles_mapping_shape(members: pd.DataFrame) -> None:
    # reviewer 1 (s25) #13: a dict was accepted, then crashed in apply_screens
    # ("too many values to unpack")
    r = Restrictions(sector_max_weight={"Information Technology": 0.25},
                     sector_tilts={"Health Care": 0.02, "Energy": -0.01},
                     categories=["tobacco"], never_hold="TSLA",
                     held={"tobacco": "sell_within:3"})
    assert r == Restrictions(sector_max_weight=(("Information Technology", 0.25),),
                             sector_tilts=(("Health Care", 0.02), ("Energy", -0.01)),
                             categories=("tobacco",), never_hold=("TSLA",),
                             held=(("tobacco", HeldAction("sell_within", 3)),))
    hash(r)  # still a value (lists are stored as tuples)
    e = apply_screens(members, r)
    assert e.sector_limits == {"Information Technology": 0.25}
    assert e.sector_tilts == {"Health Care": 0.02, "Energy": -0.01}
    assert row(e, "TSLA").must_sell and not row(e, "MO").can_buy
    with pytest.raises(TypeError, match=r"sector_tilts: 'Energy' is not a \(key, value\) pair"):
        Restrictions(sector_tilts=["Energy"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="sector_max_weight: 0.25 is not a mapping"):
        Restrictions(sector_max_weight=0.25)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sell_within:<years>"):
        Restrictions(categories=("tobacco",), held={"tobacco": "sell_in:3"})


def test_summary_with_benchmark_weights(members: pd.DataFrame) -> None:
    caps = members.set_index("ticker").market_cap_usd_2026_08_22.dropna()
    w = caps / caps.sum()
    e = apply_screens(members, Restrictions(categories=("tobacco", "alcohol"),
                                            no_buy=("MSFT",)))
    s = e.summary(w).set_index("restriction")
    assert s.loc["tobacco", "names"] == 2
    assert s.loc["tobacco", "weight"] == pytest.approx(w["MO"] + w["PM"])
    assert s.loc["no_buy", "effect"] == "no_buy"
    assert s.loc["total: cannot hold", "names"] == len(hits(members, "tobacco", "alcohol"))
    assert s.loc["total: cannot buy", "names"] == s.loc["total: cannot hold", "names"] + 1
    assert "weight" not in e.summary().columns
    with pytest.raises(DataError, match="numeric pandas Series"):
        e.summary(w.to_frame())  # type: ignore[arg-type]


def test_universe_indexed_by_ticker_and_unknown_names(universe: pd.DataFrame) -> None:
    e = apply_screens(universe.set_index("ticker"),
                      Restrictions(categories=("tobacco",), never_hold=("ZZZZ", "brk-b")))
    assert not row(e, "BRK.B").can_hold  # dash spelling normalised
    assert e.not_in_universe == ("ZZZZ",)


def test_bad_restrictions_raise(members: pd.DataFrame) -> None:
    with pytest.raises(RestrictionError, match="did you mean 'tobacco'"):
        apply_screens(members, Restrictions(categories=("tobaco",)))
    with pytest.raises(RestrictionError, match="both never_hold and hold_no_add"):
        apply_screens(members, Restrictions(never_hold=("AAPL",), hold_no_add=("AAPL",)))
    with pytest.raises(RestrictionError, match="not a GICS sector"):
        apply_screens(members, Restrictions(exclude_sectors=("Tech",)))
    with pytest.raises(RestrictionError, match="not a GICS industry"):
        apply_screens(members, Restrictions(exclude_industries=("Bank",)))
    with pytest.raises(RestrictionError, match=r"must be a number in \[0, 1\]"):
        apply_screens(members, Restrictions(sector_max_weight=(("Energy", 1.5),)))
    with pytest.raises(DataError, match="'ticker' column"):
        apply_screens(members.drop(columns="ticker"), Restrictions())
    with pytest.raises(DataError, match="gics_sub_industry_code"):
        apply_screens(members.drop(columns="gics_sub_industry_code"), Restrictions())


def test_sample_client_profiles_apply(universe: pd.DataFrame) -> None:
    from pma_lab.paths import clients_dir

    for profile in sorted(clients_dir().glob("*/profile.toml")):
        r = load_profile(profile).restrictions
        e = apply_screens(universe, r)
        assert set(e.hits) >= set(r.categories)

