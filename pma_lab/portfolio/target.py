"""Direct-indexed target portfolios: N names tracking the unrestricted benchmark.

The target minimises ex-ante tracking error (under :mod:`pma_lab.portfolio.risk`) to the
*unrestricted* benchmark, so every screen's cost shows up as tracking error, subject to:
long-only, fully invested, screened names at zero, sector weight limits and sector tilts
(active sector weight fixed at the tilt), and at most N names.

Cardinality is handled by **backward elimination** ("fix and re-solve", Boyd et al. 2017
§4.7) followed by swaps, :func:`pma_lab.portfolio.selection.select_names` (shared with the
completion sleeve of an active + index core): solve the convex problem over every eligible
name, keep the largest weights (drop a fraction of the smallest, never below N), re-solve,
until at most N names hold weight; the last solve is the polish. One cvxpy problem is
compiled per risk model; dropping names only changes an upper-bound Parameter, so every
re-solve reuses the compilation (DPP). :func:`exact_target` solves the mixed-integer
problem with SCIP for small cases so the heuristic's optimality gap can be measured.

The number of names comes from the account size (:func:`names_for_account`): about 30 at
$500k, 40 at $1M, 80 at $2M and the full index from $5M, log-linear in between, all
configurable. Whole shares are a separate, documented step (:func:`round_to_shares`) that
keeps every constraint and reports the tracking error after rounding.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
import pandas as pd

from pma_lab.checkpoints import checkpoint
from pma_lab.errors import DataError, InfeasibleError, NotDPPError, SettingsError, SolverFailedError
from pma_lab.market.benchmark import Benchmark
from pma_lab.portfolio.risk import RiskModel
from pma_lab.portfolio.selection import SelectionSettings, check_selection, select_names
from pma_lab.solvers import check_solver
from pma_lab.validation import check_number

__all__ = [
    "NAME_COUNT_TABLE",
    "names_for_account",
    "TargetSizing",
    "TargetSettings",
    "Target",
    "TargetBuilder",
    "build_target",
    "exact_target",
    "round_to_shares",
    "RoundedTarget",
]

NAME_COUNT_TABLE: tuple[tuple[float, int | None], ...] = (
    (500_000, 30), (1_000_000, 40), (2_000_000, 80), (5_000_000, None))
"""(account size USD, names) anchors; ``None`` = the full index."""


def names_for_account(size: float, table: Sequence[tuple[float, int | None]] = NAME_COUNT_TABLE,
                      full_index: int = 500) -> int | None:
    """Number of names for an account size, log-linear between the table's anchors.

    Below the first anchor its count applies; from an anchor whose count is ``None`` on,
    the full index (returns ``None``). Between an anchor and a ``None`` anchor the count
    rises log-linearly toward ``full_index`` names.

    Examples
    --------
    >>> names_for_account(500_000), names_for_account(1_000_000), names_for_account(2e6)
    (30, 40, 80)
    >>> names_for_account(5e6) is None
    True
    """
    if size <= 0:
        raise ValueError("the account size must be positive")
    if size <= table[0][0]:
        return table[0][1]
    for (s0, n0), (s1, n1) in zip(table, table[1:], strict=False):
        if size < s1:
            lo = full_index if n0 is None else n0
            hi = full_index if n1 is None else n1
            frac = (math.log(size) - math.log(s0)) / (math.log(s1) - math.log(s0))
            return int(round(lo + frac * (hi - lo)))
    return table[-1][1]


@dataclass(frozen=True)
class TargetSizing:
    """What a target's name count was sized on (:func:`names_for_account`).

    Attributes
    ----------
    names : int
        Names in the target.
    account_size : float
        The USD the name count was sized on.
    accounts : tuple[tuple[str, float], ...]
        ``(account id, USD)`` of each account summed into ``account_size`` (lots at the
        as-of prices plus cash), in profile order; empty when the profile's
        ``[target] account_size`` set it. Two or more: a household's total.
    kinds : tuple[str, ...]
        Each account's kind, in the order of ``accounts``: ``taxable``, ``traditional``
        or ``roth`` (:func:`pma_lab.report.labels.target_sizing` names the accounts by it,
        in the client's words); empty when not known (the account ids are shown).
    labels : tuple[str, ...]
        Each account as the client knows it, in the order of ``accounts``
        (:func:`pma_lab.accounts.profile_account_names`: the profile's ``name`` and
        ``number``); empty: named by ``kinds``.
    """

    names: int
    account_size: float
    accounts: tuple[tuple[str, float], ...] = ()
    kinds: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    @property
    def household(self) -> bool:
        """Whether the size is a household's total across two or more accounts."""
        return len(self.accounts) > 1


@dataclass(frozen=True)
class TargetSettings:
    """Choices for target construction."""

    drop_fraction: float = 0.25  # share of the held names dropped per elimination round
    fine_drop_fraction: float = 0.05  # ... once fewer than twice the target count remain
    swap_rounds: int = 8  # local-search swaps tried after elimination (0: none)
    min_weight: float = 1e-6  # weights below this count as not held
    max_weight: float | None = None  # optional cap per name
    # The target problem is a QP: PIQP solves it 2-3x faster than Clarabel with the same
    # weights (max difference 1e-10 on the sample clients, measured); Clarabel is the
    # fallback when PIQP does not certify optimality (counted in the diagnostics).
    solver: str = "PIQP"
    fallback_solver: str | None = "CLARABEL"

    def __post_init__(self) -> None:
        check_selection(self)
        check_number(self, "max_weight", low=0, low_open=True, high=1, optional=True,
                     meaning="a cap per name, 0.05 = 5 %")
        if self.max_weight is not None and self.max_weight <= self.min_weight:
            raise SettingsError(f"TargetSettings(min_weight={self.min_weight!r}, max_weight="
                                f"{self.max_weight!r}): the cap per name must be above the "
                                "weight below which a name counts as not held; raise "
                                "max_weight or lower min_weight")
        check_solver(self, "solver", conic=False)
        check_solver(self, "fallback_solver", conic=False, optional=True)

    def selection(self) -> SelectionSettings:
        """The name-selection settings (:mod:`pma_lab.portfolio.selection`)."""
        return SelectionSettings(self.drop_fraction, self.fine_drop_fraction,
                                 self.swap_rounds, self.min_weight)


@dataclass(frozen=True)
class Target:
    """A target portfolio.

    Attributes
    ----------
    as_of : datetime.date
    weights : pd.Series
        Target weights by ticker (sum 1, largest first).
    tracking_error : float
        Ex-ante annualised TE against the unrestricted benchmark.
    names : int
        Names held.
    max_names : int | None
        The cardinality asked for (``None``: no limit).
    benchmark : str
    method : str
        ``"backward elimination"``, ``"continuous"`` or ``"exact (SCIP)"``.
    diagnostics : dict
        Solves, seconds, solver status, elimination path.
    """

    as_of: dt.date
    weights: pd.Series
    tracking_error: float
    names: int
    max_names: int | None
    benchmark: str
    method: str
    diagnostics: Mapping = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Weights as a table (ticker, weight)."""
        return self.weights.rename("weight").rename_axis("ticker").reset_index()


def _code_digest() -> str:
    """SHA-256 of this module's and the name selection's source (a cached target's key)."""
    global _CODE
    if _CODE is None:
        import hashlib
        import inspect
        import sys

        from pma_lab.portfolio import selection

        src = inspect.getsource(selection) + inspect.getsource(sys.modules[__name__])
        _CODE = hashlib.sha256(src.encode()).hexdigest()
    return _CODE


_CODE: str | None = None


class TargetBuilder:
    """One compiled target problem per (risk model, benchmark); re-solved per request.

    Parameters
    ----------
    risk : RiskModel
    benchmark : Benchmark
        Unrestricted benchmark (weights on names outside the model raise).
    sectors : pd.Series
        GICS sector per model ticker (for sector limits and tilts).
    settings : TargetSettings
    """

    def __init__(self, risk: RiskModel, benchmark: Benchmark, sectors: pd.Series,
                 settings: TargetSettings | None = None,
                 fixed: Mapping[str, float] | None = None):
        self.risk = risk
        self.benchmark = benchmark
        self.settings = settings or TargetSettings()
        self.tickers = list(risk.tickers)
        n = len(self.tickers)
        self.wb = risk.align(benchmark.weights)
        # names held at fixed weights (a client's keep list): the problem chooses the rest,
        # u (sum 1), of the account's other 1 - F, so the account f + (1 - F) u tracks the
        # benchmark: ||f + (1 - F) u - w_b|| = (1 - F) ||u - (w_b - f) / (1 - F)||, the
        # same problem against the benchmark's remainder (negative where a kept name is
        # above its benchmark weight), scaled
        self.fixed = self._fixed_weights(fixed)
        self.fixed_share = float(self.fixed.sum())
        self._benchmark_held, self._wb_bench = self.wb > 0, self.wb
        if self.fixed_share > 0:
            self.wb = (self.wb - self.fixed) / (1.0 - self.fixed_share)
        self.sector_of = sectors.reindex(self.tickers).fillna("Unknown").to_numpy()
        self.sector_names = sorted(set(self.sector_of))
        s_mat = np.array([[1.0 if s == name else 0.0 for s in self.sector_of]
                          for name in self.sector_names])
        self.w = cp.Variable(n, nonneg=True, name="w")
        self.ub = cp.Parameter(n, nonneg=True, name="upper_bound")
        self.sec_hi = cp.Parameter(len(self.sector_names), name="sector_max")
        self.sec_lo = cp.Parameter(len(self.sector_names), name="sector_min")
        active = self.w - self.wb
        var, self.params = risk.cvx_tracking_variance(active)
        cons = [cp.sum(self.w) == 1, self.w <= self.ub, s_mat @ self.w <= self.sec_hi,
                s_mat @ self.w >= self.sec_lo]
        self.problem = cp.Problem(cp.Minimize(1e4 * var), cons)
        if not self.problem.is_dcp(dpp=True):
            raise NotDPPError("the target problem is not DPP; this is a formulation bug")
        self.s_mat = s_mat
        self.n_solves = 0
        self.n_fallbacks = 0
        self._compiled: tuple | None = None  # (data, chain, inverse data) of this build
        self._ub_rows: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def kept(cls, risk: RiskModel, benchmark: Benchmark, sectors: pd.Series,
             settings: TargetSettings | None = None,
             fixed: Mapping[str, float] | None = None
             ) -> AbstractContextManager[TargetBuilder]:
        """A builder for these inputs, kept in this process for the next call with the same.

        A context manager: ``with TargetBuilder.kept(...) as tb: tb.build(...)``. A batch
        worker's warm kernel builds a target for client after client from the same risk
        model, benchmark and sectors (most without a keep list), each with its own name
        count and screens; the builder's cvxpy problem, its compilation for the solver
        (cvxpy keeps it with the problem) and the place of the bounds in the solver's data
        (:meth:`_upper_bound_rows`, two more compilations) depend on those inputs alone, so
        they are made once (:data:`KEPT_BUILDERS` builders kept, the latest used). Each
        build starts its solver anew (cvxpy's solver cache cleared) as a new builder's
        does, so the target is the same to the bit. The inputs are compared by their
        numbers (:func:`_builder_key`), not by object; a builder in use is taken out of the
        store, so two threads never share one.
        """
        return _kept_builder(cls, risk, benchmark, sectors, settings or TargetSettings(), fixed)

    def _fixed_weights(self, fixed: Mapping[str, float] | None) -> np.ndarray:
        """``fixed`` as an (n,) array in model order (names outside the model: an error)."""
        out = np.zeros(len(self.tickers))
        if not fixed:
            return out
        idx = {t: i for i, t in enumerate(self.tickers)}
        unknown = sorted(set(fixed) - set(idx))
        if unknown:
            raise DataError(f"{', '.join(unknown)}: held at a fixed weight in the target but "
                            "not covered by the risk model; leave them out of the fixed "
                            "weights (they are held outside the target)")
        for t, v in fixed.items():
            if not 0.0 <= float(v) < 1.0:
                raise DataError(f"{t}: a fixed weight of {float(v):.4%} in the target; a "
                                "fixed weight must be at least 0 and below 100%")
            out[idx[t]] = float(v)
        if out.sum() >= 1.0:
            raise DataError(f"the fixed weights ({', '.join(sorted(fixed))}) sum to "
                            f"{out.sum():.2%}: nothing is left for the target to choose")
        return out

    def _upper_bound_rows(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Where the names' upper bounds sit in the solver's data: ``(rows, names)``.

        The bounds are the only parameter a build's re-solves change (name selection), and
        they enter the QP's inequality right-hand side ``G`` as themselves: ``G[rows]`` is
        ``upper_bound[names]``. Found once per builder from two compilations with bounds
        that differ in every name (zeros included); ``None`` (re-solves compiled in full)
        when anything else moves, a value is not the bound itself bit for bit, or the data
        are not a QP's.
        """
        if self._ub_rows is None:
            self._ub_rows = (np.empty(0, np.intp), np.empty(0, np.intp))  # tried
            n = len(self.tickers)
            kept = self.ub.value
            probes = [np.linspace(0.5, 0.25, n), np.linspace(0.0, 0.75, n)[::-1]]
            probes[1][n // 2] = 0.0
            try:
                data = []
                for u in probes:
                    self.ub.value = u
                    data.append(self.problem.get_problem_data(self.settings.solver)[0])
            finally:
                self.ub.value = kept
            a, b = data
            g1, g2 = a.get("G"), b.get("G")
            if not isinstance(g1, np.ndarray) or not isinstance(g2, np.ndarray):
                return None
            for key in a.keys() - {"G"}:
                x, y = a[key], b.get(key)
                if isinstance(x, np.ndarray) and not (isinstance(y, np.ndarray)
                                                      and np.array_equal(x, y)):
                    return None
                if hasattr(x, "nnz") and not (x.shape == y.shape and (x != y).nnz == 0):
                    return None
            rows = np.flatnonzero((g1 != g2) | (np.signbit(g1) != np.signbit(g2)))
            names = np.searchsorted(-probes[0], -g1[rows])
            if len(rows) != n or len(set(names.tolist())) != n or names.max() >= n:
                return None
            for g, u in ((g1, probes[0]), (g2, probes[1])):
                if g[rows].tobytes() != u[names].tobytes():
                    return None
            self._ub_rows = (rows, names)
        return self._ub_rows if len(self._ub_rows[0]) else None

    def _solve_problem(self, solver: str) -> None:
        """``self.problem.solve(solver=solver)``, compiled once per build for the re-solves.

        A build's first solve compiles the problem as cvxpy does; its re-solves, which only
        change the names' upper bounds, take that compilation with the bounds written into
        ``G`` (:meth:`_upper_bound_rows`) instead of compiling again (cvxpy's
        ``get_problem_data``, ~2-3 CPU-ms of a ~13 ms solve, 17-29 solves a target), and
        go through cvxpy's own solver call and unpacking: the solver gets the same data
        (the same arrays, bit for bit) in the same order, so the target is the same.
        """
        checkpoint()  # a background thread may pause here (pma_lab.checkpoints)
        prob = self.problem
        where = self._upper_bound_rows() if solver == self.settings.solver else None
        if where is None:
            prob.solve(solver=solver)
            return
        if self._compiled is None:  # what Problem.solve does: compile, solve, unpack
            self._compiled = prob.get_problem_data(solver)
            data, chain, inverse = self._compiled
        else:
            data, chain, inverse = self._compiled
            rows, names = where
            g = data["G"].copy()
            g[rows] = np.asarray(self.ub.value, dtype=float)[names]
            data = {**data, "G": g}
        solution = chain.solve_via_data(prob, data, True, False, {})
        prob.unpack_results(solution, chain, inverse)

    def _solve(self) -> str:
        t0 = time.perf_counter()
        solvers = [self.settings.solver]
        if self.settings.fallback_solver not in (None, self.settings.solver):
            solvers.append(self.settings.fallback_solver)
        status, error = "solver_error", ""
        for k, solver in enumerate(solvers):
            if k:
                self.n_fallbacks += 1
            try:
                self._solve_problem(solver)
                status = self.problem.status
            except cp.error.SolverError as e:
                status, error = "solver_error", f"{solver} failed on the target problem: {e}"
            if k:
                self._compiled = None  # the fallback replaced cvxpy's compilation
            if status == "optimal":
                break
        self.n_solves += 1
        self._seconds += time.perf_counter() - t0
        if status == "solver_error":
            raise SolverFailedError(error)
        return status

    def build(self, eligible: Sequence[str] | None = None, max_names: int | None = None,
              sector_limits: Mapping[str, float] | None = None,
              sector_tilts: Mapping[str, float] | None = None) -> Target:
        """Solve for the target.

        With ``PMA_LAB_CACHE`` set (``pma-lab batch`` sets it), a target solved before from
        the same inputs is read from the disk cache (:mod:`pma_lab.cache`) instead: batch
        clients with the same screens, name count and limits at one as-of date share one
        target (about 0.2 CPU-s a client). The key covers the risk model's and the
        benchmark's numbers, the sectors, every argument, the settings and this module's
        and the name selection's code; the solve is deterministic, so the target read is
        the one the solve would give. The builder's counters (``n_solves``) then stay 0.

        Parameters
        ----------
        eligible : Sequence[str] | None
            Names the target may hold (default: every benchmark name in the model).
        max_names : int | None
            Cardinality (``None``: no limit).
        sector_limits : Mapping[str, float] | None
            Maximum total weight per GICS sector.
        sector_tilts : Mapping[str, float] | None
            Active sector weight versus the benchmark (e.g. ``{"Energy": -0.02}``).

        Raises
        ------
        InfeasibleError
            Naming the constraints that conflict (e.g. fewer eligible names in a sector
            than its tilt needs, or more names asked than are eligible).
        """
        from pma_lab.cache import cache_dir, cached

        if cache_dir() is None:
            return self._build(eligible, max_names, sector_limits, sector_tilts)
        key = (self._inputs_digest(), None if eligible is None else tuple(eligible),
               max_names, sorted((sector_limits or {}).items()),
               sorted((sector_tilts or {}).items()), _code_digest())
        return cached("target", key, lambda: self._build(eligible, max_names, sector_limits,
                                                         sector_tilts))

    def _inputs_digest(self) -> str:
        """SHA-256 of what a build reads besides its arguments (the cache key's part)."""
        import hashlib

        r, b = self.risk, self.benchmark
        h = hashlib.sha256()
        for a in (r.exposures, r.factor_cov, r.specific_var, self.wb,
                  b.weights.to_numpy(dtype=float)):
            h.update(np.ascontiguousarray(a, dtype=float).tobytes())
        h.update(repr((r.as_of, r.tickers, r.factors, r.settings, tuple(b.weights.index),
                       b.name, tuple(self.sector_of), self.settings)).encode())
        return h.hexdigest()

    def _build(self, eligible: Sequence[str] | None, max_names: int | None,
               sector_limits: Mapping[str, float] | None,
               sector_tilts: Mapping[str, float] | None) -> Target:
        """Solve for the target (:meth:`build` without the cache)."""
        self._seconds = 0.0
        self.n_solves = 0
        self.n_fallbacks = 0
        self._compiled = None  # compiled again with this build's sector limits
        idx = {t: i for i, t in enumerate(self.tickers)}
        cap = self.settings.max_weight if self.settings.max_weight is not None else 1.0
        allowed = np.zeros(len(self.tickers), dtype=bool)
        if eligible is None:
            allowed[:] = self._benchmark_held
        else:
            for t in eligible:
                if t in idx:
                    allowed[idx[t]] = True
        fixed, share = self.fixed > 0, self.fixed_share
        allowed &= ~fixed  # held at their fixed weights, not chosen
        if max_names is not None and share > 0:
            if max_names <= int(fixed.sum()):
                raise InfeasibleError(
                    f"the target may hold {max_names} names and {int(fixed.sum())} are held "
                    "at fixed weights (the keep list); ask for more names", ["max_names"])
            max_names -= int(fixed.sum())
        n_allowed = int(allowed.sum())
        if n_allowed == 0:
            raise InfeasibleError("no name is eligible for the target: the screens exclude "
                                  "every benchmark name", ["screens"])
        bench_sec = self.s_mat @ self._wb_bench
        hi = np.ones(len(self.sector_names))
        lo = np.zeros(len(self.sector_names))
        for sec, lim in (sector_limits or {}).items():
            if sec in self.sector_names:
                hi[self.sector_names.index(sec)] = lim
        for sec, tilt in (sector_tilts or {}).items():
            if sec in self.sector_names:
                k = self.sector_names.index(sec)
                goal = bench_sec[k] + tilt
                if goal < -1e-12:
                    raise InfeasibleError(
                        f"sector tilt {tilt:+.2%} on {sec} asks for a negative weight (the "
                        f"benchmark holds {bench_sec[k]:.2%}); use a tilt of at least "
                        f"{-bench_sec[k]:+.2%}", [f"sector_tilts.{sec}"])
                hi[k] = min(hi[k], goal)
                lo[k] = goal
        if share > 0:  # the chosen names' limits: what the fixed weights leave
            fixed_sec = self.s_mat @ self.fixed
            over = [k for k in range(len(hi)) if fixed_sec[k] > hi[k] + 1e-12]
            if over:
                k = over[0]
                raise InfeasibleError(
                    f"the names held at fixed weights (the keep list) hold "
                    f"{fixed_sec[k]:.2%} of the account in {self.sector_names[k]}, above its "
                    f"limit of {hi[k]:.2%}; raise the sector's limit or tilt",
                    [f"sector.{self.sector_names[k]}"])
            hi = (hi - fixed_sec) / (1.0 - share)
            lo = np.maximum(lo - fixed_sec, 0.0) / (1.0 - share)
        self.sec_hi.value, self.sec_lo.value = hi, lo
        path = []
        self.ub.value = np.where(allowed, cap, 0.0)
        status = self._solve()
        if status not in ("optimal", "optimal_inaccurate"):
            raise self._infeasible(status, allowed, hi, lo, bench_sec)
        method = "continuous"
        if max_names is not None:
            sel = select_names(
                np.asarray(self.w.value), self._objective(), self._solve_with,
                lambda w: 2 * self.risk.tracking.sigma(w - self.wb), allowed, cap,
                max_names, self.settings.selection(),
                lambda st, keep: self._infeasible(st, keep, hi, lo, bench_sec, max_names))
            method, status, path = sel.method, sel.status, list(sel.path)
        # weights at or below min_weight are solver round-off for "not held": set them to 0;
        # the total they carried is at most n x min_weight and is checked, not hidden
        w = np.asarray(self.w.value).clip(min=0.0)
        w[w <= self.settings.min_weight] = 0.0
        total = float(w.sum())
        if abs(total - 1.0) > 1e-4:
            raise SolverFailedError(f"target weights sum to {total:.6f} after the solve "
                                    f"({status}); the solver answer is not reliable")
        weights = pd.Series(self.fixed + (1.0 - share) * (w / total) if share > 0 else
                            w / total, index=self.tickers)
        weights = weights[weights > 0].sort_values(ascending=False)
        te = self.risk.tracking_error(weights, self.benchmark.weights)
        kept = {t: float(self.fixed[i]) for i, t in enumerate(self.tickers) if fixed[i]}
        return Target(self.risk.as_of, weights, te, int((weights > 0).sum()),
                      None if max_names is None else max_names + len(kept),
                      self.benchmark.name, method,
                      {**({"fixed": kept} if kept else {}), "solves": self.n_solves,
                       "solver_seconds": round(self._seconds, 4),
                       "solver": self.settings.solver, "fallbacks": self.n_fallbacks,
                       "status": status, "elimination_path": path,
                       "eligible": n_allowed})

    def _objective(self) -> float:
        return float(self.problem.value) if self.problem.value is not None else np.inf

    def _solve_with(self, upper: np.ndarray) -> tuple[str, np.ndarray, float]:
        """Re-solve with per-name upper bounds (name selection's callback)."""
        self.ub.value = upper
        status = self._solve()
        w = self.w.value
        return status, (np.zeros(len(self.tickers)) if w is None else np.asarray(w)), \
            self._objective()

    def _infeasible(self, status: str, allowed: np.ndarray, hi: np.ndarray, lo: np.ndarray,
                    bench_sec: np.ndarray, max_names: int | None = None) -> InfeasibleError:
        conflicts, lines = [], []
        for k, sec in enumerate(self.sector_names):
            avail = bool((allowed & (self.sector_of == sec)).any())
            if lo[k] > 1e-12 and not avail:
                conflicts.append(f"sector_tilts.{sec}")
                lines.append(f"{sec} must hold {lo[k]:.2%} but no eligible name is in it")
        if lo.sum() > 1 + 1e-9:
            conflicts.append("sector_tilts")
            lines.append(f"sector minimums add up to {lo.sum():.2%} > 100 %")
        if hi[[bool((allowed & (self.sector_of == s)).any()) for s in self.sector_names]
              ].sum() < 1 - 1e-9:
            conflicts.append("sector_max_weight")
            lines.append("the sector maximums of the sectors with eligible names add up to "
                         "less than 100 %")
        if max_names is not None:
            conflicts.append("max_names")
        msg = "; ".join(lines) or "the screens, sector limits/tilts and name count conflict"
        return InfeasibleError(f"the target problem is {status}: {msg}. Relax one of: "
                               f"{', '.join(conflicts) or 'screens, sector limits, names'}",
                               conflicts)


KEPT_BUILDERS = 2
"""Target builders :meth:`TargetBuilder.kept` keeps in this process (the latest used);
each holds its cvxpy problem and compilation (~1-2 MB with the packaged model)."""

_KEPT: OrderedDict[str, TargetBuilder] = OrderedDict()
_KEPT_LOCK = threading.Lock()


def _builder_key(risk: RiskModel, benchmark: Benchmark, sectors: pd.Series,
                 settings: TargetSettings, fixed: Mapping[str, float] | None) -> str:
    """SHA-256 of what a builder is made from: the numbers, names and settings."""
    import hashlib

    h = hashlib.sha256()
    for a in (risk.exposures, risk.factor_cov, risk.specific_var,
              benchmark.weights.to_numpy(dtype=float)):
        a = np.ascontiguousarray(a, dtype=float)
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    sec = sectors.reindex(list(risk.tickers)).fillna("Unknown")
    h.update(repr((tuple(risk.tickers), risk.factors, tuple(benchmark.weights.index),
                   tuple(sec.astype(str)), repr(settings),
                   sorted((str(t), float(v).hex()) for t, v in (fixed or {}).items())
                   )).encode())
    return h.hexdigest()


@contextmanager
def _kept_builder(cls: type[TargetBuilder], risk: RiskModel, benchmark: Benchmark,
                  sectors: pd.Series, settings: TargetSettings,
                  fixed: Mapping[str, float] | None) -> Iterator[TargetBuilder]:
    key = _builder_key(risk, benchmark, sectors, settings, fixed)
    with _KEPT_LOCK:
        tb = _KEPT.pop(key, None)  # taken out while in use
    if tb is None:
        tb = cls(risk, benchmark, sectors, settings, fixed=fixed)
    else:
        tb.risk, tb.benchmark = risk, benchmark  # the same numbers: the caller's objects
        # its first solve sets the solver up anew, as a new builder's does (the solver's
        # state from the last caller's build would start this one elsewhere)
        tb.problem._solver_cache.clear()
    try:
        yield tb
    finally:
        with _KEPT_LOCK:
            _KEPT[key] = tb
            _KEPT.move_to_end(key)
            while len(_KEPT) > KEPT_BUILDERS:
                _KEPT.popitem(last=False)


def build_target(risk: RiskModel, benchmark: Benchmark, sectors: pd.Series,
                 eligible: Sequence[str] | None = None, max_names: int | None = None,
                 sector_limits: Mapping[str, float] | None = None,
                 sector_tilts: Mapping[str, float] | None = None,
                 settings: TargetSettings | None = None) -> Target:
    """One-shot :class:`TargetBuilder` (see :meth:`TargetBuilder.build`)."""
    return TargetBuilder(risk, benchmark, sectors, settings).build(
        eligible, max_names, sector_limits, sector_tilts)


def exact_target(risk: RiskModel, benchmark: Benchmark, eligible: Sequence[str],
                 max_names: int, time_limit: float = 60.0) -> Target:
    """Exact cardinality-constrained target (MIQP with SCIP) for small universes.

    Used to measure the optimality gap of backward elimination; needs ``pyscipopt``.
    """
    tick = list(risk.tickers)
    idx = {t: i for i, t in enumerate(tick)}
    sel = [idx[t] for t in eligible if t in idx]
    wb = risk.align(benchmark.weights)
    w = cp.Variable(len(tick), nonneg=True)
    z = cp.Variable(len(sel), boolean=True)
    var, _ = risk.cvx_tracking_variance(w - wb)
    mask = np.zeros(len(tick), dtype=bool)
    mask[sel] = True
    cons = [cp.sum(w) == 1, w[~mask] == 0, w[sel] <= z, cp.sum(z) <= max_names]
    prob = cp.Problem(cp.Minimize(1e4 * var), cons)
    t0 = time.perf_counter()
    prob.solve(solver="SCIP", scip_params={"limits/time": time_limit})
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise SolverFailedError(f"SCIP ended with status {prob.status}")
    wv = np.asarray(w.value).clip(min=0.0)
    wv[wv < 1e-7] = 0.0
    weights = pd.Series(wv / wv.sum(), index=tick)
    weights = weights[weights > 0].sort_values(ascending=False)
    return Target(risk.as_of, weights, risk.tracking_error(weights, benchmark.weights),
                  int(len(weights)), max_names, benchmark.name, "exact (SCIP)",
                  {"status": prob.status, "seconds": time.perf_counter() - t0})


@dataclass(frozen=True)
class RoundedTarget:
    """A target in whole shares at an account size."""

    shares: pd.Series  # whole shares by ticker
    prices: pd.Series
    weights: pd.Series  # weights actually achieved (of the account value)
    cash: float  # left over, USD
    tracking_error: float  # ex-ante, with the cash as an active underweight
    account_size: float

    def table(self) -> pd.DataFrame:
        """Ticker, shares, price, value, weight."""
        return pd.DataFrame({"shares": self.shares, "price": self.prices,
                             "value": self.shares * self.prices, "weight": self.weights}
                            ).rename_axis("ticker").reset_index()


def round_to_shares(target: Target, prices: pd.Series, account_size: float,
                    risk: RiskModel, benchmark: Benchmark, sectors: pd.Series | None = None,
                    sector_limits: Mapping[str, float] | None = None,
                    held: Mapping[str, float] | None = None) -> RoundedTarget:
    """Turn target weights into whole shares at ``account_size`` (a separate, explicit step).

    Start from the floor of each name's dollar target, then stay fully invested: spend the
    remaining cash one share at a time on the name whose purchase lowers ex-ante tracking
    error most (or raises it least) per dollar spent until no share is affordable. The
    tracking error is against the benchmark for a built target (the benchmark's best over
    its names) and against the target itself for an active + index core's
    (``diagnostics["active_share"]``), whose manager's bets the leftover must not undo.
    No name outside the target is bought, so screens, sector exclusions and the name count still
    hold, and a name held at a fixed weight (``target.diagnostics["fixed"]``: the keep
    list) gets no share more than its floor; a purchase that would lift a sector above its
    limit is skipped (pass ``sectors`` and
    ``sector_limits``). The cash left over is reported, not hidden.

    ``held``: shares the client holds of the names at fixed weights (the keep list). A
    kept name's fixed weight is of what the client manages today, so at another account
    size (a profile's ``[target] account_size``) its floor would be more shares than the
    client holds, or fewer: each such name is shown at the whole shares held instead
    (never more: it is never sold or added to), and the target's other names share the
    rest of ``account_size`` in their own proportions.

    Raises
    ------
    ValueError
        When a target name has no positive price, or the kept shares ``held`` are worth
        more than ``account_size``.
    """
    px = prices.reindex(target.weights.index)
    if px.isna().any() or (px <= 0).any():
        bad = list(px.index[px.isna() | (px <= 0)])
        raise ValueError(f"no positive price for {', '.join(bad)}")
    dollars = target.weights * account_size
    pinned = {t: float(held[t]) for t in (target.diagnostics.get("fixed") or ())
              if held is not None and t in held and t in px.index}
    if pinned:  # the kept names at the shares held, the other names around them
        kept_usd = sum(np.floor(n) * float(px[t]) for t, n in pinned.items())
        if kept_usd > account_size:
            raise ValueError(f"the kept shares ({', '.join(sorted(pinned))}) are worth "
                             f"${kept_usd:,.0f}, more than the account size "
                             f"${account_size:,.0f}; raise [target] account_size in the "
                             "profile or leave it out (what you hold is then used)")
        others = target.weights.drop(list(pinned))
        dollars = others / float(others.sum()) * (account_size - kept_usd)
        dollars = pd.concat([dollars, pd.Series({t: np.floor(n) * float(px[t])
                                                 for t, n in pinned.items()})]
                            ).reindex(px.index)
    shares = np.floor(dollars / px)
    for t, n in pinned.items():
        shares.loc[t] = np.floor(n)  # exactly the whole shares held
    cash = account_size - float((shares * px).sum())
    idx = risk.index
    rows = np.array([idx[t] for t in px.index])
    tracking = risk.tracking
    curvature = tracking.diagonal()[rows]  # Sigma_ii of the target's names
    sec = (sectors.reindex(px.index).fillna("").to_numpy() if sectors is not None
           else np.array([""] * len(px)))
    limits = dict(sector_limits or {})
    # names held at fixed weights (the keep list) are never added to
    fixed = px.index.isin(list(target.diagnostics.get("fixed") or ()))
    # what the leftover is spent toward, per dollar of tracking error: a built target is the
    # benchmark's best over its names (their gradients equal), so the benchmark; an active +
    # index core keeps the manager's bets (its completion sleeve does not undo them), so the
    # target itself at this size (its dollars): toward the benchmark the leftover went to
    # the name that undoes a bet most (reviewer 2, session 24: core-active's AAPL, +0.39 %
    # over its target; now 25 names get a share or more, none over 0.02 %)
    if "active_share" in target.diagnostics:
        goal = np.zeros(len(risk.tickers))
        goal[rows] = (dollars / account_size).to_numpy()
    else:
        goal = risk.align(benchmark.weights)
    while True:
        w_full = np.zeros(len(risk.tickers))
        w_full[rows] = (shares * px).to_numpy() / account_size
        a = w_full - goal
        grad = 2 * tracking.sigma(a)  # d variance / d weight
        step = px.to_numpy() / account_size
        # the change of tracking variance per dollar spent, not per share: the cash is what
        # is spent, and per share the cheapest name raises the variance least when every
        # purchase raises it (reviewer 1, session 24: chen's $5,623 left by the floors all
        # went into HBAN at $17.04, 329 shares, 1.87% -> 2.26%, TE 2.38% -> 2.40%)
        gain = -grad[rows] - curvature * step
        gain[px.to_numpy() > cash] = -np.inf
        gain[fixed] = -np.inf
        for name, lim in limits.items():
            in_sec = sec == name
            if in_sec.any():
                sec_w = w_full[rows][in_sec].sum()
                gain[in_sec & (sec_w + step > lim + 1e-12)] = -np.inf
        best = int(np.argmax(gain))
        if not np.isfinite(gain[best]):
            break  # no share is affordable any more
        shares.iloc[best] += 1
        cash -= float(px.iloc[best])
    w = (shares * px) / account_size
    te = risk.tracking_error(w, benchmark.weights)
    return RoundedTarget(shares.astype(int), px, w, cash, te, account_size)
