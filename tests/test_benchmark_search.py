"""`nascli search --benchmark nb201`: children looked up in NAS-Bench-201, the simulated clock, `eval --best`,
and the proof that the table's test columns never reach a strategy."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import random
from pathlib import Path

import pytest

from nascli.arch import decode
from nascli.benchmarks import get_benchmark, shipped_table_path
from nascli.benchmarks.nb201 import arch_string
from nascli.cli import app
from nascli.runs import RunStore
from nascli.runs.checkpoint import load_checkpoint

from test_crashpoints import _same_state

BENCH = ["nb201", "--benchmark", "nb201"]


@pytest.fixture(scope="module")
def table():
    return get_benchmark("nb201").table()


def _search(runner, *args: str) -> str:
    result = runner.invoke(app, ["search", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _children(run: Path):
    with RunStore.open_readonly(run) as store:
        return store.children()


def test_every_child_is_the_tables_row_and_eval_looks_the_best_up(runner, tmp_path, table):
    run = tmp_path / "run"
    out = _search(runner, *BENCH, "--budget", "6", "--batch", "3", "--seed", "4", "--run-dir", str(run))
    assert "looked up in the nb201 table" in out and "cifar10_valid_12" in out
    children = _children(run)
    assert [c.status for c in children] == ["done"] * 6
    for c in children:
        seen = table.observe(arch_string(decode(c.tokens)), "cifar10", 12)
        assert c.metric == pytest.approx(seen.valid / 100) and c.metric_name == "valid_accuracy"
        assert c.reward == pytest.approx((seen.valid / 100) ** 3)  # both presets cube it
        assert c.seconds == pytest.approx(seen.seconds) and c.device == "table"
        assert c.params == round(seen.params_m * 1e6) and c.macs == round(seen.flops_m * 1e6)
    result = runner.invoke(app, ["eval", "--best", "--run", str(run), "--json"])
    assert result.exit_code == 0, result.output
    looked = json.loads(result.output)
    best = max(children, key=lambda c: (c.metric, -c.id))  # chosen by validation
    arch = arch_string(decode(best.tokens))
    assert looked["looked_up"] is True and looked["child_id"] == best.id
    assert looked["test_accuracy"] == pytest.approx(table.test_accuracy(arch, "cifar10", 200))
    assert looked["test_column"] == "cifar10_test_200" and looked["index"] == table.index(arch)
    text = runner.invoke(app, ["eval", "--best", "--run", str(run)]).output
    assert "looked up in the nb201 table, not trained" in text and f"{looked['test_accuracy']:.2f}%" in text
    assert not (run / "eval").exists()  # nothing was trained, nothing saved
    assert run.name in runner.invoke(app, ["runs", "--root", str(tmp_path)]).output
    assert runner.invoke(app, ["report", str(run), "-o", str(tmp_path / "r.png")]).exit_code == 0


def test_the_time_budget_ends_before_the_query_that_would_pass_it(runner, tmp_path, table):
    run = tmp_path / "run"
    out = _search(runner, *BENCH, "--strategy", "random", "--time-budget", "2000", "--batch", "4", "--seed", "2",
                  "--run-dir", str(run))
    children = _children(run)
    done = [c for c in children if c.status == "done"]
    spent = math.fsum(c.seconds for c in done)
    first_left = next(c for c in children if c.status == "pending")
    cost = table.observe(arch_string(decode(first_left.tokens)), "cifar10", 12).seconds
    assert spent <= 2000 < spent + cost  # the next query would have passed the budget
    assert [c.status for c in children] == ["done"] * len(done) + ["pending"] * (len(children) - len(done))
    assert "the time budget ended the search" in out
    with RunStore.open_readonly(run) as store:
        assert store.state == "finished" and len(store.steps()) == len(done) // 4  # no partial update
    # a resume with more time goes on from the child left pending
    _search(runner, "--resume", str(run), "--time-budget", "4000")
    more = _children(run)
    assert more[first_left.id - 1].status == "done" and math.fsum(c.seconds for c in more if c.status == "done") <= 4000


def test_cifar100_and_the_200_epoch_fidelity_with_seed_noise(runner, tmp_path, table):
    run = tmp_path / "c100"
    _search(runner, *BENCH, "--benchmark-dataset", "cifar100", "--budget", "3", "--run-dir", str(run))
    for c in _children(run):
        assert c.metric == pytest.approx(table.observe(arch_string(decode(c.tokens)), "cifar100", 12).valid / 100)
    runs = [tmp_path / name for name in ("noisy-a", "noisy-b")]
    for folder in runs:
        _search(runner, *BENCH, "--fidelity", "200", "--seed-noise", "--budget", "8", "--seed", "3",
                "--run-dir", str(folder))
    first, second = _children(runs[0]), _children(runs[1])
    assert [(c.tokens, c.metric) for c in first] == [(c.tokens, c.metric) for c in second]  # seeded by run and id
    drawn = 0
    for c in first:
        arch = arch_string(decode(c.tokens))
        values = table.seed_values(arch, "cifar10", 200)
        assert c.metric * 100 in [pytest.approx(v) for v in values.values()]
        assert c.seconds == pytest.approx(table.observe(arch, "cifar10", 200).seconds)
        drawn += not math.isclose(c.metric * 100, table.observe(arch, "cifar10", 200).valid)
    assert drawn > 0  # one seed's value, not the mean


@pytest.mark.parametrize("args, message", [
    (["conv", "--benchmark", "nb201"], "not NAS-Bench-201's space"),
    ([*BENCH, "--benchmark-dataset", "imagenet"], "no dataset 'imagenet' in the table; it has cifar10, cifar100"),
    ([*BENCH, "--fidelity", "50"], "--fidelity 50: the table has cifar10 validation after 12, 200 epochs"),
    ([*BENCH, "--seed-noise"], "no per-seed columns for cifar10 at 12 epochs (it has them for: cifar10 at 200"),
    ([*BENCH, "--epochs", "3"], "--epochs do not apply to --benchmark nb201"),
    ([*BENCH, "--workers", "2"], "--workers do not apply"),
    (["nb201", "--fidelity", "200"], "--fidelity apply to --benchmark searches only"),
    (["nb201", "--benchmark", "nb999"], "unknown benchmark 'nb999'"),
    ([*BENCH, "--strategy", "enas"], "--strategy enas trains shared weights"),
])
def test_what_a_benchmark_search_refuses_is_one_line_and_exit_2(runner, tmp_path, args, message):
    result = runner.invoke(app, ["search", *args, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()  # refused before the run folder is made


def test_a_resume_keeps_the_benchmark_settings_it_started_with(runner, tmp_path):
    run = tmp_path / "run"
    _search(runner, *BENCH, "--budget", "2", "--run-dir", str(run))
    result = runner.invoke(app, ["search", "--resume", str(run), "--benchmark-dataset", "cifar100", "--fidelity", "200"])
    assert result.exit_code == 2
    assert "--benchmark-dataset, --fidelity: chosen when a run starts" in " ".join(result.output.split())


def _scrambled_copy(path: Path) -> Path:
    """The shipped table with every test column shuffled across rows (and the rest as it is)."""
    rows = list(csv.reader(io.StringIO(gzip.decompress(shipped_table_path().read_bytes()).decode())))
    header, body = rows[0], rows[1:]
    rng = random.Random(0)
    for i, name in enumerate(header):
        if "_test_" in name:
            column = [row[i] for row in body]
            rng.shuffle(column)
            for row, value in zip(body, column):
                row[i] = value
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *body])
    return path


def _everything_a_strategy_sees(run: Path) -> dict:
    with RunStore.open_readonly(run) as store:
        children = [c.model_dump(exclude={"created", "finished"}) for c in store.children()]
        steps = [s.model_dump(exclude={"time"}) for s in store.steps()]
    return {"children": children, "steps": steps, "strategy": load_checkpoint(run / "checkpoints")["strategy"]}


@pytest.mark.parametrize("strategy", ["reinforce", "random"])
def test_the_test_columns_never_reach_a_strategy(runner, tmp_path, strategy):
    scrambled = _scrambled_copy(tmp_path / "scrambled.csv")
    seen = {}
    for name, table_args in (("shipped", []), ("scrambled", ["--benchmark-table", str(scrambled)])):
        run = tmp_path / name
        _search(runner, *BENCH, *table_args, "--strategy", strategy, "--time-budget", "3000", "--batch", "2",
                "--seed", "9", "--run-dir", str(run))
        seen[name] = _everything_a_strategy_sees(run)
        tests = json.loads(runner.invoke(app, ["eval", "--best", "--run", str(run), "--json"]).output)
        seen[name]["test"] = tests["test_accuracy"]
    assert seen["shipped"]["children"] == seen["scrambled"]["children"]  # rows, rewards, metrics, clock
    assert seen["shipped"]["steps"] == seen["scrambled"]["steps"]
    assert _same_state(seen["shipped"]["strategy"], seen["scrambled"]["strategy"])  # the controller's state
    assert seen["shipped"]["test"] != seen["scrambled"]["test"]  # the scrambled column was there to be read


def test_the_presets_defaults_and_overrides():
    from nascli.search.options import SearchOptions, search_config

    bench = search_config(SearchOptions(space="nb201", benchmark="nb201", time_budget=1000.0))
    assert (bench.controller_preset, bench.reinforce.lr, bench.reinforce.entropy_weight) == ("short", 0.03, 0.01)
    assert bench.budget is None and bench.batch == 4 and bench.reward.power == 3.0
    paper = search_config(SearchOptions(space="nb201", benchmark="nb201", controller_preset="paper", budget=8))
    assert (paper.controller_preset, paper.reinforce.lr, paper.reinforce.entropy_weight) == ("paper", 6e-4, 0.0)
    real = search_config(SearchOptions(space="conv"))
    assert (real.controller_preset, real.reinforce.lr, real.batch, real.budget) == ("paper", 6e-4, 4, 8)
    mixed = search_config(SearchOptions(space="nb201", benchmark="nb201", budget=8, controller_lr=0.01,
                                        entropy_weight=0.0, baseline_decay=0.5))
    assert (mixed.reinforce.lr, mixed.reinforce.entropy_weight, mixed.reinforce.baseline_decay) == (0.01, 0.0, 0.5)
