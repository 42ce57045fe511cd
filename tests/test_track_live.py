"""Tracking beside a running search: real tiny searches with --track, resume, and failures that
must stay warnings (once per tool, never per child) while every child is still recorded."""

from __future__ import annotations

import threading
import time

import pytest

from nascli.cli import app
from nascli.runs import RunStore
from nascli.track import Tracker
from track_helpers import make_run

pytest.importorskip("tensorboard")  # the tensorboard and mlflow extras; without them these tests skip
pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402
from nascli.track.tensorboard_sink import TensorBoardSink  # noqa: E402 (its event records need protobuf)
from test_track import scalars, session  # noqa: E402

TINY = ["--budget", "2", "--batch", "2", "--epochs", "1", "--train-subset", "16"]


@pytest.fixture
def file_store(tmp_path, monkeypatch) -> str:
    """A local file store: MLflow 3 asks for MLFLOW_ALLOW_FILE_STORE, and it needs no tables set up."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.chdir(tmp_path)
    return (tmp_path / "mlruns").as_uri()


@pytest.mark.slow
def test_a_search_shows_in_tensorboard_and_mlflow_as_it_runs(runner, tmp_path, file_store):
    run = tmp_path / "live"
    result = runner.invoke(app, ["search", "conv", *TINY, "--run-dir", str(run), "--track", "tensorboard",
                                 "--track", "mlflow", "--mlflow-uri", file_store, "--mlflow-experiment", "live"])
    assert result.exit_code == 0, result.output
    assert "tracking to tensorboard" in result.output and "tracking to mlflow" in result.output
    with RunStore.open_readonly(run) as store:
        children, steps = store.children(), store.steps()
    series = scalars(run / "tensorboard" / "search")
    assert [s for s, _ in series["search/reward"]] == [c.id for c in children] == [1, 2]
    assert [v for _, v in series["controller/batch_mean_reward"]] == pytest.approx([s.mean_reward for s in steps])
    for child in children:
        hparams, _ = session(run / "tensorboard" / "children" / f"child-{child.id:05d}")
        assert len(hparams) == 23  # conv at 6 layers: 6 x 3 filter decisions and 5 skips
    client = MlflowClient(file_store)
    found = client.search_runs([client.get_experiment_by_name("live").experiment_id])
    parent = next(r for r in found if "mlflow.parentRunId" not in r.data.tags)
    nested = [r for r in found if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED" and parent.info.run_name == "live"
    assert sorted(r.data.metrics["reward"] for r in nested) == sorted(c.reward for c in children)


def test_a_resumed_search_tracks_on_without_repeating_itself(runner, tmp_path):
    run = make_run(tmp_path / "r", leave_pending=2, state="stopped")
    assert runner.invoke(app, ["track", str(run), "--to", "tensorboard"]).exit_code == 0  # children 1-4
    result = runner.invoke(app, ["search", "--resume", str(run), "--reset-controller", "--track", "tensorboard"])
    assert result.exit_code == 0, result.output
    series = scalars(run / "tensorboard" / "search")
    assert [s for s, _ in series["search/reward"]] == [1, 2, 3, 4, 5, 6]  # the two it trained, once each
    assert sorted(p.name for p in (run / "tensorboard" / "children").iterdir())[-2:] == ["child-00005", "child-00006"]


def test_broken_tracking_is_one_warning_per_tool_and_the_search_finishes(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("")
    run = tmp_path / "s"
    result = runner.invoke(app, ["search", "conv", "--strategy", "random", *TINY, "--run-dir", str(run),
                                 "--track", "tensorboard,mlflow", "--tensorboard-dir", str(tmp_path / "a-file"),
                                 "--mlflow-uri", "nosuchscheme://nowhere"])
    assert result.exit_code == 0, result.output
    assert result.output.count("warning:") == 2, result.output
    assert "tracking to tensorboard failed" in result.output and "tracking to mlflow failed" in result.output
    assert f"nascli track {run} --to mlflow" in result.output
    with RunStore.open_readonly(run) as store:
        assert store.state == "finished" and store.counts()["done"] == 2


def test_a_tool_that_fails_on_every_child_warns_once_and_the_others_go_on(tmp_path):
    run = make_run(tmp_path / "r", steps=1, batch=2, state="running")
    working = TensorBoardSink(tmp_path / "good")
    broken = TensorBoardSink(tmp_path / "bad")
    warnings: list[str] = []
    with RunStore.open(run) as store, Tracker(run, [working, broken], warnings.append, interval=0.05) as tracker:
        deadline = time.monotonic() + 30
        while broken.tally.children == 0 and time.monotonic() < deadline:  # it wrote the first two children
            time.sleep(0.02)
        (tmp_path / "bad" / "children").rename(tmp_path / "moved")  # then its folder goes: every write fails
        (tmp_path / "bad" / "children").write_text("")
        for step in (1, 2, 3):  # three more steps of the search, each nudging the tracker
            ids = store.add_children(step, 6, [(c.tokens, c.arch_json) for c in store.children(step=0)])
            store.mark_running(ids)
            for child_id in ids:
                store.finish_child(child_id, 0.5, 0.5, "valid_accuracy", 1, 1, 1.0)
                tracker.nudge()
            time.sleep(0.1)
        store.state = "finished"
    failures = [w for w in warnings if "failed" in w]  # (the others are notes, e.g. that Graphviz is missing)
    assert len(failures) == 1 and failures[0].startswith("tracking to tensorboard failed"), warnings
    assert working.tally.children == 8 and broken not in tracker.sinks
    assert not any(t.name == "nascli-tracker" for t in threading.enumerate())
