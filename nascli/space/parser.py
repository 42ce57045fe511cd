"""Space file text -> Lark parse tree, with syntax errors that point at the source."""

from __future__ import annotations

import re
from functools import lru_cache

from lark import Lark, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from ..errors import SpaceSyntaxError
from ..resources import grammar_path

# Readable names for the grammar's regex terminals; literal ones show as themselves.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "an integer",
    "SIGNED_NUMBER": "a number",
    "$END": "end of file",
}


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark.open(str(grammar_path()), parser="lalr", propagate_positions=True)


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[terminal]
    term = next((t for t in _parser().terminals if t.name == terminal), None)
    if term is not None and isinstance(term.pattern, PatternStr):
        return f"'{term.pattern.value}'"
    return terminal.lower()


def _expected(err: UnexpectedInput) -> str:
    names = getattr(err, "expected", None) or getattr(err, "allowed", None) or set()
    shown = sorted({_describe(n) for n in names})
    return ", ".join(shown) if shown else "something else"


# What every space file starts with (after comments): `space NAME {`.
_HEADER = re.compile(r"(?:\s|#[^\n]*)*space\s+[A-Za-z_]\w*\s*\{")


def parse_tree(text: str, source: str) -> Tree:
    """Parse `text` (from file `source`); raise SpaceSyntaxError with file:line:col."""
    try:
        return _parser().parse(text)
    except UnexpectedInput as err:
        if not _HEADER.match(text):
            # Not a space file at all (a path mistyped, or someone else's file): show
            # where, never what, since the file may hold secrets.
            raise SpaceSyntaxError("not a space file: it does not start with `space NAME {`",
                                   where=f"{source}:{err.line}:{err.column}") from None
        if isinstance(err, UnexpectedEOF) or (
            isinstance(err, UnexpectedToken) and err.token.type == "$END"
        ):
            found = "end of file"
        elif isinstance(err, UnexpectedToken):
            found = f"'{err.token}'"
        elif isinstance(err, UnexpectedCharacters):
            found = f"'{text[err.pos_in_stream]}'"
        else:  # pragma: no cover - lark has no other subclasses today
            found = "input"
        line = getattr(err, "line", -1)
        column = getattr(err, "column", -1)
        if line is None or line < 1:  # EOF errors carry no position: point past the end
            line = text.count("\n") + 1
            column = len(text.rsplit("\n", 1)[-1]) + 1
        raise SpaceSyntaxError(
            f"unexpected {found}; expected {_expected(err)}",
            where=f"{source}:{line}:{column}",
            detail=_context(text, line, column),
        ) from None


def _context(text: str, line: int, column: int) -> str:
    lines = text.splitlines() or [""]
    src = lines[min(line, len(lines)) - 1]
    return f"  {src}\n  {' ' * (column - 1)}^"
