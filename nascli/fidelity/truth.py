"""Ground truth for a search's ranking: its children's scores against a benchmark table.

For a run over the benchmark's space (nb201.space and NAS-Bench-201), every
finished child has a real, fully trained outcome in the table. This ranks all
of them by their search-time score (the validation accuracy the search saw:
a from-scratch proxy's, or ENAS's shared-weights score) and correlates that
with the table's validation accuracy (Kendall's τ-b, Spearman's ρ, bootstrap
intervals over the children): the measurement of Yu et al. (ICLR 2020) and of
the NAS-Bench-201 paper, over hundreds of children, with nothing retrained.

An architecture recorded more than once counts once, at its earliest finished
record (as `nascli fidelity` chooses); failed children have no score and are
left out; both are counted in the result.
"""

from __future__ import annotations

from pathlib import Path

from ..arch import decode
from ..benchmarks import get_benchmark
from ..errors import RunError
from ..runs import ChildRecord, RunStore, find_run, run_space
from ..runs.fidelity import FidelitySettings, TruthPair, TruthResult, save_truth
from .study import interval_method, rank_correlations

TRUTH_EPOCHS = 200  # the table's fully trained results


def _epochs(n) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def _proxy(config: dict) -> str:
    """How the run scored its children, from its config.json."""
    if config.get("strategy") == "enas":
        enas = config.get("enas") or {}
        return (f"ENAS shared weights after {_epochs(enas.get('epochs', '?'))}, each derived child scored on up to "
                f"{enas.get('derive_subset') or 'all'} validation images")
    train = config.get("train", {})
    return (f"trained from scratch, {_epochs(train.get('epochs'))} on {train.get('train_subset') or 'all'} "
            f"training images per epoch")


def _data(config: dict) -> str:
    data = config.get("data", {})
    return f"{data.get('name', '?')} from {data.get('data_dir') or 'the embedded sample'}"


def _note(config: dict, column: str) -> str:
    return (f"the run scored its children on {_data(config)} ({_proxy(config)}); the table's {column} comes from "
            f"NAS-Bench-201's own training ({TRUTH_EPOCHS} epochs on its split of the full dataset): another "
            "training set and recipe, so τ says how well the run's scores order architectures, not whether the "
            "numbers agree")


def _pairs(children: list[ChildRecord], compiled, key, truth) -> list[TruthPair]:
    pairs = []
    for child in children:
        arch = key(decode(child.tokens, compiled))
        pairs.append(TruthPair(child_id=child.id, tokens=child.tokens, arch=arch, search_reward=child.reward,
                               search_metric=child.metric, truth=truth(arch)))
    return pairs


def truth_study(run_ref: str | Path | None, benchmark: str = "nb201", dataset: str = "cifar10",
                settings: FidelitySettings = FidelitySettings(), table: str | Path | None = None) -> TruthResult:
    """Correlate a run's search-time scores with the benchmark's `dataset` validation accuracy at 200
    epochs; saved as RUN/fidelity/truth.json. A run over another space is a BenchmarkError."""
    path = find_run(run_ref)
    bench = get_benchmark(benchmark)
    with RunStore.open_readonly(path) as store:
        compiled = run_space(store)
        bench.check_space(compiled)
        config, summary = store.config, store.summary()
        done, failed = store.children("done"), store.counts()["failed"]
        unique = sorted(store.finished_tokens().values(), key=lambda c: c.id)
    rows = bench.table(table)
    column = f"{dataset}_valid_{TRUTH_EPOCHS}"
    pairs = _pairs(unique, compiled, bench.arch_key, lambda arch: rows.valid_accuracy(arch, dataset, TRUTH_EPOCHS))
    if len(pairs) < 3:
        raise RunError(f"a ranking needs at least 3 finished children of different architectures; the run has "
                       f"{len(pairs)}", where=str(path))
    stats = rank_correlations([p.search_metric for p in pairs], [p.truth for p in pairs], settings)
    result = TruthResult(
        run=str(path), space=compiled.name, strategy=summary.strategy or "?", dataset=_data(config),
        proxy=_proxy(config), metric_name=unique[0].metric_name or "?", benchmark=benchmark, truth_column=column,
        finished=len(done), duplicates=len(done) - len(unique), failed=failed, pairs=pairs,
        interval=interval_method(settings, over="the run's children"), note=_note(config, column),
        chosen=max(pairs, key=lambda p: (p.search_metric, -p.child_id)),
        best=max(pairs, key=lambda p: (p.truth, -p.child_id)), **stats)
    save_truth(path, result)
    return result
