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

Two outputs carry data for the pipeline rather than for the reader, under pma_lab
mimetypes: the cover (client name, as-of date, firm; the template's header reads it) and
the trade list (the rows of the trade files).
"""

from __future__ import annotations

import ast
import datetime as dt
import html
import math
import os
import re
import shutil
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pma_lab.batch import WarmKernel, safe_name
from pma_lab.client import Client, load_client, to_date
from pma_lab.errors import DataError, PmaLabError, ProposalFailedError
from pma_lab.files import (
    atomic_path,
    check_destination,
    clear_marker,
    neutralise,
    write_csv,
    write_marker,
    write_text,
    write_xlsx,
)
from pma_lab.formatting import fmt_num, fmt_pct, fmt_shares, fmt_usd, missing
from pma_lab.paths import notebooks_dir, templates_dir

__all__ = [
    "PROPOSAL_NOTEBOOK", "TEMPLATES_DIR", "TEMPLATE_NAME", "CHROMIUM", "DISCLOSURES",
    "FOOTER_NOTE", "COVER_MIMETYPE", "TABLE_MIMETYPE", "TRADE_COLUMNS", "ReportTable",
    "Cover", "ProposalOutput", "ProposalFailedError", "notebook_parameters",
    "render_proposal", "html_to_pdf", "output_paths", "export_trades", "custodian_trades",
    "write_trades", "neutralise", "fmt_usd", "fmt_pct", "fmt_num", "load", "cover",
    "client_summary", "holdings_table", "restrictions_table", "excluded_table",
    "target_summary", "target_top", "frontier", "frontier_table", "transition",
    "comparison_table", "trade_summary", "trade_list", "decision_ledger", "calendar",
    "assumptions",
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
    "or investment advice. Tax estimates use the marginal rates in the client's profile "
    "and the lot-level basis and dates on file: actual taxes depend on the client's full "
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


# ------------------------------------------------------------------------------ formatting
# One formatter per unit, shared with the dashboard and the CLI: pma_lab.formatting.
_missing = missing
_fmt_shares = fmt_shares


_FORMATTERS = {
    "usd": fmt_usd,
    "usd2": lambda x: fmt_usd(x, 2),
    "pct": fmt_pct,
    "pct1": lambda x: fmt_pct(x, 1),
    "int": fmt_num,
    "num2": lambda x: fmt_num(x, 2),
    "shares": _fmt_shares,
    "text": lambda x: "" if _missing(x) else str(x),
}
_NUMERIC = {"usd", "usd2", "pct", "pct1", "int", "num2", "shares"}


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
    """

    frame: pd.DataFrame
    formats: Mapping[str, str] = field(default_factory=dict)
    caption: str = ""
    name: str = ""
    machine: bool = False
    key_value: bool = False
    wrap: tuple[str, ...] = ()
    empty: str = "None."

    def formatted(self) -> pd.DataFrame:
        """The frame with every cell formatted as text."""
        out = pd.DataFrame(index=self.frame.index)
        for c in self.frame.columns:
            f = _FORMATTERS[self.formats.get(c, "text")]
            out[c] = [f(v) for v in self.frame[c]]
        return out

    def _repr_html_(self) -> str:
        e = html.escape
        cap = f"<caption>{e(self.caption)}</caption>" if self.caption else ""
        if self.frame.empty:
            return (f'<div class="pma-table-wrap"><p class="pma-empty">'
                    f'{e(self.caption + ": " if self.caption else "")}{e(self.empty)}</p></div>')
        txt = self.formatted()
        if self.key_value:
            rows = "".join(f'<tr><th scope="row">{e(str(k))}</th><td>{e(v)}</td></tr>'
                           for k, v in zip(txt.iloc[:, 0], txt.iloc[:, 1], strict=True))
            return (f'<div class="pma-table-wrap"><table class="pma-table pma-kv">{cap}'
                    f"<tbody>{rows}</tbody></table></div>")
        cls = [' class="num"' if self.formats.get(c, "text") in _NUMERIC else
               ' class="wrap"' if c in self.wrap else "" for c in txt.columns]
        head = "".join(f'<th{k} scope="col">{e(str(c))}</th>'
                       for c, k in zip(txt.columns, cls, strict=True))
        body = "".join(
            "<tr>" + "".join(f"<td{k}>{e(v)}</td>" for v, k in zip(row, cls, strict=True))
            + "</tr>" for row in txt.itertuples(index=False, name=None))
        return (f'<div class="pma-table-wrap"><table class="pma-table">{cap}<thead><tr>'
                f"{head}</tr></thead><tbody>{body}</tbody></table></div>")

    def __repr__(self) -> str:
        with pd.option_context("display.max_rows", 40, "display.width", 140):
            text = self.formatted().to_string(index=False) if len(self.frame) else self.empty
        return f"{self.caption}\n{text}" if self.caption else text

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-safe records (NaN -> None, dates -> ISO text)."""
        out = []
        for row in self.frame.to_dict(orient="records"):
            out.append({str(k): _json_safe(v) for k, v in row.items()})
        return out

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        b = {"text/html": self._repr_html_(), "text/plain": repr(self)}
        if self.machine:
            b[TABLE_MIMETYPE] = {"name": self.name, "columns": list(map(str, self.frame)),
                                 "rows": self.records()}
        return b


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


@dataclass(frozen=True)
class Cover:
    """The proposal's identity: read by the template's header and by the pipeline."""

    firm_name: str
    client_id: str
    client_name: str
    as_of: str
    description: str = ""
    footer: str = FOOTER_NOTE

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        data = {k: getattr(self, k) for k in ("firm_name", "client_id", "client_name",
                                              "as_of", "description", "footer")}
        return {COVER_MIMETYPE: data,
                "text/plain": f"{self.firm_name} proposal for {self.client_name} "
                              f"({self.client_id}) as of {self.as_of}"}


class _Html:
    """Pre-built, escaped HTML for display."""

    def __init__(self, text: str, plain: str):
        self.text, self.plain = text, plain

    def _repr_html_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.plain


# ------------------------------------------------------------------- notebook cell helpers
def load(profile: str | Path, lots: Sequence[str | Path] = (), as_of: str | None = "",
         ) -> Client:
    """Load the client the way the notebook's parameters say (``""``/``[]``: the profile's).

    Raises
    ------
    ProfileError, LotDataError, BlotterError, PmaLabError
        From :func:`pma_lab.client.load_client`.
    """
    return load_client(profile, as_of=as_of or None, lots_files=list(lots) or None)


def cover(client: Client, firm_name: str) -> Cover:
    """The cover data for the template's header (firm, client name, as-of date)."""
    p = client.profile
    return Cover(str(firm_name), p.client_id, p.name or p.client_id, client.as_of.isoformat(),
                 p.description)


