"""The search loops' side of `--rungs`: rung jobs, their results, the saved states (ASHA, rungs.py).

Both loops (loop.py, async_loop.py) fill a free worker the same way: first a
promotion (`next_job`: a promotion a killed session left `running`, then the
ladder's), and only when there is none the next new child, which trains the
first rung (`first_span`). Results of any rung come back through `record`.

What a strategy learns from (`learned_rewards`, `RungConfig.score`):
- `first` (the default): each child's score at the first rung, when it
  finishes the first rung. So a REINFORCE step's rewards are all measured at
  the same training length, an update never waits for promotions, and a
  resumed search replays updates on the same numbers whatever the promotions
  have reached since.
- `highest`: each child's score at the highest rung it reached, given when
  its batch (a synchronous step's children, or an `--async` update's K) has
  no promotion training or waiting (`batch_waiting`): the update waits for
  them. A synchronous step ends only then anyway. ASHA may still promote a
  child later (a rung's top 1/eta grows as more children finish it); that
  later score is not learnt, so that an update is made once, on numbers the
  run store holds when it is made, and a resume makes it again the same.
Views (best, show, eval --best) see each child at its highest rung
(runs/rung_rows.py).

Order of writes, for `kill -9`: a promotion's rung row is written `running`
before its job is sent (`start`); a result writes its state file first, then
its rows (one transaction), then deletes the states no longer needed. A kill
loses at most the rung being trained: the restarted promotion continues from
the previous rung's file, which is deleted only after the next rung's rows.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from ..errors import ChildError
from ..runs.crashpoints import crash_point
from .evaluate import ChildJob, ChildResult, RungSpan, record_result
from .rung_state import delete_state, read_state, save_state, saved_states
from .rungs import Promotion, RungConfig, RungLadder

if TYPE_CHECKING:
    from .loop import Search


class Promotions:
    """The rung ladder of one search session, rebuilt from the run store's rung rows."""

    def __init__(self, search: Search, config: RungConfig):
        self.search, self.config, self.store = search, config, search.store
        self.keep_states = search.config.benchmark is None  # a table lookup has no weights to continue
        self.ladder = RungLadder(config, search.config.budget)
        restart = []
        for row in self.store.rungs():
            if row.status == "running":
                restart.append(Promotion(row.child_id, row.rung))
                self.ladder.start(restart[-1])
            else:
                self.ladder.record(row.child_id, row.rung, row.reward, ok=row.status == "done")
        self.restart: deque[Promotion] = deque(restart)  # in flight when a session stopped: first again
        self.running: set[int] = set()  # children whose promotion this session has sent

    def first_span(self) -> RungSpan:
        return RungSpan(rung=0, start=0, stop=self.config.epochs[0], keep_state=self.keep_states)

    def span(self, promotion: Promotion) -> RungSpan:
        rung = promotion.rung
        state = read_state(self.store.path, promotion.child_id, rung - 1) if self.keep_states else None
        return RungSpan(rung=rung, start=self.config.start_epoch(rung), stop=self.config.epochs[rung],
                        state=state, keep_state=self.keep_states and rung < self.config.top)

    def next_job(self) -> ChildJob | None:
        """The promotion a free worker should train now, or None (a new child then). A promotion whose saved
        state cannot be read fails at once, with the reason, and the next is tried."""
        while True:
            promotion = self.restart[0] if self.restart else self.ladder.next_promotion()
            if promotion is None:
                return None
            try:
                span = self.span(promotion)
            except ChildError as err:
                self._fail_unreadable(promotion, str(err))
                continue
            return self.search.job(self.store.child(promotion.child_id)).model_copy(update={"span": span})

    def _fail_unreadable(self, promotion: Promotion, error: str) -> None:
        if self.restart and self.restart[0] == promotion:
            self.restart.popleft()
        self.ladder.record(promotion.child_id, promotion.rung, self.search.config.reward.failed, ok=False)
        self.store.finish_rung(promotion.child_id, promotion.rung, self.config.epochs[promotion.rung], "failed",
                               self.search.config.reward.failed, None, 0.0, error)

    def start(self, job: ChildJob) -> None:
        """`job` (a promotion from `next_job`) goes to a worker now."""
        promotion = Promotion(job.child_id, job.rung)
        if self.restart and self.restart[0] == promotion:
            self.restart.popleft()  # its row is already `running`
        else:
            crash_point("rung_start")
            self.store.start_rung(job.child_id, job.rung, job.span.stop)
        self.ladder.start(promotion)
        self.running.add(job.child_id)

    def record(self, result: ChildResult) -> None:
        """A result of any rung: its state, then its rows, then what no longer needs a state."""
        rung = result.rung or 0
        if result.state is not None and result.status == "done":
            save_state(self.store.path, result.child_id, rung, result.state, self.store.durable)
            crash_point("rung_state")
        if rung == 0:
            record_result(self.store, result, rung_epochs=self.config.epochs[0])  # its crash point inside
        else:
            crash_point("child_finish")
            self.store.finish_rung(result.child_id, rung, self.config.epochs[rung], result.status, result.reward,
                                   result.metric, result.seconds, result.error)
            self.running.discard(result.child_id)
        self.ladder.record(result.child_id, rung, result.reward, ok=result.status == "done")
        if self.keep_states:
            self.delete_unneeded()

    def delete_unneeded(self) -> None:
        """Delete the saved states no promotion can continue from any more (rung_state.py)."""
        for child_id, rung in saved_states(self.store.path):
            if not self.ladder.needs_state(child_id, rung):
                delete_state(self.store.path, child_id, rung)

    def learned_rewards(self, children) -> list[float]:
        """What the strategy learns from for each child: its reward at the first rung (`first`), or at the
        highest it has reached (`highest`: the child's own row, runs/rung_rows.py); a refused child has no rung
        rows, only its penalty reward."""
        if self.config.score == "highest":
            return [c.reward for c in children]
        first = {row.child_id: row.reward for row in self.store.rungs(rung=0)}
        return [first.get(c.id, c.reward) for c in children]

    def batch_waiting(self, children) -> bool:
        """With `highest`: whether an update on `children` must wait, one of them having a promotion training or
        offered; with `first` an update never waits."""
        return self.config.score == "highest" and any(self.ladder.waiting(c.id) for c in children)
