"""Run folders and their files as input (issue 19): a resume whose budget is spent or too low, a
non-finite number in config.json, a crafted or broken model.pt. Each says so in one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from nascli.arch import decode, save_architecture
from nascli.cli import app
from nascli.runs import RunStore

sys.path.insert(0, str(Path(__file__).parent))
from test_hardening import finished_run, run  # noqa: E402,F401  (a finished 2-child search, copied per test)
from test_store import _Payload  # noqa: E402  (a pickle that runs a command when loaded unsafely)

CONV = "conv: 3 3 24 / 5 5 36 0 / 1 7 48 - / 3 3 64 0,2 / 1 1 24 3 / 3 1 36 1,4"


def _children(run: Path) -> list[tuple]:
    with RunStore.open_readonly(run) as store:
        return [(c.id, c.tokens, c.status, c.reward) for c in store.children()]


def test_a_budget_below_what_the_run_has_is_refused(runner, run):
    before = _children(run)
    result = runner.invoke(app, ["search", "--resume", str(run), "--budget", "1"])  # it exited 0, silently
    assert result.exit_code == 2, result.output
    assert (f"error: {run}: --budget 1 is below the 2 children the run already has; --budget is the new total: "
            "give more than 2 to extend it") in " ".join(result.output.split())
    assert _children(run) == before
    with RunStore.open_readonly(run) as store:
        assert store.get_meta("config_override") is None  # the refused budget is not kept


@pytest.mark.parametrize("budget", [[], ["--budget", "2"]])
def test_resuming_a_run_whose_budget_is_spent_says_so(runner, run, budget):
    result = runner.invoke(app, ["search", "--resume", str(run), *budget])
    assert result.exit_code == 0, result.output  # the run is complete, as asked
    assert (f"nothing left to train: the run's budget of 2 children is spent. Extend it with: nascli search "
            f"--resume {run} --budget N (N > 2, the new total)") in " ".join(result.output.split())
    assert "done. See the best" not in result.output


def test_a_non_finite_number_in_config_json_is_refused_on_resume(runner, run):
    config = json.loads((run / "config.json").read_text())
    config["options"]["reinforce"]["lr"] = float("inf")  # json writes Infinity
    (run / "config.json").write_text(json.dumps(config))
    result = runner.invoke(app, ["search", "--resume", str(run), "--budget", "3"])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "reinforce.lr" in result.output and "finite" in result.output, result.output


@pytest.mark.parametrize("content, words", [
    ("payload", "not plain tensor data: it names a Python callable, which is never loaded"),
    (b"not a zip, not a pickle", "not a PyTorch tensor file"),
    (b"", "not a readable PyTorch file"),
    ("list", "not a state dict"),
])
def test_a_crafted_or_broken_model_pt_is_one_line(runner, tmp_path, monkeypatch, content, words):
    monkeypatch.chdir(tmp_path)
    save_architecture(decode(CONV), tmp_path / "arch.json")
    weights = tmp_path / "arch-eval" / "model.pt"
    weights.parent.mkdir()
    if content == "payload":
        torch.save({"w": _Payload(tmp_path / "PWNED")}, weights)
    elif content == "list":
        torch.save([torch.zeros(2)], weights)
    else:
        weights.write_bytes(content)
    result = runner.invoke(app, ["export", "arch.json", "-o", "model.pt"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: arch-eval/model.pt: cannot read the trained weights: ") and words in result.output
    assert len(result.output.strip().splitlines()) == 1 and "weights_only" not in result.output, result.output
    assert not (tmp_path / "PWNED").exists()
