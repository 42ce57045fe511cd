"""A tabular NAS benchmark read as data: the measured outcome of every architecture of one space.

The layout is NAS-Bench-201's (`data/README.md`): one row per architecture,
keyed by the benchmark's `arch` string, and per dataset prefix `DS` (taken
from the header, never from a fixed list) the columns `DS_valid_E`,
`DS_test_E` (E epochs), `DS_train_seconds_T`, `DS_params_m`,
`DS_flops_m_derived` and per-seed `DS_valid_E_seedN`.

What a search may see and what it must not are separate calls: `observe`
returns validation accuracy and cost only; `test_accuracy` is for reporting
the architecture a search chose, after the fact.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import BenchmarkError

_VALID = re.compile(r"^(?P<ds>[A-Za-z][\w-]*?)_valid_(?P<epochs>\d+)$")
_SEED = re.compile(r"^(?P<ds>[A-Za-z][\w-]*?)_valid_(?P<epochs>\d+)_seed(?P<seed>\d+)$")
_SECONDS = re.compile(r"^(?P<ds>[A-Za-z][\w-]*?)_train_seconds_(?P<epochs>\d+)$")
_FIELD_LIMIT = 1 << 16  # no cell of the layout is longer; a longer one is a broken file, said by line


@dataclass(frozen=True)
class Observation:
    """What a search sees of one architecture at one fidelity: validation and cost, no test column."""

    arch: str
    dataset: str
    epochs: int
    valid: float  # accuracy (%): the mean over seeds, or the one seed drawn
    seconds: float  # simulated training time of `epochs` epochs, charged on the search's clock
    params_m: float | None  # parameters, millions
    flops_m: float | None  # multiply-adds, millions


class BenchmarkTable:
    """The rows of one table file, indexed by architecture string."""

    def __init__(self, path: str, columns: dict[str, list[float | None]], archs: list[str], indices: list[int]):
        self.path = path
        self._columns = columns
        self._archs = archs
        self._row = {arch: i for i, arch in enumerate(archs)}
        self._indices = indices
        self.datasets: tuple[str, ...] = tuple(dict.fromkeys(
            m["ds"] for m in map(_VALID.match, columns) if m and _seconds_column(columns, m["ds"])))
        if not self.datasets:
            raise BenchmarkError("no dataset in the table's header: expected columns DS_valid_E and "
                                 "DS_train_seconds_T for some dataset prefix DS", where=path)
        # read from the header once: a search asks for them at every query
        self._fidelities = {ds: tuple(sorted(int(m["epochs"]) for m in map(_VALID.match, columns)
                                             if m and m["ds"] == ds)) for ds in self.datasets}
        self._seconds = {ds: _seconds_column(columns, ds) for ds in self.datasets}

    def __len__(self) -> int:
        return len(self._archs)

    # -- what the table holds ------------------------------------------------

    def fidelities(self, dataset: str) -> tuple[int, ...]:
        """The epochs at which `dataset`'s validation accuracy was recorded, ascending."""
        self._check_dataset(dataset)
        return self._fidelities[dataset]

    def seeds(self, dataset: str, epochs: int) -> tuple[int, ...]:
        """The seeds with a column of their own at this fidelity (none: only the mean is known)."""
        return tuple(sorted(int(m["seed"]) for m in map(_SEED.match, self._columns)
                            if m and m["ds"] == dataset and int(m["epochs"]) == epochs))

    def archs(self) -> list[str]:
        return list(self._archs)

    def index(self, arch: str) -> int:
        """The benchmark's own index of an architecture."""
        return self._indices[self._lookup(arch)]

    def arch_at(self, index: int) -> str:
        try:
            return self._archs[self._indices.index(index)]
        except ValueError:
            raise BenchmarkError(f"no architecture with index {index} in the table", where=self.path) from None

    # -- queries -------------------------------------------------------------

    def observe(self, arch: str, dataset: str, epochs: int, seed: int | None = None) -> Observation:
        """Validation accuracy after `epochs` (one seed's with `seed`) and its simulated cost."""
        row = self._lookup(arch)
        self._check_fidelity(dataset, epochs)
        column = f"{dataset}_valid_{epochs}" if seed is None else f"{dataset}_valid_{epochs}_seed{seed}"
        if column not in self._columns:
            raise BenchmarkError(f"no column {column}: seeds with columns at {epochs} epochs are "
                                 f"{_listed(self.seeds(dataset, epochs))}", where=self.path)
        valid = self._value(column, row)
        if valid is None:
            raise BenchmarkError(f"the table has no value for this architecture in {column}", where=arch)
        seconds_column, full = self._seconds[dataset]
        train = self._value(seconds_column, row)
        if train is None:
            raise BenchmarkError(f"the table has no value for this architecture in {seconds_column}", where=arch)
        return Observation(arch=arch, dataset=dataset, epochs=epochs, valid=valid, seconds=train * epochs / full,
                           params_m=self._optional(f"{dataset}_params_m", row),
                           flops_m=self._optional(f"{dataset}_flops_m_derived", row))

    def seed_values(self, arch: str, dataset: str, epochs: int) -> dict[int, float]:
        """Each seed's validation accuracy at this fidelity, for the seeds that ran this architecture."""
        row = self._lookup(arch)
        found = {s: self._value(f"{dataset}_valid_{epochs}_seed{s}", row) for s in self.seeds(dataset, epochs)}
        return {s: v for s, v in found.items() if v is not None}

    def test_accuracy(self, arch: str, dataset: str, epochs: int = 200) -> float:
        """Test accuracy (%): for reporting what a search chose, never for choosing."""
        row = self._lookup(arch)
        self._check_dataset(dataset)
        column = f"{dataset}_test_{epochs}"
        value = self._value(column, row) if column in self._columns else None
        if value is None:
            raise BenchmarkError(f"the table has no {column} value for this architecture", where=arch)
        return value

    def valid_accuracy(self, arch: str, dataset: str, epochs: int = 200) -> float:
        """Validation accuracy (%) at `epochs`: the mean over seeds."""
        return self.observe(arch, dataset, epochs).valid

    # -- plumbing ------------------------------------------------------------

    def _lookup(self, arch: str) -> int:
        try:
            return self._row[arch]
        except KeyError:
            raise BenchmarkError("architecture not in the table", where=arch) from None

    def _check_dataset(self, dataset: str) -> None:
        if dataset not in self.datasets:
            raise BenchmarkError(f"no dataset '{dataset}' in the table; it has {_listed(self.datasets)}",
                                 where=self.path)

    def _check_fidelity(self, dataset: str, epochs: int) -> None:
        if epochs not in self.fidelities(dataset):
            raise BenchmarkError(f"no {epochs}-epoch results for {dataset}; the table has "
                                 f"{_listed(self.fidelities(dataset))} epochs", where=self.path)

    def _value(self, column: str, row: int) -> float | None:
        return self._columns[column][row]

    def _optional(self, column: str, row: int) -> float | None:
        return self._columns[column][row] if column in self._columns else None


