"""Figures and terminal trees of architectures (nascli.render) and `nascli render`."""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import graphviz
import pytest
from rich.console import Console

from nascli.arch import decode, save_architecture
from nascli.arch.sample import sample_architecture
from nascli.cli import app
from nascli.render import OutputError, architecture_tree, draw, to_dot
from nascli.arch.wiring import nas_wiring
from nascli.space import load_space
from nascli.space.compiler import compile_space

ROOT = Path(__file__).resolve().parents[1]
SPACES = sorted(p.stem for p in (ROOT / "spaces").glob("*.space"))
WORKED = "rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"
CHAIN = "conv_strides: 3 3 24 2 / 5 3 36 1 - / 3 3 48 1 0,1 / 1 1 24 1 2 / 1 3 24 1 3 / 3 1 24 2 4"
HAS_DOT = shutil.which("dot") is not None

_EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)"(?: \[(.*)\])?;$', re.MULTILINE)
_NODE = re.compile(r'^\s*"([^"]+)" \[label=', re.MULTILINE)


def nodes(dot: str) -> set[str]:
    return set(_NODE.findall(dot))


def edges(dot: str) -> dict[tuple[str, str], str]:
    """Visible edges -> their attribute text (invisible ones only order the layout)."""
    return {(a, b): attrs for a, b, attrs in _EDGE.findall(dot) if "style=invis" not in attrs}


def label(attrs: str) -> str:
    found = re.search(r'(?:x?label)=" ([^"]*) "', attrs)
    return found.group(1) if found else ""


def test_worked_example_is_the_papers_figure() -> None:
    dot = to_dot(decode(WORKED))
    assert nodes(dot) == {"x_t", "h_prev", "c_prev", "node0", "node1", "node2", "inject", "h_t", "c_t"}
    assert set(edges(dot)) == {
        ("x_t", "node0"), ("h_prev", "node0"), ("x_t", "node1"), ("h_prev", "node1"),
        ("node0", "inject"), ("c_prev", "inject"), ("inject", "node2"), ("node1", "node2"),
        ("node2", "h_t"), ("node1", "c_t"),
    }
    found = edges(dot)
    assert [label(found[("x_t", f"node{i}")]) for i in (0, 1)] == ["W1", "W3"]
    assert [label(found[("h_prev", f"node{i}")]) for i in (0, 1)] == ["W2", "W4"]
    assert label(found[("node1", "c_t")]) == "before activation" and "dashed" in found[("node1", "c_t")]
    assert "add · tanh" in dot and "elem_mult · relu" in dot and "elem_mult · sigmoid" in dot
    assert re.search(r'"inject" \[label=<<B>cell inject</B><BR/><FONT[^>]*>add · relu<', dot)


def test_nas_rules_are_visible() -> None:
    # layer 0 halves the image; layer 1 reads nothing (rule 1); layer 2 concatenates both, so
    # layer 0's 16x16 map is zero-padded to 32x32 (rule 3); then a chain; only layer 5 is a loose end (rule 2).
    arch = decode(CHAIN)
    assert [s.pads for s in nas_wiring(arch.layers)][:3] == [(None,), (None,), ((0, 16, 0, 16), None)]
    found = edges(to_dot(arch))
    assert set(found) == {("image", "layer0"), ("image", "layer1"), ("layer0", "concat2"), ("layer1", "concat2"),
                          ("concat2", "layer2"), ("layer2", "layer3"), ("layer3", "layer4"), ("layer4", "layer5"),
                          ("layer5", "head"), ("head", "softmax")}
    assert label(found[("image", "layer0")]) == ""
    assert label(found[("image", "layer1")]) == "rule 1" and "dashed" in found[("image", "layer1")]
    assert label(found[("layer0", "concat2")]) == "zero-pad to 32×32"
    assert label(found[("layer1", "concat2")]) == ""
    assert label(found[("layer5", "head")]) == "rule 2"
    dot = to_dot(arch)
    assert "layer 0 · conv 3×3" in dot and "24 filters, stride 2" in dot and "→ 16×16×24" in dot


def test_enas_macro_skips_are_summed() -> None:
    arch = sample_architecture(compile_space(load_space("enas_macro")), random.Random(5))
    found = edges(to_dot(arch))
    for layer in arch.layers[1:]:
        i = layer.index
        assert (f"layer{i}", f"sum{i}") in found if layer.inputs else (f"layer{i}", f"sum{i}") not in found
        sources = {a for a, b in found if b == f"sum{i}"} - {f"layer{i}"}
        assert sources == {f"sum{j}" if arch.layers[j].inputs else f"layer{j}" for j in layer.inputs}


def test_micro_nodes_add_two_op_labelled_inputs() -> None:
    arch = sample_architecture(compile_space(load_space("enas_micro")), random.Random(2))
    dot = to_dot(arch)
    assert 'subgraph "cluster_normal"' in dot and 'subgraph "cluster_reduction"' in dot
    found = edges(dot)
    for cell in arch.cells:
        for node in cell.nodes:
            expected = []
            for src, op in ((node.left, node.left_op), (node.right, node.right_op)):
                name = op.replace("_", " ").replace("3x3", "3×3").replace("5x5", "5×5")
                strided = cell.stride == 2 and src < 2
                expected.append("factorized reduce" if strided and op == "identity" else name + ", stride 2" * strided)
            incoming = [label(attrs) for (a, b), attrs in found.items() if b == f"{cell.name}_{node.index}"]
            assert sorted(incoming) == sorted(expected) or node.left == node.right  # a repeated edge is listed once


