"""HTML fragments of the dashboard: error panels, tables and the status line.

Every number is formatted by :mod:`pma_lab.formatting` (the proposal's and the CLI's
formatters), so a figure reads the same in the dashboard and the proposal, and a test can
format the engine's own numbers the same way and look for them in the page. Every fragment
carries stable CSS classes (``pma-...``) for the browser test and for styling.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from pma_lab.errors import Issue, Severity
from pma_lab.formatting import FORMATTERS, NUMERIC, fmt_pct, fmt_usd
from pma_lab.report import labels
from pma_lab.report.proposal import (
    RECORDED_COLUMNS,
    RECORDED_NOTE,
    TRADE_FORMATS,
    ReportTable,
    escape_text,
    recorded_shown,
)

__all__ = ["public_text", "issues_panel", "group_issues", "message_panel", "comparison_table",
           "trades_table", "first_year_summary", "trades_warning", "status_line",
           "stopped_note", "STYLE"]

STYLE = """
<style>
.pma-error-panel{border:2px solid #c62828;background:#fdecea;color:#611a15;padding:8px 12px;
  border-radius:4px;font-family:sans-serif;font-size:12px;line-height:1.4;box-sizing:border-box;
  width:100%;white-space:normal;overflow-wrap:anywhere;max-height:420px;overflow-y:auto}
