"""Honest output (issue 23 item 5): the accuracy or perplexity a reward was made from, with chance marked, in
the live view, `show` and `report`; a warning for a validation split too small to rank children; model.py says
what it needs; the terminal render cuts lines at a space with an ellipsis; and the small glitches."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from nascli.arch import decode
from nascli.cli import app
from nascli.plugins import load_plugin
from nascli.render import architecture_tree
from nascli.render.terminal import fit_tree
from nascli.runs import RunStore
from nascli.runs.metrics import CHANCE_KEY, Chance, format_metric

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "plugins" / "asym_conv.py"
TINY = "space tiny {\n task = image\n dataset = cifar10\n layers 2 { op: {conv_3x3, sep_conv_3x3} filters = 4 skip = previous }\n}\n"
FAST = ["--budget", "4", "--batch", "2", "--epochs", "1", "--train-subset", "32", "--seed", "1"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One tiny search on the embedded CIFAR-10 sample (10 classes, 100 validation images), and its output."""
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("honest")
    (folder / "tiny.space").write_text(TINY)
    result = CliRunner().invoke(app, ["search", str(folder / "tiny.space"), *FAST, "--run-dir", str(folder / "run")],
                                env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    return folder / "run", result.output


def test_the_live_view_shows_the_metric_with_chance_and_every_step(searched):
    run, output = searched
    assert "each trained 1 epoch on 32 training images" in output and "1 epochs" not in output
    assert "metric (chance 10.0%)" in output
    assert re.search(r"│ valid accuracy \d+\.\d% +│", output), output  # one format: a percentage
    assert "step 0: mean reward" in output and "step 1: mean reward" in output  # a line per step, not one
    lines = output.splitlines()
    done = next(i for i, line in enumerate(lines) if "done. See the best children" in line)
    assert lines[done].startswith("done.") and lines[done - 1].startswith("└")  # after the border, on its own line
    assert "warning" not in output  # 100 validation images: enough


def test_show_and_report_show_what_the_reward_was_made_from(searched, runner):
    run, _ = searched
    with RunStore.open_readonly(run) as store:
        assert Chance.loads(store.get_meta(CHANCE_KEY)) == Chance("accuracy", 0.1, 100)
        best = store.best(1)[0]
    result = runner.invoke(app, ["show", str(run)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "reward made from (chance 10.0%)" in result.output
    assert format_metric(best.metric_name, best.metric) in result.output  # e.g. "valid accuracy 14.0%"
    page = runner.invoke(app, ["report", str(run), "-o", str(run / "r.html")])
    assert page.exit_code == 0, page.output
    html = (run / "r.html").read_text()
    assert "reward made from (chance 10.0%)" in html and format_metric(best.metric_name, best.metric) in html


def test_a_run_made_before_chance_was_recorded_shows_without_it(searched, runner, tmp_path):
    import shutil
    import sqlite3

    old = tmp_path / "old"
    shutil.copytree(searched[0], old)
    with sqlite3.connect(old / "run.db") as db:
        db.execute("DELETE FROM meta WHERE key = ?", (CHANCE_KEY,))
    result = runner.invoke(app, ["show", str(old)], env={"COLUMNS": "160"})
    assert result.exit_code == 0 and "reward made from" in result.output and "(chance" not in result.output


def test_a_validation_split_too_small_to_rank_children_gets_a_warning(runner, tmp_path):
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for k in range(25):  # 50 images: 5 held out for the test split, 4 of the rest for validation
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "photos" / label / f"{k}.png")
    (tmp_path / "tiny.space").write_text(TINY.replace("dataset = cifar10", "dataset = images"))
    result = runner.invoke(app, ["search", str(tmp_path / "tiny.space"), "--dataset", "images", "--data-dir",
                                 str(tmp_path / "photos"), "--budget", "1", "--batch", "1", "--epochs", "1",
                                 "--run-dir", str(tmp_path / "run")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "warning: the validation split holds 4 examples (under 100)" in result.output
    assert "chance 50.0%" in result.output


@pytest.mark.slow
def test_model_py_says_needs_only_torch_only_when_true(runner, tmp_path):
    plain = tmp_path / "plain.py"
    assert runner.invoke(app, ["export", "enas_macro: " + " / ".join(["conv_3x3"] + ["conv_3x3 -"] * 11),
                               "-o", str(plain)]).exit_code == 0
    assert "(needs only torch)" in plain.read_text()
    load_plugin(str(PLUGIN))
    space = ROOT / "examples" / "plugins" / "asym.space"
    plugged = tmp_path / "plugged.py"
    result = runner.invoke(app, ["export", "asym: asym_conv 3 / sep_conv_3x3 0 / asym_conv 5 - / max_pool_3x3 1",
                                 "--space", str(space), "-o", str(plugged)])
    assert result.exit_code == 0, result.output
    text = plugged.read_text()
    assert "needs only torch" not in text and "needs torch and the plugin module asym_conv" in text
    assert "import asym_conv" in text


def test_the_terminal_render_cuts_lines_at_a_space_with_an_ellipsis():
    arch = decode("enas_macro: conv_3x3 / conv_5x5 0 / conv_3x3 0,1 / conv_3x3 0,1,2 / conv_3x3 0,1,2,3 / "
                  "conv_3x3 0,1,2,3,4 / conv_3x3 0,1,2,3,4,5 / conv_3x3 0,1,2,3,4,5,6 / conv_3x3 0,1,2,3,4,5,6,7 / "
                  "conv_3x3 0,1,2,3,4,5,6,7,8 / conv_3x3 0,1,2,3,4,5,6,7,8,9 / conv_3x3 0,1,2,3,4,5,6,7,8,9,10")
    full = Console(width=400, record=True, force_terminal=False)
    full.print(architecture_tree(arch))
    narrow = Console(width=60, record=True, force_terminal=False)
    narrow.print(fit_tree(architecture_tree(arch), 60))
    long_lines = [line.rstrip() for line in full.export_text().splitlines()]
    cut_lines = [line.rstrip() for line in narrow.export_text().splitlines()]
    assert len(cut_lines) == len(long_lines) and all(len(line) <= 60 for line in cut_lines)
    cut = [(short, whole) for short, whole in zip(cut_lines, long_lines) if short != whole]
    assert cut
    for short, whole in cut:
        assert short.endswith(" …")
        kept = short[:-2]
        assert whole.startswith(kept) and whole[len(kept)] == " ", (short, whole)  # cut at a space, never in a number


def test_the_render_tells_plugin_layers_apart_and_names_each_op_once():
    load_plugin(str(PLUGIN))
    arch = decode("asym: asym_conv 3 / sep_conv_3x3 0 / asym_conv 5 - / max_pool_3x3 1",
                  ROOT / "examples" / "plugins" / "asym.space")
    labels = [str(child.label) for child in architecture_tree(arch).children]
    assert "asym conv[/] 3×1 then 1×3(stem)" in labels[1] and "asym conv[/] 5×1 then 1×5(layer 1)" in labels[3]
    assert all(label.count("asym") <= 1 for label in labels)
