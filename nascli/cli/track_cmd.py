"""`nascli track`: replay a run into TensorBoard or MLflow."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..errors import TrackingError
from ..runs import find_run
from ..track import ENV_VAR, replay
from .app import command, out
from .track_options import MlflowExperimentOpt, MlflowUriOpt, TensorBoardDirOpt, track_config, warn


@command("track")
def track(
    run: Annotated[Optional[str], typer.Argument(help="Run folder or name (default: the most recent).")] = None,
    to: Annotated[Optional[list[str]], typer.Option(
        "--to", envvar=ENV_VAR, metavar="TOOL",
        help="tensorboard and/or mlflow (repeat, or separate with commas).")] = None,
    tensorboard_dir: TensorBoardDirOpt = None,
    mlflow_uri: MlflowUriOpt = None,
    mlflow_experiment: MlflowExperimentOpt = None,
) -> None:
    """Write a finished or stopped run to TensorBoard or MLflow, also one made before nascli could track.

    What the tool already holds of the run is kept and not written again, so replaying twice changes
    nothing, and replaying a run that a resume extended adds only its new children."""
    config = track_config(to, tensorboard_dir, mlflow_uri, mlflow_experiment)
    if not config.targets:
        raise TrackingError("say where to: --to tensorboard, --to mlflow, or both")
    path = find_run(run)
    for sink in replay(path, config.sinks(path), notice=warn):
        t = sink.tally
        out.print(f"{sink.target}: {t.children} children written ({t.children_present} already there), "
                  f"{t.points} points; {escape(sink.where())}", soft_wrap=True)
