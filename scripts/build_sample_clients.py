#!/usr/bin/env python
"""Build the sample clients and the malformed-input corpus from the packaged market data.

Writes, deterministically (fixed seeds, fixed timestamps):

* ``data/samples/clients/<client_id>/``: nine personas, each a ``profile.toml`` plus its lots
  file(s) (and ``recent_trades.csv`` for the household), and ``clients/README.md``;
* ``data/samples/bad/``: files with exactly one deliberate defect each, a valid
  ``base_profile.toml`` / ``good_lots.csv`` / ``good_blotter.csv`` to compare against,
  ``expected_errors.csv`` and ``bad/README.md``.

Every cost basis is the dividend-adjusted close on the acquisition date rounded to the
cent, every acquisition date is a trading day on which the ticker has a price, and every
ticker has a price on the as-of date 2026-07-31. Re-running the script reproduces every
file byte for byte (Excel files get fixed document properties and zip timestamps).

Usage::

    .venv/bin/python scripts/build_sample_clients.py            # writes data/samples/...
    PMA_LAB_DATA=/some/copy .venv/bin/python scripts/build_sample_clients.py
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.writer.excel import ExcelWriter

from pma_lab import paths
from pma_lab.market.tickers import normalize_ticker
from pma_lab.schema import ISSUE_CODES, RESTRICTION_CATEGORIES
from pma_lab.tax.rules import Term, term_of

AS_OF = dt.date(2026, 7, 31)
ST_AFTER = dt.date(2025, 7, 31)  # acquired after this: short-term on AS_OF
RECENT_AFTER = dt.date(2026, 7, 1)  # acquired after this: within 30 days of AS_OF
FIXED_STAMP = dt.datetime(2026, 7, 31, 0, 0, 0)  # xlsx document properties
ZIP_STAMP = (2026, 7, 31, 0, 0, 0)  # xlsx zip member timestamps
CENT = Decimal("0.01")
ETF_NAMES = {"SPY": "SPDR S&P 500 ETF Trust", "IVV": "iShares Core S&P 500 ETF"}


# ------------------------------------------------------------------------------ market
class Market:
    """The packaged prices (stocks + ETFs) and security master, read with pandas."""

    def __init__(self, folder: Path):
        stocks = self._wide(pd.read_parquet(folder / "prices.parquet"))
        etfs = self._wide(pd.read_parquet(folder / "etf_prices.parquet"))
        extra = [c for c in etfs.columns if c not in stocks.columns]
        self.px = pd.concat([stocks, etfs[extra]], axis=1, sort=True)
        uni = pd.read_parquet(folder / "universe.parquet")
        if "ticker" not in uni.columns:
            uni = uni.reset_index()
        self.universe = uni
        self.known = frozenset(uni["ticker"].astype(str)) | frozenset(map(str, etfs.columns))
        names = dict(zip(uni["ticker"].astype(str), uni["name"], strict=True))
        self.names = {k: v for k, v in names.items() if isinstance(v, str) and v}
        self.names.update({k: v for k, v in ETF_NAMES.items() if k not in self.names})
        self.as_of_ts = pd.Timestamp(AS_OF)
        if self.as_of_ts not in self.px.index:
            raise SystemExit(f"the packaged prices have no row for {AS_OF}")
        last = self.px.loc[self.as_of_ts]
        self.priced_on_as_of = frozenset(last.dropna().index)
        self._cache: dict[str, pd.Series] = {}

    @staticmethod
    def _wide(df: pd.DataFrame) -> pd.DataFrame:
        if {"date", "ticker"} <= set(df.columns):  # long format: pivot
            val = [c for c in df.columns if c not in ("date", "ticker")][0]
            df = df.pivot(index="date", columns="ticker", values=val)
        elif "date" in df.columns:
            df = df.set_index("date")
        df.index = pd.DatetimeIndex(pd.to_datetime(df.index)).normalize()
        df.columns = [str(c) for c in df.columns]
        return df.astype(float)

    def stale_text(self) -> str:
        """Current S&P 500 names without a price on the as-of date, with their last date."""
        uni = self.universe
        if "in_sp500_2026_08_08" in uni.columns:
            uni = uni[uni["in_sp500_2026_08_08"].astype(bool)]
        parts = []
        for t in sorted(uni["ticker"].astype(str)):
            if t in self.priced_on_as_of:
                continue
            s = self.px[t].dropna() if t in self.px.columns else pd.Series(dtype=float)
            parts.append(f"{t} (last price {s.index[-1].date()})" if len(s) else f"{t} (no prices)")
        return ", ".join(parts) if parts else "none"

    def series(self, t: str) -> pd.Series:
        """Non-missing adjusted closes of ``t`` up to the as-of date."""
        if t not in self._cache:
            if t not in self.px.columns:
                raise SystemExit(f"{t}: no prices in the packaged data")
            s = self.px[t].dropna()
            self._cache[t] = s[s.index <= self.as_of_ts]
        return self._cache[t]

    def check(self, t: str) -> None:
        """Fail unless ``t`` is a known ticker priced on the as-of date."""
        if t not in self.known:
            raise SystemExit(f"{t}: not in universe.parquet or etf_prices.parquet")
        if t not in self.priced_on_as_of:
            raise SystemExit(f"{t}: no price on {AS_OF}")

    def close(self, t: str, d: dt.date) -> float:
        """Adjusted close of ``t`` on trading day ``d`` (must exist)."""
        s = self.series(t)
        ts = pd.Timestamp(d)
        if ts not in s.index:
            raise SystemExit(f"{t}: no price on {d}")
        return float(s.loc[ts])

    def last(self, t: str) -> float:
        """Adjusted close on the as-of date."""
        return self.close(t, AS_OF)

    def on_or_before(self, t: str, d: dt.date | str) -> dt.date:
        """Last trading day of ``t`` on or before ``d`` (at most a week earlier)."""
        d = dt.date.fromisoformat(d) if isinstance(d, str) else d
        s = self.series(t)
        idx = s.index[s.index <= pd.Timestamp(d)]
        if len(idx) == 0 or (d - idx[-1].date()).days > 7:
            raise SystemExit(f"{t}: no trading day with a price shortly before {d}")
        return idx[-1].date()

    def peak(self, t: str, start: str, end: str) -> dt.date:
        """Trading day of the highest adjusted close of ``t`` in [start, end]."""
        s = self.series(t).loc[start:end]
        if s.empty:
            raise SystemExit(f"{t}: no prices between {start} and {end}")
        return s.idxmax().date()

    def random_day(self, rng: np.random.Generator, t: str, start: str, end: str) -> dt.date:
        """A trading day of ``t`` in [start, end] drawn with ``rng``."""
        s = self.series(t).loc[start:end]
        if s.empty:
            raise SystemExit(f"{t}: no prices between {start} and {end}")
        return s.index[int(rng.integers(len(s)))].date()

    def first_day(self, t: str) -> dt.date:
        """First trading day with a price for ``t``."""
        return self.series(t).index[0].date()

    def basis(self, t: str, d: dt.date) -> Decimal:
        """Cost per share: the adjusted close on ``d`` rounded to the cent."""
        return Decimal(repr(self.close(t, d))).quantize(CENT, rounding=ROUND_HALF_UP)

    def name(self, t: str) -> str:
        """Company (or fund) name from the security master."""
        return self.names.get(t, t)


def money(x: Decimal) -> Decimal:
    """Round to the cent, half up."""
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------------------ lots
@dataclass
class Lot:
    """One sample tax lot."""

    account: str
    ticker: str  # canonical
    acquired: dt.date
    shares: Decimal
    cps: Decimal  # cost per share
    spelled: str = ""  # ticker as written in the file (default: canonical)
    inherited: bool = False
    lot_id: str = ""

    @property
    def raw_ticker(self) -> str:
        return self.spelled or self.ticker

    @property
    def cost_total(self) -> Decimal:
        return money(self.shares * self.cps)


def make_lot(
    m: Market,
    account: str,
    t: str,
    d: dt.date,
    shares: Decimal | int,
    spelled: str = "",
    inherited: bool = False,
) -> Lot:
    m.check(t)
    shares = Decimal(shares)
    if shares <= 0:
        raise SystemExit(f"{t}: non-positive share count")
    if d > AS_OF:
        raise SystemExit(f"{t}: acquisition {d} after {AS_OF}")
    if spelled:
        sp = normalize_ticker(spelled)
        if not sp.valid or sp.ticker != t:
            raise SystemExit(f"{spelled!r} does not normalise to {t}")
    return Lot(account, t, d, shares, m.basis(t, d), spelled, inherited)


def shares_for(m: Market, t: str, usd: float, step: int = 1) -> Decimal:
    """Whole shares (multiple of ``step``) worth about ``usd`` on the as-of date."""
    n = max(1, round(usd / m.last(t) / step)) * step
    return Decimal(n)


@dataclass
class Persona:
    """One generated client: its lots, cash, profile text and notes for the README."""

    client_id: str
    title: str
    lots: list[Lot]
    cash: dict[str, float]
    files: dict[str, str] = field(default_factory=dict)  # file name -> what it shows
    notes: list[str] = field(default_factory=list)
    blotter: list[dict[str, str]] = field(default_factory=list)


def lot_stats(m: Market, lots: Sequence[Lot]) -> dict[str, float]:
    """Market value, embedded gains by term, and lot counts on the as-of date."""
    mv = st = lt = st_loss = lt_loss = 0.0
    n_loss = n_st = n_recent = 0
    for lot in lots:
        v = float(money(lot.shares * Decimal(repr(m.last(lot.ticker)))))
        g = v - float(lot.cost_total)
        mv += v
        if term_of(lot.acquired, AS_OF, lot.inherited) is Term.SHORT:
            st += g
            n_st += 1
            st_loss += min(g, 0.0)
        else:
            lt += g
            lt_loss += min(g, 0.0)
        n_loss += g < 0
        n_recent += lot.acquired > RECENT_AFTER
    return {
        "mv": mv,
        "st": st,
        "lt": lt,
        "st_loss": st_loss,
        "lt_loss": lt_loss,
        "loss": n_loss,
        "short": n_st,
        "recent": n_recent,
        "lots": len(lots),
        "names": len({lot.ticker for lot in lots}),
        "cost": sum(float(lot.cost_total) for lot in lots),
    }


# ------------------------------------------------------------------------------ writers
def fmt_money(x: Decimal | float) -> str:
    return f"{Decimal(repr(x)) if isinstance(x, float) else x:.2f}"


def fmt_shares(x: Decimal) -> str:
    if x == x.to_integral_value():
        return str(int(x))
    return f"{x.normalize():f}"


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    encoding: str = "utf-8",
    delimiter: str = ",",
) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", delimiter=delimiter)
    w.writerow(header)
    for r in rows:
        w.writerow(r)
    path.write_bytes(buf.getvalue().encode(encoding))


def write_text(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))


def save_xlsx(wb: openpyxl.Workbook, path: Path) -> None:
    """Save ``wb`` reproducibly: fixed document properties and zip member timestamps."""
    props = wb.properties
    props.creator = "pma_lab scripts/build_sample_clients.py"
    props.lastModifiedBy = "pma_lab scripts/build_sample_clients.py"
    props.created = FIXED_STAMP
    props.modified = FIXED_STAMP
    raw = io.BytesIO()
    # ExcelWriter directly: openpyxl's save_workbook() would stamp 'modified' with now()
    ExcelWriter(wb, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_STAMP)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            z.writestr(zi, src.read(info.filename))
    path.write_bytes(out.getvalue())


def canonical_rows(lots: Sequence[Lot]) -> list[list[str]]:
    return [
        [
            lot.lot_id,
            lot.account,
            lot.raw_ticker,
            lot.acquired.isoformat(),
            fmt_shares(lot.shares),
            fmt_money(lot.cps),
        ]
        for lot in lots
    ]


CANONICAL_HEADER = ["lot_id", "account", "ticker", "acquired", "shares", "cost_per_share"]


def sort_and_number(lots: list[Lot], prefix: str) -> list[Lot]:
    lots.sort(key=lambda x: (x.account, x.ticker, x.acquired, x.shares))
    for i, lot in enumerate(lots, 1):
        lot.lot_id = f"{prefix}-{i:04d}"
    return lots


def check_profile(text: str, where: str) -> None:
    doc = tomllib.loads(text)
    for cat in doc.get("restrictions", {}).get("categories", []):
        if cat not in RESTRICTION_CATEGORIES:
            raise SystemExit(f"{where}: unknown category {cat}")


# ------------------------------------------------------------------------------ personas
def weights(rng: np.random.Generator, n: int, lo: float = 0.6, hi: float = 1.4) -> np.ndarray:
    w = rng.uniform(lo, hi, n)
    return w / w.sum()


def tech_exec(m: Market) -> Persona:
    """(a) Tech executive: ~40 % low-basis NVDA from RSU vests, 15 other large caps."""
    rng = np.random.default_rng(20260731_01)
    acct = "taxable"
    lots: list[Lot] = []
    # RSU vests, mid-March and mid-September 2015-2019
    vest_days = [
        m.on_or_before("NVDA", f"{y}-{mo:02d}-15") for y in range(2015, 2020) for mo in (3, 9)
    ]
    nvda_usd = 1_190_000.0
    w = weights(rng, len(vest_days), 0.75, 1.25)
    total_sh = nvda_usd / m.last("NVDA")
    for d, wi in zip(vest_days, w, strict=True):
        lots.append(make_lot(m, acct, "NVDA", d, Decimal(max(10, round(total_sh * wi / 10) * 10))))
    # (ticker, [(date spec, share of the name's value)]); date spec: ISO date (snapped to
    # the last trading day on or before it) or ("peak", start, end)
    others: list[tuple[str, list[tuple[object, float]]]] = [
        ("AAPL", [("2016-05-12", 0.7), ("2026-07-14", 0.3)]),
        ("MSFT", [("2017-02-15", 0.6), ("2026-07-07", 0.4)]),
        ("AMZN", [("2018-11-20", 1.0)]),
        ("GOOGL", [("2019-06-03", 0.6), ("2025-10-15", 0.4)]),
        ("META", [("2020-03-18", 0.5), (("peak", "2025-08-04", "2026-06-30"), 0.5)]),
        ("JPM", [("2016-11-09", 1.0)]),
        ("V", [("2017-08-21", 0.7), ("2026-03-16", 0.3)]),
        ("COST", [("2018-03-05", 1.0)]),
        ("LLY", [("2019-01-28", 0.6), (("peak", "2025-08-04", "2026-06-30"), 0.4)]),
        ("PG", [("2016-08-01", 1.0)]),
        ("NFLX", [("2020-04-20", 0.5), (("peak", "2025-08-04", "2026-06-30"), 0.5)]),
        ("ORCL", [("2019-05-02", 0.4), (("peak", "2025-08-04", "2025-12-31"), 0.6)]),
        ("BRK.B", [("2016-03-01", 1.0)]),
        ("ADBE", [(("peak", "2021-06-01", "2021-12-31"), 0.6), ("2023-05-10", 0.4)]),
        ("TSLA", [(("peak", "2025-08-04", "2026-06-30"), 0.6), ("2026-07-20", 0.4)]),
    ]
    name_w = weights(rng, len(others), 0.7, 1.3)
    rest_usd = 1_785_000.0
    for (t, specs), wn in zip(others, name_w, strict=True):
        for spec, share in specs:
            d = m.peak(t, spec[1], spec[2]) if isinstance(spec, tuple) else m.on_or_before(t, spec)
            lots.append(make_lot(m, acct, t, d, shares_for(m, t, rest_usd * wn * share)))
    sort_and_number(lots, "TE")
    p = Persona(
        "tech-exec",
        "Tech executive with a concentrated, low-basis employer stock",
        lots,
        {acct: 25000.0},
    )
    p.files["lots.csv"] = (
        "canonical headers `lot_id,account,ticker,acquired,shares,cost_per_share`, ISO dates"
    )
    return p


RETIREE_NAMES = [
    # screened by the client's ESG categories
    "XOM",
    "CVX",
    "COP",
    "SLB",
    "MO",
    "PM",
    "LMT",
    "GD",
    "NOC",
    # the rest of a legacy blue-chip portfolio
    "AAPL",
    "MSFT",
    "IBM",
    "INTC",
    "CSCO",
    "ORCL",
    "TXN",
    "ADP",
    "JNJ",
    "PFE",
    "MRK",
    "ABT",
    "BMY",
    "AMGN",
    "MDT",
    "LLY",
    "PG",
    "KO",
    "PEP",
    "WMT",
    "COST",
    "CL",
    "KMB",
    "CLX",
    "JPM",
    "BAC",
    "WFC",
    "AXP",
    "USB",
    "PNC",
    "BRK.B",
    "CB",
    "GE",
    "MMM",
    "CAT",
    "DE",
    "UNP",
    "UPS",
    "EMR",
    "VZ",
    "T",
    "DIS",
    "CMCSA",
    "HD",
    "MCD",
    "NKE",
    "TGT",
    "DUK",
    "SO",
    "NEE",
    "APD",
    "SHW",
]
RETIREE_ACCOUNT = "XXXX-1234"


def retiree(m: Market) -> Persona:
    """(b) Retiree: ~60 legacy names, mostly 2003-2013 lots, custodian .xlsx layout."""
    rng = np.random.default_rng(20260731_02)
    names = RETIREE_NAMES[:60]
    acct = RETIREE_ACCOUNT
    w = weights(rng, len(names), 0.5, 1.5)
    total = 2_440_000.0
    # recent or loss lots on top of the legacy ones: (ticker, date spec, share of name)
    extra = {
        "JNJ": ("2025-11-17", 0.25),
        "PG": (("peak", "2025-08-04", "2026-06-30"), 0.25),
        "KO": ("2026-07-10", 0.2),
        "PFE": (("peak", "2021-06-01", "2021-12-31"), 0.3),
        "DIS": (("peak", "2021-01-01", "2021-12-31"), 0.3),
        "CMCSA": (("peak", "2021-01-01", "2021-12-31"), 0.3),
    }
    lots: list[Lot] = []
    for t, wi in zip(names, w, strict=True):
        usd = total * wi
        start = max(dt.date(2003, 1, 2), m.first_day(t) + dt.timedelta(days=60))
        spelled = "BRK-B" if t == "BRK.B" else ""
        if t in extra:
            spec, share = extra[t]
            d = m.peak(t, spec[1], spec[2]) if isinstance(spec, tuple) else m.on_or_before(t, spec)
            lots.append(make_lot(m, acct, t, d, shares_for(m, t, usd * share), spelled))
            usd *= 1 - share
        k = 1 + int(rng.integers(2))  # one or two legacy lots
        parts = weights(rng, k, 0.7, 1.3)
        for part in parts:
            d = m.random_day(rng, t, start.isoformat(), "2013-12-31")
            lots.append(make_lot(m, acct, t, d, shares_for(m, t, usd * part), spelled))
    sort_and_number(lots, "RT")
    p = Persona(
        "retiree",
        "Retiree with a legacy diversified portfolio and ESG screens",
        lots,
        {acct: 40000.0},
    )
    p.files["positions_2026-07-31.xlsx"] = (
        "custodian Excel export: sheet `Positions`, headers `Account Number, Symbol, "
        "Description, Quantity, Open Date, Cost Basis, Market Value`; Open Date as real Excel "
        "dates, Cost Basis = total cost, Market Value on 2026-07-31 (ignored by ingestion, "
        "reported as an `ignored_column` warning together with Description); Berkshire "
        "spelled `BRK-B` (normalised to BRK.B with a `ticker_normalized` warning); no "
        "lot ids (generated from the row numbers)"
    )
    return p


def young_pro(m: Market) -> Persona:
    """(c) Young professional: mostly cash, SPY bought monthly, two PYPL lots at a loss."""
    acct = "taxable"
    lots: list[Lot] = []
    monthly = Decimal("1150")
    for y in range(2021, 2027):
        for mo in range(1, 13):
            if (y, mo) > (2026, 7):
                break
            d = m.on_or_before("SPY", f"{y}-{mo:02d}-15")
            sh = (monthly / Decimal(repr(m.close("SPY", d)))).quantize(Decimal("0.0001"))
            lots.append(make_lot(m, acct, "SPY", d, sh))
    d = m.on_or_before("SPY", "2026-07-27")  # bonus invested
    sh = (Decimal("6000") / Decimal(repr(m.close("SPY", d)))).quantize(Decimal("0.0001"))
    lots.append(make_lot(m, acct, "SPY", d, sh))
    lots.append(make_lot(m, acct, "PYPL", m.peak("PYPL", "2021-06-01", "2021-09-30"), 60))
    lots.append(make_lot(m, acct, "PYPL", m.on_or_before("PYPL", "2022-01-18"), 50))
    lots.sort(key=lambda x: (x.ticker, x.acquired))
    p = Persona(
        "young-pro",
        "Young professional funding an account mostly with cash",
        lots,
        {acct: 380000.0},
    )
    p.files["brokerage_export.csv"] = (
        "broker export headers `Symbol,Quantity,Acquisition Date,Cost Basis Per Share` "
        '(aliases), US dates MM/DD/YYYY (the profile sets `date_order = "MDY"`), fractional '
        "ETF shares, no account or lot id column (the profile's `default_account` applies, "
        "lot ids are generated from the row numbers)"
    )
    return p


PHIL_NAMES = [
    "AAPL",
    "MSFT",
    "AMZN",
    "GOOGL",
    "NVDA",
    "AVGO",
    "COST",
    "HD",
    "LLY",
    "V",
    "MA",
    "JPM",
    "BRK.B",
    "TJX",
    "ORCL",
    "NFLX",
    "ISRG",
    "INTU",
    "CAT",
    "DE",
    "SBUX",
    "MCD",
    "AMGN",
    "TMO",
    "TXN",
    "LOW",
    "SHW",
    "ADP",
    "CTAS",
    "ROST",
]


def philanthropist(m: Market) -> Persona:
    """(d) Philanthropist: ~30 very-low-basis names (2009-2012), a few ST lots, inherited lots."""
    rng = np.random.default_rng(20260731_04)
    acct = "taxable"
    total = 1_400_000.0
    w = weights(rng, len(PHIL_NAMES), 0.6, 1.4)
    extra = {  # short-term lots: (date spec, share of the name's value)
        "NFLX": (("peak", "2025-08-04", "2026-06-30"), 0.3),
        "ORCL": ("2026-07-09", 0.2),
        "AMGN": ("2025-09-15", 0.25),
    }
    lots: list[Lot] = []
    for t, wi in zip(PHIL_NAMES, w, strict=True):
        usd = total * wi
        if t in extra:
            spec, share = extra[t]
            d = m.peak(t, spec[1], spec[2]) if isinstance(spec, tuple) else m.on_or_before(t, spec)
            lots.append(make_lot(m, acct, t, d, shares_for(m, t, usd * share)))
            usd *= 1 - share
        start = max(dt.date(2009, 3, 9), m.first_day(t) + dt.timedelta(days=60))
        k = 1 + int(rng.integers(2))
        for part in weights(rng, k, 0.7, 1.3):
            d = m.random_day(rng, t, start.isoformat(), "2012-12-31")
            lots.append(make_lot(m, acct, t, d, shares_for(m, t, usd * part)))
    # inherited from a parent's estate: basis stepped up to the value at the date of death
    death = m.on_or_before("JNJ", "2019-05-20")
    for t, usd in (("JNJ", 55000.0), ("KO", 45000.0)):
        lots.append(make_lot(m, acct, t, death, shares_for(m, t, usd), inherited=True))
    sort_and_number(lots, "PH")
    p = Persona(
        "philanthropist",
        "Charitably inclined client with very-low-basis stock",
        lots,
        {acct: 20000.0},
    )
    p.files["lots.csv"] = (
        "headers `ticker,acquired,shares,cost_total,lot_id,inherited`: total cost instead of "
        "per-share cost, columns in a non-canonical order, an `inherited` yes/no column "
        f"(JNJ and KO inherited on {death.isoformat()}, basis stepped up to that day's "
        "close; always long-term)"
    )
    return p


HH_TAXABLE = [
    "META",
    "NOW",
    "UBER",
    "AAPL",
    "MSFT",
    "JPM",
    "XOM",
    "AMZN",
    "GOOGL",
    "NVDA",
    "BRK.B",
    "V",
    "HD",
    "PG",
    "KO",
    "COST",
    "WMT",
    "LLY",
    "MRK",
    "ABBV",
    "TMO",
    "DHR",
    "LIN",
    "CAT",
    "GE",
    "RTX",
    "UNP",
    "CSCO",
    "TXN",
    "ADBE",
    "CRM",
    "NFLX",
    "DIS",
    "T",
    "VZ",
    "NEE",
    "DUK",
    "SPGI",
    "BLK",
    "AMT",
]
HH_IRA = [
    "META",
    "NOW",
    "UBER",
    "AAPL",
    "MSFT",
    "JPM",
    "XOM",
    "AVGO",
    "ORCL",
    "INTU",
    "ISRG",
    "AMAT",
    "GS",
    "CVX",
    "PLD",
]
HH_WASH = {"META": "2026-07-08", "NOW": "2026-07-15", "UBER": "2026-07-22"}  # IRA buys
HH_LOSS_CANDIDATES = ["KLAC", "LRCX", "QCOM", "GLW", "WDC", "STX", "MU", "IBM", "TSLA"]
HH_GAIN_CANDIDATES = ["BMY", "REGN", "ACN", "MCK", "ADP", "ICE", "CME", "BKNG", "AMGN"]
HH_IRA_CANDIDATES = ["MMM", "CSX", "NSC", "EMR", "ITW", "JCI"]


def household(m: Market) -> Persona:
    """(e) Household: taxable + IRA with overlapping names, wash-sale locks, a blotter."""
    rng = np.random.default_rng(20260731_05)
    lots: list[Lot] = []
    # taxable: 40 names
    tw = weights(rng, len(HH_TAXABLE), 0.6, 1.4)
    tax_total = 1_185_000.0
    for t, wi in zip(HH_TAXABLE, tw, strict=True):
        usd = tax_total * wi
        if t in HH_WASH:  # a loss lot bought near the high, the IRA bought again in July
            d = m.peak(t, "2025-08-04", "2026-05-29")
            lots.append(make_lot(m, "taxable", t, d, shares_for(m, t, usd * 0.6)))
            usd *= 0.4
        if t == "AMZN":  # a recent taxable purchase
            d = m.on_or_before(t, "2026-07-09")
            lots.append(make_lot(m, "taxable", t, d, shares_for(m, t, usd * 0.3)))
            usd *= 0.7
        if t == "ADBE":  # a long-term loss
            d = m.peak(t, "2021-06-01", "2021-12-31")
            lots.append(make_lot(m, "taxable", t, d, shares_for(m, t, usd * 0.5)))
            usd *= 0.5
        start = max(dt.date(2012, 1, 3), m.first_day(t) + dt.timedelta(days=60))
        d = m.random_day(rng, t, start.isoformat(), "2024-12-31")
        lots.append(make_lot(m, "taxable", t, d, shares_for(m, t, usd)))
    # IRA: 15 names
    iw = weights(rng, len(HH_IRA), 0.6, 1.4)
    ira_total = 495_000.0
    for t, wi in zip(HH_IRA, iw, strict=True):
        usd = ira_total * wi
        if t in HH_WASH:
            d = m.on_or_before(t, HH_WASH[t])
            lots.append(make_lot(m, "ira", t, d, shares_for(m, t, usd)))
            continue
        start = max(dt.date(2015, 1, 2), m.first_day(t) + dt.timedelta(days=60))
        d = m.random_day(rng, t, start.isoformat(), "2025-06-30")
        lots.append(make_lot(m, "ira", t, d, shares_for(m, t, usd)))
    sort_and_number(lots, "HH")
    held = {lot.ticker for lot in lots}

    # recent-trades blotter: closed round trips only (their lots are not in the lots file)
    def pick(cands: list[str], d1: str, d2: str, ok: Callable[[float, float], bool]) -> str:
        for t in cands:
            if t in held or t not in m.known or t not in m.priced_on_as_of:
                continue
            a = m.close(t, m.on_or_before(t, d1))
            b = m.close(t, m.on_or_before(t, d2))
            if ok(a, b):
                return t
        raise SystemExit(f"no blotter candidate between {d1} and {d2}")

    loss_t = pick(HH_LOSS_CANDIDATES, "2026-06-17", "2026-07-21", lambda a, b: b < 0.93 * a)
    gain_t = pick(HH_GAIN_CANDIDATES, "2026-06-18", "2026-07-14", lambda a, b: b > 1.03 * a)
    ira_t = pick(HH_IRA_CANDIDATES, "2026-06-23", "2026-07-16", lambda a, b: True)
    trades = []

    def trade(
        day: str, acct: str, t: str, side: str, sh: int, lot_id: str = "", method: str = ""
    ) -> None:
        d = m.on_or_before(t, day)
        trades.append(
            {
                "date": d.isoformat(),
                "account": acct,
                "account_type": "ira" if acct == "ira" else "taxable",
                "ticker": t,
                "side": side,
                "shares": str(sh),
                "price": fmt_money(m.basis(t, d)),
                "lot_id": lot_id,
                "method": method,
            }
        )

    loss_sh = int(shares_for(m, loss_t, 30000.0, 5))
    gain_sh = int(shares_for(m, gain_t, 20000.0, 5))
    ira_sh = int(shares_for(m, ira_t, 15000.0, 5))
    loss_lot = f"B-{m.on_or_before(loss_t, '2026-06-17'):%Y%m%d}-{loss_t}"
    trade("2026-06-17", "taxable", loss_t, "buy", loss_sh, loss_lot)
    trade("2026-06-18", "taxable", gain_t, "buy", gain_sh)
    trade("2026-06-23", "ira", ira_t, "buy", ira_sh)
    trade("2026-07-14", "taxable", gain_t, "sell", gain_sh, "", "fifo")
    trade("2026-07-16", "ira", ira_t, "sell", ira_sh)
    trade("2026-07-21", "taxable", loss_t, "sell", loss_sh, loss_lot, "specific")
    p = Persona(
        "household",
        "Household with a taxable account and an IRA",
        lots,
        {"taxable": 15000.0, "ira": 5000.0},
        blotter=trades,
    )
    p.files["household_lots.csv"] = (
        "one file for both accounts, with an `account` column (`taxable`, `ira`) and alias "
        "headers `account,lot_id,symbol,date_acquired,quantity,unit_cost`"
    )
    p.files["recent_trades.csv"] = (
        "blotter of the last 45 days (`date,account,account_type,ticker,side,shares,price,"
        "lot_id,method`): three closed round trips whose lots are no longer held"
    )
    loss_buy, loss_sell = trades[0], trades[5]
    p.notes += [
        f"Wash-sale locks from the IRA: the taxable account holds loss lots in "
        f"{', '.join(HH_WASH)} bought near their 2025-26 highs, and the IRA bought the same "
        f"names on {', '.join(m.on_or_before(t, d).isoformat() for t, d in HH_WASH.items())}. "
        "Selling those taxable lots before 30 days have passed since the IRA purchase washes "
        "the loss, and because the replacement shares are in an IRA the loss is lost for "
        "good (Rev. Rul. 2008-5).",
        f"Recent loss sale: the blotter buys {loss_buy['shares']} {loss_t} in the taxable "
        f"account on {loss_buy['date']} at {loss_buy['price']} and sells the same lot "
        f"(`lot_id` {loss_lot}, method `specific`) on {loss_sell['date']} at "
        f"{loss_sell['price']}, a short-term loss; buying {loss_t} in either account "
        f"before {(dt.date.fromisoformat(loss_sell['date']) + dt.timedelta(days=31))} "
        "would wash it. The blotter also holds a short-term gain round trip in "
        f"{gain_t} (taxable) and a round trip in {ira_t} inside the IRA (no tax).",
        f"Overlap between the accounts: {', '.join(sorted(set(HH_TAXABLE) & set(HH_IRA)))}.",
    ]
    return p


# ------------------------------------------------------------------------------ the shelf
# Issue 14: a household with a Roth and an IRA, a 60/40 client, an active + index core
# client and a muni-ladder client in a high-tax state. Each account gets one old lot per
# name, plus a short-term loss lot bought near the 2025-26 high and a lot bought in July
# 2026 (so every persona has short-term, loss and recent lots).
SHELF_NAMES = [
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "JPM", "V", "MA", "HD", "PG", "JNJ",
    "XOM", "KO", "PEP", "COST", "WMT", "MRK", "ABBV", "LLY", "ORCL", "CRM", "ADBE", "NFLX",
    "TMO", "ABT", "LIN", "CAT", "HON", "RTX", "LOW", "MCD", "TXN", "CSCO", "BAC", "GS",
    "SPGI", "NEE", "DUK", "AMGN", "ISRG", "BKNG", "ADP", "CME", "ICE", "MMC", "SCHW", "PLD",
]


def _shelf_names(m: Market, start: int, n: int) -> list[str]:
    ok = [t for t in SHELF_NAMES if t in m.known and t in m.priced_on_as_of]
    if len(ok) < start + n:
        raise SystemExit(f"only {len(ok)} shelf names are priced on {AS_OF}")
    return ok[start:start + n]


def _shelf_account(m: Market, rng: np.random.Generator, account: str, names: list[str],
                   total: float, loss: str, recent: str) -> list[Lot]:
    """One old lot per name, a short-term loss lot in ``loss``, a July 2026 lot in ``recent``."""
    lots = []
    for t, wi in zip(names, weights(rng, len(names)), strict=True):
        usd = total * wi
        if t == loss:  # bought near the 2025-26 high: a short-term loss
            lots.append(make_lot(m, account, t, m.peak(t, "2025-08-04", "2026-05-29"),
                                 shares_for(m, t, usd * 0.5)))
            usd *= 0.5
        if t == recent:  # bought in July 2026: within the wash-sale window
            lots.append(make_lot(m, account, t, m.on_or_before(t, "2026-07-20"),
                                 shares_for(m, t, usd * 0.3)))
            usd *= 0.7
        start = max(dt.date(2012, 1, 3), m.first_day(t) + dt.timedelta(days=60))
        d = m.random_day(rng, t, start.isoformat(), "2024-12-31")
        lots.append(make_lot(m, account, t, d, shares_for(m, t, usd)))
    return lots


def roth_household(m: Market) -> Persona:
    """(f) Household with a taxable account, a traditional IRA and a Roth IRA."""
    rng = np.random.default_rng(20260731_06)
    names = _shelf_names(m, 0, 30)
    lots = (_shelf_account(m, rng, "taxable", names[:24], 900_000.0, "NFLX", "META")
            + _shelf_account(m, rng, "ira", names[:6] + names[24:30], 400_000.0, "TMO",
                             "MSFT")
            + _shelf_account(m, rng, "roth", names[2:8] + names[20:24], 250_000.0, "ORCL",
                             "NVDA"))
    sort_and_number(lots, "RH")
    p = Persona("roth-household", "Household with a taxable account, an IRA and a Roth",
                lots, {"taxable": 10000.0, "ira": 4000.0, "roth": 2500.0})
    p.files["lots.csv"] = ("canonical columns with an `account` column (`taxable`, `ira`, "
                           "`roth`); the Roth is an `ira` account with `ira_kind = \"roth\"`")
    p.notes.append(
        "The three accounts overlap, so one household optimisation "
        "(`pma_lab.optimize.household.HouseholdProblem`) decides where each name is held (asset "
        "location), trades in every account and treats wash sales across accounts as hard "
        "constraints: the taxable account's META lots cannot be sold at a loss while the "
        "July purchase is in the window, and a loss sold in the taxable account is not "
        "bought back in the IRA or the Roth.")
    return p


def balanced_6040(m: Market) -> Persona:
    """(g) A 60/40 core allocation: a direct-indexed equity sleeve and a Treasury ladder."""
    rng = np.random.default_rng(20260731_07)
    lots = _shelf_account(m, rng, "taxable", _shelf_names(m, 6, 25), 1_300_000.0, "CRM",
                          "COST")
    sort_and_number(lots, "BA")
    p = Persona("balanced-6040", "60/40 core allocation with a Treasury ladder", lots,
                {"taxable": 20000.0})
    p.files["lots.csv"] = "canonical columns; the equity sleeve only (the ladder is new money)"
    p.notes.append(
        "`[core] allocation = \"60/40\"` with a 5-point band and `[fixed_income]` a 1-10 "
        "year Treasury ladder: `pma_lab.portfolio.allocation.plan_sleeves` decides what moves "
        "between "
        "the sleeves (cash first, sell only back to the band's edge) and "
        "`pma_lab.portfolio.ladder.build_ladder` builds the ladder from the packaged par curve "
        "(its "
        "last date, 2025-07-11, is what is used).")
    return p


ACTIVE_MODEL = {  # the active manager's model portfolio: two rebalance dates
    "2026-01-02": {"NVDA": 0.14, "MSFT": 0.12, "AMZN": 0.10, "AVGO": 0.08, "LLY": 0.08,
                   "JPM": 0.07, "V": 0.07, "COST": 0.06, "ISRG": 0.06, "NFLX": 0.06,
                   "GS": 0.05, "SPGI": 0.05, "TMO": 0.03, "CAT": 0.03},
    "2026-07-01": {"NVDA": 0.15, "MSFT": 0.12, "AMZN": 0.09, "AVGO": 0.09, "LLY": 0.07,
                   "JPM": 0.08, "V": 0.06, "COST": 0.06, "ISRG": 0.06, "NFLX": 0.05,
                   "GS": 0.06, "SPGI": 0.05, "CAT": 0.06},
}


def core_active(m: Market) -> Persona:
    """(h) Active + index core: an active model sleeve and a direct-indexed completion."""
    rng = np.random.default_rng(20260731_08)
    for w in ACTIVE_MODEL.values():
        for t in w:
            m.check(t)
        if abs(sum(w.values()) - 1.0) > 1e-9:
            raise SystemExit("the active model's weights must sum to 1")
    lots = _shelf_account(m, rng, "taxable", _shelf_names(m, 10, 30), 1_600_000.0, "ADBE",
                          "COST")
    sort_and_number(lots, "CA")
    p = Persona("core-active", "Active + index core equity", lots, {"taxable": 30000.0})
    p.files["lots.csv"] = "canonical columns"
    p.files["active_model.csv"] = ("the active manager's model portfolio (`date,ticker,"
                                   "weight`), updated 2026-01-02 and 2026-07-01")
    p.notes.append(
        "`[core] equity_sleeve = \"active_index\"`: 40 % of the equity follows the "
        "manager's model, the rest is a completion sleeve "
        "(`pma_lab.portfolio.completion.CompletionProblem`) that offsets the model's factor "
        "exposures (sectors, styles) while keeping its stock picks.")
    return p


def muni_ca(m: Market) -> Persona:
    """(i) A high-tax-state client (California) with a municipal ladder."""
    rng = np.random.default_rng(20260731_09)
    lots = _shelf_account(m, rng, "taxable", _shelf_names(m, 18, 22), 900_000.0, "NFLX",
                          "LLY")
    sort_and_number(lots, "MC")
    p = Persona("muni-ca", "Muni ladder for a high-tax-state client", lots,
                {"taxable": 50000.0})
    p.files["lots.csv"] = "canonical columns (the equity account)"
    p.notes.append(
        "California resident at the top brackets (state 13.3 %, NIIT): `[fixed_income]` "
        "asks for a $1.5M 1-10 year in-state muni ladder. Muni yields are modelled as 80 % "
        "of the Treasury par curve (no open muni curve exists); "
        "`pma-lab ladder --kind muni --years 1-10 --amount 1500000 --profile ...` shows "
        "the tax-equivalent yields against Treasuries (state-exempt).")
    return p


# ------------------------------------------------------------------------------ profiles
def profile_header(cid: str, name: str, desc: str) -> str:
    return (
        f'schema_version = 1\n\n[client]\nid = "{cid}"\nname = "{name}"\n'
        f'as_of = {AS_OF.isoformat()}\ndescription = "{desc}"\n'
    )


PROFILES = {
    "tech-exec": lambda p: (
        profile_header(
            "tech-exec",
            "Dana Park",
            "Semiconductor executive; about 40 % of the account is employer stock (NVDA) from "
            "RSU vests in 2015-2019. Wants to diversify over several years within a long-term "
            "gains budget and may not buy competitors' shares.",
        )
        + """
