"""The user's own data: image folders, text corpora, CSV tables, the registry and the image cache."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import SHARED_DATA
from nascli.data import (ImageData, TabularData, TextData, dataset_kind, known_datasets, load_dataset,
                         register_dataset)
from nascli.data.registry import DATASETS
from nascli.data import cache
from nascli.data.cache import FileList, cached_pixels
from nascli.data.splits import pixel_sums
from nascli.data.text import EOS, UNK
from nascli.errors import DataError
from nascli.ops import OPS, register_op
from nascli.registry import RegistryError


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("NASCLI_CACHE", str(cache))
    return cache


def shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data not present at {path}")
    return path


def write_images(folder: Path, classes: dict[str, int], size=(6, 6), mode="L", seed=0) -> None:
    """`n` random images per class under folder/CLASS/, pixel values fixed by `seed`."""
    rng = np.random.default_rng(seed)
    for name, n in classes.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / name / f"{i}.png")


def class_files(folder: Path) -> FileList:
    """The PNGs under `folder`'s class subfolders, sorted, as cache.FileList groups them."""
    classes = sorted(d for d in folder.iterdir() if d.is_dir())
    return FileList(folder, [(str(d), sorted(p.name for p in d.glob("*.png"))) for d in classes])


# --- image folders ----------------------------------------------------------------


def test_digits_folder_splits_and_shape() -> None:
    data = load_dataset("images", shared("digits-png"))
    assert isinstance(data, ImageData)
    assert (data.task.channels, data.task.height, data.task.width, data.task.classes) == (1, 8, 8, 10)
    sizes = len(data.train_y), len(data.valid_y), len(data.test_y)
    assert sum(sizes) == 1797 and sizes[2] == round(0.1 * 1797)
    assert data.class_names == tuple(str(d) for d in range(10))
    assert abs(data.train_x[:].mean().item()) < 1e-4 and abs(data.train_x[:].std().item() - 1) < 1e-2
    train = data.train_x.pixels.double() / 255  # the cached sums give the training split's exact statistics
    assert data.mean[0] == pytest.approx(train.mean().item(), abs=1e-6)
    assert data.std[0] == pytest.approx(train.std(correction=0).item(), abs=1e-6)
    assert "seed 0" in data.splits_note


def test_digits_cache_holds_the_png_pixels() -> None:
    folder = shared("digits-png")
    images = class_files(folder)
    files = images.files
    assert files == [str(p) for p in sorted(folder.rglob("*.png"), key=lambda p: (p.parent.name, p.name))]
    pixels = cached_pixels(images, None).pixels
    assert pixels.shape == (1797, 1, 8, 8)
    for i in (0, 1796):
        assert np.array_equal(pixels[i, 0], np.asarray(Image.open(files[i])))


def test_cifar_png_uses_its_train_and_test_folders() -> None:
    data = load_dataset("images", shared("cifar10-png"))
    assert isinstance(data, ImageData)
    assert (data.task.channels, data.task.height, data.task.classes) == (3, 32, 10)
    assert (len(data.train_y) + len(data.valid_y), len(data.test_y)) == (1600, 400)
    assert data.class_names[0] == "airplane" and "test" not in data.splits_note


def test_holdout_is_seeded_and_recorded(tmp_path: Path) -> None:
    write_images(tmp_path / "d", {"a": 10, "b": 10})
    one, again, other = (load_dataset("images", tmp_path / "d", seed=s) for s in (0, 0, 1))
    assert torch.equal(one.test_x.pixels, again.test_x.pixels) and torch.equal(one.valid_x.pixels, again.valid_x.pixels)
    assert not torch.equal(one.test_x.pixels, other.test_x.pixels)
    assert (len(one.train_y), len(one.valid_y), len(one.test_y)) == (16, 2, 2)


def test_grayscale_and_rgb_mix_becomes_rgb_and_sizes_are_resized(tmp_path: Path) -> None:
    write_images(tmp_path / "d", {"a": 3}, size=(5, 7), mode="L")
    write_images(tmp_path / "d", {"b": 3}, size=(9, 9), mode="RGB")
    data = load_dataset("images", tmp_path / "d", valid_fraction=0.2, test_fraction=0.2)
    assert (data.task.channels, data.task.height, data.task.width) == (3, 32, 32)  # sizes differ: the default 32
    sized = load_dataset("images", tmp_path / "d", image_size=12, valid_fraction=0.2, test_fraction=0.2)
    assert (sized.task.height, sized.task.width) == (12, 12)


