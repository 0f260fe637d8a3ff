"""Research studies on real price history: risk-model bias, names vs tracking error.

* :func:`bias_test` — is the risk model calibrated? For each year, estimate the model at
  the first trading day, form sampled portfolios (random cap-weighted subsets of the
  benchmark and the top-N by cap), predict their tracking error, and compare with the
  tracking error realised over the next 12 months. A ratio near 1 means calibrated.
* :func:`names_curve` — how many names does an account need? Ex-ante tracking error of
  optimised N-name targets (and of the naive top-N-by-cap portfolio rescaled to one) for
  a grid of N, and the tracking error realised out of sample: estimate at t, hold for the
  next 12 months, over many t.

Realised tracking error is measured on buy-and-hold portfolios (weights drift with
prices, as an account does between rebalances) against the buy-and-hold benchmark, from
daily returns annualised with sqrt(252). A day on which a name has no price counts as a
zero return for that name that day; such gaps are counted and reported in the output.
Survivorship: the packaged prices hold only names that survived to their snapshots, so
the benchmark at early dates is the priced subset of the members (see
:mod:`pma_lab.market.benchmark`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from pma_lab.errors import InfeasibleError
from pma_lab.market.benchmark import Benchmark, sp500_proxy
from pma_lab.market.data import MarketData, load_market, to_timestamp
from pma_lab.portfolio.risk import RiskModel, RiskModelSettings, estimate_risk_model
from pma_lab.portfolio.target import TargetBuilder

__all__ = ["realized_tracking_error", "bias_test", "names_curve", "screen_costs",
           "DEFAULT_NAME_GRID", "RiskModelSource"]

UNSCREENED = "none (unscreened target)"  # screen_costs' reference row
DEFAULT_NAME_GRID = (30, 40, 50, 80, 100, 150, 200, 300, 400, 500)
HORIZON_DAYS = 252


def _forward_prices(m: MarketData, start: pd.Timestamp, tickers: list[str],
                    days: int = HORIZON_DAYS) -> pd.DataFrame:
    cal = m.prices.calendar
    i0 = int(cal.searchsorted(start))
    i1 = min(i0 + days, len(cal) - 1)
    return m.prices.window(cal[i0], cal[i1], tickers)


def realized_tracking_error(portfolios: dict[str, pd.Series], benchmark: pd.Series,
                            start: pd.Timestamp, m: MarketData,
                            days: int = HORIZON_DAYS) -> tuple[dict[str, float], int]:
    """Annualised realised TE of buy-and-hold portfolios vs the buy-and-hold benchmark.

    Returns
    -------
    tuple[dict[str, float], int]
        TE per portfolio, and the number of (name, day) price gaps met (zero returns).
    """
    names = sorted(set(benchmark.index).union(*[set(p.index) for p in portfolios.values()]))
    px = _forward_prices(m, start, names, days)
    r = px.pct_change(fill_method=None).iloc[1:]
    gaps = int(r.isna().sum().sum())
    growth = (1 + r.fillna(0.0)).cumprod()
    grow_prev = pd.concat([pd.DataFrame(1.0, index=[px.index[0]], columns=names),
                           growth.iloc[:-1]])
    grow_prev.index = growth.index

    def path(w: pd.Series) -> np.ndarray:
        wv = w.reindex(names).fillna(0.0).to_numpy()
        val_prev = grow_prev.to_numpy() @ wv
        val = growth.to_numpy() @ wv
        return val / val_prev - 1

    rb = path(benchmark)
    out = {k: float(np.std(path(w) - rb, ddof=1) * np.sqrt(252)) for k, w in portfolios.items()}
    return out, gaps


RiskModelSource = Callable[[pd.Timestamp], RiskModel]
"""A researcher's own risk model for the studies: called with each estimation date, it
returns the model as of that date (any object with ``tickers``, ``as_of`` and
``tracking_error(w, b)``; the targets also use ``cov_matrix``, as
:class:`~pma_lab.portfolio.risk.RiskModel` does)."""


def _model_at(day: pd.Timestamp, m: MarketData, risk_model: RiskModelSource | None,
              risk_settings: RiskModelSettings | None, where: str) -> RiskModel:
    """The model a study uses at ``day``: the researcher's, or estimated with the settings."""
    if risk_model is not None and risk_settings is not None:
        raise ValueError(f"{where}(risk_model=..., risk_settings=...): give one; "
                         "risk_settings are for the packaged estimator, risk_model replaces it")
    if risk_model is None:
        return estimate_risk_model(day, market=m, settings=risk_settings)
    rm = risk_model(day)
    got = getattr(rm, "as_of", None)
    if got is not None and pd.Timestamp(got).date() != day.date():
        raise ValueError(f"{where}: risk_model({day:%Y-%m-%d}) returned a model as of {got}; "
                         "it must return the model estimated at the date it is given")
    return rm


