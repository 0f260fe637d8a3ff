"""The main job run by ``make demo``: every sample client from inputs to outputs.

For now (the foundations) the job validates each client and writes its lots summary; it
grows into the proposal batch as the pipeline lands.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from pma_lab.errors import PmaLabError

__all__ = ["run_demo"]


def run_demo(clients_dir: Path | None, out: Path) -> int:
    """Summarise every client under ``clients_dir`` into ``out/<client_id>/``.

    Returns
    -------
    int
        0 when every client succeeded, 1 otherwise (the others still run).
    """
    from pma_lab.client import find_clients, load_client
    from pma_lab.holdings import summarize_lots
    from pma_lab.paths import clients_dir as default_clients

    folder = clients_dir or default_clients()
    profiles = find_clients(folder)
    if not profiles:
        click.echo(f"no clients found under {folder} (expected */profile.toml)", err=True)
        return 1
    failed = 0
    rows = []
    for p in profiles:
        t0 = time.perf_counter()
        try:
            c = load_client(p)
            s = summarize_lots(c)
            dest = out / c.client_id
            dest.mkdir(parents=True, exist_ok=True)
            for name in ("lots", "holdings", "turning_long_term", "locks", "realized"):
                getattr(s, name).to_csv(dest / f"{name}.csv", index=False)
            (dest / "summary.txt").write_text(s.to_text() + "\n")
            status = "ok"
            detail = (f"${s.totals.total_value:,.0f}, {int(s.totals.lots)} lots, "
                      f"{len(c.warnings)} warnings -> {dest}")
        except PmaLabError as e:
            failed += 1
            status, detail = "FAILED", str(e).splitlines()[0]
        rows.append((p.parent.name, status, time.perf_counter() - t0, detail))
    click.echo(f"{'client':<18} {'status':<7} {'seconds':>7}  detail")
    for name, status, secs, detail in rows:
        click.echo(f"{name:<18} {status:<7} {secs:7.2f}  {detail}")
    click.echo(f"\n{len(rows) - failed}/{len(rows)} clients done; outputs under {out.resolve()}")
    return 1 if failed else 0
