"""Penn Treebank (Mikolov's word-level text) and truncated-BPTT batching.

Follows the usual word-level LM convention: whitespace tokens, `<eos>` after
every line, vocabulary from the training split only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor

from nascli.data.base import LanguageTask, TextData
from nascli.errors import DataError

EOS = "<eos>"
UNK = "<unk>"
SPLITS = ("train", "valid", "test")


def _split_file(folder: Path, split: str) -> Path:
    """`ptb.<split>.txt`, or `<split>.txt`, in `folder`."""
    for name in (f"ptb.{split}.txt", f"{split}.txt"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"PTB {split} split is missing (expected ptb.{split}.txt or {split}.txt)", where=str(folder))


def read_tokens(path: Path) -> list[str]:
    """Whitespace tokens of `path` with `<eos>` closing every line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"cannot read PTB file: {e.strerror}", where=str(path)) from e
    except UnicodeDecodeError as e:
        raise DataError(f"PTB file is not UTF-8 text (byte {e.start})", where=str(path)) from e
    if not text.split():
        raise DataError("PTB file is empty", where=str(path))
    return [token for line in text.splitlines() for token in (*line.split(), EOS)]


def build_vocab(tokens: list[str]) -> list[str]:
    """Words by falling frequency, ties alphabetical (deterministic), `<unk>` always in."""
    counts = Counter(tokens)
    counts.setdefault(UNK, 0)
    return sorted(counts, key=lambda word: (-counts[word], word))


def encode(tokens: list[str], vocab: list[str]) -> Tensor:
    """Token ids as a 1-D int64 tensor; words outside `vocab` become `<unk>`."""
    index = {word: i for i, word in enumerate(vocab)}
    unk = index[UNK]
    return torch.tensor([index.get(token, unk) for token in tokens], dtype=torch.int64)


def load_ptb(data_dir: str | Path) -> TextData:
    """The three PTB splits from `data_dir`, encoded with the training vocabulary."""
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise DataError("PTB folder not found (expected ptb.train.txt, ptb.valid.txt, ptb.test.txt)", where=str(folder))
    train, valid, test = (read_tokens(_split_file(folder, split)) for split in SPLITS)
    vocab = build_vocab(train)
    return TextData(
        train=encode(train, vocab),
        valid=encode(valid, vocab),
        test=encode(test, vocab),
        vocab=vocab,
        task=LanguageTask(vocab_size=len(vocab)),
        source=str(folder),
        embedded=False,
    )


def batchify(ids: Tensor, batch_size: int) -> Tensor:
    """Cut a 1-D id stream into `batch_size` parallel streams, shape (T, B).

    Column b is the b-th contiguous slice of the text, so hidden state carries
    over between consecutive BPTT windows; the tail that does not fill a row
    is dropped.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    steps = len(ids) // batch_size
    if steps < 2:  # one step gives no (input, next-word) pair
        raise DataError(f"{len(ids)} tokens are too few for batch size {batch_size}")
    return ids[: steps * batch_size].view(batch_size, steps).t().contiguous()


def bptt_batches(data: Tensor, bptt: int) -> Iterator[tuple[Tensor, Tensor]]:
    """(input, target) windows of at most `bptt` steps over `data` (T, B).

    The target is the input shifted one step ahead; the last window is
    shorter when `bptt` does not divide T - 1.
    """
    if bptt < 1:
        raise ValueError(f"bptt must be positive, got {bptt}")
    for start in range(0, len(data) - 1, bptt):
        length = min(bptt, len(data) - 1 - start)
        yield data[start : start + length], data[start + 1 : start + 1 + length]
