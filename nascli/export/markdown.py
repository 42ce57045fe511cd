"""Names and paths from run folders and files, written into MODEL.md so they cannot change what it says.

A name can hold Markdown (`*`, `[`, `<`), backticks, newlines, terminal
control characters, bidirectional overrides or bytes that are not UTF-8
(os.fsdecode's surrogates). In text every ASCII punctuation character that
Markdown could read as markup is backslash-escaped (CommonMark lets any be),
and every control, format or surrogate character is written as its escape
(`\\n`, `\\x1b`, `\\u202e`). In code, a span's or block's fence is longer
than any run of backticks inside, and a command's words are shell-quoted
(bash's `$'...'` where a word holds such a character, so the command stays
exact).
"""

from __future__ import annotations

import re
import shlex
import string
import unicodedata

# What Markdown (CommonMark, GitHub's) reads as markup, a link, an autolink (`www.`, `a@b`, `http:`) or
# HTML; `/`, `-`, `,` and quotes stay as they are, so paths read as paths (a name never starts a line here)
_PUNCTUATION = set(string.punctuation) - set("/-,;?%'\"")
_BACKTICKS = re.compile(r"`+")


def _hidden(ch: str) -> bool:
    return unicodedata.category(ch).startswith("C")  # Cc controls, Cf format (bidi), Cs surrogates, Co, Cn


def _escape(ch: str) -> str:
    """`ch` as bash's $'...' and Python both read it: \\n, \\x1b, \\xff (a surrogate: its byte), \\u202e."""
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8
        return f"\\x{code - 0xDC00:02x}"
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch)
    if named:
        return named
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str) -> str:
    """`text` with every control, format and surrogate character written as its escape."""
    return "".join(_escape(ch) if _hidden(ch) else ch for ch in text)


def md_text(text: str) -> str:
    """`text` as literal Markdown text: nothing in it is markup, a link, HTML or a line break."""
    return "".join("\\" + ch if ch in _PUNCTUATION else ch for ch in visible(text))


def _fence(text: str, least: int) -> str:
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    return "`" * max(least, longest + 1)


def md_code(text: str) -> str:
    """`text` as an inline code span (shown as is; control characters as escapes)."""
    shown = visible(text)
    fence = _fence(shown, 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def md_block(text: str, info: str = "") -> str:
    """`text` as a fenced code block (`info`: its language); no line of it can close the fence."""
    shown = "\n".join(visible(line) for line in text.split("\n"))
    fence = _fence(shown, 3)
    return f"{fence}{info}\n{shown}\n{fence}\n"


def shell_word(word: str) -> str:
    """`word` quoted for bash: shlex.quote, or $'...' where it holds a character a terminal would not show."""
    if not any(_hidden(ch) for ch in word):
        return shlex.quote(word)
    body = "".join(_escape(ch) if _hidden(ch) else ("\\" + ch if ch in "\\'" else ch) for ch in word)
    return f"$'{body}'"


def shell_command(words: list[str], width: int = 88) -> str:
    """`words` as one bash command, quoted, wrapped with ` \\` continuations before options past `width`."""
    lines, line = [], ""
    for word in map(shell_word, words):
        if line and word.startswith("--") and len(line) + 1 + len(word) > width:
            lines.append(line + " \\")
            line = "   "
        line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])
