"""Tests of the dataset layer against the real data and the embedded sample."""

from __future__ import annotations

import os
import pickle
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from nascli.data import (
    ImageData,
    ImageTask,
    LanguageTask,
    TextData,
    augment,
    batchify,
    bptt_batches,
    download_cifar10,
    known_datasets,
    load_dataset,
)
from nascli.data.ptb import EOS, UNK
from nascli.errors import DataError
from nascli.registry import RegistryError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EMBEDDED = Path(__file__).resolve().parents[1] / "nascli" / "data" / "embedded"
CIFAR_REAL = SHARED / "cifar10-mini"
PTB_REAL = SHARED / "ptb-mini"


def _need(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"real data not present at {path}")
    return path


def _raw(path: Path) -> dict:
    with path.open("rb") as f:
        return pickle.load(f, encoding="bytes")


@pytest.fixture(scope="module")
def real_cifar() -> ImageData:
    data = load_dataset("cifar10", _need(CIFAR_REAL))
    assert isinstance(data, ImageData)
    return data


@pytest.fixture(scope="module")
def embedded_cifar() -> ImageData:
    data = load_dataset("cifar10")
    assert isinstance(data, ImageData)
    return data


@pytest.fixture(scope="module")
def embedded_ptb() -> TextData:
    data = load_dataset("ptb")
    assert isinstance(data, TextData)
    return data


# --- CIFAR-10, real data -------------------------------------------------------


def test_real_cifar_split_sizes(real_cifar: ImageData) -> None:
    # 5,085 training images; round(0.1 * 5085) = 508 held out for validation.
    assert real_cifar.train_x.shape == (4577, 3, 32, 32)
    assert real_cifar.valid_x.shape == (508, 3, 32, 32)
    assert real_cifar.test_x.shape == (1017, 3, 32, 32)
    assert real_cifar.train_y.shape == (4577,) and real_cifar.valid_y.shape == (508,) and real_cifar.test_y.shape == (1017,)
    assert real_cifar.train_x.pixels.dtype == torch.uint8 and real_cifar.train_y.dtype == torch.int64
    assert real_cifar.train_x[:2].dtype == torch.float32
    assert real_cifar.task == ImageTask(channels=3, height=32, width=32, classes=10)
    assert real_cifar.source == str(CIFAR_REAL / "cifar-10-batches-py") and not real_cifar.embedded


def test_real_cifar_holdout_loses_no_image(real_cifar: ImageData) -> None:
    raw = [_raw(CIFAR_REAL / "cifar-10-batches-py" / f"data_batch_{i}") for i in range(1, 6)]
    counts = np.bincount(np.concatenate([b[b"labels"] for b in raw]), minlength=10)
    split = torch.bincount(torch.cat([real_cifar.train_y, real_cifar.valid_y]), minlength=10)
    assert split.tolist() == counts.tolist()


def test_real_cifar_train_is_normalised(real_cifar: ImageData) -> None:
    mean = real_cifar.train_x[:].mean(dim=(0, 2, 3))
    std = real_cifar.train_x[:].std(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.zeros(3), atol=1e-4)
    assert torch.allclose(std, torch.ones(3), atol=1e-3)
    assert all(0.3 < m < 0.6 for m in real_cifar.mean) and all(0.15 < s < 0.35 for s in real_cifar.std)


def test_real_cifar_pixels_match_raw_pickle(real_cifar: ImageData) -> None:
    mean, std = torch.tensor(real_cifar.mean), torch.tensor(real_cifar.std)
    test = _raw(CIFAR_REAL / "cifar-10-batches-py" / "test_batch")
    for c, y, x in [(0, 0, 0), (1, 5, 7), (2, 31, 30)]:
        value = test[b"data"][0, c * 1024 + y * 32 + x] / 255
        assert real_cifar.test_x[0][c, y, x].item() == pytest.approx((value - mean[c].item()) / std[c].item(), abs=1e-5)
    assert real_cifar.test_y[:5].tolist() == test[b"labels"][:5]
    # Both splits keep file order, so the first training image heads one of them.
    first = _raw(CIFAR_REAL / "cifar-10-batches-py" / "data_batch_1")
    image = torch.from_numpy(first[b"data"][0]).view(3, 32, 32).float() / 255
    image = (image - mean.view(3, 1, 1)) / std.view(3, 1, 1)
    heads = [(real_cifar.train_x[0], real_cifar.train_y[0]), (real_cifar.valid_x[0], real_cifar.valid_y[0])]
    assert any(torch.allclose(x, image, atol=1e-5) and y.item() == first[b"labels"][0] for x, y in heads)


