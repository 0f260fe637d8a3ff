"""Figure builders for the research studies: traces and data on tiny hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pma_lab.errors import DataError
from pma_lab.report import charts
from pma_lab.report.charts import (
    bias_figure,
    factor_decomposition_figure,
    names_curve_figure,
    screen_costs_figure,
)


def _names_curve(realized: bool) -> pd.DataFrame:
    df = pd.DataFrame({"names": [80, 30, 500], "date": ["2026-07-31"] * 3,
                       "eligible": [463] * 3, "te_target": [0.012, 0.028, 0.0],
                       "te_top": [0.038, 0.063, 0.0]})
    if realized:
        df["realized_te_target"] = [0.0122, 0.024, 1e-10]
        df["realized_te_top"] = [0.0228, 0.041, 1e-15]
        df["oos_dates"] = 3
        df["realized_ratio"] = df.realized_te_target / df.realized_te_top
    return df


def test_public_api():
    assert set(charts.__all__) >= {"names_curve_figure", "bias_figure",
                                   "screen_costs_figure", "factor_decomposition_figure"}


def test_names_curve_ex_ante_only():
    fig = names_curve_figure(_names_curve(realized=False))
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["optimised target, ex ante",
                                         "naive top-N by cap, ex ante"]
    target = fig.data[0]
    assert list(target.x) == [30, 80, 500]  # sorted by names
    np.testing.assert_allclose(target.y, [2.8, 1.2, 0.0])  # percent
    assert fig.layout.xaxis.type == "log"
    assert list(fig.layout.xaxis.tickvals) == [30, 80, 500]
    assert "%" in fig.layout.yaxis.title.text
    assert "capped at 463 eligible" in target.text[2]
    assert "capped" not in target.text[0]


def test_names_curve_adds_dashed_realized_lines():
    fig = names_curve_figure(_names_curve(realized=True))
    assert len(fig.data) == 4
    dashed = [t for t in fig.data if t.line.dash == "dash"]
    assert [t.name for t in dashed] == ["optimised target, realised",
                                       "naive top-N by cap, realised"]
    np.testing.assert_allclose(dashed[0].y, [2.4, 1.22, 1e-8])
    assert "3 start dates" in dashed[0].text[0]
    assert "target / top-N: 0.59" in dashed[0].text[0]
    # both TEs are round-off at the full set: no meaningless ratio in the hover
    assert "target / top-N" not in dashed[0].text[2]


def test_names_curve_missing_column_is_named():
    with pytest.raises(DataError, match="'te_top'"):
        names_curve_figure(_names_curve(False).drop(columns="te_top"))


def test_bias_figure_bars_band_and_reference_line():
    df = pd.DataFrame({"year": [2018, 2014], "portfolios": [18, 18],
                       "mean_ratio": [1.2, 0.87], "median_ratio": [1.17, 0.87],
                       "share_in_0.7_1.3": [0.83, 1.0], "mean_predicted_te": [0.038, 0.035],
                       "mean_realized_te": [0.046, 0.031]})
    fig = bias_figure(df)
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    assert len(bars) == 1
    assert list(bars[0].x) == ["2014", "2018"]
    np.testing.assert_allclose(bars[0].y, [0.87, 1.2])
    assert "mean predicted TE 3.50%" in bars[0].text[0]
    assert "in band 0.7-1.3: 100%" in bars[0].text[0]
    shapes = fig.layout.shapes
    band = [s for s in shapes if s.type == "rect"]
    line = [s for s in shapes if s.type == "line"]
    assert len(band) == 1 and (band[0].y0, band[0].y1) == (0.7, 1.3)
    assert len(line) == 1 and line[0].y0 == line[0].y1 == 1.0
    medians = [t for t in fig.data if isinstance(t, go.Scatter)]
    np.testing.assert_allclose(medians[0].y, [0.87, 1.17])


def _screens(with_error: bool) -> pd.DataFrame:
    df = pd.DataFrame({
        "restriction": ["none (unscreened target)", "screen: fossil_fuels", "screen: tobacco",
                        "all combined"],
        "excluded_names": [0, 19, 2, 21], "excluded_weight": [0.0, 0.031, 0.004, 0.035],
        "te": [0.0127, 0.0145, 0.0128, 0.0146], "extra_te": [0.0, 0.0018, 0.0001, 0.0019],
        "error": ["", "", "", ""]})
    if with_error:
        df.loc[2, ["te", "extra_te"]] = np.nan
        df.loc[2, "error"] = "no feasible target with 80 names: loosen the sector limits"
    return df


def test_screen_costs_bars_in_bp_with_weight_in_hover():
    fig = screen_costs_figure(_screens(with_error=False))
    assert len(fig.data) == 1
    bar = fig.data[0]
    assert bar.orientation == "h"
    assert list(bar.y) == list(_screens(False).restriction)
    np.testing.assert_allclose(bar.x, [0.0, 18.0, 1.0, 19.0])
    assert "19 names, 3.10% of the benchmark" in bar.text[1]
    assert "bp" in fig.layout.xaxis.title.text
    assert fig.layout.yaxis.autorange == "reversed"  # table order, first row on top
    assert not fig.layout.annotations


def test_screen_costs_error_rows_are_annotated_gaps():
    fig = screen_costs_figure(_screens(with_error=True))
    bar, failed = fig.data
    assert len(bar.y) == 4  # the failed row keeps its place
    assert bar.x[2] is None or np.isnan(bar.x[2])
    assert list(failed.y) == ["screen: tobacco"] and list(failed.x) == [0.0]
    assert "loosen the sector limits" in failed.text[0]
    (note,) = fig.layout.annotations
    assert note.y == "screen: tobacco" and "failed" in note.text


def test_hover_text_reads_missing_values_as_the_proposal_does():
    """One NaN rule (pma_lab.formatting): the failed row's TE reads an en dash, not n/a."""
    from pma_lab.formatting import MISSING, fmt_pct

    bar = screen_costs_figure(_screens(with_error=True)).data[0]
    assert bar.text[2].endswith(f"TE of the target {MISSING}")
    assert f"{fmt_pct(0.004)} of the benchmark" in bar.text[2]
    assert not any("n/a" in t or "nan" in t for t in bar.text)


