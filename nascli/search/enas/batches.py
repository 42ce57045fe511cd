"""Minibatches for ENAS's two phases: training batches per epoch, and a cycle of validation batches.

Images: an epoch is a seeded permutation of (a subset of) the training split,
augmented as children are; a reward reads the next `reward_batch` validation
images. Text: an epoch is the BPTT windows of `batch_size` streams of the
training ids; a reward reads the next window of `reward_batch` validation
streams. Minibatches come on the search's device: token streams are copied
there once, images one minibatch at a time. Both orders depend only on (seed, epoch) and a position, so a search
resumed mid-epoch sees the batches it would have seen.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ...data import ImageData, TextData, augment, batchify, bptt_batches
from .config import EnasConfig


def epoch_seed(seed: int, epoch: int, salt: int = 0) -> int:
    """A seed for one epoch's draws, distinct per (seed, epoch, salt)."""
    return (seed * 1_000_003 + epoch) * 7 + salt


class Batches:
    """The training minibatches of each epoch and the validation minibatches of the rewards."""

    def __init__(self, data: ImageData | TextData, config: EnasConfig, seed: int, device: str = "cpu"):
        self.data, self.config, self.seed, self.device = data, config, seed, device
        self.is_text = isinstance(data, TextData)
        self.valid_position = 0
        if self.is_text:  # token streams are small: moved to the device once, windows are views
            ids = data.train[: config.train_subset] if config.train_subset else data.train
            self._train_windows = list(bptt_batches(batchify(ids, config.batch_size).to(device), config.bptt))
            self._valid_windows = list(bptt_batches(batchify(data.valid, config.reward_batch).to(device),
                                                    config.bptt))
        else:
            self._train_count = min(len(data.train_x), config.train_subset or len(data.train_x))

    def count(self) -> int:
        """Training minibatches per epoch."""
        if self.is_text:
            return len(self._train_windows)
        return math.ceil(self._train_count / self.config.batch_size)

    def train(self, epoch: int, index: int, augment_with: torch.Generator) -> tuple[Tensor, Tensor]:
        """Training minibatch `index` of `epoch`: images (B, C, H, W) and labels, or (T, B) ids and targets."""
        if self.is_text:
            return self._train_windows[index]
        order = torch.randperm(len(self.data.train_x), generator=torch.Generator().manual_seed(
            epoch_seed(self.seed, epoch)))[: self._train_count]
        idx = order[index * self.config.batch_size:(index + 1) * self.config.batch_size]
        # augmented on the CPU (its generator is part of the checkpoint), then one copy per batch
        return self._to_device(augment(self.data.train_x[idx], augment_with), self.data.train_y[idx])

    def next_valid(self) -> tuple[Tensor, Tensor, bool]:
        """The next validation minibatch, cycling through the split; True where a cycle starts."""
        if self.is_text:
            index = self.valid_position % len(self._valid_windows)
            inputs, targets = self._valid_windows[index]
        else:
            n, size = len(self.data.valid_x), self.config.reward_batch
            index = (self.valid_position * size) % n
            inputs, targets = self._to_device(self.data.valid_x[index:index + size],
                                              self.data.valid_y[index:index + size])
        self.valid_position += 1
        return inputs, targets, index == 0

    def _to_device(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """An image minibatch copied to the search's device (images stay on the CPU between batches)."""
        return inputs.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)


def loss_of(output, targets: Tensor) -> Tensor:
    """Cross-entropy of a child's output: logits (B, classes), or (logits (T, B, V), state)."""
    logits = output[0] if isinstance(output, tuple) else output
    return F.cross_entropy(logits.flatten(0, -2), targets.flatten())
