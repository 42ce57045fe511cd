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
from ..space import load_space, read_space_text
from .app import command, err, out
from .data_options import (MAX_SEED, DataDirOpt, DatasetOpt, DownloadOpt, ImageSizeOpt, TargetOpt, TokensOpt,
                           VocabSizeOpt, data_spec)
from .device_options import (AddressOpt, AmpOpt, AsyncOpt, BackendOpt, ChildTimeoutOpt, ChildTriesOpt,
                             CpusPerChildOpt, DeviceOpt, GpusPerChildOpt, WorkersOpt, device_name, executor_options)


UNIT = {"image": "images", "language": "tokens", "tabular": "rows"}


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


@command("search")
def search(
    space: Annotated[Optional[str], typer.Argument(help="A .space file or bundled space name (not needed with --resume).")] = None,
    strategy: Annotated[str, typer.Option(help="reinforce (the paper's controller), random (its control experiment), evolution (regularised evolution, Real et al. 2019) or enas (shared weights: ENAS, cell, NAS conv and tree-cell spaces).")] = "reinforce",
    dataset: DatasetOpt = None,
    data_dir: DataDirOpt = None,
    download: DownloadOpt = False,
    image_size: ImageSizeOpt = None,
    tokens: TokensOpt = None,
    vocab_size: VocabSizeOpt = None,
    target: TargetOpt = None,
    budget: Annotated[Optional[int], typer.Option(min=1, help="Children to train in all; enas: children derived from the trained policy (with --resume: the new total).")] = None,
    batch: Annotated[Optional[int], typer.Option(min=1, help="Children per controller step (m).")] = None,
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
    device: DeviceOpt = "auto",
    amp: AmpOpt = False,
    run_dir: Annotated[Optional[Path], typer.Option(help="Run folder (default: runs/<timestamp>).")] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue this run (a folder, or a name under runs/).")] = None,
    reset_controller: Annotated[bool, typer.Option("--reset-controller", help="With --resume: go on with a fresh controller, keeping every recorded child (when checkpoints/ is lost).")] = False,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Same seed, same machine: the same sampled architectures.")] = 0,
    controller_hidden: Annotated[Optional[int], typer.Option(min=1, help="LSTM units per controller layer (default: 35 (NAS); enas: 100).", rich_help_panel="Controller")] = None,
    controller_layers: Annotated[Optional[int], typer.Option(min=1, help="Controller LSTM layers (default: 2 (NAS); enas: 1).", rich_help_panel="Controller")] = None,
    controller_lr: Annotated[Optional[float], typer.Option(min=1e-12, help="Controller Adam learning rate (default: 6e-4 (NAS); enas: the reference's per space).", rich_help_panel="Controller")] = None,
    temperature: Annotated[Optional[float], typer.Option(min=1e-12, help="Divide the controller's logits by this.", rich_help_panel="Controller")] = None,
    tanh_constant: Annotated[Optional[float], typer.Option(min=1e-12, help="Squash logits to c·tanh(logits) (ENAS: 2.5).", rich_help_panel="Controller")] = None,
    entropy_weight: Annotated[Optional[float], typer.Option(min=0, help="Entropy bonus in the REINFORCE loss (default: 0; enas: added to the reward, 1e-4 (images) or 1e-3 (text)).", rich_help_panel="Controller")] = None,
    controller_steps: Annotated[Optional[int], typer.Option(min=1, help="enas: controller steps per epoch (default: 5; the reference: 50, 30, 100).", rich_help_panel="ENAS")] = None,
    shared_lr: Annotated[Optional[float], typer.Option(min=1e-12, help="enas: the shared weights' SGD learning rate (default: 0.05 (images, cosine to 5e-4 with restarts), 20 (text)).", rich_help_panel="ENAS")] = None,
    derive_subset: Annotated[Optional[int], typer.Option(min=1, help="enas: validation images (or tokens) each derived child is scored on (default: 1,000 images, 5,000 tokens).", rich_help_panel="ENAS")] = None,
    depth: Annotated[Optional[int], typer.Option(min=1, help="enas: layers of a space with a depth schedule (conv, conv_strides, conv_pool), one the schedule reaches (default: its first, 6).", rich_help_panel="ENAS")] = None,
    shared_batch_size: Annotated[Optional[int], typer.Option(min=1, help="enas: training images (or token streams) per shared-weights minibatch; images: also the validation images per reward, as the reference (default: 64; text 20, rewards on 10 streams).", rich_help_panel="ENAS")] = None,
    population: Annotated[Optional[int], typer.Option(min=1, help="evolution: P, the members kept (the oldest dies), and the random children it starts from \\[default: 10, NAS-Bench-201's REA].", rich_help_panel="Evolution")] = None,
    tournament_size: Annotated[Optional[int], typer.Option(min=1, help="evolution: S, the members drawn (with replacement) per tournament; the best is the parent \\[default: 3, NAS-Bench-201's REA].", rich_help_panel="Evolution")] = None,
    reward_power: Annotated[float, typer.Option(help="Images: reward = best validation accuracy of the last 5 epochs to this power.", rich_help_panel="Reward")] = 3.0,
    reward_c: Annotated[float, typer.Option(help="Text: reward = c / validation perplexity².", rich_help_panel="Reward")] = 80.0,
    failed_reward: Annotated[float, typer.Option(help="Reward of a child that crashed or diverged.", rich_help_panel="Reward")] = 0.0,
) -> None:
    """Search a space: sample children, train them, and train the controller on their rewards."""
    from ..data import dataset_kind
    from ..search.controller import ControllerConfig  # torch loads only for the commands that train
    from ..search.executor import ExecutorConfig
    from ..search.evolution import EvolutionConfig
    from ..search.loop import SearchConfig
    from ..search.reinforce import ReinforceConfig
    from ..search.runs import create_search, resume_search
    from ..search.strategies import STRATEGIES
    from ..train import RewardConfig, TrainConfig
    from .progress import SearchView

    evolution = {k: v for k, v in (("population", population), ("tournament_size", tournament_size)) if v is not None}
    if evolution and (resume is not None or strategy != "evolution"):
        raise RunError("--population and --tournament-size apply to a new --strategy evolution search (a resume "
                       "keeps the run's)")
    if depth is not None and (resume is not None or strategy != "enas"):
        raise RunError("--depth applies to a new --strategy enas search (a resume keeps the run's depth; the "
                       "other strategies follow the space's depth schedule)")
    if resume is not None:
        if space is not None:
            run_space = RunStore.open_readonly(find_run(resume))
            same = run_space.space_text == read_space_text(load_space(space).source)
            run_space.close()
            if not same:
                raise RunError(f"the run was started on another version of {space}; leave SPACE out to resume it", where=resume)
        if async_k is not None or amp:
            raise RunError("--async and --amp are chosen when a run starts; a resume keeps the run's")
        changed_device = device_name(device) if device != "auto" else None
        executor = executor_options(backend, workers, address, child_timeout, child_tries, cpus_per_child,
                                    gpus_per_child, changed_device)
        job = resume_search(resume, budget=budget, workers=workers, device=changed_device, executor=executor,
                            reset_controller=reset_controller)
    else:
        if reset_controller:
            raise RunError("--reset-controller applies to --resume RUN only")
        if space is None:
            raise RunError("give a space to search (e.g. spaces/conv.space), or --resume RUN")
        if strategy not in (*STRATEGIES, "enas"):
            raise RunError(f"unknown strategy '{strategy}'; expected {', '.join(STRATEGIES)} or enas")
        space_ir = load_space(space)
        compiled_settings = space_ir.settings
        spec = data_spec(dataset, data_dir, download, space_ir, seed, image_size=image_size,
                         tokens=tokens, vocab_size=vocab_size, target=target)
        if not (backend == "ray" and address):  # a Ray cluster's GPUs need not be on this machine
            device = device_name(device)
        shaping = dict(hidden=controller_hidden, layers=controller_layers, temperature=temperature,
                       tanh_constant=tanh_constant)
        config = SearchConfig(
            strategy=strategy,
            data=spec,
            budget=budget or int(compiled_settings.get("budget", 8)),
            batch=batch or int(compiled_settings.get("batch", 4)),
            seed=seed,
            workers=workers or 1,
            executor=ExecutorConfig(**{"backend": "process" if (workers or 1) > 1 else "local", **executor_options(
                backend, workers, address, child_timeout, child_tries, cpus_per_child, gpus_per_child, device)}),
            device=device,
            async_k=async_k,
            train=TrainConfig.proxy(dataset_kind(spec.name).task, epochs or compiled_settings.get("epochs"), train_subset,
                                    seed, amp),
            controller=ControllerConfig(**{k: v for k, v in shaping.items() if v is not None}),
            reinforce=ReinforceConfig(lr=controller_lr or 6e-4, entropy_weight=entropy_weight or 0.0),
            evolution=EvolutionConfig(**evolution),
            reward=RewardConfig(power=reward_power, c=reward_c, failed=failed_reward),
        )
        if strategy == "enas":
            from .enas_cmd import enas_config

            config = enas_config(config, space_ir, shaping, dict(
                epochs=epochs, train_subset=train_subset, controller_aggregate=batch, controller_lr=controller_lr,
                entropy_weight=entropy_weight, controller_steps=controller_steps, lr=shared_lr,
                batch_size=shared_batch_size, reward_c=reward_c, derive_subset=derive_subset, depth=depth))
        job = create_search(space, config, run_dir)
    store = job.store
    data = job.config.data
    where = "the embedded sample (pass --data-dir for your own copy)" if data.data_dir is None else data.data_dir
    cfg = job.config
    unit = UNIT[dataset_kind(data.name).task]
    out.print(f"run [bold]{store.path}[/]: {cfg.strategy} search of {job.compiled.name} on {data.name} from {where}")
    if cfg.strategy == "enas":
        from .enas_cmd import EnasView, print_settings

        print_settings(cfg, job.shared.family, out)
        view = EnasView(store, cfg, out)
    else:
        out.print(f"{cfg.budget} children, {cfg.batch} per controller step, each trained {cfg.train.epochs} epochs "
                  f"on {cfg.train.train_subset or 'all'} training {unit} per epoch (--budget, --batch, --epochs, --train-subset)")
        updates = f"asynchronous, an update every {cfg.async_k} children" if cfg.async_k else "synchronous"
        out.print(f"on {cfg.device}{' with amp' if cfg.train.amp else ''}, backend {cfg.executor.backend}, "
                  f"{cfg.workers} at once, {updates}")
        if cfg.strategy == "evolution":
            out.print(f"evolution: population {cfg.evolution.population} (the first {cfg.evolution.population} "
                      f"children random), tournaments of {cfg.evolution.tournament_size} (--population, --tournament-size)")
        view = SearchView(store, job.config.budget, out)
    stop = _Stop()
    try:
        with view, _sigterm_as_interrupt(stop):
            job.run(view)
        failures, counts = _failures(store), store.counts()
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
    out.print(f"done. See the best children with: nascli show {store.path}   retrain the best: nascli eval --best --run {store.path}")


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
) -> None:
    """The best children of a run (search-time validation scores, not test results)."""
    with RunStore.open_readonly(find_run(run)) as store:
        if as_json:
            children = [c.model_dump(exclude={"arch_json"}) for c in store.children()]
            out.print_json(json.dumps({"run": str(store.path), "state": store.state, "children": children}))
            return
        table = Table("id", "step", "reward", "metric", "params", "MMACs", "seconds",
                      title=f"{store.path}: best {top} of {sum(store.counts().values())} (validation, at search time)")
        best = store.best(top)
        for c in best:
            table.add_row(str(c.id), str(c.step), f"{c.reward:.4f}", f"{c.metric_name} {c.metric:.4g}",
                          f"{c.params:,}", f"{c.macs / 1e6:,.1f}", f"{c.seconds:.1f}")
        out.print(table)
        for c in best:
            out.print(f"#{c.id}  {c.tokens}")
        failed = store.children(status="failed")
        if failed:
            out.print(f"{len(failed)} failed children; e.g. #{failed[0].id}: {failed[0].error}")
