"""The `nascli` command: a thin typer layer over the library."""

# Imported in the order `nascli --help` lists the commands.
from . import space_cmds, check_cmd, search_cmds, compare_cmd, eval_cmd, fidelity_cmd, view_cmds, track_cmd, data_cmd, latency_cmd  # noqa: F401,I001
from .app import app


def main() -> None:
    app()
