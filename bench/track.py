"""What tracking costs: per child on the tracker's thread, and a real search with and without it.

    python bench/track.py [--children N] [--rounds R] [--quick]

Part 1: a run store of N children (conv.space token strings, results written
through the store, no training; tests/track_helpers.py builds it) replayed
into each sink, R rounds alternating TensorBoard / MLflow (a SQLite store,
its tables made once before timing). Reported per child: the wall and CPU
seconds of sending the children and series (the work the live tracker does as
a search records them), and, once per run, opening the sink and the finale
(the report and figure drawn at the end).
Part 2: `nascli search conv` (4 children, 2 per step, 1 epoch on 64 images,
one process) R rounds alternating untracked / `--track tensorboard,mlflow`.
Reported: each variant's children's mean training seconds as the store
recorded them (does tracking slow the children?) and the command's wall time
(which for the tracked one includes the finale after the last child).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from children import alternate_rounds, machine_lines, markdown_table  # noqa: E402  (bench/ is on sys.path)
from track_helpers import make_run  # noqa: E402

from nascli.runs import RunStore  # noqa: E402
from nascli.track import TrackConfig  # noqa: E402
from nascli.track.session import Session  # noqa: E402


def _fail(sink, err):
    raise err


def replay_costs(run: Path, config: TrackConfig, children: int) -> dict[str, float]:
    """One replay into a fresh destination: seconds to open, per child to send, and for the finale."""
    session = Session(run, config.sinks(run), _fail, notice=lambda message: None)
    t0 = time.perf_counter()
    session.open()
    t1, c1 = time.perf_counter(), time.process_time()
    session.pump()
    t2, c2 = time.perf_counter(), time.process_time()
    session.finish()
    t3 = time.perf_counter()
    session.close()
    return {"open": t1 - t0, "child_wall": (t2 - t1) / children, "child_cpu": (c2 - c1) / children,
            "finale": t3 - t2}


def part1(folder: Path, n: int, rounds: int) -> str:
    run = make_run(folder / "synthetic", steps=n // 4, batch=4, fail=(3, 17))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    os.chdir(folder)  # MLflow keeps a SQLite store's artifacts in ./mlruns
    import logging

    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    MlflowClient(uri).search_experiments()  # its tables, made once (several seconds), outside the timing
    counter = iter(range(10**6))
    variants = {
        "tensorboard": lambda: replay_costs(run, TrackConfig(targets=["tensorboard"],
                                                             tensorboard_dir=folder / f"tb{next(counter)}"), n),
        "mlflow": lambda: replay_costs(run, TrackConfig(targets=["mlflow"], mlflow_uri=uri,
                                                        mlflow_experiment=f"bench{next(counter)}"), n),
    }
    samples = alternate_rounds(variants, rounds)
    rows = []
    for name, runs in samples.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        rows.append([name, f"{med['child_wall'] * 1000:.1f}", f"{med['child_cpu'] * 1000:.1f}",
                     f"{med['open']:.2f}", f"{med['finale']:.2f}"])
    return markdown_table([f"sink ({n} children, median of {rounds})", "ms per child (wall)", "ms per child (CPU)",
                           "open s", "finale s (report + figure)"], rows)


def _search(folder: Path, name: str, track: bool, uri: str) -> tuple[float, float]:
    run = folder / name
    args = [sys.executable, "-m", "nascli", "search", "conv", "--budget", "4", "--batch", "2", "--epochs", "1",
            "--train-subset", "64", "--run-dir", str(run)]
    if track:
        args += ["--track", "tensorboard,mlflow", "--mlflow-uri", uri, "--mlflow-experiment", "bench-live"]
    start = time.perf_counter()
    subprocess.run(args, cwd=folder, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    with RunStore.open_readonly(run) as store:
        seconds = [c.seconds for c in store.children("done")]
    return statistics.mean(seconds), wall


def part2(folder: Path, rounds: int) -> str:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    counter = iter(range(10**6))
    samples = alternate_rounds({
        "untracked": lambda: _search(folder, f"plain{next(counter)}", False, uri),
        "--track tensorboard,mlflow": lambda: _search(folder, f"tracked{next(counter)}", True, uri)}, rounds)
    rows = [[name, f"{statistics.median(s for s, _ in runs):.2f}", f"{statistics.median(w for _, w in runs):.1f}"]
            for name, runs in samples.items()]
    return markdown_table([f"nascli search conv, 4 children (median of {rounds})", "child training s (mean)",
                           "command wall s"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="part 1 only, 40 children, 2 rounds")
    args = parser.parse_args()
    n, rounds = (40, 2) if args.quick else (args.children, args.rounds)
    print("\n".join(machine_lines()))
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="nascli-bench-track-") as tmp:
        print(part1(Path(tmp), n, rounds))
        if not args.quick:
            print()
            print(part2(Path(tmp), rounds))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
