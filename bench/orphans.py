"""Do process workers outlive a search killed while they start? A check, not a timing benchmark.

    python bench/orphans.py [--delays 0 0.05 0.1 ...] [--workers 2]

For each delay: start `nascli search conv --workers W` from this checkout, wait until its
first worker process exists, wait the delay more, SIGKILL the search, and count the
search's workers (processes started through nascli/search/worker_boot.py with the
search's pid) still alive, polling every 10 ms for up to 10 s. Prints one row per kill:
the workers seen when the search was killed, and how long the last one took to go.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DELAYS = [0, 0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3, 6]


def _workers_of(search_pid: int) -> list[int]:
    """Live processes started through worker_boot.py for the search `search_pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        boot = [i for i, arg in enumerate(argv) if arg.endswith(b"worker_boot.py")]
        if state != "Z" and boot and argv[boot[0] + 2:boot[0] + 3] == [str(search_pid).encode()]:
            found.append(int(entry.name))
    return found


def kill_while_starting(delay: float, workers: int, run_dir: Path) -> tuple[int, float, int]:
    """(workers seen at the kill, seconds until none was left, workers left after 10 s)."""
    command = [sys.executable, "-m", "nascli", "search", "conv", "--workers", str(workers), "--budget", "4",
               "--batch", str(workers), "--epochs", "2", "--train-subset", "128", "--run-dir", str(run_dir)]
    search = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    while not _workers_of(search.pid):
        if search.poll() is not None:
            raise SystemExit(f"the search ended before starting workers (exit {search.returncode})")
        time.sleep(0.005)
    time.sleep(delay)
    seen = len(_workers_of(search.pid))
    search.send_signal(signal.SIGKILL)
    search.wait()
    killed = time.perf_counter()
    while _workers_of(search.pid) and time.perf_counter() - killed < 10:
        time.sleep(0.01)
    return seen, time.perf_counter() - killed, len(_workers_of(search.pid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delays", type=float, nargs="+", default=DEFAULT_DELAYS)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print("| kill after the first worker started (s) | workers seen | all gone after (s) | left after 10 s |")
    print("| --- | --- | --- | --- |")
    folder = Path(tempfile.mkdtemp(prefix="nascli-orphans-"))
    try:
        for i, delay in enumerate(args.delays):
            seen, gone, left = kill_while_starting(delay, args.workers, folder / f"run{i}")
            print(f"| {delay:g} | {seen} | {gone:.2f} | {left} |", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
