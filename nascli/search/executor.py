"""Executors: where children are trained. One interface behind every backend:
`submit(job)` queues a child, `next_result()` blocks until one finishes, and `map`
(built on the two) trains a batch; the search loop neither knows nor cares which
backend stands behind it. Every result comes back to the search process, the only
writer of the run store.

- `local` (`InlineExecutor`): one child after another in the search process.
- `process` (`ProcessExecutor`, workers.py): N worker processes on this machine.
- `ray` (`RayExecutor`, ray_executor.py): each child a Ray task, on one machine
  or a cluster.

Every backend honours `child_timeout` (a hanging child is stopped and recorded as
failed) and survives a worker that dies (its child is re-run up to `max_tries`
times, then recorded as failed with the reason).
"""

from __future__ import annotations

import signal
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
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

    model_config = ConfigDict(extra="forbid")

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
                       error=error, device=job.device)


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


class Executor(ABC):
    """Trains children somewhere; results come back here, in the order they finish."""

    capacity: int = 1  # children it trains at once

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


def make_executor(spec: DataSpec, data: Data, config: ExecutorConfig, workers: int,
                  device: str) -> Executor:
    """The executor for `config.backend` training `workers` children at once on `device` (resolved)."""
    if config.backend == "ray":
        from .ray_executor import RayExecutor  # ray is an optional extra, imported only when asked for

        return RayExecutor(data, config, workers, device)
    if config.backend == "process" or workers > 1:
        from .workers import ProcessExecutor

        return ProcessExecutor(spec, config, workers, device)
    return InlineExecutor(data, config, device)