def _seconds_column(columns, dataset: str) -> tuple[str, int] | None:
    """The training-time column of a dataset and the epochs it is for (`DS_train_seconds_200`, 200)."""
    for m in map(_SECONDS.match, columns):
        if m and m["ds"] == dataset:
            return m.group(0), int(m["epochs"])
    return None


def _listed(items) -> str:
    return ", ".join(map(str, items)) or "none"


def load_table(path: str | Path) -> BenchmarkTable:
    """Read a table file (CSV, or gzip-compressed CSV ending in .gz); cached per file version."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as err:
        raise BenchmarkError(f"cannot read the benchmark table: {err.strerror or err}", where=str(path)) from None
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int) -> BenchmarkTable:
    try:
        with open(path, "rb") as raw:
            data = raw.read()
        text = (gzip.decompress(data) if path.endswith(".gz") else data).decode("utf-8-sig")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as err:
        raise BenchmarkError(f"cannot read the benchmark table: {type(err).__name__}", where=path) from None
    return _parse(path, text)


def _parse(path: str, text: str) -> BenchmarkTable:
    """Columns of numbers (None where a cell is empty), the arch strings and the indices."""
    previous = csv.field_size_limit(_FIELD_LIMIT)
    try:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header or "arch" not in header or "index" not in header:
            raise BenchmarkError("not a benchmark table: the header needs the columns 'index' and 'arch'", where=path)
        numeric = [(i, name) for i, name in enumerate(header) if name not in ("arch", "index") and not name.startswith("edge_")]
        columns: dict[str, list[float | None]] = {name: [] for _, name in numeric}
        archs, indices = [], []
        at_arch, at_index = header.index("arch"), header.index("index")
        for line, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise BenchmarkError(f"{len(row)} fields where the header has {len(header)}", where=f"{path}:{line}")
            archs.append(row[at_arch])
            indices.append(_number(row[at_index], path, line, "index", integer=True))
            for i, name in numeric:
                columns[name].append(_number(row[i], path, line, name) if row[i] else None)
    except csv.Error as err:
        raise BenchmarkError(f"malformed CSV ({err})", where=f"{path}:{reader.line_num}") from None
    finally:
        csv.field_size_limit(previous)
    if len(set(archs)) != len(archs):
        raise BenchmarkError("an architecture string appears twice", where=path)
    return BenchmarkTable(path, columns, archs, indices)


def _number(text: str, path: str, line: int, column: str, integer: bool = False):
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise BenchmarkError(f"column '{column}' holds no {'integer' if integer else 'number'}",
                             where=f"{path}:{line}") from None
    if not integer and not math.isfinite(value):
        raise BenchmarkError(f"column '{column}' holds a value that is not finite", where=f"{path}:{line}")
    return value


def shipped_table_path() -> Path:
    """The copy of NAS-Bench-201 inside the package (see data/README.md for provenance and licence)."""
    return Path(__file__).resolve().parent / "data" / "nb201.csv.gz"
