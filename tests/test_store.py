"""Tests of the run store: round trips, child bookkeeping, crash safety, concurrent readers."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nascli.errors import RunError
from nascli.runs import database
from nascli.runs import RunStore, default_run_dir, list_runs

# CRLF and a non-ASCII character: the copy must be byte for byte.
SPACE_TEXT = "# toy space — for tests\r\nspace toy {\n    task = image\n}\n"
SPACE_SHA = hashlib.sha256(SPACE_TEXT.encode()).hexdigest()
CONFIG = {"strategy": "nas", "space": "spaces/toy.space", "children": 12, "lr": 6e-4, "widths": [24, 36]}


def make_store(run_dir: Path, config: dict = CONFIG) -> RunStore:
    return RunStore.create(run_dir, config, SPACE_TEXT, SPACE_SHA)


def finish(store: RunStore, child_id: int, reward: float) -> None:
    store.finish_child(child_id, reward=reward, metric=reward * 100, metric_name="accuracy",
                       params=1000, macs=5000, seconds=1.5)


def test_create_then_open_round_trips_config_and_space(tmp_path):
    run_dir = tmp_path / "runs" / "first"
    make_store(run_dir).close()
    with RunStore.open(run_dir) as store:
        assert store.config == CONFIG
        assert store.space_text == SPACE_TEXT
        assert store.state == "running"
        assert store.get_meta("samples") == "0"
        assert store.get_meta("pid") == str(os.getpid())
    assert (run_dir / "space.space").read_bytes() == SPACE_TEXT.encode()
    assert json.loads((run_dir / "config.json").read_text())["space_sha256"] == SPACE_SHA
    with sqlite3.connect(run_dir / "run.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_create_refuses_a_non_empty_folder_but_takes_an_empty_one(tmp_path):
    (tmp_path / "empty").mkdir()
    make_store(tmp_path / "empty").close()
    with pytest.raises(RunError) as err:
        make_store(tmp_path / "empty")
    assert err.value.where == str(tmp_path / "empty")
    with pytest.raises(ValueError):
        RunStore.create(tmp_path / "other", CONFIG, SPACE_TEXT, "0" * 64)


def test_default_run_dir_is_a_timestamp_or_the_name(tmp_path):
    assert default_run_dir(tmp_path, "mine") == tmp_path / "mine"
    first = default_run_dir(tmp_path)
    first.mkdir()
    second = default_run_dir(tmp_path)
    assert len(first.name) == len("20240101-120000") and second != first


def test_opening_what_is_not_a_run_raises_run_error_naming_the_path(tmp_path):
    with pytest.raises(RunError, match="no such run folder") as err:
        RunStore.open(tmp_path / "missing")
    assert err.value.where == str(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(RunError, match="not a run folder"):
        RunStore.open_readonly(tmp_path / "plain")
    make_store(tmp_path / "garbled").close()
    (tmp_path / "garbled" / "run.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RunError, match="corrupt") as err:
        RunStore.open_readonly(tmp_path / "garbled")
    assert str(tmp_path / "garbled") in err.value.where
    make_store(tmp_path / "edited").close()
    (tmp_path / "edited" / "space.space").write_text("space other {}\n")
    with pytest.raises(RunError, match="changed"):
        RunStore.open(tmp_path / "edited")


def test_only_one_writer_and_readers_cannot_write(tmp_path):
    store = make_store(tmp_path / "run")
    with pytest.raises(RunError, match="another process is writing"):
        RunStore.open(tmp_path / "run")
    with RunStore.open_readonly(tmp_path / "run") as reader:
        with pytest.raises(RunError, match="read-only"):
            reader.add_children(0, 6, [("a", "{}")])
    store.close()
    RunStore.open(tmp_path / "run").close()  # the lock went with the first writer


def test_children_go_pending_running_done_or_failed(tmp_path):
    with make_store(tmp_path / "run") as store:
        ids = store.add_children(3, 6, [("a", '{"n": 1}'), ("b", '{"n": 2}'), ("c", '{"n": 3}')])
        assert ids == [1, 2, 3]
        store.mark_running(ids[:2])
        finish(store, ids[0], 0.8)
        store.fail_child(ids[1], "CUDA out of memory", reward=0.0, seconds=0.25)
        assert store.counts() == {"pending": 1, "running": 0, "done": 1, "failed": 1, "refused": 0}
        assert store.get_meta("samples") == "3"
        done, failed, pending = store.children()
        assert (done.status, done.step, done.depth, done.tokens, done.arch_json) == ("done", 3, 6, "a", '{"n": 1}')
        assert (done.reward, done.metric, done.metric_name, done.params, done.macs) == (0.8, 80.0, "accuracy", 1000, 5000)
        assert done.finished >= done.created
        assert (failed.status, failed.error, failed.reward, failed.seconds) == ("failed", "CUDA out of memory", 0.0, 0.25)
        assert pending.status == "pending" and pending.reward is None and pending.finished is None
        # A finished child is never rewritten, and a failed batch update changes nothing.
        with pytest.raises(RunError, match="not pending or running"):
            finish(store, ids[0], 0.1)
        with pytest.raises(RunError, match="not pending"):
            store.mark_running([ids[2], ids[0]])
        assert [c.status for c in store.children()] == ["done", "failed", "pending"]
        assert store.children("done")[0].reward == 0.8
        with pytest.raises(ValueError):
            store.children("finished")


def test_best_orders_finished_children_by_reward_then_id(tmp_path):
    with make_store(tmp_path / "run") as store:
        ids = store.add_children(0, None, [(f"t{i}", "{}") for i in range(6)])
        for child_id, reward in zip(ids, [0.5, 0.9, 0.1, 0.9]):
            finish(store, child_id, reward)
        store.fail_child(ids[4], "diverged", reward=1.0, seconds=1.0)  # failures never count as best
        assert [c.id for c in store.best(3)] == [ids[1], ids[3], ids[0]]
        assert [c.id for c in store.best(10)] == [ids[1], ids[3], ids[0], ids[2]]
        ranked = store.children(order_by_reward=True, limit=6)
        assert ranked[0].id == ids[4] and ranked[-1].id == ids[5]  # no reward sorts last
        assert [c.id for c in store.children(order_by_reward=True, limit=2)] == [ids[4], ids[1]]


def test_finished_tokens_keeps_the_earliest_per_string(tmp_path):
    with make_store(tmp_path / "run") as store:
        ids = store.add_children(0, 6, [("same", "{}"), ("same", "{}"), ("other", "{}"), ("late", "{}")])
        finish(store, ids[0], 0.3)
        finish(store, ids[1], 0.7)
        finish(store, ids[2], 0.5)
        cache = store.finished_tokens()
        assert set(cache) == {"same", "other"}
        assert cache["same"].id == ids[0] and cache["same"].reward == 0.3


def test_recover_requeues_running_and_leaves_finished_alone(tmp_path):
    with make_store(tmp_path / "run") as store:
        ids = store.add_children(0, 6, [(f"t{i}", "{}") for i in range(4)])
        store.mark_running(ids[:3])
        finish(store, ids[0], 0.6)
        store.fail_child(ids[2], "boom", reward=0.0, seconds=1.0)
        pending = store.recover()
        assert [c.id for c in pending] == [ids[1], ids[3]]
        assert all(c.status == "pending" for c in pending)
        assert store.counts() == {"pending": 2, "running": 0, "done": 1, "failed": 1, "refused": 0}
        assert store.children("done")[0].reward == 0.6


def test_steps_are_recorded_in_order_and_a_redone_step_replaces_the_old(tmp_path):
    with make_store(tmp_path / "run") as store:
        store.record_step(1, baseline=0.2, mean_reward=0.3, loss=1.5, entropy=4.0, depth=6)
        store.record_step(0, baseline=0.1, mean_reward=0.2, loss=2.0, entropy=4.5, depth=6)
        store.record_step(1, baseline=0.25, mean_reward=0.35, loss=1.4, entropy=3.9, depth=8)
        steps = store.steps()
        assert [s.step for s in steps] == [0, 1]
        assert (steps[1].baseline, steps[1].depth) == (0.25, 8)


def test_state_accepts_only_known_states(tmp_path):
    with make_store(tmp_path / "run") as store:
        store.state = "finished"
        assert store.state == "finished"
        with pytest.raises(ValueError):
            store.state = "paused"


_KILLED_WRITER = """
import hashlib, sys
from nascli.runs import RunStore
text = "space toy {}\\n"
store = RunStore.create(sys.argv[1], {"strategy": "nas"}, text, hashlib.sha256(text.encode()).hexdigest())
[stuck] = store.add_children(0, 6, [("stuck", "{}")])
store.mark_running([stuck])
print("stuck", stuck, flush=True)
step = 1
while True:
    ids = store.add_children(step, 6, [(f"t{step}-{i}", "{}") for i in range(3)])
    store.mark_running(ids)
    for i, child in enumerate(ids):
        store.finish_child(child, i / 3, 50.0, "accuracy", 10, 20, 0.1)
        print("done", child, flush=True)
    step += 1
