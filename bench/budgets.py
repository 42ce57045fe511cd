"""Constrained search on NAS-Bench-201 (issue 20, item 5): random, evolution and reinforce under
parameter budgets, against the best cell within each budget in the table (the constrained optimum).

    python bench/budgets.py                 # 100 runs per strategy and budget, CIFAR-10 at 12,000 simulated s
    python bench/budgets.py --runs 10       # a smaller check
    python bench/budgets.py --real          # the real-data latency part instead (bench/budgets_real.py)

Per budget (0.3M, 0.5M, 0.8M parameters, the table's params column), one `nascli compare` (the library
calls the command makes) with `--max-params`; each run's chosen cell is looked up at 200 epochs. Checks:
every chosen cell is within its budget; evolution and reinforce within 0.3 points of the constrained
optimum and above constrained random. Results: bench/results/budgets.txt and budgets.json. The figures
are of simulated clocks and table lookups, so they do not depend on the machine's load.
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
DATASET, TIME_BUDGET = "cifar10", 12000.0


def constrained_optimum(table, limit: int) -> tuple[str, float]:
    """The cell with the best 200-epoch test accuracy among those within `limit` parameters."""
    best = None
    for arch in table.archs():
        seen = table.observe(arch, DATASET, 12)
        if seen.params_m is not None and round(seen.params_m * 1e6) <= limit:
            test = table.test_accuracy(arch, DATASET, 200)
            if best is None or test > best[1]:
                best = (arch, test)
    return best


def chosen_params(outcome) -> int | None:
    from nascli.runs import RunStore

    with RunStore.open_readonly(outcome.path) as store:
        chosen = [c for c in store.children("done") if c.id == outcome.child_id]
    return chosen[0].params if chosen else None


def run_budget(budget: str, runs: int, workers: int, folder: Path, table) -> dict:
    from nascli.budget import parse_count
    from nascli.compare import ComparisonPlan, compare_table, complete
    from nascli.search.options import SearchOptions

    limit = parse_count(budget)
    options = SearchOptions(space="nb201", benchmark="nb201", benchmark_dataset=DATASET, time_budget=TIME_BUDGET,
                            max_params=budget, seed=0)
    plan = ComparisonPlan(folder / budget, options, STRATEGIES, runs, 0)
    start = time.perf_counter()
    failures = complete(plan, workers)
    if failures:
        raise SystemExit(f"{len(failures)} runs failed, e.g. {failures[0]}")
    result = compare_table(plan)
    arch, optimum = constrained_optimum(table, limit)
    rows = {}
    for row in result.rows:
        outcomes = result.outcomes[row.strategy]
        over = sum((chosen_params(o) or 0) > limit for o in outcomes)
        rows[row.strategy] = {"runs": row.runs, "test_mean": row.test.mean, "test_std": row.test.std,
                              "gap": optimum - row.test.mean, "over_budget": over,
                              "queries": sum(o.queries for o in outcomes) / len(outcomes)}
    return {"budget": budget, "limit": limit, "optimum": optimum, "optimum_arch": arch, "rows": rows,
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
    lines = [f"NAS-Bench-201 {DATASET}, {TIME_BUDGET:,.0f} simulated s, {runs} runs per strategy and budget; "
             "test accuracy (200 epochs) of the cell each run chose by validation, %",
             f"{'budget':>7} {'optimum':>8} " + " ".join(f"{s:>22}" for s in STRATEGIES)]
    for r in results:
        cells = " ".join(f"{r['rows'][s]['test_mean']:>7.2f} ± {r['rows'][s]['test_std']:.2f} (-{r['rows'][s]['gap']:.2f})"
                         for s in STRATEGIES)
        lines.append(f"{r['budget']:>7} {r['optimum']:>8.2f} {cells}")
    for r in results:
        lines += [f"{r['budget']}: " + t for t in targets(r)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--real", action="store_true", help="run the real-data latency part (budgets_real.py)")
    args, rest = parser.parse_known_args()
    if args.real:
        from budgets_real import main as real_main

        return real_main(rest)
    from nascli.benchmarks import get_benchmark

    table = get_benchmark("nb201").table()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_budget(b, args.runs, args.workers, Path(tmp), table) for b in BUDGETS]
    text = report(results, args.runs) + f"\nload average before: {load[0]:.1f}"
    print(text)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    suffix = "" if args.runs >= 100 else f"-{args.runs}"
    (out / f"budgets{suffix}.txt").write_text(text + "\n")
    (out / f"budgets{suffix}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
