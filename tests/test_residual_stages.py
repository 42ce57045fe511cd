"""Residual stages and per-stage decisions (issue 23 item 2): `merge = sum` layers (ResNet blocks),
`stage { depth ... filters ... }` sections, spaces/resnet.space, and the ResNet-like and MobileNet-like
spaces of docs/spaces.md building exactly what they say."""

from __future__ import annotations

import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

from nascli.arch import decode
from nascli.arch.sample import sample_architecture
from nascli.children import build_child
from nascli.cli import app
from nascli.data.base import ImageTask
from nascli.errors import SpaceSemanticError, TokenError
from nascli.search.controller import Controller
from nascli.space import load_space, parse_space
from nascli.space.compiler import compile_space

ROOT = Path(__file__).resolve().parents[1]
CIFAR = ImageTask(channels=3, height=32, width=32, classes=10)
TINY = ImageTask(channels=3, height=8, width=8, classes=3)


def _compiled(body: str):
    return compile_space(parse_space("space s {\n" + body + "\n}", "s.space"))


def _doc_space(name: str):
    """A space written out in docs/spaces.md, as a new user would copy it."""
    text = (ROOT / "docs" / "spaces.md").read_text()
    found = re.search(r"```\n(space " + name + r" \{.*?\n\})\n```", text, re.S)
    assert found, name
    return compile_space(parse_space(found.group(1), f"docs/spaces.md:{name}"))


def _outputs(model, x) -> list[tuple[int, ...]]:
    shapes: list[tuple[int, ...]] = []
    hooks = [layer.register_forward_hook(lambda m, a, y: shapes.append(tuple(y.shape[1:]))) for layer in model.layers]
    model(x)
    for hook in hooks:
        hook.remove()
    return shapes


