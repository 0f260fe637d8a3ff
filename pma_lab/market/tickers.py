"""Ticker normalisation, "did you mean" hints and the "substantially identical" identity table.

Custodians spell share classes in many ways (``BRK-B``, ``BRK/B``, ``BRK B``, ``brk.b``);
pma_lab's canonical form is the S&P / Wikipedia dot form (``BRK.B``). Normalising is never
silent: :func:`normalize_ticker` reports whether the spelling changed so ingestion can warn.

:class:`TickerSuggester` gives the "did you mean" hints for unknown tickers: the same
answers as :func:`difflib.get_close_matches`, from an index of the known tickers' lengths
and letters, and only for the first ``limit`` distinct unknown tickers of a file (so the
hints for a file of 100,000 unknown tickers cost a few milliseconds instead of minutes;
``benchmarks/bench_tickers.py``).

The identity table maps each ticker to its wash-sale identity group: tickers in one group
are treated as substantially identical (§1091). The default table is derived from the
packaged security master by issuer over time (:meth:`IdentityTable.default`): tickers that
share an SEC CIK are one issuer; two of them that were S&P 500 members at the same time are
share classes (GOOG/GOOGL, FOX/FOXA, NWS/NWSA, UA/UAA, DISCA/DISCK), grouped when
``TaxPolicy.share_classes_identical`` is set; two that followed one another are one
security renamed (FB -> META, DISCA/DISCK -> WBD, BLL -> BALL), always grouped. Users add
groups (e.g. two S&P 500 ETFs, if their counsel says so) through
:meth:`IdentityTable.with_groups`.
"""

from __future__ import annotations

import difflib
import functools
import heapq
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from pma_lab.market.data import Vintages

__all__ = [
    "normalize_ticker",
    "TickerSpelling",
    "TickerSuggester",
    "issuer_links",
    "IdentityTable",
]

_SEP = re.compile(r"[\s\-/_]+")
_VALID = re.compile(r"^[A-Z0-9]{1,6}(\.[A-Z0-9]{1,3})?$")


@dataclass(frozen=True)
class TickerSpelling:
    """Result of normalising one ticker string."""

    raw: str
    ticker: str  # canonical form, '' when the input cannot be a ticker
    changed: bool  # spelling differs from raw beyond surrounding whitespace
    valid: bool  # the canonical form has the shape of a ticker


def normalize_ticker(raw: object) -> TickerSpelling:
    """Normalise a custodian's ticker spelling to the canonical dot form.

    Rules: strip surrounding whitespace; upper-case; a single separator (``-``, ``/``,
    ``_`` or inner spaces) between a root and a one- or two-character class suffix becomes
    a dot (``BRK-B`` -> ``BRK.B``), so a name such as ``APPLE INC`` is not mistaken for a
    share class. Anything else that is not letters/digits with an optional ``.CLASS``
    suffix is reported invalid, never guessed.

    Parameters
    ----------
    raw : object
        The cell value as read from the file.

    Returns
    -------
    TickerSpelling
        The canonical ticker, whether the spelling changed, and whether it is well formed.
    """
    text = "" if raw is None else str(raw)
    stripped = text.strip()
    up = stripped.upper()
    parts = [p for p in _SEP.split(up) if p]
    if len(parts) == 2 and "." not in up and 1 <= len(parts[1]) <= 2:
        canon = f"{parts[0]}.{parts[1]}"
    else:
        canon = up
    valid = bool(_VALID.match(canon))
    return TickerSpelling(raw=text, ticker=canon if valid else up, changed=canon != stripped,
                          valid=valid)


