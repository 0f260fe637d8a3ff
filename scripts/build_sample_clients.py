#!/usr/bin/env python
"""Build the sample clients and the malformed-input corpus from the packaged market data.

* ``data/samples/clients/<client_id>/``: one client per persona file
  ``scripts/personas/*.toml`` (data, not code: see ``scripts/personas/README.md``): its
  ``profile.toml``, lots file, blotter and active model; ``clients/README.md`` from
  ``scripts/templates/clients_README.md``. Each persona's ``[checks]`` states facts about
  its book (size, names, weights, wash-sale locks) that the build verifies.
* ``data/samples/bad/``: the malformed-input corpus of ``scripts/bad_inputs.toml``, written
  by ``scripts/build_bad_inputs.py``.

Cost bases are adjusted closes of the acquisition day (a trading day), rounded to the cent;
every ticker is priced on the as-of date 2026-07-31. Re-running the script reproduces every
file byte for byte (Excel files get fixed document properties and zip timestamps).

Usage::

    .venv/bin/python scripts/build_sample_clients.py            # writes data/samples/...
    .venv/bin/python scripts/build_sample_clients.py --clients-only --out /tmp/clients
    .venv/bin/python scripts/build_sample_clients.py --out /tmp/s/clients --bad-out /tmp/s/bad
    PMA_LAB_DATA=/some/copy .venv/bin/python scripts/build_sample_clients.py
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import string
import sys
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.writer.excel import ExcelWriter

from pma_lab import paths
from pma_lab.files import write_bytes
from pma_lab.formatting import fmt_num
from pma_lab.market.tickers import normalize_ticker
from pma_lab.schema import RESTRICTION_CATEGORIES
from pma_lab.tax.ledger import Lot
from pma_lab.tax.rules import Term, money

AS_OF = dt.date(2026, 7, 31)
RECENT_AFTER = dt.date(2026, 7, 1)  # acquired after this: within 30 days of AS_OF
FIXED_STAMP = dt.datetime(2026, 7, 31, 0, 0, 0)  # xlsx document properties
ZIP_STAMP = (2026, 7, 31, 0, 0, 0)  # xlsx zip member timestamps
ETF_NAMES = {"SPY": "SPDR S&P 500 ETF Trust", "IVV": "iShares Core S&P 500 ETF"}
SCRIPTS = Path(__file__).resolve().parent
PERSONAS_DIR = SCRIPTS / "personas"
TEMPLATES = SCRIPTS / "templates"


# ------------------------------------------------------------------------------ market
class Market:
    """The packaged prices (stocks + ETFs) and security master, read with pandas."""

    def __init__(self, folder: Path):
        stocks = self._wide(pd.read_parquet(folder / "prices.parquet"))
        etfs = self._wide(pd.read_parquet(folder / "etf_prices.parquet"))
        extra = [c for c in etfs.columns if c not in stocks.columns]
        self.px = pd.concat([stocks, etfs[extra]], axis=1, sort=True)
        uni = pd.read_parquet(folder / "universe.parquet")
        self.universe = uni if "ticker" in uni.columns else uni.reset_index()
        manifest = json.loads((folder / "manifest.json").read_text())
        self.constituents = manifest["vintages"]["constituents"]["column"]  # current members
        tickers = self.universe["ticker"].astype(str)
        self.known = frozenset(tickers) | frozenset(map(str, etfs.columns))
        names = dict(zip(tickers, self.universe["name"], strict=True))
        self.names = {k: v for k, v in names.items() if isinstance(v, str) and v}
        self.names.update({k: v for k, v in ETF_NAMES.items() if k not in self.names})
        if pd.Timestamp(AS_OF) not in self.px.index:
            raise SystemExit(f"the packaged prices have no row for {AS_OF}")
        self.priced_on_as_of = frozenset(self.px.loc[pd.Timestamp(AS_OF)].dropna().index)
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
            self._cache[t] = s[s.index <= pd.Timestamp(AS_OF)]
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
        if pd.Timestamp(d) not in s.index:
            raise SystemExit(f"{t}: no price on {d}")
        return float(s.loc[pd.Timestamp(d)])

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

    def value(self, lot: Lot) -> Decimal:
        """Market value of ``lot`` on the as-of date, to the cent."""
        return money(lot.shares * Decimal(repr(self.last(lot.ticker))))

    def name(self, t: str) -> str:
        """Company (or fund) name from the security master."""
        return self.names.get(t, t)


# ------------------------------------------------------------------------------ lots
def make_lot(m: Market, account: str, t: str, d: dt.date, shares: Decimal | int | str,
             lot_id: str = "", inherited: bool = False, spelled: str = "") -> Lot:
    """A :class:`pma_lab.tax.ledger.Lot` bought at the adjusted close of ``d`` (to the cent);
    SystemExit for an unpriced ticker or day, shares <= 0, a date after the as-of date, or a
    spelling that does not normalise to ``t``."""
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
    return Lot(lot_id, lot_id, account, t, shares, money(shares * m.basis(t, d)), d, d,
               inherited=inherited)


def plain(x: Decimal) -> str:
    """A decimal as a file cell: no exponent, no trailing zeros, no thousands separator."""
    return f"{x.normalize():f}"


def lot_cells(m: Market, lot: Lot, spelled: str = "") -> dict[str, str]:
    """Every field a lots file can hold, as text (``spelled``: the ticker as written)."""
    return {"lot_id": lot.lot_id, "account": lot.account, "ticker": spelled or lot.ticker,
            "acquired": lot.acquired.isoformat(), "acquired_us": f"{lot.acquired:%m/%d/%Y}",
            "shares": plain(lot.shares),
            "cost_per_share": f"{m.basis(lot.ticker, lot.acquired):.2f}",
            "cost_total": f"{lot.basis:.2f}", "inherited": "yes" if lot.inherited else "no"}


CANONICAL = ["lot_id", "account", "ticker", "acquired", "shares", "cost_per_share"]
CSV_LAYOUTS = {  # layout -> (header, field of lot_cells) in file order
    "canonical": [(c, c) for c in CANONICAL],
    "broker_csv": [("Symbol", "ticker"), ("Quantity", "shares"),
                   ("Acquisition Date", "acquired_us"), ("Cost Basis Per Share", "cost_per_share")],
    "total_cost_csv": [(c, c) for c in ("ticker", "acquired", "shares", "cost_total", "lot_id",
                                        "inherited")],
    "account_csv": [("account", "account"), ("lot_id", "lot_id"), ("symbol", "ticker"),
                    ("date_acquired", "acquired"), ("quantity", "shares"),
                    ("unit_cost", "cost_per_share")],
}
LAYOUTS = (*CSV_LAYOUTS, "custodian_xlsx")
BLOTTER_COLUMNS = ["date", "account", "account_type", "ticker", "side", "shares", "price",
                   "lot_id", "method"]


def canonical_rows(m: Market, lots: Sequence[Lot]) -> list[list[str]]:
    """``lots`` as rows of the canonical lots file."""
    return [[lot_cells(m, lot)[c] for c in CANONICAL] for lot in lots]


def lot_stats(m: Market, lots: Sequence[Lot]) -> dict[str, float]:
    """Market value, embedded gains by term, and lot counts on the as-of date."""
    s = dict.fromkeys(("mv", "st", "lt", "loss", "short", "recent"), 0.0)
    for lot in lots:
        v = float(m.value(lot))
        g = v - float(lot.basis)
        s["mv"] += v
        short = lot.term_on(AS_OF) is Term.SHORT
        s["st" if short else "lt"] += g
        s["short"] += short
        s["loss"] += g < 0
        s["recent"] += lot.acquired > RECENT_AFTER
    for k in ("loss", "short", "recent"):
        s[k] = int(s[k])
    s.update(lots=len(lots), names=len({lot.ticker for lot in lots}),
             cost=sum(float(lot.basis) for lot in lots))
    return s


# ------------------------------------------------------------------------------ writers
def write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` atomically (:func:`pma_lab.files.write_bytes`)."""
    write_bytes(path, text.encode(encoding))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]],
              encoding: str = "utf-8", delimiter: str = ",") -> None:
    """Write a CSV file with ``\\n`` line ends (cells written as given)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n", delimiter=delimiter)
    w.writerow(header)
    w.writerows(rows)
    write_text(path, buf.getvalue(), encoding)


def xlsx_bytes(wb: openpyxl.Workbook) -> bytes:
    """``wb`` as reproducible bytes: fixed document properties and zip member timestamps."""
    props = wb.properties
    props.creator = props.lastModifiedBy = "pma_lab scripts/build_sample_clients.py"
    props.created = props.modified = FIXED_STAMP
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
    return out.getvalue()


def clear_files(folder: Path, keep: Sequence[str] = ()) -> None:
    """Create ``folder`` and remove the files in it (not subfolders, not ``keep``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if (old.is_file() or old.is_symlink()) and old.name not in keep:
            old.unlink()


# ------------------------------------------------------------------------------ personas
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
    "readme_accounts": (False, (dict,), "README line per account: account id -> label"),
    "readme_position": (False, (str,), "README line on one ticker's lots (a concentration)"),
    "cash": (True, (dict,), "cash by account id (USD)"),
    "files": (True, (dict,), "README: what each file shows, in order"),
    "active_model": (False, (dict,), "active_model.csv: date -> {ticker = weight}"),
    "lots": (True, (list,), "the lots, in file order"),
    "blotter": (False, (list,), "recent_trades.csv rows (text cells)"),
    "profile": (True, (str,), "profile.toml, written as is"),
    "checks": (False, (dict,), "facts the build verifies about the book (see README)"),
}
LOT_KEYS = {"lot_id": (False, (str,), "the lot id in the file"),
            "account": (True, (str,), "the account id"),
            "ticker": (True, (str,), "the ticker, dot form (BRK.B)"),
            "acquired": (True, (dt.date,), "a trading day, e.g. 2016-05-12"),
            "shares": (True, (str, int), 'a share count, e.g. "120" or "12.3456"'),
            "spelled": (False, (str,), "the ticker as the file writes it"),
            "inherited": (False, (bool,), "true for an inherited lot")}


