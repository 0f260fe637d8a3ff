"""A lots upload for a client whose lots come in one file per account (reviewer 1, session 22).

The dashboard's upload replaced every lots file of the profile with the one uploaded file:
a custodian's taxable-account export emptied the client's IRA (F11/F12), and the left panel
said the load succeeded even when the proposal could not be updated. These tests split the
household sample's lots into a taxable file (no account column: the profile's default
account) and an IRA file, and upload a new taxable file.
"""

from __future__ import annotations

import html
import shutil

import pandas as pd
import pytest
import traitlets as tl
from traitlets import dlink

from pma_lab.app.dashboard import HoldingsUpload
from pma_lab.app.dashboard.compute import upload_summary
from pma_lab.io.client import load_client, load_client_replacing
from pma_lab.paths import clients_dir

SRC = clients_dir() / "household"


@pytest.fixture()
def split(tmp_path):
    """The household client with its lots in ``taxable.csv`` (no account column) and
    ``ira.csv``; returns (profile path, the taxable lots as a new upload's bytes)."""
    shutil.copy(SRC / "recent_trades.csv", tmp_path / "recent_trades.csv")
    lots = pd.read_csv(SRC / "household_lots.csv", dtype=str)
    taxable = lots[lots.account == "taxable"].drop(columns="account")
    taxable.to_csv(tmp_path / "taxable.csv", index=False)
    lots[lots.account == "ira"].to_csv(tmp_path / "ira.csv", index=False)
    prof = (SRC / "profile.toml").read_text()
    assert 'files = ["household_lots.csv"]' in prof
    (tmp_path / "profile.toml").write_text(
        prof.replace('files = ["household_lots.csv"]', 'files = ["taxable.csv", "ira.csv"]'))
    # the custodian's newer taxable export: the same lots but the first, which was sold
    new = taxable.iloc[1:].to_csv(index=False).encode()
    return tmp_path / "profile.toml", new, len(taxable), int((lots.account == "ira").sum())


def test_load_client_replacing_keeps_the_other_accounts_lots(split, tmp_path):
    profile, new, n_taxable, n_ira = split
    up = tmp_path / "up" / "taxable_2026-08.csv"
    up.parent.mkdir()
    up.write_bytes(new)
    c, rep = load_client_replacing(profile, [up])
    df = c.lots.lots
    assert (df.account == "ira").sum() == n_ira  # the IRA's file is kept
    assert (df.account == "taxable").sum() == n_taxable - 1  # the upload's lots only
    assert set(df[df.account == "taxable"].source_file) == {str(up)}
    assert rep.new == ((str(up), "taxable", n_taxable - 1),)
    assert [(f.rsplit("/", 1)[-1], a, n) for f, a, n in rep.replaced] == [
        ("taxable.csv", "taxable", n_taxable)]
    assert [(f.rsplit("/", 1)[-1], a, n) for f, a, n in rep.kept] == [("ira.csv", "ira", n_ira)]
    assert rep.empty == ()
    c.ledger()  # the recent trades (IRA buys among them) still replay on the merged lots
    # load_client's lots_files still replace every file (the command line's meaning)
    assert set(load_client(profile, lots_files=[up]).lots.lots.account) == {"taxable"}


