"""Layer settings mean the same for every op (issue 23 item 1): in a layer with a stride and a width every op,
built-in or plugin, makes ceil(H / stride) pixels and that many channels, or the space is refused; decode and
render show each layer's stride and output shape; arch.json files of schema 1 still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nascli.arch import decode, load_architecture, save_architecture
from nascli.arch.wiring import nas_wiring, uses_nas_wiring
from nascli.children import build_child
from nascli.children.ops import FactorizedReduce, ReluConvBn
from nascli.cli import app
from nascli.data.base import ImageTask
from nascli.errors import SpaceSemanticError
from nascli.ops import OPS, OpSpec, Param, declare_op, ops_for
from nascli.plugins import load_plugin
from nascli.render import architecture_tree, to_dot
from nascli.space import parse_space
from nascli.space.compiler import compile_space

TASK = ImageTask(channels=3, height=9, width=9, classes=4)
PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plugins" / "asym_conv.py"
IMAGE_OPS = [n for n in ops_for("layer") if "image" in OPS.get(n).tasks and OPS.get(n).plugin is None]


def _compiled(body: str, requires: str = ""):
    return compile_space(parse_space(f"space s {{\n{requires}\n{body}\n}}", "s.space"))


def _outputs(model, x) -> list[tuple[int, ...]]:
    """The shape each layer's op module makes."""
    shapes: list[tuple[int, ...]] = []
    hooks = [op.register_forward_hook(lambda m, a, y: shapes.append(tuple(y.shape))) for op in model.layers]
    model(x)
    for hook in hooks:
        hook.remove()
    return shapes


@pytest.mark.parametrize("op", IMAGE_OPS)
def test_every_op_in_a_strided_stage_makes_the_stage_resolution_and_width(op):
    """A stem stage, then a stage of stride 2 and 12 filters whose only op is `op`: its output is 5×5×12."""
    params = " ".join(f"{p.name} = {p.values[0] if p.values else 3}" for p in OPS.get(op).params
                      if p.name not in ("filters", "stride"))
    compiled = _compiled("layers 1 { op = conv_3x3 filters = 8 skip = previous }\n"
                         f"layers 2 {{ op = {op} {params} filters = 12 stride = 2 skip = previous }}")
    arch = decode("s:  ; / ", compiled)
    assert [layer.params["stride"] for layer in arch.layers[1:]] == [2, 2]
    model = build_child(arch, TASK)
    shapes = _outputs(model, torch.randn(2, 3, 9, 9))
    assert shapes[1:] == [(2, 12, 5, 5), (2, 12, 3, 3)], (op, shapes)
    assert [w.out_shape for w in nas_wiring(arch.layers, (3, 9, 9))][1:] == [(12, 5, 5), (12, 3, 3)]


def test_identity_becomes_a_factorized_reduction_or_a_projection():
    compiled = _compiled("layers 1 { op = conv_3x3 filters = 8 skip = previous }\n"
                         "layers 1 { op: {identity, conv_3x3} filters = 16 stride: {1, 2} skip = previous }")
    reduce = build_child(decode("s:  ; identity 2", compiled), TASK)
    project = build_child(decode("s:  ; identity 1", compiled), TASK)
    assert isinstance(reduce.layers[1], FactorizedReduce) and reduce.layers[1].bn.num_features == 16
    assert isinstance(project.layers[1], ReluConvBn) and project.layers[1][1].out_channels == 16
    pool = build_child(decode("s:  ; max_pool_3x3 2", _compiled(
        "layers 1 { op = conv_3x3 filters = 8 skip = previous }\n"
        "layers 1 { op: {max_pool_3x3, conv_3x3} filters = 16 stride: {1, 2} skip = previous }")), TASK)
    assert _outputs(pool, torch.randn(1, 3, 9, 9))[1] == (1, 16, 5, 5)


def test_a_strided_layer_leaves_the_enas_macro_wiring():
    """ENAS macro wiring sums skips at one resolution and halves the maps itself; a stride asks for NAS wiring."""
    plain = decode("s: conv_3x3 / conv_3x3 0", _compiled("layers 2 { op: {conv_3x3, identity} filters = 8 skip: anchor }"))
    strided = decode("s: conv_3x3 2 / conv_3x3 1 0", _compiled(
        "layers 2 { op: {conv_3x3, identity} filters = 8 stride: {1, 2} skip: anchor }"))
    assert not uses_nas_wiring(plain.layers) and uses_nas_wiring(strided.layers)
    assert _outputs(build_child(strided, TASK), torch.randn(1, 3, 9, 9)) == [(1, 8, 5, 5), (1, 8, 5, 5)]


