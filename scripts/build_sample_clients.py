#!/usr/bin/env python
"""Build the sample clients and the malformed-input corpus from the packaged market data.

Writes, deterministically (fixed timestamps):

* ``data/samples/clients/<client_id>/``: one client per persona file in
  ``scripts/personas/*.toml`` (data, not code: see ``scripts/personas/README.md``), each a
  ``profile.toml`` plus its lots file(s) (a blotter and an active model where the persona
  has them), and ``clients/README.md``;
* ``data/samples/bad/``: files with exactly one deliberate defect each, a valid
  ``base_profile.toml`` / ``good_lots.csv`` / ``good_blotter.csv`` to compare against,
  ``expected_errors.csv`` and ``bad/README.md``.

Every cost basis is the dividend-adjusted close on the acquisition date rounded to the
cent, every acquisition date is a trading day on which the ticker has a price, and every
ticker has a price on the as-of date 2026-07-31. Re-running the script reproduces every
file byte for byte (Excel files get fixed document properties and zip timestamps).

Usage::

    .venv/bin/python scripts/build_sample_clients.py            # writes data/samples/...
    .venv/bin/python scripts/build_sample_clients.py --clients-only --out /tmp/clients
    PMA_LAB_DATA=/some/copy .venv/bin/python scripts/build_sample_clients.py
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import tomllib
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.writer.excel import ExcelWriter

from pma_lab import paths
from pma_lab.market.tickers import normalize_ticker
from pma_lab.schema import ISSUE_CODES, RESTRICTION_CATEGORIES
from pma_lab.tax.rules import Term, money, term_of

AS_OF = dt.date(2026, 7, 31)
ST_AFTER = dt.date(2025, 7, 31)  # acquired after this: short-term on AS_OF
RECENT_AFTER = dt.date(2026, 7, 1)  # acquired after this: within 30 days of AS_OF
FIXED_STAMP = dt.datetime(2026, 7, 31, 0, 0, 0)  # xlsx document properties
ZIP_STAMP = (2026, 7, 31, 0, 0, 0)  # xlsx zip member timestamps
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
        manifest = json.loads((folder / "manifest.json").read_text())
        self.constituents = manifest["vintages"]["constituents"]["column"]  # current members
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
        if self.constituents in uni.columns:
            uni = uni[uni[self.constituents].astype(bool)]
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

    def basis(self, t: str, d: dt.date) -> Decimal:
        """Cost per share: the adjusted close on ``d`` rounded to the cent."""
        return money(Decimal(repr(self.close(t, d))))

    def name(self, t: str) -> str:
        """Company (or fund) name from the security master."""
        return self.names.get(t, t)


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
    layout: str = "canonical"
    lots_file: str = "lots.csv"
    profile: str = ""
    blurb: str = ""
    profile_shows: str = ""
    active_model: dict[str, dict[str, float]] = field(default_factory=dict)
    readme_accounts: bool = False
    readme_position: str = ""
    order: int = 10**6


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
PERSONAS_DIR = Path(__file__).resolve().parent / "personas"
LAYOUTS = ("canonical", "custodian_xlsx", "broker_csv", "total_cost_csv", "account_csv")
PERSONA_KEYS = {
    # key: (required, types, what it is)
    "id": (True, (str,), "the client id: the folder name under data/samples/clients"),
    "title": (True, (str,), "the README heading"),
    "order": (False, (int,), "position in the README (default: after the numbered ones)"),
    "layout": (True, (str,), f"how the lots file is laid out: {', '.join(LAYOUTS)}"),
    "lots_file": (True, (str,), "the lots file name (as the profile's [lots] files says)"),
    "blurb": (True, (str,), "the README paragraph"),
    "profile_shows": (True, (str,), "what profile.toml shows (README)"),
    "notes": (False, (list,), "more README paragraphs"),
    "readme_accounts": (False, (bool,), "README line per account (lots, names, value)"),
    "readme_position": (False, (str,), "README line on one ticker's lots (a concentration)"),
    "cash": (True, (dict,), "cash by account id (USD)"),
    "files": (True, (dict,), "README: what each file shows, in order"),
    "active_model": (False, (dict,), "active_model.csv: date -> {ticker = weight}"),
    "lots": (True, (list,), "the lots, in file order"),
    "blotter": (False, (list,), "recent_trades.csv rows (text cells)"),
    "profile": (True, (str,), "profile.toml, written as is"),
}
LOT_KEYS = {"lot_id": (str,), "account": (str,), "ticker": (str,), "acquired": (dt.date,),
            "shares": (str, int), "spelled": (str,), "inherited": (bool,)}
BLOTTER_COLUMNS = ["date", "account", "account_type", "ticker", "side", "shares", "price",
                   "lot_id", "method"]


def _persona_error(path: Path, where: str, problem: str, fix: str) -> SystemExit:
    return SystemExit(f"{path}: {where}: {problem}; {fix}")


def load_persona(m: Market, path: Path) -> Persona:
    """Read and check one persona file (see ``scripts/personas/README.md``).

    Raises
    ------
    SystemExit
        Naming the file, the key (and the lot or blotter row) and how to fix it.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SystemExit(f"{path}: not valid TOML ({err}); fix the syntax") from None
    for key in doc:
        if key not in PERSONA_KEYS:
            raise _persona_error(path, key, "unknown key",
                                 f"use only {', '.join(PERSONA_KEYS)}")
    for key, (required, types, what) in PERSONA_KEYS.items():
        if key not in doc:
            if required:
                raise _persona_error(path, key, "missing", f"add it ({what})")
            continue
        if not isinstance(doc[key], types) or (types == (int,) and isinstance(doc[key], bool)):
            raise _persona_error(path, key, f"{doc[key]!r} is a {type(doc[key]).__name__}",
                                 f"give {' or '.join(t.__name__ for t in types)} ({what})")
    cid = doc["id"]
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", cid) or path.stem != cid:
        raise _persona_error(path, "id", f"{cid!r} must be lower-case letters, digits and "
                             "dashes, and the file's name", f"name the file {cid}.toml")
    if doc["layout"] not in LAYOUTS:
        raise _persona_error(path, "layout", f"unknown layout {doc['layout']!r}",
                             f"use one of {', '.join(LAYOUTS)}")
    check_profile(doc["profile"], f"{path}: profile")
    lots = []
    for i, raw in enumerate(doc["lots"], 1):
        where = f"lots[{i}]"
        if not isinstance(raw, dict):
            raise _persona_error(path, where, f"{raw!r} is not a table",
                                 "write { account = ..., ticker = ..., ... }")
        for key in raw:
            if key not in LOT_KEYS:
                raise _persona_error(path, f"{where}.{key}", "unknown key",
                                     f"use only {', '.join(LOT_KEYS)}")
        for key in ("account", "ticker", "acquired", "shares"):
            if key not in raw:
                raise _persona_error(path, f"{where}.{key}", "missing", "add it")
        for key, types in LOT_KEYS.items():
            v = raw.get(key)
            if v is not None and (not isinstance(v, types) or isinstance(v, bool)
                                  and bool not in types):
                raise _persona_error(path, f"{where}.{key}", f"{v!r} is a {type(v).__name__}",
                                     f"give {' or '.join(t.__name__ for t in types)}")
        if isinstance(raw["acquired"], dt.datetime):
            raise _persona_error(path, f"{where}.acquired", "has a time of day",
                                 "write a date, e.g. 2016-05-12")
        try:
            shares = Decimal(str(raw["shares"]))
        except ArithmeticError:
            raise _persona_error(path, f"{where}.shares", f"{raw['shares']!r} is not a number",
                                 'write a share count, e.g. "120" or "12.3456"') from None
        try:
            lot = make_lot(m, raw["account"], raw["ticker"], raw["acquired"], shares,
                           raw.get("spelled", ""), raw.get("inherited", False))
        except SystemExit as err:
            raise _persona_error(path, f"{where} ({raw['ticker']} {raw['acquired']})",
                                 str(err), "pick a ticker and trading day priced in the "
                                 "packaged data, a positive share count") from None
        lot.lot_id = raw.get("lot_id", "")
        lots.append(lot)
    if not lots:
        raise _persona_error(path, "lots", "empty", "give at least one lot")
    accounts = {lot.account for lot in lots}
    unknown_cash = sorted(set(doc["cash"]) - accounts)
    if unknown_cash:
        raise _persona_error(path, "cash", f"account(s) {unknown_cash} hold no lot",
                             f"use the lots' accounts ({', '.join(sorted(accounts))})")
    blotter = []
    for i, row in enumerate(doc.get("blotter", []), 1):
        if not isinstance(row, dict) or set(row) != set(BLOTTER_COLUMNS) or not all(
                isinstance(v, str) for v in row.values()):
            raise _persona_error(path, f"blotter[{i}]", f"{row!r}", "give every column "
                                 f"({', '.join(BLOTTER_COLUMNS)}) as text")
        blotter.append(dict(row))
    for day, ws in doc.get("active_model", {}).items():
        if not isinstance(ws, dict) or abs(sum(ws.values()) - 1.0) > 1e-9:
            raise _persona_error(path, f"active_model.{day}", "the weights must sum to 1",
                                 "fix the weights (they are never rescaled)")
        for t in ws:
            m.check(t)
    if doc["lots_file"] not in doc["files"]:
        raise _persona_error(path, "files", f"no entry for {doc['lots_file']!r}",
                             "say what the lots file shows")
    return Persona(cid, doc["title"], lots, {k: float(v) for k, v in doc["cash"].items()},
                   files=dict(doc["files"]), notes=list(doc.get("notes", [])),
                   blotter=blotter, layout=doc["layout"], lots_file=doc["lots_file"],
                   profile=doc["profile"], blurb=doc["blurb"],
                   profile_shows=doc["profile_shows"],
                   active_model=dict(doc.get("active_model", {})),
                   readme_accounts=doc.get("readme_accounts", False),
                   readme_position=doc.get("readme_position", ""),
                   order=doc.get("order", 10**6))


