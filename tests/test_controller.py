"""The controller and REINFORCE: heads per space, valid samples, exact log-probs, learning."""

from __future__ import annotations

import math

import pytest
import torch

from nascli.arch import architecture, decode
from nascli.errors import TokenError
from nascli.search.controller import Controller, ControllerConfig
from nascli.search.heads import AnchorHead, ChoiceHead, IndexHead
from nascli.search.reinforce import Reinforce, ReinforceConfig
from nascli.space import bundled_spaces, load_space, parse_space
from nascli.space.compiler import compile_space

# Two layers, one binary choice each; layer 1's anchor may read layer 0.
TINY = """space tiny {
    task = image
    dataset = cifar10
    layers 2 {
        filter_height: {1, 3}
        filter_width = 3
        filters = 16
        skip: anchor
    }
}
"""
# A hyper block too: a block kind none of the bundled spaces has.
TINY_HYPER = TINY.replace("    layers 2", "    hyper {\n        lr: {0.1, 0.01}\n    }\n    layers 2")
SPACES = sorted(bundled_spaces())


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    torch.manual_seed(0)  # parameter init draws from the global generator
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # (m, 35) tensors: extra threads only add synchronisation on a shared CPU
    yield
    torch.set_num_threads(threads)


def _compiled(name: str):
    if name in ("tiny", "tiny_hyper"):
        return compile_space(parse_space(TINY if name == "tiny" else TINY_HYPER))
    return compile_space(load_space(name))


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", SPACES)
def test_heads_follow_the_compiled_space(name):
    compiled = _compiled(name)
    controller = Controller(compiled, ControllerConfig(hidden=20, layers=1))
    kinds = {"choice": ChoiceHead, "anchor": AnchorHead, "index": IndexHead}
    assert len(controller.heads) == len(compiled.heads)
    for spec, head in zip(compiled.heads, controller.heads):
        assert type(head) is kinds[spec.kind]
        if spec.kind == "choice":
            assert head(torch.zeros(3, 20)).shape == (3, spec.size)
        else:
            assert head(torch.zeros(3, 4, 20), torch.zeros(3, 20)).shape == (3, 4)
    choices = sum(s.size for s in compiled.heads if s.kind == "choice")
    assert controller.token_embedding.weight.shape == (choices, 20)  # one table for every choice token
    cell_inputs = sum(p.node_offset for p in compiled.blocks if p.kind == "cell")
    assert controller.input_nodes.shape == (cell_inputs, 20)


@pytest.mark.parametrize("name", SPACES + ["tiny_hyper"])
def test_samples_decode_and_score_back(name):
    compiled = _compiled(name)
    controller = Controller(compiled)
    for depth in sorted({*(compiled.depths[:1] or [None]), compiled.max_depth}, key=str):
        sample = controller.sample(8, depth, _gen(1))
        assert len(sample.assignments) == 8
        assert sample.log_prob.shape == sample.entropy.shape == (8,)
        assert bool((sample.log_prob < 0).all()) and bool((sample.entropy > 0).all())
        for assignment in sample.assignments:
            arch = architecture(compiled, assignment, depth)
            assert decode(arch.tokens, compiled) == arch
        log_prob, entropy = controller.score(sample.assignments, depth)
        torch.testing.assert_close(log_prob, sample.log_prob)
        torch.testing.assert_close(entropy, sample.entropy)


def test_conditional_decisions_follow_the_branch_taken():
    compiled = _compiled("conv_pool")
    sample = Controller(compiled).sample(32, 6, _gen(2))
    ops = set()
    for a in sample.assignments:
        for layer in range(6):
            op = a[f"layers[{layer}].op"]
            ops.add(op)
            assert (f"layers[{layer}].filters" in a) == (op == "conv")
            assert (f"layers[{layer}].pool_size" in a) == (op == "max_pool")
    assert ops == {"conv", "max_pool"}


