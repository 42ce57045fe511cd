"""The accuracy-vs-cost panel of `nascli report --cost`: every trained child, the Pareto front, refusals.

`front_points` is the pure step from a run's children to what is drawn (tests
compare it with `budget.pareto.child_front`); `plot_front` draws it: each done
child a dot, the front a step line through its ringed points (a child on the
front is the best accuracy at its cost or any lower), and refused samples,
which have a cost but no accuracy, as crosses along the bottom edge.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.lines import Line2D

from ..budget.pareto import CostName, child_front, quality
from ..budget.units import format_count
from .history import RunHistory

COST_AXES = {"params": "parameters", "macs": "multiply-accumulates per example", "latency_ms": "latency (ms)"}
REFUSED = "#d62728"  # red, as failed children are in the reward panel


@dataclass(frozen=True)
class FrontPoint:
    child_id: int
    cost: float
    quality: float  # validation accuracy, or minus perplexity (budget.pareto.quality)


@dataclass(frozen=True)
class FrontData:
    """What the panel draws of one run against `cost`."""

    cost: CostName
    points: list[FrontPoint]  # every done child with a known cost, in id order
    front: list[FrontPoint]  # the Pareto front, cheapest first
    refused: list[tuple[int, float]]  # (id, cost) of each refused sample whose cost is known


def front_points(children, cost: CostName) -> FrontData:
    """The panel's data for a run's `children` (ChildRecords) against `cost`."""
    def point(c) -> FrontPoint:
        return FrontPoint(c.id, getattr(c, cost), quality(c))

    done = [point(c) for c in children if c.status == "done" and getattr(c, cost) is not None and quality(c) is not None]
    refused = [(c.id, getattr(c, cost)) for c in children if c.status == "refused" and getattr(c, cost) is not None]
    return FrontData(cost, done, [point(c) for c in child_front(children, cost)], refused)


def _tick(value, _position=None) -> str:
    return format_count(value) if value >= 1 else f"{value:g}"


def plot_front(ax, runs: list[RunHistory], colours: list[str], cost: CostName, show_refused: bool = True) -> None:
    """One colour per run, as in the reward panel; the front's points labelled with their ids when few."""
    drawn = [front_points(run.children, cost) for run in runs]
    for data, colour in zip(drawn, colours):
        if data.points:
            ax.scatter([p.cost for p in data.points], [p.quality for p in data.points], s=22, color=colour,
                       alpha=0.55, edgecolors="none", zorder=3)
        if data.front:
            xs, ys = [p.cost for p in data.front], [p.quality for p in data.front]
            ax.step(xs, ys, where="post", color=colour, linewidth=1.8, zorder=2)
            ax.scatter(xs, ys, s=60, facecolors="none", edgecolors=colour, linewidths=1.6, zorder=4)
            if len(data.front) <= 12:  # more ids than that only hide the points
                for p in data.front:
                    ax.annotate(f"#{p.child_id}", (p.cost, p.quality), textcoords="offset points", xytext=(4, -10),
                                fontsize=8, color=colour)
        if show_refused and data.refused:  # no accuracy: a rug along the bottom, at their cost
            ax.scatter([c for _, c in data.refused], [0.03] * len(data.refused), transform=ax.get_xaxis_transform(),
                       marker="x", s=30, color=REFUSED, linewidths=1.2, zorder=4)
    costs = [p.cost for d in drawn for p in d.points] + ([c for d in drawn for _, c in d.refused] if show_refused else [])
    if costs:  # the refusals' rug is outside the data limits autoscaling sees
        low, high = min(costs), max(costs)
        pad = 0.04 * (high - low) or 0.04 * abs(low) or 1.0
        ax.set_xlim(low - pad, high + pad)
    if cost != "latency_ms":
        ax.xaxis.set_major_formatter(_tick)
    names = sorted({c.metric_name for r in runs for c in r.children if c.metric_name})
    metric = ", ".join(n.replace("_", " ") for n in names) or "validation"
    ax.set_title(f"{metric} vs {COST_AXES[cost]}: the Pareto front (step line, ringed)", fontsize=11)
    ax.set_xlabel(COST_AXES[cost], fontsize=11)
    ax.set_ylabel(metric if all(n.endswith("accuracy") for n in names) else f"{metric} (perplexity negated)",
                  fontsize=11)
    ax.grid(alpha=0.3)
    grey = "#444444"
    marks = [Line2D([], [], color=grey, marker="o", linestyle="none", alpha=0.55, label="trained child"),
             Line2D([], [], color=grey, marker="o", markerfacecolor="none", linewidth=1.8, label="Pareto front")]
    if show_refused and any(d.refused for d in drawn):
        marks.append(Line2D([], [], color=REFUSED, marker="x", linestyle="none", label="refused (cost only)"))
    ax.legend(handles=marks, fontsize=8, loc="lower right", frameon=False)
