"""Client proposals: the notebook's table helpers, the trade export and the render pipeline.

The proposal is ``notebooks/proposal.ipynb``: a parameters cell (its API, read with
:func:`notebook_parameters`) and cells that each make one or two pma_lab calls and display
the result. Everything the notebook shows that is not a pma_lab object already (a table
shaped for a client, a formatted number, the disclosures) is built here, so the notebook
holds no logic and the numbers in the report are the API's, formatted in one place
(:func:`fmt_usd`, :func:`fmt_pct`, ...).

:func:`render_proposal` runs the notebook with papermill, converts the executed notebook
to HTML with the ``templates/proposal`` nbconvert template (no code, plotly.js inlined
once, no external URL, so the file works offline), prints the HTML to PDF with headless
Chromium when asked, and writes the first trades in a custodian-friendly CSV and XLSX
(:func:`export_trades`).

The first page is the answer: the client's own plan (:func:`recommendation`, with the
figures of :data:`HEADLINE_COLUMNS`) and the alternatives side by side
(:func:`alternatives_table`); every table and chart labels plans with
:func:`pma_lab.report.labels.plan_name` and marks the client's own (:func:`plan_cell`); its
headings of the plan comparison are :data:`pma_lab.report.labels.COMPARISON`.

Three outputs carry data for the pipeline rather than for the reader, under pma_lab
mimetypes: the cover (client name, as-of date, firm name, logo and colours from
``templates/firm.toml``; the template's header reads it), the headline figures of every
plan (``headline``) and the trade list (the rows of the trade files).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import datetime as dt
import functools
import html
import math
import os
import re
import textwrap
import threading
import time
import tomllib
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pma_lab.accounts import NUMBER_IN_TEXT, NUMBERED_NAME_IN_TEXT, tax_treatment
from pma_lab.errors import DataError, PmaLabError, ProposalFailedError, SettingsError
from pma_lab.files import (
    atomic_path,
    check_destination,
    clear_marker,
    neutralise,
    safe_name,
    write_csv,
    write_marker,
    write_text,
    write_xlsx,
)
from pma_lab.formatting import (
    FORMATTERS,
    MISSING,
    NUMERIC,
    fmt_account_type,
    fmt_filing_status,
    fmt_num,
    fmt_pct,
    fmt_rate,
    fmt_shares,
    fmt_term,
    fmt_usd,
    fmt_years,
    missing,
    round_parts,
    round_usd,
)
from pma_lab.io.client import Client, load_client, to_date
from pma_lab.io.holdings import lock_action, lock_reason, lock_symbols
from pma_lab.market.rates import cash_rate
from pma_lab.paths import client_profile, notebooks_dir, templates_dir
from pma_lab.plan.household import LEFT_AS_THEY_ARE
from pma_lab.report import labels
from pma_lab.report.kernel import WarmKernel, kernel_manager_class
from pma_lab.report.labels import plan_cell
from pma_lab.validation import check_text

__all__ = [
    "PROPOSAL_NOTEBOOK", "TEMPLATES_DIR", "TEMPLATE_NAME", "CHROMIUM", "DISCLOSURES",
    "FOOTER_NOTE", "COVER_MIMETYPE", "TABLE_MIMETYPE", "TRADE_COLUMNS", "ReportTable",
    "Cover", "ProposalOutput", "ProposalFailedError", "notebook_parameters", "is_plan_account",
    "render_proposal", "html_to_pdf", "output_paths", "export_trades", "custodian_trades",
    "write_trades", "neutralise", "fmt_usd", "fmt_pct", "fmt_num", "load", "cover",
    "client_summary", "holdings_table", "restrictions_table", "excluded_table",
    "target_summary", "target_top", "frontier", "frontier_table", "transition",
    "transition_settings", "steps_per_year", "todays_trades", "plan_today",
    "comparison_table", "te_years_table", "outcomes_table", "trade_summary", "trade_list",
    "decision_ledger", "calendar", "holdings_after",
    "assumptions", "CUSTODIAN_COLUMNS", "lot_identity", "recorded_identity", "lot_cells",
    "RECORDED_COLUMNS", "TRADE_DTYPES", "FIRM_CONFIG", "PAPER_SIZES",
    "FirmSettings",
    "firm_settings", "intro", "accounts_intro", "Markdown", "retirement_holdings_table",
    "frontier_figure", "frontier_note", "go_to_target_note", "HEADLINE_COLUMNS", "plan_cell",
    "recommendation", "TARGET_TE", "target_te_row", "plans_note", "flows_note",
    "hold_failed_note",
    "carryforward_note", "CARRYFORWARD_NOTE", "todays_carryforward", "RETURN_TRADES",
    "PLAN_TODAY_CARRY",
    "alternatives_table", "headline", "yearly_table", "yearly_tax_parts", "gifts_table",
    "PlanYearTax", "plan_year_tax", "year_tax_parts",
    "charity_summary",
    "withdrawals_table", "harvesting", "carryforward_created", "sector_table", "characteristics",
    "top_holdings_table", "GLOSSARY", "glossary", "plan_figure", "tax_figure",
    "te_figure", "risk_figure", "factor_table", "bias_table", "names_table",
    "screen_costs_table", "vintages_table", "lots_findings", "strategy_findings",
    "transition_findings", "warnings_table", "client_words",
    "MODEL_FILE_PARAMS", "models", "models_table", "PLAN_WORKERS_ENV", "plan_workers",
]

PROPOSAL_NOTEBOOK = notebooks_dir() / "proposal.ipynb"
TEMPLATES_DIR = templates_dir()
TEMPLATE_NAME = "proposal"
CHROMIUM = os.environ.get("PMA_LAB_CHROMIUM", "/usr/bin/chromium")
COVER_MIMETYPE = "application/vnd.pma-lab.cover+json"
TABLE_MIMETYPE = "application/vnd.pma-lab.table+json"

DISCLOSURES = (
    "This proposal is a hypothetical illustration prepared from the account information "
    "the client supplied and from market data as of the date shown; it is not tax, legal "
    "or investment advice. Tax estimates use the tax inputs in the client's profile (the "
    "year's brackets on the stated income and state rate, or the rates given) and the "
    "lot-level basis and dates on file: actual taxes depend on the client's full "
    "return, on future law, and on trades made outside these accounts (including by a "
    "spouse or in retirement accounts, which can trigger the wash-sale rule). Tracking "
    "error is an ex-ante estimate from a statistical risk model and is not a forecast "
    "bound; realised differences from the benchmark can be larger. Projections along the "
    "transition plans assume the stated price path and are not a promise of returns. "
    "Past performance does not guarantee future results. Trades are estimates at the "
    "as-of prices and will execute at market prices. Review lot selections with your "
    "custodian and tax adviser before acting."
)
FOOTER_NOTE = ("Hypothetical illustration; not tax or investment advice. See "
               "\u201cAssumptions and disclosures\u201d.")

TRADE_COLUMNS = ("Account", "Symbol", "Action", "Quantity", "Lot ID", "Est. Price",
                 "Est. Amount", "Term", "Est. Gain")
"""The trade list's core columns (the machine table a proposal notebook emits)."""
RECORDED_COLUMNS = ("Acquired (as recorded)", "Cost per Share (as recorded)")
"""A sold lot's purchase date and cost per share as the lots file (the custodian) records
it: :func:`recorded_identity`."""
CUSTODIAN_COLUMNS = (*TRADE_COLUMNS, "Order Type", "Time in Force", "Wash Sale", "Acquired",
                     "Cost per Share", *RECORDED_COLUMNS)
"""The trade file's columns: the core ones, then the order type, its time in force, the
wash-sale flag, a sale's lot by the purchase date and cost per share its gain and term are
measured from (Form 8949's: :func:`lot_identity`), and the lot's purchase date and cost
per share as recorded (with the lot id, what a custodian identifies a lot by:
:func:`recorded_identity`; the same two figures but for a gift lot sold below the
donor's basis, whose record is the donor's, and a lot whose basis today's wash sale
adjusts)."""
FIRM_CONFIG = TEMPLATES_DIR / "firm.toml"
PAPER_SIZES = ("Letter", "A4")
_PRINT_MARGIN_MM = {"top": 14, "bottom": 16, "left": 12, "right": 12}
_PRINTABLE_PX = {"Letter": round(8.5 * 96 - 24 / 25.4 * 96),  # 725 CSS px
                 "A4": round((210 - 24) / 25.4 * 96)}  # 703 CSS px
"""The width a printed page leaves for content, in CSS pixels (96 per inch), by paper."""
_SQUEEZE_CSS = (
    "table.pma-squeeze th, table.pma-squeeze td { white-space: normal !important; "
    "min-width: 0 !important; padding-left: 3px !important; padding-right: 3px !important; }"
    " table.pma-squeeze { font-size: 8.5px !important; }"
    " table.pma-part + table.pma-part { margin-top: 10px !important; }")
"""How a table too wide for the page is printed: its cells may wrap, in a smaller type;
the parts of a table split to fit (:data:`_FIT_TABLES_JS`) are set apart."""
_FIT_TABLES_JS = """(limit) => {
  const fits = t => t.getBoundingClientRect().right <= limit + 1;
  const wide = () => Array.from(document.querySelectorAll('table')).filter(t => !fits(t));
  for (const t of wide()) t.classList.add('pma-squeeze');
  const split = (t) => {
    const rows = Array.from(t.rows);
    if (!rows.length || rows.some(r => r.cells.length !== rows[0].cells.length
        || Array.from(r.cells).some(c => c.colSpan > 1 || c.rowSpan > 1))) return;
    const n = rows[0].cells.length;
    for (let parts = 2; parts < n; parts++) {
      const size = Math.ceil((n - 1) / parts), pieces = [];
      for (let s = 1; s < n; s += size) {
        const c = t.cloneNode(true);
        c.classList.add('pma-part');
        for (const r of Array.from(c.rows))
          for (let j = n - 1; j >= 1; j--) if (j < s || j >= s + size) r.deleteCell(j);
        if (pieces.length && c.caption) c.caption.textContent += ' (continued)';
        pieces.push(c);
      }
      t.after(...pieces);
      t.style.display = 'none';
      if (pieces.every(fits)) { t.remove(); return; }
      for (const c of pieces) c.remove();
      t.style.display = '';
    }
  };
  for (const t of wide()) split(t);
  return wide().map(t => ((t.caption && t.caption.textContent) || t.textContent)
    .replace(/\\s+/g, ' ').trim().slice(0, 90));
}"""
"""Fit every table to the page (``limit`` px): one wider than that gets the squeezed
style; one still too wide is split into stacked tables of the same rows, each with the
first column (the row's label) and as many of the other columns, in order, as keep every
part within the page (the later parts' captions say "(continued)"); return the captions
of those that still do not fit (a single column wider than the page, or a table with
merged cells)."""


# ------------------------------------------------------------------------------ formatting
# One formatter per unit, shared with the dashboard and the CLI: pma_lab.formatting.
_missing = missing
_fmt_shares = fmt_shares


_FORMATTERS = {**FORMATTERS, "screen": lambda x: _screen_words(str(x))}
_NUMERIC = NUMERIC
_SHORT_TABLE = 25  # printed lines (one a row, more for a long wrapped cell): one page
_KEEP = 5  # lines (rows of one line) kept together at the start and end of a longer table
_WRAP_CHARS = 24  # characters a wrapped cell holds on a printed line, about (the
# calendar's reason column printed 21-25 in retiree's PDF; 40 and 60 overstated it)
_TALL_ROW = 8  # lines: a row this tall may break across pages (not moved whole)


def _row_tag(mine: bool, tall: bool) -> str:
    """A table row's opening tag: ``pma-mine`` (the client's row), ``pma-tall`` (may break)."""
    names = " ".join(c for c, on in (("pma-mine", mine), ("pma-tall", tall)) if on)
    return f'<tr class="{names}">' if names else "<tr>"


def _kept_rows(lines: Sequence[int]) -> int:
    """How many rows from the start of ``lines`` (heights) print together.

    One at least, then more while they hold :data:`_KEEP` lines.

    >>> _kept_rows([1] * 30), _kept_rows([9, 9, 1]), _kept_rows([2, 2, 2])
    (5, 1, 2)
    """
    k, used = 0, 0
    for h in lines:
        if k and used + h > _KEEP:
            break
        k, used = k + 1, used + h
    return k