def test_a_plugin_op_that_does_not_declare_stride_still_receives_it():
    load_plugin(str(PLUGIN))
    assert OPS.get("asym_conv").param("stride") is None
    compiled = _compiled("layers 2 { op = asym_conv kernel: {3, 5} filters = 6 stride = 2 skip = previous }",
                         "requires asym_conv")
    model = build_child(decode("s: 3 / 5", compiled), TASK)
    assert _outputs(model, torch.randn(1, 3, 9, 9)) == [(1, 6, 5, 5), (1, 6, 3, 3)]
    assert [m.nascli_op.stride for m in model.layers] == [2, 2]


def test_an_op_that_cannot_honour_a_setting_is_refused_naming_both():
    """An op that declares it takes stride 1 only (a plugin's way to say it cannot downsample)."""
    declare_op(OpSpec(name="no_stride_op", factories={"layer": "nascli.children.ops:conv_3x3"},
                      params=(Param("stride", values=(1,), default=1), Param("filters"))))
    try:
        with pytest.raises(SpaceSemanticError) as err:
            _compiled("layers 2 { op: {conv_3x3, no_stride_op} filters = 4 stride = 2 }")
        assert "op 'no_stride_op' takes stride in {1}, got 2" in err.value.message
        assert err.value.where == "s.space:3:62"  # at the stride
    finally:
        OPS.remove("no_stride_op")


def test_a_table_layer_has_no_stride():
    with pytest.raises(SpaceSemanticError, match="'stride' is read by no op this layer can take"):
        parse_space("space t {\n task = tabular\n layers 2 { op = dense units: {4} stride = 2 }\n}", "t.space")


STAGES = ("layers 1 { op = conv_3x3 filters = 8 skip = previous }\n"
          "layers 2 { op: {identity, sep_conv_3x3} filters = 16 stride = 2 skip = previous }")


def test_decode_and_render_show_each_layers_stride_and_output_shape(runner, tmp_path):
    space = tmp_path / "s.space"
    space.write_text("space s {\n task = image\n" + STAGES + "\n}\n")
    result = runner.invoke(app, ["decode", "s:  ; identity / sep_conv_3x3", "--space", str(space)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert "stride" in result.output and "output of 32×32×3" in result.output
    assert [row.split("│")[4].strip() for row in rows] == ["1", "2", "2"]
    assert [row.split("│")[6].strip() for row in rows] == ["32×32×8", "16×16×16", "8×8×16"]
    arch = decode("s:  ; identity / sep_conv_3x3", _compiled(STAGES))
    labels = [str(child.label) for child in architecture_tree(arch).children]
    assert "identity[/] filters 16, stride 2" in labels[2] and labels[2].endswith("→ 16×16×16")
    assert "stride 2 → 8×8×16" in to_dot(arch)


def test_an_arch_json_of_schema_1_still_loads(tmp_path):
    """Files written before layer settings were recorded keep loading (the records as built now)."""
    arch = decode("mobilenet:  ; 5 ; 7 6 1 ; mbconv 7 3 0 / identity ; 5 6 0 ; mbconv 3 6 1 / mbconv 3 3 1 ; "
                  "7 3 1 ; mbconv 5 3 0 / mbconv 3 3 1 / mbconv 3 6 1")
    path = tmp_path / "old.json"
    save_architecture(arch, path)
    raw = json.loads(path.read_text())
    for layer in raw["layers"]:  # what schema 1 recorded: only the op's declared parameters
        declared = {p.name for p in OPS.get(layer["op"]).params}
        layer["params"] = {k: v for k, v in layer["params"].items() if k in declared}
    assert raw["layers"][4]["params"] == {}  # an identity layer: its width was not recorded
    path.write_text(json.dumps({**raw, "schema_version": 1}))
    assert load_architecture(path) == arch
    raw["layers"][4]["params"] = {"filters": 99}  # an edit is still caught
    path.write_text(json.dumps({**raw, "schema_version": 1}))
    with pytest.raises(Exception, match="do not match its token string"):
        load_architecture(path)
