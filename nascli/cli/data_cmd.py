"""`nascli data`: what nascli will see in a dataset, before any search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .app import command, out
from .data_options import DatasetOpt, ImageSizeOpt, TargetOpt, TokensOpt, VocabSizeOpt, data_spec


@command("data")
def data(
    path: Annotated[Path, typer.Argument(help="A dataset folder or file (as for --data-dir).")],
    dataset: DatasetOpt = None,
    image_size: ImageSizeOpt = None,
    tokens: TokensOpt = None,
    vocab_size: VocabSizeOpt = None,
    target: TargetOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the random holdouts, as for search.")] = 0,
) -> None:
    """Describe a dataset: kind, splits and sizes, classes and counts, image shape or vocabulary, cache.

    Without --dataset the kind is guessed: csv for a .csv file, text for another file or a folder of
    train.txt/valid.txt/test.txt, cifar10 for CIFAR batches, images for a folder of class folders."""
    from ..data.describe import describe, guess_kind  # torch loads only here

    kind = dataset or guess_kind(path)
    spec = data_spec(kind, path, False, None, seed, image_size=image_size, tokens=tokens, vocab_size=vocab_size,
                     target=target)
    found = describe(spec.load(), kind)
    for label, value in found.facts:
        out.print(f"[bold]{label + ':':<11}[/] {value}", soft_wrap=True)
    if found.class_counts:
        table = Table("class", *(f"{split}" for split in ("train", "valid", "test")))
        for name, counts in found.class_counts.items():
            table.add_row(name, *(f"{n:,}" for n in counts))
        out.print(table)
