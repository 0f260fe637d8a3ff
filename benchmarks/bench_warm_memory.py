"""Benchmark: memory of a batch worker's warm kernel and printer over many clients.

The warm kernel (:class:`pma_lab.report.kernel.WarmKernel`) and the PDF printer
(``pma_lab.report.proposal._Printer``) are replaced after ``max_runs`` / ``max_prints``
clients to bound their memory; each replacement costs a batch worker ~5.7 s (a new kernel
importing pma_lab, a new browser and shell page: the twenty-first session's reading of the
100-client batch). This measures whether they grow: the kernel's resident memory after each
proposal (HTML, sample clients in turn, ``--kernel-runs`` runs, no replacement) and the
printer's browser processes' memory (RSS summed, and USS: what each process alone holds)
every 10 prints of the demo's proposal pages (``--prints``, no replacement).

Prints JSON: each reading, the first and last, the growth over the second half.

Usage: ``python benchmarks/bench_warm_memory.py [--kernel-runs 30] [--prints 110]
[--clients young-pro,retiree,household,core-active,tech-exec]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def kernel_readings(clients: list[str], runs: int, out: Path) -> list[dict]:
    """The warm kernel's RSS after each of ``runs`` proposals (HTML only)."""
    from pma_lab.paths import clients_dir
    from pma_lab.report.kernel import WarmKernel
    from pma_lab.report.proposal import render_proposal

    os.environ.setdefault("PMA_LAB_PLAN_WORKERS", "1")  # as a batch worker's kernel
    rows = []
    with WarmKernel(env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
                    max_runs=runs + 1) as k:
        for i in range(runs):
            c = clients[i % len(clients)]
            t = time.perf_counter()
            render_proposal(clients_dir() / c / "profile.toml", out / c, kernel=k,
                            formats=("html",))
            pid = k.manager.provisioner.process.pid
            rows.append({"run": i + 1, "client": c,
                         "rss_mb": round(psutil.Process(pid).memory_info().rss / 2**20, 1),
                         "seconds": round(time.perf_counter() - t, 2)})
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def printer_readings(pages: list[Path], prints: int, out: Path) -> list[dict]:
    """The printer's browser memory every 10 of ``prints`` PDFs (no replacement)."""
    from pma_lab.report import proposal

    proposal._Printer.max_prints = prints + 1
    me = psutil.Process()
    rows = []
    for i in range(prints):
        proposal.html_to_pdf(pages[i % len(pages)], out / f"p{i}.pdf")
        if (i + 1) % 10:
            continue
        rss = uss = 0.0
        for p in me.children(recursive=True):
            try:
                info = p.memory_full_info()
            except psutil.Error:
                continue
            rss, uss = rss + info.rss / 2**20, uss + info.uss / 2**20
        rows.append({"prints": i + 1, "rss_sum_mb": round(rss), "uss_sum_mb": round(uss)})
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def _growth(rows: list[dict], key: str) -> dict:
    half = rows[len(rows) // 2:]
    return {"first": rows[0][key], "last": rows[-1][key],
            "max": max(r[key] for r in rows),
            "second_half_change": round(half[-1][key] - half[0][key], 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel-runs", type=int, default=30)
    ap.add_argument("--prints", type=int, default=110)
    ap.add_argument("--clients", default="young-pro,retiree,household,core-active,tech-exec")
    args = ap.parse_args()
    clients = args.clients.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        kernel = kernel_readings(clients, args.kernel_runs, tmp) if args.kernel_runs else []
        pages = sorted(tmp.glob("*/*_proposal.html"))
        if args.prints and not pages:  # the kernel part was skipped: render the pages
            kernel_readings(clients, len(clients), tmp)
            pages = sorted(tmp.glob("*/*_proposal.html"))
        printer = printer_readings(pages, args.prints, tmp) if args.prints else []
    print(json.dumps({
        "benchmark": "warm_memory",
        "load_average": os.getloadavg(),
        "kernel": {"runs": kernel, "rss_mb": _growth(kernel, "rss_mb") if kernel else None},
        "printer": {"readings": printer,
                    "uss_sum_mb": _growth(printer, "uss_sum_mb") if printer else None,
                    "rss_sum_mb": _growth(printer, "rss_sum_mb") if printer else None},
    }, indent=1))


if __name__ == "__main__":
    main()