@dataclass(frozen=True)
class Persona:
    """One generated client, as its persona file describes it."""

    path: Path
    client_id: str
    title: str
    lots: tuple[Lot, ...]
    spelled: tuple[str, ...]  # each lot's ticker as written in the file ("" = canonical)
    cash: dict[str, float]
    doc: dict = field(repr=False)  # the rest of the persona file, checked

    def __getattr__(self, key: str):
        if key in PERSONA_KEYS:
            return self.doc.get(key, {"order": 10**6}.get(key, PERSONA_KEYS[key][1][0]()))
        raise AttributeError(key)

    def error(self, where: str, problem: str, fix: str) -> SystemExit:
        return persona_error(self.path, where, problem, fix)


def persona_error(path: Path, where: str, problem: str, fix: str) -> SystemExit:
    """The error for a persona file: the file, the key (or lot) and how to fix it."""
    return SystemExit(f"{path}: {where}: {problem}; {fix}")


def _check_table(path: Path, prefix: str, table: dict, spec: dict) -> None:
    """Unknown, missing and mistyped keys of ``table`` (``spec``: key -> required, types, what)."""
    for key in table:
        if key not in spec:
            raise persona_error(path, prefix + key, "unknown key", f"use only {', '.join(spec)}")
    for key, (required, types, what) in spec.items():
        v = table.get(key)
        if v is None and required:
            raise persona_error(path, prefix + key, "missing", f"add it ({what})")
        if v is not None and (not isinstance(v, types) or isinstance(v, bool)
                              and bool not in types):
            raise persona_error(path, prefix + key, f"{v!r} is a {type(v).__name__}",
                                f"give {' or '.join(t.__name__ for t in types)} ({what})")


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
    _check_table(path, "", doc, PERSONA_KEYS)
    cid = doc["id"]
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", cid) or path.stem != cid:
        raise persona_error(path, "id", f"{cid!r} must be lower-case letters, digits and "
                            "dashes, and the file's name", f"name the file {cid}.toml")
    if doc["layout"] not in LAYOUTS:
        raise persona_error(path, "layout", f"unknown layout {doc['layout']!r}",
                            f"use one of {', '.join(LAYOUTS)}")
    for cat in tomllib.loads(doc["profile"]).get("restrictions", {}).get("categories", []):
        if cat not in RESTRICTION_CATEGORIES:
            raise persona_error(path, "profile", f"unknown category {cat}",
                                f"use one of {', '.join(RESTRICTION_CATEGORIES)}")
    lots, spelled = [], []
    for i, raw in enumerate(doc["lots"], 1):
        where = f"lots[{i}]"
        if not isinstance(raw, dict):
            raise persona_error(path, where, f"{raw!r} is not a table",
                                "write { account = ..., ticker = ..., ... }")
        _check_table(path, f"{where}.", raw, LOT_KEYS)
        if isinstance(raw["acquired"], dt.datetime):
            raise persona_error(path, f"{where}.acquired", "has a time of day",
                                "write a date, e.g. 2016-05-12")
        try:
            shares = Decimal(str(raw["shares"]))
        except ArithmeticError:
            raise persona_error(path, f"{where}.shares", f"{raw['shares']!r} is not a number",
                                'write a share count, e.g. "120" or "12.3456"') from None
        try:
            lots.append(make_lot(m, raw["account"], raw["ticker"], raw["acquired"], shares,
                                 raw.get("lot_id", ""), raw.get("inherited", False),
                                 raw.get("spelled", "")))
        except SystemExit as err:
            raise persona_error(path, f"{where} ({raw['ticker']} {raw['acquired']})",
                                str(err), "pick a ticker and trading day priced in the "
                                "packaged data, a positive share count") from None
        spelled.append(raw.get("spelled", ""))
    if not lots:
        raise persona_error(path, "lots", "empty", "give at least one lot")
    accounts = {lot.account for lot in lots}
    unknown_cash = sorted(set(doc["cash"]) - accounts)
    if unknown_cash:
        raise persona_error(path, "cash", f"account(s) {unknown_cash} hold no lot",
                            f"use the lots' accounts ({', '.join(sorted(accounts))})")
    for i, row in enumerate(doc.get("blotter", []), 1):
        if not isinstance(row, dict) or set(row) != set(BLOTTER_COLUMNS) or not all(
                isinstance(v, str) for v in row.values()):
            raise persona_error(path, f"blotter[{i}]", f"{row!r}", "give every column "
                                f"({', '.join(BLOTTER_COLUMNS)}) as text")
    for day, ws in doc.get("active_model", {}).items():
        if not isinstance(ws, dict) or abs(sum(ws.values()) - 1.0) > 1e-9:
            raise persona_error(path, f"active_model.{day}", "the weights must sum to 1",
                                "fix the weights (they are never rescaled)")
        for t in ws:
            try:
                m.check(t)
            except SystemExit as err:
                raise persona_error(path, f"active_model.{day}.{t}", str(err),
                                    "use a ticker priced on the as-of date") from None
    if doc["lots_file"] not in doc["files"]:
        raise persona_error(path, "files", f"no entry for {doc['lots_file']!r}",
                            "say what the lots file shows")
    for acct in doc.get("readme_accounts", {}):
        if acct not in accounts:
            raise persona_error(path, f"readme_accounts.{acct}", "holds no lot",
                                f"use the lots' accounts ({', '.join(sorted(accounts))})")
    p = Persona(path, cid, doc["title"], tuple(lots), tuple(spelled),
                {k: float(v) for k, v in doc["cash"].items()}, doc)
    run_checks(m, p)  # a malformed check fails here, naming the file and key
    return p


