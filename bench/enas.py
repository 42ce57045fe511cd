"""ENAS benchmark: what sharing weights buys, on the real data in /work/shared/data.

    python bench/enas.py [--parts 1,2,4,5,6] [--quick] [--nni ~/nni-venv/bin/python]

1. Children evaluated per CPU-minute (process CPU time): a short ENAS search
   (one epoch of the shared weights, then controller steps whose every child is
   rewarded on a validation minibatch, then the derived children) against
   training children from scratch at the search's default proxy
   (`nascli search`'s 2 epochs on 400 images or 20,000 tokens), for
   enas_macro and enas_micro on cifar10-mini and enas_rnn on ptb-mini; the median of `--repeats` ENAS
   runs against the mean of as many scratch children.
2. One ENAS epoch of nascli against NNI 3.0's one-shot ENAS
   (/work/shared/peers/nni_enas_macro.py) on a 6-layer, 24-channel macro space,
   the same 4,577 training images, batch 64, 2 threads, alternating the two;
   then one epoch of the full enas_macro space (12 layers, 36 filters,
   any-subset skips), which NNI cannot express.
3. The controller's share of ENAS wall time, from the epochs of part 1.
4. Quality at equal CPU budget, 3 seeds: enas vs reinforce vs random, best child retrained
   and tested once (bench/enas_quality.py).
5. Kendall τ of the seed-0 ENAS and reinforce runs of part 4 (nascli fidelity's study).
6. PTB: ENAS's found enas_rnn cell against an nn.LSTM language model of equal parameter count,
   both retrained and tested the same way (bench/enas_ptb.py).
Results are printed as markdown tables with the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from children import machine_lines, markdown_table  # bench/ is on sys.path
from enas_ptb import part6
from enas_quality import run_parts
from nascli.arch.sample import sample_architecture
from nascli.children import ChildConfig, build_child, profile_child
from nascli.data.registry import dataset_kind
from nascli.data.spec import DataSpec
from nascli.search.enas.config import EnasConfig, enas_controller
from nascli.search.enas.supernet import space_family
from nascli.search.evaluate import ChildJob, run_child
from nascli.search.loop import SearchConfig
from nascli.search.runs import create_search
from nascli.space import load_space, parse_space
from nascli.space.compiler import compile_space
from nascli.train import RewardConfig, TrainConfig

REPO = Path(__file__).resolve().parent.parent
SHARED = Path("/work/shared/data")
DATA_DIR = {"cifar10": SHARED / "cifar10-mini", "ptb": SHARED / "ptb-mini"}
PEER = Path("/work/shared/peers/nni_enas_macro.py")
# Part 1 sizes: one epoch on a subset (CPU), the reference's 20 (macro) / 10 children per controller step,
# 5 derived children.
PART1 = {"enas_macro": dict(train_subset=256, controller_steps=2, controller_aggregate=20, derive_subset=100),
         "enas_micro": dict(train_subset=128, controller_steps=1, controller_aggregate=10, derive_subset=100),
         "enas_rnn": dict(train_subset=20_000, controller_steps=5, controller_aggregate=10, derive_subset=2000)}
DATASET = {"enas_macro": "cifar10", "enas_micro": "cifar10", "enas_rnn": "ptb"}


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def enas_run(space: str | Path, dataset: str, budget: int, **enas) -> dict:
    """One ENAS search in a temporary folder: CPU and wall seconds, children rewarded, its epoch rows."""
    family = space_family(compile_space(load_space(space)))
    config = SearchConfig(strategy="enas", data=DataSpec(name=dataset, data_dir=str(DATA_DIR[dataset])),
                          budget=budget, controller=enas_controller(family),
                          enas=EnasConfig.for_family(family, epochs=1, **enas))
    with tempfile.TemporaryDirectory() as tmp:
        job = create_search(space, config, Path(tmp) / "run")
        cpu, wall = time.process_time(), time.perf_counter()
        job.run()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        epochs = job.store.epochs()
        job.store.close()
    e = config.enas
    trained = len(job.data.train) if dataset == "ptb" else len(job.data.train_x)
    return dict(cpu=cpu, wall=wall, rewarded=e.epochs * e.controller_steps * e.controller_aggregate + budget,
                epochs=epochs, train_examples=min(trained, e.train_subset or trained))


def scratch_seconds(space: str, dataset: str, children: int) -> float:
    """CPU seconds per child trained from scratch at `nascli search`'s default proxy."""
    compiled = compile_space(load_space(space))
    data = DataSpec(name=dataset, data_dir=str(DATA_DIR[dataset])).load()
    train = TrainConfig.proxy(dataset_kind(dataset).task)  # `nascli search`'s children
    rng = random.Random(0)
    start = time.process_time()
    for k in range(children):
        job = ChildJob(child_id=k, arch=sample_architecture(compiled, rng), train=train, reward=RewardConfig(),
                       child=ChildConfig())
        result = run_child(job, data)
        assert result.status == "done", result.error
    return (time.process_time() - start) / children


