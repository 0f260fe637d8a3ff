"""pma_lab.report.kernel: the notebook kernels pma_lab starts talk over local IPC sockets.

Over TCP without CurveZMQ keys ipykernel 7 warns at every start ("Kernel is running over
TCP without encryption"), which ``pma-lab propose`` printed on the console; the setting
is made once, in :func:`pma_lab.report.kernel.kernel_manager_class`, for papermill's own
kernels and for :class:`~pma_lab.report.kernel.WarmKernel`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from pma_lab.errors import PmaLabError
from pma_lab.paths import clients_dir
from pma_lab.report.kernel import GC_THRESHOLD, WarmKernel, kernel_transport
from pma_lab.report.proposal import render_proposal

WARNING = "Kernel is running over TCP without encryption"
PROFILE = clients_dir() / "young-pro" / "profile.toml"


def _transport_notebook(tmp_path):
    """A notebook that prints the transport its kernel was started with."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("profile = ''\nlots = []\nas_of = ''",
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(
                    "import json\nfrom ipykernel.connect import get_connection_file\n"
                    "print(json.load(open(get_connection_file()))['transport'])")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path = tmp_path / "transport.ipynb"
    nbformat.write(nb, path)
    return path


def _printed(path) -> str:
    cell = nbformat.read(path, as_version=4).cells[-1]
    return "".join(o.get("text", "") for o in cell.outputs).strip()


def test_the_platform_has_ipc():
    assert kernel_transport() == "ipc"  # Linux: ZeroMQ has Unix-domain sockets


def test_a_proposals_kernel_is_started_over_ipc_without_the_tcp_warning(tmp_path, capfd):
    """render_proposal's fresh kernel (the one pma-lab propose starts): the kernel process
    writes to the console's stderr, so the warning is looked for at the file descriptor."""
    nb = _transport_notebook(tmp_path)
    with pytest.raises(PmaLabError, match="no trade list"):  # the notebook ran; no report
        render_proposal(PROFILE, tmp_path / "out", notebook=nb)
    assert _printed(tmp_path / "out" / "young-pro_proposal.ipynb") == "ipc"
    assert WARNING not in capfd.readouterr().err


def test_a_warm_kernel_is_started_over_ipc_without_the_tcp_warning(tmp_path, monkeypatch):
    """The sockets live in the Jupyter runtime folder under a name of the kernel's own
    (jupyter_client's default, a relative 'kernel-ipc', is bound in the kernel's working
    folder and looked for in the client's), so a reset from another folder reaches the
    kernel, and they are gone when it shuts down."""
    from jupyter_core.paths import jupyter_runtime_dir

    nb = _transport_notebook(tmp_path)
    with WarmKernel() as k:
        with pytest.raises(PmaLabError, match="no trade list"):
            render_proposal(PROFILE, tmp_path / "out", notebook=nb, kernel=k)
        km = k.manager
        assert km.transport == "ipc"
        assert Path(km.ip).parent == Path(jupyter_runtime_dir())
        assert Path(km.ip).name.startswith("pma-lab-")
        assert WARNING.encode() not in k.log_since(0)
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "elsewhere")
        k.prepare(tmp_path)  # the reset's client connects from another folder
        assert k.started == 1 and k.runs == 2
    assert not list(Path(km.ip).parent.glob(Path(km.ip).name + "*"))
    assert _printed(tmp_path / "out" / "young-pro_proposal.ipynb") == "ipc"


def test_a_kernel_client_is_ready_when_iopub_answers_not_after_a_quiet_period():
    """jupyter_client's wait_for_ready ends by reading IOPub until 0.2 s pass without a
    message (twice a warm proposal: the reset's client and papermill's); pma_lab's client
    reads IOPub up to the kernel's idle status for its own kernel_info request, so on a
    connected client no read waits for silence, and what the kernel published before is
    drained all the same."""
    from queue import Empty

    from jupyter_core.utils import run_sync

    from pma_lab.report.kernel import kernel_client_class, kernel_manager_class

    km = kernel_manager_class()(kernel_name="python3")
    run_sync(km.start_kernel)()
    kc = km.client()
    try:
        assert isinstance(kc, kernel_client_class())
        kc.start_channels()
        run_sync(kc.wait_for_ready)(timeout=60)  # connects IOPub (may ask twice)
        msg_id = kc.execute("print('published before the next wait')")
        reply = run_sync(kc._async_recv_reply)(msg_id, timeout=60)
        assert reply["content"]["status"] == "ok"  # its stream output is still on IOPub
        waits: list[float | None] = []
        real = kc.iopub_channel.get_msg

        async def get_msg(timeout=None):  # noqa: ANN001, ANN202
            try:
                return await real(timeout=timeout)
            except Empty:
                waits.append(timeout)
                raise

        kc.iopub_channel.get_msg = get_msg
        run_sync(kc.wait_for_ready)(timeout=60)
        assert waits == []  # ready on the kernel's answer, without a quiet period
        with pytest.raises(Empty):  # the print and the statuses were drained
            run_sync(real)(timeout=0.5)
    finally:
        kc.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)


