"""Child benchmark: nascli-built children vs hand-written / naive / stock PyTorch references.

    python bench/children.py [--quick]

Every figure is a throughput measured in this run; each comparison alternates its
variants in rounds (A, B, A, B, ...) so that other processes on the machine slow
both alike, and reports medians (ratios are the median of per-round ratios).
1. Conv: a NasConvNet built from a fixed 15-layer conv.space token string vs the
   same network written out by hand below; training images/s (forward, backward,
   SGD step; batch 64 of 32x32 images from the embedded CIFAR sample), all cores.
2. Language model (1 thread, as the trainer runs them): the built tree-cell LM vs a
   naive cell with one nn.Linear per leaf and per step, and vs nn.LSTM in the same
   wrapper; training tokens/s (batch 32, bptt 35, embedded PTB vocabulary).
3. Achieved GFLOP/s of the conv child's training (6 x MACs per image x images/s)
   as a fraction of a 2048x2048 fp32 torch.mm timed in the same rounds.
4. Input layout: per bundled image space, two sampled children's training steps
   (batch 64, 1 thread) with build_child's channels-last input vs the same
   children fed NCHW (the pre-hook removed).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import random
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nascli.arch import decode
from nascli.arch.records import TreeCell as TreeCellRecord
from nascli.arch.sample import sample_architecture
from nascli.children import ChildConfig, LanguageModelConfig, build_child, profile_child
from nascli.children.lm import LanguageModel
from nascli.children.tree_cell import ACTIVATION_FNS, COMBINE_FNS
from nascli.data import batchify, load_dataset
from nascli.space import load_space
from nascli.space.compiler import compile_space

# conv.space at depth 15, sampled uniformly with random.Random(0); HandWrittenConvNet is this network.
CONV_TOKENS = ("conv: 7 7 36 / 3 5 36 - / 3 3 48 - / 3 7 48 0 / 7 7 36 3 / 1 3 48 2,4 / 7 5 24 1,4,5 / "
               "7 1 36 1,3,6 / 1 3 48 1 / 5 5 36 1,3,4,5,8 / 1 7 64 5,7 / 7 5 64 1,6,8 / 1 5 24 0,2,4,5,7 / "
               "1 5 48 1,2,4,5,7,8,9,12 / 3 1 36 0,2,3,5,6,8,9,13")
RNN_SEED = 0  # rnn.space (tree base 8) sampled with random.Random(RNN_SEED)
HIDDEN, BATCH_LM, BPTT = 200, 32, 35


# -- shared by both benchmark scripts ------------------------------------------------

def machine_lines() -> list[str]:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 platform.processor() or "unknown")
    return [f"machine: {model}, {os.cpu_count()} cores; torch {torch.__version__}; python {platform.python_version()}"]


def alternate_rounds(variants: dict, rounds: int) -> dict[object, list[float]]:
    """Every variant's measurements, taken A, B, A, B, ... over `rounds` rounds."""
    samples: dict[object, list[float]] = {key: [] for key in variants}
    for _ in range(rounds):
        for key, measure in variants.items():
            samples[key].append(measure())
    return samples


def median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b))


