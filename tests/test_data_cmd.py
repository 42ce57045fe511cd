"""`nascli data`, and search / eval / export / render on the user's own data from the CLI."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import typer.main
from PIL import Image

from conftest import SHARED_DATA
from nascli.cli import app
from nascli.runs import RunStore

FAST = ["--budget", "2", "--batch", "2", "--epochs", "1", "--train-subset", "64"]


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASCLI_CACHE", str(tmp_path / "cache"))


def shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data not present at {path}")
    return path


def ok(runner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_data_describes_an_image_folder(runner, tmp_path) -> None:
    out = ok(runner, "data", str(shared("digits-png")))
    assert "kind:       images" in out and "8×8, 1 channel" in out and "train 1,455, valid 162, test 180" in out
    assert str(tmp_path / "cache" / "images") in out and "seed 0" in out


def test_data_describes_a_table_and_a_corpus(runner) -> None:
    out = ok(runner, "data", str(shared("tabular/breast_cancer.csv")), "--target", "target")
    assert "kind:       csv" in out and "30 (30 numeric, 0 one-hot)" in out and "classes:    2" in out
    out = ok(runner, "data", str(shared("ptb-mini")), "--tokens", "char")
    assert "kind:       text" in out and "char tokens" in out


def _write_png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (4, 4)).save(path)


@pytest.mark.parametrize("make, args, message", [
    (lambda d: (d / "a").mkdir(parents=True) or _write_png(d / "b" / "0.png"), [], "class folder has no images"),
    (lambda d: _write_png(d / "a" / "0.png") or (d / "a" / "1.png").write_text("x"), [], "unreadable image"),
    (lambda d: _write_png(d / "train" / "a" / "0.png") or _write_png(d / "val" / "z" / "0.png"), [],
     "class 'z' of valid is not in train"),
    (lambda d: d.mkdir() or (d / "t.csv").write_text("a,b\n1,2\n"), ["--target", "y"], "no column named 'y' in the header"),
    (lambda d: d.mkdir() or (d / "t.txt").write_bytes(b"\x00\x01binary"), ["--dataset", "text"], "not a text file"),
    (lambda d: None, [], "no such file or folder"),
])
def test_data_problems_are_one_line_exit_2(runner, tmp_path, make, args, message) -> None:
    folder = tmp_path / "d"
    make(folder)
    target = next((p for p in folder.iterdir() if p.is_file()), folder) if folder.exists() else folder
    result = runner.invoke(app, ["data", str(target), *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.slow
def test_search_eval_export_render_on_an_image_folder(runner, tmp_path) -> None:
    run = tmp_path / "run"
    ok(runner, "search", "conv", "--dataset", "images", "--data-dir", str(shared("digits-png")), "--image-size", "6",
       *FAST, "--workers", "2", "--run-dir", str(run))
    with RunStore.open_readonly(run) as store:
        assert store.config["data"]["image_size"] == 6 and store.config["data"]["name"] == "images"
        assert [c.status for c in store.children()] == ["done", "done"]  # workers reloaded the same data
    result = json.loads(ok(runner, "eval", "--best", "--run", str(run), "--epochs", "1", "--json"))
    assert result["dataset"] == "images" and result["metric_name"] == "test_accuracy"
    ok(runner, "export", "--best", "--run", str(run), "-o", str(tmp_path / "model.py"))
    assert "(B, 1, 6, 6) -> (B, 10)" in (tmp_path / "model.py").read_text()
    assert "image 6×6×1" in ok(runner, "render", "--best", "--run", str(run))


def test_search_on_a_text_file_is_labelled_text(runner, tmp_path) -> None:
    run = tmp_path / "lm"
    out = ok(runner, "search", "rnn_base2", "--dataset", "text", "--data-dir", str(shared("ptb-mini/ptb.valid.txt")),
             "--vocab-size", "500", *FAST[:6], "--train-subset", "2000", "--run-dir", str(run))
    assert "on text from" in out and "ptb" not in out.split("from")[0]
    with RunStore.open_readonly(run) as store:
        assert store.config["data"]["vocab_size"] == 500 and len(store.children()) == 2


def test_help_states_the_data_defaults(runner) -> None:
    # "[default: ...]" unescaped is rich markup: typer's help dropped it, and with it the defaults
    shown = " ".join(runner.invoke(app, ["data", "--help"]).output.replace("│", " ").split())
    for default in ("[default: the images' own size when all agree, else 32]", "[default: word]", "[default: all]"):
        assert default in shown
    command = typer.main.get_command(app)
    for name, sub in command.commands.items():
        for param in sub.params:
            assert not re.search(r"(?<!\\)\[", getattr(param, "help", None) or ""), (name, param.name)


def test_options_of_another_kind_exit_2(runner) -> None:
    result = runner.invoke(app, ["search", "conv", "--target", "y"])
    assert result.exit_code == 2 and "--target does not apply to --dataset cifar10" in result.output


def test_search_eval_export_render_on_a_table(runner, tmp_path) -> None:
    run = tmp_path / "bc"
    ok(runner, "search", "mlp", "--data-dir", str(shared("tabular/breast_cancer.csv")), "--target", "target",
       "--budget", "2", "--batch", "2", "--epochs", "2", "--run-dir", str(run))
    with RunStore.open_readonly(run) as store:
        children = store.children()
        assert store.config["data"]["target"] == "target" and store.config["train"]["augment"] is False
    assert [c.status for c in children] == ["done", "done"] and all(c.metric_name == "valid_accuracy" for c in children)
    result = json.loads(ok(runner, "eval", "--best", "--run", str(run), "--epochs", "3", "--json"))
    assert result["dataset"] == "csv" and result["metric"] > 0.5
    ok(runner, "export", "--best", "--run", str(run), "-o", str(tmp_path / "model.pt"))
    assert "dense" in ok(runner, "render", "--best", "--run", str(run))


def test_a_plugin_dataset_from_the_plugin_loader(runner, tmp_path, monkeypatch, request) -> None:
    import numpy as np

    from nascli.data.registry import DATASETS

    request.addfinalizer(lambda: DATASETS.remove("npz"))  # the plugin's kind is gone after the test
    monkeypatch.setattr("nascli.plugins._refs", [])  # so --plugin imports (and registers) it again
    monkeypatch.delitem(sys.modules, "npz_images", raising=False)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (40, 6, 6), dtype=np.uint8), y=np.arange(40) % 4)
    plugin = ["--plugin", str(Path(__file__).parents[1] / "examples" / "plugins" / "npz_images.py")]
    out = ok(runner, *plugin, "data", str(tmp_path / "d.npz"), "--dataset", "npz")
    assert "kind:       npz" in out and "6×6, 1 channel" in out and "train 32, valid 4, test 4" in out
    out = ok(runner, *plugin, "check", "conv", "--dataset", "npz", "--data-dir", str(tmp_path / "d.npz"), "-n", "2")
    assert "2 passed" in out
