"""Part 6 of bench/enas.py: ENAS's found PTB cell against an LSTM of equal parameter count.

A short enas_rnn search on ptb-mini (part 1's sizes), its best derived cell retrained from
scratch by nascli.search.retrain (train + valid tokens, test perplexity once), and an
nn.LSTM language model (bench/children.py's, embedding tied to the decoder) whose hidden size
is chosen so that its parameter count is the closest to the cell model's, trained and tested
with the same recipe and seed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from children import LstmLanguageModel, mean_std  # bench/ is on sys.path
from nascli.children import ChildConfig, LanguageModelConfig
from nascli.data.spec import DataSpec
from nascli.runs import best_child
from nascli.search.enas.config import EnasConfig, enas_controller
from nascli.search.loop import SearchConfig
from nascli.search.retrain import retrain
from nascli.search.runs import create_search
from nascli.train import TrainConfig, fit_language, perplexity
from nascli.train.loops import EVAL_BATCH

SEARCH = {"full": dict(epochs=3, train_subset=20_000, controller_steps=5, controller_aggregate=10, derive_subset=2000),
          "quick": dict(epochs=1, train_subset=2_000, controller_steps=1, controller_aggregate=2, derive_subset=500)}
RETRAIN = {"full": dict(epochs=3, train_subset=None), "quick": dict(epochs=1, train_subset=2_000)}
SEEDS = {"full": 3, "quick": 1}


class _Lstm(LstmLanguageModel):
    """The bench's LSTM language model, initialised as nascli's LanguageModel is (a tied N(0, 1)
    embedding would start with huge logits), with the zero state nascli's trainer asks for."""

    def __init__(self, vocab: int, config: LanguageModelConfig):
        super().__init__(vocab, config)
        nn.init.uniform_(self.embedding.weight, -config.init_range, config.init_range)
        nn.init.zeros_(self.decoder.bias)

    def init_state(self, batch: int):
        zeros = torch.zeros(1, batch, self.lstm.hidden_size)
        return zeros, zeros.clone()


def _lstm_params(vocab: int, hidden: int) -> int:
    """Tied embedding/decoder, decoder bias, and nn.LSTM's 4 gates (two weight matrices, two biases)."""
    return vocab * hidden + vocab + 4 * hidden * (2 * hidden) + 8 * hidden


def _equal_lstm(vocab: int, params: int, dropout: float) -> _Lstm:
    hidden = min(range(8, 1025), key=lambda h: abs(_lstm_params(vocab, h) - params))
    return _Lstm(vocab, LanguageModelConfig(embed_size=hidden, hidden_size=hidden, dropout=dropout))


def _one_seed(size: str, seed: int, data_dir: Path) -> tuple[float, int, float, int, int, float]:
    """Search CPU-s; the found cell's parameters and test perplexity; the LSTM's hidden size, parameters and
    test perplexity."""
    data_spec = DataSpec(name="ptb", data_dir=str(data_dir))
    config = SearchConfig(strategy="enas", data=data_spec, budget=5, seed=seed, controller=enas_controller("dag"),
                          enas=EnasConfig.for_family("dag", **SEARCH[size]))
    train = TrainConfig.for_language(seed=seed, **RETRAIN[size])
    with tempfile.TemporaryDirectory() as tmp:
        start = time.process_time()
        job = create_search("enas_rnn", config, Path(tmp) / "run")
        job.run()
        job.store.close()
        search_cpu = time.process_time() - start
        best = best_child(Path(tmp) / "run")  # as `nascli eval --best` picks it
        data = data_spec.load()
        found = retrain(best.arch, data, "ptb", train, ChildConfig(), Path(tmp) / "retrain")
    torch.manual_seed(train.seed)
    lstm = _equal_lstm(data.task.vocab_size, found.params, ChildConfig().language.dropout)
    fit_language(lstm, torch.cat([data.train, data.valid]), None, train)
    lstm_ppl = perplexity(lstm, data.test, EVAL_BATCH, train.bptt)
    print(f"PTB seed {seed}: search {search_cpu:.1f} CPU-s; found cell {found.params:,} params, test ppl "
          f"{found.metric:.1f}; LSTM {lstm.lstm.hidden_size} units, test ppl {lstm_ppl:.1f}", flush=True)
    return search_cpu, found.params, found.metric, lstm.lstm.hidden_size, sum(p.numel() for p in lstm.parameters()), lstm_ppl


def part6(quick: bool, data_dir: Path) -> list[list[str]]:
    size = "quick" if quick else "full"
    runs = [_one_seed(size, seed, data_dir) for seed in range(SEEDS[size])]
    search_cpu = mean_std([r[0] for r in runs], 1)
    return [[f"ENAS's found cell (search {search_cpu} CPU-s)", " / ".join(f"{r[1]:,}" for r in runs),
             mean_std([r[2] for r in runs], 1)],
            [f"nn.LSTM, hidden {' / '.join(str(r[3]) for r in runs)}", " / ".join(f"{r[4]:,}" for r in runs),
             mean_std([r[5] for r in runs], 1)]]
