"""An ENAS search: epochs of the two phases on one super-network, then deriving the result.

Run folder, as for every strategy: the derived children are `children` rows
(step = the number of epochs), so `show`, `report` and `eval --best` read them
as usual; each epoch adds an `enas_epochs` row and a `controller_steps` row.

Checkpoints (`checkpoints/controller.pt`, written atomically by the run store)
hold the shared weights, the controller, both optimisers, the baseline, the
position in the schedule (epoch, phase, minibatch or controller step) and the
RNG states as tensors: plain containers of tensors, numbers and strings that
`torch.load(weights_only=True)` reads; they load on the CPU and are moved to
the resumed search's device, so a run may resume on another device. One is written after every epoch and
on Ctrl-C; so a `kill -9` loses at most the work since the last finished
epoch (or Ctrl-C), and deriving, whose every scored child is a finished row,
loses at most the child in flight. Every draw (data order, the sampled
children, each controller step) is seeded by (seed, epoch, position), so a
resumed search samples what an unbroken one would have; a language model's
hidden states are checkpointed too. The crash point `enas_epoch` sits just
before the epoch checkpoint (the generic `checkpoint` and `checkpoint_rotate`
fire inside the store's write, as for every strategy; `child_finish` and
`finish` sit where the search loop has them, before a derived child's row
and before the run is marked finished).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable, Literal

import torch

from ...arch import Architecture
from ...children import profile_child
from ...data import Data, ImageData
from ...errors import ChildError, RunError
from ...memory import check_module_memory
from ...runs import EpochRecord, RunStore
from ...runs.crashpoints import crash_point
from ...runs.store import CHECKPOINT_DIR
from ...space.compiler import CompiledSpace
from ...threads import single_thread
from ...train.loops import EVAL_BATCH, accuracy, perplexity
from ..controller import Controller, check_controller_memory
from ..evaluate import ChildResult, record_result
from ..strategies import restore_state
from .batches import Batches, epoch_seed
from .limits import enas_limits
from .phases import Phases, StepStats
from .supernet import SharedWeights, search_depth


@dataclass
class EnasEvent:
    """What the search tells the live view."""

    kind: Literal["batch", "controller_step", "epoch_finished", "deriving", "child_finished"]
    epoch: int
    done: int = 0  # minibatches or controller steps of the phase done
    total: int = 0
    loss: float | None = None
    stats: StepStats | None = None
    record: EpochRecord | None = None
    result: ChildResult | None = None
    tokens: str | None = None
    # batch and controller_step: the epoch's refusal counts so far (refused_shared, refused_controller;
    # empty without limits), which its row records once it ends
    refused: dict[str, int] = field(default_factory=dict)


Observer = Callable[[EnasEvent], None]
TOTALS = ("loss", "batches", "reward", "entropy", "steps", "seconds", "controller_seconds", "refused_shared",
          "refused_controller")


def check_enas_memory(config, compiled: CompiledSpace, task) -> None:
    """ResourceError when the shared weights (at their largest shapes) or the controller cannot fit in
    memory; called before a run folder is made, and before a resume builds them."""
    depth = search_depth(compiled, config.enas.depth if config.enas else None)
    check_module_memory(lambda: SharedWeights(compiled, task, config.child, depth), "the shared weights",
                        config.device)
    check_controller_memory(compiled, config.controller)


class EnasSearch:
    """One ENAS run, driven by `run()`; safe to stop and call again on the same store."""

    def __init__(self, config, compiled: CompiledSpace, store: RunStore, data: Data):
        self.config, self.compiled, self.store, self.data = config, compiled, store, data
        cfg = config.enas
        if cfg is None:
            raise RunError("strategy enas needs its settings (SearchConfig.enas; the CLI fills them in)",
                           where=str(store.path))
        torch.manual_seed(config.seed)
        # built on the CPU (the same initial weights whatever the device), then moved; the controller stays
        # on the CPU (see phases.py)
        depth = search_depth(compiled, cfg.depth)
        self.shared = SharedWeights(compiled, data.task, config.child, depth).to(config.device)
        self.controller = Controller(compiled, config.controller)  # sized by check_enas_memory first
        self.batches = Batches(data, cfg, config.seed, config.device)
        self.limits = enas_limits(config, compiled, store, data.task, depth)
        self.phases = Phases(self.shared, self.controller, self.batches, cfg, config.seed, config.train.amp,
                             self.limits)
        self.epoch, self.phase, self.index = 0, "shared", 0
        self.totals = dict.fromkeys(TOTALS, 0.0)
        checkpoint = store.load_checkpoint()
        if checkpoint is not None:  # another run's (another space's) is refused, as the other strategies do
            restore_state(self, "enas", checkpoint["strategy"], store.path / CHECKPOINT_DIR)

    def state_dict(self) -> dict:
        p = self.phases
        return {"shared": self.shared.state_dict(), "controller": self.controller.state_dict(),
                "shared_opt": p.shared_opt.state_dict(), "controller_opt": p.controller_opt.state_dict(),
                "baseline": p.baseline, "valid_position": self.batches.valid_position,
                "epoch": self.epoch, "phase": self.phase, "index": self.index, "totals": dict(self.totals),
                "augment_gen": p.augment_gen.get_state(), "torch_rng": torch.get_rng_state(),
                # a language model's hidden states (tensors or None): a resume goes on from them
                "train_state": p.train_state, "valid_state": p.valid_state}

    def load_state_dict(self, state: dict) -> None:
        p = self.phases
        self.shared.load_state_dict(state["shared"])
        self.controller.load_state_dict(state["controller"])
        p.shared_opt.load_state_dict(state["shared_opt"])
        p.controller_opt.load_state_dict(state["controller_opt"])
        p.baseline, self.batches.valid_position = state["baseline"], state["valid_position"]
        self.epoch, self.phase, self.index = state["epoch"], state["phase"], state["index"]
        self.totals = {**dict.fromkeys(TOTALS, 0.0), **state["totals"]}  # a checkpoint from before the limits
        p.augment_gen.set_state(state["augment_gen"])
        torch.set_rng_state(state["torch_rng"])
        device = self.config.device  # checkpoints load on the CPU
        p.train_state, p.valid_state = (_state_to(state.get(k), device) for k in ("train_state", "valid_state"))

    def _checkpoint(self, epoch_done: bool = False) -> None:
        # the run store's checkpoint layout: the strategy's state, and the last step (here: epoch) finished
        if epoch_done:
            crash_point("enas_epoch")
        self.store.save_checkpoint({"strategy": self.state_dict(), "updated_through": self.epoch - 1})

    def close(self) -> None:
        """Nothing to stop: ENAS trains in this process, on no executor (the store is closed by its owner)."""

    def run(self, observe: Observer | None = None) -> None:
        """Train until the configured epochs are done, then derive `budget` children."""
        observe = observe or (lambda event: None)
        self.store.state = "running"
        # a language model steps through time in small matrix products: one thread, as fit_language trains
        with single_thread() if self.batches.is_text else nullcontext():
            try:
                while self.epoch < self.config.enas.epochs:
                    self._run_epoch(observe)
            except KeyboardInterrupt:
                self._checkpoint()  # at the last finished minibatch or controller step
                raise
            self._derive(observe)
        crash_point("finish")
        self.store.state = "finished"
        self.store.set_meta("finished_at", time.time())

    def _run_epoch(self, observe: Observer) -> None:
        cfg, e, t = self.config.enas, self.epoch, self.totals
        started, ctrl_before = time.perf_counter(), self.phases.controller_seconds
        try:
            if self.phase == "shared":
                archs, t["refused_shared"] = self.phases.policy_archs(e)  # the same count when drawn again
                for i in range(self.index, len(archs)):
                    loss = self.phases.shared_batch(e, i, archs[i])
                    t["loss"], t["batches"], self.index = t["loss"] + loss, t["batches"] + 1, i + 1
                    observe(EnasEvent("batch", e, i + 1, len(archs), loss=loss, refused=self._refusals()))
                self.phase, self.index = "controller", 0
            for s in range(self.index, cfg.controller_steps):
                stats = self.phases.controller_step(e, s)
                t["reward"], t["entropy"] = t["reward"] + stats.mean_reward, t["entropy"] + stats.entropy
                t["steps"], self.index = t["steps"] + 1, s + 1
                t["refused_controller"] += stats.refused
                observe(EnasEvent("controller_step", e, s + 1, cfg.controller_steps, stats=stats,
                                  refused=self._refusals()))
        finally:
            t["seconds"] += time.perf_counter() - started
            t["controller_seconds"] += self.phases.controller_seconds - ctrl_before
        self._finish_epoch(observe)

    def _finish_epoch(self, observe: Observer) -> None:
        t, e = self.totals, self.epoch
        record = EpochRecord(
            epoch=e, shared_loss=t["loss"] / max(t["batches"], 1), valid_reward=t["reward"] / max(t["steps"], 1),
            entropy=t["entropy"] / max(t["steps"], 1), baseline=self.phases.baseline,
            lr=self.config.enas.lr_at(e), seconds=t["seconds"], controller_seconds=t["controller_seconds"],
            time=time.time(), **self._refusals())
        self.store.record_epoch(record)
        self.store.record_step(e, record.baseline, record.valid_reward, record.shared_loss, record.entropy, None)
        self.epoch, self.phase, self.index = e + 1, "shared", 0
        self.totals = dict.fromkeys(TOTALS, 0.0)
        self._checkpoint(epoch_done=True)
        observe(EnasEvent("epoch_finished", e, record=record))

    def _refusals(self) -> dict:
        """An epoch's refusal counts for its row (none recorded for a run without limits)."""
        if self.limits is None:
            return {}
        return {k: int(self.totals[k]) for k in ("refused_shared", "refused_controller")}

    def _derive(self, observe: Observer) -> None:
        """Sample children from the trained policy up to `budget`, and score each on the validation split."""
        step = self.config.enas.epochs
        missing = self.config.budget - len([c for c in self.store.children(step=step) if c.status != "refused"])
        if missing > 0:
            self._add_derived(step, missing)
        pending = [c for c in self.store.children(step=step) if c.status in ("pending", "running")]
        observe(EnasEvent("deriving", step, total=len(pending)))
        for record in pending:
            result = self._score(record.id, Architecture.model_validate_json(record.arch_json))
            record_result(self.store, result)
            observe(EnasEvent("child_finished", step, result=result, tokens=record.tokens))

    def _add_derived(self, step: int, n: int) -> None:
        """Record n children sampled from the trained policy, in one transaction (a crash records all or
        none); under limits, each refused draw is a `refused` row with its cost, before the draw kept."""
        generator = torch.Generator().manual_seed(epoch_seed(self.config.seed, step, salt=self.config.budget))
        archs = self.phases.draw(n, generator)
        if self.limits is None:
            self.store.add_children(step, self.shared.depth, [(a.tokens, a.model_dump_json()) for a in archs])
            return
        rows = []
        for slot in self.limits.within(archs, lambda k: self.phases.draw(k, generator)):
            rows += [(arch, cost, (reason, None)) for arch, cost, reason in slot.refused]
            rows.append((slot.arch, slot.cost, None))
        self.store.add_children(step, self.shared.depth, [(a.tokens, a.model_dump_json()) for a, _, _ in rows],
                                costs=[c for _, c, _ in rows], refusals=[r for _, _, r in rows])

    def _score(self, child_id: int, arch: Architecture) -> ChildResult:
        """A derived child on the shared weights: validation accuracy, or c / perplexity."""
        start, cfg, device, amp = time.perf_counter(), self.config.enas, self.config.device, self.config.train.amp
        child = self.shared.extract(arch)
        profile = profile_child(child, self.data.task)  # on the CPU: profiling feeds it a CPU dummy input
        child.to(device)  # scored where the shared weights trained; the loops copy each batch there
        subset = cfg.derive_subset
        try:
            if isinstance(self.data, ImageData):
                metric = accuracy(child, self.data.valid_x[:subset], self.data.valid_y[:subset], amp=amp)
                reward, name = metric, "valid_accuracy"
            else:
                metric = perplexity(child, self.data.valid[:subset], EVAL_BATCH, cfg.bptt, amp=amp)
                reward, name = cfg.reward_c / metric, "valid_perplexity"
        except ChildError as err:
            return ChildResult(child_id=child_id, status="failed", reward=self.config.reward.failed,
                               params=profile.params, macs=profile.macs, seconds=time.perf_counter() - start,
                               error=err.message, device=device)
        if self.limits is not None:  # --objective: MnasNet's (cost / target)^w, as for every strategy
            reward *= self.limits.factor(arch)
        return ChildResult(child_id=child_id, status="done", reward=reward, metric=metric, metric_name=name,
                           params=profile.params, macs=profile.macs, seconds=time.perf_counter() - start,
                           device=device)


def _state_to(state, device: str):
    """A checkpointed hidden state (a tensor, a tuple of them, or None) on `device`."""
    if state is None:
        return None
    return tuple(s.to(device) for s in state) if isinstance(state, tuple) else state.to(device)
