"""Rough edges of the CLI (issue 9 item 7): each bad input exits 2 with one line, no traceback."""

from __future__ import annotations

import json

from nascli.cli import app
from nascli.space import find_space_file

LAYERS = """space deep {{
    task = image
    layers {n} {{
        filter_height: {{1, 3}}
        filter_width: {{1, 3}}
        filters: {{24, 36}}
        stride = 1
        skip: anchor
    }}
}}
"""


def _fails(result, *phrases: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    first = result.output.splitlines()[0]
    for phrase in phrases:
        assert phrase in first, first
    return result.output


def test_inspect_prints_a_huge_count_in_scientific_form_and_json_keeps_it_exact(runner, tmp_path):
    space = tmp_path / "deep.space"
    space.write_text(LAYERS.format(n=200))
    exact = 2 ** (200 * 199 // 2) * 8**200  # 200 layers of 2×2×2 choices, 2^(i) skip sets at layer i
    result = runner.invoke(app, ["inspect", str(space)])
    assert result.exit_code == 0, result.output
    assert "architectures in all: ≈ 1.30e6171" in result.output
    data = json.loads(runner.invoke(app, ["inspect", str(space), "--json"]).output)
    assert data["cardinality"] == _decimal(exact)  # a string: Python's json refuses ints of 4,300+ digits


def _decimal(n: int) -> str:
    import sys

    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return str(n)
    finally:
        sys.set_int_max_str_digits(limit)


def test_inspect_keeps_small_counts_as_json_ints(runner, tmp_path):
    space = tmp_path / "deep.space"
    space.write_text(LAYERS.format(n=20))
    data = json.loads(runner.invoke(app, ["inspect", str(space), "--json"]).output)
    assert data["cardinality"] == 2 ** (20 * 19 // 2) * 8**20


def test_a_byte_order_mark_is_accepted(runner, tmp_path):
    space = tmp_path / "bom.space"
    space.write_bytes(b"\xef\xbb\xbf" + find_space_file("rnn_base2").read_bytes())
    result = runner.invoke(app, ["inspect", str(space)])
    assert result.exit_code == 0, result.output
    assert "36,864" in result.output


def test_a_directory_is_named_as_a_directory(runner, tmp_path):
    folder = tmp_path / "mine.space"
    folder.mkdir()
    _fails(runner.invoke(app, ["inspect", str(folder)]), "is a directory, not a space file")


def test_a_mistyped_block_keyword_gets_a_suggestion(runner, tmp_path):
    space = tmp_path / "typo.space"
    space.write_text(LAYERS.format(n=4).replace("layers 4", "layer 4"))
    _fails(runner.invoke(app, ["inspect", str(space)]), "did you mean 'layers' instead of 'layer' (line 3, column 5)?")
    space.write_text(LAYERS.format(n=4).replace("layers 4", "layers 4 frm 2 grow 1 every 9"))
    _fails(runner.invoke(app, ["inspect", str(space)]), "unexpected 'frm'", "did you mean 'from'?")


def test_an_unclosed_brace_names_its_block(runner, tmp_path):
    space = tmp_path / "open.space"
    space.write_text(LAYERS.format(n=4).replace("filters: {24, 36}", "filters: {24, 36"))
    _fails(runner.invoke(app, ["inspect", str(space)]),
           "unexpected 'stride'", "the '{' of 'filters:' opened at line 6, column 18 is never closed")
    space.write_text(LAYERS.format(n=4).replace("        skip: anchor\n    }", "        skip: anchor\n"))
    _fails(runner.invoke(app, ["inspect", str(space)]),
           "unexpected end of file; the '{' of 'layers 4' opened at line 3, column 14 is never closed")


def test_a_long_error_line_is_cut_around_the_caret(runner, tmp_path):
    space = tmp_path / "long.space"
    settings = " ".join(f"x{i} = {i}" for i in range(60))
    space.write_text(f"space t {{ task = image {settings} layers 4 {{ filters: {{24, 36 48}} }} }}")
    output = _fails(runner.invoke(app, ["inspect", str(space)], env={"COLUMNS": "60"}), "unexpected '48'")
    source, caret = output.splitlines()[1:3]
    assert len(source) <= 60 and source.startswith("…") and "36 48" in source
    assert source[caret.index("^"):].startswith("48")


WORKED = "rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"


def _edited_space(tmp_path):
    """rnn_base2 with one more comment line: the same tokens, another sha256."""
    edited = tmp_path / "rnn_base2.space"
    edited.write_text(find_space_file("rnn_base2").read_text() + "# edited\n")
    return edited


def test_an_arch_json_of_another_space_version_is_refused_without_force(runner, tmp_path):
    edited = _edited_space(tmp_path)
    arch = tmp_path / "arch.json"
    assert runner.invoke(app, ["decode", WORKED, "--space", str(edited), "-o", str(arch)]).exit_code == 0
    _fails(runner.invoke(app, ["render", str(arch)]), "another version of space 'rnn_base2'", "--force")
    _fails(runner.invoke(app, ["export", str(arch), "-o", str(tmp_path / "m.py")]), "another version")
    _fails(runner.invoke(app, ["eval", str(arch)]), "another version")
    assert runner.invoke(app, ["render", str(arch), "--force"]).exit_code == 0
    assert runner.invoke(app, ["render", str(arch), "--space", str(edited)]).exit_code == 0


def test_render_takes_space_like_decode(runner, tmp_path):
    edited = _edited_space(tmp_path)
    other = tmp_path / "other.space"
    other.write_text(edited.read_text().replace("space rnn_base2", "space other"))
    tokens = WORKED.replace("rnn_base2:", "other:")
    _fails(runner.invoke(app, ["render", tokens]), "unknown space 'other'")
    result = runner.invoke(app, ["render", tokens, "--space", str(other)])
    assert result.exit_code == 0, result.output
    assert "tanh" in result.output
    _fails(runner.invoke(app, ["render", "--best", "--space", str(other)]), "--space applies to an arch.json")


class _Confident(__import__("torch").nn.Module):
    """A language model sure of the wrong word: a mean loss of about 1e4 nats per token."""

    def forward(self, x, state):
        import torch

        logits = torch.zeros(*x.shape, 5)
        logits[..., 0] = 1e4
        return logits, state

    def init_state(self, batch):
        import torch

        return torch.zeros(batch)


def test_a_language_child_with_a_huge_loss_is_diverged_not_an_overflow():
    import pytest
    import torch

    from nascli.errors import ChildError
    from nascli.train import RewardConfig, language_reward, perplexity

    ids = torch.randint(1, 5, (400,))
    with pytest.raises(ChildError, match="diverged: validation loss is 1e\\+04 nats per token"):
        perplexity(_Confident(), ids, batch_size=4, bptt=10)
    assert language_reward([1e200], RewardConfig()) == (1e200, 0.0)


HYPER = """space lrs {{
    task = image
    dataset = cifar10
    hyper {{
        lr: {{{lrs}}}
    }}
    layers 1 {{
        filter_height: {{1}}
        filter_width: {{1}}
        filters: {{4}}
        stride = 1
        skip: anchor
    }}
}}
"""


def test_hyper_parameter_values_compare_as_numbers(runner, tmp_path):
    space = tmp_path / "lrs.space"
    space.write_text(HYPER.format(lrs="0.001, 1e-3"))
    _fails(runner.invoke(app, ["inspect", str(space)]), "duplicate value '1e-3' in choice list")
    space.write_text(HYPER.format(lrs="1, 1.0"))
    _fails(runner.invoke(app, ["inspect", str(space)]), "duplicate value '1.0'")
    space.write_text(HYPER.format(lrs="0.001, 0.1"))
    result = runner.invoke(app, ["decode", "lrs: 1e-3 ; 1 1 4", "--space", str(space), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["hyper"] == {"lr": 0.001} and data["tokens"] == "lrs: 0.001 ; 1 1 4"


def test_search_rejects_a_dataset_of_another_task_before_training(runner, tmp_path):
    run = tmp_path / "run"
    _fails(runner.invoke(app, ["search", "conv", "--dataset", "ptb", "--run-dir", str(run)]),
           "dataset 'ptb' holds language data, but space 'conv' builds image networks; use --dataset cifar10")
    assert not run.exists()
    _fails(runner.invoke(app, ["check", "rnn_base2", "--dataset", "cifar10"]), "use --dataset text, ptb")


def test_search_in_which_every_child_failed_lists_the_failures_and_exits_2(runner, tmp_path):
    space = tmp_path / "boom.space"
    space.write_text(HYPER.format(lrs="1e30, 1e31"))  # SGD steps of 1e30: every child diverges
    args = ["search", str(space), "--budget", "2", "--batch", "2", "--epochs", "1", "--train-subset", "64",
            "--run-dir", str(tmp_path / "run")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "2 failed children:\n  2 × diverged" in result.output
    assert "error: no child trained: all 2 failed" in result.output and "Traceback" not in result.output


def test_search_with_some_failed_children_lists_them_and_exits_0(runner, tmp_path):
    space = tmp_path / "half.space"
    space.write_text(HYPER.format(lrs="0.05, 1e30"))  # the second learning rate diverges
    args = ["search", str(space), "--strategy", "random", "--budget", "4", "--batch", "4", "--epochs", "1",
            "--train-subset", "64", "--seed", "0", "--run-dir", str(tmp_path / "run")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 failed children:\n  2 × diverged: the network's outputs are not finite  (e.g. #1)" in result.output
    assert "done. See the best children" in result.output
