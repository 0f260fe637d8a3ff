"""The proposal dashboard's widgets: state in traitlets, work in :mod:`pma_lab` functions.

Six classes, each an ``ipywidgets`` box with its state in traits, so a notebook (or a
Voila page) only builds them and links their traits with :func:`traitlets.dlink`:

* :class:`ProfilePicker` — ``value``: the chosen sample profile (path);
* :class:`HoldingsUpload` — ``profile_path`` in, ``client`` out: a CSV/XLSX lots upload
  validated against the profile; a bad file shows every issue in a red panel;
* :class:`ModelsUpload` — ``client`` in, ``models`` out: the researcher's own risk model,
  benchmark and target files (the command line's ``--risk-model``, ``--benchmark``,
  ``--target``), checked by the same reader; a bad file shows every issue in a red panel;
* :class:`RestrictionEditor` — ``client`` in, ``restrictions`` out: category screens and
  no-buy tickers on top of the profile's restrictions;
* :class:`TransitionPlanner` — ``client`` in (adopts the profile's transition preference),
  ``plan`` out: a timeline of N years or an annual tax budget;
* :class:`ProposalView` — ``client``, ``restrictions``, ``plan`` and ``models`` in: the
  frontier, the first-year trades, the transition comparison and the models used,
  recomputed (debounced, in a worker thread) when an input changes, from cached engine
  calls (:class:`ProposalEngine`).

Every widget a test or a stylesheet needs carries a stable ``pma-*`` CSS class.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import anywidget
import ipywidgets as ipw
import plotly.graph_objects as go
import traitlets as tl

from pma_lab.app.batch import safe_name
from pma_lab.app.dashboard.assets import plotly_widget_esm
from pma_lab.app.dashboard.compute import (
    MODEL_KINDS,
    DashboardModels,
    DashboardSettings,
    ModelUpload,
    ProposalEngine,
    TaxInputs,
    UploadSummary,
    read_model_uploads,
    safe_file_name,
    upload_summary,
    with_categories,
    with_restrictions,
    with_tax_inputs,
)
from pma_lab.app.dashboard.render import (
    CARRY_FAILED,
    CARRY_PENDING,
    STYLE,
    comparison_table,
    first_year_summary,
    issues_panel,
    message_panel,
    public_text,
    status_line,
    stopped_note,
    trades_table,
    trades_warning,
)
from pma_lab.app.dashboard.shelf import ShelfPanel
from pma_lab.checkpoints import on_checkpoint
from pma_lab.errors import (
    CancelledError,
    InputError,
    Issue,
    PmaLabError,
    Severity,
    WithdrawalBudgetError,
)
from pma_lab.formatting import fmt_num, fmt_pct, fmt_rate, fmt_seconds, fmt_usd
from pma_lab.io.client import Client, find_clients, load_client, load_client_replacing
from pma_lab.market.data import known_tickers
from pma_lab.market.tickers import normalize_ticker
from pma_lab.optimize.frontier import dropped_note
from pma_lab.paths import clients_dir
from pma_lab.plan.failure import withdrawal_budget_reason
from pma_lab.plan.transition import client_plan, parse_plan
from pma_lab.plan.withdrawal import parse_withdrawal, with_withdrawal
from pma_lab.portfolio.restrictions import Restrictions
from pma_lab.report import labels
from pma_lab.report import proposal as report
from pma_lab.report import shelf as report_shelf
from pma_lab.schema import RESTRICTION_CATEGORIES
from pma_lab.tax.rules import SMALL_STATE_RATE, FilingStatus

__all__ = ["ProfilePicker", "HoldingsUpload", "ModelsUpload", "RestrictionEditor", "TaxEditor",
           "TransitionPlanner", "ProposalView", "ExportPanel"]

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
"""Default upload limit. Keep it below the server's ``websocket_max_message_size``
(``notebooks/voila.json``, 8 MiB), which closes a connection sending more."""
UPLOAD_SUFFIXES = (".csv", ".txt", ".xlsx")

_e = html.escape  # every user-controlled text shown in an HTML widget goes through it


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


_LOADED: OrderedDict[tuple, Client] = OrderedDict()
_LOADED_LOCK = threading.Lock()


def _folder_signature(profile: Path) -> tuple:
    """Name, size and modification time of every file in the profile's folder."""
    out = []
    for e in sorted(os.scandir(profile.parent), key=lambda e: e.name):
        if e.is_file():
            st = e.stat()
            out.append((e.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def load_profile_client(path: str | Path, keep: int = 8) -> Client:
    """:func:`~pma_lab.io.client.load_client` of a profile with its own lots, cached.

    The cache key is the profile's path and the name, size and modification time of every
    file in its folder, so an edited profile or lots file is read again. A client switch
    back to a client seen before (or prefetched) then takes no reading and validation.
    """
    p = Path(path).resolve()
    key = (str(p), _folder_signature(p))
    with _LOADED_LOCK:
        hit = _LOADED.get(key)
        if hit is not None:
            _LOADED.move_to_end(key)
            return hit
    c = load_client(p)
    with _LOADED_LOCK:
        _LOADED[key] = c
        while len(_LOADED) > keep:
            _LOADED.popitem(last=False)
    return c


def _describe(e: BaseException) -> str:
    """An exception as one line for the user: pma_lab's message, or what went wrong.

    Server paths are reduced to file names (:func:`~pma_lab.app.dashboard.render.public_text`).
    """
    if isinstance(e, WithdrawalBudgetError):  # in the words of the plan's reason
        return public_text(withdrawal_budget_reason(e))
    if isinstance(e, PmaLabError):
        return public_text(str(e))
    return public_text(f"Unexpected error ({type(e).__name__}): {e}".strip())


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

    @property
    def paths(self) -> list[str]:
        """The profile paths offered."""
        return [v for _, v in self._dropdown.options]

    def select(self, name: str) -> None:
        """Choose a client by folder name."""
        self._dropdown.value = dict(self._dropdown.options)[name]


# --------------------------------------------------------------------------------- upload
UPLOAD_FIXES = {
    "future_date": ("correct the date, or analyse the client at a later date: set "
                    "client.as_of in the client's profile on or after it"),
}
"""An upload's fix in the dashboard's words, by issue code, where the reader's fix speaks
of the command line (``--as-of``, ``pma-lab ledger replay``): an advisor has neither."""


def _upload_words(issue: Issue) -> Issue:
    """The issue with the dashboard's fix for its code (:data:`UPLOAD_FIXES`), else as is."""
    fix = UPLOAD_FIXES.get(issue.code)
    return issue if fix is None else replace(issue, fix=fix)


_UPLOAD_ESM = """
export default {
  render({ model, el }) {
    const input = document.createElement("input");
    input.type = "file";
    input.accept = model.get("accept");
    input.style.display = "none";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "jupyter-widgets jupyter-button widget-upload " +
      model.get("button_class");
    button.textContent = model.get("description");
    // as wide as its words (a jupyter-button is 148 px and cuts longer text short), at
    // most the column's width
    button.style.width = "auto";
    button.style.maxWidth = "100%";
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      input.value = "";
      if (!file) return;
      // the size is checked here, before the file is read: a file over the limit never
      // leaves the browser, only its name and size do
      if (file.size > model.get("max_bytes")) {
        model.send({ event: "too_large", name: file.name, size: file.size });
        return;
      }
      const data = await file.arrayBuffer();
      model.send({ event: "file", name: file.name, size: file.size }, undefined, [data]);
    });
    el.append(button, input);
  }
};
"""


class _FileButton(anywidget.AnyWidget):
    """A file picker that refuses files over ``max_bytes`` in the browser.

    It sends ``{"event": "file", "name", "size"}`` with the bytes as a binary buffer, or
    ``{"event": "too_large", "name", "size"}`` without them. ``button_class``: the CSS
    classes of its button (``pma-upload``: the lots upload).
    """

    _esm = _UPLOAD_ESM
    accept = tl.Unicode("").tag(sync=True)
    button_class = tl.Unicode("pma-upload").tag(sync=True)
    description = tl.Unicode("Upload").tag(sync=True)
    max_bytes = tl.Int(MAX_UPLOAD_BYTES).tag(sync=True)


class HoldingsUpload(ipw.VBox):
    """Upload a lots file (CSV/XLSX), validate it with the client's profile.

    The profile's own lots files are loaded whenever ``profile_path`` changes. An uploaded
    file replaces the profile's lots of the accounts it holds (a file without an account
    column: the profile's ``default_account``) when it validates, and the profile's lots of
    the other accounts are kept (:func:`~pma_lab.io.client.load_client_replacing`; reviewer
    1, session 22: a one-account upload emptied the client's IRA). The panel then says
    which files' lots were replaced and kept, and names in red every declared account left
    with no lot. When the file does not validate, a red panel lists every issue
    (file, row, column, value, problem, fix) and ``client`` keeps its previous value, so
    the proposal on screen still matches the file named in the info line. Every other
    failure, an unexpected exception included, also leaves a message and the previous
    client. Files over ``max_bytes`` are refused in the browser, before they are sent.

    Traits
    ------
    profile_path : str
        The client profile (TOML) the lots are validated against (input).
    client : Client | None
        The validated client (output).
    source : str
        Where the client's lots came from (file names).
    uploaded : tuple[str, bytes] | None
        The uploaded lots file behind ``client`` (name, content); ``None`` when the lots
        are the profile's own (the proposal PDF is rendered from the same file).
    issues : list[Issue]
        The issues of the last failed load (empty after a good one).
    error : str
        The last failure as text ("" after a good load).
    max_bytes : int
        Larger uploads are refused in the browser (only the name and size reach the
        kernel) and again here.
    uploads : tuple[tuple[str, bytes], ...]
        The uploaded files in effect (name, content), the latest first: an upload keeps
        the earlier uploads' lots of the accounts it does not hold, as the profile's.
    kept_files : tuple[str, ...]
        The profile's lots files kept whole with the uploads (their accounts' lots are
        theirs); the proposal PDF is rendered from the uploads and these.
    split_files : tuple[str, ...]
        The profile's lots files of which the upload replaced some accounts' lots and kept
        others'.
    update_outcome : tuple[int, str]
        The proposal view's last update (linked from :attr:`ProposalView.outcome`): a
        failure shows in red in this panel too, so a load the proposal could not follow
        is not reported as a success alone.
    update_error : str
        That failure while it is shown here ("" otherwise).
    """

    profile_path = tl.Unicode("")
    client = tl.Instance(Client, allow_none=True)
    source = tl.Unicode("")
    uploaded = tl.Tuple(allow_none=True, default_value=None)
    uploads = tl.Tuple()
    kept_files = tl.Tuple()
    split_files = tl.Tuple()
    update_outcome = tl.Tuple((0, ""))
    update_error = tl.Unicode("")
    issues = tl.List()
    error = tl.Unicode("")
    max_bytes = tl.Int(MAX_UPLOAD_BYTES)

    def __init__(self, **kwargs):
        self._upload = _FileButton(accept=",".join(UPLOAD_SUFFIXES),
                                   description="Upload tax lots (CSV or XLSX)")
        self._upload.add_class("pma-upload-widget")
        self._info = ipw.HTML()
        self._info.add_class("pma-upload-info")
        self._panel = ipw.HTML()
        self._panel.add_class("pma-upload-panel")
        super().__init__(children=[ipw.HTML(STYLE), self._upload, self._info, self._panel],
                         **kwargs)
        self.add_class("pma-holdings-upload")
        tl.dlink((self, "max_bytes"), (self._upload, "max_bytes"))
        self._upload.on_msg(self._on_message)
        self._show_info()

    # ---------------------------------------------------------------- profile
    @tl.observe("profile_path")
    def _on_profile(self, change) -> None:
        if not self.profile_path:
            return
        name = Path(self.profile_path).parent.name
        try:
            c = load_profile_client(self.profile_path)
        except InputError as e:
            self._fail(e, f"{Path(self.profile_path).name} of {name}", {})
            self.client = None
            self.source = ""
            return
        except Exception as e:  # noqa: BLE001 - shown to the user, logged for the operator
            if not isinstance(e, PmaLabError):
                log.exception("loading profile %s failed", self.profile_path)
            self._fail_text(f"Cannot load client {name}", _describe(e))
            self.client = None
            self.source = ""
            return
        self.uploaded = None
        self.uploads = self.kept_files = self.split_files = ()
        self._ok(c, ", ".join(Path(s).name for s in c.lots.sources) + " (profile)")

    # ---------------------------------------------------------------- upload
    def _on_message(self, widget, content, buffers) -> None:
        """A message from the browser's file picker (untrusted: checked here again)."""
        try:
            name = str(content.get("name", "upload"))[:255]
            if content.get("event") == "too_large":
                size = int(content.get("size", 0))
                self._too_large(Path(name).name or "upload", size)
            elif content.get("event") == "file":
                self.handle_upload(name, bytes(buffers[0]) if buffers else b"")
        except Exception as e:  # noqa: BLE001 - never let a message kill the widget
            log.exception("upload message failed")
            self._fail_text("The upload failed", _describe(e))

    def _too_large(self, shown: str, size: int) -> None:
        self._fail_text(f"{shown} was not loaded: it is {_mb(size)}; the limit is "
                        f"{_mb(self.max_bytes)}",
                        "Upload only the lots (one row per tax lot) or split the file "
                        "by account.")

    def handle_upload(self, name: str, content: bytes) -> bool:
        """Validate an uploaded lots file against the profile; True when it loaded.

        The bytes go to a private temporary file named like the upload (the reader picks
        the format from the suffix), :func:`~pma_lab.io.client.load_client_replacing` reads
        it with the profile (its accounts' lots replace the profile's; the other accounts'
        are kept), and the temporary file is removed again.
        """
        shown = Path(name).name or "upload"
        if len(content) > self.max_bytes:
            self._too_large(shown, len(content))
            return False
        if not self.profile_path:
            self._fail_text(f"{shown} was not loaded", "Choose a client profile first.")
            return False
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", shown).lstrip(".") or "upload.csv"
        tmp = Path(tempfile.mkdtemp(prefix="pma-upload-"))
        path = tmp / "0" / safe
        # the earlier uploads still in effect, laid under this one (the latest first): a
        # client's one-file-per-account exports uploaded one after the other all count
        earlier = {str(tmp / str(i) / n): n for i, (n, _) in enumerate(self.uploads, 1)}
        try:
            for (f, _), (_, data) in zip(earlier.items(), self.uploads, strict=True):
                Path(f).parent.mkdir()
                Path(f).write_bytes(data)
            path.parent.mkdir()
            path.write_bytes(content)
            c, rep = load_client_replacing(self.profile_path, [path], over=list(earlier))
            said = upload_summary(c, rep, shown, earlier)
        except InputError as e:
            self._fail(e, shown, {str(path): shown, **earlier})
            return False
        except Exception as e:  # noqa: BLE001 - shown to the user, logged for the operator
            if not isinstance(e, PmaLabError):
                log.exception("upload of %s failed", shown)
            self._fail_text(f"{shown} was not loaded", _describe(e).replace(str(path), shown)
                            .replace(str(tmp), "upload"))
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.uploaded = (safe, bytes(content))
        still = [u for f, u in zip(earlier, self.uploads, strict=True)
                 if f in said.earlier_kept]
        self.uploads = ((safe, bytes(content)), *still)
        self.kept_files = said.kept_files
        self.split_files = tuple(earlier.get(f, f) for f in said.split_files)
        ups = ", ".join([shown, *(n for n, _ in still)])
        kept = ", ".join(Path(f).name for f in said.kept_files
                         + tuple(f for f in said.split_files if f not in earlier))
        self._ok(c, f"{ups} (uploaded)" + (f" + {kept} (profile)" if kept else ""), said)
        return True

    # ---------------------------------------------------------------- display
    def _ok(self, c: Client, source: str, said: UploadSummary | None = None) -> None:
        self.issues = []
        self.error = ""
        self.source = source
        self._loaded = ""  # before the client goes out: the view's update may fail at once
        self.update_error = ""
        warn = [i for i in c.warnings if i.severity is Severity.WARNING]
        parts = []
        if said is not None:
            parts.append(message_panel("Lots loaded", said.lines, kind="note"))
            if said.empty:
                parts.append(message_panel(
                    "Declared account" + ("s" if len(said.empty) > 1 else "")
                    + " left with no lots: the proposal treats "
                    + ("them" if len(said.empty) > 1 else "it") + " as holding cash only",
                    said.empty))
        if warn:
            parts.append(message_panel(
                f"{len(warn)} warning{'s' if len(warn) != 1 else ''} (loaded anyway)",
                [i.format() for i in warn[:20]], kind="warning"))
        self._loaded = "".join(parts)
        self._panel.value = self._loaded
        self.client = c
        self._show_info()

    @tl.observe("update_outcome")
    def _on_update_outcome(self, change) -> None:
        """The proposal view failed (or recovered): say so above the load's own message."""
        if self.client is None or self.error:
            return
        self.update_error = str(self.update_outcome[1]) if self.update_outcome else ""
        failed = "" if not self.update_error else message_panel(
            f"The proposal could not be updated for {self.source}", [self.update_error])
        self._panel.value = failed + getattr(self, "_loaded", "")
        self._show_info()

    def _fail(self, e: InputError, shown: str, rename: dict[str, str]) -> None:
        # issues_panel escapes every part of it (title, file, value, message, fix)
        issues = [_upload_words(i) for i in e.issues]  # in the dashboard's words
        errors = [i for i in issues if i.severity is Severity.ERROR]
        keep = f" The proposal still shows {self.source}." if self.client is not None else ""
        title = (f"{shown}: {len(errors)} problem{'s' if len(errors) != 1 else ''} found in "
                 f"the {e.file_words}; nothing was loaded.{keep}")
        self.issues = issues
        self.error = title
        self._panel.value = issues_panel(title, issues, rename)
        self._show_info()

    def _fail_text(self, title: str, text: str) -> None:
        self.issues = []
        keep = f" The proposal still shows {self.source}." if self.client is not None else ""
        self.error = f"{title}: {text}{keep}"
        self._panel.value = message_panel(title, [text + keep])  # escaped by message_panel
        self._show_info()

    def _show_info(self) -> None:
        if self.client is None:
            self._info.value = ('<span class="pma-caption">No lots loaded. Upload the '
                                "client's tax lots as a CSV or XLSX file (at most "
                                f"{_mb(self.max_bytes)}).</span>")
            return
        c = self.client
        failed = (' <span class="pma-error pma-update-failed">(loaded, but the proposal '
                  "could not be updated: see below)</span>" if self.update_error else "")
        self._info.value = (
            f'<span class="pma-caption">Client <b>{_e(c.client_id)}</b> as of '
            f'{_e(str(c.as_of))}: <span class="pma-lot-count">{len(c.lots)}</span> lots from '
            f'<span class="pma-lots-source">{_e(self.source)}</span></span>{failed}')


# --------------------------------------------------------------------------------- models
MODEL_WORDS = {"risk": "Risk model", "benchmark": "Benchmark", "target": "Target"}
"""Each model's name, as the proposal's "Models used" table and the command line word it."""
_MODEL_BUTTONS = {"risk": "Risk model file", "benchmark": "Benchmark file",
                  "target": "Target file"}
MODEL_SUFFIXES = (".csv", ".xlsx")


class ModelsUpload(ipw.VBox):
    """The researcher's own risk model, benchmark and target, uploaded as files.

    The files are those of the command line's ``--risk-model`` (a covariance CSV/XLSX, or
    a factor-model workbook with the sheets ``loadings``, ``factor_cov`` and
    ``specific_var``), ``--benchmark`` and ``--target`` (``ticker, weight``), checked by the
    same reader (:func:`~pma_lab.app.dashboard.compute.read_model_uploads`, which calls
    :func:`pma_lab.io.models.read_models`) against the client. A good file replaces the
    one of its kind and ``models`` changes (the view prepares the client with it and its
    "Models used" table names it); a bad one shows every problem (file, row, column,
    value, fix) in a red panel, HTML-escaped, and ``models`` keeps its previous value.
    "Use the packaged models" drops every file.

    When another client comes in, the files in use are checked again for it (a dated
    benchmark's weights follow the date; a target, the screens); if they do not fit, the
    panel says why and the packaged models are used.

    Parameters
    ----------
    engine : ProposalEngine | None
        The view's engine: when it holds the packaged risk model of the client's date, a
        benchmark or target file is also checked to be covered by it (no risk-model file).

    Traits
    ------
    client : Client | None
        Input: the client the files are checked for.
    models : DashboardModels
        Output: the models in use (``DashboardModels()``: the packaged ones).
    issues : list[Issue]
        The issues of the last refused file (empty after a good one).
    error : str
        The last failure as text ("" after a good load).
    max_bytes : int
        Larger files are refused in the browser (only the name and size reach the kernel).
    """

    client = tl.Instance(Client, allow_none=True)
    models = tl.Instance(DashboardModels, args=())
    issues = tl.List()
    error = tl.Unicode("")
    max_bytes = tl.Int(MAX_UPLOAD_BYTES)

    def __init__(self, engine: ProposalEngine | None = None, **kwargs):
        self.engine = engine
        self._buttons: dict[str, _FileButton] = {}
        for kind in MODEL_KINDS:
            b = _FileButton(accept=",".join(MODEL_SUFFIXES), description=_MODEL_BUTTONS[kind],
                            button_class=f"pma-model-upload pma-model-upload-{kind}")
            b.on_msg(lambda w, content, buffers, kind=kind:
                     self._on_message(kind, content, buffers))
            self._buttons[kind] = b
        self._reset = ipw.Button(description="Use the packaged models",
                                 layout=ipw.Layout(width="auto"))
        self._reset.add_class("pma-reset-models")
        self._reset.on_click(lambda _: self.reset())
        self._info = ipw.HTML()
        self._info.add_class("pma-models-info")
        self._panel = ipw.HTML()
        self._panel.add_class("pma-models-panel")
        super().__init__(children=[
            ipw.HTML("<b>Models</b> <span class='pma-caption'>(optional: your own files, as "
                     "<code>--risk-model</code>, <code>--benchmark</code>, "
                     "<code>--target</code>)</span>"),
            ipw.HBox(list(self._buttons.values()), layout=ipw.Layout(flex_flow="row wrap")),
            self._reset, self._info, self._panel], **kwargs)
        self.add_class("pma-models-upload")
        for b in self._buttons.values():
            tl.dlink((self, "max_bytes"), (b, "max_bytes"))
        self._show_info()

    # ---------------------------------------------------------------- inputs
    @tl.observe("client")
    def _on_client(self, change) -> None:
        c = change["new"]
        if c is None or self.models.fits(c):
            return
        try:
            m = read_model_uploads(self.models.uploads, c, self._covered(c))
        except Exception as e:  # noqa: BLE001 - shown to the user, logged for the operator
            if not isinstance(e, PmaLabError):
                log.exception("model files re-checked for %s failed", c.client_id)
            names = ", ".join(u.name for u in self.models.uploads)
            title = (f"{names} cannot be used for {c.client_id}; the packaged models are "
                     "used")
            packaged = read_model_uploads((), c)  # no files, checked for this client
            self._show_info(packaged)
            self.models = packaged
            if isinstance(e, InputError):
                self.issues = list(e.issues)
                self.error = title
                self._panel.value = issues_panel(title, e.issues)
            else:
                self._fail_text(title, _describe(e), keep=False)
            return
        self._show_info(m)
        self.models = m

    def _covered(self, client: Client) -> tuple[str, ...] | None:
        """The names of the packaged risk model at the client's date, when it is known."""
        risk = self.engine.risk_for(client) if self.engine is not None else None
        return None if risk is None else tuple(risk.tickers)

    # ---------------------------------------------------------------- uploads
    def _on_message(self, kind: str, content, buffers) -> None:
        """A message from a file picker (untrusted: checked here again)."""
        try:
            name = str(content.get("name", "upload"))[:255]
            if content.get("event") == "too_large":
                shown = Path(name).name or "upload"
                self._fail_text(f"{shown} was not loaded: it is "
                                f"{_mb(int(content.get('size', 0)))}; the limit is "
                                f"{_mb(self.max_bytes)}", "A model file is a table of "
                                "weights or covariances; check that it is the right file.")
            elif content.get("event") == "file":
                self.handle_upload(kind, name, bytes(buffers[0]) if buffers else b"")
        except Exception as e:  # noqa: BLE001 - never let a message kill the widget
            log.exception("model upload message failed")
            self._fail_text("The upload failed", _describe(e))

    def handle_upload(self, kind: str, name: str, content: bytes) -> bool:
        """Check an uploaded ``kind`` file with the others in use; True when it is used."""
        shown = Path(name).name or "upload"
        if kind not in MODEL_KINDS:
            self._fail_text(f"{shown} was not loaded", f"unknown model kind {kind!r}")
            return False
        if len(content) > self.max_bytes:
            self._fail_text(f"{shown} was not loaded: it is {_mb(len(content))}; the limit "
                            f"is {_mb(self.max_bytes)}", "Check that it is the right file.")
            return False
        if self.client is None:
            self._fail_text(f"{shown} was not loaded", "Choose a client first.")
            return False
        uploads = [u for u in self.models.uploads if u.kind != kind]
        uploads.append(ModelUpload(kind, shown, bytes(content)))
        try:
            m = read_model_uploads(uploads, self.client, self._covered(self.client))
        except InputError as e:
            errors = [i for i in e.issues if i.severity is Severity.ERROR]
            title = (f"{shown}: {len(errors)} problem{'s' if len(errors) != 1 else ''} found "
                     f"in the {e.kind} file; nothing was loaded.{self._keep()}")
            self.issues = list(e.issues)
            self.error = title
            self._panel.value = issues_panel(title, e.issues)  # escapes every part
            return False
        except Exception as e:  # noqa: BLE001 - shown to the user, logged for the operator
            if not isinstance(e, PmaLabError):
                log.exception("model upload of %s failed", shown)
            self._fail_text(f"{shown} was not loaded", _describe(e))
            return False
        self._ok(m)
        return True

    def reset(self, kind: str | None = None) -> None:
        """Use the packaged model of ``kind`` again (``None``: every packaged model)."""
        keep = [u for u in self.models.uploads if kind is not None and u.kind != kind]
        if not keep or self.client is None:
            self._ok(DashboardModels())
            return
        try:  # the files left are checked again without the one dropped
            self._ok(read_model_uploads(keep, self.client, self._covered(self.client)))
        except Exception as e:  # noqa: BLE001 - shown to the user, logged for the operator
            if not isinstance(e, PmaLabError):
                log.exception("model reset failed")
            self._fail_text("The models were not changed", _describe(e))

    # ---------------------------------------------------------------- display
    def _keep(self) -> str:
        return "" if self.models.packaged else \
            " The proposal still uses " + ", ".join(u.name for u in self.models.uploads) + "."

    def _ok(self, m: DashboardModels) -> None:
        self.issues = []
        self.error = ""
        self._panel.value = ""
        # the list first: setting ``models`` runs the view's update when it is cached,
        # and the page then shows the list after that update's results, not before
        self._show_info(m)
        self.models = m

    def _fail_text(self, title: str, text: str, keep: bool = True) -> None:
        self.issues = []
        more = self._keep() if keep else ""
        self.error = f"{title}: {text}{more}"
        self._panel.value = message_panel(title, [text + more])  # escaped by message_panel

    def _show_info(self, models: DashboardModels | None = None) -> None:
        m = self.models if models is None else models
        given = m.files.describe()
        items = []
        for kind in MODEL_KINDS:
            u = m.upload(kind)
            what = given[kind][0].upper() + given[kind][1:] if kind in given else "packaged"
            items.append(f'<li class="pma-model-source" data-kind="{kind}" '
                         f'data-file="{_e(u.name if u else "")}">{MODEL_WORDS[kind]}: '
                         f"{_e(what)}</li>")
        self._reset.disabled = m.packaged
        self._info.value = f'<ul class="pma-caption pma-models-list">{"".join(items)}</ul>'


# ----------------------------------------------------------------------------- restrictions
def _label(category: str) -> str:
    """A screen's checkbox label: the proposal's name of it.

    The catalog's name, "Shariah (business-activity screen)" (reviewer 2, session 22: it
    read "Shariah").
    """
    return report.restriction_effects(Restrictions(categories=(category,)))[0][0]


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
        # one column: a screen's catalog name ("Catholic values (USCCB guidelines)") does
        # not fit half of the 400 px column (two columns cut the right one's names)
        grid = ipw.GridBox(list(self._boxes.values()),
                           layout=ipw.Layout(grid_template_columns="auto"))
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
        r = replace(with_categories(b, b, cats), no_buy=no_buy)
        note = []
        if bad:
            note.append(f'<span class="pma-unknown-tickers" style="color:#b71c1c">Not '
                        f"known, ignored: {_e(', '.join(bad))}</span>")
        # each restriction in the proposal's screens table's words, with what it does to
        # names already held (reviewer 1, session 22, F7: "hold no add: AAPL")
        rows = "".join(f'<li class="pma-restriction-effect"><b>{_e(name)}</b>'
                       f"{_e(': ' + ', '.join(names)) if names else ''}. If already held: "
                       f"{_e(held)}</li>"
                       for name, held, names in report.restriction_effects(r))
        if rows:
            note.append(f'<ul class="pma-caption pma-restriction-effects">{rows}</ul>')
        self._note.value = "".join(note)
        self.restrictions = r


# ------------------------------------------------------------------------------------ tax
_LABEL_WIDTH = "140px"
"""The width of an input's label in the 400 px column of inputs: the tax editor's longest,
"Gains budget $/yr", needs 117 px in Chromium (110 px cut it to "Gains budget ...";
tests/test_dashboard_labels_browser.py), so every label fits with room for another font."""


def _label_style(text: str) -> dict[str, str]:
    """An input's label style, so no label is cut short.

    :data:`_LABEL_WIDTH`, or the label's own width when it is longer (a cash row names its
    account, whose name the profile chooses).
    """
    return {"description_width": _LABEL_WIDTH if len(text) <= 18 else "initial"}


def _label_layout(text: str) -> ipw.Layout:
    """An input row's layout, so a long label (:func:`_label_style`) leaves its value room.

    The row's default width (300 px) less a label of its own width left a long account
    name's cash field ~50 px ("Taxable account (XXXX-1234) cash $" beside "40,00"): such a
    row takes the column's whole width instead (less the row's 2 px margins).
    """
    return ipw.Layout(width="calc(100% - 4px)") if len(text) > 18 else ipw.Layout()


_STATUS_LABELS = (("Married filing jointly", FilingStatus.MFJ), ("Single", FilingStatus.SINGLE),
                  ("Head of household", FilingStatus.HOH),
                  ("Married filing separately", FilingStatus.MFS))


def _number(text: str) -> float | None:
    """``"20,000"`` -> 20000.0; ``""`` -> None. Raises ValueError for other text."""
    t = text.strip().replace(",", "").replace("$", "")
    return None if t == "" else float(t)


class TaxEditor(ipw.VBox):
    """The client's tax inputs, editable: filing status, income, state rate, budgets, cash.

    Traits
    ------
    client : Client | None
        Input: the client as loaded (its profile's values fill the fields; set again
        whenever the client changes, keeping the edits when it is the same profile).
    edited : Client | None
        Output: the client with the edited inputs
        (:func:`~pma_lab.app.dashboard.compute.with_tax_inputs`); the client itself when
        nothing was edited.
    inputs : TaxInputs | None
        The inputs shown.
    error : str
        Why the last edit was not applied ("" when it was); the fields keep the text.
    """

    client = tl.Instance(Client, allow_none=True)
    edited = tl.Instance(Client, allow_none=True)
    inputs = tl.Instance(TaxInputs, allow_none=True)
    error = tl.Unicode("")

    def __init__(self, **kwargs):
        self._status = ipw.Dropdown(options=_STATUS_LABELS, description="Filing status",
                                    style=_label_style("Filing status"))
        self._status.add_class("pma-filing-status")
        self._income = ipw.Text(description="Taxable income $", continuous_update=False,
                                style=_label_style("Taxable income $"))
        self._income.add_class("pma-income")
        self._state = ipw.BoundedFloatText(min=0.0, max=20.0, step=0.05,
                                           description="State rate %",
                                           style=_label_style("State rate %"))
        self._state.add_class("pma-state-rate")
        self._budgets = {k: ipw.Text(description=d, continuous_update=False,
                                     placeholder="no cap", style=_label_style(d))
                         for k, d in (("total", "Gains budget $/yr"),
                                      ("st", "  short-term $/yr"), ("lt", "  long-term $/yr"))}
        for k, w in self._budgets.items():
            w.add_class(f"pma-budget-{k}")
        self._cash_box = ipw.VBox()
        self._cash: dict[str, ipw.Text] = {}
        self._reset = ipw.Button(description="Reset to profile")
        self._reset.add_class("pma-reset-tax")
        self._note = ipw.HTML()
        self._note.add_class("pma-tax-note")
        self._syncing = False
        self._baseline: TaxInputs | None = None  # the profile's inputs as the fields show them
        super().__init__(children=[ipw.HTML("<b>Tax and cash</b>"), self._status,
                                   self._income, self._state, *self._budgets.values(),
                                   self._cash_box, self._reset, self._note], **kwargs)
        self.add_class("pma-tax-editor")
        for w in (self._status, self._income, self._state, *self._budgets.values()):
            w.observe(self._on_edit, "value")
        self._reset.on_click(lambda _: self.reset())

    @tl.observe("client")
    def _on_client(self, change) -> None:
        old, new = change["old"], change["new"]
        if new is None:
            self.edited = None
            return
        if old is not None and old.profile.path == new.profile.path and \
                self.inputs is not None and self.inputs != TaxInputs.of(old):
            self._apply()  # the same profile with other lots: keep the edits
            return
        self.reset()

    def reset(self) -> None:
        """Show (and use) the profile's own inputs again."""
        if self.client is None:
            return
        self._show(TaxInputs.of(self.client))
        # the fields as shown (amounts rounded to the dollar, the rate to 4 places): reading
        # them back unchanged is no edit, whatever the rounding
        self._baseline = self._read()
        self._apply()

    def set_inputs(self, inputs: TaxInputs) -> None:
        """Fill the fields with ``inputs`` and apply them (as typing them does)."""
        self._show(inputs)
        self._apply()

    def _show(self, ti: TaxInputs) -> None:
        self._syncing = True
        try:
            self._status.value = ti.filing_status
            self._income.value = "" if ti.taxable_income is None else \
                fmt_num(ti.taxable_income)
            self._income.placeholder = "all-in rates from the profile" \
                if ti.taxable_income is None else ""
            self._state.value = round(100 * ti.state_rate, 4)
            for k, v in (("total", ti.budget_total), ("st", ti.budget_st),
                         ("lt", ti.budget_lt)):
                self._budgets[k].value = "" if v is None else fmt_num(v)
            self._cash = {}
            for acc, cash in ti.cash:
                d = f"{self._cash_name(acc)} $"
                w = ipw.Text(value=fmt_num(cash), description=d, continuous_update=False,
                             style=_label_style(d), layout=_label_layout(d))
                w.add_class("pma-cash")
                w.add_class(f"pma-cash-{re.sub(r'[^A-Za-z0-9_-]', '_', acc)}")
                w.observe(self._on_edit, "value")
                self._cash[acc] = w
            self._cash_box.children = list(self._cash.values())
        finally:
            self._syncing = False

    def _cash_name(self, account_id: str) -> str:
        """An account's cash field: ``Taxable account cash``, ``Traditional IRA cash``.

        The account as the proposal names it (:func:`pma_lab.accounts.account_name`).
        """
        accounts = self.client.profile.accounts if self.client is not None else ()
        return f"{labels.account_name(accounts, account_id, capital=True)} cash"

    def _on_edit(self, change) -> None:
        if not self._syncing:
            self._apply()

    def _read(self) -> TaxInputs:
        """The fields as inputs. Raises ValueError naming a field that is not a number."""
        def num(label: str, w: ipw.Text) -> float | None:
            try:
                v = _number(w.value)
            except ValueError:
                raise ValueError(f"{label} {w.value!r} is not an amount; write e.g. "
                                 "250,000") from None
            if v is not None and v < 0:
                raise ValueError(f"{label} {w.value} is negative; type an amount of 0 or "
                                 "more, e.g. 250,000, or leave the field empty"
                                 + (" to use the profile's all-in rates"
                                    if w is self._income else ""))
            return v

        return TaxInputs(
            filing_status=FilingStatus(self._status.value),
            taxable_income=num("Taxable income", self._income),
            state_rate=float(self._state.value) / 100.0,
            budget_total=num("Gains budget", self._budgets["total"]),
            budget_st=num("Short-term budget", self._budgets["st"]),
            budget_lt=num("Long-term budget", self._budgets["lt"]),
            cash=tuple((acc, num(self._cash_name(acc), w) or 0.0)
                       for acc, w in self._cash.items()))

    def _apply(self) -> None:
        if self.client is None:
            return
        try:
            ti = self._read()
            edited = self.client if ti == self._baseline else \
                with_tax_inputs(self.client, ti)
        except (ValueError, PmaLabError) as e:
            self.error = public_text(str(e))
            self._note.value = (f'<span class="pma-tax-error" style="color:#b71c1c">'
                                f"Not applied: {_e(self.error)}</span>")
            return
        self.error = ""
        self.inputs = ti
        # all-in rates (no income) already hold the state's: the rate applies with an income
        self._state.disabled = ti.taxable_income is None
        t = edited.profile.tax
        changed = edited is not self.client
        small = ""
        if ti.taxable_income is not None and 0 < ti.state_rate < SMALL_STATE_RATE:
            pct = float(self._state.value)
            small = (f'<br><span class="pma-state-small" style="color:#b71c1c">State rate '
                     f"{pct:g} % applied: the field is in percent; for "
                     f"{fmt_pct(pct, 2)} type {100 * pct:g}.</span>")
        self._note.value = (
            f'<span class="pma-caption pma-tax-rates">Marginal rates: short-term '
            f'{fmt_rate(t.st_rate)}, long-term {fmt_rate(t.lt_rate)}'
            f"{' (edited; the profile is unchanged)' if changed else ''}.</span>{small}")
        self.edited = edited


# -------------------------------------------------------------------------------- planner
class TransitionPlanner(ipw.VBox):
    """How to move to the target: now, over N years (TE glide path) or within a tax budget.

    Traits
    ------
    mode : {"immediate", "timeline", "budget"}
    years : int
        Timeline length, 1-10 years.
    budget : int
        Net realised gains allowed per tax year, $0-$1,000,000 (the slider moves in
        $5,000 steps; a profile's budget is taken as it is).
    st_budget, lt_budget : float | None
        Separate short- and long-term caps of budget plans (from the profile's
        ``[budgets]``, as :func:`pma_lab.plan.transition.client_plan` uses them).
    budget_total : bool
        Whether the plan caps the total (``False``: a profile whose ``[budgets]`` cap only
        a term, ``budget:lt=50000``; editing the budget sets it again).
    plan : str
        Output: the engine's plan text (``"immediate"``, ``"3y"``, ``"budget:20000"``,
        ``"budget:150000:st=0:lt=150000"``).
    label : str
        Output: the plan in the client's words (:func:`pma_lab.report.labels.plan_name`, as
        in the proposal).
    client : Client | None
        Input: when its profile's preference changes (another client, or its ``[budgets]``
        edited), the planner adopts the client's own plan exactly as the proposal does
        (:func:`pma_lab.plan.transition.client_plan`: ``[transition]``, else ``[budgets]``,
        else a $0 budget). Another client (another profile file) also clears the
        withdrawal boxes (a profile has no withdrawal of its own: one typed for the
        previous client never carries over); the boxes are read again against the new
        client's analysis date whatever changed.
    withdrawal : float
        USD the client takes out at the start of every plan year, today's included (0:
        none), typed in the "Withdraw $/yr" and "When" boxes and read by
        :func:`pma_lab.plan.withdrawal.parse_withdrawal`; the plan's text carries it as
        ``flow=-<USD>``, as ``pma-lab transition --plans`` and ``pma-lab propose`` take it,
        and every plan compared makes it (:meth:`DashboardSettings.plan_list`).
    error : str
        Output: why the typed withdrawal was not applied (shown under the boxes; the plan
        keeps the last valid withdrawal); ``""`` when it was.
    """

    mode = tl.Enum(["immediate", "timeline", "budget"], default_value="timeline")
    years = tl.Int(3)
    budget = tl.Int(20_000)
    st_budget = tl.Float(None, allow_none=True)
    lt_budget = tl.Float(None, allow_none=True)
    budget_total = tl.Bool(True)
    plan = tl.Unicode("")
    label = tl.Unicode("")
    client = tl.Instance(Client, allow_none=True)
    withdrawal = tl.Float(0.0)
    error = tl.Unicode("")

    YEARS = (1, 10)
    BUDGET = (0, 1_000_000, 5_000)

    def __init__(self, **kwargs):
        self._mode = ipw.ToggleButtons(options=[("Now", "immediate"),
                                                ("Over years", "timeline"),
                                                ("Gains budget", "budget")],
                                       description="Transition",
                                       style={"button_width": "auto"})
        self._mode.add_class("pma-mode")
        self._years = ipw.IntSlider(min=self.YEARS[0], max=self.YEARS[1],
                                    description="Years", continuous_update=False)
        self._years.add_class("pma-years")
        lo, hi, step = self.BUDGET
        self._budget = ipw.BoundedIntText(min=lo, max=hi, step=step,
                                          description="Budget $/yr")
        self._budget.add_class("pma-budget")
        self._withdraw = ipw.Text(value="", placeholder="0", description="Withdraw $/yr",
                                  continuous_update=False, style=_label_style("Withdraw $/yr"))
        self._withdraw.add_class("pma-withdrawal")
        self._when = ipw.Text(value="today", description="When", continuous_update=False,
                              style=_label_style("When"))
        self._when.add_class("pma-withdrawal-when")
        self._werror = ipw.HTML()
        self._werror.add_class("pma-withdrawal-error")
        self._withdraw.observe(self._on_withdrawal, "value")
        self._when.observe(self._on_withdrawal, "value")
        self._text = ipw.HTML()
        self._text.add_class("pma-plan-text")
        self._adopting = False
        super().__init__(children=[ipw.HTML("<b>Transition plan</b>"), self._mode,
                                   self._years, self._budget, self._withdraw, self._when,
                                   self._werror, self._text], **kwargs)
        self.add_class("pma-transition-planner")
        # the traits are the source: the inputs start from the constructor's values
        tl.link((self, "mode"), (self._mode, "value"))
        tl.link((self, "years"), (self._years, "value"))
        tl.link((self, "budget"), (self._budget, "value"))
        self._update_plan()

    @tl.validate("years")
    def _valid_years(self, proposal) -> int:
        return int(min(max(proposal["value"], self.YEARS[0]), self.YEARS[1]))

    @tl.validate("budget")
    def _valid_budget(self, proposal) -> int:
        lo, hi, _ = self.BUDGET
        return int(round(min(max(float(proposal["value"]), lo), hi)))

    def _on_withdrawal(self, change=None) -> None:
        """Read the withdrawal boxes: applied when valid, else the error says why."""
        as_of = self.client.as_of if self.client is not None else None
        try:
            usd = parse_withdrawal(self._withdraw.value, self._when.value, as_of)
        except PmaLabError as e:
            kept = (f"{fmt_usd(self.withdrawal)} a year" if self.withdrawal else "none")
            self.error = f"{e} (not applied: the plans keep the withdrawal before, {kept})"
            self._werror.value = f'<span class="pma-error">{_e(self.error)}</span>'
            return
        self.error = ""
        self._werror.value = ""
        self.withdrawal = usd

    @tl.observe("mode", "years", "budget", "st_budget", "lt_budget", "budget_total",
                "withdrawal")
    def _on_change(self, change) -> None:
        if not self._adopting:
            if change["name"] == "budget":
                self.budget_total = True  # a budget typed in is a total
            self._update_plan()

    @tl.observe("client")
    def _on_client(self, change) -> None:
        c, old = change["new"], change["old"]
        if c is None:
            return
        other = old is not None and old.profile.path != c.profile.path
        self._adopting = True
        try:
            if other:  # a withdrawal typed in is the previous client's: none for this one
                self._withdraw.value = ""
                self._when.value = "today"
            self._on_withdrawal()  # the boxes read again against this client's as_of
        finally:
            self._adopting = False
        if not other and old is not None and \
                (old.profile.transition, old.profile.budgets) == \
                (c.profile.transition, c.profile.budgets):
            self._update_plan()  # the same client with other lots, cash or tax: keep it
            return
        self.adopt(c)

    def adopt(self, c: Client) -> None:
        """Set the planner to the client's own plan (:func:`client_plan`)."""
        # client_plan reads only setup.client.profile: no engine set-up is needed for it
        mine = client_plan(SimpleNamespace(client=c))  # type: ignore[arg-type]
        self._adopting = True
        try:
            if mine.kind == "timeline" and mine.years:
                self.years = mine.years
            elif mine.kind == "budget":
                if mine.budget is not None:
                    self.budget = int(round(mine.budget))
                self.st_budget, self.lt_budget = mine.st_budget, mine.lt_budget
            self.budget_total = mine.kind != "budget" or mine.budget is not None
            self.mode = mine.kind if mine.kind in ("immediate", "timeline", "budget") \
                else self.mode
        finally:
            self._adopting = False
        self._update_plan()

    def _update_plan(self) -> None:
        self._years.layout.display = None if self.mode == "timeline" else "none"
        self._budget.layout.display = None if self.mode == "budget" else "none"
        if self.mode == "immediate":
            plan = "immediate"
            text = ("Sell what differs from the target today, whatever the tax (names your "
                    "restrictions sell within some years in full); tracking error is "
                    "minimised at once.")
        elif self.mode == "timeline":
            plan = f"{self.years}y"
            text = (f"Tracking error to the target falls linearly to zero over {self.years} "
                    f"year{'s' if self.years != 1 else ''}, taxes minimised under that cap.")
        else:
            total = self.budget_total or (self.st_budget is None and self.lt_budget is None)
            plan = f"budget:{self.budget}" if total else "budget"
            split = []
            if self.st_budget is not None:
                plan += f":st={self.st_budget:g}"
                split.append(f"short-term at most {fmt_usd(self.st_budget)}")
            if self.lt_budget is not None:
                plan += f":lt={self.lt_budget:g}"
                split.append(f"long-term at most {fmt_usd(self.lt_budget)}")
            if total:
                text = (f"Each tax year, net realised gains of at most {fmt_usd(self.budget)}"
                        + (f" ({', '.join(split)}, from the profile)" if split else "")
                        + "; tracking error minimised within that budget.")
            else:
                text = (f"Each tax year, net realised gains {' and '.join(split)} (from the "
                        "profile; no cap on the total); tracking error minimised within "
                        "that budget.")
        if self.withdrawal > 0:
            plan = with_withdrawal(plan, self.withdrawal)
            text += (f" Withdraws {fmt_usd(self.withdrawal, 2 if self.withdrawal % 1 else 0)}"
                     " at the start of every plan year, today's included, raised by the "
                     "sales of least tax; every plan compared makes it.")
        mine = ""
        if self.client is not None:
            own = client_plan(SimpleNamespace(client=self.client))  # type: ignore[arg-type]
            chosen = parse_plan(plan, own.gift)
            # the client's own plan makes the plans' withdrawal too (run_transition); a
            # withdrawal the profile's plan does not make is said
            if replace(own, flow=chosen.flow).same_as(chosen):
                mine = " " + labels.own_plan_words(chosen)
            else:
                mine = (f" The client's own plan ({labels.plan_name(own)}) is compared as "
                        "well.")
        label = labels.plan_name(parse_plan(plan))
        self._text.value = (f'<span class="pma-caption"><b class="pma-plan" '
                            f'data-plan="{_e(plan)}">{_e(label)}</b>: {_e(text + mine)}'
                            "</span>")
        self.label = label
        self.plan = plan


# ---------------------------------------------------------------------------------- view
def _who(client: Client) -> tuple[str, str]:
    """Which client this is (its profile file and id), whatever its edits."""
    return str(client.profile.path), client.client_id


PAUSE_MAX_S = 60.0
"""The longest a prefetch waits at one checkpoint for the user's update (seconds)."""

COMPARE_NICE = 10
"""Niceness of the comparison thread and the plan workers it forks (Linux)."""


def _lower_priority() -> None:
    """Run the calling thread (and the processes it forks) at a lower CPU priority.

    On Linux ``nice(2)`` changes the calling thread only, and a forked process inherits it:
    the plan comparison and its forked workers then yield the cores to the update thread,
    so a newly selected client's setup and trades are not slowed by the previous client's
    comparison. Elsewhere (or when not permitted) nothing changes.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.nice(COMPARE_NICE)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_PY2JS = ("_py2js_addTraces", "_py2js_restyle", "_py2js_relayout", "_py2js_update",
          "_py2js_animate", "_py2js_deleteTraces", "_py2js_moveTraces",
          "_py2js_removeLayoutProps", "_py2js_removeTraceProps")


class FrontierFigure(go.FigureWidget):
    """plotly's FigureWidget without the ``None`` that follows every edit message.

    plotly sends each edit as a synced trait (``_py2js_update = msg``) and resets it at
    once (``= None``), two comm messages. The widget's front end (an anywidget) reads the
    trait when its change handler runs; when both messages arrive together (a loaded
    machine, a burst of updates) the handler reads ``None`` and skips the edit, and the
    page keeps the old plot while the kernel's figure is new (issue 10: the frontier after
    a restriction toggle). Every edit message carries a new edit id, so two edits never
    compare equal and the reset is not needed: it is dropped here.

    Under Voila the figure's front-end code is loaded by URL from the dashboard
    template's static files (:func:`pma_lab.app.dashboard.assets.plotly_widget_esm`)
    instead of travelling, 5 MB of it, inside the widget state.
    """

    def __init__(self, *args, **kwargs):
        esm = plotly_widget_esm()
        if esm is not None:
            # before anywidget's __init__, which makes ``_esm`` a synced trait from this
            # value, so even the comm's opening message carries the short module
            object.__setattr__(self, "_esm", esm)
        super().__init__(*args, **kwargs)

    def __setattr__(self, name: str, value: object) -> None:
        if value is None and name in _PY2JS:
            return  # keep the last edit (a trait validator never sees an allowed None)
        super().__setattr__(name, value)


class ProposalView(ipw.VBox):
    """The proposal for the current inputs: frontier, first-year trades, plan comparison.

    An input change (``client``, ``restrictions`` or ``plan``) is answered at once when
    every result is cached (or for the very first result, so a preheated Voila kernel
    renders a complete page); otherwise the status line says what is being updated and
    the work runs ``debounce`` seconds after the last change, in stages (setup, trades
    today, frontier, shelf sections, plan comparison), each shown as soon as it is ready.
    Today's trades already cached for the new inputs (prefetched, or seen before) are
    shown at the change itself, the rest following after the debounce.

    Three worker threads share the work: one for the updates (set-up, trades, frontier,
    shelf), one for the plan comparisons (then the idle-time prefetch of other profiles),
    niced, so a new client's trades never wait for the previous client's comparison, and one
    for the idle-time prefetch of the restriction toggles, at the page's priority. Both
    prefetches pause at their checkpoints (before each solve, :mod:`pma_lab.checkpoints`)
    while an update for other inputs computes its trades, frontier and shelf sections, so
    they never share the interpreter lock with it; an update that needs the result being
    prefetched waits for it instead (:meth:`_give_way`). A
    comparison that a change has made unneeded (another client chosen, or the same client's
    inputs edited: it would never be shown) is cancelled at once: its plan workers are
    killed, so the new client's set-up, trades and own comparison get the cores; nothing of
    it is cached, it is computed again when the user returns to those inputs, and a status
    note under the status line says so. Every result carries the generation of the change it
    answers, and one that a newer change has made stale is dropped. Until the new client's
    own sections are ready the page shows no other client's: the frontier and the shelf
    sections are cleared and the comparison says it is being computed.

    Parameters
    ----------
    settings : DashboardSettings | None
    engine : ProposalEngine | None
        Share one engine (and its caches) between views.

    Traits
    ------
    client, restrictions, plan
        Inputs.
    models : DashboardModels | None
        Input: the model files to prepare the client with (:class:`ModelsUpload`); the
        packaged models when ``None``, empty, or checked for another client
        (:meth:`models_for`). The view shows the proposal's "Models used" table
        (:func:`pma_lab.report.proposal.models_table`) of every setup it shows.
    debounce : float
        Seconds to wait after the last change (0: compute synchronously, as tests do).
    prefetch_profiles : list[str]
        Profiles whose first result (set-up and today's trades for their own plan) is
        prepared in idle time, after an update is complete, so switching to them is quick.
    prefetch_toggles : bool
        Also prepare, in idle time, today's trades with each restriction category ticked
        or cleared (one at a time) from the current inputs, on a thread of their own at the
        page's priority (a click on a toggle being prepared waits for it). Costs CPU after
        every update (about 0.7 s per category on an idle core); a newer change stops it.
    busy : bool
    generation : int
        Increases with every input change; the status line carries it.
    timings : dict
        Seconds per stage of the last update (and whether each came from the cache).
    setup, frontier, first_year, analysis
        The engine's results on screen (``ClientSetup``, ``Frontier``,
        ``RebalanceResult``, ``TransitionAnalysis``).
    shelf : ShelfPanel
        The proposal's household, active + index core, core allocation and ladder
        sections for the client (:mod:`pma_lab.app.dashboard.shelf`), a stage of each
        update after the frontier (with the plan comparison, in the worker thread).
    trade_rows : pandas.DataFrame | None
        Today's trades as listed (:func:`pma_lab.report.proposal.custodian_trades`: lot, term and
        estimated gain per sell).
    error : str
        The last update's failure ("" when it succeeded).
    outcome : tuple[int, str]
        ``(generation, failure)`` of the last update shown: ``""`` when it succeeded. A new
        value for every update, so a second failure with the same text is still seen
        (:attr:`HoldingsUpload.update_outcome` links to it).
    stopped : list[tuple[str, int]]
        The comparisons cancelled because a change made them unneeded: (client id,
        generation of the update that started it), oldest first.
    """

    client = tl.Instance(Client, allow_none=True)
    restrictions = tl.Instance(Restrictions, allow_none=True)
    plan = tl.Unicode("")
    models = tl.Instance(DashboardModels, allow_none=True)
    debounce = tl.Float(0.3)
    prefetch_profiles = tl.List(tl.Unicode())
    prefetch_toggles = tl.Bool(False)
    busy = tl.Bool(False)
    generation = tl.Int(0)
    timings = tl.Dict()
    setup = tl.Any(None)
    frontier = tl.Any(None)
    first_year = tl.Any(None)
    trade_rows = tl.Any(None)
    analysis = tl.Any(None)
    error = tl.Unicode("")
    outcome = tl.Tuple((0, ""))

    def __init__(self, settings: DashboardSettings | None = None,
                 engine: ProposalEngine | None = None, **kwargs):
        self.engine = engine or ProposalEngine(settings or DashboardSettings.from_proposal())
        self._adopting = False
        self._lock = threading.RLock()
        self._gen = 0
        self._timer: object = None
        self._pool: ThreadPoolExecutor | None = None  # updates: trades, frontier, shelf
        self._bg: ThreadPoolExecutor | None = None  # plan comparisons, other profiles' prefetch
        self._pre: ThreadPoolExecutor | None = None  # the restriction toggles' prefetch
        self._idle = threading.Event()
        self._idle.set()
        # the cache key of the client whose update the user waits for (None: no update is
        # computed); the idle-time prefetch gives way to it at its checkpoints (_give_way)
        self._user_key: str | None = None
        self._turn = threading.Condition(self._lock)  # notified when _user_key changes
        self._closed = False
        self.history: list[dict] = []
        self.stopped: list[tuple[str, int]] = []
        # the comparison running on the comparison thread: (cache key, client id,
        # generation, cancel event); set and read under self._lock
        self._comparing: tuple[tuple, str, int, threading.Event] | None = None
        self._status = ipw.HTML(status_line("ready", "Choose a client.", 0))
        self._status.add_class("pma-status")
        self._note = ipw.HTML()
        self._note.add_class("pma-status-note")
        self._error = ipw.HTML()
        self._error.add_class("pma-proposal-error")
        self._summary = ipw.HTML()
        self._summary.add_class("pma-first-year-summary")
        self._summary_line = ""  # the trades' line; the comparison may add a warning above
        self._warning = ""  # ... that warning (the plan on screen could not be completed)
        # what the line is drawn from (the trades, first_year_summary's other arguments) and
        # whether its loss carryforward waits for the household (several accounts)
        self._summary_of: tuple | None = None
        self._fig = FrontierFigure(layout={"height": 420, "title": {
            "text": "Tax cost against tracking error"}})
        self._fig.add_class("pma-frontier-figure")
        # the proposal's frontier words when the sweep left out the gains budgets
        self._frontier_note = ipw.HTML()
        self._frontier_note.add_class("pma-frontier-note")
        fig_box = ipw.Box([self._fig], layout=ipw.Layout(width="100%"))
        fig_box.add_class("pma-frontier")
        self._comparison = ipw.HTML()
        self._comparison.add_class("pma-comparison")
        self._trades = ipw.HTML()
        self._trades.add_class("pma-trades")
        self._assumptions = ipw.HTML()
        self._assumptions.add_class("pma-assumptions")
        self._models = ipw.HTML()  # the proposal's "Models used in this proposal"
        self._models.add_class("pma-models-used")
        self._models_setup = None  # the setup the table describes
        self.shelf = ShelfPanel(self.engine.settings.cache_size)  # household, core, ladder
        # the household's year rows need the household section and the plan comparison of
        # one update: whichever of the two is shown last adds them (_fill_year_tax)
        self._analysis_of: tuple[int, str] | None = None  # (generation, plan) on screen
        # (generation, trades) on screen: drawn at the request when cached, not again
        self._trades_of: tuple[int, object] | None = None
        self._shelf_of: int | None = None  # the generation whose household is on screen
        s = self.engine.settings
        steps = "annual" if s.steps_per_year == 1 else \
            {4: "quarterly", 12: "monthly"}.get(s.steps_per_year, f"{s.steps_per_year} a year")
        super().__init__(children=[
            ipw.HTML(STYLE), self._status, self._note, self._error, self._summary,
            ipw.HTML("<b>Trades today</b> <span class='pma-caption'>(sells name the lot to "
                     "relieve; the trade file lists the same rows)</span>"), self._trades,
            fig_box, self._frontier_note,
            ipw.HTML(f"<b>Transition plans compared</b> <span class='pma-caption'>(expected "
                     f"path, {s.horizon_years} years, {steps} steps, as in the proposal)"
                     "</span>"),
            self._comparison, self._assumptions, self._models, self.shelf], **kwargs)
        self.add_class("pma-proposal-view")

    # ---------------------------------------------------------------- requests
    @tl.observe("client", "restrictions", "plan", "models")
    def _on_inputs(self, change) -> None:
        if self._adopting:
            return
        old, new = change["old"], change["new"]
        if change["name"] == "models" and new is not None and self.client is not None \
                and new.client[0] and not new.checked_for(self.client):
            return  # checked for the client about to come in: its own change follows
        if change["name"] == "client" and new is not None and (
                old is None or old.profile.path != new.profile.path):
            # another client: start from its profile's restrictions and its own plan (what
            # the editor and the planner are about to send), not the previous client's, so
            # a client switch is one update, not three
            self._adopting = True
            try:
                self.restrictions = new.profile.restrictions
                self.plan = client_plan(SimpleNamespace(client=new)).name  # type: ignore[arg-type]
            finally:
                self._adopting = False
            if old is not None:
                self._clear_for(new)
        self.request(change["name"])

    def shows(self, client: Client) -> bool:
        """Whether ``client`` (whatever its edits) is the client selected on the page."""
        return self.client is not None and _who(self.client) == _who(client)

    def _clear_for(self, client: Client) -> None:
        """Another client is selected: nothing of the previous one stays on the page.

        Trades, frontier, plan comparison and shelf sections are emptied at once (the UI
        thread), before the new client's are computed; the export buttons follow
        (:meth:`ExportPanel._refresh`: the trades shown must be the selected client's).
        """
        who = _e(client.client_id)
        self.trade_rows = None
        self._summary_of = None
        self._summary.value = (f'<div class="pma-caption pma-computing">Computing the trades '
                               f"for {who}...</div>")
        self._trades.value = ""
        self.frontier = None
        self._frontier_note.value = ""
        self._apply_figure(go.Figure(layout={"title": {"text": (
            f"Tax cost against tracking error: {who} (computing)")}}))
        self.analysis = None
        self._comparison.value = ""
        self._assumptions.value = ""
        self._models.value = ""
        self._models_setup = None
        self.shelf.clear()

    def _for(self, post: Callable[[Callable[[], None]], None], client: Client
             ) -> Callable[[Callable[[], None]], None]:
        """``post`` that drops a display step once ``client`` is no longer selected.

        The generation counter already drops the steps of a superseded update; this is
        the second guard, on the client itself, so no result can be painted under another
        client whatever the order in which the UI thread runs the steps.
        """
        def guarded(f: Callable[[], None]) -> None:
            post(lambda: f() if self.shows(client) else None)
        return guarded

    def request(self, reason: str = "inputs") -> None:
        """Bring the view up to date with the inputs (see the class docs)."""
        ready = self.client is not None and bool(self.plan)
        client = with_restrictions(self.client, self.restrictions) if ready else None
        plan = self.plan
        models = self.models_for(client) if ready else None
        wanted = None  # the comparison these inputs need (a running other one is stopped)
        if ready:
            with contextlib.suppress(PmaLabError):  # a bad plan fails in the update itself
                wanted = self.engine.transition_key(client, plan, models)
        # the client's cache key (the comparison's key starts with it: no second fingerprint)
        user_key = None if not ready else wanted[0] if wanted is not None else \
            self.engine.key(client, models)
        with self._lock:
            self._gen += 1
            gen = self._gen
            self._cancel_timer()
            stopped = self._stop_comparison(wanted)
            # the prefetch pauses at its next checkpoint until this update's own part is
            # done (_user_done), unless it computes what this update needs
            self._user_key = user_key
            self._turn.notify_all()
        self.generation = gen
        if stopped is not None:
            self._show_stopped(stopped, client)
        if not ready:
            self.busy = False
            self._idle.set()
            return
        if self.debounce <= 0 or self.first_year is None or \
                self.engine.is_cached(client, plan, models):
            self._idle.clear()
            self._compute(gen, client, plan, reason, None, models=models)
            return
        self._idle.clear()
        self.busy = True
        self._set_status("busy", f"Updating ({reason} changed)...", gen)
        hit = self.engine.cached_trades(client, plan, models)
        if hit is not None:
            # today's trades are ready (prefetched, or these inputs were seen before): shown
            # now, not after the debounce and a thread hop; the status says the rest (the
            # frontier, the shelf sections, the plan comparison) is still being updated
            self._show_first_year(gen, *hit, plan)
            if not self.engine.has_transition(client, plan, models):
                self._show_pending(gen)
        loop = _running_loop()
        if loop is not None:
            self._timer = loop.call_later(self.debounce, self._launch, gen, client, plan,
                                          reason, loop, models)
        else:
            t = threading.Timer(self.debounce, self._launch,
                                args=(gen, client, plan, reason, None, models))
            t.daemon = True
            self._timer = t
            t.start()

    def _stop_comparison(self, wanted: tuple | None) -> str | None:
        """Cancel the running comparison unless it is the one ``wanted`` (under the lock).

        Returns the id of the client whose comparison was cancelled, or ``None``.
        """
        running = self._comparing
        if running is None or running[0] == wanted or running[3].is_set():
            return None
        running[3].set()  # run_transition kills its plan workers and raises CancelledError
        self.stopped.append((running[1], running[2]))
        return running[1]

    def _show_stopped(self, who: str, now: Client | None) -> None:
        """The status note: whose comparison was stopped, and when it is computed again."""
        self._note.value = stopped_note(who, now is None or now.client_id != who)

    def _cancel_timer(self) -> None:
        t, self._timer = self._timer, None
        if t is not None:
            t.cancel()  # asyncio.TimerHandle and threading.Timer both have cancel()

    def _launch(self, gen: int, client: Client, plan: str, reason: str,
                loop: asyncio.AbstractEventLoop | None,
                models: DashboardModels | None = None) -> None:
        if gen != self._gen:
            return
        self._ensure_pool().submit(self._compute, gen, client, plan, reason, loop,
                                   "asyncio" if loop is not None else "thread", models)

    def models_for(self, client: Client | None) -> DashboardModels | None:
        """The model files the view uses for ``client`` (``None``: the packaged models).

        Files checked for another client (the models panel re-checks them when the
        client changes, just before the view's client follows) are not used.
        """
        return self._used(self.models, client)

    def _used(self, m: DashboardModels | None, client: Client | None = None
              ) -> DashboardModels | None:
        """``m`` if the view would use it for ``client`` (default: the client selected)."""
        client = self.client if client is None else client
        if m is None or m.packaged or client is None or not m.fits(client):
            return None
        return m

    def wait(self, timeout: float = 120.0) -> bool:
        """Block until the latest update is on screen (for tests and scripts)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Close the widget, stop the worker threads and cancel a running comparison."""
        self._cancel_timer()
        with self._lock:
            if self._comparing is not None:
                self._comparing[3].set()  # its plan workers are killed, nothing is cached
            self._closed = True  # a paused prefetch stops (_give_way)
            self._turn.notify_all()
        for pool in (self._pool, self._bg, self._pre):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        super().close()

    # ---------------------------------------------------------------- compute
    @staticmethod
    def _poster(loop: asyncio.AbstractEventLoop | None) -> Callable[[Callable[[], None]], None]:
        """Run display steps at once (no loop) or on the loop's thread (the UI thread)."""
        if loop is None:
            def post(f: Callable[[], None]) -> None:
                f()
        else:
            def post(f: Callable[[], None]) -> None:
                loop.call_soon_threadsafe(f)
        return post

    @staticmethod
    def _stage(tm: dict, name: str, fn: Callable[[], tuple[object, bool]]) -> object:
        t = time.perf_counter()
        out, hit = fn()
        tm[name] = round(time.perf_counter() - t, 4)
        tm[f"{name}_cached"] = hit
        return out

    def _compute(self, gen: int, client: Client, plan: str, reason: str,
                 loop: asyncio.AbstractEventLoop | None, how: str = "sync",
                 models: DashboardModels | None = None) -> None:
        """Run the stages; ``loop`` given: post each display step to it (UI thread).

        ``how`` records how the update was scheduled (``sync``, ``asyncio``, ``thread``).
        A synchronous update of a debounced view (the first result) stops after the
        frontier and leaves the shelf sections to the update thread and the plan
        comparison, by far the longest stage, to the comparison thread, so the page (and a
        preheated kernel) is ready as soon as the trades are.
        """
        post = self._for(self._poster(loop), client)
        t0 = time.perf_counter()
        tm: dict = {"reason": reason, "plan": plan, "client": client.client_id,
                    "scheduler": how, "debounce": 0.0 if how == "sync" else self.debounce}

        def stale() -> bool:
            return gen != self._gen

        try:
            setup = self._stage(tm, "prepare", lambda: self.engine.setup(client, models))
            if stale():
                return
            fy = self._stage(tm, "first_trades",
                             lambda: self.engine.first_year(client, setup, plan, models))
            tm["to_trades"] = round(time.perf_counter() - t0, 4)
            post(lambda: None if self._drawn(gen, fy) else
                 self._show_first_year(gen, setup, fy, plan))
            if stale():
                return
            pending = not self.engine.has_transition(client, plan, models)
            if pending:
                post(lambda: self._show_pending(gen))
            fr = self._stage(tm, "frontier",
                             lambda: self.engine.frontier(client, setup, models, plan))
            tm["to_frontier"] = round(time.perf_counter() - t0, 4)
            post(lambda: self._show_frontier(gen, fr, fy, plan, models))
            if stale():
                return
        except Exception as e:  # noqa: BLE001 - shown to the user, logged for the operator
            self._fail(gen, e, post)
            return
        if how == "sync" and pending and self.debounce > 0:
            ui = _running_loop()
            tm["scheduler"] = "sync+" + ("asyncio" if ui is not None else "thread")
            post(lambda: self.busy_with("Comparing the transition plans...", gen))
            self._ensure_pool().submit(self._finish, gen, client, setup, plan, tm, t0, ui,
                                       models)
            return
        self._finish(gen, client, setup, plan, tm, t0, loop, models)

    def _finish(self, gen: int, client: Client, setup, plan: str, tm: dict, t0: float,
                loop: asyncio.AbstractEventLoop | None,
                models: DashboardModels | None = None) -> None:
        """The shelf sections, then the plan comparison.

        The comparison runs here when it is cached (or the view is synchronous), else in
        the comparison thread.
        """
        post = self._for(self._poster(loop), client)
        if gen != self._gen:
            return
        # the proposal's shelf sections (off the first page's path; a failure stays in
        # their panel)
        def shelf_post(f: Callable[[], None]) -> None:
            post(lambda: (f(), self._shelf_shown(gen)))

        try:
            # the household is solved around the plan's first step on screen (cached by now)
            fy, _ = self.engine.first_year(client, setup, plan, models)
            self.shelf.update((self.engine.key(client, models), plan), setup, shelf_post,
                              lambda: gen == self._gen and self.shows(client), tm, fy, plan)
        finally:
            self._user_done(gen)  # the rest is the comparison's (its own thread, niced)
        if self.debounce > 0 and not self.engine.has_transition(client, plan, models):
            if gen == self._gen:
                self._ensure_bg().submit(self._run_comparison, gen, client, setup, plan,
                                         tm, t0, loop, models)
            return
        self._run_comparison(gen, client, setup, plan, tm, t0, loop, models)

    def _run_comparison(self, gen: int, client: Client, setup, plan: str, tm: dict,
                        t0: float, loop: asyncio.AbstractEventLoop | None,
                        models: DashboardModels | None = None) -> None:
        """The plan comparison stage, then the status line (nothing once stale).

        While it runs, a change that needs another comparison cancels it
        (:meth:`request`): it then ends with nothing shown and nothing cached.
        """
        post = self._for(self._poster(loop), client)
        cancel = threading.Event()
        key = None  # a plan that does not parse fails in engine.transition, shown below
        with contextlib.suppress(PmaLabError):
            key = self.engine.transition_key(client, plan, models)
        with self._lock:
            if gen != self._gen:
                return  # a newer change: its own comparison follows (this one is not needed)
            self._comparing = (key, client.client_id, gen, cancel)
        post(lambda: self.busy_with(f"Comparing the transition plans for {client.client_id}"
                                    "...", gen, comparing=client.client_id))
        try:
            an = self._stage(tm, "transition",
                             lambda: self.engine.transition(client, setup, plan, cancel,
                                                            models))
        except CancelledError:
            return  # a newer change made it unneeded; the status note says so
        except Exception as e:  # noqa: BLE001 - shown to the user, logged for the operator
            self._fail(gen, e, post)
            return
        finally:
            with self._lock:
                if self._comparing is not None and self._comparing[3] is cancel:
                    self._comparing = None
        tm["total"] = round(time.perf_counter() - t0, 4)
        post(lambda: self._show_transition(gen, an, plan, tm))

    def _fail(self, gen: int, e: Exception, post: Callable[[Callable[[], None]], None]
              ) -> None:
        self._user_done(gen)
        if not isinstance(e, PmaLabError):
            log.exception("dashboard update failed")
        msg = _describe(e)
        post(lambda: self._show_error(gen, msg))

    def _user_done(self, gen: int) -> None:
        """Update ``gen``'s trades, frontier and shelf are computed: the prefetch may go on.

        Only the latest update's end counts (a newer change keeps the prefetch paused for
        its own update).
        """
        with self._lock:
            if gen == self._gen:
                self._user_key = None
                self._turn.notify_all()

    def _give_way(self, key: str) -> None:
        """A prefetch's checkpoint: wait while the user's update is computed.

        The prefetch of ``key`` (a client's cache key) pauses at each checkpoint (before
        each solve: :mod:`pma_lab.checkpoints`) while an update for another client's
        inputs is computed, so the two never share the interpreter lock (session 24: a
        mode switch beside a toggle's prefetch, 0.373 s to the trades against session
        23's 0.220 s; the prefetch took 2-4x the update's CPU meanwhile). An update that needs
        ``key`` itself waits for this prefetch (the engine's key lock), which then goes on.
        A pause lasts :data:`PAUSE_MAX_S` at most (an update never finished, e.g. its
        timer's event loop stopped, does not hold the thread for ever).

        Raises
        ------
        CancelledError
            When the view is closed (the prefetch stops).
        """
        with self._turn:
            self._turn.wait_for(lambda: self._closed or self._user_key is None
                                or self._user_key == key, PAUSE_MAX_S)
            if self._closed:
                raise CancelledError("the dashboard was closed; its prefetch stopped")

    def _ensure_pool(self) -> ThreadPoolExecutor:
        """The update thread (set-up, trades, frontier, shelf sections)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pma-dash")
        return self._pool

    def _ensure_bg(self) -> ThreadPoolExecutor:
        """The comparison thread (plan comparisons, then idle-time prefetch)."""
        if self._bg is None:
            self._bg = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pma-dash-compare",
                                          initializer=_lower_priority)
        return self._bg

    # ---------------------------------------------------------------- prefetch
    def prefetch_items(self) -> list[tuple[Client, str]]:
        """The (client, plan) pairs prepared in idle time (see the class docs)."""
        if self.client is None or self.restrictions is None or not self.plan:
            return []
        items: list[tuple[Client, str]] = []
        if self.prefetch_toggles:
            base, now = self.client.profile.restrictions, self.restrictions
            for cat in RESTRICTION_CATEGORIES:
                on = set(now.categories) ^ {cat}
                # the order RestrictionEditor emits: the profile's first, then the others
                cats = tuple(c for c in base.categories if c in on) + tuple(
                    c for c in RESTRICTION_CATEGORIES if c in on and c not in base.categories)
                items.append((with_restrictions(self.client, with_categories(base, now, cats)),
                              self.plan))
        here = str(Path(self.client.profile.path).resolve())
        for path in self.prefetch_profiles:
            if str(Path(path).resolve()) != here:
                items.append((path, ""))  # type: ignore[arg-type] # loaded in the worker
        return items

    def _ensure_prefetch(self) -> ThreadPoolExecutor:
        """The restriction toggles' prefetch thread (the page's priority, not niced)."""
        if self._pre is None:
            self._pre = ThreadPoolExecutor(max_workers=1,
                                           thread_name_prefix="pma-dash-prefetch")
        return self._pre

    def _schedule_prefetch(self, gen: int) -> None:
        # An update that needs what a prefetch is computing waits for that one result (the
        # engine's key lock), so the toggles of the client on screen, the likeliest next
        # click, are prepared at the page's priority: on the niced comparison thread a
        # click waited for a thread the other processes' work starved (about 2 s for one
        # toggle at a load of 13 on 2 cores). Other profiles' first results follow the
        # comparisons on that thread, out of the way of the next update.
        for item in self.prefetch_items():
            pool = self._ensure_bg() if isinstance(item[0], str) else self._ensure_prefetch()
            pool.submit(self._prefetch_one, gen, *item)

    def _prefetch_one(self, gen: int, client: Client | str, plan: str) -> None:
        if gen != self._gen:
            return  # a newer change: its own update comes first
        try:
            models = None  # another profile: its packaged models (files are checked per client)
            if isinstance(client, str):
                client = load_profile_client(client)
                plan = client_plan(SimpleNamespace(client=client)).name  # type: ignore[arg-type]
            else:
                models = self.models_for(client)
            key = self.engine.key(client, models)
            self._give_way(key)
            with on_checkpoint(lambda: self._give_way(key)):
                setup, _ = self.engine.setup(client, models)
                if gen == self._gen:
                    self.engine.first_year(client, setup, plan, models)
        except Exception:  # noqa: BLE001 - a prefetch failure shows when the user gets there
            log.debug("prefetch failed", exc_info=True)

    def busy_with(self, text: str, gen: int, comparing: str = "") -> None:
        """Show ``text`` as the busy status of update ``gen`` (if it is still current).

        ``comparing``: the client whose plans the comparison thread is comparing now.
        """
        if gen == self._gen:
            self.busy = True
            self._set_status("busy", text, gen, comparing=comparing)

    # ---------------------------------------------------------------- display
    def _set_status(self, state: str, text: str, gen: int, how: str = "",
                    cached: tuple[str, ...] = (), comparing: str = "") -> None:
        self._status.value = status_line(state, text, gen, how, cached, comparing)

    def _show_first_year(self, gen: int, setup, fy, plan: str) -> None:
        if gen != self._gen:
            return
        self._trades_of = (gen, fy)
        self.error = ""
        self.outcome = (gen, "")
        self._error.value = ""
        if self.setup is not None and _who(self.setup.client) != _who(setup.client):
            # another client: nothing of the previous one stays on the page while this
            # one's frontier and shelf sections are computed
            self.frontier = None
            self._frontier_note.value = ""
            self._apply_figure(go.Figure(layout={"title": {"text": (
                f"Tax cost against tracking error: {_e(setup.client.client_id)} (computing)")}}))
            self.shelf.clear()
        self.setup = setup
        self.first_year = fy
        try:  # the client's own plan marked, as in the proposal's "Today's trades"
            own = client_plan(setup)
            chosen = parse_plan(plan, own.gift)
            # marked withdrawing from the plan (its flow below zero), as in the proposal
            label = labels.plan_cell(parse_plan(plan),
                                     replace(own, flow=chosen.flow).same_as(chosen))
        except PmaLabError:
            label = plan
        # the proposal's trade list (and the exported trade file): one sell per lot
        rows = report.custodian_trades(fy)
        self.trade_rows = rows
        prof = setup.client.profile
        # a household's loss carryforward is its tax return's: every account's trades
        # today, the household section's (solved around these trades, after the frontier),
        # as the proposal's harvesting table reads it; until then the line says so
        carried = sum(prof.carryforward_into(setup.as_of.year,
                                             f"the analysis date {setup.as_of}"))
        self._summary_of = (fy, (plan, len(rows), label, labels.loss_limit(setup), carried,
                                 labels.account_name(prof.accounts, fy.summary["account"])),
                            len(prof.accounts) >= 2,
                            labels.over_target_note(fy, setup.target.weights))
        self._warning = ""
        self._draw_summary()
        self._trades.value = trades_table(rows)

    def _drawn(self, gen: int, fy) -> bool:
        """Whether update ``gen``'s trades ``fy`` are on screen (drawn at its request)."""
        return self._trades_of is not None and self._trades_of[0] == gen \
            and self._trades_of[1] is fy

    def _show_pending(self, gen: int) -> None:
        if gen != self._gen:
            return
        self.analysis = None
        self._assumptions.value = ""
        n = len(self.engine.settings.plans)
        self._comparison.value = (
            '<div class="pma-caption pma-comparison-pending">Comparing the plans over '
            f"{self.engine.settings.horizon_years} years ({n} plans, the chosen one, the "
            "client's own and holding); this takes longer than the trades above.</div>")

    def _show_frontier(self, gen: int, fr, fy, plan: str,
                       models: DashboardModels | None = None) -> None:
        if gen != self._gen:
            return
        if self.setup is not self._models_setup:
            # the proposal's "Models used" (pma_lab.report.proposal.models_table), in its
            # words: the files given, else the packaged models this setup was prepared
            # with; after the trades (about 8 ms, off the trades' path)
            own = (models or DashboardModels()).files
            self._models.value = report.models_table(own, self.setup)._repr_html_()
            self._models_setup = self.setup
        self.frontier = fr
        dropped = dropped_note(fr)
        self._frontier_note.value = (f'<div class="pma-caption">{_e(dropped)}</div>'
                                     if dropped else "")
        # plotly titles and hover texts read a subset of HTML: escape what comes from inputs
        where = labels.account_name(self.setup.client.profile.accounts,
                                    fy.summary["account"])
        fig = fr.figure(title=f"Tax cost against tracking error: "
                              f"{_e(self.setup.client.client_id)}, {_e(where)}")
        try:
            words = labels.plan_name(parse_plan(plan))
        except PmaLabError:
            words = plan
        fr.mark_plan(fig, fy.summary, f"{_e(words)}: trades today")
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
        self._note.value = ""  # a stopped comparison's note: the page is complete again
        self.analysis = an
        # the proposal's warning over today's trades when the plan they start could not be
        # completed (its reason in plain words; the plan's figures are blanked below)
        self._warning = trades_warning(report.trades_warning(an, plan))
        self._summary.value = self._warning + self._summary_line
        fy = self.first_year  # today's trades of the plan on screen: their tax
        note = report.tax_year_note(  # the proposal's sentence (issues 10, 14)
            an, plan, float(fy.summary["tax"]) if fy is not None else None)
        # ... and the frontier note's: "Go to target" is "Move now" today (issue 14)
        same = report.go_to_target_note(self.frontier, an) if self.frontier is not None \
            else ""
        mixed = report_shelf.mixed_note(self.setup)  # the proposal's page-1 note (issue 14)
        mix = report.mix_note(an)  # the plans' stock/bond mixes differ: the proposal's words
        # page one's words when the plan's budget never gets the portfolio back to the band
        band = report_shelf.band_unreached_note(self.setup, an)
        # the household section adds today's trades' tax up to this plan's "Tax this year"
        # (every taxable account's trades today in it: one return), now if it is shown,
        # else when it is
        self._analysis_of = (gen, plan)
        self._fill_year_tax()
        # the proposal's three plan tables, its headings and cells (pma_lab.report.labels)
        flows = report.plans_note(an, failed=False)  # page 1's words on the cash flows
        self._comparison.value = comparison_table(report.comparison_table(an), plan) + (
            f'<div class="pma-caption pma-flows-note">{_e(flows)}</div>' if flows else ""
        ) + (f'<div class="pma-caption pma-tax-year-note">{_e(note)}</div>' if note else ""
        ) + (f'<div class="pma-caption pma-go-to-target-note">{_e(same)}</div>' if same
             else "") + (f'<div class="pma-caption pma-mix-note">{_e(mix)}</div>' if mix
                         else "") + (
            f'<div class="pma-caption pma-band-note">{_e(band)}</div>' if band else ""
        ) + comparison_table(
            report.te_years_table(an, self.setup.benchmark), plan, "te-years") + (
            # the proposal's "More figures by plan" (reviewer 1, session 22, F19): each
            # plan's middle path and chance of ending below moving now, as it and the CLI
            comparison_table(report.outcomes_table(an), plan, "outcomes")) + (
            f'<div class="pma-mixed-note">{mixed._repr_html_()}</div>' if mixed else "")
        # the proposal's year-by-year table of the client's plan (taxes on its gains,
        # interest and dividends), then the assumptions
        yearly = report.yearly_table(an)
        self._assumptions.value = ('<details class="pma-caption pma-yearly"><summary>'
                                   "Your plan year by year</summary>"
                                   + yearly._repr_html_() + "</details>"
                                   '<details class="pma-caption"><summary>Assumptions'
                                   "</summary><ul>" + "".join(
                                       f"<li>{_e(report.client_words(str(a)))}</li>"
                                       for a in an.assumptions)
                                   + "</ul></details>")
        self.timings = tm
        self.history.append(dict(tm))
        if self.debounce > 0 and (self.prefetch_toggles or self.prefetch_profiles):
            self._schedule_prefetch(gen)
        c = self.setup.client
        self._set_status("ready", f"Up to date: {c.profile.name or c.client_id}, as of "
                                  f"{c.as_of}; updated in {fmt_seconds(tm['total'])}.", gen,
                         tm["scheduler"], tuple(k for k in ("prepare", "first_trades",
                                                            "frontier", "transition")
                                                if tm.get(f"{k}_cached")))
        self.busy = False
        self._idle.set()

    def _draw_summary(self, household=None, failed: bool = False) -> None:
        """Draw the line on today's trades (:func:`first_year_summary`), the warning above.

        Its loss carryforward is the tax return's (:func:`pma_lab.report.proposal.
        todays_carryforward`): with ``household`` (solved around the trades on screen),
        every account's trades today; a client with several accounts, before it is solved,
        :data:`~pma_lab.app.dashboard.render.CARRY_PENDING` (``failed``: could not be,
        :data:`~pma_lab.app.dashboard.render.CARRY_FAILED`), never one account's figures;
        one account: its trades' own.
        """
        if self._summary_of is None:
            return
        fy, args, several, over = self._summary_of
        carry, words, text = None, "", ""
        if household is not None:
            carry, words = report.todays_carryforward(fy.summary, household)
        elif several:
            text = CARRY_FAILED if failed else CARRY_PENDING
        self._summary_line = first_year_summary(
            fy.summary, *args, carry=carry, carry_words=words, carry_text=text,
            forced=labels.forced_sales_note(fy),  # the proposal's words on forced sales
            over=over)  # and on names bought above their targets
        self._summary.value = self._warning + self._summary_line

    def _shelf_shown(self, gen: int) -> None:
        """Update ``gen``'s shelf sections were shown (or failed): the year rows may follow.

        The line on today's trades then reads the household's loss carryforward (the
        section is solved around the trades of the same update), or says it could not be.
        """
        if gen != self._gen:
            return
        res = self.shelf.results
        if self._summary_of is not None and self._summary_of[2]:
            self._draw_summary(None if res is None else res.household,
                               failed=res is None or res.household is None)
        if res is not None:
            self._shelf_of = gen
            self._fill_year_tax()

    def _fill_year_tax(self) -> None:
        """Add the plan's "Tax this year" to the household section's tax rows.

        The rows need both the household section (solved around today's trades) and the
        plan comparison of the same update; each calls this when it is shown, so the later
        of the two fills them, whichever it is (:meth:`_shelf_shown`, :meth:`_show_transition`).
        Nothing while the comparison or the section on screen is an earlier update's (its
        household solved around other trades, or its plan another).
        """
        res, an, of = self.shelf.results, self.analysis, self._analysis_of
        if res is None or res.household is None or res.year_tax is not None or an is None \
                or of is None or of[0] != self._gen or self._shelf_of != self._gen:
            return
        self.shelf.show_year_tax(report_shelf.household_year_tax(
            self.setup, an, res.household, of[1]))

    def _show_error(self, gen: int, text: str) -> None:
        if gen != self._gen:
            return
        self.error = text
        self.outcome = (gen, text)
        self._error.value = message_panel("The proposal could not be updated", [text])
        self.history.append({"error": text})
        self._set_status("error", "Update failed; the results below are from the last "
                                  "successful update.", gen)
        self.busy = False
        self._idle.set()


# --------------------------------------------------------------------------------- export
_DOWNLOAD_ESM = """
export default {
  render({ model, el }) {
    el.classList.add("pma-download-sink");
    model.on("msg:custom", (msg, buffers) => {
      if (!msg || msg.event !== "download") return;
      const blob = new Blob(buffers, { type: msg.mime });
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = msg.name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    });
  }
};
"""


class _Download(anywidget.AnyWidget):
    """Hands bytes from the kernel to the browser as a file download (no server path)."""

    _esm = _DOWNLOAD_ESM


_MIME = {".csv": "text/csv", ".xlsx": "application/vnd.openxmlformats-officedocument."
         "spreadsheetml.sheet", ".pdf": "application/pdf"}


_MODEL_PARAMS = {"risk": "risk_model_file", "benchmark": "benchmark_file",
                 "target": "target_file"}
"""The proposal notebook's parameter for each kind of model file."""


class ExportPanel(ipw.VBox):
    """Download today's trade file (CSV, XLSX) and the client's proposal PDF.

    The trade file is written by :func:`pma_lab.report.proposal.export_trades` from the trades on
    screen (with every edit applied), the same rows the proposal's trade list shows, then,
    for a household, the other accounts' orders of the household section (solved around
    those trades), as the proposal's trade files list them. The
    PDF is the proposal itself (:func:`pma_lab.report.proposal.render_proposal`, the notebook the
    service team renders) for the client's profile and the lots on screen; it is rendered
    from the profile, so while tax or restriction edits are applied the button says to
    reset them first (the PDF would not show the edited numbers). Model files in use on
    the page (:class:`ModelsUpload`) are passed to it as the notebook's
    ``risk_model_file``, ``benchmark_file`` and ``target_file``.

    Parameters
    ----------
    view : ProposalView
        The view whose trades are exported.
    upload : HoldingsUpload
        Where the profile and the lots come from.

    Traits
    ------
    busy : bool
        True while a PDF is being rendered.
    last : str
        Name of the last file handed to the browser.
    error : str
        The last export's failure ("" after a good one).
    """

    busy = tl.Bool(False)
    last = tl.Unicode("")
    error = tl.Unicode("")

    def __init__(self, view: ProposalView, upload: HoldingsUpload, **kwargs):
        self.view = view
        self.upload = upload
        self._csv = ipw.Button(description="Trade file (CSV)")
        self._csv.add_class("pma-export-csv")
        self._xlsx = ipw.Button(description="Trade file (XLSX)")
        self._xlsx.add_class("pma-export-xlsx")
        self._pdf = ipw.Button(description="Proposal (PDF)")
        self._pdf.add_class("pma-export-pdf")
        self._note = ipw.HTML()
        self._note.add_class("pma-export-note")
        self._sink = _Download()
        self.files: dict[str, bytes] = {}  # name -> content of every file handed over
        super().__init__(children=[ipw.HTML("<b>Export</b>"),
                                   ipw.HBox([self._csv, self._xlsx, self._pdf]), self._note,
                                   self._sink], **kwargs)
        self.add_class("pma-export")
        self._csv.on_click(lambda _: self.export_trades(".csv"))
        self._xlsx.on_click(lambda _: self.export_trades(".xlsx"))
        self._pdf.on_click(lambda _: self.export_pdf())
        for w in (view, upload):
            w.observe(self._refresh, ["first_year", "client", "setup", "restrictions"])
        view.observe(self._refresh, "trade_rows")
        self._refresh()

    # ---------------------------------------------------------------- state
    def edits(self) -> list[str]:
        """What on screen differs from the client's profile (empty: nothing)."""
        # the inputs on screen (synchronous), not the last computed setup (which lags an
        # edit by the debounce and the solve)
        shown, loaded = self.view.client, self.upload.client
        if shown is None or loaded is None:
            return []
        a, b = shown.profile, loaded.profile
        out = []
        shown_r = self.view.restrictions if self.view.restrictions is not None \
            else a.restrictions
        if shown_r != b.restrictions:
            out.append("restrictions")
        if (a.tax, a.budgets) != (b.tax, b.budgets):
            out.append("tax inputs")
        if a.accounts != b.accounts:
            out.append("cash")
        return out

    def _refresh(self, change=None) -> None:
        setup = self.view.setup
        ready = (self.view.first_year is not None and self.view.error == ""
                 and self.view.trade_rows is not None and setup is not None
                 and self.view.client is not None and self.view.shows(setup.client))
        self._csv.disabled = self._xlsx.disabled = not ready
        edits = self.edits()
        self._pdf.disabled = self.busy or self.upload.client is None or bool(edits)
        self._pdf.tooltip = ("Reset the edited " + " and ".join(edits) + " to render the "
                             "proposal PDF from the profile") if edits else \
            "The client's proposal, rendered from the profile and the lots on screen"

    def _name(self, what: str, suffix: str) -> str:
        cid = self.view.setup.client.client_id if self.view.setup is not None else "client"
        return f"{safe_name(cid)}_{what}{suffix}"  # the proposal's output names

    def _hand_over(self, name: str, data: bytes) -> None:
        self.files[name] = data
        self.last = name
        self._sink.send({"event": "download", "name": name,
                         "mime": _MIME.get(Path(name).suffix, "application/octet-stream")},
                        [data])

    def _say(self, text: str, kind: str = "ok") -> None:
        if kind == "ok":
            self.error = ""
            self._note.value = f'<span class="pma-caption pma-export-ok">{_e(text)}</span>'
        elif kind == "busy":
            self._note.value = f'<span class="pma-caption pma-export-busy">{_e(text)}</span>'
        else:
            self.error = public_text(text)
            self._note.value = message_panel("The export failed", [self.error])

    # ---------------------------------------------------------------- trade file
    def export_trades(self, suffix: str = ".csv") -> bytes | None:
        """Hand today's trades to the browser as a CSV or XLSX file; returns the bytes."""
        fy = self.view.first_year
        setup = self.view.setup
        if fy is None or setup is None or self.view.client is None \
                or not self.view.shows(setup.client):
            self._say("No trades yet: choose a client first, or wait for its trades.",
                      "error")
            return None
        household = None
        if len(setup.client.profile.accounts) > 1:  # every account's orders, as the proposal
            shelf = self.view.shelf.results
            if shelf is not None and shelf.trades is fy and shelf.household is not None:
                household = shelf.household
            else:  # the household section is still being computed: solve it here, with
                # the function that section (and the proposal) calls, around these trades
                self._say("Solving the household around today's trades...", "busy")
                try:
                    household = report_shelf.household(setup, fy, self.view.plan or None)
                except Exception as e:  # noqa: BLE001 - shown to the user, logged
                    if not isinstance(e, PmaLabError):
                        log.exception("household for the trade export failed")
                    self._say(_describe(e), "error")
                    return None
                if household is None:  # a household always has one; never the taxable
                    self._say("The household's other accounts could not be traded, so no "
                              "trade file with the taxable orders alone is written.",
                              "error")
                    return None
        name = self._name("trades", suffix)
        tmp = Path(tempfile.mkdtemp(prefix="pma-export-"))
        try:
            path = tmp / name
            frame = report.export_trades(fy, path if suffix == ".csv" else None,
                                         path if suffix == ".xlsx" else None, household)
            data = path.read_bytes()
        except Exception as e:  # noqa: BLE001 - shown to the user, logged for the operator
            if not isinstance(e, PmaLabError):
                log.exception("trade export failed")
            self._say(_describe(e), "error")
            return None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._hand_over(name, data)
        sides = frame["Action"].value_counts() if "Action" in frame else {}
        self._say(f"{name}: {len(frame)} trade{'s' if len(frame) != 1 else ''} "
                  f"({sides.get('SELL', 0)} lot sells, {sides.get('BUY', 0)} buys).")
        return data

    # ---------------------------------------------------------------- proposal
    def export_pdf(self, wait: bool = False) -> None:
        """Render the client's proposal PDF in the background and hand it to the browser.

        ``wait=True`` renders in the calling thread (tests and scripts).
        """
        edits = self.edits()
        if edits:
            self._say("The PDF is rendered from the client's profile: reset the edited "
                      + " and ".join(edits) + " first (or change the profile).", "error")
            return
        if self.upload.client is None or self.busy:
            return
        profile = self.upload.profile_path
        uploaded = self.upload.uploaded
        if uploaded is not None and self.upload.split_files:
            # the notebook reads whole files: a file of which only some accounts' lots are
            # kept cannot be passed as it is (its replaced lots would come back)
            names = ", ".join(Path(f).name for f in self.upload.split_files)
            self._say(f"The PDF cannot be rendered from this upload: it replaces only some "
                      f"accounts' lots of {names}. Upload one file per account, or a file "
                      "with every account's lots.", "error")
            return
        kept = [Path(f) for f in self.upload.kept_files] if uploaded is not None else []
        uploads = self.upload.uploads if uploaded is not None else ()
        models = self.view.models_for(self.view.client)  # the model files on screen
        self.busy = True
        self._refresh()
        self._say("Rendering the proposal PDF (the full proposal notebook; about a minute)...",
                  "busy")
        loop = None if wait else _running_loop()

        def post(f: Callable[[], None]) -> None:
            if loop is None:
                f()
            else:
                loop.call_soon_threadsafe(f)

        def work() -> None:
            tmp = Path(tempfile.mkdtemp(prefix="pma-export-"))
            try:
                lots = []
                for i, (name, data) in enumerate(uploads):  # each upload in effect
                    (tmp / "lots" / str(i)).mkdir(parents=True)
                    lots.append(tmp / "lots" / str(i) / name)
                    lots[-1].write_bytes(data)
                lots += kept  # the profile's files kept whole
                params = {}  # the notebook's risk_model_file, benchmark_file, target_file
                for u in models.uploads if models is not None else ():
                    (tmp / "models" / u.kind).mkdir(parents=True)
                    path = tmp / "models" / u.kind / safe_file_name(u.name)
                    path.write_bytes(u.content)
                    params[_MODEL_PARAMS[u.kind]] = str(path)
                out = report.render_proposal(profile, tmp / "out", lots=lots,
                                             formats=("html", "pdf"), **params)
                data = Path(out.pdf).read_bytes()  # type: ignore[arg-type]
                name = self._name("proposal", ".pdf")

                def done() -> None:
                    self.busy = False
                    self._hand_over(name, data)
                    self._say(f"{name} ({_mb(len(data))}): the proposal for the client's own "
                              "plan, as the service team renders it.")
                    self._refresh()
                post(done)
            except Exception as e:  # noqa: BLE001 - shown to the user, logged for the operator
                if not isinstance(e, PmaLabError):
                    log.exception("proposal export failed")
                msg = _describe(e)

                def failed() -> None:
                    self.busy = False
                    self._say(msg, "error")
                    self._refresh()
                post(failed)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

        if wait or loop is None:
            work()
        else:
            threading.Thread(target=work, name="pma-export-pdf", daemon=True).start()
