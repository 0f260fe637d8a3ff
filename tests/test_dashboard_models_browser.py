"""The dashboard's model files in a real browser (issue 15): Voila + Debian's Chromium.

Starts ``voila dashboard.ipynb`` from ``notebooks/`` as ``tests/test_dashboard_browser.py``
does (its helpers; ``notebooks/voila.json`` applies, preheated kernel), then in Chromium:
the first page names the packaged models in the proposal's "Models used" table; a good
benchmark weights file is uploaded (the file picker, the bytes over the websocket) and the
page's trades and table follow it, with the numbers of ``prepare(client,
benchmark=...)``; a bad file, named like an HTML tag, shows its row, column and fix as
text (no script runs) and leaves the proposal and its models as they were; "Use the
packaged models" goes back. Timings are printed, never asserted.

Without ``/usr/bin/chromium`` the test is skipped, except on CI (``CI=true``) where it
fails. Playwright's own browser download is never used.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import test_dashboard_browser
from test_dashboard_browser import (  # the same Voila start-up and browser flags
    CHROMIUM,
    FLAGS,
    _wait_for_text,
)

from pma_lab.app.dashboard import DashboardSettings, ModelUpload, read_model_uploads
from pma_lab.formatting import fmt_pct, fmt_usd
from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.paths import clients_dir
from pma_lab.plan.transition import first_trades

pytestmark = pytest.mark.slow

HOUSEHOLD = clients_dir() / "household" / "profile.toml"
TS = DashboardSettings.from_proposal().transition_settings()  # what the page uses
NAMES = ("AAPL MSFT AMZN GOOGL META NVDA JPM JNJ V PG XOM HD MA PFE KO PEP CSCO INTC WMT "
         "LLY").split()
GOOD = ("ticker,weight\n" + "".join(f"{t},0.05\n" for t in NAMES)).encode()
BAD = GOOD.replace(b"JPM,0.05", b"JPMX,0.05")  # row 8: a ticker pma_lab does not know
PLAN = "budget:20000"  # the household's own plan (its [budgets]), the page's first


@pytest.fixture(scope="module")
def api():
    """The numbers the page must show, from the public API."""
    c = load_client(HOUSEHOLD)
    s0 = prepare(c)
    own = read_model_uploads([ModelUpload("benchmark", "bench_20.csv", GOOD)], c,
                             covered=s0.risk.tickers)
    s1 = prepare(c, risk=s0.risk, benchmark=own.files.benchmark)
    fy0, fy1 = first_trades(s0, PLAN, TS), first_trades(s1, PLAN, TS)
    assert fmt_pct(fy0.summary.te_after) != fmt_pct(fy1.summary.te_after) or \
        fmt_usd(fy0.summary.tax) != fmt_usd(fy1.summary.tax)  # the page shows the change
    return {"fy0": fy0, "fy1": fy1}


voila = test_dashboard_browser.voila
"""Voila serving notebooks/dashboard.ipynb, one per module: the browser test's own fixture."""


def _upload(page, kind: str, path: Path) -> None:
    with page.expect_file_chooser() as fc:
        page.click(f".pma-model-upload-{kind}")
    fc.value.set_files(str(path))


def _ready(page) -> None:
    page.wait_for_selector(".pma-status-text[data-state=ready]", timeout=900_000)


