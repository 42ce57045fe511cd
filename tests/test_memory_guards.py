"""Sizes the machine cannot hold (issue 19): a huge child, image size or controller is refused at
once with its memory estimate, where it used to hang, thrash or fail after the allocator tried."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import torch

from nascli import memory
from nascli.arch.sample import sample_architecture
from nascli.children import training_memory
from nascli.cli import app
from nascli.data.base import ImageTask
from nascli.errors import ResourceError
from nascli.memory import format_bytes
from nascli.search.controller import Controller, ControllerConfig, new_controller
from nascli.space import load_space
from nascli.space.compiler import compile_space

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--epochs", "1", "--train-subset", "8", "--budget", "2", "--batch", "2"]


@pytest.fixture
def huge_space(tmp_path) -> Path:
    """conv with a million filters per layer: valid, far too large to build."""
    text = (ROOT / "spaces" / "conv.space").read_text().replace("filters: {24, 36, 48, 64}", "filters: {1000000}")
    path = tmp_path / "huge.space"
    path.write_text(text.replace("space conv", "space huge"))
    return path


def test_check_refuses_a_child_too_large_for_memory_before_building_it(runner, huge_space):
    start = time.process_time()
    result = runner.invoke(app, ["check", str(huge_space), "-n", "3"])
    assert time.process_time() - start < 30  # it hung: allocations the kernel granted, then page thrashing
    assert result.exit_code == 1 and "0 passed, 3 failed" in result.output, result.output
    assert result.output.count("\n  the child would take an estimated") == 3, result.output  # one line per failure
    assert "more than the" in result.output and "this machine has" in result.output


def test_search_fails_the_same_child_with_the_same_message(runner, huge_space, tmp_path):
    result = runner.invoke(app, ["search", str(huge_space), *FAST, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and "no child trained" in result.output, result.output
    assert "the child would take an estimated" in result.output  # was torch's "can't allocate memory"


def test_the_estimate_is_of_the_right_size_and_the_limit_is_the_device(monkeypatch):
    compiled = compile_space(load_space("conv"))
    arch = sample_architecture(compiled, random.Random(0), 6)
    task = ImageTask(3, 32, 32, 10)
    need = training_memory(arch, task, None, examples=64)
    assert 10 * 2**20 < need < 10 * 2**30  # tens to hundreds of MiB for a 6-layer CIFAR child of 64 images
    assert training_memory(arch, task, None, examples=128) > need  # activations grow with the batch
    from nascli.children import check_child_memory
    from nascli.errors import ChildError

    check_child_memory(arch, task, None, 64)  # fits here
    monkeypatch.setattr(memory, "device_memory", lambda device="cpu": 2**20)
    with pytest.raises(ChildError, match=r"more than the 1 MiB this machine has"):
        check_child_memory(arch, task, None, 64)


def test_format_bytes():
    assert [format_bytes(n) for n in (512, 1536, 23.5 * 2**30, 1.6 * 2**50, 3 * 2**70)] == [
        "512 B", "1.5 KiB", "23.5 GiB", "1.6 PiB", "3 ZiB"]


def test_an_image_size_too_large_for_memory_is_refused_before_decoding(runner, tmp_path, monkeypatch):
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / cls / "0.png")
    monkeypatch.setenv("NASCLI_CACHE", str(tmp_path / "cache"))
    start = time.process_time()
    result = runner.invoke(app, ["data", str(tmp_path / "imgs"), "--image-size", "1000000"])
    assert time.process_time() - start < 10
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.startswith(f"error: {tmp_path / 'imgs'}: 2 images of 3×1000000×1000000 pixels would take "
                                    "an estimated 10.9 TiB of memory"), result.output  # 2 copies of 2 x 3e12 bytes
    assert "choose a smaller --image-size" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("strategy, space", [("reinforce", "conv"), ("enas", "enas_macro")])
def test_a_controller_too_large_for_memory_is_refused_before_the_run_exists(runner, tmp_path, strategy, space):
    run = tmp_path / "run"
    start = time.process_time()
    result = runner.invoke(app, ["search", space, "--strategy", strategy, "--controller-hidden", "100000000",
                                 "--run-dir", str(run)])
    assert time.process_time() - start < 20  # it failed to allocate after 30 s
    assert result.exit_code == 2 and "LSTM layer" in result.output and "of 100,000,000 units would take an estimated" \
        in result.output, result.output
    assert not run.exists()


def test_sizing_a_controller_first_draws_nothing_from_the_generator():
    compiled, config = compile_space(load_space("conv")), ControllerConfig()
    torch.manual_seed(3)
    plain = Controller(compiled, config).state_dict()
    torch.manual_seed(3)
    checked = new_controller(compiled, config).state_dict()
    assert all(torch.equal(plain[k], checked[k]) for k in plain)  # seeded runs sample what they did before
    with pytest.raises(ResourceError, match="a controller of 2 LSTM layers of 10,000,000 units"):
        new_controller(compiled, ControllerConfig(hidden=10_000_000))
