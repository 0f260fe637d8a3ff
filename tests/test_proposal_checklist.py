"""The proposal checklist (issue 10): each of the five sample proposals, as a client gets it.

The five samples are rendered once, to HTML and PDF, by the memoised fixture of
tests/test_report.py (the same renders serve both modules). Every item is asserted on the
rendered HTML and, through ``pdftotext`` (poppler-utils), on the PDF's text. With CI=true
a missing Chromium or pdftotext fails instead of skipping.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import openpyxl
import pytest
from click.testing import CliRunner
from test_report import CLIENTS, FAST, rendered_samples  # the renders test_report makes

from pma_lab.app.cli import cli
from pma_lab.formatting import fmt_pct, fmt_plan, fmt_usd, fmt_years
from pma_lab.io.client import load_client
from pma_lab.io.profile import load_profile
from pma_lab.paths import clients_dir
from pma_lab.plan.transition import parse_plan
from pma_lab.report import labels
from pma_lab.report import proposal as report

pytestmark = pytest.mark.slow

RAW_WORDS = ("immediate", "hold_no_add", "sell_within", "mfj", "two_step", "optimal",
             "Solver", "nan", "NaN", "None", "TODO", "hifo", "min_tax")
"""Codes and developer words that must not appear as words in what the client reads."""
RAW_TEXT = ("budget:", "report.", "pma_lab.", "pip install", "make demo", "make setup",
            "Plan(", "is_client_plan", "tax_year1", "Traceback", "Warning")
"""... nor as any part of it."""
FOOTER = "Hypothetical illustration; not tax or investment advice."


def _tool_or_skip(path: str, how: str) -> None:
    """Skip without a tool, but fail on CI (CI=true), where it must be installed."""
    if shutil.which(path) or Path(path).is_file():
        return
    msg = f"{path} not found; {how}"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


class _Text(HTMLParser):
    """Visible text of a page (no script or style), tables by caption, ids, classes."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.tables: list[dict] = []  # caption, header cells, rows of cells, row classes
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        if tag in ("script", "style"):
            self.skip += 1
        if tag == "table":
            self.tables.append({"caption": "", "head": [], "rows": [], "classes": [],
                                "tbody": []})
        elif self.tables and tag == "caption":
            self._caption = []
        elif self.tables and tag == "thead":
            self._in_head = True
        elif self.tables and tag == "tbody":
            self.tables[-1]["tbody"].append((a.get("class") or "", 0))
        elif self.tables and tag == "tr" and not self._in_head:
            self.tables[-1]["rows"].append([])
            self.tables[-1]["classes"].append(a.get("class") or "")
            cls, n = self.tables[-1]["tbody"][-1] if self.tables[-1]["tbody"] else ("", 0)
            if self.tables[-1]["tbody"]:
                self.tables[-1]["tbody"][-1] = (cls, n + 1)
        elif self.tables and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip -= 1
        if tag == "thead":
            self._in_head = False
        if tag == "caption" and self._caption is not None:
            self.tables[-1]["caption"] = "".join(self._caption).strip()
            self._caption = None
        if tag in ("td", "th") and self._cell is not None and self.tables:
            text = "".join(self._cell).strip()
            t = self.tables[-1]
            (t["head"] if self._in_head else (t["rows"][-1] if t["rows"] else t["head"])
             ).append(text)
            self._cell = None

    def handle_data(self, data):
        if self.skip:
            return
        self.parts.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.parts))

    def table(self, caption_start: str) -> dict:
        found = [t for t in self.tables if t["caption"].startswith(caption_start)]
        assert found, f"no table captioned {caption_start!r}"
        return found[0]


class Proposal:
    """One rendered sample: its profile, HTML text, PDF pages and the kernel's data."""

    def __init__(self, client: str, out: report.ProposalOutput):
        self.client = client
        self.out = out
        self.profile = load_profile(clients_dir() / client / "profile.toml")
        self.page = out.html.read_text(encoding="utf-8")
        self.doc = _Text()
        self.doc.feed(self.page)
        nb = nbformat.read(out.notebook, as_version=4)
        self.headline = report._find_output(nb, report.TABLE_MIMETYPE, "headline")
        self.figures = [o["data"]["application/vnd.plotly.v1+json"] for c in nb.cells
                        for o in c.get("outputs", [])
                        if "application/vnd.plotly.v1+json" in o.get("data", {})]
        self.pages: list[str] = []
        if out.pdf is not None and shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", "-layout", str(out.pdf), "-"], check=True,
                                  capture_output=True, text=True).stdout
            self.pages = text.split("\f")
            if self.pages and not self.pages[-1].strip():
                self.pages.pop()

    def mine(self) -> dict:
        rows = [dict(zip(self.headline["columns"], r, strict=True)) if isinstance(r, list)
                else r for r in self.headline["rows"]]
        return next(r for r in rows if r["is_client_plan"])


