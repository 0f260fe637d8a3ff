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

``B = X chol(F)`` and ``d`` are the risk model's (:mod:`pma_lab.portfolio.risk`). The
completion sleeve is a direct-indexed sleeve like any other: it holds at most the name count
its own dollars call for (:func:`completion_names`: the account-size table at
``(1 - alpha)`` of the account, e.g. 40 names for the $978k completion sleeve of a $1.63M
account), chosen by the target's heuristic (:mod:`pma_lab.portfolio.selection`: backward
elimination, then swaps). With
``preserve_bets=False`` the specific term is the total's (``alpha a + (1 - alpha) c - w_b``),
the naive completion that minimises total tracking error and so undoes the manager's
picks; reports can show both. The problem is built once per risk model and benchmark; the
active model, ``alpha`` and the per-name upper bounds (no-buy names and the names dropped
by the selection at zero) are Parameters (DPP), so the selection's re-solves never recompile.

**Names the client's restrictions exclude.** A name of the manager's model the client may
not buy (a screen such as tobacco or fossil fuels, or an individual ``no_buy``/``never_hold``
restriction) leaves the active sleeve: the manager's other names keep their weights in the
account (``alpha a_i``, never scaled up to fill the gap), and the excluded weight
``alpha sum(a_excluded)`` goes to the completion sleeve, which is optimised at
``1 - alpha (1 - sum(a_excluded))`` of the account around what is left of the model (and
may not hold the excluded name either). The result lists them
(:attr:`CompletionResult.excluded`, with the screen or restriction that excludes each), and
the proposal, dashboard and command line say so in the words of
:func:`pma_lab.report.labels.excluded_from_model`. The completion sleeve's name count stays
that of its allocated share ``1 - alpha``.

**Re-targeted at a model update.** When the manager's model changes inside a plan's horizon
(:func:`pma_lab.plan.coremodel.core_updates`) the completion sleeve is solved again against
the new model, starting from the names it holds (``held``;
:func:`pma_lab.portfolio.selection.reselect_names`): a held name is changed only when that
improves tracking by :data:`HELD_NAME_GAIN` or more, and a slot freed (a held name now
restricted, or held at zero) is filled by the best new name. A fresh selection would
re-choose among many near-equivalent sets (8 of core-active's 40 names for a one-name update
of the model); each change is a sale.

The account's target is the total, :func:`core_target` (the active model at ``alpha`` plus
the completion sleeve): :func:`pma_lab.optimize.engine.prepare` builds it once per client,
so the rebalance, the plans and the proposal all trade toward the same core, tax-aware
across both sleeves in one account.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import cvxpy as cp
import numpy as np
import pandas as pd

from pma_lab.errors import DataError, InfeasibleError, NotDPPError
from pma_lab.portfolio.risk import RiskModel
from pma_lab.portfolio.selection import SelectionSettings, reselect_names, select_names
from pma_lab.portfolio.target import Target, names_for_account

__all__ = ["CompletionResult", "CompletionProblem", "ExcludedName", "active_model_weights",
           "active_model_dates",
           "completion_for_client", "completion_for_profile", "completion_names",
           "core_target"]

_OK = ("optimal", "optimal_inaccurate")
SOLVERS = ("PIQP", "CLARABEL")
"""The completion problem's solvers, in order (the second when the first fails)."""
HELD_NAME_GAIN = 0.0001
"""How much a re-targeted completion sleeve's tracking must improve (the square root of its
objective, as a fraction: 0.0001 is 0.01 percentage points of tracking error) for it to
change a name it holds (:meth:`CompletionProblem.solve` with ``held``). On core-active's
2027-01-04 update (NFLX out of the model, MU in) it changes one completion name, MU (now
the manager's) for CHTR, where a fresh selection changed 8 of 40; the core's tracking
error is 2.965 % against the fresh selection's 3.040 % (0.0005 keeps all 40, 2.994 %)."""


