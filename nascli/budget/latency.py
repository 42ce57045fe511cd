"""Latency of a child: the median of timed forward passes after warm-up, on one device.

A loaded machine makes single timings noisy, so a measurement is robust by
construction: `warmup` untimed passes (allocator, oneDNN kernels chosen), then
`repeats` timed ones whose median is kept (one preempted pass does not move it),
with torch's intra-op threads pinned to `threads` for the measurement so that the
figure does not depend on what else the process was doing. CUDA is synchronised
around each pass. The conditions are stated with every figure (docs/budgets.md).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..arch import Architecture
from ..children import ChildConfig, build_child
from ..data.base import ImageTask, TabularTask, Task


@dataclass(frozen=True)
class LatencyConfig:
    batch: int = 1
    warmup: int = 3
    repeats: int = 11
    threads: int = 1


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


def time_module(model: nn.Module, inputs: tuple, device: str, config: LatencyConfig) -> float:
    """Median milliseconds of one forward pass of `model(*inputs)` (eval mode, no gradients)."""
    old = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        model.eval()
        times = []
        with torch.no_grad():
            for i in range(config.warmup + config.repeats):
                _sync(device)
                start = time.perf_counter()
                model(*inputs)
                _sync(device)
                if i >= config.warmup:
                    times.append((time.perf_counter() - start) * 1e3)
        return statistics.median(times)
    finally:
        torch.set_num_threads(old)


def measure_latency(arch: Architecture, task: Task, device: str = "cpu", config: LatencyConfig = LatencyConfig(),
                    child: ChildConfig | None = None) -> float:
    """Median ms of a forward pass of `arch` (freshly initialised: latency does not depend on the weights)."""
    torch.manual_seed(0)
    model = build_child(arch, task, child).to(device)
    return time_module(model, batch_input(task, config.batch, device), device, config)
