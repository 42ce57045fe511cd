"""A from-scratch search with --latency-model table, resumed: the resume predicts from the run folder's
latency_table.json (the entries the first run timed are neither timed again nor replaced), keeps the costs and
refusals it recorded, and refuses another --latency-model."""

from __future__ import annotations

import json

import pytest

from nascli.budget import latency_table
from nascli.budget.cost import TABLE_FILE
from nascli.budget.latency_table import LatencyTable
from nascli.cli import app
from nascli.runs import RunStore

FIXED_MS = 0.5
ARGS = ["conv", "--strategy", "random", "--batch", "2", "--epochs", "1", "--train-subset", "16", "--seed", "1",
        "--max-latency", "150ms", "--latency-model", "table"]


def _timed_by(patch, divisor: float) -> list:
    """Table entries timed as ms = the unit's parameters / `divisor` (a loaded machine's real timings would move
    the limit's boundary between runs; the timer itself is tested in test_latency_table.py), a whole child as
    its entries + FIXED_MS; returns the list of units timed."""
    timed = []

    def timer(module, inputs, device, config):
        timed.append(module)
        return sum(p.numel() for p in module.parameters()) / divisor + 0.001

    class DeterministicTable(LatencyTable):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs, timer=timer, measure=lambda arch: self.entry_sum(arch) + FIXED_MS)

    patch.setattr(latency_table, "LatencyTable", DeterministicTable)
    return timed


def _table(run) -> dict:
    (table,) = json.loads((run / TABLE_FILE).read_text())["tables"].values()
    return table


def _rows(run) -> list[tuple]:
    with RunStore.open_readonly(run) as store:
        return [(c.tokens, c.status, c.params, c.macs, c.latency_ms, c.error, c.reward) for c in store.children()]


@pytest.mark.slow  # ~15 s: four conv children trained
def test_a_resumed_table_search_predicts_from_the_runs_table_and_keeps_its_refusals(runner, tmp_path, monkeypatch,
                                                                                     one_thread):
    run = tmp_path / "run"
    first_timed = _timed_by(monkeypatch, 1000)
    result = runner.invoke(app, ["search", *ARGS, "--budget", "2", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    before, table_before = _rows(run), _table(run)
    assert len(first_timed) == len(table_before["entries"])
    assert len(table_before["calibration"]) == latency_table.CALIBRATION
    assert [r[1] for r in before].count("done") == 2 and "refused" in [r[1] for r in before]
    for tokens, status, _, _, ms, error, _ in before:
        assert (ms <= 150) == (status == "done") and (error or "").endswith("> --max-latency 150ms") == (ms > 150)

    refused = runner.invoke(app, ["search", "--resume", str(run), "--latency-model", "measured"])
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1
    assert "--latency-model: chosen when a run starts; a resume keeps the run's" in refused.output
    assert _rows(run) == before and _table(run) == table_before

    # timed at twice the figures: a table rebuilt on resume would change the first run's entries
    resumed_timed = _timed_by(monkeypatch, 500)
    result = runner.invoke(app, ["search", "--resume", str(run), "--budget", "4"])
    assert result.exit_code == 0, result.output
    after, table_after = _rows(run), _table(run)
    assert after[:len(before)] == before  # the recorded costs, latencies and refusals
    assert [r[1] for r in after].count("done") == 4
    assert table_after["calibration"] == table_before["calibration"]
    assert {k: table_after["entries"][k] for k in table_before["entries"]} == table_before["entries"]
    assert 0 < len(resumed_timed) == len(table_after["entries"]) - len(table_before["entries"])  # new units only
    with RunStore.open_readonly(run) as store:
        assert store.config["constraints"]["latency_model"] == "table"
        for tokens, status, _, _, ms, _, _ in after:
            assert store.cached_latency(tokens, "cpu/table", 1) == ms and (ms <= 150) == (status == "done")
