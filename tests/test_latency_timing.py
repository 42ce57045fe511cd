"""How a forward pass is timed (budget/latency.py): rounds, each's fastest pass, their median, the slowest
round as the limit's figure, and the clock, on scripted timings (a loaded machine's would make it flaky)."""

from __future__ import annotations

import time
from itertools import accumulate

import pytest
import torch
from torch import nn

from nascli.budget.latency import LatencyConfig, pass_clock, time_rounds

CONFIG = LatencyConfig(warmup=2, rounds=3, repeats=4)


class Counted(nn.Module):
    """Counts its forward passes, to check the warm-ups run untimed."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x


def scripted_clock(pass_ms: list[float]):
    """A clock that reads twice per timed pass, each pass lasting the next of `pass_ms`."""
    ticks = iter(accumulate([0.0] + [t for ms in pass_ms for t in (ms / 1e3, 1.0)]))
    return lambda: next(ticks)


# a loaded machine: most passes pre-empted (8-12 ms), one quiet pass per round, the third round noisier
PASSES = [9.0, 4.0, 11.0, 8.0,
          12.0, 10.0, 4.2, 9.5,
          8.5, 5.0, 10.0, 12.0]


def test_each_round_keeps_its_fastest_pass_and_the_figure_is_their_median():
    model = Counted()
    timing = time_rounds(model, (torch.zeros(1),), "cpu", CONFIG, clock=scripted_clock(PASSES))
    assert model.calls == 2 + 12  # warm-ups untimed
    assert timing.round_ms == pytest.approx((4.0, 4.2, 5.0))
    assert timing.ms == pytest.approx(4.2)  # the median of all passes would be 9.25, their mean 8.6
    assert timing.high_ms == pytest.approx(5.0)  # what --max-latency is checked against


def test_the_cpu_with_one_thread_is_timed_on_the_thread_clock():
    assert pass_clock("cpu", LatencyConfig()) is time.thread_time
    assert pass_clock("cpu", LatencyConfig(threads=2)) is time.perf_counter
    assert pass_clock("cuda:0", LatencyConfig()) is time.perf_counter


def test_the_thread_clock_ignores_time_spent_waiting():
    """A pass that sleeps (waits, as a pre-empted one does) costs its thread almost no CPU time."""

    class Waits(nn.Module):
        def forward(self, x):
            time.sleep(0.02)
            return x

    timing = time_rounds(Waits(), (torch.zeros(1),), "cpu", LatencyConfig(warmup=0, rounds=1, repeats=1))
    assert timing.ms < 5.0  # 20 ms on the wall clock
