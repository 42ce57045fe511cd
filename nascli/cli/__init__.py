"""The `nascli` command: a thin typer layer over the library."""

from . import eval_cmd, search_cmds, space_cmds, view_cmds  # noqa: F401  (registers the commands)
from .app import app


def main() -> None:
    app()
