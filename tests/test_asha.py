"""Rungs end to end (--rungs): continuation, the store's rung rows, the benchmark's clock, state as data."""

from __future__ import annotations

import math
import os

import pytest
import torch

from nascli.arch import decode
from nascli.children import ChildConfig
from nascli.cli import app
from nascli.data import load_dataset
from nascli.errors import ChildError
from nascli.runs import RunStore
from nascli.search.evaluate import ChildJob, RungSpan, run_child
from nascli.search.rung_state import read_state, saved_states, state_from_bytes, state_path
from nascli.search.rungs import RungConfig, RungLadder
from nascli.train import RewardConfig, TrainConfig

SMALL_CONV = "conv: 3 3 24 / 3 3 24 0 / 3 3 24 0 / 3 3 24 0 / 3 3 24 0 / 3 3 24 0"


def _job(span: RungSpan | None) -> ChildJob:
    return ChildJob(child_id=3, arch=decode(SMALL_CONV), train=TrainConfig(epochs=3, train_subset=48, batch_size=16),
                    reward=RewardConfig(), child=ChildConfig(), span=span)


def test_a_promoted_child_continues_as_an_uninterrupted_run(one_thread):
    data = load_dataset("cifar10")
    first = run_child(_job(RungSpan(rung=0, start=0, stop=1)), data)
    second = run_child(_job(RungSpan(rung=1, start=1, stop=3, state=first.state)), data)
    whole = run_child(_job(RungSpan(rung=0, start=0, stop=3)), data)
    plain = run_child(_job(None), data)  # no rungs: the three epochs in one go, as every search trained before
    assert first.status == second.status == whole.status == plain.status == "done"
    continued, straight = state_from_bytes(second.state)["model"], state_from_bytes(whole.state)["model"]
    assert continued.keys() == straight.keys()
    for name in continued:
        assert torch.allclose(continued[name].float(), straight[name].float(), atol=1e-5), name
    one_epoch = state_from_bytes(first.state)["model"]
    assert any(not torch.allclose(one_epoch[n].float(), straight[n].float()) for n in straight)  # it did train on
    assert second.reward == pytest.approx(plain.reward) and second.metric == pytest.approx(plain.metric)
    assert plain.state is None


def _search(runner, *args: str):
    result = runner.invoke(app, ["search", *args])
    assert result.exit_code == 0, result.output
    return result


def test_rungs_on_real_training_promote_only_the_best(runner, tmp_path, one_thread):
    run = tmp_path / "run"
    out = _search(runner, "conv", "--strategy", "random", "--rungs", "1,2", "--eta", "2", "--budget", "4",
                  "--batch", "2", "--train-subset", "16", "--seed", "4", "--run-dir", str(run)).output
    assert "rungs 1,2 epochs, eta 2" in out
    with RunStore.open_readonly(run) as store:
        rows, children = store.rungs(), {c.id: c for c in store.children()}
        steps = store.steps()
    first = {r.child_id: r for r in rows if r.rung == 0}
    promoted = {r.child_id: r for r in rows if r.rung == 1}
    assert set(first) == set(children) and all(r.epochs == 1 for r in first.values())
    # replayed in the order the first rung finished, the rule promotes exactly these
    ladder = RungLadder(RungConfig(epochs=(1, 2), eta=2), max_children=4)
    expected = set()
    for row in sorted(first.values(), key=lambda r: r.finished):
        ladder.record(row.child_id, 0, row.reward, ok=row.status == "done")
        while (p := ladder.next_promotion()) is not None:
            ladder.start(p)
            expected.add(p.child_id)
    assert set(promoted) == expected and 1 <= len(expected) <= 2
    for child_id, child in children.items():
        top = promoted.get(child_id, first[child_id])
        assert child.rung == (1 if child_id in promoted else 0) and child.reward == top.reward
        assert child.seconds == pytest.approx(first[child_id].seconds + (promoted[child_id].seconds
                                                                          if child_id in promoted else 0))
    # the strategy learned from first-rung rewards, each step's when it finished its first rung
    for step in steps:
        ids = [c for c, child in children.items() if child.step == step.step]
        assert step.mean_reward == pytest.approx(sum(first[c].reward for c in ids) / len(ids))
    assert saved_states(run) == []  # nothing is left that could still be promoted


def test_benchmark_rungs_charge_the_rest_of_the_training(runner, tmp_path):
    run = tmp_path / "run"
    _search(runner, "nb201", "--benchmark", "nb201", "--rungs", "12,200", "--budget", "9", "--batch", "3",
            "--strategy", "random", "--seed", "2", "--run-dir", str(run))
    with RunStore.open_readonly(run) as store:
        rows, children = store.rungs(), store.children()
    first = {r.child_id: r for r in rows if r.rung == 0}
    promoted = [r for r in rows if r.rung == 1]
    assert len(first) == 9 and len(promoted) == 3  # every child queried at 12; the top third promoted to 200
    for row in promoted:  # a promotion charges the remaining 188/200 of the full training time
        assert row.seconds == pytest.approx(first[row.child_id].seconds * 188 / 12)
        assert row.metric > 0 and row.epochs == 200
    assert not (run / "rungs").exists()  # a looked-up child has no weights to save
    assert math.fsum(c.seconds for c in children) == pytest.approx(math.fsum(r.seconds for r in rows))
    best = max(promoted, key=lambda r: r.reward)
    assert RunStore.open_readonly(run).best(1)[0].id == best.child_id  # the best at the highest rung


