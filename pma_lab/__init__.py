"""pma_lab: an open research and proposal workbench for Personalized Managed Accounts.

This module only re-exports the public API of the package's modules (each declares
``__all__``); see the modules for documentation and ``docs/api.md`` for worked examples.
The inputs, ledger and tax names are imported at once; the market, model, optimizer,
frontier and transition names (which pull in cvxpy and plotly) are imported when first
used, so ``import pma_lab`` stays light. ``tests/test_public_api.py`` pins :data:`__all__`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from pma_lab.errors import (
    BlotterError,
    ConstraintError,
    DataError,
    InfeasibleError,
    InputError,
    InsufficientSharesError,
    Issue,
    LedgerError,
    LotDataError,
    MarketDataError,
    ModelFileError,
    OptimizationError,
    PmaLabError,
    PriceDataError,
    ProfileError,
    RestrictionError,
    SettingsError,
    Severity,
    SolverFailedError,
)
from pma_lab.io.client import Client, find_clients, load_client
from pma_lab.io.ingest import Blotter, LotSet, read_blotter, read_lots
from pma_lab.io.profile import ClientProfile, load_profile
from pma_lab.market.tickers import IdentityTable, normalize_ticker
from pma_lab.modes import BudgetUnit, Method, TaxCredit, WashSaleMode
from pma_lab.tax.ledger import Account, AccountType, Ledger, Lot, LotRelief, Side, Trade, replay
from pma_lab.tax.liability import (
    TaxProfile,
    charitable_deductions,
    net_capital_gains,
    yearly_netting,
)
from pma_lab.tax.rules import FilingStatus, TaxPolicy, Term, is_long_term, long_term_date

_SUBMODULES = ("app", "io", "market", "optimize", "plan", "portfolio", "report", "tax",
               "cache", "errors", "files", "paths", "schema")

# name -> module, imported on first use (PEP 562)
_LAZY = {
    **dict.fromkeys(("MarketData", "load_market"), "market.data"),
    **dict.fromkeys(("RiskModel", "RiskModelSettings", "estimate_risk_model"), "portfolio.risk"),
    **dict.fromkeys(("Benchmark", "sp500_proxy", "benchmark_from_file"), "market.benchmark"),
    **dict.fromkeys(("Target", "TargetSettings", "TargetBuilder", "build_target"),
                    "portfolio.target"),
    **dict.fromkeys(("ClientSetup", "prepare", "default_settings", "problem_for_client",
                     "rebalance_client"), "optimize.engine"),
    **dict.fromkeys(("AccountState", "Budgets", "RebalanceProblem", "RebalanceResult",
                     "RebalanceSettings", "RebalanceSummary", "account_state"),
                    "optimize.rebalance"),
    **dict.fromkeys(("Frontier", "efficient_frontier"), "optimize.frontier"),
    **dict.fromkeys(("Plan", "TransitionAnalysis", "TransitionSettings", "parse_plan",
                     "run_transition"), "plan.transition"),
    **dict.fromkeys(("SOLVERS", "SolverSpec"), "solvers"),
    **dict.fromkeys(("ModelFiles", "read_models"), "io.models"),
}


def __getattr__(name: str):  # PEP 562: `import pma_lab; pma_lab.portfolio.research`
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(f"pma_lab.{_LAZY[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"pma_lab.{name}")
    raise AttributeError(f"module 'pma_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))


__all__ = [
    "__version__",
    "Account",
    "account_state",
    "AccountState",
    "AccountType",
    "Benchmark",
    "benchmark_from_file",
    "Blotter",
    "BlotterError",
    "Budgets",
    "BudgetUnit",
    "build_target",
    "charitable_deductions",
    "Client",
    "ClientProfile",
    "ClientSetup",
    "ConstraintError",
    "DataError",
    "default_settings",
    "efficient_frontier",
    "estimate_risk_model",
    "FilingStatus",
    "find_clients",
    "Frontier",
    "IdentityTable",
    "InfeasibleError",
    "InputError",
    "InsufficientSharesError",
    "is_long_term",
    "Issue",
    "Ledger",
    "LedgerError",
    "load_client",
    "load_market",
    "load_profile",
    "long_term_date",
    "Lot",
    "LotDataError",
    "LotRelief",
    "LotSet",
    "MarketData",
    "MarketDataError",
    "Method",
    "ModelFileError",
    "ModelFiles",
    "net_capital_gains",
    "normalize_ticker",
    "OptimizationError",
    "parse_plan",
    "Plan",
    "PmaLabError",
    "prepare",
    "PriceDataError",
    "problem_for_client",
    "ProfileError",
    "read_blotter",
    "read_lots",
    "read_models",
    "rebalance_client",
    "RebalanceProblem",
    "RebalanceResult",
    "RebalanceSettings",
    "RebalanceSummary",
    "replay",
    "RestrictionError",
    "RiskModel",
    "RiskModelSettings",
    "run_transition",
    "SettingsError",
    "Severity",
    "Side",
    "SolverFailedError",
    "SOLVERS",
    "SolverSpec",
    "sp500_proxy",
    "Target",
    "TargetBuilder",
    "TargetSettings",
    "TaxCredit",
    "TaxPolicy",
    "TaxProfile",
    "Term",
    "Trade",
    "TransitionAnalysis",
    "TransitionSettings",
    "WashSaleMode",
    "yearly_netting",
]
