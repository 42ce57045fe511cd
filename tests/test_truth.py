"""`nascli fidelity RUN --truth nb201`: a run's search scores against NAS-Bench-201's table, nothing retrained."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from nascli.arch import decode
from nascli.arch.sample import sample_architecture
from nascli.benchmarks import get_benchmark
from nascli.cli import app
from nascli.fidelity import kendall_tau, spearman_rho
from nascli.runs import RunStore
from nascli.runs.fidelity import load_truth
from nascli.space import load_space, read_space_text
from nascli.space.compiler import compile_space
from test_search import FAST, search

TABLE = get_benchmark("nb201").table()


def _truth(tokens: str, dataset: str = "cifar10") -> float:
    return TABLE.valid_accuracy(get_benchmark("nb201").arch_key(decode(tokens)), dataset, 200)


def _run(folder: Path, space: str, scored: list[tuple[str, float | None]]) -> Path:
    """A run folder whose children are `scored` (token string, search-time accuracy; None: failed)."""
    text = read_space_text(load_space(space).source)
    config = {"strategy": "random", "data": {"name": "cifar10", "data_dir": "cifar10-mini"},
              "train": {"epochs": 3, "train_subset": 400}}
    run = folder / "run"
    with RunStore.create(run, config, text, hashlib.sha256(text.encode()).hexdigest()) as store:
        ids = store.add_children(0, None, [(tokens, decode(tokens).model_dump_json()) for tokens, _ in scored])
        store.mark_running(ids)
        for child_id, (_, metric) in zip(ids, scored):
            if metric is None:
                store.fail_child(child_id, "diverged", 0.0, 1.0)
            else:
                store.finish_child(child_id, metric ** 3, metric, "valid_accuracy", 1000, 1000, 1.0)
        store.state = "finished"
    return run


def _sampled(n: int, seed: int = 0) -> list[str]:
    compiled = compile_space(load_space("nb201"))
    rng = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < n:
        found[sample_architecture(compiled, rng).tokens] = None
    return list(found)


def test_scores_in_the_tables_order_give_tau_one_and_repeats_count_once(runner, tmp_path):
    archs = _sampled(12)
    scored = [(t, _truth(t) / 200) for t in archs]  # a monotone function of the truth: the perfect proxy
    scored += [(archs[0], 0.01), (archs[1], None)]  # a repeat with another score, and a failure
    run = _run(tmp_path, "nb201", scored)
    result = runner.invoke(app, ["fidelity", str(run), "--truth", "nb201"])
    assert result.exit_code == 0, result.output
    assert "12 architectures (13 finished children, 1 repeats counted once, 1 failed left out)" in result.output
    assert "cifar10 from cifar10-mini" in result.output and "another training set" in result.output
    truth = load_truth(run)
    assert truth.kendall_tau.value == pytest.approx(1.0) and truth.spearman_rho.value == pytest.approx(1.0)
    assert truth.kendall_tau.low == pytest.approx(1.0)  # every resample keeps the order
    assert [p.child_id for p in truth.pairs] == list(range(1, 13))  # the repeat's earliest record kept
    assert [p.truth for p in truth.pairs] == [_truth(t) for t in archs]
    assert truth.chosen == truth.best and truth.truth_column == "cifar10_valid_200"
    assert truth.proxy == "trained from scratch, 3 epochs on 400 training images per epoch"


def test_a_known_tau_on_cifar100_and_the_json(runner, tmp_path):
    archs = _sampled(10, seed=1)
    truths = [_truth(t, "cifar100") for t in archs]
    scores = [-y for y in truths]  # reversed: the worst proxy
    scores[0], scores[1] = scores[1], scores[0]  # one swapped pair off the reversal
    run = _run(tmp_path, "nb201", [(t, 0.5 + s / 1000) for t, s in zip(archs, scores)])
    result = runner.invoke(app, ["fidelity", str(run), "--truth", "nb201", "--truth-dataset", "cifar100", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["truth_column"] == "cifar100_valid_200" and len(shown["pairs"]) == 10
    expected = kendall_tau([0.5 + s / 1000 for s in scores], truths)
    assert expected < -0.5 and shown["kendall_tau"]["value"] == pytest.approx(expected)
    assert shown["spearman_rho"]["value"] == pytest.approx(spearman_rho(scores, truths))
    assert shown == json.loads(load_truth(run).model_dump_json())


def test_a_run_over_another_space_is_refused(runner, tmp_path):
    compiled = compile_space(load_space("conv"))
    rng = random.Random(0)
    run = _run(tmp_path, "conv", [(sample_architecture(compiled, rng, 6).tokens, 0.1 * k) for k in range(1, 4)])
    result = runner.invoke(app, ["fidelity", str(run), "--truth", "nb201"])
    assert result.exit_code == 2 and "not NAS-Bench-201's space" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (run / "fidelity").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["-n", "3"], "-n retrain children; --truth retrains none"),
    (["--truth-dataset", "imagenet"], "no dataset 'imagenet'"),
    (["--truth", "nb101"], "unknown benchmark 'nb101'"),
])
def test_options_that_do_not_fit_are_one_line_errors(runner, tmp_path, args, words):
    run = _run(tmp_path, "nb201", [(t, 0.1) for t in _sampled(3)])
    truth = [] if "--truth" in args else ["--truth", "nb201"]
    result = runner.invoke(app, ["fidelity", str(run), *truth, *args])
    assert result.exit_code == 2 and words in result.output, result.output


def test_truth_of_a_real_nb201_search_is_reported(runner, tmp_path):
    run = tmp_path / "real"
    search(runner, tmp_path, "nb201", "--strategy", "random", "--budget", "3", "--batch", "3", *FAST,
           "--run-dir", str(run))
    result = runner.invoke(app, ["fidelity", str(run), "--truth", "nb201"])
    assert result.exit_code == 0, result.output
    truth = load_truth(run)
    with RunStore.open_readonly(run) as store:
        children = store.children("done")
    assert [(p.child_id, p.search_metric, p.truth) for p in truth.pairs] == [
        (c.id, c.metric, _truth(c.tokens)) for c in children]
    assert truth.kendall_tau.value == kendall_tau([c.metric for c in children], [_truth(c.tokens) for c in children])
    report = runner.invoke(app, ["report", str(run), "-o", str(run / "r.html")])
    assert report.exit_code == 0 and "truth (3 architectures against nb201's cifar10_valid_200): τ = " in (
        run / "r.html").read_text()
    assert runner.invoke(app, ["report", str(run), "-o", str(run / "r.png")]).exit_code == 0


def test_truth_of_an_enas_run_on_nb201(runner, tmp_path):
    run = tmp_path / "enas"
    search(runner, tmp_path, "nb201", "--strategy", "enas", "--epochs", "1", "--train-subset", "32",
           "--controller-steps", "1", "--batch", "2", "--budget", "4", "--derive-subset", "32", "--run-dir", str(run))
    result = runner.invoke(app, ["fidelity", str(run), "--truth", "nb201", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["strategy"] == "enas" and shown["proxy"].startswith("ENAS shared weights after 1 epoch,")
    assert shown["finished"] == 4 and len(shown["pairs"]) == 4 - shown["duplicates"]
