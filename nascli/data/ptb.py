"""Penn Treebank (Mikolov's word-level text) and truncated-BPTT batching.

Tokenising and vocabularies are the `text` kind's (text.py); PTB fixes the
file names and word-level tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from torch import Tensor

from nascli.data.base import TextData
from nascli.data.registry import register_dataset
from nascli.data.text import EOS, SPLITS, UNK, read_tokens, text_data
from nascli.errors import DataError

__all__ = ["EOS", "UNK", "batchify", "bptt_batches", "load_ptb"]
EMBEDDED = Path(__file__).resolve().parent / "embedded" / "ptb"


def _split_file(folder: Path, split: str) -> Path:
    """`ptb.<split>.txt`, or `<split>.txt`, in `folder`."""
    for name in (f"ptb.{split}.txt", f"{split}.txt"):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"PTB {split} split is missing (expected ptb.{split}.txt or {split}.txt)", where=str(folder))


def load_ptb(data_dir: str | Path) -> TextData:
    """The three PTB splits from `data_dir`, encoded with the training vocabulary."""
    folder = Path(data_dir).expanduser()
    if not folder.is_dir():
        raise DataError("PTB folder not found (expected ptb.train.txt, ptb.valid.txt, ptb.test.txt)", where=str(folder))
    return text_data({split: read_tokens(_split_file(folder, split)) for split in SPLITS}, str(folder))


@register_dataset("ptb", task="language", needs_dir=False,
                  help="Penn Treebank: ptb.{train,valid,test}.txt, word-level")
def _load_registered(folder: Path | None, spec) -> TextData:
    return load_ptb(folder or EMBEDDED)


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