def load_personas(m: Market, folder: Path = PERSONAS_DIR) -> dict[str, Persona]:
    """Every ``*.toml`` of ``folder``, in README order (``order``, then id)."""
    found = [load_persona(m, f) for f in sorted(folder.glob("*.toml"))]
    if not found:
        raise SystemExit(f"{folder}: no persona files (*.toml)")
    return {p.client_id: p for p in sorted(found, key=lambda p: (p.order, p.client_id))}


def write_persona(m: Market, p: Persona, folder: Path) -> None:
    """Write ``profile.toml``, the lots file and any blotter / active model into ``folder``."""
    clear_files(folder)
    write_text(folder / "profile.toml", p.profile)
    if p.layout == "custodian_xlsx":
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Positions"
        ws.append(["Account Number", "Symbol", "Description", "Quantity", "Open Date",
                   "Cost Basis", "Market Value"])
        for lot, sp in zip(p.lots, p.spelled, strict=True):
            ws.append([lot.account, sp or lot.ticker, m.name(lot.ticker), int(lot.shares),
                       lot.acquired, float(lot.basis), float(m.value(lot))])
        for row in ws.iter_rows(min_row=2):
            row[4].number_format = "mm/dd/yyyy"
            row[5].number_format = row[6].number_format = "#,##0.00"
        for col, width in zip("ABCDEFG", (15, 8, 34, 10, 12, 14, 14), strict=True):
            ws.column_dimensions[col].width = width
        write_bytes(folder / p.lots_file, xlsx_bytes(wb))
    else:
        cols = CSV_LAYOUTS[p.layout]
        write_csv(folder / p.lots_file, [h for h, _ in cols],
                  [[c[f] for _, f in cols] for c in (lot_cells(m, lot, sp) for lot, sp
                                                     in zip(p.lots, p.spelled, strict=True))])
    if p.blotter:
        write_csv(folder / "recent_trades.csv", BLOTTER_COLUMNS,
                  [[t[c] for c in BLOTTER_COLUMNS] for t in p.blotter])
    if p.active_model:
        write_csv(folder / "active_model.csv", ["date", "ticker", "weight"],
                  [[d, t, f"{w:.2f}"] for d, ws in p.active_model.items() for t, w in ws.items()])


