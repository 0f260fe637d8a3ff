"""pma_lab: an open research and proposal workbench for Personalized Managed Accounts.

This module only re-exports the public API of the package's modules (each declares
``__all__``); see the modules for documentation.
"""

from __future__ import annotations

__version__ = "0.1.0"

from pma_lab.client import Client, find_clients, load_client
from pma_lab.errors import (
    BlotterError,
    DataError,
    InfeasibleError,
    InputError,
    InsufficientSharesError,
    Issue,
    LedgerError,
    LotDataError,
    MarketDataError,
    OptimizationError,
    PmaLabError,
    PriceDataError,
    ProfileError,
    RestrictionError,
    Severity,
    SolverFailedError,
)
from pma_lab.ingest import Blotter, LotSet, read_blotter, read_lots
from pma_lab.ledger import Account, AccountType, Ledger, Lot, LotRelief, Side, Trade, replay
from pma_lab.profile import ClientProfile, load_profile
from pma_lab.tax import TaxProfile, charitable_deductions, net_capital_gains, yearly_netting
from pma_lab.taxrules import FilingStatus, TaxPolicy, Term, is_long_term, long_term_date
from pma_lab.tickers import IdentityTable, normalize_ticker

_SUBMODULES = ("batch", "benchmark", "charts", "cli", "client", "demo", "engine", "errors",
               "frontier", "gap", "holdings", "ingest", "ledger", "market", "paths",
               "profile", "rebalance", "report", "research", "risk", "schema", "screens",
               "scenarios", "montecarlo", "tables", "target", "tax", "taxrules", "tickers",
               "transition", "ladder", "household", "allocation", "completion")


def __getattr__(name: str):  # PEP 562: `import pma_lab; pma_lab.research.names_curve(...)`
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"pma_lab.{name}")
    raise AttributeError(f"module 'pma_lab' has no attribute {name!r}")


__all__ = [
    "__version__",
    "Account",
    "AccountType",
    "Blotter",
    "BlotterError",
    "Client",
    "ClientProfile",
    "DataError",
    "FilingStatus",
    "IdentityTable",
    "InfeasibleError",
    "InputError",
    "InsufficientSharesError",
    "Issue",
    "Ledger",
    "LedgerError",
    "Lot",
    "LotDataError",
    "LotRelief",
    "LotSet",
    "MarketDataError",
    "OptimizationError",
    "PmaLabError",
    "PriceDataError",
    "ProfileError",
    "RestrictionError",
    "Severity",
    "Side",
    "SolverFailedError",
    "TaxPolicy",
    "TaxProfile",
    "Term",
    "Trade",
    "charitable_deductions",
    "find_clients",
    "is_long_term",
    "load_client",
    "load_profile",
    "long_term_date",
    "net_capital_gains",
    "normalize_ticker",
    "read_blotter",
    "read_lots",
    "replay",
    "yearly_netting",
]
