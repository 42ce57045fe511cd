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
        raise SpaceNotFoundError(f"no such space file (looked for {path.absolute()})", where=str(ref))
    folders = (Path.cwd() / "spaces", spaces_dir())
    for folder in folders:
        candidate = folder / f"{ref}.space"
        if _is_file(candidate):
            return candidate
    raise SpaceNotFoundError(unknown_space_message(str(ref), folders))


def unknown_space_message(name: str, folders: tuple[Path, ...]) -> str:
    """Where nascli looked for a space named `name`, and how to name a file anywhere else."""
    looked = " and ".join(dict.fromkeys(str(folder / f"{name}.space") for folder in folders))
    known = ", ".join(bundled_spaces())
    return (f"unknown space '{name}': looked for {looked} (the bundled spaces are {known}); "
            f"a space file elsewhere is named by its path (e.g. ./{name}.space or path/to/{name}.space), "
            f"or with --space FILE where a command reads a token string or an arch.json")


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
