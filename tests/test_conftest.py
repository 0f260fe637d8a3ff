"""The test session's xdist scheduler (conftest.py) and its table (tests/durations.py).

Whole files go to a worker (a file and the files of ``_SHARED_UNITS`` joined), handed out
longest first by ``tests/durations.json``; files not in the table follow, most tests first
(xdist's order). Before, xdist's order alone started the one-test files that take a
minute (the demo, the browser tests) last.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from durations import unit_seconds

import conftest


class _Node:
    """A worker as the scheduler sees it: it records the tests it is sent."""

    def __init__(self, name: str, sent: list) -> None:
        self.name, self.sent, self.shutting_down = name, sent, False
        self.gateway = SimpleNamespace(id=name)

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.append((self.name, indexes))

    def shutdown(self) -> None:
        self.shutting_down = True


COLLECTION = [
    *(f"tests/test_many.py::test_{i}" for i in range(6)),  # many quick tests
    *(f"tests/test_new.py::test_{i}" for i in range(4)),  # not in the table
    "tests/test_demo_like.py::test_one_minute",
    "tests/test_mid.py::test_a", "tests/test_mid.py::test_b",
    "tests/test_report.py::test_a", "tests/test_report.py::test_b",
    "tests/test_proposal_checklist.py::test_page[household]",
    "notebooks/03_research.ipynb::Cell 0", "notebooks/03_research.ipynb::Cell 1",
]


def _dispatch(tmp_path, monkeypatch, table: dict[str, float] | None) -> list[str]:
    """The files in the order the scheduler sends them to two workers."""
    if table is None:
        monkeypatch.setattr(conftest, "DURATIONS", tmp_path / "missing.json")
    else:
        path = tmp_path / "durations.json"
        path.write_text(json.dumps({"about": "", "seconds": table}), encoding="utf-8")
        monkeypatch.setattr(conftest, "DURATIONS", path)
    config = SimpleNamespace(getvalue=lambda name: ["2*popen"],
                             option=SimpleNamespace(loadscopereorder=True))
    sched = conftest.pytest_xdist_make_scheduler(config, None)
    sent: list = []
    nodes = [_Node("gw0", sent), _Node("gw1", sent)]
    for n in nodes:
        sched.add_node(n)
    for n in nodes:
        sched.add_node_collection(n, COLLECTION)
    sched.schedule()
    order: list[str] = []
    while True:  # workers finish everything they hold and ask for more
        for _, indexes in sent:
            files = dict.fromkeys(COLLECTION[i].split("::")[0] for i in indexes)
            order.extend(f for f in files if f not in order)
        sent.clear()
        if not sched.workqueue:
            return order
        for n in nodes:
            for unit in sched.assigned_work[n].values():
                unit.update(dict.fromkeys(unit, True))
            sched._reschedule(n)


def test_files_go_out_longest_first_then_the_rest_by_test_count(tmp_path, monkeypatch):
    table = {"tests/test_demo_like.py": 60.0, "tests/test_mid.py": 20.0,
             "tests/test_report.py": 30.0, "notebooks/03_research.ipynb": 25.0,
             "tests/test_many.py": 2.0}
    assert _dispatch(tmp_path, monkeypatch, table) == [
        "tests/test_demo_like.py",
        # the checklist runs in the worker of test_report.py (their shared memo)
        "tests/test_report.py", "tests/test_proposal_checklist.py",
        "notebooks/03_research.ipynb", "tests/test_mid.py", "tests/test_many.py",
        "tests/test_new.py"]


def test_without_a_table_the_order_is_xdists_most_tests_first(tmp_path, monkeypatch):
    order = _dispatch(tmp_path, monkeypatch, None)
    assert order[:2] == ["tests/test_many.py", "tests/test_new.py"]
    assert order.index("tests/test_report.py") + 1 == \
        order.index("tests/test_proposal_checklist.py")


def test_the_table_sums_a_junit_report_per_file_and_shared_unit(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_report" name="test_a" time="10.5"/>'
        '<testcase classname="tests.test_proposal_checklist" name="test_b[x]" time="4"/>'
        '<testcase classname="tests.test_cli.TestHelp" name="test_c" time="1.25"/>'
        '<testcase classname="tests.test_cli" name="test_d" time="0.75"/>'
        '<testcase classname="notebooks.03_transition_research" name="Cell 7" time="30"/>'
        "</testsuite></testsuites>", encoding="utf-8")
    assert unit_seconds(junit) == pytest.approx({
        "tests/test_report.py": 14.5, "tests/test_cli.py": 2.0,
        "notebooks/03_transition_research.ipynb": 30.0})


def test_the_committed_table_names_files_that_exist():
    table = json.loads(conftest.DURATIONS.read_text(encoding="utf-8"))["seconds"]
    root = conftest.DURATIONS.parent.parent
    assert table and all((root / f).is_file() for f in table), table
    assert not set(table) & set(conftest._SHARED_UNITS)  # joined into their unit