[tax]
filing_status = "mfj"
tax_year = 2026
taxable_income = 1150000.0
magi = 1210000.0
state_rate = 0.093
niit = "auto"
agi = 1210000.0
carryforward_st = 0.0
carryforward_lt = 0.0

[[accounts]]
id = "taxable"
type = "taxable"
relief = "min_tax"
cash = 25000.0

[lots]
files = ["lots.csv"]
default_account = "taxable"

[restrictions]
categories = []
no_buy = ["AMD", "AVGO", "INTC", "MU", "QCOM"]   # the employer's competitors

[budgets]
short_term = 0.0
long_term = 150000.0

[target]
model = "sp500"

[transition]
mode = "budget"
annual_budget = 150000.0

[concentrated]
ticker = "NVDA"
strategy = "sell_down"
"""
    ),
    "retiree": lambda p: (
        profile_header(
            "retiree",
            "Walter and June Hoffman",
            "Retired couple with a legacy blue-chip portfolio bought mostly in 2003-2013. Large "
            "embedded gains; excludes fossil fuels, tobacco and controversial weapons; no "
            "short-term gains.",
        )
        + f"""
[tax]
filing_status = "mfj"
tax_year = 2026
# all-in marginal rates: federal 24 % / 15 % + NIIT 3.8 % + state 4.95 %
st_rate = 0.3275
lt_rate = 0.2375
agi = 310000.0
carryforward_st = 0.0
carryforward_lt = 18500.0

