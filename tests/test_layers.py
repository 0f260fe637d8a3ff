"""The package is layered by pipeline stage; imports point down the pipeline only.

``core`` (the top-level modules: errors, paths, files, cache, schema) < ``market`` < ``tax`` <
``portfolio`` < ``io`` < ``optimize`` < ``plan`` < ``report`` < ``app``. A module may import
its own stage and the stages below it, never one above: a screen does not know what a
profile file looks like, and a report does not know how a batch runs. Imports inside
functions count too (a deferred import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pma_lab

PACKAGE = Path(pma_lab.__file__).parent
LAYERS = ("core", "market", "tax", "portfolio", "io", "optimize", "plan", "report", "app")
RANK = {name: i for i, name in enumerate(LAYERS)}


def _stage(module: str) -> str:
    """``pma_lab.tax.ledger`` -> ``tax``; a top-level module (``pma_lab.errors``) -> core."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in RANK:
        return parts[1]
    return "core"


def _modules() -> list[tuple[str, Path]]:
    out = []
    for p in sorted(PACKAGE.rglob("*.py")):
        rel = p.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        out.append((name, p))
    return out


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "pma_lab":
                found += [(node.lineno, f"pma_lab.{a.name}") for a in node.names]
            elif node.module.startswith("pma_lab."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names
                      if a.name.startswith("pma_lab.")]
    return found


def test_every_stage_is_a_package():
    for stage in LAYERS[1:]:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_no_relative_imports():
    for name, path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name}:{node.lineno} uses a relative import"


@pytest.mark.parametrize("name,path", _modules(), ids=[n for n, _ in _modules()])
def test_imports_point_down_the_pipeline(name, path):
    if name == "pma_lab":
        return  # the top package re-exports the public API of every stage
    here = _stage(name)
    up = [f"line {line}: {target} ({_stage(target)})" for line, target in _imports(path)
          if RANK[_stage(target)] > RANK[here]]
    assert not up, (f"{name} ({here}) imports a later stage; move the shared piece down "
                    f"or pass it in: " + "; ".join(up))
