"""Voila reads this file with voila.json when started in this folder (`make dashboard`).

It makes the dashboard's own Voila template ("template": "pma" in voila.json, in
templates/voila/templates/pma) findable: Voila looks templates up on JUPYTER_PATH.
The template drops the links Voila's "lab" template makes to FontAwesome on a CDN, so
the page fetches nothing from another host. It also serves plotly's widget code as a
static file of that template, so the page loads it by URL instead of receiving 5 MB of
it inside the frontier figure's widget state (first render, issue 10).
"""

from pma_lab.app.dashboard.assets import publish_plotly_bundle
from pma_lab.app.dashboard.server import use_dashboard_template

use_dashboard_template()
publish_plotly_bundle()
