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
