"""What `nascli fidelity` keeps in a run folder, and how `report` reads it back.

    RUN/fidelity/fidelity.json                     the last study: settings, pairs, τ and ρ
    RUN/fidelity/<settings>/child-<id>.json        one child retrained stand-alone (reused by
                                                   a later study with the same settings)
    RUN/fidelity/truth.json                        the last `--truth` comparison against a
                                                   benchmark table (nothing retrained)

Plain JSON written atomically: a study stopped half-way keeps the retrains it finished.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import RunError
from .checkpoint import write_atomic

FOLDER = "fidelity"
RESULT_FILE = "fidelity.json"
TRUTH_FILE = "truth.json"


class FidelitySettings(BaseModel):
    """How the children are retrained and the correlations estimated; `--help` of `nascli fidelity`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    children: int = Field(5, ge=3)  # K: how many of the run's finished children to retrain
    epochs: int = Field(10, ge=1)
    train_subset: int | None = Field(None, ge=1)  # training images (or tokens) per epoch; None: the whole split
    seed: int = 0  # weights, data order and the bootstrap
    resamples: int = Field(2000, ge=1)
    confidence: float = Field(0.95, gt=0, lt=1)

    @property
    def retrain_key(self) -> str:
        """The folder of retrains these settings can reuse: only what changes a retrain's result."""
        return f"epochs-{self.epochs}-subset-{self.train_subset or 'all'}-seed-{self.seed}"


class Retrained(BaseModel):
    """One child trained from scratch on the training split and scored once on the validation split."""

    child_id: int
    tokens: str
    status: Literal["done", "failed"]
    metric_name: str  # valid_accuracy or valid_perplexity
    metric: float | None = None
    params: int | None = None
    macs: int | None = None
    seconds: float
    error: str | None = None


class Pair(BaseModel):
    """A child's search-time score beside its stand-alone one."""

    child_id: int
    tokens: str
    search_reward: float
    search_metric: float
    standalone_metric: float | None  # None: the stand-alone training failed (see error)
    error: str | None = None


class Correlation(BaseModel):
    value: float | None  # None: undefined (fewer than 2 scored children, or one side constant)
    low: float | None
    high: float | None


class FidelityResult(BaseModel):
    """One study: which children, both scores of each, and the rank correlations between them."""

    run: str
    space: str
    strategy: str
    dataset: str
    metric_name: str
    finished: int  # finished children in the run when the study chose
    settings: FidelitySettings
    pairs: list[Pair]
    kendall_tau: Correlation
    spearman_rho: Correlation
    interval: str  # how low/high were computed, in words


class TruthPair(BaseModel):
    """A child's search-time score beside what the benchmark table measured for its architecture."""

    child_id: int
    tokens: str
    arch: str  # the table's key
    search_reward: float
    search_metric: float
    truth: float  # the table's validation accuracy (%)


class TruthResult(BaseModel):
    """`nascli fidelity RUN --truth NAME`: every finished child's search score against the table."""

    run: str
    space: str
    strategy: str
    dataset: str  # what the run's children were scored on
    proxy: str  # how the run scored them, in words
    metric_name: str
    benchmark: str
    truth_column: str  # e.g. cifar10_valid_200
    finished: int  # finished children in the run
    duplicates: int  # finished children whose token string an earlier one had: left out, the earliest kept
    failed: int  # failed children: no search score, left out
    pairs: list[TruthPair]
    kendall_tau: Correlation
    spearman_rho: Correlation
    interval: str
    chosen: TruthPair | None  # the child the search ranks first
    best: TruthPair | None  # the run's child the table ranks first
    note: str  # how the run's training differs from the table's


def fidelity_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / FOLDER


def retrain_path(run_dir: str | Path, settings: FidelitySettings, child_id: int) -> Path:
    return fidelity_dir(run_dir) / settings.retrain_key / f"child-{child_id}.json"


def _read(path: Path, model: type[BaseModel]):
    try:
        return model.model_validate_json(path.read_bytes())
    except (OSError, ValueError, ValidationError) as err:
        raise RunError(f"a broken fidelity record: {str(err).splitlines()[0]}", where=str(path)) from None


def load_retrained(run_dir: str | Path, settings: FidelitySettings, child_id: int) -> Retrained | None:
    """A retrain finished earlier with the same settings, or None."""
    path = retrain_path(run_dir, settings, child_id)
    return _read(path, Retrained) if path.is_file() else None


def save_retrained(run_dir: str | Path, settings: FidelitySettings, record: Retrained) -> None:
    path = retrain_path(run_dir, settings, record.child_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (record.model_dump_json(indent=2) + "\n").encode())


def _save(run_dir: str | Path, name: str, result: BaseModel) -> Path:
    path = fidelity_dir(run_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(result.model_dump(), indent=2) + "\n").encode())
    return path


def _load(run_dir: str | Path, name: str, model: type[BaseModel]):
    path = fidelity_dir(run_dir) / name
    return _read(path, model) if path.is_file() else None


def save_fidelity(run_dir: str | Path, result: FidelityResult) -> Path:
    return _save(run_dir, RESULT_FILE, result)


def load_fidelity(run_dir: str | Path) -> FidelityResult | None:
    """The run's last fidelity study, or None when it has none."""
    return _load(run_dir, RESULT_FILE, FidelityResult)


def save_truth(run_dir: str | Path, result: TruthResult) -> Path:
    return _save(run_dir, TRUTH_FILE, result)


def load_truth(run_dir: str | Path) -> TruthResult | None:
    """The run's last comparison against a benchmark table, or None."""
    return _load(run_dir, TRUTH_FILE, TruthResult)
