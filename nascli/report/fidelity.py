"""The ranking panels: each child's search-time score against a second measurement of it.

`nascli fidelity` (RUN/fidelity/fidelity.json): the retrained children's
stand-alone scores. `nascli fidelity --truth` (RUN/fidelity/truth.json): the
benchmark table's fully trained accuracy of every child. The two axes have
different scales on purpose (a short proxy against a longer training), so
there is no diagonal: what matters is whether the order agrees, which the
legend's τ and ρ measure.
"""

from __future__ import annotations

from .history import RunHistory


def _stat(name: str, c) -> str:
    if c.value is None:
        return f"{name} undefined"
    ci = f" [{c.low:+.2f}, {c.high:+.2f}]" if c.low is not None else ""
    return f"{name} = {c.value:+.2f}{ci}"


def correlation_label(study, between: str = ", ") -> str:
    """`τ = +0.60 [-0.20, +1.00], ρ = ...`: a study's correlations, for legends and the HTML page."""
    return f"{_stat('τ', study.kendall_tau)}{between}{_stat('ρ', study.spearman_rho)}"


def _scatter(ax, runs: list[RunHistory], colours: list[str], points, study) -> None:
    """One colour per run, as in the reward panel; each point labelled with its child id.
    `study(run)`: the run's result or None; `points(result)`: its (child id, x, y)."""
    for run, colour in zip(runs, colours):
        result = study(run)
        if result is None:
            continue
        drawn = points(result)
        if drawn:
            ax.scatter([x for _, x, _ in drawn], [y for _, _, y in drawn], s=34, color=colour,
                       label=f"{run.name}\n{correlation_label(result, between=chr(10))}", zorder=3)
        if len(drawn) <= 30:  # more ids than that only hide the points
            for child_id, x, y in drawn:
                ax.annotate(f"#{child_id}", (x, y), textcoords="offset points", xytext=(4, 3), fontsize=8, color=colour)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", frameon=False)  # agreeing ranks leave that corner empty


def plot_fidelity(ax, runs: list[RunHistory], colours: list[str]) -> None:
    _scatter(ax, runs, colours, lambda study: [(p.child_id, p.search_metric, p.standalone_metric)
                                               for p in study.pairs if p.standalone_metric is not None],
             lambda run: run.fidelity)
    name = ", ".join(sorted({r.fidelity.metric_name for r in runs if r.fidelity})).replace("_", " ")
    ax.set_title("search's ranking vs stand-alone", fontsize=13)
    ax.set_xlabel(f"search-time {name}", fontsize=11)
    ax.set_ylabel(f"stand-alone {name}", fontsize=11)


def plot_truth(ax, runs: list[RunHistory], colours: list[str]) -> None:
    _scatter(ax, runs, colours, lambda truth: [(p.child_id, p.search_metric, p.truth) for p in truth.pairs],
             lambda run: run.truth)
    truths = [r.truth for r in runs if r.truth]
    ax.set_title(f"search's ranking vs {', '.join(sorted({t.benchmark for t in truths}))}", fontsize=13)
    ax.set_xlabel(f"search-time {', '.join(sorted({t.metric_name for t in truths})).replace('_', ' ')}", fontsize=11)
    ax.set_ylabel(f"table's {', '.join(sorted({t.truth_column for t in truths}))} (%)", fontsize=11)
