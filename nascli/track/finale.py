"""The last things tracking writes: the best architecture's figure and the run's report.

Both are drawn by nascli's own `render` and `report` into a temporary folder,
from the run store. Without Graphviz's `dot` the figure is the DOT text
(MLflow keeps it as an artifact; TensorBoard, which shows images only, gets
none) and the caller is told once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..arch import Architecture
from ..errors import NasError
from ..runs import ChildRecord, RunStore, run_settings
from .sink import Finale

FIGURE_NAME = "best-architecture.png"
Notice = Callable[[str], None]


def _image_shape(store: RunStore, notice: Notice) -> tuple[int, int, int] | None:
    """(channels, height, width) of the run's images, which a conv child's figure is sized by."""
    try:
        task = run_settings(store).data.load().task
    except NasError as err:
        notice(f"the run's data cannot be loaded to size the figure ({err}); drawn for 32×32 RGB images")
        return None
    return task.channels, task.height, task.width


def draw_best(store: RunStore, best: ChildRecord, folder: Path, notice: Notice) -> Path | None:
    """The best child's figure as a PNG (or, without Graphviz, its DOT text); None when it cannot be drawn."""
    from ..render import draw, has_dot  # graphviz loads only when a figure is drawn
    from ..render.conv import IMAGE_SHAPE

    figure = folder / FIGURE_NAME
    if not has_dot():
        notice("graphviz's `dot` is not installed, so the best architecture is not tracked as an image (MLflow "
               "keeps its DOT text); for images: apt-get install graphviz, or brew install graphviz")
        figure = figure.with_suffix(".dot")
    try:
        arch = Architecture.model_validate_json(best.arch_json)
        shape = _image_shape(store, notice) if arch.task == "image" else None
        return draw(arch, figure, shape or IMAGE_SHAPE)
    except Exception as err:  # noqa: BLE001 - graphviz's own errors too: the rest of the finale goes on
        notice(f"the best architecture cannot be drawn ({type(err).__name__}: {err}); tracked without its figure")
        return None


def write_report_files(run_dir: Path, folder: Path, notice: Notice) -> list[Path]:
    """`nascli report`'s chart and page of the run: report.png and report.html (none when it cannot be drawn)."""
    from ..report import write_reports  # matplotlib loads only when a report is drawn

    try:
        return write_reports([run_dir], [folder / "report.png", folder / "report.html"])
    except Exception as err:  # noqa: BLE001 - a report that cannot be drawn leaves the rest of the finale
        notice(f"the run's report cannot be drawn ({type(err).__name__}: {err}); tracked without it")
        return []


def make_finale(store: RunStore, trained: int, folder: Path, with_report: bool, notice: Notice) -> Finale:
    """How the run stands now, with its figure and (when a sink wants it) its report drawn into `folder`."""
    best = store.best(1)
    ended = store.meta_number("updated", float) or time.time()  # the run's last write (a finished run: its finish)
    return Finale(state=store.summary().state, ended=ended, trained=trained, best=best[0] if best else None,
                  figure=draw_best(store, best[0], folder, notice) if best else None,
                  report=write_report_files(store.path, folder, notice) if with_report else [])
