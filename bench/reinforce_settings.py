"""The search for REINFORCE settings that suit a benchmark's short budgets (item 4 of issue 18).

Each setting runs `--seeds` complete `nascli search nb201 --benchmark nb201` searches (the library calls
`search` makes, real run folders in a temporary directory) at `--time-budget` simulated seconds on
`--dataset`, and prints the mean, std and standard error of the 200-epoch test accuracy of the child each
chose by validation, and the mean number of queries. Settings are `key=value,...` over the search options
(controller_lr, baseline_decay, batch, entropy_weight, reward_power, temperature, tanh_constant,
controller_hidden, ...), e.g.

    python bench/reinforce_settings.py --dataset cifar10 --seeds 100 \
        "controller_lr=6e-4" "controller_lr=0.01,batch=2,baseline_decay=0.8"

Found on CIFAR-10 only; docs/strategies.md records the search and checks the result on CIFAR-100.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's nascli


def _setting(text: str) -> dict:
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    kinds = {"strategy": str, "controller_preset": str, "batch": int, "controller_hidden": int, "controller_layers": int}
    return {k: kinds.get(k, float)(v) for k, v in pairs}


def _one(task: tuple[dict, str, float, int, str]) -> tuple[float, float, int, float]:
    import torch

    torch.set_num_threads(1)
    from nascli.compare.outcome import run_outcome
    from nascli.search.options import SearchOptions, search_config
    from nascli.search.runs import create_search

    setting, dataset, budget, seed, root = task
    folder = Path(root) / f"{abs(hash(json.dumps(setting, sort_keys=True)))}-{seed}"
    start = time.process_time()
    options = SearchOptions(space="nb201", strategy=setting.get("strategy", "reinforce"), benchmark="nb201",
                            benchmark_dataset=dataset, time_budget=budget, seed=seed,
                            **{k: v for k, v in setting.items() if k != "strategy"})
    job = create_search("nb201", search_config(options), folder)
    try:
        job.run()
    finally:
        job.close()
        job.store.close()
    outcome = run_outcome(folder)
    shutil.rmtree(folder)
    return outcome.test, outcome.valid, outcome.queries, time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", nargs="+")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--time-budget", type=float, default=None, help="default: 12000 (cifar10), 20000 (else)")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=1000, help="tuning seeds, apart from the reported 0..499")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    budget = args.time_budget or (12000.0 if args.dataset == "cifar10" else 20000.0)
    root = tempfile.mkdtemp(prefix="reinforce-settings-")
    context = multiprocessing.get_context("spawn")
    try:
        with context.Pool(args.workers) as pool:
            for text in args.settings:
                setting = _setting(text)
                tasks = [(setting, args.dataset, budget, args.first_seed + s, root) for s in range(args.seeds)]
                results = pool.map(_one, tasks, chunksize=4)
                tests = [r[0] for r in results]
                row = {"setting": text or "default", "dataset": args.dataset, "runs": len(tests),
                       "test_mean": statistics.mean(tests), "test_std": statistics.stdev(tests),
                       "test_se": statistics.stdev(tests) / math.sqrt(len(tests)),
                       "valid_mean": statistics.mean(r[1] for r in results),
                       "queries": statistics.mean(r[2] for r in results),
                       "cpu_s_per_run": statistics.mean(r[3] for r in results)}
                print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
