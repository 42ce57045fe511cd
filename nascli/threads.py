"""One intra-op thread for work made of many small tensor ops.

A recurrent child steps through time, and the controller through its decisions,
in small matrix products; on a 2-core machine a second OpenMP thread costs more
in synchronisation than it gives (measured 3-10x slower with 2 threads).
Convolutional children keep every core.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def single_thread() -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)
