"""The `ray` backend: each child a Ray task, on this machine or a Ray cluster.

Ray is an optional extra (`pip install 'nascli[ray]'`). The search process never
imports it: a Ray driver process of its own (ray_driver.py, which says why) starts
or joins Ray and submits the tasks; this executor sends it jobs and reads back
results, one JSON line each. With no address a local Ray instance starts (and
stops with the driver); with one (`--address auto`, `head:6379`, `ray://head:10001`)
the driver joins that cluster.

- Connecting is bounded: an address whose host does not take a TCP connection
  within `CONNECT_TIMEOUT_S` is refused at once, and a driver that has not joined
  the cluster `CONNECT_TIMEOUT_S` after importing Ray is stopped; both are a
  RunError (exit 2) naming the address. A local instance gets `LOCAL_START_S`.
- The dataset goes into Ray's object store once (`ray.put`, in the driver); every
  task reads it from there. Each task declares `cpus_per_child` CPUs (its torch
  threads) and `gpus_per_child` GPUs (fractions share a GPU; Ray then sets
  CUDA_VISIBLE_DEVICES, so the task trains on "cuda").
- A run that Ray loses (its worker killed, its node dead) costs one of the child's
  `max_tries` runs, as a dead worker does on the process backend; so does the
  driver dying, which Ray does when the driver's node, its raylet or one of the
  raylet's agents dies: every child in flight is counted and sent again to a new
  driver (a new local instance, or the cluster joined again). When its runs are
  spent the child is recorded failed with the reason. Nothing recorded is touched:
  only the search process writes the run store.
- `child_timeout`: the driver cancels a task still running then with force (its
  worker process is killed), and the child is recorded failed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
from collections import deque
from multiprocessing.connection import wait
from pathlib import Path

from ..data.spec import DataSpec
from ..errors import RunError
from ..plugins import loaded_refs
from . import worker_boot
from .evaluate import ChildJob, ChildResult
from .executor import Executor, ExecutorConfig, JobQueue, child_env, death_reason, stop_process

CONNECT_TIMEOUT_S = 15.0  # to reach a cluster's address, and for the driver to join it
LOCAL_START_S = 180.0  # for the driver to import Ray and start a local instance (slow on a loaded machine)
IMPORT_S = 120.0  # for the driver to import Ray before it connects


class RayExecutor(Executor):
    """Up to `workers` children at once as Ray tasks, through a Ray driver process."""

    def __init__(self, spec: DataSpec, config: ExecutorConfig, workers: int, device: str,
                 limits: dict[str, int] | None = None):
        self.spec, self.config, self.workers, self.limits = spec, config, workers, dict(limits or {})
        self.device = "cuda" if config.gpus_per_child > 0 else device  # Ray picks the GPU for each task
        self.queue = JobQueue()
        self.sent: dict[int, tuple[ChildJob, float]] = {}  # child id -> (job, sent at)
        self.decided: deque[ChildResult] = deque()  # failures decided when a driver died, not yet returned
        self.log = Path(tempfile.gettempdir()) / f"nascli-ray-{os.getpid()}.log"  # the drivers' stderr
        self.keep_log = False  # kept once a driver died or failed to start, else removed on close
        probe(config.address)
        self.driver = self._start()

    def _start(self) -> subprocess.Popen:
        """A new driver, ready (capacity and note set); a RunError (exit 2) where Ray cannot be reached."""
        command = worker_boot.command("ray-driver", os.getpid(), self.config.model_dump_json(),
                                      self.spec.model_dump_json(), str(self.workers), json.dumps(self.limits),
                                      json.dumps(loaded_refs()))
        with open(self.log, "ab") as log:  # Ray's own messages, kept out of the search's output
            # unbuffered: a line must not wait in a buffer while `wait` watches the pipe for more
            driver = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                      process_group=0, env=child_env(), bufsize=0)
        try:
            self._read(driver, IMPORT_S, "import Ray")
            joining = self.config.address is not None
            ready = self._read(driver, CONNECT_TIMEOUT_S if joining else LOCAL_START_S,
                               f"join the Ray cluster at {self.config.address}" if joining else "start a local Ray instance")
        except BaseException:
            stop_process(driver)
            self.keep_log = True
            raise
        self.capacity, self.note = ready["capacity"], ready["note"]
        return driver

    def _read(self, driver: subprocess.Popen, seconds: float, doing: str) -> dict:
        """The driver's next message during start-up, within `seconds`."""
        if not wait([driver.stdout], seconds):
            raise RunError(f"timed out: could not {doing} within {seconds:g} s", where=self.config.address)
        line = driver.stdout.readline()
        if not line:
            raise RunError(f"Ray's driver process {death_reason(driver.wait()).removeprefix('worker ')} while trying "
                           f"to {doing} (Ray's messages are in {self.log})", where=self.config.address)
        message = json.loads(line)
        if "error" in message:
            raise RunError(message["error"], where=self.config.address)
        return message

    def submit(self, job: ChildJob) -> None:
        self.queue.jobs.append(job.model_copy(update={"device": self.device}))

    @property
    def in_flight(self) -> int:
        return len(self.queue.jobs) + len(self.sent) + len(self.decided)

    def _dispatch(self) -> None:
        while self.queue.jobs and len(self.sent) < self.capacity:
            job = self.queue.take()
            self.sent[job.child_id] = (job, time.perf_counter())
            try:
                self.driver.stdin.write(job.model_dump_json().encode() + b"\n")
                self.driver.stdin.flush()
            except OSError:
                return  # the driver is dead: its pipe's end of file tells next_result

    def next_result(self) -> ChildResult:
        while True:
            if self.decided:
                return self.decided.popleft()
            self._dispatch()
            if not self.sent:
                raise RuntimeError("next_result() with no child submitted")
            wait([self.driver.stdout])  # the driver itself stops children past the timeout
            line = self.driver.stdout.readline()
            if not line:
                self._driver_died()
                continue
            message = json.loads(line)
            if "result" in message:
                result = ChildResult.model_validate_json(message["result"])
                del self.sent[result.child_id]
                return result
            job, _ = self.sent.pop(message["lost"])
            lost = self.queue.lost(job, message["reason"], message["seconds"], self.config.max_tries)
            if lost is not None:
                return lost

    def _driver_died(self) -> None:
        """Count one run of each child in flight, then start a new driver to run them again."""
        stop_process(self.driver)
        self.keep_log = True
        reason = (f"Ray's driver process {death_reason(self.driver.returncode).removeprefix('worker ')} (Ray "
                  "ends it when its node, raylet or an agent dies)")
        now = time.perf_counter()
        for job, sent in sorted(self.sent.values(), key=lambda item: -item[0].child_id):  # oldest first, again
            lost = self.queue.lost(job, reason, now - sent, self.config.max_tries)
            if lost is not None:
                self.decided.append(lost)
        self.sent.clear()
        try:
            self.driver = self._start()
        except RunError as err:  # the search stops (exit 2); the run resumes like any stopped one
            raise RunError(f"{reason}, and a new one did not start: {err.message}", where=err.where) from None

    def close(self) -> None:
        try:
            self.driver.stdin.close()  # end of jobs: the driver cancels what runs and stops Ray
        except OSError:
            pass
        try:
            self.driver.wait(30)
        except subprocess.TimeoutExpired:
            pass
        stop_process(self.driver)
        if not self.keep_log:
            self.log.unlink(missing_ok=True)


def probe(address: str | None) -> None:
    """A RunError (exit 2) unless `address` (`host:port` or `ray://host:port`) takes a TCP connection
    within CONNECT_TIMEOUT_S: an unreachable cluster is refused at once instead of after Ray's retries.
    No address (a local instance) and `auto` (the cluster Ray finds on this machine) are not probed."""
    if address is None or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RunError("a Ray address is host:port, ray://host:port or auto", where=address)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        why = f"no answer within {CONNECT_TIMEOUT_S:g} s" if isinstance(err, TimeoutError) else \
            (err.strerror or type(err).__name__).lower()
        raise RunError(f"cannot reach the Ray cluster: {why}", where=address) from None
