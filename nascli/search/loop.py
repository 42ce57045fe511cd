"""The search loop: propose m children, train them, learn from their rewards, repeat.

Every step is recorded in the run store before and after the work it stands
for, so a search stopped at any point (Ctrl-C, `kill -9`) resumes without
losing a finished child or training one twice:
1. propose m architectures (depth from the space's schedule), checkpoint the
   strategy (its RNG has moved), add the children as `pending`;
2. train every pending child of the step through the executor, recording each
   result as it arrives;
3. update the strategy on the step's rewards, record the step, checkpoint.
On resume, a step with children but no update is finished first (its children
left `running` are re-run), then the loop goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

from pydantic import BaseModel, Field

from ..arch import architecture, decode_tokens
from ..children import ChildConfig
from ..space.compiler import CompiledSpace
from ..train import RewardConfig, TrainConfig
from .controller import ControllerConfig
from .enas.config import EnasConfig
from ..data.spec import DataSpec
from ..runs import RunStore
from .evaluate import ChildJob, ChildResult
from .executor import Executor
from .reinforce import ReinforceConfig, ReinforceStats
from .strategies import Strategy, make_strategy


class SearchConfig(BaseModel):
    """Everything a search needs; stored in the run's config.json and reused on resume."""

    strategy: Literal["reinforce", "random", "enas"] = "reinforce"
    data: DataSpec
    budget: int = Field(12, ge=1)  # children in all
    batch: int = Field(4, ge=1)  # m: children per controller step
    seed: int = 0
    workers: int = Field(1, ge=1)
    train: TrainConfig = TrainConfig()
    reward: RewardConfig = RewardConfig()
    controller: ControllerConfig = ControllerConfig()
    reinforce: ReinforceConfig = ReinforceConfig()
    child: ChildConfig = ChildConfig()
    enas: EnasConfig | None = None  # strategy enas: its phases (nascli/search/enas/); budget = children derived


@dataclass
class SearchEvent:
    """What the loop tells its observer (the CLI's live view)."""

    kind: Literal["step_started", "child_finished", "step_finished"]
    step: int
    depth: int | None = None
    result: ChildResult | None = None
    tokens: str | None = None
    stats: ReinforceStats | None = None


Observer = Callable[[SearchEvent], None]


class Search:
    """One run: a store, a strategy and an executor, driven by `run()`."""

    def __init__(self, config: SearchConfig, compiled: CompiledSpace, store: RunStore, executor: Executor):
        self.config, self.compiled, self.store, self.executor = config, compiled, store, executor
        self.strategy: Strategy = make_strategy(config.strategy, compiled, config.seed, config.controller, config.reinforce)
        checkpoint = store.load_checkpoint()
        self.updated_through = -1  # last step whose rewards the strategy has learned from
        if checkpoint is not None:
            self.strategy.load_state_dict(checkpoint["strategy"])
            self.updated_through = checkpoint["updated_through"]

    def _checkpoint(self) -> None:
        self.store.save_checkpoint({"strategy": self.strategy.state_dict(), "updated_through": self.updated_through})

    def _propose(self, step: int) -> None:
        sampled = int(self.store.get_meta("samples", "0"))
        m = min(self.config.batch, self.config.budget - sampled)
        depth = self.compiled.depth_at(sampled)
        assignments = self.strategy.propose(m, depth)
        self._checkpoint()
        archs = [architecture(self.compiled, a, depth) for a in assignments]
        self.store.add_children(step, depth, [(a.tokens, a.model_dump_json()) for a in archs])

    def _train_pending(self, step: int, observe: Observer | None) -> None:
        pending = [c for c in self.store.children(step=step) if c.status in ("pending", "running")]
        if not pending:
            return
        jobs = [ChildJob(child_id=c.id, arch=architecture(self.compiled, *decode_tokens(self.compiled, c.tokens)),
                         train=self.config.train, reward=self.config.reward, child=self.config.child) for c in pending]
        tokens = {c.id: c.tokens for c in pending}
        self.store.mark_running([c.id for c in pending if c.status == "pending"])
        for result in self.executor.map(jobs):
            if result.status == "done":
                self.store.finish_child(result.child_id, result.reward, result.metric, result.metric_name,
                                        result.params, result.macs, result.seconds)
            else:
                self.store.fail_child(result.child_id, result.error, result.reward, result.seconds)
            if observe:
                observe(SearchEvent("child_finished", step, result=result, tokens=tokens[result.child_id]))

    def _update(self, step: int) -> ReinforceStats | None:
        children = self.store.children(step=step)
        decoded = [decode_tokens(self.compiled, c.tokens) for c in children]
        depth = decoded[0][1]
        rewards = [c.reward for c in children]
        stats = self.strategy.update([a for a, _ in decoded], depth, rewards)
        self.updated_through = step
        self.store.record_step(step, stats.baseline if stats else None, sum(rewards) / len(rewards),
                               stats.loss if stats else None, stats.entropy_mean if stats else None, depth)
        self._checkpoint()
        return stats

    def run(self, observe: Observer | None = None) -> None:
        """Search until `budget` children are trained; safe to stop and call again."""
        self.store.state = "running"
        last = self.store.last_step()
        # a step with children but no update was cut short: finish it first
        step = last if last is not None and last > self.updated_through else self.updated_through + 1
        while True:
            if not self.store.children(step=step):
                if int(self.store.get_meta("samples", "0")) >= self.config.budget:
                    break
                self._propose(step)
            depth = self.store.children(step=step, limit=1)[0].depth
            if observe:
                observe(SearchEvent("step_started", step, depth=depth))
            self._train_pending(step, observe)
            stats = self._update(step)
            if observe:
                observe(SearchEvent("step_finished", step, depth=depth, stats=stats))
            step += 1
        self.store.state = "finished"
        self.store.set_meta("finished_at", time.time())
