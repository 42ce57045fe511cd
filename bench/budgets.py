"""Constrained search on NAS-Bench-201 (issue 20, item 5): random, evolution and reinforce under
parameter budgets, against the best cell within each budget in the table (the constrained optimum).

    python bench/budgets.py                 # 100 runs per strategy and budget, CIFAR-10 at 12,000 simulated s
    python bench/budgets.py --runs 10       # a smaller check
    python bench/budgets.py --time-budget 48000 --runs 30   # the same at four times the simulated time

    python bench/budgets.py --front         # real data: the Pareto front after N children, drawn (below)
    python bench/budgets.py --real          # the real-data latency part instead (bench/budgets_real.py)

Per budget (0.3M, 0.5M, 0.8M parameters, the table's params column), one `nascli compare` (the library
calls the command makes) with `--max-params`; each run's chosen cell is looked up at 200 epochs. Checks:
every chosen cell is within its budget; evolution and reinforce within 0.3 points of the constrained
optimum and above constrained random. Beside the optimum, the "oracle" column: the cell an exhaustive search
would choose, querying every cell within the budget at the search's 12-epoch fidelity and keeping the best
validation: what choosing by that fidelity can reach at best, however many queries. Results: bench/results/budgets.txt and budgets.json. The figures
are of simulated clocks and table lookups, so they do not depend on the machine's load.

`--front` (issue 20 item 5, "the front after N children, drawn"): a real `random` search of conv.space on
cifar10-mini (../shared/data beside the repository) under `--max-params`, small enough to run in minutes on
2 loaded cores (FRONT below: children, epochs, images per epoch, the limit); then the Pareto front of
validation accuracy against parameters, listed (budget.pareto.child_front) and drawn by `nascli report
--cost params`'s own code (nascli.report.write_report): bench/results/budgets-front.txt and .png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's nascli

BUDGETS = ("0.3M", "0.5M", "0.8M")
STRATEGIES = ("random", "evolution", "reinforce")
DATASET, FIDELITY, TIME_BUDGET = "cifar10", 12, 12000.0


def within(table, limit: int) -> list[str]:
    """The table's cells with at most `limit` parameters."""
    cells = []
    for arch in table.archs():
        seen = table.observe(arch, DATASET, FIDELITY)
        if seen.params_m is not None and round(seen.params_m * 1e6) <= limit:
            cells.append(arch)
    return cells


def constrained_optimum(table, cells: list[str]) -> tuple[str, float]:
    """The cell with the best 200-epoch test accuracy among `cells`."""
    arch = max(cells, key=lambda a: table.test_accuracy(a, DATASET, 200))
    return arch, table.test_accuracy(arch, DATASET, 200)


def oracle(table, cells: list[str]) -> tuple[str, float]:
    """The cell with the best validation at the search's fidelity among `cells`, and its 200-epoch test."""
    arch = max(cells, key=lambda a: table.observe(a, DATASET, FIDELITY).valid)
    return arch, table.test_accuracy(arch, DATASET, 200)


def chosen_params(outcome) -> int | None:
    from nascli.runs import RunStore

    with RunStore.open_readonly(outcome.path) as store:
        chosen = [c for c in store.children("done") if c.id == outcome.child_id]
    return chosen[0].params if chosen else None


def run_budget(budget: str, runs: int, workers: int, folder: Path, table, time_budget: float) -> dict:
    from nascli.budget import parse_count
    from nascli.compare import ComparisonPlan, compare_table, complete
    from nascli.search.options import SearchOptions

    limit = parse_count(budget)
    options = SearchOptions(space="nb201", benchmark="nb201", benchmark_dataset=DATASET, time_budget=time_budget,
                            max_params=budget, seed=0)
    plan = ComparisonPlan(folder / budget, options, STRATEGIES, runs, 0)
    start = time.perf_counter()
    failures = complete(plan, workers)
    if failures:
        raise SystemExit(f"{len(failures)} runs failed, e.g. {failures[0]}")
    result = compare_table(plan)
    cells = within(table, limit)
    arch, optimum = constrained_optimum(table, cells)
    oracle_arch, oracle_test = oracle(table, cells)
    rows = {}
    for row in result.rows:
        outcomes = result.outcomes[row.strategy]
        over = sum((chosen_params(o) or 0) > limit for o in outcomes)
        rows[row.strategy] = {"runs": row.runs, "test_mean": row.test.mean, "test_std": row.test.std,
                              "gap": optimum - row.test.mean, "over_budget": over,
                              "queries": sum(o.queries for o in outcomes) / len(outcomes)}
    return {"budget": budget, "limit": limit, "cells": len(cells), "optimum": optimum, "optimum_arch": arch,
            "oracle": oracle_test, "oracle_arch": oracle_arch, "time_budget": time_budget, "rows": rows,
            "wall_s": time.perf_counter() - start}


def targets(result: dict) -> list[str]:
    rows, lines = result["rows"], []
    lines.append(f"every chosen cell within {result['budget']}: "
                 f"{'met' if all(r['over_budget'] == 0 for r in rows.values()) else 'MISSED'}")
    for name in ("evolution", "reinforce"):
        r = rows[name]
        ok = r["gap"] <= 0.3 and r["test_mean"] > rows["random"]["test_mean"]
        lines.append(f"{name} {r['test_mean']:.2f}: {r['gap']:.2f} below the optimum {result['optimum']:.2f} (<= 0.3), "
                     f"above random {rows['random']['test_mean']:.2f}: {'met' if ok else 'MISSED'}")
    return lines


