"""ONNX export (nascli/export/onnx_*.py): every bundled space's child and a plugin op match onnxruntime
on real data, at shapes other than the traced ones; an op ONNX cannot take is named; the extra is optional."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
import torch

from nascli.arch import Architecture, save_architecture
from nascli.arch.sample import sample_architecture
from nascli.children import ChildConfig, LanguageModelConfig, MicroConfig, build_child
from nascli.cli import app
from nascli.data.base import LanguageTask
from nascli.data.spec import DataSpec
from nascli.export import WeightsNote, export_child
from nascli.export.onnx_check import ParityError
from nascli.plugins import load_plugins
from nascli.space import find_space_file, load_space
from nascli.space.compiler import compile_space

ort = pytest.importorskip("onnxruntime")  # the `onnx` extra; .ci/run installs it, so CI runs these

ROOT = Path(__file__).resolve().parents[1]
ASYM_PLUGIN, ASYM_SPACE = ROOT / "examples" / "plugins" / "asym_conv.py", ROOT / "examples" / "plugins" / "asym.space"
BLOCKER = Path(__file__).parent / "plugins" / "onnx_blocker.py"
SMALL = ChildConfig(micro=MicroConfig(filters=4, cells_per_stage=1),
                    language=LanguageModelConfig(embed_size=16, hidden_size=16))
BUNDLED = ["conv", "conv_strides", "conv_pool", "enas_macro", "enas_micro", "nb201", "darts", "mobilenet", "mlp",
           "rnn", "rnn_base2", "enas_rnn"]
# Export time grows with the graph: where a bundled file fixes how many cells or layers a child has, the test
# samples from a copy with fewer of the same cells (the same ops and wiring, reductions included), and
# MobileNet's child is one that skips some of its optional blocks.
FEWER = {"nb201": ("stages 3 repeat 5", "stages 2 repeat 1"), "darts": ("stages 3 repeat 2", "stages 2 repeat 1"),
         "enas_macro": ("layers 12", "layers 6"), "enas_micro": ("nodes 7", "nodes 4")}
WANT = {"mobilenet": lambda arch: sum(layer.op == "identity" for layer in arch.layers) >= 2}
WOBBLY = """space wobbly {
    requires onnx_blocker
    task = image
    dataset = cifar10
    layers 2 {
        op: {
            sep_conv_3x3 { }
            wobble_conv { }
        }
        filters = 8
        skip: anchor
    }
}
"""

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def datasets() -> dict:
    """The embedded samples: real images, text and table rows."""
    return {"image": DataSpec(name="cifar10").load(), "language": DataSpec(name="ptb").load(),
            "tabular": DataSpec(name="csv", target="target").load()}


def _sample(space: str, want=lambda arch: True) -> Architecture:
    compiled = compile_space(load_space(space))
    for seed in range(200):
        arch = sample_architecture(compiled, random.Random(seed), compiled.depths[0] if compiled.depths else None)
        if want(arch):
            return arch
    raise AssertionError(f"no sample of {space} fits")


def _trained(arch: Architecture, data, folder: Path) -> tuple[torch.nn.Module, WeightsNote]:
    """The built child with batch-norm statistics moved by real data, in eval mode, saved as `nascli eval` does."""
    torch.manual_seed(0)
    model = build_child(arch, data.task, SMALL)
    if not isinstance(data.task, LanguageTask):
        with torch.no_grad():
            model.train()
            model(data.train_x[:16])
    weights = WeightsNote(folder / "arch-eval" / "model.pt", "nascli eval arch.json")
    weights.path.parent.mkdir(parents=True)
    torch.save(model.state_dict(), weights.path)
    return model.eval(), weights


def _flat(outputs) -> list[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    logits, state = outputs
    return [logits, *(state if isinstance(state, tuple) else (state,))]


def _other_shapes(model: torch.nn.Module, data) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Inputs of a batch size (and sequence length) the export was not traced at, and the child's outputs."""
    if isinstance(data.task, LanguageTask):
        tokens = data.valid[:33].view(3, 11).t()  # 11 steps of 3 streams; traced at 35 steps of 4
        torch.manual_seed(1)
        state = model.init_state(3)
        state = tuple(torch.randn_like(s) for s in state) if isinstance(state, tuple) else torch.randn_like(state)
        with torch.no_grad():
            return [tokens, *_flat((None, state))[1:]], _flat(model(tokens, state))
    x = data.valid_x[:3]
    with torch.no_grad():
        return [x], _flat(model(x))


