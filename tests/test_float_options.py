"""Every float option of every command refuses inf and nan (issue 19): walks the whole CLI, so an
option added later without `nascli.cli.numbers.float_option` fails here."""

from typing import Annotated, Optional

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from nascli.cli import app
from nascli.cli.numbers import float_option


def _float_options(group) -> list[tuple[list[str], str]]:
    """(command path, option name) of every float option, in every command and sub-command."""
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found += [([name, *path], option) for path, option in _float_options(command)]
            continue
        for param in command.params:
            descriptor = getattr(param, "type_descriptor", None)
            if descriptor is not None and descriptor.annotation is float:
                found.append(([name], param.opts[0]))
    return found


FLOAT_OPTIONS = _float_options(typer.main.get_command(app))


def test_the_walk_finds_the_float_options():
    names = {option for _, option in FLOAT_OPTIONS}
    assert {"--controller-lr", "--reward-power", "--failed-reward", "--entropy-weight", "--child-timeout",
            "--gpus-per-child"} <= names


@pytest.mark.parametrize("path, option", FLOAT_OPTIONS, ids=[" ".join(p) + " " + o for p, o in FLOAT_OPTIONS])
def test_every_float_option_refuses_inf_and_nan(runner, path, option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an option that slipped through must not find a run or a space here
    for value in ("inf", "-inf", "nan", "Infinity"):
        result = runner.invoke(app, [*path, option, value])
        assert result.exit_code == 2, (option, value, result.output)
        assert f"Invalid value for '{option}'" in result.output and "finite number" in result.output, result.output
    helped = runner.invoke(app, [*path, "--help"], terminal_width=400)
    assert "finite" in helped.output  # the help says what the options accept


def _mini(**bounds) -> typer.Typer:
    mini = typer.Typer()

    @mini.command()
    def main(x: Annotated[Optional[float], float_option(help="x.", **bounds)] = None) -> None:
        print(f"x={x}")

    return mini


@pytest.mark.parametrize("bounds, good, bad", [
    ({"above": 0}, ["1e-9", "3"], ["0", "-1", "nan", "inf"]),
    ({"at_least": 0}, ["0", "2.5"], ["-1e-9", "nan", "inf"]),
    ({}, ["-5", "0", "7"], ["nan", "-inf", "inf"]),
])
def test_float_option_bounds(bounds, good, bad):
    runner, mini = CliRunner(), _mini(**bounds)
    assert runner.invoke(mini, []).output.strip() == "x=None"  # an Optional one left out stays None
    for value in good:
        result = runner.invoke(mini, ["--x", value])
        assert result.exit_code == 0 and result.output.strip() == f"x={float(value)}", result.output
    for value in bad:
        result = runner.invoke(mini, ["--x", value])
        assert result.exit_code == 2 and "is not a finite number" in result.output, (value, result.output)
