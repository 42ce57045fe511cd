"""Image folders: the `images` dataset kind.

Layouts: `DIR/CLASS/*.png|jpg|jpeg` (one folder per class), or
`DIR/train/CLASS/...` with optional `val/` (or `valid/`) and `test/` beside
it. Missing splits are held out of train at random with the run's seed: test
first (`test_fraction`), then validation (`valid_fraction` of the rest).
Pixels are decoded once into the cache (cache.py); later loads read it back.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from nascli.data.base import ImageData
from nascli.data.cache import FileList, cached_pixels
from nascli.data.registry import register_dataset
from nascli.data.splits import check_fraction, holdout, normalised_images
from nascli.errors import DataError

SUFFIXES = (".png", ".jpg", ".jpeg")
SPLIT_DIRS = {"train": ("train",), "valid": ("val", "valid", "validation"), "test": ("test",)}


ClassFiles = dict[str, tuple[str, list[str]]]  # class name -> (its folder's path, its image file names, sorted)


def _class_files(folder: Path) -> ClassFiles:
    """The image files of each class subfolder of `folder`.

    A cached reload does little more than list these folders and stat each file (cache.py), so the
    listing is by name only: a folder named like an image is refused when it would be decoded."""
    try:
        with os.scandir(folder) as entries:
            classes = sorted(e.path for e in entries if e.is_dir() and not e.name.startswith("."))
        listed = [(cls, os.listdir(cls)) for cls in classes]
    except OSError as e:  # e.g. a folder this user may not read
        raise DataError(f"cannot list the folder: {e.strerror}", where=str(e.filename or folder)) from e
    if not classes:
        raise DataError("no class folders (expected one subfolder of images per class)", where=str(folder))
    found = {}
    for cls, listing in listed:
        names = [name for name in sorted(listing) if name.lower().endswith(SUFFIXES)]
        if not names:
            raise DataError(f"class folder has no images ({', '.join(SUFFIXES)})", where=cls)
        found[os.path.basename(cls)] = (cls, names)
    return found


def find_splits(root: Path) -> dict[str, ClassFiles]:
    """The split folders present under `root` (train always), each with its classes' files."""
    if not root.is_dir():
        raise DataError("image folder not found (expected one subfolder per class, or train/ and test/)",
                        where=str(root))
    named = {split: next((root / d for d in dirs if (root / d).is_dir()), None) for split, dirs in SPLIT_DIRS.items()}
    if named["train"] is None:
        if named["test"] is not None or named["valid"] is not None:
            raise DataError("there is a val/ or test/ folder but no train/ folder", where=str(root))
        return {"train": _class_files(root)}
    splits = {split: _class_files(folder) for split, folder in named.items() if folder is not None}
    for split, classes in splits.items():
        unknown = sorted(set(classes) - set(splits["train"]))
        if unknown:
            # where: the folder as it is named (val/, valid/ or validation/), not the split
            raise DataError(f"class {unknown[0]!r} of {split} is not in train", where=str(named[split]))
    return splits


def _labelled(root: Path, splits: dict[str, ClassFiles]) -> tuple[FileList, np.ndarray, np.ndarray, tuple[str, ...]]:
    """The files in load order, each file's class id and split name (numpy arrays), and the class names
    (from train)."""
    class_names = tuple(splits["train"])
    index = {name: i for i, name in enumerate(class_names)}
    folders, labels, split_of, counts = [], [], [], []
    for split, classes in splits.items():
        for name, (folder, names) in classes.items():
            folders.append((folder, names))
            labels.append(index[name])
            split_of.append(split)
            counts.append(len(names))
    return (FileList(root, folders), np.repeat(labels, counts).astype(np.int64), np.repeat(split_of, counts),
            class_names)


def load_images(root: Path, spec) -> ImageData:
    """An image-folder dataset, decoded through the cache and normalised with train statistics."""
    check_fraction("valid_fraction", spec.valid_fraction)
    check_fraction("test_fraction", spec.test_fraction)
    splits = find_splits(root)
    images, labels, split_of, class_names = _labelled(root, splits)
    cache_file = images.cache_file(spec.image_size)
    pixels, sums = cached_pixels(images, spec.image_size, cache_file)
    parts = {s: np.flatnonzero(split_of == s) for s in ("train", "valid", "test")}
    notes = []
    for split, fraction, seed in (("test", spec.test_fraction, spec.seed), ("valid", spec.valid_fraction, spec.seed + 1)):
        if split not in splits:
            kept, held = holdout(len(parts["train"]), fraction, seed, str(root))
            parts["train"], parts[split] = parts["train"][kept.numpy()], parts["train"][held.numpy()]
            notes.append(f"{split}: {len(held)} training images held out at random (seed {seed})")

    def split(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(pixels[parts[name]]), torch.from_numpy(labels[parts[name]])

    return normalised_images(split("train"), split("valid"), split("test"), len(class_names), str(root),
                             class_names, "; ".join(notes), str(cache_file), sums[parts["train"]])


@register_dataset("images", task="image",
                  options=("valid_fraction", "test_fraction", "image_size"),
                  help="a folder of PNG/JPEG images, one subfolder per class (optionally under train/ val/ test/)")
def _load_registered(folder: Path | None, spec) -> ImageData:
    return load_images(folder, spec)