def test_rung_state_is_loaded_as_data(tmp_path):
    marker = tmp_path / "ran"

    class Payload:  # a pickle that would run a command if it were ever loaded with weights_only=False
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = state_path(tmp_path, 5, 0)
    path.parent.mkdir()
    torch.save({"model": Payload()}, path)
    with pytest.raises(ChildError, match="names a Python callable"):
        read_state(tmp_path, 5, 0)
    with pytest.raises(ChildError, match="not plain tensor data"):
        state_from_bytes(path.read_bytes())
    torch.save({"model": {"w": torch.ones(2)}, "note": "x"}, path)
    assert state_from_bytes(read_state(tmp_path, 5, 0))["model"]["w"].sum() == 2
    with pytest.raises(ChildError, match="missing"):
        read_state(tmp_path, 6, 0)
    assert not marker.exists()


def test_compare_takes_rungs_and_judges_each_run_at_its_highest_rung(runner, tmp_path):
    from nascli.compare.outcome import run_outcome

    folder = tmp_path / "cmp"
    result = runner.invoke(app, ["compare", "nb201", "--benchmark", "nb201", "--strategies", "random", "--runs", "2",
                                 "--budget", "9", "--batch", "3", "--rungs", "12,200", "--workers", "1",
                                 "--run-dir", str(folder)])
    assert result.exit_code == 0, result.output
    for run in sorted((folder / "random").iterdir()):
        outcome = run_outcome(run)
        with RunStore.open_readonly(run) as store:
            best, rows = store.best(1)[0], store.rungs()
        assert store.config["rungs"]["epochs"] == [12, 200]
        assert outcome.child_id == best.id and best.rung == 1 and outcome.queries == 9
        assert outcome.curve[-1][0] == pytest.approx(math.fsum(r.seconds for r in rows))  # each rung charged once


def test_rungs_with_process_workers_and_async_updates(runner, tmp_path):
    """The state crosses the process boundary (JSON lines, base64) both ways, and --async promotes too."""
    run = tmp_path / "run"
    _search(runner, "conv", "--strategy", "reinforce", "--rungs", "1,2", "--eta", "2", "--budget", "4",
            "--async", "2", "--workers", "2", "--train-subset", "16", "--seed", "5", "--run-dir", str(run))
    with RunStore.open_readonly(run) as store:
        rows, children, steps = store.rungs(), store.children(), store.steps()
    promoted = [r for r in rows if r.rung == 1]
    assert all(c.status == "done" for c in children) and len([r for r in rows if r.rung == 0]) == 4
    assert 1 <= len(promoted) <= 2 and all(r.status == "done" and r.epochs == 2 for r in promoted)
    assert len(steps) == 2 and saved_states(run) == []


@pytest.mark.parametrize("args, words", [
    (["conv", "--rungs", "3,1"], "strictly increasing"),
    (["conv", "--rungs", "1,x"], "epoch counts such as 1,3,9"),
    (["conv", "--rungs", "1,3", "--epochs", "5"], "the last rung's 3 epochs"),
    (["conv", "--eta", "2"], "--eta applies with --rungs"),
    (["enas_rnn", "--strategy", "enas", "--rungs", "1,2"], "enas trains one shared network"),
    (["nb201", "--benchmark", "nb201", "--rungs", "12,100"], "not 100"),
    (["nb201", "--benchmark", "nb201", "--rungs", "12,200", "--fidelity", "200"], "no --fidelity"),
])
def test_rung_options_that_do_not_fit_are_refused(runner, tmp_path, args, words):
    result = runner.invoke(app, ["search", *args, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert words in " ".join(result.output.split()), result.output
    assert not (tmp_path / "run").exists()


def test_fidelity_ranks_the_children_at_a_rung(runner, tmp_path, one_thread):
    import json

    run = tmp_path / "run"
    _search(runner, "conv", "--strategy", "random", "--rungs", "1,2", "--eta", "2", "--budget", "4", "--batch", "4",
            "--train-subset", "16", "--seed", "6", "--run-dir", str(run))
    result = runner.invoke(app, ["fidelity", str(run), "--rung", "0", "-n", "3", "--epochs", "1",
                                 "--train-subset", "16", "--resamples", "100"])
    assert result.exit_code == 0, result.output
    saved = json.loads((run / "fidelity" / "fidelity.json").read_text())
    with RunStore.open_readonly(run) as store:
        first = {r.child_id: r.metric for r in store.rungs(rung=0)}
    assert saved["settings"]["rung"] == 0
    assert all(p["search_metric"] == first[p["child_id"]] for p in saved["pairs"])  # scores at rung 0
    no_rungs = tmp_path / "plain"
    _search(runner, "conv", "--strategy", "random", "--budget", "3", "--batch", "3", "--epochs", "1",
            "--train-subset", "16", "--run-dir", str(no_rungs))
    refused = runner.invoke(app, ["fidelity", str(no_rungs), "--rung", "0", "-n", "3"])
    assert refused.exit_code == 2 and "no rungs" in refused.output


def test_report_has_a_rung_chart(runner, tmp_path):
    from nascli.report.history import load_history

    run = tmp_path / "run"
    _search(runner, "nb201", "--benchmark", "nb201", "--rungs", "12,200", "--budget", "9", "--batch", "3",
            "--strategy", "random", "--run-dir", str(run))
    history = load_history(run)
    assert sorted(history.rungs) == [12, 200] and len(history.rungs[12]) == 9 and len(history.rungs[200]) == 3
    assert max(history.rungs[200]) == history.top[0].reward
    result = runner.invoke(app, ["report", str(run), "-o", str(tmp_path / "r.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
