"""`nascli search --strategy enas`: what it prints at start (settings per ENAS family), its live view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from .progress import STEP_LINES, SearchView, plural

if TYPE_CHECKING:
    from ..search.enas.search import EnasEvent
    from ..search.loop import SearchConfig


def print_settings(config: SearchConfig, family: str, console) -> None:
    """The settings in force, and the reference's where the CPU defaults are smaller."""
    from ..search.enas.config import REFERENCE
    from ..search.enas.supernet import LANGUAGE_FAMILIES

    e, c = config.enas, config.controller
    text = family in LANGUAGE_FAMILIES
    unit = "token streams" if text else "images"
    console.print(
        f"{plural(e.epochs, 'epoch')}; each: shared weights on {e.train_subset or 'all'} training "
        f"{'tokens' if text else 'images'} in minibatches of {e.batch_size} {unit} (SGD lr {e.lr:g}, "
        f"{e.schedule}), then {plural(e.controller_steps, 'controller step')} x "
        f"{plural(e.controller_aggregate, 'child', 'children')}, each "
        f"rewarded on {e.reward_batch} validation {unit} "
        f"(Adam lr {e.controller_lr:g}, entropy weight {e.entropy_weight:g}"
        f"{f', skip target {e.skip_target:g} weight {e.skip_weight:g}' if e.skip_weight else ''}); "
        f"then {plural(config.budget, 'child', 'children')} derived")
    console.print(f"controller: {c.layers} x {c.hidden} LSTM, temperature {c.temperature}, tanh constant "
                  f"{c.tanh_constant}, op tanh reduce {c.op_tanh_reduce}")
    if e.depth is not None:
        console.print(f"children of {e.depth} layers (--depth; default: the first of the space's depth schedule)")
    ref = ", ".join(f"{k} {v}" for k, v in REFERENCE[family].items())
    console.print(f"[dim]CPU-sized defaults; the reference code uses {ref} "
                  f"(--epochs, --shared-batch-size, --controller-steps, --batch)[/]")


class EnasView(SearchView):
    """The live view of an ENAS search: epochs, then the derived children, and the best so far; under
    limits, how many samples they refused while training (the derived draws they refused are rows, counted
    as any search's)."""

    def __init__(self, store, config: SearchConfig, console):
        self.limits = config.constraints.describe()  # '' without a hard limit: nothing is refused
        self.running: dict[str, int] = {}  # the refusals of the epoch in progress (its row not yet written)
        super().__init__(store, config.budget, console)
        self.epochs = config.enas.epochs
        self.progress.update(self.task, total=self.epochs + config.budget,
                             completed=len(store.epochs()) + self.progress.tasks[0].completed)

    def _epochs(self) -> Table:
        table = Table("epoch", "shared loss", "valid reward", "entropy", "s", "controller %",
                      *(["refused"] if self.limits else []), title="epochs", title_justify="left")
        for r in self.store.epochs()[-5:]:
            share = 100 * r.controller_seconds / r.seconds if r.seconds else 0.0
            table.add_row(str(r.epoch), f"{r.shared_loss:.4f}", f"{r.valid_reward:.4f}", f"{r.entropy:.1f}",
                          f"{r.seconds:.0f}", f"{share:.1f}",
                          *([f"{r.refused_shared or 0} / {r.refused_controller or 0}"] if self.limits else []))
        return table

    def training_refusals(self) -> str | None:
        """'refused while training: 9 shared-weights draws / 6 controller samples' (the epochs table's
        'refused' column, summed) over the finished epochs and the one in progress; short enough for an
        80-column terminal, where the live view cuts its lines."""
        if not self.limits:
            return None
        rows = self.store.epochs()
        shared = sum(r.refused_shared or 0 for r in rows) + self.running.get("refused_shared", 0)
        controller = sum(r.refused_controller or 0 for r in rows) + self.running.get("refused_controller", 0)
        return (f"refused while training: {plural(shared, 'shared-weights draw')} / "
                f"{plural(controller, 'controller sample')}")

    def _render(self):
        group = super()._render()
        refused = self.training_refusals()
        at = 1 + min(len(self.steps), STEP_LINES) + bool(self.status)
        group.renderables[at:at] = [self._epochs(), *([escape(refused)] if refused else [])]
        return group

    def __call__(self, event: EnasEvent) -> None:
        e = event.epoch + 1
        if event.kind in ("batch", "controller_step"):
            self.running = event.refused
        if event.kind == "batch":
            self.status = f"epoch {e}/{self.epochs}: shared weights, minibatch {event.done}/{event.total}, loss {event.loss:.4f}"
        elif event.kind == "controller_step":
            s = event.stats
            self.status = (f"epoch {e}/{self.epochs}: controller step {event.done}/{event.total}, reward "
                           f"{s.mean_reward:.4f}, baseline {s.baseline:.4f}, entropy {s.entropy:.1f}")
        elif event.kind == "epoch_finished":
            self.running = {}  # counted in the epoch's row from now on
            self.progress.update(self.task, advance=1)
        elif event.kind == "deriving":
            self.status = f"deriving: scoring {event.total} children sampled from the trained policy"
        else:
            super().__call__(event)  # child_finished reads like any search's
            return
        self.live.update(self._render())