@pytest.fixture(scope="module")
def proposals(tmp_path_factory) -> dict[str, Proposal]:
    runs = rendered_samples(tmp_path_factory)
    out = {}
    for c in CLIENTS:
        status, res, _ = runs[c]
        if status != "ok":
            raise res
        out[c] = Proposal(c, res)
    return out


def _pdf(p: Proposal) -> list[str]:
    _tool_or_skip(report.CHROMIUM, "install it with `apt-get install chromium`")
    _tool_or_skip("pdftotext", "install poppler-utils (`make browser` does it)")
    assert p.out.pdf is not None and p.pages, "the PDF was not rendered"
    return p.pages


def _flat(s: str) -> str:
    return re.sub(r"\s+", " ", s)


# ------------------------------------------------------------------- page 1 is the answer
@pytest.mark.parametrize("client", CLIENTS)
def test_page_one_is_the_clients_plan_with_its_figures(proposals, client):
    p = proposals[client]
    setup_plan = _client_plan(p)
    label = fmt_plan(setup_plan)
    mine = p.mine()
    h = FAST["horizon_years"]
    want = [label, f"Tax this year ({p.profile.as_of.year}",
            fmt_usd(mine["tax_year1"]), fmt_usd(mine["tax_total"]), fmt_usd(mine["pv_tax"]),
            fmt_years(mine["years_to_target"], h), fmt_pct(mine["te_start"]),
            fmt_usd(mine["after_tax_wealth"]),
            f"{fmt_usd(mine['after_tax_wealth_p10'])} to "
            f"{fmt_usd(mine['after_tax_wealth_p90'])}",
            "Time to reach the target", "Range of after-tax value", "\u2605 Your plan"]
    # in the HTML, the recommendation comes before every other section
    text = p.doc.text
    first = text.index("Our recommendation")
    assert first < text.index("Your plan year by year") < text.index("Trades proposed today")
    for w in want:
        assert w in text, w
    assert "You asked" in text  # the why, from the profile
    # on the first printed page
    page1 = _flat(_pdf(p)[0])
    for w in want:
        assert _flat(w) in page1, (w, page1[:2000])
    # every plan of the analysis is a column of the side-by-side table
    alt = p.doc.table("The alternatives side by side")
    assert alt["head"][1] == "\u2605 Your plan: " + label
    assert len(alt["head"]) - 1 == len(p.headline["rows"])


def _client_plan(p: Proposal):
    from pma_lab.plan.transition import client_plan

    class _S:  # client_plan reads only setup.client.profile
        pass

    s = _S()
    s.client = load_client(clients_dir() / p.client / "profile.toml")
    return client_plan(s)


@pytest.mark.parametrize("client", CLIENTS)
def test_the_clients_plan_is_marked_in_every_table_and_on_the_frontier(proposals, client):
    p = proposals[client]
    label = "\u2605 Your plan: " + fmt_plan(_client_plan(p))
    for caption in ("Transition plans on the expected path", "Tax against tracking error"):
        t = p.doc.table(caption)
        marked = [r for r, c in zip(t["rows"], t["classes"], strict=True) if "pma-mine" in c]
        assert len(marked) == 1, caption
    cmp_ = p.doc.table("Transition plans on the expected path")
    mine = [r for r, c in zip(cmp_["rows"], cmp_["classes"], strict=True) if "pma-mine" in c]
    assert mine[0][0] == label
    assert label in p.doc.table("Today's trades")["rows"][0][1]
    front = [f for f in p.figures if any("Your plan today" in (t.get("name") or "")
                                         for t in f["data"])]
    assert len(front) == 1  # the frontier, with the plan's marker
    # every chart of plans names them in client terms, the client's plan marked
    for f in p.figures:
        for t in f["data"]:
            name = t.get("name") or ""
            assert not re.fullmatch(r"immediate|hold|\d+y|budget:[\d.]+", name), name
    assert any(label in (t.get("name") or "") for f in p.figures for t in f["data"])


