"""One BLAS thread while the certified dual's small products run (pma_lab.blas, session 15)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pma_lab.blas import one_thread


def test_one_thread_inside_and_the_count_restored_after(blas_threads):
    blas_threads.set(2)
    with one_thread():
        assert blas_threads.count() == 1
        with one_thread():  # nested: still one, and not restored by the inner block
            assert blas_threads.count() == 1
        assert blas_threads.count() == 1
    assert blas_threads.count() == 2


def test_restored_after_an_error(blas_threads):
    blas_threads.set(2)
    with pytest.raises(ZeroDivisionError), one_thread():
        1 / 0  # noqa: B018
    assert blas_threads.count() == 2


def test_two_threads_overlapping_restore_only_when_both_end(blas_threads):
    """The count is the process's: the first block to end must not restore it while the
    other still runs, and the last restores the count before the first began."""
    blas_threads.set(2)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with one_thread():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with one_thread():
            b_in.set()
            a_out.wait(5)
            seen["b after a ended"] = blas_threads.count()

    threads = [threading.Thread(target=f) for f in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"b after a ended": 1}
    assert blas_threads.count() == 2


def test_the_duals_products_are_the_same_to_the_bit_on_one_thread(blas_threads):
    """A Hessian ``E' E`` the size of a rebalance's (400 names, 43 multipliers: OpenBLAS
    splits it over its threads) and a factor product: the same bits on one thread."""
    rng = np.random.default_rng(5)
    E, B, mu = rng.normal(size=(400, 43)), rng.normal(size=(456, 28)), rng.normal(size=28)
    blas_threads.set(2)
    many = (E.T @ E, B @ mu, B.T @ (B @ mu))
    with one_thread():
        one = (E.T @ E, B @ mu, B.T @ (B @ mu))
    for x, y in zip(many, one, strict=True):
        assert x.tobytes() == y.tobytes()
