"""How a child's score reads: the validation accuracy or perplexity its reward was made from, one format
everywhere (live view, `show`, `report`), and the chance level it should be read against.

A reward is a transform of that score (accuracy cubed, c / perplexity²), so a table of rewards alone
hides how good a child is; chance is what a network that learnt nothing scores: 1 / classes for
accuracy, the vocabulary size for perplexity (a uniform guess). A run records its chance level in its
store's meta (`CHANCE_KEY`) when it starts; runs made before that have none, and it is left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

CHANCE_KEY = "chance"
# Fewer validation images (or rows) than this rank children mostly by noise: one image is 1% of the score.
SMALL_VALIDATION = 100


@dataclass(frozen=True)
class Chance:
    """What a child that learnt nothing scores on the run's validation split."""

    metric: str  # "accuracy" or "perplexity"
    value: float  # 1 / classes, or the vocabulary size
    valid_size: int  # validation images, rows or tokens

    def text(self) -> str:
        return f"chance {format_value(self.metric, self.value)}"

    def dumps(self) -> str:
        return json.dumps({"metric": self.metric, "value": self.value, "valid_size": self.valid_size})

    @classmethod
    def loads(cls, text: str | None) -> Chance | None:
        if not text:
            return None
        try:
            raw = json.loads(text)
            return cls(str(raw["metric"]), float(raw["value"]), int(raw["valid_size"]))
        except (ValueError, KeyError, TypeError):  # a damaged meta value: shown as unknown
            return None


def chance_of(task, valid_size: int) -> Chance:
    """The chance level of a dataset's task (an ImageTask or TabularTask: classes; a LanguageTask: vocabulary)."""
    if hasattr(task, "classes"):
        return Chance("accuracy", 1 / task.classes, valid_size)
    return Chance("perplexity", float(task.vocab_size), valid_size)


def format_value(metric: str, value: float) -> str:
    """An accuracy as a percentage with one decimal, a perplexity with one decimal (10,000 and above: none)."""
    if "accuracy" in metric:
        return f"{value:.1%}"
    return f"{value:,.0f}" if value >= 10_000 else f"{value:,.1f}"


def format_metric(name: str | None, value: float | None) -> str:
    """`valid accuracy 23.4%`, `valid perplexity 412.3`; '-' for a child without a score."""
    if value is None or name is None:
        return "-"
    return f"{name.replace('_', ' ')} {format_value(name, value)}"


def small_validation_warning(chance: Chance) -> str | None:
    """A warning where the validation split is too small to rank children apart (images or rows)."""
    if chance.metric != "accuracy" or chance.valid_size >= SMALL_VALIDATION:
        return None
    step = 1 / chance.valid_size if chance.valid_size else 1.0
    return (f"the validation split holds {chance.valid_size} examples (under {SMALL_VALIDATION}): one example is "
            f"{step:.1%} of a child's accuracy, so children are ranked mostly by noise; give more data "
            "(--data-dir) or a larger validation split")
