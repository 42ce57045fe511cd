"""Retrain a found architecture from scratch and measure it once on the test split.

As the paper does before its single test measurement, the child trains on the
whole training split (train + validation) and the test set is touched once, at
the end. Weights, arch.json and result.json are written to `out_dir`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from pydantic import BaseModel

from ..arch import Architecture, save_architecture
from ..children import ChildConfig, build_child, check_child_memory, profile_child
from ..data import Data, LabelledSplits, NormalisedImages
from ..train import TrainConfig, accuracy, fit_image, fit_language, perplexity
from ..train.loops import EVAL_BATCH


class RetrainResult(BaseModel):
    tokens: str
    dataset: str
    metric_name: str  # test_accuracy or test_perplexity
    metric: float
    params: int
    macs: int
    epochs: int
    train_examples: int
    device: str = "cpu"
    seed: int | None = None  # weights and data order (None: result.json files written before it was kept)
    amp: bool | None = None
    seconds: float
    out_dir: str


def retrain(arch: Architecture, data: Data, dataset: str, train: TrainConfig,
            child: ChildConfig, out_dir: str | Path, device: str = "cpu") -> RetrainResult:
    start = time.perf_counter()
    cfg = train.with_hyper(arch.hyper)
    check_child_memory(arch, data.task, child, cfg.step_examples(not isinstance(data, LabelledSplits)), device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(train.seed)
    model = build_child(arch, data.task, child)
    profile = profile_child(model, data.task)
    if isinstance(data, LabelledSplits):  # images or table rows: classification
        inputs = (data.train_x, data.valid_x)  # uint8 images normalised per batch, or float tensors
        x = inputs[0].cat(inputs[1]) if isinstance(inputs[0], NormalisedImages) else torch.cat(inputs)
        y = torch.cat([data.train_y, data.valid_y])
        fit_image(model, (x, y), None, cfg, device)
        metric, name, n = accuracy(model, data.test_x, data.test_y, amp=cfg.amp), "test_accuracy", len(x)
    else:
        ids = torch.cat([data.train, data.valid])
        fit_language(model, ids, None, cfg, device)
        metric, name, n = perplexity(model, data.test, EVAL_BATCH, cfg.bptt, cfg.amp), "test_perplexity", len(ids)
    torch.save(model.cpu().state_dict(), out / "model.pt")
    save_architecture(arch, out / "arch.json")
    result = RetrainResult(tokens=arch.tokens, dataset=dataset, metric_name=name, metric=metric,
                           params=profile.params, macs=profile.macs, epochs=cfg.epochs, train_examples=n, device=device,
                           seed=cfg.seed, amp=cfg.amp, seconds=time.perf_counter() - start, out_dir=str(out))
    (out / "result.json").write_text(json.dumps(result.model_dump(), indent=2) + "\n")
    return result
