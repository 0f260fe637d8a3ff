"""The malformed-input corpus ``data/samples/bad/``, described by ``scripts/bad_inputs.toml``.

Called by ``scripts/build_sample_clients.py`` (:func:`build_corpus`), or run alone
(``--out FOLDER``, ``--no-encrypted``). It writes ``base_profile.toml``, ``good_lots.csv``,
``good_blotter.csv`` (real lots: cost per share and trade prices are adjusted closes
from the packaged market data) and ``good_model.csv`` (an active manager's model with a
later version), then one file per ``[[case]]`` of the TOML file, each a
copy of a good file with exactly one defect, and ``expected_errors.csv`` and ``README.md``
(from ``scripts/templates/bad_README.md``).

``bad_encrypted.xlsx`` is encrypted with ``msoffcrypto-tool`` (``pip install
msoffcrypto-tool``; a build tool only, pma_lab does not need it), with its random salts
drawn from a seeded generator so that, like every other file, it is reproduced byte for
byte.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
import re
import tomllib
import zipfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import build_sample_clients as bsc  # scripts/ is on sys.path
import openpyxl

from pma_lab.schema import ISSUE_CODES
from pma_lab.tax.ledger import Lot
from pma_lab.tax.rules import money

CORPUS = bsc.SCRIPTS / "bad_inputs.toml"
KINDS = ("lots", "blotter", "profile", "model")
CASE_KEYS = {"file", "kind", "code", "row", "column", "why", "value", "cell", "also",
             "every_row", "drop", "add", "replace", "insert", "no_rows", "format", "delimiter",
             "encoding", "head", "line", "sep", "tail", "names", "hide_row", "hide_column",
             "extra_sheet", "merge", "part", "part_keep", "part_sub", "truncate", "encrypt",
             "old", "new"}
ENCRYPTED = "bad_encrypted.xlsx"


def _ambiguous(v: str) -> bool:
    parts = v.split("/")
    if len(parts) != 3 or not all(x.isdigit() for x in parts):
        return False
    return len(parts[2]) == 2 or int(parts[0]) <= 12 and int(parts[1]) <= 12 and \
        parts[0] != parts[1]


MEANS = {  # code -> (what a changed cell must satisfy for the defect to mean it, in words)
    "ambiguous_date": (_ambiguous, "a slash date read both ways (day and month 12 or less "
                       "and different) or with a two-digit year"),
    "ragged_row": (lambda v: "," in v, "a value holding the delimiter"),
}
TOP_KEYS = ("base_profile", "good_lots", "good_blotter", "good_model", "links", "case")
MODEL_KEYS = ("date", "ticker", "weight")
LOT_KEYS = ("lot_id", "account", "ticker", "acquired", "shares")


@dataclass(frozen=True)
class Expect:
    """One expected issue of a bad file (a line of ``expected_errors.csv``)."""

    file: str
    kind: str
    code: str
    row: int | None
    column: str
    why: str


class CorpusError(Exception):
    """A mistake in the corpus file: where (case and key), what, and how to fix it."""


def _fail(where: str, problem: str, fix: str) -> CorpusError:
    return CorpusError(f"{where}: {problem}; {fix}")


def _context(row: dict[str, str], old: str, names: dict[str, str]) -> dict[str, object]:
    """The fields a case's format strings may use (see the head of bad_inputs.toml)."""
    ctx: dict[str, object] = dict(row, old=old, _="", name=names.get(row.get("ticker", ""), ""))
    day = row.get("acquired", row.get("date", ""))
    ctx["date"] = dt.date.fromisoformat(day) if re.fullmatch(r"\d{4}-\d\d-\d\d", day) else None
    try:
        ctx["num"] = Decimal(old)
    except InvalidOperation:
        pass
    if re.fullmatch(r"\d+\.\d+", old):
        comma = old.replace(".", ",") + "0" * (3 - len(old.split(".")[1]))
        ctx.update(cents=old.replace(".", ""), comma=comma, comma_read=comma.replace(",", ""))
    if "shares" in row and "cost_per_share" in row:
        total = money(Decimal(row["shares"]) * Decimal(row["cost_per_share"]))
        ctx.update(total=f"{total:.2f}", total_tenth=f"{total / 10:.2f}")
    return ctx


