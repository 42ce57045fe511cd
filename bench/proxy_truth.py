"""Which proxy can a user trust? Kendall τ of nascli's search-time scores against NAS-Bench-201's truth.

For each proxy, one real search of spaces/nb201.space on cifar10-mini, then
`nascli fidelity RUN --truth nb201` (nascli.fidelity.truth.truth_study): every
finished child's search-time validation accuracy ranked against the table's
cifar10_valid_200 (200 epochs of NAS-Bench-201's own training), with 95%
bootstrap intervals. Nothing is retrained.

- the default CPU proxy at several budgets: `nascli search nb201 --dataset cifar10
  --data-dir ../shared/data/cifar10-mini --strategy random --epochs E --budget N`
  (400 training images per epoch, scored on the 508 validation images). The same
  seed samples the same architectures at every E, so the budgets rank one set;
  the largest E trains only the first `--budget-long` of them (it costs the most),
  and the table also gives every proxy's τ on those common architectures;
- ENAS after its default schedule: `nascli search nb201 --strategy enas --budget N`
  on the same data (2 epochs of shared weights, then N children derived from the
  policy, each scored on the validation split with the shared weights).

Each search runs as its own `python -m nascli` process on one thread (OMP_NUM_THREADS=1,
--cpus-per-child 1); CPU seconds are the process's user + system time. A run
folder already finished under --workdir is reused, so a stopped benchmark
resumes. Run from the repository root:

    nice -n 10 python bench/proxy_truth.py                  # about 40 CPU-minutes
    nice -n 10 python bench/proxy_truth.py --quick          # a minute: checks it works
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]  # bench/ helpers and this checkout's nascli, from anywhere
from children import machine_lines, markdown_table  # noqa: E402
from nascli.fidelity.study import rank_correlations  # noqa: E402
from nascli.fidelity.truth import truth_study  # noqa: E402
from nascli.runs import RunStore  # noqa: E402
from nascli.runs.fidelity import FidelitySettings, TruthResult  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "cifar10-mini"
HEADER = ["proxy", "children (architectures)", "Kendall τ [95%]", "Spearman ρ [95%]", "τ on the common set",
          "search's pick: table valid_200", "best of the run (table)", "CPU-s"]


@dataclasses.dataclass(frozen=True)
class ProxyTruthConfig:
    epochs: tuple[int, ...] = (1, 3, 10)  # the from-scratch budgets, epochs per child
    budget: int = 40  # children per from-scratch budget (the longest: budget_long) and derived by ENAS
    budget_long: int = 24  # children at the largest budget: its first `budget_long` architectures
    seed: int = 0
    enas: tuple[str, ...] = ()  # extra `nascli search` options for ENAS (the default schedule: none)
    data_dir: Path = DATA


QUICK = ProxyTruthConfig(epochs=(1, 2), budget=4, budget_long=3,
                         enas=("--epochs", "1", "--train-subset", "128", "--controller-steps", "1"))


def _search(run: Path, args: list[str], data_dir: Path) -> float:
    """One `nascli search nb201` into `run` on one thread (reused when finished); its CPU seconds."""
    if (run / "run.db").exists():
        with RunStore.open_readonly(run) as store:
            if store.state == "finished":
                return float(store.get_meta("bench_cpu_seconds") or "nan")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [sys.executable, "-m", "nascli", "search", "nb201", "--dataset", "cifar10", "--data-dir",
               str(data_dir), "--cpus-per-child", "1", "--run-dir", str(run), *args]
    if (run / "run.db").exists():  # stopped half-way: go on
        command = [sys.executable, "-m", "nascli", "search", "--resume", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with RunStore.open(run) as store:
        store.set_meta("bench_cpu_seconds", cpu)
    return cpu


def _interval(c) -> str:
    return "undefined" if c.value is None else f"{c.value:+.2f} [{c.low:+.2f}, {c.high:+.2f}]"


def _common_tau(truth: TruthResult, common: set[str], settings: FidelitySettings) -> str:
    pairs = [p for p in truth.pairs if p.tokens in common]
    if len(pairs) < 3:
        return "-"
    tau = rank_correlations([p.search_metric for p in pairs], [p.truth for p in pairs], settings)["kendall_tau"]
    return f"{_interval(tau)} (n={len(pairs)})"


def _runs(cfg: ProxyTruthConfig) -> dict[str, list[str]]:
    """proxy label -> `nascli search` options."""
    runs = {}
    for epochs in cfg.epochs:
        n = cfg.budget_long if epochs == max(cfg.epochs) else cfg.budget
        runs[f"from scratch, {epochs} epoch{'s' * (epochs > 1)} × 400 images"] = [
            "--strategy", "random", "--epochs", str(epochs), "--budget", str(n), "--seed", str(cfg.seed)]
    runs["ENAS, default schedule"] = ["--strategy", "enas", "--budget", str(cfg.budget), "--seed", str(cfg.seed),
                                      *cfg.enas]
    return runs


def proxy_truth_rows(cfg: ProxyTruthConfig, workdir: Path) -> list[list[str]]:
    """The table (rows under HEADER): every proxy's τ and ρ against cifar10_valid_200."""
    settings = FidelitySettings(seed=cfg.seed)
    measured: dict[str, tuple[TruthResult, float]] = {}
    for k, (label, args) in enumerate(_runs(cfg).items()):
        start = time.perf_counter()
        cpu = _search(workdir / f"run-{k}", args, cfg.data_dir)
        measured[label] = (truth_study(workdir / f"run-{k}", "nb201", "cifar10", settings), cpu)
        print(f"{label}: {cpu:.0f} CPU-s ({time.perf_counter() - start:.0f} s wall), "
              f"τ {_interval(measured[label][0].kendall_tau)}", flush=True)
    scratch = [truth for label, (truth, _) in measured.items() if not label.startswith("ENAS")]
    common = set.intersection(*({p.tokens for p in t.pairs} for t in scratch))
    rows = []
    for label, (truth, cpu) in measured.items():
        rows.append([label, f"{truth.finished} ({len(truth.pairs)})", _interval(truth.kendall_tau),
                     _interval(truth.spearman_rho), "-" if label.startswith("ENAS") else _common_tau(truth, common, settings),
                     f"{truth.chosen.truth:.2f}", f"{truth.best.truth:.2f}", f"{cpu:.0f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run that checks the script works")
    parser.add_argument("--budget", type=int, help="children per proxy (default 40)")
    parser.add_argument("--budget-long", type=int, help="children at the largest epoch budget (default 24)")
    parser.add_argument("--epochs", type=lambda s: tuple(int(e) for e in s.split(",")), help="e.g. 1,3,10")
    parser.add_argument("--data-dir", type=Path, help=f"cifar10 folder (default {DATA})")
    parser.add_argument("--workdir", type=Path, help="keep the run folders here (finished ones are reused)")
    args = parser.parse_args()
    cfg = QUICK if args.quick else ProxyTruthConfig()
    changes = {k: v for k, v in (("budget", args.budget), ("budget_long", args.budget_long), ("epochs", args.epochs),
                                 ("data_dir", args.data_dir)) if v is not None}
    cfg = dataclasses.replace(cfg, **changes)
    print("\n".join(machine_lines()))
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {cfg}", flush=True)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = proxy_truth_rows(cfg, workdir)
    print(markdown_table(HEADER, rows))
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"wall {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