def _assert_onnx_is_the_child(arch: Architecture, data, tmp_path: Path) -> None:
    model, weights = _trained(arch, data, tmp_path)
    exported = export_child(arch, data.task, SMALL, weights, tmp_path / "model.onnx", data=data)
    assert exported.format == "onnx" and 0 <= exported.parity.max_diff <= 1e-4
    session = ort.InferenceSession(str(exported.path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == list(exported.parity.inputs)
    inputs, expected = _other_shapes(model, data)
    got = session.run(None, {name: t.numpy() for name, t in zip(names, inputs)})
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == tuple(e.shape) and float((torch.from_numpy(g) - e).abs().max()) <= 1e-4


def _smaller(space: str, folder: Path) -> str:
    if space not in FEWER:
        return space
    bundled, (many, few) = find_space_file(space).read_text(), FEWER[space]
    assert many in bundled
    (folder / f"{space}.space").write_text(bundled.replace(many, few))
    return str(folder / f"{space}.space")


@pytest.mark.parametrize("space", BUNDLED)
def test_onnx_of_every_bundled_space_matches_the_child(datasets, space: str, tmp_path: Path) -> None:
    arch = _sample(_smaller(space, tmp_path), WANT.get(space, lambda arch: True))
    _assert_onnx_is_the_child(arch, datasets[arch.task], tmp_path)


def test_onnx_of_a_plugin_op_matches_the_child(datasets, tmp_path: Path) -> None:
    load_plugins([str(ASYM_PLUGIN)])
    arch = _sample(str(ASYM_SPACE), lambda a: any(layer.op == "asym_conv" for layer in a.layers))
    _assert_onnx_is_the_child(arch, datasets["image"], tmp_path)


def test_recurrent_state_is_an_explicit_input_and_output(datasets, tmp_path: Path) -> None:
    """Two calls of 5 steps, the second from the first's h_out and c_out, are one call of 10 steps."""
    arch = _sample("rnn_base2")
    data = datasets["language"]
    _, weights = _trained(arch, data, tmp_path)
    path = export_child(arch, data.task, SMALL, weights, tmp_path / "lm.onnx", data=data).path
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokens = data.test[:20].view(2, 10).t().numpy()
    zeros = torch.zeros(2, 16).numpy()
    whole = session.run(None, {"tokens": tokens, "h": zeros, "c": zeros})
    first = session.run(None, {"tokens": tokens[:5], "h": zeros, "c": zeros})
    second = session.run(None, {"tokens": tokens[5:], "h": first[1], "c": first[2]})
    assert [o.name for o in session.get_outputs()] == ["logits", "h_out", "c_out"]
    assert abs(second[0] - whole[0][5:]).max() <= 1e-5 and abs(second[1] - whole[1]).max() <= 1e-5


def test_an_op_onnx_cannot_take_is_named(runner, tmp_path: Path, monkeypatch) -> None:
    load_plugins([str(BLOCKER)])
    monkeypatch.chdir(tmp_path)  # an arch.json finds its space by name in ./spaces
    space = tmp_path / "spaces" / "wobbly.space"
    space.parent.mkdir()
    space.write_text(WOBBLY)
    arch = _sample(str(space), lambda a: [layer.op for layer in a.layers] == ["sep_conv_3x3", "wobble_conv"])
    save_architecture(arch, tmp_path / "arch.json")
    data = DataSpec(name="cifar10").load()
    _trained(arch, data, tmp_path)
    result = runner.invoke(app, ["--plugin", str(BLOCKER), "export", str(tmp_path / "arch.json"), "--format", "onnx",
                                 "-o", str(tmp_path / "model.onnx")])
    assert result.exit_code == 2, result.output
    assert "op 'wobble_conv' cannot be exported to ONNX" in result.output
    assert "layer module layers.1.op" in result.output and "nascli_test.wobble" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "model.onnx").exists()


def test_without_the_onnx_extra_the_error_names_the_pip_command(runner, tmp_path: Path, monkeypatch) -> None:
    arch = _sample("mlp")
    save_architecture(arch, tmp_path / "arch.json")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    monkeypatch.setattr(DataSpec, "load", lambda self: pytest.fail("the extra is checked before the data loads"))
    (tmp_path / "arch-eval").mkdir()
    (tmp_path / "arch-eval" / "model.pt").write_bytes(b"")
    result = runner.invoke(app, ["export", str(tmp_path / "arch.json"), "--dataset", "csv", "--target", "target",
                                 "--format", "onnx"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error: ONNX export needs ") and "onnxruntime" in result.output
    assert result.output.strip().endswith(": pip install 'nascli[onnx]'")


def test_outputs_that_differ_fail_and_leave_no_model(datasets, tmp_path: Path, monkeypatch) -> None:
    from nascli.export import onnx_check

    arch, data = _sample("mlp"), datasets["tabular"]
    _, weights = _trained(arch, data, tmp_path)
    honest = onnx_check.call_child
    monkeypatch.setattr(onnx_check, "call_child", lambda model, inputs: honest(model, inputs) + 2e-4)
    with pytest.raises(ParityError, match=r"differ from the child's by up to 0\.0002"):
        export_child(arch, data.task, SMALL, weights, tmp_path / "model.onnx", data=data)
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("args, words", [
    (["-o", "model.py", "--format", "onnx"], "the name asks for .py, --format for onnx"),
    (["--format", "tflite"], "unknown format 'tflite'"),
    ([], "give -o FILE"),
])
def test_export_format_choices(runner, tmp_path: Path, args: list[str], words: str) -> None:
    arch = _sample("mlp")
    save_architecture(arch, tmp_path / "arch.json")
    result = runner.invoke(app, ["export", str(tmp_path / "arch.json"), "--dataset", "csv", "--target", "target",
                                 *args])
    assert result.exit_code == 2 and words in result.output, result.output
