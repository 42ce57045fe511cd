"""Tracking: a search seen in TensorBoard and MLflow, replayed from its run store.

    TrackConfig(targets, ...).sinks(run_dir) -> [Sink]    a sink per tool (extras: nascli[tensorboard], nascli[mlflow])
    Tracker(run_dir, sinks, warn)                          live, beside a search: a background thread
    replay(run_dir, sinks, notice) -> [Sink]               afterwards: `nascli track RUN --to ...`

The run store stays the source of truth: a sink replays its records (closed
children, controller steps, ENAS epochs; feed.py), so the live tracker and a
replay write the same things, and a sink skips what its destination already
holds of the run.
"""

from .config import ENV_VAR, TARGETS, TrackConfig, parse_targets, require_extras
from .session import Tracker, replay

__all__ = ["ENV_VAR", "TARGETS", "TrackConfig", "Tracker", "parse_targets", "replay", "require_extras"]