def test_upload_summary_names_replaced_kept_and_empty_accounts(split, tmp_path):
    profile, new, n_taxable, n_ira = split
    up = tmp_path / "up" / "taxable.csv"
    up.parent.mkdir()
    up.write_bytes(new)
    said = upload_summary(*load_client_replacing(profile, [up]), "taxable.csv")
    assert said.lines == (
        f"taxable.csv (uploaded): {n_taxable - 1} lots of taxable account",
        f"Replaced from the profile: taxable.csv's {n_taxable} lots of taxable account",
        f"Kept from the profile: ira.csv's {n_ira} lots of IRA")
    assert said.empty == () and said.split_files == ()
    assert [p.rsplit("/", 1)[-1] for p in said.kept_files] == ["ira.csv"]
    # a profile whose only file holds both accounts: an upload of the taxable lots replaces
    # that file's taxable lots and keeps its IRA lots
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(SRC / "recent_trades.csv", one / "recent_trades.csv")
    shutil.copy(SRC / "household_lots.csv", one / "household_lots.csv")
    shutil.copy(SRC / "profile.toml", one / "profile.toml")
    c, rep = load_client_replacing(one / "profile.toml", [up])
    said = upload_summary(c, rep, "taxable.csv")
    assert said.lines[1] == (f"Replaced from the profile: household_lots.csv's {n_taxable} "
                             "lots of taxable account (its other accounts' lots are kept)")
    assert [p.rsplit("/", 1)[-1] for p in said.split_files] == ["household_lots.csv"]
    assert (c.lots.lots.account == "ira").sum() == n_ira


def test_an_account_left_without_lots_is_named(split, tmp_path):
    """A profile declaring an IRA that none of its files holds: the upload's panel names it
    in red."""
    profile, new, n_taxable, n_ira = split
    (profile.parent / "ira.csv").write_text("account,lot_id,symbol,date_acquired,quantity,"
                                            "unit_cost\n")
    text = profile.read_text().replace('files = ["taxable.csv", "ira.csv"]',
                                       'files = ["taxable.csv"]')
    text = text.replace('recent_trades = "recent_trades.csv"\n', "")
    profile.write_text(text)
    up = HoldingsUpload()
    up.profile_path = str(profile)
    assert up.handle_upload("taxable.csv", new)
    assert set(up.client.lots.lots.account) == {"taxable"}
    panel = up._panel.value
    assert "pma-error-panel" in panel and "IRA: no lots (none in taxable.csv)" in panel
    assert "left with no lots" in panel


def test_upload_keeps_the_ira_and_says_so(split):
    """F11/F12: the old upload left the client with the uploaded file's lots only."""
    profile, new, n_taxable, n_ira = split
    up = HoldingsUpload()
    up.profile_path = str(profile)
    assert len(up.client.lots) == n_taxable + n_ira
    assert up.handle_upload("taxable_export.csv", new)
    df = up.client.lots.lots
    assert (df.account == "ira").sum() == n_ira
    assert (df.account == "taxable").sum() == n_taxable - 1
    assert up.source == "taxable_export.csv (uploaded) + ira.csv (profile)"
    panel = up._panel.value
    assert "Replaced from the profile: taxable.csv&#x27;s" in panel
    assert "Kept from the profile: ira.csv" in panel
    assert "pma-error-panel" not in panel  # no account is left empty
    assert [p.rsplit("/", 1)[-1] for p in up.kept_files] == ["ira.csv"]


class View(tl.HasTraits):
    """Stands for ProposalView's ``outcome`` (the link is what is tested here; the
    notebook links the real view's, test_dashboard.py's build() too)."""

    outcome = tl.Tuple((0, ""))


def test_a_failed_update_shows_in_the_upload_panel(split):
    profile, new, *_ = split
    view = View()
    up = HoldingsUpload()
    dlink((view, "outcome"), (up, "update_outcome"))
    up.profile_path = str(profile)
    assert up.handle_upload("taxable.csv", new)
    view.outcome = (1, "recent_trades.csv: the blotter buys MMM in account 'ira' ...")
    assert up.update_error.startswith("recent_trades.csv")
    assert "pma-error-panel" in up._panel.value
    assert "The proposal could not be updated for taxable.csv (uploaded)" in up._panel.value
    assert "pma-update-failed" in up._info.value
    assert "Lots loaded" in up._panel.value  # the load's own summary stays
    # the same failure again (another update) is still shown; a success clears it
    assert up.handle_upload("taxable.csv", new)
    assert "pma-update-failed" not in up._info.value
    view.outcome = (2, "recent_trades.csv: the blotter buys MMM in account 'ira' ...")
    assert "pma-update-failed" in up._info.value
    view.outcome = (3, "")
    assert "pma-update-failed" not in up._info.value and "pma-error-panel" not in \
        up._panel.value


