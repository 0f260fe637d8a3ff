"""What a client will not own, and what happens to names already held.

Types only (no parsing): :mod:`pma_lab.io.profile` reads them from ``[restrictions]``;
:mod:`pma_lab.portfolio.screens` applies them to the universe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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

    def is_empty(self) -> bool:
        """True when no screen or restriction is set."""
        return not any((self.categories, self.no_buy, self.never_hold, self.hold_no_add,
                        self.exclude_sectors, self.exclude_industries, self.sector_max_weight,
                        self.sector_tilts))

    def held_action(self, restriction: str) -> HeldAction:
        """The action on held names of one restriction (default ``sell``)."""
        return dict(self.held).get(restriction, HeldAction())
