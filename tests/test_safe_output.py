"""Terminal escape sequences in input are printed escaped, never raw (issue 19): in errors, in
tables, in every command's output, through the CLI's one console class."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rich.table import Table

from nascli.arch import decode, save_architecture
from nascli.cli import app
from nascli.cli.app import _fit_caret, _printable_detail
from nascli.cli.safe_console import SafeConsole, printable

sys.path.insert(0, str(Path(__file__).parent))
from test_report import make_run  # noqa: E402  (a run built in a store, no training)

CONV = "conv: 3 3 24 / 5 5 36 0 / 1 7 48 - / 3 3 64 0,2 / 1 1 24 3 / 3 1 36 1,4"
CLEAR = "\x1b[2J"  # clears the screen
TITLE = "\x1b]0;owned\x07"  # sets the terminal's title (OSC), ends with BEL
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def _no_raw_controls(text: str) -> None:
    assert not any(c in text for c in RAW), repr(text)


def test_printable_escapes_controls_and_keeps_tabs_and_newlines():
    assert printable(f"a{CLEAR}b") == "a\\x1b[2Jb"
    assert printable("x\x07\x00\x7f\x9b") == "x\\x07\\x00\\x7f\\x9b"
    assert printable("abc\u202edef") == "abc\\u202edef"  # a right-to-left override reorders what is shown
    assert printable("tab\tand\nnewline, é, 中文, ×") == "tab\tand\nnewline, é, 中文, ×"


def test_the_console_escapes_input_in_any_renderable_and_keeps_its_own_styles():
    console = SafeConsole(force_terminal=True, color_system="standard", width=80, highlight=False)
    table = Table("name")
    table.add_row(f"evil{CLEAR}name")
    with console.capture() as captured:
        console.print(f"[bold]bold[/] {TITLE}title", table)
    shown = captured.get()
    assert "\x1b[1mbold" in shown  # rich's own escape codes still style the text
    assert "\\x1b]0;owned\\x07title" in shown and "evil\\x1b[2Jname" in shown  # the cell is as wide as shown
    assert "\x07" not in shown and CLEAR not in shown


def test_a_caret_still_points_at_its_character_after_escaping():
    detail = f"  layers {{ {CLEAR}x }}\n{' ' * 11}^"  # the caret is under the escape character
    lines = _printable_detail(detail).split("\n")
    assert lines[0] == "  layers { \\x1b[2Jx }" and lines[1].index("^") == lines[0].index("\\x1b")
    assert _fit_caret(_printable_detail(detail), 200) == "\n".join(lines)


def test_a_token_string_with_an_escape_is_quoted_escaped(runner):
    result = runner.invoke(app, ["decode", CONV.replace("5 5 36 0", f"5 5 {CLEAR}36 0")])
    assert result.exit_code == 2 and "'\\x1b[2J36' is not a value of layers[1].filters" in result.output
    _no_raw_controls(result.output)
    source, caret = result.output.splitlines()[1:3]
    assert caret.index("^") == source.index("\\x1b")


@pytest.mark.parametrize("field", ["space", "tokens"])
def test_an_arch_json_field_with_an_escape_is_quoted_escaped(runner, tmp_path, field):
    path = tmp_path / "arch.json"
    save_architecture(decode(CONV), path)
    record = json.loads(path.read_text())
    record[field] = record[field].replace("conv", f"conv{TITLE}", 1)
    path.write_text(json.dumps(record))
    for command in (["render", str(path)], ["export", str(path), "-o", str(tmp_path / "m.py")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "\\x1b]0;owned\\x07" in result.output, result.output
        _no_raw_controls(result.output)


def test_a_run_folder_named_with_escapes_is_listed_escaped(runner, tmp_path):
    make_run(tmp_path / "runs" / f"run{TITLE}{CLEAR}")
    result = runner.invoke(app, ["runs", "--root", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "\\x1b" in result.output
    _no_raw_controls(result.output)
