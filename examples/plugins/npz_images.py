"""An example dataset plugin: images in one NumPy .npz file (`--dataset npz --data-dir FILE.npz`).

The file holds `x`, uint8 images (N, H, W) or (N, H, W, C), and `y`, integer
class ids (N,). Test and validation images are held out at random with the
run's seed, as the built-in `images` kind does. Load it with
`nascli --plugin examples/plugins/npz_images.py ...` (or NASCLI_PLUGINS).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from nascli.data.base import ImageData
from nascli.data.registry import register_dataset
from nascli.data.splits import holdout, normalised_images
from nascli.errors import DataError


@register_dataset("npz", task="image", options=("valid_fraction", "test_fraction"),
                  help="images in one .npz file: uint8 x (N, H, W[, C]) and integer y (N,)")
def load_npz(file: Path | None, spec) -> ImageData:
    try:
        with np.load(file, allow_pickle=False) as arrays:  # no pickle: a data file must not run code
            x, y = arrays["x"], arrays["y"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise DataError(f"not an .npz file with arrays x and y: {err}", where=str(file)) from err
    if x.dtype != np.uint8 or x.ndim not in (3, 4) or y.shape != (len(x),):
        raise DataError(f"expected uint8 x (N, H, W[, C]) and y (N,), got x {x.dtype} {x.shape}, y {y.shape}",
                        where=str(file))
    images = torch.from_numpy(x if x.ndim == 4 else x[..., None]).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(y.astype(np.int64))
    rest, test = holdout(len(labels), spec.test_fraction, spec.seed, str(file))
    train, valid = holdout(len(rest), spec.valid_fraction, spec.seed + 1, str(file))
    train, valid = rest[train], rest[valid]
    return normalised_images((images[train], labels[train]), (images[valid], labels[valid]),
                             (images[test], labels[test]), int(labels.max()) + 1, str(file))
