"""Shared fixtures: the real data beside the repo (skipped when absent) and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def cifar_dir() -> Path:
    path = SHARED_DATA / "cifar10-mini"
    if not path.is_dir():
        pytest.skip(f"real CIFAR-10 sample not present at {path}")
    return path


@pytest.fixture
def ptb_dir() -> Path:
    path = SHARED_DATA / "ptb-mini"
    if not path.is_dir():
        pytest.skip(f"real PTB sample not present at {path}")
    return path


@pytest.fixture(scope="module")
def one_thread():
    """Many small tensor ops: on a 2-core machine a second OpenMP thread mostly waits on the first."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
