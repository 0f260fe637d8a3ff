"""Batch proposals: every client of a folder, in parallel, one failure never stopping the rest.

``run_batch`` submits one job per client (``*/profile.toml`` under the folder) to a Dask
cluster — a local one by default (``workers`` processes, one thread each), or an existing
scheduler when an address is given, so the same command scales past one machine. A
progress bar follows completion; the result is a summary table (client, status, seconds,
outputs, error) written next to the outputs, and the CLI exits non-zero when any client
failed. Output folders are named from the client folder name, sanitised so no client id
can escape the output folder.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pma_lab.errors import DataError

__all__ = ["safe_name", "BatchResult", "run_batch", "propose_job"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file-system-safe name: letters, digits, ``._-`` only, no leading dot, not empty.

    Examples
    --------
    >>> safe_name("../../etc/passwd")
    'etc_passwd'
    """
    s = _SAFE.sub("_", str(name)).strip("._")
    s = re.sub(r"_+", "_", s)
    return s[:100] or "client"


@dataclass(frozen=True)
class BatchResult:
    """Outcome of a batch run."""

    summary: pd.DataFrame  # client, status, seconds, output, error
    seconds: float
    out_dir: Path

    @property
    def failed(self) -> int:
        """Number of clients that failed."""
        return int((self.summary.status != "ok").sum())


def propose_job(profile: str, out_dir: str, params: dict) -> dict:
    """Default job: render one client's proposal (runs inside a Dask worker)."""
    from pma_lab.report import render_proposal

    out = render_proposal(profile, out_dir, **params)
    return {"output": str(out.html), "pdf": str(out.pdf) if out.pdf else ""}


def _guarded(job: Callable[[str, str, dict], dict], profile: str, out_dir: str,
             params: dict) -> dict:
    """Run a job and turn any exception into a row: one client never stops the others."""
    t0 = time.perf_counter()
    try:
        info = job(profile, out_dir, params)
        return {"status": "ok", "seconds": time.perf_counter() - t0, "error": "", **info}
    except Exception as e:  # noqa: BLE001 - reported per client in the summary, not hidden
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / "error.txt").write_text(
            f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}")
        return {"status": "failed", "seconds": time.perf_counter() - t0,
                "error": f"{type(e).__name__}: {first}", "output": ""}


def run_batch(clients_dir: str | Path, out_dir: str | Path, workers: int = 2,
              scheduler: str | None = None, params: dict | None = None,
              job: Callable[[str, str, dict], dict] = propose_job,
              progress: bool = True) -> BatchResult:
    """Run ``job`` for every client under ``clients_dir`` on a Dask cluster.

    Parameters
    ----------
    clients_dir : str | Path
        Folder with one sub-folder per client holding ``profile.toml``.
    out_dir : str | Path
        Outputs go to ``out_dir/<safe client folder name>/``.
    workers : int
        Local worker processes (ignored with ``scheduler``).
    scheduler : str | None
        Address of an existing Dask scheduler (``tcp://host:8786``).
    params : dict | None
        Extra parameters for the job (e.g. the proposal's ``formats``).
    job : Callable
        ``job(profile, out_dir, params) -> dict`` (default: render the proposal).
    progress : bool
        Show a progress bar on stderr.

    Raises
    ------
    DataError
        When the folder holds no client.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    folder = Path(clients_dir)
    profiles = sorted(folder.glob("*/profile.toml"))
    if not profiles:
        raise DataError(f"{folder}: no clients found (expected <client>/profile.toml)")
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    names: dict[str, Path] = {}
    for p in profiles:
        n = safe_name(p.parent.name)
        while n in names:
            n += "_"
        names[n] = p
    t0 = time.perf_counter()
    # every client at one as-of date shares the risk model: let the workers (and the
    # notebook kernels they start) reuse it from a disk cache inside the output folder
    os.environ.setdefault("PMA_LAB_CACHE", str(out / ".cache"))
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    rows = []
    try:
        futures = {}
        for n, p in names.items():
            dest = out / n
            if dest.parent != out:  # defence in depth: the name is already sanitised
                raise DataError(f"client folder {p.parent.name!r} would escape {out}")
            f = client.submit(_guarded, job, str(p), str(dest), dict(params or {}),
                              key=f"proposal-{n}", pure=False)
            futures[f] = n
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(futures), desc="proposals", unit="client")
        for f in as_completed(futures):
            n = futures[f]
            r = f.result()
            rows.append({"client": n, "status": r["status"], "seconds": r["seconds"],
                         "output": r.get("output", ""), "error": r["error"]})
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=sum(1 for x in rows if x["status"] != "ok"))
        if bar is not None:
            bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    summary = pd.DataFrame(rows).sort_values("client", ignore_index=True)
    summary.to_csv(out / "batch_summary.csv", index=False)
    return BatchResult(summary, time.perf_counter() - t0, out)
