"""The run store: one search run's folder, its SQLite database and files.

A run folder holds
    config.json                 search options + the sha256 of space.space (atomic write)
    space.space                 the space file's text, byte for byte
    run.db                      SQLite in WAL mode: children, controller_steps, meta
    checkpoints/controller.pt   the controller's state (see checkpoint.py)
    run.lock                    flock-ed by the one process that writes the run

One process writes (the search); others read while it does (`nascli runs`,
`show`, `report`): WAL gives each reader a consistent snapshot without blocking
the writer, and every write is one short transaction, so a `kill -9` loses at
most the write in flight and never a child already reported finished.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import RunError
from . import checkpoint
from .crashpoints import crash_point
from .database import connect, set_durable, sql_errors
from .records import STATUSES, ChildRecord, EpochRecord, RunSummary, StepRecord
from .rung_rows import RUNGS_TABLE, RungRows

RUN_STATES: tuple[str, ...] = ("running", "stopped", "finished", "failed")
SCHEMA_VERSION = "2"
# Columns added since schema 1; a run made before them gains them (NULL) when opened for writing.
_ADDED_COLUMNS = {"log_prob": "REAL", "device": "TEXT", "rung": "INTEGER", "latency_ms": "REAL"}
# ENAS epoch columns added since (docs/budgets.md: the children each epoch refused); NULL in older rows.
_ADDED_EPOCH_COLUMNS = {"refused_shared": "INTEGER", "refused_controller": "INTEGER"}
DB_FILE, CHECKPOINT_DIR = "run.db", "checkpoints"
BUILDING_MARK = ".creating-"  # `.NAME.creating-PID`: a run folder being built, renamed to NAME when complete

_SCHEMA = """
CREATE TABLE children (
    id INTEGER PRIMARY KEY,
    step INTEGER NOT NULL,
    depth INTEGER,
    tokens TEXT NOT NULL,
    arch_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'refused')),
    reward REAL, metric REAL, metric_name TEXT, params INTEGER, macs INTEGER,
    seconds REAL, error TEXT, created REAL NOT NULL, finished REAL,
    log_prob REAL, device TEXT, rung INTEGER, latency_ms REAL);
CREATE INDEX children_by_status_reward ON children (status, reward DESC);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE controller_steps (
    step INTEGER PRIMARY KEY, baseline REAL, mean_reward REAL, loss REAL,
    entropy REAL, depth INTEGER, time REAL NOT NULL);
"""

# Added after schema 1 (ENAS runs); created on open for writing, so older runs gain it when resumed.
_EPOCHS_TABLE = """
CREATE TABLE IF NOT EXISTS enas_epochs (
    epoch INTEGER PRIMARY KEY, shared_loss REAL, valid_reward REAL, entropy REAL, baseline REAL,
    lr REAL, seconds REAL, controller_seconds REAL, time REAL NOT NULL, refused_shared INTEGER,
    refused_controller INTEGER)
"""


# Latency measured before training (docs/budgets.md), per architecture, device and batch: a resume and a
# replayed proposal read the figure the first measurement gave, so they refuse exactly what it refused.
_LATENCY_TABLE = """
CREATE TABLE IF NOT EXISTS latency (
    tokens TEXT NOT NULL, device TEXT NOT NULL, batch INTEGER NOT NULL, ms REAL NOT NULL,
    PRIMARY KEY (tokens, device, batch))
"""


def _pid_alive(pid: str | None) -> bool:
    """Whether process `pid` exists on this machine (True when that cannot be told)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError, OverflowError):  # someone else's, or not a pid
        return True
    return True


def _remove_abandoned_builds(parent: Path) -> None:
    """Delete run folders whose creation was killed: their builder no longer holds their lock."""
    for folder in parent.glob(f".*{BUILDING_MARK}*"):
        if _pid_alive(folder.name.rpartition(BUILDING_MARK)[2]):
            continue
        try:
            fd = checkpoint.take_writer_lock(folder)
        except RunError:
            continue  # still being built, or unreadable: leave it
        os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)


