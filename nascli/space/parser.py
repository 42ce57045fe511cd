"""Space file text -> Lark parse tree, with syntax errors that point at the source."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from ..errors import SpaceSemanticError, SpaceSyntaxError
from ..resources import grammar_path
from .literals import number

# The most a space file may hold. The bundled ones are under 3 KB; a megabyte of values parses in a
# few seconds, and the parser's time and memory grow with the text, so this bounds both.
MAX_SPACE_CHARS = 1 << 20

# Readable names for the grammar's regex terminals; literal ones show as themselves.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "an integer",
    "SIGNED_NUMBER": "a number",
    "$END": "end of file",
}


def literal(token: Token) -> int | float | str:
    """A value token's value: a name as itself, a number as an int or a float (so 1 and 1.0 are equal)."""
    return str(token) if token.type == "NAME" else number(str(token))


class ChoiceValues(list):
    """(token, value) of each value of one choice list, in order, and the set of the values read so far."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set = set()


class _DuplicateValue(Exception):
    def __init__(self, token: Token):
        super().__init__(str(token))
        self.token = token


class _ReadValues:
    """Lark's callback for the grammar's `values` rule, run as the parser reduces it: once per value.

    Each value joins its list's ChoiceValues (numbers compare by value: 1e-3 repeats 0.001, and 1.0
    repeats 1), so a duplicate stops the parse where it stands, and a list of n values costs n steps
    and one list instead of a tree per value."""

    @staticmethod
    def values(children: list) -> ChoiceValues:
        *before, token = children
        read = before[0] if before else ChoiceValues()
        value = literal(token)
        if value in read.seen:
            raise _DuplicateValue(token)
        read.seen.add(value)
        read.append((token, value))
        return read


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark.open(str(grammar_path()), parser="lalr", propagate_positions=True, transformer=_ReadValues())


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


def _keywords() -> list[str]:
    """The grammar's word keywords (`layers`, `tree`, `from`, ...), read from the grammar itself."""
    return [t.pattern.value for t in _parser().terminals
            if isinstance(t.pattern, PatternStr) and t.pattern.value.isalpha()]


def _did_you_mean(err: UnexpectedInput) -> str:
    """A hint for a mistyped keyword: the unexpected word, or the word just before it."""
    if not isinstance(err, UnexpectedToken) or err.token.type == "$END":
        return ""
    expected = [_describe(n).strip("'") for n in err.expected]
    if err.token.type == "NAME":  # `layers 15 frm 6 ...`: the word itself is the typo
        close = difflib.get_close_matches(str(err.token), [w for w in expected if w.isalpha()], n=1, cutoff=0.7)
        if close:
            return f"; did you mean '{close[0]}'?"
    before = (err.token_history or [None])[-1]
    if before is not None and before.type == "NAME":  # `layer 4 {`: read as a setting's name
        close = difflib.get_close_matches(str(before), _keywords(), n=1, cutoff=0.7)
        if close and close[0] != str(before):
            return f"; did you mean '{close[0]}' instead of '{before}' (line {before.line}, column {before.column})?"
    return ""


def _line_start(text: str, at: int) -> int:
    return text.rfind("\n", 0, at) + 1


def _indent(text: str, at: int) -> int:
    line = text[_line_start(text, at):]
    return len(line) - len(line.lstrip(" \t"))


def _open_braces(text: str) -> tuple[list[int], list[int]]:
    """Offsets of the `{` still open at the end of `text`, and of those closed by a `}` out of line.

    Brace counting alone names the outermost block (its `}` was taken by an inner
    one), so a `}` that starts a line but does not line up with its `{` points at
    the block that really misses its own `}`.
    """
    opened: list[int] = []
    misaligned: list[int] = []
    for match in re.finditer(r"#[^\n]*|[{}]", text):
        if match.group() == "{":
            opened.append(match.start())
        elif match.group() == "}" and opened:
            start, close = opened.pop(), match.start()
            starts_line = not text[_line_start(text, close):close].strip()
            if starts_line and _indent(text, close) != _indent(text, start):
                misaligned.append(start)
    return opened, misaligned


def _brace(text: str, at: int) -> str:
    """The `{` at offset `at`, named by what precedes it on its line (`layers 15 ...`, `filters:`)."""
    line = text.count("\n", 0, at) + 1
    column = at - _line_start(text, at) + 1
    opener = re.split(r"[{}]", text[_line_start(text, at):at])[-1].strip()
    what = f" of '{opener}'" if opener else ""
    return f"the '{{'{what} opened at line {line}, column {column}"


def _unclosed_brace(text: str) -> str:
    """The hint for an unexpected end of file: which `{` is never closed."""
    opened, misaligned = _open_braces(text)
    if not opened:
        return ""
    return f"; {_brace(text, misaligned[0] if misaligned else opened[-1])} is never closed"


def _open_choice_list(text: str, err: UnexpectedInput) -> str:
    """The hint for a choice list (`name: {...`) left open on an earlier line."""
    if not isinstance(err, UnexpectedToken) or "RBRACE" not in err.expected:
        return ""
    opened, _ = _open_braces(text[:err.token.start_pos])
    if not opened or text.count("\n", 0, opened[-1]) + 1 >= err.line:
        return ""
    if not text[_line_start(text, opened[-1]):opened[-1]].rstrip().endswith((":", "=")):
        return ""
    return f"; {_brace(text, opened[-1])} is never closed"


def parse_tree(text: str, source: str) -> Tree:
    """Parse `text` (from file `source`); raise SpaceSyntaxError with file:line:col.

    A choice list's values come as one ChoiceValues child of its `choices` node, already free of duplicates."""
    if len(text) > MAX_SPACE_CHARS:
        raise SpaceSyntaxError(f"more than {MAX_SPACE_CHARS:,} characters, the most a space file may hold",
                               where=source)
    try:
        return _parser().parse(text)
    except _DuplicateValue as dup:
        token = dup.token
        raise SpaceSemanticError(f"duplicate value '{token}' in choice list", where=f"{source}:{token.line}:{token.column}",
                                 detail=source_context(text, token.line, token.column)) from None
    except UnexpectedInput as err:
        if not _HEADER.match(text):
            # Not a space file at all (a path mistyped, or someone else's file): show
            # where, never what, since the file may hold secrets.
            raise SpaceSyntaxError("not a space file: it does not start with `space NAME {`",
                                   where=f"{source}:{err.line}:{err.column}") from None
        hint = _did_you_mean(err) or _open_choice_list(text, err)
        if isinstance(err, UnexpectedEOF) or (
            isinstance(err, UnexpectedToken) and err.token.type == "$END"
        ):
            found = "end of file"
            hint = _unclosed_brace(text)
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
            f"unexpected {found}{hint}" if found == "end of file" and hint
            else f"unexpected {found}; expected {_expected(err)}{hint}",
            where=f"{source}:{line}:{column}",
            detail=source_context(text, line, column),
        ) from None


def source_context(text: str, line: int, column: int) -> str:
    """The source line at `line` and a caret under `column`: an error's detail."""
    lines = text.splitlines() or [""]
    src = lines[min(line, len(lines)) - 1]
    return f"  {src}\n  {' ' * (column - 1)}^"
