"""Property-based: random and mutated space files and token strings never escape as tracebacks."""

from __future__ import annotations

import random

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


def mutate(text: str, data) -> str:
    """Delete, duplicate or replace a few random slices of `text`."""
    for _ in range(data.draw(st.integers(1, 4))):
        if not text:
            break
        i = data.draw(st.integers(0, len(text) - 1))
        j = data.draw(st.integers(i, min(len(text), i + 8)))
        how = data.draw(st.sampled_from(["delete", "duplicate", "replace"]))
        if how == "delete":
            text = text[:i] + text[j:]
        elif how == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        else:
            text = text[:i] + data.draw(st.text(ALPHABET, max_size=6)) + text[j:]
    return text


def only_nas_errors(fn, *args) -> None:
    try:
        fn(*args)
    except NasError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_space_files_raise_only_nas_errors(data):
    text = mutate(data.draw(st.sampled_from(sorted(SPACE_TEXTS.values()))), data)
    only_nas_errors(parse_space, text, "fuzz.space")


@settings(max_examples=200, deadline=None)
@given(st.text(ALPHABET, max_size=80))
def test_random_text_raises_only_nas_errors(text):
    only_nas_errors(parse_space, text, "fuzz.space")
    only_nas_errors(parse_space, "space s { " + text + " }", "fuzz.space")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_token_strings_raise_only_nas_errors(data):
    text = mutate(data.draw(st.sampled_from(SAMPLED)), data)
    only_nas_errors(decode, text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
