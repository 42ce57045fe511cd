"""The dataset options shared by `search`, `check`, `eval`, `export` and `data`, and the DataSpec they make."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


PANEL = "Data"
DatasetOpt = Annotated[Optional[str], typer.Option(
    help="cifar10, ptb, images (a folder of class folders), text (any corpus) or csv (a table); "
         "plugins may add more (default: the space's `dataset`).", rich_help_panel=PANEL)]
DataDirOpt = Annotated[Optional[Path], typer.Option(
    help="The dataset's folder or file (default: the embedded sample of cifar10, ptb or csv).", rich_help_panel=PANEL)]
MAX_SEED = 2**32 - 1  # children seed torch with seed + child id, which must stay in torch's 64-bit range
DownloadOpt = Annotated[bool, typer.Option("--download", help="Fetch the full CIFAR-10 into --data-dir (default ./data) first; needs torchvision and a network.", rich_help_panel=PANEL)]
ImageSizeOpt = Annotated[Optional[int], typer.Option(min=1, help="images: resize every image to this side \\[default: the images' own size when all agree, else 32].", rich_help_panel=PANEL)]
TokensOpt = Annotated[Optional[str], typer.Option(help="text: word or char tokens \\[default: word].", rich_help_panel=PANEL)]
VocabSizeOpt = Annotated[Optional[int], typer.Option(min=2, help="text: keep the N most frequent tokens, the rest become <unk> \\[default: all].", rich_help_panel=PANEL)]
TargetOpt = Annotated[Optional[str], typer.Option(help="csv: the column to predict (required for csv).", rich_help_panel=PANEL)]


def data_spec(dataset: str | None, data_dir: Path | None, download: bool, space, seed: int = 0, **options):
    """A checked DataSpec for `space` (see `DataSpec.from_options`); torch loads only when this is called."""
    from ..data.spec import DataSpec

    return DataSpec.from_options(dataset, data_dir, download, space, seed, **options)
