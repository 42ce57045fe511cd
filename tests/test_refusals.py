"""Searches nascli cannot run are refused from the CLI with one line and exit 2, before
anything trains: another run's checkpoint on --resume, a strategy on a space it does not
apply to."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from nascli.cli import app
from nascli.data import load_dataset
from nascli.data.spec import DataSpec
from nascli.errors import NasError
from nascli.resources import spaces_dir
from nascli.runs import RunStore
from nascli.search.enas.config import EnasConfig, enas_controller
from nascli.search.enas.supernet import APPLIES_TO, search_depth, space_family
from nascli.search.loop import SearchConfig
from nascli.search.runs import create_search
from nascli.space import load_space
from nascli.space.compiler import compile_space

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


BUNDLED = sorted(p.stem for p in spaces_dir().glob("*.space"))
# Tiny ENAS settings per task; spaces whose ENAS search tests/test_enas.py already runs are left out here.
ENAS_TINY = ["--strategy", "enas", "--epochs", "1", "--controller-steps", "1", "--batch", "2", "--budget", "2",
             "--controller-hidden", "16"]
ENAS_DATA = {"image": ["--train-subset", "16", "--shared-batch-size", "8", "--derive-subset", "40"],
             "language": ["--train-subset", "1200", "--shared-batch-size", "4", "--derive-subset", "400"]}
REFUSED = {"mlp": "mlp: --strategy enas does not apply to a tabular space",
           "mobilenet": "mobilenet, layer 1: --strategy enas does not apply here: it cannot share the weights of op 'mbconv'",
           "resnet": "resnet, layer 1: ENAS shares the weights of NAS-wired layers that concatenate their inputs"}


def _enas_verdict(space: str, tasks: dict = {}) -> str | None:
    """None where ENAS can search the space, else the NasError it is refused with."""
    compiled = compile_space(load_space(space))
    dataset = str(compiled.default_setting("dataset"))
    if dataset not in tasks:
        tasks[dataset] = load_dataset(dataset, None).task if dataset != "csv" else None  # csv needs a file
    try:
        space_family(compiled, search_depth(compiled, None), tasks[dataset])
    except NasError as err:
        return str(err)
    return None


def test_the_spaces_enas_says_it_applies_to_are_the_bundled_ones_it_searches():
    named = set(re.findall(r"\b([a-z][a-z0-9_]+)\b", APPLIES_TO.split("(", 1)[1])) & set(BUNDLED)
    accepted = {space for space in BUNDLED if _enas_verdict(space) is None}
    assert named == accepted == set(BUNDLED) - set(REFUSED)


@pytest.mark.parametrize("space", sorted(REFUSED))
def test_enas_on_a_space_it_does_not_apply_to_is_refused_before_a_run_folder(runner, tmp_path, space):
    run = tmp_path / "r"
    result = runner.invoke(app, ["search", space, *ENAS_TINY, "--run-dir", str(run)])
    _one_line_exit_2(result, REFUSED[space], "--strategy reinforce or random")
    assert not run.exists()


@pytest.mark.slow
@pytest.mark.parametrize("space", ["conv", "conv_pool", "conv_strides", "rnn", "rnn_base2"])
def test_enas_searches_every_other_bundled_space_from_the_cli(runner, tmp_path, space):
    task = str(compile_space(load_space(space)).default_setting("task"))
    result = runner.invoke(app, ["search", space, *ENAS_TINY, *ENAS_DATA[task], "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    with RunStore.open_readonly(tmp_path / "r") as store:
        assert [c.status for c in store.children()] == ["done", "done"]


@pytest.mark.parametrize("options", [["--workers", "4"], ["--async", "2", "--backend", "ray"], ["--child-timeout", "9"]])
def test_options_about_where_children_train_are_refused_for_enas_not_ignored(runner, tmp_path, options):
    result = runner.invoke(app, ["search", "enas_macro", *ENAS_TINY, *options, "--run-dir", str(tmp_path / "new")])
    _one_line_exit_2(result, f"{options[0]}", "not apply to --strategy enas")
    assert not (tmp_path / "new").exists()
    run = _new_run(tmp_path / "old", "enas_rnn")
    result = runner.invoke(app, ["search", "--resume", str(run), "--workers", "2"])
    _one_line_exit_2(result, "--workers does not apply to --strategy enas")
