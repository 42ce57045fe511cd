"""Training loops for children. They know nothing about architectures: an image child
maps (B,C,H,W) -> (B,classes) logits; a language child maps ((T,B) ids, state) ->
((T,B,V) logits, state) and has `init_state(batch)`; a state is a tensor or a tuple of them."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data import NormalisedImages, augment, batchify, bptt_batches
from ..errors import ChildError
from ..threads import single_thread
from .config import TrainConfig
from .device import autocast


@dataclass
class History:
    """Per-epoch training loss and evaluation metric (accuracy or perplexity); with a span, every epoch's
    since the first (those of earlier spans come from the state it resumed) and the state at its end."""

    train_loss: list[float] = field(default_factory=list)
    metric: list[float] = field(default_factory=list)
    state: dict | None = None


@dataclass
class EpochSpan:
    """Train epochs [start, stop) of a `cfg.epochs`-epoch schedule, from `state` (the end of an earlier span,
    as `History.state` gave it; None: from the start). A child continued this way over spans that meet
    trains as one uninterrupted run: the state holds the weights, optimizer, LR schedule and RNGs."""

    start: int
    stop: int
    state: dict | None = None


def _continue(span: EpochSpan, model: nn.Module, opt, sched, gen: torch.Generator, hist: History) -> range:
    """Load `span`'s state into the training objects; the epochs to train."""
    if span.state is not None:
        model.load_state_dict(span.state["model"])
        opt.load_state_dict(span.state["optimizer"])
        sched.load_state_dict(span.state["scheduler"])
        gen.set_state(span.state["generator"])
        torch.set_rng_state(span.state["torch_rng"])
        hist.train_loss, hist.metric = list(span.state["train_loss"]), list(span.state["metric"])
    return range(span.start, span.stop)


def _training_state(model: nn.Module, opt, sched, gen: torch.Generator, hist: History) -> dict:
    """Everything a continued span needs, as tensors, numbers and containers (loads with weights_only)."""
    return {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
            "train_loss": list(hist.train_loss), "metric": list(hist.metric)}


