"""The benchmark backend (`--benchmark nb201`): children looked up in a table, not trained.

An executor like the others (executor.py), so the search loop, the
asynchronous loop, resume and the crash points are the same code for a
benchmark search as for a real one; only what a job turns into differs. A
child's result is the table's validation accuracy at the configured fidelity,
as a fraction (as images report theirs), its reward that to `--reward-power`
(3 by default, as the paper's images), its size (parameters; multiply-adds
from the table's derived column) and, as its `seconds`, the simulated training
time the query charges. The table's test columns are never read here
(benchmarks/query.py).
"""

from __future__ import annotations

from collections import deque

from ..benchmarks.query import BenchmarkConfig, BenchmarkQuery
from .evaluate import ChildJob, ChildResult
from .executor import Executor

DEVICE = "table"  # what a looked-up child's row gives as the device it "trained" on


class BenchmarkExecutor(Executor):
    """Answers each child from the table in this process, in submission order."""

    def __init__(self, config: BenchmarkConfig):
        self.query = BenchmarkQuery(config)
        self.queue: deque[ChildJob] = deque()

    def submit(self, job: ChildJob) -> None:
        self.queue.append(job)

    @property
    def in_flight(self) -> int:
        return len(self.queue)

    def cost(self, job: ChildJob) -> float:
        """The simulated seconds `job`'s query will charge, known before it is made. A rung's: the training
        from its start to its end, e.g. a promotion from 12 to 200 epochs charges the remaining 188/200."""
        if job.span is None:
            return self.query.cost(job.arch)
        done = self.query.cost(job.arch, job.span.start) if job.span.start else 0.0
        return self.query.cost(job.arch, job.span.stop) - done

    def next_result(self) -> ChildResult:
        job = self.queue.popleft()
        seen = self.query.observe(job.arch, job.train.seed, job.child_id, job.span.stop if job.span else None)
        accuracy = seen.valid / 100
        return ChildResult(child_id=job.child_id, status="done", reward=accuracy ** job.reward.power,
                           metric=accuracy, metric_name="valid_accuracy",
                           params=round((seen.params_m or 0.0) * 1e6), macs=round((seen.flops_m or 0.0) * 1e6),
                           seconds=self.cost(job), device=DEVICE, rung=job.rung)
