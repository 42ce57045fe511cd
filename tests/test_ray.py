"""The ray backend on a local Ray instance: the same run folder as the other backends, and a
Ray worker killed with SIGKILL mid-search loses nothing."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from nascli.cli import app
from nascli.runs import RunStore
from test_search import FAST, search

pytest.importorskip("ray")


def _ray_task_workers() -> list[int]:
    """Processes running a child now (Ray titles a busy worker after its task)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::_train_task"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_ray_search_survives_a_killed_worker(runner, tmp_path):
    killed: list[int] = []

    def kill_one_busy_worker():
        deadline = time.time() + 240
        while time.time() < deadline and not killed:
            for pid in _ray_task_workers():
                time.sleep(0.5)  # let it get into training
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.1)

    killer = threading.Thread(target=kill_one_busy_worker, daemon=True)
    killer.start()
    search(runner, tmp_path, "conv", "--budget", "3", "--batch", "3", "--seed", "2", *FAST, "--backend", "ray",
           "--workers", "2", "--run-dir", str(tmp_path / "r"))
    killer.join()
    assert killed, "no Ray worker was seen training"
    with RunStore.open_readonly(tmp_path / "r") as store:
        config, children = store.config, store.children()
    assert config["executor"]["backend"] == "ray" and config["workers"] == 2
    assert [c.status for c in children] == ["done"] * 3  # Ray ran the killed worker's task again
    assert all(c.device == "cpu" and c.params > 0 for c in children)
    assert runner.invoke(app, ["show", str(tmp_path / "r")]).exit_code == 0


def test_a_ray_child_past_the_timeout_is_cancelled_and_recorded_failed(runner, tmp_path):
    result = runner.invoke(app, ["search", "conv", "--budget", "2", "--batch", "2", "--epochs", "3", "--train-subset",
                                 "256", "--backend", "ray", "--workers", "2", "--child-timeout", "0.3",
                                 "--run-dir", str(tmp_path / "t")])
    assert result.exit_code == 2 and "2 × timed out after 0.3 s" in result.output, result.output  # none trained
    with RunStore.open_readonly(tmp_path / "t") as store:
        children = store.children()
    assert [(c.status, c.error) for c in children] == [("failed", "timed out after 0.3 s")] * 2
