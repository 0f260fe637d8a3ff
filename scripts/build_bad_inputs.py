"""Malformed inputs of issue 11 (numbers, dates, workbooks, encodings, profiles, paths).

Called by ``scripts/build_sample_clients.py`` after it has written ``good_lots.csv``,
``good_blotter.csv`` and ``base_profile.toml`` into ``data/samples/bad/``: every file here
is one of those with exactly one defect. :func:`build_more` returns the expected issue of
each file as ``(file, kind, code, row, column, why)``.

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
from collections.abc import Callable
from pathlib import Path

import openpyxl

Expected = tuple[str, str, str, int | None, str, str]

# what the corpus relies on in the good files (checked before anything is written)
GOOD_LOTS_HEADER = ["lot_id", "account", "ticker", "acquired", "shares", "cost_per_share"]
GOOD_BLOTTER_HEADER = ["date", "account", "account_type", "ticker", "side", "shares",
                       "price", "lot_id", "method"]


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return rows[0], rows[1:]


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def build_more(folder: Path, save_xlsx: Callable[[openpyxl.Workbook, Path], None]
               ) -> list[Expected]:
    """Write the issue-11 files into ``folder`` and return their expected issues."""
    header, good = _read(folder / "good_lots.csv")
    bheader, good_b = _read(folder / "good_blotter.csv")
    base = (folder / "base_profile.toml").read_text(encoding="utf-8")
    if header != GOOD_LOTS_HEADER or bheader != GOOD_BLOTTER_HEADER or len(good) != 5:
        raise SystemExit("good_lots.csv / good_blotter.csv changed; update build_bad_inputs")
    col = {c: i for i, c in enumerate(header)}
    exp: list[Expected] = []

    def variant(kind: str, name: str, row: int, column: str, value: str, code: str, why: str,
                hdr: list[str] | None = None, rows: list[list[str]] | None = None) -> None:
        hdr = hdr or (header if kind == "lots" else bheader)
        rs = [list(r) for r in (rows or (good if kind == "lots" else good_b))]
        rs[row - 2][hdr.index(column)] = value
        (folder / name).write_text(_csv_text(hdr, rs), encoding="utf-8")
        exp.append((name, kind, code, row, column, why))

    def lots(*args: str | int, **kw: list) -> None:
        variant("lots", *args, **kw)

    def blotter(*args: str | int, **kw: list) -> None:
        variant("blotter", *args, **kw)

    def profile(name: str, old: str, new: str, code: str, column: str, why: str) -> None:
        if old not in base:
            raise SystemExit(f"{name}: {old!r} not in the base profile")
        text = base.replace(old, new, 1)
        (folder / name).write_text(text, encoding="utf-8")
        if code != "toml_too_deep":
            tomllib.loads(text)  # the defect is in the values, not the syntax
        exp.append((name, "profile", code, None, column, why))

    # --- numbers: non-finite, overflowing, absurd ---------------------------------------
    lots("bad_shares_inf.csv", 3, "shares", "inf", "non_finite", "shares written as inf")
    lots("bad_basis_nan.csv", 4, "cost_per_share", "NaN", "non_finite",
         "cost per share NaN (a spreadsheet error exported as NaN)")
    lots("bad_shares_huge.csv", 5, "shares", "1e308", "out_of_range",
         "1e308 shares (overflows shares x cost)")
    lots("bad_basis_overflow.csv", 6, "cost_per_share", "9" * 400, "out_of_range",
         "a 400-digit cost per share (too large even for a float)")
    lots("bad_shares_tiny.csv", 2, "shares", "1e-300", "out_of_range",
         "1e-300 shares (below a micro-share)")
    tot_header = header[:-1] + ["cost_total"]
    tot_rows = [r[:-1] + [f"{float(r[col['shares']]) * float(r[-1]):.2f}"] for r in good]
    lots("bad_total_huge.csv", 3, "cost_total", "1e15", "out_of_range",
         "a total cost of 1e15 USD", hdr=tot_header, rows=tot_rows)

    # --- basis against the market close of the acquisition day ---------------------------
    aapl = good[0][col["cost_per_share"]]
    thousands = aapl.replace(".", ",") + "0" * (3 - len(aapl.split(".")[1]))
    lots("bad_thousands_basis.csv", 2, "cost_per_share", thousands, "basis_vs_market",
         f"AAPL cost per share {aapl} written {thousands} (a decimal comma): read as "
         f"{thousands.replace(',', '')} it is 1,000x the close that day")
    msft = good[1]
    lots("bad_total_as_per_share.csv", 3, "cost_per_share",
         f"{float(msft[col['shares']]) * float(msft[col['cost_per_share']]):.2f}",
         "basis_vs_market", "the lot's total cost in the cost-per-share column (40x the close)")
    ko = good[3][col["cost_per_share"]]
    lots("bad_cents_for_dollars.csv", 5, "cost_per_share", ko.replace(".", ""),
         "basis_vs_market", f"cost per share in cents ({ko.replace('.', '')} for {ko})")
    lots("bad_per_share_as_total.csv", 6, "cost_total", good[4][col["cost_per_share"]],
         "basis_vs_market", "the cost per share in the total-cost column (1/80 of the close)",
         hdr=tot_header, rows=tot_rows)
    lots("bad_ambiguous_shares.csv", 4, "shares", "1,500", "ambiguous_number",
         "1,500 shares with only a per-share cost: 1500 or 1.5 shares, nothing tells which")
    fb = [list(r) for r in good]
    fb[1][col["ticker"]], fb[1][col["acquired"]] = "FB", "2015-06-01"
    lots("bad_ambiguous_unpriced.csv", 3, "cost_per_share", "1,000", "ambiguous_number",
         "FB (in the security master, without a price series) at a cost of 1,000: no close "
         "to tell 1000 from 1.0", rows=fb)

    # --- dates ------------------------------------------------------------------------
    lots("bad_date_1899.csv", 2, "acquired", "1899-12-31", "out_of_range",
         "acquired 1899-12-31 (an empty Excel date)")
    lots("bad_date_year_one.csv", 3, "acquired", "0001-01-01", "out_of_range",
         "acquired in year 1 (crashed with OutOfBoundsDatetime)")
    lots("bad_date_named_old.csv", 4, "acquired", "Sep 10, 1018", "out_of_range",
         "a date in words in the year 1018")
    lots("bad_date_1919.csv", 5, "acquired", "1919-11-04", "before_market_data",
         "acquired 1919, before the packaged prices start (2000-01-03); allowed only with "
         "lots.allow_before_market_data")

    # --- encodings ----------------------------------------------------------------------
    text = _csv_text(header, good)
    for name, enc, label in (("bad_utf16le.csv", "utf-16-le", "UTF-16 little-endian"),
                             ("bad_utf16be.csv", "utf-16-be", "UTF-16 big-endian"),
                             ("bad_utf32le.csv", "utf-32-le", "UTF-32 little-endian")):
        (folder / name).write_bytes(text.encode(enc))
        exp.append((name, "lots", "not_utf8", None, "", f"{label} without a byte-order mark"))
    lines = text.split("\n")
    lines[3] = lines[3].replace(",", ",\x00", 1)
    (folder / "bad_nul_bytes.csv").write_bytes("\n".join(lines).encode())
    exp.append(("bad_nul_bytes.csv", "lots", "unreadable_file", 4, "",
                "a NUL byte on line 4 (binary data)"))

    # --- workbooks ------------------------------------------------------------------------
    def workbook() -> openpyxl.Workbook:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "Lots"
        ws.append(header)
        for r in good:
            ws.append(r[:3] + [dt.date.fromisoformat(r[3]), float(r[4]), float(r[5])])
        for row in ws.iter_rows(min_row=2):
            row[3].number_format = "yyyy-mm-dd"
        return wb

    wb = workbook()
    wb["Lots"].row_dimensions[4].hidden = True
    save_xlsx(wb, folder / "bad_hidden_row.xlsx")
    exp.append(("bad_hidden_row.xlsx", "lots", "excel_hidden", 4, "",
                "row 4 (the JNJ lot) is hidden"))
    wb = workbook()
    wb["Lots"].column_dimensions["F"].hidden = True
    save_xlsx(wb, folder / "bad_hidden_column.xlsx")
    exp.append(("bad_hidden_column.xlsx", "lots", "excel_hidden", 1, "cost_per_share",
                "column F (cost_per_share) is hidden"))
    for name, state in (("bad_hidden_sheet.xlsx", "hidden"),
                        ("bad_very_hidden_sheet.xlsx", "veryHidden")):
        wb = workbook()
        old = wb.create_sheet("Closed lots")
        old.append(header)
        old.append(good[0])
        old.sheet_state = state
        save_xlsx(wb, folder / name)
        exp.append((name, "lots", "excel_hidden", None, "",
                    f"a second sheet of lots is {state} (sheet_state={state!r})"))
    wb = workbook()
    wb["Lots"].cell(row=3, column=5).value = 1e308
    save_xlsx(wb, folder / "bad_xlsx_huge_number.xlsx")
    exp.append(("bad_xlsx_huge_number.xlsx", "lots", "out_of_range", 3, "shares",
                "a numeric cell of 1e308 shares"))
    wb = workbook()
    wb["Lots"].cell(row=2, column=4).value = dt.datetime(1899, 12, 30)
    save_xlsx(wb, folder / "bad_xlsx_day_zero.xlsx")
    exp.append(("bad_xlsx_day_zero.xlsx", "lots", "out_of_range", 2, "acquired",
                "a date cell holding Excel's day zero (1899-12-30)"))

    save_xlsx(workbook(), folder / "good_lots.xlsx")
    package = (folder / "good_lots.xlsx").read_bytes()
    (folder / "good_lots.xlsx").unlink()

    def repack(edit: Callable[[str, bytes], bytes]) -> bytes:
        src = zipfile.ZipFile(io.BytesIO(package))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for info in src.infolist():
                zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                zi.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(zi, edit(info.filename, src.read(info.filename)))
        return out.getvalue()

    (folder / "bad_no_sheets.xlsx").write_bytes(repack(
        lambda n, d: re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", d)
        if n == "xl/workbook.xml" else d))
    exp.append(("bad_no_sheets.xlsx", "lots", "excel_no_sheets", None, "",
                "the workbook lists no sheet"))
    (folder / "bad_truncated_sheet.xlsx").write_bytes(repack(
        lambda n, d: d[: len(d) // 2] if n == "xl/worksheets/sheet1.xml" else d))
    exp.append(("bad_truncated_sheet.xlsx", "lots", "truncated_file", None, "",
                "the sheet's XML stops half way (a valid zip around a cut part)"))
    (folder / "bad_truncated_zip.xlsx").write_bytes(package[: len(package) * 2 // 3])
    exp.append(("bad_truncated_zip.xlsx", "lots", "truncated_file", None, "",
                "the file stops at two thirds (an interrupted download)"))
    try:
        from msoffcrypto.format.ooxml import OOXMLFile
        from msoffcrypto.method import ecma376_agile
        from msoffcrypto.method.container import ecma376_encrypted
    except ImportError:
        raise SystemExit("bad_encrypted.xlsx needs msoffcrypto-tool: pip install "
                         "msoffcrypto-tool") from None
    # the same bytes every build: seeded salts and a fixed container timestamp (both are
    # internals of msoffcrypto-tool 6; without them the file only differs, it still works)
    if hasattr(ecma376_agile, "_random_buffer"):
        ecma376_agile._random_buffer = random.Random(11).randbytes
    if hasattr(ecma376_encrypted, "datetime2filetime"):
        stamp = ecma376_encrypted.datetime2filetime(dt.datetime(2026, 7, 31))
        ecma376_encrypted.datetime2filetime = lambda _now: stamp
    enc = io.BytesIO()
    OOXMLFile(io.BytesIO(package)).encrypt("pma-lab", enc)
    (folder / "bad_encrypted.xlsx").write_bytes(enc.getvalue())
    exp.append(("bad_encrypted.xlsx", "lots", "encrypted_file", None, "",
                "the workbook is password-protected (ECMA-376 encryption, password pma-lab)"))

    # --- blotters -----------------------------------------------------------------------
    blotter("bad_blotter_price_inf.csv", 4, "price", "inf", "non_finite", "a price of inf")
    blotter("bad_blotter_shares_huge.csv", 3, "shares", "1e12", "out_of_range",
            "a trade of 1e12 shares")
    blotter("bad_blotter_ambiguous_shares.csv", 2, "shares", "1,040", "ambiguous_number",
            "1,040 shares: 1040 or 1.04 (blotter prices are not checked against the market)")
    blotter("bad_blotter_date_1899.csv", 5, "date", "1899-12-30", "out_of_range",
            "a trade dated 1899-12-30 (Excel's day zero)")
    fee_header = bheader + ["fees"]
    fee_rows = [r + ["0.00"] for r in good_b]
    blotter("bad_blotter_fees_nan.csv", 3, "fees", "NaN", "non_finite", "a fee of NaN",
            hdr=fee_header, rows=fee_rows)
    (folder / "bad_blotter_utf16.csv").write_bytes(
        _csv_text(bheader, good_b).encode("utf-16-le"))
    exp.append(("bad_blotter_utf16.csv", "blotter", "not_utf8", None, "",
                "UTF-16 little-endian without a byte-order mark"))

    # --- profiles -----------------------------------------------------------------------
    profile("bad_profile_nan_income.toml", "taxable_income = 250000.0",
            "taxable_income = nan", "non_finite", "tax.taxable_income",
            "taxable_income = nan (it used to invent tax rates)")
    profile("bad_profile_inf_budget.toml", "total = 10000.0", "total = inf", "non_finite",
            "budgets.total", "an infinite budget")
    profile("bad_profile_huge_cash.toml", 'id = "taxable"\ntype = "taxable"\n',
            'id = "taxable"\ntype = "taxable"\ncash = 1e308\n', "out_of_range",
            "accounts[0].cash", "1e308 USD of cash")
    profile("bad_profile_big_int.toml", "taxable_income = 250000.0",
            "taxable_income = 1" + "0" * 400, "out_of_range", "tax.taxable_income",
            "a 401-digit integer income (too large for a float)")
    profile("bad_profile_sector_table.toml", 'categories = ["tobacco"]',
            'categories = ["tobacco"]\nexclude_sectors = [{a = 1}]', "wrong_type",
            "restrictions.exclude_sectors[0]", "a table where a sector name belongs")
    profile("bad_profile_category_type.toml", 'categories = ["tobacco"]',
            "categories = [7]", "wrong_type", "restrictions.categories[0]",
            "a number where a category name belongs")
    profile("bad_profile_empty_files.toml", 'files = ["good_lots.csv"]', "files = []",
            "missing_value", "lots.files", "lots.files is empty (it crashed with IndexError)")
    deep = "[" * 5000 + "]" * 5000
    profile("bad_profile_deep_nesting.toml", '[target]\nmodel = "sp500"\n',
            f'[target]\nmodel = "sp500"\nnames = {deep}\n', "toml_too_deep", "",
            "arrays nested 5000 deep (RecursionError in the TOML reader)")
    profile("bad_profile_concentrated_type.toml", "[target]",
            "[concentrated]\nticker = 123\n\n[target]", "wrong_type", "concentrated.ticker",
            "ticker = 123 (the section used to be dropped silently)")
    profile("bad_profile_id_newline.toml", 'id = "bad-base"', 'id = "bad-base\\n"',
            "invalid_value", "client.id", "an id with a trailing newline")
    profile("bad_profile_as_of_1899.toml", "as_of = 2026-07-31",
            "as_of = 1899-12-31", "out_of_range", "client.as_of",
            "as_of before 1900")
    profile("bad_profile_allow_hidden_type.toml", 'default_account = "taxable"',
            'default_account = "taxable"\nallow_hidden = "yes"', "wrong_type",
            "lots.allow_hidden", "allow_hidden must be true or false")
    profile("bad_profile_duplicate_file.toml", 'files = ["good_lots.csv"]',
            'files = ["good_lots.csv", "./good_lots.csv"]', "duplicate_file", "lots.files[1]",
            "the same lots file listed twice")

    # --- paths: confined to the profile's folder ------------------------------------------
    profile("bad_profile_path_parent.toml", 'files = ["good_lots.csv"]',
            'files = ["../clients/household/household_lots.csv"]', "path_outside",
            "lots.files[0]", "a real lots file, but in another client's folder (../)")
    profile("bad_profile_path_absolute.toml", 'files = ["good_lots.csv"]',
            'files = ["/etc/passwd"]', "path_outside", "lots.files[0]",
            "an absolute path to a system file")
    link = folder / "linked_lots.csv"
    link.unlink(missing_ok=True)
    os.symlink("../clients/tech-exec/lots.csv", link)
    profile("bad_profile_path_symlink.toml", 'files = ["good_lots.csv"]',
            'files = ["linked_lots.csv"]', "path_outside", "lots.files[0]",
            "linked_lots.csv is a symbolic link to ../clients/tech-exec/lots.csv")
    profile("bad_profile_recent_outside.toml", 'default_account = "taxable"',
            'default_account = "taxable"\n'
            'recent_trades = "../clients/household/recent_trades.csv"', "path_outside",
            "lots.recent_trades", "recent trades from another client's folder")
    return exp
