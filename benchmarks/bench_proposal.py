"""Benchmark: one proposal per sample client, fresh kernel vs the batch's warm kernel.

Renders every sample client's proposal (papermill -> HTML, the demo's parameters) twice in
this process: with a fresh kernel per client (the previous way, still what
``render_proposal`` does without ``kernel=``) and through one :class:`pma_lab.app.batch.WarmKernel`
(what each batch worker now does; the first warm client pays the kernel start and the
imports). Goal: <= 5 s per client. Prints JSON with wall and CPU seconds (this process,
its kernels and their children, and the PDF printer's browser, also given alone as
``browser_cpu_seconds``: on a shared machine wall time waits for CPU) per client,
the ratio warm / fresh, the per-stage timings and the load average.

Where the time goes, per render: ``kernel`` (the warm kernel's reset), the notebook's cells
grouped by what they compute (:data:`CELL_STAGES`, from papermill's per-cell durations in
the executed notebook), ``papermill_overhead`` (the execution less its cells: messages,
parameters, the notebook written), ``html`` (nbconvert), ``pdf`` (Chromium, with
``--formats html,pdf``) and ``trades``; ``warm_stages_median`` is their median over the
warm runs. One cell computes the client's setup, the transition and today's trades
together: ``--split`` times those calls (and the frontier) in this process, the second
of two passes (warm caches, as a warm kernel), wall and CPU seconds (forked plan workers
included).

Each warm render also splits its kernel's CPU (``kernel_split``, from a log the kernels
write through an IPython startup file in a temporary ``IPYTHONDIR``): ``cells`` (the
notebook's cells, ``time.process_time`` from IPython's ``pre_run_cell`` to
``post_run_cell`` plus the plan workers they forked and reaped, their outputs' formatting
included), ``reset`` (the warm kernel's reset
cell, its full ``gc.collect`` included) and ``around_cells`` (the rest of the kernel
process: receiving and answering papermill's messages, publishing outputs and statuses),
and of the cells' CPU the cycle collector's (``gc_in_cells``, its ``collections_in_cells``:
``gc.callbacks``; the warm kernel's threshold, ``kernel.GC_THRESHOLD``, sets how often);
``warm_kernel_split_median`` is their median over the warm runs.

``--clients a,b`` limits the clients; ``--repeat N`` renders the warm list N times;
``--formats html,pdf`` also prints PDFs; ``--keep DIR`` keeps the outputs there (to compare
two versions' proposals).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import psutil

from pma_lab.app.batch import WarmKernel
from pma_lab.io.client import find_clients
from pma_lab.paths import clients_dir
from pma_lab.report.proposal import render_proposal

CELL_STAGES = (
    ("parameters", ("parameters",)),
    ("ingest", ("report.load(", "report.cover(")),
    ("setup + transition + today's trades", ("prepare(client)", "report.transition(",
                                             "report.todays_trades(")),
    ("frontier", ("report.frontier(",)),
    ("figures", ("_figure(", ".plot_")),
    ("shelf and evidence", ("shelf.", "evidence.")),
)
"""Notebook cells grouped by what they compute: the first group whose text occurs in a
cell's source (or tags) takes it; every other cell is ``tables and text``."""


def cell_stages(notebook: Path) -> dict[str, float]:
    """Seconds per :data:`CELL_STAGES` group from an executed notebook's cell durations."""
    nb = nbformat.read(notebook, as_version=4)
    out: dict[str, float] = {}
    for cell in nb.cells:
        d = cell.metadata.get("papermill", {}).get("duration")
        if cell.cell_type != "code" or d is None:
            continue
        text = cell.source + " ".join(cell.metadata.get("tags", []))
        stage = next((name for name, keys in CELL_STAGES if any(k in text for k in keys)),
                     "tables and text")
        out[stage] = out.get(stage, 0.0) + float(d)
    return out


