"""Extreme space files and token strings (issue 19): each is parsed in time proportional to its
length, or refused at once with a one-line error naming the position and the limit."""

from __future__ import annotations

import sys
import time

import pytest

from nascli.cli import app
from nascli.cli.space_cmds import _describe_decision
from nascli.errors import SpaceSemanticError, SpaceSyntaxError
from nascli.space import parse_space
from nascli.space.compiler import compile_space
from nascli.space.parser import MAX_SPACE_CHARS
from nascli.space.transform import MAX_BRANCH_DEPTH

CONV = "conv: 3 3 24 / 5 5 36 0 / 1 7 48 - / 3 3 64 0,2 / 1 1 24 3 / 3 1 36 1,4"


def _table_space(values: str) -> str:
    return "space x {\n task = tabular\n dataset = csv\n layers 2 { op = dense\n units: {" + values + "} } }\n"


def _unique(n: int) -> str:
    return _table_space(",".join(str(i) for i in range(1, n + 1)))


def _one_line_error(result, words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("error: ") and words in result.output.splitlines()[0], result.output


def test_a_duplicate_in_a_megabyte_line_is_reported_at_once(runner, tmp_path):
    """The issue's file: 500,001 values on one line, the second repeating the first. The parser stops
    there; before, the whole line was parsed and transformed first (45 s)."""
    space = tmp_path / "l.space"
    space.write_text("space x { layers 2 { units: {" + "1," * 500000 + "1} } }\n")
    start = time.process_time()
    result = runner.invoke(app, ["inspect", str(space)])
    assert time.process_time() - start < 5  # CPU time of this process: the machine's load does not count
    _one_line_error(result, f"{space}:1:32: duplicate value '1' in choice list")


def _python_calls(text: str) -> int:
    """Python function calls made to parse, check and compile `text`, and to count its architectures."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        compile_space(parse_space(text)).cardinality()
    finally:
        sys.setprofile(None)
    return calls


def test_parsing_costs_the_same_per_value_however_long_the_list():
    """Linear, shown without a clock: four times the values make four times the Python calls (any
    work per value that grows with the list, a rescan or a rebuilt list, would make it 16)."""
    small, large = _python_calls(_unique(2000)), _python_calls(_unique(8000))
    assert large / small < 4.2, (small, large)


def test_the_largest_space_file_parses_within_seconds():
    text = _unique(140_000)  # 140,000 distinct values: 0.9 MB, just inside the limit
    assert len(text) < MAX_SPACE_CHARS
    start = time.process_time()
    compiled = compile_space(parse_space(text))
    assert time.process_time() - start < 60  # about 4 s of CPU here: a generous bound
    assert compiled.cardinality() == 140_000**2


def test_a_space_file_over_the_limit_is_refused_before_parsing(runner, tmp_path):
    space = tmp_path / "big.space"
    space.write_text(_table_space("1" + " " * MAX_SPACE_CHARS))
    start = time.process_time()
    _one_line_error(runner.invoke(app, ["inspect", str(space)]),
                    f"more than {MAX_SPACE_CHARS:,} characters, the most a space file may hold")
    with open(space, "r+b") as file:  # 4 GiB, sparse: refused without being read whole
        file.truncate(4 << 30)
    _one_line_error(runner.invoke(app, ["inspect", str(space)]), "the most a space file may hold")
    assert time.process_time() - start < 2


def test_branches_nested_too_deep_are_refused_with_their_position():
    nested = "".join(f"a{i}: {{ b{i} {{ " for i in range(300)) + "z: {1}" + " } }" * 300
    text = "space x { task = tabular\n layers 2 { op = dense\n units: {1}\n" + nested + " } }"
    with pytest.raises(SpaceSemanticError, match=f"nested more than {MAX_BRANCH_DEPTH} deep") as err:
        parse_space(text, "deep.space")  # was a RecursionError
    assert err.value.where.startswith("deep.space:4:")


@pytest.mark.parametrize("body, words", [
    ("layers " + "9" * 5000 + " { op = dense units: {1} }", "the number of layers must be at most 1000"),  # was int()'s ValueError
    ("layers 2 { op = dense units: {1e999} }", "'1e999' is too large a number"),  # was read as inf
    ("layers 2 { op = dense units: {" + "1" * 5000 + "} }", "is too large a number"),
], ids=["5000-digit-count", "1e999", "5000-digit-value"])
def test_numbers_too_large_are_refused(body, words):
    with pytest.raises(SpaceSemanticError, match=words):
        parse_space("space x { task = tabular " + body + " }")


def test_a_space_file_reads_ascii_digits_only():
    with pytest.raises(SpaceSyntaxError, match="unexpected"):
        parse_space(_table_space("16, ١٦"))


@pytest.mark.parametrize("look_alike", [
    CONV.replace("3 3 24", "３ 3 24", 1),  # a fullwidth digit as a choice's value
    CONV.replace("3 3 24", "3 3 ２４", 1),
    CONV.replace("5 5 36 0", "5 5 36 ٠", 1),  # an Arabic-Indic zero as an anchor's layer
    CONV.replace("5 5 36 0", "5 5 36 ²", 1),  # a superscript two: int() raised, a traceback
    CONV.replace("3 3 24", "3 3 2_4", 1),  # int() reads '2_4' as 24
])
def test_token_strings_read_ascii_digits_only(runner, look_alike):
    assert runner.invoke(app, ["decode", CONV]).exit_code == 0
    result = runner.invoke(app, ["decode", look_alike])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.startswith("error: token string, column "), result.output


def test_an_index_token_reads_ascii_digits_only(runner):
    tokens = "rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"
    assert runner.invoke(app, ["decode", tokens]).exit_code == 0
    result = runner.invoke(app, ["decode", tokens.replace("; 1 0", "; １ 0")])
    assert result.exit_code == 2 and "is not a node" in result.output, result.output


def test_inspect_shortens_a_long_choice_list(runner, tmp_path):
    space = tmp_path / "wide.space"
    space.write_text(_unique(5000))
    result = runner.invoke(app, ["inspect", str(space)])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) < 15  # every value shown wrapped over 1,000 lines
    decision = compile_space(parse_space(space.read_text())).decisions()[0]
    assert _describe_decision(decision) == ("choice", "{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, …, 4999, 5000} (5,000 values)")