# ------------------------------------------------------------------------------ checks
def _near(m: Market, p: Persona, lots: Sequence[Lot], cash: float, arg: list) -> str:
    target, tol = float(arg[0]), float(arg[1])
    v = lot_stats(m, lots)["mv"] + cash
    return "" if abs(v / target - 1) <= tol else (
        f"market value + cash {v:,.0f} is not within {tol:.0%} of {target:,.0f}")


def _weights(m: Market, p: Persona, lots: Sequence[Lot], cash: float, arg: dict) -> str:
    mv = lot_stats(m, lots)["mv"]
    for t, (lo, hi) in arg.items():
        m.check(t)
        w = sum(float(lot.shares) * m.last(t) for lot in lots if lot.ticker == t) / mv
        if not lo <= w <= hi:
            return f"{t} is {w:.1%} of the lots' value, not {lo:.0%}-{hi:.0%}"
    return ""


def _wash_locks(m: Market, p: Persona, lots: Sequence[Lot], cash: float, arg: list) -> str:
    for t in arg:
        loss = {lot.account for lot in lots if lot.ticker == t and m.value(lot) < lot.basis}
        recent = {lot.account for lot in lots
                  if lot.ticker == t and lot.acquired > RECENT_AFTER}
        if not any(a != b for a in loss for b in recent):
            return f"{t}: no lot at a loss with a buy within 30 days in another account"
    return ""


