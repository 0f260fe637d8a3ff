"""tests/test_ledger.py run against ``ledger.py`` as pure Python, when the ledger is compiled.

``make setup`` compiles ``pma_lab/tax/ledger.py`` with mypyc when a C compiler is present
(setup.py), and then every other test runs the compiled build. The source is still the
fallback wherever nothing was compiled, so its behaviour is pinned here by the same tests:
``test_ledger.py`` is executed with its ledger import pointed at
:func:`pma_lab.tax._built.pure_python`. (``test_ledger_properties.py`` checks both builds
against each other on random blotters.) Also: a compiled build in the checkout is not
older than its source.
"""

from __future__ import annotations

from pathlib import Path

import pma_lab.tax.ledger as _built


def test_compiled_build_is_not_older_than_its_source():
    src = Path(_built.__file__).with_name("ledger.py")
    built = sorted(src.parent.glob("ledger.*.so")) + sorted(src.parent.glob("ledger.*.pyd"))
    assert _built.COMPILED == bool(built), (_built.__file__, built)
    for so in built:
        assert so.stat().st_mtime >= src.stat().st_mtime, (
            f"{so} is older than {src}: the tests would run stale compiled code; rebuild it "
            "with `make setup` (or delete the .so files to run the source)")
    assert _built.pure_python().COMPILED is False
    assert _built.pure_python().__file__ == str(src)


if _built.COMPILED:
    _TESTS = Path(__file__).with_name("test_ledger.py")
    _IMPORT = "from pma_lab.tax.ledger import "
    _code = _TESTS.read_text()
    assert _IMPORT in _code, f"{_TESTS} no longer imports the ledger with {_IMPORT!r}"
    _built.pure_python()  # registers the module imported below
    exec(compile(_code.replace(_IMPORT, "from pma_lab.tax.ledger_pure import "), str(_TESTS),
                 "exec"))


def test_deep_copy_takes_every_attribute_of_a_ledger():
    # Ledger.__reduce__ (needed by the compiled build) copies the attributes it lists
    pure = _built.pure_python()
    led = pure.Ledger([pure.Account("T")])
    assert set(vars(led)) == set(pure._LEDGER_FIELDS)
