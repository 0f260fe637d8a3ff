"""One BLAS thread while small matrix products run.

The certified dual (:mod:`pma_lab.optimize.dual_qp`) evaluates thousands of small
products a rebalance (a Hessian ``E' E`` of ~40 x 40 from a few hundred names). OpenBLAS
splits a product of that size over its threads, and on a busy machine (the plan
comparison's workers, a batch, other users: 2 cores here) waking them costs far more
than the product: session 15 measured ~1.25 ms per evaluation of the dual with the
default threads at a load average of 3.5 against ~0.17 ms with one. The products the
dual, the plan steps and the Monte Carlo replay make gave the same values to the bit on
one thread (tests; the demo's outputs identical), but that is not a property of BLAS in
general: a long dot product (``np.dot`` of vectors above ~10,000 elements) is a sum
OpenBLAS splits over its threads, so its last bits can differ with the thread count
(review 15 M1: 1.85e-13 on 20,000 elements).

:func:`one_thread` sets numpy's OpenBLAS to one thread and restores its count when the
last block that asked for it ends. The count is the process's (OpenBLAS's
``openblas_set_num_threads_local`` sets it for every thread, despite its name): another
thread's BLAS call in the meantime runs on one thread too, so its long sums may differ in
their last bits from a run outside the block (the dashboard's background comparison is
such a thread). A process forked inside a block (the plan comparison's look-ahead
workers) starts inside it, on one thread, as the code it runs would be. Where numpy's
BLAS is not that OpenBLAS (another BLAS, another platform's wheel) it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["one_thread", "thread_setter"]

_LOCK = threading.Lock()
_DEPTH = [0, 0]  # blocks inside one_thread, the thread count before the first


def _after_fork() -> None:
    """A forked child's own lock (the parent's may have been held by another thread)."""
    global _LOCK
    _LOCK = threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


@functools.cache
def thread_setter():
    """The ``openblas_set_num_threads_local`` of numpy's OpenBLAS (``None``: none found).

    It sets the thread count and returns the count before. Looked for in the OpenBLAS
    numpy's wheel ships (``numpy.libs`` beside the package,
    already loaded by numpy: loading it again returns the same library).
    """
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*.so*"))):
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block with one OpenBLAS thread.

    Nested and concurrent blocks: the count is restored when the last ends.
    """
    fn = thread_setter()
    if fn is None:
        yield
        return
    with _LOCK:
        if _DEPTH[0] == 0:
            _DEPTH[1] = fn(1)
        _DEPTH[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH[0] -= 1
            if _DEPTH[0] == 0:
                fn(_DEPTH[1])
