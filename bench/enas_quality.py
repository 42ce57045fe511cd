"""Parts 4 and 5 of bench/enas.py: what ENAS finds at equal compute, and how well its scores rank.

4. Quality at equal compute: `enas`, `reinforce` and `random` searches of enas_macro on
   cifar10-mini, each given the same budget of process CPU seconds on one thread
   (reinforce / random: one child per controller step, stopped after the child that crosses
   the budget; ENAS: a fixed small schedule sized to about the budget, its CPU seconds printed),
   then each run's best child retrained from scratch with one small recipe and measured once on
   the test split. Mean ± std over the seeds per strategy.
5. Kendall τ (nascli.fidelity.run_study) of the seed-0 ENAS run and the seed-0 reinforce run:
   K children retrained stand-alone against their search-time scores, with the bootstrap interval.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from children import markdown_table, mean_std  # bench/ is on sys.path
from nascli.children import ChildConfig
from nascli.data.spec import DataSpec
from nascli.errors import RunError
from nascli.fidelity.study import run_study
from nascli.runs import RunStore, best_child
from nascli.runs.fidelity import FidelitySettings
from nascli.search.enas.config import EnasConfig, enas_controller
from nascli.search.loop import SearchConfig, SearchEvent
from nascli.search.retrain import retrain
from nascli.search.runs import create_search
from nascli.train import RewardConfig, TrainConfig

SPACE = "enas_macro"
STRATEGIES = ("enas", "reinforce", "random")


@dataclasses.dataclass(frozen=True)
class QualityConfig:
    budget_cpu: float  # CPU seconds per search
    seeds: int
    scratch_subset: int  # reinforce / random: training images per child epoch (1 epoch, no augmentation)
    enas: dict  # EnasConfig changes sized to about budget_cpu
    enas_derived: int  # children ENAS derives (its search budget)
    retrain_subset: int  # the retrain recipe: training images per epoch
    retrain_epochs: int
    fidelity_children: int  # K; the study's recipe below differs from scratch_subset's proxy, else a
    # reinforce run's children would be retrained exactly as the search trained them (τ = 1 by construction)
    fidelity_epochs: int
    fidelity_subset: int


FULL = QualityConfig(budget_cpu=40, seeds=3, scratch_subset=128,
                     enas=dict(epochs=7, train_subset=256, controller_steps=2, controller_aggregate=10,
                               derive_subset=100), enas_derived=15,
                     retrain_subset=512, retrain_epochs=1, fidelity_children=5, fidelity_epochs=2, fidelity_subset=256)
QUICK = QualityConfig(budget_cpu=4, seeds=1, scratch_subset=16,
                      enas=dict(epochs=1, train_subset=16, controller_steps=1, controller_aggregate=2,
                                derive_subset=20), enas_derived=3,
                      retrain_subset=32, retrain_epochs=1, fidelity_children=3, fidelity_epochs=1, fidelity_subset=16)


class _BudgetSpent(Exception):
    """Raised from the search's observer after the step whose child crossed the CPU budget."""


def _config(strategy: str, seed: int, cfg: QualityConfig, data_dir: Path) -> SearchConfig:
    data = DataSpec(name="cifar10", data_dir=str(data_dir))
    if strategy == "enas":
        return SearchConfig(strategy="enas", data=data, budget=cfg.enas_derived, seed=seed,
                            controller=enas_controller("macro"), enas=EnasConfig.for_family("macro", **cfg.enas))
    return SearchConfig(strategy=strategy, data=data, budget=10_000, batch=1, seed=seed,
                        train=TrainConfig(epochs=1, train_subset=cfg.scratch_subset, augment=False, seed=seed),
                        reward=RewardConfig(last_epochs=1))


def search(strategy: str, seed: int, cfg: QualityConfig, data_dir: Path, run_dir: Path) -> float:
    """Run one search into run_dir; its process CPU seconds (data loading included for every strategy)."""
    start = time.process_time()
    job = create_search(SPACE, _config(strategy, seed, cfg, data_dir), run_dir)

    def stop_at_budget(event: SearchEvent) -> None:
        if event.kind == "step_finished" and time.process_time() - start >= cfg.budget_cpu:
            raise _BudgetSpent

    try:
        job.run(None if strategy == "enas" else stop_at_budget)
    except _BudgetSpent:
        job.finish()
    finally:
        job.store.close()
    return time.process_time() - start


