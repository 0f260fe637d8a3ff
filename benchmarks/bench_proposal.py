"""Benchmark: one proposal per sample client, fresh kernel vs the batch's warm kernel.

Renders every sample client's proposal (papermill -> HTML, the demo's parameters) twice in
this process: with a fresh kernel per client (the previous way, still what
``render_proposal`` does without ``kernel=``) and through one :class:`pma_lab.app.batch.WarmKernel`
(what each batch worker now does; the first warm client pays the kernel start and the
imports). Goal: <= 5 s per client. Prints JSON with wall and CPU seconds (this process,
its kernels and their children: on a shared machine wall time waits for CPU) per client,
the ratio warm / fresh, the per-stage timings and the load average.

``--clients a,b`` limits the clients; ``--repeat N`` renders the warm list N times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from pma_lab.app.batch import WarmKernel
from pma_lab.app.demo import DEMO_PARAMS
from pma_lab.io.client import find_clients
from pma_lab.paths import clients_dir
from pma_lab.report.proposal import render_proposal


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


def _render(profile: Path, out: Path, kernel: WarmKernel | None) -> dict:
    c0 = _cpu_reaped() + (_cpu_alive(kernel) if kernel else 0.0)
    t0 = time.perf_counter()
    o = render_proposal(profile, out, formats=("html",), kernel=kernel, **DEMO_PARAMS)
    wall = time.perf_counter() - t0
    cpu = _cpu_reaped() + (_cpu_alive(kernel) if kernel else 0.0) - c0
    return {"seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "stages": {k: round(v, 2) for k, v in o.timings.items()}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default="")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    load0 = os.getloadavg()
    profiles = find_clients(clients_dir())
    if args.clients:
        keep = set(args.clients.split(","))
        profiles = [p for p in profiles if p.parent.name in keep]
    out: dict = {"benchmark": "proposal", "parameters": DEMO_PARAMS, "goal_seconds": 5,
                 "cpu_count": os.cpu_count(),
                 "load_average_before": [round(x, 2) for x in load0]}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fresh = {p.parent.name: _render(p, tmp / "fresh" / p.parent.name, None)
                 for p in profiles}
        warm: dict = {}
        with WarmKernel() as k:
            for r in range(args.repeat):
                for p in profiles:
                    warm[f"{p.parent.name}#{r}"] = _render(p, tmp / f"warm{r}" / p.parent.name,
                                                           k)
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
        "met_on_wall": w_med <= 5,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    })
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
