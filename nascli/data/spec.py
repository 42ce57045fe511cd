"""DataSpec: which dataset a run uses, in a form another process (a worker) can load again."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from ..errors import DataError
from ..space import SearchSpace
from ..space.checks import space_task
from . import ImageData, TextData, load_dataset

# What each dataset's children are: a dataset must fit the space it trains.
DATASET_TASKS = {"cifar10": "image", "ptb": "language"}


class DataSpec(BaseModel):
    """Where a worker finds the data: enough to load it again in another process."""

    name: str
    data_dir: str | None = None
    valid_fraction: float = 0.1
    seed: int = 0

    @classmethod
    def for_space(cls, space: SearchSpace, dataset: str | None = None, data_dir: str | Path | None = None,
                  seed: int = 0) -> "DataSpec":
        """`dataset` if given, else the space's `dataset` setting, else cifar10; it must fit the space's task."""
        name = dataset or str(space.settings.get("dataset", "cifar10"))
        task = space_task(space)
        if name in DATASET_TASKS and task is not None and DATASET_TASKS[name] != task:
            fits = ", ".join(d for d, t in DATASET_TASKS.items() if t == task)
            raise DataError(f"dataset '{name}' holds {DATASET_TASKS[name]} data, but space '{space.name}' "
                            f"builds {task} networks; use --dataset {fits}")
        return cls(name=name, data_dir=str(data_dir) if data_dir else None, seed=seed)

    def load(self) -> ImageData | TextData:
        return load_dataset(self.name, self.data_dir, valid_fraction=self.valid_fraction, seed=self.seed)
