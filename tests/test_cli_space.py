"""`nascli inspect / sample / decode` in-process: output, exit codes, no tracebacks."""

from __future__ import annotations

import json

from nascli.cli import app

WORKED = "rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"


def test_inspect_json_has_exact_cardinality(runner):
    result = runner.invoke(app, ["inspect", "spaces/enas_macro.space", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["name"] == "enas_macro"
    assert data["cardinality"] == 6**12 * 2**66
    assert len(data["decisions"]) == 12 + 11


def test_inspect_json_per_depth(runner):
    data = json.loads(runner.invoke(app, ["inspect", "conv", "--json"]).output)
    assert data["cardinality"] == 64**15 * 2**105
    assert data["cardinality_by_depth"]["6"] == 64**6 * 2**15


def test_inspect_table(runner):
    result = runner.invoke(app, ["inspect", "rnn"])
    assert result.exit_code == 0
    assert "63,331,869,759,897,600" in result.output and "cell_index" in result.output


def test_sample_is_seeded(runner):
    a = runner.invoke(app, ["sample", "conv", "-n", "5", "--seed", "3"]).output.splitlines()
    b = runner.invoke(app, ["sample", "conv", "-n", "5", "--seed", "3"]).output.splitlines()
    c = runner.invoke(app, ["sample", "conv", "-n", "5", "--seed", "4"]).output.splitlines()
    assert a == b != c and len(a) == 5 and all(line.startswith("conv: ") for line in a)
    assert all(len(line.split("/")) == 15 for line in a)  # the deepest depth by default


def test_sample_depth(runner):
    out = runner.invoke(app, ["sample", "conv", "-n", "2", "--depth", "6"]).output.splitlines()
    assert all(len(line.split("/")) == 6 for line in out)
    bad = runner.invoke(app, ["sample", "conv", "--depth", "7"])
    assert bad.exit_code == 2 and "allows 6, 8, 10, 12, 14, 15" in bad.output


def test_decode_writes_the_worked_example_equations(runner, tmp_path):
    result = runner.invoke(app, ["decode", WORKED, "-o", str(tmp_path / "arch.json")])
    assert result.exit_code == 0, result.output
    for line in ["a0 = tanh(W1·x_t + W2·h_{t-1})", "a1 = relu((W3·x_t) ⊙ (W4·h_{t-1}))",
                 "a0 ← relu(a0 + c_{t-1})", "a2 = sigmoid(a0 ⊙ a1)", "h_t = a2", "c_t = (W3·x_t) ⊙ (W4·h_{t-1})"]:
        assert line in result.output
    assert json.loads((tmp_path / "arch.json").read_text())["tokens"] == WORKED


def test_decode_json(runner):
    data = json.loads(runner.invoke(app, ["decode", WORKED, "--json"]).output)
    assert data["tokens"] == WORKED and data["tree"]["cell_index"] == {"out": 1, "inject": 0}


def test_decode_with_space_override(runner, tmp_path):
    space = tmp_path / "mine.space"
    space.write_text((__import__("nascli").space.find_space_file("rnn_base2")).read_text())
    result = runner.invoke(app, ["decode", WORKED, "--space", str(space)])
    assert result.exit_code == 0


def test_bad_token_string_exits_2_with_one_line(runner):
    result = runner.invoke(app, ["decode", "rnn_base2: add gelu / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"])
    assert result.exit_code == 2
    first = result.output.splitlines()[0]
    assert first.startswith("error: token string, column 16: 'gelu' is not a value of tree[0].activation")
    assert "Traceback" not in result.output


def test_malformed_space_file_exits_2(runner, tmp_path):
    bad = tmp_path / "bad.space"
    bad.write_text("space bad {\n  layers 3 {\n    filters: {24 36}\n  }\n}\n")
    result = runner.invoke(app, ["inspect", str(bad)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0].startswith(f"error: {bad}:3:18: unexpected '36'")
    assert lines[1].strip() == "filters: {24 36}" and lines[2].strip() == "^"


def test_missing_space_exits_2(runner):
    result = runner.invoke(app, ["inspect", "nosuch.space"])
    assert result.exit_code == 2 and "no such space file" in result.output
    result = runner.invoke(app, ["inspect", "nosuch"])
    assert result.exit_code == 2 and "unknown space 'nosuch'" in result.output