@pytest.mark.parametrize("client", CLIENTS)
def test_plan_charts_read_like_the_tables(proposals, client):
    """Plan charts: years on the tax chart's axis (not 6 rotated years per plan), the legend
    under the plot (above it, a wrapped legend covered the title), and each plan in one
    colour in every chart, the client's plan first."""
    p = proposals[client]
    by_title = {f["layout"]["title"]["text"]: f for f in p.figures
                if isinstance(f["layout"].get("title"), dict)}
    tax = by_title["Net tax per year by plan (expected path)"]
    te = by_title["Tracking error to the S&P 500 along each plan"]
    risk = by_title["After-tax value at the horizon across the Monte Carlo paths"]
    years = [t["x"] for t in tax["data"]]
    assert all(re.fullmatch(r"\d{4}", y) for x in years for y in x)
    for f in (tax, te):
        assert f["layout"]["legend"]["y"] < 0 and f["layout"]["legend"]["yanchor"] == "top"
    colors = [{t["name"].replace("<br>", " "): t["marker"]["color"] for t in f["data"]}
              for f in (tax, te, risk)]
    assert colors[0] == colors[1] == colors[2]
    assert len(set(colors[0].values())) == len(colors[0])
    assert next(iter(colors[0])).startswith("\u2605 Your plan: ")


# ----------------------------------------------------------------- plan labels, one function
def test_plan_labels_are_client_terms():
    assert fmt_plan(parse_plan("immediate")) == "Move now"
    assert fmt_plan(parse_plan("3y")) == "Move over 3 years"
    assert fmt_plan(parse_plan("1y")) == "Move over 1 year"
    assert fmt_plan(parse_plan("budget:150000")) == "Gains budget $150,000 a year"
    assert fmt_plan(parse_plan("hold")) == "Hold (no change)"
    assert fmt_plan(parse_plan("budget:60000:st=0")) == \
        "Gains budget $60,000 a year (short-term $0)"
    assert report.plan_cell(parse_plan("5y"), True) == "\u2605 Your plan: Move over 5 years"


# ----------------------------------------------------------------- charity and withdrawals
@pytest.mark.parametrize("client", CLIENTS)
def test_charity_withdrawals_and_harvesting_are_shown(proposals, client):
    p = proposals[client]
    text = p.doc.text
    gift = p.profile.charity.annual_gift if p.profile.charity else 0.0
    if gift:
        lots = p.doc.table("Lots given to charity")
        assert lots["head"] == ["Year", "Symbol", "Lot", "Shares", "Market value",
                                "Cost basis", "Term", "Deduction base"]
        assert len(lots["rows"]) >= 1
        years = p.doc.table("Charitable gifts: deduction and its value")
        assert years["head"] == ["Year", "Gifts at market value", "Deduction allowed",
                                 "Tax saved by the deduction"]
        # gifts are whole shares: the year's gifts are its lots' values, at most the
        # profile's amount and short of it by less than one share of a lot given
        y1 = years["rows"][0][0]
        given = [r for r in lots["rows"] if r[0] == y1]

        def usd(x: str) -> float:
            return float(x.replace("$", "").replace(",", ""))

        shares = [float(r[3].replace(",", "")) for r in given]
        assert all(q == int(q) for q in shares), shares
        value = sum(usd(r[4]) for r in given)
        assert abs(usd(years["rows"][0][1]) - value) <= len(given)  # rounding per row
        one_share = max(usd(r[4]) / q for r, q in zip(given, shares, strict=True))
        assert gift - one_share < usd(years["rows"][0][1]) <= gift
    else:
        assert "No gifts to charity are planned." in text
    assert ("No withdrawals or additions are planned." in text
            or "Planned withdrawals and additions" in text)
    h = p.doc.table("Tax-loss harvesting")
    items = [r[0] if r else "" for r in h["rows"]] + h["head"][:1]
    year = p.profile.as_of.year
    for k in ("Losses harvested by today's trades",
              f"Loss carryforward from earlier years into {year}",
              f"Loss carryforward into {year + 1} without today's trades",
              f"Loss carryforward into {year + 1} after today's trades",
              "Value of that carryforward in "):
        assert any(i.startswith(k) for i in items), k
    assert "only $3,000 of net loss a year" in h["caption"]
    # the carryforward is spelled out (labels.carryforward_rows): what came in, what goes
    # into next year without and after today's trades, and what they use up or add, which
    # add up; the plan's row of the frontier table reads the change (retiree carries
    # $18,500 in, $15,500 of it goes into 2027 without trades and its trades use it up:
    # on main one row read "Loss carryforward those trades create into next year: -$15,500")
    def usd(x: str) -> float:
        return float(x.replace("$", "").replace(",", ""))

    row = {r[0]: usd(r[1]) for r in h["rows"] if len(r) == 2 and r[1].startswith(("$", "-$"))}
    carried_in = p.profile.carryforward_st + p.profile.carryforward_lt
    assert row[f"Loss carryforward from earlier years into {year}"] == round(carried_in)
    before = next(v for k, v in row.items()
                  if k.startswith(f"Loss carryforward into {year + 1} without"))
    after = row[f"Loss carryforward into {year + 1} after today's trades"]
    used = row.get("Used up by today's trades' gains")
    added = row.get("Added by today's trades' losses")
    assert (used is None) != (added is None)
    change = added if used is None else -used
    assert abs(before + change - after) <= 1  # rounding of each row
    assert used is None or used <= before + 0.5
    if p.client == "retiree":
        assert (carried_in, before, used, after) == (18_500, 15_500, 15_500, 0)
    f = p.doc.table("Tax against tracking error today")
    col = f["head"].index("Loss carryforward added (negative: used up)")
    plan_rows = [r for r in f["rows"] if r and r[0].startswith("Your plan today")]
    assert plan_rows and usd(plan_rows[0][col]) == round(change), (plan_rows, change)