def mean_std(values: list[float], digits: int = 4) -> str:
    """'mean ± sample std' of a bench's per-seed figures (std 0 for a single seed)."""
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {std:.{digits}f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


# -- conv: the hand-written twin of CONV_TOKENS ---------------------------------------

def conv_bn_relu(cin: int, cout: int, kh: int, kw: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, (kh, kw), padding=(kh // 2, kw // 2), bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class HandWrittenConvNet(nn.Module):
    """CONV_TOKENS written out: layers with no inputs read the image; 10, 11, 14 are the loose ends."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.l0 = conv_bn_relu(3, 36, 7, 7)
        self.l1 = conv_bn_relu(3, 36, 3, 5)
        self.l2 = conv_bn_relu(3, 48, 3, 3)
        self.l3 = conv_bn_relu(36, 48, 3, 7)  # l0
        self.l4 = conv_bn_relu(48, 36, 7, 7)  # l3
        self.l5 = conv_bn_relu(48 + 36, 48, 1, 3)  # l2, l4
        self.l6 = conv_bn_relu(36 + 36 + 48, 24, 7, 5)  # l1, l4, l5
        self.l7 = conv_bn_relu(36 + 48 + 24, 36, 7, 1)  # l1, l3, l6
        self.l8 = conv_bn_relu(36, 48, 1, 3)  # l1
        self.l9 = conv_bn_relu(36 + 48 + 36 + 48 + 48, 36, 5, 5)  # l1, l3, l4, l5, l8
        self.l10 = conv_bn_relu(48 + 36, 64, 1, 7)  # l5, l7
        self.l11 = conv_bn_relu(36 + 24 + 48, 64, 7, 5)  # l1, l6, l8
        self.l12 = conv_bn_relu(36 + 48 + 36 + 48 + 36, 24, 1, 5)  # l0, l2, l4, l5, l7
        self.l13 = conv_bn_relu(36 + 48 + 36 + 48 + 36 + 48 + 36 + 24, 48, 1, 5)  # l1, l2, l4, l5, l7, l8, l9, l12
        self.l14 = conv_bn_relu(36 + 48 + 48 + 48 + 24 + 48 + 36 + 48, 36, 3, 1)  # l0, l2, l3, l5, l6, l8, l9, l13
        self.fc = nn.Linear(64 + 64 + 36, classes)

    def forward(self, x: Tensor) -> Tensor:  # (B, 3, 32, 32) -> (B, classes)
        l0, l1, l2 = self.l0(x), self.l1(x), self.l2(x)
        l3 = self.l3(l0)
        l4 = self.l4(l3)
        l5 = self.l5(torch.cat([l2, l4], 1))
        l6 = self.l6(torch.cat([l1, l4, l5], 1))
        l7 = self.l7(torch.cat([l1, l3, l6], 1))
        l8 = self.l8(l1)
        l9 = self.l9(torch.cat([l1, l3, l4, l5, l8], 1))
        l10 = self.l10(torch.cat([l5, l7], 1))
        l11 = self.l11(torch.cat([l1, l6, l8], 1))
        l12 = self.l12(torch.cat([l0, l2, l4, l5, l7], 1))
        l13 = self.l13(torch.cat([l1, l2, l4, l5, l7, l8, l9, l12], 1))
        l14 = self.l14(torch.cat([l0, l2, l3, l5, l6, l8, l9, l13], 1))
        return self.fc(torch.cat([l10.mean((2, 3)), l11.mean((2, 3)), l14.mean((2, 3))], 1))


def copy_in_order(source: nn.Module, target: nn.Module) -> None:
    """Copy every parameter and buffer, matched by registration order (shapes must agree)."""
    src, dst = list(source.state_dict().values()), target.state_dict()
    if len(src) != len(dst) or any(a.shape != b.shape for a, b in zip(src, dst.values())):
        raise SystemExit("the two models' parameters do not match in order and shape")
    target.load_state_dict(dict(zip(dst, src)))


def check_same(a: nn.Module, b: nn.Module, *inputs) -> None:
    a.eval(), b.eval()
    with torch.no_grad():
        out_a, out_b = a(*inputs), b(*inputs)
    out_a, out_b = (out_a[0], out_b[0]) if isinstance(out_a, tuple) else (out_a, out_b)
    if not torch.allclose(out_a, out_b, rtol=1e-4, atol=1e-5):
        raise SystemExit(f"outputs differ: max |diff| {float((out_a - out_b).abs().max()):.3g}")
    a.train(), b.train()


def train_stepper(model: nn.Module, loss_fn: Callable[[nn.Module], Tensor], lr: float, clip: float | None):
    """A closure running one forward + backward + SGD step and returning its seconds."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9 if clip is None else 0.0)

    def step() -> float:
        start = time.perf_counter()
        loss = loss_fn(model)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return time.perf_counter() - start
    step()  # warm-up (allocator, oneDNN kernels)
    return step


def mm_gflops(size: int = 2048) -> Callable[[], float]:
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)

    def measure() -> float:
        start = time.perf_counter()
        torch.mm(a, b)
        return 2 * size**3 / (time.perf_counter() - start) / 1e9
    return measure


def nchw_twin(child: nn.Module) -> nn.Module:
    """A copy of an image child without build_child's channels-last pre-hook: it runs on the batch as given."""
    twin = copy.deepcopy(child)
    twin._forward_pre_hooks.clear()
    return twin


def bench_conv(batch: int, rounds: int) -> list[list[str]]:
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    data = load_dataset("cifar10")
    x, y = data.train_x[:batch], data.train_y[:batch]  # (B, 3, 32, 32), (B,)
    torch.manual_seed(0)
    built = build_child(decode(CONV_TOKENS), data.task, ChildConfig())
    hand = HandWrittenConvNet(data.task.classes)
    profile = profile_child(built, data.task)
    if profile.params != sum(p.numel() for p in hand.parameters()):
        raise SystemExit("the hand-written conv net has a different parameter count")
    copy_in_order(built, hand)
    check_same(built, hand, x)
    # build_child's children take images channels-last (a forward pre-hook); the hand-written net gets its
    # batch in that layout too, so that the first row compares the construction, and `nchw` is the built
    # child without the hook, for what the layout alone is worth.
    nchw = nchw_twin(built)
    x_last = x.contiguous(memory_format=torch.channels_last)
    steps = {name: train_stepper(model, lambda m, xb=xb: F.cross_entropy(m(xb), y), 0.01, None)
             for name, model, xb in (("built", built, x), ("hand", hand, x_last), ("nchw", nchw, x))}
    peak = mm_gflops()
    samples = alternate_rounds({name: (lambda name=name: batch / steps[name]()) for name in steps} | {"mm": peak},
                               rounds)
    built_rate, hand_rate = statistics.median(samples["built"]), statistics.median(samples["hand"])
    achieved = [6 * profile.macs * r / 1e9 for r in samples["built"]]  # 2 FLOP per MAC, x3 for fwd+bwd
    fraction = median_ratio(achieved, samples["mm"])
    where = f"{threads} threads, batch {batch}"
    return [
        [f"NAS conv child (15 layers, {profile.params:,} params, {profile.macs / 1e6:.0f}M MACs/image) vs "
         f"hand-written nn.Module, training images/s ({where})",
         f"{built_rate:.1f}", f"{hand_rate:.1f}", f"{median_ratio(samples['built'], samples['hand']):.3f}", "≥ 0.95"],
        [f"the same NAS conv child, channels-last input (build_child's) vs NCHW input, training images/s ({where})",
         f"{built_rate:.1f}", f"{statistics.median(samples['nchw']):.1f}",
         f"{median_ratio(samples['built'], samples['nchw']):.3f}", "—"],
        [f"conv child training GFLOP/s (6 × MACs × images/s) vs 2048² fp32 torch.mm GFLOP/s ({threads} threads)",
         f"{statistics.median(achieved):.1f}", f"{statistics.median(samples['mm']):.1f}", f"{fraction:.3f}", "—"],
    ]


# -- language model: naive tree cell and an LSTM in the same wrapper -------------------

class NaiveTreeCell(nn.Module):
    """The tree cell as one would first write it: one nn.Linear per leaf for x and for h, every step."""

    def __init__(self, record: TreeCellRecord, input_size: int, hidden_size: int):
        super().__init__()
        self.record, self.hidden_size = record, hidden_size
        self.x_leaf = nn.ModuleList(nn.Linear(input_size, hidden_size, bias=False) for _ in range(record.base))
        self.h_leaf = nn.ModuleList(nn.Linear(hidden_size, hidden_size, bias=False) for _ in range(record.base))

    def init_state(self, batch: int):
        h = torch.zeros(batch, self.hidden_size)
        return (h, torch.zeros_like(h)) if self.record.cell_index is not None else h

    def project_inputs(self, x: Tensor) -> Tensor:  # the naive cell projects inside each step
        return x

    def recur(self, x_t: Tensor, state):
        rec = self.record
        h, c = state if rec.cell_index is not None else (state, None)
        out, c_t = [], None
        for node in rec.nodes:
            combine = COMBINE_FNS[node.combine]
            if node.children:
                pre = combine(out[node.children[0]], out[node.children[1]])
            else:
                pre = combine(self.x_leaf[node.index](x_t), self.h_leaf[node.index](h))
            value = ACTIVATION_FNS[node.activation](pre)
            if rec.cell_index is not None and node.index == rec.cell_index.out:
                c_t = pre
            if rec.cell_index is not None and node.index == rec.cell_index.inject:
                value = ACTIVATION_FNS[rec.inject.activation](COMBINE_FNS[rec.inject.combine](value, c))
            out.append(value)
        return out[-1], ((out[-1], c_t) if rec.cell_index is not None else out[-1])


class LstmLanguageModel(nn.Module):
    """LanguageModel's wrapper (embedding, dropout, tied decoder) around nn.LSTM."""

    def __init__(self, vocab: int, config: LanguageModelConfig):
        super().__init__()
        self.embedding = nn.Embedding(vocab, config.embed_size)
        self.lstm = nn.LSTM(config.embed_size, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden_size, vocab)
        self.decoder.weight = self.embedding.weight

    def forward(self, tokens: Tensor, state=None):  # (T, B) -> (T, B, V)
        hidden, state = self.lstm(self.dropout(self.embedding(tokens)), state)
        return self.decoder(self.dropout(hidden)), state


def bench_language(rounds: int, steps_per_round: int) -> tuple[list[list[str]], list[str]]:
    torch.set_num_threads(1)
    text = load_dataset("ptb")
    tokens = batchify(text.train, BATCH_LM)[: BPTT + 1]  # (T+1, B)
    x, y = tokens[:-1], tokens[1:]
    arch = sample_architecture(compile_space(load_space("rnn")), random.Random(RNN_SEED))
    config = LanguageModelConfig(embed_size=HIDDEN, hidden_size=HIDDEN)
    torch.manual_seed(0)
    built = build_child(arch, text.task, ChildConfig(language=config))
    naive = LanguageModel(arch, text.task, config)
    naive.cell = NaiveTreeCell(arch.tree, HIDDEN, HIDDEN)
    naive.load_state_dict({k: v for k, v in built.state_dict().items() if not k.startswith("cell.")}, strict=False)
    with torch.no_grad():
        for i in range(arch.tree.base):  # leaf i's rows of the fused projections
            naive.cell.x_leaf[i].weight.copy_(built.cell.x_proj.weight[i * HIDDEN:(i + 1) * HIDDEN])
            naive.cell.h_leaf[i].weight.copy_(built.cell.h_proj.weight[i * HIDDEN:(i + 1) * HIDDEN])
    check_same(built, naive, x)
    lstm = LstmLanguageModel(text.task.vocab_size, config)

    def lm_loss(model: nn.Module) -> Tensor:
        logits, _ = model(x)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten())

    steppers = {name: train_stepper(model, lm_loss, 20.0, 0.25)
                for name, model in (("built", built), ("naive", naive), ("lstm", lstm))}
    per_step = BPTT * BATCH_LM

    def rate(name: str) -> Callable[[], float]:
        return lambda: per_step * steps_per_round / sum(steppers[name]() for _ in range(steps_per_round))

    samples = alternate_rounds({name: rate(name) for name in steppers}, rounds)
    nas_macs = built.cell.macs_per_step()
    lstm_macs = lstm.lstm.weight_ih_l0.numel() + lstm.lstm.weight_hh_l0.numel()
    lm_macs = profile_child(built, text.task).macs
    where = f"1 thread, batch {BATCH_LM}, bptt {BPTT}, hidden = embed = {HIDDEN}, vocab {text.task.vocab_size}"
    med = {name: statistics.median(v) for name, v in samples.items()}
    rows = [
        [f"NAS tree-cell LM vs naive one-Linear-per-leaf cell, training tokens/s ({where})",
         f"{med['built']:.0f}", f"{med['naive']:.0f}", f"{median_ratio(samples['built'], samples['naive']):.2f}", "> 1"],
        [f"NAS tree-cell LM vs nn.LSTM in the same wrapper, training tokens/s ({where})",
         f"{med['built']:.0f}", f"{med['lstm']:.0f}", f"{median_ratio(samples['built'], samples['lstm']):.2f}", "—"],
    ]
    notes = [f"rnn cell: {arch.tokens}",
             f"cell MACs per token: NAS tree cell {nas_macs:,}, LSTM {lstm_macs:,} "
             f"(ratio {nas_macs / lstm_macs:.2f}); whole NAS LM incl. decoder {lm_macs:,}"]
    return rows, notes


LAYOUT_SPACES = {"enas_macro": None, "enas_micro": None, "conv": 6, "conv_pool": 6, "nb201": None, "darts": None,
                 "mobilenet": None}  # space -> depth (None: the space's own)


def bench_layout(rounds: int) -> list[list[str]]:
    """Training images/s of channels-last vs NCHW input, per image space (1 thread)."""
    torch.set_num_threads(1)
    data = load_dataset("cifar10")
    x, y = data.train_x[:64], data.train_y[:64]
    rows = []
    for space, depth in LAYOUT_SPACES.items():
        compiled, rng = compile_space(load_space(space)), random.Random(0)
        last = [build_child(sample_architecture(compiled, rng, depth), data.task) for _ in range(2)]
        nchw = [nchw_twin(child) for child in last]
        steps = {name: [train_stepper(c, lambda m: F.cross_entropy(m(x), y), 0.01, None) for c in children]
                 for name, children in (("last", last), ("nchw", nchw))}
        samples = alternate_rounds({name: (lambda name=name: 2 * len(x) / sum(step() for step in steps[name]))
                                    for name in steps}, rounds)
        rows.append([space, f"{statistics.median(samples['last']):.1f}", f"{statistics.median(samples['nchw']):.1f}",
                     f"{median_ratio(samples['last'], samples['nchw']):.2f}×"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller version (< 2 minutes)")
    args = parser.parse_args()
    began = time.perf_counter()
    conv_batch, conv_rounds, lm_rounds, lm_steps = (16, 3, 3, 1) if args.quick else (64, 5, 7, 3)
    print("\n".join(machine_lines()))
    conv_rows = bench_conv(conv_batch, conv_rounds)
    lm_rows, notes = bench_language(lm_rounds, lm_steps)
    print(f"threads: conv part {os.cpu_count()} (torch.set_num_threads, all cores); language-model part 1\n")
    print(f"### Children: built vs reference (medians of {conv_rounds} conv / {lm_rounds} LM alternating rounds)\n")
    print(markdown_table(["comparison", "built", "reference", "ratio", "target"], conv_rows + lm_rows))
    print("\nChecks passed: conv twins have equal parameter counts and outputs; naive LM has equal outputs.")
    print(f"conv child: {CONV_TOKENS}")
    print("\n".join(notes))
    print("\n### Input layout: channels-last (build_child's) vs NCHW, training images/s, 1 thread, batch 64\n")
    print(markdown_table(["space", "channels-last", "NCHW", "speed-up"], bench_layout(conv_rounds)))
    print(f"wall time: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
