"""Tracking into MLflow, read back through `MlflowClient` on a temporary store: the parent run, one
nested run per child (params, metrics, tags, arch.json), idempotent replay, and the tracking URIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nascli.arch.tokens import decision_values
from nascli.cli import app
from nascli.runs import RunStore, run_space
from nascli.track.feed import decision_key
from nascli.track.mlflow_sink import default_uri
from track_helpers import make_run, make_schema_1

pytest.importorskip("mlflow")
from mlflow.artifacts import download_artifacts  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory) -> str:
    """One SQLite store for the module: creating its tables takes MLflow several seconds. MLflow keeps the
    store (and its artifact root, ./mlruns of the folder it was first used from) for the process: make it there."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        MlflowClient(uri).search_experiments()
    return uri


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # and any store made in a test keeps its artifacts here
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)


def replay(runner, run: Path, uri: str, experiment: str, env: dict | None = None) -> str:
    args = ["track", str(run), "--to", "mlflow", "--mlflow-experiment", experiment]
    result = runner.invoke(app, args + (["--mlflow-uri", uri] if uri else []), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def runs_of(uri: str, experiment: str):
    """(parent, children by child id) of the experiment's one search."""
    client = MlflowClient(uri)
    found = client.search_runs([client.get_experiment_by_name(experiment).experiment_id], max_results=1000)
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    children = {int(r.data.tags["nascli.child_id"]): r for r in found if r not in parents}
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in children.values())
    return client, parents[0], children


def test_a_replay_makes_a_parent_run_and_a_nested_run_per_child(runner, tmp_path, sqlite_uri):
    run = make_run(tmp_path / "stopped-run", fail=(2,), leave_pending=1, state="stopped")
    output = replay(runner, run, sqlite_uri, "replay")
    assert "5 children written (0 already there)" in output and "mlflow ui --backend-store-uri" in output
    client, parent, children = runs_of(sqlite_uri, "replay")
    with RunStore.open_readonly(run) as store:
        records, compiled, options, steps = store.children(), run_space(store), store.config, store.steps()
    assert parent.info.run_name == "stopped-run" and parent.info.status == "KILLED"  # a stopped search
    assert parent.data.tags["nascli.strategy"] == "reinforce" and parent.data.tags["nascli.space"] == "conv"
    assert parent.data.params["budget"] == "6" and parent.data.params["train.epochs"] == str(options["train"]["epochs"])
    history = client.get_metric_history(parent.info.run_id, "search/reward")
    assert sorted((m.step, m.value) for m in history) == [(c.id, c.reward) for c in records if c.status in ("done", "failed")]
    entropy = client.get_metric_history(parent.info.run_id, "controller/entropy")
    assert [(m.step, m.value) for m in entropy] == [(s.step, s.entropy) for s in steps] and steps
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"config.json", "space.space", "report.png", "report.html"} <= artifacts
    assert artifacts & {"best-architecture.png", "best-architecture.dot"}
    assert parent.data.tags["nascli.best_child_id"] == "5"
    assert sorted(children) == [1, 2, 3, 4, 5]  # not child 6, still training when the search stopped
    for record in records[:5]:
        child = children[record.id]
        assert child.info.status == ("FINISHED" if record.status == "done" else "FAILED")
        assert child.data.tags["nascli.tokens"] == record.tokens
        expected = {decision_key(k): str(v) for k, v in decision_values(compiled, record.tokens).items()}
        assert child.data.params == expected
        assert child.data.metrics["reward"] == record.reward
        assert child.data.metrics["status"] == (1.0 if record.status == "done" else 0.0)
        if record.status == "done":
            assert child.data.metrics["macs"] == record.macs and child.data.metrics["valid_accuracy"] == record.metric
        else:
            assert child.data.tags["nascli.error"] == record.error
    arch = download_artifacts(run_id=children[3].info.run_id, artifact_path="arch.json", tracking_uri=sqlite_uri,
                              dst_path=str(tmp_path / "dl"))
    assert json.loads(Path(arch).read_text()) == json.loads(records[2].arch_json)


def test_replaying_twice_adds_nothing_and_a_resumed_run_adds_its_new_children(runner, tmp_path, sqlite_uri):
    run = make_run(tmp_path / "r", leave_pending=2, state="stopped")
    replay(runner, run, sqlite_uri, "twice")
    assert "0 children written (4 already there), 0 points" in replay(runner, run, sqlite_uri, "twice")
    with RunStore.open(run) as store:
        store.finish_child(5, 0.9, 0.9, "valid_accuracy", 1, 1, 1.0)
        store.finish_child(6, 0.1, 0.3, "valid_accuracy", 1, 1, 1.0)
        store.state = "finished"
    assert "2 children written (4 already there)" in replay(runner, run, sqlite_uri, "twice")
    client, parent, children = runs_of(sqlite_uri, "twice")
    assert sorted(children) == [1, 2, 3, 4, 5, 6] and parent.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(parent.info.run_id, "search/reward")]
    assert sorted(steps) == [1, 2, 3, 4, 5, 6]  # each child's reward once


def test_a_child_run_cut_short_is_logged_again(runner, tmp_path, sqlite_uri):
    run = make_run(tmp_path / "r")
    replay(runner, run, sqlite_uri, "cut")
    client, parent, children = runs_of(sqlite_uri, "cut")
    client.update_run(children[4].info.run_id, status="RUNNING")  # as if killed before its last write
    assert "1 children written (5 already there)" in replay(runner, run, sqlite_uri, "cut")
    _, _, again = runs_of(sqlite_uri, "cut")
    assert sorted(again) == [1, 2, 3, 4, 5, 6] and again[4].info.status == "FINISHED"


def test_the_tracking_uri_comes_from_the_environment_and_a_file_store_works(runner, tmp_path):
    uri = (tmp_path / "mlruns").as_uri()
    run = make_run(tmp_path / "old")
    make_schema_1(run)  # made before tracking existed, too
    replay(runner, run, "", "env", env={"MLFLOW_TRACKING_URI": uri, "MLFLOW_ALLOW_FILE_STORE": "true"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        _, parent, children = runs_of(uri, "env")
    assert len(children) == 6 and parent.info.status == "FINISHED"


def test_the_default_uri_is_sqlite_in_the_current_folder(monkeypatch, tmp_path):
    assert default_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert default_uri() == "http://tracking.example:5000"
