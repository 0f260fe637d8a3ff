"""The dashboard in a real browser: Voila + Debian's Chromium driven by Playwright.

Starts ``voila dashboard.ipynb`` from ``notebooks/`` (as ``make dashboard`` does, so
``notebooks/voila.json`` applies) on a free port on 127.0.0.1 with a preheated kernel.
Then, in Chromium, it waits for the first render (and the plan comparison, with the
proposal's plans), uploads the household's lots, ticks the fossil-fuel screen, switches
the transition plan, edits the state tax rate, downloads the trade file, uploads a
malformed file, a file named like an HTML tag (and types one as a no-buy ticker: no
script may run), a broken workbook and a 20 MB file (refused in the browser: it never
goes over the websocket), edits the state rate again and, while that edit's plan
comparison runs in its forked plan workers, switches client: the new client's trades must
not wait for it, the comparison is cancelled (its workers killed, a note on the page). No
request may leave the machine (the project's Voila template ``pma`` drops the ``lab``
template's FontAwesome links to cdn.jsdelivr.net). Every
number checked on the page is computed here with the same public API calls.

Screenshots and ``timings.json`` go to the test's ``tmp_path``; the timings are also
printed, and written to ``$PMA_DASHBOARD_TIMINGS`` when it is set
(``benchmarks/bench_dashboard.py`` runs this test that way). Timings are recorded, never
asserted: the goals are in ``GOALS`` and the JSON says whether they were met.

Without ``/usr/bin/chromium`` the test is skipped, except on CI (``CI=true``) where it
fails. Playwright's own browser download is never used.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from pma_lab.app.dashboard import DashboardSettings, TaxInputs, with_tax_inputs
from pma_lab.formatting import fmt_pct, fmt_usd
from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import bad_inputs_dir, clients_dir, repo_root
from pma_lab.plan.transition import first_trades
from pma_lab.report import proposal as report
from pma_lab.report import shelf as report_shelf

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
HOUSEHOLD = clients_dir() / "household" / "profile.toml"
HOUSEHOLD_LOTS = clients_dir() / "household" / "household_lots.csv"
BAD_SHARES = bad_inputs_dir() / "bad_negative_shares.csv"
SETTINGS = DashboardSettings.from_proposal()  # what the page uses (the proposal's)
TS = SETTINGS.transition_settings()
# issue 16: "toggle -> trades <= 0.5 s with the debounce included" (1 s here until session 23)
GOALS = {"first_render_s": 5.0, "toggle_to_trades_s": 0.5, "client_switch_to_trades_s": 2.0}
LOCAL = {"127.0.0.1", "localhost"}
PLOT = ".pma-frontier .js-plotly-plot"
FIGURE_JS = f"""() => {{
  const g = document.querySelector('{PLOT}');
  if (!g || !g._fullData) return null;
  return g._fullData.map(t => ({{name: t.name, x: Array.from(t.x || []),
                                 y: Array.from(t.y || [])}}));
}}"""


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    msg = f"{CHROMIUM} is missing (apt-get install chromium); the browser test needs it"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def _cpu_counters() -> tuple[int, int] | None:
    """(steal, total) jiffies from /proc/stat, to say how busy the machine was."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    return (f[7] if len(f) > 7 else 0), sum(f)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_cpu(procs) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # noqa: BLE001 - a process may exit while we look
            pass
    return total


def _wait_until_ready(proc: subprocess.Popen, port: int, log: Path, timeout: float = 900.0,
                      quiet: float = 1.5) -> float:
    """Wait for the port, the kernel pool and then for the preheated kernel to go idle.

    The notebook page itself is not requested: with a preheated kernel the first GET of
    the notebook takes the pooled kernel, and the page the browser then loads would have to
    wait for a fresh one.
    """
    import psutil

    t0 = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}:\n{log.read_text()}")
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"voila not ready after {timeout} s:\n{log.read_text()}")
        filled = "Kernel pool of dashboard.ipynb is filled" in log.read_text(errors="replace")
        if filled:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                pass
        time.sleep(0.2)
    me = psutil.Process(proc.pid)
    last, since = None, time.monotonic()
    while time.monotonic() - t0 < timeout:
        cpu = _tree_cpu([me, *me.children(recursive=True)])
        if last is not None and cpu - last > 0.05:
            since = time.monotonic()
        last = cpu
        if time.monotonic() - since > quiet:
            return time.monotonic() - t0
        time.sleep(0.25)
    raise TimeoutError(f"the preheated kernel did not go idle:\n{log.read_text()}")


