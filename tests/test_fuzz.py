"""Property-based: random and mutated space files, token strings, datasets and run folders never
escape as tracebacks, and never hang.

Every test is derandomized (hypothesis derives its examples from the test, not from a clock), so a
run of the suite sees the same cases each time and cannot flake.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nascli.arch import decode
from nascli.arch.sample import sample_architecture
from nascli.cli import app
from nascli.errors import NasError
from nascli.space import bundled_spaces, parse_space
from nascli.space.compiler import compile_space

SPACE_TEXTS = {name: path.read_text() for name, path in bundled_spaces().items()}
SAMPLED = [sample_architecture(compile_space(parse_space(t, n)), random.Random(1)).tokens for n, t in SPACE_TEXTS.items()]
ALPHABET = "{}:=,;/#-. \n" + "abcdefghijklmnopqrstuvwxyz_0123456789"


def _edit(seq, data, edits: dict, most: int, width: int):
    """Apply 1..`most` of `edits` (name -> (seq, i, j) -> seq) to random spans [i, j) of up to `width`."""
    for _ in range(data.draw(st.integers(1, most))):
        if not seq:
            break
        i = data.draw(st.integers(0, len(seq) - 1))
        j = data.draw(st.integers(i, min(len(seq), i + width)))
        seq = edits[data.draw(st.sampled_from(list(edits)))](seq, i, j)
    return seq


def mutate(text: str, data) -> str:
    """Delete, duplicate or replace a few random slices of `text`."""
    return _edit(text, data, {
        "delete": lambda s, i, j: s[:i] + s[j:],
        "duplicate": lambda s, i, j: s[:j] + s[i:j] + s[j:],
        "replace": lambda s, i, j: s[:i] + data.draw(st.text(ALPHABET, max_size=6)) + s[j:],
    }, most=4, width=8)


def only_nas_errors(fn, *args) -> None:
    try:
        fn(*args)
    except NasError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.data())
def test_mutated_space_files_raise_only_nas_errors(data):
    text = mutate(data.draw(st.sampled_from(sorted(SPACE_TEXTS.values()))), data)
    only_nas_errors(parse_space, text, "fuzz.space")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(ALPHABET, max_size=80))
def test_random_text_raises_only_nas_errors(text):
    only_nas_errors(parse_space, text, "fuzz.space")
    only_nas_errors(parse_space, "space s { " + text + " }", "fuzz.space")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.data())
def test_mutated_token_strings_raise_only_nas_errors(data):
    text = mutate(data.draw(st.sampled_from(SAMPLED)), data)
    only_nas_errors(decode, text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(st.data())
def test_cli_never_shows_a_traceback(runner, tmp_path, data):
    path = tmp_path / "fuzz.space"
    path.write_text(mutate(data.draw(st.sampled_from(sorted(SPACE_TEXTS.values()))), data))
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    token = mutate(data.draw(st.sampled_from(SAMPLED)), data)
    result = runner.invoke(app, ["decode", token])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- issue 19: the CLI on random and mutated inputs of every kind, each case under a time limit ---------

CASE_SECONDS = 60  # a case that takes this long hangs: the slowest here take a second or two
ROOT = Path(__file__).resolve().parents[1]
WINE = (ROOT / "nascli" / "data" / "embedded" / "csv" / "wine.csv").read_text().splitlines()
TABLE = "\n".join(WINE[:1] + WINE[1::5]) + "\n"  # the header and 36 rows of all three classes
# look-alike digits, control characters, a byte-order mark, a right-to-left override, non-ASCII letters
ODD = ALPHABET + "١٦１６²\x1b\x07\x00\ufeff\u202eé中\t\r"


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so no `except Exception` in the code under test swallows it."""


