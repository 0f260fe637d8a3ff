"""Benchmark: a restriction toggle's kernel side, click -> today's trades drawn (issue 16).

The browser test's session without the browser: the dashboard notebook's widgets, wired as
``notebooks/dashboard.ipynb`` wires them (``debounce=0.1``, toggles and profiles
prefetched), on an asyncio loop as in the kernel (display steps run on the loop's thread).
After the household's first page is complete, its lots are uploaded and the toggles of
``--scenario`` are clicked one after the other (each ``CATEGORY:SECONDS``: the seconds
waited after the previous update was complete, or after the upload for the first; the
browser test clicks fossil fuels about 0.2 s after the upload). ``mode=MODE:SECONDS``
clicks the planner's transition mode instead (``mode=timeline``: "Over years", the
browser test's next step, about 1 s after the toggle's update, while the next toggles
are prefetched); ``prefetch_running_at_click`` says whether an idle-time prefetch was
running when the click came.

Per click it prints the wall seconds and the process CPU seconds (``time.process_time``:
every thread of the kernel, the prefetch's included; not the plan workers' processes) from
the click to the trades drawn, the UI thread's CPU seconds, each update stage's CPU
seconds on its thread and whether the trades came from the cache (prefetched), each of the
view's worker threads' CPU seconds in that time (``threads_cpu_s``: ``pma-dash`` the update
thread, ``pma-dash-prefetch`` the toggles' prefetch, ``pma-dash-compare`` the comparisons
and the other profiles' prefetch), how long the prefetch waited at its checkpoints for the
update (``prefetch_paused_s``; empty for a ``pma_lab`` whose prefetch does not give way),
the widget messages sent in that time and their bytes, and the load average. ``PYTHONPATH`` chooses
the ``pma_lab`` measured (another checkout's, for a figure before a change). The
browser's part (websocket, rendering) is ``bench_dashboard.py``'s.

Goals (issue 16): toggle -> trades <= 0.5 s with the debounce included, every other
interaction (the mode switch) <= 2 s, on 2 idle cores. The page is the notebook's own
(:func:`pma_lab.app.dashboard.build_dashboard`).
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

from pma_lab.app.dashboard import build_dashboard
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

        pre = dash_widgets.ProposalView._prefetch_one
        self.prefetching = 0  # idle-time prefetches (toggles, other profiles) running now

        def _pre(view, *args, **kwargs):
            rec.prefetching += 1
            try:
                return pre(view, *args, **kwargs)
            finally:
                rec.prefetching -= 1

        ipw.Widget._send = _send
        dash_widgets.ProposalView._prefetch_one = _pre
        self.paused: list[float] = []  # seconds each prefetch checkpoint waited (> 1 ms)
        give = getattr(dash_widgets.ProposalView, "_give_way", None)
        if give is not None:  # a pma_lab whose prefetch gives way to the user's update
            def _give(view, *args, **kwargs):
                t = time.perf_counter()
                try:
                    return give(view, *args, **kwargs)
                finally:
                    if time.perf_counter() - t > 0.001:
                        rec.paused.append(round(time.perf_counter() - t, 3))

            dash_widgets.ProposalView._give_way = _give
        dash_widgets.ProposalView._stage = staticmethod(_stage)
        dash_widgets.ProposalView._show_first_year = _show

    def reset(self) -> None:
        del self.messages[:]
        del self.stages[:]
        del self.paused[:]


def threads_cpu() -> dict[str, float]:
    """CPU seconds of each of the view's worker threads so far (Linux: per-thread clocks)."""
    out: dict[str, float] = {}
    for t in threading.enumerate():
        if t.name.startswith("pma-dash") and t.ident is not None:
            name = t.name.rsplit("_", 1)[0]  # the pool's name, not the worker's number
            try:
                cpu = time.clock_gettime(time.pthread_getcpuclockid(t.ident))
            except (OSError, AttributeError):
                continue
            out[name] = out.get(name, 0.0) + cpu
    return out


async def _until(cond, timeout: float = WAIT_S) -> None:
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"the dashboard did not get there in {timeout} s")
        await asyncio.sleep(0.002)


async def session(scenario: list[tuple[str, float]]) -> list[dict]:
    rec = Recorder()
    # the notebook's own call (notebooks/dashboard.ipynb)
    dash = build_dashboard(selected="household", debounce=0.1, prefetch=True)
    upload, editor, planner, view = dash.upload, dash.editor, dash.planner, dash.view
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
            mode = cat.removeprefix("mode=") if cat.startswith("mode=") else None
            on = planner.mode != mode if mode else not editor._boxes[cat].value
            before = len(rows)
            rec.reset()
            load = os.getloadavg()[0]
            prefetching = rec.prefetching > 0
            th0 = threads_cpu()
            c0, t0, u0 = time.process_time(), time.perf_counter(), time.thread_time()
            if mode:
                planner.mode = mode  # the mode's button clicked
            else:
                editor.set_category(cat, on)
            await _until(lambda: len(rows) > before)  # noqa: B023 - awaited at once
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            ui = time.thread_time() - u0
            th1 = threads_cpu()
            per_thread = {k: round(v - th0.get(k, 0.0), 3) for k, v in th1.items()}
            sent = [b for t, b in rec.messages if t <= t0 + wall]
            cached = dict((s[0], s[2]) for s in rec.stages if s[0] != "draw_trades")
            out.append({"toggle": cat, "on": on, "wait_s": wait,
                        "toggle_to_trades_s": round(wall, 3),
                        "process_cpu_s": round(cpu, 3), "ui_thread_cpu_s": round(ui, 3),
                        "stages_cpu_s": [[s[0], s[1]] for s in rec.stages],
                        "trades_prefetched": cached.get("first_trades", True),
                        "prefetch_running_at_click": prefetching,
                        "threads_cpu_s": per_thread,
                        "prefetch_paused_s": list(rec.paused),
                        "messages": len(sent), "message_bytes": sum(sent),
                        "load_avg_1m": round(load, 2)})
            print(json.dumps(out[-1]), flush=True)
            await _until(view._idle.is_set)
    finally:
        dash.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="fossil_fuels:0.2,tobacco:0.2,alcohol:30",
                    help="CATEGORY:SECONDS or mode=MODE:SECONDS, ... (default: %(default)s)")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    scenario = [(c, float(s)) for c, s in (x.rsplit(":", 1) for x in args.scenario.split(","))]
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
