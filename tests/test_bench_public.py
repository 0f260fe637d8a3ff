"""benchmarks/bench_public.py: reusing taxrebalance's figures from an earlier run (--tr-from)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_public.py"
    spec = importlib.util.spec_from_file_location("bench_public", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(cap=0.005, basis=(0.25, 1.1), tr=True):
    book = {"seed": 50000, "names": 50, "te_cap": cap,
            "pma_lab": {"wall_seconds_median": 0.1}}
    if tr:
        book["taxrebalance"] = {"wall_seconds_median": 0.67, "cpu_seconds_median": 0.67,
                                "tax_ledger": 9642.19}
    return {"basis_range": list(basis), "loadavg_before": ["1.0", "1.0", "1.0"],
            "books": [book]}


def test_previous_run_is_reused_per_seed_and_labelled(bench, tmp_path):
    f = tmp_path / "old.json"
    f.write_text(json.dumps(_run()))
    got = bench._previous(str(f), 0.005, (0.25, 1.1))
    assert set(got) == {50000}
    assert got[50000]["wall_seconds_median"] == 0.67
    assert got[50000]["reused_from"].startswith(str(f))
    # a file that itself reused figures keeps naming the run that measured them
    f2 = tmp_path / "again.json"
    again = _run()
    again["books"][0]["taxrebalance"]["reused_from"] = "first.json"
    f2.write_text(json.dumps(again))
    assert bench._previous(str(f2), 0.005, (0.25, 1.1))[50000]["reused_from"] == "first.json"


@pytest.mark.parametrize("old", [_run(cap=0.01), _run(basis=(0.5, 1.0)), _run(tr=False)])
def test_previous_run_of_other_books_is_refused(bench, tmp_path, old):
    f = tmp_path / "old.json"
    f.write_text(json.dumps(old))
    with pytest.raises(SystemExit, match="--tr-from"):
        bench._previous(str(f), 0.005, (0.25, 1.1))
