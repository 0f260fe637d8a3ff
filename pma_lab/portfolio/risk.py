"""A fundamental factor risk model estimated from daily returns, as of any date.

Model: ``r = X f + e`` with, for each stock, exposures ``X`` to

* one factor per GICS industry group (dummy exposures; they also span the market), and
* three style factors, standardised cross-sectionally (cap-weighted mean 0, unit standard
  deviation, clipped at +-3): **size** (log market cap), **momentum** (return from 12
  months to 1 month ago) and **volatility** (standard deviation of daily returns over the
  last 6 months).

Value is not modelled: the packaged data has no history of book values (only a 2018
price-to-book snapshot), and a stale ratio rolled with prices would be a price factor in
disguise.

Estimation (no look-ahead: only data up to ``as_of``): exposures are recomputed at each
month start of a two-year window; each day's factor returns come from a cross-sectional
regression weighted by the square root of market cap (stocks without a return that day
are left out of that day's regression). The factor covariance is an exponentially
weighted covariance of the factor returns (half-life 90 trading days), shrunk 10 % toward
its diagonal; specific variances are exponentially weighted squared residuals (half-life
60 days) shrunk 30 % toward the median of the stock's industry group, with a floor. Names
with less than a year of returns get the group median specific variance and a zero
exposure to the styles they lack; both are listed in :attr:`RiskModel.coverage`.

Share classes of one issuer (one SEC CIK, traded side by side: GOOG/GOOGL, FOX/FOXA,
NWS/NWSA; never a ticker renamed or reused, BK/BNY) share one more factor each,
``issuer GOOG/GOOGL``: their common specific return (the mean pairwise correlation of their
residuals times the classes' geometric mean specific variance, at most the smaller), each
class keeping
only the rest as its own specific variance (at least ``class_vol_floor``, 1 %). Without
it, holding GOOGL instead of GOOG read as ~0.3 % tracking error per 1 % of Alphabet, and
the rebalancer sold one class at a gain to buy the other (see :func:`_issuer_factors`).

Tracking error is annualised (252 trading days). Its formula is written once, in
:class:`pma_lab.portfolio.tracking.TrackingVariance` (:attr:`RiskModel.tracking`): every
method here that computes a tracking error, a covariance or a cvxpy risk term calls it. For
cvxpy the model is kept in a DPP-compliant form: ``B = X @ chol(F)`` and
``d = sqrt(specific variance)`` are Parameters and risk is
``sum_squares(B.T @ a) + sum_squares(d * a)`` (never ``quad_form`` with a Parameter); see
:meth:`RiskModel.cvx_tracking_variance`.
"""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pma_lab.errors import DataError, SettingsError
from pma_lab.market.data import MarketData, load_market, to_timestamp
from pma_lab.market.tickers import IdentityTable, issuer_links
from pma_lab.portfolio.tracking import TrackingVariance
from pma_lab.validation import check_int, check_number

__all__ = ["RiskModelSettings", "RiskModel", "estimate_risk_model", "not_modelled", "STYLES",
           "ANNUALIZE", "MAX_VOLATILITY", "MIN_VOLATILITY", "MAX_WEIGHT_SUM", "MIN_PRICED_DAYS"]

ANNUALIZE = 252
MAX_VOLATILITY = 2.0
"""A name's annualised volatility above 200 % is taken for a unit error (percent squared)."""
MIN_VOLATILITY = 0.02
"""A median annualised volatility below 2 % is taken for daily (not annualised) figures."""
MAX_WEIGHT_SUM = 1.5
"""Weights summing above 1.5 are taken for a unit error (percent, not fractions)."""
STYLES = ("size", "momentum", "volatility")
MIN_PRICED_DAYS = 60
"""Days with a price, in the estimation window, a stock needs to be in the packaged model."""
_RECENT_ROWS = 6  # a stock is modelled with a price in the last 6 trading days to as_of


def numeric_weights(weights: pd.Series | dict[str, float], where: str, what: str
                    ) -> pd.Series | dict[str, float]:
    """``weights`` when every weight is a number (not NaN); else a :class:`DataError`.

    A weight given as text (``"0.05"``, a CSV column read without conversion) or NaN (a
    gap of a join) was read as a number or as 0 without a word; weights summing above
    :data:`MAX_WEIGHT_SUM` are percent, not fractions of the account (``{"AAPL": 50,
    "MSFT": 50}`` gave a tracking error of 28.43, i.e. 2,843 %). ``where``: the function
    the message names; ``what``: which argument (``"weights"``, ``"benchmark"``).

    >>> numeric_weights({"AAPL": 0.05}, "tracking_error", "weights")
    {'AAPL': 0.05}
    >>> numeric_weights({"AAPL": "0.05"}, "tracking_error", "weights")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    pma_lab.errors.DataError: tracking_error: weights that are not numbers: AAPL ('0.05', a str)...
    """
    items = weights.items() if isinstance(weights, (pd.Series, dict)) else None
    if items is None:
        return weights  # align's own error names the type
    if isinstance(weights, pd.Series) and pd.api.types.is_float_dtype(weights.dtype):
        bad_type: list[tuple[object, object]] = []
        nan = weights.index[weights.isna().to_numpy()].tolist()
    else:
        bad_type = [(t, v) for t, v in items
                    if isinstance(v, (bool, np.bool_))
                    or not isinstance(v, (int, float, np.integer, np.floating))]
        nan = [t for t, v in weights.items() if isinstance(v, (float, np.floating))
               and v != v]
    if bad_type:
        names = ", ".join(f"{t} ({v!r}, a {type(v).__name__})" for t, v in bad_type[:5])
        raise DataError(
            f"{where}: {what} that are not numbers: {names}"
            f"{' ...' if len(bad_type) > 5 else ''}; give each weight as a number (a "
            "fraction of the portfolio, 0.05 for 5%): read a CSV column with "
            "pd.to_numeric(column) or dtype=float")
    if nan:
        names = ", ".join(str(t) for t in nan[:5])
        raise DataError(
            f"{where}: {what} that are NaN: {names}{' ...' if len(nan) > 5 else ''} "
            f"({len(nan)} name{'s' * (len(nan) != 1)}); a missing weight is not read as 0: "
            "give 0 for a name not held (weights.fillna(0)) or leave the name out "
            "(weights.dropna())")
    values = list(weights.values()) if isinstance(weights, dict) else weights.to_numpy()
    total = float(np.sum(np.asarray(values, dtype=float)))
    if total > MAX_WEIGHT_SUM:
        raise DataError(
            f"{where}: {what} sum to {total:g}; weights are fractions of the account "
            f"(0.05 for 5 %, summing to at most 1), so they cannot sum above "
            f"{MAX_WEIGHT_SUM:g}: percent? divide them by 100 (weights / 100)")
    return weights


