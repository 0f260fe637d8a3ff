"""Transition analysis: moving a legacy portfolio to the target under different plans.

Plans (``immediate``, ``<N>y``, ``budget:<USD>``, ``hold``; :mod:`pma_lab.plan.plans`) are
compared like for like: the same gifts and cash flows, the client's own plan, the
diversified ``immediate`` and ``hold`` always among them.

Every plan ends in the same place: once its tracking error to the target is within the
target band (:attr:`TransitionSettings.te_band`) it enters a maintenance phase that keeps
TE within the band with tax-aware rebalancing (taxes minimised under the TE cap, the plan's
gain budget still binding); the comparison reports how many years each plan takes to
reach the band and the gain still embedded at the horizon (its liquidation tax is in the
after-tax wealth).

Each plan is simulated on the expected path through the household ledger
(:mod:`pma_lab.plan.simulation`); its decisions are replayed on Monte Carlo paths drawn from
the factor risk model (:func:`pma_lab.plan.scenarios.monte_carlo_paths`): after-tax wealth at
the horizon as a median, 10th and 90th percentile, and the probability of ending below the
diversified plan on the same path. Historical replays (``vintages``) remain for research,
with :data:`~pma_lab.plan.scenarios.HINDSIGHT_WARNING`; they never feed the comparison.

The pieces live in their own modules: :mod:`pma_lab.plan.plans` (the plans),
:mod:`pma_lab.plan.simulation` (one plan along one path), :mod:`pma_lab.plan.accounting` (its
tax figures from the ledger), :mod:`pma_lab.plan.montecarlo` (the replay on Monte Carlo
paths), :mod:`pma_lab.plan.analysis` (the comparison, its tables and figures). This module
runs the comparison (:func:`run_transition`, on the caller's thread pool, in this process,
or in processes forked for the call: :func:`run_forked`) and re-exports their names, so
``from pma_lab.plan.transition import ...`` keeps working. A caller that no longer needs a
comparison (the dashboard, when its user chooses another client) sets the ``cancel`` event it
passed: the forked workers are killed at once and :class:`~pma_lab.errors.CancelledError` is
raised instead of a result.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Executor, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, replace

from pma_lab.errors import DataError, SettingsError
from pma_lab.forked import CANCEL_POLL_S, _check, _serve, run_forked  # noqa: F401 (re-exported)
from pma_lab.optimize.constraints import Additions
from pma_lab.optimize.engine import ClientSetup, keep_names, no_taxable_account
from pma_lab.plan import simulation
from pma_lab.plan.accounting import _tax_context
from pma_lab.plan.analysis import (
    TransitionAnalysis,
    _assumptions,
    _compare,
    _timings,
    _vintage_table,
)
from pma_lab.plan.coremodel import CoreUpdate, core_updates
from pma_lab.plan.dividends import (
    DividendYields,
    plan_dividend_yields,
    with_historical_yields,
)
from pma_lab.plan.failure import loss_carried_in
from pma_lab.plan.montecarlo import revalue
from pma_lab.plan.plans import (
    DEFAULT_PLANS,
    DIVERSIFIED_PLAN,
    Plan,
    _reference_plans,
    client_plan,
    parse_plan,
    plan_label,
)
from pma_lab.plan.scenarios import (
    HINDSIGHT_WARNING,
    BillRate,
    MarketPath,
    MonteCarloPaths,
    expected_path,
    fund_composition,
    historical_paths,
    monte_carlo_paths,
    step_dates,
)
from pma_lab.plan.simulation import (
    PlanRun,
    StepProblems,
    TransitionSettings,
    _cash_rate,
    _check_withdrawal,
    account_cash,
    first_trades,
    replay_events,
    simulate,
)
from pma_lab.plan.sleeves import with_bonds

__all__ = ["Plan", "parse_plan", "plan_label", "TransitionSettings", "MarketPath", "PlanRun",
           "TransitionAnalysis", "run_transition", "first_step_run", "simulate", "replay_events",
           "client_plan", "first_trades", "DEFAULT_PLANS", "DIVERSIFIED_PLAN",
           "HINDSIGHT_WARNING", "run_forked"]



@dataclass(frozen=True)
class _Jobs:
    """What every plan's job needs: the setup, the (plan, path) pairs, the shared paths."""

    setup: ClientSetup
    jobs: tuple[tuple[Plan, MarketPath], ...]
    s: TransitionSettings
    acc: str
    rate: BillRate
    mc: MonteCarloPaths | None
    updates: tuple[CoreUpdate, ...] = ()
    dividends: DividendYields | None = None  # the same yields for every plan
    # compiled step problems the plans share (each forked worker its own copy)
    problems: StepProblems | None = None


