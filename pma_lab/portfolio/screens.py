"""Category and theme screens: the versioned catalog and the eligibility it implies.

The catalog (``pma_lab/data/screens.toml``) defines one screen per id of
:data:`pma_lab.schema.RESTRICTION_CATEGORIES`: a written definition a client can read, the
rules that implement it (GICS sub-industry and industry codes of the 2023 structure,
explicit ticker lists with a reason and a source, and other screens it includes), and a
plain statement of what the open data cannot do (``approximation``). :func:`load_catalog`
reads it strictly. Unknown keys, unknown screen ids, GICS codes missing from the packaged
structure, tickers missing from the packaged universe and include cycles are all reported
together in one :class:`~pma_lab.errors.RestrictionError`.

:func:`apply_screens` turns a client's :class:`~pma_lab.io.profile.Restrictions` into an
:class:`Eligibility` table with one row per ticker. Each row says whether the name may be
bought, may be held, must be sold, or may be kept but not added to, and explains why in
words.

Flag rules
----------
A category screen, ``never_hold`` and an excluded sector or industry each act on names
already held as the profile's ``[restrictions.held]`` says (:class:`~pma_lab.io.profile.
HeldAction`; default ``sell``). A name hit by several restrictions takes the strictest
action (``sell``, then the shortest ``sell_within``, then ``no_buy``).

=========================================  =======  ========  =========  ===========
restriction (action on held names)         can_buy  can_hold  must_sell  hold_no_add
=========================================  =======  ========  =========  ===========
screen, never_hold, exclusion: ``sell``    False    False     True       False
... ``sell_within:N``                      False    False     False      False
... ``no_buy``                             False    True      False      False
``hold_no_add`` (and nothing above)        False    True      False      True
``no_buy`` list (and nothing above)        False    True      False      False
none                                       True     True      False      False
=========================================  =======  ========  =========  ===========

``held_action`` names the action (``sell``, ``sell_within:N``, ``no_buy``, ``hold_no_add``
or ``""``) and ``sell_within_years`` the glide's length (NaN otherwise).

GICS vintages
-------------
Names in the 2026-08-08 S&P 500 list carry 2023-structure codes. Names that are only in
the 2021 list carry 2018-structure codes (``gics_vintage`` column). A 2023 code in the
catalog also matches a 2018-classified name when the code has the same sub-industry name
in both structures. Codes that only exist in 2018 (e.g. Thrifts & Mortgage Finance) are
listed separately under ``gics_2018_sub_industry_codes``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
import tomllib
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from pma_lab.errors import DataError, RestrictionError
from pma_lab.market.tickers import normalize_ticker
from pma_lab.portfolio.restrictions import HELD_KEYS, HeldAction, Restrictions
from pma_lab.schema import GICS_SECTORS, RESTRICTION_CATEGORIES

__all__ = [
    "CATALOG_PATH",
    "ScreenFamily",
    "ScreenMethod",
    "ScreenTicker",
    "Screen",
    "ScreenCatalog",
    "Eligibility",
    "ELIGIBILITY_COLUMNS",
    "load_catalog",
    "clear_catalog_cache",
    "apply_screens",
]

CATALOG_PATH = Path(__file__).resolve().parents[1] / "data" / "screens.toml"
"""The packaged screen catalog."""

ELIGIBILITY_COLUMNS: tuple[str, ...] = (
    "ticker", "name", "gics_sector", "can_buy", "can_hold", "must_sell", "hold_no_add",
    "held_action", "sell_within_years", "reasons", "screens",
)


class ScreenFamily(StrEnum):
    """Which kind of investor preference a screen expresses."""

    ESG = "esg"
    FAITH = "faith"
    VALUES = "values"


class ScreenMethod(StrEnum):
    """How a screen finds its names."""

    GICS = "gics"  # GICS codes
    TICKERS = "tickers"  # an explicit, documented ticker list
    COMPOSITE = "composite"  # other screens (``includes``) plus optional own rules


@dataclass(frozen=True)
class ScreenTicker:
    """One explicitly listed name of a screen.

    Attributes
    ----------
    ticker : str
        Dot-form ticker present in the packaged universe.
    reason : str
        Why the name is listed, in words a client can read.
    source : str
        Where the reason comes from; ``[R]`` marks recalled knowledge to be reviewed.
    """

    ticker: str
    reason: str
    source: str


@dataclass(frozen=True)
class Screen:
    """One category or theme screen, as declared in the catalog.

    Attributes
    ----------
    id : str
        One of :data:`pma_lab.schema.RESTRICTION_CATEGORIES`.
    name, definition, approximation : str
        Display name; the written definition; what the open data cannot do.
    family : ScreenFamily
        ESG, faith-based or values-based.
    method : ScreenMethod
        GICS codes, an explicit ticker list, or a composite of other screens.
    gics_sub_industry_codes : tuple[str, ...]
        8-digit sub-industry codes, 2023 structure.
    gics_industry_codes : tuple[str, ...]
        6-digit industry codes, 2023 structure (all their sub-industries match).
    gics_2018_sub_industry_codes : tuple[str, ...]
        8-digit codes of the 2018 structure, matched only on 2018-classified names.
    includes : tuple[str, ...]
        Ids of screens whose hits this screen inherits.
    tickers : tuple[ScreenTicker, ...]
        Explicitly listed names.
    references : tuple[str, ...]
        Sources the definition relies on.
    """

    id: str
    name: str
    family: ScreenFamily
    definition: str
    method: ScreenMethod
    approximation: str
    gics_sub_industry_codes: tuple[str, ...] = ()
    gics_industry_codes: tuple[str, ...] = ()
    gics_2018_sub_industry_codes: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    tickers: tuple[ScreenTicker, ...] = ()
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Rule:
    """A compiled matching rule: a 2023 code, a 2018 code or a ticker, with its wording."""

    kind: str  # "gics_2023" | "gics_2018" | "ticker"
    key: str
    text: str
    via: str  # the included screen the rule comes from ("" for the screen's own rules)


@dataclass(frozen=True, eq=False)
class ScreenCatalog:
    """The validated screen catalog.

    Build it with :func:`load_catalog`. ``screens`` is read-only and holds every id of
    :data:`pma_lab.schema.RESTRICTION_CATEGORIES`.

    Attributes
    ----------
    version : str
        Catalog version (e.g. ``"2026.11"``).
    as_of : datetime.date
        Date the lists were last reviewed.
    gics_structure : str
        GICS structure of the codes: the date of the market data's current structure
        (``MarketData.vintages.gics_structure``, from its ``manifest.json``).
    screens : Mapping[str, Screen]
        Screens by id, in file order.
    path : Path
        The file the catalog was read from.
    """

    version: str
    as_of: dt.date
    gics_structure: str
    screens: Mapping[str, Screen]
    path: Path
    _rules: Mapping[str, tuple[_Rule, ...]] = field(repr=False, default_factory=dict)
    _industries: frozenset[str] = field(repr=False, default=frozenset())

    @property
    def ids(self) -> tuple[str, ...]:
        """Screen ids in file order."""
        return tuple(self.screens)

    def screen(self, screen_id: str) -> Screen:
        """Return one screen.

        Parameters
        ----------
        screen_id : str
            A screen id.

        Returns
        -------
        Screen

        Raises
        ------
        RestrictionError
            If the id is not in the catalog.
        """
        if screen_id not in self.screens:
            raise RestrictionError(_unknown_screen_message(screen_id, self.ids))
        return self.screens[screen_id]

    def rules(self, screen_id: str) -> pd.DataFrame:
        """Return the matching rules of a screen, with included screens expanded.

        Parameters
        ----------
        screen_id : str
            A screen id.

        Returns
        -------
        pd.DataFrame
            One row per rule: ``kind`` (``gics_2023``, ``gics_2018`` or ``ticker``),
            ``key`` (code or ticker), ``text`` (the wording used in reasons) and ``via``
            (the included screen a rule comes from, ``""`` for the screen's own rules).

        Raises
        ------
        RestrictionError
            If the id is not in the catalog.
        """
        self.screen(screen_id)
        rows = [(r.kind, r.key, r.text, r.via) for r in self._rules[screen_id]]
        return pd.DataFrame(rows, columns=["kind", "key", "text", "via"])


# ------------------------------------------------------------------------------- loading
_TOP_KEYS = ("version", "as_of", "gics_structure", "screens")
_SCREEN_KEYS = ("name", "family", "definition", "method", "approximation",
                "gics_sub_industry_codes", "gics_industry_codes",
                "gics_2018_sub_industry_codes", "includes", "tickers", "references")
_REQUIRED_SCREEN_KEYS = ("name", "family", "definition", "method", "approximation")
_GICS_KEYS = ("gics_sub_industry_codes", "gics_industry_codes",
              "gics_2018_sub_industry_codes")
_TICKER_KEYS = ("ticker", "reason", "source")
_CODE8 = re.compile(r"^\d{8}$")
_CODE6 = re.compile(r"^\d{6}$")


def _hint(word: str, allowed: Iterable[str]) -> str:
    near = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.6)
    return f"did you mean '{near[0]}'? " if near else ""


def _unknown_keys(p: _Problems, path: str, table: dict, allowed: tuple[str, ...],
                  what: str) -> None:
    """Record every key of ``table`` not in ``allowed`` (with a did-you-mean hint)."""
    for k in table:
        if k not in allowed:
            p.add(f"{path}.{k}", f"'{k}' is not a known key of {what}",
                  f"{_hint(k, allowed)}allowed keys: {', '.join(allowed)}")


def _unknown_screen_message(screen_id: str, known: Iterable[str]) -> str:
    known = tuple(known)
    return (f"{screen_id!r} is not a screen id; {_hint(screen_id, known)}"
            f"known screens: {', '.join(known)}")


class _Problems:
    """Collects catalog problems as ``key: message. Fix: ...`` lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, key: str, message: str, fix: str) -> None:
        self.lines.append(f"{key}: {message}. Fix: {fix}")

    def raise_if_any(self, file: str) -> None:
        if self.lines:
            n = len(self.lines)
            head = (f"{file}: {n} problem{'s' if n != 1 else ''} in the screen catalog; "
                    "nothing was loaded")
            raise RestrictionError("\n".join([head] + [f"  - {x}" for x in self.lines]))


