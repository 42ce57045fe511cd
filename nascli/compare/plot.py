"""The anytime plot of a comparison, as the benchmark papers draw it (matplotlib, no pyplot).

For each strategy, at each moment of the (simulated) clock, the mean over its
runs of the best so far (chosen by validation, shown at its test value on a
benchmark, at its validation value on real data), with a band for the 95%
confidence interval of that mean (Student's t). A strategy's curve starts
once every one of its runs has a finished child, so that each point is a mean
over all of them; the y axis shows the curves' second half in full.
"""

from __future__ import annotations

import bisect
import io
import itertools
from pathlib import Path

from matplotlib.figure import Figure

from ..render.output import output_format, write_output
from ..report.plot import RUN_COLOURS
from .plan import ComparisonPlan
from .stats import summarise
from .summary import CompareTable

POINTS = 200  # along the time axis


def _value_at(curve: list[tuple[float, float]], times: list[float], t: float) -> float | None:
    """The best so far at clock `t`: the last point of the curve at or before it."""
    at = bisect.bisect_right(times, t)
    return curve[at - 1][1] if at else None


def anytime_png(plan: ComparisonPlan, table: CompareTable) -> bytes:
    end = plan.options.time_budget or max((o.curve[-1][0] for o in table.all_outcomes if o.curve), default=1.0)
    grid = [end * i / (POINTS - 1) for i in range(POINTS)]
    fig = Figure(figsize=(8.0, 5.0), dpi=120, layout="constrained")
    ax = fig.subplots()
    bounds: list[float | None] = []
    for (strategy, runs), colour in zip(table.outcomes.items(), itertools.cycle(RUN_COLOURS)):
        curves = [(o.curve, [t for t, _ in o.curve]) for o in runs if o.curve]
        xs, means, lows, highs = [], [], [], []
        for t in grid:
            values = [v for curve, times in curves if (v := _value_at(curve, times, t)) is not None]
            summary = summarise(values) if len(values) == len(curves) >= 2 else None
            if summary is not None and summary.ci95 is not None:
                xs.append(t)
                means.append(summary.mean)
                lows.append(summary.ci95[0])
                highs.append(summary.ci95[1])
        row = next(r for r in table.rows if r.strategy == strategy)
        final = f": {row.primary.mean:.2f}" if row.primary else ""
        ax.plot(xs, means, color=colour, linewidth=2, label=f"{strategy} ({len(runs)} runs){final}")
        ax.fill_between(xs, lows, highs, color=colour, alpha=0.2, linewidth=0)
        later = [i for i, t in enumerate(xs) if t >= end / 2]
        bounds.extend([min((lows[i] for i in later), default=None), max((highs[i] for i in later), default=None)])
    shown = [b for b in bounds if b is not None]
    if shown:
        low, high = min(shown), max(shown)
        margin = max(high - low, 0.1)
        ax.set_ylim(low - margin, high + margin / 2)
    figure = "test accuracy (%)" if table.benchmark else "validation score"
    ax.set_ylabel(f"{figure} of the best so far (chosen by validation)")
    ax.set_xlabel("simulated seconds (each query charges the table's training time)" if table.benchmark
                  else "seconds of training (the children's, summed)")
    ax.set_title(table.title + "\nmean and 95% confidence interval over runs", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def plot_anytime(plan: ComparisonPlan, table: CompareTable, path: str | Path) -> Path:
    path = Path(path)
    output_format(path, ("png",))
    return write_output(path, anytime_png(plan, table))
