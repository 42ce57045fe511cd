"""The tracking options of `nascli search` and `nascli track`, and the live tracker around a search."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, ContextManager, Optional

import typer
from rich.markup import escape

from ..errors import TrackingError
from ..track import ENV_VAR, TrackConfig, Tracker, parse_targets, require_extras
from .app import err, out

PANEL = "Tracking"
TensorBoardDirOpt = Annotated[Optional[Path], typer.Option(
    help="TensorBoard log folder: the run's events go into DIR/<run name> (default: RUN/tensorboard).",
    rich_help_panel=PANEL)]
MlflowUriOpt = Annotated[Optional[str], typer.Option(
    help="MLflow tracking URI, e.g. sqlite:///mlflow.db or http://host:5000 (default: $MLFLOW_TRACKING_URI, "
         "else sqlite:///mlflow.db in the current folder).", rich_help_panel=PANEL)]
MlflowExperimentOpt = Annotated[Optional[str], typer.Option(
    help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME, else nascli).", rich_help_panel=PANEL)]
TrackOpt = Annotated[Optional[list[str]], typer.Option(
    "--track", envvar=ENV_VAR, metavar="TOOL",
    help="Also show the search in tensorboard and/or mlflow as it runs (repeat, or separate with commas); "
         "a tracking failure is a warning, never the search's. See docs/tracking.md.", rich_help_panel=PANEL)]


def track_config(targets: list[str] | None, tensorboard_dir: Path | None, mlflow_uri: str | None,
                 mlflow_experiment: str | None) -> TrackConfig:
    """The options as a TrackConfig; a missing extra fails now, before any work."""
    config = TrackConfig(targets=parse_targets(targets), tensorboard_dir=tensorboard_dir, mlflow_uri=mlflow_uri,
                         mlflow_experiment=mlflow_experiment)
    for option, value, target in (("--tensorboard-dir", tensorboard_dir, "tensorboard"),
                                  ("--mlflow-uri", mlflow_uri, "mlflow"), ("--mlflow-experiment", mlflow_experiment, "mlflow")):
        if value is not None and target not in config.targets:
            raise TrackingError(f"{option} applies when tracking to {target} (add it to --track / --to)")
    require_extras(config.targets)
    if "mlflow" in config.targets:
        logging.getLogger("mlflow").setLevel(logging.WARNING)  # its INFO lines would break into the live view
    return config


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(message)}", soft_wrap=True)


def live_tracking(run_dir: Path, config: TrackConfig) -> ContextManager[Tracker | None]:
    """A Tracker around the search when it tracks anything (printing where each tool writes)."""
    if not config.targets:
        return nullcontext()
    sinks = config.sinks(run_dir)
    for sink in sinks:
        out.print(f"tracking to {sink.target}: {escape(sink.where())}", soft_wrap=True)
    return Tracker(run_dir, sinks, warn)
