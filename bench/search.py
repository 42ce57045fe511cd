"""Search benchmark: controller speed and cost share, and REINFORCE vs random search at equal budget.

    python bench/search.py [--quick] [--budget N] [--seeds N] [--data-dir DIR]

1. Controller sampling throughput (architectures/s) for conv.space at depth 15, m=8 and m=64,
   under torch.no_grad() on one thread, as ReinforceStrategy.propose samples; the two batch sizes alternate
   in rounds and the table gives medians.
2. The controller's share of a real search's wall time: a small REINFORCE search made by
   nascli.search.runs.create_search on the embedded CIFAR sample, with the strategy's
   propose/update wrapped in timers here (no library code is changed).
3. REINFORCE vs random search, same budget, same child training, on a CIFAR-10 proxy
   (../shared/data/cifar10-mini beside the repository, or --data-dir): per strategy the best reward, the mean of the top 5,
   and the mean of the last quarter of children, as mean +- std across seeds. Seeds of the
   two strategies alternate so that machine load hits both alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import torch

from children import alternate_rounds, machine_lines, markdown_table, mean_std  # bench/ is on sys.path
from nascli.data import ImageData
from nascli.search.controller import Controller, ControllerConfig
from nascli.data.spec import DataSpec
from nascli.search.executor import InlineExecutor
from nascli.search.loop import Search, SearchConfig
from nascli.search.reinforce import ReinforceConfig
from nascli.search.runs import create_search
from nascli.runs import RunStore
from nascli.space import load_space, parse_space
from nascli.space.compiler import compile_space
from nascli.threads import single_thread
from nascli.train import RewardConfig, TrainConfig

REPO = Path(__file__).resolve().parent.parent
MINI_CIFAR = REPO.parent / "shared" / "data" / "cifar10-mini"  # beside the repository, or --data-dir
# The proxy keeps conv.space's kernels and skip anchors but narrows the filter counts, so
# a child trains in seconds on 2 shared CPU cores (about 1/9 of the multiply-adds).
PAPER_FILTERS, PROXY_FILTERS = "filters: {24, 36, 48, 64}", "filters: {8, 12, 16, 24}"


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    rounds: int  # controller timing rounds
    share_budget: int  # children in the controller-share search
    share_subset: int  # training images per child epoch in that search
    compare_budget: int  # children per REINFORCE / random run
    batch: int  # m, children per controller step
    seeds: int
    train_subset: int  # training images per child epoch
    valid_images: int  # validation images per child evaluation
    epochs: int
    controller_lr: float
    data_dir: Path = MINI_CIFAR  # the CIFAR-10 proxy of the comparison


FULL = BenchConfig(rounds=7, share_budget=8, share_subset=64, compare_budget=16, batch=4, seeds=3, train_subset=256,
                   valid_images=200, epochs=1, controller_lr=0.005)
QUICK = BenchConfig(rounds=3, share_budget=2, share_subset=32, compare_budget=4, batch=2, seeds=1, train_subset=64,
                    valid_images=100, epochs=1, controller_lr=0.005)


def controller_throughput(rounds: int) -> list[list[str]]:
    compiled = compile_space(load_space("conv"))
    torch.manual_seed(0)
    controller = Controller(compiled, ControllerConfig())
    generator = torch.Generator().manual_seed(0)

    def sampler(m: int):
        def run() -> float:  # architectures per second
            start = time.perf_counter()
            with torch.no_grad(), single_thread():  # as ReinforceStrategy.propose runs it
                controller.sample(m, 15, generator)
            return m / (time.perf_counter() - start)
        return run

    sampler(8)()  # warm-up: compiles the depth-15 program once
    samples = alternate_rounds({8: sampler(8), 64: sampler(64)}, rounds)
    return [[f"controller sampling, conv.space depth 15, m={m} (no_grad)",
             f"{statistics.median(samples[m]):.1f} archs/s"] for m in (8, 64)]


def _timed(method, bucket: list[float]):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            bucket.append(time.perf_counter() - start)
    return wrapper


def controller_share(cfg: BenchConfig, workdir: Path) -> list[list[str]]:
    config = SearchConfig(strategy="reinforce", data=DataSpec(name="cifar10"), budget=cfg.share_budget,
                          batch=cfg.batch, train=TrainConfig(epochs=1, train_subset=cfg.share_subset))
    search = create_search("conv", config, workdir / "share")
    propose, update = [], []
    search.strategy.propose = _timed(search.strategy.propose, propose)
    search.strategy.update = _timed(search.strategy.update, update)
    start = time.perf_counter()
    try:
        search.run()
    finally:
        search.store.close()
    total = time.perf_counter() - start
    controller = sum(propose) + sum(update)
    where = (f"real search: conv.space depth 6, embedded CIFAR sample, {cfg.share_budget} children, "
             f"m={cfg.batch}, 1 epoch on {cfg.share_subset} images")
    return [[f"controller share of wall time ({where})",
             f"{100 * controller / total:.2f}% (propose {sum(propose):.2f} s + update {sum(update):.2f} s "
             f"of {total:.1f} s; the first step's includes warm-up)"]]


def _proxy_data(cfg: BenchConfig) -> ImageData:
    data = DataSpec(name="cifar10", data_dir=str(cfg.data_dir)).load()
    valid_x = dataclasses.replace(data.valid_x, pixels=data.valid_x.pixels[:cfg.valid_images])
    return dataclasses.replace(data, valid_x=valid_x, valid_y=data.valid_y[:cfg.valid_images])


def _run_strategy(strategy: str, seed: int, cfg: BenchConfig, data: ImageData, space_text: str, workdir: Path) -> list[float]:
    """Rewards of one run's children, in the order they were proposed."""
    config = SearchConfig(strategy=strategy, data=DataSpec(name="cifar10", data_dir=str(cfg.data_dir)),
                          budget=cfg.compare_budget, batch=cfg.batch, seed=seed,
                          train=TrainConfig(epochs=cfg.epochs, train_subset=cfg.train_subset, augment=False),
                          reward=RewardConfig(last_epochs=cfg.epochs),
                          reinforce=ReinforceConfig(lr=cfg.controller_lr))
    sha = hashlib.sha256(space_text.encode()).hexdigest()
    store = RunStore.create(workdir / f"{strategy}-{seed}", config.model_dump(mode="json"), space_text, sha)
    compiled = compile_space(parse_space(space_text, "conv-proxy.space"))
    try:
        Search(config, compiled, store, InlineExecutor(data, config.executor)).run()
        return [c.reward for c in sorted(store.children(), key=lambda c: c.id)]
    finally:
        store.close()


