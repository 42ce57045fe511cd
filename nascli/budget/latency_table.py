"""A latency table (FBNet, ProxylessNAS): each (position, record, input shape) timed once on the device,
a child's latency predicted as the sum of its units' entries plus the table's fixed part.

Entries are filled lazily: predicting a child times the units no earlier child had
(latency_units.py cuts a child into units), each as `latency.time_module` times a
whole child (same LatencyConfig: warm-ups, the median of the repeats, one thread),
on the inputs the real child feeds it in one forward pass of a zero batch. The fixed part
is what a child costs beyond its units (its forward loop, the concatenation and
padding of inputs, skip sums, the channels-last conversion): measured as the
median, over the first `calibration` (5) children the table predicts, of (measured
latency - sum of entries); until then it is 0.

The table is data: a JSON file holding one table per (device, batch, input shape,
timing config), written after every change (tmp file, then rename), so a resumed
search predicts the figures the first one predicted.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..arch import Architecture
from ..children import ChildConfig, build_child
from ..data.base import ImageTask, Task
from ..errors import RunError
from .latency import LatencyConfig, batch_input, measure_latency, time_module
from .latency_units import LatencyTableError, Unit, child_units, real_inputs

TABLE_FORMAT = 1
CALIBRATION = 5  # children measured whole to find the fixed part (each gap is as noisy as one measurement)

Timer = Callable[[nn.Module, tuple, str, LatencyConfig], float]  # (unit, inputs, device, config) -> ms
Measurer = Callable[[Architecture], float]  # a whole child -> ms


@dataclass(frozen=True)
class TableKey:
    """What a table's figures hold for: the device, the batch, the input shape and how entries are timed."""

    device: str
    batch: int
    input: tuple[int, int, int]  # channels, height, width
    warmup: int
    rounds: int
    repeats: int
    threads: int

    @classmethod
    def of(cls, task: Task, device: str, config: LatencyConfig) -> TableKey:
        if not isinstance(task, ImageTask):
            raise LatencyTableError("a latency table predicts image children: use --latency-model measured")
        return cls(device, config.batch, (task.channels, task.height, task.width), config.warmup, config.rounds,
                   config.repeats, config.threads)

    @property
    def name(self) -> str:
        c, h, w = self.input
        return (f"{self.device} batch {self.batch} input {c}x{h}x{w} "
                f"(warmup {self.warmup}, {self.rounds} rounds of {self.repeats}, threads {self.threads})")


@dataclass
class TableData:
    """One table as stored: entries (unit key -> ms) and the fixed part's calibration (measured - sum, ms)."""

    entries: dict[str, float] = field(default_factory=dict)
    calibration: list[float] = field(default_factory=list)

    @property
    def fixed_ms(self) -> float:
        return statistics.median(self.calibration) if self.calibration else 0.0


class LatencyTable:
    """Predicts a child's latency on one device from per-unit entries, timing each new entry once.

    `timer` times a unit module on its inputs (latency.time_module; a fake one in tests); `measure` times a
    whole child for the fixed part's calibration (measure_latency by default); `path` keeps the table as JSON.
    """

    def __init__(self, task: Task, device: str = "cpu", config: LatencyConfig = LatencyConfig(),
                 child: ChildConfig | None = None, path: Path | None = None, timer: Timer = time_module,
                 measure: Measurer | None = None, calibration: int = CALIBRATION):
        self.task, self.device, self.config, self.child = task, device, config, child
        self.key = TableKey.of(task, device, config)
        self.path, self.timer, self.calibration = path, timer, calibration
        self.measure = measure or (lambda arch: measure_latency(arch, task, device, config, child))
        self.data = load_table(path, self.key) if path is not None else TableData()
        self.timed, self.seconds = 0, 0.0  # entries this object timed, and the seconds it spent timing

    def units(self, arch: Architecture) -> list[Unit]:
        return child_units(arch, self.task, self.config.batch, self.child)

    def fill(self, arch: Architecture) -> list[Unit]:
        """`arch`'s units, with every entry they need timed (the real child is built only when one is new)."""
        units = self.units(arch)
        missing = {u.key: u for u in units if u.key not in self.data.entries}
        if missing:
            start = time.perf_counter()
            torch.manual_seed(0)
            model = build_child(arch, self.task, self.child).to(self.device)
            (images,) = batch_input(self.task, self.config.batch, self.device)
            inputs = real_inputs(model, list(missing.values()), images)
            for key, unit in missing.items():
                self.data.entries[key] = float(self.timer(model.get_submodule(unit.path), inputs[unit.path, unit.call],
                                                          self.device, self.config))
            self.timed += len(missing)
            self.seconds += time.perf_counter() - start
        return units

    def entry_sum(self, arch: Architecture) -> float:
        """The sum of `arch`'s entries (ms), timing the new ones."""
        return sum(self.data.entries[u.key] for u in self.fill(arch))

    def predict(self, arch: Architecture) -> float:
        """Predicted ms of a forward pass of `arch`: its entries plus the fixed part (calibrated first)."""
        before = (len(self.data.entries), len(self.data.calibration))
        total = self.entry_sum(arch)
        if len(self.data.calibration) < self.calibration:
            start = time.perf_counter()
            self.data.calibration.append(float(self.measure(arch)) - total)
            self.seconds += time.perf_counter() - start
        if (len(self.data.entries), len(self.data.calibration)) != before:
            self.save()
        return total + self.data.fixed_ms

    def save(self) -> None:
        if self.path is not None:
            save_table(self.path, self.key, self.data)


def _read(path: Path) -> dict:
    if not path.exists():
        return {"format": TABLE_FORMAT, "tables": {}}
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(f"latency table unreadable: {exc}", where=str(path)) from None
    if not isinstance(stored, dict) or stored.get("format") != TABLE_FORMAT or not isinstance(stored.get("tables"), dict):
        raise RunError(f"not a latency table of format {TABLE_FORMAT}", where=str(path))
    return stored


def load_table(path: Path, key: TableKey) -> TableData:
    """The table stored for `key` in `path` (empty when the file or the key is not there)."""
    table = _read(path)["tables"].get(key.name)
    if table is None:
        return TableData()
    try:
        entries = {str(k): float(v) for k, v in table["entries"].items()}
        return TableData(entries, [float(v) for v in table["calibration"]])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RunError(f"latency table {key.name!r} is malformed", where=str(path)) from None


def save_table(path: Path, key: TableKey, data: TableData) -> None:
    """Write `data` as the table for `key` into `path`, keeping its other tables (atomically: tmp, then rename)."""
    stored = _read(path)
    stored["tables"][key.name] = {"key": asdict(key), **asdict(data)}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(stored, indent=1, sort_keys=True))
    os.replace(tmp, path)
