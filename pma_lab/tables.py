"""Read a user's CSV or XLSX file into a header and rows of text, strictly.

This is the first half of ingestion: it finds the header, checks encoding, delimiter,
ragged rows, Excel formulas and merged cells, and maps header cells onto the canonical
fields of :mod:`pma_lab.schema`. Values stay text (Excel dates become ISO dates, numbers
their shortest repr), so one validation path serves both formats. Nothing is guessed: an
encoding that is not UTF-8 or a formula is reported with the fix, never worked around; a
semicolon-separated export (and its decimal commas) is read only when its header names
known columns and the caller asks, and then a warning says what was detected.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pma_lab.errors import Issue, Severity
from pma_lab.schema import Field, ReadPolicy, header_key

__all__ = ["RawTable", "read_table", "map_columns", "header_names"]

_PREAMBLE_SCAN = 10


@dataclass(frozen=True)
class RawTable:
    """Text cells of a file's data rows, with where each row came from.

    Attributes
    ----------
    file : str
        The path as the user gave it (used in messages).
    header : tuple[str, ...]
        Header cells as they appear in the file.
    rows : list[list[str]]
        Data rows (same length as the header), text; blank cells are ``""``.
    row_numbers : list[int]
        Spreadsheet row number of each data row (header row = its own number, usually 1).
    header_row : int
        Spreadsheet row number of the header.
    reported : frozenset[tuple[int, int]]
        (spreadsheet row, column index) of cells already reported at file level (Excel
        formulas, merged cells); row checks stay silent about them to avoid echoes.
    """

    file: str
    header: tuple[str, ...]
    rows: list[list[str]]
    row_numbers: list[int]
    header_row: int
    reported: frozenset[tuple[int, int]] = frozenset()


def _issue(file: str, code: str, message: str, fix: str, row: int | None = None,
           column: str | None = None, value: str | None = None,
           severity: Severity = Severity.ERROR) -> Issue:
    return Issue(file, row, column, value, message, fix, severity, code)


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        if v.time() != dt.time(0):
            return v.isoformat(sep=" ")
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.time):  # a date cell holding a serial below 1: Excel's day zero
        return "1899-12-30" + ("" if v == dt.time(0) else f" {v.isoformat()}")
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return repr(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    return str(v).strip()


def _find_header(rows: Sequence[Sequence[str]], fields: Sequence[Field]) -> int:
    """Index of the header row: the first of the first rows naming two required fields."""
    required = [f for f in fields if f.required]
    for i, row in enumerate(rows[:_PREAMBLE_SCAN]):
        keys = {header_key(c) for c in row if str(c).strip()}
        hits = sum(1 for f in required if keys & f.keys())
        if hits >= min(2, len(required)):
            return i
    return 0


_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32"),
    (b"\xef\xbb\xbf", "utf-8-sig", "UTF-8"),
    (b"\xff\xfe", "utf-16", "UTF-16"),
    (b"\xfe\xff", "utf-16", "UTF-16"),
)
_SAVE_UTF8 = ("re-save the file as UTF-8 (Excel: 'CSV UTF-8 (Comma delimited)'); pma_lab does "
              "not guess encodings")


def _wide_encoding(data: bytes) -> str | None:
    """Name the UTF-16/32 variant of BOM-less text from where its zero bytes fall.

    ASCII text in UTF-32 has three zero bytes in every four, in UTF-16 one in every two,
    before (big-endian) or after (little-endian) the character byte. ``None`` when the zero
    bytes follow none of these patterns (binary data).
    """
    head = data[:4096]
    n = len(head) // 4
    if n == 0:
        return None
    share = [head[i:4 * n:4].count(0) / n for i in range(4)]
    hi, lo = 0.9, 0.5
    if min(share[1:]) > hi and share[0] < lo:
        return "UTF-32 little-endian"
    if min(share[:3]) > hi and share[3] < lo:
        return "UTF-32 big-endian"
    hi = 0.6  # non-ASCII characters have a non-zero high byte in UTF-16
    if min(share[1], share[3]) > hi and max(share[0], share[2]) < lo:
        return "UTF-16 little-endian"
    if min(share[0], share[2]) > hi and max(share[1], share[3]) < lo:
        return "UTF-16 big-endian"
    return None


def _decode(file: str, data: bytes, issues: list[Issue]) -> str | None:
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as e:
                issues.append(_issue(
                    file, "not_utf8", f"the file starts with a {name} byte-order mark but is "
                    f"not valid {name} (bad bytes at offset {e.start})", _SAVE_UTF8))
                return None
    if b"\x00" in data:
        wide = _wide_encoding(data)
        if wide is not None:
            issues.append(_issue(
                file, "not_utf8", f"the file is {wide} text without a byte-order mark, not "
                "UTF-8", _SAVE_UTF8))
        else:
            line = data[: data.index(b"\x00")].count(b"\n") + 1
            issues.append(_issue(
                file, "unreadable_file", f"the file holds NUL bytes (line {line}): it is "
                "binary data, not a text export", "export the lots as CSV (UTF-8) or .xlsx",
                row=line))
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        bad = data[e.start: e.start + 1]
        issues.append(_issue(
            file, "not_utf8",
            f"the file is not UTF-8 text: byte {bad!r} at offset {e.start} (line {line}) "
            "is not valid UTF-8 (the file looks like Windows-1252/Latin-1)", _SAVE_UTF8,
            row=line, value=repr(bad)))
        return None


def header_names(cells: Sequence[str], fields: Sequence[Field], limit: int = 12) -> str | None:
    """The header cells as text for a message, or ``None`` when none of them is a known name.

    A file whose first row names no known column is not the expected kind of file (perhaps
    not a table at all), so its first row is never echoed: messages show at most the header
    names of a recognisable table, each cut to 40 characters.
    """
    keys = set().union(*(f.keys() for f in fields))
    if not any(header_key(c) in keys for c in cells):
        return None
    shown = [repr(c[:40] + ("..." if len(c) > 40 else "")) for c in cells if c][:limit]
    more = len([c for c in cells if c]) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


_OTHER_DELIMITERS = ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes"))


def _read_csv(path: Path, file: str, delimiter: str, fields: Sequence[Field],
              issues: list[Issue], detect: bool
              ) -> tuple[list[list[str]], list[int], str] | None:
    """The CSV's records, their line numbers and the delimiter they were split by.

    With ``detect``, a file whose first line has no ``delimiter`` but semicolons, tabs or
    pipes that split it into known column names (a European custodian's export) is read with
    that delimiter and a ``detected_delimiter`` warning says so (the caller must show its
    warnings); otherwise, or when the first line names no known column, it is refused
    (``wrong_delimiter``) rather than guessed.
    """
    data = path.read_bytes()
    if not data.strip():
        issues.append(_issue(file, "empty_file", "the file is empty",
                             "export the lots again; the file has no header and no rows"))
        return None
    text = _decode(file, data, issues)
    if text is None:
        return None
    got = _split_csv(text, file, delimiter, issues)
    if got is None:
        return None
    rows, numbers = got
    first = next((r for r in rows if any(c.strip() for c in r)), [])
    if len(first) <= 1:
        head = first[0] if first else ""
        for delim, name in _OTHER_DELIMITERS:
            if delim not in head or delim == delimiter:
                continue
            shown = header_names(head.split(delim), fields)
            if shown is None or not detect:  # not recognisable, or warnings not shown
                issues.append(_issue(
                    file, "wrong_delimiter",
                    f"the first line is separated by {name}, not by commas"
                    + ("" if shown is not None else ", and names no known column"),
                    "save the file as comma-separated CSV (Excel: File > Save As > CSV "
                    "UTF-8)" + ("" if shown is not None else
                                " with a header row naming the columns"),
                    row=1, value=shown))
                return None
            issues.append(_issue(
                file, "detected_delimiter",
                f"the file is separated by {name}, not by commas: it was read with "
                f"{delim!r} as the delimiter",
                "nothing to do if the columns read are right; to be explicit, save it as "
                f"comma-separated CSV or set lots.delimiter = {delim!r} in the profile",
                row=1, value=shown, severity=Severity.WARNING))
            got = _split_csv(text, file, delim, issues)
            if got is None:
                return None
            return got[0], got[1], delim
    return rows, numbers, delimiter


def _split_csv(text: str, file: str, delimiter: str, issues: list[Issue]
               ) -> tuple[list[list[str]], list[int]] | None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    numbers: list[int] = []
    try:
        for rec in reader:
            rows.append(rec)
            numbers.append(len(rows))
    except csv.Error as e:
        issues.append(_issue(file, "unreadable_file", f"the CSV cannot be parsed: {e}",
                             "check quoting near that line; quotes inside a field must be "
                             "doubled", row=reader.line_num))
        return None
    return rows, numbers


# numeric fields of every table read here (lots, blotters, benchmark weights, specific risk)
NUMERIC_FIELDS: frozenset[str] = frozenset({"shares", "cost_per_share", "cost_total", "price",
                                            "fees", "weight", "specific_var"})
_NUM_CORE = r"[-+(]?\s*\$?\s*[-+]?(?P<n>[\d.,\s\u00a0\u202f']+)\)?"
_NUM_CELL = re.compile(_NUM_CORE)
# a decimal comma for sure: "12,5", "0,25", "1.234,56", "1 234,5"; a decimal point for
# sure: "12.5", "1,234.56". "41,900" and "1.234" fit both (a thousands group) and decide
# nothing.
# A first group of 0 ("0.500", "00,300") is no thousands group: only a decimal mark.
_COMMA_DEC = re.compile(r"\d*,(?:\d{1,2}|\d{4,})|0\d*,\d+"
                        r"|\d{1,3}(?:[.\s\u00a0\u202f']\d{3})+,\d+")
_DOT_GROUP = re.compile(r"[1-9]\d{0,2}(?:\.\d{3})+")
_POINT_DEC = re.compile(r"\d*\.(?:\d{1,2}|\d{4,})|0\d*\.\d+|\d{1,3}(?:,\d{3})+\.\d+")
# one group either way: "1.500" (1500 with decimal commas, 1.5 with points) and "1,500"
_ONE_DOT_GROUP = re.compile(r"[1-9]\d{0,2}\.\d{3}")
_ONE_COMMA_GROUP = re.compile(r"[1-9]\d{0,2},\d{3}")
# a number as a file of decimal commas writes it: "1234,5", "1.234,56", "1 234", ",5"; the
# same thousands separator throughout, groups of three ("1.2.3", "12.34,5" are not)
_COMMA_NUMBER = re.compile(r"\d+(?:,\d*)?|,\d+"
                           r"|\d{1,3}(?P<g>[.\s\u00a0\u202f'])\d{3}(?:(?P=g)\d{3})*(?:,\d*)?")


def _decimal_commas(file: str, header: Sequence[str], data: list[list[str]],
                    numbers: list[int], fields: Sequence[Field], delimiter: str,
                    issues: list[Issue], reported: set[tuple[int, int]]) -> None:
    """Rewrite the number cells of a file that writes decimal commas, saying so.

    Only a file not separated by commas is looked at, and only its number columns. When
    some cell can only be a decimal comma (``12,5``, ``1.234,56``) and none can only be a
    decimal point, every number cell is rewritten (``1.234,56`` -> ``1234.56``, ``41,900``
    -> ``41.900``) and a ``decimal_comma`` warning names the cell that decided it. Cells of
    both kinds in one file are an error naming one of each: the file is never guessed.
    """
    by_key = {k: f.name for f in fields for k in f.keys()}
    cols = [i for i, h in enumerate(header) if by_key.get(header_key(h)) in NUMERIC_FIELDS]
    comma = point = None
    for r, rec in enumerate(data):
        for i in cols:
            m = _NUM_CELL.fullmatch(rec[i]) if i < len(rec) else None
            if m is None:
                continue
            core = m.group("n").strip()
            if comma is None and _COMMA_DEC.fullmatch(core):
                comma = (r, i)
            elif point is None and _POINT_DEC.fullmatch(core):
                point = (r, i)
    if comma is None:
        if point is None:  # "1.500": 1.5, or 1500 with '.' grouping; nothing tells which
            for r, rec in enumerate(data):
                for i in cols:
                    m = _NUM_CELL.fullmatch(rec[i]) if i < len(rec) else None
                    if m is not None and _DOT_GROUP.fullmatch(m.group("n").strip()):
                        issues.append(_issue(
                            file, "ambiguous_number",
                            f"the file is separated by {delimiter!r} and no number in it "
                            "shows its decimal mark, so this value could be a decimal "
                            "point or a thousands separator",
                            "write the number without a thousands separator (1500, or 1.5)",
                            row=numbers[r], column=header[i], value=rec[i]))
                        reported.add((numbers[r], i))
        return
    cr, ci = comma
    cell = data[cr][ci]
    if point is not None:
        pr, pi = point
        at_r, at_i = max(comma, point)  # the later cell of the two is the odd one out
        issues.append(_issue(
            file, "mixed_decimal_marks",
            f"numbers use both a decimal comma (row {numbers[cr]}, column '{header[ci]}': "
            f"{data[cr][ci]!r}) and a decimal point (row {numbers[pr]}, column "
            f"'{header[pi]}': {data[pr][pi]!r})",
            "write every number with the same decimal mark", row=numbers[at_r],
            column=header[at_i], value=data[at_r][at_i]))
        # the one error stands for every number cell of the file: none is read, so none
        # is reported again as "not a number" with a fix for the other convention
        reported.update((numbers[r], i) for r, rec in enumerate(data) for i in cols
                        if i < len(rec) and _NUM_CELL.fullmatch(rec[i]))
        return
    # "1.500" (1500 here, 1.5 in a file of decimal points) and "1,500" (1.5 here, 1500
    # there): each cell whose value the file's convention decided is named
    grouped = []
    for r, rec in enumerate(data):
        for i in cols:
            m = _NUM_CELL.fullmatch(rec[i]) if i < len(rec) else None
            if m is None:
                continue
            written = rec[i]
            core = m.group("n").strip()
            if not _COMMA_NUMBER.fullmatch(core):
                # "1.2.3" would read as 123, "1,2,3" as a "not a number" quoting 1.2.3
                # with a fix for decimal points (review 14, L6): said here, as written
                issues.append(_issue(
                    file, "non_numeric",
                    "not a number as this file writes them (decimal commas, "
                    "'.' or a space between groups of three digits)",
                    "write it as 1234,56 or 1.234,56 (one decimal comma; thousands "
                    "separators only between groups of three digits)",
                    row=numbers[r], column=header[i], value=written))
                reported.add((numbers[r], i))
                continue
            rec[i] = re.sub(r"[.\s\u00a0\u202f']", "", written.strip()).replace(",", ".")
            if _ONE_DOT_GROUP.fullmatch(core) or _ONE_COMMA_GROUP.fullmatch(core):
                grouped.append((r, i, written, core, rec[i]))
    issues.append(_issue(
        file, "decimal_comma",
        f"the file is separated by {delimiter!r} and writes decimal commas (row "
        f"{numbers[cr]}, column '{header[ci]}'): its numbers were read with ',' as the decimal "
        "mark and '.' as the thousands separator",
        "nothing to do if that is right; otherwise write the numbers with decimal points",
        row=numbers[cr], column=header[ci], value=cell, severity=Severity.WARNING))
    for r, i, written, core, _ in grouped:
        value = Decimal(core.replace(".", "").replace(",", ".")).normalize()
        other = Decimal(core.replace(",", "")).normalize()  # as a file of decimal points
        if "." in core:
            said = (f"{written!r} was read as {value:f} (the file writes decimal commas, so "
                    "'.' separates thousands)")
            fix = (f"nothing to do if that is right; if it means {other:f} write "
                   f"{core.replace('.', ',')} (with decimal commas)")
        else:
            said = (f"{written!r} was read as {value:f} (the file writes decimal commas, so "
                    "',' is the decimal mark)")
            fix = (f"nothing to do if that is right; if it means {other:f} write {other:f} "
                   "(no thousands separator)")
        issues.append(_issue(file, "one_group_number", said, fix, row=numbers[r],
                             column=header[i], value=written, severity=Severity.WARNING))


_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2 compound file (.xls, encrypted .xlsx)
_UNPROTECT = ("encrypted: export it unprotected (Excel: File > Info > Protect Workbook > "
              "Encrypt with Password, clear the password, save) or export CSV")


def _container_problem(data: bytes) -> tuple[str, str, str] | None:
    """(code, message, fix) when the bytes cannot be an .xlsx package, else ``None``.

    Excel saves a password-protected workbook as an OLE2 compound file holding an
    ``EncryptedPackage`` stream (ECMA-376 encryption); an Excel 97-2003 workbook is an OLE2
    file without it. A zip that starts like one but has no central directory was cut short.
    """
    if data.startswith(_CFB_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            return ("encrypted_file", "the workbook is encrypted (password-protected)",
                    _UNPROTECT)
        return ("unreadable_file", "the file is an Excel 97-2003 workbook (.xls) or another "
                "OLE2 document, not an .xlsx workbook",
                "open it in Excel and save it as .xlsx (Excel Workbook), or export CSV")
    if data.startswith(b"PK\x03\x04") and not zipfile.is_zipfile(io.BytesIO(data)):
        return ("truncated_file", "the workbook is cut short: its zip directory is missing",
                "copy or download the file again; this copy is incomplete")
    if not data.startswith(b"PK") and _looks_like_text(data[:4096]):
        sep = "tabs" if b"\t" in data[:4096] else "commas"
        return ("unreadable_file", "the file is plain text, not an Excel workbook: it looks "
                f"like CSV (values separated by {sep}) saved with an .xlsx name",
                "rename it to .csv (or open it in Excel and save it as .xlsx)")
    return None


def _looks_like_text(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) reads as delimited text.

    That is: decodable, no control bytes but tabs and line ends, and a comma, semicolon
    or tab in it.
    """
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = head.decode("cp1252")
        except UnicodeDecodeError:
            return False
    if not text.strip() or any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return False
    return any(d in text for d in ",;\t")


def _hidden(ws: Any, sheet_rows: list[list[str]], numbers: list[int],
            header_cells: Sequence[str] | None, header_row: int, file: str, allow: bool,
            issues: list[Issue]) -> None:
    """Report hidden (or filtered-out) rows and hidden columns that hold values.

    ``header_cells`` name the columns (``None`` for a table that is not recognisable, whose
    cells are never echoed: the column letter is used).
    """
    from openpyxl.utils import get_column_letter

    severity = Severity.WARNING if allow else Severity.ERROR
    fix = ("unhide them (select all, then Format > Hide & Unhide) and delete what is not a "
           "lot, or set lots.allow_hidden = true in the profile to read them as lots")
    hidden_rows = {int(r) for r, d in ws.row_dimensions.items() if d.hidden}
    for vals, num in zip(sheet_rows, numbers, strict=True):
        if num in hidden_rows and any(vals):
            issues.append(_issue(
                file, "excel_hidden", f"row {num} of sheet {ws.title!r} is hidden (or "
                "filtered out) but holds values" + ("; read as data" if allow else ""), fix,
                row=num, severity=severity))
    width = max((len(r) for r in sheet_rows), default=0)
    hidden_cols = sorted({c for d in ws.column_dimensions.values() if d.hidden
                          for c in range(d.min or 1, (d.max or d.min or 1) + 1)})
    for c in hidden_cols:
        if c > width or not any(len(r) >= c and r[c - 1] for r in sheet_rows):
            continue
        name = (header_cells[c - 1] if header_cells and c - 1 < len(header_cells)
                and header_cells[c - 1] else get_column_letter(c))
        issues.append(_issue(
            file, "excel_hidden", f"column {get_column_letter(c)} of sheet {ws.title!r} is "
            "hidden but holds values" + ("; read as data" if allow else ""), fix,
            row=header_row, column=name[:40], severity=severity))


def _read_xlsx(path: Path, file: str, sheet: str | None, fields: Sequence[Field],
               issues: list[Issue], reported: set[tuple[int, int]], allow_hidden: bool = False
               ) -> tuple[list[list[str]], list[int]] | None:
    import openpyxl  # local import: only needed for Excel files
    from openpyxl.utils.exceptions import InvalidFileException

    data = path.read_bytes()
    problem = _container_problem(data)
    if problem is not None:
        code, message, fix = problem
        issues.append(_issue(file, code, message, fix))
        return None
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError,
            TypeError) as e:
        # the exception's type only: its text may quote the file's content
        issues.append(_issue(file, "unreadable_file",
                             f"the file cannot be opened as an Excel workbook "
                             f"({type(e).__name__})",
                             "save it from Excel as .xlsx (Excel Workbook), or export CSV"))
        return None
    except (SyntaxError, EOFError, zlib.error) as e:  # XML parse errors subclass SyntaxError
        issues.append(_issue(file, "truncated_file",
                             f"a part of the workbook is cut short or corrupt "
                             f"({type(e).__name__})",
                             "copy or download the file again, or open it in Excel and save "
                             "it again as .xlsx"))
        return None
    names = wb.sheetnames
    if not names:
        issues.append(_issue(file, "excel_no_sheets", "the workbook has no worksheet",
                             "export the lots again; the workbook holds no sheet to read"))
        return None
    hidden_sheets = [ws.title for ws in wb.worksheets if ws.sheet_state != "visible"]
    if hidden_sheets:
        issues.append(_issue(
            file, "excel_hidden",
            f"the workbook has hidden sheet{'s' if len(hidden_sheets) > 1 else ''} "
            f"{', '.join(map(repr, hidden_sheets[:10]))}: a reader cannot see what they hold",
            "unhide them (right-click a sheet tab > Unhide) and delete those that are not "
            "lots, or set lots.allow_hidden = true in the profile",
            severity=Severity.WARNING if allow_hidden else Severity.ERROR))
    if sheet is not None:
        if sheet not in names:
            issues.append(_issue(file, "invalid_value",
                                 f"the workbook has no sheet named {sheet!r}",
                                 f"use one of the sheets: {', '.join(names)}", value=sheet))
            return None
        ws = wb[sheet]
    else:
        ws = wb[names[0]]
        if len(names) > 1:
            issues.append(_issue(
                file, "excel_sheet_choice",
                f"the workbook has {len(names)} sheets; read the first, {names[0]!r}, and "
                f"ignored {', '.join(map(repr, names[1:]))}",
                "name the sheet to read (lots.sheet in the profile / --sheet) to silence this",
                severity=Severity.WARNING))
    if not hasattr(ws, "iter_rows"):
        issues.append(_issue(file, "unreadable_file", f"sheet {ws.title!r} is a chart, not "
                             "a worksheet", "name the worksheet that holds the lots "
                             "(lots.sheet in the profile)"))
        return None
    if ws.merged_cells.ranges:
        rngs = sorted(str(r) for r in ws.merged_cells.ranges)
        first = ws.merged_cells.ranges.__iter__().__next__()
        issues.append(_issue(
            file, "excel_merged_cells",
            f"sheet {ws.title!r} has merged cells ({', '.join(rngs[:10])}); merged cells hide "
            "which row a value belongs to",
            "unmerge all cells (Home > Merge & Center > Unmerge) and fill every row's value",
            row=first.min_row, value=", ".join(rngs[:10])))
        for rng in ws.merged_cells.ranges:
            for r in range(rng.min_row, rng.max_row + 1):
                for col in range(rng.min_col, rng.max_col + 1):
                    reported.add((r, col - 1))
    rows: list[list[str]] = []
    numbers: list[int] = []
    formulas = []
    for r in ws.iter_rows():
        vals = []
        for c in r:
            if c.data_type == "f":
                formulas.append(c)
                reported.add((c.row, c.column - 1))
                vals.append("")
            else:
                vals.append(_cell_text(c.value))
        while vals and vals[-1] == "":
            vals.pop()
        rows.append(vals)
        numbers.append(r[0].row if r else len(rows))
    if not any(any(v for v in row) for row in rows):
        issues.append(_issue(file, "empty_file", f"sheet {ws.title!r} is empty",
                             "export the lots again, or name the sheet that holds them"))
        return None
    # cells are named by their header only in a recognisable table (see header_names)
    at = _find_header(rows, fields)
    header: list[str] | None = rows[at]
    if header_names(header, fields) is None:
        header = None
    for c in formulas:
        col_head = header[c.column - 1] if header and c.column - 1 < len(header) else None
        issues.append(_issue(
            file, "excel_formula", f"cell {c.coordinate} holds a formula, not a value",
            "replace formulas by their values (copy, then Paste Special > Values) so the file "
            "is the custodian's data, not a calculation", row=c.row,
            column=col_head or c.column_letter,
            value=str(c.value)[:40] if header is not None else None))
    _hidden(ws, rows, numbers, header, numbers[at], file, allow_hidden, issues)
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    return rows, numbers


