"""Benchmark: a 25-point tax / tracking-error frontier of the 500-name, ~5,000-lot book.

The book and settings are ``bench_rebalance.py``'s. The frontier sweeps the tax aversion
over one compiled problem (every point a full two-step solve through Parameters, then
the minimum-trade step), with lot classes (the default since issue 16) and, in the same
process, with the previous implementation (one variable per lot, net-trade rounding
only), and warm (``efficient_frontier(warm=True)``: each point starts from the previous
point's buy/sell sides and keeps them where a Lagrangian bound proves them within $5 of
tax of the optimum), and that warm sweep on two forked workers (``workers=2``: the first
point in this process, then two contiguous warm chains, each point the serial sweep's;
CPU seconds include the workers'). Since session 12 a worker whose chain is done takes
over the second half of the points another chain has not started
(``frontier._Schedule``); the workers with the chains cut once, as before
(``workers2_fixed_chains``), run in the same process. Also since session 12 the chains
of the first cut start from the first point's sides (``workers2_resolved``: the points the
parent solved again, none now), and the 9 sample clients are swept serially and on two
workers (``sample_clients``: CPU per process, critical path, every column identical).
Since session 11 the warm sweep also bounds the points where it steps aside and the
two-step chooses the sides (``WarmSigns.after_two_step``: the same certificate at the
two-step's solution, no solve; ``"two_step_certified"``); the warm sweep as it was before
(``before_session_11``: those points unbounded) runs in the same process, and
``per_point_vs_before_session_11`` gives, per point, the economic tax against it at equal
or better TE and whether each proves the point.
Since session 13 the sign-fixed QPs are solved by their Lagrangian dual
(``efficient_frontier(dual_qp=True)``, the default, :mod:`pma_lab.optimize.dual_qp`:
exact, certified at every use, cvxpy where the certificate fails): ``dual_qp`` runs the
warm serial sweep as the product runs it (the defaults: warm, serial, the dual) and the
previous implementation (``dual_qp=False``: every QP through cvxpy + PIQP) alternately
in this process (each on a problem built for it, build and compile included), with the
CPU breakdown, the QPs solved / rejected, the same on two workers, and per point the
differences against the cvxpy sweep (trades, economic tax, this year's tax, TE, proofs),
on the benchmark book and the 9 sample clients; ``--dual`` runs that section alone.
Since session 14 (``session_14``, the **headline**): the relaxation's compile
restructures cvxpy's tensor as the row permutation it is
(:mod:`pma_lab.optimize.cone_format`, the same problem data to the bit), the sweep's
first point starts from :func:`~pma_lab.optimize.frontier.opening_sides`, kept where
the certificate proves them within $0.05 (``frontier.OPENING_USD_TOL``), and every
relaxation of a sweep sets its solver up anew (``frontier.HISTORY_FREE_RELAXATIONS``).
The previous implementation (session 13's default: cvxpy's own restructuring, the
two-step at the first point, the first relaxation's solver updated by the others) runs
alternately with it in this process, serial and on two workers, each on a problem
built for it (build and compile included), with the CPU by part, the critical path,
and per point the differences (trades, tax, TE, proofs), on the benchmark book and the
9 sample clients: ``seconds`` / ``cpu_seconds`` (serial medians) and
``workers2_seconds`` / ``workers2_critical_path_cpu_seconds`` against their
``previous_`` figures and ratios. ``--session14`` runs that section alone.
Since session 15 (``session_15``): each point's ledger check replays the trades through
``Ledger.sell_lots`` and reads ``Ledger.position`` / ``year_totals`` / ``realized_since`` /
``match_rows`` instead of the disposition and match tables, the forked workers' garbage
collector skips the objects they inherit (``gc.freeze`` in :func:`pma_lab.forked.run_forked`)
and the year's own carryforward is valued once per sweep; session 14's results path
(:func:`_previous_ledger_check`, kept here, no freeze, the carryforward valued at every
point) runs alternately with it, serial and on two workers, with the ledger checks' and
the results' CPU and the differences per point (none expected). ``--session15`` runs
that section alone.
Since session 16 (``session_16``): each point's ledger check replays only the identity
groups whose trades no earlier point of the sweep had (``Ledger.check_trades``, each
group's part kept per ledger state); session 15's check (:func:`_session_15_ledger_check`,
kept here: every traded group replayed on a fork at every point) runs alternately with
it, serial and on two workers, every frame compared. Every sweep here starts with its
ledger's kept parts dropped (:func:`_cold`), as the first sweep of a ledger.
``--session16`` runs that section alone. The sweeps
above (``two_step``, ``warm``, ``workers2``, ...) run with the default too, the
lot-level one (``one_variable_per_lot``) through cvxpy (the dual does not cover one
variable per lot).
Since session 19 (``session_19``): the warm sweep's certificate keeps a share-class issuer
factor exact (its conjugate, not its tangent: the FOX / FOXA pair alone had put $60-$13,000
on the bound at every point, and 21 of 24 points fell back to the two-step), and each
point's first dual QP starts from the data (``frontier._PointDual``: the two-worker sweep is
the serial one to the bit, however it is cut into chains); session 18's sweep runs
alternately with it, with the calls to the relaxation, the sign-fixed solves and the dual's
evaluations, each point against the same point solved alone, and two workers cut into 2, 4
and 6 chains against the serial sweep. ``--session19`` runs that section alone (with
``OMP_NUM_THREADS=1``).
Since session 20 (``session_20``): each point's first dual QP starts from the sweep's first
point's multipliers or the data's own, whichever has the higher dual value
(``frontier.ANCHORED_START``; the same in every process, so two workers still give the
serial sweep to the bit), against session 19's start from the data alone,
alternately: the benchmark book and the 25-point frontiers of four sample clients (young-pro's
held fund: 17 of 24 QPs went to cvxpy from the data's start). ``--session20`` runs that
section alone (with ``OMP_NUM_THREADS=1``).
Goal (issue 16): 25 points <= 2 s. Prints JSON with the points'
economic tax and TE side by side and the 1-minute load average it ran under.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from unittest import mock

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
import bench_rebalance as br  # noqa: E402
import numpy as np  # noqa: E402

from pma_lab.optimize import frontier as frontier_module  # noqa: E402
from pma_lab.optimize.aggregate import WarmSigns  # noqa: E402
from pma_lab.optimize.frontier import efficient_frontier  # noqa: E402
from pma_lab.optimize.rebalance import RebalanceProblem  # noqa: E402


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended (forked workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class _BeforeSession11(WarmSigns):
    """The warm sign search as it was before session 11: two-step points left unbounded."""

    after_two_step = None


PROVEN = ("certified", "two_step_certified")


class _PointCpu:
    """CPU seconds of each point, by the process that solved it (forked workers too).

    ``frontier._point`` is wrapped to append ``pid point cpu`` lines to a file (each
    worker writes its own lines), so the critical path of a forked sweep reads in CPU
    seconds, which the machine's load does not stretch as it does wall time.
    """

    def __init__(self):
        fd, self.path = tempfile.mkstemp(prefix="bench_frontier_", suffix=".log")
        os.close(fd)
        self._orig = frontier_module._point

    def __enter__(self):
        orig, path = self._orig, self.path

        def point(problem, k, kind, *args, **kwargs):
            c = time.process_time()
            try:
                return orig(problem, k, kind, *args, **kwargs)
            finally:
                if kind != "go":  # go to target calls _point again inside itself
                    with open(path, "a") as fh:
                        fh.write(f"{os.getpid()} {k} {time.process_time() - c:.4f}\n")

        self._patch = mock.patch.object(frontier_module, "_point", point)
        self._patch.__enter__()
        return self

    def __exit__(self, *exc):
        self._patch.__exit__(*exc)

    def by_process(self) -> dict:
        """CPU seconds of the points per process (``"this"``: this process)."""
        out: dict[str, float] = {}
        with open(self.path) as fh:
            for line in fh:
                pid, _, c = line.split()
                key = "this" if int(pid) == os.getpid() else pid
                out[key] = out.get(key, 0.0) + float(c)
        os.unlink(self.path)
        return {k: round(v, 2) for k, v in out.items()}


def _cold(prob):
    """``prob`` with its ledger's kept ledger-check parts dropped (``Ledger.check_trades``
    keeps them per ledger state, and the benchmark sweeps one ledger many times) and the
    kept yearly nettings: every sweep is timed as the first on its ledger."""
    from pma_lab.optimize import result as result_module

    if prob.ledger is not None:
        prob.ledger._memo = None
    result_module._netted_kept.cache_clear()  # the year's netting, kept by its totals
    return prob


def sweep(st, rm, target, settings, led, warm: bool = False, workers: int = 1,
          before_session_11: bool = False, fixed_chains: bool = False) -> dict:
    t0, c0 = time.perf_counter(), cpu_seconds()
    prob = _cold(RebalanceProblem(st, rm, target, settings, led))
    with _PointCpu() as pc:
        f = _sweep(prob, warm, workers, before_session_11, fixed_chains)
    per_process = pc.by_process()
    ok = f.all_points.status.isin(["optimal", "optimal_inaccurate", "current"])
    extra = {}
    if warm:
        c = f.certificates
        extra = {"signs": list(c.signs),
                 "points_proven": int(c.signs.isin(PROVEN).sum()),
                 "points_certified": int((c.signs == "certified").sum()),
                 "points_two_step_certified": int((c.signs == "two_step_certified").sum()),
                 "points_two_step": int((c.signs == "two_step").sum()),
                 "gap_usd": [None if not np.isfinite(x) else round(float(x), 2)
                             for x in c.gap_usd]}
    return {"seconds": round(time.perf_counter() - t0, 2),
            "cpu_seconds": round(cpu_seconds() - c0, 2),
            "workers": workers,
            # CPU seconds of the points solved in each process; with forked workers the
            # critical path is this process's (the first point) plus the busiest worker's
            "point_cpu_by_process": per_process,
            "critical_path_cpu_seconds": round(per_process.get("this", 0.0) + max(
                [v for k, v in per_process.items() if k != "this"], default=0.0), 2),
            # the chains the forked workers ran (first and last point each)
            "chains": [list(c) for c in f.chains],
            # the points solved again in this process after the workers (a chain that did
            # not start from the serial sweep's sides)
            "resolved": list(f.resolved),
            # wall seconds per point (the workers' points each on its own worker)
            "point_seconds": [round(float(x), 3) for x in f.timings],
            "sweep_seconds": round(f.seconds, 2),
            "points": len(f.all_points), "efficient_points": len(f.table),
            "failed_points": int((~ok).sum()),
            "te_pct": [round(float(x), 6) for x in f.all_points.te_pct],
            "tax_economic_usd": [round(float(x), 2) for x in f.all_points.tax_economic],
            "tax_this_year_usd": [round(float(x), 2) for x in f.all_points.tax_this_year],
            **extra}


def _sweep(prob, warm: bool, workers: int, before_session_11: bool, fixed_chains: bool):
    if before_session_11:
        with mock.patch.object(frontier_module, "WarmSigns", _BeforeSession11):
            return efficient_frontier(prob, warm=warm, workers=workers)
    if fixed_chains:  # before session 12: no worker takes over another's points
        with mock.patch.object(frontier_module, "SPLIT_MIN", 10 ** 9):
            return efficient_frontier(prob, warm=warm, workers=workers)
    return efficient_frontier(prob, warm=warm, workers=workers)


def sample_clients() -> dict:
    """The 9 sample clients' 25-point frontiers, serial and on two forked workers.

    Small books whose sweep the warm certificate proves at every middle point: before
    session 12's second frontier change a chain after the first started with the
    two-step, whose sides the serial sweep never had there, so the parent solved the
    chain's points again and two workers took longer than one (tech-exec). Each sweep on
    a problem compiled for it; CPU seconds of the points per process, the points solved
    again in this process, and whether every column and proof equals the serial sweep's.
    """
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare, problem_for_client
    from pma_lab.paths import clients_dir

    out = {}
    for d in sorted(p for p in clients_dir().iterdir() if (p / "profile.toml").exists()):
        setup = prepare(load_client(d / "profile.toml"))
        got = {}
        for workers in (1, 2):
            prob = _cold(problem_for_client(setup))
            c0 = cpu_seconds()
            with _PointCpu() as pc:
                got[workers] = efficient_frontier(prob, workers=workers)
            per = pc.by_process()
            got[f"cpu{workers}"] = round(cpu_seconds() - c0, 2)
            got[f"per{workers}"] = per
        one, two = got[1], got[2]
        per = got["per2"]
        out[d.name] = {
            "serial_cpu_seconds": got["cpu1"],
            "workers2_cpu_seconds": got["cpu2"],
            "workers2_point_cpu_by_process": per,
            "workers2_critical_path_cpu_seconds": round(per.get("this", 0.0) + max(
                [v for k, v in per.items() if k != "this"], default=0.0), 2),
            "workers2_chains": [list(c) for c in two.chains],
            "workers2_resolved": list(two.resolved),
            "workers2_identical": bool(one.all_points.equals(two.all_points)
                                       and one.table.equals(two.table)
                                       and one.certificates.equals(two.certificates))}
    return out


def versus(new: dict, old: dict) -> list[dict]:
    """Per point: the new sweep against the old at equal or better TE, and the proofs.

    ``tax_vs_old_usd`` is the new point's economic tax minus the old frontier's at the new
    point's TE (the old efficient points, linear between them; NaN beyond their TE
    range); ``no_worse_than_3_usd`` holds when it is at most $3, or the new point has no
    more TE and no more tax (+$3) than the old point at the same parameter.
    """
    te_o, tax_o = np.array(old["te_pct"]), np.array(old["tax_economic_usd"])
    ok = np.isfinite(te_o) & np.isfinite(tax_o)
    order = np.argsort(te_o[ok], kind="stable")
    te_s, tax_s = te_o[ok][order], tax_o[ok][order]
    # the old efficient points: less tax than every point with less TE
    keep = tax_s < np.r_[np.inf, np.minimum.accumulate(tax_s)[:-1]] - 0.005
    te_s, tax_s = te_s[keep], tax_s[keep]
    out = []
    for i, (te, tax) in enumerate(zip(new["te_pct"], new["tax_economic_usd"], strict=True)):
        at = float(np.interp(te, te_s, tax_s)) if te_s[0] <= te <= te_s[-1] else np.nan
        d_at = None if np.isnan(at) else round(tax - at, 2)
        same = te <= old["te_pct"][i] + 1e-4 and tax <= old["tax_economic_usd"][i] + 3.0
        out.append({"point": i, "te_pct_minus_old": round(te - old["te_pct"][i], 6),
                    "tax_economic_minus_old_usd": round(tax - old["tax_economic_usd"][i], 2),
                    "tax_vs_old_usd": d_at,
                    "no_worse_than_3_usd": bool(same or (d_at is not None and d_at <= 3.0)),
                    "proven": new.get("signs", [None] * len(new["te_pct"]))[i] in PROVEN,
                    "proven_old": old.get("signs", [None] * len(old["te_pct"]))[i] in PROVEN})
    return out


class _Trades:
    """Each point's trades (``RebalanceResult.trades``), captured from ``frontier._row``."""

    def __init__(self):
        self.by_point: dict[int, object] = {}
        self._orig = frontier_module._row

    def __enter__(self):
        orig, got = self._orig, self.by_point

        def row(problem, k, kind, value, r, cf_args, t0):
            got[k] = r.trades[["ticker", "side", "shares"]].reset_index(drop=True)
            return orig(problem, k, kind, value, r, cf_args, t0)

        self._patch = mock.patch.object(frontier_module, "_row", row)
        self._patch.__enter__()
        return self

    def __exit__(self, *exc):
        self._patch.__exit__(*exc)


