"""The dashboard's shelf views: household, active + index core, core allocation, ladder.

The dashboard shows the proposal's shelf sections for the client loaded, built by the very
functions the proposal notebook calls (:mod:`pma_lab.report.shelf`): :func:`shelf_results`
computes each product's result (``None`` for a product the client does not hold) and
:class:`ShelfPanel` lays out the same :class:`~pma_lab.report.shelf.View` the proposal
displays (its tables, captions and formats), so every figure reads the same in both.

:class:`~pma_lab.app.dashboard.widgets.ProposalView` holds one panel and fills it as a stage
of its update (after the trades today and the frontier, before the plan comparison, so
in the worker thread when the first page is shown synchronously), from
the same :class:`~pma_lab.optimize.engine.ClientSetup` as the rest of the page, so the
shelf follows the restriction, tax and cash edits too.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace

import ipywidgets as ipw
import pandas as pd
import traitlets as tl

from pma_lab.app.dashboard.compute import _LRU
from pma_lab.app.dashboard.render import STYLE, message_panel, public_text
from pma_lab.errors import PmaLabError
from pma_lab.optimize.household import HouseholdResult
from pma_lab.portfolio.allocation import SleevePlan
from pma_lab.portfolio.completion import CompletionResult
from pma_lab.portfolio.ladder import Ladder
from pma_lab.report import shelf as report_shelf

__all__ = ["ShelfResults", "shelf_results", "ShelfPanel"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShelfResults:
    """One client's shelf products, as the proposal computes them.

    Attributes
    ----------
    household : HouseholdResult | None
        :func:`pma_lab.report.shelf.household` (several accounts only).
    completion : CompletionResult | None
        :func:`pma_lab.report.shelf.completion` (an active + index core only).
    sleeves : SleevePlan | None
        :func:`pma_lab.report.shelf.sleeves` (a ``[core]`` allocation with a ladder only).
    ladder : Ladder | None
        :func:`pma_lab.report.shelf.ladder` (a ``[fixed_income]`` ladder only).
    benchmark : pandas.Series | None
        The benchmark weights the completion view measures the manager's bets against.
    trades : RebalanceResult | None
        The plan's first step the household was solved around (its taxable account's
        trades, kept as they are); the trade file appends the household's other orders to
        these trades only.
    """

    household: HouseholdResult | None
    completion: CompletionResult | None
    sleeves: SleevePlan | None
    ladder: Ladder | None
    benchmark: pd.Series | None = None
    trades: object = None
    year_tax: report_shelf.PlanYearTax | None = None  # page 1's "Tax this year", once known

    def views(self) -> list[report_shelf.View]:
        """The proposal's sections for these products, in the proposal's order."""
        out = [report_shelf.household_view(self.household, self.year_tax),
               report_shelf.completion_view(self.completion, self.benchmark),
               report_shelf.sleeves_view(self.sleeves),
               report_shelf.ladder_view(self.ladder)]
        return [v for v in out if v is not None]

    @property
    def empty(self) -> bool:
        """True when the client holds none of the shelf products."""
        return not self.views()


def shelf_results(setup: object, trades: object = None, plan: str | None = None
                  ) -> ShelfResults:
    """The shelf products of a prepared client (the proposal notebook's calls).

    Parameters
    ----------
    setup : ClientSetup
        From :func:`pma_lab.optimize.engine.prepare` (the dashboard's engine).
    trades : RebalanceResult | None
        The plan's first step on screen: the household is solved around it, as the
        proposal solves it around its trades today.
    plan : str | None
        The plan on screen (its code; default the client's): a budget plan's budget is the
        household's (:func:`pma_lab.plan.household.household_settings`).

    Returns
    -------
    ShelfResults

    Raises
    ------
    PmaLabError
        As the :mod:`pma_lab.report.shelf` functions (an infeasible household, a bad
        model-portfolio file, a ladder outside the packaged curve).
    """
    return ShelfResults(
        household=report_shelf.household(setup, trades, plan),
        completion=report_shelf.completion(setup),
        sleeves=report_shelf.sleeves(setup, plan),
        ladder=report_shelf.ladder(setup.client),  # type: ignore[attr-defined]
        benchmark=setup.benchmark.weights,  # type: ignore[attr-defined]
        trades=trades)


class ShelfPanel(ipw.VBox):
    """The shelf sections of the client on screen (nothing for a client without any).

    Parameters
    ----------
    cache_size : int
        Clients whose results are kept (by the engine's client fingerprint).

    Traits
    ------
    results : ShelfResults | None
        What the panel shows.
    error : str
        Why the last update failed ("" when it succeeded).
    """

    results = tl.Any(None)
    error = tl.Unicode("")

    def __init__(self, cache_size: int = 32, **kwargs):
        self._cache = _LRU(cache_size)
        self.calls = 0
        self._html = ipw.HTML()
        self._html.add_class("pma-shelf-sections")
        super().__init__(children=[ipw.HTML(STYLE), self._html], **kwargs)
        self.add_class("pma-shelf")

    @property
    def html(self) -> str:
        """The panel's HTML as shown (empty for a client without shelf products)."""
        return self._html.value

    def compute(self, key: Hashable, setup: object,
                trades: object = None, plan: str | None = None
                ) -> tuple[ShelfResults, bool]:
        """:func:`shelf_results` of ``setup``, cached under ``key``; and whether cached.

        ``key`` must tell the trades apart too (the plan: the household is solved around
        its first step).

        Raises
        ------
        PmaLabError
            As :func:`shelf_results`.
        """
        hit = self._cache.get(key)
        if hit is not None:
            return hit, True  # type: ignore[return-value]
        out = shelf_results(setup, trades, plan)
        self.calls += 1
        self._cache.put(key, out)
        return out, False

    def show(self, results: ShelfResults) -> None:
        """Lay out the proposal's sections for ``results`` (nothing when there are none).

        ``results`` is set last, once its sections are on the panel: an observer of it
        (the view adding the household's year rows) sees the panel it describes.
        """
        self.error = ""
        views = results.views()
        self._html.value = ("".join(
            f'<div class="pma-shelf-section" '
            f'data-section="{html.escape(report_shelf.anchor(v.title))}">'
            f"{v._repr_html_()}</div>" for v in views)) if views else ""
        self.results = results

    def show_year_tax(self, year_tax: report_shelf.PlanYearTax | None) -> None:
        """Add the plan's "Tax this year" to the household section's tax rows.

        The plan comparison's figure (page 1's), once it is ready, as the proposal shows
        it; nothing without a household.
        """
        r = self.results
        if r is None or r.household is None or r.year_tax == year_tax:
            return
        self.show(replace(r, year_tax=year_tax))

    def update(self, key: Hashable, setup: object,
               post: Callable[[Callable[[], None]], None], current: Callable[[], bool],
               timings: dict, trades: object = None, plan: str | None = None) -> None:
        """One stage of a dashboard update: compute (or reuse), then show or fail.

        Parameters
        ----------
        key : Hashable
            The client's fingerprint (:meth:`ProposalEngine.key`).
        setup : ClientSetup
        post : Callable
            Runs a display step on the UI thread (the view's poster).
        current : Callable[[], bool]
            False once a newer input change has made this update stale (nothing shown).
        timings : dict
            Receives ``shelf`` (seconds) and ``shelf_cached``.
        trades : RebalanceResult | None
            The plan's first step on screen (the household is solved around it).
        plan : str | None
            The plan on screen, whose budget the household trades within.
        """
        t = time.perf_counter()
        try:
            out, hit = self.compute(key, setup, trades, plan)
        except Exception as e:  # noqa: BLE001 - shown in the panel, logged for the operator
            timings["shelf"] = round(time.perf_counter() - t, 4)
            post(lambda e=e: self.fail(e) if current() else None)
            return
        timings["shelf"] = round(time.perf_counter() - t, 4)
        timings["shelf_cached"] = hit
        post(lambda: self.show(out) if current() else None)

    def clear(self) -> None:
        """Show nothing (another client's sections are being computed)."""
        self.error = ""
        self.results = None
        self._html.value = ""

    def fail(self, e: BaseException) -> None:
        """Show why the shelf could not be computed (the rest of the page stays)."""
        if not isinstance(e, PmaLabError):
            log.error("shelf update failed", exc_info=e)
        self.results = None
        self.error = public_text(str(e) or type(e).__name__)
        self._html.value = message_panel(
            "The household, core allocation, active + index and ladder sections could not "
            "be computed",
            [self.error])
