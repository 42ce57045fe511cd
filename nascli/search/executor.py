"""Executors: where children are trained. One interface, `map(jobs)`, yielding results
as they finish; the search loop neither knows nor cares which one stands behind it.

`InlineExecutor` trains in this process, one child after another. `ProcessExecutor`
trains N children at once in worker processes that each load the data once. A Ray
executor (parallel children on a cluster) implements the same two methods.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
from typing import Iterator, Protocol, Sequence

import torch

from ..data import ImageData, TextData
from ..data.spec import DataSpec
from ..plugins import load_plugins, loaded_refs
from .evaluate import ChildJob, ChildResult, run_child


class Executor(Protocol):
    def map(self, jobs: Sequence[ChildJob]) -> Iterator[ChildResult]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """Children trained one at a time in this process, on data loaded once."""

    def __init__(self, data: ImageData | TextData):
        self.data = data

    def map(self, jobs: Sequence[ChildJob]) -> Iterator[ChildResult]:
        for job in jobs:
            yield run_child(job, self.data)

    def close(self) -> None:
        pass


_WORKER_DATA: ImageData | TextData | None = None


def _init_worker(spec: DataSpec, threads: int, plugins: tuple[str, ...]) -> None:
    global _WORKER_DATA  # one dataset per worker process, loaded once
    torch.set_num_threads(threads)
    load_plugins(list(plugins))  # a spawned process starts without the parent's plugin ops
    _WORKER_DATA = spec.load()


def _run_in_worker(job: ChildJob) -> ChildResult:
    return run_child(job, _WORKER_DATA)


class ProcessExecutor:
    """`workers` children at once in spawned processes sharing the cores between them."""

    def __init__(self, spec: DataSpec, workers: int):
        threads = max(1, (os.cpu_count() or 1) // workers)
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                           initializer=_init_worker, initargs=(spec, threads, loaded_refs()))

    def map(self, jobs: Sequence[ChildJob]) -> Iterator[ChildResult]:
        futures = [self.pool.submit(_run_in_worker, job) for job in jobs]
        try:
            for future in cf.as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def make_executor(spec: DataSpec, data: ImageData | TextData, workers: int) -> Executor:
    return InlineExecutor(data) if workers <= 1 else ProcessExecutor(spec, workers)
