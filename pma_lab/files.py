"""The one place pma_lab writes files: atomic, formula-safe, never over an input or a link.

Every CSV, XLSX, JSON, HTML and text file that a command, the batch or a proposal writes
goes through this module:

* **atomic**: the content goes to a temporary file in the destination's folder, which is
  renamed over the destination only once complete (``os.replace``), so a killed run leaves
  the old file or the new one, never half a file;
* **no symbolic link**: a destination that is a symbolic link is refused, never followed,
  so a link planted in an output folder cannot redirect a write elsewhere;
* **never over an input**: a destination that is one of the run's input files (``inputs``)
  is refused, with a message saying which input and how to fix it;
* **formula-safe**: text a spreadsheet would evaluate (starting with ``=``, ``+``, ``-``,
  ``@``, a tab or a carriage return, or the full-width ``＝＋－＠``) is neutralised: in CSV
  with a leading apostrophe (:func:`neutralise`, the OWASP advice, since a CSV has no cell
  types), in XLSX by writing the text *unchanged* as a string cell with the quote-prefix
  style (:func:`write_xlsx`), which Excel and LibreOffice show as text and never evaluate;
* **complete runs are marked**: :func:`write_marker` lists the files of a finished run with
  their size and SHA-256 and :func:`check_marker` verifies them, so a folder without a valid
  marker is an incomplete run (see :data:`MARKER`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pma_lab.errors import OutputPathError

__all__ = ["safe_name",
    "FORMULA_START", "MARKER", "MarkerCheck", "is_formula_like", "neutralise",
    "neutralise_frame", "check_destination", "atomic_path", "write_bytes", "write_text",
    "write_json", "write_csv", "write_xlsx", "write_folder", "write_marker", "clear_marker",
    "check_marker", "sha256_file",
]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""Leading characters that make a spreadsheet read a text cell as a formula."""

MARKER = "run_complete.json"
"""File name of the marker a finished folder run writes last (see :func:`write_marker`)."""

_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


# ------------------------------------------------------------------------------ formulas
def is_formula_like(value: object) -> bool:
    """True for text a spreadsheet would evaluate as a formula (see :data:`FORMULA_START`)."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def neutralise(value: object) -> object:
    """Defuse a text cell for CSV: formula-like text gets a leading apostrophe.

    Numbers, dates and other text are returned unchanged (a negative *number* stays a
    number; only text is touched).

    Examples
    --------
    >>> neutralise("=SUM(A1:A9)")
    "'=SUM(A1:A9)"
    >>> neutralise(-3.5)
    -3.5
    """
    return "'" + value if is_formula_like(value) else value  # type: ignore[operator]


def _is_text(s: pd.Series | pd.Index) -> bool:
    return s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype) or \
        pd.api.types.is_string_dtype(s.dtype)


def neutralise_frame(frame: pd.DataFrame, index: bool = False) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell, column name (and index label) neutralised."""
    out = frame.copy()
    for c in out.columns:
        if _is_text(out[c]):
            out[c] = out[c].astype(object).map(neutralise)
    out.columns = [neutralise(c) if isinstance(c, str) else c for c in out.columns]
    if index:
        if _is_text(out.index):
            out.index = pd.Index([neutralise(v) for v in out.index], name=out.index.name)
        if isinstance(out.index.name, str):
            out.index.name = neutralise(out.index.name)  # type: ignore[assignment]
    return out


