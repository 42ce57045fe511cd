"""`nascli inspect`, `sample` and `decode`: the space language and token strings."""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..arch import decode as decode_arch
from ..arch import save_architecture
from ..arch.describe import cell_lines, dag_equations, layer_rows, tree_equations
from ..arch.wiring import IMAGE_SHAPE
from ..arch.sample import sample_architecture
from ..errors import TokenError
from ..space import load_space
from ..space.compiler import compile_space
from .app import command, out
from .data_options import MAX_SEED

SpaceArg = Annotated[str, typer.Argument(help="A .space file, or the name of a bundled space (conv, rnn, enas_micro, ...).")]


# A choice with more values than this shows its first and last few (a generated space may list
# a hundred thousand, which the table would wrap over as many lines); --json lists them all.
_SHOWN_VALUES = 12


def _describe_decision(d) -> tuple[str, str]:
    if d.kind == "choice":
        texts = [o.text for o in d.options]
        if len(texts) > _SHOWN_VALUES:
            cut = _SHOWN_VALUES - 2
            return "choice", "{" + ", ".join(texts[:cut]) + ", …, " + ", ".join(texts[-2:]) + f"}} ({len(texts):,} values)"
        return "choice", "{" + ", ".join(texts) + "}"
    if d.kind == "anchor":
        return "anchor", "any set of earlier layers"
    # a node's own index picks among earlier nodes; a section's (cell_index) among all the tree's
    return "index", "one earlier node" if "[" in d.path else f"one of nodes 0..{d.candidates[-1]}"


def inspect_json(compiled) -> dict:
    decisions = compiled.decisions()
    return {
        "name": compiled.name,
        "source": compiled.space.source,
        "sha256": compiled.space.sha256,
        "settings": compiled.space.settings,
        "depths": compiled.depths,
        "decisions": [
            {"path": d.path, "kind": d.kind, "head": d.head,
             "options": [o.text for o in d.options], "candidates": list(d.candidates),
             "condition": list(d.condition) if d.condition else None,
             "stage_depth": list(d.stage_depth) if d.stage_depth else None}
            for d in decisions
        ],
        "heads": [h.model_dump() for h in compiled.heads],
        "cardinality": _exact(compiled.cardinality()),
        "cardinality_by_depth": {str(k): _exact(compiled.cardinality(k)) for k in compiled.depths},
    }


@command("inspect")
def inspect(
    space: SpaceArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decisions and counts as JSON.")] = False,
) -> None:
    """Show a space's decisions, in controller order, and how many architectures it holds."""
    compiled = compile_space(load_space(space))
    if as_json:
        out.print_json(json.dumps(inspect_json(compiled)))
        return
    table = Table(title=f"space {compiled.name}  ({compiled.space.source})")
    for col in ("block", "decision", "kind", "values", "only when", "steps"):
        table.add_column(col)
    seen: dict[str, list] = {}
    for d in compiled.decisions():
        seen.setdefault(d.head, []).append(d)
    for head, ds in seen.items():
        d = ds[0]
        kind, values = _describe_decision(d)
        when = f"{d.condition[0]} = {d.condition[1]}" if d.condition else ""
        deeper = next((x for x in ds if x.stage_depth), None)  # layers beyond a stage's least depth
        if deeper is not None:
            reach = f"layer i: {deeper.stage_depth[0]} > i"
            when = f"{when}; {reach}" if when else reach
        table.add_row(compiled.blocks[d.block].label, d.name, kind, values, when, str(len(ds)))
    out.print(table)
    if compiled.space.settings:
        out.print("defaults: " + ", ".join(f"{k} = {v}" for k, v in compiled.space.settings.items()))
    for depth in compiled.depths or [None]:
        label = f"at {depth} layers" if depth else "in all"
        out.print(f"architectures {label}: {_readable(compiled.cardinality(depth), len(compiled.decisions(depth)))}", soft_wrap=True)


# Counts of more digits than this print in scientific form only; a 170-layer
# anchored space has more digits than Python converts to text by default (4,300).
_EXACT_DIGITS = 60


def _sci(n: int) -> str:
    """`n` as `d.dde+X`, computed from its logarithm: converting a huge int to text is refused."""
    exponent = math.floor(math.log10(n)) if n else 0
    mantissa = round(n / 10**exponent, 2) if exponent < 300 else round(10 ** (math.log10(n) - exponent), 2)
    if mantissa >= 10:  # 9.996 rounds up to the next power of ten
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.2f}e{exponent}"


