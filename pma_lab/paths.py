"""Where pma_lab finds its packaged data, notebooks and report templates.

An installed pma_lab (``pip install .``) holds them inside the package, under
``pma_lab/_resources/{samples,notebooks,templates}`` (see ``setup.py``), found with
:mod:`importlib.resources`; run from a source checkout (or an editable install) it uses
the repository's ``data/samples``, ``notebooks`` and ``templates``. Set the environment
variable ``PMA_LAB_DATA`` to use another copy of the sample data (same layout).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = ["repo_root", "resource_dir", "samples_dir", "market_dir", "clients_dir",
           "client_profile", "bad_inputs_dir", "notebooks_dir", "templates_dir"]

_IN_REPO = {"samples": ("data", "samples"), "notebooks": ("notebooks",),
            "templates": ("templates",)}


def repo_root() -> Path:
    """Return the source checkout's root (the folder holding ``pma_lab/``).

    Only meaningful when running from a checkout; use :func:`resource_dir` for files that
    must also be found in an installed package.
    """
    return Path(__file__).resolve().parents[1]


def resource_dir(kind: str) -> Path:
    """Return the folder of ``kind`` (``"samples"``, ``"notebooks"`` or ``"templates"``).

    The copy inside the installed package when there is one, else the checkout's.

    Raises
    ------
    ValueError
        For another ``kind``.
    """
    if kind not in _IN_REPO:
        raise ValueError(f"unknown resource {kind!r}; use one of {', '.join(_IN_REPO)}")
    shipped = Path(str(resources.files("pma_lab"))) / "_resources" / kind
    if shipped.is_dir():
        return shipped
    return repo_root().joinpath(*_IN_REPO[kind])


def samples_dir() -> Path:
    """Return the sample-data folder (``$PMA_LAB_DATA``, else the packaged samples)."""
    env = os.environ.get("PMA_LAB_DATA")
    return Path(env).resolve() if env else resource_dir("samples")


def market_dir() -> Path:
    """Return the folder with the packaged market data (parquet files)."""
    return samples_dir() / "market"


def clients_dir() -> Path:
    """Return the folder with the sample clients (lots + profile per client)."""
    return samples_dir() / "clients"


def client_profile(ref: str | os.PathLike[str]) -> Path:
    """Resolve a notebook's ``profile`` parameter: a ``profile.toml`` path or a sample's name.

    The notebooks' defaults name a sample client (``"household"``) rather than a path into
    the source tree, so they work the same from a checkout, an installed package and
    papermill run in any folder.

    Parameters
    ----------
    ref : str | os.PathLike
        A path to a profile TOML (relative paths against the working folder), or the name
        of a sample client (a folder of :func:`clients_dir` holding ``profile.toml``).

    Returns
    -------
    Path
        The profile file; a path that does not exist is returned as given, for the
        profile loader to report (:class:`~pma_lab.errors.ProfileError`).

    Raises
    ------
    DataError
        When ``ref`` is a bare name (no folder, no suffix) that is neither a file nor a
        sample client's name (the message lists the sample clients).
    """
    from pma_lab.errors import DataError

    path = Path(ref).expanduser()
    if path.is_file():
        return path.resolve()
    text = str(ref).strip()
    if not text or path.name != text or path.suffix:
        return path  # a path: the loader says it does not exist
    sample = clients_dir() / text / "profile.toml"
    if sample.is_file():
        return sample
    names = sorted(p.parent.name for p in clients_dir().glob("*/profile.toml"))
    raise DataError(f"profile {str(ref)!r} is neither a profile file (looked for "
                    f"{path.resolve()}) nor a sample client's name; give the path to a "
                    f"profile.toml or one of the sample clients: {', '.join(names)} (in "
                    f"{clients_dir()})")


def bad_inputs_dir() -> Path:
    """Return the folder with the malformed-input corpus and its expected-error table."""
    return samples_dir() / "bad"


def notebooks_dir() -> Path:
    """Return the folder with the proposal, dashboard and research notebooks."""
    return resource_dir("notebooks")


def templates_dir() -> Path:
    """Return the folder with the nbconvert templates of the proposal."""
    return resource_dir("templates")
