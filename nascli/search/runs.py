"""Starting and resuming searches: the library calls behind `nascli search`."""

from __future__ import annotations

from pathlib import Path
from ..runs import RUNS_ROOT, RunStore, default_run_dir, find_run, run_space
from ..space import load_space
from ..space.compiler import compile_space
from .executor import make_executor
from .loop import Search, SearchConfig


def _search(config: SearchConfig, compiled, store: RunStore, data):
    """The loop that runs `config.strategy`: ENAS's phases, or the loop of trained children."""
    if config.strategy == "enas":
        from .enas.search import EnasSearch

        return EnasSearch(config, compiled, store, data)
    return Search(config, compiled, store, make_executor(config.data, data, config.workers))


def create_search(space_ref: str | Path, config: SearchConfig, run_dir: str | Path | None = None) -> Search:
    """A new run folder for `space_ref`, ready to `run()`."""
    space = load_space(space_ref)
    data = config.data.load()  # fail on a missing dataset before the run folder exists
    path = Path(run_dir) if run_dir is not None else default_run_dir(RUNS_ROOT)
    text = Path(space.source).read_text(encoding="utf-8")
    store = RunStore.create(path, config.model_dump(mode="json"), text, space.sha256)
    return _search(config, compile_space(space), store, data)


def resume_search(run_ref: str | Path, budget: int | None = None, workers: int | None = None) -> Search:
    """The search of an existing run, to continue where it stopped; `budget` may extend it."""
    store = RunStore.open(find_run(run_ref))
    try:
        # config.json keeps the options the run started with; what a resume changed lives in meta
        override = store.get_meta("config_override")
        config = SearchConfig.model_validate_json(override) if override else SearchConfig.model_validate(store.config)
        update = {k: v for k, v in (("budget", budget), ("workers", workers)) if v is not None}
        if update:
            config = config.model_copy(update=update)
            store.set_meta("config_override", config.model_dump_json())
        compiled = run_space(store)
        return _search(config, compiled, store, config.data.load())
    except BaseException:
        store.close()
        raise