def _cpu_reaped() -> float:
    """CPU seconds of this process and its reaped children (fresh kernels, chromium)."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                 resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _cpu_alive(kernel: WarmKernel) -> float:
    """CPU seconds of the warm kernel process and its live children (a forked pool)."""
    km = kernel._km  # noqa: SLF001 - the benchmark reads the kernel's process id
    proc = getattr(getattr(km, "provisioner", None), "process", None)
    if proc is None:
        return 0.0
    try:
        p = psutil.Process(proc.pid)
        total = sum(p.cpu_times()[:4])  # user, system, children_user, children_system
        for c in p.children(recursive=True):
            total += sum(c.cpu_times()[:2])
        return total
    except psutil.Error:
        return 0.0


def _cpu_browser(kernel: WarmKernel | None) -> float:
    """CPU seconds of this process's live descendants outside the warm kernel's tree.

    The PDF printer's Playwright driver and Chromium, which live across clients (before
    the ninth session they were not counted: ``cpu_seconds`` left the PDF's browser out).
    """
    km = kernel._km if kernel else None  # noqa: SLF001 - the benchmark reads the kernel's pid
    proc = getattr(getattr(km, "provisioner", None), "process", None)
    skip: set[int] = set()
    if proc is not None:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(proc.pid)
            skip = {p.pid, *(c.pid for c in p.children(recursive=True))}
    total = 0.0
    for c in psutil.Process().children(recursive=True):
        if c.pid in skip:
            continue
        with contextlib.suppress(psutil.Error):
            total += sum(c.cpu_times()[:2])
    return total


CELL_LOG_ENV = "PMA_LAB_BENCH_CELL_LOG"
_CELL_CPU_STARTUP = f"""\
def _pma_lab_bench_cells():
    import gc, json, os, resource, time
    log = os.environ.get({CELL_LOG_ENV!r})
    if not log:
        return
    started = []
    collector = [0.0, 0, 0.0]  # seconds, collections, the running one's start
    def cpu():
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime
    def collecting(phase, info):
        if phase == "start":
            collector[2] = time.thread_time()
        else:
            collector[0] += time.thread_time() - collector[2]
            collector[1] += 1
    gc.callbacks.append(collecting)
    def pre(*args):
        started[:] = [cpu(), collector[0], collector[1]]
    def post(result=None):
        if not started:
            return
        raw = getattr(getattr(result, "info", None), "raw_cell", "") or ""
        with open(log, "a") as f:
            f.write(json.dumps({{"cpu": cpu() - started[0],
                                "gc": collector[0] - started[1],
                                "collections": collector[1] - started[2],
                                "reset": "get_ipython().reset(" in raw}}) + "\\n")
    get_ipython().events.register("pre_run_cell", pre)
    get_ipython().events.register("post_run_cell", post)
_pma_lab_bench_cells()
del _pma_lab_bench_cells
"""
"""An IPython startup file: every cell's CPU seconds, and the cycle collector's seconds
and collections during it (``gc.callbacks``), one JSON line each, to the log."""


def _cells_cpu(log: Path | None, start: int) -> tuple[dict[str, float], int]:
    """The cells' and the reset's CPU seconds logged after line ``start``; the new end."""
    if log is None or not log.is_file():
        return {}, start
    lines = log.read_text().splitlines()
    rows = [json.loads(x) for x in lines[start:] if x.strip()]
    cells = [r for r in rows if not r["reset"]]
    return {"cells": sum(r["cpu"] for r in cells),
            "reset": sum(r["cpu"] for r in rows if r["reset"]),
            "gc_in_cells": sum(r.get("gc", 0.0) for r in cells),
            "collections_in_cells": sum(r.get("collections", 0) for r in cells)}, len(lines)


def _render(profile: Path, out: Path, kernel: WarmKernel | None,
            formats: tuple[str, ...], log: Path | None = None) -> dict:
    at = len(log.read_text().splitlines()) if log is not None and log.is_file() else 0
    k0 = _cpu_alive(kernel) if kernel and kernel._km else None  # noqa: SLF001
    c0 = _cpu_reaped() + (_cpu_alive(kernel) if kernel else 0.0)
    b0 = _cpu_browser(kernel)
    t0 = time.perf_counter()
    o = render_proposal(profile, out, formats=formats, kernel=kernel)  # as pma-lab demo
    wall = time.perf_counter() - t0
    browser = _cpu_browser(kernel) - b0
    cpu = _cpu_reaped() + (_cpu_alive(kernel) if kernel else 0.0) - c0 + browser
    cells = cell_stages(o.notebook)
    stages = {"kernel": o.timings.get("kernel", 0.0), **cells,
              "papermill_overhead": o.timings["papermill"] - sum(cells.values()),
              **{k: v for k, v in o.timings.items() if k not in ("kernel", "papermill")}}
    row = {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
           "browser_cpu_seconds": round(browser, 2),
           "stages": {k: round(v, 2) for k, v in stages.items()}}
    split, _ = _cells_cpu(log, at)
    if k0 is not None and split:  # a warm kernel that was running before this render
        kernel_cpu = _cpu_alive(kernel) - k0
        row["kernel_split"] = {"kernel": round(kernel_cpu, 3),
                               "cells": round(split["cells"], 3),
                               "reset": round(split["reset"], 3),
                               "around_cells": round(kernel_cpu - split["cells"]
                                                     - split["reset"], 3),
                               "gc_in_cells": round(split["gc_in_cells"], 3),
                               "collections_in_cells": split["collections_in_cells"]}
    return row


def split_stages(profile: Path) -> dict:
    """The setup cell's calls and the frontier timed in this process (second pass)."""
    from pma_lab.optimize.engine import prepare
    from pma_lab.report import proposal as report

    params = notebook_defaults()

    def timed(row: dict, name: str, f, *a):  # noqa: ANN001, ANN202
        c0, t0 = _cpu_reaped(), time.perf_counter()
        out = f(*a)
        row[name] = {"seconds": round(time.perf_counter() - t0, 2),
                     "cpu_seconds": round(_cpu_reaped() - c0, 2)}
        return out

    row: dict = {}
    for _ in range(2):  # the first pass fills the caches a warm kernel has
        row = {}
        client = timed(row, "ingest (load)", report.load, str(profile), [], "")
        setup = timed(row, "setup (risk model, benchmark, screens, target)", prepare, client)
        analysis = timed(row, "transition + Monte Carlo", report.transition, setup,
                         params["plans"], params["horizon_years"],
                         params["annual_steps"])
        timed(row, "rebalance (today's trades)", report.todays_trades, setup, analysis)
        timed(row, "frontier", report.frontier, setup, params["frontier_points"])
    return row