def _year_starts(years: Iterable[int], m: MarketData) -> list[pd.Timestamp]:
    cal = m.prices.calendar
    return [cal[int(cal.searchsorted(pd.Timestamp(y, 1, 1)))] for y in years]


def bias_test(years: Iterable[int] = range(2005, 2025), sizes: Sequence[int] = (30, 50, 100),
              n_random: int = 20, seed: int = 0, market: MarketData | None = None,
              progress: Callable[[str], None] | None = None,
              risk_model: RiskModelSource | None = None,
              risk_settings: RiskModelSettings | None = None) -> pd.DataFrame:
    """Realised vs predicted tracking error of sampled portfolios, one row per year.

    Portfolios at each year start: ``n_random`` random cap-weighted subsets of the
    benchmark for each size in ``sizes``, plus the top-N by cap for each size. For each,
    ``ratio = realised TE over the next 12 months / predicted TE``.

    ``risk_model`` (a callable: date -> model, :data:`RiskModelSource`) calibrates a
    researcher's own model; ``risk_settings`` the packaged estimator with other settings
    (default: :func:`~pma_lab.portfolio.risk.estimate_risk_model`'s). Not both.

    Returns
    -------
    pd.DataFrame
        year, date, portfolios, mean/median ratio, the share of ratios in [0.7, 1.3],
        mean predicted and realised TE, price gaps met.
    """
    m = market or load_market()
    rng = np.random.default_rng(seed)
    rows = []
    for day in _year_starts(years, m):
        b = sp500_proxy(day, m)
        rm = _model_at(day, m, risk_model, risk_settings, "bias_test")
        names = [t for t in b.weights.index if t in set(rm.tickers)]
        bw = b.weights.reindex(names)
        bw = bw / bw.sum()
        ports = {}
        for n in sizes:
            for j in range(n_random):
                pick = rng.choice(names, size=min(n, len(names)), replace=False)
                w = bw.reindex(pick)
                ports[f"random{n}_{j}"] = w / w.sum()
            top = bw.nlargest(n)
            ports[f"top{n}"] = top / top.sum()
        pred = {k: rm.tracking_error(w, bw) for k, w in ports.items()}
        real, gaps = realized_tracking_error(ports, bw, day, m)
        ratio = np.array([real[k] / pred[k] for k in ports])
        rows.append({
            "year": day.year, "date": day.date(), "portfolios": len(ports),
            "mean_ratio": float(ratio.mean()), "median_ratio": float(np.median(ratio)),
            "share_in_0.7_1.3": float(((ratio >= 0.7) & (ratio <= 1.3)).mean()),
            "mean_predicted_te": float(np.mean(list(pred.values()))),
            "mean_realized_te": float(np.mean(list(real.values()))),
            "benchmark_names": len(names), "price_gaps": gaps,
        })
        if progress:
            progress(f"{day:%Y}: mean ratio {ratio.mean():.2f}")
    return pd.DataFrame(rows)