def report(results: list[dict], runs: int) -> str:
    lines = [f"NAS-Bench-201 {DATASET}, {results[0]['time_budget']:,.0f} simulated s, {runs} runs per strategy and "
             "budget; test accuracy (200 epochs) of the cell each run chose by validation, %; oracle: the best "
             f"{FIDELITY}-epoch validation of every cell in the budget",
             f"{'budget':>7} {'cells':>6} {'optimum':>8} {'oracle':>7} " + " ".join(f"{s:>22}" for s in STRATEGIES)]
    for r in results:
        cells = " ".join(f"{r['rows'][s]['test_mean']:>7.2f} ± {r['rows'][s]['test_std']:.2f} (-{r['rows'][s]['gap']:.2f})"
                         for s in STRATEGIES)
        lines.append(f"{r['budget']:>7} {r['cells']:>6} {r['optimum']:>8.2f} {r['oracle']:>7.2f} {cells}")
    for r in results:
        lines += [f"{r['budget']}: " + t for t in targets(r)]
    return "\n".join(lines)


# The real-data front: N children of conv.space on cifar10-mini, each trained one short epoch
FRONT = {"children": 20, "epochs": 1, "train_subset": 500, "max_params": "120k", "seed": 0}
MINI_CIFAR = HERE.parent.parent / "shared" / "data" / "cifar10-mini"  # beside the repository


def front_search(folder: Path, data_dir: Path, children: int) -> Path:
    """A random search of conv.space on real CIFAR-10 under --max-params, as `nascli search` makes it."""
    from nascli.search.options import SearchOptions, search_config
    from nascli.search.runs import create_search

    options = SearchOptions(space="conv", strategy="random", dataset="cifar10", data_dir=data_dir, budget=children,
                            epochs=FRONT["epochs"], train_subset=FRONT["train_subset"],
                            max_params=FRONT["max_params"], seed=FRONT["seed"])
    search = create_search("conv", search_config(options), folder / "front")
    try:
        search.run()
    finally:
        search.store.close()
    return search.store.path


def front_lines(run: Path) -> list[str]:
    """The run's Pareto front (validation accuracy vs params) as a Markdown table, and what it was made of."""
    from nascli.budget.pareto import child_front
    from nascli.budget.units import format_count
    from nascli.runs import RunStore

    with RunStore.open_readonly(run) as store:
        children, counts = store.children(), store.counts()
    front = child_front(children, "params")
    lines = [f"{counts['done']} trained children ({counts['failed']} failed, {counts['refused']} refused by "
             f"--max-params {FRONT['max_params']}); the front has {len(front)}:", "",
             "| child | valid accuracy | params | MACs | seconds |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {c.id} | {100 * c.metric:.1f}% | {format_count(c.params)} | {format_count(c.macs)} | {c.seconds:.0f} |"
              for c in front]
    return lines


def front_part(children: int, data_dir: Path) -> None:
    from nascli.report import ReportConfig, write_report

    if not (data_dir / "cifar-10-batches-py").is_dir():
        raise SystemExit(f"{data_dir} holds no cifar-10-batches-py/ (--data-dir names another copy)")
    load, start = os.getloadavg(), time.perf_counter()
    out = HERE / "results"
    with tempfile.TemporaryDirectory() as tmp:
        run = front_search(Path(tmp), data_dir, children)
        lines = front_lines(run)
        write_report([run], out / "budgets-front.png", ReportConfig(cost="params"))
    settings = ", ".join(f"{k} {v}" for k, v in FRONT.items() if k != "children")
    head = (f"conv.space, random search of {children} children on cifar10-mini ({settings}), "
            f"validation accuracy vs parameters; {time.perf_counter() - start:.0f} s wall, "
            f"load average {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    text = "\n".join([head, ""] + lines + ["", "drawn: bench/results/budgets-front.png"])
    print(text)
    (out / "budgets-front.txt").write_text(text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--time-budget", type=float, default=TIME_BUDGET, help="simulated seconds per run")
    parser.add_argument("--front", action="store_true", help="only the real-data front (see the docstring)")
    parser.add_argument("--children", type=int, default=FRONT["children"], help="--front: children to train")
    parser.add_argument("--data-dir", type=Path, default=MINI_CIFAR, help="--front: a folder with cifar-10-batches-py/")
    parser.add_argument("--real", action="store_true", help="run the real-data latency part (budgets_real.py)")
    args, rest = parser.parse_known_args()
    if args.front:
        return front_part(args.children, args.data_dir)
    if args.real:
        from budgets_real import main as real_main

        return real_main(rest)
    from nascli.benchmarks import get_benchmark

    table = get_benchmark("nb201").table()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_budget(b, args.runs, args.workers, Path(tmp), table, args.time_budget) for b in BUDGETS]
    text = report(results, args.runs) + f"\nload average before: {load[0]:.1f}"
    print(text)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    suffix = ("" if args.runs >= 100 else f"-{args.runs}") + \
        ("" if args.time_budget == TIME_BUDGET else f"-{args.time_budget:.0f}s")
    (out / f"budgets{suffix}.txt").write_text(text + "\n")
    (out / f"budgets{suffix}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
