"""The decoded-image cache: an image folder is decoded once into two .npy files.

`KEY.npy` holds the uint8 (N, C, H, W) pixels and `KEY.sums.npy` each image's
per-channel pixel sums (`splits.pixel_sums`), from which any split's
normalisation statistics follow without touching a pixel. The file lives in `$NASCLI_CACHE/images/` (default
`~/.cache/nascli/images/`) and is named by a hash of every image's path, size
and modification time and of the requested image size, so that changing,
adding or removing a file, or asking for another size, decodes again. Later
loads map it back: no image is opened, only the folder is listed and its files stat'ed.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nascli.data.splits import pixel_sums
from nascli.errors import DataError
from nascli.memory import too_large

FORMAT = 2  # bump when the cached layout changes, so old files are not read (2: adds the sums file)
DEFAULT_SIZE = 32  # side images are resized to when their sizes differ and --image-size is not given
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})


def cache_root() -> Path:
    return Path(os.environ.get("NASCLI_CACHE") or Path.home() / ".cache" / "nascli").expanduser()


# Stat each file by name relative to its open folder: the kernel then walks one path component, not
# the whole path, and no full path is built (~0.5 ms of a 1,797-file reload). Full paths where dir_fd is missing.
_STAT_IN_FOLDER = os.stat in os.supports_dir_fd


@dataclass(frozen=True)
class FileList:
    """The image files of a dataset in load order, grouped by folder: (folder path, file names in it).

    Plain strings and os.stat, not pathlib: a cached reload does little else than
    stat every file, and pathlib's per-path overhead would dominate it."""

    root: Path
    folders: list[tuple[str, list[str]]]

    @property
    def files(self) -> list[str]:
        """Every file's path, in load order."""
        return [os.path.join(folder, name) for folder, names in self.folders for name in names]

    def cache_file(self, image_size: int | None) -> Path:
        """The cache file for these files' current stats at `image_size`."""
        digest = hashlib.sha256(f"format {FORMAT}; size {image_size}\n".encode())
        skip = len(str(self.root)) + 1  # hash paths relative to the root, so a moved folder stays cached
        # Every (size, mtime) pair in one flat array, hashed at once: per-file hashing would cost more than the
        # stats. No file-type check here: what was decoded was a regular file (_shape), and a folder
        # or FIFO put in its place would have to match its size and mtime to the nanosecond.
        stats = array("q")
        for folder, names in self.folders:
            listing = "\0".join([folder[skip:], str(len(names)), *names])
            digest.update(os.fsencode(listing) + b"\0")  # fsencode: a name need not be valid UTF-8
            in_folder = os.open(folder, os.O_RDONLY) if _STAT_IN_FOLDER else None
            prefix = "" if _STAT_IN_FOLDER else folder + os.sep
            try:
                for name in names:
                    stat = os.stat(prefix + name, dir_fd=in_folder)
                    stats.append(stat.st_size)
                    stats.append(stat.st_mtime_ns)
            except OSError as e:  # a broken link, or a file removed since the listing
                raise DataError(f"unreadable image: {e.strerror}", where=os.path.join(folder, name)) from e
            finally:
                if in_folder is not None:
                    os.close(in_folder)
        digest.update(stats.tobytes())
        return cache_root() / "images" / f"{digest.hexdigest()[:32]}.npy"


def _open(path: str):
    """The image at `path`, its header read. One that claims more pixels than Pillow's MAX_IMAGE_PIXELS
    (89,478,485, about 9,459 × 9,459) is refused: decoding it could take gigabytes (a decompression bomb:
    a small PNG can claim 100,000 × 100,000), and Pillow only warns up to twice that limit."""
    from PIL import Image, UnidentifiedImageError  # Pillow loads only for image folders

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"the image claims more than {Image.MAX_IMAGE_PIXELS:,} pixels, the most nascli decodes "
                        "(a decompression bomb?)", where=str(path)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:  # as _decode's
        raise DataError(f"unreadable image: {type(e).__name__}: {e}".splitlines()[0], where=str(path)) from e


def _shape(files: list[str], image_size: int | None) -> tuple[int, int, int]:
    """(channels, height, width): grayscale only if every image is; the common size, or the default."""
    modes, sizes = set(), set()
    for path in files:
        if not os.path.isfile(path):  # Pillow would fail on a folder named like an image, and block on a FIFO
            raise DataError("not an image file (a folder or a special file named like one)", where=path)
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


def _check_memory(count: int, shape: tuple[int, int, int], image_size: int | None, root: Path) -> None:
    """A DataError, before anything is decoded, when the pixels cannot fit in memory: the decoded array,
    and the uint8 splits copied out of it (batches are made float one at a time)."""
    problem = too_large(2 * count * math.prod(shape), f"{count:,} images of {'×'.join(map(str, shape))} pixels")
    if problem:
        hint = "; choose a smaller --image-size" if image_size is not None else ""
        raise DataError(problem + hint, where=str(root))


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
            except Exception as e:  # noqa: BLE001 - a truncated or damaged file fails only when its pixels are
                # read, and Pillow's plugins raise OSError, SyntaxError ("broken PNG file"), ValueError or EOFError
                raise DataError(f"unreadable image: {type(e).__name__}: {e}".splitlines()[0], where=str(path)) from e
        out[i] = pixels.reshape(height, width, channels).transpose(2, 0, 1)


class Decoded(NamedTuple):
    """What the cache holds for a file list."""

    pixels: np.ndarray  # uint8 (N, C, H, W), read-only
    sums: np.ndarray  # int64 (N, C, 2): splits.pixel_sums(pixels)


def _sums_file(path: Path) -> Path:
    return path.with_suffix(".sums.npy")


def _save(array: np.ndarray, path: Path) -> None:
    """Write `array` to `path` atomically: a reader never sees half a file."""
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")
    try:
        np.save(partial, array)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def cached_pixels(images: FileList, image_size: int | None, path: Path | None = None) -> Decoded:
    """The decoded pixels of `images` and their sums: read from the cache file `path` (default:
    `images.cache_file(image_size)`) and its sums file, decoded into them first if absent."""
    path = path or images.cache_file(image_size)
    if not (path.is_file() and _sums_file(path).is_file()):
        files = images.files
        shape = _shape(files, image_size)
        _check_memory(len(files), shape, image_size, images.root)
        pixels = np.empty((len(files), *shape), dtype=np.uint8)
        _decode(files, shape, pixels)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _save(pixel_sums(pixels), _sums_file(path))  # first: the pixels file is what marks a complete entry
            _save(pixels, path)
        except OSError as e:
            raise DataError(f"cannot write the image cache ({e.strerror}); set NASCLI_CACHE to a writable folder",
                            where=str(path.parent)) from e
    # Pixels are mapped read-only, not read: the loader copies out each split (cheaper than reading
    # the whole file and then copying), and the map closes once those copies are taken.
    return Decoded(np.load(path, mmap_mode="r"), np.load(_sums_file(path)))