"""


def test_kill_9_keeps_every_reported_child_and_a_sound_database(tmp_path):
    run_dir = tmp_path / "runs" / "killed"
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(run_dir)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reported: list[int] = []
    stuck = None
    while len(reported) < 40:
        line = writer.stdout.readline()
        assert line, f"writer died early: {writer.stderr.read()}"
        kind, child = line.split()
        if kind == "stuck":
            stuck = int(child)
        else:
            reported.append(int(child))
    os.kill(writer.pid, signal.SIGKILL)  # most likely in the middle of a transaction
    writer.wait(timeout=10)
    # a line the kill cut short is left out (its child may be done; it was just not reported)
    reported += [int(line.split()[1]) for line in writer.stdout.read().splitlines(keepends=True)
                 if line.endswith("\n")]
    writer.stdout.close()
    writer.stderr.close()

    with sqlite3.connect(run_dir / "run.db") as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    [summary] = list_runs(run_dir.parent)
    assert summary.state == "stopped"  # recorded 'running', but its process is gone
    with RunStore.open(run_dir) as store:
        done = {c.id: c for c in store.children("done")}
        assert set(reported) <= set(done)
        assert all(done[i].metric == 50.0 for i in reported)
        assert store.children("running")[0].id == stuck
        requeued = store.recover()
        assert stuck in [c.id for c in requeued]
        assert store.counts()["running"] == 0
        assert {c.id for c in store.children("done")} == set(done)


def test_readers_read_while_a_writer_holds_a_transaction(tmp_path, monkeypatch):
    make_store(tmp_path / "run").close()
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.2)  # a blocked reader would fail fast
    raw = sqlite3.connect(tmp_path / "run" / "run.db", isolation_level=None)
    raw.execute("BEGIN EXCLUSIVE")  # would shut readers out in rollback-journal mode; not in WAL
    raw.execute("INSERT INTO children (step, tokens, arch_json, status, created) VALUES (0, 'x', '{}', 'pending', 0)")
    with RunStore.open_readonly(tmp_path / "run") as reader:
        assert reader.counts()["pending"] == 0  # the snapshot before the uncommitted insert
        raw.execute("COMMIT")
        assert reader.counts()["pending"] == 1
    raw.close()


def test_readers_and_a_busy_writer_in_parallel(tmp_path, monkeypatch):
    writer = make_store(tmp_path / "run")
    stop = threading.Event()
    failures: list[BaseException] = []

    def write_children() -> None:
        try:
            step = 0
            while not stop.is_set():
                ids = writer.add_children(step, 6, [("t", "{}"), ("u", "{}")])
                writer.mark_running(ids)
                for child_id in ids:
                    finish(writer, child_id, 0.5)
                step += 1
        except BaseException as err:  # surfaced by the assertion below
            failures.append(err)

    thread = threading.Thread(target=write_children)
    thread.start()
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 1.0)
    seen = []
    try:
        with RunStore.open_readonly(tmp_path / "run") as reader:
            deadline = time.monotonic() + 0.7
            while time.monotonic() < deadline:
                seen.append(reader.counts()["done"])
                best = reader.best(5)  # an earlier snapshot than the next line's
                assert len(best) <= min(5, len(reader.children("done"))) and all(c.reward == 0.5 for c in best)
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert not failures
    assert seen == sorted(seen) and seen[-1] > 0


def test_locked_database_is_a_run_error(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.05)
    with make_store(tmp_path / "run") as store:
        raw = sqlite3.connect(tmp_path / "run" / "run.db", isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")  # a stray second writer
        with pytest.raises(RunError, match="locked") as err:
            store.add_children(0, 6, [("a", "{}")])
        assert err.value.where == str(tmp_path / "run" / "run.db")
        raw.execute("ROLLBACK")
        raw.close()
        assert store.add_children(0, 6, [("a", "{}")]) == [1]


def _state(step: int, weights) -> dict:
    return {"strategy": {"weights": weights}, "updated_through": step}


def test_checkpoint_falls_back_to_the_previous_one_when_the_newest_is_torn(tmp_path):
    import torch

    with make_store(tmp_path / "run") as store:
        assert store.load_checkpoint() is None
        store.save_checkpoint(_state(1, torch.arange(4.0)))
        store.save_checkpoint(_state(2, torch.arange(4.0) * 2))
        assert store.load_checkpoint()["updated_through"] == 2
        folder = tmp_path / "run" / "checkpoints"
        assert sorted(p.name for p in folder.iterdir()) == ["controller.prev.pt", "controller.pt"]
        latest = folder / "controller.pt"
        latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])  # torn write
        loaded = store.load_checkpoint()
        assert loaded["updated_through"] == 1 and torch.equal(loaded["strategy"]["weights"], torch.arange(4.0))
        latest.unlink()  # killed between the two renames
        assert store.load_checkpoint()["updated_through"] == 1
        (folder / "controller.prev.pt").write_bytes(b"garbage")
        with pytest.raises(RunError, match="no readable controller checkpoint"):
            store.load_checkpoint()
        torch.save({}, latest)  # plain data, but not a checkpoint
        with pytest.raises(RunError, match="not a controller checkpoint"):
            store.load_checkpoint()


class _Payload:
    """A pickle that runs a command when loaded with weights_only=False."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_pickle_checkpoint_runs_nothing(tmp_path):
    import torch

    marker = tmp_path / "PWNED"
    with make_store(tmp_path / "run") as store:
        store.save_checkpoint(_state(1, torch.zeros(2)))
        store.save_checkpoint(_state(2, torch.ones(2)))
        folder = tmp_path / "run" / "checkpoints"
        torch.save({"strategy": {}, "updated_through": 3, "x": _Payload(marker)}, folder / "controller.pt")
        assert store.load_checkpoint()["updated_through"] == 1  # refused; the previous one is plain data
        torch.save(_Payload(marker), folder / "controller.prev.pt")
        with pytest.raises(RunError, match="no readable controller checkpoint"):
            store.load_checkpoint()
    assert not marker.exists()


