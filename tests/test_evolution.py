"""Regularised evolution: one-decision mutations in every space, the population's tournaments and
aging on scripted rewards, its state as plain data, and real searches with workers and --async."""

from __future__ import annotations

import io
import random

import pytest
import torch

from nascli.arch import architecture
from nascli.arch.mutate import mutate
from nascli.arch.sample import sample_assignment
from nascli.arch.tokens import active_decisions, decode_tokens, encode
from nascli.cli import app
from nascli.runs import RunStore
from nascli.runs.checkpoint import load_checkpoint
from nascli.search.evolution import EvolutionConfig, EvolutionStrategy
from nascli.search.strategies import RandomStrategy
from nascli.space import bundled_spaces, load_space, parse_space
from nascli.space.compiler import compile_space
from test_search import FAST, search

# Every decision kind in one space: a hyper choice, an op branch whose conv side has a tied width and a
# one-valued choice (not a decision with another value), a max_pool side with its own stride, skip sets,
# and a depth schedule (2 layers, one more every 4 children, up to 4).
TIED = """space tied {
    task = image
    dataset = cifar10
    hyper {
        lr: {0.1, 0.01}
    }
    layers 4 from 2 grow 1 every 4 {
        op: {
            conv {
                filter_height: {1, 3, 5}
                filter_width = filter_height
                filters: {16}
            }
            max_pool {
                pool_size: {2, 3}
                stride: {1, 2}
            }
        }
        skip: anchor
    }
}
"""
# Stages (issue 23): a stage deciding its depth, width and stride once, whose layers pick an op, a decided
# merge and skips, with kernel and expansion lifted into mbconv's branch; a second stage with a fixed width,
# stride and merge = sum whose layers exist only up to its decided depth.
STAGED = """space staged {
    task = image
    dataset = cifar10
    layers 1 { op = conv_3x3  filters = 16  skip = none }
    layers 3 {
        stage { depth: {1, 2, 3}  filters: {16, 24}  stride: {1, 2} }
        op: {mbconv, sep_conv_3x3}
        kernel: {3, 5}
        expansion: {3, 6}
        merge: {concat, sum}
        skip: anchor
    }
    layers 2 {
        stage { depth: {1, 2}  filters = 32  stride = 2  merge = sum }
        op: {conv_3x3, max_pool_3x3}
        skip = previous
    }
}
"""
BUILT = {"tied": TIED, "staged": STAGED}
SPACES = sorted(bundled_spaces()) + sorted(BUILT)


def _compiled(name: str):
    return compile_space(parse_space(BUILT[name]) if name in BUILT else load_space(name))


def _active(compiled, assignment, depth) -> dict:
    """path -> (decision, value) of every decision that exists in the architecture."""
    return {d.path: (d, assignment[d.path]) for groups in active_decisions(compiled, assignment, depth)
            for group in groups for d in group}


def _changes(compiled, parent, parent_depth, child, depth) -> list:
    """The decisions of the parent's groups whose value differs in the child, appeared or vanished."""
    before, after = _active(compiled, parent, parent_depth), _active(compiled, child, depth)
    inherited = {(d.block, d.group) for d, _ in before.values()}
    after = {p: dv for p, dv in after.items() if (dv[0].block, dv[0].group) in inherited}
    return [(before.get(p) or after.get(p))[0] for p in before.keys() | after.keys()
            if p not in before or p not in after or before[p][1] != after[p][1]]


def _under(d, on) -> bool:
    """Whether `d` exists only through decision `on`'s value: in `on`'s branch (its group), or in a layer
    of the stage whose depth `on` is."""
    in_branch = (d.block, d.group) == (on.block, on.group) and d.condition is not None and d.condition[0] == on.name
    return in_branch or (d.stage_depth is not None and d.stage_depth[0] == on.path)


def _root(changed: list):
    """The one changed decision the others exist under: "exactly one decision" counts a branch's
    decisions, and the layers a stage's depth adds or removes, with the decision they exist under."""
    roots = [d for d in changed if not any(_under(d, e) for e in changed if e is not d)]
    assert len(roots) == 1, [d.path for d in changed]
    root = roots[0]
    assert all(d is root or (d.block, d.group) == (root.block, root.group) or _under(d, root) for d in changed)
    return root


