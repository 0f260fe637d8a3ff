"""Benchmark: the proposal notebook's cells in one Python process, CPU seconds per cell.

Runs ``notebooks/proposal.ipynb``'s code cells in an IPython shell in this process (no
kernel, no papermill), with the notebook's default parameters (as ``pma-lab demo`` and
``pma-lab propose`` render it) and the batch workers' settings (plans compared in this
process, ``PMA_LAB_PLAN_WORKERS=1``), ``--passes`` times per client (default 2: the first
fills the caches a warm batch kernel has, and the last is reported). Each cell is timed with
``time.process_time`` including the formatting of its output (HTML, figures), as a kernel
formats it.

Prints JSON: per client the last pass's CPU seconds per cell (the cell's first line), the
cells' total, and the load average. ``--outputs DIR`` writes each cell's formatted output of
the last pass to ``DIR/<client>.json`` (to compare two versions' outputs: run once with each
version's ``PYTHONPATH``).

Where a warm proposal's CPU goes is in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import nbformat

from pma_lab.paths import clients_dir

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "proposal.ipynb"


def _cells() -> list[str]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def run_client(shell, profile: Path, cells: list[str]) -> tuple[dict, list]:  # noqa: ANN001
    """One pass over the cells: CPU seconds per cell, and each cell's formatted output."""
    from IPython.utils.capture import capture_output

    times: dict[str, float] = {}
    outputs = []
    shell.reset(new_session=False)
    shown: list = []  # each cell's result as the displayhook formats it (all mime types)
    shell.displayhook.write_format_data = lambda data, md=None: shown.append(data)
    for i, src in enumerate(cells):
        if i == 1:  # papermill's injected parameters, after the parameters cell
            shell.user_ns.update({"profile": str(profile)})
        c0 = time.process_time()
        with capture_output() as cap:
            res = shell.run_cell(src, store_history=False, silent=False)
        dt = time.process_time() - c0
        if res.error_in_exec is not None or res.error_before_exec is not None:
            raise RuntimeError(f"cell {i} failed: {res.error_in_exec or res.error_before_exec}")
        key = f"{i:02d} {src.strip().splitlines()[-1][:60]}"
        times[key] = round(dt, 3)
        outputs.append({"stdout": cap.stdout, "result": shown.pop() if shown else None,
                        "outputs": [o.data for o in cap.outputs]})
    return times, outputs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="young-pro,household,core-active,retiree")
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--outputs", type=Path, default=None)
    ap.add_argument("--profile", type=Path, default=None,
                    help="write cProfile stats of each client's last pass to DIR/<client>.prof")
    args = ap.parse_args()
    os.environ.setdefault("PMA_LAB_PLAN_WORKERS", "1")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    cells = _cells()
    out: dict = {"load_average_before": [round(x, 2) for x in os.getloadavg()],
                 "clients": {}}
    for name in args.clients.split(","):
        profile = clients_dir() / name / "profile.toml"
        for k in range(args.passes):
            prof = None
            if args.profile is not None and k == args.passes - 1:
                import cProfile

                prof = cProfile.Profile()
                prof.enable()
            times, outputs = run_client(shell, profile, cells)
            if prof is not None:
                prof.disable()
                args.profile.mkdir(parents=True, exist_ok=True)
                prof.dump_stats(args.profile / f"{name}.prof")
        out["clients"][name] = {"cells_cpu_seconds": round(sum(times.values()), 2),
                                "cells": times}
        if args.outputs is not None:
            args.outputs.mkdir(parents=True, exist_ok=True)
            (args.outputs / f"{name}.json").write_text(json.dumps(outputs, indent=1,
                                                                  default=str))
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
