"""Output files of render, report and export: the format a suffix asks for, and safe writing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import NasError


class OutputError(NasError):
    """An output file nascli cannot write: a format it does not make, or a place it cannot write to."""


def output_format(path: Path, formats: tuple[str, ...]) -> str:
    """The format `path`'s suffix names ('png' for x.png), if it is one of `formats`."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in formats:
        what = f"'.{fmt}' files" if fmt else "a file without a suffix"
        raise OutputError(f"cannot write {what}; use one of: {', '.join('.' + f for f in formats)}", where=str(path))
    return fmt


def check_output(path: Path) -> None:
    """Fail before any work when `path` cannot be a new file: its folder is missing, or it is a folder."""
    path = Path(path)
    try:
        if path.is_dir():
            raise OutputError("is a folder; give a file name", where=str(path))
        if not path.parent.is_dir():
            raise OutputError(f"folder {path.parent} does not exist", where=str(path))
    except OSError as err:  # a name too long for the filesystem, a path through a file
        raise OutputError(f"cannot write: {err.strerror or err}", where=str(path)) from None


def writable_folder(folder: Path) -> Path:
    """`folder`, created if needed, once a file could be written in it; OutputError otherwise.

    For outputs that come after long work (`nascli eval` trains first), so that a
    read-only place fails before the work, not after it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise OutputError(f"cannot write here: {err.strerror or err}", where=str(folder)) from None
    return folder


def write_output(path: Path, data: str | bytes) -> Path:
    """Write `data` to `path`, whose folder must exist, or raise OutputError."""
    check_output(path)
    try:
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    except OSError as err:
        raise OutputError(f"cannot write: {err.strerror or err}", where=str(path)) from None
    return path