def _column(header: list[str], col: str, where: str) -> int:
    if col not in header:
        raise _fail(where, f"no column {col!r}", f"use one of {', '.join(header)}")
    return header.index(col)


def _row(case: dict, key: str, rows: list, where: str) -> int:
    """The spreadsheet row ``case[key]`` (header = 1), checked against the table."""
    r = case.get(key)
    if not isinstance(r, int) or not 2 <= r <= len(rows) + 1:
        raise _fail(f"{where}.{key}", f"row {r!r} is not a data row",
                    f"give 2 to {len(rows) + 1} (the header is row 1)")
    return r


def _render(text: object, ctx: dict[str, object], where: str) -> object:
    if not isinstance(text, str):
        return text
    try:
        return text.format_map(ctx)
    except (KeyError, AttributeError, ValueError, IndexError) as err:
        raise _fail(where, f"{text!r} cannot be filled in ({err!r})",
                    "use the fields listed at the head of the file; {{ and }} for braces") from None


class Corpus:
    """The good files of the corpus and the writers of its bad variants."""

    def __init__(self, m: bsc.Market, doc: dict, encrypted: bool = True):
        self.m, self.encrypted = m, encrypted
        self.base = doc["base_profile"]
        good = [self.lot(s, f"good_lots[{i}]") for i, s in enumerate(doc["good_lots"], 1)]
        trades = [self.trade(t) for t in doc["good_blotter"]]
        model = [self.weight(w, f"good_model[{i}]") for i, w in enumerate(doc["good_model"], 1)]
        self.tables = {"lots": (bsc.CANONICAL, bsc.canonical_rows(m, good)),
                       "blotter": (bsc.BLOTTER_COLUMNS, trades),
                       "model": (list(MODEL_KEYS), model)}

    def lot(self, spec: dict, where: str) -> Lot:
        """A real lot from ``{lot_id, account, ticker, acquired, shares}`` (a trading day)."""
        missing = [k for k in LOT_KEYS if k not in spec]
        if missing or set(spec) - set(LOT_KEYS):
            raise _fail(where, f"keys {sorted(spec)}", f"give exactly {', '.join(LOT_KEYS)}")
        t, day = spec["ticker"], spec["acquired"]
        try:
            if self.m.on_or_before(t, day) != day:
                raise SystemExit(f"{t}: {day} is not a trading day")
            return bsc.make_lot(self.m, spec["account"], t, day, spec["shares"], spec["lot_id"])
        except SystemExit as err:
            raise _fail(f"{where}.ticker", str(err), "pick a ticker and trading day priced "
                        "in the packaged data") from None

    def weight(self, spec: dict, where: str) -> list[str]:
        """A row of an active model file from ``{date, ticker, weight}``."""
        if set(spec) != set(MODEL_KEYS):
            raise _fail(where, f"keys {sorted(spec)}", f"give exactly {', '.join(MODEL_KEYS)}")
        return [spec["date"].isoformat(), spec["ticker"], f"{spec['weight']}"]

    def trade(self, t: dict) -> list[str]:
        d = self.m.on_or_before(t["ticker"], t["day"])
        return [d.isoformat(), t["account"], "ira" if t["account"] == "ira" else "taxable",
                t["ticker"], t["side"], str(t["shares"]), f"{self.m.basis(t['ticker'], d):.2f}",
                t.get("lot_id", ""), t.get("method", "")]

    # -------------------------------------------------------------------- tables
    def table(self, case: dict, where: str) -> tuple[list[str], list[list[str]], list[dict]]:
        """Header, rows and each row's good cells after the case's column and row changes."""
        header, rows = self.tables[case["kind"]]
        header, rows = list(header), [list(r) for r in rows]
        for key, how in (("replace", 1), ("insert", 0)):
            if key in case:
                spec = dict(case[key])
                at = _row(spec, "row", rows + [None] * (1 - how), f"{where}.{key}") - 2
                del spec["row"]
                new = bsc.canonical_rows(self.m, [self.lot(spec, f"{where}.{key}")])[0]
                rows[at:at + how] = [new]
        goods = [dict(zip(header, r, strict=True)) for r in rows]
        if "drop" in case:
            j = _column(header, case["drop"], f"{where}.drop")
            header, rows = header[:j] + header[j + 1:], [r[:j] + r[j + 1:] for r in rows]
        names = case.get("names", {})
        for col, fill in case.get("add", {}).items():
            header.append(col)
            for r, g in zip(rows, goods, strict=True):
                r.append(_render(fill, _context(g, "", names), f"{where}.add.{col}"))
        if case.get("no_rows"):
            rows, goods = [], []
        return header, rows, goods

    def edit(self, case: dict, header: list[str], rows: list[list], goods: list[dict],
             where: str) -> list[tuple[int, int]]:
        """Change the case's cell(s) in place; returns the (spreadsheet row, column) changed."""
        if "value" not in case:
            return []
        col = case.get("cell", case.get("column", ""))
        _column(header, col, f"{where}.cell")
        todo = range(2, len(rows) + 2) if case.get("every_row") else [
            _row(case, "row", rows, where)]
        done = []
        for r in todo:
            for c, v in {col: case["value"], **case.get("also", {})}.items():
                j = _column(header, c, f"{where}.also")
                ctx = _context(goods[r - 2], rows[r - 2][j], case.get("names", {}))
                rows[r - 2][j] = _render(v, ctx, f"{where}.value")
                done.append((r, j))
        return done

    # -------------------------------------------------------------------- writers
    def text(self, case: dict, header: list[str], rows: list[list], where: str) -> str:
        """The file as text: CSV, or ``head`` + a ``line`` per row joined by ``sep`` + ``tail``."""
        if case.get("format", "csv") == "text":
            lines = [_render(case["line"], dict(zip(header, r, strict=True)), f"{where}.line")
                     for r in rows]
            return case.get("head", "") + case.get("sep", "").join(lines) + (
                case.get("tail", "") if rows else "")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n", delimiter=case.get("delimiter", ","))
        w.writerow(header)
        w.writerows(rows)
        return buf.getvalue()

    def xlsx(self, case: dict, header: list[str], good: list[list], rows: list[list],
             edited: list[tuple[int, int]]) -> bytes:
        """Sheet "Lots" of the good cells as Excel types, the edited cells as given, then the
        case's workbook changes."""
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Lots"
        ws.append(header)
        for r in good:
            ws.append(r[:3] + [dt.date.fromisoformat(r[3]), float(r[4]), float(r[5])])
        for row in ws.iter_rows(min_row=2):
            row[3].number_format = "yyyy-mm-dd"
        for r, j in edited:
            ws.cell(row=r, column=j + 1).value = rows[r - 2][j]
        if "hide_row" in case:
            ws.row_dimensions[case["hide_row"]].hidden = True
        if "hide_column" in case:
            ws.column_dimensions[case["hide_column"]].hidden = True
        if "merge" in case:
            ws.merge_cells(case["merge"])
        if "extra_sheet" in case:
            extra = wb.create_sheet("Closed lots")
            extra.append(header)
            extra.append(self.tables["lots"][1][0])
            extra.sheet_state = case["extra_sheet"]
        data = bsc.xlsx_bytes(wb)
        if "part" in case:
            data = repack(data, case["part"], case.get("part_keep"), case.get("part_sub"))
        if "truncate" in case:
            keep, of = case["truncate"]
            data = data[: len(data) * keep // of]
        return encrypt(data, case["encrypt"]) if "encrypt" in case else data

    def build(self, case: dict, where: str) -> tuple[bytes | None, list[Expect]]:
        """The case's file (None: left as it is) and its expected issues."""
        name, kind, column = case["file"], case["kind"], case.get("column", "")
        if kind == "profile":
            text = self.profile(case, where)
            return text.encode(), [Expect(name, kind, case["code"],
                                          syntax_line(text, case, where), column, case["why"])]
        header, rows, goods = self.table(case, where)
        good = [list(r) for r in rows]
        edited = self.edit(case, header, rows, goods, where)
        ok, what = MEANS.get(case["code"], (lambda v: True, ""))
        for r, j in edited:
            if not ok(rows[r - 2][j]):
                raise _fail(f"{where}.value", f"{rows[r - 2][j]!r} on row {r} is not {what}",
                            "pick another lot or value")
        ctx = {}
        if edited:  # why may quote the first changed cell
            r, j = edited[0]
            ctx = _context(goods[r - 2], good[r - 2][j], case.get("names", {}))
        why = _render(case["why"], ctx, f"{where}.why")
        at = sorted({r for r, _ in edited}) if case.get("every_row") else [case.get("row")]
        exp = [Expect(name, kind, case["code"], r, column, why) for r in at]
        if case.get("format") == "xlsx":
            if "encrypt" in case and not self.encrypted:
                return None, exp
            return self.xlsx(case, header, good, rows, edited), exp
        return self.text(case, header, rows, where).encode(case.get("encoding", "utf-8")), exp

    def profile(self, case: dict, where: str) -> str:
        old, new = case["old"], _render(case["new"], {"_": ""}, f"{where}.new")
        if old not in self.base:
            raise _fail(f"{where}.old", f"{old!r} is not in base_profile", "copy it exactly")
        text = self.base.replace(old, new, 1)
        if case["code"] not in ("toml_syntax", "toml_too_deep"):
            tomllib.loads(text)  # the defect is in the values, not the syntax
        return text


def syntax_line(text: str, case: dict, where: str) -> int | None:
    """For a ``toml_syntax`` case the line tomllib reports (None for other codes)."""
    if case["code"] != "toml_syntax":
        return None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = re.search(r"line (\d+)", str(err))
        return int(line.group(1)) if line else None
    raise _fail(where, "the profile parses", "make the defect a syntax error")


def repack(package: bytes, part: str, keep: list | None, sub: list | None) -> bytes:
    """``package`` (an xlsx zip) with one member cut to ``keep[0]/keep[1]`` or edited."""
    src = zipfile.ZipFile(io.BytesIO(package))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == part and keep:
                data = data[: len(data) * keep[0] // keep[1]]
            elif info.filename == part and sub:
                data = re.sub(sub[0].encode(), sub[1].encode(), data)
            zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return out.getvalue()


def _msoffcrypto():
    try:
        from msoffcrypto.format.ooxml import OOXMLFile
        from msoffcrypto.method import ecma376_agile
        from msoffcrypto.method.container import ecma376_encrypted
    except ImportError:
        raise SystemExit(f"{ENCRYPTED} needs msoffcrypto-tool: pip install msoffcrypto-tool "
                         "(or pass --no-encrypted to leave the committed file as it is)") from None
    return OOXMLFile, ecma376_agile, ecma376_encrypted


def encrypt(package: bytes, password: str) -> bytes:
    """``package`` encrypted (ECMA-376 agile), the same bytes on every build."""
    OOXMLFile, ecma376_agile, ecma376_encrypted = _msoffcrypto()
    # seeded salts and a fixed container timestamp (both are internals of msoffcrypto-tool 6;
    # without them the file only differs, it still works)
    if hasattr(ecma376_agile, "_random_buffer"):
        ecma376_agile._random_buffer = random.Random(11).randbytes
    if hasattr(ecma376_encrypted, "datetime2filetime"):
        stamp = ecma376_encrypted.datetime2filetime(dt.datetime(2026, 7, 31))
        ecma376_encrypted.datetime2filetime = lambda _now: stamp
    enc = io.BytesIO()
    OOXMLFile(io.BytesIO(package)).encrypt(password, enc)
    return enc.getvalue()


def check_case(case: dict, i: int) -> str:
    """Where case ``i`` is (``case[i] (file)``); fails on an unknown key, kind or code."""
    where = f"case[{i}] ({case.get('file', '?')})"
    for key in case:
        if key not in CASE_KEYS:
            raise _fail(f"{where}.{key}", "unknown key", f"use only {', '.join(sorted(CASE_KEYS))}")
    for key in ("file", "kind", "code", "why"):
        if key not in case:
            raise _fail(f"{where}.{key}", "missing", "add it")
    if case["kind"] not in KINDS:
        raise _fail(f"{where}.kind", f"unknown kind {case['kind']!r}", f"use {', '.join(KINDS)}")
    if case["code"] not in ISSUE_CODES:
        raise _fail(f"{where}.code", f"unknown issue code {case['code']!r}",
                    "use a key of pma_lab.schema.ISSUE_CODES")
    if case["kind"] == "profile" and not {"old", "new"} <= set(case):
        raise _fail(where, "a profile case needs old and new", "add them")
    if case.get("format") == "xlsx" and case["kind"] != "lots":
        raise _fail(f"{where}.format", "only lots files are written as xlsx", "use csv")
    return where


def load_corpus(corpus: Path = CORPUS) -> dict:
    """Read and check the corpus file (keys, kinds, issue codes, unique file names).

    Raises
    ------
    SystemExit
        Naming the file, the case and key, and how to fix it.
    """
    try:
        doc = tomllib.loads(corpus.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise SystemExit(f"{corpus}: not valid TOML ({err}); fix the syntax") from None
    for key in sorted(set(doc) ^ set(TOP_KEYS)):
        raise SystemExit(f"{corpus}: {key}: {'unknown' if key in doc else 'missing'} key; "
                         f"give exactly {', '.join(TOP_KEYS)}")
    seen: set[str] = set()
    try:
        for i, case in enumerate(doc["case"], 1):
            where = check_case(case, i)
            if case["file"] in seen:
                raise _fail(f"{where}.file", "a second case for this file", "rename one")
            seen.add(case["file"])
    except CorpusError as err:
        raise SystemExit(f"{corpus}: {err}") from None
    return doc


def build_corpus(m: bsc.Market, folder: Path, corpus: Path = CORPUS,
                 encrypted: bool = True) -> list[Expect]:
    """Write the corpus into ``folder``; returns the expected issues, sorted.

    ``encrypted=False`` leaves ``bad_encrypted.xlsx`` in ``folder`` as it is (it needs
    msoffcrypto-tool); it stays listed in ``expected_errors.csv``. Every file is made
    before ``folder`` is touched.

    Raises
    ------
    SystemExit
        A mistake in the corpus file, naming the file, the case and key; nothing is
        removed from ``folder`` for a mistake found before writing starts.
    """
    doc = load_corpus(corpus)
    if encrypted and any("encrypt" in case for case in doc["case"]):
        _msoffcrypto()
    files: dict[str, bytes | None] = {}
    exp: list[Expect] = []
    try:  # everything is made in memory first: a mistake leaves folder as it was
        c = Corpus(m, doc, encrypted)
        files["base_profile.toml"] = c.base.encode()
        for kind, name in (("lots", "good_lots.csv"), ("blotter", "good_blotter.csv"),
                           ("model", "good_model.csv")):
            files[name] = c.text({}, *c.tables[kind], name).encode()
        for i, case in enumerate(doc["case"], 1):
            files[case["file"]], more = c.build(case, check_case(case, i))
            exp += more
    except CorpusError as err:
        raise SystemExit(f"{corpus}: {err}") from None
    bsc.clear_files(folder, keep=[name for name, data in files.items() if data is None])
    for name, data in files.items():
        if data is not None:
            bsc.write_bytes(folder / name, data)
    for name, target in doc.get("links", {}).items():
        os.symlink(target, folder / name)
    exp.sort(key=lambda e: (e.kind, e.file, e.row or 0))
    bsc.write_csv(folder / "expected_errors.csv", ["file", "kind", "code", "row", "column"],
                  [[e.file, e.kind, e.code, "" if e.row is None else str(e.row), e.column]
                   for e in exp])
    table = []
    for name in dict.fromkeys(e.file for e in exp):
        mine = [e for e in exp if e.file == name]
        rows = ", ".join(str(x.row) for x in mine if x.row is not None)
        e = mine[0]
        table.append(f"| `{e.file}` | {e.kind} | `{e.code}` | {rows} | "
                     f"{('`' + e.column + '`') if e.column else ''} | {e.why} |")
    bsc.write_text(folder / "README.md",
                   bsc.template("bad_README.md").substitute(table="\n".join(table)))
    return exp


def main(argv: list[str] | None = None) -> None:
    """``python scripts/build_bad_inputs.py [--out FOLDER] [--no-encrypted]``."""
    import argparse

    from pma_lab import paths

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None,
                    help="folder to write (default data/samples/bad)")
    ap.add_argument("--corpus", type=Path, default=CORPUS,
                    help="the corpus file (default scripts/bad_inputs.toml)")
    ap.add_argument("--no-encrypted", action="store_true",
                    help="leave bad_encrypted.xlsx as it is (it needs msoffcrypto-tool)")
    args = ap.parse_args(argv)
    exp = build_corpus(bsc.Market(paths.market_dir()), args.out or paths.bad_inputs_dir(),
                       args.corpus, encrypted=not args.no_encrypted)
    print(f"bad corpus: {len({e.file for e in exp})} files, {len(exp)} expected issues")


if __name__ == "__main__":
    main()
