"""The sample clients are data: scripts/personas/*.toml -> data/samples/clients (issue 15).

Every build runs into a temporary folder (``--out``, ``--clients-only``): nothing committed
is ever deleted or rewritten. The builder reads the packaged market data only (seconds).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from pma_lab import load_client
from pma_lab.paths import clients_dir, market_dir, repo_root

SCRIPT = repo_root() / "scripts" / "build_sample_clients.py"
PERSONAS = repo_root() / "scripts" / "personas"


def _build(out: Path, personas: Path = PERSONAS) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--clients-only", "--personas",
                           str(personas), "--out", str(out)], capture_output=True, text=True)


def _files(root: Path) -> dict[str, bytes]:
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*"))
            if f.is_file()}


def test_rebuilding_from_the_toml_personas_reproduces_the_committed_clients(tmp_path):
    run = _build(tmp_path / "clients")
    assert run.returncode == 0, run.stderr
    built, committed = _files(tmp_path / "clients"), _files(clients_dir())
    assert sorted(built) == sorted(committed)
    differ = [name for name in built if built[name] != committed[name]]
    assert differ == [], f"rebuilt files differ from the committed ones: {differ}"
    assert len(list(PERSONAS.glob("*.toml"))) == len(list(clients_dir().glob("*/profile.toml")))


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("build_sample_clients", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(mod)
        yield mod, mod.Market(market_dir())
    finally:
        sys.modules.pop(spec.name, None)


def _young_pro() -> str:
    return (PERSONAS / "young-pro.toml").read_text()


def test_a_researcher_adds_a_client_without_code(tmp_path):
    text = _young_pro().replace('id = "young-pro"', 'id = "new-client"').replace(
        'id = "young-pro"\nname', 'id = "new-client"\nname')
    folder = tmp_path / "personas"
    folder.mkdir()
    (folder / "new-client.toml").write_text(text)
    run = _build(tmp_path / "clients", folder)
    assert run.returncode == 0, run.stderr
    client = load_client(tmp_path / "clients" / "new-client" / "profile.toml")
    assert client.profile.client_id == "new-client" and len(client.lots.lots) == 70
    assert "One persona from" in (tmp_path / "clients" / "README.md").read_text()


@pytest.mark.parametrize("change, message", [
    (lambda t: "colour = 'red'\n" + t, r"colour: unknown key; use only id, title"),
    (lambda t: t.replace('layout = "broker_csv"', 'layout = "pdf"'),
     r"layout: unknown layout 'pdf'; use one of canonical"),
    (lambda t: t.replace('order = 3', 'order = "3"'), r"order: '3' is a str; give int"),
    (lambda t: t.replace('shares = "60"', 'shares = "sixty"'),
     r"lots\[1\]\.shares: 'sixty' is not a number; write a share count"),
    (lambda t: t.replace('acquired = 2021-07-23', 'acquired = 2021-07-24'),
     r"lots\[1\] \(PYPL 2021-07-24\): PYPL: no price on 2021-07-24; pick a ticker and "
     r"trading day"),
    (lambda t: t.replace('ticker = "PYPL", acquired = 2021-07-23',
                         'ticker = "ZZZZ", acquired = 2021-07-23'),
     r"lots\[1\] \(ZZZZ 2021-07-23\): ZZZZ: not in universe"),
    (lambda t: t.replace('{ account = "taxable", ticker = "PYPL", acquired = 2021-07-23, ',
                         '{ account = "taxable", acquired = 2021-07-23, '),
     r"lots\[1\]\.ticker: missing; add it"),
    (lambda t: t.replace("[cash]\n", "[cash]\nira = 10.0\n"),
     r"cash: account\(s\) \['ira'\] hold no lot; use the lots' accounts \(taxable\)"),
    (lambda t: t.replace('id = "young-pro"\ntitle', 'id = "Young Pro"\ntitle'),
     r"id: 'Young Pro' must be lower-case .*name the file Young Pro.toml"),
    (lambda t: t.replace("lots = [", "lots = [[", 1), r"not valid TOML"),
])
def test_a_bad_persona_file_is_named_with_the_key_and_the_fix(builder, tmp_path, change,
                                                               message):
    mod, market = builder
    path = tmp_path / "young-pro.toml"
    path.write_text(change(_young_pro()))
    with pytest.raises(SystemExit, match=message) as err:
        mod.load_persona(market, path)
    assert str(path) in str(err.value)
