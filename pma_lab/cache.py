"""An opt-in disk cache for expensive, deterministic results (risk models, targets), as data.

Batch runs render many clients at the same as-of date in separate processes (one kernel
per proposal); estimating the same risk model in each is wasted work. When the
environment variable ``PMA_LAB_CACHE`` names a folder, :func:`cached` stores results there,
keyed by a SHA-256 of everything they depend on (the market data's manifest, the
function's arguments and settings, pma_lab's version), so a changed input never reuses a
stale result. Without the variable nothing is cached. ``pma-lab batch`` sets it to a
folder inside its output.

An entry is data, never code: a folder ``<kind>-<key hash>/`` holding NumPy arrays in
``arrays.npz`` (read with ``allow_pickle=False``), DataFrames in parquet files and
everything else in ``entry.json``. Nothing is unpickled, so whoever can write the cache
folder cannot run code through it. Every read is verified: the entry must name the key
hash it is filed under, each data file must match the SHA-256 recorded in ``entry.json``,
and only the dataclasses listed in :data:`CACHEABLE` are rebuilt. An entry that fails a
check is reported (a :class:`CacheWarning`), recomputed and replaced.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib
import io
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

__all__ = ["CACHEABLE", "CacheWarning", "cache_dir", "cache_key", "cached", "entry_path"]

T = TypeVar("T")

CACHEABLE = frozenset({"pma_lab.portfolio.risk.RiskModel",
                       "pma_lab.portfolio.risk.RiskModelSettings",
                       "pma_lab.portfolio.target.Target"})
"""The dataclasses an entry may rebuild (module.qualname); anything else is refused."""

_FORMAT = 1
_ENTRY = "entry.json"
_ARRAYS = "arrays.npz"


class CacheWarning(UserWarning):
    """A cache entry failed verification and was recomputed."""


def cache_dir() -> Path | None:
    """The cache folder from ``PMA_LAB_CACHE`` (``None``: caching is off)."""
    d = os.environ.get("PMA_LAB_CACHE")
    return Path(d) if d else None


def cache_key(kind: str, key: tuple[Any, ...]) -> str:
    """The SHA-256 (hex) an entry is filed under: pma_lab's version, the kind and the key."""
    from pma_lab import __version__

    return hashlib.sha256(repr((__version__, kind, key)).encode()).hexdigest()


def entry_path(kind: str, key: tuple[Any, ...], folder: Path | None = None) -> Path | None:
    """Where the entry for ``key`` lives (``None`` when caching is off)."""
    folder = folder or cache_dir()
    return None if folder is None else folder / f"{kind}-{cache_key(kind, key)}"


