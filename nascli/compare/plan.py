"""A comparison folder: the settings it was made with, and one ordinary run folder per (strategy, seed).

    DIR/compare.json          the search options every run shares, and the sha256 of the space's text
    DIR/<strategy>/seed-<S>/  a run folder, as `nascli search --run-dir` makes it

Running the same comparison again completes it: a missing run is started, a
stopped one resumed, a finished one left as it is. More runs (`--runs`) or
another strategy add folders; other search options are another comparison,
which the folder refuses, naming what differs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import RunError
from ..runs import RunStore
from ..runs.checkpoint import write_atomic
from ..space import load_space, read_space_text
from ..search.options import SearchOptions

PLAN_FILE = "compare.json"
PLAN_VERSION = 1
# Options that are the comparison's own, not its runs': each run gets its strategy and seed, and trains
# its children one at a time (compare's --workers runs whole searches in parallel instead).
PER_RUN = ("strategy", "seed", "workers")


def shared_options(options: SearchOptions) -> dict:
    """The options every run of the comparison shares, as JSON-ready values."""
    values = dataclasses.asdict(options)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items() if k not in PER_RUN}


@dataclass(frozen=True)
class RunSlot:
    strategy: str
    seed: int
    path: Path

    def state(self) -> str:
        """absent, finished, or another run state (stopped, running...) to resume from."""
        if not (self.path / "run.db").is_file():
            return "absent"
        with RunStore.open_readonly(self.path) as store:
            return store.summary().state


@dataclass(frozen=True)
class ComparisonPlan:
    folder: Path
    options: SearchOptions  # the shared options; strategy and seed are set per run
    strategies: tuple[str, ...]
    runs: int
    first_seed: int

    @property
    def identity(self) -> dict:
        space = load_space(self.options.space)
        text = read_space_text(space.source)
        return {"version": PLAN_VERSION, "space_sha256": hashlib.sha256(text.encode()).hexdigest(),
                "options": shared_options(self.options)}

    def slots(self) -> list[RunSlot]:
        return [RunSlot(s, seed, self.folder / s / f"seed-{seed}")
                for s in self.strategies for seed in range(self.first_seed, self.first_seed + self.runs)]

    def run_options(self, slot: RunSlot) -> SearchOptions:
        return dataclasses.replace(self.options, strategy=slot.strategy, seed=slot.seed, workers=None)

    def open(self) -> None:
        """Make the folder, or check that it holds this comparison (RunError naming what differs)."""
        wanted = self.identity
        path = self.folder / PLAN_FILE
        if path.is_file():
            try:
                found = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise RunError(f"unreadable {PLAN_FILE}: {err}", where=str(path)) from None
            if found != wanted:
                raise RunError(f"the folder holds a comparison made with other settings ({_difference(found, wanted)}); "
                               "use another --run-dir", where=str(self.folder))
            return
        if self.folder.exists() and any(self.folder.iterdir()):
            raise RunError(f"not a comparison folder (no {PLAN_FILE}) and not empty", where=str(self.folder))
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(wanted, indent=2).encode())


def _difference(found: dict, wanted: dict) -> str:
    if found.get("space_sha256") != wanted["space_sha256"]:
        return "another version of the space file"
    old, new = found.get("options", {}), wanted["options"]
    changed = [f"--{k.replace('_', '-')} {new.get(k)!r} (was {old.get(k)!r})"
               for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return ", ".join(changed) or f"{PLAN_FILE} version {found.get('version')}"


def default_folder(root: Path, options: SearchOptions) -> Path:
    """runs/compare-<space>-<hash of the shared options>: the same command finds its own folder again."""
    digest = hashlib.sha256(json.dumps(shared_options(options), sort_keys=True).encode()).hexdigest()[:8]
    return root / f"compare-{Path(options.space).stem}-{digest}"
