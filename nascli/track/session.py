"""Tracking a run: live beside its search (`Tracker`), or afterwards (`replay`), by one code path.

Both are a `Session`: it follows the run store through a `RunFeed` and hands
each batch to its sinks, then writes the finale. They differ only in what a
sink's failure does. Live, it is a warning, once, and that sink is off for the
rest of the search: the search never waits for, or fails because of, a
tracking tool, and the run store stays the record (`nascli track` replays it
later). In a replay the failure is the command's error.

The live tracker runs the session on a background thread that reads the store
every `interval` seconds, or as soon as the search nudges it after recording
something. It only reads (SQLite's WAL lets it read while the search writes),
at the lowest CPU priority, so it never holds the search up; when the search ends, it reads what is left,
writes the finale, and is given `final_timeout` seconds to finish before the
process goes on without it.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import RunError, TrackingError
from ..runs import RunStore
from .feed import RunFeed
from .finale import make_finale
from .sink import RunInfo, Sink

Warn = Callable[[str], None]


def reason(err: BaseException) -> str:
    """An exception as one short line: tracking tools' messages can run to pages."""
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if len(line) <= 300 else line[:297] + "..."


class Session:
    """A feed and its sinks; `on_failure(sink, error)` is told of a sink that failed, which is dropped."""

    def __init__(self, run_dir: str | Path, sinks: list[Sink], on_failure: Callable[[Sink, Exception], None],
                 notice: Warn):
        self.run_dir, self.sinks, self.on_failure, self.notice = Path(run_dir), list(sinks), on_failure, notice
        self.feed: RunFeed | None = None

    def _each(self, call: Callable[[Sink], None]) -> None:
        for sink in list(self.sinks):
            try:
                call(sink)
            except Exception as err:  # noqa: BLE001 - whatever a tracking tool raises, the run goes on
                self.sinks.remove(sink)
                self._close(sink)
                self.on_failure(sink, err)

    def open(self) -> None:
        self.feed = RunFeed(self.run_dir)
        if self.feed.space_problem:
            self.notice(f"children are tracked without their decisions: the run's space cannot be read here "
                        f"({self.feed.space_problem})")
        run = RunInfo.of(self.feed.store)
        self._each(lambda sink: sink.open(run))

    def pump(self) -> None:
        """Send what the store gained since the last pump."""
        batch = self.feed.poll()
        if batch:
            self._each(lambda sink: sink.write(batch))

    def finish(self) -> None:
        """Send the rest, then the finale: the best child's figure, the report, the run's state."""
        self.pump()
        if not self.sinks:
            return
        with tempfile.TemporaryDirectory(prefix="nascli-track-") as folder:
            finale = make_finale(self.feed.store, self.feed.closed, Path(folder),
                                 any(s.wants_report for s in self.sinks), self.notice)
            self._each(lambda sink: sink.finish(finale))

    @staticmethod
    def _close(sink: Sink) -> None:
        try:
            sink.close()
        except Exception:  # noqa: BLE001 - closing a sink that already failed: nothing more to say
            pass

    def close(self) -> None:
        for sink in self.sinks:
            self._close(sink)
        if self.feed is not None:
            self.feed.close()


def replay(run_dir: str | Path, sinks: list[Sink], notice: Warn) -> list[Sink]:
    """Write a finished or stopped run to `sinks` (what they already hold of it is skipped); returns
    them, for their tallies. A sink's failure is a TrackingError."""
    with RunStore.open_readonly(run_dir) as store:
        if store.summary().state == "running":
            raise RunError("the run is still being searched; replay it once it stops (or track it live with "
                           "`nascli search --resume RUN --track ...` after stopping it)", where=str(run_dir))

    def fail(sink: Sink, err: Exception) -> None:
        raise TrackingError(f"{sink.target}: {reason(err)}") from err

    session = Session(run_dir, sinks, fail, notice)
    try:
        session.open()
        session.finish()
    finally:
        session.close()
    return sinks


def _lowest_priority() -> None:
    """Give this thread the lowest CPU priority (nice 19; Linux sets it per thread), so that on a busy
    machine the search's training gets the cores first and tracking waits."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux, or not allowed: tracking still works, at normal priority
        pass


class Tracker:
    """Tracks a run while its search runs; a context manager around the search."""

    def __init__(self, run_dir: str | Path, sinks: list[Sink], warn: Warn, interval: float = 2.0,
                 final_timeout: float = 60.0):
        self.run_dir, self.warn, self.interval, self.final_timeout = Path(run_dir), warn, interval, final_timeout
        self.sinks = list(sinks)  # the ones still working, once the tracker is done
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="nascli-tracker", daemon=True)

    def _failed(self, sink: Sink, err: Exception) -> None:
        self.sinks.remove(sink)
        self.warn(f"tracking to {sink.target} failed and is off for the rest of this search: {reason(err)}. "
                  f"Nothing is lost (the run store keeps everything); replay it later with: "
                  f"nascli track {self.run_dir} --to {sink.target}")

    def _run(self) -> None:
        _lowest_priority()
        session = Session(self.run_dir, self.sinks, self._failed, self.warn)
        try:
            session.open()
            while session.sinks and not self._stop.is_set():
                self._wake.wait(self.interval)
                self._wake.clear()
                session.pump()
            session.finish()
        except Exception as err:  # noqa: BLE001 - the run store itself could not be read: stop tracking only
            targets = ",".join(sink.target for sink in self.sinks)
            self.warn(f"tracking stopped: {reason(err)}; replay it later with: nascli track {self.run_dir} --to {targets}")
        finally:
            session.close()

    def nudge(self, *_event: object) -> None:
        """Something was recorded: read the store now rather than at the next interval."""
        self._wake.set()

    def __enter__(self) -> Tracker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(self.final_timeout)
        if self._thread.is_alive():
            targets = ",".join(sink.target for sink in self.sinks)
            self.warn(f"tracking did not finish within {self.final_timeout:.0f} s after the search; "
                      f"replay it with: nascli track {self.run_dir} --to {targets}")
