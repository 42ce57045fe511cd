"""Tests of the recurrent children: the NAS tree cell, the ENAS DAG cell and the language model.

The cells are checked against equations written out by hand (the paper's worked
example, the ENAS highway equations) and against an obvious one-Linear-per-leaf
tree cell; then ~100 random architectures must train (finite loss, gradients).
"""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nascli.arch import decode
from nascli.arch.records import TreeCell as TreeCellRecord
from nascli.arch.sample import sample_architecture
from nascli.children.dag_cell import DagCell
from nascli.children.lm import LanguageModel, LanguageModelConfig, detach_state
from nascli.children.tree_cell import ACTIVATION_FNS, COMBINE_FNS, TreeCell
from nascli.data.base import LanguageTask
from nascli.errors import ChildError
from nascli.space import load_space
from nascli.space.compiler import compile_space
from nascli.space.vocab import ACTIVATIONS, COMBINES

WORKED_EXAMPLE = "rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"
IN, H, B = 5, 4, 3
SMALL = LanguageModelConfig(embed_size=16, hidden_size=16, dropout=0.2)


pytestmark = pytest.mark.usefixtures("one_thread")


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_function_tables_cover_the_vocabulary():
    assert set(ACTIVATION_FNS) == set(ACTIVATIONS)
    assert set(COMBINE_FNS) == set(COMBINES)


# --- the paper's worked example --------------------------------------------------------------


@pytest.fixture
def example():
    """The worked example's tree cell with known weights W1..W4, and its inputs."""
    arch = decode(WORKED_EXAMPLE)
    assert arch.tree.cell_index.out == 1 and arch.tree.cell_index.inject == 0
    assert [n.children for n in arch.tree.nodes] == [[], [], [0, 1]]
    w1, w3 = randn(H, IN, seed=1), randn(H, IN, seed=3)  # x -> leaf 0, leaf 1
    w2, w4 = randn(H, H, seed=2), randn(H, H, seed=4)  # h -> leaf 0, leaf 1
    x, h, c = randn(B, IN, seed=5), randn(B, H, seed=6), randn(B, H, seed=7)

    def build(record: TreeCellRecord) -> TreeCell:
        cell = TreeCell(record, IN, H)
        with torch.no_grad():
            cell.x_proj.weight.copy_(torch.cat([w1, w3]))  # rows [0, H): leaf 0, [H, 2H): leaf 1
            cell.h_proj.weight.copy_(torch.cat([w2, w4]))
        return cell

    a0 = torch.tanh(x @ w1.T + h @ w2.T)
    pre1 = (x @ w3.T) * (h @ w4.T)
    return arch, build, (x, h, c), (a0, pre1, torch.relu(pre1))


def test_worked_example_matches_the_paper(example):
    arch, build, (x, h_prev, c_prev), (a0, pre1, a1) = example
    cell = build(arch.tree)
    assert cell.x_proj.bias is None and cell.h_proj.bias is None  # the paper's leaves have no bias
    h_t, (h_state, c_t) = cell(x, (h_prev, c_prev))
    a0_new = torch.relu(a0 + c_prev)  # cell inject: add, relu at node 0
    assert close(h_t, torch.sigmoid(a0_new * a1))  # root: elem_mult, sigmoid
    assert close(c_t, pre1)  # node 1 before its relu
    assert h_state is h_t


def test_inject_and_out_at_the_root(example):
    arch, build, (x, h_prev, c_prev), (a0, _, a1) = example
    variant = decode("rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; elem_mult tanh ; 2 2")
    h_t, (_, c_t) = build(variant.tree)(x, (h_prev, c_prev))
    root_pre = a0 * a1
    assert close(c_t, root_pre)  # the root before its sigmoid, and before the inject
    assert close(h_t, torch.tanh(torch.sigmoid(root_pre) * c_prev))  # h_t is the injected value


def test_a_tree_without_memory_carries_h_only(example):
    arch, build, (x, h_prev, _), (a0, _, a1) = example
    plain = arch.tree.model_copy(update={"inject": None, "cell_index": None})
    cell = build(plain)
    assert isinstance(cell.init_state(B), torch.Tensor)
    h_t, state = cell(x, h_prev)
    assert close(h_t, torch.sigmoid(a0 * a1)) and state is h_t


def test_broken_tree_records_are_refused(example):
    arch, _, _, _ = example
    with pytest.raises(ChildError, match="both"):
        TreeCell(arch.tree.model_copy(update={"inject": None}), IN, H)
    nodes = list(arch.tree.nodes)
    nodes[1] = nodes[1].model_copy(update={"activation": "gelu"})
    with pytest.raises(ChildError, match="gelu") as err:
        TreeCell(arch.tree.model_copy(update={"nodes": nodes}), IN, H)
    assert err.value.where == "tree node 1"


# --- against the obvious one-Linear-per-leaf cell --------------------------------------------


