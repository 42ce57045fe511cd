"""The fidelity panel: each retrained child's search-time score against its stand-alone score.

Drawn when a run folder holds a `nascli fidelity` study (RUN/fidelity/fidelity.json).
The two axes have different scales on purpose (a short proxy training against a
longer one), so there is no diagonal: what matters is whether the order agrees,
which the legend's τ and ρ measure.
"""

from __future__ import annotations

from .history import RunHistory


def _stat(name: str, c) -> str:
    if c.value is None:
        return f"{name} undefined"
    ci = f" [{c.low:+.2f}, {c.high:+.2f}]" if c.low is not None else ""
    return f"{name} = {c.value:+.2f}{ci}"


def fidelity_label(run: RunHistory, between: str = ", ") -> str:
    """`τ = +0.60 [-0.20, +1.00], ρ = ...`: the study's correlations, for legends and the HTML page."""
    study = run.fidelity
    return f"{_stat('τ', study.kendall_tau)}{between}{_stat('ρ', study.spearman_rho)}"


def plot_fidelity(ax, runs: list[RunHistory], colours: list[str]) -> None:
    """One colour per run, as in the reward panel; each point labelled with its child id."""
    metrics = set()
    for run, colour in zip(runs, colours):
        if run.fidelity is None:
            continue
        scored = [p for p in run.fidelity.pairs if p.standalone_metric is not None]
        metrics.add(run.fidelity.metric_name)
        if scored:
            ax.scatter([p.search_metric for p in scored], [p.standalone_metric for p in scored], s=34,
                       color=colour, label=f"{run.name}\n{fidelity_label(run, between=chr(10))}", zorder=3)
        for p in scored:
            ax.annotate(f"#{p.child_id}", (p.search_metric, p.standalone_metric), textcoords="offset points",
                        xytext=(4, 3), fontsize=8, color=colour)
    name = ", ".join(sorted(metrics)).replace("_", " ")
    ax.set_title("search's ranking vs stand-alone", fontsize=13)
    ax.set_xlabel(f"search-time {name}", fontsize=11)
    ax.set_ylabel(f"stand-alone {name}", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", frameon=False)  # agreeing ranks leave that corner empty
