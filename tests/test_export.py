"""Exported children (nascli.export): model.py equals the built child, model.pt is it in TorchScript."""

from __future__ import annotations

import ast
import importlib.util
import random
import sys
import uuid
from pathlib import Path

import pytest
import torch

from nascli.arch import Architecture, decode, save_architecture
from nascli.arch.sample import sample_architecture
from nascli.children import ChildConfig, LanguageModelConfig, MicroConfig, build_child
from nascli.cli import app
from nascli.data.base import ImageTask, LanguageTask
from nascli.errors import ChildError, RunError
from nascli.export import WeightsNote, export_child, module_source
from nascli.render import OutputError
from nascli.space import load_space
from nascli.space.compiler import compile_space

sys.path.insert(0, str(Path(__file__).parent))
from test_report import load_history, make_run  # noqa: E402  (a run built in a store, no training)

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning")

IMAGE = ImageTask(channels=3, height=32, width=32, classes=10)
WORDS = LanguageTask(vocab_size=30)
SMALL = ChildConfig(micro=MicroConfig(filters=4, cells_per_stage=1),
                    language=LanguageModelConfig(embed_size=16, hidden_size=16))
UNTIED = ChildConfig(language=LanguageModelConfig(embed_size=8, hidden_size=12, tie_weights=False))
WORKED = "rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"
PLAIN_TREE = """space plain_tree {
    task = language
    dataset = ptb
    tree base 3 {
        combine: {add, elem_mult}
        activation: {identity, tanh, sigmoid, relu}
    }
}
"""


def _sample(space: str, seed: int, want=lambda arch: True) -> Architecture:
    """The first sample from `seed` on that `want`s (e.g. one with a max-pool layer)."""
    compiled = compile_space(load_space(space))
    for s in range(seed, seed + 200):
        rng = random.Random(s)
        arch = sample_architecture(compiled, rng, rng.choice(compiled.depths[:3]) if compiled.depths else None)
        if want(arch):
            return arch
    raise AssertionError(f"no sample of {space} fits")


def _strided(arch: Architecture) -> bool:
    """Layers of different strides: maps of different sizes, so some inputs get zero-padded."""
    return len({layer.params.get("stride") for layer in arch.layers}) > 1


def _strided_with_pools(arch: Architecture) -> bool:
    return _strided(arch) and any(layer.op == "max_pool" for layer in arch.layers)


