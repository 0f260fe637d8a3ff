"""Wire a client's inputs to the engine: benchmark, risk model, screens, target, ledger.

:func:`prepare` does the expensive, shared work once per client and date (estimate the
risk model, build the S&P 500 proxy, apply the client's screens, build the N-name target,
load the household ledger, price everything); the rebalance, the frontier, the transition
analysis and the proposal all start from the resulting :class:`ClientSetup`, so every
front end shows the same numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from pma_lab.accounts import account_kind, profile_account_names
from pma_lab.errors import DataError, SettingsError
from pma_lab.io.client import Client
from pma_lab.io.holdings import prices_at
from pma_lab.market.benchmark import PROXY_NAME, Benchmark, client_benchmark, sp500_proxy
from pma_lab.market.data import MarketData, load_market
from pma_lab.optimize.rebalance import (
    AccountState,
    Budgets,
    RebalanceProblem,
    RebalanceResult,
    RebalanceSettings,
    account_state,
)
from pma_lab.portfolio.completion import CompletionResult, completion_for_profile, core_target
from pma_lab.portfolio.keep import KEPT_BELOW_FIX, kept_below_today, kept_below_words
from pma_lab.portfolio.risk import RiskModel, estimate_risk_model
from pma_lab.portfolio.screens import Eligibility, apply_screens
from pma_lab.portfolio.target import Target, TargetBuilder, TargetSizing, names_for_account
from pma_lab.tax.ledger import AccountType, Ledger, Lot

__all__ = ["ClientSetup", "prepare", "default_settings", "rebalance_client", "covered_proxy_name",
           "problem_for_client", "account_state_for", "managed_risk", "with_min_cash",
           "kept_weights_today", "kept_below_today", "kept_below_words", "KEPT_BELOW_FIX"]


@dataclass(frozen=True)
class ClientSetup:
    """A client ready for the optimizer at one date.

    Attributes
    ----------
    client : Client
    as_of : datetime.date
    benchmark : Benchmark
        The client's benchmark (``target.benchmark_file``, else the S&P 500 proxy),
        restricted to names the risk model covers.
    risk : RiskModel
    eligibility : Eligibility
        The client's screens applied to the universe.
    target : Target
        The N-name target (tracking the unrestricted benchmark), built around the keep
        list's holdings at today's weights (:data:`KEEP_LIST_NEVER_SOLD`, counted among
        the N names; ``target.diagnostics["fixed"]``). For an active + index
        core (``[core] equity_sleeve = "active_index"``) the core itself: the active model
        at its share plus the completion sleeve, chosen around the kept holdings
        (:func:`pma_lab.portfolio.completion.core_target`). A target given to
        :func:`prepare` holds the kept names at today's weights and its other names scaled
        to the rest (``target.diagnostics["kept_around"]`` says which: ``"completion"``,
        ``"given"``; absent for a built target).
    account_size : float
        USD used for the name count (:func:`~pma_lab.portfolio.target.names_for_account`):
        the profile's ``target.account_size``; else, for a household of two or more
        accounts, the household's total investable value (every account's lots at the
        date's prices plus its cash: one target for the household, which
        :func:`~pma_lab.optimize.household.household_for_client` rebalances across every
        account); else the value of the taxable account (lots plus cash).
    ledger : Ledger
        The household ledger at the date.
    prices : pd.Series
        Prices at the date for every model stock and every held asset.
    market : MarketData
    sectors : pd.Series
        GICS sector per model ticker.
    completion : CompletionResult | None
        An active + index core's completion sleeve, solved once here (the name count of
        the completion sleeve's dollars); the target is its total. ``None`` for every
        other client and when a target is given to :func:`prepare`.
    size_accounts : tuple[tuple[str, float], ...]
        What ``account_size`` was summed from: ``(account id, USD)`` for each account
        counted (lots at the date's prices plus cash), in profile order; empty when the
        profile's ``target.account_size`` set it
        (:func:`pma_lab.report.labels.target_sizing` says it in words).
    """

    client: Client
    as_of: dt.date
    benchmark: Benchmark
    risk: RiskModel
    eligibility: Eligibility
    target: Target
    account_size: float
    ledger: Ledger
    prices: pd.Series
    market: MarketData = field(repr=False)
    sectors: pd.Series = field(repr=False, default_factory=pd.Series)
    completion: CompletionResult | None = field(repr=False, default=None)
    size_accounts: tuple[tuple[str, float], ...] = ()

    @property
    def sizing(self) -> TargetSizing:
        """What the target's name count was sized on (the front ends say it in words)."""
        kind = {a.account_id: account_kind(a) for a in self.client.profile.accounts}
        named = profile_account_names(self.client.profile.accounts)
        return TargetSizing(int(self.target.names), float(self.account_size),
                            self.size_accounts,
                            tuple(kind.get(a, "") for a, _ in self.size_accounts),
                            tuple(named.get(a, a) for a, _ in self.size_accounts))

    def taxable_accounts(self) -> list[str]:
        """Taxable accounts of the household, in profile order."""
        return [a.account_id for a in self.client.profile.accounts
                if a.account_type is AccountType.TAXABLE]



def covered_proxy_name(covered: int, members: int, weight: float) -> str:
    """The S&P 500 proxy's name when a researcher's own risk model covers part of it.

    :func:`prepare` restricts the proxy to the names the risk model covers and rescales
    their weights to one (a tracking error needs every benchmark name modelled); the name
    says how much of the index is left, so no proposal, dashboard or command line calls
    the rescaled remainder "S&P 500".

    Examples
    --------
    >>> covered_proxy_name(80, 463, 0.7312)
    'S&P 500 proxy over the 80 of 463 names your risk model covers (73.1% of its weight)'
    """
    return (f"{PROXY_NAME} over the {covered} of {members} names your risk model covers "
            f"({weight:.1%} of its weight)")

def prepare(client: Client, *, market: MarketData | None = None, names: int | None = None,
            risk: RiskModel | None = None, benchmark: Benchmark | None = None,
            target: Target | pd.Series | None = None) -> ClientSetup:
    """Build everything the engine needs for ``client`` at ``client.as_of``.

    Each model can be replaced by one of the researcher's own (the plug-in points); what
    is not given is built from the packaged data.

    Parameters
    ----------
    client : Client
    market : MarketData | None
        Prices and the universe (default: the packaged data, :func:`load_market`).
    names : int | None
        Overrides the profile's name count and the account-size table.
    risk : RiskModel | None
        A risk model at the client's date: estimated once and shared across clients, or
        the researcher's own (:meth:`RiskModel.from_covariance`,
        :meth:`RiskModel.from_factors`; an undated one is taken as of the client's date).
        Default: :func:`estimate_risk_model`.
    benchmark : Benchmark | None
        The benchmark the target tracks (:meth:`Benchmark.from_weights`); every name in it
        must be covered by the risk model. Default: the S&P 500 proxy restricted to the
        names the risk model covers.
    target : Target | pd.Series | None
        The target portfolio, instead of the one built from the benchmark and the client's
        screens and name count: a :class:`Target` or weights by ticker (>= 0, summing to 1,
        covered by the risk model and buyable under the client's screens). It also replaces
        an active + index core (``completion`` is then ``None``). The keep list's holdings
        (``hold_no_add``, never sold nor added to) are held at today's weights and the
        given target's other names scaled in proportion to the rest; a kept name the
        target holds at less than today's weight is a DataError.

    An active + index core client (``[core] equity_sleeve = "active_index"``) gets its core
    as the target: the active model in force at the date, held at ``active_share``, plus a
    completion sleeve of at most the name count its own dollars call for
    (:func:`pma_lab.portfolio.completion.completion_names`; ``names`` or the profile's
    ``[target] names`` override it), solved once and carried as ``completion``.

    Returns
    -------
    ClientSetup

    Raises
    ------
    DataError
        When a model given is at another date than the client, or does not cover the
        names it must (the message lists them and says how to fix it).
    ModelFileError
        When a version of an active + index core's model file, the one in force at the
        client's date or a later one, names a stock the risk model does not cover (each
        row named, with its version's date and how to fix it).
    SettingsError
        When an argument is not of the type it must be (e.g. benchmark weights passed as a
        Series: the message says to wrap them with :meth:`Benchmark.from_weights`).
    """
    _check_plugins(client, market, names, risk, benchmark, target)
    m = market if market is not None else load_market()
    day = client.as_of
    rm = risk or estimate_risk_model(day, market=m)
    if rm.as_of is None:
        rm = replace(rm, as_of=day)
    if rm.as_of != day:
        raise DataError(f"the risk model is as of {rm.as_of}, the client as of {day}; "
                        "estimate it at the client's date or pass an undated model")
    covered = set(rm.tickers)
    prof = client.profile
    if benchmark is None and getattr(prof.target, "benchmark_file", None) is None:
        proxy = sp500_proxy(day, m)
        bench = proxy.restricted_to(rm.tickers)
        if len(bench.weights) < len(proxy.weights):
            # a model covering part of the index (a researcher's own; the packaged one
            # covers every member): the proxy is rescaled to the names it covers, and its
            # name says so wherever it is shown
            bench = replace(bench, name=covered_proxy_name(
                len(bench.weights), len(proxy.weights),
                float(proxy.weights.reindex(bench.weights.index).sum())))
    elif benchmark is None:
        # the profile's benchmark weights file: every name must be covered, never rescaled
        bench = client_benchmark(prof, day, m)
        _require_covered(f"benchmark {bench.name!r}", bench.weights, covered)
    else:
        bench = benchmark if benchmark.as_of is not None else replace(benchmark, as_of=day)
        if bench.as_of != day:
            raise DataError(f"the benchmark {bench.name!r} is as of {bench.as_of}, the client "
                            f"as of {day}; pass weights at the client's date")
        _require_covered(f"benchmark {bench.name!r}", bench.weights, covered)
    elig = apply_screens(m.universe.frame(), prof.target_restrictions())
    sectors = m.universe.sectors()
    lots = client.lots.lots
    held = sorted(set(lots.ticker))
    prices = prices_at(m, sorted(covered | set(held)), day)
    # the name count follows the size of what is managed: a household of two or more
    # accounts has one target for every account (the household rebalance), so its total
    # investable value; one account: its value; a profile may set account_size explicitly
    by_account = _by_account(prof, lots, prices)
    taxable = {a.account_id for a in prof.accounts if a.account_type is AccountType.TAXABLE}
    counted = (by_account if len(by_account) > 1 else
               tuple(v for v in by_account if v[0] in taxable))
    if not sum(v for _, v in counted) > 0:
        counted = by_account
    size = prof.target.account_size or sum(v for _, v in counted)
    if prof.target.account_size:
        counted = ()
    buyable = set(elig.buyable())
    core = getattr(prof, "core", None)
    comp = None
    # the keep list at today's weights of what the target manages: every kind of target
    # (built, an active + index core, given) holds it as it is and is built around it
    managed = by_account if len(by_account) > 1 else counted or by_account
    kept = _kept_weights(prof, elig, lots, prices, managed, covered)
    if target is None and core is not None and core.equity_sleeve == "active_index":
        _check_active_model(core.active_model, day, rm, m, own_risk=risk is not None)
        comp = completion_for_profile(prof, day, bench.weights, rm, buyable, size, names,
                                      reasons=elig.not_buyable(), fixed=kept)
        tgt = core_target(comp, day, bench.name, rm, bench.weights)
    elif target is None:
        n = names or prof.target.names or names_for_account(size)
        eligible = [t for t in bench.weights.index if t in buyable]
        # kept in this process for the next client with the same inputs (a batch kernel)
        with TargetBuilder.kept(rm, bench, sectors, fixed=kept) as tb:
            tgt = tb.build(eligible, n, dict(prof.restrictions.sector_max_weight),
                           dict(prof.restrictions.sector_tilts))
    else:
        tgt = _given_target(target, rm, bench, buyable, day, kept)
    return ClientSetup(client, day, bench, rm, elig, tgt, size, client.ledger(), prices,
                       m, sectors, comp, counted)


def _by_account(prof: object, lots: pd.DataFrame, prices: pd.Series
                ) -> tuple[tuple[str, float], ...]:
    """Each account and its value at ``prices``: its lots and its cash."""
    mv = lots.shares * lots.ticker.map(prices)
    return tuple((a.account_id, float(mv[lots.account == a.account_id].sum()) + a.cash)
                 for a in prof.accounts)  # type: ignore[attr-defined]


def kept_weights_today(client: Client, eligibility: Eligibility, market: MarketData,
                       covered: Collection[str] | None = None) -> dict[str, float]:
    """The keep list's weights today, as :func:`prepare` holds them in every target.

    ``covered``: the risk model's names (``None``: every name held). For a target
    weights file read with its client (:func:`pma_lab.io.models.read_models`), which
    :func:`kept_below_today` then checks by the rule :func:`prepare` applies to a target
    given to it.
    """
    lots = client.lots.lots
    held = sorted(set(lots.ticker))
    if not held or not _kept(client.profile.restrictions, eligibility):
        return {}
    prices = prices_at(market, held, client.as_of)
    return _kept_weights(client.profile, eligibility, lots, prices,
                         _by_account(client.profile, lots, prices),
                         set(held) if covered is None else set(covered))


def _kept_weights(prof: object, elig: object, lots: pd.DataFrame, prices: pd.Series,
                  managed: Sequence[tuple[str, float]], covered: set[str]) -> dict[str, float]:
    """The keep list's weights today, which the target holds as they are.

    With :data:`KEEP_LIST_NEVER_SOLD` the keep list (``hold_no_add``) is never sold nor
    added to, so the target is built around it: each kept name the risk model covers at its
    share of what the target manages (``managed``: the accounts and their values, cash
    included), the other names chosen to track the benchmark with the rest
    (:class:`~pma_lab.portfolio.target.TargetBuilder`'s ``fixed``). Empty without the flag,
    a keep list, or kept shares held.
    """
    keep = _kept(prof.restrictions, elig)  # type: ignore[attr-defined]
    if not keep:
        return {}
    accounts = {a for a, _ in managed}
    total = sum(v for _, v in managed)
    rows = lots[lots.ticker.isin(keep & covered) & lots.account.isin(accounts)]
    if rows.empty or not total > 0:
        return {}
    value = (rows.shares * rows.ticker.map(prices)).groupby(rows.ticker).sum()
    return {str(t): float(v) / total for t, v in value.items() if v > 0}


def _check_active_model(path: object, day: dt.date, rm: RiskModel, m: MarketData,
                        own_risk: bool) -> None:
    """Every version of the core's model the client may hold is covered by ``rm``.

    Raises :class:`~pma_lab.errors.ModelFileError` naming each row (file, row, ticker
    column, version date, why, fix) now, rather than a plan failing at a later version
    (:func:`pma_lab.io.models.check_active_model`).
    """
    from pma_lab.io.models import check_active_model
    from pma_lab.portfolio.risk import not_modelled

    def why(tickers: list[str]) -> dict[str, str]:
        if own_risk:
            return {t: "it is not in the risk model given" for t in tickers}
        return not_modelled(day, tickers, m, rm.settings)

    check_active_model(str(path), day, rm.tickers, why)


_PLUGIN_FIX = {
    "client": "load it with pma_lab.load_client(path_to_profile_toml)",
    "market": "pass pma_lab.load_market() or pma_lab.MarketData.from_frames(prices, universe)",
    "risk": "wrap a covariance with pma_lab.RiskModel.from_covariance(tickers, cov) or a "
            "factor model with pma_lab.RiskModel.from_factors(tickers, loadings, factor_cov, "
            "specific_var)",
    "benchmark": "wrap weights by ticker with pma_lab.Benchmark.from_weights(weights)",
    "target": "pass a Target, or weights by ticker (a pandas Series or a dict, >= 0, "
              "summing to 1)",
}


def _check_plugins(client: object, market: object, names: object, risk: object,
                   benchmark: object, target: object) -> None:
    """The arguments of :func:`prepare` are of the plug-in types, or a SettingsError says how."""
    expected = {"client": (client, (Client,)), "market": (market, (MarketData,)),
                "risk": (risk, (RiskModel,)), "benchmark": (benchmark, (Benchmark,)),
                "target": (target, (Target, pd.Series, dict))}
    for arg, (value, types) in expected.items():
        if (value is not None or arg == "client") and not isinstance(value, types):
            raise SettingsError(f"prepare({arg}=<{type(value).__name__}>): {arg} must be a "
                                f"{' or '.join(t.__name__ for t in types)}; "
                                f"{_PLUGIN_FIX[arg]}")
    if names is not None and (isinstance(names, bool) or not isinstance(names, int)
                              or names < 1):
        raise SettingsError(f"prepare(names={names!r}): names must be a whole number >= 1 "
                            "(the target's name count) or None for the profile's")


def _require_held_modelled(setup: ClientSetup, account_id: str,
                           exclude: set[str]) -> None:
    """Every stock held in the account is in the risk model (funds go by look-through).

    The state would refuse the first such name with no fix; this lists them all and says
    how (a researcher's own risk model must cover what the account may sell).
    """
    led = setup.ledger
    held = {lt.ticker for lt in led.lots(account=account_id)} - exclude
    funds = set(setup.market.etf_info().ticker)
    out = sorted(held - set(setup.risk.tickers) - funds)
    if out:
        raise DataError(f"the risk model does not cover {len(out)} stock(s) held in account "
                        f"{account_id} ({', '.join(out[:10])}{' ...' if len(out) > 10 else ''})"
                        "; a rebalance must model what it may sell: add them to your risk "
                        "model (RiskModel.from_covariance / from_factors, then prepare(client, "
                        "risk=...)), or leave risk=None for the packaged estimate (a stock "
                        "without two years of prices is not in it: sell or transfer it "
                        "outside the managed account)")


def _require_covered(what: str, weights: pd.Series, covered: set[str]) -> None:
    out = sorted(t for t, w in weights.items() if w != 0 and t not in covered)
    if out:
        raise DataError(f"the {what} holds {len(out)} names the risk model does not cover "
                        f"({', '.join(out[:10])}{' ...' if len(out) > 10 else ''}); add them "
                        "to the risk model or remove them from the weights (they are not "
                        "dropped and rescaled silently)")


def _given_target(target: Target | pd.Series, rm: RiskModel, bench: Benchmark,
                  buyable: set[str], day: dt.date,
                  kept: Mapping[str, float] | None = None) -> Target:
    """A researcher's target, checked like a benchmark and against the screens.

    With a keep list held (``kept``: :func:`_kept_weights`, today's weights) the target is
    built around it, as a built target is: each kept name at today's weight, the given
    target's other names scaled in proportion to the rest (:func:`_around_kept`).
    """
    kept = dict(kept or {})
    if isinstance(target, Target):
        weights = target.weights
    else:
        weights = Benchmark.from_weights(pd.Series(target, dtype=float), as_of=day,
                                         name="target", known=set(rm.tickers),
                                         source="target weights").weights
    _require_covered("target", weights, set(rm.tickers))
    # a kept name may be in the target (never added to: held at today's weight)
    banned = sorted(t for t, w in weights.items() if w > 0 and t not in buyable
                    and t not in kept)
    if banned:
        raise DataError(f"the target holds names the client's screens exclude "
                        f"({', '.join(banned[:10])}); remove them from the target or change "
                        "the profile's [restrictions]")
    if kept:
        return _around_kept(target, weights, kept, rm, bench, day)
    if isinstance(target, Target):
        return target
    w = weights[weights > 0]
    return Target(day, w, rm.tracking_error(w, bench.weights), len(w), None, bench.name,
                  "given", {})


def _around_kept(target: Target | pd.Series, weights: pd.Series, kept: Mapping[str, float],
                 rm: RiskModel, bench: Benchmark, day: dt.date) -> Target:
    """A given target around the keep list: kept names at today's weights, the rest scaled.

    The keep list is never sold nor added to, so each kept name is held at today's weight
    (``kept``) whatever the target gives it, and the target's other names keep their
    proportions in what is left (``1 - sum(kept)``). A kept name the target holds at less
    than today's weight cannot be honoured (it would have to be sold): a DataError names
    it, both weights and the fixes. ``diagnostics["fixed"]`` lists the kept weights and
    ``diagnostics["kept_around"]`` is ``"given"`` (the words say the rest was scaled).

    Raises
    ------
    DataError
        When a kept name's weight today is above the target's weight for it, or the kept
        names leave nothing for the target's other names.
    """
    over = kept_below_today(weights, kept)
    if over:
        said = "; ".join(kept_below_words(*o) for o in over)
        raise DataError(f"the target cannot hold your keep list as it is ({said}): a kept "
                        f"name is never sold, so its weight is fixed at today's; "
                        f"{KEPT_BELOW_FIX}")
    share = float(sum(kept.values()))
    rest = weights.drop([t for t in kept if t in weights.index])
    rest = rest[rest > 0]
    if not share < 1.0 - 1e-9 or rest.sum() <= 0:
        raise DataError(f"the keep list ({', '.join(sorted(kept))}) is {share:.2%} of what "
                        "is managed today and the target's other names would get nothing; "
                        "give the target names outside the keep list, or take names off "
                        "[restrictions] hold_no_add in the profile")
    w = pd.concat([pd.Series(kept, dtype=float), rest / float(rest.sum()) * (1.0 - share)])
    w = w.sort_values(ascending=False, kind="stable")
    te = rm.tracking_error(w, bench.weights)
    if isinstance(target, Target):
        return replace(target, weights=w, tracking_error=te, names=int(len(w)),
                       diagnostics={**target.diagnostics, "fixed": dict(kept),
                                    "kept_around": "given"})
    return Target(day, w, te, int(len(w)), None, bench.name, "given",
                  {"fixed": dict(kept), "kept_around": "given"})


def default_settings(setup: ClientSetup, **overrides: object) -> RebalanceSettings:
    """Rebalance settings from the client's profile, with overrides.

    The gain budgets come from ``[budgets]``; whole shares, the minimum trade and the
    wash-sale mode from ``[trading]`` (default: whole shares, $250, ``"forbid"``), so every
    trade list the engine makes
    (rebalance, frontier points, the transition's trades) goes through
    :meth:`~pma_lab.optimize.rebalance.RebalanceProblem.round_shares`' rules.
    """
    prof = setup.client.profile
    b = prof.budgets
    base = RebalanceSettings(budgets=Budgets(b.total, b.short_term, b.long_term, "gain"),
                             min_trade=prof.trading.min_trade_usd,
                             whole_shares=not prof.trading.fractional_shares,
                             wash_sale_mode=prof.trading.wash_sale_mode)
    return RebalanceSettings(**{**base.__dict__, **overrides})


def with_min_cash(setup: ClientSetup, account_id: str, settings: RebalanceSettings,
                  state: AccountState, *, can_sell: bool = True) -> RebalanceSettings:
    """``settings`` with the account's minimum cash (``[[accounts]] min_cash``) as its cash target.

    The single-account engine keeps ``cash_target`` x the account's value in cash after
    the trade, so the profile's USD floor is ``min_cash / state.value`` at this rebalance
    (after any flow the state carries). A cash target already set (the CLI's
    ``--cash-target``, a researcher's settings) is kept. ``can_sell=False`` (a plan that
    never sells): the floor is what the cash available covers, the rest is invested.

    Raises
    ------
    InfeasibleError
        When the floor is not below the account's value (naming the account, the floor,
        the value and the profile key to change).
    """
    spec = next((a for a in setup.client.profile.accounts if a.account_id == account_id),
                None)
    floor = float(getattr(spec, "min_cash", 0.0) or 0.0)
    if floor <= 0 or settings.cash_target > 0:
        return settings
    if floor >= state.value:
        from pma_lab.accounts import min_cash_conflict

        raise min_cash_conflict("rebalance", [(account_id, floor, state.value, state.cash)],
                                state.as_of, setup.client.profile.path)
    if not can_sell:
        floor = min(floor, max(state.cash + state.contribution, 0.0))
    return replace(settings, cash_target=floor / state.value)


def managed_risk(setup: ClientSetup, held: set[str]) -> RiskModel:
    """The risk model restricted to the names a rebalance can touch: held or in the target.

    Buys are limited to the target's names, so every other name has zero active weight and
    drops out of the tracking variance exactly; the smaller problem compiles and solves
    several times faster. When a fund is held (a name ``held`` the risk model does not
    cover), the benchmark's names are kept too: an S&P 500 tracker holds every one of them
    (:func:`~pma_lab.optimize.state._lookthrough`), so they carry active weight.
    """
    model = set(setup.risk.tickers)
    keep = set(setup.target.weights.index) | (held & model)
    if held - model:
        keep |= set(setup.benchmark.weights.index[setup.benchmark.weights > 0])
    return setup.risk.subset([t for t in setup.risk.tickers if t in keep])


@dataclass(frozen=True)
class _HeldRules:
    """What the client's restrictions make of one account's holdings, from the setup alone.

    ``must``: names to sell now; ``glide``: names to sell within N years (N by name);
    ``no_buy``: names not to buy (beyond ``must``); ``today``: shares of each glide name the
    account holds today (the glide's straight line starts from them); ``keep``: the
    ``hold_no_add`` names no stricter restriction catches (never sold, never bought: the
    client keeps them as they are, e.g. an employer's stock). Computed once per
    account (:meth:`of`) and passed to :func:`account_state_for` at every step of a
    transition, instead of being derived again from the eligibility table each time.
    """

    must: frozenset[str]
    glide: Mapping[str, float]
    no_buy: frozenset[str]
    today: Mapping[str, float]
    keep: frozenset[str] = frozenset()

    @classmethod
    def of(cls, setup: ClientSetup, account_id: str) -> _HeldRules:
        """The rules of ``account_id`` under ``setup``'s profile.

        Kept beside the setup's frozen fields, per account, with the keep-list rule
        (:data:`KEEP_LIST_NEVER_SOLD`), the eligibility and the ledger they were read from
        and its state (:meth:`~pma_lab.tax.ledger.Ledger.state_token`): a transition
        asks for them once per plan compared, and every other read is computed again.
        """
        key = (KEEP_LIST_NEVER_SOLD, setup.ledger.state_token())
        kept = setup.__dict__.get("_held_rules")
        if kept is None:
            kept = {}
            object.__setattr__(setup, "_held_rules", kept)
        got = kept.get(account_id)
        if got is not None and got[0] is setup.eligibility and got[1] is setup.ledger \
                and got[2] == key:
            return got[3]
        rules = cls._read(setup, account_id)
        kept[account_id] = (setup.eligibility, setup.ledger, key, rules)
        return rules

    @classmethod
    def _read(cls, setup: ClientSetup, account_id: str) -> _HeldRules:
        """:meth:`of`, read from the setup."""
        r = setup.client.profile.restrictions
        elig = setup.eligibility.table.set_index("ticker")
        must = set(elig.index[elig.must_sell])
        glide = {t: float(n) for t, n in elig.sell_within_years.dropna().items()}
        never = r.held_action("never_hold")
        for t in set(r.never_hold) - set(elig.index):  # not in the universe (e.g. a fund)
            if never.action == "sell":
                must.add(t)
            else:
                glide[t] = float(never.years or 0)
        no_buy = (set(elig.index[~elig.can_buy]) | set(glide)) - must
        # the account's own [[accounts]] no_buy list (as the household optimiser reads it)
        no_buy |= {t for a in setup.client.profile.accounts if a.account_id == account_id
                   for t in a.no_buy} - must
        today: dict[str, float] = {}
        for lt in setup.ledger.lots(account=account_id):
            if lt.ticker in glide:
                today[lt.ticker] = today.get(lt.ticker, 0.0) + float(lt.shares)
        keep = keep_names(setup) - must - set(glide)
        return cls(frozenset(must), glide, frozenset(no_buy), today, frozenset(keep))


KEEP_LIST_NEVER_SOLD = True
"""Whether the keep list (``hold_no_add``) is never sold (True, the default) or only never
added to and not force-sold (False: the optimiser may trim it to rebalance or harvest).

Session 22 made it never sold everywhere (:func:`keep_names`), then turned it off: the
target was built without the kept names, so a large kept position (the household sample's
AAPL) kept every plan's tracking error above the maintenance band. Session 23 builds the
target around the kept holdings (:func:`_kept_weights`: each at today's weight, the other
names chosen around it) and turns it on. The proposal, dashboard and CLI say which rule
applies.
"""


def keep_names(setup: ClientSetup) -> frozenset[str]:
    """The client's keep list as the engine applies it: the names never sold.

    Empty unless :data:`KEEP_LIST_NEVER_SOLD`. Then: the ``hold_no_add`` names no stricter
    restriction catches (a sell screen or glide wins: the eligibility table's
    ``hold_no_add`` flag), and those outside the universe. Every path that sells reads
    it: the rebalances (``no_sell``), the household, a plan's gifts and withdrawals, and
    the hold plan's Monte Carlo replay (reviewer 2, session 22).
    """
    return _kept(setup.client.profile.restrictions, setup.eligibility)


def _kept(restrictions: object, eligibility: object) -> frozenset[str]:
    """:func:`keep_names` from the profile's restrictions and the screens' eligibility.

    Read before a setup exists too (:func:`_kept_weights`). The set is kept on the
    eligibility object with the keep list it was made from (a transition reads it at every
    step of every plan, and each read walked the whole universe's tickers); an eligibility
    read with another keep list computes its own.
    """
    if not KEEP_LIST_NEVER_SOLD or not restrictions.hold_no_add:  # type: ignore[attr-defined]
        return frozenset()
    hold = tuple(restrictions.hold_no_add)  # type: ignore[attr-defined]
    got = eligibility.__dict__.get("_kept_names")
    if got is not None and got[0] == hold:
        return got[1]
    t = eligibility.table  # type: ignore[attr-defined]
    tickers = t["ticker"].tolist()
    kept = frozenset({x for x, on in zip(tickers, t["hold_no_add"].tolist(), strict=True) if on}
                     | (set(hold) - set(tickers)))
    object.__setattr__(eligibility, "_kept_names", (hold, kept))
    return kept


def _etf_info(setup: ClientSetup) -> pd.DataFrame:
    """``setup.market.etf_info()``, read once per setup and market (not to be changed).

    :func:`account_state_for` reads the fund table at every step of a transition (a copy
    of the packaged table each time); the state only reads it. Kept beside the setup's
    frozen fields with the market it came from (a setup given another market by
    :func:`dataclasses.replace` has no cache: it reads its own).
    """
    got = setup.__dict__.get("_etf_info")
    if got is None or got[0] is not setup.market:
        got = (setup.market, setup.market.etf_info())
        object.__setattr__(setup, "_etf_info", got)
    return got[1]


def account_state_for(setup: ClientSetup, account_id: str, *, ledger: Ledger | None = None,
                      as_of: dt.date | None = None, prices: pd.Series | None = None,
                      cash: float | None = None, contribution: float = 0.0,
                      no_sell: Sequence[str] = (), exclude: Sequence[str] = (),
                      risk: RiskModel | None = None, glide_years: float = 1.0,
                      divest: bool = True, rules: _HeldRules | None = None,
                      lots: Sequence[Lot] | None = None) -> AccountState:
    """The optimizer's view of one account with the client's restrictions.

    Every argument defaults to the setup's (today's ledger, date, prices and the account's
    cash); the transition simulator passes its own for each step. Restricted names held
    are treated as the profile's ``[restrictions.held]`` says (see
    :class:`~pma_lab.io.profile.HeldAction`): ``sell`` names must go now; a ``sell_within:N``
    name may keep at most ``1 - glide_years / N`` of the shares held today after this
    trade (``glide_years``: years from today at which the trade's holdings are judged, one
    year for a single rebalance, ``(k + 1) / steps_per_year`` at a transition's step
    ``k``); ``no_buy`` names are only not bought; ``hold_no_add`` names are neither sold
    nor bought (added to ``no_sell``: the client keeps them). With ``divest=False`` (the hold
    reference) no restricted name is sold; none is bought either. ``rules``: the
    account's :class:`_HeldRules` when the caller keeps them across calls (a transition's
    steps); by default derived here. ``lots``: the account's open lots as
    ``ledger.lots(account=account_id)`` gives them now, when the caller has them (a
    transition's step reads them once); by default read here.
    """
    prof = setup.client.profile
    r = prof.restrictions
    led = ledger or setup.ledger
    rules = rules or _HeldRules.of(setup, account_id)
    must = set(rules.must)
    glide = rules.glide
    no_buy = set(rules.no_buy)
    max_shares: dict[str, float] = {}
    if not divest:
        no_buy |= must
        must = set()
    else:
        for t, n0 in rules.today.items():
            left = 1.0 - glide_years / glide[t]
            if left <= 1e-9:
                must.add(t)
            else:
                max_shares[t] = n0 * left
    if cash is None:
        cash = next(a.cash for a in prof.accounts if a.account_id == account_id)
    if lots is None:
        lots = led.lots(account=account_id)
    rm = risk or managed_risk(setup, {lt.ticker for lt in lots})
    day = as_of or setup.as_of
    # the loss carried into the analysis year (ClientProfile.carryforward_into: the
    # profile's, refused when given for another year); a transition's step in a later
    # year leaves it out here (the plan's accounting and withdrawal rule chain it)
    carryin = prof.carryforward_into(day.year, f"the analysis date {setup.as_of}") \
        if day.year == setup.as_of.year else (0.0, 0.0)
    return account_state(led, account_id, day,
                         setup.prices if prices is None else prices, rm,
                         setup.target.weights, prof.tax, cash=cash, contribution=contribution,
                         sectors=setup.sectors, etf_info=_etf_info(setup),
                         no_buy=sorted(no_buy), must_sell=sorted(must),
                         hold_no_add=sorted(r.hold_no_add),
                         sector_limits=dict(r.sector_max_weight),
                         no_sell=sorted(set(no_sell) | rules.keep),
                         exclude=exclude, carryin=carryin, max_shares=max_shares,
                         lots=lots, benchmark=setup.benchmark.weights)


def no_taxable_account(setup: ClientSetup, purpose: str) -> DataError:
    """The error for a client with no taxable account.

    It names the profile file, its accounts and the fix (``purpose``: what needed one,
    e.g. ``"to rebalance"``).
    """
    prof = setup.client.profile
    kinds = ", ".join(f"{a.account_id} ({account_kind(a)})" for a in prof.accounts)
    return DataError(f"{prof.path}: client {setup.client.client_id} has no taxable account "
                     f"{purpose} (its [[accounts]]: {kinds or 'none'}); add an [[accounts]] "
                     "entry with type = \"taxable\" (a household's retirement accounts are "
                     "traded beside its taxable account, which its plans manage)")


def not_a_taxable_account(setup: ClientSetup, account_id: str) -> SettingsError:
    """The error for an account id that is not one of the client's taxable accounts.

    A retirement account's sales are not taxed, so its rebalance or frontier would report
    a tax it does not pay; an unknown id is a typo. The message names the profile, the
    account asked for and the taxable accounts to choose from.
    """
    prof = setup.client.profile
    known = {a.account_id for a in prof.accounts}
    what = ("is a retirement account, whose sales are not taxed" if account_id in known
            else "is not an account of the profile")
    taxable = ", ".join(setup.taxable_accounts()) or "none"
    return SettingsError(f"{prof.path}: account {account_id!r} {what}; the rebalance and "
                         f"the frontier are of a taxable account: pass one of {taxable} "
                         "(the [[accounts]] entries with type = \"taxable\")")


def problem_for_client(setup: ClientSetup, account_id: str | None = None,
                       settings: RebalanceSettings | None = None,
                       contribution: float = 0.0, workers: int = 1,
                       ledger: Ledger | None = None) -> RebalanceProblem:
    """The compiled rebalance problem of one taxable account (default: the first).

    The account's ``[[accounts]] min_cash`` is its cash target unless ``settings`` set one
    (:func:`with_min_cash`). ``workers=2``: a forked copy solves beside it (the same
    trades; :class:`~pma_lab.optimize.rebalance.RebalanceProblem`). ``ledger``: the lots
    to trade (default today's, ``setup.ledger``), e.g. after a plan's gift of lots today
    (:func:`pma_lab.plan.simulation.todays_gift`).
    """
    accounts = setup.taxable_accounts()
    acc = account_id or (accounts[0] if accounts else None)
    if acc is None:
        raise no_taxable_account(setup, "to rebalance")
    if acc not in accounts:
        raise not_a_taxable_account(setup, acc)
    _require_held_modelled(setup, acc, set())
    state = account_state_for(setup, acc, ledger=ledger, contribution=contribution)
    risk = setup.risk.subset(list(state.assets[:state.n_model]))
    settings = with_min_cash(setup, acc, settings or default_settings(setup), state)
    return RebalanceProblem(state, risk, setup.target.weights, settings,
                            setup.ledger if ledger is None else ledger, workers=workers)


def rebalance_client(setup: ClientSetup, account_id: str | None = None,
                     settings: RebalanceSettings | None = None,
                     method: str = "two_step") -> RebalanceResult:
    """Solve one taxable account's rebalance toward the client's target.

    With the default settings (:func:`default_settings`) the trades are in whole shares
    (unless the profile allows fractional ones) with no order below the profile's minimum
    trade, and ``result.checks`` lists every constraint with its value.
    """
    return problem_for_client(setup, account_id, settings).solve(method)