def test_accepts_the_batches_folder_itself(real_cifar: ImageData) -> None:
    direct = load_dataset("cifar10", CIFAR_REAL / "cifar-10-batches-py")
    assert isinstance(direct, ImageData)
    assert direct.source == real_cifar.source
    assert torch.equal(direct.valid_y, real_cifar.valid_y)


# --- CIFAR-10, embedded sample -------------------------------------------------


def test_embedded_cifar_sample_counts(embedded_cifar: ImageData) -> None:
    folder = EMBEDDED / "cifar10" / "cifar-10-batches-py"
    train, test = _raw(folder / "data_batch_1"), _raw(folder / "test_batch")
    assert train[b"data"].shape == (1000, 3072) and test[b"data"].shape == (300, 3072)
    assert np.bincount(train[b"labels"]).tolist() == [100] * 10
    assert np.bincount(test[b"labels"]).tolist() == [30] * 10
    assert embedded_cifar.train_x.shape[0] == 900 and embedded_cifar.valid_x.shape[0] == 100
    assert embedded_cifar.test_x.shape[0] == 300
    assert torch.bincount(torch.cat([embedded_cifar.train_y, embedded_cifar.valid_y])).tolist() == [100] * 10
    assert embedded_cifar.embedded and embedded_cifar.source == "embedded sample (nascli/data/embedded/cifar10)"


def test_embedded_cifar_is_first_images_of_each_class() -> None:
    source = _need(CIFAR_REAL) / "cifar-10-batches-py"
    raw = [_raw(source / f"data_batch_{i}") for i in range(1, 6)]
    data = np.concatenate([b[b"data"] for b in raw])
    labels = np.concatenate([b[b"labels"] for b in raw])
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:100] for c in range(10)]))
    sample = _raw(EMBEDDED / "cifar10" / "cifar-10-batches-py" / "data_batch_1")
    assert np.array_equal(sample[b"data"], data[keep])
    assert (EMBEDDED / "cifar10" / "cifar-10-batches-py" / "batches.meta").read_bytes() == (source / "batches.meta").read_bytes()


def test_embedded_sample_under_5_mb() -> None:
    size = sum(p.stat().st_size for p in EMBEDDED.rglob("*") if p.is_file())
    assert size < 5_000_000


def test_holdout_is_seeded(embedded_cifar: ImageData) -> None:
    again = load_dataset("cifar10", seed=0)
    other = load_dataset("cifar10", seed=1)
    assert isinstance(again, ImageData) and isinstance(other, ImageData)
    assert torch.equal(again.valid_x.pixels, embedded_cifar.valid_x.pixels)
    assert not torch.equal(other.valid_y, embedded_cifar.valid_y)


def test_images_stay_uint8_and_normalise_as_they_are_taken(embedded_cifar: ImageData) -> None:
    """A split keeps its decoded pixels; any batch taken from it is (pixel / 255 - mean) / std."""
    images = embedded_cifar.train_x
    assert images.pixels.dtype == torch.uint8 and images.shape == (900, 3, 32, 32)
    mean, std = torch.tensor(embedded_cifar.mean).view(3, 1, 1), torch.tensor(embedded_cifar.std).view(3, 1, 1)
    idx = torch.tensor([5, 0, 899])
    expected = (images.pixels[idx].float() / 255 - mean) / std
    assert images[idx].dtype == torch.float32 and torch.allclose(images[idx], expected, atol=1e-5)
    assert torch.allclose(images[7], (images.pixels[7].float() / 255 - mean) / std, atol=1e-5)  # one image: (C, H, W)
    whole = images[:]
    assert torch.allclose(whole.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(whole.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-3)
    both = images.cat(embedded_cifar.valid_x)
    assert len(both) == 1000 and torch.equal(both[900:], embedded_cifar.valid_x[:])


def test_valid_fraction_sets_holdout_size() -> None:
    data = load_dataset("cifar10", valid_fraction=0.25)
    assert isinstance(data, ImageData)
    assert (data.train_x.shape[0], data.valid_x.shape[0]) == (750, 250)


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_bad_valid_fraction(fraction: float) -> None:
    with pytest.raises(DataError, match="valid_fraction"):
        load_dataset("cifar10", valid_fraction=fraction)


# --- augment -------------------------------------------------------------------


def _batch(n: int = 64) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(7))


