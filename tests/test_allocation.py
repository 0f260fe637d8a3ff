"""Core allocations: cash first, no sale inside the band, sell only back to the band edge."""

from __future__ import annotations

import pytest

from pma_lab.errors import DataError
from pma_lab.portfolio.allocation import CORE_ALLOCATIONS, CoreAllocation, plan_sleeves

SIXTY = CORE_ALLOCATIONS["60/40"]


def test_inside_the_band_nothing_is_sold():
    p = plan_sleeves(SIXTY, equity=640_000, bonds=360_000)  # 64 %: inside 55-65 %
    assert p.moves.empty and p.sell_equity == 0.0 and p.sell_bonds == 0.0


def test_outside_the_band_sell_back_to_the_edge_not_the_target():
    p = plan_sleeves(SIXTY, equity=700_000, bonds=300_000)  # 70 % > 65 %
    assert p.sell_equity == pytest.approx(50_000)  # to 65 % of $1M, not 100,000 to 60 %
    assert p.after.equity_share == pytest.approx(0.65)
    p = plan_sleeves(CORE_ALLOCATIONS["70/30"], equity=500_000, bonds=500_000)  # 50 % < 65 %
    assert p.sell_bonds == pytest.approx(150_000)  # to 65 %
    assert p.after.equity == pytest.approx(650_000)


def test_cash_goes_to_the_underweight_sleeve_before_any_sale():
    # 70 % equity on $1M plus $20,000 of new cash: all of it to bonds, then sell equity
    # to 65 % of $1.02M = $663,000: a sale of $37,000 instead of $50,000
    p = plan_sleeves(SIXTY, equity=700_000, bonds=300_000, cash=20_000)
    assert list(p.moves.destination) == ["bonds", "bonds"]
    assert p.moves.amount.iloc[0] == 20_000
    assert p.sell_equity == pytest.approx(37_000)
    # under target: maturing rungs fund equity without selling a bond
    p = plan_sleeves(SIXTY, equity=520_000, bonds=480_000, maturing=48_000)  # 52 % < 55 %
    assert p.moves.source.iloc[0] == "bonds (maturing rungs)"
    assert p.moves.amount.iloc[0] == pytest.approx(48_000)  # 600,000 - 520,000 > 48,000
    assert p.sell_bonds == 0.0 and p.after.equity_share == pytest.approx(0.568)


def test_bad_inputs():
    with pytest.raises(DataError, match="between 0 and 1"):
        CoreAllocation(1.2)
    with pytest.raises(DataError, match="band"):
        CoreAllocation(0.6, band=0.5)
    with pytest.raises(DataError, match="non-negative"):
        plan_sleeves(SIXTY, equity=-1.0, bonds=1.0)
    with pytest.raises(DataError, match="exceed the ladder"):
        plan_sleeves(SIXTY, equity=1.0, bonds=1.0, maturing=2.0)
    assert SIXTY.label == "60/40" and CoreAllocation(0.7).label == "70/30"


def _profile(tmp_path, extra: str):
    p = tmp_path / "profile.toml"
    p.write_text('schema_version = 1\n[client]\nid = "c"\nname = "C"\nas_of = 2026-07-31\n'
                 '[tax]\nfiling_status = "mfj"\nst_rate = 0.4\nlt_rate = 0.2\n'
                 '[[accounts]]\nid = "taxable"\n[lots]\nfiles = ["lots.csv"]\n' + extra,
                 encoding="utf-8")
    (tmp_path / "lots.csv").write_text("ticker,acquired,shares,cost_per_share\n"
                                       "AAPL,2020-01-02,10,70.0\n", encoding="utf-8")
    return p


def test_profile_core_and_fixed_income_keys_are_checked(tmp_path):
    from pma_lab.errors import ProfileError
    from pma_lab.io.profile import load_profile

    with pytest.raises(ProfileError) as e:
        load_profile(_profile(tmp_path, '[core]\nallocation = "60/40"\n'
                                        'active_model = "m.csv"\n'))
    codes = {(i.column, i.code) for i in e.value.issues}
    assert ("core.allocation", "missing_key") in codes  # a 60/40 needs a ladder
    assert ("core.equity_sleeve", "contradictory") in codes
    assert ("core.active_model", "file_not_found") in codes
    with pytest.raises(ProfileError, match="years must be 5 or 10"):
        load_profile(_profile(tmp_path, "[fixed_income]\nyears = 7\n"))
    p = _profile(tmp_path, "")
    p.write_text(p.read_text().replace('[[accounts]]\nid = "taxable"\n',
                                       '[[accounts]]\nid = "taxable"\nira_kind = "roth"\n'))
    with pytest.raises(ProfileError, match="ira_kind is set on an account of type"):
        load_profile(p)
    ok = load_profile(_profile(tmp_path, '[fixed_income]\nkind = "treasury"\nyears = 10\n'
                                         'amount = 400000.0\n[core]\nallocation = "70/30"\n'))
    assert ok.core.allocation == "70/30" and ok.fixed_income.years == 10


def test_a_band_sale_limited_by_the_gains_budget_says_how_much_of_it_was_made():
    """equity $900,000 and bonds $100,000 in 60/40: the edge is 65 %, so $250,000 must be
    sold; limited to $40,000 (what a gains budget allows), the move sells that and its
    reason says how much of the $250,000 it made and that the rest waits."""
    from pma_lab.portfolio.allocation import CORE_ALLOCATIONS, plan_sleeves

    a = CORE_ALLOCATIONS["60/40"]
    whole = plan_sleeves(a, 900_000.0, 100_000.0)
    assert whole.sell_equity == pytest.approx(250_000.0)
    part = plan_sleeves(a, 900_000.0, 100_000.0, max_sell_equity=40_000.0)
    assert part.sell_equity == pytest.approx(40_000.0)
    assert part.after.equity == pytest.approx(860_000.0)
    why = part.moves.reason.iloc[-1]
    assert "moved $40,000 of the $250,000 needed to reach the band" in why
    assert "the rest over the next years as the budget allows" in why
    assert plan_sleeves(a, 900_000.0, 100_000.0, max_sell_equity=300_000.0).sell_equity \
        == pytest.approx(250_000.0)
