"""The public API is pinned (issue 15): a name added or removed from pma_lab.__all__ is a
deliberate change made here too, and every name resolves."""

from __future__ import annotations

import subprocess
import sys

import pma_lab

PUBLIC = [
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


def test_all_is_pinned():
    assert list(pma_lab.__all__) == PUBLIC


def test_every_public_name_resolves_and_is_documented():
    for name in PUBLIC:
        obj = getattr(pma_lab, name)
        if callable(obj) and name != "__version__":
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"


def test_researcher_names_are_exported():
    for name in (
        "RiskModel",
        "Benchmark",
        "Target",
        "prepare",
        "RebalanceProblem",
        "RebalanceSettings",
        "efficient_frontier",
        "run_transition",
        "TransitionSettings",
        "Method",
        "WashSaleMode",
        "BudgetUnit",
        "Term",
        "SettingsError",
        "MarketData",
        "read_models",
        "ModelFileError",
    ):
        assert name in pma_lab.__all__


def test_star_import_gives_the_lazy_names():
    code = (
        "from pma_lab import *; import sys; "
        "assert RiskModel.__module__ == 'pma_lab.portfolio.risk'; "
        "assert efficient_frontier.__module__ == 'pma_lab.optimize.frontier'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
