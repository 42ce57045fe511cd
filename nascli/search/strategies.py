"""Search strategies: who proposes the next children and learns from their rewards.

`reinforce` is the paper's controller trained with REINFORCE; `random` is its
control experiment (uniform over the space); `evolution` is regularised
evolution (evolution.py). All go through the same loop; `STRATEGIES` names
them (ENAS, whose unit of work is an epoch, has a loop of its own).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

from ..arch.sample import sample_assignment
from ..arch.tokens import Assignment
from ..errors import RunError
from ..space.compiler import CompiledSpace
from ..threads import single_thread
from .controller import ControllerConfig, new_controller
from .reinforce import Reinforce, ReinforceConfig, ReinforceStats

if TYPE_CHECKING:
    from .evolution import EvolutionConfig


class Strategy(Protocol):
    """Proposes children and learns from their rewards.

    `propose` must be a function of `state_dict()` alone: a search resumed
    after a kill replays a proposal from the checkpoint taken before it.
    `state_dict` must hold only tensors, dicts, lists, strings and numbers
    (checkpoints load with `torch.load(weights_only=True)`).
    """

    redraws: bool  # over a hard limit: draw again (True), or keep the sample with a penalty reward (False)

    def propose(self, m: int, depth: int | None) -> list[Assignment]: ...

    def update(self, assignments: list[Assignment], depth: int | None, rewards: list[float]) -> ReinforceStats | None: ...

    def log_probs(self, assignments: list[Assignment], depth: int | None) -> list[float] | None:
        """Each assignment's log-probability under the current policy (None: no policy)."""

    def update_async(self, assignments: list[Assignment], depths: list[int | None], rewards: list[float],
                     behaviour: list[float]) -> ReinforceStats | None:
        """An update on children sampled by earlier policies, with log-probs `behaviour` (see reinforce.py)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def random_state(rng: random.Random) -> list:
    """A `random.Random`'s state as plain lists and numbers: checkpoints are data."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_random_state(rng: random.Random, state: list) -> None:
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))


class RandomStrategy:
    """Uniformly random architectures; learns nothing."""

    redraws = True  # a draw over a --max-* limit is drawn again (budget/propose.py)

    def __init__(self, compiled: CompiledSpace, seed: int):
        self.compiled = compiled
        self.rng = random.Random(seed)

    def propose(self, m: int, depth: int | None) -> list[Assignment]:
        return [sample_assignment(self.compiled, self.rng, depth) for _ in range(m)]

    def update(self, assignments, depth, rewards) -> None:
        return None

    def log_probs(self, assignments, depth) -> None:
        return None

    def update_async(self, assignments, depths, rewards, behaviour) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"rng": random_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        set_random_state(self.rng, state["rng"])


class ReinforceStrategy:
    """The NAS controller: samples m children, then one REINFORCE step on their rewards.

    The update re-scores the sampled assignments (one more controller pass, cheap
    beside training children) so that a step resumed after a kill, whose samples
    come back from the run store, is updated exactly like one that never stopped.
    """

    redraws = False  # a sample over a --max-* limit keeps its place with the refused reward (budget/propose.py)

    def __init__(self, compiled: CompiledSpace, seed: int, controller: ControllerConfig, reinforce: ReinforceConfig):
        torch.manual_seed(seed)
        self.controller = new_controller(compiled, controller)
        self.reinforce = Reinforce(self.controller, reinforce)
        self.generator = torch.Generator().manual_seed(seed)
        self._sampled: tuple[list[Assignment], list[float]] | None = None  # the last proposal and its log-probs

    @single_thread()
    def propose(self, m: int, depth: int | None) -> list[Assignment]:
        with torch.no_grad():
            sample = self.controller.sample(m, depth, self.generator)
        self._sampled = (sample.assignments, sample.log_prob.tolist())
        return sample.assignments

    @single_thread()
    def update(self, assignments, depth, rewards) -> ReinforceStats:
        log_prob, entropy = self.controller.score(assignments, depth)
        return self.reinforce.step(log_prob, entropy, torch.tensor(rewards, dtype=torch.float32))

    @single_thread()
    def log_probs(self, assignments, depth) -> list[float]:
        if self._sampled is not None and assignments is self._sampled[0]:  # just sampled: the draw scored them
            return self._sampled[1]
        with torch.no_grad():
            return self.controller.score(assignments, depth)[0].tolist()

    @single_thread()
    def update_async(self, assignments, depths, rewards, behaviour) -> ReinforceStats:
        # the controller scores one depth at a time; children of one async update may differ
        log_prob, entropy = torch.zeros(len(assignments)), torch.zeros(len(assignments))
        for depth in dict.fromkeys(depths):
            rows = [i for i, d in enumerate(depths) if d == depth]
            lp, ent = self.controller.score([assignments[i] for i in rows], depth)
            index = torch.tensor(rows)
            log_prob, entropy = log_prob.index_put((index,), lp), entropy.index_put((index,), ent)
        return self.reinforce.step(log_prob, entropy, torch.tensor(rewards, dtype=torch.float32),
                                   behaviour_log_prob=torch.tensor(behaviour, dtype=torch.float32))

    def state_dict(self) -> dict[str, Any]:
        return {"controller": self.controller.state_dict(), "reinforce": self.reinforce.state_dict(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._sampled = None
        self.controller.load_state_dict(state["controller"])
        self.reinforce.load_state_dict(state["reinforce"])
        self.generator.set_state(state["generator"])


# Every strategy the search loop runs, by name: `search --strategy`, `compare --strategies` and
# SearchConfig read this tuple; a strategy added here and to make_strategy works in all of them.
STRATEGIES: tuple[str, ...] = ("reinforce", "random", "evolution")


def make_strategy(name: str, compiled: CompiledSpace, seed: int, controller: ControllerConfig,
                  reinforce: ReinforceConfig, evolution: EvolutionConfig | None = None) -> Strategy:
    """The strategy `name` (one of STRATEGIES), seeded."""
    if name == "random":
        return RandomStrategy(compiled, seed)
    if name == "evolution":
        from .evolution import EvolutionConfig, EvolutionStrategy  # it imports this module's helpers

        return EvolutionStrategy(compiled, seed, evolution or EvolutionConfig())
    if name != "reinforce":
        raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    return ReinforceStrategy(compiled, seed, controller, reinforce)


def restore_state(strategy, name: str, state: Any, checkpoints: Path) -> None:
    """Load a checkpoint's strategy state into `strategy` (any object with `load_state_dict`); a RunError
    (exit 2) when it does not fit, as another run's checkpoint copied into `checkpoints` does."""
    try:
        strategy.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as err:
        first = str(err).strip().splitlines()[0].rstrip(":") if str(err).strip() else ""
        raise RunError(f"the controller checkpoint does not fit this run's {name} strategy ({type(err).__name__}: "
                       f"{first[:200]}); is it another run's?", where=str(checkpoints)) from None