def _string_list(p: _Problems, data: Mapping[str, Any], path: str, key: str
                 ) -> list[tuple[int, str]]:
    if key not in data:
        return []
    raw = data[key]
    if not isinstance(raw, list):
        p.add(f"{path}.{key}", f"must be an array, got {type(raw).__name__}",
              f'write {key} = ["..."]')
        return []
    out = []
    for i, v in enumerate(raw):
        if not isinstance(v, str):
            p.add(f"{path}.{key}[{i}]", f"must be a string, got {type(v).__name__} {v!r}",
                  'quote it, e.g. "30203010" (codes are text, so leading digits are kept)')
            continue
        out.append((i, v))
    return out


def _codes(p: _Problems, data: Mapping[str, Any], path: str, key: str, pattern: re.Pattern,
           known: Container[str], what: str, use: str) -> list[str]:
    """The codes under ``key`` that match ``pattern`` and exist in ``known``.

    Every other entry is recorded as a problem: it is not ``what``; use ``use``.
    """
    out = []
    for i, c in _string_list(p, data, path, key):
        if not pattern.match(c) or c not in known:
            p.add(f"{path}.{key}[{i}]", f"{c!r} is not {what}", f"use {use}")
            continue
        out.append(c)
    return out


def _text(p: _Problems, data: Mapping[str, Any], path: str, key: str, required: bool
          ) -> str:
    if key not in data:
        if required:
            p.add(f"{path}.{key}", "is required", f'add {key} = "..." to [{path}]')
        return ""
    v = data[key]
    if not isinstance(v, str) or not v.strip():
        p.add(f"{path}.{key}", "must be a non-empty string", f'write {key} = "..."')
        return ""
    return v.strip()