def test_augment_keeps_shape_and_dtype_and_is_deterministic() -> None:
    x = _batch()
    out = augment(x, torch.Generator().manual_seed(3))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out, augment(x, torch.Generator().manual_seed(3)))
    assert not torch.equal(out, augment(x, torch.Generator().manual_seed(4)))
    assert not torch.equal(out, x)


def test_flip_only_mirrors_or_keeps_each_image() -> None:
    x = _batch()
    out = augment(x, torch.Generator().manual_seed(0), padding=0)
    kept = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    assert bool((kept | mirrored).all()) and bool(kept.any()) and bool(mirrored.any())
    # Zero shift: every row keeps its multiset of values.
    assert torch.equal(out.sort(dim=-1).values, x.sort(dim=-1).values)


def test_crop_is_a_window_of_the_zero_padded_image() -> None:
    x = _batch(16)
    out = augment(x, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    offsets = set()
    for i in range(len(x)):
        hits = [
            (dy, dx, flip)
            for dy in range(9)
            for dx in range(9)
            for flip in (False, True)
            if torch.equal(out[i], (lambda w: w.flip(-1) if flip else w)(padded[i, :, dy : dy + 32, dx : dx + 32]))
        ]
        assert hits, f"image {i} is not a padded crop"
        offsets.add(hits[0][:2])
    assert len(offsets) > 1  # offsets really vary between images


def test_augment_real_images_change_pixels(embedded_cifar: ImageData) -> None:
    x = embedded_cifar.train_x[:32]
    out = augment(x, torch.Generator().manual_seed(0))
    changed = ~(out == x).flatten(1).all(1)
    assert changed.sum() > 16


# --- PTB -----------------------------------------------------------------------


def _tokens(path: Path) -> list[str]:
    return [t for line in path.read_text().splitlines() for t in (*line.split(), EOS)]


def test_ptb_counts_and_eos(embedded_ptb: TextData) -> None:
    folder = EMBEDDED / "ptb"
    assert embedded_ptb.train.shape == (70390 + 3370,)  # words + one <eos> per line
    assert embedded_ptb.valid.shape == (39657 + 1880,) and embedded_ptb.test.shape == (39012 + 1881,)
    eos = embedded_ptb.vocab.index(EOS)
    for split in ("train", "valid", "test"):
        lines = len((folder / f"ptb.{split}.txt").read_text().splitlines())
        assert int((getattr(embedded_ptb, split) == eos).sum()) == lines
    assert embedded_ptb.train.dtype == torch.int64
    assert embedded_ptb.task == LanguageTask(vocab_size=len(embedded_ptb.vocab)) == LanguageTask(vocab_size=6022)
    assert embedded_ptb.embedded and embedded_ptb.source == "embedded sample (nascli/data/embedded/ptb)"


def test_ptb_vocab_from_train_only(embedded_ptb: TextData) -> None:
    folder = EMBEDDED / "ptb"
    train = _tokens(folder / "ptb.train.txt")
    assert set(embedded_ptb.vocab) == set(train) | {UNK}
    assert len(set(embedded_ptb.vocab)) == len(embedded_ptb.vocab)
    counts = Counter(train)
    keys = [(-counts[w], w) for w in embedded_ptb.vocab]
    assert keys == sorted(keys) and embedded_ptb.vocab[0] == "the"
    valid = _tokens(folder / "ptb.valid.txt")
    unseen = [w for w in valid if w not in counts]
    assert unseen  # this valid split has words the train split lacks
    index = {w: i for i, w in enumerate(embedded_ptb.vocab)}
    expected = [index.get(w, index[UNK]) for w in valid]
    assert embedded_ptb.valid.tolist() == expected
    assert embedded_ptb.valid[valid.index(unseen[0])].item() == index[UNK]


def test_ptb_real_folder_matches_embedded(embedded_ptb: TextData) -> None:
    real = load_dataset("ptb", _need(PTB_REAL))
    assert isinstance(real, TextData) and not real.embedded and real.source == str(PTB_REAL)
    assert real.vocab == embedded_ptb.vocab and torch.equal(real.test, embedded_ptb.test)


def test_ptb_plain_names_and_tie_order(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("b a a\nc b a\n")
    (tmp_path / "valid.txt").write_text("a z\n")
    (tmp_path / "test.txt").write_text("c\n")
    data = load_dataset("ptb", tmp_path)
    assert isinstance(data, TextData)
    assert data.vocab == ["a", EOS, "b", "c", UNK]  # a:3, then <eos>/b tie at 2 alphabetically, c:1, <unk>:0
    assert data.valid.tolist() == [0, 4, 1]


def test_batchify_and_bptt(embedded_ptb: TextData) -> None:
    columns = batchify(torch.arange(10), 3)
    assert columns.tolist() == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]  # each column is a contiguous stretch
    data = batchify(embedded_ptb.train, 20)
    assert data.shape == (73760 // 20, 20)
    pairs = list(bptt_batches(data, 35))
    assert all(x.shape == y.shape and x.shape[0] <= 35 and x.shape[1] == 20 for x, y in pairs)
    assert torch.equal(torch.cat([x for x, _ in pairs]), data[:-1])
    assert torch.equal(torch.cat([y for _, y in pairs]), data[1:])
    x, y = pairs[0]
    assert torch.equal(x[1:], y[:-1])


def test_batchify_too_short() -> None:
    with pytest.raises(DataError):
        batchify(torch.arange(5), 4)


# --- errors --------------------------------------------------------------------


def _write_batch(path: Path, data: object = None, labels: object = None) -> None:
    batch = {
        b"data": np.zeros((4, 3072), np.uint8) if data is None else data,
        b"labels": [0, 1, 2, 3] if labels is None else labels,
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))


def _raises(dataset: str, folder: Path, match: str) -> DataError:
    with pytest.raises(DataError, match=match) as info:
        load_dataset(dataset, folder)
    assert "\n" not in str(info.value)
    return info.value


def test_unknown_dataset() -> None:
    with pytest.raises(RegistryError, match="known: cifar10, images, text, ptb, csv"):
        load_dataset("mnist")
    assert known_datasets() == ("cifar10", "images", "text", "ptb", "csv")


def test_cifar_missing_folder(tmp_path: Path) -> None:
    err = _raises("cifar10", tmp_path / "nowhere", "not found")
    assert str(tmp_path / "nowhere") in str(err)


def test_cifar_no_batches(tmp_path: Path) -> None:
    (tmp_path / "cifar-10-batches-py").mkdir()
    err = _raises("cifar10", tmp_path, "data_batch")
    assert str(tmp_path / "cifar-10-batches-py") in str(err)


def test_cifar_missing_test_batch(tmp_path: Path) -> None:
    _write_batch(tmp_path / "data_batch_1")
    err = _raises("cifar10", tmp_path, "test_batch")
    assert str(tmp_path / "test_batch") in str(err)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"this is not a pickle", "not a valid pickle"),
        (pickle.dumps({b"data": np.zeros((4, 3072), np.uint8)}), "b'labels'"),
        (pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}), "uint8 N x 3072"),
        (pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0] * 3}), "4 integers"),
        (pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 10]}), "out of range"),
        (pickle.dumps(os.getcwd), "not a valid pickle"),  # a global outside numpy is refused
    ],
)
def test_cifar_corrupt_batch(tmp_path: Path, content: bytes, match: str) -> None:
    (tmp_path / "data_batch_1").write_bytes(content)
    _write_batch(tmp_path / "test_batch")
    err = _raises("cifar10", tmp_path, match)
    assert str(tmp_path / "data_batch_1") in str(err)