def names_curve(as_of: dt.date | str, sectors: pd.Series | None = None,
                eligible: Callable[[Benchmark], Sequence[str]] | None = None,
                names: Sequence[int] = DEFAULT_NAME_GRID,
                oos_dates: Sequence[dt.date | str] = (),
                sector_limits: dict | None = None, sector_tilts: dict | None = None,
                market: MarketData | None = None,
                progress: Callable[[str], None] | None = None,
                risk_model: RiskModelSource | None = None,
                risk_settings: RiskModelSettings | None = None) -> pd.DataFrame:
    """Tracking error against the number of names, ex ante and out of sample.

    Parameters
    ----------
    as_of : date
        Date of the ex-ante curve.
    sectors : pd.Series | None
        GICS sector by ticker (default: the packaged universe's).
    eligible : Callable[[Benchmark], Sequence[str]] | None
        The client's screens as a function of the benchmark (default: every name).
    names : Sequence[int]
        The grid of name counts (counts above the eligible names are capped).
    oos_dates : Sequence[date]
        Estimation dates for the out-of-sample measurement (each followed by 12 months).
    risk_model : RiskModelSource | None
        A researcher's own model (date -> model) instead of the packaged estimator.
    risk_settings : RiskModelSettings | None
        The packaged estimator's settings (default: its own). Not with ``risk_model``.

    Returns
    -------
    pd.DataFrame
        One row per N: ex-ante TE of the optimised target and of the naive top-N, and when
        ``oos_dates`` are given the mean realised TE of each over those dates, the ratio
        (optimised / naive) and the number of dates.
    """
    m = market or load_market()
    sectors = m.universe.sectors() if sectors is None else sectors
    models = (risk_model, risk_settings)
    ex = _curve_at(to_timestamp(as_of), sectors, eligible, names, sector_limits,
                   sector_tilts, m, realized=False, models=models)
    out = pd.DataFrame(ex).set_index("names")
    if oos_dates:
        per = []
        for d in oos_dates:
            per.extend(_curve_at(to_timestamp(d), sectors, eligible, names, sector_limits,
                                 sector_tilts, m, realized=True, models=models))
            if progress:
                progress(f"out of sample from {to_timestamp(d):%Y-%m-%d} done")
        oos = pd.DataFrame(per).groupby("names").agg(
            realized_te_target=("realized_te_target", "mean"),
            realized_te_top=("realized_te_top", "mean"),
            oos_dates=("date", "nunique"))
        # at the full index both portfolios are the benchmark: the ratio of two round-offs
        # means nothing, so it is left undefined
        oos["realized_ratio"] = (oos.realized_te_target / oos.realized_te_top).where(
            oos.realized_te_top > 1e-6)
        out = out.join(oos)
    return out.reset_index()


def _curve_at(day: pd.Timestamp, sectors: pd.Series, eligible, names: Sequence[int],
              sector_limits, sector_tilts, m: MarketData, realized: bool,
              models: tuple = (None, None)) -> list[dict]:
    rm: RiskModel = _model_at(day, m, *models, "names_curve")
    b = sp500_proxy(day, m).restricted_to(rm.tickers)
    elig = list(eligible(b)) if eligible else list(b.weights.index)
    builder = TargetBuilder(rm, b, sectors)
    rows, ports = [], {}
    for n in names:
        n_eff = min(n, len(elig))
        tg = builder.build(elig, None if n_eff >= len(elig) else n_eff, sector_limits,
                           sector_tilts)
        top = b.weights.reindex(elig).nlargest(n_eff)
        top = top / top.sum()
        ports[f"target_{n}"] = tg.weights
        ports[f"top_{n}"] = top
        rows.append({"names": n, "names_used": n_eff, "date": day.date(),
                     "eligible": len(elig),
                     "te_target": tg.tracking_error,
                     "te_top": rm.tracking_error(top, b.weights)})
    if realized:
        real, gaps = realized_tracking_error(ports, b.weights, day, m)
        for r in rows:
            r["realized_te_target"] = real[f"target_{r['names']}"]
            r["realized_te_top"] = real[f"top_{r['names']}"]
            r["price_gaps"] = gaps
    return rows


