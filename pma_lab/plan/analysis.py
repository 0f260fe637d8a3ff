"""The comparison of plans: the result object, its tables, assumptions and figures."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pma_lab.accounts import profile_account_names
from pma_lab.formatting import fmt_usd, your_plan_mark
from pma_lab.optimize.engine import ClientSetup
from pma_lab.optimize.frontier import LEGEND_BELOW
from pma_lab.plan.accounting import return_carryforward
from pma_lab.plan.dividends import DividendYields, plan_dividend_yields
from pma_lab.plan.failure import client_reason
from pma_lab.plan.montecarlo import (
    BELOW_TOLERANCE,
    outcomes_table,
    over_budget_note,
    shortfall_note,
)
from pma_lab.plan.plans import plan_label
from pma_lab.plan.scenarios import HINDSIGHT_WARNING, BillRate, MonteCarloPaths
from pma_lab.plan.simulation import PlanRun, TransitionSettings
from pma_lab.plan.sleeves import bond_sleeve

__all__ = ["FAILED_KEEPS", "PAIRED_Z", "TransitionAnalysis", "mix_after_tax", "mix_value",
           "paired_stats"]

FAILED_KEEPS = ("plan", "label", "is_client_plan", "te_start", "notes", "failed",
                "failed_why")
"""Columns of the comparison a plan that could not be completed keeps in every output
(:meth:`TransitionAnalysis.comparison_shown`); its other figures are a partial run's."""

_STEP_NAMES = {1: "annual", 2: "half-yearly", 4: "quarterly", 12: "monthly"}


_WIDENED = re.compile(r"at a later step \((?P<phase>[^)]*)\), the tracking-error limit of "
                      r"(?P<was>[0-9.]+%) was widened to (?P<cap>[0-9.]+)% so the plan could "
                      r"be completed")


def merge_widened(notes: Sequence[str]) -> list[str]:
    """The plan's notes with its later steps' widened TE limits said once per phase and limit.

    Each later step that widened its tracking-error limit notes it
    (:func:`pma_lab.plan.simulation._solve_step`); two steps widening the same limit to
    different caps read as the same sentence twice ("... widened to 2.00% ...; ... widened
    to 1.00% ..."). Those are merged: "at 2 later steps (keeping close to the target), the
    tracking-error limit of 0.50% was widened, to 2.00% at most, so the plan could be
    completed". A single step's note, and every other note, are kept as they are, in order.
    """
    groups: dict[tuple[str, str], list[float]] = {}
    for n in notes:
        m = _WIDENED.fullmatch(n)
        if m:
            groups.setdefault((m["phase"], m["was"]), []).append(float(m["cap"]))
    out: list[str] = []
    done: set[tuple[str, str]] = set()
    for n in notes:
        m = _WIDENED.fullmatch(n)
        if m is None:
            out.append(n)
            continue
        key = (m["phase"], m["was"])
        if len(groups[key]) == 1:
            out.append(n)
        elif key not in done:
            done.add(key)
            caps = groups[key]
            out.append(f"at {len(caps)} later steps ({key[0]}), the tracking-error limit of "
                       f"{key[1]} was widened, to {max(caps):.2f}% at most, so the plan could "
                       "be completed")
    return out


PAIRED_Z = 2.0
"""Two plans are "about the same" when their mean per-path difference is within this many
standard errors of zero (:meth:`TransitionAnalysis.paired`)."""


