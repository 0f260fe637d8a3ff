"""Core allocations: cash first, no sale inside the band, sell only back to the band edge."""

from __future__ import annotations

import pytest

from pma_lab.allocation import CORE_ALLOCATIONS, CoreAllocation, plan_sleeves
from pma_lab.errors import DataError

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