def client_summary(client: Client, summary) -> ReportTable:
    """Who the client is and what the household holds (values, gains, tax profile).

    Parameters
    ----------
    client : Client
    summary : LotsSummary
        From :func:`pma_lab.holdings.summarize_lots`.
    """
    p, t = client.profile, summary.totals
    accounts = ", ".join(f"{a.account_id} ({a.account_type.value}, cash {fmt_usd(a.cash)})"
                         for a in p.accounts)
    rows = [
        ("Client", p.name or p.client_id), ("Client id", p.client_id),
        ("As of", client.as_of.isoformat()), ("Accounts", accounts),
        ("Market value", fmt_usd(t.market_value)), ("Cash", fmt_usd(t.cash)),
        ("Total value", fmt_usd(t.total_value)),
        ("Of which in retirement accounts", fmt_usd(t.ira_value)),
        ("Lots / tickers", f"{int(t.lots)} / {int(t.tickers)}"),
        ("Embedded short-term gains / losses (taxable)",
         f"{fmt_usd(t.st_gain)} / {fmt_usd(t.st_loss)}"),
        ("Embedded long-term gains / losses (taxable)",
         f"{fmt_usd(t.lt_gain)} / {fmt_usd(t.lt_loss)}"),
        ("Filing status", str(p.tax.filing_status.value)),
        ("Marginal rates short-term / long-term",
         f"{fmt_pct(p.tax.st_rate, 1)} / {fmt_pct(p.tax.lt_rate, 1)}"),
    ]
    if p.carryforward_st or p.carryforward_lt:
        rows.append(("Loss carryforwards ST / LT",
                     f"{fmt_usd(p.carryforward_st)} / {fmt_usd(p.carryforward_lt)}"))
    if len(summary.realized):
        r = summary.realized.iloc[-1]
        rows.append((f"Realised so far in {int(r.year)} (ST / LT net)",
                     f"{fmt_usd(float(r.st_net))} / {fmt_usd(float(r.lt_net))}"))
    b = p.budgets
    if b.total is not None or b.short_term is not None or b.long_term is not None:
        parts = [f"{k} {fmt_usd(v)}" for k, v in (("total", b.total), ("short-term",
                 b.short_term), ("long-term", b.long_term)) if v is not None]
        rows.append(("Annual capital-gains budget", ", ".join(parts)))
    if p.transition is not None:
        tr = p.transition
        rows.append(("Transition preference", {
            "immediate": "go to the target now",
            "timeline": f"reach the target over {tr.years} years",
            "budget": f"annual net gain budget {fmt_usd(tr.annual_budget)}",
        }.get(tr.mode, tr.mode)))
    if p.concentrated is not None:
        rows.append(("Concentrated position", f"{p.concentrated.ticker} "
                     f"({p.concentrated.strategy.replace('_', ' ')})"))
    if p.charity is not None and p.charity.annual_gift:
        rows.append(("Annual gift of appreciated lots", fmt_usd(p.charity.annual_gift)))
    if p.description:
        rows.append(("Notes", p.description))
    return _kv(rows, "Client summary")


