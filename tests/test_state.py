"""The account state lives in :mod:`pma_lab.optimize.state` (split out of
``rebalance.py``, issue 15); every old import path gives the very same objects."""

from __future__ import annotations

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
