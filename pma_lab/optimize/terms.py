"""Objective terms of the rebalance: tracking variance, tax and trading cost.

Each term is written once and used twice: compiled into the cvxpy problem (DPP: the data
enter as constants, everything that changes between solves is a Parameter owned by the
problem) and evaluated on a trade for reports, the whole-share step and the result's
summary. Weights are fractions of the account's value ``V`` (see
:mod:`pma_lab.optimize.rebalance` for the notation).

* :class:`TrackingVariance`: ``TE^2 = ||B' a||^2 + ||d o a||^2`` of the active look-through
  weights ``a`` against the target, with ``B = X chol(F)`` and ``d = sqrt(specific var)``
  (:mod:`pma_lab.portfolio.risk`); numerically ``(X'a)' F (X'a) + a' diag(d^2) a``, the
  same arithmetic as :meth:`RiskModel.tracking_error`.
* :class:`TaxTerm`: the optimizer's linear tax ``sum_j rho_j g_j x_j`` of lot sales ``x``
  (the ledger's Schedule D tax is computed separately, from the trades replayed).
* :class:`TradingCost`: ``spread * (sum b + sum x)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from pma_lab.portfolio.risk import RiskModel

__all__ = ["TrackingVariance", "TaxTerm", "TradingCost"]


@dataclass(frozen=True, eq=False)
class TrackingVariance:
    """Annualised tracking variance of active weights under a factor risk model.

    Attributes
    ----------
    exposures : np.ndarray
        Factor exposures ``X`` (n, k).
    factor_cov : np.ndarray
        Factor covariance ``F`` (k, k), annualised.
    specific_var : np.ndarray
        Specific variances (n,), annualised.

    Examples
    --------
    >>> import numpy as np
    >>> tv = TrackingVariance(np.eye(2), np.diag([0.04, 0.01]), np.zeros(2))
    >>> round(tv.te(np.array([0.5, -0.5])), 4)
    0.1118
    """

    exposures: np.ndarray
    factor_cov: np.ndarray
    specific_var: np.ndarray

    @classmethod
    def of(cls, risk: RiskModel) -> TrackingVariance:
        """The tracking variance under ``risk``."""
        return cls(risk.exposures, risk.factor_cov, risk.specific_var)

    # ---------------------------------------------------------------- numbers
    def value(self, active: np.ndarray) -> float:
        """``TE^2`` of active weights ``active`` (n,), in the risk model's order."""
        fx = self.exposures.T @ active
        return float(fx @ self.factor_cov @ fx + active @ (self.specific_var * active))

    def te(self, active: np.ndarray) -> float:
        """Tracking error (the square root of :meth:`value`), a fraction."""
        return float(np.sqrt(self.value(active)))

    def sigma(self, active: np.ndarray) -> np.ndarray:
        """Covariance times ``active``: half the gradient of :meth:`value`."""
        x = self.exposures
        return x @ (self.factor_cov @ (x.T @ active)) + self.specific_var * active

    def diagonal(self) -> np.ndarray:
        """Each name's variance ``Sigma_ii`` (the curvature of a one-name move)."""
        x = self.exposures
        return np.einsum("ij,jk,ik->i", x, self.factor_cov, x) + self.specific_var

    # ---------------------------------------------------------------- cvxpy
    def loadings(self) -> np.ndarray:
        """``B = X chol(F)`` (n, k): the factor part is ``||B' a||^2``."""
        k = self.factor_cov.shape[0]
        return self.exposures @ np.linalg.cholesky(self.factor_cov + 1e-12 * np.eye(k))

    def scale(self) -> np.ndarray:
        """``d = sqrt(specific variance)``: the specific part is ``||d o a||^2``."""
        return np.sqrt(self.specific_var)

    @staticmethod
    def from_parts(factor: cp.Expression, specific: cp.Expression) -> cp.Expression:
        """``TE^2`` from the factor exposure ``B' a`` and the scaled specific part ``d o a``."""
        return cp.sum_squares(factor) + cp.sum_squares(specific)

    def compile(self, active: cp.Variable, name: str = "factor_exposure"
                ) -> tuple[cp.Expression, cp.Expression, list[cp.Constraint]]:
        """The term as cvxpy expressions of the active-weight variable ``active``.

        The factor exposure ``f = B' a`` is its own variable, so the dense factor block
        enters the problem once (in ``f == B' a``), however often the term is used (the
        objective and a tracking-error cap).

        Returns
        -------
        tuple
            ``(factor, specific, constraints)``: ``||f||^2``, ``||d o a||^2`` and the
            constraint defining ``f``; ``TE^2 = factor + specific``.
        """
        b = self.loadings()
        f = cp.Variable(b.shape[1], name=name)
        return cp.sum_squares(f), cp.sum_squares(cp.multiply(self.scale(), active)), \
            [f == b.T @ active]


@dataclass(frozen=True, eq=False)
class TaxTerm:
    """The optimizer's linear tax of lot sales (a fraction of the account).

    Attributes
    ----------
    rate : np.ndarray
        Each lot's tax rate (ST or LT).
    gain : np.ndarray
        Each lot's gain per unit of weight sold, zero for a loss whose credit is disallowed
        (a wash-sale locked loss sold in ``"disallow"`` mode).
    """

    rate: np.ndarray
    gain: np.ndarray

    @property
    def coef(self) -> np.ndarray:
        """Tax per unit of weight sold from each lot (negative: a credit)."""
        return self.rate * self.gain

    def value(self, x: np.ndarray) -> float:
        """Tax of lot sales ``x`` (weights), a fraction of the account (times V: USD)."""
        return float(np.dot(self.coef, x))

    def linear(self, x: cp.Expression) -> cp.Expression:
        """The linear tax (losses credited in full) of the lot-sale variable ``x``."""
        return self.coef @ x

    def capped(self, x: cp.Variable, credit_cap: cp.Parameter, st_rate: float
               ) -> tuple[cp.Variable, list[cp.Constraint]]:
        """Tax with the credit for losses capped (``tax_credit="capped"``), as an epigraph.

        The credit cannot exceed the ST rate times (gains realised now plus what the year
        still allows, ``credit_cap``). ``tax`` is a variable so that an aversion Parameter
        multiplies a variable (DPP).
        """
        gains = np.where(self.gain > 0, self.coef, 0.0) @ x
        losses = np.where(self.gain < 0, -self.coef, 0.0) @ x
        usable = credit_cap + st_rate * (np.where(self.gain > 0, self.gain, 0.0) @ x)
        tax = cp.Variable(name="tax")
        return tax, [tax >= gains - losses, tax >= gains - usable]


@dataclass(frozen=True)
class TradingCost:
    """Half spread plus commission per unit of weight traded.

    Attributes
    ----------
    spread : float
        Cost per unit of weight traded.
    """

    spread: float

    def value(self, b: np.ndarray, x: np.ndarray) -> float:
        """Cost of buys ``b`` and lot sales ``x`` (weights), a fraction of the account."""
        return self.spread * float(np.sum(b) + np.sum(x))

    def cvx(self, bought: cp.Expression, sold_total: cp.Expression) -> cp.Expression:
        """The cost of the buy variable ``bought`` and total sales ``sold_total``."""
        return self.spread * (cp.sum(bought) + sold_total)
