"""Raw closes and corporate actions for tax work (called by ``build_market_data.py``).

The packaged ``prices.parquet`` holds split- and dividend-adjusted closes on a recent base:
right for returns, wrong for tax lots (a 2020 AMZN close is 1/20 of the exchange close,
and no dividend is ever paid). This module builds the raw view:

* ``raw_closes.parquet``: exchange closes in USD, wide (date x ticker).
* ``raw_events.parquet``: one row per corporate action: cash dividends (USD per share on
  the ex-date), splits (new shares per old share) and value-preserving share factors
  (spin-offs and data repairs, see below).
* ``raw_provenance.parquet``: per ticker, where each part of its series comes from and
  what was inferred.

Three segments, stated per ticker in the provenance table:

1. **1999-11-01 .. 2021-04-21, AlphaVantage** (the ``close`` column and the actions file of
   ``prices/sp500_alphavantage_*``): real exchange closes and real ex-dates. Renamed
   companies take their predecessor's AlphaVantage history (META from FB, ELV from ANTM,
   ...; the successor is chosen by SEC CIK and checked against the Yahoo returns).
   Each day's total return from raw closes and actions, ``s (close_t + d) / close_{t-1}``,
   is checked against the Yahoo adjusted return of the same company (or, without a Yahoo
   series, AlphaVantage's own adjusted close). Where they differ by more than 5 percentage
   points the day's actions are repaired, in this order: a split the closes do not show
   is dropped (a phantom split, e.g. ANTM 2002-03-18); a split the closes show but the
   actions miss is added (e.g. ZBRA 2003-08-21); otherwise a ``share_factor`` event is
   added that makes the day's return equal the reference (spin-offs, e.g. JCI 2007-07-02
   and KSU 2000-07-13, where AlphaVantage books the spun-off value as a cash dividend or
   not at all, and the odd bad close). A cash "dividend" above 25 % of the previous close
   is never treated as a dividend: it becomes a share factor (its value stays with the
   holder, untaxed, as in a tax-free spin-off). The closes themselves are never changed.
2. **After 2021-04-21, derived** from the adjusted closes: the adjusted close equals the
   exchange close on each series' last date (Yahoo adjusts history backwards), so the
   factor ``F = raw / adjusted`` on 2021-04-21 is the product of every split, spin-off and
   dividend adjustment between then and the end. It is split into a share part ``S`` and
   a dividend part ``D``: ``D`` is first estimated from the trailing-year dividend yield
   at 2021-04-21, ``S = F / D`` is rounded to a standard split ratio when within 12 %
   of one, and then ``D = F / S``. **Approximated:** the dates of the splits and
   spin-offs after 2021-04-21 are not in the data; ``S`` is applied as one event on the
   first trading day after 2021-04-21 (so a raw close between then and the real split
   date is off by the split ratio; dollar values, basis and gains are unaffected because
   shares scale with it). Dividends after 2021-04-21 follow the ticker's ex-dates of the
   year before, repeated each year (quarterly on Feb/May/Aug/Nov 15 when it paid none),
   each the same fraction of the previous close so that together they make ``D``; raw
   closes are then ``adjusted x`` the dividend factor still to come.
3. **Tickers without AlphaVantage data** (names first priced by Yahoo, e.g. BF.B, PTC,
   PCG, and most names added to the index after 2021): raw closes are the adjusted closes
   and no event is known: their dividends are inside the price (never paid, never taxed).
   Flagged ``adjusted_only`` so outputs can count them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

AV_END = pd.Timestamp("2021-04-21")
"""Last date of the AlphaVantage panel (real raw closes and actions end here)."""

CHECK_TOLERANCE = 0.05
"""Largest accepted gap between the raw+actions return and the reference return (5 pp,
the threshold of ``price_qa_flags``)."""

OTHER_COMPANY_SHARE = 0.02
"""When more than this share of days' returns differ by over 1 % between AlphaVantage's and
Yahoo's adjusted closes, the two describe different companies for part of the history (DD,
CB, PEAK) and AlphaVantage's own adjusted close is the reference."""

SPINOFF_DIVIDEND_SHARE = 0.25
"""A cash amount above this share of the previous close is a spin-off, not a dividend."""

YIELD_TOLERANCE = 0.025
"""Largest gap (per year) between the dividend yield a split candidate implies after 2021
and the trailing-year yield at 2021-04-21 for the candidate to be accepted."""


