"""Shared fixtures: the real data beside the repo (skipped when absent) and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
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
