"""Issue 20's real-data latency part (bench/budgets.py --real): the latency table's prediction error, and
a --max-latency search whose trained children are all measured again afterwards.

    python bench/budgets.py --real          # or: python bench/budgets_real.py [--sample 30] [--children 12]

On cifar10-mini (../shared/data), on the CPU, batch 1, one thread:
(a) for mobilenet.space and conv.space, a fresh latency table built over children drawn uniformly (seed 0),
    each of --sample children predicted and measured at once (interleaved), median / p90 / max absolute %
    error (target: median < 10%);
(b) a random search of mobilenet.space with --max-latency (default 5ms) and the default --latency-margin
    (10%: accepted at most 4.5ms), --children trained children of 1 epoch on 256 images, once per
    --latency-model (measured; table, where the table screens and each child it lets through is timed
    whole); every trained child is then measured again, and its re-measured latency set against the limit.
Timing depends on the machine's load: the load average is printed before and after each part.
Output: bench/results/budgets-real.txt and budgets-real.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's nascli
DATA = HERE.parent.parent / "shared" / "data" / "cifar10-mini"
SPACES = ("mobilenet", "conv")


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.2f}"


def _task():
    from nascli.data.spec import DataSpec

    return DataSpec(name="cifar10", data_dir=str(DATA)).load().task


def table_error(space: str, sample: int) -> dict:
    """Part (a) for one space: the table's prediction error over `sample` children."""
    from nascli.budget.latency_error import prediction_error
    from nascli.budget.latency_table import LatencyTable
    from nascli.space import load_space
    from nascli.space.compiler import compile_space

    before = _load()
    result = prediction_error(compile_space(load_space(f"spaces/{space}.space")), LatencyTable(_task()), sample)
    return {**result.as_json(), "load_before": before, "load_after": _load()}


def limited_search(limit: str, children: int, model: str, folder: Path) -> dict:
    """Part (b) for one latency model: the search, then every trained child measured again."""
    from nascli.arch import Architecture, decode
    from nascli.budget.latency import measure_latency
    from nascli.budget.units import parse_latency
    from nascli.search.options import SearchOptions, search_config
    from nascli.search.runs import create_search

    before = _load()
    options = SearchOptions(space="spaces/mobilenet.space", strategy="random", dataset="cifar10", data_dir=DATA,
                            budget=children, epochs=1, train_subset=256, device="cpu", max_latency=limit,
                            latency_model=model)
    config = search_config(options)
    job = create_search(options.space, config, folder / model)
    try:
        job.run(lambda event: None)
        task, store = _task(), job.store
        done = store.children("done")
        # the architecture the search timed (its record) is the one its tokens decode to
        same = all(Architecture.model_validate_json(c.arch_json) == decode(c.tokens, job.compiled) for c in done)
        again = [measure_latency(Architecture.model_validate_json(c.arch_json), task) for c in done]
        refused = store.counts().get("refused", 0)
        recorded = [c.latency_ms for c in done]
        # the children timed whole: all under measured; under table, those the table let through
        timed_whole = sum(store.cached_latency(c.tokens, "cpu", 1) is not None for c in store.children())
    finally:
        job.close()
        job.store.close()
    ms = parse_latency(limit)
    return {"model": model, "limit_ms": ms, "accepted_at_most_ms": config.constraints.latency_limit_ms, "trained": len(done),
            "refused": refused, "timed_whole": timed_whole, "recorded_ms": recorded,
            "remeasured_over_recorded_max": max(a / r for a, r in zip(again, recorded)),
            "remeasured_ms": again, "remeasured_median": statistics.median(again), "remeasured_max": max(again),
            "within": sum(a <= ms for a in again), "recorded_is_decoded": same, "load_before": before,
            "load_after": _load()}


def report(errors: list[dict], searches: list[dict], header: str) -> str:
    lines = [header, "", "(a) latency table, prediction error against measured latency (cifar10-mini, cpu, batch 1, 1 thread)",
             "| space | children | entries | build s | fixed part | median | p90 | max | load before/after |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {e['space']} | {len(e['children'])} | {e['entries']} | {e['build_seconds']:.1f} | "
              f"{e['fixed_ms']:+.2f} ms | {e['median_pct']:.1f}% | {e['p90_pct']:.1f}% | {e['max_pct']:.1f}% | "
              f"{e['load_before'].split()[-1]} / {e['load_after'].split()[-1]} |" for e in errors]
    lines += ["", "(b) random search of mobilenet.space, --max-latency, every trained child measured again",
              "| --latency-model | limit | accepted at most | trained | refused | timed whole | recorded max "
              "| re-measured median | re-measured max | max re-measured / recorded | within the limit "
              "| load before/after |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {s['model']} | {s['limit_ms']:g} ms | {s['accepted_at_most_ms']:.2f} ms | {s['trained']} | "
              f"{s['refused']} | {s['timed_whole']} | {max(s['recorded_ms']):.2f} ms | {s['remeasured_median']:.2f} ms | "
              f"{s['remeasured_max']:.2f} ms | {s['remeasured_over_recorded_max']:.2f} | {s['within']} of {s['trained']} | "
              f"{s['load_before'].split()[-1]} / {s['load_after'].split()[-1]} |" for s in searches]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=30)
    parser.add_argument("--children", type=int, default=12)
    parser.add_argument("--limit", default="5ms")
    args = parser.parse_args(argv)
    errors = [table_error(space, args.sample) for space in SPACES]
    with tempfile.TemporaryDirectory() as tmp:
        searches = [limited_search(args.limit, args.children, model, Path(tmp)) for model in ("measured", "table")]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout
    given = " ".join(sys.argv[1:] if argv is None else argv)
    header = f"python3 bench/budgets_real.py {given}".strip() + f" (commit {commit.strip()})"
    text = report(errors, searches, header)
    print(text)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "budgets-real.txt").write_text(text + "\n")
    (out / "budgets-real.json").write_text(json.dumps({"command": header, "errors": errors, "searches": searches},
                                                      indent=1))


if __name__ == "__main__":
    main()
