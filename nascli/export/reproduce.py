"""The commands that reproduce a run's search and a child's retraining, rebuilt from what the run recorded.

A run folder keeps the search's settings (config.json's `options`, the
SearchConfig) and its space file byte for byte (space.space), not the command
line; `search_words` writes every option that config holds a value for, so the
command builds the same SearchConfig whatever the CLI's defaults become (a test
runs it and compares). Settings no option sets are listed, not dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..budget.constraints import Constraints, auto_latency_model
from ..budget.units import DEFAULT_LATENCY_MARGIN, format_margin
from ..data.spec import DataSpec

# The SearchConfig fields the command line sets, one way or another (search_cmds.py)
_KNOWN = {"strategy", "data", "budget", "batch", "seed", "workers", "executor", "device", "async_k", "train",
          "reward", "controller", "reinforce", "child", "enas", "time_budget", "benchmark", "controller_preset", "rungs", "constraints",
          "evolution"}
_DATA_OPTIONS = ("image_size", "vocab_size", "target")


@dataclass
class Command:
    words: list[str]
    unset: list[str] = field(default_factory=list)  # recorded settings the words do not set


def _option(words: list[str], name: str, value: Any) -> None:
    if value is None or value is False:
        return
    words.append(f"--{name}")
    if value is not True:
        words.append(f"{value:g}" if isinstance(value, float) else str(value))


def data_words(data: DataSpec) -> list[str]:
    """--dataset and the data options that `data` sets (those at their default are left out)."""
    words: list[str] = []
    _option(words, "dataset", data.name)
    _option(words, "data-dir", data.data_dir)
    for name in _DATA_OPTIONS:
        _option(words, name.replace("_", "-"), getattr(data, name))
    if data.tokens != DataSpec.model_fields["tokens"].default:
        _option(words, "tokens", data.tokens)
    return words


def _data_unset(data: DataSpec) -> list[str]:
    fields = DataSpec.model_fields
    return [f"data.{name} = {getattr(data, name)}" for name in ("valid_fraction", "test_fraction")
            if getattr(data, name) != fields[name].default]


def _fixed_unset(options: dict, data: DataSpec) -> list[str]:
    """Settings the command line never changes (the trainer's, the children's sizes) where the run's differ."""
    from ..children import ChildConfig
    from ..data import dataset_kind
    from ..train import RewardConfig, TrainConfig

    train = options.get("train", {})
    usual = TrainConfig.proxy(dataset_kind(data.name).task, train.get("epochs"), train.get("train_subset"),
                              options.get("seed", 0), train.get("amp", False)).model_dump()
    unset = [f"train.{k} = {v}" for k, v in train.items() if k in usual and usual[k] != v and k != "train_subset"]
    last = options.get("reward", {}).get("last_epochs", 5)
    if last != RewardConfig.model_fields["last_epochs"].default:
        unset.append(f"reward.last_epochs = {last}")
    if ChildConfig.model_validate(options.get("child", {})) != ChildConfig():
        unset.append(f"child = {options['child']} (the children's sizes)")
    return unset


def _executor_words(options: dict) -> list[str]:
    words: list[str] = []
    executor, workers = options.get("executor", {}), options.get("workers", 1)
    if workers > 1:
        _option(words, "workers", workers)
    if executor.get("backend", "local") != ("process" if workers > 1 else "local"):
        _option(words, "backend", executor["backend"])
    _option(words, "address", executor.get("address"))
    _option(words, "child-timeout", executor.get("child_timeout"))
    if executor.get("max_tries", 3) != 3:
        _option(words, "child-tries", executor["max_tries"])
    _option(words, "cpus-per-child", executor.get("cpus_per_child"))
    if executor.get("backend") == "ray":
        _option(words, "gpus-per-child", executor.get("gpus_per_child"))
    _option(words, "async", options.get("async_k"))
    return words


def _controller_words(options: dict) -> list[str]:
    """The controller's shape, learning rate and entropy weight (ENAS: its phases' settings too)."""
    words: list[str] = []
    controller, enas = options.get("controller", {}), options.get("enas")
    for name in ("hidden", "layers"):
        _option(words, f"controller-{name}", controller.get(name))
    for name in ("temperature", "tanh_constant"):
        _option(words, name.replace("_", "-"), controller.get(name))
    learner = enas if enas is not None else options.get("reinforce", {})
    _option(words, "controller-preset", options.get("controller_preset"))
    _option(words, "controller-lr", learner.get("controller_lr", learner.get("lr")))
    _option(words, "entropy-weight", learner.get("entropy_weight"))
    if enas is None:
        _option(words, "baseline-decay", learner.get("baseline_decay"))
    if enas is not None:
        for name, key in (("controller-steps", "controller_steps"), ("shared-lr", "lr"),
                          ("derive-subset", "derive_subset"), ("depth", "depth"),
                          ("shared-batch-size", "batch_size")):
            _option(words, name, enas.get(key))
    return words


def _evolution_words(options: dict) -> list[str]:
    """--population and --tournament-size of an evolution run (another strategy's are unused defaults)."""
    words: list[str] = []
    if options.get("strategy") == "evolution":
        evolution = options.get("evolution", {})
        _option(words, "population", evolution.get("population"))
        _option(words, "tournament-size", evolution.get("tournament_size"))
    return words


