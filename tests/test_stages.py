"""Network shapes in the language: tied decisions, plain chains (`skip = previous`), fixed skip sets
(`skip = all`, `skip = {1, 3}`), and stages
(several layers blocks, one after another, each with its own width, stride and choices)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from nascli.arch import decode
from nascli.children import build_child
from nascli.data.base import ImageTask
from nascli.errors import SpaceSemanticError
from nascli.render import architecture_tree, to_dot
from nascli.space import parse_space
from nascli.space.compiler import compile_space

TINY = ImageTask(channels=3, height=8, width=8, classes=4)


def _compiled(body: str):
    return compile_space(parse_space("space s {\n" + body + "\n}", "s.space"))


def test_a_tied_decision_takes_the_other_ones_value_and_is_no_decision():
    square = _compiled("layers 2 { filter_height: {1, 3, 5} filter_width = filter_height filters = 4 skip: anchor }")
    assert square.cardinality() == 3 * 3 * 2
    arch = decode("s: 5 / 3 0", square)
    assert [(l.params["filter_height"], l.params["filter_width"]) for l in arch.layers] == [(5, 5), (3, 3)]
    branch = _compiled("layers 1 { op: { conv { filter_height: {3, 5} filter_width = filter_height filters = 4 } "
                       "max_pool { } } }")
    assert decode("s: conv 5", branch).layers[0].params["filter_width"] == 5


def test_skip_previous_is_a_plain_chain_and_skip_none_reads_the_image():
    chain = _compiled("layers 3 { op = conv_3x3 filters: {4, 8} skip = previous }")
    arch = decode("s: 4 / 8 / 4", chain)
    assert [l.inputs for l in arch.layers] == [[], [0], [1]]
    assert build_child(arch, TINY)(torch.randn(2, 3, 8, 8)).shape == (2, 4)
    apart = _compiled("layers 2 { filter_height = 1 filter_width = 1 filters = 4 skip = none }")
    assert [l.inputs for l in decode("s:  / ", apart).layers] == [[], []]


def test_fixed_skip_sets_read_every_earlier_layer_or_offsets_back_within_the_stage(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_ops import assert_exports_match

    nas = "filter_height: {1, 3} filter_width = filter_height filters: {4, 6}"
    dense = _compiled(f"layers 4 {{ {nas} skip = all }}\nlayers 2 {{ {nas} stride = 2 skip = all }}")
    offsets = _compiled(f"layers 5 {{ {nas} skip = {{3, 1}} }}\nlayers 3 {{ {nas} skip = {{1, 3}} }}")
    assert dense.cardinality() == _compiled(f"layers 4 {{ {nas} }}\nlayers 2 {{ {nas} stride = 2 }}").cardinality()
    assert offsets.cardinality() == _compiled(f"layers 5 {{ {nas} }}\nlayers 3 {{ {nas} }}").cardinality()
    arch = decode("s: 3 4 / 1 6 / 3 4 / 1 4 ; 3 6 / 1 4", dense)  # fixed skips write no token
    assert [l.inputs for l in arch.layers] == [[], [0], [0, 1], [0, 1, 2], [3], [4]]
    arch = decode("s: 3 4 / 1 6 / 3 4 / 1 4 / 3 6 ; 1 4 / 3 4 / 1 6", offsets)
    assert [l.inputs for l in arch.layers] == [[], [0], [1], [0, 2], [1, 3], [4], [5], [6]]  # 7 - 3 = 4: before the stage
    for name, compiled, tokens in [("dense", dense, "s: 3 4 / 1 6 / 3 4 / 1 4 ; 3 6 / 1 4"),
                                   ("nas", offsets, arch.tokens), ("macro", _compiled(
            "layers 4 { op: {conv_3x3, max_pool_3x3} filters = 4 skip = {1, 3} }"), "s: conv_3x3 / max_pool_3x3 / "
            "conv_3x3 / conv_3x3")]:
        built = decode(tokens, compiled)
        torch.manual_seed(0)
        model = build_child(built, TINY)
        assert_exports_match(built, model, TINY, tmp_path, f"fixed_{name}")
    assert [l.inputs for l in built.layers] == [[], [0], [1], [0, 2]]  # ENAS macro: summed skips
    assert "skips from 0, 2, summed" in str(architecture_tree(built).children[4].label)
    assert '"layer0" -> "sum3"' in to_dot(built)


def test_stages_number_their_anchors_within_the_stage_and_read_the_stage_before():
    compiled = _compiled("""
        layers 2 { filter_height = 3 filter_width = 3 filters = 8 skip = previous }
        layers 3 { op: {mbconv, identity} kernel: {3} filters = 16 stride: {1, 2} skip: anchor }""")
    assert [plan.label for plan in compiled.blocks] == ["layers", "layers_2"]
    assert compiled.cardinality() == (2 * 2) ** 3 * 2 ** 3
    arch = decode("s:  /  ; mbconv 3 2 / identity 3 1 - / mbconv 3 1 0,1", compiled)
    assert [l.inputs for l in arch.layers] == [[], [0], [1], [1], [2, 3]]
    model = build_child(arch, TINY)
    out = model(torch.randn(2, 3, 8, 8))
    out.sum().backward()
    assert out.shape == (2, 4)


@pytest.mark.parametrize("body, where, words", [
    ("layers 2 { op: {conv} filter_height: {3} filter_width = filter_height filters = 4 stride = op }", "2:92",
     "'stride' in layers cannot take the value of 'op'"),
    ("layers 2 { filter_height = 1 filter_width = 1 filters = 4 skip = everything }", "2:66", "must be 'anchor'"),
    ("layers 2 { filter_height = 1 filter_width = 1 filters = 4 skip = {1, 0} }", "2:70", "positive integers, got '0'"),
    ("layers 2 { filter_height = 1 filter_width = 1 filters = 4 skip = {1.5} }", "2:67", "got '1.5'"),
    ("layers 2 { filter_height = 1 filter_width = 1 filters = 4 skip = {-2} }", "2:67", "got '-2'"),
    ("layers 2 { filter_height = 1 filter_width = 1 filters = {4, 8} }", "2:47", "only 'skip' takes"),
    ("layers 4 from 2 grow 1 every 5 { filters = 4 filter_height = 1 filter_width = 1 }\n"
     "layers 2 { filters = 4 filter_height = 1 filter_width = 1 }", "3:1", "needs a space with one layers block"),
])
def test_shape_errors_carry_a_position(body, where, words):
    with pytest.raises(SpaceSemanticError) as err:
        _compiled(body)
    assert err.value.where == f"s.space:{where}" and words in err.value.message, err.value


CELLS = """network stages 2 repeat 1 width 4 stem 6
cell normal nodes 3 inputs 2 { left: index left_op: {identity, dil_conv_3x3} right: index right_op: {none} }
cell reduction nodes 3 inputs 2 stride 2 { left: index left_op: {sep_conv_3x3} right: index right_op: {avg_pool_3x3} }"""


def test_a_cell_network_is_declared_in_the_space_and_exports(tmp_path):
    from nascli.export import WeightsNote, module_source

    arch = decode("s: 1 dil_conv_3x3 0 none ; 0 sep_conv_3x3 1 avg_pool_3x3", _compiled(CELLS))
    assert arch.cell_stack.model_dump() == {"stages": 2, "repeat": 1, "width": 4, "stem": 6}
    model = build_child(arch, TINY).eval()
    assert [record.name for record in model.layout] == ["normal", "reduction", "normal"]
    assert model.stem[0].out_channels == 6 and model.head.fc.in_features == 8
    namespace: dict = {"__name__": "declared_cells"}
    exec(compile(module_source(arch, model, TINY, WeightsNote(tmp_path / "w.pt", "e")), "model.py", "exec"), namespace)
    child = namespace["Child"]()
    child.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(child.eval()(x), model(x), atol=1e-5)
    with pytest.raises(SpaceSemanticError, match="no 'cell' blocks") as err:
        _compiled("network stages 2 repeat 1 width 4 stem 6\nlayers 1 { filters = 4 filter_height = 1 filter_width = 1 }")
    assert err.value.where == "s.space:2:1"


def test_cells_after_a_layer_stem_build_render_and_export(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_ops import assert_exports_match

    compiled = _compiled("layers 2 { op: {conv_3x3, mbconv} kernel: {3} filters: {4, 6} stride: {1, 2} "
                         "skip = previous }\n" + CELLS)
    arch = decode("s: conv_3x3 3 4 2 / mbconv 3 6 1 ; 1 dil_conv_3x3 0 none ; 0 sep_conv_3x3 1 avg_pool_3x3", compiled)
    assert [l.inputs for l in arch.layers] == [[], [0]] and len(arch.cells) == 2
    torch.manual_seed(0)
    model = build_child(arch, TINY)
    assert [m.nascli_op.name for m in model.stem] == ["conv_3x3", "mbconv"]  # the layers replace the stem conv
    assert "stem: " in str(architecture_tree(arch).children[0].label)
    assert_exports_match(arch, model, TINY, tmp_path, "stem_cells")
    with pytest.raises(SpaceSemanticError, match="a plain chain") as err:
        _compiled("layers 2 { op = conv_1x1 filters = 4 skip: anchor }\n" + CELLS)
    assert err.value.where == "s.space:2:38"  # at its skip