def test_a_branch_not_taken_has_no_effect():
    """Absent decisions add no log-prob and leave the LSTM state and next input as they were."""
    compiled = _compiled("conv_pool")
    controller = Controller(compiled, ControllerConfig(temperature=2.0, tanh_constant=2.5))
    pools = controller.sample(4, 6, _gen(3)).assignments
    for a in pools:
        for layer in range(6):
            for key in ("op", "filter_height", "filter_width", "filters", "stride", "pool_size"):
                a.pop(f"layers[{layer}].{key}", None)
            a.update({f"layers[{layer}].op": "max_pool", f"layers[{layer}].pool_size": 3,
                      f"layers[{layer}].stride": 2})
    before, _ = controller.score(pools, 6)
    conv_heads = [i for i, s in enumerate(compiled.heads) if "op=conv" in s.key]
    with torch.no_grad():
        for i in conv_heads:  # the conv branch's heads and its token embeddings
            controller.heads[i].proj.weight.add_(1.0)
            first, size = controller._token_offset[i], compiled.heads[i].size
            controller.token_embedding.weight[first:first + size].add_(1.0)
    after, _ = controller.score(pools, 6)
    torch.testing.assert_close(after, before)


def test_score_rejects_an_assignment_that_misses_a_decision():
    compiled = _compiled("conv")
    controller = Controller(compiled)
    good = controller.sample(2, 6, _gen(0)).assignments
    bad = dict(good[1])
    bad["layers[3].filters"] = 25  # not one of {24, 36, 48, 64}
    with pytest.raises(TokenError) as err:
        controller.score([good[0], bad], 6)
    assert err.value.where == "layers[3].filters"
    with pytest.raises(TokenError):
        controller.sample(1, 7)  # the schedule reaches 6, 8, ... only


def test_every_weight_starts_within_the_init_range():
    controller = Controller(_compiled("enas_micro"), ControllerConfig(init_range=0.08))
    params = list(controller.parameters())
    assert all(float(p.detach().abs().max()) <= 0.08 for p in params if p.numel())
    flat = torch.cat([p.detach().flatten() for p in params])
    assert float(flat.abs().max()) > 0.07  # uniform over the whole range, not a narrower default init


def test_same_generator_seed_gives_same_samples():
    controller = Controller(_compiled("enas_micro"))
    first, again = controller.sample(8, None, _gen(5)), controller.sample(8, None, _gen(5))
    other = controller.sample(8, None, _gen(6))
    assert first.assignments == again.assignments
    torch.testing.assert_close(first.log_prob, again.log_prob)
    assert first.assignments != other.assignments


def _lstm_outputs(controller: Controller, steps: int) -> list[torch.Tensor]:
    """Top-layer outputs h_1..h_steps of an LSTM whose only nonzero weights are input biases.

    With W_ih = W_hh = 0 every gate is constant, so c_t = f c_{t-1} + i g and
    h_t = o tanh(c_t) no matter what the inputs are.
    """
    i, f, g, o = controller.lstm[-1].bias_ih.detach().chunk(4)
    c, out = torch.zeros_like(i), []
    for _ in range(steps):
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        out.append(torch.sigmoid(o) * torch.tanh(c))
    return out


def test_anchor_probability_is_the_papers_attention():
    compiled = _compiled("tiny")  # steps: layers[0].filter_height, layers[1].filter_height, layers[1].skip
    controller = Controller(compiled, ControllerConfig(hidden=6, layers=2))
    hand = _gen(11)
    with torch.no_grad():
        for cell in controller.lstm:
            cell.weight_ih.zero_(), cell.weight_hh.zero_(), cell.bias_hh.zero_()
            cell.bias_ih.copy_(torch.empty(24).uniform_(-2, 2, generator=hand))
        skip = controller.heads[[s.kind for s in compiled.heads].index("anchor")]
        w_prev, w_curr, v = (torch.randn(6, 6, generator=hand), torch.randn(6, 6, generator=hand),
                             torch.randn(6, generator=hand))
        skip.w_prev.weight.copy_(w_prev), skip.w_curr.weight.copy_(w_curr), skip.v.weight.copy_(v[None])
        for head in controller.heads:
            if isinstance(head, ChoiceHead):  # uniform choices: log 1/2 each
                head.proj.weight.zero_(), head.proj.bias.zero_()
    h = _lstm_outputs(controller, 3)
    h_j, h_i = h[0], h[2]  # layer 0's last step; layer 1's anchor step
    p = torch.sigmoid(v @ torch.tanh(w_prev @ h_j + w_curr @ h_i))
    assert 0.05 < float(p) < 0.95  # a probability the test can tell apart from 1/2
    base = {"layers[0].filter_height": 1, "layers[1].filter_height": 3}
    log_prob, _ = controller.score([{**base, "layers[1].skip": (0,)}, {**base, "layers[1].skip": ()}])
    expected = 2 * math.log(0.5) + torch.stack([torch.log(p), torch.log1p(-p)])
    torch.testing.assert_close(log_prob.detach(), expected)