def test_model_files_in_chromium(voila, api, tmp_path):
    from playwright.sync_api import sync_playwright

    t: dict[str, object] = {"server_ready_s": round(voila["ready_s"], 3)}
    good = tmp_path / "bench_20.csv"
    good.write_bytes(GOOD)
    evil = tmp_path / "<img src=x onerror=alert(document.domain)>.csv"
    evil.write_bytes(BAD)
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(voila["url"])
            page.wait_for_selector(".pma-models-used table", timeout=120_000)
            used = ".pma-models-used"
            # 1. the packaged models, worded as the proposal words them
            assert "Models used in this proposal" in page.inner_text(used)
            assert "Our factor model of" in page.inner_text(used)
            assert "The S&P 500, cap-weighted from market data" in page.inner_text(used)
            assert page.inner_text(".pma-te-value") == fmt_pct(api["fy0"].summary.te_after)
            assert page.is_disabled(".pma-reset-models")
            _ready(page)

            # 2. a good benchmark file: the client is prepared with it
            t0 = time.perf_counter()
            _upload(page, "benchmark", good)
            _wait_for_text(page, used, "Your benchmark weights, bench_20.csv (20 stocks)",
                           timeout=300_000)
            t["good_upload_to_models_used_s"] = round(time.perf_counter() - t0, 3)
            _wait_for_text(page, ".pma-te-value", fmt_pct(api["fy1"].summary.te_after), True,
                           timeout=300_000)
            _wait_for_text(page, ".pma-tax-value", fmt_usd(api["fy1"].summary.tax), True)
            assert page.get_attribute(".pma-model-source[data-kind=benchmark]",
                                      "data-file") == "bench_20.csv"
            assert page.locator(".pma-models-panel .pma-error-panel").count() == 0
            _ready(page)
            t["good_upload_to_ready_s"] = round(time.perf_counter() - t0, 3)
            # the plan comparison tracks the file's benchmark (its caption names it)
            assert "bench_20" in page.inner_text(".pma-te-years-table caption")

            # 3. a bad file named like an HTML tag: its row, column and fix, as text
            te, tax = page.inner_text(".pma-te-value"), page.inner_text(".pma-tax-value")
            t0 = time.perf_counter()
            _upload(page, "benchmark", evil)
            page.wait_for_selector(".pma-models-panel .pma-error-panel", timeout=60_000)
            t["bad_upload_to_panel_s"] = round(time.perf_counter() - t0, 3)
            page.screenshot(path=str(tmp_path / "bad_model_file.png"), full_page=True)
            issue = page.locator(".pma-models-panel .pma-issue[data-code='unknown_ticker']"
                                 "[data-row='8'][data-column='ticker']")
            assert issue.count() == 1
            assert issue.locator(".pma-issue-where").inner_text() == \
                f"{evil.name}, row 8, column ticker, value JPMX"
            assert issue.locator(".pma-issue-fix").inner_text().startswith(
                "check the symbol")
            panel = page.inner_text(".pma-models-panel")
            assert "nothing was loaded" in panel and "still uses bench_20.csv" in panel
            assert "/tmp" not in panel and "pma-models-" not in panel
            assert page.locator("img[src='x']").count() == 0 and dialogs == []
            # the previous state is intact: the models, the trades, the table
            assert "Your benchmark weights, bench_20.csv" in page.inner_text(used)
            assert (page.inner_text(".pma-te-value"), page.inner_text(".pma-tax-value")) \
                == (te, tax)
            assert page.get_attribute(".pma-model-source[data-kind=benchmark]",
                                      "data-file") == "bench_20.csv"

            # 4. back to the packaged models (their results come from the cache)
            t0 = time.perf_counter()
            page.click(".pma-reset-models")
            _wait_for_text(page, ".pma-te-value", fmt_pct(api["fy0"].summary.te_after), True,
                           timeout=300_000)
            t["reset_to_trades_s"] = round(time.perf_counter() - t0, 3)
            _wait_for_text(page, used, "The S&P 500, cap-weighted from market data",
                           timeout=60_000)
            assert "Your benchmark" not in page.inner_text(used)
            assert page.get_attribute(".pma-model-source[data-kind=benchmark]",
                                      "data-file") == ""
            assert page.inner_text(".pma-models-panel") == ""
        except Exception as e:  # say what the server and the page saw, then fail
            tail = "\n".join(voila["log"].read_text(errors="replace").splitlines()[-15:])
            if page is not None:
                page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise AssertionError(f"{e}\ntimings so far: {t}\nvoila log:\n{tail}") from e
        finally:
            browser.close()
    t["load_avg_1m"] = round(os.getloadavg()[0], 2)
    (tmp_path / "timings.json").write_text(json.dumps(t, indent=2))
    print(json.dumps(t))
