"""Which tracking tools to write to, and where; each is an optional extra of nascli."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from ..errors import TrackingError
from .sink import Sink

TARGETS = ("tensorboard", "mlflow")
ENV_VAR = "NASCLI_TRACK"  # e.g. NASCLI_TRACK=tensorboard,mlflow
# The modules each target imports, and the extra that installs them.
_NEEDS = {"tensorboard": (("tensorboard",), "TensorBoard"), "mlflow": (("mlflow",), "MLflow")}

Target = Literal["tensorboard", "mlflow"]


def parse_targets(values: list[str] | None) -> list[Target]:
    """`["tensorboard,mlflow"]`, `["tensorboard", "mlflow"]` or `["tensorboard mlflow"]` -> both, once each,
    in the order given; an unknown name is a TrackingError."""
    found: list[Target] = []
    for name in (n.lower() for v in values or () for n in re.split(r"[,\s]+", v) if n):
        if name not in TARGETS:
            raise TrackingError(f"unknown tracking tool '{name}'; expected {' or '.join(TARGETS)} "
                                "(repeat --track, or separate them with commas)")
        if name not in found:
            found.append(name)
    return found


def require_extras(targets: list[Target]) -> None:
    """Fail before any work when a target's package is missing, naming the pip command."""
    for target in targets:
        modules, label = _NEEDS[target]
        if any(importlib.util.find_spec(m) is None for m in modules):
            raise TrackingError(f"--track {target} needs {label}, which is not installed: "
                                f"pip install 'nascli[{target}]'")


class TrackConfig(BaseModel):
    """The tracking of one search or replay (not part of the run's config: a resume chooses again)."""

    targets: list[Target] = []
    tensorboard_dir: Path | None = None  # default: RUN/tensorboard; given: DIR/<run name>
    mlflow_uri: str | None = None  # default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here
    mlflow_experiment: str | None = None  # default: MLFLOW_EXPERIMENT_NAME, else "nascli"

    def sinks(self, run_dir: Path) -> list[Sink]:
        """A fresh sink per target for the run in `run_dir`."""
        require_extras(self.targets)
        return [self._sink(t, Path(run_dir)) for t in self.targets]

    def _sink(self, target: Target, run_dir: Path) -> Sink:
        if target == "tensorboard":  # each module imports its tool: only the chosen ones load
            from .tensorboard_sink import TensorBoardSink, log_folder

            return TensorBoardSink(log_folder(run_dir, self.tensorboard_dir))
        from .mlflow_sink import MlflowSink

        return MlflowSink(self.mlflow_uri, self.mlflow_experiment)