@dataclass(frozen=True)
class _Reference:
    """What the catalog is checked against, from the packaged market data.

    ``sub23``: current-structure sub-industries by code (name, industry code, industry,
    sector); ``ind23``: current industries by code; ``sub18``: 2018 sub-industries by
    code; ``industries``: every industry name; ``universe``: the tickers; ``structure``
    and ``structure18``: the dates of the current and the 2018 GICS structures (the
    manifest's ``vintages.gics_structures``).
    """

    sub23: dict[str, tuple[str, str, str, str]]
    ind23: dict[str, str]
    sub18: dict[str, str]
    industries: frozenset[str]
    universe: frozenset[str]
    structure: str
    structure18: str


@functools.lru_cache(maxsize=4)
def _reference_data() -> _Reference:
    """The GICS structures and the universe the catalog's codes and tickers must be in."""
    from pma_lab.market.data import load_market

    m = load_market()
    g23 = m.gics_structure("2023")
    g18 = m.gics_structure("2018")
    sub23 = {str(r.sub_industry_code): (str(r.sub_industry), str(r.industry_code),
                                        str(r.industry), str(r.sector))
             for r in g23.itertuples(index=False)}
    ind23 = dict(zip(g23.industry_code.astype(str), g23.industry.astype(str), strict=True))
    sub18 = dict(zip(g18.sub_industry_code.astype(str), g18.sub_industry.astype(str),
                     strict=True))
    industries = frozenset(g23.industry.astype(str)) | frozenset(g18.industry.astype(str))
    return _Reference(sub23, ind23, sub18, industries, frozenset(m.universe.tickers),
                      m.vintages.gics_structure, m.vintages.gics_structure_of("2018"))