_PARTS = {"cvxpy_solves": ("pma_lab.optimize.rebalance", "RebalanceProblem._run"),
          "dual_qp": ("pma_lab.optimize.dual_qp", "DualQP.__call__"),
          "results": ("pma_lab.optimize.rebalance", "build_result"),
          "ledger_check": ("pma_lab.optimize.result", "_ledger_check")}


def _timed_sweep(make, dual: bool, workers: int = 1) -> dict:
    """One warm sweep on a problem ``make()`` builds (in the timing), its CPU by part."""
    import importlib

    spent = dict.fromkeys(_PARTS, 0.0)
    patches = []
    for key, (mod, name) in _PARTS.items():
        owner = importlib.import_module(mod)
        attr = name
        if "." in name:
            cls, attr = name.split(".")
            owner = getattr(owner, cls)
        orig = getattr(owner, attr)

        def timed(*a, _orig=orig, _key=key, **k):
            c = time.process_time()
            try:
                return _orig(*a, **k)
            finally:
                spent[_key] += time.process_time() - c

        patches.append(mock.patch.object(owner, attr, timed))
    t0, c0 = time.perf_counter(), cpu_seconds()
    with _Trades() as tr, _PointCpu() as pc:
        for pt in patches:
            pt.__enter__()
        try:
            f = efficient_frontier(_cold(make()), workers=workers, dual_qp=dual)
        finally:
            for pt in reversed(patches):
                pt.__exit__(None, None, None)
    per = pc.by_process()
    return {"seconds": time.perf_counter() - t0, "cpu_seconds": cpu_seconds() - c0,
            "critical_path_cpu_seconds": per.get("this", 0.0) + max(
                [v for k, v in per.items() if k != "this"], default=0.0),
            "cpu_by_part_this_process": {k: round(v, 3) for k, v in spent.items()},
            "qp_solves": dict(f.qp_solves), "frontier": f, "trades": tr.by_point}


