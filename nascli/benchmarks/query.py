"""What a benchmark search reads of a table: one query per child, validation and cost only.

`BenchmarkConfig` is the part of a run's config that says which table, dataset
and fidelity rewards the strategy (`--benchmark`, `--benchmark-dataset`,
`--benchmark-table`, `--fidelity`, `--seed-noise`). `BenchmarkQuery` answers a
child's query with an `Observation` (validation accuracy, simulated seconds,
size): the table's test columns are not reachable from here, so nothing the
search records, and nothing a strategy learns from, can depend on them.
`chosen_result` is the one place that reads a test column: for reporting the
child a finished search chose by validation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from ..arch import Architecture
from ..errors import BenchmarkError
from ..space.compiler import CompiledSpace
from . import get_benchmark
from .table import BenchmarkTable, Observation


class BenchmarkConfig(BaseModel):
    """Which table answers a search's children, and at which fidelity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "nb201"
    dataset: str = "cifar10"  # a dataset prefix of the table's header
    table: str | None = None  # a CSV (or .csv.gz) in the documented layout; None: the copy shipped in the package
    fidelity: int = Field(12, ge=1)  # epochs of the validation column that rewards the strategy
    seed_noise: bool = False  # draw one seed's value (seeded by run seed and child id) instead of the mean


class BenchmarkQuery:
    """A loaded table checked against a config: every child's query goes through `observe`."""

    def __init__(self, config: BenchmarkConfig):
        self.config = config
        self.benchmark = get_benchmark(config.name)
        self.table: BenchmarkTable = self.benchmark.table(config.table)
        self.table.fidelities(config.dataset)  # refuses a dataset the header lacks, naming those it has
        if config.fidelity not in self.table.fidelities(config.dataset):
            raise BenchmarkError(f"--fidelity {config.fidelity}: the table has {config.dataset} validation after "
                                 f"{', '.join(map(str, self.table.fidelities(config.dataset)))} epochs",
                                 where=self.table.path)
        self.seeds = self.table.seeds(config.dataset, config.fidelity)
        if config.seed_noise and not self.seeds:
            with_seeds = [f"{config.dataset} at {e} epochs" for e in self.table.fidelities(config.dataset)
                          if self.table.seeds(config.dataset, e)]
            raise BenchmarkError(f"--seed-noise: the table has no per-seed columns for {config.dataset} at "
                                 f"{config.fidelity} epochs (it has them for: {', '.join(with_seeds) or 'none'})",
                                 where=self.table.path)

    def check_space(self, compiled: CompiledSpace) -> None:
        self.benchmark.check_space(compiled)

    def observe(self, arch: Architecture, run_seed: int, child_id: int, fidelity: int | None = None) -> Observation:
        """The child's validation accuracy (%) at the fidelity (the config's, or a rung's), its simulated
        cost and size."""
        key, fidelity = self.benchmark.arch_key(arch), fidelity or self.config.fidelity
        seed = None
        if self.config.seed_noise:
            ran = sorted(self.table.seed_values(key, self.config.dataset, fidelity))
            if ran:  # the seeds that trained this cell; the same run seed and child id draw the same one
                seed = random.Random(run_seed * 2**32 + child_id).choice(ran)
        return self.table.observe(key, self.config.dataset, fidelity, seed)

    def cost(self, arch: Architecture, fidelity: int | None = None) -> float:
        """Simulated seconds training `arch` to the fidelity takes (the same whichever seed is drawn)."""
        key = self.benchmark.arch_key(arch)
        return self.table.observe(key, self.config.dataset, fidelity or self.config.fidelity).seconds

    def check_fidelities(self, epochs: tuple[int, ...]) -> None:
        """Refuse rungs the table has no validation column for."""
        have = self.table.fidelities(self.config.dataset)
        if missing := [e for e in epochs if e not in have]:
            raise BenchmarkError(f"--rungs {','.join(map(str, epochs))}: the table has {self.config.dataset} "
                                 f"validation after {', '.join(map(str, have))} epochs only, not "
                                 f"{', '.join(map(str, missing))}", where=self.table.path)


@dataclass(frozen=True)
class ChosenResult:
    """The table's final-fidelity figures of the cell a search chose by validation: for reporting only."""

    index: int
    arch: str
    dataset: str
    epochs: int  # the table's largest fidelity (200 for NAS-Bench-201)
    test: float  # DS_test_E, %
    valid: float  # DS_valid_E (mean over seeds), %


def chosen_result(config: BenchmarkConfig, arch: Architecture) -> ChosenResult:
    """Look up what the chosen child reached when trained in full: test and validation at the top fidelity."""
    benchmark = get_benchmark(config.name)
    table = benchmark.table(config.table)
    key, epochs = benchmark.arch_key(arch), max(table.fidelities(config.dataset))
    return ChosenResult(index=table.index(key), arch=key, dataset=config.dataset, epochs=epochs,
                        test=table.test_accuracy(key, config.dataset, epochs),
                        valid=table.valid_accuracy(key, config.dataset, epochs))


__all__ = ["BenchmarkConfig", "BenchmarkQuery", "ChosenResult", "Observation", "chosen_result"]
