"""Numbers as the space language and token strings write them: ASCII digits only.

Python's `int()` and `float()` also read look-alike digits (`'١٦'`, `'１６'`), digit
separators (`'1_6'`) and surrounding blanks, all as 16; a token string or a space
value spelled so is not the value it looks like, so only these patterns count
as numbers. `NUMBER` is the grammar's SIGNED_NUMBER (lark's common.lark).
"""

from __future__ import annotations

import re

NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
INTEGER = re.compile(r"[0-9]+")


def number(text: str) -> int | float | None:
    """The value of `text` when it is a number (an int when it has no point or exponent), else None.

    An integer too long for `int()` (over 4,300 digits) reads as a float, so as inf: callers that need a
    finite value check for it."""
    if NUMBER.fullmatch(text) is None:
        return None
    try:
        return int(text)
    except ValueError:  # a point or an exponent, or too many digits
        return float(text)


def integer(text: str) -> int | None:
    """The value of `text` when it is a non-negative integer in ASCII digits (at most 18 of them), else None."""
    return int(text) if len(text) <= 18 and INTEGER.fullmatch(text) else None
