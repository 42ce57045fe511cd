"""The search end to end on the embedded data: CLI search/show/runs/eval, resume after
SIGKILL, failed children, and seeded determinism."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nascli.arch import decode
from nascli.cli import app
from nascli.data import load_dataset
from nascli.search.evaluate import ChildJob, run_child
from nascli.runs import RunStore
from nascli.train import RewardConfig, TrainConfig
from nascli.children import ChildConfig

FAST = ["--epochs", "1", "--train-subset", "32"]


def search(runner, tmp_path, *args):
    result = runner.invoke(app, ["search", *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.slow
def test_search_show_runs_and_eval_on_embedded_cifar(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs/ lands here
    out = search(runner, tmp_path, "conv", "--budget", "4", "--batch", "2", *FAST).output
    assert "embedded sample" in out
    (run,) = list((tmp_path / "runs").iterdir())
    with RunStore.open_readonly(run) as store:
        children = store.children()
        assert [c.status for c in children] == ["done"] * 4
        assert all(0 <= c.metric <= 1 and c.reward == pytest.approx(max([c.metric]) ** 3) for c in children)
        assert [s.step for s in store.steps()] == [0, 1] and store.state == "finished"
        assert all(decode(c.tokens).layers is not None and c.params > 0 and c.macs > 0 for c in children)
        best = store.best(1)[0]
    shown = json.loads(runner.invoke(app, ["show", "--json"]).output)
    assert len(shown["children"]) == 4 and {c["status"] for c in shown["children"]} == {"done"}
    assert run.name in runner.invoke(app, ["runs"]).output
    result = runner.invoke(app, ["eval", "--best", "--epochs", "1", "--json"])
    assert result.exit_code == 0, result.output
    evaluated = json.loads(result.output)
    assert evaluated["tokens"] == best.tokens and evaluated["metric_name"] == "test_accuracy"
    assert evaluated["train_examples"] == 1000  # train + validation of the embedded sample
    folder = run / "eval" / f"child-{best.id}"
    assert (folder / "model.pt").stat().st_size > 0 and json.loads((folder / "arch.json").read_text())["tokens"] == best.tokens


@pytest.mark.slow
def test_language_search_and_eval_on_embedded_ptb(runner, tmp_path):
    run = tmp_path / "lm"
    search(runner, tmp_path, "spaces/rnn.space", "--dataset", "ptb", "--budget", "2", "--batch", "2",
           "--epochs", "1", "--train-subset", "3000", "--run-dir", str(run))
    with RunStore.open_readonly(run) as store:
        children = store.children()
    assert [c.status for c in children] == ["done", "done"]
    for c in children:  # perplexity of a barely trained model: big, but below the vocabulary size
        assert c.metric_name == "valid_perplexity" and 10 < c.metric < 6022
        assert c.reward == pytest.approx(80 / c.metric**2)
    arch = tmp_path / "arch.json"
    assert runner.invoke(app, ["decode", children[0].tokens, "-o", str(arch)]).exit_code == 0
    result = runner.invoke(app, ["eval", str(arch), "--epochs", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metric_name"] == "test_perplexity"
    assert (tmp_path / "arch-eval" / "model.pt").is_file()


@pytest.mark.slow
def test_same_seed_same_architectures(runner, tmp_path):
    tokens = []
    for name in ("a", "b"):
        search(runner, tmp_path, "conv", "--budget", "4", "--batch", "2", "--seed", "5", *FAST,
               "--run-dir", str(tmp_path / name))
        with RunStore.open_readonly(tmp_path / name) as store:
            tokens.append([c.tokens for c in store.children()])
    assert tokens[0] == tokens[1]


@pytest.mark.slow
def test_controller_and_reward_options_reach_the_run(runner, tmp_path):
    search(runner, tmp_path, "conv", "--budget", "2", "--batch", "2", *FAST, "--run-dir", str(tmp_path / "o"),
           "--controller-lr", "0.01", "--tanh-constant", "2.5", "--temperature", "5", "--entropy-weight", "1e-4",
           "--reward-power", "1", "--failed-reward", "-1")
    with RunStore.open_readonly(tmp_path / "o") as store:
        cfg = store.config
        children = store.children()
    assert cfg["controller"]["tanh_constant"] == 2.5 and cfg["controller"]["temperature"] == 5
    assert cfg["reinforce"] == {**cfg["reinforce"], "lr": 0.01, "entropy_weight": 1e-4}
    assert cfg["reward"]["failed"] == -1 and all(c.reward == pytest.approx(c.metric) for c in children)  # power 1


@pytest.mark.slow
def test_workers_train_children_in_a_process_pool(runner, tmp_path):
    search(runner, tmp_path, "conv", "--budget", "2", "--batch", "2", "--seed", "5", *FAST, "--workers", "2",
           "--run-dir", str(tmp_path / "w"))
    with RunStore.open_readonly(tmp_path / "w") as store:
        assert store.config["workers"] == 2
        children = store.children()
    assert [c.status for c in children] == ["done", "done"] and all(c.params > 0 for c in children)


def test_a_later_resume_keeps_an_extended_budget(tmp_path):
    from nascli.data.spec import DataSpec
    from nascli.search.loop import SearchConfig
    from nascli.search.runs import create_search, resume_search

    config = SearchConfig(strategy="random", data=DataSpec(name="cifar10"), budget=2, batch=2)
    create_search("conv", config, tmp_path / "r").store.close()
    first = resume_search(tmp_path / "r", budget=6)
    assert first.config.budget == 6
    first.store.close()
    second = resume_search(tmp_path / "r", workers=1)  # changes workers only
    assert second.config.budget == 6
    second.store.close()


@pytest.mark.slow
def test_random_strategy(runner, tmp_path):
    search(runner, tmp_path, "enas_macro", "--strategy", "random", "--budget", "2", "--batch", "2", *FAST,
           "--run-dir", str(tmp_path / "r"))
    with RunStore.open_readonly(tmp_path / "r") as store:
        assert store.config["strategy"] == "random" and store.counts().get("done") == 2
        assert store.steps()[0].baseline is None  # random search learns nothing


def _done_rows(db: Path) -> dict[int, tuple]:
    """The finished children, read as another process would while the search writes."""
    if not db.exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("SELECT id, tokens, reward, finished FROM children WHERE status='done'").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError:  # the schema is not written yet
        return {}
    return {r[0]: r[1:] for r in rows}


@pytest.mark.slow
def test_resume_after_sigkill_loses_nothing(runner, tmp_path):
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "nascli", "search", "conv", "--budget", "6", "--batch", "2", *FAST,
           "--run-dir", str(run), "--seed", "3"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=Path(__file__).parents[1])
    deadline = time.time() + 240
    while time.time() < deadline and len(_done_rows(run / "run.db")) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _done_rows(run / "run.db")
    assert len(before) >= 3
    with RunStore.open_readonly(run) as store:
        assert store.summary().state == "stopped"  # its process is gone
        steps_before = [s.step for s in store.steps()]
    result = runner.invoke(app, ["search", "--resume", str(run), "--budget", "8"])
    assert result.exit_code == 0, result.output
    with RunStore.open_readonly(run) as store:
        children = store.children()
        after = {c.id: (c.tokens, c.reward, c.finished) for c in children if c.status == "done"}
        assert store.state == "finished"
        assert [s.step for s in store.steps()] == [0, 1, 2, 3]  # every step updated exactly once
        assert steps_before == list(range(len(steps_before)))
    assert len(children) == 8 and all(c.status == "done" for c in children)  # the budget was extended
    for cid, row in before.items():  # finished children untouched, never trained again
        assert after[cid] == row


def _job(tokens: str, **train) -> ChildJob:
    return ChildJob(child_id=1, arch=decode(tokens), train=TrainConfig(epochs=1, train_subset=16, **train),
                    reward=RewardConfig(failed=-1.0), child=ChildConfig())


def test_diverging_child_is_a_recorded_failure():
    result = run_child(_job("conv: 3 3 24 / 3 3 24 0 / 3 3 24 0 / 3 3 24 0 / 3 3 24 0 / 3 3 24 0", lr=1e30),
                       load_dataset("cifar10"))
    assert result.status == "failed" and result.error.startswith("diverged") and result.reward == -1.0


@pytest.mark.slow
def test_crashing_and_oom_children_do_not_stop_the_search(runner, tmp_path, monkeypatch):
    import nascli.search.evaluate as evaluate

    real = evaluate.build_child
    calls = {"n": 0}

    def flaky(arch, task, config):
        calls["n"] += 1
        if calls["n"] == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        if calls["n"] == 2:
            raise RuntimeError("boom")
        return real(arch, task, config)

    monkeypatch.setattr(evaluate, "build_child", flaky)
    search(runner, tmp_path, "conv", "--budget", "4", "--batch", "2", *FAST, "--run-dir", str(tmp_path / "f"))
    with RunStore.open_readonly(tmp_path / "f") as store:
        children = store.children()
    assert [c.status for c in children] == ["failed", "failed", "done", "done"]
    assert children[0].error == "out of memory" and children[1].error == "RuntimeError: boom"
    assert children[0].reward == 0.0
    assert runner.invoke(app, ["show", str(tmp_path / "f")]).exit_code == 0


def test_bad_inputs_exit_2(runner, tmp_path):
    for args, words in [
        (["search", "conv", "--data-dir", str(tmp_path / "nothing")], "nothing"),
        (["search", "conv", "--strategy", "evolutionary"], "unknown strategy"),
        (["search", "--resume", str(tmp_path / "nope")], "not a run folder"),
        (["search"], "give a space"),
        (["search", "conv", "--download", "--data-dir", str(tmp_path / "dl")], "cannot download CIFAR-10"),
        (["search", "rnn", "--download"], "fetches cifar10 only"),
        (["eval", "--best", "--run", str(tmp_path / "nope")], "not a run folder"),
        (["eval"], "either an arch.json or --best"),
        (["show", str(tmp_path)], "not a run folder"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output and "Traceback" not in result.output
    assert not (tmp_path / "nothing").exists()