def _printed_by(k: WarmKernel, code: str) -> str:
    """What ``code`` prints when run in the warm kernel."""
    from jupyter_core.utils import run_sync

    kc = k.manager.client()
    kc.start_channels()
    out: list[dict] = []
    try:
        run_sync(kc.wait_for_ready)(timeout=60)
        reply = run_sync(kc.execute_interactive)(code, timeout=60, output_hook=out.append)
    finally:
        kc.stop_channels()
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(m["content"].get("text", "") for m in out
                   if m["msg_type"] == "stream").strip()


def test_a_warm_kernels_reset_clears_the_namespace_and_collects_every_n_runs(tmp_path):
    """IPython's reset makes a full cycle collection (~0.12 CPU-s in a proposal's kernel)
    before it clears the namespace; the warm kernel clears it at every reset but collects
    every ``collect_every`` resets, after the clearing, freeing the clients' cycles then.
    The cycle here sits in the oldest generation, as the tax ledger's objects do, so only
    a full collection frees it."""
    make = ("import builtins, gc, weakref\n"
            "class Cycle:\n    pass\n"
            "c = Cycle()\nc.me = c\nbuiltins.pma_lab_test_ref = weakref.ref(c)\n"
            "gc.freeze()\ngc.unfreeze()\nprint('made')")
    look = ("import builtins\nprint('c' in globals(), 'Cycle' in globals(), "
            "builtins.pma_lab_test_ref() is not None)")
    with WarmKernel(collect_every=2) as k:
        k.prepare(tmp_path)  # a fresh kernel
        assert _printed_by(k, make) == "made"
        k.prepare(tmp_path)  # a reset after 1 run: no collection
        assert (k.runs, k.collections) == (2, 0)
        assert _printed_by(k, look) == "False False True"  # gone from the namespace only
        k.prepare(tmp_path)  # after 2 runs: collected
        assert (k.runs, k.collections) == (3, 1)
        assert _printed_by(k, look) == "False False False"
    with pytest.raises(ValueError, match="collect_every=0"):
        WarmKernel(collect_every=0)


def test_a_warm_kernel_collects_its_youngest_generation_at_its_own_threshold(tmp_path):
    """The warm kernel starts with the cycle collector's youngest threshold at
    GC_THRESHOLD (a proposal's cells ran ~110-140 young collections a client at Python's
    700), the other two as Python's; set at start, it adds no name to the namespace and
    uses no execution count (the same as a kernel started without it), and stays set
    across resets. ``None`` keeps Python's."""
    first = ("print(sorted(n for n in globals() if not n.startswith('_')), "
             "get_ipython().execution_count)")
    look = "import gc\nprint(gc.get_threshold())"
    seen = {}
    for threshold in (GC_THRESHOLD, None):
        with WarmKernel(gc_threshold=threshold) as k:
            k.prepare(tmp_path)  # a fresh kernel: nothing executed before this cell
            seen[threshold] = [_printed_by(k, first), _printed_by(k, look)]
            k.prepare(tmp_path)  # reset
            seen[threshold].append(_printed_by(k, look))
    assert seen[GC_THRESHOLD][0] == seen[None][0]
    assert seen[GC_THRESHOLD][1:] == [f"({GC_THRESHOLD}, 10, 10)"] * 2
    assert seen[None][1:] == ["(700, 10, 10)"] * 2
    with pytest.raises(ValueError, match="gc_threshold=0"):
        WarmKernel(gc_threshold=0)
