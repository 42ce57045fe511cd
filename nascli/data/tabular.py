"""CSV tables: the `csv` dataset kind (classification of one target column).

A column is numeric when every present value parses as a number, else
categorical. Missing values (an empty cell, `NA`, `N/A`, `NaN`, `null`, `?`)
become the training mean in a numeric column (0 after standardising) and an
all-zero one-hot row in a categorical one; rows whose target is missing are
dropped. Numeric columns are standardised with the training split's mean and
std; categories are those seen in training, others encode as all zeros.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch

from nascli.data.base import TabularData, TabularTask
from nascli.data.registry import register_dataset
from nascli.data.splits import check_fraction, holdout
from nascli.data.text import read_text
from nascli.errors import DataError

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
# Without --data-dir: scikit-learn's wine table (UCI; 178 rows, 13 numeric features, 3 classes).
EMBEDDED = Path(__file__).resolve().parent / "embedded" / "csv" / "wine.csv"
EMBEDDED_TARGET = "target"


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """Each non-empty row of the table with its line number. An error says where, never what the file
    holds: a file read as CSV by mistake may be a secret."""
    reader = csv.reader(read_text(path).splitlines())
    try:
        return [(reader.line_num, row) for row in reader if row]
    except csv.Error as e:  # a field longer than csv.field_size_limit() (131,072 characters), say
        reason = str(e)
        if "field limit" in reason:
            reason = f"a field is longer than {csv.field_size_limit():,} characters, the most a CSV field may hold"
        raise DataError(f"not a readable CSV table: {reason}", where=f"{path}:{reader.line_num}") from None


def read_table(path: Path, target: str | None) -> tuple[list[str], list[list[str]], int]:
    """(header, rows, target column index); every row checked to have the header's width."""
    if target is None:
        raise DataError("--dataset csv needs --target COLUMN (the column to predict)", where=str(path))
    if not path.is_file():
        raise DataError("CSV file not found", where=str(path))
    rows = _rows(path)
    if not rows:
        raise DataError("no header row: the file holds only blank lines", where=str(path))
    (header_line, header), *rows = rows
    header = [h.strip() for h in header]
    if target not in header:
        columns = f"{len(header)} column{'s' if len(header) > 1 else ''}"
        raise DataError(f"no column named {target!r} in the header (line {header_line}, {columns})", where=str(path))
    for line, row in rows:
        if len(row) != len(header):
            raise DataError(f"row has {len(row)} fields, the header {len(header)}", where=f"{path}:{line}")
    return header, [row for _, row in rows], header.index(target)


def _class_names(values: list[str]) -> tuple[str, ...]:
    """Target values in numeric order when all are numbers, else alphabetical."""
    distinct = set(values)
    numeric = all(_number(v) is not None for v in distinct)
    return tuple(sorted(distinct, key=lambda v: (_number(v), v) if numeric else (0.0, v)))


def _encode_column(name: str, values: list[str], train: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """One column -> (N, k) float32 features and their names, fitted on the `train` rows."""
    present = [v for v in values if v.strip().lower() not in MISSING]
    if all(_number(v) is not None for v in present):
        x = np.array([np.nan if v.strip().lower() in MISSING else float(v) for v in values], dtype=np.float64)
        fitted = x[train][~np.isnan(x[train])]
        mean = fitted.mean() if len(fitted) else 0.0
        std = fitted.std() if len(fitted) else 1.0
        x = np.where(np.isnan(x), mean, x)  # missing -> the training mean
        return ((x - mean) / max(std, 1e-8)).astype(np.float32)[:, None], [name]
    categories = sorted({values[i].strip() for i in train if values[i].strip().lower() not in MISSING})
    index = {c: j for j, c in enumerate(categories)}
    x = np.zeros((len(values), len(categories)), dtype=np.float32)
    for i, v in enumerate(values):
        if v.strip() in index:
            x[i, index[v.strip()]] = 1.0
    return x, [f"{name}={c}" for c in categories]


def load_csv(path: Path, spec) -> TabularData:
    """A table split at random (seeded) into train / valid / test and encoded with train statistics."""
    check_fraction("valid_fraction", spec.valid_fraction)
    check_fraction("test_fraction", spec.test_fraction)
    header, rows, target = read_table(path, spec.target)
    rows = [row for row in rows if row[target].strip().lower() not in MISSING]
    if not rows:
        raise DataError(f"no rows with a value in target column {spec.target!r}", where=str(path))
    class_names = _class_names([row[target].strip() for row in rows])
    y = torch.tensor([class_names.index(row[target].strip()) for row in rows], dtype=torch.int64)
    rest, test = holdout(len(rows), spec.test_fraction, spec.seed, str(path))
    kept, held = holdout(len(rest), spec.valid_fraction, spec.seed + 1, str(path))
    train, valid = rest[kept], rest[held]
    columns, names = [], []
    for j, name in enumerate(header):
        if j != target:
            x, column_names = _encode_column(name, [row[j] for row in rows], train.numpy())
            columns.append(x)
            names += column_names
    x = torch.from_numpy(np.concatenate(columns, axis=1)) if columns else torch.zeros(len(rows), 0)
    if x.shape[1] == 0:
        raise DataError("the table has no feature columns besides the target", where=str(path))
    note = (f"test: {len(test)} rows, valid: {len(valid)} rows, held out at random (seeds {spec.seed}, {spec.seed + 1})")
    return TabularData(train_x=x[train], train_y=y[train], valid_x=x[valid], valid_y=y[valid], test_x=x[test],
                       test_y=y[test], feature_names=tuple(names), class_names=class_names,
                       task=TabularTask(features=x.shape[1], classes=len(class_names)), source=str(path),
                       embedded=False, splits_note=note)


@register_dataset("csv", task="tabular", options=("valid_fraction", "test_fraction", "target"), needs_dir=False,
                  help="a CSV table with a header row; --target names the class column")
def _load_registered(file: Path | None, spec) -> TabularData:
    if file is None:
        return load_csv(EMBEDDED, spec.model_copy(update={"target": spec.target or EMBEDDED_TARGET}))
    return load_csv(file, spec)