def _check_stage_resized(compiled, parent, child, root) -> None:
    """A stage's depth mutated: its first layers are the parent's, the layers past the new depth are gone,
    the new ones are there; nothing else changed."""
    layers = root.block + 1
    old, new = parent[root.path], child[root.path]
    paths = [{d.path for d in compiled.group_decisions(layers, g)} for g in range(compiled.blocks[layers].groups)]
    for g, group in enumerate(paths):
        if g < min(old, new):
            assert {p: parent[p] for p in group if p in parent} == {p: child[p] for p in group if p in child}
        elif g >= new:
            assert not group & child.keys()
    in_stage = set().union(*paths) | {root.path}
    assert {p: v for p, v in parent.items() if p not in in_stage} == {p: v for p, v in child.items() if p not in in_stage}


@pytest.mark.parametrize("name", SPACES)
def test_a_mutation_changes_exactly_one_decision_and_stays_in_the_space(name):
    compiled = _compiled(name)
    rng = random.Random(17)
    depths = compiled.depths or [None]
    mutated_kinds, branch_switches, stage_depths = set(), 0, 0
    for i in range(300):
        parent_depth = depths[i % len(depths)]
        depth = depths[min(i % len(depths) + i % 2, len(depths) - 1)]  # every other child one depth deeper
        parent = sample_assignment(compiled, rng, parent_depth)
        child = mutate(compiled, parent, parent_depth, depth, rng)
        text = encode(compiled, child, depth)
        assert decode_tokens(compiled, text) == (child, depth)  # in the space, and exactly what was built
        architecture(compiled, child, depth)
        root = _root(_changes(compiled, parent, parent_depth, child, depth))
        mutated_kinds.add(root.kind)
        if root.kind == "anchor":  # one earlier layer flipped in or out
            assert len(set(parent[root.path]) ^ set(child[root.path])) == 1
        else:
            assert child[root.path] != parent[root.path]
        branch_switches += any(d.condition and d.condition[0] == root.name for d in compiled.group_decisions(
            root.block, root.group))
        if compiled.blocks[root.block].kind == "stage" and root.name == "depth":
            stage_depths += 1
            _check_stage_resized(compiled, parent, child, root)
        if depth != parent_depth:  # the new layers are there, drawn from the space
            assert len(child) > len(parent) and decode_tokens(compiled, text)[1] == depth
    kinds = {d.kind for d in compiled.decisions() if d.size > 1}
    assert mutated_kinds == kinds  # every kind of decision the space has was mutated
    has_branches = any(d.condition for d in compiled.decisions())
    assert (branch_switches > 0) == has_branches
    assert (stage_depths > 0) == any(plan.depth for plan in compiled.blocks)


def test_a_branch_switch_redraws_the_branch_and_a_tie_follows_its_source():
    compiled = _compiled("tied")
    parent, depth = decode_tokens(compiled, "tied: 0.1 ; conv 3 16 / conv 5 16 0")
    seen = {}
    for seed in range(200):
        child = mutate(compiled, parent, depth, depth, random.Random(seed))
        seen[encode(compiled, child, depth)] = child
    layer0 = {a["layers[0].op"] for a in seen.values()}
    assert layer0 == {"conv", "max_pool"}
    pooled = [a for a in seen.values() if a["layers[0].op"] == "max_pool"]
    assert all("layers[0].filter_height" not in a and {"layers[0].pool_size", "layers[0].stride"} <= a.keys()
               for a in pooled)  # the conv branch's decisions are gone, the pool's drawn
    assert {(a["layers[0].pool_size"], a["layers[0].stride"]) for a in pooled} == {(2, 1), (2, 2), (3, 1), (3, 2)}
    for a in seen.values():
        for layer in architecture(compiled, a, depth).layers:
            if layer.op == "conv":  # the tie is no decision: the width is the height, whatever was mutated
                assert layer.params["filter_width"] == layer.params["filter_height"]
    assert len(seen) == 1 + 4 + 2 + 4 + 2 + 1  # lr; per layer its pool (4 settings) or another height (2); layer 1's skip


