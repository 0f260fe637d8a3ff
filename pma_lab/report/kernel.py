"""A Jupyter kernel kept alive across notebook runs (batch workers reuse it)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from pma_lab.files import safe_name  # noqa: F401 (re-exported)

__all__ = ["WarmKernel", "RESET_CODE", "GC_THRESHOLD", "kernel_transport", "kernel_manager_class",
           "kernel_client_class"]


def kernel_transport() -> str:
    """How pma_lab talks to its notebook kernels: ``ipc`` where the platform has it.

    Over ``tcp`` without CurveZMQ keys ipykernel (7 and later) warns at every start that
    "Kernel is running over TCP without encryption" (and ``pma-lab propose`` printed it on
    the console): code and outputs, a client's holdings included, would cross a localhost
    port in plain text. ``ipc`` uses Unix-domain sockets in the Jupyter runtime folder
    (readable by the user only), opens no port and raises no warning; ``tcp`` stays where
    ZeroMQ has no ``ipc`` (Windows).
    """
    import zmq

    return "ipc" if zmq.has("ipc") else "tcp"


def kernel_manager_class() -> type:
    """The kernel manager of every notebook kernel pma_lab starts (:func:`kernel_transport`).

    jupyter_client's ``AsyncKernelManager`` with the transport set and, for ``ipc``, the
    sockets' path made absolute and unique to the kernel
    (``<jupyter runtime dir>/pma-lab-<id>-ipc-<n>``): jupyter_client's default is the
    relative ``kernel-ipc``, which the kernel binds in its working folder (the notebook's)
    and a client looks for in its own. The files are removed when the kernel shuts down.
    papermill takes it as ``kernel_manager_class``
    (:func:`pma_lab.report.proposal.render_proposal`); :class:`WarmKernel` uses it too. Its
    clients are :func:`kernel_client_class`'s (ready without a fixed wait).
    """
    global _MANAGER
    if _MANAGER is None:
        import uuid

        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.paths import jupyter_runtime_dir
        from traitlets import default

        class PmaLabKernelManager(AsyncKernelManager):
            @default("transport")
            def _default_transport(self) -> str:
                return kernel_transport()

            @default("ip")
            def _default_ip(self) -> str:
                if self.transport != "ipc":
                    return super()._ip_default()
                folder = Path(jupyter_runtime_dir())
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                return str(folder / f"pma-lab-{uuid.uuid4().hex[:12]}-ipc")

            @default("client_factory")
            def _default_client_factory(self) -> type:
                return kernel_client_class()

        _MANAGER = PmaLabKernelManager
    return _MANAGER


_MANAGER: type | None = None

IOPUB_CHECK_S = 0.2
"""Seconds a client waits for the kernel's IOPub answer to its ``kernel_info`` request
before asking again (jupyter_client's own check waits as long)."""


def kernel_client_class() -> type:
    """The kernel client of :func:`kernel_manager_class`: ready as soon as IOPub answers.

    jupyter_client's ``wait_for_ready`` ends by reading IOPub until it has been silent for
    0.2 s, so every client waits at least that long doing nothing; a proposal made two
    (papermill's, and :class:`WarmKernel`'s reset): 0.4 s of each warm proposal's wall
    time. This client asks for ``kernel_info`` and reads IOPub until the kernel's ``idle``
    status for that very request: the kernel publishes it after everything it published
    before (one ordered IOPub stream), so IOPub is then connected and drained, which is
    what the quiet period stood for. When the subscription missed that status (it
    connects asynchronously), the request is repeated after :data:`IOPUB_CHECK_S` seconds.
    """
    global _CLIENT
    if _CLIENT is None:
        import time
        from queue import Empty

        from jupyter_client.asynchronous.client import AsyncKernelClient
        from jupyter_client.utils import ensure_async

        class PmaLabKernelClient(AsyncKernelClient):
            async def wait_for_ready(self, timeout: float | None = None) -> None:
                deadline = time.monotonic() + (float("inf") if timeout is None
                                               else timeout)
                while True:
                    msg_id = self.kernel_info()
                    if await self._replied(msg_id, deadline) and \
                            await self._iopub_idle(msg_id, deadline):
                        return
                    if not await self._async_is_alive():
                        raise RuntimeError("Kernel died before replying to kernel_info")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

            async def _replied(self, msg_id: str, deadline: float) -> bool:
                """Whether the shell channel brought the reply to ``msg_id`` (1 s at most)."""
                stop = min(deadline, time.monotonic() + 1.0)
                while (left := stop - time.monotonic()) > 0:
                    try:
                        msg = await ensure_async(self.shell_channel.get_msg(timeout=left))
                    except Empty:
                        return False
                    if msg["parent_header"].get("msg_id") == msg_id and \
                            msg["msg_type"] == "kernel_info_reply":
                        self._handle_kernel_info_reply(msg)
                        return True
                return False

            async def _iopub_idle(self, msg_id: str, deadline: float) -> bool:
                """Whether IOPub brought the ``idle`` status of ``msg_id`` (read up to it).

                Once a message of that request has come (its ``busy`` status), IOPub is
                connected and the ``idle`` follows: it is waited for until the deadline
                (60 s at most; a loaded machine delays it), not :data:`IOPUB_CHECK_S`.
                """
                wait = IOPUB_CHECK_S
                while True:
                    try:
                        msg = await ensure_async(self.iopub_channel.get_msg(timeout=wait))
                    except Empty:
                        return False
                    if msg["parent_header"].get("msg_id") != msg_id:
                        continue
                    if msg["msg_type"] == "status" and \
                            msg["content"].get("execution_state") == "idle":
                        return True
                    wait = max(IOPUB_CHECK_S, min(deadline - time.monotonic(), 60.0))

        _CLIENT = PmaLabKernelClient
    return _CLIENT


_CLIENT: type | None = None


RESET_CODE = """\
def __pma_lab_reset(cwd, collect):
    import gc, os
    full = gc.collect
    gc.collect = lambda generation=2: 0  # IPython's reset collects before it clears
    try:
        get_ipython().reset(new_session=True, aggressive=False)
    finally:
        gc.collect = full
    if collect:
        full()
    os.chdir(cwd)
__pma_lab_reset({cwd!r}, {collect!r})
"""
"""What :class:`WarmKernel` runs in its kernel before each notebook (``format``: ``cwd``,
``collect``). IPython's reset makes a full collection (its output cache's flush) while the
previous client's variables are still held, then clears the namespaces (this function's
name too; the call runs on). Here the reset makes none, and with ``collect`` the full
collection runs after the clearing, so it also frees the last client's cycles."""


GC_THRESHOLD = 10_000
"""The kernel's youngest-generation threshold for the cycle collector (Python's default:
700 allocations net). A proposal's cells allocate millions of short-lived objects (pandas
frames and indexes, cvxpy expressions): at 700 the kernel ran ~110-140 young collections a
client (plus ~5-7 of the middle generation), ~0.03-0.05 CPU-s a client by the collector's
own callbacks (``gc.callbacks``; household, retiree, young-pro, one plan process, load
13-18); at 10,000, ~2-5 young collections and no middle one, ~0.007-0.021 CPU-s
(twenty-third session; 0.035-0.066 -> 0.010-0.029 with two kernels alternating at load
25-30), and no full collection while the kernel imports the libraries for its first client
(~0.2 CPU-s). The full collection of :data:`RESET_CODE` is unchanged, so the cyclic garbage
is freed as before; a young generation of 10,000 objects holds ~1 MB."""


class WarmKernel:
    """A Jupyter kernel kept alive across notebook runs (papermill's engine, reused).

    Starting a kernel and importing the proposal's libraries costs several seconds, more
    than most of a proposal's cells; a batch worker renders client after client through one
    kernel instead. Before every run (:meth:`prepare`) the kernel's namespace is reset
    (``InteractiveShell.reset``: every variable of the previous client is gone, imported
    modules and their caches stay) and its working folder set, so a run sees what a fresh
    kernel would, plus warm imports. The kernel is replaced after :attr:`max_runs` runs
    (memory growth) and after any run that did not finish normally (:meth:`discard`: a
    timeout, a dead kernel).

    The reset runs the full cycle collection IPython's reset makes only every
    :attr:`collect_every` runs (:data:`RESET_CODE`): a full collection walks every object
    of the warm kernel (~250,000, the libraries' own), ~0.12 CPU-s before it meets the
    previous clients' garbage, which every :attr:`collect_every` runs it frees all at once.
    The kernel's cycle collector never runs a full collection on its own here (the tax
    ledger hands the objects it makes to the oldest generation without counting them), so
    this collection is the one that frees them; until it runs they hold ~20-40 MB a client.

    The kernel process writes its own messages (not the notebook's outputs) to a log file;
    :meth:`log_since` returns what it wrote during one run, so a batch files it with that
    client. Use one instance per thread at a time (``lock`` guards it); pass
    :attr:`manager` as papermill's ``km`` (:func:`pma_lab.report.proposal.render_proposal` does,
    with ``kernel=``).

    Parameters
    ----------
    kernel_name : str
    max_runs : int
        Runs after which the kernel is restarted. Measured
        (``benchmarks/bench_warm_memory.py``, twenty-first session): the kernel's resident
        memory levels off at 630-665 MB after ~12 proposals of five sample clients in turn
        and stays there to the 30th (the cycle collection of :attr:`collect_every` frees
        the clients' garbage); 50 replaced it in nearly every 100-client batch (~5.7 s of
        a worker's time, a new kernel and printer) for no memory gained.
    env : Mapping[str, str] or None
        Variables the kernel's environment adds to this process's (the batch's one BLAS
        thread), so this process's own environment is left as it is.
    collect_every : int
        Resets between two full cycle collections in the kernel (1: every reset, as
        IPython's own reset does).
    gc_threshold : int or None
        The kernel's youngest-generation collection threshold (:data:`GC_THRESHOLD`), set
        when it starts (IPython's ``exec_lines``: no name is added to the namespace, no
        execution count used); ``None`` leaves Python's default.
    """

    def __init__(self, kernel_name: str = "python3", max_runs: int = 200,
                 env: Mapping[str, str] | None = None, collect_every: int = 4,
                 gc_threshold: int | None = GC_THRESHOLD) -> None:
        if max_runs < 1:
            raise ValueError(f"max_runs={max_runs}: must be at least 1")
        if collect_every < 1:
            raise ValueError(f"collect_every={collect_every}: must be at least 1")
        if gc_threshold is not None and gc_threshold < 1:
            raise ValueError(f"gc_threshold={gc_threshold}: must be at least 1 (or None "
                             "for Python's default)")
        self.gc_threshold = gc_threshold
        self.kernel_name = kernel_name
        self.max_runs = max_runs
        self.collect_every = collect_every
        self.collections = 0  # resets that ran a full collection (read by tests)
        self.env = dict(env or {})
        self.runs = 0  # runs of the current kernel
        self.started = 0  # kernels started so far
        self.lock = threading.Lock()
        self._km = None
        self._log: Path | None = None
        self._clients: list = []  # kernel clients made for runs (papermill's, the resets')

    @property
    def manager(self):  # noqa: ANN201 - jupyter_client.AsyncKernelManager
        """The running kernel's manager, for papermill's ``km`` (after :meth:`prepare`)."""
        if self._km is None:
            raise RuntimeError("call WarmKernel.prepare() before running a notebook")
        return self._km

    @property
    def alive(self) -> bool:
        """Whether a kernel is running."""
        from jupyter_core.utils import run_sync

        return self._km is not None and self._km.has_kernel and \
            bool(run_sync(self._km.is_alive)())

    def prepare(self, cwd: str | Path) -> None:
        """Make the kernel ready for the next notebook: reset, or a fresh one when due.

        ``cwd`` is the notebook's working folder.
        """
        from jupyter_core.utils import run_sync

        self._release_clients()
        if self._km is not None and (self.runs >= self.max_runs or not self.alive):
            self.discard()
        if self._km is None:
            import tempfile

            fd, name = tempfile.mkstemp(prefix="pma-lab-kernel-", suffix=".log")
            self._log = Path(name)
            km = kernel_manager_class()(kernel_name=self.kernel_name)
            make_client = km.client

            def tracked_client(**kw: object):  # noqa: ANN202
                kc = make_client(**kw)
                self._clients.append(kc)
                return kc

            km.client = tracked_client  # papermill's client is closed after its run
            args = ["--HistoryManager.hist_file=:memory:"]
            if self.gc_threshold is not None:  # the other two thresholds kept
                args.append("--IPKernelApp.exec_lines=__import__('gc').set_threshold("
                            f"{int(self.gc_threshold)}, *__import__('gc').get_threshold()[1:])")
            try:
                run_sync(km.start_kernel)(
                    cwd=str(cwd), stdout=fd, stderr=fd, extra_arguments=args,
                    **({"env": {**os.environ, **self.env}} if self.env else {}))
            finally:
                os.close(fd)  # the kernel holds its own copy
            self._km = km
            self.started += 1
            self.runs = 0
        else:
            collect = self.runs % self.collect_every == 0
            run_sync(self._reset)(str(cwd), collect)
            self.collections += collect
        self.runs += 1

    async def _reset(self, cwd: str, collect: bool = True) -> None:
        kc = self._km.client()  # type: ignore[union-attr]
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            reply = await kc.execute_interactive(
                RESET_CODE.format(cwd=cwd, collect=bool(collect)), store_history=False,
                timeout=60)
        finally:
            kc.stop_channels()
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"the warm kernel could not be reset: {reply['content']}")

    def _release_clients(self) -> None:
        """Close the kernel clients of earlier runs (their sockets and zmq contexts).

        papermill leaves the client it made for a kernel it does not own open; without
        this a worker would leak ~16 file descriptors per client.
        """
        clients, self._clients = self._clients, []
        for kc in clients:
            with contextlib.suppress(Exception):
                kc.stop_channels()
            if getattr(kc, "_created_context", False):
                with contextlib.suppress(Exception):
                    kc.context.destroy(linger=0)

    def log_size(self) -> int:
        """Bytes the kernel process has written to its log so far."""
        return self._log.stat().st_size if self._log and self._log.exists() else 0

    def log_since(self, offset: int) -> bytes:
        """What the kernel process wrote to its log after ``offset`` bytes."""
        if not self._log or not self._log.exists():
            return b""
        with self._log.open("rb") as f:
            f.seek(offset)
            return f.read()

    def discard(self) -> None:
        """Shut the kernel down now (the next :meth:`prepare` starts a fresh one)."""
        from jupyter_core.utils import run_sync

        self._release_clients()
        km, self._km = self._km, None
        self.runs = 0
        if km is not None and km.has_kernel:
            with contextlib.suppress(Exception):
                run_sync(km.shutdown_kernel)(now=True)
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    close = discard

    def __enter__(self) -> WarmKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
