"""Tracking variance: the one place the ex-ante tracking-error formula is written.

Under a factor risk model ``Sigma = X F X' + diag(D)`` (:class:`pma_lab.portfolio.risk.RiskModel`:
exposures ``X`` (n, k), factor covariance ``F`` (k, k), specific variances ``D`` (n,), all
annualised) the tracking variance of active weights ``a`` (n,) is

* numerically ``TE^2 = (X'a)' F (X'a) + a' diag(D) a`` (:meth:`TrackingVariance.value`,
  :meth:`TrackingVariance.te`), with its gradient ``2 Sigma a`` (:meth:`~TrackingVariance.sigma`),
  curvature ``diag(Sigma)`` (:meth:`~TrackingVariance.diagonal`) and Euler contributions
  (:meth:`~TrackingVariance.contributions`);
* in cvxpy the factor form ``||B' a||^2 + ||d o a||^2`` with ``B = X chol(F)`` and
  ``d = sqrt(D)`` (:meth:`~TrackingVariance.expression`, :meth:`~TrackingVariance.compile`,
  :meth:`~TrackingVariance.from_parts`): DPP, never an (n, n) matrix nor ``quad_form``
  with a Parameter.

The risk model's tracking error, the target builder, the completion sleeve, the rebalance
and household problems, the whole-share step, the transition simulation and the Monte
Carlo scenarios all call this term, so a TE in a report is the TE the optimiser used.
``tests/test_tracking.py`` checks each caller against it and scans the package for a new
copy of the formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import cvxpy as cp

    from pma_lab.portfolio.risk import RiskModel

__all__ = ["TrackingVariance"]

JITTER = 1e-12  # added to F's diagonal before its Cholesky factor (F may be singular)


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
        Specific variances ``D`` (n,), annualised.

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
    def factor_exposure(self, weights: np.ndarray) -> np.ndarray:
        """Factor exposures ``X' w`` (k,) of weights ``w`` (n,)."""
        return self.exposures.T @ weights

    def value(self, active: np.ndarray) -> float:
        """``TE^2`` of active weights ``active`` (n,), in the risk model's order."""
        fx = self.exposures.T @ active
        return float(fx @ self.factor_cov @ fx + active @ (self.specific_var * active))

    def te(self, active: np.ndarray) -> float:
        """Tracking error (the square root of :meth:`value`), a fraction."""
        return float(np.sqrt(self.value(active)))

    def factor_te(self, active: np.ndarray, factors: np.ndarray | None = None) -> float:
        """The factor part of the tracking error, ``sqrt((X'a)' F (X'a))``.

        ``factors``: a boolean mask (k,) of the factors counted (default all), e.g.
        :attr:`pma_lab.portfolio.risk.RiskModel.systematic` for the industry and style part.
        """
        fx = self.exposures.T @ active
        if factors is not None:
            fx = np.where(factors, fx, 0.0)
        return float(np.sqrt(fx @ self.factor_cov @ fx))

    def sigma(self, active: np.ndarray) -> np.ndarray:
        """Covariance times ``active``: half the gradient of :meth:`value`."""
        x = self.exposures
        return x @ (self.factor_cov @ (x.T @ active)) + self.specific_var * active

    def diagonal(self) -> np.ndarray:
        """Each name's variance ``Sigma_ii`` (the curvature of a one-name move)."""
        x = self.exposures
        return np.einsum("ij,jk,ik->i", x, self.factor_cov, x) + self.specific_var

    def snapshot(self) -> TrackingVariance:
        """A term with copies of this one's arrays (the arrays can be changed in place)."""
        return TrackingVariance(np.array(self.exposures, copy=True),
                                np.array(self.factor_cov, copy=True),
                                np.array(self.specific_var, copy=True))

    def same_values(self, other: TrackingVariance) -> bool:
        """Whether ``other``'s arrays hold this term's values (dtypes and shapes too)."""
        pairs = ((self.exposures, other.exposures), (self.factor_cov, other.factor_cov),
                 (self.specific_var, other.specific_var))
        return all(np.asarray(p).dtype == np.asarray(q).dtype and np.array_equal(p, q)
                   for p, q in pairs)

    def magnitudes(self) -> tuple[np.ndarray, float, float] | None:
        """What bounds ``|a|' (|X| |F| |X'| + D) |a|``: the size of :meth:`value`'s sums.

        ``|a|'|X||F||X'||a| <= ||F||_F (sum_i |a_i| ||X_i||)^2`` and
        ``|a|' D |a| <= max D (sum_i |a_i|)^2``, and computing :meth:`value` (or
        ``a @ sigma(a)``) errs by at most ~(number of terms) x 1.1e-16 times their sum:
        :func:`pma_lab.optimize.rounding.round_trades` bounds a move's ``TE^2`` change
        with it.

        Returns
        -------
        tuple[np.ndarray, float, float] | None
            ``(||X_i|| per name, ||F||_F, max D)``; ``None`` when ``Sigma`` is not
            positive semidefinite (``F``'s least eigenvalue below ``-1e-9 ||F||_F`` or a
            negative specific variance) or a number is not finite, so that ``value`` may
            be negative beyond rounding.
        """
        x, f, d = (np.asarray(v, dtype=float)
                   for v in (self.exposures, self.factor_cov, self.specific_var))
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(f))
                and np.all(np.isfinite(d))):
            return None
        f_norm = float(np.linalg.norm(f))
        if float(d.min(initial=0.0)) < 0 or float(
                np.linalg.eigvalsh((f + f.T) / 2).min(initial=0.0)) < -1e-9 * f_norm:
            return None
        return np.linalg.norm(x, axis=1), f_norm, float(d.max(initial=0.0))

    def covariance(self, rows: Any = slice(None)) -> np.ndarray:  # noqa: ANN401 - an index
        """The full covariance ``Sigma`` of some names (``rows``; small problems, checks)."""
        x = self.exposures[rows]
        return x @ self.factor_cov @ x.T + np.diag(self.specific_var[rows])

    def contributions(self, active: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Euler contributions to ``TE^2``: they sum to :meth:`value`.

        Returns
        -------
        tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
            ``(fx, by_factor, by_name_factor, by_name_specific)``: the active factor
            exposures ``X'a`` (k,), each factor's contribution ``fx_k (F fx)_k`` (k,), and
            per name its factor ``a_i (X F fx)_i`` and specific ``a_i^2 D_i`` contributions
            (n,).
        """
        fx = self.exposures.T @ active
        ffx = self.factor_cov @ fx
        return fx, fx * ffx, active * (self.exposures @ ffx), \
            active * self.specific_var * active

    # ---------------------------------------------------------------- cvxpy
    def chol(self, jitter: float = JITTER) -> np.ndarray:
        """Lower Cholesky factor of ``F + jitter I`` (k, k)."""
        k = self.factor_cov.shape[0]
        return np.linalg.cholesky(self.factor_cov + jitter * np.eye(k))

    def loadings(self) -> np.ndarray:
        """``B = X chol(F)`` (n, k'): the factor part is ``||B' a||^2``.

        Columns that are zero for every name are left out (``k' <= k``): they add nothing
        to ``B' a``, and as rows ``0 = f_j`` of a conic problem they cost Clarabel its
        accuracy (a subset of names holding one share class, or none, of an issuer factor:
        bench_public's 200-name book read ``optimal_inaccurate``).
        """
        got = self.__dict__.get("_loadings")
        if got is not None:
            return got
        b = self.exposures @ self.chol()
        used = np.abs(b).max(axis=0, initial=0.0) > 0
        b = b if used.all() else b[:, used]
        if not any(a.flags.writeable for a in (self.exposures, self.factor_cov,
                                               self.specific_var)):
            # a risk model's arrays are read-only (RiskModel): computed once per term and
            # kept beside its frozen fields (read-only too), for each problem built on it
            b.flags.writeable = False
            object.__setattr__(self, "_loadings", b)
        return b

    def specific(self) -> np.ndarray:
        """The specific variances ``d**2`` (n,): the specific part is ``sum(d**2 * a**2)``."""
        return np.asarray(self.specific_var, dtype=float)

    def scale(self) -> np.ndarray:
        """``d = sqrt(specific variance)``: the specific part is ``||d o a||^2``."""
        return np.sqrt(self.specific_var)

    @staticmethod
    def from_parts(factor: cp.Expression, specific: cp.Expression) -> cp.Expression:
        """``TE^2`` from the factor exposure ``B' a`` and the scaled specific part ``d o a``."""
        import cvxpy as cp

        return cp.sum_squares(factor) + cp.sum_squares(specific)

    def parameters(self) -> dict[str, cp.Parameter]:
        """``B`` and ``d`` as cvxpy Parameters (a problem that updates its risk model)."""
        import cvxpy as cp

        b = self.loadings()
        return {"B": cp.Parameter(b.shape, name="B", value=b),
                "d": cp.Parameter(len(self.specific_var), name="d", nonneg=True,
                                  value=self.scale())}

    def expression(self, active: cp.Expression, loadings: Any = None,  # noqa: ANN401
                   scale: Any = None) -> cp.Expression:  # noqa: ANN401 - array or Parameter
        """``TE^2`` of the cvxpy expression ``active``: ``||B' a||^2 + ||d o a||^2``.

        Parameters
        ----------
        active : cvxpy.Expression
            Active weights in model order (n,).
        loadings, scale : np.ndarray | cvxpy.Parameter | None
            ``B`` and ``d`` (default: :meth:`loadings` and :meth:`scale` as constants; pass
            the Parameters of :meth:`parameters` to update them between solves).
        """
        import cvxpy as cp

        b = self.loadings() if loadings is None else loadings
        d = self.scale() if scale is None else scale
        return self.from_parts(b.T @ active, cp.multiply(d, active))

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
        import cvxpy as cp

        b = self.loadings()
        f = cp.Variable(b.shape[1], name=name)
        return cp.sum_squares(f), cp.sum_squares(cp.multiply(self.scale(), active)), \
            [f == b.T @ active]