def test_the_resnet_space_has_its_exact_count_and_builds_resnets(runner):
    result = runner.invoke(app, ["inspect", "resnet", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["cardinality"] == 3375 == (5 * 3) ** 3
    compiled = compile_space(load_space("resnet"))
    arch = decode("resnet:  ; 2 24 ;  /  ; 1 48 ;  ; 3 64 ;  /  / ", compiled)
    assert [(l.params["filters"], l.params.get("stride", 1), l.inputs) for l in arch.layers] == [
        (16, 1, []), (24, 1, [0]), (24, 1, [1]), (48, 2, [2]), (64, 2, [3]), (64, 1, [4]), (64, 1, [5])]
    model = build_child(arch, CIFAR)
    assert _outputs(model, torch.randn(1, 3, 32, 32)) == [(16, 32, 32), (24, 32, 32), (24, 32, 32), (48, 16, 16),
                                                          (64, 8, 8), (64, 8, 8), (64, 8, 8)]
    projected = [len(s) and not isinstance(s[0], torch.nn.Identity) for s in model.shortcuts]
    assert projected == [0, True, False, True, True, False, False]  # where the width or the size changes
    assert model._loose == (6,)  # every block feeds the next: the last one goes to the classifier


def test_a_summing_layer_adds_its_skips_to_its_ops_output():
    compiled = _compiled("layers 3 { op = conv_3x3 filters = 4 merge = sum skip = previous }")
    model = build_child(decode("s:  /  / ", compiled), TINY).eval()
    seen = {}
    model.layers[1].register_forward_hook(lambda m, a, y: seen.update(op=y, x=a[0]))
    model.layers[2].register_forward_hook(lambda m, a, y: seen.update(after=a[0]))
    model(torch.randn(2, 3, 8, 8))
    assert torch.allclose(seen["after"], seen["op"] + seen["x"])  # layer 1's output = op(layer 0) + layer 0


def test_anchored_sum_layers_pick_what_is_added():
    compiled = _compiled("layers 3 { op: {conv_3x3, sep_conv_3x3} filters: {4, 8} stride: {1, 2} merge = sum "
                         "skip: anchor }")
    arch = decode("s: conv_3x3 4 1 / sep_conv_3x3 8 2 - / conv_3x3 8 1 0", compiled)
    model = build_child(arch, TINY)
    assert _outputs(model, torch.randn(1, 3, 8, 8)) == [(4, 8, 8), (8, 4, 4), (8, 4, 4)]
    cut = model.shortcuts[2][0]  # layer 0 (4 wide, 8×8) added to layer 2's 8 × 4×4 output: projected, stride 2
    assert cut[0].in_channels == 4 and cut[0].out_channels == 8 and cut[0].stride == (2, 2)
    for seed in range(6):
        child = sample_architecture(compiled, random.Random(seed))
        build_child(child, TINY)(torch.randn(2, 3, 8, 8)).sum().backward()


def test_a_stage_decides_its_depth_and_width_once():
    compiled = _compiled("layers 1 { op = conv_3x3 filters = 8 skip = previous }\n"
                         "layers 3 { stage { depth: {1, 2, 3} filters: {8, 16} } op: {conv_3x3, identity} "
                         "skip: anchor }")
    assert [p.label for p in compiled.blocks] == ["layers", "layers_2.stage", "layers_2"]
    per_layer = [2 * 2**g for g in range(3)]  # op x anchor subsets of earlier layers of the stage
    assert compiled.cardinality() == 2 * (per_layer[0] + per_layer[0] * per_layer[1]
                                          + per_layer[0] * per_layer[1] * per_layer[2])
    arch = decode("s:  ; 2 16 ; identity / conv_3x3 0", compiled)
    assert [(l.op, l.params["filters"]) for l in arch.layers] == [("conv_3x3", 8), ("identity", 16), ("conv_3x3", 16)]
    with pytest.raises(TokenError, match="its stage's depth is 3"):
        decode("s:  ; 3 16 ; identity / conv_3x3 0", compiled)
    counts = Counter(len(sample_architecture(compiled, random.Random(s)).layers) - 1 for s in range(3000))
    weights = [2, 2 * 4, 2 * 4 * 8]  # uniform over architectures: depths in proportion to their counts
    for depth, weight in zip((1, 2, 3), weights):
        assert abs(counts[depth] / 3000 - weight / sum(weights)) < 0.03, counts


def test_the_controller_decides_a_stages_layers_only_up_to_its_depth():
    compiled = _compiled("layers 4 { stage { depth: {1, 2, 3, 4} filters: {4, 8} } op: {conv_3x3, mbconv} "
                         "kernel: {3, 5} skip: anchor }")
    torch.manual_seed(0)
    controller = Controller(compiled)
    sample = controller.sample(32)
    depths = set()
    for assignment in sample.assignments:
        depth = assignment["layers.stage.depth"]
        depths.add(depth)
        assert all((f"layers[{g}].op" in assignment) == (g < depth) for g in range(4))
    assert len(depths) > 1
    log_prob, _ = controller.score(sample.assignments)
    assert torch.allclose(log_prob, sample.log_prob)
    deep = [d for d in compiled.decisions() if d.stage_depth]
    assert {d.stage_depth for d in deep} == {("layers.stage.depth", 2), ("layers.stage.depth", 3),
                                             ("layers.stage.depth", 4)}


def test_the_docs_resnet_like_space_builds_what_it_says():
    compiled = _doc_space("resnet_like")
    assert compiled.cardinality() == 3375
    for seed in range(5):
        arch = sample_architecture(compiled, random.Random(seed))
        shapes = _outputs(build_child(arch, CIFAR), torch.randn(1, 3, 32, 32))
        stages = [layer.index for layer in arch.layers if "merge" in layer.params]
        assert all(layer.params["merge"] == "sum" and layer.op == "basic_block" for layer in arch.layers[1:])
        sizes = sorted({shape[1] for shape in shapes[1:]}, reverse=True)
        assert sizes == [32, 16, 8] and len(stages) == len(arch.layers) - 1


def test_the_docs_mobilenet_like_space_builds_what_it_says():
    """Every stage's resolution and width is its own, whichever op its layers picked."""
    compiled = _doc_space("mobilenet_like")
    assert compiled.cardinality() == 3 * sum((3 * 2) ** d for d in (2, 3, 4)) * sum((3 * 2 + 1) ** d for d in (2, 3, 4))
    for seed in range(6):
        arch = sample_architecture(compiled, random.Random(seed))
        shapes = _outputs(build_child(arch, CIFAR), torch.randn(1, 3, 32, 32))
        widths = {16: (32, 32), 24: (16, 16), 40: (8, 8), 32: (32, 32)}
        assert all(shape[1:] == widths[shape[0]] for shape in shapes), (arch.tokens, shapes)
        assert {layer.op for layer in arch.layers if layer.params.get("filters") == 40} <= {"mbconv", "sep_conv_3x3"}


def test_resnet_children_export(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_ops import assert_exports_match

    arch = decode("resnet:  ; 1 32 ;  ; 2 32 ;  /  ; 1 64 ; ")
    torch.manual_seed(0)
    assert_exports_match(arch, build_child(arch, TINY), TINY, tmp_path, "resnet_child")


@pytest.mark.parametrize("body, where, words", [
    ("layers 3 { stage { depth: {1, 4} } op = conv_3x3 filters = 4 }", "2:31", "at most its block's 3 layers, got 4"),
    ("layers 3 { stage { kernel: {3, 5} } op: {mbconv, identity} filters = 4 }", "2:20",
     "'kernel' in the stage section is not read by op 'identity'"),
    ("layers 3 { stage { filters: {4} } op = conv_3x3 filters = 8 }", "2:59",
     "decided in the stage section and per layer"),
    ("layers 3 { stage { skip: anchor } op = conv_3x3 filters = 8 }", "2:20",
     "unknown decision 'skip' in a stage section"),
    ("layers 3 from 1 grow 1 every 9 { stage { depth: {1, 2} } op = conv_3x3 filters = 4 }", "2:34",
     "a stage's depth and a depth schedule do not mix"),
    ("layers 3 { section { depth: {1} } op = conv_3x3 filters = 4 }", "2:12", "one section, 'stage'"),
    ("layers 2 { op = conv_3x3 filters = 4 merge = add }", "2:46", "unknown merge 'add'"),
])
def test_stage_and_merge_errors_carry_a_position(body, where, words):
    with pytest.raises(SpaceSemanticError) as err:
        _compiled(body)
    assert err.value.where == f"s.space:{where}" and words in err.value.message, err.value


def test_merge_is_refused_where_it_means_nothing():
    with pytest.raises(SpaceSemanticError, match="'merge' applies to image layers"):
        parse_space("space t {\n task = tabular\n layers 2 { op = dense units: {4} merge = sum }\n}", "t.space")
    cells = ("cell a nodes 3 inputs 2 { left: index left_op: {identity} right: index right_op: {none} }\n"
             "cell b nodes 3 inputs 2 stride 2 { left: index left_op: {none} right: index right_op: {none} }")
    with pytest.raises(SpaceSemanticError, match="take no 'merge = sum'"):
        _compiled("layers 2 { op = conv_3x3 filters = 4 merge = sum skip = previous }\n" + cells)


def test_enas_says_it_does_not_share_summing_layers(runner, tmp_path):
    result = runner.invoke(app, ["search", "resnet", "--strategy", "enas", "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and "'merge = sum' layer's shortcuts are not shared" in result.output
    assert not (tmp_path / "r").exists()


def test_enas_shares_the_weights_of_a_stage_whose_depth_is_decided(runner, tmp_path):
    """ENAS macro wiring halves the maps after layers that depend on the depth: every depth is covered."""
    space = tmp_path / "stg.space"
    space.write_text("space stg {\n task = image\n dataset = cifar10\n"
                     " layers 6 { stage { depth: {3, 6} } op: {conv_3x3, max_pool_3x3} filters = 8 skip: anchor }\n}\n")
    result = runner.invoke(app, ["search", str(space), "--strategy", "enas", "--epochs", "1", "--controller-steps", "1",
                                 "--batch", "2", "--budget", "3", "--train-subset", "16", "--shared-batch-size", "8",
                                 "--derive-subset", "40", "--seed", "2", "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