def _proxy_words(options: dict) -> tuple[list[str], list[str]]:
    """--batch, --epochs and --train-subset (ENAS: its phases'), and what they cannot say."""
    words: list[str] = []
    enas, train = options.get("enas"), options.get("train", {})
    source = enas if enas is not None else train
    _option(words, "batch", enas["controller_aggregate"] if enas is not None else options.get("batch"))
    _option(words, "epochs", source.get("epochs"))
    _option(words, "train-subset", source.get("train_subset"))
    unset = []  # a train_subset of None is what leaving --train-subset out gives (tables; ENAS: all)
    if enas is not None and enas.get("derive_subset") is None:
        unset.append("enas.derive_subset = all (no option asks for that)")
    return words, unset


def _benchmark_words(options: dict) -> list[str]:
    """--benchmark and its table, dataset, fidelity and noise (a benchmark run's)."""
    words: list[str] = []
    bench = options.get("benchmark")
    if bench is None:
        return words
    names = ("name", "dataset", "table") if options.get("rungs") else ("name", "dataset", "table", "fidelity", "seed_noise")
    for name in names:  # with rungs the fidelity is the first rung's (--fidelity and --seed-noise are refused)
        flag = "benchmark" if name == "name" else name.replace("_", "-")
        _option(words, f"benchmark-{flag}" if name in ("dataset", "table") else flag, bench.get(name))
    return words


def _rung_and_limit_words(options: dict) -> list[str]:
    """--rungs/--eta and the limits and objective of docs/budgets.md, where the run has them."""
    words: list[str] = []
    rungs, limits = options.get("rungs"), options.get("constraints") or {}
    if rungs is not None:
        _option(words, "rungs", ",".join(map(str, rungs["epochs"])))
        _option(words, "eta", rungs.get("eta"))
        if rungs.get("score", "first") != "first":
            _option(words, "rung-score", rungs["score"])
    _option(words, "max-params", limits.get("max_params"))
    _option(words, "max-macs", limits.get("max_macs"))
    if limits.get("max_latency_ms") is not None:
        _option(words, "max-latency", f"{limits['max_latency_ms']:g}ms")
        margin = format_margin(limits.get("latency_margin", 0.0))  # 0 in runs from before --latency-margin
        if margin != DEFAULT_LATENCY_MARGIN:
            _option(words, "latency-margin", margin)
    recorded = Constraints.model_validate(limits)
    if recorded.needs_latency and recorded.latency_model != auto_latency_model(options.get("strategy")):
        _option(words, "latency-model", recorded.latency_model)
    if limits.get("latency_batch", 1) != 1:
        _option(words, "latency-batch", limits["latency_batch"])
    if limits.get("refused_reward", 0.0) != 0.0:
        _option(words, "refused-reward", limits["refused_reward"])
    cost, target = limits.get("objective_cost"), limits.get("objective_target")
    if cost is not None:
        unit = "ms" if cost == "latency_ms" else ""
        _option(words, "objective", f"{cost.removesuffix('_ms')}={target:g}{unit}")
        _option(words, "objective-w", limits.get("objective_w"))
        _option(words, "objective-w-over", limits.get("objective_w_over"))
    return words


def search_command(run_dir: Path, options: dict, plugins: list[str]) -> Command:
    """`nascli search` of the run's own space file with the run's settings."""
    data = DataSpec.model_validate(options["data"])
    words = ["nascli", *[w for name in plugins for w in ("--plugin", name)], "search", str(run_dir / "space.space")]
    reward = options.get("reward", {})
    for name, value in (("strategy", options.get("strategy")), ("budget", options.get("budget")),
                        ("time-budget", options.get("time_budget")), ("seed", options.get("seed")),
                        ("reward-power", reward.get("power"))):
        _option(words, name, value)
    words += _rung_and_limit_words(options) + _controller_words(options) + _evolution_words(options)
    newer = [f"{key} (set by another version of nascli)" for key in options if key not in _KNOWN]
    if options.get("benchmark") is not None:  # nothing is trained: no data, proxy, executor or device options
        words += _benchmark_words(options)
        _option(words, "batch", options.get("batch"))
        _option(words, "async", options.get("async_k"))
        return Command(words, newer)
    proxy, unset = _proxy_words(options)
    words += proxy + data_words(data)
    _option(words, "reward-c", reward.get("c"))  # ENAS's reward_c too
    _option(words, "failed-reward", reward.get("failed"))
    words += _executor_words(options)
    _option(words, "device", options.get("device"))
    _option(words, "amp", options.get("train", {}).get("amp"))
    return Command(words, unset + _data_unset(data) + _fixed_unset(options, data) + newer)


def retrain_command(source: list[str], epochs: int | None, seed: int | None, device: str | None,
                    amp: bool | None) -> Command:
    """`nascli eval` of `source` (['--best', '--run', RUN] or [ARCH.json, data options...])."""
    words = ["nascli", "eval", *source]
    _option(words, "epochs", epochs)
    _option(words, "seed", seed)
    _option(words, "device", device)
    _option(words, "amp", amp)
    return Command(words)
