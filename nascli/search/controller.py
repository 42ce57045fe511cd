"""The RNN controller: an LSTM that emits a space's decisions one step at a time.

NAS (Zoph & Le 2017) and ENAS (Pham et al. 2018): each step runs the LSTM
once, a head turns its output into logits, the action is sampled, and the
action becomes the next step's input -- a choice's token embedding, the picked
node's stored state (index), or the mean of the picked layers' stored states
(anchor). The first input is a learned "start" vector (ENAS's empty input).

Every step runs for a batch of m samples at once. A decision under a branch
(conv_pool: `filters` exists only if `op` is conv), or of a stage's layer
beyond the depth a sample picked, is computed for all m, but
where it does not exist for a sample, that sample's LSTM state and next input
pass through unchanged and its log-prob and entropy get nothing, so each
sample sees exactly the decisions of its own token string.

Node states (what anchors and indices attend over and feed on): a layer's is
the top LSTM output at its anchor step; a layer or node without one (layer 0,
dag/cell/tree nodes) uses the output at its group's last step; a cell's input
nodes, which make no decisions, have learned vectors.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from ..arch.tokens import Assignment
from ..errors import TokenError
from ..memory import check_module_memory
from ..space.compiler import CompiledSpace, Decision
from .heads import AnchorHead, ChoiceHead, IndexHead, shape_logits


class ControllerConfig(BaseModel):
    """LSTM size and logit shaping. Defaults are NAS's; ENAS used hidden=100, layers=1."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    hidden: int = Field(35, gt=0)  # units per LSTM layer
    layers: int = Field(2, gt=0)
    init_range: float = Field(0.08, gt=0)  # every weight starts uniform in ±init_range
    temperature: float | None = Field(None, gt=0)  # ENAS: logits / temperature
    tanh_constant: float | None = Field(None, gt=0)  # ENAS: c * tanh(logits)
    op_tanh_reduce: float | None = Field(None, gt=0)  # ENAS: choice (op) decisions use c / op_tanh_reduce


@dataclass(eq=False)
class ControllerSample:
    """m sampled architectures with their summed log-probs and entropies (both keep the graph)."""

    assignments: list[Assignment]
    log_prob: Tensor  # (m,)
    entropy: Tensor  # (m,)


@dataclass(frozen=True)
class _Step:
    """One decision with everything a step needs resolved to indices."""

    index: int  # position among the program's steps
    decision: Decision
    head: int
    offset: int  # choice: the head's first row in the token embedding
    condition: tuple[tuple[int, int], ...] | None  # (earlier step, an option index that meets it); None: always
    candidates: tuple[int, ...]  # anchor / index: the state slot of each candidate node


@dataclass(frozen=True)
class _Record:
    """Keep the current top LSTM output as a node's state."""

    slot: int


@dataclass(frozen=True)
class _Program:
    ops: tuple[_Step | _Record, ...]
    steps: tuple[_Step, ...]
    slots: int


def _condition(d: Decision, earlier: list[_Step], by_path: dict[str, _Step]) -> tuple[tuple[int, int], ...] | None:
    """Which earlier choices of the group (by name, later ones winning) decide whether `d` exists; for a
    layer of a stage whose depth is decided, the depths that reach it (a decision under a branch needs no
    more: the choice it depends on is itself absent where the layer is)."""
    if d.condition is None and d.stage_depth is not None:
        path, least = d.stage_depth
        depth = by_path[path]
        return tuple((depth.index, k) for k, o in enumerate(depth.decision.options) if int(o.value) >= least)
    if d.condition is None:
        return None
    name, text = d.condition
    return tuple((s.index, next((k for k, o in enumerate(s.decision.options) if str(o.value) == text), -1))
                 for s in earlier if s.decision.name == name)


def _masked(exists: Tensor | None, new: Tensor, old: Tensor) -> Tensor:
    """`new` where the decision exists, `old` elsewhere (`exists` (m,), None: everywhere)."""
    if exists is None:
        return new
    return torch.where(exists.view(-1, *[1] * (new.dim() - 1)), new, old)