def retrain_best(run_dir: Path, cfg: QualityConfig, data_dir: Path, out_dir: Path) -> tuple[float, int, float]:
    """Test accuracy of the run's best child retrained from scratch, the run's child count, and the retrain CPU-s."""
    best = best_child(run_dir)  # as `nascli eval --best` picks it
    with RunStore.open_readonly(run_dir) as store:
        children = store.counts()["done"]
    start = time.process_time()
    data = DataSpec(name="cifar10", data_dir=str(data_dir)).load()
    train = TrainConfig(epochs=cfg.retrain_epochs, train_subset=cfg.retrain_subset, seed=0)
    result = retrain(best.arch, data, "cifar10", train, ChildConfig(), out_dir)
    return result.metric, children, time.process_time() - start


def part4(cfg: QualityConfig, data_dir: Path, workdir: Path) -> list[list[str]]:
    measured: dict[str, list[tuple[float, float, int, float]]] = {s: [] for s in STRATEGIES}
    for seed in range(cfg.seeds):
        for strategy in STRATEGIES:  # alternate strategies seed by seed, so machine load hits all alike
            run_dir = workdir / f"{strategy}-{seed}"
            cpu = search(strategy, seed, cfg, data_dir, run_dir)
            accuracy, children, retrain_cpu = retrain_best(run_dir, cfg, data_dir, workdir / f"retrain-{strategy}-{seed}")
            measured[strategy].append((cpu, accuracy, children, retrain_cpu))
            print(f"{strategy} seed {seed}: search {cpu:.1f} CPU-s, {children} children, "
                  f"best retrained test accuracy {accuracy:.4f} ({retrain_cpu:.1f} CPU-s)", flush=True)
    rows = []
    for strategy, runs in measured.items():
        rows.append([strategy, str(len(runs)), mean_std([r[0] for r in runs], 1),
                     f"{statistics.mean(r[2] for r in runs):.1f}", mean_std([r[1] for r in runs])])
    return rows


def part5(cfg: QualityConfig, workdir: Path) -> list[list[str]]:
    settings = FidelitySettings(children=cfg.fidelity_children, epochs=cfg.fidelity_epochs,
                                train_subset=cfg.fidelity_subset)
    rows = []
    for strategy in ("enas", "reinforce"):
        start = time.process_time()
        try:
            result = run_study(workdir / f"{strategy}-0", settings)
        except RunError as error:  # too few distinct children within the budget: say so in the table
            rows.append([strategy, "", "", str(error), "", ""])
            continue
        tau, rho = result.kendall_tau, result.spearman_rho
        retrained = sum(p.standalone_metric is not None for p in result.pairs)
        rows.append([strategy, str(result.finished), str(retrained), _fmt(tau), _fmt(rho),
                     f"{time.process_time() - start:.0f}"])
        print(" | ".join(rows[-1]), flush=True)
    return rows


def _fmt(c) -> str:
    if c.value is None:
        return "undefined"
    return f"{c.value:+.2f} [{c.low:+.2f}, {c.high:+.2f}]"


def run_parts(parts: set[str], quick: bool, data_dir: Path) -> list[str]:
    """Markdown tables of the requested parts (4, 5; 5 reuses 4's seed-0 runs)."""
    cfg = QUICK if quick else FULL
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        rows = part4(cfg, data_dir, Path(tmp))
        out.append(f"Quality at equal compute: {SPACE} on cifar10-mini, {cfg.budget_cpu:.0f} CPU-s per search on one "
                   f"thread; best child retrained {cfg.retrain_epochs} epoch(s) on {cfg.retrain_subset} images, "
                   f"test accuracy on the 1,017 test images (mean ± std over {cfg.seeds} seeds)")
        out.append(markdown_table(["strategy", "seeds", "search CPU-s", "children per run",
                                   "retrained best: test accuracy"], rows))
        if "5" in parts:
            out.append(f"Kendall τ / Spearman ρ of the seed-0 runs: K={cfg.fidelity_children} children retrained "
                       f"{cfg.fidelity_epochs} epoch(s) on {cfg.fidelity_subset} images, 95% bootstrap intervals")
            out.append(markdown_table(["run", "children recorded", "retrained", "Kendall τ [95%]",
                                       "Spearman ρ [95%]", "study CPU-s"], part5(cfg, Path(tmp))))
    return out
