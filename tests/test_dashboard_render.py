"""The dashboard's HTML pieces (:mod:`pma_lab.app.dashboard.render`) against the proposal's."""

from __future__ import annotations

import html
import math
import re

import pandas as pd

from pma_lab.app.dashboard.render import trades_table
from pma_lab.report import proposal as report


def test_trades_table_cells_are_the_proposals():
    """Reviewer 1, session 22: "Cost per Share" read 45.120000000000005 (no $) in the
    dashboard's "Trades today" while the proposal's trade list read $45.12."""
    rows = [("joint", "KO", "SELL", 25.5, "joint_positions:14", 62.3456, 1589.81, "Long",
             438.75, "Market", "Day", "no", "2020-01-02", 45.120000000000005,
             "2020-01-02", 45.120000000000005),
            ("joint", "MSFT", "SELL", 3.0, "L2", 410.0, 1230.0, "Short", -12.49,
             "Market", "Day", "no", "2026-03-02", 400.83000000000004, "2026-03-02",
             400.83000000000004),
            ("joint", "FIS", "BUY", 10.0, "", 70.0, 700.0, "", math.nan, "Market", "Day",
             "no", "", math.nan, "", math.nan)]
    frame = pd.DataFrame(rows, columns=list(report.CUSTODIAN_COLUMNS))
    page = trades_table(frame)
    cells = [[html.unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", tr)]
             for tr in re.findall(r"<tr data-ticker.*?</tr>", page)]
    # every lot's record is its tax pair: the recorded columns are in the data only, as
    # the proposal's trade list hides them (session 25)
    want = report.ReportTable(frame, dict(report.TRADE_FORMATS), "", name="trades",
                              machine=True, hidden=report.RECORDED_COLUMNS).formatted()
    assert "as recorded" not in page
    assert cells == [list(r) for r in want.itertuples(index=False)]
    cost = list(frame.columns).index("Cost per Share")
    assert [r[cost] for r in cells[:2]] == ["$45.12", "$400.83"]
    assert "45.120000000000005" not in page


def test_a_gift_lots_record_is_shown_beside_its_tax_cells_as_in_the_proposal():
    """Reviewers, session 25: a gift lot sold at a loss from the FMV at the gift reads
    Form 8949's date and cost per share (the gift's day, the FMV); the custodian's record
    (the donor's) is shown beside them with the proposal's note, formatted alike."""
    rows = [("taxable", "PYPL", "SELL", 60.0, "g1", 57.21, 3432.6, "Short-term", -767.4,
             "Market", "Day", "no", "2025-10-01", 70.0, "2021-07-23", 305.88),
            ("taxable", "FIS", "BUY", 10.0, "", 70.0, 700.0, "", math.nan, "Market", "Day",
             "no", "", math.nan, "", math.nan)]
    frame = pd.DataFrame(rows, columns=list(report.CUSTODIAN_COLUMNS))
    assert report.recorded_shown(frame) == report.RECORDED_COLUMNS
    page = trades_table(frame)
    cells = [[html.unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", tr)]
             for tr in re.findall(r"<tr data-ticker.*?</tr>", page)]
    want = report.ReportTable(frame, dict(report.TRADE_FORMATS)).formatted()
    assert cells == [list(r) for r in want.itertuples(index=False)]
    assert cells[0][-4:] == ["2025-10-01", "$70.00", "2021-07-23", "$305.88"]
    assert html.escape(report.RECORDED_NOTE) in page