def holdings_table(summary) -> ReportTable:
    """Every account and ticker held: value, weight of the household, basis, gains."""
    h = summary.holdings
    f = pd.DataFrame({
        "Account": h.account, "Type": h.account_type, "Ticker": h.ticker,
        "Shares": h.shares, "Market value": h.market_value, "Weight": h.weight,
        "Basis": h.basis, "Unrealised ST": h.unrealized_st, "Unrealised LT": h.unrealized_lt,
        "Lots": h.lots})
    return ReportTable(f, {"Shares": "shares", "Market value": "usd", "Weight": "pct",
                           "Basis": "usd", "Unrealised ST": "usd", "Unrealised LT": "usd",
                           "Lots": "int"}, "Holdings by account and ticker")


def restrictions_table(setup) -> ReportTable:
    """One row per screen or restriction: what it does and how much of the index it hits."""
    from pma_lab.profile import HeldAction

    s = setup.eligibility.summary(setup.benchmark.weights)
    effect = {"hold_no_add": "kept, not added", "total": "total"}

    def words(x: str) -> str:
        # the restriction's action on names already held, as the engine applies it
        return effect[x] if x in effect else HeldAction.parse(x).describe()

    def names(tick: tuple) -> str:
        tick = tuple(tick)
        head = ", ".join(tick[:15])
        return head + (f" and {len(tick) - 15} more" if len(tick) > 15 else "")

    f = pd.DataFrame({
        "Restriction": s.restriction, "Effect": [words(x) for x in s.effect],
        "Names": s.names, "Benchmark weight": s.weight,
        "Tickers": [names(t) for t in s.tickers]})
    return ReportTable(f, {"Names": "int", "Benchmark weight": "pct"},
                       "Restrictions applied to the S&P 500 universe", wrap=("Tickers",),
                       empty="No restrictions.")


def excluded_table(setup) -> ReportTable:
    """The names the client may not hold, with the reason and whether they are held now."""
    from pma_lab.profile import HeldAction

    ex = setup.eligibility.excluded()
    held = set(setup.client.lots.lots.ticker)
    w = setup.benchmark.weights
    f = pd.DataFrame({
        "Ticker": ex.ticker, "Name": ex.name, "Sector": ex.gics_sector,
        "Benchmark weight": [float(w.get(t, 0.0)) for t in ex.ticker],
        "Held now": [f"yes: {HeldAction.parse(a).describe().split(';')[0]}" if t in held
                     else "" for t, a in zip(ex.ticker, ex.held_action, strict=True)],
        "Reason": ex.reasons})
    return ReportTable(f, {"Benchmark weight": "pct"}, "Names excluded by the restrictions",
                       wrap=("Name", "Reason"),
                       empty="No name is excluded; the restrictions (if any) only limit "
                             "purchases.")


def target_summary(setup) -> ReportTable:
    """The target portfolio in a few numbers: names, tracking error, benchmark, method."""
    tg = setup.target
    w = tg.weights
    return _kv([
        ("Benchmark", str(setup.benchmark.name)),
        ("Names in the target", str(int(tg.names))),
        ("Tracking error to the benchmark (ex-ante, annual)", fmt_pct(tg.tracking_error)),
        ("Largest weight", f"{w.index[0]} {fmt_pct(float(w.iloc[0]))}" if len(w) else ""),
        ("Top-10 weight", fmt_pct(float(w.iloc[:10].sum()))),
        ("Account size used for the name count", fmt_usd(setup.account_size)),
        ("Construction", str(tg.method)),
    ], "Target portfolio")


