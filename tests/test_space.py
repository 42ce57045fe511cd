"""The space language: every bundled space parses, exact counts, and each class of error."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from nascli.errors import SpaceSemanticError, SpaceSyntaxError
from nascli.space import bundled_spaces, load_space, parse_space
from nascli.space.compiler import compile_space

ALL_SPACES = sorted(bundled_spaces())


PAPER_SPACES = ["conv", "conv_pool", "conv_strides", "enas_macro", "enas_micro", "enas_rnn", "rnn", "rnn_base2"]


def test_the_paper_spaces_and_the_newer_ones_are_bundled():
    assert ALL_SPACES == sorted(PAPER_SPACES + ["darts", "mlp", "mobilenet", "nb201", "resnet"])


DOCS_COUNTS = {
    "nb201": 5**6,  # NAS-Bench-201: 6 edges, 5 ops each
    # DARTS: per cell, nodes 2..5 each pick 2 of the j earlier nodes and 2 of 8 ops.
    "darts": ((2 * 8) * (3 * 8) * (4 * 8) * (5 * 8)) ** 4,
    # MobileNet-like: stage 1 (3 kernels); 3 stride blocks of 3 x 2 x 2; 7 optional blocks of 12 + identity.
    "mobilenet": 3 * 12**3 * 13**7,
    # ResNet-like: 3 stages, each of 1..5 blocks (nothing decided per block) and 3 widths.
    "resnet": (5 * 3) ** 3,
}


@pytest.mark.parametrize("name", sorted(DOCS_COUNTS))
def test_newer_spaces_counts_are_the_docs(name):
    exact = DOCS_COUNTS[name]
    assert count(name) == exact
    table = (Path(__file__).resolve().parents[1] / "docs" / "spaces.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
    assert f"{exact:,}" in row


@pytest.mark.parametrize("name", ALL_SPACES)
def test_bundled_space_parses_and_names_itself(name):
    space = load_space(name)
    assert space.name == name
    assert len(space.sha256) == 64


def count(name, depth=None):
    return compile_space(load_space(name)).cardinality(depth)


def test_rnn_space_count_is_the_papers_6e16():
    # 15 nodes x (2 combines x 4 activations), inject 2x4, cell index 15 x 15.
    assert count("rnn") == 8**15 * 8 * 15 * 15 == 63_331_869_759_897_600
    assert round(count("rnn") / 1e16) == 6


def test_enas_macro_count_is_exact():
    assert count("enas_macro") == 6**12 * 2**66


def test_worked_example_space_count():
    assert count("rnn_base2") == 8**3 * 8 * 3 * 3


def test_conv_count_per_depth_follows_the_schedule():
    compiled = compile_space(load_space("conv"))
    assert compiled.depths == [6, 8, 10, 12, 14, 15]
    for d in compiled.depths:
        assert compiled.cardinality(d) == 64**d * 2 ** (d * (d - 1) // 2)
    assert compiled.depth_at(0) == 6 and compiled.depth_at(1599) == 6
    assert compiled.depth_at(1600) == 8 and compiled.depth_at(10**6) == 15


def test_conv_strides_and_pool_counts():
    assert count("conv_strides", 6) == (64 * 3) ** 6 * 2**15
    # conv_pool: per layer 4*4*4*3 conv settings + 2*2 pool settings, times the anchors.
    assert count("conv_pool", 6) == (192 + 4) ** 6 * 2**15


def test_enas_micro_and_rnn_counts():
    per_cell = math.prod((5 * j) ** 2 for j in range(2, 7))
    assert count("enas_micro") == per_cell**2
    assert count("enas_rnn") == 4**12 * math.factorial(11)


def test_decision_order_and_conditions():
    compiled = compile_space(load_space("conv_pool"))
    first = [d.path for d in compiled.decisions(6)[:7]]
    assert first == ["layers[0].op", "layers[0].filter_height", "layers[0].filter_width", "layers[0].filters",
                     "layers[0].stride", "layers[0].pool_size", "layers[0].stride"]
    conds = [d.condition for d in compiled.decisions(6)[:7]]
    assert conds == [None] + [("op", "conv")] * 4 + [("op", "max_pool")] * 2
    # layer 0 has nothing earlier to skip from; layer 5 may read layers 0..4
    skips = [d for d in compiled.decisions(6) if d.name == "skip"]
    assert [d.group for d in skips] == [1, 2, 3, 4, 5]
    assert skips[-1].candidates == (0, 1, 2, 3, 4)


def test_index_candidates():
    micro = compile_space(load_space("enas_micro")).decisions()
    left = [d for d in micro if d.path.startswith("normal") and d.name == "left"]
    assert [d.candidates for d in left] == [tuple(range(j)) for j in range(2, 7)]
    tree = [d for d in compile_space(load_space("rnn")).decisions() if d.name in ("out", "inject") and d.kind == "index"]
    assert [len(d.candidates) for d in tree] == [15, 15]


def test_language_expresses_hyper_parameters_and_settings():
    space = parse_space("""
        # a learning-rate choice the controller predicts, and search defaults
        space tiny {
            task = image
            dataset = cifar10
            epochs = 3
            hyper { lr: {0.1, 0.05, 1e-3} }
            layers 2 { filter_height: {1, 3} filter_width = 3 filters = 8 skip: anchor }
        }""")
    compiled = compile_space(space)
    assert space.settings == {"task": "image", "dataset": "cifar10", "epochs": 3}
    assert [d.path for d in compiled.decisions()] == ["hyper.lr", "layers[0].filter_height", "layers[1].filter_height", "layers[1].skip"]
    assert compiled.cardinality() == 3 * 2 * 2 * 2
    assert [o.value for o in compiled.decisions()[0].options] == [0.1, 0.05, 0.001]


def parse_error(text, kind=SpaceSemanticError):
    with pytest.raises(kind) as info:
        parse_space(text, "bad.space")
    return info.value


def test_syntax_error_points_at_file_line_column_with_caret():
    err = parse_error("space s {\n  layers 3 {\n    filters: {24 36}\n  }\n}\n", SpaceSyntaxError)
    assert err.where == "bad.space:3:18"
    assert err.message.startswith("unexpected '36'; expected ',', '}'")
    assert err.detail.splitlines() == ["      filters: {24 36}", "                   ^"]


def test_syntax_error_at_end_of_file():
    err = parse_error("space s {\n  layers 3 {", SpaceSyntaxError)
    assert err.where.startswith("bad.space:2:") and "end of file" in err.message


def test_syntax_error_on_a_stray_character():
    err = parse_error("space s { layers 3 { filters: {24 $ 36} } }", SpaceSyntaxError)
    assert err.where == "bad.space:1:35" and "'$'" in err.message


BASE = "space s {{\n{body}\n}}"


@pytest.mark.parametrize("body, where, words", [
    ("layers 3 { filters: {} }", "2:21", "empty choice list"),
    ("layers 3 { filters: {24, 24} }", "2:26", "duplicate value"),
    ("layers 3 { filters: {24} filters: {36} }", "2:26", "duplicate decision 'filters'"),
    ("let a = {1}\nlet a = {2}", "3:5", "duplicate let"),
    ("layers 3 { filters: {24, tanh} }", "2:26", "positive integers"),
    ("layers 3 { filters: {24, 0} }", "2:26", "must be positive"),
    ("layers 0 { filters: {24} }", "2:8", "at least 1"),
    ("tree base 1 { combine: {add} activation: {tanh} }", "2:11", "at least 2"),
    ("layers 3 { op: {conv_9x9} filters = 3 }", "2:17", "unknown op 'conv_9x9'"),
    ("layers 3 { filter_height: sizes }", "2:27", "'sizes' is not defined"),
    ("layers 3 { colour: {1} }", "2:12", "unknown decision 'colour'"),
    ("layers 3 { skip: index }", "2:12", "must be 'anchor'"),
    ("layers 3 { filters: {24} }", "2:1", "need a 'filter_height'"),
    ("task = music\nlayers 3 { filters: {24} }", "2:8", "unknown task"),
    ("task = language\nlayers 2 { filter_height = 1 filter_width = 1 filters = 1 }", "2:8", "does not fit"),
    ("dag nodes 4 { prev: index }", "2:1", "needs a 'activation'"),
    ("tree base 2 { combine: {add} activation: {tanh} inject { combine: {add} activation: {tanh} } }", "2:1", "'cell_index' is missing"),
    ("cell c nodes 4 inputs 2 { left: index left_op: {identity} right: index right_op: {conv} }", "2:83", "unknown op 'conv'"),
    ("cell c nodes 2 inputs 2 { left: index }", "2:14", "at least 3"),
    ("", "1:1", "no blocks"),
    ("colour = red\nlayers 3 { filters: {24} }", "2:1", "unknown setting 'colour'"),
    ("epochs = 0\nlayers 3 { filters: {24} }", "2:10", "must be positive"),
    ("hyper { colour: {1} }\nlayers 3 { filters: {24} }", "2:9", "unknown decision 'colour' in hyper"),
    ("hyper { lr: {0.1, 0} }\nlayers 3 { filters: {24} }", "2:19", "'lr' must be positive"),
    ("hyper { lr: anchor }\nlayers 3 { filters: {24} }", "2:9", "must be a choice"),
])
def test_semantic_errors_carry_a_position(body, where, words):
    err = parse_error(BASE.format(body=body))
    assert err.where == f"bad.space:{where}", err
    assert words in err.message
    assert err.detail and "^" in err.detail
