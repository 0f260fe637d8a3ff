"""The factor risk model: estimation, tracking error, decomposition, DPP form."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from pma_lab.benchmark import sp500_proxy
from pma_lab.errors import DataError
from pma_lab.research import bias_test
from pma_lab.risk import STYLES, estimate_risk_model


@pytest.fixture(scope="module")
def model():
    return estimate_risk_model("2024-06-28")


@pytest.fixture(scope="module")
def bench():
    return sp500_proxy("2024-06-28")


def test_shapes_and_positive_definiteness(model):
    n, k = model.exposures.shape
    assert n == len(model.tickers) > 450 and k == len(model.factors)
    assert set(STYLES) <= set(model.factors)
    assert np.all(np.linalg.eigvalsh(model.factor_cov) > 0)
    assert (model.specific_var >= model.settings.specific_vol_floor ** 2).all()
    # each stock belongs to exactly one industry group
    groups = model.exposures[:, : k - len(STYLES)]
    assert np.all(groups.sum(axis=1) == 1)


def test_tracking_error_matches_full_covariance(model, bench):
    w = bench.top(50)
    te = model.tracking_error(w, bench.weights)
    a = model.align(w) - model.align(bench.weights)
    cov = model.covariance()
    assert te == pytest.approx(float(np.sqrt(a @ cov.to_numpy() @ a)), rel=1e-10)
    assert 0.02 < te < 0.08
    assert model.tracking_error(bench.weights, bench.weights) == 0


def test_decomposition_adds_up(model, bench):
    w = bench.top(40)
    by_factor, by_name = model.decompose(w, bench.weights)
    total = model.tracking_error(w, bench.weights) ** 2
    assert by_factor.variance.sum() == pytest.approx(total, rel=1e-9)
    assert by_name.variance.sum() == pytest.approx(total, rel=1e-9)
    assert by_factor.share.sum() == pytest.approx(1.0)


def test_dpp_form(model, bench):
    a = cp.Variable(len(model.tickers))
    expr, params = model.cvx_tracking_variance(a)
    assert expr.is_dcp(dpp=True) and set(params) == {"B", "d"}
    av = model.align(bench.top(30)) - model.align(bench.weights)
    a.value = av
    assert expr.value == pytest.approx(model.tracking_error(bench.top(30), bench.weights) ** 2)


def test_no_look_ahead(model):
    later = estimate_risk_model("2024-07-31", tickers=list(model.tickers[:60]))
    assert later.factor_returns.index.max() <= np.datetime64("2024-07-31")
    assert model.factor_returns.index.max() <= np.datetime64("2024-06-28")


def test_unknown_or_unpriced_tickers_raise(model):
    with pytest.raises(DataError, match="does not cover"):
        model.align({"ZZZZ": 1.0})
    with pytest.raises(DataError, match="cannot model"):
        estimate_risk_model("2024-06-28", tickers=["AAPL", "FB"])


def test_bias_statistic_near_one_in_calm_years():
    df = bias_test(years=[2014, 2016], n_random=5)
    assert len(df) == 2
    assert ((df.mean_ratio > 0.7) & (df.mean_ratio < 1.3)).all()
