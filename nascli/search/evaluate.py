"""One child, start to finish: build -> train -> reward. The unit of work an executor runs.

A child that crashes, runs out of memory or diverges becomes a `failed` result
with its error and the configured reward, so that the search goes on; one whose
estimated memory exceeds the device's fails so before it is built.
"""

from __future__ import annotations

import base64
import math
import time
from typing import Annotated, Literal

import torch
from pydantic import BaseModel, BeforeValidator, PlainSerializer

from ..arch import Architecture
from ..children import ChildConfig, build_child, check_child_memory, profile_child
from ..children.check import failure_message
from ..data import Data, LabelledSplits
from ..errors import ChildError
from ..runs import RunStore
from ..runs.crashpoints import crash_point
from ..train import RewardConfig, TrainConfig, fit_image, fit_language, image_reward, language_reward
from ..train.loops import EpochSpan
from .rung_state import state_bytes, state_from_bytes


# Bytes here, base64 text in JSON (the process and Ray backends send jobs and results as JSON lines).
StateBytes = Annotated[bytes, BeforeValidator(lambda v: base64.b64decode(v) if isinstance(v, str) else v),
                       PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), when_used="json")]


class RungSpan(BaseModel):
    """With --rungs: which rung a job trains, epochs [start, stop) of `train.epochs`, from `state`."""

    rung: int
    start: int
    stop: int
    state: StateBytes | None = None  # the training state at `start` (rung_state.py); None: a new child
    keep_state: bool = True  # return the state at `stop` (not at the top rung: nothing continues from it)


class ChildJob(BaseModel):
    child_id: int
    arch: Architecture
    train: TrainConfig
    reward: RewardConfig
    child: ChildConfig
    device: str = "cpu"  # set by the executor that runs it (a worker's GPU, say)
    span: RungSpan | None = None  # None: the whole training at once (no rungs)

    @property
    def rung(self) -> int | None:
        return self.span.rung if self.span else None


class ChildResult(BaseModel):
    child_id: int
    status: Literal["done", "failed"]
    reward: float
    metric: float | None = None
    metric_name: str | None = None
    params: int | None = None
    macs: int | None = None
    seconds: float
    error: str | None = None
    device: str | None = None  # where it trained
    rung: int | None = None  # the job's rung (None: no rungs)
    state: StateBytes | None = None  # the training state at the end of the rung, to continue from


def _epoch_span(job: ChildJob) -> EpochSpan | None:
    if job.span is None:
        return None
    state = state_from_bytes(job.span.state) if job.span.state is not None else None
    return EpochSpan(job.span.start, job.span.stop, state)


def run_child(job: ChildJob, data: Data) -> ChildResult:
    """Build and train `job.arch` on `data` (its rung only, continuing from its state, with a span);
    never raises for a bad child."""
    start = time.perf_counter()
    params = macs = None
    try:
        cfg = job.train.with_hyper(job.arch.hyper).model_copy(update={"seed": job.train.seed + job.child_id})
        examples = cfg.step_examples(language=not isinstance(data, LabelledSplits))
        check_child_memory(job.arch, data.task, job.child, examples, job.device)  # before it is built
        torch.manual_seed(job.train.seed + job.child_id)
        model = build_child(job.arch, data.task, job.child)
        profile = profile_child(model, data.task)
        params, macs = profile.params, profile.macs
        span = _epoch_span(job)
        if isinstance(data, LabelledSplits):  # images or table rows: classification
            hist = fit_image(model, (data.train_x, data.train_y), (data.valid_x, data.valid_y), cfg, job.device,
                             span)
            metric, reward = image_reward(hist.metric, job.reward)
            name = "valid_accuracy"
        else:
            hist = fit_language(model, data.train, data.valid, cfg, job.device, span)
            metric, reward = language_reward(hist.metric, job.reward)
            name = "valid_perplexity"
        if not math.isfinite(reward):
            raise ChildError(f"diverged: validation {name} is {metric}")
        keep = job.span is not None and job.span.keep_state
        return ChildResult(child_id=job.child_id, status="done", reward=reward, metric=metric, metric_name=name,
                           params=params, macs=macs, seconds=time.perf_counter() - start, device=job.device,
                           rung=job.rung, state=state_bytes(hist.state) if keep else None)
    except Exception as err:  # noqa: BLE001 - any child failure is recorded, the search goes on
        return ChildResult(child_id=job.child_id, status="failed", reward=job.reward.failed, params=params,
                           macs=macs, seconds=time.perf_counter() - start, error=failure_message(err),
                           device=job.device, rung=job.rung)


def record_result(store: RunStore, result: ChildResult, rung_epochs: int | None = None) -> None:
    """Write a scored child's row (done or failed), with its first rung's row when the search has rungs
    (`rung_epochs`: that rung's); the `child_finish` crash point sits just before."""
    crash_point("child_finish")
    if result.status == "done":
        store.finish_child(result.child_id, result.reward, result.metric, result.metric_name,
                           result.params, result.macs, result.seconds, result.device, rung_epochs)
    else:
        store.fail_child(result.child_id, result.error, result.reward, result.seconds, result.device, rung_epochs)
