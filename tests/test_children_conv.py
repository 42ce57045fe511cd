"""Convolutional children: random architectures of every conv space train, NAS's three
compilation rules, the ENAS macro/micro layouts, and the parameter / MAC counts."""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nascli.arch import Layer, decode
from nascli.arch.sample import sample_architecture
from nascli.arch.wiring import macro_pool_points
from nascli.children.convnet import MacroConvNet, NasConvNet, build_convnet
from nascli.children.micro import MicroConfig, MicroNet
from nascli.children.ops import SamePadMaxPool, SepConv
from nascli.children.profile import count_macs, count_params, profile_child
from nascli.data.base import ImageTask
from nascli.errors import ChildError
from nascli.ops import OPS, make_op, out_size
from nascli.space import load_space, parse_space
from nascli.space.compiler import compile_space

CIFAR = ImageTask(channels=3, height=32, width=32, classes=10)
TINY = ImageTask(channels=3, height=8, width=8, classes=10)  # max-depth NAS nets: keeps the test fast


pytestmark = pytest.mark.usefixtures("one_thread")


@cache
def _compiled(space: str):
    return compile_space(load_space(space))


def _build(arch, task: ImageTask) -> nn.Module:
    return MicroNet(arch, task) if arch.cells is not None else build_convnet(arch, task)


