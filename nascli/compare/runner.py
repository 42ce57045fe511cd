"""Complete a comparison: run every missing or unfinished search of the plan, `workers` at a time.

Each search is an ordinary `create_search` (or `resume_search`) in a worker
process of a spawned pool; a worker runs one search after another, so it
imports torch and loads a benchmark table once. Torch gets one thread per
worker: a controller's steps are small ops, for which a second thread costs
more than it gives. A search that fails (a NasError) is reported and the others
go on; stopping the comparison (Ctrl-C) leaves each run resumable, and running
the comparison again completes them.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

from ..errors import NasError
from .plan import ComparisonPlan, RunSlot

Task = tuple[object, str, str]  # (SearchOptions, run folder, its state: absent or the state to resume from)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_slot(task: Task) -> tuple[str, str | None]:
    """Start or resume one search and run it to its end; (its folder, None or why it failed)."""
    from ..search.options import search_config
    from ..search.runs import create_search, resume_search

    options, path, state = task
    try:
        job = create_search(options.space, search_config(options), path) if state == "absent" else resume_search(path)
        try:
            job.run()
        finally:
            job.close()
            job.store.close()
    except NasError as error:
        return path, str(error)
    return path, None


def complete(plan: ComparisonPlan, workers: int,
             progress: Callable[[int, int], None] | None = None) -> list[tuple[str, str]]:
    """Run what the plan lacks; returns the failures as (run folder, reason)."""
    plan.open()
    tasks: list[Task] = [(plan.run_options(slot), str(slot.path), state) for slot in plan.slots()
                         if (state := slot.state()) != "finished"]
    failures: list[tuple[str, str]] = []
    done = 0
    if progress:
        progress(0, len(tasks))
    results = _inline(tasks) if workers == 1 or len(tasks) <= 1 else _pooled(tasks, workers)
    for path, problem in results:
        done += 1
        if problem is not None:
            failures.append((path, problem))
        if progress:
            progress(done, len(tasks))
    return failures


def _inline(tasks: list[Task]):
    from ..threads import single_thread

    for task in tasks:
        with single_thread():
            result = run_slot(task)
        yield result


def _pooled(tasks: list[Task], workers: int):
    context = multiprocessing.get_context("spawn")  # no fork of a process that holds torch's threads
    with context.Pool(min(workers, len(tasks)), initializer=_init_worker) as pool:
        yield from pool.imap_unordered(run_slot, tasks, chunksize=max(1, min(8, len(tasks) // (4 * workers))))


def slot_paths(plan: ComparisonPlan) -> dict[str, list[RunSlot]]:
    """The plan's runs, by strategy."""
    by: dict[str, list[RunSlot]] = {}
    for slot in plan.slots():
        by.setdefault(slot.strategy, []).append(slot)
    return by