def _differences(new: dict, old: dict) -> dict:
    """Per point: whether the trades are identical, and the largest differences."""
    a, b = new["frontier"], old["frontier"]
    same, moved = [], []
    share_diff = 0.0
    for k in sorted(old["trades"]):
        x, y = new["trades"].get(k), old["trades"][k]
        ok = x is not None and x.equals(y)
        same.append(bool(ok))
        if not ok and x is not None:
            j = x.merge(y, on=["ticker", "side"], how="outer", suffixes=("_new", "_old"))
            d = (j.shares_new.fillna(0.0) - j.shares_old.fillna(0.0)).abs()
            share_diff = max(share_diff, float(d.max()))
            if j.shares_new.isna().any() or j.shares_old.isna().any():
                moved.append(int(k))
    pa, pb = a.all_points, b.all_points
    proven = ("certified", "two_step_certified")
    pn, po = a.certificates.signs.isin(proven), b.certificates.signs.isin(proven)
    return {
        "points_trades_identical": int(sum(same)), "points": len(same),
        "points_trades_differ": [int(k) for k, s in zip(sorted(old["trades"]), same,
                                                        strict=True) if not s],
        "points_with_other_names_traded": moved,
        "max_abs_share_difference": round(share_diff, 6),
        "max_abs_tax_economic_usd": round(float(np.nanmax(np.abs(
            pa.tax_economic - pb.tax_economic))), 4),
        "max_abs_tax_this_year_usd": round(float(np.nanmax(np.abs(
            pa.tax_this_year - pb.tax_this_year))), 4),
        "max_abs_te": float(np.nanmax(np.abs(pa.te - pb.te))),
        "points_proven": int(pn.sum()), "points_proven_before": int(po.sum()),
        "proven_before_and_not_now": [int(i) for i in np.flatnonzero(po & ~pn)],
        "frames_identical": bool(pa.equals(pb) and a.table.equals(b.table)
                                 and a.certificates.equals(b.certificates)),
    }


def _strip(run: dict) -> dict:
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in run.items()
            if k not in ("frontier", "trades")}


