"""An opt-in disk cache for expensive, deterministic results (risk models).

Batch runs render many clients at the same as-of date in separate processes (one kernel
per proposal); estimating the same risk model in each is wasted work. When the
environment variable ``PMA_LAB_CACHE`` names a folder, :func:`cached` stores results there
as pickles keyed by a hash of everything they depend on (the market data's manifest, the
function's arguments and settings, pma_lab's version), so a changed input never reuses a
stale result. Without the variable nothing is cached. ``pma-lab batch`` sets it to a
folder inside its output.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["cache_dir", "cached"]

T = TypeVar("T")


def cache_dir() -> Path | None:
    """The cache folder from ``PMA_LAB_CACHE`` (``None``: caching is off)."""
    d = os.environ.get("PMA_LAB_CACHE")
    return Path(d) if d else None


def cached(kind: str, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """Return ``compute()``, from the cache when an entry for ``key`` exists.

    Writes are atomic (a temporary file renamed into place), so concurrent processes
    computing the same entry never read a half-written file.
    """
    folder = cache_dir()
    if folder is None:
        return compute()
    from pma_lab import __version__

    digest = hashlib.sha256(repr((__version__, kind, key)).encode()).hexdigest()[:32]
    path = folder / f"{kind}-{digest}.pkl"
    if path.is_file():
        with path.open("rb") as f:
            return pickle.load(f)
    value = compute()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return value