def target_top(setup, n: int = 15) -> ReportTable:
    """The target's largest holdings against the benchmark."""
    w = setup.target.weights.iloc[:n]
    info = setup.eligibility.table.set_index("ticker")
    b = setup.benchmark.weights
    f = pd.DataFrame({
        "Ticker": w.index, "Name": [info.name.get(t, "") for t in w.index],
        "Sector": [info.gics_sector.get(t, "") for t in w.index],
        "Target weight": w.to_numpy(), "Benchmark weight": [float(b.get(t, 0.0))
                                                             for t in w.index]})
    f["Active"] = f["Target weight"] - f["Benchmark weight"]
    return ReportTable(f, {"Target weight": "pct", "Benchmark weight": "pct",
                           "Active": "pct"}, f"Top {len(f)} target holdings", wrap=("Name",))


def frontier(setup, points: int = 11):
    """The tax vs tracking-error frontier of the first taxable account, ``points`` rows.

    The two ends (do nothing, go to target) are always rows, so ``points - 2`` tax
    aversions are swept, log-spaced from 10 to 0.001.

    Raises
    ------
    DataError
        If ``points`` < 3.
    """
    from pma_lab.engine import problem_for_client
    from pma_lab.frontier import efficient_frontier

    if int(points) < 3:
        raise DataError(f"frontier_points={points}: the frontier needs at least 3 points "
                        "(do nothing, one trade-off, go to target)")
    return efficient_frontier(problem_for_client(setup),
                              gammas=np.logspace(1.0, -3.0, int(points) - 2))


def frontier_table(front) -> ReportTable:
    """The frontier's efficient points as the client reads them (do nothing to target)."""
    t = front.table
    f = pd.DataFrame({
        "Point": t.label, "TE to target": t.te, "Tax this year": t.tax_this_year,
        "Loss carried forward": t.carryforward_created,
        "Economic tax": t.tax_economic, "Economic tax (% of account)": t.tax_economic_pct / 100,
        "Realised ST": t.realized_st, "Realised LT": t.realized_lt, "Turnover": t.turnover,
        "Names": t.names, "Tax per bp of TE removed": t.marginal_tax_per_bp,
        "Status": [s if not e else f"{s}: {e}" for s, e in zip(t.status, t.error,
                                                               strict=True)]})
    return ReportTable(f, {"TE to target": "pct", "Tax this year": "usd",
                           "Loss carried forward": "usd", "Economic tax": "usd",
                           "Economic tax (% of account)": "pct", "Realised ST": "usd",
                           "Realised LT": "usd", "Turnover": "pct1", "Names": "int",
                           "Tax per bp of TE removed": "usd"},
                       f"Tax vs tracking error, account value {fmt_usd(front.account_value)}. "
                       + " ".join(front.assumptions),
                       wrap=("Point", "Status"))


def transition(setup, plans: str | Sequence[str], horizon_years: int = 5,
               annual_steps: bool = False):
    """Run the transition comparison for comma-separated ``plans`` (see ``parse_plan``).

    Raises
    ------
    DataError
        For an empty or malformed plan list or horizon.
    """
    from pma_lab.transition import TransitionSettings, run_transition

    items = [p.strip() for p in (plans.split(",") if isinstance(plans, str) else plans)]
    items = [p for p in items if p]
    if not items:
        raise DataError("plans is empty; give at least one, e.g. \"immediate,budget:0\"")
    if int(horizon_years) < 1:
        raise DataError(f"horizon_years={horizon_years}: must be at least 1")
    s = TransitionSettings(horizon_years=int(horizon_years),
                           steps_per_year=1 if annual_steps else 4)
    return run_transition(setup, items, s)


def comparison_table(analysis) -> ReportTable:
    """One row per plan: taxes, after-tax wealth against holding, tracking error."""
    c = analysis.comparison
    f = pd.DataFrame({
        "Plan": c.plan, "Tax, year 1": c.tax_year1, "Tax, all years": c.tax_total,
        "Tax, present value": c.pv_tax, "Liquidation tax at horizon": c.liquidation_tax,
        "After-tax wealth": c.after_tax_wealth, "vs hold": c.vs_hold,
        "vs immediate": c.vs_immediate, "TE to benchmark, start": c.te_start,
        "TE to benchmark, end": c.te_end,
        "Note": ["; ".join(filter(None, n)) for n in zip(c.failed, c.notes, strict=True)]})
    return ReportTable(f, {k: "usd" for k in f.columns[1:8]}
                       | {"TE to benchmark, start": "pct", "TE to benchmark, end": "pct"},
                       "Transition plans on the expected path", wrap=("Note",))