def dual_qp(rounds: int = 2) -> dict:
    """The warm sweep with the dual QP solver against cvxpy's, alternately (see module docs)."""
    st, rm, target, settings, led, _, _ = br.benchmark_account()

    def make():
        return RebalanceProblem(st, rm, target, settings, led)

    runs: dict[bool, list[dict]] = {True: [], False: []}
    loads = [round(os.getloadavg()[0], 2)]
    for _ in range(rounds):
        for dual in (False, True):
            runs[dual].append(_timed_sweep(make, dual))
            loads.append(round(os.getloadavg()[0], 2))
    two = _timed_sweep(make, True, workers=2)
    two_old = _timed_sweep(make, False, workers=2)
    loads.append(round(os.getloadavg()[0], 2))

    def med(key: str, dual: bool) -> float:
        return round(float(np.median([r[key] for r in runs[dual]])), 3)

    new, old = runs[True][-1], runs[False][-1]
    samples = {}
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare, problem_for_client
    from pma_lab.paths import clients_dir

    for d in sorted(p for p in clients_dir().iterdir() if (p / "profile.toml").exists()):
        setup = prepare(load_client(d / "profile.toml"))
        s_old = _timed_sweep(lambda s=setup: problem_for_client(s), False)
        s_new = _timed_sweep(lambda s=setup: problem_for_client(s), True)
        samples[d.name] = {"cpu_seconds": round(s_new["cpu_seconds"], 2),
                           "cpu_seconds_cvxpy": round(s_old["cpu_seconds"], 2),
                           "qp_solves": s_new["qp_solves"],
                           **_differences(s_new, s_old)}
    return {
        "seconds": med("seconds", True), "previous_seconds": med("seconds", False),
        "ratio": round(med("seconds", True) / med("seconds", False), 3),
        "cpu_seconds": med("cpu_seconds", True),
        "previous_cpu_seconds": med("cpu_seconds", False),
        "cpu_ratio": round(med("cpu_seconds", True) / med("cpu_seconds", False), 3),
        "runs": {"dual": [_strip(r) for r in runs[True]],
                 "cvxpy": [_strip(r) for r in runs[False]]},
        "vs_cvxpy": _differences(new, old),
        "runs_repeat_identically": bool(all(
            _differences(r, runs[True][0])["frames_identical"] for r in runs[True])),
        "workers2": _strip(two), "workers2_cvxpy": _strip(two_old),
        "workers2_identical_to_serial": _differences(two, new)["frames_identical"],
        "sample_clients": samples,
        "goal_seconds": 2.0, "meets_goal": med("seconds", True) <= 2.0,
        "load_average_1min": loads,
    }


@contextlib.contextmanager
def _session_13():
    """The frontier as session 13 left it: cvxpy's own restructuring, the two-step first,
    the relaxations' solver set up once (by the first) and updated."""
    from pma_lab.optimize import strategies

    with mock.patch.object(strategies, "fast_cone_format", contextlib.nullcontext), \
            mock.patch.object(frontier_module, "OPENING_USD_TOL", None), \
            mock.patch.object(frontier_module, "HISTORY_FREE_RELAXATIONS", False):
        yield


def _alternate(previous, rounds: int) -> tuple[dict, list[float]]:
    """The benchmark book's sweep with the ``previous`` code (a context that patches it in)
    and this code, alternately, serial and on two workers, ``rounds`` times; the runs by
    ``(which, workers)`` and the 1-minute load average after each."""
    st, rm, target, settings, led, _, _ = br.benchmark_account()

    def make():
        return RebalanceProblem(st, rm, target, settings, led)

    runs: dict[tuple[str, int], list[dict]] = {}
    loads = [round(os.getloadavg()[0], 2)]
    for _ in range(rounds):
        for workers in (1, 2):
            for which in ("previous", "new"):
                ctx = previous() if which == "previous" else contextlib.nullcontext()
                with ctx:
                    runs.setdefault((which, workers), []).append(
                        _timed_sweep(make, True, workers))
                loads.append(round(os.getloadavg()[0], 2))
    return runs, loads


def _headline(runs: dict) -> dict:
    """The alternation's medians, serial and on two workers, and their ratios."""
    def med(which: str, workers: int, key: str) -> float:
        return round(float(np.median([r[key] for r in runs[(which, workers)]])), 3)

    out = {"seconds": med("new", 1, "seconds"),
           "previous_seconds": med("previous", 1, "seconds"),
           "cpu_seconds": med("new", 1, "cpu_seconds"),
           "previous_cpu_seconds": med("previous", 1, "cpu_seconds"),
           "workers2_seconds": med("new", 2, "seconds"),
           "previous_workers2_seconds": med("previous", 2, "seconds"),
           "workers2_critical_path_cpu_seconds": med("new", 2, "critical_path_cpu_seconds"),
           "previous_workers2_critical_path_cpu_seconds": med(
               "previous", 2, "critical_path_cpu_seconds")}
    for key in ("seconds", "cpu_seconds", "workers2_seconds",
                "workers2_critical_path_cpu_seconds"):
        out[f"ratio_{key}"] = round(out[key] / out[f"previous_{key}"], 3)
    return out


def session_14(rounds: int = 2) -> dict:
    """This session's sweep against session 13's, alternately (see module docs)."""
    runs, loads = _alternate(_session_13, rounds)
    new, old = runs[("new", 1)][-1], runs[("previous", 1)][-1]
    samples = {}
    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare, problem_for_client
    from pma_lab.paths import clients_dir

    for d in sorted(p for p in clients_dir().iterdir() if (p / "profile.toml").exists()):
        setup = prepare(load_client(d / "profile.toml"))
        with _session_13():
            s_old = _timed_sweep(lambda s=setup: problem_for_client(s), True)
        s_new = _timed_sweep(lambda s=setup: problem_for_client(s), True)
        samples[d.name] = {"cpu_seconds": round(s_new["cpu_seconds"], 3),
                           "previous_cpu_seconds": round(s_old["cpu_seconds"], 3),
                           "first_point": s_new["frontier"].certificates.signs.iat[1],
                           **_differences(s_new, s_old)}
    out = _headline(runs)
    return {
        **out,
        "runs": {f"{which}_workers{w}": [_strip(r) for r in rs]
                 for (which, w), rs in runs.items()},
        # per point, this session's serial sweep against session 13's (the last pair)
        "vs_previous": _differences(new, old),
        "first_point_proof": new["frontier"].certificates.signs.iat[1],
        "previous_first_point_proof": old["frontier"].certificates.signs.iat[1],
        "workers2_identical_to_serial": _differences(runs[("new", 2)][-1],
                                                     new)["frames_identical"],
        "sample_clients": samples,
        "sample_clients_trades_identical": all(
            c["points_trades_identical"] == c["points"] for c in samples.values()),
        "goal_seconds": 2.0,
        "meets_goal_serial": out["seconds"] <= 2.0,
        "meets_goal_workers2": out["workers2_seconds"] <= 2.0,
        "load_average_1min": loads,
    }


