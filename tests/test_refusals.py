"""Searches nascli cannot run are refused from the CLI with one line and exit 2, before
anything trains: another run's checkpoint on --resume, a strategy on a space it does not
apply to."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nascli.cli import app
from nascli.data.spec import DataSpec
from nascli.runs import RunStore
from nascli.search.enas.config import EnasConfig, enas_controller
from nascli.search.loop import SearchConfig
from nascli.search.runs import create_search

CHECKPOINT = Path("checkpoints") / "controller.pt"


def _one_line_exit_2(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    for word in words:
        assert word in result.output, result.output


def _new_run(run_dir: Path, space: str, strategy: str = "enas") -> Path:
    """A run folder with its first checkpoint, nothing trained (an ENAS run checkpoints its initial state)."""
    dataset, family = {"enas_macro": ("cifar10", "macro"), "enas_rnn": ("ptb", "dag")}.get(space, ("cifar10", None))
    enas = dict(controller=enas_controller(family, hidden=16), enas=EnasConfig.for_family(family, epochs=1)) \
        if strategy == "enas" else {}
    search = create_search(space, SearchConfig(strategy=strategy, data=DataSpec(name=dataset), budget=2, **enas),
                           run_dir)
    if strategy == "enas":
        search._checkpoint()
    search.store.close()
    return run_dir


@pytest.mark.parametrize("foreign,strategy", [("enas_macro", "enas"), ("conv", "reinforce")])
def test_enas_resume_with_another_runs_checkpoint_is_refused(runner, tmp_path, foreign, strategy):
    run = _new_run(tmp_path / "rnn", "enas_rnn")
    other = _new_run(tmp_path / "other", foreign, strategy)
    shutil.copyfile(other / CHECKPOINT, run / CHECKPOINT)  # enas_macro's weights (or a NAS controller) in an enas_rnn run
    result = runner.invoke(app, ["search", "--resume", str(run)])
    _one_line_exit_2(result, "does not fit this run's enas strategy", str(run / "checkpoints"))
    with RunStore.open_readonly(run) as store:
        assert store.children() == [] and store.epochs() == []  # nothing trained, nothing recorded
