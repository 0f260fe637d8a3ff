"""Benchmark: the proposal notebook's cells for generated batch clients, one warm process.

``bench_proposal_cells.py`` runs a sample client's cells twice (its second pass finds the
caches its first filled); a batch kernel instead renders client after client, each new to
it. This runs ``bench_batch.py``'s generated clients (the personas scaled, a tenth of the
lots dropped, cash varied; ``generate``, seed 42) in turn in one IPython shell in this
process, reset between clients as :class:`pma_lab.report.kernel.WarmKernel` resets its
kernel (the namespace cleared, modules and their caches kept), with the batch's settings:
the disk cache a batch sets (``PMA_LAB_CACHE``, a fresh folder under the temporary one
unless ``--cache``), plans compared in this process (``PMA_LAB_PLAN_WORKERS=1``); run it
with ``OMP_NUM_THREADS=1`` as a batch kernel runs.

Prints JSON: each client's CPU seconds (``time.process_time``) per cell and in all, and
the mean of the clients after the first ``--warm`` (default 1: the first pays the imports
and the first draws). ``--outputs DIR`` writes each client's cells' formatted outputs
(figures included) to ``DIR/<client>.json`` (to compare two versions: run once with each
version's ``PYTHONPATH``); ``--profile FILE`` writes a cProfile of the clients after the
warm ones (CPU time).

``--clients N`` (default 13: the five personas, then eight more), ``--clients-dir DIR``
(generated there when missing, else the clients found there are run).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import generate  # noqa: E402
from bench_proposal_cells import _cells, run_client  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=13)
    ap.add_argument("--warm", type=int, default=1)
    ap.add_argument("--clients-dir", type=Path, default=None)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--outputs", type=Path, default=None)
    ap.add_argument("--profile", type=Path, default=None)
    args = ap.parse_args()
    os.environ.setdefault("PMA_LAB_PLAN_WORKERS", "1")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PMA_LAB_CACHE"] = str(args.cache or Path(tmp) / "cache")
        folder = args.clients_dir or Path(tmp) / "clients"
        if not folder.exists():
            generate(folder, args.clients)
        profiles = sorted(folder.glob("*/profile.toml"))[:args.clients]
        from IPython.core.interactiveshell import InteractiveShell

        shell = InteractiveShell.instance()
        cells = _cells()
        out: dict = {"load_average_before": [round(x, 2) for x in os.getloadavg()],
                     "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "clients": {}}
        prof = cProfile.Profile(time.process_time) if args.profile else None
        steady = []
        for i, path in enumerate(profiles):
            shell.reset(new_session=True)  # as WarmKernel's reset
            on = prof is not None and i >= args.warm
            if on:
                prof.enable()
            c0 = time.process_time()
            times, outputs = run_client(shell, path, cells)
            cpu = time.process_time() - c0
            if on:
                prof.disable()
            name = path.parent.name
            out["clients"][name] = {"cpu_seconds": round(cpu, 3), "cells": times}
            if i >= args.warm:
                steady.append(cpu)
            if args.outputs is not None:
                args.outputs.mkdir(parents=True, exist_ok=True)
                (args.outputs / f"{name}.json").write_text(json.dumps(outputs, indent=1,
                                                                      default=str))
            print(name, round(cpu, 3), file=sys.stderr, flush=True)
    out["steady_cpu_seconds_per_client"] = round(sum(steady) / len(steady), 3) \
        if steady else None
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if prof is not None:
        prof.dump_stats(args.profile)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
