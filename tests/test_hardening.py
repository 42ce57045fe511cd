"""Hostile inputs: names that try to become code, run folders that are not what they claim,
bad data and bad options. Each gives the right result or exit 2 with a one-line reason."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nascli.arch import decode, save_architecture
from nascli.children import build_child
from nascli.cli import app
from nascli.data.base import ImageTask
from nascli.runs import RunStore

sys.path.insert(0, str(Path(__file__).parent))
from test_report import make_run  # noqa: E402  (a run built in a store, no training)

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning")

HOSTILE = 'x"""+str(__import__("os").system("touch PWNED"))+"""y'
CONV = "conv: 3 3 24 / 5 5 36 0 / 1 7 48 - / 3 3 64 0,2 / 1 1 24 3 / 3 1 36 1,4"
FAST = ["--epochs", "1", "--train-subset", "8", "--budget", "2", "--batch", "2"]


def _exits_2(runner, args: list[str], words: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (args, result.output)
    assert words in result.output and "Traceback" not in result.output, (args, result.output)
    assert len(result.output.strip().splitlines()) == 1, result.output


def _import(path: Path) -> None:
    spec = importlib.util.spec_from_file_location("hostile_model", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


# -- 1. names never become code -------------------------------------------------------------


def test_a_hostile_arch_json_name_stays_text(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    arch = decode(CONV)
    source = tmp_path / f"{HOSTILE}.json"
    save_architecture(arch, source)
    result = runner.invoke(app, ["export", str(source), "-o", "model.py"])
    assert result.exit_code == 0, result.output
    _import(tmp_path / "model.py")
    (tmp_path / f"{HOSTILE}-eval").mkdir()
    torch.save(build_child(arch, ImageTask(3, 32, 32, 10)).state_dict(), tmp_path / f"{HOSTILE}-eval" / "model.pt")
    for output in ("model.py", "model.pt"):  # model.pt execs the generated source to script it
        result = runner.invoke(app, ["export", str(source), "-o", output])
        assert result.exit_code == 0, result.output
    _import(tmp_path / "model.py")
    assert HOSTILE in (tmp_path / "model.py").read_text().replace("\\", "")  # shown, escaped
    assert not (tmp_path / "PWNED").exists()


def test_a_hostile_run_folder_name_stays_text(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_run(tmp_path / HOSTILE)
    result = runner.invoke(app, ["export", "--best", "--run", str(tmp_path / HOSTILE), "-o", "model.py"])
    assert result.exit_code == 0, result.output
    _import(tmp_path / "model.py")
    assert not (tmp_path / "PWNED").exists()


def test_docstring_text_escapes_what_could_end_the_string():
    from nascli.export.module_source import docstring_text

    for text in (HOSTILE, 'ends with a quote"', "back\\slash", "nul-free \x1b[31m control", "\udcff"):
        assert eval('"""' + docstring_text(text) + '"""') == text  # noqa: S307 - checking the literal
