"""Is the data enough to train and score a child? Checked before a search or a retraining starts,
so that too little data is one clear error instead of every child failing (or scoring 0)."""

from __future__ import annotations

from ..data import ImageData, TextData
from ..errors import DataError
from .config import TrainConfig
from .loops import EVAL_BATCH


def check_data(data: ImageData | TextData, cfg: TrainConfig, test: bool = False) -> None:
    """Raise DataError when `data` cannot train a child with `cfg` and measure it on the
    validation split (and, with `test`, the test split)."""
    if isinstance(data, ImageData):
        sizes = {"training": len(data.train_y), "validation": len(data.valid_y)}
        if test:
            sizes["test"] = len(data.test_y)
        for split, n in sizes.items():
            if n == 0:
                raise DataError(f"the {split} split holds no images ({len(data.train_y) + len(data.valid_y)} "
                                "training images in all, 10% held out for validation)", where=data.source)
        return
    used = min(len(data.train), cfg.train_subset or len(data.train))
    needs = {"training": (used, 2 * cfg.batch_size), "validation": (len(data.valid), 2 * EVAL_BATCH)}
    if test:
        needs["test"] = (len(data.test), 2 * EVAL_BATCH)
    for split, (have, need) in needs.items():
        if have < need:  # batchify cuts the split into streams of at least two tokens
            raise DataError(f"the {split} split has {have} tokens; at least {need} are needed", where=data.source)
