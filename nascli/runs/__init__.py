"""Run folders: the store the search writes, and what `runs`, `show`, `report`, `export` and `eval` read."""

from .lookup import (RUNS_ROOT, BestChild, RunSettings, best_child, default_run_dir, eval_dir, find_run, list_runs,
                     run_settings, run_space)
from .store import ChildRecord, EpochRecord, RunStore, RunSummary, StepRecord

__all__ = ["RUNS_ROOT", "BestChild", "ChildRecord", "EpochRecord", "RunSettings", "RunStore", "RunSummary", "StepRecord",
           "best_child", "default_run_dir", "eval_dir", "find_run", "list_runs", "run_settings", "run_space"]
