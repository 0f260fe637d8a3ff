"""Batch runs on a real Dask local cluster: isolation of failures, safe names, summary."""

from __future__ import annotations

import shutil
from pathlib import Path

from pma_lab.batch import run_batch, safe_name
from pma_lab.paths import bad_inputs_dir, clients_dir


def lots_job(profile: str, out_dir: str, params: dict) -> dict:
    from pma_lab.client import load_client
    from pma_lab.holdings import summarize_lots

    s = summarize_lots(load_client(profile))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / "holdings.csv"
    s.holdings.to_csv(path, index=False)
    return {"output": str(path)}


def test_safe_names_cannot_escape():
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name(".hidden") == "hidden"
    assert safe_name("a b/c\\d") == "a_b_c_d"
    assert safe_name("...") == "client"


def test_batch_runs_every_client_and_isolates_a_failure(tmp_path):
    src = tmp_path / "clients"
    for name in ("young-pro", "household"):
        shutil.copytree(clients_dir() / name, src / name)
    bad = src / "evil name"  # a folder name with a space: sanitised
    bad.mkdir()
    shutil.copy(bad_inputs_dir() / "bad_profile_rate.toml", bad / "profile.toml")
    res = run_batch(src, tmp_path / "out", workers=2, job=lots_job, progress=False)
    s = res.summary.set_index("client")
    assert set(s.index) == {"young-pro", "household", "evil_name"}
    assert s.loc["young-pro", "status"] == "ok" and s.loc["household", "status"] == "ok"
    assert s.loc["evil_name", "status"] == "failed"
    assert "ProfileError" in s.loc["evil_name", "error"]
    assert (tmp_path / "out" / "evil_name" / "error.txt").is_file()
    assert (tmp_path / "out" / "household" / "holdings.csv").is_file()
    assert (tmp_path / "out" / "batch_summary.csv").is_file()
    assert res.failed == 1
