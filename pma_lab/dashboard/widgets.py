"""The proposal dashboard's widgets: state in traitlets, work in :mod:`pma_lab` functions.

Five classes, each an ``ipywidgets`` box with its state in traits, so a notebook (or a
Voila page) only builds them and links their traits with :func:`traitlets.dlink`:

* :class:`ProfilePicker` — ``value``: the chosen sample profile (path);
* :class:`HoldingsUpload` — ``profile_path`` in, ``client`` out: a CSV/XLSX lots upload
  validated against the profile; a bad file shows every issue in a red panel;
* :class:`RestrictionEditor` — ``client`` in, ``restrictions`` out: category screens and
  no-buy tickers on top of the profile's restrictions;
* :class:`TransitionPlanner` — ``client`` in (adopts the profile's transition preference),
  ``plan`` out: a timeline of N years or an annual tax budget;
* :class:`ProposalView` — ``client``, ``restrictions`` and ``plan`` in: the frontier, the
  first-year trades and the transition comparison, recomputed (debounced, in a worker
  thread) when an input changes, from cached engine calls (:class:`ProposalEngine`).

Every widget a test or a stylesheet needs carries a stable ``pma-*`` CSS class.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from dataclasses import replace
from pathlib import Path

import ipywidgets as ipw
import plotly.graph_objects as go
import traitlets as tl

from pma_lab.client import Client, find_clients, load_client
from pma_lab.dashboard.compute import DashboardSettings, ProposalEngine, with_restrictions
from pma_lab.dashboard.render import (
    STYLE,
    comparison_table,
    first_year_summary,
    fmt_pct,
    fmt_seconds,
    fmt_usd,
    issues_panel,
    message_panel,
    status_line,
    trades_table,
)
from pma_lab.errors import InputError, PmaLabError, Severity
from pma_lab.ingest import known_tickers
from pma_lab.paths import clients_dir
from pma_lab.profile import Restrictions
from pma_lab.schema import RESTRICTION_CATEGORIES
from pma_lab.tickers import normalize_ticker

__all__ = ["ProfilePicker", "HoldingsUpload", "RestrictionEditor", "TransitionPlanner",
           "ProposalView"]

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
UPLOAD_SUFFIXES = (".csv", ".txt", ".xlsx")


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


# --------------------------------------------------------------------------------- picker
class ProfilePicker(ipw.VBox):
    """A dropdown of the sample client profiles (``<folder>/*/profile.toml``).

    Parameters
    ----------
    folder : str | Path | None
        Where to look (default: the packaged sample clients).
    selected : str | None
        The client folder name to select first (default: the first one).

    Traits
    ------
    value : str
        The chosen profile's path.
    """

    value = tl.Unicode("")

    def __init__(self, folder: str | Path | None = None, selected: str | None = None,
                 **kwargs):
        profiles = find_clients(folder or clients_dir())
        options = [(p.parent.name, str(p)) for p in profiles]
        chosen = next((v for k, v in options if k == selected), options[0][1] if options
                      else None)
        self._dropdown = ipw.Dropdown(options=options, value=chosen, description="Client")
        self._dropdown.add_class("pma-profile")
        super().__init__(children=[self._dropdown], **kwargs)
        self.add_class("pma-profile-picker")
        tl.link((self._dropdown, "value"), (self, "value"))

    @property
    def names(self) -> list[str]:
        """The client folder names offered."""
        return [k for k, _ in self._dropdown.options]

    def select(self, name: str) -> None:
        """Choose a client by folder name."""
        self._dropdown.value = dict(self._dropdown.options)[name]


# --------------------------------------------------------------------------------- upload
class HoldingsUpload(ipw.VBox):
    """Upload a lots file (CSV/XLSX), validate it with the client's profile.

    The profile's own lots files are loaded whenever ``profile_path`` changes. An uploaded
    file replaces them when it validates; when it does not, a red panel lists every issue
    (file, row, column, value, problem, fix) and ``client`` keeps its previous value, so
    the proposal on screen still matches the file named in the info line.

    Traits
    ------
    profile_path : str
        The client profile (TOML) the lots are validated against (input).
    client : Client | None
        The validated client (output).
    source : str
        Where the client's lots came from (file names).
    issues : list[Issue]
        The issues of the last failed load (empty after a good one).
    error : str
        The last failure as text ("" after a good load).
    max_bytes : int
        Larger uploads are rejected before they are read.
    """

    profile_path = tl.Unicode("")
    client = tl.Instance(Client, allow_none=True)
    source = tl.Unicode("")
    issues = tl.List()
    error = tl.Unicode("")
    max_bytes = tl.Int(MAX_UPLOAD_BYTES)

    def __init__(self, **kwargs):
        self._upload = ipw.FileUpload(accept=",".join(UPLOAD_SUFFIXES), multiple=False,
                                      description="Upload lots (CSV/XLSX)",
                                      layout=ipw.Layout(width="auto"))
        self._upload.add_class("pma-upload")
        self._info = ipw.HTML()
        self._info.add_class("pma-upload-info")
        self._panel = ipw.HTML()
        self._panel.add_class("pma-upload-panel")
        super().__init__(children=[ipw.HTML(STYLE), self._upload, self._info, self._panel],
                         **kwargs)
        self.add_class("pma-holdings-upload")
        self._upload.observe(self._on_upload, "value")
        self._show_info()

    # ---------------------------------------------------------------- profile
    @tl.observe("profile_path")
    def _on_profile(self, change) -> None:
        if not self.profile_path:
            return
        name = Path(self.profile_path).parent.name
        try:
            c = load_client(self.profile_path)
        except InputError as e:
            self._fail(e, f"{Path(self.profile_path).name} of {name}", {})
            self.client = None
            self.source = ""
            return
        except PmaLabError as e:
            self._fail_text(f"Cannot load client {name}", str(e))
            self.client = None
            self.source = ""
            return
        self._ok(c, ", ".join(Path(s).name for s in c.lots.sources) + " (profile)")

    # ---------------------------------------------------------------- upload
    def _on_upload(self, change) -> None:
        files = change["new"]
        if not files:
            return
        for f in files:
            self.handle_upload(f["name"], bytes(f["content"]))
        try:  # clear the widget so the same file can be uploaded again
            self._upload.value = ()
        except tl.TraitError:  # pragma: no cover - older ipywidgets
            pass

    def handle_upload(self, name: str, content: bytes) -> bool:
        """Validate an uploaded lots file against the profile; True when it loaded.

        The bytes go to a private temporary file named like the upload (the reader picks
        the format from the suffix), :func:`~pma_lab.client.load_client` reads it with the
        profile, and the temporary file is removed again.
        """
        shown = Path(name).name or "upload"
        if len(content) > self.max_bytes:
            self._fail_text(f"{shown} was not loaded: it is {_mb(len(content))}; the limit "
                            f"is {_mb(self.max_bytes)}",
                            "Upload only the lots (one row per tax lot) or split the file "
                            "by account.")
            return False
        if not self.profile_path:
            self._fail_text(f"{shown} was not loaded", "Choose a client profile first.")
            return False
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", shown).lstrip(".") or "upload.csv"
        tmp = Path(tempfile.mkdtemp(prefix="pma-upload-"))
        path = tmp / safe
        try:
            path.write_bytes(content)
            c = load_client(self.profile_path, lots_files=[path])
        except InputError as e:
            self._fail(e, shown, {str(path): shown})
            return False
        except PmaLabError as e:
            self._fail_text(f"{shown} was not loaded", str(e).replace(str(path), shown))
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._ok(c, f"{shown} (uploaded)")
        return True

    # ---------------------------------------------------------------- display
    def _ok(self, c: Client, source: str) -> None:
        self.issues = []
        self.error = ""
        self.source = source
        self.client = c
        warn = [i for i in c.warnings if i.severity is Severity.WARNING]
        self._panel.value = "" if not warn else message_panel(
            f"{len(warn)} warning{'s' if len(warn) != 1 else ''} (loaded anyway)",
            [i.format() for i in warn[:20]], kind="warning")
        self._show_info()

    def _fail(self, e: InputError, shown: str, rename: dict[str, str]) -> None:
        errors = [i for i in e.issues if i.severity is Severity.ERROR]
        keep = f" The proposal still shows {self.source}." if self.client is not None else ""
        title = (f"{shown}: {len(errors)} problem{'s' if len(errors) != 1 else ''} found in "
                 f"the {e.kind} file; nothing was loaded.{keep}")
        self.issues = list(e.issues)
        self.error = title
        self._panel.value = issues_panel(title, e.issues, rename)
        self._show_info()

    def _fail_text(self, title: str, text: str) -> None:
        self.issues = []
        self.error = f"{title}: {text}"
        self._panel.value = message_panel(title, [text])
        self._show_info()

    def _show_info(self) -> None:
        if self.client is None:
            self._info.value = ('<span class="pma-caption">No lots loaded. Upload a CSV or '
                                f"XLSX file (at most {_mb(self.max_bytes)}).</span>")
            return
        c = self.client
        self._info.value = (
            f'<span class="pma-caption">Client <b>{c.client_id}</b> as of {c.as_of}: '
            f'<span class="pma-lot-count">{len(c.lots)}</span> lots from '
            f'<span class="pma-lots-source">{self.source}</span></span>')


# ----------------------------------------------------------------------------- restrictions
def _label(category: str) -> str:
    return category.replace("_", " ").capitalize()


class RestrictionEditor(ipw.VBox):
    """Category screens (checkboxes) and no-buy tickers on top of the profile's restrictions.

    Traits
    ------
    client : Client | None
        Input: its profile's restrictions are the starting point (set again whenever the
        client changes).
    restrictions : Restrictions | None
        Output: the profile's restrictions with the categories and no-buy list edited here.
    unknown : list[str]
        No-buy entries that are not tickers pma_lab knows (ignored, and named in a note).
    """

    client = tl.Instance(Client, allow_none=True)
    restrictions = tl.Instance(Restrictions, allow_none=True)
    unknown = tl.List(tl.Unicode())

    def __init__(self, **kwargs):
        self._boxes: dict[str, ipw.Checkbox] = {}
        for cat in RESTRICTION_CATEGORIES:
            cb = ipw.Checkbox(value=False, description=_label(cat), indent=False,
                              layout=ipw.Layout(width="auto"))
            cb.add_class("pma-category")
            cb.add_class(f"pma-category-{cat}")
            self._boxes[cat] = cb
        self._no_buy = ipw.Text(description="No-buy", placeholder="e.g. TSLA, NVDA",
                                continuous_update=False)
        self._no_buy.add_class("pma-no-buy")
        self._reset = ipw.Button(description="Reset to profile", button_style="")
        self._reset.add_class("pma-reset-restrictions")
        self._note = ipw.HTML()
        self._note.add_class("pma-restriction-note")
        grid = ipw.GridBox(list(self._boxes.values()),
                           layout=ipw.Layout(grid_template_columns="repeat(2, auto)"))
        super().__init__(children=[ipw.HTML("<b>Restrictions</b>"), grid, self._no_buy,
                                   self._reset, self._note], **kwargs)
        self.add_class("pma-restriction-editor")
        self._syncing = False
        for cb in self._boxes.values():
            cb.observe(self._on_edit, "value")
        self._no_buy.observe(self._on_edit, "value")
        self._reset.on_click(lambda _: self.reset())

    @property
    def base(self) -> Restrictions:
        """The profile's restrictions (empty without a client)."""
        return self.client.profile.restrictions if self.client is not None else Restrictions()

    @tl.observe("client")
    def _on_client(self, change) -> None:
        old, new = change["old"], change["new"]
        if old is not None and new is not None and old.profile.path == new.profile.path \
                and self.restrictions is not None:
            # the same profile with other lots: keep the user's edits
            self._emit()
            return
        self.reset()

    def reset(self) -> None:
        """Show the profile's own restrictions again."""
        b = self.base
        self._syncing = True
        try:
            for cat, cb in self._boxes.items():
                cb.value = cat in b.categories
            self._no_buy.value = ", ".join(b.no_buy)
        finally:
            self._syncing = False
        self._emit()

    def set_category(self, category: str, on: bool = True) -> None:
        """Tick or clear one category screen (as clicking its checkbox does)."""
        self._boxes[category].value = on

    def set_no_buy(self, text: str) -> None:
        """Replace the no-buy text (as typing it does)."""
        self._no_buy.value = text

    def _on_edit(self, change) -> None:
        if not self._syncing:
            self._emit()

    def _parse_no_buy(self) -> tuple[tuple[str, ...], list[str]]:
        known = known_tickers()
        good, bad = [], []
        for raw in re.split(r"[,;\s]+", self._no_buy.value):
            if not raw:
                continue
            t = normalize_ticker(raw)
            if t.valid and t.ticker in known:
                if t.ticker not in good:
                    good.append(t.ticker)
            else:
                bad.append(raw)
        return tuple(good), bad

    def _emit(self) -> None:
        b = self.base
        on = [c for c in RESTRICTION_CATEGORIES if self._boxes[c].value]
        cats = tuple(c for c in b.categories if c in on) + tuple(c for c in on
                                                                 if c not in b.categories)
        no_buy, bad = self._parse_no_buy()
        if set(no_buy) == set(b.no_buy):
            no_buy = b.no_buy
        self.unknown = bad
        others = [f"{k.replace('_', ' ')}: {', '.join(map(str, v))}"
                  for k, v in (("never_hold", b.never_hold), ("hold_no_add", b.hold_no_add),
                               ("exclude_sectors", b.exclude_sectors))
                  if v]
        note = []
        if bad:
            note.append(f'<span class="pma-unknown-tickers" style="color:#b71c1c">Not '
                        f"known, ignored: {', '.join(bad)}</span>")
        if others:
            note.append(f'<span class="pma-caption">Also from the profile: '
                        f"{'; '.join(others)}</span>")
        self._note.value = "<br>".join(note)
        self.restrictions = replace(b, categories=cats, no_buy=no_buy)


# -------------------------------------------------------------------------------- planner
class TransitionPlanner(ipw.VBox):
    """How to move to the target: over N years (TE glide path) or within a tax budget.

    Traits
    ------
    mode : {"timeline", "budget"}
    years : int
        Timeline length, 1-10 years.
    budget : int
        Net realised gains allowed per tax year, $0-$200,000.
    st_budget, lt_budget : float | None
        Separate short- and long-term caps of budget plans (from the profile's
        ``[budgets]``, as :func:`pma_lab.transition.client_plan` uses them).
    plan : str
        Output: the engine's plan text (``"3y"``, ``"budget:20000"``,
        ``"budget:150000:st=0:lt=150000"``).
    client : Client | None
        Input: when it changes, the planner adopts the profile's transition preference the
        way :func:`~pma_lab.transition.client_plan` reads it (``[transition]``; none: a
        $0 budget). An ``immediate`` preference keeps the current choice: the immediate
        plan is always a reference row of the comparison.
    """

    mode = tl.Enum(["timeline", "budget"], default_value="timeline")
    years = tl.Int(3)
    budget = tl.Int(20_000)
    st_budget = tl.Float(None, allow_none=True)
    lt_budget = tl.Float(None, allow_none=True)
    plan = tl.Unicode("")
    client = tl.Instance(Client, allow_none=True)

    YEARS = (1, 10)
    BUDGET = (0, 200_000, 5_000)

    def __init__(self, **kwargs):
        self._mode = ipw.ToggleButtons(options=[("Timeline (years)", "timeline"),
                                                ("Tax budget ($/year)", "budget")],
                                       description="Transition",
                                       style={"button_width": "auto"})
        self._mode.add_class("pma-mode")
        self._years = ipw.IntSlider(min=self.YEARS[0], max=self.YEARS[1],
                                    description="Years", continuous_update=False)
        self._years.add_class("pma-years")
        lo, hi, step = self.BUDGET
        self._budget = ipw.IntSlider(min=lo, max=hi, step=step, description="Budget $",
                                     readout_format=",d", continuous_update=False)
        self._budget.add_class("pma-budget")
        self._text = ipw.HTML()
        self._text.add_class("pma-plan-text")
        self._adopting = False
        super().__init__(children=[ipw.HTML("<b>Transition plan</b>"), self._mode,
                                   self._years, self._budget, self._text], **kwargs)
        self.add_class("pma-transition-planner")
        # the traits are the source: the sliders start from the constructor's values
        tl.link((self, "mode"), (self._mode, "value"))
        tl.link((self, "years"), (self._years, "value"))
        tl.link((self, "budget"), (self._budget, "value"))
        self._update_plan()

    @tl.validate("years")
    def _valid_years(self, proposal) -> int:
        return int(min(max(proposal["value"], self.YEARS[0]), self.YEARS[1]))

    @tl.validate("budget")
    def _valid_budget(self, proposal) -> int:
        lo, hi, step = self.BUDGET
        v = min(max(float(proposal["value"]), lo), hi)
        return int(round(v / step) * step)

    @tl.observe("mode", "years", "budget", "st_budget", "lt_budget")
    def _on_change(self, change) -> None:
        if not self._adopting:
            self._update_plan()

    @tl.observe("client")
    def _on_client(self, change) -> None:
        c = change["new"]
        if c is None:
            return
        tr, b = c.profile.transition, c.profile.budgets
        self._adopting = True
        try:
            if tr is None:
                self.budget, self.st_budget, self.lt_budget = 0, None, None
                self.mode = "budget"
            elif tr.mode == "timeline" and tr.years:
                self.years = tr.years
                self.mode = "timeline"
            elif tr.mode == "budget" and tr.annual_budget is not None:
                self.budget = int(tr.annual_budget)
                self.st_budget, self.lt_budget = b.short_term, b.long_term
                self.mode = "budget"
        finally:
            self._adopting = False
        self._update_plan()

    def _update_plan(self) -> None:
        self._years.layout.display = None if self.mode == "timeline" else "none"
        self._budget.layout.display = None if self.mode == "budget" else "none"
        if self.mode == "timeline":
            plan = f"{self.years}y"
            text = (f"Tracking error to the target falls linearly to zero over {self.years} "
                    f"year{'s' if self.years != 1 else ''}, taxes minimised under that cap.")
        else:
            plan = f"budget:{self.budget}"
            split = []
            if self.st_budget is not None:
                plan += f":st={self.st_budget:g}"
                split.append(f"short-term at most {fmt_usd(self.st_budget)}")
            if self.lt_budget is not None:
                plan += f":lt={self.lt_budget:g}"
                split.append(f"long-term at most {fmt_usd(self.lt_budget)}")
            text = (f"Each tax year, net realised gains of at most {fmt_usd(self.budget)}"
                    + (f" ({', '.join(split)}, from the profile)" if split else "")
                    + "; tracking error minimised within that budget.")
        if self.client is not None and self.client.profile.transition is not None and \
                self.client.profile.transition.mode == "immediate":
            text += " The profile asks for an immediate transition: see the 'immediate' row."
        self._text.value = (f'<span class="pma-caption">Plan <code class="pma-plan">{plan}'
                            f"</code>: {text}</span>")
        self.plan = plan


# ---------------------------------------------------------------------------------- view
def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class ProposalView(ipw.VBox):
    """The proposal for the current inputs: frontier, first-year trades, plan comparison.

    An input change (``client``, ``restrictions`` or ``plan``) is answered at once when
    every result is cached (or for the very first result, so a preheated Voila kernel
    renders a complete page); otherwise the status line says what is being updated and
    the work runs ``debounce`` seconds after the last change, in one worker thread, in
    stages (setup, trades today, frontier, transition), each shown as soon as it is ready.
    A result that a newer change has made stale is dropped.

    Parameters
    ----------
    settings : DashboardSettings | None
    engine : ProposalEngine | None
        Share one engine (and its caches) between views.

    Traits
    ------
    client, restrictions, plan
        Inputs.
    debounce : float
        Seconds to wait after the last change (0: compute synchronously, as tests do).
    busy : bool
    generation : int
        Increases with every input change; the status line carries it.
    timings : dict
        Seconds per stage of the last update (and whether each came from the cache).
    setup, frontier, first_year, analysis
        The engine's results on screen (``ClientSetup``, ``Frontier``,
        ``RebalanceResult``, ``TransitionAnalysis``).
    error : str
        The last update's failure ("" when it succeeded).
    """

    client = tl.Instance(Client, allow_none=True)
    restrictions = tl.Instance(Restrictions, allow_none=True)
    plan = tl.Unicode("")
    debounce = tl.Float(0.3)
    busy = tl.Bool(False)
    generation = tl.Int(0)
    timings = tl.Dict()
    setup = tl.Any(None)
    frontier = tl.Any(None)
    first_year = tl.Any(None)
    analysis = tl.Any(None)
    error = tl.Unicode("")

    def __init__(self, settings: DashboardSettings | None = None,
                 engine: ProposalEngine | None = None, **kwargs):
        self.engine = engine or ProposalEngine(settings or DashboardSettings())
        self._lock = threading.RLock()
        self._gen = 0
        self._timer: object = None
        self._pool: ThreadPoolExecutor | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.history: list[dict] = []
        self._status = ipw.HTML(status_line("ready", "Choose a client.", 0))
        self._status.add_class("pma-status")
        self._error = ipw.HTML()
        self._error.add_class("pma-proposal-error")
        self._summary = ipw.HTML()
        self._summary.add_class("pma-first-year-summary")
        self._fig = go.FigureWidget(layout={"height": 420, "title": {
            "text": "Tax cost vs tracking error"}})
        self._fig.add_class("pma-frontier-figure")
        fig_box = ipw.Box([self._fig], layout=ipw.Layout(width="100%"))
        fig_box.add_class("pma-frontier")
        self._comparison = ipw.HTML()
        self._comparison.add_class("pma-comparison")
        self._trades = ipw.HTML()
        self._trades.add_class("pma-trades")
        self._assumptions = ipw.HTML()
        self._assumptions.add_class("pma-assumptions")
        s = self.engine.settings
        super().__init__(children=[
            ipw.HTML(STYLE), self._status, self._error, self._summary, fig_box,
            ipw.HTML(f"<b>Transition comparison</b> <span class='pma-caption'>(expected path, "
                     f"{s.horizon_years} years, "
                     f"{'annual' if s.steps_per_year == 1 else f'{s.steps_per_year}/year'} "
                     "steps)</span>"),
            self._comparison, ipw.HTML("<b>Trades today</b>"), self._trades,
            self._assumptions], **kwargs)
        self.add_class("pma-proposal-view")

    # ---------------------------------------------------------------- requests
    @tl.observe("client", "restrictions", "plan")
    def _on_inputs(self, change) -> None:
        self.request(change["name"])

    def request(self, reason: str = "inputs") -> None:
        """Bring the view up to date with the inputs (see the class docs)."""
        with self._lock:
            self._gen += 1
            gen = self._gen
            self._cancel_timer()
        self.generation = gen
        if self.client is None or not self.plan:
            self.busy = False
            self._idle.set()
            return
        client = with_restrictions(self.client, self.restrictions)
        plan = self.plan
        if self.debounce <= 0 or self.first_year is None or \
                self.engine.is_cached(client, plan):
            self._idle.clear()
            self._compute(gen, client, plan, reason, None)
            return
        self._idle.clear()
        self.busy = True
        self._set_status("busy", f"Updating ({reason} changed)...", gen)
        loop = _running_loop()
        if loop is not None:
            self._timer = loop.call_later(self.debounce, self._launch, gen, client, plan,
                                          reason, loop)
        else:
            t = threading.Timer(self.debounce, self._launch,
                                args=(gen, client, plan, reason, None))
            t.daemon = True
            self._timer = t
            t.start()

    def _cancel_timer(self) -> None:
        t, self._timer = self._timer, None
        if t is not None:
            t.cancel()  # asyncio.TimerHandle and threading.Timer both have cancel()

    def _launch(self, gen: int, client: Client, plan: str, reason: str,
                loop: asyncio.AbstractEventLoop | None) -> None:
        if gen != self._gen:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pma-dash")
        self._pool.submit(self._compute, gen, client, plan, reason, loop,
                          "asyncio" if loop is not None else "thread")

    def wait(self, timeout: float = 120.0) -> bool:
        """Block until the latest update is on screen (for tests and scripts)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Close the widget and stop the worker thread."""
        self._cancel_timer()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        super().close()

    # ---------------------------------------------------------------- compute
    def _compute(self, gen: int, client: Client, plan: str, reason: str,
                 loop: asyncio.AbstractEventLoop | None, how: str = "sync") -> None:
        """Run the stages; ``loop`` given: post each display step to it (UI thread).

        ``how`` records how the update was scheduled (``sync``, ``asyncio``, ``thread``).
        """
        post: Callable[[Callable[[], None]], None]
        if loop is None:
            def post(f: Callable[[], None]) -> None:
                f()
        else:
            def post(f: Callable[[], None]) -> None:
                loop.call_soon_threadsafe(f)

        t0 = time.perf_counter()
        tm: dict = {"reason": reason, "plan": plan, "client": client.client_id,
                    "scheduler": how, "debounce": 0.0 if how == "sync" else self.debounce}

        def stage(name: str, fn: Callable[[], tuple[object, bool]]) -> object:
            t = time.perf_counter()
            out, hit = fn()
            tm[name] = round(time.perf_counter() - t, 4)
            tm[f"{name}_cached"] = hit
            return out

        def stale() -> bool:
            return gen != self._gen

        try:
            setup = stage("prepare", lambda: self.engine.setup(client))
            if stale():
                return
            fy = stage("first_trades", lambda: self.engine.first_year(client, setup, plan))
            tm["to_trades"] = round(time.perf_counter() - t0, 4)
            post(lambda: self._show_first_year(gen, setup, fy, plan))
            if stale():
                return
            fr = stage("frontier", lambda: self.engine.frontier(client, setup))
            tm["to_frontier"] = round(time.perf_counter() - t0, 4)
            post(lambda: self._show_frontier(gen, fr, fy, plan))
            if stale():
                return
            an = stage("transition", lambda: self.engine.transition(client, setup, plan))
            tm["total"] = round(time.perf_counter() - t0, 4)
            post(lambda: self._show_transition(gen, an, plan, tm))
        except PmaLabError as e:
            msg = f"{type(e).__name__}: {e}"
            post(lambda: self._show_error(gen, msg))
        except Exception as e:  # noqa: BLE001 - shown to the user, logged for the operator
            log.exception("dashboard update failed")
            msg = f"Unexpected error ({type(e).__name__}): {e}"
            post(lambda: self._show_error(gen, msg))

    # ---------------------------------------------------------------- display
    def _set_status(self, state: str, text: str, gen: int, how: str = "") -> None:
        self._status.value = status_line(state, text, gen, how)

    def _show_first_year(self, gen: int, setup, fy, plan: str) -> None:
        if gen != self._gen:
            return
        self.error = ""
        self._error.value = ""
        self.setup = setup
        self.first_year = fy
        self._summary.value = first_year_summary(fy.summary, plan, len(fy.trades))
        self._trades.value = trades_table(fy.trades)

    def _show_frontier(self, gen: int, fr, fy, plan: str) -> None:
        if gen != self._gen:
            return
        self.frontier = fr
        fig = fr.figure(title=f"Tax cost vs tracking error: {self.setup.client.client_id}, "
                              f"account {fy.summary['account']}")
        fig.add_trace(fr.plan_marker(fy.summary, f"plan {plan}: trades today"))
        self._apply_figure(fig)

    def _apply_figure(self, fig: go.Figure) -> None:
        """Update the FigureWidget in place (same traces: restyle; otherwise replace)."""
        fw = self._fig
        new = list(fig.data)
        same = len(fw.data) == len(new) and all(
            a.type == b.type for a, b in zip(fw.data, new, strict=True))
        if not same:
            fw.data = ()
            fw.add_traces(new)
        with fw.batch_update():
            if same:
                for a, b in zip(fw.data, new, strict=True):
                    props = b.to_plotly_json()
                    props.pop("type", None)
                    props.pop("uid", None)
                    a.update(props, overwrite=True)
            fw.layout.update(fig.layout.to_plotly_json(), overwrite=True)
        # plotly 7's FigureWidget refreshes its synced full state (``_widget_data``,
        # ``_widget_layout``) only when it is displayed on its own; inside a container a
        # front end that renders later (Voila, a preheated kernel, a reload) would start
        # from the empty figure it was built with and then miss the edits. Keep the
        # snapshot current after every update (plotly's own _repr_mimebundle_ does this).
        fw._widget_layout = deepcopy(fw._layout_obj._props)
        fw._widget_data = deepcopy(fw._data)

    def _show_transition(self, gen: int, an, plan: str, tm: dict) -> None:
        if gen != self._gen:
            return
        self.analysis = an
        y = an.yearly()
        years = sorted(int(v) for v in y.year.unique()) if "year" in y else None
        self._comparison.value = comparison_table(an.comparison, plan, years)
        self._assumptions.value = ('<details class="pma-caption"><summary>Assumptions'
                                   "</summary><ul>" + "".join(
                                       f"<li>{a}</li>" for a in an.assumptions)
                                   + "</ul></details>")
        self.timings = tm
        self.history.append(dict(tm))
        parts = [f"{k.replace('_', ' ')} {fmt_seconds(tm[k])}"
                 + (" (cached)" if tm.get(f"{k}_cached") else "")
                 for k in ("prepare", "first_trades", "frontier", "transition")]
        c = self.setup.client
        self._set_status("ready", f"Up to date: {c.client_id} as of {c.as_of}, plan {plan}, "
                                  f"TE today {fmt_pct(self.first_year.summary['te_before'])}."
                                  f" Updated in {fmt_seconds(tm['total'])} ("
                                  + " · ".join(parts) + ").", gen, tm["scheduler"])
        self.busy = False
        self._idle.set()

    def _show_error(self, gen: int, text: str) -> None:
        if gen != self._gen:
            return
        self.error = text
        self._error.value = message_panel("The proposal could not be updated", [text])
        self._set_status("error", "Update failed; the results below are from the last "
                                  "successful update.", gen)
        self.busy = False
        self._idle.set()
