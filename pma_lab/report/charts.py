"""Plotly figures for the research studies.

Each builder takes a DataFrame exactly as a research function returns it and returns a
:class:`plotly.graph_objects.Figure`; none of them calls ``show()`` (the notebook or the
report decides what to display). Tracking errors are stored as annual fractions in the
tables and drawn in percent (or basis points where stated); every point carries hover text
with the numbers behind it.

* :func:`names_curve_figure` — :func:`pma_lab.portfolio.research.names_curve`
* :func:`bias_figure` — :func:`pma_lab.portfolio.research.bias_test`
* :func:`screen_costs_figure` — :func:`pma_lab.portfolio.research.screen_costs`
* :func:`factor_decomposition_figure` — the by-factor table of
  :meth:`pma_lab.portfolio.risk.RiskModel.decompose`
* :func:`use_offline_renderer` — figures that survive a notebook's HTML export
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pma_lab.errors import DataError
from pma_lab.formatting import fmt_num, fmt_pct

__all__ = [
    "names_curve_figure",
    "bias_figure",
    "screen_costs_figure",
    "factor_decomposition_figure",
    "CALIBRATION_BAND",
    "use_offline_renderer",
]

#: Realised / predicted TE ratios inside this band count as calibrated (as in bias_test).
CALIBRATION_BAND = (0.7, 1.3)

_TARGET_COLOR = "#1f4e79"
_TOP_COLOR = "#e3a21a"
_NEGATIVE_COLOR = "#8fb996"
_ERROR_COLOR = "#c0392b"
# legend under the x-axis title, so the two never overlap
_LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0.0}
_NEGLIGIBLE_TE = 1e-6  # 0.0001 % a year: numerically zero tracking error


def _require(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise a DataError naming the missing columns of ``df``.

    Raises
    ------
    DataError
        When ``df`` is not a DataFrame or lacks one of ``columns``.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{what} expects a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"{what}: the table has no column {', '.join(repr(c) for c in missing)} "
            f"(it has {', '.join(map(str, df.columns))}). Pass the DataFrame the research "
            "function returns, unchanged.")


def names_curve_figure(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Tracking error (%) against the number of names.

    Parameters
    ----------
    df : pd.DataFrame
        The output of :func:`pma_lab.portfolio.research.names_curve`: columns ``names``,
        ``te_target``, ``te_top`` and, when out-of-sample dates were given,
        ``realized_te_target``, ``realized_te_top``, ``realized_ratio`` and ``oos_dates``.
    title : str | None
        Figure title (default: a description of the study).

    Returns
    -------
    go.Figure
        Solid lines for the ex-ante TE of the optimised target and of the naive top-N by
        cap; dashed lines for the realised TE when present. The x axis is logarithmic and
        ticked at the grid's name counts.

    Raises
    ------
    DataError
        When a required column is missing.
    """
    _require(df, ["names", "te_target", "te_top"], "names_curve_figure")
    d = df.sort_values("names")
    n = d["names"].to_numpy()
    eligible = d["eligible"].to_numpy() if "eligible" in d else np.full(len(d), np.nan)
    names_text = [f"{int(k)} names" + (f" (capped at {int(e)} eligible)"
                                       if np.isfinite(e) and k > e else "")
                  for k, e in zip(n, eligible, strict=True)]
    fig = go.Figure()
    lines = [("te_target", "optimised target, ex ante", _TARGET_COLOR, "solid"),
             ("te_top", "naive top-N by cap, ex ante", _TOP_COLOR, "solid")]
    realized = {"realized_te_target", "realized_te_top"} <= set(d.columns)
    if realized:
        lines += [("realized_te_target", "optimised target, realised", _TARGET_COLOR, "dash"),
                  ("realized_te_top", "naive top-N by cap, realised", _TOP_COLOR, "dash")]
    for col, label, color, dash in lines:
        extra = [""] * len(d)
        if col.startswith("realized") and "oos_dates" in d:
            extra = [f"<br>mean over {int(k)} start dates" if pd.notna(k) else ""
                     for k in d["oos_dates"]]
        if col == "realized_te_target" and "realized_ratio" in d:
            # at the full eligible set both TEs are round-off; their ratio means nothing
            extra = [f"{e}<br>target / top-N: {r:.2f}"
                     if np.isfinite(r) and top_te > _NEGLIGIBLE_TE else e
                     for e, r, top_te in zip(extra, d["realized_ratio"].astype(float),
                                             d["realized_te_top"].astype(float), strict=True)]
        fig.add_trace(go.Scatter(
            x=n, y=100 * d[col].astype(float), mode="lines+markers", name=label,
            line={"color": color, "dash": dash},
            text=[f"{t}{e}" for t, e in zip(names_text, extra, strict=True)],
            hovertemplate=f"<b>{label}</b><br>%{{text}}<br>TE %{{y:.2f}}%<extra></extra>"))
    sub = "ex ante and realised over the next 12 months" if realized else "ex ante"
    fig.update_layout(
        title=title or f"Tracking error against the number of names ({sub})",
        xaxis={"title": "number of names (log scale)", "type": "log",
               "tickvals": list(n), "ticktext": [str(int(k)) for k in n]},
        yaxis={"title": "tracking error (% a year)", "rangemode": "tozero"},
        height=460, legend=_LEGEND_BELOW, hovermode="closest")
    return fig


