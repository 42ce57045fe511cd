"""ENAS's alternating training (Pham et al. 2018; the reference code's `train` loop).

(a) `shared_batch`: the policy fixed, one child sampled per training
    minibatch runs on the shared weights and SGD updates the weights it used.
    It runs on the search's device (the shared weights and the batches live
    there), autocast with `--amp` as a child's training is.
(b) `controller_step`: the shared weights fixed, `controller_aggregate`
    children are sampled, each scored on the next validation minibatch
    (accuracy; c / perplexity for a language model, not squared), and one Adam
    step follows on the mean REINFORCE loss, as the reference aggregates the
    gradients of several children per step. As the reference:
    - the reward is the score plus `entropy_weight` x the sample's entropy;
    - the baseline starts at 0 and, child by child, moves towards the reward
      (b <- b - (1 - decay)(b - R)) before the advantage R - b is taken;
    - macro spaces add skip_weight x KL(skip probability || skip_target) to the
      loss, averaged over the layers' skip decisions.
    The controller stays on the CPU: a 1 x 100 LSTM sampling a few dozen
    decisions one at a time is latency-bound, so a GPU would only add a launch
    and a copy per decision; only the rewards (floats) cross over.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...arch import Architecture, architecture
from ...children.lm import detach_state
from ...train.device import autocast
from ..controller import Controller
from ..heads import AnchorHead, shape_logits
from .batches import Batches, epoch_seed, loss_of
from .config import EnasConfig
from .limits import ChildLimits
from .supernet import SharedWeights


@dataclass
class StepStats:
    """One controller step: for the live view and the per-epoch rows."""

    mean_reward: float
    baseline: float
    entropy: float
    loss: float
    controller_seconds: float  # sampling and the update, not the rewards' forward passes
    refused: int = 0  # children over a limit, given `refused_reward` instead of a forward pass


class Phases:
    """The shared weights, the controller, their optimisers and the baseline."""

    def __init__(self, shared: SharedWeights, controller: Controller, batches: Batches, config: EnasConfig,
                 seed: int, amp: bool = False, limits: ChildLimits | None = None):
        self.shared, self.controller, self.batches, self.config, self.seed = shared, controller, batches, config, seed
        self.limits = limits  # the run's hard limits and --objective (limits.py); None without
        self.amp = amp  # children's forward passes autocast as a child's training does (--amp)
        self.shared_opt = torch.optim.SGD(shared.parameters(), lr=config.lr, momentum=config.momentum,
                                          nesterov=config.momentum > 0, weight_decay=config.weight_decay)
        self.controller_opt = torch.optim.Adam(controller.parameters(), lr=config.controller_lr)
        self.baseline = 0.0
        self.augment_gen = torch.Generator().manual_seed(epoch_seed(seed, 0, salt=1))
        self.train_state = None  # a language model's hidden state, carried across minibatches (and children)
        self.valid_state = None
        self.controller_seconds = 0.0

    def policy_archs(self, epoch: int) -> tuple[list[Architecture], int]:
        """The children of the epoch's training minibatches, one batched, seeded draw from the fixed policy,
        and how many draws the limits refused: a child over a limit is drawn again (the generator goes on),
        so none is trained; a resume draws the same epoch again and refuses what it refused."""
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, epoch, salt=2))
        archs = self.draw(self.batches.count(), generator)
        self.controller_seconds += time.perf_counter() - start
        if self.limits is None:
            return archs, 0
        slots = self.limits.within(archs, lambda k: self.draw(k, generator))
        return [s.arch for s in slots], sum(len(s.refused) for s in slots)

    @torch.no_grad()
    def draw(self, n: int, generator: torch.Generator) -> list[Architecture]:
        """n children from the policy as it is, with `generator`."""
        sample = self.controller.sample(n, self.shared.depth, generator)
        return [architecture(self.shared.compiled, a, self.shared.depth) for a in sample.assignments]

    def shared_batch(self, epoch: int, index: int, arch: Architecture) -> float:
        """One SGD step of the shared weights on training minibatch `index`, through `arch`."""
        for group in self.shared_opt.param_groups:
            group["lr"] = self.config.lr_at(epoch)
        inputs, targets = self.batches.train(epoch, index, self.augment_gen)
        with autocast(self.batches.device, self.amp):
            if self.batches.is_text:
                if index == 0:
                    self.train_state = None
                output = self.shared.run(arch, inputs, self.train_state, train=True)
                self.train_state = detach_state(output[1])  # truncated BPTT
            else:
                output = self.shared.run(arch, inputs, train=True)
            loss = loss_of(output, targets)
        self.shared_opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.shared.parameters(), self.config.grad_clip)
        self.shared_opt.step()
        return float(loss.detach())

    @torch.no_grad()
    def reward(self, arch: Architecture) -> float:
        """The child's score on the next validation minibatch: accuracy, or c / perplexity."""
        inputs, targets, restart = self.batches.next_valid()
        if not self.batches.is_text:
            with autocast(self.batches.device, self.amp):
                logits = self.shared.run(arch, inputs, train=False)
            return float((logits.argmax(1) == targets).float().mean())
        if restart:
            self.valid_state = None  # the text starts again: no history
        with autocast(self.batches.device, self.amp):
            logits, state = self.shared.run(arch, inputs, self.valid_state, train=False)
            loss = float(loss_of(logits, targets))
        self.valid_state = state
        try:
            ppl = math.exp(loss)
        except OverflowError:  # diverged shared weights: no reward, as for a NaN loss, rather than a crashed search
            ppl = math.inf
        return self.config.reward_c / ppl if math.isfinite(ppl) else 0.0

    def controller_step(self, epoch: int, step: int) -> StepStats:
        """One REINFORCE step on `controller_aggregate` children's validation rewards."""
        cfg = self.config
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, epoch, salt=3 + step))
        skip_logits: list[Tensor] = []
        hooks = [h.register_forward_hook(lambda _m, _i, out: skip_logits.append(out))
                 for h in self.controller.heads if isinstance(h, AnchorHead)] if cfg.skip_weight else []
        try:
            sample = self.controller.sample(cfg.controller_aggregate, self.shared.depth, generator)
        finally:
            for hook in hooks:
                hook.remove()
        archs = [architecture(self.shared.compiled, a, self.shared.depth) for a in sample.assignments]
        spent = time.perf_counter() - start
        scores, refused = self._scores(archs)
        start = time.perf_counter()
        rewards = torch.tensor(scores) + cfg.entropy_weight * sample.entropy.detach()
        advantages = []
        for r in rewards.tolist():  # the baseline moves with each child's reward before its advantage
            self.baseline -= (1 - cfg.baseline_decay) * (self.baseline - r)
            advantages.append(r - self.baseline)
        loss = -(sample.log_prob * torch.tensor(advantages)).mean()
        if skip_logits:
            loss = loss + cfg.skip_weight * self._skip_kl(skip_logits)
        self.controller_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.controller_opt.step()
        spent += time.perf_counter() - start
        self.controller_seconds += spent
        return StepStats(mean_reward=float(rewards.mean()), baseline=self.baseline,
                         entropy=float(sample.entropy.detach().mean()), loss=float(loss.detach()),
                         controller_seconds=spent, refused=refused)

    def _scores(self, archs: list[Architecture]) -> tuple[list[float], int]:
        """Each child's score before the entropy bonus, and how many were over a limit: those get
        `refused_reward` with no forward pass (as reinforce's refused samples do); the others their
        validation reward times --objective's factor."""
        if self.limits is None:
            return [self.reward(arch) for arch in archs], 0
        penalty, scores = self.limits.constraints.refused_reward, []
        for arch in archs:
            refused = self.limits.refusal(arch)[1] is not None
            scores.append(penalty if refused else self.reward(arch) * self.limits.factor(arch))
        return scores, sum(self.limits.refusal(a)[1] is not None for a in archs)

    def _skip_kl(self, raw_logits: list[Tensor]) -> Tensor:
        """Mean over skip decisions of KL(Bernoulli(p) || Bernoulli(target)), summed over candidates."""
        target = self.config.skip_target
        kls = []
        for raw in raw_logits:  # (m, candidates) per layer with skips
            p = torch.sigmoid(shape_logits(raw, self.controller.config.temperature,
                                           self.controller.config.tanh_constant)).clamp(1e-6, 1 - 1e-6)
            kl = p * torch.log(p / target) + (1 - p) * torch.log((1 - p) / (1 - target))
            kls.append(kl.sum(-1))  # (m,)
        return torch.stack(kls).mean()
