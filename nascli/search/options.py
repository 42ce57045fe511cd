"""A new search's config from the command line's options: the one place it is built.

`nascli search` and `nascli compare` both call `search_config`; compare takes
every option of search's signature (cli/compare_cmd.py). So a new search
option needs a field in `SearchOptions` and its use in `search_config`, and
compare has it too.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..benchmarks.query import BenchmarkConfig
from ..budget.constraints import auto_latency_model
from ..errors import RunError
from ..space import SearchSpace, load_space
from .executor import ExecutorConfig
from .loop import SEARCH_STRATEGIES, SearchConfig
from .presets import default_preset, get_preset
from .rungs import RUNG_SCORES, RungConfig


@dataclass(frozen=True)
class SearchOptions:
    """The options of a new search, as the command line gives them (None: not given)."""

    space: str
    strategy: str = "reinforce"
    dataset: str | None = None
    data_dir: Path | None = None
    download: bool = False
    image_size: int | None = None
    tokens: str | None = None
    vocab_size: int | None = None
    target: str | None = None
    budget: int | None = None
    time_budget: float | None = None
    batch: int | None = None
    epochs: int | None = None
    train_subset: int | None = None
    workers: int | None = None
    backend: str | None = None
    address: str | None = None
    child_timeout: float | None = None
    child_tries: int | None = None
    cpus_per_child: int | None = None
    gpus_per_child: float | None = None
    async_k: int | None = None
    device: str = "auto"
    amp: bool = False
    seed: int = 0
    benchmark: str | None = None
    benchmark_dataset: str | None = None
    benchmark_table: Path | None = None
    fidelity: int | None = None
    seed_noise: bool = False
    controller_preset: str | None = None
    controller_hidden: int | None = None
    controller_layers: int | None = None
    controller_lr: float | None = None
    baseline_decay: float | None = None
    temperature: float | None = None
    tanh_constant: float | None = None
    entropy_weight: float | None = None
    controller_steps: int | None = None
    shared_lr: float | None = None
    derive_subset: int | None = None
    depth: int | None = None
    shared_batch_size: int | None = None
    population: int | None = None
    tournament_size: int | None = None
    reward_power: float | None = None
    reward_c: float = 80.0
    failed_reward: float = 0.0
    rungs: str | None = None
    eta: int | None = None
    rung_score: str | None = None
    max_params: str | None = None
    max_macs: str | None = None
    max_latency: str | None = None
    latency_batch: int | None = None
    latency_model: str | None = None
    latency_margin: str | None = None
    refused_reward: float | None = None
    objective: str | None = None
    objective_w: float | None = None
    objective_w_over: float | None = None

    @classmethod
    def take(cls, values: dict[str, Any]) -> SearchOptions:
        """The options among `values` (a command's parameters by name); others are left out."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


# Options that train children, which a benchmark search does not do (flag -> field).
_TRAINING = {"--dataset": "dataset", "--data-dir": "data_dir", "--download": "download",
             "--image-size": "image_size", "--tokens": "tokens", "--vocab-size": "vocab_size", "--target": "target",
             "--epochs": "epochs", "--train-subset": "train_subset", "--backend": "backend", "--address": "address",
             "--child-timeout": "child_timeout", "--child-tries": "child_tries",
             "--cpus-per-child": "cpus_per_child", "--gpus-per-child": "gpus_per_child", "--amp": "amp"}
_BENCHMARK = {"--benchmark-dataset": "benchmark_dataset", "--benchmark-table": "benchmark_table",
              "--fidelity": "fidelity", "--seed-noise": "seed_noise"}


def _given(options: SearchOptions, flags: dict[str, str]) -> list[str]:
    defaults = SearchOptions(space=options.space)
    return [flag for flag, name in flags.items() if getattr(options, name) != getattr(defaults, name)]


def _benchmark(options: SearchOptions) -> BenchmarkConfig | None:
    """The benchmark part of the config; options that do not fit a benchmark search are refused."""
    if options.benchmark is None:
        if _given(options, _BENCHMARK):
            raise RunError(f"{', '.join(_given(options, _BENCHMARK))} apply to --benchmark searches only")
        return None
    training = _given(options, _TRAINING) + (["--workers"] if (options.workers or 1) > 1 else []) + (
        ["--device"] if options.device != "auto" else [])
    if training:
        raise RunError(f"{', '.join(training)} do not apply to --benchmark {options.benchmark}: its children "
                       "are looked up in the table, not trained")
    if options.strategy == "enas":
        raise RunError("--strategy enas trains shared weights; a benchmark answers children one by one")
    if options.reward_power is not None and options.reward_power <= 0:
        raise RunError("--reward-power must be > 0 on a benchmark, so that the best reward is the best validation")
    given = {"dataset": options.benchmark_dataset, "fidelity": options.fidelity,
             "table": str(options.benchmark_table) if options.benchmark_table else None}
    return BenchmarkConfig(name=options.benchmark, seed_noise=options.seed_noise,
                           **{k: v for k, v in given.items() if v is not None})


def executor_options(backend: str | None, workers: int | None, address: str | None, child_timeout: float | None,
                     child_tries: int | None, cpus_per_child: int | None, gpus_per_child: float | None,
                     device: str | None) -> dict:
    """The ExecutorConfig fields the command line sets (for a new run, or to change on resume)."""
    if backend is not None and backend not in ("local", "process", "ray"):
        raise RunError(f"unknown backend '{backend}'; expected local, process or ray")
    if backend == "local" and (workers or 1) > 1:
        raise RunError("--backend local trains one child at a time; use --backend process with --workers")
    if (address is not None or gpus_per_child is not None) and backend != "ray":
        raise RunError("--address and --gpus-per-child are for --backend ray")
    if backend == "ray" and gpus_per_child is None and device is not None:
        gpus_per_child = 1.0 if device.startswith("cuda") else 0.0
    given = {"backend": backend, "address": address, "child_timeout": child_timeout, "max_tries": child_tries,
             "cpus_per_child": cpus_per_child, "gpus_per_child": gpus_per_child}
    return {k: v for k, v in given.items() if v is not None}


def _enas(config: SearchConfig, space: SearchSpace, options: SearchOptions, shaping: dict) -> SearchConfig:
    """`config` with ENAS's controller and phases for the space's family; given options (not None) win."""
    from ..space.compiler import compile_space
    from .enas.config import EnasConfig, enas_controller
    from .enas.supernet import search_depth, space_family

    compiled = compile_space(space)
    family = space_family(compiled)  # refuses a space whose children cannot share weights
    given = dict(epochs=options.epochs, train_subset=options.train_subset, controller_aggregate=options.batch,
                 controller_lr=options.controller_lr, entropy_weight=options.entropy_weight,
                 controller_steps=options.controller_steps, lr=options.shared_lr,
                 batch_size=options.shared_batch_size, reward_c=options.reward_c,
                 derive_subset=options.derive_subset, depth=search_depth(compiled, options.depth))
    enas = EnasConfig.for_family(family, **{k: v for k, v in given.items() if v is not None})
    return config.model_copy(update={"controller": enas_controller(family, **shaping), "enas": enas})


def _device(options: SearchOptions, benchmark: BenchmarkConfig | None) -> str:
    from ..train.device import resolve_device  # torch loads only for searches

    if benchmark is not None:
        return "cpu"  # nothing runs on it: the controller stays on the CPU
    if options.backend == "ray" and options.address:  # a Ray cluster's GPUs need not be on this machine
        return options.device
    return resolve_device(options.device)


def constraints_of(options: SearchOptions, benchmark: BenchmarkConfig | None):
    """The hard limits the options give (units parsed: 1.5M, 300M, 5ms); docs/budgets.md."""
    from ..budget import Constraints, parse_count, parse_latency
    from ..budget.units import DEFAULT_LATENCY_MARGIN, parse_margin

    o = options
    if benchmark is not None and (o.max_latency is not None or o.latency_batch is not None):
        raise RunError(f"--max-latency does not apply to --benchmark {benchmark.name}: the table has no latency "
                       "(its params and FLOPs columns serve --max-params and --max-macs)")
    limits = dict(max_params=parse_count(o.max_params, "--max-params") if o.max_params else None,
                  max_macs=parse_count(o.max_macs, "--max-macs") if o.max_macs else None,
                  max_latency_ms=parse_latency(o.max_latency) if o.max_latency else None)
    if o.latency_margin is not None and limits["max_latency_ms"] is None:
        raise RunError("--latency-margin applies with --max-latency")
    if limits["max_latency_ms"] is not None:
        given_margin = DEFAULT_LATENCY_MARGIN if o.latency_margin is None else o.latency_margin
        limits["latency_margin"] = parse_margin(given_margin, "--latency-margin")
    given = {k: v for k, v in (("latency_batch", o.latency_batch), ("refused_reward", o.refused_reward),
                               ("objective_w", o.objective_w)) if v is not None}
    if o.objective_w_over is not None or o.objective_w is not None:
        given["objective_w_over"] = _first(o.objective_w_over, given.get("objective_w", -0.07))
    objective = _objective(o.objective, benchmark)
    return Constraints(**limits, **given, **objective,
                       latency_model=_latency_model(o, limits["max_latency_ms"] is not None or bool(objective)
                                                    and objective["objective_cost"] == "latency_ms"))


def _latency_model(options: SearchOptions, needs_latency: bool) -> str:
    """--latency-model measured|table|auto (auto: table for --strategy enas, measured otherwise)."""
    model = options.latency_model or "auto"
    if model not in ("measured", "table", "auto"):
        raise RunError(f"--latency-model {model!r}: expected measured, table or auto")
    if options.latency_model is not None and model != "auto" and not needs_latency:
        raise RunError("--latency-model applies with --max-latency or --objective latency=...")
    return auto_latency_model(options.strategy) if model == "auto" else model


def _objective(text: str | None, benchmark: BenchmarkConfig | None) -> dict:
    """`--objective latency=5ms` (or params=0.5M, macs=300M) -> the Constraints fields it sets."""
    from ..budget import parse_count, parse_latency

    if text is None:
        return {}
    name, _, target = text.partition("=")
    fields_of = {"params": "params", "macs": "macs", "latency": "latency_ms"}
    if name.strip() not in fields_of or not target.strip():
        raise RunError(f"--objective {text!r}: expected params=TARGET, macs=TARGET or latency=TARGET, e.g. latency=5ms")
    cost = fields_of[name.strip()]
    if cost == "latency_ms" and benchmark is not None:
        raise RunError("--objective latency does not apply to a benchmark table: it has no latency")
    value = parse_latency(target, "--objective") if cost == "latency_ms" else parse_count(target, "--objective")
    return {"objective_cost": cost, "objective_target": float(value)}


def search_config(options: SearchOptions) -> SearchConfig:
    """The SearchConfig of a new run of `options.space`; a NasError for options that do not fit."""
    from ..data import dataset_kind
    from ..data.spec import DataSpec
    from ..train import RewardConfig, TrainConfig
    from .controller import ControllerConfig
    from .evolution import EvolutionConfig
    from .reinforce import ReinforceConfig

    if options.strategy not in SEARCH_STRATEGIES:
        raise RunError(f"unknown strategy '{options.strategy}'; expected {', '.join(SEARCH_STRATEGIES)}")
    if options.depth is not None and options.strategy != "enas":
        raise RunError("--depth applies to a new --strategy enas search (a resume keeps the run's depth; the "
                       "other strategies follow the space's depth schedule)")
    space = load_space(options.space)
    settings = space.settings
    benchmark = _benchmark(options)
    if benchmark is not None:  # the table and the space checked against each other, before anything is made
        from ..benchmarks.query import BenchmarkQuery
        from ..space.compiler import compile_space

        BenchmarkQuery(benchmark).check_space(compile_space(space))
    o = options
    spec = DataSpec.for_space(space, seed=o.seed) if benchmark else DataSpec.from_options(
        o.dataset, o.data_dir, o.download, space, o.seed, image_size=o.image_size, tokens=o.tokens,
        vocab_size=o.vocab_size, target=o.target)
    device = _device(options, benchmark)
    preset = get_preset(o.controller_preset or default_preset(benchmark is not None))
    shaping = dict(hidden=o.controller_hidden, layers=o.controller_layers, temperature=o.temperature,
                   tanh_constant=o.tanh_constant)
    reinforce = dict(lr=o.controller_lr or preset.lr, entropy_weight=_first(o.entropy_weight, preset.entropy_weight),
                     baseline_decay=_first(o.baseline_decay, preset.baseline_decay))
    rungs = _rungs(o, benchmark)
    if rungs is not None and benchmark is not None:
        benchmark = benchmark.model_copy(update={"fidelity": rungs.epochs[0]})  # a new child's query
    epochs = rungs.epochs[-1] if rungs is not None and benchmark is None else o.epochs or settings.get("epochs")
    default_budget = None if o.time_budget is not None else int(settings.get("budget", 8))
    config = SearchConfig(
        strategy=o.strategy, data=spec, budget=o.budget or default_budget, time_budget=o.time_budget,
        batch=o.batch or preset.batch or int(settings.get("batch", 4)), seed=o.seed, workers=o.workers or 1,
        executor=ExecutorConfig(**{"backend": "process" if (o.workers or 1) > 1 else "local", **executor_options(
            o.backend, o.workers, o.address, o.child_timeout, o.child_tries, o.cpus_per_child, o.gpus_per_child,
            device)}),
        device=device, async_k=o.async_k, benchmark=benchmark, controller_preset=preset.name,
        train=TrainConfig.proxy(dataset_kind(spec.name).task, epochs, o.train_subset, o.seed, o.amp), rungs=rungs,
        controller=ControllerConfig(**{k: v for k, v in shaping.items() if v is not None}),
        reinforce=ReinforceConfig(**reinforce),
        evolution=EvolutionConfig(**_evolution(o)),
        reward=RewardConfig(power=_first(o.reward_power, preset.reward_power), c=o.reward_c, failed=o.failed_reward),
        constraints=constraints_of(o, benchmark),
    )
    return _enas(config, space, options, shaping) if o.strategy == "enas" else config


def _rungs(options: SearchOptions, benchmark: BenchmarkConfig | None) -> RungConfig | None:
    """`--rungs E1,E2,...`, `--eta` and `--rung-score`, checked against the other options (and the benchmark's
    table)."""
    if options.rungs is None:
        for flag, value in (("--eta", options.eta), ("--rung-score", options.rung_score)):
            if value is not None:
                raise RunError(f"{flag} applies with --rungs")
        return None
    try:
        epochs = tuple(int(part) for part in options.rungs.split(","))
    except ValueError:
        raise RunError(f"--rungs {options.rungs}: give epoch counts such as 1,3,9") from None
    if options.rung_score not in (None, *RUNG_SCORES):
        raise RunError(f"--rung-score {options.rung_score}: give {' or '.join(RUNG_SCORES)}")
    chosen = {"eta": options.eta, "score": options.rung_score}
    try:
        rungs = RungConfig(epochs=epochs, **{k: v for k, v in chosen.items() if v is not None})
    except ValidationError as err:
        raise RunError(f"--rungs {options.rungs}: {err.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    if options.strategy == "enas":
        raise RunError("--rungs: enas trains one shared network, not children one by one")
    if benchmark is not None:
        from ..benchmarks.query import BenchmarkQuery

        BenchmarkQuery(benchmark).check_fidelities(rungs.epochs)
        if options.fidelity is not None or options.seed_noise:
            raise RunError("--rungs on a benchmark: each rung is the table's fidelity (no --fidelity), and the "
                           "mean over seeds (no --seed-noise: the table has seeds at one fidelity only)")
    elif options.epochs is not None and options.epochs != rungs.epochs[-1]:
        raise RunError(f"--epochs {options.epochs} with --rungs {options.rungs}: a child's training is the last "
                       f"rung's {rungs.epochs[-1]} epochs (leave --epochs out)")
    return rungs
def _evolution(options: SearchOptions) -> dict:
    """P and S as given; for another strategy they are refused by `search` and left out by `compare`,
    whose shared options reach its random and reinforce runs too."""
    given = {"population": options.population, "tournament_size": options.tournament_size}
    return {k: v for k, v in given.items() if v is not None} if options.strategy == "evolution" else {}


def _first(given: Any, default: Any) -> Any:
    """`given` unless it is None (0 is a value given)."""
    return default if given is None else given