def _loss_sale(m: Market, p: Persona, lots: Sequence[Lot], cash: float, arg: dict) -> str:
    buy, sell = p.blotter[arg["buy"] - 1], p.blotter[arg["sell"] - 1]
    days = (AS_OF - dt.date.fromisoformat(sell["date"])).days
    ok = float(sell["price"]) < float(buy["price"]) and arg["days"][0] <= days <= arg["days"][1]
    return "" if ok else f"blotter row {arg['sell']} is not a loss sale {arg['days']} days ago"


def _fact(ok: Callable[[Market, Persona, Sequence[Lot], object], bool], what: str):
    def check(m: Market, p: Persona, lots: Sequence[Lot], cash: float, arg: object) -> str:
        return "" if ok(m, p, lots, arg) else what.format(arg=arg)
    return check


CHECKS: dict[str, tuple[Callable[..., str], str]] = {
    # key: (check, what its value is); under [checks.accounts.<id>] only that account's lots
    "value": (_near, "[target USD, tolerance]: the lots' market value + cash"),
    "names": (_fact(lambda m, p, lots, n: len({x.ticker for x in lots}) == n,
                    "not {arg} names"), "the number of distinct tickers"),
    "weights": (_weights, "{ TICKER = [low, high] }: share of the lots' market value"),
    "priced": (_fact(lambda m, p, lots, ts: all(m.check(t) is None for t in ts), ""),
               "[tickers] the profile names, priced on the as-of date"),  # else SystemExit
    "holds": (_fact(lambda m, p, lots, ts: set(ts) <= {x.ticker for x in lots},
                    "does not hold all of {arg}"), "[tickers] held"),
    "spelled": (_fact(lambda m, p, lots, ts: set(ts) <= set(p.spelled),
                      "no lot spelled {arg}"), "[spellings] some lot's ticker is written as"),
    "inherited": (_fact(lambda m, p, lots, n: sum(x.inherited for x in lots) == n,
                        "not {arg} inherited lots"), "the number of inherited lots"),
    "day_after_12": (_fact(lambda m, p, lots, b: any(x.acquired.day > 12 for x in lots) == b,
                           "day_after_12 is not {arg}"),
                     "true: some lot is bought after the 12th (dates read only one way)"),
    "overlap": (_fact(lambda m, p, lots, n: sum(
        len({x.account for x in lots if x.ticker == t}) > 1 for t in {x.ticker for x in lots})
        >= n, "fewer than {arg} names held in more than one account"),
        "the least number of names held in two accounts"),
    "short_term_losses": (_fact(lambda m, p, lots, n: sum(
        x.term_on(AS_OF) is Term.SHORT and m.value(x) < x.basis for x in lots) >= n,
        "fewer than {arg} short-term lots at a loss"), "the least number of them"),
    "recent_buys": (_fact(lambda m, p, lots, n: sum(x.acquired > RECENT_AFTER for x in lots)
                          >= n, "fewer than {arg} lots bought within 30 days"),
                    "the least number of them"),
    "wash_locks": (_wash_locks, "[tickers] at a loss in one account, bought within 30 days "
                   "in another"),
    "blotter_within_days": (_fact(lambda m, p, lots, n: all(
        (AS_OF - dt.date.fromisoformat(t["date"])).days <= n for t in p.blotter),
        "a blotter trade is older than {arg} days"), "every blotter trade within N days"),
    "blotter_loss_sale": (_loss_sale, "{ buy = row, sell = row, days = [low, high] }: the "
                          "sale is below the buy's price, days before the as-of date"),
}


