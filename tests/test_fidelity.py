"""`nascli fidelity`: rank correlations against known values, the choice of children, and a tiny real study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nascli.cli import app
from nascli.fidelity import bootstrap, choose_children, kendall_tau, spearman_rho
from nascli.report import load_history
from nascli.runs import ChildRecord
from nascli.runs.fidelity import FidelitySettings, load_fidelity, retrain_path


def test_tau_and_rho_on_textbook_values():
    x = [1, 2, 3, 4, 5]
    y = [1, 3, 2, 5, 4]  # 2 of 10 pairs discordant; rank differences 0, 1, 1, 1, 1
    assert kendall_tau(x, y) == pytest.approx(0.6)
    assert spearman_rho(x, y) == pytest.approx(1 - 6 * 4 / (5 * 24))
    assert kendall_tau(x, x[::-1]) == pytest.approx(-1.0) and spearman_rho(x, x[::-1]) == pytest.approx(-1.0)
    assert kendall_tau(x, [7] * 5) is None and spearman_rho(x, [7] * 5) is None


def test_tau_b_and_rho_with_ties_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    x = [0.12, 0.30, 0.30, 0.05, 0.41, 0.22, 0.30, 0.19]
    y = [0.50, 0.61, 0.58, 0.47, 0.61, 0.55, 0.70, 0.47]
    assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def test_bootstrap_interval_is_seeded_and_brackets_the_value():
    x = [1, 2, 3, 4, 5, 6, 7, 8]
    y = [2, 1, 4, 3, 6, 5, 8, 7]
    a, b = bootstrap(kendall_tau, x, y, seed=3), bootstrap(kendall_tau, x, y, seed=3)
    assert a == b and a.low <= a.value <= a.high <= 1.0 and a.resamples > 1900
    assert bootstrap(kendall_tau, x, x, seed=3)[:3] == (1.0, 1.0, 1.0)
    narrow = bootstrap(kendall_tau, x, y, seed=3, confidence=0.5)
    assert a.low < narrow.low <= narrow.high <= a.high


def _record(child_id: int, reward: float, tokens: str | None = None) -> ChildRecord:
    return ChildRecord(id=child_id, step=0, depth=None, tokens=tokens or f"t{child_id}", arch_json="{}",
                       status="done", reward=reward, metric=reward, metric_name="valid_accuracy", params=1,
                       macs=1, seconds=1.0, created=0.0)


def test_children_are_chosen_across_the_reward_range():
    finished = [_record(i, r) for i, r in enumerate([0.5, 0.9, 0.1, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4], start=1)]
    chosen = choose_children(finished, 3)
    assert [c.reward for c in chosen] == [0.9, 0.5, 0.1]  # best, median, worst
    assert len(choose_children(finished, 20)) == 9
    twice = finished + [_record(10, 0.95, tokens="t3")]  # the worst architecture, sampled again
    assert [c.id for c in choose_children(twice, 9)][-1] == 3  # counted once, at its earliest record


SPACE = """space tiny {
    task = image
    dataset = cifar10
    hyper {
        lr: {0.01, 0.05, 0.1, 0.2}
    }
    layers 2 {
        filter_height: {1, 3}
        filter_width = 3
        filters: {16, 32}
        stride = 1
        skip: anchor
    }
}
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A real 4-child random search on the embedded CIFAR-10 sample, 1 epoch of 128 images each."""
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("fidelity")
    space = folder / "tiny.space"
    space.write_text(SPACE)
    run = folder / "run"
    result = CliRunner().invoke(app, ["search", str(space), "--strategy", "random", "--budget", "4", "--batch", "4",
                                      "--epochs", "1", "--train-subset", "128", "--seed", "1", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    return run


def test_fidelity_on_a_tiny_run_saves_resumes_and_is_reported(runner, tiny_run: Path):
    args = ["fidelity", str(tiny_run), "-n", "3", "--epochs", "2", "--train-subset", "256", "--seed", "5"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "3 finished children across the reward ranking" in first.output and "seed 5" in first.output
    assert "Kendall τ-b" in first.output and "Spearman ρ" in first.output
    study = load_fidelity(tiny_run)
    assert study.settings == FidelitySettings(children=3, epochs=2, train_subset=256, seed=5)
    assert len(study.pairs) == 3 and study.strategy == "random" and study.metric_name == "valid_accuracy"
    scored = [p for p in study.pairs if p.standalone_metric is not None]
    assert len(scored) == 3 and all(0.0 <= p.standalone_metric <= 1.0 for p in scored)
    assert len({p.standalone_metric for p in scored}) > 1  # trained: not every child at chance
    expected = kendall_tau([p.search_metric for p in scored], [p.standalone_metric for p in scored])
    assert expected is not None and study.kendall_tau.value == expected
    assert study.kendall_tau.low <= expected <= study.kendall_tau.high
    searched = sorted(p.search_reward for p in study.pairs)
    assert searched[0] < searched[-1]  # the best and the worst of the run were both retrained

    again = runner.invoke(app, args + ["--json"])  # the same settings: every retrain is reused
    assert again.exit_code == 0, again.output
    assert json.loads(again.output) == json.loads(load_fidelity(tiny_run).model_dump_json())
    assert load_fidelity(tiny_run).pairs == study.pairs
    second = runner.invoke(app, args)
    assert second.output.count("(reused)") == 3

    history = load_history(tiny_run)
    assert history.fidelity == load_fidelity(tiny_run)
    report = runner.invoke(app, ["report", str(tiny_run), "-o", str(tiny_run / "r.html")])
    assert report.exit_code == 0 and "fidelity (3 children retrained stand-alone): τ = " in (tiny_run / "r.html").read_text()


def test_a_retrain_with_other_settings_is_not_reused(runner, tiny_run: Path):
    settings = FidelitySettings(children=3, epochs=1, train_subset=64, seed=6)
    result = runner.invoke(app, ["fidelity", str(tiny_run), "-n", "3", "--epochs", "1", "--train-subset", "64",
                                 "--seed", "6"])
    assert result.exit_code == 0, result.output
    assert "(reused)" not in result.output
    assert all(retrain_path(tiny_run, settings, p.child_id).is_file() for p in load_fidelity(tiny_run).pairs)


def test_fidelity_needs_three_children_and_a_run(runner, tmp_path: Path):
    result = runner.invoke(app, ["fidelity", str(tmp_path)])
    assert result.exit_code == 2 and "not a run folder" in result.output
    result = runner.invoke(app, ["fidelity", str(tmp_path), "-n", "2"])
    assert result.exit_code == 2 and "Traceback" not in result.output