def trade_summary(setup, result) -> ReportTable:
    """What today's trades do: the plan, realised gains, tax, tracking error, turnover."""
    from pma_lab.transition import client_plan

    s = result.summary
    return _kv([
        ("Plan (from the client's profile)", client_plan(setup).name),
        ("Account", str(s["account"])),
        ("Realised short-term / long-term", f"{fmt_usd(s['realized_st'])} / "
                                            f"{fmt_usd(s['realized_lt'])}"),
        ("Estimated tax", fmt_usd(s["tax"])),
        ("Tracking error to the target before / after",
         f"{fmt_pct(s['te_before'])} / {fmt_pct(s['te_after'])}"),
        ("Turnover", fmt_pct(s["turnover"], 1)),
        ("Names after", str(int(s["names_after"]))),
        ("Solver status", str(s["status"])),
    ], "Today's trades")


def custodian_trades(result) -> pd.DataFrame:
    """The trades in a custodian-friendly layout (:data:`TRADE_COLUMNS`), sells first.

    One SELL row per lot (specific identification: the lot id is given) and one BUY row
    per name. Quantities are shares, amounts USD at the as-of price; values are not
    neutralised here (see :func:`pma_lab.files.neutralise` and :func:`write_trades`).

    Raises
    ------
    PmaLabError
        If the per-name sells do not add up to the lot sells (an engine inconsistency).
    """
    acc = str(result.summary["account"])
    lt, tr = result.lot_trades, result.trades
    rows = [(acc, str(r.ticker), "SELL", float(r.shares), str(r.lot_id), float(r.price),
             float(r.proceeds), str(r.term), float(r.gain)) for r in lt.itertuples()]
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
                     "", math.nan))
    f = pd.DataFrame(rows, columns=list(TRADE_COLUMNS))
    return f.astype({"Quantity": float, "Est. Price": float, "Est. Amount": float,
                     "Est. Gain": float})


def trade_list(result) -> ReportTable:
    """The trade list (custodian layout), also emitted as data for the trade files."""
    return ReportTable(custodian_trades(result),
                       {"Quantity": "shares", "Est. Price": "usd2", "Est. Amount": "usd",
                        "Est. Gain": "usd"}, "Trade list (sells by specific lot)",
                       name="trades", machine=True, empty="No trades.")


def decision_ledger(result) -> ReportTable:
    """Per lot: hold, sell, harvest or defer, and the reason that decided it."""
    d = result.decisions
    f = pd.DataFrame({
        "Lot": d.lot_id, "Ticker": d.ticker, "Shares": d.shares, "Unrealised gain": d.gain,
        "Term": d.term, "Long-term on": [("" if _missing(x) else str(x))
                                         for x in d.long_term_on],
        "Sold": d.sold_fraction, "Decision": d.action, "Reason": d.reason})
    return ReportTable(f, {"Shares": "shares", "Unrealised gain": "usd", "Sold": "pct1"},
                       "Decision for every lot", wrap=("Reason",))


def calendar(summary, days: int = 90) -> ReportTable:
    """Lots turning long-term in the next ``days`` days and the wash-sale locks, by date."""
    rows = []
    soon = summary.turning_long_term
    soon = soon[soon.days_to_long_term <= days]
    for r in soon.itertuples():
        rows.append((r.long_term_on, int(r.days_to_long_term), "turns long-term", r.ticker,
                     r.account, r.lot_id, float(r.unrealized), "sold before: short-term"))
    for r in summary.locks.itertuples():
        what, why = (("do not buy through", "recent loss sale (wash sale)")
                     if r.lock == "no_buy" else
                     ("do not sell at a loss through", "recent purchase (wash sale)"))
        rows.append((r.until, (r.until - summary.as_of).days, what, r.tickers,
                     "all accounts", "", math.nan, why))
    f = pd.DataFrame(rows, columns=["Date", "Days", "Event", "Ticker", "Account", "Lot",
                                    "Unrealised", "Why"])
    if len(f):
        f = f.sort_values(["Date", "Event", "Ticker"], kind="stable", ignore_index=True)
        f["Date"] = [d.isoformat() for d in f.Date]
    return ReportTable(f, {"Days": "int", "Unrealised": "usd"},
                       f"Holding-period and do-not-buy calendar (next {days} days)",
                       wrap=("Ticker", "Why"),
                       empty="No lot turns long-term and no wash-sale lock is open.")