def bias_figure(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Mean realised / predicted TE ratio per year, against the calibrated band.

    Parameters
    ----------
    df : pd.DataFrame
        The output of :func:`pma_lab.portfolio.research.bias_test`: columns ``year``,
        ``mean_ratio``, ``median_ratio``, ``share_in_0.7_1.3``, ``mean_predicted_te`` and
        ``mean_realized_te``.
    title : str | None
        Figure title.

    Returns
    -------
    go.Figure
        One bar per year (mean ratio), the median ratio as markers, a reference line at 1
        and a shaded band from 0.7 to 1.3. Hover shows the share of portfolios in the
        band and the mean predicted and realised TE in %.

    Raises
    ------
    DataError
        When a required column is missing.
    """
    cols = ["year", "mean_ratio", "median_ratio", "share_in_0.7_1.3", "mean_predicted_te",
            "mean_realized_te"]
    _require(df, cols, "bias_figure")
    d = df.sort_values("year")
    years = [str(y) for y in d["year"]]
    lo, hi = CALIBRATION_BAND
    n_ports = d["portfolios"] if "portfolios" in d else pd.Series(np.nan, index=d.index)
    hover = [
        (f"{int(p)} portfolios<br>" if pd.notna(p) else "")
        + f"in band {lo}-{hi}: {fmt_pct(s, 0)}<br>mean predicted TE {fmt_pct(pr)}"
        f"<br>mean realised TE {fmt_pct(re)}"
        for p, s, pr, re in zip(n_ports, d["share_in_0.7_1.3"], d["mean_predicted_te"],
                                d["mean_realized_te"], strict=True)]
    fig = go.Figure()
    fig.add_hrect(y0=lo, y1=hi, fillcolor="#2e8b57", opacity=0.12, line_width=0, layer="below")
    fig.add_hline(y=1.0, line={"color": "black", "dash": "dash", "width": 1},
                  annotation_text="calibrated (1.0)", annotation_position="top left")
    fig.add_trace(go.Bar(
        x=years, y=d["mean_ratio"].astype(float), name="mean ratio", marker_color=_TARGET_COLOR,
        text=hover, hovertemplate="<b>%{x}</b><br>mean ratio %{y:.2f}<br>%{text}"
                                  "<extra></extra>", textposition="none"))
    fig.add_trace(go.Scatter(
        x=years, y=d["median_ratio"].astype(float), mode="markers", name="median ratio",
        marker={"color": _TOP_COLOR, "size": 10, "symbol": "diamond"},
        hovertemplate="<b>%{x}</b><br>median ratio %{y:.2f}<extra></extra>"))
    top = float(np.nanmax(np.r_[d["mean_ratio"].astype(float),
                                d["median_ratio"].astype(float), hi]))
    fig.update_layout(
        title=title or "Risk model calibration: realised / predicted tracking error "
                       f"(band {lo}-{hi})",
        xaxis={"title": "year (model estimated at the first trading day)", "type": "category"},
        yaxis={"title": "realised / predicted TE (1 = calibrated)", "range": [0, 1.1 * top]},
        height=440, legend=_LEGEND_BELOW, bargap=0.4)
    return fig


def screen_costs_figure(df: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Extra tracking error (bp) of each screen, with failed rows shown as annotated gaps.

    Parameters
    ----------
    df : pd.DataFrame
        The output of :func:`pma_lab.portfolio.research.screen_costs`: columns ``restriction``,
        ``excluded_names``, ``excluded_weight``, ``te``, ``extra_te`` and ``error``.
    title : str | None
        Figure title.

    Returns
    -------
    go.Figure
        Horizontal bars of extra TE in basis points, one per restriction in table order
        (first at the top); hover shows the excluded names and benchmark weight (%) and
        the target's TE (%). A row with an error has no bar: an ``x`` marker at zero
        carries the error text in its hover and an annotation names the failure.

    Raises
    ------
    DataError
        When a required column is missing.
    """
    _require(df, ["restriction", "excluded_names", "excluded_weight", "te", "extra_te",
                  "error"], "screen_costs_figure")
    d = df.reset_index(drop=True)
    labels = d["restriction"].astype(str).tolist()
    err = d["error"].fillna("").astype(str)
    failed = (err.str.len() > 0) | d["extra_te"].isna()
    ok = ~failed
    extra_bp = 1e4 * d["extra_te"].astype(float)
    hover = [f"excluded: {fmt_num(k)} names, {fmt_pct(w)} of the benchmark<br>TE of the target "
             f"{fmt_pct(t)}" for k, w, t in zip(d["excluded_names"], d["excluded_weight"],
                                              d["te"], strict=True)]
    fig = go.Figure()
    fig.add_trace(go.Bar(
        y=labels, x=extra_bp.where(ok), orientation="h", name="extra TE",
        marker_color=[_NEGATIVE_COLOR if v < 0 else _TARGET_COLOR
                      for v in extra_bp.fillna(0.0)],
        text=hover, textposition="none",
        hovertemplate="<b>%{y}</b><br>extra TE %{x:.1f} bp<br>%{text}<extra></extra>"))
    if failed.any():
        why = [textwrap.shorten(e or "no result (extra TE is missing)", 300)
               for e in err[failed]]
        fig.add_trace(go.Scatter(
            y=[labels[i] for i in np.flatnonzero(failed)], x=[0.0] * int(failed.sum()),
            mode="markers", name="failed", marker={"symbol": "x", "size": 12,
                                                     "color": _ERROR_COLOR},
            text=[f"{h}<br><b>failed:</b> {'<br>'.join(textwrap.wrap(w, 70))}"
                  for h, w in zip([hover[i] for i in np.flatnonzero(failed)], why,
                                  strict=True)],
            hovertemplate="<b>%{y}</b><br>%{text}<extra></extra>"))
        for i, w in zip(np.flatnonzero(failed), why, strict=True):
            fig.add_annotation(y=labels[i], x=0.0, xanchor="left", xshift=10, showarrow=False,
                               text=f" failed: {textwrap.shorten(w, 60)}",
                               font={"color": _ERROR_COLOR, "size": 11})
    fig.update_layout(
        title=title or "What each screen costs: extra tracking error over the unscreened target",
        xaxis={"title": "extra tracking error (bp a year)", "zeroline": True},
        yaxis={"title": "", "autorange": "reversed", "type": "category"},
        height=max(300, 120 + 32 * len(d)), showlegend=bool(failed.any()),
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right",
                "x": 1.0}, margin={"l": 220})
    return fig


