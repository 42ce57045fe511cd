"""ENAS on NAS-wired conv spaces (conv, conv_strides, conv_pool): once-for-all slices of each layer's
largest tensors, the refusals, and a real search through the CLI."""

from __future__ import annotations

import json
import random

import pytest
import torch

from nascli.arch import architecture
from nascli.arch.records import Layer
from nascli.arch.sample import sample_assignment
from nascli.children import ChildConfig, build_child
from nascli.cli import app
from nascli.data import load_dataset
from nascli.errors import ChildError, RunError
from nascli.ops import make_op
from nascli.runs import RunStore
from nascli.search.enas.nas_conv import check_sliceable
from nascli.search.enas.supernet import SharedWeights, search_depth
from nascli.space import load_space
from nascli.space.compiler import compile_space

DEPTH = 6  # the first depth of each NAS space's schedule
IMAGES = load_dataset("cifar10", None)
TINY_SPACE = """space tiny_conv_pool {
    task = image
    dataset = cifar10
    layers 4 from 3 grow 1 every 100 {
        op: {
            conv { filter_height: {1, 3, 5}  filter_width: {1, 3}  filters: {4, 8}  stride: {1, 2} }
            max_pool { pool_size: {2, 3}  stride: {1, 2} }
        }
        skip: anchor
    }
}
"""


def _shared(space: str):
    compiled = compile_space(load_space(space))
    torch.manual_seed(0)
    return compiled, SharedWeights(compiled, IMAGES.task, ChildConfig(), DEPTH)


def _conv_pair(compiled, kernels: tuple[int, int], filters: int = 24):
    """Two children that differ only in layer 0's kernel (k x k each), both with `filters` there."""
    base = sample_assignment(compiled, random.Random(3), DEPTH)
    base["layers[0].filters"] = filters
    return [architecture(compiled, {**base, "layers[0].filter_height": k, "layers[0].filter_width": k}, DEPTH)
            for k in kernels]


@pytest.mark.parametrize("space", ["conv", "conv_strides", "conv_pool"])
def test_a_sliced_child_computes_what_build_child_computes(space, one_thread):
    compiled, shared = _shared(space)
    with torch.no_grad():  # distinctive values everywhere, batch-norm statistics included
        for t in [*shared.parameters(), *(b for b in shared.stats.buffers() if b.is_floating_point())]:
            t.uniform_(0.5, 1.0)
    rng, images = random.Random(space), IMAGES.valid_x[:3]
    for _ in range(4):
        arch = architecture(compiled, sample_assignment(compiled, rng, DEPTH), DEPTH)
        rebuilt = build_child(arch, IMAGES.task, ChildConfig())
        rebuilt.load_state_dict({k: v.detach() for k, v in shared.child_tensors(arch, rebuilt).items()})
        expect = rebuilt.eval()(images)
        torch.testing.assert_close(shared.run(arch, images, train=False), expect, rtol=0, atol=1e-6)
        torch.testing.assert_close(shared.extract(arch).eval()(images), expect, rtol=0, atol=1e-6)
        torch.testing.assert_close(shared.run(arch, images, train=True), rebuilt.train()(images), rtol=0, atol=1e-6)


