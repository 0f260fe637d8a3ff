"""The sample clients are data: scripts/personas/*.toml -> data/samples/clients (issue 15).

Every build runs into a temporary folder (``--out``, ``--clients-only``): nothing committed
is ever deleted or rewritten. The builder reads the packaged market data only (seconds).
"""

from __future__ import annotations

import importlib.util
import re
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
    (lambda t: t.replace('title = "Young', 'titel = "Young'), r"titel: unknown key"),
    (lambda t: re.sub(r'\ntitle = "[^"]*"\n', "\n", t), r"title: missing; add it"),
    (lambda t: t.replace("[checks]\n", "[checks]\ncolour = 1\n"),
     r"checks\.colour: unknown check; use only value, names"),
    (lambda t: t.replace("[checks]\n", "[checks]\nweights = { ZZZZ = [0.1, 0.2] }\n"),
     r"checks\.weights: ZZZZ: not in universe.*; use a ticker priced"),
    (lambda t: t.replace("[checks]\n", "[checks]\npriced = [\"ZZZZ\"]\n"),
     r"checks\.priced: ZZZZ: not in universe"),
    (lambda t: t.replace("value = [5.0e5, 0.1]", "value = 5.0e5"),
     r"checks\.value: 500000\.0 is not a valid value; give \[target USD, tolerance\]"),
    (lambda t: t.replace("[checks]\n", "[checks.accounts.ira]\nnames = 1\n\n[checks]\n"),
     r"checks\.accounts\.ira: not a table of an account with lots"),
])
def test_a_bad_persona_file_is_named_with_the_key_and_the_fix(builder, tmp_path, change,
                                                               message):
    mod, market = builder
    path = tmp_path / "young-pro.toml"
    path.write_text(change(_young_pro()))
    with pytest.raises(SystemExit, match=message) as err:
        mod.load_persona(market, path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("value = [5.0e5, 0.1]", "value = [9.0e6, 0.1]"),
     r"checks\.value: market value \+ cash 515,116 is not within 10% of 9,000,000"),
    (lambda t: t.replace("day_after_12 = true", "day_after_12 = false"),
     r"checks\.day_after_12: day_after_12 is not False"),
    (lambda t: t.replace("[checks]\n", "[checks]\nnames = 3\nholds = [\"AAPL\"]\n"),
     r"checks\.names: not 3 names; checks\.holds: does not hold all of \['AAPL'\]"),
])
def test_a_persona_whose_book_breaks_its_checks_fails_the_build(builder, tmp_path, change,
                                                                 message):
    mod, market = builder
    path = tmp_path / "young-pro.toml"
    path.write_text(change(_young_pro()))
    persona = mod.load_persona(market, path)
    with pytest.raises(SystemExit, match=message) as err:
        mod.check_persona(market, persona)
    assert str(err.value).startswith(f"{path}: checks failed: ")


def test_every_shipped_check_holds_and_each_one_can_fail(builder):
    """The shipped [checks] pass; turned around (another target), every kind of check fails."""
    mod, market = builder
    personas = mod.load_personas(market)
    used = set()
    for p in personas.values():
        assert mod.run_checks(market, p) == []
        for _, table, _, _ in mod._check_scopes(p):
            used |= set(table)
    assert used == set(mod.CHECKS)
    household = personas["household"]
    broken = dict(household.doc, checks={
        "overlap": 8, "wash_locks": ["AAPL"], "blotter_within_days": 20,
        "blotter_loss_sale": {"buy": 2, "sell": 6, "days": [7, 13]},
        "accounts": {"ira": {"names": 14, "value": [1.0e6, 0.1], "short_term_losses": 9,
                             "recent_buys": 9}}})
    failed = mod.run_checks(market, mod.Persona(household.path, household.client_id,
                                                household.title, household.lots,
                                                household.spelled, household.cash, broken))
    assert [f.split(":")[0] for f in failed] == [
        "checks.overlap", "checks.wash_locks", "checks.blotter_within_days",
        "checks.blotter_loss_sale", "checks.accounts.ira.names", "checks.accounts.ira.value",
        "checks.accounts.ira.short_term_losses", "checks.accounts.ira.recent_buys"]