def completion_names(account_size: float, active_share: float,
                     names: int | None = None) -> int | None:
    """The completion sleeve's name count: the account-size table at the sleeve's dollars.

    Parameters
    ----------
    account_size : float
        USD of the whole account (both sleeves).
    active_share : float
        The active sleeve's share of the account.
    names : int | None
        A count set by the profile (``[target] names``) or the caller, used as is.

    Returns
    -------
    int | None
        ``None``: no limit (the completion sleeve is large enough for the full index).

    Examples
    --------
    >>> completion_names(1_630_149.21, 0.4)  # $978k in the completion sleeve
    40
    >>> completion_names(1_630_149.21, 0.4, names=25)
    25
    """
    if names is not None:
        return names
    return names_for_account(account_size * (1.0 - active_share))


def active_model_weights(path: str, as_of: object) -> pd.Series:
    """The active manager's model weights in force at ``as_of`` (a weights file).

    Raises
    ------
    BenchmarkFileError
        For any problem in the file (see :func:`pma_lab.market.benchmark.read_benchmark_weights`).
    """
    from pma_lab.market.benchmark import benchmark_from_file

    return benchmark_from_file(path, as_of).weights  # type: ignore[arg-type]


def active_model_dates(path: str) -> tuple[dt.date, ...]:
    """The dates of the versions of an active model file, oldest first.

    Empty for a file without a ``date`` column (one set of weights, never updated). A plan
    re-targets the core at each version dated inside its horizon
    (:func:`pma_lab.plan.coremodel.core_updates`).

    Raises
    ------
    BenchmarkFileError
        For any problem in the file (see :func:`pma_lab.market.benchmark.read_benchmark_weights`).
    """
    from pma_lab.market.benchmark import read_benchmark_weights

    df = read_benchmark_weights(path)
    return tuple(sorted({pd.Timestamp(d).date() for d in df.date.dropna().unique()}))


@dataclass(frozen=True)
class ExcludedName:
    """A name of the manager's model that the client's restrictions keep out of the account.

    Attributes
    ----------
    ticker : str
    model_weight : float
        Its weight in the manager's model.
    account_weight : float
        The weight of the account it would have had (``alpha`` times ``model_weight``),
        given to the completion sleeve instead.
    reason : str
        The screen or restriction that excludes it (the eligibility table's reasons).
    """

    ticker: str
    model_weight: float
    account_weight: float
    reason: str


@dataclass(frozen=True)
class CompletionResult:
    """The completion sleeve and what it does to the account's exposures.

    Attributes
    ----------
    alpha : float
        Share of the account allocated to the active sleeve (the profile's
        ``active_share``); less the excluded names' weight, it is what the sleeve holds
        (:attr:`active_held`).
    completion : pd.Series
        Completion sleeve weights (sum to one), by ticker; the sleeve is
        :attr:`completion_share` of the account.
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
        Their industry and style parts (the issuer factors of share classes left out:
        :attr:`pma_lab.portfolio.risk.RiskModel.systematic`).
    preserve_bets : bool
    max_names : int | None
        The completion sleeve's name count (``None``: no limit).
    diagnostics : dict
        Solves, the elimination path and the selection's method.
    excluded : tuple[ExcludedName, ...]
        The manager's names the client may not buy, left out of the active sleeve (their
        weight goes to the completion sleeve), largest first.
    account_size : float | None
        The account's dollars the sleeves' shares are of (what the name count was sized
        on); ``None`` when solved without one (:meth:`CompletionProblem.solve`).
    fixed : Mapping[str, float]
        Names the account holds at fixed weights (the client's keep list at today's
        weights: never sold nor added to), by ticker; outside both sleeves, the completion
        sleeve is built around them (:meth:`CompletionProblem.solve`'s ``fixed``).
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
    max_names: int | None = None
    diagnostics: dict = field(default_factory=dict)
    excluded: tuple[ExcludedName, ...] = ()
    account_size: float | None = None
    fixed: Mapping[str, float] = field(default_factory=dict)

    @property
    def active_held(self) -> float:
        """Share of the account the active sleeve holds: ``alpha`` less the excluded names'."""
        return self.alpha - sum(e.account_weight for e in self.excluded)

    @property
    def completion_share(self) -> float:
        """Share of the account in the completion sleeve.

        ``1 - active_held``, less the names held at fixed weights (:attr:`fixed`).
        """
        return 1.0 - self.active_held - float(sum(self.fixed.values()))

    def summary(self) -> pd.Series:
        """Headline figures (decimals; names held by the completion sleeve and the total)."""
        return pd.Series({"alpha": self.alpha, "active_held": self.active_held,
                          "te_total": self.te_total,
                          "te_active_only": self.te_active_only,
                          "te_factor_total": self.te_factor_total,
                          "te_factor_active_only": self.te_factor_active_only,
                          "completion_names": int((self.completion > 0).sum()),
                          "total_names": int((self.total > 0).sum())})


