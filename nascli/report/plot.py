"""The search-history chart of one or more runs (matplotlib, no pyplot: no global state, no display).

Top panel: the reward of every child in sampling order (dots; failed children
as red crosses at the reward they were given), the best reward so far (solid
step line) and, per controller step, the moving-average baseline (dashed) and
the batch's mean reward (dotted), drawn at the step's last child. Bottom
panel: each child's depth, so the depth schedule's steps line up with the
rewards above them. When every run is a benchmark run (`--benchmark`), the
x axis is the simulated clock instead of the sampling order: each child sits
where its query ended. One colour per run. A run with a `nascli fidelity` study
adds its scatter on the right, and one with a `--truth` comparison its own
below it (report/fidelity.py). ENAS runs add a panel per
epoch below: the shared weights' training loss (solid), the controller's mean
validation reward (dashed) and, on the right axis, its samples' entropy
(dotted). With a cost (`ReportConfig.cost`, `report --cost`), the bottom third is
accuracy against that cost with the Pareto front drawn (report/front.py).
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .fidelity import plot_fidelity, plot_truth
from .front import plot_front
from .rungs import plot_rungs
from .history import RunHistory

RUN_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#e377c2", "#7f7f7f")
FAILED = "#d62728"  # red is kept for failures, never a run's colour


@dataclass(frozen=True)
class ReportConfig:
    width_in: float = 11.0
    height_in: float = 7.5
    dpi: int = 120
    top: int = 10  # children listed per run in the HTML page
    # the accuracy-vs-cost panel: params, macs or latency_ms; "auto": the cost the runs were limited by
    # (history.limited_cost), none when they had no limit; "none": no panel
    cost: str = "auto"
    show_refused: bool = True  # refused samples as crosses on that panel

    def cost_for(self, runs: list[RunHistory]) -> str | None:
        """The cost the front panel is drawn against, or None for no panel."""
        if self.cost == "auto":
            return next((r.limited_by for r in runs if r.limited_by), None)
        return None if self.cost == "none" else self.cost

    @property
    def pixels(self) -> tuple[int, int]:
        """(width, height) of the PNG."""
        return round(self.width_in * self.dpi), round(self.height_in * self.dpi)


def _made_from(runs: list[RunHistory]) -> str:
    """' (from valid accuracy; chance 10.0%)': what the rewards were made from, and its chance level."""
    metrics = sorted({c.metric_name.replace("_", " ") for r in runs for c in r.children if c.metric_name})
    chances = sorted({r.chance.text() for r in runs if r.chance})
    parts = ([f"from {', '.join(metrics)}"] if metrics else []) + chances
    return f" ({'; '.join(parts)})" if parts else ""


def _plot_rewards(ax, run: RunHistory, colour: str, simulated_time: bool) -> None:
    at = run.positions(simulated_time)
    done = [(x, c.reward) for x, c in zip(at, run.children) if c.status == "done" and c.reward is not None]
    failed = [(x, c.reward) for x, c in zip(at, run.children) if c.status == "failed" and c.reward is not None]
    if done:
        ax.scatter(*zip(*done), s=26, color=colour, alpha=0.75, edgecolors="none", zorder=3)
    if failed:
        ax.scatter(*zip(*failed), s=46, marker="x", color=FAILED, linewidths=1.6, zorder=4)
    xs, ys = run.best_so_far(simulated_time)
    if xs:
        ax.step(xs, ys, where="post", color=colour, linewidth=2.2, zorder=2)
    ends = run.step_ends(simulated_time)
    for field, style in (("baseline", "--"), ("mean_reward", ":")):
        points = [(ends[s.step], getattr(s, field)) for s in run.steps
                  if s.step in ends and getattr(s, field) is not None]
        if points:
            ax.plot(*zip(*points), linestyle=style, marker=".", color=colour, linewidth=1.4, alpha=0.9)


def _legends(fig: Figure, runs: list[RunHistory], colours: list[str]) -> None:
    """Beside the chart, not on it: one entry per run, then what each mark means."""
    by_run = [Line2D([], [], color=c, marker="o", linewidth=2.2, label=r.label) for r, c in zip(runs, colours)]
    fig.legend(handles=by_run, loc="outside right upper", fontsize=10, title="run", title_fontsize=10, frameon=False)
    grey = "#444444"
    styles = [
        Line2D([], [], color=grey, marker="o", linestyle="none", label="finished child"),
        Line2D([], [], color=FAILED, marker="x", linestyle="none", markeredgewidth=1.6, label="failed child"),
        Line2D([], [], color=grey, linewidth=2.2, label="best so far"),
        Line2D([], [], color=grey, linestyle="--", marker=".", label="baseline (moving average)"),
        Line2D([], [], color=grey, linestyle=":", marker=".", label="batch's mean reward"),
    ]
    fig.legend(handles=styles, loc="outside right lower", fontsize=10, frameon=False)


def _plot_epochs(ax, runs: list[RunHistory], colours: list[str]) -> None:
    """ENAS: per epoch, shared-weights loss and validation reward (left axis), entropy (right axis)."""
    entropy_ax = ax.twinx()
    for run, colour in zip(runs, colours):
        epochs = [r.epoch + 1 for r in run.epochs]
        if epochs:
            ax.plot(epochs, [r.shared_loss for r in run.epochs], color=colour, marker=".", label="shared loss")
            ax.plot(epochs, [r.valid_reward for r in run.epochs], color=colour, linestyle="--", marker=".")
            entropy_ax.plot(epochs, [r.entropy for r in run.epochs], color=colour, linestyle=":", marker=".")
    ax.set_title("ENAS per epoch: shared-weights loss (solid), validation reward (dashed), entropy (dotted, right)",
                 fontsize=11)
    ax.set_xlabel("epoch", fontsize=12)
    entropy_ax.set_ylabel("entropy", fontsize=11)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def plot_runs(runs: list[RunHistory], config: ReportConfig = ReportConfig()) -> bytes:
    """The chart as PNG bytes, `config.pixels` in size."""
    fig = Figure(figsize=(config.width_in, config.height_in), dpi=config.dpi, layout="constrained")
    colours = [c for _, c in zip(runs, itertools.cycle(RUN_COLOURS))]
    top = fig
    cost = config.cost_for(runs)
    if cost is not None:  # the front below everything else
        top, front_fig = fig.subfigures(2, 1, height_ratios=[2, 1])
        plot_front(front_fig.subplots(), runs, colours, cost, config.show_refused)
    if any(run.epochs for run in runs):  # ENAS: its per-epoch panel below the history
        top, epoch_fig = top.subfigures(2, 1, height_ratios=[2, 1])
        _plot_epochs(epoch_fig.subplots(), runs, colours)
    elif any(run.rungs for run in runs):  # --rungs: the rung chart below the history
        top, rung_fig = top.subfigures(2, 1, height_ratios=[2, 1])
        plot_rungs(rung_fig.subplots(), runs, colours)
    panels = [(name, plot) for name, plot in (("fidelity", plot_fidelity), ("truth", plot_truth))
              if any(getattr(r, name) for r in runs)]
    if panels:  # fidelity studies: their scatters to the right of the history, one above the other
        right = [name for name, _ in panels]
        layout = [["reward", right[0]], ["depth", right[-1]]] if len(right) == 1 else \
            [["reward", right[0]], ["reward", right[1]], ["depth", right[1]]]
        axes = top.subplot_mosaic(layout, width_ratios=[2.2, 1], height_ratios=[3, 1] if len(right) == 1 else [2, 1, 1])
        reward_ax, depth_ax = axes["reward"], axes["depth"]
        depth_ax.sharex(reward_ax)
        for name, plot in panels:
            plot(axes[name], runs, colours)
    else:
        reward_ax, depth_ax = top.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    simulated_time = bool(runs) and all(run.simulated for run in runs)  # benchmark runs: against their clock
    for k, (run, colour) in enumerate(zip(runs, colours)):
        _plot_rewards(reward_ax, run, colour, simulated_time)
        if run.children:  # later runs thinner, so that runs with the same schedule all stay visible
            depth_ax.step(run.positions(simulated_time), run.depths(), where="mid", color=colour,
                          linewidth=max(1.5, 4.8 - 2.4 * k))
    reward_ax.set_title("reward of each child" + _made_from(runs), fontsize=13)
    reward_ax.set_ylabel("reward", fontsize=12)
    reward_ax.grid(alpha=0.3)
    if not any(r.children for r in runs):
        reward_ax.text(0.5, 0.5, "no children sampled yet", transform=reward_ax.transAxes, ha="center", fontsize=12)
    _legends(fig, runs, colours)
    depths = [d for run in runs for d in run.depths()]
    if depths:  # a margin of one layer, so that a constant depth gets integer ticks around it
        depth_ax.set_ylim(min(depths) - 1, max(depths) + 1)
    depth_ax.set_ylabel("depth", fontsize=12)
    depth_ax.set_xlabel("simulated seconds (each query charges the table's training time)" if simulated_time
                        else "child, in sampling order", fontsize=12)
    depth_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    depth_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    depth_ax.grid(alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
