"""``pma-lab demo`` (pma_lab.app.demo): the proposals it renders are ``pma-lab propose``'s.

The demo sets no notebook parameter of its own: a sample client's proposal from the demo
reads the same as the one ``pma-lab propose`` renders and the dashboard computes for the
same client and date (the notebook's defaults: quarterly plan steps, its frontier points).
Before, the demo stepped its plans once a year, so the household sample's "Tax this year"
read $7,961 in the demo and $7,730 in ``pma-lab propose`` and on the dashboard.
"""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pma_lab.app.cli import main
from pma_lab.app.dashboard.compute import DashboardSettings, ProposalEngine
from pma_lab.formatting import fmt_pct, fmt_usd
from pma_lab.io.client import load_client
from pma_lab.paths import clients_dir
from pma_lab.plan.transition import client_plan

pytestmark = pytest.mark.slow

CLIENT = "household"
"""The reviewer's sample (two accounts; its figures differed between demo and dashboard)."""

TAX_THIS_YEAR = "(\u201cTax this year\u201d)"
ESTIMATED_TAX = "Estimated tax"
TE = "Tracking error to the target before / after"


class _Rows(HTMLParser):
    """The rows (label, value) of the proposal's table captioned "Today's trades"."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._caption: list[str] | None = None
        self._in = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        if tag == "table":
            self._in = False
        elif tag == "caption":
            self._caption = []
        elif self._in and tag == "tr":
            self.rows.append([])
        elif self._in and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag == "caption" and self._caption is not None:
            if not self.rows and "".join(self._caption).strip().startswith("Today's trades"):
                self._in = True
            self._caption = None
        elif tag == "table":
            self._in = False
        elif tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):  # noqa: ANN001
        if self._caption is not None:
            self._caption.append(data)
        if self._cell is not None:
            self._cell.append(data)


def proposal_figures(html: Path) -> dict[str, str]:
    """"Tax this year", the estimated tax of today's trades and the tracking error before /
    after them, as a rendered proposal's "Today's trades" table prints them."""
    p = _Rows()
    p.feed(html.read_text(encoding="utf-8"))
    rows = {r[0]: r[1] for r in p.rows if len(r) == 2}
    assert rows, f"{html}: no table captioned Today's trades"
    year = next(v for k, v in rows.items() if k.endswith(TAX_THIS_YEAR))
    return {"tax_this_year": year, "estimated_tax": rows[ESTIMATED_TAX], "te": rows[TE]}


def dashboard_figures(profile: Path) -> dict[str, str]:
    """The same figures from the dashboard's computation (its engine, default settings:
    the proposal notebook's parameters), printed with the proposal's formatters."""
    engine = ProposalEngine(DashboardSettings.from_proposal())
    client = load_client(profile)
    setup, _ = engine.setup(client)
    plan = client_plan(setup).name
    analysis, _ = engine.transition(client, setup, plan)
    today, _ = engine.first_year(client, setup, plan)
    comp = analysis.comparison.set_index("plan")
    s = today.summary
    return {"tax_this_year": fmt_usd(comp.loc[plan, "tax_year1"]),
            "estimated_tax": fmt_usd(s["tax"]),
            "te": f"{fmt_pct(s['te_before'])} / {fmt_pct(s['te_after'])}"}


def demo_propose_dashboard(client: str, tmp: Path, capsys) -> dict[str, object]:
    """One sample client through ``pma-lab demo`` (a folder of that client alone, run in
    ``tmp``, the current folder, without ``--out``), ``pma-lab propose`` and the
    dashboard's engine: the figures each shows, the demo's and propose's trade files, the
    demo's console output and its output folder."""
    src = tmp / "clients"
    shutil.copytree(clients_dir() / client, src / client)
    profile = src / client / "profile.toml"
    assert Path.cwd() == tmp
    assert main(["demo", "--clients", str(src)]) == 0
    demo_out = capsys.readouterr().out
    assert main(["propose", "--profile", str(profile), "--out", str(tmp / "propose")]) == 0
    capsys.readouterr()
    demo, propose = tmp / "pma_lab_demo" / client, tmp / "propose"
    return {"demo": proposal_figures(demo / f"{client}_proposal.html"),
            "propose": proposal_figures(propose / f"{client}_proposal.html"),
            "dashboard": dashboard_figures(profile),
            "demo_trades": (demo / f"{client}_trades.csv").read_bytes(),
            "propose_trades": (propose / f"{client}_trades.csv").read_bytes(),
            "demo_out": demo_out, "demo_folder": demo}


def test_the_demo_proposal_reads_as_propose_and_the_dashboard(tmp_path, capsys,
                                                              monkeypatch):
    """The household sample's "Tax this year", the tax of today's trades and the tracking
    error read the same in the demo's proposal, ``pma-lab propose``'s and on the dashboard
    (it read $7,961 in the demo against $7,730 in the other two), and the demo's trade file
    is propose's, byte for byte.

    The same demo run shows that without ``--out`` the outputs go to ./pma_lab_demo in the
    current folder (issue 15: the default was a path that only made sense in the source
    tree; this was tests/test_cli.py's own demo run of the young-pro sample)."""
    monkeypatch.chdir(tmp_path)
    got = demo_propose_dashboard(CLIENT, tmp_path, capsys)
    figures = {k: got[k] for k in ("demo", "propose", "dashboard")}
    assert got["demo"] == got["propose"] == got["dashboard"], figures
    assert got["demo_trades"] == got["propose_trades"]
    # the demo's default output folder, and its console summary
    assert "1/1 proposals" in got["demo_out"]
    assert (tmp_path / "pma_lab_demo" / CLIENT / f"{CLIENT}_proposal.html").is_file()
    assert got["demo_folder"] == tmp_path / "pma_lab_demo" / CLIENT
