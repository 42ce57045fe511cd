"""`nascli report`: charts of search runs as a PNG, or an HTML page with the best children.

    write_report(run_dirs, path, config) -> Path     .png or .html, by suffix
"""

from __future__ import annotations

from pathlib import Path

from ..render.output import output_format, write_output
from .history import RunHistory, load_history
from .page import report_page
from .plot import ReportConfig, plot_runs

FORMATS = ("png", "html")


def write_report(run_dirs: list[str | Path], path: str | Path, config: ReportConfig = ReportConfig()) -> Path:
    """Chart the runs in `run_dirs` (one colour each) into `path`: a PNG, or an HTML page embedding it."""
    path = Path(path)
    fmt = output_format(path, FORMATS)
    runs = [load_history(run_dir, config.top) for run_dir in run_dirs]
    png = plot_runs(runs, config)
    return write_output(path, png if fmt == "png" else report_page(runs, png))


__all__ = ["FORMATS", "ReportConfig", "RunHistory", "load_history", "plot_runs", "report_page", "write_report"]