def _exported_lots(up, monkeypatch) -> dict:
    """The lots files the dashboard's PDF export renders from, and their lot count: the
    render is stopped before the kernel starts."""
    import pma_lab.app.dashboard.widgets as widgets
    from pma_lab.app.dashboard import ExportPanel, ProposalView
    from pma_lab.errors import PmaLabError

    seen = {}

    def render(prof, out, *, lots, **kw):
        seen["lots"] = [p.name for p in lots]
        seen["n"] = len(load_client(prof, lots_files=lots).lots)
        raise PmaLabError("stopped here by the test")

    monkeypatch.setattr(widgets.report, "render_proposal", render)
    ExportPanel(ProposalView(), up).export_pdf(wait=True)
    return seen


def test_the_pdf_export_reads_the_upload_with_the_profiles_kept_files(split, monkeypatch):
    """The proposal PDF is rendered from the same lots as the screen: the uploaded file
    and the profile's files it left whole (the old export passed the upload alone)."""
    profile, new, n_taxable, n_ira = split
    up = HoldingsUpload()
    up.profile_path = str(profile)
    assert up.handle_upload("taxable_export.csv", new)
    seen = _exported_lots(up, monkeypatch)
    assert seen["lots"] == ["taxable_export.csv", "ira.csv"]
    assert seen["n"] == len(up.client.lots) == n_taxable - 1 + n_ira


def test_one_file_per_account_uploaded_one_after_the_other(split, monkeypatch):
    """A custodian's exports, one per account, uploaded one after the other: each upload
    keeps the earlier uploads' lots of the accounts it does not hold (F11: "a client whose
    custodian gives one file per account cannot be uploaded at all"), and the PDF export
    reads them all."""
    profile, new, n_taxable, n_ira = split
    ira = pd.read_csv(profile.parent / "ira.csv", dtype=str)
    ira_new = ira.iloc[:-1].to_csv(index=False).encode()  # the IRA sold its last lot
    up = HoldingsUpload()
    up.profile_path = str(profile)
    assert up.handle_upload("taxable_export.csv", new)
    assert up.handle_upload("ira_export.csv", ira_new)
    df = up.client.lots.lots
    assert (df.account == "taxable").sum() == n_taxable - 1  # the first upload's
    assert (df.account == "ira").sum() == n_ira - 1  # the second's
    assert up.source == "ira_export.csv, taxable_export.csv (uploaded)"
    assert [n for n, _ in up.uploads] == ["ira_export.csv", "taxable_export.csv"]
    assert up.kept_files == () and up.split_files == ()
    panel = html.unescape(up._panel.value)
    assert f"Replaced from the profile: ira.csv's {n_ira} lots of IRA" in panel
    assert (f"Kept from an earlier upload: taxable_export.csv's {n_taxable - 1} lots of "
            "taxable account") in panel
    seen = _exported_lots(up, monkeypatch)
    assert seen == {"lots": ["ira_export.csv", "taxable_export.csv"],
                    "n": n_taxable - 1 + n_ira - 1}
    # the taxable account's export again: it replaces the first upload, the IRA's stays
    assert up.handle_upload("taxable_export.csv", new)
    assert [n for n, _ in up.uploads] == ["taxable_export.csv", "ira_export.csv"]
    assert len(up.client.lots) == n_taxable - 1 + n_ira - 1
    # another client: the uploads are forgotten
    up.profile_path = str(SRC / "profile.toml")
    assert up.uploads == () and up.source == "household_lots.csv (profile)"


