"""ASHA against full fidelity on real data: nb201.space trained from scratch on cifar10-mini, equal wall-clock (issue 21).

    nice -n 10 python bench/asha_real.py              # 4 seeds x 480 s pairs (~34 min)
    nice -n 10 python bench/asha_real.py --seeds 1 --time-budget 60   # a quick check (asha-real-check.txt)
    python bench/asha.py --real ...                   # the same

For each seed, two real `nascli search spaces/nb201.space --strategy random`
runs on cifar10-mini with the same `--time-budget` (wall-clock seconds):
**full** trains every child `--epochs` epochs, **asha** uses `--rungs` and
`--eta` (each child trains the first rung; the top 1/eta go on from their
weights). The two runs of a seed run at the same time, one torch thread each,
so that they see the same load on a shared machine; the load average is
recorded before and after each pair. Each run's decision is its own: the best
child at its highest rung by validation (what `nascli eval --best` picks). The
chosen cell is judged by NAS-Bench-201's 200-epoch CIFAR-10 test accuracy
(the ground truth, mapped to the table as `nascli fidelity --truth nb201`
does). Children per CPU-hour use the search process's own CPU seconds
(os.wait4's rusage), not wall time. Wall-clock budgets: the figures depend on
the machine and its load. Results go to bench/results/asha-real.txt and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # this checkout's nascli

DATA = ROOT.parent / "shared" / "data" / "cifar10-mini"
DATASET = "cifar10"  # the table's column the chosen cells are judged by
TRUTH_EPOCHS = 200


@dataclass(frozen=True)
class RunResult:
    """One search's outcome, scored by the table."""

    seed: int
    setting: str
    chosen_id: int
    chosen_arch: str  # the table's arch string
    chosen_valid: float  # the validation accuracy (%) the search chose it by, at its highest rung
    chosen_test: float  # the table's 200-epoch test accuracy (%) of that cell
    best_trained_test: float  # the best table test accuracy among all the cells the run trained
    started: int  # children that began training (done + failed)
    per_rung: list[int]  # children that finished each rung (one entry without rungs)
    cpu_seconds: float
    wall_seconds: float
    load_before: float
    load_after: float


def per_cpu_hour(children: int, cpu_seconds: float) -> float:
    """Children per CPU-hour; a run that used no CPU time has no rate."""
    if cpu_seconds <= 0:
        raise ValueError("a rate per CPU-hour needs a positive CPU time")
    return children * 3600.0 / cpu_seconds


def search_command(setting: dict, seed: int, budget: float, train_subset: int, run_dir: Path) -> list[str]:
    """The `nascli search` command line of one run (one torch thread, the local backend)."""
    fidelity = (["--rungs", setting["rungs"], "--eta", str(setting["eta"])] if "rungs" in setting
                else ["--epochs", str(setting["epochs"])])
    return [sys.executable, "-m", "nascli", "search", "spaces/nb201.space", "--strategy", setting["strategy"],
            "--dataset", "cifar10", "--data-dir", os.path.relpath(DATA, ROOT), "--time-budget", str(budget),
            "--train-subset", str(train_subset), "--cpus-per-child", "1", "--workers", "1", "--seed", str(seed),
            "--run-dir", str(run_dir), *fidelity]


def run_pair(commands: dict[str, list[str]], logs: Path) -> dict[str, tuple[float, float]]:
    """Run the commands at the same time; each one's (CPU seconds, wall seconds), from its own rusage."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    logs.mkdir(parents=True, exist_ok=True)
    started, procs = time.monotonic(), {}
    for name, command in commands.items():
        with open(logs / f"{name}.log", "w") as log:
            procs[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    times = {}
    for name, proc in procs.items():
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{name}: the search exited {proc.returncode}; see {logs / f'{name}.log'}")
        times[name] = (usage.ru_utime + usage.ru_stime, time.monotonic() - started)
    return times


def score_run(run_dir: Path) -> dict:
    """The run's choice (eval --best's) scored by the table, and its children's counts."""
    from nascli.arch import decode
    from nascli.benchmarks import get_benchmark
    from nascli.runs import RunStore, best_child, run_space

    bench = get_benchmark("nb201")
    table = bench.table()
    chosen = best_child(run_dir)
    with RunStore.open_readonly(run_dir) as store:
        compiled, counts = run_space(store), store.counts()
        done = store.children("done")
        epochs = (store.config.get("rungs") or {}).get("epochs")
        rungs = store.rungs()
        valid = next(c.metric for c in done if c.id == chosen.child_id)
    trained = {bench.arch_key(decode(c.tokens, compiled)) for c in done}
    per_rung = ([sum(r.rung == i and r.status == "done" for r in rungs) for i in range(len(epochs))] if epochs
                else [len(done)])
    arch = bench.arch_key(chosen.arch)
    return {"chosen_id": chosen.child_id, "chosen_arch": arch, "chosen_valid": 100 * valid,
            "chosen_test": table.test_accuracy(arch, DATASET, TRUTH_EPOCHS),
            "best_trained_test": max(table.test_accuracy(a, DATASET, TRUTH_EPOCHS) for a in trained),
            "started": counts["done"] + counts["failed"], "per_rung": per_rung}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _pm(summary) -> str:
    return f"{summary.mean:.2f}" + ("" if summary.std is None else f" ± {summary.std:.2f}")


