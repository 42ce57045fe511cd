"""What a hard limit costs ENAS per shared-weights step: counting a sampled child's params and MACs
on the meta device (budget/cost.py's `count_cost`, what `--max-params` / `--max-macs` check) against
one SGD step of the shared weights, on the real data in /work/shared/data.

    python bench/enas_limits.py [--steps 8] [--spaces enas_macro,enas_micro,conv,nb201,enas_rnn]

Per space, at `nascli search SPACE --strategy enas`'s defaults (minibatch 64 images, or 20 token
streams of 35): the children of epoch 0's first `--steps` minibatches, as the fresh controller
samples them; the median time of one shared step on them, and of counting one (uncached: a fresh
policy rarely samples a child twice; the search caches each token string's cost, so a repeat costs
a dict lookup). Timing figures: they depend on the machine's load, printed with them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from children import machine_lines, markdown_table  # bench/ is on sys.path

from nascli.budget.cost import count_cost
from nascli.search.options import SearchOptions, search_config
from nascli.search.runs import create_search

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA = {"ptb": SHARED / "ptb-mini", "cifar10": SHARED / "cifar10-mini"}
DATASET = {"enas_rnn": "ptb"}


def measure(space: str, steps: int, folder: Path) -> list[str]:
    dataset = DATASET.get(space, "cifar10")
    config = search_config(SearchOptions(space=space, strategy="enas", dataset=dataset,
                                         data_dir=str(DATA[dataset]), device="cpu"))
    search = create_search(space, config, folder / space)
    try:
        archs = search.phases.policy_archs(0)[0][:steps]
        task, child = search.data.task, config.child
        stepped, counted = [], []
        for i, arch in enumerate(archs):
            start = time.perf_counter()
            search.phases.shared_batch(0, i, arch)
            stepped.append(time.perf_counter() - start)
            start = time.perf_counter()
            count_cost(arch, task, child)
            counted.append(time.perf_counter() - start)
    finally:
        search.store.close()
    step_ms, count_ms = 1000 * statistics.median(stepped), 1000 * statistics.median(counted)
    return [space, f"{config.enas.batch_size}", f"{step_ms:.0f}", f"{count_ms:.0f}", f"{100 * count_ms / step_ms:.0f}%"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--spaces", default="enas_macro,enas_micro,conv,nb201,enas_rnn")
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(space, args.steps, Path(tmp)) for space in args.spaces.split(",")]
    print(markdown_table(["space", "minibatch", "shared step, ms", "counting a new child, ms",
                          "overhead per step (uncached)"], rows))
    print("\n".join(machine_lines()) + f"; load average {os.getloadavg()[0]:.1f} at the end, "
          f"median of {args.steps} steps")


if __name__ == "__main__":
    main()