def load_personas(m: Market, folder: Path = PERSONAS_DIR) -> dict[str, Persona]:
    """Every ``*.toml`` of ``folder``, in README order (``order``, then id)."""
    found = [load_persona(m, f) for f in sorted(folder.glob("*.toml"))]
    if not found:
        raise SystemExit(f"{folder}: no persona files (*.toml)")
    return {p.client_id: p for p in sorted(found, key=lambda p: (p.order, p.client_id))}

def write_persona(m: Market, p: Persona, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    write_text(folder / "profile.toml", p.profile)
    if p.layout == "custodian_xlsx":
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
        save_xlsx(wb, folder / p.lots_file)
    elif p.layout == "broker_csv":
        write_csv(
            folder / p.lots_file,
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
    elif p.layout == "total_cost_csv":
        write_csv(
            folder / p.lots_file,
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
    elif p.layout == "account_csv":
        write_csv(
            folder / p.lots_file,
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
    else:  # canonical
        write_csv(folder / p.lots_file, CANONICAL_HEADER, canonical_rows(p.lots))
    if p.blotter:
        write_csv(folder / "recent_trades.csv", BLOTTER_COLUMNS,
                  [[t[c] for c in BLOTTER_COLUMNS] for t in p.blotter])
    if p.active_model:
        write_csv(folder / "active_model.csv", ["date", "ticker", "weight"],
                  [[d, t, f"{w:.2f}"] for d, ws in p.active_model.items()
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


SHIPPED = {"tech-exec", "retiree", "young-pro", "philanthropist", "household",
           "roth-household", "balanced-6040", "core-active", "muni-ca"}


def check_targets(m: Market, personas: dict[str, Persona], stats: dict[str, dict]) -> None:
    """The shipped sample set's intent (sizes, concentrations, wash-sale locks), checked."""
    if not SHIPPED <= set(personas):
        return  # another set of personas: these checks describe the shipped one

    def near(x: float, target: float, tol: float = 0.1) -> bool:
        return abs(x / target - 1) <= tol

    for t in ("AMD", "AVGO", "INTC", "MU", "QCOM"):  # tech-exec's no_buy competitors
        m.check(t)
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
    for t in ("META", "NOW", "UBER"):  # the IRA's buys that lock taxable losses
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


def notable_table(m: Market, p: Persona) -> list[str]:
    """Markdown table of the lots that are short-term, recent, at a loss or inherited."""
    has_ids = p.layout not in ("custodian_xlsx", "broker_csv")
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


def _count(n: int) -> str:
    words = ["No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine",
             "Ten", "Eleven", "Twelve"]
    return words[n] if n < len(words) else str(n)


def clients_readme(m: Market, personas: dict[str, Persona], stats: dict[str, dict]) -> str:
    out = [
        "# Sample clients",
        "",
        f"{_count(len(personas))} persona{'s' if len(personas) != 1 else ''} from "
        "`scripts/personas/` (one TOML file each), built by "
        "`scripts/build_sample_clients.py` with the packaged market data "
        "(`data/samples/market/`). Re-running the script reproduces every file byte for "
        "byte. All of them are analysed as of **2026-07-31**.",
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
        out += [f"## `{cid}` — {p.title}", "", p.blurb, ""]
        if p.readme_accounts:
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
        out.append("* `profile.toml`: " + p.profile_shows)
        for f, what in p.files.items():
            out.append(f"* `{f}`: {what}")
        out.append("")
        for n in p.notes:
            out += [n, ""]
        if p.readme_position:
            t = p.readme_position
            nv = [lot for lot in p.lots if lot.ticker == t]
            nv_mv = sum(float(lot.shares) * m.last(t) for lot in nv)
            out += [
                f"{t}: {len(nv)} lots, {fmt_shares(sum(lot.shares for lot in nv))} "
                f"shares, basis {min(lot.cps for lot in nv)}-{max(lot.cps for lot in nv)} "
                f"a share against a close of {m.last(t):,.2f}; market value "
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
def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--personas", type=Path, default=PERSONAS_DIR,
                    help="folder of persona TOML files (default scripts/personas)")
    ap.add_argument("--out", type=Path, default=None,
                    help="clients folder to write (default data/samples/clients)")
    ap.add_argument("--clients-only", action="store_true",
                    help="write the clients only, not the malformed-input corpus")
    args = ap.parse_args(argv)
    m = Market(paths.market_dir())
    personas = load_personas(m, args.personas)
    stats = {cid: check_persona(m, p) for cid, p in personas.items()}
    check_targets(m, personas, stats)
    root = args.out or paths.clients_dir()
    root.mkdir(parents=True, exist_ok=True)
    for cid, p in personas.items():
        write_persona(m, p, root / cid)
    write_text(root / "README.md", clients_readme(m, personas, stats))
    for cid, s in stats.items():
        print(
            f"{cid:15s} lots {s['lots']:3d} names {s['names']:3d} MV {s['mv']:>13,.2f} "
            f"ST {s['st']:>12,.2f} LT {s['lt']:>13,.2f} loss {s['loss']:2d} "
            f"short {s['short']:2d} recent {s['recent']:2d}"
        )
    if args.clients_only:
        return
    exp = build_bad(m, paths.bad_inputs_dir())
    print(f"bad corpus: {len({e.file for e in exp})} files, {len(exp)} expected issues")


if __name__ == "__main__":
    main()