@dataclass(frozen=True)
class KnownSpinoff:
    """A spin-off after 2021-04-21 that came with a published change of the parent's dividend.

    The derivation cannot see either: it keeps the 2021 dividend yield and books the rest of
    the price adjustment as one undated share event (for AT&T a "5/4 split" and a 7.2 % yield
    after 2022, twice the real one). With this entry the dividends are the published
    amounts (on the year-before ex-dates) and the spin-off is a value-preserving share
    factor on its date, sized so that together they make the observed raw/adjusted ratio.

    Attributes
    ----------
    date : str
        First trading day ex-distribution.
    dividend_before, dividend_after : float
        Cash dividend per share per payment before and from ``rate_from`` (USD).
    rate_from : str
        Ex-dates from this day on pay ``dividend_after``.
    source : str
        Where the figures are published.
    """

    date: str
    dividend_before: float
    dividend_after: float
    rate_from: str
    source: str


KNOWN_SPINOFFS_AFTER_2021: dict[str, KnownSpinoff] = {
    # WarnerMedia distributed on 2022-04-08 (about 0.24 WBD a T share), T ex-distribution
    # from 2022-04-11; quarterly dividend $0.52 ($2.08 a year) -> $0.2775 ($1.11 a year),
    # the first at the new rate payable 2022-05-02 (record 2022-04-14)
    "T": KnownSpinoff("2022-04-11", 0.52, 0.2775, "2022-04-01",
                      "AT&T press release of 2022-02-01 (annual dividend $2.08 -> $1.11 "
                      "after the WarnerMedia spin-off) and its 2022-03-24 dividend notice"),
}
"""Spin-offs after 2021-04-21 with their parent's published dividends (public record)."""

STANDARD_SPLITS: tuple[Fraction, ...] = tuple(sorted(
    {Fraction(k) for k in range(1, 101)} | {Fraction(1, k) for k in range(2, 41)}
    | {Fraction(3, 2), Fraction(5, 2), Fraction(9, 4), Fraction(4, 3), Fraction(5, 4),
       Fraction(2, 3), Fraction(3, 4), Fraction(15, 2), Fraction(45, 2)}))
"""Split ratios a share factor may be rounded to (new shares per old share)."""

DEFAULT_EX_MONTHS = (2, 5, 8, 11)
"""Ex-dividend months assumed after 2021 for a ticker that paid nothing in the year before."""

RAW_DECIMALS = 4
"""Derived raw closes are rounded to this many decimals (AlphaVantage closes are as given)."""


# ------------------------------------------------------------------------------ helpers
def nice_ratio(x: float, rel: float = 1e-4) -> Fraction | None:
    """The standard-looking fraction within ``rel`` of ``x`` (``1.499999`` -> 3/2), else None."""
    f = Fraction(x).limit_denominator(100)
    return f if abs(float(f) / x - 1.0) <= rel else None


def snap_split(x: float, tolerance: float) -> Fraction | None:
    """The standard split ratio nearest ``x`` in log terms, if within ``tolerance``."""
    if not np.isfinite(x) or x <= 0:
        return None
    best = min(STANDARD_SPLITS, key=lambda r: abs(np.log(x / float(r))))
    return best if abs(np.log(x / float(best))) <= tolerance else None


def renamed_successors(links: pd.DataFrame) -> dict[str, list[str]]:
    """New ticker -> old tickers of one security renamed (from ``issuer_links``)."""
    out: dict[str, list[str]] = {}
    for r in links[links.relation == "renamed"].itertuples():
        if r.current_a and not r.current_b:
            new, old = r.ticker_a, r.ticker_b
        elif r.current_b and not r.current_a:
            new, old = r.ticker_b, r.ticker_a
        else:
            continue
        out.setdefault(new, []).append(old)
    return out


def _returns_gap(a: pd.Series, b: pd.Series) -> float:
    """Median absolute difference of two price series' daily returns on common days."""
    common = a.notna() & b.notna()
    if common.sum() < 60:
        return np.inf
    ra, rb = a[common].pct_change(), b[common].pct_change()
    return float((ra - rb).abs().median())