def _check_scopes(p: Persona) -> list[tuple[str, dict, list[Lot], float]]:
    """(key prefix, checks, lots, cash) for the whole book and each ``accounts.<id>``."""
    top = {k: v for k, v in p.checks.items() if k != "accounts"}
    out = [("checks.", top, list(p.lots), sum(p.cash.values()))]
    accounts = p.checks.get("accounts", {})
    if not isinstance(accounts, dict):
        raise p.error("checks.accounts", f"{accounts!r} is not a table",
                      "write [checks.accounts.<id>] tables")
    for acct, table in accounts.items():
        lots = [lot for lot in p.lots if lot.account == acct]
        if not lots or not isinstance(table, dict):
            raise p.error(f"checks.accounts.{acct}", "not a table of an account with lots",
                          f"use the lots' accounts ({', '.join(sorted(p.cash))})")
        out.append((f"checks.accounts.{acct}.", table, lots, p.cash.get(acct, 0.0)))
    return out


def run_checks(m: Market, p: Persona) -> list[str]:
    """Failed ``[checks]`` of ``p`` as ``key: why``; a malformed check raises SystemExit."""
    failed = []
    for prefix, table, lots, cash in _check_scopes(p):
        for key, arg in table.items():
            if key not in CHECKS:
                raise p.error(prefix + key, "unknown check", f"use only {', '.join(CHECKS)}")
            fn, what = CHECKS[key]
            try:
                why = fn(m, p, lots, cash, arg)
            except SystemExit as err:
                raise p.error(prefix + key, str(err), "use a ticker priced on the as-of "
                              "date") from None
            except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError):
                raise p.error(prefix + key, f"{arg!r} is not a valid value",
                              f"give {what}") from None
            if why:
                failed.append(f"{prefix}{key}: {why}")
    return failed


