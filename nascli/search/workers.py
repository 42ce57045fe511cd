"""The `process` backend: N worker processes on this machine, each holding the data once.

Why not `concurrent.futures.ProcessPoolExecutor`: one worker killed by SIGKILL (the
kernel's out-of-memory killer included) breaks that whole pool, and a hung child
cannot be stopped alone. Here each worker is a `python -m nascli.search.workers`
process with its own stdin (jobs) and stdout (results), one JSON line each, never
a pickle; so the search process can tell which child a dead worker held, re-run it
(up to `max_tries` runs), record it failed with the reason, and start a new worker.

Workers never outlive the search: worker_boot.py, the file a worker starts as, ties its
life to the search's before it imports anything heavy (torch takes seconds). Each runs
in a process group of its own, so a terminal's Ctrl-C reaches the search alone
(no KeyboardInterrupt tracebacks from workers still importing torch), and the
search then stops them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import wait

import torch

from ..data.spec import DataSpec
from ..plugins import load_plugins, loaded_refs
from ..train.device import worker_devices
from . import worker_boot
from .evaluate import ChildJob, ChildResult, run_child
from .executor import (Executor, ExecutorConfig, JobQueue, child_env, death_reason, failed_result, stop_process,
                       usable_cores)


def worker_main(spec_json: str, threads: str, plugins_json: str) -> None:
    """A worker's life once worker_boot.py has tied it to the search: load the search's plugins and the
    data once, then train each job that stdin brings."""
    results = os.fdopen(os.dup(1), "w", buffering=1)  # the pipe to the search: only results go there
    os.dup2(2, 1)  # anything else printed goes to stderr
    torch.set_num_threads(int(threads))
    load_plugins(json.loads(plugins_json))  # a new process starts without the search's plugin ops and datasets
    data = DataSpec.model_validate_json(spec_json).load()
    for line in sys.stdin:
        result = run_child(ChildJob.model_validate_json(line), data)
        results.write(result.model_dump_json() + "\n")


@dataclass
class _Worker:
    process: subprocess.Popen
    device: str
    job: ChildJob | None = None
    started: float = 0.0


class ProcessExecutor(Executor):
    """`workers` children at once in spawned processes; torch threads divided among them,
    GPUs (when the device is CUDA) assigned round-robin."""

    def __init__(self, spec: DataSpec, config: ExecutorConfig, workers: int, device: str):
        self.spec, self.config, self.capacity = spec, config, workers
        self.threads = config.cpus_per_child or max(1, usable_cores() // workers)
        self.queue = JobQueue()
        self.workers = [self._spawn(d) for d in worker_devices(device, workers)]

    def _spawn(self, device: str) -> _Worker:
        command = worker_command(self.spec, self.threads, os.getpid())
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, process_group=0,
                                   env=child_env())
        return _Worker(process, device)

    def submit(self, job: ChildJob) -> None:
        self.queue.jobs.append(job)

    @property
    def in_flight(self) -> int:
        return len(self.queue.jobs) + sum(w.job is not None for w in self.workers)

    def _dispatch(self) -> None:
        for worker in self.workers:
            if worker.job is None and self.queue.jobs:
                job = self.queue.take().model_copy(update={"device": worker.device})
                worker.job, worker.started = job, time.perf_counter()
                try:
                    worker.process.stdin.write(job.model_dump_json().encode() + b"\n")
                    worker.process.stdin.flush()
                except OSError:
                    pass  # the worker is dead: its sentinel tells next_result, which re-queues the job

    def next_result(self) -> ChildResult:
        while True:
            self._dispatch()
            busy = [w for w in self.workers if w.job is not None]
            if not busy:
                raise RuntimeError("next_result() with no child submitted")
            ready = wait([w.process.stdout for w in busy], self._wait_s(busy))
            for worker in busy:
                result = self._collect(worker, ready)
                if result is not None:
                    return result

    def _wait_s(self, busy: list[_Worker]) -> float | None:
        if not self.config.child_timeout:
            return None
        now = time.perf_counter()
        return max(0.0, min(w.started + self.config.child_timeout - now for w in busy))

    def _collect(self, worker: _Worker, ready: list) -> ChildResult | None:
        """The result `worker` has for us, a failure if it died or hung for good, else None."""
        job, elapsed = worker.job, time.perf_counter() - worker.started
        if worker.process.stdout in ready:
            line = worker.process.stdout.readline()  # one result per job: nothing else is buffered
            if line:
                worker.job = None
                return ChildResult.model_validate_json(line)
            reason = self._replace(worker)  # end of file: the worker died
            return self.queue.lost(job, reason, elapsed, self.config.max_tries)
        if self.config.child_timeout and elapsed >= self.config.child_timeout:
            self._replace(worker)
            return failed_result(job, f"timed out after {self.config.child_timeout:g} s", elapsed)
        return None

    def _replace(self, worker: _Worker) -> str:
        """Stop `worker` for good (if it still runs) and start a fresh one in its place."""
        stop_process(worker.process)
        self.workers[self.workers.index(worker)] = self._spawn(worker.device)
        return death_reason(worker.process.returncode)

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.process.stdin.close()  # end of jobs: an idle worker exits
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for worker in self.workers:
            try:
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass  # still training a child nobody will record
            stop_process(worker.process)
        self.workers = []


def worker_command(spec: DataSpec, threads: int, parent_pid: int) -> list[str]:
    """How a worker starts: through worker_boot.py (see there), with the data, threads and the plugins
    the search loaded."""
    return worker_boot.command("child-worker", parent_pid, spec.model_dump_json(), str(threads),
                               json.dumps(loaded_refs()))
