"""DataSpec: which dataset a run uses, in a form another process (a worker) can load again."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from . import ImageData, TextData, load_dataset


class DataSpec(BaseModel):
    """Where a worker finds the data: enough to load it again in another process."""

    name: str
    data_dir: str | None = None
    valid_fraction: float = 0.1
    seed: int = 0

    @classmethod
    def for_space(cls, settings: dict, dataset: str | None = None, data_dir: str | Path | None = None,
                  seed: int = 0) -> "DataSpec":
        """`dataset` if given, else the space's `dataset` setting, else cifar10."""
        name = dataset or str(settings.get("dataset", "cifar10"))
        return cls(name=name, data_dir=str(data_dir) if data_dir else None, seed=seed)

    def load(self) -> ImageData | TextData:
        return load_dataset(self.name, self.data_dir, valid_fraction=self.valid_fraction, seed=self.seed)
