"""Starting and resuming searches: the library calls behind `nascli search`."""

from __future__ import annotations

from pathlib import Path

from ..runs import RUNS_ROOT, RunStore, default_run_dir, find_run, run_space
from ..space import load_space, read_space_text
from ..space.compiler import compile_space
from ..train.checks import check_data
from .executor import make_executor
from .loop import Search, SearchConfig, checkpoint_state, initial_strategy


def create_search(space_ref: str | Path, config: SearchConfig, run_dir: str | Path | None = None) -> Search:
    """A new run folder for `space_ref`, ready to `run()` (an `EnasSearch` for strategy enas)."""
    space = load_space(space_ref)
    data = config.data.load()  # fail on a missing or too small dataset before the run folder exists
    check_data(data, config.train)
    path = Path(run_dir) if run_dir is not None else default_run_dir(RUNS_ROOT)
    text = read_space_text(space.source)
    compiled = compile_space(space)
    if config.strategy == "enas":
        from .enas.search import EnasSearch
        from .enas.supernet import space_family

        space_family(compiled)  # refuse a space whose children cannot share weights before the folder exists
        store = RunStore.create(path, config.model_dump(mode="json"), text, space.sha256)
        return EnasSearch(config, compiled, store, data)
    first = checkpoint_state(initial_strategy(config, compiled), updated_through=-1, proposed_through=-1)
    store = RunStore.create(path, config.model_dump(mode="json"), text, space.sha256, first)
    return Search(config, compiled, store, make_executor(config.data, data, config.workers))


def resume_search(run_ref: str | Path, budget: int | None = None, workers: int | None = None,
                  reset_controller: bool = False) -> Search:
    """The search of an existing run, to continue where it stopped; `budget` may extend it.

    `reset_controller` goes on with a fresh controller (see `Search`), e.g. when checkpoints/ is lost."""
    store = RunStore.open(find_run(run_ref))
    try:
        store.verify()
        # config.json keeps the options the run started with; what a resume changed lives in meta
        override = store.get_meta("config_override")
        config = SearchConfig.model_validate_json(override) if override else SearchConfig.model_validate(store.config)
        update = {k: v for k, v in (("budget", budget), ("workers", workers)) if v is not None}
        if update:
            config = config.model_copy(update=update)
            store.set_meta("config_override", config.model_dump_json())
        compiled = run_space(store)
        data = config.data.load()
        check_data(data, config.train)
        if config.strategy == "enas":
            from .enas.search import EnasSearch

            return EnasSearch(config, compiled, store, data)  # its checkpoints restore the whole state
        return Search(config, compiled, store, make_executor(config.data, data, config.workers),
                      reset_controller=reset_controller)
    except BaseException:
        store.close()
        raise
