"""Benchmark: the whole-share step (:func:`pma_lab.optimize.rounding.round_trades`) replayed.

Runs the proposal notebook's cells once per sample client (as
``benchmarks/bench_proposal_cells.py`` does, plans in this process) with ``round_trades``
wrapped to record every call's inputs (the problem's :class:`RoundingData`, the solution's
``x`` and ``b``, the settings and the dropped names) and its outputs; then replays the
recorded calls through the version of ``round_trades`` before this session's change (read
from git: ``git show BEFORE:pma_lab/optimize/rounding.py``, default commit ``ff31806``) and
through the current one, ``--repeats`` times each, alternating, and takes each version's
least CPU time (``time.process_time``).

Prints JSON: per client the number of calls, the CPU seconds of the calls before and after
(and saved), and whether the two versions' outputs are equal to the bit
(``x`` and ``b`` byte for byte, or the same error) on every call.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "ff31806"  # main at the start of session 21: round_trades before its s21 change
CLIENTS = ("young-pro,household,core-active,retiree,balanced-6040,muni-ca,philanthropist,"
           "roth-household,tech-exec")


def before_module(commit: str = BEFORE) -> types.ModuleType:
    """``pma_lab.optimize.rounding`` as it was at ``commit`` (a module of its own).

    Raises
    ------
    RuntimeError
        When git cannot show the file (no repository, or an unknown commit).
    """
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show",
                              f"{commit}:pma_lab/optimize/rounding.py"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError(f"cannot read pma_lab/optimize/rounding.py at {commit} with git "
                           f"in {ROOT} ({e}); run from a git checkout of pma_lab") from e
    mod = types.ModuleType(f"rounding_{commit}")
    mod.__dict__["__name__"] = mod.__name__
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    exec(compile(src, f"rounding@{commit}", "exec"), mod.__dict__)  # noqa: S102
    return mod


def record(run: Callable[[], object]) -> list[tuple]:
    """Every ``round_trades`` call made by ``run()``: (data, x, b, s, dropped, out)."""
    from pma_lab.optimize import rebalance

    calls: list[tuple] = []
    inner = rebalance.round_trades

    def wrapped(data, x, b, s, dropped):  # noqa: ANN001, ANN202
        args = (data, x.copy(), b.copy(), s, set(dropped))
        try:
            out = inner(data, x, b, s, dropped)
        except Exception as e:
            calls.append((*args, e))
            raise
        calls.append((*args, (out[0].copy(), out[1].copy())))
        return out

    rebalance.round_trades = wrapped
    try:
        run()
    finally:
        rebalance.round_trades = inner
    return calls


def replay(fn: Callable, calls: list[tuple]) -> tuple[float, list]:
    """CPU seconds of ``fn`` on the recorded calls, and its outputs (or errors)."""
    outs = []
    c0 = time.process_time()
    for data, x, b, s, dropped, _ in calls:
        try:
            outs.append(fn(data, x, b, s, set(dropped)))
        except Exception as e:  # noqa: BLE001 - compared with the other version's
            outs.append(e)
    return time.process_time() - c0, outs


def same(a: object, b: object) -> bool:
    """Outputs equal to the bit (or errors of the same type and message)."""
    if isinstance(a, Exception) or isinstance(b, Exception):
        return type(a) is type(b) and str(a) == str(b)
    # bytes, not np.array_equal: -0.0 and 0.0 differ to the bit (reviewer 2, session 21)
    return all(p.dtype == q.dtype and p.shape == q.shape and p.tobytes() == q.tobytes()
               for p, q in zip(a, b, strict=True))


def client_calls(name: str) -> list[tuple]:
    """The ``round_trades`` calls of one pass of the proposal cells for a sample client."""
    from IPython.core.interactiveshell import InteractiveShell

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_proposal_cells import _cells, run_client

    from pma_lab.paths import clients_dir

    shell = InteractiveShell.instance()
    cells = _cells()
    return record(lambda: run_client(shell, clients_dir() / name / "profile.toml", cells))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", default=CLIENTS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--before", default=BEFORE)
    ap.add_argument("--save", type=Path, default=None,
                    help="pickle each client's recorded calls to DIR/<client>.pkl")
    ap.add_argument("--load", type=Path, default=None,
                    help="replay the calls pickled by --save in DIR (no notebook run)")
    ap.add_argument("--profile", type=Path, default=None,
                    help="write cProfile stats of the current version's replay to FILE")
    args = ap.parse_args()
    os.environ.setdefault("PMA_LAB_PLAN_WORKERS", "1")
    from pma_lab.optimize import rounding

    old = before_module(args.before).round_trades
    new = rounding.round_trades
    out: dict = {"before": args.before, "repeats": args.repeats,
                 "load_average_before": [round(x, 2) for x in os.getloadavg()],
                 "clients": {}}
    tot_old = tot_new = 0.0
    for name in args.clients.split(","):
        if args.load is not None:
            calls = pickle.loads((args.load / f"{name}.pkl").read_bytes())  # noqa: S301
        else:
            calls = client_calls(name)
        if args.save is not None:
            args.save.mkdir(parents=True, exist_ok=True)
            (args.save / f"{name}.pkl").write_bytes(pickle.dumps(calls))
        if args.profile is not None:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
            replay(new, calls)
            prof.disable()
            prof.dump_stats(f"{args.profile}.{name}")
        t_old, t_new = [], []
        for _ in range(args.repeats):
            dt, o_old = replay(old, calls)
            t_old.append(dt)
            dt, o_new = replay(new, calls)
            t_new.append(dt)
        equal = all(same(a, b) for a, b in zip(o_old, o_new, strict=True))
        recorded = all(same(c[-1], a) for c, a in zip(calls, o_old, strict=True))
        te_calls = sum(1 for c in calls if c[3].te_cap is not None)
        out["clients"][name] = {
            "calls": len(calls), "calls_with_te_cap": te_calls,
            "cpu_before": round(min(t_old), 4), "cpu_after": round(min(t_new), 4),
            "cpu_saved": round(min(t_old) - min(t_new), 4),
            "outputs_equal": equal, "before_equals_recorded": recorded}
        tot_old += min(t_old)
        tot_new += min(t_new)
    out["total"] = {"cpu_before": round(tot_old, 4), "cpu_after": round(tot_new, 4),
                    "cpu_saved": round(tot_old - tot_new, 4)}
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
