"""The ray backend's Ray driver: a process of its own between the search and Ray.

Why not drive Ray from the search process: Ray ends its driver process itself (a C++
exit, no Python exception) when the node it is attached to dies, and a node dies with
its raylet and with either of the raylet's agents. Driven from the search process, a
dead node or agent ended the search with exit 1, no error line, and its children left
running. Here only this process ends; the search (ray_executor.py) sees its pipe close,
counts one run of each child in flight, and starts another driver.

The driver is started through worker_boot.py, so it dies with the search. It speaks
JSON lines: on stdin, one `ChildJob` per child; on stdout, first `{"phase":
"connecting"}` (Ray is imported), then `{"ready": ..., "capacity": N, "note": ...}`
or `{"error": ...}`, then per child `{"result": ChildResult}` or, where Ray lost the
run (its worker or node died), `{"lost": child_id, "reason": ...}`; where this driver's own raylet died, the driver
ends at once (every child in flight costs one run, as when Ray ends it). Ray's own task
retries are off (`max_retries=0`): every lost run is counted by the search, as the
process backend counts a dead worker's. Anything else printed goes to stderr.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time

from ..data import Data
from ..data.spec import DataSpec
from ..errors import RunError
from ..plugins import load_plugins
from .evaluate import ChildJob, run_child
from .executor import ExecutorConfig, bounded_workers, failed_result

POLL_S = 0.2  # how often the driver looks for new jobs while children train


def _train_task(job_json: str, data: Data, threads: int, plugins: tuple[str, ...]) -> str:
    """One child, inside a Ray worker; JSON in and out, like the process backend."""
    import torch

    torch.set_num_threads(threads)
    load_plugins(list(plugins))  # a Ray worker starts without the search's plugin ops
    return run_child(ChildJob.model_validate_json(job_json), data).model_dump_json()


def cluster_slots(ray, config: ExecutorConfig) -> dict[str, int]:
    """How many children the cluster's CPUs (and GPUs) fit at once, as it is now (an autoscaling cluster
    may grow later; Ray queues what does not fit); a RunError where not even one fits."""
    have = ray.cluster_resources()
    need = {"CPU": float(config.cpus_per_child or 1), "GPU": config.gpus_per_child}
    slots = {}
    for kind, each in need.items():
        if each > 0:
            count = int(have.get(kind, 0) // each)
            if count == 0:
                raise RunError(f"the Ray cluster has {have.get(kind, 0):g} {kind}s; a child needs {each:g} "
                               f"(--{kind.lower()}s-per-child)", where=config.address or "local Ray")
            slots[f"the Ray cluster has {have[kind]:g} {kind}s, {each:g} per child"] = count
    return slots


class Driver:
    """Children as Ray tasks: what stdin sends is submitted at once; results go to `say` as they come."""

    def __init__(self, ray, config: ExecutorConfig, data: Data, plugins: tuple[str, ...], say):
        self.ray, self.config, self.say, self.plugins = ray, config, say, plugins
        self.threads = config.cpus_per_child or 1
        self.data_ref = ray.put(data)
        self.task = ray.remote(_train_task).options(num_cpus=self.threads, num_gpus=config.gpus_per_child,
                                                    max_retries=0, retry_exceptions=False)
        self.running: dict = {}  # ObjectRef -> (job, start time)

    def serve(self, jobs: queue.Queue) -> None:
        """Until stdin ends: take new jobs, report each finished, lost or timed-out child."""
        while True:
            try:
                while True:  # block only when nothing trains
                    line = jobs.get(block=not self.running, timeout=None if not self.running else 0)
                    if line is None:
                        return
                    job = ChildJob.model_validate_json(line)
                    ref = self.task.remote(job.model_dump_json(), self.data_ref, self.threads, self.plugins)
                    self.running[ref] = (job, time.perf_counter())
            except queue.Empty:
                pass
            ready, _ = self.ray.wait(list(self.running), num_returns=len(self.running), timeout=POLL_S)
            for ref in ready:
                self.say(**self._outcome(ref))
            self._expire()

    def _outcome(self, ref) -> dict:
        job, start = self.running.pop(ref)
        try:
            return {"result": self.ray.get(ref)}
        except self.ray.exceptions.LocalRayletDiedError:
            # This driver's own node is gone: Ray ends the process some 15 s later, and until then fails every
            # child sent again at once, each failure a run counted. End now instead, so that the search counts
            # one run of each child in flight and starts a new driver (ray_executor.py's `_driver_died`).
            os._exit(1)  # not ray.shutdown(): it can hang on a dead raylet
        except self.ray.exceptions.RayError as err:  # its worker or node died, or Ray could not run it
            text = str(err).strip()
            reason = text.splitlines()[0] if text else type(err).__name__
            return {"lost": job.child_id, "reason": f"Ray lost the child ({type(err).__name__}): {reason}"[:500],
                    "seconds": time.perf_counter() - start}

    def _expire(self) -> None:
        timeout, now = self.config.child_timeout, time.perf_counter()
        for ref, (job, start) in list(self.running.items()) if timeout else []:
            if now - start >= timeout:
                self.ray.cancel(ref, force=True)  # kills the worker process running it
                del self.running[ref]
                self.say(result=failed_result(job, f"timed out after {timeout:g} s", now - start).model_dump_json())

    def close(self) -> None:
        for ref in self.running:
            self.ray.cancel(ref, force=True)
        self.running.clear()


def _stdin_lines() -> queue.Queue:
    """stdin's lines, read by a thread (the main thread waits on Ray); None once it ends."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True, name="jobs").start()
    return lines


def driver_main(config_json: str, spec_json: str, workers: str, limits_json: str, plugins_json: str) -> None:
    """The driver's life: import Ray, start or join it, load the data once, then serve the search's jobs."""
    results = os.fdopen(os.dup(1), "w", buffering=1)  # the pipe to the search: only messages go there
    os.dup2(2, 1)  # anything Ray or a plugin prints goes to stderr

    def say(**message) -> None:
        results.write(json.dumps(message) + "\n")

    config = ExecutorConfig.model_validate_json(config_json)
    try:
        import ray
    except ImportError:
        return say(error="--backend ray needs Ray: pip install 'nascli[ray]'")
    say(phase="connecting")
    try:
        ray.init(address=config.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        return say(error=f"cannot start or reach Ray: {err}")
    try:
        plugins = tuple(json.loads(plugins_json))
        load_plugins(list(plugins))
        capacity, note = bounded_workers(int(workers), {**json.loads(limits_json), **cluster_slots(ray, config)})
        driver = Driver(ray, config, DataSpec.model_validate_json(spec_json).load(), plugins, say)
    except RunError as err:
        ray.shutdown()
        return say(error=str(err))
    say(ready=True, capacity=capacity, note=note)
    try:
        driver.serve(_stdin_lines())
    finally:
        driver.close()
        ray.shutdown()
