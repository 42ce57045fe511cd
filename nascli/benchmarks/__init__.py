"""Tabular benchmarks: architectures whose real training outcome is looked up instead of trained.

`BENCHMARKS` maps a name (`--benchmark nb201`) to what a search needs of it:
the check that a space is the table's, the key of an architecture in the
table, and the table shipped with the package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..arch import Architecture
from ..errors import BenchmarkError
from ..space.compiler import CompiledSpace
from . import nb201
from .table import BenchmarkTable, Observation, load_table, shipped_table_path


@dataclass(frozen=True)
class Benchmark:
    name: str
    check_space: Callable[[CompiledSpace], None]  # raises BenchmarkError for a space the table does not cover
    arch_key: Callable[[Architecture], str]  # the table's row key of an architecture
    default_table: Path  # shipped inside the package

    def table(self, path: str | Path | None = None) -> BenchmarkTable:
        return load_table(path if path is not None else self.default_table)


BENCHMARKS = {"nb201": Benchmark("nb201", nb201.check_space, nb201.arch_string, shipped_table_path())}


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise BenchmarkError(f"unknown benchmark '{name}'; expected one of {', '.join(BENCHMARKS)}") from None


__all__ = ["BENCHMARKS", "Benchmark", "BenchmarkTable", "Observation", "get_benchmark", "load_table",
           "shipped_table_path"]
