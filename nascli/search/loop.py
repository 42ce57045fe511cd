"""The search loop: propose m children, train them, learn from their rewards, repeat.

Every step is recorded in the run store as it happens, in an order that a
search stopped at any point (Ctrl-C, SIGTERM, `kill -9`) resumes from without
losing a finished child, training one twice, or changing what it samples:
1. propose m architectures (depth from the space's schedule) and record them as
   `pending` in one transaction; the strategy is not checkpointed here (its RNG
   has moved, but a resume replays the proposal from the checkpoint before it,
   which gives the same samples and the same state: one checkpoint per step);
2. train every pending child of the step through the executor, recording each
   result as it arrives;
3. update the strategy on the step's rewards, record the step, checkpoint.
On resume, a step with children but no update is finished first: the
checkpoint predates the step's proposal, so the proposal is replayed from it
so that the strategy's RNG is where it was; children left `running` are re-run.
The run's crash points (runs/crashpoints.py) sit before each of these writes.

With `async_k` (`--async K`) the loop in async_loop.py runs instead: every
worker stays busy and the controller updates after every K finished children.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Literal

from pydantic import BaseModel, Field, model_validator

from ..arch import architecture, decode, decode_tokens
from ..benchmarks.query import BenchmarkConfig
from ..budget import Constraints, Cost
from ..budget.cost import Coster
from ..budget.propose import propose_within
from ..children import ChildConfig
from ..space.compiler import CompiledSpace
from ..train import RewardConfig, TrainConfig
from .controller import ControllerConfig
from .enas.config import EnasConfig
from ..data.spec import DataSpec
from ..errors import RunError
from ..runs import RunStore
from ..runs.checkpoint import CHECKPOINT_NAME
from ..runs.crashpoints import crash_point
from ..runs.store import CHECKPOINT_DIR
from ..runs import ChildRecord
from .clock import make_clock
from .evaluate import ChildJob, ChildResult, record_result
from .executor import Executor, ExecutorConfig
from .reinforce import ReinforceConfig, ReinforceStats
from .rungs import RungConfig
from .evolution import EvolutionConfig
from .strategies import STRATEGIES, Strategy, make_strategy, restore_state

SEARCH_STRATEGIES = (*STRATEGIES, "enas")  # enas has a loop of its own (search/enas/)


class SearchConfig(BaseModel):
    """Everything a search needs; stored in the run's config.json and reused on resume."""

    strategy: Literal[SEARCH_STRATEGIES] = "reinforce"
    data: DataSpec  # a benchmark search reads no data: the space's default, for export and render
    budget: int | None = Field(12, ge=1)  # children in all; None: until the time budget
    time_budget: float | None = Field(None, gt=0)  # seconds (simulated on a benchmark, else wall); see clock.py
    benchmark: BenchmarkConfig | None = None  # children looked up in a table instead of trained
    controller_preset: str | None = None  # the named REINFORCE settings the run started from (presets.py)
    batch: int = Field(4, ge=1)  # m: children per controller step
    seed: int = 0
    workers: int = Field(1, ge=1)  # children trained at once
    executor: ExecutorConfig = ExecutorConfig()
    device: str = "auto"  # auto, cpu, cuda, cuda:N; a run records the one auto chose, each child the one it used
    async_k: int | None = Field(None, ge=1)  # asynchronous: update after every K finished children
    train: TrainConfig = TrainConfig()
    reward: RewardConfig = RewardConfig()
    controller: ControllerConfig = ControllerConfig()
    reinforce: ReinforceConfig = ReinforceConfig()
    evolution: EvolutionConfig = EvolutionConfig()  # strategy evolution: P and S
    child: ChildConfig = ChildConfig()
    enas: EnasConfig | None = None  # strategy enas: its phases (nascli/search/enas/); budget = children derived
    rungs: RungConfig | None = None  # successive halving (ASHA, rungs.py); train.epochs is the last rung's
    constraints: Constraints = Constraints()  # --max-params, --max-macs, --max-latency (docs/budgets.md)

    @model_validator(mode="after")
    def _budgets(self) -> "SearchConfig":
        if self.budget is None and self.time_budget is None:
            raise ValueError("a search needs a budget: children (budget), seconds (time_budget) or both")
        if self.strategy == "enas" and (self.time_budget is not None or self.benchmark is not None):
            raise ValueError("enas runs a schedule of epochs: no time budget and no benchmark")
        if self.rungs is not None and self.strategy == "enas":
            raise ValueError("enas trains one shared network: it has no children to promote between rungs")
        if self.rungs is not None and self.benchmark is None and self.train.epochs != self.rungs.epochs[-1]:
            raise ValueError("with rungs, train.epochs is the last rung's: the LR schedule spans them all")
        return self

    def children_left(self, sampled: int) -> int | None:
        """Children the children budget still allows (None: no such budget)."""
        return None if self.budget is None else max(0, self.budget - sampled)