@dataclass(frozen=True)
class RiskModelSettings:
    """Estimation choices (defaults as described in the module docs)."""

    window_days: int = 504
    halflife_factor: float = 90.0
    halflife_specific: float = 60.0
    shrink_factor_cov: float = 0.10
    shrink_specific: float = 0.30
    min_history_days: int = 252
    specific_vol_floor: float = 0.08  # annualised
    class_vol_floor: float = 0.01  # a share class's own specific vol (annualised)
    clip_return: float = 0.5  # daily returns beyond +-50 % are data errors, left out

    def __post_init__(self) -> None:
        check_int(self, "window_days", low=2, meaning="trading days")
        check_int(self, "min_history_days", low=1, meaning="trading days")
        if self.min_history_days > self.window_days:
            raise SettingsError(f"RiskModelSettings(min_history_days={self.min_history_days}"
                                f", window_days={self.window_days}): the history required "
                                "cannot exceed the window; lower min_history_days")
        for name in ("halflife_factor", "halflife_specific"):
            check_number(self, name, low=0, low_open=True, meaning="trading days")
        for name in ("shrink_factor_cov", "shrink_specific"):
            check_number(self, name, low=0, high=1, meaning="a shrinkage intensity")
        check_number(self, "specific_vol_floor", low=0, high=1, meaning="annualised")
        check_number(self, "class_vol_floor", low=0, high=1, meaning="annualised")
        check_number(self, "clip_return", low=0, low_open=True, meaning="a daily return")


