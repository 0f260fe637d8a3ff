"""Benchmark: reject a lots file of 100,000 rows whose tickers are all unknown (and distinct).

Before issue #11 every distinct unknown ticker got a ``difflib.get_close_matches`` hint
over the ~670 known tickers (about 3 ms each: 100,000 took 330 s). Now hints come from
:class:`pma_lab.market.tickers.TickerSuggester` (difflib-identical answers from a letter-count
index) for the first 50 distinct unknown tickers of a file. Prints one JSON object with the
time to reject the file, and the per-word cost of difflib and of the index, measured here.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from pma_lab.errors import LotDataError
from pma_lab.io.ingest import known_tickers, read_lots
from pma_lab.market.tickers import TickerSuggester

N_ROWS = 100_000
GOAL_SECONDS = 10.0


def main() -> None:
    known = known_tickers()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lots.csv"
        lines = ["lot_id,account,ticker,acquired,shares,cost_per_share"]
        lines += [f"L{i},T,Q{i:05d},2024-01-02,10,100.00" for i in range(N_ROWS)]
        path.write_text("\n".join(lines) + "\n")
        t0 = time.perf_counter()
        try:
            read_lots(path, as_of=__import__("datetime").date(2024, 6, 3), accounts=["T"],
                      known=known)
            codes: tuple[str, ...] = ()
        except LotDataError as e:
            codes = e.codes
        reject = time.perf_counter() - t0
    words = [f"Q{i:05d}" for i in range(300)] + ["APPL", "GOOGLE", "MSFTT"] * 10
    t0 = time.perf_counter()
    for w in words:
        difflib.get_close_matches(w, list(known), n=3, cutoff=0.75)
    per_difflib = (time.perf_counter() - t0) / len(words)
    suggest = TickerSuggester(known, limit=None)
    t0 = time.perf_counter()
    for w in words:
        suggest(w)
    per_index = (time.perf_counter() - t0) / len(words)
    print(json.dumps({
        "benchmark": "unknown_tickers",
        "rows": N_ROWS,
        "unknown_ticker_issues": sum(c == "unknown_ticker" for c in codes),
        "reject_seconds": round(reject, 2),
        "goal_seconds": GOAL_SECONDS,
        "meets_goal": reject <= GOAL_SECONDS,
        "hint_ms_per_word": {"difflib": round(per_difflib * 1e3, 3),
                             "index": round(per_index * 1e3, 3)},
        "difflib_for_all_rows_seconds_estimate": round(per_difflib * N_ROWS, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
    }, indent=2))


if __name__ == "__main__":
    if {"-h", "--help"} & set(sys.argv[1:]):  # the docstring, not a run
        print(__doc__)
        sys.exit(0)
    main()
