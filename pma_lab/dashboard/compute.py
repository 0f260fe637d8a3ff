"""The dashboard's calls into the engine, with the caches that keep an update quick.

Nothing here is new domain logic: every number comes from the public engine functions
(:func:`~pma_lab.engine.prepare`, :func:`~pma_lab.engine.problem_for_client`,
:func:`~pma_lab.frontier.efficient_frontier`, :func:`~pma_lab.transition.first_trades`,
:func:`~pma_lab.transition.run_transition`), so the dashboard shows exactly what the CLI,
the notebooks and the reports show for the same inputs.

What is cached:

* the packaged market data (loaded once per engine);
* the risk model, per as-of date (the expensive part of ``prepare``);
* the :class:`~pma_lab.engine.ClientSetup`, per client *fingerprint* (profile, lots,
  recent trades and restrictions, see :func:`client_key`);
* the frontier per setup, and the first-year trades and the transition analysis per
  (setup, plan).

Each cache is a small LRU so a long session does not grow without bound.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from pma_lab.client import Client
from pma_lab.engine import ClientSetup, prepare, problem_for_client
from pma_lab.frontier import Frontier, efficient_frontier
from pma_lab.market import MarketData, load_market
from pma_lab.profile import Restrictions
from pma_lab.rebalance import RebalanceResult
from pma_lab.risk import RiskModel
from pma_lab.transition import (
    TransitionAnalysis,
    TransitionSettings,
    first_trades,
    parse_plan,
    run_transition,
)

__all__ = ["DashboardSettings", "ProposalEngine", "client_key", "with_restrictions"]


@dataclass(frozen=True)
class DashboardSettings:
    """How much work one dashboard update does.

    Attributes
    ----------
    gammas : tuple[float, ...]
        Tax aversions of the frontier sweep (few points keep an update quick; the two ends,
        "do nothing" and "go to target", are always added by the engine).
    horizon_years : int
        Transition horizon (years).
    steps_per_year : int
        Transition steps per year (1 = annual).
    reference_plans : tuple[str, ...]
        Plans always shown next to the chosen one (``hold`` is always added by the engine).
    cache_size : int
        Entries kept in each LRU cache.
    """

    gammas: tuple[float, ...] = tuple(float(g) for g in np.logspace(1.0, -3.0, 7))
    horizon_years: int = 3
    steps_per_year: int = 1
    reference_plans: tuple[str, ...] = ("immediate",)
    cache_size: int = 16

    def transition_settings(self) -> TransitionSettings:
        """The engine's transition settings (one process: the kernel serves one user)."""
        return TransitionSettings(horizon_years=self.horizon_years,
                                  steps_per_year=self.steps_per_year, workers=1)

    def plans(self, plan: str) -> list[str]:
        """The chosen plan first, then the reference plans not equal to it."""
        return [plan] + [p for p in self.reference_plans if p != plan]


def with_restrictions(client: Client, restrictions: Restrictions | None) -> Client:
    """The client with its profile's restrictions replaced (``None``: unchanged)."""
    if restrictions is None or restrictions == client.profile.restrictions:
        return client
    return replace(client, profile=replace(client.profile, restrictions=restrictions))


def client_key(client: Client) -> str:
    """A fingerprint of everything in ``client`` that the engine reads.

    Two clients with the same profile (including restrictions), lots, recent trades and
    as-of date have the same key, whichever file they were read from.
    """
    h = hashlib.sha256()
    prof = replace(client.profile, warnings=())
    h.update(repr(prof).encode())
    h.update(str(client.as_of).encode())
    lots = client.lots.lots.drop(columns=["source_file", "source_row"], errors="ignore")
    h.update(pd.util.hash_pandas_object(lots, index=False).to_numpy().tobytes())
    if client.recent_trades is not None:
        h.update(repr(client.recent_trades.trades).encode())
    return h.hexdigest()[:20]


class _LRU:
    """A tiny thread-safe LRU mapping."""

    def __init__(self, size: int):
        self.size = size
        self._d: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
            return None

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._d

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()


