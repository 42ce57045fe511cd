"""Crash the search at each of its durable writes, resume, and compare with a run never stopped.

Each case runs `python -m nascli search` with NASCLI_CRASH_AT set (the process
`os._exit`s or SIGKILLs itself just before that write; see
nascli/runs/crashpoints.py), resumes it in-process, and checks that
- nothing recorded is lost or trained twice, and the budget completes;
- the finished run's token strings, rewards, controller steps and final
  controller state equal those of an uninterrupted run with the same seed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nascli.cli import app
from nascli.runs import RunStore
from nascli.runs.checkpoint import load_checkpoint
from nascli.runs.crashpoints import CRASH_AT_ENV, CRASH_EXIT, CRASH_MODE_ENV, POINTS
from nascli.search.rung_state import saved_states

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["conv", "--budget", "4", "--batch", "2", "--epochs", "1", "--train-subset", "8", "--seed", "11"]
# The searches compared. Evolution with P = 2: the first two children are random, the next two mutate
# tournament winners. `-async`: --async 1 on one worker, so children finish in sampling order and the
# resumed run must equal the reference exactly; there a checkpoint follows each child's proposal and
# each update (2 = child 1 proposed, 3 = child 1 learned from, 4 = child 2 proposed, ...).
EVOLUTION = ["--strategy", "evolution", "--population", "2", "--tournament-size", "2"]
SETTINGS = {"reinforce": ["--strategy", "reinforce"], "random": ["--strategy", "random"], "evolution": EVOLUTION,
            "evolution-async": [*EVOLUTION, "--async", "1"], "reinforce-async": ["--async", "1"]}

# (setting, point[@n], mode). Checkpoint hits (synchronous): 1 = the new run's first (while it is built),
# then one after each update: 2 = step 0 updated, 3 = step 1 (a proposal is not checkpointed: a resume
# replays it). With --async, see above.
CASES = [
    ("reinforce", "create", "exit"),
    ("reinforce", "propose@2", "kill"),
    ("reinforce", "child_start@1", "exit"),
    ("reinforce", "child_finish@3", "kill"),
    ("reinforce", "update@2", "exit"),
    ("reinforce", "checkpoint@2", "kill"),
    ("reinforce", "checkpoint@3", "exit"),
    ("reinforce", "checkpoint_rotate@3", "kill"),
    ("reinforce", "finish", "exit"),
    ("random", "propose@2", "exit"),
    ("random", "checkpoint@3", "kill"),
    ("evolution", "propose@2", "kill"),  # the first tournaments, replayed from step 0's checkpoint
    ("evolution", "child_finish@3", "exit"),
    ("evolution", "update@2", "kill"),  # the population's update redone
    ("evolution", "checkpoint@3", "exit"),
    ("evolution-async", "checkpoint@4", "kill"),  # child 2 recorded, the checkpoint after it not written
    ("evolution-async", "checkpoint@6", "exit"),  # the same for child 3, the first tournament's
    ("evolution-async", "update@3", "kill"),
    ("reinforce-async", "checkpoint@4", "kill"),
]


# Rungs on real training (sync, one child at a time): child_finish 1, 2 = step 0's first rung; rung_state n
# = the n-th first-rung state saved, before its rows; rung_start 1 = the first promotion (the best of step 0),
# whose result is child_finish 3; step 1's children are 4 and 5; the second promotion follows.
RUNG_ARGS = ["conv", "--budget", "4", "--batch", "2", "--rungs", "1,2", "--eta", "2", "--train-subset", "8",
             "--seed", "11"]
def _halved(cases: list[tuple], prefix: str = "") -> list:
    """The cases that train children, every other one marked slow: the default selection crashes each kind
    of search at half the points, `-m slow` (CI) at the others."""
    return [pytest.param(*case, id=prefix + "-".join(case), marks=[pytest.mark.slow] if n % 2 else [])
            for n, case in enumerate(cases)]


RUNG_CASES = [
    ("reinforce", "rung_start@1", "kill"),
    ("reinforce", "rung_state@2", "exit"),
    ("reinforce", "child_finish@3", "kill"),
    ("random", "rung_state@3", "kill"),
    ("random", "child_finish@6", "exit"),
    ("reinforce+highest", "rung_start@1", "kill"),  # --rung-score highest: step 0 learns from the promotion too
]


def _rung_args(strategy: str) -> list[str]:
    name, _, score = strategy.partition("+")
    return [*RUNG_ARGS, "--strategy", name, *(["--rung-score", score] if score else [])]


def _outcome(run: Path) -> dict:
    with RunStore.open_readonly(run) as store:
        # costs and refusals too: a resume keeps what a constrained search recorded, exactly
        children = [(c.id, c.step, c.tokens, c.status, c.reward, c.rung, c.params, c.macs, c.latency_ms, c.error)
                    for c in store.children()]
        steps = [(s.step, s.baseline, s.mean_reward, s.loss) for s in store.steps()]
        rungs = [(r.child_id, r.rung, r.epochs, r.status, r.reward, r.metric) for r in store.rungs()]
        state = store.state
    strategy = load_checkpoint(run / "checkpoints")["strategy"]
    return {"children": children, "steps": steps, "state": state, "strategy": strategy, "rungs": rungs,
            "states": saved_states(run)}


def _search(runner, *args: str) -> None:
    result = runner.invoke(app, ["search", *args])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def reference(tmp_path_factory, one_thread) -> dict[str, dict]:
    """The uninterrupted run of each strategy."""
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("reference")
    outcomes = {}
    for setting in SETTINGS:
        _search(CliRunner(), *ARGS, *SETTINGS[setting], "--run-dir", str(folder / setting))
        outcomes[setting] = _outcome(folder / setting)
    return outcomes


def _crash(run: Path, args: list[str], point: str, mode: str) -> None:
    env = {**os.environ, CRASH_AT_ENV: point, CRASH_MODE_ENV: mode, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "nascli", "search", *args, "--run-dir", str(run)],
                          env=env, cwd=ROOT, capture_output=True, timeout=300)
    expected = -9 if mode == "kill" else CRASH_EXIT
    assert proc.returncode == expected, proc.stderr.decode()[-2000:]


@pytest.fixture(scope="module")
def rung_reference(tmp_path_factory, one_thread) -> dict[str, dict]:
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("rung_reference")
    outcomes = {}
    for strategy in dict.fromkeys(s for s, _, _ in RUNG_CASES):
        _search(CliRunner(), *_rung_args(strategy), "--run-dir", str(folder / strategy))
        outcomes[strategy] = _outcome(folder / strategy)
    return outcomes


@pytest.mark.parametrize(("strategy", "point", "mode"), _halved(RUNG_CASES, "rungs-"))
def test_a_crash_between_rungs_resumes_the_same_promotions(runner, tmp_path, rung_reference, strategy, point, mode):
    run = tmp_path / "run"
    _crash(run, _rung_args(strategy), point, mode)
    with RunStore.open_readonly(run) as store:
        kept = [(r.child_id, r.rung, r.finished) for r in store.rungs() if r.status != "running"]
    _search(runner, "--resume", str(run))
    after, expected = _outcome(run), rung_reference[strategy]
    assert expected["rungs"] and any(r[1] == 1 for r in expected["rungs"])  # the reference did promote
    for key in ("state", "children", "steps", "rungs", "states"):  # states: no saved state left behind
        assert after[key] == expected[key], key
    assert _same_state(after["strategy"], expected["strategy"])
    with RunStore.open_readonly(run) as store:  # a rung recorded before the crash was not trained again
        assert [(r.child_id, r.rung, r.finished) for r in store.rungs() if (r.child_id, r.rung) in
                {(c, g) for c, g, _ in kept}] == kept


def _finished_before(run: Path) -> dict[int, float]:
    if not (run / "run.db").exists():
        return {}
    with RunStore.open_readonly(run) as store:
        return {c.id: c.finished for c in store.children() if c.status in ("done", "failed")}


@pytest.mark.parametrize(("setting", "point", "mode"), _halved(CASES))
def test_a_crash_at_any_write_resumes_to_the_same_run(runner, tmp_path, reference, setting, point, mode):
    run = tmp_path / "run"
    _crash(run, [*ARGS, *SETTINGS[setting]], point, mode)
    recorded = _finished_before(run)
    if point == "create":  # the run never came to exist: no half-made folder, and starting again works
        assert not run.exists() and [p.name.partition(".creating-")[0] for p in tmp_path.iterdir()] == [".run"]
        _search(runner, *ARGS, *SETTINGS[setting], "--run-dir", str(run))
        assert [p.name for p in tmp_path.iterdir()] == ["run"]  # the abandoned build was removed
    else:
        _search(runner, "--resume", str(run))
    after = _outcome(run)
    expected = reference[setting]
    assert after["state"] == "finished"
    assert after["children"] == expected["children"]  # same ids, steps, tokens, rewards; all done
    assert after["steps"] == expected["steps"]  # every step updated once, as in the run never stopped
    assert _same_state(after["strategy"], expected["strategy"])
    for child_id, finished in recorded.items():  # what was recorded was not trained again
        assert _finished_before(run)[child_id] == finished


def _same_state(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same_state, a, b))
    return a == b


def test_every_crash_point_is_exercised():
    rung_points = {"rung_start", "rung_state"}
    tested = {point.partition("@")[0] for _, point, _ in CASES}
    assert tested == set(POINTS) - {"enas_epoch"} - rung_points  # ENAS's own point is tested with its strategy
    assert {point.partition("@")[0] for _, point, _ in RUNG_CASES} == rung_points | {"child_finish"}
    # a benchmark's rungs save no training state (a looked-up child has none): rung_state is real training's
    assert {point.partition("@")[0] for _, _, point, _ in BENCH_CASES} == set(POINTS) - {"enas_epoch", "rung_state"}
    assert {point.partition("@")[0] for point, _ in ENAS_CASES} >= {"enas_epoch", "checkpoint", "checkpoint_rotate",
                                                                   "child_finish", "finish"}


# A benchmark search (children looked up in NAS-Bench-201) that its time budget ends part-way through a
# step: seed 15 queries 14 children in 5 steps (4 updated; the 15th child would pass 1,500 simulated s and
# stays pending). Checkpoint hits: 1 = the new run's, then k + 2 = step k updated (asynchronous: also after
# every proposal).
BENCH_ARGS = ["nb201", "--benchmark", "nb201", "--time-budget", "1500", "--batch", "3", "--seed", "15"]
BENCH_CASES = [
    ("sync", "reinforce", "create", "exit"),
    ("sync", "reinforce", "propose@2", "kill"),
    ("sync", "reinforce", "child_start@5", "exit"),
    ("sync", "reinforce", "child_finish@7", "exit"),
    ("sync", "reinforce", "child_finish@14", "kill"),
    ("sync", "reinforce", "update@3", "kill"),
    ("sync", "reinforce", "checkpoint@4", "exit"),
    ("sync", "reinforce", "checkpoint@5", "kill"),
    ("sync", "reinforce", "checkpoint_rotate@3", "exit"),
    ("sync", "reinforce", "finish", "kill"),
    ("sync", "random", "checkpoint@5", "kill"),
    ("sync", "evolution", "propose@4", "kill"),  # the first tournaments (P = 10: children 10 to 12)
    ("sync", "evolution", "checkpoint@5", "exit"),
    ("async", "evolution", "checkpoint@17", "kill"),  # child 11, the first tournament's, recorded; its checkpoint not
    ("async", "reinforce", "child_finish@9", "kill"),
    ("async", "reinforce", "checkpoint@7", "exit"),
    ("rungs", "reinforce", "rung_start@2", "kill"),
    ("rungs", "reinforce", "child_finish@12", "exit"),
    ("rungs-async", "reinforce", "rung_start@1", "kill"),
    ("rungs-async", "random", "child_finish@9", "kill"),
    # --rung-score highest: an update waits for its batch's promotions and learns each child's highest rung
    ("rungs-highest", "evolution", "rung_start@2", "kill"),
    ("rungs-highest", "reinforce", "update@2", "exit"),
    ("rungs-async-highest", "reinforce", "rung_start@2", "kill"),
    ("rungs-async-highest", "evolution", "child_finish@10", "exit"),
    # under --max-params (a "+cap" strategy): refused samples are recorded, with their costs, in the same writes
    ("sync", "random+cap", "propose@2", "kill"),
    ("sync", "random+cap", "checkpoint@4", "exit"),
    ("sync", "reinforce+cap", "child_finish@7", "kill"),
    ("sync", "reinforce+cap", "update@3", "exit"),
    ("async", "reinforce+cap", "checkpoint@7", "kill"),
    ("sync", "evolution+cap", "propose@3", "kill"),
    ("sync", "evolution+cap", "checkpoint@5", "exit"),
    ("async", "evolution+cap", "checkpoint@8", "kill"),
]
CAP = ["--max-params", "0.4M"]


def _bench_args(updates: str, strategy: str) -> list[str]:
    name, capped = strategy.removesuffix("+cap"), strategy.endswith("+cap")
    kind = updates.split("-")
    rungs = ["--rungs", "12,200", "--time-budget", "6000"] if "rungs" in kind else []
    return [*BENCH_ARGS, "--strategy", name, *(["--async", "2"] if "async" in kind else []), *rungs,
            *(["--rung-score", "highest"] if "highest" in kind else []), *(CAP if capped else [])]


@pytest.fixture(scope="module")
def bench_reference(tmp_path_factory) -> dict[tuple[str, str], dict]:
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("bench_reference")
    outcomes = {}
    for updates, strategy in dict.fromkeys((u, s) for u, s, _, _ in BENCH_CASES):
        run = folder / f"{updates}-{strategy}"
        _search(CliRunner(), *_bench_args(updates, strategy), "--run-dir", str(run))
        outcomes[updates, strategy] = _outcome(run)
    return outcomes


@pytest.mark.parametrize(("updates", "strategy", "point", "mode"), BENCH_CASES,
                         ids=[f"bench-{u}-{s}-{p}-{m}" for u, s, p, m in BENCH_CASES])
def test_a_benchmark_search_crashed_anywhere_resumes_to_the_same_run(runner, tmp_path, bench_reference, updates,
                                                                    strategy, point, mode):
    run, args = tmp_path / "run", _bench_args(updates, strategy)
    _crash(run, args, point, mode)
    recorded = _finished_before(run)
    if point == "create":
        _search(runner, *args, "--run-dir", str(run))
    else:
        _search(runner, "--resume", str(run))
    after, expected = _outcome(run), bench_reference[updates, strategy]
    assert after["state"] == "finished"
    assert after["children"] == expected["children"]  # the same queries, rewards, and the same child left pending
    # the time budget, not the children budget, ended both (with rungs, it may refuse a promotion instead)
    assert "pending" in [c[3] for c in after["children"]] or updates.startswith("rungs")
    if strategy.endswith("+cap"):
        assert "refused" in [c[3] for c in after["children"]]
    assert after["steps"] == expected["steps"] and after["rungs"] == expected["rungs"]  # the same promotions
    assert _same_state(after["strategy"], expected["strategy"])
    for child_id, finished in recorded.items():  # a child recorded before the crash was not queried again
        assert _finished_before(run)[child_id] == finished


# ENAS: a tiny enas_rnn search of 2 epochs. Checkpoint hits: 1 = epoch 0's, 2 = epoch 1's (the generic
# points fire inside the same write); child_finish@2 = the second derived child; finish = all derived.
ENAS_ARGS = ["enas_rnn", "--strategy", "enas", "--epochs", "2", "--controller-steps", "1", "--batch", "2",
             "--budget", "2", "--train-subset", "1200", "--shared-batch-size", "4", "--derive-subset", "400",
             "--controller-hidden", "16", "--seed", "3"]
ENAS_CASES = [("enas_epoch@1", "exit"), ("enas_epoch@2", "kill"), ("checkpoint@2", "exit"),
              ("checkpoint_rotate@1", "kill"), ("child_finish@2", "kill"),
              ("finish", "exit")]


def _enas_outcome(run: Path) -> dict:
    with RunStore.open_readonly(run) as store:
        epochs = [r.model_dump(exclude={"seconds", "controller_seconds", "time"}) for r in store.epochs()]
        outcome = _outcome(run)
    return {**outcome, "epochs": epochs}


@pytest.fixture(scope="module")
def enas_reference(tmp_path_factory, one_thread) -> dict:
    from typer.testing import CliRunner

    run = tmp_path_factory.mktemp("enas_reference") / "run"
    _search(CliRunner(), *ENAS_ARGS, "--run-dir", str(run))
    return _enas_outcome(run)


@pytest.mark.parametrize(("point", "mode"), _halved(ENAS_CASES, "enas-"))
def test_an_enas_crash_resumes_to_the_same_run(runner, tmp_path, enas_reference, point, mode):
    run = tmp_path / "run"
    _crash(run, ENAS_ARGS, point, mode)
    recorded = _finished_before(run)
    with RunStore.open_readonly(run) as store:
        epochs_before, saved = store.epochs(), store.load_checkpoint()
    checkpointed = saved["strategy"]["epoch"] if saved else 0  # epochs done that the crash did not lose
    _search(runner, "--resume", str(run))
    after = _enas_outcome(run)
    assert after["state"] == "finished"
    assert len(after["children"]) == 2 and all(c[3] == "done" for c in after["children"])
    assert after["children"] == enas_reference["children"]  # the same derived children, the same rewards
    assert after["epochs"] == enas_reference["epochs"] and after["steps"] == enas_reference["steps"]
    assert _same_state(after["strategy"], enas_reference["strategy"])  # shared weights, controller, baseline
    for child_id, finished in recorded.items():  # a derived child scored before the crash was not scored again
        assert _finished_before(run)[child_id] == finished
    with RunStore.open_readonly(run) as store:  # an epoch checkpointed before the crash was not trained again
        assert store.epochs()[:checkpointed] == epochs_before[:checkpointed]


def test_crash_point_does_nothing_unless_asked(monkeypatch):
    from nascli.runs.crashpoints import crash_point

    monkeypatch.delenv(CRASH_AT_ENV, raising=False)
    crash_point("propose")  # returns
    monkeypatch.setenv(CRASH_AT_ENV, "update@3")
    crash_point("propose")
    with pytest.raises(ValueError, match="unknown crash point"):
        crash_point("nowhere")
