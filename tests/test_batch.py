"""Batch runs on real Dask clusters: failures isolated, workers killed, reruns, interrupts.

Most tests share one scheduler and two workers started here as separate processes on
127.0.0.1 (``dask scheduler`` / ``dask worker``), so ``--scheduler`` runs are tested as the
service team uses them; the tests of a killed worker and of a killed batch start their own
local cluster, as ``pma-lab batch`` does by default.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from pma_lab.app.batch import (
    LOG_FILE,
    SUMMARY_FILE,
    format_summary,
    run_batch,
    safe_name,
    submission_order,
)
from pma_lab.files import MARKER, check_marker
from pma_lab.paths import bad_inputs_dir, clients_dir

TESTS = Path(__file__).parent


def lots_job(profile: str, out_dir: str, params: dict) -> dict:
    from pma_lab.io.client import load_client
    from pma_lab.io.holdings import summarize_lots

    (Path(out_dir) / "started.json").write_text(json.dumps({"at": time.time(),
                                                            "pid": os.getpid()}))
    if Path(profile).parent.name == params.get("kill", ""):
        os.kill(os.getpid(), signal.SIGKILL)  # this client takes its worker down
    if Path(profile).parent.name == params.get("hang", ""):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        (Path(out_dir) / "child.pid").write_text(str(child.pid))
        time.sleep(600)
    s = summarize_lots(load_client(profile))
    path = Path(out_dir) / "holdings.csv"
    s.holdings.to_csv(path, index=False)
    return {"output": str(path)}


def dask_settings_job(profile: str, out_dir: str, params: dict) -> dict:
    """What the worker running this job was started with (its Dask settings, its loop's
    periodic callbacks)."""
    import dask
    from dask.distributed import get_worker

    worker = get_worker()
    path = Path(out_dir) / "settings.json"
    path.write_text(json.dumps({
        "profile": dask.config.get("distributed.worker.profile.enabled"),
        "tick": dask.config.get("distributed.admin.tick.interval"),
        "monitor": dask.config.get("distributed.admin.system-monitor.interval"),
        "callbacks": sorted(worker.periodic_callbacks)}))
    return {"output": str(path)}


def _clients(root: Path, *names: str, bad: tuple[str, ...] = ()) -> Path:
    src = root / "clients"
    for name in names:
        shutil.copytree(clients_dir() / name, src / name)
    for name in bad:
        (src / name).mkdir(parents=True)
        shutil.copy(bad_inputs_dir() / "bad_profile_rate.toml", src / name / "profile.toml")
    return src


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A Dask scheduler and two single-threaded workers, as separate processes."""
    logs = tmp_path_factory.mktemp("dask")
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    # the workers import this module (lots_job) by name, as pytest does
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get(
        "PYTHONPATH", "")]), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    procs = [subprocess.Popen([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"], env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=open(logs / "scheduler.log", "wb"))]  # noqa: SIM115
    procs.append(subprocess.Popen([str(bindir / "dask"), "worker", addr, "--nworkers", "2",
                                   "--nthreads", "1", "--no-dashboard"], env=env,
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(logs / "workers.log", "wb")))  # noqa: SIM115
    from dask.distributed import Client

    try:
        with Client(addr, timeout=60) as c:
            c.wait_for_workers(2, timeout=120)
        yield {"address": addr, "workers_log": logs / "workers.log"}
    finally:
        import psutil

        tree = [q for p in procs for q in psutil.Process(p.pid).children(recursive=True)]
        for p in procs:
            p.kill()  # the test's own scheduler and workers, by process id
        for q in tree:
            with contextlib.suppress(psutil.Error):
                q.kill()
        for p in procs:
            p.wait(timeout=30)


def test_safe_names_cannot_escape():
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name(".hidden") == "hidden"
    assert safe_name("a b/c\\d") == "a_b_c_d"
    assert safe_name("...") == "client"


def test_bad_inputs_fail_before_any_job_starts(tmp_path, scheduler):
    src = _clients(tmp_path, "young-pro", "household", bad=("evil name", "-minus"))
    out = tmp_path / "out"
    res = run_batch(src, out, scheduler=scheduler["address"], job=lots_job, progress=False)
    s = res.summary.set_index("client")
    assert set(s.index) == {"young-pro", "household", "evil_name", "-minus"}
    # the summary CSV goes through the safe writer: no cell a spreadsheet would evaluate
    raw = pd.read_csv(out / SUMMARY_FILE, dtype=str, keep_default_na=False)
    assert "'-minus" in set(raw.client) and "-minus" not in set(raw.client)
    assert list(s.loc[["young-pro", "household"], "status"]) == ["ok", "ok"]
    assert s.loc["evil_name", "status"] == "failed"
    assert "ProfileError" in s.loc["evil_name", "error"]
    err = out / "evil_name" / "error.txt"
    assert err.is_file() and not (out / "evil_name" / "started.json").exists()
    # the summary's cell holds every problem of the message (file, key, fix), not only its
    # headline (reviewer 1, session 20); error.txt adds where it happened
    message = err.read_text().split("--- where it happened")[0]
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    assert len(lines) > 1 and all(ln in raw.set_index("client").loc["evil_name", "error"]
                                  for ln in lines[1:])
    first_job = min(json.loads((out / n / "started.json").read_text())["at"]
                    for n in ("young-pro", "household"))
    assert err.stat().st_mtime <= first_job  # validated before any job began
    assert (out / "household" / "holdings.csv").is_file()
    assert check_marker(out / "household").ok and not check_marker(out / "evil_name").ok
    assert res.failed == 2


def test_input_warnings_go_to_the_clients_folder_and_the_summary(tmp_path, scheduler):
    """Reviewer 1 (session 22): the batch dropped every input warning (zero basis, a
    skipped total row...): the summary's ``warning`` cell and the client's log were empty.
    Now each client's warnings are in ``OUT/<client>/warnings.txt`` and their count and
    the first one in the summary; a client without any has neither."""
    from pma_lab.io.client import load_client

    src = _clients(tmp_path, "young-pro", "retiree")  # retiree: 2 warnings, young-pro none
    out = tmp_path / "out"
    res = run_batch(src, out, scheduler=scheduler["address"], job=lots_job, progress=False)
    s = res.summary.set_index("client")
    assert res.failed == 0
    want = [w.format() for w in load_client(src / "retiree" / "profile.toml").warnings]
    assert len(want) == 2
    assert (out / "retiree" / "warnings.txt").read_text().splitlines() == want
    cell = s.loc["retiree", "warning"]
    assert cell.startswith("2 input warnings (all in retiree/warnings.txt), the first: ")
    # the first warning, cut to SUMMARY_WARNING_CHARS when its path is long (a deep
    # temporary folder: CI's xdist workers)
    from pma_lab.app.batch import SUMMARY_WARNING_CHARS

    first = " ".join(want[0].split())
    if len(first) > SUMMARY_WARNING_CHARS:
        first = first[:SUMMARY_WARNING_CHARS - 3].rstrip() + "..."
    assert cell.endswith(first)
    raw = pd.read_csv(out / SUMMARY_FILE, dtype=str, keep_default_na=False)
    assert raw.set_index("client").loc["retiree", "warning"] == cell
    assert not (out / "young-pro" / "warnings.txt").exists()
    assert s.loc["young-pro", "warning"] == ""
    assert check_marker(out / "retiree").ok
    # warnings fixed in the inputs: the rerun removes the earlier file
    prof = src / "retiree" / "profile.toml"
    shutil.rmtree(src / "retiree")
    shutil.copytree(clients_dir() / "young-pro", src / "retiree")
    assert prof.is_file()
    again = run_batch(src, out, scheduler=scheduler["address"], job=lots_job,
                      progress=False)
    assert not (out / "retiree" / "warnings.txt").exists()
    assert again.summary.set_index("client").loc["retiree", "warning"] == ""


def test_validate_client_lists_the_lots_warnings_before_the_layout_notes(tmp_path):
    """The summary quotes the first input warning: a zero basis, not a skipped column."""
    from pma_lab.app.batch import _input_warnings, validate_client

    src = _clients(tmp_path, "balanced-6040") / "balanced-6040"
    lots = src / "lots.csv"
    rows = lots.read_text().splitlines()
    rows[0] += ",Description"
    rows[1:] = [r + ",x" for r in rows[1:]]
    rows[2] = rows[2].rsplit(",", 2)[0] + ",0,x"  # the second lot's cost per share
    lots.write_text("\n".join(rows) + "\n")
    lines = validate_client(str(src / "profile.toml"))
    assert [("zero" in ln, "not used by pma_lab" in ln) for ln in lines] == [
        (True, False), (False, True)]
    cell = _input_warnings(tmp_path / "out" / "balanced-6040", lines)
    assert cell.startswith("2 input warnings (all in balanced-6040/warnings.txt), the first: ")
    assert "row 3, column 'cost_per_share'" in cell and "the cost basis is zero" in cell


def test_summary_names_a_relative_clients_folders_files_absolute_as_the_lots(
        tmp_path, monkeypatch):
    """Reviewer 1 (session 20): with the clients folder given relative, the error cell
    named the profile relative (``clients/x/profile.toml``) and its lots file absolute
    (the profile resolves the files it names). Both are absolute now, as ``output`` is."""
    src = _clients(tmp_path, "balanced-6040")
    prof, lots = src / "balanced-6040" / "profile.toml", src / "balanced-6040" / "lots.csv"
    prof.write_text(prof.read_text().replace('filing_status = "single"',
                                             'filing_status = "singel"'))
    lots.write_text(lots.read_text().replace("BA-0002,taxable,ABT,2014-10-14,305,",
                                             "BA-0002,taxable,ABT,2014-10-14,-305,"))
    monkeypatch.chdir(tmp_path)
    # local workers (started here, so in this folder: a relative path reaches them)
    res = run_batch(Path("clients"), tmp_path / "out", workers=1, job=lots_job,
                    progress=False)
    error = res.summary.set_index("client").loc["balanced-6040", "error"]
    real = str(src.resolve() / "balanced-6040")
    assert f"{real}/profile.toml, column 'tax.filing_status'" in error
    assert f"{real}/lots.csv, row 3, column 'shares'" in error
    assert " clients/" not in error and not error.startswith("clients/")
    assert error.count("/profile.toml") == error.count(f"{real}/profile.toml") == 2


def test_reruns_keep_untouched_rows_and_follow_the_disk(tmp_path, scheduler):
    src = _clients(tmp_path, "young-pro", "household", bad=("broken",))
    out = tmp_path / "out"
    addr = scheduler["address"]
    first = run_batch(src, out, scheduler=addr, job=lots_job, progress=False)
    s1 = first.summary.set_index("client")
    assert s1.loc["broken", "status"] == "failed" and first.failed == 1
    # fix the bad client, rerun only the failed one: the other rows are kept as they were
    shutil.rmtree(src / "broken")
    shutil.copytree(clients_dir() / "tech-exec", src / "broken")
    time.sleep(1.1)  # run_at has a one-second resolution
    second = run_batch(src, out, scheduler=addr, job=lots_job, progress=False,
                       only_failed=True)
    assert second.ran == ("broken",) and second.failed == 0
    s2 = pd.read_csv(out / SUMMARY_FILE).set_index("client")
    assert list(s2.index) == ["broken", "household", "young-pro"]
    assert (s2.status == "ok").all()
    assert s2.loc["household", "run_at"] == s1.loc["household", "run_at"]
    assert s2.loc["broken", "run_at"] > s1.loc["broken", "run_at"]
    # complete outputs are skipped; a deleted output makes the row missing, then reruns
    third = run_batch(src, out, scheduler=addr, job=lots_job, progress=False,
                      skip_existing=True)
    assert third.ran == ()
    (out / "household" / "holdings.csv").unlink()
    fourth = run_batch(src, out, scheduler=addr, job=lots_job, progress=False,
                       only_failed=True)  # nothing failed: nothing runs, the disk is read
    s4 = fourth.summary.set_index("client")
    assert fourth.ran == () and s4.loc["household", "status"] == "missing"
    assert "holdings.csv is missing" in s4.loc["household", "error"]
    fifth = run_batch(src, out, scheduler=addr, job=lots_job, progress=False,
                      skip_existing=True)
    assert fifth.ran == ("household",)
    assert (fifth.summary.status == "ok").all()


@pytest.mark.slow
def test_cli_batch_on_a_scheduler_renders_proposals_quietly(tmp_path, scheduler):
    """The real job through ``pma-lab batch --scheduler``: proposals, markers, 100 columns."""
    src = _clients(tmp_path, "young-pro", bad=("a-client-with-a-rather-long-folder-name",))
    out = tmp_path / "out"
    exe = Path(sys.executable).with_name("pma-lab")
    log_before = scheduler["workers_log"].read_text(errors="replace")
    r = subprocess.run([str(exe), "batch", str(src), "--out", str(out), "--scheduler",
                        scheduler["address"], "--format", "html", "--param",
                        "annual_steps=True", "--param", "frontier_points=5", "--param",
                        "plans=immediate", "--param", "horizon_years=2"],
                       capture_output=True,
                       text=True, timeout=900, check=False)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    # the table fits 100 columns; the summary file's path is printed whole (a long temp
    # folder, as under pytest-xdist, makes that line longer)
    table = [ln for ln in lines if not ln.startswith("summary: ")]
    assert max(len(line) for line in table) <= 100, [ln for ln in table if len(ln) > 100]
    assert any(line.startswith("young-pro") and " ok " in line for line in lines)
    assert "1/2 clients of this run done" in r.stdout
    m = check_marker(out / "young-pro")
    assert m.ok and {p.name for p in m.files} >= {
        "young-pro_proposal.html", "young-pro_trades.csv", "young-pro_trades.xlsx",
        "young-pro_complete.json"}
    # the kernel's own chatter goes to the client's log, not to the worker's stderr (the
    # routing: test_a_warm_kernel_serves_runs...); over IPC the kernel no longer warns
    # that it runs over TCP without encryption (pma_lab.report.kernel)
    kernel_log = (out / "young-pro" / LOG_FILE).read_text(errors="replace")
    new = scheduler["workers_log"].read_text(errors="replace")[len(log_before):]
    assert "IPKernelApp" not in new
    assert "running over TCP" not in kernel_log + new


def test_console_summary_fits_100_columns(tmp_path):
    summary = pd.DataFrame({
        "client": ["a" * 60, "b"], "status": ["ok", "failed"], "seconds": [12.345, 0.31],
        "run_at": ["2026-01-01T00:00:00+00:00"] * 2,
        "output": [str(tmp_path / ("x" * 120) / "p.html"), ""],
        "error": ["", "ProfileError: " + "y" * 200]})
    text = format_summary(summary, tmp_path)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "   12  " in text and "    0  " in text  # seconds rounded
    assert "p.html" in text and "ProfileError" in text


def test_a_batch_on_an_existing_scheduler_looks_for_no_process_to_stop(tmp_path, scheduler,
                                                                      monkeypatch):
    """The scheduler's workers are not the batch's to stop: no snapshot of the machine's
    processes (2-8 ms each) is taken while it runs, and none is stopped."""
    from pma_lab.app import batch

    calls = []
    monkeypatch.setattr(batch._Descendants, "snapshot", lambda self: calls.append("snapshot"))
    monkeypatch.setattr(batch._Descendants, "stop", lambda self: calls.append("stop"))
    src = _clients(tmp_path, "young-pro")
    res = run_batch(src, tmp_path / "out", scheduler=scheduler["address"], job=lots_job,
                    progress=False)
    assert res.failed == 0 and calls == []


def test_submission_order_puts_untimed_clients_first_then_the_slowest():
    previous = {"a": {"status": "ok", "seconds": 5.0},
                "b": {"status": "ok", "seconds": 30.0},
                "c": {"status": "failed", "seconds": 90.0},  # its time is not its cost
                "d": {"status": "ok", "seconds": float("nan")},
                "e": {"status": "ok", "seconds": 30.0},
                "f": {"status": "ok", "seconds": "12.5"},  # as read back from the CSV
                "g": {"status": "missing", "seconds": 40.0}}
    names = ["a", "b", "c", "d", "e", "f", "g", "new"]
    assert submission_order(names, previous) == ["c", "d", "g", "new", "b", "e", "f", "a"]
    assert submission_order(["z", "y"], {}) == ["z", "y"]  # a first run: input order


@pytest.mark.slow
def test_a_rerun_submits_its_slowest_clients_first_and_keeps_the_summary_in_order(
        tmp_path):
    """One worker takes the clients one by one in submission order; the summary's rows
    are in client order."""
    src = _clients(tmp_path, "young-pro", "household", "tech-exec", "retiree")
    out = tmp_path / "out"
    out.mkdir()
    pd.DataFrame([{"client": n, "status": "ok", "seconds": s, "run_at": "2026-01-01",
                   "output": "", "error": "", "warning": ""}
                  for n, s in (("young-pro", 5.0), ("household", 30.0),
                               ("tech-exec", 10.0))]).to_csv(out / SUMMARY_FILE,
                                                             index=False)
    res = run_batch(src, out, workers=1, job=lots_job, progress=False)
    assert res.failed == 0
    started = {n: json.loads((out / n / "started.json").read_text())["at"]
               for n in res.ran}
    assert sorted(started, key=started.get) == ["retiree", "household", "tech-exec",
                                                "young-pro"]
    assert list(res.summary.client) == ["household", "retiree", "tech-exec", "young-pro"]
    assert list(pd.read_csv(out / SUMMARY_FILE).client) == list(res.summary.client)


@pytest.mark.slow
def test_a_killed_worker_fails_only_its_client(tmp_path):
    src = _clients(tmp_path, "young-pro", "household", "tech-exec")
    out = tmp_path / "out"
    res = run_batch(src, out, workers=2, job=lots_job, progress=False,
                    params={"kill": "household"})
    s = res.summary.set_index("client")
    assert s.loc["household", "status"] == "failed"
    assert "KilledWorker" in s.loc["household", "error"]
    assert list(s.loc[["tech-exec", "young-pro"], "status"]) == ["ok", "ok"]
    assert (out / SUMMARY_FILE).is_file() and res.failed == 1
    assert "KilledWorker" in (out / "household" / "error.txt").read_text()
    assert not (out / "household" / MARKER).exists()


@pytest.mark.slow
def test_the_batch_cluster_runs_its_workers_without_the_profiler(tmp_path):
    """The batch's own workers idle cheaply while their jobs wait for a kernel
    (:data:`pma_lab.app.batch.CLUSTER_CONFIG`; Dask's defaults profile every 10 ms)."""
    from pma_lab.app.batch import CLUSTER_CONFIG

    src = _clients(tmp_path, "young-pro")
    res = run_batch(src, tmp_path / "out", workers=1, job=dask_settings_job, progress=False)
    assert res.failed == 0
    seen = json.loads((tmp_path / "out" / "young-pro" / "settings.json").read_text())
    assert seen["profile"] is False and "profile" not in seen["callbacks"]
    assert seen["tick"] == CLUSTER_CONFIG["distributed.admin.tick.interval"] == "1s"
    assert seen["monitor"] == "5s"
    assert "heartbeat" in seen["callbacks"]  # the worker still reports to its scheduler


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_batch import lots_job
from pma_lab.app.batch import run_batch
if __name__ == "__main__":
    run_batch({src!r}, {out!r}, workers=2, job=lots_job, progress=False,
              params={{"hang": "household"}})
"""


@pytest.mark.slow
def test_a_killed_batch_stops_its_processes_and_writes_the_summary(tmp_path):
    import psutil

    src = _clients(tmp_path, "young-pro", "household", "tech-exec")
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(SCRIPT.format(tests=str(TESTS), src=str(src),
                                                    out=str(out))))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    child_pid = out / "household" / "child.pid"
    t0 = time.monotonic()
    while not child_pid.exists() or not check_marker(out / "young-pro").ok:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < 180, "the batch did not start its jobs"
        time.sleep(0.2)
    tree = psutil.Process(proc.pid).children(recursive=True)
    assert int(child_pid.read_text()) in {p.pid for p in tree}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]
    s = pd.read_csv(out / SUMMARY_FILE).set_index("client")
    assert s.loc["household", "status"] == "interrupted"
    assert s.loc["young-pro", "status"] == "ok"
    assert not (out / "household" / MARKER).exists()


# ------------------------------------------------------------------------- warm kernels
def _tiny_notebook(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("tag = ''", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(
                    "import os, sys\n"
                    "leaked = 'secret' in dir()\n"
                    "secret = tag\n"
                    "print(os.getpid(), leaked, os.getcwd(), file=sys.__stderr__)\n"
                    "print(os.getpid(), leaked, os.getcwd())")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def _run_tiny(kernel, nb: Path, out: Path, tag: str) -> tuple[str, str, str]:
    import nbformat
    import papermill as pm

    kernel.prepare(nb.parent)
    pm.execute_notebook(str(nb), str(out), parameters={"tag": tag}, kernel_name="python3",
                        progress_bar=False, km=kernel.manager, cwd=str(nb.parent))
    text = nbformat.read(out, as_version=4).cells[-1].outputs[0]["text"]
    pid, leaked, cwd = text.split()
    return pid, leaked, cwd


def test_a_warm_kernel_serves_runs_in_one_process_with_a_fresh_namespace(tmp_path):
    from pma_lab.report.kernel import WarmKernel

    nb = _tiny_notebook(tmp_path / "tiny.ipynb")
    fds = []
    with WarmKernel(max_runs=3) as k:
        runs = []
        for i in range(4):
            runs.append(_run_tiny(k, nb, tmp_path / f"out{i}.ipynb", f"client{i}"))
            fds.append(len(os.listdir("/proc/self/fd")))
        assert k.started == 2  # the fourth run got a fresh kernel (max_runs=3)
        # the kernel's own stderr is kept in its log, readable per run
        assert "client" not in k.log_since(0).decode() and str(runs[3][0]) in \
            k.log_since(0).decode()
    pids = [r[0] for r in runs]
    assert pids[0] == pids[1] == pids[2] != pids[3]  # reused, then replaced
    assert [r[1] for r in runs] == ["False"] * 4  # no variable survives into the next run
    assert {r[2] for r in runs} == {str(tmp_path)}
    assert fds[1] == fds[2]  # each run's kernel client is closed (no sockets leak)
    assert not k.alive


QUICK = {"plans": "immediate", "horizon_years": 1, "annual_steps": True,
         "frontier_points": 3}
"""The proposal parameters of the render tests below (a quick proposal)."""


def _recording_saves(mp: pytest.MonkeyPatch) -> list[str]:
    """Record every notebook papermill writes (its path), still writing it."""
    import papermill.engines

    saves: list[str] = []
    real_write = papermill.engines.write_ipynb
    mp.setattr(papermill.engines, "write_ipynb",
               lambda nb, path: saves.append(path) or real_write(nb, path))
    return saves


@pytest.fixture(scope="module")
def young_pro_fresh(tmp_path_factory):
    """young-pro's quick proposal rendered in a fresh kernel without the batch's disk cache
    (PMA_LAB_CACHE unset), the notebooks papermill wrote while rendering it: the one
    render both tests below compare with (each rendered its own copy before)."""
    from pma_lab.report.proposal import render_proposal

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("PMA_LAB_CACHE", raising=False)
        saves = _recording_saves(mp)
        res = render_proposal(clients_dir() / "young-pro" / "profile.toml",
                              tmp_path_factory.mktemp("fresh"), **QUICK)
    return SimpleNamespace(result=res, saves=saves)


def test_a_warm_kernel_renders_the_same_proposal_as_a_fresh_one(tmp_path, monkeypatch,
                                                                young_pro_fresh):
    """Second client through a warm kernel == that client through a fresh kernel.

    The executed notebook is written once, at the end, not again at every cell's start
    and end (papermill's default: ~90 rewrites of a growing notebook per proposal).
    """
    import nbformat

    saves = _recording_saves(monkeypatch)

    from pma_lab.report.kernel import WarmKernel
    from pma_lab.report.proposal import render_proposal

    params = QUICK
    prof = {c: clients_dir() / c / "profile.toml" for c in ("household", "young-pro")}
    cold = young_pro_fresh.result
    with WarmKernel() as k:
        render_proposal(prof["household"], tmp_path / "warm1", kernel=k, **params)
        warm = render_proposal(prof["young-pro"], tmp_path / "warm2", kernel=k, **params)
        assert k.started == 1 and k.runs == 2

    def outputs(path: Path) -> list:
        nb = nbformat.read(path, as_version=4)
        return [[{k: v for k, v in o.items() if k != "execution_count"}
                 for o in c.get("outputs", []) if o.get("output_type") != "stream"]
                for c in nb.cells if c.cell_type == "code"]

    assert outputs(warm.notebook) == outputs(cold.notebook)
    # the warm kernel's reset is its own stage, not counted as the notebook's execution
    assert "kernel" in warm.timings and "kernel" not in cold.timings
    # per-cell saves, in the fresh and the warm kernels; the final write is
    # papermill.execute's own
    assert saves == [] and young_pro_fresh.saves == []
    assert warm.trades_csv.read_bytes() == cold.trades_csv.read_bytes()


def test_a_warm_kernel_that_times_out_is_replaced(tmp_path):
    """A run that does not finish (a cell over its time limit) shuts the kernel down, so
    the next client never meets a half-run kernel."""
    import nbformat

    from pma_lab.report.kernel import WarmKernel
    from pma_lab.report.proposal import render_proposal

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = ''\nlots = []\nas_of = ''",
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import time\ntime.sleep(600)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "slow.ipynb"
    nbformat.write(nb, path)
    profile = clients_dir() / "young-pro" / "profile.toml"
    with WarmKernel() as k:
        with pytest.raises(Exception, match="(?i)timed? ?out|timeout"):
            render_proposal(profile, tmp_path / "out", notebook=path, timeout=5, kernel=k)
        assert k.started == 1 and not k.alive
        k.prepare(tmp_path)
        assert k.started == 2 and k.alive


def test_batch_kernels_compare_plans_in_their_own_process(monkeypatch, tmp_path):
    """A batch worker's kernels run the plan comparison serially (PMA_LAB_PLAN_WORKERS=1,
    set before the worker's kernel starts), unless the worker's environment says
    otherwise."""
    from pma_lab.app.batch import BLAS_THREADS_ENV, propose_job
    from pma_lab.errors import DataError
    from pma_lab.report.proposal import PLAN_WORKERS_ENV

    profile = str(clients_dir() / "young-pro" / "profile.toml")
    for var in (PLAN_WORKERS_ENV, *BLAS_THREADS_ENV):  # restored after the test
        monkeypatch.setenv(var, "3")
        monkeypatch.delenv(var)
    with pytest.raises(DataError, match="unknown proposal parameter"):  # before any kernel
        propose_job(profile, str(tmp_path / "a"), {"no_such_parameter": 1})
    assert os.environ[PLAN_WORKERS_ENV] == "1"
    assert not any(v in os.environ for v in BLAS_THREADS_ENV)  # the worker's own: as it was
    monkeypatch.setenv(PLAN_WORKERS_ENV, "3")
    with pytest.raises(DataError, match="unknown proposal parameter"):
        propose_job(profile, str(tmp_path / "b"), {"no_such_parameter": 1})
    assert os.environ[PLAN_WORKERS_ENV] == "3"


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_a_batch_workers_kernel_runs_one_blas_thread(monkeypatch, tmp_path):
    """The worker's warm kernel is started with OPENBLAS/OMP/MKL_NUM_THREADS=1 in its own
    environment (read from the kernel process), unless the worker's sets them; the
    worker's environment is left as it is (review 15 L7)."""
    import pma_lab.app.batch as batch

    for var in batch.BLAS_THREADS_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "4")
    monkeypatch.setattr(batch, "_WORKER_KERNEL", None)
    k = batch.worker_kernel()
    try:
        k.prepare(tmp_path)
        pid = k.manager.provisioner.process.pid
        env = dict(e.split("=", 1) for e in
                   Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in e)
        assert env["OPENBLAS_NUM_THREADS"] == "1" and env["OMP_NUM_THREADS"] == "1"
        assert env["MKL_NUM_THREADS"] == "4"  # the worker's own setting wins
        assert "OPENBLAS_NUM_THREADS" not in os.environ
    finally:
        k.close()


def test_a_proposal_from_the_batch_cache_is_the_page_rendered_without_it(tmp_path,
                                                                        monkeypatch,
                                                                        young_pro_fresh):
    """The batch's disk cache (PMA_LAB_CACHE: the risk model, and the target shared by
    clients with the same screens) changes no figure: the second client rendered with the
    cache filled (a hit) makes the same HTML page and trade file as a render without it."""
    from pma_lab.report.proposal import render_proposal

    params = QUICK
    prof = clients_dir() / "young-pro" / "profile.toml"
    plain = young_pro_fresh.result  # rendered without PMA_LAB_CACHE
    monkeypatch.setenv("PMA_LAB_CACHE", str(tmp_path / "cache"))
    render_proposal(prof, tmp_path / "fill", **params)
    assert len(list((tmp_path / "cache").glob("target-*"))) == 1
    hit = render_proposal(prof, tmp_path / "hit", **params)

    def page(path: Path) -> str:  # papermill gives its parameters cell a new id every run
        import re

        return re.sub(r'(celltag_injected-parameters" id=)"cell-id=[0-9a-f]+"', r"\1",
                      path.read_text(encoding="utf-8"))

    assert page(hit.html) == page(plain.html)
    assert hit.trades_csv.read_bytes() == plain.trades_csv.read_bytes()


def test_a_worker_keeps_its_kernel_and_printer_through_a_100_client_batch():
    """Both were replaced after 50 clients, in nearly every 100-client batch on 2 workers
    (one worker's 51st client: ~5.7 s), while their memory is flat well past 50
    (benchmarks/bench_warm_memory.py: kernel 630-665 MB from the 12th to the 30th proposal,
    printer 381-393 MB from the 10th to the 110th print)."""
    from pma_lab.report.kernel import WarmKernel
    from pma_lab.report.proposal import _Printer

    assert WarmKernel().max_runs >= 100 and _Printer.max_prints >= 100