def new_controller(compiled: CompiledSpace, config: ControllerConfig) -> "Controller":
    """A Controller, once its size is known to fit: `--controller-hidden 100000000` is refused at once
    with its estimate (it failed to allocate after 30 s). Four copies: weights, gradients, Adam's two moments."""
    check_controller_memory(compiled, config)
    return Controller(compiled, config)


def check_controller_memory(compiled: CompiledSpace, config: ControllerConfig) -> None:
    """ResourceError when a controller of `config`'s size cannot fit in memory (estimated on the meta device)."""
    layers = f"{config.layers} LSTM layer{'s' if config.layers > 1 else ''}"
    check_module_memory(lambda: Controller(compiled, config), f"a controller of {layers} of {config.hidden:,} units")


class Controller(nn.Module):
    """LSTM policy over one compiled space: `sample` draws architectures, `score` re-scores given ones."""

    def __init__(self, compiled: CompiledSpace, config: ControllerConfig | None = None):
        super().__init__()
        self.compiled, self.config = compiled, config or ControllerConfig()
        hidden = self.config.hidden
        specs = compiled.heads
        self._head_index = {s.key: i for i, s in enumerate(specs)}
        self.heads = nn.ModuleList(
            ChoiceHead(hidden, s.size) if s.kind == "choice" else AnchorHead(hidden) if s.kind == "anchor"
            else IndexHead(hidden) for s in specs)
        # One embedding table for every choice token; each choice head owns a run of rows.
        self._token_offset: dict[int, int] = {}
        rows = 0
        for i, s in enumerate(specs):
            if s.kind == "choice":
                self._token_offset[i], rows = rows, rows + s.size
        self.token_embedding = nn.Embedding(rows, hidden)
        self.lstm = nn.ModuleList(nn.LSTMCell(hidden, hidden) for _ in range(self.config.layers))
        self.start = nn.Parameter(torch.empty(hidden))  # ENAS's learned empty first input
        self.no_input = nn.Parameter(torch.empty(hidden))  # next input after an anchor that picked no layer
        self._input_row: dict[int, int] = {}  # cell block -> its first row of input_nodes
        rows = 0
        for b, plan in enumerate(compiled.blocks):
            if plan.kind == "cell":
                self._input_row[b], rows = rows, rows + plan.node_offset
        self.input_nodes = nn.Parameter(torch.empty(rows, hidden))  # cell input nodes make no decisions
        for p in self.parameters():
            nn.init.uniform_(p, -self.config.init_range, self.config.init_range)
        self._programs: dict[int | None, _Program] = {}

    def sample(self, m: int, depth: int | None = None, generator: torch.Generator | None = None) -> ControllerSample:
        """Draw m architectures at `depth` (default: the deepest), vectorised over the batch."""
        program = self._program(depth)
        actions, exists, log_prob, entropy = self._run(program, m, generator, None)
        return ControllerSample(_assignments(program, actions, exists, m), log_prob, entropy)

    def score(self, assignments: list[Assignment], depth: int | None = None) -> tuple[Tensor, Tensor]:
        """Teacher-forced log-probs (m,) and entropies (m,) of given assignments at `depth`."""
        program = self._program(depth)
        forced = _forced_actions(program, assignments, self.start.device)
        _, _, log_prob, entropy = self._run(program, len(assignments), None, forced)
        return log_prob, entropy

    def _program(self, depth: int | None) -> _Program:
        compiled = self.compiled
        depth = depth if depth is not None else compiled.max_depth
        if compiled.depths and depth not in compiled.depths:
            allowed = ", ".join(map(str, compiled.depths))
            raise TokenError(f"depth {depth} is not one the space's schedule reaches ({allowed})", where=compiled.name)
        if depth not in self._programs:
            self._programs[depth] = self._compile(depth)
        return self._programs[depth]

    def _compile(self, depth: int | None) -> _Program:
        """The decisions at `depth` as steps, with a record of each node's state where it is taken."""
        compiled = self.compiled
        by_group: dict[tuple[int, int], list[Decision]] = defaultdict(list)
        for d in compiled.decisions(depth):
            by_group[(d.block, d.group)].append(d)
        slot_of = {(b, i): row + i for b, row in self._input_row.items() for i in range(compiled.blocks[b].node_offset)}
        ops: list[_Step | _Record] = []
        steps: list[_Step] = []
        by_path: dict[str, _Step] = {}
        for b, plan in enumerate(compiled.blocks):
            # A tree's sections (inject, cell_index) pick among the tree block's nodes.
            nodes_of = b if plan.candidates_all < 0 else next(
                i for i, p in enumerate(compiled.blocks) if p.ir_block == plan.ir_block and p.candidates_all < 0)
            for g in range(compiled.group_count(plan, depth)):
                group = by_group.get((b, g), [])
                kinds = [d.kind for d in group]
                record_after = kinds.index("anchor") if "anchor" in kinds else len(group) - 1
                slot = slot_of[(b, plan.node_offset + g)] = len(slot_of)
                if not group:  # a group with no decision takes the state it was reached with
                    ops.append(_Record(slot))
                earlier: list[_Step] = []
                for pos, d in enumerate(group):
                    head = self._head_index[d.head]
                    step = _Step(index=len(steps), decision=d, head=head, offset=self._token_offset.get(head, 0),
                                 condition=_condition(d, earlier, by_path),
                                 candidates=tuple(slot_of[(nodes_of, c)] for c in d.candidates))
                    steps.append(step)
                    by_path[d.path] = step
                    earlier.append(step)
                    ops.append(step)
                    if pos == record_after:
                        ops.append(_Record(slot))
        return _Program(ops=tuple(ops), steps=tuple(steps), slots=len(slot_of))

    def _run(self, program: _Program, m: int, generator: torch.Generator | None,
             forced: list[tuple[Tensor, Tensor]] | None) -> tuple[list[Tensor], list[Tensor | None], Tensor, Tensor]:
        """Step through `program` for m samples; draw actions, or take `forced` ones (action, valid)."""
        hidden = self.config.hidden
        zeros = self.start.new_zeros(m, hidden)
        state = [(zeros, zeros)] * self.config.layers  # (h, c) per LSTM layer, each (m, H)
        x = self.start.expand(m, hidden)
        slots: list[Tensor | None] = [row.expand(m, hidden) for row in self.input_nodes]
        slots += [None] * (program.slots - len(slots))
        keys: dict[tuple[int, int], Tensor] = {}  # (head, slot) -> W_prev h, computed once
        log_prob, entropy = self.start.new_zeros(m), self.start.new_zeros(m)
        actions: list[Tensor] = []
        exists_per_step: list[Tensor | None] = []
        for op in program.ops:
            if isinstance(op, _Record):
                slots[op.slot] = state[-1][0]
                continue
            exists = _exists(op, actions, exists_per_step)
            given = None
            if forced is not None:
                given, valid = forced[op.index]
                if bool(_masked(exists, ~valid, torch.zeros_like(valid)).any()):
                    raise TokenError("an assignment has no valid value for this decision", where=op.decision.path)
            new_state = self._lstm_step(x, state)
            action, lp, ent, next_x = self._decide(op, new_state[-1][0], slots, keys, generator, given)
            state = [(_masked(exists, nh, h), _masked(exists, nc, c)) for (nh, nc), (h, c) in zip(new_state, state)]
            x = _masked(exists, next_x, x)
            if exists is not None:  # where, not a product: keeps a -inf log-prob of an absent step out
                lp, ent = torch.where(exists, lp, 0.0), torch.where(exists, ent, 0.0)
            log_prob, entropy = log_prob + lp, entropy + ent
            actions.append(action)
            exists_per_step.append(exists)
        return actions, exists_per_step, log_prob, entropy

    def _lstm_step(self, x: Tensor, state: list[tuple[Tensor, Tensor]]) -> list[tuple[Tensor, Tensor]]:
        out = []
        for cell, hc in zip(self.lstm, state):
            h, c = cell(x, hc)  # (m, H) each
            out.append((h, c))
            x = h
        return out

    def _decide(self, step: _Step, query: Tensor, slots: list, keys: dict, generator: torch.Generator | None,
                given: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Logits -> action, log-prob (m,), entropy (m,) and the next input (m, H)."""
        head = self.heads[step.head]
        kind = step.decision.kind
        if kind == "choice":
            logits = head(query)  # (m, k)
        else:
            states = torch.stack([slots[s] for s in step.candidates], 1)  # (m, n, H)
            for s in step.candidates:
                if (step.head, s) not in keys:
                    keys[(step.head, s)] = head.key(slots[s])
            logits = head(torch.stack([keys[(step.head, s)] for s in step.candidates], 1), query)  # (m, n)
        tanh_constant = self.config.tanh_constant
        if kind == "choice" and tanh_constant is not None and self.config.op_tanh_reduce is not None:
            tanh_constant /= self.config.op_tanh_reduce
        logits = shape_logits(logits, self.config.temperature, tanh_constant)
        action, log_prob, entropy = head.decide(logits, generator, given)
        if kind == "choice":
            next_x = self.token_embedding(action + step.offset)
        elif kind == "index":
            next_x = states[torch.arange(len(action), device=action.device), action]
        else:  # anchor: the mean of the picked layers' states, or a learned vector when none is picked
            picked = action.to(states.dtype)  # (m, n)
            count = picked.sum(1, keepdim=True)
            mean = (picked.unsqueeze(-1) * states).sum(1) / count.clamp(min=1)
            next_x = torch.where(count > 0, mean, self.no_input)
        return action, log_prob, entropy, next_x


def _exists(step: _Step, actions: list[Tensor], exists_per_step: list[Tensor | None]) -> Tensor | None:
    """(m,) bool: where the value chosen earlier in the group meets `step`'s condition; None: always."""
    if step.condition is None:
        return None
    met = torch.zeros_like(actions[step.condition[0][0]], dtype=torch.bool)
    options: dict[int, list[int]] = {}  # per earlier step, the options that meet it (a stage's depths: several)
    for source, option in step.condition:
        options.setdefault(source, []).append(option)
    for source, meeting in options.items():  # a later step of the same name, where it exists, wins
        hit = torch.stack([actions[source] == option for option in meeting]).any(0)
        met = _masked(exists_per_step[source], hit, met)
    return met


def _assignments(program: _Program, actions: list[Tensor], exists_per_step: list[Tensor | None],
                 m: int) -> list[Assignment]:
    out: list[Assignment] = [{} for _ in range(m)]
    for step, action, exists in zip(program.steps, actions, exists_per_step):
        d = step.decision
        picked = action.tolist()
        if d.kind == "choice":
            values = [d.options[i].value for i in picked]
        elif d.kind == "index":
            values = [d.candidates[i] for i in picked]
        else:
            values = [tuple(c for c, bit in zip(d.candidates, bits) if bit) for bits in picked]
        for assignment, value, present in zip(out, values, [True] * m if exists is None else exists.tolist()):
            if present:
                assignment[d.path] = value
    return out


def _forced_actions(program: _Program, assignments: list[Assignment], device) -> list[tuple[Tensor, Tensor]]:
    """Per step: the given actions as tensors, and (m,) whether each sample's value fits the decision."""
    out = []
    for step in program.steps:
        d = step.decision
        given = [a.get(d.path) for a in assignments]
        if d.kind == "anchor":
            valid = [isinstance(v, tuple) and set(v) <= set(d.candidates) for v in given]
            action = torch.tensor([[ok and c in v for c in d.candidates] for v, ok in zip(given, valid)],
                                  dtype=torch.bool, device=device).view(len(given), len(d.candidates))
        else:
            values = [o.value for o in d.options] if d.kind == "choice" else list(d.candidates)
            index = {v: i for i, v in enumerate(values)}
            picked = [index.get(v, -1) if not isinstance(v, tuple) else -1 for v in given]
            valid = [i >= 0 for i in picked]
            action = torch.tensor([max(i, 0) for i in picked], dtype=torch.long, device=device)
        out.append((action, torch.tensor(valid, dtype=torch.bool, device=device)))
    return out


__all__ = ["Controller", "ControllerConfig", "ControllerSample"]
