"""Budgets (docs/budgets.md): costs counted before training, units, hard limits under each strategy,
refusals recorded and shown, the Pareto front, and limits reaching `compare`."""

from __future__ import annotations

import json

import pytest

from nascli.arch import decode
from nascli.budget import Constraints, Cost, format_count, format_ms, parse_count, parse_latency
from nascli.budget.cost import count_cost
from nascli.budget.pareto import pareto_front
from nascli.cli import app
from nascli.data.base import ImageTask, TabularTask
from nascli.errors import RunError
from nascli.runs import RunStore

BENCH = ["nb201", "--benchmark", "nb201"]


def test_an_mlp_is_counted_as_by_hand():
    # features 4 -> dense 16 -> dense 64 (reads layer 0) -> classifier of the loose end (layer 1) -> 3 classes
    arch = decode("mlp: 16 sigmoid 0.1 / 64 sigmoid 0.0 0")
    cost = count_cost(arch, TabularTask(features=4, classes=3))
    assert cost.params == (4 * 16 + 16) + (16 * 64 + 64) + (64 * 3 + 3)
    assert cost.macs == 4 * 16 + 16 * 64 + 64 * 3


def test_a_conv_net_is_counted_as_by_hand():
    # six 1x1 convs of 24 filters with no inputs: each reads the image (NAS compilation rule); all six are
    # loose ends, so the classifier reads their 144 pooled channels
    arch = decode("conv: 1 1 24 / 1 1 24 - / 1 1 24 - / 1 1 24 - / 1 1 24 - / 1 1 24 -")
    cost = count_cost(arch, ImageTask(channels=3, height=8, width=8, classes=10))
    per_layer = 3 * 24 + 2 * 24  # conv weights (no bias) + batch-norm scale and shift
    assert cost.params == 6 * per_layer + (144 * 10 + 10)
    assert cost.macs == 6 * (3 * 24 * 8 * 8) + 144 * 10


@pytest.mark.parametrize(("text", "count"), [("1.5M", 1_500_000), ("300M", 300_000_000), ("40k", 40_000),
                                             ("2G", 2_000_000_000), ("950", 950), (" 0.5M ", 500_000)])
def test_counts_take_units(text, count):
    assert parse_count(text) == count


@pytest.mark.parametrize(("text", "ms"), [("5ms", 5.0), ("0.2s", 200.0), ("800us", 0.8), ("1.5 ms", 1.5)])
def test_latency_takes_units(text, ms):
    assert parse_latency(text) == pytest.approx(ms)


@pytest.mark.parametrize("text", ["", "M", "1.5X", "-3M", "0M", "inf", "nan", "1e999M", "5 m s", "1.5MM"])
def test_bad_counts_are_refused_naming_the_option(text):
    with pytest.raises(RunError, match="--max-params"):
        parse_count(text)


@pytest.mark.parametrize("text", ["5", "5m", "5 hours", "-1ms", "0ms"])
def test_bad_latencies_are_refused(text):
    with pytest.raises(RunError, match="--max-latency"):
        parse_latency(text)


def test_formats():
    assert (format_count(1_500_000), format_count(300_000_000), format_count(950)) == ("1.5M", "300M", "950")
    assert (format_ms(5.0), format_ms(0.25), format_ms(1234)) == ("5ms", "0.25ms", "1.23s")


def test_the_limit_check_names_what_is_over():
    limits = Constraints(max_params=500_000, max_latency_ms=5.0)
    assert limits.over(Cost(400_000, 10)) is None and limits.over(Cost(500_000, 10, 5.0)) is None
    assert limits.over(Cost(600_000, 10)) == "600k params > --max-params 500k"
    assert limits.over(Cost(400_000, 10, 7.5)) == "7.5ms > --max-latency 5ms"


def test_the_pareto_front_of_a_hand_made_set():
    points = [("a", 0.90, 10), ("b", 0.80, 5), ("c", 0.85, 12), ("d", 0.80, 5), ("e", 0.95, 20), ("f", 0.70, 6),
              ("g", 0.95, 25), ("h", None, 1)]
    front = pareto_front(points, lambda p: p[1], lambda p: p[2])
    assert [p[0] for p in front] == ["b", "d", "a", "e"]  # c beaten by a, f by b, g by e; h has no accuracy