# ---------------------------------------------------------------- before/after portfolio
@pytest.mark.parametrize("client", CLIENTS)
def test_before_and_after_characteristics(proposals, client):
    p = proposals[client]
    ch = p.doc.table("Portfolio characteristics before and after")
    assert ch["head"][1:] == ["Today", "After today's trades", "Target", "S&P 500"]
    rows = [r[0] for r in ch["rows"]]
    for k in ("Number of names", "Largest holding", "Top-10 weight", "Dividend yield"):
        assert k in rows, k
    assert any(r.startswith("Momentum exposure") for r in rows)
    # a trailing 12-month yield with its date and the approximation stated (issue 10)
    dy = ch["rows"][rows.index("Dividend yield")][1:]
    assert all(re.match(r"\d+\.\d\d%", c) for c in dy), dy
    assert re.search(r"trailing 12 months: .* 12 months to \d{4}-\d\d-\d\d", ch["caption"])
    assert "An approximation" in ch["caption"]
    sec = p.doc.table("Sector weights, before and after")
    assert sec["head"][:5] == ["Sector", "S&P 500", "Today", "After today's trades", "Target"]
    assert len(sec["rows"]) == 11
    top = p.doc.table("Top 10 holdings after today's trades")
    assert top["rows"]
    # these weights leave cash out, the holdings table's include it: each caption says so
    # (reviewer 1, session 20: MSFT 19.67 % there and 20.25 % here, unexplained)
    for t in (ch, sec, top):
        assert "weights are shares of the stocks held, cash left out" in t["caption"]
    scr = p.doc.table("Screens applied to the S&P 500 universe")
    if p.profile.restrictions.categories:
        assert scr["head"][2:4] == ["Names not bought", "Weight in the S&P 500"]
        assert all(re.fullmatch(r"\d+\.\d\d%", r[3]) for r in scr["rows"])