def test_two_profile_files_of_one_account_are_both_kept(split, tmp_path):
    """The profile's files are one layer: two files of the taxable account both keep their
    lots when an IRA file is uploaded (only earlier uploads override each other)."""
    profile, new, n_taxable, n_ira = split
    taxable = pd.read_csv(profile.parent / "taxable.csv", dtype=str)
    taxable.iloc[:5].to_csv(profile.parent / "taxable_a.csv", index=False)
    taxable.iloc[5:].to_csv(profile.parent / "taxable_b.csv", index=False)
    profile.write_text(profile.read_text().replace(
        'files = ["taxable.csv", "ira.csv"]', 'files = ["taxable_a.csv", "taxable_b.csv", '
        '"ira.csv"]'))
    up = tmp_path / "up" / "ira_export.csv"
    up.parent.mkdir()
    (profile.parent / "ira.csv").rename(up)
    (profile.parent / "ira.csv").write_bytes(up.read_bytes())
    c, rep = load_client_replacing(profile, [up])
    assert (c.lots.lots.account == "taxable").sum() == n_taxable
    assert sorted(f.rsplit("/", 1)[-1] for f, _, _ in rep.kept) == ["taxable_a.csv",
                                                                     "taxable_b.csv"]


def test_two_uploads_of_the_same_file_name_into_two_accounts_both_load(tmp_path):
    """Session 22 (s22-dash): a custodian's ``positions.csv`` of the taxable account, then
    its ``positions.csv`` of the IRA, made the same lot ids (``positions:2``) and the second
    upload was refused; a made id another lot also has now carries its account."""
    for f in ("recent_trades.csv", "household_lots.csv", "profile.toml"):
        shutil.copy(SRC / f, tmp_path / f)
    lots = pd.read_csv(SRC / "household_lots.csv", dtype=str).drop(columns="lot_id")
    first, second = tmp_path / "a" / "positions.csv", tmp_path / "b" / "positions.csv"
    for path, acc in ((first, "taxable"), (second, "ira")):
        path.parent.mkdir()
        lots[lots.account == acc].to_csv(path, index=False)
    c, _ = load_client_replacing(tmp_path / "profile.toml", [second], over=[first])
    df = c.lots.lots
    assert df.lot_id.is_unique and len(df) == len(lots)
    tax, ira = df[df.source_file == str(first)], df[df.source_file == str(second)]
    assert list(tax.lot_id[:2]) == ["positions[taxable]:2", "positions[taxable]:3"]
    assert list(ira.lot_id[:1]) == ["positions[ira]:2"]
    assert tax.lot_id.str.startswith("positions[taxable]:").all()  # a file's ids alike
    assert ira.lot_id.str.startswith("positions[ira]:").all()
    c.ledger()  # the ledger takes them (it needs ids unique across accounts)
    # the dashboard's upload: the IRA's file after the taxable one's, both in effect
    up = HoldingsUpload()
    up.profile_path = str(tmp_path / "profile.toml")
    assert up.handle_upload("positions.csv", first.read_bytes())
    assert up.handle_upload("positions.csv", second.read_bytes()), up._panel.value
    assert up.client.lots.lots.groupby("account").size().to_dict() == {
        "ira": (lots.account == "ira").sum(), "taxable": (lots.account == "taxable").sum()}


@pytest.fixture()
def gift_upload(tmp_path):
    """young-pro's custodian export with its two PYPL lots received as gifts on 2025-10-01,
    their FMV given per share (session 24, item 3): the first's $70 is below the donor's
    $305.88 (a dual basis: today's $57.21 sells it at a short-term loss from the FMV), the
    second's $200 above the donor's $172.96 (the donor's basis, long-term)."""
    src = clients_dir() / "young-pro"
    for f in src.iterdir():
        shutil.copy(f, tmp_path / f.name)
    lines = (src / "brokerage_export.csv").read_text().splitlines()
    assert lines[1].startswith("PYPL,60,") and lines[2].startswith("PYPL,50,")
    rows = [lines[0] + ",Date of Gift,FMV Per Share at Gift",
            lines[1] + ",10/01/2025,70.00", lines[2] + ",10/01/2025,200.00",
            *(line + ",," for line in lines[3:])]
    gift = tmp_path / "gift_export.csv"
    gift.write_text("\n".join(rows) + "\n")
    return tmp_path / "profile.toml", gift


