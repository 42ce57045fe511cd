"""The run store's rung rows (`--rungs`, search/rungs.py): what each child reached at each rung.

Table `rungs` holds one row per (child, rung): the epochs trained by its end,
`running` while a promotion trains it, then `done` or `failed` with the
child's reward, metric and the seconds that rung took. The child's own row in
`children` carries the highest rung it finished (`rung`) and, from it, its
reward and metric, with `seconds` the sum over its rungs: so every view that
reads children (best, show, report, eval --best) sees each child at its
highest rung. A rung's row and the child's row change in one transaction.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from ..errors import RunError
from .records import RungRecord

RUNGS_TABLE = """
CREATE TABLE IF NOT EXISTS rungs (
    child_id INTEGER NOT NULL, rung INTEGER NOT NULL, epochs INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    reward REAL, metric REAL, seconds REAL, error TEXT, started REAL NOT NULL, finished REAL,
    PRIMARY KEY (child_id, rung))
"""


class RungRows:
    """Mixed into RunStore: its rung rows. Uses the store's `_write` and `_rows`."""

    _rung_column: bool | None = None

    def has_rungs_column(self) -> bool:
        """Whether `children` has its `rung` column (a schema-1 run opened read-only does not)."""
        if self._rung_column is None:
            self._rung_column = any(r["name"] == "rung" for r in self._rows("PRAGMA table_info(children)"))
        return self._rung_column

    @staticmethod
    def _insert_rung(db: sqlite3.Connection, child_id: int, rung: int, epochs: int, status: str,
                     fields: dict[str, Any], now: float) -> None:
        db.execute("INSERT OR REPLACE INTO rungs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (child_id, rung, epochs, status, fields.get("reward"), fields.get("metric"),
                    fields.get("seconds"), fields.get("error"), now, now))

    def start_rung(self, child_id: int, rung: int, epochs: int) -> None:
        """A promotion of `child_id` to `rung` begins (a kill leaves it `running`, to be trained again)."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO rungs (child_id, rung, epochs, status, started) "
                       "VALUES (?, ?, ?, 'running', ?)", (child_id, rung, epochs, time.time()))

    def finish_rung(self, child_id: int, rung: int, epochs: int, status: str, reward: float,
                    metric: float | None, seconds: float, error: str | None = None) -> None:
        """A promotion's result; a `done` one becomes the child's reward and metric, its seconds added."""
        now = time.time()
        with self._write() as db:
            started = db.execute("SELECT started FROM rungs WHERE child_id = ? AND rung = ?", (child_id, rung))
            first = started.fetchone()
            db.execute("INSERT OR REPLACE INTO rungs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (child_id, rung, epochs, status, reward, metric, seconds, error,
                        first[0] if first else now, now))
            add = "reward = ?, metric = ?, rung = ?, " if status == "done" else ""
            values = (reward, metric, rung) if status == "done" else ()
            db.execute(f"UPDATE children SET {add}seconds = seconds + ? WHERE id = ?", (*values, seconds, child_id))

    def rungs(self, child_id: int | None = None, rung: int | None = None) -> list[RungRecord]:
        """Rung rows (all, one child's, one rung's), by child and rung; none for a run without rungs."""
        if not self._rows("SELECT name FROM sqlite_master WHERE name = 'rungs'"):
            return []
        where = [(c, v) for c, v in (("child_id = ?", child_id), ("rung = ?", rung)) if v is not None]
        sql = "SELECT * FROM rungs" + (" WHERE " + " AND ".join(c for c, _ in where) if where else "")
        return [RungRecord(**dict(r)) for r in self._rows(sql + " ORDER BY child_id, rung", tuple(v for _, v in where))]

    def children_at_rung(self, rung: int) -> list:
        """The children that finished `rung`, each with that rung's reward and metric (by id); a RunError for a
        run without rungs."""
        rows = {r.child_id: r for r in self.rungs(rung=rung) if r.status == "done"}
        if not self.rungs():
            raise RunError("the run has no rungs (it was not searched with --rungs)", where=str(self.path))
        return [c.model_copy(update={"reward": rows[c.id].reward, "metric": rows[c.id].metric})
                for c in self.children("done") if c.id in rows]

    def child(self, child_id: int):
        """One child's record (a RunError when there is none)."""
        rows = self._rows("SELECT * FROM children WHERE id = ?", (child_id,))
        if not rows:
            raise RunError(f"no child {child_id}", where=str(self.path))
        return self._child(rows[0])
