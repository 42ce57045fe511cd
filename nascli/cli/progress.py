"""The live view of a running search: progress, ETA, current and best reward, top children and their costs
(params, MACs, latency when a --max-latency search measured it), and how many samples the limits refused."""

from __future__ import annotations

import time

from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.markup import escape
from rich.table import Table

from typing import TYPE_CHECKING

from ..budget.units import format_count, format_ms
from ..runs import RunStore
from ..runs.metrics import CHANCE_KEY, Chance, format_metric
from .budget_view import refusals_line

if TYPE_CHECKING:
    from ..search.loop import SearchEvent


STEP_LINES = 4  # finished controller steps the view keeps on screen, newest last


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 epoch`, `2 epochs`; `words` for an irregular plural (children)."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {words or word + 's'}"


def cut_text(text: str, width: int) -> str:
    """`text` cut to `width` characters at a space, ending in '…': never inside a number or a token."""
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width - 1)
    return text[:cut if cut > 0 else width - 1].rstrip(" /;") + " …"


class SearchView:
    """Observer of the search loop that redraws a rich Live panel from the run store."""

    def __init__(self, store: RunStore, budget: int | None, console, clock=None):
        self.store, self.budget, self.console = store, budget, console
        self.clock = clock  # with --time-budget: the search's clock (search/clock.py), shown as it runs
        self.chance = Chance.loads(store.get_meta(CHANCE_KEY))
        done = sum(n for s, n in store.counts().items() if s in ("done", "failed"))
        self.progress = Progress(TextColumn("[bold]children"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("eta"), TimeRemainingColumn(), TimeElapsedColumn(), console=console)
        self.task = self.progress.add_task("children", total=budget, completed=done)
        self.status = "starting"
        self.steps: list[str] = []  # one line per finished controller step
        self.live = Live(self._render(), console=console, refresh_per_second=2, transient=False)

    def __enter__(self) -> "SearchView":
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.update(self._render())
        self.live.__exit__(*exc)
        if not self.console.is_terminal:  # a file or pipe gets the last frame without its line end
            self.console.line()

    def _metric_column(self) -> str:
        return f"metric ({self.chance.text()})" if self.chance else "metric"

    def _top(self) -> Table:
        best = self.store.best(5)
        timed = any(c.latency_ms is not None for c in best)  # latency is measured only when a limit needs it
        table = Table("id", "reward", self._metric_column(), "params", "MACs", *(["latency"] if timed else []), "s",
                      "architecture", title="best so far", title_justify="left")
        for c in best:
            table.add_row(str(c.id), f"{c.reward:.4f}", format_metric(c.metric_name, c.metric), f"{c.params:,}",
                          format_count(c.macs), *([format_ms(c.latency_ms)] if timed else []), f"{c.seconds:.0f}",
                          cut_text(c.tokens, 60 if timed else 70))
        return table

    def _render(self) -> Group:
        status = [self.status] if self.status else []
        refused = refusals_line(self.store)
        return Group(self.progress, *self.steps[-STEP_LINES:], *status, *([escape(refused)] if refused else []),
                     self._top())

    def __call__(self, event: SearchEvent) -> None:
        if event.kind == "step_started":
            depth = f", {event.depth} layers" if event.depth else ""
            self.status = f"step {event.step}{depth}: training children ({time.strftime('%H:%M:%S')})"
        elif event.kind == "child_finished":
            r = event.result
            self.progress.update(self.task, advance=1)
            if r.status == "done":
                chance = f", {self.chance.text()}" if self.chance else ""
                cost = f", {format_count(r.params)} params, {format_count(r.macs)} MACs" if r.params is not None else ""
                self.status = (f"child {r.child_id}: reward {r.reward:.4f} from {format_metric(r.metric_name, r.metric)}"
                               f"{chance}{cost}, in {r.seconds:.0f}s")
            else:
                self.status = f"[red]child {r.child_id} failed[/]: {escape(r.error or '')}"
            if self.clock is not None:
                kind = "simulated" if self.clock.simulated else "wall-clock"
                self.status += f"; {self.clock.elapsed:,.0f} of {self.clock.budget:,.0f} {kind} s used"
        elif event.kind == "step_finished":
            s = event.stats
            self.steps.append(f"step {event.step}: mean reward {s.mean_reward:.4f}, baseline {s.baseline:.4f}, "
                              f"entropy {s.entropy_mean:.1f}" if s is not None else f"step {event.step}: done")
            self.status = ""
        self.live.update(self._render())
