"""`nascli compare`: N seeded runs per strategy in one folder, its JSON, re-runs that complete it, and the stats."""

from __future__ import annotations

import inspect
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from nascli.cli import app
from nascli.cli.compare_cmd import NOT_FROM_SEARCH, compare
from nascli.cli.search_cmds import search
from nascli.compare.stats import incomplete_beta, summarise, t_quantile, t_two_sided_p, welch_p
from nascli.runs import RunStore
from nascli.runs.crashpoints import CRASH_AT_ENV, CRASH_EXIT

ROOT = Path(__file__).resolve().parents[1]
BENCH = ["nb201", "--benchmark", "nb201", "--time-budget", "1500", "--strategies", "random,reinforce"]
KEYS = ["runs", "test_mean", "test_std", "test_ci95", "valid_mean", "valid_std", "p_vs_random"]


def _compare(runner, *args: str) -> dict:
    result = runner.invoke(app, ["compare", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _looked_up(runner, run: Path) -> dict:
    return json.loads(runner.invoke(app, ["eval", "--best", "--run", str(run), "--json"]).output)


def test_the_json_is_the_documented_shape_and_the_runs_are_ordinary_run_folders(runner, tmp_path):
    folder = tmp_path / "cmp"
    table = _compare(runner, *BENCH, "--runs", "3", "--seed", "5", "--workers", "2", "--run-dir", str(folder))
    assert list(table) == ["strategies"] and list(table["strategies"]) == ["random", "reinforce"]
    for name, row in table["strategies"].items():
        assert list(row) == KEYS and row["runs"] == 3
        runs = [folder / name / f"seed-{seed}" for seed in (5, 6, 7)]
        tests = [_looked_up(runner, run)["test_accuracy"] for run in runs]  # the table's test of each choice
        valids = [_looked_up(runner, run)["valid_accuracy"] for run in runs]
        assert row["test_mean"] == pytest.approx(statistics.mean(tests), abs=1e-4)
        assert row["test_std"] == pytest.approx(statistics.stdev(tests), abs=1e-4)
        half = 4.302652729911275 * statistics.stdev(tests) / math.sqrt(3)  # t(0.975, 2)
        assert row["test_ci95"] == pytest.approx([statistics.mean(tests) - half, statistics.mean(tests) + half], abs=1e-3)
        assert row["valid_mean"] == pytest.approx(statistics.mean(valids), abs=1e-4)
        for run in runs:  # show and runs --root work on each
            with RunStore.open_readonly(run) as store:
                assert store.state == "finished" and store.config["strategy"] == name
    assert table["strategies"]["random"]["p_vs_random"] is None
    assert 0 <= table["strategies"]["reinforce"]["p_vs_random"] <= 1
    assert (folder / "anytime.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    listed = runner.invoke(app, ["runs", "--root", str(folder / "random")]).output
    assert all(f"seed-{s}" in listed for s in (5, 6, 7))


def _times(folder: Path) -> dict[str, list[float | None]]:
    out = {}
    for run in sorted(folder.glob("*/seed-*")):
        with RunStore.open_readonly(run) as store:
            out[str(run.relative_to(folder))] = [c.finished for c in store.children()]
    return out


def test_running_it_again_completes_what_is_missing_and_refuses_other_settings(runner, tmp_path):
    folder, args = tmp_path / "cmp", [*BENCH, "--runs", "2", "--workers", "1"]
    env = {**os.environ, CRASH_AT_ENV: "child_finish@25", "PYTHONPATH": str(ROOT)}  # part-way through run 2
    proc = subprocess.run([sys.executable, "-m", "nascli", "compare", *args, "--run-dir", str(folder)], env=env,
                          cwd=ROOT, capture_output=True, timeout=300)
    assert proc.returncode == CRASH_EXIT, proc.stderr.decode()[-2000:]
    before = _times(folder)
    assert 1 <= len(before) < 4  # some runs finished, one cut short, the rest never started
    table = _compare(runner, *args, "--run-dir", str(folder))
    after = _times(folder)
    assert len(after) == 4 and all(row["runs"] == 2 for row in table["strategies"].values())
    for run, finished in before.items():  # what was recorded was not redone
        assert after[run][:len([t for t in finished if t])] == [t for t in finished if t]
    unbroken = _compare(runner, *args, "--run-dir", str(tmp_path / "unbroken"))
    assert table == unbroken  # the completed comparison is the one never stopped
    more = _compare(runner, *BENCH, "--runs", "3", "--workers", "1", "--run-dir", str(folder))
    assert more["strategies"]["random"]["runs"] == 3
    assert {k: v for k, v in _times(folder).items() if k in after} == after  # finished runs were left alone
    result = runner.invoke(app, ["compare", *BENCH[:-4], "--time-budget", "900", "--strategies", "random",
                                 "--run-dir", str(folder)])
    assert result.exit_code == 2 and "--time-budget 900.0 (was 1500.0)" in result.output


def test_compare_takes_every_option_of_search():
    ours = inspect.signature(compare).parameters
    for name in inspect.signature(search).parameters:
        assert name in ours or name in NOT_FROM_SEARCH, name
    assert ours["workers"].annotation is not inspect.signature(search).parameters["workers"].annotation


@pytest.mark.parametrize("args, message", [
    (["nb201", "--benchmark", "nb201", "--strategies", "random,annealing"], "unknown annealing"),
    (["conv", "--benchmark", "nb201", "--strategies", "random"], "not NAS-Bench-201's space"),
    (["nb201", "--benchmark", "nb201", "--epochs", "2"], "--epochs do not apply"),
    (["nb201", "--benchmark", "nb201", "--strategies", "random", "--population", "4"], "apply to the evolution runs"),
])
def test_a_comparison_that_cannot_run_is_refused_before_any_folder(runner, tmp_path, args, message):
    result = runner.invoke(app, ["compare", *args, "--runs", "2", "--run-dir", str(tmp_path / "cmp")])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "cmp").exists()


def test_on_real_data_the_figure_is_the_best_validation_score(runner, tmp_path):
    folder = tmp_path / "cmp"
    table = _compare(runner, "conv", "--budget", "2", "--batch", "2", "--epochs", "1", "--train-subset", "16",
                     "--runs", "2", "--workers", "1", "--run-dir", str(folder))
    for name, row in table["strategies"].items():
        assert row["test_mean"] is None and row["test_ci95"] is None  # nothing is tested on real data
        best = []
        for seed in (0, 1):
            with RunStore.open_readonly(folder / name / f"seed-{seed}") as store:
                best.append(store.best(1)[0].metric * 100)
        assert row["valid_mean"] == pytest.approx(statistics.mean(best), abs=1e-4)


# -- the statistics, on cases with known answers ---------------------------------------------------------------


def test_the_t_distribution_matches_its_closed_forms_and_tables():
    for t in (0.3, 1.0, 2.5, 12.7):
        assert t_two_sided_p(t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(t), rel=1e-12)  # Cauchy
        assert t_two_sided_p(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-12)
    assert t_quantile(0.975, 1) == pytest.approx(12.706204736, rel=1e-9)  # printed t tables
    assert t_quantile(0.975, 10) == pytest.approx(2.228138852, rel=1e-9)
    assert t_quantile(0.995, 30) == pytest.approx(2.749995654, rel=1e-9)
    assert incomplete_beta(2, 3, 0.4) == pytest.approx(0.5248, rel=1e-12)  # 1 - (1-x)^3 (1 + 3x)


def test_welchs_test_on_the_textbook_example():
    # Wikipedia's "Welch's t-test" example 2: t = -2.46, df = 24.99, two-sided p = 0.021
    # (R's t.test and scipy.stats.ttest_ind(equal_var=False) give p = 0.0213780014628670)
    a = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
    b = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]
    assert welch_p(a, b) == pytest.approx(0.021378001462867, rel=1e-9)
    assert welch_p(a, a) == pytest.approx(1.0)
    assert welch_p([1.0], a) is None and welch_p([2.0, 2.0], [2.0, 2.0]) == 1.0


def test_summaries_give_the_t_interval():
    s = summarise([1.0, 2.0, 3.0, 4.0])
    assert (s.n, s.mean) == (4, 2.5) and s.std == pytest.approx(statistics.stdev([1, 2, 3, 4]))
    half = 3.182446305284263 * s.std / 2  # t(0.975, 3)
    assert s.ci95 == pytest.approx((2.5 - half, 2.5 + half))
    assert summarise([7.0]).ci95 is None and summarise([]) is None


def test_evolution_is_compared_by_default_and_takes_its_options(runner, tmp_path):
    """Evolution is in the default --strategies; --population reaches its runs only (random's run has none)."""
    folder = tmp_path / "cmp"
    table = _compare(runner, "nb201", "--benchmark", "nb201", "--time-budget", "900", "--runs", "1",
                     "--population", "4", "--tournament-size", "2", "--run-dir", str(folder))
    assert set(table["strategies"]) == {"random", "reinforce", "evolution"}
    evolution = json.loads((folder / "evolution" / "seed-0" / "config.json").read_text())["options"]
    assert evolution["evolution"] == {"population": 4, "tournament_size": 2}
    random = json.loads((folder / "random" / "seed-0" / "config.json").read_text())["options"]
    assert random["evolution"] == {"population": 10, "tournament_size": 3}  # the default, unused
