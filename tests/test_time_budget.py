"""`--time-budget` on a real search: wall-clock seconds; no child starts once they have passed, and a resume
with more time goes on exactly where the search stopped."""

from __future__ import annotations

import pytest

from nascli.cli import app
from nascli.runs import RunStore
from nascli.search.clock import ELAPSED_META

FAST = ["conv", "--budget", "4", "--batch", "2", "--epochs", "1", "--train-subset", "16", "--seed", "7"]


def _rows(run):
    with RunStore.open_readonly(run) as store:
        return [(c.id, c.tokens, c.status, c.reward) for c in store.children()], store.state


@pytest.mark.slow
def test_a_spent_wall_clock_starts_no_child_and_a_resume_with_more_time_finishes_the_same_run(runner, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["search", *FAST, "--time-budget", "1e-9", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert "the time budget ended the search" in result.output
    rows, state = _rows(run)
    assert state == "finished" and [r[2] for r in rows] == ["pending", "pending"]  # proposed, none started
    result = runner.invoke(app, ["search", "--resume", str(run), "--time-budget", "1e6"])
    assert result.exit_code == 0, result.output
    unbroken = tmp_path / "unbroken"
    assert runner.invoke(app, ["search", *FAST, "--run-dir", str(unbroken)]).exit_code == 0
    resumed, state = _rows(run)
    assert state == "finished" and resumed == _rows(unbroken)[0]  # the same children, rewards, all done
    with RunStore.open_readonly(run) as store:
        assert float(store.get_meta(ELAPSED_META)) > 0  # the wall clock carried across the sessions
