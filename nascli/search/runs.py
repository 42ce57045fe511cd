"""Starting and resuming searches: the library calls behind `nascli search`."""

from __future__ import annotations

from pathlib import Path

from ..budget.cost import search_coster
from ..errors import RunError
from ..runs import RUNS_ROOT, RunStore, default_run_dir, find_run, run_space
from ..runs.metrics import CHANCE_KEY, chance_of
from ..space import load_space, read_space_text
from ..space.compiler import compile_space
from ..train.checks import check_data
from ..train.device import resolve_device
from .benchmark_executor import BenchmarkExecutor
from .executor import Executor, make_executor
from .loop import Search, SearchConfig, checkpoint_state, initial_strategy


def _device(config: SearchConfig) -> str:
    """The device children train on, checked here; a Ray cluster's GPUs need not be on this machine."""
    if config.executor.backend == "ray" and config.executor.address and config.device != "auto":
        return config.device
    return resolve_device(config.device)


def _executor(config: SearchConfig, data) -> Executor:
    """The executor the config asks for, on its device (checked before anything starts), with no more
    workers than children can be in flight at once."""
    if config.benchmark is not None:
        return BenchmarkExecutor(config.benchmark)
    m = config.budget if config.async_k else min(config.batch, config.budget or config.batch)
    in_flight = {}
    if m is not None:  # with only a time budget, an asynchronous search has no such bound
        flag = f"--batch {config.batch}" if m == config.batch and not config.async_k else f"--budget {config.budget}"
        in_flight = {f"at most {m} {'child is' if m == 1 else 'children are'} in flight at once ({flag})": m}
    return make_executor(config.data, data, config.executor, config.workers, _device(config), in_flight)


def record_chance(store: RunStore, data) -> None:
    """Keep the run's chance level (and validation size) in its meta, for `show`, `report` and the live view;
    a benchmark run has no data (its children are looked up), so none."""
    if data is None:
        return
    valid = data.valid_y if hasattr(data, "valid_y") else data.valid
    store.set_meta(CHANCE_KEY, chance_of(data.task, len(valid)).dumps())


def _load_data(config: SearchConfig):
    """The run's data, checked; a benchmark search reads none (its children are looked up)."""
    if config.benchmark is not None:
        return None
    data = config.data.load()
    check_data(data, config.train)
    return data


def _coster(config: SearchConfig, store: RunStore, data, executor: Executor):
    """What checks each proposal against the run's limits (None: it has none); see budget/cost.py."""
    query = executor.query if isinstance(executor, BenchmarkExecutor) else None
    return search_coster(config, store, None if data is None else data.task, query)


def create_search(space_ref: str | Path, config: SearchConfig, run_dir: str | Path | None = None) -> Search:
    """A new run folder for `space_ref`, ready to `run()` (an `EnasSearch` for strategy enas)."""
    space = load_space(space_ref)
    compiled = compile_space(space)
    looked_up = None
    if config.benchmark is not None:  # a space or table the benchmark refuses: before the run folder exists
        looked_up = BenchmarkExecutor(config.benchmark)
        looked_up.query.check_space(compiled)
    data = _load_data(config)  # fail on a missing or too small dataset, or a missing device, before the run folder exists
    config = config.model_copy(update={"device": "cpu" if config.benchmark else _device(config)})  # records cpu/cuda
    if config.executor.backend == "ray" and config.strategy != "enas":
        from .ray_executor import probe

        probe(config.executor.address)  # an unreachable cluster is refused before the run folder exists
    path = Path(run_dir) if run_dir is not None else default_run_dir(RUNS_ROOT)
    text = read_space_text(space.source)
    if config.strategy == "enas":
        from .enas.search import EnasSearch, check_enas_memory
        from .enas.supernet import search_depth, space_family

        # refuse a space whose children cannot share weights (ops, sizes), or are too large, before the folder exists
        space_family(compiled, search_depth(compiled, config.enas.depth if config.enas else None), data.task)
        check_enas_memory(config, compiled, data.task)
        store = RunStore.create(path, config.model_dump(mode="json"), text, space.sha256)
        record_chance(store, data)
        return EnasSearch(config, compiled, store, data)
    first = checkpoint_state(initial_strategy(config, compiled), updated_through=-1, proposed_through=-1)
    # a benchmark run is redone in a second: no fsyncs (exact resume after kill -9 holds; see checkpoint.py)
    store = RunStore.create(path, config.model_dump(mode="json"), text, space.sha256, first,
                            durable=config.benchmark is None)
    try:
        record_chance(store, data)
        executor = looked_up or _executor(config, data)
        return Search(config, compiled, store, executor, coster=_coster(config, store, data, executor))
    except BaseException:
        store.close()
        raise


def resume_search(run_ref: str | Path, budget: int | None = None, workers: int | None = None,
                  device: str | None = None, executor: dict | None = None,
                  reset_controller: bool = False, time_budget: float | None = None) -> Search:
    """The search of an existing run, to continue where it stopped; `budget` and `time_budget` may
    extend it, and `workers`, `device` and `executor` (ExecutorConfig fields) say where the rest trains.

    `reset_controller` goes on with a fresh controller (see `Search`), e.g. when checkpoints/ is lost."""
    store = RunStore.open(find_run(run_ref))
    try:
        store.verify()
        # config.json keeps the options the run started with; what a resume changed lives in meta
        override = store.get_meta("config_override")
        config = SearchConfig.model_validate_json(override) if override else SearchConfig.model_validate(store.config)
        if budget is not None and budget < store.samples:
            raise RunError(f"--budget {budget} is below the {store.samples} children the run already has; --budget "
                           f"is the new total: give more than {store.samples} to extend it", where=str(store.path))
        update = {k: v for k, v in (("budget", budget), ("workers", workers), ("device", device),
                                    ("time_budget", time_budget)) if v is not None}
        if executor:
            update["executor"] = config.executor.model_copy(update=executor)
        if update:
            config = config.model_copy(update=update)
            store.set_meta("config_override", config.model_dump_json())
        store.durable = config.benchmark is None
        compiled = run_space(store)
        data = _load_data(config)
        if store.get_meta(CHANCE_KEY) is None:  # a run made before chance levels were recorded
            record_chance(store, data)
        if config.strategy == "enas":
            from .enas.search import EnasSearch, check_enas_memory

            check_enas_memory(config, compiled, data.task)
            return EnasSearch(config, compiled, store, data)  # its checkpoints restore the whole state
        executor = _executor(config, data)
        return Search(config, compiled, store, executor, reset_controller=reset_controller,
                      coster=_coster(config, store, data, executor))
    except BaseException:
        store.close()
        raise