[[accounts]]
id = "{RETIREE_ACCOUNT}"           # the masked account number in the custodian file
type = "taxable"
relief = "hifo"
cash = 40000.0

[lots]
files = ["positions_2026-07-31.xlsx"]
default_account = "{RETIREE_ACCOUNT}"
sheet = "Positions"

[restrictions]
categories = ["fossil_fuels", "tobacco", "controversial_weapons"]

[restrictions.held]   # what happens to screened names already held
tobacco = "sell"                  # MO, PM: sold now, whatever the tax
controversial_weapons = "sell"    # GD, LMT, NOC: sold now, whatever the tax
fossil_fuels = "sell_within:3"    # COP, CVX, SLB, XOM: sold within 3 years (a glide)

[budgets]
total = 60000.0
short_term = 0.0
long_term = 60000.0

[target]
model = "sp500"

[transition]
mode = "timeline"
years = 5
"""
    ),
    "young-pro": lambda p: (
        profile_header(
            "young-pro",
            "Jordan Reyes",
            "Software engineer, single. Funds a direct-indexing account mostly with cash plus an "
            "S&P 500 ETF bought monthly since 2021; small 30-name target.",
        )
        + """
[tax]
filing_status = "single"
taxable_income = 215000.0
state_rate = 0.0685
niit = "auto"