def test_a_stage_mutation_resizes_the_stage_or_changes_one_stage_setting():
    compiled = _compiled("staged")
    parent, _ = decode_tokens(compiled, "staged:  ; 2 16 1 ; mbconv 3 3 sum / sep_conv_3x3 concat 0 ; 1 ; conv_3x3")
    texts = {encode(compiled, mutate(compiled, parent, None, None, random.Random(seed))) for seed in range(300)}
    deeper = {t for t in texts if t.startswith("staged:  ; 3 16 1 ; mbconv 3 3 sum / sep_conv_3x3 concat 0 / ")}
    assert len(deeper) > 1  # the stage's third layer drawn, in more ways than one
    assert "staged:  ; 1 16 1 ; mbconv 3 3 sum ; 1 ; conv_3x3" in texts  # its second layer dropped
    assert {"staged:  ; 2 24 1 ; mbconv 3 3 sum / sep_conv_3x3 concat 0 ; 1 ; conv_3x3",  # width: one decision
            "staged:  ; 2 16 2 ; mbconv 3 3 sum / sep_conv_3x3 concat 0 ; 1 ; conv_3x3",  # stride: one decision
            "staged:  ; 2 16 1 ; mbconv 3 3 sum / sep_conv_3x3 concat 0 ; 2 ; conv_3x3 / conv_3x3",
            "staged:  ; 2 16 1 ; mbconv 3 3 sum / sep_conv_3x3 concat 0 ; 2 ; conv_3x3 / max_pool_3x3"} <= texts
    switched = {t for t in texts if t.startswith("staged:  ; 2 16 1 ; mbconv 3 3 sum / mbconv ")}
    assert len(switched) > 1  # sep_conv_3x3 -> mbconv: the kernel and expansion mbconv reads, drawn


def test_a_space_with_one_architecture_gives_the_parent_back():
    compiled = compile_space(parse_space(TIED.replace("{0.1, 0.01}", "{0.1}").replace(
        "layers 4 from 2 grow 1 every 4 {", "layers 1 {").replace(
        "            max_pool {\n                pool_size: {2, 3}\n                stride: {1, 2}\n            }\n", "")
        .replace("{1, 3, 5}", "{3}")))
    assert compiled.cardinality() == 1
    parent = sample_assignment(compiled, random.Random(0))
    assert mutate(compiled, parent, None, None, random.Random(0)) == parent


def _reward(assignment) -> float:
    """A scripted reward on nb201: the share of edges running conv_3x3 (random: 0.2 on average)."""
    return sum(v == "conv_3x3" for v in assignment.values()) / 6


