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


def test_two_step_starts_its_qps_afresh_where_the_sign_search_steps_aside(monkeypatch):
    """Where the installed sign search gives up (returns ``None``), a pattern solver with
    a ``begin`` method (the frontier's ``_PointDual``) is told before the two-step's own
    solves, so their first QP does not start from the QPs the search tried (session 20:
    otherwise point 12 of the benchmark book's frontier differed from the serial sweep in
    the last bit on two workers); where the search succeeds, it is not."""
    from types import SimpleNamespace

    import numpy as np

    calls: list[str] = []
    monkeypatch.setattr(strategies, "_rounded",
                        lambda p, buy, lot_cap, w_cap: calls.append("two_step") or "optimal")
    solver = SimpleNamespace(begin=lambda: calls.append("begin"))
    p = SimpleNamespace(sign_search=lambda p, buy, lot_cap, w_cap: calls.append("search"),
                        _loss_relevant=lambda: np.array([True]), pattern_solver=solver)
    assert strategies.two_step(p, None, None, None) == "optimal"
    assert calls == ["search", "begin", "two_step"]
    calls.clear()
    p.sign_search = lambda p, buy, lot_cap, w_cap: calls.append("search") or "optimal"
    assert strategies.two_step(p, None, None, None) == "optimal"
    assert calls == ["search"]
    calls.clear()
    p.sign_search = lambda p, buy, lot_cap, w_cap: calls.append("search")
    p.pattern_solver = None  # a plain solver (or none): nothing to tell
    assert strategies.two_step(p, None, None, None) == "optimal"
    assert calls == ["search", "two_step"]
