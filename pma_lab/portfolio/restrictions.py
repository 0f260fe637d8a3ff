"""What a client will not own, and what happens to names already held.

Types only (no parsing): :mod:`pma_lab.io.profile` reads them from ``[restrictions]``;
:mod:`pma_lab.portfolio.screens` applies them to the universe.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["HELD_ACTIONS", "HELD_KEYS", "HeldAction", "Restrictions"]

HELD_ACTIONS = ("sell", "sell_within", "no_buy")
"""What a restriction does to a name the client already holds (``[restrictions.held]``)."""

HELD_KEYS = ("never_hold", "exclude_sectors", "exclude_industries")
"""Keys of ``[restrictions.held]`` besides the category ids listed in ``categories``."""


@dataclass(frozen=True)
class HeldAction:
    """What one restriction does to the shares a client already holds.

    * ``sell`` -- sold now, whatever the tax (a hard constraint of every plan; a capital-gains
      budget yields to it);
    * ``sell_within`` -- sold within ``years`` years along a straight-line glide (at most
      ``1 - t / years`` of today's shares may remain ``t`` years from now), never bought;
      the glide paces the plans that move over time: moving now ("Move now", the
      frontier's "Go to target") sells the name in full today
      (:func:`pma_lab.optimize.state.go_to_target_state`);
    * ``no_buy`` -- never bought; the shares held are not force-sold (a tax-aware
      rebalance may still sell them like any name outside the target). The client's own
      ``hold_no_add`` list is the one that is never sold.
    """

    action: str = "sell"
    years: int | None = None

    def __post_init__(self) -> None:
        if self.action not in HELD_ACTIONS:
            raise ValueError(f"{self.action!r} is not one of {', '.join(HELD_ACTIONS)}")
        if (self.action == "sell_within") != (self.years is not None):
            raise ValueError("sell_within needs years (and only sell_within has them)")
        if self.years is not None and not 1 <= self.years <= 30:
            raise ValueError("sell_within years must be 1..30")

    @classmethod
    def parse(cls, text: str) -> HeldAction:
        """``"sell"``, ``"no_buy"`` or ``"sell_within:<years>"``.

        Raises
        ------
        ValueError
            With the accepted forms.
        """
        m = re.fullmatch(r"(sell|no_buy)|sell_within:(\d{1,2})", str(text).strip())
        if not m:
            raise ValueError(f"{text!r} is not sell, no_buy or sell_within:<years> "
                             "(e.g. sell_within:3)")
        if m.group(1):
            return cls(m.group(1))
        return cls("sell_within", int(m.group(2)))

    def __str__(self) -> str:
        return f"sell_within:{self.years}" if self.action == "sell_within" else self.action

    def describe(self) -> str:
        """The action in words a client reads (the same in every front end)."""
        if self.action == "sell":
            return "sold now if held, whatever the tax; never bought"
        if self.action == "sell_within":
            return (f"sold within {self.years} year{'s' if self.years != 1 else ''} if held "
                    "(a straight-line glide, or in full today with \u201cMove now\u201d); "
                    "never bought")
        return ("never bought; shares held are not force-sold (they may be sold to rebalance "
                "or harvest a loss)")

    def strictness(self) -> tuple[int, int]:
        """Sort key: the strictest action first (sell, then the shortest glide, then no_buy)."""
        return ({"sell": 0, "sell_within": 1, "no_buy": 2}[self.action], self.years or 0)


@dataclass(frozen=True)
class Restrictions:
    """Category screens and individual security restrictions.

    ``held`` says, per restriction (a category id of ``categories``, ``never_hold``,
    ``exclude_sectors`` or ``exclude_industries``), what happens to names already held
    (:class:`HeldAction`); a restriction not listed sells them (``sell``).

    The pair fields (``sector_max_weight``, ``sector_tilts``, ``held``) also take a mapping,
    the profile's own shape (``sector_max_weight={"Information Technology": 0.25}``), and
    the list fields a list or a single string (``never_hold="TSLA"``); both are stored as
    tuples. An action of ``held`` may be written as the profile writes it
    (``"sell_within:3"``, read by :meth:`HeldAction.parse`). A pair that is not
    ``(key, value)`` is refused here, naming the field. Values are checked when the
    restrictions are applied (:func:`pma_lab.portfolio.screens.apply_screens`).
    """

    categories: tuple[str, ...] = ()
    no_buy: tuple[str, ...] = ()  # never buy; may keep if held
    never_hold: tuple[str, ...] = ()  # must not hold: sell if held, never buy
    hold_no_add: tuple[str, ...] = ()  # keep, but do not add
    exclude_sectors: tuple[str, ...] = ()
    exclude_industries: tuple[str, ...] = ()  # GICS industry names
    sector_max_weight: tuple[tuple[str, float], ...] = ()  # (sector, max weight) pairs
    sector_tilts: tuple[tuple[str, float], ...] = ()  # (sector, active weight vs benchmark)
    held: tuple[tuple[str, HeldAction], ...] = ()  # (restriction, action on held names)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _PAIR_FIELDS:
                norm: tuple[Any, ...] = _pairs(f.name, value)
                if f.name == "held":  # the profile's words: {"tobacco": "sell_within:3"}
                    norm = tuple((k, HeldAction.parse(a) if isinstance(a, str) else a)
                                 for k, a in norm)
            else:
                norm = _names(f.name, value)
            if norm != value or type(norm) is not type(value):
                object.__setattr__(self, f.name, norm)

    def is_empty(self) -> bool:
        """True when no screen or restriction is set."""
        return not any((self.categories, self.no_buy, self.never_hold, self.hold_no_add,
                        self.exclude_sectors, self.exclude_industries, self.sector_max_weight,
                        self.sector_tilts))

    def held_action(self, restriction: str) -> HeldAction:
        """The action on held names of one restriction (default ``sell``)."""
        return dict(self.held).get(restriction, HeldAction())


_PAIR_FIELDS = ("sector_max_weight", "sector_tilts", "held")


def _pairs(name: str, value: object) -> tuple[tuple[Any, Any], ...]:
    """A pair field as a tuple of ``(key, value)`` pairs (a mapping is accepted)."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return tuple((k, v) for k, v in value.items())
    example = ('{"Information Technology": 0.25}' if name != "held"
               else '{"tobacco": HeldAction.parse("sell_within:3")}')
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"Restrictions.{name}: {value!r} is not a mapping or a sequence of "
                        f"(key, value) pairs; write e.g. {name}={example}")
    out = []
    for item in value:  # type: ignore[attr-defined]
        if isinstance(item, (str, bytes)) or not hasattr(item, "__len__") or len(item) != 2:
            raise TypeError(f"Restrictions.{name}: {item!r} is not a (key, value) pair; "
                            f"write e.g. {name}={example}")
        out.append((item[0], item[1]))
    return tuple(out)


def _names(name: str, value: object) -> tuple[Any, ...]:
    """A list field as a tuple (a single string is one name)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Mapping) or not hasattr(value, "__iter__"):
        raise TypeError(f"Restrictions.{name}: {value!r} is not a list of names; write e.g. "
                        f"{name}=(\"...\",)")
    return tuple(value)  # type: ignore[call-overload]
