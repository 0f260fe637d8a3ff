"""Every file of the bad-input corpus fails with its expected error; the good files load.

``data/samples/bad/expected_errors.csv`` lists, per file, the error code, row and column the
loader must report. Each bad file has exactly one defect, so the errors reported must be
exactly the expected ones (no echoes, no misses), and every message must say how to fix it.
Every file also fails through ``pma-lab lots validate`` with exit status 2 and no traceback.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from pma_lab.app.cli import main
from pma_lab.errors import (
    BlotterError,
    InputError,
    LotDataError,
    ModelFileError,
    ProfileError,
    Severity,
)
from pma_lab.io.ingest import read_blotter, read_lots
from pma_lab.io.models import check_active_model_prices
from pma_lab.io.profile import load_profile
from pma_lab.paths import bad_inputs_dir
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
    assert len(BY_FILE) >= 73  # 43 before issue 11, which added at least 30
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
    elif kind == "model":
        check_active_model_prices(path, base.as_of)
    else:
        read_blotter(path, as_of=base.as_of)


@pytest.mark.parametrize("name", sorted(BY_FILE))
def test_bad_file_reports_exactly_its_expected_error(name, base):
    cls = {"lots": LotDataError, "profile": ProfileError, "blotter": BlotterError,
           "model": ModelFileError}[KIND[name]]
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
    m = check_active_model_prices(BAD / "good_model.csv", base.as_of)
    assert len(m) == 6  # both versions: the one in force on 2026-07-31 and the later one


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


def validate_args(name: str, tmp_path: Path) -> list[str]:
    """``pma-lab lots validate`` arguments that read the corpus file ``name`` as its kind."""
    kind = KIND[name]
    if kind == "lots":
        return ["lots", "validate", str(BAD / name), "--profile", str(BAD / "base_profile.toml")]
    if kind == "profile":
        return ["lots", "validate", "--profile", str(BAD / name)]
    # a blotter is read as the recent trades of a profile next to it, a model as its core's
    for f in ("good_lots.csv", name):
        shutil.copy(BAD / f, tmp_path / f)
    text = (BAD / "base_profile.toml").read_text()
    if kind == "model":
        text += f'\n[core]\nequity_sleeve = "active_index"\nactive_model = "{name}"\n' \
                "active_share = 0.4\n"
    else:
        text = text.replace('default_account = "taxable"',
                            f'default_account = "taxable"\nrecent_trades = "{name}"')
    (tmp_path / "profile.toml").write_text(text)
    return ["lots", "validate", "--profile", str(tmp_path / "profile.toml")]


@pytest.mark.parametrize("name", sorted(BY_FILE))
def test_bad_file_fails_lots_validate_with_status_2(name, tmp_path, capsys):
    status = main(validate_args(name, tmp_path))  # an unexpected exception would escape
    out = capsys.readouterr()
    text = out.out + out.err
    assert status == 2, text
    assert "Traceback" not in text and name in text and "Fix:" in text
    for _code, row, column in BY_FILE[name]:
        if row is not None:
            assert f"row {row}" in text
        if column is not None:
            assert f"column '{column}'" in text


def test_the_installed_command_exits_2_without_traceback(tmp_path):
    exe = Path(sys.executable).with_name("pma-lab")
    for name in ("bad_profile_deep_nesting.toml",):
        r = subprocess.run([str(exe), *validate_args(name, tmp_path)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and name in r.stderr