@dataclass
class ProposalEngine:
    """Cached engine calls for one dashboard (one kernel, one user).

    Parameters
    ----------
    settings : DashboardSettings
    market : MarketData | None
        The market data (default: loaded on first use).

    Attributes
    ----------
    calls : dict[str, int]
        How many times each engine call actually ran (cache misses), for tests and the
        status line.
    """

    settings: DashboardSettings = field(default_factory=DashboardSettings)
    market: MarketData | None = None
    calls: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.settings.cache_size
        self._risk: dict = {}
        self._setups = _LRU(n)
        self._frontiers = _LRU(n)
        self._trades = _LRU(4 * n)
        self._transitions = _LRU(4 * n)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ helpers
    def _count(self, what: str) -> None:
        self.calls[what] = self.calls.get(what, 0) + 1

    def _market(self) -> MarketData:
        if self.market is None:
            self.market = load_market()
        return self.market

    def key(self, client: Client) -> str:
        """The cache key of a client (see :func:`client_key`)."""
        return client_key(client)

    def is_cached(self, client: Client, plan: str) -> bool:
        """True when every result for ``client`` and ``plan`` is already cached."""
        k = self.key(client)
        return (k in self._setups and k in self._frontiers and (k, plan) in self._trades
                and (k, plan) in self._transitions)

    def clear(self) -> None:
        """Forget every cached result (the risk models and market data stay)."""
        for c in (self._setups, self._frontiers, self._trades, self._transitions):
            c.clear()

    def _cached(self, cache: _LRU, key: Hashable, what: str,
                make: Callable[[], object]) -> tuple[object, bool]:
        hit = cache.get(key)
        if hit is not None:
            return hit, True
        with self._lock:
            hit = cache.get(key)
            if hit is not None:
                return hit, True
            value = make()
            self._count(what)
            cache.put(key, value)
            return value, False

    # ------------------------------------------------------------------ stages
    def risk_for(self, client: Client) -> RiskModel | None:
        """The cached risk model at the client's date, if one was estimated."""
        return self._risk.get(client.as_of)

    def setup(self, client: Client) -> tuple[ClientSetup, bool]:
        """``prepare(client)``, sharing the risk model across clients at the same date.

        Returns the setup and whether it came from the cache.
        """
        def make() -> ClientSetup:
            s = prepare(client, market=self._market(), risk=self._risk.get(client.as_of))
            self._risk.setdefault(client.as_of, s.risk)
            return s

        return self._cached(self._setups, self.key(client), "prepare", make)  # type: ignore[return-value]

    def frontier(self, client: Client, setup: ClientSetup) -> tuple[Frontier, bool]:
        """The tax vs tracking-error frontier of the first taxable account."""
        def make() -> Frontier:
            return efficient_frontier(problem_for_client(setup),
                                      gammas=list(self.settings.gammas))

        return self._cached(self._frontiers, self.key(client), "frontier", make)  # type: ignore[return-value]

    def first_year(self, client: Client, setup: ClientSetup, plan: str
                   ) -> tuple[RebalanceResult, bool]:
        """The trades the plan makes today (its first step)."""
        def make() -> RebalanceResult:
            # parsed as run_transition parses plan text: with the profile's annual gift
            prof = setup.client.profile
            gift = prof.charity.annual_gift if prof.charity else 0.0
            return first_trades(setup, parse_plan(plan, gift),
                                self.settings.transition_settings())

        return self._cached(self._trades, (self.key(client), plan), "first_trades", make)  # type: ignore[return-value]

    def transition(self, client: Client, setup: ClientSetup, plan: str
                   ) -> tuple[TransitionAnalysis, bool]:
        """The plan against the reference plans and holding, on the expected path."""
        def make() -> TransitionAnalysis:
            return run_transition(setup, self.settings.plans(plan),
                                  self.settings.transition_settings())

        return self._cached(self._transitions, (self.key(client), plan), "transition", make)  # type: ignore[return-value]


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """Call ``fn`` and return its result and the wall time in seconds."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0
