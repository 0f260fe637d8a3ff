"""Widgets of the proposal dashboard (``notebooks/dashboard.ipynb``, served by Voila).

The classes keep their state in traitlets and call the public :mod:`pma_lab` functions;
:func:`build_dashboard` builds them and links their traits, once for the notebook, the tests
and the benchmarks (:mod:`pma_lab.app.dashboard.page`). See :mod:`pma_lab.app.dashboard.widgets`.
The dashboard computes what the proposal notebook computes, with the same parameters
(:meth:`DashboardSettings.from_proposal`), and formats numbers with
:mod:`pma_lab.formatting` (``fmt_usd`` and ``fmt_pct`` are re-exported from there).
"""

from __future__ import annotations

from pma_lab.app.dashboard.compute import (
    DashboardModels,
    DashboardSettings,
    ModelUpload,
    ProposalEngine,
    TaxInputs,
    client_key,
    read_model_uploads,
    with_tax_inputs,
)
from pma_lab.app.dashboard.page import Dashboard, build_dashboard
from pma_lab.app.dashboard.widgets import (
    ExportPanel,
    HoldingsUpload,
    ModelsUpload,
    ProfilePicker,
    ProposalView,
    RestrictionEditor,
    TaxEditor,
    TransitionPlanner,
)
from pma_lab.formatting import fmt_pct, fmt_usd

__all__ = [
    "Dashboard",
    "DashboardModels",
    "DashboardSettings",
    "ExportPanel",
    "HoldingsUpload",
    "ModelUpload",
    "ModelsUpload",
    "ProfilePicker",
    "ProposalEngine",
    "ProposalView",
    "RestrictionEditor",
    "TaxEditor",
    "TaxInputs",
    "TransitionPlanner",
    "build_dashboard",
    "client_key",
    "fmt_pct",
    "fmt_usd",
    "read_model_uploads",
    "with_tax_inputs",
]
