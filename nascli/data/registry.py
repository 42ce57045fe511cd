"""The dataset registry: every `--dataset` kind is one registered entry.

A kind has a name, the task its data feeds (image, language or tabular), a
loader and the options it reads. The built-in kinds (cifar10, ptb, images,
text, csv) register themselves when `nascli.data` is imported; a plugin adds
its own the same way, from any module nascli imports:

    from nascli.data.registry import register_dataset

    @register_dataset("mnist-idx", task="image", options=("image_size",),
                      help="MNIST in its IDX files")
    def load_mnist_idx(folder, spec):   # folder: Path, or None for no --data-dir
        ...                             # spec: the run's DataSpec (seed, fractions, options)
        return ImageData(...)           # an ImageData, TextData or TabularData

The loader gets the `--data-dir` path (None when the user gave none) and the
run's `DataSpec`; it returns one of the records in `nascli.data.base` and raises
`DataError` for bad input. Because workers reload data from the DataSpec, a
loader must depend on nothing else.

The kinds live in `DATASETS`, a `nascli.registry.Registry` like the ops'
`OPS`: an unknown name, a name registered twice and the listing behave the
same for both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nascli.registry import Registry, RegistryError

if TYPE_CHECKING:  # the spec imports this module, so only the type checker sees it here
    from nascli.data.spec import DataSpec

TaskKind = Literal["image", "language", "tabular"]
# The DataSpec fields a kind may read besides the seed; `nascli data` and the CLI check them.
OPTIONS = ("valid_fraction", "test_fraction", "image_size", "tokens", "vocab_size", "target")
Loader = Callable[[Path | None, "DataSpec"], Any]


@dataclass(frozen=True)
class DatasetKind:
    """One `--dataset` value: what it loads and which options apply to it."""

    name: str
    task: TaskKind
    load: Loader
    options: tuple[str, ...]
    help: str
    needs_dir: bool  # False when the kind ships an embedded sample used without --data-dir


DATASETS: Registry[DatasetKind] = Registry("dataset")


def register_dataset(name: str, *, task: TaskKind, help: str, options: tuple[str, ...] = (),
                     needs_dir: bool = True) -> Callable[[Loader], Loader]:
    """Register the decorated loader as dataset kind `name`; a second kind of the same name is a RegistryError."""
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise RegistryError(f"dataset '{name}': unknown options {sorted(unknown)}; known: {', '.join(OPTIONS)}")

    def add(loader: Loader) -> Loader:
        DATASETS.add(name, DatasetKind(name, task, loader, tuple(options), help, needs_dir))
        return loader

    return add


def dataset_kind(name: str) -> DatasetKind:
    """The registered kind `name`, or a RegistryError listing the known ones."""
    return DATASETS.get(name)


def known_datasets() -> tuple[str, ...]:
    """The registered kinds' names, in registration order (as the ops')."""
    return tuple(DATASETS)
