"""plotly's widget code served by URL from the dashboard's Voila template (issue 10).

The page used to receive the frontier figure's 5 MB ``_esm`` inside the widget state
(one 5.3 MB websocket frame before any widget was drawn). The browser test measures
the first render; here, in well under a second, the parts: the bundle is copied where
Voila serves the template's static files, the kernel's figure then imports it by URL
(only under Voila).
"""

from __future__ import annotations

import os
from pathlib import Path

import plotly

from pma_lab.app.dashboard.assets import (
    DASHBOARD_TEMPLATE,
    PLOTLY_BUNDLE,
    plotly_widget_esm,
    publish_plotly_bundle,
)
from pma_lab.app.dashboard.server import dashboard_template_root, use_dashboard_template
from pma_lab.paths import notebooks_dir

BUNDLE = Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"
URL = f"/voila/templates/{DASHBOARD_TEMPLATE}/static/{PLOTLY_BUNDLE}"


def test_bundle_is_copied_where_voila_serves_the_template_static_files(tmp_path,
                                                                      monkeypatch):
    from voila.paths import collect_static_paths

    env = {"JUPYTER_PATH": "/somewhere"}
    use_dashboard_template(env)
    target = publish_plotly_bundle(env, root=tmp_path)
    publish_plotly_bundle(env, root=tmp_path)  # again: same file, root listed once
    assert target.read_bytes() == BUNDLE.read_bytes()
    assert not list(target.parent.glob("*.part"))
    parts = env["JUPYTER_PATH"].split(os.pathsep)
    assert parts == [str(dashboard_template_root()), "/somewhere", str(tmp_path)]
    # Voila's static handler looks the file up in these folders (the template first)
    monkeypatch.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])
    roots = collect_static_paths(["voila", "nbconvert"], DASHBOARD_TEMPLATE, prune=True)
    assert target.parent.as_posix() in [Path(r).as_posix() for r in roots]


def test_figure_imports_the_bundle_by_url_only_under_voila(tmp_path, monkeypatch):
    from pma_lab.app.dashboard.widgets import FrontierFigure

    env = {"JUPYTER_PATH": str(tmp_path)}
    assert plotly_widget_esm(env) is None  # not published yet
    publish_plotly_bundle(env, root=tmp_path)
    assert plotly_widget_esm(env) is None  # JupyterLab: plotly's own inline bundle
    env["VOILA_BASE_URL"] = "/"
    esm = plotly_widget_esm(env)
    assert f'"{URL}"' in esm and "export default m.default" in esm
    assert len(esm) < 300
    env["VOILA_BASE_URL"] = "/proxy/base/"
    assert f'"/proxy/base{URL}"' in plotly_widget_esm(env)
    # the figure carries the short module in its state, not the 5 MB bundle
    opened: list[str] = []
    real_open = FrontierFigure.open

    def spy(self):
        opened.append(self.get_state()["_esm"])
        real_open(self)

    monkeypatch.setattr(FrontierFigure, "open", spy)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    monkeypatch.setenv("VOILA_BASE_URL", "/")
    fig = FrontierFigure()
    monkeypatch.delenv("VOILA_BASE_URL")
    plain = FrontierFigure()
    assert fig.get_state()["_esm"] == esm.replace("/proxy/base", "")
    assert opened[0] == esm.replace("/proxy/base", "")  # already in the comm's first message
    assert len(plain.get_state()["_esm"]) > 1_000_000


def test_voila_py_publishes_the_bundle():
    assert "publish_plotly_bundle()" in (notebooks_dir() / "voila.py").read_text()
