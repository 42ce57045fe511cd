"""Worker faults: a worker killed mid-search, a parent killed with its workers running,
children that run past --child-timeout, on the local and process backends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nascli.cli import app
from nascli.data.spec import DataSpec
from nascli.runs import RunStore
from nascli.search.executor import ExecutorConfig, bounded_workers, death_reason
from nascli.search.workers import ProcessExecutor, worker_command
from test_search import FAST, _job

REPO = Path(__file__).parents[1]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")


def _workers_of(pid: int) -> list[int]:
    """The search's live worker processes (started through worker_boot.py)."""
    found = []
    for child in _children_of(pid):
        try:
            if b"worker_boot.py" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


def _children_of(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate, seconds: float, proc: subprocess.Popen | None = None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"search ended early: {proc.stderr.read().decode()}")
        time.sleep(0.1)
    pytest.fail("timed out waiting")


def _search(run: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nascli", "search", "conv", "--batch", "2", *FAST, "--run-dir", str(run), *args]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)


def _running_child(run: Path) -> bool:
    if not (run / "run.db").exists():
        return False
    try:
        with RunStore.open_readonly(run) as store:
            return bool(store.children(status="running"))
    except Exception:  # noqa: BLE001 - the schema may not be written yet
        return False


@pytest.mark.slow
def test_a_worker_killed_mid_search_is_replaced_and_its_child_trained_again(tmp_path):
    run = tmp_path / "r"
    proc = _search(run, "--budget", "4", "--workers", "2", "--seed", "1")
    _wait_for(lambda: _running_child(run), 120, proc)
    victim = _wait_for(lambda: _children_of(proc.pid)[:1], 60, proc)[0]
    os.kill(victim, signal.SIGKILL)
    assert proc.wait(timeout=240) == 0, proc.stderr.read().decode()
    with RunStore.open_readonly(run) as store:
        children = store.children()
    assert [c.status for c in children] == ["done"] * 4  # the killed worker's child ran again


def test_killing_the_search_leaves_no_orphan_workers(tmp_path):
    run = tmp_path / "r"
    proc = _search(run, "--budget", "4", "--workers", "2", "--epochs", "5", "--train-subset", "512")
    _wait_for(lambda: _running_child(run), 120, proc)
    workers = _children_of(proc.pid)
    time.sleep(1.0)  # the workers are training now, not waiting on their pipes
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_for(lambda: not any(_alive(w) for w in workers), 5)


@pytest.mark.slow
def test_ctrl_c_while_workers_start_prints_no_worker_tracebacks(tmp_path):
    # children long enough that the search cannot finish between the workers' start and the signal
    cmd = [sys.executable, "-m", "nascli", "search", "conv", "--budget", "4", "--workers", "2", "--epochs", "5",
           "--train-subset", "512", "--run-dir", str(tmp_path / "r")]
    # SIGINT at its default, as under a terminal: a suite started as a background job (`pytest &`) inherits it
    # ignored, and Python then keeps ignoring it, as a background nascli should
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # the workers themselves (worker_boot.py), not a process an import starts and ends (a loaded machine's
    # slow import took those for workers, and the Ctrl-C then landed in the import: exit -2, not the search's)
    _wait_for(lambda: len(_workers_of(proc.pid)) >= 2, 120, proc)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to every process of the group
    assert proc.wait(timeout=60) == 130
    stderr = proc.stderr.read().decode()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr


def test_a_child_whose_worker_dies_every_time_is_recorded_failed_with_the_reason():
    executor = ProcessExecutor(DataSpec(name="cifar10"), ExecutorConfig(max_tries=2), 1, "cpu")

    def kill_the_worker():
        executor._dispatch()  # the job goes down the worker's pipe
        worker = executor.workers[0]
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
        return worker

    try:
        executor.submit(_job("conv: 3 3 24 / 3 3 24 0 / 3 3 24 0 / 3 3 24 0 / 3 3 24 0 / 3 3 24 0"))
        first = kill_the_worker()
        assert executor._collect(first, [first.process.stdout]) is None  # re-queued, a new worker started
        assert executor.workers[0] is not first and executor.in_flight == 1
        kill_the_worker()
        result = executor.next_result()
    finally:
        executor.close()
    assert result.status == "failed" and result.reward == -1.0
    assert result.error == "worker killed by signal 9 (SIGKILL), possibly out of memory (in all 2 runs)"


def test_death_reasons():
    assert death_reason(-9) == "worker killed by signal 9 (SIGKILL), possibly out of memory"
    assert death_reason(-15) == "worker killed by signal 15 (SIGTERM)"
    assert death_reason(1) == "worker exited with code 1"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_child_past_the_timeout_is_stopped_and_recorded_failed(runner, tmp_path, workers):
    args = ["search", "conv", "--budget", "2", "--batch", "2", "--epochs", "3", "--train-subset", "256",
            "--child-timeout", "0.3", "--workers", workers, "--run-dir", str(tmp_path / "t")]
    result = runner.invoke(app, args)
    # every child timed out, so the search says so and exits 2 (nothing trained)
    assert result.exit_code == 2 and "2 × timed out after 0.3 s" in result.output, result.output
    with RunStore.open_readonly(tmp_path / "t") as store:
        children = store.children()
        assert store.config["executor"]["child_timeout"] == 0.3
    assert [c.status for c in children] == ["failed", "failed"]
    assert all(c.error == "timed out after 0.3 s" and c.reward == 0 for c in children)


def test_a_worker_whose_search_is_gone_exits_before_importing_torch():
    # the pid of a process that is not the worker's parent: as if the search died before the watch was armed
    command = worker_command(DataSpec(name="cifar10"), 1, parent_pid=os.getpid() + 10**6)
    command[1:1] = ["-X", "importtime"]  # the interpreter lists every module it imports on stderr
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert done.returncode == 1, done.stderr[-2000:]
    assert not {"torch", "nascli", "pydantic"} & imported, sorted(imported)
    assert time.perf_counter() - started < 10


# Starts 4 workers in a search of its own (the CLI would start at most one per core) and waits.
PARENT = """
import sys, time
from nascli.data.spec import DataSpec
from nascli.search.executor import ExecutorConfig
from nascli.search.workers import ProcessExecutor
ProcessExecutor(DataSpec(name="cifar10"), ExecutorConfig(), 4, "cpu")
time.sleep(120)
"""


def test_a_search_killed_while_its_workers_start_leaves_none_behind():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=REPO, stderr=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        workers = _wait_for(lambda: (found := _children_of(parent.pid)) and len(found) >= 4 and found, 60, parent)
    finally:
        os.kill(parent.pid, signal.SIGKILL)  # the workers are still starting: none has imported torch yet
        parent.wait()
    killed = time.perf_counter()
    _wait_for(lambda: not any(_alive(w) for w in workers), 3)
    assert time.perf_counter() - killed < 3


def test_workers_are_bounded_by_what_can_be_used():
    assert bounded_workers(3, {"at most 2 in flight": 2, "4 cores": 4}) == (2, "--workers 3: 2 started, as at most 2 in flight")
    assert bounded_workers(2, {"at most 2 in flight": 2, "4 cores": 4}) == (2, None)
    assert bounded_workers(9, {"0 slots": 0}) == (1, "--workers 9: 1 started, as 0 slots")  # never none


@pytest.mark.slow
def test_more_workers_than_children_in_flight_start_no_more_and_say_so(runner, tmp_path):
    result = runner.invoke(app, ["search", "conv", "--budget", "2", "--batch", "1", *FAST, "--workers", "3",
                                 "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "backend process, 1 at once" in result.output  # one core is enough to hold this test
    assert "note: --workers 3: 1 started, as at most 1 child is in flight at once (--batch 1)" in result.output