def _run_job(ctx: _Jobs, i: int) -> PlanRun:
    """Simulate job ``i`` (and replay an expected-path plan on the Monte Carlo paths)."""
    plan, path = ctx.jobs[i]
    expected = path.label == "expected"
    run = simulate(ctx.setup, plan, path, ctx.s, ctx.acc, ctx.rate, record=expected,
                   updates=ctx.updates, dividends=ctx.dividends, problems=ctx.problems)
    if expected and ctx.mc is not None and run.schedule is not None:
        tctx = _tax_context(ctx.setup, list(run.years.year), run.interest,
                            others=run.others)
        out = revalue(run.schedule, ctx.mc, tctx, run.steps.date.iloc[-1], ctx.rate.rate)
        if run.bonds is not None:  # a mixed portfolio: add the bond sleeve (plan.sleeves)
            out = with_bonds(out, run.years)
        run = replace(run, mc=out)
    return run


def _run_jobs(ctx: _Jobs, executor: Executor | None,
              cancel: threading.Event | None = None) -> list[PlanRun]:
    """Run every job: serially, on the caller's executor, or on a forked process pool.

    A caller's executor receives ``_run_job(ctx, i)`` calls; it must be a thread pool,
    which shares the setup (a process-based executor would have to pickle it, and a
    ClientSetup holds the market data and does not pickle), else it is refused with what
    to use instead. Without an executor and with ``settings.workers > 1`` the plans run in
    processes forked for this call (:func:`run_forked`), which inherit the setup and the
    Monte Carlo prices (copy-on-write) through their arguments: no module state.

    ``cancel`` set: :class:`CancelledError` (forked workers killed at once; on a thread
    pool the jobs not started are dropped, a running one ends its plan; serially, the
    next plan is not started).
    """
    n = len(ctx.jobs)
    if executor is not None:
        if not isinstance(executor, ThreadPoolExecutor):
            raise DataError("run_transition(executor=...) needs an executor that shares memory "
                            "(a concurrent.futures.ThreadPoolExecutor): the client's setup "
                            "is not sent to other processes; for processes leave executor "
                            "unset and set TransitionSettings(workers=N)")
        futures = [executor.submit(_run_job, ctx, i) for i in range(n)]
        if cancel is not None:
            pending = set(futures)
            while pending and not cancel.is_set():
                done, pending = wait_futures(pending, CANCEL_POLL_S, FIRST_EXCEPTION)
                if any(f.exception() is not None for f in done):
                    break
            if cancel.is_set():
                for f in futures:
                    f.cancel()
                _check(cancel)
        return [f.result() for f in futures]
    if ctx.s.workers > 1 and n > 1:
        # plans and paths are independent: forked processes share the setup and the Monte
        # Carlo prices copy-on-write (the job is inherited by fork, not pickled); the
        # longest plans start first, so the workers finish together
        order = _longest_first(ctx.jobs)
        runs = run_forked(lambda k: _run_job(ctx, order[k]), n, min(ctx.s.workers, n),
                          cancel)
        return [runs[k] for k in sorted(range(n), key=order.__getitem__)]
    out = []
    for i in range(n):
        _check(cancel)
        out.append(_run_job(ctx, i))
    return out


def _plan_cost(plan: Plan, path: MarketPath) -> float:
    """A plan's simulation cost on ``path``, in solves (an estimate for the scheduling).

    Measured on the sample clients (CPU seconds per plan): a step that solves costs about
    the same whatever the plan; a timeline plan solves at every step of its glide and at
    about a third of the maintenance steps after it, a budget plan at most steps (fewer
    once a year's budget is spent), immediate at its first step and a few maintenance
    steps (its first, going to the target at once, costs several), hold almost never.
    """
    dates = path.prices.index
    n = max(len(dates) - 1, 1)
    years = max((dates[-1] - dates[0]).days / 365.25, 1e-9)
    if plan.kind == "hold":
        return 0.05 * n
    if plan.kind == "immediate":
        return 0.5 * n
    if plan.kind == "timeline":
        glide = min(plan.years / years, 1.0)
        return n * (glide + 0.3 * (1 - glide))
    return 0.6 * n  # budget


