"""Image-folder loading benchmark: the first decode into the cache vs a cached reload.

    python bench/data.py [--rounds N]

For each real image folder in /work/shared/data (digits-png: 1,797 8x8 grayscale
PNGs; cifar10-png: 2,000 32x32 RGB PNGs; skipped when absent), every round
starts from an empty cache folder and times, in turn:
1. the first `load_dataset("images", ...)`: list the folder, decode every image
   with Pillow into the uint8 .npy cache, split and normalise;
2. the same call again: list the folder, read the cache, split, and take the
   training split's statistics from the cached per-image sums.
Reported: images/s of the first load, seconds of each, and the speed-up
(median of the per-round ratios). The pixel stage alone (cached_pixels, and
a copy of the pixels it maps) is timed the same way, and so is the whole load as two runs see it: the first
decode in one new process and the cached reload in another (each timing only
the `load_dataset` call, after the imports), which is what "a second run
starts in seconds" means; in-process, the reload right after the first decode
also pays for freeing the first load's memory. Images are normalised per batch as training takes them,
not by the load; the last column says what normalising the whole training
split once (one epoch's worth of batches) costs, for scale.
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

import numpy as np
from children import machine_lines, markdown_table  # bench/ is on sys.path

from nascli.data import load_dataset
from nascli.data.cache import FileList, cached_pixels
from nascli.data.images import _labelled, find_splits

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REPO = str(Path(__file__).resolve().parents[1])  # the child process imports this checkout's nascli
FOLDERS = ("digits-png", "cifar10-png")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


_TIMED_LOAD = ("import sys, time; from nascli.data import load_dataset; start = time.perf_counter(); "
               "load_dataset('images', sys.argv[1]); print(time.perf_counter() - start)")


def load_in_new_process(folder: Path, cache: str) -> float:
    """Seconds of one `load_dataset("images", folder)` in a fresh Python process (imports not counted)."""
    out = subprocess.run([sys.executable, "-c", _TIMED_LOAD, str(folder)], capture_output=True, text=True,
                         check=True, env={**os.environ, "NASCLI_CACHE": cache, "PYTHONPATH": REPO})
    return float(out.stdout.strip())


def read_pixels(files: FileList) -> np.ndarray:
    """The pixel stage: cached_pixels, and a copy of its pixels (a cached reload maps the file, so
    only the copy reads it; load_images copies each split out of the map the same way)."""
    return np.array(cached_pixels(files, None).pixels)


def one_round(folder: Path) -> dict[str, float]:
    """Seconds of a first and a cached load, whole and pixel stage only, each from an empty cache."""
    files = _labelled(folder, find_splits(folder))[0]
    times = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["NASCLI_CACHE"] = cache
        times["load first"] = timed(lambda: load_dataset("images", folder))
        start = time.perf_counter()
        data = load_dataset("images", folder)
        times["load cached"] = time.perf_counter() - start
        times["normalise train"] = timed(lambda: data.train_x[:])
    with tempfile.TemporaryDirectory() as cache:
        times["two runs first"] = load_in_new_process(folder, cache)
        times["two runs cached"] = load_in_new_process(folder, cache)
    with tempfile.TemporaryDirectory() as cache:
        os.environ["NASCLI_CACHE"] = cache
        times["pixels first"] = timed(lambda: read_pixels(files))
        times["pixels cached"] = timed(lambda: read_pixels(files))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data", type=Path, default=SHARED, help="the shared data folder")
    args = parser.parse_args()
    print("\n".join(machine_lines()))
    rows = []
    for name in FOLDERS:
        folder = args.data / name
        if not folder.is_dir():
            print(f"skipped {name}: not present at {folder}")
            continue
        n = len(_labelled(folder, find_splits(folder))[0].files)
        rounds = [one_round(folder) for _ in range(args.rounds)]
        for stage in ("load", "two runs", "pixels"):
            first = [r[f"{stage} first"] for r in rounds]
            cached = [r[f"{stage} cached"] for r in rounds]
            speedup = statistics.median(f / c for f, c in zip(first, cached))
            normalise = f"{statistics.median(r['normalise train'] for r in rounds):.4f}" if stage == "load" else ""
            rows.append([name, f"{n:,}", stage, f"{n / statistics.median(first):,.0f}",
                         f"{statistics.median(first):.3f}", f"{statistics.median(cached):.4f}", f"{speedup:.1f}×",
                         normalise])
    print(markdown_table(["folder", "images", "stage", "first decode images/s", "first s", "cached s",
                          "cached speed-up (target ≥ 20×)", "normalise train split once, s"], rows))


if __name__ == "__main__":
    main()
