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
from nascli.runs.packing import unpack

sys.path.insert(0, str(Path(__file__).parent))
from test_report import make_run  # noqa: E402  (a run built in a store, no training)
from test_store import _Payload  # noqa: E402  (a pickle that runs a command when loaded unsafely)

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


# -- 2, 4, 7. run folders are data; a run without its checkpoints is refused -------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, one_thread) -> Path:
    """A real 2-child search, finished; tests copy it."""
    from typer.testing import CliRunner

    run = tmp_path_factory.mktemp("finished") / "run"
    result = CliRunner().invoke(app, ["search", "conv", *FAST, "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    return run


@pytest.fixture
def run(finished_run, tmp_path) -> Path:
    import shutil

    shutil.copytree(finished_run, tmp_path / "run")
    return tmp_path / "run"


def _done(run: Path) -> dict[int, tuple]:
    with RunStore.open_readonly(run) as store:
        return {c.id: (c.tokens, c.reward, c.finished) for c in store.children() if c.status == "done"}


def test_a_crafted_checkpoint_never_runs_on_resume(runner, run, tmp_path):
    marker = tmp_path / "PWNED"
    folder = run / "checkpoints"
    torch.save({"strategy": {}, "updated_through": 9, "x": _Payload(marker)}, folder / "controller.pt")
    result = runner.invoke(app, ["search", "--resume", str(run), "--budget", "4"])
    assert result.exit_code == 0, result.output  # refused as data; the previous checkpoint carries on
    assert not marker.exists() and len(_done(run)) == 4
    torch.save(_Payload(marker), folder / "controller.pt")
    (folder / "controller.prev.pt").write_bytes(b"garbled")
    _exits_2(runner, ["search", "--resume", str(run), "--budget", "6"], "no readable controller checkpoint")
    assert not marker.exists()


def test_a_checkpoint_that_is_not_one_is_refused(runner, run):
    for name in ("controller.pt", "controller.prev.pt"):
        torch.save({}, run / "checkpoints" / name)
    _exits_2(runner, ["search", "--resume", str(run), "--budget", "4"], "not a controller checkpoint")


def test_lost_checkpoints_are_refused_unless_the_controller_is_reset(runner, run):
    import shutil

    before = _done(run)
    shutil.rmtree(run / "checkpoints")
    _exits_2(runner, ["search", "--resume", str(run), "--budget", "4"], "--reset-controller")
    assert _done(run) == before  # nothing re-sampled, nothing trained
    result = runner.invoke(app, ["search", "--resume", str(run), "--budget", "4", "--reset-controller"])
    assert result.exit_code == 0, result.output
    after = _done(run)
    assert len(after) == 4 and all(after[i] == row for i, row in before.items())
    new_tokens = {row[0] for i, row in after.items() if i not in before}
    assert not new_tokens & {row[0] for row in before.values()}  # the fresh controller is not seeded as step 0 was
    _exits_2(runner, ["search", "conv", "--reset-controller"], "--resume RUN only")


def test_a_run_checkpointed_by_an_earlier_version_resumes(runner, run):
    for name in ("controller.pt", "controller.prev.pt"):  # format 1: no format, no proposed_through
        state = unpack(torch.load(run / "checkpoints" / name, weights_only=True))  # as saved: packed
        torch.save({"strategy": state["strategy"], "updated_through": state["updated_through"]},
                   run / "checkpoints" / name)
    before = _done(run)
    result = runner.invoke(app, ["search", "--resume", str(run), "--budget", "4"])
    assert result.exit_code == 0, result.output
    after = _done(run)
    assert len(after) == 4 and all(after[i] == row for i, row in before.items())


def _poke(run: Path, sql: str) -> None:
    conn = sqlite3.connect(run / "run.db")
    conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(("sql", "commands", "words"), [
    ("UPDATE meta SET value = 'abc' WHERE key = 'samples'", [["report", "RUN", "-o", "OUT"], ["resume"]], "'samples'"),
    ("UPDATE meta SET value = 'abc' WHERE key = 'created'", [["report", "RUN", "-o", "OUT"]], "'created'"),
    ("UPDATE children SET reward = NULL WHERE id = 1", [["show", "RUN"], ["report", "RUN", "-o", "OUT"], ["resume"]],
     "corrupt record of child 1"),
])
def test_a_corrupt_run_database_is_exit_2(runner, run, tmp_path, sql, commands, words):
    _poke(run, sql)
    for command in commands:
        args = ["search", "--resume", str(run), "--budget", "4"] if command == ["resume"] else \
            [str(run) if a == "RUN" else str(tmp_path / "r.png") if a == "OUT" else a for a in command]
        _exits_2(runner, args, words)
    listed = runner.invoke(app, ["runs", "--root", str(run.parent)])
    assert listed.exit_code == 0 and "Traceback" not in listed.output


# -- 8. read-only media ------------------------------------------------------------------------


@pytest.fixture
def read_only(run, tmp_path):
    """`run` on a read-only filesystem (a read-only bind mount as root, file modes otherwise)."""
    if os.geteuid() != 0:
        for path in [run, *run.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        yield run
        for path in [run, *run.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        return
    mount = tmp_path / "ro"
    mount.mkdir()
    made = subprocess.run(["mount", "--bind", str(run), str(mount)], capture_output=True)
    if made.returncode or subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)]).returncode:
        subprocess.run(["umount", str(mount)], capture_output=True)
        pytest.skip("cannot make a read-only mount here")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_run_on_read_only_media_can_be_read(runner, read_only, tmp_path):
    best = max(_done(read_only).values(), key=lambda row: row[1])
    result = runner.invoke(app, ["show", str(read_only)])
    assert result.exit_code == 0 and best[0].split(" / ")[0] in result.output, result.output
    listed = runner.invoke(app, ["runs", "--root", str(read_only.parent)])
    assert listed.exit_code == 0 and "corrupt" not in listed.output, listed.output
    result = runner.invoke(app, ["report", str(read_only), "-o", str(tmp_path / "r.png")])
    assert result.exit_code == 0, result.output
    _exits_2(runner, ["eval", "--best", "--run", str(read_only), "--epochs", "1"], "cannot write here")


# -- 7, 9, 10. bad input on the command line ---------------------------------------------------


def _cifar(folder: Path, train: int, test: int = 1) -> Path:
    import pickle

    import numpy as np

    folder.mkdir()
    for name, n in (("data_batch_1", train), ("test_batch", test)):
        batch = {b"data": np.zeros((n, 3072), np.uint8), b"labels": [1] * n}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))  # as the original files are
    return folder


