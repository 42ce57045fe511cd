"""children/profile.py's MacCounter gives torch's FlopCounterMode's count (halved: MACs), on the meta device
where a search counts every child it draws, and on real tensors."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nascli.arch.sample import sample_architecture
from nascli.children import build_child, example_input
from nascli.children.profile import count_macs
from nascli.data import load_dataset
from nascli.data.spec import DataSpec
from nascli.space import load_space
from nascli.space.compiler import compile_space


def _flop_counter_macs(model: nn.Module, args: tuple) -> int:
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*args)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("space", ["enas_macro", "enas_micro", "nb201", "conv", "mobilenet", "darts", "rnn", "mlp"])
def test_the_counter_equals_flop_counter_mode_on_sampled_children(space, one_thread):
    ir = load_space(space)
    compiled, task = compile_space(ir), load_dataset(DataSpec.for_space(ir).name, None).task
    rng = random.Random(7)
    for _ in range(2):
        arch = sample_architecture(compiled, rng)
        with torch.device("meta"):
            model = build_child(arch, task)
            args = example_input(model, task)
            expected = _flop_counter_macs(model, args)
            assert count_macs(model, args, examples=1) == expected > 0, arch.tokens


def test_real_tensors_and_broadcasts_are_counted_as_flop_counter_mode_counts():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Hardtanh(), nn.Flatten(),
                          nn.Linear(8 * 6 * 6, 5), nn.Sigmoid())
    x = torch.randn(2, 3, 6, 6)
    assert count_macs(model, x) == _flop_counter_macs(model, (x,)) // 2 == 3 * 9 * 8 * 36 + 8 * 36 * 5
    for device in ("cpu", "meta"):  # a broadcast add is not made in its first input's shape
        a, b = torch.zeros(2, 8, 4, 4, device=device), torch.zeros(1, 8, 1, 1, device=device)

        class Mixed(nn.Module):
            def forward(self, x):
                y = (b + x) * x
                return nn.functional.linear(y.flatten(1), torch.zeros(3, 128, device=device))

        assert count_macs(Mixed(), a) == _flop_counter_macs(Mixed(), (a,)) // 2 == 128 * 3