@dataclass(frozen=True)
class RiskModel:
    """Estimated model at a date.

    Attributes
    ----------
    as_of : datetime.date
    tickers : tuple[str, ...]
        The n modelled stocks (rows of ``exposures``).
    factors : tuple[str, ...]
        The k factors (industry groups, then styles).
    exposures : np.ndarray
        (n, k) exposures ``X``.
    factor_cov : np.ndarray
        (k, k) annualised factor covariance ``F``.
    specific_var : np.ndarray
        (n,) annualised specific variances ``D``.
    coverage : pd.DataFrame
        Per ticker: days of returns in the window, styles filled with 0, specific variance
        taken from the group median.
    factor_returns : pd.DataFrame
        The estimated daily factor returns over the window (for diagnostics).
    """

    as_of: dt.date | None
    tickers: tuple[str, ...]
    factors: tuple[str, ...]
    exposures: np.ndarray
    factor_cov: np.ndarray
    specific_var: np.ndarray
    coverage: pd.DataFrame
    factor_returns: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    settings: RiskModelSettings = RiskModelSettings()

    def __post_init__(self) -> None:
        for a in (self.exposures, self.factor_cov, self.specific_var):
            a.flags.writeable = False

    def __setstate__(self, state: dict) -> None:  # unpickled (e.g. from the disk cache)
        for k, v in state.items():
            object.__setattr__(self, k, v)
        self.__post_init__()

    @property
    def index(self) -> dict[str, int]:
        """Ticker -> row number."""
        return {t: i for i, t in enumerate(self.tickers)}

    def align(self, weights: pd.Series | dict[str, float]) -> np.ndarray:
        """Weights as an (n,) array in model order.

        Raises
        ------
        DataError
            When a weight is given for a ticker the model does not cover.
        """
        w = pd.Series(weights, dtype=float)
        # one pass over the weights (a pandas reindex cost ~7x as much; called for every
        # tracking error, look-through and characteristic): a missing or NaN weight is 0;
        # a ticker given twice goes to pandas, which refuses to reindex it (as before)
        pos = self.index
        out = np.zeros(len(self.tickers))
        unknown = []
        for t, v in zip(w.index.tolist(), w.to_numpy().tolist(), strict=True):
            i = pos.get(t)
            if i is None:
                if v != 0:  # NaN too
                    unknown.append(t)
            elif v == v:
                out[i] = v
        unknown = sorted(set(unknown))
        if unknown:
            raise DataError(
                f"the risk model at {self.as_of} does not cover {', '.join(unknown[:10])}"
                f"{' ...' if len(unknown) > 10 else ''}; they have no price history up to "
                "that date (or are not stocks). Remove them or use a later as_of.")
        if w.index.has_duplicates:
            return w.reindex(list(self.tickers)).fillna(0.0).to_numpy()
        return out

    def subset(self, tickers: Sequence[str]) -> RiskModel:
        """The model restricted to some tickers (same factors and factor covariance)."""
        idx = self.index
        missing = [t for t in tickers if t not in idx]
        if missing:
            raise DataError(f"the risk model does not cover {', '.join(missing)}")
        rows = [idx[t] for t in tickers]
        return RiskModel(self.as_of, tuple(tickers), self.factors,
                         self.exposures[rows].copy(), self.factor_cov.copy(),
                         self.specific_var[rows].copy(), self.coverage.loc[list(tickers)],
                         self.factor_returns, self.settings)

    @property
    def systematic(self) -> np.ndarray:
        """Mask (k,) of the industry and style factors: every factor but the issuers'.

        An issuer factor (``issuer GOOG/GOOGL``, :func:`_issuer_factors`) is the share
        classes' common *specific* return, not an industry or style exposure.
        """
        return np.array([not f.startswith(ISSUER_FACTOR) for f in self.factors], dtype=bool)

    @property
    def tracking(self) -> TrackingVariance:
        """The tracking-variance term of this model (the one TE formula, for numbers and cvxpy)."""
        return TrackingVariance.of(self)

    def factor_loadings(self) -> np.ndarray:
        """``B = X @ chol(F)`` (n, k', no all-zero column): factor risk is ``||B.T a||^2``."""
        return self.tracking.loadings()

    def tracking_error(self, weights: pd.Series | dict[str, float],
                       benchmark: pd.Series | dict[str, float]) -> float:
        """Ex-ante annualised tracking error of ``weights`` against ``benchmark``.

        Raises
        ------
        DataError
            When a weight is not a number (e.g. the text ``"0.05"`` of a CSV read without
            conversion) or is NaN, or the weights sum above 1.5 (percent, not fractions;
            :func:`numeric_weights`), or a ticker is not modelled.
        """
        w = numeric_weights(weights, "tracking_error", "weights")
        bw = numeric_weights(benchmark, "tracking_error", "benchmark")
        return self.tracking.te(self.align(w) - self.align(bw))

    def decompose(self, weights: pd.Series | dict[str, float],
                  benchmark: pd.Series | dict[str, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split the tracking variance by factor and by name (Euler contributions).

        Returns
        -------
        tuple[pd.DataFrame, pd.DataFrame]
            By factor: active exposure, contribution to variance and share of it; by name:
            active weight, factor and specific contributions and share. Contributions sum
            to the total variance (the specific part is listed as its own factor row).
        """
        a = self.align(numeric_weights(weights, "decompose", "weights")) - self.align(
            numeric_weights(benchmark, "decompose", "benchmark"))
        fx, fcon, name_f, spec = self.tracking.contributions(a)
        total = float(fcon.sum() + spec.sum())
        by_factor = pd.DataFrame({"active_exposure": fx, "variance": fcon},
                                 index=list(self.factors))
        by_factor.loc["specific"] = [np.nan, spec.sum()]
        by_factor["share"] = by_factor.variance / total if total else 0.0
        by_name = pd.DataFrame({"active_weight": a, "factor_variance": name_f,
                                "specific_variance": spec}, index=list(self.tickers))
        by_name["variance"] = by_name.factor_variance + by_name.specific_variance
        by_name["share"] = by_name.variance / total if total else 0.0
        by_name = by_name[by_name.active_weight != 0].sort_values("variance", ascending=False)
        return by_factor.sort_values("variance", ascending=False), by_name

    def covariance(self, tickers: Sequence[str] | None = None) -> pd.DataFrame:
        """Full annualised covariance for some tickers (small problems and checks only)."""
        idx = self.index
        sel = list(tickers) if tickers is not None else list(self.tickers)
        rows = [idx[t] for t in sel]
        return pd.DataFrame(self.tracking.covariance(rows), index=sel, columns=sel)

    def cvx_tracking_variance(self, active):  # noqa: ANN001, ANN201 - cvxpy types
        """DPP-compliant cvxpy expression of the annualised tracking variance.

        Parameters
        ----------
        active : cvxpy.Expression
            Active weights in model order (n,).

        Returns
        -------
        tuple[cvxpy.Expression, dict[str, cvxpy.Parameter]]
            The expression and its Parameters (``B``, ``d``) so a problem can update them
            without rebuilding.
        """
        params = self.tracking.parameters()
        return self.tracking.expression(active, params["B"], params["d"]), params


    # ------------------------------------------------------------------ plug-in points
    @classmethod
    def from_factors(cls, tickers: Sequence[str], loadings: np.ndarray | pd.DataFrame,
                     factor_cov: np.ndarray | pd.DataFrame, specific_var: np.ndarray | pd.Series,
                     *, as_of: dt.date | str | None = None,
                     factors: Sequence[str] | None = None) -> RiskModel:
        """A researcher's own factor model: ``Sigma = X F X' + diag(D)``.

        Parameters
        ----------
        tickers : Sequence[str]
            The n stocks modelled, in row order (unique).
        loadings : np.ndarray | pd.DataFrame
            (n, k) factor exposures ``X``. A DataFrame is aligned on ``tickers`` (index)
            and its columns name the factors.
        factor_cov : np.ndarray | pd.DataFrame
            (k, k) annualised factor covariance ``F``: symmetric, positive semidefinite.
        specific_var : np.ndarray | pd.Series
            (n,) annualised specific variances ``D`` (>= 0; a Series is aligned on
            ``tickers``).
        as_of : datetime.date | str | None
            The date the model describes; ``None``: undated (:func:`pma_lab.optimize.engine.prepare`
            then takes it as of the client's date).
        factors : Sequence[str] | None
            Factor names (default: the DataFrame's columns, else ``f0 .. f{k-1}``).

        Returns
        -------
        RiskModel

        Raises
        ------
        SettingsError
            When a shape, label, sign or symmetry is wrong, or the variances are not
            annualised fractions (a name's volatility above 200 %: percent squared; a median
            below 2 %: daily figures); the message says which and how to fix it.

        Examples
        --------
        >>> import numpy as np
        >>> rm = RiskModel.from_factors(["AAA", "BBB"], np.array([[1.0], [0.5]]),
        ...                             np.array([[0.04]]), np.array([0.01, 0.02]))
        >>> round(rm.tracking_error({"AAA": 1.0}, {"BBB": 1.0}), 4)
        0.2
        """
        names = _tickers(tickers)
        n = len(names)
        if isinstance(loadings, pd.DataFrame):
            _same_labels("loadings (index)", list(loadings.index), names)
            factors = list(loadings.columns) if factors is None else factors
            loadings = loadings.reindex(names).to_numpy(dtype=float)
        x = _matrix("loadings", loadings, rows=n)
        k = x.shape[1]
        factors = [f"f{i}" for i in range(k)] if factors is None else [str(f) for f in factors]
        if len(factors) != k or len(set(factors)) != k:
            raise SettingsError(f"RiskModel: {len(factors)} factor names for {k} loading "
                                "columns (or duplicates); pass one unique name per column")
        if isinstance(factor_cov, pd.DataFrame):
            _same_labels("factor_cov (index)", list(factor_cov.index), factors)
            _same_labels("factor_cov (columns)", list(factor_cov.columns), factors)
            factor_cov = factor_cov.loc[factors, factors].to_numpy(dtype=float)
        f = _psd("factor_cov", _matrix("factor_cov", factor_cov, rows=k, cols=k))
        if isinstance(specific_var, pd.Series):
            _same_labels("specific_var (index)", list(specific_var.index), names)
            specific_var = specific_var.reindex(names).to_numpy(dtype=float)
        d = np.asarray(specific_var, dtype=float)
        if d.shape != (n,) or not np.isfinite(d).all() or (d < 0).any():
            raise SettingsError(f"RiskModel: specific_var must be {n} finite variances >= 0 "
                                f"(one per ticker, annualised; got shape {d.shape}); a "
                                "volatility of 20 % is a variance of 0.04")
        _check_units(names, np.einsum("ik,kl,il->i", x, f, x) + d)
        day = None if as_of is None else to_timestamp(as_of).date()
        return cls(day, tuple(names), tuple(factors), x.copy(), f.copy(), d.copy(),
                   pd.DataFrame({"source": "user"}, index=names))

    @classmethod
    def from_covariance(cls, tickers: Sequence[str], cov: np.ndarray | pd.DataFrame, *,
                        as_of: dt.date | str | None = None) -> RiskModel:
        """A researcher's own full covariance matrix (annualised).

        The matrix is stored exactly, as a factor model with one factor per name
        (``X = I``) and an equal specific variance ``delta`` taken out of its diagonal
        (``F = Sigma - delta I``, ``delta`` half the smallest eigenvalue), so that
        ``X F X' + delta I = Sigma``: tracking errors are those of ``Sigma``, and the
        rebalance's relaxation keeps some specific risk to work with. Meant for books of
        up to a few hundred names (the problem is dense in ``n``).

        Parameters
        ----------
        tickers : Sequence[str]
            The n stocks, in the matrix's order (unique).
        cov : np.ndarray | pd.DataFrame
            (n, n) annualised covariance: symmetric, positive semidefinite. A DataFrame is
            aligned on ``tickers`` (index and columns).
        as_of : datetime.date | str | None
            See :meth:`from_factors`.

        Returns
        -------
        RiskModel

        Raises
        ------
        SettingsError
            When the matrix is not square, not symmetric, not finite or not positive
            semidefinite, its labels differ from ``tickers``, or its variances are not
            annualised fractions (see :meth:`from_factors`).
        """
        names = _tickers(tickers)
        if isinstance(cov, pd.DataFrame):
            _same_labels("cov (index)", list(cov.index), names)
            _same_labels("cov (columns)", list(cov.columns), names)
            cov = cov.loc[names, names].to_numpy(dtype=float)
        sigma = _psd("cov", _matrix("cov", cov, rows=len(names), cols=len(names)))
        delta = max(float(np.linalg.eigvalsh(sigma).min()), 0.0) / 2
        n = len(names)
        return cls.from_factors(names, np.eye(n), sigma - delta * np.eye(n),
                                np.full(n, delta), as_of=as_of, factors=names)


def _check_units(names: list[str], variance: np.ndarray) -> None:
    """Refuse total variances that are not annualised fractions (percent squared, daily).

    ``variance`` is each name's total variance (factor + specific). A volatility above
    :data:`MAX_VOLATILITY` is taken for percent squared (400 for a 20 % volatility), a
    median volatility below :data:`MIN_VOLATILITY` for daily figures: either would make every
    tracking error 100 or 16 times off, silently.
    """
    vol = np.sqrt(np.maximum(variance, 0.0))
    high = [(t, v) for t, v in zip(names, vol, strict=True) if v > MAX_VOLATILITY]
    if high:
        listed = ", ".join(f"{t} {v:.0%}" for t, v in high[:5])
        raise SettingsError(f"RiskModel: {len(high)} name(s) with an implausible volatility "
                            f"({listed}{' ...' if len(high) > 5 else ''} a year, above "
                            f"{MAX_VOLATILITY:.0%}); write annualised variances as fractions: "
                            "a 20 % volatility is a variance of 0.04, not 400 (percent "
                            "squared): divide by 10,000")
    median = float(np.median(vol))
    if median < MIN_VOLATILITY:
        raise SettingsError(f"RiskModel: the median volatility is {median:.2%} a year, too "
                            f"low for stocks (below {MIN_VOLATILITY:.0%}): the variances look "
                            f"daily; multiply them by {ANNUALIZE} to annualise (e.g. "
                            f"returns.cov() * {ANNUALIZE})")


def _tickers(tickers: Sequence[str]) -> list[str]:
    names = [str(t) for t in tickers]
    if not names:
        raise SettingsError("RiskModel: no tickers given; pass the names the model covers")
    dup = sorted({t for t in names if names.count(t) > 1})
    if dup:
        raise SettingsError(f"RiskModel: tickers repeated: {', '.join(dup[:10])}; pass each "
                            "ticker once")
    return names


def _same_labels(what: str, labels: list, names: list[str]) -> None:
    if set(map(str, labels)) != set(names) or len(labels) != len(names):
        extra = sorted(set(map(str, labels)) - set(names))[:5]
        lack = sorted(set(names) - set(map(str, labels)))[:5]
        raise SettingsError(f"RiskModel: the labels of {what} differ from the names given "
                            f"(not expected: {extra or 'none'}; missing: {lack or 'none'}); "
                            "label the rows and columns with exactly those names")


def _matrix(what: str, value: object, rows: int, cols: int | None = None) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    if a.ndim != 2 or a.shape[0] != rows or (cols is not None and a.shape[1] != cols):
        want = f"({rows}, {cols if cols is not None else 'k'})"
        raise SettingsError(f"RiskModel: {what} has shape {a.shape}, expected {want}; pass "
                            "one row per ticker (and, for a covariance, a square matrix)")
    if not np.isfinite(a).all():
        raise SettingsError(f"RiskModel: {what} has NaN or infinite entries; fill them "
                            "(or leave those names out)")
    return a


def _psd(what: str, a: np.ndarray) -> np.ndarray:
    scale = max(float(np.abs(a).max(initial=0.0)), 1e-300)
    if not np.allclose(a, a.T, rtol=0, atol=1e-10 * scale):
        raise SettingsError(f"RiskModel: {what} is not symmetric; pass (M + M.T) / 2 if "
                            "the asymmetry is round-off")
    a = (a + a.T) / 2
    low = float(np.linalg.eigvalsh(a).min()) if len(a) else 0.0
    if low < -1e-10 * scale:
        raise SettingsError(f"RiskModel: {what} is not positive semidefinite (smallest "
                            f"eigenvalue {low:.3g}); estimate it with shrinkage or clip "
                            "the negative eigenvalues")
    return a


# ------------------------------------------------------------------------------ estimation
def _share_classes(links: pd.DataFrame, tick: list[str], long: np.ndarray
                   ) -> list[list[int]]:
    """Rows of ``tick`` that are share classes of one issuer, per issuer.

    ``links`` are the market data's issuer pairs (:func:`pma_lab.market.tickers.
    issuer_links`, the table the wash-sale identity is built from); only pairs whose
    ``relation`` is ``share_class`` (traded side by side) are grouped, never a ticker
    renamed or reused (BK/BNY, DOC/PEAK: one CIK, one after the other). Only classes with a
    year of returns (``long``) are grouped: the issuer's common specific variance is
    estimated from their residuals.
    """
    pairs = links[links.relation == "share_class"]
    groups = IdentityTable().with_groups(
        zip(pairs.ticker_a, pairs.ticker_b, strict=True)).groups()
    row = {t: i for i, t in enumerate(tick)}
    rows = [sorted(row[t] for t in g if t in row and long[row[t]]) for g in groups]
    return sorted((g for g in rows if len(g) > 1), key=lambda g: tick[g[0]])


def _issuer_factors(issuers: list[list[int]], tick: list[str], resid: np.ndarray,
                    w_s: np.ndarray, spec: np.ndarray, class_floor: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One factor per issuer with several share classes: their common specific return.

    Share classes of one company (GOOG/GOOGL, FOX/FOXA, NWS/NWSA) have nearly the same
    residual return; independent specific variances would count holding one class instead
    of the other as risk (an account holding only GOOGL against a target of both classes
    would show a tracking error of ~0.3 % per 1 % of Alphabet) and the rebalancer would
    pay capital gains tax to swap classes. Each issuer gets a factor with exposure 1 for
    each of its classes and variance ``rho`` times the classes' geometric mean specific
    variance (for two classes, their residuals' covariance ``rho * sqrt(D_a * D_b)``), at
    most the smallest ``D_class``; ``rho`` is the mean pairwise correlation of the classes'
    residuals (exponentially weighted as the specific variances, clipped to [0, 1]). Each
    class keeps the rest of its specific variance, at
    least ``class_floor ** 2``. A class's total variance is unchanged unless the floor
    applies.

    Returns
    -------
    tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
        Exposures (n, g), the issuer factors' variances (g,), the specific variances
        (n,) and the issuer factors' daily returns (days, g: the classes' mean residual).
    """
    n, days = len(tick), resid.shape[0]
    x = np.zeros((n, len(issuers)))
    v = np.zeros(len(issuers))
    r = np.full((days, len(issuers)), np.nan)
    spec = spec.copy()
    for j, g in enumerate(issuers):
        x[g, j] = 1.0
        e = resid[:, g]
        rhos = []
        for a in range(len(g)):
            for b in range(a + 1, len(g)):
                ok = ~np.isnan(e[:, a]) & ~np.isnan(e[:, b])
                w = w_s[ok]
                ea, eb = e[ok, a], e[ok, b]
                den = np.sqrt((w * ea * ea).sum() * (w * eb * eb).sum())
                rhos.append((w * ea * eb).sum() / den if den > 0 else 0.0)
        rho = float(np.clip(np.mean(rhos), 0.0, 1.0))
        # rho times the classes' geometric mean variance (for two classes their residuals'
        # covariance), at most the smallest so every class keeps a non-negative remainder
        v[j] = min(rho * float(np.exp(np.log(spec[g]).mean())), float(spec[g].min()))
        spec[g] = np.maximum(spec[g] - v[j], class_floor ** 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a day no class has
            r[:, j] = np.nanmean(e, axis=1)
    return x, v, spec, r


def _ew_weights(n: int, halflife: float) -> np.ndarray:
    w = 0.5 ** (np.arange(n)[::-1] / halflife)
    return w / w.sum()


def _standardize(x: np.ndarray, cap_w: np.ndarray) -> np.ndarray:
    """Cap-weighted mean 0, equal-weighted std 1, clipped at +-3 (NaN kept)."""
    ok = ~np.isnan(x)
    if ok.sum() < 3:
        return np.full_like(x, np.nan)
    mu = np.average(x[ok], weights=cap_w[ok])
    sd = np.std(x[ok])
    z = (x - mu) / (sd if sd > 0 else 1.0)
    return np.clip(z, -3.0, 3.0)


def _caps(m: MarketData, tickers: list[str], prices: pd.DataFrame) -> pd.DataFrame:
    """Market caps over the window: the benchmark module's anchors rolled with prices."""
    uni = m.universe.frame()
    if "ticker" in uni:
        uni = uni.set_index("ticker")
    first, second = m.vintages.cap_anchors[:2]  # as the benchmark (manifest vintages)
    cap = pd.DataFrame(np.nan, index=prices.index, columns=tickers)
    p18 = m.prices.last_valid(first.price_date, tickers)
    p26 = m.prices.last_valid(second.price_date, tickers)
    by_cik18 = {c: v for c, v in zip(uni.cik, uni[first.column], strict=True)
                if pd.notna(v) and pd.notna(c)}
    for t in tickers:
        c18 = uni[first.column].get(t, np.nan)
        if pd.isna(c18):
            c18 = by_cik18.get(uni.cik.get(t), np.nan)
        if pd.notna(c18) and p18.staleness_days.get(t, 99) <= 5:
            cap[t] = float(c18) * prices[t] / float(p18.close[t])
            continue
        c26 = uni[second.column].get(t, np.nan)
        if pd.notna(c26) and p26.staleness_days.get(t, 99) <= 5:
            cap[t] = float(c26) * prices[t] / float(p26.close[t])
    return cap


def estimate_risk_model(as_of: dt.date | str, tickers: Sequence[str] | None = None,
                        market: MarketData | None = None,
                        settings: RiskModelSettings | None = None) -> RiskModel:
    """Estimate the factor model at ``as_of`` (cached on disk when ``PMA_LAB_CACHE`` is set).

    See :func:`_estimate` for the parameters; the cache key covers the market data's
    manifest, the date, the tickers and the settings. Without the disk cache, the last
    few models are also kept in this process for the same market data object (a batch
    worker's warm kernel, a test session or a dashboard estimate each date once); with
    it, the verified disk entry is the one shared copy.
    """
    from pma_lab.cache import cache_dir, cached

    m = market or load_market()
    s = settings or RiskModelSettings()
    day = to_timestamp(as_of)
    files = m.manifest().get("files", {})
    data_key = tuple(sorted((k, v.get("sha256")) for k, v in files.items()))
    key = (ESTIMATOR, data_key, str(day.date()),
           tuple(tickers) if tickers is not None else None, repr(s))
    if cache_dir() is not None:
        return cached("risk", key, lambda: _estimate(day, tickers, m, s))
    memo_key = (id(m), key)
    with _MEMO_LOCK:
        hit = _MEMO.get(memo_key)
        if hit is not None and hit[0] is m:  # the same object, not a reused id
            _MEMO.move_to_end(memo_key)
            return hit[1]
    rm = _estimate(day, tickers, m, s)
    with _MEMO_LOCK:
        _MEMO[memo_key] = (m, rm)
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return rm


def not_modelled(as_of: dt.date | str, tickers: Sequence[str],
                 market: MarketData | None = None,
                 settings: RiskModelSettings | None = None,
                 prices_only: bool = False) -> dict[str, str]:
    """Why each of ``tickers`` is outside the packaged risk model at ``as_of``, in words.

    The rule :func:`estimate_risk_model` chooses its stocks by (default ``tickers``): a
    price in the 6 trading days up to ``as_of``, at least :data:`MIN_PRICED_DAYS` days
    with a price in the estimation window, and a GICS industry group in the security
    master; a fund (an ETF) is not a stock. Used to say why a model file's name cannot be
    held (:func:`pma_lab.io.models.check_active_model`). ``prices_only``: only a stock
    without a price at ``as_of`` (none at all, or its prices end before or start after
    it), what no risk model can make up for (the check at ingest, before the client's risk
    model is known; funds are priced and left to that check).

    Returns
    -------
    dict[str, str]
        Ticker -> reason, for the tickers not covered only (empty: every one is).
    """
    m = market or load_market()
    s = settings or RiskModelSettings()
    day = to_timestamp(as_of)
    cal = m.prices.calendar
    end_i = int(cal.searchsorted(day, side="right")) - 1
    uni = m.universe.frame()
    if "ticker" in uni:
        uni = uni.set_index("ticker")
    priced = [t for t in dict.fromkeys(tickers) if t in set(m.prices.tickers)]
    if end_i < 0 or not priced:
        px = pd.DataFrame(columns=priced)
    else:
        px = m.prices.window(cal[max(end_i - s.window_days + 1, 0)], cal[end_i], priced)
    last = px.iloc[-_RECENT_ROWS:].notna().any()
    hist = px.notna().sum()
    cov = m.prices.coverage()
    funds = set(m.etfs.tickers)
    out = {}
    for t in dict.fromkeys(tickers):
        if t in funds:
            if not prices_only:
                out[t] = "it is a fund; the risk model covers stocks only"
        elif t not in px.columns:
            out[t] = "pma_lab has no prices for it"
        else:
            why = _why_not(t, last, hist, uni)
            if why == "no recent price":
                first, end = cov.at[t, "first_date"], cov.at[t, "last_date"]
                why = (f"its prices start on {first:%Y-%m-%d}, after {day:%Y-%m-%d}"
                       if first > day else f"its prices end on {end:%Y-%m-%d}, before "
                       f"{day:%Y-%m-%d}" if end < day else "it has no price in the "
                       f"{_RECENT_ROWS} trading days up to {day:%Y-%m-%d} (a gap in its data)")
            elif prices_only:
                why = None
            elif why == "short history":
                why = (f"it has {int(hist[t])} days of prices up to {day:%Y-%m-%d}; the "
                       f"risk model needs {MIN_PRICED_DAYS}")
            if why is not None:
                out[t] = why
    return out


def _why_not(t: str, last: pd.Series, hist: pd.Series, uni: pd.DataFrame) -> str | None:
    """The packaged model's rule for a priced stock: None (modelled) or the short reason."""
    if not last[t]:
        return "no recent price"
    if hist[t] < MIN_PRICED_DAYS:
        return "short history"
    if t not in uni.index or pd.isna(uni.at[t, "gics_industry_group"]):
        return "no GICS industry group in pma_lab's security master"
    return None


ESTIMATOR = "issuer-factors-2"
"""The estimator's revision, in the disk cache's key: a cache written by an earlier
estimator (pma_lab's version unchanged between commits) is not read as this one's. Change it
whenever :func:`_estimate` computes another model from the same data and settings."""

ISSUER_FACTOR = "issuer "
"""Prefix of an issuer factor's name (``issuer GOOG/GOOGL``): the share classes of one issuer."""

_MEMO: OrderedDict[tuple, tuple[MarketData, RiskModel]] = OrderedDict()
_MEMO_LOCK = threading.Lock()
_MEMO_SIZE = 8
"""Risk models kept in this process (least recently used dropped first)."""


def _estimate(as_of: dt.date | str, tickers: Sequence[str] | None = None,
              market: MarketData | None = None,
              settings: RiskModelSettings | None = None) -> RiskModel:
    """Estimate the factor model at ``as_of`` from the packaged daily prices.

    Parameters
    ----------
    as_of : datetime.date | str
        Estimation date; only data on or before it is used.
    tickers : Sequence[str] | None
        Stocks to model (default: every stock with a price on ``as_of`` and at least 60
        days of history). Tickers without a price on ``as_of`` raise.
    market : MarketData | None
        Market data (default: the packaged data).
    settings : RiskModelSettings | None
        Estimation choices.

    Returns
    -------
    RiskModel

    Raises
    ------
    DataError
        When a requested ticker has no recent price or no industry classification.
    """
    m = market or load_market()
    s = settings or RiskModelSettings()
    day = to_timestamp(as_of)
    cal = m.prices.calendar
    end_i = int(cal.searchsorted(day, side="right")) - 1
    if end_i < s.window_days + 260:
        raise DataError(f"the risk model needs {s.window_days} days of returns plus a year "
                        f"of history before them; {day:%Y-%m-%d} is too early in the data")
    start_i = end_i - s.window_days - 260  # a year before the window for the styles
    px_all = m.prices.window(cal[start_i], cal[end_i])
    uni = m.universe.frame()
    if "ticker" in uni:
        uni = uni.set_index("ticker")
    need = ["gics_industry_group", "cik"] + [a.column for a in m.vintages.cap_anchors[:2]]
    absent = [c for c in need if c not in uni.columns]
    if absent:
        raise DataError(f"the universe has no column {', '.join(map(repr, absent))}, which the "
                        "packaged factor model is estimated with (industry groups, issuers, "
                        "market caps); add the columns, or pass your own risk model "
                        "(RiskModel.from_covariance / RiskModel.from_factors)")
    last = px_all.iloc[-_RECENT_ROWS:].notna().any()
    hist = px_all.iloc[-s.window_days:].notna().sum()
    if tickers is None:
        tick = [t for t in px_all.columns if _why_not(t, last, hist, uni) is None]
    else:
        tick = list(dict.fromkeys(tickers))
        bad = [t for t in tick if t not in px_all.columns or not last.get(t, False)]
        noclass = [t for t in tick if t in uni.index and pd.isna(uni.at[t, "gics_industry_group"])]
        if bad or noclass:
            raise DataError(
                f"cannot model {', '.join((bad + noclass)[:10])}: "
                + ("no price in the 5 trading days before the date" if bad else
                   "no GICS industry group") + "; remove them or choose another as_of")
    px = px_all[tick]
    rets = px.pct_change(fill_method=None)
    rets = rets.where(rets.abs() <= s.clip_return)
    win = rets.iloc[-s.window_days:]
    n = len(tick)
    groups = sorted(uni.loc[tick, "gics_industry_group"].unique())
    g_of = uni.loc[tick, "gics_industry_group"].map({g: i for i, g in enumerate(groups)})
    g_idx = g_of.to_numpy()
    dummies = np.zeros((n, len(groups)))
    dummies[np.arange(n), g_idx] = 1.0
    caps = _caps(m, tick, px)
    factors = tuple(groups) + STYLES

    # exposures at each month start of the window (and at as_of), from data up to then
    month_starts = win.index.to_series().groupby(win.index.to_period("M")).first()
    exp_dates = list(month_starts)
    logp = np.log(px)
    rv = rets.to_numpy()

    def exposures_at(ts: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
        i = int(px.index.get_loc(ts))
        cap_t = caps.iloc[i].to_numpy()
        cap_w = np.where(np.isfinite(cap_t), cap_t, np.nan)
        cw = np.nan_to_num(cap_w, nan=np.nanmedian(cap_w))
        size = np.log(cap_w)
        lp = logp.to_numpy()
        mom = lp[max(i - 21, 0)] - lp[max(i - 252, 0)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns -> NaN
            vol = np.nanstd(rv[max(i - 126, 1):i + 1], axis=0)
        nobs = np.sum(~np.isnan(rv[max(i - 126, 1):i + 1]), axis=0)
        vol = np.where(nobs >= 40, vol, np.nan)
        st = np.column_stack([_standardize(size, cw), _standardize(mom, cw),
                              _standardize(vol, cw)])
        return np.hstack([dummies, np.nan_to_num(st, nan=0.0)]), st

    exp_list = [exposures_at(ts)[0] for ts in exp_dates]
    month_of_day = np.searchsorted(np.array(exp_dates, dtype="datetime64[ns]"),
                                   win.index.to_numpy(), side="right") - 1
    # daily cross-sectional WLS
    wr = win.to_numpy()
    fret = np.full((len(win), len(factors)), np.nan)
    resid = np.full_like(wr, np.nan)
    capw_all = caps.reindex(win.index).to_numpy()
    for d in range(len(win)):
        x = exp_list[max(month_of_day[d], 0)]
        r = wr[d]
        ok = ~np.isnan(r)
        if ok.sum() < len(factors) + 10:
            continue
        wt = np.sqrt(np.nan_to_num(capw_all[d], nan=np.nanmedian(capw_all[d])))
        xw = x[ok] * wt[ok, None]
        a = xw.T @ x[ok] + 1e-10 * np.eye(len(factors))
        f = np.linalg.solve(a, xw.T @ r[ok])
        fret[d] = f
        resid[d, ok] = r[ok] - x[ok] @ f
    good = ~np.isnan(fret).any(axis=1)
    fr = fret[good]
    w_f = _ew_weights(len(fr), s.halflife_factor)
    mu = w_f @ fr
    cen = fr - mu
    cov = (cen * w_f[:, None]).T @ cen
    cov = (1 - s.shrink_factor_cov) * cov + s.shrink_factor_cov * np.diag(np.diag(cov))
    factor_cov = cov * ANNUALIZE

    # specific variances
    w_s = _ew_weights(len(win), s.halflife_specific)
    r2 = resid ** 2
    has = ~np.isnan(r2)
    wsum = (has * w_s[:, None]).sum(axis=0)
    raw = np.where(wsum > 0, np.nansum(r2 * w_s[:, None], axis=0) / np.where(wsum > 0, wsum, 1),
                   np.nan) * ANNUALIZE
    nret = has.sum(axis=0)
    short = nret < s.min_history_days
    grp_med = pd.Series(np.where(short, np.nan, raw)).groupby(g_idx).median()
    overall = np.nanmedian(raw[~short]) if (~short).any() else np.nanmedian(raw)
    target = grp_med.reindex(range(len(groups))).fillna(overall).to_numpy()[g_idx]
    spec = np.where(short | np.isnan(raw), target,
                    (1 - s.shrink_specific) * raw + s.shrink_specific * target)
    spec = np.maximum(spec, s.specific_vol_floor ** 2)
    links = issuer_links(m.universe.frame(), m.membership(), m.vintages)
    issuers = _share_classes(links, tick, nret >= s.min_history_days)
    x_issuer, v_issuer, spec, r_issuer = _issuer_factors(issuers, tick, resid, w_s, spec,
                                                         s.class_vol_floor)

    x_now, st_now = exposures_at(px.index[-1])
    x_now = np.hstack([x_now, x_issuer])
    k0 = len(factors)
    factors = factors + tuple(ISSUER_FACTOR + "/".join(tick[i] for i in g) for g in issuers)
    fc = np.zeros((len(factors), len(factors)))
    fc[:k0, :k0] = factor_cov
    fc[k0:, k0:] = np.diag(v_issuer)
    factor_cov = fc
    fret = np.hstack([fret, r_issuer])
    coverage = pd.DataFrame({
        "returns_in_window": nret,
        "styles_filled_zero": [", ".join(STYLES[j] for j in range(3) if np.isnan(st_now[i, j]))
                               for i in range(n)],
        "specific_from_group_median": short,
        "industry_group": uni.loc[tick, "gics_industry_group"].to_numpy(),
    }, index=tick)
    return RiskModel(day.date(), tuple(tick), factors, x_now, factor_cov, spec, coverage,
                     pd.DataFrame(fret, index=win.index, columns=list(factors)), s)
