"""Which architecture to render or export, and where `nascli eval` keeps its trained weights.

A source is an arch.json, a token string, or the best child of a run. Weights
live where `nascli eval` writes them: `RUN/eval/child-<id>/model.pt` for
`--best`, `<stem>-eval/model.pt` beside an arch.json.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from ..arch import Architecture, decode, load_architecture
from ..children import ChildConfig
from ..data.spec import DataSpec
from ..errors import RunError
from ..runs import best_child, child_of_run, eval_dir
from ..space import load_space
from .module_source import WeightsNote


@dataclass(frozen=True)
class Located:
    arch: Architecture
    data: DataSpec  # the dataset whose task (image size and classes, or vocabulary) shapes the child
    child: ChildConfig  # the sizes the child was (or will be) trained with
    weights: WeightsNote
    run: Path | None = None  # the run folder, for the best child of a run; None: an arch.json or tokens
    child_id: int | None = None
    arch_file: Path | None = None  # the arch.json it was read from, if any


def _of_run(run: str | None, child_id: int | None) -> Located:
    """The best child of `run`, or with `child_id` that child."""
    found = best_child(run) if child_id is None else child_of_run(run, child_id)
    which = "--best" if child_id is None else f"--child {child_id}"
    weights = WeightsNote(found.eval_dir / "model.pt", f"nascli eval {which} --run {shlex.quote(str(found.run))}")
    return Located(found.arch, found.data, found.child, weights, found.run, found.child_id)


def locate(source: str | None, best: bool = False, run: str | None = None, dataset: str | None = None,
           data_dir: Path | None = None, space: str | None = None, force: bool = False, child_id: int | None = None,
           **data_options) -> Located:
    """The architecture `source` names (an arch.json or a token string), with `best` the best child of `run`,
    or with `child_id` that child of `run` (`source`, if given, then names the run instead of --run).

    `dataset`, `data_dir` (default: the space's dataset, embedded sample) and `data_options` (DataSpec
    fields such as image_size or target) apply to an arch.json or token string; a run's child uses the
    run's own data and child sizes. `space` replaces the space file the source names; `force` takes an
    arch.json made from another version of its space.
    """
    if child_id is not None:
        if best or (source is not None and run is not None):
            raise RunError("--child takes one run (RUN or --run RUN), without --best")
        return _of_run(source if source is not None else run, child_id)
    if best == (source is not None):
        raise RunError("give an arch.json, a token string, --best [--run RUN] or --child ID [--run RUN]")
    if best:
        return _of_run(run, None)
    if source.endswith(".json") or Path(source).is_file():
        path = Path(source)
        arch = load_architecture(path, space, force)
        weights = WeightsNote(eval_dir(path) / "model.pt", f"nascli eval {shlex.quote(source)}")
    else:
        arch, path = decode(source, space), None
        weights = WeightsNote(eval_dir(Path("arch.json")) / "model.pt",
                              f"nascli decode {shlex.quote(source)} -o arch.json && nascli eval arch.json")
    data = DataSpec.for_space(load_space(space or arch.space), dataset, data_dir, **data_options)
    return Located(arch, data, ChildConfig(), weights, arch_file=path)  # `nascli eval`'s sizes
