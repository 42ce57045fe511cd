"""The decoded-image cache: an image folder is decoded once into a uint8 .npy file.

The file lives in `$NASCLI_CACHE/images/` (default `~/.cache/nascli/images/`)
and is named by a hash of every image's path, size and modification time and
of the requested image size, so that changing, adding or removing a file, or
asking for another size, decodes again. Later loads memory-map it: no image is
opened, only the folder is listed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nascli.errors import DataError

FORMAT = 1  # bump when the cached layout changes, so old files are not read
DEFAULT_SIZE = 32  # side images are resized to when their sizes differ and --image-size is not given
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})


def cache_root() -> Path:
    return Path(os.environ.get("NASCLI_CACHE") or Path.home() / ".cache" / "nascli").expanduser()


@dataclass(frozen=True)
class FileList:
    """The image files of a dataset (paths under `root`, as strings) in load order.

    Plain strings and os.stat, not pathlib: a cached reload does little else than
    stat every file, and pathlib's per-path overhead would dominate it."""

    root: Path
    files: list[str]

    def cache_file(self, image_size: int | None) -> Path:
        """The cache file for these files' current stats at `image_size`."""
        digest = hashlib.sha256(f"format {FORMAT}; size {image_size}\n".encode())
        skip = len(str(self.root)) + 1  # hash paths relative to the root, so a moved folder stays cached
        for path in self.files:
            stat = os.stat(path)
            digest.update(f"{path[skip:]}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return cache_root() / "images" / f"{digest.hexdigest()[:32]}.npy"


def _open(path: str):
    from PIL import Image, UnidentifiedImageError  # Pillow loads only for image folders

    try:
        return Image.open(path)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"unreadable image: {type(e).__name__}: {e}".splitlines()[0], where=str(path)) from e


def _shape(files: list[str], image_size: int | None) -> tuple[int, int, int]:
    """(channels, height, width): grayscale only if every image is; the common size, or the default."""
    modes, sizes = set(), set()
    for path in files:
        with _open(path) as img:  # reads the header only
            modes.add(img.mode)
            sizes.add(img.size)
    channels = 1 if modes <= GRAY_MODES else 3
    if image_size is not None:
        return channels, image_size, image_size
    if len(sizes) == 1:
        width, height = sizes.pop()
        return channels, height, width
    return channels, DEFAULT_SIZE, DEFAULT_SIZE


def _decode(files: list[str], shape: tuple[int, int, int], out: np.ndarray) -> None:
    channels, height, width = shape
    mode = "L" if channels == 1 else "RGB"
    for i, path in enumerate(files):
        with _open(path) as img:
            try:
                img = img.convert(mode)
                if img.size != (width, height):
                    img = img.resize((width, height), resample=2)  # 2: bilinear; the aspect ratio is not kept
                pixels = np.asarray(img, dtype=np.uint8)
            except OSError as e:  # a truncated or damaged file fails only when its pixels are read
                raise DataError(f"unreadable image: {e}", where=str(path)) from e
        out[i] = pixels.reshape(height, width, channels).transpose(2, 0, 1)


def cached_pixels(images: FileList, image_size: int | None, path: Path | None = None) -> np.ndarray:
    """uint8 (N, C, H, W) pixels of `images`: memory-mapped from the cache file `path` (default:
    `images.cache_file(image_size)`), decoded into it first if absent."""
    path = path or images.cache_file(image_size)
    if path.is_file():
        return np.load(path, mmap_mode="r")
    shape = _shape(images.files, image_size)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(len(images.files), *shape))
        except OSError as e:
            raise DataError(f"cannot write the image cache ({e.strerror}); set NASCLI_CACHE to a writable folder",
                            where=str(path.parent)) from e
        _decode(images.files, shape, out)
        out.flush()
        del out
        os.replace(partial, path)  # atomic: a reader never sees half a cache file
    finally:
        partial.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r")