def test_cifar_small_valid_folder_loads(tmp_path: Path) -> None:
    _write_batch(tmp_path / "data_batch_1")
    _write_batch(tmp_path / "test_batch")
    data = load_dataset("cifar10", tmp_path, valid_fraction=0.25)
    assert isinstance(data, ImageData)
    assert (len(data.train_y), len(data.valid_y), len(data.test_y)) == (3, 1, 4)


def test_download_without_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)  # makes `import torchvision` fail
    with pytest.raises(DataError, match="torchvision is not installed") as info:
        download_cifar10(tmp_path)
    assert "cifar-10-python.tar.gz" in str(info.value) and str(tmp_path / "cifar-10-batches-py") in str(info.value)


def test_ptb_missing_folder(tmp_path: Path) -> None:
    err = _raises("ptb", tmp_path / "nowhere", "not found")
    assert str(tmp_path / "nowhere") in str(err)


def test_ptb_missing_split(tmp_path: Path) -> None:
    (tmp_path / "ptb.train.txt").write_text("a b\n")
    (tmp_path / "ptb.valid.txt").write_text("a b\n")
    _raises("ptb", tmp_path, "test split is missing")


def test_ptb_empty_file(tmp_path: Path) -> None:
    (tmp_path / "ptb.train.txt").write_text("a b\n")
    (tmp_path / "ptb.valid.txt").write_text("  \n")
    (tmp_path / "ptb.test.txt").write_text("a\n")
    err = _raises("ptb", tmp_path, "empty")
    assert str(tmp_path / "ptb.valid.txt") in str(err)