def _readable(n: int, decisions: int) -> str:
    if n.bit_length() * math.log10(2) < _EXACT_DIGITS:
        return f"{n:,}  (≈ {_sci(n)}, {decisions} decisions)"
    return f"≈ {_sci(n)}  ({decisions} decisions; --json prints the exact count)"


def _exact(n: int) -> int | str:
    """`n` for --json: an int while Python's json can read it back, else its exact decimal string."""
    limit = sys.get_int_max_str_digits()
    if not limit or n.bit_length() * math.log10(2) < limit - 1:
        return n
    sys.set_int_max_str_digits(0)
    try:
        return str(n)
    finally:
        sys.set_int_max_str_digits(limit)


@command("sample")
def sample(
    space: SpaceArg,
    n: Annotated[int, typer.Option("-n", min=1, help="How many architectures.")] = 1,
    seed: Annotated[Optional[int], typer.Option("--seed", min=0, max=MAX_SEED, help="Same seed, same strings.")] = None,
    depth: Annotated[Optional[int], typer.Option("--depth", help="Layers, for a space with a depth schedule (default: the deepest).")] = None,
) -> None:
    """Print N uniformly random token strings of a space, one per line."""
    compiled = compile_space(load_space(space))
    if depth is not None and depth not in compiled.depths:
        allowed = ", ".join(map(str, compiled.depths)) or "none (its depth is fixed)"
        raise TokenError(f"--depth {depth} is not a depth of space '{compiled.name}'; it allows {allowed}")
    rng = random.Random(seed)
    for _ in range(n):
        out.print(sample_architecture(compiled, rng, depth).tokens, soft_wrap=True)


def _latency_text(arch, task) -> str:
    """', 3.2ms per forward pass (...)' for an image or tabular child, timed as --max-latency times it."""
    if arch.task == "language":
        return ""
    from ..budget import format_ms
    from ..budget.latency import LatencyConfig, measure_latency

    cfg = LatencyConfig()
    ms = measure_latency(arch, task, "cpu", cfg)
    return (f", {format_ms(ms)} per forward pass of {cfg.batch} on the cpu (median of {cfg.rounds} rounds' "
            f"fastest of {cfg.repeats}, after {cfg.warmup} warm-up, {cfg.threads} thread)")


@command("decode")
def decode(
    tokens: Annotated[str, typer.Argument(help="A token string, e.g. 'rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0'.")],
    space: Annotated[Optional[str], typer.Option("--space", help="Decode against this space file instead of the one the string names.")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write the arch.json here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the arch.json content.")] = False,
    dataset: Annotated[Optional[str], typer.Option(help="Also build the child for this dataset kind (cifar10, ptb, csv with their samples; images or text with --data-dir) and show its parameters and MACs.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="With --dataset: its folder (default: the embedded sample).")] = None,
) -> None:
    """Decode a token string into an architecture: layers, or the cell's equations."""
    if output is not None:
        from ..render.output import check_output

        check_output(output)
    arch = decode_arch(tokens, space)
    if output is not None:
        save_architecture(arch, output)
    if as_json:
        out.print_json(arch.model_dump_json())
        return
    out.print(f"[bold]{arch.space}[/] architecture ({arch.task})")
    for k, v in arch.hyper.items():
        out.print(f"  {k} = {v}")
    image, task = IMAGE_SHAPE, None
    if dataset is not None:
        from ..children import build_child, profile_child  # torch is imported only when asked for
        from ..data.spec import DataSpec

        task = DataSpec(name=dataset, data_dir=str(data_dir) if data_dir else None).load().task
        image = (task.channels, task.height, task.width) if arch.task == "image" else image
    if arch.layers is not None:
        made = "output" if arch.task == "tabular" or dataset else f"output of {image[1]}×{image[2]}×{image[0]}"
        table = Table("layer", "op", "parameters", "stride", "reads", made)
        for row in layer_rows(arch, image):
            table.add_row(str(row.index), row.op, row.params, str(row.stride), row.reads, row.output)
        out.print(table)
    lines = (tree_equations(arch.tree) if arch.tree else []) + (dag_equations(arch) if arch.dag else []) + cell_lines(arch)
    for line in lines:
        out.print(f"  {line}", soft_wrap=True)
    if task is not None:
        profile = profile_child(build_child(arch, task), task)
        per = {"image": "image", "language": "token", "tabular": "row"}[arch.task]
        out.print(f"on {dataset}: {profile.params:,} parameters, {profile.macs:,} multiply-adds per {per}"
                  f"{_latency_text(arch, task)}")
    if output is not None:
        out.print(f"wrote {output}")
