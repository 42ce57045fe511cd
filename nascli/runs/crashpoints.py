"""Named crash points: where a search writes durable state, a test can kill it.

`crash_point(name)` does nothing unless the environment asks for a crash there:

    NASCLI_CRASH_AT=<name>[@<n>]   crash at the n-th time `name` is reached (default: the first)
    NASCLI_CRASH_MODE=exit|kill    `os._exit(CRASH_EXIT)` (default) or SIGKILL the process itself

Each point sits just before the write it names, so a crash there leaves
everything before it recorded and that write not done. The points:

    create            the run folder is built under a temporary name, not yet renamed into place
    propose           the strategy has proposed a step's children; they are not recorded yet
    child_start       a step's pending children are about to be marked running
    child_finish      a child's result is about to be recorded (n counts children across steps; with
                      --rungs, every rung's result)
    rung_start        (--rungs) a promotion is about to be recorded as running, before its job is sent
    rung_state        (--rungs) a rung's training state is saved; the rung's result is not recorded yet
    update            the strategy has learned from a step's rewards; the step is not recorded yet
    checkpoint        a strategy checkpoint is about to be written (after each propose and update)
    checkpoint_rotate the new checkpoint is on disk under a temporary name; the old one not yet rotated
    finish            every child is trained; the run is about to be marked finished
    enas_epoch        (ENAS) a shared-weights epoch is recorded and about to be checkpointed
                      (ENAS also reaches checkpoint, checkpoint_rotate, child_finish for each
                      derived child, and finish)

Tests (tests/test_crashpoints.py) crash at every point in turn, resume, and
check that the finished run equals an uninterrupted one with the same seed.
"""

from __future__ import annotations

import os
import signal

CRASH_AT_ENV, CRASH_MODE_ENV = "NASCLI_CRASH_AT", "NASCLI_CRASH_MODE"
CRASH_EXIT = 77  # the exit status of an `exit` crash, so a test can tell it from a real failure
POINTS = ("create", "propose", "child_start", "child_finish", "update", "checkpoint", "checkpoint_rotate",
          "finish", "enas_epoch", "rung_start", "rung_state")

_hits: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(CRASH_AT_ENV)
    if not spec:
        return None
    name, _, nth = spec.partition("@")
    return name, int(nth) if nth else 1


def crash_point(name: str) -> None:
    """Crash here if NASCLI_CRASH_AT names this point (and this is its n-th hit)."""
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name!r}; add it to POINTS and the docstring")
    target = _target()
    if target is None or target[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != target[1]:
        return
    if os.environ.get(CRASH_MODE_ENV, "exit") == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(CRASH_EXIT)