def _parse(doc: Mapping[str, Any], path: Path) -> ScreenCatalog:
    ref = _reference_data()
    sub23, ind23, sub18, universe = ref.sub23, ref.ind23, ref.sub18, ref.universe
    p = _Problems()
    for k in doc:
        if k not in _TOP_KEYS:
            p.add(k, "is not a known top-level key",
                  f"{_hint(k, _TOP_KEYS)}allowed keys: {', '.join(_TOP_KEYS)}")
    version = _text(p, doc, "catalog", "version", True)
    as_of = doc.get("as_of")
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        p.add("as_of", f"must be a date, got {as_of!r}", "write as_of = 2026-11-22 (no quotes)")
        as_of = dt.date.min
    structure = doc.get("gics_structure")
    if structure != ref.structure:
        p.add("gics_structure", f"must be {ref.structure!r}, got {structure!r}",
              f'write gics_structure = "{ref.structure}" and use codes of that structure')
    table = doc.get("screens")
    if not isinstance(table, dict):
        p.add("screens", "the [screens.<id>] tables are missing",
              f"add one [screens.<id>] table per id: {', '.join(RESTRICTION_CATEGORIES)}")
        table = {}
    for sid in table:
        if sid not in RESTRICTION_CATEGORIES:
            p.add(f"screens.{sid}", f"{sid!r} is not a screen id",
                  f"{_hint(sid, RESTRICTION_CATEGORIES)}use one of "
                  f"{', '.join(RESTRICTION_CATEGORIES)} (new ids must be added to "
                  "pma_lab.schema.RESTRICTION_CATEGORIES first)")
    for sid in RESTRICTION_CATEGORIES:
        if sid not in table:
            p.add(f"screens.{sid}", "is missing (profiles may name every category)",
                  f"add a [screens.{sid}] table")

    screens: dict[str, Screen] = {}
    for sid, data in table.items():
        path_ = f"screens.{sid}"
        if sid not in RESTRICTION_CATEGORIES:
            continue
        if not isinstance(data, dict):
            p.add(path_, "must be a table", f"write it as [screens.{sid}]")
            continue
        _unknown_keys(p, path_, data, _SCREEN_KEYS, "a screen")
        name = _text(p, data, path_, "name", True)
        definition = _text(p, data, path_, "definition", True)
        approximation = _text(p, data, path_, "approximation", True)
        family_raw = _text(p, data, path_, "family", True)
        method_raw = _text(p, data, path_, "method", True)
        family = method = None
        if family_raw:
            try:
                family = ScreenFamily(family_raw)
            except ValueError:
                p.add(f"{path_}.family", f"{family_raw!r} is not a family",
                      f"use one of: {', '.join(f.value for f in ScreenFamily)}")
        if method_raw:
            try:
                method = ScreenMethod(method_raw)
            except ValueError:
                p.add(f"{path_}.method", f"{method_raw!r} is not a method",
                      f"use one of: {', '.join(m.value for m in ScreenMethod)}")

        subs = _codes(p, data, path_, "gics_sub_industry_codes", _CODE8, sub23,
                      f"a sub-industry code of the GICS {ref.structure} structure",
                      "an 8-digit code from load_market().gics_structure('2023')"
                      ".sub_industry_code")
        inds = _codes(p, data, path_, "gics_industry_codes", _CODE6, ind23,
                      f"an industry code of the GICS {ref.structure} structure",
                      "a 6-digit code from load_market().gics_structure('2023')"
                      ".industry_code")
        subs18 = _codes(p, data, path_, "gics_2018_sub_industry_codes", _CODE8, sub18,
                        f"a sub-industry code of the GICS {ref.structure18} structure",
                        "an 8-digit code from load_market().gics_structure('2018')"
                        ".sub_industry_code")
        includes = []
        for i, s in _string_list(p, data, path_, "includes"):
            if s not in RESTRICTION_CATEGORIES:
                p.add(f"{path_}.includes[{i}]", _unknown_screen_message(s,
                      RESTRICTION_CATEGORIES), "include only catalog screen ids")
            elif s == sid:
                p.add(f"{path_}.includes[{i}]", "a screen cannot include itself",
                      f"remove {s!r} from includes")
            else:
                includes.append(s)
        refs = [r for _, r in _string_list(p, data, path_, "references")]

        tickers: list[ScreenTicker] = []
        raw_t = data.get("tickers", [])
        if not isinstance(raw_t, list):
            p.add(f"{path_}.tickers", "must be an array of tables",
                  f"write each name as [[screens.{sid}.tickers]] with ticker, reason, source")
            raw_t = []
        seen: set[str] = set()
        for i, entry in enumerate(raw_t):
            key = f"{path_}.tickers[{i}]"
            if not isinstance(entry, dict):
                p.add(key, "must be a table with ticker, reason and source",
                      f'write [[screens.{sid}.tickers]] ticker = "XOM" reason = "..." '
                      'source = "..."')
                continue
            _unknown_keys(p, key, entry, _TICKER_KEYS, "a ticker entry")
            t = _text(p, entry, key, "ticker", True)
            reason = _text(p, entry, key, "reason", True)
            source = _text(p, entry, key, "source", True)
            if t and t not in universe:
                sp = normalize_ticker(t)
                near = ([sp.ticker] if sp.valid and sp.ticker in universe else
                        difflib.get_close_matches(t.upper(), list(universe), n=3, cutoff=0.75))
                p.add(f"{key}.ticker", f"{t!r} is not in the universe of {len(universe)} "
                      "tickers", (f"did you mean {', '.join(near)}? " if near else "")
                      + "list only tickers of load_market().universe (dot form, e.g. BRK.B)")
                continue
            if t in seen:
                p.add(f"{key}.ticker", f"{t} is listed twice in {sid}",
                      "keep one entry and merge the reasons")
                continue
            if t and reason and source:
                seen.add(t)
                tickers.append(ScreenTicker(t, reason, source))

        if method is ScreenMethod.GICS:
            if not any(k in data for k in _GICS_KEYS):
                p.add(f"{path_}.method", "a 'gics' screen needs GICS codes",
                      "add gics_sub_industry_codes or gics_industry_codes")
            if "includes" in data:
                p.add(f"{path_}.includes", "a 'gics' screen cannot include other screens",
                      'use method = "composite"')
        elif method is ScreenMethod.TICKERS:
            if "tickers" not in data:
                p.add(f"{path_}.method", "a 'tickers' screen needs a tickers list",
                      "add [[screens.<id>.tickers]] entries, or tickers = [] for none")
            if any(k in data for k in _GICS_KEYS) or "includes" in data:
                p.add(f"{path_}.method", "a 'tickers' screen uses only its ticker list",
                      'use method = "composite" to combine GICS codes, tickers and includes')
        elif method is ScreenMethod.COMPOSITE and "includes" not in data:
            p.add(f"{path_}.method", "a 'composite' screen needs includes",
                  'add includes = ["..."], or use method = "gics" or "tickers"')
        if family is None or method is None:
            continue
        screens[sid] = Screen(sid, name, family, definition, method, approximation,
                              tuple(subs), tuple(inds), tuple(subs18), tuple(includes),
                              tuple(tickers), tuple(refs))

    _check_cycles(p, screens)
    p.raise_if_any(str(path))
    rules = _compile(screens, sub23, ind23, sub18)
    return ScreenCatalog(version, as_of, ref.structure, MappingProxyType(screens), path,
                         MappingProxyType(rules), ref.industries)


