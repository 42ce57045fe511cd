"""A child's training state between rungs (`--rungs`): tensors in bytes, and their files in the run folder.

A rung's job carries the state its child reached at the end of the previous
rung, and its result carries the state at the end of this one, as bytes
(`torch.save` of tensors, numbers and containers): so a worker process or a
Ray task on another machine needs no access to the run folder, and the
search process, the run's only writer, keeps the files:

    rungs/child-<id>-rung-<k>.pt    the state at the end of rung k

written atomically, read back with `torch.load(weights_only=True)` (a file
naming a Python callable, the way a crafted pickle runs code, is refused and
the child's promotion fails with the reason), and deleted as soon as its
child can no longer be promoted from rung k (promoted and recorded past it,
at the top rung, failed, or ranked where the children budget leaves it no
chance; without a children budget the files stay until the run is deleted,
since a resume may extend the search). One file per rung, so that a kill
between writing the next rung's state and recording it leaves the state the
rung started from in place.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import torch

from ..errors import ChildError
from ..runs.checkpoint import TensorFileError, load_tensors, write_atomic

STATE_DIR = "rungs"
_NAME = re.compile(r"^child-(\d+)-rung-(\d+)\.pt$")


def state_bytes(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def state_from_bytes(data: bytes) -> dict:
    """The state in `data`, loaded as data only; a ChildError (the promotion fails) when it is not that."""
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any refusal is the child's failure, with the reason
        raise ChildError(f"its saved rung state is not plain tensor data, never loaded ({type(err).__name__})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise ChildError("its saved rung state is not a training state")
    return state


def state_path(run_dir: Path, child_id: int, rung: int) -> Path:
    return Path(run_dir) / STATE_DIR / f"child-{child_id}-rung-{rung}.pt"


def save_state(run_dir: Path, child_id: int, rung: int, data: bytes, durable: bool) -> None:
    path = state_path(run_dir, child_id, rung)
    path.parent.mkdir(exist_ok=True)
    write_atomic(path, data, durable)


def read_state(run_dir: Path, child_id: int, rung: int) -> bytes:
    """The saved state's bytes, checked to load as data (so a crafted file fails here, in the search process,
    with one line, and is never handed on); a ChildError when it is missing or refused."""
    path = state_path(run_dir, child_id, rung)
    try:
        load_tensors(path)
    except FileNotFoundError:
        raise ChildError(f"its state after rung {rung} is missing ({path.name})") from None
    except TensorFileError as err:
        raise ChildError(f"its state after rung {rung} ({path.name}) is {err}") from None
    return path.read_bytes()


def saved_states(run_dir: Path) -> list[tuple[int, int]]:
    """(child, rung) of every state file in the run folder."""
    folder = Path(run_dir) / STATE_DIR
    found = (_NAME.match(p.name) for p in folder.glob("child-*.pt")) if folder.is_dir() else ()
    return sorted((int(m.group(1)), int(m.group(2))) for m in found if m)


def delete_state(run_dir: Path, child_id: int, rung: int) -> None:
    state_path(run_dir, child_id, rung).unlink(missing_ok=True)
