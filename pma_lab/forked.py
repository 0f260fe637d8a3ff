"""Run independent jobs in processes forked from this one (plan comparisons, frontier chains).

:func:`run_forked` hands each worker the job by fork (a closure over whatever it needs:
nothing is pickled but the job numbers and the results), kills its workers when the
caller's ``cancel`` event is set, and never leaves a worker behind (each asks to be killed
when its parent dies). Used by :func:`pma_lab.plan.transition.run_transition` (one job per
plan) and :func:`pma_lab.optimize.frontier.efficient_frontier` (``workers=2``: one warm
chain of points per worker).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
import queue
import sys
import threading
from collections.abc import Callable

from pma_lab.errors import CancelledError, PmaLabError

__all__ = ["run_forked", "CANCEL_POLL_S"]


CANCEL_POLL_S = 0.05
"""How often a running comparison looks at its ``cancel`` event (seconds)."""


def _check(cancel: threading.Event | None, what: str = "the plan comparison") -> None:
    """Raise :class:`CancelledError` when ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise CancelledError(f"{what} was cancelled by its caller before it finished; "
                             "nothing was kept: run it again for its result")


def run_forked(job: Callable[[int], object], n: int, workers: int,
               cancel: threading.Event | None = None,
               serial_hint: str = "TransitionSettings(workers=1)") -> list:
    """``[job(0), ..., job(n - 1)]`` computed by ``workers`` processes forked from this one.

    ``job`` (a closure over whatever it needs: the client's setup, the paths) reaches the
    workers by fork, as the argument of their target, so nothing is pickled but the job
    numbers and the results, and nothing is left in module state. Workers take the next
    job number as they finish one (the plans take unequal times). On Linux each worker
    asks to be killed when its parent dies: a parent killed mid-comparison (a batch
    worker's kernel replaced, Ctrl-C on a CLI run) would otherwise leave it waiting on a
    queue nobody writes to, forever.

    When ``cancel`` is set (another thread decided the results are no longer needed) the
    workers are killed within :data:`CANCEL_POLL_S` seconds and :class:`CancelledError`
    is raised: no result is returned, and no worker is left behind. ``serial_hint`` names
    the caller's setting that runs the jobs in this process instead, for the message when
    a worker dies without its result.

    Raises
    ------
    CancelledError
        When ``cancel`` is set before every job is done.
    PmaLabError
        When a worker dies without a result (the job's own exceptions are re-raised).
    """
    _check(cancel)
    mpc = mp.get_context("fork")
    todo, done = mpc.Queue(), mpc.Queue()
    for i in range(n):
        todo.put(i)
    for _ in range(workers):
        todo.put(None)
    procs = [mpc.Process(target=_serve, args=(job, todo, done, os.getpid()), daemon=True)
             for _ in range(workers)]
    # the objects the workers inherit leave their garbage collector's view (gc.freeze):
    # a full collection in a worker walked them all (~0.1 CPU-s on the frontier's
    # benchmark book, now and then) and wrote every page it touched, which the fork then
    # copied; this process collects them as before once the workers are forked
    # only when the caller froze nothing itself: gc.unfreeze() cannot tell its objects
    # from ours, so a caller's freeze is left as it was and nothing more is frozen for
    # good (review 15 L1: the objects made since a caller's freeze stayed frozen)
    mine = gc.get_freeze_count() == 0
    if mine:
        gc.freeze()
    try:
        for p in procs:
            p.start()
    finally:
        if mine:
            gc.unfreeze()
    out: dict[int, object] = {}
    poll = 1.0 if cancel is None else CANCEL_POLL_S
    try:
        while len(out) < n:
            _check(cancel)
            try:
                i, ok, value = done.get(timeout=poll)
            except queue.Empty:
                # every worker gone with results missing (one killed mid-job, out of
                # memory, or a result that could not be sent back): nothing more will come.
                # A worker that dies while others live is not the end: they take its
                # remaining jobs. (A result sent just before its worker exited is read
                # first: a worker flushes its results before it exits.)
                if all(p.exitcode is not None for p in procs):
                    try:
                        i, ok, value = done.get(timeout=0.1)
                    except queue.Empty:
                        raise PmaLabError(
                            "a worker process died without its result (killed, out of "
                            "memory, or a result that does not pickle); run with "
                            f"{serial_hint} to see why") from None
                else:
                    continue
            if not ok:
                raise value
            out[i] = value
    finally:
        stopped = cancel is not None and cancel.is_set()
        for p in procs:
            if p.is_alive() and stopped:
                p.kill()  # cancelled: at once, whatever the worker is doing
            elif p.is_alive():
                p.terminate()
            p.join()
        todo.cancel_join_thread()  # job numbers nobody will read are not waited on
    return [out[i] for i in range(n)]


def _serve(job: Callable[[int], object], todo: mp.Queue, done: mp.Queue, parent: int) -> None:
    """A forked worker: run the jobs whose numbers it takes until told to stop (None)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)
    while (i := todo.get()) is not None:
        try:
            done.put((i, True, job(i)))
        except Exception as e:  # noqa: BLE001 - handed to the parent, which raises it
            done.put((i, False, e))
    # send every result, then leave without the parent's exit handlers: forked from a
    # ThreadPoolExecutor thread (the dashboard's), the worker's only thread is that
    # executor's, and concurrent.futures' exit handler would join it (RuntimeError
    # "cannot join current thread": exit status 1 after all its jobs were done)
    done.close()
    done.join_thread()
    os._exit(0)
