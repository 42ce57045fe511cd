"""DataSpec: which dataset a run uses, in a form another process (a worker) can load again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from nascli.data.base import Data, LabelledSplits
from nascli.data.registry import OPTIONS, dataset_kind, known_datasets
from nascli.errors import DataError
from nascli.space import SearchSpace
from nascli.space.checks import space_task


class DataSpec(BaseModel):
    """Where a worker finds the data and how to read it: enough to load it identically in another
    process. A run's config.json records it, so the seeded holdouts are part of the run."""

    name: str
    data_dir: str | None = None
    valid_fraction: float = 0.1  # held out of train where the data has no validation split
    test_fraction: float = 0.1  # held out where the data has no test split (images, csv, a single text file)
    seed: int = 0
    image_size: int | None = Field(None, ge=1)  # images: side to resize to (None: their own, if all agree)
    tokens: Literal["word", "char"] = "word"  # text: word- or character-level
    vocab_size: int | None = Field(None, ge=2)  # text: keep the most frequent words, the rest become <unk>
    target: str | None = None  # csv: the column to predict

    @classmethod
    def for_space(cls, space: SearchSpace | None, dataset: str | None = None, data_dir: str | Path | None = None,
                  seed: int = 0, **options) -> "DataSpec":
        """`dataset` if given, else the space's `dataset` setting, else cifar10; its kind's task must be the
        space's (a dataset kind says what it holds: image, language or tabular data). `options` are the
        kind's options (image_size, tokens, vocab_size, target); None means the default. Without a space
        (`nascli data`), any kind goes."""
        settings = space.settings if space is not None else {}
        name = dataset or str(settings.get("dataset", "cifar10"))
        holds, task = dataset_kind(name).task, space_task(space) if space is not None else None
        if task is not None and holds != task:
            fits = ", ".join(d for d in known_datasets() if dataset_kind(d).task == task)
            raise DataError(f"dataset '{name}' holds {holds} data, but space '{space.name}' "
                            f"builds {task} networks; use --dataset {fits}")
        given = {k: v for k, v in options.items() if v is not None}
        return cls(name=name, data_dir=str(data_dir) if data_dir else None, seed=seed, **given)

    @classmethod
    def from_options(cls, dataset: str | None, data_dir: str | Path | None, download: bool, space: SearchSpace | None,
                     seed: int = 0, *, image_size: int | None = None, tokens: str | None = None,
                     vocab_size: int | None = None, target: str | None = None) -> "DataSpec":
        """A checked DataSpec from the command line's data options: `--dataset` or the space's default;
        `--download` fills `--data-dir` first."""
        from nascli.data.cifar import download as download_cifar10

        if tokens not in (None, "word", "char"):
            raise DataError(f"--tokens must be word or char, not {tokens!r}")
        spec = cls.for_space(space, dataset, data_dir, seed, image_size=image_size, tokens=tokens,
                             vocab_size=vocab_size, target=target)
        if download:
            if spec.name != "cifar10":
                raise DataError(f"--download fetches cifar10 only; put the {spec.name} files in --data-dir")
            spec = spec.model_copy(update={"data_dir": str(download_cifar10(Path(data_dir or "data")).parent)})
        spec.check()
        return spec

    def check(self) -> None:
        """A DataError for an unknown kind, a missing folder, or an option the kind does not read."""
        kind = dataset_kind(self.name)
        if self.data_dir is None and kind.needs_dir:
            raise DataError(f"--dataset {self.name} needs --data-dir (it ships no sample)")
        defaults = DataSpec(name=self.name)
        for option in OPTIONS:
            if option not in kind.options and getattr(self, option) != getattr(defaults, option):
                flag = "--" + option.replace("_", "-")
                raise DataError(f"{flag} does not apply to --dataset {self.name}")

    def load(self) -> Data:
        self.check()
        folder = Path(self.data_dir).expanduser() if self.data_dir else None
        data = dataset_kind(self.name).load(folder, self)
        if isinstance(data, LabelledSplits) and data.task.classes < 2:
            # every child would be right every time: rewards all 1.0, a search that learns nothing
            raise DataError(f"holds {data.task.classes} class; a classifier needs at least two "
                            "(for images: one folder per class)", where=data.source)
        if folder is None:
            return replace(data, source=f"embedded sample (nascli/data/embedded/{self.name})", embedded=True)
        return data
