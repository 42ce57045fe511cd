"""`nascli search`, `runs` and `show`: run a search, list runs, see the best children."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import RunError
from ..runs import RUNS_ROOT, RunStore, find_run, list_runs
from ..runs.metrics import CHANCE_KEY, Chance, format_metric, small_validation_warning
from ..search.options import SearchOptions, executor_options, search_config
from ..search.strategies import STRATEGIES
from ..space import load_space, read_space_text
from .app import command, err, out
from .data_options import (MAX_SEED, DataDirOpt, DatasetOpt, DownloadOpt, ImageSizeOpt, TargetOpt, TokensOpt,
                           VocabSizeOpt)
from .track_options import MlflowExperimentOpt, MlflowUriOpt, TensorBoardDirOpt, TrackOpt, live_tracking, track_config
from .device_options import (AddressOpt, AmpOpt, AsyncOpt, BackendOpt, ChildTimeoutOpt, ChildTriesOpt,
                             CpusPerChildOpt, DeviceOpt, GpusPerChildOpt, WorkersOpt, device_name, refuse_for_enas)
from ..budget.units import format_ms
from .numbers import float_option
from .budget_options import (LatencyBatchOpt, LatencyMarginOpt, LatencyModelOpt, MaxLatencyOpt, MaxMacsOpt, MaxParamsOpt, ObjectiveOpt, ObjectiveWOpt,
                             ObjectiveWOverOpt, RefusedRewardOpt)


UNIT = {"image": "images", "language": "tokens", "tabular": "rows"}
LEARNS_FROM = {"first": "first-rung scores", "highest": "each child's highest rung once its batch has no promotion left"}


@dataclass
class _Stop:
    signal: int = signal.SIGINT


@contextmanager
def _sigterm_as_interrupt(stop: _Stop) -> Iterator[None]:
    """SIGTERM (a `kill`, a job scheduler) stops the search as Ctrl-C does: the run is left 'stopped'."""

    def interrupt(signum: int, frame: object) -> None:
        stop.signal = signum
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


STRATEGY_HELP = ("reinforce (the paper's controller), random (its control experiment), evolution (regularised "
                 "evolution, Real et al. 2019), enas (shared weights: ENAS, cell, NAS conv and tree-cell spaces){}.")
BENCHMARK_PANEL, CONTROLLER_PANEL = "Benchmark (children looked up, not trained)", "Controller"


@command("search")
def search(
    space: Annotated[Optional[str], typer.Argument(help="A .space file or bundled space name (not needed with --resume).")] = None,
    strategy: Annotated[str, typer.Option(help=STRATEGY_HELP.format(
        "".join(f", {s}" for s in STRATEGIES if s not in ("reinforce", "random", "evolution"))))] = "reinforce",
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = False,
    image_size: ImageSizeOpt = None,
    tokens: TokensOpt = None,
    vocab_size: VocabSizeOpt = None,
    target: TargetOpt = None,
    budget: Annotated[Optional[int], typer.Option(min=1, help="Children to train in all; enas: children derived from the trained policy (with --resume: the new total) \\[default: the space's, else 8; none with --time-budget].")] = None,
    time_budget: Annotated[Optional[float], float_option(help="Seconds the search may run: simulated with --benchmark (the search ends before the query that would pass them), else wall-clock (no child starts after they have passed; children in flight finish). With --resume: the new total. See docs/benchmarks.md.", above=0, at_most=1e15)] = None,
    batch: Annotated[Optional[int], typer.Option(min=1, help="Children per controller step (m) \\[default: the preset's, else the space's, else 4].")] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Training epochs per child; enas: epochs of the two phases.")] = None,
    train_subset: Annotated[Optional[int], typer.Option(min=1, help="Training images (or tokens) per epoch per child \\[default: 400 images, 20,000 tokens: a CPU proxy]; enas: per epoch of the shared weights.")] = None,
    workers: WorkersOpt = None,
    backend: BackendOpt = None,
    address: AddressOpt = None,
    child_timeout: ChildTimeoutOpt = None,
    child_tries: ChildTriesOpt = None,
    cpus_per_child: CpusPerChildOpt = None,
    gpus_per_child: GpusPerChildOpt = None,
    async_k: AsyncOpt = None,
    rungs: Annotated[Optional[str], typer.Option(help="Successive halving (ASHA): epochs at the end of each rung, e.g. 1,3,9; a new child trains the first, and goes on (from its weights and optimizer state) to the next as soon as it is in the top 1/eta of the children that finished its rung. The LR schedule spans the last rung's epochs. With --benchmark: the table's fidelities (nb201: 12,200). See docs/strategies.md.")] = None,
    eta: Annotated[Optional[int], typer.Option(min=2, help="With --rungs: promote the top 1/eta of each rung \\[default: 3].")] = None,
    rung_score: Annotated[Optional[str], typer.Option(help="With --rungs: what the strategy learns from. first: each child's first-rung score, when it finishes the first rung; highest: its score at the highest rung it reached, once no promotion of its batch (a step, or an --async update's K) is training or waiting, so the update waits for them. See docs/strategies.md \\[default: first].")] = None,
    device: DeviceOpt = "auto",
    amp: AmpOpt = False,
    run_dir: Annotated[Optional[Path], typer.Option(help="Run folder (default: runs/<timestamp>).")] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue this run (a folder, or a name under runs/).")] = None,
    reset_controller: Annotated[bool, typer.Option("--reset-controller", help="With --resume: go on with a fresh controller, keeping every recorded child (when checkpoints/ is lost).")] = False,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Same seed, same machine: the same sampled architectures.")] = 0,
    benchmark: Annotated[Optional[str], typer.Option(help="Look each child up in a tabular benchmark instead of training it: nb201 (NAS-Bench-201, for spaces/nb201.space).", rich_help_panel=BENCHMARK_PANEL)] = None,
    benchmark_dataset: Annotated[Optional[str], typer.Option(help="The table's dataset: any prefix in its header (nb201: cifar10, cifar100) \\[default: cifar10].", rich_help_panel=BENCHMARK_PANEL)] = None,
    benchmark_table: Annotated[Optional[Path], typer.Option(help="A table in the documented layout (CSV or .csv.gz) \\[default: the copy shipped with nascli].", rich_help_panel=BENCHMARK_PANEL)] = None,
    fidelity: Annotated[Optional[int], typer.Option(min=1, help="Epochs of the validation column that rewards the strategy: one the table has (nb201: 12, 200); a query charges that many epochs' training time \\[default: 12].", rich_help_panel=BENCHMARK_PANEL)] = None,
    seed_noise: Annotated[bool, typer.Option("--seed-noise", help="Reward one training seed's validation accuracy, drawn per child (seeded by --seed and the child's id), instead of the mean over seeds; needs per-seed columns at --fidelity (nb201: cifar10 at 200).", rich_help_panel=BENCHMARK_PANEL)] = False,
    controller_preset: Annotated[Optional[str], typer.Option(help="Named REINFORCE settings: paper (Adam 6e-4, no entropy bonus, m 4, accuracy cubed) or short (Adam 0.03, entropy weight 0.01, m 4, accuracy cubed: for budgets of ~100 children); the options below override it \\[default: short with --benchmark, paper otherwise]. See docs/strategies.md.", rich_help_panel=CONTROLLER_PANEL)] = None,
    controller_hidden: Annotated[Optional[int], typer.Option(min=1, help="LSTM units per controller layer (default: 35 (NAS); enas: 100).", rich_help_panel=CONTROLLER_PANEL)] = None,
    controller_layers: Annotated[Optional[int], typer.Option(min=1, help="Controller LSTM layers (default: 2 (NAS); enas: 1).", rich_help_panel=CONTROLLER_PANEL)] = None,
    controller_lr: Annotated[Optional[float], float_option(help="Controller Adam learning rate (default: the preset's; enas: the reference's per space).", above=0, rich_help_panel=CONTROLLER_PANEL)] = None,
    baseline_decay: Annotated[Optional[float], float_option(help="REINFORCE's moving-average baseline: b <- decay * b + (1 - decay) * mean reward (default: the preset's); below 1.", at_least=0, at_most=0.999999, rich_help_panel=CONTROLLER_PANEL)] = None,
    temperature: Annotated[Optional[float], float_option(help="Divide the controller's logits by this.", above=0, rich_help_panel=CONTROLLER_PANEL)] = None,
    tanh_constant: Annotated[Optional[float], float_option(help="Squash logits to c·tanh(logits) (ENAS: 2.5).", above=0, rich_help_panel=CONTROLLER_PANEL)] = None,
    entropy_weight: Annotated[Optional[float], float_option(help="Entropy bonus in the REINFORCE loss (default: the preset's; enas: added to the reward, 1e-4 (images) or 1e-3 (text)); a negative one would reward collapsing onto one architecture.", at_least=0, rich_help_panel=CONTROLLER_PANEL)] = None,
    controller_steps: Annotated[Optional[int], typer.Option(min=1, help="enas: controller steps per epoch (default: 5; the reference: 50, 30, 100).", rich_help_panel="ENAS")] = None,
    shared_lr: Annotated[Optional[float], float_option(help="enas: the shared weights' SGD learning rate (default: 0.05 (images, cosine to 5e-4 with restarts), 20 (text)).", above=0, rich_help_panel="ENAS")] = None,
    derive_subset: Annotated[Optional[int], typer.Option(min=1, help="enas: validation images (or tokens) each derived child is scored on (default: 1,000 images, 5,000 tokens).", rich_help_panel="ENAS")] = None,
    depth: Annotated[Optional[int], typer.Option(min=1, help="enas: layers of a space with a depth schedule (conv, conv_strides, conv_pool), one the schedule reaches (default: its first, 6).", rich_help_panel="ENAS")] = None,
    shared_batch_size: Annotated[Optional[int], typer.Option(min=1, help="enas: training images (or token streams) per shared-weights minibatch; images: also the validation images per reward, as the reference (default: 64; text 20, rewards on 10 streams).", rich_help_panel="ENAS")] = None,
    population: Annotated[Optional[int], typer.Option(min=1, help="evolution: P, the members kept (the oldest dies), and the random children it starts from \\[default: 10, NAS-Bench-201's REA].", rich_help_panel="Evolution")] = None,
    tournament_size: Annotated[Optional[int], typer.Option(min=1, help="evolution: S, the members drawn (with replacement) per tournament; the best is the parent \\[default: 3, NAS-Bench-201's REA].", rich_help_panel="Evolution")] = None,
    reward_power: Annotated[Optional[float], float_option(help="Images and benchmarks: reward = validation accuracy (images: the best of the last 5 epochs) to this power (0 would make every reward 1) \\[default: the preset's, 3 for paper].", above=0, rich_help_panel="Reward")] = None,
    reward_c: Annotated[float, float_option(help="Text: reward = c / validation perplexity².", above=0, rich_help_panel="Reward")] = 80.0,
    failed_reward: Annotated[float, float_option(help="Reward of a child that crashed or diverged; below 0 punishes failing more than scoring nothing.", rich_help_panel="Reward")] = 0.0,
    max_params: MaxParamsOpt = None,
    max_macs: MaxMacsOpt = None,
    max_latency: MaxLatencyOpt = None,
    latency_batch: LatencyBatchOpt = None,
    latency_model: LatencyModelOpt = None,
    latency_margin: LatencyMarginOpt = None,
    refused_reward: RefusedRewardOpt = None,
    objective: ObjectiveOpt = None,
    objective_w: ObjectiveWOpt = None,
    objective_w_over: ObjectiveWOverOpt = None,
    track: TrackOpt = None,
    tensorboard_dir: TensorBoardDirOpt = None,
    mlflow_uri: MlflowUriOpt = None,
    mlflow_experiment: MlflowExperimentOpt = None,
) -> None:
    """Search a space: sample children, train them (or look them up in a benchmark), and train the controller on their rewards."""
    options = SearchOptions.take(locals())  # first: every parameter of a new run, by name
    from ..search.runs import create_search

    tracking = track_config(track, tensorboard_dir, mlflow_uri, mlflow_experiment)  # a missing extra fails first
    scale = {"--workers": workers, "--backend": backend, "--address": address, "--async": async_k,
             "--child-timeout": child_timeout, "--child-tries": child_tries, "--cpus-per-child": cpus_per_child,
             "--gpus-per-child": gpus_per_child}
    if any(v is not None for v in scale.values()) and (strategy if resume is None else _run_strategy(resume)) == "enas":
        refuse_for_enas(scale)
    if resume is not None:
        job = _resume(resume, options, reset_controller)
    else:
        if reset_controller:
            raise RunError("--reset-controller applies to --resume RUN only")
        if space is None:
            raise RunError("give a space to search (e.g. spaces/conv.space), or --resume RUN")
        if (population is not None or tournament_size is not None) and strategy != "evolution":
            raise RunError("--population and --tournament-size apply to --strategy evolution")
        job = create_search(space, search_config(options), run_dir)
    store = job.store
    view = _announce(job)
    stop = _Stop()
    scored_before = _scored(store.counts())
    # the tracker reads the store on its own thread; it ends after the run's final state is recorded
    with live_tracking(store.path, tracking) as tracker:
        observe = view if tracker is None else (lambda event: (view(event), tracker.nudge()))
        try:
            with view, _sigterm_as_interrupt(stop):
                job.run(observe)
            failures, counts = _failures(store), store.counts()
            if getattr(job, "out_of_time", False):
                unit = "simulated s" if job.clock.simulated else "s"
                out.print(f"the time budget ended the search: {job.clock.elapsed:,.0f} of {job.config.time_budget:,g} "
                          f"{unit} used, {counts['pending'] + counts['running']} sampled children left unrun "
                          "(--resume RUN --time-budget T goes on with them)")
        except KeyboardInterrupt:
            store.state = "stopped"
            err.print(f"stopped; nothing recorded is lost. Resume with: nascli search --resume {store.path}")
            raise typer.Exit(128 + stop.signal)
        finally:
            job.close()
            store.close()
    if failures:
        err.print(escape(failures), soft_wrap=True)
    if counts["failed"] and not counts["done"]:
        raise RunError(f"no child trained: all {counts['failed']} failed (see above); nascli show {store.path} lists them")
    if resume is not None and _scored(counts) == scored_before:
        # exit 0: the run is complete, as asked; nothing was wrong, nothing was done
        cfg = job.config
        out.print(f"nothing left to train: the run's budget of {cfg.budget} children is spent. Extend it with: "
                  f"nascli search --resume {store.path} --budget N (N > {cfg.budget}, the new total)")
        return
    then = "its test accuracy in the table" if job.config.benchmark else "retrain the best"
    out.print(f"done. See the best children with: nascli show {store.path}   {then}: nascli eval --best --run {store.path}")


def _announce(job):
    """Print what the search will do, and return its live view."""
    from ..data import dataset_kind
    from .progress import SearchView, plural

    store, cfg = job.store, job.config
    data, bench = cfg.data, cfg.benchmark
    if bench is not None:
        table = bench.table or "the copy shipped with nascli"
        out.print(f"run [bold]{store.path}[/]: {cfg.strategy} search of {job.compiled.name}, children looked up in "
                  f"the {bench.name} table ({table}), not trained")
        noise = "one seed's value, drawn per child" if bench.seed_noise else "the mean over seeds"
        out.print(f"reward: {bench.dataset}_valid_{bench.fidelity} ({noise}) to the power {cfg.reward.power:g}; "
                  f"each query charges {bench.fidelity} epochs' training time on the simulated clock")
    else:
        where = "the embedded sample (pass --data-dir for your own copy)" if data.data_dir is None else data.data_dir
        out.print(f"run [bold]{store.path}[/]: {cfg.strategy} search of {job.compiled.name} on {data.name} from {where}")
        chance = Chance.loads(store.get_meta(CHANCE_KEY))
        warning = small_validation_warning(chance) if chance else None
        if warning:
            err.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    if cfg.strategy == "enas":
        from .enas_cmd import EnasView, print_settings

        print_settings(cfg, job.shared.family, out)
        return EnasView(store, cfg, out)
    children = plural(cfg.budget, "child", "children") if cfg.budget else "children"
    if cfg.time_budget:
        children += f" within {cfg.time_budget:,g} {'simulated' if bench else 'wall-clock'} s"
    if bench is None:
        unit = UNIT[dataset_kind(data.name).task]
        out.print(f"{children}, {cfg.batch} per controller step, each trained {plural(cfg.train.epochs, 'epoch')} "
                  f"on {cfg.train.train_subset or 'all'} training {unit} per epoch (--budget, --batch, --epochs, --train-subset)")
        updates = f"asynchronous, an update every {cfg.async_k} children" if cfg.async_k else "synchronous"
        out.print(f"on {cfg.device}{' with amp' if cfg.train.amp else ''}, backend {cfg.executor.backend}, "
                  f"{job.executor.capacity} at once, {updates}")
        if job.executor.note:
            err.print(f"note: {escape(job.executor.note)}")
    else:
        out.print(f"{children}, {cfg.batch} per controller step (--budget, --time-budget, --batch)")
    if cfg.rungs:
        ladder = ",".join(map(str, cfg.rungs.epochs))
        out.print(f"rungs {ladder} epochs, eta {cfg.rungs.eta}: a child goes on to the next rung once it is in the top "
                  f"1/{cfg.rungs.eta} of those that finished its rung; the strategy learns from "
                  f"{LEARNS_FROM[cfg.rungs.score]}")
    if cfg.strategy == "evolution":
        e = cfg.evolution
        out.print(f"evolution: population {e.population} (the first {e.population} children random), tournaments "
                  f"of {e.tournament_size} (--population, --tournament-size)")
    if cfg.strategy == "reinforce":
        r = cfg.reinforce
        out.print(f"controller preset {cfg.controller_preset}: Adam lr {r.lr:g}, baseline decay {r.baseline_decay:g}, "
                  f"entropy weight {r.entropy_weight:g}, reward power {cfg.reward.power:g} (--controller-preset)")
    return SearchView(store, cfg.budget, out, job.clock if cfg.time_budget else None)


def _resume(resume: str, options: SearchOptions, reset_controller: bool):
    """The search of run `resume`, with what a resume may change (budgets, where children train)."""
    from ..search.runs import resume_search

    o = options
    if o.depth is not None:
        raise RunError("--depth applies to a new --strategy enas search (a resume keeps the run's depth)")
    if o.population is not None or o.tournament_size is not None:
        raise RunError("--population and --tournament-size apply to a new --strategy evolution search (a resume "
                       "keeps the run's)")
    if o.space is not None:
        run_space = RunStore.open_readonly(find_run(resume))
        same = run_space.space_text == read_space_text(load_space(o.space).source)
        run_space.close()
        if not same:
            raise RunError(f"the run was started on another version of {o.space}; leave SPACE out to resume it", where=resume)
    chosen = {"--async": o.async_k is not None, "--amp": o.amp, "--benchmark": o.benchmark is not None,
              "--benchmark-dataset": o.benchmark_dataset is not None, "--benchmark-table": o.benchmark_table is not None,
              "--fidelity": o.fidelity is not None, "--seed-noise": o.seed_noise,
              "--controller-preset": o.controller_preset is not None, "--rungs": o.rungs is not None,
              "--eta": o.eta is not None, "--rung-score": o.rung_score is not None,
              "--latency-model": o.latency_model is not None, "--latency-margin": o.latency_margin is not None}
    if any(chosen.values()):
        given = ", ".join(flag for flag, on in chosen.items() if on)
        raise RunError(f"{given}: chosen when a run starts; a resume keeps the run's")
    changed_device = device_name(o.device) if o.device != "auto" else None
    executor = executor_options(o.backend, o.workers, o.address, o.child_timeout, o.child_tries, o.cpus_per_child,
                                o.gpus_per_child, changed_device)
    return resume_search(resume, budget=o.budget, workers=o.workers, device=changed_device, executor=executor,
                         reset_controller=reset_controller, time_budget=o.time_budget)


def rung_summary(store: RunStore) -> str:
    """Children per rung and their best and median reward there: 'rungs: 12 epochs: 392 children (best ...)'."""
    from statistics import median

    by_rung: dict[int, list] = {}
    for row in store.rungs():
        if row.status != "running":
            by_rung.setdefault(row.epochs, []).append(row.reward)
    parts = [f"{epochs} epochs: {len(r)} (best reward {max(r):.4f}, median {median(r):.4f})"
             for epochs, r in sorted(by_rung.items())]
    return "rungs (children that finished each): " + "; ".join(parts)


def _run_strategy(run: str) -> str | None:
    with RunStore.open_readonly(find_run(run)) as store:
        return store.config.get("strategy")


def _scored(counts: dict[str, int]) -> int:
    return counts.get("done", 0) + counts.get("failed", 0)


def _failures(store: RunStore, shown: int = 3) -> str:
    """The failed children of a run, grouped by error: the most common first, with one example id each."""
    by_error: dict[str, list[int]] = {}
    for child in store.children(status="failed"):
        by_error.setdefault(child.error or "unknown error", []).append(child.id)
    if not by_error:
        return ""
    total = sum(map(len, by_error.values()))
    lines = [f"{total} failed {'child' if total == 1 else 'children'}:"]
    for error, ids in sorted(by_error.items(), key=lambda item: -len(item[1]))[:shown]:
        lines.append(f"  {len(ids)} × {error}  (e.g. #{ids[0]})")
    if len(by_error) > shown:
        lines.append(f"  and {len(by_error) - shown} other errors: nascli show {store.path}")
    return "\n".join(lines)


@command("runs")
def runs(root: Annotated[Path, typer.Option(help="Folder holding the runs.")] = RUNS_ROOT) -> None:
    """List the runs with their state and best result."""
    table = Table("run", "state", "space", "strategy", "done/failed/left", "best reward")
    table.columns[0].no_wrap = True
    for r in list_runs(root):
        c = r.counts
        best = f"{r.best_reward:.4f}" if r.best_reward is not None else "-"
        left = c.get("pending", 0) + c.get("running", 0)
        table.add_row(r.name, r.state if not r.problem else f"{r.state}: {r.problem}", r.space or "?",
                      r.strategy or "?", f"{c.get('done', 0)}/{c.get('failed', 0)}/{left}", best)
    out.print(table)


@command("show")
def show(
    run: Annotated[Optional[str], typer.Argument(help="Run folder or name (default: the most recent).")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many of the best children.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Every recorded child as JSON.")] = False,
    pareto: Annotated[bool, typer.Option("--pareto", help="The children no other child beats on both validation and --cost (the Pareto front), cheapest first.")] = False,
    cost: Annotated[str, typer.Option(help="The cost of --pareto: params, macs or latency (latency is measured in --max-latency runs).")] = "params",
) -> None:
    """The best children of a run (search-time validation scores, not test results)."""
    from .budget_view import pareto_table, refusals_line

    cost_column = {"params": "params", "macs": "macs", "latency": "latency_ms"}.get(cost)
    if cost_column is None:
        raise RunError(f"--cost {cost}: expected params, macs or latency")
    with RunStore.open_readonly(find_run(run)) as store:
        if pareto:
            table, exports = pareto_table(store, cost_column)
            out.print(table)
            for line in exports:
                out.print(escape(line), soft_wrap=True)
            return
        if as_json:
            children = [c.model_dump(exclude={"arch_json"}) for c in store.children()]
            rungs = [r.model_dump() for r in store.rungs()]
            out.print_json(json.dumps({"run": str(store.path), "state": store.state, "children": children,
                                       **({"rungs": rungs} if rungs else {})}))
            return
        chance = Chance.loads(store.get_meta(CHANCE_KEY))
        metric = f"reward made from ({chance.text()})" if chance else "reward made from"
        rung_epochs = (store.config.get("rungs") or {}).get("epochs")
        counts = store.counts()
        sampled = sum(counts.values()) - counts["refused"]
        best = store.best(top)
        table = Table("id", "step", *(["epochs"] if rung_epochs else []), "reward", metric, "params", "MMACs",
                      "latency", "seconds",
                      title=f"{store.path}: best {len(best)} of {sampled} (validation, at search time)")
        for c in best:
            reached = [str(rung_epochs[c.rung]) if c.rung is not None else "-"] if rung_epochs else []
            table.add_row(str(c.id), str(c.step), *reached, f"{c.reward:.4f}", format_metric(c.metric_name, c.metric),
                          f"{c.params:,}", f"{c.macs / 1e6:,.1f}", format_ms(c.latency_ms), f"{c.seconds:.1f}")
        out.print(table)
        for c in best:
            out.print(f"#{c.id}  {c.tokens}")
        if store.rungs():
            out.print(rung_summary(store))
        failed = store.children(status="failed")
        if failed:
            out.print(f"{len(failed)} failed children; e.g. #{failed[0].id}: {failed[0].error}")
        refusals = refusals_line(store)
        if refusals:
            out.print(escape(refusals))