def _text_line(rec: Sequence[str]) -> bool:
    """A line of text rather than a row: one non-blank cell holding words, as a note has.

    No ticker, date or number holds a space, so a cut-short row (``AAPL``) is not text.
    """
    cells = [c.strip() for c in rec if c.strip()]
    return len(cells) == 1 and " " in cells[0]


def _ragged(file: str, rec: Sequence[str], n: int, num: int) -> Issue:
    """The issue of a line whose field count differs from the header's (not echoed)."""
    what = f"the row has {len(rec)} field{'s' if len(rec) != 1 else ''} but the header has {n}"
    if len(rec) > n:
        return _issue(file, "ragged_row", what,
                      "a value probably contains an unquoted comma (e.g. 1,234.56 or a "
                      "company name); quote it or remove the thousands separator", row=num)
    if sum(1 for c in rec if c.strip()) <= 1:
        return _issue(file, "ragged_row", what + "; it has no delimiter, so it looks like a "
                      "line of text (a note or heading) or a row cut short, not a lot",
                      "remove the line, or complete the row (text is skipped only after the "
                      "last data row, as a footer)", row=num)
    return _issue(file, "ragged_row", what + ": cells are missing",
                  "give the row a cell for every column (a blank cell is nothing between "
                  "two delimiters)", row=num)


