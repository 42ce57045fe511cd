"""Executors: where children are trained. One interface behind every backend:
`submit(job)` queues a child, `next_result()` blocks until one finishes, and `map`
(built on the two) trains a batch; the search loop neither knows nor cares which
backend stands behind it. Every result comes back to the search process, the only
writer of the run store.

- `local` (`InlineExecutor`): one child after another in the search process.
- `process` (`ProcessExecutor`, workers.py): N worker processes on this machine.
- `ray` (`RayExecutor`, ray_executor.py): each child a Ray task, on one machine
  or a cluster.

`--workers` is bounded by what can be used (`bounded_workers`): never more than the
children that can be in flight at once (the batch, or the budget with `--async`),
nor, for `process`, this machine's cores, nor, for `ray`, the children the
cluster's CPUs (GPUs) fit; a bounded executor says so in its `note`.

Every backend honours `child_timeout` (a hanging child is stopped and recorded as
failed) and survives a worker that dies (its child is re-run up to `max_tries`
times, then recorded as failed with the reason).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal, Sequence

import torch
from pydantic import BaseModel, ConfigDict, Field

from ..data import Data
from ..data.spec import DataSpec
from ..errors import RunError
from .evaluate import ChildJob, ChildResult, run_child

Backend = Literal["local", "process", "ray"]


class ExecutorConfig(BaseModel):
    """Where and how children run; part of the search config."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # local trains in the search process, or in worker processes when the search has workers > 1
    backend: Backend = "local"
    child_timeout: float | None = Field(None, gt=0)  # seconds; a child still training then is failed
    max_tries: int = Field(3, ge=1)  # runs of a child whose worker died, before it is recorded failed
    address: str | None = None  # ray: the cluster to join; None starts a local Ray instance
    # torch threads of each child; ray: also the CPUs each task declares (None: 1). None for
    # process: this machine's cores divided among the workers
    cpus_per_child: int | None = Field(None, ge=1)
    gpus_per_child: float = Field(0.0, ge=0)  # ray: fractions share a GPU between children


def failed_result(job: ChildJob, error: str, seconds: float) -> ChildResult:
    """A child that never reported back (its worker died, or it hung)."""
    return ChildResult(child_id=job.child_id, status="failed", reward=job.reward.failed, seconds=seconds,
                       error=error, device=job.device, rung=job.rung)


def death_reason(exitcode: int | None) -> str:
    """Why a worker process ended, in words: 'killed by signal 9 (SIGKILL), possibly out of memory'."""
    if exitcode is None:
        return "worker vanished"
    if exitcode >= 0:
        return f"worker exited with code {exitcode}"
    try:
        name = f" ({signal.Signals(-exitcode).name})"
    except ValueError:
        name = ""
    oom = ", possibly out of memory" if -exitcode == signal.SIGKILL else ""
    return f"worker killed by signal {-exitcode}{name}{oom}"


@dataclass
class JobQueue:
    """Children waiting to be sent to a worker, and how many runs each has been sent for."""

    jobs: deque[ChildJob] = field(default_factory=deque)
    tries: dict[int, int] = field(default_factory=dict)  # child id -> runs started

    def take(self) -> ChildJob:
        """The next child to send, its run counted."""
        job = self.jobs.popleft()
        self.tries[job.child_id] = self.tries.get(job.child_id, 0) + 1
        return job

    def lost(self, job: ChildJob, reason: str, seconds: float, max_tries: int) -> ChildResult | None:
        """A run of `job` ended without a result (its worker, Ray node or driver died): queue it again,
        before anything newer, while it has runs left (None); else its failure, with the reason."""
        runs = self.tries[job.child_id]
        if runs < max_tries:
            self.jobs.appendleft(job)
            return None
        return failed_result(job, f"{reason} (in all {runs} runs)", seconds)


def stop_process(process: subprocess.Popen) -> None:
    """Kill `process` (a worker or a Ray driver) if it still runs, reap it, and close its pipes."""
    if process.poll() is None:
        process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass


