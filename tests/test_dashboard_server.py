"""The dashboard's Voila template: found from ``voila.json``, and nothing from a CDN.

The page itself is checked in Chromium (``test_dashboard_browser.py``: no request leaves
the machine); here, in under a second, the template's CSS block is rendered with the
very template paths Voila computes, next to Voila's own ``lab`` template (which links
FontAwesome on cdn.jsdelivr.net), so a Voila upgrade that changes how the links are
written fails here first.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from pma_lab.app.dashboard.server import (
    DASHBOARD_TEMPLATE,
    dashboard_template_root,
    use_dashboard_template,
)
from pma_lab.paths import notebooks_dir

LINK = re.compile(r"<link\b[^>]*>", re.I)


def _notebook_css(monkeypatch, template: str) -> str:
    """The ``notebook_css`` block of Voila's ``index.html.j2`` for ``template``."""
    from voila.exporter import VoilaExporter
    from voila.paths import collect_template_paths

    monkeypatch.setenv("JUPYTER_PATH", "")
    use_dashboard_template()  # what notebooks/voila.py does
    paths = collect_template_paths(["voila", "nbconvert"], template, prune=True)
    env = VoilaExporter(template_paths=paths, template_name=template).environment
    chain = [n for n in ("index.html.j2", "voila/templates/lab/index.html.j2",
                         "nbconvert/templates/lab/index.html.j2")
             if template != "lab" or n != "index.html.j2"]
    top = env.get_template(chain[0])

    class Resources(dict):
        __getattr__ = dict.get

    res = Resources(include_js=lambda p: f"<script src='{p}'></script>",
                    include_css=lambda p: f"<link rel='stylesheet' href='{p}'>",
                    include_lab_theme=lambda name: "", theme="light", show_margins=False)
    ctx = top.new_context({"resources": res, "frontend": "voila"})
    for name in chain[1:]:  # the block chain that {{ super() }} walks
        for k, f in env.get_template(name).blocks.items():
            ctx.blocks.setdefault(k, []).append(f)

    async def render() -> str:
        ctx.vars["spinner"] = await env.get_template(
            "spinner.macro.html.j2").make_module_async()
        return "".join([x async for x in top.blocks["notebook_css"](ctx)])

    return asyncio.run(render())


def test_voila_json_names_the_shipped_template():
    conf = json.loads((notebooks_dir() / "voila.json").read_text())
    assert conf["VoilaConfiguration"]["template"] == DASHBOARD_TEMPLATE
    assert "use_dashboard_template()" in (notebooks_dir() / "voila.py").read_text()
    pma = dashboard_template_root() / "voila" / "templates" / DASHBOARD_TEMPLATE
    assert json.loads((pma / "conf.json").read_text()) == {"base_template": "lab"}


def test_use_dashboard_template_prepends_once():
    env = {"JUPYTER_PATH": "/a"}
    root = str(use_dashboard_template(env))
    use_dashboard_template(env)
    assert env["JUPYTER_PATH"].split(":") == [root, "/a"]


def test_dashboard_template_links_nothing_outside(monkeypatch):
    lab = LINK.findall(_notebook_css(monkeypatch, "lab"))
    assert any("cdn.jsdelivr.net" in tag for tag in lab), lab  # what is removed
    ours = LINK.findall(_notebook_css(monkeypatch, DASHBOARD_TEMPLATE))
    assert ours == [tag for tag in lab if "://" not in tag]  # the local ones are kept
    assert ours and not [t for t in ours if "://" in t]


def test_dashboard_template_missing_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setattr("pma_lab.app.dashboard.server.templates_dir", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="reinstall pma_lab"):
        use_dashboard_template({})
