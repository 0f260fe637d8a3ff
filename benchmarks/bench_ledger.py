"""Benchmark: replay 100,000 trades over 500 tickers and 10 years through the ledger.

Trades use real tickers and real daily closes from the packaged data (2014-2023), so
losses, gains and wash sales occur at realistic rates. Two taxable accounts and one IRA
share the household's wash-sale lock table. Prints one JSON object.

Goal (issue #11): <= 1 s on the 2-core machine (median of the repeats, replay plus the
Form 8949 table), money exact to the cent. The previous implementation (the Decimal ledger
of commit ``PREVIOUS``) is loaded from git and timed in the same process on the same
blotter; its results are compared with the current ledger's under the previous
conventions (the same blotter order within each day and ``tack_overlap_twice=True``), so
the speed-up is not bought with different numbers. The integer-cent ledger of commit
``BEFORE`` (main before the third session's speed work: 2.02 s wall, 1.73 CPU-s at load
2.3) is timed the same way and must give the same Form 8949 rows, wash-sale matches, IRA
sales and open lots under the current conventions. CPU seconds are reported next to wall
seconds because the machine is shared.

Both earlier ledgers count only replacement shares still held at the end of the loss-sale
day; since session 13 purchased shares already disposed of replace too (``docs/tax_rules.md``),
so they are compared with the current ledger run with ``disposed_replacements=False`` (the
same source, that one flag off), and ``still_held_rule`` gives that run's wash-sale figures
beside the current rule's.

``compiled`` says whether the ledger ran as the mypyc build of ``ledger.py`` (``make setup``
compiles it when a C compiler is present; see ``setup.py``); the same source run as pure
Python is then timed too (``pure_python``) and must give the same results.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from decimal import Decimal

import numpy as np

from pma_lab.market.data import load_market
from pma_lab.paths import repo_root
from pma_lab.tax.ledger import (
    COMPILED,
    Account,
    AccountType,
    LotRelief,
    Side,
    Trade,
    pure_python,
    replay,
)
from pma_lab.tax.rules import TaxPolicy

N_TRADES = 100_000
N_TICKERS = 500
REPEATS = 3
GOAL_SECONDS = 1.0
PREVIOUS = "e973442"
BEFORE = "46610bd"


def make_trades(seed: int = 7) -> list[Trade]:
    """A feasible blotter: sells never exceed holdings; prices are the day's close.

    Within a day the rows are in the order the previous ledger replayed them (buys first,
    then by account, ticker, price, shares), so both ledgers see the same sequence.
    """
    m = load_market()
    px = m.prices.window("2014-01-01", "2023-12-31")
    full = px.columns[px.notna().all().to_numpy()]
    rng = np.random.default_rng(seed)
    tickers = sorted(rng.choice(np.asarray(full), N_TICKERS, replace=False))
    days = px.index
    accounts = ("T1", "T2", "IRA")
    # trade dates sorted; each trade picks a ticker and an account
    when = np.sort(rng.integers(0, len(days), N_TRADES))
    which = rng.integers(0, N_TICKERS, N_TRADES)
    acct = rng.choice(3, N_TRADES, p=[0.45, 0.35, 0.20])
    coin = rng.random(N_TRADES)
    qty = rng.integers(1, 200, N_TRADES)
    methods = (None, LotRelief.HIFO, LotRelief.MIN_TAX)
    held: dict[tuple[str, str], int] = {}
    trades = []
    values = px[tickers].to_numpy()
    for i in range(N_TRADES):
        tk = tickers[which[i]]
        acc = accounts[acct[i]]
        price = Decimal(f"{values[when[i], which[i]]:.2f}")
        h = held.get((acc, tk), 0)
        day = days[when[i]].date()
        if h > 0 and coin[i] < 0.45:
            q = min(h, int(qty[i]))
            held[(acc, tk)] = h - q
            trades.append(Trade(day, acc, tk, Side.SELL, Decimal(q), price,
                                method=methods[i % 3]))
        else:
            held[(acc, tk)] = h + int(qty[i])
            trades.append(Trade(day, acc, tk, Side.BUY, Decimal(int(qty[i])), price))
    trades.sort(key=lambda t: (t.date, t.side is Side.SELL, t.account, t.ticker, t.price,
                               t.shares))
    return [dataclasses.replace(t, row=i + 2) for i, t in enumerate(trades)]


# Modules moved by the subpackage move (commit 46610bd): an older ledger's imports are
# pointed at their new homes (same code), so it loads against today's package.
_MOVED = {"pma_lab.taxrules": "pma_lab.tax.rules", "pma_lab.tickers": "pma_lab.market.tickers"}


def previous_ledger(commit: str) -> types.ModuleType | None:
    """The ledger module as of ``commit`` (read with git), or None without a git checkout."""
    src = path = None
    for path in ("pma_lab/tax/ledger.py", "pma_lab/ledger.py"):
        try:
            src = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=repo_root(),
                                 capture_output=True, text=True, check=True).stdout
            break
        except (OSError, subprocess.CalledProcessError):
            continue
    if src is None:
        return None
    for old, new in _MOVED.items():
        src = src.replace(f"from {old} import", f"from {new} import")
    mod = types.ModuleType(f"ledger_{commit}")
    mod.__file__ = f"{commit}:{path}"
    sys.modules[mod.__name__] = mod
    exec(compile(src, mod.__file__, "exec"), mod.__dict__)  # noqa: S102 (own repository)
    return mod


def _as(mod: types.ModuleType, trades: list[Trade]) -> list:
    return [mod.Trade(t.date, t.account, t.ticker, mod.Side(t.side.value), t.shares, t.price,
                      t.lot_id, mod.LotRelief(t.method.value) if t.method else None, t.fees,
                      t.row) for t in trades]


def _accounts(mod: types.ModuleType) -> list:
    return [mod.Account("T1"), mod.Account("T2"), mod.Account("IRA", mod.AccountType.IRA)]


def _time(fn, repeats: int) -> tuple[list[float], list[float], object]:
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu, out


def _stats(xs: list[float]) -> dict:
    return {"median": round(statistics.median(xs), 3), "min": round(min(xs), 3),
            "max": round(max(xs), 3)}


def _before(commit: str | types.ModuleType, trades: list[Trade], led: object,
            wall: list[float], cpu: list[float], repeats: int) -> dict:
    """Time the ledger of ``commit`` (or a module; same conventions), compare every table."""
    mod = previous_ledger(commit) if isinstance(commit, str) else commit
    if mod is None:
        return {"commit": commit, "note": "no git checkout: not timed"}
    b_trades, b_acc = _as(mod, trades), _accounts(mod)

    def run_before():
        b = mod.replay(b_trades, b_acc)
        return b, b.dispositions()

    bwall, bcpu, (b, _) = _time(run_before, repeats)
    same = all(getattr(led, f)(**kw).equals(getattr(b, f)(**kw)) for f, kw in (
        ("dispositions", {"as_decimal": True}), ("wash_sale_matches", {}),
        ("ira_sales", {}), ("open_lots", {})))
    name = commit if isinstance(commit, str) else mod.__name__
    return {"commit": name, "seconds": _stats(bwall), "cpu_seconds": _stats(bcpu),
            "speedup_wall": round(statistics.median(bwall) / statistics.median(wall), 2),
            "speedup_cpu": round(statistics.median(bcpu) / statistics.median(cpu), 2),
            "same_results_to_the_cent": bool(same)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--previous", default=PREVIOUS, help="commit of the previous ledger")
    ap.add_argument("--before", default=BEFORE,
                    help="commit of the integer-cent ledger before the latest speed work")
    ap.add_argument("--repeats", type=int, default=REPEATS)
    args = ap.parse_args()
    t0 = time.perf_counter()
    trades = make_trades()
    gen = time.perf_counter() - t0
    accounts = [Account("T1"), Account("T2"), Account("IRA", AccountType.IRA)]

    def run():
        led = replay(trades, accounts)
        return led, led.dispositions()

    wall, cpu, (led, disp) = _time(run, args.repeats)
    out = {
        "benchmark": "ledger_replay",
        "trades": len(trades),
        "tickers": N_TICKERS,
        "years": "2014-2023",
        "dispositions": int(len(disp)),
        "wash_sales": int((disp.adjustment_code == "W").sum()),
        "disallowed_usd": round(float(disp.adjustment_amount.sum()), 2),
        "open_lots": len(led.lots()),
        "seconds": {**_stats(wall), "repeats": args.repeats},
        "cpu_seconds": _stats(cpu),
        "goal_seconds": GOAL_SECONDS,
        "meets_goal": statistics.median(wall) <= GOAL_SECONDS,
        "compiled": COMPILED,
    }
    if COMPILED:
        out["pure_python"] = _before(pure_python(), trades, led, wall, cpu, args.repeats)
    # the earlier ledgers' rule: only replacement shares still held at the end of the day
    held = replay(trades, accounts, policy=TaxPolicy(disposed_replacements=False))
    hdisp = held.dispositions()
    out["still_held_rule"] = {
        "wash_sales": int((hdisp.adjustment_code == "W").sum()),
        "disallowed_usd": round(float(hdisp.adjustment_amount.sum()), 2),
        "disallowed_permanently_usd": round(float(hdisp.disallowed_permanently.sum()), 2)}
    out["disallowed_permanently_usd"] = round(float(disp.disallowed_permanently.sum()), 2)
    old = previous_ledger(args.previous)
    if old is not None:
        old_trades, old_acc = _as(old, trades), _accounts(old)

        def run_old():
            led = old.replay(old_trades, old_acc)
            return led, led.dispositions(as_decimal=True)

        owall, ocpu, (_, odisp) = _time(run_old, args.repeats)
        same = replay(trades, accounts, policy=TaxPolicy(tack_overlap_twice=True,
                                                         disposed_replacements=False))
        ndisp = same.dispositions(as_decimal=True)
        out["previous"] = {
            "commit": args.previous, "seconds": _stats(owall), "cpu_seconds": _stats(ocpu),
            "speedup_wall": round(statistics.median(owall) / statistics.median(wall), 2),
            "speedup_cpu": round(statistics.median(ocpu) / statistics.median(cpu), 2),
            "same_8949_rows_to_the_cent": bool(ndisp.equals(odisp)),
        }
    else:
        out["previous"] = {"commit": args.previous, "note": "no git checkout: not timed"}
    out["before"] = _before(args.before, trades, held, wall, cpu, args.repeats)
    out["generate_seconds"] = round(gen, 2)
    out["machine"] = {"python": sys.version.split()[0], "platform": platform.platform(),
                      "cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
