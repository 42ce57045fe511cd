"""Crash-safe files of a run folder: config, space copy, writer lock, controller checkpoint.

Every file is written to a temporary name beside it, fsynced, then renamed
over the old one, so a reader (or a search resumed after `kill -9`) sees
either the old file or the new one, never half of each; a temporary file
left by a kill is removed when the run is next opened for writing. Files get
the user's umask, like any other file they write. The controller checkpoint
keeps one generation back (`controller.prev.pt`) so that a newest file torn
by a crash the filesystem did not protect against still leaves a usable
state. The database beside these files lives in store.py.

fsync is what makes a write survive a power cut or an operating-system crash;
a process killed (`kill -9`, the out-of-memory killer) loses nothing that
write() handed to the kernel, fsync or not. So a run can be written without
fsyncs (`durable=False`, benchmark runs: a whole search takes a second to
redo) and still resume exactly after `kill -9`; only after a power cut may
its newest files be lost (then the previous checkpoint, or a replay, or a
fresh run).

A run folder is data, never code: checkpoints hold only tensors, dicts,
lists and numbers, and are read with `torch.load(weights_only=True)`, which
refuses anything else (a pickle that would run code when loaded included).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import RunError
from .crashpoints import crash_point

CONFIG_FILE, SPACE_FILE, LOCK_FILE = "config.json", "space.space", "run.lock"
CHECKPOINT_NAME, PREVIOUS_NAME = "controller.pt", "controller.prev.pt"
TEMP_SUFFIX = ".tmp"


def _file_mode() -> int:
    """0666 less the user's umask: what `open()` would give a new file (mkstemp gives 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()  # read once, at import: os.umask is process-wide and not thread-safe


def fsync_dir(folder: Path) -> None:
    # The rename lives in the directory entry; without this a power cut can
    # undo it even though the file's bytes are on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, data: bytes, durable: bool = True) -> Path:
    """Write `data` to a fresh temporary file beside `path` (fsynced when `durable`); return its path."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def remove_stale_temps(folder: Path) -> None:
    """Delete temporary files a killed write left in `folder`; call it holding the writer lock."""
    for stale in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        stale.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace `path` with `data` so that no reader ever sees a partial file."""
    path = Path(path)
    os.replace(_write_temp(path, data, durable), path)
    if durable:
        fsync_dir(path.parent)


# -- config.json + space.space ------------------------------------------------


def write_run_files(run_dir: Path, options: dict[str, Any], space_text: str, space_sha256: str,
                    durable: bool = True) -> None:
    """Write space.space (byte for byte) and config.json (options + the space's sha256)."""
    write_atomic(run_dir / SPACE_FILE, space_text.encode(), durable)
    # default=str: paths and the like become text; pydantic re-validates them on resume.
    document = {"space_file": SPACE_FILE, "space_sha256": space_sha256, "options": options}
    write_atomic(run_dir / CONFIG_FILE, json.dumps(document, indent=2, default=str).encode(), durable)


def read_run_files(run_dir: Path) -> tuple[dict[str, Any], str]:
    """(options, space text) of a run folder, checked against each other."""
    try:
        document = json.loads((run_dir / CONFIG_FILE).read_bytes())
        space_text = (run_dir / SPACE_FILE).read_bytes().decode("utf-8")
        options, recorded_sha = document["options"], document["space_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RunError(f"run files are missing or corrupt: {err}", where=str(run_dir)) from None
    if not isinstance(options, dict):
        raise RunError(f"{CONFIG_FILE} holds no options", where=str(run_dir / CONFIG_FILE))
    if hashlib.sha256(space_text.encode()).hexdigest() != recorded_sha:
        raise RunError(f"{SPACE_FILE} was changed after the run started", where=str(run_dir / SPACE_FILE))
    return options, space_text


def take_writer_lock(run_dir: Path) -> int:
    """Hold run.lock until the returned fd is closed; the kernel drops it even on kill -9."""
    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as err:
        raise RunError(f"cannot open {LOCK_FILE}: {err.strerror}", where=str(run_dir)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunError("another process is writing this run", where=str(run_dir)) from None
    return fd


# -- controller checkpoint ----------------------------------------------------


def save_checkpoint(folder: Path, state: dict[str, Any], durable: bool = True) -> None:
    """Write `state` as `folder/controller.pt`, keeping the last one as `controller.prev.pt`.
    `durable=False` skips the fsyncs: the files still replace each other atomically, and survive
    the process being killed (the kernel holds them), but not a power cut (see the module's note)."""
    import io

    import torch  # lazily: listing runs must not pay for importing torch

    crash_point("checkpoint")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    from .packing import pack

    buffer = io.BytesIO()
    torch.save(pack(state), buffer)
    latest = folder / CHECKPOINT_NAME
    # Serialise and sync first, then rotate: a crash between the two renames
    # leaves only controller.prev.pt, which load_checkpoint falls back to.
    staged = _write_temp(latest, buffer.getvalue(), durable)
    crash_point("checkpoint_rotate")
    if latest.exists():
        os.replace(latest, folder / PREVIOUS_NAME)
    os.replace(staged, latest)
    if durable:
        fsync_dir(folder)


class TensorFileError(Exception):
    """A file torch.load(weights_only=True) refused or could not read; the message is one line."""


def load_tensors(path: Path) -> Any:
    """The tensors and plain containers in a torch file, or a TensorFileError saying in one line why not.

    weights_only=True: a pickle that names any other callable (the way a crafted file runs code) is
    refused. torch's own refusal is four paragraphs that advise weights_only=False; this one is not."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" in str(err):
            raise TensorFileError("not plain tensor data: it names a Python callable, which is never loaded "
                                  "(a crafted file?)") from None
        raise TensorFileError("not a PyTorch tensor file (unreadable as one)") from None
    except (RuntimeError, EOFError, ValueError) as err:  # a torn or truncated zip, an empty file
        raise TensorFileError(f"not a readable PyTorch file ({_first_line(err)})") from None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__


def _read_checkpoint(path: Path) -> dict[str, Any]:
    from .packing import unpack

    state = unpack(load_tensors(path))
    if not isinstance(state, dict):
        raise TypeError(f"expected a dict, found {type(state).__name__}")
    if not isinstance(state.get("strategy"), dict) or not isinstance(state.get("updated_through"), int):
        raise TypeError("not a controller checkpoint (no strategy state or step counter)")
    return state


def load_checkpoint(folder: Path) -> dict[str, Any] | None:
    """The newest readable checkpoint in `folder`, or None when there is none.

    Falls back to `controller.prev.pt` when `controller.pt` is missing, torn,
    corrupt or not plain data; raises RunError when checkpoints exist but none
    can be read.
    """
    folder = Path(folder)
    candidates = [p for p in (folder / CHECKPOINT_NAME, folder / PREVIOUS_NAME) if p.exists()]
    problems = []
    for path in candidates:
        try:
            return _read_checkpoint(path)
        except Exception as err:  # noqa: BLE001 - any unreadable checkpoint falls back to the previous one
            problems.append(f"{path.name}: {_first_line(err)}")
    if not candidates:
        return None
    raise RunError("no readable controller checkpoint (" + "; ".join(problems) + ")", where=str(folder))
