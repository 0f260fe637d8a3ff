"""Write ``tests/durations.json``, the seconds per file the xdist scheduler orders by.

Usage, from the repository root::

    python -m pytest -n 2 --junitxml=/tmp/junit.xml
    python tests/durations.py /tmp/junit.xml

Every test's time (set-up, call and tear-down, as the JUnit report sums them) is added to
its scheduling unit: its file, or the file it shares a worker with
(``conftest._SHARED_UNITS``). conftest.py hands the units out longest first.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conftest import _SHARED_UNITS, DURATIONS  # noqa: E402


def unit_seconds(junit: Path) -> dict[str, float]:
    """Seconds per scheduling unit in the JUnit XML report ``junit``."""
    out: dict[str, float] = defaultdict(float)
    for case in ET.parse(junit).iter("testcase"):
        path = case.get("file") or _path_of(case.get("classname", ""))
        out[_SHARED_UNITS.get(path, path)] += float(case.get("time", 0.0))
    return dict(out)


def _path_of(classname: str) -> str:
    """``tests.test_x`` or ``tests.test_x.TestY`` -> ``tests/test_x.py``;
    ``notebooks.01_x`` -> ``notebooks/01_x.ipynb``."""
    parts = classname.split(".")
    if parts[0] == "notebooks":
        return f"notebooks/{parts[1]}.ipynb"
    mod = [p for p in parts if not p[:1].isupper()]
    return "/".join(mod) + ".py"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    seconds = unit_seconds(Path(argv[0]))
    table = {"about": "seconds per test file in a pytest -n 2 run (conftest.py orders the "
                      "files longest first); refresh: python tests/durations.py JUNIT.xml",
             "seconds": {k: round(v, 1) for k, v in sorted(seconds.items(),
                                                         key=lambda kv: -kv[1])}}
    DURATIONS.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    print(f"{DURATIONS}: {len(seconds)} files, {sum(seconds.values()):.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
