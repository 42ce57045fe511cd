"""`nascli eval`: retrain the best child of a run, any child of it by id, or an arch.json, and test it once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..arch import load_architecture
from ..errors import RunError
from ..space import load_space
from ..runs.metrics import format_value
from .app import command, out
from .data_options import (MAX_SEED, DataDirOpt, DatasetOpt, DownloadOpt, ImageSizeOpt, TargetOpt, TokensOpt,
                           VocabSizeOpt, data_spec)
from .budget_options import MaxLatencyOpt, MaxMacsOpt, MaxParamsOpt, within_limits
from .view_cmds import ForceOpt, SpaceOpt, no_space_with_best
from .device_options import AmpOpt, DeviceOpt, device_name


@command("eval")
def eval_(
    arch_file: Annotated[Optional[Path], typer.Argument(help="An arch.json to retrain (or use --best).")] = None,
    best: Annotated[bool, typer.Option("--best", help="Retrain the best child of a run.")] = False,
    child_id: Annotated[Optional[int], typer.Option("--child", min=1, help="Retrain child ID of the run (e.g. one of `nascli show RUN --pareto`); it must have trained.")] = None,
    run: Annotated[Optional[str], typer.Option(help="The run for --best or --child (default: the most recent).")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs.")] = 10,
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = False,
    image_size: ImageSizeOpt = None,
    tokens: TokensOpt = None,
    vocab_size: VocabSizeOpt = None,
    target: TargetOpt = None,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed for weights and data order.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    space: SpaceOpt = None,
    force: ForceOpt = False,
    device: DeviceOpt = "auto",
    amp: AmpOpt = False,
    max_params: MaxParamsOpt = None,
    max_macs: MaxMacsOpt = None,
    max_latency: MaxLatencyOpt = None,
) -> None:
    """Retrain from scratch on train + validation and measure the test split once.

    With --best or --child, the run's own dataset and settings are used (--dataset/--data-dir apply to an
    arch.json); the weights go to RUN/eval/child-ID/, where `nascli export --child ID` finds them."""
    from ..children import ChildConfig  # torch loads only here
    from ..data import dataset_kind
    from ..runs import best_child, child_of_run, eval_dir
    from ..render.output import writable_folder
    from ..search.retrain import retrain
    from ..train import TrainConfig
    from ..train.checks import check_data

    if (best + (child_id is not None) + (arch_file is not None)) != 1:
        raise RunError("give either an arch.json or --best [--run RUN], or --child ID [--run RUN]")
    no_space_with_best(best or child_id is not None, space)
    limits = {"--max-params": max_params, "--max-macs": max_macs, "--max-latency": max_latency}
    if not best and any(v is not None for v in limits.values()):
        raise RunError(f"{', '.join(k for k, v in limits.items() if v)} apply to --best (choose within them)")
    if child_id is not None:
        found, best = child_of_run(run, child_id), True  # from here on, a run's child as --best's
    elif best:
        found = best_child(run, within_limits(max_params, max_macs, max_latency, device_name(device)))
    if best:
        if found.benchmark is not None:
            return _looked_up(found, as_json)
    device = device_name(device)
    if best:
        arch, spec, child, out_dir, train = found.arch, found.data, found.child, found.eval_dir, found.train
    else:
        arch = load_architecture(arch_file, space, force=force)
        spec = data_spec(dataset, data_dir, download, load_space(space or arch.space), seed, image_size=image_size,
                         tokens=tokens, vocab_size=vocab_size, target=target)
        train = TrainConfig.for_task(dataset_kind(spec.name).task)
        child, out_dir = ChildConfig(), eval_dir(arch_file)
    train = train.model_copy(update={"epochs": epochs, "seed": seed, "train_subset": None, "amp": amp})
    writable_folder(out_dir)  # a read-only run folder fails now, not after the training
    data = spec.load()
    check_data(data, train, test=True)
    if not as_json:
        where = "the embedded sample" if data.embedded else data.source
        out.print(f"retraining {arch.tokens}\n  on {spec.name} train+valid from {where}, {epochs} epochs, on {device}")
    result = retrain(arch, data, spec.name, train, child, out_dir, device)
    if as_json:
        out.print_json(json.dumps(result.model_dump()))
        return
    value = format_value(result.metric_name, result.metric)
    out.print(f"{result.metric_name.replace('_', ' ')}: [bold]{value}[/]  ({result.params:,} params, "
              f"{result.macs:,} MACs, {result.seconds:.0f}s)\nweights, arch.json and result.json in {result.out_dir}")


def _looked_up(found, as_json: bool) -> None:
    """A benchmark run's best child: its test accuracy is read from the table, nothing is trained."""
    from ..benchmarks.query import chosen_result

    result = chosen_result(found.benchmark, found.arch)
    bench = found.benchmark
    document = {"looked_up": True, "benchmark": bench.name, "child_id": found.child_id, "tokens": found.arch.tokens,
                "arch": result.arch, "index": result.index, "dataset": result.dataset, "chosen_by":
                f"{bench.dataset}_valid_{bench.fidelity}", "test_accuracy": result.test, "test_column":
                f"{result.dataset}_test_{result.epochs}", "valid_accuracy": result.valid,
                "valid_column": f"{result.dataset}_valid_{result.epochs}"}
    if as_json:
        out.print_json(json.dumps(document))
        return
    out.print(f"looked up in the {bench.name} table, not trained: child #{found.child_id}, chosen by "
              f"{document['chosen_by']}\n  {found.arch.tokens}\n  (benchmark index {result.index}, {result.arch})")
    out.print(f"{document['test_column']}: [bold]{result.test:.2f}%[/]   {document['valid_column']}: {result.valid:.2f}%")