def _previous_ledger_check(st, ledger, lot_trades, trades) -> dict:
    """Session 14's ``result._ledger_check`` (kept here to measure against; see
    :func:`session_15`): the disposition and match tables before and after the replay, each
    sale by ``Ledger.sell`` with a whole lot's shares from ``Ledger.lot_amounts``."""
    from decimal import Decimal

    from pma_lab.tax.ledger import LotRelief
    from pma_lab.tax.liability import yearly_netting

    led = ledger.fork(set(lot_trades.ticker.tolist()) | set(trades.ticker.tolist()))
    day, acc = st.as_of, st.account_id
    hist = led.dispositions(as_decimal=True)
    n0 = len(hist)
    m0 = len(led.wash_sale_matches())
    full = lot_trades.full_lot.to_numpy(dtype=bool)
    micro = {lot_id: q for _, lot_id, q, _ in led.lot_amounts()} if full.any() else {}
    for lot_id, ticker, q, price, whole in zip(
            lot_trades.lot_id.tolist(), lot_trades.ticker.tolist(),
            lot_trades.shares.tolist(), lot_trades.price.tolist(), full.tolist(),
            strict=True):
        shares = Decimal(micro[lot_id]).scaleb(-6) if whole else Decimal(repr(float(q)))
        led.sell(day, acc, ticker, shares, Decimal(repr(float(price))),
                 method=LotRelief.SPECIFIC, lot_id=lot_id)
    buys = trades[trades.side == "buy"]
    for ticker, q in zip(buys.ticker.tolist(), buys.shares.tolist(), strict=True):
        led.buy(day, acc, ticker, Decimal(repr(float(q))),
                Decimal(repr(float(st.prices[ticker]))))
    led.settle()
    m = led.wash_sale_matches().iloc[m0:]
    sold_today = m[(m.sale_date == day) & (m.sale_account == acc)]
    wash_by_lot: dict[str, float] = {}
    shares_by_lot: dict[str, float] = {}  # the library's wash_shares_by_lot (session 24)
    for r in sold_today.itertuples():
        wash_by_lot[str(r.sale_lot_id)] = wash_by_lot.get(str(r.sale_lot_id), 0.0) + float(
            r.disallowed)
        shares_by_lot[str(r.sale_lot_id)] = shares_by_lot.get(str(r.sale_lot_id), 0.0) + \
            float(r.shares)
    bought_today = m[(m.replacement_date == day) & (m.replacement_account == acc)]
    disp = led.dispositions(as_decimal=True)
    new = disp.iloc[n0:]
    year = np.array([d.year == day.year for d in disp.date_sold], dtype=bool)
    carry = (Decimal(repr(st.carryin_st)), Decimal(repr(st.carryin_lt)))
    both = yearly_netting(disp.loc[year], st.tax, *carry, years=[day.year])
    before = yearly_netting(hist.loc[year[:n0]], st.tax, *carry, years=[day.year])
    gain_loss, term = new.gain_loss.to_numpy(dtype=object), new.term.to_numpy(dtype=object)
    return {
        "realized_st": float(sum(gain_loss[term == "ST"].tolist(), Decimal(0))),
        "realized_lt": float(sum(gain_loss[term == "LT"].tolist(), Decimal(0))),
        "tax": float(both.tax.iloc[0] - before.tax.iloc[0]),
        "disallowed": float(sum(new.adjustment_amount, Decimal(0)))
        + float(sum(map(Decimal, m.disallowed[m.sale_date < day].astype(str)), Decimal(0))),
        "carryforward_st": float(both.carryout_st.iloc[0] - before.carryout_st.iloc[0]),
        "carryforward_lt": float(both.carryout_lt.iloc[0] - before.carryout_lt.iloc[0]),
        "carryforward_st_before": float(before.carryout_st.iloc[0]),
        "carryforward_lt_before": float(before.carryout_lt.iloc[0]),
        "wash_by_lot": wash_by_lot,
        "wash_shares_by_lot": shares_by_lot,
        "wash_replacements": set(map(str, bought_today.replacement_ticker)),
    }


class _NoFreeze:
    """``gc`` as ``forked.run_forked`` read it before session 15: nothing frozen."""

    @staticmethod
    def get_freeze_count() -> int:
        return 1  # "the caller froze objects": run_forked neither freezes nor unfreezes

    @staticmethod
    def freeze() -> None:
        return None

    @staticmethod
    def unfreeze() -> None:
        return None


@contextlib.contextmanager
def _session_14_results():
    """The results as session 14 left them: the ledger check through the tables
    (:func:`_previous_ledger_check`), the workers' collector walking every inherited
    object, the year's own carryforward valued at every point."""
    from pma_lab import forked
    from pma_lab.optimize import result as result_module
    from pma_lab.tax.liability import carryforward_value

    def carry_before(c_st, c_lt, tax, cf_args):
        return carryforward_value(c_st, c_lt, tax, **cf_args).value

    with mock.patch.object(result_module, "_ledger_check", _previous_ledger_check), \
            mock.patch.object(forked, "gc", _NoFreeze), \
            mock.patch.object(frontier_module, "_carry_before", carry_before):
        yield


def _results_against(previous, rounds: int) -> dict:
    """This code's results path against ``previous`` (a context that patches it in),
    alternately (:func:`_alternate`): the headline, the serial sweep's CPU in the ledger
    checks and in every result (medians), and whether the frames agree."""
    runs, loads = _alternate(previous, rounds)

    def part(which: str, key: str) -> float:
        return round(float(np.median([r["cpu_by_part_this_process"][key]
                                      for r in runs[(which, 1)]])), 3)

    new, old = runs[("new", 1)][-1], runs[("previous", 1)][-1]
    out = _headline(runs)
    return {
        **out,
        "ledger_check_cpu_seconds": part("new", "ledger_check"),
        "previous_ledger_check_cpu_seconds": part("previous", "ledger_check"),
        "results_cpu_seconds": part("new", "results"),
        "previous_results_cpu_seconds": part("previous", "results"),
        "runs": {f"{which}_workers{w}": [_strip(r) for r in rs]
                 for (which, w), rs in runs.items()},
        "vs_previous": _differences(new, old),
        "workers2_vs_previous": _differences(runs[("new", 2)][-1],
                                             runs[("previous", 2)][-1]),
        "workers2_identical_to_serial": _differences(runs[("new", 2)][-1],
                                                     new)["frames_identical"],
        "goal_seconds": 2.0,
        "meets_goal_serial": out["seconds"] <= 2.0,
        "meets_goal_workers2": out["workers2_seconds"] <= 2.0,
        "load_average_1min": loads,
    }


def session_15(rounds: int = 3) -> dict:
    """This session's results path against session 14's, alternately (see module docs)."""
    return _results_against(_session_14_results, rounds)


