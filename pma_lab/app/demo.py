"""The main job run by ``make demo``: sample clients -> client-ready proposals.

Every client under ``data/samples/clients`` goes through the batch (a local Dask cluster):
profile, lots and recent trades validated; target, frontier, transition comparison and the
first year's trades computed; the proposal notebook executed with papermill (each worker
reuses one warm kernel across its clients) and rendered to HTML (and PDF when Debian's
chromium is installed). The summary table says where each
report is; the exit status is non-zero when any client failed.

The demo sets no notebook parameter of its own (only the output formats): each proposal
is the one ``pma-lab propose`` renders and the dashboard computes for the same client and
date (the notebook's defaults: quarterly plan steps, its frontier points).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

__all__ = ["run_demo"]


def run_demo(clients_dir: Path | None, out: Path, workers: int = 2) -> int:
    """Render every sample client's proposal into ``out/<client>/``; return the exit code."""
    from pma_lab.app.batch import SUMMARY_FILE, format_summary, run_batch
    from pma_lab.paths import clients_dir as default_clients
    from pma_lab.report.proposal import CHROMIUM

    folder = clients_dir or default_clients()
    has_browser = os.access(CHROMIUM, os.X_OK)
    formats = ("html", "pdf") if has_browser else ("html",)
    if "pdf" not in formats:
        click.echo("note: /usr/bin/chromium is missing, so no PDFs (make browser installs it)",
                   err=True)
    res = run_batch(folder, out, workers=workers,
                    params={"formats": formats})
    click.echo(format_summary(res.summary, res.out_dir))
    ok = len(res.ran) - res.failed
    click.echo(f"\n{ok}/{len(res.ran)} proposals in {res.seconds:.0f} s; reports under "
               f"{res.out_dir}")
    click.echo("  one folder per client: *_proposal.html"
               f"{', *_proposal.pdf' if 'pdf' in formats else ''}, trades CSV/XLSX, the "
               "executed notebook")
    click.echo(f"  summary: {SUMMARY_FILE}")
    return 1 if res.failed else 0
