"""Soundness as a property: every space `inspect` accepts builds, trains a step, renders and exports.

Spaces are generated from the language's constructs: layer ops (NAS, ENAS,
DARTS, none/identity, mbconv) flat or under branches, their parameters as
choices, fixed values, defaults or ties, skip kinds (anchors, fixed chains and skip sets), merges (concat, sum), stages and stage sections,
cells (after a layer stem too), trees, dense cells, DAGs and hyper blocks, and a plugin's op
(examples/plugins/asym_conv.py), sometimes with a mistake (a decision no op reads, one cell only, a
value an op does not allow, a skip offset that is not positive, a plugin op without `requires`). A space the compiler refuses must
say where (file:line:col); a space it accepts must give children that work.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nascli.arch.sample import sample_architecture
from nascli.children import ChildConfig, LanguageModelConfig, MicroConfig, build_child
from nascli.data.base import ImageTask, LanguageTask
from nascli.errors import SpaceSemanticError
from nascli.export import WeightsNote, module_source
from nascli.ops import OPS, ops_for
from nascli.plugins import load_plugin
from nascli.render import architecture_tree, to_dot
from nascli.space import parse_space
from nascli.space.compiler import compile_space

IMAGE = ImageTask(channels=3, height=8, width=8, classes=3)
WORDS = LanguageTask(vocab_size=12)
SMALL = ChildConfig(micro=MicroConfig(filters=4, cells_per_stage=1, stem_multiplier=1),
                    language=LanguageModelConfig(embed_size=8, hidden_size=8))
SMALL_VALUES = {"filters": [2, 4, 6], "filter_height": [1, 3], "filter_width": [1, 3], "stride": [1, 2],
                "pool_size": [2, 3], "kernel": [3, 5, 4], "expansion": [1, 2], "se": [0, 1]}
BUILTIN_LAYER_OPS = [n for n in ops_for("layer") if OPS.get(n).plugin is None and "image" in OPS.get(n).tasks]
BUILTIN_CELL_OPS = [n for n in ops_for("cell") if OPS.get(n).plugin is None and "image" in OPS.get(n).tasks]
PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plugins" / "asym_conv.py"
PLUGIN_OP = "asym_conv"  # what PLUGIN registers
MERGES = ["", "", "merge = sum", "merge: {concat, sum}", "merge = concat"]
SKIPS = ["skip: anchor", "skip = previous", "skip = none", "skip = all", "skip = {1, 3}", "skip = {2}", "skip = {0, 1}",
         ""]


@pytest.fixture(scope="module", autouse=True)
def plugin_loaded():
    """The plugin op is drawn like a built-in one; loaded as `--plugin` would (test_plugins.py loads it too)."""
    load_plugin(str(PLUGIN))


@st.composite
def param_decision(draw, name: str) -> str:
    values = draw(st.lists(st.sampled_from(SMALL_VALUES[name]), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()) and len(values) == 1:
        return f"{name} = {values[0]}"
    return f"{name}: {{{', '.join(map(str, values))}}}"


@st.composite
def params_of(draw, ops: list[str], outer: bool = True) -> list[str]:
    """Decisions for the parameters these ops read; sometimes a tie or an unread one."""
    names = sorted({p.name for op in ops for p in OPS.get(op).params})
    out, decided = [], []
    for name in names:
        if name == "filter_width" and "filter_height" in decided and draw(st.booleans()):
            out.append("filter_width = filter_height")
        elif draw(st.integers(0, 4)) > 0:  # now and then left out: a default, or a missing-parameter error
            out.append(draw(param_decision(name)))
        decided.append(name)
    if outer and draw(st.integers(0, 9)) == 0:
        out.append(draw(param_decision(draw(st.sampled_from(sorted(SMALL_VALUES))))))  # maybe read by no op
    return out


@st.composite
def layers_block(draw) -> str:
    ops = draw(st.lists(st.sampled_from(BUILTIN_LAYER_OPS + [PLUGIN_OP]), min_size=1, max_size=3, unique=True))
    form = draw(st.sampled_from(["none", "fixed", "flat", "branches"]))
    if form == "none":
        ops = ["conv"]
        lines = draw(params_of(ops))
    elif form == "fixed":
        lines = [f"op = {ops[0]}"] + draw(params_of(ops[:1]))
    elif form == "flat":
        lines = [f"op: {{{', '.join(ops)}}}"] + draw(params_of(ops))
    else:
        branches = " ".join(f"{op} {{ {' '.join(draw(params_of([op], outer=False)))} }}" for op in ops)
        lines = [f"op: {{ {branches} }}"]
    lines.append(draw(st.sampled_from(SKIPS)))
    lines.append(draw(st.sampled_from(MERGES)))
    size = draw(st.integers(1, 4))
    if draw(st.integers(0, 3)) == 0:  # decided once per stage: its depth (sometimes beyond the block), a stride
        depths = sorted(draw(st.lists(st.integers(1, 5), min_size=1, max_size=2, unique=True)))
        lines.insert(0, f"stage {{ depth: {{{', '.join(map(str, depths))}}} {draw(st.sampled_from(['', 'stride = 2']))} }}")
    return f"layers {size} {{\n    " + "\n    ".join(lines) + "\n}"


@st.composite
def cell_blocks(draw) -> str:
    ops = draw(st.lists(st.sampled_from(BUILTIN_CELL_OPS), min_size=1, max_size=3, unique=True))
    body = f"left: index left_op: {{{', '.join(ops)}}} right: index right_op: {{{', '.join(ops)}}}"
    strides = draw(st.sampled_from([(1, 2), (1, 2), (2, 1), (1,), (1, 3)]))
    network = draw(st.sampled_from(["", "network stages 2 repeat 1 width 4 stem 6\n"]))
    return network + "\n".join(f"cell c{k} nodes {draw(st.integers(3, 4))} inputs 2 {'stride 2' if s == 2 else ''}"
                     f"{'stride 3' if s == 3 else ''} {{ {body} }}" for k, s in enumerate(strides))


@st.composite
def space_text(draw) -> str:
    kind = draw(st.sampled_from(["layers", "layers", "stages", "cells", "stem+cells", "dense", "tree", "dag"]))
    if kind == "layers":
        blocks = [draw(layers_block())]
    elif kind == "stages":
        blocks = [draw(layers_block()) for _ in range(draw(st.integers(2, 3)))]
    elif kind == "cells":
        blocks = [draw(cell_blocks())]
    elif kind == "stem+cells":  # a layer stem must be a plain chain; anything else is refused
        blocks = [draw(layers_block()), draw(cell_blocks())]
    elif kind == "dense":
        ops = draw(st.lists(st.sampled_from(BUILTIN_CELL_OPS), min_size=1, max_size=4, unique=True))
        blocks = [f"dense c nodes {draw(st.integers(2, 4))} stages {draw(st.integers(1, 2))} repeat "
                  f"{draw(st.integers(1, 2))} width {draw(st.sampled_from([2, 4]))} {{ op: {{{', '.join(ops)}}} }}"]
    elif kind == "tree":
        blocks = [f"tree base {draw(st.integers(2, 3))} {{ combine: {{add, elem_mult}} activation: {{tanh, relu}} }}"]
    else:
        blocks = [f"dag nodes {draw(st.integers(1, 4))} {{ prev: index activation: {{tanh, sigmoid}} }}"]
    if draw(st.booleans()):
        blocks.insert(0, "hyper { lr: {0.1, 0.01} dropout: {0.0, 0.1} }")
    if PLUGIN_OP in "".join(blocks) and draw(st.integers(0, 2)) > 0:  # now and then forgotten: refused
        blocks.insert(0, f"requires {PLUGIN_OP}")
    return "space gen {\n" + "\n".join(blocks) + "\n}\n"


def _check_child(arch) -> None:
    task = IMAGE if arch.task == "image" else WORDS
    torch.manual_seed(0)
    model = build_child(arch, task, SMALL)
    batch = torch.randn(2, 3, 8, 8) if arch.task == "image" else torch.randint(0, WORDS.vocab_size, (3, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    out = model(batch) if arch.task == "image" else model(batch)[0]
    out.float().logsumexp(-1).mean().backward()
    optimizer.step()
    assert to_dot(arch) and architecture_tree(arch)
    source = module_source(arch, model, task, WeightsNote(Path("w.pt"), "nascli eval"))
    namespace: dict = {"__name__": "generated_model"}
    exec(compile(source, "model.py", "exec"), namespace)  # the exported file defines Child, shaped as the model
    namespace["Child"]().load_state_dict(model.state_dict(), strict=True)


def _lacks_only_requires(text: str) -> bool:
    """A space using the plugin op without `requires`, which would be accepted with it."""
    if PLUGIN_OP not in text or "requires" in text:
        return False
    try:
        compile_space(parse_space(text.replace("{\n", f"{{\nrequires {PLUGIN_OP}\n", 1), "gen.space"))
    except SpaceSemanticError:
        return False
    return True


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=space_text(), seed=st.integers(0, 2**16))
def test_whatever_inspect_accepts_builds_trains_renders_and_exports(text, seed):
    try:
        compiled = compile_space(parse_space(text, "gen.space"))
    except SpaceSemanticError as err:
        assert re.fullmatch(r"gen\.space:\d+:\d+", err.where or ""), (err, text)
        if _lacks_only_requires(text):
            assert f"comes from the plugin '{PLUGIN_OP}'" in err.message, (err, text)
        event("refused")
        return
    assert not (PLUGIN_OP in text and "requires" not in text), text  # a plugin op needs its `requires`
    event("accepted")
    arch = sample_architecture(compiled, random.Random(seed))
    _check_child(arch)
