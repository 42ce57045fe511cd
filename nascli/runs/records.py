"""The records of a run database, as the store returns them: children, controller steps, run summaries."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

# refused: over a --max-params/--max-macs/--max-latency limit, never trained (its cost and reason recorded)
Status = Literal["pending", "running", "done", "failed", "refused"]
STATUSES: tuple[str, ...] = ("pending", "running", "done", "failed", "refused")


class ChildRecord(BaseModel):
    """One row of `children`: a sampled architecture and, once trained, its result."""

    model_config = ConfigDict(frozen=True)
    id: int
    step: int  # controller step (batch) that sampled it
    depth: int | None  # layers at sampling time; None for spaces without a depth schedule
    tokens: str
    arch_json: str
    status: Status
    reward: float | None = None
    metric: float | None = None  # validation accuracy or perplexity, see metric_name
    metric_name: str | None = None
    params: int | None = None
    macs: int | None = None
    seconds: float | None = None
    error: str | None = None
    created: float
    finished: float | None = None
    log_prob: float | None = None  # log-probability under the policy that sampled it (None: random search)
    device: str | None = None  # where it trained (None: runs older than schema 2)
    rung: int | None = None  # with --rungs: the highest rung it finished (its reward and metric are that rung's)
    latency_ms: float | None = None  # measured before training, when a --max-latency search needs it

    @model_validator(mode="after")
    def _finished_children_have_results(self) -> ChildRecord:
        missing = [name for name in (_RESULT_FIELDS.get(self.status, ())) if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.status} child without {', '.join(missing)}")
        return self


_RESULT_FIELDS = {"done": ("reward", "metric", "metric_name", "params", "macs", "seconds"), "failed": ("reward",),
                  "refused": ("error",)}


class RungRecord(BaseModel):
    """One row of `rungs` (runs/rung_rows.py): a child's training up to the end of one rung."""

    model_config = ConfigDict(frozen=True)
    child_id: int
    rung: int
    epochs: int  # trained by the end of this rung
    status: Literal["running", "done", "failed"]
    reward: float | None = None
    metric: float | None = None
    seconds: float | None = None  # this rung's own time (a benchmark's: its simulated cost)
    error: str | None = None
    started: float
    finished: float | None = None


class StepRecord(BaseModel):
    """One controller update, for the history plots."""

    model_config = ConfigDict(frozen=True)
    step: int
    baseline: float | None
    mean_reward: float | None
    loss: float | None
    entropy: float | None
    depth: int | None
    time: float


class EpochRecord(BaseModel):
    """One ENAS epoch: the shared weights' training loss, the controller's rewards and entropy."""

    model_config = ConfigDict(frozen=True)
    epoch: int
    shared_loss: float | None
    valid_reward: float | None  # mean validation-minibatch reward of the epoch's controller steps
    entropy: float | None  # mean entropy of the controller's samples (summed over decisions)
    baseline: float | None
    lr: float | None
    seconds: float | None  # the epoch's wall time
    controller_seconds: float | None  # of which the controller's sampling and updates
    time: float
    # children over a hard limit (docs/budgets.md), None for a run without limits: draws refused and drawn
    # again for the training minibatches, and controller samples given --refused-reward
    refused_shared: int | None = None
    refused_controller: int | None = None


class RunSummary(BaseModel):
    """One line of `nascli runs`.

    `state` is the recorded run state, except that a 'running' run whose process
    is gone (killed before it could record anything) reads 'stopped', and a run
    that cannot be read reads 'corrupt' with the reason in `problem`.
    """

    name: str
    path: Path
    state: str
    space: str | None = None
    strategy: str | None = None
    counts: dict[str, int] = {}
    samples: int = 0
    best_reward: float | None = None
    best_tokens: str | None = None
    created: float | None = None
    updated: float | None = None
    problem: str | None = None
