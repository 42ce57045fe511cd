"""What tracking sends, read from a run store: finished children and the scalar series.

A `RunFeed` follows one run folder through a read-only connection (so it never
blocks the search, which is the store's one writer) and each `poll()` returns
what appeared since the last: children that closed (done or failed), with
their decisions, and `Point`s of the search's series. The live tracker polls
it while the search runs; `nascli track` polls it once. So both send the same
records, computed the same way, whatever strategy or backend wrote the run.

The series, by the tag every sink uses:
    search/reward            each closed child's reward        (step: child id)
    search/<metric name>     a done child's validation metric  (step: child id)
    search/best_reward       the best reward after n children trained, in the
                             order they finished                (step: n)
    controller/baseline, controller/batch_mean_reward, controller/entropy,
    controller/loss          per controller update             (step: update)
    enas/shared_loss, enas/lr, enas/epoch_seconds, enas/controller_seconds
                             per ENAS epoch (its baseline, entropy and mean
                             validation reward go to controller/*) (step: epoch);
    enas/refused_shared, enas/refused_controller
                             under limits, the epoch's samples refused: draws
                             for the shared weights (drawn again), controller
                             samples (given --refused-reward) (step: epoch)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..arch.tokens import decision_values
from ..errors import NasError
from ..runs import ChildRecord, EpochRecord, RunStore, StepRecord, run_space
from ..space.compiler import CompiledSpace

CLOSED = ("done", "failed")


@dataclass(frozen=True)
class Point:
    """One value of a scalar series."""

    tag: str
    step: int
    value: float
    time: float  # when it happened (seconds since the epoch), so a replay keeps the search's clock


@dataclass(frozen=True)
class TrackedChild:
    """A closed child and the decisions its token string makes (by sink-safe name)."""

    record: ChildRecord
    decisions: dict[str, int | float | str]


@dataclass
class Batch:
    """What one poll found."""

    children: list[TrackedChild] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.children or self.points)


def decision_key(path: str) -> str:
    """`layers[3].filters` -> `layers.3.filters`: a name MLflow accepts as a parameter and
    TensorBoard shows as an hparam (letters, digits, `_ - . /` only)."""
    key = path.replace("[", ".").replace("]", "")
    return "".join(ch if ch.isalnum() or ch in "_-./" else "_" for ch in key)


def child_metrics(child: ChildRecord) -> dict[str, float]:
    """A closed child's figures, as a tracking tool's metrics: reward, its validation metric (by its
    name), params, macs, seconds, and status as a number (1 done, 0 failed)."""
    metrics = {"reward": child.reward, "seconds": child.seconds, "params": child.params, "macs": child.macs,
               "status": 1.0 if child.status == "done" else 0.0}
    if child.status == "done":
        metrics[child.metric_name] = child.metric
    return {name: float(value) for name, value in metrics.items() if value is not None}


def child_points(child: ChildRecord, position: int, best: float | None) -> tuple[list[Point], float | None]:
    """A closed child's points, as the `position`-th to finish; returns them and the new best."""
    at = child.finished or child.created
    points = [Point("search/reward", child.id, child.reward, at)]
    if child.status == "done":
        points.append(Point(f"search/{child.metric_name}", child.id, child.metric, at))
        best = child.reward if best is None else max(best, child.reward)
    if best is not None:
        points.append(Point("search/best_reward", position, best, at))
    return points, best


def step_points(step: StepRecord) -> list[Point]:
    """A controller update's points (random search has only the batch's mean reward)."""
    fields = (("controller/baseline", step.baseline), ("controller/batch_mean_reward", step.mean_reward),
              ("controller/entropy", step.entropy), ("controller/loss", step.loss))
    return [Point(tag, step.step, value, step.time) for tag, value in fields if value is not None]


def epoch_points(epoch: EpochRecord) -> list[Point]:
    """An ENAS epoch's points."""
    fields = (("controller/baseline", epoch.baseline), ("controller/batch_mean_reward", epoch.valid_reward),
              ("controller/entropy", epoch.entropy), ("enas/shared_loss", epoch.shared_loss),
              ("enas/lr", epoch.lr), ("enas/epoch_seconds", epoch.seconds),
              ("enas/controller_seconds", epoch.controller_seconds),
              ("enas/refused_shared", epoch.refused_shared), ("enas/refused_controller", epoch.refused_controller))
    return [Point(tag, epoch.epoch, value, epoch.time) for tag, value in fields if value is not None]


class RunFeed:
    """Follows one run store; `poll()` returns what is new since the last call.

    `space_problem` says why children carry no decisions, when the run's space
    cannot be read here (a plugin op not loaded, say)."""

    def __init__(self, run_dir: str | Path):
        self.store = RunStore.open_readonly(run_dir)
        self.enas = self.store.config.get("strategy") == "enas"  # its controller_steps rows copy enas_epochs'
        self.space_problem: str | None = None
        self.compiled = self._space()
        self.closed = 0  # children closed so far, in the order they finished
        self.best: float | None = None
        self._last_id = 0
        self._open: list[int] = []  # ids seen pending or running
        self._updated: str | None = None
        self._sent_steps: set[int] = set()

    def _space(self) -> CompiledSpace | None:
        try:
            return run_space(self.store)
        except NasError as err:
            self.space_problem = str(err)
            return None

    def close(self) -> None:
        self.store.close()

    def decisions(self, child: ChildRecord) -> dict[str, int | float | str]:
        if self.compiled is None:
            return {}
        try:
            return {decision_key(k): v for k, v in decision_values(self.compiled, child.tokens).items()}
        except NasError:  # a token string its own space copy no longer reads: tracked without decisions
            return {}

    def poll(self) -> Batch:
        """Children closed and series points added since the last poll (nothing when the store is unchanged)."""
        updated = self.store.get_meta("updated")
        if updated == self._updated:
            return Batch()
        self._updated = updated
        batch = Batch()
        rows = self.store.children_since(self._last_id, self._open)
        if rows:
            self._last_id = max(self._last_id, rows[-1].id)
        closed = sorted((c for c in rows if c.status in CLOSED), key=lambda c: (c.finished or 0.0, c.id))
        self._open = [c.id for c in rows if c.status not in CLOSED]
        for child in closed:
            self.closed += 1
            points, self.best = child_points(child, self.closed, self.best)
            batch.points += points
            batch.children.append(TrackedChild(child, self.decisions(child)))
        batch.points += self._series()
        return batch

    def _series(self) -> list[Point]:
        """Controller updates (or ENAS epochs) not sent yet."""
        rows = self.store.epochs() if self.enas else self.store.steps()
        key = (lambda r: r.epoch) if self.enas else (lambda r: r.step)
        new = [r for r in rows if key(r) not in self._sent_steps]
        self._sent_steps.update(key(r) for r in new)
        to_points = epoch_points if self.enas else step_points
        return [p for r in new for p in to_points(r)]