def _stop(proc: subprocess.Popen) -> None:
    """Terminate Voila and any kernel it started (by their process ids)."""
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # Voila shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for c in children:
        try:
            if c.is_running():
                c.kill()
        except psutil.NoSuchProcess:
            pass


# ----------------------------------------------------------------------------- fixtures
def _with_categories(c, categories):
    r = dataclasses.replace(c.profile.restrictions, categories=categories)
    return dataclasses.replace(c, profile=dataclasses.replace(c.profile, restrictions=r))


@pytest.fixture(scope="module")
def api():
    """The numbers the page must show, from the public API (computed before timing)."""
    c0 = load_client(HOUSEHOLD)
    s0 = prepare(c0)
    c1 = _with_categories(load_client(HOUSEHOLD, lots_files=[HOUSEHOLD_LOTS]),
                          ("fossil_fuels",))
    s1 = prepare(c1, risk=s0.risk)
    c3 = with_tax_inputs(c1, dataclasses.replace(TaxInputs.of(c1), state_rate=0.0))
    s3 = prepare(c3, risk=s0.risk)
    fy3 = first_trades(s3, "3y", TS)
    c4 = with_tax_inputs(c1, dataclasses.replace(TaxInputs.of(c1), state_rate=0.015))
    s4 = prepare(c4, risk=s0.risk)
    fy4 = first_trades(s4, "3y", TS)
    assert fy4.summary.tax != fy3.summary.tax  # the page shows when the edit is applied
    return {
        "fy0": first_trades(s0, "budget:20000", TS),
        "fr0": report.frontier(s0, SETTINGS.frontier_points),
        "fy1": first_trades(s1, "budget:20000", TS),
        "fr1": report.frontier(s1, SETTINGS.frontier_points),
        "fy2": first_trades(s1, "3y", TS),
        "fy3": fy3,
        "hh3": report_shelf.household(s3, fy3),  # the household around those trades
        "rows3": report.custodian_trades(fy3),
        "fy4": fy4,
        "fr4": report.frontier(s4, SETTINGS.frontier_points),
    }


def _serve(folder: Path, log: Path):
    """Voila serving ``folder/dashboard.ipynb`` with the folder's voila.json (a generator:
    yields the fixture's dict, then stops Voila)."""
    _require_chromium()
    port = _free_port()
    exe = Path(sys.executable).parent / "voila"
    cmd = [str(exe), "dashboard.ipynb", "--no-browser", f"--port={port}",
           "--Voila.ip=127.0.0.1", "--preheat_kernel=True", "--pool_size=1"]
    t0 = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    try:
        ready = _wait_until_ready(proc, port, log)
        yield {"url": f"http://127.0.0.1:{port}/", "ready_s": ready, "log": log,
               "started": t0, "pid": proc.pid}
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    # run from notebooks/ as `make dashboard` does, so Voila reads notebooks/voila.json
    yield from _serve(repo_root() / "notebooks",
                      tmp_path_factory.mktemp("voila") / "voila.log")


# -------------------------------------------------------------------------------- helpers
LONG = 900_000  # ms: the plan comparison of a loaded 2-core machine


def _figure(page) -> list[dict]:
    return page.evaluate(FIGURE_JS)


def _frontier_trace(page, timeout: float = 60_000) -> dict:
    """The plotted frontier (waiting for a redrawn figure to be drawn)."""
    page.wait_for_function(f"() => ({FIGURE_JS})()?.some(t => t.name === 'frontier')",
                           timeout=timeout)
    return next(t for t in _figure(page) if t["name"] == "frontier")


def _wait_frontier_changed(page, y_before: list, timeout: float) -> None:
    """Wait until the plotted frontier (plotly's data in the DOM) differs from ``y_before``."""
    page.wait_for_function(
        """([sel, y0]) => { const g = document.querySelector(sel);
                     const f = g && g._fullData && g._fullData.find(
                         t => t.name === 'frontier');
                     return f && JSON.stringify(Array.from(f.y)) !==
                                 JSON.stringify(y0); }""",
        arg=[PLOT, y_before], timeout=timeout)


