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
             438.75, "Market", "Day", "no", "2020-01-02", 45.120000000000005),
            ("joint", "MSFT", "SELL", 3.0, "L2", 410.0, 1230.0, "Short", -12.49,
             "Market", "Day", "no", "2026-03-02", 400.83000000000004),
            ("joint", "FIS", "BUY", 10.0, "", 70.0, 700.0, "", math.nan, "Market", "Day",
             "no", "", math.nan)]
    frame = pd.DataFrame(rows, columns=list(report.CUSTODIAN_COLUMNS))
    page = trades_table(frame)
    cells = [[html.unescape(c) for c in re.findall(r"<td[^>]*>([^<]*)</td>", tr)]
             for tr in re.findall(r"<tr data-ticker.*?</tr>", page)]
    want = report.ReportTable(frame, dict(report.TRADE_FORMATS), "", name="trades",
                              machine=True).formatted()
    assert cells == [list(r) for r in want.itertuples(index=False)]
    cost = list(frame.columns).index("Cost per Share")
    assert [r[cost] for r in cells[:2]] == ["$45.12", "$400.83"]
    assert "45.120000000000005" not in page
