"""The dashboard's input labels in a real browser: every one is read in full (issue 14).

Voila + Debian's Chromium (Playwright), started as ``tests/test_dashboard_browser.py``
does (its fixture: ``notebooks/voila.json`` applies, preheated kernel). In the 400 px
column of inputs, every label (an ipywidgets description: "Taxable income $", "Gains
budget $/yr", "Taxable account cash $", ...) must show its whole text: its box is at least
as wide as the text (``scrollWidth <= clientWidth``; a label cut short ends in an ellipsis), and
every input stays inside the column. On main the tax editor's labels were 110 px wide, so
"Taxable income $" read "Taxable incom…" and "Gains budget $/yr" read "Gains budget …";
the lots upload button, 148 px, read "Upload tax lots (CS…". Buttons are checked too.

Without ``/usr/bin/chromium`` the test is skipped, except on CI (``CI=true``) where it
fails. Playwright's own browser download is never used.
"""

from __future__ import annotations

import json

import pytest
import test_dashboard_browser
from test_dashboard_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.slow

voila = test_dashboard_browser.voila
"""Voila serving notebooks/dashboard.ipynb, one per module: the browser test's own fixture."""

LABELS_JS = """() => {
  const column = document.querySelector('.pma-controls');
  if (!column) return null;
  const box = column.getBoundingClientRect();
  const out = [];
  for (const e of column.querySelectorAll('.widget-label, button')) {
    if (!e.offsetParent || !e.textContent.trim()) continue;  // hidden or empty
    const w = e.closest('.widget-inline-hbox') || e;
    const r = w.getBoundingClientRect();
    out.push({text: e.textContent.trim(), scroll: e.scrollWidth, client: e.clientWidth,
              left: r.left - box.left, right: box.right - r.right});
  }
  return {width: box.width, labels: out};
}"""


def test_every_input_label_is_shown_in_full(voila, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(voila["url"])
            # the tax editor fills its fields (and its cash rows) from the client's profile
            page.wait_for_selector(".pma-tax-editor .pma-cash", timeout=300_000)
            page.wait_for_selector(".pma-transition-planner .pma-budget", timeout=60_000)
            found = page.evaluate(LABELS_JS)
            page.screenshot(path=str(tmp_path / "controls.png"), full_page=True)
        finally:
            browser.close()
    assert found is not None, "the column of inputs (.pma-controls) is not on the page"
    (tmp_path / "labels.json").write_text(json.dumps(found, indent=1))
    assert found["width"] == pytest.approx(400, abs=1)
    texts = {lab["text"] for lab in found["labels"]}
    for want in ("Client", "Filing status", "Taxable income $", "State rate %",
                 "Gains budget $/yr", "short-term $/yr", "long-term $/yr", "Transition",
                 "Budget $/yr"):  # the household's own plan is a budget: no "Years" shown
        assert want in texts, (want, sorted(texts))
    # each account's cash, the account named as the proposal names it (household: its
    # taxable account and its IRA, of no stated kind), never by its id ("Cash ira $")
    assert "Taxable account cash $" in texts, sorted(texts)
    cash = [lab["text"] for lab in found["labels"] if lab["text"].endswith(" cash $")]
    assert cash == ["Taxable account cash $", "IRA cash $"], sorted(texts)
    assert "Upload tax lots (CSV or XLSX)" in texts  # a button: cut to "Upload tax lots (CS…"
    cut = [lab for lab in found["labels"] if lab["scroll"] > lab["client"]]
    assert not cut, f"labels cut short: {cut}"
    outside = [lab for lab in found["labels"] if lab["left"] < -0.5 or lab["right"] < -0.5]
    assert not outside, f"inputs beyond the 400 px column: {outside}"