@dataclass(frozen=True)
class IdentityTable:
    """Map from ticker to wash-sale identity group.

    Tickers not mentioned are their own group. The group name is the alphabetically first
    member, so results do not depend on the order groups were declared in. ``former``
    holds the tickers a security no longer trades under (FB after its rename to META), so
    a group can be named as a client knows it (:meth:`label`); share classes that left
    the index (UA, UAA) still trade and are not former.
    """

    _group_of: Mapping[str, str] = field(default_factory=dict)
    former: frozenset[str] = frozenset()

    @classmethod
    def default(cls, share_classes_identical: bool = True) -> IdentityTable:
        """The table derived from the packaged security master (see :func:`issuer_links`).

        Renamed tickers of one issuer are always grouped; share classes only when
        ``share_classes_identical``. Cached: the same object for the same flag and data.
        """
        from pma_lab.paths import market_dir

        return _packaged_table(str(market_dir()), share_classes_identical)

    @classmethod
    def from_links(cls, links: pd.DataFrame, share_classes_identical: bool = True
                   ) -> IdentityTable:
        """Build the table from :func:`issuer_links` output.

        Parameters
        ----------
        links : pd.DataFrame
            Columns ``ticker_a``, ``ticker_b``, ``relation`` (``share_class`` or
            ``renamed``).
        share_classes_identical : bool
            Group share-class pairs too (renamed pairs are always grouped).

        Returns
        -------
        IdentityTable
        """
        keep = links if share_classes_identical else links[links.relation == "renamed"]
        current = set(links.ticker_a[links.current_a]) | set(links.ticker_b[links.current_b])
        table = cls().with_groups(zip(keep.ticker_a, keep.ticker_b, strict=True),
                                  prefer=current)
        # former: a ticker renamed into one in the current list (FB -> META, DISCA -> WBD);
        # not every ticker outside the list: share classes that left the index together
        # (UA, UAA) still trade under both symbols
        renamed = links[links.relation == "renamed"]
        former = {old for a, b, now_a, now_b in zip(
            renamed.ticker_a, renamed.ticker_b, renamed.current_a, renamed.current_b,
            strict=True) if now_a != now_b for old in ((b,) if now_a else (a,))}
        return cls(table._group_of, frozenset(former))

    def with_groups(self, groups: Iterable[Iterable[str]],
                    prefer: Iterable[str] = ()) -> IdentityTable:
        """Return a new table with extra groups merged in (overlapping groups are joined).

        A group is named by its alphabetically first member among ``prefer`` (e.g. the
        tickers that trade today, so a renamed issuer's group is named META, not FB), else
        by its alphabetically first member.
        """
        prefer = set(prefer) | {t for t, g in self._group_of.items() if t == g}
        members: dict[str, set[str]] = {}
        for t, g in self._group_of.items():
            members.setdefault(g, set()).add(t)
        sets = [set(s) for s in members.values()]
        for grp in groups:
            norm = {normalize_ticker(t).ticker for t in grp}
            sets.append(norm)
        # union-find by repeated merging (tables are tiny)
        merged: list[set[str]] = []
        for s in sets:
            s = set(s)
            keep = []
            for m in merged:
                if m & s:
                    s |= m
                else:
                    keep.append(m)
            keep.append(s)
            merged = keep
        mapping = {t: min(s & prefer or s) for s in merged if len(s) > 1 for t in s}
        return IdentityTable(mapping, self.former)

    def group(self, ticker: str) -> str:
        """Identity group of ``ticker`` (the ticker itself when it is in no group)."""
        return self._group_of.get(ticker, ticker)

    def members(self, ticker: str) -> frozenset[str]:
        """All tickers substantially identical to ``ticker`` (including itself)."""
        g = self.group(ticker)
        out = {t for t, gg in self._group_of.items() if gg == g}
        out.add(ticker)
        return frozenset(out)

    def label(self, ticker: str) -> str:
        """The identity group of ``ticker`` named as a client reads it.

        The symbols it trades under, then the former ones: ``"META (was FB)"``,
        ``"GOOG, GOOGL"``, ``"WBD (was DISCA, DISCK)"``; a group with no current symbol
        lists them all (``"ABC, XYZ"``).

        Examples
        --------
        >>> t = IdentityTable({"FB": "META", "META": "META"}, frozenset({"FB"}))
        >>> t.label("FB")
        'META (was FB)'
        """
        members = sorted(self.members(ticker))
        now = [m for m in members if m not in self.former]
        was = [m for m in members if m in self.former]
        if not now or not was:
            return ", ".join(members)
        return f"{', '.join(now)} (was {', '.join(was)})"

    def groups(self) -> tuple[frozenset[str], ...]:
        """The non-trivial groups, sorted by name."""
        by: dict[str, set[str]] = {}
        for t, g in self._group_of.items():
            by.setdefault(g, set()).add(t)
        return tuple(frozenset(by[k]) for k in sorted(by))


# ------------------------------------------------------------------ issuers over time
def _intervals(membership: pd.DataFrame) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for t, a, b in zip(membership.ticker, membership.start_date, membership.end_date,
                       strict=True):
        out.setdefault(t, []).append((a, b))
    return out


def _overlap(xs: list[tuple], ys: list[tuple]) -> bool:
    import pandas as pd

    def end(e: object) -> pd.Timestamp:
        return pd.Timestamp.max if pd.isna(e) else pd.Timestamp(e)

    return any(a1 < end(b2) and a2 < end(b1) for a1, b1 in xs for a2, b2 in ys)