# ---------------------------------------------------------------------------------- copy
@pytest.mark.parametrize("client", CLIENTS)
def test_copy_has_no_codes_and_fits_the_client(proposals, client):
    p = proposals[client]
    text = p.doc.text
    for word in RAW_WORDS:
        assert not re.search(rf"\b{re.escape(word)}\b", text), word
    for code in RAW_TEXT:
        assert code not in text, code
    pdf = "\n".join(_pdf(p))
    for word in ("immediate", "mfj", "optimal", "nan"):
        assert not re.search(rf"\b{word}\b", pdf), word
    assert "budget:" not in pdf
    single = len(p.profile.accounts) == 1
    if single:
        assert "household" not in text.lower().replace(f"client id {client}", "")
        assert "your account" in text.lower()
    # IRA lots without short- or long-term gain columns
    taxable = p.doc.table("Taxable holdings")
    ira_ids = {a.account_id for a in p.profile.accounts if a.account_type.value != "taxable"}
    assert not {r[0] for r in taxable["rows"]} & ira_ids
    from pma_lab.accounts import account_name

    # names in the Account column, as the retirement-holdings table beside it (not ids)
    taxable_names = {account_name(p.profile.accounts, a.account_id, capital=True)
                     for a in p.profile.accounts if a.account_type.value == "taxable"}
    assert taxable["rows"] and {r[0] for r in taxable["rows"]} <= taxable_names
    if ira_ids:
        ret = p.doc.table("Retirement-account holdings")
        ira_names = {account_name(p.profile.accounts, a, capital=True) for a in ira_ids}
        assert ret["rows"] and {r[0] for r in ret["rows"]} <= ira_names
        assert not any("term" in h.lower() or "unrealised" in h.lower() for h in ret["head"])
    else:
        assert "No retirement accounts." in text
    g = p.doc.table(report.GLOSSARY_CAPTION)
    assert {r[0] for r in g["rows"]} >= {"Tracking error", "Wash sale", "Loss carryforward",
                                         "Economic tax"}
    assert "Assumptions" in text and "Disclosures" in text
    # the frontier paragraph describes the three tax columns
    assert "Three tax figures" in text
    assert p.doc.table("Tax against tracking error")["head"][2:5] == [
        labels.FRONTIER_TAX, "Loss carryforward added (negative: used up)", "Economic tax"]


