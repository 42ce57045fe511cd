"""Measured latency of a child for its model card: the median of timed forward passes after warm-up.

One forward pass of a batch (a sequence of `steps` tokens for a language
model) in eval mode, without gradients, on the CPU, on as many threads as
torch uses; the card states all of it, and the load average when measured,
because other work on the machine slows every pass.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..data.base import ImageTask, LanguageTask, TabularTask, Task


@dataclass(frozen=True)
class LatencyConfig:
    batch: int = 1
    steps: int = 35  # a language model's sequence length (the trainer's bptt)
    warmup: int = 3
    repeats: int = 20


@dataclass(frozen=True)
class Latency:
    runtime: str  # "PyTorch 2.13.0" or "onnxruntime 1.22.0"
    median_ms: float
    batch: int
    steps: int | None  # language models: tokens per stream
    warmup: int
    repeats: int
    threads: int
    load_average: float | None  # 1-minute load average when measured (None where the OS has none)
    device: str = "cpu"


def median_seconds(call: Callable[[], object], warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timing_inputs(model: nn.Module, task: Task, config: LatencyConfig) -> tuple[Tensor, ...]:
    """The graph's inputs for one timed pass: zeros of the batch's shape, and a fresh state."""
    b = config.batch
    if isinstance(task, ImageTask):
        return (torch.zeros(b, task.channels, task.height, task.width),)
    if isinstance(task, TabularTask):
        return (torch.zeros(b, task.features),)
    assert isinstance(task, LanguageTask)
    state = model.init_state(b)
    return (torch.zeros(config.steps, b, dtype=torch.long), *(state if isinstance(state, tuple) else (state,)))


def call_child(model: nn.Module, inputs: tuple[Tensor, ...]):
    """`model` on the graph's inputs: `model(x)`, or `model(tokens, state)` with the state re-packed."""
    if len(inputs) == 1:
        return model(inputs[0])
    state = inputs[1:]
    return model(inputs[0], state if len(state) > 1 else state[0])


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def measure(runtime: str, call: Callable[[], object], task: Task, config: LatencyConfig, threads: int) -> Latency:
    seconds = median_seconds(call, config.warmup, config.repeats)
    return Latency(runtime, seconds * 1000, config.batch, config.steps if isinstance(task, LanguageTask) else None,
                   config.warmup, config.repeats, threads, load_average())


def torch_latency(model: nn.Module, task: Task, config: LatencyConfig = LatencyConfig()) -> Latency:
    """`model`'s forward latency in PyTorch (eval mode, no gradients); the model's mode is put back."""
    inputs = timing_inputs(model, task, config)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return measure(f"PyTorch {torch.__version__}", lambda: call_child(model, inputs), task, config,
                           torch.get_num_threads())
    finally:
        model.train(was_training)