def _longest_first(jobs: Sequence[tuple[Plan, MarketPath]]) -> list[int]:
    """Job numbers in the order to start them: hold, then the costliest first.

    Workers take the next job as they finish one, so starting the long ones first makes
    them finish together (ties keep the jobs' order; costs from :func:`_plan_cost`).
    ``hold`` starts first: its cost is the one the estimate cannot tell. It solves only
    when its cash is worth investing, which is almost never (~0.06 CPU-s on the sample
    clients, so starting it first delays the others by that much at most), unless the
    cash left after its first step stays above the minimum trade and every step solves
    to invest it: young-pro's hold, 1.26 CPU-s, its costliest plan, started last, kept a
    worker busy ~0.45 s after the other had finished (two workers: 1.73 s for the plans
    against 1.29 s with hold first; the other sample clients' within +-0.05 s).
    """
    cost = [_plan_cost(plan, path) for plan, path in jobs]
    return sorted(range(len(jobs)), key=lambda i: (jobs[i][0].kind != "hold", -cost[i]))


def run_transition(setup: ClientSetup, plans: Sequence[str | Plan] = DEFAULT_PLANS,
                   settings: TransitionSettings | None = None,
                   vintages: Sequence[dt.date] = (), account_id: str | None = None,
                   executor: Executor | None = None,
                   cancel: threading.Event | None = None,
                   additions: Additions | None = None) -> TransitionAnalysis:
    """Compare plans: the expected path, Monte Carlo paths and (research) replays.

    Every plan is simulated on the expected path, its decisions are replayed on the Monte
    Carlo paths, and, for research, it is simulated on historical paths.

    Parameters
    ----------
    setup : ClientSetup
    plans : Sequence[str | Plan]
        Plans as text (see :func:`parse_plan`) or objects. The client's own plan, the
        diversified plan (``immediate``) and ``hold`` are always added; all share one
        gift and cash flow.
    settings : TransitionSettings
    vintages : Sequence[date]
        Start dates of historical replays (research only).
    account_id : str | None
        The taxable account (default: the first).
    executor : concurrent.futures.Executor | None
        Where the plans run: the caller's thread pool (kept across calls, e.g. by a
        dashboard); by default a process pool of ``settings.workers`` forked for this call
        (``workers=1``: in this process, e.g. inside a batch worker that is already one of
        many).
    cancel : threading.Event | None
        Set by another thread when the comparison is no longer needed: the forked
        workers are killed at once (within :data:`CANCEL_POLL_S` seconds), and
        :class:`~pma_lab.errors.CancelledError` is raised instead of a result.
    additions : Additions | None
        A researcher's objective terms and constraints, added to every step's problem of
        every plan (:attr:`pma_lab.optimize.rebalance.RebalanceProblem.additions` of a
        problem they were added to; :func:`pma_lab.plan.simulation.simulate`). Each
        function is called with each step's problem. Every step that trades is solved
        (the skips proven for the built-in objective alone are not made); the Monte Carlo
        paths replay the expected path's decisions, as without them.

    Returns
    -------
    TransitionAnalysis
        Its ``comparison`` holds no figures for a plan that could not be completed (a
        step infeasible: ``failed`` and ``failed_why`` say why): every cell but
        :data:`~pma_lab.plan.analysis.FAILED_KEEPS` is NaN (or ``None`` for text), as every
        table and file shows it (:meth:`TransitionAnalysis.comparison_shown`); its
        partial run stays in ``runs`` for research.

    Raises
    ------
    DataError
        For malformed plans, plans with different gifts or flows, no taxable account, or
        a process-based executor.
    SettingsError
        When ``setup``, ``plans`` or ``settings`` is not of its type (e.g. one plan's text
        instead of a list, or a dict instead of :class:`TransitionSettings`).
    CancelledError
        When ``cancel`` was set before the comparison finished.
    """
    t0 = time.perf_counter()
    if not isinstance(setup, ClientSetup):
        raise SettingsError(f"run_transition(setup=<{type(setup).__name__}>): setup must be "
                            "a ClientSetup; build it with pma_lab.prepare(client)")
    if isinstance(plans, str | Plan):
        one = repr(plans) if isinstance(plans, str) else "plan"
        raise SettingsError(f"run_transition(plans={one}): plans must be a list of plans; "
                            f"pass [{one}] (or text split at commas: "
                            "'immediate,3y'.split(','))")
    plans = list(plans)  # an iterator is read once
    bad = [p for p in plans if not isinstance(p, str | Plan)]
    if bad:
        raise SettingsError(f"run_transition(plans=...): {bad[0]!r} is neither a plan's text "
                            "(see parse_plan) nor a Plan")
    # the class itself (callers may replace this module's name, e.g. by a partial)
    if settings is not None and not isinstance(settings, simulation.TransitionSettings):
        raise SettingsError(f"run_transition(settings=<{type(settings).__name__}>): settings "
                            "must be a TransitionSettings; pass TransitionSettings(**your_dict)"
                            if isinstance(settings, dict) else
                            f"run_transition(settings=<{type(settings).__name__}>): settings "
                            "must be a TransitionSettings or None for the defaults")
    _check(cancel)
    additions = simulation._additions(additions, "run_transition")
    s = settings or TransitionSettings()
    prof = setup.client.profile
    gift = prof.charity.annual_gift if prof.charity else 0.0
    parsed = [p if isinstance(p, Plan) else parse_plan(p, gift) for p in plans]
    if not parsed:
        raise DataError("no plan to compare; give at least one, e.g. \"immediate\"")
    parsed, mine = _reference_plans(setup, parsed)
    if any(p.gift > 0 for p in parsed) and not prof.tax.agi:
        raise DataError("gifts of stock need the client's AGI (the deduction is limited to "
                        "30 % of AGI); add agi = ... to [tax] in the profile")
    acc = account_id or (setup.taxable_accounts() or [None])[0]
    if acc is None:
        raise no_taxable_account(setup, "to plan a transition for")
    # a first year's withdrawal larger than the account: said before any path is simulated
    # (a later year's is found at its step, simulation._check_withdrawal)
    cash0 = account_cash(setup, acc)
    _check_withdrawal(parsed[0], acc, setup.ledger, setup.as_of, setup.prices,
                      cash0 + parsed[0].flow, 1, accounts=tuple(setup.client.profile.accounts),
                      keep=keep_names(setup))
    rate = _cash_rate(setup, s)
    dates = step_dates(setup.as_of, s.horizon_years, s.steps_per_year)
    exp = expected_path(setup.prices, dates, s.expected_return)
    updates = core_updates(setup, dates)  # an active model's updates (solved once)
    t1 = time.perf_counter()
    mc = _mc_paths(setup, acc, dates, s, updates) if s.mc_paths > 0 else None
    t_paths = time.perf_counter() - t1
    _check(cancel)
    jobs = [(p, exp) for p in parsed]
    if vintages:
        # each step at the dividend yields and cash rate of the day it replays
        hist = with_historical_yields(setup, historical_paths(setup.market, setup.prices,
                                                              dates, vintages))
        jobs += [(p, path) for path in hist for p in parsed]
    t2 = time.perf_counter()
    dividends = plan_dividend_yields(setup)
    runs = _run_jobs(_Jobs(setup, tuple(jobs), s, acc, rate, mc, updates, dividends,
                           StepProblems(s.reuse_problems, additions=additions)),
                      executor, cancel)
    _check(cancel)
    t_jobs = time.perf_counter() - t2
    runs = _with_losses_carried_in(runs, setup)
    expected_runs = [r for r in runs if r.path == "expected"]
    comparison = _compare(expected_runs, parsed[mine].name, s.expected_return, setup, acc,
                          rate.rate)
    vint = _vintage_table([r for r in runs if r.path != "expected"])
    timings = _timings(runs, t_paths, t_jobs, s)
    out = TransitionAnalysis(tuple(runs), comparison, vint,
                             _assumptions(setup, s, vintages, rate, mc, updates, dividends,
                                          acc, parsed[0].flow < 0),
                             time.perf_counter() - t0, timings, s)
    # a failed plan's figures are a partial run's: the frame a researcher reads holds none,
    # as every table and file (L3, session 13)
    return replace(out, comparison=out.comparison_shown())


