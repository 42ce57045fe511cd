"""`nascli check`: do sampled architectures of a space build and run on real data?"""

from __future__ import annotations

import random
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..arch.sample import sample_architecture
from ..space import load_space
from ..space.compiler import compile_space
from .app import command, out
from .data_options import MAX_SEED, DataDirOpt, DatasetOpt, DownloadOpt, data_spec
from .space_cmds import SpaceArg


@command("check")
def check(
    space: SpaceArg,
    n: Annotated[int, typer.Option("-n", min=1, help="How many architectures.")] = 10,
    seed: Annotated[Optional[int], typer.Option(min=0, max=MAX_SEED, help="Seed for sampling and for the children's initial weights.")] = 0,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = False,
) -> None:
    """Sample N architectures (all depths), build each and run one forward+backward pass on a real batch.

    Exit 0 when every one builds and runs; one whose loss is not finite is listed as diverged."""
    from ..children.check import check_architecture  # torch loads only here

    compiled = compile_space(load_space(space))
    data = data_spec(dataset, data_dir, download, compiled.space).load()
    rng = random.Random(seed)
    depths = compiled.depths or [None]
    table = Table("#", "depth", "params", "MACs", "ms", "result", title=f"{compiled.name} on {data.source}")
    results = []
    for i in range(n):
        arch = sample_architecture(compiled, rng, depths[i % len(depths)])
        r = check_architecture(arch, data, seed=(seed or 0) + i)
        results.append(r)
        if r.status == "failed":
            table.add_row(str(i), str(arch.depth), "-", "-", "-", f"[red]{r.error}[/]")
        else:
            shown = "ok" if r.status == "ok" else "[yellow]diverged[/]"
            table.add_row(str(i), str(arch.depth), f"{r.params:,}", f"{r.macs:,}", f"{r.ms:.0f}", shown)
    out.print(table)
    for r in results:
        if r.status != "ok":
            colour = "red" if r.status == "failed" else "yellow"
            out.print(f"[{colour}]{r.status}[/]: {r.tokens}\n  {r.error}")
    count = {s: sum(r.status == s for r in results) for s in ("ok", "diverged", "failed")}
    diverged = f", {count['diverged']} diverged (built and ran; the loss is not finite)" if count["diverged"] else ""
    out.print(f"{count['ok'] + count['diverged']} passed{diverged}, {count['failed']} failed")
    if count["failed"]:
        raise typer.Exit(1)
