"""Objective terms of the rebalance: tracking variance, tax and trading cost.

Each term is written once and used twice: compiled into the cvxpy problem (DPP: the data
enter as constants, everything that changes between solves is a Parameter owned by the
problem) and evaluated on a trade for reports, the whole-share step and the result's
summary. Weights are fractions of the account's value ``V`` (see
:mod:`pma_lab.optimize.rebalance` for the notation).

* :class:`TrackingVariance`: ``TE^2 = ||B' a||^2 + ||d o a||^2`` of the active look-through
  weights ``a`` against the target, with ``B = X chol(F)`` and ``d = sqrt(specific var)``;
  numerically ``(X'a)' F (X'a) + a' diag(d^2) a``. It lives next to the risk model, in
  :mod:`pma_lab.portfolio.tracking` (the stages below ``optimize`` use it too), and is
  re-exported here.
* :class:`TaxTerm`: the optimizer's linear tax ``sum_j rho_j g_j x_j`` of lot sales ``x``
  (the ledger's Schedule D tax is computed separately, from the trades replayed).
* :class:`TradingCost`: ``spread * (sum b + sum x)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from pma_lab.portfolio.tracking import TrackingVariance

__all__ = ["TrackingVariance", "TaxTerm", "TradingCost", "lot_rates"]


def lot_rates(short_term: np.ndarray, st_rate: float, lt_rate: float) -> np.ndarray:
    """Each lot's rate in the optimizer's tax term: ``st_rate`` where ``short_term``.

    The one definition of :attr:`TaxTerm.rate`, read by the problem
    (:func:`pma_lab.optimize.formulate.problem_data`) and by the plan's bound on what a
    maintenance trade can save (:func:`pma_lab.plan.simulation._nothing_to_maintain`),
    which is an upper bound only while both use the same rates.
    """
    return np.where(np.asarray(short_term, dtype=bool), st_rate, lt_rate)


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