def test_reinforce_applies_the_papers_gradient_estimate():
    controller = Controller(_compiled("tiny"))
    reinforce = Reinforce(controller, ReinforceConfig(entropy_weight=0.1))
    reinforce.baseline = 0.3  # as if from earlier batches
    sample = controller.sample(4, None, _gen(4))
    rewards = torch.tensor([0.9, 0.1, 0.5, 0.2])
    params = [p for p in controller.parameters() if p.numel()]
    expected = [torch.zeros_like(p) for p in params]
    for k in range(4):  # (1/m) Σ_k ∇log P_k (R_k − b) + w (1/m) Σ_k ∇H_k, by hand, per sample
        grad_lp = torch.autograd.grad(sample.log_prob[k], params, retain_graph=True, allow_unused=True)
        grad_h = torch.autograd.grad(sample.entropy[k], params, retain_graph=True, allow_unused=True)
        for e, gl, gh in zip(expected, grad_lp, grad_h):
            e += ((rewards[k] - 0.3) * (gl if gl is not None else 0) + 0.1 * (gh if gh is not None else 0)) / 4
    stats = reinforce.step(sample.log_prob, sample.entropy, rewards)
    assert any(float(e.abs().max()) > 1e-4 for e in expected)
    for p, e in zip(params, expected):
        applied = -p.grad if p.grad is not None else torch.zeros_like(p)  # the loss is minus the objective
        torch.testing.assert_close(applied, e, rtol=1e-5, atol=1e-7)
    assert stats.baseline == pytest.approx(0.3)
    assert stats.advantage_mean == pytest.approx(0.425 - 0.3)
    assert reinforce.baseline == pytest.approx(0.95 * 0.3 + 0.05 * 0.425)


def test_baseline_averages_only_earlier_rewards():
    controller = Controller(_compiled("tiny"))
    reinforce = Reinforce(controller, ReinforceConfig(baseline_decay=0.9))
    first = controller.sample(4, None, _gen(0))
    stats = reinforce.step(first.log_prob, first.entropy, torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert stats.baseline == 0.0 and stats.advantage_mean == pytest.approx(2.5)  # no earlier rewards yet
    assert reinforce.baseline == pytest.approx(2.5)
    second = controller.sample(4, None, _gen(1))
    stats = reinforce.step(second.log_prob, second.entropy, torch.tensor([0.5, 0.5, 0.5, 0.5]))
    assert stats.baseline == pytest.approx(2.5) and stats.advantage_mean == pytest.approx(-2.0)
    assert reinforce.baseline == pytest.approx(0.9 * 2.5 + 0.1 * 0.5)
    restored = Reinforce(controller, ReinforceConfig(baseline_decay=0.9))
    restored.load_state_dict(reinforce.state_dict())
    assert restored.baseline == reinforce.baseline
    assert restored.optimizer.state_dict()["state"].keys() == reinforce.optimizer.state_dict()["state"].keys()


def test_grad_clip_bounds_the_applied_gradient():
    controller = Controller(_compiled("conv"))
    reinforce = Reinforce(controller, ReinforceConfig(grad_clip=0.01))
    sample = controller.sample(8, 6, _gen(0))
    stats = reinforce.step(sample.log_prob, sample.entropy, torch.linspace(0, 1, 8))
    applied = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in controller.parameters()
                                                    if p.grad is not None]))
    assert stats.grad_norm > 0.01 and float(applied) == pytest.approx(0.01, rel=1e-4)


def test_controller_learns_a_synthetic_reward():
    """Reward = fraction of layers with filter height 5: random sampling gets 0.25 on average."""
    controller = Controller(_compiled("conv"))
    reinforce = Reinforce(controller, ReinforceConfig(lr=0.01))
    gen = _gen(0)

    def reward(assignment) -> float:
        return sum(assignment[f"layers[{i}].filter_height"] == 5 for i in range(6)) / 6

    for _ in range(40):
        sample = controller.sample(8, 6, gen)
        reinforce.step(sample.log_prob, sample.entropy, torch.tensor([reward(a) for a in sample.assignments]))
    with torch.no_grad():
        fresh = controller.sample(64, 6, gen).assignments
    assert sum(map(reward, fresh)) / 64 > 0.5
