"""Active + index completion: the sleeve offsets the active sleeve's factor exposures."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pma_lab.errors import DataError, InfeasibleError
from pma_lab.portfolio.completion import CompletionProblem, active_model_weights
from pma_lab.portfolio.risk import RiskModel

TICKERS = ["A1", "A2", "B1", "B2"]


def two_sector_model() -> RiskModel:
    """Sectors A and B (dummy exposures), factor variance 0.04 each, specific 0.04 each."""
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    return RiskModel(dt.date(2026, 7, 31), tuple(TICKERS), ("A", "B"), x,
                     np.diag([0.04, 0.04]), np.full(4, 0.04), pd.DataFrame(index=TICKERS))


BENCH = pd.Series(0.25, index=TICKERS)


def test_completion_offsets_a_sector_tilt_by_hand():
    # The manager holds only A1 in half the account. With c_A = c_A1 + c_A2 in sector A
    # (split evenly by symmetry), the total's active exposures are +c_A/2 to A and -c_A/2
    # to B, so the objective is 0.04 (c_A/2)^2 x 2 + 0.25 x 0.04 x (c_A - 1/2)^2
    # = 0.02 c_A^2 + 0.01 (c_A - 1/2)^2, least at c_A = 0.01 / 0.06 = 1/6.
    r = CompletionProblem(two_sector_model(), BENCH).solve(pd.Series({"A1": 1.0}), 0.5)
    assert r.completion["A1"] == pytest.approx(1 / 12, abs=1e-6)
    assert r.completion["A2"] == pytest.approx(1 / 12, abs=1e-6)
    assert r.completion["B1"] == pytest.approx(5 / 12, abs=1e-6)
    e = r.exposures
    assert e.active_only["A"] == pytest.approx(0.5)  # the sleeve alone: +50 % in A
    assert e.total_active["A"] == pytest.approx(1 / 12, abs=1e-6)  # offset to +8.3 %
    assert e.total_active["B"] == pytest.approx(-1 / 12, abs=1e-6)
    # the manager's pick stays: A1 is 0.5 + 0.5 / 12 of the account against 0.25
    assert r.total["A1"] == pytest.approx(0.5 + 1 / 24, abs=1e-6)
    assert r.te_factor_total < r.te_factor_active_only


def test_completion_keeps_the_managers_bets_that_naive_tracking_would_undo():
    active = pd.Series({"A1": 0.5, "B1": 0.5})  # sector-neutral stock picks
    keep = CompletionProblem(two_sector_model(), BENCH).solve(active, 0.5)
    assert keep.completion.to_numpy() == pytest.approx([0.25] * 4, abs=1e-6)
    assert keep.total["A1"] == pytest.approx(0.375, abs=1e-6)  # the bet stays
    naive = CompletionProblem(two_sector_model(), BENCH, preserve_bets=False).solve(
        active, 0.5)
    # minimising total TE buys the names the manager left out: the bets are undone
    assert naive.completion.to_numpy() == pytest.approx([0, 0.5, 0, 0.5], abs=1e-3)
    assert naive.te_total == pytest.approx(0.0, abs=1e-3)
    assert keep.te_total > naive.te_total


def test_restrictions_and_bad_inputs():
    p = CompletionProblem(two_sector_model(), BENCH)
    r = p.solve(pd.Series({"A1": 1.0}), 0.5, no_buy=["A2"])
    assert r.completion["A2"] == 0.0
    with pytest.raises(InfeasibleError, match="every name is restricted"):
        p.solve(pd.Series({"A1": 1.0}), 0.5, no_buy=TICKERS)
    with pytest.raises(DataError, match="sum to 0.900000"):
        p.solve(pd.Series({"A1": 0.9}), 0.5)
    with pytest.raises(DataError, match="below 1"):
        p.solve(pd.Series({"A1": 1.0}), 1.0)


def test_active_model_file_is_read_by_date(tmp_path):
    f = tmp_path / "manager.csv"
    f.write_text("date,ticker,weight\n2026-01-02,AAPL,1.0\n2026-07-01,MSFT,0.6\n"
                 "2026-07-01,NVDA,0.4\n", encoding="utf-8")
    assert active_model_weights(str(f), "2026-07-31").to_dict() == {"MSFT": 0.6,
                                                                     "NVDA": 0.4}