def _session_15_ledger_check(st, ledger, lot_trades, trades) -> dict:
    """Session 15's ``result._ledger_check`` (kept here to measure against; see
    :func:`session_16`): every point's trades replayed on a fork of every traded group."""
    from decimal import Decimal

    from pma_lab.optimize.result import _year_rows, replay_trades
    from pma_lab.tax.liability import yearly_netting

    led = ledger.fork(set(lot_trades.ticker.tolist()) | set(trades.ticker.tolist()))
    day, acc = st.as_of, st.account_id
    n0, m0 = led.position()
    carry = (Decimal(repr(st.carryin_st)), Decimal(repr(st.carryin_lt)))
    before = yearly_netting(_year_rows(led.year_totals(day.year), day), st.tax, *carry,
                            years=[day.year])
    replay_trades(led, acc, day, lot_trades, trades, st.prices)
    both = yearly_netting(_year_rows(led.year_totals(day.year), day), st.tax, *carry,
                          years=[day.year])
    new = led.realized_since(n0)
    m = led.match_rows(m0)
    wash_by_lot: dict[str, float] = {}
    shares_by_lot: dict[str, float] = {}  # the library's wash_shares_by_lot (session 24)
    for r in m:
        if r[3] == day and r[0] == acc:
            wash_by_lot[str(r[2])] = wash_by_lot.get(str(r[2]), 0.0) + float(r[9])
            shares_by_lot[str(r[2])] = shares_by_lot.get(str(r[2]), 0.0) + float(r[8])
    return {
        "realized_st": float(new["st"]),
        "realized_lt": float(new["lt"]),
        "tax": float(both.tax.iloc[0] - before.tax.iloc[0]),
        "disallowed": float(new["adjustment"])
        + float(sum((r[9] for r in m if r[3] < day), Decimal(0))),
        "carryforward_st": float(both.carryout_st.iloc[0] - before.carryout_st.iloc[0]),
        "carryforward_lt": float(both.carryout_lt.iloc[0] - before.carryout_lt.iloc[0]),
        "carryforward_st_before": float(before.carryout_st.iloc[0]),
        "carryforward_lt_before": float(before.carryout_lt.iloc[0]),
        "wash_by_lot": wash_by_lot,
        "wash_shares_by_lot": shares_by_lot,
        "wash_replacements": {str(r[5]) for r in m if r[7] == day and r[4] == acc},
    }


@contextlib.contextmanager
def _session_15_results():
    """The results as session 15 left them: every point's ledger check a whole replay on
    a fork (:func:`_session_15_ledger_check`)."""
    from pma_lab.optimize import result as result_module

    with mock.patch.object(result_module, "_ledger_check", _session_15_ledger_check):
        yield


def session_16(rounds: int = 3) -> dict:
    """This session's results path against session 15's, alternately (see module docs)."""
    return _results_against(_session_15_results, rounds)


@contextlib.contextmanager
def _session_18():
    """The frontier as session 18 left it: the certificate's tangent on every factor (no
    local factor kept exact) and every QP of the sweep warm from the last solve."""
    from pma_lab.optimize import aggregate

    with mock.patch.object(aggregate, "local_columns", lambda loadings: None), \
            mock.patch.object(frontier_module, "_begin", lambda problem: None):
        yield


_COUNTED = {"relaxations": ("pma_lab.optimize.strategies", "_relaxation"),
            "sign_fixed_solves": ("pma_lab.optimize.rebalance", "RebalanceProblem._fixed"),
            "dual_evaluations": ("pma_lab.optimize.pattern_bound", "_dual"),
            "cvxpy_solves": ("pma_lab.optimize.rebalance", "RebalanceProblem._run")}


@contextlib.contextmanager
def _counting(counts: dict):
    """Count the calls of :data:`_COUNTED` into ``counts``."""
    import importlib

    with contextlib.ExitStack() as stack:
        for key, (mod, name) in _COUNTED.items():
            owner = importlib.import_module(mod)
            attr = name
            if "." in name:
                cls, attr = name.split(".")
                owner = getattr(owner, cls)
            orig = getattr(owner, attr)
            counts[key] = 0

            def counted(*a, _orig=orig, _key=key, **k):
                counts[_key] += 1
                return _orig(*a, **k)

            stack.enter_context(mock.patch.object(owner, attr, counted))
        yield


def session_19(rounds: int = 3) -> dict:
    """This session's sweep against session 18's, alternately, serial, in this process.

    Session 19: :class:`~pma_lab.optimize.aggregate.WarmSigns` keeps a local factor (a
    share-class issuer factor) exact in its certificate, and each point's first dual QP
    starts from the data (``frontier._PointDual``). Per sweep (build included, CPU by
    ``time.process_time``; run with ``OMP_NUM_THREADS=1``): the calls of
    :data:`_COUNTED`, the points proven; then each point of this session's serial sweep
    against the same point solved alone on a fresh problem (the two-step), and the sweep
    on two workers cut into 2, 4 and 6 chains against the serial one, to the bit.
    """
    from pma_lab.optimize.rebalance import Budgets

    st, rm, target, settings, led, _, _ = br.benchmark_account()

    def make():
        return _cold(RebalanceProblem(st, rm, target, settings, led))

    runs: dict[str, list[dict]] = {"previous": [], "new": []}
    frames = {}
    loads = [round(os.getloadavg()[0], 2)]
    for _ in range(rounds):
        for which in ("previous", "new"):
            counts: dict = {}
            with (_session_18() if which == "previous" else contextlib.nullcontext()), \
                    _counting(counts):
                c0 = time.process_time()
                f = efficient_frontier(make())
                cpu = time.process_time() - c0
            frames[which] = f
            runs[which].append({"cpu_seconds": round(cpu, 3), **counts,
                                "points_proven": int(f.certificates.signs.isin(
                                    PROVEN).sum())})
            loads.append(round(os.getloadavg()[0], 2))
    new, old = frames["new"].all_points, frames["previous"].all_points
    # each point alone: a fresh problem at the point's settings, the two-step
    alone = []
    for k in range(1, len(new) - 1):
        prob = make()
        prob.update(replace(prob.settings, gamma_tax=float(new.parameter.iat[k]),
                            budgets=Budgets()))
        sm = prob.solve().summary
        alone.append({"point": k, "signs": frames["new"].certificates.signs.iat[k],
                      "te_pct_minus_alone": float(100 * (new.te.iat[k] - sm.te_after)),
                      "tax_economic_minus_alone_usd": round(float(
                          new.tax_economic.iat[k] - sm.tax_model), 2),
                      "tax_this_year_minus_alone_usd": round(float(
                          new.tax_this_year.iat[k] - sm.tax), 2)})
    layouts = {}
    for per_worker in (1, 2, 3):
        with mock.patch.object(frontier_module, "CHAINS_PER_WORKER", per_worker), \
                mock.patch.object(frontier_module, "SPLIT_MIN", 10 ** 9):
            two = efficient_frontier(make(), workers=2)
        layouts[f"chains_{2 * per_worker}"] = {
            "chains": [list(c) for c in two.chains], "resolved": list(two.resolved),
            "identical_to_serial": bool(two.all_points.equals(new) and two.certificates.equals(
                frames["new"].certificates))}

    def med(which: str, key: str) -> float:
        return float(np.median([r[key] for r in runs[which]]))

    return {
        "cpu_seconds": med("new", "cpu_seconds"),
        "previous_cpu_seconds": med("previous", "cpu_seconds"),
        "ratio_cpu_seconds": round(med("new", "cpu_seconds") / med("previous", "cpu_seconds"),
                                   3),
        "runs": runs,
        "signs": list(frames["new"].certificates.signs),
        "previous_signs": list(frames["previous"].certificates.signs),
        "gap_usd": [None if not np.isfinite(x) else round(float(x), 2)
                    for x in frames["new"].certificates.gap_usd],
        "tax_economic_vs_previous_usd": [round(float(x), 2)
                                         for x in new.tax_economic - old.tax_economic],
        "te_pct_vs_previous": [round(float(x), 6) for x in 100 * (new.te - old.te)],
        "vs_each_point_alone": alone,
        "workers2_by_chains": layouts,
        "load_average_1min": loads,
    }


