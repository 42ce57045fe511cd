"""`nascli fidelity`: retrain some of a run's children stand-alone and rank-correlate the two scores."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import RunError
from ..runs import find_run
from ..runs.metrics import format_value
from .app import command, err, out
from .device_options import AmpOpt, DeviceOpt, device_name


def _interval(c) -> str:
    if c.value is None:
        return "undefined (fewer than 2 scored children, or all scores equal)"
    ci = f"  [{c.low:+.2f}, {c.high:+.2f}]" if c.low is not None else ""
    return f"{c.value:+.3f}{ci}"


def _score(name: str, value: float | None) -> str:
    if value is None:
        return "failed"
    return format_value(name, value)


def _correlation_table(result, settings, title: str) -> Table:
    table = Table("statistic", f"value  [{settings.confidence:.0%} interval]", title=title)
    table.add_row("Kendall τ-b", _interval(result.kendall_tau))
    table.add_row("Spearman ρ", _interval(result.spearman_rho))
    return table


def _truth(run: str | None, benchmark: str, dataset: str, settings, as_json: bool) -> None:
    """`--truth`: the run's children against the benchmark table; nothing trains."""
    from ..fidelity.truth import truth_study

    result = truth_study(run, benchmark, dataset, settings)
    if as_json:
        out.print_json(json.dumps(result.model_dump()))
        return
    out.print(f"truth of [bold]{escape(result.run)}[/] ({result.strategy}): {len(result.pairs)} architectures "
              f"({result.finished} finished children, {result.duplicates} repeats counted once, {result.failed} failed "
              f"left out), search {result.metric_name} against {benchmark}'s {result.truth_column}; intervals: "
              f"{result.interval}", soft_wrap=True)
    out.print(f"note: {escape(result.note)}", soft_wrap=True)
    out.print(_correlation_table(result, settings, f"search {result.metric_name} vs {result.truth_column}"))
    for label, pair in (("the search's best", result.chosen), ("the run's best by the table", result.best)):
        out.print(f"{label}: #{pair.child_id}, search {_score(result.metric_name, pair.search_metric)}, table "
                  f"{pair.truth:.2f}%  {escape(pair.tokens)}", soft_wrap=True)
    out.print(f"saved {escape(result.run)}/fidelity/truth.json; `nascli report {escape(result.run)}` draws the scatter",
              soft_wrap=True)


@command("fidelity")
def fidelity(
    run: Annotated[Optional[str], typer.Argument(help="Run folder or name (default: the most recent).")] = None,
    n: Annotated[Optional[int], typer.Option("-n", min=3, help="Children to retrain, at evenly spaced quantiles of the run's reward ranking \\[default: 5].")] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Training epochs of each stand-alone child \\[default: 10].")] = None,
    train_subset: Annotated[Optional[int], typer.Option(min=1, help="Training images (or tokens) per epoch (default: the whole training split).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the children's weights and data order, and of the bootstrap.")] = 0,
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples for the intervals.")] = 2000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the saved result (RUN/fidelity/fidelity.json; with --truth, truth.json).")] = False,
    device: DeviceOpt = "auto",
    amp: AmpOpt = False,
    truth: Annotated[Optional[str], typer.Option(help="Retrain nothing: rank every finished child of a run over the benchmark's space (nb201) against the table's 200-epoch validation accuracy.", rich_help_panel="Ground truth")] = None,
    truth_dataset: Annotated[Optional[str], typer.Option(help="With --truth: the table's dataset whose validation accuracy is the truth, a prefix in its header (cifar10, cifar100, ...) \\[default: cifar10].", rich_help_panel="Ground truth")] = None,
) -> None:
    """Is the search's ranking worth anything? Retrain K of a run's finished children from scratch
    (the run's data, child sizes and trainer; training split only) and score them on the validation
    split as the search did, then print Kendall's τ-b and Spearman's ρ between the search-time and
    stand-alone scores with 95% percentile-bootstrap intervals (children resampled with replacement,
    seeded by --seed). Works for every strategy; results go to RUN/fidelity/, and retrains finished
    with the same --epochs, --train-subset and --seed are reused, so a stopped study resumes.
    With --truth nb201 nothing is retrained: every finished child is ranked against NAS-Bench-201's
    table (RUN/fidelity/truth.json)."""
    from ..runs.fidelity import FidelitySettings

    if truth is not None:
        given = [flag for flag, value in (("-n", n), ("--epochs", epochs), ("--train-subset", train_subset),
                                          ("--device", device != "auto" or None), ("--amp", amp or None)) if value]
        if given:
            raise RunError(f"{', '.join(given)} retrain children; --truth retrains none")
        _truth(run, truth, truth_dataset or "cifar10", FidelitySettings(seed=seed, resamples=resamples), as_json)
        return
    if truth_dataset is not None:
        raise RunError("--truth-dataset applies with --truth only")
    from ..fidelity import run_study  # torch loads only here
    from ..fidelity.study import interval_method

    n, epochs = n or 5, epochs or 10
    device = device_name(device)  # checked before anything trains
    folder = find_run(run)
    settings = FidelitySettings(children=n, epochs=epochs, train_subset=train_subset, seed=seed, resamples=resamples)
    if not as_json:
        subset = f"{train_subset} training examples" if train_subset else "the whole training split"
        out.print(f"fidelity of [bold]{folder}[/]: {n} finished children across the reward ranking, each retrained "
                  f"from scratch for {epochs} epoch{'s' if epochs > 1 else ''} on {subset} per epoch (seed {seed} + child id), "
                  f"scored on the validation "
                  f"split, on {device}; intervals: {interval_method(settings)}", soft_wrap=True)

    def progress(child, record, reused: bool) -> None:
        if not as_json:
            note = "reused" if reused else f"{record.seconds:.0f}s"
            out.print(f"  #{child.id}: search {_score(child.metric_name, child.metric)} → stand-alone "
                      f"{_score(record.metric_name, record.metric)}  ({note}){'  ' + record.error if record.error else ''}",
                      soft_wrap=True)

    try:
        result = run_study(folder, settings, progress, device, amp)
    except KeyboardInterrupt:
        err.print("stopped; the children retrained so far are kept, and the same command resumes the study")
        raise typer.Exit(130) from None
    if as_json:
        out.print_json(json.dumps(result.model_dump()))
        return
    out.print(_correlation_table(result, settings, f"search {result.metric_name} vs stand-alone"))
    scored = sum(p.standalone_metric is not None for p in result.pairs)
    out.print(f"{scored} of {len(result.pairs)} retrained children scored ({result.finished} finished in the run); "
              f"saved {folder}/fidelity/fidelity.json; `nascli report {folder}` draws the scatter", soft_wrap=True)