def assumptions(analysis) -> _Html:
    """The analysis's stated assumptions and the fixed disclosure paragraph."""
    items = list(analysis.assumptions)
    e = html.escape
    body = ('<div class="pma-assumptions"><h3>Assumptions</h3><ul>'
            + "".join(f"<li>{e(a)}</li>" for a in items)
            + f'</ul><h3>Disclosures</h3><p class="pma-disclosure">{e(DISCLOSURES)}</p></div>')
    plain = "\n".join(["Assumptions:"] + [f"- {a}" for a in items] + ["", DISCLOSURES])
    return _Html(body, plain)


# ----------------------------------------------------------------------------- trade files
_ROUND = {"Quantity": 6, "Est. Price": 4, "Est. Amount": 2, "Est. Gain": 2}
_XLSX_FORMATS = {"Quantity": "General", "Est. Price": "#,##0.00",
                 "Est. Amount": "#,##0.00", "Est. Gain": "#,##0.00;[Red]-#,##0.00"}


def write_trades(frame: pd.DataFrame, path_csv: str | Path | None,
                 path_xlsx: str | Path | None, inputs: Sequence[str | Path] = ()) -> None:
    """Write a custodian-layout frame to CSV and/or XLSX through :mod:`pma_lab.files`.

    Numbers stay numbers (rounded: shares 6, price 4, amounts 2 decimals); text cells are
    neutralised (:func:`pma_lab.files.neutralise` in CSV; in XLSX the text is kept as a
    string cell with the quote prefix); the XLSX has a bold, frozen header row, number
    formats and no formula. Both files are written atomically and never over ``inputs``.
    """
    frame = frame.copy()
    for c, d in _ROUND.items():
        if c in frame:
            frame[c] = pd.to_numeric(frame[c], errors="raise").round(d)
    if path_csv is not None:
        write_csv(frame, path_csv, inputs)
    if path_xlsx is not None:
        write_xlsx({"Trades": frame}, path_xlsx, inputs, number_formats=_XLSX_FORMATS)