def test_too_little_data_is_refused_before_the_search(runner, tmp_path):
    ptb = tmp_path / "ptb"
    ptb.mkdir()
    (ptb / "ptb.train.txt").write_text("two tokens\n")
    for split in ("valid", "test"):
        (ptb / f"ptb.{split}.txt").write_text("a b c d e f g h\n" * 20)
    cases = [(["rnn_base2", "--data-dir", str(ptb)], "training split has 3 tokens"),
             (["conv", "--data-dir", str(_cifar(tmp_path / "one", 1))], "validation split holds no images"),
             (["conv", "--data-dir", str(_cifar(tmp_path / "empty", 0))], "training batches hold no images")]
    for args, words in cases:
        _exits_2(runner, ["search", *args, "--run-dir", str(tmp_path / "run")], words)
        assert not (tmp_path / "run").exists()


def test_bad_names_seeds_and_outputs_are_exit_2(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    long = "a" * 300
    arch = decode(CONV)
    save_architecture(arch, tmp_path / "arch.json")
    raw = (tmp_path / "arch.json").read_text().replace('"space": "conv"', f'"space": "{long}"')
    (tmp_path / "long.json").write_text(raw)
    for args, words in [
        (["inspect", long], "File name too long"),
        (["decode", f"{long}: 1 2"], "File name too long"),
        (["search", long], "File name too long"),
        (["render", "long.json"], "File name too long"),
        (["eval", "long.json"], "File name too long"),
        (["decode", CONV, "-o", "missing/arch.json"], "folder missing does not exist"),
        (["decode", CONV, "-o", str(tmp_path)], "is a folder"),
        (["decode", CONV, "-o", "/proc/version"], "cannot write"),
        (["render", "arch.json", "-o", "missing/a.svg"], "folder missing does not exist"),
        (["export", "arch.json", "-o", "missing/model.py"], "folder missing does not exist"),
        (["inspect", "/etc/passwd"], "not a space file"),
    ]:
        _exits_2(runner, args, words)
    assert not (tmp_path / "missing").exists()
    shown = runner.invoke(app, ["inspect", "/etc/passwd"]).output
    assert "root" not in shown  # where, never what
    for command in (["search", "conv"], ["sample", "conv"], ["eval", "arch.json"], ["check", "conv"]):
        result = runner.invoke(app, [*command, "--seed", str(2**64)])
        assert result.exit_code == 2 and "--seed" in result.output and "Traceback" not in result.output


def _started(run: Path) -> bool:
    if not run.is_dir():
        return False
    with RunStore.open_readonly(run) as store:
        return any(c.status != "pending" for c in store.children())


def test_sigterm_leaves_the_run_stopped(tmp_path):
    import signal
    import time

    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "nascli", "search", "conv", *FAST, "--budget", "8",
                             "--run-dir", str(run)], cwd=Path(__file__).parents[1], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    while time.time() < deadline and not _started(run):  # children train: the handler is in place
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM, proc.stderr.read().decode()
    with RunStore.open_readonly(run) as store:
        assert store.get_meta("state") == "stopped"  # recorded, not inferred from a dead pid
    assert b"--resume" in proc.stderr.read()
