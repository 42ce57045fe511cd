"""`--rung-score`: which score a strategy learns from under `--rungs`, and when it receives it (promotions.py).

The searches run on the NAS-Bench-201 table (deterministic, a second each); a spy on `Search.learned_rewards`
(the one place both loops take the rewards an update learns from) notes each update's children, the rewards
handed to the strategy and the run store's rung rows at that moment.
"""

from __future__ import annotations

import pytest

from nascli.cli import app
from nascli.runs import RunStore
from nascli.search.loop import Search
from nascli.search.rungs import RungConfig, RungLadder

ETA = 2
BENCH = ["nb201", "--benchmark", "nb201", "--rungs", "12,200", "--eta", str(ETA), "--time-budget", "30000",
         "--batch", "3", "--seed", "15"]


def _spied_search(runner, monkeypatch, tmp_path, *args: str) -> list[tuple[list[int], list[float], list]]:
    """Run a search; return, per update, (child ids, rewards learnt, rung rows then)."""
    calls = []
    learned = Search.learned_rewards

    def spy(self, children):
        rewards = learned(self, children)
        calls.append(([c.id for c in children], rewards, self.store.rungs()))
        return rewards

    monkeypatch.setattr(Search, "learned_rewards", spy)
    result = runner.invoke(app, ["search", *BENCH, *args, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    return calls


def _waiting(rows, child_id: int) -> bool:
    """From the rung rows alone: whether `child_id` has a promotion running, or is in the top 1/eta of the rung it
    reached without a promotion begun (the rule of docs/strategies.md, written out independently)."""
    mine = {r.rung: r for r in rows if r.child_id == child_id}
    if any(r.status == "running" for r in mine.values()):
        return True
    done = [k for k, r in mine.items() if r.status == "done"]
    if not done or max(done) + 1 in mine or max(done) == 1:
        return False
    finished = sorted((r for r in rows if r.rung == max(done) and r.status != "running"),
                      key=lambda r: (-r.reward, r.child_id))
    return child_id in [r.child_id for r in finished[:len(finished) // ETA] if r.status == "done"]


def _highest(rows, child_id: int) -> float:
    mine = [r for r in rows if r.child_id == child_id and r.status == "done"]
    return max(mine, key=lambda r: r.rung).reward


@pytest.mark.parametrize("loop", [[], ["--async", "2"]], ids=["sync", "async"])
def test_highest_learns_each_child_at_its_highest_rung_once_nothing_waits(runner, monkeypatch, tmp_path, loop):
    calls = _spied_search(runner, monkeypatch, tmp_path, "--strategy", "evolution", "--rung-score", "highest", *loop)
    assert len(calls) >= 3
    promoted_learnt = 0
    for ids, rewards, rows in calls:
        for child_id, reward in zip(ids, rewards):
            assert not _waiting(rows, child_id), (child_id, rows)  # its batch waited for its promotions
            assert reward == _highest(rows, child_id)
            promoted_learnt += any(r.child_id == child_id and r.rung == 1 and r.status == "done" for r in rows)
    assert promoted_learnt >= 2  # some children were learnt from at 200 epochs, not at 12
    learnt = [c for ids, _, _ in calls for c in ids]
    assert len(learnt) == len(set(learnt))  # each child learnt from once
    with RunStore.open_readonly(tmp_path / "run") as store:
        assert store.config["rungs"]["score"] == "highest"
        # every child the search scored, up to the time budget, was learnt from, in first-rung finish order
        if loop:
            first = sorted(store.rungs(rung=0), key=lambda r: (r.finished, r.child_id))
            assert learnt == [r.child_id for r in first][:len(learnt)]


@pytest.mark.parametrize("loop", [[], ["--async", "2"]], ids=["sync", "async"])
def test_first_learns_each_child_at_its_first_rung_without_waiting(runner, monkeypatch, tmp_path, loop):
    calls = _spied_search(runner, monkeypatch, tmp_path, "--strategy", "evolution", *loop)
    waited = False
    for ids, rewards, rows in calls:
        first = {r.child_id: r.reward for r in rows if r.rung == 0}
        assert rewards == [first[c] for c in ids]
        waited = waited or any(_waiting(rows, c) for c in ids)
    assert waited == bool(loop)  # --async updated while a child of its batch still had a promotion to come


def test_the_two_rules_teach_different_numbers(runner, monkeypatch, tmp_path):
    first = _spied_search(runner, monkeypatch, tmp_path / "a", "--strategy", "reinforce")
    highest = _spied_search(runner, monkeypatch, tmp_path / "b", "--strategy", "reinforce", "--rung-score", "highest")
    assert [r for _, r, _ in first] != [r for _, r, _ in highest]


def test_waiting_on_a_scripted_ladder():
    rungs = RungLadder(RungConfig(epochs=(1, 3, 9), eta=2, score="highest"))
    rungs.record(1, 0, 0.5)
    assert not rungs.waiting(1)  # one result: the top half of 1 is empty
    rungs.record(2, 0, 0.2)
    assert rungs.waiting(1) and not rungs.waiting(2)  # 1 is offered
    rungs.start(rungs.next_promotion())
    assert rungs.waiting(1)  # training rung 1
    rungs.record(1, 1, 0.7)
    assert not rungs.waiting(1)  # alone at rung 1: nothing offered
    rungs.record(3, 0, 0.1)
    rungs.record(4, 0, 0.4)
    assert rungs.waiting(4) and not rungs.waiting(2)  # 4 is now in the top half of rung 0 (1 went already)
    rungs.record(4, 1, 0.0, ok=False)
    assert not rungs.waiting(4) and rungs.reached(4) == 0  # a failed promotion: nothing more to come
    assert not rungs.waiting(99)


@pytest.mark.parametrize("args, words", [
    (["nb201", "--benchmark", "nb201", "--rungs", "12,200", "--rung-score", "best"], "--rung-score best: give first or highest"),
    (["nb201", "--benchmark", "nb201", "--rung-score", "highest"], "--rung-score applies with --rungs"),
])
def test_bad_rung_score_is_exit_2(runner, tmp_path, args, words):
    result = runner.invoke(app, ["search", *args, "--budget", "3", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and words in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_a_resume_keeps_the_rule_and_refuses_another(runner, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["search", *BENCH, "--strategy", "random", "--rung-score", "highest", "--time-budget",
                                 "3000", "--run-dir", str(run)])
    assert result.exit_code == 0 and "learns from each child's highest rung" in result.output, result.output
    refused = runner.invoke(app, ["search", "--resume", str(run), "--rung-score", "first"])
    assert refused.exit_code == 2 and "--rung-score: chosen when a run starts" in refused.output, refused.output
    resumed = runner.invoke(app, ["search", "--resume", str(run), "--time-budget", "30000"])
    assert resumed.exit_code == 0, resumed.output
    with RunStore.open_readonly(run) as store:
        assert store.config["rungs"]["score"] == "highest"