def _check_cycles(p: _Problems, screens: Mapping[str, Screen]) -> None:
    done: set[str] = set()
    reported: set[frozenset[str]] = set()

    def visit(sid: str, stack: list[str]) -> None:
        stack.append(sid)
        for inc in screens[sid].includes:
            if inc in stack:
                cycle = stack[stack.index(inc):] + [inc]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    p.add(f"screens.{sid}.includes", "include cycle " + " -> ".join(cycle),
                          f"remove {inc!r} from screens.{sid}.includes (a screen may not "
                          "include itself through other screens)")
            elif inc in screens and inc not in done:
                visit(inc, stack)
        stack.pop()
        done.add(sid)

    for sid in screens:
        if sid not in done:
            visit(sid, [])


def _compile(screens: Mapping[str, Screen], sub23: Mapping[str, tuple[str, str, str, str]],
             ind23: Mapping[str, str], sub18: Mapping[str, str]
             ) -> dict[str, tuple[_Rule, ...]]:
    """Expand industry codes, 2018 equivalents and includes into flat rule lists."""
    own: dict[str, list[_Rule]] = {}
    for sid, s in screens.items():
        rules: list[_Rule] = []
        codes: dict[str, str] = {}
        for c in s.gics_sub_industry_codes:
            codes[c] = f"GICS sub-industry {sub23[c][0]} ({c})"
        for ic in s.gics_industry_codes:
            for c, (_, parent, _, _) in sub23.items():
                if parent == ic:
                    codes.setdefault(c, f"GICS industry {ind23[ic]} ({ic})")
        for c, text in codes.items():
            rules.append(_Rule("gics_2023", c, text, ""))
            if sub18.get(c) == sub23[c][0]:  # same code, same meaning in 2018
                rules.append(_Rule("gics_2018", c, text, ""))
        for c in s.gics_2018_sub_industry_codes:
            if not any(r.kind == "gics_2018" and r.key == c for r in rules):
                rules.append(_Rule("gics_2018", c,
                                   f"GICS (2018) sub-industry {sub18[c]} ({c})", ""))
        for t in s.tickers:
            rules.append(_Rule("ticker", t.ticker, f"listed: {t.reason}", ""))
        own[sid] = rules

    @functools.cache
    def expand(sid: str) -> tuple[_Rule, ...]:
        out = list(own[sid])
        for inc in screens[sid].includes:
            for r in expand(inc):
                out.append(_Rule(r.kind, r.key, r.text, r.via or inc))
        return tuple(out)

    return {sid: expand(sid) for sid in screens}


@functools.lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int, size: int) -> ScreenCatalog:
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise RestrictionError(f"{path}: the screen catalog is not UTF-8 text ({e.reason}); "
                               "re-save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise RestrictionError(f"{path}: the screen catalog is not valid TOML: {e}. Fix the "
                               "syntax on that line") from None
    return _parse(doc, p)


def load_catalog(path: str | Path | None = None) -> ScreenCatalog:
    """Read and validate the screen catalog (cached per file and modification time).

    Parameters
    ----------
    path : str | Path | None
        A catalog TOML file; default :data:`CATALOG_PATH` (the packaged catalog).

    Returns
    -------
    ScreenCatalog
        The same object while the file is unchanged.

    Raises
    ------
    RestrictionError
        If the file is missing or not TOML, or lists every problem found: unknown keys,
        unknown or missing screen ids, GICS codes not in the packaged structure, tickers
        not in the packaged universe, include cycles, and methods without their rules.
    """
    p = Path(path).resolve() if path is not None else CATALOG_PATH
    try:
        st = p.stat()
    except OSError:
        raise RestrictionError(f"screen catalog {p} does not exist; pass the path of a "
                               "screens.toml, or omit it to use the packaged catalog") from None
    return _load_cached(str(p), st.st_mtime_ns, st.st_size)


def clear_catalog_cache() -> None:
    """Forget loaded catalogs and the GICS/universe reference data used to validate them."""
    _load_cached.cache_clear()
    _reference_data.cache_clear()


