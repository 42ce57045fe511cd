"""Helpers shared by the ENAS tests."""

from __future__ import annotations

from collections.abc import Callable


def ctrl_c_after_batch(epoch: int, done: int) -> Callable:
    """An ENAS progress callback that raises KeyboardInterrupt, as Ctrl-C would, once minibatch `done`
    of the shared-weights phase of `epoch` (0-based) has finished."""

    def interrupt(event) -> None:
        if event.kind == "batch" and event.epoch == epoch and event.done == done:
            raise KeyboardInterrupt

    return interrupt
