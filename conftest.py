"""Test-session wiring shared by tests/ and the notebooks (nbval).

`make test` runs the suite on two pytest-xdist workers, scheduled by file: a file's tests,
module fixtures and warm kernels stay in one worker, and a notebook's cells run in order in
one kernel (nbval). The proposal renders that tests/test_report.py makes and
tests/test_proposal_checklist.py reads are memoised per process, so those two files are
one unit and the five samples are rendered once. (xdist's own ``--dist loadgroup`` marks
do not take effect with pytest 9.2's node ids, hence this scheduler.) Without xdist
(``make test WORKERS=0``) nothing here runs.

The files are handed out longest first, by the seconds each took in a measured run
(``tests/durations.json``; refresh it with ``python tests/durations.py JUNIT.xml`` after
``pytest -n 2 --junitxml=JUNIT.xml``), so the last files to start are short ones and both
workers finish together. xdist's own order (most tests first) started the one-test files
that take a minute (the demo, the browser tests) last, with the other worker idle.
Files not in the table go after those in it, in xdist's order (most tests first).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

_SHARED_UNITS = {"tests/test_proposal_checklist.py": "tests/test_report.py"}
"""Files that must run in the worker of another file (they share its process memo)."""


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201
    """Schedule whole files (with :data:`_SHARED_UNITS` joined) on the workers."""
    from xdist.scheduler import LoadScopeScheduling

    seconds = _file_seconds()

    class _ByFile(LoadScopeScheduling):
        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return _SHARED_UNITS.get(path, path)

        def _assign_work_unit(self, node) -> None:  # noqa: ANN001
            if not self._ordered:  # the queue is complete before the first unit goes out
                self._ordered = True
                units = sorted(self.workqueue.items(),
                               key=lambda kv: -seconds.get(kv[0], 0.0))
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    return _ByFile(config, log)


DURATIONS = Path(__file__).parent / "tests" / "durations.json"
"""Seconds per scheduling unit (a file, or a file with the files of :data:`_SHARED_UNITS`
joined to it) in a measured ``-n 2`` run: the scheduler's order, longest first."""


def _file_seconds() -> dict[str, float]:
    """The table of :data:`DURATIONS` (empty when the file is missing)."""
    try:
        table = json.loads(DURATIONS.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {k: float(v) for k, v in table["seconds"].items()}


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
