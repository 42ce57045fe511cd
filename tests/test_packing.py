"""Checkpoints pack their small tensors into one buffer per dtype; loading gives back exactly what was saved."""

from __future__ import annotations

import io

import torch

from nascli.runs.checkpoint import load_checkpoint, save_checkpoint
from nascli.runs.packing import PACKED, SMALL, pack, unpack
from nascli.search.controller import ControllerConfig
from nascli.search.reinforce import ReinforceConfig
from nascli.search.strategies import ReinforceStrategy
from nascli.space import load_space
from nascli.space.compiler import compile_space

from test_crashpoints import _same_state


def _strategy_state() -> dict:
    strategy = ReinforceStrategy(compile_space(load_space("nb201")), 3, ControllerConfig(), ReinforceConfig(lr=0.01))
    batch = strategy.propose(4, None)
    strategy.update(batch, None, [0.1, 0.5, 0.3, 0.9])
    return {"strategy": strategy.state_dict(), "updated_through": 0, "big": torch.arange(SMALL + 1.0),
            "mixed": [torch.tensor(True), (torch.zeros(2, 3, dtype=torch.int64), 7), "text", None]}


def test_a_packed_state_unpacks_to_the_same_tensors_and_plain_values():
    state = _strategy_state()
    packed = pack(state)
    assert set(packed["buffers"]) == {"torch.float32@cpu", "torch.uint8@cpu", "torch.bool@cpu", "torch.int64@cpu"}
    assert isinstance(packed["tree"]["big"], torch.Tensor)  # a large tensor is saved as it is
    buffer = io.BytesIO()
    torch.save(packed, buffer)
    buffer.seek(0)
    back = unpack(torch.load(buffer, weights_only=True))  # still plain data
    assert _same_state(back, state)
    assert [t.dtype for t in back["mixed"][1][:1]] == [torch.int64] and back["mixed"][2:] == ["text", None]
    assert unpack({"not": "packed"}) == {"not": "packed"}  # a checkpoint of an older run loads as it is


def test_a_checkpoint_round_trips_and_restores_a_strategy_that_samples_the_same(tmp_path):
    state = _strategy_state()
    save_checkpoint(tmp_path, state)
    assert PACKED in torch.load(tmp_path / "controller.pt", weights_only=True)
    loaded = load_checkpoint(tmp_path)
    assert _same_state(loaded, state)
    a = ReinforceStrategy(compile_space(load_space("nb201")), 0, ControllerConfig(), ReinforceConfig(lr=0.01))
    b = ReinforceStrategy(compile_space(load_space("nb201")), 0, ControllerConfig(), ReinforceConfig(lr=0.01))
    a.load_state_dict(state["strategy"])
    b.load_state_dict(loaded["strategy"])
    assert a.propose(8, None) == b.propose(8, None)


def test_the_log_probs_of_a_fresh_sample_are_those_a_rescore_gives():
    for name in ("nb201", "conv_pool", "enas_micro"):
        compiled = compile_space(load_space(name))
        strategy = ReinforceStrategy(compiled, 5, ControllerConfig(), ReinforceConfig())
        depth = compiled.depth_at(0)
        batch = strategy.propose(6, depth)
        cached = strategy.log_probs(batch, depth)
        assert cached == strategy.log_probs(list(batch), depth)  # a new list: scored again by the controller