def child_env() -> dict[str, str]:
    """The environment of a process the search starts: this nascli first on PYTHONPATH, so that it runs
    the same code as the search."""
    here = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([here, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])}


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def bounded_workers(asked: int, limits: dict[str, int]) -> tuple[int, str | None]:
    """The workers to start: `asked`, or the smallest of `limits` (why -> count) where that is fewer
    (at least 1); and, when fewer, a note that says so and why."""
    why, limit = min(limits.items(), key=lambda item: item[1], default=("", asked))
    if asked <= limit:
        return asked, None
    limit = max(1, limit)
    return limit, f"--workers {asked}: {limit} started, as {why}"


class Executor(ABC):
    """Trains children somewhere; results come back here, in the order they finish."""

    capacity: int = 1  # children it trains at once
    note: str | None = None  # why capacity is less than the workers asked for

    @abstractmethod
    def submit(self, job: ChildJob) -> None: ...

    @abstractmethod
    def next_result(self) -> ChildResult:
        """The next child to finish (done or failed); blocks. Only after a submit."""

    @property
    @abstractmethod
    def in_flight(self) -> int:
        """Children submitted and not yet returned by next_result."""

    def cost(self, job: ChildJob) -> float | None:
        """Seconds `job` will charge, where that is known before it runs (a benchmark); None here."""
        return None

    def map(self, jobs: Sequence[ChildJob]) -> Iterator[ChildResult]:
        for job in jobs:
            self.submit(job)
        for _ in jobs:
            yield self.next_result()

    def close(self) -> None:
        pass


class _ChildTimeout(BaseException):
    """Raised by SIGALRM inside a local child; a BaseException so run_child does not swallow it."""


class InlineExecutor(Executor):
    """Children trained one at a time in this process, on data loaded once.

    `child_timeout` uses SIGALRM, which interrupts Python code between tensor ops:
    it needs the main thread (use the process backend for a timeout elsewhere).
    """

    def __init__(self, data: Data, config: ExecutorConfig, device: str = "cpu"):
        self.data, self.config, self.device = data, config, device
        self.queue: deque[ChildJob] = deque()
        if config.cpus_per_child:
            torch.set_num_threads(config.cpus_per_child)
        if config.child_timeout and threading.current_thread() is not threading.main_thread():
            raise RunError("--child-timeout with the local backend needs the main thread; use --workers 2")

    def submit(self, job: ChildJob) -> None:
        self.queue.append(job.model_copy(update={"device": self.device}))

    @property
    def in_flight(self) -> int:
        return len(self.queue)

    def next_result(self) -> ChildResult:
        job = self.queue.popleft()
        if not self.config.child_timeout:
            return run_child(job, self.data)
        start = time.perf_counter()

        def expire(signum, frame):
            raise _ChildTimeout

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, self.config.child_timeout)
        try:
            return run_child(job, self.data)
        except _ChildTimeout:
            return failed_result(job, f"timed out after {self.config.child_timeout:g} s", time.perf_counter() - start)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def make_executor(spec: DataSpec, data: Data, config: ExecutorConfig, workers: int, device: str,
                  limits: dict[str, int] | None = None) -> Executor:
    """The executor for `config.backend` training up to `workers` children at once on `device` (resolved);
    fewer where `limits` (why -> count, e.g. the children in flight at once) or the backend's resources
    (cores, the Ray cluster) say more would never be used."""
    limits = dict(limits or {})
    if config.backend == "ray":
        from .ray_executor import RayExecutor  # ray is an optional extra, imported only when asked for

        return RayExecutor(spec, config, workers, device, limits)
    if config.backend == "process" or workers > 1:
        from .workers import ProcessExecutor

        cores = usable_cores()
        capacity, note = bounded_workers(workers, {**limits, f"this machine has {cores} core{'s' * (cores > 1)}": cores})
        executor = ProcessExecutor(spec, config, capacity, device)
        executor.note = note
        return executor
    return InlineExecutor(data, config, device)
