"""A `process`-backend worker's first seconds: tie its life to the search's, then import the rest.

The search starts each worker (and the ray backend its Ray driver) as `python -P
.../worker_boot.py ENTRY PID ARGS` (a file, not `-m nascli.search.workers`, so that not even
the `nascli` package is imported yet; `-P` keeps this file's folder off `sys.path`). Importing torch takes seconds, minutes on a loaded
machine; a worker that imported it first and armed its parent-death watch after would
outlive a search killed in between. So this file imports the standard library only,
arms the watch, checks that the search is still its parent, and only then imports
nascli and torch (`ENTRIES`).

Three ways a worker ends with the search: a parent-death signal (Linux prctl: SIGKILL
the moment the search dies), a thread that polls the parent's pid (elsewhere, and
should the signal be missed), and end of file on stdin (workers.py).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCHDOG_PERIOD_S = 1.0


def die_with_parent(parent_pid: int) -> None:
    """End this process when `parent_pid` (the search) dies, however it dies; at once if it already has."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # the watchdog below still covers it
    if os.getppid() != parent_pid:  # the search died before the signal was armed: it will never be sent
        os._exit(1)

    def watchdog() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_PERIOD_S)
        os._exit(1)

    threading.Thread(target=watchdog, daemon=True, name="parent-watchdog").start()


# What a process started through this file runs, once tied to the search: module and function, each
# taking the rest of the command line as strings.
ENTRIES = {"child-worker": ("nascli.search.workers", "worker_main"),  # the process backend's workers
           "ray-driver": ("nascli.search.ray_driver", "driver_main")}  # the ray backend's Ray driver


def command(entry: str, parent_pid: int, *args: str) -> list[str]:
    """The command line that starts `entry` (a key of ENTRIES) tied to the search `parent_pid`."""
    return [sys.executable, "-P", os.path.abspath(__file__), entry, str(parent_pid), *args]


def main(argv: list[str]) -> None:
    """ARGS: the entry (a key of ENTRIES), the search's pid, then the entry's own arguments."""
    entry, parent_pid = argv[0], int(argv[1])
    die_with_parent(parent_pid)
    import importlib  # nascli, torch and the data load only now

    module, function = ENTRIES[entry]
    getattr(importlib.import_module(module), function)(*argv[2:])


if __name__ == "__main__":
    main(sys.argv[1:])
