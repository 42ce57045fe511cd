"""What the CLI prints never drives the terminal: control characters from input are shown escaped.

A name in an arch.json, a run folder's name, a token string or a space file's line can hold
terminal escape sequences (`\\x1b[2J` clears the screen, OSC 52 writes the clipboard) or
bidirectional overrides that reorder what is shown. Every console of the CLI is a
`SafeConsole`: each piece of text it renders has them replaced by their Python escapes
(`\\x1b`, `\\u202e`), whatever command, table or error it comes from. Tabs and newlines are
kept; rich's own styling is emitted after this step and so is untouched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.console import Console
from rich.segment import Segment
from rich.text import Text

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional embeddings, overrides
# and isolates (the "Trojan Source" characters).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character written as its escape: 'a\\x1b[2Jb' -> 'a\\\\x1b[2Jb'."""
    return _CONTROL.sub(_escape, text)


class SafeConsole(Console):
    """A rich Console that escapes control characters in all the text it renders (see the module)."""

    def render_str(self, text: str, **kwargs) -> Text:
        # strings (printed, or in a table's cells) are escaped before rich measures them, so columns fit
        return super().render_str(printable(text), **kwargs)

    def render(self, renderable, options=None) -> Iterable[Segment]:
        # anything else (a Text built elsewhere) is escaped as it is drawn
        for segment in super().render(renderable, options):
            if segment.control or not _CONTROL.search(segment.text):
                yield segment  # rich's own control codes (cursor moves of a live display) pass
            else:
                yield Segment(printable(segment.text), segment.style)
