"""Every file of the bad-input corpus fails with its expected error; the good files load.

``data/samples/bad/expected_errors.csv`` lists, per file, the error code, row and column the
loader must report. Each bad file has exactly one defect, so the errors reported must be
exactly the expected ones (no echoes, no misses), and every message must say how to fix it.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd
import pytest

from pma_lab.errors import BlotterError, InputError, LotDataError, ProfileError, Severity
from pma_lab.ingest import read_blotter, read_lots
from pma_lab.paths import bad_inputs_dir
from pma_lab.profile import load_profile
from pma_lab.schema import ISSUE_CODES

BAD = bad_inputs_dir()
EXPECTED = pd.read_csv(BAD / "expected_errors.csv", dtype=str, keep_default_na=False)
BY_FILE: dict[str, set[tuple]] = defaultdict(set)
KIND: dict[str, str] = {}
for r in EXPECTED.itertuples():
    BY_FILE[r.file].add((r.code, int(r.row) if r.row else None, r.column or None))
    KIND[r.file] = r.kind


@pytest.fixture(scope="module")
def base():
    return load_profile(BAD / "base_profile.toml")


def test_corpus_is_large_enough_and_codes_are_declared():
    assert len(BY_FILE) >= 20
    assert set(EXPECTED.code) <= set(ISSUE_CODES)
    on_disk = {p.name for p in BAD.iterdir() if p.name.startswith("bad_")}
    assert on_disk == set(BY_FILE), "every bad file has an expected error and vice versa"


def load(name: str, base) -> None:
    path = BAD / name
    kind = KIND[name]
    if kind == "lots":
        read_lots(path, as_of=base.as_of, accounts=base.account_ids(),
                  default_account=base.lots.default_account, date_order=None)
    elif kind == "profile":
        load_profile(path)
    else:
        read_blotter(path, as_of=base.as_of)


@pytest.mark.parametrize("name", sorted(BY_FILE))
def test_bad_file_reports_exactly_its_expected_error(name, base):
    cls = {"lots": LotDataError, "profile": ProfileError, "blotter": BlotterError}[KIND[name]]
    with pytest.raises(cls) as e:
        load(name, base)
    errors = [i for i in e.value.issues if i.severity is Severity.ERROR]
    got = {(i.code, i.row, i.column) for i in errors}
    assert got == BY_FILE[name]
    for i in errors:
        assert i.file.endswith(name) and i.fix and i.message
    text = str(e.value)
    assert name in text and "Fix:" in text


def test_good_files_load_cleanly(base):
    ls = read_lots(BAD / "good_lots.csv", as_of=base.as_of, accounts=base.account_ids(),
                   default_account=base.lots.default_account)
    assert len(ls) == 5 and ls.warnings == ()
    b = read_blotter(BAD / "good_blotter.csv", as_of=base.as_of)
    assert b.trades and b.warnings == ()


def test_every_issue_code_is_documented():
    # codes used anywhere in the package must be declared in schema.ISSUE_CODES
    import pathlib
    import re

    import pma_lab

    src = "\n".join(p.read_text() for p in pathlib.Path(pma_lab.__file__).parent.glob("*.py"))
    used = set(re.findall(r'"([a-z_]+)"', src)) & {
        c for c in re.findall(r'Severity\.(?:ERROR|WARNING), "([a-z_0-9]+)"', src)}
    used |= set(re.findall(r'_issue\(\s*file, "([a-z_0-9]+)"', src))
    used |= set(re.findall(r'"([a-z_]+)\|', src))
    missing = sorted(c for c in used if c not in ISSUE_CODES)
    assert not missing, missing


def test_input_error_is_one_error_type_for_callers():
    assert issubclass(LotDataError, InputError) and issubclass(ProfileError, InputError)
    assert issubclass(BlotterError, InputError)
