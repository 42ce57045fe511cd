"""The rung chart of `nascli report` for runs searched with `--rungs`: children per rung and scores by rung."""

from __future__ import annotations

from ..runs import RunStore


def rung_scores(store: RunStore) -> dict[int, list[float]]:
    """Epochs of each rung -> the rewards of the children that finished it (failed ones left out)."""
    scores: dict[int, list[float]] = {}
    for row in store.rungs():
        if row.status == "done":
            scores.setdefault(row.epochs, []).append(row.reward)
    return dict(sorted(scores.items()))


def plot_rungs(ax, runs, colours: list[str]) -> None:
    """Per run, each rung's rewards as a strip of points (a rung per column, runs side by side) and, above
    each column, how many children finished that rung."""
    ladder = sorted({epochs for run in runs for epochs in run.rungs})
    width = 0.8 / max(1, len(runs))
    for k, (run, colour) in enumerate(zip(runs, colours)):
        for i, epochs in enumerate(ladder):
            rewards = run.rungs.get(epochs, [])
            if not rewards:
                continue
            x = i - 0.4 + width * (k + 0.5)
            spread = [x + width * 0.35 * ((j * 0.618) % 1 - 0.5) for j in range(len(rewards))]  # even jitter
            ax.scatter(spread, rewards, s=9, color=colour, alpha=0.6)
            ax.annotate(f"{len(rewards)}", (x, max(rewards)), textcoords="offset points", xytext=(0, 4),
                        ha="center", fontsize=9, color=colour)
    ax.set_xticks(range(len(ladder)), [f"{e} epochs" for e in ladder])
    ax.set_title("rungs: the reward of each child that finished a rung (the count above each column)", fontsize=11)
    ax.set_ylabel("reward", fontsize=11)
    ax.grid(alpha=0.3)
