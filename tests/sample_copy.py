"""A sample client copied into a test's folder, with its files edited (tests/ is on sys.path).

Several tests need a sample client with one change (a restriction, a lot, an income): they
copy its folder and edit a file's text. :func:`copy_sample_client` does both, and refuses an
edit whose text is not there (a sample file changed since the test was written).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from pma_lab.paths import clients_dir


def copy_sample_client(name: str, folder: Path,
                       edits: Sequence[tuple[str, str, str]] = (),
                       append: Mapping[str, str] | None = None) -> Path:
    """Copy sample client ``name``'s files into ``folder``; return its profile's path.

    ``edits``: ``(file, old, new)`` text replacements, each of text the file holds (once
    replaced); ``append``: ``file -> text`` added at the end of the file.
    """
    for f in (clients_dir() / name).iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    for file, old, new in edits:
        path = folder / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{name}/{file} no longer holds {old!r}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    for file, text in (append or {}).items():
        with open(folder / file, "a", encoding="utf-8") as fh:
            fh.write(text)
    return folder / "profile.toml"