def check_persona(m: Market, p: Persona) -> dict[str, float]:
    """The book's statistics; fails unless it has short-term, recent and loss lots and
    every ``[checks]`` entry holds."""
    s = lot_stats(m, p.lots)
    for k, what in {"short": "a short-term lot", "recent": "a lot bought within 30 days",
                    "loss": "a lot at a loss"}.items():
        if s[k] < 1:
            raise p.error("lots", f"no {what}", "add one: every sample exercises it")
    failed = run_checks(m, p)
    if failed:
        raise SystemExit(f"{p.path}: checks failed: " + "; ".join(failed)
                         + "; change the lots or the check")
    return s


# ------------------------------------------------------------------------------ README
def template(name: str) -> string.Template:
    """A text template of ``scripts/templates/`` (``$name`` placeholders)."""
    return string.Template((TEMPLATES / name).read_text(encoding="utf-8"))


def notable_table(m: Market, p: Persona) -> list[str]:
    """Markdown table of the lots that are short-term, recent, at a loss or inherited."""
    has_ids = p.layout not in ("custodian_xlsx", "broker_csv")
    two = len({lot.account for lot in p.lots}) > 1
    head = (["lot id" if has_ids else "file row"] + (["account"] if two else [])
            + ["ticker", "acquired", "shares", "basis/sh", "close 2026-07-31", "gain", "term",
               "why listed"])
    numeric = ("shares", "basis/sh", "close 2026-07-31", "gain")
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---:" if h in numeric else "---" for h in head) + "|"]
    for i, (lot, sp) in enumerate(zip(p.lots, p.spelled, strict=True)):
        px = m.last(lot.ticker)
        gain = float(m.value(lot)) - float(lot.basis)
        term = lot.term_on(AS_OF)
        why = [w for w, on in (("inherited", lot.inherited),
                               ("short-term", term is Term.SHORT),
                               ("within 30 days", lot.acquired > RECENT_AFTER),
                               ("loss", gain < 0)) if on]
        if why:
            cells = ([lot.lot_id if has_ids else str(i + 2)] + ([lot.account] if two else [])
                     + [sp or lot.ticker, lot.acquired.isoformat(), plain(lot.shares),
                        fmt_num(m.basis(lot.ticker, lot.acquired), 2), fmt_num(px, 2),
                        fmt_num(gain), term.value, ", ".join(why)])
            out.append("| " + " | ".join(cells) + " |")
    return out


