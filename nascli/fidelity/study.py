"""Is a search's ranking worth anything? Retrain some of its children stand-alone and compare.

A study picks K of a run's finished children spread over its reward ranking,
trains each from scratch with the run's own data, child sizes, trainer and
reward definition (only the epochs, the training examples per epoch and the
seed change), scores it on the validation split exactly as the search scored
its children, and measures how well the search-time scores rank the
stand-alone ones (Kendall's τ-b, Spearman's ρ, bootstrap intervals). It reads
only the run store, so it works for every strategy; every retrain is saved as
it finishes and reused by a later study with the same settings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..arch import decode
from ..errors import RunError
from ..runs import ChildRecord, RunStore, find_run, run_settings, run_space
from ..runs.fidelity import (
    Correlation,
    FidelityResult,
    FidelitySettings,
    Pair,
    Retrained,
    load_retrained,
    save_fidelity,
    save_retrained,
)
from ..search.evaluate import ChildJob, run_child
from .stats import Interval, bootstrap, kendall_tau, spearman_rho

# Told after each child: its search record, its stand-alone result, and whether an earlier study's was reused.
Progress = Callable[[ChildRecord, Retrained, bool], None]


def choose_children(finished: list[ChildRecord], k: int) -> list[ChildRecord]:
    """K children at evenly spaced quantiles (0, 1/(K-1), ..., 1) of the reward ranking, best first.

    Architectures sampled more than once count once (their earliest record).
    """
    unique: dict[str, ChildRecord] = {}
    for child in sorted(finished, key=lambda c: c.id):
        unique.setdefault(child.tokens, child)
    ranked = sorted(unique.values(), key=lambda c: (-(c.reward or 0.0), c.id))
    if len(ranked) <= k:
        return ranked
    return [ranked[round(i * (len(ranked) - 1) / (k - 1))] for i in range(k)]


def _correlation(interval: Interval) -> Correlation:
    return Correlation(value=interval.value, low=interval.low, high=interval.high)


def interval_method(settings: FidelitySettings, over: str = "the retrained children") -> str:
    return f"{settings.confidence:.0%} percentile bootstrap over {over}, {settings.resamples} resamples, seed {settings.seed}"


def rank_correlations(x: list[float], y: list[float], settings: FidelitySettings) -> dict[str, Correlation]:
    """Kendall's τ-b and Spearman's ρ of two scorings, with bootstrap intervals from `settings`."""
    return {name: _correlation(bootstrap(fn, x, y, settings.seed, settings.resamples, settings.confidence))
            for name, fn in (("kendall_tau", kendall_tau), ("spearman_rho", spearman_rho))}


def _summarize(run: Path, store_facts: dict, settings: FidelitySettings, pairs: list[Pair]) -> FidelityResult:
    scored = [p for p in pairs if p.standalone_metric is not None]
    stats = rank_correlations([p.search_metric for p in scored], [p.standalone_metric for p in scored], settings)
    return FidelityResult(run=str(run), settings=settings, pairs=pairs, interval=interval_method(settings),
                          **store_facts, **stats)


def run_study(run_ref: str | Path | None, settings: FidelitySettings, progress: Progress | None = None,
              device: str = "cpu", amp: bool = False) -> FidelityResult:
    """Retrain the chosen children on `device` (reusing finished retrains), correlate, and save
    RUN/fidelity/fidelity.json."""
    path = find_run(run_ref)
    with RunStore.open_readonly(path) as store:
        compiled, trained = run_space(store), run_settings(store)
        finished = store.children("done")
        summary = store.summary()
    chosen = choose_children(finished, settings.children)
    if len(chosen) < 3:
        raise RunError(f"a ranking needs at least 3 finished children of different architectures; "
                       f"the run has {len(chosen)}", where=str(path))
    data = trained.data.load()
    train = trained.train.model_copy(update={"epochs": settings.epochs, "seed": settings.seed,
                                             "train_subset": settings.train_subset, "amp": amp})
    pairs = []
    for child in chosen:
        record = load_retrained(path, settings, child.id)
        reused = record is not None
        if record is None:
            job = ChildJob(child_id=child.id, arch=decode(child.tokens, compiled), train=train,
                           reward=trained.reward, child=trained.child, device=device)
            result = run_child(job, data)
            record = Retrained(tokens=child.tokens, metric_name=result.metric_name or child.metric_name,
                               **result.model_dump(exclude={"reward", "metric_name"}))
            save_retrained(path, settings, record)
        if progress is not None:
            progress(child, record, reused)
        pairs.append(Pair(child_id=child.id, tokens=child.tokens, search_reward=child.reward,
                          search_metric=child.metric, standalone_metric=record.metric, error=record.error))
    facts = {"space": compiled.name, "strategy": summary.strategy or "?", "dataset": trained.data.name,
             "metric_name": chosen[0].metric_name, "finished": len(finished)}
    result = _summarize(path, facts, settings, pairs)
    save_fidelity(path, result)
    return result
