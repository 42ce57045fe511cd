"""The typer app, its consoles, and the one place library errors become exit codes."""

from __future__ import annotations

import functools
from typing import Annotated, Callable, Optional

import typer
from pydantic import ValidationError
from rich.markup import escape

from ..errors import NasError
from ..plugins import load_plugins
from .safe_console import SafeConsole, printable

app = typer.Typer(
    help="Neural architecture search from the command line (NAS, Zoph & Le 2017; ENAS, Pham et al. 2018).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = SafeConsole(highlight=False, soft_wrap=True)
err = SafeConsole(stderr=True, highlight=False, soft_wrap=True)

EXIT_BAD_INPUT = 2


def fail(error: NasError) -> None:
    """Print a library error as one line (plus its source context) and exit 2."""
    err.print(f"[bold red]error:[/] {escape(printable(str(error)))}", soft_wrap=True)
    if error.detail:
        err.print(escape(_fit_caret(_printable_detail(error.detail), err.width)), soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _printable_detail(detail: str) -> str:
    """`detail` with its control characters escaped, and a caret under a quoted line moved right by
    what the escapes before it added, so it still points at the same character."""
    lines = detail.split("\n")
    if len(lines) < 2 or lines[-1].strip() != "^":
        return printable(detail)
    source, caret = lines[-2], lines[-1].index("^")
    lines = [printable(line) for line in lines[:-2]]
    return "\n".join([*lines, printable(source), " " * len(printable(source[:caret])) + "^"])


def _fit_caret(detail: str, width: int) -> str:
    """Cut a quoted source line wider than the terminal to a window around its caret.

    A detail that ends in a caret line (`  source` / `     ^`) is the only kind cut;
    `…` marks each side that was cut.
    """
    lines = detail.split("\n")
    if len(lines) < 2 or lines[-1].strip() != "^" or len(lines[-2]) <= width:
        return detail
    source, caret = lines[-2], lines[-1].index("^")
    room = max(width - 2, 20)  # two columns for the ellipses
    start = max(0, min(caret - room // 2, len(source) - room))
    cut = source[start:start + room]
    left = "…" if start > 0 else ""
    right = "…" if start + room < len(source) else ""
    lines[-2:] = [left + cut + right, " " * (caret - start + len(left)) + "^"]
    return "\n".join(lines)


def command(*args, **kwargs) -> Callable:
    """`app.command` that turns NasError (and pydantic's ValidationError) into exit code 2."""

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*a, **k):
            try:
                return fn(*a, **k)
            except NasError as error:
                fail(error)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(map(str, first["loc"]))
                fail(NasError(f"invalid {where}: {first['msg']}"))

        app.command(*args, **kwargs)(run)
        return fn

    return register


@app.callback()
def load_plugin_modules(
    plugin: Annotated[Optional[list[str]], typer.Option(
        "--plugin", metavar="PATH_OR_MODULE",
        help="Import a plugin that registers ops (a .py file or a module name); repeatable. "
             "Also read from NASCLI_PLUGINS and the 'nascli.plugins' entry points. See docs/plugins.md.")] = None,
) -> None:
    """Load plugins before any command, so spaces can use their ops."""
    try:
        load_plugins(plugin)
    except NasError as error:
        fail(error)
