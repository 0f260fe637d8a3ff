"""Static files of the dashboard's Voila page: plotly's widget code served by URL.

plotly's ``FigureWidget`` is an anywidget whose front-end code (``_esm``, about 5 MB) is
part of the widget's state: the kernel sends it over the websocket with every page load
and the page turns it into a module before any widget is drawn (issue 10: 8 of the 13 s
of the first render under load). :func:`publish_plotly_bundle` (also called by
``notebooks/voila.py``) copies that file, once per server start, into the template's
static folder (a private folder added to ``JUPYTER_PATH``; Voila serves every
``voila/templates/pma/static`` folder on it at ``voila/templates/pma/static/``), and
:func:`plotly_widget_esm` gives the figure a few lines of ``_esm`` that import it from
there, so the page fetches it by URL like any other script (and the browser may cache it).
It is fetched when the figure is drawn, after the other widgets: preloading it (a
``modulepreload`` link in the template) made the page run it before drawing any widget,
which delayed the trades by as long as plotly takes to start (measured, issue 10).
Outside Voila (JupyterLab) nothing changes.

Kept apart from :mod:`pma_lab.app.dashboard.server` so that the kernel (which needs
:func:`plotly_widget_esm`) does not import the Jupyter server.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, MutableMapping
from pathlib import Path

__all__ = ["DASHBOARD_TEMPLATE", "PLOTLY_BUNDLE", "plotly_widget_esm", "publish_plotly_bundle"]

DASHBOARD_TEMPLATE = "pma"
"""The Voila template of the dashboard (``notebooks/voila.json``)."""

PLOTLY_BUNDLE = "plotly-widget.js"
"""plotly's widget code, served at ``voila/templates/pma/static/plotly-widget.js``. The name
stays the same across plotly versions: the server's ETag tells a browser when its cached
copy is stale."""


def _plotly_bundle() -> Path:
    """Plotly's FigureWidget front end (the file ``plotly.basewidget`` reads as ``_esm``)."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "widgetbundle.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly's widget bundle is missing ({path}); reinstall "
                                "plotly (pip install --force-reinstall plotly)")
    return path


def _static_dir(root: str | Path) -> Path:
    return Path(root) / "voila" / "templates" / DASHBOARD_TEMPLATE / "static"


def publish_plotly_bundle(environ: MutableMapping[str, str] | None = None,
                          root: Path | None = None) -> Path:
    """Copy plotly's widget bundle where Voila serves the template's static files.

    The copy goes to ``root`` (default: a new private temporary folder, removed when the
    process ends) under ``voila/templates/pma/static/`` (:data:`PLOTLY_BUNDLE`), and
    ``root`` is appended to ``JUPYTER_PATH`` in ``environ`` (default ``os.environ``; the
    kernels Voila starts inherit it, which is how :func:`plotly_widget_esm` finds it).

    Returns
    -------
    Path
        The copied file.
    """
    env = os.environ if environ is None else environ
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="pma-voila-static-"))
        atexit.register(shutil.rmtree, root, True)
    target = _static_dir(root) / PLOTLY_BUNDLE
    target.parent.mkdir(parents=True, exist_ok=True)
    source = _plotly_bundle()
    part = target.with_name(target.name + ".part")
    shutil.copyfile(source, part)
    os.replace(part, target)  # a half-written bundle is never served
    parts = [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if str(root) not in parts:
        env["JUPYTER_PATH"] = os.pathsep.join([*parts, str(root)])
    return target


def plotly_widget_esm(environ: Mapping[str, str] | None = None) -> str | None:
    """The ``_esm`` that loads plotly's widget bundle by URL, when Voila serves it.

    ``None`` (keep plotly's own ``_esm``) unless the kernel runs under Voila
    (``VOILA_BASE_URL`` is set) and :func:`publish_plotly_bundle` has put the bundle on
    ``JUPYTER_PATH``. The module imports the bundle from the page's own server (the URL
    is made absolute in the browser, so it works behind any host name) and re-exports it.
    """
    env = os.environ if environ is None else environ
    base = env.get("VOILA_BASE_URL")
    if base is None:
        return None
    name = PLOTLY_BUNDLE
    roots = [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if not any((_static_dir(r) / name).is_file() for r in roots):
        return None
    url = f"{base.rstrip('/')}/voila/templates/{DASHBOARD_TEMPLATE}/static/{name}"
    return (f"const m = await import(new URL({json.dumps(url)}, location.href).href);\n"
            "export default m.default;\n")
