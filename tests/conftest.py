"""Shared fixtures: the real data beside the repo (skipped when absent) and a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
# NASCLI_SHARED_DATA points at the data from a checkout elsewhere (e.g. a git worktree).
SHARED_DATA = Path(os.environ.get("NASCLI_SHARED_DATA") or ROOT.parent / "shared" / "data")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _shared(folder: str) -> Path:
    """A real dataset beside the repo; the test is skipped on a machine without it."""
    path = SHARED_DATA / folder
    if not path.is_dir():
        pytest.skip(f"real data not present at {path}")
    return path


@pytest.fixture
def cifar_dir() -> Path:
    return _shared("cifar10-mini")


@pytest.fixture
def ptb_dir() -> Path:
    return _shared("ptb-mini")


@pytest.fixture(scope="module")
def one_thread():
    """Many small tensor ops: on a 2-core machine a second OpenMP thread mostly waits on the first."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
