"""Asynchronous successive halving (ASHA; Li et al., MLSys 2020): which child trains its next rung.

A search with `--rungs 1,3,9` trains every new child for the first rung's
epochs; a child goes on to the next rung (continuing from its weights and
optimizer state, never retrained) as soon as it is in the top 1/eta of the
children that have finished its rung so far. Nothing waits for a rung to
fill: whenever a worker is free, the ladder is asked for a promotion, from
the highest rung down (the paper's `get_job`), and only when there is none
does the strategy propose a new child for the bottom rung.

This module is pure bookkeeping, a function of the results it is told about
(the run store's `rungs` rows on resume), so the same sequence of results
gives the same promotions whichever loop (synchronous or `--async`) and
backend delivers them: `tests/test_rungs.py` drives it with scripted
sequences of results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


RUNG_SCORES = ("first", "highest")  # what a strategy learns from: `RungConfig.score`


class RungConfig(BaseModel):
    """The rungs of a search: the epochs a child has trained at the end of each, and eta."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: tuple[int, ...]  # strictly increasing; the last is the schedule's length (a child's full training)
    eta: int = Field(3, ge=2)  # promote the top 1/eta of a rung
    # what a strategy learns from (promotions.py): each child's first-rung score, or its score at the highest
    # rung it reached, once its batch has no promotion training or waiting
    score: Literal["first", "highest"] = "first"

    @field_validator("epochs")
    @classmethod
    def _increasing(cls, epochs: tuple[int, ...]) -> tuple[int, ...]:
        if len(epochs) < 2:
            raise ValueError("rungs need at least two epoch counts (e.g. 1,3,9)")
        if epochs[0] < 1 or any(b <= a for a, b in zip(epochs, epochs[1:])):
            raise ValueError(f"rungs must be positive and strictly increasing, got {','.join(map(str, epochs))}")
        return epochs

    @property
    def top(self) -> int:
        """The index of the last rung, from which nothing is promoted."""
        return len(self.epochs) - 1

    def start_epoch(self, rung: int) -> int:
        """Epochs a child has trained when it starts `rung` (0 for the first)."""
        return 0 if rung == 0 else self.epochs[rung - 1]


@dataclass(frozen=True)
class Promotion:
    """A child to train on from the end of rung `rung - 1` to the end of `rung`."""

    child_id: int
    rung: int


def _rank_key(entry: tuple[int, float]) -> tuple[float, int]:
    child_id, score = entry
    return (-score, child_id)  # best score first; ties to the earlier child, so every replay agrees


@dataclass
class RungLadder:
    """Who finished which rung with what score, which promotions started, and what comes next.

    `max_children` (the children budget, when there is one) bounds how many
    children can ever reach each rung, which tells when a child can no longer
    be promoted (its saved state is then deleted): with N children at most N
    finish rung 0 and at most floor(N / eta) are promoted from it, and so on up.
    """

    config: RungConfig
    max_children: int | None = None
    finished: list[list[tuple[int, float]]] = field(default_factory=list)  # per rung: (child, score) in finish order
    failed: set[tuple[int, int]] = field(default_factory=set)  # (child, rung) whose training failed
    started: set[tuple[int, int]] = field(default_factory=set)  # (child, rung >= 1) promotions begun
    closed: set[tuple[int, int]] = field(default_factory=set)  # (child, rung) finished, done or failed

    def __post_init__(self) -> None:
        self.finished = self.finished or [[] for _ in self.config.epochs]

    def record(self, child_id: int, rung: int, score: float, ok: bool = True) -> None:
        """`child_id` finished `rung` with `score` (its reward there; a failed one cannot be promoted)."""
        self.finished[rung].append((child_id, score))
        self.closed.add((child_id, rung))
        if not ok:
            self.failed.add((child_id, rung))
        if rung > 0:
            self.started.add((child_id, rung))

    def start(self, promotion: Promotion) -> None:
        """A promotion has begun (a worker trains it): it is not offered again."""
        self.started.add((promotion.child_id, promotion.rung))

    def candidates(self, rung: int) -> list[int]:
        """Children of `rung` in its top 1/eta (best first) not yet promoted from it."""
        if rung >= self.config.top:
            return []
        ranked = sorted(self.finished[rung], key=_rank_key)[:len(self.finished[rung]) // self.config.eta]
        return [c for c, _ in ranked if (c, rung) not in self.failed and (c, rung + 1) not in self.started]

    def next_promotion(self) -> Promotion | None:
        """The promotion a free worker should take (highest rung first), or None: start a new child."""
        for rung in range(self.config.top - 1, -1, -1):
            waiting = self.candidates(rung)
            if waiting:
                return Promotion(waiting[0], rung + 1)
        return None

    def capacity(self, rung: int) -> int | None:
        """The most children that can ever finish `rung` (None: unbounded, no children budget)."""
        if self.max_children is None:
            return None
        most = self.max_children
        for _ in range(rung):
            most //= self.config.eta
        return most

    def promotable(self, child_id: int, rung: int) -> bool:
        """Whether `child_id`, which finished `rung`, may still be promoted from it, now or later."""
        if rung >= self.config.top or (child_id, rung) in self.failed or (child_id, rung + 1) in self.started:
            return False
        most = self.capacity(rung)
        if most is None:
            return True
        ranked = [c for c, _ in sorted(self.finished[rung], key=_rank_key)]
        return child_id in ranked and ranked.index(child_id) < most // self.config.eta

    def needs_state(self, child_id: int, rung: int) -> bool:
        """Whether the training state `child_id` had at the end of `rung` must be kept: its promotion from
        `rung` is in flight (a kill would restart it from that state) or may still come."""
        if (child_id, rung) not in self.closed:
            return False  # a state written just before a kill, whose rung is trained again
        if (child_id, rung + 1) in self.started:
            return (child_id, rung + 1) not in self.closed
        return self.promotable(child_id, rung)

    def waiting(self, child_id: int) -> bool:
        """Whether `child_id` has a promotion training (begun, not finished) or offered now (a candidate)."""
        rung = self.reached(child_id)
        if rung is None:
            return False  # no rung finished yet (or only a failed one): nothing can be promoted
        if (child_id, rung + 1) in self.started and (child_id, rung + 1) not in self.closed:
            return True
        return child_id in self.candidates(rung)

    def reached(self, child_id: int) -> int | None:
        """The highest rung `child_id` finished without failing (None: none yet)."""
        done = [r for r, rows in enumerate(self.finished)
                if any(c == child_id for c, _ in rows) and (child_id, r) not in self.failed]
        return max(done) if done else None