def _search(runner, *args):
    result = runner.invoke(app, ["search", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _children(run):
    with RunStore.open_readonly(run) as store:
        return store.children(), store.counts()


@pytest.mark.parametrize("strategy", ["random", "reinforce", "evolution"])
def test_no_child_over_the_limit_is_trained_on_the_benchmark(runner, tmp_path, strategy):
    run = tmp_path / "run"
    _search(runner, *BENCH, "--strategy", strategy, "--budget", "24", "--max-params", "0.3M", "--seed", "1",
            "--run-dir", str(run))
    children, counts = _children(run)
    done = [c for c in children if c.status == "done"]
    refused = [c for c in children if c.status == "refused"]
    assert len(done) == 24 and all(c.params <= 300_000 for c in done)
    assert refused and all(c.params > 300_000 and c.seconds is None and c.metric is None for c in refused)
    assert all("> --max-params 300k" in c.error for c in refused)
    # reinforce learns from a refusal (its reward, 0); random and evolution drew (mutated) again
    assert all(c.reward == (0.0 if strategy == "reinforce" else None) for c in refused)
    assert counts["refused"] == len(refused)
    shown = runner.invoke(app, ["show", str(run)]).output
    assert f"{len(refused)} samples refused by the limits (--max-params 300k)" in shown
    assert "best 5 of 24" in shown
    as_json = json.loads(runner.invoke(app, ["show", str(run), "--json"]).output)
    assert sum(c["status"] == "refused" for c in as_json["children"]) == len(refused)


def test_a_space_with_nothing_within_the_limit_is_refused_with_an_estimate(runner, tmp_path):
    result = runner.invoke(app, ["search", *BENCH, "--strategy", "random", "--budget", "4", "--max-params", "1k",
                                 "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "no architecture within --max-params 1k in 100 draws" in result.output
    assert "about 0 of 200 architectures drawn uniformly from the space fit (0.0%)" in result.output


def test_latency_does_not_apply_to_a_table(runner, tmp_path):
    result = runner.invoke(app, ["search", *BENCH, "--max-latency", "5ms", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and "the table has no latency" in result.output
    result = runner.invoke(app, ["search", *BENCH, "--max-params", "1.5X", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and "--max-params '1.5X'" in result.output


def test_show_pareto_lists_the_front(runner, tmp_path):
    run = tmp_path / "run"
    _search(runner, *BENCH, "--strategy", "random", "--budget", "16", "--seed", "3", "--run-dir", str(run))
    children, _ = _children(run)
    front = pareto_front(children, lambda c: c.metric, lambda c: c.params)
    text = runner.invoke(app, ["show", str(run), "--pareto"]).output
    assert f"({len(front)} of 16 trained children)" in text
    rows = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    assert rows == [str(c.id) for c in front]
    assert runner.invoke(app, ["show", str(run), "--pareto", "--cost", "bogus"]).exit_code == 2


def test_compare_takes_the_limits(runner, tmp_path):
    result = runner.invoke(app, ["compare", *BENCH, "--strategies", "random", "--runs", "2", "--budget", "8",
                                 "--max-params", "0.3M", "--run-dir", str(tmp_path / "cmp"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    runs = [p for p in (tmp_path / "cmp").rglob("run.db")]
    assert runs
    for db in runs:
        children, counts = _children(db.parent)
        assert counts["done"] == 8 and all(c.params <= 300_000 for c in children if c.status == "done")


def test_mnasnet_objective_factor():
    soft = Constraints(objective_cost="params", objective_target=1e6)
    assert soft.objective_factor(Cost(2_000_000, 0)) == pytest.approx(2 ** -0.07)
    assert soft.objective_factor(Cost(500_000, 0)) == pytest.approx(0.5 ** -0.07)  # below: a small bonus
    hard = Constraints(objective_cost="params", objective_target=1e6, objective_w=0, objective_w_over=-1)
    assert hard.objective_factor(Cost(500_000, 0)) == 1 and hard.objective_factor(Cost(4_000_000, 0)) == 0.25


def test_the_objective_scales_each_trained_childs_reward(runner, tmp_path):
    run = tmp_path / "run"
    _search(runner, *BENCH, "--strategy", "random", "--budget", "8", "--objective", "params=0.3M",
            "--objective-w", "0", "--objective-w-over", "-1", "--run-dir", str(run))
    children, _ = _children(run)
    assert any(c.params > 300_000 for c in children)
    for c in children:  # the NAS reward (validation cubed) times MnasNet's factor
        assert c.reward == pytest.approx(c.metric ** 3 * min(1.0, 300_000 / c.params))
    bad = runner.invoke(app, ["search", *BENCH, "--objective", "speed=3", "--run-dir", str(tmp_path / "r2")])
    assert bad.exit_code == 2 and "expected params=TARGET" in bad.output


def test_decode_with_a_dataset_shows_the_cost_and_latency(runner):
    result = runner.invoke(app, ["decode", "mlp: 16 sigmoid 0.1 / 64 sigmoid 0.0 0", "--dataset", "csv"])
    assert result.exit_code == 0, result.output
    assert "multiply-adds per row" in result.output
    assert "ms per forward pass of 1 on the cpu (median of 3 rounds' fastest of 10, after 3 warm-up, 1 thread)" in result.output


def test_a_latency_limit_refuses_and_records_measured_children(runner, tmp_path, monkeypatch):
    """--max-latency on real (tabular) data, with the timer replaced by a deterministic one (a loaded
    machine's timings would make the test flaky): trained children are within the limit on every round,
    refused ones over it on at least one (some of them with a median round within it), and every figure is
    cached in the run, measured once per architecture."""
    import nascli.budget.latency as latency

    timed, medians = [], {}

    def fake(arch, task, device, config, child=None):
        timed.append(arch.tokens)
        ms = sum(layer.params["units"] for layer in arch.layers) / 100
        medians[arch.tokens] = ms
        return latency.Timing((0.9 * ms, ms, 1.3 * ms))  # the slowest round 30% above the median

    monkeypatch.setattr(latency, "time_child", fake)
    run = tmp_path / "run"
    _search(runner, "mlp", "--dataset", "csv", "--strategy", "random", "--budget", "3", "--epochs", "1",
            "--max-latency", "1ms", "--seed", "2", "--run-dir", str(run))
    children, counts = _children(run)
    done = [c for c in children if c.status == "done"]
    refused = [c for c in children if c.status == "refused"]
    # accepted at most 0.9 ms: the limit less the default 10% --latency-margin
    assert len(done) == 3 and all(c.latency_ms <= 0.9 for c in done)
    assert all(c.latency_ms == pytest.approx(1.3 * medians[c.tokens]) for c in children)  # the slowest round
    assert refused and all(c.latency_ms > 0.9 for c in refused)
    assert any(medians[c.tokens] <= 0.9 for c in refused)  # a median within the limit is not enough
    assert len(timed) == len(set(timed))  # the cache answered every repeat
    with RunStore.open_readonly(run) as store:
        assert all(store.cached_latency(c.tokens, "cpu", 1) == c.latency_ms for c in children)


def test_eval_best_chooses_within_a_limit(runner, tmp_path):
    run = tmp_path / "run"
    _search(runner, *BENCH, "--strategy", "random", "--budget", "16", "--seed", "3", "--run-dir", str(run))
    children, _ = _children(run)
    best = max(children, key=lambda c: (c.reward, -c.id))
    limit = best.params - 1  # the overall best is over it
    within = max((c for c in children if c.params <= limit), key=lambda c: (c.reward, -c.id))
    result = runner.invoke(app, ["eval", "--best", "--run", str(run), "--max-params", str(limit), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["child_id"] == within.id != best.id
    none = runner.invoke(app, ["eval", "--best", "--run", str(run), "--max-params", "1"])
    assert none.exit_code == 2 and "no finished child within the limits" in none.output