# ------------------------------------------------------------------------ document basics
@pytest.mark.parametrize("client", CLIENTS)
def test_document_basics(proposals, client):
    p = proposals[client]
    # table of contents: every section after it, each a working link
    toc = re.search(r'<nav class="pma-toc"><ol>(.*?)</ol></nav>', p.page, re.S)
    assert toc
    links = re.findall(r'href="#([^"]+)"', toc.group(1))
    assert len(links) >= 10 and all(link in p.doc.ids for link in links)
    # firm name, logo and colours from templates/firm.toml
    firm = report.firm_settings()
    assert f'<div class="firm">{firm.name}</div>' in p.page
    assert 'src="data:image/svg+xml;base64,' in p.page
    assert f"--pma-brand: {firm.brand};" in p.page
    assert "size: Letter;" in p.page
    # print CSS: short tables whole, long ones never leave fewer than 5 lines (one row at
    # least: a tall row may break) on a page
    for t in p.doc.tables:
        if t["tbody"] and len(t["tbody"]) == 3:
            for keep in (t["tbody"][0], t["tbody"][2]):
                assert keep[0] == "pma-keep" and 1 <= keep[1] <= 5
    assert "tbody.pma-keep { break-inside: avoid;" in p.page
    assert ".pma-short, .pma-answer { break-inside: avoid;" in p.page
    # the contents follow page one (muni-ca had a page holding page one's last two lines)
    assert ".celltag_toc h2 { break-before: auto;" in p.page
    # PDF: Letter, the disclaimer and page X of Y on every page
    pages = _pdf(p)
    info = subprocess.run(["pdfinfo", str(p.out.pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "612 x 792 pts (letter)" in info
    for i, page in enumerate(pages, start=1):
        flat = _flat(page)
        assert FOOTER in flat, i
        assert f"page {i} of {len(pages)}" in flat, i
        assert p.profile.name in flat, i


def test_a4_by_option(proposals, tmp_path):
    p = proposals[CLIENTS[0]]
    _pdf(p)
    nb = nbformat.read(p.out.notebook, as_version=4)
    page = report.notebook_html(nb, paper="a4")
    assert "size: A4;" in page
    html_file = tmp_path / "a4.html"
    html_file.write_text(page, encoding="utf-8")
    pdf = report.html_to_pdf(html_file, tmp_path / "a4.pdf", paper="A4")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "(A4)" in info
    with pytest.raises(report.DataError, match="Letter.*A4"):
        report.notebook_html(nb, paper="legal")
    res = CliRunner().invoke(cli, ["propose", "--help"])
    assert res.exit_code == 0 and "--paper" in res.output and "letter" in res.output
    res = CliRunner().invoke(cli, ["propose", "--profile", "x.toml", "--out", str(tmp_path),
                                   "--paper", "legal"])
    assert res.exit_code == 2 and "legal" in res.output


# ---------------------------------------------------------------------------- trade file
@pytest.mark.parametrize("client", CLIENTS)
def test_todays_tax_is_set_beside_the_plans_tax_for_the_year(proposals, client):
    """Today's trades' tax and page 1's "Tax this year" are two labelled figures, not one:
    rows beneath "Estimated tax" add it up to the year's figure part by part, in whole
    dollars that add up exactly, with the tax on the year's dividends and interest read
    from the plan's own yearly table, and a sentence says the same (issue 14: on main the
    row named "its later trades that year" where balanced-6040's $135 gap was today's
    gains stacked on the year's dividends, and the parts it named did not add up)."""
    p = proposals[client]
    year = p.profile.as_of.year
    text = _flat(p.doc.text)
    yearly = p.doc.table("Your plan year by year")
    first = yearly["rows"][0]

    def cell(col: str) -> str:
        return first[yearly["head"].index(col)] if col in yearly["head"] else "$0"

    def usd(t: str) -> int:
        return int(t.replace("$", "").replace(",", ""))

    t = p.doc.table("Today's trades")
    rows = [r for r in t["rows"] if r]
    labels_ = [r[0] for r in rows]
    i = labels_.index("Estimated tax")
    j = labels_.index(f"= Your plan's tax for {year} (\u201cTax this year\u201d)")
    assert rows[j][1] == fmt_usd(p.mine()["tax_year1"])
    parts = rows[i + 1:j]
    assert all(r[0].startswith("... plus ") for r in parts), parts
    assert usd(rows[i][1]) + sum(usd(r[1]) for r in parts) == usd(rows[j][1]), rows[i:j + 1]
    # these renders step once a year (FAST): no later trades in the first year
    assert FAST["annual_steps"] is True
    assert not any("later trades" in r[0] for r in parts)
    shown = dict((r[0], r[1]) for r in parts)
    for col, row in (("Tax on dividends", f"... plus tax on dividends in {year}"),
                     ("Tax on interest", f"... plus tax on interest in {year}")):
        assert shown.get(row, "$0") == cell(col), (row, shown)
    # ... and a sentence says the same (report.tax_year_note, also on the dashboard)
    if parts:
        lead = (f"The tax of today's trades ({rows[i][1]}) is only part of the plan's tax "
                f'for {year} (“Tax this year”, {rows[j][1]}): that plus ')
        assert lead in text, lead
        sentence = text[text.index(lead):].split("): that plus ", 1)[1].split(".", 1)[0]
        said = re.findall(r"(?:^|, | and )(-?\$[\d,]+)", sentence)
        assert sorted(usd(x) for x in said) == sorted(usd(r[1]) for r in parts), sentence


@pytest.mark.parametrize("client", CLIENTS)
def test_trade_file_a_custodian_takes(proposals, client):
    p = proposals[client]
    with open(p.out.trades_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == list(report.CUSTODIAN_COLUMNS)
    accounts = {a.account_id for a in p.profile.accounts}
    lot_ids = set(load_client(clients_dir() / client / "profile.toml").lots.lots.lot_id)
    for r in rows:
        assert r["Account"].lstrip("'") in accounts
        assert r["Action"] in ("BUY", "SELL") and r["Order Type"] == "Market"
        assert r["Time in Force"] == "Day"
        assert r["Wash Sale"] in ("no", "replacement") or re.fullmatch(
            r"yes \(\$[\d,]+ disallowed\)", r["Wash Sale"]), r["Wash Sale"]
        for k in ("Quantity", "Est. Price", "Est. Amount", "Est. Gain"):
            assert not re.search(r"[eE][+-]?\d", r[k]), (k, r[k])
        q = float(r["Quantity"])
        assert q > 0
        if r["Action"] == "BUY":
            assert q == int(q) and r["Quantity"] == str(int(q)) and r["Lot ID"] == ""
        else:
            assert r["Lot ID"] in lot_ids  # the lot to relieve, as the custodian knows it
    if len(accounts) > 1:  # a household: every account's orders (the sample's all trade)
        assert {r["Account"].lstrip("'") for r in rows} == accounts
    ws = openpyxl.load_workbook(p.out.trades_xlsx).active
    head = [c.value for c in ws[1]]
    assert head == list(report.CUSTODIAN_COLUMNS)
    col = head.index("Lot ID")
    xlsx_ids = [row[col].value or "" for row in ws.iter_rows(min_row=2)]
    assert xlsx_ids == [r["Lot ID"] for r in rows]  # unaltered text, no leading quote
    assert all(row[col].data_type == "s" for row in ws.iter_rows(min_row=2) if row[col].value)


def test_headline_columns_exist_in_the_analysis(proposals):
    p = proposals[CLIENTS[0]]
    assert set(report.HEADLINE_COLUMNS) <= set(p.headline["columns"])
    assert json.dumps(p.headline)  # plain JSON for the dashboard's comparison


# ------------------------------------------- the shelf's sections and the tax-alpha study
SHELF_SECTIONS = ("One plan across your accounts", "Your active and index core",
                  "Your core allocation", "Your bond ladder")
"""pma_lab.report.shelf's sections; each is shown only to a client holding the product
(the four shelf clients' proposals are rendered by `make demo`; their views are
unit-tested on the result objects in tests/test_report_shelf.py)."""


@pytest.mark.parametrize("client", CLIENTS)
def test_shelf_sections_only_for_the_products_held(proposals, client):
    from pma_lab.report.shelf import anchor

    p = proposals[client]
    toc = re.search(r'<nav class="pma-toc"><ol>(.*?)</ol></nav>', p.page, re.S).group(1)
    shown = {t for t in SHELF_SECTIONS if anchor(t) in p.doc.ids}
    several = len(p.profile.accounts) > 1
    assert shown == ({"One plan across your accounts"} if several else set())
    assert {t for t in SHELF_SECTIONS if f'href="#{anchor(t)}"' in toc} == shown
    if not several:
        return
    # the household view: headline figures, the retirement accounts' trades in client
    # units; the taxable account's are the plan's first step, listed once (the trade list)
    summary = p.doc.table("The household plan")
    te = [r[1] for r in summary["rows"] if r[0].startswith("Household tracking error")]
    assert te and all(re.fullmatch(r"\d+\.\d\d%", v) for v in te)
    # today's trades' tax is added up to page 1's "Tax this year", the same figure, in
    # the rows (words, order and dollars) of "Today's trades" (PlanYearTax.rows)
    year = p.profile.as_of.year
    total = [r[1] for r in summary["rows"]
             if r[0] == f"= Your plan's tax for {year} (\u201cTax this year\u201d)"]
    assert total == [fmt_usd(p.mine()["tax_year1"])]
    mine = [r for r in summary["rows"] if r]
    mine = mine[[r[0] for r in mine].index(labels.TAX_OF_TODAYS_TRADES):]
    theirs = [r for r in p.doc.table("Today's trades")["rows"] if r]
    theirs = theirs[[r[0] for r in theirs].index("Estimated tax"):]
    n = next(k for k, r in enumerate(theirs) if r[0].startswith("= ")) + 1
    assert mine[0][1] == theirs[0][1]  # today's tax: the taxable account's trades'
    assert mine[1:n] == theirs[1:n]
    # orders and the trade file's rows, each lot sold on its own row
    assert [r[1] for r in summary["rows"] if r[0].startswith("Orders across the accounts")
            and re.fullmatch(r"[\d,]+ orders?, [\d,]+ rows?", r[1])]
    # each account named in the client's words, never by its profile id (issue 14), the
    # asset-location table's Account column too (it showed "taxable", "ira")
    names = list(labels.profile_account_names(p.profile.accounts).values())
    loc = p.doc.table("Asset location")
    assert [r[0] for r in loc["rows"]] == [n[:1].upper() + n[1:] for n in names]
    for a, name in zip(p.profile.accounts, names, strict=True):
        assert not [t for t in p.doc.tables if t["caption"].startswith("Account ")]
        # (a table's "Account" item before its "Taxable account" value is no id, nor is
        # the name "Taxable account" before its type "Taxable")
        ids = re.findall(rf"(?<!taxable )\baccount {re.escape(a.account_id)}\b(?! account)",
                         p.doc.text.lower())
        assert not ids, ids
        taxable = a.account_type.value == "taxable"
        if taxable:
            assert not [t for t in p.doc.tables
                        if t["caption"].lower().startswith(f"{name}:")]
            assert f"The trades of the {name} are the first step of your plan" in p.doc.text
            continue
        t = p.doc.table(f"{name}: ")
        # retirement sales are not taxed: no gain column
        assert t["head"] == ["Action", "Symbol", "Shares", "Lot", "Term", "Est. price",
                             "Est. amount"] + (["Est. gain"] if taxable else [])
        assert t["rows"], a.account_id
        assert all(re.fullmatch(r"[\d,]+", r[2]) for r in t["rows"])  # whole shares
        assert all(r[3] == "new lot" for r in t["rows"] if r[0] == "Buy")


@pytest.mark.parametrize("client", CLIENTS)
def test_the_tax_alpha_study_is_cited_with_its_range(proposals, client):
    from pma_lab.report.evidence import load_tax_alpha_study
    from pma_lab.report.shelf import anchor

    p = proposals[client]
    study = load_tax_alpha_study()  # the packaged file: the numbers come from there
    title = "What tax-loss harvesting has been worth"
    assert anchor(title) in p.doc.ids
    rng = p.doc.table("After-tax return added by harvesting")
    assert [r[1] for r in rng["rows"]] == [f"{fmt_pct(x)} a year"
                                           for x in (study.p10, study.median, study.p90)]
    decay = p.doc.table("Losses harvested each calendar year")
    assert [r[1] for r in decay["rows"]] == [fmt_pct(x) for x in study.harvest_by_year]
    text = p.doc.text
    section = text[text.rindex(title):text.index("Glossary", text.rindex(title))]
    for w in ("hindsight", "not a promise", "outside the account", "survivors",
              f"{study.starts} historical start dates", "not yours"):
        assert w in section, w
    if p.pages:  # and in the PDF the client prints
        pdf = _flat("\n".join(p.pages))
        assert f"median {fmt_pct(study.median)}" in pdf and title in pdf


@pytest.mark.parametrize("client", CLIENTS)
def test_go_to_target_reads_like_move_now(proposals, client):
    """The frontier's "Go to target" is "Move now" today (issue 14): the frontier note says
    so with both figures, the same one or what the plan's year adds (report.
    go_to_target_note)."""
    p = proposals[client]
    text = _flat(p.doc.text)
    f = p.doc.table("Tax against tracking error today")
    ends = [r for r in f["rows"] if r and r[0] == "Go to target"]
    if not ends:  # an identical, more tax-averse point is shown instead
        assert "“Go to target” is the trade" not in text
        return
    end = ends[0][f["head"].index(labels.FRONTIER_TAX)]
    comp = p.doc.table("Transition plans on the expected path")
    move = next(r for r in comp["rows"] if r and r[0].endswith("Move now"))
    year1 = move[comp["head"].index("Tax this year")]
    lead = "“Go to target” is the trade “Move now” makes today"
    alone = "“Go to target” is the trade “Move now” would make today in this account alone"
    if alone in text:  # Move now's step left names for the household's other accounts (s19)
        assert re.search(
            re.escape(f"{alone}: {end} of tax on today's trades (against no trade); “Move now” "
                      "in the plans compared leaves today the ") + r"(\d+ names|name)"
            + re.escape(" your other accounts would trade the other way, and shows "
                        f"{year1}, its whole tax for {p.profile.as_of.year}."), text)
        # ... the same count as "Move now"'s time to the target (reviewer 1, session 20)
        n = re.search(r"leaves today the (\d+) names", text)
        when = move[comp["head"].index("Time to reach the target")]
        assert n is None or when.endswith(f"({n.group(1)} names left today)"), when
        assert lead not in text
        return
    if end == year1:
        assert f"{lead}: the same {end} of tax as the plans compared show for its year." in text
    else:
        assert f"{end} of tax on today's trades (against no trade); “Move now” in the plans " \
               f"compared shows {year1}, its whole tax for {p.profile.as_of.year}: that " \
               "plus " in text
        # ... and the parts it names add up to the plan's figure as shown (issue 14)
        sentence = text[text.index(lead):].split(".", 1)[0]
        tail = sentence.split("that plus ", 1)[1]
        parts = re.findall(r"(?:^|, | and )(-?\$[\d,]+)", tail)

        def usd(t: str) -> int:
            return int(t.replace("$", "").replace(",", ""))

        assert parts and usd(end) + sum(usd(x) for x in parts) == usd(year1), sentence