def paired_stats(a: np.ndarray, b: np.ndarray) -> dict:
    """Paired statistics of ``a`` against ``b`` on the same paths (common random numbers).

    Returns ``paths``, ``diff_mean``, ``diff_se`` (standard error of the mean per-path
    difference; NaN with one path), ``within_noise``, ``prob_below`` (share of paths with
    ``a`` more than ``BELOW_TOLERANCE`` below ``b``) and ``prob_below_se`` (binomial).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = a - b
    n = len(d)
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    mean = float(d.mean()) if n else math.nan
    p = float(np.mean(a < b * (1 - BELOW_TOLERANCE))) if n else math.nan
    return {"paths": n, "diff_mean": mean, "diff_se": se,
            "within_noise": bool(abs(mean) <= PAIRED_Z * se) if n > 1 else True,
            "prob_below": p,
            "prob_below_se": math.sqrt(p * (1 - p) / n) if n else math.nan}


@dataclass(frozen=True)
class TransitionAnalysis:
    """Every plan on the expected path (and Monte Carlo and historical paths).

    Attributes
    ----------
    runs : tuple[PlanRun, ...]
    comparison : pd.DataFrame
        One row per plan: ``plan, label, is_client_plan``, taxes (``tax_total``, ``pv_tax``,
        ``tax_year1``, ``liquidation_tax``), ``carryforward_end`` (the loss the tax
        return carries out of the last year, USD >= 0: a household's, every taxable
        account's, :func:`pma_lab.plan.accounting.return_carryforward`) and
        ``carryforward_value_end`` (its value at the horizon), ``embedded_gain_end``,
        ``gifts_total``, ``flows_total``, after-tax wealth on the expected path and its
        difference to ``hold`` and ``immediate`` (every ``*_vs_hold`` and ``vs_hold_*`` is
        NaN when hold's run failed: :func:`pma_lab.report.proposal.hold_failed_note`
        says so), ``equity_share_end`` (a mixed
        portfolio's equity share of its value at the horizon, a decimal; NaN without a
        bond sleeve: :data:`pma_lab.plan.sleeves.YEAR_COLUMNS`), ``value_vs_hold`` (the
        horizon value before tax less hold's) and ``mix_vs_hold`` (the part of it the
        plan's stock/bond mix makes, :func:`mix_value`; NaN without a bond sleeve),
        ``vs_hold`` split exactly into ``vs_hold_mix`` (the part of the after-tax
        difference to hold its mix makes, :func:`mix_after_tax`) and ``vs_hold_rest``
        (``vs_hold - vs_hold_mix``: its sales, timing and taxes; both NaN without a bond
        sleeve), the Monte Carlo after-tax wealth
        (``after_tax_wealth_median``, ``_p10``, ``_p90``) and ``prob_below_diversified``,
        the Monte Carlo paths that could not pay every withdrawal (``paths_short``; the
        unpaid total's median and largest over them, ``shortfall_median``,
        ``shortfall_max``, USD; the plan's ``notes`` say so), the paths on which paying
        the withdrawal realised more net gain in a year than the plan's gains budget
        (``paths_over_budget``; the worst year's net gain, ``over_budget_max``, USD; the
        ``notes`` say so, :func:`pma_lab.plan.montecarlo.over_budget_note`),
        tracking error (``te_start``, ``te_end`` to the benchmark, ``te_target_end``,
        ``te_year<k>``), ``years_to_target``, ``notes``, ``failed`` (why a plan could not be
        completed, the engine's words: for the service team) and ``failed_why`` (the same
        in the client's words, :func:`pma_lab.plan.failure.client_reason`).
    vintages : pd.DataFrame
        Historical replays per plan (research only: see ``HINDSIGHT_WARNING``, repeated in
        the table's ``warning`` column).
    assumptions : tuple[str, ...]
    seconds : float
    timings : dict
        Where the time went (seconds): paths, expected-path simulations, Monte Carlo.
    settings : TransitionSettings or None
        The settings the plans were simulated with (``first_trades`` of a plan with them
        is exactly the plan's first step).
    """

    runs: tuple[PlanRun, ...]
    comparison: pd.DataFrame
    vintages: pd.DataFrame
    assumptions: tuple[str, ...]
    seconds: float
    timings: dict = field(default_factory=dict)
    settings: TransitionSettings | None = None  # what run_transition simulated with

    def yearly(self, path: str = "expected") -> pd.DataFrame:
        """Per plan and year (the expected path by default), long format."""
        frames = [r.years.assign(plan=r.plan.name) for r in self.runs if r.path == path]
        if not frames:
            return pd.DataFrame()
        y = pd.concat(frames, ignore_index=True)
        return y[["plan"] + [c for c in y.columns if c != "plan"]]

    def comparison_shown(self) -> pd.DataFrame:
        """:attr:`comparison` as every output shows it: no figures for a failed plan.

        A plan that could not be completed (``failed``: a step infeasible) stopped before
        the horizon; its taxes, values and tracking error are a partial run's and would
        read as the plan's. Its row keeps :data:`FAILED_KEEPS` (its name, today's tracking
        error, notes and the reason) and every other cell is NaN (empty in a CSV, ``null``
        in JSON), as the proposal's tables show "\u2013".
        """
        c = self.comparison.copy()
        if "failed" not in c or not len(c):
            return c
        bad = c.failed.astype(bool).to_numpy()
        if not bad.any():
            return c
        for k in c.columns:
            if k in FAILED_KEEPS:
                continue
            if pd.api.types.is_numeric_dtype(c[k]) and c[k].dtype != bool:
                c[k] = c[k].astype(float)
                c.loc[bad, k] = math.nan
            else:  # any text figure: none either
                c[k] = c[k].astype(object)
                c.loc[bad, k] = None
        return c

    def paired(self, against: str = "hold") -> pd.DataFrame:
        """Each plan's after-tax value less ``against``'s on the same Monte Carlo paths.

        ``against`` is a plan kind (``"hold"``, ``"immediate"``) or a plan's name. One row
        per completed plan with Monte Carlo paths: ``plan``, ``paths``, ``diff_mean`` (USD,
        the mean over paths of the per-path difference), ``diff_se`` (its standard error,
        the per-path differences' standard deviation over the square root of the paths),
        ``within_noise`` (``|diff_mean| <= PAIRED_Z * diff_se``: about the same),
        ``prob_below`` (the share of paths on which the plan ends more than
        :data:`pma_lab.plan.montecarlo.BELOW_TOLERANCE` below ``against``) and
        ``prob_below_se`` (its binomial standard error). Empty without Monte Carlo paths
        or without the reference plan.
        """
        cols = ["plan", "paths", "diff_mean", "diff_se", "within_noise", "prob_below",
                "prob_below_se"]
        mc = [r for r in self.runs if r.path == "expected" and r.mc is not None
              and not r.failed]
        ref = next((r for r in mc if r.plan.name == against), None) or next(
            (r for r in mc if r.plan.kind == against
             and (against != "immediate" or r.plan.te_cap is None)), None)
        if ref is None:
            return pd.DataFrame(columns=cols)
        rows = []
        for r in mc:
            rows.append({"plan": r.plan.name, **paired_stats(r.mc.wealth, ref.mc.wealth)})
        return pd.DataFrame(rows, columns=cols)

    def yearly_shown(self, path: str = "expected") -> pd.DataFrame:
        """:meth:`yearly` without the plans that could not be completed.

        Their years are a partial run's (a failed plan stops at the step that failed):
        :meth:`comparison_shown` names those plans and why.
        """
        done = {r.plan.name for r in self.runs if r.path == path and not r.failed}
        y = self.yearly(path)
        return y[y.plan.isin(done)].reset_index(drop=True) if len(y) else y

    def tax_figure(self) -> go.Figure:
        """Net tax per year (the yearly table's ``tax``), one bar per plan in each year.

        Years on the axis and plans as coloured bars with the legend below: seven plans
        over six years read at a glance, where one group per plan needed 42 rotated year
        labels. Hover shows the dollars.
        """
        y = self.yearly()
        fig = go.Figure()
        for p in self.comparison.plan:
            d = y[y.plan == p]
            fig.add_trace(go.Bar(name=p, x=d.year.astype(int).astype(str), y=d.tax,
                                 hovertext=[fmt_usd(v) for v in d.tax],
                                 hoverinfo="text+name"))
        fig.update_layout(barmode="group", title="Net tax per year by plan (expected path)",
                          yaxis_title="USD", xaxis_title="tax year", height=460,
                          legend=LEGEND_BELOW, margin={"t": 60})
        return fig

    def te_figure(self) -> go.Figure:
        """Tracking-error glide paths (to the benchmark), one line per plan."""
        fig = go.Figure()
        for r in self.runs:
            if r.path == "expected":
                fig.add_trace(go.Scatter(x=r.steps.date, y=100 * r.steps.te_benchmark,
                                         mode="lines+markers", name=r.plan.name))
        fig.update_layout(title="Tracking error to the S&P 500 proxy along each plan",
                          yaxis_title="ex-ante TE (%)", height=440, margin={"t": 90},
                          legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
        return fig

    def risk_figure(self) -> go.Figure:
        """After-tax wealth at the horizon across the Monte Carlo paths (box per plan)."""
        fig = go.Figure()
        for r in self.runs:
            if r.path == "expected" and r.mc is not None:
                fig.add_trace(go.Box(y=r.mc.wealth, name=r.plan.name, boxpoints=False))
        fig.update_layout(title="After-tax wealth at the horizon, Monte Carlo paths "
                                "(factor risk model)", yaxis_title="USD", height=440,
                          showlegend=False)
        return fig

    def wealth_figure(self) -> go.Figure:
        """After-tax wealth across historical replays (research only, with the warning)."""
        fig = go.Figure()
        for r_name in dict.fromkeys(r.plan.name for r in self.runs):
            vals = [r.after_tax_wealth for r in self.runs
                    if r.plan.name == r_name and r.path != "expected" and not r.failed]
            if vals:
                fig.add_trace(go.Box(y=vals, name=r_name, boxmean=True))
        fig.update_layout(title="Historical replays (research only: hindsight and "
                                "survivorship bias; not a recommendation)",
                          yaxis_title="USD", height=420, showlegend=False,
                          annotations=[{"text": HINDSIGHT_WARNING, "xref": "paper",
                                        "yref": "paper", "x": 0, "y": -0.25,
                                        "showarrow": False, "align": "left",
                                        "font": {"size": 10}}],
                          margin={"b": 140})
        return fig


def _timings(runs: Sequence[PlanRun], t_paths: float, t_jobs: float,
             s: TransitionSettings) -> dict:
    """Where the time went: wall times, and CPU-side sums over plans (in the workers)."""
    sim = [r for r in runs if r.path == "expected"]
    steps = pd.concat([r.steps for r in sim]) if sim else pd.DataFrame()

    def total(col: str) -> float:
        return round(float(steps[col].sum()), 2) if col in steps else 0.0

    return {
        "workers": s.workers, "plans": len(sim), "steps_per_plan": s.horizon_years *
        s.steps_per_year, "monte_carlo_paths": s.mc_paths,
        "paths_seconds": round(t_paths, 2), "plans_wall_seconds": round(t_jobs, 2),
        "simulate_seconds_sum": round(sum(r.seconds for r in sim), 2),
        "simulate_cpu_seconds_sum": round(sum(r.cpu_seconds for r in sim), 2),
        "problem_build_seconds_sum": total("build_seconds"),
        "solver_seconds_sum": total("solver_seconds"),
        "steps_seconds_sum": total("seconds"),
        "monte_carlo_replay_seconds_sum": round(sum(r.mc.seconds for r in sim
                                                    if r.mc is not None), 2),
        "monte_carlo_tax_seconds_sum": round(sum(r.mc.tax_seconds for r in sim
                                                 if r.mc is not None), 2),
        "monte_carlo_replay_cpu_seconds_sum": round(sum(r.mc.cpu_seconds for r in sim
                                                        if r.mc is not None), 2),
        "historical_runs": sum(1 for r in runs if r.path != "expected"),
    }


def _into_bonds(run: PlanRun) -> pd.Series:
    """USD the plan moves from the equity account into the bond sleeve, by day (net)."""
    m = run.bonds
    out = (m.amount.where((m.source == "equity") & (m.destination == "bonds"), 0.0)
           - m.amount.where(m.destination == "equity", 0.0))
    return out.astype(float).groupby(m.date.to_numpy()).sum()


def mix_value(run: PlanRun, hold: PlanRun, expected_return: float) -> float:
    """The part of a plan's horizon value above hold's that its stock/bond mix makes (USD).

    Before tax, on the expected path. The plan is valued again with hold's moves between
    the sleeves: its bond sleeve is then hold's (the ladder starts the same and changes
    only by its coupons, maturities and those moves), and each dollar it moved into bonds
    more than hold on a plan-year start (less: a negative one) stays in its equities,
    growing by ``(1 + expected_return) ** (days to the horizon / 365.25)`` as every price
    does on the expected path. The mix part is the plan's horizon value less that one's:

    ``(bonds_end - hold's bonds_end) - sum over days of extra_into_bonds * growth``.

    0 for a plan that moves what hold moves (hold itself); NaN without a bond sleeve or
    when either plan could not be completed.
    """
    if run.bonds is None or hold.bonds is None or run.failed or hold.failed \
            or not len(run.years) or not len(hold.years):
        return math.nan
    end = run.steps.date.iloc[-1]
    extra = _into_bonds(run).sub(_into_bonds(hold), fill_value=0.0)
    grown = sum(float(v) * (1 + expected_return) ** ((end - d).days / 365.25)
                for d, v in extra.items())
    return float(run.years.bonds_end.iloc[-1] - hold.years.bonds_end.iloc[-1]) - grown


def _slice(run: PlanRun, hold: PlanRun, expected_return: float
           ) -> tuple[pd.Series, list[float]]:
    """The equity a plan would hold beyond its own with hold's moves between the sleeves.

    ``(extra, value)``: the USD it moved into bonds more than hold, by day (negative:
    less; :func:`mix_value`), and the value of those dollars kept in equities at each
    of its steps (after the step's moves), grown as every price on the expected path.
    """
    extra = _into_bonds(run).sub(_into_bonds(hold), fill_value=0.0)
    extra = extra[extra != 0.0]
    value = [sum(float(v) * (1 + expected_return) ** ((day - d).days / 365.25)
                 for d, v in extra.items() if d <= day) for day in run.steps.date]
    return extra, value


def mix_after_tax(setup: ClientSetup, run: PlanRun, hold: PlanRun, account: str,
                  expected_return: float, rate: float) -> float:
    """The part of a plan's after-tax wealth above hold's that its stock/bond mix makes (USD).

    After tax, on the expected path: the plan's after-tax wealth less that of the plan
    valued with hold's moves between the sleeves (as :func:`mix_value` values it before
    tax), taxed with the plan's own accounting
    (:func:`pma_lab.plan.accounting.revalued_wealth`). That plan's bond sleeve is hold's,
    so its interest is hold's ladder's (and the account's cash's, the plan's); each dollar
    the plan moved into bonds more than hold on a plan-year start (less: a negative one)
    stays in its equities, worth ``(1 + expected_return) ** (years since)`` of it at each
    step, and

    * pays dividends as the plan's holdings do: each step's dividends (qualified and
      REIT) times those dollars' value over the holdings' value (the account's value less
      its cash) at the step before, when they were held (none while it holds nothing);
    * is sold at the horizon with the plan's lots, as bought on the day it was moved
      (its basis the dollars moved; long-term when held more than a year): the gain it
      carried before belongs to the plan's sales, not to its mix.

    Every tax (the interest's, the dividends', each year's netting with the plan's sales,
    the horizon sale's and the carryforward left) is netted on the client's return as the
    plan's own, so the rest of the plan's after-tax difference to hold
    (``vs_hold - mix_after_tax``) is what its sales, its timing and its taxes make.
    0 for a plan that moves what hold moves (hold itself); NaN without a bond sleeve or
    when either plan could not be completed.

    Raises
    ------
    DataError
        When the plan's trades replayed through ``setup``'s ledger do not leave the run's
        lots (:func:`pma_lab.plan.accounting.revalued_wealth`): the run is not the plan's
        expected-path run for ``setup`` and ``account``.
    """
    from decimal import Decimal

    from pma_lab.plan.accounting import revalued_wealth
    from pma_lab.tax.rules import is_long_term, money

    if run.bonds is None or hold.bonds is None or run.failed or hold.failed \
            or not len(run.years) or not len(hold.years):
        return math.nan
    extra, value = _slice(run, hold, expected_return)
    if not len(extra):  # hold's moves: hold's sleeve, the plan itself
        return 0.0
    st = run.steps
    held = (st.value - st.cash).to_numpy(float)
    share = [0.0] + [value[k - 1] / held[k - 1] if held[k - 1] > 0 else 0.0
                     for k in range(1, len(st))]
    divs = pd.DataFrame({c: st[c].to_numpy(float) * np.array(share)
                         for c in ("dividends_qualified", "dividends_reit")})
    end = st.date.iloc[-1]
    sold = pd.DataFrame([{"date_sold": end, "term": "LT" if is_long_term(d, end) else "ST",
                          "gain_loss": money(Decimal(repr(float(v) * (
                              (1 + expected_return) ** ((end - d).days / 365.25) - 1))))}
                         for d, v in extra.items()],
                        columns=["date_sold", "gain_loss", "term"])
    mixed = revalued_wealth(
        setup, run, account, expected_return, rate, interest=hold.interest, dividends=divs,
        sold=sold, value_end=float(run.years.value_end.iloc[-1])
        - float(run.years.bonds_end.iloc[-1]) + float(hold.years.bonds_end.iloc[-1])
        + value[-1])
    return run.after_tax_wealth - mixed.wealth


def _compare(runs: list[PlanRun], client: str, expected_return: float,
             setup: ClientSetup | None = None, account: str | None = None,
             rate: float | None = None) -> pd.DataFrame:
    by = {r.plan.name: r for r in runs}
    hold_run = next((r for r in runs if r.plan.kind == "hold"), None)
    # a hold run that failed stopped early (today's account less the tax of selling, no
    # growth): nothing to compare against, so every "against holding" is NaN
    ok = hold_run is not None and not hold_run.failed
    hold = hold_run.after_tax_wealth if ok else math.nan
    hold_value = float(hold_run.years.value_end.iloc[-1]) \
        if ok and len(hold_run.years) else math.nan
    imm = next((r for r in runs if r.plan.kind == "immediate" and r.plan.te_cap is None),
               None)
    imm_w = imm.after_tax_wealth if imm is not None else math.nan
    mc_rows = [r for r in runs if r.mc is not None]
    mc = outcomes_table([r.plan.name for r in mc_rows], [r.mc for r in mc_rows],
                        imm.plan.name if imm is not None else None).set_index("plan") \
        if mc_rows else pd.DataFrame()
    rows = []
    for name, r in by.items():
        y = r.years
        m = mc.loc[name] if name in mc.index else None
        short = "" if m is None else shortfall_note(int(m.paths_short), int(m.paths),
                                                    m.shortfall_median, m.shortfall_max)
        b = r.plan.budgets()
        over = "" if m is None else over_budget_note(
            int(m.paths_over_budget), int(m.paths), m.over_budget_max,
            (b.total, b.short_term, b.long_term))
        row = {"plan": name, "label": (your_plan_mark(r.plan) if name == client else "")
               + plan_label(r.plan),
               "is_client_plan": name == client,
               "tax_total": float(y.tax.sum()), "pv_tax": float(y.pv_tax.sum()),
               "tax_year1": float(y.tax.iloc[0]) if len(y) else math.nan,
               "realized_st": float(y["st"].sum()), "realized_lt": float(y["lt"].sum()),
               "liquidation_tax": r.liquidation_tax,
               "carryforward_end": float(return_carryforward(y).iloc[-1]) if len(y)
               else math.nan,
               "carryforward_value_end": r.carryforward_value,
               "embedded_gain_end": float(r.steps.embedded_gain.iloc[-1]),
               "gifts_total": float(r.steps.gift.sum()),
               "flows_total": float(r.steps.flow.sum()),
               "after_tax_wealth": r.after_tax_wealth,
               "equity_share_end": float(y.equity_share_end.iloc[-1])
               if "equity_share_end" in y and len(y) else math.nan,
               "value_vs_hold": float(y.value_end.iloc[-1]) - hold_value if len(y)
               else math.nan,
               "mix_vs_hold": mix_value(r, hold_run, expected_return)
               if hold_run is not None else math.nan,
               "vs_hold": r.after_tax_wealth - hold, "vs_immediate": r.after_tax_wealth - imm_w,
               "vs_hold_mix": mix_after_tax(setup, r, hold_run, account, expected_return,
                                            rate)
               if hold_run is not None and setup is not None and account is not None
               and rate is not None else math.nan,
               "after_tax_wealth_median": m.after_tax_wealth_median if m is not None
               else math.nan,
               "after_tax_wealth_p10": m.after_tax_wealth_p10 if m is not None else math.nan,
               "after_tax_wealth_p90": m.after_tax_wealth_p90 if m is not None else math.nan,
               "prob_below_diversified": m.prob_below_diversified if m is not None
               else math.nan,
               "paths_short": int(m.paths_short) if m is not None else 0,
               "shortfall_median": m.shortfall_median if m is not None else 0.0,
               "shortfall_max": m.shortfall_max if m is not None else 0.0,
               "paths_over_budget": int(m.paths_over_budget) if m is not None else 0,
               "over_budget_max": m.over_budget_max if m is not None else 0.0,
               "te_start": r.te_initial,
               "te_end": float(r.steps.te_benchmark.iloc[-1]),
               "te_target_end": float(r.steps.te_target.iloc[-1]),
               "years_to_target": r.years_to_target,
               "notes": "; ".join(merge_widened(dict.fromkeys(
                   n for n in (*r.steps.note, short, over) if n))),
               "failed": r.failed,
               "failed_why": client_reason(r.failure) if r.failed and r.failure is not None
               else ""}
        # the rest of the after-tax difference to hold: its sales, timing and taxes
        row["vs_hold_rest"] = row["vs_hold"] - row["vs_hold_mix"]
        for i, v in enumerate(y.te):
            row[f"te_year{i + 1}"] = float(v)
        rows.append(row)
    return pd.DataFrame(rows)


def _vintage_table(runs: list[PlanRun]) -> pd.DataFrame:
    if not runs:
        return pd.DataFrame()
    rows = []
    for name in dict.fromkeys(r.plan.name for r in runs):
        rs = [r for r in runs if r.plan.name == name and not r.failed]
        w = np.array([r.after_tax_wealth for r in rs])
        tx = np.array([float(r.years.tax.sum()) for r in rs])
        rows.append({"plan": name, "paths": len(rs),
                     "failed": sum(1 for r in runs if r.plan.name == name and r.failed),
                     "wealth_median": float(np.median(w)) if len(w) else math.nan,
                     "wealth_p10": float(np.quantile(w, 0.1)) if len(w) else math.nan,
                     "wealth_p90": float(np.quantile(w, 0.9)) if len(w) else math.nan,
                     "tax_median": float(np.median(tx)) if len(tx) else math.nan,
                     "tax_min": float(tx.min()) if len(tx) else math.nan,
                     "tax_max": float(tx.max()) if len(tx) else math.nan,
                     "warning": HINDSIGHT_WARNING})
    return pd.DataFrame(rows)


HISTORICAL_YIELDS = (
    "Historical replays use the yields of each day they replay, never later data: each "
    "step's holdings pay the trailing 12-month dividend yields of its day (cash dividends "
    "with an ex-date in the 12 months to that day over that day's close; from April 2021 "
    "the packaged dividends are estimated from the adjusted prices; a name without "
    "dividend data that day at its sector's median), and the cash earns the 3-month "
    "Treasury bill par yield of the previous step's day (the packaged curve ends "
    "2025-07-11: later days use that last curve). Taxes are carried to the horizon and "
    "discounted at today's cash rate, as on the other paths.")
"""Stated in the assumptions when historical replays are run (:func:`_assumptions`)."""


_MC_RESTORES = (
    "a path whose cash is still below what the step keeps after the scheduled sales (a "
    "withdrawal its lower prices do not cover) sells more, as the expected path's step "
    "does, in the order of least tax (short-term losses, long-term losses, then the gains of "
    "least gain per dollar), never at a loss in a name bought within 30 days before or after "
    "(a wash sale); ")
"""The Monte Carlo sentence's part on restoring cash, stated only when it can apply."""
_MC_SHORT = (
    "a path whose lots cannot pay a withdrawal even when it sells all it may sell withdraws "
    "what there is, and the rest is its shortfall: owed, grown at the cash rate to the "
    "horizon and subtracted from its after-tax value (the plans compared say on how many "
    "paths and by how much); ")
"""The Monte Carlo sentence's part on a withdrawal a path cannot pay, stated only when the
plans withdraw."""
_MC_OVER = (
    "the sales that pay a withdrawal are never scaled down, so on a path whose scheduled "
    "sales, kept to the budget, no longer raise it they may take a tax year's gains above "
    "the plan's budget (the plans compared say on how many paths, and the worst year); ")
"""The Monte Carlo sentence's part on a withdrawal paid beyond the gains budget, stated
only when the plans withdraw (:func:`pma_lab.plan.montecarlo.over_budget_note`)."""


def _assumptions(setup: ClientSetup, s: TransitionSettings, vintages: Sequence,
                 rate: BillRate, mc: MonteCarloPaths | None,
                 updates: Sequence = (), dividends: DividendYields | None = None,
                 account_id: str | None = None, withdraws: bool = False
                 ) -> tuple[str, ...]:
    """The stated assumptions; ``withdraws``: the plans' flow is negative (a withdrawal)."""
    prof = setup.client.profile
    floor = next((a.min_cash for a in prof.accounts if a.account_id == account_id), 0.0)
    # a Monte Carlo path sells more only to restore cash a step keeps: a withdrawal, a bond
    # sleeve's move out of the equities, or a min_cash floor (montecarlo.revalue)
    restores = withdraws or (floor or 0) > 0 or bond_sleeve(setup) is not None
    out = [
        f"Horizon {s.horizon_years} year{'' if s.horizon_years == 1 else 's'} from "
        f"{setup.as_of}, "
        f"{_STEP_NAMES.get(s.steps_per_year, f'{s.steps_per_year}-per-year')} steps.",
        "Like for like: every plan, hold included, makes the same gifts and cash flows at "
        "the start of each plan year. Hold never sells the legacy holdings: cash (today's "
        "and any added) is invested in the target's names without selling, withdrawals are "
        "raised by the sales of least tax, and restricted names are kept.",
        f"Cash earns {rate.rate:.2%} a year: the {rate.source}.",
        f"Every plan maintains the target once its tracking error to the target is within "
        f"{s.te_band:.2%} (tax-aware rebalancing under that cap; a budget plan keeps its "
        "gain budget); years to target is when a plan first gets there.",
        f"Expected path: every price grows {s.expected_return:.1%} a year (no dispersion).",
        (f"Monte Carlo: {mc.n_paths:,} paths from the factor risk model of {setup.as_of} "
         f"(normal factor and specific returns, seed {mc.seed}); every name has the same "
         f"expected return ({s.expected_return:.1%}), so a concentrated position differs "
         "only by its risk. Each plan's decisions on the expected path (the share of each "
         "lot sold or given, purchases in proportion to the cash available) are replayed "
         "on every path, with the plan's gain budget kept on each path; "
         + (_MC_RESTORES if restores else "") + (_MC_SHORT if withdraws else "")
         + (_MC_OVER if withdraws else "")
         + "probability below the diversified plan compares with 'immediate' on the same "
         "path."
         if mc is not None else "No Monte Carlo paths were run."),
        (HINDSIGHT_WARNING if vintages else "No historical replays were run."),
        *([HISTORICAL_YIELDS + (" The bond ladder keeps today's curve on them (its coupons "
                                "and reinvestment yields are not replayed)."
                                if bond_sleeve(setup) is not None else "")]
          if vintages else []),
        "Tax per year: Schedule D netting of this account's sales with carryforwards and "
        "the value of the year's charitable deduction (pma_lab.tax.liability): "
        + ("stacked through the year's brackets on the profile's income, NIIT and state "
           "included (income assumed unchanged; years after the last tabulated one use its "
           "brackets)" if prof.tax.stacked else
           f"at the profile's all-in rates ({prof.tax.st_rate:.2%} short-term, "
           f"{prof.tax.lt_rate:.2%} long-term)")
        + ". The first year's gains realised before the plan net with it, and their own "
        "tax is left out. Gifts of appreciated long-term lots are deducted within the AGI "
        "limits (and, from 2026, above the 0.5 % floor). A loss carryforward is valued as "
        f"used at ${prof.tax.loss_limit:,.0f} a year against ordinary income, discounted at "
        "the cash rate.",
        f"Cash in the account earns the cash rate ({rate.rate:.2%}) and its interest is "
        "taxed each year as ordinary taxable interest (federal brackets, NIIT and state), "
        "beneath the year's gains: in every plan and on every Monte Carlo path. It accrues "
        "day by day, so the interest between two steps is split between the calendar years "
        "of its days, pro rata by days (the last year carries only its days up to the "
        "horizon).",
        (dividends or plan_dividend_yields(setup)).source,
        "The risk model and target are today's for the whole horizon; tracking error is "
        "ex-ante under that model.",
        f"Taxes are paid from outside the account at the end of each calendar year; "
        f"after-tax wealth = horizon value - the tax of selling everything at the horizon "
        f"- each year's tax carried to the horizon at {rate.rate:.2%}; present values "
        f"discount at {rate.rate:.2%}.",
        "Trading costs: the optimizer's spread; no market impact.",
    ]
    if updates:  # an active + index core's model updates (pma_lab.plan.coremodel)
        when = "; ".join(f"from {u.step_date}, the model of {u.model_date} (completion "
                         f"sleeve: {u.completion_change})" for u in updates)
        out.append("The active manager updates the model inside the horizon: "
                   f"{when}. At each update the target core is re-optimised, the completion "
                   "sleeve against the new model, keeping the stocks it holds unless changing "
                   "one tracks the benchmark materially better, and the plans trade toward it "
                   "tax-aware from that step on.")
    if floor > 0:  # the profile's [[accounts]] min_cash (pma_lab.optimize.engine.with_min_cash)
        usd = fmt_usd(floor)
        out.append(f"Minimum cash: every step of every plan, today's trades included, leaves "
                   f"at least {usd} in cash in the "
                   f"{profile_account_names(prof.accounts).get(account_id, account_id)} "
                   "(the profile's "
                   "min_cash), selling to raise it when the cash is below it; the hold "
                   "plan, which never sells, keeps what its cash covers of it. On the "
                   f"Monte Carlo paths the purchases keep the same {usd}: a path whose "
                   "scheduled sales raise less buys less, and one whose cash is still below "
                   "it after them sells more to raise it (the hold plan sells only to pay a "
                   "withdrawal). The "
                   "cash earns the cash rate, taxed as interest.")
    sleeve = bond_sleeve(setup)
    if sleeve is not None:
        out += sleeve.notes()
    r = prof.restrictions
    if r.categories or r.never_hold or r.exclude_sectors or r.exclude_industries:
        acts = "; ".join(f"{k}: {setup.eligibility.held_actions.get(k, 'sell')}"
                         for k in setup.eligibility.held_actions
                         if k not in ("no_buy", "hold_no_add"))
        out.append(f"Restricted names already held follow the profile in every plan but "
                   f"hold ({acts}).")
    return tuple(out)