SESSION_20_CLIENTS = ("young-pro", "household", "retiree", "core-active")
"""The sample clients whose 25-point frontier session 20 times (the proposal's four)."""


def session_20(rounds: int = 3) -> dict:
    """Each point's first dual QP from the first point's multipliers, against session 19's.

    Session 20: ``frontier.ANCHORED_START`` (each point's first QP starts from the sweep's
    first point's multipliers or the data's own, whichever has the higher dual value; the
    same in every process) against session 19's start from the data alone
    (``ANCHORED_START = False``), alternately in this process (run with
    ``OMP_NUM_THREADS=1``). The benchmark book: CPU per serial sweep (build included),
    the calls of :data:`_COUNTED`, the dual QPs certified and sent to cvxpy, the points
    proven, every frame of the two against each other, and the sweep on two workers (the
    default split, and cut into 2, 4 and 6 chains) against the serial one, to the bit.
    :data:`SESSION_20_CLIENTS`: each client's 25-point frontier once to warm up, then
    ``rounds`` timed calls of each variant alternately (``efficient_frontier`` alone, a
    new problem each call), every frame compared.
    """

    from pma_lab.io.client import load_client
    from pma_lab.optimize.engine import prepare, problem_for_client
    from pma_lab.paths import clients_dir

    st, rm, target, settings, led, _, _ = br.benchmark_account()

    def make():
        return _cold(RebalanceProblem(st, rm, target, settings, led))

    def same(a, b) -> bool:
        return bool(a.all_points.equals(b.all_points) and a.certificates.equals(
            b.certificates) and a.table.equals(b.table))

    variants = {"previous": False, "new": True}
    runs: dict[str, list[dict]] = {"previous": [], "new": []}
    frames = {}
    loads = [round(os.getloadavg()[0], 2)]
    for _ in range(rounds):
        for which, anchored in variants.items():
            counts: dict = {}
            with mock.patch.object(frontier_module, "ANCHORED_START", anchored), \
                    _counting(counts):
                c0 = time.process_time()
                f = efficient_frontier(make())
                cpu = time.process_time() - c0
            frames[which] = f
            runs[which].append({"cpu_seconds": round(cpu, 3), **counts,
                                "dual_qp": dict(f.qp_solves),
                                "points_proven": int(f.certificates.signs.isin(
                                    PROVEN).sum())})
            loads.append(round(os.getloadavg()[0], 2))
    layouts = {}
    for per_worker, split in ((None, None), (1, 10 ** 9), (2, 10 ** 9), (3, 10 ** 9)):
        patches = contextlib.ExitStack()
        if per_worker is not None:
            patches.enter_context(mock.patch.object(frontier_module, "CHAINS_PER_WORKER",
                                                    per_worker))
            patches.enter_context(mock.patch.object(frontier_module, "SPLIT_MIN", split))
        with patches:
            c0 = time.process_time()
            two = efficient_frontier(make(), workers=2)
            cpu = time.process_time() - c0
        key = "default" if per_worker is None else f"chains_{2 * per_worker}"
        layouts[key] = {"chains": [list(c) for c in two.chains],
                        "resolved": list(two.resolved), "parent_cpu_seconds": round(cpu, 3),
                        "identical_to_serial": same(two, frames["new"])}
    clients = {}
    for name in SESSION_20_CLIENTS:
        setup = prepare(load_client(clients_dir() / name / "profile.toml"))
        efficient_frontier(problem_for_client(setup))  # warm-up
        got: dict[str, list[float]] = {"previous": [], "new": []}
        fr: dict = {}
        qp: dict = {}
        for _ in range(rounds):
            for which, anchored in variants.items():
                prob = problem_for_client(setup)
                with mock.patch.object(frontier_module, "ANCHORED_START", anchored):
                    c0 = time.process_time()
                    fr[which] = efficient_frontier(prob)
                    got[which].append(round(time.process_time() - c0, 3))
                qp[which] = dict(fr[which].qp_solves)
        two = efficient_frontier(problem_for_client(setup), workers=2)
        clients[name] = {
            "cpu_seconds": got["new"], "previous_cpu_seconds": got["previous"],
            "ratio_median_cpu": round(float(np.median(got["new"])
                                            / np.median(got["previous"])), 3),
            "dual_qp": qp["new"], "previous_dual_qp": qp["previous"],
            "points": len(fr["new"].all_points),
            "identical_to_previous": same(fr["new"], fr["previous"]),
            "workers2_identical": same(two, fr["new"])}

    def med(which: str, key: str) -> float:
        return float(np.median([r[key] for r in runs[which]]))

    return {
        "cpu_seconds": med("new", "cpu_seconds"),
        "previous_cpu_seconds": med("previous", "cpu_seconds"),
        "ratio_cpu_seconds": round(med("new", "cpu_seconds") / med("previous", "cpu_seconds"),
                                   3),
        "runs": runs,
        "points_proven": runs["new"][-1]["points_proven"],
        "identical_to_previous": same(frames["new"], frames["previous"]),
        "tax_economic_vs_previous_usd": [round(float(x), 2) for x in (
            frames["new"].all_points.tax_economic - frames["previous"].all_points.tax_economic)],
        "te_pct_vs_previous": [float(x) for x in 100 * (
            frames["new"].all_points.te - frames["previous"].all_points.te)],
        "workers2_by_chains": layouts,
        "sample_clients": clients,
        "load_average_1min": loads + [round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    if "--session20" in sys.argv[1:]:
        print(json.dumps({"benchmark": "frontier_25_points_session_20", **session_20()},
                         indent=2))
        return
    if "--session19" in sys.argv[1:]:
        print(json.dumps({"benchmark": "frontier_25_points_session_19", **session_19()},
                         indent=2))
        return
    if "--dual" in sys.argv[1:]:
        print(json.dumps({"benchmark": "frontier_25_points_dual_qp", **dual_qp()}, indent=2))
        return
    if "--session16" in sys.argv[1:]:
        print(json.dumps({"benchmark": "frontier_25_points_session_16", **session_16()},
                         indent=2))
        return
    if "--session15" in sys.argv[1:]:
        print(json.dumps({"benchmark": "frontier_25_points_session_15", **session_15()},
                         indent=2))
        return
    if "--session14" in sys.argv[1:]:
        print(json.dumps({"benchmark": "frontier_25_points_session_14", **session_14()},
                         indent=2))
        return
    st, rm, target, settings, led, names, n_lots = br.benchmark_account()
    new = sweep(st, rm, target, settings, led)
    warm = sweep(st, rm, target, settings, led, warm=True)
    warm2 = sweep(st, rm, target, settings, led, warm=True, workers=2)
    fixed2 = sweep(st, rm, target, settings, led, warm=True, workers=2, fixed_chains=True)
    before = sweep(st, rm, target, settings, led, warm=True, before_session_11=True)
    per_point = versus(warm, before)
    old = sweep(st, rm, target, replace(settings, **br.PREVIOUS), led)
    small = sample_clients()
    diff = [round(a - b, 2) for a, b in zip(new["tax_economic_usd"], old["tax_economic_usd"],
                                            strict=True)]
    # session 13: the dual QP against every QP through cvxpy, alternately, medians
    dual = dual_qp()
    # the headline (session 14): the product's default sweep against session 13's
    # (cvxpy's own conic restructuring, the two-step at the first point), alternately
    s14 = session_14()
    # session 15: the results path (ledger check, collector in the workers) against 14's
    s15 = session_15()
    # session 16: each point's ledger check replays only the groups whose trades are new
    s16 = session_16()
    # session 19: the issuer factors kept exact in the certificate, each point's first QP
    # from the data
    s19 = session_19()
    # session 20: each point's first QP from the first point's multipliers
    s20 = session_20()
    print(json.dumps({
        "benchmark": "frontier_25_points",
        "book": {"names": len(names), "lots": n_lots, "value_usd": br.VALUE},
        "headline": "efficient_frontier() defaults (warm, dual_qp=True, the relaxation's "
                    "compile as a row permutation, the opening sides at the first point), "
                    "serial and workers=2, against session 13's (previous_)",
        **{k: s14[k] for k in (
            "seconds", "previous_seconds", "ratio_seconds", "cpu_seconds",
            "previous_cpu_seconds", "ratio_cpu_seconds", "workers2_seconds",
            "previous_workers2_seconds", "ratio_workers2_seconds",
            "workers2_critical_path_cpu_seconds",
            "previous_workers2_critical_path_cpu_seconds",
            "ratio_workers2_critical_path_cpu_seconds")},
        "dual_qp_seconds": dual["seconds"], "dual_qp_previous_seconds":
            dual["previous_seconds"], "dual_qp_cpu_ratio": dual["cpu_ratio"],
        # lot classes (the two-step sweep) against one variable per lot, as before
        "two_step_seconds": new["seconds"], "one_variable_per_lot_seconds": old["seconds"],
        "lot_classes_speedup": round(old["seconds"] / new["seconds"], 2),
        "lot_classes_speedup_cpu": round(old["cpu_seconds"] / new["cpu_seconds"], 2),
        "two_step": new, "one_variable_per_lot": old,
        "tax_economic_two_step_vs_one_variable_per_lot_usd": diff,
        # the warm sweep (issue 16, aggregate.py): against the two-step sweep above
        "warm": warm,
        "warm_seconds": warm["seconds"],
        "warm_speedup": round(new["seconds"] / warm["seconds"], 2),
        "warm_speedup_cpu": round(new["cpu_seconds"] / warm["cpu_seconds"], 2),
        "warm_tax_economic_vs_two_step_usd": [
            round(a - b, 2) for a, b in zip(warm["tax_economic_usd"],
                                            new["tax_economic_usd"], strict=True)],
        "warm_te_pct_vs_two_step": [round(a - b, 5) for a, b in zip(
            warm["te_pct"], new["te_pct"], strict=True)],
        "warm_meets_goal": warm["seconds"] <= 2.0,
        # the warm sweep on two forked workers (issue 16, session 9): the first point here,
        # then two contiguous warm chains; against the serial warm sweep above
        "workers2": warm2,
        "workers2_seconds": warm2["seconds"],
        "workers2_speedup_vs_warm": round(warm["seconds"] / warm2["seconds"], 2),
        "workers2_cpu_vs_warm": round(warm2["cpu_seconds"] / warm["cpu_seconds"], 2),
        "workers2_tax_economic_vs_warm_usd": [
            round(a - b, 2) for a, b in zip(warm2["tax_economic_usd"],
                                            warm["tax_economic_usd"], strict=True)],
        "workers2_te_pct_vs_warm": [round(a - b, 5) for a, b in zip(
            warm2["te_pct"], warm["te_pct"], strict=True)],
        # every point's proof as the serial sweep's (session 10: the chains' seams checked)
        "workers2_certificates_as_warm": warm2["signs"] == warm["signs"],
        "workers2_meets_goal": warm2["seconds"] <= 2.0,
        # the two workers with the chains cut once, as before session 12 (no worker
        # takes over the points another has not started), same process
        "workers2_fixed_chains": fixed2,
        "workers2_vs_fixed_chains": round(warm2["seconds"] / fixed2["seconds"], 2),
        "workers2_critical_path_cpu_vs_fixed_chains": round(
            warm2["critical_path_cpu_seconds"] / fixed2["critical_path_cpu_seconds"], 2),
        "workers2_fixed_chains_identical": (
            warm2["tax_economic_usd"] == fixed2["tax_economic_usd"]
            and warm2["tax_this_year_usd"] == fixed2["tax_this_year_usd"]
            and warm2["te_pct"] == fixed2["te_pct"] and warm2["signs"] == fixed2["signs"]),
        "workers2_resolved": warm2["resolved"],
        # the sample clients, serial and on two workers (session 12: nothing solved again)
        "sample_clients": small,
        "sample_clients_workers2_identical": all(c["workers2_identical"]
                                                 for c in small.values()),
        "sample_clients_workers2_resolved": sum(len(c["workers2_resolved"])
                                                for c in small.values()),
        # the warm sweep before session 11 (two-step points unbounded), same process
        "before_session_11": before,
        "before_session_11_seconds": before["seconds"],
        "warm_cpu_vs_before_session_11": round(warm["cpu_seconds"] / before["cpu_seconds"], 2),
        "per_point_vs_before_session_11": per_point,
        "points_proven": warm["points_proven"],
        "points_proven_before_session_11": before["points_proven"],
        "every_point_no_worse_than_3_usd": all(p["no_worse_than_3_usd"] for p in per_point),
        "goal_seconds": 2.0, "meets_goal": s14["meets_goal_serial"],
        "meets_goal_workers2": s14["meets_goal_workers2"],
        # the sign-fixed QPs by their Lagrangian dual (session 13), against cvxpy's
        "dual_qp": dual,
        # this session's changes against session 13's sweep (the headline's source)
        "session_14": s14,
        # this session's results path against session 14's, alternately
        "session_15": s15,
        # this session's ledger check against session 15's, alternately
        "session_16": s16,
        # this session's sweep against session 18's, alternately (CPU, call counts)
        "session_19": s19,
        # each point's first QP from the first point's multipliers, against session 19's
        "session_20": s20,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # the docstring, not a run
        print(__doc__)
        sys.exit(0)
    main()