# -------------------------------------------------------------------- AlphaVantage part
def clean_actions(ticker: str, av: pd.DataFrame, actions: pd.DataFrame,
                  reference: pd.Series | None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Check one ticker's AlphaVantage actions against a reference return and repair them.

    Parameters
    ----------
    ticker : str
        Output ticker (for the events).
    av : pd.DataFrame
        The ticker's AlphaVantage rows, index ``date``, columns ``close``, ``adj_close``.
    actions : pd.DataFrame
        Its actions: ``date``, ``dividend``, ``split_coefficient``.
    reference : pd.Series | None
        Adjusted closes of the same company (Yahoo) on any calendar; ``None`` uses
        AlphaVantage's own adjusted close.

    Returns
    -------
    tuple[list[dict], dict[str, int]]
        The events and counts of each repair.
    """
    close = av["close"].astype(float)
    own = av["adj_close"].astype(float)
    ref = own
    if reference is not None:
        ref = reference.reindex(close.index)
        ra, rb = own.pct_change(), ref.pct_change()
        both = ra.notna() & rb.notna()
        if both.any() and float(((ra - rb).abs()[both] > 0.01).mean()) > OTHER_COMPANY_SHARE:
            ref = own  # Yahoo's series is another company for part of the history
    acts = actions.set_index("date").reindex(close.index)
    div = acts.dividend.fillna(0.0).to_numpy(dtype=float)
    spl = acts.split_coefficient.fillna(1.0).to_numpy(dtype=float)
    c = close.to_numpy()
    rv = ref.to_numpy(dtype=float)
    counts = {"dividends": 0, "splits": 0, "phantom_splits_dropped": 0,
              "missing_splits_added": 0, "share_factors": 0, "spinoff_dividends": 0}
    events: list[dict[str, Any]] = []
    dates = close.index
    for i in range(len(c)):
        d_i, s_i = div[i], spl[i]
        note = ""
        if s_i != 1.0:
            f = nice_ratio(s_i)
            s_i = float(f) if f is not None else s_i
        spin = 1.0
        if i > 0 and d_i > SPINOFF_DIVIDEND_SHARE * c[i - 1]:
            spin = (c[i] + d_i) / c[i]  # the value stays with the holder (tax-free)
            counts["spinoff_dividends"] += 1
            note = f"cash amount {d_i:.4f} is {d_i / c[i - 1]:.0%} of the previous close"
            d_i = 0.0
        if i > 0 and np.isfinite(rv[i]) and np.isfinite(rv[i - 1]):
            r_ref = rv[i] / rv[i - 1] - 1.0
            r_raw = spin * s_i * (c[i] + d_i) / c[i - 1] - 1.0
            if abs(r_raw - r_ref) > CHECK_TOLERANCE:
                r_nosplit = spin * (c[i] + d_i) / c[i - 1] - 1.0
                k = snap_split(c[i - 1] / c[i] * (1 + r_ref), 0.03)
                if s_i != 1.0 and abs(r_nosplit - r_ref) <= CHECK_TOLERANCE:
                    counts["phantom_splits_dropped"] += 1
                    note = (note + "; " if note else "") + \
                        f"split {s_i:g} not shown by the closes: dropped"
                    s_i = 1.0
                elif s_i == 1.0 and k is not None and k != 1 and abs(
                        spin * float(k) * (c[i] + d_i) / c[i - 1] - 1.0 - r_ref) <= \
                        CHECK_TOLERANCE:
                    counts["missing_splits_added"] += 1
                    s_i = float(k)
                    note = (note + "; " if note else "") + \
                        f"split {k} shown by the closes but missing from the actions: added"
                else:
                    spin *= (1.0 + r_ref) / (1.0 + r_raw)
                    counts["share_factors"] += 1
                    note = (note + "; " if note else "") + (
                        f"return {r_raw:+.1%} from closes and actions vs {r_ref:+.1%} "
                        "reference: share factor makes them equal")
        if d_i > 0:
            events.append({"date": dates[i], "ticker": ticker, "kind": "dividend",
                           "amount": d_i, "source": "alphavantage", "note": ""})
            counts["dividends"] += 1
        if s_i != 1.0:
            events.append({"date": dates[i], "ticker": ticker, "kind": "split",
                           "amount": s_i,
                           "source": "alphavantage_corrected" if "split" in note
                           else "alphavantage", "note": note if "split" in note else ""})
            counts["splits"] += 1
        if spin != 1.0:
            events.append({"date": dates[i], "ticker": ticker, "kind": "share_factor",
                           "amount": spin, "source": "alphavantage_corrected",
                           "note": note})
    return events, counts


# ------------------------------------------------------------------------- derived part
def infer_share_factor(f_total: float, ttm_yield: float, years: float
                       ) -> tuple[float, Fraction | None, float]:
    """Split ``F = raw / adjusted`` into a share part ``S`` and a dividend part ``D``.

    The candidates are no split and the standard split ratios (reverse splits 1:k only);
    each implies a yearly dividend yield ``(F / S) ** (1 / years) - 1``. The candidate whose
    implied yield is closest to the trailing-year yield wins, if within
    :data:`YIELD_TOLERANCE` a year (no split wins ties); otherwise the residual is a
    spin-off-like share factor ``S = F / (1 + trailing yield) ** years``. A residual below
    one (a value-reducing event) is all share factor.

    Returns
    -------
    tuple[float, Fraction | None, float]
        ``S``, the split ratio when ``S`` is one, and ``D``.
    """
    if years <= 0:
        return f_total, None, 1.0
    best: tuple[float, Fraction] | None = None
    for r in (Fraction(1), *STANDARD_SPLITS):
        if r < 1 and r.numerator != 1:
            continue
        d = f_total / float(r)
        if d < 1.0 - 1e-6:
            continue
        gap = abs(d ** (1.0 / years) - 1.0 - ttm_yield)
        if best is None or gap < best[0] - 1e-12:
            best = (gap, r)
    if best is not None and best[0] <= YIELD_TOLERANCE:
        r = best[1]
        return float(r), (r if r != 1 else None), f_total / float(r)
    d_est = (1.0 + ttm_yield) ** years
    s = f_total / d_est
    if s < 1.0 and f_total < 1.0:
        return f_total, snap_split(f_total, 1e-3), 1.0
    return s, snap_split(s, 1e-3), d_est


def _known_spinoff_after(ticker: str, after: pd.Series, f_total: float,
                         ex_pos: list[int], spin: KnownSpinoff
                         ) -> tuple[pd.Series, list[dict[str, Any]], float]:
    """Raw closes and events after 2021-04-21 with a known spin-off (see ``KnownSpinoff``).

    The dividends are the published amounts; the spin-off factor ``f`` is the one number
    left free, found by bisection so that ``K`` on 2021-04-21 is the observed ``f_total``
    (``K`` rises with ``f``).
    """
    cal = after.index
    a = after.to_numpy(dtype=float)
    q = int(cal.searchsorted(pd.Timestamp(spin.date)))
    amount = {p: (spin.dividend_after if cal[p] >= pd.Timestamp(spin.rate_from)
                  else spin.dividend_before) for p in ex_pos}

    def path(f: float) -> np.ndarray:
        k = np.ones(len(cal))
        cur = 1.0
        for i in range(len(cal) - 1, -1, -1):
            k[i] = cur  # K on day i (events of day i apply across i-1 -> i)
            if i == q:
                cur *= f
            if i in amount:
                cur *= 1.0 + amount[i] / (a[i] * k[i])
        return np.append(k, cur)  # last: K on 2021-04-21

    lo, hi = 1e-6, max(f_total, 1.0) * 10.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if path(mid)[-1] < f_total else (lo, mid)
    f = 0.5 * (lo + hi)
    k = path(f)[:-1]
    raw = pd.Series(a * k, index=cal).round(RAW_DECIMALS)
    events: list[dict[str, Any]] = [{
        "date": cal[q], "ticker": ticker, "kind": "share_factor", "amount": f,
        "source": "derived", "note": f"spin-off on its ex-date, value-preserving; sized to "
                                     f"raw/adjusted on 2021-04-21 = {f_total:.4f} with the "
                                     f"published dividends ({spin.source})"}]
    events += [{"date": cal[p], "ticker": ticker, "kind": "dividend", "amount": amount[p],
                "source": "derived", "note": "published amount, ex-date approximated "
                                             f"(year-before schedule; {spin.source})"}
               for p in ex_pos]
    return raw, events, f


def derive_after(ticker: str, adj: pd.Series, raw_end: float, end: pd.Timestamp,
                 past_dividends: pd.DataFrame) -> tuple[pd.Series, list[dict[str, Any]],
                                                        dict[str, Any]]:
    """Raw closes and events after ``end`` (the last AlphaVantage date) from adjusted closes.

    Parameters
    ----------
    ticker : str
    adj : pd.Series
        The ticker's adjusted closes (dropna'd, sorted); must cover ``end`` and later.
    raw_end : float
        The exchange close on ``end``.
    end : pd.Timestamp
    past_dividends : pd.DataFrame
        ``date``, ``amount`` of the cash dividends in the year up to ``end``.

    Returns
    -------
    tuple[pd.Series, list[dict], dict]
        Raw closes after ``end``, the events, and what was inferred (for the provenance).
    """
    after = adj[adj.index > end]
    last = adj.index[-1]
    f_total = raw_end / float(adj.loc[end])
    years = (last - end).days / 365.25
    ttm_yield = float(past_dividends.amount.sum()) / raw_end if len(past_dividends) else 0.0
    s, split, d_total = infer_share_factor(f_total, ttm_yield, years)
    # ex-dates: the past year's, repeated yearly; a default quarterly schedule otherwise
    cal = after.index
    if len(past_dividends):
        base = list(past_dividends.date)
    else:
        base = [pd.Timestamp(end.year, m, 15) for m in DEFAULT_EX_MONTHS]
    planned = sorted({d + pd.DateOffset(years=k) for d in base for k in range(1, 40)})
    planned = [d for d in planned if end < d <= last]
    ex_pos = sorted({int(cal.searchsorted(d)) for d in planned
                     if int(cal.searchsorted(d)) < len(cal)})
    ex_pos = [p for p in ex_pos if p >= 1]  # never on the first day (the share event)
    spin = KNOWN_SPINOFFS_AFTER_2021.get(ticker)
    if spin is not None and len(past_dividends):
        raw, events, f = _known_spinoff_after(ticker, after, f_total, ex_pos, spin)
        info = {"factor_2021": f_total, "share_factor_after": f,
                "dividend_factor_after": f_total / f, "trailing_yield_2021": ttm_yield,
                "dividends_after": len(ex_pos), "split_after": "",
                "schedule": "past year's ex-dates; published amounts and spin-off date"}
        return raw, events, info
    n = len(ex_pos) if d_total > 1.0 + 1e-9 else 0
    y = 1.0 - d_total ** (-1.0 / n) if n else 0.0
    remaining = np.zeros(len(cal), dtype=int)  # ex-dates strictly after each day
    for p in ex_pos[:n]:
        remaining[:p] += 1
    raw = pd.Series(after.to_numpy() * (1.0 - y) ** (-remaining.astype(float)), index=cal)
    raw = raw.round(RAW_DECIMALS)
    events: list[dict[str, Any]] = []
    if abs(s - 1.0) > 1e-12:
        kind = "split" if split is not None else "share_factor"
        events.append({"date": cal[0], "ticker": ticker, "kind": kind,
                       "amount": float(split) if split is not None else s,
                       "source": "derived", "factor_2021": f_total, "years": years,
                       "note": ("splits and spin-offs between 2021-04-22 and "
                                f"{last:%Y-%m-%d} (dates unknown) applied as one event; "
                                f"raw/adjusted on 2021-04-21 = {f_total:.4f}")})
    for p in ex_pos[:n]:
        events.append({"date": cal[p], "ticker": ticker, "kind": "dividend",
                       "amount": round(y * float(raw.iloc[p - 1]), 6), "source": "derived",
                       "note": f"{y:.4%} of the previous close (schedule approximated)"})
    info = {"factor_2021": f_total, "share_factor_after": s, "dividend_factor_after": d_total,
            "trailing_yield_2021": ttm_yield, "dividends_after": n,
            "split_after": str(split) if split is not None else "",
            "schedule": "past year's ex-dates" if len(past_dividends) else
            "default quarterly" if n else "none"}
    return raw, events, info


# ---------------------------------------------------------------------------- assembly
def build_raw(av: pd.DataFrame, actions: pd.DataFrame, prices: pd.DataFrame,
              links: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                            dict[str, Any]]:
    """Build raw closes, events and provenance (see the module docs).

    Parameters
    ----------
    av : pd.DataFrame
        AlphaVantage daily rows: ``date``, ``ticker``, ``close``, ``adj_close``.
    actions : pd.DataFrame
        AlphaVantage actions: ``date``, ``ticker``, ``dividend``, ``split_coefficient``.
    prices : pd.DataFrame
        The packaged adjusted closes (wide, index ``date``).
    links : pd.DataFrame
        :func:`pma_lab.market.tickers.issuer_links` of the universe.

    Returns
    -------
    tuple
        ``raw_closes`` (wide), ``events`` (long), ``provenance`` (one row per ticker) and
        stats for the data card.
    """
    av = av.sort_values(["ticker", "date"])
    by_av = {t: g.set_index("date")[["close", "adj_close"]] for t, g in av.groupby("ticker")}
    acts = {t: g[["date", "dividend", "split_coefficient"]]
            for t, g in actions.groupby("ticker")}
    empty_acts = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"),
                               "dividend": pd.Series(dtype=float),
                               "split_coefficient": pd.Series(dtype=float)})
    olds = renamed_successors(links)
    # which AlphaVantage series each packaged ticker continues
    source: dict[str, str] = {}
    for t in prices.columns:
        if t in by_av:
            source[t] = t
            continue
        cands = [o for o in olds.get(t, []) if o in by_av]
        if cands:
            gaps = {o: _returns_gap(by_av[o].adj_close, prices[t]) for o in cands}
            best = min(gaps, key=gaps.get)
            if gaps[best] < 1e-3:
                source[t] = best
    columns: dict[str, pd.Series] = {}
    events: list[dict[str, Any]] = []
    prov: list[dict[str, Any]] = []
    totals: dict[str, int] = {}
    outputs = sorted(set(prices.columns) | set(by_av))
    for t in outputs:
        a = source.get(t) if t in prices.columns else t
        adj = prices[t].dropna() if t in prices.columns else None
        row: dict[str, Any] = {"ticker": t, "alphavantage_ticker": a or "",
                               "alphavantage_last": pd.NaT, "derived_from": pd.NaT}
        if a is None:
            series = adj
            row["raw_source"] = "adjusted_only"
        else:
            rows = by_av[a]
            ref = adj if adj is not None else None
            evs, counts = clean_actions(t, rows, acts.get(a, empty_acts), ref)
            for k, v in counts.items():
                totals[k] = totals.get(k, 0) + v
            events.extend(evs)
            series = rows.close.astype(float)
            end = rows.index[-1]
            row["alphavantage_last"] = end
            row.update({f"repairs_{k}": counts[k] for k in (
                "phantom_splits_dropped", "missing_splits_added", "share_factors",
                "spinoff_dividends")})
            if adj is not None and end in adj.index and adj.index[-1] > end:
                past = [e for e in evs if e["kind"] == "dividend"
                        and end - pd.Timedelta(days=365) < e["date"] <= end]
                past_df = pd.DataFrame(past, columns=["date", "amount"]) if past else \
                    pd.DataFrame({"date": [], "amount": []})
                raw_after, evs2, info = derive_after(t, adj, float(series.iloc[-1]), end,
                                                     past_df[["date", "amount"]])
                events.extend(evs2)
                series = pd.concat([series, raw_after])
                row.update(info)
                row["derived_from"] = raw_after.index[0]
                row["raw_source"] = "alphavantage+derived"
            else:
                row["raw_source"] = "alphavantage"
        row["first_date"] = series.index[0]
        row["last_date"] = series.index[-1]
        columns[t] = series
        prov.append(row)
    raw = pd.DataFrame(columns).sort_index()
    raw.index.name = "date"
    ev = pd.DataFrame(events, columns=["date", "ticker", "kind", "amount", "source", "note"])
    ev = ev.sort_values(["ticker", "date", "kind"], ignore_index=True)
    ev["date"] = ev["date"].astype("datetime64[ns]")
    provenance = pd.DataFrame(prov)
    for col in ("alphavantage_last", "derived_from", "first_date", "last_date"):
        provenance[col] = provenance[col].astype("datetime64[ns]")
    stats = {"tickers": len(outputs), "repairs": totals,
             "sources": provenance.raw_source.value_counts().to_dict()}
    return raw, ev, provenance, stats


# --------------------------------------------------------------- dated splits after 2021
KNOWN_SPLITS_AFTER_2021: dict[str, tuple[tuple[str, Fraction], ...]] = {
    "NVDA": (("2021-07-20", Fraction(4)), ("2024-06-10", Fraction(10))),
    "CSX": (("2021-06-28", Fraction(3)),),
    "ISRG": (("2021-10-05", Fraction(3)),),
    "ANET": (("2021-11-18", Fraction(4)), ("2024-12-04", Fraction(4))),
    "AMZN": (("2022-06-06", Fraction(20)),),
    "DXCM": (("2022-06-13", Fraction(4)),),
    "GOOGL": (("2022-07-18", Fraction(20)),),
    "GOOG": (("2022-07-18", Fraction(20)),),
    "TSLA": (("2022-08-25", Fraction(3)),),
    "PANW": (("2022-09-14", Fraction(3)), ("2024-12-16", Fraction(2))),
    "WMT": (("2024-02-26", Fraction(3)),),
    "CMG": (("2024-06-26", Fraction(50)),),
    "AVGO": (("2024-07-15", Fraction(10)),),
    "LRCX": (("2024-10-03", Fraction(10)),),
}
"""Ex-dates of well-known splits after 2021-04-21 (public exchange notices). A ticker's
dates are used only when the product of its ratios equals the split ratio the data imply
(raw/adjusted on 2021-04-21); otherwise the derived single event stays (and the provenance
says so)."""


def date_known_splits(events: list[dict[str, Any]], calendar: pd.DatetimeIndex
                      ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Replace the single derived split event by the dated splits of the curated list.

    Returns
    -------
    tuple[list[dict], dict[str, str]]
        The events and, per ticker, ``"dated"`` or why the curated dates were not used.
    """
    out: list[dict[str, Any]] = []
    status: dict[str, str] = {}
    for e in events:
        t = e["ticker"]
        known = KNOWN_SPLITS_AFTER_2021.get(t)
        if not (known and e["source"] == "derived" and e["kind"] == "split"):
            out.append(e)
            continue
        product = Fraction(1)
        for _d, r in known:
            product *= r
        implied = nice_ratio(float(e["amount"]))
        if implied != product:
            # the data's split/dividend decomposition is a guess: the curated ratio wins
            # when the dividend factor it leaves is plausible (>= 1, yield within 5 %/yr)
            d_left = float(e.get("factor_2021", 0.0)) / float(product)
            years = float(e.get("years", 0.0))
            yld = d_left ** (1.0 / years) - 1.0 if years > 0 and d_left > 0 else -1.0
            if not (d_left >= 1.0 and 0.0 <= yld <= 0.05):
                status[t] = f"curated ratio {product} != implied {implied}: one event kept"
                out.append(e)
                continue
            status[t] = (f"dated (curated ratio {product} replaces the implied {implied}; "
                         f"dividend yield left {yld:.2%}/yr)")
        for d, r in known:
            day = calendar[calendar.searchsorted(pd.Timestamp(d))]
            out.append({"date": day, "ticker": t, "kind": "split", "amount": float(r),
                        "source": "derived_dated",
                        "note": f"{r}:1 split; ratio from raw/adjusted, date from the "
                                "curated list"})
            status.setdefault(t, "dated")
    return out, status