def test_dag_loose_ends_are_averaged() -> None:
    arch = decode("enas_rnn: tanh / 0 relu / 0 tanh / 1 sigmoid / 1 identity / 2 tanh / 5 relu / 5 relu / "
                  "7 tanh / 8 relu / 8 relu / 2 identity")
    found = edges(to_dot(arch))
    assert {a for a, b in found if b == "avg"} == {"node3", "node4", "node6", "node9", "node10", "node11"}
    assert ("avg", "h_t") in found and ("x_t", "node0") in found and ("node5", "node7") in found


@pytest.mark.parametrize("space", SPACES)
def test_every_space_renders_to_valid_dot(space: str) -> None:
    compiled = compile_space(load_space(space))
    rng = random.Random(0)
    for n in range(20):
        depth = rng.choice(compiled.depths) if compiled.depths else None
        dot = to_dot(sample_architecture(compiled, rng, depth))
        graphviz.Source(dot)
        declared = nodes(dot)
        assert {end for edge in edges(dot) for end in edge} <= declared  # no edge to an undeclared node
        assert dot.count("{") == dot.count("}")
        # dot lays out a dense 39-layer net in seconds, so run it on a few small samples only.
        if HAS_DOT and n < 4 and (depth or 0) <= 12:
            assert graphviz.Source(dot).pipe(format="svg").startswith(b"<?xml")


def test_terminal_tree_reads_like_the_equations() -> None:
    console = Console(record=True, width=200)
    console.print(architecture_tree(decode(WORKED)))
    text = console.export_text()
    assert "node 2: elem_mult, sigmoid" in text
    assert "node 0: add, tanh  then cell inject with cₜ₋₁: add, relu" in text
    assert "node 1: elem_mult, relu  (its pre-activation is cₜ)" in text
    console.print(architecture_tree(decode(CHAIN)))
    text = console.export_text()
    assert "layer 1: conv 5×3, 36 filters, stride 1  ← image (rule 1)" in text
    assert "← concat 0, 1 (zero-padded: 0)  → 32×32×48" in text
    assert "classifier ← layers 5 (rule 2)" in text


def test_draw_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arch = decode(WORKED)
    assert draw(arch, tmp_path / "cell.dot").read_text().startswith(f"// {WORKED}")
    with pytest.raises(OutputError, match=r"'\.gif'"):
        draw(arch, tmp_path / "cell.gif")
    if HAS_DOT:
        assert draw(arch, tmp_path / "cell.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert draw(arch, tmp_path / "cell.pdf").read_bytes()[:4] == b"%PDF"
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no graphviz installed
    (tmp_path / "out").mkdir()
    with pytest.raises(OutputError, match=r"a \.svg figure needs Graphviz's `dot` program, which is not installed"):
        draw(arch, tmp_path / "out" / "fig.svg")
    assert not list((tmp_path / "out").iterdir())  # nothing written in its place
    assert draw(arch, tmp_path / "out" / "fig.dot").is_file()  # DOT text needs no program


def test_render_cli(runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["render", WORKED])
    assert result.exit_code == 0, result.output
    assert "node 2: elem_mult, sigmoid" in result.output
    arch_file = tmp_path / "arch.json"
    save_architecture(decode(WORKED), arch_file)
    result = runner.invoke(app, ["render", str(arch_file), "-o", str(tmp_path / "cell.dot")])
    assert result.exit_code == 0 and set(edges((tmp_path / "cell.dot").read_text())) >= {("inject", "node2")}
    if HAS_DOT:
        result = runner.invoke(app, ["render", WORKED, "-o", str(tmp_path / "cell.png")])
        assert result.exit_code == 0 and (tmp_path / "cell.png").read_bytes()[:4] == b"\x89PNG"
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = runner.invoke(app, ["render", WORKED, "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "apt-get install graphviz" in result.output, result.output  # it exited 0
    assert f"-o {tmp_path / 'x.dot'}" in " ".join(result.output.split())
    assert not (tmp_path / "x.dot").exists() and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("args", [
    ["rnn_base2: add tanh / bogus"],  # a bad token string
    ["missing.json"],  # no such arch.json
    [WORKED, "-o", "fig.gif"],  # a format we do not make
    [],  # nothing to render
    ["--best", "--run", "no-such-run"],
])
def test_render_cli_bad_input_exits_2(runner, args: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["render", *args])
    assert result.exit_code == 2, result.output


def test_render_cli_broken_arch_json_exits_2(runner, tmp_path: Path) -> None:
    broken = tmp_path / "arch.json"
    broken.write_text('{"tokens": 3')
    result = runner.invoke(app, ["render", str(broken)])
    assert result.exit_code == 2 and "not a JSON file" in result.output
