"""Tracking into TensorBoard: what the feed reads from a run store, and the event files read back
through TensorBoard's own reader (scalars, HParams sessions, the figure); replay, its idempotence,
old runs, and the errors of the CLI."""

from __future__ import annotations

import io
import sys

import pytest
from PIL import Image

from nascli.arch.tokens import decision_values
from nascli.cli import app
from nascli.runs import RunStore, run_space
from nascli.track.feed import RunFeed, decision_key
from track_helpers import make_run, make_schema_1

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing import event_accumulator as ea  # noqa: E402
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2  # noqa: E402

ALL = {ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0}  # keep every event (the default samples 10 tensors a tag)


def scalars(folder) -> dict[str, list[tuple[int, float]]]:
    acc = ea.EventAccumulator(str(folder), size_guidance=ALL)
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def session(folder) -> tuple[dict, int]:
    """A child's HParams session: its hparams, and its end status."""
    acc = ea.EventAccumulator(str(folder), size_guidance=ALL)
    acc.Reload()
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content[metadata.SESSION_START_INFO_TAG]).session_start_info
    end = plugin_data_pb2.HParamsPluginData.FromString(content[metadata.SESSION_END_INFO_TAG]).session_end_info
    hparams = {k: v.number_value if v.HasField("number_value") else v.string_value for k, v in start.hparams.items()}
    return hparams, end.status


