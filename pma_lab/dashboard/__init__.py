"""Widgets of the proposal dashboard (``notebooks/dashboard.ipynb``, served by Voila).

The classes keep their state in traitlets and call the public :mod:`pma_lab` functions;
the notebook only builds them and links their traits. See :mod:`pma_lab.dashboard.widgets`.
"""

from __future__ import annotations

from pma_lab.dashboard.compute import DashboardSettings, ProposalEngine, client_key
from pma_lab.dashboard.render import fmt_pct, fmt_usd
from pma_lab.dashboard.widgets import (
    HoldingsUpload,
    ProfilePicker,
    ProposalView,
    RestrictionEditor,
    TransitionPlanner,
)

__all__ = [
    "DashboardSettings",
    "HoldingsUpload",
    "ProfilePicker",
    "ProposalEngine",
    "ProposalView",
    "RestrictionEditor",
    "TransitionPlanner",
    "client_key",
    "fmt_pct",
    "fmt_usd",
]