def export_trades(result, path_csv: str | Path | None, path_xlsx: str | Path | None
                  ) -> pd.DataFrame:
    """Write a rebalance's trades for the custodian (CSV and XLSX); returns the frame.

    Parameters
    ----------
    result : RebalanceResult
        E.g. from :func:`pma_lab.transition.first_trades`.
    path_csv, path_xlsx : str | Path | None
        Where to write (``None``: skip that format).
    """
    frame = custodian_trades(result)
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
        Seconds per stage: ``papermill``, ``html``, ``trades``, ``pdf``.
    """

    client_id: str
    notebook: Path
    html: Path | None
    pdf: Path | None
    trades_csv: Path
    trades_xlsx: Path
    seconds: float
    timings: Mapping[str, float] = field(default_factory=dict)


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
                    timeout: int = 900, paper: str = "A4", kernel: WarmKernel | None = None,
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
    paper : {"A4", "Letter"}
        Page size of the print CSS (and so of the PDF).
    kernel : WarmKernel | None
        A kernel kept alive across proposals (:class:`pma_lab.batch.WarmKernel`; reset
        before the run, replaced if the run does not finish). Default: a fresh kernel.
    **params
        Other notebook parameters (``plans``, ``horizon_years``, ``annual_steps``,
        ``frontier_points``, ``firm_name``); text values are parsed to the parameter's type.

    Returns
    -------
    ProposalOutput

    Raises
    ------
    DataError
        For an unknown parameter (the message lists the accepted ones), a value of the
        wrong type or an unknown format.
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
    if paper not in ("A4", "Letter"):
        raise DataError(f"paper={paper!r}: use \"A4\" or \"Letter\"")
    values: dict[str, object] = {k: _coerce(k, v, accepted[k]["default"])
                                 for k, v in params.items()}
    if as_of is not None and not isinstance(as_of, dt.date):
        to_date(str(as_of))  # a malformed date fails here, before a kernel starts
    prof = Path(profile).expanduser().resolve()
    values["profile"] = str(prof)
    values["lots"] = [str(Path(f).expanduser().resolve()) for f in lots]
    values["as_of"] = "" if as_of is None else str(as_of)

    paths = output_paths(out_dir, _client_id_hint(prof))
    inputs = [prof, *values["lots"], *_input_files_hint(prof)]  # type: ignore[misc]
    for p in paths.values():
        check_destination(p, inputs)  # before anything is removed or written
    paths["notebook"].parent.mkdir(parents=True, exist_ok=True)
    clear_marker(paths["marker"])  # the marker is written last: a killed run has none
    for k in ("error", "html", "pdf", "trades_csv", "trades_xlsx"):
        paths[k].unlink(missing_ok=True)  # nothing stale survives a failed run
    timings: dict[str, float] = {}
    t = time.perf_counter()
    failure = None
    with atomic_path(paths["notebook"], inputs) as tmp_nb:
        warm = {}
        if kernel is not None:
            kernel.prepare(nb_path.parent)
            warm = {"km": kernel.manager}
        try:
            pm.execute_notebook(str(nb_path), str(tmp_nb), parameters=values,
                                kernel_name="python3", cwd=str(nb_path.parent),
                                progress_bar=False, log_output=False,
                                execution_timeout=timeout, **warm)
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

    t = time.perf_counter()
    page = notebook_html(nb, title=f"{cov.get('firm_name', '')} proposal for "
                                   f"{cov.get('client_name', client_id)}".strip(), paper=paper)
    write_text(paths["html"], page, inputs)
    timings["html"] = time.perf_counter() - t
    pdf = None
    if "pdf" in fmts:
        t = time.perf_counter()
        pdf = html_to_pdf(paths["html"], paths["pdf"], inputs=inputs)
        timings["pdf"] = time.perf_counter() - t
    # the trade files come after the proposal they belong to, then the run marker
    t = time.perf_counter()
    write_trades(frame, paths["trades_csv"], paths["trades_xlsx"], inputs)
    timings["trades"] = time.perf_counter() - t
    done = [paths["notebook"], paths["html"], *([pdf] if pdf else []), paths["trades_csv"],
            paths["trades_xlsx"]]
    write_marker(paths["marker"], done, {"client_id": client_id})
    return ProposalOutput(client_id, paths["notebook"], paths["html"], pdf,
                          paths["trades_csv"], paths["trades_xlsx"],
                          time.perf_counter() - t0, timings)


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


def notebook_html(nb, title: str = "", paper: str = "A4") -> str:
    """Convert an executed proposal notebook to a self-contained HTML page (no code).

    ``paper`` (``"A4"`` or ``"Letter"``) sets the print CSS page size.
    """
    from nbconvert import HTMLExporter
    from plotly.offline import get_plotlyjs

    exp = HTMLExporter(template_name=TEMPLATE_NAME,
                       extra_template_basedirs=[str(TEMPLATES_DIR)], exclude_input=True,
                       exclude_input_prompt=True, exclude_output_prompt=True)
    resources = {"plotlyjs": get_plotlyjs(), "metadata": {"name": title or "Proposal"},
                 "paper": "Letter" if str(paper).lower() == "letter" else "A4"}
    body, _ = exp.from_notebook_node(nb, resources=resources)
    return body


def html_to_pdf(html_path: str | Path, pdf_path: str | Path, timeout: float = 120.0,
                inputs: Sequence[str | Path] = ()) -> Path:
    """Print an HTML file to PDF with headless Chromium (Debian's ``/usr/bin/chromium``).

    The PDF is written atomically (:func:`pma_lab.files.atomic_path`), never through a
    symbolic link and never over one of ``inputs``.

    Raises
    ------
    PmaLabError
        If Chromium is not installed (with how to install it), fails, or writes no PDF.
    """
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
        profile_dir = tempfile.mkdtemp(prefix="pma-chromium-")
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-quic",
               f"--user-data-dir={profile_dir}", "--no-pdf-header-footer",
               "--virtual-time-budget=10000", f"--print-to-pdf={tmp}", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise PmaLabError(f"Chromium did not print {src.name} within {timeout:.0f} s"
                              ) from None
        finally:
            shutil.rmtree(profile_dir, ignore_errors=True)
        if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            err = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise PmaLabError(f"Chromium failed to print {src} to PDF (exit "
                              f"{proc.returncode}):\n{err}")
    return dst
