"""Checkpoints: points in long computations where a background thread may pause.

A thread that computes something nobody is waiting for yet (the dashboard's idle-time
prefetch) shares the process's interpreter lock with the thread a user is waiting on: in
CPython only one of them runs Python code at a time, whatever the operating system's
priorities say. It can give way cooperatively instead: the computation calls
:func:`checkpoint` before each solve (a solver call holds the interpreter lock for its
whole run), and a thread that installed a hook with :func:`on_checkpoint` runs the hook
there, which may wait (pause while the user's request is computed) or raise (stop).

Threads without a hook pay one thread-local look-up per solve; results never depend on
the hook (it only decides when the computation goes on).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["checkpoint", "on_checkpoint"]

_local = threading.local()


def checkpoint() -> None:
    """Run the calling thread's checkpoint hook, if it installed one (else nothing)."""
    hook = getattr(_local, "hook", None)
    if hook is not None:
        hook()


@contextmanager
def on_checkpoint(hook: Callable[[], None]) -> Iterator[None]:
    """Run ``hook`` at every :func:`checkpoint` this thread reaches inside the block.

    Parameters
    ----------
    hook : Callable[[], None]
        Called with no argument; it may block (pause the computation) or raise (stop it:
        the exception leaves the computation as any error would).
    """
    before = getattr(_local, "hook", None)
    _local.hook = hook
    try:
        yield
    finally:
        _local.hook = before
