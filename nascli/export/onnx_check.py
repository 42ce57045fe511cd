"""An exported ONNX model checked by onnxruntime against nascli's own child, on real data.

Two batches from the dataset: a full one (8 examples; a language model: 4
streams of 35 tokens, starting from the state the child reached over the 35
tokens before them, so the state inputs carry real values) and a single
example (one token), which also checks the dynamic axes. The largest absolute
difference over every output (logits and states) must be at most TOLERANCE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..data.base import Data, ImageData, LabelledSplits, LanguageTask, Task
from ..errors import DataError, NasError
from .latency import Latency, LatencyConfig, call_child, measure, timing_inputs
from .onnx_export import Signature

TOLERANCE = 1e-4
EXAMPLES = 8  # images or table rows per check batch
STREAMS = 4  # a language model's batch


class ParityError(NasError):
    """onnxruntime's outputs differ from the child's by more than TOLERANCE."""


@dataclass(frozen=True)
class CheckBatches:
    batches: tuple[tuple[Tensor, ...], ...]  # each: the graph's inputs, in order; the first traces the export
    what: str  # "8 images of the cifar10 test split, and the first of them"


@dataclass(frozen=True)
class Parity:
    max_diff: float
    what: str
    inputs: tuple[str, ...]  # the graph's input names
    runtime: str  # "onnxruntime 1.22.0"
    latency: Latency


def _labelled(data: LabelledSplits) -> tuple[Tensor, str]:
    x, split = (data.test_x, "test") if len(data.test_x) >= 2 else (data.train_x, "training")
    return x[:EXAMPLES], split


def _state(state) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def _streams(data, reference: nn.Module, bptt: int) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], str]:
    ids, split = (data.test, "test") if len(data.test) >= 4 * STREAMS else (data.train, "training")
    columns = len(ids) // STREAMS
    steps = min(bptt, columns // 2)
    if steps < 2:
        raise DataError(f"too few tokens to check the ONNX model ({len(ids)} in the {split} split)")
    streams = ids[: columns * STREAMS].view(STREAMS, columns).t()  # (N, B), as the trainer batches a corpus
    with torch.no_grad():
        _, state = reference(streams[:steps], reference.init_state(STREAMS))
    state = tuple(s.contiguous() for s in _state(state))  # a tree cell's c_t is a view of a wider tensor
    tokens = streams[steps: 2 * steps]
    full = (tokens, *state)
    one = (tokens[:1, :1], *(s[:1] for s in state))
    return full, one, (f"{STREAMS} streams of {steps} tokens of the {split} split (from the state the child reached "
                       f"over the {steps} tokens before them), and one token of one stream")


def check_batches(data: Data, reference: nn.Module, bptt: int = 35) -> CheckBatches:
    """Real inputs to compare the ONNX model and `reference` (the built child, eval mode) on."""
    if isinstance(data.task, LanguageTask):
        full, one, what = _streams(data, reference, bptt)
        return CheckBatches((full, one), what)
    x, split = _labelled(data)
    kind = "images" if isinstance(data, ImageData) else "table rows"
    return CheckBatches(((x,), (x[:1],)), f"{len(x)} {kind} of the {split} split, and the first of them alone")


def _flat(outputs) -> list[Tensor]:
    if isinstance(outputs, Tensor):
        return [outputs]
    logits, state = outputs
    return [logits, *_state(state)]


def _difference(got: list, expected: list[Tensor]) -> float:
    worst = 0.0
    for g, e in zip(got, expected, strict=True):
        g = torch.from_numpy(g)
        if g.shape != e.shape:
            return float("inf")
        diff = float((g - e).abs().max()) if g.numel() else 0.0
        worst = max(worst, diff if diff == diff else float("inf"))  # NaN: no parity
    return worst


def check_parity(path: Path, sig: Signature, reference: nn.Module, task: Task, checks: CheckBatches,
                 latency: LatencyConfig = LatencyConfig()) -> Parity:
    """The largest |onnxruntime - reference| over `checks`, and onnxruntime's latency; ParityError past TOLERANCE."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are not nascli's output
    threads = torch.get_num_threads()
    options.intra_op_num_threads = threads  # as many as PyTorch's pass, so the two latencies compare
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(inputs: tuple[Tensor, ...]) -> list:
        return session.run(list(sig.outputs), {name: t.numpy() for name, t in zip(sig.inputs, inputs)})

    worst = 0.0
    with torch.no_grad():
        for inputs in checks.batches:
            worst = max(worst, _difference(run(inputs), _flat(call_child(reference, inputs))))
    runtime = f"onnxruntime {ort.__version__}"
    if not worst <= TOLERANCE:
        raise ParityError(f"onnxruntime's outputs differ from the child's by up to {worst:.3g} (more than "
                          f"{TOLERANCE:g}) on {checks.what}; the model was not kept", where=str(path))
    timed = timing_inputs(reference, task, latency)
    return Parity(worst, checks.what, sig.inputs, runtime, measure(runtime, lambda: run(timed), task, latency, threads))
