"""Where pma_lab finds its files (pma_lab.paths), and the notebooks' default parameters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pma_lab.errors import DataError
from pma_lab.paths import client_profile, clients_dir, notebooks_dir


def test_client_profile_takes_a_path_or_a_sample_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the checkout: names must not depend on the folder
    assert client_profile("household") == clients_dir() / "household" / "profile.toml"
    own = tmp_path / "mine.toml"
    own.write_text("")
    assert client_profile("mine.toml") == own
    assert client_profile(own) == own
    with pytest.raises(DataError, match="'nobody' is neither a profile file.*household"):
        client_profile("nobody")
    # a path is never read as a sample name, even when its last part is one: a missing
    # path goes to the profile loader as given (its ProfileError says it does not exist)
    assert client_profile("elsewhere/household") == Path("elsewhere/household")
    assert client_profile("missing.toml") == Path("missing.toml")


def _parameters(nb_path):
    nb = json.loads(nb_path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    return "".join(cells[0]["source"]) if cells else ""


@pytest.mark.parametrize("name", ["01_client_lots.ipynb", "02_strategy_research.ipynb",
                                  "03_transition_research.ipynb", "proposal.ipynb"])
def test_notebook_default_profile_resolves_outside_the_checkout(name, tmp_path, monkeypatch):
    """papermill runs a notebook in any folder: its default profile must still resolve."""
    monkeypatch.chdir(tmp_path)
    params: dict = {}
    exec(_parameters(notebooks_dir() / name), params)  # noqa: S102 - the notebook's own cell
    assert client_profile(params["profile"]).is_file()
    assert "../" not in _parameters(notebooks_dir() / name)
