"""The solve strategies live in :mod:`pma_lab.optimize.strategies` (split out of
``rebalance.py``, issue 15): a registry by method name, one function per method."""

from __future__ import annotations

import pytest

from pma_lab.errors import SettingsError
from pma_lab.modes import Method
from pma_lab.optimize import strategies
from pma_lab.optimize.strategies import STRATEGIES, strategy


def test_every_method_has_a_strategy_and_nothing_else_is_registered():
    assert list(STRATEGIES) == [m.value for m in Method]
    assert STRATEGIES["two_step"] is strategies.two_step
    assert STRATEGIES["relaxed"] is strategies.relaxed
    assert STRATEGIES["enumerate"] is strategies.enumerate_signs
    with pytest.raises(TypeError):
        STRATEGIES["mine"] = strategies.relaxed  # read-only: not changed by accident


@pytest.mark.parametrize("name", [Method.RELAXED, "relaxed"])
def test_a_method_or_its_name_gives_its_strategy(name):
    m, run = strategy(name)
    assert m is Method.RELAXED and run is strategies.relaxed


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(SettingsError) as e:
        strategy("two-step")
    msg = str(e.value)
    assert msg.startswith("solve(method='two-step'): must be one of")
    assert all(repr(k) in msg for k in STRATEGIES)
    assert "did you mean 'two_step'?" in msg
    with pytest.raises(SettingsError, match=r"efficient_frontier\(method='best'\)"):
        strategy("best", "efficient_frontier(method='best')")
