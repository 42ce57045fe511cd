"""Spaces outside ./spaces/ (issue 23 item 4): every command that reads a token string or an arch.json
takes --space, an unknown space says where nascli looked, and an unknown op gets a hint."""

from __future__ import annotations

import pytest

from nascli.cli import app
from nascli.errors import SpaceSemanticError
from nascli.space import parse_space

MINE = """space mine {
    task = image
    dataset = cifar10
    layers 2 { op: {conv_3x3, sep_conv_3x3} filters = 8 skip: anchor }
}
"""


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A space file in a folder of its own, and a working folder without ./spaces/mine.space."""
    folder = tmp_path / "my_spaces"
    folder.mkdir()
    (folder / "mine.space").write_text(MINE)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return folder / "mine.space"


def test_export_and_eval_take_space_like_render_and_decode(runner, elsewhere, tmp_path):
    arch = tmp_path / "arch.json"
    made = runner.invoke(app, ["decode", "mine: conv_3x3 / sep_conv_3x3 0", "--space", str(elsewhere), "-o", str(arch)])
    assert made.exit_code == 0, made.output
    lost = runner.invoke(app, ["export", str(arch), "-o", str(tmp_path / "model.py")])
    assert lost.exit_code == 2
    message = lost.output.replace("\n", "")
    assert "unknown space 'mine': looked for" in message and "spaces/mine.space" in message
    assert "named by its path" in message and "--space FILE" in message
    found = runner.invoke(app, ["export", str(arch), "--space", str(elsewhere), "-o", str(tmp_path / "model.py")])
    assert found.exit_code == 0, found.output
    assert "class Child(nn.Module)" in (tmp_path / "model.py").read_text()
    tokens = runner.invoke(app, ["export", "mine: conv_3x3 / conv_3x3 -", "--space", str(elsewhere), "-o",
                                 str(tmp_path / "tokens.py")])
    assert tokens.exit_code == 0, tokens.output
    best = runner.invoke(app, ["export", "--best", "--space", str(elsewhere), "-o", str(tmp_path / "b.py")])
    assert best.exit_code == 2 and "--space applies to an arch.json or a token string" in best.output
    refused = runner.invoke(app, ["eval", str(arch), "--epochs", "1"])  # no retraining: it stops at the space
    assert refused.exit_code == 2 and "unknown space 'mine'" in refused.output


def test_a_missing_space_file_says_where_it_was_looked_for(runner, elsewhere):
    result = runner.invoke(app, ["inspect", "missing/mine.space"])
    assert result.exit_code == 2 and "no such space file (looked for " in result.output
    assert "work/missing/mine.space" in result.output.replace("\n", "")


@pytest.mark.parametrize("op, hint", [
    ("linear", "did you mean 'dense'?"),
    ("conv3x3", "did you mean 'conv_3x3'?"),
    ("skip_connect", "did you mean 'identity'?"),
    ("sep_conv_7x7", "did you mean 'sep_conv_5x5'?"),
    ("attention", "the language has no 'attention' op: write it as a plugin op (docs/plugins.md) and load it with --plugin"),
    ("multihead_attention", "and load it with --plugin"),
    ("frobnicate", "an op the language lacks can come from a plugin (docs/plugins.md)"),
])
def test_an_unknown_op_suggests_the_nearest_one_or_a_plugin(op, hint):
    with pytest.raises(SpaceSemanticError) as err:
        parse_space(f"space s {{\n layers 2 {{ op: {{{op}}} filters = 4 }}\n}}", "s.space")
    assert err.value.message.startswith(f"unknown op '{op}' for 'op' (known: conv, ")
    assert err.value.message.endswith(hint), err.value.message


def test_a_layer_op_on_a_cell_edge_is_named_as_such():
    text = ("space s {\n cell a nodes 3 inputs 2 { left: index left_op: {conv} right: index right_op: {none} }\n"
            " cell b nodes 3 inputs 2 stride 2 { left: index left_op: {none} right: index right_op: {none} }\n}")
    with pytest.raises(SpaceSemanticError, match=r"unknown op 'conv' for 'left_op': it can be used in a layer only, not in a cell"):
        parse_space(text, "s.space")