.pma-error-panel h4{margin:0 0 6px 0;color:#b71c1c;font-size:13px;line-height:1.3}
.pma-issues{margin:0;padding-left:18px}.pma-issue{margin-bottom:6px}
.pma-issue-message{font-weight:bold}
.pma-warning-panel{border:1px solid #e0a800;background:#fff8e1;color:#5d4300;padding:6px 10px;
  border-radius:4px;font-family:sans-serif;font-size:12px;box-sizing:border-box;width:100%;
  white-space:normal;overflow-wrap:anywhere;max-height:240px;overflow-y:auto}
.pma-note-panel{border:1px solid #90a4ae;background:#f5f7f8;color:#263238;padding:6px 10px;
  border-radius:4px;font-family:sans-serif;font-size:12px;box-sizing:border-box;width:100%;
  white-space:normal;overflow-wrap:anywhere;margin-bottom:4px}
.pma-table{border-collapse:collapse;font-family:sans-serif;font-size:12px}
.pma-table th,.pma-table td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}
.pma-table th:first-child,.pma-table td:first-child{text-align:left}
.pma-table tr.pma-chosen td{font-weight:bold;background:#eef4fb}
.pma-table caption{text-align:left;font-weight:bold;padding:4px 0}
.pma-table td.pma-col-Plan,.pma-table td.pma-col-note{white-space:normal;text-align:left}
.pma-table-scroll,.pma-table-wrap{max-width:100%;overflow-x:auto}
.pma-status-text{font-family:sans-serif;font-size:12px;color:#444}
.pma-status-text[data-state=busy]{color:#8a6d00}
.pma-status-text[data-state=error]{color:#b71c1c}
.pma-summary{font-family:sans-serif;font-size:13px}
.pma-account{white-space:nowrap}
.pma-caption{font-family:sans-serif;font-size:12px;color:#555;margin:4px 0}
</style>
"""


_PATH = re.compile(r"(?<![\w.:/])(?:~|[A-Za-z]:)?(?:[/\\][\w .@+=,-]+)+[/\\]"
                   r"([\w.@+=,-]+)")


def public_text(text: str) -> str:
    """``text`` with every absolute path reduced to its file name.

    Messages shown to an advisor never name the server's folders (temporary upload files,
    the install location): ``/tmp/pma-upload-x1/lots.csv`` reads ``lots.csv``.
    """
    return _PATH.sub(lambda m: m.group(1), text)


def _e(x: object) -> str:
    return html.escape("" if x is None else str(x))


def _rows_text(rows: Sequence[int], shown: int = 12) -> str:
    """``2, 3, 5`` or ``2, 3, 5, ... 98`` (the first ``shown`` rows and the last)."""
    if len(rows) <= shown:
        return ", ".join(map(str, rows))
    return ", ".join(map(str, rows[:shown])) + f", ... {rows[-1]}"


def group_issues(issues: Sequence[Issue]) -> list[list[Issue]]:
    """Issues that say the same thing about different rows, grouped.

    Two issues are in one group when they share the file, severity, code, column, message
    and fix (only the row and the value differ), so "35 rows: account 'x' is not declared"
    is one entry, not 35. Groups come errors first, then by their first row.
    """
    groups: dict[tuple, list[Issue]] = {}
    for i in issues:
        key = (i.file, i.severity, i.code, i.column, i.message, i.fix)
        groups.setdefault(key, []).append(i)
    out = [sorted(g, key=lambda i: -1 if i.row is None else i.row) for g in groups.values()]
    out.sort(key=lambda g: (g[0].severity is not Severity.ERROR,
                            -1 if g[0].row is None else g[0].row))
    return out


def issues_panel(title: str, issues: Sequence[Issue], rename: Mapping[str, str] | None = None,
                 max_items: int = 50) -> str:
    """A red panel listing every issue: file, row(s), column, value, problem and fix.

    One block per distinct problem (the panel fits a narrow column): issues that differ
    only in their row and value are one block naming how many rows and which
    (:func:`group_issues`), errors first, then by row.

    Parameters
    ----------
    title : str
        First line (what failed and that nothing was loaded).
    issues : Sequence[Issue]
    rename : Mapping[str, str] | None
        File names to show instead of the ones in the issues (temporary upload paths).
    max_items : int
        Blocks listed; the rest are counted.
    """
    rename = dict(rename or {})

    def shown_file(f: str) -> str:
        for old, new in rename.items():
            f = f.replace(old, new)
        return public_text(f)

    def text(s: str) -> str:
        return _e(shown_file(s))

    items = []
    groups = group_issues(issues)
    for g in groups[:max_items]:
        i = g[0]
        rows = [x.row for x in g if x.row is not None]
        where = [f'<span class="pma-issue-file">{text(i.file)}</span>']
        if len(g) == 1:
            if i.row is not None:
                where.append(f'row <span class="pma-issue-row">{i.row}</span>')
        else:
            where.append(f'<span class="pma-issue-count">{len(g)}</span> rows '
                         f'<span class="pma-issue-rows">{_rows_text(rows)}</span>')
        if i.column is not None:
            where.append(f'column <span class="pma-issue-column">{_e(i.column)}</span>')
        values = list(dict.fromkeys(x.value for x in g if x.value is not None))
        if len(values) == 1:
            where.append(f'value <span class="pma-issue-value">{text(values[0])}</span>')
        elif values:
            more = f", ... ({len(values)} values)" if len(values) > 5 else ""
            where.append('values <span class="pma-issue-value">'
                         f"{text(', '.join(values[:5]))}{_e(more)}</span>")
        lead = f"{len(g)} rows: " if len(g) > 1 else ""
        row_attr = _e(i.row) if len(g) == 1 else _e(" ".join(map(str, rows)))
        items.append(
            f'<li class="pma-issue" data-code="{_e(i.code)}" data-row="{row_attr}" '
            f'data-column="{_e(i.column)}" data-count="{len(g)}">'
            f"<span class=\"pma-issue-where\">{', '.join(where)}</span><br>"
            f'<span class="pma-issue-message">{_e(i.severity.value)}: {_e(lead)}'
            f"{text(i.message)}</span><br>Fix: "
            f'<span class="pma-issue-fix">{text(i.fix)}</span></li>')
    more = "" if len(groups) <= max_items else \
        f"<p>... and {len(groups) - max_items} more problems.</p>"
    return (f'<div class="pma-error-panel" role="alert"><h4>{_e(title)}</h4>'
            f'<ol class="pma-issues">{"".join(items)}</ol>{more}</div>')


def message_panel(title: str, lines: Iterable[str] = (), kind: str = "error") -> str:
    """A red (``kind="error"``), yellow (``"warning"``) or grey (``"note"``) titled panel."""
    body = "".join(f"<li>{_e(public_text(x))}</li>" for x in lines)
    return (f'<div class="pma-{kind}-panel" role="{"alert" if kind == "error" else "note"}">'
            f"<b>{_e(public_text(title))}</b>{f'<ul>{body}</ul>' if body else ''}</div>")


def comparison_table(table: ReportTable, chosen: str, kind: str = "comparison") -> str:
    """A plan table of the proposal, as the dashboard shows it.

    ``table`` is :func:`pma_lab.report.proposal.comparison_table` (``kind="comparison"``),
    :func:`~pma_lab.report.proposal.te_years_table` (``kind="te-years"``) or
    :func:`~pma_lab.report.proposal.outcomes_table` (``kind="outcomes"``) of the same
    analysis, so the headings (:mod:`pma_lab.report.labels`) and every cell (its
    :meth:`ReportTable.formatted`) are the proposal's, the client's plan first and marked
    (:data:`pma_lab.report.labels.YOUR_PLAN`). The dashboard adds only attributes: each
    row's plan code (``data-plan``, the frame's index), ``pma-chosen`` on the plan chosen
    in the planner, ``pma-mine`` on the client's own, and ``pma-col-<key>`` on each cell
    (the engine's key: ``pma-col-tax_total``). A table wider than its panel (many plans)
    scrolls sideways within it (``pma-table-scroll``) rather than running past its edge.
    """
    text = table.formatted()
    cols = list(text.columns)

    def cls(c: str) -> str:
        return f"pma-col-{_e(c)}"

    head = "".join(f'<th class="{cls(c)}">{_e(table.headers.get(c, c))}</th>' for c in cols)
    mine = set(table.highlight)
    body = []
    for i, (code, row) in enumerate(text.iterrows()):
        tr = " ".join(filter(None, ("pma-chosen" if code == chosen else "",
                                    "pma-mine" if i in mine else "")))
        cells = "".join(f'<td class="{cls(c)}">{escape_text(row[c])}</td>' for c in cols)
        body.append(f'<tr class="{tr}" data-plan="{_e(code)}">{cells}</tr>')
    cap = f"<caption>{escape_text(table.caption)}</caption>" if table.caption else ""
    return (f'<div class="pma-table-scroll"><table class="pma-table pma-{_e(kind)}-table">'
            f"{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


_TRADE_FORMATS = TRADE_FORMATS
"""The proposal's trade list formats: the same cells (``Cost per Share`` ``$45.12``, reviewer
1, session 22: the dashboard showed ``45.120000000000005``)."""


def _css(column: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in column.lower()).strip("-")


def trades_table(trades: pd.DataFrame, max_rows: int = 60) -> str:
    """Today's trades as the custodian file lists them: one sell per lot, one buy per name.

    ``trades`` is :func:`pma_lab.report.proposal.custodian_trades` (the proposal's trade list and
    the exported trade file): each sell names its lot, term and estimated gain. Rows keep
    its order; at most ``max_rows`` are shown, then a note. The lots' recorded purchase
    date and cost per share are shown, with the proposal's note, when a lot's differ from
    its tax figures (:func:`pma_lab.report.proposal.recorded_shown`), as the proposal's
    trade list shows them.
    """
    if trades.empty:
        return '<div class="pma-caption pma-no-trades">No trades: the plan holds today.</div>'
    shown = recorded_shown(trades)
    cols = [c for c in trades.columns if c not in RECORDED_COLUMNS or c in shown]
    fmts = {c: FORMATTERS[_TRADE_FORMATS.get(c, "text")] for c in cols}
    num = {c for c in cols if _TRADE_FORMATS.get(c, "text") in NUMERIC}
    head = "".join(f'<th class="pma-col-{_css(c)}">{_e(c)}</th>' for c in cols)
    body = []
    for r in trades.head(max_rows).to_dict("records"):
        cells = "".join(
            f'<td class="pma-col-{_css(c)}{" pma-num" if c in num else ""}">'
            f"{_e(fmts[c](r[c]))}</td>" for c in cols)
        body.append(f'<tr data-ticker="{_e(r.get("Symbol", ""))}" '
                    f'data-lot="{_e(r.get("Lot ID", ""))}">{cells}</tr>')
    more = "" if len(trades) <= max_rows else \
        (f'<div class="pma-caption">... and {len(trades) - max_rows} more trades in the '
         "trade file</div>")
    if shown:
        more += f'<div class="pma-caption pma-recorded-note">{_e(RECORDED_NOTE)}</div>'

    return (f'<table class="pma-table pma-trades-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>{more}")


CARRY_PENDING = ("Loss carryforward: your tax return's, with today's trades in your other "
                 "accounts, shown once the household section below is solved")
"""The line's carryforward while a household's is being solved (:func:`first_year_summary`)."""
CARRY_FAILED = labels.CARRY_FAILED
"""The line's carryforward when a household's could not be solved (the CLI's words too)."""


def first_year_summary(summary: pd.Series, plan: str, n_trades: int,
                       label: str | None = None, limit: str = "$3,000",
                       carried_in: float | None = None, account: str | None = None,
                       carry: Mapping[str, float] | None = None, carry_words: str = "",
                       carry_text: str = "", forced: str = "", over: str = "") -> str:
    """One line on the plan's trades today, with the proposal's figures and formats.

    ``account``: the account in the client's words, as the proposal names it
    (:func:`pma_lab.accounts.account_name`: ``taxable account``, ``Roth IRA``); ``None``:
    the summary's account id.

    Realised short- and long-term gains, the estimated tax, tracking error to the target
    before and after, turnover (one decimal, as the proposal's "Today's trades"); then
    the loss carryforward before and after the trades, in the proposal's harvesting
    table's words (:func:`pma_lab.report.labels.carryforward_rows`; ``limit`` the
    client's yearly offset, ``carried_in`` the profile's carryover). ``carry``: its
    figures, the tax return's (:func:`pma_lab.report.proposal.todays_carryforward`, a
    household's: every account's trades today), with ``carry_words`` after them (the
    harvesting table's caption words, :data:`~pma_lab.report.proposal.RETURN_TRADES`);
    ``None``: the summary's own (one account). ``carry_text``: shown instead of the
    figures (:data:`CARRY_PENDING` while a household's are solved, :data:`CARRY_FAILED`).
    ``forced``: why the realised gains exceed the gains budget, the proposal's sentence
    (:func:`pma_lab.report.labels.forced_sales_note`: a restriction's sale raised it), shown
    under the figures; ``""``: nothing. ``over``: why a purchase leaves a name well above
    its target weight, the proposal's sentence (:func:`pma_lab.report.labels.
    over_target_note`), under it; ``""``: nothing.
    """
    carry_html = ""
    if carry_text:
        carry_html = f'<div class="pma-carryforward pma-carry-pending">{_e(carry_text)}</div>'
    elif "as_of" in summary and (carry is not None or all(k in summary for k in (
            "carryforward_st_before", "carryforward_lt_before", "carryforward_st",
            "carryforward_lt"))):
        rows = labels.carryforward_rows(summary if carry is None else carry,
                                        summary["as_of"].year, limit, carried_in)
        carry_html = ('<div class="pma-carryforward">' + "; ".join(
            f"{_e(k)}: {fmt_usd(v)}" for k, v in rows) + "</div>")
        if carry_words:
            carry_html += (f'<div class="pma-caption pma-carry-words">'
                           f"{_e(carry_words[0].upper() + carry_words[1:])}.</div>")
    where = (f'the <b class="pma-account">{_e(account)}</b>' if account is not None else
             f'account <b class="pma-account">{_e(summary.get("account"))}</b>')
    return (
        '<div class="pma-summary">'
        f'Plan <b class="pma-plan-name" data-plan="{_e(plan)}">{_e(label or plan)}</b>, '
        f"trades today in {where}: "
        f'<span class="pma-trade-count">{n_trades}</span> trades; realised short-term '
        f'<span class="pma-realized-st">{fmt_usd(summary.get("realized_st"))}</span> / '
        f'long-term <span class="pma-realized-lt">{fmt_usd(summary.get("realized_lt"))}'
        '</span>; estimated tax '
        f'<span class="pma-tax-value">{fmt_usd(summary.get("tax"))}</span>; tracking error '
        'to the target '
        f'<span class="pma-te-before">{fmt_pct(summary.get("te_before"))}</span> &rarr; '
        f'<span class="pma-te-value">{fmt_pct(summary.get("te_after"))}</span>; turnover '
        f'<span class="pma-turnover">{fmt_pct(summary.get("turnover"), 1)}</span>'
        + (f'<div class="pma-forced-sales">{_e(forced[0].upper() + forced[1:])}.</div>'
           if forced else "")
        + (f'<div class="pma-over-target">{_e(over[0].upper() + over[1:])}.</div>'
           if over else "")
        + carry_html + "</div>")


def trades_warning(text: str) -> str:
    """The proposal's warning over today's trades, above the first-year summary.

    ``text`` is :func:`pma_lab.report.proposal.trades_warning` of the plan on screen (its
    :data:`~pma_lab.report.proposal.TRADES_WARNING`: the plan cannot be completed, why in
    plain words, and to change the plan before placing the trades), shown as the proposal
    words it; ``""`` (a plan that was completed): nothing.
    """
    if not text:
        return ""
    return (f'<div class="pma-warning-panel pma-trades-warning" role="note">'
            f"{_e(text)}</div>")


def status_line(state: str, text: str, generation: int, scheduler: str = "",
                cached: Sequence[str] = (), comparing: str = "") -> str:
    """The status line: ``state`` is ``busy``, ``ready`` or ``error``.

    ``scheduler`` records how the update ran (``sync``, ``asyncio`` or ``thread``),
    ``cached`` the stages that came from the cache and ``comparing`` the client whose
    plans are being compared right now (for tests and the operator).
    """
    return (f'<span class="pma-status-text" data-state="{_e(state)}" '
            f'data-generation="{generation}" data-scheduler="{_e(scheduler)}" '
            f'data-cached="{_e(" ".join(cached))}" data-comparing="{_e(comparing)}">'
            f"{_e(text)}</span>")


def stopped_note(client_id: str, other_client: bool) -> str:
    """The note under the status line when a plan comparison was cancelled.

    ``other_client``: another client was chosen (else the same client's inputs changed).
    It says whose comparison stopped, why, and that it is computed again on return.
    """
    who = _e(client_id)
    why = "another client was chosen" if other_client else "its inputs were changed"
    return (f'<span class="pma-caption pma-comparison-stopped" data-client="{who}">'
            f"Stopped comparing the plans for {who} ({why}), so the new results come "
            f"sooner; they are compared again when you return to {who} as it was.</span>")
