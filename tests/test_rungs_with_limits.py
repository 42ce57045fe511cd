"""ASHA rungs and parameter limits together on the benchmark: refused samples are never trained at any
rung, every child that reaches a rung is within the limit, and promotions happen among them."""

from __future__ import annotations

import pytest

from nascli.cli import app
from nascli.runs import RunStore

LIMIT = 500_000


@pytest.mark.parametrize("strategy", ["random", "evolution", "reinforce"])
def test_rungs_and_max_params_on_the_benchmark(runner, tmp_path, strategy):
    run = tmp_path / "r"
    result = runner.invoke(app, ["search", "nb201", "--benchmark", "nb201", "--strategy", strategy, "--rungs",
                                 "12,200", "--max-params", "0.5M", "--time-budget", "40000", "--seed", "3",
                                 "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    with RunStore.open_readonly(run) as store:
        children = store.children()
        refused = [c for c in children if c.status == "refused"]
        trained = {c.id: c for c in children if c.status == "done"}
        assert refused and all(c.params > LIMIT for c in refused)
        assert not {r.child_id for r in store.rungs()} & {c.id for c in refused}  # no rung of a refused one
        assert trained and all(c.params <= LIMIT for c in trained.values())
        top = store.children_at_rung(1)
        assert top and all(c.params <= LIMIT for c in top)  # promoted children: within the limit too