def _train_step(net: nn.Module, task: ImageTask, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4, task.channels, task.height, task.width, generator=gen)
    y = torch.randint(0, task.classes, (4,), generator=gen)
    logits = net(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return logits, loss


def _assert_every_parameter_learns(net: nn.Module, where: str) -> None:
    # Every parameter must be reached by the loss (an unused module gets None).
    # BatchNorm shifts are exempt from the nonzero check only: when the path to
    # the next BN is shift-equivariant (sums, pools, identity, a ReLU that sees no
    # negative value) that BN cancels the shift exactly, e.g. an ENAS macro op's
    # BN before BN(op + skips). Their gradient is then rounding noise.
    shifts = {id(m.bias) for m in net.modules() if isinstance(m, nn.BatchNorm2d)}
    for name, p in net.named_parameters():
        assert p.grad is not None, f"{where}: {name} gets no gradient"
        if id(p) not in shifts:
            assert p.grad.abs().sum() > 0, f"{where}: {name} gets a zero gradient"


# (space, depth, samples, task): ~40 per space; the deepest NAS nets on 8x8 images.
RANDOM_CASES = [
    ("conv", 6, 30, CIFAR), ("conv", 15, 10, TINY),
    ("conv_strides", 6, 30, CIFAR), ("conv_strides", 20, 10, TINY),
    ("conv_pool", 6, 30, CIFAR), ("conv_pool", 39, 10, TINY),
    ("enas_macro", None, 40, CIFAR),
    ("enas_micro", None, 10, CIFAR),  # a micro net has 8 cells: 10 samples already cover 80 cells per kind
]


@pytest.mark.parametrize(("space", "depth", "samples", "task"), RANDOM_CASES, ids=lambda v: str(v)[:12])
def test_random_children_train(space, depth, samples, task):
    torch.manual_seed(0)
    for seed in range(samples):
        arch = sample_architecture(_compiled(space), random.Random(seed), depth)
        net = _build(arch, task)
        logits, loss = _train_step(net, task, seed)
        assert logits.shape == (4, task.classes), arch.tokens
        assert torch.isfinite(loss), arch.tokens
        _assert_every_parameter_learns(net, arch.tokens)


def _capture_input(module: nn.Module) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    module.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    return seen


def test_rule1_a_layer_without_inputs_reads_the_image():
    arch = decode("conv: 3 3 24 / 5 5 36 - / 3 3 48 0 / 1 1 64 1,2 / 3 1 24 - / 1 3 36 3")
    net = build_convnet(arch, CIFAR)
    assert [op[0].in_channels for op in net.layers] == [3, 3, 24, 36 + 48, 3, 64]
    seen = _capture_input(net.layers[4])  # the image, not layer 3's output
    x = torch.randn(2, 3, 32, 32)
    net(x)
    assert torch.equal(seen[0], x)


def test_rule2_loose_ends_all_reach_the_classifier():
    arch = decode("conv: 3 3 24 / 5 5 36 - / 3 3 48 0 / 1 1 64 1,2 / 3 1 24 - / 1 3 36 3")
    net = build_convnet(arch, CIFAR)
    assert net.head.fc.in_features == 24 + 36  # layers 4 and 5; 0..3 are read later
    net.eval()
    x = torch.randn(2, 3, 32, 32)
    before = net(x)
    with torch.no_grad():
        net.layers[4][1].bias += 1.0  # layer 4 is a loose end: its output must move the logits
    assert not torch.allclose(before, net(x))


def test_rule3_inputs_of_different_sizes_are_zero_padded():
    arch = decode("conv_strides: 3 3 24 1 / 3 3 36 2 0 / 3 3 48 1 0,1 / 1 1 24 3 - / 3 3 24 1 2,3 / 1 1 36 1 4")
    net = build_convnet(arch, CIFAR)
    seen = _capture_input(net.layers[2])
    logits, _ = _train_step(net, CIFAR, 0)
    assert logits.shape == (4, 10)
    merged = seen[0]  # layer 0 (32x32, 24 ch) ++ layer 1 (16x16, 36 ch) padded bottom/right
    assert merged.shape == (4, 60, 32, 32)
    assert merged[:, 24:, 16:, :].abs().sum() == 0 and merged[:, 24:, :, 16:].abs().sum() == 0
    assert merged[:, 24:, :16, :16].abs().sum() > 0
    small = _capture_input(net.layers[4])  # layer 2 (32x32) ++ layer 3 (stride 3: 11x11)
    net(torch.randn(1, 3, 32, 32))
    assert small[0].shape == (1, 72, 32, 32)


def test_max_pool_keeps_channels_and_never_empties_a_map():
    arch = decode("conv_pool: conv 3 3 24 1 / max_pool 2 2 0 / conv 3 3 36 1 1 / max_pool 3 1 - "
                  "/ conv 1 1 24 1 0,2 / conv 3 3 24 1 3,4")
    net = build_convnet(arch, CIFAR)
    assert net.layers[2][0].in_channels == 24  # max_pool kept layer 0's width
    assert net.layers[5][0].in_channels == 3 + 24  # the pooled image ++ layer 4
    pool = SamePadMaxPool(pool_size=2, stride=2)
    one = torch.randn(1, 5, 1, 1)
    assert torch.equal(pool(one), one)  # -inf padding: the max is the pixel itself
    assert pool(torch.randn(1, 5, 5, 5)).shape == (1, 5, 3, 3)
    assert SamePadMaxPool(3, 1)(torch.randn(1, 5, 7, 6)).shape == (1, 5, 7, 6)


def test_macro_layout_reduces_at_one_and_two_thirds_depth():
    assert macro_pool_points(12) == (3, 7)
    arch = sample_architecture(_compiled("enas_macro"), random.Random(3))
    net = build_convnet(arch, CIFAR)
    assert isinstance(net, MacroConvNet)
    sizes = []
    for layer in net.layers:
        layer.register_forward_hook(lambda m, args, out: sizes.append(tuple(out.shape[1:])))
    net(torch.randn(2, 3, 32, 32))
    assert sizes == [(36, 32, 32)] * 4 + [(36, 16, 16)] * 4 + [(36, 8, 8)] * 4
    assert net.head.fc.in_features == 36


def test_macro_layer_is_bn_of_op_plus_summed_skips():
    arch = decode("enas_macro: conv_3x3 / max_pool_3x3 - / avg_pool_3x3 0 / " + " / ".join(["conv_3x3 -"] * 9))
    net = build_convnet(arch, CIFAR)
    assert net.layers[1].bn is None and net.layers[2].bn is not None
    outs = []
    for layer in net.layers[:2]:
        layer.register_forward_hook(lambda m, args, out: outs.append(out))
    summed = _capture_input(net.layers[2].bn)
    net(torch.randn(2, 3, 32, 32))
    expected = F.avg_pool2d(outs[1], 3, 1, 1, count_include_pad=False) + outs[0]  # op reads layer 1, skip 0
    assert torch.allclose(summed[0], expected, atol=1e-6)


def test_micro_layout_doubles_width_at_each_reduction():
    arch = sample_architecture(_compiled("enas_micro"), random.Random(5))
    assert arch.cell_stack is None  # enas_micro.space declares no `network`: the config sets the layout
    net = MicroNet(arch, CIFAR, MicroConfig(filters=8, cells_per_stage=1))
    shapes = []
    for cell in net.cells:
        cell.register_forward_hook(lambda m, args, out: shapes.append(tuple(out.shape[1:])))
    net(torch.randn(2, 3, 32, 32))
    assert shapes == [(8, 32, 32), (16, 16, 16), (16, 16, 16), (32, 8, 8), (32, 8, 8)]
    assert net.stem[0].out_channels == 3 * 8 and net.head.fc.in_features == 32


def test_enas_micro_network_written_in_the_language_is_the_default_one():
    """`network stages 3 repeat 2 width 20 stem 60` spells out the layout enas_micro gets by default."""
    bundled = Path(load_space("enas_micro").source).read_text()
    declared = bundled.replace("    let ops", "    network stages 3 repeat 2 width 20 stem 60\n    let ops")
    compiled = compile_space(parse_space(declared, "declared.space"))
    arch = sample_architecture(compiled, random.Random(5))
    default = MicroNet(arch.model_copy(update={"cell_stack": None}), CIFAR)
    spelled = MicroNet(arch, CIFAR, MicroConfig(filters=8, cells_per_stage=1))  # the space's `network` wins
    assert {k: v.shape for k, v in spelled.state_dict().items()} == {k: v.shape for k, v in default.state_dict().items()}


def test_unknown_op_is_a_child_error():
    layers = [Layer(index=0, op="conv", params={"filter_height": 3, "filter_width": 3, "filters": 8, "stride": 1},
                    inputs=[]),
              Layer(index=1, op="dilated_conv", params={}, inputs=[0])]
    with pytest.raises(ChildError, match="dilated_conv") as err:
        NasConvNet(layers, CIFAR)
    assert err.value.where == "layer 1"


@pytest.mark.parametrize("name", [name for name in OPS if "image" in OPS.get(name).tasks and OPS.get(name).plugin is None])  # tables: test_children_mlp
@pytest.mark.parametrize("stride", [1, 2])
def test_every_registered_op_keeps_its_declared_shape(name, stride):
    """The shape contract of nascli.ops for image ops: (B, c_in, H, W) -> (B, c_out, ceil(H/s), ceil(W/s)), the
    layer's width for every layer op (a pool, identity or none projects to it), the cell's on a cell edge."""
    spec = OPS.get(name)
    params = {p.name: p.default if p.default is not None else 3 for p in spec.params} | {"filters": 6}
    x = torch.randn(2, 4, 7, 5)
    for block in spec.blocks:
        c_out = 6 if block == "layer" else 4
        y = make_op(name, 4, c_out, stride, params, block=block)(x)
        assert y.shape == (2, c_out, out_size(7, stride), out_size(5, stride)), (name, block)


def _one_conv_net() -> NasConvNet:
    layer = Layer(index=0, op="conv", params={"filter_height": 3, "filter_width": 3, "filters": 24, "stride": 1},
                  inputs=[])
    return NasConvNet([layer], CIFAR)


def test_count_params_of_a_known_net():
    net = _one_conv_net()
    # conv 3*3*3*24 (no bias) + BN 2*24 + Linear 24*10 + 10
    assert count_params(net) == 648 + 48 + 250 == sum(p.numel() for p in net.parameters())


def test_count_macs_of_a_known_net_per_example():
    net = _one_conv_net()
    net.train()
    stats = net.layers[0][1].running_mean.clone()
    profile = profile_child(net, torch.randn(2, 3, 32, 32))  # batch 2: counted per image
    assert profile.macs == 32 * 32 * 3 * 3 * 3 * 24 + 24 * 10
    assert profile.params == 946
    assert net.training and torch.equal(net.layers[0][1].running_mean, stats)  # profiling left BN alone


def test_count_macs_of_grouped_convs_and_sequence_linears():
    sep = SepConv(8, 16, kernel=3, stride=1)  # depthwise 8*8*9*1*8 + pointwise 8*8*1*8*16
    assert count_macs(sep, torch.randn(3, 8, 8, 8)) == 4608 + 8192
    linear = nn.Linear(5, 7)  # a (T, B, in) input: every leading dim is a row
    assert count_macs(linear, torch.randn(3, 4, 5), examples=12) == 35


def test_image_children_take_channels_last_input_and_compute_the_same():
    # build_child hands image children a channels-last batch (faster on oneDNN); the weights keep their layout,
    # so the result must equal the same module run on the plain NCHW batch.
    from nascli.children import build_child

    arch = sample_architecture(_compiled("enas_macro"), random.Random(3))
    child = build_child(arch, CIFAR).eval()
    seen = []
    first_conv = next(m for m in child.modules() if isinstance(m, nn.Conv2d))
    first_conv.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        fast = child(x)
        child._forward_pre_hooks.clear()  # the same module without build_child's layout change
        plain = child(x)
    assert seen[0].is_contiguous(memory_format=torch.channels_last) and not seen[0].is_contiguous()
    assert seen[1].is_contiguous()
    assert first_conv.weight.is_contiguous()
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
