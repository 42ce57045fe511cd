"""The TensorBoard sink: a run's series as scalars, each child as an HParams session.

Layout, under the run's log folder (default `RUN/tensorboard/`; with a log
folder given, `LOGDIR/<run name>/`):
    search/                  the series of feed.py (scalars) and the best
                             architecture's figure (image `best/architecture`,
                             at step = children trained)
    children/child-00007/    one HParams session per closed child: its
                             decisions as hparams, and as metrics `reward`,
                             its validation metric, `params`, `macs`,
                             `seconds` and `status` (1 done, 0 failed); the
                             session ends as a success or a failure
No experiment summary is written: the HParams plugin then builds the table
from the sessions it finds, so `tensorboard --logdir runs/` shows the children
of every run in one parallel-coordinates view.

Nothing is written twice: at open the sink reads which (tag, step) points
`search/` already holds and which children have a session, and skips them. A
session is written under a hidden name and renamed when complete, so a killed
write leaves no half session (the next open removes the leftover).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

from .events import (EventFile, image_event, scalar_event, session_end_event, session_start_event,
                     written_points)
from .feed import Point, TrackedChild, child_metrics
from .sink import Finale, RunInfo, WritesOnce

DEFAULT_FOLDER = "tensorboard"  # inside the run folder
_SESSION = re.compile(r"child-(\d+)")
_PARTIAL = ".partial-"
FIGURE_TAG = "best/architecture"


def log_folder(run_dir: Path, logdir: Path | None = None) -> Path:
    """Where a run's events go: RUN/tensorboard, or LOGDIR/<run name> when a log folder is given."""
    return run_dir / DEFAULT_FOLDER if logdir is None else Path(logdir) / run_dir.name


class TensorBoardSink(WritesOnce):
    """Writes one run's events under `root` (see `log_folder`)."""

    target = "tensorboard"
    wants_report = False

    def __init__(self, root: Path):
        super().__init__()
        self.root = Path(root)
        self._search: EventFile | None = None

    def open(self, run: RunInfo) -> None:
        children = self.root / "children"
        children.mkdir(parents=True, exist_ok=True)
        for leftover in children.glob(f"{_PARTIAL}*"):  # a session whose write was killed
            shutil.rmtree(leftover, ignore_errors=True)
        self.written_children = {int(m.group(1)) for p in children.iterdir() if (m := _SESSION.fullmatch(p.name))}
        self.written_points = written_points(self.root / "search")

    def _write_search(self, events: list) -> None:
        """Into this session's own event file of `search/`, made with its first event (a replay
        that finds everything already there leaves no empty file behind)."""
        if not events:
            return
        if self._search is None:
            self._search = EventFile(self.root / "search")
        self._search.write(events)

    def write_points(self, points: list[Point]) -> None:
        self._write_search([scalar_event(p.tag, p.step, p.value, p.time) for p in points])

    def write_child(self, child: TrackedChild) -> None:
        """The child's HParams session, written whole under a hidden name, then renamed into place."""
        c = child.record
        end = c.finished or c.created
        folder = self.root / "children" / f"child-{c.id:05d}"
        partial = folder.with_name(f"{_PARTIAL}{folder.name}-{os.getpid()}")
        session = EventFile(partial)
        try:
            session.write([session_start_event(child.decisions, c.created),
                           *(scalar_event(name, 0, value, end) for name, value in child_metrics(child.record).items()),
                           session_end_event(c.status == "done", end)])
        finally:
            session.close()
        os.rename(partial, folder)

    def finish(self, finale: Finale) -> None:
        figure = finale.figure
        if figure is None or figure.suffix != ".png" or (FIGURE_TAG, finale.trained) in self.written_points:
            return
        self._write_search([image_event(FIGURE_TAG, finale.trained, figure.read_bytes(), finale.ended)])
        self.written_points.add((FIGURE_TAG, finale.trained))

    def close(self) -> None:
        if self._search is not None:
            self._search.close()
            self._search = None

    def where(self) -> str:
        return f"{self.root}; open with: tensorboard --logdir {shlex.quote(str(self.root))}"
