"""Token strings and arch.json: exact round trips and errors that name the token."""

from __future__ import annotations

import json
import random

import pytest

from nascli.arch import decode, load_architecture, save_architecture
from nascli.arch.sample import sample_architecture
from nascli.errors import ArchitectureError, SpaceNotFoundError, TokenError
from nascli.space import bundled_spaces, load_space
from nascli.space.compiler import compile_space

WORKED = "rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"


@pytest.mark.parametrize("name", sorted(bundled_spaces()))
def test_round_trip_on_sampled_strings(name):
    compiled = compile_space(load_space(name))
    rng = random.Random(7)
    depths = compiled.depths or [None]
    seen = set()
    for i in range(200):
        arch = sample_architecture(compiled, rng, depths[i % len(depths)])
        again = decode(arch.tokens, compiled)
        assert again == arch
        assert decode(again.tokens) == arch  # the string alone names its space
        seen.add(arch.tokens)
    assert len(seen) > 150  # the sampler really explores


def test_worked_example_records():
    arch = decode(WORKED)
    assert arch.space == "rnn_base2" and arch.task == "language"
    nodes = [(n.combine, n.activation, n.children) for n in arch.tree.nodes]
    assert nodes == [("add", "tanh", []), ("elem_mult", "relu", []), ("elem_mult", "sigmoid", [0, 1])]
    assert (arch.tree.inject.combine, arch.tree.inject.activation) == ("add", "relu")
    assert (arch.tree.cell_index.out, arch.tree.cell_index.inject) == (1, 0)


def test_base8_tree_topology():
    tree = load_space("rnn").blocks[0]
    assert tree.children()[8:] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11], [12, 13]]


def test_conv_records_use_the_users_values():
    arch = decode("conv: 3 5 24 / 7 7 36 0 / 1 1 48 - / 3 3 64 2,0 / 5 5 24 - / 3 3 24 1,3,4")
    assert len(arch.layers) == 6
    assert arch.layers[0].params == {"filter_height": 3, "filter_width": 5, "filters": 24, "stride": 1}
    assert arch.layers[0].inputs == [] and arch.layers[3].inputs == [0, 2]
    assert arch.tokens.endswith("3 3 64 0,2 / 5 5 24 - / 3 3 24 1,3,4")  # canonical: sorted


def test_conditional_layers():
    arch = decode("conv_pool: conv 3 3 24 2 / max_pool 3 2 0 / conv 1 7 36 1 - / max_pool 2 1 1 / conv 5 5 64 3 - / conv 3 3 24 1 0,4")
    assert arch.layers[1].op == "max_pool" and arch.layers[1].params == {"pool_size": 3, "stride": 2}
    assert arch.layers[2].params["filter_width"] == 7


@pytest.mark.parametrize("text, words", [
    ("conv: 3 3 24 / 3 3 36 - / 3 3 36 0 / 1 1 1 0,1 / 3 3 24 - / 3 3 24 -", "'1' is not a value of layers[3].filters; the space allows: 24, 36, 48, 64"),
    ("conv: 3 3 24 / 3 3 36 - / 3 3 36 0", "3 layers; the space allows 6, 8, 10, 12, 14, 15"),
    ("conv: 3 3 24 / 3 3 36 5 / 3 3 36 0 / 1 1 24 0 / 3 3 24 - / 3 3 24 -", "layers[1].skip cannot read layer 5"),
    ("conv: 3 3 24 / 3 3 36 x / 3 3 36 0 / 1 1 24 0 / 3 3 24 - / 3 3 24 -", "'x' is not an anchor"),
    ("conv: 3 3 24 / 3 3 / 3 3 36 0 / 1 1 24 0 / 3 3 24 - / 3 3 24 -", "missing a value for layers[1].filters"),
    ("conv: 3 3 24 9 / 3 3 36 - / 3 3 36 0 / 1 1 24 0 / 3 3 24 - / 3 3 24 -", "unexpected '9'"),
    ("rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 3", "'3' is not a node cell_index.inject can pick"),
    ("rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu", "found 2 blocks"),
    ("rnn_base2: add tanh / elem_mult relu ; add relu ; 1 0", "block 'tree' has 2 groups"),
    ("no colon here", "starts with its space's name"),
])
def test_token_errors_name_the_token(text, words):
    with pytest.raises(TokenError) as info:
        decode(text)
    assert words in info.value.message


def test_error_column_points_at_the_token():
    text = "conv: 3 3 24 / 3 3 36 - / 3 3 36 0 / 1 1 1 0,1 / 3 3 24 - / 3 3 24 -"
    with pytest.raises(TokenError) as info:
        decode(text)
    col = text.index(" 1 0,1") + 2
    assert info.value.where == f"token string, column {col}"
    assert info.value.detail.splitlines()[1].index("^") == col + 1  # two spaces of indent


def test_unknown_space_name():
    with pytest.raises(SpaceNotFoundError):
        decode("nosuchspace: 1 2 3")


def test_space_override_and_mismatch():
    with pytest.raises(TokenError, match="for space 'rnn_base2', not 'rnn'"):
        decode(WORKED, "rnn")


def test_arch_json_round_trip_and_schema(tmp_path):
    arch = decode(WORKED)
    path = tmp_path / "arch.json"
    save_architecture(arch, path)
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == 2 and raw["space"] == "rnn_base2" and raw["tokens"] == WORKED
    assert raw["space_hash"] == load_space("rnn_base2").sha256
    assert load_architecture(path) == arch


@pytest.mark.parametrize("edit, words", [
    (lambda raw: "{not json", "not a JSON file"),
    (lambda raw: json.dumps({**raw, "schema_version": 9}), "schema_version"),
    (lambda raw: json.dumps({k: v for k, v in raw.items() if k != "tokens"}), "tokens"),
    (lambda raw: json.dumps({**raw, "tokens": raw["tokens"].replace("tanh", "gelu")}), "does not decode"),
    (lambda raw: json.dumps({**raw, "tree": {**raw["tree"], "base": 3}}), "do not match its token string"),
])
def test_broken_arch_json(tmp_path, edit, words):
    path = tmp_path / "arch.json"
    save_architecture(decode(WORKED), path)
    path.write_text(edit(json.loads(path.read_text())))
    with pytest.raises(ArchitectureError) as info:
        load_architecture(path)
    assert words in info.value.message and info.value.where == str(path)