def test_factor_decomposition_top_by_absolute_share():
    names = [f"f{i}" for i in range(18)] + ["specific"]
    share = np.array([0.3 - 0.01 * i for i in range(18)] + [0.2])
    share[5] = -0.25  # a large diversifying factor is kept and drawn
    variance = share / share.sum() * 0.0016  # total: TE of 4 %
    df = pd.DataFrame({"active_exposure": [0.1] * 18 + [np.nan], "variance": variance,
                       "share": variance / variance.sum()}, index=names)
    fig = factor_decomposition_figure(df, top=15)
    (bar,) = fig.data
    assert len(bar.y) == 15
    assert bar.y[0] == "f0"
    assert "f5" in bar.y and "specific" in bar.y
    left_out = ["f14", "f15", "f16", "f17"]  # the four smallest |share|
    assert not set(left_out) & set(bar.y)
    i = list(bar.y).index("f5")
    assert bar.x[i] < 0 and bar.marker.color[i] != bar.marker.color[0]
    assert bar.text[list(bar.y).index("specific")].startswith("stock-specific")
    np.testing.assert_allclose(sum(bar.x) + 100 * df.share.loc[left_out].sum(),
                               100.0, atol=1e-9)
    assert "%" in fig.layout.xaxis.title.text
    assert "TE 4.00%" in fig.layout.title.text
    assert "4 other factors" in fig.layout.title.text


def test_factor_decomposition_from_a_real_risk_model_shape():
    # the same columns and index as RiskModel.decompose(...)[0], no market data needed
    df = pd.DataFrame({"active_exposure": [0.8, np.nan], "variance": [3e-4, 1e-4],
                       "share": [0.75, 0.25]}, index=["size", "specific"])
    fig = factor_decomposition_figure(df)
    assert list(fig.data[0].y) == ["size", "specific"]
    assert "other factors" not in fig.layout.title.text
    with pytest.raises(DataError, match="top must be at least 1"):
        factor_decomposition_figure(df, top=0)


@pytest.mark.parametrize("builder", [names_curve_figure, bias_figure, screen_costs_figure,
                                     factor_decomposition_figure])
def test_builders_reject_non_frames(builder):
    with pytest.raises(DataError, match="expects a pandas DataFrame"):
        builder({"names": [1]})


def test_offline_renderer_embeds_plotly_js_so_exported_html_draws_charts(capsys):
    import plotly.io as pio

    from pma_lab.report.charts import use_offline_renderer

    before = pio.renderers.default
    try:
        assert use_offline_renderer() == "plotly_mimetype+notebook"
        fig = go.Figure(go.Bar(x=["a"], y=[1]))
        bundle = pio.renderers._build_mime_bundle(fig.to_dict())
        assert "application/vnd.plotly.v1+json" in bundle  # JupyterLab draws from JSON
        # nbconvert's HTML keeps text/html: it draws with the plotly.js the renderer put in
        # the notebook once (inline, "notebook" not "notebook_connected"), never a CDN
        assert "Plotly.newPlot" in bundle["text/html"]
        assert "cdn.plot.ly/plotly" not in bundle["text/html"]
        assert pio.renderers["notebook"].connected is False
    finally:
        pio.renderers.default = before
        capsys.readouterr()  # the activation prints plotly.js outside a notebook


def test_every_notebook_with_a_figure_sets_the_offline_renderer():
    """Reviewer 1 (session 21): notebooks/04_tax_alpha.ipynb drew its decay and lock-in
    figures without ``use_offline_renderer()``, so its HTML export had no plots."""
    import json

    from pma_lab.paths import repo_root

    # the research notebooks (the proposal's figures go through report.proposal's own export)
    for nb in sorted((repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if "_figure(" in code or "plot_" in code:
            assert "use_offline_renderer()" in code, nb.name
