"""`nascli check` and `decode --dataset`: architectures build and run on real batches."""

from __future__ import annotations

import pytest

from nascli.cli import app
from nascli.space import bundled_spaces

WORKED = "rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"


@pytest.mark.parametrize("space", sorted(bundled_spaces()))
def test_check_every_space_on_the_embedded_sample(runner, space):
    result = runner.invoke(app, ["check", space, "-n", "2", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "2 passed, 0 failed" in result.output and "embedded sample" in result.output


def test_check_on_the_real_shared_data(runner, cifar_dir, ptb_dir):
    for space, folder in (("conv_strides", cifar_dir), ("enas_rnn", ptb_dir)):
        result = runner.invoke(app, ["check", space, "-n", "2", "--data-dir", str(folder)])
        assert result.exit_code == 0, result.output
        assert str(folder) in result.output.replace("\n", "")


def test_check_reports_a_failure_and_exits_1(runner, monkeypatch):
    import nascli.children.check as check

    def broken(arch, task, config=None):
        raise RuntimeError("no such kernel")

    monkeypatch.setattr(check, "build_child", broken)
    result = runner.invoke(app, ["check", "conv", "-n", "2"])
    assert result.exit_code == 1
    assert "0 passed, 2 failed" in result.output and "RuntimeError: no such kernel" in result.output


def test_an_exploding_cell_is_reported_as_diverged_not_failed():
    from nascli.arch import decode
    from nascli.children.check import check_architecture
    from nascli.data import load_dataset

    # c_{t-1} is multiplied into node 1 with no squashing: the state explodes over 35 steps
    exploding = decode("rnn_base2: add sigmoid / add identity / add identity ; elem_mult relu ; 2 1")
    results = [check_architecture(exploding, load_dataset("ptb"), seed=s) for s in range(3)]
    assert [r.status for r in results] == ["diverged"] * 3  # seeded: the same verdict every run
    assert all("the loss on the first batch is" in r.error and r.params > 0 for r in results)
    ok = check_architecture(decode("rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"),
                            load_dataset("ptb"))
    assert ok.status == "ok" and ok.error is None and ok.params > 0


def test_decode_with_dataset_shows_size(runner):
    result = runner.invoke(app, ["decode", WORKED, "--dataset", "ptb"])
    assert result.exit_code == 0, result.output
    # embedded PTB: vocabulary 6,022; embedding 64 tied with the decoder; leaves 2 x (64 -> 2*64) without bias
    assert "407,814 parameters" in result.output


def test_check_missing_dataset_exits_2(runner, tmp_path):
    result = runner.invoke(app, ["check", "conv", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2 and "Traceback" not in result.output
