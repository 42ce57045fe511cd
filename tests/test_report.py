"""Search-history reports (nascli.report) and `nascli report`, on small runs built directly in a RunStore."""

from __future__ import annotations

import hashlib
import html
import random
import struct
from pathlib import Path

import pytest

from nascli.arch.sample import sample_architecture
from nascli.cli import app
from nascli.render import OutputError
from nascli.report import ReportConfig, load_history, write_report
from nascli.data.spec import DataSpec
from nascli.search.loop import SearchConfig
from nascli.runs import RunStore
from nascli.space import load_space
from nascli.space.compiler import compile_space

# (step, depth, reward or None for failed) per child: 2 steps of 3, the second one deeper.
CHILDREN = [(0, 6, 0.20), (0, 6, None), (0, 6, 0.35), (1, 8, 0.30), (1, 8, 0.50), (1, 8, 0.10)]
FAILED_REWARD = 0.0


def make_run(path: Path, strategy: str = "reinforce", space: str = "conv", seed: int = 0,
             children=CHILDREN, close: bool = True) -> RunStore:
    """A run folder with real token strings and made-up results; no training."""
    loaded = load_space(space)
    text = Path(loaded.source).read_text(encoding="utf-8")
    config = SearchConfig(strategy=strategy, data=DataSpec(name=str(loaded.settings.get("dataset", "cifar10"))))
    store = RunStore.create(path, config.model_dump(mode="json"), text, hashlib.sha256(text.encode()).hexdigest())
    compiled, rng = compile_space(loaded), random.Random(seed)
    for step in sorted({c[0] for c in children}):
        batch = [c for c in children if c[0] == step]
        depth = batch[0][1] if compiled.depths else None
        archs = [sample_architecture(compiled, rng, depth) for _ in batch]
        ids = store.add_children(step, depth, [(a.tokens, a.model_dump_json()) for a in archs])
        for child_id, (_, _, reward) in zip(ids, batch):
            if reward is None:
                store.fail_child(child_id, "diverged", FAILED_REWARD, 1.0)
            else:
                store.finish_child(child_id, reward, reward ** (1 / 3), "valid_accuracy", 1000, 2000, 1.0)
        rewards = [r if r is not None else FAILED_REWARD for _, _, r in batch]
        store.record_step(step, 0.1 * step if strategy == "reinforce" else None, sum(rewards) / len(rewards),
                          0.0, 1.0, depth)
    if close:
        store.close()
    return store


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])  # the IHDR chunk's width and height


def test_history_reads_the_store(tmp_path: Path) -> None:
    make_run(tmp_path / "run")
    history = load_history(tmp_path / "run", top=3)
    assert [c.status for c in history.children] == ["done", "failed", "done", "done", "done", "done"]
    assert history.best_so_far() == ([1, 2, 3, 4, 5, 6], [0.20, 0.20, 0.35, 0.35, 0.50, 0.50])
    assert history.step_ends() == {0: 3, 1: 6}  # each step's baseline sits at its last child
    assert history.depths() == [6, 6, 6, 8, 8, 8]
    assert [c.reward for c in history.top] == [0.50, 0.35, 0.30]
    assert history.label == "run (reinforce, conv)"


def test_depth_falls_back_to_the_architecture(tmp_path: Path) -> None:
    make_run(tmp_path / "run", space="enas_rnn", children=[(0, None, 0.1), (0, None, 0.2)])
    assert load_history(tmp_path / "run").depths() == [12, 12]  # no depth schedule: the cell's 12 nodes


def test_png_report_of_two_runs(tmp_path: Path) -> None:
    make_run(tmp_path / "a")
    make_run(tmp_path / "b", strategy="random", seed=1)
    config = ReportConfig(width_in=8, height_in=5, dpi=50)
    with pytest.raises(OutputError, match="does not exist"):  # outputs do not create folders
        write_report([tmp_path / "a"], tmp_path / "out" / "report.png", config)
    (tmp_path / "out").mkdir()
    path = write_report([tmp_path / "a", tmp_path / "b"], tmp_path / "out" / "report.png", config)
    assert png_size(path.read_bytes()) == config.pixels == (400, 250)


def test_html_report_lists_the_best_children(tmp_path: Path) -> None:
    make_run(tmp_path / "a")
    path = write_report([tmp_path / "a"], tmp_path / "report.html", ReportConfig(dpi=40, top=2))
    page = path.read_text()
    history = load_history(tmp_path / "a")
    best, second, third = history.top[:3]
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page
    assert html.escape(best.tokens) in page and html.escape(second.tokens) in page
    assert html.escape(third.tokens) not in page  # top=2
    assert page.index(html.escape(best.tokens)) < page.index(html.escape(second.tokens))
    assert "<td class='num'>0.5</td>" in page and "valid accuracy 79.4%" in page  # the one metric format
    assert "5 done, 1 failed" in page


def test_a_running_search_can_be_reported(tmp_path: Path) -> None:
    store = make_run(tmp_path / "live", close=False)  # the writer still holds the run
    try:
        store.add_children(2, 8, [("conv: pending", "{}")])
        path = write_report([tmp_path / "live"], tmp_path / "live.png", ReportConfig(dpi=30))
        assert png_size(path.read_bytes()) == ReportConfig(dpi=30).pixels
    finally:
        store.close()


def test_report_cli(runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_run(tmp_path / "runs" / "first")
    make_run(tmp_path / "runs" / "second", strategy="random")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report"])  # the most recent run, into its folder
    assert result.exit_code == 0, result.output
    assert png_size((tmp_path / "runs" / "second" / "report.png").read_bytes()) == ReportConfig().pixels
    result = runner.invoke(app, ["report", "first", "second", "-o", "both.html"])
    assert result.exit_code == 0, result.output
    assert "first (reinforce, conv)" in (tmp_path / "both.html").read_text()


@pytest.mark.parametrize("args", [["no-such-run"], ["first", "-o", "report.jpg"], ["first", "-o", "report"]])
def test_report_cli_bad_input_exits_2(runner, tmp_path: Path, monkeypatch, args: list[str]) -> None:
    make_run(tmp_path / "runs" / "first")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 2, result.output


def test_render_best_of_a_run(runner, tmp_path: Path) -> None:
    make_run(tmp_path / "run")
    best = load_history(tmp_path / "run").top[0]
    result = runner.invoke(app, ["render", "--best", "--run", str(tmp_path / "run"), "-o", str(tmp_path / "b.dot")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b.dot").read_text().startswith(f"// {best.tokens}\n")
