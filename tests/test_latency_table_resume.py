"""A from-scratch search with --latency-model table, resumed: the table screens (a child predicted over the limit
less --latency-margin is refused on the prediction), a timing confirms (each child it lets through is timed
whole, and that figure is recorded); the resume predicts from the run folder's latency_table.json (the entries
the first run timed are neither timed again nor replaced), keeps the costs and refusals it recorded, and refuses
another --latency-model."""

from __future__ import annotations

import json

import pytest

from nascli.budget import latency, latency_table
from nascli.budget.cost import TABLE_FILE
from nascli.budget.latency_table import LatencyTable
from nascli.cli import app
from nascli.runs import RunStore

FIXED_MS = 0.5
TIMED_OVER = 1.0  # a whole child's timing exceeds the table's prediction by this much
LIMIT_MS = 135.0  # --max-latency 150ms less the default 10% margin
ARGS = ["conv", "--strategy", "random", "--batch", "2", "--epochs", "1", "--train-subset", "16", "--seed", "1",
        "--max-latency", "150ms", "--latency-model", "table"]


def _timed_by(patch, divisor: float) -> tuple[list, list]:
    """Table entries timed as ms = the unit's parameters / `divisor` (a loaded machine's real timings would move
    the limit's boundary between runs; the timer itself is tested in test_latency_table.py), a calibration child
    as its entries + FIXED_MS, and a child timed whole (the confirmation) as that + TIMED_OVER; returns the units
    timed and the children timed whole."""
    timed, confirmed, tables = [], [], []

    def timer(module, inputs, device, config):
        timed.append(module)
        return sum(p.numel() for p in module.parameters()) / divisor + 0.001

    class DeterministicTable(LatencyTable):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs, timer=timer, measure=lambda arch: self.entry_sum(arch) + FIXED_MS)
            tables.append(self)

    def time_child(arch, task, device="cpu", config=None, child=None):
        confirmed.append(arch.tokens)
        return latency.Timing((tables[-1].entry_sum(arch) + FIXED_MS + TIMED_OVER,))

    patch.setattr(latency_table, "LatencyTable", DeterministicTable)
    patch.setattr(latency, "time_child", time_child)
    return timed, confirmed


def _check_split(store, rows) -> dict[str, int]:
    """Each row's latency is the figure that decided it: the table's prediction for a child refused on it (over
    the limit), the whole timing for one the table let through (trained within the limit, or refused when the
    timing is over it). Returns how many rows each way went."""
    ways = {"done": 0, "refused on the prediction": 0, "refused on the timing": 0}
    for tokens, status, _, _, ms, error, _ in rows:
        predicted, timed = store.cached_latency(tokens, "cpu/table", 1), store.cached_latency(tokens, "cpu", 1)
        if status == "done":
            assert ms == timed == predicted + TIMED_OVER and ms <= LIMIT_MS
            ways["done"] += 1
            continue
        assert status == "refused" and error.endswith("> --max-latency 150ms less 10% (135ms)"), error
        if predicted > LIMIT_MS:
            assert ms == predicted and timed is None  # never built or timed
            ways["refused on the prediction"] += 1
        else:
            assert ms == timed == predicted + TIMED_OVER > LIMIT_MS
            ways["refused on the timing"] += 1
    return ways


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
    first_timed, first_confirmed = _timed_by(monkeypatch, 1000)
    result = runner.invoke(app, ["search", *ARGS, "--budget", "2", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    before, table_before = _rows(run), _table(run)
    assert len(first_timed) == len(table_before["entries"])
    assert len(table_before["calibration"]) == latency_table.CALIBRATION
    assert [r[1] for r in before].count("done") == 2 and "refused" in [r[1] for r in before]
    with RunStore.open_readonly(run) as store:
        ways = _check_split(store, before)
    # only the children the table let through were timed whole
    assert len(first_confirmed) == ways["done"] + ways["refused on the timing"]

    refused = runner.invoke(app, ["search", "--resume", str(run), "--latency-model", "measured"])
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1
    assert "--latency-model: chosen when a run starts; a resume keeps the run's" in refused.output
    assert _rows(run) == before and _table(run) == table_before

    # timed at twice the figures: a table rebuilt on resume would change the first run's entries
    resumed_timed, _ = _timed_by(monkeypatch, 500)
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
        ways = _check_split(store, after)
    # this seed's draws go all three ways: the table's 1 ms under-prediction costs one child a timing, not a training
    assert all(ways.values()), ways
