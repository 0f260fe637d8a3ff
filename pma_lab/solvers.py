"""Solver policy: which cvxpy solvers pma_lab accepts, with which tolerances, how accurate.

Every optimisation in pma_lab names its solver in a settings object
(:class:`~pma_lab.optimize.rebalance.RebalanceSettings` ``solver`` / ``qp_solver``,
:class:`~pma_lab.portfolio.target.TargetSettings` ``solver``). The name is checked against
:data:`SOLVERS` when the settings are built, so a typo or a solver that cannot handle the
problem fails at once with a message saying which solvers can, instead of deep inside a
solve.

Two families are accepted:

* interior-point solvers (CLARABEL, PIQP; ECOS and MOSEK when installed) are run with
  their own defaults: they stop at a relative gap near 1e-8, so a trade weight below
  1e-7 of the account (about $0.10 on $1M) is round-off;
* first-order solvers (OSQP, SCS) are run with tolerances tightened from cvxpy's
  defaults (1e-5 / 1e-4, which leave trades of about $10 per $1M on every name that
  should not trade) to 1e-7 plus OSQP's solution polishing, and a trade weight below
  their documented :attr:`SolverSpec.accuracy` is treated as round-off. They are allowed
  for research (they scale to very large books and warm-start well), not the default.

A solver reads quadratic programs only (``conic=False``: OSQP, PIQP) or also second-order
cones (``conic=True``): the rebalance's relaxation and any tracking-error cap need cones.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import cvxpy as cp

from pma_lab.checkpoints import checkpoint
from pma_lab.errors import SettingsError

__all__ = ["SolverSpec", "SOLVERS", "solver_spec", "check_solver", "solve_problem"]


@dataclass(frozen=True)
class SolverSpec:
    """How pma_lab runs one cvxpy solver.

    Attributes
    ----------
    name : str
        cvxpy's name of the solver (upper case).
    conic : bool
        Whether it handles second-order cones (else quadratic programs only).
    first_order : bool
        A first-order (ADMM / splitting) method: fast per iteration, less accurate.
    accuracy : float
        Weights (fractions of the account) below this are solver round-off and are set to
        zero in results; measured on the sample clients against CLARABEL.
    options : Mapping[str, object]
        Keyword arguments passed to ``Problem.solve``.
    """

    name: str
    conic: bool
    first_order: bool
    accuracy: float
    options: Mapping[str, object] = field(default_factory=dict)


SOLVERS: Mapping[str, SolverSpec] = MappingProxyType({s.name: s for s in (
    SolverSpec("CLARABEL", conic=True, first_order=False, accuracy=1e-7),
    SolverSpec("PIQP", conic=False, first_order=False, accuracy=1e-7),
    SolverSpec("ECOS", conic=True, first_order=False, accuracy=1e-7),
    SolverSpec("MOSEK", conic=True, first_order=False, accuracy=1e-7),
    SolverSpec("OSQP", conic=False, first_order=True, accuracy=1e-6,
               options={"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iter": 200_000,
                        "polishing": True}),
    SolverSpec("SCS", conic=True, first_order=True, accuracy=1e-6,
               options={"eps_abs": 1e-7, "eps_rel": 1e-7, "max_iters": 200_000}),
)})
"""The accepted solvers (see the module docs); the installed ones can be used."""


def solver_spec(name: str) -> SolverSpec:
    """The policy entry of solver ``name`` (case-insensitive).

    Raises
    ------
    SettingsError
        When the solver is not in :data:`SOLVERS`.
    """
    spec = SOLVERS.get(str(name).upper())
    if spec is None:
        raise SettingsError(f"solver {name!r} is not supported; use one of "
                            f"{', '.join(sorted(SOLVERS))} (installed: "
                            f"{', '.join(_installed())})")
    return spec


@functools.cache
def _cvxpy_installed() -> frozenset[str]:
    """The solvers cvxpy can use in this process, looked up once.

    ``cp.installed_solvers()`` probes every solver's import on each call (about 45 ms);
    settings are checked on every ``dataclasses.replace``, i.e. at every step of a
    transition and every frontier point, where the probes cost 15 % of a simulation.
    Installing a solver into a running process is not supported: restart it.
    """
    return frozenset(cp.installed_solvers())


def _installed() -> list[str]:
    return sorted(_cvxpy_installed() & set(SOLVERS))


def check_solver(owner: object, name: str, *, conic: bool, optional: bool = False) -> None:
    """Check the solver named by ``owner.name``: known, installed and able to solve.

    The field is normalised to upper case.

    Parameters
    ----------
    owner : object
        The settings instance (its type names the error).
    name : str
        The field holding the solver's name.
    conic : bool
        Whether the problems it solves have cones (then a QP-only solver is refused).
    optional : bool
        Whether ``None`` is allowed.

    Raises
    ------
    SettingsError
        Naming the solvers that can be used instead.
    """
    value = getattr(owner, name)
    if value is None and optional:
        return
    where = f"{type(owner).__name__}({name}={value!r})"
    if not isinstance(value, str):
        raise SettingsError(f"{where}: {name} must be a solver name such as 'CLARABEL'")
    spec = SOLVERS.get(value.upper())
    able = [s for s in _installed() if SOLVERS[s].conic or not conic]
    if spec is None:
        raise SettingsError(f"{where}: unknown solver; use one of {', '.join(able)}")
    if spec.name not in _cvxpy_installed():
        raise SettingsError(f"{where}: {spec.name} is not installed; install it "
                            f"(pip install {spec.name.lower()}) or use one of "
                            f"{', '.join(able)}")
    if conic and not spec.conic:
        raise SettingsError(f"{where}: {spec.name} solves quadratic programs only and this "
                            f"solver must handle second-order cones (the relaxation, a "
                            f"tracking-error cap); use one of {', '.join(able)} here "
                            f"(a QP-only solver goes in qp_solver)")
    object.__setattr__(owner, name, spec.name)


def solve_problem(problem: cp.Problem, solver: str,
                  options: Mapping[str, object] | None = None) -> str:
    """Solve ``problem`` with ``solver`` under the policy's options; return the status.

    A solver that stops with an error returns ``"solver_error"`` (the caller decides to
    fall back or to raise); an inaccurate solve returns cvxpy's ``"optimal_inaccurate"``
    without printing cvxpy's warning (callers record it). ``options`` are added to (and
    override) the policy's for this call.
    """
    spec = solver_spec(solver)
    checkpoint()  # a background thread may pause here (pma_lab.checkpoints)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            problem.solve(solver=spec.name, **{**dict(spec.options), **dict(options or {})})
    except cp.error.SolverError:
        return "solver_error"
    return problem.status