class CompletionProblem:
    """The completion-sleeve problem for one risk model and benchmark (see the module docs).

    Parameters
    ----------
    risk : RiskModel
    benchmark : pd.Series
        Benchmark weights by ticker (sum to one; names outside the risk model are an error).
    preserve_bets : bool
        Keep the manager's stock picks (default) or minimise total TE (the naive way).
    selection : SelectionSettings | None
        How the names are chosen when :meth:`solve` is given a name count.

    Raises
    ------
    DataError
        When the benchmark does not sum to one or names a stock the model does not cover.
    NotDPPError
        If the problem is not DPP (a bug).
    """

    def __init__(self, risk: RiskModel, benchmark: pd.Series, preserve_bets: bool = True,
                 selection: SelectionSettings | None = None):
        self.risk = risk
        self.selection = selection or SelectionSettings()
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
        self.p_upper = cp.Parameter(n, nonneg=True, name="upper")  # 1, or 0: not held
        total = self.p_active + self.p_rest * self.c
        self._bm, self._d2 = bm, d ** 2
        factor = bm.T @ total - bm.T @ self.wb
        if preserve_bets:
            spec = self.p_rest * cp.multiply(d, self.c - self.wb)
        else:
            spec = cp.multiply(d, total) - d * self.wb
        self.problem = cp.Problem(cp.Minimize(tracking.from_parts(factor, spec)),
                                  [cp.sum(self.c) == 1, self.c <= self.p_upper])
        if not self.problem.is_dpp():
            raise NotDPPError("the completion problem is not DPP; please report this")

    def solve(self, active: pd.Series, alpha: float, no_buy: Iterable[str] = (),
              max_names: int | None = None, reasons: Mapping[str, str] | None = None,
              held: Iterable[str] = (), held_gain: float = HELD_NAME_GAIN,
              fixed: Mapping[str, float] | None = None) -> CompletionResult:
        """The completion sleeve for an active model held at ``alpha`` of the account.

        Parameters
        ----------
        active : pd.Series
            The active model's weights by ticker (sum to one).
        alpha : float
            The active sleeve's share of the account.
        no_buy : Iterable[str]
            Names the client may not buy: the completion sleeve does not hold them, and
            those of the active model leave it (their weight goes to the completion sleeve;
            see the module docs).
        max_names : int | None
            The completion sleeve's name count (:func:`completion_names`; ``None``: no
            limit), reached by backward elimination and swaps
            (:func:`pma_lab.portfolio.selection.select_names`).
        reasons : Mapping[str, str] | None
            Why each ``no_buy`` name is excluded (the screen or restriction), for
            :attr:`CompletionResult.excluded`.
        held : Iterable[str]
            The names the completion sleeve holds now, when it is re-targeted (an update of
            the active model, :func:`pma_lab.plan.coremodel.core_updates`): with a name
            count, the selection starts from them and changes one only when tracking
            improves by ``held_gain`` or more
            (:func:`pma_lab.portfolio.selection.reselect_names`), so a one-name update of
            the model does not turn the sleeve over. Empty: a fresh selection.
        held_gain : float
            That improvement, on the square root of the objective (default
            :data:`HELD_NAME_GAIN`).
        fixed : Mapping[str, float] | None
            Names the account holds at fixed weights of the account, by ticker: the
            client's keep list at today's weights (never sold nor added to). They are held
            outside both sleeves, as the manager's picks are, so the completion sleeve is
            built around them: it does not hold them, the total's factor exposures count
            them, and the completion sleeve holds ``1 - active_held - sum(fixed)`` of the
            account. A kept name of the manager's model leaves the active sleeve (it is in
            ``no_buy``: the client may not add to it) and is held at its fixed weight.

        Raises
        ------
        DataError
            When ``alpha`` is not in [0, 1), the active weights do not sum to one or name a
            stock the risk model does not cover, ``max_names`` is below 1, or a fixed
            weight is negative, names a stock outside the problem, or the fixed weights
            leave the completion sleeve nothing.
        InfeasibleError
            When every name is restricted.
        """
        if not 0 <= alpha < 1:
            raise DataError(f"alpha {alpha!r}: the active sleeve's share must be at least 0 "
                            "and below 1 (the completion sleeve holds the rest)")
        if abs(float(active.sum()) - 1.0) > 1e-6:
            raise DataError(f"the active model's weights sum to {float(active.sum()):.6f}, "
                            "not 1; fix the model file (weights are never rescaled)")
        if max_names is not None and max_names < 1:
            raise DataError(f"the completion sleeve's name count is {max_names}; it must be "
                            "at least 1 (set [target] names, or leave it to the account size)")
        a = self.risk.align(active)
        pinned = self._fixed_weights(fixed or {})
        blocked = set(no_buy) | {t for t, x in zip(self.tickers, pinned, strict=True) if x > 0}
        why = reasons or {}
        excluded = tuple(ExcludedName(t, float(w), alpha * float(w),
                                      why.get(t, "restricted by the client"))
                         for t, w in active.sort_values(ascending=False, kind="stable").items()
                         if w > 0 and t in blocked)
        # the manager's other names keep their account weights; the rest is the completion's
        kept = np.array([0.0 if t in blocked else x for t, x in zip(self.tickers, a,
                                                                     strict=True)])
        in_active = alpha * float(kept.sum()) if excluded else alpha
        rest = 1.0 - in_active - float(pinned.sum())
        if not rest > 1e-9:
            raise DataError(
                f"the names held at fixed weights (the keep list: {_listed(fixed or {})}) "
                f"and the active sleeve's {in_active:.2%} leave the completion sleeve "
                f"{rest:.2%} of the account; lower [core] active_share or take names off "
                "[restrictions] hold_no_add")
        base = alpha * kept + pinned  # held outside the completion sleeve
        self.p_active.value = base
        self.p_rest.value = rest
        allowed = np.array([t not in blocked for t in self.tickers])
        self._solves = self._fallbacks = 0
        status, c, f = self._solve_with(allowed.astype(float))
        if status not in _OK:
            raise InfeasibleError(f"the completion sleeve is {status}: every "
                                  "name is restricted; lift a restriction")
        diag: dict = {"method": "continuous", "elimination_path": []}
        if max_names is not None:
            if self.preserve_bets:
                def grad(c: np.ndarray) -> np.ndarray:
                    f_ = self._bm.T @ (base + rest * c - self.wb)
                    return 2 * rest * (self._bm @ f_) + 2 * rest ** 2 * self._d2 * (c - self.wb)
            else:
                def grad(c: np.ndarray) -> np.ndarray:
                    act = base + rest * c - self.wb
                    return 2 * rest * (self._bm @ (self._bm.T @ act) + self._d2 * act)
            def failed(st: str, keep: np.ndarray) -> InfeasibleError:
                return InfeasibleError(
                    f"the completion sleeve is {st} with {int(keep.sum())} names kept; "
                    "lift a restriction or raise [target] names", ["max_names"])

            mine = set(held)
            sel = None
            if mine:
                sel = reselect_names(np.array([t in mine for t in self.tickers]),
                                     self._solve_with, grad, allowed, 1.0, max_names,
                                     self.selection, held_gain, failed)
            if sel is None:
                sel = select_names(c, f, self._solve_with, grad, allowed, 1.0, max_names,
                                   self.selection, failed)
            c, status = sel.weights, sel.status
            diag = {"method": sel.method, "elimination_path": list(sel.path),
                    "swaps_kept": sel.swaps_kept}
        diag["solves"] = self._solves
        diag["fallbacks"] = self._fallbacks
        diag["status"] = status
        return replace(self._result(a, alpha, c, max_names, diag, base, rest, excluded),
                       fixed={t: float(x) for t, x in zip(self.tickers, pinned, strict=True)
                              if x > 0})

    def _fixed_weights(self, fixed: Mapping[str, float]) -> np.ndarray:
        """``fixed`` as an array in the problem's order (a name outside it: an error)."""
        out = sorted(set(fixed) - set(self.tickers))
        if out:
            raise DataError(f"{', '.join(out)}: held at a fixed weight (the keep list) but "
                            "outside the completion problem's names (the benchmark and the "
                            "active model the risk model covers)")
        bad = sorted(t for t, x in fixed.items() if not 0 <= float(x) < 1)
        if bad:
            raise DataError(f"{', '.join(bad)}: a fixed weight must be at least 0 and below "
                            "100% of the account")
        return np.array([float(fixed.get(t, 0.0)) for t in self.tickers])

    def _solve_with(self, upper: np.ndarray) -> tuple[str, np.ndarray, float]:
        """Solve with per-name upper bounds (1: may hold, 0: not held).

        PIQP first (the problem is a QP; 35-40 % faster than Clarabel over the 26 solves
        of core-active's selection, measured), Clarabel when PIQP does not certify
        optimality, as the target does (:class:`pma_lab.portfolio.target.TargetSettings`).
        """
        self.p_upper.value = upper
        status = "solver_error"
        for k, solver in enumerate(SOLVERS):
            if k:
                self._fallbacks += 1
            try:
                self.problem.solve(solver=solver)
                status = self.problem.status
            except cp.error.SolverError:
                status = "solver_error"
                continue
            if status == "optimal":
                break
        self._solves += 1
        c = self.c.value
        value = self.problem.value
        if status not in _OK or c is None or value is None:
            return status, np.zeros(len(self.tickers)), np.inf
        return status, np.asarray(c), float(value)

    def _result(self, a: np.ndarray, alpha: float, c: np.ndarray, max_names: int | None,
                diag: dict, base: np.ndarray, rest: float,
                excluded: tuple[ExcludedName, ...]) -> CompletionResult:
        c = np.where(c > self.selection.min_weight, c, 0.0)  # solver round-off below
        total = float(c.sum())
        if abs(total - 1.0) > 1e-4:
            raise InfeasibleError(f"the completion sleeve's weights sum to {total:.6f} after "
                                  "the solve; the solver answer is not reliable")
        c = c / total  # the round-off dropped (at most 1e-4) goes back pro rata
        w = base + rest * c  # the active sleeve's names and the fixed weights, + completion
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
            tracking.factor_te(w - self.wb, self.risk.systematic),
            tracking.factor_te(a - self.wb, self.risk.systematic),
            self.preserve_bets, max_names, diag, excluded)


