"""Read a user's CSV or XLSX file into a header and rows of text, strictly.

This is the first half of ingestion: it finds the header, checks encoding, delimiter,
ragged rows, Excel formulas and merged cells, and maps header cells onto the canonical
fields of :mod:`pma_lab.schema`. Values stay text (Excel dates become ISO dates, numbers
their shortest repr), so one validation path serves both formats. Nothing is guessed: an
encoding that is not UTF-8, a semicolon-separated file or a formula is reported with the
fix, never worked around silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pma_lab.errors import Issue, Severity
from pma_lab.schema import Field, header_key

__all__ = ["RawTable", "read_table", "map_columns"]

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


def _decode(file: str, data: bytes, issues: list[Issue]) -> str | None:
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        bad = data[e.start: e.start + 4]
        issues.append(_issue(
            file, "not_utf8",
            f"the file is not UTF-8 text: byte {bad[:1]!r} at offset {e.start} (line {line}) "
            "is not valid UTF-8 (the file looks like Windows-1252/Latin-1)",
            "re-save the file as UTF-8 (Excel: 'CSV UTF-8 (Comma delimited)'); pma_lab does "
            "not guess encodings", row=line, value=repr(bad)))
        return None


def _read_csv(path: Path, file: str, delimiter: str,
              issues: list[Issue]) -> tuple[list[list[str]], list[int]] | None:
    data = path.read_bytes()
    if not data.strip():
        issues.append(_issue(file, "empty_file", "the file is empty",
                             "export the lots again; the file has no header and no rows"))
        return None
    text = _decode(file, data, issues)
    if text is None:
        return None
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
    first = next((r for r in rows if any(c.strip() for c in r)), [])
    if len(first) <= 1:
        head = first[0] if first else ""
        for delim, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if delim in head and delim != delimiter:
                issues.append(_issue(
                    file, "wrong_delimiter",
                    f"the header is separated by {name}, not by commas",
                    "export as comma-separated CSV, or pass the delimiter explicitly "
                    f"(--delimiter '{delim}' / lots.delimiter in the profile)",
                    row=1, value=head[:80]))
                return None
    return rows, numbers


def _read_xlsx(path: Path, file: str, sheet: str | None, issues: list[Issue],
               reported: set[tuple[int, int]]) -> tuple[list[list[str]], list[int]] | None:
    import openpyxl  # local import: only needed for Excel files
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as e:
        issues.append(_issue(file, "unreadable_file",
                             f"the file cannot be opened as an Excel workbook ({e})",
                             "save it from Excel as .xlsx (Excel Workbook), or export CSV"))
        return None
    names = wb.sheetnames
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
    header_cells: list[str] | None = None
    for r in ws.iter_rows():
        vals = []
        for c in r:
            if c.data_type == "f":
                col_head = (header_cells[c.column - 1]
                            if header_cells and c.column - 1 < len(header_cells) else None)
                issues.append(_issue(
                    file, "excel_formula",
                    f"cell {c.coordinate} holds a formula, not a value",
                    "replace formulas by their values (copy, then Paste Special > Values) so "
                    "the file is the custodian's data, not a calculation", row=c.row,
                    column=col_head or c.column_letter, value=str(c.value)))
                reported.add((c.row, c.column - 1))
                vals.append("")
            else:
                vals.append(_cell_text(c.value))
        while vals and vals[-1] == "":
            vals.pop()
        if header_cells is None and any(vals):
            header_cells = vals
        rows.append(vals)
        numbers.append(r[0].row if r else len(rows))
    if not any(any(v for v in row) for row in rows):
        issues.append(_issue(file, "empty_file", f"sheet {ws.title!r} is empty",
                             "export the lots again, or name the sheet that holds them"))
        return None
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    return rows, numbers


def read_table(path: str | Path, fields: Sequence[Field], *, delimiter: str = ",",
               sheet: str | None = None) -> tuple[RawTable | None, list[Issue]]:
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
                        issues)
    elif suffix in (".xlsx", ".xlsm"):
        got = _read_xlsx(p, file, sheet, issues, reported)
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
    for rec, num in zip(rows[h + 1:], numbers[h + 1:], strict=True):
        if not any(c.strip() for c in rec):
            continue  # blank lines are not data (reported below when between data rows)
        if len(rec) != n:
            extra = rec[n:]
            if len(rec) > n and not any(c.strip() for c in extra):
                rec = rec[:n]
            else:
                issues.append(_issue(
                    file, "ragged_row",
                    f"the row has {len(rec)} fields but the header has {n}",
                    "a value probably contains an unquoted comma (e.g. 1,234.56 or a company "
                    "name); quote it or remove the thousands separator", row=num,
                    value=",".join(rec)[:120]))
                continue
        data.append([c.strip() for c in rec])
        data_numbers.append(num)
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
    if ignored:
        issues.append(_issue(
            table.file, "ignored_column",
            f"column{'s' if len(ignored) > 1 else ''} {', '.join(map(repr, ignored))} "
            "not used by pma_lab",
            "nothing to do if they are informational (e.g. Description, Market Value)",
            row=table.header_row, column=", ".join(ignored), severity=Severity.WARNING))
    return found, issues