def _assert_figure_is(page, fr) -> None:
    ok = fr.table[fr.table.status.isin(["optimal", "optimal_inaccurate", "current"])]
    tr = _frontier_trace(page)
    np.testing.assert_allclose(tr["x"], 100 * ok.te.to_numpy(float), rtol=1e-6)
    np.testing.assert_allclose(tr["y"], ok.tax_economic_pct.to_numpy(float), rtol=1e-6,
                               atol=1e-6)


def _generation(page) -> int:
    return int(page.get_attribute(".pma-status-text", "data-generation"))


def _wait_ready_after(page, gen: int, timeout: float = LONG) -> None:
    page.wait_for_function(
        """(g) => { const s = document.querySelector('.pma-status-text');
                    return s && s.dataset.state === 'ready' && +s.dataset.generation > g; }""",
        arg=gen, timeout=timeout)


def _wait_text_change(page, selector: str, before: str, timeout: float = 120_000) -> None:
    page.wait_for_function(
        """([sel, b]) => { const e = document.querySelector(sel);
                           return e && e.innerText !== b; }""",
        arg=[selector, before], timeout=timeout)


def _wait_for_text(page, selector: str, text: str, exact: bool = False,
                   timeout: float = 60_000) -> None:
    page.wait_for_function(
        """([sel, text, exact]) => { const e = document.querySelector(sel);
                                     const v = e ? e.innerText : '';
                                     return exact ? v === text : v.includes(text); }""",
        arg=[selector, text, exact], timeout=timeout)


def _broken_xlsx(path: Path) -> Path:
    """A zip that claims to be a workbook but holds malformed XML."""
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<x")
        z.writestr("xl/workbook.xml", "<<")
    return path


def _upload(page, path: Path) -> None:
    with page.expect_file_chooser() as fc:
        page.click(".pma-upload")
    fc.value.set_files(str(path))


def _plan_workers(voila_pid: int, timeout: float = 300.0) -> list:
    """The plan workers forked by the page's kernel (waiting until there are some).

    The page's kernel is Voila's oldest (the preheated one the page took; the pool's
    refill is newer); its child processes are the forked plan workers
    (:func:`pma_lab.plan.transition.run_forked`).
    """
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernels = [c for c in psutil.Process(voila_pid).children()
                   if "ipykernel" in " ".join(c.cmdline())]
        if kernels:
            workers = min(kernels, key=lambda k: k.create_time()).children()
            if workers:
                return workers
        time.sleep(0.1)
    raise AssertionError(f"the page's kernel forked no plan worker in {timeout} s")


def _plans_shown(page) -> list[str]:
    return page.eval_on_selector_all(".pma-comparison-table tbody tr",
                                     "rs => rs.map(r => r.dataset.plan)")


