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