def track(runner, *args):
    result = runner.invoke(app, ["track", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_feed_reads_children_in_finish_order_and_the_controller_steps(tmp_path):
    run = make_run(tmp_path / "r", fail=(2,), leave_pending=1)
    feed = RunFeed(run)
    batch = feed.poll()
    by_tag: dict[str, list] = {}
    for p in batch.points:
        by_tag.setdefault(p.tag, []).append((p.step, p.value))
    assert [c.record.id for c in batch.children] == [1, 2, 3, 4, 5]  # child 6 is still pending
    reward = {i: 0.01 * i for i in (1, 3, 4, 5)} | {2: 0.0}  # as make_run wrote them; child 2 failed
    assert by_tag["search/reward"] == sorted(reward.items())
    assert by_tag["search/valid_accuracy"] == [(i, 0.2 + i / 100) for i in (1, 3, 4, 5)]  # done children only
    assert by_tag["search/best_reward"] == [(1, reward[1]), (2, reward[1]), (3, reward[3]), (4, reward[4]),
                                            (5, reward[5])]
    assert by_tag["controller/baseline"] == [(0, 0.0)] and by_tag["controller/loss"] == [(0, -0.5)]  # step 1: no update yet
    assert not feed.poll()  # nothing new
    with RunStore.open(run) as store:  # the last child trains, the step updates: the next poll has them, only them
        store.finish_child(6, 0.5, 0.7, "valid_accuracy", 10, 20, 3.0)
        store.record_step(1, 0.25, 0.5, 0.125, 30.0, 6)
    batch = feed.poll()
    assert [c.record.id for c in batch.children] == [6]
    assert {(p.tag, p.step, p.value) for p in batch.points} == {
        ("search/reward", 6, 0.5), ("search/valid_accuracy", 6, 0.7), ("search/best_reward", 6, 0.5),
        ("controller/baseline", 1, 0.25), ("controller/batch_mean_reward", 1, 0.5), ("controller/loss", 1, 0.125),
        ("controller/entropy", 1, 30.0)}
    feed.close()


def test_a_replay_to_tensorboard_reads_back_through_its_reader(runner, tmp_path):
    run = make_run(tmp_path / "r", fail=(2,))
    output = track(runner, str(run), "--to", "tensorboard")
    assert "6 children written (0 already there)" in output
    series = scalars(run / "tensorboard" / "search")
    with RunStore.open_readonly(run) as store:
        children, steps, compiled = store.children(), store.steps(), run_space(store)
    assert [s for s, _ in series["search/reward"]] == [c.id for c in children]
    assert [v for _, v in series["search/reward"]] == pytest.approx([c.reward for c in children])
    assert [v for _, v in series["search/best_reward"]] == pytest.approx([0.01, 0.01, 0.03, 0.04, 0.05, 0.06])
    for tag, field in (("controller/baseline", "baseline"), ("controller/batch_mean_reward", "mean_reward"),
                       ("controller/entropy", "entropy"), ("controller/loss", "loss")):
        assert series[tag] == [(s.step, pytest.approx(getattr(s, field))) for s in steps]
    sessions = sorted(p.name for p in (run / "tensorboard" / "children").iterdir())
    assert sessions == [f"child-{c.id:05d}" for c in children]
    for child in children:
        folder = run / "tensorboard" / "children" / f"child-{child.id:05d}"
        hparams, status = session(folder)
        expected = {decision_key(k): v for k, v in decision_values(compiled, child.tokens).items()}
        assert hparams == expected and "layers.1.skip" in hparams and "layers.0.filters" in hparams
        metrics = {tag: values[0][1] for tag, values in scalars(folder).items()}
        assert metrics["reward"] == pytest.approx(child.reward)
        assert metrics["status"] == (1.0 if child.status == "done" else 0.0)
        assert status == (api_pb2.STATUS_SUCCESS if child.status == "done" else api_pb2.STATUS_FAILURE)
        if child.status == "done":
            assert metrics["valid_accuracy"] == pytest.approx(child.metric)
            assert metrics["macs"] == pytest.approx(child.macs, rel=1e-7)  # float32 in event files
            assert metrics["params"] == child.params


def test_replaying_twice_writes_nothing_twice_and_a_longer_run_adds_only_its_new_children(runner, tmp_path):
    run = make_run(tmp_path / "r", leave_pending=2, state="stopped")
    assert "4 children written" in track(runner, str(run), "--to", "tensorboard")
    files = sorted((run / "tensorboard" / "search").iterdir())
    again = track(runner, str(run), "--to", "tensorboard")
    assert "0 children written (4 already there), 0 points" in again
    assert sorted((run / "tensorboard" / "search").iterdir()) == files  # not even an empty event file
    with RunStore.open(run) as store:  # as a resume would: the two pending children train
        store.finish_child(5, 0.9, 0.9, "valid_accuracy", 1, 1, 1.0)
        store.finish_child(6, 0.1, 0.3, "valid_accuracy", 1, 1, 1.0)
        store.state = "finished"
    assert "2 children written (4 already there)" in track(runner, str(run), "--to", "tensorboard")
    series = scalars(run / "tensorboard" / "search")
    for tag, points in series.items():
        assert len({s for s, _ in points}) == len(points), f"{tag} has a step twice"
    assert sorted(s for s, _ in series["search/reward"]) == [1, 2, 3, 4, 5, 6]
    assert series["search/best_reward"][-2:] == [(5, pytest.approx(0.9)), (6, pytest.approx(0.9))]


def test_a_run_made_before_tracking_existed_replays(runner, tmp_path):
    run = make_run(tmp_path / "old")
    make_schema_1(run)
    track(runner, str(run), "--to", "tensorboard")
    assert len(scalars(run / "tensorboard" / "search")["search/reward"]) == 6


def test_enas_runs_send_their_epochs(runner, tmp_path):
    run = make_run(tmp_path / "e", space="enas_macro", strategy="enas")
    track(runner, str(run), "--to", "tensorboard")
    series = scalars(run / "tensorboard" / "search")
    assert series["enas/shared_loss"] == [(0, 2.0), (1, pytest.approx(1.9))]
    assert series["controller/batch_mean_reward"] == [(0, 0.0), (1, pytest.approx(0.1))]
    assert {"enas/lr", "enas/epoch_seconds", "enas/controller_seconds", "controller/entropy"} <= set(series)
    assert "controller/loss" not in series  # ENAS's controller_steps rows copy its epochs'; their loss is the shared loss
    assert session(run / "tensorboard" / "children" / "child-00001")[0]["layers.0.op"]


def test_a_log_folder_holds_each_run_under_its_name_with_the_best_figure(runner, tmp_path, monkeypatch):
    png = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(png, format="PNG")

    def fake_figure(store, best, folder, notice):  # Graphviz may be missing here; the real one is tested below
        (folder / "best-architecture.png").write_bytes(png.getvalue())
        return folder / "best-architecture.png"

    monkeypatch.setattr("nascli.track.finale.draw_best", fake_figure)
    run = make_run(tmp_path / "r")
    track(runner, str(run), "--to", "tensorboard", "--tensorboard-dir", str(tmp_path / "tb"))
    acc = ea.EventAccumulator(str(tmp_path / "tb" / "r" / "search"), size_guidance=ALL)
    acc.Reload()
    image = acc.Images("best/architecture")
    assert [(e.step, e.width, e.height) for e in image] == [(6, 40, 30)]
    assert image[0].encoded_image_string == png.getvalue()
    assert not (run / "tensorboard").exists()


@pytest.mark.skipif(__import__("shutil").which("dot") is None, reason="needs Graphviz's dot")
def test_the_best_architecture_is_drawn_by_render(runner, tmp_path):
    run = make_run(tmp_path / "r")
    track(runner, str(run), "--to", "tensorboard")
    acc = ea.EventAccumulator(str(run / "tensorboard" / "search"), size_guidance=ALL)
    acc.Reload()
    (figure,) = acc.Images("best/architecture")
    assert Image.open(io.BytesIO(figure.encoded_image_string)).size == (figure.width, figure.height)


def test_track_errors_are_one_line(runner, tmp_path, monkeypatch):
    run = make_run(tmp_path / "r")
    cases = [(["track", str(run)], "say where to"),
             (["track", str(run), "--to", "wandb"], "unknown tracking tool 'wandb'"),
             (["track", str(tmp_path / "nowhere"), "--to", "tensorboard"], "not a run folder"),
             (["track", str(run), "--to", "tensorboard", "--mlflow-uri", "sqlite:///x.db"], "--mlflow-uri applies")]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, args
    (tmp_path / "file").write_text("")
    result = runner.invoke(app, ["track", str(run), "--to", "tensorboard", "--tensorboard-dir", str(tmp_path / "file")])
    assert result.exit_code == 2 and "tensorboard:" in result.output  # a replay's failure is its error


def test_the_environment_variable_chooses_the_tools(runner, tmp_path):
    run = make_run(tmp_path / "r")
    result = runner.invoke(app, ["track", str(run)], env={"NASCLI_TRACK": "tensorboard"})
    assert result.exit_code == 0, result.output
    assert (run / "tensorboard" / "search").is_dir()


def test_a_running_run_is_not_replayed(runner, tmp_path):
    run = make_run(tmp_path / "r", state="running")
    with RunStore.open(run):  # this process is its writer, alive
        result = runner.invoke(app, ["track", str(run), "--to", "tensorboard"])
    assert result.exit_code == 2 and "still being searched" in result.output


@pytest.mark.parametrize("tool, extra", [("tensorboard", "tensorboard"), ("mlflow", "mlflow")])
def test_a_missing_extra_is_a_one_line_error_naming_pip(runner, tmp_path, monkeypatch, tool, extra):
    monkeypatch.setitem(sys.modules, tool, None)  # as if not installed: importing it fails
    result = runner.invoke(app, ["search", "conv", "--budget", "1", "--track", tool, "--run-dir", str(tmp_path / "s")])
    assert result.exit_code == 2, result.output
    assert f"pip install 'nascli[{extra}]'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s").exists()  # refused before the run folder was made
    result = runner.invoke(app, ["track", str(make_run(tmp_path / "r")), "--to", tool])
    assert result.exit_code == 2 and f"pip install 'nascli[{extra}]'" in result.output
