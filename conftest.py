"""Test-session wiring shared by tests/ and the notebooks (nbval).

`make test` runs the suite on two pytest-xdist workers, scheduled by file: a file's tests,
module fixtures and warm kernels stay in one worker, and a notebook's cells run in order in
one kernel (nbval). The proposal renders that tests/test_report.py makes and
tests/test_proposal_checklist.py reads are memoised per process, so those two files are
one unit and the five samples are rendered once. (xdist's own ``--dist loadgroup`` marks
do not take effect with pytest 9.2's node ids, hence this scheduler.) Without xdist
(``make test WORKERS=0``) nothing here runs.
"""

from __future__ import annotations

import os
import platform
import sys
from types import SimpleNamespace

import pytest

_SHARED_UNITS = {"tests/test_proposal_checklist.py": "tests/test_report.py"}
"""Files that must run in the worker of another file (they share its process memo)."""


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201
    """Schedule whole files (with :data:`_SHARED_UNITS` joined) on the workers."""
    from xdist.scheduler import LoadScopeScheduling

    class _ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return _SHARED_UNITS.get(path, path)

    return _ByFile(config, log)


@pytest.fixture
def blas_threads():
    """The OpenBLAS thread count of numpy, read and set by the test, restored after it.

    ``count()`` reads it, ``set(n)`` sets it (returning the count before). Skips where
    numpy's BLAS is not its wheel's OpenBLAS; with ``CI=true`` on Linux x86_64, where the
    pinned numpy wheel (constraints.txt) ships it, that is a failure (review 15 M2: a wheel
    that renamed the setter would make ``pma_lab.blas.one_thread`` do nothing without a
    red test).
    """
    from pma_lab.blas import thread_setter

    fn = thread_setter()
    if fn is None:
        if os.environ.get("CI") == "true" and sys.platform == "linux" \
                and platform.machine() == "x86_64":
            pytest.fail("numpy's OpenBLAS setter was not found: pma_lab.blas.one_thread "
                        "does nothing with this numpy; check the wheel's numpy.libs")
        pytest.skip("numpy's BLAS is not the OpenBLAS of its wheel")

    def count() -> int:
        now = fn(1)
        fn(now)
        return now

    before = count()
    yield SimpleNamespace(set=fn, count=count)
    fn(before)
