"""The dashboard's page: its widgets built and wired in one place.

``notebooks/dashboard.ipynb`` (served by Voila), the dashboard tests and
``benchmarks/bench_dashboard_toggle.py`` all call :func:`build_dashboard`, so the page the
advisor sees, the page the tests check and the page the benchmark times are wired the
same way: a change of wiring cannot leave them disagreeing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as ipw
from traitlets import dlink

from pma_lab.app.dashboard.compute import DashboardSettings, ProposalEngine
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

MAX_UPLOAD_BYTES = 5_000_000
"""The largest holdings or model file the page accepts (bytes)."""


@dataclass(frozen=True)
class Dashboard:
    """The dashboard's widgets, wired (:func:`build_dashboard`).

    Attributes
    ----------
    picker, upload, taxes, editor, planner, models, export
        The controls: client, lots upload, tax inputs, restrictions, transition plan,
        model files, downloads.
    view : ProposalView
        The proposal for the inputs (trades, frontier, plan comparison, shelf sections).
    page : ipywidgets.HBox
        The controls' column beside the view, as the notebook displays it.
    links : tuple
        The traitlets ``dlink`` objects, in the order they were made.
    """

    picker: ProfilePicker
    upload: HoldingsUpload
    taxes: TaxEditor
    editor: RestrictionEditor
    planner: TransitionPlanner
    view: ProposalView
    models: ModelsUpload
    export: ExportPanel
    page: ipw.HBox
    links: tuple

    def close(self) -> None:
        """Close every widget (the view's worker threads stop, a comparison is cancelled)."""
        for w in (self.view, self.export, self.models, self.planner, self.editor, self.taxes,
                  self.upload, self.picker, self.page):
            w.close()


def build_dashboard(selected: str | None = "household", *, folder: str | Path | None = None,
                    settings: DashboardSettings | None = None,
                    engine: ProposalEngine | None = None, debounce: float = 0.1,
                    prefetch: bool = True, max_bytes: int = MAX_UPLOAD_BYTES,
                    plan_text: Callable[[str], str] | None = None) -> Dashboard:
    """Build the dashboard's widgets and link their traits, as the page runs them.

    The links, in order: the picker's profile to the upload; the upload's client to the
    model files panel (before the view gets the client, so files checked for the previous
    client are not used for this one) and to the tax editor; the edited client to the
    view, the restriction editor and the planner; restrictions, plan and model files to
    the view; the view's outcome back to the upload (a failed update shows by it too).

    Parameters
    ----------
    selected : str | None
        The client folder chosen first (default ``"household"``; ``None``: the first).
    folder : str | Path | None
        Where the client folders are (default: the packaged sample clients).
    settings : DashboardSettings | None
        The view's settings (default: the proposal notebook's parameters).
    engine : ProposalEngine | None
        Share an engine and its caches (``settings`` is then not used).
    debounce : float
        Seconds the view waits after the last change (0: synchronous updates, as tests use).
    prefetch : bool
        Prepare in idle time the other clients' first results and the restriction
        toggles' trades (:class:`ProposalView`'s ``prefetch_profiles`` and
        ``prefetch_toggles``).
    max_bytes : int
        The largest lots or model file accepted.
    plan_text : Callable[[str], str] | None
        How the planner's plan text reaches the view (default: unchanged), e.g. to give
        every plan a page-wide withdrawal.

    Returns
    -------
    Dashboard
        The widgets, their links and the page to display.
    """
    picker = ProfilePicker(folder=folder, selected=selected)
    upload = HoldingsUpload(max_bytes=max_bytes)
    taxes = TaxEditor()
    editor = RestrictionEditor()
    planner = TransitionPlanner()
    view = ProposalView(settings=settings, engine=engine, debounce=debounce,
                        prefetch_profiles=picker.paths if prefetch else [],
                        prefetch_toggles=prefetch)
    models = ModelsUpload(engine=view.engine, max_bytes=max_bytes)
    export = ExportPanel(view, upload)
    links = (
        dlink((picker, "value"), (upload, "profile_path")),
        dlink((upload, "client"), (models, "client")),  # before the view gets the client
        dlink((upload, "client"), (taxes, "client")),
        dlink((taxes, "edited"), (view, "client")),
        dlink((taxes, "edited"), (editor, "client")),
        dlink((taxes, "edited"), (planner, "client")),
        dlink((editor, "restrictions"), (view, "restrictions")),
        dlink((planner, "plan"), (view, "plan"), plan_text),
        dlink((models, "models"), (view, "models")),
        dlink((view, "outcome"), (upload, "update_outcome")),  # a failed update shows here too
    )
    controls = ipw.VBox([picker, upload, taxes, editor, planner, models, export],
                        layout=ipw.Layout(width="400px", flex="0 0 400px"))
    controls.add_class("pma-controls")
    page = ipw.HBox([controls, ipw.Box([view], layout=ipw.Layout(flex="1 1 auto",
                                                                 min_width="0"))],
                    layout=ipw.Layout(width="100%"))
    return Dashboard(picker=picker, upload=upload, taxes=taxes, editor=editor,
                     planner=planner, view=view, models=models, export=export, page=page,
                     links=links)