class NaiveTreeCell(nn.Module):
    """One Linear per leaf for x and for h, and a recursive walk down from the root."""

    ACT = {"identity": lambda t: t, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": F.relu}
    COMBINE = {"add": lambda a, b: a + b, "elem_mult": lambda a, b: a * b}

    def __init__(self, record: TreeCellRecord, fast: TreeCell):
        super().__init__()
        self.record, hid = record, fast.hidden_size
        self.wx = nn.ModuleList(nn.Linear(fast.x_proj.in_features, hid, bias=False) for _ in range(record.base))
        self.wh = nn.ModuleList(nn.Linear(hid, hid, bias=False) for _ in range(record.base))
        with torch.no_grad():
            for i in range(record.base):
                self.wx[i].weight.copy_(fast.x_proj.weight[i * hid : (i + 1) * hid])
                self.wh[i].weight.copy_(fast.h_proj.weight[i * hid : (i + 1) * hid])

    def forward(self, x, h, c):
        rec, pre = self.record, {}

        def value(i: int) -> torch.Tensor:
            node = rec.nodes[i]
            if node.children:
                pre[i] = self.COMBINE[node.combine](value(node.children[0]), value(node.children[1]))
            else:
                pre[i] = self.COMBINE[node.combine](self.wx[i](x), self.wh[i](h))
            out = self.ACT[node.activation](pre[i])
            if rec.cell_index is not None and i == rec.cell_index.inject:
                out = self.ACT[rec.inject.activation](self.COMBINE[rec.inject.combine](out, c))
            return out

        h_t = value(len(rec.nodes) - 1)
        return h_t, (pre[rec.cell_index.out] if rec.cell_index is not None else None)


@pytest.mark.parametrize("memory", [True, False])
def test_batched_leaves_equal_one_linear_per_leaf(memory):
    compiled = compile_space(load_space("rnn"))
    rng = random.Random(1)
    for trial in range(12):
        record = sample_architecture(compiled, rng).tree
        if not memory:
            record = record.model_copy(update={"inject": None, "cell_index": None})
        torch.manual_seed(trial)
        fast = TreeCell(record, IN, H)
        naive = NaiveTreeCell(record, fast)
        state = (randn(B, H, seed=trial), randn(B, H, seed=trial + 50)) if memory else randn(B, H, seed=trial)
        h, c = (state if memory else (state, None))
        for step in range(3):  # several steps: the state must carry the same way
            x = randn(B, IN, seed=100 * trial + step)
            h_fast, state = fast(x, state)
            h, c = naive(x, h, c)
            assert close(h_fast, h), (record, step)
            if memory:
                assert close(state[1], c), (record, step)


# --- the ENAS DAG cell -----------------------------------------------------------------------

SMALL_DAG_SPACE = """space enas_small {
    task = language
    dag nodes 4 {
        prev: index
        activation: {tanh, relu, identity, sigmoid}
    }
}
"""


def test_dag_cell_matches_the_highway_equations(tmp_path):
    space_file = tmp_path / "enas_small.space"
    space_file.write_text(SMALL_DAG_SPACE)
    arch = decode("enas_small: tanh / 0 relu / 0 sigmoid / 1 identity", space_file)
    assert [(n.prev, n.activation) for n in arch.dag] == [(None, "tanh"), (0, "relu"), (0, "sigmoid"), (1, "identity")]
    cell = DagCell(arch.dag, IN, H)
    assert cell.loose_ends == [2, 3]
    w_xc, w_xh, w_hc, w_hh = (randn(H, n, seed=s) for s, n in ((1, IN), (2, IN), (3, H), (4, H)))
    b_c, b_h = randn(H, seed=5), randn(H, seed=6)
    w_c = [randn(H, H, seed=10 + j) for j in range(4)]
    w_h = [randn(H, H, seed=20 + j) for j in range(4)]
    with torch.no_grad():
        cell.x_proj.weight.copy_(torch.cat([w_xc, w_xh]))
        cell.x_proj.bias.copy_(torch.cat([b_c, b_h]))
        cell.h_proj.weight.copy_(torch.cat([w_hc, w_hh]))
        for j in (1, 2, 3):
            cell.node_proj[j - 1].weight.copy_(torch.cat([w_c[j], w_h[j]]))
    x, h = randn(B, IN, seed=7), randn(B, H, seed=8)

    c0 = torch.sigmoid(x @ w_xc.T + b_c + h @ w_hc.T)
    h0 = c0 * torch.tanh(x @ w_xh.T + b_h + h @ w_hh.T) + (1 - c0) * h
    c1 = torch.sigmoid(h0 @ w_c[1].T)
    h1 = c1 * torch.relu(h0 @ w_h[1].T) + (1 - c1) * h0
    c2 = torch.sigmoid(h0 @ w_c[2].T)
    h2 = c2 * torch.sigmoid(h0 @ w_h[2].T) + (1 - c2) * h0
    c3 = torch.sigmoid(h1 @ w_c[3].T)
    h3 = c3 * (h1 @ w_h[3].T) + (1 - c3) * h1
    h_t, state = cell(x, h)
    assert close(h_t, (h2 + h3) / 2) and state is h_t


def test_dag_loose_ends_of_the_full_space():
    arch = decode("enas_rnn: sigmoid / 0 tanh / 1 relu / 1 sigmoid / 2 identity / 1 identity / 2 tanh "
                  "/ 0 identity / 4 sigmoid / 8 sigmoid / 9 sigmoid / 4 tanh")
    assert DagCell(arch.dag, IN, H).loose_ends == [3, 5, 6, 7, 10, 11]


# --- the language model ----------------------------------------------------------------------


def test_every_random_architecture_trains():
    task = LanguageTask(vocab_size=50)
    tokens = torch.randint(0, 50, (6, 3), generator=torch.Generator().manual_seed(0))
    inputs, targets = tokens[:-1], tokens[1:]  # T=5, B=3
    rng = random.Random(0)
    for name in ("rnn", "rnn_base2", "enas_rnn"):
        compiled = compile_space(load_space(name))
        for _ in range(34):
            arch = sample_architecture(compiled, rng)
            model = LanguageModel(arch, task, SMALL)
            # A random start state: from zeros some cells stay at h = 0 for ever (e.g. an
            # elem_mult of a leaf's W.h), which is the architecture's doing, not a bug.
            start = model.init_state(3)
            start = tuple(torch.randn_like(s) for s in start) if isinstance(start, tuple) else torch.randn_like(start)
            logits, state = model(inputs, start)
            assert logits.shape == (5, 3, 50), arch.tokens
            assert (state[0] if isinstance(state, tuple) else state).shape == (3, 16), arch.tokens
            loss = F.cross_entropy(logits.reshape(-1, 50), targets.reshape(-1))
            assert torch.isfinite(loss), arch.tokens
            loss.backward()
            for pname, p in model.named_parameters():
                assert p.grad is not None and torch.isfinite(p.grad).all(), (arch.tokens, pname)
            assert any(p.grad.abs().sum() > 0 for p in model.cell.parameters()), arch.tokens


def test_weights_are_tied_into_one_parameter():
    model = LanguageModel(decode(WORKED_EXAMPLE), LanguageTask(50), SMALL)
    assert model.decoder.weight is model.embedding.weight
    assert sum(p is model.embedding.weight for p in model.parameters()) == 1
    untied = LanguageModel(decode(WORKED_EXAMPLE), LanguageTask(50), LanguageModelConfig(16, 16, tie_weights=False))
    assert untied.decoder.weight is not untied.embedding.weight
    with pytest.raises(ChildError, match="tie_weights"):
        LanguageModel(decode(WORKED_EXAMPLE), LanguageTask(50), LanguageModelConfig(16, 32, tie_weights=True))


def test_a_non_recurrent_architecture_is_refused():
    conv = sample_architecture(compile_space(load_space("conv")), random.Random(0))
    with pytest.raises(ChildError, match="recurrent cell"):
        LanguageModel(conv, LanguageTask(50), SMALL)


@pytest.mark.parametrize("tokens", [WORKED_EXAMPLE, "enas_rnn: tanh" + " / 0 relu" * 11])
def test_unrolled_model_equals_stepping_the_cell(tokens):
    """Projecting x for all steps at once, and splitting into BPTT segments, changes nothing."""
    model = LanguageModel(decode(tokens), LanguageTask(50), SMALL).eval()
    seq = torch.randint(0, 50, (7, 2), generator=torch.Generator().manual_seed(1))
    logits, final = model(seq)
    state, by_step = model.init_state(2), []
    for t in range(7):
        h, state = model.cell(model.embedding(seq[t]), state)
        by_step.append(model.decoder(h))
    assert close(logits, torch.stack(by_step))
    first, mid = model(seq[:3])
    cut = detach_state(mid)
    assert all(not s.requires_grad for s in (cut if isinstance(cut, tuple) else (cut,)))
    second, end = model(seq[3:], cut)
    assert close(torch.cat([first, second]), logits)
    for a, b in zip(end if isinstance(end, tuple) else (end,), final if isinstance(final, tuple) else (final,)):
        assert close(a, b)


def test_macs_per_step_agrees_with_linear_hooks():
    model = LanguageModel(decode(WORKED_EXAMPLE), LanguageTask(50), SMALL)
    e = h = 16
    assert model.cell.macs_per_step(batch=1) == e * 2 * h + h * 2 * h  # the two leaf projections of base 2
    assert model.macs_per_step(batch=3) == 3 * (e * 2 * h + h * 2 * h + h * 50)
    counted = []

    def count(module, _inputs, output):
        counted.append(output.numel() // module.out_features * module.in_features * module.out_features)

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Linear)]
    model(torch.zeros(5, 3, dtype=torch.long))
    for hook in hooks:
        hook.remove()
    assert sum(counted) == 5 * model.macs_per_step(batch=3)
