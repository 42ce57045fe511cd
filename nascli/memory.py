"""Memory estimates, checked before a large allocation is attempted.

A size that cannot fit (a 10^6-filter layer, `--image-size 1000000`, a controller of 10^8
units) is refused at once with its estimate, instead of failing after the allocator has
tried (torch's "can't allocate memory" after 30 s), page-thrashing the machine, or hanging.
Modules are sized by building them on the meta device: shapes without storage, so any
op, a plugin's included, is counted without a formula of its own.

The estimates are upper-bound-minded but rough (within a small factor); they guard
against sizes that are off by orders of magnitude, not against a tight fit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .errors import ResourceError


def device_memory(device: str = "cpu") -> int:
    """Bytes of memory `device` has: a GPU's total, else this machine's RAM (or its cgroup's limit, if lower)."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_properties(torch.device(device)).total_memory
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:  # a container's limit (cgroup v2): "max" when there is none
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total


def format_bytes(n: float) -> str:
    """`n` bytes in binary units: '512 B', '23.5 GiB', '1.6 PiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"):
        if n < 1024 or unit == "YiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def too_large(need: int, what: str, device: str = "cpu") -> str | None:
    """A message when `need` bytes (what: 'the child', '1,797 images of 3x1000000x1000000') exceed
    `device`'s memory, else None; the caller raises it as its own typed error."""
    have = device_memory(device)
    if need <= have:
        return None
    place = "this GPU" if device.startswith("cuda") else "this machine"
    return f"{what} would take an estimated {format_bytes(need)} of memory, more than the {format_bytes(have)} {place} has"


def meta_parameter_bytes(build: Callable[[], "object"]) -> int:
    """Bytes of the parameters of the module `build()` makes, built on the meta device (no memory, and
    no draws from torch's random generator, so what is built for real afterwards is unchanged)."""
    import torch

    with torch.device("meta"):
        module = build()
    return sum(p.numel() * p.element_size() for p in module.parameters())


def check_module_memory(build: Callable[[], "object"], what: str, device: str = "cpu", copies: int = 4) -> None:
    """ResourceError when `copies` of the parameters of `build()` (weights, gradients and an optimizer's
    state: Adam keeps two more) cannot fit in `device`'s memory; call it before building for real."""
    problem = too_large(copies * meta_parameter_bytes(build), what, device)
    if problem:
        raise ResourceError(problem)


def meta_forward_bytes(module, inputs: tuple) -> int:
    """Bytes of every tensor that one forward of a meta-device `module` on meta `inputs` produces:
    what autograd may keep for the backward pass, as an upper bound."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class _CountBytes(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            self.total += sum(t.numel() * t.element_size() for t in tree_leaves(out) if isinstance(t, torch.Tensor))
            return out

    with _CountBytes() as counter, torch.no_grad():
        module(*inputs)
    return counter.total
