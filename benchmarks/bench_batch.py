"""Benchmark: proposals end to end, one client and a batch of 100 generated clients.

1. One proposal (papermill -> HTML) per sample client with the demo's parameters
   (annual transition steps): goal <= 10 s per client.
2. 100 clients generated from the five personas (shares scaled 0.5-1.5x, a tenth of the
   lots dropped, cash varied, ids and names changed; real tickers, bases and dates kept),
   rendered by `run_batch` on a local Dask cluster of 2 workers: goal <= 5 min.
Prints JSON.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np
import tomli_w

from pma_lab.batch import run_batch
from pma_lab.client import find_clients, load_client
from pma_lab.demo import DEMO_PARAMS
from pma_lab.paths import clients_dir
from pma_lab.report import render_proposal

N_CLIENTS = 100


def generate(dest: Path, n: int = N_CLIENTS, seed: int = 42) -> list[Path]:
    rng = np.random.default_rng(seed)
    personas = find_clients(clients_dir())
    out = []
    for k in range(n):
        src = personas[k % len(personas)]
        c = load_client(src)
        lots = c.lots.lots.copy()
        keep = rng.random(len(lots)) > 0.1
        keep[rng.integers(len(lots))] = True
        lots = lots[keep].copy()
        scale = rng.uniform(0.5, 1.5)
        lots["shares"] = (lots.shares * scale).round(0).clip(lower=1)
        lots["cost_total"] = (lots.cost_per_share * lots.shares).round(2)
        folder = dest / f"client-{k:03d}"
        folder.mkdir(parents=True)
        lots[["lot_id", "account", "ticker", "acquired", "shares", "cost_total",
              "inherited"]].assign(acquired=lots.acquired.dt.strftime("%Y-%m-%d"),
                                   inherited=lots.inherited.map({True: "yes", False: "no"})
                                   ).to_csv(folder / "lots.csv", index=False)
        doc = tomllib.loads(src.read_text())
        doc["client"]["id"] = f"client-{k:03d}"
        doc["client"]["name"] = f"Client {k:03d} ({src.parent.name})"
        doc["lots"] = {key: v for key, v in doc["lots"].items()
                       if key in ("default_account", "recent_trades")}
        doc["lots"]["files"] = ["lots.csv"]
        if "recent_trades" in doc["lots"]:
            shutil.copy(src.parent / doc["lots"]["recent_trades"], folder)
        for acc in doc["accounts"]:
            acc["cash"] = round(float(acc.get("cash", 0.0)) * rng.uniform(0.5, 1.5), 2)
        (folder / "profile.toml").write_text(tomli_w.dumps(doc))
        out.append(folder / "profile.toml")
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        singles = {}
        for p in find_clients(clients_dir()):
            t0 = time.perf_counter()
            render_proposal(p, tmp / "single" / p.parent.name, formats=("html",),
                            **DEMO_PARAMS)
            singles[p.parent.name] = round(time.perf_counter() - t0, 2)
        generate(tmp / "clients")
        t0 = time.perf_counter()
        res = run_batch(tmp / "clients", tmp / "out", workers=2, progress=False,
                        params={"formats": ("html",), **DEMO_PARAMS})
        batch = time.perf_counter() - t0
        print(json.dumps({
            "benchmark": "proposals",
            "parameters": DEMO_PARAMS,
            "single_proposal_seconds": singles,
            "single_median": statistics.median(singles.values()),
            "goal_single_seconds": 10,
            "batch_clients": len(res.summary), "batch_failed": res.failed,
            "batch_errors": res.summary[res.summary.status != "ok"].error.tolist()[:5],
            "batch_seconds": round(batch, 1), "goal_batch_seconds": 300,
            "batch_per_client_median": round(float(res.summary.seconds.median()), 2),
            "workers": 2, "python": sys.version.split()[0],
        }, indent=2))


if __name__ == "__main__":
    main()
