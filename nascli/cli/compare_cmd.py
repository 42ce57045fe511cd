"""`nascli compare`: several strategies, N seeded runs each, at one budget; a table, a p-value and a plot.

compare takes every option of `nascli search` (its signature is search's, so
an option added to search is compare's too), less those a comparison sets per
run (`--strategy`) or that belong to one live search process (`--resume`,
`--reset-controller`, `--track` and its options), and with its own meaning
for `--workers` (searches run in parallel) and `--run-dir` (the comparison
folder).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..errors import RunError
from ..runs import RUNS_ROOT
from ..search.options import SearchOptions
from ..search.strategies import STRATEGIES
from .app import command, err, out
from .search_cmds import search

# compare's own (space, workers, run_dir), set per run (strategy), or of one live search process: resuming it,
# and tracking it as it runs (each run folder can be sent to a tracker afterwards with `nascli track RUN`)
NOT_FROM_SEARCH = ("space", "strategy", "resume", "reset_controller", "workers", "run_dir", "track", "tensorboard_dir",
                   "mlflow_uri", "mlflow_experiment")


def compare(
    space: Annotated[str, typer.Argument(help="A .space file or bundled space name.")],
    strategies: Annotated[str, typer.Option(help=f"Comma-separated strategies to compare: any of {', '.join(STRATEGIES)}.")] = ",".join(STRATEGIES),
    runs: Annotated[int, typer.Option(min=1, help="Runs per strategy, with seeds --seed ... --seed + N - 1.")] = 10,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Searches run at once, each in a process of its own \\[default: this machine's cores].")] = None,
    run_dir: Annotated[Optional[Path], typer.Option(help="The comparison folder; the same command again completes what it lacks \\[default: runs/compare-SPACE-<hash of the settings>].")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="The anytime plot (.png) \\[default: anytime.png in the comparison folder].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON (accuracies in percent).")] = False,
    **search_options,
) -> None:
    """Compare search strategies: N runs each, mean ± std and 95% CI of what each chose, a p-value against random, and the anytime plot."""
    import os

    from ..compare import complete, compare_table, default_folder, plot_anytime, ComparisonPlan

    options = SearchOptions.take({**search_options, "space": space})
    names = tuple(dict.fromkeys(s.strip() for s in strategies.split(",") if s.strip()))
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown or not names:
        raise RunError(f"--strategies: unknown {', '.join(unknown) or '(none given)'}; expected any of {', '.join(STRATEGIES)}")
    if (options.population is not None or options.tournament_size is not None) and "evolution" not in names:
        raise RunError("--population and --tournament-size apply to the evolution runs; --strategies has none")
    plan = ComparisonPlan(run_dir or default_folder(RUNS_ROOT, options), options, names, runs, options.seed)
    _check(plan)
    say = err if as_json else out
    say.print(f"comparison {plan.folder}: {', '.join(names)}, {runs} runs each (seeds {options.seed} to "
              f"{options.seed + runs - 1})")
    failures = complete(plan, workers or os.cpu_count() or 1, _progress(say))
    for path, problem in failures:
        err.print(f"[red]run failed[/] {path}: {problem}", soft_wrap=True)
    table = compare_table(plan)
    if as_json:
        out.print_json(json.dumps(table.as_json()))
    else:
        _print(table)
    plot = plot_anytime(plan, table, output or plan.folder / "anytime.png")
    say.print(f"wrote {plot}")
    if failures:
        raise RunError(f"{len(failures)} of the comparison's runs failed (see above); the table leaves them out")


def _check(plan) -> None:
    """A comparison's options are checked once, as the first run's, before any folder is made."""
    from ..search.options import search_config

    search_config(plan.run_options(plan.slots()[0]))


def _progress(console):
    def report(done: int, total: int) -> None:
        if total and (done == total or done % max(1, total // 10) == 0):
            console.print(f"  {done}/{total} runs to do finished")
    return report


def _print(table) -> None:
    view = Table("strategy", "runs", "test" if table.benchmark else "valid", "95% CI",
                 "valid" if table.benchmark else "", "p", title=table.title, title_justify="left")
    for column in view.columns:
        column.no_wrap = True
    for row in table.rows:
        view.add_row(row.strategy, str(row.runs), _pm(row.primary), _ci(row.primary), _pm(row.secondary),
                     "-" if row.p_vs_random is None else f"{row.p_vs_random:.2g}")
    out.print(view)
    out.print(f"[dim]{table.note}; mean ± std{' in %' if table.percent else ''}[/]")


def _pm(summary) -> str:
    if summary is None:
        return "-"
    return f"{summary.mean:.2f} ± {summary.std:.2f}" if summary.std is not None else f"{summary.mean:.2f}"


def _ci(summary) -> str:
    return f"{summary.ci95[0]:.2f} to {summary.ci95[1]:.2f}" if summary and summary.ci95 else "-"


def _signature() -> inspect.Signature:
    """compare's own parameters, then search's (less NOT_FROM_SEARCH), keyword-only."""
    own = [p for p in inspect.signature(compare, eval_str=True).parameters.values() if p.kind != p.VAR_KEYWORD]
    taken = [p.replace(kind=p.KEYWORD_ONLY) for p in inspect.signature(search, eval_str=True).parameters.values()
             if p.name not in NOT_FROM_SEARCH]
    return inspect.Signature(own + taken)


compare.__signature__ = _signature()
compare.__annotations__ = {p.name: p.annotation for p in compare.__signature__.parameters.values()}
command("compare")(compare)
