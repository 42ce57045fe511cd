"""Run folders: the store the search writes, and what `runs`, `show`, `report`, `export` and `eval` read."""

from .lookup import (RUNS_ROOT, BestChild, RunSettings, best_child, child_of_run, default_run_dir, eval_dir, find_run, list_runs,
                     run_settings, run_space)
from .records import ChildRecord, EpochRecord, RunSummary, StepRecord
from .store import RunStore

__all__ = ["RUNS_ROOT", "BestChild", "ChildRecord", "EpochRecord", "RunSettings", "RunStore", "RunSummary", "StepRecord",
           "best_child", "child_of_run", "default_run_dir", "eval_dir", "find_run", "list_runs", "run_settings", "run_space"]
