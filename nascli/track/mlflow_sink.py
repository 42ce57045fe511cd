"""The MLflow sink: one parent run per search, one nested run per child.

Parent run (named after the run folder, tagged `nascli.run_key`): the search
options (config.json, flattened) as params; config.json and space.space as
artifacts; the series of feed.py as metrics (`controller/baseline`, ...); at
the end the report (report.png, report.html), the best architecture's figure,
tags naming the best child, and the run's status (FINISHED, FAILED, or KILLED
for a stopped search). Child runs (`child-7`, nested under the parent): the
decisions as params, reward, the validation metric, params, macs, seconds and
status (1 done, 0 failed) as metrics, the token string, status and error as
tags, arch.json as an artifact; FINISHED or FAILED as the child was.

Tracking URI: `--mlflow-uri`, else MLFLOW_TRACKING_URI, else
`sqlite:///mlflow.db` in the current folder (MLflow 3's own default, so
`mlflow ui` started there shows it). Nothing is written twice: at open the sink
finds the parent run by its key, the children already logged under it (a
child run left RUNNING by a killed write is deleted and logged again) and the
metric steps already there, and skips them.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

from ..errors import TrackingError
from .feed import Point, TrackedChild, child_metrics
from .sink import Finale, RunInfo, WritesOnce

DEFAULT_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "nascli"
PARENT_TAG, CHILD_TAG, RUN_KEY = "mlflow.parentRunId", "nascli.child_id", "nascli.run_key"
_BATCH = 100  # MLflow takes at most 100 params and 1000 metrics per log_batch
_VALUE_LIMIT = 6000  # MLflow's longest param value
_STATUS = {"finished": "FINISHED", "failed": "FAILED"}  # stopped, or ended without saying: KILLED


def default_uri() -> str:
    """The tracking URI used when none is given: MLFLOW_TRACKING_URI, else `sqlite:///mlflow.db` here."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"


def flat_params(options: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested search options as MLflow params: `train.epochs` -> "2"."""
    flat: dict[str, str] = {}
    for key, value in options.items():
        if isinstance(value, dict) and value:
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            flat[f"{prefix}{key}"] = text[:_VALUE_LIMIT]
    return flat


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


class MlflowSink(WritesOnce):
    target = "mlflow"
    wants_report = True

    def __init__(self, uri: str | None = None, experiment: str | None = None):
        super().__init__()
        self.uri = uri or default_uri()
        self.experiment = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        self.parent: str | None = None

    def open(self, run: RunInfo) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment_id = self._experiment_id()
        found = self.client.search_runs([self.experiment_id], f"tags.`{RUN_KEY}` = '{run.key}'", max_results=1)
        if found:
            self.parent = found[0].info.run_id
            self.client.update_run(self.parent, status="RUNNING")
            self.written_children = self._logged_children()
            self.written_points = self._logged_points()
        else:
            self.parent = self._create_parent(run)
        for name, path in run.files.items():
            self.client.log_artifact(self.parent, str(path))

    def _experiment_id(self) -> str:
        from mlflow.exceptions import MlflowException

        experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment is None:
            try:
                return self.client.create_experiment(self.experiment)
            except MlflowException:  # another search created it just now
                experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment.lifecycle_stage != "active":
            raise TrackingError(f"MLflow experiment '{self.experiment}' is deleted; restore it or choose another "
                                "with --mlflow-experiment", where=self.uri)
        return experiment.experiment_id

    def _create_parent(self, run: RunInfo) -> str:
        from mlflow.entities import Param

        tags = {RUN_KEY: run.key, "nascli.run_dir": str(run.path), "nascli.space": run.space,
                "nascli.strategy": run.strategy}
        parent = self.client.create_run(self.experiment_id, start_time=_ms(run.created), tags=tags,
                                        run_name=run.name).info.run_id
        params = [Param(k, v) for k, v in flat_params(run.options).items()]
        for i in range(0, len(params), _BATCH):
            self.client.log_batch(parent, params=params[i:i + _BATCH])
        return parent

    def _logged_children(self) -> set[int]:
        """Child runs already under the parent; one left RUNNING (its write was cut short) is deleted.
        Runs nested there by anything else (no `nascli.child_id` tag) are left alone."""
        logged, token = set(), None
        while True:
            page = self.client.search_runs([self.experiment_id], f"tags.`{PARENT_TAG}` = '{self.parent}'",
                                           max_results=1000, page_token=token)
            for child in (c for c in page if CHILD_TAG in c.data.tags):
                if child.info.status == "RUNNING":
                    self.client.delete_run(child.info.run_id)
                else:
                    logged.add(int(child.data.tags[CHILD_TAG]))
            token = page.token
            if not token:
                return logged

    def _logged_points(self) -> set[tuple[str, int]]:
        keys = self.client.get_run(self.parent).data.metrics
        return {(key, m.step) for key in keys for m in self.client.get_metric_history(self.parent, key)}

    def write_points(self, points: list[Point]) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(p.tag, p.value, _ms(p.time), p.step) for p in points]
        for i in range(0, len(metrics), 10 * _BATCH):
            self.client.log_batch(self.parent, metrics=metrics[i:i + 10 * _BATCH])

    def write_child(self, child: TrackedChild) -> None:
        """A nested run; its status is set last, so a run left RUNNING was cut short (see `_logged_children`)."""
        from mlflow.entities import Metric, Param

        c = child.record
        tags = {PARENT_TAG: self.parent, CHILD_TAG: str(c.id), "nascli.tokens": c.tokens[:_VALUE_LIMIT],
                "nascli.status": c.status, "nascli.step": str(c.step)}
        tags.update({f"nascli.{k}": str(v)[:_VALUE_LIMIT] for k, v in
                     (("error", c.error), ("depth", c.depth), ("device", c.device)) if v is not None})
        run_id = self.client.create_run(self.experiment_id, start_time=_ms(c.created), tags=tags,
                                        run_name=f"child-{c.id}").info.run_id
        at = _ms(c.finished or c.created)
        metrics = [Metric(name, value, at, 0) for name, value in child_metrics(c).items()]
        params = [Param(k, str(v)[:_VALUE_LIMIT]) for k, v in child.decisions.items()]
        for i in range(0, max(len(params), 1), _BATCH):
            self.client.log_batch(run_id, metrics=metrics if i == 0 else [], params=params[i:i + _BATCH])
        self.client.log_text(run_id, c.arch_json, "arch.json")
        self.client.set_terminated(run_id, "FINISHED" if c.status == "done" else "FAILED", end_time=at)

    def finish(self, finale: Finale) -> None:
        for path in [*([finale.figure] if finale.figure else []), *finale.report]:
            self.client.log_artifact(self.parent, str(path))
        self.client.set_tag(self.parent, "nascli.state", finale.state)
        if finale.best is not None:
            self.client.set_tag(self.parent, "nascli.best_child_id", str(finale.best.id))
            self.client.set_tag(self.parent, "nascli.best_tokens", finale.best.tokens[:_VALUE_LIMIT])
        self.client.set_terminated(self.parent, _STATUS.get(finale.state, "KILLED"), end_time=_ms(finale.ended))

    def close(self) -> None:
        """Nothing held open: every call above is complete when it returns."""

    def where(self) -> str:
        run = f", run {self.parent}" if self.parent else ""
        return (f"experiment '{self.experiment}'{run} at {self.uri}; open with: "
                f"mlflow ui --backend-store-uri {shlex.quote(self.uri)}")
