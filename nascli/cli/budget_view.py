"""What `show` says about costs and budgets: the refused samples, and the Pareto front (`--pareto`)."""

from __future__ import annotations

from rich.table import Table

from ..budget import Constraints
from ..budget.pareto import child_front, export_command
from ..budget.units import format_count, format_ms
from ..runs import RunStore
from ..runs.metrics import format_metric

COST_LABELS = {"params": "params", "macs": "MACs", "latency_ms": "latency"}


def refusals_line(store: RunStore) -> str | None:
    """'12 samples refused by the limits (--max-params 500k), e.g. #3: 1.2M params > --max-params 500k'."""
    refused = store.children(status="refused")
    if not refused:
        return None
    shown = Constraints.model_validate(store.config.get("constraints") or {}).describe()
    return (f"{len(refused)} samples refused by the limits ({shown}), never trained; "
            f"e.g. #{refused[0].id}: {refused[0].error}")


def pareto_table(store: RunStore, cost: str) -> tuple[Table, list[str]]:
    """The trained children no other beats on both validation quality and `cost`, cheapest first; and the
    command that exports each of them."""
    front = child_front(store.children(), cost)
    table = Table("id", "step", "validation", "params", "MACs", "latency",
                  title=f"{store.path}: Pareto front, validation vs {COST_LABELS[cost]} "
                        f"({len(front)} of {store.counts()['done']} trained children)")
    for c in front:
        table.add_row(str(c.id), str(c.step), format_metric(c.metric_name, c.metric), format_count(c.params), format_count(c.macs),
                      format_ms(c.latency_ms))
    exports = [f"#{c.id}: {export_command(store.path, c.id)}" for c in front]
    return table, (["export a child of the front (or eval --child ID --run RUN to retrain it):"] + exports if front else [])
