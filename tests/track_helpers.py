"""Run stores for the tracking tests, built in well under a second: real spaces, real token strings,
results written through the store as a search writes them (no training)."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from nascli.arch.sample import sample_architecture
from nascli.data.spec import DataSpec
from nascli.runs import EpochRecord, RunStore
from nascli.search.enas.config import EnasConfig
from nascli.search.loop import SearchConfig
from nascli.space import load_space, read_space_text
from nascli.space.compiler import compile_space
from nascli.train import TrainConfig


def make_run(run_dir: Path, space: str = "conv", strategy: str = "reinforce", steps: int = 2, batch: int = 3,
             fail: tuple[int, ...] = (2,), leave_pending: int = 0, state: str = "finished") -> Path:
    """A run of `steps` controller steps of `batch` children each; the children whose ids are in `fail`
    failed, the last `leave_pending` were still training when the run stopped (their step has no update yet).
    Rewards are 0.01 * id."""
    ir = load_space(space)
    compiled = compile_space(ir)
    config = SearchConfig(strategy=strategy, data=DataSpec.for_space(ir), budget=steps * batch, batch=batch,
                          train=TrainConfig.proxy("image", epochs=1, subset=16),  # a resume trains in seconds
                          enas=EnasConfig(epochs=steps) if strategy == "enas" else None)
    store = RunStore.create(run_dir, config.model_dump(mode="json"), read_space_text(ir.source), ir.sha256)
    rng, total = random.Random(0), steps * batch
    try:
        for step in range(steps):
            depth = compiled.depth_at(step * batch)
            archs = [sample_architecture(compiled, rng, depth) for _ in range(batch)]
            ids = store.add_children(step, depth, [(a.tokens, a.model_dump_json()) for a in archs])
            store.mark_running(ids)
            for child_id in ids:
                if child_id > total - leave_pending:
                    continue
                if child_id in fail:
                    store.fail_child(child_id, "diverged: validation valid_accuracy is nan", 0.0, 0.5)
                else:
                    store.finish_child(child_id, 0.01 * child_id, 0.2 + child_id / 100, "valid_accuracy",
                                       1000 + child_id, 123_456_789 + child_id, 1.5 + child_id)
            if strategy == "enas":
                store.record_epoch(EpochRecord(epoch=step, shared_loss=2.0 - step / 10, valid_reward=0.1 * step,
                                               entropy=30.0 - step, baseline=0.05 * step, lr=0.05, seconds=4.0,
                                               controller_seconds=0.5, time=1_700_000_000.0 + step))
            if not any(i > total - leave_pending for i in ids):  # a step updates once all its children closed
                store.record_step(step, 0.001 * step, 0.02 * (step + 1), -0.5 + step, 35.0 - step, depth)
        store.state = state
    finally:
        store.close()
    return run_dir


def make_schema_1(run_dir: Path) -> None:
    """Make a run look as one made before schema 2 (no log_prob or device columns, no enas_epochs table)."""
    conn = sqlite3.connect(run_dir / "run.db")
    conn.executescript("ALTER TABLE children DROP COLUMN device; ALTER TABLE children DROP COLUMN log_prob; "
                       "DROP TABLE enas_epochs; UPDATE meta SET value = '1' WHERE key = 'schema_version';")
    conn.close()