# ------------------------------------------------------------------------- destinations
def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_destination(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Refuse a destination that is a symbolic link, a folder or one of ``inputs``.

    Parameters
    ----------
    path : str | Path
        Where a file is about to be written.
    inputs : Iterable[str | Path]
        The run's input files (profile, lots, trades): never overwritten.

    Returns
    -------
    Path
        ``path`` as a Path.

    Raises
    ------
    OutputPathError
        With the reason and how to fix it.
    """
    p = Path(path)
    if p.is_symlink():
        raise OutputPathError(
            f"{p}: refusing to write through a symbolic link (it points to "
            f"{os.readlink(p)}); remove the link or choose another output path")
    if p.is_dir():
        raise OutputPathError(f"{p}: is a folder, so no file can be written there; choose "
                              "another output path")
    for i in inputs:
        if i is not None and _same_file(p, Path(i)):
            raise OutputPathError(
                f"{p}: refusing to overwrite an input of this run ({i}); write the outputs "
                "to another folder (--out)")
    return p


@contextmanager
def atomic_path(path: str | Path, inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` when the block ends.

    Use it for files another tool writes (papermill, Chromium, openpyxl). The destination
    is checked (:func:`check_destination`) before and again just before the rename; on an
    exception the temporary file is removed and the destination is left as it was.

    Raises
    ------
    OutputPathError
        See :func:`check_destination`.
    """
    inputs = list(inputs)
    dst = check_destination(path, inputs)
    dst.parent.mkdir(parents=True, exist_ok=True)
    # the temporary keeps the suffix: tools such as papermill check it
    fd, name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.stem}.",
                                suffix=f".part{dst.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        check_destination(dst, inputs)
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes, inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``data`` atomically (see :func:`atomic_path`); returns the path."""
    with atomic_path(path, inputs) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def write_text(path: str | Path, text: str, inputs: Iterable[str | Path] = (),
               encoding: str = "utf-8") -> Path:
    """Write text atomically (UTF-8 by default); returns the path."""
    return write_bytes(path, text.encode(encoding), inputs)


def _json_safe(obj: Any) -> Any:
    """``obj`` with every float that is not finite (NaN, +-inf, numpy's too) as ``None``.

    JSON has no NaN or Infinity: :func:`json.dumps` writes them bare by default, which a
    strict reader (JavaScript's ``JSON.parse``, ``json.loads(..., parse_constant=...)``)
    refuses. A missing figure is ``null``.
    """
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if obj is pd.NaT:
        return None
    return obj


def write_json(path: str | Path, obj: Any, inputs: Iterable[str | Path] = ()) -> Path:
    """Write ``obj`` as indented JSON atomically (non-JSON values as text).

    A float that is not finite (a missing figure: NaN, or an infinity) is written
    ``null``, so the file is valid JSON (no bare ``NaN`` or ``Infinity``).
    """
    return write_text(path, json.dumps(_json_safe(obj), indent=2, default=str,
                                       allow_nan=False) + "\n", inputs)


CSV_DIGITS = 15
"""Significant digits a float is written to CSV with: every decimal of up to 15 digits
reads back as the same double, and the binary noise past them goes (``752.8199999999999``,
the product of 3 shares and $250.94, is written ``752.82``; ``0.5599999999999999``
``0.56``)."""


def _clean_float(v: object) -> object:
    if isinstance(v, float | np.floating) and np.isfinite(v):
        return float(format(float(v), f".{CSV_DIGITS}g"))
    return v


def _clean_values(values: pd.Series | pd.Index) -> object:
    """``values`` with every finite float to :data:`CSV_DIGITS` digits, or ``None``.

    ``None``: not a float column (nor one of mixed cells), left as it is. A numpy float
    column comes back as float64, a nullable (``Float64``) or other extension float column
    in its own dtype with its missing cells (``pd.NA``) kept, mixed cells as objects.
    """
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return np.array([_clean_float(v) for v in values.to_numpy()], dtype=float)
    if pd.api.types.is_float_dtype(dtype):  # Float64, Float32, float64[pyarrow], ...
        return pd.array([_clean_float(v) for v in values], dtype=dtype)
    if pd.api.types.is_object_dtype(dtype):
        return pd.array([_clean_float(v) for v in values], dtype=object)
    return None


def _clean_index(index: pd.Index) -> pd.Index:
    """``index`` with its floats (each level's, a MultiIndex's) cleaned as the columns."""
    if isinstance(index, pd.MultiIndex):
        levels = [index.get_level_values(i) for i in range(index.nlevels)]
        return pd.MultiIndex.from_arrays([_clean_index(v) for v in levels],
                                         names=index.names)
    clean = _clean_values(index)
    if clean is None:
        return index
    return pd.Index(clean, name=index.name)


def clean_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every finite float cell to :data:`CSV_DIGITS` significant digits.

    Float columns (numpy's and the nullable ``Float64`` alike: its missing cells stay
    missing), the floats of columns of mixed cells (a summary's ``value``), and the
    index's floats (each level's), which ``index=True`` writes.
    """
    out = frame.copy()
    for c in range(out.shape[1]):
        col = out.iloc[:, c]
        clean = _clean_values(col)
        if clean is not None:  # in the column's dtype (objects stay objects, not text)
            out.isetitem(c, pd.Series(clean, index=out.index, dtype=col.dtype
                                      if pd.api.types.is_object_dtype(col.dtype) else None))
    out.index = _clean_index(out.index)
    return out


def write_csv(frame: pd.DataFrame, path: str | Path, inputs: Iterable[str | Path] = (),
              index: bool = False, **to_csv: Any) -> Path:
    """Write a frame to CSV atomically with every text cell neutralised.

    Floats are written to :data:`CSV_DIGITS` significant digits (:func:`clean_floats`).
    ``to_csv`` holds extra :meth:`pandas.DataFrame.to_csv` arguments.
    """
    safe = neutralise_frame(clean_floats(frame), index=index)
    with atomic_path(path, inputs) as tmp:
        safe.to_csv(tmp, index=index, **to_csv)
    return Path(path)


def _cell_value(v: object) -> object:
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, np.generic):
        v = v.item()
        if isinstance(v, float) and np.isnan(v):
            return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, (bool, int, float)) or hasattr(v, "isoformat"):
        return v
    return str(v) or None


