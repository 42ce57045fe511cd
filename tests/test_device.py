"""--device and --amp: resolving devices, the CPU path end to end, CUDA where there is one,
and old run databases gaining the device column."""

from __future__ import annotations

import sqlite3

import pytest
import torch

from nascli.cli import app
from nascli.runs import RunStore
from nascli.train.device import DeviceError, resolve_device, worker_devices
from test_search import FAST, search

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def test_auto_is_cuda_only_where_torch_sees_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        resolve_device("cuda:0")
    with pytest.raises(DeviceError, match="expected auto, cpu, cuda or cuda:N"):
        resolve_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == "cuda"
    with pytest.raises(DeviceError, match="has 2 GPU"):
        resolve_device("cuda:2")
    assert worker_devices("cuda", 3) == ["cuda:0", "cuda:1", "cuda:0"]  # round-robin
    assert worker_devices("cuda:1", 2) == ["cuda:1", "cuda:1"]


@no_cuda
@pytest.mark.parametrize("command", [["search", "conv", "--budget", "1"], ["check", "conv", "-n", "1"],
                                     ["eval", "nowhere.json"], ["fidelity", "nowhere"]])
def test_cuda_without_cuda_is_a_clear_exit_2(runner, tmp_path, command):
    result = runner.invoke(app, [*command, "--device", "cuda"])
    assert result.exit_code == 2
    assert "torch sees no CUDA GPU here" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_a_cpu_search_with_amp_records_its_device(runner, tmp_path):
    search(runner, tmp_path, "conv", "--budget", "2", "--batch", "2", *FAST, "--device", "auto", "--amp",
           "--run-dir", str(tmp_path / "r"))
    with RunStore.open_readonly(tmp_path / "r") as store:
        config, children = store.config, store.children()
    assert config["device"] == ("cuda" if torch.cuda.is_available() else "cpu") and config["train"]["amp"] is True
    assert [c.status for c in children] == ["done", "done"]
    assert all(c.device == config["device"] for c in children)


def test_check_runs_on_the_chosen_device(runner):
    result = runner.invoke(app, ["check", "rnn", "-n", "1", "--device", "cpu", "--amp"])
    assert result.exit_code == 0, result.output
    assert ", cpu" in result.output


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_search_on_cuda(runner, tmp_path):
    search(runner, tmp_path, "conv", "--budget", "2", "--batch", "2", *FAST, "--device", "cuda", "--amp",
           "--workers", "2", "--run-dir", str(tmp_path / "g"))
    with RunStore.open_readonly(tmp_path / "g") as store:
        assert all(c.status == "done" and c.device.startswith("cuda") for c in store.children())


def test_a_run_made_before_the_device_column_still_opens(runner, tmp_path):
    run = tmp_path / "old"
    search(runner, tmp_path, "conv", "--strategy", "random", "--budget", "1", "--batch", "1", *FAST,
           "--run-dir", str(run))
    conn = sqlite3.connect(run / "run.db")  # make it look like schema 1
    conn.executescript("ALTER TABLE children DROP COLUMN device; ALTER TABLE children DROP COLUMN log_prob; "
                       "UPDATE meta SET value = '1' WHERE key = 'schema_version';")
    conn.close()
    with RunStore.open_readonly(run) as store:
        assert store.children()[0].device is None and store.best(1)
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0
    result = runner.invoke(app, ["search", "--resume", str(run), "--budget", "2"])
    assert result.exit_code == 0, result.output
    with RunStore.open_readonly(run) as store:
        assert store.get_meta("schema_version") == "2"
        assert [c.device for c in store.children()] == [None, "cpu"]
