"""`nascli report`: charts of search runs as a PNG, or an HTML page with the best children.

    write_report(run_dirs, path, config) -> Path     .png or .html, by suffix
    write_reports(run_dirs, paths, config)           the same chart into several files
"""

from __future__ import annotations

from pathlib import Path

from ..render.output import output_format, write_output
from .history import RunHistory, load_history
from .page import report_page
from .front import FrontData, front_points
from .plot import ReportConfig, plot_runs

FORMATS = ("png", "html")


def write_report(run_dirs: list[str | Path], path: str | Path, config: ReportConfig = ReportConfig()) -> Path:
    """Chart the runs in `run_dirs` (one colour each) into `path`: a PNG, or an HTML page embedding it."""
    return write_reports(run_dirs, [path], config)[0]


def write_reports(run_dirs: list[str | Path], paths: list[str | Path], config: ReportConfig = ReportConfig()) -> list[Path]:
    """`write_report` into each of `paths`, the chart drawn once (tracking keeps both report.png and .html)."""
    paths = [Path(p) for p in paths]
    formats = [output_format(p, FORMATS) for p in paths]
    runs = [load_history(run_dir, config.top) for run_dir in run_dirs]
    png = plot_runs(runs, config)
    cost = config.cost_for(runs)
    return [write_output(p, png if fmt == "png" else report_page(runs, png, cost)) for p, fmt in zip(paths, formats)]


__all__ = ["FORMATS", "FrontData", "front_points", "ReportConfig", "RunHistory", "load_history", "plot_runs", "report_page", "write_report",
           "write_reports"]