class RunStore(RungRows):
    """A run folder opened for writing (the search) or reading (everything else)."""

    def __init__(self, run_dir: Path, conn: sqlite3.Connection, options: dict[str, Any],
                 space_text: str, lock_fd: int | None, durable: bool = True):
        self.path = run_dir
        self._durable = durable  # fsync checkpoints and run files (see checkpoint.py); SQLite synchronous=NORMAL
        self.space_text = space_text
        self._options = options
        self._conn = conn
        self._db = run_dir / DB_FILE
        self._lock_fd = lock_fd  # None when read-only
        self._mutex = threading.Lock()  # one connection, possibly shared by threads

    # -- opening ---------------------------------------------------------

    @classmethod
    def create(cls, run_dir: str | Path, config: dict[str, Any], space_text: str,
               space_sha256: str, checkpoint_state: dict[str, Any] | None = None, durable: bool = True) -> RunStore:
        """Start a new run in `run_dir` (absent or empty) and open it for writing.

        The folder is built whole under a temporary name beside `run_dir`
        (files, database, first checkpoint) and then renamed into place, so a
        crash while it is made leaves no half-made run, only a temporary
        folder that the next `create` beside it removes.
        """
        run_dir = Path(run_dir)
        if hashlib.sha256(space_text.encode()).hexdigest() != space_sha256:
            raise ValueError("space_sha256 is not the sha256 of space_text")
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            raise RunError("run folder already exists and is not empty", where=str(run_dir))
        building = run_dir.parent / f".{run_dir.name}{BUILDING_MARK}{os.getpid()}"
        try:
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            _remove_abandoned_builds(run_dir.parent)
            building.mkdir()
        except OSError as err:
            raise RunError(f"cannot create run folder: {err.strerror or err}", where=str(run_dir)) from None
        lock_fd = checkpoint.take_writer_lock(building)  # an flock follows the file through the rename
        try:
            cls._build(building, config, space_text, space_sha256, checkpoint_state, durable)
            crash_point("create")
            os.rename(building, run_dir)  # replaces an empty run_dir, fails on a full one
            if durable:
                checkpoint.fsync_dir(run_dir.parent)
            conn = connect(run_dir / DB_FILE, readonly=False, durable=durable)
        except BaseException as err:
            os.close(lock_fd)
            shutil.rmtree(building, ignore_errors=True)
            if isinstance(err, (OSError, RunError)):
                raise RunError(f"cannot write run folder: {err}", where=str(run_dir)) from None
            raise
        return cls(run_dir, conn, copy.deepcopy(config), space_text, lock_fd, durable)

    @staticmethod
    def _build(folder: Path, config: dict[str, Any], space_text: str, space_sha256: str,
               checkpoint_state: dict[str, Any] | None, durable: bool) -> None:
        """A complete run folder's files in `folder`: config, space, database with its tables, checkpoint."""
        checkpoint.write_run_files(folder, config, space_text, space_sha256, durable)
        conn = connect(folder / DB_FILE, readonly=False, durable=durable)
        try:
            with sql_errors(folder / DB_FILE):
                conn.execute("BEGIN IMMEDIATE")
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    conn.execute(statement)
                conn.execute(_EPOCHS_TABLE)
                conn.execute(RUNGS_TABLE)
                conn.execute(_LATENCY_TABLE)
                now = repr(time.time())
                conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("schema_version", SCHEMA_VERSION), ("state", "running"), ("samples", "0"), ("created", now),
                    ("updated", now), ("pid", str(os.getpid())), ("host", socket.gethostname())])
                conn.execute("COMMIT")
        finally:
            conn.close()  # reopened at the final path: SQLite keeps the path it opened
        if checkpoint_state is not None:
            checkpoint.save_checkpoint(folder / CHECKPOINT_DIR, checkpoint_state, durable)

    @classmethod
    def open(cls, run_dir: str | Path) -> RunStore:
        """Open an existing run for writing (resume); only one process may hold it."""
        return cls._open(Path(run_dir), readonly=False)

    @classmethod
    def open_readonly(cls, run_dir: str | Path) -> RunStore:
        """Open an existing run for reading, safe while another process writes it."""
        return cls._open(Path(run_dir), readonly=True)

    @classmethod
    def _open(cls, run_dir: Path, readonly: bool) -> RunStore:
        if not run_dir.is_dir():
            raise RunError("no such run folder", where=str(run_dir))
        if not (run_dir / DB_FILE).is_file():
            raise RunError(f"not a run folder (no {DB_FILE})", where=str(run_dir))
        options, space_text = checkpoint.read_run_files(run_dir)
        lock_fd = None if readonly else checkpoint.take_writer_lock(run_dir)
        if lock_fd is not None:  # the one writer: what a killed write left behind is ours to clear
            checkpoint.remove_stale_temps(run_dir)
            checkpoint.remove_stale_temps(run_dir / CHECKPOINT_DIR)
        try:
            store = cls(run_dir, connect(run_dir / DB_FILE, readonly), options, space_text, lock_fd)
        except RunError:
            if lock_fd is not None:
                os.close(lock_fd)
            raise
        try:
            if store.get_meta("schema_version") not in ("1", SCHEMA_VERSION):
                raise RunError("not a nascli run database (schema version)", where=str(store._db))
            if not readonly:
                store._migrate()
                with store._write() as db:
                    db.execute(_EPOCHS_TABLE)
                    db.execute(RUNGS_TABLE)
                    db.execute(_LATENCY_TABLE)
                store._add_columns("enas_epochs", _ADDED_EPOCH_COLUMNS)
                store.set_meta("pid", os.getpid())
                store.set_meta("host", socket.gethostname())
        except RunError:
            store.close()
            raise
        return store

    def close(self) -> None:
        with self._mutex:
            self._conn.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def durable(self) -> bool:
        """Whether writes are fsynced, so that they survive a power cut (all of them survive the process dying)."""
        return self._durable

    @durable.setter
    def durable(self, value: bool) -> None:
        self._durable = value
        if self._lock_fd is not None:
            with self._mutex, sql_errors(self._db):
                set_durable(self._conn, value)

    # -- plumbing --------------------------------------------------------

    def _migrate(self) -> None:
        """Bring a schema-1 run up to date: add the missing columns (NULL for old children)."""
        self._add_columns("children", _ADDED_COLUMNS, "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                          (SCHEMA_VERSION,))

    def _add_columns(self, table: str, columns: dict[str, str], *then: Any) -> None:
        """Add those of `columns` (name: SQL type) that `table` lacks, NULL in its old rows, and run the
        statement `then` (SQL, parameters) in the same transaction, when any was missing."""
        have = {row["name"] for row in self._rows(f"PRAGMA table_info({table})")}
        if have.issuperset(columns):
            return
        with self._write() as db:
            for name, kind in columns.items():
                if name not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            if then:
                db.execute(*then)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; it also stamps meta 'updated'."""
        if self._lock_fd is None:
            raise RunError("run was opened read-only", where=str(self.path))
        with self._mutex, sql_errors(self._db):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('updated', ?)", (repr(time.time()),))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._mutex, sql_errors(self._db):
            return self._conn.execute(sql, params).fetchall()

    # -- run state -------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The search options the run was started with (a copy)."""
        return copy.deepcopy(self._options)

    def set_meta(self, key: str, value: str | int | float) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, str(value)))

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def meta_number(self, key: str, kind: type[int] | type[float] = int) -> int | float | None:
        """A numeric meta value (None when absent); RunError when it is not a number."""
        value = self.get_meta(key)
        try:
            return None if value is None else kind(value)
        except (TypeError, ValueError):
            raise RunError(f"corrupt run database: meta {key!r} is {value!r}, not a number", where=str(self._db)) from None

    @property
    def samples(self) -> int:
        """Children sampled so far (every child ever added, except those refused by a limit)."""
        return self.meta_number("samples") or 0

    @property
    def state(self) -> str | None:
        return self.get_meta("state")

    @state.setter
    def state(self, value: str) -> None:
        if value not in RUN_STATES:
            raise ValueError(f"run state must be one of {RUN_STATES}, got {value!r}")
        self.set_meta("state", value)

    # -- children --------------------------------------------------------

    def add_children(self, step: int, depth: int | None, items: list[tuple[str, str]],
                     log_probs: list[float] | None = None, costs: list | None = None,
                     refusals: list[tuple[str, float | None] | None] | None = None) -> list[int]:
        """Record sampled (tokens, arch_json) pairs as 'pending', with the log-probability each was
        sampled with (when the strategy has one) and its cost before training (a budget.Cost, when the
        search has limits); returns their ids. `refusals[i]` = (reason, reward) records item i as
        'refused' instead: never trained, not counted in `samples` (the children budget)."""
        now = time.time()
        n = len(items)
        log_probs, costs, refusals = log_probs or [None] * n, costs or [None] * n, refusals or [None] * n
        with self._write() as db:
            ids = []
            for (tokens, arch), lp, cost, refused in zip(items, log_probs, costs, refusals):
                reason, reward = refused if refused is not None else (None, None)
                row = (step, depth, tokens, arch, "refused" if refused else "pending", now, lp,
                       *((cost.params, cost.macs, cost.latency_ms) if cost is not None else (None, None, None)),
                       reason, reward, now if refused else None)
                ids.append(db.execute("INSERT INTO children (step, depth, tokens, arch_json, status, created, log_prob, "
                                      "params, macs, latency_ms, error, reward, finished) "
                                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row).lastrowid)
            kept = sum(r is None for r in refusals)
            db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'samples'", (kept,))
        return ids

    def cached_latency(self, tokens: str, device: str, batch: int) -> float | None:
        """The latency (ms) measured for this architecture on `device` at `batch`, if it was."""
        if not self._rows("SELECT name FROM sqlite_master WHERE name = 'latency'"):
            return None  # a run older than the table, read-only
        rows = self._rows("SELECT ms FROM latency WHERE tokens = ? AND device = ? AND batch = ?", (tokens, device, batch))
        return rows[0]["ms"] if rows else None

    def record_latency(self, tokens: str, device: str, batch: int, ms: float) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO latency VALUES (?, ?, ?, ?)", (tokens, device, batch, ms))

    def mark_running(self, ids: list[int]) -> None:
        with self._write() as db:
            for child_id in ids:
                if db.execute("UPDATE children SET status = 'running' WHERE id = ? AND status = 'pending'",
                              (child_id,)).rowcount != 1:
                    raise RunError(f"child {child_id} is not pending", where=str(self._db))

    def requeue(self, ids: list[int]) -> None:
        """Put children marked running but never started back to pending (the time budget ended the search)."""
        with self._write() as db:
            db.executemany("UPDATE children SET status = 'pending' WHERE id = ? AND status = 'running'",
                           [(i,) for i in ids])

    def _close_child(self, child_id: int, status: str, rung_epochs: int | None, **fields: Any) -> None:
        """Write a child's result; with rungs (`rung_epochs`: the first rung's), its rung-0 row in the same
        transaction, so that a kill never leaves one without the other."""
        if rung_epochs is not None and status == "done":
            fields["rung"] = 0
        assignments = "".join(f", {name} = ?" for name in fields)
        now = time.time()
        with self._write() as db:
            # Finished children are never rewritten: a resumed search cannot clobber a result.
            if db.execute(f"UPDATE children SET status = ?, finished = ?{assignments} "
                          "WHERE id = ? AND status IN ('pending', 'running')",
                          (status, now, *fields.values(), child_id)).rowcount != 1:
                raise RunError(f"child {child_id} is not pending or running", where=str(self._db))
            if rung_epochs is not None:
                self._insert_rung(db, child_id, 0, rung_epochs, status, fields, now)

    def finish_child(self, child_id: int, reward: float, metric: float, metric_name: str,
                     params: int, macs: int, seconds: float, device: str | None = None,
                     rung_epochs: int | None = None) -> None:
        self._close_child(child_id, "done", rung_epochs, reward=reward, metric=metric, metric_name=metric_name,
                          params=params, macs=macs, seconds=seconds, device=device)

    def fail_child(self, child_id: int, error: str, reward: float, seconds: float, device: str | None = None,
                   rung_epochs: int | None = None) -> None:
        self._close_child(child_id, "failed", rung_epochs, error=error, reward=reward, seconds=seconds,
                          device=device)

    def children(self, status: str | None = None, order_by_reward: bool = False,
                 limit: int | None = None, step: int | None = None) -> list[ChildRecord]:
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        where = [(c, v) for c, v in (("status = ?", status), ("step = ?", step)) if v is not None]
        sql = "SELECT * FROM children" + (" WHERE " + " AND ".join(c for c, _ in where) if where else "")
        # by reward within the highest rung reached (rung is NULL for every child of a run without rungs)
        by_rung = "rung IS NULL, rung DESC, " if self.has_rungs_column() else ""  # a schema-1 run read as it is
        sql += f" ORDER BY {by_rung}reward IS NULL, reward DESC, id" if order_by_reward else " ORDER BY id"
        params: tuple = tuple(v for _, v in where)
        if limit is not None:
            sql, params = sql + " LIMIT ?", (*params, limit)
        return [self._child(row) for row in self._rows(sql, params)]

    def children_since(self, after_id: int, also: list[int] = ()) -> list[ChildRecord]:
        """Children sampled after child `after_id`, and the children `also` names (in id order): what a
        reader that follows a run needs each time, without reading every row again."""
        marks = ", ".join("?" * len(also))
        sql = "SELECT * FROM children WHERE id > ?" + (f" OR id IN ({marks})" if also else "") + " ORDER BY id"
        return [self._child(row) for row in self._rows(sql, (after_id, *also))]

    def _child(self, row: sqlite3.Row) -> ChildRecord:
        try:
            return ChildRecord(**dict(row))
        except ValidationError as err:
            first = err.errors()[0]
            raise RunError(f"corrupt record of child {row['id']}: {first['msg']}", where=str(self._db)) from None

    def last_step(self) -> int | None:
        """The highest step that has children, or None for a new run."""
        return self._rows("SELECT MAX(step) AS s FROM children")[0]["s"]

    def best(self, k: int) -> list[ChildRecord]:
        """The k finished children with the highest reward (earlier first on ties); with rungs, those at the
        highest rung reached first (a child's reward is its score at the highest rung it finished)."""
        return self.children("done", order_by_reward=True, limit=k)

    def counts(self) -> dict[str, int]:
        found = {r["status"]: r["n"] for r in self._rows("SELECT status, COUNT(*) AS n FROM children GROUP BY status")}
        return {status: found.get(status, 0) for status in STATUSES}

    def finished_tokens(self) -> dict[str, ChildRecord]:
        """Finished children by token string (the earliest one per string)."""
        found: dict[str, ChildRecord] = {}
        for child in self.children("done"):
            found.setdefault(child.tokens, child)
        return found

    def verify(self) -> None:
        """Read every record once, so that a corrupt one is a RunError now, before a resume works."""
        self.meta_number("samples")
        self.meta_number("created", float)
        self.children()
        self.steps()

    def recover(self) -> list[ChildRecord]:
        """After a crash: re-queue children left 'running'; returns every pending child."""
        with self._write() as db:
            db.execute("UPDATE children SET status = 'pending' WHERE status = 'running'")
        return self.children("pending")

    # -- controller ------------------------------------------------------

    def record_step(self, step: int, baseline: float | None, mean_reward: float | None,
                    loss: float | None, entropy: float | None, depth: int | None) -> None:
        with self._write() as db:
            # REPLACE: a step redone after a resume overwrites its earlier record.
            db.execute("INSERT OR REPLACE INTO controller_steps VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (step, baseline, mean_reward, loss, entropy, depth, time.time()))

    def steps(self) -> list[StepRecord]:
        return [StepRecord(**dict(r)) for r in self._rows("SELECT * FROM controller_steps ORDER BY step")]

    def record_epoch(self, epoch: EpochRecord) -> None:
        with self._write() as db:
            values = epoch.model_dump()
            db.execute(f"INSERT OR REPLACE INTO enas_epochs ({', '.join(values)}) "
                       f"VALUES ({', '.join('?' * len(values))})", tuple(values.values()))

    def epochs(self) -> list[EpochRecord]:
        """ENAS's per-epoch rows; none for other strategies (or runs older than the table)."""
        if not self._rows("SELECT name FROM sqlite_master WHERE name = 'enas_epochs'"):
            return []
        return [EpochRecord(**dict(r)) for r in self._rows("SELECT * FROM enas_epochs ORDER BY epoch")]

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        if self._lock_fd is None:
            raise RunError("run was opened read-only", where=str(self.path))
        try:
            checkpoint.save_checkpoint(self.path / CHECKPOINT_DIR, state, self.durable)
        except OSError as err:
            raise RunError(f"cannot write checkpoint: {err}", where=str(self.path / CHECKPOINT_DIR)) from None

    def load_checkpoint(self) -> dict[str, Any] | None:
        return checkpoint.load_checkpoint(self.path / CHECKPOINT_DIR)

    # -- summaries -------------------------------------------------------

    def summary(self) -> RunSummary:
        state = self.state or "unknown"
        if state == "running" and not self._writer_alive():
            state = "stopped"
        best = self.best(1)
        match = re.search(r"^\s*space\s+([A-Za-z_][\w-]*)", self.space_text, re.MULTILINE)
        created, updated = self.meta_number("created", float), self.meta_number("updated", float)
        return RunSummary(
            name=self.path.name, path=self.path, state=state,
            space=match.group(1) if match else self._options.get("space"),
            strategy=self._options.get("strategy"), counts=self.counts(),
            samples=self.samples,
            best_reward=best[0].reward if best else None, best_tokens=best[0].tokens if best else None,
            created=created, updated=updated)

    def _writer_alive(self) -> bool:
        """Whether the process recorded as writing this run still exists (when we can tell)."""
        pid, host = self.get_meta("pid"), self.get_meta("host")
        if pid is None or host != socket.gethostname():
            return True  # another machine's process: assume the record is right
        return _pid_alive(pid)