def _listed(weights: Mapping[str, float]) -> str:
    """``AAPL 12.30%, MSFT 2.00%``: names and weights, largest first."""
    return ", ".join(f"{t} {float(w):.2%}" for t, w in
                     sorted(weights.items(), key=lambda kv: -float(kv[1])))


def completion_for_client(setup: object, preserve_bets: bool = True,
                          names: int | None = None) -> CompletionResult:
    """The completion sleeve of a prepared client whose ``[core]`` is ``active_index``.

    Solves it again from the setup's parts (:func:`completion_for_profile`);
    :func:`pma_lab.optimize.engine.prepare` has already solved it once
    (``setup.completion``), which every report reads. The keep list's names are held at
    the setup's fixed weights (``setup.target.diagnostics["fixed"]``).

    Raises
    ------
    DataError
        When the profile has no active + index core.
    """
    return completion_for_profile(
        setup.client.profile, setup.as_of, setup.benchmark.weights,  # type: ignore[attr-defined]
        setup.risk, setup.eligibility.buyable(), setup.account_size,  # type: ignore[attr-defined]
        names=names, preserve_bets=preserve_bets,
        reasons=setup.eligibility.not_buyable(),  # type: ignore[attr-defined]
        fixed=dict(setup.target.diagnostics.get("fixed") or {}))  # type: ignore[attr-defined]


