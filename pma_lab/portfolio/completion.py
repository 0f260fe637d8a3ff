"""Active + index core equity: a direct-indexed completion sleeve around an active manager.

An account holds an **active sleeve** (a manager's model portfolio, given as a weights file
``ticker, weight[, date]`` updated on dates; read with
:func:`pma_lab.market.benchmark.read_benchmark_weights`) in a share ``alpha`` of its value and a
**completion sleeve** ``c`` in the rest. The total is ``w = alpha a + (1 - alpha) c``.

The completion sleeve is chosen so the *total* tracks the benchmark in its **factor
exposures** (industry groups and styles: the exposures nobody meant to take), while the
manager's **stock picks** stay: the specific-risk term measures only the completion
sleeve's own departures from the benchmark, not the total's, so the completion sleeve does
not sell what the manager overweights or buy what the manager left out::

    minimise   ||B' (alpha a + (1 - alpha) c - w_b)||^2            factor risk of the total
             + ||(1 - alpha) d o (c - w_b)||^2                     the sleeve's own specific risk
    subject to c >= 0, sum(c) = 1, c_i = 0 for names the client may not buy.

``B = X chol(F)`` and ``d`` are the risk model's (:mod:`pma_lab.portfolio.risk`). With
``preserve_bets=False`` the specific term is the total's (``alpha a + (1 - alpha) c - w_b``),
the naive completion that minimises total tracking error and so undoes the manager's
picks; reports can show both. The problem is built once per risk model and benchmark; the
active model, ``alpha`` and the no-buy mask are Parameters (DPP).

Tax-aware trading of the completion sleeve uses the same lot-level machinery as any
account (its target is :attr:`CompletionResult.completion`); the active sleeve's trades are
the manager's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import pandas as pd

from pma_lab.errors import DataError, InfeasibleError, NotDPPError
from pma_lab.portfolio.risk import RiskModel

__all__ = ["CompletionResult", "CompletionProblem", "active_model_weights",
           "completion_for_client"]


def active_model_weights(path: str, as_of: object) -> pd.Series:
    """The active manager's model weights in force at ``as_of`` (a weights file).

    Raises
    ------
    BenchmarkFileError
        For any problem in the file (see :func:`pma_lab.market.benchmark.read_benchmark_weights`).
    """
    from pma_lab.market.benchmark import benchmark_from_file

    return benchmark_from_file(path, as_of).weights  # type: ignore[arg-type]


@dataclass(frozen=True)
class CompletionResult:
    """The completion sleeve and what it does to the account's exposures.

    Attributes
    ----------
    alpha : float
        Share of the account in the active sleeve.
    completion : pd.Series
        Completion sleeve weights (sum to one), by ticker.
    total : pd.Series
        Account weights ``alpha a + (1 - alpha) c``.
    exposures : pd.DataFrame
        Per factor: ``benchmark``, ``active_sleeve``, ``completion``, ``total`` exposures and
        the active exposures ``active_only`` (the active sleeve held alone) and
        ``total_active`` (the account), so the offsets can be read off.
    te_total : float
        Tracking error of the account against the benchmark.
    te_active_only : float
        Tracking error of the active sleeve alone.
    te_factor_total, te_factor_active_only : float
        Their factor parts.
    preserve_bets : bool
    """

    alpha: float
    completion: pd.Series
    total: pd.Series
    exposures: pd.DataFrame
    te_total: float
    te_active_only: float
    te_factor_total: float
    te_factor_active_only: float
    preserve_bets: bool

    def summary(self) -> pd.Series:
        """Headline figures (decimals)."""
        return pd.Series({"alpha": self.alpha, "te_total": self.te_total,
                          "te_active_only": self.te_active_only,
                          "te_factor_total": self.te_factor_total,
                          "te_factor_active_only": self.te_factor_active_only,
                          "completion_names": int((self.completion > 1e-6).sum())})


class CompletionProblem:
    """The completion-sleeve problem for one risk model and benchmark (see the module docs).

    Parameters
    ----------
    risk : RiskModel
    benchmark : pd.Series
        Benchmark weights by ticker (sum to one; names outside the risk model are an error).
    preserve_bets : bool
        Keep the manager's stock picks (default) or minimise total TE (the naive way).

    Raises
    ------
    DataError
        When the benchmark does not sum to one or names a stock the model does not cover.
    NotDPPError
        If the problem is not DPP (a bug).
    """

    def __init__(self, risk: RiskModel, benchmark: pd.Series, preserve_bets: bool = True):
        self.risk = risk
        self.tickers = list(risk.tickers)
        if abs(float(benchmark.sum()) - 1.0) > 1e-6:
            raise DataError(f"the benchmark weights sum to {float(benchmark.sum()):.6f}, "
                            "not 1")
        self.wb = risk.align(benchmark)
        self.preserve_bets = preserve_bets
        n = len(self.tickers)
        tracking = risk.tracking
        bm, d = tracking.loadings(), tracking.scale()
        self.c = cp.Variable(n, nonneg=True, name="completion")
        self.p_active = cp.Parameter(n, name="alpha_x_active")  # alpha a
        self.p_rest = cp.Parameter(nonneg=True, name="one_minus_alpha")
        self.p_buy_ok = cp.Parameter(n, nonneg=True, name="buy_ok")  # 1 or 0
        total = self.p_active + self.p_rest * self.c
        factor = bm.T @ total - bm.T @ self.wb
        if preserve_bets:
            spec = self.p_rest * cp.multiply(d, self.c - self.wb)
        else:
            spec = cp.multiply(d, total) - d * self.wb
        self.problem = cp.Problem(cp.Minimize(tracking.from_parts(factor, spec)),
                                  [cp.sum(self.c) == 1, self.c <= self.p_buy_ok])
        if not self.problem.is_dpp():
            raise NotDPPError("the completion problem is not DPP; please report this")

    def solve(self, active: pd.Series, alpha: float, no_buy: Iterable[str] = ()
              ) -> CompletionResult:
        """The completion sleeve for an active model held at ``alpha`` of the account.

        Raises
        ------
        DataError
            When ``alpha`` is not in [0, 1), the active weights do not sum to one or name a
            stock the risk model does not cover.
        InfeasibleError
            When every name is restricted.
        """
        if not 0 <= alpha < 1:
            raise DataError(f"alpha {alpha!r}: the active sleeve's share must be at least 0 "
                            "and below 1 (the completion sleeve holds the rest)")
        if abs(float(active.sum()) - 1.0) > 1e-6:
            raise DataError(f"the active model's weights sum to {float(active.sum()):.6f}, "
                            "not 1; fix the model file (weights are never rescaled)")
        a = self.risk.align(active)
        blocked = set(no_buy)
        self.p_active.value = alpha * a
        self.p_rest.value = 1.0 - alpha
        self.p_buy_ok.value = np.array([0.0 if t in blocked else 1.0 for t in self.tickers])
        self.problem.solve(solver=cp.CLARABEL)
        if self.problem.status not in ("optimal", "optimal_inaccurate"):
            raise InfeasibleError(f"the completion sleeve is {self.problem.status}: every "
                                  "name is restricted; lift a restriction")
        c = np.where(self.c.value > 1e-9, self.c.value, 0.0)  # solver round-off below
        w = alpha * a + (1 - alpha) * c
        tracking = self.risk.tracking
        fx = tracking.factor_exposure
        e = pd.DataFrame({"benchmark": fx(self.wb), "active_sleeve": fx(a),
                          "completion": fx(c), "total": fx(w)},
                         index=list(self.risk.factors))
        e["active_only"] = e.active_sleeve - e.benchmark
        e["total_active"] = e.total - e.benchmark
        idx = self.tickers
        return CompletionResult(
            alpha, pd.Series(c, index=idx), pd.Series(w, index=idx), e,
            self.risk.tracking_error(pd.Series(w, index=idx), pd.Series(self.wb, index=idx)),
            self.risk.tracking_error(pd.Series(a, index=idx), pd.Series(self.wb, index=idx)),
            tracking.factor_te(w - self.wb), tracking.factor_te(a - self.wb),
            self.preserve_bets)


def completion_for_client(setup: object, preserve_bets: bool = True) -> CompletionResult:
    """The completion sleeve of a prepared client whose ``[core]`` is ``active_index``.

    The active model in force at the client's date (``core.active_model``), held at
    ``core.active_share``; the benchmark is the client's (restricted to the risk model);
    names the client's screens exclude are not bought by the completion sleeve.

    Raises
    ------
    DataError
        When the profile has no active + index core.
    """
    prof = setup.client.profile  # type: ignore[attr-defined]
    core = getattr(prof, "core", None)
    if core is None or core.equity_sleeve != "active_index":
        raise DataError(f"client {prof.client_id} has no active + index core; set [core] "
                        'equity_sleeve = "active_index" with active_model and active_share')
    active = active_model_weights(str(core.active_model), setup.as_of)  # type: ignore
    bench = setup.benchmark.weights  # type: ignore[attr-defined]
    risk = setup.risk  # type: ignore[attr-defined]
    names = [t for t in risk.tickers if t in set(bench.index) | set(active.index)]
    problem = CompletionProblem(risk.subset(names), bench, preserve_bets)
    blocked = set(names) - set(setup.eligibility.buyable())  # type: ignore[attr-defined]
    return problem.solve(active, float(core.active_share), sorted(blocked))
