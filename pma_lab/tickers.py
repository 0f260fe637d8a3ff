"""Ticker normalisation and the "substantially identical" identity table.

Custodians spell share classes in many ways (``BRK-B``, ``BRK/B``, ``BRK B``, ``brk.b``);
pma_lab's canonical form is the S&P / Wikipedia dot form (``BRK.B``). Normalising is never
silent: :func:`normalize_ticker` reports whether the spelling changed so ingestion can warn.

The identity table maps each ticker to its wash-sale identity group: tickers in one group
are treated as substantially identical (§1091). By default each ticker is its own group and
share classes of one issuer are grouped (a named policy flag, see
:class:`pma_lab.taxrules.TaxPolicy`); users add groups (e.g. two S&P 500 ETFs, if their
counsel says so) through :meth:`IdentityTable.with_groups`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "normalize_ticker",
    "TickerSpelling",
    "SHARE_CLASS_GROUPS",
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


SHARE_CLASS_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"GOOG", "GOOGL"}),
    frozenset({"FOX", "FOXA"}),
    frozenset({"NWS", "NWSA"}),
    frozenset({"BRK.A", "BRK.B"}),
    frozenset({"BF.A", "BF.B"}),
)
"""Share classes of one issuer in the S&P 500 universe, grouped when
``TaxPolicy.share_classes_identical`` is set."""


@dataclass(frozen=True)
class IdentityTable:
    """Map from ticker to wash-sale identity group.

    Tickers not mentioned are their own group. The group name is the alphabetically first
    member, so results do not depend on the order groups were declared in.
    """

    _group_of: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def default(cls, share_classes_identical: bool = True) -> IdentityTable:
        """The default table: share classes grouped when ``share_classes_identical``."""
        groups = SHARE_CLASS_GROUPS if share_classes_identical else ()
        return cls().with_groups(groups)

    def with_groups(self, groups: Iterable[Iterable[str]]) -> IdentityTable:
        """Return a new table with extra groups merged in (overlapping groups are joined)."""
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
        mapping = {t: min(s) for s in merged if len(s) > 1 for t in s}
        return IdentityTable(mapping)

    def group(self, ticker: str) -> str:
        """Identity group of ``ticker`` (the ticker itself when it is in no group)."""
        return self._group_of.get(ticker, ticker)

    def members(self, ticker: str) -> frozenset[str]:
        """All tickers substantially identical to ``ticker`` (including itself)."""
        g = self.group(ticker)
        out = {t for t, gg in self._group_of.items() if gg == g}
        out.add(ticker)
        return frozenset(out)

    def groups(self) -> tuple[frozenset[str], ...]:
        """The non-trivial groups, sorted by name."""
        by: dict[str, set[str]] = {}
        for t, g in self._group_of.items():
            by.setdefault(g, set()).add(t)
        return tuple(frozenset(by[k]) for k in sorted(by))
