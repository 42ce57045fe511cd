"""The op registry: spaces are checked against op declarations, and whatever passes builds."""

from __future__ import annotations

import importlib.util
import random

import pytest
import torch

from nascli.arch import decode
from nascli.arch.sample import sample_architecture
from nascli.children import build_child
from nascli.data.base import ImageTask
from nascli.errors import SpaceSemanticError
from nascli.ops import OPS, make_op, ops_for
from nascli.space import parse_space
from nascli.space.compiler import compile_space

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning")

TINY = ImageTask(channels=3, height=8, width=8, classes=4)


def _space(body: str):
    return parse_space("space s {\n" + body + "\n}", "s.space")


@pytest.mark.parametrize("body, where, words", [
    ("layers 3 { filter_height = 3 filter_width = 3 filters = 8 pool_size: {2, 3} }", "2:59",
     "'pool_size' is read by no op this layer can take (conv)"),
    ("layers 3 { op: { conv_3x3 { pool_size: {2, 3} } } filters = 8 }", "2:29",
     "'pool_size' is not read by op 'conv_3x3'"),  # (a stride is: every op honours the layer's)
    ("layers 3 { op: {mbconv} kernel: {3, 4} filters = 8 }", "2:37", "op 'mbconv' takes kernel in {3, 5, 7}, got 4"),
    ("cell c nodes 4 inputs 2 { left: index left_op: {identity} right: index right_op: {none} }", "2:1",
     "one normal cell (stride 1) and one reduction cell"),
    ("cell c nodes 4 inputs 3 { left: index left_op: {identity} right: index right_op: {none} }", "2:1",
     "'inputs 2', not 3"),
    ("layers 2 { op: {conv_3x3} filters = 8 }\n"
     "cell a nodes 3 inputs 2 { left: index left_op: {identity} right: index right_op: {none} }\n"
     "cell b nodes 3 inputs 2 stride 2 { left: index left_op: {identity} right: index right_op: {none} }",
     "2:1", "layers before cells are their stem: a plain chain, 'skip = previous'"),
])
def test_spaces_are_checked_against_the_op_declarations(body, where, words):
    with pytest.raises(SpaceSemanticError) as err:
        _space(body)
    assert err.value.where == f"s.space:{where}" and words in err.value.message, err.value


MIXED = """layers 4 {
    op: {
        conv { filter_height: {1, 3} filter_width: {3} filters: {4, 8} }
        max_pool { pool_size: {2, 3} stride: {1, 2} }
        sep_conv_3x3 { filters: {4, 6} }
        avg_pool_3x3 { }
        dil_conv_3x3 { filters: {4} }
        conv_1x1 { filters: {5} }
        mbconv { kernel: {3, 5} expansion: {1, 3} se: {0, 1} filters: {4, 8} stride: {1, 2} }
        identity { }
        none { }
    }
    skip: anchor
}"""


def test_nas_and_enas_ops_mixed_in_one_layer_build_and_train():
    compiled = compile_space(_space(MIXED))
    for seed in range(12):
        arch = sample_architecture(compiled, random.Random(seed))
        model = build_child(arch, TINY)
        loss = model(torch.randn(2, 3, 8, 8)).logsumexp(1).mean()
        loss.backward()
        assert decode(arch.tokens, compiled) == arch


def test_enas_ops_with_per_layer_filters_build():
    space = _space("layers 3 { op: {conv_3x3, max_pool_3x3, identity} filters: {4, 8} skip: anchor }")
    arch = decode("s: conv_3x3 4 / max_pool_3x3 8 - / conv_3x3 8 0,1", compile_space(space))
    out = build_child(arch, TINY)(torch.randn(2, 3, 8, 8))
    assert out.shape == (2, 4)


def test_make_op_is_the_one_entry_point():
    assert set(ops_for("layer")) >= {"conv", "max_pool", "conv_1x1", "dil_conv_5x5", "none", "identity", "mbconv"}
    assert set(ops_for("cell")) >= {"identity", "sep_conv_3x3", "none", "dil_conv_3x3"}
    block = make_op("mbconv", 8, 8, 1, {"filters": 8, "kernel": 5, "expansion": 3, "se": 1})
    x = torch.randn(2, 8, 6, 6)
    assert block(x).shape == x.shape and block.residual  # same shape: the input is added back
    assert not make_op("mbconv", 8, 16, 2, {"filters": 16}).residual
    assert torch.count_nonzero(make_op("none", 8, 8, 2, block="cell")(x)) == 0
    assert OPS.get("conv").describe({"filter_height": 3, "filter_width": 5, "filters": 24, "stride": 1}) == \
        "3×5, 24 filters"  # a layer's stride is shown apart, for every op


def assert_exports_match(arch, model, task, folder, name: str) -> None:
    """model.py of `arch` (trained weights from `model`) equals `model`; so does its TorchScript model.pt."""
    from nascli.export import WeightsNote, export_child

    model.eval()
    weights = WeightsNote(folder / f"{name}.weights.pt", "nascli eval")
    torch.save(model.state_dict(), weights.path)
    path = export_child(arch, task, None, weights, folder / f"{name}.py").path
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    child = module.Child()
    child.load_state_dict(model.state_dict())
    x = torch.randn(2, task.channels, task.height, task.width)
    with torch.no_grad():
        assert torch.allclose(child.eval()(x), model(x), atol=1e-5)
        scripted = torch.jit.load(str(export_child(arch, task, None, weights, folder / f"{name}.pt").path))
        assert torch.allclose(scripted(x), model(x), atol=1e-5)


def test_every_op_exports_to_plain_torch_and_torchscript(tmp_path):
    """model.py of children using every built-in layer op equals the built child; model.pt scripts it."""
    # Built-in image ops (dense: test_children_mlp.py; plugin ops another test loaded: test_plugins.py).
    image_ops = [op for op in ops_for("layer") if "image" in OPS.get(op).tasks and OPS.get(op).plugin is None]
    ops = ", ".join(image_ops)
    compiled = compile_space(_space(f"""layers 3 {{ op: {{{ops}}} filter_height: {{3}} filter_width: {{1}}
        filters: {{4, 6}} stride: {{1, 2}} kernel: {{3}} se: {{1}} skip: anchor }}"""))
    seen: set[str] = set()
    for seed in range(60):
        arch = sample_architecture(compiled, random.Random(seed))
        if {layer.op for layer in arch.layers} <= seen:
            continue
        seen |= {layer.op for layer in arch.layers}
        torch.manual_seed(seed)
        assert_exports_match(arch, build_child(arch, TINY), TINY, tmp_path, f"m{seed}")
    assert seen == set(image_ops)


def test_the_declarations_and_the_compiler_never_import_torch():
    import subprocess
    import sys

    code = ("import sys; from nascli.space import load_space; from nascli.space.compiler import compile_space; "
            "import nascli.ops, nascli.plugins; compile_space(load_space('mobilenet')); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
