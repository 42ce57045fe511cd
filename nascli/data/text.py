"""Text corpora: tokenising, vocabularies and the `text` dataset kind.

Usual word-level LM conventions: whitespace tokens (or single characters with
`--tokens char`), `<eos>` after every line, vocabulary from the training split
only, unseen or capped-out tokens become `<unk>`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch
from torch import Tensor

from nascli.data.base import LanguageTask, TextData
from nascli.data.registry import register_dataset
from nascli.data.splits import check_fraction
from nascli.errors import DataError

EOS = "<eos>"
UNK = "<unk>"
SPLITS = ("train", "valid", "test")
# File names searched in a folder, per split, in this order (the first found wins).
SPLIT_NAMES = {
    "train": ("train.txt", "ptb.train.txt", "wiki.train.tokens"),
    "valid": ("valid.txt", "val.txt", "validation.txt", "ptb.valid.txt", "wiki.valid.tokens"),
    "test": ("test.txt", "ptb.test.txt", "wiki.test.tokens"),
}


def read_text(path: Path) -> str:
    """The UTF-8 text of `path`; a DataError for a file that is missing, binary, or empty."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read text file: {e.strerror}", where=str(path)) from e
    if b"\0" in raw:  # text never holds NUL bytes; images, archives and pickles do
        raise DataError("not a text file (it holds NUL bytes)", where=str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"not a UTF-8 text file (byte {e.start})", where=str(path)) from e
    if not text.split():
        raise DataError("text file is empty", where=str(path))
    return text


def tokenize(text: str, level: str = "word") -> list[str]:
    """Whitespace words (or every character, spaces included) of each line, `<eos>` closing it."""
    if level == "char":
        return [token for line in text.splitlines() for token in (*line, EOS)]
    return [token for line in text.splitlines() for token in (*line.split(), EOS)]


def read_tokens(path: Path, level: str = "word") -> list[str]:
    return tokenize(read_text(path), level)


def build_vocab(tokens: list[str], limit: int | None = None) -> list[str]:
    """Tokens by falling frequency, ties alphabetical (deterministic), `<unk>` always in.

    With `limit`, only the `limit - 1` most frequent tokens other than `<unk>` are kept."""
    counts = Counter(tokens)
    counts.setdefault(UNK, 0)
    vocab = sorted(counts, key=lambda word: (-counts[word], word))
    if limit is not None and len(vocab) > limit:
        vocab = [word for word in vocab if word != UNK][: limit - 1] + [UNK]
    return vocab


def encode(tokens: list[str], vocab: list[str]) -> Tensor:
    """Token ids as a 1-D int64 tensor; tokens outside `vocab` become `<unk>`."""
    index = {word: i for i, word in enumerate(vocab)}
    unk = index[UNK]
    return torch.tensor([index.get(token, unk) for token in tokens], dtype=torch.int64)


def text_data(splits: dict[str, list[str]], source: str, level: str = "word", limit: int | None = None,
              note: str = "") -> TextData:
    """TextData from tokenised train/valid/test splits, with the training vocabulary."""
    vocab = build_vocab(splits["train"], limit)
    ids = {split: encode(tokens, vocab) for split, tokens in splits.items()}
    return TextData(train=ids["train"], valid=ids["valid"], test=ids["test"], vocab=vocab,
                    task=LanguageTask(vocab_size=len(vocab)), source=source, embedded=False,
                    tokens=level, splits_note=note)


def split_files(folder: Path) -> dict[str, Path | None]:
    """The file of each split in `folder` under the names SPLIT_NAMES lists, None where absent."""
    found = {}
    for split in SPLITS:
        found[split] = next((folder / n for n in SPLIT_NAMES[split] if (folder / n).is_file()), None)
    return found


def _cut_tail(tokens: list[str], fraction: float, split: str, where: str) -> tuple[list[str], list[str]]:
    """(head, tail): the last `fraction` of a token stream becomes `split` (text order is kept)."""
    n = round(fraction * len(tokens))
    if n < 2 or len(tokens) - n < 2:  # batchify needs two tokens in every split
        raise DataError(f"{len(tokens)} tokens are too few to cut a {split} split of {fraction:.0%}", where=where)
    return tokens[:-n], tokens[-n:]


def load_text(path: Path, spec) -> TextData:
    """A corpus: a folder of split files (SPLIT_NAMES), or one file cut by fractions.

    In a folder, a missing valid or test file is cut from the end of the
    training text; a folder without a training file is an error."""
    check_fraction("valid_fraction", spec.valid_fraction)
    check_fraction("test_fraction", spec.test_fraction)
    if path.is_file():
        splits = {"train": read_tokens(path, spec.tokens)}
    elif path.is_dir():
        files = split_files(path)
        if files["train"] is None:
            raise DataError(f"no training file: expected one of {', '.join(SPLIT_NAMES['train'])}", where=str(path))
        splits = {split: read_tokens(f, spec.tokens) for split, f in files.items() if f is not None}
    else:
        raise DataError("text corpus not found (a folder of train.txt, valid.txt, test.txt, or one text file)",
                        where=str(path))
    missing = [split for split in ("test", "valid") if split not in splits]
    for split in missing:
        fraction = spec.valid_fraction if split == "valid" else spec.test_fraction
        splits["train"], splits[split] = _cut_tail(splits["train"], fraction, split, str(path))
    note = "; ".join(f"{split}: the end of the training text" for split in missing)
    return text_data(splits, str(path), spec.tokens, spec.vocab_size, note)


@register_dataset("text", task="language", options=("valid_fraction", "test_fraction", "tokens", "vocab_size"),
                  help="any UTF-8 corpus: a folder of train/valid/test files, or one file cut by fractions")
def _load_registered(folder: Path | None, spec) -> TextData:
    return load_text(folder, spec)