def first_step_run(setup: ClientSetup, plan: Plan, settings: TransitionSettings,
                   account_id: str | None = None,
                   additions: Additions | None = None) -> PlanRun:
    """``plan``'s run whose first step :func:`first_trades` reads (``run=``), briefly.

    The plan simulated as :func:`run_transition` simulates it on the expected path, with
    its first step recorded, but only over the first two step dates (today's step and one
    after it, which trades nothing), through the first tax year's step dates and one after
    for a budget plan of a client with a ``sell_within`` glide (the year's later glide
    sales in view: the gains step 0 holds back for them), or the first
    ``settings.steps_per_year + 2`` when
    the plan withdraws (its next withdrawal, a year on, in view: the cash a budget or hold
    plan keeps for it): enough for step 0 to be the comparison's (its next plan-year start
    is in the next tax year, so no gains are held back for it), without the rest of the
    horizon, the other plans or the Monte Carlo paths. A
    caller that shows today's trades before the comparison (the dashboard) reads the plan
    run's own first step through it, never a step solved apart (the proposal's
    :func:`pma_lab.report.proposal.todays_trades` reads the comparison's run).
    """
    s = settings
    acc = account_id or (setup.taxable_accounts() or [None])[0]
    if acc is None:
        raise no_taxable_account(setup, "to plan a transition for")
    dates = step_dates(setup.as_of, s.horizon_years, s.steps_per_year)
    # through the first tax year's steps and one after: step 0 holds back the gains of the
    # year's later glide sales (simulation._later_glide), which only the year's later
    # dates show (reviewer 2, session 20)
    glide = plan.kind == "budget" and any(
        a.action == "sell_within" for _, a in setup.client.profile.restrictions.held)
    year0 = sum(1 for d in dates if d.year == dates[0].year) if glide else 1
    dates = dates[:max(s.steps_per_year + 2 if plan.flow < 0 else 2, year0 + 1)]
    return simulate(setup, plan, expected_path(setup.prices, dates, s.expected_return), s,
                    acc, record=True, additions=additions)


