"""The dataset options shared by `search`, `check` and `eval`, and the DataSpec they make."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import DataError

DatasetOpt = Annotated[Optional[str], typer.Option(help="cifar10 or ptb (default: the space's `dataset`).")]
DataDirOpt = Annotated[Optional[Path], typer.Option(help="Folder of the dataset's files (default: the embedded sample).")]
MAX_SEED = 2**32 - 1  # children seed torch with seed + child id, which must stay in torch's 64-bit range
DownloadOpt = Annotated[bool, typer.Option("--download", help="Fetch the full CIFAR-10 into --data-dir (default ./data) first; needs torchvision and a network.")]


def data_spec(dataset: str | None, data_dir: Path | None, download: bool, space, seed: int = 0):
    """A DataSpec for `space` (a SearchSpace): `--dataset` or its default; `--download` fills `--data-dir` first."""
    from ..data import download_cifar10  # torch loads only for commands that touch data
    from ..data.spec import DataSpec

    spec = DataSpec.for_space(space, dataset, data_dir, seed)
    if download:
        if spec.name != "cifar10":
            raise DataError(f"--download fetches cifar10 only; put the {spec.name} files in --data-dir")
        spec = spec.model_copy(update={"data_dir": str(download_cifar10(data_dir or Path("data")).parent)})
    return spec
