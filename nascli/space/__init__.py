"""Space files -> SearchSpace IR: `parse_space(text)` and `load_space(path or name)`."""

from __future__ import annotations

from pathlib import Path

from ..errors import SpaceNotFoundError
from ..resources import spaces_dir
from .ir import SearchSpace
from .parser import MAX_SPACE_CHARS, parse_tree
from .transform import to_space

__all__ = ["SearchSpace", "parse_space", "load_space", "bundled_spaces", "find_space_file", "read_space_text"]


def parse_space(text: str, source: str = "<string>") -> SearchSpace:
    """Parse and check one space file's text; errors name `source`."""
    return to_space(parse_tree(text, source), text, source)


def bundled_spaces() -> dict[str, Path]:
    """The spaces that ship with nascli, by file stem (= declared name)."""
    return {p.stem: p for p in sorted(spaces_dir().glob("*.space"))}


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError as err:  # a name longer than the filesystem allows
        raise SpaceNotFoundError(f"no such space: {err.strerror}", where=str(path)) from None


def find_space_file(ref: str | Path) -> Path:
    """A path to a .space file, or the name of a space in ./spaces/ or the bundled ones."""
    path = Path(ref)
    if _is_file(path):
        return path
    if path.is_dir():
        raise SpaceNotFoundError("is a directory, not a space file", where=str(ref))
    if path.suffix == ".space" or "/" in str(ref):
        raise SpaceNotFoundError("no such space file", where=str(ref))
    for folder in (Path.cwd() / "spaces", spaces_dir()):
        candidate = folder / f"{ref}.space"
        if _is_file(candidate):
            return candidate
    known = ", ".join(bundled_spaces())
    raise SpaceNotFoundError(f"unknown space '{ref}'; expected a .space file or one of: {known}")


def read_space_text(path: str | Path) -> str:
    """A space file's text, without the UTF-8 byte-order mark some editors put first.

    Read up to one character past the parser's limit: a longer file is refused by the parser
    without being read whole."""
    try:
        with open(path, encoding="utf-8-sig") as file:
            return file.read(MAX_SPACE_CHARS + 1)
    except (OSError, UnicodeDecodeError) as err:
        raise SpaceNotFoundError(f"cannot read space file: {err}", where=str(path)) from None


def load_space(ref: str | Path) -> SearchSpace:
    path = find_space_file(ref)
    return parse_space(read_space_text(path), str(path))
