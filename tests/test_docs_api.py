"""docs/api.md's worked examples run, in order, in one namespace (issue 15): a researcher's
own factor model, covariance, benchmark and target, a rebalance with an added constraint,
a frontier and a first-order solver."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def test_the_doc_has_one_example_per_plug_in_point():
    text = "\n".join(blocks())
    for call in ("RiskModel.from_factors", "RiskModel.from_covariance",
                 "Benchmark.from_weights", "prepare(", "add_constraint", "target=",
                 "add_objective_term", "additions=termed.additions", "additions.apply",
                 "efficient_frontier", "MarketData.from_frames", "read_models(",
                 "ModelFileError"):
        assert call in text


@pytest.mark.slow
def test_the_examples_run():
    ns: dict = {}
    for i, code in enumerate(blocks()):
        exec(compile(code, f"{DOC.name} block {i + 1}", "exec"), ns)  # noqa: S102
    assert ns["result"].checks.ok.all()
    assert len(ns["frontier"].table) >= 1
    # session 25: the term reaches the frontier, a plan's steps and the household
    assert ns["move_now"].added == (f"term: {ns['top']} penalty",)
