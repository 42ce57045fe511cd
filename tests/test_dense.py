"""Dense cells (NAS-Bench-201): every edge picks an op, a node sums its incoming edges; the network
(stages, cells per stage, width) is declared in the space."""

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
from nascli.space import load_space, parse_space
from nascli.space.compiler import compile_space

sys.path.insert(0, str(Path(__file__).parent))
from test_ops import assert_exports_match  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning")
TINY = ImageTask(channels=3, height=8, width=8, classes=4)
ARCH = "nb201: conv_3x3 / none / avg_pool_3x3 / identity / none / conv_1x1"


def test_nb201_has_15625_cells_written_in_nas_bench_201_order():
    compiled = compile_space(load_space("nb201"))
    assert compiled.cardinality() == 15_625
    arch = decode(ARCH, compiled)
    assert [(e.source, e.target, e.op) for e in arch.dense.edges] == [
        (0, 1, "conv_3x3"), (0, 2, "none"), (1, 2, "avg_pool_3x3"), (0, 3, "identity"), (1, 3, "none"),
        (2, 3, "conv_1x1")]
    assert (arch.dense.stages, arch.dense.repeat, arch.dense.width) == (3, 5, 16)


def test_a_dense_network_builds_as_declared_trains_renders_and_exports(tmp_path: Path):
    space = parse_space("space nb { dense c nodes 4 stages 2 repeat 1 width 4 "
                        "{ op: {none, identity, conv_1x1, conv_3x3, avg_pool_3x3} } }", "nb.space")
    arch = decode(ARCH.replace("nb201", "nb"), compile_space(space))
    torch.manual_seed(0)
    model = build_child(arch, TINY)
    assert [type(m).__name__ for m in model.cells] == ["DenseCellBlock", "ResidualReduce", "DenseCellBlock"]
    out = model(torch.randn(2, 3, 8, 8))
    out.sum().backward()
    assert out.shape == (2, 4) and model.head.fc.in_features == 8  # 4 wide, doubled once
    assert "node 2 = avg_pool_3x3(node 1)" in str(architecture_tree(arch).children[0].children[1].label)
    assert '"node1" -> "node2" [label=" avg pool 3×3 "' in to_dot(arch) and '"node0" -> "node2"' not in to_dot(arch)
    assert_exports_match(arch, model, TINY, tmp_path, "dense_model")


@pytest.mark.parametrize("body, where, words", [
    ("dense c nodes 3 stages 1 repeat 1 width 4 { op: {conv} }", "1:60", "unknown op 'conv'"),
    ("dense c nodes 3 stages 1 repeat 1 width 4 { }", "1:11", "needs a 'op'"),
    ("dense c nodes 3 stages 1 repeat 1 width 4 { op: {none} }\nlayers 1 { filters = 4 filter_height = 1 "
     "filter_width = 1 }", "1:11", "one 'dense' block, without 'layers'"),
])
def test_dense_errors_carry_a_position(body, where, words):
    with pytest.raises(SpaceSemanticError) as err:
        parse_space("space s { " + body + " }", "s.space")
    assert err.value.where == f"s.space:{where}" and words in err.value.message, err.value