# ---------------------------------------------------------------------------------- test
def test_dashboard_in_chromium(voila, api, tmp_path):
    from playwright.sync_api import sync_playwright

    t: dict[str, object] = {"server_ready_s": round(voila["ready_s"], 3)}
    cpu0 = _cpu_counters()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    console_errors: list[str] = []
    dialogs: list[str] = []
    sent: list[int] = []  # sizes of the websocket frames the page sends
    received: list[int] = []  # ... and receives (the widget state comes in one of them)
    requests: list[str] = []  # every URL the page asked for
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                          accept_downloads=True)
            page = context.new_page()
            page.on("console", lambda m: console_errors.append(m.text)
                    if m.type == "error" else None)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: requests.append(r.url))
            closed: list[str] = []  # websockets the page lost (it must keep its kernel's)

            def watch(ws) -> None:
                ws.on("framesent", lambda f: sent.append(
                    len(f) if isinstance(f, (str, bytes)) else 0))
                ws.on("framereceived", lambda f: received.append(
                    len(f) if isinstance(f, (str, bytes)) else 0))
                ws.on("close", lambda w: closed.append(f"{w.url} after "
                                                        f"{len(sent)} frames sent"))

            page.on("websocket", watch)

            # 1. first render: goto -> trades and frontier drawn
            t0 = time.perf_counter()
            page.goto(voila["url"])
            page.wait_for_selector(".pma-profile", timeout=120_000)
            t["first_widgets_s"] = round(time.perf_counter() - t0, 3)
            page.wait_for_selector(".pma-trades-table", timeout=120_000)
            t["first_trades_s"] = round(time.perf_counter() - t0, 3)
            page.wait_for_selector(f"{PLOT} .scatterlayer .trace", timeout=120_000)
            t["first_render_s"] = round(time.perf_counter() - t0, 3)
            page.wait_for_selector(".pma-comparison-table", timeout=LONG)
            t["first_comparison_s"] = round(time.perf_counter() - t0, 3)
            page.wait_for_selector(".pma-status-text[data-state=ready]", timeout=LONG)
            page.screenshot(path=str(shots / "01_first_render.png"), full_page=True)
            assert page.inner_text(".pma-te-value") == fmt_pct(api["fy0"].summary.te_after)
            # the account named as the proposal names it ("Account: Taxable account"), in
            # the trades line and the frontier's title, not by its id ("account taxable")
            assert page.inner_text(".pma-summary .pma-account") == "taxable account"
            assert page.text_content(f"{PLOT} .gtitle") == \
                "Tax cost against tracking error: household, taxable account"
            # the client's own plan (household: its [budgets]) and the proposal's plans
            assert page.get_attribute(".pma-plan-name", "data-plan") == "budget:20000"
            # marked as the client's own, as the proposal's "Today's trades" marks it
            assert page.inner_text(".pma-plan-name") == \
                "\u2605 Your plan: Gains budget $20,000 a year"
            # in the proposal's order: the client's own plan first, holding last
            assert SETTINGS.plans[0] == "immediate"
            assert _plans_shown(page) == ["budget:20000", *SETTINGS.plans, "hold"]
            mine = ".pma-comparison-table tbody tr[data-plan='budget:20000'] .pma-col-Plan"
            assert page.inner_text(mine) == "\u2605 Your plan: Gains budget $20,000 a year"
            assert page.locator(".pma-te-years-table tbody tr").count() == len(SETTINGS.plans) + 2
            # notebooks/voila.json applies: sources stripped, culling on, bound to loopback
            assert "from pma_lab.app.dashboard import" not in page.content()
            log = voila["log"].read_text(errors="replace")
            assert "Culling kernels with idle durations > 45 seconds" in log
            assert re.search(r"running at:\s*http://127\.0\.0\.1:\d+/", log)
            _assert_figure_is(page, api["fr0"])
            t["kernel_first_update"] = page.inner_text(".pma-status")
            # plotly's 5 MB widget code is fetched by URL from the template's static files
            # (pma_lab.app.dashboard.assets), not sent inside the widget state: the state
            # was one 5.3 MB frame the page had to receive and parse before any widget
            t["largest_frame_received"] = max(received or [0])
            assert t["largest_frame_received"] < 1_000_000, t["largest_frame_received"]
            assert any(urlsplit(u).path == "/voila/templates/pma/static/plotly-widget.js"
                       for u in requests), "plotly's bundle was not fetched by URL"

            # 2. upload the household's lots (validated with the household profile)
            t0 = time.perf_counter()
            _upload(page, HOUSEHOLD_LOTS)
            _wait_for_text(page, ".pma-lots-source", "household_lots.csv (uploaded)", True)
            t["upload_s"] = round(time.perf_counter() - t0, 3)
            assert page.inner_text(".pma-lot-count") == "60"
            assert page.locator(".pma-error-panel").count() == 0

            # 3. tick a category screen: trades, frontier and comparison change
            gen = _generation(page)
            trades_before = page.inner_text(".pma-trades")
            y_before = _frontier_trace(page)["y"]
            t0 = time.perf_counter()
            page.click(".pma-category-fossil_fuels input")
            _wait_text_change(page, ".pma-trades", trades_before, timeout=300_000)
            t["toggle_to_trades_s"] = round(time.perf_counter() - t0, 3)
            _wait_ready_after(page, gen)
            t["toggle_to_ready_s"] = round(time.perf_counter() - t0, 3)
            t["kernel_toggle_update"] = page.inner_text(".pma-status")
            page.screenshot(path=str(shots / "02_fossil_fuels.png"), full_page=True)
            assert page.is_checked(".pma-category-fossil_fuels input")
            assert page.get_attribute(".pma-status-text", "data-scheduler") == "asyncio"
            fy1 = api["fy1"]
            rows1 = report.custodian_trades(fy1)
            assert page.inner_text(".pma-te-value") == fmt_pct(fy1.summary.te_after)
            assert page.inner_text(".pma-te-before") == fmt_pct(fy1.summary.te_before)
            assert page.inner_text(".pma-tax-value") == fmt_usd(fy1.summary.tax)
            assert page.inner_text(".pma-trade-count") == str(len(rows1))
            # the frontier plotted on the page (plotly's data in the DOM) is the new one:
            # it used to stay the old one after this toggle (issue 10: plotly's edit message
            # was followed at once by a None the front end read instead; FrontierFigure)
            _wait_frontier_changed(page, y_before, timeout=60_000)
            _assert_figure_is(page, api["fr1"])
            assert page.locator(PLOT).count() == 1
            # each trade with its lot, term and estimated gain, as the proposal lists it
            first = rows1.iloc[0]
            first_row = page.locator(".pma-trades-table tbody tr").first
            assert first_row.get_attribute("data-lot") == first["Lot ID"]
            assert first_row.locator(".pma-col-term").inner_text() == first.Term
            assert first_row.locator(".pma-col-est--gain").inner_text() == \
                fmt_usd(first["Est. Gain"])

            # 4. switch the plan: budget -> over 3 years (one of the proposal's plans: the
            #    comparison is the same run, only the chosen row moves)
            gen = _generation(page)
            trades_before = page.inner_text(".pma-trades")
            t0 = time.perf_counter()
            page.click(".pma-mode button:has-text('Over years')")
            _wait_text_change(page, ".pma-trades", trades_before, timeout=300_000)
            t["mode_to_trades_s"] = round(time.perf_counter() - t0, 3)
            page.wait_for_selector(".pma-comparison tr.pma-chosen[data-plan='3y']",
                                   timeout=LONG)
            t["mode_to_comparison_s"] = round(time.perf_counter() - t0, 3)
            _wait_ready_after(page, gen)
            assert "transition" in page.get_attribute(".pma-status-text", "data-cached")
            page.screenshot(path=str(shots / "03_timeline.png"), full_page=True)
            assert page.get_attribute(".pma-plan", "data-plan") == "3y"
            assert page.is_visible(".pma-years") and not page.is_visible(".pma-budget")
            assert page.inner_text(".pma-te-value") == fmt_pct(api["fy2"].summary.te_after)

            # 5. edit a tax input: no state tax -> the trades follow
            trades_before = page.inner_text(".pma-trades")
            t0 = time.perf_counter()
            page.fill(".pma-state-rate input", "0")
            page.press(".pma-state-rate input", "Enter")
            _wait_for_text(page, ".pma-tax-value", fmt_usd(api["fy3"].summary.tax), True,
                           timeout=300_000)
            t["tax_edit_to_trades_s"] = round(time.perf_counter() - t0, 3)
            assert page.inner_text(".pma-trade-count") == str(len(api["rows3"]))
            assert "(edited; the profile is unchanged)" in page.inner_text(".pma-tax-note")
            page.screenshot(path=str(shots / "04_tax_edit.png"), full_page=True)

            # 6. download the trade file: report.export_trades of the trades on screen and
            #    of the household's other accounts traded around them (every account's)
            with page.expect_download(timeout=60_000) as dl:
                page.click(".pma-export-csv")
            got = Path(dl.value.path()).read_bytes()
            assert dl.value.suggested_filename == "household_trades.csv"
            report.export_trades(api["fy3"], tmp_path / "want.csv", None, api["hh3"])
            assert b"\nira," in got  # the Traditional IRA's orders follow the taxable's
            assert got == (tmp_path / "want.csv").read_bytes()
            # the note is a widget update sent after the file: wait for it, not race it
            page.wait_for_function(
                "() => document.querySelector('.pma-export-note').innerHTML"
                ".includes('pma-export')", timeout=60_000)

            # 7. a malformed file: the red panel names the row and the column
            t0 = time.perf_counter()
            _upload(page, BAD_SHARES)
            page.wait_for_selector(".pma-error-panel", timeout=60_000)
            t["bad_upload_to_panel_s"] = round(time.perf_counter() - t0, 3)
            page.screenshot(path=str(shots / "05_bad_upload.png"), full_page=True)
            issue = page.locator(
                ".pma-error-panel .pma-issue[data-code='non_positive_shares']"
                "[data-row='3'][data-column='shares']")
            assert issue.count() == 1
            assert issue.locator(".pma-issue-where").inner_text() == \
                "bad_negative_shares.csv, row 3, column shares, value -40"
            assert "shares must be greater than zero" in \
                issue.locator(".pma-issue-message").inner_text()
            assert page.is_visible(".pma-error-panel .pma-issue-fix")
            panel = page.inner_text(".pma-error-panel")
            assert "nothing was loaded" in panel and "pma-upload-" not in panel
            assert "/tmp" not in panel
            # the proposal on screen is still the last good one
            assert page.inner_text(".pma-tax-value") == fmt_usd(api["fy3"].summary.tax)

            # 8. a file named like an HTML tag, and a no-buy entry that is one: shown as
            #    text, no script runs
            evil = tmp_path / "<img src=x onerror=alert(document.domain)>.csv"
            shutil.copy(HOUSEHOLD_LOTS, evil)
            _upload(page, evil)
            _wait_for_text(page, ".pma-lots-source", f"{evil.name} (uploaded)", True)
            no_buy = page.input_value(".pma-no-buy input")
            page.fill(".pma-no-buy input", "<img/src=y/onerror=alert(2)>")
            page.press(".pma-no-buy input", "Enter")
            page.wait_for_selector(".pma-unknown-tickers", timeout=60_000)
            assert "<img/src=y/onerror=alert(2)>" in page.inner_text(".pma-unknown-tickers")
            assert page.locator("img[src='x'], img[src='y']").count() == 0
            page.fill(".pma-no-buy input", no_buy)  # back to the profile's list
            page.press(".pma-no-buy input", "Enter")

            # 9. a broken workbook: the panel names the file, the proposal is kept
            te_shown = page.inner_text(".pma-te-value")
            _upload(page, _broken_xlsx(tmp_path / "broken.xlsx"))
            _wait_for_text(page, ".pma-error-panel", "broken.xlsx: 1 problem found")
            assert page.inner_text(".pma-te-value") == te_shown

            # 10. 20 MB, over the limit: refused in the browser, only its name and size are
            #     sent, and the page keeps working (the websocket is not dropped)
            big = tmp_path / "too_big_lots.csv"
            line = HOUSEHOLD_LOTS.read_text().splitlines()[1] + "\n"
            big.write_text(HOUSEHOLD_LOTS.read_text() + line * (20_000_000 // len(line)))
            sent.clear()
            _upload(page, big)
            _wait_for_text(page, ".pma-error-panel", "too_big_lots.csv was not loaded")
            assert "it is 19." in page.inner_text(".pma-error-panel")
            assert "the limit is 4.8 MB" in page.inner_text(".pma-error-panel")
            assert sent and max(sent) < 100_000, max(sent or [0])

            # 11. switch client while the household's update (a tax edit's: a state rate
            #     of 1.5 %) is still at its shelf sections and plan comparison, once its
            #     trades and frontier are drawn: the retiree's own plan (5 years) and its
            #     trades, without waiting for the household's comparison. First the
            #     state-rate edit of step 5 is on screen in full: under load its frontier
            #     could arrive after y_before was read, and the wait below took it for the
            #     1.5 % edit's (seen twice at load 15-18: the plotted frontier was step 5's)
            page.wait_for_selector(".pma-status-text[data-state=ready]", timeout=LONG)
            y_before = _frontier_trace(page)["y"]
            page.fill(".pma-state-rate input", "1.5")
            page.press(".pma-state-rate input", "Enter")
            _wait_for_text(page, ".pma-tax-value", fmt_usd(api["fy4"].summary.tax), True,
                           timeout=300_000)
            _wait_frontier_changed(page, y_before, timeout=300_000)
            _assert_figure_is(page, api["fr4"])
            # the household's plan comparison has started, in its forked plan workers
            page.wait_for_selector(".pma-status-text[data-comparing='household']",
                                   timeout=300_000)
            workers = _plan_workers(voila["pid"])
            t["switch_while_busy"] = page.get_attribute(".pma-status-text",
                                                        "data-state") == "busy"
            trades_before = page.inner_text(".pma-trades")
            t0 = time.perf_counter()
            page.select_option(".pma-profile select", label="retiree")
            _wait_text_change(page, ".pma-trades", trades_before, timeout=300_000)
            page.wait_for_selector(".pma-plan-name[data-plan='5y']", timeout=300_000)
            t["client_switch_to_trades_s"] = round(time.perf_counter() - t0, 3)
            # the household's comparison was cancelled: the page says so, and its plan
            # workers were killed (they used to run on to the end, ~10 s, slowing the
            # retiree's set-up, trades and comparison)
            page.wait_for_selector(".pma-comparison-stopped[data-client='household']",
                                   timeout=60_000)
            assert "Stopped comparing the plans for household (another client was chosen)" \
                in page.inner_text(".pma-status-note")
            page.screenshot(path=str(shots / "06_switch_note.png"), full_page=True)
            import psutil

            _, alive = psutil.wait_procs(workers, timeout=10)
            t["household_workers_alive_after_switch"] = len(alive)
            assert not alive, [w.pid for w in alive]
            page.wait_for_selector(".pma-status-text[data-state=ready]", timeout=LONG)
            t["client_switch_to_ready_s"] = round(time.perf_counter() - t0, 3)
            page.screenshot(path=str(shots / "07_retiree.png"), full_page=True)
            assert page.inner_text(".pma-status-note") == ""  # the page is complete again

            assert dialogs == []  # no alert() from any of the names above
            assert not [c for c in closed if "/channels" in c], closed
            # nothing was fetched from outside this machine (no CDN: fonts, styles, code)
            remote = sorted({u for u in requests
                             if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                             and urlsplit(u).hostname not in LOCAL})
            # (Voila's lab template links FontAwesome on cdn.jsdelivr.net; the dashboard's
            # template "pma" drops the links, Voila's own bundle has the same fonts)
            t["remote_requests"] = remote
            t["fontawesome_faces"] = page.evaluate(
                "() => [...document.fonts].filter(f => /Font Awesome/.test(f.family)).length")
            assert remote == [], remote
            assert "/voila/templates/pma/static/" in page.content()
        except Exception as e:  # say what the server and the page saw, then fail
            tail = "\n".join(voila["log"].read_text(errors="replace").splitlines()[-15:])
            page.screenshot(path=str(shots / "failure.png"), full_page=True)
            status = page.inner_text(".pma-status") if page.locator(".pma-status").count() \
                else ""
            raise AssertionError(f"{e}\nstatus: {status}\nwebsockets closed: {closed}; "
                                 f"largest frame sent: {max(sent or [0])} bytes\n"
                                 f"timings so far: {t}\nvoila log:\n{tail}") from e
        finally:
            browser.close()

    cpu1 = _cpu_counters()
    if cpu0 and cpu1 and cpu1[1] > cpu0[1]:
        # share of CPU time the hypervisor gave to others while the browser test ran
        t["cpu_steal_pct"] = round(100 * (cpu1[0] - cpu0[0]) / (cpu1[1] - cpu0[1]), 1)
    t["load_avg_1m"] = round(os.getloadavg()[0], 2)
    t["cpus"] = os.cpu_count()
    t["goals"] = GOALS
    t["goals_met"] = {k: float(t[k]) <= v for k, v in GOALS.items()}
    t["screenshots"] = sorted(str(p) for p in shots.iterdir())
    t["console_errors"] = console_errors[:10]
    text = json.dumps(t, indent=2)
    (tmp_path / "timings.json").write_text(text)
    if os.environ.get("PMA_DASHBOARD_TIMINGS"):
        Path(os.environ["PMA_DASHBOARD_TIMINGS"]).write_text(text)
    print(json.dumps(t))
    print(f"timings written to {tmp_path / 'timings.json'}")


# ------------------------------------------------------------ a plan that cannot be completed
WITHDRAWAL = ":flow=-120000"
FAILING_PLAN = "budget:0" + WITHDRAWAL
FAILING_ARGS = {"plans": ("3y" + WITHDRAWAL,), "horizon_years": 3, "mc_paths": 0,
                "frontier_points": 3}
"""The page's settings: the proposal's, with every plan withdrawing $120,000 a year."""


def _failing_dashboard(folder: Path) -> Path:
    """notebooks/dashboard.ipynb (with its voila.json and voila.py) in ``folder``, serving
    one client whose own plan cannot be completed.

    The client is young-pro with a $0 gains budget as its own plan
    (``test_cli._young_pro_budget0``). The dashboard has no input for a withdrawal, so
    the page's settings give every plan compared one of $120,000 a year over 3 years
    (quarterly steps, as the proposal) and the planner's plan reaches the view with it;
    everything else is the notebook's own wiring.
    """
    from test_cli import _young_pro_budget0

    nb_dir = repo_root() / "notebooks"
    for name in ("voila.json", "voila.py"):
        shutil.copy(nb_dir / name, folder / name)
    clients = folder / "clients"
    _young_pro_budget0(clients / "young-pro-budget0")
    nb = json.loads((nb_dir / "dashboard.ipynb").read_text())
    swaps = {
        'dash = build_dashboard(selected="household", debounce=0.1, prefetch=True)':
            "from pma_lab.app.dashboard import DashboardSettings\n"
            f'dash = build_dashboard("young-pro-budget0", folder={str(clients)!r}, '
            f"settings=DashboardSettings.from_proposal(**{FAILING_ARGS!r}), debounce=0.1, "
            f"prefetch=False, plan_text=lambda p: p + {WITHDRAWAL!r})",
    }
    for old, new in swaps.items():
        cells = [c for c in nb["cells"] if old in "".join(c["source"])]
        assert len(cells) == 1, f"dashboard.ipynb no longer has {old!r}"
        cells[0]["source"] = "".join(cells[0]["source"]).replace(old, new)
    (folder / "dashboard.ipynb").write_text(json.dumps(nb))
    return clients / "young-pro-budget0" / "profile.toml"


@pytest.fixture(scope="module")
def voila_failing(tmp_path_factory):
    folder = tmp_path_factory.mktemp("voila-failing")
    profile = _failing_dashboard(folder)
    for served in _serve(folder, folder / "voila.log"):
        yield {**served, "profile": profile}


def test_a_plan_that_cannot_be_completed_in_chromium(voila_failing, tmp_path):
    """Session 13 left the dashboard without a browser test of a failed plan, and its
    first-year summary without the proposal's warning. The page must say what the
    proposal says: over today's trades, :data:`report.TRADES_WARNING` with the reason in
    plain words, word for word; the plan's row of each plan table shows no figures and
    the same reason; today's trades keep their figures (the proposal lists them too); no
    "Tax this year" sentence for the plan; no engine word (constraint groups)."""
    from playwright.sync_api import sync_playwright

    from pma_lab.app.dashboard import ProposalEngine
    from pma_lab.plan.transition import run_transition

    settings = DashboardSettings.from_proposal(**FAILING_ARGS)
    setup = prepare(load_client(voila_failing["profile"]))
    an = run_transition(setup, settings.plan_list(FAILING_PLAN),
                        settings.transition_settings())
    row = an.comparison.set_index("plan").loc[FAILING_PLAN]
    assert row.failed and row.is_client_plan  # the scenario still fails
    warning = report.trades_warning(an)
    assert warning.startswith("Warning: these trades start Gains budget $0 a year, which "
                              "could not be completed: on 2028-07-31")
    why = row.failed_why[:1].lower() + row.failed_why[1:]
    fy, _ = ProposalEngine(settings).first_year(setup.client, setup, FAILING_PLAN)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(voila_failing["url"])
            page.wait_for_selector(".pma-trades-table", timeout=300_000)
            page.wait_for_selector(".pma-comparison-table", timeout=LONG)
            page.wait_for_selector(".pma-status-text[data-state=ready]", timeout=LONG)
            page.screenshot(path=str(tmp_path / "failed_plan.png"), full_page=True)
            assert page.get_attribute(".pma-plan-name", "data-plan") == FAILING_PLAN
            # the proposal's warning, word for word, above the trades' line
            assert page.inner_text(".pma-first-year-summary .pma-trades-warning") == warning
            summary = page.inner_text(".pma-first-year-summary")
            assert summary.index(warning) < summary.index("trades today in the")
            assert page.inner_text(".pma-tax-value") == fmt_usd(fy.summary.tax)
            # the plan's rows: no figures, the reason in the note
            for table in (".pma-comparison-table", ".pma-te-years-table"):
                cells = page.eval_on_selector_all(
                    f"{table} tbody tr[data-plan='{FAILING_PLAN}'] td",
                    "ts => ts.map(t => [t.className, t.innerText])")
                figures = [v for k, v in cells
                           if k not in ("pma-col-Plan", "pma-col-note", "pma-col-te_start")]
                assert figures and set(figures) == {report.MISSING}, cells
                note = dict(cells)["pma-col-note"]
                assert note == f"Could not be completed, so no figures are shown: {why}"
            assert page.locator(".pma-tax-year-note").count() == 0
            text = page.inner_text(".pma-proposal-view")
            # the frontier's client sentence on the budgets it leaves out is not jargon
            # (frontier.DROPPED_BUDGETS, session 23): the engine's group name alone is
            text = text.replace("gains budgets", "").replace("the budgets allow", "")
            for jargon in ("budgets", "constraint group", "RebalanceSettings", "step 4"):
                assert jargon not in text, jargon
        finally:
            browser.close()