def compare_strategies(cfg: BenchConfig, workdir: Path) -> tuple[list[list[str]], float]:
    data = _proxy_data(cfg)
    text = (REPO / "spaces" / "conv.space").read_text(encoding="utf-8")
    space_text = text.replace(PAPER_FILTERS, PROXY_FILTERS)
    if space_text == text:
        raise SystemExit(f"spaces/conv.space no longer has the line {PAPER_FILTERS!r}; update bench/search.py")
    runs: dict[str, list[list[float]]] = {"reinforce": [], "random": []}
    start = time.perf_counter()
    for seed in range(cfg.seeds):
        for strategy in runs:  # alternate strategies seed by seed
            runs[strategy].append(_run_strategy(strategy, seed, cfg, data, space_text, workdir))
    seconds = time.perf_counter() - start
    quarter = max(1, cfg.compare_budget // 4)
    rows = []
    for strategy, rewards in runs.items():
        rows.append([strategy, str(len(rewards)), str(cfg.compare_budget),
                     mean_std([max(r) for r in rewards]),
                     mean_std([statistics.mean(sorted(r)[-5:]) for r in rewards]),
                     mean_std([statistics.mean(r[:quarter]) for r in rewards]),
                     mean_std([statistics.mean(r[-quarter:]) for r in rewards])])
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller version (< 3 minutes)")
    parser.add_argument("--budget", type=int, help="children per REINFORCE / random run")
    parser.add_argument("--seeds", type=int, help="seeds per strategy")
    parser.add_argument("--data-dir", type=Path, default=MINI_CIFAR,
                        help="the CIFAR-10 proxy: a folder holding cifar-10-batches-py/ (default: %(default)s)")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    cfg = dataclasses.replace(cfg, compare_budget=args.budget or cfg.compare_budget, seeds=args.seeds or cfg.seeds,
                              data_dir=args.data_dir)
    began = time.perf_counter()
    print("\n".join(machine_lines()))
    print(f"threads: {torch.get_num_threads()} for conv children (torch default); 1 for the controller (nascli.threads)\n")

    rows = controller_throughput(cfg.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        rows += controller_share(cfg, Path(tmp))
        print(f"### Controller cost (medians of {cfg.rounds} alternating rounds)\n")
        print(markdown_table(["measurement", "value"], rows))
        print()
        if not (cfg.data_dir / "cifar-10-batches-py").is_dir():
            print(f"SKIPPED REINFORCE vs random: {cfg.data_dir} is absent (--data-dir names another copy).")
            return
        table, seconds = compare_strategies(cfg, Path(tmp))
    print(f"### REINFORCE vs random search, equal budget (mean ± std over {cfg.seeds} seeds)\n")
    print(markdown_table(["strategy", "seeds", "children/run", "best reward", "top-5 mean reward",
                          "first-quarter mean", "last-quarter mean"], table))
    print(f"\nProxy: spaces/conv.space at its starting depth 6 with filters narrowed to "
          f"{PROXY_FILTERS.split(': ')[1]}; {cfg.compare_budget} children per run, m={cfg.batch}; each child "
          f"{cfg.epochs} epoch(s) on {cfg.train_subset} images of {cfg.data_dir} (no augmentation), reward = "
          f"validation accuracy³ on {cfg.valid_images} held-out images; controller Adam lr {cfg.controller_lr} "
          f"(the paper's 6e-4 is tuned for 12,800 children). This is a tiny proxy: {cfg.compare_budget} "
          f"children per run vs the paper's 12,800, rewards from barely-trained children are noisy, and "
          f"{cfg.compare_budget // cfg.batch} controller updates cannot be expected to separate the strategies.")
    print(f"Comparison wall time: {seconds:.0f} s; whole benchmark: {time.perf_counter() - began:.0f} s.")


if __name__ == "__main__":
    main()