# ---------------------------------------------------------------------------- eligibility
@dataclass(frozen=True, eq=False)
class Eligibility:
    """What a client may buy, hold and must sell, per ticker, and why.

    Attributes
    ----------
    table : pd.DataFrame
        One row per ticker of the universe, in universe order, with columns
        :data:`ELIGIBILITY_COLUMNS`: ``ticker, name, gics_sector`` (str), ``can_buy,
        can_hold, must_sell, hold_no_add`` (bool), ``held_action`` (str: what happens to
        shares held, see the module docs), ``sell_within_years`` (float, NaN unless the
        action is a glide), ``reasons`` (str, ``"; "``-joined, ``""`` when unrestricted)
        and ``screens`` (tuple of the client's category ids that hit the name).
    sector_limits : dict[str, float]
        The client's maximum sector weights (GICS sector -> weight in [0, 1]).
    sector_tilts : dict[str, float]
        The client's sector tilts (GICS sector -> active weight vs benchmark).
    hits : Mapping[str, tuple[str, ...]]
        Restriction label -> tickers it hits. Labels are category ids, ``never_hold``,
        ``no_buy``, ``hold_no_add``, ``exclude_sectors: <sector>`` and
        ``exclude_industries: <industry>``.
    held_actions : Mapping[str, str]
        Restriction label -> the action on held names (``sell``, ``sell_within:N``,
        ``no_buy``, ``hold_no_add``), as :meth:`summary` reports it.
    not_in_universe : tuple[str, ...]
        Tickers named in ``no_buy``, ``never_hold`` or ``hold_no_add`` that are not rows of
        the universe given, so they have no row in ``table``.
    catalog_version : str
        Version of the screen catalog used.
    """

    table: pd.DataFrame
    sector_limits: dict[str, float]
    sector_tilts: dict[str, float]
    hits: Mapping[str, tuple[str, ...]]
    not_in_universe: tuple[str, ...] = ()
    catalog_version: str = ""
    held_actions: Mapping[str, str] = field(default_factory=dict)

    def buyable(self) -> list[str]:
        """Return the tickers that may be bought, in table order."""
        t = self.table
        return t.ticker[t.can_buy].tolist()

    def not_buyable(self) -> dict[str, str]:
        """Return why each name that may not be bought is excluded (ticker -> reasons).

        The reasons are the table's (the screens and restrictions, ``"; "``-joined).
        """
        t = self.table[~self.table.can_buy]
        return {r.ticker: r.reasons or "restricted by the client" for r in t.itertuples()}

    def excluded(self) -> pd.DataFrame:
        """Return the rows that may not be held (must be sold if held), with reasons.

        Returns
        -------
        pd.DataFrame
            A copy of the ``table`` rows with ``can_hold`` False.
        """
        t = self.table
        return t[~t.can_hold].reset_index(drop=True)

    def summary(self, weights: pd.Series | None = None) -> pd.DataFrame:
        """Return one row per screen or restriction, plus two totals.

        Parameters
        ----------
        weights : pd.Series | None
            Benchmark weights indexed by ticker (e.g. cap weights). Tickers missing from
            it count as 0.

        Returns
        -------
        pd.DataFrame
            Columns ``restriction`` (label), ``effect`` (the action on held names:
            ``sell``, ``sell_within:N`` or ``no_buy`` for screens, never_hold and
            exclusions as the profile sets them, ``no_buy`` and ``hold_no_add`` for those
            lists; ``total`` for the two totals),
            ``names`` (int), ``tickers`` (tuple) and, with ``weights``, ``weight`` (their
            summed benchmark weight). The last two rows are ``total: cannot hold`` (the union
            of the sell rows) and ``total: cannot buy``.

        Raises
        ------
        DataError
            If ``weights`` is not a numeric Series indexed by ticker.
        """
        w = None
        if weights is not None:
            if not isinstance(weights, pd.Series) or not pd.api.types.is_numeric_dtype(
                    weights):
                raise DataError("weights must be a numeric pandas Series indexed by ticker, "
                                "e.g. caps / caps.sum()")
            if not weights.index.is_unique:
                raise DataError("weights has duplicate tickers in its index; aggregate them "
                                "first (weights.groupby(level=0).sum())")
            w = weights.astype("float64")
        t = self.table
        rows: list[tuple[str, str, tuple[str, ...]]] = []
        for label, tickers in self.hits.items():
            effect = label if label in ("no_buy", "hold_no_add") else \
                self.held_actions.get(label, "sell")
            rows.append((label, effect, tickers))
        rows.append(("total: cannot hold", "total", tuple(t.ticker[~t.can_hold])))
        rows.append(("total: cannot buy", "total", tuple(t.ticker[~t.can_buy])))
        out = pd.DataFrame({
            "restriction": [r[0] for r in rows],
            "effect": [r[1] for r in rows],
            "names": [len(r[2]) for r in rows],
            "tickers": [r[2] for r in rows],
        })
        if w is not None:
            out["weight"] = [float(w.reindex(list(r[2])).fillna(0.0).sum()) for r in rows]
        return out


