"""The asynchronous search (`--async K`): the paper's parameter-server behaviour.

Every worker stays busy: whenever one frees up, the controller samples one new
child (recorded with the log-probability it was sampled with, and as `step` the
number of controller updates made so far: the policy version that sampled it).
After every K finished children, in the order they finished, the controller
updates on those K with the clipped importance ratio of reinforce.py, which
corrects for the policy having moved since they were sampled. The last update
takes whatever is left (< K) once the budget is trained.

With `--time-budget`, a child starts only while the clock allows it (clock.py);
the first it does not ends the search, with no partial update at the end.

Durable state and resume after `kill -9`: the checkpoint holds the strategy,
`updated_through` (the last update's number) and `consumed` (how many finished
children, in finish order (finished, id), the updates have learned from) and
`proposed_children`. A kill between an update's record and its checkpoint redoes
that update; a kill between recording a new child and the checkpoint after it
replays that proposal from the checkpoint, so the strategy's RNG (and
evolution's count of children proposed) moves on as it did; children left
`pending` or `running` are trained again; finished ones are never touched.
With one worker children finish in the order they were sampled, so a resumed
search equals one never stopped; with more, the finish order of the children
trained again depends on timing, but what was recorded is never reordered.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from ..arch import decode_tokens
from ..runs import ChildRecord
from ..runs.crashpoints import crash_point
from .loop import SearchEvent

if TYPE_CHECKING:
    from .loop import Observer, Search


def _finished_in_order(search: Search) -> list[ChildRecord]:
    # a refused child with a reward (reinforce's penalty) is learnt from as if it had finished
    closed = [c for c in search.store.children() if c.status in ("done", "failed")
              or (c.status == "refused" and c.reward is not None)]
    return sorted(closed, key=lambda c: (c.finished, c.id))


def _batch_ready(search: Search, consumed: int, k: int) -> bool:
    """Whether the next K finished children make an update now: with `--rung-score highest` it also waits
    until none of them has a promotion training or offered (promotions.py)."""
    batch = _finished_in_order(search)[consumed:consumed + k]
    return len(batch) == k and not (search.promotions and search.promotions.batch_waiting(batch))


def _log_prob_now(search: Search, assignment, depth: int | None) -> float:
    """A child recorded without its sampling log-prob (a run from before they were kept, or a
    strategy without a policy) counts as sampled by today's policy: ratio 1."""
    now = search.strategy.log_probs([assignment], depth)
    return now[0] if now else 0.0


def _update(search: Search, consumed: int, take: int, observe: Observer | None) -> int:
    """Learn from finished children [consumed, consumed + take); returns the new `consumed`."""
    batch = _finished_in_order(search)[consumed:consumed + take]
    decoded = [decode_tokens(search.compiled, c.tokens) for c in batch]
    rewards = search.learned_rewards(batch)
    behaviour = [c.log_prob if c.log_prob is not None else _log_prob_now(search, a, d)
                 for c, (a, d) in zip(batch, decoded)]
    stats = search.strategy.update_async([a for a, _ in decoded], [d for _, d in decoded], rewards, behaviour)
    step = search.updated_through + 1
    crash_point("update")
    search.store.record_step(step, stats.baseline if stats else None, sum(rewards) / len(rewards),
                             stats.loss if stats else None, stats.entropy_mean if stats else None, decoded[-1][1])
    search.updated_through, search.consumed = step, consumed + len(batch)
    search._checkpoint()
    if observe:
        observe(SearchEvent("step_finished", step, depth=decoded[-1][1], stats=stats))
    return search.consumed


def _submit(search: Search, child: ChildRecord, running: dict[int, ChildRecord]) -> None:
    """Start `child` if the time budget allows it; it stays pending (or goes back to it) if not."""
    job = search.job(child)
    if not search.may_start(job):
        if child.status == "running":
            search.store.requeue([child.id])
        return
    if child.status == "pending":
        search.store.mark_running([child.id])
    running[child.id] = child
    search.executor.submit(job)


def _promote(search: Search, running: dict[int, ChildRecord]) -> None:
    """With rungs: fill free workers with promotions first (ASHA: a new child only when there is none)."""
    while search.promotions and len(running) < search.executor.capacity and not search.out_of_time:
        job = search.next_job(deque())
        if job is None:
            return
        running[job.child_id] = search.store.child(job.child_id)
        search.executor.submit(job)


def _replay_proposals(search: Search) -> None:
    """Children recorded after the checkpoint's last proposal: propose them again from it."""
    covered, rows = search.proposed_children, search.proposal_rows()
    if covered is None or covered >= len(rows):  # None: a checkpoint of an older run
        return
    for child in rows[covered:]:
        search._draw(1, child.depth)  # with the limits' draws again, as the proposal made them
    search.proposed_children = len(rows)
    search._checkpoint()


def run_async(search: Search, observe: Observer | None) -> None:
    """Train until the budget is done, updating after every K finished children."""
    k = search.config.async_k
    _replay_proposals(search)
    consumed = search.consumed
    running: dict[int, ChildRecord] = {}
    for child in search.store.children():  # cut short last time: train again
        if child.status in ("pending", "running"):
            _submit(search, child, running)
    while True:
        while _batch_ready(search, consumed, k):
            consumed = _update(search, consumed, k, observe)
        _promote(search, running)
        refused = False
        while (len(running) < search.executor.capacity and not search.out_of_time
               and search.config.children_left(search.store.samples) != 0):
            version = search.updated_through + 1
            search._propose(version, 1)
            newest = search.store.children(step=version)[-1]
            if newest.status == "refused":  # reinforce's penalised sample: learn from it before proposing more
                refused = True
                break
            if observe:
                observe(SearchEvent("step_started", version, depth=newest.depth))
            _submit(search, newest, running)
        if refused:
            continue
        if not running:
            break
        result = search.executor.next_result()
        child = running.pop(result.child_id)
        search.record(result, child.step, child.tokens, observe)
    left = len(_finished_in_order(search)) - consumed
    if left and not search.out_of_time:  # out of time: as in the synchronous loop, no partial update
        _update(search, consumed, left, observe)
