"""What one finished (or stopped) run of a comparison found: the child it chose, and its best so far over time.

A run chooses its child by validation: the best reward (on a benchmark, the
reward is the validation accuracy at the search's fidelity to a positive
power, so the best reward is the best validation). On a benchmark the chosen
child's *reported* figures are looked up afterwards (benchmarks/query.py's
`chosen_result`): the table's test accuracy and validation accuracy at its
full fidelity (200 epochs for NAS-Bench-201), in percent. On real data there
is no test figure: the chosen child's search-time validation score is what a
run reports (accuracies in percent, perplexities as they are).

The anytime curve walks the children in the order they finished; the clock is
the sum of their `seconds` (simulated on a benchmark, training time on real
data), and each point is the best so far by validation, shown at its test
value on a benchmark (at its validation value on real data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..arch import decode
from ..benchmarks.query import BenchmarkConfig, chosen_result
from ..runs import ChildRecord, RunStore, run_space


@dataclass(frozen=True)
class RunOutcome:
    path: Path
    strategy: str
    seed: int
    state: str
    queries: int  # children finished (done or failed)
    child_id: int | None  # the chosen child; None when no child finished
    test: float | None  # benchmark: the table's test accuracy of the chosen child (%); real data: None
    valid: float | None  # benchmark: its validation at the table's full fidelity (%); real: its search-time score
    curve: list[tuple[float, float]] = field(default_factory=list)  # (clock s, reported value of the best so far)


def _score(metric: float, name: str | None) -> float:
    return metric * 100 if name and name.endswith("accuracy") else metric


def _events(store: RunStore) -> list[tuple[ChildRecord, int | None, float | None]]:
    """What finished, in order: (child, rung, seconds) per child, or with rungs per rung result (the child's
    record then carrying that rung's reward and metric, so a rung is judged at its own score)."""
    children = {c.id: c for c in store.children() if c.status in ("done", "failed")}
    rows = [r for r in store.rungs() if r.status != "running" and r.child_id in children]
    if not rows:
        ordered = sorted(children.values(), key=lambda c: (c.finished or 0.0, c.id))
        return [(c, None, c.seconds) for c in ordered]
    rows.sort(key=lambda r: (r.finished or 0.0, r.child_id, r.rung))
    status = {"done": "done", "failed": "failed"}
    return [(children[r.child_id].model_copy(update={"reward": r.reward, "metric": r.metric,
                                                      "status": status[r.status]}), r.rung, r.seconds) for r in rows]


def run_outcome(run_dir: str | Path) -> RunOutcome:
    """Read a run folder (read-only) into its outcome."""
    with RunStore.open_readonly(run_dir) as store:
        options, state = store.config, store.summary().state
        finished = _events(store)
        compiled = run_space(store) if options.get("benchmark") else None
    bench = BenchmarkConfig.model_validate(options["benchmark"]) if options.get("benchmark") else None
    clock, best, reported, curve = 0.0, None, None, []
    for child, rung, seconds in finished:
        clock += seconds or 0.0
        # the best at the highest rung reached (without rungs: the best reward), as store.best orders them
        if child.status == "done" and (best is None or (rung or 0, child.reward) > (best[1] or 0, best[0].reward)):
            best = (child, rung)
            reported = (chosen_result(bench, decode(child.tokens, compiled)).test if bench
                        else _score(child.metric, child.metric_name))
        if reported is not None:
            curve.append((clock, reported))
    best = best[0] if best else None
    queries = sum(1 for _, rung, _ in finished if not rung)
    test = valid = None
    if best is not None:
        if bench:
            looked = chosen_result(bench, decode(best.tokens, compiled))
            test, valid = looked.test, looked.valid
        else:
            valid = _score(best.metric, best.metric_name)
    return RunOutcome(path=Path(run_dir), strategy=options.get("strategy", "?"), seed=int(options.get("seed", 0)),
                      state=state, queries=queries, child_id=best.id if best else None, test=test,
                      valid=valid, curve=curve)