def _best_after(strategy, proposals: int, batch: int = 1) -> float:
    best = 0.0
    for _ in range(proposals // batch):
        children = strategy.propose(batch, None)
        rewards = [_reward(a) for a in children]
        strategy.update(children, None, rewards)
        best = max(best, *rewards)
    return best


def test_evolution_beats_random_on_a_scripted_reward():
    compiled = _compiled("nb201")
    seeds = range(8)
    # 150 children: about what a 12,000 s NAS-Bench-201 search queries
    evolution = [_best_after(EvolutionStrategy(compiled, s, EvolutionConfig()), 150) for s in seeds]
    uniform = [_best_after(RandomStrategy(compiled, s), 150) for s in seeds]
    assert sum(evolution) / len(seeds) > sum(uniform) / len(seeds) + 0.12  # measured: 0.92 against 0.71
    assert sum(b == 1.0 for b in evolution) >= 3 and not any(b == 1.0 for b in uniform)  # the optimum: 5 of 8 seeds


def test_the_population_starts_random_ages_and_holds_tournament_winners():
    compiled = _compiled("nb201")
    config = EvolutionConfig(population=4, tournament_size=50)
    evolution, uniform = EvolutionStrategy(compiled, 3, config), RandomStrategy(compiled, 3)
    first = evolution.propose(4, None)
    assert first == uniform.propose(4, None)  # the first P children are random search's
    rewards = [0.1, 0.9, 0.3, 0.2]
    evolution.update(first, None, rewards)
    best = encode(compiled, first[1])
    children = evolution.propose(4, None)
    for child in children:  # S = 50 draws: the best member wins every tournament
        assert len(_changes(compiled, first[1], None, child, None)) == 1
    for k, child in enumerate(children):  # four more children join: the oldest die, the best among them
        evolution.update([child], None, [0.0])
        assert (best in [t for t, _ in evolution.population]) == (k < 1)
    assert len(evolution.population) == 4 and [r for _, r in evolution.population] == [0.0] * 4


def test_proposals_are_a_function_of_the_state_dict_and_the_state_is_plain_data():
    compiled = _compiled("conv_pool")
    strategy = EvolutionStrategy(compiled, 5, EvolutionConfig(population=3))
    for step in range(3):
        children = strategy.propose(2, 6 + 2 * (step == 2))  # the schedule grows before step 2
        strategy.update(children, 6 + 2 * (step == 2), [float(step), 1.0])
    buffer = io.BytesIO()
    torch.save(strategy.state_dict(), buffer)
    buffer.seek(0)
    restored = EvolutionStrategy(compiled, 99, EvolutionConfig(population=3))
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert restored.propose(4, 8) == strategy.propose(4, 8)
    assert restored.state_dict() == strategy.state_dict()


def test_an_evolution_search_of_conv_on_real_data(runner, tmp_path, cifar_dir):
    run = tmp_path / "evo"
    out = search(runner, tmp_path, "conv", "--strategy", "evolution", "--population", "2", "--tournament-size", "2",
                 "--budget", "6", "--batch", "2", "--dataset", "cifar10", "--data-dir", str(cifar_dir), *FAST,
                 "--run-dir", str(run)).output
    assert "population 2" in out and "tournaments of 2" in out
    with RunStore.open_readonly(run) as store:
        children, config = store.children(), store.config
    assert config["strategy"] == "evolution" and config["evolution"] == {"population": 2, "tournament_size": 2}
    assert [c.status for c in children] == ["done"] * 6
    compiled = _compiled("conv")
    decoded = [decode_tokens(compiled, c.tokens) for c in children]
    for k in range(2, 6):  # each later child is one mutation from a member of the population it was bred from
        members = decoded[2 * (k // 2) - 2:2 * (k // 2)]
        assert any(len(_changes(compiled, a, d, decoded[k][0], decoded[k][1])) == 1 for a, d in members)
    population = load_checkpoint(run / "checkpoints")["strategy"]["population"]
    assert population == [[c.tokens, c.reward] for c in children[-2:]]  # the last two; the rest aged out


def test_evolution_options_apply_to_a_new_evolution_search_only(runner, tmp_path):
    result = runner.invoke(app, ["search", "conv", "--population", "4", "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and "--strategy evolution" in result.output
    assert not (tmp_path / "r").exists()
    result = runner.invoke(app, ["search", "conv", "--strategy", "evolution", "--tournament-size", "0"])
    assert result.exit_code == 2


def test_asynchronous_evolution_with_two_workers_joins_children_in_finish_order(runner, tmp_path):
    run = tmp_path / "a"
    search(runner, tmp_path, "conv", "--strategy", "evolution", "--population", "2", "--budget", "5", *FAST,
           "--workers", "2", "--async", "1", "--seed", "3", "--run-dir", str(run))
    with RunStore.open_readonly(run) as store:
        children, steps, state = store.children(), store.steps(), store.state
    assert state == "finished" and [c.status for c in children] == ["done"] * 5
    assert [s.step for s in steps] == [0, 1, 2, 3, 4]  # every child learned from on its own
    finished = sorted(children, key=lambda c: (c.finished, c.id))
    population = load_checkpoint(run / "checkpoints")["strategy"]["population"]
    assert population == [[c.tokens, c.reward] for c in finished[-2:]]