def write_xlsx(sheets: pd.DataFrame | Mapping[str, pd.DataFrame], path: str | Path,
               inputs: Iterable[str | Path] = (),
               number_formats: Mapping[str, str] | None = None) -> Path:
    """Write one or more frames to an XLSX workbook atomically, with no formula in it.

    Text cells keep their exact text and are typed as strings (``t="s"``); formula-like
    text also gets the quote-prefix style, so Excel and LibreOffice show it as text, never
    evaluate it, and keep it text when the cell is edited. Characters XML cannot hold
    (control characters other than tab, line feed, carriage return) become U+FFFD. The
    header row is bold and frozen; ``number_formats`` maps column names to Excel formats.

    Parameters
    ----------
    sheets : pd.DataFrame | Mapping[str, pd.DataFrame]
        One frame (sheet "Sheet1") or sheet name -> frame.
    path : str | Path
    inputs : Iterable[str | Path]
        Input files that must not be overwritten.
    number_formats : Mapping[str, str] | None
        Column name -> number format (e.g. ``"#,##0.00"``).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    if isinstance(sheets, pd.DataFrame):
        sheets = {"Sheet1": sheets}
    fmts = dict(number_formats or {})
    wb = Workbook()
    wb.remove(wb.active)
    for title, frame in sheets.items():
        ws = wb.create_sheet(title=str(title)[:31])
        header = [str(c) for c in frame.columns]
        widths = [len(h) for h in header]
        for j, h in enumerate(header, start=1):
            _set_text(ws.cell(row=1, column=j), h).font = Font(bold=True)
        for i, rec in enumerate(frame.itertuples(index=False, name=None), start=2):
            for j, raw in enumerate(rec, start=1):
                v = _cell_value(raw)
                if v is None:
                    continue
                cell = ws.cell(row=i, column=j)
                if isinstance(v, str):
                    _set_text(cell, v)
                else:
                    cell.value = v
                    if header[j - 1] in fmts:
                        cell.number_format = fmts[header[j - 1]]
                widths[j - 1] = max(widths[j - 1], len(str(v)))
        for j, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(j)].width = min(w + 2, 40)
        ws.freeze_panes = "A2"
    with atomic_path(path, inputs) as tmp:
        wb.save(tmp)
    return Path(path)


def _set_text(cell, text: str):
    """Store ``text`` unchanged as a string cell (never a formula)."""
    cell.value = _XML_ILLEGAL.sub("\ufffd", text)
    cell.data_type = "s"
    if is_formula_like(text):
        cell.quotePrefix = True
    return cell


def write_folder(folder: str | Path, outputs: Mapping[str, pd.DataFrame | str | dict],
                 inputs: Iterable[str | Path] = (), index: Iterable[str] = ()) -> list[Path]:
    """Write a run's outputs into ``folder``, then the run marker (:data:`MARKER`).

    The old marker is removed first, each file is written atomically (frames as CSV through
    :func:`write_csv`, text as UTF-8, dicts and lists as JSON), and the marker listing them
    is written last, so a folder with a valid marker holds one complete run.

    Parameters
    ----------
    folder : str | Path
        Created when missing.
    outputs : Mapping[str, pd.DataFrame | str | dict]
        File name (inside ``folder``) -> content.
    inputs : Iterable[str | Path]
        Input files that must not be overwritten (checked before anything is written).
    index : Iterable[str]
        File names whose frame is written with its index.

    Returns
    -------
    list[Path]
        The files written (the marker not included).
    """
    d = Path(folder)
    inputs, with_index = list(inputs), set(index)
    targets = {name: d / name for name in outputs}
    for p in [*targets.values(), d / MARKER]:
        if p.parent != d:
            raise OutputPathError(f"{p.name!r} is not a file name inside {d}")
        check_destination(p, inputs)
    d.mkdir(parents=True, exist_ok=True)
    clear_marker(d / MARKER)
    for name, value in outputs.items():
        if isinstance(value, pd.DataFrame):
            write_csv(value, targets[name], inputs, index=name in with_index)
        elif isinstance(value, str):
            write_text(targets[name], value, inputs)
        else:
            write_json(targets[name], value, inputs)
    files = list(targets.values())
    write_marker(d / MARKER, files)
    return files


# ------------------------------------------------------------------------------- markers
def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_marker(marker: str | Path, files: Iterable[str | Path],
                 info: Mapping[str, Any] | None = None) -> Path:
    """Write the run marker last: the files of a finished run, with size and SHA-256.

    Parameters
    ----------
    marker : str | Path
        The marker file (a folder means ``<folder>/run_complete.json``).
    files : Iterable[str | Path]
        The run's outputs (names are stored relative to the marker's folder).
    info : Mapping[str, Any] | None
        Extra JSON fields (e.g. the client id).
    """
    from pma_lab import __version__

    m = Path(marker)
    if m.is_dir():
        m = m / MARKER
    entries = []
    for f in files:
        p = Path(f)
        entries.append({"file": os.path.relpath(p, m.parent), "bytes": p.stat().st_size,
                        "sha256": sha256_file(p)})
    return write_json(m, {"complete": True, "pma_lab": __version__, **dict(info or {}),
                          "files": entries})


def clear_marker(marker: str | Path) -> None:
    """Remove a run marker (first thing a run does, so a killed run is never marked)."""
    m = Path(marker)
    if m.is_dir():
        m = m / MARKER
    if m.is_symlink() or m.exists():
        m.unlink()


@dataclass(frozen=True)
class MarkerCheck:
    """What :func:`check_marker` found.

    Attributes
    ----------
    ok : bool
        The marker exists, says complete, and every file it lists is there unchanged.
    files : tuple[Path, ...]
        The files the marker lists.
    problems : tuple[str, ...]
        What is wrong (no marker, a file missing or changed since the run).
    """

    ok: bool
    files: tuple[Path, ...]
    problems: tuple[str, ...]


def check_marker(marker: str | Path, verify_hashes: bool = True) -> MarkerCheck:
    """Check a run marker against the disk (see :func:`write_marker`)."""
    m = Path(marker)
    if m.is_dir():
        m = m / MARKER
    if m.is_symlink() or not m.is_file():
        return MarkerCheck(False, (), (f"{m.name} is missing: the run did not finish",))
    try:
        doc = json.loads(m.read_text(encoding="utf-8"))
        entries = [(str(e["file"]), int(e["bytes"]), str(e["sha256"])) for e in doc["files"]]
        complete = doc.get("complete") is True
    except (OSError, ValueError, KeyError, TypeError):
        return MarkerCheck(False, (), (f"{m.name} is unreadable",))
    files, problems = [], [] if complete else [f"{m.name} does not say complete"]
    for name, size, digest in entries:
        p = m.parent / name
        files.append(p)
        if p.is_symlink() or not p.is_file():
            problems.append(f"{name} is missing")
        elif p.stat().st_size != size or (verify_hashes and sha256_file(p) != digest):
            problems.append(f"{name} changed after the run")
    return MarkerCheck(not problems, tuple(files), tuple(problems))


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file-system-safe name: letters, digits, ``._-`` only, no leading dot, not empty.

    Examples
    --------
    >>> safe_name("../../etc/passwd")
    'etc_passwd'
    """
    s = _SAFE.sub("_", str(name)).strip("._")
    s = re.sub(r"_+", "_", s)
    return s[:100] or "client"
