"""Which device children train on, and the autocast that `--amp` turns on.

`auto` is CUDA when torch sees a GPU, else the CPU. A CUDA device that is not
there is a DeviceError (exit 2 from the CLI), never a crash in the middle of a
search. With `--amp`, CUDA autocasts to bf16 where the GPU supports it (else
fp16, with gradient scaling left out: children are short and clipped), and the
CPU autocasts to bf16 (slower than fp32 on most CPUs; allowed for testing).
"""

from __future__ import annotations

import contextlib
import re

import torch

from ..errors import NasError

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


class DeviceError(NasError):
    """A device that is malformed or not on this machine."""


def resolve_device(name: str) -> str:
    """`auto`, `cpu`, `cuda` or `cuda:N` -> a device this machine has ('cpu', 'cuda', 'cuda:1')."""
    if not DEVICE_PATTERN.match(name):
        raise DeviceError(f"unknown device '{name}'; expected auto, cpu, cuda or cuda:N")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device '{name}' asked for, but torch sees no CUDA GPU here "
                              f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); "
                              "use --device cpu or auto")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise DeviceError(f"device '{name}' asked for, but this machine has {torch.cuda.device_count()} GPU(s)")
    return name


def worker_devices(device: str, workers: int) -> list[str]:
    """The device of each of `workers` workers: plain 'cuda' spreads them over the GPUs round-robin."""
    if device != "cuda":
        return [device] * workers
    count = max(1, torch.cuda.device_count())
    return [f"cuda:{i % count}" for i in range(workers)]


def autocast(device: str, amp: bool) -> contextlib.AbstractContextManager:
    """bf16/fp16 autocast on `device` when `amp`, else nothing."""
    if not amp:
        return contextlib.nullcontext()
    kind = torch.device(device).type
    dtype = torch.bfloat16 if kind == "cpu" or torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(kind, dtype=dtype)
