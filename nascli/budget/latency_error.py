"""How well a latency table predicts: the table built over children drawn uniformly (seeded), each child's
prediction set against its measured latency (`nascli latency`, bench/budgets.py --real).

The table's first `calibration` predictions fix its constant part, so those children
are drawn first and left out of the error; then `sample` more are drawn, each
predicted (timing the entries it is the first to need) and measured at once, so a
child's two figures are taken close in time on a machine whose load changes.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import asdict, dataclass

from ..arch.sample import sample_architecture
from .latency_table import LatencyTable


@dataclass(frozen=True)
class ChildLatency:
    tokens: str
    predicted_ms: float
    measured_ms: float

    @property
    def error_pct(self) -> float:
        """|predicted - measured| as a percentage of measured."""
        return 100 * abs(self.predicted_ms - self.measured_ms) / self.measured_ms


@dataclass(frozen=True)
class PredictionError:
    space: str
    table: str  # the table's key (device, batch, input, timing)
    entries: int  # entries in the table at the end
    timed: int  # entries timed by this build (the others were loaded)
    build_seconds: float  # spent timing entries and calibrating
    fixed_ms: float  # the table's fixed part
    calibration: int  # children measured whole to set it (not in `children`)
    children: list[ChildLatency]

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100) of the absolute % errors (nearest rank)."""
        errors = sorted(c.error_pct for c in self.children)
        return errors[min(len(errors) - 1, max(0, round(q / 100 * len(errors) + 0.5) - 1))]

    @property
    def median(self) -> float:
        return statistics.median(c.error_pct for c in self.children)

    def summary(self) -> dict:
        return {"median_pct": self.median, "p90_pct": self.percentile(90), "max_pct": self.percentile(100)}

    def as_json(self) -> dict:
        data = asdict(self)
        data["children"] = [{**asdict(c), "error_pct": c.error_pct} for c in self.children]
        return {**data, **self.summary()}


def prediction_error(compiled, table: LatencyTable, sample: int, seed: int = 0,
                     depth: int | None = None) -> PredictionError:
    """Build `table` over children of `compiled` drawn uniformly with `seed`, and its error on `sample` of them."""
    rng = random.Random(seed)
    start_timed, start_seconds = table.timed, table.seconds
    while len(table.data.calibration) < table.calibration:
        table.predict(sample_architecture(compiled, rng, depth))
    children = []
    for _ in range(sample):
        arch = sample_architecture(compiled, rng, depth)
        predicted = table.predict(arch)
        measured = table.measure(arch)
        children.append(ChildLatency(arch.tokens, predicted, measured))
    return PredictionError(compiled.name, table.key.name, len(table.data.entries), table.timed - start_timed,
                           table.seconds - start_seconds, table.data.fixed_ms, len(table.data.calibration), children)

