"""Named REINFORCE settings (`--controller-preset`): the paper's, and one for short budgets.

A preset fixes what the controller learns with: Adam's learning rate, the
baseline's decay, the entropy bonus, the children per update (m) and the
reward's power. Options given on the command line win over the preset's
values. See docs/strategies.md for how the short-budget preset was found.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import RunError


@dataclass(frozen=True)
class ControllerPreset:
    name: str
    lr: float  # Adam
    baseline_decay: float  # b <- decay * b + (1 - decay) * mean(R)
    entropy_weight: float
    batch: int | None  # m, children per update; None: the space's `batch` setting, else 4
    reward_power: float  # reward = validation accuracy ** power
    about: str


PAPER = ControllerPreset(
    "paper", lr=6e-4, baseline_decay=0.95, entropy_weight=0.0, batch=None, reward_power=3.0,
    about="Zoph & Le's controller: Adam 6e-4, accuracy cubed, tuned for 12,800 children")

SHORT = ControllerPreset(
    "short", lr=0.03, baseline_decay=0.95, entropy_weight=0.01, batch=4, reward_power=3.0,
    about="for budgets of ~100 children: Adam 0.03 with an entropy bonus of 0.01 (found on NAS-Bench-201 CIFAR-10)")

PRESETS = {p.name: p for p in (PAPER, SHORT)}


def default_preset(benchmark: bool) -> str:
    """The preset a search starts from when none is named: `short` on a benchmark, whose searches are a
    hundred queries; `paper` on real training (the paper's method, and real rewards at CPU scale are too
    noisy for a learning rate 50 times the paper's)."""
    return "short" if benchmark else "paper"


def get_preset(name: str) -> ControllerPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise RunError(f"unknown controller preset '{name}'; expected one of {', '.join(PRESETS)}") from None