[[accounts]]
id = "taxable"
type = "taxable"
relief = "hifo"
cash = 380000.0

[lots]
files = ["brokerage_export.csv"]
default_account = "taxable"
date_order = "MDY"

[restrictions]
categories = ["civilian_firearms", "gambling"]

[restrictions.held]   # what happens to screened names already held (none is held today)
civilian_firearms = "sell"
gambling = "sell"

[budgets]
total = 10000.0

[target]
model = "sp500"
names = 30

[transition]
mode = "immediate"
"""
    ),
    "philanthropist": lambda p: (
        profile_header(
            "philanthropist",
            "Eleanor Whitfield",
            "Long-time investor with very-low-basis stock bought in 2009-2012 who gives "
            "appreciated lots to charity every year; two lots inherited from her father.",
        )
        + """
[tax]
filing_status = "mfj"
taxable_income = 700000.0
magi = 760000.0
agi = 780000.0
state_rate = 0.0495
niit = "auto"

[[accounts]]
id = "taxable"
type = "taxable"
relief = "hifo"
cash = 20000.0

[lots]
files = ["lots.csv"]
default_account = "taxable"

[restrictions]
categories = ["tobacco", "gambling"]

[restrictions.held]   # what happens to screened names already held (none is held today)
tobacco = "sell"      # sold now, whatever the tax
gambling = "no_buy"   # kept, never added

[budgets]
total = 25000.0

[target]
model = "sp500"

[transition]
mode = "budget"
annual_budget = 25000.0

[charity]
annual_gift = 150000.0
"""
    ),
    "household": lambda p: (
        profile_header(
            "household",
            "Sam and Priya Okafor",
            "Two-earner household with a taxable account and an IRA that trade overlapping "
            "names; recent IRA purchases lock loss harvesting in the taxable account.",
        )
        + """
[tax]
filing_status = "mfj"
taxable_income = 430000.0
state_rate = 0.0575
niit = "auto"

[[accounts]]
id = "taxable"
type = "taxable"
relief = "min_tax"
cash = 15000.0

[[accounts]]
id = "ira"
type = "ira"
relief = "fifo"
cash = 5000.0

[lots]
files = ["household_lots.csv"]
default_account = "taxable"
recent_trades = "recent_trades.csv"

[restrictions]
hold_no_add = ["AAPL"]   # one spouse's employer: keep, do not add

[budgets]
total = 20000.0

[target]
model = "sp500"
"""
    ),
    "roth-household": lambda p: (
        profile_header(
            "roth-household",
            "Lena and Marcus Weber",
            "Household with a taxable account, a traditional IRA and a Roth IRA holding "
            "overlapping names: one plan across the three accounts.",
        )
        + """
