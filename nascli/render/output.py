"""Output files of render, report and export: the format a suffix asks for, and safe writing."""

from __future__ import annotations

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


def write_output(path: Path, data: str | bytes) -> Path:
    """Write `data` to `path` (creating its folder), or raise OutputError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    except OSError as err:
        raise OutputError(f"cannot write: {err.strerror or err}", where=str(path)) from None
    return path