def test_jpeg_is_read(tmp_path: Path) -> None:
    for cls in ("x", "y"):
        (tmp_path / "d" / cls).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (4, 4), (200 * (cls == "x"), 10 * i, 0)).save(tmp_path / "d" / cls / f"{i}.JPG")
    data = load_dataset("images", tmp_path / "d", valid_fraction=0.2, test_fraction=0.2)
    assert data.task.classes == 2 and data.task.channels == 3


def test_cache_is_reused_and_invalidated(tmp_path: Path, tmp_cache: Path) -> None:
    write_images(tmp_path / "d", {"a": 4, "b": 4})
    images = class_files(tmp_path / "d")
    first = cached_pixels(images, None)
    cached = sorted((tmp_cache / "images").glob("*.npy"))
    assert len(cached) == 2 and first.pixels.dtype == np.uint8 and first.pixels.shape == (8, 1, 6, 6)
    assert np.array_equal(first.sums, pixel_sums(first.pixels))
    again = cached_pixels(class_files(tmp_path / "d"), None)
    assert np.array_equal(again.pixels, first.pixels) and np.array_equal(again.sums, first.sums)
    assert sorted((tmp_cache / "images").glob("*.npy")) == cached  # nothing decoded again
    stat = os.stat(images.files[0])
    os.utime(images.files[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a touched file decodes again
    cached_pixels(images, None)
    cached_pixels(images, 4)  # so does another size
    assert len(list((tmp_cache / "images").glob("*.sums.npy"))) == 3


def test_cache_key_is_the_same_stat_by_folder_or_by_full_path(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write_images(tmp_path / "d", {"a": 3, "b": 2})
    images = class_files(tmp_path / "d")
    by_folder = images.cache_file(None)
    monkeypatch.setattr(cache, "_STAT_IN_FOLDER", False)  # as where os.stat takes no dir_fd (Windows)
    assert images.cache_file(None) == by_folder


def test_file_name_that_is_not_utf8_is_cached(tmp_path: Path, tmp_cache: Path) -> None:
    write_images(tmp_path / "d", {"a": 3, "b": 3})
    odd = os.fsencode(tmp_path / "d" / "b") + b"/\xff.png"  # Linux names are bytes; this one is not UTF-8
    try:
        with open(odd, "wb") as f:
            f.write((tmp_path / "d" / "b" / "0.png").read_bytes())
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    first = load_dataset("images", tmp_path / "d", valid_fraction=0.25, test_fraction=0.25)
    again = load_dataset("images", tmp_path / "d", valid_fraction=0.25, test_fraction=0.25)
    assert len(first.train_y) + len(first.valid_y) + len(first.test_y) == 7
    assert again.cache_file == first.cache_file and len(list((tmp_cache / "images").glob("*.sums.npy"))) == 1


def test_cached_reload_copies_splits_out_of_the_map(tmp_path: Path, tmp_cache: Path) -> None:
    """A reload maps the cache file read-only; the splits must be copies, not views of the map:
    torch warns on a read-only array, and training must not depend on the file staying unchanged."""
    write_images(tmp_path / "d", {"a": 6, "b": 6})
    first = load_dataset("images", tmp_path / "d", valid_fraction=0.25, test_fraction=0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = load_dataset("images", tmp_path / "d", valid_fraction=0.25, test_fraction=0.25)
    for cache_file in (tmp_cache / "images").glob("*.npy"):
        with open(cache_file, "r+b") as f:  # overwritten in place: a view of the (shared) map would see it
            f.write(bytes(cache_file.stat().st_size))
    for split in ("train", "valid", "test"):
        assert torch.equal(getattr(again, f"{split}_x").pixels, getattr(first, f"{split}_x").pixels)
        assert torch.equal(getattr(again, f"{split}_y"), getattr(first, f"{split}_y"))
    assert again.mean == first.mean and again.std == first.std


@pytest.mark.parametrize("layout, match", [
    ({"a": 2, "empty": 0}, "class folder has no images"),
    ({}, "no class folders"),
])
def test_image_folder_errors(tmp_path: Path, layout: dict, match: str) -> None:
    (tmp_path / "d").mkdir()
    write_images(tmp_path / "d", layout)
    with pytest.raises(DataError, match=match):
        load_dataset("images", tmp_path / "d")


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    write_images(tmp_path / "d", {"a": 3, "b": 3})
    (tmp_path / "d" / "b" / "bad.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match="unreadable image") as info:
        load_dataset("images", tmp_path / "d")
    assert "bad.png" in str(info.value)


def test_broken_link_named_like_an_image_is_named(tmp_path: Path) -> None:
    write_images(tmp_path / "d", {"a": 3, "b": 3})
    (tmp_path / "d" / "b" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(DataError, match="unreadable image: No such file") as info:
        load_dataset("images", tmp_path / "d")
    assert info.value.where == str(tmp_path / "d" / "b" / "gone.png")


def test_class_folder_that_cannot_be_listed_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_images(tmp_path / "d", {"a": 3, "b": 3})
    listdir = os.listdir

    def refuse_b(path):  # as for a folder this user may not read (the tests may run as root, who can)
        if str(path).endswith(os.sep + "b"):
            raise PermissionError(13, "Permission denied", str(path))
        return listdir(path)

    monkeypatch.setattr(os, "listdir", refuse_b)
    with pytest.raises(DataError, match="cannot list the folder: Permission denied") as info:
        load_dataset("images", tmp_path / "d")
    assert info.value.where == str(tmp_path / "d" / "b")


def test_folder_named_like_an_image_is_named(tmp_path: Path) -> None:
    # the listing goes by name (fast reloads); the first decode must then refuse what is not a file
    write_images(tmp_path / "d", {"a": 3, "b": 3})
    (tmp_path / "d" / "b" / "album.png").mkdir()
    with pytest.raises(DataError, match="not an image file") as info:
        load_dataset("images", tmp_path / "d")
    assert info.value.where.endswith("album.png")


def test_val_class_missing_from_train(tmp_path: Path) -> None:
    write_images(tmp_path / "d" / "train", {"a": 3, "b": 3})
    write_images(tmp_path / "d" / "val", {"a": 1, "c": 1})
    with pytest.raises(DataError, match="class 'c' of valid is not in train") as info:
        load_dataset("images", tmp_path / "d")
    assert info.value.where == str(tmp_path / "d" / "val")  # the folder that is there, not the split's name


# --- text ------------------------------------------------------------------------


def test_text_folder_under_ptb_names() -> None:
    data = load_dataset("text", shared("ptb-mini"))
    assert isinstance(data, TextData) and data.vocab[data.train[-1]] == EOS
    assert data.source.endswith("ptb-mini") and data.splits_note == ""


def test_single_file_is_cut_by_fractions_and_char_level(tmp_path: Path) -> None:
    (tmp_path / "corpus.md").write_text("".join(f"line {i} of the corpus\n" for i in range(100)))
    words = load_dataset("text", tmp_path / "corpus.md")
    n = len(words.train) + len(words.valid) + len(words.test)
    assert n == 100 * 6 and len(words.test) == 60 and len(words.valid) == 54  # 5 words and <eos> a line
    chars = load_dataset("text", tmp_path / "corpus.md", tokens="char")
    assert chars.tokens == "char" and " " in chars.vocab and "l" in chars.vocab
    assert chars.task.vocab_size < 30


def test_vocabulary_cap_maps_the_rest_to_unk(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("a a a b b c d\n" * 20)
    (tmp_path / "val.txt").write_text("a b c d e\n")
    (tmp_path / "test.txt").write_text("a\n")
    data = load_dataset("text", tmp_path, vocab_size=3)
    assert data.vocab == ["a", "b", UNK]
    assert [data.vocab[i] for i in data.valid] == ["a", "b", UNK, UNK, UNK, UNK]


def test_binary_file_is_not_text(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    with pytest.raises(DataError, match="not a text file"):
        load_dataset("text", tmp_path / "x.bin")


# --- tables ----------------------------------------------------------------------


def test_breast_cancer_table() -> None:
    data = load_dataset("csv", shared("tabular/breast_cancer.csv"), target="target")
    assert isinstance(data, TabularData)
    assert (data.task.features, data.task.classes) == (30, 2)
    assert len(data.train_y) + len(data.valid_y) + len(data.test_y) == 569
    assert torch.allclose(data.train_x.mean(0), torch.zeros(30), atol=1e-4)  # standardised with train statistics
    assert not torch.allclose(data.test_x.mean(0), torch.zeros(30), atol=1e-4)


def test_wine_table_three_classes() -> None:
    data = load_dataset("csv", shared("tabular/wine.csv"), target="target")
    assert data.task.classes == 3 and data.class_names == ("0", "1", "2") and data.task.features == 13


def test_categorical_and_missing_values(tmp_path: Path) -> None:
    rows = ["size,colour,label"] + [f"{i if i % 7 else ''},{'red' if i % 2 else 'NA'},{'yes' if i % 3 else 'no'}"
                                    for i in range(60)] + ["5,blue,"]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    data = load_dataset("csv", tmp_path / "t.csv", target="label")
    assert data.feature_names[0] == "size" and "colour=red" in data.feature_names
    assert len(data.train_y) + len(data.valid_y) + len(data.test_y) == 60  # the row without a target is dropped
    assert data.class_names == ("no", "yes") and torch.isfinite(data.train_x).all()


def test_missing_target_column(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"no column named 'label' in the header \(line 1, 2 columns\)"):
        load_dataset("csv", tmp_path / "t.csv", target="label")


# --- registry --------------------------------------------------------------------


@pytest.fixture
def forget_test_kinds():
    """Registrations a test makes are gone after it."""
    yield
    for name in ("test-constant", "test-twice"):
        DATASETS.remove(name)
        OPS.remove(name)


def test_a_plugin_registers_a_dataset(tmp_path: Path, forget_test_kinds) -> None:
    @register_dataset("test-constant", task="image", options=("image_size",), help="constant images")
    def load_constant(folder, spec):
        return load_dataset("images", folder, image_size=spec.image_size, seed=spec.seed)

    write_images(tmp_path / "d", {"a": 5, "b": 5})
    data = load_dataset("test-constant", tmp_path / "d", image_size=4)
    assert dataset_kind("test-constant").task == "image" and data.task.height == 4
    assert known_datasets()[-1] == "test-constant"  # listed in registration order, as ops are
    with pytest.raises(DataError, match="--target does not apply"):
        load_dataset("test-constant", tmp_path / "d", target="x")


def test_datasets_and_ops_share_one_registry_mechanism(forget_test_kinds) -> None:
    """An unknown name and a second registration fail the same way for a dataset as for an op."""
    with pytest.raises(RegistryError, match=r"^unknown dataset 'mnist'; known: cifar10, ") as dataset_err:
        load_dataset("mnist")
    with pytest.raises(RegistryError, match=r"^unknown op 'mnist'; known: ") as op_err:
        OPS.get("mnist")
    assert type(dataset_err.value) is type(op_err.value)

    def loader(folder, spec):
        raise AssertionError("never loaded")

    register_dataset("test-twice", task="image", help="registered twice")(loader)
    register_op("test-twice")(lambda c_in, c_out, stride, params: None)
    with pytest.raises(RegistryError, match="^dataset 'test-twice' is registered twice$"):
        register_dataset("test-twice", task="image", help="again")(loader)
    with pytest.raises(RegistryError, match="^op 'test-twice' is registered twice$"):
        register_op("test-twice")(lambda c_in, c_out, stride, params: None)
    with pytest.raises(RegistryError, match="unknown options"):
        register_dataset("test-bad", task="image", options=("colour",), help="bad option")


def test_options_that_do_not_apply_and_missing_dir() -> None:
    with pytest.raises(DataError, match="--image-size does not apply to --dataset ptb"):
        load_dataset("ptb", image_size=8)
    with pytest.raises(DataError, match="--dataset images needs --data-dir"):
        load_dataset("images")
