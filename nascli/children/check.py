"""Smoke-test architectures on real data: build, one forward and backward pass, time it.

An architecture whose loss is not finite on the first batch *diverged*: it built and
ran, but its arithmetic explodes (e.g. a tree cell multiplying c_{t-1} into its state
with no squashing). The space holds such cells; a search records them as failed
children. Any exception is a *failure*: the architecture could not be built or run,
or its estimated memory exceeds the device's (checked first, as a search does)."""

from __future__ import annotations

import time
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel

from ..arch import Architecture
from ..data import Data, LabelledSplits, batchify
from ..errors import ChildError
from ..train.device import autocast
from . import ChildConfig, build_child, check_child_memory, profile_child


class CheckResult(BaseModel):
    tokens: str
    status: Literal["ok", "diverged", "failed"]
    params: int | None = None
    macs: int | None = None
    ms: float | None = None  # one forward + backward pass on the batch
    error: str | None = None


def failure_message(err: Exception) -> str:
    """One line saying why a child failed, as a search records it and `nascli check` shows it."""
    if isinstance(err, torch.OutOfMemoryError):
        message = "out of memory"
    elif isinstance(err, ChildError):
        message = err.message
    else:
        message = f"{type(err).__name__}: {err}"
    return message.splitlines()[0][:500] if message else type(err).__name__


def real_batch(data: Data, size: int = 16, bptt: int = 35) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `size` training images (or table rows), or a (bptt, size) window of training text."""
    if isinstance(data, LabelledSplits):
        return data.train_x[:size], data.train_y[:size]
    stream = batchify(data.train[: size * (bptt + 1)], size)
    return stream[:-1], stream[1:]


def check_architecture(arch: Architecture, data: Data, config: ChildConfig | None = None,
                       seed: int = 0, device: str = "cpu", amp: bool = False) -> CheckResult:
    """One architecture's check on `device`; `seed` fixes its initial weights, so a result can be reproduced."""
    x, y = (t.to(device) for t in real_batch(data))
    try:
        check_child_memory(arch, data.task, config, x.numel() if x.dtype == torch.long else len(x), device)
        torch.manual_seed(seed)
        model = build_child(arch, data.task, config)
        profile = profile_child(model, data.task)
        model.to(device).train()
        start = time.perf_counter()
        with autocast(device, amp):
            logits = model(x) if isinstance(data, LabelledSplits) else model(x, model.init_state(x.shape[1]))[0]
        loss = F.cross_entropy(logits.float().flatten(0, -2), y.flatten())
        loss.backward()
        ms = (time.perf_counter() - start) * 1000
    except Exception as err:  # noqa: BLE001 - a failing architecture is the result being reported
        return CheckResult(tokens=arch.tokens, status="failed", error=failure_message(err))
    status = "ok" if torch.isfinite(loss) else "diverged"
    error = None if status == "ok" else f"the loss on the first batch is {loss.item()}"
    return CheckResult(tokens=arch.tokens, status=status, params=profile.params, macs=profile.macs, ms=ms, error=error)
