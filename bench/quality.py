"""Search quality on NAS-Bench-201, as the benchmark's paper measures it, and what it costs (issue 18, item 6).

    python bench/quality.py                      # 500 runs per strategy, both datasets: the README's table
    python bench/quality.py --runs 50 --quick    # a smaller check

Per dataset (CIFAR-10 at 12,000 simulated s, CIFAR-100 at 20,000 s), one
`nascli compare` (the library calls the command makes) of every registered
strategy among random, reinforce and evolution: `--runs` runs each, seeds
0 ... runs - 1, rewarded by the 12-epoch validation accuracy, scored by the
200-epoch test accuracy of the cell each run chose by validation. Prints the
table against the paper's rows and targets, the anytime plots
(bench/results/anytime-DATASET.png), the wall and CPU time of each dataset's
comparison (with the load average before and after), and, from a profiled
sample of runs in this process, each strategy's seconds per query and where
they go. Results go to bench/results/quality.txt and quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's nascli

# The paper's rows (NAS-Bench-201, ICLR 2020): test accuracy of the chosen cell, % (mean, std). CIFAR-10 from
# the data README; CIFAR-100 as issue 18 quotes them (means only).
PAPER = {"cifar10": {"random": (93.70, 0.36), "reinforce": (93.85, 0.37), "evolution": (93.92, 0.30)},
         "cifar100": {"random": (71.04, None), "reinforce": (71.71, None), "evolution": (71.84, None)}}
BUDGETS = {"cifar10": 12000.0, "cifar100": 20000.0}
WANTED = ("random", "reinforce", "evolution")  # those registered in nascli/search/strategies.py are compared


def _strategies() -> tuple[str, ...]:
    from nascli.search.strategies import STRATEGIES

    return tuple(s for s in WANTED if s in STRATEGIES)


def _plan(dataset: str, runs: int, folder: Path):
    from nascli.compare import ComparisonPlan
    from nascli.search.options import SearchOptions

    options = SearchOptions(space="nb201", benchmark="nb201", benchmark_dataset=dataset,
                            time_budget=BUDGETS[dataset], seed=0)
    return ComparisonPlan(folder / dataset, options, _strategies(), runs, 0)


def _targets(dataset: str, table) -> list[str]:
    rows = {r.strategy: r for r in table.rows}
    lines = []
    for name, row in rows.items():
        paper, _ = PAPER[dataset][name]
        mean = row.test.mean
        if name == "random":
            ok = abs(mean - paper) <= 0.15
            lines.append(f"random {mean:.2f} within 0.15 of the paper's {paper:.2f}: {'met' if ok else 'MISSED'}")
        else:
            ok = mean >= paper and (name != "reinforce" or (row.p_vs_random is not None and row.p_vs_random < 0.01))
            extra = f", p vs random {row.p_vs_random:.2g} < 0.01" if name == "reinforce" else ""
            lines.append(f"{name} {mean:.2f} >= the paper's {paper:.2f}{extra}: {'met' if ok else 'MISSED'}")
    return lines


def _compare(dataset: str, runs: int, workers: int, folder: Path, suffix: str = "") -> dict:
    from nascli.compare import compare_table, complete, plot_anytime

    plan = _plan(dataset, runs, folder)
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), _cpu()
    failures = complete(plan, workers)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    if failures:
        raise SystemExit(f"{len(failures)} runs failed, e.g. {failures[0]}")
    table = compare_table(plan)
    png = plot_anytime(plan, table, HERE / "results" / f"anytime-{dataset}{suffix}.png")
    return {"dataset": dataset, "budget_s": BUDGETS[dataset], "runs": runs, "table": table.as_json(),
            "queries": {s: sum(o.queries for o in outs) / len(outs) for s, outs in table.outcomes.items()},
            "targets": _targets(dataset, table), "plot": str(png.relative_to(HERE.parent)),
            "wall_s": wall, "cpu_s": cpu, "workers": workers, "load_before": load_before, "load_after": os.getloadavg(),
            "title": table.title}


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the pool's workers, once joined)."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def _paper(row: tuple[float, float | None]) -> str:
    return f"{row[0]:.2f}" + (f" ± {row[1]:.2f}" if row[1] is not None else "")


def _header() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=HERE.parent).stdout.strip() or "?"
    except OSError:
        commit = "?"
    return (f"# python bench/quality.py on commit {commit}, {time.strftime('%Y-%m-%d %H:%M')}, "
            f"{os.cpu_count()} cores; quality figures are deterministic, timings depend on the machine's load\n")


def _report(results: list[dict], profile: dict | None) -> str:
    lines = [_header()]
    for r in results:
        lines.append(f"## {r['title']}: {r['runs']} runs per strategy")
        lines.append("| strategy | runs | test % (mean ± std) | 95% CI | valid % (mean ± std) | p vs random | "
                     "queries per run | the paper |")
        lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, row in r["table"]["strategies"].items():
            paper = PAPER[r["dataset"]][name]
            p = "-" if row["p_vs_random"] is None else f"{row['p_vs_random']:.2g}"
            lines.append(f"| {name} | {row['runs']} | {row['test_mean']:.2f} ± {row['test_std']:.2f} | "
                         f"{row['test_ci95'][0]:.2f} to {row['test_ci95'][1]:.2f} | {row['valid_mean']:.2f} ± "
                         f"{row['valid_std']:.2f} | {p} | {r['queries'][name]:.1f} | {_paper(paper)} |")
        lines += ["", *[f"- {t}" for t in r["targets"]], ""]
        lines.append(f"cost: {r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} CPU-s for {r['runs'] * len(r['queries'])} "
                     f"runs on {r['workers']} workers; load average {r['load_before'][0]:.1f} before, "
                     f"{r['load_after'][0]:.1f} after (1-minute)")
        lines.append("")
    if profile:
        lines.append(profile["text"])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--datasets", default="cifar10,cifar100")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--profile-runs", type=int, default=20, help="runs per strategy profiled in-process")
    parser.add_argument("--keep", type=Path, help="keep the comparison folders here (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="write results as quality-quick.*")
    parser.add_argument("--profile-only", action="store_true", help="only the cost per query (quality-profile.*)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from quality_profile import profile_strategies

    folder = args.keep or Path(tempfile.mkdtemp(prefix="nascli-quality-"))
    (HERE / "results").mkdir(exist_ok=True)
    try:
        suffix = "-quick" if args.quick else ""  # a check's plots do not replace the full run's
        results = [] if args.profile_only else [_compare(ds, args.runs, args.workers, folder, suffix)
                                                for ds in args.datasets.split(",")]
        profile = profile_strategies(_strategies(), args.profile_runs) if args.profile_runs else None
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    text = _report(results, profile)
    print(text)
    stem = "quality-profile" if args.profile_only else "quality-quick" if args.quick else "quality"
    (HERE / "results" / f"{stem}.txt").write_text(text + "\n")
    (HERE / "results" / f"{stem}.json").write_text(json.dumps({"results": results, "profile": profile}, indent=2))


if __name__ == "__main__":
    main()