def issuer_links(universe: pd.DataFrame, membership: pd.DataFrame,
                 vintages: Vintages | None = None) -> pd.DataFrame:
    """Pairs of tickers of one issuer (same SEC CIK), classified over time.

    Two tickers of one CIK whose S&P 500 membership intervals overlap traded side by side:
    they are **share classes** (GOOG/GOOGL, DISCA/DISCK). Two whose intervals follow one
    another are one security **renamed** (FB until 2022-06-09, META from that day;
    DISCA and DISCK until 2022-04-11, WBD from that day). When a ticker has no membership
    interval (BNY, MRSH joined the list after the intervals' snapshot), the constituents
    lists of the security master decide: both in one list means share classes, else
    renamed. Which lists there are, and which is current, is read from the data's
    ``manifest.json`` (``vintages.constituent_lists``), never from column names in code.

    Parameters
    ----------
    universe : pd.DataFrame
        The security master (``universe.parquet``): ``ticker``, ``cik`` and the columns of
        ``vintages.constituent_lists`` (in the packaged data ``in_sp500_2021_04_25``,
        ``in_sp500_2026_08_08``).
    membership : pd.DataFrame
        ``membership_intervals.parquet``: ``ticker``, ``start_date``, ``end_date``
        (first day no longer a member; NaT = still a member).
    vintages : Vintages | None
        The snapshot dates and columns of the data (``MarketData.vintages``); default the
        packaged market data's.

    Returns
    -------
    pd.DataFrame
        One row per pair: ``cik``, ``ticker_a`` < ``ticker_b``, ``relation``
        (``share_class`` or ``renamed``), ``evidence`` (what decided it), ``current_a``,
        ``current_b`` (in the current constituents list, i.e. trading under that ticker
        today).

    Raises
    ------
    MarketDataError
        When the universe lacks ``ticker``, ``cik`` or a column the vintages name.

    Notes
    -----
    Identity is by ticker: the master holds one CIK per ticker (its latest issuer), so a
    ticker reused by another company before (META was a Roundhill ETF until 2022-06, DOC
    was Physicians Realty until 2024-03) is grouped with its current issuer's other
    tickers for all dates. The packaged prices make the same assumption (Yahoo attaches
    the current issuer's history to a ticker). Share classes outside the S&P 500 (BRK.A,
    BF.A) are not in the master, and pma_lab does not accept them in lots or trades.
    """
    import pandas as pd

    from pma_lab.errors import MarketDataError

    if vintages is None:
        from pma_lab.market.data import load_market

        vintages = load_market().vintages
    lists = [(f"{d:%Y-%m-%d}", col) for d, col in vintages.constituent_lists]
    current = vintages.constituents_column
    cols = ["ticker", "cik"] + [col for _d, col in lists]
    u = universe.reset_index() if "ticker" not in universe else universe
    absent = [c for c in cols if c not in u.columns]
    if absent:
        raise MarketDataError(
            f"the security master has no column {', '.join(map(repr, absent))} (the "
            "manifest's vintages.constituent_lists name them); pass the universe of the same "
            "market-data folder as the vintages, or fix manifest.json's 'vintages' section")
    u = u[cols]
    u = u[u.cik.notna() & u.cik.duplicated(keep=False)].sort_values(["cik", "ticker"])
    spans = _intervals(membership[membership.ticker.isin(set(u.ticker))])
    rows = []
    by_cik: dict[str, list[dict]] = {}
    for rec in u.to_dict("records"):
        by_cik.setdefault(str(rec["cik"]), []).append(rec)
    for cik, recs in by_cik.items():
        for i, a in enumerate(recs):
            for b in recs[i + 1:]:
                ta, tb = a["ticker"], b["ticker"]
                if ta in spans and tb in spans:
                    classes = _overlap(spans[ta], spans[tb])
                    why = ("S&P 500 membership overlaps" if classes else
                           "S&P 500 membership intervals follow one another")
                else:
                    both = [d for d, col in lists if a[col] and b[col]]
                    classes = bool(both)
                    why = (f"both in the {both[0]} constituents list" if classes else
                           "never in one constituents list ("
                           + ", ".join(d for d, _c in lists) + ")")
                rows.append({"cik": str(cik), "ticker_a": ta, "ticker_b": tb,
                             "relation": "share_class" if classes else "renamed",
                             "evidence": why, "current_a": bool(a[current]),
                             "current_b": bool(b[current])})
    return pd.DataFrame(rows, columns=["cik", "ticker_a", "ticker_b", "relation", "evidence",
                                       "current_a", "current_b"])


@functools.lru_cache(maxsize=8)
def _packaged_links(folder: str) -> pd.DataFrame:
    from pma_lab.market.data import _read_table, load_market

    return issuer_links(_read_table(f"{folder}/universe.parquet"),
                        _read_table(f"{folder}/membership_intervals.parquet"),
                        load_market(folder).vintages)


@functools.lru_cache(maxsize=16)
def _packaged_table(folder: str, share_classes_identical: bool) -> IdentityTable:
    return IdentityTable.from_links(_packaged_links(folder), share_classes_identical)