def _families(tmp: Path) -> dict[str, tuple[Architecture, ChildConfig]]:
    (tmp / "plain_tree.space").write_text(PLAIN_TREE)
    return {
        "nas conv, strides and zero-pads": (_sample("conv_strides", 1, _strided), SMALL),
        "nas conv with max-pools": (_sample("conv_pool", 3, _strided_with_pools), SMALL),
        "enas macro": (_sample("enas_macro", 4), SMALL),
        "enas micro": (_sample("enas_micro", 5), SMALL),
        "tree cell (worked example)": (decode(WORKED), SMALL),
        "tree cell base 8, untied": (_sample("rnn", 6), UNTIED),
        "tree cell without memory": (_sample(str(tmp / "plain_tree.space"), 7), SMALL),
        "enas dag cell": (_sample("enas_rnn", 8), SMALL),
    }


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(f"exported_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _trained(arch: Architecture, config: ChildConfig) -> tuple[torch.nn.Module, object]:
    """A built child whose batch-norm statistics moved off their defaults, in eval mode, and a batch for it."""
    torch.manual_seed(0)
    task = IMAGE if arch.task == "image" else WORDS
    model = build_child(arch, task, config)
    batch = torch.randn(3, 3, 32, 32) if arch.task == "image" else torch.randint(0, WORDS.vocab_size, (6, 3))
    with torch.no_grad():
        model.train()
        model(batch)
    return model.eval(), batch


def _same(a, b) -> bool:
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a.shape == b.shape and torch.allclose(a, b, atol=1e-6)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny convs on one thread: on a busy 2-core machine two threads make a small child's forward 50x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def families(tmp_path_factory) -> dict[str, tuple[Architecture, ChildConfig]]:
    return _families(tmp_path_factory.mktemp("spaces"))


@pytest.mark.parametrize("family", ["nas conv, strides and zero-pads", "nas conv with max-pools", "enas macro",
                                    "enas micro", "tree cell (worked example)", "tree cell base 8, untied",
                                    "tree cell without memory", "enas dag cell"])
def test_model_py_equals_the_built_child(families, family: str, tmp_path: Path) -> None:
    arch, config = families[family]
    model, batch = _trained(arch, config)
    weights = WeightsNote(tmp_path / "arch-eval" / "model.pt", "nascli eval arch.json")
    path = export_child(arch, IMAGE if arch.task == "image" else WORDS, config, weights, tmp_path / "model.py").path
    source = path.read_text()
    tree = ast.parse(source)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert {name.split(".")[0] for name in imported} == {"torch"}
    assert arch.tokens in source and "No trained weights yet" in source
    child = _import(path).Child()
    child.load_state_dict(model.state_dict(), strict=True)
    child.eval()
    with torch.no_grad():
        if arch.task == "image":
            assert _same(child(batch), model(batch))
        else:
            state = model.init_state(3)
            assert _same(child(batch, state), model(batch, state))
            assert _same(child(batch), model(batch))  # a fresh state when none is given


def test_written_out_forward_spells_out_the_rules() -> None:
    arch = decode("conv_strides: 3 3 24 2 / 5 3 36 1 - / 3 3 48 1 0,1 / 1 1 24 1 2 / 1 3 24 1 3 / 3 1 24 2 4")
    source = module_source(arch, build_child(arch, IMAGE), IMAGE, WeightsNote(Path("w.pt"), "nascli eval"))
    assert "l2 = self.layers[2](torch.cat([F.pad(l0, [0, 16, 0, 16]), l1], 1))  # (B, 48, 32, 32)" in source
    assert "l1 = self.layers[1](x)" in source and "return self.head([l5])" in source
    assert "nn.Conv2d(3, 36, (5, 3), padding=(2, 1), bias=False)" in source
    tree = module_source(decode(WORKED), build_child(decode(WORKED), WORDS), WORDS, WeightsNote(Path("w.pt"), "e"))
    assert "a0 = torch.relu(a0 + c_prev)  # cell inject" in tree and "return a2, (a2, pre1)" in tree


@pytest.mark.parametrize("family", ["nas conv with max-pools", "enas micro", "tree cell (worked example)",
                                    "enas dag cell"])
def test_model_pt_is_torchscript_with_the_trained_weights(families, family: str, tmp_path: Path) -> None:
    arch, config = families[family]
    model, batch = _trained(arch, config)
    weights = WeightsNote(tmp_path / "arch-eval" / "model.pt", "nascli eval arch.json")
    weights.path.parent.mkdir()
    torch.save(model.state_dict(), weights.path)
    path = export_child(arch, IMAGE if arch.task == "image" else WORDS, config, weights, tmp_path / "model.pt").path
    scripted = torch.jit.load(str(path))
    with torch.no_grad():
        if arch.task == "image":
            assert _same(scripted(batch), model(batch))
        else:
            longer = torch.randint(0, WORDS.vocab_size, (11, 2))  # the time loop is scripted, not traced
            assert _same(scripted(longer, model.init_state(2)), model(longer, model.init_state(2)))


def test_model_pt_needs_fitting_trained_weights(tmp_path: Path) -> None:
    arch = decode(WORKED)
    weights = WeightsNote(tmp_path / "arch-eval" / "model.pt", "nascli eval arch.json")
    with pytest.raises(RunError, match="run `nascli eval arch.json` first"):
        export_child(arch, WORDS, SMALL, weights, tmp_path / "model.pt")
    weights.path.parent.mkdir()
    torch.save(build_child(arch, LanguageTask(vocab_size=99), SMALL).state_dict(), weights.path)
    with pytest.raises(ChildError, match="do not fit"):
        export_child(arch, WORDS, SMALL, weights, tmp_path / "model.pt")
    with pytest.raises(OutputError, match=r"'\.tflite'"):
        export_child(arch, WORDS, SMALL, weights, tmp_path / "model.tflite")


def test_export_cli_arch_json(runner, tmp_path: Path) -> None:
    arch = decode("conv: 3 3 24 / 5 5 36 0 / 1 7 48 - / 3 3 64 0,2 / 1 1 24 3 / 3 1 36 1,4")
    save_architecture(arch, tmp_path / "arch.json")
    result = runner.invoke(app, ["export", str(tmp_path / "arch.json"), "-o", str(tmp_path / "model.py")])
    assert result.exit_code == 0, result.output
    assert f"saves them to\n{tmp_path / 'arch-eval' / 'model.pt'}" in (tmp_path / "model.py").read_text()
    result = runner.invoke(app, ["export", str(tmp_path / "arch.json"), "-o", str(tmp_path / "model.pt")])
    assert result.exit_code == 2 and "nascli eval" in result.output  # not trained yet
    (tmp_path / "arch-eval").mkdir()
    torch.save(build_child(arch, IMAGE).state_dict(), tmp_path / "arch-eval" / "model.pt")
    result = runner.invoke(app, ["export", str(tmp_path / "arch.json"), "-o", str(tmp_path / "model.pt")])
    assert result.exit_code == 0, result.output
    assert torch.jit.load(str(tmp_path / "model.pt"))(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_export_cli_best_of_a_run(runner, tmp_path: Path) -> None:
    make_run(tmp_path / "run")
    best = load_history(tmp_path / "run").top[0]
    out = tmp_path / "model.py"
    result = runner.invoke(app, ["export", "--best", "--run", str(tmp_path / "run"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert best.tokens in text and str(tmp_path / "run" / "eval" / f"child-{best.id}" / "model.pt") in text


@pytest.mark.parametrize("args", [
    ["--best", "--run", "RUN", "-o", "model.pt"],  # no `nascli eval` yet
    ["--best", "--run", "RUN", "-o", "model.onnx"],
    ["rnn_base2: add tanh", "-o", "model.py"],
    ["--best", "--run", "RUN"],  # no -o
])
def test_export_cli_bad_input_exits_2(runner, tmp_path: Path, args: list[str]) -> None:
    make_run(tmp_path / "run")
    args = [str(tmp_path / "run") if a == "RUN" else a for a in args]
    result = runner.invoke(app, ["export", *args])
    assert result.exit_code == 2, result.output
