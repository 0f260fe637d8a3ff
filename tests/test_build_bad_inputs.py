"""The malformed-input corpus is data: scripts/bad_inputs.toml -> data/samples/bad (issue 15).

Every build runs into a temporary folder: nothing committed is deleted or rewritten. The
encrypted workbook needs msoffcrypto-tool (a build tool, not a pma_lab dependency); without
it that one file is not rebuilt and its comparison is skipped, with the reason.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pma_lab.paths import bad_inputs_dir, clients_dir, market_dir, repo_root

SCRIPTS = repo_root() / "scripts"
CORPUS = SCRIPTS / "bad_inputs.toml"
ENCRYPTED = "bad_encrypted.xlsx"
HAS_MSOFFCRYPTO = importlib.util.find_spec("msoffcrypto") is not None
NO_MSOFFCRYPTO = "msoffcrypto-tool (needed to write bad_encrypted.xlsx) is not installed"


def _entries(root: Path) -> dict[str, bytes]:
    """Every file under ``root``: its bytes, or ``link -> target`` for a symbolic link."""
    return {str(f.relative_to(root)): (b"link -> " + os.readlink(f).encode()
                                       if f.is_symlink() else f.read_bytes())
            for f in sorted(root.rglob("*")) if f.is_file() or f.is_symlink()}


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    """The whole build (clients and corpus) run into a temporary folder."""
    out = tmp_path_factory.mktemp("samples")
    cmd = [sys.executable, str(SCRIPTS / "build_sample_clients.py"), "--out",
           str(out / "clients"), "--bad-out", str(out / "bad")]
    run = subprocess.run(cmd + ([] if HAS_MSOFFCRYPTO else ["--no-encrypted"]),
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "bad corpus: 99 files, 103 expected issues" in run.stdout
    return out


def test_rebuilding_reproduces_every_committed_sample_file_byte_for_byte(rebuilt):
    built = {**{f"clients/{k}": v for k, v in _entries(rebuilt / "clients").items()},
             **{f"bad/{k}": v for k, v in _entries(rebuilt / "bad").items()}}
    committed = {**{f"clients/{k}": v for k, v in _entries(clients_dir()).items()},
                 **{f"bad/{k}": v for k, v in _entries(bad_inputs_dir()).items()}}
    if not HAS_MSOFFCRYPTO:  # compared by the next test when it can be built
        committed.pop(f"bad/{ENCRYPTED}")
    assert sorted(built) == sorted(committed)
    assert [name for name in built if built[name] != committed[name]] == []
    assert len(committed) >= 122 and built["bad/linked_lots.csv"].startswith(b"link -> ../")


@pytest.mark.skipif(not HAS_MSOFFCRYPTO, reason=NO_MSOFFCRYPTO)
def test_the_encrypted_workbook_is_reproduced(rebuilt):
    assert (rebuilt / "bad" / ENCRYPTED).read_bytes() == (bad_inputs_dir() / ENCRYPTED).read_bytes()


def test_without_msoffcrypto_the_build_stops_before_removing_anything(tmp_path, corpus):
    mod, market = corpus
    if HAS_MSOFFCRYPTO:
        pytest.skip("msoffcrypto-tool is installed: the encrypted workbook is built")
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(SystemExit, match=r"bad_encrypted\.xlsx needs msoffcrypto-tool.*"
                                         r"--no-encrypted"):
        mod.build_corpus(market, tmp_path)
    assert [f.name for f in tmp_path.iterdir()] == ["keep.txt"]


@pytest.fixture(scope="module")
def corpus():
    sys.path.insert(0, str(SCRIPTS))
    try:
        mod = importlib.import_module("build_bad_inputs")
        yield mod, importlib.import_module("build_sample_clients").Market(market_dir())
    finally:
        sys.path.remove(str(SCRIPTS))
        sys.modules.pop("build_bad_inputs", None)
        sys.modules.pop("build_sample_clients", None)


def _case(text: str, file: str) -> tuple[int, int]:
    """Start and end offsets of the [[case]] of ``file`` in ``text``."""
    start = text.index(f'[[case]]\nfile = "{file}"')
    end = text.find("\n[[case]]", start + 1)
    return start, end


def _edit_case(file: str, old: str, new: str):
    def change(text: str) -> str:
        start, end = _case(text, file)
        block = text[start:end]
        assert old in block
        return text[:start] + block.replace(old, new, 1) + text[end:]
    return change


@pytest.mark.parametrize("change, message", [
    (_edit_case("bad_zero_shares.csv", 'why = "shares are zero (a closed lot)"\n', ""),
     r"case\[3\] \(bad_zero_shares\.csv\)\.why: missing; add it"),
    (_edit_case("bad_zero_shares.csv", 'code = "non_positive_shares"', 'code = "zero_shares"'),
     r"case\[3\] \(bad_zero_shares\.csv\)\.code: unknown issue code 'zero_shares'; use a key "
     r"of pma_lab\.schema\.ISSUE_CODES"),
    (_edit_case("bad_zero_shares.csv", 'kind = "lots"', 'kind = "lots"\ncolour = "red"'),
     r"case\[3\] \(bad_zero_shares\.csv\)\.colour: unknown key; use only add, also, "),
    (_edit_case("bad_zero_shares.csv", 'kind = "lots"', 'kind = "trades"'),
     r"\.kind: unknown kind 'trades'; use lots, blotter, profile"),
    (_edit_case("bad_unknown_ticker.csv", 'file = "bad_unknown_ticker.csv"',
                'file = "bad_zero_shares.csv"'),
     r"\(bad_zero_shares\.csv\)\.file: a second case for this file; rename one"),
    (lambda t: t.replace('ticker = "MSFT", acquired = 2020-06-08', 'ticker = "ZZZZ", '
                         'acquired = 2020-06-08'),
     r"good_lots\[2\]\.ticker: ZZZZ: no prices in the packaged data; pick a ticker"),
    (lambda t: t.replace('ticker = "MSFT", acquired = 2020-06-08', 'ticker = "MSFT", '
                         'acquired = 2020-06-07'),
     r"good_lots\[2\]\.ticker: MSFT: 2020-06-07 is not a trading day"),
    (lambda t: t.replace('{ lot_id = "G-1", account = "taxable", ', '{ lot_id = "G-1", '),
     r"good_lots\[1\]: keys \['acquired', 'lot_id', 'shares', 'ticker'\]; give exactly lot_id, "
     r"account"),
    (_edit_case("bad_zero_shares.csv", 'column = "shares"', 'column = "quantity"'),
     r"\(bad_zero_shares\.csv\)\.cell: no column 'quantity'; use one of lot_id, account"),
    (_edit_case("bad_negative_shares.csv", 'value = "-{old}"', 'value = "-{olde}"'),
     r"\(bad_negative_shares\.csv\)\.value: '-\{olde\}' cannot be filled in \(KeyError\('olde'\)"
     r"\); use the fields listed"),
    (_edit_case("bad_profile_budget.toml", 'old = "total = 10000.0"', 'old = "total = 1.0"'),
     r"\(bad_profile_budget\.toml\)\.old: 'total = 1\.0' is not in base_profile; copy it"),
    (_edit_case("bad_profile_syntax.toml", "new = 'name = \"Malformed-input corpus'",
                "new = 'name = \"Malformed corpus\"'"),
     r"\(bad_profile_syntax\.toml\): the profile parses; make the defect a syntax error"),
    (lambda t: t.replace('ticker = "JNJ", acquired = 2018-09-10', 'ticker = "JNJ", '
                         'acquired = 2018-09-14'),
     r"\(bad_ambiguous_date\.csv\)\.value: '09/14/2018' on row 4 is not a slash date read "
     r"both ways"),
    (_edit_case("bad_ragged_row.csv", "acquired = 2023-06-12, shares = 4 }",
                "acquired = 2023-06-12 }"),
     r"\(bad_ragged_row\.csv\)\.replace: keys \['account', 'acquired', 'lot_id', 'ticker'\]; "
     r"give exactly lot_id, account, ticker, acquired, shares"),
    (lambda t: t.replace('ticker = "AZO", acquired = 2023-06-12', 'ticker = "KO", '
                         'acquired = 2023-06-12'),
     r"\(bad_ragged_row\.csv\)\.value: '[0-9.]+' on row 5 is not a value holding the "
     r"delimiter"),
    (_edit_case("bad_zero_shares.csv", "row = 5", "row = 7"),
     r"\(bad_zero_shares\.csv\)\.row: row 7 is not a data row; give 2 to 6 \(the header is "
     r"row 1\)"),
    (_edit_case("bad_total_huge.csv", 'drop = "cost_per_share"', 'drop = "cost"'),
     r"\(bad_total_huge\.csv\)\.drop: no column 'cost'; use one of lot_id"),
    (_edit_case("bad_blotter_side.csv", 'value = "hold"', 'value = "hold"\nformat = "xlsx"'),
     r"\(bad_blotter_side\.csv\)\.format: only lots files are written as xlsx"),
    (lambda t: t.replace("[links]", "[symlinks]"),
     r": links: missing key; give exactly base_profile, good_lots"),
])
def test_a_mistake_in_the_corpus_file_names_the_case_and_key(corpus, tmp_path, change, message):
    mod, market = corpus
    path = tmp_path / "bad_inputs.toml"
    path.write_text(change(CORPUS.read_text(encoding="utf-8")), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(SystemExit, match=message) as err:
        mod.build_corpus(market, out, corpus=path, encrypted=False)
    assert str(err.value).startswith(f"{path}: ")
    assert [f.name for f in out.iterdir()] == ["keep.txt"]  # nothing removed or written


def test_a_new_case_is_data_only(corpus, tmp_path):
    """A researcher adds a defect by adding a [[case]]: the file and its expected issue."""
    mod, market = corpus
    path = tmp_path / "bad_inputs.toml"
    path.write_text(CORPUS.read_text(encoding="utf-8") + '''
[[case]]
file = "bad_shares_words.csv"
kind = "lots"
code = "non_numeric"
row = 4
column = "shares"
value = "{old} shares"
why = "shares written as '{old} shares'"
''', encoding="utf-8")
    exp = mod.build_corpus(market, tmp_path / "bad", corpus=path, encrypted=False)
    text = (tmp_path / "bad" / "bad_shares_words.csv").read_text()
    assert text.splitlines()[3] == "G-3,ira,JNJ,2018-09-10,60 shares,110.77"
    assert "bad_shares_words.csv,lots,non_numeric,4,shares" in (
        tmp_path / "bad" / "expected_errors.csv").read_text()
    assert any(e.why == "shares written as '60 shares'" for e in exp)


def test_the_corpus_builds_on_its_own(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPTS / "build_bad_inputs.py"), "--out",
                          str(tmp_path), "--no-encrypted"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for name in ("expected_errors.csv", "README.md", "bad_formula.xlsx", "bad_latin1.csv"):
        assert (tmp_path / name).read_bytes() == (bad_inputs_dir() / name).read_bytes()