def _optimizer(model: nn.Module, cfg: TrainConfig, steps: int):
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          nesterov=cfg.nesterov and cfg.momentum > 0, weight_decay=cfg.weight_decay)
    if cfg.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    elif cfg.schedule == "step":  # divide by 10 at half and three quarters of training
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [steps // 2, 3 * steps // 4], 0.1)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    return opt, sched


def _step(model: nn.Module, loss: Tensor, opt, sched, cfg: TrainConfig, where: str) -> float:
    value = loss.item()
    if not math.isfinite(value):
        raise ChildError(f"diverged: training loss is {value}", where=where)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    sched.step()
    return value


def model_device(model: nn.Module) -> torch.device:
    """Where `model`'s parameters live (the CPU for a model without any): evaluation batches go there."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


Inputs = Tensor | NormalisedImages  # indexing either gives a batch of model inputs


@torch.no_grad()
def accuracy(model: nn.Module, x: Inputs, y: Tensor, batch_size: int = 500, amp: bool = False) -> float:
    """Top-1 accuracy, batch by batch on the model's device; a model whose outputs are not finite has
    diverged (argmax of NaN is noise)."""
    model.eval()
    correct = 0
    device = model_device(model)
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size].to(device, non_blocking=True), y[i:i + batch_size].to(device, non_blocking=True)
        with autocast(str(device), amp):
            logits = model(xb)
        if not torch.isfinite(logits).all():
            raise ChildError("diverged: the network's outputs are not finite")
        correct += (logits.argmax(1) == yb).sum().item()
    return correct / max(len(x), 1)


def fit_image(model: nn.Module, train: tuple[Inputs, Tensor], evaluate: tuple[Inputs, Tensor] | None,
              cfg: TrainConfig, device: torch.device | str = "cpu", span: EpochSpan | None = None) -> History:
    """Train a classifier of images (or table rows: `cfg.augment` off) on `train`; after each epoch
    measure accuracy on `evaluate` (if given). Images are normalised batch by batch, as they are taken.
    `span`: only those epochs, continuing from its state; the history then ends with the state."""
    model.to(device)  # batches are copied to `device` one at a time
    gen = torch.Generator().manual_seed(cfg.seed)
    x_all, y_all = train
    n = min(len(x_all), cfg.train_subset or len(x_all))
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    opt, sched = _optimizer(model, cfg, cfg.epochs * steps_per_epoch)
    hist = History()
    for epoch in _continue(span, model, opt, sched, gen, hist) if span else range(cfg.epochs):
        model.train()
        order = torch.randperm(len(x_all), generator=gen)[:n]
        total = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            x = augment(x_all[idx], gen) if cfg.augment else x_all[idx]
            x, y = x.to(device, non_blocking=True), y_all[idx].to(device, non_blocking=True)
            with autocast(str(device), cfg.amp):
                loss = F.cross_entropy(model(x).float(), y)
            total += _step(model, loss, opt, sched, cfg, f"epoch {epoch + 1}") * len(idx)
        hist.train_loss.append(total / n)
        if evaluate is not None:
            hist.metric.append(accuracy(model, evaluate[0], evaluate[1], amp=cfg.amp))
    if span is not None:
        hist.state = _training_state(model, opt, sched, gen, hist)
    return hist


# Evaluation streams: wide enough that the Python loop over time steps is short. The
# split is cut into this many streams, so the few words at stream starts see no history.
EVAL_BATCH = 32
# The largest mean loss (nats per token) whose perplexity is still a float.
_LOG_MAX_FLOAT = math.log(sys.float_info.max)


def _detach(state):
    return tuple(_detach(s) for s in state) if isinstance(state, tuple) else state.detach()


@torch.no_grad()
@single_thread()
def perplexity(model: nn.Module, ids: Tensor, batch_size: int, bptt: int, amp: bool = False) -> float:
    model.eval()
    device = model_device(model)
    data = batchify(ids, batch_size).to(device)
    state = model.init_state(batch_size)
    nll, count = 0.0, 0
    for x, y in bptt_batches(data, bptt):
        with autocast(str(device), amp):
            logits, state = model(x, state)
        logits = logits.float()
        nll += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
        count += y.numel()
    mean = nll / count
    if not mean < _LOG_MAX_FLOAT:  # exp would overflow (or the loss is NaN): the child has diverged
        raise ChildError(f"diverged: validation loss is {mean:.4g} nats per token, its perplexity overflows")
    return math.exp(mean)


@single_thread()
def fit_language(model: nn.Module, train: Tensor, evaluate: Tensor | None, cfg: TrainConfig,
                 device: torch.device | str = "cpu", span: EpochSpan | None = None) -> History:
    """Truncated-BPTT training on token ids on `device`; perplexity on `evaluate` after each epoch.
    `span` as for `fit_image` (language training draws no random numbers; the generator is kept alike)."""
    model.to(device)
    ids = train[: cfg.train_subset] if cfg.train_subset else train
    data = batchify(ids, cfg.batch_size).to(device)
    steps_per_epoch = math.ceil((len(data) - 1) / cfg.bptt)
    opt, sched = _optimizer(model, cfg, cfg.epochs * steps_per_epoch)
    hist = History()
    gen = torch.Generator().manual_seed(cfg.seed)
    for epoch in _continue(span, model, opt, sched, gen, hist) if span else range(cfg.epochs):
        model.train()
        state = model.init_state(cfg.batch_size)
        total, count = 0.0, 0
        for x, y in bptt_batches(data, cfg.bptt):
            state = _detach(state)  # truncated BPTT: no gradient into the last segment
            with autocast(str(device), cfg.amp):
                logits, state = model(x, state)
            loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
            total += _step(model, loss, opt, sched, cfg, f"epoch {epoch + 1}") * y.numel()
            count += y.numel()
        hist.train_loss.append(total / count)
        if evaluate is not None:
            hist.metric.append(perplexity(model, evaluate, EVAL_BATCH, cfg.bptt, cfg.amp))
    if span is not None:
        hist.state = _training_state(model, opt, sched, gen, hist)
    return hist
