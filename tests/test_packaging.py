"""An installed pma_lab finds its data, notebooks and templates (issue 15).

The package is really built and installed (``pip install --no-deps .``) into a fresh
virtual environment outside the repository; the dependencies come from the project's
environment through a ``.pth`` file (so nothing is downloaded but the build backend).
Then the installed ``pma-lab`` runs from a folder outside the checkout.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from pma_lab.paths import repo_root


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    venv = tmp_path_factory.mktemp("venv")
    base = Path(os.path.realpath(sys.executable))
    subprocess.run([str(base), "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    sp = subprocess.run([str(py), "-c", "import site; print(site.getsitepackages()[0])"],
                        check=True, capture_output=True, text=True).stdout.strip()
    Path(sp, "_project_deps.pth").write_text(site.getsitepackages()[0] + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", str(repo_root())],
                   check=True, cwd=venv)
    env = {k: v for k, v in os.environ.items() if k not in ("PMA_LAB_DATA", "PYTHONPATH")}
    return venv, py, Path(sp), env


@pytest.mark.slow
def test_installed_package_ships_data_notebooks_and_templates(installed, tmp_path):
    venv, py, sp, env = installed
    code = ("import pma_lab, pma_lab.paths as p, pma_lab.report.proposal as r; "
            "print(pma_lab.__file__); print(p.market_dir()); print(p.clients_dir()); "
            "print(r.PROPOSAL_NOTEBOOK.is_file(), (r.TEMPLATES_DIR / 'proposal').is_dir(), "
            "(p.notebooks_dir() / 'dashboard.ipynb').is_file()); "
            # the dashboard's Voila template (issue 10: no CDN), as notebooks/voila.py finds it
            "from pma_lab.app.dashboard.server import use_dashboard_template as u; "
            "from voila.paths import collect_template_paths as c; u(); "
            "print(c(['voila', 'nbconvert'], 'pma', prune=True)[0])")
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True,
                         cwd=tmp_path, env=env).stdout.splitlines()
    assert out[0].startswith(str(sp / "pma_lab"))
    assert out[1] == str(sp / "pma_lab" / "_resources" / "samples" / "market")
    assert out[2].startswith(str(sp))
    assert out[3] == "True True True"
    assert out[4] == str(sp / "pma_lab" / "_resources" / "templates" / "voila" / "templates"
                         / "pma")


@pytest.mark.slow
def test_installed_cli_runs_outside_the_repository(installed, tmp_path):
    venv, py, sp, env = installed
    clients = sp / "pma_lab" / "_resources" / "samples" / "clients"
    run = subprocess.run([str(venv / "bin" / "pma-lab"), "rebalance", "--profile",
                          str(clients / "young-pro" / "profile.toml"), "--out", "reb"],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "reb" / "trades.csv").is_file()
    data = subprocess.run([str(venv / "bin" / "pma-lab"), "data"], capture_output=True,
                          text=True, cwd=tmp_path, env=env)
    assert data.returncode == 0, data.stderr
    assert str(sp) in data.stdout


@pytest.mark.slow
def test_installed_proposal_notebook_resolves_its_default_parameters(installed, tmp_path):
    """The installed proposal notebook's parameters and first cell run outside the checkout.

    The cells papermill runs first (parameters, imports, load the client) and the firm's
    cover are executed from the installed notebook in a folder outside the repository:
    the default profile (a sample client's name) and the firm configuration resolve to the
    files inside the installed package. No proposal is rendered (CI time).
    """
    venv, py, sp, env = installed
    nb = sp / "pma_lab" / "_resources" / "notebooks" / "proposal.ipynb"
    code = (
        "import json, sys\n"
        f"cells = json.load(open({str(nb)!r}))['cells']\n"
        "code = [''.join(c['source']) for c in cells if c['cell_type'] == 'code']\n"
        "ns = {}\n"
        "for cell in code[:3]: exec(cell, ns)  # parameters, imports, the client\n"
        "import pma_lab.paths as p\n"
        "print(p.client_profile(ns['profile']))\n"
        "print(ns['client'].profile.client_id, bool(ns['report'].cover(ns['client']).firm_name))\n")
    run = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env=env)
    assert run.returncode == 0, run.stderr
    resolved, loaded = run.stdout.splitlines()[-2:]
    assert resolved == str(sp / "pma_lab" / "_resources" / "samples" / "clients" / "household"
                           / "profile.toml")
    assert loaded == "household True"


def test_installed_package_ships_the_tax_alpha_study(installed, tmp_path):
    # the proposal's "What tax-loss harvesting has been worth" reads it (no benchmarks/)
    venv, py, sp, env = installed
    code = ("from pma_lab.report.evidence import load_tax_alpha_study as f; s = f(); "
            "print(s.path); print(s.median)")
    out = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True,
                         cwd=tmp_path, env=env).stdout.splitlines()
    assert out[0] == str(sp / "pma_lab" / "_resources" / "samples" / "studies" /
                         "tax_alpha.json")
    assert 0 < float(out[1]) < 0.05


@pytest.mark.slow
def test_installed_demo_writes_a_proposal_outside_the_repository(installed, tmp_path):
    """Issue 15's claim as written: ``pma-lab demo --out X`` from the installed package.

    One sample client (copied out of the installed package, so the run stays short) goes
    through the whole job: the installed proposal notebook and templates, HTML and PDF.
    The dependencies come from the project's environment through a ``.pth`` file, so their
    Jupyter data (nbconvert's ``lab`` template, which a real install puts under the new
    environment's ``share/jupyter``) is pointed at with ``JUPYTER_PATH``.
    """
    import shutil

    venv, py, sp, env = installed
    clients = tmp_path / "clients"
    shutil.copytree(sp / "pma_lab" / "_resources" / "samples" / "clients" / "young-pro",
                    clients / "young-pro")
    env = {**env, "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}
    run = subprocess.run([str(venv / "bin" / "pma-lab"), "demo", "--clients", str(clients),
                          "--out", "X"], capture_output=True, text=True, cwd=tmp_path,
                         env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out = tmp_path / "X" / "young-pro"
    for name in ("young-pro_proposal.html", "young-pro_proposal.pdf",
                 "young-pro_trades.csv", "young-pro_trades.xlsx"):
        assert (out / name).is_file(), name
    # the executed notebook is the installed one, never the checkout's
    executed = (out / "young-pro_proposal.ipynb").read_text()
    assert str(sp / "pma_lab" / "_resources" / "notebooks") in executed
    assert str(repo_root()) not in executed


def test_installed_package_holds_every_tracked_resource_and_module(installed):
    """The installed files are exactly the checkout's tracked ones (plus bytecode/metadata).

    Every file git tracks under ``data/samples``, ``notebooks`` and ``templates`` is under
    ``pma_lab/_resources/{samples,notebooks,templates}`` and nothing else is (no
    checkpoints, caches or outputs lying in the checkout); every tracked file of the
    package is installed (a new subpackage without ``__init__.py`` or a data file outside
    ``package_data`` would be missing from the wheel).
    """
    venv, py, sp, env = installed
    root = repo_root()

    def tracked(folder: str) -> set[str]:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", folder], check=True,
                             capture_output=True, text=True).stdout
        return {f[len(folder) + 1:] for f in out.split("\0") if f}

    def installed_files(folder: Path) -> set[str]:
        return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts}

    resources = sp / "pma_lab" / "_resources"
    for kind, src in (("samples", "data/samples"), ("notebooks", "notebooks"),
                      ("templates", "templates")):
        want, have = tracked(src), installed_files(resources / kind)
        assert want, src
        assert not want - have, f"{src} files missing from the package: {sorted(want - have)}"
        assert not have - want, f"untracked files shipped in {kind}: {sorted(have - want)}"
    package = {f for f in tracked("pma_lab")}
    have = {f for f in installed_files(sp / "pma_lab") if not f.startswith("_resources/")}
    assert not package - have, f"package files not installed: {sorted(package - have)}"
