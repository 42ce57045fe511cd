"""Validation history -> reward, exactly as the NAS paper defines it."""

from __future__ import annotations

from .config import RewardConfig


def image_reward(valid_accuracies: list[float], cfg: RewardConfig) -> tuple[float, float]:
    """(metric, reward): the best accuracy of the last epochs, and it to the `power`."""
    best = max(valid_accuracies[-cfg.last_epochs:])
    return best, best**cfg.power


def language_reward(valid_perplexities: list[float], cfg: RewardConfig) -> tuple[float, float]:
    """(metric, reward): the last epoch's perplexity, and c / ppl²."""
    ppl = valid_perplexities[-1]
    return ppl, cfg.c / (ppl * ppl)  # not ppl**2, which raises OverflowError past 1e154 where this gives 0