def test_a_gift_lots_upload_agrees_with_the_proposal_and_the_cli(gift_upload, tmp_path):
    """Session 24, item 3: a lots upload with gift columns (the FMV per share, a custodian's
    header) is read by the dashboard as by the proposal's loader and the command line: the
    same lots (dual basis), the same trades and tax today, and each gift lot's sale at the
    gain or loss the CLI's lots summary and rebalance give it (Pub 551)."""
    from test_dashboard import SETTINGS, TS, build

    from pma_lab.app.cli import main
    from pma_lab.app.dashboard import ProposalEngine
    from pma_lab.io.holdings import summarize_lots
    from pma_lab.optimize.engine import prepare
    from pma_lab.plan.transition import first_trades

    profile, gift = gift_upload
    widgets = build(ProposalEngine(SETTINGS), selected="young-pro")
    try:
        upload, view = widgets[1], widgets[-1]
        upload.profile_path = str(profile)
        assert upload.handle_upload("gift_export.csv", gift.read_bytes())
        assert upload.error == "" and view.error == ""
        api = load_client(profile, lots_files=[gift])
        pd.testing.assert_frame_equal(upload.client.lots.lots.drop(columns="source_file"),
                                      api.lots.lots.drop(columns="source_file"))
        got = upload.client.lots.lots.set_index("lot_id")
        assert got.fmv_at_gift["gift_export:2"] == 4200.0  # 60 x $70
        assert got.fmv_at_gift["gift_export:3"] == 10000.0
        assert str(got.gift_date["gift_export:2"].date()) == "2025-10-01"
        # the dashboard's trades and tax today are the API's (the proposal's first step)
        fy = first_trades(prepare(api), view.plan, TS)
        pd.testing.assert_frame_equal(view.first_year.trades, fy.trades, rtol=1e-9)
        for k in ("tax", "realized_st", "realized_lt"):
            assert view.first_year.summary[k] == pytest.approx(fy.summary[k], abs=1e-6), k
        # the CLI's lots summary of the same file: the holdings the proposal's table shows
        out = tmp_path / "summary"
        assert main(["lots", "summarize", str(gift), "--profile", str(profile),
                     "--out", str(out)]) == 0
        cli = pd.read_csv(out / "lots.csv", comment="#").set_index("lot_id")
        mine = summarize_lots(upload.client)
        pd.testing.assert_frame_equal(
            pd.read_csv(out / "holdings.csv", comment="#").set_index("ticker")[
                ["shares", "basis", "unrealized_st", "unrealized_lt"]],
            mine.holdings.set_index("ticker")[["shares", "basis", "unrealized_st",
                                               "unrealized_lt"]],
            check_exact=False, atol=0.005, check_dtype=False)
        # each gift lot's sale in the dashboard's trade list: the CLI's gain and term
        rows = view.trade_rows.set_index("Lot ID")
        for lot, gain, term in (("gift_export:2", -767.40, "ST"),
                                ("gift_export:3", -5787.50, "LT")):
            assert cli.unrealized[lot] == pytest.approx(gain, abs=0.005)
            assert cli.term[lot] == term
            assert rows.Action[lot] == "SELL" and rows.Quantity[lot] == cli.shares[lot]
            assert rows["Est. Gain"][lot] == pytest.approx(gain, abs=0.005)
            assert rows.Term[lot] == {"ST": "Short-term", "LT": "Long-term"}[term]
        # the CLI's rebalance sells them at the same gains
        assert main(["rebalance", str(gift), "--profile", str(profile),
                     "--out", str(tmp_path / "reb")]) == 0
        lt = pd.read_csv(tmp_path / "reb" / "lot_trades.csv", comment="#").set_index("lot_id")
        assert lt.gain["gift_export:2"] == pytest.approx(-767.40, abs=0.005)
        assert lt.term["gift_export:2"] == "ST"
        assert lt.gain["gift_export:3"] == pytest.approx(-5787.50, abs=0.005)
    finally:
        for w in widgets:
            w.close()
