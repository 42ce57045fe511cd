"""Rungs (`--rungs`, ASHA) on the ray backend: a rung's training state travels in the Ray task as bytes, both
ways (rung_state.py), so a promoted child continues in whichever Ray worker takes it, and the search process,
the run's only writer, keeps and deletes the state files. Each test starts a local Ray instance (tens of seconds
on a loaded 2-core machine): they are slow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nascli.arch import decode
from nascli.cli import app
from nascli.data.spec import DataSpec
from nascli.runs import RunStore, run_space
from nascli.runs.crashpoints import CRASH_AT_ENV, CRASH_EXIT, CRASH_MODE_ENV
from nascli.search import promotions
from nascli.search.evaluate import ChildJob, RungSpan, run_child
from nascli.search.loop import SearchConfig
from nascli.search.rung_state import saved_states, state_from_bytes
from nascli.search.rungs import RungConfig, RungLadder

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
BUDGET, ETA, EPOCHS = 4, 2, (1, 2, 3)
RUNGS = ["conv", "--strategy", "random", "--rungs", ",".join(map(str, EPOCHS)), "--eta", str(ETA), "--budget", str(BUDGET), "--batch",
         "2", "--train-subset", "16"]


def _spy_states(monkeypatch) -> tuple[list[tuple[str, int, int]], dict[tuple[int, int], bytes]]:
    """The search's state saves, rung results and state deletes, in the order they happen; each saved state."""
    events, saved = [], {}
    save, delete, record = promotions.save_state, promotions.delete_state, promotions.Promotions.record

    def saving(run_dir, child_id, rung, data, durable):
        events.append(("save", child_id, rung))
        saved[child_id, rung] = data
        save(run_dir, child_id, rung, data, durable)

    def deleting(run_dir, child_id, rung):
        events.append(("delete", child_id, rung))
        delete(run_dir, child_id, rung)

    def recording(self, result):
        events.append(("result", result.child_id, result.rung))
        record(self, result)

    monkeypatch.setattr(promotions, "save_state", saving)
    monkeypatch.setattr(promotions, "delete_state", deleting)
    monkeypatch.setattr(promotions.Promotions, "record", recording)
    return events, saved


def _weights_trained_straight(store: RunStore, child_id: int, epochs: int) -> dict:
    """The child's weights trained here for its first `epochs` epochs in one go."""
    config = SearchConfig.model_validate(store.config)
    job = ChildJob(child_id=child_id, arch=decode(store.child(child_id).tokens, run_space(store)),
                   train=config.train, reward=config.reward, child=config.child,
                   span=RungSpan(rung=0, start=0, stop=epochs))
    result = run_child(job, DataSpec.model_validate(store.config["data"]).load())
    assert result.status == "done", result.error
    return state_from_bytes(result.state)["model"]


