"""The tabular child: dense layers with skips, trained and exported."""

from __future__ import annotations

import pytest
import torch

from nascli.arch.records import Architecture, Layer
from nascli.children import build_child, profile_child
from nascli.children.mlp import MLP, layer_sources
from nascli.data.base import TabularTask
from nascli.export import export_child
from nascli.export.module_source import WeightsNote

TASK = TabularTask(features=7, classes=3)


def mlp_arch() -> Architecture:
    layers = [Layer(index=0, op="dense", params={"units": 16, "activation": "relu", "dropout": 0.1}, inputs=[]),
              Layer(index=1, op="dense", params={"units": 8, "activation": "tanh", "dropout": 0.0}, inputs=[0]),
              Layer(index=2, op="dense", params={"units": 4, "activation": "identity", "dropout": 0.0}, inputs=[0])]
    # layer 1 reads layer 0 (no skip); layer 2 reads only layer 0, so layer 1 is a loose end
    return Architecture(space="mlp", space_hash="0" * 64, tokens="mlp: ...", task="tabular", layers=layers)


def test_wiring_reads_the_previous_layer_and_the_skips() -> None:
    assert layer_sources(mlp_arch()) == [[-1], [0], [0]]  # no skip: the previous layer
    model = build_child(mlp_arch(), TASK)
    assert isinstance(model, MLP) and model.ends == [1, 2]  # loose ends go to the classifier
    assert [layer[0].in_features for layer in model.layers] == [7, 16, 16]
    assert model.head.in_features == 8 + 4
    assert model(torch.randn(5, 7)).shape == (5, 3)
    profile = profile_child(model, TASK)
    assert profile.params == sum(p.numel() for p in model.parameters()) and profile.macs > 0


def test_export_source_matches_the_built_child(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_child(mlp_arch(), TASK).eval()
    weights = tmp_path / "model.pt"
    torch.save(model.state_dict(), weights)
    note = WeightsNote(weights, "nascli eval arch.json")
    path = export_child(mlp_arch(), TASK, None, note, tmp_path / "model.py").path
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    child = namespace["Child"]()
    child.load_state_dict(torch.load(weights, weights_only=True))
    x = torch.randn(4, 7)
    assert torch.allclose(child.eval()(x), model(x))
    scripted = torch.jit.load(str(export_child(mlp_arch(), TASK, None, note, tmp_path / "model.pt").path))
    assert torch.allclose(scripted(x), model(x))


def test_mlp_space_compiles_and_samples_tabular_children() -> None:
    import random

    from nascli.arch.sample import sample_architecture
    from nascli.space import load_space
    from nascli.space.compiler import compile_space

    compiled = compile_space(load_space("mlp"))
    arch = sample_architecture(compiled, random.Random(0), 4)
    assert arch.task == "tabular" and [layer.op for layer in arch.layers] == ["dense"] * 4
    model = build_child(arch, TASK)
    assert model(torch.randn(2, 7)).shape == (2, 3)


@pytest.mark.parametrize("task, op, message", [
    ("tabular", "{dense, conv_3x3}", "op 'conv_3x3' does not fit a task = tabular space; its layers take: dense"),
    ("image", "dense", "op 'dense' does not fit a task = image space"),
])
def test_dense_layers_only_in_tabular_spaces(tmp_path, task, op, message) -> None:
    from nascli.errors import SpaceSemanticError
    from nascli.space import load_space
    from nascli.space.compiler import compile_space

    extra = "filters = 8" if "conv" in op else ""
    (tmp_path / "s.space").write_text(f"space s {{\n task = {task}\n layers 2 {{\n op: {op}\n units: {{4, 8}}\n"
                                      f" {extra}\n }}\n}}\n".replace("op: dense", "op = dense"))
    with pytest.raises(SpaceSemanticError, match=message.replace("(", r"\(")):
        compile_space(load_space(tmp_path / "s.space"))
