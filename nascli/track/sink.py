"""What every tracking sink is given, and what it must do with it.

A sink opens once per run (finding what its destination already holds of the
run), writes each `Batch` the feed produces, skipping what is already there
(so a replay, or a resumed search, adds only what is missing), and at the end
writes the finale: the best architecture's figure, the run's report and its
state.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..runs import ChildRecord, RunStore
from ..runs.checkpoint import CONFIG_FILE, SPACE_FILE
from .feed import Batch, Point, TrackedChild


@dataclass(frozen=True)
class RunInfo:
    """The run being tracked."""

    path: Path
    name: str
    key: str  # stays the same when the folder moves: how a sink finds what it wrote of this run before
    strategy: str
    space: str
    created: float | None
    options: dict[str, Any]  # config.json's search options

    @property
    def files(self) -> dict[str, Path]:
        """Files a sink keeps beside its record of the run: the options and the space file."""
        return {CONFIG_FILE: self.path / CONFIG_FILE, SPACE_FILE: self.path / SPACE_FILE}

    @classmethod
    def of(cls, store: RunStore) -> RunInfo:
        summary = store.summary()
        created = store.get_meta("created")
        sha = hashlib.sha256(store.space_text.encode()).hexdigest()
        key = hashlib.sha256(f"{created}|{sha}".encode()).hexdigest()[:16]
        return cls(path=store.path.resolve(), name=store.path.name, key=key, strategy=summary.strategy or "?",
                   space=summary.space or "?", created=summary.created, options=store.config)


@dataclass(frozen=True)
class Finale:
    """How the run ended, for the last write."""

    state: str  # finished, stopped, failed, or running (the search ended without saying)
    ended: float  # the run's last write
    trained: int  # children closed (done or failed)
    best: ChildRecord | None
    figure: Path | None = None  # the best architecture: a PNG, or DOT text without Graphviz
    report: list[Path] = field(default_factory=list)  # report.png and report.html


@dataclass
class Tally:
    """What a sink wrote, and what it found already there."""

    children: int = 0
    children_present: int = 0
    points: int = 0


class WritesOnce(ABC):
    """The part of a sink that skips what its destination holds: `open` fills `written_points` and
    `written_children` from the destination; `write` sends only the rest, through the two hooks."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.written_points: set[tuple[str, int]] = set()  # (tag, step)
        self.written_children: set[int] = set()  # child ids

    def write(self, batch: Batch) -> None:
        new = [p for p in batch.points if (p.tag, p.step) not in self.written_points]
        self.write_points(new)
        self.written_points.update((p.tag, p.step) for p in new)
        self.tally.points += len(new)
        for child in batch.children:
            if child.record.id in self.written_children:
                self.tally.children_present += 1
                continue
            self.write_child(child)
            self.written_children.add(child.record.id)
            self.tally.children += 1

    @abstractmethod
    def write_points(self, points: list[Point]) -> None:
        """Send `points` (none of them at the destination yet)."""

    @abstractmethod
    def write_child(self, child: TrackedChild) -> None:
        """Send one child (not at the destination yet)."""


class Sink(Protocol):
    target: str  # "tensorboard" or "mlflow"
    tally: Tally
    wants_report: bool  # whether the finale needs the run's report drawn

    def open(self, run: RunInfo) -> None: ...

    def write(self, batch: Batch) -> None: ...

    def finish(self, finale: Finale) -> None: ...

    def close(self) -> None: ...

    def where(self) -> str:
        """Where it writes, and the command that opens it."""
        ...