def test_run_files_take_the_umask_and_killed_writes_are_cleared(tmp_path, monkeypatch):
    from nascli.runs import checkpoint

    old = os.umask(0o027)
    try:
        monkeypatch.setattr(checkpoint, "_FILE_MODE", checkpoint._file_mode())  # read once, at import
        with make_store(tmp_path / "run") as store:
            store.save_checkpoint(_state(0, 1.0))
    finally:
        os.umask(old)
    run = tmp_path / "run"
    for path in (run / "config.json", run / "space.space", run / "checkpoints" / "controller.pt"):
        assert path.stat().st_mode & 0o777 == 0o640, path
    stale = [run / ".config.json.abc.tmp", run / "checkpoints" / ".controller.pt.xyz.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    RunStore.open_readonly(run).close()  # readers leave them: the writer may be mid-write
    assert all(p.exists() for p in stale)
    RunStore.open(run).close()
    assert not any(p.exists() for p in stale)


def test_list_runs_reports_runs_skips_other_folders_and_flags_corrupt_ones(tmp_path):
    assert list_runs(tmp_path / "nothing-here") == []
    root = tmp_path / "runs"
    with make_store(root / "b-enas", {"strategy": "enas"}) as store:
        ids = store.add_children(0, 6, [("low", "{}"), ("high", "{}"), ("open", "{}")])
        finish(store, ids[0], 0.2)
        finish(store, ids[1], 0.9)
        store.state = "finished"
        live = list_runs(root)  # readable while the writer has it open
        assert live[0].state == "finished"
    make_store(root / "a-nas").close()
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a run")
    make_store(root / "c-broken").close()
    (root / "c-broken" / "run.db").write_bytes(b"\x00garbage" * 512)

    runs = list_runs(root)
    assert [r.name for r in runs] == ["a-nas", "b-enas", "c-broken"]
    empty, enas, broken = runs
    assert (empty.state, empty.space, empty.strategy, empty.counts["done"], empty.best_reward) == (
        "running", "toy", "nas", 0, None)
    assert (enas.state, enas.strategy, enas.samples) == ("finished", "enas", 3)
    assert enas.counts == {"pending": 1, "running": 0, "done": 2, "failed": 0, "refused": 0}
    assert (enas.best_reward, enas.best_tokens) == (0.9, "high")
    assert enas.updated >= enas.created
    assert broken.state == "corrupt" and "corrupt" in broken.problem


def test_a_run_is_created_whole_and_abandoned_builds_are_removed(tmp_path):
    root = tmp_path / "runs"
    make_store(root / "a").close()
    abandoned = root / ".b.creating-999999999"  # its builder is gone
    abandoned.mkdir()
    (abandoned / "run.db").write_bytes(b"")
    live = root / f".c.creating-{os.getpid()}"  # still being built (by this process)
    live.mkdir()
    assert [r.name for r in list_runs(root)] == ["a"]  # half-made folders are never runs
    make_store(root / "d").close()
    assert not abandoned.exists() and live.exists()
    assert sorted(p.name for p in (root / "d").iterdir()) == ["config.json", "run.db", "run.lock", "space.space"]
