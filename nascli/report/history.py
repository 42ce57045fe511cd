"""What a report shows of one run, read from its store (read-only, so a running search can be reported)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..arch.records import Architecture
from ..budget import Constraints
from ..runs import ChildRecord, EpochRecord, RunStore, StepRecord
from ..runs.fidelity import FidelityResult, TruthResult, load_fidelity, load_truth
from ..runs.metrics import CHANCE_KEY, Chance
from .rungs import rung_scores


@dataclass(frozen=True)
class RunHistory:
    name: str
    path: Path
    strategy: str  # reinforce or random
    space: str
    state: str
    children: list[ChildRecord]  # every sampled child, in sampling (id) order
    steps: list[StepRecord]  # controller steps: baseline and the batch's mean reward
    top: list[ChildRecord]  # the best finished children, best first
    fidelity: FidelityResult | None = None  # the run's last `nascli fidelity` study, if any
    truth: TruthResult | None = None  # the run's last `nascli fidelity --truth` comparison, if any
    epochs: list[EpochRecord] = ()  # ENAS: shared-weights loss, validation reward and entropy per epoch
    chance: Chance | None = None  # what a child that learnt nothing scores (None: a run made before it was kept)
    simulated: bool = False  # a benchmark run: its children's seconds are the simulated clock's
    rungs: dict = None  # --rungs: epochs of each rung -> rewards of the children that finished it (report/rungs.py)
    limited_by: str | None = None  # the cost the run was limited by (`limited_cost`): report's default --cost

    @property
    def label(self) -> str:
        return f"{self.name} ({self.strategy}, {self.space})"

    def depths(self) -> list[int]:
        """Depth of each child: the schedule's when the space has one, else its layer/node count."""
        return [c.depth if c.depth is not None else Architecture.model_validate_json(c.arch_json).depth
                for c in self.children]

    def positions(self, simulated_time: bool = False) -> list[float]:
        """Where each child is drawn: its place in sampling order (1, 2, ...), or with `simulated_time`
        the simulated clock when its query ended (the seconds of the finished children up to it)."""
        if not simulated_time:
            return list(range(1, len(self.children) + 1))
        clock, out = 0.0, []
        for child in self.children:
            if child.status in ("done", "failed"):
                clock += child.seconds or 0.0
            out.append(clock)
        return out

    def best_so_far(self, simulated_time: bool = False) -> tuple[list[float], list[float]]:
        """(positions, best reward of a finished child up to each), from the first finished child on."""
        xs: list[float] = []
        ys: list[float] = []
        best = None
        for position, child in zip(self.positions(simulated_time), self.children):
            if child.status == "done" and child.reward is not None:
                best = child.reward if best is None else max(best, child.reward)
            if best is not None:
                xs.append(position)
                ys.append(best)
        return xs, ys

    def step_ends(self, simulated_time: bool = False) -> dict[int, float]:
        """Controller step -> position of its last sampled child, where its baseline is drawn."""
        ends: dict[int, float] = {}
        for position, child in zip(self.positions(simulated_time), self.children):
            ends[child.step] = position
        return ends


def limited_cost(config: dict) -> str | None:
    """The cost a run's limits or objective are on (latency first: it is the one measured on purpose), or None."""
    limits = Constraints.model_validate(config.get("constraints") or {})
    if limits.needs_latency:
        return "latency_ms"
    return limits.objective_cost or ("macs" if limits.max_macs else "params" if limits.max_params else None)


def load_history(run_dir: str | Path, top: int = 10) -> RunHistory:
    with RunStore.open_readonly(run_dir) as store:
        summary = store.summary()
        return RunHistory(name=summary.name, path=Path(run_dir), strategy=summary.strategy or "?",
                          space=summary.space or "?", state=summary.state, children=store.children(),
                          steps=store.steps(), top=store.best(top), fidelity=load_fidelity(run_dir), truth=load_truth(run_dir),
                          epochs=store.epochs(), chance=Chance.loads(store.get_meta(CHANCE_KEY)),
                          simulated=bool(store.config.get("benchmark")), rungs=rung_scores(store),
                          limited_by=limited_cost(store.config))