def _universe_arrays(universe: pd.DataFrame) -> dict[str, list[Any]]:
    """Pull the columns the screens need out of a universe frame, as lists."""
    if not isinstance(universe, pd.DataFrame):
        raise DataError("universe must be a pandas DataFrame such as "
                        "load_market().universe.frame()")
    if "ticker" in universe.columns:
        tickers = universe["ticker"]
    elif universe.index.name == "ticker":
        tickers = universe.index.to_series()
    else:
        raise DataError("the universe frame needs a 'ticker' column or an index named "
                        "'ticker'; pass load_market().universe.frame()")
    missing = [c for c in ("gics_sector", "gics_industry", "gics_sub_industry_code")
               if c not in universe.columns]
    if missing:
        raise DataError(f"the universe frame lacks column(s) {missing}; pass "
                        "load_market().universe.frame() or add the GICS columns")
    tickers = tickers.astype(str).tolist()
    dup = sorted({x for x in tickers if tickers.count(x) > 1}) if len(set(tickers)) != len(
        tickers) else []
    if dup:
        raise DataError(f"the universe frame has duplicate tickers {dup[:10]}; keep one row "
                        "per ticker")
    n = len(tickers)

    def col(name: str, default: str = "") -> list[str]:
        if name not in universe.columns:
            return [default] * n
        return ["" if pd.isna(v) else str(v) for v in universe[name].tolist()]

    vintage = col("gics_vintage")  # "" (no column): the current structure
    return {
        "ticker": tickers,
        "name": col("name"),
        "gics_sector": col("gics_sector"),
        "gics_industry": col("gics_industry"),
        "code": col("gics_sub_industry_code"),
        "is_2018": [v.startswith("2018") for v in vintage],
    }


def _norm(tickers: Iterable[str]) -> list[str]:
    out = []
    for t in tickers:
        sp = normalize_ticker(t)
        out.append(sp.ticker if sp.valid else str(t))
    return out


def _check_restrictions(r: Restrictions, catalog: ScreenCatalog) -> None:
    problems: list[str] = []
    for c in r.categories:
        if c not in catalog.screens:
            problems.append(f"categories: {_unknown_screen_message(c, catalog.ids)}")
    clash = sorted(set(_norm(r.never_hold)) & set(_norm(r.hold_no_add)))
    if clash:
        problems.append(f"{', '.join(clash)} are both never_hold and hold_no_add; a name is "
                        "either sold (never_hold) or kept (hold_no_add): remove it from one")
    for key, act in r.held:
        if key not in (*r.categories, *HELD_KEYS):
            problems.append(f"held: {key!r} is not a restriction of this profile; use one of "
                            f"{', '.join((*r.categories, *HELD_KEYS))}")
        elif not isinstance(act, HeldAction):
            problems.append(f"held.{key}: {act!r} is not a HeldAction; build it with "
                            "HeldAction.parse('sell' | 'no_buy' | 'sell_within:3')")
        elif key == "never_hold" and act.action == "no_buy":
            problems.append("held.never_hold: never_hold names cannot be kept; use sell or "
                            "sell_within:<years>, or move the names to no_buy")
    for s in r.exclude_sectors:
        if s not in GICS_SECTORS:
            problems.append(f"exclude_sectors: {s!r} is not a GICS sector; "
                            f"{_hint(s, GICS_SECTORS)}use one of: {', '.join(GICS_SECTORS)}")
    for ind in r.exclude_industries:
        if ind not in catalog._industries:
            problems.append(f"exclude_industries: {ind!r} is not a GICS industry; "
                            f"{_hint(ind, catalog._industries)}use GICS industry names")
    for key, pairs, lo in (("sector_max_weight", r.sector_max_weight, 0.0),
                           ("sector_tilts", r.sector_tilts, -1.0)):
        for sec, val in pairs:
            if sec not in GICS_SECTORS:
                problems.append(f"{key}: {sec!r} is not a GICS sector; "
                                f"{_hint(sec, GICS_SECTORS)}use one of: "
                                f"{', '.join(GICS_SECTORS)}")
            elif isinstance(val, bool) or not isinstance(val, (int, float)) or not (
                    lo <= float(val) <= 1.0):
                problems.append(f"{key}.{sec}: {val!r} must be a number in [{lo:g}, 1]; "
                                "write weights as decimals, e.g. 0.05 for 5 %")
    if problems:
        raise RestrictionError("the restrictions cannot be applied:\n"
                               + "\n".join(f"  - {x}" for x in problems))