[tax]
filing_status = "mfj"
taxable_income = 520000.0
state_rate = 0.0495
niit = "auto"

[[accounts]]
id = "taxable"
type = "taxable"
relief = "min_tax"
cash = 10000.0

[[accounts]]
id = "ira"
type = "ira"
ira_kind = "traditional"
cash = 4000.0

[[accounts]]
id = "roth"
type = "ira"
ira_kind = "roth"
cash = 2500.0
no_buy = ["TSLA"]   # the Roth holds no single-name bets the couple dislikes

[lots]
files = ["lots.csv"]
default_account = "taxable"

[budgets]
total = 25000.0

[target]
model = "sp500"
"""
    ),
    "balanced-6040": lambda p: (
        profile_header(
            "balanced-6040",
            "Grace Okoye",
            "Retired teacher with a 60/40 core allocation: a direct-indexed equity sleeve "
            "and a 1-10 year Treasury ladder, rebalanced within a 5-point band.",
        )
        + """
[tax]
filing_status = "single"
taxable_income = 180000.0
state_rate = 0.05
niit = "auto"

[[accounts]]
id = "taxable"
type = "taxable"
relief = "min_tax"
cash = 20000.0

[lots]
files = ["lots.csv"]

[budgets]
total = 15000.0

[target]
model = "sp500"

[fixed_income]
kind = "treasury"
years = 10
amount = 850000.0

[core]
allocation = "60/40"
band = 0.05
"""
    ),
    "core-active": lambda p: (
        profile_header(
            "core-active",
            "Ravi Shah",
            "Core equity combining an active manager's model (40 %) with a direct-indexed "
            "completion sleeve that offsets the model's unintended exposures.",
        )
        + """
[tax]
filing_status = "mfj"
taxable_income = 760000.0
state_rate = 0.0685
niit = "auto"

[[accounts]]
id = "taxable"
type = "taxable"
relief = "min_tax"
cash = 30000.0

[lots]
files = ["lots.csv"]

[budgets]
long_term = 50000.0

[target]
model = "sp500"

[core]
equity_sleeve = "active_index"
active_model = "active_model.csv"
active_share = 0.4
"""
    ),
    "muni-ca": lambda p: (
        profile_header(
            "muni-ca",
            "Elena Marquez",
            "California physician at the top brackets; wants a 1-10 year in-state muni "
            "ladder next to a direct-indexed equity account.",
        )
        + """
[tax]
filing_status = "single"
taxable_income = 1100000.0
state_rate = 0.133
niit = "auto"

[[accounts]]
id = "taxable"
type = "taxable"
relief = "min_tax"
cash = 50000.0

[lots]
files = ["lots.csv"]

[target]
model = "sp500"

