"""The active manager's model updates over a plan's horizon: the core re-targeted on dates.

An active + index core's active sleeve is a model portfolio file updated on dates
(``date, ticker, weight``; :func:`pma_lab.portfolio.completion.active_model_dates`).
:func:`pma_lab.optimize.engine.prepare` builds the core from the version in force at the
client's date. A version dated *inside* a plan's horizon is the manager's update: from the
first step on or after its date, the plan trades toward a new core, the new model at its
share plus a completion sleeve re-optimised against it
(:func:`pma_lab.portfolio.completion.completion_for_profile`, with the same benchmark, risk
model, screens and name count as today's core). The re-optimised sleeve starts from the
names the sleeve held before the update and changes one only when that improves tracking
materially (:data:`pma_lab.portfolio.completion.HELD_NAME_GAIN`): an update of one name
of the model changes the few completion names it needs to, not a fresh selection's many.
The trades toward it are the step's usual tax-aware rebalance
(:func:`pma_lab.plan.simulation.simulate`); nothing else changes.

Versions dated on or before the client's date, or after the horizon, change nothing: a
file with one date (or none) gives the plans of a core held fixed, to the cent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pma_lab.optimize.engine import ClientSetup
from pma_lab.portfolio.completion import active_model_dates, completion_for_profile, core_target

__all__ = ["CoreUpdate", "core_updates"]


@dataclass(frozen=True)
class CoreUpdate:
    """One model update inside a plan's horizon.

    Attributes
    ----------
    model_date : datetime.date
        The version's date in the model file (the latest one on or before ``step_date``).
    step_date : datetime.date
        The first step on or after it: the plan trades toward the new core from this step.
    setup : ClientSetup
        The client's setup with the new core as its target (``target`` and ``completion``
        replaced; everything else shared).
    dropped, added : tuple[str, ...]
        The completion sleeve's names that leave it and that join it at this update
        (against the core before it), sorted.
    """

    model_date: dt.date
    step_date: dt.date
    setup: ClientSetup
    dropped: tuple[str, ...] = ()
    added: tuple[str, ...] = ()

    @property
    def completion_change(self) -> str:
        """The completion sleeve's change in words: ``"MU out, CHTR in"`` (or none)."""
        if not self.dropped and not self.added:
            return "no stock changed"
        parts = [f"{', '.join(self.dropped)} out" if self.dropped else "",
                 f"{', '.join(self.added)} in" if self.added else ""]
        return ", ".join(p for p in parts if p)

    @property
    def note(self) -> str:
        """What the step's note says about the update (in the client's words)."""
        n = int(self.setup.target.names)
        return (f"the manager's model changed on {self.model_date:%Y-%m-%d}: from "
                f"{self.step_date:%Y-%m-%d} the plan moves to the new core ({n} stocks)")


def core_updates(setup: ClientSetup, dates: Sequence[dt.date]) -> tuple[CoreUpdate, ...]:
    """The model updates of an active + index core at a plan's step dates.

    Parameters
    ----------
    setup : ClientSetup
        The client at ``dates[0]`` (its core is the version in force then).
    dates : Sequence[datetime.date]
        The plan's step dates, the first being the client's date.

    Returns
    -------
    tuple[CoreUpdate, ...]
        One per step at which a newer version of the model is in force than at the step
        before (several versions between two steps: the latest); empty for a client
        without an active + index core or without a version dated inside the horizon.

    Raises
    ------
    BenchmarkFileError
        For any problem in the model file.
    """
    comp = setup.completion
    core = getattr(setup.client.profile, "core", None)
    if comp is None or core is None or len(dates) < 2:
        return ()
    versions = active_model_dates(str(core.active_model))

    def in_force(day: dt.date) -> dt.date | None:
        return max((d for d in versions if d <= day), default=None)

    out = []
    prev = in_force(dates[0])
    names = comp.completion[comp.completion > 0].index  # the sleeve's names before the update
    buyable = setup.eligibility.buyable()
    for day in dates[1:]:
        now = in_force(day)
        if now == prev or now is None:
            continue
        prev = now
        new = completion_for_profile(setup.client.profile, day, setup.benchmark.weights,
                                     setup.risk, buyable, setup.account_size,
                                     names=comp.max_names,
                                     preserve_bets=comp.preserve_bets,
                                     reasons=setup.eligibility.not_buyable(),
                                     held=names, fixed=comp.fixed)
        now_held = new.completion[new.completion > 0].index
        gone, joined = sorted(set(names) - set(now_held)), sorted(set(now_held) - set(names))
        names = now_held
        tgt = core_target(new, day, setup.benchmark.name, setup.risk, setup.benchmark.weights)
        out.append(CoreUpdate(now, day, replace(setup, target=tgt, completion=new),
                              tuple(gone), tuple(joined)))
    return tuple(out)