def cached(kind: str, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """Return ``compute()``, from the cache when a verified entry for ``key`` exists.

    Writes are atomic (the entry is built in a temporary folder and renamed into place),
    so concurrent processes computing the same entry never read a half-written one.

    Raises
    ------
    TypeError
        When the value holds something the cache cannot store as data (a programming
        error: add the dataclass to :data:`CACHEABLE` or do not cache it).
    """
    path = entry_path(kind, key)
    if path is None:
        return compute()
    digest = path.name.rsplit("-", 1)[1]
    if path.exists() or path.is_symlink():
        try:
            return _read(path, digest)  # type: ignore[no-any-return]
        except _Invalid as e:
            warnings.warn(f"cache entry {path} failed verification ({e}); recomputing it",
                          CacheWarning, stacklevel=2)
    value = compute()
    _write(path, digest, kind, value)
    return value


# ------------------------------------------------------------------------------- encoding
class _Invalid(Exception):
    """An entry that does not pass verification."""


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.frames: dict[str, bytes] = {}

    def encode(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, np.generic):
            return self.encode(v.item())
        if isinstance(v, tuple | list):
            return {"__t": type(v).__name__, "items": [self.encode(x) for x in v]}
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise TypeError("the cache stores dicts with text keys only")
            return {"__t": "dict", "items": {k: self.encode(x) for k, x in v.items()}}
        if isinstance(v, pd.Timestamp | dt.datetime):
            return {"__t": "timestamp", "v": pd.Timestamp(v).isoformat()}
        if isinstance(v, dt.date):
            return {"__t": "date", "v": v.isoformat()}
        if isinstance(v, np.ndarray):
            if v.dtype == object:
                raise TypeError("the cache does not store object arrays")
            name = f"a{len(self.arrays)}"
            self.arrays[name] = v
            return {"__t": "array", "ref": name}
        if isinstance(v, pd.Series | pd.DataFrame):
            frame = v.to_frame(name="__series__") if isinstance(v, pd.Series) else v
            name = f"frame-{len(self.frames)}.parquet"
            buf = io.BytesIO()
            frame.to_parquet(buf)
            self.frames[name] = buf.getvalue()
            return {"__t": "series" if isinstance(v, pd.Series) else "frame", "ref": name,
                    "name": v.name if isinstance(v, pd.Series) else None}
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            qual = f"{type(v).__module__}.{type(v).__qualname__}"
            if qual not in CACHEABLE:
                raise TypeError(f"{qual} is not in pma_lab.cache.CACHEABLE")
            return {"__t": "dataclass", "type": qual,
                    "fields": {f.name: self.encode(getattr(v, f.name))
                               for f in dataclasses.fields(v) if f.init}}
        raise TypeError(f"the cache cannot store a {type(v).__name__} as data")


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], frames: dict[str, pd.DataFrame]):
        self.arrays, self.frames = arrays, frames

    def decode(self, v: Any) -> Any:
        if not isinstance(v, dict):
            if isinstance(v, list):
                raise _Invalid("a bare list in entry.json")
            return v
        t = v.get("__t")
        if t in ("tuple", "list"):
            items = [self.decode(x) for x in v["items"]]
            return tuple(items) if t == "tuple" else items
        if t == "dict":
            return {str(k): self.decode(x) for k, x in v["items"].items()}
        if t == "timestamp":
            return pd.Timestamp(v["v"])
        if t == "date":
            return dt.date.fromisoformat(v["v"])
        if t == "array":
            return self.arrays[v["ref"]]
        if t == "frame":
            return self.frames[v["ref"]]
        if t == "series":
            return self.frames[v["ref"]]["__series__"].rename(v.get("name"))
        if t == "dataclass":
            qual = v["type"]
            if qual not in CACHEABLE:
                raise _Invalid(f"type {qual!r} is not cacheable")
            module, _, name = qual.rpartition(".")
            cls = getattr(importlib.import_module(module), name)
            return cls(**{k: self.decode(x) for k, x in v["fields"].items()})
        raise _Invalid(f"unknown value tag {t!r}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, digest: str, kind: str, value: Any) -> None:
    enc = _Encoder()
    tree = enc.encode(value)
    blobs: dict[str, bytes] = dict(enc.frames)
    if enc.arrays:
        buf = io.BytesIO()
        np.savez(buf, allow_pickle=False, **enc.arrays)
        blobs[_ARRAYS] = buf.getvalue()
    entry = {"format": _FORMAT, "kind": kind, "key_sha256": digest, "value": tree,
             "files": {name: _sha(data) for name, data in blobs.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part"))
    try:
        for name, data in blobs.items():
            (tmp / name).write_bytes(data)
        (tmp / _ENTRY).write_text(json.dumps(entry), encoding="utf-8")
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():  # a bad entry: move it aside, then swap ours in
            trash = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".bad"))
            os.replace(path, trash / "entry")
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.rename(tmp, path)
        except OSError:  # another process wrote the entry meanwhile: keep theirs
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read(path: Path, digest: str) -> Any:
    if path.is_symlink() or not path.is_dir():
        raise _Invalid("not a cache folder")
    try:
        entry = json.loads((path / _ENTRY).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise _Invalid(f"unreadable {_ENTRY}: {type(e).__name__}") from None
    if not isinstance(entry, dict) or entry.get("format") != _FORMAT or \
            entry.get("key_sha256") != digest or not isinstance(entry.get("files"), dict):
        raise _Invalid("the entry does not match its key")
    data: dict[str, bytes] = {}
    for name, want in entry["files"].items():
        f = path / str(name)
        if "/" in name or name.startswith(".") or f.is_symlink() or not f.is_file():
            raise _Invalid(f"missing or unsafe data file {name!r}")
        data[name] = f.read_bytes()
        if _sha(data[name]) != want:
            raise _Invalid(f"{name} does not match its recorded SHA-256")
    try:
        arrays: dict[str, np.ndarray] = {}
        if _ARRAYS in data:
            with np.load(io.BytesIO(data[_ARRAYS]), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        frames = {n: pd.read_parquet(io.BytesIO(b)) for n, b in data.items() if n != _ARRAYS}
        return _Decoder(arrays, frames).decode(entry["value"])
    except _Invalid:
        raise
    except Exception as e:  # noqa: BLE001 - any decoding failure means: recompute
        raise _Invalid(f"{type(e).__name__}: {e}") from None