def _rows_text(nums: Sequence[int]) -> str:
    """``row 5`` or ``rows 5-7, 9``: spreadsheet row numbers, runs joined."""
    runs: list[list[int]] = []
    for k in nums:
        if runs and k == runs[-1][1] + 1:
            runs[-1][1] = k
        else:
            runs.append([k, k])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)
    return f"row{'s' if len(nums) > 1 else ''} {text}"


def _shown_text(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def read_table(path: str | Path, fields: Sequence[Field], *, delimiter: str = ",",
               sheet: str | None = None, policy: ReadPolicy | None = None,
               detect_delimiter: bool = False) -> tuple[RawTable | None, list[Issue]]:
    """Read a CSV/XLSX file into a :class:`RawTable`, collecting file-level issues.

    Parameters
    ----------
    path : str | Path
        The file.
    fields : Sequence[Field]
        The canonical fields (used to find the header below any custodian preamble).
    delimiter : str
        CSV delimiter (default comma).
    sheet : str | None
        XLSX sheet name (default: the first sheet, with a warning when there are several).
    policy : ReadPolicy | None
        Opt-ins (``allow_hidden``: hidden rows, columns and sheets are warnings, not errors);
        ``None``: none.
    detect_delimiter : bool
        Read a CSV separated by semicolons, tabs or pipes whose header names known columns,
        with a ``detected_delimiter`` warning, instead of refusing it (for callers that show
        their warnings). A CSV not separated by commas (detected or declared) that writes
        decimal commas has its number columns read so, with a ``decimal_comma`` warning.

    Returns
    -------
    tuple[RawTable | None, list[Issue]]
        The table (``None`` when the file cannot be read at all) and the issues found.
    """
    p = Path(path)
    file = str(path)
    issues: list[Issue] = []
    reported: set[tuple[int, int]] = set()
    if not p.is_file():
        issues.append(_issue(file, "file_not_found", "the file does not exist",
                             "check the path (relative paths in a profile are relative to "
                             "the profile's folder)"))
        return None, issues
    suffix = p.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        got = _read_csv(p, file, "\t" if suffix == ".tsv" and delimiter == "," else delimiter,
                        fields, issues, detect_delimiter)
        if got is not None:
            got, delimiter = got[:2], got[2]
    elif suffix in (".xlsx", ".xlsm"):
        got = _read_xlsx(p, file, sheet, fields, issues, reported,
                         policy is not None and policy.allow_hidden)
    else:
        issues.append(_issue(file, "unsupported_format",
                             f"files of type '{suffix or '(none)'}' are not read",
                             "export the lots as .csv (UTF-8) or .xlsx"))
        return None, issues
    if got is None:
        return None, issues
    rows, numbers = got
    h = _find_header(rows, fields)
    while h < len(rows) and not any(c.strip() for c in rows[h]):
        h += 1
    if h >= len(rows):
        issues.append(_issue(file, "empty_file", "the file has no header row",
                             "export the lots again with a header row"))
        return None, issues
    if h > 0:
        issues.append(_issue(
            file, "preamble_skipped",
            f"rows {numbers[0]}-{numbers[h - 1]} above the header were skipped as a preamble",
            "nothing to do if those rows are a title; otherwise remove them",
            row=numbers[0], severity=Severity.WARNING))
    header = tuple(c.strip() for c in rows[h])
    while header and header[-1] == "":
        header = header[:-1]
    data: list[list[str]] = []
    data_numbers: list[int] = []
    n = len(header)
    pending: list[tuple[list[str], int]] = []  # text lines not yet known to be a footer

    def take(rec: list[str], num: int) -> None:
        if len(rec) != n:
            extra = rec[n:]
            if len(rec) > n and not any(c.strip() for c in extra):
                rec = rec[:n]
            else:
                issues.append(_ragged(file, rec, n, num))
                return
        data.append([c.strip() for c in rec])
        data_numbers.append(num)

    for rec, num in zip(rows[h + 1:], numbers[h + 1:], strict=True):
        if not any(c.strip() for c in rec):
            continue  # blank lines are not data
        if _text_line(rec):
            pending.append((rec, num))  # a footer if no data row follows
            continue
        for p_rec, p_num in pending:  # text lines between data rows stay what they were
            take(p_rec, p_num)
        pending = []
        take(rec, num)
    if pending and data:
        first = next(c.strip() for c in pending[0][0] if c.strip())
        issues.append(_issue(
            file, "footer_skipped",
            f"{_rows_text([num for _, num in pending])} after the last data row "
            f"{'was' if len(pending) == 1 else 'were'} skipped as a footer (text lines such "
            "as a disclaimer or a download date, not data)",
            "nothing to do if those lines are notes; otherwise give them every column",
            row=pending[0][1], value=_shown_text(first), severity=Severity.WARNING))
    else:
        for p_rec, p_num in pending:
            take(p_rec, p_num)
    if data and suffix not in (".xlsx", ".xlsm") and delimiter != ",":
        _decimal_commas(file, header, data, data_numbers, fields, delimiter, issues,
                        reported)
    if not data:
        issues.append(_issue(file, "header_only", "the file has a header but no data rows",
                             "export the lots again; the export stopped after the header",
                             row=numbers[h]))
        return None, issues
    return RawTable(file, header, data, data_numbers, numbers[h], frozenset(reported)), issues


def map_columns(table: RawTable, fields: Sequence[Field]) -> tuple[dict[str, int], list[Issue]]:
    """Map canonical field names to column indices through the alias table.

    Returns the mapping and issues: ``ambiguous_column`` when two columns map to one field,
    ``ignored_column`` warnings for columns pma_lab does not use. Missing required columns
    are left to the caller (which knows about alternatives such as the two cost columns).
    """
    issues: list[Issue] = []
    by_key: dict[str, Field] = {}
    for f in fields:
        for k in f.keys():
            by_key[k] = f
    found: dict[str, int] = {}
    ignored: list[str] = []
    for i, name in enumerate(table.header):
        f = by_key.get(header_key(name))
        if f is None:
            if name:
                ignored.append(name)
            continue
        if f.name in found:
            other = table.header[found[f.name]]
            issues.append(_issue(
                table.file, "ambiguous_column",
                f"columns '{other}' and '{name}' both mean {f.name}",
                f"keep one of them (or rename the other); {f.name} is {f.help}",
                row=table.header_row, column=name))
            continue
        found[f.name] = i
    if ignored and found:  # an unrecognised header is not echoed (see header_names)
        ignored = [n[:40] + ("..." if len(n) > 40 else "") for n in ignored]
        issues.append(_issue(
            table.file, "ignored_column",
            f"column{'s' if len(ignored) > 1 else ''} {', '.join(map(repr, ignored))} "
            "not used by pma_lab",
            "nothing to do if they are informational (e.g. Description, Market Value)",
            row=table.header_row, column=", ".join(ignored), severity=Severity.WARNING))
    return found, issues
