"""The latency table (budget/latency_table.py): its keys, its sum, its file, and --latency-model."""

from __future__ import annotations

import json
import random

import pytest
import torch

from nascli.arch.sample import sample_architecture
from nascli.budget.latency_table import LatencyTable, load_table
from nascli.budget.latency_units import LatencyTableError, child_units
from nascli.cli import app
from nascli.data.base import ImageTask
from nascli.search.options import SearchOptions, search_config
from nascli.space import load_space
from nascli.space.compiler import compile_space

TASK = ImageTask(3, 8, 8, 10)
TINY = """space tiny {
    task = image
    dataset = cifar10
    layers 2 {
        filter_height = 3
        filter_width = 3
        filters: {8, 16}
        stride = 1
        skip = previous
    }
}
"""


def _children(tmp_path, n=4):
    path = tmp_path / "tiny.space"
    path.write_text(TINY)
    compiled = compile_space(load_space(str(path)))
    rng, seen = random.Random(0), {}
    while len(seen) < n:
        arch = sample_architecture(compiled, rng)
        seen.setdefault(arch.tokens, arch)
    return list(seen.values())


def fake_timer(calls):
    """ms = the unit's parameters / 1000: deterministic, and different for every distinct layer."""
    def timer(module, inputs, device, config):
        calls.append(module)
        return sum(p.numel() for p in module.parameters()) / 1000 + 0.001
    return timer


def test_key_reuses_shared_layers_and_counts_exactly(tmp_path):
    children = _children(tmp_path)
    keys = {u.key for arch in children for u in child_units(arch, TASK, 1)}
    # layer 0: 2 widths reading the image; layer 1: 2 widths x 2 input widths; the head: 2 input widths
    assert len(keys) == 2 + 4 + 2
    calls = []
    table = LatencyTable(TASK, timer=fake_timer(calls), measure=lambda arch: 1.0, calibration=0)
    for arch in children + children:
        table.predict(arch)
    assert len(calls) == 8 and len(table.data.entries) == 8  # each entry timed once, reused after


def test_prediction_is_sum_of_entries_plus_fixed_part(tmp_path):
    children = _children(tmp_path)
    calls = []
    table = LatencyTable(TASK, timer=fake_timer(calls), measure=lambda arch: 10.0, calibration=3)
    model_ms = {}
    for arch in children:
        with torch.device("meta"):
            from nascli.children import build_child
            model = build_child(arch, TASK)
        model_ms[arch.tokens] = sum(sum(p.numel() for p in model.get_submodule(u.path).parameters()) / 1000 + 0.001
                                    for u in child_units(arch, TASK, 1))
    predictions = [table.predict(arch) for arch in children]
    sums = [model_ms[a.tokens] for a in children]
    fixed = sorted(10.0 - s for s in sums[:3])[1]  # the median of the 3 calibration children's gaps
    assert table.data.fixed_ms == pytest.approx(fixed)
    assert predictions[3] == pytest.approx(sums[3] + fixed)
    assert len(set(round(p, 6) for p in predictions)) > 1  # the children differ, and so do their figures


def test_table_round_trips_as_json(tmp_path):
    children = _children(tmp_path)
    path = tmp_path / "table.json"
    first = LatencyTable(TASK, timer=fake_timer([]), measure=lambda arch: 5.0, path=path)
    for arch in children:  # the first 3 calibrate the fixed part; after them every figure is final
        first.predict(arch)
    before = [first.predict(arch) for arch in children]
    stored = json.loads(path.read_text())  # plain data
    assert stored["format"] == 1 and len(stored["tables"]) == 1

    def no_timing(*args):
        raise AssertionError("a loaded table must not time again")
    again = LatencyTable(TASK, timer=no_timing, measure=no_timing, path=path)
    assert [again.predict(arch) for arch in children] == before
    other = load_table(path, LatencyTable(TASK, config=__import__("nascli.budget.latency", fromlist=["x"])
                                          .LatencyConfig(batch=4), timer=no_timing).key)
    assert other.entries == {}  # another batch is another table


def test_recurrent_child_is_refused():
    compiled = compile_space(load_space("spaces/enas_rnn.space"))
    arch = sample_architecture(compiled, random.Random(0))
    with pytest.raises(LatencyTableError):
        child_units(arch, TASK, 1)


def test_latency_command_refuses_a_language_space(runner):
    result = runner.invoke(app, ["latency", "spaces/rnn.space", "--device", "cpu", "--sample", "2"])
    assert result.exit_code == 2, result.output
    assert "latency table" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_latency_model_in_the_config_and_on_the_cli(runner, tmp_path):
    table = search_config(SearchOptions(space="spaces/mobilenet.space", max_latency="5ms", latency_model="table"))
    assert table.constraints.latency_model == "table"
    assert type(table).model_validate_json(table.model_dump_json()).constraints.latency_model == "table"  # resumed
    plain = search_config(SearchOptions(space="spaces/mobilenet.space", max_latency="5ms"))
    assert plain.constraints.latency_model == "measured"  # auto, not enas
    for args, words in ((["--latency-model", "bogus", "--max-latency", "5ms"], "expected measured, table or auto"),
                        (["--latency-model", "table"], "applies with --max-latency")):
        result = runner.invoke(app, ["search", "spaces/mobilenet.space", *args, "--run-dir", str(tmp_path / "r")])
        assert result.exit_code == 2, result.output
        assert words in result.output and len(result.output.strip().splitlines()) == 1
    result = runner.invoke(app, ["search", "--resume", str(tmp_path / "none"), "--latency-model", "table"])
    assert result.exit_code == 2 and "chosen when a run starts" in result.output