def notebook_defaults() -> dict:
    """The proposal notebook's parameter defaults."""
    from pma_lab.report.proposal import notebook_parameters

    return {k: v["default"] for k, v in notebook_parameters().items()}


def _median_stages(runs: list[dict]) -> dict[str, float]:
    names = list(dict.fromkeys(k for r in runs for k in r["stages"]))
    return {k: round(statistics.median(r["stages"].get(k, 0.0) for r in runs), 2)
            for k in names}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--formats", default="html")
    ap.add_argument("--split", action="store_true")
    ap.add_argument("--keep", default="")
    args = ap.parse_args()
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    load0 = os.getloadavg()
    profiles = find_clients(clients_dir())
    if args.clients:
        keep = set(args.clients.split(","))
        profiles = [p for p in profiles if p.parent.name in keep]
    out: dict = {"benchmark": "proposal", "parameters": notebook_defaults(), "formats": formats,
                 "goal_seconds": 5,
                 "cpu_count": os.cpu_count(),
                 "load_average_before": [round(x, 2) for x in load0]}
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as ipython:
        tmp = Path(args.keep or tmp)
        # the kernels (started below, with this environment) log each cell's CPU
        startup = Path(ipython) / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-pma-lab-bench-cells.py").write_text(_CELL_CPU_STARTUP)
        log = Path(ipython) / "cells.jsonl"
        os.environ.update({"IPYTHONDIR": ipython, CELL_LOG_ENV: str(log)})
        fresh = {p.parent.name: _render(p, tmp / "fresh" / p.parent.name, None, formats)
                 for p in profiles}
        warm: dict = {}
        with WarmKernel() as k:
            for r in range(args.repeat):
                for p in profiles:
                    warm[f"{p.parent.name}#{r}"] = _render(p, tmp / f"warm{r}" / p.parent.name,
                                                           k, formats, log)
            out["warm_kernels_started"] = k.started
    # the first warm client pays the kernel start and the imports, as in a batch worker
    steady = list(warm.values())[1:] or list(warm.values())
    f_med = statistics.median(v["seconds"] for v in fresh.values())
    w_med = statistics.median(v["seconds"] for v in steady)
    f_cpu = statistics.median(v["cpu_seconds"] for v in fresh.values())
    w_cpu = statistics.median(v["cpu_seconds"] for v in steady)
    out.update({
        "fresh_kernel": fresh, "warm_kernel": warm,
        "fresh_median_seconds": f_med, "warm_median_seconds": w_med,
        "fresh_median_cpu_seconds": f_cpu, "warm_median_cpu_seconds": w_cpu,
        "ratio_warm_to_fresh_seconds": round(w_med / f_med, 3),
        "ratio_warm_to_fresh_cpu": round(w_cpu / f_cpu, 3),
        "warm_stages_median": _median_stages(steady),
        "warm_kernel_split_median": {
            k: round(statistics.median(v["kernel_split"][k] for v in steady
                                       if "kernel_split" in v), 3)
            for k in ("kernel", "cells", "reset", "around_cells", "gc_in_cells",
                      "collections_in_cells")}
        if any("kernel_split" in v for v in steady) else {},
        "met_on_wall": w_med <= 5,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    })
    if args.split:
        out["split_in_process"] = {p.parent.name: split_stages(p) for p in profiles}
        out["load_average_after_split"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