@pytest.mark.slow
def test_rungs_on_ray_promote_continue_and_delete_states(runner, tmp_path, monkeypatch, one_thread):
    run = tmp_path / "r"
    events, saved = _spy_states(monkeypatch)
    result = runner.invoke(app, ["search", *RUNGS, "--backend", "ray", "--workers", "2", "--seed", "4",
                                 "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    with RunStore.open_readonly(run) as store:
        config, rows, children = store.config, store.rungs(), {c.id: c for c in store.children()}
        assert config["executor"]["backend"] == "ray" and config["workers"] == 2 and len(children) == BUDGET
        assert {r.child_id for r in rows if r.rung == 0} == set(children)
        assert all(r.status == "done" and r.epochs == EPOCHS[r.rung] and r.reward is not None and r.seconds > 0
                   for r in rows)
        # the count per rung follows eta: replayed in the order the rungs finished, the rule promotes these
        ladder = RungLadder(RungConfig(epochs=EPOCHS, eta=ETA), max_children=BUDGET)
        expected = set()
        for row in sorted(rows, key=lambda r: (r.finished, r.child_id, r.rung)):
            ladder.record(row.child_id, row.rung, row.reward)
            while (p := ladder.next_promotion()) is not None:
                ladder.start(p)
                expected.add((p.child_id, p.rung))
        promotions_run = {(r.child_id, r.rung) for r in rows if r.rung > 0}
        assert promotions_run == expected
        per_rung = [sum(r.rung == k for r in rows) for k in range(len(EPOCHS))]
        assert per_rung[0] == BUDGET and 1 <= per_rung[1] <= BUDGET // ETA and per_rung[2] <= BUDGET // ETA ** 2
        for child_id, child in children.items():  # each child at its highest rung, its seconds every rung's
            top = max((r for r in rows if r.child_id == child_id), key=lambda r: r.rung)
            assert child.rung == top.rung and child.reward == top.reward
            assert child.seconds == pytest.approx(sum(r.seconds for r in rows if r.child_id == child_id))
        # a promoted child went on from its first-rung weights, in another Ray worker: its weights after rung 1
        # are those of the same child trained for 2 epochs in one go (a promotion whose state was lost in transit
        # would train epoch 2 from a fresh start)
        for child_id, rung in promotions_run - {(c, 2) for c in children}:
            continued, first = (state_from_bytes(saved[child_id, k])["model"] for k in (1, 0))
            straight = _weights_trained_straight(store, child_id, EPOCHS[1])
            assert continued.keys() == straight.keys()
            for name in straight:
                assert torch.allclose(continued[name].float(), straight[name].float(), atol=1e-5), name
            assert any(not torch.equal(first[n], continued[n]) for n in first)  # it did train on
    # every state below the top rung came back from Ray and was saved, none at the top (nothing continues from
    # it); each deleted once no promotion can continue from it: a promoted child's only after its promotion's result
    saves = [(c, r) for kind, c, r in events if kind == "save"]
    deletes = [(c, r) for kind, c, r in events if kind == "delete"]
    assert sorted(saves) == sorted(deletes) == sorted((r.child_id, r.rung) for r in rows if r.rung < 2)
    for child_id, rung in promotions_run:
        assert events.index(("result", child_id, rung)) < events.index(("delete", child_id, rung - 1))
    assert saved_states(run) == [] and not any((run / "rungs").iterdir())


def _crash(run: Path, args: list[str], point: str) -> None:
    env = {**os.environ, CRASH_AT_ENV: point, CRASH_MODE_ENV: "exit", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "nascli", "search", *args, "--run-dir", str(run)], env=env,
                          cwd=ROOT, capture_output=True, timeout=600)
    assert proc.returncode == CRASH_EXIT, proc.stderr.decode()[-2000:]


def _rung_rows(run: Path) -> list[tuple]:
    with RunStore.open_readonly(run) as store:
        return [(r.child_id, r.rung, r.epochs, r.status, r.reward) for r in store.rungs()]


@pytest.mark.slow
def test_a_ray_rung_search_stopped_mid_promotion_resumes_from_the_saved_state(runner, tmp_path, monkeypatch,
                                                                              one_thread):
    """One worker, so that the order is the local backend's: the first two results are step 0's first rung, the
    third the promotion of its best. The search stops just before recording that: its row says `running` and
    the first rung's state is on disk; the resumed search sends it to Ray again from that state, and the run
    ends as an uninterrupted one on the local backend does, to the weights."""
    args = [*RUNGS, "--workers", "1", "--seed", "11"]
    _crash(tmp_path / "r", [*args, "--backend", "ray"], "child_finish@3")
    (running,) = [r for r in _rung_rows(tmp_path / "r") if r[3] == "running"]
    assert running[1] == 1 and (running[0], 0) in saved_states(tmp_path / "r")
    _, saved = _spy_states(monkeypatch)
    result = runner.invoke(app, ["search", "--resume", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    resumed_states = dict(saved)
    _, reference_states = _spy_states(monkeypatch)
    reference = runner.invoke(app, ["search", *args, "--run-dir", str(tmp_path / "ref")])  # the local backend
    assert reference.exit_code == 0, reference.output
    with RunStore.open_readonly(tmp_path / "r") as store:
        assert store.config["executor"]["backend"] == "ray"
    resumed, uninterrupted = _rung_rows(tmp_path / "r"), _rung_rows(tmp_path / "ref")
    assert [r[:4] for r in resumed] == [r[:4] for r in uninterrupted]
    assert [r[4] for r in resumed] == pytest.approx([r[4] for r in uninterrupted], abs=1e-6)
    # the restarted promotion's weights after rung 1, trained in Ray from the saved rung-0 state, are the
    # uninterrupted run's
    restarted = (running[0], 1)
    assert restarted in resumed_states
    for key in [k for k in resumed_states if k[1] > 0]:
        continued, reference_weights = (state_from_bytes(states[key])["model"]
                                        for states in (resumed_states, reference_states))
        for name in reference_weights:
            assert torch.allclose(continued[name].float(), reference_weights[name].float(), atol=1e-5), (key, name)
    assert saved_states(tmp_path / "r") == []
