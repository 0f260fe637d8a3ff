"""Files a profile may read, and what error messages may echo (issue 12, "Paths").

A profile's ``lots.files`` and ``lots.recent_trades`` are confined to the profile's folder
(symlinks followed) unless ``lots.allowed_dirs`` names more folders; a file that fails to
parse is never echoed beyond the header names of a recognisable table.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import openpyxl
import pytest
from test_profile import issues as codes  # tests/ is on sys.path (pytest's prepend mode)

from pma_lab.app.cli import main
from pma_lab.errors import InputError, ProfileError, Severity
from pma_lab.io.client import load_client
from pma_lab.io.profile import load_profile
from pma_lab.paths import bad_inputs_dir, clients_dir

BAD = bad_inputs_dir()
BASE = (BAD / "base_profile.toml").read_text()
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def client(tmp_path: Path) -> Path:
    """A client folder (profile + good lots) inside ``tmp_path/clients``."""
    folder = tmp_path / "clients" / "c1"
    folder.mkdir(parents=True)
    shutil.copy(BAD / "good_lots.csv", folder / "good_lots.csv")
    (folder / "profile.toml").write_text(BASE)
    return folder


def with_lots(folder: Path, files: str, extra: str = "") -> Path:
    text = BASE.replace('files = ["good_lots.csv"]', f"files = {files}{extra}")
    p = folder / "profile.toml"
    p.write_text(text)
    return p


# ------------------------------------------------------------------ confinement
def test_parent_paths_are_refused_even_to_a_real_lots_file(client):
    shutil.copy(BAD / "good_lots.csv", client.parent / "other.csv")
    p = with_lots(client, '["../other.csv"]')
    assert codes(p) == {("path_outside", "lots.files[0]")}


def test_absolute_paths_outside_are_refused_before_anything_is_read(client, tmp_path):
    secret = tmp_path / "secrets.csv"
    secret.write_text(f"AWS_SECRET_ACCESS_KEY={SECRET}\n")
    p = with_lots(client, f'["{secret}", "/etc/passwd", "/dev/zero"]')
    assert codes(p) == {("path_outside", f"lots.files[{i}]") for i in range(3)}
    with pytest.raises(ProfileError) as e:
        load_profile(p)
    assert SECRET not in str(e.value)


def test_an_absolute_path_inside_the_folder_is_fine(client):
    p = with_lots(client, f'["{client / "good_lots.csv"}"]')
    assert load_profile(p).lots.files == ((client / "good_lots.csv").resolve(),)


def test_symlinks_are_followed_before_the_check(client, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(BAD / "good_lots.csv", outside / "lots.csv")
    os.symlink(outside / "lots.csv", client / "link.csv")          # a file link
    os.symlink(outside, client / "linked_dir")                    # a folder link
    p = with_lots(client, '["link.csv", "linked_dir/lots.csv"]')
    assert codes(p) == {("path_outside", "lots.files[0]"), ("path_outside", "lots.files[1]")}
    # a link that stays inside the folder is fine
    os.symlink(client / "good_lots.csv", client / "inside.csv")
    assert len(load_profile(with_lots(client, '["inside.csv"]')).lots.files) == 1


def test_recent_trades_are_confined_too(client):
    shutil.copy(BAD / "good_blotter.csv", client.parent / "trades.csv")
    p = with_lots(client, '["good_lots.csv"]', '\nrecent_trades = "../trades.csv"')
    assert codes(p) == {("path_outside", "lots.recent_trades")}


def test_allowed_dirs_is_the_explicit_way_out(client):
    shared = client.parent / "custodian"
    shared.mkdir()
    shutil.copy(BAD / "good_lots.csv", shared / "lots.csv")
    shutil.copy(BAD / "good_blotter.csv", shared / "trades.csv")
    p = with_lots(client, '["../custodian/lots.csv"]',
                  '\nrecent_trades = "../custodian/trades.csv"\nallowed_dirs = ["../custodian"]')
    c = load_client(p)
    assert len(c.lots) == 5 and c.recent_trades is not None
    assert load_profile(p).lots.allowed_dirs == (shared.resolve(),)
    # the allowance is for that folder only
    (client.parent / "x.csv").write_text("x")
    assert codes(with_lots(client, '["../x.csv"]', '\nallowed_dirs = ["../custodian"]')) == {
        ("path_outside", "lots.files[0]")}


def test_a_folder_or_device_named_as_a_lots_file_is_refused(client):
    (client / "sub").mkdir()
    assert codes(with_lots(client, '["sub"]')) == {("not_a_file", "lots.files[0]")}


def test_the_sample_clients_stay_inside_their_folders():
    for profile in sorted(clients_dir().glob("*/profile.toml")):
        lots = load_profile(profile).lots
        for f in (*lots.files, lots.recent_trades):
            assert f is None or f.is_relative_to(profile.parent.resolve())


# ------------------------------------------------------------------ no echo of content
SECRET_FILES = {
    "secrets.csv": f"AWS_SECRET_ACCESS_KEY={SECRET}\naws_session=abc\n",
    "creds.csv": f"user,password\nadmin,{SECRET}\n",
    "keys.txt": f"token;{SECRET}\n",
    "pairs.csv": f"name,value,other\nkey,{SECRET},x,y,z\n",
    "tabbed.csv": f"id\t{SECRET}\n",
}


@pytest.mark.parametrize("name", sorted(SECRET_FILES))
def test_a_file_that_fails_to_parse_is_not_echoed(client, name, capsys):
    (client / name).write_text(SECRET_FILES[name])
    p = with_lots(client, f'["{name}"]')
    with pytest.raises(InputError) as e:
        load_client(p)
    shown = str(e.value) + "".join(f"{i.value}{i.message}{i.fix}" for i in e.value.issues)
    assert SECRET not in shown and "aws_session" not in shown
    assert main(["lots", "validate", "--profile", str(p)]) == 2
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err and name in out.err


def test_a_secret_workbook_is_not_echoed(client):
    wb = openpyxl.Workbook()
    wb.active.append(["password", SECRET])
    wb.active.append([SECRET, "=HYPERLINK(\"http://x\")" + SECRET])
    wb.save(client / "book.xlsx")
    with pytest.raises(InputError) as e:
        load_client(with_lots(client, '["book.xlsx"]'))
    assert SECRET not in str(e.value)


def test_a_recognisable_lots_header_is_still_shown(client):
    (client / "pos.csv").write_text("Symbol,Quantity,Cost Basis\nAAPL,10,1000\n")
    with pytest.raises(InputError) as e:
        load_client(with_lots(client, '["pos.csv"]'))
    assert "'Symbol', 'Quantity', 'Cost Basis'" in str(e.value)
    (client / "semi.csv").write_text("ticker;shares;acquired;cost_per_share\nAAPL;1;2020-01-02;1\n")
    with pytest.raises(InputError) as e:  # read as semicolons (said), the basis refused
        load_client(with_lots(client, '["semi.csv"]'))
    [i] = [i for i in e.value.issues if i.code == "detected_delimiter"]
    assert "'ticker'" in i.value


def test_bad_cells_are_echoed_cut_short(client):
    long = "9" * 30 + SECRET
    (client / "l.csv").write_text(f"ticker,shares,acquired,cost_per_share\nAAPL,{long},"
                                  "2020-01-02,1\nAAPL,1,2020-01-02,1,extra\n")
    with pytest.raises(InputError) as e:
        load_client(with_lots(client, '["l.csv"]'))
    assert SECRET not in str(e.value)
    assert {i.code for i in e.value.issues if i.severity is Severity.ERROR} == {
        "non_numeric", "ragged_row"}
