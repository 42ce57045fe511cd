"""--async K: the clipped importance-ratio update, an asynchronous search with workers, and
its resume after kill -9."""

from __future__ import annotations

import os
import signal

import torch
from torch import nn

from nascli.cli import app
from nascli.runs import RunStore
from nascli.search.reinforce import Reinforce, ReinforceConfig
from test_search import FAST, _done_rows, search
from test_workers import _search, _wait_for


def _gradient(behaviour: torch.Tensor | None, shift: float = 0.0) -> torch.Tensor:
    torch.manual_seed(0)
    policy = nn.Linear(3, 1)
    log_prob = policy(torch.eye(3)).squeeze(1) + shift  # (3,) stand-ins for the samples' log-probs
    reinforce = Reinforce(policy, ReinforceConfig())
    reinforce.baseline = 0.5
    loss, _ = reinforce.loss(log_prob, torch.zeros(3), torch.tensor([1.0, 0.2, 0.9]), behaviour)
    return torch.autograd.grad(loss, policy.weight)[0]


def test_the_clipped_ratio_update_is_reinforce_while_the_policy_has_not_moved():
    torch.manual_seed(0)
    current = nn.Linear(3, 1)(torch.eye(3)).squeeze(1).detach()
    assert torch.allclose(_gradient(current), _gradient(None))
    # the policy made every sample far likelier since: advantages > 0 are clipped away, < 0 kept
    moved = _gradient(current, shift=1.0)
    assert moved[0, 0] == 0 and moved[0, 2] == 0 and moved[0, 1] != 0


def test_an_async_search_with_two_workers(runner, tmp_path):
    search(runner, tmp_path, "conv", "--budget", "3", *FAST, "--workers", "2", "--async", "2",
           "--run-dir", str(tmp_path / "a"))
    with RunStore.open_readonly(tmp_path / "a") as store:
        children, steps, config, state = store.children(), store.steps(), store.config, store.state
    assert config["async_k"] == 2 and state == "finished"
    assert [c.status for c in children] == ["done"] * 3 and all(c.log_prob < 0 for c in children)
    assert [s.step for s in steps] == [0, 1]  # an update after 2 children, then one on the last
    assert children[0].step == 0 and children[2].step in (0, 1)  # the policy version that sampled it


def test_an_async_search_resumes_after_kill_9(runner, tmp_path):
    run = tmp_path / "k"
    proc = _search(run, "--budget", "5", "--async", "2", "--seed", "4")
    _wait_for(lambda: len(_done_rows(run / "run.db")) >= 3, 240, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _done_rows(run / "run.db")
    result = runner.invoke(app, ["search", "--resume", str(run), "--budget", "6"])
    assert result.exit_code == 0, result.output
    with RunStore.open_readonly(run) as store:
        children, steps = store.children(), store.steps()
    assert [c.status for c in children] == ["done"] * 6
    assert [s.step for s in steps] == [0, 1, 2]  # every update made once: 6 children, K = 2
    after = {c.id: (c.tokens, c.reward, c.finished) for c in children}
    assert all(after[cid] == row for cid, row in before.items())  # finished children untouched
