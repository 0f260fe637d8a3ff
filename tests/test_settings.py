"""The rebalance settings live in :mod:`pma_lab.optimize.settings` (split out of
``rebalance.py``, issue 15); every old import path gives the very same classes."""

from __future__ import annotations

import pytest

import pma_lab
from pma_lab.errors import SettingsError
from pma_lab.optimize import rebalance, settings


@pytest.mark.parametrize("name", ["Budgets", "RebalanceSettings"])
def test_settings_are_the_same_class_from_every_import_path(name):
    cls = getattr(settings, name)
    assert cls.__module__ == "pma_lab.optimize.settings"
    assert getattr(rebalance, name) is cls
    assert getattr(pma_lab, name) is cls
    assert name in rebalance.__all__ and name in settings.__all__


def test_settings_validate_in_their_own_module():
    with pytest.raises(SettingsError, match=r"RebalanceSettings\(spread=-0.01\)"):
        settings.RebalanceSettings(spread=-0.01)
    with pytest.raises(SettingsError, match=r"Budgets\(total=-1\)"):
        settings.Budgets(total=-1)
    s = settings.RebalanceSettings(budgets=settings.Budgets(total=0.0))
    assert s.budgets.total == 0.0 and s.accuracy == 1e-7
