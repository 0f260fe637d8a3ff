"""Strict ingestion of tax-lot files and trade blotters.

``read_lots`` and ``read_blotter`` read CSV or XLSX files as custodians export them (column
aliases, preambles, ``$1,234.56`` amounts, Excel dates), validate every row once against the
declared schema (:mod:`pma_lab.schema`), and return typed, read-only results. All problems
in a file are collected and raised together as one :class:`~pma_lab.errors.LotDataError`
(or :class:`~pma_lab.errors.BlotterError`), each naming file, row, column, value and fix.
Anything changed on the way in (a ticker spelling, an inferred date order) is reported as a
warning on the result; nothing is dropped, clipped or coerced silently.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pma_lab.errors import BlotterError, InputError, Issue, LedgerError, LotDataError, Severity
from pma_lab.market.data import known_tickers  # noqa: F401 (re-exported)
from pma_lab.market.tickers import TickerSuggester, normalize_ticker
from pma_lab.schema import BLOTTER_FIELDS, LIMITS, LOT_FIELDS, Field, ReadPolicy, header_key
from pma_lab.tables import RawTable, _rows_text, header_names, map_columns, read_table
from pma_lab.tax.ledger import Account, AccountType, Ledger, LotRelief, Side, Trade
from pma_lab.tax.rules import money

if TYPE_CHECKING:
    from pma_lab.market.data import MarketData

__all__ = ["LotSet", "Blotter", "read_lots", "read_blotter", "known_tickers", "DateOrder"]

DateOrder = str  # "MDY" or "DMY"

# a time of day after the date (a spreadsheet's date-time cell, "2015-06-01 15:30:00",
# "07/23/2021 3:30 PM", "2021-07-23T15:30:00Z"): a lot's acquisition date is its date (a
# holding period counts days); a blotter's trade keeps the time as its time of day
# (:func:`_cell_times`), which orders a day's trades as the ``time`` column does
_TIME = (r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*([AaPp][Mm])?Z?)?")
_ISO = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})" + _TIME + "$")
# a whole number of five digits in a date column (a fraction: a date and time): most likely
# an Excel date serial in a cell not formatted as a date; refused, naming its date
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_SLASH = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})" + _TIME + "$")
_TWO_DIGIT_YEAR = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2}$")
# an option as custodians write it: "AAPL 01/15/2027 350.00 C", "-AAPL270115C350", the OCC
# symbol "AAPL  270115C00350000"; a 9-character CUSIP with a digit (bonds, CDs, funds)
_OPTION = re.compile(r"^-?[A-Z.]{1,6}\s*(?:\d{2}/\d{2}/\d{2,4}\s+\$?[\d.]+\s*[CP]"
                     r"|\d{6}[CP]\d{3,8})(?:\s.*)?$", re.IGNORECASE)
_CUSIP = re.compile(r"^(?=[0-9A-Z]*\d)[0-9A-Z]{8}\d$")


def _not_a_stock(raw: str) -> str:
    """What a symbol cell that is not a ticker holds, when it can tell: an option or a CUSIP.

    ``"an option contract"``, ``"a CUSIP, not a ticker"``, else ``""``.
    """
    text = raw.strip().upper()
    if _OPTION.match(text):
        return "an option contract"
    if _CUSIP.match(text.replace(" ", "")):
        return "a CUSIP, not a ticker"
    return ""
_NAMED_FORMATS = ("%b %d, %Y", "%B %d, %Y", "%d-%b-%Y", "%d %b %Y", "%d %B %Y", "%b %d %Y")
_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")
_ORDER_NAME = {"MDY": "month/day/year", "DMY": "day/month/year"}
_TRUE = {"yes", "y", "true", "t", "1", "x"}
_FALSE = {"no", "n", "false", "f", "0", ""}


# ------------------------------------------------------------------------------- results
@dataclass(frozen=True)
class LotSet:
    """Validated tax lots from one or more files.

    Attributes
    ----------
    lots : pd.DataFrame
        One row per lot, read-only, columns ``lot_id, account, ticker, acquired
        (datetime64), shares, cost_total, cost_per_share, inherited, gift_date
        (datetime64, NaT unless a gift), fmv_at_gift (NaN unless a gift), source_file,
        source_row``. ``cost_total`` is the total basis in dollars rounded to the cent (a
        gift's: the donor's basis, its ``acquired`` the donor's date; IRC §1015).
    as_of : datetime.date
        The date the lots were validated against (no acquisition after it).
    warnings : tuple[Issue, ...]
        Everything reported but not fatal (ticker spellings normalised, ignored columns...).
    sources : tuple[str, ...]
        The files read.
    basis_columns : tuple[tuple[str, str], ...]
        ``(file, header)``: the column each file gave the cost basis in, as its header reads
        (the total's when it has both), for messages about a lot's basis.
    generated_ids : tuple[str, ...]
        The files without a lot id column, whose lot ids pma_lab made (``stem:row``).
    """

    lots: pd.DataFrame
    as_of: dt.date
    warnings: tuple[Issue, ...] = ()
    sources: tuple[str, ...] = ()
    basis_columns: tuple[tuple[str, str], ...] = ()
    generated_ids: tuple[str, ...] = ()

    def basis_header(self, file: str) -> str:
        """The header of ``file``'s cost-basis column (``cost_total`` if not known)."""
        return dict(self.basis_columns).get(file, "cost_total")

    def __len__(self) -> int:
        return len(self.lots)

    def to_ledger(self, accounts: Iterable[Account], ledger: Ledger | None = None) -> Ledger:
        """Load the lots into a (new or given) :class:`~pma_lab.tax.ledger.Ledger`."""
        led = ledger or Ledger(accounts)
        for kw in self.ledger_lots():
            led.add_lot(**kw)
        return led

    def ledger_lots(self) -> list[dict[str, object]]:
        """The lots as :meth:`~pma_lab.tax.ledger.Ledger.add_lot` keyword arguments, in order.

        A gift lot (``gift_date`` given) is added with the donor's basis and acquisition
        date, its gift date, and, when the FMV at the gift is below the donor's basis, that
        FMV as its loss basis (the dual basis of IRC §1015 and Pub 551).
        """
        df = self.lots
        gift_dates = (df.gift_date if "gift_date" in df
                      else pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]"))
        fmvs = df.fmv_at_gift if "fmv_at_gift" in df else pd.Series(np.nan, index=df.index)
        out: list[dict[str, object]] = []
        for lot_id, acc, tk, acq, sh, cost, inh, gd, fmv in zip(
                df.lot_id, df.account, df.ticker, df.acquired, df.shares, df.cost_total,
                df.inherited, gift_dates, fmvs, strict=True):
            kw: dict[str, object] = dict(
                account=acc, ticker=tk, shares=Decimal(repr(float(sh))),
                basis=Decimal(repr(float(cost))), acquired=acq.date(), lot_id=lot_id,
                inherited=bool(inh))
            if not pd.isna(gd):
                kw["gifted"] = True
                kw["gift_date"] = pd.Timestamp(gd).date()
                if float(fmv) < float(cost):
                    kw["loss_basis"] = Decimal(repr(round(float(fmv), 2)))
            out.append(kw)
        return out

    def concat(self, other: LotSet) -> LotSet:
        """Combine two lot sets (lot ids must stay unique across them).

        Two files of the same name (a custodian's ``positions.csv`` of one account, then of
        another) made the same ids ``positions:2``: a made id (:attr:`generated_ids`) that
        another lot also has gets its account, with every made id of its file,
        ``positions[ira]:2`` (session 23; the
        dashboard refused the second upload). Ids a file gives itself are never changed.

        Raises
        ------
        LotDataError
            ``duplicate_lot_id`` on each row of an id still used twice, naming the other
            row, its file and account, and how to make the ids unique.
        """
        both = pd.concat([self.lots, other.lots], ignore_index=True)
        made = self.generated_ids + other.generated_ids
        twice = both.lot_id.duplicated(keep=False)
        if twice.any() and made:
            clash = set(both.source_file[twice & both.source_file.isin(list(made))])
            fix = both.source_file.isin(list(clash)).to_numpy()  # a file's ids alike
            both.loc[fix, "lot_id"] = [
                f"{Path(f).stem}[{a}]:{r}" for f, a, r in zip(
                    both.source_file[fix], both.account[fix], both.source_row[fix],
                    strict=True)]
            twice = both.lot_id.duplicated(keep=False)
        if twice.any():
            rows = both[twice]
            issues = []
            for r in rows.itertuples():
                o = next(o for o in rows.itertuples()
                         if o.lot_id == r.lot_id and o.Index != r.Index)
                issues.append(Issue(
                    r.source_file, int(r.source_row), "lot_id", r.lot_id,
                    f"the lot id is also used in {o.source_file}, row {o.source_row} "
                    f"(account {o.account}); lot ids must be unique across the client's files",
                    "rename one of the two (e.g. put the account first: "
                    f"{r.account}-{r.lot_id}), or drop the lot id column from one file to have "
                    "its ids made from its name and row numbers", Severity.ERROR,
                    "duplicate_lot_id"))
            raise LotDataError(", ".join(sorted(set(rows.source_file))), issues)
        return LotSet(_freeze(both), self.as_of, self.warnings + other.warnings,
                      self.sources + other.sources, self.basis_columns + other.basis_columns,
                      made)


@dataclass(frozen=True)
class Blotter:
    """A validated trade blotter.

    Attributes
    ----------
    trades : tuple[Trade, ...]
        The trades in file order (``Trade.row`` is the source row).
    accounts : tuple[Account, ...]
        Accounts named in the blotter with their types.
    warnings : tuple[Issue, ...]
        Non-fatal findings.
    source : str
        The file read.
    columns : Mapping[str, str]
        Each canonical field's header as written in the file (``shares`` -> ``Quantity``),
        for messages about rows found wrong later (a replay's refused sales).
    cells : Mapping[str, Mapping[int, str]]
        The ``shares``, ``date`` and ``lot_id`` cells as the file writes them, by source
        row: a message about a row found wrong later quotes the cell (``-150`` for an
        activity export's sale), not the value read from it (``150``); see :meth:`cell`.
    """

    trades: tuple[Trade, ...]
    accounts: tuple[Account, ...]
    warnings: tuple[Issue, ...] = ()
    source: str = ""
    frame: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    columns: Mapping[str, str] = field(default_factory=dict, repr=False)
    sold_lots: tuple[dict, ...] = ()
    cells: Mapping[str, Mapping[int, str]] = field(default_factory=dict, repr=False)

    def cell(self, row: int | None, name: str, default: str | None) -> str | None:
        """The ``name`` cell of source row ``row`` as the file writes it.

        Cut as messages quote cells; ``default`` when the blotter has no such cell or it
        is blank.
        """
        text = self.cells.get(name, {}).get(row) if row is not None else None
        return _shown(text) if text else default

    # ``sold_lots``: the lots the blotter's sales of shares bought before it name with their
    # ``acquired`` date and ``cost_basis`` (a realised gain/loss report's columns), as
    # :meth:`~pma_lab.tax.ledger.Ledger.add_lot` keyword arguments: the replay opens each
    # before the blotter and the sale relieves it (its trade's ``lot_id``), so a loss sale
    # and its buyback are all a wash sale needs (reviewer 1, session 24).


EMPTY_FILE_MESSAGE = "the file has a header but no lots: read as an account with no positions"
"""A header-only lots file read as an empty account (:func:`read_lots` ``empty_ok``)."""
EMPTY_FILE_FIX = ("nothing to do if the account holds only cash; if it holds shares, export "
                  "the lots again (the export stopped after the header)")


def _only_header(issues: Sequence[Issue]) -> bool:
    """Whether the one error of a file is that it has no data row (``header_only``)."""
    return [i.code for i in issues if i.severity is Severity.ERROR] == ["header_only"]


def _empty_account(file: str, as_of: dt.date, issues: Sequence[Issue]) -> LotSet:
    """A header-only file read as an account with no positions, its error now a warning."""
    return empty_lots(file, as_of, tuple(
        replace(i, severity=Severity.WARNING, message=EMPTY_FILE_MESSAGE, fix=EMPTY_FILE_FIX)
        if i.code == "header_only" else i for i in issues))


def empty_lots(file: str, as_of: dt.date, warnings: tuple[Issue, ...] = ()) -> LotSet:
    """No lots: an all-cash account (a file with a header only, or no lots file at all).

    The frame has :class:`LotSet`'s columns and dtypes and no row.
    """
    df = pd.DataFrame({
        "lot_id": np.array([], dtype=object), "account": np.array([], dtype=object),
        "ticker": np.array([], dtype=object),
        "acquired": np.array([], dtype="datetime64[ns]"),
        "shares": np.array([], dtype=float), "cost_total": np.array([], dtype=float),
        "cost_per_share": np.array([], dtype=float),
        "inherited": np.array([], dtype=bool),
        "gift_date": np.array([], dtype="datetime64[ns]"),
        "fmv_at_gift": np.array([], dtype=float), "source_file": np.array([], dtype=object),
        "source_row": np.array([], dtype=np.int64)})
    return LotSet(_freeze(df), as_of, warnings, (file,) if file else ())


def _freeze(df: pd.DataFrame) -> pd.DataFrame:
    for c in df.columns:
        arr = df[c].to_numpy()
        if isinstance(arr, np.ndarray):
            arr.flags.writeable = False
    return df


# ------------------------------------------------------------------------------- parsers
class _Rows:
    """Per-file issue collector bound to a table.

    A column the file lacks reads as blank cells and its row checks report nothing (the
    missing column is reported once), so the checks of the columns that are present still
    run and a user sees every problem of the file in one message.
    """

    def __init__(self, table: RawTable, cols: Mapping[str, int]):
        self.t = table
        self.cols = cols
        self.issues: list[Issue] = []
        self.bad = np.zeros(len(table.rows), dtype=bool)
        self._arrays: dict[int, tuple[pd.Series, np.ndarray]] = {}
        self._cells: set[tuple[int, str]] = set()  # (row index, field) with an error
        # rows whose own error's fix is to delete the row (an option, a CUSIP): their other
        # cells are not checked, so the row reads one error, not that and its follow-ons
        self.dropped = np.zeros(len(table.rows), dtype=bool)

    def col(self, name: str) -> pd.Series:
        i = self.cols.get(name)
        if i is None:  # missing: reported as missing_column, its cells read as blank
            return pd.Series([""] * len(self.t.rows), dtype=object)
        return pd.Series([r[i] for r in self.t.rows], dtype=object)

    def header(self, name: str) -> str:
        return self.t.header[self.cols[name]]

    def add(self, idx: Iterable[int], name: str, code: str, message: str, fix: str,
            values: pd.Series | None = None, severity: Severity = Severity.ERROR) -> None:
        col = self.cols.get(name)
        if col is None:  # the column is missing: that is reported once, not per row
            return
        vals = None if values is None else self._values(values)
        for i in idx:
            i = int(i)
            if (self.t.row_numbers[i], col) in self.t.reported or (i, name) in self._cells \
                    or self.dropped[i]:
                self.bad[i] = True  # already reported (formula, merged cell, earlier check)
                continue
            self.issues.append(Issue(
                self.t.file, self.t.row_numbers[i], self.header(name),
                None if vals is None else _shown(vals[i]), message, fix, severity, code))
            if severity is Severity.ERROR:
                self.bad[i] = True
                self._cells.add((i, name))

    def _values(self, values: pd.Series) -> np.ndarray:
        """The column's cells as an array, converted once per column (not once per issue)."""
        got = self._arrays.get(id(values))
        if got is None or got[0] is not values:
            got = self._arrays[id(values)] = (values, values.to_numpy(dtype=object))
        return got[1]

    def blank(self, name: str, s: pd.Series, what: str) -> pd.Series:
        empty = s.str.len() == 0
        self.add(np.flatnonzero(empty.to_numpy()), name, "missing_value",
                 f"{what} is blank", f"fill in {what} for this row (or delete the row)", s)
        return empty


def _shown(value: object, limit: int = 40) -> str:
    """A cell as echoed in a message: its text, cut to ``limit`` characters."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


_PLAIN = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?"
                    r"|\.\d+(?:[eE][-+]?\d+)?")
_ONE_GROUP = re.compile(r"\d{1,3},\d{3}")  # 41,900: 41900, or 41.9 with a decimal comma
_NON_FINITE = {"inf", "infinity", "nan", "1.#inf", "1.#qnan", "1.#ind"}


def _parse_number(text: str, money_col: bool) -> float | str | None:
    """One cell: a float, NaN for blank, ``"ambiguous"``-tagged text, or ``None``.

    Accepted: ``1234.56``, ``1,234.56``, ``-5``, ``(5.00)`` (negative), ``1.5e-05``, and for
    money columns a ``$`` after an optional sign (``$1,234.56``, ``-$5``, ``$-5``). Returns
    the string ``"non_finite"`` for inf/NaN spellings. A single thousands group without
    decimals (``41,900``) parses as 41900; :func:`_numbers` flags it as ambiguous.
    """
    t = text.strip()
    if not t:
        return np.nan
    neg = t[0] == "(" and t[-1] == ")"
    if neg:
        t = t[1:-1].strip()
    sign = ""
    if t[:1] in ("+", "-"):
        sign, t = t[0], t[1:].lstrip()
    if money_col and t[:1] == "$":
        t = t[1:].lstrip()
        if not sign and t[:1] in ("+", "-"):
            sign, t = t[0], t[1:].lstrip()
    if t.lower() in _NON_FINITE:
        return "non_finite"
    if not _PLAIN.fullmatch(t) or (neg and sign):
        return None
    v = float(t.replace(",", ""))
    return -v if (sign == "-" or neg) else v


def _is_ambiguous(text: str) -> bool:
    t = text.strip().strip("()").lstrip("+-$ ").lstrip("+-")
    return bool(_ONE_GROUP.fullmatch(t))


def _factorize(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    codes, uniques = pd.factorize(s.to_numpy(dtype=object))
    return codes, list(uniques)


def _rows_of(codes: np.ndarray, bad_codes: Collection[int]) -> np.ndarray:
    return np.flatnonzero(np.isin(codes, np.fromiter(bad_codes, dtype=np.int64)))


@dataclass(frozen=True)
class _Parsed:
    """A parsed number column: values (NaN where blank or rejected) and ambiguous cells."""

    values: pd.Series
    ambiguous: np.ndarray  # bool per row: "41,900"-like, read as 41900


def _numbers(rows: _Rows, name: str, s: pd.Series, what: str, money_col: bool,
             upper: float, lower: float = 0.0) -> _Parsed:
    """Parse a text column of numbers (each distinct text once).

    Flags non-numbers, inf/NaN, and values above ``upper`` or positive values below
    ``lower`` (overflowing cells such as ``1e308`` or 400 digits); those cells become NaN so
    no later arithmetic sees them.
    """
    codes, uniq = _factorize(s)
    parsed = [_parse_number(u, money_col) for u in uniq]
    bad = [i for i, v in enumerate(parsed) if v is None]
    inf = [i for i, v in enumerate(parsed) if isinstance(v, str)]
    num = np.array([v if isinstance(v, float) else np.nan for v in parsed], dtype=float)
    with np.errstate(invalid="ignore"):
        big = np.flatnonzero((np.isinf(num) | (np.abs(num) > upper))
                             | ((num > 0) & (num < lower)))
    num[big] = np.nan
    span = f"between {lower:g} and {upper:,.0f}" if lower else f"at most {upper:,.0f}"
    if bad:
        rows.add(_rows_of(codes, bad), name, "non_numeric", f"{what} is not a number",
                 f"write {what} as a plain number such as 1234.56 (no letters; thousands "
                 "separators only as 1,234.56)", s)
    if inf:
        rows.add(_rows_of(codes, inf), name, "non_finite",
                 f"{what} is infinite or not-a-number", f"write {what} as a finite number; "
                 "a spreadsheet error (#DIV/0!, #NUM!) exports this way", s)
    if len(big):
        rows.add(_rows_of(codes, big), name, "out_of_range",
                 f"{what} is outside the plausible range (it must be {span})",
                 f"correct {what}; a value this far out is a typo, a unit mix-up or an "
                 "overflowing export", s)
    amb = np.array([isinstance(v, float) and _is_ambiguous(u)
                    for u, v in zip(uniq, parsed, strict=True)], dtype=bool)
    return _Parsed(pd.Series(num[codes]), amb[codes] if len(amb) else np.zeros(0, bool))


def _ambiguous(rows: _Rows, name: str, s: pd.Series, mask: np.ndarray, what: str) -> None:
    """Report cells such as ``41,900`` that nothing in the row can resolve."""
    rows.add(np.flatnonzero(mask), name, "ambiguous_number",
             f"the comma in {what} may separate thousands (41,900 read as 41900) or be a "
             "decimal comma (41.9), and nothing else in the row tells which",
             "write the number without a thousands separator (41900) or with a decimal point "
             "(41.90)", s)


class _Expand:
    """Stand-in for :class:`_Rows` on a column's distinct values.

    Issues found on a distinct value are reported on every row holding it.
    """

    def __init__(self, rows: _Rows, codes: np.ndarray, full: pd.Series):
        self.rows = rows
        self.codes = codes
        self.full = full
        self.issues = rows.issues
        _, self.first = np.unique(codes, return_index=True)

    def row_number(self, u: int) -> int:
        return self.rows.t.row_numbers[int(self.first[u])]

    def header(self, name: str) -> str:
        return self.rows.header(name)

    def add(self, idx: Iterable[int], name: str, code: str, message: str, fix: str,
            values: pd.Series | None = None, severity: Severity = Severity.ERROR) -> None:
        idx = [int(i) for i in idx]
        if idx:
            self.rows.add(_rows_of(self.codes, idx), name, code, message, fix, self.full,
                          severity)


def _dates(rows: _Rows, name: str, s: pd.Series, date_order: DateOrder | None,
           as_of: dt.date | None, what: str) -> pd.Series:
    """Parse dates strictly (each distinct text once); see the module docs for the forms."""
    codes, uniq = _factorize(s)
    u = pd.Series(uniq, dtype=object)
    parsed = _parse_dates(_Expand(rows, codes, s), name, u, date_order, as_of, what)
    return pd.Series(parsed.to_numpy()[codes])


def _clock(hour: object, minute: object, second: object, half: object) -> dt.time | None:
    """A date cell's time part as a time of day; ``None`` when it is not one."""
    h, m = int(hour), int(minute)
    sec = 0 if second is None or second != second else int(second)
    if isinstance(half, str) and half:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if half.lower() == "pm" else 0)
    if h > 23 or m > 59 or sec > 59:
        return None
    return dt.time(h, m, sec)


def _cell_times(s: pd.Series) -> list[dt.time | None]:
    """The time of day after each date cell's date (``None``: none given).

    Midnight written as the time of a date-only cell (``2026-03-02 00:00:00``) is none.
    The dates themselves, and a time that is not a time of day, are read and reported by
    :func:`_dates`.
    """
    out: list[dt.time | None] = []
    for v in s:
        m = _ISO.match(str(v).strip()) or _SLASH.match(str(v).strip())
        t = _clock(*m.groups()[3:7]) if m and m.group(4) is not None else None
        out.append(None if t is None or (t == dt.time(0) and not m.group(7)) else t)
    return out


def _parse_dates(rows: _Expand, name: str, s: pd.Series, date_order: DateOrder | None,
                 as_of: dt.date | None, what: str) -> pd.Series:
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[s]")
    text = s.str.strip()
    iso = text.str.extract(_ISO)
    is_iso = iso[0].notna()
    if is_iso.any():
        parts = iso[is_iso][[0, 1, 2]].astype(int)
        out[is_iso] = pd.to_datetime(
            dict(year=parts[0], month=parts[1], day=parts[2]), errors="coerce")
    sl = text.str.extract(_SLASH)
    is_sl = sl[0].notna()
    if is_sl.any():
        a = sl[0][is_sl].astype(int)
        b = sl[1][is_sl].astype(int)
        y = sl[2][is_sl].astype(int)
        order = date_order
        if order is None:
            first_gt = a > 12
            second_gt = b > 12
            if first_gt.any() and second_gt.any():
                i1 = int(first_gt.idxmax())
                i2 = int(second_gt.idxmax())
                rows.add([i1], name, "ambiguous_date",
                         f"the file mixes day-first and month-first dates ({text.iat[i1]} "
                         f"reads only as day/month, row {rows.row_number(i2)}'s "
                         f"{text.iat[i2]} only as month/day)",
                         "use one date format in the file, preferably YYYY-MM-DD", s)
                order = "MDY"
            elif first_gt.any() or second_gt.any():
                order = "DMY" if first_gt.any() else "MDY"
                mm, dd = (a, b) if order == "MDY" else (b, a)
                fits = pd.to_datetime(dict(year=y, month=mm, day=dd), errors="coerce")
                # the evidence is a date that is one in that order: 09/31/2020 fits
                # neither, so it is the error it is, not also a reason (reviewer 1, s24)
                told = (first_gt | second_gt) & fits.notna()
                if told.any():
                    i = int(told.idxmax())
                    rows.issues.append(Issue(
                        rows.rows.t.file, rows.row_number(i), rows.header(name), text.iat[i],
                        f"slash dates read as {_ORDER_NAME[order]} because {text.iat[i]} "
                        "can only be read that way",
                        "set lots.date_order (MDY or DMY) in the profile to make this "
                        "explicit", Severity.WARNING, "date_order_inferred"))
            else:
                amb = a != b
                rows.add(a.index[amb.to_numpy()], name, "ambiguous_date",
                         "the date can be read as month/day or day/month",
                         "set lots.date_order = \"MDY\" (US custodians) or \"DMY\" in the "
                         "profile (--date-order on the command line), or write YYYY-MM-DD", s)
                order = "MDY"
        mm, dd = (a, b) if order == "MDY" else (b, a)
        out[is_sl] = pd.to_datetime(dict(year=y, month=mm, day=dd), errors="coerce")
        if date_order is not None:
            # reviewer 1 (session 22, F4): 13/02/2021 read as month/day was "not a calendar
            # date, check the month and day"; the cause is the file's date order
            other = "DMY" if order == "MDY" else "MDY"
            swapped = pd.to_datetime(dict(year=y, month=dd, day=mm), errors="coerce")
            flip = (out[is_sl].isna() & swapped.notna()).to_numpy()
            rows.add(sl.index[is_sl][flip], name, "unparsable_date",
                     f"{what} is not a calendar date read as {_ORDER_NAME[order]} (the date "
                     f"order set, lots.date_order = \"{order}\"); it reads as "
                     f"{_ORDER_NAME[other]}",
                     f"if the file writes {_ORDER_NAME[other]} dates, set lots.date_order = "
                     f"\"{other}\" in the profile (--date-order {other} on the command line); "
                     "otherwise correct the date (YYYY-MM-DD is never ambiguous)", s)
    for frame, mask in ((iso, is_iso), (sl, is_sl)):
        # a time after the date must be a time of day (a date cell's "15:30", "3:30 PM")
        timed = mask & frame[3].notna()
        bad = [i for i in np.flatnonzero(timed.to_numpy())
               if _clock(*frame.iloc[i, 3:7]) is None]
        rows.add(bad, name, "unparsable_date", f"the time after {what} is not a time of day",
                 "write the time as HH:MM or HH:MM:SS (24-hour, or 1-12 with AM/PM), or "
                 "leave the date alone", s)
        out.iloc[bad] = pd.NaT
    rest = ~(is_iso | is_sl) & (text.str.len() > 0)
    for i in np.flatnonzero(rest.to_numpy()):
        v = text.iat[i]
        if _TWO_DIGIT_YEAR.match(v):
            rows.add([i], name, "ambiguous_date",
                     "the year has two digits, so the century is ambiguous",
                     "write the year with four digits, e.g. 2024-03-05", s)
            continue
        for fmt in _NAMED_FORMATS:
            try:
                day = dt.datetime.strptime(v, fmt)
            except ValueError:
                continue
            out.iat[i] = pd.Timestamp(max(day, dt.datetime(1000, 1, 1)))  # range checked below
            break
        else:
            fix = ("export lot-level detail instead of aggregated positions ('Various' means "
                   "several lots)" if v.lower() == "various" else
                   f"{v} looks like an Excel date serial, which is "
                   f"{dt.date(1899, 12, 30) + dt.timedelta(days=int(float(v)))} in Excel's "
                   "usual 1900 date system: format the cell as a date in the spreadsheet, "
                   "or write the date as YYYY-MM-DD"
                   if _SERIAL.match(v) else "write the date as YYYY-MM-DD (e.g. 2024-03-05)")
            rows.add([i], name, "unparsable_date", f"{what} cannot be read as a date", fix, s)
    invalid = (is_iso | is_sl) & out.isna()
    rows.add(np.flatnonzero(invalid.to_numpy()), name, "unparsable_date",
             f"{what} is not a calendar date", "check the month and day", s)
    lo, hi = pd.Timestamp(LIMITS.earliest_date), pd.Timestamp(LIMITS.latest_date)
    early = (out < lo).fillna(False).to_numpy()
    rows.add(np.flatnonzero(early), name, "out_of_range", f"{what} is before {lo.year}",
             "correct the date; a date in 1899 or earlier is usually an empty or zero date "
             "cell (Excel counts days from 1899-12-30)", s)
    late = (out > hi).fillna(False).to_numpy()
    rows.add(np.flatnonzero(late), name, "out_of_range", f"{what} is after {hi.year}",
             "correct the date (four-digit year)", s)
    out[early | late] = pd.NaT
    if as_of is not None:
        fut = out > pd.Timestamp(as_of)
        rows.add(np.flatnonzero(fut.fillna(False).to_numpy()), name, "future_date",
                 f"{what} is after the as-of date {as_of}",
                 "correct the date, or use an as-of date on or after it (--as-of); for "
                 "`ledger replay` (whose as-of is the blotter's first trade) put a later "
                 "purchase in the blotter instead of the lots file", s)
    return out


def _tickers(rows: _Rows, name: str, s: pd.Series, known: Collection[str] | None) -> pd.Series:
    codes, raws = _factorize(s)
    suggest = None
    spell = [normalize_ticker(v) for v in raws]
    out = pd.Series(np.array([sp.ticker for sp in spell], dtype=object)[codes])
    by_code = np.argsort(codes, kind="stable")  # rows of each distinct value, found once
    bounds = np.searchsorted(codes[by_code], np.arange(len(raws) + 1))
    for u, (raw, sp) in enumerate(zip(raws, spell, strict=True)):
        if not str(raw).strip() or (sp.valid and not sp.changed and
                                    (known is None or sp.ticker in known)):
            continue  # fine, or blank (reported as missing_value by the caller)
        idx = by_code[bounds[u]:bounds[u + 1]]
        if not sp.valid:
            what = _not_a_stock(str(raw))
            if what:  # reviewer 1 (session 22): an option or a bond was told to "put the
                # exchange ticker"; it has none, and pma_lab does not manage it
                rows.add(idx, name, "invalid_ticker", f"this is {what}",
                         ("pma_lab manages stock and fund lots only: delete the row (and take "
                          "it out of any total row)" if what.startswith("an option") else
                          "if it is a stock or fund, write its ticker instead; pma_lab does "
                          "not manage a bond, CD or other security without a ticker: delete "
                          "the row (and take it out of any total row)"), s)
                rows.dropped[idx] = True  # its shares, dates and costs are not a stock's
                continue
            rows.add(idx, name, "invalid_ticker", "this is not a ticker symbol",
                     "put the exchange ticker in this column (e.g. AAPL, BRK.B), not the "
                     "security name or CUSIP", s)
            continue
        if known is not None and sp.ticker not in known:
            suggest = suggest or TickerSuggester(known)  # fast; hints for 50 at most
            near = suggest(sp.ticker)
            hint = f"did you mean {', '.join(near)}? " if near else ""
            rows.add(idx, name, "unknown_ticker",
                     f"ticker {sp.ticker} is not in pma_lab's security master (S&P 500 "
                     "universe and ETFs)",
                     f"{hint}check the symbol; securities outside the universe must be "
                     "transferred or sold before they can be managed", s)
            continue
        if sp.changed and raw.strip():
            rows_list = [rows.t.row_numbers[i] for i in idx]
            rows.issues.append(Issue(
                rows.t.file, rows_list[0], rows.header(name), raw,
                f"ticker spelling {raw.strip()!r} read as {sp.ticker!r} "
                f"({len(rows_list)} row{'s' if len(rows_list) > 1 else ''})",
                f"nothing to do; write {sp.ticker!r} to silence this", Severity.WARNING,
                "ticker_normalized"))
    return out


_WASH_HEADERS = re.compile(r"disallowed|wash")


def _wash_columns(table: RawTable) -> list[Issue]:
    """A custodian's wash-sale column (Schwab's "Disallowed Loss"): what pma_lab makes of it.

    The lots' basis is read as the custodian wrote it, its wash-sale adjustments in it; the
    replacement shares' holding period is not extended from the column (the sale that
    washed is not in a lots file): the recent trades give it (reviewer 1, session 24: the
    column was "informational" without a word).
    """
    heads = [h for h in table.header if h and _WASH_HEADERS.search(header_key(h))]
    if not heads:
        return []
    return [Issue(
        table.file, table.header_row, ", ".join(heads), None,
        f"{', '.join(repr(h) for h in heads)}: the lots' cost basis is read as written, "
        "with the custodian's wash-sale adjustments in it; a replacement lot's holding "
        "period is not extended from this column (its acquisition date is the purchase's)",
        "nothing to do if no lot here replaced shares sold at a loss in the last year; "
        "otherwise name the last weeks' trades as the profile's lots.recent_trades (the "
        "loss sale and the purchase), so the replay carries the holding period over",
        Severity.WARNING, "wash_column_read_as_basis")]


# how custodians write a basis they do not have (a transferred-in or very old lot)
_UNKNOWN_BASIS = frozenset({"--", "-", "—", "–", "n/a", "na", "unknown", "not available",
                            "unavailable", "missing"})


def _unknown_basis(r: _Rows, name: str, s: pd.Series) -> None:
    """A cost cell the custodian left as ``--`` / ``N/A``: a missing basis, said so.

    Reported before the number check, so the row reads this error, not "not a number"
    (reviewer 1, session 24).
    """
    unknown = s.str.strip().str.lower().isin(_UNKNOWN_BASIS)
    r.add(np.flatnonzero(unknown.to_numpy()), name, "unknown_basis",
          "the custodian does not know this lot's cost basis (it writes it as "
          f"{s[unknown].iloc[0].strip()!r} when it has none)" if unknown.any() else "",
          "get the basis from the prior custodian or the client's records (a gift: the "
          "donor's basis; an inheritance: the value at the date of death) and enter it; "
          "pma_lab cannot figure a sale's gain without it", s)


def _cents_or_more(v: float) -> str:
    """``46.21``, ``46.2125``: a per-share amount with at least two decimals, at most four."""
    text = f"{v:,.4f}".rstrip("0")
    return text + "0" * (2 - len(text.split(".")[1]))


def _round_cents_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Round ``a * b`` to the cent, half up, exactly as Decimal arithmetic would.

    Floats are exact enough except within a hair of a half cent; those products (a few in
    a hundred thousand, e.g. 3 x 10.005) are recomputed in Decimal from the cells' text.
    """
    with np.errstate(invalid="ignore"):
        cents = a * b * 100.0
        out = np.floor(cents + 0.5) / 100.0
        frac = cents - np.floor(cents)
        near = np.abs(frac - 0.5) < 1e-4
    for i in np.flatnonzero(near):
        out[i] = float(money(Decimal(repr(float(a[i]))) * Decimal(repr(float(b[i])))))
    return out


def _raise_if(issues: list[Issue], cls: type[InputError], source: str) -> None:
    if any(i.severity is Severity.ERROR for i in issues):
        raise cls(source, issues)


def _missing_columns(table: RawTable, cols: Mapping[str, int], fields: Iterable[Field]
                     ) -> list[Issue]:
    out = []
    names = header_names(table.header, fields)
    present = (f"header: {names}" if names is not None else
               "the first row names no known column, so it is not shown")
    for f in fields:
        if f.required and f.name not in cols:
            out.append(Issue(table.file, table.header_row, f.name, None,
                             f"required column '{f.name}' is missing ({present})",
                             f"add a column named '{f.name}' (or one of: "
                             f"{', '.join(f.aliases[:4])}): {f.help}",
                             Severity.ERROR, "missing_column"))
    return out


# ------------------------------------------------------------------------------- market check
_CLOSE_LOOKBACK_DAYS = 7  # a close this many calendar days before (weekend, holidays, 9/11)


def _market_closes(market: MarketData, tickers: pd.Series, dates: pd.Series) -> pd.DataFrame:
    """The close of each (ticker, date) on or before the date, with coverage facts.

    Columns: ``close`` (NaN when none within a week), ``seen`` (the close's date),
    ``panel_start`` (first date of the ticker's price panel, NaT when it has none),
    ``first``/``last`` (the ticker's first and last close).
    """
    n = len(tickers)
    nat = np.datetime64("NaT", "ns")
    close = np.full(n, np.nan)
    cols = {c: np.full(n, nat, dtype="datetime64[ns]")
            for c in ("seen", "panel_start", "first", "last")}
    day = dates.to_numpy(dtype="datetime64[ns]")
    names_all = tickers.to_numpy(dtype=object)
    codes, uniq = pd.factorize(names_all)
    done = np.isnat(day)
    limit = np.timedelta64(_CLOSE_LOOKBACK_DAYS, "D")
    for hist in (market.prices, market.etfs):
        mask = ~done & np.array([t in hist for t in uniq], dtype=bool)[codes]
        if not mask.any():
            continue
        done |= mask
        names = sorted(pd.unique(names_all[mask]))
        cov = hist.coverage().loc[names]
        table = hist.window(hist.first_date, hist.last_date, names)
        vals = table.to_numpy(dtype=float)
        cal = table.index.to_numpy(dtype="datetime64[ns]")
        col = pd.Index(names).get_indexer(names_all[mask])
        d = day[mask]
        pos = np.searchsorted(cal, d, side="right") - 1
        got = np.full(len(d), np.nan)
        seen = np.full(len(d), nat, dtype="datetime64[ns]")
        for back in range(_CLOSE_LOOKBACK_DAYS):
            p = np.clip(pos - back, 0, None)
            ok = (pos - back >= 0) & np.isnan(got)
            v = np.where(ok, vals[p, col], np.nan)
            fresh = ok & ~np.isnan(v) & (d - cal[p] <= limit)
            got[fresh] = v[fresh]
            seen[fresh] = cal[p[fresh]]
        close[mask] = got
        cols["seen"][mask] = seen
        cols["panel_start"][mask] = np.datetime64(hist.first_date, "ns")
        cols["first"][mask] = cov["first_date"].to_numpy(dtype="datetime64[ns]")[col]
        cols["last"][mask] = cov["last_date"].to_numpy(dtype="datetime64[ns]")[col]
    return pd.DataFrame({"close": close, **cols})


def _unpriced(r: _Rows, market: MarketData, tickers: pd.Series) -> None:
    """Each row whose ticker the security master knows but pma_lab has no prices for.

    A renamed security's former ticker (FB, now META) is named with the ticker it trades
    under; any other is a 2021 member that has left the index since (the packaged prices hold
    the names of the 2026 list and the 2021 list's that one panel kept). Reviewer
    1 (session 22): FB in a lots file stopped the run later with a bare "no price series
    for FB", without the file, row or column, and without the file's other problems.
    """
    ok = ~r.bad
    names = tickers.to_numpy(dtype=object)
    uniq = pd.unique(names[ok & pd.notna(names)])
    gone = [t for t in uniq if t and t not in market.prices and t not in market.etfs]
    if not gone:
        return
    from pma_lab.market.tickers import IdentityTable

    table = IdentityTable.default()
    for t in sorted(gone):
        idx = np.flatnonzero(ok & (names == t))
        now = table.group(t)
        if t in table.former and now != t:
            r.add(idx, "ticker", "renamed_ticker",
                  f"{t} now trades as {now} (the same security, renamed)",
                  f"write {now}: the lot's dates and basis stay as they are (pma_lab prices "
                  f"{t}'s history under {now})", r.col("ticker"))
        else:
            r.add(idx, "ticker", "no_prices",
                  f"pma_lab has no prices for {t} (a 2021 S&P 500 member in its security "
                  "master that has left the index: acquired, merged or delisted)",
                  "correct the ticker if it is a typo; otherwise sell or transfer the lot "
                  "before the account is managed", r.col("ticker"))


def _check_against_market(r: _Rows, market: MarketData | None, tickers: pd.Series,
                          acquired: pd.Series, per_share: np.ndarray, basis_col: np.ndarray,
                          policy: ReadPolicy) -> np.ndarray:
    """Compare each lot's cost per share with the market close of its acquisition day.

    The packaged closes are split- and dividend-adjusted to a recent base, not the prices
    paid, and the packaged data has no raw closes (only the 2018-02-08 close of the security
    master). Measured against the raw closes of the shared AlphaVantage panel with every
    recorded split taken out, the raw/adjusted ratio has a median of 1.78 on 2000-01-03,
    1.48 on 2010-01-04 and 1.21 on 2018-02-08 (dividends since), a 99th percentile near 20,
    a minimum of 0.22 (GE, spin-offs) and no value below 1/20; the few above 20 are splits
    after 2021 (which a custodian's split-adjusted lot has applied too) and Altria in 2000
    (spin-offs, which also cut a custodian's per-share basis). So the check uses the
    adjusted closes with a band an order of magnitude wide on each side
    (``LIMITS.basis_band`` = 20): it cannot confirm a basis, but it catches the errors that
    are off by 100x or more: a total written as a per-share cost (or the reverse), a decimal
    comma read as a thousands separator (41,900 for 41.90), cents for dollars, a lot copied
    from a statement older than a split.

    Returns the rows whose basis was compared (a close was found).
    """
    n = len(tickers)
    if market is None:
        return np.zeros(n, dtype=bool)
    _unpriced(r, market, tickers)
    info = _market_closes(market, tickers, acquired)
    ok = ~r.bad
    day = acquired.to_numpy(dtype="datetime64[ns]")
    in_panel = ~info["panel_start"].isna().to_numpy()
    before = in_panel & (day < info["panel_start"].to_numpy()) & ok
    if before.any():
        sev = Severity.WARNING if policy.allow_before_market_data else Severity.ERROR
        starts = sorted({pd.Timestamp(x).date() for x in info.loc[before, "panel_start"]})
        r.add(np.flatnonzero(before), "acquired", "before_market_data",
              "the lot is dated before pma_lab's market data starts "
              f"({', '.join(map(str, starts))}), so its basis cannot be checked"
              + ("; accepted (lots.allow_before_market_data)"
                 if sev is Severity.WARNING else ""),
              "correct the date if it is wrong (Excel writes empty dates as 1899/1900); if the "
              "lot really is that old, set lots.allow_before_market_data = true in the profile",
              r.col("acquired"), sev)
    close = info["close"].to_numpy()
    priced = ~np.isnan(close) & ok
    gap = in_panel & ~before & ~priced & ok
    for tk in sorted(set(tickers[gap])):
        idx = np.flatnonzero(gap & (tickers == tk).to_numpy())
        first, last = info.at[idx[0], "first"], info.at[idx[0], "last"]
        r.issues.append(Issue(
            r.t.file, r.t.row_numbers[idx[0]], r.header("acquired"),
            _shown(r.col("acquired").iat[idx[0]]),
            f"no {tk} close within a week before the acquisition date ({tk} prices run "
            f"{pd.Timestamp(first).date()} to {pd.Timestamp(last).date()}); the basis of "
            f"{len(idx)} lot{'s' if len(idx) > 1 else ''} was not checked against the market",
            "nothing to do if the lot came from a spin-off, merger or transfer that kept an "
            "earlier date; otherwise check the date", Severity.WARNING, "basis_unchecked"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = per_share / close
    band = LIMITS.basis_band
    off = priced & (per_share > 0) & ((ratio > band) | (ratio < 1 / band))
    for i in np.flatnonzero(off):
        col = str(basis_col[i])
        factor = (f"{ratio[i]:,.0f} times" if ratio[i] > 1 else f"1/{1 / ratio[i]:,.0f} of")
        r.add([i], col, "basis_vs_market",
              f"the cost per share ${per_share[i]:,.2f} is {factor} the {tickers.iat[i]} "
              f"close of ${close[i]:,.2f} on {pd.Timestamp(info.at[i, 'seen']).date()} "
              "(split- and dividend-adjusted)",
              "check the cost columns: a total written as a cost per share (or the reverse), "
              "a decimal comma read as a thousands separator (41,900 for 41.90), cents for "
              "dollars, or shares and cost not adjusted for a later split; the check allows "
              f"a factor of {band:g} either way", r.col(col))
    return priced


# ------------------------------------------------------------------------------- summary rows
_TOTAL = re.compile(
    r"^(?:(?:account|grand|sub|portfolio|overall|positions|holdings|securities|page|report"
    r"|transactions?)"
    r"[ -]?)?totals?(?: (?:for|of) .*| (?:account |market |portfolio )?value)?$")
# money-market sweep funds custodians show as positions (Fidelity marks its core with **)
_MONEY_MARKET = frozenset({
    "SPAXX", "FDRXX", "FZFXX", "SPRXX", "FZDXX", "FCASH", "CORE", "SWVXX", "SNVXX", "SNSXX",
    "SNOXX", "SWGXX", "VMFXX", "VMRXX"})
_CASH_NAMES = re.compile(r"^(?:cash(?: (?:&|and) (?:cash investments|money markets?|sweep))?"
                         r"|money markets?(?: funds?)?|core(?: position)?|sweep(?: account)?"
                         r"|cash sweep)$")


def _is_cash(raw: str, known: Collection[str] | None) -> bool:
    """A money-market or core cash position: ``SPAXX**``, ``FDRXX``, ``Cash & Cash ...``."""
    t = raw.strip()
    if t.endswith("**"):
        return True
    sym = t.upper()
    if known is not None and sym in known:
        return False  # a security pma_lab knows (a money-market ETF, a ticker such as CASH)
    words = " ".join(t.lower().replace("&", " & ").split())
    return sym in _MONEY_MARKET or bool(_CASH_NAMES.match(words))


def _is_date_like(text: str) -> bool:
    t = text.strip()
    return bool(_ISO.match(t) or _SLASH.match(t) or _TWO_DIGIT_YEAR.match(t))


def _figure(text: str, money_col: bool) -> float | None:
    v = _parse_number(text, money_col)
    return v if isinstance(v, float) and not np.isnan(v) else None


def _summary_rows(table: RawTable, cols: Mapping[str, int], known: Collection[str] | None,
                  default_account: str | None) -> tuple[RawTable, list[Issue]]:
    """Take total rows and cash positions out of a lots table.

    A row whose ticker cell reads as a total (``Total``, ``Account Total``, ``Subtotal``,
    ``Grand Total``) and whose acquisition date is blank or not a date is skipped with a
    ``total_row`` warning; its shares and total cost, where given, must equal the sum of the
    lots above it (since the previous total row, or since the top of the file), else a
    ``total_mismatch`` error names both figures. A money-market or core cash position
    (``SPAXX**``, ``FDRXX``, ``Cash & Cash Investments``) is a ``cash_position`` error
    telling the user to add it to the account's ``cash`` in the profile: pma_lab keeps cash
    as an amount per account, not as lots, and a swept cash balance is not a lot to manage.

    Returns
    -------
    tuple[RawTable, list[Issue]]
        The table without those rows, and the issues.
    """
    tk = cols.get("ticker")
    if tk is None:
        return table, []
    acq = cols.get("acquired")
    file = table.file
    header = table.header
    issues: list[Issue] = []
    keep: list[int] = []
    since: list[int] = []  # kept rows since the last total row
    for i, row in enumerate(table.rows):
        raw = row[tk]
        num = table.row_numbers[i]
        low = " ".join(raw.lower().split()).rstrip(":")
        date = row[acq] if acq is not None else ""
        if low and _TOTAL.match(low) and not _is_date_like(date):
            checks = []
            for name, what, money_col in (("shares", "shares", False),
                                          ("cost_total", "total cost", True)):
                j = cols.get(name)
                if j is None or not row[j].strip():
                    continue
                said = _figure(row[j], money_col)
                if said is None:
                    continue
                sums = []
                for group in (since, keep):
                    vals = [_lot_figure(table.rows[k], cols, name) for k in group]
                    if group and all(v is not None for v in vals):
                        sums.append(float(sum(vals)))  # type: ignore[arg-type]
                if not sums:
                    continue
                tol = (0.005 * len(keep) + 0.011) if money_col else 1e-6 * max(1.0, said)
                fmt = (lambda v: f"${v:,.2f}") if money_col else (lambda v: f"{v:,.6g}")
                if all(abs(v - said) > tol for v in sums):
                    above = (f"rows {table.row_numbers[since[0]]}-"
                             f"{table.row_numbers[since[-1]]}" if since else "the rows above")
                    issues.append(Issue(
                        file, num, header[j], _shown(row[j]),
                        f"the total row says {what} {fmt(said)} but the lots above it "
                        f"({above}) add up to {fmt(sums[0])}",
                        "check for a lot row missing from the export or copied twice, or a "
                        "figure typed wrong; the total must equal the sum of its lots",
                        Severity.ERROR, "total_mismatch"))
                else:
                    checks.append(what)
            checked = (f"; its {' and '.join(checks)} "
                       f"{'match' if len(checks) > 1 else 'matches'} the sum of the lots above"
                       if checks else "")
            issues.append(Issue(
                file, num, header[tk], _shown(raw),
                f"the row was read as a total row, not a lot, and skipped{checked}",
                "nothing to do", Severity.WARNING, "total_row"))
            since = []
            continue
        if low and _is_cash(raw, known):
            acc_col = cols.get("account")
            account = row[acc_col] if acc_col is not None and row[acc_col] else default_account
            j = cols.get("shares")
            amount = _figure(row[j], False) if j is not None else None
            fund = raw.strip().endswith("**") or raw.strip().upper() in _MONEY_MARKET
            units = f"{amount:,.4f}".rstrip("0").rstrip(".") if amount is not None else ""
            worth = (f" ({units} units of a $1 money-market fund are ${amount:,.2f})"
                     if amount is not None and fund else "")
            issues.append(Issue(
                file, num, header[tk], _shown(raw),
                "this row is cash or a money-market sweep (core position), not a security lot",
                f"add its value{worth} to the cash of "
                f"{f'account {account!r}' if account else 'its account'} in the profile "
                "([[accounts]] cash = ...) and delete this row; pma_lab holds cash as an "
                "amount per account", Severity.ERROR, "cash_position"))
            continue
        keep.append(i)
        since.append(i)
    if len(keep) == len(table.rows):
        return table, issues
    if not keep and not any(x.severity is Severity.ERROR for x in issues):
        issues.append(Issue(file, table.header_row, None, None,
                            "the file has no lot rows, only total rows",
                            "export the lots (lot-level detail) again", Severity.ERROR,
                            "header_only"))
    sub = RawTable(file, header, [table.rows[k] for k in keep],
                   [table.row_numbers[k] for k in keep], table.header_row, table.reported)
    return sub, issues


def _lot_figure(row: list[str], cols: Mapping[str, int], name: str) -> float | None:
    """One lot's shares or total cost from its cells (cost from per share if need be)."""
    if name == "shares":
        return _figure(row[cols["shares"]], False)
    v = _figure(row[cols["cost_total"]], True)
    if v is None and "cost_per_share" in cols and "shares" in cols:
        sh = _figure(row[cols["shares"]], False)
        cps = _figure(row[cols["cost_per_share"]], True)
        v = None if sh is None or cps is None else round(sh * cps, 2)
    return v


# ------------------------------------------------------------------------------- lots
def read_lots(path: str | Path, *, as_of: dt.date, accounts: Collection[str] | None = None,
              default_account: str | None = None, date_order: DateOrder | None = None,
              known: Collection[str] | None | str = "market", delimiter: str = ",",
              sheet: str | None = None, market: MarketData | None | str = "market",
              policy: ReadPolicy | None = None,
              account_aliases: Mapping[str, str] | None = None,
              empty_ok: bool = False) -> LotSet:
    """Read and validate one tax-lots file (CSV or XLSX).

    Parameters
    ----------
    path : str | Path
        The file.
    as_of : datetime.date
        The analysis date: no lot may be acquired after it.
    accounts : Collection[str] | None
        Account ids declared in the profile; an account column must only use these.
    default_account : str | None
        Account for files without an account column (required then).
    date_order : {"MDY", "DMY"} | None
        How to read slash dates such as 03/04/2024; ``None`` infers it from dates that can
        only be read one way and reports the inference as a warning.
    known : Collection[str] | None | "market"
        Tickers accepted; ``"market"`` (default) uses the packaged security master and
        ETFs; ``None`` skips the check.
    delimiter : str
        CSV delimiter.
    sheet : str | None
        XLSX sheet to read.
    market : MarketData | None | "market"
        Prices to check each lot's cost per share against (default: the packaged data;
        ``None`` skips the check). A cost per share more than ``LIMITS.basis_band`` (20)
        times above or below the acquisition day's close is an error naming the row and
        the close seen; a lot dated before the prices start is an error unless
        ``policy.allow_before_market_data``. Thousands separators that could be decimal
        commas (``41,900``) are accepted only in rows this check covers.
    policy : ReadPolicy | None
        The profile's opt-ins (hidden workbook content, lots older than the market data);
        ``None``: none.
    account_aliases : Mapping[str, str] | None
        How the client knows each account (its name, its number, lower case) -> its id: an
        account cell that names an account so is refused with the id to write.
    empty_ok : bool
        A file with a header and no data row is a custodian's export of an account with no
        positions: read as no lots, with a ``header_only`` warning naming the file (its fix:
        export again if the account holds shares). ``False`` (default): an error (the
        export stopped after the header). :func:`pma_lab.io.client.load_client` reads
        the profile's files so when the client has cash (an all-cash account) and refuses
        the client when it has neither lots nor cash.

    Returns
    -------
    LotSet
        The validated lots and the warnings.

    Raises
    ------
    LotDataError
        With every problem found in the file (``.issues``).
    """
    if known == "market":
        known = known_tickers()
    if isinstance(market, str):
        from pma_lab.market.data import load_market

        market = load_market()
    policy = policy or ReadPolicy()
    table, issues = read_table(path, LOT_FIELDS, delimiter=delimiter, sheet=sheet,
                               policy=policy, detect_delimiter=True)
    file = str(path)
    if table is None:
        if empty_ok and _only_header(issues):
            return _empty_account(file, as_of, issues)
        raise LotDataError(file, issues)
    cols, col_issues = map_columns(table, LOT_FIELDS)
    issues += col_issues
    issues += _missing_columns(table, cols, LOT_FIELDS)
    issues += _wash_columns(table)
    if "cost_per_share" not in cols and "cost_total" not in cols:
        issues.append(Issue(file, table.header_row, "cost basis", None,
                            "no cost basis column (neither per share nor total)",
                            "add 'cost_per_share' (e.g. 'Unit Cost') or 'cost_total' (e.g. "
                            "'Cost Basis')", Severity.ERROR, "missing_column"))
    if "account" not in cols and default_account is None:
        issues.append(Issue(file, table.header_row, "account", None,
                            "the file has no account column and no default account is set",
                            "add an 'account' column or set lots.default_account in the "
                            "profile", Severity.ERROR, "missing_column"))
    table, summary = _summary_rows(table, cols, known, default_account)
    issues += summary
    if not table.rows:
        if empty_ok and _only_header(issues):  # a header and a total row of 0
            return _empty_account(file, as_of, issues)
        raise LotDataError(file, issues)
    # a missing column does not stop the row checks of the columns that are present
    r = _Rows(table, cols)
    n = len(table.rows)
    tick_s = r.col("ticker")
    r.blank("ticker", tick_s, "the ticker")
    tickers = _tickers(r, "ticker", tick_s, known)

    acq_s = r.col("acquired")
    r.blank("acquired", acq_s, "the acquisition date")
    acquired = _dates(r, "acquired", acq_s, date_order, as_of, "the acquisition date")

    sh_s = r.col("shares")
    r.blank("shares", sh_s, "the number of shares")
    sh_p = _numbers(r, "shares", sh_s, "the number of shares", money_col=False,
                    upper=LIMITS.max_shares, lower=LIMITS.min_shares)
    shares = sh_p.values
    nonpos = (shares <= 0).fillna(False)
    r.add(np.flatnonzero(nonpos.to_numpy()), "shares", "non_positive_shares",
          "shares must be greater than zero",
          "remove closed lots and short positions; pma_lab manages long lots only", sh_s)

    cps = tot = None
    cps_p = tot_p = None
    if "cost_per_share" in cols:
        cps_s = r.col("cost_per_share")
        _unknown_basis(r, "cost_per_share", cps_s)
        cps_p = _numbers(r, "cost_per_share", cps_s, "the cost per share", money_col=True,
                         upper=LIMITS.max_price)
        cps = cps_p.values
    if "cost_total" in cols:
        tot_s = r.col("cost_total")
        _unknown_basis(r, "cost_total", tot_s)
        tot_p = _numbers(r, "cost_total", tot_s, "the total cost basis", money_col=True,
                         upper=LIMITS.max_amount)
        tot = tot_p.values
    basis_name = "cost_total" if tot is not None else "cost_per_share"
    basis_s = r.col(basis_name)
    if cps is not None and tot is not None:
        have = (r.col("cost_per_share").str.len() > 0) | (basis_s.str.len() > 0)
        r.add(np.flatnonzero((~have).to_numpy()), basis_name, "missing_value",
              "the cost basis is blank", "fill in the cost basis (per share or total)",
              basis_s)
    else:
        r.blank(basis_name, basis_s, "the cost basis")
    zero_said = np.zeros(n, dtype=bool)  # one zero-basis warning a row, not one a column
    for nm, v in (("cost_per_share", cps), ("cost_total", tot)):
        if v is None:
            continue
        vs = r.col(nm)
        r.add(np.flatnonzero((v < 0).fillna(False).to_numpy()), nm, "negative_basis",
              "the cost basis is negative",
              "enter the basis as a positive amount; short positions are not supported", vs)
        zero = (v == 0).fillna(False).to_numpy() & ~zero_said
        zero_said |= zero
        r.add(np.flatnonzero(zero), nm, "zero_basis",
              "the cost basis is zero: the whole sale price will be a gain",
              "check the basis (zero is right only for e.g. some gifts or RSUs reported "
              "without basis)", vs, Severity.WARNING)
    # total basis in cents, exactly: Decimal(shares) x Decimal(cost per share)
    total = np.full(n, np.nan)
    if tot is not None:
        total = tot.to_numpy(dtype=float, na_value=np.nan).copy()
    if cps is not None:
        cps_arr = cps.to_numpy(dtype=float, na_value=np.nan)
        sh_arr = shares.to_numpy(dtype=float, na_value=np.nan)
        from_cps = _round_cents_product(sh_arr, cps_arr)
        big = from_cps > LIMITS.max_amount
        r.add(np.flatnonzero(big), "cost_per_share", "out_of_range",
              f"shares x cost per share is more than {LIMITS.max_amount:,.0f} USD",
              "check the shares and the cost per share", r.col("cost_per_share"))
        from_cps[big] = np.nan
        if tot is not None:
            both = ~np.isnan(from_cps) & ~np.isnan(total)
            tol = 0.005 * np.nan_to_num(sh_arr) + 0.011
            mism = both & (np.abs(from_cps - total) > tol)
            for i in np.flatnonzero(mism):  # the figures, so the wrong cell shows itself
                r.add([i], "cost_total", "basis_mismatch",
                      f"cost per share x shares does not match the total cost basis: "
                      f"{sh_arr[i]:,.10g} x ${_cents_or_more(cps_arr[i])} = "
                      f"${from_cps[i]:,.2f}, the total says ${total[i]:,.2f}",
                      "keep one of the two cost columns, or correct the wrong one", basis_s)
            total = np.where(np.isnan(total), from_cps, total)
        else:
            total = from_cps
    sh = shares.to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_share = np.where(sh > 0, total / sh, np.nan)
    per_share_given = (cps.notna().to_numpy() if cps is not None else np.zeros(n, bool))
    total_given = tot.notna().to_numpy() if tot is not None else np.zeros(n, bool)
    priced = _check_against_market(
        r, market, tickers, acquired, per_share,
        np.where(per_share_given, "cost_per_share", "cost_total"), policy)
    # "41,900" is accepted only where the market check above could tell which reading is
    # meant: a cost cell of a priced row, a share count whose basis came from a total. Without
    # the acquisition-date column the check cannot run: that column's error is the one to
    # fix first, and the commas are judged once it is there (reviewer 1, session 24: two
    # "ambiguous" errors that renaming the date header made go away)
    if "acquired" not in cols:
        pass
    else:
        if cps_p is not None:
            _ambiguous(r, "cost_per_share", r.col("cost_per_share"),
                       cps_p.ambiguous & ~priced, "the cost per share")
        if tot_p is not None:
            _ambiguous(r, "cost_total", basis_s, tot_p.ambiguous & ~priced,
                       "the total cost")
        _ambiguous(r, "shares", sh_s, sh_p.ambiguous & ~(priced & total_given),
                   "the number of shares")

    if "account" in cols:
        acc_s = r.col("account")
        r.blank("account", acc_s, "the account")
        account = acc_s
        if accounts is not None:
            unknown = ~acc_s.isin(list(accounts)) & (acc_s.str.len() > 0)
            alias = {k.strip().lower(): v for k, v in (account_aliases or {}).items() if k}
            named = unknown & acc_s.str.strip().str.lower().isin(list(alias))
            # reviewer 1 (session 22): "Joint Brokerage" is how the profile names 'joint'
            for value in sorted(set(acc_s[named])):
                idx = np.flatnonzero((named & (acc_s == value)).to_numpy())
                r.add(idx, "account", "unknown_account",
                      f"'{value}' is how the profile names account "
                      f"'{alias[value.strip().lower()]}', not its id",
                      f"write {alias[value.strip().lower()]} (the account's id in the "
                      "profile's [[accounts]])", acc_s)
            r.add(np.flatnonzero((unknown & ~named).to_numpy()), "account", "unknown_account",
                  f"the account is not declared in the profile (declared: "
                  f"{', '.join(sorted(accounts))})",
                  "add the account to the profile's [[accounts]] or fix the account id", acc_s)
    else:
        if accounts is not None and default_account not in accounts:
            r.issues.append(Issue(file, None, "lots.default_account", default_account,
                                  "the default account is not declared",
                                  "declare it in [[accounts]]", Severity.ERROR,
                                  "unknown_account"))
        account = pd.Series([default_account] * n, dtype=object)
        others = sorted(set(accounts or ()) - {default_account})
        if others and default_account in (accounts or ()):
            # reviewer 1 (session 22): an IRA's workbook without an account column was
            # booked to the taxable default account without a word
            r.issues.append(Issue(
                file, table.header_row, "account", default_account,
                f"the file has no account column, so all {n} of its lot rows are booked to "
                f"the default account '{default_account}' (lots.default_account); the "
                f"profile also declares {', '.join(repr(a) for a in others)}",
                "nothing to do if every lot of this file is in that account; otherwise add "
                "an 'account' column naming each lot's account (custodians export one file "
                "per account: add the column with that account's id)", Severity.WARNING,
                "default_account_used"))

    if "lot_id" in cols:
        id_s = r.col("lot_id")
        r.blank("lot_id", id_s, "the lot id")
        dup = id_s.duplicated(keep=False) & (id_s.str.len() > 0)
        for i in np.flatnonzero(dup.to_numpy()):
            first = int(np.flatnonzero((id_s == id_s.iat[i]).to_numpy())[0])
            others = [table.row_numbers[j] for j in np.flatnonzero((id_s == id_s.iat[i])
                                                                   .to_numpy()) if j != i]
            if i == first:
                continue
            r.add([i], "lot_id", "duplicate_lot_id",
                  f"lot id {id_s.iat[i]!r} is also used on row "
                  f"{', '.join(map(str, others[:1]))}",
                  "give every lot its own id (or drop the lot id column to have ids "
                  "generated from row numbers)", id_s)
        lot_ids = id_s
    else:
        stem = Path(file).stem
        lot_ids = pd.Series([f"{stem}:{k}" for k in table.row_numbers], dtype=object)

    inherited = pd.Series(False, index=range(n))
    if "inherited" in cols:
        inh_s = r.col("inherited")
        low = inh_s.str.lower()
        bad = ~low.isin(_TRUE | _FALSE)
        r.add(np.flatnonzero(bad.to_numpy()), "inherited", "invalid_value",
              "the inherited flag must be yes or no", "write yes or no (blank means no)",
              inh_s)
        inherited = low.isin(_TRUE)

    gift_date, fmv = _gifts(r, acquired, inherited, date_order, as_of, shares)

    _raise_if(issues + r.issues, LotDataError, file)
    df = pd.DataFrame({
        "lot_id": lot_ids.astype(str).to_numpy(),
        "account": account.astype(str).to_numpy(),
        "ticker": tickers.astype(str).to_numpy(),
        "acquired": acquired.astype("datetime64[ns]").to_numpy(),
        "shares": shares.to_numpy(dtype=float),
        "cost_total": np.round(total, 2),
        "cost_per_share": per_share,
        "inherited": inherited.to_numpy(dtype=bool),
        "gift_date": gift_date.astype("datetime64[ns]").to_numpy(),
        "fmv_at_gift": np.round(fmv, 2),
        "source_file": file,
        "source_row": np.asarray(table.row_numbers, dtype=np.int64),
    })
    if "lot_id" not in cols:
        r.issues += _same_lot_twice(df, file, r.header("ticker"))
    warnings = tuple(i for i in issues + r.issues if i.severity is Severity.WARNING)
    return LotSet(_freeze(df), as_of, warnings, (file,), ((file, r.header(basis_name)),),
                  () if "lot_id" in cols else (file,))


def _gifts(r: _Rows, acquired: pd.Series, inherited: pd.Series,
           date_order: DateOrder | None, as_of: dt.date | None,
           shares: pd.Series | None = None) -> tuple[pd.Series, np.ndarray]:
    """The optional gift columns: each lot's gift date (NaT) and FMV at the gift (NaN).

    A lot received as a gift (IRC §1015, Pub 551) gives the donor's acquisition date as
    ``acquired`` and the donor's adjusted basis as its cost basis, plus the day it was
    received (``gift_date``) and the total fair market value of its shares that day
    (``fmv_at_gift``): both or neither. The FMV may be given per share instead
    (``fmv_per_share_at_gift``, custodian-style headers such as "FMV per share at gift"):
    times the lot's ``shares``, in cents; both columns on a row must agree (to half a cent
    a share, as the cost columns), else a ``gift_fmv_mismatch`` error names both figures.
    The gift is on or after the donor's acquisition and a lot is not both inherited and a
    gift. Problems are added to ``r``.
    """
    n = len(r.t.rows)
    gd_s, fmv_s = r.col("gift_date"), r.col("fmv_at_gift")
    fps_s = r.col("fmv_per_share_at_gift")
    has_gd = (gd_s.str.strip().str.len() > 0).to_numpy()
    has_total = (fmv_s.str.strip().str.len() > 0).to_numpy()
    has_fps = (fps_s.str.strip().str.len() > 0).to_numpy()
    has_fmv = has_total | has_fps
    if not has_gd.any() and not has_fmv.any():
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[s]"), np.full(n, np.nan)
    gift_date = _dates(r, "gift_date", gd_s, date_order, as_of, "the gift date")
    fmv_arr = np.full(n, np.nan)
    if has_total.any():
        fmv = _numbers(r, "fmv_at_gift", fmv_s, "the fair market value at the gift",
                       money_col=True, upper=LIMITS.max_amount).values
        fmv_arr = fmv.to_numpy(dtype=float, na_value=np.nan)
    if has_fps.any():
        fps = _numbers(r, "fmv_per_share_at_gift", fps_s,
                       "the fair market value per share at the gift", money_col=True,
                       upper=LIMITS.max_amount).values.to_numpy(dtype=float, na_value=np.nan)
        sh = (shares.to_numpy(dtype=float, na_value=np.nan) if shares is not None
              else np.full(n, np.nan))
        r.add(np.flatnonzero((fps < 0) & has_fps), "fmv_per_share_at_gift", "negative_basis",
              "the fair market value per share at the gift is negative",
              "enter the value of one share on the gift date as a positive amount", fps_s)
        from_fps = _round_cents_product(sh, fps)
        both = has_total & has_fps & ~np.isnan(from_fps) & ~np.isnan(fmv_arr)
        tol = 0.005 * np.nan_to_num(sh) + 0.011
        mism = both & (np.abs(from_fps - fmv_arr) > tol)
        for i in np.flatnonzero(mism):
            r.add([i], "fmv_per_share_at_gift", "gift_fmv_mismatch",
                  f"the fair market value per share at the gift ({fps[i]:,.4f} USD) times "
                  f"the {sh[i]:,.6g} shares is {from_fps[i]:,.2f} USD, but the lot's fair "
                  f"market value at the gift (fmv_at_gift) is {fmv_arr[i]:,.2f} USD",
                  "keep one of the two FMV columns (the lot's total or per share), or "
                  "correct the wrong one from the gift record (Form 709 or the custodian's "
                  "gift statement)", fps_s)
        fmv_arr = np.where(np.isnan(fmv_arr), from_fps, fmv_arr)
    r.add(np.flatnonzero((fmv_arr < 0) & has_fmv), "fmv_at_gift", "negative_basis",
          "the fair market value at the gift is negative",
          "enter the lot's total value on the gift date as a positive amount", fmv_s)
    # said on a column the file has (a file with a gift date and no FMV column at all, or
    # the other way round, is said on the column it has)
    fmv_col = next((c for c in ("fmv_at_gift", "fmv_per_share_at_gift") if c in r.cols),
                   "gift_date")
    gd_col = "gift_date" if "gift_date" in r.cols else fmv_col
    r.add(np.flatnonzero(has_gd & ~has_fmv), fmv_col, "gift_incomplete",
          "the lot has a gift date but no fair market value at the gift (below the donor's "
          "basis it is the basis for a loss, IRC §1015)",
          "enter the total value of the lot's shares on the gift date (fmv_at_gift) or the "
          "value of one share (fmv_per_share_at_gift), from the donor's gift record (Form "
          "709) or the custodian's gift statement, or blank the gift date if the lot was "
          "not a gift", r.col(fmv_col))
    r.add(np.flatnonzero(has_fmv & ~has_gd), gd_col, "gift_incomplete",
          "the lot has a fair market value at the gift but no gift date",
          "enter the day the gift was received (the acquisition date stays the donor's), "
          "or blank the FMV if the lot was not a gift", r.col(gd_col))
    gd = gift_date.astype("datetime64[ns]")
    acq = acquired.astype("datetime64[ns]")
    early = (gd < acq).fillna(False).to_numpy() & has_gd
    r.add(np.flatnonzero(early), "gift_date", "gift_before_acquired",
          "the gift date is before the lot's acquisition date",
          "give the donor's acquisition date as the lot's acquisition date (a gift's "
          "holding period includes the donor's) and the day it was received as the gift "
          "date", gd_s)
    both = inherited.to_numpy(dtype=bool) & (has_gd | has_fmv)
    r.add(np.flatnonzero(both), "inherited", "gift_and_inherited",
          "the lot is marked inherited and has gift columns: it is one or the other",
          "an inherited lot has a stepped-up basis (blank its gift columns); a lifetime gift "
          "keeps the donor's basis (mark it not inherited)", r.col("inherited"))
    return gift_date, fmv_arr


def _same_lot_twice(df: pd.DataFrame, file: str, column: str) -> list[Issue]:
    """A warning for each set of rows that are one lot in every column (no lot ids).

    Reviewer 1 (session 22): two identical rows (a lot copied twice) loaded silently as two
    lots. Two real lots can match (bought the same day at the same price, e.g. in two
    orders), so this warns and loads both; lot ids in the file say they are distinct.
    """
    key = ["account", "ticker", "acquired", "shares", "cost_total", "inherited"]
    dup = df[df.duplicated(key, keep=False)]
    out = []
    for _k, grp in dup.groupby(key, sort=False):
        rows = grp.source_row.tolist()
        r0 = grp.iloc[0]
        out.append(Issue(
            file, rows[0], column, r0.ticker,
            f"rows {', '.join(map(str, rows[:-1]))} and {rows[-1]} are the same lot in every "
            f"column ({r0.ticker}, {r0.shares:g} shares acquired "
            f"{pd.Timestamp(r0.acquired).date()} for ${r0.cost_total:,.2f} in account "
            f"'{r0.account}'); {'both' if len(rows) == 2 else f'all {len(rows)}'} are "
            "loaded",
            "delete the copies if the lot was pasted twice; if they are separate purchases, "
            "give the rows lot ids (a lot_id column) to say so", Severity.WARNING,
            "same_lot_twice"))
    return out


# ------------------------------------------------------------------------------- blotter
def _trade_times(r: _Rows) -> list[dt.time | None]:
    """The optional ``time`` column: HH:MM[:SS], blank for none (replay keeps file order)."""
    s = r.col("time")
    out: list[dt.time | None] = []
    for i, v in enumerate(s):
        text = str(v).strip()
        try:
            out.append(dt.time.fromisoformat(text) if text else None)
        except ValueError:
            out.append(None)
            r.add([i], "time", "invalid_value", "the time of day cannot be read",
                  "write the time as HH:MM or HH:MM:SS (24-hour), or leave it blank", s)
    return out


# a blotter's IRA kinds: the ledger treats every IRA alike (no gain or loss realised; a
# purchase still washes a taxable loss, Rev. Rul. 2008-5 covers Roth IRAs too)
_IRA_KINDS = {"roth": "ira", "roth ira": "ira", "traditional": "ira",
              "traditional ira": "ira"}


# an activity export's action words (Fidelity's "Accounts History": "YOU BOUGHT APPLE INC
# (AAPL) (Cash)", "REINVESTMENT ..."; Schwab's "Buy", "Reinvest Shares") and a plain
# blotter's buy/sell; the rest ("DIVIDEND RECEIVED ...", "Bank Interest", "Journal") are
# cash events when they move no shares (F20, session 22's reviewer)
_BUY_WORDS = re.compile(r"(?:you bought|bought|buy|b|reinvestment|reinvest shares)(?:\W|$)")
_SELL_WORDS = re.compile(r"(?:you sold|sold|sell|s)(?:\W|$)")
_CASH_WORDS = frozenset({"dividend", "interest", "journal", "journaled", "deposit",
                         "withdrawal", "fee", "fees", "transfer", "contribution",
                         "distribution", "wire", "tax"})


_AS_OF = re.compile(r"(?i)^(\S+)\s+as\s+of\s+(\S+)$")


def _side_of(action: str) -> str | None:
    """``buy``, ``sell`` or ``None`` for an action cell (case and spacing ignored)."""
    a = " ".join(action.lower().split())
    if _BUY_WORDS.match(a):
        return "buy"
    if _SELL_WORDS.match(a):
        return "sell"
    return None


def _not_trades(table: RawTable, cols: Mapping[str, int], known: Collection[str] | None
                ) -> tuple[RawTable, list[Issue]]:
    """The table without an activity export's cash rows, and the warnings naming them.

    A row is not a trade when its action is neither a buy nor a sale and it moves no shares
    (blank or zero quantity) and its action reads as an event (words, or a cash word such as
    ``Journal``): a dividend, interest, a transfer of cash. A buy or sale of a money-market
    fund (``SPAXX``, the core cash sweep) is cash too. Each kind is named with its rows, so
    nothing is left out unseen; a row that moves shares without being a buy or a sale stays
    (its side is then an error).
    """
    if "side" not in cols:
        return table, []
    j, q, t = cols["side"], cols.get("shares"), cols.get("ticker")
    kept: list[int] = []
    events: dict[str, list[int]] = {}
    sweep: list[int] = []
    totals: list[int] = []
    posted: list[int] = []
    d = cols.get("date")
    cells = [list(row) for row in table.rows]  # a posted-as-of date rewritten in place
    for i, row in enumerate(cells):
        first = next((c.strip() for c in row if c.strip()), "")
        if _TOTAL.match(" ".join(first.lower().split())) and not row[j].strip():
            totals.append(i)  # Schwab's "Transactions Total" line
            continue
        if d is not None and (m := _AS_OF.match(row[d].strip())):
            row[d] = m.group(2)  # "07/08/2026 as of 07/07/2026": the trade's own date
            posted.append(i)
        action = " ".join(row[j].split())
        side = _side_of(action)
        sym = row[t] if t is not None else ""
        if side is not None and sym.strip() and _is_cash(sym, known):
            sweep.append(i)
            continue
        if side is None and action:
            qty = _parse_number(row[q], money_col=False) if q is not None else np.nan
            moves = isinstance(qty, str) or qty is None or (qty == qty and qty != 0)
            if not moves and (" " in action or action.lower() in _CASH_WORDS):
                events.setdefault(" ".join(action.upper().split()[:2]), []).append(i)
                continue
        kept.append(i)
    out: list[Issue] = []
    if posted:
        nums = [table.row_numbers[i] for i in posted]
        out.append(Issue(
            table.file, nums[0], table.header[d], table.rows[posted[0]][d],
            f"{_rows_text(nums)}: a date posted 'as of' an earlier day is read as that day "
            "(the day the trade took effect)", "nothing to do", Severity.WARNING,
            "as_of_date"))
    if totals:
        nums = [table.row_numbers[i] for i in totals]
        out.append(Issue(table.file, nums[0], None, None,
                         f"{_rows_text(nums)}: a total line, not a trade, was skipped",
                         "nothing to do", Severity.WARNING, "total_row_skipped"))
    if len(kept) == len(table.rows) and not posted:
        return table, out
    head = table.header[j]
    for kind, idx in events.items():
        rows = [table.row_numbers[i] for i in idx]
        out.append(Issue(
            table.file, rows[0], head, kind,
            f"{_rows_text(rows)} ({kind} ...) move no shares, so they are not trades and "
            "are not replayed" if len(rows) > 1 else
            f"{_rows_text(rows)} ({kind} ...) moves no shares, so it is not a trade and is "
            "not replayed",
            "nothing to do for cash events (dividends, interest, transfers of cash); a "
            "return of capital belongs in the lots' cost basis", Severity.WARNING,
            "not_a_trade"))
    if sweep:
        rows = [table.row_numbers[i] for i in sweep]
        out.append(Issue(
            table.file, rows[0], table.header[t] if t is not None else head,
            table.rows[sweep[0]][t] if t is not None else None,
            f"{_rows_text(rows)}: buys and sales of a money-market fund (the core cash "
            "sweep) are cash, not trades of a security, and are not replayed",
            "nothing to do; the account's cash is given in the profile", Severity.WARNING,
            "cash_sweep"))
    return replace(table, rows=[cells[i] for i in kept],
                   row_numbers=[table.row_numbers[i] for i in kept]), out


def _sold_lots(r: _Rows, cols: Mapping[str, int], side: pd.Series,
               date_order: DateOrder | None, as_of: dt.date | None
               ) -> dict[int, tuple[dt.date, float]]:
    """The sales naming their lot's ``acquired`` date and ``cost_basis``: row -> both.

    Both cells on a sale, or neither; a buy gives neither (its own price is its basis).
    """
    if "acquired" not in cols and "cost_basis" not in cols:
        return {}
    acq_s = r.col("acquired")
    cost_s = r.col("cost_basis")
    has_acq = (acq_s.str.len() > 0).to_numpy()
    has_cost = (cost_s.str.len() > 0).to_numpy()
    sell = (side == "sell").to_numpy()
    for gap, have, miss in ((sell & has_acq & ~has_cost, "acquired", "cost_basis"),
                            (sell & has_cost & ~has_acq, "cost_basis", "acquired")):
        at = miss if miss in cols else have  # the blank cell, or the one given
        r.add(np.flatnonzero(gap), at, "sold_lot_incomplete",
              f"a sale of shares bought before the blotter gives its lot's {have} but not "
              f"its {miss}", "give both (acquired and cost_basis) or neither",
              acq_s if at == "acquired" else cost_s)
    name = "acquired" if "acquired" in cols else "cost_basis"
    buys = ~sell & (has_acq | has_cost)
    r.add(np.flatnonzero(buys), name, "sold_lot_incomplete",
          "a buy's acquisition date is its trade date and its basis its price",
          "leave acquired and cost_basis blank on buys", acq_s if name == "acquired"
          else cost_s)
    both = sell & has_acq & has_cost
    if not both.any() or "acquired" not in cols or "cost_basis" not in cols:
        return {}
    days = _dates(r, "acquired", acq_s.where(both, ""), date_order, as_of,
                  "the sold lot's acquisition date")
    cost_p = _numbers(r, "cost_basis", cost_s.where(both, ""), "the cost basis",
                      money_col=True, upper=LIMITS.max_amount)
    _ambiguous(r, "cost_basis", cost_s, cost_p.ambiguous & both, "the cost basis")
    cost = cost_p.values
    neg = both & (cost < 0).fillna(False).to_numpy()
    r.add(np.flatnonzero(neg), "cost_basis", "negative_basis", "the cost basis is negative",
          "enter the basis as a positive amount", cost_s)
    out: dict[int, tuple[dt.date, float]] = {}
    for i in np.flatnonzero(both & ~neg):
        d, c = days.iat[i], cost.iat[i]
        if pd.isna(d) or pd.isna(c):  # an unreadable cell: its error is reported
            continue
        out[int(i)] = (pd.Timestamp(d).date(), float(c))
    return out


def _newest_first(r: _Rows, dates: pd.Series, acc: pd.Series, tickers: pd.Series,
                  side: pd.Series, times: list[dt.time | None], own: set[int]) -> None:
    """Refuse a day's buy and sale of one name in a file listed newest first, untimed.

    A replay runs a day's trades in file order; a file whose dates fall down the rows (an
    activity export lists the newest first) has the day's trades in reverse too, so a buy
    and a sale of the same name and account that day, without times, cannot be ordered
    (a sale naming its own lot, ``own``, relieves that lot in any order).
    """
    day = pd.to_datetime(dates, errors="coerce")
    shown = day.dropna()
    if shown.nunique() < 2 or not (shown.diff().dropna() <= pd.Timedelta(0)).all():
        return
    groups: dict[tuple, list[int]] = {}
    for i, (d, a, t, s) in enumerate(zip(day, acc, tickers, side, strict=True)):
        if d is pd.NaT or d != d or times[i] is not None or s not in ("buy", "sell") \
                or i in own:  # a sale naming its own lot relieves it whatever the order
            continue
        groups.setdefault((d, a, t), []).append(i)
    for (d, a, t), idx in groups.items():
        if {side.iloc[i] for i in idx} == {"buy", "sell"}:
            rows = [r.t.row_numbers[i] for i in idx]
            r.add(idx, "date", "unordered_same_day",
                  f"the file lists the newest trades first, so the order of {t}'s buy and "
                  f"sale in account {a} on {d.date()} ({_rows_text(rows)}) cannot be read "
                  "from it (a replay runs a day's trades in file order)",
                  "add a time column (HH:MM) with those trades' times, or list the file "
                  "oldest first", r.col("date"))


def read_blotter(path: str | Path, *, known: Collection[str] | None | str = "market",
                 date_order: DateOrder | None = None, delimiter: str = ",",
                 sheet: str | None = None, as_of: dt.date | None = None,
                 policy: ReadPolicy | None = None,
                 accounts: Mapping[str, AccountType] | None = None,
                 default_account: str | None = None) -> Blotter:
    """Read and validate a trade blotter (see :data:`pma_lab.schema.BLOTTER_FIELDS`).

    Numbers and dates are checked as in :func:`read_lots` (finite, plausible, dates from
    1900). Trade prices are not compared with the market: a blotter holds the prices paid,
    which differ from the split-adjusted closes by every later split. So a thousands
    separator that could be a decimal comma (``1,500``) is an error in every column here.

    A custodian's activity export reads as a blotter: its action words (``YOU BOUGHT ...``,
    ``YOU SOLD ...``, ``REINVESTMENT ...``, ``Buy``, ``Reinvest Shares``) give the side, a
    sale's negative quantity is its shares, fees and commission add up, and its cash events
    (dividends, interest, transfers of cash: no shares moved) and money-market sweeps are
    left out with a warning naming their rows. Such a file has no account type (and often no
    account): give ``accounts`` (and ``default_account``), as a profile declares them.

    Parameters
    ----------
    accounts : Mapping[str, AccountType] | None
        The profile's accounts and their types: a file without an ``account_type`` column
        takes each account's type from here (an account not declared is then an error).
    default_account : str | None
        The account of a file without an ``account`` column.

    Raises
    ------
    BlotterError
        With every problem found in the file.
    """
    if known == "market":
        known = known_tickers()
    table, issues = read_table(path, BLOTTER_FIELDS, delimiter=delimiter, sheet=sheet,
                               policy=policy, detect_delimiter=True)
    file = str(path)
    if table is None:
        raise BlotterError(file, issues)
    cols, col_issues = map_columns(table, BLOTTER_FIELDS)
    typed = "account_type" in cols
    needed = [f for f in BLOTTER_FIELDS
              if not (f.name == "account_type" and accounts is not None)
              and not (f.name == "account" and default_account is not None)]
    issues += col_issues + _missing_columns(table, cols, needed)
    table, skipped = _not_trades(table, cols, known if isinstance(known, Collection) else None)
    issues += skipped
    if not table.rows:
        issues.append(Issue(file, None, None, None, "the file holds no buy or sale",
                            "export the account's activity for the trade dates, or leave "
                            "the trades file out of the profile", Severity.ERROR,
                            "header_only"))
        raise BlotterError(file, issues)
    r = _Rows(table, cols)
    date_s = r.col("date")
    r.blank("date", date_s, "the trade date")
    dates = _dates(r, "date", date_s, date_order, as_of, "the trade date")
    n = len(table.rows)
    if "account" in cols:
        acc_s = r.col("account")
        r.blank("account", acc_s, "the account")
    else:
        acc_s = pd.Series([default_account or ""] * n, dtype=object)
    if typed:
        typ_s = r.col("account_type")
        kind = typ_s.str.lower().str.split().str.join(" ")
        typ = kind.replace(_IRA_KINDS)
        r.add(np.flatnonzero((~typ.isin([t.value for t in AccountType])).to_numpy()),
              "account_type", "invalid_value",
              "the account type must be taxable, or ira for an IRA (Roth or traditional)",
              "write taxable, or for an IRA ira, roth or traditional (a Roth IRA is an ira: "
              "its sales realise nothing, its purchases still wash a taxable loss)", typ_s)
    else:
        declared = dict(accounts or {})
        typ = acc_s.map(lambda a: AccountType(declared[a]).value if a in declared else "")
        kind = typ
        typ_s = typ
        unknown = (typ == "") & (acc_s.str.len() > 0)
        if accounts is None:
            pass  # the missing account_type column is the error, said once
        elif "account" in cols:
            r.add(np.flatnonzero(unknown.to_numpy()), "account", "unknown_account",
                  "the file has no account_type column and the account is not declared in "
                  f"the profile (declared: {', '.join(sorted(declared)) or 'none'})",
                  "declare the account in the profile's [[accounts]] with its type, or add "
                  "an account_type column (taxable or ira)", acc_s)
        elif unknown.any():
            r.issues.append(Issue(file, None, "lots.default_account", default_account,
                                  "the default account is not declared",
                                  "declare it in [[accounts]]", Severity.ERROR,
                                  "unknown_account"))
    tick_s = r.col("ticker")
    r.blank("ticker", tick_s, "the ticker")
    tickers = _tickers(r, "ticker", tick_s, known)
    side_s = r.col("side")
    side = side_s.map(lambda a: _side_of(a) or "")
    r.add(np.flatnonzero((side == "").to_numpy()), "side", "invalid_value",
          "the side must be buy or sell", "write buy or sell (an activity export's YOU "
          "BOUGHT, YOU SOLD or REINVESTMENT reads as such; a row that moves shares any other "
          "way, such as a transfer of shares or a split, belongs in the lots file)", side_s)
    sh_s = r.col("shares")
    r.blank("shares", sh_s, "the number of shares")
    sh_p = _numbers(r, "shares", sh_s, "the number of shares", money_col=False,
                    upper=LIMITS.max_shares, lower=LIMITS.min_shares)
    _ambiguous(r, "shares", sh_s, sh_p.ambiguous, "the number of shares")
    # an activity export writes a sale's quantity negative: the side already says it
    signed = sh_p.values
    shares = signed.where(~((side == "sell") & (signed < 0)), -signed)
    small = (signed < 0) & (shares > 0) & (shares < LIMITS.min_shares)
    r.add(np.flatnonzero(small.fillna(False).to_numpy()), "shares", "out_of_range",
          f"the number of shares is outside the plausible range (it must be between "
          f"{LIMITS.min_shares:g} and {LIMITS.max_shares:,.0f})",
          "correct the number of shares; a value this far out is a typo, a unit mix-up or "
          "an overflowing export", sh_s)
    r.add(np.flatnonzero((shares <= 0).fillna(False).to_numpy()), "shares",
          "non_positive_shares", "shares must be greater than zero",
          "write the quantity as a positive number (a sale's may be negative); the side "
          "column says buy or sell", sh_s)
    px_s = r.col("price")
    r.blank("price", px_s, "the price")
    px_p = _numbers(r, "price", px_s, "the price", money_col=True, upper=LIMITS.max_price)
    _ambiguous(r, "price", px_s, px_p.ambiguous, "the price")
    price = px_p.values
    r.add(np.flatnonzero((price < 0).fillna(False).to_numpy()), "price", "negative_price",
          "the price is negative", "write the price per share as a positive amount", px_s)
    lot_s = r.col("lot_id") if "lot_id" in cols else pd.Series([""] * len(table.rows))
    meth_s = r.col("method") if "method" in cols else pd.Series([""] * len(table.rows))
    meth = meth_s.str.lower().str.replace("-", "_").str.replace(" ", "_")
    okm = meth.isin([m.value for m in LotRelief] + [""])
    if "method" in cols:
        r.add(np.flatnonzero((~okm).to_numpy()), "method", "invalid_value",
              "unknown lot relief method", "write fifo, hifo, specific or min_tax", meth_s)
        need_lot = (meth == "specific") & (lot_s.str.len() == 0)
        r.add(np.flatnonzero(need_lot.to_numpy()), "method", "missing_value",
              "specific identification needs a lot_id", "fill in the lot_id to relieve",
              meth_s)
    fees = pd.Series(0.0, index=range(len(table.rows)))
    for name in ("fees", "commission"):
        if name not in cols:
            continue
        f_s = r.col(name)
        fee_p = _numbers(r, name, f_s, f"the {name}", money_col=True,
                         upper=LIMITS.max_amount)
        _ambiguous(r, name, f_s, fee_p.ambiguous, f"the {name}")
        got = fee_p.values.fillna(0.0)
        r.add(np.flatnonzero((got < 0).to_numpy()), name, "negative_amount",
              f"the {name} is negative", f"write the {name} as a positive amount", f_s)
        fees = fees + got
    sold = _sold_lots(r, cols, side, date_order, as_of)
    times = _trade_times(r) if "time" in cols else [None] * len(table.rows)
    # a date cell's time of day ("2026-03-02 15:00:00") is the trade's time, as the time
    # column's: it orders the day's trades (a custodian lists the newest first)
    for i, t in enumerate(_cell_times(date_s)):
        if t is None:
            continue
        if times[i] is None:
            times[i] = t
        elif times[i] != t:
            r.add([i], "time", "inconsistent_time",
                  f"the time column says {times[i]}, the date cell {t}",
                  "give the trade's time once (the time column, or after the date), or the "
                  "same in both", r.col("time"))
    _newest_first(r, dates, acc_s, tickers, side, times, set(sold))
    for i, (acq, _) in sold.items():  # the sold lot is held before its sale
        d = dates.iat[i]
        if not pd.isna(d) and acq > pd.Timestamp(d).date():
            r.add([i], "acquired", "sold_lot_after_sale",
                  f"the sold lot's acquisition date {acq} is after the sale on "
                  f"{pd.Timestamp(d).date()}", "correct the acquisition date (or the trade "
                  "date): a lot is bought before it is sold", r.col("acquired"))
    # one account, one type
    kinds: dict[str, str] = {}
    said: dict[str, str] = {}  # roth and traditional are both ira, but not the same IRA
    for i, (a, k, w) in enumerate(zip(acc_s, typ, kind, strict=True)):
        if not a or k not in ("taxable", "ira"):
            continue
        ira = w.split()[0] if w in _IRA_KINDS else None
        if kinds.setdefault(a, k) != k:
            r.add([i], "account_type", "inconsistent_account_type",
                  f"account {a!r} was {kinds[a]} on an earlier row",
                  "give each account one type", typ_s)
        elif ira is not None and said.setdefault(a, ira) != ira:
            r.add([i], "account_type", "inconsistent_account_type",
                  f"account {a!r} was a {said[a]} IRA on an earlier row",
                  "give each account one type", typ_s)
    opened: list[dict] = []
    for i, (acq, cost) in sold.items():
        row = table.row_numbers[i]
        if lot_s.iat[i]:
            r.add([i], "lot_id", "invalid_value", "a sale that gives its lot's acquisition "
                  "date and cost basis relieves that lot, not another",
                  "leave the lot_id blank, or the acquired and cost_basis cells", lot_s)
            continue
        opened.append(dict(account=acc_s.iat[i], ticker=tickers.iat[i],
                           shares=Decimal(repr(float(shares.iat[i]))),
                           basis=Decimal(repr(round(cost, 2))), acquired=acq,
                           lot_id=f"S{row}"))
        lot_s.iat[i] = f"S{row}"
        meth.iat[i] = "specific"
    _raise_if(issues + r.issues, BlotterError, file)
    trades = tuple(
        Trade(d.date(), a, t, Side(s), Decimal(repr(float(q))), Decimal(repr(float(p))),
              lot or None, LotRelief(m) if m else None, Decimal(repr(float(fee))), row, tm)
        for d, a, t, s, q, p, lot, m, fee, row, tm in zip(
            dates, acc_s, tickers, side, shares, price, lot_s, meth, fees, table.row_numbers,
            times, strict=True))
    named = tuple(Account(a, AccountType(k)) for a, k in sorted(kinds.items()))
    frame = pd.DataFrame({"date": dates, "account": acc_s, "account_type": typ,
                          "ticker": tickers, "side": side, "shares": shares, "price": price,
                          "lot_id": lot_s, "method": meth, "fees": fees,
                          "source_row": table.row_numbers})
    warnings = tuple(i for i in issues + r.issues if i.severity is Severity.WARNING)
    # the cells a later message quotes (lot_s now holds the ids given to sold lots)
    quoted = {k: dict(zip(table.row_numbers, r.col(k), strict=True))
              for k in ("shares", "date", "lot_id") if k in cols}
    return Blotter(trades, named, warnings, file, _freeze(frame),
                   {k: table.header[j] for k, j in cols.items()}, tuple(opened), quoted)


def replay_problems(blotter: Blotter, err: LedgerError) -> BlotterError | None:
    """The blotter error for the sales a replay of ``blotter`` could not apply, or ``None``.

    ``err`` is what :func:`pma_lab.tax.ledger.replay` raised; when it lists
    ``err.problems`` (sales of more shares than held, lots not open), each becomes an
    :class:`~pma_lab.errors.Issue` naming the file, row and column (``shares``, ``lot_id``,
    ``date``, as headed in the file), so the CLI exits with the input-error status and lists
    them all.
    """
    if not err.problems:
        return None
    file = blotter.source
    return BlotterError(file, [
        # the cell as the file writes it: '-150' for an activity export's sale, not '150'
        Issue(file, row, blotter.columns.get(column or "", column),
              blotter.cell(row, column or "", value), message, fix,
              Severity.ERROR, "insufficient_shares" if column == "shares" else
              "ledger_refused")
        for row, column, value, message, fix in err.problems])