def apply_screens(universe: pd.DataFrame, restrictions: Restrictions,
                  catalog: ScreenCatalog | None = None) -> Eligibility:
    """Apply a client's screens and restrictions to a universe.

    Parameters
    ----------
    universe : pd.DataFrame
        One row per ticker with a ``ticker`` column (or an index named ``ticker``) and the
        columns ``gics_sector``, ``gics_industry`` and ``gics_sub_industry_code``. ``name``
        and ``gics_vintage`` are used when present (without ``gics_vintage`` every code is
        read as 2023 structure). ``load_market().universe.frame()`` or any row subset of it
        (e.g. the 2026 members) works.
    restrictions : Restrictions
        The client's categories, individual restrictions and sector preferences.
    catalog : ScreenCatalog | None
        The screen catalog; default the packaged one (:func:`load_catalog`).

    Returns
    -------
    Eligibility
        Flags and reasons per ticker (see the module docstring for the flag rules), sector
        limits and tilts, and per-restriction hits. Tickers named in the individual
        restrictions but absent from ``universe`` are reported in ``not_in_universe``.

    Raises
    ------
    RestrictionError
        If a category is not in the catalog, a name is both ``never_hold`` and
        ``hold_no_add``, or a sector or industry name or a sector weight is invalid.
    DataError
        If ``universe`` lacks the ticker or GICS columns or has duplicate tickers.
    """
    cat = catalog if catalog is not None else load_catalog()
    _check_restrictions(restrictions, cat)
    u = _universe_arrays(universe)
    tickers, n = u["ticker"], len(u["ticker"])
    position = {t: i for i, t in enumerate(tickers)}
    reasons: list[list[str]] = [[] for _ in range(n)]
    screens: list[list[str]] = [[] for _ in range(n)]
    action: list[HeldAction | None] = [None] * n  # strictest action on held shares
    no_buy = [False] * n
    keep_no_add = [False] * n
    hits: dict[str, tuple[str, ...]] = {}
    held_actions: dict[str, str] = {}

    def hit_by(i: int, key: str) -> None:
        a = restrictions.held_action(key)
        if action[i] is None or a.strictness() < action[i].strictness():
            action[i] = a

    for sid in dict.fromkeys(restrictions.categories):
        by_2023: dict[str, list[str]] = {}
        by_2018: dict[str, list[str]] = {}
        by_ticker: dict[str, list[str]] = {}
        target = {"gics_2023": by_2023, "gics_2018": by_2018, "ticker": by_ticker}
        for r in cat._rules[sid]:
            head = f"{sid} screen (via {r.via})" if r.via else f"{sid} screen"
            target[r.kind].setdefault(r.key, []).append(f"{head}: {r.text}")
        hit = []
        for i in range(n):
            found = (by_2018 if u["is_2018"][i] else by_2023).get(u["code"][i], []) \
                + by_ticker.get(tickers[i], [])
            if found:
                hit.append(i)
                hit_by(i, sid)
                screens[i].append(sid)
                reasons[i].extend(dict.fromkeys(found))
        hits[sid] = tuple(tickers[i] for i in hit)
        held_actions[sid] = str(restrictions.held_action(sid))

    missing: list[str] = []

    def individual(label: str, names: Iterable[str], text: str,
                   flags: list[bool] | None) -> None:
        hit = []
        for t in dict.fromkeys(_norm(names)):
            i = position.get(t)
            if i is None:
                missing.append(t)
                continue
            hit.append(t)
            if flags is None:
                hit_by(i, label)
            else:
                flags[i] = True
            reasons[i].append(f"{label}: {text}")
        if hit or names:
            hits[label] = tuple(hit)

    never = restrictions.held_action("never_hold")
    individual("never_hold", restrictions.never_hold,
               f"restricted by client ({never.describe()})", None)
    if restrictions.never_hold:
        held_actions["never_hold"] = str(never)
    individual("hold_no_add", restrictions.hold_no_add,
               "restricted by client (keep if held, do not add)", keep_no_add)
    individual("no_buy", restrictions.no_buy,
               "restricted by client (do not buy; may keep if held)", no_buy)
    held_actions.update({k: k for k in ("hold_no_add", "no_buy") if k in hits})

    for column, label, values in (("gics_sector", "exclude_sectors",
                                   restrictions.exclude_sectors),
                                  ("gics_industry", "exclude_industries",
                                   restrictions.exclude_industries)):
        kind = "sector" if column == "gics_sector" else "industry"
        for value in dict.fromkeys(values):
            hit = [i for i in range(n) if u[column][i] == value]
            for i in hit:
                hit_by(i, label)
                reasons[i].append(f"{label}: GICS {kind} {value} excluded by client")
            hits[f"{label}: {value}"] = tuple(tickers[i] for i in hit)
            held_actions[f"{label}: {value}"] = str(restrictions.held_action(label))

    sell = [a is not None and a.action == "sell" for a in action]
    can_hold = [a is None or a.action == "no_buy" for a in action]
    restricted = [a is not None for a in action]
    held = [str(a) if a is not None else "hold_no_add" if k and h else "no_buy" if b else ""
            for a, k, b, h in zip(action, keep_no_add, no_buy, can_hold, strict=True)]
    table = pd.DataFrame({
        "ticker": tickers,
        "name": u["name"],
        "gics_sector": u["gics_sector"],
        "can_buy": [not (r or b or k) for r, b, k in zip(restricted, no_buy, keep_no_add,
                                                          strict=True)],
        "can_hold": can_hold,
        "must_sell": sell,
        "hold_no_add": [k and h for k, h in zip(keep_no_add, can_hold, strict=True)],
        "held_action": held,
        "sell_within_years": [float(a.years) if a is not None and a.years else np.nan
                              for a in action],
        "reasons": ["; ".join(r) for r in reasons],
        "screens": [tuple(s) for s in screens],
    }, columns=list(ELIGIBILITY_COLUMNS))
    return Eligibility(
        table=table,
        sector_limits=dict(restrictions.sector_max_weight),
        sector_tilts=dict(restrictions.sector_tilts),
        hits=MappingProxyType(hits),
        not_in_universe=tuple(dict.fromkeys(missing)),
        catalog_version=cat.version,
        held_actions=MappingProxyType(held_actions),
    )
