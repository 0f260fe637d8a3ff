"""The formulation of the rebalance: its data, Parameters, variables and problem variants.

:func:`problem_data` turns the account state, the risk model's tickers and the target
into the problem's arrays (lot weights and gains per unit of weight, tax rates, the lot to
asset map ``A``, the look-through ``M``, the sector map ``S``, current and target weights);
:func:`compile_problems` writes the cvxpy problems once per account state (DPP: every
value that changes between solves is a Parameter, set by :meth:`RebalanceProblem.update`
from :mod:`pma_lab.optimize.limits`):

* the sign-fixed problem (:func:`exact_problem`): each loss-relevant name buy-only or
  sell-only through the caps; a QP without a tracking-error cap, an SOCP with one, each
  compiled when first needed;
* the relaxation: Moehle et al.'s perspective envelope across the sell and buy branches
  of the loss-relevant names (a linear hull when funds are held);
* the linear-hull relaxation (:func:`linear_hull`), the fallback when the envelope
  stalls.

The objective terms come from :mod:`pma_lab.optimize.terms`, the constraints compile
themselves (:mod:`pma_lab.optimize.constraints`), lots are aggregated into classes by
:func:`pma_lab.optimize.aggregate.lot_classes`. Both functions set the problem's
attributes (``p.v``, ``p.A``, ``p.P``, ``p.w``, ``p.relaxed``, ...), which the solve
strategies, the rounding, the checks and the result read. Notation: see
:mod:`pma_lab.optimize.rebalance`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import cvxpy as cp
import numpy as np
import pandas as pd
import scipy.sparse as sp

from pma_lab.errors import NotDPPError
from pma_lab.optimize.aggregate import lot_classes
from pma_lab.optimize.constraints import (
    BuyRestrictions,
    CashTarget,
    Formulation,
    GainBudgets,
    SectorLimits,
    TrackingErrorCap,
    WashSaleLocks,
    WeightCaps,
    standard_constraints,
)
from pma_lab.optimize.state import lookthrough_matrix, lot_columns
from pma_lab.optimize.terms import TaxTerm, TrackingVariance, TradingCost, lot_rates

if TYPE_CHECKING:
    from pma_lab.optimize.rebalance import RebalanceProblem
    from pma_lab.portfolio.risk import RiskModel

__all__ = ["problem_data", "compile_problems", "exact_problem", "relaxation", "linear_hull",
           "check_dpp"]


def problem_data(p: RebalanceProblem, risk: RiskModel, target: pd.Series) -> None:
    """Set the problem's arrays from its account state, the risk model and the target.

    Parameters
    ----------
    p : RebalanceProblem
        With ``state`` and ``settings`` set.
    risk : RiskModel
        Its tickers are the model names (the first ``state.n_model`` assets).
    target : pd.Series
        Target weights over model tickers.
    """
    st = p.state
    p.model = list(risk.tickers)
    nm, na = st.n_model, len(st.assets)
    p.nm, p.na = nm, na
    # the lots' columns as numpy arrays, the state's (read once per state: a pandas
    # string column compared or iterated element by element was ~15 % of a plan step's
    # build, and reading the columns again at each problem of the state a few % more;
    # the lots table itself is not read: a state builds it when first read)
    kept = st.__dict__.get("_lot_columns")
    nl = len(kept.lot_id) if kept is not None else len(st.lots)
    p.nl = nl
    p.asset_index = {t: i for i, t in enumerate(st.assets)}
    cols = lot_columns(st) if nl else None
    tickers = cols.ticker if nl else np.zeros(0, dtype=object)
    p.lot_asset = np.array([p.asset_index[t] for t in tickers.tolist()], dtype=int)
    V = st.value
    p.V = V
    value = cols.value if nl else np.zeros(0)
    p.v = value / V
    p.g = np.where(value > 0, (cols.gain if nl else np.zeros(0)) / np.maximum(value, 1e-12),
                   0.0)
    p.st_lot = (cols.term if nl else np.zeros(0, dtype=object)) == "ST"
    p.rate = lot_rates(p.st_lot, st.tax.st_rate, st.tax.lt_rate)
    locks = st.wash_no_loss_sale
    p.locked_loss = (p.g < 0) & np.array([t in locks for t in tickers], dtype=bool) \
        if len(locks) else np.zeros(nl, dtype=bool)
    # a locked loss sold in "disallow" mode earns no credit and does not offset gains
    g_eff = np.where(p.locked_loss, 0.0, p.g)
    p.g_eff = g_eff
    A = _one_per_column(p.lot_asset, np.ones(nl), na).tocsr()
    p.A = A
    p.has_lots = np.asarray(A.sum(axis=1)).ravel() > 0
    p.h = A @ p.v
    M = lookthrough_matrix(st)  # identity plus dense fund columns (kept with the state)
    p.M = M
    p.wt, p.sec_names, p.S = _model_pieces(risk, p.model, target, st.sectors)
    p.soon = np.zeros(nl)
    # lots whose ST gain the holding-period penalty applies to (fixed at build)
    if nl and p.settings.lt_soon_days > 0:
        p.soon = np.where(p.st_lot & (cols.days_to_lt <=
                                      p.settings.lt_soon_days) & (p.g > 0),
                          p.g, 0.0)


def _model_pieces(risk: RiskModel, model: list, target: pd.Series, sectors: pd.Series
                  ) -> tuple[np.ndarray, list, sp.csr_matrix]:
    """The target's weights in model order, the model's sector names and sector map ``S``.

    They depend on the risk model's tickers, the target and the sectors alone, which a
    transition's steps share (a step's risk model is one of a few restricted models kept
    across its steps): kept with the risk model (beside its frozen fields, as
    :func:`pma_lab.optimize.state._aligned` keeps the state's alignment) for the same
    target and sectors, the same values (a target or sectors changed in place, or others
    of equal values, are compared by value and aligned again when they differ). The
    arrays are read-only (every problem of the model shares them).
    """
    got = risk.__dict__.get("_problem_pieces")
    if (got is not None and got[0] is target and got[1].equals(target)
            and got[2].equals(sectors)):
        return got[3]
    wt = _aligned(target, model, 0.0).astype(float)
    wt.flags.writeable = False
    sec_names = sorted(set(sectors.dropna()))
    sec_of = _aligned(sectors, model, "")
    col_of = {x: k for k, x in enumerate(sec_names)}
    rows_s = [col_of[x] for x in sec_of if x in col_of]
    cols_s = [i for i, x in enumerate(sec_of) if x in col_of]
    S = sp.csr_matrix((np.ones(len(cols_s)), (rows_s, cols_s)),
                      shape=(len(sec_names), len(model)))
    pieces = (wt, sec_names, S)
    object.__setattr__(risk, "_problem_pieces",
                       (target, target.copy(), sectors.copy(), pieces))
    return pieces


def _tracking(risk: RiskModel) -> TrackingVariance:
    """``TrackingVariance.of(risk)``, one per risk model (kept beside its frozen fields).

    A transition's steps build their problems on a few restricted risk models
    (:class:`pma_lab.plan.simulation._Managed`): the term, and its factor loadings
    (:meth:`~pma_lab.portfolio.tracking.TrackingVariance.loadings`, a Cholesky factor and
    a product of the exposures, kept with the term), are computed once per model.
    """
    got = risk.__dict__.get("_problem_tracking")
    if got is None:
        got = TrackingVariance.of(risk)
        object.__setattr__(risk, "_problem_tracking", got)
    return got


def _aligned(series: pd.Series, labels: list, fill: object) -> np.ndarray:
    """``series.reindex(labels).fillna(fill).to_numpy()``, without pandas' reindex.

    The same values (a label missing or a missing value reads ``fill``); a series
    whose index repeats a label goes through pandas, which refuses it as before.
    """
    if not series.index.is_unique:
        return series.reindex(labels).fillna(fill).to_numpy()
    at = dict(zip(series.index, series.to_numpy(dtype=object), strict=True))
    return np.array([fill if (x := at.get(t)) is None or pd.isna(x) else x
                     for t in labels], dtype=object)


def _one_per_row(cols: np.ndarray, values: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """The matrix with row ``i``'s one entry ``values[i]`` in column ``cols[i]`` (CSR).

    The arrays ``sp.csr_matrix((values, (arange, cols)))`` holds, without its conversion
    from triplets (~0.1-0.2 ms a matrix, several a step problem).
    """
    n = len(cols)
    return sp.csr_matrix((np.asarray(values, dtype=float), np.asarray(cols, dtype=np.int32),
                          np.arange(n + 1, dtype=np.int32)), shape=(n, n_cols))


def _one_per_column(rows: np.ndarray, values: np.ndarray, n_rows: int) -> sp.csc_matrix:
    """The matrix with column ``j``'s one entry ``values[j]`` in row ``rows[j]`` (CSC).

    As :func:`_one_per_row`, by columns: the form cvxpy converts a sparse constant to.
    """
    n = len(rows)
    return sp.csc_matrix((np.asarray(values, dtype=float), np.asarray(rows, dtype=np.int32),
                          np.arange(n + 1, dtype=np.int32)), shape=(n_rows, n))


def _identity(M: sp.csr_matrix) -> bool:
    """Whether ``M`` is the identity (no fund held: the look-through is the weights)."""
    n = M.shape[0]
    return (M.shape == (n, n) and M.nnz == n and bool(np.all(M.data == 1.0))
            and bool(np.array_equal(M.indices, np.arange(n)))
            and bool(np.array_equal(M.indptr, np.arange(n + 1))))


def compile_problems(p: RebalanceProblem) -> None:
    """Write the problem's Parameters, variables, constraints and problem variants.

    Parameters
    ----------
    p : RebalanceProblem
        With its arrays set (:func:`problem_data`).

    Raises
    ------
    NotDPPError
        When a problem variant is not DPP (a formulation bug).
    """
    st = p.state
    nm, na, nl = p.nm, p.na, p.nl
    g_eff, A, M, S = p.g_eff, p.A, p.M, p.S
    has_funds = na > nm
    P: dict[str, cp.Parameter] = {}
    for name in ("gamma_tax", "gamma_tc", "te2_cap", "cash_target", "credit_cap"):
        P[name] = cp.Parameter(nonneg=True, name=name)
    P["cash"] = cp.Parameter(name="cash_in")
    P["budget"] = cp.Parameter(3, name="budget")
    P["buy_cap"] = cp.Parameter(na, nonneg=True, name="buy_cap")
    P["sell_ok"] = cp.Parameter(na, nonneg=True, name="sell_ok")  # 1: lots may be sold
    P["lock_slack"] = cp.Parameter(nonneg=True, name="lock_slack")  # 1: locks lifted
    P["w_cap"] = cp.Parameter(na, nonneg=True, name="w_cap")
    P["sector_hi"] = cp.Parameter(len(p.sec_names), nonneg=True, name="sector_hi")
    P["lt_soon"] = cp.Parameter(nonneg=True, name="lt_soon_penalty")
    # The risk model is fixed for the life of a problem (a new state means a new
    # problem), so B = X chol(F) and d enter as constants: as Parameters they would add
    # ~14,000 parameter entries and multiply cvxpy's DPP compile time by ten (measured).
    # Everything that changes between solves is a Parameter.
    p.tracking = _tracking(p.risk)
    p.tax_term = TaxTerm(p.rate, g_eff)
    p.trading_cost = TradingCost(p.settings.spread)
    p.P = P

    b = cp.Variable(na, nonneg=True, name="b")
    p.b = b
    # lots or lot classes: with the linear credit the lots of one name, term and
    # treatment are aggregated into a piecewise-linear convex gain curve (see
    # :func:`~pma_lab.optimize.aggregate.lot_classes`); the capped credit keeps one
    # variable per lot
    p.aggregated = p.settings.aggregate and p.settings.tax_credit == "linear"
    brows = np.vstack([g_eff, np.where(p.st_lot, g_eff, 0.0),
                       np.where(~p.st_lot, g_eff, 0.0)])
    if p.settings.budgets.unit == "tax":
        brows = brows * p.rate[None, :]
    p.brows = brows
    if p.aggregated:
        k = lot_classes(p.lot_asset, p.st_lot, p.soon, p.locked_loss, g_eff,
                        p.v, (st.tax.st_rate, st.tax.lt_rate),
                        p.settings.budgets.unit == "tax")
        p._cls_order, p._cls_of, p._cls_before = k["order"], k["of"], k["before"]
        nc = len(k["asset"])
        C = _one_per_column(k["asset"], np.ones(nc), na)
        sc = cp.Variable(nc, nonneg=True, name="sold_class")
        gain = cp.Variable(nc, name="gain_class")  # epigraph of the class's gain curve
        p.x, p.sc = None, sc
        sold = C @ sc
        sold_total = cp.sum(sc)
        tax = k["rate"] @ gain
        budget_lhs = k["brows"] @ gain
        soon_term = k["soon"] @ gain
        sell_cap = sc <= cp.multiply(k["cap"], P["sell_ok"][k["asset"]])
        sale, sale_cap, locked = sc, k["cap"], np.flatnonzero(k["locked"])
        Gs = _one_per_row(k["p_class"], k["p_slope"], nc)
        piece_gain = gain[k["p_class"]]  # each piece's class's gain
        exact_only = [piece_gain >= Gs @ sc + k["p_icpt"]]

        def branch_bounds(lam: cp.Variable) -> list:
            # the perspective of the gain curve on the sell branch (weight lambda):
            # lambda G(s / lambda) = max_k (slope_k s + intercept_k lambda)
            Li = _one_per_row(k["asset"][k["p_class"]], k["p_icpt"], na)
            return [sc <= cp.multiply(k["cap"], C.T @ lam),
                    piece_gain >= Gs @ sc + Li @ lam]
    else:
        x = cp.Variable(nl, nonneg=True, name="x")
        p.x = x
        sold = A @ x
        sold_total = cp.sum(x)
        budget_lhs = brows @ x
        soon_term = p.soon @ x
        sell_cap = x <= cp.multiply(p.v, A.T @ P["sell_ok"])
        sale, sale_cap, locked = x, p.v, np.flatnonzero(p.locked_loss)
        exact_only = []

        def branch_bounds(lam: cp.Variable) -> list:
            return [x <= cp.multiply(p.v, A.T @ lam)]
    w = p.h + b - sold
    p.w = w  # weights after the trade, per asset (for add_constraint)
    # the active look-through weights get their own variable so the Parameters B and d
    # multiply a plain variable: this keeps the DPP compilation small (a parameter times
    # a long affine expression would be expanded entry by entry)
    a = cp.Variable(nm, name="active")
    p.a = a
    # factor form: f = B' a is its own variable, so the dense factor block (k x n)
    # enters the problem once, not in both the objective and the TE cap's cone
    factor, spec, te_cons = p.tracking.compile(a)
    tc = p.trading_cost.cvx(b, sold_total)
    tax_cons = []
    if p.aggregated:
        pass
    elif p.settings.tax_credit == "capped":
        # tax = gains - min(loss credit, usable credit); the credit cap is a Parameter
        tax, tax_cons = p.tax_term.capped(x, P["credit_cap"], st.tax.st_rate)
    else:
        tax = p.tax_term.linear(x)
    p.tax_expr = tax
    look = w if _identity(M) else M @ w
    # the constraints compile themselves (constraints.py) from these expressions
    p.formulation = f = Formulation(
        P, w, b, a, sold_total, look, budget_lhs, sale, sale_cap, locked, S,
        p.asset_index)
    p.constraints = con = {type(c): c for c in standard_constraints()}
    common = tax_cons + [
        a == look - p.wt,
        *te_cons,
        *con[CashTarget].compile(f),
        sell_cap,
        *con[WeightCaps].compile(f),
        *con[GainBudgets].compile(f),
        *con[SectorLimits].compile(f),
        *con[WashSaleLocks].compile(f),
    ]
    extra = P["gamma_tax"] * tax + P["gamma_tc"] * tc + P["lt_soon"] * soon_term
    # ---- exact problem: signs are fixed through the caps (lot_cap / buy_cap)
    p.budget_con = common[len(tax_cons) + 5]
    p.te2_exact = factor + spec
    # the sign-fixed problem is a QP without a TE cap (solved by a QP solver) and an
    # SOCP with one; each variant is compiled once, when first needed
    p._exact_parts = (common + exact_only + con[BuyRestrictions].compile(f),
                      100 * (p.te2_exact + extra))
    p._exact_cache = {}
    # ---- relaxed problem: built when first asked for (:func:`relaxation`); a plan's
    # steps solve most of their problems without it (the maintenance skip, the certified
    # dual, a sign search), and building it was ~30 % of a step's build
    p._relaxed = None
    p._relax_parts = (common, sold, factor, spec, extra, branch_bounds)
    p.relaxed_form = "linear hull (funds held)" if has_funds else "perspective envelope"
    p._hull = None
    p._dpp_checked = {}  # the problem variants checked, by id (:func:`check_dpp`)


def relaxation(p: RebalanceProblem) -> cp.Problem:
    """The relaxed problem (the envelope across the sell and buy branches).

    Written when first needed and kept on the problem (``p.relaxed``); it sets
    ``p.lam`` (each asset's branch weight) and the linear hull's parts. Its DPP check
    is made before cvxpy first compiles it (:func:`check_dpp`; the dual relaxation,
    :mod:`pma_lab.optimize.relax_dual`, writes its solution into the problem's
    variables without compiling it).
    """
    if p._relaxed is not None:
        return p._relaxed
    common, sold, factor, spec, extra, branch_bounds = p._relax_parts
    nm, na, b, a, f, con = p.nm, p.na, p.b, p.a, p.formulation, p.constraints
    has_funds = na > nm
    d = p.tracking.scale()
    # Only the loss-relevant names (``p._loss_relevant()``) get a branch weight
    # lambda: the sign-fixed problems leave both sides of every other name open, so
    # the relaxation models those exactly (sell-branch weight 1, buy-branch weight 1,
    # exact specific risk). It is still a lower bound on every sign pattern, tighter
    # than relaxing every name, and much smaller where few names hold a loss lot.
    rel = p._loss_relevant()
    ridx = np.flatnonzero(rel)
    nr = len(ridx)
    lam_r = cp.Variable(max(nr, 1), name="lambda")  # one unused entry if none
    R = sp.csr_matrix((np.ones(nr), (ridx, np.arange(nr))), shape=(na, max(nr, 1)))
    lam = R @ lam_r + (~rel).astype(float)  # per asset; 1 where the side is open
    p._lam = lam
    # caps are either 0 or the full lot (buy caps 0 or 1), so "cap x branch weight"
    # is the smaller of the cap and the constant bound times the branch weight; written
    # that way no Parameter multiplies a variable (a lighter DPP compilation)
    has_lots_r = np.r_[p.has_lots[ridx].astype(float), np.zeros(1 - min(nr, 1))]
    bounds_r = [lam_r >= 0, lam_r <= has_lots_r, *con[BuyRestrictions].compile(f),
                *([b[ridx] <= 1 - lam_r] if nr else []), *branch_bounds(lam)]
    cons_r = common + bounds_r
    rm = ridx[ridx < nm]  # loss-relevant model names (the first len(rm) of lam_r)
    if has_funds or not len(rm):
        te2_r = factor + spec
    else:
        open_m = np.flatnonzero(~rel[:nm])
        c = (p.h[:nm] - p.wt)[rm]
        lam_m = lam_r[:len(rm)]
        t_s = cp.Variable(len(rm), nonneg=True, name="t_sell")
        t_b = cp.Variable(len(rm), nonneg=True, name="t_buy")
        sell_part = cp.multiply(c, lam_m) - sold[rm]
        buy_part = cp.multiply(c, 1 - lam_m) + b[rm]
        # t >= (K part)^2 / branch weight: weights in units of the typical weight 1/K
        # (K = the names held or targeted) keep t and the branch weight of comparable
        # size in the cones. Unscaled (K = 1), t is near 1e-6 next to weights near 1 on
        # a 500-name book and Clarabel stalls (InsufficientProgress), which forced the
        # weaker linear-hull fallback: 26 % worse objective on the rebalance benchmark.
        K = float(max(np.count_nonzero((p.h[:nm] > 0) | (p.wt > 0)), 1))
        cons_r += [
            cp.SOC(t_s + lam_m, cp.vstack([2 * K * sell_part, t_s - lam_m]), axis=0),
            cp.SOC(t_b + 1 - lam_m, cp.vstack([2 * K * buy_part, t_b - 1 + lam_m]),
                   axis=0),
        ]
        te2_r = factor + (d[rm] ** 2 / K ** 2) @ (t_s + t_b)
        if len(open_m):
            te2_r = te2_r + cp.sum_squares(cp.multiply(d[open_m], a[open_m]))
    cons_r += con[TrackingErrorCap].compile(replace(f, te2=te2_r))
    relaxed = cp.Problem(cp.Minimize(100 * (te2_r + extra)), cons_r)
    p._hull_parts = (common, bounds_r, factor, spec, extra)
    p._relaxed = relaxed
    return relaxed


def check_dpp(p: RebalanceProblem, prob: cp.Problem) -> None:
    """Raise :class:`NotDPPError` if a problem variant of ``p`` is not DPP.

    Called before cvxpy first compiles it (a problem the certified dual or the dual
    relaxation solves is never compiled, so never checked: the checks of the three
    variants made at the build cost ~13 % of a plan step's build); cvxpy
    makes the same check when it compiles, cached on the expressions, so it costs
    nothing more there.
    """
    if p._dpp_checked.get(id(prob)) is prob:
        return
    if not prob.is_dcp(dpp=True):
        kind = "relaxed" if prob is p._relaxed or prob is p._hull else "sign-fixed"
        raise NotDPPError(f"the {kind} rebalance problem is not DPP (formulation bug)")
    p._dpp_checked[id(prob)] = prob


def exact_problem(p: RebalanceProblem, capped: bool) -> cp.Problem:
    """The sign-fixed problem with (``capped``) or without the tracking-error cap.

    Compiled once, when first needed, and cached on the problem.
    """
    if capped not in p._exact_cache:
        cons, obj = p._exact_parts
        extra = p.constraints[TrackingErrorCap].compile(
            replace(p.formulation, te2=p.te2_exact)) if capped else []
        p._exact_cache[capped] = cp.Problem(cp.Minimize(obj), cons + extra)
    return p._exact_cache[capped]


def linear_hull(p: RebalanceProblem) -> cp.Problem:
    """The linear-hull relaxation: exact quadratic risk, branch-scaled bounds only."""
    if p._hull is None:
        relaxation(p)  # sets the parts
        common, bounds, factor, spec, extra = p._hull_parts
        te2 = factor + spec
        p._hull = cp.Problem(cp.Minimize(100 * (te2 + extra)),
                             common + bounds + p.constraints[TrackingErrorCap]
                             .compile(replace(p.formulation, te2=te2)))
    return p._hull
