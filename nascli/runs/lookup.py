"""Finding run folders: by name or path, the most recent one, and a run's best child.

The search writes run folders; `runs`, `show`, `report`, `export` and `eval`
find and read them through this module, without importing the search.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..arch import Architecture, decode
from ..benchmarks.query import BenchmarkConfig
from ..data.spec import DataSpec
from ..errors import RunError
from ..space import parse_space
from ..space.compiler import CompiledSpace, compile_space
from .records import RunSummary
from .store import DB_FILE, RunStore

if TYPE_CHECKING:
    from ..children import ChildConfig
    from ..train import RewardConfig, TrainConfig


def default_run_dir(root: str | Path = "runs", name: str | None = None) -> Path:
    """`root/<name>`, or `root/<YYYYmmdd-HHMMSS>` (suffixed -2, -3... if taken)."""
    if name:
        return Path(root) / name
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = Path(root) / stamp, 2
    while candidate.exists():
        candidate, n = Path(root) / f"{stamp}-{n}", n + 1
    return candidate


def list_runs(root: str | Path = "runs") -> list[RunSummary]:
    """Every run folder directly under `root`, by name; never raises for a broken run."""
    root = Path(root)
    if not root.is_dir():
        return []
    summaries = []
    # a dot-folder is a run still being built (see RunStore.create), or not a run
    for folder in sorted(p for p in root.iterdir() if (p / DB_FILE).is_file() and not p.name.startswith(".")):
        try:
            with RunStore.open_readonly(folder) as store:
                summaries.append(store.summary())
        except RunError as err:
            summaries.append(RunSummary(name=folder.name, path=folder, state="corrupt", problem=str(err)))
    return summaries


RUNS_ROOT = Path("runs")


def find_run(ref: str | Path | None, root: str | Path = RUNS_ROOT) -> Path:
    """A run folder by path or by name under `root`; None: the most recent run."""
    if ref is None:
        runs = sorted((r for r in list_runs(root) if r.state != "corrupt"), key=lambda r: r.created or 0)
        if not runs:
            raise RunError(f"no runs under {root}/; start one with `nascli search SPACE`")
        return Path(runs[-1].path)
    for candidate in (Path(ref), Path(root) / str(ref)):
        if (candidate / "run.db").is_file():
            return candidate
    raise RunError("not a run folder (no run.db)", where=str(ref))


def run_space(store: RunStore) -> CompiledSpace:
    """The space the run was started with (its own copy, so later edits don't matter)."""
    return compile_space(parse_space(store.space_text, str(store.path / "space.space")))


def eval_dir(arch_json: Path) -> Path:
    """Where `nascli eval ARCH.json` keeps its weights, arch.json and result.json."""
    return arch_json.parent / f"{arch_json.stem}-eval"


class BestChild(NamedTuple):
    """The best finished child of a run, decoded, with the settings it was trained with."""

    run: Path
    child_id: int
    arch: Architecture
    data: DataSpec
    child: ChildConfig
    train: TrainConfig
    benchmark: BenchmarkConfig | None = None  # a benchmark run: its children were looked up, not trained

    @property
    def eval_dir(self) -> Path:
        """Where `nascli eval --best` writes this child's retrained weights."""
        return self.run / "eval" / f"child-{self.child_id}"


class RunSettings(NamedTuple):
    """What a run's children were trained with, from its config.json."""

    data: DataSpec
    child: ChildConfig
    train: TrainConfig
    reward: RewardConfig


def run_settings(store: RunStore) -> RunSettings:
    from ..children import ChildConfig  # torch loads only for the commands that build the child
    from ..train import RewardConfig, TrainConfig

    options = store.config
    return RunSettings(DataSpec.model_validate(options["data"]), ChildConfig.model_validate(options.get("child", {})),
                       TrainConfig.model_validate(options.get("train", {})),
                       RewardConfig.model_validate(options.get("reward", {})))


def best_child(run_ref: str | Path | None, fits=None) -> BestChild:
    """The run's best finished child; with `fits` (ChildRecord -> reason it does not fit, or None), the
    best of those that fit (`eval --best --max-latency 3ms`)."""
    path = find_run(run_ref)
    with RunStore.open_readonly(path) as store:
        top = store.best(1) if fits is None else [c for c in store.children("done", order_by_reward=True)
                                                   if fits(c, store) is None][:1]
        if not top:
            within = "" if fits is None else " within the limits"
            raise RunError(f"the run has no finished child{within} yet", where=str(path))
        return _resolved(store, path, top[0])


def child_of_run(run_ref: str | Path | None, child_id: int) -> BestChild:
    """Child `child_id` of the run (`export --child 17`), which must have finished training."""
    path = find_run(run_ref)
    with RunStore.open_readonly(path) as store:
        found = [c for c in store.children() if c.id == child_id]
        if not found:
            raise RunError(f"the run has no child #{child_id} ({sum(store.counts().values())} children recorded)",
                           where=str(path))
        if found[0].status != "done":
            why = f": {found[0].error}" if found[0].error else ""
            raise RunError(f"child #{child_id} is {found[0].status}, not trained{why}", where=str(path))
        return _resolved(store, path, found[0])


def _resolved(store: RunStore, path: Path, record) -> BestChild:
    """A finished child of the run, decoded, with the run's settings (and its benchmark's, if any)."""
    settings = run_settings(store)
    bench = store.config.get("benchmark")
    rungs = store.config.get("rungs")
    if bench and rungs and record.rung is not None:  # chosen at the highest rung: by that fidelity's validation
        bench = {**bench, "fidelity": rungs["epochs"][record.rung]}
    return BestChild(path, record.id, decode(record.tokens, run_space(store)), settings.data, settings.child,
                     settings.train, BenchmarkConfig.model_validate(bench) if bench else None)