@dataclass
class SearchEvent:
    """What the loop tells its observer (the CLI's live view)."""

    kind: Literal["step_started", "child_finished", "rung_finished", "step_finished"]
    step: int
    depth: int | None = None
    result: ChildResult | None = None
    tokens: str | None = None
    stats: ReinforceStats | None = None


Observer = Callable[[SearchEvent], None]


CHECKPOINT_FORMAT = 2  # adds `proposed_through`; format 1 (no such key) is converted on load


class Search:
    """One run: a store, a strategy and an executor, driven by `run()`.

    `reset_controller`: start the strategy afresh (seeded by the seed and the
    children already sampled, so it does not re-sample step 0), keeping every
    recorded child; the way on when the run's checkpoints are lost.
    """

    def __init__(self, config: SearchConfig, compiled: CompiledSpace, store: RunStore, executor: Executor,
                 reset_controller: bool = False, coster: Coster | None = None):
        self.config, self.compiled, self.store, self.executor = config, compiled, store, executor
        self.coster = coster  # the cost of each proposal, where the config has limits (budget/cost.py)
        self.updated_through = -1  # last step whose rewards the strategy has learned from
        self.proposed_through = -1  # last step whose proposal the strategy's state includes
        self.consumed = 0  # async: finished children (in finish order) the updates have learned from
        self.proposed_children: int | None = 0  # children the strategy's state has proposed (None: unknown, older runs)
        self.clock = make_clock(store, config.time_budget, simulated=config.benchmark is not None)
        self.out_of_time = False  # the time budget ended the search before a child (clock.py)
        self._proposed: dict = {}  # child id -> the Architecture this session proposed, until its job is made
        if reset_controller:
            self._reset_strategy()
        else:
            self.strategy = initial_strategy(config, compiled)
            self._restore(store.load_checkpoint())
        self.promotions = None
        if config.rungs is not None:
            from .promotions import Promotions

            self.promotions = Promotions(self, config.rungs)

    def _restore(self, checkpoint: dict | None) -> None:
        if checkpoint is None and self.store.last_step() is None:
            return  # nothing proposed yet: the seeded strategy is the run's state
        if checkpoint is None:
            raise RunError(f"the controller checkpoint is missing ({CHECKPOINT_DIR}/{CHECKPOINT_NAME}); "
                           "resume with --reset-controller to go on with a fresh controller, keeping every "
                           "recorded child", where=str(self.store.path))
        restore_state(self.strategy, self.config.strategy, checkpoint["strategy"], self.store.path / CHECKPOINT_DIR)
        self.updated_through = checkpoint["updated_through"]
        proposed = checkpoint.get("proposed_through")
        if not isinstance(proposed, int):  # format 1 checkpointed after proposing, before recording
            proposed = self.updated_through + bool(self.store.children(step=self.updated_through + 1, limit=1))
        self.proposed_through = proposed
        self.consumed = int(checkpoint.get("consumed", 0))
        self.proposed_children = checkpoint.get("proposed_children")

    def _reset_strategy(self) -> None:
        fresh_seed = (self.config.seed + self.store.samples) % 2**32
        self.strategy = initial_strategy(self.config.model_copy(update={"seed": fresh_seed}), self.compiled)
        steps = self.store.steps()
        self.updated_through = steps[-1].step if steps else -1
        last = self.store.last_step()
        self.proposed_through = -1 if last is None else last  # the fresh strategy proposed none of them
        self.proposed_children = len(self.proposal_rows())
        self._checkpoint()

    def _checkpoint(self) -> None:
        self.store.save_checkpoint(checkpoint_state(self.strategy, self.updated_through, self.proposed_through,
                                                    self.consumed, self.proposed_children))

    def proposal_rows(self, children: list[ChildRecord] | None = None) -> list[ChildRecord]:
        """The recorded children that each took one of the strategy's proposals: all of them, except the
        draws a redrawing strategy refused and drew again for (those came within the same proposal)."""
        children = self.store.children() if children is None else children
        return [c for c in children if c.status != "refused"] if self.strategy.redraws else children

    def _draw(self, m: int, depth: int | None):
        """The strategy's next m children to train, checked against the limits (refused draws included)."""
        return propose_within(self.strategy, m, depth, lambda a: architecture(self.compiled, a, depth), self.coster,
                              self.compiled)

    def _propose(self, step: int, m: int | None = None, checkpoint: bool = True) -> None:
        """Sample and record a step's children; `checkpoint=False` leaves the strategy's new state unsaved,
        which a resume rebuilds by replaying the proposal (`_replay_proposal`)."""
        sampled = self.store.samples
        left = self.config.children_left(sampled)
        m = min(m or self.config.batch, left if left is not None else self.config.batch)
        depth = self.compiled.depth_at(sampled)
        proposals = self._draw(m, depth)
        log_probs = self.strategy.log_probs([p.assignment for p in proposals], depth)
        penalty = self.config.constraints.refused_reward if not self.strategy.redraws else None
        refusals = [None if p.refused is None else (p.refused, penalty) for p in proposals]
        crash_point("propose")
        ids = self.store.add_children(step, depth, [(p.arch.tokens, p.arch.model_dump_json()) for p in proposals],
                                      log_probs, [p.cost for p in proposals], refusals)
        self._proposed.update((i, p.arch) for i, p in zip(ids, proposals) if p.refused is None)
        self.proposed_through, self.proposed_children = step, len(self.proposal_rows())
        if checkpoint:
            self._checkpoint()

    def _replay_proposal(self, step: int) -> None:
        """The step's children are recorded but the checkpoint predates them: propose again
        from the checkpoint (same state, same samples) so the strategy moves on as it did."""
        if self.proposed_through >= step:
            return
        children = self.store.children(step=step)
        self._draw(len(self.proposal_rows(children)), children[0].depth)
        self.proposed_through, self.proposed_children = step, len(self.proposal_rows())
        self._checkpoint()

    def job(self, child: ChildRecord) -> ChildJob:
        """The work order for a recorded child (its architecture as proposed, or decoded from its tokens)."""
        arch = self._proposed.pop(child.id, None)
        if arch is None:
            arch = architecture(self.compiled, *decode_tokens(self.compiled, child.tokens))
        return ChildJob(child_id=child.id, arch=arch, train=self.config.train, reward=self.config.reward,
                        child=self.config.child, span=self.promotions.first_span() if self.promotions else None)

    def record(self, result: ChildResult, step: int, tokens: str, observe: Observer | None) -> None:
        """Write a finished child (or one of its rungs) to the store (this process is its only writer) and
        tell the observer; with --objective, its reward is first scaled by MnasNet's (cost / target)^w
        (docs/budgets.md)."""
        limits = self.config.constraints
        if limits.objective_cost is not None and result.status == "done":
            latency = self.coster.cost(decode(tokens, self.compiled)).latency_ms if limits.needs_latency else None
            factor = limits.objective_factor(Cost(result.params, result.macs, latency))
            result = result.model_copy(update={"reward": result.reward * factor})
        if self.promotions:
            self.promotions.record(result)
        else:
            record_result(self.store, result)
        self.clock.charge(result.seconds)
        if observe:
            kind = "rung_finished" if result.rung else "child_finished"
            observe(SearchEvent(kind, step, result=result, tokens=tokens))

    def learned_rewards(self, children: list[ChildRecord]) -> list[float]:
        """The reward the strategy learns from for each child: with rungs, its first rung's or its highest
        rung's (`--rung-score`, promotions.py)."""
        return self.promotions.learned_rewards(children) if self.promotions else [c.reward for c in children]

    def next_job(self, waiting: deque[ChildJob]) -> ChildJob | None:
        """What a free worker trains next: a promotion, else the next of `waiting` (taken from it); None
        when there is nothing, or the time budget does not let it start (then `out_of_time`)."""
        promotion = self.promotions.next_job() if self.promotions else None
        job = promotion or (waiting[0] if waiting else None)
        if job is None or not self.may_start(job):
            return None
        if promotion is not None:
            self.promotions.start(promotion)
        else:
            waiting.popleft()
        return job

    def may_start(self, job: ChildJob) -> bool:
        """Whether the time budget lets `job` start; the first refusal ends the search (clock.py)."""
        self.out_of_time = self.out_of_time or not self.clock.allows(self.executor.cost(job))
        return not self.out_of_time

    def _train_pending(self, step: int, observe: Observer | None) -> None:
        """Train the step's pending children, each started only while the time budget allows it;
        those it does not allow go back to pending and the search ends (`out_of_time`). With rungs, a free
        worker takes a promotion first (of any step's child), and the step ends when its children have
        finished the first rung and no promotion is left to train."""
        pending = [c for c in self.store.children(step=step) if c.status in ("pending", "running")]
        if not pending and not self.promotions:
            return
        tokens = {c.id: c.tokens for c in pending}
        if pending:
            crash_point("child_start")
            self.store.mark_running([c.id for c in pending if c.status == "pending"])
        jobs = deque(self.job(c) for c in pending)
        while True:
            while self.executor.in_flight < self.executor.capacity and (job := self.next_job(jobs)) is not None:
                tokens.setdefault(job.child_id, job.arch.tokens)
                self.executor.submit(job)
            if self.out_of_time and jobs:
                self.store.requeue([job.child_id for job in jobs])
                jobs.clear()
            if not self.executor.in_flight:
                break
            result = self.executor.next_result()
            self.record(result, step, tokens[result.child_id], observe)

    def _update(self, step: int) -> ReinforceStats | None:
        # refused children teach only a strategy that gave them a reward (reinforce); the others drew again
        children = [c for c in self.store.children(step=step) if c.reward is not None]
        decoded = [decode_tokens(self.compiled, c.tokens) for c in children]
        depth = decoded[0][1]
        rewards = self.learned_rewards(children)
        stats = self.strategy.update([a for a, _ in decoded], depth, rewards)
        self.updated_through = step
        crash_point("update")
        self.store.record_step(step, stats.baseline if stats else None, sum(rewards) / len(rewards),
                               stats.loss if stats else None, stats.entropy_mean if stats else None, depth)
        self._checkpoint()
        return stats

    def close(self) -> None:
        """Stop the executor's workers (the store is closed by its owner)."""
        self.executor.close()

    def run(self, observe: Observer | None = None) -> None:
        """Search until `budget` children are trained; safe to stop and call again."""
        self.store.state = "running"
        if self.config.async_k:
            from .async_loop import run_async

            run_async(self, observe)
            return self.finish()
        last = self.store.last_step()
        # a step with children but no update was cut short: finish it first
        step = last if last is not None and last > self.updated_through else self.updated_through + 1
        while True:
            if self.store.children(step=step, limit=1):
                self._replay_proposal(step)
            elif self.config.children_left(self.store.samples) == 0:
                self._train_pending(step, observe)  # with rungs: promotions a resume found left
                break
            else:  # the next checkpoint is the update's: a kill before it replays this proposal
                self._propose(step, checkpoint=False)
            depth = self.store.children(step=step, limit=1)[0].depth
            if observe:
                observe(SearchEvent("step_started", step, depth=depth))
            self._train_pending(step, observe)
            if self.out_of_time:  # a partial batch teaches nothing; a resume with more time goes on from here
                self._checkpoint()  # the state as proposed, whether this session proposed or replayed the step
                break
            stats = self._update(step)
            if observe:
                observe(SearchEvent("step_finished", step, depth=depth, stats=stats))
            step += 1
        self.finish()

    def finish(self) -> None:
        self.clock.save()
        crash_point("finish")
        self.store.state = "finished"
        self.store.set_meta("finished_at", time.time())


def initial_strategy(config: SearchConfig, compiled: CompiledSpace) -> Strategy:
    """The strategy a new run starts with (its state is the run's first checkpoint)."""
    return make_strategy(config.strategy, compiled, config.seed, config.controller, config.reinforce, config.evolution)


def checkpoint_state(strategy: Strategy, updated_through: int, proposed_through: int, consumed: int = 0,
                     proposed_children: int | None = 0) -> dict:
    """What a checkpoint holds: plain tensors, containers and numbers only (loaded with weights_only).
    `consumed`: with --async, how many finished children (in finish order) the updates have used;
    `proposed_children`: how many children the strategy's state has proposed (--async replays the rest)."""
    return {"format": CHECKPOINT_FORMAT, "strategy": strategy.state_dict(), "updated_through": updated_through,
            "proposed_through": proposed_through, "consumed": consumed, "proposed_children": proposed_children}
