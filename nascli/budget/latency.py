"""Latency of a child: forward passes timed in rounds after warm-up, on one device.

A loaded machine only ever makes a pass slower, never faster: another process
takes the core (the pass waits), or its cache (the pass computes longer). On
this project's 2-core test machine at a load of 3-7, most wall-clock passes of
a 4 ms child were pre-empted (their median 2-3x the fastest), so two measures:

- On the CPU with one thread (the default) a pass is timed on the **thread's CPU
  clock** (`time.thread_time`): pinned to one intra-op thread, torch runs the
  whole forward pass on the calling thread, so that clock counts its work and
  not the time it waited for a core, which is the search machine's load and not
  the child's cost (at a load of 7, a child's fastest pass was 3.02 ms on both clocks). On
  CUDA, or with more threads, the wall clock.
- Each round of `repeats` timed passes keeps its fastest (what the cache left
  alone), and a child's figure is the **median of the rounds' fastest passes**:
  one round the load never left alone, or one freak fast pass, does not move it.

The spread of the rounds is the measurement's own uncertainty: a search accepts
a child under `--max-latency` only when the **slowest** round's best pass is
within the limit (`Timing.high_ms`, budget/cost.py), so a child is not let
through on one lucky round.

`warmup` untimed passes come first (allocator, oneDNN kernels chosen), torch's
intra-op threads are pinned to `threads` for the measurement so that the figure
does not depend on what else the process was doing, and CUDA is synchronised
around each pass. The conditions are stated with every figure (docs/budgets.md).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..arch import Architecture
from ..children import ChildConfig, build_child
from ..data.base import ImageTask, TabularTask, Task


@dataclass(frozen=True)
class LatencyConfig:
    batch: int = 1
    warmup: int = 3
    rounds: int = 3
    repeats: int = 10  # timed passes per round, of which the fastest is kept
    threads: int = 1


@dataclass(frozen=True)
class Timing:
    """The fastest pass (ms) of each round."""

    round_ms: tuple[float, ...]

    @property
    def ms(self) -> float:
        """The figure: the median of the rounds' fastest passes."""
        return statistics.median(self.round_ms)

    @property
    def high_ms(self) -> float:
        """The slowest round's fastest pass: what --max-latency is checked against."""
        return max(self.round_ms)


def batch_input(task: Task, batch: int, device: str) -> tuple:
    """Zero inputs of `batch` examples in the child's layout (images or table rows)."""
    if isinstance(task, ImageTask):
        return (torch.zeros(batch, task.channels, task.height, task.width, device=device),)
    if isinstance(task, TabularTask):
        return (torch.zeros(batch, task.features, device=device),)
    raise ValueError("latency is measured for image and tabular children")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def pass_clock(device: str, config: LatencyConfig) -> Callable[[], float]:
    """The clock a pass is timed on: the thread's CPU time on the CPU with one thread, else the wall clock."""
    return time.thread_time if device == "cpu" and config.threads == 1 else time.perf_counter


def time_rounds(model: nn.Module, inputs: tuple, device: str, config: LatencyConfig,
                clock: Callable[[], float] | None = None) -> Timing:
    """Each round's fastest forward pass of `model(*inputs)` in ms (eval mode, no gradients); `clock` returns
    seconds (default `pass_clock`; a scripted one in tests)."""
    clock = clock or pass_clock(device, config)
    old = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        model.eval()
        with torch.no_grad():
            for _ in range(config.warmup):
                model(*inputs)
            rounds = []
            for _ in range(config.rounds):
                fastest = float("inf")
                for _ in range(config.repeats):
                    _sync(device)
                    start = clock()
                    model(*inputs)
                    _sync(device)
                    fastest = min(fastest, (clock() - start) * 1e3)
                rounds.append(fastest)
        return Timing(tuple(rounds))
    finally:
        torch.set_num_threads(old)


def time_module(model: nn.Module, inputs: tuple, device: str, config: LatencyConfig) -> float:
    """Milliseconds of one forward pass of `model(*inputs)`: the median of the rounds' fastest passes."""
    return time_rounds(model, inputs, device, config).ms


def time_child(arch: Architecture, task: Task, device: str = "cpu", config: LatencyConfig = LatencyConfig(),
               child: ChildConfig | None = None) -> Timing:
    """The rounds of `arch` freshly initialised (latency does not depend on the weights)."""
    torch.manual_seed(0)
    model = build_child(arch, task, child).to(device)
    return time_rounds(model, batch_input(task, config.batch, device), device, config)


def measure_latency(arch: Architecture, task: Task, device: str = "cpu", config: LatencyConfig = LatencyConfig(),
                    child: ChildConfig | None = None) -> float:
    """Milliseconds of a forward pass of `arch`: the median of the rounds' fastest passes."""
    return time_child(arch, task, device, config, child).ms
