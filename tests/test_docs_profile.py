"""docs/profile.md: its complete example loads, and it names every key of the profile."""

from __future__ import annotations

import re

from pma_lab.io import profile as profile_module
from pma_lab.io.client import load_client
from pma_lab.paths import repo_root

DOC = repo_root() / "docs" / "profile.md"


def _example() -> str:
    text = DOC.read_text()
    return re.search(r"```toml\n(.*?)```", text, re.S).group(1)


def test_the_complete_example_validates(tmp_path):
    (tmp_path / "profile.toml").write_text(_example())
    (tmp_path / "lots.csv").write_text(
        "lot_id,account,ticker,acquired,shares,cost_per_share\n"
        "L1,taxable,AAPL,2016-05-12,400,20.57\n"
        "L2,taxable,INTC,2026-07-20,50,97.06\n")
    (tmp_path / "recent_trades.csv").write_text(
        "date,account,account_type,ticker,side,shares,price\n"
        "2026-06-01,taxable,taxable,INTC,buy,200,109.33\n"
        "2026-07-24,taxable,taxable,INTC,sell,200,92.32\n")
    client = load_client(tmp_path / "profile.toml")
    assert client.client_id == "smith-family" and len(client.lots) == 2
    client.ledger()


def test_every_profile_key_is_in_the_doc():
    text = DOC.read_text()
    missing = [f"{section}.{key}" for section, keys in profile_module._SECTIONS.items()
               for key in sorted(keys) if not re.search(rf"\b{key}\b", text)]
    assert missing == [], f"docs/profile.md does not mention {missing}"
