"""HTML fragments of the dashboard: error panels, tables and the status line.

Every number is formatted by :func:`fmt_usd` or :func:`fmt_pct`, so a test can format the
engine's own numbers the same way and look for them in the page. Every fragment carries
stable CSS classes (``pma-...``) for the browser test and for styling.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from pma_lab.errors import Issue, Severity

__all__ = ["fmt_usd", "fmt_pct", "fmt_seconds", "issues_panel", "message_panel",
           "comparison_table", "trades_table", "first_year_summary", "status_line",
           "STYLE"]

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
.pma-table{border-collapse:collapse;font-family:sans-serif;font-size:12px}
.pma-table th,.pma-table td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}
.pma-table th:first-child,.pma-table td:first-child{text-align:left}
.pma-table tr.pma-chosen td{font-weight:bold;background:#eef4fb}
.pma-status-text{font-family:sans-serif;font-size:12px;color:#444}
.pma-status-text[data-state=busy]{color:#8a6d00}
.pma-status-text[data-state=error]{color:#b71c1c}
.pma-summary{font-family:sans-serif;font-size:13px}
.pma-caption{font-family:sans-serif;font-size:12px;color:#555;margin:4px 0}
</style>
"""


def _nan(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_usd(x: object) -> str:
    """Dollars without cents, with a leading minus: ``-$1,234``; blank for NaN."""
    if _nan(x):
        return ""
    v = round(float(x))  # type: ignore[arg-type]
    return f"-${-v:,.0f}" if v < 0 else f"${v:,.0f}"


def fmt_pct(x: object, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.0591`` -> ``5.91%``; blank for NaN."""
    if _nan(x):
        return ""
    return f"{100 * float(x):.{digits}f}%"  # type: ignore[arg-type]


def fmt_seconds(x: float) -> str:
    """Seconds with two decimals: ``1.23 s``."""
    return f"{x:.2f} s"


def _e(x: object) -> str:
    return html.escape("" if x is None else str(x))


def issues_panel(title: str, issues: Sequence[Issue], rename: Mapping[str, str] | None = None,
                 max_items: int = 50) -> str:
    """A red panel listing every issue: file, row, column, value, problem and fix.

    One block per issue (the panel fits a narrow column), errors first, then by row.

    Parameters
    ----------
    title : str
        First line (what failed and that nothing was loaded).
    issues : Sequence[Issue]
    rename : Mapping[str, str] | None
        File names to show instead of the ones in the issues (temporary upload paths).
    max_items : int
        Issues listed; the rest are counted.
    """
    rename = dict(rename or {})
    items = []
    ordered = sorted(issues, key=lambda i: (i.severity is not Severity.ERROR,
                                            -1 if i.row is None else i.row))
    for i in ordered[:max_items]:
        file = i.file
        for old, new in rename.items():
            file = file.replace(old, new)
        where = [f'<span class="pma-issue-file">{_e(file)}</span>']
        if i.row is not None:
            where.append(f'row <span class="pma-issue-row">{i.row}</span>')
        if i.column is not None:
            where.append(f'column <span class="pma-issue-column">{_e(i.column)}</span>')
        if i.value is not None:
            where.append(f'value <span class="pma-issue-value">{_e(i.value)}</span>')
        items.append(
            f'<li class="pma-issue" data-code="{_e(i.code)}" data-row="{_e(i.row)}" '
            f'data-column="{_e(i.column)}"><span class="pma-issue-where">'
            f"{', '.join(where)}</span><br><span class=\"pma-issue-message\">"
            f"{_e(i.severity.value)}: {_e(i.message)}</span><br>Fix: "
            f'<span class="pma-issue-fix">{_e(i.fix)}</span></li>')
    more = "" if len(ordered) <= max_items else \
        f"<p>... and {len(ordered) - max_items} more.</p>"
    return (f'<div class="pma-error-panel" role="alert"><h4>{_e(title)}</h4>'
            f'<ol class="pma-issues">{"".join(items)}</ol>{more}</div>')


def message_panel(title: str, lines: Iterable[str] = (), kind: str = "error") -> str:
    """A red (``kind="error"``) or yellow (``"warning"``) panel with a title and lines."""
    body = "".join(f"<li>{_e(x)}</li>" for x in lines)
    return (f'<div class="pma-{kind}-panel" role="{"alert" if kind == "error" else "note"}">'
            f"<b>{_e(title)}</b>{f'<ul>{body}</ul>' if body else ''}</div>")


_COMPARISON = [("plan", "Plan", None), ("tax_total", "Total tax", fmt_usd),
               ("pv_tax", "PV of tax", fmt_usd), ("tax_year1", "Tax year 1", fmt_usd),
               ("te_start", "TE to S&P 500 now", fmt_pct), ("te_end", "TE at horizon", fmt_pct),
               ("after_tax_wealth", "After-tax wealth", fmt_usd),
               ("vs_hold", "vs hold", fmt_usd), ("vs_immediate", "vs immediate", fmt_usd)]


def comparison_table(comparison: pd.DataFrame, chosen: str,
                     years: Sequence[int] | None = None) -> str:
    """The transition comparison: one row per plan, the chosen plan highlighted.

    ``te_year<k>`` columns are the engine's tracking error at the last step of the k-th
    calendar year of the simulation; given the ``years`` (calendar years, in order) they
    are labelled by year.
    """
    te_years = [c for c in comparison.columns if c.startswith("te_year")]

    def label(c: str) -> str:
        k = int(c[7:])
        if years is not None and k <= len(years):
            return f"TE end {years[k - 1]}"
        return f"TE end of year {k}"

    cols = _COMPARISON[:5] + [(c, label(c), fmt_pct) for c in te_years] + _COMPARISON[5:]
    head = "".join(f"<th>{_e(t)}</th>" for _, t, _ in cols)
    body = []
    for r in comparison.to_dict("records"):
        cls = "pma-chosen" if r["plan"] == chosen else ""
        cells = "".join(
            f'<td class="pma-col-{c}">{_e(f(r.get(c)) if f else r.get(c))}</td>'
            for c, _, f in cols)
        note = "; ".join(filter(None, (r.get("failed"), r.get("notes"))))
        failed = f'<td class="pma-failed">{_e(note)}</td>' if note else ""
        body.append(f'<tr class="{cls}" data-plan="{_e(r["plan"])}">{cells}{failed}</tr>')
    return (f'<table class="pma-table pma-comparison-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def trades_table(trades: pd.DataFrame, max_rows: int = 40) -> str:
    """The first-year trades, largest first (at most ``max_rows`` rows, then a note)."""
    if trades.empty:
        return '<div class="pma-caption pma-no-trades">No trades: the plan holds today.</div>'
    t = trades.assign(_abs=trades.value.abs()).sort_values(["_abs", "ticker"],
                                                           ascending=[False, True])
    cols = [("ticker", "Ticker", None), ("side", "Side", None),
            ("shares", "Shares", lambda x: f"{float(x):,.2f}"), ("value", "Value", fmt_usd),
            ("weight_before", "Weight before", fmt_pct), ("weight_after", "Weight after",
                                                          fmt_pct),
            ("target_weight", "Target weight", fmt_pct)]
    head = "".join(f"<th>{_e(t_)}</th>" for _, t_, _ in cols)
    body = []
    for r in t.head(max_rows).to_dict("records"):
        cells = "".join(f'<td class="pma-col-{c}">{_e(f(r[c]) if f else r[c])}</td>'
                        for c, _, f in cols)
        body.append(f'<tr data-ticker="{_e(r["ticker"])}">{cells}</tr>')
    more = "" if len(t) <= max_rows else \
        f'<div class="pma-caption">... and {len(t) - max_rows} smaller trades</div>'
    return (f'<table class="pma-table pma-trades-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>{more}")


def first_year_summary(summary: pd.Series, plan: str, n_trades: int) -> str:
    """One line on the plan's trades today: TE before and after, tax, turnover."""
    return (
        '<div class="pma-summary">'
        f'Plan <b class="pma-plan-name">{_e(plan)}</b>, trades today in account '
        f'<b>{_e(summary.get("account"))}</b>: '
        f'<span class="pma-trade-count">{n_trades}</span> trades; tracking error to the '
        'target '
        f'<span class="pma-te-before">{fmt_pct(summary.get("te_before"))}</span> &rarr; '
        f'<span class="pma-te-value">{fmt_pct(summary.get("te_after"))}</span>; tax '
        f'<span class="pma-tax-value">{fmt_usd(summary.get("tax"))}</span>; turnover '
        f'<span class="pma-turnover">{fmt_pct(summary.get("turnover"))}</span>'
        "</div>")


def status_line(state: str, text: str, generation: int, scheduler: str = "") -> str:
    """The status line: ``state`` is ``busy``, ``ready`` or ``error``.

    ``scheduler`` records how the update ran (``sync``, ``asyncio`` or ``thread``).
    """
    return (f'<span class="pma-status-text" data-state="{_e(state)}" '
            f'data-generation="{generation}" data-scheduler="{_e(scheduler)}">'
            f"{_e(text)}</span>")