@contextmanager
def time_limit(seconds: int = CASE_SECONDS):
    def hang(signum, frame):
        raise Hang(f"no result within {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def exits_0_or_2(runner, args: list[str]) -> None:
    with time_limit():
        result = runner.invoke(app, args)
    assert result.exit_code in (0, 2), (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in result.output, result.output


def mutate_bytes(raw: bytes, data) -> bytes:
    """Flip, delete, repeat or truncate a few random spans of `raw`."""
    return _edit(raw, data, {
        "flip": lambda s, i, j: s[:i] + bytes(b ^ 0xFF for b in s[i:j]) + s[j:],
        "delete": lambda s, i, j: s[:i] + s[j:],
        "repeat": lambda s, i, j: s[:j] + s[i:j] * data.draw(st.integers(1, 50)) + s[j:],
        "truncate": lambda s, i, j: s[:i],
    }, most=3, width=16)


def _case_folder(tmp_path: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=tmp_path))


FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(st.data())
def test_inspect_and_decode_with_odd_characters_exit_0_or_2(runner, tmp_path, data):
    space = _case_folder(tmp_path) / "fuzz.space"
    text = data.draw(st.sampled_from(sorted(SPACE_TEXTS.values())))
    i = data.draw(st.integers(0, len(text)))
    space.write_text(text[:i] + data.draw(st.text(ODD, max_size=8)) + text[i:], encoding="utf-8")
    exits_0_or_2(runner, ["inspect", str(space)])
    token = data.draw(st.sampled_from(SAMPLED))
    i = data.draw(st.integers(0, len(token)))
    exits_0_or_2(runner, ["decode", token[:i] + data.draw(st.text(ODD, min_size=1, max_size=8)) + token[i:]])


@FUZZ
@given(st.data())
def test_data_on_mutated_tables_exits_0_or_2(runner, tmp_path, data):
    table = _case_folder(tmp_path) / "t.csv"
    table.write_bytes(mutate_bytes(TABLE.encode(), data))
    exits_0_or_2(runner, ["data", str(table), "--target", data.draw(st.sampled_from(["target", "hue", "nope"]))])


@pytest.fixture(scope="module")
def png_bytes() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@FUZZ
@given(st.data())
def test_data_on_image_folders_with_a_mutated_png_exits_0_or_2(runner, tmp_path, monkeypatch, png_bytes, data):
    folder = _case_folder(tmp_path)
    monkeypatch.setenv("NASCLI_CACHE", str(folder / "cache"))
    for cls in ("a", "b"):
        (folder / "imgs" / cls).mkdir(parents=True)
        for k in range(3):
            (folder / "imgs" / cls / f"{k}.png").write_bytes(png_bytes)
    (folder / "imgs" / "a" / "0.png").write_bytes(mutate_bytes(png_bytes, data))
    exits_0_or_2(runner, ["data", str(folder / "imgs")])


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> Path:
    """A finished 2-child search of the table space (fast: one epoch of 178 rows)."""
    from typer.testing import CliRunner

    run = tmp_path_factory.mktemp("fuzz") / "run"
    result = CliRunner().invoke(app, ["search", "mlp", "--epochs", "1", "--budget", "2", "--batch", "2",
                                      "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    return run


RUN_FILES = ["config.json", "space.space", "run.db", "checkpoints/controller.pt", "checkpoints/controller.prev.pt"]


@FUZZ
@given(st.data())
def test_resume_of_a_mutated_run_folder_exits_0_or_2(runner, tmp_path, table_run, data):
    run = _case_folder(tmp_path) / "run"
    shutil.copytree(table_run, run)
    for name in data.draw(st.lists(st.sampled_from(RUN_FILES), min_size=1, max_size=2, unique=True)):
        path = run / name
        if data.draw(st.booleans()) and name == "config.json":  # a valid JSON file with odd values
            config = json.loads(path.read_text())
            key = data.draw(st.sampled_from(sorted(config["options"])))
            config["options"][key] = data.draw(st.sampled_from([None, -1, 1e308, float("nan"), "x", [], {}]))
            path.write_text(json.dumps(config))
        elif data.draw(st.integers(0, 9)) == 0:
            path.unlink()
        else:
            path.write_bytes(mutate_bytes(path.read_bytes(), data))
    # --budget 2: what the run has, so a resume that reads the run trains nothing (a case stays fast)
    exits_0_or_2(runner, ["search", "--resume", str(run), "--budget", "2"])