def _row_lines(row: Sequence[str], wrapped: Sequence[bool]) -> int:
    """A table row's height in printed lines, estimated from its wrapped cells' text.

    A wrapped cell (``ReportTable.wrap``) of ``n`` characters takes about
    ``n / _WRAP_CHARS`` lines; other cells stay on one line.

    >>> _row_lines(["2026-08-30", "x" * 100], [False, True])
    5
    >>> _row_lines(["AAPL", "short"], [False, True])
    1
    """
    return max([1] + [-(-len(v) // _WRAP_CHARS) for v, w in zip(row, wrapped, strict=True)
                      if w])


_ONE_LINE = re.compile(f"{NUMBER_IN_TEXT.pattern}|{NUMBERED_NAME_IN_TEXT.pattern}")
"""What :func:`escape_text` keeps on one line: an account number, a numbered account name."""


def escape_text(text: object) -> str:
    """``text`` escaped for HTML, each account number (``XXXX-1234``) kept on one line.

    A ``white-space: nowrap`` span, not a non-breaking hyphen: the number keeps the very
    characters of the trade files' ``Account`` column (so it reads, copies and searches the
    same); the PDF used to break it as "(XXXX-" / "1234)". A numbered account name
    (``taxable account 2``: :data:`~pma_lab.accounts.NUMBERED_NAME_IN_TEXT`) is kept
    whole the same way, not with a non-breaking space (the CLI and the tests read the
    same words); the PDF broke it as "taxable account" / "2".

    Examples
    --------
    >>> escape_text("Joint account (XXXX-4821) & <IRA>")
    'Joint account (<span style="white-space: nowrap">XXXX-4821</span>) &amp; &lt;IRA&gt;'
    >>> escape_text("the taxable account 2 and IRA")
    'the <span style="white-space: nowrap">taxable account 2</span> and IRA'
    """
    return _ONE_LINE.sub(lambda m: f'<span style="white-space: nowrap">{m.group(0)}</span>',
                         html.escape(str(text)))


@dataclass(frozen=True)
class ReportTable:
    """A table as the report shows it: the raw frame plus a format per column.

    Attributes
    ----------
    frame : pd.DataFrame
        The values (numbers stay numbers; tests and exports read them).
    formats : Mapping[str, str]
        Column -> one of ``usd``, ``usd2``, ``pct``, ``pct1``, ``int``, ``num2``,
        ``shares``, ``text`` (default ``text``).
    caption : str
        Shown above the table.
    name : str
        With ``machine=True``, the rows are also emitted under :data:`TABLE_MIMETYPE`
        with this name, so :func:`render_proposal` can read them from the executed notebook.
    key_value : bool
        Two columns (label, value) rendered as a definition table.
    wrap : tuple[str, ...]
        Columns whose text may wrap (long text); other cells stay on one line.
    empty : str
        Shown instead of an empty table.
    highlight : tuple[int, ...]
        Row positions drawn as the client's own plan (bold, marked).
    right : tuple[str, ...]
        Text columns right-aligned like numbers (pre-formatted figures).
    headers : Mapping[str, str]
        Column -> the heading shown (the frame keeps its own column names).
    note : str
        Shown under the table (plain words; ``""``: none).
    hidden : tuple[str, ...]
        Columns not shown (HTML and text) but in the machine data (``machine=True``): the
        trade list's recorded purchase date and cost per share when every lot's record is
        its tax figures (:func:`trade_list`).
    """

    frame: pd.DataFrame
    formats: Mapping[str, str] = field(default_factory=dict)
    caption: str = ""
    name: str = ""
    machine: bool = False
    key_value: bool = False
    wrap: tuple[str, ...] = ()
    empty: str = "None."
    highlight: tuple[int, ...] = ()
    right: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    note: str = ""
    hidden: tuple[str, ...] = ()

    def formatted(self) -> pd.DataFrame:
        """The frame with every shown cell formatted as text (:attr:`hidden` left out)."""
        out = pd.DataFrame(index=self.frame.index)
        for c in self.frame.columns:
            if c in self.hidden:
                continue
            f = _FORMATTERS[self.formats.get(c, "text")]
            out[c] = [f(v) for v in self.frame[c]]
        return out

    def _cells(self) -> _Cells:
        """:meth:`formatted`'s columns as lists of text, without building its frame.

        What the HTML and the plain text read (a proposal shows ~30 tables: the formatted
        frame's string columns cost more to build and to read back than the formatting).
        """
        frame = self.frame
        cols = []
        names = [c for c in frame.columns if c not in self.hidden]
        for c in names:
            f = _FORMATTERS[self.formats.get(c, "text")]
            values = frame[c]._values
            # a numpy column iterates as its .item()s, which is what tolist() gives
            cols.append([f(v) for v in (values.tolist() if isinstance(values, np.ndarray)
                                        else values)])
        return _Cells(names, cols)

    def _repr_html_(self, txt: _Cells | None = None) -> str:
        """The table as HTML; ``txt`` is :meth:`_cells` when the caller has it."""
        e = html.escape
        cap = f"<caption>{escape_text(self.caption)}</caption>" if self.caption else ""
        if self.frame.empty:
            return (f'<div class="pma-table-wrap"><p class="pma-empty">'
                    f'{e(self.caption + ": " if self.caption else "")}{e(self.empty)}</p></div>')
        txt = self._cells() if txt is None else txt
        if self.key_value:
            rows = "".join(f'<tr><th scope="row">{escape_text(str(k))}</th>'
                           f"<td>{escape_text(v)}</td></tr>"
                           for k, v in zip(txt.columns[0], txt.columns[1], strict=True))
            return (f'<div class="pma-table-wrap"><table class="pma-table pma-kv">{cap}'
                    f"<tbody>{rows}</tbody></table></div>")
        cls = [' class="num"' if self.formats.get(c, "text") in _NUMERIC or c in self.right
               else ' class="wrap"' if c in self.wrap else "" for c in txt.names]
        head = "".join(f'<th{k} scope="col">{e(str(self.headers.get(c, c)))}</th>'
                       for c, k in zip(txt.names, cls, strict=True))
        mine = set(self.highlight)
        # each row's printed height (lines): a tall row (long wrapped text) may break
        # across pages, and the short-table and kept-together rules count lines, not rows
        # (reviewer 1, session 22, F8: five tall rows kept together moved a calendar whole
        # to the next page, leaving its heading alone on an almost empty page)
        # (main's rule, session 24: a table is kept whole by the lines it prints, not rows)
        wrapped = [k == ' class="wrap"' for k in cls]
        lines = [_row_lines(row, wrapped) for row in zip(*txt.columns, strict=True)] \
            if any(wrapped) else [1] * len(txt.columns[0])
        rows = [_row_tag(i in mine, h >= _TALL_ROW)
                + "".join(f"<td{k}>{escape_text(v)}</td>"
                          for v, k in zip(row, cls, strict=True))
                + "</tr>" for i, (row, h) in enumerate(zip(zip(*txt.columns, strict=True),
                                                          lines, strict=True))]
        n = len(rows)
        if sum(lines) <= _SHORT_TABLE:  # printed whole on one page, never split
            wrap, body = "pma-table-wrap pma-short", f"<tbody>{''.join(rows)}</tbody>"
        else:  # split, but never leaving fewer than _KEEP lines (one row at least) alone
            first = _kept_rows(lines)
            last = n - _kept_rows(lines[::-1])
            wrap = "pma-table-wrap"
            body = (f'<tbody class="pma-keep">{"".join(rows[:first])}</tbody>'
                    f'<tbody>{"".join(rows[first:max(first, last)])}</tbody>'
                    f'<tbody class="pma-keep">{"".join(rows[max(first, last):])}</tbody>')
        note = f'<p class="pma-table-note">{e(self.note)}</p>' if self.note else ""
        named = f" pma-table-{e(self.name)}" if self.name else ""  # for the print CSS
        return (f'<div class="{wrap}"><table class="pma-table{named}">{cap}<thead><tr>'
                f"{head}</tr></thead>{body}</table>{note}</div>")

    def __repr__(self) -> str:
        return self._text(None)

    def _text(self, txt: _Cells | None) -> str:
        """The table as plain text; ``txt`` is :meth:`_cells` when the caller has it.

        A :attr:`wrap` column's long text reads whole on lines of at most
        :data:`TEXT_WIDTH` characters within its column (:func:`_plain_text`).
        """
        if len(self.frame):
            txt = self._cells() if txt is None else txt
            headers = dict(self.headers)
            text = _plain_text_columns(
                [headers.get(c, c) for c in txt.names], txt.columns,
                tuple(self.headers.get(c, c) for c in self.wrap),
                lambda: self.formatted().rename(columns=headers))
        else:
            text = self.empty
        text = f"{text}\n{self.note}" if self.note else text
        return f"{self.caption}\n{text}" if self.caption else text

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-safe records (NaN -> None, dates -> ISO text)."""
        out = []
        for row in self.frame.to_dict(orient="records"):
            out.append({str(k): _json_safe(v) for k, v in row.items()})
        return out

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        # the cells are formatted once for both views (a proposal displays ~30 tables)
        txt = self._cells() if len(self.frame) else None
        b = {"text/html": self._repr_html_(txt), "text/plain": self._text(txt)}
        if self.machine:
            b[TABLE_MIMETYPE] = {"name": self.name, "columns": list(map(str, self.frame)),
                                 "rows": self.records()}
        return b


@dataclass(frozen=True)
class _Cells:
    """A table's cells formatted as text (:meth:`ReportTable._cells`).

    The column names, and a list of text per column.
    """

    names: list
    columns: list[list[str]]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


TEXT_WIDTH = 60
"""The most characters a long text cell (a :attr:`ReportTable.wrap` column: a failed plan's
note, a warning) takes a line in a plain-text table (:func:`_plain_text`): ``pma-lab
transition`` printed a failed plan's note, some 600 characters, on its row's one line, so
a terminal broke it across the other rows."""


def _plain_text(txt: pd.DataFrame, wrap: Sequence[str] = ()) -> str:
    """``txt.to_string(index=False)`` for a frame of formatted cells, ~5x faster.

    Each column right-justified to its widest cell or heading, the columns one space
    apart, as pandas prints text (a proposal shows ~30 tables: pandas' formatter took
    ~1 ms a table). A cell that is not text or holds a control character (which pandas
    escapes), or a frame without rows or columns, is left to pandas, which then cuts no
    cell short. A column of ``wrap`` with a cell longer than :data:`TEXT_WIDTH` is
    left-justified and its cells wrapped at word boundaries onto lines of at most that
    width (a longer word keeps its own line), the row's other cells blank on the lines
    after its first: the whole text, read down its column. The first column (the row's
    label: a plan's, a name) is never wrapped, so each row is found by it.

    Examples
    --------
    >>> print(_plain_text(pd.DataFrame({"Name": ["Apple Inc.", "Microsoft"],
    ...                                 "Value": ["$1", "$12"]})))
          Name Value
    Apple Inc.    $1
     Microsoft   $12
    """
    return _plain_text_columns(list(txt.columns), txt.to_numpy(dtype=object).T.tolist(),
                               wrap, lambda: txt)


def _plain_text_columns(names: Sequence[object], cells: Sequence[Sequence[object]],
                        wrap: Sequence[str], frame: Callable[[], pd.DataFrame]) -> str:
    """:func:`_plain_text` of the frame whose column ``names`` hold ``cells``.

    ``cells`` is a list of values per column; ``frame()`` builds that frame for pandas' own
    formatting when it is needed.
    """
    columns = [[str(c), *v] for c, v in zip(names, cells, strict=True)]
    n_rows = len(columns[0]) - 1 if columns else None
    long = [i > 0 and str(c) in wrap and any(type(v) is str and len(v) > TEXT_WIDTH
                                             for v in col[1:])
            for i, (c, col) in enumerate(zip(names, columns, strict=True))]
    if any(long):  # the long text on lines of its own (a newline in it is a space)
        columns = [[col[0], *(textwrap.wrap(v, TEXT_WIDTH, break_long_words=False,
                                            break_on_hyphens=False) or [""]
                              if type(v) is str else [v] for v in col[1:])] if w else col
                   for col, w in zip(columns, long, strict=True)]
    if not n_rows or not all(
            type(v) is str and not _CONTROL.search(v) for col, w in zip(columns, long,
                                                                       strict=True)
            for v in (col[:1] + [x for c in col[1:] for x in c] if w else col)):
        with pd.option_context("display.max_rows", 40, "display.width", 140,
                               "display.max_colwidth", None):
            return frame().to_string(index=False)
    if not any(long):
        padded = []
        for col in columns:
            width = max(map(len, col))
            padded.append([v.rjust(width) for v in col])
        return "\n".join(" ".join(row) for row in zip(*padded, strict=True))
    width = [max(len(col[0]), *(len(x) for c in col[1:] for x in c)) if w
             else max(map(len, col)) for col, w in zip(columns, long, strict=True)]
    out = [" ".join(col[0].ljust(n) if w else col[0].rjust(n)
                    for col, w, n in zip(columns, long, width, strict=True)).rstrip()]
    for i in range(1, len(columns[0])):
        lines = max(len(col[i]) if w else 1 for col, w in zip(columns, long, strict=True))
        for k in range(lines):
            out.append(" ".join(
                (col[i][k] if k < len(col[i]) else "").ljust(n) if w
                else (col[i] if k == 0 else "").rjust(n)
                for col, w, n in zip(columns, long, width, strict=True)).rstrip())
    return "\n".join(out)


def _json_safe(v: object) -> object:
    if _missing(v):
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (dt.date, pd.Timestamp)):
        return v.isoformat()
    return v if isinstance(v, (int, str)) else str(v)


def _kv(rows: Sequence[tuple[str, str]], caption: str = "") -> ReportTable:
    return ReportTable(pd.DataFrame(rows, columns=["item", "value"]), caption=caption,
                       key_value=True)


_COLOUR = r"#[0-9a-fA-F]{6}"


@dataclass(frozen=True)
class FirmSettings:
    """The firm's identity in the report (see :func:`firm_settings`).

    ``logo`` is a ``data:`` URI (embedded, so the HTML stays self-contained); ``brand``
    and ``accent`` are ``#rrggbb`` colours; ``disclaimer`` is the page footer.
    """

    name: str = "pma_lab"
    logo: str = ""
    brand: str = "#0b3d91"
    accent: str = "#e3a21a"
    disclaimer: str = FOOTER_NOTE

    def __post_init__(self) -> None:
        check_text(self, "name", allow_empty=False, example="Example Wealth")
        check_text(self, "logo", pattern=r"data:image/(svg\+xml|png);base64,[A-Za-z0-9+/=]+",
                   example="data:image/png;base64,iVBORw0...")
        check_text(self, "brand", pattern=_COLOUR, example="#0b3d91")
        check_text(self, "accent", pattern=_COLOUR, example="#e3a21a")
        check_text(self, "disclaimer")


@dataclass(frozen=True)
class Cover:
    """The proposal's identity: read by the template's header and by the pipeline."""

    firm_name: str
    client_id: str
    client_name: str
    as_of: str
    description: str = ""
    footer: str = FOOTER_NOTE
    logo: str = ""
    brand: str = FirmSettings.brand
    accent: str = FirmSettings.accent

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        data = {k: getattr(self, k) for k in ("firm_name", "client_id", "client_name",
                                              "as_of", "description", "footer", "logo",
                                              "brand", "accent")}
        return {COVER_MIMETYPE: data,
                "text/plain": f"{self.firm_name} proposal for {self.client_name} "
                              f"({self.client_id}) as of {self.as_of}"}


class _Html:
    """Pre-built, escaped HTML for display (with optional machine data for the pipeline)."""

    def __init__(self, text: str, plain: str, data: ReportTable | None = None):
        self.text, self.plain, self.data = text, plain, data

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        b = {"text/html": self.text, "text/plain": self.plain}
        if self.data is not None:
            d = self.data
            b[TABLE_MIMETYPE] = {"name": d.name, "columns": list(map(str, d.frame)),
                                 "rows": d.records()}
        return b

    def _repr_html_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.plain


# ------------------------------------------------------------------- notebook cell helpers
def load(profile: str | Path, lots: Sequence[str | Path] = (), as_of: str | None = "",
         ) -> Client:
    """Load the client the way the notebook's parameters say (``""``/``[]``: the profile's).

    ``profile`` is a profile path or a sample client's name
    (:func:`pma_lab.paths.client_profile`).

    Raises
    ------
    ProfileError, LotDataError, BlotterError, PmaLabError
        From :func:`pma_lab.io.client.load_client`.
    DataError
        When ``profile`` is neither a file nor a sample client's name.
    """
    return load_client(client_profile(profile), as_of=as_of or None,
                       lots_files=list(lots) or None)


def firm_settings(path: str | Path | None = None) -> FirmSettings:
    """The firm's name, logo and colours from a TOML file (default :data:`FIRM_CONFIG`).

    The file has a ``[firm]`` table: ``name``, ``logo`` (an SVG or PNG path relative to
    the file; embedded in the report, so the HTML stays self-contained), ``brand`` and
    ``accent`` colours (``#rrggbb``) and an optional ``disclaimer`` (the page footer).

    Raises
    ------
    DataError
        Naming the file and key, for a missing file, a malformed TOML, an unknown key, a
        colour that is not ``#rrggbb`` or a logo that is missing or not SVG/PNG.
    """
    import base64

    p = Path(path) if path else FIRM_CONFIG
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"firm configuration {p} does not exist; give the path of a TOML "
                        "file with a [firm] table (name, logo, brand, accent)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"firm configuration {p} is not valid TOML: {e}") from None
    firm = doc.get("firm")
    if not isinstance(firm, dict):
        raise DataError(f"firm configuration {p} has no [firm] table; add one with name, "
                        "logo, brand and accent")
    known = {"name", "logo", "brand", "accent", "disclaimer"}
    extra = sorted(set(firm) - known)
    if extra:
        raise DataError(f"firm configuration {p}: unknown key(s) {', '.join(extra)} in "
                        f"[firm]; use {', '.join(sorted(known))}")
    for k in known:
        if k in firm and not isinstance(firm[k], str):
            raise DataError(f"firm configuration {p}: [firm] {k} must be text")
    for k in ("brand", "accent"):
        if k in firm and not re.fullmatch(_COLOUR, firm[k]):
            raise DataError(f"firm configuration {p}: [firm] {k} = {firm[k]!r} is not a "
                            "colour; write it as #rrggbb, e.g. \"#0b3d91\"")
    logo = ""
    if firm.get("logo"):
        lp = (p.parent / firm["logo"]).resolve()
        mime = {".svg": "image/svg+xml", ".png": "image/png"}.get(lp.suffix.lower())
        if mime is None or not lp.is_file():
            raise DataError(f"firm configuration {p}: [firm] logo {firm['logo']!r} is not "
                            "an existing .svg or .png file (paths are relative to the "
                            "configuration file)")
        logo = f"data:{mime};base64," + base64.b64encode(lp.read_bytes()).decode("ascii")
    d = FirmSettings()
    try:
        return FirmSettings(name=firm.get("name", d.name), logo=logo,
                            brand=firm.get("brand", d.brand),
                            accent=firm.get("accent", d.accent),
                            disclaimer=firm.get("disclaimer", d.disclaimer))
    except SettingsError as e:
        raise DataError(f"firm configuration {p}: [firm] {e}") from None


def cover(client: Client, firm_name: str = "", firm_config: str | Path = "") -> Cover:
    """The cover data for the template's header (firm, logo, colours, client, as-of date).

    ``firm_name`` overrides the configuration's name; ``firm_config`` is the firm's TOML
    (default :data:`FIRM_CONFIG`, see :func:`firm_settings`).
    """
    p = client.profile
    f = firm_settings(firm_config or None)
    return Cover(str(firm_name or f.name), p.client_id, p.name or p.client_id,
                 client.as_of.isoformat(), p.description, footer=f.disclaimer,
                 logo=f.logo, brand=f.brand, accent=f.accent)


def _single_account(client: Client) -> bool:
    return len(client.profile.accounts) == 1


def _plan_scope(client: Client) -> str:
    """Which accounts the plan and its figures cover; ``""`` for a one-account client.

    With several accounts the plans run on the first taxable account (the other accounts
    are not rebalanced by them), so page one's tracking error, taxes and after-tax values
    are that account's; the household section covers every account (and nets every taxable
    account's trades today on the one return: :func:`pma_lab.report.shelf.
    household_year_tax`).
    """
    if _single_account(client):
        return ""
    accounts = client.profile.accounts
    taxable = [a.account_id for a in accounts if a.account_type.value == "taxable"]
    # the plan follows the first taxable account (transition.first_trades); its id only
    # to tell two apart (pma_lab.accounts.account_names)
    which = f"your {labels.account_name(accounts, taxable[0])}" if taxable else \
        "your taxable account"
    n = len(accounts)
    every = "both accounts" if n == 2 else f"all {n} accounts"
    others = [f"your {labels.account_name(accounts, t)}" for t in taxable[1:]]
    more = (f"; {_and(others)} {'is' if len(others) == 1 else 'are'} traded there "
            "around today's trades, every taxable account's gains and losses netted on "
            "your one tax return (the plan's gains budget counts "
            f"{'its' if len(others) == 1 else 'their'} sales today, and the plan's taxes "
            "are what its own trades add on top of them)" if others else "")
    return (f"The plan and the figures on this page are those of {which} alone, not of "
            f"{every}; the section \u201cOne plan across your accounts\u201d shows the "
            f"household as a whole{more}.")


def intro(client: Client) -> Markdown:
    """The opening paragraph, worded for one account or several.

    With several accounts it says that the plan is the taxable account's and the household
    section covers them all (the recommendation says so beside its figures,
    :func:`_plan_scope`).
    """
    if _single_account(client):
        what, plan = "your account", "the plan first"
    else:
        accounts = client.profile.accounts
        what = f"your {len(accounts)} accounts"
        # the plan follows the first taxable account, named as _plan_scope names it
        taxable = [a.account_id for a in accounts if a.account_type.value == "taxable"]
        which = labels.account_name(accounts, taxable[0]) if taxable else "taxable account"
        plan = (f"the plan for your {which} first (the section \u201cOne plan "
                "across your accounts\u201d covers them all)")
    return Markdown(
        f"This proposal sets out how we recommend moving {what} to a tax-managed portfolio "
        f"that tracks the S&P 500: {plan}, with its taxes year by year, how closely "
        "it follows the index and the range of outcomes; then the alternatives, the "
        "portfolio before and after, the trades proposed today and the lots they sell.")


def accounts_intro(client: Client) -> Markdown:
    """The holdings section's sentence, worded for one account or several."""
    if _single_account(client):
        return Markdown("Your account valued at the as-of prices, with the gains and losses "
                        "embedded in its lots.")
    return Markdown("Your accounts valued at the as-of prices, with the gains and losses "
                    "embedded in the taxable lots (retirement accounts owe no capital-gains "
                    "tax on sales, so their gains are not shown by term).")


class Markdown:
    """Generated prose, shown as escaped HTML paragraphs."""

    def __init__(self, text: str):
        self.text = text

    def _repr_html_(self) -> str:
        return "".join(f'<p class="pma-prose">{escape_text(t)}</p>'
                       for t in self.text.split("\n\n"))

    def __repr__(self) -> str:
        return self.text


def client_summary(client: Client, summary) -> ReportTable:
    """Who the client is and what the accounts hold (values, gains, tax profile).

    Parameters
    ----------
    client : Client
    summary : LotsSummary
        From :func:`pma_lab.io.holdings.summarize_lots`.
    """
    p, t = client.profile, summary.totals
    accounts = "; ".join(f"{labels.account_name(p.accounts, a.account_id, capital=True)}, "
                         f"cash {fmt_usd(a.cash)}" for a in p.accounts)
    rows = [
        ("Client", p.name or p.client_id),
        ("As of", client.as_of.isoformat()),
        ("Account" if _single_account(client) else "Accounts", accounts),
        ("Market value", fmt_usd(t.market_value)), ("Cash", fmt_usd(t.cash)),
        ("Total value", fmt_usd(t.total_value)),
    ]
    if any(a.account_type.value != "taxable" for a in p.accounts):
        rows.append(("Of which in retirement accounts", fmt_usd(t.ira_value)))
    rows += [
        ("Lots / stocks and funds", f"{int(t.lots)} / {int(t.tickers)}"),
        ("Unrealised short-term gains / losses (taxable)",
         f"{fmt_usd(t.st_gain)} / {fmt_usd(t.st_loss)}"),
        ("Unrealised long-term gains / losses (taxable)",
         f"{fmt_usd(t.lt_gain)} / {fmt_usd(t.lt_loss)}"),
        ("Filing status", fmt_filing_status(p.tax.filing_status)),
        ("Marginal tax rates short-term / long-term",
         f"{fmt_rate(p.tax.st_rate)} / {fmt_rate(p.tax.lt_rate)}"),
    ]
    c_st, c_lt = p.carryforward_into(client.as_of.year, f"the analysis date {client.as_of}")
    if c_st or c_lt:  # the loss carried into the analysis year (as every figure reads it)
        rows.append(("Loss carryforwards short-term / long-term",
                     f"{fmt_usd(c_st)} / {fmt_usd(c_lt)}"))
    mine = summary.realized_this_year()
    if mine is not None:  # the year's own sales: a carryforward is its own row above
        rows.append((f"Realised so far in {mine[0]} (short-term / long-term net)",
                     f"{fmt_usd(mine[1])} / {fmt_usd(mine[2])}"))
    b = p.budgets
    if b.total is not None or b.short_term is not None or b.long_term is not None:
        parts = [f"{k} {fmt_usd(v)}" for k, v in (("total", b.total), ("short-term",
                 b.short_term), ("long-term", b.long_term)) if v is not None]
        rows.append(("Annual budget for net realised gains", ", ".join(parts)))
    if p.concentrated is not None:
        rows.append(("Concentrated position", f"{p.concentrated.ticker} "
                     f"({p.concentrated.strategy.replace('_', ' ')})"))
    if p.charity is not None and p.charity.annual_gift:
        rows.append(("Annual gift of appreciated lots", fmt_usd(p.charity.annual_gift)))
    if p.description:
        rows.append(("Notes", p.description))
    return _kv(rows, "Client summary")


def _account_cells(client: Client | None, ids) -> list[str]:
    """Each account id of a table's Account column in the client's words.

    With ``client``, :func:`labels.account_name` (``Taxable account``, ``Roth IRA``, the
    id added in parentheses when two accounts share a kind, as every other section names
    them); without, the ids.
    """
    if client is None:
        return [str(a) for a in ids]
    accounts = client.profile.accounts
    names = labels.profile_account_names(accounts)
    return [labels.account_name(accounts, a, capital=True) if str(a) in names else str(a)
            for a in ids]


def holdings_table(summary, client: Client | None = None) -> ReportTable:
    """The taxable accounts' holdings: value, weight of the total, basis, gains by term.

    With ``client``, the Account column names each account as the retirement-holdings
    table beside it does (:func:`_account_cells`); without, by its id. A lot received as a
    gift is named in the note under the table with its two bases (the donor's for a gain,
    the value at the gift for a loss: :func:`pma_lab.io.holdings.gift_lot_words`), so the
    gain or loss its row counts can be read; its unrealised figure is a sale's at today's
    price under that rule, and its cost basis the one that figure is measured from (the
    note says so: :data:`pma_lab.io.holdings.GIFT_BASIS_NOTE`).
    """
    from pma_lab.io.holdings import GIFT_BASIS_NOTE, gift_lot_words

    lots = summary.lots
    gifts = (lots[lots.gift_date.notna() & (lots.account_type.astype(str) == "taxable")]
             if "gift_date" in lots else lots.iloc[:0])
    note = "; ".join(gift_lot_words(r) for r in gifts.itertuples())
    h = summary.holdings
    h = h[h.account_type.astype(str) == "taxable"]
    f = pd.DataFrame({
        "Account": _account_cells(client, h.account), "Symbol": h.ticker,
        "Shares": h.shares, "Market value": h.market_value, "Weight": h.weight,
        "Cost basis": h.basis, "Unrealised short-term": h.unrealized_st,
        "Unrealised long-term": h.unrealized_lt, "Lots": h.lots})
    return ReportTable(f.reset_index(drop=True),
                       {"Shares": "shares", "Market value": "usd", "Weight": "pct",
                        "Cost basis": "usd", "Unrealised short-term": "usd",
                        "Unrealised long-term": "usd", "Lots": "int"},
                       "Taxable holdings (weight: share of the total value)",
                       empty="No taxable holdings.",
                       note=f"Gift lots: {note}. {GIFT_BASIS_NOTE}" if note else "")


def retirement_holdings_table(summary, client: Client | None = None) -> ReportTable:
    """Retirement-account holdings: no capital-gains tax on sales, so no gain columns.

    With ``client``, each account is named in the client's words
    (:func:`labels.profile_account_names`: ``Traditional IRA``, ``Roth IRA``, ``IRA`` when
    the profile does not state its kind) and its ``Tax treatment`` column says how that
    kind is taxed (:func:`pma_lab.accounts.tax_treatment`: ``Tax-deferred``, ``Tax-free``,
    ``Tax-deferred (assumed)`` for an IRA of unstated kind), not the name again; without,
    the account's id and its ``Type`` ``IRA (retirement)``.
    """
    h = summary.holdings
    h = h[h.account_type.astype(str) != "taxable"]
    if client is None:
        kind_col, kinds = "Type", [fmt_account_type(t) for t in h.account_type]
    else:
        by_id = {a.account_id: labels.account_kind(a) for a in client.profile.accounts}
        kind_col, kinds = "Tax treatment", [tax_treatment(by_id.get(a, t)) for a, t in
                                            zip(h.account, h.account_type, strict=True)]
    f = pd.DataFrame({"Account": _account_cells(client, h.account), kind_col: kinds,
                      "Symbol": h.ticker, "Shares": h.shares,
                      "Market value": h.market_value, "Weight": h.weight})
    return ReportTable(f.reset_index(drop=True),
                       {"Shares": "shares", "Market value": "usd", "Weight": "pct"},
                       "Retirement-account holdings (sales owe no capital-gains tax)",
                       empty="No retirement accounts.")


_LISTS = {"no_buy": "Your do-not-buy list", "hold_no_add": "Your keep-but-do-not-add list",
          "never_hold": "Your never-hold list"}


def _screen_words(x: str) -> str:
    """A screen or restriction label (``fossil_fuels``, ``total: cannot hold``) in words.

    A catalog screen reads its catalog name, which says what it covers: ``Shariah
    (business-activity screen)``, not ``Shariah`` (reviewer 1, session 22: a Shariah-
    observant client could not tell that the financial-ratio screens are not applied).
    """
    if x.startswith("total: "):
        return "All screens together: " + x[len("total: "):]
    if x in _LISTS:
        return _LISTS[x]
    from pma_lab.portfolio.screens import load_catalog

    cat = load_catalog()
    if x in cat.screens:
        return cat.screens[x].name
    words = x.replace("_", " ")
    return words[:1].upper() + words[1:]  # not str.capitalize: 'never hold: tsla' (s25)


def _keep_words() -> str:
    """What the keep list does to names held, as the engine applies it.

    :data:`pma_lab.optimize.engine.KEEP_LIST_NEVER_SOLD` says which rule applies.
    """
    from pma_lab.optimize import engine

    return ("kept: never sold, never added to" if engine.KEEP_LIST_NEVER_SOLD else
            "never added to; not force-sold (may be trimmed to rebalance or harvest a loss)")


def held_words(effect: str) -> str:
    """What a restriction does to names already held, as the engine applies it.

    ``effect`` is a row's of :meth:`pma_lab.portfolio.screens.Eligibility.summary`
    (``sell``, ``sell_within:N``, ``no_buy``, ``hold_no_add``; ``total``: no words): the
    screens table's "If already held" and the dashboard's Restrictions panel.
    """
    from pma_lab.portfolio.restrictions import HeldAction

    if effect == "hold_no_add":
        return _keep_words()
    return "" if effect == "total" else HeldAction.parse(effect).describe()


def restriction_effects(restrictions) -> list[tuple[str, str, tuple[str, ...]]]:
    """Each of a profile's restrictions: the screens table's name, its "If already held".

    ``(screen, if already held, names)``: the rows of :func:`restrictions_table` in its
    order (the category screens, the never-hold, keep and do-not-buy lists, the excluded
    sectors and industries) before any universe is screened, ``names`` the list's own
    (empty for a screen). The dashboard's Restrictions panel says these (reviewer 1,
    session 22, F7: it printed "hold no add: AAPL").
    """
    rows = [(c, str(restrictions.held_action(c)), ()) for c in restrictions.categories]
    for key, names in (("never_hold", restrictions.never_hold),
                       ("hold_no_add", restrictions.hold_no_add),
                       ("no_buy", restrictions.no_buy)):
        if names:
            effect = str(restrictions.held_action(key)) if key == "never_hold" else key
            rows.append((key, effect, tuple(names)))
    for key, values in (("exclude_sectors", restrictions.exclude_sectors),
                        ("exclude_industries", restrictions.exclude_industries)):
        rows += [(f"{key}: {v}", str(restrictions.held_action(key)), ())
                 for v in dict.fromkeys(values)]
    return [(_screen_words(x), held_words(e), n) for x, e, n in rows]


def restrictions_table(setup) -> ReportTable:
    """One row per screen or restriction: what it does and how much of the index it hits."""
    bm = labels.benchmark_label(setup.benchmark)
    s = setup.eligibility.summary(setup.benchmark.weights)
    words = held_words  # the restriction's action on names already held

    def names(tick: tuple) -> str:
        tick = tuple(tick)
        head = ", ".join(tick[:15])
        return head + (f" and {len(tick) - 15} more" if len(tick) > 15 else "")

    # a keep-list name a sell screen or glide also catches is sold: that screen wins
    # (reviewer 2, session 22: MO on the keep list and the tobacco screen read "kept")
    table = setup.eligibility.table.set_index("ticker")
    effects = []
    for x, tick in zip(s.effect, s.tickers, strict=True):
        e = words(x)
        if x == "hold_no_add":
            sold = [t for t in tick if t in table.index and not table.at[t, "hold_no_add"]]
            if sold:
                e += (f" (except {', '.join(sold)}, which a stricter screen sells: "
                      "that screen wins)")
        effects.append(e)
    f = pd.DataFrame({
        "Restriction": s.restriction, "Effect": effects,
        "Names": s.names, "Benchmark weight": s.weight,
        "Tickers": [names(t) for t in s.tickers]})
    return ReportTable(f, {"Restriction": "screen", "Names": "int",
                           "Benchmark weight": "pct"},
                       f"Screens applied to the {bm} universe: names not bought and "
                       "their weight", wrap=("Tickers", "Effect"),
                       empty="No restrictions.",
                       headers={"Restriction": "Screen", "Effect": "If already held",
                                "Names": "Names not bought",
                                "Benchmark weight": f"Weight in the {bm}",
                                "Tickers": "Symbols"})


def _held_through_funds(setup, held: set[str]) -> dict[str, list[str]]:
    """The stocks held indirectly through the funds in ``held``: ticker -> the funds.

    An S&P 500 tracker holds every benchmark name, a sector fund the benchmark's names of
    its sector (:func:`~pma_lab.plan.scenarios.fund_composition`, the look-through the
    optimiser and the report use).
    """
    from pma_lab.plan.scenarios import fund_composition

    funds = sorted(held - set(setup.risk.tickers) - {"CASH"})
    if not funds:
        return {}
    comp = fund_composition(funds, setup.benchmark.weights, setup.sectors,
                            setup.market.etf_info())
    out: dict[str, list[str]] = {}
    for f in funds:
        for t in comp.index[comp[f] > 0]:
            out.setdefault(t, []).append(f)
    return out


def excluded_table(setup) -> ReportTable:
    """The names the client may not hold, with the reason and whether they are held now."""
    bm = labels.benchmark_label(setup.benchmark)
    from pma_lab.portfolio.restrictions import HeldAction

    ex = setup.eligibility.excluded()
    held = set(setup.client.lots.lots.ticker)
    w = setup.benchmark.weights
    through = _held_through_funds(setup, held)

    def held_now(t: str, a: str) -> str:
        if t in held:
            return f"yes: {HeldAction.parse(a).describe().split(';')[0]}"
        if t in through:
            return (f"through {', '.join(through[t])} only (a fund's holding: not sold, "
                    "the fund is managed as a whole)")
        return "no"

    f = pd.DataFrame({
        "Ticker": ex.ticker, "Name": ex.name, "Sector": ex.gics_sector,
        f"Weight in the {bm}": [float(w.get(t, 0.0)) for t in ex.ticker],
        "Held now": [held_now(t, a)
                     for t, a in zip(ex.ticker, ex.held_action, strict=True)],
        "Reason": [str(r).replace("_", " ") for r in ex.reasons]})
    # the names held or in the benchmark today, held ones first; the universe's others
    # (acquired or delisted since: COG, PXD, HES at 0.00 %) are counted, not listed
    # (reviewer 1, session 22: 30 such rows over three pages)
    is_held = f["Held now"].ne("no")
    keep = is_held | (f[f"Weight in the {bm}"] > 0)
    gone = int((~keep).sum())
    f = pd.concat([f[keep & is_held], f[keep & ~is_held]], ignore_index=True)
    more = (f"; {gone} other screened name{'s' if gone != 1 else ''} of the universe, not "
            f"in the {bm} today, not listed" if gone else "")
    return ReportTable(f, {f"Weight in the {bm}": "pct"},
                       "Names you may not hold (sold if held, as each screen says)" + more,
                       wrap=("Name", "Reason"), headers={"Ticker": "Symbol"},
                       empty="No name has to be sold or kept out of the account: the "
                             "screens (if any) only stop purchases.")


def target_summary(setup) -> ReportTable:
    """The target portfolio in a few numbers: names, tracking error, benchmark.

    For an active + index core the target is the core (the active model at its share plus
    the completion sleeve, ``setup.completion``): one more row says so, and the tracking
    error row is the whole account's, both sleeves together.
    """
    bm = labels.benchmark_label(setup.benchmark)
    tg = setup.target
    w = tg.weights
    comp = getattr(setup, "completion", None)
    size = labels.target_sizing(setup.sizing)
    core = []
    if comp is not None:
        n_c = int((comp.completion > 0).sum())
        held, rest = (labels.sleeve_share(comp.active_held),
                      labels.sleeve_share(comp.completion_share))
        core = [("Active + index core",
                 f"the manager's model at {held} + a completion sleeve of {n_c} stocks at "
                 f"{rest}")]
        # the name count follows the sleeve's planned share (1 - active_share), before
        # the weight of any manager's name the client's restrictions leave out
        if comp.excluded:
            size = f"{size} ({labels.completion_sizing(comp)})"
        else:
            size = (f"{size} (the completion sleeve's {fmt_pct(1 - comp.alpha, 0)}: "
                    f"{fmt_usd(setup.account_size * (1 - comp.alpha))})")
    words = labels.keep_list_words(setup)
    kept = [("Kept as they are (your keep list)", words)] if words else []
    return _kv([
        ("Benchmark", f"{bm} (the stocks the risk model covers)"),
        *core,
        *kept,
        ("Names in the target", str(int(tg.names))),
        ("Tracking error to the benchmark (ex-ante, annual)", fmt_pct(tg.tracking_error)),
        ("Largest weight", f"{w.index[0]} {fmt_pct(float(w.iloc[0]))}" if len(w) else ""),
        ("Top-10 weight", fmt_pct(float(w.iloc[:10].sum()))),
        ("Account size used for the name count", size),
    ], "Target portfolio")


def target_top(setup, n: int = 15) -> ReportTable:
    """The target's largest holdings against the benchmark."""
    bm = labels.benchmark_label(setup.benchmark)
    w = setup.target.weights.iloc[:n]
    info = setup.eligibility.table.set_index("ticker")
    b = setup.benchmark.weights
    f = pd.DataFrame({
        "Symbol": w.index, "Name": [info.name.get(t, "") for t in w.index],
        "Sector": [info.gics_sector.get(t, "") for t in w.index],
        "Target weight": w.to_numpy(), f"{bm} weight": [float(b.get(t, 0.0))
                                                          for t in w.index]})
    f["Difference"] = f["Target weight"] - f[f"{bm} weight"]
    return ReportTable(f, {"Target weight": "pct", f"{bm} weight": "pct",
                           "Difference": "pct"}, f"Top {len(f)} target holdings",
                       wrap=("Name",))


FRONTIER_POINTS = 11
"""Rows of the tax vs tracking-error frontier, both ends included: the proposal's
``frontier_points`` default, the dashboard's and ``pma-lab frontier``'s (one place, so the
three show the same points under the same labels)."""


def frontier(setup, points: int = FRONTIER_POINTS, analysis=None, account=None,
             settings=None, workers: int = 1, plan=None):
    """The tax vs tracking-error frontier of the first taxable account, ``points`` rows.

    The two ends (do nothing, go to target) are always rows, so ``points - 2`` tax
    aversions are swept, log-spaced from 10 to 0.001. With ``analysis`` (the plan
    comparison, :func:`transition`), "Go to target" is the immediate plan's step 0 when
    that step is the point's solve (:func:`pma_lab.plan.simulation.go_to_target_result`
    checks it), not solved again: the same row. ``account``, ``settings`` and ``workers``:
    ``pma-lab frontier``'s options (another taxable account, settings overridden, the
    sweep forked; :func:`pma_lab.optimize.engine.problem_for_client`).

    Every point is on the account the client's plan trades today ("Your plan today",
    :func:`todays_trades`): the plan's cash flow of the year (``flow``: a withdrawal, or
    an addition), a mixed portfolio's move between its sleeves today (the band's,
    :func:`pma_lab.plan.simulation.todays_flow`) and its gift of lots to charity (the
    lots the plan's first step gives, :func:`pma_lab.plan.simulation.todays_gift`) are
    made before the points' trades as before the plan's first step, so the points and
    the plan's row trade the same lots and cash and their percentages share one
    denominator, the account's value after them
    (:attr:`Frontier.account_value`, the table's caption, :data:`FRONTIER_FLOW`).
    ``plan``: that plan (a :class:`~pma_lab.plan.plans.Plan`); default the analysis's
    client plan, else the profile's (:func:`client_plan`).

    Raises
    ------
    DataError
        If ``points`` < 3.
    """
    from pma_lab.optimize.engine import problem_for_client
    from pma_lab.optimize.frontier import efficient_frontier
    from pma_lab.plan.simulation import go_to_target_result, todays_flow, todays_gift

    if int(points) < 3:
        raise DataError(f"frontier_points={points}: the frontier needs at least 3 points "
                        "(do nothing, one trade-off, go to target)")
    from pma_lab.plan.transition import client_plan

    if plan is None:
        run = _client_run(analysis) if analysis is not None else None
        plan = run.plan if run is not None else client_plan(setup)
    # the plan's withdrawal (or addition), a mixed portfolio's move between its sleeves
    # and the gift of lots today, as its first step makes them, on the account the plan
    # trades (the first taxable account); another account's frontier has none of them
    mine = is_plan_account(setup, account)
    flow, move = todays_flow(setup, plan) if mine else (0.0, 0.0)
    ledger, gift = todays_gift(setup, plan) if mine else (setup.ledger, 0.0)
    problem = problem_for_client(setup, account, settings, contribution=flow + move,
                                 ledger=ledger)
    runs = [] if analysis is None else [r for r in analysis.runs if r.path == "expected"
                                        and r.plan.kind == "immediate"]
    go = next((g for g in (go_to_target_result(r, setup, problem) for r in runs)
               if g is not None), None)
    front = efficient_frontier(problem, gammas=np.logspace(1.0, -3.0, int(points) - 2),
                               discount_rate=cash_rate(setup.market, setup.as_of).rate,
                               target=go, workers=workers)
    if not flow and not gift and not move:
        return front
    said = FRONTIER_FLOW.format(what=_flow_what(flow, gift, move),
                                value=fmt_usd(front.account_value))
    return replace(front, assumptions=(*front.assumptions, said))


FRONTIER_FLOW = ("Every point, like your plan's trades today, is on the account after "
                 "today's {what}: {value}, the value its percentages are of.")
"""The frontier's assumption when the client's plan withdraws or adds cash, moves money
between a mixed portfolio's sleeves, or gives lots to charity, today (:func:`frontier`):
``{what}`` is :func:`_flow_what`, ``{value}`` the account's value."""


def _flow_what(flow: float, gift: float = 0.0, move: float = 0.0) -> str:
    """A plan's cash flow, sleeve move and gift today as the frontier states them.

    "withdrawal of $250,000", "move of $71,880 from equity to the bond ladder" (a mixed
    portfolio's band, :func:`pma_lab.plan.simulation.todays_flow`), "gift of lots worth
    $140,000 to charity", joined by "and".
    """
    said = [f"{'withdrawal' if flow < 0 else 'addition'} of {fmt_usd(abs(flow))}"] \
        if flow else []
    if move:
        said.append(f"move of {fmt_usd(abs(move))} "
                    + ("from equity to the bond ladder" if move < 0
                       else "from the bond ladder to equity"))
    if gift:
        said.append(f"gift of lots worth {fmt_usd(gift)} to charity")
    return " and ".join(said)


def _frontier_after(front) -> str:
    """The caption's words for the cash flow the frontier's points are after, or ``""``."""
    lead, _, _ = FRONTIER_FLOW.partition("{what}")
    said = next((a for a in front.assumptions if a.startswith(lead)), "")
    return f" after today's {said[len(lead):].split(':', 1)[0]}" if said else ""


def _frontier_after_gift(front) -> bool:
    """Whether the frontier's points are on the account after the plan's gift today."""
    return "to charity" in _frontier_after(front)


def _client_run(analysis):
    """The client's plan's expected-path run in ``analysis`` (None without one)."""
    c = analysis.comparison
    mine = c.plan[c.is_client_plan.astype(bool)] if "is_client_plan" in c else []
    return next((r for r in analysis.runs if r.path == "expected"
                 and len(mine) and r.plan.name == mine.iloc[0]), None)



def _plan_today(setup) -> str:
    from pma_lab.plan.transition import client_plan

    return f"Your plan today ({labels.plan_name(client_plan(setup))})"


def carryforward_created(summary) -> float:
    """The loss carryforward into next year that today's trades create (USD).

    A rebalance summary's ``carryforward_st`` / ``carryforward_lt`` are already the change
    the trades make (after minus the year's carryforward without them,
    :func:`pma_lab.optimize.result.build_result`); negative when the trades' gains use up
    carried-in losses. The frontier's ``carryforward_created`` is the same sum, so the plan's
    row and the frontier's points compare like with like.
    """
    return float(summary["carryforward_st"]) + float(summary["carryforward_lt"])


def frontier_table(front, setup=None, trades=None, account=None, household=None
                   ) -> ReportTable:
    """The frontier's efficient points as the client reads them, the client's plan marked.

    With ``setup`` and ``trades`` (the client's plan's first step), the plan's own trades
    are a highlighted row in the same units. ``account``: the taxable account the frontier
    is of when it is not the plan's (``pma-lab frontier --account``): the caption names it
    and says that its figures are its own trades alone, not netted with the plan's.
    ``household``: the household solved around ``trades``
    (:func:`pma_lab.report.shelf.household`): when another taxable account sold today, the
    plan's row's note gives the return's tax this year and loss carryforward added (every
    taxable account's trades today, :func:`todays_carryforward`, as the harvesting table
    and the dashboard read them); the row's own figures stay the account's, like the
    points above it (reviewer: the return's carryforward beside the account's tax read as
    harvesting twice what the most tax-averse point does).
    """
    t = front.table
    ok = t.status.isin(("optimal", "optimal_inaccurate", "current"))
    f = pd.DataFrame({
        "Point": t.label, "Tracking error to target": t.te,
        labels.FRONTIER_TAX: t.tax_this_year,
        labels.CARRYFORWARD_CREATED: t.carryforward_created,
        "Economic tax": t.tax_economic, "Economic tax (% of account)": t.tax_economic_pct / 100,
        "Turnover": t.turnover, "Names": t.names,
        "Note": ["" if o else f"not solved: {e or s}" for o, s, e in
                 zip(ok, t.status, t.error, strict=True)]})
    highlight: tuple[int, ...] = ()
    if setup is not None and trades is not None:
        s = trades.summary
        carry, words = todays_carryforward(s, household)
        note = ""
        if words:  # another taxable account sold today: the return's figures in words
            whole = float(household.tax_this_year)
            note = PLAN_TODAY_CARRY.format(
                tax="" if math.isnan(whole) else f"tax this year {fmt_usd(whole)}, ",
                added=fmt_usd(carryforward_created(carry)))
        own = {k: float(s[k]) for k in carry}  # this account's alone, as the points
        f.loc[len(f)] = [_plan_today(setup), float(s["te_after"]), float(s["tax"]),
                         carryforward_created(own), float(s["tax_model"]),
                         float(s["tax_model"]) / float(s["value"]),
                         float(s["turnover"]), int(s["names_after"]), note]
        highlight = (len(f) - 1,)
    if not f["Note"].astype(bool).any():
        f = f.drop(columns="Note")
    return ReportTable(f, {"Tracking error to target": "pct", labels.FRONTIER_TAX: "usd",
                           labels.CARRYFORWARD_CREATED: "usd", "Economic tax": "usd",
                           "Economic tax (% of account)": "pct", "Turnover": "pct1",
                           "Names": "int"},
                       f"Tax against tracking error today{_frontier_of(setup, account)}, "
                       f"account value {fmt_usd(front.account_value)}{_frontier_after(front)}",
                       wrap=("Point", "Note"),
                       highlight=highlight)


PLAN_TODAY_CARRY = ("this account's trades alone, as the points above; your tax return, "
                    "with today's trades in your other taxable accounts: {tax}loss "
                    "carryforward added {added}")
"""The frontier's "Your plan today" note when another taxable account sold today
(:func:`frontier_table`): the row's figures are the account's own, like the points it is
read against; the return's (the harvesting table's and the dashboard's) are in words."""


def is_plan_account(setup, account) -> bool:
    """Whether ``account`` (None: the default) is the taxable account the client's plan trades.

    The plans follow the first taxable account (:func:`pma_lab.plan.transition.first_trades`):
    only its frontier is after the plan's cash flow and gift today and has the plan's row.
    """
    return account is None or account in setup.taxable_accounts()[:1]


def _frontier_of(setup, account) -> str:
    """The caption's words for a frontier of another taxable account than the plan's."""
    if setup is None or is_plan_account(setup, account):
        return ""
    accounts = setup.client.profile.accounts
    plan = setup.taxable_accounts()[0]
    return (f" in your {labels.account_name(accounts, account)} (its trades alone: tax this "
            f"year is not netted with your plan's trades in your "
            f"{labels.account_name(accounts, plan)}, as your tax return will net them)")


def _plan_names(analysis) -> dict[str, str]:
    """Plan code -> its client label (the client's marked), for the plans compared."""
    return {r.plan.name: plan_cell(r.plan, bool(m)) for r, m in zip(
        [_expected_run(analysis, n) for n in analysis.comparison.plan],
        analysis.comparison.is_client_plan,
        strict=True)}


def _plan_colors(analysis) -> dict[str, str]:
    """Plan code -> its colour, the same in every chart (in the tables' order)."""
    import plotly.colors

    palette = plotly.colors.qualitative.Plotly
    return {p: palette[i % len(palette)] for i, p in enumerate(_ordered(analysis).plan)}


SUBTITLE_CHARS = 95
"""The longest line of a chart's subtitle (the "Not shown" plans), in characters: what fits
the PDF's chart width at the subtitle's size."""


def plan_figure(fig, analysis, title: str | None = None):
    """A transition figure with plan codes replaced by client labels, the client's marked.

    Renames the traces (``immediate`` -> ``Move now``), puts them in the tables' order with
    one colour per plan in every chart (:func:`_plan_colors`), and the legend under the plot
    (:data:`pma_lab.optimize.frontier.LEGEND_BELOW`), where a legend wrapped to several rows
    cannot cover the title. A plan that could not be completed has no trace (its partial
    run's would read as the plan's): the title names it under "Not shown". When no plan
    was completed, a sentence saying so (:class:`Markdown`) replaces the empty chart.
    """
    import plotly.graph_objects as go

    from pma_lab.optimize.frontier import LEGEND_BELOW

    names, colors = _plan_names(analysis), _plan_colors(analysis)
    order = list(colors)
    c = _ordered(analysis)
    failed = [p for p, bad in zip(c.plan, _failed_mask(c), strict=True) if bad]
    if failed:  # a partial run's line or bars would read as the plan's: none, and said
        fig.data = [tr for tr in fig.data if tr.name not in failed]
        if not fig.data:  # no plan has figures: a sentence, not empty axes
            what = re.sub(r"<[^>]+>", " ", str(title or fig.layout.title.text or "Chart"))
            return Markdown(f"{' '.join(what.split())}: no chart, since no plan compared "
                            "could be completed (" + ", ".join(names[p] for p in failed)
                            + "); the table of plans says why.")
        # wrapped: one line of a long plan name ran past the chart's width in the PDF
        lines = textwrap.wrap("Not shown, could not be completed: "
                              + ", ".join(names[p] for p in failed), SUBTITLE_CHARS)
        title = (f"{title or fig.layout.title.text or ''}<br><sup>"
                 + "<br>".join(html.escape(ln) for ln in lines) + "</sup>")
    if all(tr.name in names for tr in fig.data):  # one trace per plan: the tables' order
        fig.data = sorted(fig.data, key=lambda tr: order.index(tr.name))
    for tr in fig.data:
        if tr.name in names:
            tr.marker.color = colors[tr.name]
            if isinstance(tr, (go.Scatter, go.Box)):
                tr.line.color = colors[tr.name]
            tr.name = names[tr.name]
    fig.update_layout(legend=LEGEND_BELOW,
                      margin={"t": 60 + 30 * len(lines) if failed else 60})
    if title:
        fig.update_layout(title=title)
    return fig


def tax_figure(analysis):
    """Net tax per year by plan (the analysis's figure, in client labels)."""
    return plan_figure(analysis.tax_figure(), analysis)


def te_figure(analysis, benchmark=None):
    """Tracking error along each plan (the analysis's figure, in client labels)."""
    return plan_figure(analysis.te_figure(), analysis, f"Tracking error to the "
                       f"{labels.benchmark_label(benchmark)} along each plan")


def risk_figure(analysis):
    """The Monte Carlo range of after-tax value by plan (in client labels, wrapped)."""
    fig = plan_figure(analysis.risk_figure(), analysis,
                      "After-tax value at the horizon across the Monte Carlo paths")
    if isinstance(fig, Markdown):  # no plan could be completed: said in words
        return fig
    for tr in fig.data:  # one box per plan, named on the axis: long names wrap
        tr.name = "<br>".join(textwrap.wrap(str(tr.name), 16))
    fig.update_xaxes(tickangle=0, tickfont={"size": 10})
    return fig


def frontier_figure(front, setup, trades):
    """The frontier figure with the client's plan (its first step) marked."""
    fig = front.figure("Tax cost against tracking error today")
    return front.mark_plan(fig, trades.summary, _plan_today(setup))


LEFT_FOR_HOUSEHOLD = LEFT_AS_THEY_ARE
"""How a plan's first-step note begins where the step left names the household's other
accounts would trade the other way (:func:`pma_lab.plan.household.left_names_note`)."""


def go_to_target_note(front, analysis) -> str:
    """The sentence that reconciles "Go to target" with "Move now" in the plans compared.

    Both are the same move (:func:`pma_lab.optimize.settings.go_to_target`): the frontier's
    end point is the trade the immediate plan makes today, its tax counted against doing
    nothing, made before or after the plan's gift of stock today as the frontier's
    points are (:func:`frontier`). The plan comparison's "Tax this year" is that plan's
    whole tax for the first
    year: the sentence adds the parts :func:`year_tax_parts` names (today's gains taxed on
    top of the year's income, or today's sales after a gift of stock; the tax of the
    year if nothing in the account is sold; the gift deduction's saving;
    the tax on the year's dividends and interest; the plan's later trades that year), in
    whole dollars that add up to the shown total
    exactly. ``""`` when the
    frontier shows no "Go to target" point (an identical point before it is kept
    instead) or the analysis has no immediate plan. The proposal's frontier note and the
    dashboard's plan comparison use this wording.
    """
    ends = front.table[front.table.kind == "target"]
    runs = [r for r in getattr(analysis, "runs", ()) if r.path == "expected"]
    run = next((r for r in runs if r.plan.kind == "immediate"), None)
    if not len(ends) or run is None or run.failed or not np.isfinite(
            ends.tax_this_year.iloc[0]):  # a plan that could not be completed: no figures
        return ""
    c = analysis.comparison.set_index("plan")
    end, year1 = float(ends.tax_this_year.iloc[0]), float(c.tax_year1[run.plan.name])
    move = labels.plan_name(run.plan)
    if run.left_today:
        # its step today left names the household's other accounts would trade the other
        # way (pma_lab.plan.household.without_pairs): not the frontier's account-alone point
        n = len(run.left_today)
        names = f"the {n} names" if n > 1 else "the name" if n == 1 else "the names"
        return (f"“Go to target” is the trade “{move}” would make today in this account "
                f"alone: {fmt_usd(end)} of tax on today's trades (against no trade); “{move}” in "
                f"the plans compared leaves today {names} your other accounts would trade "
                f"the other way, and shows {fmt_usd(year1)}, its whole tax for "
                f"{int(run.years.year.iloc[0])}.")
    if abs(end - year1) < 0.5:
        return (f"“Go to target” is the trade “{move}” makes today: the same "
                f"{fmt_usd(end)} of tax as the plans compared show for its year.")
    gives = float(c.gifts_total[run.plan.name]) > 0
    year, _, parts = year_tax_parts(analysis, end, run.plan.name, gift_first=True)
    return (f"“Go to target” is the trade “{move}” makes today"
            + (f" {'after' if _frontier_after_gift(front) else 'before'} its gift to "
               "charity" if gives else "")
            + f": {fmt_usd(end)} of tax on today's trades (against no trade); “{move}” in the "
            f"plans compared shows {fmt_usd(year1)}, its whole tax for {year}"
            + (": that plus " + _and([w for _, w, _ in parts]) if parts else "") + ".")


def frontier_note(front, setup=None, analysis=None) -> Markdown:
    """What the frontier's three tax columns mean (from the frontier's own assumptions).

    With ``setup``, the limit named is the client's yearly loss offset
    (:func:`labels.loss_limit`). With ``analysis`` (the plans compared), a sentence
    reconciles "Go to target" with "Move now" (:func:`go_to_target_note`).
    """
    from pma_lab.optimize.frontier import dropped_note

    same = go_to_target_note(front, analysis) if analysis is not None else ""
    dropped = dropped_note(front)  # beside "Your plan today" within its budget (rev 23)
    if dropped:
        same = f"{same} {dropped}" if same else dropped
    return Markdown(
        "Each point is one trade-off for today's rebalance of the taxable account, from "
        "doing nothing to going straight to the target. Three tax figures are shown side "
        f"by side: the tax of today's trades (against no trade, after netting and the "
        f"{labels.loss_limit(setup)} "
        "limit), the loss "
        "carryforward the trades add for later years (negative: losses carried in that their "
        "gains use up) and the economic "
        "tax (every gain and loss valued at your rate for its term; losses credited in "
        "full), which is what the optimiser trades against tracking error and what the "
        "chart plots. The diamond marks your plan's trades today."
        + (" " + same if same else "")
        + ("\n\n" + _client_words(" ".join(front.assumptions)) if front.assumptions
           else ""))


def transition(setup, plans: str | Sequence[str], horizon_years: int = 5,
               annual_steps: bool = False):
    """Run the transition comparison for comma-separated ``plans`` (see ``parse_plan``).

    Raises
    ------
    DataError
        For an empty or malformed plan list or horizon.
    """
    from pma_lab.plan.transition import run_transition

    items = [p.strip() for p in (plans.split(",") if isinstance(plans, str) else plans)]
    items = [p for p in items if p]
    if not items:
        raise DataError("plans is empty; give at least one, e.g. \"immediate,budget:0\"")
    if int(horizon_years) < 1:
        raise DataError(f"horizon_years={horizon_years}: must be at least 1")
    return run_transition(setup, items, transition_settings(horizon_years, annual_steps))


def transition_settings(horizon_years: int = 5, annual_steps: bool = False, **fields):
    """The plan comparison's settings for the notebook's ``horizon_years``/``annual_steps``.

    The one mapping of the proposal's parameters to
    :class:`~pma_lab.plan.transition.TransitionSettings` (quarterly steps unless
    ``annual_steps``; the demo, ``pma-lab propose`` and the batch render the notebook's
    default, quarterly), read by :func:`transition`, the dashboard and ``pma-lab household``
    so that their "Tax this year" is the same figure for the same parameters. ``fields`` sets others
    (e.g. ``mc_paths=0``: the first year's tax does not depend on them); ``workers``
    defaults to :func:`plan_workers`.
    """
    from pma_lab.plan.transition import TransitionSettings

    fields.setdefault("workers", plan_workers())
    return TransitionSettings(horizon_years=int(horizon_years),
                              steps_per_year=steps_per_year(annual_steps), **fields)


def steps_per_year(annual_steps: bool) -> int:
    """Transition steps a year for the proposal's ``annual_steps`` parameter: 1, else 4."""
    return 1 if annual_steps else 4


PLAN_WORKERS_ENV = "PMA_LAB_PLAN_WORKERS"
"""Environment variable: processes for a proposal's plan comparison (unset: the default of
:class:`~pma_lab.plan.transition.TransitionSettings`, 2). A batch worker sets it to 1 for
the kernels it starts (:func:`pma_lab.app.batch.propose_job`): it is already one of as many
busy processes as the machine has cores, and two more forked per client cost 5-10 % more
CPU for the same comparison."""


def plan_workers() -> int:
    """Processes for the plan comparison: :data:`PLAN_WORKERS_ENV`, else the default.

    Raises
    ------
    SettingsError
        When the variable is set to anything but a whole number of at least 1.
    """
    from pma_lab.plan.transition import TransitionSettings

    text = os.environ.get(PLAN_WORKERS_ENV, "").strip()
    if not text:
        return TransitionSettings().workers
    if not text.isdigit() or int(text) < 1:
        raise SettingsError(f"{PLAN_WORKERS_ENV}={text!r}: give a whole number of processes "
                            "for the plan comparison, at least 1 (1: in the notebook's own "
                            "process), or unset it for the default")
    return int(text)


def todays_trades(setup, analysis):
    """Today's trades: exactly the first step of the client's plan in ``analysis``.

    :func:`pma_lab.plan.transition.first_trades` of the plan the proposal recommends (the
    client's own, marked ``is_client_plan``), with the settings the analysis simulated it
    with (horizon and steps a year: a timeline plan's first step depends on both), so the
    trade list, the trade file and the tax of today's trades are those of the plan's first
    step on page 1 (the dashboard calls ``first_trades`` with the same plan and settings).
    The step is the comparison's own (``first_trades(..., run=)``), not solved again.

    Raises
    ------
    DataError
        When ``analysis`` has no client plan or no settings (not from ``transition``).
    """
    from pma_lab.plan.transition import first_trades

    mine = analysis.comparison.plan[analysis.comparison.is_client_plan.astype(bool)]
    run = next((r for r in analysis.runs if r.path == "expected"
                and len(mine) and r.plan.name == mine.iloc[0]), None)
    if run is None or analysis.settings is None:
        raise DataError("the transition analysis has no client plan or no settings; run it "
                        "with report.transition(setup, plans, horizon_years, annual_steps)")
    # the comparison solved this step already: first_trades replays it through the ledger
    # (solving it again only when the run's step 0 is not the step it would solve)
    return first_trades(setup, run.plan, analysis.settings, run=run)


def plan_today(setup, annual_steps: bool = False):
    """The client's plan's first year and its first step: the proposal's today's trades.

    The command line's reading of :func:`todays_trades` without the whole comparison:
    the client's own plan (:func:`pma_lab.plan.transition.client_plan`) run over its first
    year on the expected path (:func:`transition_settings` with ``annual_steps``, one year,
    no Monte Carlo paths: neither changes the first step nor the first year's tax), and
    its first step with the proposal's settings, the run's own step replayed through the
    ledger (``first_trades(..., run=)``), never solved apart from the run (``pma-lab
    frontier`` once solved it again and its plan row read otherwise than the proposal's).
    ``pma-lab household`` and ``pma-lab frontier`` read it.

    Returns
    -------
    tuple[TransitionAnalysis, RebalanceResult]
        The run of the first year (its "Tax this year") and the first step.
    """
    from pma_lab.plan.transition import client_plan, first_trades, run_transition

    mine = client_plan(setup)
    analysis = run_transition(setup, [mine], transition_settings(
        1, annual_steps=annual_steps, mc_paths=0, workers=1))
    run = next(r for r in analysis.runs if r.path == "expected" and r.plan == mine)
    # the run solved this step (the same step: the horizon changes neither); first_trades
    # replays it with the proposal's settings
    return analysis, first_trades(setup, mine, transition_settings(annual_steps=annual_steps),
                                  run=run)


HEADLINE_COLUMNS = ("tax_year1", "tax_total", "pv_tax", "years_to_target", "te_start",
                    "te_end", "after_tax_wealth", "after_tax_wealth_p10",
                    "after_tax_wealth_p90", "vs_hold", "carryforward_end",
                    "carryforward_value_end")
"""The columns of ``TransitionAnalysis.comparison`` the proposal's first page shows (the
dashboard shows the same ones)."""


def _plans(analysis) -> list:
    """The expected-path plan objects, in the comparison's order."""
    by = {r.plan.name: r.plan for r in analysis.runs if r.path == "expected"}
    return [by[n] for n in analysis.comparison.plan]


def _ordered(analysis) -> pd.DataFrame:
    """The comparison with the client's plan first, then moving now, then the rest, hold last."""
    c = analysis.comparison.copy()
    c["_plan"] = _plans(analysis)
    # the names each plan's step today left for the household's other accounts (counted
    # from the run, PlanRun.left_today, not read back from its note)
    left = {r.plan.name: len(r.left_today) for r in analysis.runs if r.path == "expected"}
    c["_left"] = [left[n] for n in c.plan]
    kind = [p.kind for p in c["_plan"]]
    c["_order"] = [0 if m else 3 if k == "hold" else 1 if k == "immediate" else 2
                   for m, k in zip(c.is_client_plan, kind, strict=True)]
    return c.sort_values("_order", kind="stable").reset_index(drop=True)


def _horizon(analysis) -> int:
    """The comparison's horizon in whole years: the settings', else the longest run's.

    A plan that could not be completed stops early, so its run's dates span less than
    the horizon (a 3-year comparison whose first plan failed in its second year read
    "in 1 year" on every plan); the settings' ``horizon_years`` is the horizon simulated.
    """
    s = getattr(analysis, "settings", None)
    if s is not None:
        return int(s.horizon_years)
    span = max((r.steps.date.iloc[-1] - r.steps.date.iloc[0]).days
               for r in analysis.runs if r.path == "expected")
    return max(1, int(round(span / 365.25)))


def _expected_run(analysis, plan: str):
    """The expected-path run of plan code ``plan``."""
    return next(r for r in analysis.runs if r.path == "expected" and r.plan.name == plan)


def _mine(analysis, plan: str | None = None):
    """The comparison's row and expected run of ``plan``, else of the client's own plan.

    ``plan``: a plan code the comparison holds (another, or None: the client's plan).
    """
    c = analysis.comparison
    rows = c[c.plan == plan] if plan is not None else c.iloc[:0]
    row = rows.iloc[0] if len(rows) else c[c.is_client_plan].iloc[0]
    return row, _expected_run(analysis, row.plan)


def _mc_paths(analysis) -> int:
    """The Monte Carlo paths the plans were replayed on."""
    return next((len(r.mc.wealth) for r in analysis.runs if r.mc is not None), 0)


FAILED_NOTE = "Could not be completed, so no figures are shown: {reason}"
"""A plan's note in every table of plans where it shows no figures (``{reason}``: the
step, its date and why, in client words)."""


def _failed_mask(c: pd.DataFrame) -> np.ndarray:
    """Which rows of a comparison are plans that could not be completed."""
    return (c.failed.astype(bool).to_numpy() if "failed" in c
            else np.zeros(len(c), dtype=bool))


def _failed_reason(row) -> str:
    """Why a plan could not be completed, for the client, without a final full stop.

    Its ``failed_why`` (the cause and the fix in plain words,
    :func:`pma_lab.plan.failure.client_reason`), else the engine's ``failed``.
    """
    why = str(row.get("failed_why") or "") if hasattr(row, "get") else ""
    if why:  # a sentence of its own, here after a colon
        why = why[:1].lower() + why[1:]
    return (why or str(row["failed"])).rstrip(".")


def _failed_notes(c: pd.DataFrame) -> list[str]:
    """Each plan's :data:`FAILED_NOTE` (``""`` for a plan that was completed)."""
    return [_client_words(FAILED_NOTE.format(reason=_failed_reason(row) + ".")) if bad
            else "" for (_, row), bad in zip(c.iterrows(), _failed_mask(c), strict=True)]


def failed_plan_text(analysis, plan=None) -> str:
    """Why a plan shows no figures, or ``""`` for a plan that was completed.

    A plan that could not be completed (a step infeasible, ``PlanRun.failed``) stopped
    before the horizon: its tax, values and tracking error would be those of a partial run
    read as the plan's. Page one, the tables of plans and of the client's plan year by
    year, the charts and the notes that quote "Tax this year" show none for it, and say
    this instead (``plan``: a plan code; default the client's own plan).
    """
    row, run = _mine(analysis, plan)
    if not row.get("failed"):
        return ""
    return _client_words(
        f"{labels.plan_name(run.plan)} could not be completed over "
        f"{labels.years(_horizon(analysis))}, so its figures would be those of a partial "
        f"run: {_failed_reason(row)}.")


def _why(setup, plan) -> str:
    """Why this plan: what the client's profile asked for, in words."""
    p = setup.client.profile
    tr = p.transition
    if tr is not None and tr.mode == "immediate":
        return "You asked to move to the target portfolio now."
    if tr is not None and tr.mode == "timeline":
        return (f"You asked to reach the target portfolio over {labels.years(tr.years)}, spreading "
                "the tax of selling legacy holdings across tax years.")
    b = plan.budget
    if tr is None and all(v is None for v in (p.budgets.total, p.budgets.short_term,
                                              p.budgets.long_term)):
        # nothing asked for (plans.client_plan's default): say so, not "you asked"
        return ("Your profile sets no transition plan and no gains budget, so we show the "
                "most tax-averse plan: no net capital gain is realised in any tax year, and "
                "the move to the target goes only as fast as harvested losses allow. The "
                "alternatives below show what moving faster would cost.")
    if b is None:  # one term's cap (or each term's), no total: [budgets] long_term only
        caps = [f"the net {w} capital gains within {fmt_usd(v)}"
                for w, v in (("short-term", plan.st_budget), ("long-term", plan.lt_budget))
                if v is not None]
        return (f"You asked to keep {' and '.join(caps)} each tax year, with no cap on the "
                "total, so the move to the target goes as fast as that allows.")
    return (f"You asked to keep the net capital gains realised each tax year within "
            f"{fmt_usd(b)}, so the move to the target goes as fast as that budget allows"
            + (" and no net gain is realised" if not b else "") + ".")


def recommendation(setup, analysis, trades=None) -> _Html:
    """Page one: the client's own plan, its figures (:data:`HEADLINE_COLUMNS`) and why.

    ``trades``: today's trades (:func:`todays_trades` of ``analysis``, computed when not
    given): their tracking error to the client's own target before and after
    (:func:`target_te_row`) stands beside the tracking error to the benchmark.
    """
    bm = labels.benchmark_label(setup.benchmark)
    e = html.escape
    row, run = _mine(analysis)
    h = _horizon(analysis)
    plan = run.plan
    y = run.years
    imm = analysis.comparison[[p.kind == "immediate" and p.te_cap is None
                               for p in _plans(analysis)]]
    gives = float(row.gifts_total) > 0 and not row.failed
    net = ", net of the gift deduction" if gives else ""
    target = target_te_row(trades if trades is not None else todays_trades(setup, analysis))
    if row.failed:  # its partial run's figures would read as the plan's: none, in words
        figures = _failed_figures(row, plan, bm, h)
    else:
        figures = _figures(row, y, bm, h, net, client_mix_parts(analysis), plan,
                           len(run.left_today))
    at = next(i for i, (k, _) in enumerate(figures) if k.startswith(f"Tracking error to the "
                                                                     f"{bm}"))
    figures.insert(at + 1, target)
    if gives:
        saving = -float(y.charity_saving.sum())
        figures.append(("Gifts of appreciated lots (tax saved by the deduction)",
                        f"{fmt_usd(row.gifts_total)} ({fmt_usd(saving)})"))
    why = [_why(setup, plan)]
    from pma_lab.report import shelf  # shelf builds on this module

    band = shelf.band_first_note(setup, plan) if not row.failed else ""
    if band:
        why.append(band)
    never = shelf.band_unreached_note(setup, analysis)  # ... and when it never gets back
    if never:
        why.append(never)
    scope = _plan_scope(setup.client)
    if scope:
        why.insert(0, scope)
    if gives:
        why.append(f"Each year {fmt_usd(plan.gift)} of your most appreciated long-term lots "
                   "go to charity instead of cash: their gains are never taxed and the "
                   f"deduction saves {fmt_usd(-float(y.charity_saving.sum()))} in tax over "
                   f"{labels.years(h)}.")
    if len(imm) and not plan.kind == "immediate":
        i = imm.iloc[0]
        if i.failed:
            why.append("Moving now could not be completed either, so it shows no figures.")
        else:
            than = (_own_tax(i.tax_year1, i.tax_total, h) if row.failed else
                    _than_your_plan(i.tax_year1, i.tax_total, row.tax_year1, row.tax_total, h))
            why.append(f"Moving now instead would {than}, for an after-tax value of "
                       f"{fmt_usd(i.after_tax_wealth)} on the expected path.")
    if row.failed:
        why.append(_client_words(f"The plan could not be completed: {_failed_reason(row)}."))
    elif row.get("paths_short", 0) > 0:  # withdrawals some Monte Carlo paths cannot pay
        from pma_lab.plan.montecarlo import shortfall_note

        note = shortfall_note(int(row.paths_short), _mc_paths(analysis),
                              row.shortfall_median, row.shortfall_max)
        why.append(note[0].upper() + note[1:] + ".")
    if not row.failed and row.get("paths_over_budget", 0) > 0:  # the plans' notes' words
        from pma_lab.plan.montecarlo import over_budget_note

        b = plan.budgets()
        note = over_budget_note(int(row.paths_over_budget), _mc_paths(analysis),
                                row.over_budget_max, (b.total, b.short_term, b.long_term))
        why.append(note[0].upper() + note[1:] + ".")
    rows = "".join(f'<tr><th scope="row">{e(k)}</th><td>{e(v)}</td></tr>' for k, v in figures)
    # a plan that could not be completed is the client's plan, not a recommendation to
    # act on: said first, in bold, before the reason (review rev1: page one headed
    # "Our recommendation" a failed plan, its stop in the third sentence)
    stop = FAILED_BANNER if row.failed else ""
    text = (f'<div class="pma-answer"><p class="pma-plan">{e(labels.plan_name(plan))}</p>'
            + (f'<p class="pma-plan-failed" role="note"><strong>{e(stop)}</strong></p>'
               if stop else "")
            + f'<p class="pma-why">{escape_text(" ".join(why))}</p>'
            f'<div class="pma-table-wrap"><table class="pma-table pma-kv pma-figures">'
            f"<tbody>{rows}</tbody></table></div></div>")
    plain = "\n".join([f"Our recommendation: {labels.plan_name(plan)}"
                       + (f" ({stop})" if stop else ""), " ".join(why)]
                       + [f"{k}: {v}" for k, v in figures])
    return _Html(text, plain, headline(analysis))


FAILED_BANNER = ("Warning: this plan could not be completed, so it is not a "
                 "recommendation to act on; the reason and what to change are below.")
"""Page one's first words under the plan's name when the client's plan could not be
completed (:func:`recommendation`), in bold, and after its name in the plain text."""


TARGET_TE = "Tracking error to your target (the portfolio your plan moves to)"
"""Page one's label of the tracking error to the client's own target (:func:`target_te_row`),
beside the one to the benchmark: for a client measured against another target (a 60/40
client's equity sleeve, a manager's core model) that is the figure to read."""


def target_te_row(trades) -> tuple[str, str]:
    """Page one's row: today's trades' tracking error to the client's target, before → after.

    The first step's ``te_before`` and ``te_after`` (the summary "Today's trades" shows as
    "Tracking error to the target before / after", the dashboard's first-year line and
    ``pma-lab rebalance`` print), the same figures in the same format.
    """
    s = trades.summary
    return (TARGET_TE, f"today {fmt_pct(s['te_before'])} \u2192 after today's trades "
                       f"{fmt_pct(s['te_after'])}")


FAILED_FIGURES = ("This plan could not be completed over {years} (the reason is "
                  "above), so its figures would be those of a partial run. Change the "
                  "plan{examples} or the limit the reason names, and run the proposal "
                  "again.")
"""Page one's words, in place of the figures, for a client's plan that could not be
completed (``{years}`` is the horizon in words, ``{examples}`` the plan's own levers)."""


def _failed_figures(row, plan, bm: str, h: int) -> list:
    """Page one's box for a plan that could not be completed.

    Today's tracking error (the one figure the plans' table shows for it) and, in words,
    why no figures and what to change (the plan's withdrawals, gifts or tracking-error
    ceiling, those it has).
    """
    levers = [w for w, on in (("smaller withdrawals", plan.flow < 0),
                              ("smaller gifts", plan.gift > 0),
                              ("a looser tracking-error ceiling", plan.te_cap is not None))
              if on]
    examples = f" (for example {' or '.join(levers)})" if levers else ""
    return [(f"Tracking error to the {bm} today", fmt_pct(row.te_start)),
            ("Figures", FAILED_FIGURES.format(years=labels.years(h), examples=examples))]


MIX_FIGURE = ", of which from the mix: {mix} and from the rest: {rest}"
"""Page one's "After-tax value" figure adds, after its "against holding", the split of
:data:`MIX_AFTER` when the plans' mixes differ and the client's plan's differs from
holding's (:func:`client_mix_parts`): the same whole dollars."""


def client_mix_parts(analysis) -> tuple[float, float]:
    """The client's plan's "Against holding" split as the mix note shows it (:func:`mix_parts`).

    NaN parts unless the plans' mixes differ (:func:`mix_differs`), the client's plan was
    completed and its equity share at the horizon is more than :data:`MIX_POINTS` from
    holding's: the plans :func:`mix_note` words.
    """
    c = analysis.comparison
    if not mix_differs(analysis) or "vs_hold_mix" not in c:
        return math.nan, math.nan
    mine = c[c.is_client_plan.astype(bool)]
    hold = c[[p.kind == "hold" for p in _plans(analysis)]]
    if not len(mine) or not len(hold) or bool(mine.failed.iloc[0]) \
            or not abs(mine.equity_share_end.iloc[0] - hold.equity_share_end.iloc[0]) \
            > MIX_POINTS:
        return math.nan, math.nan
    return mix_parts(mine.vs_hold.iloc[0], mine.vs_hold_mix.iloc[0])


def _figures(row, y: pd.DataFrame, bm: str, h: int, net: str,
             mix: tuple[float, float] = (math.nan, math.nan), plan=None,
             left: int = 0) -> list:
    """Page one's figures of a plan that was completed (``(label, value)`` pairs).

    ``mix``: its "Against holding" split into its stock/bond mix's part and the rest
    (:func:`client_mix_parts`; NaN: not said); ``plan``: the plan and ``left``: how many
    names its first step left for the household's other accounts (an immediate one says
    them, :func:`_years_to_target`).
    """
    split = "" if missing(mix[0]) else MIX_FIGURE.format(mix=_signed(mix[0]),
                                                         rest=_signed(mix[1]))
    return [
        (f"Tax this year ({int(y.year.iloc[0])}{net})", fmt_usd(row.tax_year1)),
        (f"Tax over {labels.years(h)}{net} (present value)",
         f"{fmt_usd(row.tax_total)} ({fmt_usd(row.pv_tax)})"),
        ("Time to reach the target", _years_to_target(row.years_to_target, h, plan,
                                                       left)),
        (f"Tracking error to the {bm}", " \u2192 ".join(
            [f"today {fmt_pct(row.te_start)}"]
            + [f"{int(yr)} {fmt_pct(te)}" for yr, te in zip(y.year, y.te, strict=True)])),
        (f"After-tax value in {labels.years(h)}, expected",
         f"{fmt_usd(row.after_tax_wealth)} (against holding: \u2013)" if missing(row.vs_hold)
         else f"{fmt_usd(row.after_tax_wealth)} ({'+' if row.vs_hold >= 0 else ''}"
         f"{fmt_usd(row.vs_hold)} against holding{split})"),
        ("Range of after-tax value (1 in 10 outcomes below / above)",
         f"{fmt_usd(row.after_tax_wealth_p10)} to {fmt_usd(row.after_tax_wealth_p90)}"),
        (f"Loss carryforward left in {labels.years(h)} (its value)",
         f"{fmt_usd(row.carryforward_end)} ({fmt_usd(row.carryforward_value_end)})"),
    ]


def _than_your_plan(year1: float, total: float, mine1: float, mine_total: float,
                    horizon: int) -> str:
    """Another plan's tax against the client's plan's: like with like, never a total as saved.

    ``"pay $170,509 more in tax this year and $206,475 more over 5 years than your plan
    (-$29,213 against -$235,688 over 5 years)"``: the differences (more or less, or "the
    same") of the shown figures (whole dollars, :func:`round_usd`, as the plans' table
    shows them), then both plans' totals over the horizon. Never a plan's own total worded
    as a saving: philanthropist's page one once read "would cost $170,509 in tax this year
    but save $29,213 over 5 years", Move now's own total (a gift's deduction), against a
    plan it pays $206,475 more than.
    """
    def diff(d: float, when: str) -> str:
        return f"the same {when}" if d == 0 else \
            f"{fmt_usd(abs(d))} {'more' if d > 0 else 'less'} {when}"

    d1 = round_usd(year1) - round_usd(mine1)
    dt = round_usd(total) - round_usd(mine_total)
    over = f"over {labels.years(horizon)}"
    return (f"pay {diff(d1, 'in tax this year')} and {diff(dt, over)} than your plan "
            f"({fmt_usd(total)} against {fmt_usd(mine_total)} {over})")


def _own_tax(year1: float, total: float, horizon: int) -> str:
    """A plan's own tax, as the plans' table shows it (for a client's plan with no figures).

    ``"have a tax of $170,509 this year and -$29,213 over 5 years"``: its own figures,
    signed (a negative tax is a gift's deduction or losses outweighing the gains), never
    worded as a saving against a plan that has none.
    """
    return (f"have a tax of {fmt_usd(year1)} this year and {fmt_usd(total)} over "
            f"{labels.years(horizon)}")


def headline(analysis) -> ReportTable:
    """The page-one figures of every plan (:data:`HEADLINE_COLUMNS`), as numbers.

    Emitted as machine data by :func:`recommendation`, so tests and the dashboard can
    compare their figures with the proposal's.
    """
    c = analysis.comparison
    f = c[["plan", "is_client_plan", *HEADLINE_COLUMNS]].copy()
    if "failed" in c:  # a plan that could not be completed: no figures, as on the page
        bad = c.failed.astype(bool).to_numpy()
        f.loc[bad, [k for k in HEADLINE_COLUMNS if k != "te_start"]] = math.nan
    f.insert(1, "label", [plan_cell(p, m) for p, m in zip(_plans(analysis), c.is_client_plan,
                                                          strict=True)])
    return ReportTable(f.reset_index(drop=True), name="headline", machine=True)


def _years_to_target(years: object, h: int, plan, left: int = 0) -> str:
    """"Time to reach the target" in words, with the names "Move now" leaves today.

    An immediate plan whose first step left names for the household's other accounts
    (``left`` of them, :attr:`pma_lab.plan.simulation.PlanRun.left_today`; its note words
    them, :func:`pma_lab.plan.household.left_names_note`) reaches the target at a later
    step: its cell says how many names it left today ("0.3 years (26 names left today)"),
    as its note does, not only the later step's time (reviewer 1, session 20).
    """
    words = fmt_years(years, h)
    immediate = getattr(plan, "kind", "") == "immediate"
    left = int(left) if immediate else 0
    return f"{words} ({left} name{'s' * (left != 1)} left today)" if left else words


def _measure_cells(c: pd.DataFrame, m: labels.Measure, h: int) -> list:
    """The values of one comparison figure, one per plan: numbers, or text already worded.

    A plan that could not be completed (``failed``) shows no figures but today's tracking
    error: its partial run's tax and values would read as a plan's result.
    """
    if m.key == "after_tax_range":
        out = [labels.after_tax_range(a, b) for a, b in
               zip(c.after_tax_wealth_p10, c.after_tax_wealth_p90, strict=True)]
    elif m.key == "years_to_target":
        out = [_years_to_target(v, h, p, n) for v, p, n in
               zip(c[m.key], c._plan, c._left, strict=True)]
    elif m.format == "years":
        out = [fmt_years(v, h) for v in c[m.key]]
    else:
        out = list(c[m.key])
    if m.key == "te_start" or "failed" not in c:
        return out
    gap = MISSING if m.key == "after_tax_range" or m.format == "years" else math.nan
    return [gap if bad else v for v, bad in zip(out, c.failed.astype(bool), strict=True)]


def alternatives_table(analysis) -> ReportTable:
    """The plans side by side (one column each, the client's plan first and marked).

    The figures and their headings are :data:`pma_lab.report.labels.COMPARISON`, as in
    :func:`comparison_table` (one row a plan), which the dashboard shows.
    """
    c = _ordered(analysis)
    h = _horizon(analysis)
    cols = [plan_cell(p, m) for p, m in zip(c._plan, c.is_client_plan, strict=True)]
    measures = []
    for m in labels.COMPARISON:
        f = _FORMATTERS.get(m.format, _FORMATTERS["text"]) if m.format != "years" else str
        measures.append((m.label(h), [f(v) for v in _measure_cells(c, m, h)]))
        if m.key == "vs_hold":  # like with like: each plan's mix beside its value
            measures += [(x.label(h), [_FORMATTERS[x.format](v)
                                       for v in _measure_cells(c, x, h)])
                         for x in _mix_measures(analysis)]
    f = pd.DataFrame({"": [m for m, _ in measures]}
                     | {col: [v[i] for _, v in measures] for i, col in enumerate(cols)})
    note = " ".join(filter(None, (plans_note(analysis), mix_note(analysis))))
    return ReportTable(f, caption=labels.ALTERNATIVES_CAPTION, right=tuple(cols), wrap=("",),
                       note=note)


def _flows_words(plan, h: int) -> str:
    """A plan's cash flow and gift a year in words (``""``: none), as page one states them.

    "withdraws $50,000 a year (2 withdrawals over 2 years)", "gives lots worth $20,000 to
    charity a year", or both joined by "and"; a flow is made at each plan year's start,
    so there are as many as the horizon's years.
    """
    said = []
    if plan.flow:
        verb, noun = ("withdraws", "withdrawal") if plan.flow < 0 else ("adds", "addition")
        said.append(f"{verb} {fmt_usd(abs(plan.flow))} a year ({h} {noun}{'s' * (h != 1)} "
                    f"over {labels.years(h)})")
    if plan.gift:
        said.append(f"gives lots worth {fmt_usd(plan.gift)} to charity a year")
    return " and ".join(said)


def flows_note(analysis) -> str:
    """The plans' cash flows and gifts in words (``""``: none), as page one states them.

    "Every plan withdraws $20,000 a year (5 withdrawals over 5 years); the after-tax values
    are after them." when the plans share them (the comparison's rule), else one sentence a
    plan. The command line prints it under its tables (:func:`plans_note` is page one's).
    """
    c = _ordered(analysis)
    h = _horizon(analysis)
    words = [_flows_words(p, h) for p in c._plan]
    if not any(words):
        return ""
    if len(set(words)) == 1:
        return f"Every plan {words[0]}; the after-tax values are after them."
    return " ".join([f"{labels.plan_name(p)} {w}." for p, w in zip(c._plan, words,
                                                                   strict=True) if w]
                    + ["The after-tax values are after these."])


HOLD_FAILED = ("Holding, the plan every other is compared against, could not be completed, "
               "so no plan shows an \u201cAgainst holding\u201d figure (\u2013)")
"""Why every "Against holding" reads "\u2013" (:func:`hold_failed_note`)."""


def _hold_failed_row(analysis):
    """The comparison's row of the hold plan when its run failed, else ``None``."""
    c = analysis.comparison
    if "failed" not in c or not len(c):
        return None
    kinds = [r.plan.kind for r in analysis.runs if r.path == "expected"]
    names = [r.plan.name for r in analysis.runs if r.path == "expected"]
    hold = {n for n, k in zip(names, kinds, strict=True) if k == "hold"}
    rows = c[c.plan.isin(hold) & c.failed.astype(bool)]
    return rows.iloc[0] if len(rows) else None


def hold_failed_note(analysis, reason: bool = True) -> str:
    """Why "Against holding" shows "\u2013" for every plan (``""``: hold was completed).

    The proposal's note under the plans, the command line's ``transition`` and the
    dashboard's table of plans say it in these words, once. ``reason``: add why hold
    stopped (the dashboard's table gives it in hold's own row).
    """
    row = _hold_failed_row(analysis)
    if row is None:
        return ""
    return _client_words(HOLD_FAILED + (f": {_failed_reason(row)}." if reason else "."))


def plans_note(analysis, failed: bool = True) -> str:
    """Page one's note under the plans side by side (``""``: nothing to say).

    The plans' cash flows and gifts (the after-tax values are after them), and for each
    plan that could not be completed why its column shows no figures (its
    :func:`_failed_reason`, the comparison's ``failed_why``), in plain words. With
    ``failed=False`` the cash flows only (the dashboard's table of plans, one row a plan,
    gives each failed plan's reason in its note column).
    """
    c = _ordered(analysis)
    out = list(filter(None, [flows_note(analysis)]))
    carry = carryforward_note(analysis)
    if carry:
        out.append(carry)
    hold = hold_failed_note(analysis, reason=failed)
    if hold:  # said once: hold's reason is in it, not again below
        out.append(hold)
    out.extend(_client_words(f"{labels.plan_name(p)} could not be completed, so its column "
                             f"shows no figures: {_failed_reason(row)}.")
               for (_, row), p, bad in zip(c.iterrows(), c._plan, _failed_mask(c),
                                           strict=True)
               if bad and failed and not (hold and p.kind == "hold"))
    return " ".join(out)


CARRYFORWARD_NOTE = ("The loss carryforward left is your tax return's, not one account's: "
                     "{what} net on it too, so a plan whose gains use up {their} losses "
                     "leaves less of it (a plan's after-tax value counts only what its own "
                     "trades change). \u201cTax if sold\u201d is the return's too: "
                     "{their} losses lower it, and the after-tax value counts the part of "
                     "them that selling uses up as a cost, so it is not the value less the "
                     "tax if sold.")
"""Why a plan's loss carryforward left and tax if sold are not its own
(:func:`carryforward_note`). rev1v rh3 (a second taxable account's loss): Hold's "Tax if
sold in 5 years" was $17,757 lower than without the loss while its after-tax value moved
$36: the liquidation nets the other account's loss (the return's), the after-tax value
charges the loss it uses up (:func:`pma_lab.plan.accounting._yearly`'s ``carry_left``,
the return's carryforward value after the liquidation less the baseline's)."""


def carryforward_note(analysis) -> str:
    """The words under the plans when their loss carryforward left is the return's alone.

    A plan's "Loss carryforward left" is the loss the tax return carries out of the last
    year (:func:`pma_lab.plan.accounting.return_carryforward`). When another account's
    sales today (a household's other taxable accounts, traded around the plan's first
    step) or the year's earlier sales change it, it is not what the plan's own trades
    carry (:data:`CARRYFORWARD_NOTE` says so); ``""`` otherwise (the two are the same).
    """
    runs = [r for r in analysis.runs if r.path == "expected" and not r.failed]
    if not any("carryforward_return" in r.years for r in runs):
        return ""
    others = any(r.others is not None and len(r.others) for r in runs)
    what = ("the losses and gains of your other taxable accounts' trades today and of any "
            "sales earlier in the year" if others else "the losses and gains of the sales "
            "earlier in the year")
    return CARRYFORWARD_NOTE.format(what=what, their="their" if others else "those")


MIX_POINTS = 0.01
"""The spread of the plans' equity shares at the horizon (a decimal: 1 point) above which
the comparison shows each plan's share beside its after-tax value (:func:`mix_differs`)."""

MIX_NOTE = ("The plans end with different stock/bond mixes (equity share in {years} from "
            "{low} to {high}; holding: {hold}). The expected path grows equities "
            "{equity} a year and the bond ladder earns its coupons (the assumptions give "
            "its yields), so part of a plan's difference against holding comes from "
            "holding more or less equity, not from how it manages tax.{parts}")
"""The words under the plans when their stock/bond mixes differ (:func:`mix_note`)."""

MIX_PART = ("{plan}: {value} against holding in value before tax, of which from a different "
            "stock/bond mix: {mix}")
"""One plan's part of :data:`MIX_NOTE`: its horizon value before tax against hold's and the
part its mix makes (:func:`pma_lab.plan.analysis.mix_value`), then :data:`MIX_AFTER`."""

MIX_AFTER = ("; {after} against holding after tax, of which from the mix: {mix} and from the "
             "rest (its sales, their timing and their tax): {rest}")
"""After :data:`MIX_PART`: the plan's after-tax value against hold's ("Against holding")
split into the part its mix makes (:func:`pma_lab.plan.analysis.mix_after_tax`) and the
rest, in whole dollars that add up to it (:func:`mix_parts`)."""


def mix_parts(vs_hold: float, mix: float) -> tuple[float, float]:
    """A plan's "Against holding" split into its mix's part and the rest, shown (USD).

    Whole dollars that add up to the shown "Against holding": the mix part rounded on its
    own (as the comparison's "Of which from the stock/bond mix" shows it) and the rest the
    shown difference less it (:func:`~pma_lab.formatting.round_usd`). NaN parts when the
    mix part is unknown (no bond sleeve).
    """
    if missing(vs_hold) or missing(mix):
        return math.nan, math.nan
    m = round_usd(mix)
    return m, round_usd(vs_hold) - m


def _mix_measures(analysis) -> tuple[labels.Measure, ...]:
    """:data:`pma_lab.report.labels.MIX_MEASURES` when the plans' mixes differ (else none).

    The after-tax mix part only when the comparison has it (``vs_hold_mix``).
    """
    if not mix_differs(analysis):
        return ()
    has = "vs_hold_mix" in analysis.comparison
    return tuple(m for m in labels.MIX_MEASURES if has or m.key != "vs_hold_mix")


def _signed(v: float) -> str:
    """Dollars with their sign (``+$7,686``, ``-$158``), as "Against holding" reads."""
    return ("+" if round_usd(v) > 0 else "") + fmt_usd(v)


def _done_shares(c: pd.DataFrame) -> pd.Series:
    """The equity share at the horizon of each plan that was completed (NaN dropped)."""
    if "equity_share_end" not in c:
        return pd.Series(dtype=float)
    ok = ~c.failed.astype(bool) if "failed" in c else pd.Series(True, index=c.index)
    return c.equity_share_end[ok].astype(float).dropna()


def mix_differs(analysis) -> bool:
    """Whether the plans end with equity shares more than :data:`MIX_POINTS` apart.

    Only a mixed portfolio (a bond ladder beside the equity account,
    :mod:`pma_lab.plan.sleeves`) has an equity share; a plan that could not be completed
    does not count (its figures are not shown).
    """
    sh = _done_shares(analysis.comparison)
    return len(sh) > 1 and float(sh.max() - sh.min()) > MIX_POINTS


def _mix_part(c: pd.DataFrame, i) -> str:
    """Plan ``i``'s :data:`MIX_PART` (before tax only when its after-tax split is unknown)."""
    words = MIX_PART.format(plan=labels.plan_name(c._plan[i]), value=_signed(c.value_vs_hold[i]),
                            mix=_signed(c.mix_vs_hold[i]))
    mix, rest = mix_parts(c.vs_hold[i], c.vs_hold_mix[i]) if "vs_hold_mix" in c \
        else (math.nan, math.nan)
    if math.isnan(mix):
        return words
    return words + MIX_AFTER.format(after=_signed(c.vs_hold[i]), mix=_signed(mix),
                                    rest=_signed(rest))


def mix_note(analysis) -> str:
    """The words saying the plans' stock/bond mixes differ (``""`` when they do not).

    Like with like: a plan that ends with more equity grows faster on the expected path
    (every price grows at the settings' ``expected_return``, the ladder earns its
    coupons), so its "Against holding" is partly its mix. The
    comparison then shows each plan's equity share (:func:`comparison_table`).
    """
    if not mix_differs(analysis):
        return ""
    c = _ordered(analysis)
    sh = _done_shares(c)
    is_hold = np.array([p.kind == "hold" for p in c._plan], dtype=bool)
    hold = c.equity_share_end[is_hold]
    parts = [_mix_part(c, i) for i in sh.index if len(hold) and not is_hold[i]
             and abs(sh[i] - hold.iloc[0]) > MIX_POINTS and not math.isnan(c.mix_vs_hold[i])]
    s = analysis.settings
    return MIX_NOTE.format(years=labels.years(_horizon(analysis)), low=fmt_pct(sh.min(), 1),
                           high=fmt_pct(sh.max(), 1),
                           hold=fmt_pct(hold.iloc[0], 1) if len(hold) else MISSING,
                           equity=fmt_pct(s.expected_return, 1) if s is not None
                           else "at the expected return",
                           parts=f" In {labels.years(_horizon(analysis))}: "
                           + "; ".join(parts) + "." if parts else "")


def comparison_table(analysis) -> ReportTable:
    """One row a plan, the client's plan first and marked.

    The figures of :data:`pma_lab.report.labels.COMPARISON` and ``COMPARISON_EXTRA``, and
    a note (with it, the table's :func:`carryforward_note`).
    The frame's columns are the comparison's keys (``tax_year1``, ...; ``Plan`` holds the
    plan's label, ``after_tax_range`` and ``years_to_target`` their words) and its index the
    plan codes; :attr:`ReportTable.headers` give the client's headings. The dashboard and
    the command line show this table, so its headings and cells are the proposal's.
    """
    c = _ordered(analysis)
    h = _horizon(analysis)
    f = pd.DataFrame({labels.PLAN: [plan_cell(p, m) for p, m in
                                    zip(c._plan, c.is_client_plan, strict=True)]},
                     index=pd.Index(list(c.plan), name="plan"))
    for m in (*labels.COMPARISON, *labels.COMPARISON_EXTRA):
        f[m.key] = _measure_cells(c, m, h)
    f["note"] = [_client_words("; ".join(filter(None, (fail, note))))
                 for fail, note in zip(_failed_notes(c), c.notes, strict=True)]
    if not f["note"].astype(bool).any():
        f = f.drop(columns="note")
    formats = {m.key: m.format for m in (*labels.COMPARISON, *labels.COMPARISON_EXTRA)
               if m.format not in ("years", "text")}
    headers = dict(labels.comparison_headings(h))
    mixed = _mix_measures(analysis)  # like with like: each plan's mix beside its value
    for k, m in enumerate(mixed):
        f.insert(f.columns.get_loc("vs_hold") + 1 + k, m.key, _measure_cells(c, m, h))
        formats[m.key] = m.format
    if mixed:
        at = list(headers).index("vs_hold") + 1
        items = list(headers.items())
        headers = dict(items[:at] + [(m.key, m.label(h)) for m in mixed] + items[at:])
    note = " ".join(filter(None, (mix_note(analysis), carryforward_note(analysis))))
    return ReportTable(f, formats, labels.COMPARISON_CAPTION,
                       note=note, wrap=(labels.PLAN, "note"),
                       right=("years_to_target", "after_tax_range"),
                       highlight=tuple(np.flatnonzero(c.is_client_plan.to_numpy())),
                       headers=headers)


def outcomes_table(analysis) -> ReportTable:
    """More figures by plan (:data:`pma_lab.report.labels.OUTCOMES`).

    The middle Monte Carlo path, how often a plan ends below moving now, the gain left
    unrealised.

    One row a plan in the order of :func:`comparison_table` (plan codes as the index,
    the client's plan marked); for research and ``pma-lab transition``.
    """
    c = _ordered(analysis)
    h = _horizon(analysis)
    f = pd.DataFrame({labels.PLAN: [plan_cell(p, m) for p, m in
                                    zip(c._plan, c.is_client_plan, strict=True)]},
                     index=pd.Index(list(c.plan), name="plan"))
    bad = _failed_mask(c)
    # "moving now" against itself is no figure (reviewer 2, session 22: it read 0 %)
    itself = np.array([getattr(p, "kind", "") == "immediate" for p in c._plan], dtype=bool)
    for m in labels.OUTCOMES:  # a plan that could not be completed: none, as on page one
        v = np.where(bad, np.nan, c[m.key].to_numpy(dtype=float))
        f[m.key] = np.where(itself, np.nan, v) if m.key == "prob_below_diversified" else v
    heads = {labels.PLAN: labels.PLAN} | {m.key: m.label(h) for m in labels.OUTCOMES}
    if bad.any():
        f["note"], heads["note"] = _failed_notes(c), labels.NOTE
    return ReportTable(f, {m.key: m.format for m in labels.OUTCOMES},
                       labels.OUTCOMES_CAPTION, wrap=(labels.PLAN, "note"),
                       highlight=tuple(np.flatnonzero(c.is_client_plan.to_numpy())),
                       headers=heads)


def te_years_table(analysis, benchmark=None) -> ReportTable:
    """Tracking error to the benchmark at the end of each calendar year, one row a plan.

    With annual steps (``analysis.settings.steps_per_year`` 1) a year's figure is its one
    step's, on the as-of anniversary, and the caption says so (:data:`pma_lab.report.
    labels.TE_STEPS_CAPTION`).

    The comparison's ``te_year<k>`` (the k-th calendar year of the simulation), headed by
    the year (:func:`pma_lab.report.labels.te_year_heading`); plans in the order of
    :func:`comparison_table`, the client's marked. The dashboard shows this table too.
    """
    c = _ordered(analysis)
    bad = _failed_mask(c)
    # the years of a plan that ran to the horizon (a failed run stops early); none ran: no
    # year columns, only each plan's reason
    done = [r for r in analysis.runs if r.path == "expected" and not r.failed]
    years = [int(v) for v in done[0].years.year] if done else []
    f = pd.DataFrame({labels.PLAN: [plan_cell(p, m) for p, m in
                                    zip(c._plan, c.is_client_plan, strict=True)]},
                     index=pd.Index(list(c.plan), name="plan"))
    heads = {labels.PLAN: labels.PLAN}
    for k, year in enumerate(years, start=1):
        col = f"te_year{k}"
        if col in c:  # a plan that could not be completed: none, as on page one
            f[col] = np.where(bad, np.nan, c[col].to_numpy(dtype=float))
            heads[col] = labels.te_year_heading(year)
    if bad.any():
        f["note"], heads["note"] = _failed_notes(c), labels.NOTE
    settings = getattr(analysis, "settings", None)
    annual = settings is not None and settings.steps_per_year == 1 and done
    # annual steps: a year's figure is its one step's, on the as-of anniversary
    caption = (labels.TE_STEPS_CAPTION.format(
        benchmark=labels.benchmark_label(benchmark),
        day=f"{(d := done[0].steps.date.iloc[0]).day} {d:%B}") if annual else
        labels.TE_YEARS_CAPTION.format(benchmark=labels.benchmark_label(benchmark)))
    return ReportTable(f, {k: "pct" for k in heads if k not in (labels.PLAN, "note")},
                       caption,
                       wrap=(labels.PLAN, "note"),
                       highlight=tuple(np.flatnonzero(c.is_client_plan.to_numpy())),
                       headers=heads)


TAX_PARTS = ("tax_gains", "charity_saving", "tax_interest", "tax_dividends")
"""The yearly table's parts of a year's net tax (``tax``), signed so they add up to it."""


def yearly_tax_parts(years: pd.DataFrame) -> pd.DataFrame:
    """A plan's yearly tax and its parts in whole dollars that add up exactly, row by row.

    ``tax`` is each year's net tax rounded on its own (:func:`round_usd`), so the first
    row's is page 1's "Tax this year"; its parts (:data:`TAX_PARTS` that ``years`` has,
    the gift deduction's saving negative) are shared out by
    :func:`~pma_lab.formatting.round_parts` (largest remainder), so the yearly table's
    "Tax on gains" - "Tax saved by gifts" + "Tax on interest" + "Tax on dividends" is its
    "Net tax" exactly. The proposal's, the dashboard's and the CLI's yearly table, and the
    figures quoted from its rows, read these.

    Parameters
    ----------
    years : pandas.DataFrame
        A run's ``years`` (``tax`` and some of :data:`TAX_PARTS`), USD.

    Returns
    -------
    pandas.DataFrame
        ``tax`` and the parts ``years`` has, whole dollars, on ``years``' index.
    """
    cols = [c for c in TAX_PARTS if c in years]
    rows = [round_parts([years[c].iloc[i] for c in cols], years.tax.iloc[i])
            for i in range(len(years))]
    out = pd.DataFrame(rows, columns=cols, index=years.index, dtype=float)
    out.insert(0, "tax", [round_usd(v) for v in years.tax])
    return out


def yearly_table(analysis, summary=None) -> ReportTable:
    """The client's plan year by year: gains, harvested losses, tax, gifts, TE.

    Parameters
    ----------
    analysis : TransitionAnalysis
    summary : LotsSummary, optional
        The client's lots summary; when it shows gains realised earlier in the first year
        (before the plan), the caption states them, since they count toward that year's
        gains budget but are not the plan's (the table shows only the plan's gains).

    The loss carryforward at year end is the tax return's
    (:func:`pma_lab.plan.accounting.return_carryforward`): a household's other taxable
    accounts' losses and gains net on it too.
    """
    from pma_lab.plan.accounting import return_carryforward

    row, run = _mine(analysis)
    caption = f"Your plan year by year ({labels.plan_name(run.plan)}, expected path)"
    if run.failed:  # a partial run's years would read as the plan's: none, and why
        return ReportTable(pd.DataFrame(), caption=caption,
                           empty=failed_plan_text(analysis))
    y = run.years
    w = yearly_tax_parts(y)  # whole dollars that add up to the net tax shown
    f = pd.DataFrame({
        "Year": y.year.astype(int).astype(str), "Net short-term gain": y["st"],
        "Net long-term gain": y["lt"], "Losses harvested": -y.harvested_losses,
        "Tax on gains": w.tax_gains, "Tax saved by gifts": -w.charity_saving,
        "Net tax": w.tax, "Loss carryforward at year end": return_carryforward(y),
        "Tracking error": y.te})
    if not f["Tax saved by gifts"].any():
        f = f.drop(columns="Tax saved by gifts")
    mixed = "bonds_end" in y  # a mixed portfolio (pma_lab.plan.sleeves): the bond sleeve too
    on_cash = "cash_interest" in y and bool(y.cash_interest.any())
    at = f.columns.get_loc("Net tax")
    if mixed:
        f.insert(at, "Bond interest", y.interest)
        at += 1
    if on_cash:
        f.insert(at, "Interest on cash", y.cash_interest)
        at += 1
    if mixed or on_cash:
        f.insert(at, "Tax on interest", w.tax_interest)
        at += 1
    paid = "dividends" in y and bool(y.dividends.any())  # the holdings' (plan.dividends)
    if paid:
        f.insert(at, "Dividends", y.dividends)
        f.insert(at + 1, "Tax on dividends", w.tax_dividends)
    if mixed:
        f.insert(len(f.columns) - 1, "Bonds at year end", y.bonds_end)
        f.insert(len(f.columns) - 1, "Equity share at year end", y.equity_share_end)
        f = f.rename(columns={"Tracking error": "Tracking error (equity)"})
    items = [w for w, on in (("the bond ladder's interest", mixed),
                             ("the interest your cash earns", on_cash),
                             ("the dividends your holdings pay", paid)) if on]
    if items:
        what = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
        caption += (f"; net tax includes the tax on {what} (added to the taxable income in "
                    "your profile below the year's gains, so the gains' tax is counted on "
                    "top of it"
                    + ("; the dividends are reinvested, qualified ones taxed as long-term "
                       "gains and a REIT's as ordinary income less the section 199A "
                       "deduction" if paid else "") + ")")
    if mixed:
        caption += ", and tracking error is your equity holdings' to their benchmark"
    # what "Tax on gains" is, the same every year (pma_lab.plan.accounting._yearly)
    others = getattr(run, "others", None)
    hh = others is not None and len(others) > 0
    caption += (". Tax on gains is your tax return's capital-gains tax of the year: on the "
                "net gain, or the saving of the net loss of up to $3,000 deducted from "
                "ordinary income, with the loss carried into the year"
                + (" (less what your other taxable accounts' trades today add to it)"
                   if hh else ""))
    mine = None if summary is None else summary.realized_this_year()
    if mine is not None and len(y):
        year, st, lt = mine
        if year == int(y.year.iloc[0]) and (abs(st) >= 0.005 or abs(lt) >= 0.005):
            caption += (f". Realised earlier in {year}, before this plan: short-term "
                        f"{fmt_usd(st)}, long-term {fmt_usd(lt)}; they count toward that "
                        "year's gains budget, and that year's tax on gains leaves out "
                        "the tax on them")
    if "carryforward_return" in y:  # the return's carryforward is not the plan's own
        own = ("your other taxable accounts' trades today and any sales earlier in the year"
               if run.others is not None and len(run.others) else
               "the sales earlier in the year")
        caption += (". The loss carryforward at year end is your tax return's: the losses "
                    f"and gains of {own} net on it too")
    return ReportTable(f, {c: "usd" for c in f.columns[1:-1]} | {
        "Tracking error": "pct", "Tracking error (equity)": "pct",
        "Equity share at year end": "pct1"}, caption.rstrip(".") + ".")


def gifts_table(analysis) -> ReportTable:
    """The lots the client's plan gives to charity each year, with their deduction."""
    _, run = _mine(analysis)
    g = run.gifts
    if not len(g):
        return ReportTable(pd.DataFrame(), caption="Gifts of appreciated lots",
                           empty="No gifts to charity are planned.")
    f = pd.DataFrame({
        "Year": [str(d.year) for d in g.date], "Symbol": g.ticker, "Lot": g.lot_id,
        "Shares": g.shares.astype(float), "Market value": g.fmv.astype(float),
        "Cost basis": g.basis.astype(float), "Term": [fmt_term(t) for t in g.term],
        "Deduction base": g.deduction_base.astype(float)})
    return ReportTable(f, {"Shares": "shares", "Market value": "usd", "Cost basis": "usd",
                           "Deduction base": "usd"},
                       "Lots given to charity, by year (the most appreciated long-term lots)")


def charity_summary(analysis) -> ReportTable:
    """Per year: gifts, the deduction allowed and what it saves in tax."""
    _, run = _mine(analysis)
    y = run.years
    y = y[(y.gifts != 0) | (y.charitable_deduction != 0)]
    f = pd.DataFrame({"Year": y.year.astype(int).astype(str), "Gifts at market value": y.gifts,
                      "Deduction allowed": y.charitable_deduction,
                      "Tax saved by the deduction": -y.charity_saving})
    return ReportTable(f.reset_index(drop=True), {c: "usd" for c in f.columns[1:]},
                       "Charitable gifts: deduction and its value",
                       empty="No gifts to charity are planned.")


def withdrawals_table(analysis) -> ReportTable:
    """Per year: cash withdrawn (or added) under the client's plan.

    A plan that could not be completed stopped before the horizon: its table still lists
    every year's planned flow over the horizon (the plan's ``flow`` at each plan year's
    start, as a completed run makes them), and the caption says it stopped.
    """
    row, run = _mine(analysis)
    caption = "Planned withdrawals and additions (raised by the sales of least tax)"
    if row.failed and run.plan.flow:
        start = run.steps.date.iloc[0]
        years = [start.year + i for i in range(_horizon(analysis))]
        flows = pd.Series([float(run.plan.flow)] * len(years))
        f = pd.DataFrame({"Year": [str(y) for y in years],
                          "Withdrawn": (-flows).clip(lower=0), "Added": flows.clip(lower=0)})
        stop = run.failure.day.isoformat() if run.failure is not None else None
        caption += (f"; the plan could not be completed{' on ' + stop if stop else ''}, "
                    "so these are planned, not a result")
        return ReportTable(f, {"Withdrawn": "usd", "Added": "usd"}, caption)
    y = run.years[run.years.flows != 0]
    f = pd.DataFrame({"Year": y.year.astype(int).astype(str),
                      "Withdrawn": (-y.flows).clip(lower=0),
                      "Added": y.flows.clip(lower=0)})
    return ReportTable(f.reset_index(drop=True), {"Withdrawn": "usd", "Added": "usd"},
                       caption, empty="No withdrawals or additions are planned.")


RETURN_TRADES = ("today's trades are those of all your taxable accounts, their gains and "
                 "losses netted on your one tax return")
"""Why the loss carryforward around today's trades is not one account's
(:func:`todays_carryforward`): the harvesting table's caption and the dashboard's line."""


def todays_carryforward(summary, household=None) -> tuple[dict[str, float], str]:
    """The loss carryforward around today's trades, the tax return's: figures and words.

    ``summary``: the plan's first step's rebalance summary (one account's trades);
    ``household``: the household solved around them (:func:`pma_lab.report.shelf.household`;
    ``None`` for one account). A carryforward belongs to the return, not to an account:
    with a household, the return's carryforward into next year without today's trades, by
    character (:attr:`HouseholdResult.carryforward_st_before` / ``_lt_before``), and what
    every account's trades today add or use up (``carryforward_st`` / ``_lt``); else the
    summary's own. The words are
    :data:`RETURN_TRADES` when another taxable account sold today, else ``""``. The
    proposal's harvesting table, the dashboard's line on today's trades
    (:func:`pma_lab.app.dashboard.render.first_year_summary`) and the frontier's "Your plan
    today" row (:func:`frontier_table`) read these, so the three read alike.

    Returns
    -------
    tuple[dict[str, float], str]
        ``carryforward_st_before``, ``carryforward_lt_before``, ``carryforward_st``,
        ``carryforward_lt`` (USD; :func:`pma_lab.report.labels.carryforward_rows`'s
        ``summary``), and the words.
    """
    keys = ("carryforward_st_before", "carryforward_lt_before", "carryforward_st",
            "carryforward_lt")
    if household is None or math.isnan(household.carryforward_st_before) \
            or math.isnan(household.carryforward_lt_before):
        return {k: float(summary[k]) for k in keys}, ""
    d = household.dispositions
    words = RETURN_TRADES if len(d) and (d.account != household.fixed_account).any() else ""
    st, lt = household.carryforward_st_before, household.carryforward_lt_before
    return dict(zip(keys, (float(st), float(lt), float(household.carryforward_st),
                           float(household.carryforward_lt)), strict=True)), words


def harvesting(analysis, trades, setup=None, household=None) -> ReportTable:
    """Tax-loss harvesting, honestly: losses realised, carryforward created and its value.

    With the client's ``setup``, the yearly loss offset is the client's ($1,500 married
    filing separately, else $3,000: :func:`labels.loss_limit`). With the ``household``
    solved around ``trades`` (:func:`pma_lab.report.shelf.household`), today's trades are
    the whole return's, as the household section reads them: the losses of every taxable
    account's sales (the ledger's Form 8949 rows, :attr:`HouseholdResult.dispositions`)
    and the return's carryforward without and after them
    (:attr:`HouseholdResult.carryforward_before`, ``carryforward_st`` / ``_lt``), the
    caption saying so when another taxable account traded (read from the plan's account
    alone, a household with a second taxable account showed "Added by today's trades'
    losses $0" against the household section's "Loss carryforward added $54,681").
    """
    limit = labels.loss_limit(setup)
    row, run = _mine(analysis)
    losses = float(trades.lot_trades.gain.clip(upper=0).sum()) if len(trades.lot_trades) \
        else 0.0
    s, words = todays_carryforward(trades.summary, household)
    both = f"; {words}" if words else ""
    if household is not None and not math.isnan(household.carryforward_before):
        d = household.dispositions
        losses = float(sum(g for g in d.gain_loss if g < 0)) if len(d) else 0.0
    h = _horizon(analysis)
    year = setup.as_of.year if setup is not None else int(run.years.year.iloc[0])
    carried_in = (sum(setup.client.profile.carryforward_into(
        year, f"the analysis date {setup.as_of}")) if setup is not None else None)
    carry = [(label, fmt_usd(usd)) for label, usd in
             labels.carryforward_rows(s, year, limit, carried_in)]
    harvested = -float(run.years.harvested_losses.sum())
    what = "your plan"
    if both and run.others is not None and len(run.others):
        # the other taxable accounts' sales today, booked by the plan's run on the return
        # (not its own): counted here, as today's are above, so the two read alike
        harvested -= float(sum(g for g in run.others.gain_loss if g < 0))
        what = "your plan, with today's sales in your other taxable accounts"
    plan = [(f"Losses harvested over {labels.years(h)} ({what})", fmt_usd(harvested)),
            (f"Loss carryforward left in {labels.years(h)}", fmt_usd(row.carryforward_end)),
            (f"Value of that carryforward in {labels.years(h)} (used at {limit} a year "
             "against income)",
             fmt_usd(row.carryforward_value_end))]
    if row.failed:  # the plan's years are a partial run's: none, and why
        plan = [(f"Over {labels.years(h)} (your plan)", failed_plan_text(analysis))]
    return _kv([
        ("Losses harvested by today's trades", fmt_usd(-losses)),
        *carry,
        *plan,
    ], f"Tax-loss harvesting: losses first offset gains; only {limit} of net loss a year "
       f"reduces ordinary income, the rest carries forward{both}")


STOCK_WEIGHTS = "weights are shares of the stocks held, cash left out"
"""How the before/after tables' weights read (the holdings table's are shares of the total
value, cash included: MSFT 19.67 % there and 20.25 % here read as a contradiction)."""


def _account_weights(setup, values: pd.Series) -> pd.Series:
    """Stock weights of an account by looking through the S&P 500 funds it holds."""
    from pma_lab.plan.scenarios import fund_composition

    values = values[values != 0]
    total = float(values.sum())
    if total <= 0:
        return pd.Series(dtype=float)
    w = values / total
    model = set(setup.risk.tickers)
    funds = [t for t in w.index if t not in model and t != "CASH"]
    out = w[np.array([t in model for t in w.index], dtype=bool)]  # isin: per model name
    if funds:
        comp = fund_composition(funds, setup.benchmark.weights, setup.sectors,
                                setup.market.etf_info())
        for f in funds:
            out = out.add(comp[f] * w[f], fill_value=0.0)
    return out[out > 0]


_BEFORE_AFTER: list[tuple] = []
"""The last :func:`_before_after` computed: (setup, trades) by weak reference, the weights."""


def _before_after(setup, trades) -> tuple[pd.Series, pd.Series]:
    """The taxable account's look-through weights today and after ``trades``.

    Three cells in a row read them for the same setup and trades (sector table,
    characteristics, top holdings): the last pair is kept (weakly, so it never outlives
    them) and copies of its weights are returned.
    """
    last = _BEFORE_AFTER[-1] if _BEFORE_AFTER else None
    if last is not None and last[0]() is setup and last[1]() is trades:
        return last[2].copy(), last[3].copy()
    before, after = _weights_before_after(setup, trades)
    _BEFORE_AFTER[:] = [(weakref.ref(setup), weakref.ref(trades), before, after)]
    return before.copy(), after.copy()


def _weights_before_after(setup, trades) -> tuple[pd.Series, pd.Series]:
    acc = str(trades.summary["account"])
    vals: dict[str, float] = {}
    for lt in setup.ledger.lots(account=acc):
        vals[lt.ticker] = vals.get(lt.ticker, 0.0) + float(lt.shares) * float(
            setup.prices[lt.ticker])
    before = _account_weights(setup, pd.Series(vals, dtype=float))
    after = _account_weights(setup, trades.weights.astype(float))
    return before, after


def sector_table(setup, trades) -> ReportTable:
    """Sector weights today, after today's trades and in the target, against the S&P 500."""
    bm = labels.benchmark_label(setup.benchmark)
    before, after = _before_after(setup, trades)
    sec = setup.sectors

    def by(w: pd.Series) -> pd.Series:
        return w.groupby(sec.reindex(w.index).fillna("Other")).sum()

    b = by(setup.benchmark.weights)
    f = pd.DataFrame({bm: b, "Today": by(before), "After today's trades": by(after),
                      "Target": by(setup.target.weights)}).fillna(0.0)
    f[f"After minus {bm}"] = f["After today's trades"] - f[bm]
    f = f.sort_values(bm, ascending=False)
    f.insert(0, "Sector", f.index)
    return ReportTable(f.reset_index(drop=True), {c: "pct" for c in f.columns[1:]},
                       f"Sector weights, before and after, against the {bm} "
                       f"({STOCK_WEIGHTS})")


def _model_weights(risk, w: pd.Series) -> np.ndarray:
    """``risk.align(w.reindex(risk.tickers).fillna(0.0))`` in one pass over ``w``.

    The weights of the risk model's names in model order, 0 for a name ``w`` lacks or
    holds as NaN; names outside the model are left out. A ``w`` with a repeated name goes
    to pandas, which refuses to reindex it (as before).
    """
    if not w.index.is_unique:
        return risk.align(w.reindex(risk.tickers).fillna(0.0))
    pos = risk.index
    out = np.zeros(len(risk.tickers))
    for t, v in zip(w.index.tolist(), w.to_numpy(dtype=float).tolist(), strict=True):
        i = pos.get(t)
        if i is not None and v == v:
            out[i] = v
    return out


def characteristics(setup, trades) -> ReportTable:
    """Before / after: names, concentration, factor exposures, dividend yield."""
    bm = labels.benchmark_label(setup.benchmark)
    before, after = _before_after(setup, trades)
    target, bench = setup.target.weights, setup.benchmark.weights
    cols = {"Today": before, "After today's trades": after, "Target": target,
            bm: bench}
    risk = setup.risk
    rows: list[tuple[str, list[str]]] = [
        ("Number of names", [str(int((w > 1e-9).sum())) for w in cols.values()]),
        ("Largest holding", [f"{w.idxmax()} {fmt_pct(w.max())}" if len(w) else "\u2013"
                             for w in cols.values()]),
        ("Top-10 weight", [fmt_pct(w.sort_values(ascending=False).iloc[:10].sum())
                           for w in cols.values()]),
    ]
    styles = [f for f in risk.factors if f in ("size", "momentum", "volatility")]
    # each column's active weights against the benchmark, in model order (once, not per
    # factor)
    b = risk.align(bench)
    active = [_model_weights(risk, w) - b for w in cols.values()] if styles else []
    for fac in styles:
        j = risk.factors.index(fac)
        ex = [f"{float(risk.exposures[:, j] @ a):+.2f}" for a in active]
        rows.append((f"{fac.capitalize()} exposure against the {bm} (standard deviations)",
                     ex))
    from pma_lab.market.corpactions import trailing_dividend_yield

    dy = trailing_dividend_yield(setup.market, sorted(set().union(*map(set, (
        w.index for w in cols.values())))), setup.as_of)
    cells = []
    for w in cols.values():
        y, covered = dy.of(w)
        cells.append(fmt_pct(y) if covered >= 0.995 or covered == 0 else
                     f"{fmt_pct(y)} ({fmt_pct(covered, 0)} of the weight)")
    rows.append(("Dividend yield", cells))
    caveat = dy.caveat(dy.yields.index)
    caveat = f" {caveat}" if caveat else ""
    f = pd.DataFrame({"": [r for r, _ in rows]}
                     | {k: [v[i] for _, v in rows] for i, k in enumerate(cols)})
    return ReportTable(f, caption="Portfolio characteristics before and after (the taxable "
                                  "account; funds looked through to their stocks; "
                                  f"{STOCK_WEIGHTS}). Dividend "
                                  "yield, trailing 12 months: cash dividends with an ex-date "
                                  "in the 12 months to "
                                  f"{dy.as_of:%Y-%m-%d} over that day's price, weighted by "
                                  "holding. An approximation: dividends after April 2021 are "
                                  "estimated from the adjusted prices (the year-before "
                                  "dates repeated, sized to the price adjustment), and "
                                  "names without dividend data are left out (the share of "
                                  "the weight covered is shown when it is below 100 %)."
                                  + caveat,
                       right=tuple(cols), wrap=("",))


def top_holdings_table(setup, trades, n: int = 10) -> ReportTable:
    """The largest holdings after today's trades, with today's weight and the S&P 500's."""
    bm = labels.benchmark_label(setup.benchmark)
    before, after = _before_after(setup, trades)
    top = after.sort_values(ascending=False).iloc[:n]
    info = setup.eligibility.table.set_index("ticker")
    f = pd.DataFrame({"Symbol": top.index, "Name": [info.name.get(t, "") for t in top.index],
                      "Today": [float(before.get(t, 0.0)) for t in top.index],
                      "After today's trades": top.to_numpy(),
                      bm: [float(setup.benchmark.weights.get(t, 0.0))
                                  for t in top.index]})
    return ReportTable(f, {"Today": "pct", "After today's trades": "pct", bm: "pct"},
                       f"Top {len(f)} holdings after today's trades ({STOCK_WEIGHTS})",
                       wrap=("Name",))


@dataclass(frozen=True)
class PlanYearTax:
    """A plan's tax for its first year (page 1's "Tax this year") and its parts.

    The parts add today's trades' tax up to that figure. Read from the plans compared by
    :func:`plan_year_tax`; :meth:`parts` is the one arithmetic of the reconciliation and
    :meth:`rows` its table rows, which the proposal's
    "Today's trades" (:func:`trade_summary`), the household section
    (:func:`pma_lab.report.shelf.household_summary`, in the proposal, the dashboard and
    ``pma-lab household``) and the sentences (:func:`tax_year_note`,
    :func:`go_to_target_note`) all read, so they never disagree.

    Attributes
    ----------
    year : int
    total : float
        Page 1's figure (the comparison's ``tax_year1`` of the plan), USD.
    trades : float
        Tax of the plan's trades that year (``tax_gains``: today's and the later ones).
    dividends, interest : float
        Tax on the year's dividends and interest (``tax_dividends``, ``tax_interest``), the
        yearly table's whole dollars (:func:`yearly_tax_parts`).
    charity : float
        The gift deduction's saving (``charity_saving``, <= 0), the same table's.
    trades_today : float
        The year's tax on today's sales alone, on the year's income (``tax_gains_today``;
        NaN when the table has no such column).
    no_sale : float
        The plan's tax of the year if nothing in the account were sold (its yearly
        table's ``tax_no_sale``, :func:`pma_lab.plan.accounting.first_year_no_sale`: e.g.
        a carried-in loss offsetting $3,000 of income). Today's trades' tax is measured
        against it, so it is a part of the plan's year of its own. (It was the hold plan's
        first year, which is no such base when the plans withdraw: Hold sells to pay the
        withdrawal, and philanthropist's $30,000 a year read "$1,313 as today's gains are
        taxed on top" beside "-$1,313, the tax of 2026's sales if nothing is sold".)
    steps_per_year : int
        The plan's steps a year (the comparison's settings; 4, quarterly, its default):
        with one, the last part is rounding, not later trades.
    gifts_total : float
        The plan's gifts of stock to charity (the comparison's ``gifts_total``), USD.
    others_today : float
        Of :attr:`trades_today`, what a household's other taxable accounts' sales today
        change in it: the plan's figures are on top of them, netted on one return
        (``tax_others_today``, :mod:`pma_lab.plan.household`); 0 without them.
    trades_exact : float
        :attr:`trades` to the cent (``tax_gains`` before the yearly table's whole dollars):
        less :attr:`trades_today`, the tax of the plan's later trades that year. Under
        half a dollar, the whole-dollar remainder of :meth:`parts` is rounding, not later
        trades. NaN when not known (the remainder is then named as later trades).
    """

    year: int
    total: float
    trades: float
    dividends: float = 0.0
    interest: float = 0.0
    charity: float = 0.0
    trades_today: float = float("nan")
    no_sale: float = 0.0
    steps_per_year: int = 4
    gifts_total: float = 0.0
    others_today: float = 0.0
    trades_exact: float = float("nan")

    def parts(self, today: float, gift_first: bool = False
              ) -> list[tuple[float, str, str]]:
        """How today's trades' tax ``today`` adds up to :attr:`total`, part by part.

        Each part is ``(usd, sentence words, table row words)``, in whole dollars
        (:func:`~pma_lab.formatting.round_usd`) so that ``round_usd(today)`` plus the parts
        is ``round_usd(total)`` exactly, in this order (a zero part left out): today's
        gains taxed on top of the year's income (:attr:`trades_today` less the other taxable
        accounts' part, today's tax and Hold's base; with ``gift_first`` (``today`` is the
        trade before the plan's gift of stock, as the frontier's "Go to target"), worded as
        today's sales after the gift); today's sales in the other taxable accounts netted
        with them (:attr:`others_today`);
        the tax of the year if nothing in the account is sold (:attr:`no_sale`: a
        carried-in loss offsetting income, which today's tax is already counted against);
        the gift
        deduction's saving; the tax on the year's dividends and on its interest; and the
        rest: the plan's later trades that year, or rounding (with one step a year, or when
        the later trades' tax is under half a dollar: :attr:`trades_exact`), so a
        remainder of the parts' whole dollars is never shown as trades that cost nothing.
        """
        year, per_year = self.year, self.steps_per_year
        gives = gift_first and self.gifts_total > 0
        t = round_usd(today)
        base = round_usd(self.no_sale)
        charity, divs, interest = (round_usd(self.charity), round_usd(self.dividends),
                                   round_usd(self.interest))
        g = self.trades_today
        o = self.others_today if np.isfinite(self.others_today) else 0.0
        stack = round_usd(g - o) - t - base if np.isfinite(g) else 0.0
        others = round_usd(g) - round_usd(g - o) if np.isfinite(g) else 0.0
        later = (round_usd(self.total) - t - base - stack - others - charity - divs
                 - interest)
        # the later trades' own tax to the cent: under half a dollar, the remainder is the
        # whole dollars' rounding (muni-ca: "tax on interest $1" beside "later trades -$1"
        # when the later trades cost $0.00)
        rounding = per_year <= 1 or (np.isfinite(self.trades_exact) and np.isfinite(g)
                                     and abs(self.trades_exact - g) < 0.5)
        income = _and([w for w, v in (("dividends", divs), ("interest", interest))
                       if abs(v) >= 0.5]) or "income"
        often = {4: "every quarter", 12: "every month"}.get(per_year,
                                                            f"{per_year} times a year")
        parts = [
            (stack, (f"{fmt_usd(stack)} as today's sales follow the gift of stock and their "
                     f"gains are taxed on top of the year's {income}") if gives else
             f"{fmt_usd(stack)} as today's gains are taxed on top of the year's {income}",
             ("today's sales after the gift of stock, taxed on top of the year's income"
              if gives else "today's gains taxed on top of the year's income")),
            (others, f"{fmt_usd(others)} as today's sales in your other taxable accounts "
                     "net with today's gains on your one tax return",
             "today's sales in your other taxable accounts, netted with today's gains "
             "(one tax return)"),
            (base, f"{fmt_usd(base)}, the tax of {year} if nothing in the account is sold",
             f"the tax of {year} if nothing in the account is sold"),
            (charity, f"{fmt_usd(charity)} for the gift deduction (a tax saving)",
             "the gift deduction (a tax saving)"),
            (divs, f"{fmt_usd(divs)} of tax on the year's dividends",
             f"tax on dividends in {year}"),
            (interest, f"{fmt_usd(interest)} of tax on the year's interest",
             f"tax on interest in {year}"),
            (later, (f"{fmt_usd(later)} from rounding" if rounding else
                     f"{fmt_usd(later)} from the trades it makes later that year ({often})"),
             ("rounding" if rounding else f"the plan's later trades in {year}")),
        ]
        return [p for p in parts if abs(p[0]) >= 0.5]

    def rows(self, today: float) -> list[tuple[str, str]]:
        """The table rows beneath today's trades' tax ``today`` that add it up to the total.

        ``... plus`` each of :meth:`parts`, then ``= Your plan's tax for <year> (“Tax this
        year”)`` (the heading of page 1 and of the plans compared on the dashboard; no
        "page 1": ``pma-lab household`` and the dashboard have none), in whole dollars
        adding up exactly. The proposal's "Today's trades" and the household section read
        these rows.
        """
        return [*((f"... plus {w}", fmt_usd(v)) for v, _, w in self.parts(today)),
                (f"= Your plan's tax for {self.year} (“Tax this year”)",
                 fmt_usd(self.total))]


def plan_year_tax(analysis, plan: str | None = None) -> PlanYearTax | None:
    """Page 1's "Tax this year" of ``analysis`` (the plans compared), with its parts.

    Read from the rows :func:`recommendation` reads (the comparison's client plan and its
    yearly table, :func:`yearly_tax_parts`), never recomputed; for ``plan`` (a plan code
    in the analysis, as the dashboard's plan on screen) that plan's. ``None`` without an
    analysis, for a plan without years or one that could not be completed (page 1 shows
    no figures for it: :func:`failed_plan_text`).
    """
    if analysis is None:
        return None
    row, run = _mine(analysis, plan)
    if not len(run.years) or row.get("failed"):  # page 1 shows no "Tax this year" for it
        return None
    y = run.years.iloc[0]
    whole = yearly_tax_parts(run.years).iloc[0]  # the yearly table's row, as it shows it

    def part(col: str) -> float:
        v = whole.get(col, 0.0)
        return float(v) if pd.notna(v) else 0.0

    today = y.get("tax_gains_today", np.nan)
    others = y.get("tax_others_today", 0.0)
    # the plan's own year if nothing in the account were sold: the base today's trades'
    # tax is on top of (the hold plan's is its own: retiree's hold read "today's gains
    # taxed on top ... -$983"; and Hold's year is no base when it sells for a withdrawal)
    base = y.get("tax_no_sale", 0.0)
    s = getattr(analysis, "settings", None)
    gifts = float(row.gifts_total) if "gifts_total" in row.index else 0.0
    return PlanYearTax(int(y.year), float(row.tax_year1), part("tax_gains"),
                       part("tax_dividends"), part("tax_interest"), part("charity_saving"),
                       trades_today=float(today) if pd.notna(today) else float("nan"),
                       no_sale=float(base) if pd.notna(base) else 0.0,
                       steps_per_year=s.steps_per_year if s is not None else 1,
                       gifts_total=gifts if np.isfinite(gifts) else 0.0,
                       others_today=float(others) if pd.notna(others) else 0.0,
                       trades_exact=float(y.tax_gains) if pd.notna(y.get("tax_gains"))
                       else float("nan"))


def year_tax_parts(analysis, today: float, plan: str | None = None, gift_first: bool = False
                   ) -> tuple[int, float, list[tuple[float, str, str]]]:
    """How today's trades' tax adds up to the plan's tax for its first year, part by part.

    ``(year, total, parts)`` for ``plan`` (a plan code in the analysis; default the
    client's own plan) whose trades today cost ``today`` ("Estimated tax", counted
    against doing nothing): :func:`plan_year_tax`'s year and total and its
    :meth:`PlanYearTax.parts` (``gift_first`` as there). One source for
    :func:`tax_year_note`, :func:`go_to_target_note`, :func:`trade_summary`, the
    household section and the dashboard.

    Returns
    -------
    tuple
        ``(year, total, parts)``.

    Raises
    ------
    DataError
        For a plan without years.
    """
    t = plan_year_tax(analysis, plan)
    if t is None:
        raise DataError(f"plan {plan or 'of the client'} has no years: no tax for a first "
                        "year to add today's trades' tax up to; run the plans with a "
                        "horizon of at least one year")
    return t.year, t.total, t.parts(today, gift_first)


def _and(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def tax_year_note(analysis, plan: str | None = None, today: float | None = None) -> str:
    """The sentence set where today's tax and the plan's first-year tax both appear.

    For ``plan`` (a plan code in the analysis; default the client's own plan) whose
    trades today cost ``today`` ("Estimated tax"): how that adds up to the plan's tax for
    the year, each part named with its figure in whole dollars that add up to the shown
    total (:meth:`PlanYearTax.parts`, the rows' arithmetic). ``""`` without ``today``,
    for a plan without years, or when the two figures are the same. The proposal's
    "Today's trades" and the dashboard's plan comparison use this wording.
    """
    t = plan_year_tax(analysis, plan)
    if today is None or not np.isfinite(today) or t is None:
        return ""
    parts = t.parts(today)
    if not parts:
        return ""
    words = [w for _, w, _ in parts]
    return (f"The tax of today's trades ({fmt_usd(today)}) is only part of the plan's tax "
            f"for {t.year} (“Tax this year”, {fmt_usd(t.total)}): that plus {_and(words)}.")


def trade_summary(setup, result, analysis=None) -> ReportTable:
    """What today's trades do: the plan, realised gains, tax, tracking error, turnover.

    With ``analysis`` (the transition whose first step ``result`` is), rows beneath
    "Estimated tax" add it up, part by part in whole dollars, to the plan's tax for the
    whole first year (page 1's "Tax this year"; :meth:`PlanYearTax.rows`), so the two
    figures are never read as one that disagrees with itself.
    """
    from pma_lab.plan.transition import client_plan

    s = result.summary
    # the plan whose first step ``result`` is: the analysis's client plan (with the plans'
    # withdrawal, marked so), else the profile's
    mine = [p for p, m in zip(_plans(analysis), analysis.comparison.is_client_plan,
                              strict=True) if m] if analysis is not None else []
    plan = mine[0] if mine else client_plan(setup)
    year_rows = []
    note = trades_warning(analysis) if analysis is not None else ""
    year = plan_year_tax(analysis)
    if year is not None:  # the household section's rows too (PlanYearTax.rows)
        year_rows = year.rows(float(s["tax"]))
        note = tax_year_note(analysis, today=float(s["tax"]))
    forced = labels.forced_sales_note(result)  # the dashboard and pma-lab rebalance too
    if forced:
        note = (f"{note} " if note else "") + f"{forced[0].upper()}{forced[1:]}."
    over = labels.over_target_note(result, setup.target.weights)  # the same three
    if over:
        note = (f"{note} " if note else "") + f"{over[0].upper()}{over[1:]}."
    return _kv([
        (labels.PLAN, plan_cell(plan, True)),
        ("Account", labels.account_name(setup.client.profile.accounts, s["account"],
                                        capital=True)),
        ("Realised short-term / long-term", f"{fmt_usd(s['realized_st'])} / "
                                            f"{fmt_usd(s['realized_lt'])}"),
        ("Estimated tax", fmt_usd(s["tax"])),
        *year_rows,
        ("Tracking error to the target before / after",
         f"{fmt_pct(s['te_before'])} / {fmt_pct(s['te_after'])}"),
        ("Turnover", fmt_pct(s["turnover"], 1)),
        ("Names after", str(int(s["names_after"]))),
    ], "Today's trades" + (f". {note}" if note else ""))


TRADES_WARNING = ("Warning: these trades start {plan}, which could not be completed: "
                  "{reason}. They are listed, and the trade files written, as the plan's "
                  "first step; change the plan before placing them.")
"""Today's trades' caption when the client's plan could not be completed
(:func:`trades_warning`); ``pma-lab propose`` repeats it (:attr:`ProposalOutput.warning`)."""


def trades_warning(analysis, plan: str | None = None) -> str:
    """:data:`TRADES_WARNING` for the client's plan when it could not be completed, else ``""``.

    Today's trades are still the plan's first step (real, and the trade files hold them,
    so the proposal and the files agree), but the plan they start stops before the
    horizon: the trade section, and ``pma-lab propose`` on standard error, say so.
    ``plan``: a plan code of the comparison whose first step the trades are (the
    dashboard's plan on screen); default the client's own plan.
    """
    c = analysis.comparison
    if plan is not None and not (c.plan == plan).any():
        raise SettingsError(
            f"trades_warning(plan={plan!r}): no such plan in this comparison; use one "
            f"of {', '.join(map(repr, c.plan))} or None for the client's own plan")
    row, run = _mine(analysis, plan)
    if not row.get("failed"):
        return ""
    return _client_words(TRADES_WARNING.format(plan=labels.plan_name(run.plan),
                                               reason=_failed_reason(row)))


def custodian_trades(result) -> pd.DataFrame:
    """The trades in a custodian's layout (:data:`CUSTODIAN_COLUMNS`), sells first.

    One SELL row per lot (specific identification: the lot id to relieve is given) and
    one BUY row per name, market orders for the day. Quantities are shares (whole, except
    the sale of a whole lot that holds a fraction); amounts are USD at the as-of price;
    ``Wash Sale`` comes from the ledger's replay of the trades (the result's
    ``wash_loss_disallowed`` and ``wash_replacement``): ``yes ($1,234 disallowed)`` for a
    sale whose loss the wash-sale rule disallows, ``yes ($400 disallowed on 40 of 65
    shares)`` when it washes only the shares a purchase can absorb (the loss of the
    others is allowed), each with ``, lost for good: an IRA bought the replacement
    shares`` when an IRA's purchase replaces them (``wash_loss_lost``; ``$100 of it`` when
    only part of it), ``replacement shares sold ($8,794 of disallowed loss in their basis,
    recognised today)`` for the sale of a lot whose basis took a loss disallowed today
    (``wash_loss_recognised``), ``replacement``
    for a purchase that is the replacement shares of a loss sale, ``no`` otherwise. A
    result no ledger checked falls back to the optimiser's wash-sale locks (``yes`` for a
    locked loss sale, and for a purchase of a name the list sells at a loss). Values are
    not neutralised here (see :func:`write_trades`).

    Raises
    ------
    PmaLabError
        If the per-name sells do not add up to the lot sells (an engine inconsistency).
    """
    acc = str(result.summary["account"])
    lt, tr = result.lot_trades, result.trades
    sale_marks, buy_marks = wash_sale_marks(result)
    rows = [(acc, str(r.ticker), "SELL", float(r.shares), str(r.lot_id), float(r.price),
             float(r.proceeds), fmt_term(str(r.term)), float(r.gain), "Market", "Day", w,
             *lot_cells(r))
            for r, w in zip(lt.itertuples(), sale_marks, strict=True)]
    sells = tr[tr.side == "sell"]
    by_lot = lt.groupby("ticker").shares.sum() if len(lt) else pd.Series(dtype=float)
    for r in sells.itertuples():
        if abs(float(by_lot.get(r.ticker, 0.0)) - float(r.shares)) > 1e-6 * max(
                1.0, abs(float(r.shares))):
            raise PmaLabError(
                f"the sell of {r.shares} {r.ticker} is not covered by lot sales "
                f"({by_lot.get(r.ticker, 0.0)} shares); the trade list cannot name lots")
    for r in tr[(tr.side == "buy") & (tr.shares > 0)].itertuples():
        price = float(r.value) / float(r.shares)
        rows.append((acc, str(r.ticker), "BUY", float(r.shares), "", price, float(r.value),
                     "", math.nan, "Market", "Day", buy_marks[r.Index], "", math.nan, "",
                     math.nan))
    f = pd.DataFrame(rows, columns=list(CUSTODIAN_COLUMNS))
    return f.astype(TRADE_DTYPES)


TRADE_DTYPES = {"Quantity": float, "Est. Price": float, "Est. Amount": float,
                "Est. Gain": float, "Cost per Share": float,
                "Cost per Share (as recorded)": float}
"""The trade list's numeric columns (:data:`CUSTODIAN_COLUMNS`), typed float."""


def lot_identity(sale) -> tuple[str, float]:
    """A lot sale's ``Acquired`` (ISO date) and ``Cost per Share`` cells of the trade file.

    With the lot id they identify the lot at the custodian, also when the id is pma_lab's
    own (``file:row``, for lots files without lot ids). ``sale``: a row of a result's
    ``lot_trades`` (or a household's ``lot_sales``) with ``shares`` and ``basis`` (the
    sold shares' basis) or ``gain`` and ``proceeds``; ``acquired`` when it has one (else
    the cell is empty).
    """
    acquired = getattr(sale, "acquired", None)
    day = "" if acquired is None or pd.isna(acquired) else str(pd.Timestamp(acquired).date())
    shares = float(sale.shares)
    basis = float(sale.basis) if hasattr(sale, "basis") else \
        float(sale.proceeds) - float(sale.gain)
    return day, basis / shares if shares else math.nan


def recorded_identity(sale, tax: tuple[str, float] | None = None) -> tuple[str, float]:
    """A lot sale's ``Acquired (as recorded)`` and ``Cost per Share (as recorded)`` cells.

    The lot's purchase date and cost per share as the lots file records them, which the
    custodian's own record of the lot reads: ``sale``'s ``recorded_acquired`` and
    ``recorded_basis`` (the sold shares' basis as recorded) over its ``shares``. They
    differ from :func:`lot_identity`'s (Form 8949's figures, which the gain and term are
    measured from) for a gift lot sold below the donor's basis (IRC §1015: a loss from
    the FMV at the gift, held from the gift, or neither gain nor loss; the record is the
    donor's basis and acquisition date) and for a lot whose basis today's wash sale
    adjusts; otherwise they are ``tax``, :func:`lot_identity`'s cells (computed when not
    given). A sale without the recorded figures (a table made by hand) reads ``tax``.
    """
    tax = lot_identity(sale) if tax is None else tax
    basis = getattr(sale, "recorded_basis", None)
    if basis is None or pd.isna(basis):
        return tax
    acquired = getattr(sale, "recorded_acquired", None)
    day = "" if acquired is None or pd.isna(acquired) else str(pd.Timestamp(acquired).date())
    shares = float(sale.shares)
    cost = float(basis) / shares if shares else math.nan
    # the same figure as the tax cells', read another way (a household's sale's basis is
    # its proceeds less its gain): the tax cells themselves, to the bit
    if day == tax[0] and math.isclose(cost, tax[1], rel_tol=1e-12, abs_tol=1e-9):
        return tax
    return day, cost


def lot_cells(sale) -> tuple[str, float, str, float]:
    """A lot sale's last four trade-file cells: :func:`lot_identity`, then as recorded.

    ``Acquired``, ``Cost per Share`` (Form 8949's), ``Acquired (as recorded)``, ``Cost per
    Share (as recorded)`` (:func:`recorded_identity`).
    """
    tax = lot_identity(sale)
    return (*tax, *recorded_identity(sale, tax))


def wash_sale_marks(result) -> tuple[list[str], dict]:
    """The trade list's ``Wash Sale`` cells: one per lot sold, and per purchase row index.

    From the ledger's replay when the result carries it (``wash_loss_disallowed`` on the
    lot sales, ``wash_replacement`` on the trades); otherwise from the optimiser's locks
    (see :func:`custodian_trades`).
    """
    lt, tr = result.lot_trades, result.trades
    if "wash_loss_disallowed" in lt:
        part = (lt.wash_shares.tolist() if "wash_shares" in lt else [math.nan] * len(lt))
        lost = (lt.wash_loss_lost.tolist() if "wash_loss_lost" in lt else [0.0] * len(lt))
        sales = [("no" if float(v) <= 0.005 else
                  f"yes ({fmt_usd(float(v))} disallowed on {fmt_shares(w)} of "
                  f"{fmt_shares(q)} shares{_lost_words(float(v), float(g))})"
                  if 0 < float(w) < float(q) - 1e-9 else
                  f"yes ({fmt_usd(float(v))} disallowed{_lost_words(float(v), float(g))})")
                 for v, w, q, g in zip(lt.wash_loss_disallowed.tolist(), part,
                                       lt.shares.tolist(), lost, strict=True)]
        if "wash_loss_recognised" in lt:  # replacement shares sold the day of the loss
            sales = [c if float(r) <= 0.005 else
                     f"replacement shares sold ({fmt_usd(float(r))} of disallowed loss in "
                     "their basis, recognised today)" if c == "no" else
                     f"{c}; replacement shares sold ({fmt_usd(float(r))} of disallowed loss "
                     "in their basis, recognised today)"
                     for c, r in zip(sales, lt.wash_loss_recognised.tolist(), strict=True)]
    else:
        washed = lt["wash_disallowed"] if "wash_disallowed" in lt else [False] * len(lt)
        sales = ["yes" if bool(w) else "no" for w in washed]
    if "wash_replacement" in tr:
        buys = {i: "replacement" if bool(w) else "no"
                for i, w in zip(tr.index, tr.wash_replacement, strict=True)}
    else:
        loss_sold = set(lt.ticker[lt.gain < 0]) if len(lt) else set()
        buys = {i: "yes" if t in loss_sold else "no" for i, t in zip(tr.index, tr.ticker,
                                                                      strict=True)}
    return sales, buys


def _lost_words(disallowed: float, lost: float) -> str:
    """The Wash Sale cell's words for the part of a disallowed loss lost for good.

    ``lost``: USD of the ``disallowed`` loss an IRA's purchase replaces (Rev. Rul. 2008-5:
    no basis goes to the IRA's shares, the loss is lost for good, not deferred).

    >>> _lost_words(400.0, 0.0), _lost_words(400.0, 400.0)
    ('', ', lost for good: an IRA bought the replacement shares')
    >>> _lost_words(400.0, 100.0)
    ', $100 of it lost for good: an IRA bought replacement shares'
    """
    if lost <= 0.005:
        return ""
    if lost >= disallowed - 0.005:
        return ", lost for good: an IRA bought the replacement shares"
    return f", {fmt_usd(lost)} of it lost for good: an IRA bought replacement shares"


TRADE_FORMATS = {"Quantity": "shares", "Est. Price": "usd2", "Est. Amount": "usd",
                 "Est. Gain": "usd", "Cost per Share": "usd2",
                 "Cost per Share (as recorded)": "usd2"}
"""The trade list's cell formats (:data:`pma_lab.formatting.FORMATTERS`), the dashboard's too."""


def recorded_shown(trades: pd.DataFrame) -> tuple[str, ...]:
    """The recorded columns a trade list shows: none when every lot's record is its tax pair.

    ``trades`` has :data:`CUSTODIAN_COLUMNS`. The trade files always carry
    :data:`RECORDED_COLUMNS`; the proposal's and the dashboard's trade lists show them
    when a lot sold is recorded otherwise than its Form 8949 figures read (a gift lot sold
    below the donor's basis), so the custodian's lot can be found beside the tax figures.
    """
    if not all(c in trades for c in RECORDED_COLUMNS):
        return ()
    day, cost = trades["Acquired"], trades["Cost per Share"]
    rday, rcost = trades[RECORDED_COLUMNS[0]], trades[RECORDED_COLUMNS[1]]
    same = (day.fillna("").astype(str) == rday.fillna("").astype(str)) & (
        (cost == rcost) | (cost.isna() & rcost.isna()))
    return () if bool(same.all()) else RECORDED_COLUMNS


def trade_list(result) -> ReportTable:
    """The trade list (custodian layout), also emitted as data for the trade files.

    The recorded purchase date and cost per share are shown when a lot's differ from its
    tax figures (:func:`recorded_shown`); the machine data always has them.
    """
    frame = custodian_trades(result)
    shown = recorded_shown(frame)
    return ReportTable(frame, dict(TRADE_FORMATS),
                       "Trade list: market orders for the day, sales by specific lot",
                       name="trades", machine=True, empty="No trades.",
                       hidden=tuple(c for c in RECORDED_COLUMNS if c not in shown),
                       note=RECORDED_NOTE if shown else "")


RECORDED_NOTE = ("Acquired and Cost per Share are what a sale's gain and term are measured "
                 "from (Form 8949's). A gift lot sold below the donor's basis measures them "
                 "from the value at the gift, held from the gift, or has neither gain nor "
                 "loss (IRC §1015 dual basis); a lot a wash sale today adjusts has the "
                 "disallowed loss added. The custodian records such a lot by its own date and "
                 "cost (a gift's: the donor's), shown as recorded: identify the lot by them.")
"""The trade list's note when it shows the recorded columns (:func:`recorded_shown`)."""


def decision_ledger(result) -> ReportTable:
    """Per lot: hold, sell, harvest or defer, and the reason that decided it."""
    d = result.decisions
    f = pd.DataFrame({
        "Lot": d.lot_id, "Symbol": d.ticker, "Shares": d.shares, "Unrealised gain": d.gain,
        "Term": [fmt_term(t) for t in d.term],
        "Long-term on": [("" if _missing(x) else str(x)) for x in d.long_term_on],
        "Sold": d.sold_fraction, "Decision": d.action,
        "Reason": [_client_words(str(r)) for r in d.reason]})
    return ReportTable(f, {"Shares": "shares", "Unrealised gain": "usd", "Sold": "pct1"},
                       "Decision for every lot", wrap=("Reason",))


def _short_term_words(long_term_on: dt.date, unrealised: float, lock: Any = None,
                      shares: float = 0.0) -> str:
    """The calendar's "why" of a lot turning long-term: what selling it earlier means.

    ``lock`` is the ledger's ``no_loss_sale`` lock of the lot's identity group (a row of
    :meth:`pma_lab.tax.ledger.Ledger.locks`), if any: a loss lot cannot be sold at a loss
    through its date without a wash sale, so the days it can be sold for a short-term loss
    start after it (said with the purchase that set the lock and what the wash costs,
    :func:`pma_lab.io.holdings.lock_reason`, for this lot of ``shares`` shares).
    """
    if unrealised >= 0:
        return "a gain sold before this date is short-term"
    last = long_term_on - dt.timedelta(days=1)
    if lock is None:
        return "a loss sold before this date is short-term"
    # no taxable lot outside the lock's purchases: this lot is one of them
    mine = shares if float(lock.lot_shares) > 0 else 0.0
    why = lock_reason(lock.lock, lock.since, bool(lock.ira), float(lock.shares), mine,
                      lock.ira_since, getattr(lock, "purchases", ()))
    if lock.until >= last:
        return f"{lock_action(lock.lock)} through {lock.until.isoformat()}: {why}"
    first = lock.until + dt.timedelta(days=1)
    return (f"a loss sold from {first.isoformat()} to {last.isoformat()} is short-term; "
            f"before, {why}")


def holdings_after(client: Client, trades, household=None) -> Any:
    """The holdings summary after today's trades (what the calendar must be read from).

    The household ledger (:meth:`Client.ledger`, a fresh copy) with the trade list's sales
    (the very lots it relieves, at their prices) and purchases applied on the as-of date,
    then :func:`pma_lab.io.holdings.summarize_lots`: a loss sold today opens its 30-day
    do-not-buy lock, a bought lot its do-not-sell-at-a-loss lock, and a lot sold today no
    longer "turns long-term".

    Parameters
    ----------
    client : Client
    trades : RebalanceResult
        Today's trades (:func:`todays_trades`).
    household : HouseholdResult | None
        The other accounts' trades around them (:func:`pma_lab.report.shelf.household`):
        booked too, so an IRA's purchase today locks the taxable account's loss sales
        (for good: Rev. Rul. 2008-5) and another taxable account's loss sale locks buys.
    """
    from pma_lab.io.holdings import summarize_lots

    return summarize_lots(client, ledger=_ledger_after(client, trades, household))


def _ledger_after(client: Client, trades, household=None):  # noqa: ANN202 - a Ledger
    """The household ledger (a fresh copy) with today's ``trades`` applied on the as-of date.

    With ``household`` (a :class:`~pma_lab.optimize.household.HouseholdResult` around
    ``trades``), the other accounts' sales and purchases today are booked too
    (:func:`pma_lab.plan.household.book_others`, as the plan's simulation books them), at
    the household's prices, before the day's losses are matched.
    """
    from pma_lab.optimize.result import replay_trades

    led = client.ledger().fork()
    t = trades.trades
    account, day = trades.summary.account, trades.summary.as_of
    replay_trades(led, account, day, trades.lot_trades, t,
                  dict(zip(t.ticker, t.value / t.shares, strict=True)))
    if household is not None:
        from pma_lab.plan.household import book_others

        h = household.trades
        book_others(led, household, account, day,
                    pd.Series(h.price.to_numpy(dtype=float), index=h.ticker.to_numpy())
                    .groupby(level=0).first())
        led.settle()
    return led


@dataclass(frozen=True)
class _CalendarLots:
    """What :func:`calendar` reads of a lots summary.

    :class:`~pma_lab.io.holdings.LotsSummary`'s fields of the same names.
    """

    as_of: dt.date
    lots: pd.DataFrame
    turning_long_term: pd.DataFrame
    locks: pd.DataFrame


def _calendar_after(client: Client, trades, household=None) -> _CalendarLots:
    """The lots, lots turning long-term and locks of :func:`holdings_after`.

    What the calendar reads, the same frames, without the rest of the summary (the
    holdings by name, the totals, the year's netting).
    """
    from pma_lab.io.holdings import turning_long_term, valued_lots

    led = _ledger_after(client, trades, household)
    lots = valued_lots(led, client.as_of)
    return _CalendarLots(client.as_of, lots, turning_long_term(lots), led.locks(client.as_of))


def calendar(summary, days: int = 90, *, client: Client | None = None,
             trades=None, household=None) -> ReportTable:
    """Lots turning long-term in the next ``days`` days and the wash-sale locks, by date.

    With ``client`` and ``trades`` (today's trades) the calendar is that of the holdings
    after the trades (:func:`holdings_after`): today's loss sales are locks to respect
    from today, and the lots sold today are gone. Without them, the holdings on file.
    With ``household`` too (:func:`pma_lab.report.shelf.household`, the other accounts'
    trades around ``trades``), their sales and purchases today are in it: an IRA's
    purchase today is a lock on the taxable account's loss sales (a washed loss is lost
    for good), which the plan's account's trades alone do not show.
    """
    after = client is not None and trades is not None
    if after:  # holdings_after's frames the calendar reads
        summary = _calendar_after(client, trades, household)
    # with the client, accounts by name as the holdings tables name them; a lock binds
    # every account (wash sales cross accounts), or names the only one
    one = (client is not None and len(client.profile.accounts) == 1)
    every = (_account_cells(client, [client.profile.accounts[0].account_id])[0] if one
             else "All accounts" if client is not None else "all accounts")
    rows = []
    held = set(summary.lots.ticker)
    soon = summary.turning_long_term
    soon = soon[soon.days_to_long_term <= days]
    no_loss = {t: r for r in summary.locks.itertuples() if r.lock == "no_loss_sale"
               for t in r.tickers.split(",")}
    for r in soon.itertuples():
        rows.append((r.long_term_on, int(r.days_to_long_term), "turns long-term", r.ticker,
                     _account_cells(client, [r.account])[0], r.lot_id, float(r.unrealized),
                     _short_term_words(r.long_term_on, float(r.unrealized),
                                       no_loss.get(r.ticker), float(r.shares))))
    for r in summary.locks.itertuples():
        if after and r.lock != "no_buy" and r.until <= summary.as_of:
            # a purchase sold today locks loss sales through today only (the ledger's
            # same-day rule, docs/tax_rules.md): today's sales are the trade list's, so no
            # sale it could lock is left: not an event of the coming days (balanced-6040's
            # COST, still held in a gain lot; the test of held symbols this replaces
            # compared a set of the lock's letters, and so never found one)
            continue
        if (r.lock == "no_loss_sale" and float(r.lot_shares) <= 0 and r.purchases
                and all(ira for _d, ira, _n in r.purchases)):
            # only IRA purchases and no taxable lot of the name: no taxable sale to lock
            # (the household's IRA buying names the taxable account does not hold)
            continue
        rows.append((r.until, (r.until - summary.as_of).days, f"{lock_action(r.lock)} through",
                     lock_symbols(r.tickers, held, r.names), every, "", math.nan,
                     lock_reason(r.lock, r.since, r.ira, r.shares, r.lot_shares,
                                 r.ira_since, r.purchases)))
    f = pd.DataFrame(rows, columns=["Date", "Days", "Event", "Symbol", "Account", "Lot",
                                    "Unrealised", "Why"])
    if len(f):
        f = f.sort_values(["Date", "Event", "Symbol"], kind="stable", ignore_index=True)
        f["Date"] = [d.isoformat() for d in f.Date]
    return ReportTable(f, {"Days": "int", "Unrealised": "usd"},
                       "Holding-period and do-not-buy calendar"
                       + (" after today's trades" if after else "") + f" (next {days} days)",
                       wrap=("Symbol", "Why"),
                       empty="No lot turns long-term and no wash-sale lock is open.")


def _glossary(rate: str, limit: str | None = None) -> tuple[tuple[str, str], ...]:
    """The glossary's entries, with the cash rate in ``rate`` (words, e.g. "the cash rate").

    ``limit`` is the client's yearly loss offset (:func:`labels.loss_limit`).
    """
    limit = limit or labels.loss_limit()
    return (
        ("After-tax value", "What the account would be worth at the horizon after selling "
         f"everything and paying that tax, less each year's tax carried to the horizon at {rate}. "
         "It compares plans like with like."),
        ("Benchmark", "The S&P 500, restricted to the stocks the risk model covers: a "
         "proxy built from our price data, weighted by market value. Every tracking error in "
         "this proposal is measured against it; the published index, and a fund that tracks "
         "it, differ from the proxy a little, so the account's tracking error to them can "
         "be higher than shown."),
        ("Cash rate", "What cash in the account earns, and the rate every present value is "
         f"discounted at: {rate}."),
        ("Cost basis", "What was paid for a lot (adjusted as the tax rules require); the gain "
         "on a sale is the proceeds less the basis."),
        ("Economic tax", "Every gain and loss valued at your rate for its term, losses "
         "credited in full; what the optimiser weighs against tracking error."),
        ("Gains budget", "The most net capital gain a plan may realise in a tax year."),
        ("Loss carryforward", f"Net capital losses beyond the {limit} a year that may offset "
         "ordinary income; they carry into later years and offset future gains. Its value is "
         f"the tax it saves at {limit} a year, discounted at {rate}."),
        ("Long-term / short-term", labels.TERM_WORDS),
        ("Monte Carlo range", "After-tax values over many simulated markets from the risk "
         "model: one outcome in ten falls below the low end and one in ten above the high "
         "end."),
        ("Present value", f"A future tax expressed in today's dollars, discounted at {rate}."),
        ("Tax lot", "Shares bought on one date at one price; each is sold, kept or given "
         "separately."),
        ("Tax-loss harvesting", "Selling a lot below its basis to realise a loss that offsets "
         "gains, then holding similar stocks to stay invested."),
        ("Tracking error", "How far, in a typical year, the portfolio's return may differ "
         "from the benchmark's (one standard deviation, estimated from a risk model; not a "
         "bound)."),
        ("Wash sale", "A loss on a sale is disallowed if the same stock is bought within 30 "
         "days before or after it, in any of your accounts."),
    )


GLOSSARY = _glossary("the cash rate")
"""The glossary without a client's date (the rate in words only)."""


def glossary(setup=None) -> ReportTable:
    """The terms the proposal uses, in plain words.

    With the client's ``setup``, the cash rate is stated with its figure and source, from
    the one place every present value takes it (:func:`pma_lab.market.rates.cash_rate`),
    e.g. "the cash rate, 4.41 % a year (the 3-month Treasury bill ...)".
    """
    # captioned apart from the section's "Glossary" heading (reviewer 1, session 22: the
    # PDF printed "Glossary" twice)
    if setup is None:
        return _kv(list(GLOSSARY), GLOSSARY_CAPTION)
    r = cash_rate(setup.market, setup.as_of)
    return _kv(list(_glossary(f"the cash rate, {fmt_pct(r.rate)} a year (the {r.source})",
                              labels.loss_limit(setup))),
               GLOSSARY_CAPTION)


GLOSSARY_CAPTION = "The terms this proposal uses, in plain words"


_DEV_WORDS = ((" (pma_lab.tax.liability)", ""), ("'immediate'", "moving now"),
              ("the diversified plan", "moving now"))


_DEV_CODES = ((re.compile(r"\bsell_within:(\d+)"), r"sell within \1 years"),
              (re.compile(r"\(sell_within\)"), "(sell by a deadline)"),
              (re.compile(r"\bhold_no_add\b"), lambda m: _keep_words()),
              (re.compile(r"\bno_buy\b"), "never bought, not force-sold"),
              (re.compile(r"\b([a-z]+(?:_[a-z]+)+)\b"), None))  # other snake_case codes


def _client_words(text: str) -> str:
    """Text from the engine with its codes (``sell_within:3``, ``fossil_fuels``) in words."""
    for a, b in _DEV_WORDS:
        text = text.replace(a, b)
    for pat, rep in _DEV_CODES:
        text = pat.sub(rep if rep is not None else (lambda m: m.group(1).replace("_", " ")),
                       text)
    return text


def client_words(text: str) -> str:
    """Engine text (an assumption, a plan's note) in the words the proposal prints it in.

    ``'immediate'`` reads ``moving now``, module names are dropped and codes
    (``sell_within:3``, ``fossil_fuels``) are worded; the dashboard shows the analysis's
    assumptions through this too.
    """
    return _client_words(text)


def assumptions(analysis) -> _Html:
    """The stated assumptions, the hindsight warning (historical paths) and disclosures."""
    from pma_lab.plan.transition import HINDSIGHT_WARNING

    items = [_client_words(a) for a in analysis.assumptions
             if a != "No historical replays were run."]
    if len(getattr(analysis, "vintages", ())) and HINDSIGHT_WARNING not in items:
        items.append(HINDSIGHT_WARNING)
    e = html.escape
    body = ('<div class="pma-assumptions"><h3>Assumptions</h3><ul>'
            + "".join(f"<li>{e(a)}</li>" for a in items)
            + f'</ul><h3>Disclosures</h3><p class="pma-disclosure">{e(DISCLOSURES)}</p></div>')
    plain = "\n".join(["Assumptions:"] + [f"- {a}" for a in items] + ["", DISCLOSURES])
    return _Html(body, plain)


# ------------------------------------------------------------------ research notebooks
def factor_table(by_factor: pd.DataFrame, top: int = 15) -> ReportTable:
    """The largest factor contributions of :meth:`pma_lab.portfolio.risk.RiskModel.decompose`."""
    d = by_factor.reindex(by_factor["share"].abs().sort_values(ascending=False).index)
    d = d.iloc[:top]
    f = pd.DataFrame({"Factor": [str(i) for i in d.index],
                      "Active exposure": d.active_exposure.astype(float),
                      "Tracking variance (%\u00b2)": 1e4 * d.variance.astype(float),
                      "Share of tracking variance": d.share.astype(float)})
    return ReportTable(f.reset_index(drop=True),
                       {"Active exposure": "num2", "Tracking variance (%\u00b2)": "num2",
                        "Share of tracking variance": "pct1"},
                       f"Tracking variance by factor (largest {len(f)})")


def bias_table(bias: pd.DataFrame) -> ReportTable:
    """:func:`pma_lab.portfolio.research.bias_test` with percent and ratio formats."""
    f = pd.DataFrame({"Year": bias.year.astype(int).astype(str),
                      "Portfolios": bias.get("portfolios", pd.Series(np.nan, bias.index)),
                      "Mean predicted TE": bias.mean_predicted_te,
                      "Mean realised TE": bias.mean_realized_te,
                      "Mean realised / predicted": bias.mean_ratio,
                      "Median realised / predicted": bias.median_ratio,
                      "Share within 0.7-1.3": bias["share_in_0.7_1.3"]})
    return ReportTable(f.reset_index(drop=True),
                       {"Portfolios": "int", "Mean predicted TE": "pct",
                        "Mean realised TE": "pct", "Mean realised / predicted": "num2",
                        "Median realised / predicted": "num2", "Share within 0.7-1.3": "pct0"},
                       "Risk model calibration by year")


def names_table(curve: pd.DataFrame) -> ReportTable:
    """:func:`pma_lab.portfolio.research.names_curve` with percent formats."""
    f = pd.DataFrame({"Names": curve.names, "Optimised target, ex ante": curve.te_target,
                      "Top-N by cap, ex ante": curve.te_top})
    fm = {"Names": "int", "Optimised target, ex ante": "pct", "Top-N by cap, ex ante": "pct"}
    if "realized_te_target" in curve:
        f["Optimised target, realised"] = curve.realized_te_target
        f["Top-N by cap, realised"] = curve.realized_te_top
        fm |= {"Optimised target, realised": "pct", "Top-N by cap, realised": "pct"}
    return ReportTable(f.reset_index(drop=True), fm, "Tracking error against the number of "
                       "names")


def screen_costs_table(costs: pd.DataFrame) -> ReportTable:
    """:func:`pma_lab.portfolio.research.screen_costs` with percent and basis-point formats."""
    f = pd.DataFrame({"Screen": [_screen_words(str(r)) for r in costs.restriction],
                      "Names excluded": costs.excluded_names,
                      "Weight in the S&P 500": costs.excluded_weight,
                      "Target TE": costs.te, "Extra TE (bp)": 1e4 * costs.extra_te.astype(float),
                      "Selection noise (bp)": 1e4 * costs.selection_noise.astype(float)
                      if "selection_noise" in costs else np.nan,
                      "Error": costs.error.fillna("").astype(str)})
    if not f["Error"].astype(bool).any():
        f = f.drop(columns="Error")
    if not (f["Selection noise (bp)"].fillna(0) > 0).any():
        f = f.drop(columns="Selection noise (bp)")
    caption = "What each screen costs in tracking error"
    if "Selection noise (bp)" in f:
        caption += (" (selection noise: how much lower the screened target's tracking error "
                    "came out than the unscreened one built the same way; the cost is then "
                    "measured against the screened target and reads zero, within that noise)")
    return ReportTable(f.reset_index(drop=True),
                       {"Names excluded": "int", "Weight in the S&P 500": "pct",
                        "Target TE": "pct", "Extra TE (bp)": "num2",
                        "Selection noise (bp)": "num2"},
                       caption, wrap=("Error",))


def vintages_table(analysis) -> ReportTable:
    """Historical replays per plan (research only), with the hindsight warning as caption.

    The yields they use (:data:`pma_lab.plan.analysis.HISTORICAL_YIELDS`) are stated once,
    in the assumptions printed with the table; the caption points there.
    """
    from pma_lab.plan.transition import HINDSIGHT_WARNING

    v = analysis.vintages
    if not len(v):
        return ReportTable(pd.DataFrame(), caption="Historical replays",
                           empty="No historical replays were run.")
    plans = {r.plan.name: r.plan for r in analysis.runs}
    f = pd.DataFrame({"Plan": [labels.plan_name(plans[p]) for p in v.plan], "Paths": v.paths,
                      "Failed": v.failed, "After-tax value, median": v.wealth_median,
                      "10th percentile": v.wealth_p10, "90th percentile": v.wealth_p90,
                      "Tax, median": v.tax_median, "Tax, lowest": v.tax_min,
                      "Tax, highest": v.tax_max})
    return ReportTable(f, {"Paths": "int", "Failed": "int"}
                       | {c: "usd" for c in f.columns[3:]},
                       f"Historical replays (research only). {HINDSIGHT_WARNING} "
                       "Each replay's dividend yields and cash rate are those of the day "
                       "it replays (see the assumptions).",
                       wrap=("Plan",))


def _names(items: Sequence[str]) -> str:
    items = list(items)
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)


def warnings_table(client: Client) -> ReportTable:
    """The warnings raised while loading the client's inputs."""
    return ReportTable(pd.DataFrame({"Warning": [w.format() for w in client.warnings]}),
                       caption="Input warnings", wrap=("Warning",),
                       empty="Loading the inputs raised no warning.")


def _accounts_words(client: Client) -> str:
    n = len(client.profile.accounts)
    return "account" if n == 1 else f"{n} accounts"


def lots_findings(client: Client, summary) -> Markdown:
    """Findings of the lots notebook, in prose from the computed numbers."""
    t = summary.totals
    lots = summary.lots
    tx = lots[lots.account_type.astype(str) == "taxable"]
    # the share and the total it is of on one footing, the sentence before's: the taxable
    # lots standing at a gain, each lot's gain (losses not netted), review 23 #6
    gains = tx.unrealized.clip(lower=0).groupby(tx.ticker).sum()
    top = gains[gains > 0].sort_values(ascending=False).iloc[:3]
    total_gain = float(t.lt_gain + t.st_gain)
    soon = summary.turning_long_term
    soon = soon[soon.days_to_long_term <= 90]
    parts = [
        f"{client.profile.name or client.client_id}'s {_accounts_words(client)} "
        f"{'hold' if len(client.profile.accounts) > 1 else 'holds'} "
        f"{fmt_usd(t.total_value)} ({int(t.lots)} lots of {int(t.tickers)} stocks and "
        "funds).",
        f"The taxable lots carry {fmt_usd(t.lt_gain)} of long-term and {fmt_usd(t.st_gain)} "
        f"of short-term unrealised gain, against {fmt_usd(-(t.lt_loss + t.st_loss))} of "
        "unrealised losses that could be harvested.",
    ]
    if len(top) and total_gain > 0:
        parts.append(f"The largest gains are in {_names(list(top.index))}: "
                     f"{fmt_usd(float(top.sum()))}, {fmt_pct(float(top.sum()) / total_gain, 0)}"
                     f" of the {fmt_usd(total_gain)} of unrealised gain in the taxable lots "
                     "standing at a gain (losses not netted).")
    parts.append(f"{len(soon)} lot{'s' if len(soon) != 1 else ''} turn long-term within 90 "
                 f"days and {len(summary.locks)} wash-sale lock"
                 f"{'s are' if len(summary.locks) != 1 else ' is'} open.")
    if client.warnings:
        parts.append(f"Loading the inputs raised {len(client.warnings)} warning"
                     f"{'s' if len(client.warnings) != 1 else ''} (listed above).")
    return Markdown(" ".join(parts))


def strategy_findings(bias: pd.DataFrame, curve: pd.DataFrame, costs: pd.DataFrame,
                      front) -> Markdown:
    """Findings of the strategy notebook, in prose from the computed numbers."""
    lo, hi = 0.7, 1.3
    cal = bias[(bias.mean_ratio >= lo) & (bias.mean_ratio <= hi)]
    out = [f"The risk model's mean realised / predicted tracking error ratio was within "
           f"{lo}-{hi} in {len(cal)} of {len(bias)} test years (from "
           f"{fmt_num(float(bias.mean_ratio.min()), 2)} to "
           f"{fmt_num(float(bias.mean_ratio.max()), 2)})."]
    c = curve.sort_values("names")
    if len(c):
        first, last = c.iloc[0], c.iloc[-1]
        out.append(f"An optimised {int(first.names)}-name target tracks the index with "
                   f"{fmt_pct(first.te_target)} ex-ante tracking error against "
                   f"{fmt_pct(first.te_top)} for the top {int(first.names)} by size; at "
                   f"{int(last.names)} names it is {fmt_pct(last.te_target)}.")
    ok = costs[costs.error.fillna("").astype(str) == ""]
    # the unscreened reference row is not a screen; and a screen "costs the most" only
    # when it costs something (reviewer 1, session 25: "None (unscreened target) costs the
    # most: 0.0 bp" when no screen cost anything)
    from pma_lab.portfolio.research import UNSCREENED

    screens = ok[(ok.restriction.astype(str) != UNSCREENED) & (ok.extra_te.astype(float) > 0)]
    if len(screens):
        worst = screens.loc[screens.extra_te.astype(float).idxmax()]
        out.append(f"Of the client's screens, {_screen_words(str(worst.restriction))} costs "
                   f"the most: {fmt_num(1e4 * float(worst.extra_te), 1)} bp of extra "
                   f"tracking error for {fmt_pct(float(worst.excluded_weight))} of the index "
                   "excluded.")
    elif len(ok) > 1:
        out.append("None of the client's screens costs measurable tracking error at this "
                   "name count.")
    noisy = ok[ok.get("selection_noise", pd.Series(0.0, index=ok.index)).astype(float) > 0]
    if len(noisy):
        words = _and([_screen_words(str(r)) for r in noisy.restriction])
        out.append(f"{words} {'costs' if len(noisy) == 1 else 'cost'} nothing measurable: "
                   f"the screened target's tracking error came out up to "
                   f"{fmt_num(1e4 * float(noisy.selection_noise.max()), 1)} bp below the "
                   "unscreened target's, within the noise of the heuristic name selection.")
    failed = len(costs) - len(ok)
    if failed:
        out.append(f"{failed} screen row{'s' if failed > 1 else ''} could not be solved "
                   "(see the error column).")
    t = front.table[front.table.status.isin(("optimal", "optimal_inaccurate", "current"))]
    if len(t) >= 2:
        # doing nothing is the sweep's "current" point, which the efficient table leaves
        # out when harvesting beats it on both counts (reviewer 1, session 25: its first
        # row, the first swept point, was quoted as doing nothing: 8.15% for 9.76%)
        a = front.all_points[front.all_points.kind == "current"].iloc[0]
        b = t.iloc[-1]
        out.append(f"For the client, going from doing nothing ({fmt_pct(a.te)} tracking error "
                   f"to the target) to the target costs {fmt_usd(b.tax_economic)} of economic "
                   f"tax ({fmt_usd(b.tax_this_year)} this year; loss carryforward added "
                   f"{fmt_usd(b.carryforward_created)}, negative: used up).")
    from pma_lab.optimize.frontier import dropped_note

    dropped = dropped_note(front)
    if dropped:
        out.append(dropped)
    return Markdown(" ".join(out))


def transition_findings(analysis) -> Markdown:
    """Findings of the transition notebook, in prose from the computed numbers.

    The plan with the highest after-tax value on the expected path, or the plans that end
    about the same (their paired per-path differences on the Monte Carlo paths within
    :data:`pma_lab.plan.analysis.PAIRED_Z` standard errors), the client's plan's tax,
    tracking error and Monte Carlo range, each plan's mean paired difference to hold with
    its standard error, the chance of ending below moving now (about the same when the
    plans' chances differ by no more than the sampling error), and, for the historical
    replays (research only, with the hindsight warning), the spread of their medians.
    Plans are named by :func:`pma_lab.report.labels.plan_name`; every figure comes from
    ``analysis``.
    """
    from pma_lab.plan.analysis import PAIRED_Z, paired_stats
    from pma_lab.plan.transition import HINDSIGHT_WARNING

    c = _ordered(analysis)
    h = _horizon(analysis)
    years = f"{h} year{'s' if h != 1 else ''}"
    name = labels.plan_name
    best = c.loc[c.after_tax_wealth.astype(float).idxmax()]
    mine = c[c.is_client_plan].iloc[0]
    mc = {r.plan.name: r.mc.wealth for r in analysis.runs
          if r.path == "expected" and r.mc is not None and not r.failed}
    # plans the Monte Carlo paths cannot tell from the best one (paired, same paths)
    ties = [r for _, r in c.iterrows() if r.plan != best.plan and r.plan in mc
            and best.plan in mc and paired_stats(mc[r.plan], mc[best.plan])["within_noise"]]
    if ties:
        same = [best, *ties]
        w = [float(r.after_tax_wealth) for r in same]
        out = [f"On the expected path {_and([name(r._plan) for r in same])} end about the "
               f"same after tax in {years} ({fmt_usd(min(w))} to {fmt_usd(max(w))}): on the "
               f"same {len(mc[best.plan])} Monte Carlo paths their per-path differences "
               f"average within {PAIRED_Z:g} standard errors of zero, so none is ranked "
               f"above the others."]
    else:
        out = [f"On the expected path, {name(best._plan)} ends with the highest after-tax "
               f"value in {years} ({fmt_usd(best.after_tax_wealth)}"
               + ("" if missing(best.vs_hold) else
                  f", {fmt_usd(best.vs_hold)} against holding") + ")."]
    out.append(
        f"The client's own plan, {name(mine._plan)}, pays {fmt_usd(mine.tax_total)} of "
        f"tax over the horizon and ends at {fmt_pct(mine.te_end)} tracking error; across "
        f"the Monte Carlo paths its after-tax value ranges from "
        f"{labels.after_tax_range(mine.after_tax_wealth_p10, mine.after_tax_wealth_p90)} "
        f"(10th to 90th percentile).")
    vs = analysis.paired("hold")
    holds = {p.name for p in c._plan if p.kind == "hold"}
    vs = vs[vs.plan.isin(set(c.plan)) & ~vs.plan.isin(holds)] if len(vs) else vs
    if len(vs):
        plans = dict(zip(c.plan, c._plan, strict=True))
        parts = [f"{name(plans[r.plan])} {fmt_usd(r.diff_mean)} (standard error "
                 f"{fmt_usd(r.diff_se)}{'; about the same' if r.within_noise else ''})"
                 for r in vs.itertuples()]
        out.append(f"Against holding, on the same {int(vs.paths.iloc[0])} Monte Carlo paths, "
                   f"the mean after-tax difference per path is: {'; '.join(parts)}.")
    others = [p.kind != "immediate" or p.te_cap is not None for p in c._plan]
    below = c[others].prob_below_diversified.astype(float).dropna()
    n = len(next(iter(mc.values()))) if mc else 0
    if len(below) and n:
        se = np.sqrt(below * (1 - below) / n)
        if len(below) == 1:
            one = c.loc[below.index[0]]
            out.append(f"{name(one._plan)} ends below moving now on "
                       f"{fmt_pct(below.iloc[0], 0)} of the {n} paths (standard error "
                       f"{fmt_pct(float(se.iloc[0]), 1)}).")
        elif below.max() - below.min() <= PAIRED_Z * float(se.max()):
            out.append(f"The chance of ending below moving now is about the same for every "
                       f"other plan: {fmt_pct(below.min(), 0)} to {fmt_pct(below.max(), 0)} of "
                       f"the {n} paths, within the sampling error (standard error up to "
                       f"{fmt_pct(float(se.max()), 1)}).")
        else:
            worst = c.loc[below.idxmax()]
            out.append(f"{name(worst._plan)} ends below moving now most often "
                       f"({fmt_pct(worst.prob_below_diversified, 0)} of the {n} paths, "
                       f"standard error {fmt_pct(float(se[below.idxmax()]), 1)}).")
    v = analysis.vintages
    if len(v):
        plans = {r.plan.name: r.plan for r in analysis.runs}
        ok = v[v.paths > 0]
        if len(ok):
            hi = ok.loc[ok.wealth_median.astype(float).idxmax()]
            lo = ok.loc[ok.wealth_median.astype(float).idxmin()]
            out.append(f"Over the {int(v.paths.max())} historical start dates the median "
                       f"after-tax value runs from {fmt_usd(lo.wealth_median)} "
                       f"({name(plans[lo.plan])}) to {fmt_usd(hi.wealth_median)} "
                       f"({name(plans[hi.plan])}); these replays are research only: "
                       f"{HINDSIGHT_WARNING}")
    return Markdown(" ".join(out))

# ----------------------------------------------------------------------------- trade files
HOUSEHOLD_TRADES = "household_trades"
"""The household section's machine table (:data:`pma_lab.report.shelf.HOUSEHOLD_TRADES`):
the retirement accounts' orders, appended to the plan's in the trade files."""
_ROUND = {"Quantity": 6, "Est. Price": 4, "Est. Amount": 2, "Est. Gain": 2,
          "Cost per Share": 4, "Cost per Share (as recorded)": 4}
_XLSX_FORMATS = {"Quantity": "General", "Est. Price": "#,##0.00",
                 "Est. Amount": "#,##0.00", "Est. Gain": "#,##0.00;[Red]-#,##0.00",
                 "Cost per Share": "#,##0.00##", "Acquired": "yyyy-mm-dd",
                 "Cost per Share (as recorded)": "#,##0.00##",
                 "Acquired (as recorded)": "yyyy-mm-dd"}
_CSV_CENTS = ("Est. Amount", "Est. Gain")  # dollars and cents: 21513.00
_CSV_PRICES = ("Est. Price", "Cost per Share",  # 2 to 4 decimals: 2.70, 33.3333
               "Cost per Share (as recorded)")
_DATE_COLUMNS = ("Acquired", "Acquired (as recorded)")
"""The trade file's dates: ISO text in the CSV, date cells in the XLSX."""


def _csv_money(v: object, places: int, least: int) -> object:
    """A money cell for the CSV: a Decimal to ``places`` decimals, at least ``least``.

    A Decimal is a number, not text, so no formula guard touches a negative one, and the
    file reads ``21513.00`` and ``2.70`` (reviewer 1, session 24: ``21513``, ``2.7``).
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    d = Decimal(repr(float(v))).quantize(Decimal(1).scaleb(-places))
    if places > least:
        d = d.normalize()
        if -d.as_tuple().exponent < least:
            d = d.quantize(Decimal(1).scaleb(-least))
    return d


def write_trades(frame: pd.DataFrame, path_csv: str | Path | None,
                 path_xlsx: str | Path | None, inputs: Sequence[str | Path] = ()) -> None:
    """Write a custodian-layout frame to CSV and/or XLSX through :mod:`pma_lab.files`.

    Numbers stay numbers (rounded: shares 6, price and cost per share 4, amounts 2
    decimals; in the CSV amounts with their cents, prices with 2 to 4 decimals, whole
    shares without a decimal point, never scientific notation; the XLSX's ``Acquired``
    is a date cell:
    a lot's cost per share, its basis over its shares, is ``15.87`` rather than
    ``15.87000999001`` for $3,971.47 over 250.25 shares, and keeps a sub-cent basis such
    as ``33.3333``; the XLSX shows it with 2 to 4 decimals); text cells are
    neutralised (:func:`pma_lab.files.neutralise` in CSV; in XLSX the text is kept
    unaltered as a string cell with the quote-prefix style, no literal quote); the XLSX
    has a bold, frozen header row, number formats and no formula. Both files are written
    atomically and never over ``inputs``.
    """
    frame = frame.copy()
    for c, d in _ROUND.items():
        if c in frame:
            frame[c] = pd.to_numeric(frame[c], errors="raise").round(d)
    if path_csv is not None:
        # plain decimals, never scientific notation (a custodian's import reads 1e-05 as
        # text); dollars to the cent, prices to 2-4 decimals
        text = frame.copy()
        for c in _CSV_CENTS + _CSV_PRICES:
            if c in text:
                places, least = (2, 2) if c in _CSV_CENTS else (_ROUND[c], 2)
                text[c] = [_csv_money(v, places, least) for v in text[c]]
        write_csv(text, path_csv, inputs,
                  float_format=lambda x: np.format_float_positional(x, trim="-"))
    if path_xlsx is not None:
        book = frame.copy()
        for c in _DATE_COLUMNS:  # a date cell, not text (reviewer 1, session 24)
            if c in book:
                book[c] = [dt.date.fromisoformat(v) if isinstance(v, str) and v else None
                           for v in book[c]]
        write_xlsx({"Trades": book}, path_xlsx, inputs, number_formats=_XLSX_FORMATS)


def export_trades(result, path_csv: str | Path | None, path_xlsx: str | Path | None,
                  household=None) -> pd.DataFrame:
    """Write a rebalance's trades for the custodian (CSV and XLSX); returns the frame.

    Parameters
    ----------
    result : RebalanceResult
        E.g. from :func:`pma_lab.plan.transition.first_trades`.
    path_csv, path_xlsx : str | Path | None
        Where to write (``None``: skip that format).
    household : HouseholdResult | None
        The household solved around ``result`` (:func:`pma_lab.report.shelf.household`):
        its other accounts' orders follow the plan's, as in the proposal's trade files.
    """
    frame = custodian_trades(result)
    if household is not None:
        from pma_lab.report.shelf import household_trade_rows

        if household.fixed_account != str(result.summary.account):
            raise DataError(f"the household was not solved around these trades (account "
                            f"{result.summary.account}'s); pass the household of the same "
                            "plan's first step")
        extra = household_trade_rows(household)
        if len(extra):
            frame = pd.concat([frame, extra], ignore_index=True)
    write_trades(frame, path_csv, path_xlsx)
    return frame


# --------------------------------------------------------------------------------- pipeline
@dataclass(frozen=True)
class ProposalOutput:
    """Where a rendered proposal went and how long it took.

    Attributes
    ----------
    client_id : str
    notebook : Path
        The executed notebook.
    html : Path | None
    pdf : Path | None
    trades_csv, trades_xlsx : Path
        Today's trades (custodian layout).
    seconds : float
        Wall time of the whole render.
    timings : Mapping[str, float]
        Seconds per stage: ``kernel`` (a warm kernel's reset, or its start when due; only
        with ``kernel=``), ``papermill`` (the notebook's execution, a fresh kernel's start
        included; each cell's own seconds are in the executed notebook's
        ``metadata.papermill.duration``), ``html``, ``pdf``, ``trades``.
    """

    client_id: str
    notebook: Path
    html: Path | None
    pdf: Path | None
    trades_csv: Path
    trades_xlsx: Path
    seconds: float
    timings: Mapping[str, float] = field(default_factory=dict)
    warning: str = ""  # TRADES_WARNING as the proposal shows it: the plan cannot be completed


def notebook_parameters(path: str | Path = PROPOSAL_NOTEBOOK) -> dict[str, dict[str, Any]]:
    """The notebook's parameters: name -> {default (a Python value), type, help}.

    Read with ``papermill.inspect_notebook`` from the cell tagged ``parameters``.
    """
    import papermill as pm

    out = {}
    for name, p in pm.inspect_notebook(str(path)).items():
        try:
            default = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError):
            default = p["default"]
        out[name] = {"default": default, "type": p.get("inferred_type_name"),
                     "help": p.get("help", "")}
    return out


def _coerce(name: str, value: object, default: object) -> object:
    """Check a parameter's type against its default; parse text given on a command line."""
    want = type(default)
    if want is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false",
                                                                "0", "no"):
            return value.strip().lower() in ("true", "1", "yes")
    elif want in (int, float):
        if isinstance(value, want) and not isinstance(value, bool):
            return value
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return want(value.strip())
            except ValueError:
                pass
    elif want is list:
        if isinstance(value, (list, tuple)) and all(isinstance(v, (str, Path)) for v in value):
            return [str(v) for v in value]
    elif want is str:
        if isinstance(value, str):
            return value
    else:
        return value
    raise DataError(f"parameter {name}={value!r} is not a {want.__name__} (default "
                    f"{default!r})")


def output_paths(out_dir: str | Path, client_id: str) -> dict[str, Path]:
    """The proposal's output files inside ``out_dir``, named from a sanitised client id.

    Only ``[A-Za-z0-9._-]`` survive, with no leading dot, so no client id can name a path
    outside ``out_dir``.

    Raises
    ------
    PmaLabError
        If a resulting path is not directly inside ``out_dir`` (defence in depth).
    """
    out = Path(out_dir).resolve()
    stem = safe_name(client_id)
    paths = {"notebook": out / f"{stem}_proposal.ipynb", "html": out / f"{stem}_proposal.html",
             "pdf": out / f"{stem}_proposal.pdf", "trades_csv": out / f"{stem}_trades.csv",
             "trades_xlsx": out / f"{stem}_trades.xlsx", "error": out / "error.txt",
             "marker": out / f"{stem}_complete.json"}
    for p in paths.values():
        if p.parent != out:
            raise PmaLabError(f"output name {p.name!r} would leave {out}")
    return paths


def _client_id_hint(profile: Path) -> str:
    """The profile's ``client.id`` read without validation (the kernel validates)."""
    try:
        doc = tomllib.loads(profile.read_text(encoding="utf-8"))
        cid = doc.get("client", {}).get("id")
        if isinstance(cid, str) and cid.strip():
            return cid
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        pass
    return profile.parent.name or profile.stem


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _find_output(nb, mimetype: str, name: str | None = None) -> dict | None:
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            d = o.get("data", {})
            if mimetype in d and (name is None or d[mimetype].get("name") == name):
                return d[mimetype]
    return None


def render_proposal(profile: str | Path, out_dir: str | Path, *,
                    lots: Sequence[str | Path] = (), as_of: str | dt.date | None = None,
                    formats: Sequence[str] = ("html",), notebook: str | Path | None = None,
                    timeout: int = 900, paper: str = "Letter", kernel: WarmKernel | None = None,
                    **params: object) -> ProposalOutput:
    """Render a client's proposal: papermill, then HTML (and PDF), plus the trade files.

    Parameters
    ----------
    profile : str | Path
        The client's profile (TOML).
    out_dir : str | Path
        Output folder (created).
    lots : Sequence[str | Path]
        Lots files to use instead of the profile's.
    as_of : str | date | None
        Analysis date (default: the profile's).
    formats : Sequence[str]
        ``html`` and/or ``pdf`` (a PDF is printed from the HTML, which is kept).
    notebook : str | Path | None
        The proposal notebook (default :data:`PROPOSAL_NOTEBOOK`).
    timeout : int
        Seconds allowed per cell.
    paper : {"Letter", "A4"}
        Page size of the print CSS and of the PDF (any case).
    kernel : WarmKernel | None
        A kernel kept alive across proposals (:class:`pma_lab.report.kernel.WarmKernel`; reset
        before the run, replaced if the run does not finish). Default: a fresh kernel.
    **params
        Other notebook parameters (``plans``, ``horizon_years``, ``annual_steps``,
        ``frontier_points``, ``firm_name``); text values are parsed to the parameter's type.
        ``risk_model_file``, ``benchmark_file`` and ``target_file`` name a researcher's
        model files (:mod:`pma_lab.io.models`): resolved from the current folder, checked
        before the kernel starts and never overwritten; the proposal names them.

    Returns
    -------
    ProposalOutput

    Raises
    ------
    DataError
        For an unknown parameter (the message lists the accepted ones), a value of the
        wrong type or an unknown format; a :class:`~pma_lab.errors.ModelFileError` for a
        bad model file (every problem, with its row, column and fix).
    ProposalFailedError
        When a cell fails: the executed notebook and ``error.txt`` are kept in ``out_dir``.
    PmaLabError
        When Chromium is missing or fails to print.
    """
    import papermill as pm

    t0 = time.perf_counter()
    nb_path = Path(notebook or PROPOSAL_NOTEBOOK).resolve()
    accepted = notebook_parameters(nb_path)
    fixed = {"profile", "lots", "as_of"}
    unknown = sorted(set(params) - (set(accepted) - fixed))
    if unknown:
        names = ", ".join(sorted(set(accepted) - fixed))
        raise DataError(f"unknown proposal parameter(s) {', '.join(unknown)}; the notebook "
                        f"{nb_path.name} accepts {names} (and profile, lots, as_of as "
                        "arguments)")
    fmts = tuple(str(f).strip().lower() for f in formats)
    bad = [f for f in fmts if f not in ("html", "pdf")]
    if bad or not fmts:
        raise DataError(f"unknown output format(s) {bad}; use html and/or pdf")
    paper = _paper(paper)
    values: dict[str, object] = {k: _coerce(k, v, accepted[k]["default"])
                                 for k, v in params.items()}
    if as_of is not None and not isinstance(as_of, dt.date):
        to_date(str(as_of))  # a malformed date fails here, before a kernel starts
    prof = Path(profile).expanduser().resolve()
    values["profile"] = str(prof)
    values["lots"] = [str(Path(f).expanduser().resolve()) for f in lots]
    values["as_of"] = "" if as_of is None else str(as_of)
    models = _model_file_params(values)  # the kernel runs in the notebook's folder

    paths = output_paths(out_dir, _client_id_hint(prof))
    inputs = [prof, *values["lots"], *_input_files_hint(prof), *models]  # type: ignore[misc]
    for p in paths.values():
        check_destination(p, inputs)  # before anything is removed or written
    paths["notebook"].parent.mkdir(parents=True, exist_ok=True)
    clear_marker(paths["marker"])  # the marker is written last: a killed run has none
    for k in ("error", "html", "pdf", "trades_csv", "trades_xlsx"):
        paths[k].unlink(missing_ok=True)  # nothing stale survives a failed run
    timings: dict[str, float] = {}
    failure = None
    with atomic_path(paths["notebook"], inputs) as tmp_nb:
        # a fresh kernel over IPC, not TCP (no warning on the console; see kernel.py)
        engine: dict[str, object] = {"kernel_manager_class": kernel_manager_class()}
        if kernel is not None:
            t = time.perf_counter()
            kernel.prepare(nb_path.parent)
            timings["kernel"] = time.perf_counter() - t
            engine = {"km": kernel.manager}  # made with the same setting
        t = time.perf_counter()
        try:
            # written once at the end (or with the failing cell), not at every cell's start
            # and end: ~90 rewrites of a growing notebook cost seconds a proposal
            pm.execute_notebook(str(nb_path), str(tmp_nb), parameters=values,
                                kernel_name="python3", cwd=str(nb_path.parent),
                                progress_bar=False, log_output=False,
                                request_save_on_cell_execute=False,
                                execution_timeout=timeout, **engine)
        except pm.PapermillExecutionError as e:
            failure = e  # the executed notebook is kept: renamed into place all the same
        except BaseException:
            if kernel is not None:
                kernel.discard()  # a timeout or a dead kernel: the next run starts afresh
            raise
    if failure is not None:
        raise _failed(failure, paths, inputs) from None
    timings["papermill"] = time.perf_counter() - t

    import nbformat

    nb = nbformat.read(paths["notebook"], as_version=4)
    cov = _find_output(nb, COVER_MIMETYPE) or {}
    client_id = cov.get("client_id") or _client_id_hint(prof)

    trades = _find_output(nb, TABLE_MIMETYPE, "trades")
    if trades is None:
        raise PmaLabError(f"{paths['notebook']}: the notebook shows no trade list "
                          "(report.trade_list); cannot write the trade files")
    frame = pd.DataFrame(trades["rows"], columns=trades["columns"])
    # a household's other accounts' orders (the household section's), after the plan's
    others = _find_output(nb, TABLE_MIMETYPE, HOUSEHOLD_TRADES)
    if others is not None and others["rows"]:
        frame = pd.concat([frame, pd.DataFrame(others["rows"], columns=others["columns"])],
                          ignore_index=True)

    t = time.perf_counter()
    page = notebook_html(nb, title=f"{cov.get('firm_name', '')} proposal for "
                                   f"{cov.get('client_name', client_id)}".strip(), paper=paper)
    write_text(paths["html"], page, inputs)
    timings["html"] = time.perf_counter() - t
    pdf = None
    if "pdf" in fmts:
        t = time.perf_counter()
        pdf = html_to_pdf(paths["html"], paths["pdf"], inputs=inputs, paper=paper, text=page,
                          footer=cov.get("footer") or FOOTER_NOTE,
                          footer_right=" \u00b7 ".join(filter(None, (
                              cov.get("firm_name"), cov.get("client_name"),
                              f"as of {cov['as_of']}" if cov.get("as_of") else ""))))
        timings["pdf"] = time.perf_counter() - t
    # the trade files come after the proposal they belong to, then the run marker
    t = time.perf_counter()
    write_trades(frame, paths["trades_csv"], paths["trades_xlsx"], inputs)
    timings["trades"] = time.perf_counter() - t
    done = [paths["notebook"], paths["html"], *([pdf] if pdf else []), paths["trades_csv"],
            paths["trades_xlsx"]]
    # a plan that cannot be completed: the marker says so beside "complete" (the proposal
    # is complete; the trades it lists start a plan that is not), as the batch summary does
    warning = _shown_warning(nb)
    write_marker(paths["marker"], done,
                 {"client_id": client_id, **({"warning": warning} if warning else {})})
    return ProposalOutput(client_id, paths["notebook"], paths["html"], pdf,
                          paths["trades_csv"], paths["trades_xlsx"],
                          time.perf_counter() - t0, timings, warning)


def _shown_warning(nb) -> str:
    """The trade section's :data:`TRADES_WARNING` as the executed notebook shows it."""
    lead = TRADES_WARNING.split("{", 1)[0]
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            text = o.get("data", {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else str(text)
            at = text.find(lead)
            if at >= 0:
                return text[at:].split("\n", 1)[0].strip()
    return ""


MODEL_FILE_PARAMS = {"risk_model_file": "risk_model", "benchmark_file": "benchmark",
                     "target_file": "target"}
"""Proposal parameters naming a researcher's model files -> :func:`read_models` arguments."""


def _model_file_params(values: dict[str, object]) -> list[Path]:
    """Resolve and check the model file parameters given (in place), before a kernel starts.

    Returns the files (a factor model folder's files too), which no output may replace.

    Raises
    ------
    DataError
        For a path that does not exist; :class:`~pma_lab.errors.ModelFileError` for a bad
        file (every problem, with its row, column and fix).
    """
    from pma_lab.io.models import check_model_files

    out, given = [], {}
    for name, arg in MODEL_FILE_PARAMS.items():
        text = values.get(name)
        if not text:
            continue
        path = Path(str(text)).expanduser().resolve()
        if not path.exists():
            raise DataError(f"{name}={text!r}: no such file or folder; give the path of your "
                            "model file (relative paths are from the current folder)")
        values[name] = str(path)
        given[arg] = path
        out += [path, *(sorted(path.iterdir()) if path.is_dir() else [])]
    if given:
        check_model_files(**given)
    return out


def models(client: Client, risk_model_file: str = "", benchmark_file: str = "",
           target_file: str = ""):
    """The researcher's models named by the notebook's parameters (empty: pma_lab's own).

    Returns
    -------
    pma_lab.io.models.ModelFiles
        Pass ``.prepare_args()`` to :func:`pma_lab.optimize.engine.prepare`; show
        :func:`models_table` in the proposal.
    """
    from pma_lab.io.models import read_models

    given = {MODEL_FILE_PARAMS[k]: v for k, v in (
        ("risk_model_file", risk_model_file), ("benchmark_file", benchmark_file),
        ("target_file", target_file)) if v}
    from pma_lab.optimize.engine import kept_weights_today

    return read_models(as_of=client.as_of, client=client, kept_today=kept_weights_today,
                       **given)


def _factor_count(rm) -> str:
    """The model's factors in words: industry and style factors, then issuer factors."""
    k = int(rm.systematic.sum())
    g = len(rm.factors) - k
    return (f"{k} factors" if not g else
            f"{k} factors and {g} share-class issuer factor{'s' if g > 1 else ''}")


def models_table(own, setup) -> ReportTable:
    """Which risk model, benchmark and target the proposal used, in the client's words.

    ``own``: :func:`models` (the files given); what was not given is described from
    ``setup`` (our factor model, the S&P 500 proxy or the profile's benchmark file, the
    target built from the benchmark and the screens).
    """
    given = own.describe()
    rm, bench, tgt = setup.risk, setup.benchmark, setup.target
    years = rm.settings.window_days / 252
    risk = given.get("risk") or (
        f"our factor model of {len(rm.tickers)} stocks ({_factor_count(rm)}), "
        f"estimated from {years:.0f} years of daily prices up to {setup.as_of:%Y-%m-%d}")
    if "benchmark" in given:
        benchmark = given["benchmark"]
    elif getattr(setup.client.profile.target, "benchmark_file", None) is not None:
        benchmark = (f"{bench.name}, the weights file named in your profile "
                     f"({len(bench.weights)} stocks)")
    else:
        benchmark = (f"the {bench.label}, cap-weighted from market data ({len(bench.weights)} "
                     "stocks)")
    comp = getattr(setup, "completion", None)
    if given.get("target"):
        target = given["target"]
    elif comp is not None:
        target = (f"your active + index core: the manager's model at "
                  f"{labels.sleeve_share(comp.active_held)} of the account and a "
                  "completion sleeve of "
                  f"{fmt_num(int((comp.completion > 1e-9).sum()))} stocks that offsets its "
                  f"unintended exposures ({int(tgt.names)} names in all)")
    else:
        target = (f"built from the benchmark: {int(tgt.names)} names your screens allow, "
                  "tracking it as closely as they can")
    kept = labels.keep_list_words(setup)  # every kind of target is built around it
    if kept:
        target += f"; your keep list: {kept}"
    rows = [("Risk model", risk), ("Benchmark", benchmark), ("Target", target)]
    return _kv([(k, v[0].upper() + v[1:]) for k, v in rows], "Models used in this proposal")


def _input_files_hint(profile: Path) -> list[Path]:
    """The lots and recent-trades files a profile names, read without validation."""
    try:
        lots = tomllib.loads(profile.read_text(encoding="utf-8")).get("lots", {})
        names = list(lots.get("files", [])) + [lots.get("recent_trades")]
        return [profile.parent / n for n in names if isinstance(n, str) and n.strip()]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError,
            TypeError):
        return []


def _failed(e, paths: Mapping[str, Path], inputs: Sequence[str | Path] = ()
            ) -> ProposalFailedError:
    """Write error.txt next to the kept notebook and build the error to raise."""
    src = (e.source or "").strip().splitlines()
    where = f"cell {e.cell_index}" + (f" (In [{e.exec_count}])" if e.exec_count else "")
    first = next((ln for ln in src if ln.strip() and not ln.lstrip().startswith("#")), "")
    tb = _ANSI.sub("", "\n".join(e.traceback or []))
    evalue = str(e.evalue)
    write_text(paths["error"],
               f"The proposal notebook failed in {where}:\n\n{e.source}\n\n{e.ename}: "
               f"{evalue}\n\nExecuted notebook: {paths['notebook']}\n\n{tb}\n", inputs)
    lines = evalue.splitlines()
    shown = "\n".join(lines[:8]) + (f"\n... ({len(lines) - 8} more lines in error.txt)"
                                    if len(lines) > 8 else "")
    msg = (f"proposal failed in {where} `{first.strip()}`: {e.ename}: {shown}\n"
           f"The executed notebook is kept at {paths['notebook']} and the details in "
           f"{paths['error']}")
    return ProposalFailedError(msg, paths["notebook"], paths["error"], e.ename, evalue)


def notebook_html(nb, title: str = "", paper: str = "Letter") -> str:
    """Convert an executed proposal notebook to a self-contained HTML page (no code).

    ``paper`` (``"Letter"`` or ``"A4"``) sets the print CSS page size.
    """
    # nbconvert parses and re-serialises the whole page (BeautifulSoup, to add tabindex and
    # alt attributes); the 4.8 MB plotly.js bundle was most of what it parsed (~0.3 CPU-s a
    # proposal) and comes out as it went in (a script's text is kept verbatim). The
    # template gets a marker instead and the bundle replaces it afterwards: the same page.
    resources = {"plotlyjs": _PLOTLYJS_MARK, "metadata": {"name": title or "Proposal"},
                 "paper": _paper(paper)}
    with _EXPORTER_LOCK:  # one exporter per process: its template environment is kept
        body, _ = _exporter().from_notebook_node(nb, resources=resources)
    mark = f"<script>{_PLOTLYJS_MARK}</script>"
    if body.count(mark) != 1:  # the template inlines the bundle exactly once
        raise PmaLabError(f"the {TEMPLATE_NAME} template must inline plotly.js once (as "
                          f"<script>{{{{ resources.plotlyjs }}}}</script>); found it "
                          f"{body.count(mark)} times")
    at = body.index(mark)
    return f"{body[:at]}{_plotlyjs_inline()}{body[at + len(mark):]}"


_EXPORTER_LOCK = threading.Lock()
_PLOTLYJS_MARK = "/* pma_lab: plotly.js is inlined here */"


@functools.lru_cache(maxsize=1)
def _plotlyjs_inline() -> str:
    """plotly.js as a proposal inlines it (``<script>...</script>``), read once a process.

    ``plotly.offline.get_plotlyjs`` reads and decodes the 4.8 MB bundle at every call
    (~5-10 CPU-ms); a proposal needed it twice (its page, then the printer finding it in
    the page). The installed plotly does not change while a process runs.
    """
    from plotly.offline import get_plotlyjs

    return f"<script>{get_plotlyjs()}</script>"


@functools.lru_cache(maxsize=1)
def _exporter():  # noqa: ANN202 - nbconvert.HTMLExporter
    """The proposal's HTML exporter, built once per process.

    A batch worker's clients share its compiled templates (~0.4 s a proposal).
    """
    from nbconvert import HTMLExporter

    class ProposalExporter(HTMLExporter):
        """nbconvert's HTML exporter validating the notebook once, not after each step.

        nbconvert validates the whole notebook against the schema after every one of its
        twelve preprocessors (enabled or not: ~0.04 CPU-s a proposal, a fifth of the
        conversion); the four that run here (tag and regex removal, magics highlighting,
        the CSS header) do not restructure cells, so the notebook is validated once,
        before them, and the page is the same.
        """

        def _preprocess(self, nb, resources):  # noqa: ANN001, ANN202 - nbconvert's
            """The preprocessing of nbconvert, without two more copies of the notebook.

            ``nb`` is already ``from_notebook_node``'s own deep copy; nbconvert copies it
            again here and ``nbformat.validator.normalize`` a third time (the page took
            0.20 CPU-s, now 0.15, at load 14-18). ``nbformat.validate`` normalises it in
            place (what ``normalize`` did to its copy) and checks it; the preprocessors
            then run on it in nbconvert's order, as in ``Exporter._preprocess``. This
            mirrors nbconvert 7.17 and relies on nbformat 5.11's ``validate`` normalising
            in place (its docstring says it may stop): ``constraints.txt`` installs
            exactly those, and ``tests/test_report.py`` checks the page byte for byte
            against nbconvert's own exporter, so a release that changes either fails there.
            """
            import nbformat

            nbformat.validate(nb, relax_add_props=True)
            resources = copy.deepcopy(resources)
            for preprocessor in self._preprocessors:
                nb, resources = preprocessor(nb, resources)
            return nb, resources

        def _validate_preprocessor(self, nbc, preprocessor) -> None:  # noqa: ANN001
            return None

        def from_notebook_node(self, nb, resources=None, **kw):  # noqa: ANN001, ANN202
            """The HTML conversion of nbconvert, its BeautifulSoup pass written as parsed.

            nbconvert parses the page (BeautifulSoup, ``html.parser``), runs three CSS
            selections over the whole tree (``img:not([alt])`` gets an alt text,
            ``.jp-Notebook div.jp-Cell-inputWrapper`` and ``.jp-Notebook
            div.jp-OutputArea-output`` a ``tabindex``) and serialises it: ~0.1 CPU-s of a
            proposal's ~0.19 (load ~20). :class:`_SoupStream` writes the same page while
            bs4's parser reads it, no tree built (~0.09 CPU-s in all). The rest mirrors
            nbconvert 7.17's ``HTMLExporter.from_notebook_node``
            (``constraints.txt`` pins it; ``tests/test_report.py`` compares the page byte
            for byte with nbconvert's own exporter).
            """
            from nbconvert.exporters.templateexporter import TemplateExporter
            from nbconvert.filters.highlight import Highlight2HTML
            from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight_code = self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
            resources = self._init_resources(resources)
            filter_data_type = WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources)
            self.register_filter("highlight_code", highlight_code)
            self.register_filter("filter_data_type", filter_data_type)
            page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            stream = _SoupStream()
            page = stream.feed(page)
            if stream.missing_alt:
                self.log.warning("Alternative text is missing on %s image(s).",
                                 stream.missing_alt)
            return page, resources

    return ProposalExporter(template_name=TEMPLATE_NAME,
                            extra_template_basedirs=[str(TEMPLATES_DIR)], exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)


_NO_ALT = "No description has been provided for this image"
"""nbconvert's alt text for an image without one."""


class _SoupStream:
    """BeautifulSoup's ``html.parser`` round trip of a page, written as it is parsed.

    nbconvert's HTML exporter parses its page with BeautifulSoup (``html.parser``), adds
    its accessibility attributes and serialises the tree (``str(soup)``): ~0.1 CPU-s a
    proposal (load ~20), the tree's ~4,000 tags built only to be written out again. This
    object stands in for the ``BeautifulSoup`` document that bs4's own parser class
    (``BeautifulSoupHTMLParser``: the same tokens, character references and attribute
    dictionaries) feeds, and writes each piece as
    ``BeautifulSoup.decode`` would: a tag's attributes sorted, multi-valued ones (``class``)
    split on whitespace and joined by one space, ``<meta>``'s charset as bs4 substitutes
    it, text escaped (``&``, ``<``, ``>``; not in ``script`` or ``style``), a
    whitespace-only string as one newline or space (not in ``pre`` or ``textarea``), void
    elements as ``<br/>``, an end tag closing the elements opened after its own and a stray
    one dropped, what is left open closed at the end. nbconvert's accessibility attributes
    are set as its three selections set them: every ``img`` without an ``alt`` gets
    :data:`_NO_ALT`, every ``div`` of class ``jp-Cell-inputWrapper`` or
    ``jp-OutputArea-output`` inside an element of class ``jp-Notebook`` (an element's
    ancestors are the elements open when it starts) gets ``tabindex="0"``. This mirrors
    bs4 4.15 (``constraints.txt`` pins it); ``tests/test_report.py`` compares the page
    with BeautifulSoup's and nbconvert's own exporter's byte for byte.
    """

    ROOT_TAG_NAME = "[document]"

    def __init__(self) -> None:
        from bs4.builder import HTMLParserTreeBuilder
        from bs4.dammit import EntitySubstitution
        from bs4.element import nonwhitespace_re

        self.builder = HTMLParserTreeBuilder()
        self.contains_replacement_characters = False
        self.missing_alt = 0
        self._out: list[str] = []
        self._data: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # open tags: (name, inside jp-Notebook)
        self._open: dict[str, int] = {}
        self._keep_space = 0  # open pre and textarea elements
        self._sub = EntitySubstitution.substitute_xml
        self._words = nonwhitespace_re.findall
        self._void = self.builder.empty_element_tags
        self._lists = self.builder.cdata_list_attributes
        self._pre = self.builder.preserve_whitespace_tags

    def feed(self, page: str) -> str:
        """``str(BeautifulSoup(page, "html.parser"))``, with nbconvert's attributes added."""
        from bs4.builder._htmlparser import BeautifulSoupHTMLParser

        args, kwargs = self.builder.parser_args
        parser = BeautifulSoupHTMLParser(self, *args, **kwargs)
        parser.feed(page)
        parser.close()
        self.endData()
        while self._stack:
            self._pop()
        return "".join(self._out)

    def handle_starttag(self, name: str, namespace: object, nsprefix: object,
                        attrs: dict, sourceline: object = None, sourcepos: object = None,
                        namespaces: object = None) -> _SoupStream._Tag:
        self.endData()
        attrs = dict(attrs)
        listed = self._lists.get("*", set()) | self._lists.get(name.lower(), set())
        classes: list[str] = []
        for key in attrs:
            if key in listed:
                words = self._words(attrs[key])
                attrs[key] = " ".join(words)
                if key == "class":
                    classes = words
        if name == "meta":  # bs4's set_up_substitutions, written out as utf-8
            from bs4.element import CharsetMetaAttributeValue, ContentMetaAttributeValue

            if "charset" in attrs:
                attrs["charset"] = CharsetMetaAttributeValue(
                    attrs["charset"]).substitute_encoding("utf-8")
            elif "content" in attrs and str(attrs.get("http-equiv", "")).lower() == \
                    "content-type":
                attrs["content"] = ContentMetaAttributeValue(
                    attrs["content"]).substitute_encoding("utf-8")
        inside = bool(self._stack) and self._stack[-1][1]
        if name == "img" and "alt" not in attrs:
            attrs["alt"] = _NO_ALT
            self.missing_alt += 1
        elif name == "div" and inside and ("jp-Cell-inputWrapper" in classes
                                           or "jp-OutputArea-output" in classes):
            attrs["tabindex"] = "0"
        parts = ["<", name]
        sub = self._sub
        for key, value in sorted(attrs.items()):
            value = sub(value)
            if '"' in value:
                if "'" in value:
                    value = f'"{value.replace(chr(34), "&quot;")}"'
                else:
                    value = f"'{value}'"
            else:
                value = f'"{value}"'
            parts += [" ", key, "=", value]
        void = name in self._void
        parts.append("/>" if void else ">")
        self._out.append("".join(parts))
        self._stack.append((name, inside or "jp-Notebook" in classes))
        self._open[name] = self._open.get(name, 0) + 1
        if name in self._pre:
            self._keep_space += 1
        return self._Tag(void)

    class _Tag:
        """What bs4's parser reads of a tag it started: whether it is an empty void element."""

        __slots__ = ("is_empty_element",)

        def __init__(self, void: bool) -> None:
            self.is_empty_element = void

    def handle_endtag(self, name: str, nsprefix: object = None) -> None:
        self.endData()
        if name == self.ROOT_TAG_NAME or not self._open.get(name):
            return
        while self._stack:
            if self._pop() == name:
                break

    def _pop(self) -> str:
        name, _ = self._stack.pop()
        self._open[name] -= 1
        if name in self._pre:
            self._keep_space -= 1
        if name not in self._void:
            self._out.append(f"</{name}>")
        return name

    def handle_data(self, data: str) -> None:
        self._data.append(data)

    def endData(self, containerClass: type | None = None) -> None:  # noqa: N802, N803 - bs4's
        if not self._data:
            return
        text = "".join(self._data)
        self._data = []
        if not self._keep_space and all(c in " \n\t\x0c\r" for c in text):
            text = "\n" if "\n" in text else " "
        if containerClass is not None:  # a comment, doctype, declaration: verbatim
            self._out.append(f"{containerClass.PREFIX}{text}{containerClass.SUFFIX}")
        elif self._stack and self._stack[-1][0] in ("script", "style"):
            self._out.append(text)
        else:
            self._out.append(self._sub(text))


def _paper(paper: str) -> str:
    """``"Letter"`` or ``"A4"`` from any case.

    Raises
    ------
    DataError
        For another paper size.
    """
    p = str(paper).strip().lower()
    for ok in PAPER_SIZES:
        if p == ok.lower():
            return ok
    raise DataError(f"paper={paper!r}: use \"Letter\" or \"A4\"")


def _footer_template(footer: str, right: str) -> str:
    """Chromium's page footer: the disclaimer, the firm and client, and page X of Y."""
    e = html.escape
    return ('<div style="font-family: DejaVu Sans, Arial, sans-serif; font-size: 7.5px; '
            'color: #5b6675; width: 100%; margin: 0 12mm; display: flex; '
            'justify-content: space-between; gap: 12px;">'
            f'<span>{e(footer)}</span><span style="white-space: nowrap;">{e(right)} '
            '&middot; page <span class="pageNumber"></span> of '
            '<span class="totalPages"></span></span></div>')


def _fit_tables(page, paper: str, src: Path, show: bool = False) -> None:  # noqa: ANN001
    """Make every table fit the printed page's width, or say which one cannot.

    Measured at the page's printable width in print media: a table wider than that has
    its cells allowed to wrap, in a smaller type (:data:`_SQUEEZE_CSS`, which the page
    already has in a print-media style element: :data:`_CHARTS_KEPT_JS`); one still too wide
    is split into stacked tables of the same rows, each repeating the row labels, with
    every figure kept (:data:`_FIT_TABLES_JS`); a table that cannot fit even so would be
    cut off at the page's edge, so it is an error naming the table rather
    than a PDF with a clipped column. The viewport is left at that width (the print lays
    the page out at the paper's width anyway); the next print sets it back on a blank
    page, where that costs no layout. ``show``: the page was written hidden
    (:data:`_HIDE_PAGE`) and is shown now, at the printable width in print media.

    Raises
    ------
    PmaLabError
        Naming the tables that do not fit even when wrapped and split.
    """
    limit = _PRINTABLE_PX[paper]
    page.set_viewport_size({"width": limit, "height": page.viewport_size["height"]})
    if show:
        page.evaluate(_SHOW_PAGE_JS)
    too_wide = page.evaluate(_FIT_TABLES_JS, limit)
    if too_wide:
        names = "; ".join(f"'{t}'" for t in too_wide)
        raise PmaLabError(
            f"{src.name}: {len(too_wide)} table(s) are wider than the {paper} page even with "
            f"their text wrapped and split into parts, so a column would be cut off: {names}. "
            "Shorten the table's longest words or print on the other paper size")


_CHARTS_KEPT_JS = """(css) => {
  for (const d of document.querySelectorAll('.plotly-graph-div')) {
    if (d._responsiveChartHandler) window.removeEventListener('resize', d._responsiveChartHandler);
    clearTimeout(d._redrawTimer);
  }
  const style = document.createElement('style');
  style.type = 'text/css';
  style.appendChild(document.createTextNode(css));
  document.head.appendChild(style);
}"""
"""Keep every chart as first drawn: no redraw when the print steps change the width; and
add ``css`` (:data:`_SQUEEZE_CSS` for print media) to the page's head, as Playwright's
``add_style_tag`` would, while the page is still laid out for the screen (where a print
rule changes nothing): added after the switch to print media it made Chromium style the
page once more, a round trip of its own."""


def _print_pdf(page, src: Path, tmp: Path, paper: str, footer: str, right: str,
               timeout: float, content: str | None = None) -> bool:
    """Print ``src`` to ``tmp`` in ``page`` (Playwright).

    ``content`` is the page to print in place of loading ``src`` (the printer's copy
    of it, written into its shell page: :func:`_around_plotlyjs`); ``src`` names the
    proposal in messages. If a script of ``content`` fails there (say, a global ``let``
    that the previous page declared in the window they share), ``src`` is loaded on its
    own instead. Returns whether ``content`` was printed (``False``: the shell is gone).
    """
    # as a new page: the charts are drawn for the screen, at about the printed width; the
    # last print left a blank page, so neither change lays out a page again
    page.emulate_media(media="null")
    page.set_viewport_size(dict(_VIEWPORT))
    errors: list = []

    def on_error(e) -> None:  # noqa: ANN001 - Playwright's Error
        errors.append(e)

    page.on("pageerror", on_error)
    try:
        if content is not None:
            page.set_content(content + _HIDE_PAGE, wait_until="load", timeout=timeout * 1000)
        shell = content is not None and not errors
        if not shell:
            page.goto(src.as_uri(), wait_until="load", timeout=timeout * 1000)
    finally:
        page.remove_listener("pageerror", on_error)
    if page.locator(".plotly-graph-div").count():
        page.wait_for_function(
            "Array.from(document.querySelectorAll('.plotly-graph-div'))"
            ".every(d => d.querySelector('.main-svg'))", timeout=timeout * 1000)
    # the charts are drawn for the screen at the printed width and printed as drawn: the
    # width changes below would schedule a redraw (they are responsive), and whether it
    # ran before the print depended on how fast the page loaded. A page written into the
    # shell is hidden meanwhile (_HIDE_PAGE), so it is laid out first in print media at
    # the printed width (_fit_tables shows it), not also for the screen and at 760 px.
    page.evaluate(_CHARTS_KEPT_JS, f"@media print {{ {_SQUEEZE_CSS} }}")
    page.emulate_media(media="print")
    _fit_tables(page, paper, src, show=shell)
    page.pdf(path=str(tmp), format=paper, print_background=True,
             display_header_footer=True, header_template="<span></span>",
             footer_template=_footer_template(footer, right),
             margin={k: f"{v}mm" for k, v in _PRINT_MARGIN_MM.items()})
    page.set_content(_BLANK_PAGE)  # nothing of the client's page stays in the browser
    return shell


_HIDE_PAGE = '<style id="pma-lab-hide">html { display: none !important; }</style>'
"""Written after a proposal's page in the shell (the end of its body): hides the page once
its scripts have run (its charts drawn, each measuring its div's width for the screen as
it is parsed) until :func:`_fit_tables` shows it in print media at the printed width. A
shown page was laid out twice more before each print: for the screen once loaded, then in
print media at the screen's width (~0.2 CPU-s of ~1.1 a sample proposal's PDF; browser
1.085 -> 0.87 CPU-s a steady print, ``bench_pdf.py``, twenty-second session). The PDF is
the same (pages, text, every page's pixels at 72 and 150 dpi, the nine demo proposals in
Letter and A4): the element is removed before the page is measured and printed."""
_SHOW_PAGE_JS = """() => {
  const hide = document.querySelectorAll('style#pma-lab-hide');
  if (hide.length) hide[hide.length - 1].remove();
  const park = document.head.querySelectorAll('style#pma-lab-park');
  if (park.length) park[park.length - 1].remove();
}"""
"""Removes :data:`_HIDE_PAGE`'s element (the last of that id: the page's own come first)
and :data:`_PARK_PAGE`'s (the head's last of that id)."""


_PARK_PAGE = ('<style id="pma-lab-park">main > :not(:has(.plotly-graph-div)) '
              '{ display: none !important; }</style>')
"""Written at the end of a proposal's head in the printer's copy: while the page is parsed
and its charts are drawn (each chart's script reads its div's size, which laid out the
whole page parsed so far, for the screen), only the parts of ``main`` that hold a chart
are laid out; the rest (tables, text) is laid out once, in print media, when
:func:`_fit_tables` shows the page and removes this element with :data:`_HIDE_PAGE`'s. A
chart's width is its div's, which its ancestors (``main`` and its padding at the
viewport's width) set, not its hidden siblings (the scrollbars are hidden), so the charts
are drawn as before."""

_CSS_CLASS_PREFIXES = ("jp-", "lm-")
"""Classes of JupyterLab's stylesheets (nbconvert's lab template): only the page's markup
has them (no script of the page, plotly.js or the printer adds one), so a rule that needs
one the markup lacks matches nothing."""
_CLASS_ATTR = re.compile(r"""class\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")
"""A class attribute's value (any quoting; a ``data-class`` too: more classes, more rules
kept)."""
_STYLE_OPEN = '<style type="text/css">'
"""How nbconvert's template opens each stylesheet it inlines."""
_VAR_REF = re.compile(r"var\(\s*(--[A-Za-z0-9_-]+)")


@functools.lru_cache(maxsize=16)
def _css_rules(css: str) -> tuple[tuple[tuple[frozenset[str], ...] | None, str,
                                        frozenset[str]], ...]:
    """A stylesheet's top-level rules, each with what it needs and refers to.

    For each rule: the JupyterLab classes each of its selectors needs (``None``: an
    at-rule, kept as it is), the rule's text and the custom properties it refers to.

    A class counts only outside functional pseudo-classes (``:not(.jp-x)`` needs none).
    """
    import tinycss2

    out = []
    for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
        text = rule.serialize()
        refs = frozenset(_VAR_REF.findall(text))
        if rule.type != "qualified-rule":
            out.append((None, text, refs))
            continue
        needs: list[frozenset[str]] = []
        current: set[str] = set()
        tokens = rule.prelude
        for i, tok in enumerate(tokens):
            if tok.type == "literal" and tok.value == ",":
                needs.append(frozenset(current))
                current = set()
            elif (tok.type == "literal" and tok.value == "." and i + 1 < len(tokens)
                  and tokens[i + 1].type == "ident"
                  and tokens[i + 1].value.startswith(_CSS_CLASS_PREFIXES)):
                current.add(tokens[i + 1].value)
        needs.append(frozenset(current))
        out.append((tuple(needs), text, refs))
    return tuple(out)


@functools.lru_cache(maxsize=64)
def _root_declarations(rule: str) -> tuple[tuple[str | None, str, frozenset[str]], ...]:
    """A ``:root { ... }`` rule's declarations.

    Each: the custom property's name (``None`` for another property), the declaration's
    text and the custom properties it refers to.
    """
    import tinycss2

    parsed = tinycss2.parse_one_rule(rule, skip_comments=True)
    out = []
    for d in tinycss2.parse_declaration_list(parsed.content, skip_comments=True,
                                             skip_whitespace=True):
        text = d.serialize()
        custom = d.type == "declaration" and d.name.startswith("--")
        out.append((d.name if custom else None, text, frozenset(_VAR_REF.findall(text))))
    return tuple(out)


def _used_styles(page: str) -> str:
    """``page`` with the rules of its stylesheets that match nothing in it left out.

    The printer's copy only (the HTML file keeps its stylesheets): nbconvert's lab
    template inlines JupyterLab's whole stylesheet (~240 kB, ~970 rules, ~1,000 custom
    properties, 86 kB of them icons as data URLs), which Chromium parsed, indexed and
    matched against the page at every print, while a proposal uses ~20 of its classes.
    Left out of the head's ``<style type="text/css">`` elements: a top-level rule each
    of whose selectors needs a JupyterLab class (:data:`_CSS_CLASS_PREFIXES`) that no
    element of ``page`` has; then a custom property declared in a ``:root { ... }`` rule
    that no kept rule, no other used custom property and nothing outside those
    stylesheets refers to with ``var()``. Neither can change what is drawn: the first
    match no element, the second are never read. At-rules (``@media``, ``@keyframes``,
    ``@page``) are kept whole.
    """
    head_end = page.find("</head>")
    spans, at = [], 0
    while 0 <= (start := page.find(_STYLE_OPEN, at, head_end)):
        end = page.find("</style>", start)
        if end < 0:
            break
        spans.append((start + len(_STYLE_OPEN), end))
        at = end
    if not spans:
        return page
    classes = frozenset(c for value in set(_CLASS_ATTR.findall(page))
                        for c in "".join(value).split() if c.startswith(_CSS_CLASS_PREFIXES))
    gaps = [page[:spans[0][0]], page[spans[-1][1]:],
            *(page[a[1]:b[0]] for a, b in zip(spans, spans[1:], strict=False))]
    refs = frozenset(name for gap in gaps for name in _VAR_REF.findall(gap))
    sheets = _kept_sheets(tuple(page[a:b] for a, b in spans), classes, refs)
    out, at = [], 0
    for (a, b), sheet in zip(spans, sheets, strict=True):
        out += [page[at:a], sheet]
        at = b
    out.append(page[at:])
    return "".join(out)


@functools.lru_cache(maxsize=16)
def _kept_sheets(sheets: tuple[str, ...], classes: frozenset[str],
                 refs: frozenset[str]) -> tuple[str, ...]:
    """:func:`_used_styles`'s stylesheets for a page.

    The page has the JupyterLab ``classes``, and its text outside the stylesheets refers
    to the custom properties ``refs``.
    """
    kept = [[(text, rule_refs) for needs, text, rule_refs in _css_rules(css)
             if needs is None or any(n <= classes for n in needs)] for css in sheets]
    used = set(refs)
    roots: dict[tuple[int, int], tuple[tuple[str | None, str, frozenset[str]], ...]] = {}
    values: dict[str, list[frozenset[str]]] = {}
    for i, rules in enumerate(kept):
        for j, (text, rule_refs) in enumerate(rules):
            if text.startswith(":root") and text[5:].lstrip().startswith("{"):
                roots[i, j] = _root_declarations(text)
                for name, _, decl_refs in roots[i, j]:
                    if name is None:
                        used |= decl_refs
                    else:
                        values.setdefault(name, []).append(decl_refs)
            else:
                used |= rule_refs
    todo = list(used)
    while todo:  # and the custom properties the used ones refer to
        for decl_refs in values.get(todo.pop(), ()):
            for name in decl_refs - used:
                used.add(name)
                todo.append(name)
    texts = [[text for text, _ in rules] for rules in kept]
    for (i, j), decls in roots.items():
        texts[i][j] = ":root {" + ";".join(d for n, d, _ in decls
                                           if n is None or n in used) + "}"
    return tuple("\n".join(rules) for rules in texts)


def _parked(page: str) -> str:
    """``page`` with :data:`_PARK_PAGE` at the end of its head (as it is if it has none)."""
    head_end = page.find("</head>")
    return page if head_end < 0 else page[:head_end] + _PARK_PAGE + page[head_end:]

_BLANK_PAGE = "<!DOCTYPE html><html><head></head><body></body></html>"
"""What the printer's page shows between prints."""

_RECORD_WINDOW_JS = "() => { window.__pmaLabShellKeys = Object.getOwnPropertyNames(window); }"
"""Run once the shell page has loaded: the window's own properties then (plotly.js's)."""

_RESET_WINDOW_JS = """() => {
  const keep = new Set(window.__pmaLabShellKeys || []);
  keep.add("__pmaLabShellKeys");
  for (const k of Object.getOwnPropertyNames(window)) {
    if (keep.has(k)) continue;
    const d = Object.getOwnPropertyDescriptor(window, k);
    if (d && d.configurable) { delete window[k]; }
    else if (d && d.writable) { window[k] = undefined; }
  }
  let id = window.setTimeout(() => {}, 0);
  for (; id > 0; id--) { window.clearTimeout(id); window.clearInterval(id); }
}"""
"""Run before a proposal is written into the shell page: ``document.open`` keeps the
window, so the previous page's globals (``var``, ``window.x = ...``) and its timers would
reach the next client's page (review, session 11). Its own properties are removed (a
``var`` set to undefined) and every timeout and interval cleared; the window keeps what it
had when the shell loaded (plotly.js). A top-level ``let`` or ``const`` cannot be removed:
declared again by the next page, its script fails there and the page is loaded from its
file on its own (:func:`_print_pdf`)."""

_CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic", "--js-flags=--no-memory-reducer")
"""The printer's Chromium command-line flags.

``--js-flags=--no-memory-reducer``: V8's memory reducer runs full garbage collections of
the renderer's heap (plotly.js and the shell page's window included) once a page has gone
quiet, to give memory back. Between two clients the printer always goes quiet (the
kernel's cells run, ~5-50 s), so every proposal written into the shell page was followed by
~0.3 CPU-s of collections in the renderer (measured over 15 s after a print; ~0.003 CPU-s
a second afterwards). Without it the garbage is collected when allocation calls for it
and by the printer's own collection every :attr:`_Printer.collect_every` prints, which
bounds the renderer's memory as before (~340-410 MB after 12-20 prints of the sample
proposals, against ~260-340 MB). The pages printed are the same (the flag changes when
V8 collects, not what a script computes or what is drawn)."""
_VIEWPORT = {"width": 760, "height": 1000}
"""The printer's viewport: about the printed width, so the charts are laid out at their
printed size."""

_PLOTLY_CONFIG_JS = "window.PlotlyConfig = {MathJaxConfig: 'local'};"
"""What the proposal template sets before its plotly.js bundle (and so the shell page)."""

_PLOTLY_HEAD_JS = """() => {
  const script = document.getElementById('pma-plotlyjs');
  const out = [];
  for (let n = script.nextSibling; n; n = n.nextSibling) {
    if (n.nodeType !== Node.ELEMENT_NODE) continue;
    const copy = n.cloneNode(true);
    const parsed = new CSSStyleSheet();
    if (n.tagName === 'STYLE' && n.sheet) parsed.replaceSync(n.textContent);
    if (n.tagName === 'STYLE' && n.sheet && n.sheet.cssRules.length !== parsed.cssRules.length) {
      // plotly.js inserts most of its rules through the CSSOM: written out as text
      copy.textContent = Array.from(n.sheet.cssRules, r => r.cssText).join('\\n')
        .replaceAll('</', '<\\\\/');
    }
    out.push(copy.outerHTML);
  }
  return {head: out.join(''), body: document.body.childNodes.length};
}"""
"""The elements plotly.js added to the shell's head when it ran (its stylesheets), as HTML,
and how many nodes the body has (none expected)."""


def _shell_page(script: Path) -> str:
    """The printer's shell page: plotly.js, run as in a proposal, and nothing else."""
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<script>{_PLOTLY_CONFIG_JS}</script><script id=\"pma-plotlyjs\" "
            f'charset="utf-8" src="{html.escape(script.as_uri())}"></script></head>'
            "<body></body></html>")


def _around_plotlyjs(text: str) -> tuple[str, str] | None:
    """``text`` before and after its inlined plotly.js bundle, or ``None``.

    A proposal inlines plotly.js once in its head. The printer writes the two parts into
    its shell page, which already ran that bundle, with what the bundle added to the head
    when it ran (its stylesheets) in between: the same elements in the same order, the
    charts drawn by the same code, so the same page. ``None`` when ``text`` does not
    inline this plotly.js exactly once (the page is then loaded as it is).
    """
    inline = _plotlyjs_inline()
    at = text.find(inline)
    if at < 0 or text.find(inline, at + 1) >= 0:
        return None
    return text[:at], text[at + len(inline):]


class _Printer:
    """One headless Chromium per process, kept across PDFs and driven from one thread.

    Starting Playwright's driver and Chromium costs more than printing a proposal; a batch
    worker (or a test session) prints client after client through one browser. Playwright's
    sync API is bound to the thread that started it (and must not meet an asyncio loop,
    as in a kernel), so every print runs in this object's own daemon thread.

    The browser's one page first loads a shell page that runs plotly.js
    (:func:`_shell_page`, the bundle from a file in the printer's temporary folder); each
    proposal is then written into that page as a new document (``document.open``, through
    Playwright's ``set_content``), its inlined bundle replaced by what the bundle had added
    to the shell's head (:func:`_around_plotlyjs`), and its charts are drawn by the plotly.js
    already there. Evaluating the 4.8 MB bundle was ~0.3-0.45 CPU-s of every PDF even with
    its compiled code cached (loading each proposal from a new file: ~1.3-1.5 CPU-s a
    sample proposal's PDF, now ~0.8-1.0), and the PDF is the same (pages, text, links and
    every page's pixels). What carries over between clients is plotly.js and the
    browser's caches, nothing of a page: each print writes a new document (its nodes,
    styles and event listeners replaced) into a window whose own properties and timers
    are first reset to the shell's (:data:`_RESET_WINDOW_JS`). A page that does not
    inline this plotly.js is loaded from its file as it is. The browser is replaced after
    :attr:`max_prints` prints, after any failure, and in a forked child; it is closed (and
    the folder removed) when the process exits.
    """

    max_prints = 200
    """Prints after which the browser is replaced (a new browser and shell page, ~2-3 s).

    Measured (``benchmarks/bench_warm_memory.py``, twenty-first session): the browser's
    processes held 381-393 MB (USS summed) from the 10th to the 110th print of the demo's
    pages, flat, with the collections below; 50 replaced it in nearly every 100-client
    batch (a worker's 51st client) for no memory gained."""
    collect_every = 10
    """Prints between two forced garbage collections in the browser's page.

    The proposals written into the shell page become garbage in one window, which V8
    collects lazily: without a collection the renderer grew by ~20-40 MB a household
    proposal, to ~1.1 GB over 50 prints (~0.55 GB when each print was a new document); a
    collection (CDP ``HeapProfiler.collectGarbage``, ~0.35 CPU-s) every 10 prints brings it
    back to ~0.3 GB, for ~0.04-0.07 CPU-s a print (load ~8); every 20 let it reach ~0.9 GB."""

    def __init__(self) -> None:
        import queue

        self._jobs: queue.Queue = queue.Queue()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._serve, name="pma-lab-pdf", daemon=True)
        self._thread.start()
        self.launches = 0  # browsers started so far (read by tests)
        self.shells = 0  # shell pages loaded so far (read by tests)
        self.collections = 0  # forced garbage collections so far (read by tests)

    def print(self, exe: str, src: Path, tmp: Path, paper: str, footer: str, right: str,
              timeout: float, text: str | None = None) -> None:
        """Print in the printer's thread; raise what Playwright raised.

        ``text`` is ``src``'s content when the caller has it (read from ``src`` if
        ``None``).
        """
        from concurrent.futures import Future

        done: Future = Future()
        self._jobs.put((done, (exe, src, tmp, paper, footer, right, timeout), text))
        done.result()

    def _serve(self) -> None:
        import shutil
        import tempfile

        pw = browser = page = cdp = None
        used = 0
        exe_now = None
        plotly_head = None  # what plotly.js added to the shell's head; None: no shell
        folder = Path(tempfile.mkdtemp(prefix="pma-lab-print-"))
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    break
                done, (exe, src, *args), given = item
                try:
                    if browser is None or not browser.is_connected() or \
                            used >= self.max_prints or exe != exe_now:
                        pw, browser = self._stop(pw, browser)
                        plotly_head = None
                        from playwright.sync_api import sync_playwright

                        pw = sync_playwright().start()
                        browser = pw.chromium.launch(executable_path=exe,
                                                     args=list(_CHROMIUM_ARGS))
                        page = browser.new_context(viewport=dict(_VIEWPORT)).new_page()
                        cdp = page.context.new_cdp_session(page)
                        self.launches += 1
                        used, exe_now = 0, exe
                    used += 1
                    try:
                        text = src.read_text(encoding="utf-8") if given is None else given
                    except UnicodeDecodeError:  # not a page of ours: printed as it is
                        text = ""
                    if "\r" in text:  # as read_text gives the file (universal newlines)
                        text = text.replace("\r\n", "\n").replace("\r", "\n")
                    parts = _around_plotlyjs(text)
                    content = None
                    if parts is not None:
                        if plotly_head is None:
                            plotly_head = self._shell(page, folder, args[-1])
                        content = _parked(_used_styles(parts[0] + plotly_head + parts[1]))
                        page.evaluate(_RESET_WINDOW_JS)
                    if not _print_pdf(page, src, *args, content=content):
                        plotly_head = None  # the page loaded replaced the shell
                    if used % self.collect_every == 0:
                        cdp.send("HeapProfiler.collectGarbage")
                        self.collections += 1
                    done.set_result(None)
                except BaseException as e:  # noqa: BLE001 - handed to the caller
                    pw, browser = self._stop(pw, browser)  # the next print starts afresh
                    done.set_exception(e)
        finally:
            self._stop(pw, browser)
            shutil.rmtree(folder, ignore_errors=True)

    def _shell(self, page, folder: Path, timeout: float) -> str:  # noqa: ANN001 - a Page
        """Load the shell page (plotly.js run once); return what plotly.js added to its head.

        Raises
        ------
        PmaLabError
            If plotly.js added anything to the body (a proposal written into the shell
            would then not be the page it is).
        """
        from plotly import __version__ as plotly_version

        script = folder / f"plotly-{plotly_version}.js"
        if not script.is_file():
            script.write_text(_plotlyjs_inline()[len("<script>"):-len("</script>")],
                              encoding="utf-8")
        shell = folder / "shell.html"
        shell.write_text(_shell_page(script), encoding="utf-8")
        page.goto(shell.as_uri(), wait_until="load", timeout=timeout * 1000)
        added = page.evaluate(_PLOTLY_HEAD_JS)
        page.evaluate(_RECORD_WINDOW_JS)
        if added["body"]:
            raise PmaLabError(f"plotly.js {plotly_version} adds to the page's body when it "
                              "runs, so the PDF printer's shell page cannot print a proposal "
                              "as loaded on its own; pin the plotly version pma_lab was "
                              "tested with")
        self.shells += 1
        return added["head"]

    @staticmethod
    def _stop(pw, browser) -> tuple[None, None]:  # noqa: ANN001
        with contextlib.suppress(Exception):
            if browser is not None:
                browser.close()
        with contextlib.suppress(Exception):
            if pw is not None:
                pw.stop()
        return None, None

    def close(self, timeout: float = 30.0) -> None:
        """Close the browser and stop the thread (at exit)."""
        if self._pid == os.getpid() and self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout)


_PRINTER: list[_Printer] = []
_PRINTER_LOCK = threading.Lock()


def _printer() -> _Printer:
    """The process's printer (a new one in a forked child: threads do not survive fork)."""
    with _PRINTER_LOCK:
        if not _PRINTER or _PRINTER[0]._pid != os.getpid():  # noqa: SLF001
            import atexit

            _PRINTER[:] = [_Printer()]
            atexit.register(_PRINTER[0].close)
        return _PRINTER[0]


def html_to_pdf(html_path: str | Path, pdf_path: str | Path, timeout: float = 120.0,
                inputs: Sequence[str | Path] = (), paper: str = "Letter",
                footer: str = FOOTER_NOTE, footer_right: str = "", text: str | None = None
                ) -> Path:
    """Print an HTML file to PDF with headless Chromium (Debian's ``/usr/bin/chromium``).

    Printed through Playwright's ``page.pdf`` (Chromium ignores CSS ``@page`` margin
    boxes), so every page carries ``footer`` (the disclaimer), ``footer_right`` (firm and
    client) and "page X of Y". The PDF is written atomically
    (:func:`pma_lab.files.atomic_path`), never through a symbolic link and never over
    one of ``inputs``.

    Parameters
    ----------
    html_path, pdf_path : str | Path
    timeout : float
        Seconds allowed for loading and printing.
    inputs : Sequence[str | Path]
        Files that must not be overwritten.
    paper : {"Letter", "A4"}
    footer, footer_right : str
        The page footer's text (escaped).
    text : str | None
        ``html_path``'s content when the caller has it in memory (:func:`render_proposal`
        just wrote it), so the printer does not read the 5 MB page back; ``None``: read
        from ``html_path``. Relative links and files still resolve from ``html_path``.

    Raises
    ------
    DataError
        For a paper size other than Letter or A4.
    PmaLabError
        If Chromium is not installed (with how to install it), fails, or writes no PDF.
    """
    paper = _paper(paper)
    exe = CHROMIUM
    if not (Path(exe).is_file() and os.access(exe, os.X_OK)):
        raise PmaLabError(
            f"Chromium is needed to print the proposal to PDF but {exe} was not found; "
            "install it with `apt-get install chromium` (Debian/Ubuntu), or set "
            "PMA_LAB_CHROMIUM to a Chromium/Chrome executable, or ask for html only")
    src = Path(html_path).resolve()
    dst = Path(pdf_path).parent.resolve() / Path(pdf_path).name
    with atomic_path(dst, inputs) as tmp:
        tmp.unlink()  # Chromium creates the file itself
        try:
            _printer().print(exe, src, tmp, paper, footer, footer_right, timeout, text)
        except PmaLabError:
            raise
        except Exception as e:  # noqa: BLE001 - Playwright's errors, reported as ours
            msg = "\n".join(str(e).strip().splitlines()[-5:])
            raise PmaLabError(f"Chromium failed to print {src} to PDF: {msg}") from None
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise PmaLabError(f"Chromium failed to print {src} to PDF: no file was written")
    return dst
