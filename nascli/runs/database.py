"""SQLite connections to a run database: the writer's (WAL) and readers' (read-only, or
immutable on read-only media), with sqlite3's exceptions turned into RunErrors."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import RunError

BUSY_TIMEOUT_S = 30.0  # how long a connection waits for another's write before reporting a lock


@contextmanager
def sql_errors(db: Path) -> Iterator[None]:
    """Turn sqlite3's exceptions into RunErrors that name the database."""
    try:
        yield
    except sqlite3.OperationalError as err:
        text = str(err)
        if "locked" in text or "busy" in text:
            message = "run database is locked by another process"
        elif "no such table" in text or "no such column" in text:
            message = f"not a nascli run database ({text})"
        elif "readonly" in text:
            message = "run database is read-only here"
        else:
            message = f"run database error: {text}"
        raise RunError(message, where=str(db)) from None
    except sqlite3.DatabaseError as err:  # "file is not a database", "disk image is malformed"
        raise RunError(f"run database is corrupt: {err}", where=str(db)) from None
    except sqlite3.Error as err:
        raise RunError(f"run database error: {err}", where=str(db)) from None


def connect(db: Path, readonly: bool, durable: bool = True) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so every
    # transaction is exactly as long as the code between them.
    if readonly:
        return _connect_readonly(db)
    with sql_errors(db):
        conn = sqlite3.connect(str(db), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        set_durable(conn, durable)
    return conn


def set_durable(conn: sqlite3.Connection, durable: bool) -> None:
    """synchronous=NORMAL: commits survive the process dying, and a power cut loses at most the last
    few; OFF (not durable: benchmark runs) never fsyncs, which a process dying does not need either."""
    conn.execute(f"PRAGMA synchronous={'NORMAL' if durable else 'OFF'}")


def _connect_readonly(db: Path) -> sqlite3.Connection:
    """A reader's connection. On read-only media, where SQLite cannot create the WAL's
    shared-memory file, the database is opened as immutable: nothing can change it there."""
    with sql_errors(db):
        try:
            return _open_uri(db, "mode=ro")
        except sqlite3.OperationalError as err:
            if "unable to open" not in str(err) or os.access(db.parent, os.W_OK):
                raise
            return _open_uri(db, "mode=ro&immutable=1")


def _open_uri(db: Path, query: str) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?{query}", uri=True, timeout=BUSY_TIMEOUT_S,
                           isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # SQLite opens lazily: open now
    except sqlite3.Error:
        conn.close()
        raise
    return conn