def test_a_conv_weight_is_the_filters_prefix_of_the_read_blocks_and_the_kernel_centre(one_thread):
    compiled, shared = _shared("conv")  # every layer 64 filters at most: layer j's block starts at 3 + 64 j
    arch = architecture(compiled, sample_assignment(compiled, random.Random(5), DEPTH), DEPTH)
    child = shared.extract(arch)
    for layer in arch.layers:
        whole = shared.weights[f"layers:{layer.index}:conv:0:weight"]  # (64, 3 + 64 i, 7, 7)
        starts = [3 + 64 * j for j in layer.inputs] or [0]
        widths = [int(arch.layers[j].params["filters"]) for j in layer.inputs] or [3]
        kh, kw, filters = (int(layer.params[k]) for k in ("filter_height", "filter_width", "filters"))
        blocks = torch.cat([whole[:filters, s:s + w] for s, w in zip(starts, widths)], 1)
        expect = blocks[:, :, (7 - kh) // 2:(7 - kh) // 2 + kh, (7 - kw) // 2:(7 - kw) // 2 + kw]
        assert torch.equal(child.layers[layer.index][0].weight, expect)


def test_two_kernels_share_the_centre_and_only_the_read_slice_trains(one_thread):
    compiled, shared = _shared("conv")
    large, small = _conv_pair(compiled, (7, 3))
    whole = shared.weights["layers:0:conv:0:weight"]  # (64, 3, 7, 7): layer 0 reads the image
    w_large, w_small = (shared.child_tensors(a, shared.skeleton(a))["layers.0.0.weight"] for a in (large, small))
    assert w_small.untyped_storage().data_ptr() == whole.untyped_storage().data_ptr()  # a view, not a copy
    with torch.no_grad():
        whole[5, 1, 3, 3] = 42.0  # the centre pixel of filter 5 on the image's green channel
    assert w_large[5, 1, 3, 3] == 42.0 and w_small[5, 1, 1, 1] == 42.0
    torch.testing.assert_close(w_small, w_large[:, :, 2:5, 2:5], rtol=0, atol=0)
    shared.run(small, IMAGES.valid_x[:4], train=True).sum().backward()
    read = torch.zeros_like(whole, dtype=torch.bool)
    read[:24, :, 2:5, 2:5] = True  # 24 filters, 3x3 centre
    assert whole.grad[read].abs().sum() > 0 and not whole.grad[~read].any()
    layer = small.layers[-1]  # a layer reading several blocks: gradient only in their prefixes
    grad = shared.weights[f"layers:{layer.index}:conv:0:weight"].grad
    assert grad is not None and grad.abs().sum() > 0
    read = torch.zeros_like(grad, dtype=torch.bool)
    for s, w in zip([3 + 64 * j for j in layer.inputs] or [0],
                    [int(small.layers[j].params["filters"]) for j in layer.inputs] or [3]):
        read[:int(layer.params["filters"]), s:s + w] = True
    assert not grad[~read].any()


def test_batch_norm_statistics_change_only_in_the_filters_prefix(one_thread):
    compiled, shared = _shared("conv")
    arch = _conv_pair(compiled, (5,), filters=36)[0]
    mean, var = (shared.stats._buffers[f"layers:0:conv:1:{s}"] for s in ("running_mean", "running_var"))
    before_mean, before_var = mean.clone(), var.clone()
    shared.run(arch, IMAGES.valid_x[:8], train=True)
    assert (mean[:36] != before_mean[:36]).all() and (var[:36] != before_var[:36]).all()
    assert torch.equal(mean[36:], before_mean[36:]) and torch.equal(var[36:], before_var[36:])


def test_ops_that_cannot_be_sliced_are_refused_with_the_reason(runner, tmp_path):
    result = runner.invoke(app, ["search", "mobilenet", "--strategy", "enas", "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "op 'mbconv'" in result.output and "'depthwise.0' is a grouped convolution" in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("op,params,why", [
    ("conv", {"filter_height": 5, "filter_width": 3, "filters": 8}, None), ("conv_3x3", {"filters": 8}, None),
    ("max_pool", {}, None), ("identity", {}, None), ("none", {}, None), ("avg_pool_3x3", {}, None),
    ("sep_conv_3x3", {"filters": 8}, "'1' is a grouped convolution"),
    ("mbconv", {"kernel": 3, "expansion": 1, "se": 0, "filters": 8}, "'depthwise.0' is a grouped convolution"),
    ("mbconv", {"kernel": 3, "expansion": 2, "se": 1, "filters": 8}, "'depthwise.0' is a grouped convolution")])
def test_which_ops_slice(op, params, why):
    layer = Layer(index=2, op=op, params=params, inputs=[0, 1])
    module = make_op(op, 12, params.get("filters", 12), 1, params)
    if why is None:
        check_sliceable(module, layer, 12, "layer 2")
    else:
        with pytest.raises(ChildError, match=why):
            check_sliceable(module, layer, 12, "layer 2")


def test_shared_weights_too_large_are_refused_before_the_run_exists(runner, tmp_path):
    result = runner.invoke(app, ["search", "conv_pool", "--strategy", "enas", "--depth", "20",
                                 "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "would hold" in result.output and "max_pool" in result.output and "--depth" in result.output
    assert not (tmp_path / "r").exists()


def test_depth_is_the_schedules_first_unless_chosen(runner, tmp_path):
    compiled = compile_space(load_space("conv_strides"))
    assert search_depth(compiled, None) == 6 and search_depth(compiled, 12) == 12
    with pytest.raises(RunError, match="not one conv_strides's schedule reaches"):
        search_depth(compiled, 7)
    with pytest.raises(RunError, match="no depth schedule"):
        search_depth(compile_space(load_space("enas_macro")), 6)
    for args in (["conv", "--strategy", "enas", "--depth", "7"], ["conv", "--depth", "6"]):
        result = runner.invoke(app, ["search", *args, "--run-dir", str(tmp_path / "r")])
        assert result.exit_code == 2 and "Traceback" not in result.output and not (tmp_path / "r").exists()


def test_nas_conv_search_through_the_cli(runner, tmp_path):
    space, run = tmp_path / "tiny.space", tmp_path / "run"
    space.write_text(TINY_SPACE)
    result = runner.invoke(app, ["search", str(space), "--strategy", "enas", "--epochs", "1", "--controller-steps",
                                 "1", "--batch", "2", "--budget", "2", "--train-subset", "16", "--shared-batch-size",
                                 "8", "--derive-subset", "40", "--controller-hidden", "16", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert "children of 3 layers" in result.output and "skip target 0.4 weight 0.8" in result.output
    with RunStore.open_readonly(run) as store:
        children, epochs, config, best = store.children(), store.epochs(), store.config, store.best(1)[0]
        assert store.state == "finished"
    assert config["enas"]["depth"] == 3 and config["controller"]["tanh_constant"] == 1.5  # ENAS macro's
    assert len(children) == 2 and all(c.status == "done" and c.params > 0 for c in children)
    assert all(len(json.loads(c.arch_json)["layers"]) == 3 for c in children)
    assert len(epochs) == 1 and epochs[0].shared_loss > 0 and epochs[0].entropy > 0
    shown = runner.invoke(app, ["show", str(run)])
    assert shown.exit_code == 0 and children[0].tokens[:20] in shown.output
    evaluated = runner.invoke(app, ["eval", "--best", "--run", str(run), "--epochs", "1", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["tokens"] == best.tokens
