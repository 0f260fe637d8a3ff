"""Server side of the dashboard: a kernel manager that caps how many kernels Voila runs.

Every page load starts a kernel (about 0.5 GB each with the dashboard's data), so an
anonymous visitor reloading the page could exhaust the machine. ``notebooks/voila.json``
names :class:`CappedKernelManager` as Voila's kernel manager:

* at most ``max_kernels`` kernels run at once (preheated ones included); a page load
  beyond that is answered ``503`` with a message to try again shortly, and no kernel is
  started;
* a preheated kernel that is used is replaced only when there is room again (the refill
  waits instead of exceeding the cap);
* together with the culling settings in ``voila.json`` (kernels without a browser
  connected are shut down after ``cull_idle_timeout`` seconds), an abandoned page frees
  its place within a minute;
* a kernel handed to a page gets ``cull_idle_timeout`` seconds to be connected before it
  may be culled. A preheated kernel's last activity is the end of its preheating, which
  can be long before the page asks for it: without this grace the culler could shut it
  down between the page load and the browser's websocket, and the page would be left
  with a kernel that does not exist.

Voila 0.5 wraps the configured class in its preheating manager; the cap works with and
without preheating.

The page is rendered with the project's Voila template ``pma`` (``voila.json``:
``"template": "pma"``; ``templates/voila/templates/pma``): Voila's ``lab`` template
without its links to FontAwesome on a CDN, so the page fetches nothing from another host.
:func:`use_dashboard_template` (called by ``notebooks/voila.py``, which Voila reads with
``voila.json``) puts the template's root on ``JUPYTER_PATH``, where Voila looks for
templates; an installed pma_lab finds it inside the package (:mod:`pma_lab.paths`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import MutableMapping
from pathlib import Path

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Float, Int

from pma_lab.app.dashboard.assets import DASHBOARD_TEMPLATE
from pma_lab.paths import templates_dir

__all__ = ["CappedKernelManager", "DASHBOARD_TEMPLATE", "dashboard_template_root",
           "use_dashboard_template"]


def dashboard_template_root() -> Path:
    """The folder that holds ``voila/templates/pma`` (a root of Jupyter's data path).

    Raises
    ------
    FileNotFoundError
        When the template is missing (a damaged installation): reinstall pma_lab.
    """
    root = templates_dir()
    if not (root / "voila" / "templates" / DASHBOARD_TEMPLATE / "conf.json").is_file():
        raise FileNotFoundError(
            f"the dashboard's Voila template is missing from {root / 'voila' / 'templates'}; "
            "reinstall pma_lab (pip install pma_lab) or restore templates/voila from git")
    return root


def use_dashboard_template(environ: MutableMapping[str, str] | None = None) -> Path:
    """Put :func:`dashboard_template_root` first on ``JUPYTER_PATH`` (once) and return it.

    ``environ`` defaults to ``os.environ`` (where Voila looks the template up).
    """
    env = os.environ if environ is None else environ
    root = str(dashboard_template_root())
    parts = [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if root not in parts:
        env["JUPYTER_PATH"] = os.pathsep.join([root, *parts])
    return Path(root)


class CappedKernelManager(AsyncMappingKernelManager):
    """An ``AsyncMappingKernelManager`` that never runs more than ``max_kernels`` kernels."""

    max_kernels = Int(4, config=True,
                      help="Most kernels running at once (page loads beyond it get a 503).")
    refill_poll = Float(2.0, config=True,
                        help="Seconds between checks for room when refilling the pool.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._starting = 0
        self._first_seen: dict[str, float] = {}  # kernel id -> first cull check (monotonic)
        pooled = getattr(self, "get_pool_size", None)  # set by Voila's preheating wrapper
        if pooled is not None:
            def get_pool_size(notebook_name: str) -> int:
                # a pooled kernel that is still waiting for room must not hold a page load
                # until a place frees up: report no pool, so the page gets the 503 at once
                n = pooled(notebook_name)
                if n and self.full and not self._pool_ready(notebook_name):
                    return 0
                return n

            self.get_pool_size = get_pool_size

    @property
    def running(self) -> int:
        """Kernels running or starting."""
        return len(self.list_kernel_ids()) + self._starting

    @property
    def full(self) -> bool:
        """True when no other kernel may start."""
        return self.running >= self.max_kernels

    def _pool_ready(self, notebook_name: str) -> bool:
        pools = getattr(self, "_pools", {})
        return any(t.done() and not t.cancelled() and t.exception() is None
                   for t in pools.get(notebook_name, ()))

    async def start_kernel(self, *args, **kwargs) -> str:
        """Start a kernel if there is room (see the module docs).

        Raises
        ------
        tornado.web.HTTPError
            503 when ``max_kernels`` kernels are running (page loads only; a pool refill
            waits for room instead).
        """
        preheat = str((kwargs.get("env") or {}).get("VOILA_PREHEAT", "")) == "True"
        while self.full:
            if not preheat:
                self.log.warning("Refusing a new kernel: %d of %d running", self.running,
                                 self.max_kernels)
                text = (f"The dashboard is serving its maximum of {self.max_kernels} "
                        "sessions; close an unused tab or try again in a minute")
                raise web.HTTPError(503, text, reason=text)  # the page shows the reason
            await asyncio.sleep(self.refill_poll)
        self._starting += 1
        try:
            return await super().start_kernel(*args, **kwargs)
        finally:
            self._starting -= 1

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        """Cull an idle kernel, but only ``cull_idle_timeout`` after it was first checked.

        Voila's preheating wrapper never passes pooled kernels here, so the first check
        of a kernel comes within ``cull_interval`` of handing it to a page.
        """
        now = time.monotonic()
        live = set(self.list_kernel_ids())
        for k in [k for k in self._first_seen if k not in live]:
            del self._first_seen[k]
        first = self._first_seen.setdefault(kernel_id, now)
        if now - first < self.cull_idle_timeout:
            return
        await super().cull_kernel_if_idle(kernel_id)