# ------------------------------------------------------------------------------- main
def raw_error(view_raw: pd.Series, av_close: pd.Series) -> tuple[float, float]:
    """Median and max relative gap of the rebuilt raw closes to AlphaVantage's closes."""
    common = view_raw.reindex(av_close.index)
    rel = (common / av_close - 1.0).abs().dropna()
    return (float(rel.median()), float(rel.max())) if len(rel) else (np.nan, np.nan)


RAW_SOURCES = {
    "av_daily": "prices/sp500_alphavantage_daily_1999-2021.csv.gz",
    "av_actions": "prices/sp500_alphavantage_corporate_actions_1999-2021.csv",
}
"""The collection's files this build reads (relative to ``--source``), besides the packaged
``prices.parquet``, ``universe.parquet`` and ``membership_intervals.parquet``."""

RAW_OUTPUTS = {"raw_events.parquet": "date", "raw_provenance.parquet": None}
"""The files this build writes, with the column their date coverage is measured on."""


def record_in_manifest(out: Path, source: Path) -> dict:
    """Add the raw-price files' provenance to ``out/manifest.json`` (atomically).

    Each written file gets the entry ``build_market_data.py`` gives its own files (rows,
    columns, dates, bytes, sha256) plus ``generated_by`` (this script) and ``sources`` (the
    keys of the manifest's ``sources`` section and the packaged files it was built from);
    the AlphaVantage sources are added to ``sources`` with their sha256, and counts (events
    by kind and source, tickers by ``raw_source``) to ``stats["raw_prices"]``.
    ``MarketData.verify()`` then checks the raw files like every other one.
    """
    import hashlib
    import json

    import pyarrow.parquet as pq

    from pma_lab.files import write_text

    def sha256_of(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    def iso(value: Any) -> str | None:
        return None if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")

    path = out / "manifest.json"
    manifest = json.loads(path.read_text())
    for key, rel in RAW_SOURCES.items():
        manifest["sources"][key] = {"path": rel, "sha256": sha256_of(source / rel)}
    for name, date_col in RAW_OUTPUTS.items():
        frame = pd.read_parquet(out / name)
        dates = frame[date_col] if date_col else None
        manifest["files"][name] = {
            "rows": int(pq.ParquetFile(out / name).metadata.num_rows),
            "n_columns": int(frame.shape[1]),
            "columns": [str(c) for c in frame.columns],
            "index": None,
            "first_date": iso(dates.min()) if dates is not None else None,
            "last_date": iso(dates.max()) if dates is not None else None,
            "bytes": (out / name).stat().st_size,
            "sha256": sha256_of(out / name),
            "generated_by": "scripts/build_raw_prices.py",
            "sources": [*RAW_SOURCES, "prices.parquet", "universe.parquet",
                        "membership_intervals.parquet"],
        }
    events = pd.read_parquet(out / "raw_events.parquet")
    prov = pd.read_parquet(out / "raw_provenance.parquet")
    manifest["stats"]["raw_prices"] = {
        "events": len(events),
        "events_by_kind": {str(k): int(v) for k, v in events["kind"].value_counts().items()},
        "events_by_source": {str(k): int(v)
                             for k, v in events["source"].value_counts().items()},
        "tickers": len(prov),
        "tickers_by_raw_source": {str(k): int(v)
                                  for k, v in prov["raw_source"].value_counts().items()},
    }
    write_text(path, json.dumps(manifest, indent=1, sort_keys=True, default=str) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Build ``raw_events.parquet`` and ``raw_provenance.parquet`` (see the module docs)."""
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pma_lab.files import write_bytes
    from pma_lab.market.corpactions import EVENT_COLUMNS, build_view
    from pma_lab.market.data import load_market
    from pma_lab.market.tickers import issuer_links

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default="../shared/data/market")
    ap.add_argument("--out", default="data/samples/market")
    a = ap.parse_args(argv)
    src = Path(a.source)
    market = load_market(a.out)
    prices = market.prices.frame()
    av = pd.read_csv(src / RAW_SOURCES["av_daily"], parse_dates=["date"])
    actions = pd.read_csv(src / RAW_SOURCES["av_actions"], parse_dates=["date"])
    links = issuer_links(market.universe.frame(), market.universe.membership())
    _raw, events, prov, stats = build_raw(av, actions, prices, links)
    ev_list, status = date_known_splits(events.to_dict("records"), prices.index)
    events = pd.DataFrame(ev_list, columns=EVENT_COLUMNS)
    # only what the packaged prices can carry: tickers with adjusted closes, dates on them
    events = events[events.ticker.isin(prices.columns)]
    events = events.sort_values(["ticker", "date", "kind"], ignore_index=True)
    events["date"] = events["date"].astype("datetime64[ns]")
    prov = prov[prov.ticker.isin(prices.columns)].reset_index(drop=True)
    prov["split_dates"] = prov.ticker.map(status).fillna("")
    # a curated ratio that replaced the implied one changes the dividend factor left
    # (the derived dividends were sized for the implied ratio): resize them
    for t, st in status.items():
        if st.startswith("dated (curated"):
            implied = prov.loc[prov.ticker == t, "share_factor_after"].iloc[0]
            prod = 1.0
            for _d, r in KNOWN_SPLITS_AFTER_2021[t]:
                prod *= float(r)
            scale = float(implied) / prod  # dividend factor ratio new/old
            m = (events.ticker == t) & (events.kind == "dividend") & \
                (events.source == "derived")
            n = int(m.sum())
            d_old = float(prov.loc[prov.ticker == t, "dividend_factor_after"].iloc[0])
            if n:  # each derived dividend is y x the previous close, (1 - y) ** -n = D
                y_old = 1.0 - d_old ** (-1.0 / n)
                y_new = 1.0 - (d_old * scale) ** (-1.0 / n)
                events.loc[m, "amount"] = events.loc[m, "amount"] * (y_new / y_old)
            prov.loc[prov.ticker == t, "dividend_factor_after"] = \
                float(prov.loc[prov.ticker == t, "dividend_factor_after"].iloc[0]) * scale
    view = build_view(prices, events, prov)
    by_av = {t: g.set_index("date")["close"] for t, g in av.groupby("ticker")}
    med, mx = [], []
    for r in prov.itertuples():
        s = by_av.get(r.alphavantage_ticker) if r.alphavantage_ticker else None
        if s is None:
            med.append(np.nan)
            mx.append(np.nan)
            continue
        m, x = raw_error(view.raw[r.ticker], s)
        med.append(m)
        mx.append(x)
    prov["raw_err_median"] = med
    prov["raw_err_max"] = mx
    keep = ["ticker", "raw_source", "alphavantage_ticker", "alphavantage_last",
            "derived_from", "first_date", "last_date", "factor_2021", "share_factor_after",
            "dividend_factor_after", "trailing_yield_2021", "dividends_after",
            "split_after", "schedule", "split_dates", "raw_err_median", "raw_err_max"]
    prov = prov[[c for c in keep if c in prov.columns]]
    out = Path(a.out)
    for name, frame in (("raw_events.parquet", events), ("raw_provenance.parquet", prov)):
        buf = frame.to_parquet(index=False, compression="zstd")
        write_bytes(out / name, buf)
    record_in_manifest(out, src)
    print({"events": len(events), **stats,
           "raw_err_median_of_medians": float(np.nanmedian(med)),
           "tickers_err_over_1pct": int(np.nansum(np.array(med) > 0.01)),
           "split_dates": status})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
