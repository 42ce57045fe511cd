"""The `ray` backend: each child a Ray task, on this machine or a Ray cluster.

Ray is an optional extra (`pip install 'nascli[ray]'`), imported only here. With
no address a local Ray instance starts (and stops with the search); with one
(`--address auto`, `ray://head:10001`) the search joins that cluster.

- The dataset goes into Ray's object store once (`ray.put`); every task reads it
  from there instead of loading it again.
- Each task declares its resources: `cpus_per_child` CPUs (its torch threads)
  and `gpus_per_child` GPUs (a fraction lets children share a GPU; Ray then
  sets CUDA_VISIBLE_DEVICES, so the task trains on "cuda").
- A worker or node that dies mid-child: Ray runs the task again (`max_retries`
  = max_tries - 1, Ray's own retries for system failures); when those run out
  the child is recorded failed with Ray's reason. Nothing recorded is touched:
  results come back here, and only the search process writes the run store.
- `child_timeout`: a task still running then is cancelled with force (its
  worker process is killed) and the child recorded failed.
"""

from __future__ import annotations

import time
from collections import deque

from ..data import Data
from ..errors import RunError
from ..plugins import loaded_refs
from .evaluate import ChildJob, ChildResult, run_child
from .executor import Executor, ExecutorConfig, failed_result


def _train_task(job_json: str, data: Data, threads: int, plugins: tuple[str, ...]) -> str:
    """One child, inside a Ray worker; JSON in and out, like the process backend."""
    import torch

    from ..plugins import load_plugins

    torch.set_num_threads(threads)
    load_plugins(list(plugins))  # a Ray worker starts without the search's plugin ops
    return run_child(ChildJob.model_validate_json(job_json), data).model_dump_json()


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RunError("--backend ray needs Ray: pip install 'nascli[ray]'") from None
    return ray


class RayExecutor(Executor):
    """Up to `workers` children at once as Ray tasks."""

    def __init__(self, data: Data, config: ExecutorConfig, workers: int, device: str):
        self.ray = ray = _import_ray()
        self.config, self.capacity = config, workers
        self.started_ray = not ray.is_initialized()
        if self.started_ray:
            try:
                ray.init(address=config.address, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as err:
                raise RunError(f"cannot start or reach Ray: {err}", where=config.address) from None
        self.device = "cuda" if config.gpus_per_child > 0 else device  # Ray picks the GPU for each task
        self.data_ref = ray.put(data)
        self.threads = config.cpus_per_child or 1
        self.task = ray.remote(_train_task).options(
            num_cpus=self.threads, num_gpus=config.gpus_per_child,
            max_retries=config.max_tries - 1, retry_exceptions=False)
        self.queue: deque[ChildJob] = deque()
        self.running: dict = {}  # ObjectRef -> (job, start time)

    def submit(self, job: ChildJob) -> None:
        self.queue.append(job.model_copy(update={"device": self.device}))

    @property
    def in_flight(self) -> int:
        return len(self.queue) + len(self.running)

    def _dispatch(self) -> None:
        while self.queue and len(self.running) < self.capacity:
            job = self.queue.popleft()
            ref = self.task.remote(job.model_dump_json(), self.data_ref, self.threads, loaded_refs())
            self.running[ref] = (job, time.perf_counter())

    def next_result(self) -> ChildResult:
        self._dispatch()
        if not self.running:
            raise RuntimeError("next_result() with no child submitted")
        while True:
            ready, _ = self.ray.wait(list(self.running), num_returns=1, timeout=self._wait_s())
            if ready:
                return self._collect(ready[0])
            expired = self._expired()
            if expired is not None:
                return expired

    def _wait_s(self) -> float | None:
        if not self.config.child_timeout:
            return None
        now = time.perf_counter()
        return max(0.0, min(start + self.config.child_timeout - now for _, start in self.running.values()))

    def _collect(self, ref) -> ChildResult:
        job, start = self.running.pop(ref)
        try:
            return ChildResult.model_validate_json(self.ray.get(ref))
        except self.ray.exceptions.RayError as err:  # the worker or node died, every retry included
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            return failed_result(job, f"Ray worker died ({type(err).__name__}): {reason}"[:500],
                                 time.perf_counter() - start)

    def _expired(self) -> ChildResult | None:
        now = time.perf_counter()
        for ref, (job, start) in list(self.running.items()):
            if now - start >= self.config.child_timeout:
                self.ray.cancel(ref, force=True)  # kills the worker process running it
                del self.running[ref]
                return failed_result(job, f"timed out after {self.config.child_timeout:g} s", now - start)
        return None

    def close(self) -> None:
        for ref in self.running:
            self.ray.cancel(ref, force=True)
        self.running.clear()
        if self.started_ray:
            self.ray.shutdown()