def part1(repeats: int) -> tuple[list[list[str]], list[list[str]]]:
    """Per space: the median-CPU of `repeats` ENAS runs, and the mean CPU of `repeats` scratch children."""
    rates, shares = [], []
    for space, sizes in PART1.items():
        dataset = DATASET[space]
        runs = sorted((enas_run(space, dataset, budget=5, **sizes) for _ in range(repeats)), key=lambda r: r["cpu"])
        run = runs[len(runs) // 2]
        per_scratch = scratch_seconds(space, dataset, repeats)
        enas_rate = run["rewarded"] / (run["cpu"] / 60)
        scratch_rate = 60 / per_scratch
        rates.append([space, f"{run['rewarded']} in {run['cpu']:.0f} CPU-s", f"{enas_rate:,.0f}",
                      f"{per_scratch:.1f} CPU-s each", f"{scratch_rate:.2f}", f"{enas_rate / scratch_rate:,.0f}×"])
        seconds = sum(r.seconds for r in run["epochs"])
        controller = sum(r.controller_seconds for r in run["epochs"])
        shares.append([space, f"{seconds:.1f}", f"{controller:.2f}", f"{100 * controller / seconds:.2f}%"])
        print(" | ".join(rates[-1] + shares[-1][1:]), "|", load_line(), flush=True)  # as measured
    return rates, shares


def _small_macro(layers: int, filters: int) -> Path:
    text = (REPO / "spaces" / "enas_macro.space").read_text()
    text = text.replace("layers 12", f"layers {layers}").replace("filters = 36", f"filters = {filters}")
    path = Path(tempfile.mkdtemp()) / "enas_macro.space"
    path.write_text(text)
    parse_space(text)  # still a valid space
    return path


def nascli_epoch(space: Path, train_subset: int | None = None) -> tuple[float, int]:
    """Wall seconds of one ENAS epoch at batch 64 on 2 threads (1 controller step of 10), and images trained."""
    torch.set_num_threads(2)
    run = enas_run(space, "cifar10", budget=1, train_subset=train_subset, batch_size=64, controller_steps=1,
                   controller_aggregate=10, derive_subset=100)
    return run["epochs"][0].seconds, run["train_examples"]


def nni_epoch(python: str) -> float:
    out = subprocess.run([python, str(PEER), str(DATA_DIR["cifar10"] / "cifar-10-batches-py"), "1", "6", "24"],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"train imgs: ([\d.]+) s", out).group(1))


def mean_macs(space: str | Path, samples: int = 20) -> float:
    """Multiply-adds per image of uniformly sampled children (nascli's macro halves maps twice)."""
    compiled, rng = compile_space(load_space(space)), random.Random(0)
    task = DataSpec(name="cifar10").load().task
    return statistics.mean(profile_child(build_child(sample_architecture(compiled, rng), task), task).macs
                           for _ in range(samples))


def nni_macs(layers: int = 6, c: int = 24, hw: int = 32 * 32) -> float:
    """The peer's multiply-adds per image, uniformly drawn ops, no reductions: stem + mean op per layer."""
    ops = [9 * c * c, 25 * c * c, 9 * c + c * c, 25 * c + c * c, 0, 0]
    return hw * (27 * c + layers * sum(ops) / len(ops))


def part2(python: str, rounds: int) -> list[list[str]]:
    small = _small_macro(6, 24)
    times = {"nni": [], "nascli": []}
    images = 0
    for _ in range(rounds):
        times["nni"].append(nni_epoch(python))
        seconds, images = nascli_epoch(small)
        times["nascli"].append(seconds)
        print(load_line(), times, flush=True)
    nni, ours = statistics.median(times["nni"]), statistics.median(times["nascli"])
    full_seconds, full_images = nascli_epoch(REPO / "spaces" / "enas_macro.space", train_subset=1024)
    ours_gflops = 3 * 2 * mean_macs(small) * images / ours / 1e9  # forward + backward ≈ 3x, 2 FLOP per MAC
    nni_gflops = 3 * 2 * nni_macs() * 4577 / nni / 1e9
    return [["NNI 3.0 one-shot ENAS, 6 × 24, one skip per layer", f"{nni:.1f}", "4,577", f"{nni_gflops:.1f}"],
            ["nascli --strategy enas, 6 × 24, any-subset skips", f"{ours:.1f}", f"{images:,}", f"{ours_gflops:.1f}"],
            ["nascli / NNI speed", f"{nni / ours:.2f}×", "", ""],
            ["nascli enas_macro (12 × 36, any-subset skips), 1,024 images", f"{full_seconds:.1f}",
             f"{full_images:,}", f"{3 * 2 * mean_macs(REPO / 'spaces' / 'enas_macro.space') * full_images / full_seconds / 1e9:.1f}"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="1,2", help="comma-separated parts to run (3 comes with 1, 5 needs 4)")
    parser.add_argument("--nni", default=str(Path.home() / "nni-venv" / "bin" / "python"))
    parser.add_argument("--rounds", type=int, default=2, help="alternating NNI / nascli rounds in part 2")
    parser.add_argument("--repeats", type=int, default=3, help="part 1: ENAS runs (median) and scratch children")
    parser.add_argument("--quick", action="store_true", help="parts 4-6 with tiny settings (a smoke run)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    for line in machine_lines():
        print(line)
    print(load_line())
    if "1" in parts:
        torch.set_num_threads(2)
        rates, shares = part1(args.repeats)
        print(markdown_table(["space", "ENAS: children rewarded", "per CPU-min", "from scratch (default proxy)",
                              "per CPU-min", "ENAS / scratch"], rates))
        print(markdown_table(["space", "ENAS epoch s", "controller s", "controller share"], shares))
    if "2" in parts:
        print(markdown_table(["one ENAS epoch", "wall s (median)", "training images", "GFLOP/s (estimate)"],
                             part2(args.nni, args.rounds)))
    if "4" in parts:
        torch.set_num_threads(1)  # part 4's budgets are process CPU seconds on one thread
        for table in run_parts(parts, args.quick, DATA_DIR["cifar10"]):
            print(table, flush=True)
    if "6" in parts:
        torch.set_num_threads(1)
        print(markdown_table(["PTB language model (same recipe and seeds)", "parameters per seed",
                              "test perplexity (mean ± std)"], part6(args.quick, DATA_DIR["ptb"])), flush=True)
    print(load_line())


if __name__ == "__main__":
    main()