def factor_decomposition_figure(by_factor: pd.DataFrame, top: int = 15,
                                title: str | None = None) -> go.Figure:
    """Share of tracking variance by factor (the largest ``top`` in absolute value).

    Parameters
    ----------
    by_factor : pd.DataFrame
        The first DataFrame of :meth:`pma_lab.portfolio.risk.RiskModel.decompose`: indexed by factor
        (including ``"specific"``), with columns ``active_exposure``, ``variance`` and
        ``share``.
    top : int
        How many factors to draw; the rest are summed in the title.
    title : str | None
        Figure title (default names the total tracking error).

    Returns
    -------
    go.Figure
        Horizontal bars of each factor's share of tracking variance in %, largest at the
        top. Euler contributions can be negative (a diversifying exposure); those bars are
        drawn in a lighter colour. Hover shows the active exposure and the variance
        contribution.

    Raises
    ------
    DataError
        When a required column is missing or ``top`` is not positive.
    """
    _require(by_factor, ["active_exposure", "variance", "share"],
             "factor_decomposition_figure")
    if top < 1:
        raise DataError(f"factor_decomposition_figure: top must be at least 1, got {top}")
    d = by_factor.astype({"variance": float, "share": float})
    order = d["share"].abs().sort_values(ascending=False, kind="stable").index
    shown, rest = d.loc[order[:top]], d.loc[order[top:]]
    total_var = float(d["variance"].sum())
    te = float(np.sqrt(total_var)) if total_var > 0 else np.nan
    hover = [f"active exposure {x:+.3f}" if np.isfinite(x) else "stock-specific risk"
             for x in shown["active_exposure"].astype(float)]
    hover = [f"{h}<br>variance {1e4 * v:.3f} %²" for h, v in
             zip(hover, shown["variance"], strict=True)]
    fig = go.Figure(go.Bar(
        y=[str(i) for i in shown.index], x=100 * shown["share"], orientation="h",
        marker_color=[_NEGATIVE_COLOR if s < 0 else _TARGET_COLOR for s in shown["share"]],
        text=hover, textposition="none", name="share",
        hovertemplate="<b>%{y}</b><br>share %{x:.1f}%<br>%{text}<extra></extra>"))
    note = (f"; {len(rest)} other factors {100 * float(rest['share'].sum()):+.1f}%"
            if len(rest) else "")
    fig.update_layout(
        title=title or f"Tracking variance by factor (TE {fmt_pct(te)}{note})",
        xaxis={"title": "share of tracking variance (%)", "zeroline": True},
        yaxis={"title": "", "autorange": "reversed", "type": "category"},
        height=max(300, 120 + 26 * len(shown)), showlegend=False, margin={"l": 300})
    return fig


def use_offline_renderer() -> str:
    """Make plotly figures in a notebook survive HTML export, offline.

    Sets plotly's default renderer to ``plotly_mimetype+notebook``: JupyterLab draws the
    figure from its JSON, and the exported HTML carries plotly.js once (inlined, no CDN),
    so a notebook converted with ``jupyter nbconvert --to html`` shows its charts without a
    network. Returns the renderer set.
    """
    import plotly.io as pio

    pio.renderers.default = "plotly_mimetype+notebook"
    return pio.renderers.default