# ------------------------------------------------------------------------- suggestions
class TickerSuggester:
    """"Did you mean" hints for unknown tickers, cheap even for very many of them.

    Calling it returns first the known tickers of the same length one typo away (one letter
    changed, or two adjacent letters swapped: ``APPL`` -> ``AAPL``, which difflib ranks
    below ``PPL``, ``APP`` and ``PYPL``) for a word of three letters or more, each with
    the word's first letter or a difflib ratio of at least ``cutoff``, best ratio first,
    then what
    ``difflib.get_close_matches(word, known, n, cutoff)`` returns, ``n`` at most;
    difflib's candidates are first screened with a vectorised upper bound on difflib's
    ratio (shared letters, counted with multiplicity, over the two lengths), so only a
    handful of real comparisons run. After ``limit`` distinct words it returns no hints
    (the caller's message still names every unknown ticker).

    Parameters
    ----------
    known : Iterable[str]
        The accepted tickers.
    n : int
        Hints per word (at most).
    cutoff : float
        Minimum difflib ratio in [0, 1].
    limit : int | None
        Distinct words that get hints; ``None`` for no limit.
    """

    def __init__(self, known: Iterable[str], n: int = 3, cutoff: float = 0.75,
                 limit: int | None = 50):
        self.n, self.cutoff, self.limit = n, cutoff, limit
        self._known = frozenset(known)
        self._letters = frozenset(c for w in self._known for c in w)
        self._index = _suggest_index(self._known)
        self._seen: dict[str, tuple[str, ...]] = {}

    def __call__(self, word: str) -> tuple[str, ...]:
        """Close matches of ``word`` among the known tickers, best first."""
        hit = self._seen.get(word)
        if hit is not None:
            return hit
        if self.limit is not None and len(self._seen) >= self.limit:
            return ()
        close = self._index.close(word, self.n, self.cutoff)
        # one typo of a word of 3+ letters, close by difflib's ratio or from its first
        # letter ("X" is one letter from A, C, D: no hint; reviewer 2, session 21)
        typo = [w for w in one_typo(word, self._known, self._letters)
                if len(word) >= 3 and (w[0] == word[0] or difflib.SequenceMatcher(
                    None, word, w).ratio() >= self.cutoff)]
        out = tuple(dict.fromkeys(typo + list(close)))[:self.n]
        self._seen[word] = out
        return out


def one_typo(word: str, known: frozenset[str] | set[str],
             letters: frozenset[str] | None = None) -> list[str]:
    """Known tickers of ``word``'s length one typo away: a letter changed or two swapped.

    Best :class:`difflib.SequenceMatcher` ratio first, then alphabetical.

    Examples
    --------
    >>> one_typo("APPL", frozenset({"AAPL", "PPL", "APP"}))
    ['AAPL']
    >>> one_typo("MSTF", frozenset({"MSFT"}))
    ['MSFT']
    """
    if letters is None:  # the letters the known tickers use (a caller may keep them)
        letters = frozenset(c for w in known for c in w)
    near = {word[:i] + c + word[i + 1:] for i in range(len(word)) for c in letters}
    near |= {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)}
    near.discard(word)
    hits = near & known
    return sorted(hits, key=lambda w: (-difflib.SequenceMatcher(None, word, w).ratio(), w))


class _SuggestIndex:
    """Letter counts and lengths of the known tickers (internal)."""

    def __init__(self, known: frozenset[str]):
        self.words = sorted(known)
        chars = sorted({c for w in self.words for c in w})
        self.col = {c: i for i, c in enumerate(chars)}
        counts = np.zeros((len(self.words), len(chars) + 1), dtype=np.int16)
        for r, w in enumerate(self.words):
            for c in w:
                counts[r, self.col[c]] += 1
        self.counts = counts
        self.lens = np.array([len(w) for w in self.words], dtype=np.int64)

    def close(self, word: str, n: int, cutoff: float) -> tuple[str, ...]:
        if not self.words or n <= 0:
            return ()
        vec = np.zeros(self.counts.shape[1], dtype=np.int16)
        for c in word:
            i = self.col.get(c)
            if i is not None:
                vec[i] += 1
        total = self.lens + len(word)
        shared = np.minimum(self.counts, vec).sum(axis=1)
        # difflib's real_quick_ratio and quick_ratio bounds (the ratio never exceeds them)
        bound = np.minimum(2.0 * np.minimum(self.lens, len(word)), 2.0 * shared) / total
        keep = np.flatnonzero(bound >= cutoff)
        scored = []
        sm = difflib.SequenceMatcher()
        sm.set_seq2(word)
        for r in keep:
            sm.set_seq1(self.words[r])
            if sm.real_quick_ratio() >= cutoff and sm.quick_ratio() >= cutoff:
                score = sm.ratio()
                if score >= cutoff:
                    scored.append((score, self.words[r]))
        return tuple(x for _s, x in heapq.nlargest(n, scored))


@functools.lru_cache(maxsize=8)
def _suggest_index(known: frozenset[str]) -> _SuggestIndex:
    return _SuggestIndex(known)
