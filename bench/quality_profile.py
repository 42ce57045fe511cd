"""Where a benchmark search's time goes, per query: bench/quality.py's cost breakdown.

Runs `runs` complete CIFAR-10 searches (12,000 simulated s) per strategy in this
process, on one thread, with timers around each stage; a stage called inside
another timed one counts for the outer one only. Stages:
- propose, update: the strategy's own work (propose and log_probs; update and update_async);
- lookup: the table query of each child (BenchmarkExecutor);
- store: SQLite reads and writes of the run store (rows, steps, meta);
- checkpoint: the strategy's state_dict, packing, torch.save and the atomic write;
- setup: the options checked, the run folder built (config, space, database, first checkpoint);
- close: the store and executor closed;
- loop: the rest (job building, the clock, the search loop itself).
Then once: a worker process's start-up (interpreter, imports) and the table's first load.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

STORE_METHODS = ("add_children", "mark_running", "finish_child", "fail_child", "record_step", "requeue",
                 "children", "set_meta", "get_meta", "meta_number", "last_step", "steps")
STRATEGY_METHODS = {"propose": "propose", "log_probs": "propose", "update": "update", "update_async": "update"}
STAGES = ("propose", "update", "lookup", "store", "checkpoint", "setup", "close", "loop")


class _Timers:
    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.depth = 0

    def wrap(self, stage: str, fn):
        def timed(*args, **kwargs):
            if self.depth:
                return fn(*args, **kwargs)
            self.depth += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start
                self.depth -= 1
        return timed


@contextmanager
def _patched(timers: _Timers):
    from nascli.runs.store import RunStore
    from nascli.search import loop
    from nascli.search.benchmark_executor import BenchmarkExecutor

    saved = []

    def patch(owner, name, stage):
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, timers.wrap(stage, getattr(owner, name)))

    for name in STORE_METHODS:
        patch(RunStore, name, "store")
    patch(loop.Search, "_checkpoint", "checkpoint")
    patch(BenchmarkExecutor, "next_result", "lookup")
    patch(BenchmarkExecutor, "cost", "lookup")
    original = loop.initial_strategy

    def timed_strategy(config, compiled):
        strategy = original(config, compiled)
        for name, stage in STRATEGY_METHODS.items():
            setattr(strategy, name, timers.wrap(stage, getattr(strategy, name)))
        return strategy

    saved.append((loop, "initial_strategy", original))
    loop.initial_strategy = timed_strategy
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


def _profile(strategy: str, runs: int, root: Path) -> dict:
    from nascli.runs import RunStore
    from nascli.search.options import SearchOptions, search_config
    from nascli.search.runs import create_search

    timers, queries = _Timers(), 0
    wall, cpu = 0.0, 0.0
    with _patched(timers):
        for seed in range(9_999, 10_000 + runs):  # the first is a warm-up, not counted
            if seed == 10_000:
                timers.seconds.clear()
            start, start_cpu = time.perf_counter(), time.process_time()
            options = SearchOptions(space="nb201", strategy=strategy, benchmark="nb201", time_budget=12000.0,
                                    seed=seed)
            job = timers.wrap("setup", lambda: create_search("nb201", search_config(options), root / f"{strategy}-{seed}"))()
            job.run()
            timers.wrap("close", lambda: (job.close(), job.store.close()))()
            if seed < 10_000:
                continue
            with RunStore.open_readonly(job.store.path) as store:
                queries += store.counts()["done"]
            wall += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
    stages = dict(timers.seconds)
    stages["loop"] = wall - sum(stages.values())
    return {"runs": runs, "queries_per_run": queries / runs, "wall_s_per_run": wall / runs, "cpu_s_per_run": cpu / runs,
            "ms_per_query": {k: 1000 * stages.get(k, 0.0) / queries for k in STAGES}}


def _once() -> dict:
    from nascli.benchmarks import shipped_table_path
    from nascli.benchmarks.table import _load

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import nascli.search.runs, nascli.compare"], check=True,
                   cwd=Path(__file__).resolve().parents[1])
    startup = time.perf_counter() - start
    path = shipped_table_path()
    start = time.perf_counter()
    _load.__wrapped__(str(path), path.stat().st_mtime_ns, path.stat().st_size)  # uncached: a fresh process's load
    return {"worker_startup_s": startup, "table_load_s": time.perf_counter() - start}


def profile_strategies(strategies: tuple[str, ...], runs: int) -> dict:
    import os

    import torch

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="nascli-profile-"))
    load = os.getloadavg()
    try:
        found = {s: _profile(s, runs, root) for s in strategies}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    once = _once()
    lines = [f"## Cost per query (CIFAR-10, 12,000 simulated s; {runs} runs per strategy profiled in one process, "
             f"one thread; load average {load[0]:.1f})", "",
             "| strategy | queries per run | wall s per run | CPU s per run | ms per query: "
             + " | ".join(STAGES) + " |", "|" + " --- |" * (4 + len(STAGES))]
    for name, f in found.items():
        parts = " | ".join(f"{f['ms_per_query'][stage]:.2f}" for stage in STAGES)
        lines.append(f"| {name} | {f['queries_per_run']:.1f} | {f['wall_s_per_run']:.3f} | {f['cpu_s_per_run']:.3f} | "
                     f"{parts} |")
    lines += ["", f"once per worker process: start-up (interpreter and imports) {once['worker_startup_s']:.2f} s, "
                  f"the table's first load {once['table_load_s']:.2f} s"]
    return {"strategies": found, "once": once, "load": load, "text": "\n".join(lines)}
