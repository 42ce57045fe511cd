"""`nascli render`, `report` and `export`: see what a search found, and take it elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..errors import RunError
from ..runs import find_run
from .app import command, out
from .data_options import DataDirOpt, DatasetOpt, ImageSizeOpt, TargetOpt, TokensOpt, VocabSizeOpt

SourceArg = Annotated[Optional[str], typer.Argument(
    help="An arch.json, or a token string in quotes (e.g. 'rnn_base2: add tanh / ...'); or use --best; "
         "with --child, the run.")]
BestOpt = Annotated[bool, typer.Option("--best", help="The best child of a run.")]
ChildOpt = Annotated[Optional[int], typer.Option("--child", min=1, help="Child ID of a run (RUN or --run; e.g. one of `nascli show RUN --pareto`); it must have trained.")]
RunOpt = Annotated[Optional[str], typer.Option(help="The run for --best or --child: a folder or a name under runs/ (default: the most recent).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Take an arch.json made from another version of its space file.")]
SpaceOpt = Annotated[Optional[str], typer.Option("--space", help="Read the architecture against this space file instead of the one it names (a space outside ./spaces/).")]


def no_space_with_best(best: bool, space: str | None) -> None:
    """`best`: a run's child is wanted (--best or --child)."""
    if best and space is not None:
        raise RunError("--space applies to an arch.json or a token string; a run's child uses the run's space")


@command("render")
def render(
    source: SourceArg = None,
    best: BestOpt = False,
    child: ChildOpt = None,
    run: RunOpt = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write a figure: .svg, .png, .pdf or .dot.")] = None,
    space: SpaceOpt = None,
    force: ForceOpt = False,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    image_size: ImageSizeOpt = None,
) -> None:
    """Draw an architecture as the papers do (a tree in the terminal without -o).

    A conv child is drawn at its data's image size: a run's own for --best or --child, else --dataset's."""
    from ..export import locate  # torch, graphviz and matplotlib load only for the command that needs them
    from ..render import architecture_tree, draw
    from ..render.terminal import fit_tree
    from ..render.conv import IMAGE_SHAPE

    no_space_with_best(best or child is not None, space)
    found = locate(source, best, run, dataset, data_dir, space=space, force=force, child_id=child, image_size=image_size)
    arch = found.arch
    shape = IMAGE_SHAPE  # only a conv child's drawing shows the input's shape; load the data just for it
    if arch.task == "image":
        task = found.data.load().task
        shape = (task.channels, task.height, task.width)
    if output is None:
        out.print(fit_tree(architecture_tree(arch, shape), out.width))
        return
    out.print(f"wrote {draw(arch, output, shape)}")


REPORT_COSTS = {"params": "params", "macs": "macs", "latency": "latency_ms", "none": "none"}


@command("report")
def report(
    runs: Annotated[Optional[list[str]], typer.Argument(help="Run folders or names (default: the most recent run).")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="report.png, or .html with a table of the best children (default: report.png in the first run).")] = None,
    cost: Annotated[Optional[str], typer.Option("--cost", help="Add a panel of validation accuracy against this cost with the Pareto front drawn (and the front's table in .html): params, macs, latency (measured in --max-latency runs) or none \\[default: the cost the run was limited by (--max-latency or --objective latency: latency; --max-macs: macs; --max-params: params); none for a run without limits].")] = None,
    refused: Annotated[bool, typer.Option("--refused/--no-refused", help="Draw the refused samples on the cost panel (crosses along its bottom, at their cost).")] = True,
) -> None:
    """Chart the rewards, baseline, best-so-far and depth of one or more runs; with --cost, accuracy against cost."""
    from ..report import ReportConfig, write_report

    if cost is not None and cost not in REPORT_COSTS:
        raise RunError(f"--cost {cost}: expected params, macs, latency or none")
    config = ReportConfig(cost=REPORT_COSTS[cost] if cost else "auto", show_refused=refused)
    folders = [find_run(r) for r in runs] if runs else [find_run(None)]
    path = write_report(folders, output or folders[0] / "report.png", config)
    out.print(f"wrote {path}")


@command("export")
def export(
    source: SourceArg = None,
    best: BestOpt = False,
    child: ChildOpt = None,
    run: RunOpt = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="model.py (readable PyTorch source), model.pt (TorchScript) or model.onnx (ONNX), with the trained weights of `nascli eval` (.pt, .onnx). MODEL.md, the model card, is written beside it \\[default: model.FORMAT].")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="py, pt or onnx (needs pip install 'nascli\\[onnx]'; checked against onnxruntime on real data) \\[default: -o's suffix].")] = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    image_size: ImageSizeOpt = None,
    tokens: TokensOpt = None,
    vocab_size: VocabSizeOpt = None,
    target: TargetOpt = None,
    space: SpaceOpt = None,
    force: ForceOpt = False,
) -> None:
    """Write a found child as a standalone PyTorch module file, TorchScript or ONNX, and its model card.

    The child: an arch.json, a token string, the best child of a run (--best) or any trained one (--child ID,
    e.g. of the Pareto front). The data (image shape and classes, vocabulary, table width) shapes the child: a
    run's own for --best and --child, else --dataset and its options. An ONNX export is checked on a batch of that data. See docs/export.md."""
    from ..export import check_export, export_located, locate

    if output is None and fmt is None:
        raise RunError("give -o FILE (.py, .pt or .onnx) or --format py|pt|onnx")
    output = output if output is not None else Path(f"model.{fmt}")
    no_space_with_best(best or child is not None, space)
    found = locate(source, best, run, dataset, data_dir, space=space, force=force, child_id=child, image_size=image_size,
                   tokens=tokens, vocab_size=vocab_size, target=target)
    check_export(output, found.weights, fmt)  # before loading the data
    exported, card = export_located(found, found.data.load(), output, fmt)
    note = "" if found.weights.trained else f"  (untrained: `{found.weights.command}` trains it)"
    if exported.parity is not None:
        note = f"  (onnxruntime matches the child: max |diff| {exported.parity.max_diff:.2g} on {exported.parity.what})"
    out.print(f"wrote {escape(str(exported.path))}{escape(note)}\nwrote {escape(str(card))}", soft_wrap=True)