def completion_for_profile(profile: object, as_of: object, benchmark: pd.Series,
                           risk: RiskModel, buyable: Iterable[str], account_size: float,
                           names: int | None = None, preserve_bets: bool = True,
                           reasons: Mapping[str, str] | None = None,
                           held: Iterable[str] = (),
                           fixed: Mapping[str, float] | None = None) -> CompletionResult:
    """The completion sleeve of a profile whose ``[core]`` is ``active_index``.

    The active model in force at ``as_of`` (``core.active_model``), held at
    ``core.active_share``; the benchmark (restricted to the risk model); names outside
    ``buyable`` (the client's screens) are not held by the completion sleeve, which holds at
    most :func:`completion_names` names (``names``, else the profile's ``[target] names``,
    else the account-size table at the completion sleeve's dollars), and those of the
    active model leave the active sleeve (``reasons``: why each is excluded,
    :meth:`pma_lab.portfolio.screens.Eligibility.not_buyable`; see the module docs).
    ``held``: the completion sleeve's names now, when the core is re-targeted (kept unless
    changing one improves tracking materially; :meth:`CompletionProblem.solve`).
    ``fixed``: the keep list's weights today, held as they are; the completion sleeve is
    built around them (:meth:`CompletionProblem.solve`).

    Raises
    ------
    DataError
        When the profile has no active + index core, or has sector limits or tilts (which
        the core cannot apply; the profile loader refuses them too).
    """
    core = getattr(profile, "core", None)
    if core is None or core.equity_sleeve != "active_index":
        raise DataError(f"client {profile.client_id} has no active + index core; set "  # type: ignore[attr-defined]
                        '[core] equity_sleeve = "active_index" with active_model and '
                        "active_share")
    r = getattr(profile, "restrictions", None)
    limits = [k for k in ("sector_max_weight", "sector_tilts") if r is not None
              and getattr(r, k, None)]
    if limits:
        raise DataError(f"client {profile.client_id}: [restrictions] {' and '.join(limits)} "  # type: ignore[attr-defined]
                        "cannot apply to an active + index core (its target is the "
                        "manager's model plus the completion sleeve); remove them or set "
                        '[core] equity_sleeve = "direct_index"')
    active = active_model_weights(str(core.active_model), as_of)
    share = float(core.active_share)
    universe = set(benchmark.index) | set(active.index) | set(fixed or {})
    tickers = [t for t in risk.tickers if t in universe]
    problem = CompletionProblem(risk.subset(tickers), benchmark, preserve_bets)
    blocked = set(tickers) - set(buyable)
    count = completion_names(account_size, share,
                             names or getattr(profile.target, "names", None))  # type: ignore[attr-defined]
    comp = problem.solve(active, share, sorted(blocked), count, reasons, held=held,
                         fixed=fixed)
    return replace(comp, account_size=float(account_size))


def core_target(comp: CompletionResult, as_of: object, benchmark: str,
                risk: RiskModel, benchmark_weights: pd.Series) -> Target:
    """The account's target of an active + index core: the active model plus completion.

    Weights ``alpha a + (1 - alpha) c`` (largest first, names held only), with the tracking
    error of the total against the benchmark; ``max_names`` is the completion sleeve's.
    The keep list's names held at fixed weights (:attr:`CompletionResult.fixed`) are in the
    weights and in ``diagnostics["fixed"]``, as a built target's
    (:class:`~pma_lab.portfolio.target.TargetBuilder`'s ``fixed``).
    """
    w = comp.total[comp.total > 0].sort_values(ascending=False)
    te = risk.tracking_error(w, benchmark_weights)
    return Target(as_of, w, te, int(len(w)), comp.max_names,  # type: ignore[arg-type]
                  benchmark, "active model + completion sleeve",
                  {**comp.diagnostics, "active_share": comp.alpha,
                   "completion_names": int((comp.completion > 0).sum()),
                   **({"fixed": dict(comp.fixed), "kept_around": "completion"}
                      if comp.fixed else {})})
