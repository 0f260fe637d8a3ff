"""The input errors' headline names the file or files the problems are in."""

from __future__ import annotations

import pickle

from pma_lab.errors import (
    ClientFilesError,
    Issue,
    LotDataError,
    LotsBlotterError,
    ModelFileError,
    Severity,
)


def _issue() -> Issue:
    return Issue("f.csv", 2, "ticker", "ZZZ", "unknown ticker", "use a listed ticker",
                 Severity.ERROR)


def test_the_plural_comes_from_how_many_files_the_error_is_about_not_its_words():
    """Session 22: "file" or "files" was chosen by ``' and ' in kind`` (the text parsed
    back): a model of one file whose kind has an "and" read "files". Each error class
    says how many files it is about (``files``); ``file_words`` words them."""
    assert LotDataError("x", [_issue()]).file_words == "lots file"
    assert ClientFilesError("x", [_issue()]).file_words == "profile and lots files"
    assert LotsBlotterError("x", [_issue()]).file_words == "lots and blotter files"
    one = ModelFileError("m.csv", [_issue()], kind="factor_cov and specific_var")
    assert one.file_words == "factor_cov and specific_var file"
    assert str(one).startswith("m.csv: 1 problem found in the factor_cov and specific_var "
                               "file; nothing was loaded")
    again = pickle.loads(pickle.dumps(one))
    assert again.file_words == one.file_words
