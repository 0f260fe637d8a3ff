"""Batch proposals: every client of a folder, in parallel; one failure never stops the rest.

``run_batch`` runs one job per client (``*/profile.toml`` under the folder) on a Dask
cluster: a local one by default (``workers`` processes, one thread each), or an existing
scheduler when an address is given, so the same command scales past one machine.

* **Inputs first.** Every client's inputs (profile, lots, recent trades) are validated
  before any job starts; a bad client fails at once with its ``error.txt`` and no kernel
  is started for it.
* **Faults stay with their client.** A job's exception, and a worker killed mid-client
  (by a signal or for running out of memory, Dask's ``KilledWorker``), mark that client
  ``failed``; the other clients finish. On a local cluster a dead worker's client is not
  retried (``allowed-failures`` 0), so an out-of-memory client cannot take down a
  second worker.
* **The summary is always written** (``batch_summary.csv``), also when the batch is
  interrupted (Ctrl-C or SIGTERM: unfinished clients are ``interrupted``, the cluster and
  every process it started are stopped). It is the union over runs: a rerun replaces the
  rows of the clients it ran and keeps the others, each row with its ``run_at`` time. Each
  row is checked against the disk: a client whose outputs are gone or changed since its
  run is ``missing``.
* **Reruns**: ``skip_existing`` skips clients whose outputs are complete on disk;
  ``only_failed`` runs only the clients whose last status is not ``ok``.
* **Markers**: a client's folder gets ``run_complete.json`` (listing its files with their
  SHA-256) only after its job finished, so a folder without it is not a finished proposal.
* **Warm kernels**: each worker process keeps one Jupyter kernel alive across its clients
  (:class:`WarmKernel`, :func:`worker_kernel`): the kernel start and the notebook's imports
  (pandas, cvxpy, plotly, pma_lab, the market data and the benchmark cached per as-of date)
  are paid once per worker, not once per client; the kernel's namespace is reset before
  every client, and a kernel that failed, timed out or served
  :attr:`WarmKernel.max_runs` clients is replaced.
* **Slowest first**: the jobs go to the workers in :func:`submission_order`: clients never
  timed first, then the others slowest first by their last ``ok`` run's ``seconds`` in
  the summary, so a rerun does not end on one worker's long client while the other idles.
* **Quiet console**: each job's stdout/stderr, including the notebook kernel's warnings,
  goes to ``<client>/batch.log`` rather than through the progress bar;
  :func:`format_summary` prints a summary that fits 100 columns.

Output folders are named from the client folder name, sanitised so no client id can escape
the output folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pma_lab.errors import DataError, OutputPathError
from pma_lab.files import (
    MARKER,
    check_marker,
    clear_marker,
    safe_name,  # noqa: F401 (re-exported)
    write_csv,
    write_marker,
    write_text,
)
from pma_lab.report.kernel import WarmKernel

__all__ = ["safe_name", "BatchResult", "run_batch", "propose_job", "validate_client",
           "format_summary", "submission_order", "WarmKernel", "worker_kernel",
           "SUMMARY_FILE", "WARNINGS_FILE",
           "SUMMARY_COLUMNS", "CLUSTER_CONFIG", "BLAS_THREADS_ENV"]

CLUSTER_CONFIG = {"distributed.worker.profile.enabled": False,
                  "distributed.admin.system-monitor.interval": "5s",
                  "distributed.admin.tick.interval": "1s"}
"""Dask settings of the batch's own local cluster (scheduler, nannies and workers).