def persona_section(m: Market, p: Persona, s: dict) -> list[str]:
    """The README section of one client."""
    out = [f"## `{p.client_id}` — {p.title}", "", p.blurb, ""]
    if p.readme_accounts:
        parts = []
        for acct, label in p.readme_accounts.items():
            a = lot_stats(m, [lot for lot in p.lots if lot.account == acct])
            parts.append(f"{label}: {a['lots']} lots, {a['names']} names, market value "
                         f"{fmt_num(a['mv'])} plus {fmt_num(p.cash[acct])} cash.")
        out += [" ".join(parts), ""]
    out += ["Files:", "", "* `profile.toml`: " + p.profile_shows]
    out += [f"* `{f}`: {what}" for f, what in p.files.items()] + [""]
    for n in p.notes:
        out += [n, ""]
    if p.readme_position:
        t = p.readme_position
        held = [lot for lot in p.lots if lot.ticker == t]
        cps = [m.basis(t, lot.acquired) for lot in held]
        mv = sum(float(lot.shares) * m.last(t) for lot in held)
        out += [f"{t}: {len(held)} lots, {plain(sum(lot.shares for lot in held))} shares, "
                f"basis {min(cps)}-{max(cps)} a share against a close of {fmt_num(m.last(t), 2)}; "
                f"market value {fmt_num(mv)} = {mv / s['mv']:.1%} of the lots' market value.", ""]
    return out + ["Lots that are short-term, bought within 30 days, at a loss or inherited:",
                  ""] + notable_table(m, p) + [""]


NUMBERS = "No One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve".split()


def clients_readme(m: Market, personas: dict[str, Persona], stats: dict[str, dict]) -> str:
    """``clients/README.md`` from ``scripts/templates/clients_README.md``."""
    n = len(personas)
    summary = [
        f"| `{cid}` | {s['lots']} | {s['names']} | {fmt_num(s['mv'])} | "
        f"{fmt_num(sum(personas[cid].cash.values()))} | {fmt_num(s['cost'])} | "
        f"{fmt_num(s['st'])} | {fmt_num(s['lt'])} | {s['loss']} | {s['short']} | "
        f"{s['recent']} |" for cid, s in stats.items()]
    sections = [line for cid, p in personas.items() for line in persona_section(m, p, stats[cid])]
    return template("clients_README.md").substitute(
        count=f"{NUMBERS[n] if n < len(NUMBERS) else n} persona{'s' if n != 1 else ''}",
        stale=m.stale_text(), summary="\n".join(summary), personas="\n".join(sections))


# ------------------------------------------------------------------------------ main
def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--personas", type=Path, default=PERSONAS_DIR,
                    help="folder of persona TOML files (default scripts/personas)")
    ap.add_argument("--out", type=Path, default=None,
                    help="clients folder to write (default data/samples/clients)")
    ap.add_argument("--bad-out", type=Path, default=None,
                    help="malformed-input folder to write (default data/samples/bad)")
    ap.add_argument("--clients-only", action="store_true",
                    help="write the clients only, not the malformed-input corpus")
    ap.add_argument("--no-encrypted", action="store_true",
                    help="leave bad_encrypted.xlsx as it is (it needs msoffcrypto-tool)")
    args = ap.parse_args(argv)
    m = Market(paths.market_dir())
    personas = load_personas(m, args.personas)
    stats = {cid: check_persona(m, p) for cid, p in personas.items()}
    root = args.out or paths.clients_dir()
    root.mkdir(parents=True, exist_ok=True)
    for cid, p in personas.items():
        write_persona(m, p, root / cid)
    write_text(root / "README.md", clients_readme(m, personas, stats))
    for cid, s in stats.items():
        print(f"{cid:15s} lots {s['lots']:3d} names {s['names']:3d} MV {s['mv']:>13,.2f} "
              f"ST {s['st']:>12,.2f} LT {s['lt']:>13,.2f} loss {s['loss']:2d} "
              f"short {s['short']:2d} recent {s['recent']:2d}")
    if args.clients_only:
        return
    from build_bad_inputs import build_corpus  # scripts/ (this file's folder) is on sys.path

    exp = build_corpus(m, args.bad_out or paths.bad_inputs_dir(), encrypted=not args.no_encrypted)
    print(f"bad corpus: {len({e.file for e in exp})} files, {len(exp)} expected issues")


if __name__ == "__main__":
    sys.modules.setdefault("build_sample_clients", sys.modules["__main__"])
    main()
