"""The named choices of the optimizer's settings, as string enums.

Each enum derives from ``str`` (:class:`enum.StrEnum`), so code and files that pass the
plain strings (``wash_sale_mode="disallow"``, ``solve("two_step")``) keep working; the
settings store the enum member, and an unknown string fails when the settings are built
(:class:`~pma_lab.errors.SettingsError`, naming the accepted values). The character of a
gain, :class:`~pma_lab.tax.rules.Term`, lives with the tax rules.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Method", "WashSaleMode", "BudgetUnit", "TaxCredit"]


class Method(StrEnum):
    """How :meth:`~pma_lab.optimize.rebalance.RebalanceProblem.solve` decides buy-or-sell per name.

    ``TWO_STEP``: Moehle et al.'s convex relaxation, then the sign-fixed exact problem.
    ``RELAXED``: the relaxation only (a lower bound; may buy and sell a name).
    ``ENUMERATE``: best of every sign pattern of the names holding a loss lot (an exact
    reference for small books; 2^k solves).
    """

    TWO_STEP = "two_step"
    RELAXED = "relaxed"
    ENUMERATE = "enumerate"


class WashSaleMode(StrEnum):
    """What to do with a loss lot of a name bought in the last 30 days.

    ``FORBID``: do not sell it at a loss. ``DISALLOW``: it may be sold, with the loss
    booked as disallowed (added to the replacement shares' basis) and earning no credit.
    """

    FORBID = "forbid"
    DISALLOW = "disallow"


class BudgetUnit(StrEnum):
    """Unit of the net realised-gain budgets (:class:`~pma_lab.optimize.rebalance.Budgets`).

    ``GAIN``: USD of net gain. ``TAX``: USD of tax at the client's rates.
    ``EMBEDDED_PCT``: a fraction of the account's embedded gain (0.1 = 10 %).
    """

    GAIN = "gain"
    TAX = "tax"
    EMBEDDED_PCT = "embedded_pct"


class TaxCredit(StrEnum):
    """How the optimizer credits realised losses.

    ``LINEAR``: every dollar of loss earns its rate in full. ``CAPPED``: the credit cannot
    exceed the ST rate times (gains realised this year + the ordinary-income offset).
    """

    LINEAR = "linear"
    CAPPED = "capped"
