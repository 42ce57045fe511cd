"""The ray backend on a local Ray instance: the same run folder as the other backends; a Ray
worker, the raylet or an agent killed mid-search costs each child it held one run and loses
nothing; an unreachable address is a prompt exit 2. Each test starts Ray (tens of seconds on
a loaded 2-core machine): the slow ones are marked."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nascli.cli import app
from nascli.runs import RunStore
from nascli.search.ray_executor import CONNECT_TIMEOUT_S
from test_search import FAST, search

pytest.importorskip("ray")


def _ancestors(pid: int) -> set[int]:
    found = set()
    while pid > 1:
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        found.add(pid)
    return found


def _ray_processes(title: bytes, search: int | None = None) -> list[int]:
    """This test's Ray processes whose program starts or ends with `title` (Ray titles a busy worker after its
    task, b"ray::_train_task"; the raylet's program ends with b"/raylet"): descendants of `search` (default:
    this process), never another's Ray."""
    search = search or os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            program = (entry / "cmdline").read_bytes().split(b"\0")[0] if entry.name.isdigit() else b""
        except OSError:
            continue
        if (program.startswith(title) or program.endswith(title)) and search in _ancestors(int(entry.name)):
            found.append(int(entry.name))
    return found


def _ray_task_workers() -> list[int]:
    """Processes running a child now."""
    return _ray_processes(b"ray::_train_task")


@pytest.mark.slow
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


REPO = Path(__file__).parents[1]
# children that train for a few seconds: long enough to be killed mid-child
SLOW_CHILD = ["--epochs", "2", "--train-subset", "128"]


def _search(run: Path, *args: str) -> subprocess.Popen:
    """A ray search in a process of its own (Ray may end the process it drives)."""
    return subprocess.Popen([sys.executable, "-m", "nascli", "search", "conv", "--backend", "ray", "--run-dir",
                             str(run), *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def _when_training(proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while not _ray_processes(b"ray::_train_task", proc.pid):
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read().decode()
        time.sleep(0.2)
    time.sleep(1.0)  # into training


def test_an_unreachable_ray_address_is_a_prompt_exit_2(tmp_path):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    proc = _search(tmp_path / "r", "--address", f"127.0.0.1:{port}", "--budget", "2")
    try:
        assert proc.wait(timeout=90) == 2  # Ray itself retried for minutes
    finally:
        proc.kill()
    stderr = proc.stderr.read().decode()
    assert stderr.strip() == f"error: 127.0.0.1:{port}: cannot reach the Ray cluster: connection refused", stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_an_address_that_never_answers_times_out_with_exit_2(tmp_path):
    with socket.socket() as silent:  # takes connections, never speaks
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        proc = _search(tmp_path / "r", "--address", address, "--budget", "2")
        try:
            assert proc.wait(timeout=240) == 2
        finally:
            proc.kill()
    stderr = proc.stderr.read().decode()
    assert stderr.strip() == (f"error: {address}: timed out: could not join the Ray cluster at {address} within "
                              f"{CONNECT_TIMEOUT_S:g} s"), stderr


@pytest.mark.slow
def test_each_ray_worker_killed_mid_child_costs_one_run(runner, tmp_path):
    killed: list[int] = []

    def kill_every_busy_worker():
        deadline = time.time() + 300
        while time.time() < deadline and len(killed) < 2:
            for pid in set(_ray_task_workers()) - set(killed):
                time.sleep(0.5)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.1)

    killer = threading.Thread(target=kill_every_busy_worker, daemon=True)
    killer.start()
    result = runner.invoke(app, ["search", "conv", "--backend", "ray", "--budget", "1", "--batch", "1",
                                 *SLOW_CHILD, "--child-tries", "2", "--run-dir", str(tmp_path / "r")])
    killer.join()
    assert len(killed) == 2 and result.exit_code == 2, result.output  # its only child failed: none trained
    with RunStore.open_readonly(tmp_path / "r") as store:
        (child,) = store.children()
    assert child.status == "failed" and child.error.startswith("Ray lost the child"), child.error
    assert child.error.endswith("(in all 2 runs)"), child.error


@pytest.mark.slow
@pytest.mark.parametrize("victim", [b"/raylet", b"ray::RuntimeEnvAgent"])  # the node's raylet, or an agent of it
def test_a_dead_ray_node_or_agent_costs_each_child_one_run(tmp_path, victim):
    proc = _search(tmp_path / "r", "--budget", "2", "--batch", "2", "--workers", "2", *SLOW_CHILD)
    _when_training(proc)
    victims = _ray_processes(victim, proc.pid)
    assert victims, "no such Ray process"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()  # was exit 1, no error line
    with RunStore.open_readonly(tmp_path / "r") as store:
        assert [c.status for c in store.children()] == ["done", "done"]  # trained again by a new driver


@pytest.mark.slow
def test_a_ray_search_killed_mid_child_resumes(runner, tmp_path):
    proc = _search(tmp_path / "r", "--budget", "2", "--batch", "2", "--workers", "2", *SLOW_CHILD)
    _when_training(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with RunStore.open_readonly(tmp_path / "r") as store:
        assert store.summary().state == "stopped" and [c.status for c in store.children()] == ["running"] * 2
    result = runner.invoke(app, ["search", "--resume", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    with RunStore.open_readonly(tmp_path / "r") as store:
        assert [c.status for c in store.children()] == ["done", "done"]


def test_the_connect_timeout_stated_in_help_and_docs_is_the_one_used():
    from nascli.cli.device_options import AddressOpt

    stated = f"within {CONNECT_TIMEOUT_S:g} s"
    assert stated in AddressOpt.__metadata__[0].help
    assert stated in (REPO / "docs" / "scaling.md").read_text()
