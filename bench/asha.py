"""ASHA (`--rungs 12,200`) against full-fidelity search on NAS-Bench-201 at equal simulated time (issue 21).

    python bench/asha.py                 # 200 runs per strategy and setting, CIFAR-10 and CIFAR-100
    python bench/asha.py --runs 20       # a smaller check
    python bench/asha.py --real          # real training on cifar10-mini instead: bench/asha_real.py (its options)

Per dataset, three `nascli compare`s (the library calls the command makes) at
3 x 10^5 simulated seconds: **full**, random and evolution at full fidelity
(`--fidelity 200`: every child trained 200 epochs, chosen by 200-epoch
validation); **asha**, random, evolution and REINFORCE with ASHA (`--rungs
12,200 --eta 3`: every child 12 epochs, the top third continued to 200, chosen
by 200-epoch validation among those that reached it), learning from each
child's 12-epoch score (`--rung-score first`, the default); **asha-highest**,
evolution and REINFORCE learning from the highest rung each child reached
(`--rung-score highest`; random learns nothing, so its runs would be asha's).
Each run is scored by the table's 200-epoch test accuracy of the cell it
chose. The target: ASHA reaches the final mean test accuracy of full-fidelity
random in at most half its simulated time, and is at least as good at the end.
Simulated clocks and seeded searches: the figures do not depend on the
machine. Results go to bench/results/asha.txt.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's nascli

BUDGET = 300_000.0
PAIR = ("random", "evolution")  # the pair
LEARNERS = ("evolution", "reinforce")  # the strategies whose choices depend on the score they learn from
# setting -> (the search options it sets, the strategies run with it). `asha-highest` learns from the highest rung
# reached instead of the first (--rung-score highest); random learns nothing, so its runs would be `asha`'s again.
SETTINGS = {"full": ({"fidelity": 200}, PAIR), "asha": ({"rungs": "12,200", "eta": 3}, ("random", *LEARNERS)),
            "asha-highest": ({"rungs": "12,200", "eta": 3, "rung_score": "highest"}, LEARNERS)}


def _plan(dataset: str, setting: str, runs: int, folder: Path):
    from nascli.compare import ComparisonPlan
    from nascli.search.options import SearchOptions

    chosen, strategies = SETTINGS[setting]
    options = SearchOptions(space="nb201", benchmark="nb201", benchmark_dataset=dataset, time_budget=BUDGET,
                            seed=0, **chosen)
    return ComparisonPlan(folder / dataset / setting, options, strategies, runs, 0)


def _mean_curve(outcomes, times: list[float]) -> list[float | None]:
    """The mean over runs of the test accuracy of each run's incumbent at each time (None before all have one)."""
    means = []
    for t in times:
        values = [next((v for c, v in reversed(o.curve) if c <= t), None) for o in outcomes]
        means.append(None if None in values or not values else sum(values) / len(values))
    return means


def _first_time(times: list[float], curve: list[float | None], level: float) -> float | None:
    # a mean summed in another order than compare's may differ from it in the last bits
    return next((t for t, v in zip(times, curve) if v is not None and v >= level - 1e-9), None)


def _dataset(dataset: str, runs: int, workers: int, folder: Path) -> list[str]:
    from nascli.compare.runner import complete
    from nascli.compare.summary import compare_table

    tables = {}
    for setting in SETTINGS:
        plan = _plan(dataset, setting, runs, folder)
        failures = complete(plan, workers)
        if failures:
            raise SystemExit(f"{dataset} {setting}: {len(failures)} runs failed: {failures[:3]}")
        tables[setting] = compare_table(plan)
    times = [BUDGET * i / 200 for i in range(1, 201)]
    lines = [f"## {dataset}, {BUDGET:,.0f} simulated s, {runs} runs each", "",
             "| strategy | setting | runs | test % (mean ± std) | valid % | children per run | "
             "time to full-fidelity random's final test |", "| --- | --- | --- | --- | --- | --- | --- |"]
    target = next(r.test.mean for r in tables["full"].rows if r.strategy == "random")
    for setting, table in tables.items():
        for row in table.rows:
            outcomes = table.outcomes[row.strategy]
            reach = _first_time(times, _mean_curve(outcomes, times), target)
            queries = sum(o.queries for o in outcomes) / len(outcomes)
            lines.append(f"| {row.strategy} | {setting} | {row.runs} | {row.test.mean:.2f} ± {row.test.std:.2f} | "
                         f"{row.valid.mean:.2f} | {queries:.0f} | "
                         f"{'never' if reach is None else f'{reach:,.0f} s ({reach / BUDGET:.0%})'} |")
    return lines + ["", *_score_rule_lines(tables["asha-highest"], tables["asha"]), ""]


def _score_rule_lines(highest, first) -> list[str]:
    """Per strategy run both ways: `--rung-score highest` − `first` on the chosen cells' test accuracy, with
    Welch's p (as `nascli compare` gives against random)."""
    from nascli.compare.stats import welch_p

    lines = []
    for strategy in [s for s in highest.outcomes if s in first.outcomes]:
        a, b = ([o.test for o in table.outcomes[strategy]] for table in (highest, first))
        p = welch_p(a, b)
        lines.append(f"{strategy}: asha-highest − asha, test %: {sum(a) / len(a) - sum(b) / len(b):+.2f}"
                     + ("" if p is None else f", Welch's p = {p:.2f}"))
    return lines


def main() -> None:
    if "--real" in sys.argv[1:]:  # the real-data part, with its own options
        from asha_real import main as real_main
        return real_main([a for a in sys.argv[1:] if a != "--real"])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--folder", type=Path, default=Path("runs/bench-asha"))
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout
    lines = [f"# bench/asha.py --runs {args.runs} (commit {commit.strip()}, load average {os.getloadavg()[0]:.1f})", ""]
    for dataset in ("cifar10", "cifar100"):
        lines += _dataset(dataset, args.runs, args.workers, args.folder)
    text = "\n".join(lines)
    print(text)
    out = HERE / "results" / ("asha.txt" if args.runs >= 200 else f"asha-{args.runs}.txt")
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