A worker's event loop is busy while its job waits for the notebook kernel: Dask's
statistical profiler walks the job thread's stack every 10 ms (papermill's client is ~60
frames deep), the loop measures its own tick every 20 ms and the system monitor reads
psutil every 0.5 s. Measured in a worker whose job waits 20 s (load 10-17): 0.73-0.75
CPU-s of the worker's main thread with Dask's defaults, 0.31 without the profiler, 0.11
with these three, i.e. ~0.035 -> ~0.005 CPU-s a second of every job. Nothing the batch
reads depends on them (they feed the dashboard's profile and plots, and the warning of a
blocked event loop); the memory monitor that terminates a worker running out of memory
keeps its 0.1 s. Workers of an existing scheduler (``run_batch(scheduler=...)``) run with
their own settings: start them with the same, e.g.
``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False
DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL=5s
DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL=1s dask worker ...``."""

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
SUMMARY_FILE = "batch_summary.csv"
SUMMARY_COLUMNS = ("client", "status", "seconds", "run_at", "output", "error", "warning")
"""``warning``: an ``ok`` proposal's trades start a plan that cannot be completed
(:data:`pma_lab.report.proposal.TRADES_WARNING`, as the proposal and the run marker say),
and the count and first of the client's input warnings (:data:`WARNINGS_FILE`)."""
LOG_FILE = "batch.log"
WARNINGS_FILE = "warnings.txt"
"""``OUT/<client>/warnings.txt``: every input warning of the client (profile, lots files,
recent trades: a zero basis, a total row or a preamble skipped...), one a line, as ``pma-lab
lots validate`` prints them (the notes on a file's layout last, :data:`LAYOUT_WARNINGS`);
written by the validation step, absent when there is none.
Reviewer 1 (session 22): the batch dropped them all (the summary's ``warning`` empty, the
client's log too), and a service team reading only the summary never saw them."""
LAYOUT_WARNINGS = frozenset({"preamble_skipped", "footer_skipped", "ignored_column",
                             "ticker_normalized"})
"""Input warnings about a file's layout rather than its lots: listed after the others in
:data:`WARNINGS_FILE`, so the summary quotes a zero basis before a skipped title row."""
SUMMARY_WARNING_CHARS = 300
"""The longest first input warning the summary's ``warning`` cell quotes (all are in
:data:`WARNINGS_FILE`)."""


@dataclass(frozen=True)
class BatchResult:
    """Outcome of a batch run.

    Attributes
    ----------
    summary : pd.DataFrame
        Every client ever run into ``out_dir`` (:data:`SUMMARY_COLUMNS`), this run's rows
        replacing earlier ones; as written to ``batch_summary.csv``.
    seconds : float
        Wall time of this run.
    out_dir : Path
    ran : tuple[str, ...]
        The clients this run ran (the others were skipped or are from earlier runs).
    """

    summary: pd.DataFrame
    seconds: float
    out_dir: Path
    ran: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        """Clients of this run that did not finish ``ok`` (the exit status follows it)."""
        rows = self.summary[self.summary.client.isin(self.ran)]
        return int((rows.status != "ok").sum())


# ------------------------------------------------------------------------------ jobs
def validate_client(profile: str) -> tuple[str, ...]:
    """Default validation: the client's profile, lots and recent trades read, lots priced.

    The recent trades are replayed against the lots (:meth:`Client.ledger`), so a sale
    without shares behind it or a blotter buy missing from the lots file fails here, with
    the inputs, as it would in every later step.

    Returns
    -------
    tuple[str, ...]
        The client's input warnings, one line each (:meth:`Issue.format`), for
        :data:`WARNINGS_FILE` and the summary's ``warning`` cell.
    """
    from pma_lab.errors import Severity
    from pma_lab.io.client import load_client
    from pma_lab.io.holdings import check_prices

    client = load_client(profile)
    client.ledger()
    check_prices(client)  # valued at the analysis date, as every step values the lots
    warned = [w for w in client.warnings if w.severity is Severity.WARNING]
    # those about the lots (a zero basis, a total row skipped...) first, the summary's cell
    # quoting the first; the notes on the file's layout after them
    warned.sort(key=lambda w: w.code in LAYOUT_WARNINGS)
    return tuple(w.format() for w in warned)


_WORKER_KERNEL: WarmKernel | None = None