def setting_lines(results: list[RunResult], settings: dict[str, dict]) -> list[str]:
    """One table row per setting: the chosen cells' test accuracy (mean ± sd, per seed), the best trained
    cell's, children started per CPU-hour, children finishing each rung (mean per run), CPU and wall time."""
    from nascli.compare.stats import summarise

    lines = ["| setting | runs | chosen cell's test % (mean ± sd) | per seed | best trained cell's test % | "
             "children started per CPU-hour | children per rung (mean per run) | CPU s per run | wall s per run |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, setting in settings.items():
        mine = sorted((r for r in results if r.setting == name), key=lambda r: r.seed)
        if not mine:
            continue
        rate = per_cpu_hour(sum(r.started for r in mine), sum(r.cpu_seconds for r in mine))
        epochs = setting["rungs"].split(",") if "rungs" in setting else [str(setting["epochs"])]
        rungs = " / ".join(f"{e} ep: {_mean([r.per_rung[i] for r in mine]):.1f}" for i, e in enumerate(epochs))
        lines.append(f"| {name} | {len(mine)} | {_pm(summarise([r.chosen_test for r in mine]))} | "
                     f"{', '.join(f'{r.chosen_test:.2f}' for r in mine)} | "
                     f"{_pm(summarise([r.best_trained_test for r in mine]))} | {rate:.0f} | {rungs} | "
                     f"{_mean([r.cpu_seconds for r in mine]):.0f} | {_mean([r.wall_seconds for r in mine]):.0f} |")
    return lines


def difference_line(results: list[RunResult], a: str, b: str) -> str:
    """`a` − `b` on the chosen cells' test accuracy: Welch's p (as `nascli compare` gives) and the paired
    per-seed difference's mean with its 95% t interval (the two runs of a seed share the seed and the load)."""
    from nascli.compare.stats import summarise, welch_p

    by_seed = {(r.setting, r.seed): r.chosen_test for r in results}
    seeds = sorted(s for (name, s) in by_seed if name == a and (b, s) in by_seed)
    if not seeds:
        return f"{a} − {b}: no seed has both"
    p = welch_p([by_seed[a, s] for s in seeds], [by_seed[b, s] for s in seeds])
    paired = summarise([by_seed[a, s] - by_seed[b, s] for s in seeds])
    ci = "" if paired.ci95 is None else f", 95% CI [{paired.ci95[0]:+.2f}, {paired.ci95[1]:+.2f}]"
    welch = "" if p is None else f"; Welch's p = {p:.2f}"
    return f"{a} − {b}, chosen cell's test %: paired mean {paired.mean:+.2f} over {len(seeds)} seeds{ci}{welch}"


def load_line(results: list[RunResult]) -> str:
    loads = [v for r in results for v in (r.load_before, r.load_after)]
    return f"load average (1 min) before/after each pair: {min(loads):.1f} to {max(loads):.1f}"


SETTINGS = {"full": {"strategy": "random", "epochs": 3}, "asha": {"strategy": "random", "rungs": "1,3", "eta": 3}}


def _pair(seed: int, settings: dict, args) -> list[RunResult]:
    folder = args.folder / f"seed{seed}"
    commands = {name: search_command(s, seed, args.time_budget, args.train_subset, folder / name)
                for name, s in settings.items()}
    before = os.getloadavg()[0]
    times = run_pair(commands, folder)
    after = os.getloadavg()[0]
    return [RunResult(seed=seed, setting=name, cpu_seconds=times[name][0], wall_seconds=times[name][1],
                      load_before=before, load_after=after, **score_run(folder / name)) for name in settings]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="seeds (pairs of runs)")
    parser.add_argument("--time-budget", type=float, default=480.0, help="wall-clock seconds of every run")
    parser.add_argument("--train-subset", type=int, default=400, help="training images per epoch per child")
    parser.add_argument("--folder", type=Path, default=ROOT / "runs" / "bench-asha-real")
    args = parser.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout
    results = []
    for seed in range(args.seeds):
        results += _pair(seed, SETTINGS, args)
        print(f"seed {seed}: " + ", ".join(f"{r.setting} {r.chosen_test:.2f}" for r in results[-2:]), flush=True)
    setup = (f"random search on nb201.space, cifar10-mini, {args.time_budget:.0f} wall-clock s per run, "
             f"--train-subset {args.train_subset}, one torch thread; full: --epochs {SETTINGS['full']['epochs']}; "
             f"asha: --rungs {SETTINGS['asha']['rungs']} --eta {SETTINGS['asha']['eta']}")
    lines = [f"# bench/asha_real.py --seeds {args.seeds} --time-budget {args.time_budget:g} "
             f"(commit {commit.strip()}, {load_line(results)})", "", setup, "",
             *setting_lines(results, SETTINGS), "", difference_line(results, "asha", "full")]
    text = "\n".join(lines)
    print(text)
    name = "asha-real" if args.seeds >= 3 else "asha-real-check"
    (HERE / "results" / f"{name}.txt").write_text(text + "\n")
    (HERE / "results" / f"{name}.json").write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")


if __name__ == "__main__":
    main()