[fixed_income]
kind = "muni"
years = 10
amount = 1500000.0
muni_ratio = 0.8
in_state = true
"""
    ),
}


def write_persona(m: Market, p: Persona, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    text = PROFILES[p.client_id](p)
    check_profile(text, p.client_id)
    write_text(folder / "profile.toml", text)
    if p.client_id == "tech-exec":
        write_csv(folder / "lots.csv", CANONICAL_HEADER, canonical_rows(p.lots))
    elif p.client_id == "retiree":
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Positions"
        ws.append(
            [
                "Account Number",
                "Symbol",
                "Description",
                "Quantity",
                "Open Date",
                "Cost Basis",
                "Market Value",
            ]
        )
        for lot in p.lots:
            mv = money(lot.shares * Decimal(repr(m.last(lot.ticker))))
            ws.append(
                [
                    lot.account,
                    lot.raw_ticker,
                    m.name(lot.ticker),
                    int(lot.shares),
                    lot.acquired,
                    float(lot.cost_total),
                    float(mv),
                ]
            )
        for row in ws.iter_rows(min_row=2):
            row[4].number_format = "mm/dd/yyyy"
            row[5].number_format = "#,##0.00"
            row[6].number_format = "#,##0.00"
        for col, width in zip("ABCDEFG", (15, 8, 34, 10, 12, 14, 14), strict=True):
            ws.column_dimensions[col].width = width
        save_xlsx(wb, folder / "positions_2026-07-31.xlsx")
    elif p.client_id == "young-pro":
        write_csv(
            folder / "brokerage_export.csv",
            ["Symbol", "Quantity", "Acquisition Date", "Cost Basis Per Share"],
            [
                [
                    lot.raw_ticker,
                    fmt_shares(lot.shares),
                    f"{lot.acquired:%m/%d/%Y}",
                    fmt_money(lot.cps),
                ]
                for lot in p.lots
            ],
        )
    elif p.client_id == "philanthropist":
        write_csv(
            folder / "lots.csv",
            ["ticker", "acquired", "shares", "cost_total", "lot_id", "inherited"],
            [
                [
                    lot.raw_ticker,
                    lot.acquired.isoformat(),
                    fmt_shares(lot.shares),
                    fmt_money(lot.cost_total),
                    lot.lot_id,
                    "yes" if lot.inherited else "no",
                ]
                for lot in p.lots
            ],
        )
    elif p.client_id == "household":
        write_csv(
            folder / "household_lots.csv",
            ["account", "lot_id", "symbol", "date_acquired", "quantity", "unit_cost"],
            [
                [
                    lot.account,
                    lot.lot_id,
                    lot.raw_ticker,
                    lot.acquired.isoformat(),
                    fmt_shares(lot.shares),
                    fmt_money(lot.cps),
                ]
                for lot in p.lots
            ],
        )
        cols = [
            "date",
            "account",
            "account_type",
            "ticker",
            "side",
            "shares",
            "price",
            "lot_id",
            "method",
        ]
        write_csv(folder / "recent_trades.csv", cols, [[t[c] for c in cols] for t in p.blotter])
    else:  # the shelf personas: canonical lots, and the active model where there is one
        write_csv(folder / "lots.csv", CANONICAL_HEADER, canonical_rows(p.lots))
        if p.client_id == "core-active":
            write_csv(folder / "active_model.csv", ["date", "ticker", "weight"],
                      [[d, t, f"{w:.2f}"] for d, ws in ACTIVE_MODEL.items()
                       for t, w in ws.items()])


def check_persona(m: Market, p: Persona) -> dict[str, float]:
    s = lot_stats(m, p.lots)
    for lot in p.lots:
        m.check(lot.ticker)
        if pd.Timestamp(lot.acquired) not in m.series(lot.ticker).index:
            raise SystemExit(f"{p.client_id}: {lot.ticker} {lot.acquired} is not a trading day")
    need = {
        "short": "a short-term lot",
        "recent": "a lot bought within 30 days",
        "loss": "a lot at a loss",
    }
    for k, what in need.items():
        if s[k] < 1:
            raise SystemExit(f"{p.client_id}: no {what}")
    return s


def check_targets(m: Market, personas: dict[str, Persona], stats: dict[str, dict]) -> None:
    def near(x: float, target: float, tol: float = 0.1) -> bool:
        return abs(x / target - 1) <= tol

    te = personas["tech-exec"]
    nv = sum(float(lot.shares) * m.last("NVDA") for lot in te.lots if lot.ticker == "NVDA")
    checks = [
        ("tech-exec account ~$3M", near(stats["tech-exec"]["mv"] + 25000, 3.0e6)),
        ("tech-exec NVDA ~40 %", 0.36 <= nv / stats["tech-exec"]["mv"] <= 0.44),
        ("tech-exec 16 names", stats["tech-exec"]["names"] == 16),
        ("retiree ~$2.5M", near(stats["retiree"]["mv"] + 40000, 2.5e6)),
        ("retiree 60 names", stats["retiree"]["names"] == 60),
        ("young-pro ~$500k", near(stats["young-pro"]["mv"] + 380000, 5.0e5)),
        ("philanthropist ~$1.5M", near(stats["philanthropist"]["mv"] + 20000, 1.5e6)),
    ]
    hh = personas["household"]
    tax_lots = [lot for lot in hh.lots if lot.account == "taxable"]
    ira_lots = [lot for lot in hh.lots if lot.account == "ira"]
    ts, is_ = lot_stats(m, tax_lots), lot_stats(m, ira_lots)
    checks += [
        ("household taxable ~$1.2M", near(ts["mv"] + 15000, 1.2e6)),
        ("household IRA ~$500k", near(is_["mv"] + 5000, 5.0e5)),
        ("household 40 taxable names", ts["names"] == 40),
        ("household 15 IRA names", is_["names"] == 15),
        (
            "household overlap >= 5",
            len({lot.ticker for lot in tax_lots} & {lot.ticker for lot in ira_lots}) >= 5,
        ),
    ]
    for t in HH_WASH:
        loss = [lot for lot in tax_lots if lot.ticker == t and float(lot.cps) > m.last(t)]
        recent = [lot for lot in ira_lots if lot.ticker == t and lot.acquired > RECENT_AFTER]
        checks.append((f"household wash lock {t}", bool(loss) and bool(recent)))
    b = hh.blotter
    checks.append(
        (
            "household blotter loss sale",
            float(b[5]["price"]) < float(b[0]["price"])
            and (AS_OF - dt.date.fromisoformat(b[5]["date"])).days in range(7, 14),
        )
    )
    checks.append(
        (
            "household blotter within 45 days",
            all((AS_OF - dt.date.fromisoformat(t["date"])).days <= 45 for t in b),
        )
    )
    yp = personas["young-pro"]
    checks.append(("young-pro day > 12", any(lot.acquired.day > 12 for lot in yp.lots)))
    checks.append(
        ("BRK-B spelled", any(lot.spelled == "BRK-B" for q in personas.values() for lot in q.lots))
    )
    checks.append(
        (
            "retiree ESG hits",
            {"XOM", "CVX", "MO", "PM", "LMT", "GD", "NOC"}
            <= {lot.ticker for lot in personas["retiree"].lots},
        )
    )
    ph = personas["philanthropist"]
    checks.append(("philanthropist inherited", sum(lot.inherited for lot in ph.lots) == 2))
    failed = [name for name, ok in checks if not ok]
    if failed:
        raise SystemExit("persona checks failed: " + "; ".join(failed))


# ------------------------------------------------------------------------------ README
def usd(x: float) -> str:
    return f"{x:,.0f}"


CLIENT_BLURBS = {
    "roth-household": (
        "A two-earner household (MFJ, 4.95 % state tax) with a taxable account, a "
        "traditional IRA and a Roth IRA holding overlapping large caps; each account has a "
        "short-term loss lot and a July 2026 purchase, so wash sales cross the accounts."
    ),
    "balanced-6040": (
        "A single retiree with a 60/40 core allocation: the equity sleeve is direct-indexed "
        "and the bond sleeve is a 1-10 year Treasury ladder of new money."
    ),
    "core-active": (
        "An executive (MFJ) whose core equity combines an active manager's model portfolio "
        "(40 %) with a direct-indexed completion sleeve."
    ),
    "muni-ca": (
        "A California physician (single, top federal bracket, 13.3 % state, NIIT) who "
        "wants an in-state municipal ladder next to the equity account."
    ),
    "tech-exec": (
        "A semiconductor executive (MFJ, high income, 9.3 % state tax, NIIT derived "
        "automatically). About 40 % of the account is NVDA received as RSU vests every March "
        "and September 2015-2019 (ten lots); the rest is 15 large caps bought 2016-2026. "
        "`[concentrated]` asks to sell NVDA down within a $150k long-term budget and no "
        "short-term gains; `no_buy` lists the employer's competitors (AMD, AVGO, INTC, MU, "
        "QCOM), none of which is held. Some lots were bought at the highest close of "
        "2025-26 (META, LLY, NFLX, ORCL, TSLA) or of 2021 (ADBE), and AAPL, MSFT and TSLA "
        "were bought in July 2026, inside the wash-sale window."
    ),
    "retiree": (
        "A retired couple (MFJ) with a legacy portfolio of 60 blue chips, most lots bought "
        "2003-2013 with very large embedded gains. The profile gives all-in rates directly "
        "(`st_rate`, `lt_rate`; no `state_rate`/`niit`/`magi`, which would contradict them), "
        "a long-term loss carryforward, a zero short-term budget and ESG exclusions "
        "(`fossil_fuels`, `tobacco`, `controversial_weapons`) that hit holdings: XOM, CVX, "
        "COP, SLB, MO, PM, LMT, GD and NOC. A few recent lots (JNJ in November 2025, PG at "
        "its 2025-26 high, KO in July 2026) are short-term; PFE, DIS and CMCSA have lots "
        "bought at their 2021 highs. The account id is the custodian's masked account "
        "number."
    ),
    "young-pro": (
        "A single software engineer: $380k of new cash plus SPY bought on the 15th of every "
        "month (or the trading day before) since January 2021, $1,150 each in fractional "
        "shares, a $6,000 bonus purchase on 2026-07-27, and two PYPL lots from 2021-22. "
        "Income-based tax (single, 6.85 % state), 30-name target, immediate transition."
    ),
    "philanthropist": (
        "A charitably inclined client (MFJ, AGI given for the charitable-deduction limits) "
        "with about 30 names bought 2009-2012 at a small fraction of today's prices, a few "
        "short-term lots (NFLX at its 2025-26 high, AMGN in September 2025, ORCL in July "
        "2026), and JNJ and KO inherited from her father's estate with a stepped-up basis. "
        "`[charity] annual_gift = 150000.0` asks the engine to pick appreciated long-term "
        "lots to donate each year."
    ),
    "household": (
        "A household (MFJ) with a taxable account (40 names) and an IRA (15 names); "
        "seven names are held in both. Lots of both accounts are in one file with an "
        "`account` column, and `recent_trades.csv` feeds the realised history and open "
        "wash-sale windows."
    ),
}


def notable_table(m: Market, p: Persona) -> list[str]:
    """Markdown table of the lots that are short-term, recent, at a loss or inherited."""
    has_ids = p.client_id not in ("retiree", "young-pro")
    two = len({lot.account for lot in p.lots}) > 1
    head = (
        ["lot id" if has_ids else "file row"]
        + (["account"] if two else [])
        + [
            "ticker",
            "acquired",
            "shares",
            "basis/sh",
            "close 2026-07-31",
            "gain",
            "term",
            "why listed",
        ]
    )
    out = [
        "| " + " | ".join(head) + " |",
        "|"
        + "|".join(
            "---:" if h in ("shares", "basis/sh", "close 2026-07-31", "gain") else "---"
            for h in head
        )
        + "|",
    ]
    for i, lot in enumerate(p.lots):
        px = m.last(lot.ticker)
        gain = float(money(lot.shares * Decimal(repr(px)))) - float(lot.cost_total)
        term = term_of(lot.acquired, AS_OF, lot.inherited)
        why = []
        if lot.inherited:
            why.append("inherited")
        if term is Term.SHORT:
            why.append("short-term")
        if lot.acquired > RECENT_AFTER:
            why.append("within 30 days")
        if gain < 0:
            why.append("loss")
        if not why:
            continue
        cells = (
            [lot.lot_id if has_ids else str(i + 2)]
            + ([lot.account] if two else [])
            + [
                lot.raw_ticker,
                lot.acquired.isoformat(),
                fmt_shares(lot.shares),
                f"{lot.cps:,.2f}",
                f"{px:,.2f}",
                usd(gain),
                term.value,
                ", ".join(why),
            ]
        )
        out.append("| " + " | ".join(cells) + " |")
    return out


def clients_readme(m: Market, personas: dict[str, Persona], stats: dict[str, dict]) -> str:
    out = [
        "# Sample clients",
        "",
        "Nine personas generated by `scripts/build_sample_clients.py` from the packaged "
        "market data (`data/samples/market/`). Re-running the script reproduces every file "
        "byte for byte. All of them are analysed as of **2026-07-31**.",
        "",
        "Each folder holds a `profile.toml` (the profile format is documented in the "
        "project README and enforced by `pma_lab.io.profile.load_profile`, which rejects "
        "unknown keys) and the lots file(s) it names. Load one with "
        '`pma_lab.io.client.load_client("data/samples/clients/<id>/profile.toml")`.',
        "",
        "## How the lots were made",
        "",
        "* Tickers are real and in the security master (`universe.parquet`) or the ETF "
        "panel, and every one has a price on every acquisition date and on 2026-07-31. "
        "Current S&P 500 names whose packaged prices stop before 2026-07-31 are not used: "
        + m.stale_text()
        + ".",
        "* Acquisition dates are trading days in the data.",
        "* **Cost basis per share = the dividend-adjusted close on the acquisition date, "
        "rounded to the cent.** Adjusted closes are scaled down by every dividend paid "
        "since, so these bases understate what was actually paid by those dividends (and "
        "the gains are overstated by the same amount); split adjustment is exact. "
        "Market values use the adjusted close on 2026-07-31; the prices are adjusted as "
        "of the end of the data (early August 2026), so that is the actual close unless a "
        "name went ex-dividend in the last days of the data. Blotter prices are "
        "adjusted closes of the trade dates too.",
        "* Short-term means acquired after 2025-07-31 (held one year or less on "
        "2026-07-31); 'within 30 days' means acquired after 2026-07-01 (a sale at a "
        "loss on the as-of date would be a wash sale if these are the replacement "
        "shares).",
        "",
        "## Summary on 2026-07-31",
        "",
        "| client | lots | names | market value | cash | cost | ST gain | LT gain | "
        "lots at a loss | ST lots | lots ≤ 30 days |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cid, p in personas.items():
        s = stats[cid]
        cash = sum(p.cash.values())
        out.append(
            f"| `{cid}` | {s['lots']} | {s['names']} | {usd(s['mv'])} | {usd(cash)} | "
            f"{usd(s['cost'])} | {usd(s['st'])} | {usd(s['lt'])} | {s['loss']} | "
            f"{s['short']} | {s['recent']} |"
        )
    out += [
        "",
        "Gains are net (gains minus losses) by holding period, in USD, before any "
        "wash-sale adjustment.",
        "",
    ]
    for cid, p in personas.items():
        s = stats[cid]
        out += [f"## `{cid}` — {p.title}", "", CLIENT_BLURBS[cid], ""]
        if cid == "household":
            hh_t = lot_stats(m, [lot for lot in p.lots if lot.account == "taxable"])
            hh_i = lot_stats(m, [lot for lot in p.lots if lot.account == "ira"])
            out += [
                f"Taxable: {hh_t['lots']} lots, {hh_t['names']} names, market value "
                f"{usd(hh_t['mv'])} plus {usd(p.cash['taxable'])} cash. IRA: "
                f"{hh_i['lots']} lots, {hh_i['names']} names, market value "
                f"{usd(hh_i['mv'])} plus {usd(p.cash['ira'])} cash.",
                "",
            ]
        out.append("Files:")
        out.append("")
        out.append("* `profile.toml`: " + PROFILE_SHOWS[cid])
        for f, what in p.files.items():
            out.append(f"* `{f}`: {what}")
        out.append("")
        for n in p.notes:
            out += [n, ""]
        if cid == "tech-exec":
            nv = [lot for lot in p.lots if lot.ticker == "NVDA"]
            nv_mv = sum(float(lot.shares) * m.last("NVDA") for lot in nv)
            out += [
                f"NVDA: {len(nv)} lots, {fmt_shares(sum(lot.shares for lot in nv))} "
                f"shares, basis {min(lot.cps for lot in nv)}-{max(lot.cps for lot in nv)} "
                f"a share against a close of {m.last('NVDA'):,.2f}; market value "
                f"{usd(nv_mv)} = {nv_mv / s['mv']:.1%} of the lots' market value.",
                "",
            ]
        out += (
            ["Lots that are short-term, bought within 30 days, at a loss or inherited:", ""]
            + notable_table(m, p)
            + [""]
        )
    out += [
        "## What each file exercises",
        "",
        "| feature | where |",
        "|---|---|",
        "| canonical lot columns, ISO dates | `tech-exec/lots.csv` |",
        "| custodian .xlsx (named sheet, Excel dates, total cost, ignored columns) | "
        "`retiree/positions_2026-07-31.xlsx` |",
        "| ticker spelling normalised (`BRK-B` → `BRK.B`, warning) | `retiree` |",
        "| header aliases, US slash dates with `date_order`, fractional shares, "
        "generated lot ids | `young-pro/brokerage_export.csv` |",
        "| total-cost column, inherited lots | `philanthropist/lots.csv` |",
        "| account column, two account types, wash sales across accounts, blotter | `household` |",
        "| income-based tax | tech-exec, young-pro, philanthropist, household |",
        "| all-in rates, loss carryforward | retiree |",
        "| category screens / no_buy / hold_no_add | retiree, young-pro, philanthropist "
        "/ tech-exec / household |",
        "| `[restrictions.held]`: sell now / sell_within:N / no_buy for screened names "
        "held | retiree (sell, sell_within:3) / philanthropist (sell, no_buy) / young-pro |",
        "| `[concentrated]`, `[charity]`, `[transition]` modes | tech-exec / "
        "philanthropist / budget, timeline, immediate |",
        "",
    ]
    return "\n".join(out)


PROFILE_SHOWS = {
    "roth-household": "three accounts (taxable, `ira_kind = \"traditional\"`, "
    "`ira_kind = \"roth\"`), a per-account `no_buy`, a total gain budget",
    "balanced-6040": "`[core] allocation = \"60/40\"` with a band, `[fixed_income]` "
    "Treasury ladder 1-10 years",
    "core-active": "`[core] equity_sleeve = \"active_index\"` with `active_model` and "
    "`active_share`, a long-term budget",
    "muni-ca": "high-tax-state income-based tax, `[fixed_income]` muni ladder with "
    "`muni_ratio` and `in_state`",
    "tech-exec": 'income-based tax with a state rate and `niit = "auto"`, `min_tax` relief, '
    "a long-term-only budget, `no_buy` competitors, `[concentrated]` sell-down, "
    "budget transition",
    "retiree": "all-in `st_rate`/`lt_rate`, a long-term loss carryforward, an account id equal "
    'to the custodian\'s masked account number, `sheet = "Positions"`, three '
    "category screens, zero short-term budget, 5-year timeline transition",
    "young-pro": 'single filer, income-based tax, `date_order = "MDY"`, large cash balance, '
    "`names = 30`, immediate transition",
    "philanthropist": "income-based tax with `agi`, `[charity] annual_gift = 150000.0`, budget "
    "transition",
    "household": "two `[[accounts]]` (taxable with `min_tax` relief, IRA), one lots file with "
    "an account column, `recent_trades`, `hold_no_add`",
}


# ------------------------------------------------------------------------------ bad corpus
@dataclass
class Expect:
    file: str
    kind: str
    code: str
    row: int | None
    column: str
    why: str


BASE_PROFILE = """schema_version = 1

[client]
id = "bad-base"
name = "Malformed-input corpus"
as_of = 2026-07-31
description = "Valid profile the malformed lots files and blotters are read against."

[tax]
filing_status = "single"
taxable_income = 250000.0
state_rate = 0.05
niit = "auto"

[[accounts]]
id = "taxable"
type = "taxable"