def _with_losses_carried_in(runs: Sequence[PlanRun], setup: ClientSetup) -> list[PlanRun]:
    """Each failed run's step failure with the loss carried into the step's tax year.

    Its reason says how the gains budget counts gains when that year carries a loss in
    (:func:`pma_lab.plan.failure.client_reason`): from the run's yearly table, or the
    loss carried into the run's first year (:meth:`pma_lab.io.profile.ClientProfile.
    carryforward_into`); a withdrawal that needs gains beyond
    the budget keeps the loss its step weighed (its error's, ``gains_needed`` > 0).
    """
    first = sum(setup.client.profile.carryforward_into(setup.as_of.year,
                                                       f"the analysis date {setup.as_of}"))
    # a withdrawal beyond the budget keeps its error's loss carried in (the one the step
    # weighed, :func:`pma_lab.plan.simulation._loss_carried_in`)
    return [replace(r, failure=replace(r.failure, carried_in=loss_carried_in(
        r.years, r.failure.day.year, first))) if r.failure is not None
        and r.failure.gains_needed <= 0 else r for r in runs]


def _mc_paths(setup: ClientSetup, acc: str, dates: Sequence[dt.date],
              s: TransitionSettings, updates: Sequence[CoreUpdate] = ()
              ) -> MonteCarloPaths:
    """Monte Carlo prices of every name the account holds or a target may buy.

    The targets: today's and those of an active model's updates (``updates``).
    """
    held = {lt.ticker for lt in setup.ledger.lots(account=acc)}
    model = set(setup.risk.tickers)
    funds = sorted(held - model)
    targets = set(setup.target.weights.index).union(
        *(u.setup.target.weights.index for u in updates))
    stocks = sorted((held & model) | targets)
    comp = fund_composition(funds, setup.benchmark.weights, setup.sectors,
                            setup.market.etf_info()) if funds else None
    return monte_carlo_paths(setup.risk, setup.prices, dates, s.mc_paths, s.expected_return,
                             s.seed, stocks + funds, comp)
