"""Where pma_lab finds its packaged data.

The sample data lives in ``data/samples`` at the repository root. Set the environment
variable ``PMA_LAB_DATA`` to use another copy (it must have the same layout).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["repo_root", "samples_dir", "market_dir", "clients_dir", "bad_inputs_dir"]


def repo_root() -> Path:
    """Return the repository root (the folder holding ``pma_lab/`` and ``data/``)."""
    return Path(__file__).resolve().parents[1]


def samples_dir() -> Path:
    """Return the sample-data folder (``$PMA_LAB_DATA`` or ``<repo>/data/samples``)."""
    env = os.environ.get("PMA_LAB_DATA")
    return Path(env).resolve() if env else repo_root() / "data" / "samples"


def market_dir() -> Path:
    """Return the folder with the packaged market data (parquet files)."""
    return samples_dir() / "market"


def clients_dir() -> Path:
    """Return the folder with the sample clients (lots + profile per client)."""
    return samples_dir() / "clients"


def bad_inputs_dir() -> Path:
    """Return the folder with the malformed-input corpus and its expected-error table."""
    return samples_dir() / "bad"
