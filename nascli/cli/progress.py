"""The live view of a running search: progress, ETA, current and best reward, top children."""

from __future__ import annotations

import time

from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from typing import TYPE_CHECKING

from ..runs import RunStore

if TYPE_CHECKING:
    from ..search.loop import SearchEvent


class SearchView:
    """Observer of the search loop that redraws a rich Live panel from the run store."""

    def __init__(self, store: RunStore, budget: int | None, console, clock=None):
        self.store, self.budget, self.clock = store, budget, clock  # clock: with --time-budget (search/clock.py)
        done = sum(n for s, n in store.counts().items() if s in ("done", "failed"))
        self.progress = Progress(TextColumn("[bold]children"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("eta"), TimeRemainingColumn(), TimeElapsedColumn(), console=console)
        self.task = self.progress.add_task("children", total=budget, completed=done)
        self.status = "starting"
        self.live = Live(self._render(), console=console, refresh_per_second=2, transient=False)

    def __enter__(self) -> "SearchView":
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.update(self._render())
        self.live.__exit__(*exc)

    def _top(self) -> Table:
        table = Table("id", "reward", "metric", "params", "s", "architecture", title="best so far", title_justify="left")
        for c in self.store.best(5):
            table.add_row(str(c.id), f"{c.reward:.4f}", f"{c.metric:.4g}", f"{c.params:,}", f"{c.seconds:.0f}",
                          c.tokens if len(c.tokens) < 70 else c.tokens[:67] + "...")
        return table

    def _render(self) -> Group:
        return Group(self.progress, self.status, self._top())

    def __call__(self, event: SearchEvent) -> None:
        if event.kind == "step_started":
            depth = f", {event.depth} layers" if event.depth else ""
            self.status = f"step {event.step}{depth}: training children ({time.strftime('%H:%M:%S')})"
        elif event.kind == "child_finished":
            r = event.result
            self.progress.update(self.task, advance=1)
            if r.status == "done":
                self.status = f"child {r.child_id}: reward {r.reward:.4f} ({r.metric_name} {r.metric:.4g}) in {r.seconds:.0f}s"
            else:
                self.status = f"[red]child {r.child_id} failed[/]: {r.error}"
            if self.clock is not None:
                kind = "simulated" if self.clock.simulated else "wall-clock"
                self.status += f"; {self.clock.elapsed:,.0f} of {self.clock.budget:,.0f} {kind} s used"
        elif event.stats is not None:
            s = event.stats
            self.status = f"step {event.step}: mean reward {s.mean_reward:.4f}, baseline {s.baseline:.4f}, entropy {s.entropy_mean:.1f}"
        self.live.update(self._render())
