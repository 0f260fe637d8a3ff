"""The settings of a rebalance: gain budgets and the policy knobs, checked when built.

:class:`RebalanceSettings` and :class:`Budgets` are frozen dataclasses that validate
themselves in ``__post_init__`` (a :class:`~pma_lab.errors.SettingsError` names the field
and the fix), so a :class:`~pma_lab.optimize.rebalance.RebalanceProblem` only ever sees
valid settings. They are re-exported by :mod:`pma_lab.optimize.rebalance` and ``pma_lab``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pma_lab.errors import SettingsError
from pma_lab.modes import BudgetUnit, TaxCredit, WashSaleMode
from pma_lab.solvers import check_solver, solver_spec
from pma_lab.validation import check_choice, check_int, check_number

__all__ = ["Budgets", "RebalanceSettings", "GO_GAMMA_TAX", "GO_GAMMA_TC", "go_to_target"]

#: Going to the target at once: the trading-cost weight (low, so the move is not cut short
#: by its own cost; the spread still keeps a name from being bought and sold at once) ...
GO_GAMMA_TC = 0.01
#: ... and a tie-breaker on tax: many sales reach the same TE (the lots of one name differ
#: only in their gain); at 1e-6, tax of 1 % of the account weighs as much as a TE^2 of
#: 1e-8 (a TE of 0.01 %), so among trades of equal TE the one with less tax is chosen
GO_GAMMA_TAX = 1e-6


@dataclass(frozen=True)
class Budgets:
    """Net realised capital-gain budgets for the tax year (``None`` = no cap).

    Attributes
    ----------
    total, short_term, long_term : float | None
        The budgets, each >= 0 (0 realises no net gain) or ``None`` for no cap.
    unit : BudgetUnit
        ``"gain"`` (USD of net gain), ``"tax"`` (USD of tax at the client's rates) or
        ``"embedded_pct"`` (a fraction of the account's embedded gain, e.g. 0.1 = 10 %).
    forced_offset, forced_offset_st, forced_offset_lt : float
        USD (>= 0) the total, short-term and long-term budget's raise to the gain of the
        sales the restrictions force is lowered by
        (:func:`pma_lab.optimize.limits.budget_limits`; never below the budget): the
        losses a step harvests offset those gains and make no room for other gains (each
        cap nets its own: the total every loss, the short-term cap the short-term losses,
        the long-term cap the long-term ones;
        :func:`pma_lab.plan.simulation._solve_within_forced` sets them; 0: the raise goes
        to the forced sales' gain).

    Raises
    ------
    SettingsError
        For a negative or non-finite budget or an unknown unit.
    """

    total: float | None = None
    short_term: float | None = None
    long_term: float | None = None
    unit: BudgetUnit = BudgetUnit.GAIN
    forced_offset: float = 0.0
    forced_offset_st: float = 0.0
    forced_offset_lt: float = 0.0

    def __post_init__(self) -> None:
        check_choice(self, "unit", BudgetUnit)
        for name in ("forced_offset", "forced_offset_st", "forced_offset_lt"):
            check_number(self, name, low=0,
                         meaning="the USD a raise for forced sales is lowered by, 0 for none")
        for name in ("total", "short_term", "long_term"):
            check_number(self, name, low=0, optional=True,
                         meaning="use 0 to realise no net gain, None for no cap")
        if self.unit is BudgetUnit.EMBEDDED_PCT:
            for name in ("total", "short_term", "long_term"):
                check_number(self, name, high=1, optional=True,
                             meaning="a fraction of the embedded gain, 0.1 = 10 %")


@dataclass(frozen=True)
class RebalanceSettings:
    """Policy knobs of one rebalance; any of them can change between solves.

    Attributes
    ----------
    gamma_tax : float
        Weight of tax (a fraction of the account) against TE^2 (annual variance), >= 0.
    gamma_tc : float
        Weight of the trading cost, >= 0.
    spread : float
        Cost per unit of weight traded (half spread + commission), in [0, 0.1).
    tax_credit : TaxCredit
        ``"linear"`` or ``"capped"`` (see :class:`~pma_lab.modes.TaxCredit`).
    cash_target : float
        Fraction of the account kept in cash after trading, in [0, 1).
    te_cap : float | None
        Annualised tracking-error cap (0.02 = 2 %), > 0, or ``None``.
    max_names : int | None
        At most this many names held after trading (>= 1), or ``None``.
    min_trade : float
        USD per name; smaller trades are dropped (re-solved without), >= 0.
    whole_shares : bool
        Round every trade to whole shares (the ``round_shares`` step).
    budgets : Budgets
        Net realised-gain budgets for the tax year.
    lt_soon_days : int
        Penalise ST gains on lots turning long-term within this many days (>= 0).
    lt_soon_penalty : float
        Extra cost per unit of such ST gain (a fraction of the account), >= 0.
    wash_sale_mode : WashSaleMode
        ``"forbid"`` or ``"disallow"`` (see :class:`~pma_lab.modes.WashSaleMode`).
    buy_only_target : bool
        Buy only names the target holds (the usual buy list).
    solver : str
        Conic solver for the relaxation and any TE cap (see :mod:`pma_lab.solvers`).
    qp_solver : str | None
        Solver for the sign-fixed problem without a TE cap (a QP); ``None``: ``solver``.
    dual_qp : bool
        Solve each sign-fixed problem by its Lagrangian dual first (the default,
        :class:`pma_lab.optimize.dual_qp.DualQP`: exact, certified at every use; the
        problem's ``qp_solver`` / ``solver`` where the dual does not apply or its
        certificate fails). ``False``: every sign-fixed problem through cvxpy and
        ``qp_solver`` / ``solver``, as before session 14 (the frontier too, whatever its
        ``dual_qp`` argument).
    dual_relaxation : bool
        Solve the two-step's relaxation by its Lagrangian dual first
        (:class:`pma_lab.optimize.relax_dual.RelaxDual`: certified at every use; Clarabel
        where it does not apply or its certificate fails; the default, session 15).
        ``False``: Clarabel always, as before.

    Raises
    ------
    SettingsError
        When a value is out of range or unknown; the message names the field and the fix.
    """

    gamma_tax: float = 1.0
    gamma_tc: float = 1.0
    spread: float = 0.0005
    tax_credit: TaxCredit = TaxCredit.LINEAR
    cash_target: float = 0.0
    te_cap: float | None = None
    max_names: int | None = None
    min_trade: float = 0.0
    whole_shares: bool = False
    budgets: Budgets = Budgets()
    lt_soon_days: int = 0
    lt_soon_penalty: float = 0.0
    wash_sale_mode: WashSaleMode = WashSaleMode.FORBID
    buy_only_target: bool = True
    solver: str = "CLARABEL"
    qp_solver: str | None = "PIQP"
    # two-step rounding of the relaxation: "best" solves both the net-trade rule and the
    # "sell where the relaxed sell share lambda > 0.5" rule and keeps the lower objective;
    # "net" is the net-trade rule alone (the method before issue 16)
    sign_rule: str = "best"
    # with "best": then flip, one at a time, up to this many loss-relevant names the
    # relaxation splits between buying and selling (lambda in (0.05, 0.95), nearest one
    # half first), keeping each flip that lowers the objective (one exact solve each)
    sign_flips: int = 2
    # one variable per lot class (name, term, treatment) instead of per lot (issue 16);
    # False keeps the lot-level formulation (the reference; the capped credit always uses it)
    aggregate: bool = True
    # the sign-fixed problems solved by their certified Lagrangian dual first
    # (pma_lab.optimize.dual_qp); False: cvxpy alone
    dual_qp: bool = True
    # the relaxation solved by its certified Lagrangian dual first
    # (pma_lab.optimize.relax_dual); False: Clarabel alone (as before session 15)
    dual_relaxation: bool = True

    def __post_init__(self) -> None:
        check_choice(self, "tax_credit", TaxCredit)
        check_choice(self, "wash_sale_mode", WashSaleMode)
        check_number(self, "gamma_tax", low=0, meaning="tax aversion")
        check_number(self, "gamma_tc", low=0, meaning="trading-cost aversion")
        check_number(self, "spread", low=0, high=0.1, high_open=True,
                     meaning="cost per unit of weight traded, e.g. 0.0005 = 5 bp")
        check_number(self, "cash_target", low=0, high=1, high_open=True,
                     meaning="a fraction of the account, e.g. 0.02 = 2 %")
        check_number(self, "te_cap", low=0, low_open=True, high=1, optional=True,
                     meaning="annualised tracking error, e.g. 0.02 = 2 %; None for no cap")
        check_int(self, "max_names", low=1, optional=True, meaning="names held after trading")
        check_number(self, "min_trade", low=0, meaning="USD per name")
        check_int(self, "lt_soon_days", low=0, meaning="days")
        check_number(self, "lt_soon_penalty", low=0, meaning="a fraction of the account")
        for flag in ("whole_shares", "buy_only_target"):
            if not isinstance(getattr(self, flag), bool):
                raise SettingsError(f"RebalanceSettings({flag}={getattr(self, flag)!r}): "
                                    f"{flag} must be True or False")
        if not isinstance(self.budgets, Budgets):
            raise SettingsError(f"RebalanceSettings(budgets={self.budgets!r}): budgets must "
                                "be a Budgets(total, short_term, long_term, unit)")
        if self.sign_rule not in ("best", "net"):
            raise SettingsError(f"RebalanceSettings(sign_rule={self.sign_rule!r}): sign_rule "
                                "must be 'best' or 'net'")
        check_int(self, "sign_flips", low=0, meaning="sign flips tried after rounding")
        if not isinstance(self.aggregate, bool):
            raise SettingsError(f"RebalanceSettings(aggregate={self.aggregate!r}): aggregate "
                                "must be True or False")
        if not isinstance(self.dual_qp, bool):
            raise SettingsError(f"RebalanceSettings(dual_qp={self.dual_qp!r}): dual_qp "
                                "must be True (the certified dual first) or False (cvxpy "
                                "alone)")
        if not isinstance(self.dual_relaxation, bool):
            raise SettingsError(f"RebalanceSettings(dual_relaxation={self.dual_relaxation!r}"
                                "): dual_relaxation must be True (the certified dual "
                                "first) or False (Clarabel alone)")
        check_solver(self, "solver", conic=True)
        check_solver(self, "qp_solver", conic=False, optional=True)

    @property
    def accuracy(self) -> float:
        """Weights below this are solver round-off (the least accurate solver used)."""
        names = [self.solver] + ([self.qp_solver] if self.qp_solver else [])
        return max(solver_spec(n).accuracy for n in names)


def go_to_target(base: RebalanceSettings, *, gamma_tax: float = GO_GAMMA_TAX,
                 gamma_tc: float = GO_GAMMA_TC, te_cap: float | None = None
                 ) -> RebalanceSettings:
    """The settings of going to the target at once, from ``base``.

    One action with one set of settings wherever it is shown: the efficient frontier's
    end point "Go to target" (:func:`pma_lab.optimize.frontier.efficient_frontier`) and
    the first step of the immediate transition, "Move now"
    (:func:`pma_lab.plan.transition.first_trades`), so the two report the same trades and
    the same tax. No gain budget, no long-term-soon penalty, a low trading-cost weight
    and a tax tie-breaker (:data:`GO_GAMMA_TC`, :data:`GO_GAMMA_TAX`); the rest (whole
    shares, minimum trade, spread, cash target, wash-sale mode) is ``base``'s.

    Parameters
    ----------
    base : RebalanceSettings
        The account's settings (e.g. :func:`pma_lab.optimize.engine.default_settings`).
    gamma_tax, gamma_tc : float
        The tax tie-breaker and the trading-cost weight (a transition's own,
        ``TransitionSettings.go_gamma_tax`` and ``go_gamma_tc``, default to these).
    te_cap : float | None
        A client's own tracking-error ceiling (a plan's), else none.

    Returns
    -------
    RebalanceSettings

    Examples
    --------
    >>> s = go_to_target(RebalanceSettings(gamma_tax=2.0, budgets=Budgets(total=0.0)))
    >>> (s.gamma_tax, s.gamma_tc, s.budgets.total, s.te_cap)
    (1e-06, 0.01, None, None)
    """
    return replace(base, gamma_tax=gamma_tax, gamma_tc=gamma_tc, budgets=Budgets(),
                   te_cap=te_cap, lt_soon_penalty=0.0)
