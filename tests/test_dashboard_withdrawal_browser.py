"""The dashboard's withdrawal input in a real browser (session 16).

Voila + Debian's Chromium (Playwright), started as ``tests/test_dashboard_browser.py``
does (its fixture: ``notebooks/dashboard.ipynb`` as ``make dashboard`` serves it, the
household client first). In the planner's "Withdraw $/yr" box the advisor types a bad
amount, then a date other than today (each refused, with the error on the page and the
plan unchanged), then $25,000: the chosen plan becomes ``budget:20000:flow=-25000`` and
today's trades on the page are the public API's :func:`first_trades` of that plan (the
trades ``pma-lab propose --plans budget:20000:flow=-25000`` writes: the client's own plan
with the plans' withdrawal). ``tests/test_dashboard_withdrawal.py`` checks the plan
comparison against ``pma-lab transition``.

Without ``/usr/bin/chromium`` the test is skipped, except on CI (``CI=true``) where it
fails. Playwright's own browser download is never used.
"""

from __future__ import annotations

import pytest
import test_dashboard_browser
from test_dashboard_browser import CHROMIUM, FLAGS, HOUSEHOLD, LONG, TS, _wait_for_text

from pma_lab.formatting import fmt_pct, fmt_usd
from pma_lab.io.client import load_client
from pma_lab.optimize.engine import prepare
from pma_lab.plan.transition import first_trades
from pma_lab.report import proposal as report

pytestmark = pytest.mark.slow

voila = test_dashboard_browser.voila
"""Voila serving notebooks/dashboard.ipynb, one per module: the browser test's own fixture."""

PLAN = "budget:20000:flow=-25000"


def _type(page, selector: str, text: str) -> None:
    """Type into an ipywidgets Text box and commit it (continuous_update=False: Enter)."""
    box = page.locator(f"{selector} input")
    box.fill(text)
    box.press("Enter")


def test_a_withdrawal_typed_in_the_browser(voila, tmp_path):
    from playwright.sync_api import sync_playwright

    fy = first_trades(prepare(load_client(HOUSEHOLD)), PLAN, TS)
    rows = report.custodian_trades(fy)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(voila["url"])
            page.wait_for_selector(".pma-trades-table", timeout=300_000)
            page.wait_for_selector(".pma-plan-name[data-plan='budget:20000']",
                                   timeout=120_000)
            # a bad amount: refused, said on the page, the plan unchanged
            _type(page, ".pma-withdrawal", "25,00")
            _wait_for_text(page, ".pma-withdrawal-error", "is not a dollar amount")
            assert "not applied" in page.inner_text(".pma-withdrawal-error")
            assert page.get_attribute(".pma-plan", "data-plan") == "budget:20000"
            _type(page, ".pma-withdrawal", "-25000")
            _wait_for_text(page, ".pma-withdrawal-error", "as a positive amount")
            # a date other than today: refused too
            _type(page, ".pma-withdrawal", "25000")
            _type(page, ".pma-withdrawal-when", "2027-03-01")
            _wait_for_text(page, ".pma-withdrawal-error",
                           "a plan pays its withdrawal at the start of every plan year")
            page.screenshot(path=str(tmp_path / "refused.png"), full_page=True)
            assert page.get_attribute(".pma-plan", "data-plan") in ("budget:20000", PLAN)
            _type(page, ".pma-withdrawal-when", "today")
            page.wait_for_function(  # the error goes once "today" reaches the kernel
                "() => (document.querySelector('.pma-withdrawal-error')?.innerText ?? 'x')"
                ".trim() === ''", timeout=60_000)
            page.wait_for_selector(f".pma-plan[data-plan='{PLAN}']", timeout=60_000)
            assert "Withdraws $25,000 at the start of every plan year" in \
                page.inner_text(".pma-plan-text")
            # today's trades: the plan's first step with the withdrawal, the API's figures
            page.wait_for_selector(f".pma-plan-name[data-plan='{PLAN}']", timeout=LONG)
            assert page.inner_text(".pma-plan-name") == \
                "\u2605 Your plan, with this withdrawal: Gains budget $20,000 a year"
            _wait_for_text(page, ".pma-tax-value", fmt_usd(fy.summary.tax), True)
            assert page.inner_text(".pma-trade-count") == str(len(rows))
            assert page.inner_text(".pma-realized-st") == fmt_usd(fy.summary.realized_st)
            assert page.inner_text(".pma-realized-lt") == fmt_usd(fy.summary.realized_lt)
            assert page.inner_text(".pma-te-value") == fmt_pct(fy.summary.te_after)
            page.screenshot(path=str(tmp_path / "withdrawing.png"), full_page=True)
        finally:
            browser.close()