def screen_costs(as_of: dt.date | str, restrictions, names: int | None = 80,
                 market: MarketData | None = None, risk: RiskModel | None = None
                 ) -> pd.DataFrame:
    """The cost of each screen: excluded names and weight, and the extra tracking error.

    For every category screen, individual restriction, sector cap and sector tilt in
    ``restrictions`` alone, and for all of them combined, build the ``names``-name
    target that tracks the unrestricted benchmark and report its ex-ante TE minus the
    best unscreened ``names``-name target's TE.

    The targets pick their names heuristically, so the screened target can come out with
    a lower TE than the unscreened one built the same way (the retiree's tobacco and
    weapons screens read -0.85 and -1.68 bp): a screened target is itself a feasible
    unscreened one, so the unscreened reference is the better of the two and
    ``extra_te`` is never negative; the amount by which the screened one beat the
    unscreened build is ``selection_noise`` (the heuristic's noise at this size; read an
    ``extra_te`` within it as no measurable cost).

    Parameters
    ----------
    as_of : date
    restrictions : pma_lab.io.profile.Restrictions
    names : int | None
        Name count of the targets (``None``: no cardinality limit).
    market, risk
        Market data and a risk model estimated at ``as_of`` (default: estimated here).

    Returns
    -------
    pd.DataFrame
        restriction, excluded names, excluded benchmark weight, TE of the target with
        that restriction, extra TE over the best unscreened target (>= 0) and the
        selection noise (>= 0), error.
    """
    from dataclasses import replace as dc_replace

    from pma_lab.portfolio.restrictions import Restrictions
    from pma_lab.portfolio.screens import apply_screens

    m = market or load_market()
    day = to_timestamp(as_of)
    rm = risk or estimate_risk_model(day, market=m)
    if rm.as_of != day.date():
        raise ValueError(f"the risk model is as of {rm.as_of}, not {day:%Y-%m-%d}")
    b = sp500_proxy(day, m).restricted_to(rm.tickers)
    uni = m.universe.frame()
    builder = TargetBuilder(rm, b, m.universe.sectors())
    base = builder.build(None, names)
    cases: list[tuple[str, Restrictions]] = [
        (f"screen: {c}", Restrictions(categories=(c,))) for c in restrictions.categories]
    for label, field_name in (("never hold", "never_hold"), ("no buy", "no_buy"),
                              ("hold, no add", "hold_no_add")):
        for t in getattr(restrictions, field_name):
            cases.append((f"{label}: {t}", Restrictions(**{field_name: (t,)})))
    for sec in restrictions.exclude_sectors:
        cases.append((f"sector: {sec}", Restrictions(exclude_sectors=(sec,))))
    for ind in restrictions.exclude_industries:
        cases.append((f"industry: {ind}", Restrictions(exclude_industries=(ind,))))
    # a sector cap or tilt changes the target's weights, not which names it may hold: each
    # on its own row too (reviewer 1, session 25: "all combined" cost 102 bp with an IT cap
    # of 64 bp on no row of its own)
    runs = [(label, r, {}, {}) for label, r in cases]
    runs += [(f"sector cap: {sec} at most {100 * cap:.4g}%", Restrictions(), {sec: cap}, {})
             for sec, cap in restrictions.sector_max_weight]
    runs += [(f"sector tilt: {sec} {100 * tilt:+.4g}% against the index", Restrictions(), {},
              {sec: tilt}) for sec, tilt in restrictions.sector_tilts]
    if len(runs) > 1:
        runs.append(("all combined", dc_replace(restrictions),
                     dict(restrictions.sector_max_weight), dict(restrictions.sector_tilts)))
    rows = [{"restriction": UNSCREENED, "excluded_names": 0,
             "excluded_weight": 0.0, "te": base.tracking_error, "extra_te": 0.0,
             "selection_noise": 0.0, "error": ""}]
    for label, r, cap, tilt in runs:
        el = apply_screens(uni, r)
        ok = set(el.buyable())
        eligible = [t for t in b.weights.index if t in ok]
        excluded = [t for t in b.weights.index if t not in ok]
        row = {"restriction": label, "excluded_names": len(excluded),
               "excluded_weight": float(b.weights.reindex(excluded).sum()), "error": ""}
        try:
            tg = builder.build(eligible, names, cap or None, tilt or None)
            te = tg.tracking_error
            # the screened target is a feasible unscreened one: the reference is the better
            row.update(te=te, extra_te=te - min(te, base.tracking_error),
                       selection_noise=max(base.tracking_error - te, 0.0))
        except InfeasibleError as e:  # reported as a row, not hidden
            row.update(te=np.nan, extra_te=np.nan, selection_noise=np.nan, error=str(e))
        rows.append(row)
    return pd.DataFrame(rows, columns=["restriction", "excluded_names", "excluded_weight",
                                       "te", "extra_te", "selection_noise", "error"])