[[accounts]]
id = "ira"
type = "ira"

[lots]
files = ["good_lots.csv"]
default_account = "taxable"

[restrictions]
categories = ["tobacco"]

[budgets]
total = 10000.0

[target]
model = "sp500"
"""

GOOD_SPECS = [  # (lot_id, account, ticker, acquisition date, shares)
    ("G-1", "taxable", "AAPL", "2019-03-04", 50),
    ("G-2", "taxable", "MSFT", "2020-06-08", 40),
    ("G-3", "ira", "JNJ", "2018-09-10", 60),
    ("G-4", "taxable", "KO", "2024-11-04", 100),
    ("G-5", "ira", "XOM", "2022-05-02", 80),
]


def build_bad(m: Market, folder: Path) -> list[Expect]:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    good: list[Lot] = []
    for lid, acct, t, d, sh in GOOD_SPECS:
        day = dt.date.fromisoformat(d)
        if m.on_or_before(t, day) != day:
            raise SystemExit(f"good lot {t} {d} is not a trading day")
        lot = make_lot(m, acct, t, day, sh)
        lot.lot_id = lid
        good.append(lot)
    base_rows = canonical_rows(good)
    H = CANONICAL_HEADER
    exp: list[Expect] = []
    ci = {c: i for i, c in enumerate(H)}

    def variant(
        name: str,
        edits: dict[tuple[int, str], str],
        code: str,
        why: str,
        header: Sequence[str] = H,
        rows: list[list[str]] | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        rs = [list(r) for r in (rows or base_rows)]
        for (r, c), v in edits.items():
            rs[r - 2][ci[c]] = v
        write_csv(folder / name, header, rs)
        if row is None and edits:
            row, column = next(iter(edits))
        exp.append(Expect(name, "lots", code, row, column or "", why))

    write_text(folder / "base_profile.toml", BASE_PROFILE)
    write_csv(folder / "good_lots.csv", H, base_rows)

    # --- lots files -------------------------------------------------------------------
    write_csv(
        folder / "bad_missing_column.csv",
        [h for h in H if h != "shares"],
        [[v for j, v in enumerate(r) if H[j] != "shares"] for r in base_rows],
    )
    exp.append(
        Expect(
            "bad_missing_column.csv",
            "lots",
            "missing_column",
            1,
            "shares",
            "no shares column (reported on the header row under the canonical field name)",
        )
    )
    variant(
        "bad_negative_shares.csv",
        {(3, "shares"): "-40"},
        "non_positive_shares",
        "shares are negative (a short position)",
    )
    variant(
        "bad_zero_shares.csv",
        {(5, "shares"): "0"},
        "non_positive_shares",
        "shares are zero (a closed lot)",
    )
    variant(
        "bad_future_date.csv",
        {(4, "acquired"): "2026-08-14"},
        "future_date",
        "acquired after the as-of date 2026-07-31",
    )
    variant(
        "bad_unparsable_date.csv",
        {(3, "acquired"): "2024-13-45"},
        "unparsable_date",
        "month 13, day 45: not a calendar date",
    )
    variant(
        "bad_date_text.csv",
        {(6, "acquired"): "last spring"},
        "unparsable_date",
        "a date written in words",
    )
    # every date 03/04/2019-like: both fields <= 12 and different, no date_order in the
    # base profile -> each row is ambiguous
    amb_rows = [list(r) for r in base_rows]
    for r in amb_rows:
        d = dt.date.fromisoformat(r[ci["acquired"]])
        if not (d.month <= 12 and d.day <= 12 and d.month != d.day):
            raise SystemExit("ambiguous-date sample needs day <= 12 != month")
        r[ci["acquired"]] = f"{d:%m/%d/%Y}"
    write_csv(folder / "bad_ambiguous_date.csv", H, amb_rows)
    for i in range(len(amb_rows)):
        exp.append(
            Expect(
                "bad_ambiguous_date.csv",
                "lots",
                "ambiguous_date",
                i + 2,
                "acquired",
                "slash dates such as 03/04/2019 that read both as "
                "month/day and day/month, and the profile sets no date_order "
                "(one issue per row)",
            )
        )
    d4 = dt.date.fromisoformat(base_rows[2][ci["acquired"]])
    variant(
        "bad_two_digit_year.csv",
        {(4, "acquired"): f"{d4.month}/{d4.day}/{d4:%y}"},
        "ambiguous_date",
        "a two-digit year (century ambiguous); the other rows are ISO",
    )
    variant(
        "bad_unknown_ticker.csv",
        {(5, "ticker"): "ZZZZ"},
        "unknown_ticker",
        "well-formed ticker that is not in the security master",
    )
    variant(
        "bad_invalid_ticker.csv",
        {(2, "ticker"): "Apple Inc."},
        "invalid_ticker",
        "the security name instead of the ticker",
    )
    variant(
        "bad_duplicate_lot_id.csv",
        {(5, "lot_id"): "G-2"},
        "duplicate_lot_id",
        "lot id G-2 used on rows 3 and 5 (reported on the second)",
    )
    variant(
        "bad_non_numeric_basis.csv",
        {(4, "cost_per_share"): "12,3x"},
        "non_numeric",
        "cost per share '12,3x' is not a number",
    )
    variant(
        "bad_negative_basis.csv",
        {(6, "cost_per_share"): "-" + base_rows[4][5]},
        "negative_basis",
        "negative cost per share",
    )
    (folder / "bad_empty.csv").write_bytes(b"")
    exp.append(Expect("bad_empty.csv", "lots", "empty_file", None, "", "0 bytes"))
    write_csv(folder / "bad_header_only.csv", H, [])
    exp.append(
        Expect(
            "bad_header_only.csv",
            "lots",
            "header_only",
            1,
            "",
            "the header and no data rows (reported on the header row)",
        )
    )
    write_csv(folder / "bad_semicolon.csv", H, base_rows, delimiter=";")
    exp.append(
        Expect(
            "bad_semicolon.csv",
            "lots",
            "wrong_delimiter",
            1,
            "",
            "semicolon-separated (European Excel export); reported on the header row",
        )
    )
    # latin-1: a description column with an accented name on row 4
    el = make_lot(m, "taxable", "EL", m.on_or_before("EL", "2021-03-08"), 30)
    el.lot_id = "G-3"
    desc = {
        "AAPL": "Apple Inc.",
        "MSFT": "Microsoft Corp.",
        "KO": "Coca-Cola Co.",
        "XOM": "Exxon Mobil Corp.",
        "EL": "The Estée Lauder Companies Inc.",
    }
    lat_lots = good[:2] + [el] + good[3:]
    lat_rows = [
        r + [desc[lot.ticker]] for r, lot in zip(canonical_rows(lat_lots), lat_lots, strict=True)
    ]
    write_csv(folder / "bad_latin1.csv", H + ["description"], lat_rows, encoding="latin-1")
    exp.append(
        Expect(
            "bad_latin1.csv",
            "lots",
            "not_utf8",
            4,
            "",
            "Latin-1 encoded: the 'é' of Estée Lauder (line 4) is not UTF-8; the "
            "row is reported as the line of the first bad byte",
        )
    )
    # ragged: a thousands separator in an unquoted cost (AZO cost over $1,000 a share)
    bk = make_lot(m, "taxable", "AZO", m.on_or_before("AZO", "2023-06-12"), 4)
    bk.lot_id = "G-4"
    if bk.cps < 1000:
        raise SystemExit("ragged-row sample needs a cost over 1,000")
    rag_lines = [",".join(H)] + [",".join(r) for r in canonical_rows(good[:3])]
    rag_lines.append(",".join(canonical_rows([bk])[0][:5] + [f"{bk.cps:,.2f}"]))
    rag_lines.append(",".join(canonical_rows(good[4:])[0]))
    write_text(folder / "bad_ragged_row.csv", "\n".join(rag_lines) + "\n")
    exp.append(
        Expect(
            "bad_ragged_row.csv",
            "lots",
            "ragged_row",
            5,
            "",
            "an unquoted thousands separator (AZO at 2,4xx.xx) splits the cost into two fields",
        )
    )
    variant(
        "bad_unknown_account.csv",
        {(4, "account"): "joint"},
        "unknown_account",
        "account 'joint' is not declared in base_profile.toml",
    )
    mis_rows = [r + [fmt_money(lot.cost_total)] for r, lot in zip(base_rows, good, strict=True)]
    mis_rows[1][6] = fmt_money(good[1].cost_total / 10)
    write_csv(folder / "bad_basis_mismatch.csv", H + ["cost_total"], mis_rows)
    exp.append(
        Expect(
            "bad_basis_mismatch.csv",
            "lots",
            "basis_mismatch",
            3,
            "cost_total",
            "cost_per_share x shares is ten times cost_total on row 3",
        )
    )
    variant("bad_blank_cell.csv", {(5, "ticker"): ""}, "missing_value", "the ticker cell is blank")
    amb_col = [r + [r[ci["shares"]]] for r in base_rows]
    write_csv(folder / "bad_ambiguous_column.csv", H + ["quantity"], amb_col)
    exp.append(
        Expect(
            "bad_ambiguous_column.csv",
            "lots",
            "ambiguous_column",
            1,
            "quantity",
            "both 'shares' and 'quantity' (an alias of shares) are present",
        )
    )
    inh_rows = [r + ["no"] for r in base_rows]
    inh_rows[2][6] = "maybe"
    write_csv(folder / "bad_inherited_value.csv", H + ["inherited"], inh_rows)
    exp.append(
        Expect(
            "bad_inherited_value.csv",
            "lots",
            "invalid_value",
            4,
            "inherited",
            "inherited must be yes or no",
        )
    )
    (folder / "bad_lots.json").write_bytes(
        (
            "[\n"
            + ",\n".join(
                f'  {{"lot_id": "{r[0]}", "account": "{r[1]}", "ticker": "{r[2]}", '
                f'"acquired": "{r[3]}", "shares": {r[4]}, "cost_per_share": {r[5]}}}'
                for r in base_rows
            )
            + "\n]\n"
        ).encode()
    )
    exp.append(
        Expect(
            "bad_lots.json",
            "lots",
            "unsupported_format",
            None,
            "",
            "JSON is not a supported lots format (.csv, .txt, .xlsx)",
        )
    )
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([H] + base_rows)
    (folder / "bad_not_excel.xlsx").write_bytes(buf.getvalue().encode())
    exp.append(
        Expect(
            "bad_not_excel.xlsx",
            "lots",
            "unreadable_file",
            None,
            "",
            "CSV text saved under an .xlsx name",
        )
    )

    # --- Excel --------------------------------------------------------------------
    def lots_sheet(lots: Sequence[Lot]) -> openpyxl.Workbook:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Lots"
        ws.append(H)
        for lot in lots:
            ws.append(
                [
                    lot.lot_id,
                    lot.account,
                    lot.raw_ticker,
                    lot.acquired,
                    int(lot.shares),
                    float(lot.cps),
                ]
            )
        for row in ws.iter_rows(min_row=2):
            row[3].number_format = "yyyy-mm-dd"
        return wb

    wb = lots_sheet(good)
    c = wb["Lots"].cell(row=3, column=6)
    cents = int(good[1].cps * 100)
    c.value = f"={cents}/100"
    save_xlsx(wb, folder / "bad_formula.xlsx")
    exp.append(
        Expect(
            "bad_formula.xlsx",
            "lots",
            "excel_formula",
            3,
            "cost_per_share",
            f"cell F3 holds the formula ={cents}/100 instead of the value",
        )
    )
    aapl2 = make_lot(m, "taxable", "AAPL", m.on_or_before("AAPL", "2021-01-11"), 25)
    aapl2.lot_id = "G-6"
    mlots = good[:1] + [aapl2] + good[1:]
    wb = lots_sheet(mlots)
    ws = wb["Lots"]
    ws.merge_cells("C2:C3")  # the two AAPL lots share one merged ticker cell
    save_xlsx(wb, folder / "bad_merged.xlsx")
    exp.append(
        Expect(
            "bad_merged.xlsx",
            "lots",
            "excel_merged_cells",
            2,
            "",
            "the ticker cells of the two AAPL lots are merged (C2:C3); reported "
            "at the first row of the merged range",
        )
    )

    # --- profiles -------------------------------------------------------------------
    def prof(
        name: str, old: str, new: str, code: str, column: str, why: str, row: int | None = None
    ) -> None:
        if old not in BASE_PROFILE:
            raise SystemExit(f"{name}: {old!r} not in the base profile")
        text = BASE_PROFILE.replace(old, new, 1)
        write_text(folder / name, text)
        if code == "toml_syntax":
            try:
                tomllib.loads(text)
            except tomllib.TOMLDecodeError as e:
                mline = re.search(r"line (\d+)", str(e))
                row = int(mline.group(1)) if mline else None
            else:
                raise SystemExit(f"{name} parses")
        else:
            tomllib.loads(text)
        exp.append(Expect(name, "profile", code, row, column, why))

    prof(
        "bad_profile_category.toml",
        'categories = ["tobacco"]',
        'categories = ["tobacco", "crypto"]',
        "unknown_category",
        "restrictions.categories[1]",
        "'crypto' is not a restriction category",
    )
    prof(
        "bad_profile_rate.toml",
        'taxable_income = 250000.0\nstate_rate = 0.05\nniit = "auto"\n',
        "st_rate = 1.4\nlt_rate = 0.238\n",
        "rate_out_of_range",
        "tax.st_rate",
        "st_rate = 1.4 (140 %, a percentage written as a decimal by mistake)",
    )
    prof(
        "bad_profile_budget.toml",
        "total = 10000.0",
        "total = -10000.0",
        "negative_budget",
        "budgets.total",
        "a negative capital-gains budget",
    )
    prof(
        "bad_profile_unknown_key.toml",
        "state_rate = 0.05",
        "state_rte = 0.05",
        "unknown_key",
        "tax.state_rte",
        "typo of the optional key state_rate",
    )
    prof(
        "bad_profile_syntax.toml",
        'name = "Malformed-input corpus"',
        'name = "Malformed-input corpus',
        "toml_syntax",
        "",
        "unterminated string; the row is the line tomllib reports",
    )
    prof(
        "bad_profile_contradictory.toml",
        'niit = "auto"\n',
        'niit = "auto"\nst_rate = 0.408\nlt_rate = 0.238\n',
        "contradictory",
        "tax",
        "both all-in rates and taxable_income are given",
    )
    prof(
        "bad_profile_tax_year.toml",
        'filing_status = "single"\n',
        'filing_status = "single"\ntax_year = 2019\n',
        "unsupported_tax_year",
        "tax.tax_year",
        "no brackets are tabulated for 2019",
    )
    prof(
        "bad_profile_missing_id.toml",
        'id = "bad-base"\n',
        "",
        "missing_key",
        "client.id",
        "[client] has no id",
    )
    prof(
        "bad_profile_filing_status.toml",
        'filing_status = "single"',
        'filing_status = "married"',
        "invalid_value",
        "tax.filing_status",
        "filing status must be single, mfj, mfs or hoh",
    )
    prof(
        "bad_profile_wrong_type.toml",
        'model = "sp500"\n',
        'model = "sp500"\nnames = "eighty"\n',
        "wrong_type",
        "target.names",
        "names must be an integer",
    )
    prof(
        "bad_profile_negative_gift.toml",
        'model = "sp500"\n',
        'model = "sp500"\n\n[charity]\nannual_gift = -5000.0\n',
        "negative_amount",
        "charity.annual_gift",
        "a negative charitable gift",
    )
    prof(
        "bad_profile_duplicate_account.toml",
        'id = "ira"\ntype = "ira"\n',
        'id = "ira"\ntype = "ira"\n\n[[accounts]]\nid = "taxable"\ntype = "taxable"\n',
        "duplicate_account",
        "accounts[2].id",
        "account 'taxable' is declared twice",
    )
    prof(
        "bad_profile_date_order.toml",
        'default_account = "taxable"\n',
        'default_account = "taxable"\ndate_order = "YMD"\n',
        "invalid_value",
        "lots.date_order",
        "date_order must be MDY or DMY",
    )

    # --- blotters -------------------------------------------------------------------
    bcols = [
        "date",
        "account",
        "account_type",
        "ticker",
        "side",
        "shares",
        "price",
        "lot_id",
        "method",
    ]

    def tr(
        t: str, day: str, acct: str, side: str, sh: int, lot_id: str = "", method: str = ""
    ) -> list[str]:
        d = m.on_or_before(t, day)
        return [
            d.isoformat(),
            acct,
            "ira" if acct == "ira" else "taxable",
            t,
            side,
            str(sh),
            fmt_money(m.basis(t, d)),
            lot_id,
            method,
        ]

    good_b = [
        tr("AAPL", "2026-06-22", "taxable", "buy", 40, "BL-1"),
        tr("MSFT", "2026-06-24", "ira", "buy", 20),
        tr("KO", "2026-06-29", "taxable", "buy", 150),
        tr("AAPL", "2026-07-20", "taxable", "sell", 40, "BL-1", "specific"),
        tr("MSFT", "2026-07-22", "ira", "sell", 20),
    ]
    write_csv(folder / "good_blotter.csv", bcols, good_b)
    bi = {c: i for i, c in enumerate(bcols)}

    def bvar(name: str, r: int, col: str, value: str, code: str, why: str) -> None:
        rows = [list(x) for x in good_b]
        rows[r - 2][bi[col]] = value
        write_csv(folder / name, bcols, rows)
        exp.append(Expect(name, "blotter", code, r, col, why))

    bvar("bad_blotter_side.csv", 3, "side", "hold", "invalid_value", "side must be buy or sell")
    bvar(
        "bad_blotter_negative_price.csv",
        4,
        "price",
        "-" + good_b[2][bi["price"]],
        "negative_price",
        "a negative trade price",
    )
    bvar(
        "bad_blotter_account_type.csv",
        5,
        "account_type",
        "ira",
        "inconsistent_account_type",
        "account 'taxable' is taxable on row 2 and ira on row 5",
    )

    from build_bad_inputs import build_more  # scripts/ (this file's folder) is on sys.path

    exp += [Expect(*e) for e in build_more(folder, save_xlsx)]
    for e in exp:
        if e.code not in ISSUE_CODES:
            raise SystemExit(f"{e.file}: unknown issue code {e.code}")
    exp.sort(key=lambda e: (e.kind, e.file, e.row or 0))
    write_csv(
        folder / "expected_errors.csv",
        ["file", "kind", "code", "row", "column"],
        [[e.file, e.kind, e.code, "" if e.row is None else str(e.row), e.column] for e in exp],
    )
    write_text(folder / "README.md", bad_readme(exp))
    return exp


def bad_readme(exp: Sequence[Expect]) -> str:
    out = [
        "# Malformed-input corpus",
        "",
        "Generated by `scripts/build_sample_clients.py` (the files of issue 11 by "
        "`scripts/build_bad_inputs.py`, which it calls). Every `bad_*` file has exactly "
        "one deliberate defect; everything else in it is valid, so the expected error is "
        "unambiguous. `expected_errors.csv` lists them with columns "
        "`file,kind,code,row,column`:",
        "",
        "* `kind`: `lots` (read as a lots file of `base_profile.toml`: as of 2026-07-31, "
        "accounts `taxable` and `ira`, default account `taxable`, no `date_order`), "
        "`profile` (load the file as a profile; any lots it names are `good_lots.csv`) or "
        "`blotter` (read as a recent-trades blotter as of 2026-07-31). Paths in a profile "
        "are resolved from this folder; `linked_lots.csv` is a symbolic link out of it "
        "(for `bad_profile_path_symlink.toml`).",
        "* Every file also fails through the command line with exit status 2 and no "
        "traceback (`tests/test_bad_inputs.py`): lots files as `pma-lab lots validate FILE "
        "--profile base_profile.toml`, profiles as `pma-lab lots validate --profile FILE`, "
        "blotters as the `lots.recent_trades` of a copy of `base_profile.toml` next to them.",
        "* `code`: a key of `pma_lab.schema.ISSUE_CODES`.",
        "* `row`: the 1-based spreadsheet row of the bad cell (header = row 1); for "
        "header-level problems the header row (1); for `not_utf8` the line holding the "
        "first bad byte; for `toml_syntax` the line tomllib reports; blank for "
        "file-level and other profile issues. A file may have several lines when the one "
        "defect shows on several rows (`bad_ambiguous_date.csv`).",
        "* `column`: the header text of the bad column exactly as in the file, the "
        "canonical field name for a missing column, the dotted key path for profiles "
        "(list items indexed, e.g. `restrictions.categories[1]`, `accounts[2].id`), blank "
        "for file-level issues.",
        "* Only the deliberate defect is listed. A reader that keeps going after it may add "
        "follow-on issues of the cells involved (a formula or merged cell read as blank also gives "
        "`missing_value`); tests should check that the listed issue is reported.",
        "",
        "Valid references: `base_profile.toml` (loads cleanly), `good_lots.csv` (five real "
        "lots with canonical headers, loads cleanly with no warnings), `good_blotter.csv` "
        "(a self-contained valid blotter the `bad_blotter_*` files are variants of). The "
        "lots variants are copies of `good_lots.csv` with one cell (or the header, "
        "delimiter, encoding or format) changed.",
        "",
        "| file | kind | code | row | column | why |",
        "|---|---|---|---:|---|---|",
    ]
    seen: set[str] = set()
    for e in exp:
        if e.file in seen:
            continue
        rows = [str(x.row) for x in exp if x.file == e.file and x.row is not None]
        seen.add(e.file)
        out.append(
            f"| `{e.file}` | {e.kind} | `{e.code}` | {', '.join(rows)} | "
            f"{('`' + e.column + '`') if e.column else ''} | {e.why} |"
        )
    out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------------------ main
def main() -> None:
    m = Market(paths.market_dir())
    builders = [tech_exec, retiree, young_pro, philanthropist, household, roth_household,
                balanced_6040, core_active, muni_ca]
    personas = {p.client_id: p for p in (b(m) for b in builders)}
    stats = {cid: check_persona(m, p) for cid, p in personas.items()}
    check_targets(m, personas, stats)
    for t in ("AMD", "AVGO", "INTC", "MU", "QCOM"):
        m.check(t)
    root = paths.clients_dir()
    root.mkdir(parents=True, exist_ok=True)
    for cid, p in personas.items():
        write_persona(m, p, root / cid)
    write_text(root / "README.md", clients_readme(m, personas, stats))
    exp = build_bad(m, paths.bad_inputs_dir())
    for cid, s in stats.items():
        print(
            f"{cid:15s} lots {s['lots']:3d} names {s['names']:3d} MV {s['mv']:>13,.2f} "
            f"ST {s['st']:>12,.2f} LT {s['lt']:>13,.2f} loss {s['loss']:2d} "
            f"short {s['short']:2d} recent {s['recent']:2d}"
        )
    print(f"bad corpus: {len({e.file for e in exp})} files, {len(exp)} expected issues")


if __name__ == "__main__":
    main()