BLAS_THREADS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""The BLAS libraries' thread counts a batch worker's kernel runs with, 1 (unless the
worker's environment sets them; OpenBLAS reads them when the kernel loads it): the
workers already fill the cores, and a second BLAS thread per kernel only contends with
the other worker for small products. The same figures (the demo's outputs identical);
household's comparison 5.24-5.30 -> 4.66-4.93 CPU-s alternating (load 11-16)."""


def worker_kernel() -> WarmKernel:
    """The warm kernel of this process (one per batch worker; shut down when it exits).

    The one module-level object of the batch: a worker process lives across its clients,
    and so does its kernel.
    """
    global _WORKER_KERNEL
    if _WORKER_KERNEL is None:
        import atexit

        # one BLAS thread in the kernel unless this worker's environment says otherwise
        # (BLAS_THREADS_ENV), set in the kernel's environment only: the worker's own (an
        # external scheduler's, running other tasks too) is left as it is
        _WORKER_KERNEL = WarmKernel(env={v: "1" for v in BLAS_THREADS_ENV
                                         if v not in os.environ})
        atexit.register(_WORKER_KERNEL.close)
    return _WORKER_KERNEL


def propose_job(profile: str, out_dir: str, params: dict) -> dict:
    """Default job: render one client's proposal (runs inside a Dask worker).

    The worker's warm kernel (:func:`worker_kernel`) executes the notebook; a job that
    finds it busy (a multi-threaded worker of an external scheduler) starts its own. The
    kernels compare the plans in one process (:data:`~pma_lab.report.proposal.PLAN_WORKERS_ENV`
    set to 1 unless the worker's environment sets it); the warm kernel runs one BLAS
    thread (:data:`BLAS_THREADS_ENV`, in the kernel's environment only).
    """
    from pma_lab.report.proposal import PLAN_WORKERS_ENV, render_proposal

    # this worker is one of as many as there are cores: its kernels compare the plans in
    # their own process rather than forking two more per client (the same results, 5-10 %
    # less CPU); set before the worker's kernel starts, which inherits it
    os.environ.setdefault(PLAN_WORKERS_ENV, "1")
    # (its kernel runs numpy on one BLAS thread: worker_kernel, BLAS_THREADS_ENV)
    kernel = worker_kernel()
    if kernel.lock.acquire(blocking=False):
        mark = kernel.log_size()
        try:
            out = render_proposal(profile, out_dir, kernel=kernel, **params)
        finally:
            # the kernel's own messages of this run go to this client's log (stderr here)
            chatter = kernel.log_since(mark)
            if chatter:
                sys.stderr.flush()
                os.write(2, chatter)
            kernel.lock.release()
    else:
        out = render_proposal(profile, out_dir, **params)
    return {"output": str(out.html), "pdf": str(out.pdf) if out.pdf else "",
            "warning": out.warning}


def _warm() -> None:
    """Load what validation needs once per worker (modules, the known tickers)."""
    from pma_lab.market.data import known_tickers

    known_tickers()


SUMMARY_ERROR_CHARS = 2000
"""The longest error the summary's ``error`` cell holds (the whole message is in
``OUT/<client>/error.txt``)."""


def _summary_error(e: BaseException) -> str:
    """The error for the summary's cell, the whole message on one line.

    Every line of the message (each problem's file, row, column and fix), joined by
    `` | ``, up to :data:`SUMMARY_ERROR_CHARS` characters.
    """
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    text = f"{type(e).__name__}: {' | '.join(lines)}" if lines else type(e).__name__
    if len(text) > SUMMARY_ERROR_CHARS:
        text = text[:SUMMARY_ERROR_CHARS - 40].rstrip() + " ... (the rest in error.txt)"
    return text


def _write_error(out_dir: Path, e: BaseException) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "error.txt",
               f"{type(e).__name__}: {e}\n\n--- where it happened (for the developers) ---\n"
               f"{traceback.format_exc()}")


def _input_warnings(out_dir: Path, lines: Sequence[str]) -> str:
    """Write the input warnings to :data:`WARNINGS_FILE`; the summary's cell for them.

    Written atomically, one a line; an earlier file is removed when there is none. The
    cell gives their count and the first one.
    """
    path = out_dir / WARNINGS_FILE
    if not lines:
        if path.is_file() and not path.is_symlink():
            path.unlink()  # an earlier run's warnings no longer hold
        return ""
    if path.is_symlink():
        raise OutputPathError(f"{path}: refusing to write through a symbolic link")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(path, "".join(f"{ln}\n" for ln in lines))
    first = " ".join(str(lines[0]).split())
    if len(first) > SUMMARY_WARNING_CHARS:
        first = first[:SUMMARY_WARNING_CHARS - 3].rstrip() + "..."
    n = len(lines)
    return (f"{n} input warning{'s' if n != 1 else ''} (all in {out_dir.name}/"
            f"{WARNINGS_FILE}), the first: {first}")


def _checked(validate: Callable[[str], Sequence[str] | None], profile: str,
             out_dir: str) -> dict:
    """Validate one client's inputs; a failure writes ``error.txt`` (runs in a worker).

    The input warnings ``validate`` returns go to :data:`WARNINGS_FILE` and, counted with
    the first of them, to the row's ``input_warnings``.
    """
    t0 = time.perf_counter()
    try:
        warned = validate(profile)
        cell = _input_warnings(Path(out_dir), [str(w) for w in warned or ()])
        return {"status": "ok", "seconds": time.perf_counter() - t0, "error": "",
                "input_warnings": cell}
    except Exception as e:  # noqa: BLE001 - reported per client, not hidden
        d = Path(out_dir)
        _write_error(d, e)
        clear_marker(d)  # earlier outputs no longer match these inputs
        w = d / WARNINGS_FILE
        if w.is_file() and not w.is_symlink():
            w.unlink()  # an earlier run's: these inputs failed before their warnings
        return {"status": "failed", "seconds": time.perf_counter() - t0,
                "error": _summary_error(e), "output": ""}


_REDIRECT = threading.Lock()


@contextlib.contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout/stderr (and its children's, e.g. kernels) to ``log``.

    File descriptors are per process: on a worker running several jobs at once (an
    external scheduler's multi-threaded worker) only the first job redirects them.
    """
    if not _REDIRECT.acquire(blocking=False):
        yield
        return
    try:
        with _redirected(log):
            yield
    finally:
        _REDIRECT.release()


@contextlib.contextmanager
def _redirected(log: Path) -> Iterator[None]:
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


def _guarded(job: Callable[[str, str, dict], dict], profile: str, out_dir: str,
             params: dict, cache: str | None = None) -> dict:
    """Run a job and turn any exception into a row: one client never stops the others.

    Runs inside a worker: the old marker goes first, the job's output (and its kernel's)
    goes to ``batch.log``, and the marker listing the folder's files is written last.
    """
    t0 = time.perf_counter()
    d = Path(out_dir)
    if cache and not os.environ.get("PMA_LAB_CACHE"):
        os.environ["PMA_LAB_CACHE"] = cache  # kernels started by the job inherit it
    try:
        d.mkdir(parents=True, exist_ok=True)
        clear_marker(d)
        (d / "error.txt").unlink(missing_ok=True)
        log = d / LOG_FILE
        if log.is_symlink():
            raise OutputPathError(f"{log}: refusing to write through a symbolic link")
        with _output_to(log):
            info = job(profile, out_dir, params)
        files = sorted(p for p in d.iterdir() if p.is_file() and not p.is_symlink()
                       and p.name not in (MARKER, LOG_FILE) and not p.name.startswith("."))
        write_marker(d, files, {"profile": profile})
        return {"status": "ok", "seconds": time.perf_counter() - t0, "error": "", **info}
    except Exception as e:  # noqa: BLE001 - reported per client in the summary, not hidden
        _write_error(d, e)
        return {"status": "failed", "seconds": time.perf_counter() - t0,
                "error": _summary_error(e), "output": ""}


# ---------------------------------------------------------------------------- processes
class _Descendants:
    """Processes started by the batch (workers, their kernels), to stop them at the end.

    Snapshots are taken while the batch runs, so a kernel orphaned by a killed worker is
    still known; at the end every one still running is terminated (then killed).
    """

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self._before = {p.pid for p in self._me.children(recursive=True)}
        self.seen: dict[int, object] = {}

    def snapshot(self) -> None:
        import psutil

        try:
            for p in self._me.children(recursive=True):
                if p.pid in self._before or p.pid in self.seen:
                    continue
                with contextlib.suppress(psutil.Error):
                    # multiprocessing's resource tracker is shared by the whole process
                    # and exits with it; every other new process is the batch's
                    if "multiprocessing.resource_tracker" in " ".join(p.cmdline()):
                        self._before.add(p.pid)
                        continue
                    self.seen[p.pid] = p
        except psutil.Error:
            pass

    def stop(self, grace: float = 3.0) -> None:
        import psutil

        alive = [p for p in self.seen.values() if p.is_running()]  # type: ignore[attr-defined]
        for p in alive:
            with contextlib.suppress(psutil.Error):
                p.terminate()  # type: ignore[attr-defined]
        _, left = psutil.wait_procs(alive, timeout=grace)
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(left, timeout=grace)


class _Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into an exception so the batch cleans up and writes its summary."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut cleanup
        raise _Interrupted(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


# ------------------------------------------------------------------------------ summary
def _read_summary(path: Path) -> dict[str, dict]:
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        old = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError):
        return {}
    rows = {}
    for r in old.to_dict("records"):
        row = {c: r.get(c, "") for c in SUMMARY_COLUMNS}
        row["client"] = str(row["client"]).lstrip("'")  # neutralised when written
        row["seconds"] = pd.to_numeric(row["seconds"], errors="coerce")
        rows[row["client"]] = row
    return rows


def _on_disk(row: dict, folder: Path) -> dict:
    """An ``ok`` row whose outputs are gone or changed becomes ``missing``."""
    if row["status"] != "ok":
        return row
    m = check_marker(folder, verify_hashes=False)
    if m.ok:
        return row
    return {**row, "status": "missing", "error": "; ".join(m.problems)[:300]}


def submission_order(names: Iterable[str], previous: Mapping[str, Mapping]) -> list[str]:
    """The order the batch hands its clients to the workers: slowest first.

    Each free worker takes the next client, so the batch ends when the worker that took
    the last one finishes it: a long client started last keeps one worker busy while the
    others idle. The clients with an ``ok`` row in the earlier summary (``previous``, by
    client) go slowest first by that run's ``seconds``, after the clients never timed (no
    row, not ``ok``, or no seconds), which keep their order in ``names``: their cost is not
    known, and a first run keeps the input order. Clients timed alike keep their order
    too. The summary's rows stay in client order whatever the order of the jobs.

    Parameters
    ----------
    names : Iterable[str]
        The clients to run, in input order.
    previous : Mapping[str, Mapping]
        The earlier summary's rows by client (``status`` and ``seconds`` are read).

    Returns
    -------
    list[str]
        ``names`` in the order to submit them.
    """
    untimed, timed = [], []
    for n in names:
        row = previous.get(n) or {}
        secs = pd.to_numeric(row.get("seconds"), errors="coerce")
        if row.get("status") == "ok" and pd.notna(secs) and math.isfinite(secs):
            timed.append((float(secs), n))
        else:
            untimed.append(n)
    timed.sort(key=lambda t: -t[0])  # stable: ties keep the input order
    return untimed + [n for _, n in timed]


def format_summary(summary: pd.DataFrame, out_dir: Path | None = None, width: int = 100
                   ) -> str:
    """The summary as a table that fits ``width`` columns (seconds rounded, paths relative).

    Long client names, paths and errors are shortened with an ellipsis; the CSV keeps them
    in full.
    """
    def cut(text: object, n: int, left: bool = False) -> str:
        s = "" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text)
        s = " ".join(s.split())
        if len(s) <= n:
            return s
        return ("\u2026" + s[-(n - 1):]) if left else (s[:n - 1] + "\u2026")

    def rel(p: object) -> str:
        if not isinstance(p, str) or not p:
            return ""
        if out_dir is not None:
            with contextlib.suppress(ValueError):
                return str(Path(p).relative_to(out_dir))
        return p

    lines = [f"{'client':<20} {'status':<11} {'secs':>5}  {'output / error'}"]
    for r in summary.to_dict("records"):
        secs = pd.to_numeric(r.get("seconds"), errors="coerce")
        shown = f"{secs:5.0f}" if pd.notna(secs) else f"{'':5}"
        ok, warning = r.get("status") == "ok", r.get("warning")
        warned = ok and isinstance(warning, str) and bool(warning)
        detail = (f"WARNING: {warning}" if warned else rel(r.get("output")) if ok
                  else r.get("error", ""))
        head = f"{cut(r['client'], 20):<20} {cut(r['status'], 11):<11} {shown}  "
        lines.append(head + cut(detail, width - len(head), left=ok and not warned))
    return "\n".join(line.rstrip()[:width] for line in lines)


# ------------------------------------------------------------------------------- runner
def run_batch(clients_dir: str | Path, out_dir: str | Path, workers: int = 2,
              scheduler: str | None = None, params: dict | None = None,
              job: Callable[[str, str, dict], dict] = propose_job,
              progress: bool = True, skip_existing: bool = False,
              only_failed: bool = False,
              validate: Callable[[str], Sequence[str] | None] = validate_client
              ) -> BatchResult:
    """Run ``job`` for every client under ``clients_dir`` on a Dask cluster.

    Parameters
    ----------
    clients_dir : str | Path
        Folder with one sub-folder per client holding ``profile.toml``.
    out_dir : str | Path
        Outputs go to ``out_dir/<safe client folder name>/``; the summary to
        ``out_dir/batch_summary.csv``.
    workers : int
        Local worker processes (ignored with ``scheduler``).
    scheduler : str | None
        Address of an existing Dask scheduler (``tcp://host:8786``); its workers must see
        the same paths.
    params : dict | None
        Extra parameters for the job (e.g. the proposal's ``formats``).
    job : Callable
        ``job(profile, out_dir, params) -> dict`` (default: render the proposal).
    progress : bool
        Show a progress bar on stderr.
    skip_existing : bool
        Skip clients whose outputs are complete (a valid ``run_complete.json``).
    only_failed : bool
        Run only the clients whose row in the existing summary is not ``ok``.
    validate : Callable
        ``validate(profile)`` raising on bad inputs; run for every client first. What it
        returns (``None`` or the input warnings, one line each) goes to
        ``OUT/<client>/warnings.txt`` (:data:`WARNINGS_FILE`) and, counted with the first
        one, to the summary's ``warning`` cell.

    Returns
    -------
    BatchResult

    Raises
    ------
    DataError
        When the folder holds no client.
    OutputPathError
        When a client's output folder is a symbolic link.
    KeyboardInterrupt
        On Ctrl-C or SIGTERM, after the cluster is stopped and the summary written.
    """
    import dask
    from dask.distributed import Client, LocalCluster

    t0 = time.perf_counter()
    started = time.time()
    run_at = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    # resolved once: every path a job reads and every error it writes is absolute, as the
    # files a profile names are (a relative folder mixed the two in one error cell)
    folder = Path(clients_dir).resolve()
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
        dest = out / n
        if dest.parent != out:  # defence in depth: the name is already sanitised
            raise DataError(f"client folder {p.parent.name!r} would escape {out}")
        if dest.is_symlink():
            raise OutputPathError(f"{dest}: a client's output folder is a symbolic link; "
                                  "remove it (outputs are never written through links)")
    previous = _read_summary(out / SUMMARY_FILE)
    todo = dict(names)
    if only_failed:
        todo = {n: p for n, p in todo.items() if n in previous
                and previous[n].get("status") != "ok"}
    if skip_existing:  # sizes, not hashes: thousands of 5 MB reports are checked quickly
        todo = {n: p for n, p in todo.items()
                if not check_marker(out / n, verify_hashes=False).ok}
    rows: dict[str, dict] = {}
    warned: dict[str, str] = {}  # client -> its input warnings' summary cell

    def row(n: str, r: dict) -> None:
        if r["status"] == "failed" and "lost" in r:  # the worker died: say so on disk too
            with contextlib.suppress(Exception):
                write_text(out / n / "error.txt", r["error"] + "\n")
                clear_marker(out / n)
        rows[n] = {"client": n, "status": r["status"], "seconds": round(r["seconds"], 1),
                   "run_at": run_at, "output": r.get("output", ""), "error": r["error"],
                   "warning": "; ".join(filter(None, (r.get("warning", ""),
                                                       warned.get(n, ""))))}

    # every client at one as-of date shares the risk model: the workers (and the notebook
    # kernels they start) reuse it from a disk cache inside the output folder
    cache = os.environ.get("PMA_LAB_CACHE") or str(out / ".cache")
    # the processes to stop at the end are those of the batch's own cluster; an existing
    # scheduler's workers (and their kernels) are not the batch's to stop, and not looked for
    procs = None if scheduler else _Descendants()
    cluster = client = None
    futures: dict = {}
    bar = None
    try:
        with _sigterm_raises():
            if todo:
                # one task per worker at a time, and no retry of a task whose worker died:
                # the client that killed a worker (signal, out of memory) is the one failed
                with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                                      "distributed.scheduler.worker-saturation": 1.0,
                                      **CLUSTER_CONFIG}):
                    if scheduler:
                        client = Client(scheduler)
                    else:
                        cluster = LocalCluster(
                            n_workers=workers, threads_per_worker=1, processes=True,
                            host="127.0.0.1", dashboard_address=None, silence_logs=50,
                            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
                        client = Client(cluster)
            if progress and todo:
                from tqdm import tqdm

                bar = tqdm(total=len(todo), desc="proposals", unit="client", ncols=100,
                           file=sys.stderr)
            # 1. validate every client's inputs before any job (and kernel) starts
            if todo:
                with contextlib.suppress(Exception):
                    client.run(_warm)  # type: ignore[union-attr]
            checks = {client.submit(_checked, validate, str(p), str(out / n),  # type: ignore[union-attr]
                                    key=f"validate-{n}", pure=False): n
                      for n, p in todo.items()}
            for n, r in _completed(checks, procs):
                warned[n] = r.get("input_warnings", "")
                if r["status"] != "ok":
                    row(n, r)
                    if bar is not None:
                        bar.update(1)
            # 2. one job per valid client, slowest first (the first submitted, the
            # highest priority: each free worker takes the next one)
            order = submission_order([n for n in todo if n not in rows], previous)
            futures = {client.submit(_guarded, job, str(todo[n]), str(out / n),  # type: ignore[union-attr]
                                     dict(params or {}), cache, key=f"proposal-{n}",
                                     pure=False, priority=len(order) - i): n
                       for i, n in enumerate(order)}
            for n, r in _completed(futures, procs):
                row(n, r)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(failed=sum(1 for x in rows.values()
                                               if x["status"] != "ok"))
    finally:
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleanup must finish
        if bar is not None:
            bar.close()
        for n in todo:
            if n in rows:
                continue
            if _finished_since(out / n, started):  # done, but its result never arrived
                row(n, {"status": "ok", "seconds": float("nan"), "error": "",
                        "output": str(out / n)})
            else:
                row(n, {"status": "interrupted", "seconds": float("nan"),
                        "error": "the batch stopped before this client finished"})
        if procs is not None:
            procs.snapshot()
        if client is not None and futures:
            with contextlib.suppress(Exception):
                client.cancel(list(futures))
        for c in (client, cluster):
            if c is not None:
                with contextlib.suppress(Exception):
                    c.close(timeout=10)
        if procs is not None:
            procs.stop()
        merged = {**previous, **rows}
        summary = pd.DataFrame([_on_disk(merged[n], out / n) for n in sorted(merged)],
                               columns=list(SUMMARY_COLUMNS))
        write_csv(summary, out / SUMMARY_FILE)
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return BatchResult(summary, time.perf_counter() - t0, out, tuple(sorted(todo)))


def _finished_since(folder: Path, since: float) -> bool:
    """True when ``folder`` holds a complete run written after ``since`` (epoch seconds)."""
    marker = folder / MARKER
    return check_marker(folder, verify_hashes=False).ok and marker.stat().st_mtime >= since


SNAPSHOT_SECONDS = 1.0
"""How often the batch looks for the processes its workers started (:class:`_Descendants`):
a snapshot reads every process of the machine (psutil's parent map: 2-8 ms with 100-800
processes), which five times a second cost the batch's own process ~0.01-0.04 CPU-s a
second of the batch. A kernel lives as long as its worker, so once a second finds it. On
an existing scheduler (``run_batch(scheduler=...)``) the batch stops no process and takes
no snapshot."""


def _completed(futures: dict, procs: _Descendants | None) -> Iterator[tuple[str, dict]]:
    """Yield ``(client, row)`` as futures finish; a lost worker is a failed row.

    ``procs`` (the batch's own cluster's processes, ``None`` on an existing scheduler) is
    snapshotted every :data:`SNAPSHOT_SECONDS` meanwhile.
    """
    pending = dict(futures)
    last = -math.inf
    while pending:
        if procs is not None and time.monotonic() - last >= SNAPSHOT_SECONDS:
            procs.snapshot()
            last = time.monotonic()
        done = [f for f in pending if f.done()]
        if not done:
            time.sleep(0.2)
            continue
        for f in done:
            n = pending.pop(f)
            try:
                r = f.result()
            except Exception as e:  # noqa: BLE001 - KilledWorker, cancelled, lost: this client
                msg = _summary_error(e)
                if type(e).__name__ == "KilledWorker":
                    msg = ("KilledWorker: the worker running this client died (killed, or out "
                           "of memory); the other clients were not affected")
                r = {"status": "failed", "seconds": float("nan"), "error": msg, "output": "",
                     "lost": True}
            yield n, r
