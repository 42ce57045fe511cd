"""Conditional decisions (issue 23 item 3): a decision only some of a layer's ops read exists only under
those ops, as conv_pool's type-then-parameters do, so counts are of distinct networks and the controller
decides nothing dead; token strings written before, with the dead tokens, still decode."""

from __future__ import annotations

import random

import pytest
import torch

from nascli.arch import decode
from nascli.arch.sample import sample_architecture
from nascli.children import build_child
from nascli.cli import app
from nascli.data.base import ImageTask
from nascli.errors import SpaceSemanticError
from nascli.search.controller import Controller
from nascli.space import parse_space
from nascli.space.compiler import compile_space

TASK = ImageTask(channels=3, height=8, width=8, classes=3)
MB = "layers 1 {{ op = conv_3x3 filters = 8 skip = previous }}\n" \
     "layers {n} {{ op: {{mbconv, identity}} kernel: {{3, 5, 7}} expansion: {{3, 6}} filters = 8 skip = previous }}"


def _compiled(body: str):
    return compile_space(parse_space("space s {\n" + body + "\n}", "s.space"))


def test_decisions_only_mbconv_reads_exist_only_under_mbconv():
    compiled = _compiled(MB.format(n=1))
    assert compiled.cardinality() == 3 * 2 + 1  # was 2 * 3 * 2 = 12: identity counted six times
    by_name = {d.name: d for d in compiled.decisions()}
    assert by_name["kernel"].condition == ("op", "mbconv") and by_name["expansion"].condition == ("op", "mbconv")
    assert decode("s:  ; identity", compiled).tokens == "s:  ; identity"
    assert decode("s:  ; mbconv 5 3", compiled).layers[1].params["kernel"] == 5


def test_counts_are_of_distinct_networks():
    """Every token string the space counts builds another network, and there are exactly that many."""
    compiled = _compiled(MB.format(n=2))
    assert compiled.cardinality() == 7 * 7
    tokens, networks = set(), set()
    rng = random.Random(0)
    for _ in range(1500):
        arch = sample_architecture(compiled, rng)
        tokens.add(arch.tokens)
        networks.add(repr(build_child(arch, TASK)) + repr([layer.params for layer in arch.layers]))
    assert len(tokens) == len(networks) == 49


def test_the_controller_decides_no_dead_decision():
    compiled = _compiled(MB.format(n=3))
    torch.manual_seed(0)
    sample = Controller(compiled).sample(64)
    for assignment in sample.assignments:
        for g in range(3):
            has_kernel = f"layers_2[{g}].kernel" in assignment
            assert has_kernel == (assignment[f"layers_2[{g}].op"] == "mbconv")
    log_prob, _ = Controller(compiled).score([{"layers_2[0].op": "identity", "layers_2[1].op": "identity",
                                               "layers_2[2].op": "identity"}])
    assert torch.isfinite(log_prob).all()  # an identity-only child needs no kernel or expansion


def test_token_strings_with_the_dead_tokens_of_earlier_versions_still_decode():
    compiled = _compiled(MB.format(n=2))
    old = decode("s:  ; identity 3 6 / mbconv 5 3", compiled)  # how earlier versions wrote it
    assert old.tokens == "s:  ; identity / mbconv 5 3" and old == decode(old.tokens, compiled)
    with pytest.raises(Exception, match="unexpected '9'"):
        decode("s:  ; identity 9 / mbconv 5 3", compiled)


def test_a_decision_declared_before_op_is_decided_after_it():
    compiled = _compiled("layers 2 { kernel: {3, 5} op: {mbconv, conv_3x3} filters = 8 skip = previous }")
    assert [d.name for d in compiled.group_decisions(0, 0)] == ["op", "kernel"]
    assert compiled.cardinality() == 3 * 3
    assert decode("s: conv_3x3 / mbconv 5", compiled).layers[1].params["kernel"] == 5


def test_inspect_shows_the_condition(runner, tmp_path):
    space = tmp_path / "s.space"
    space.write_text("space s {\n task = image\n" + MB.format(n=2) + "\n}\n")
    result = runner.invoke(app, ["inspect", str(space)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "op = mbconv" in result.output and "architectures in all: 49" in result.output


@pytest.mark.parametrize("body, where, words", [
    # a tie to a decision that exists only under another op
    ("layers 2 { op: {conv, max_pool} filter_height: {3, 5} filter_width = filter_height "
     "pool_size = filter_height filters = 4 }", "2:96", "'pool_size' takes the value of 'filter_height', "
     "which op 'max_pool' does not read"),
    # still refused: a decision no op reads
    ("layers 2 { op: {identity, none} kernel: {3, 5} }", "2:33", "'kernel' is read by no op this layer can take"),
])
def test_the_dead_decision_check(body, where, words):
    with pytest.raises(SpaceSemanticError) as err:
        _compiled(body)
    assert err.value.where == f"s.space:{where}" and words in err.value.message, err.value
