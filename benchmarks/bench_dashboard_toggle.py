"""Benchmark: a restriction toggle's kernel side, click -> today's trades drawn (issue 16).

The browser test's session without the browser: the dashboard notebook's widgets, wired as
``notebooks/dashboard.ipynb`` wires them (``debounce=0.1``, toggles and profiles
prefetched), on an asyncio loop as in the kernel (display steps run on the loop's thread).
After the household's first page is complete, its lots are uploaded and the toggles of
``--scenario`` are clicked one after the other (each ``CATEGORY:SECONDS``: the seconds
waited after the previous update was complete, or after the upload for the first; the
browser test clicks fossil fuels about 0.2 s after the upload).

Per click it prints the wall seconds and the process CPU seconds (``time.process_time``:
every thread of the kernel, the prefetch's included; not the plan workers' processes) from
the click to the trades drawn, the UI thread's CPU seconds, each update stage's CPU
seconds on its thread and whether the trades came from the cache (prefetched), the widget
messages sent in that time and their bytes, and the load average. ``PYTHONPATH`` chooses
the ``pma_lab`` measured (another checkout's, for a figure before a change). The
browser's part (websocket, rendering) is ``bench_dashboard.py``'s.

Goal (issue 16): toggle -> trades <= 0.5 s with the debounce included, on 2 idle cores.
Prints one JSON object; ``--out FILE`` also writes it to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
from pathlib import Path

import ipywidgets as ipw
from traitlets import dlink

from pma_lab.app.dashboard import (
    ExportPanel,
    HoldingsUpload,
    ModelsUpload,
    ProfilePicker,
    ProposalView,
    RestrictionEditor,
    TaxEditor,
    TransitionPlanner,
)
from pma_lab.app.dashboard import widgets as dash_widgets
from pma_lab.paths import clients_dir

LOTS = clients_dir() / "household" / "household_lots.csv"
WAIT_S = 900.0


class Recorder:
    """Widget messages and update stages (CPU on their thread) since :meth:`reset`."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, int]] = []
        self.stages: list[tuple[str, float, bool]] = []
        self.drawn = 0
        send, stage = ipw.Widget._send, dash_widgets.ProposalView._stage
        show = dash_widgets.ProposalView._show_first_year
        rec = self

        def _send(widget, msg, buffers=None):
            rec.messages.append((time.perf_counter(), len(json.dumps(msg, default=str))))
            return send(widget, msg, buffers)

        def _stage(tm, name, fn):
            c = time.thread_time()
            out = stage(tm, name, fn)
            rec.stages.append((name, round(time.thread_time() - c, 4), bool(tm[f"{name}_cached"])))
            return out

        def _show(view, *args, **kwargs):
            c = time.thread_time()
            show(view, *args, **kwargs)
            rec.drawn += 1
            rec.stages.append(("draw_trades", round(time.thread_time() - c, 4), False))

        ipw.Widget._send = _send
        dash_widgets.ProposalView._stage = staticmethod(_stage)
        dash_widgets.ProposalView._show_first_year = _show

    def reset(self) -> None:
        del self.messages[:]
        del self.stages[:]


async def _until(cond, timeout: float = WAIT_S) -> None:
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"the dashboard did not get there in {timeout} s")
        await asyncio.sleep(0.002)


async def session(scenario: list[tuple[str, float]]) -> list[dict]:
    rec = Recorder()
    picker = ProfilePicker(selected="household")
    upload = HoldingsUpload(max_bytes=5_000_000)
    taxes, editor, planner = TaxEditor(), RestrictionEditor(), TransitionPlanner()
    view = ProposalView(debounce=0.1, prefetch_profiles=picker.paths, prefetch_toggles=True)
    models = ModelsUpload(engine=view.engine, max_bytes=5_000_000)
    ExportPanel(view, upload)
    dlink((picker, "value"), (upload, "profile_path"))
    dlink((upload, "client"), (models, "client"))
    dlink((upload, "client"), (taxes, "client"))
    dlink((taxes, "edited"), (view, "client"))
    dlink((taxes, "edited"), (editor, "client"))
    dlink((taxes, "edited"), (planner, "client"))
    dlink((editor, "restrictions"), (view, "restrictions"))
    dlink((planner, "plan"), (view, "plan"))
    dlink((models, "models"), (view, "models"))
    dlink((view, "outcome"), (upload, "update_outcome"))
    await _until(lambda: view._idle.is_set() and view.analysis is not None)
    n = rec.drawn
    upload.handle_upload(LOTS.name, LOTS.read_bytes())
    await _until(lambda: rec.drawn > n)
    out = []
    rows: list[object] = []  # today's trades drawn (the view sets trade_rows when it draws)
    view.observe(lambda ch: rows.append(ch["new"]), "trade_rows")
    try:
        for cat, wait in scenario:
            await asyncio.sleep(wait)
            on = not editor._boxes[cat].value
            before = len(rows)
            rec.reset()
            load = os.getloadavg()[0]
            c0, t0, u0 = time.process_time(), time.perf_counter(), time.thread_time()
            editor.set_category(cat, on)
            await _until(lambda: len(rows) > before)  # noqa: B023 - awaited at once
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            ui = time.thread_time() - u0
            sent = [b for t, b in rec.messages if t <= t0 + wall]
            cached = dict((s[0], s[2]) for s in rec.stages if s[0] != "draw_trades")
            out.append({"toggle": cat, "on": on, "wait_s": wait,
                        "toggle_to_trades_s": round(wall, 3),
                        "process_cpu_s": round(cpu, 3), "ui_thread_cpu_s": round(ui, 3),
                        "stages_cpu_s": [[s[0], s[1]] for s in rec.stages],
                        "trades_prefetched": cached.get("first_trades", True),
                        "messages": len(sent), "message_bytes": sum(sent),
                        "load_avg_1m": round(load, 2)})
            print(json.dumps(out[-1]), flush=True)
            await _until(view._idle.is_set)
    finally:
        view.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="fossil_fuels:0.2,tobacco:0.2,alcohol:30",
                    help="CATEGORY:SECONDS,... (default: %(default)s)")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    scenario = [(c, float(s)) for c, s in (x.split(":") for x in args.scenario.split(","))]
    clicks = asyncio.run(session(scenario))
    result = {"benchmark": "dashboard_toggle_kernel", "cpus": os.cpu_count(),
              "pma_lab": str(Path(dash_widgets.__file__).resolve().parents[3]),
              "threads": threading.active_count(), "clicks": clicks}
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
