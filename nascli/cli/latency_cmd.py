"""`nascli latency`: build a space's latency table and report its prediction error against measured latency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..space import load_space
from ..space.compiler import compile_space
from .app import command, out
from .data_options import MAX_SEED, DataDirOpt, DatasetOpt, DownloadOpt, ImageSizeOpt, data_spec
from .device_options import DeviceOpt, device_name
from .space_cmds import SpaceArg


@command("latency")
def latency(
    space: SpaceArg,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = False,
    image_size: ImageSizeOpt = None,
    device: DeviceOpt = "auto",
    sample: Annotated[int, typer.Option(min=1, help="Children drawn uniformly (after the table's calibration ones), each predicted and measured.")] = 30,
    batch: Annotated[int, typer.Option(min=1, help="Examples per timed forward pass.")] = 1,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of the draws.")] = 0,
    depth: Annotated[Optional[int], typer.Option(min=1, help="Layers of a space with a depth schedule (default: its largest).")] = None,
    table_file: Annotated[Optional[Path], typer.Option("--table", help="Read the table from this JSON file and write it back with the new entries (default: a fresh table, not kept).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON, with each child's predicted and measured ms.")] = False,
) -> None:
    """Build SPACE's latency table (each (position, op, input shape) timed once) and report its error.

    Prints the entries timed, the build seconds, and the median, p90 and max absolute % error of the
    predicted latency against the measured one over --sample children. See docs/budgets.md."""
    from ..budget.latency import LatencyConfig  # torch loads only here
    from ..budget.latency_error import prediction_error
    from ..budget.latency_table import LatencyTable

    device = device_name(device)
    compiled = compile_space(load_space(space))
    task = data_spec(dataset, data_dir, download, compiled.space, image_size=image_size).load().task
    table = LatencyTable(task, device, LatencyConfig(batch=batch), path=table_file)
    result = prediction_error(compiled, table, sample, seed, depth)
    if as_json:
        out.print_json(json.dumps(result.as_json()))
        return
    errors = result.summary()
    out.print(f"{result.space}: latency table on {result.table}")
    out.print(f"  {result.entries} entries ({result.timed} timed now, {result.build_seconds:.1f} s building and "
              f"calibrating); fixed part {result.fixed_ms:+.3f} ms from {result.calibration} children measured whole")
    out.print(f"  absolute error of the prediction over {len(result.children)} children: median "
              f"{errors['median_pct']:.1f}%, p90 {errors['p90_pct']:.1f}%, max {errors['max_pct']:.1f}%")
