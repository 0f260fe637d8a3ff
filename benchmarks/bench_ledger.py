"""Benchmark: replay 100,000 trades over 500 tickers and 10 years through the ledger.

Trades use real tickers and real daily closes from the packaged data (2014-2023), so
losses, gains and wash sales occur at realistic rates. Two taxable accounts and one IRA
share the household's wash-sale lock table. Prints one JSON object.

Goal (issue #2): <= 2 s on the 2-core machine (median of the repeats).
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from decimal import Decimal

import numpy as np

from pma_lab.ledger import Account, AccountType, LotRelief, Side, Trade, replay
from pma_lab.market import load_market

N_TRADES = 100_000
N_TICKERS = 500
REPEATS = 3


def make_trades(seed: int = 7) -> list[Trade]:
    """A feasible blotter: sells never exceed holdings; prices are the day's close."""
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
    return trades


def main() -> None:
    t0 = time.perf_counter()
    trades = make_trades()
    gen = time.perf_counter() - t0
    accounts = [Account("T1"), Account("T2"), Account("IRA", AccountType.IRA)]
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        led = replay(trades, accounts)
        disp = led.dispositions()
        times.append(time.perf_counter() - t0)
    out = {
        "benchmark": "ledger_replay",
        "trades": len(trades),
        "tickers": N_TICKERS,
        "years": "2014-2023",
        "dispositions": int(len(disp)),
        "wash_sales": int((disp.adjustment_code == "W").sum()),
        "disallowed_usd": round(float(disp.adjustment_amount.sum()), 2),
        "open_lots": len(led.lots()),
        "seconds": {"median": round(statistics.median(times), 3),
                    "min": round(min(times), 3), "max": round(max(times), 3),
                    "repeats": REPEATS},
        "generate_seconds": round(gen, 2),
        "goal_seconds": 2.0,
        "meets_goal": statistics.median(times) <= 2.0,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "cpus": __import__("os").cpu_count()},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
