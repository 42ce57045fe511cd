"""The hard limits' options, shared by `search` and `compare` (docs/budgets.md)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .numbers import float_option

BUDGET_PANEL = "Budget (hard limits: a child over one is never trained)"

MaxParamsOpt = Annotated[Optional[str], typer.Option(help="Most parameters a child may have, with a unit: 1.5M, 300k, 2G (benchmark: the table's params column).", rich_help_panel=BUDGET_PANEL)]
MaxMacsOpt = Annotated[Optional[str], typer.Option(help="Most multiply-adds per example: 300M, 1.2G (benchmark: the table's FLOPs column).", rich_help_panel=BUDGET_PANEL)]
MaxLatencyOpt = Annotated[Optional[str], typer.Option(help="Most forward-pass latency on --device, with a unit: 5ms, 0.2s, 800us (3 warm-up passes, then 3 rounds of 10 timed ones, on the thread's CPU clock with 1 thread on the cpu so that a loaded machine's waits do not count; a child is accepted only when every round's fastest pass is within the limit, and that slowest round is its recorded latency; cached per architecture in the run), or predicted by the latency table (--latency-model).", rich_help_panel=BUDGET_PANEL)]
LatencyBatchOpt = Annotated[Optional[int], typer.Option(min=1, help="Examples per timed forward pass for --max-latency \\[default: 1].", rich_help_panel=BUDGET_PANEL)]
LatencyModelOpt = Annotated[Optional[str], typer.Option(help="How --max-latency and --objective latency get a child's latency: measured (each child timed whole, cached in the run), table (predicted from the run's latency table: each (position, layer, input shape) timed once, summed, plus a fixed part measured on 5 children; a child the table predicts over the limit is refused on the prediction; one it lets through is timed whole before it trains, and that timing is checked and recorded; under --strategy enas, whose shared training draws a child per step, the prediction alone decides) or auto (table for --strategy enas, measured otherwise) \\[default: auto]. Kept on resume. See docs/budgets.md.", rich_help_panel=BUDGET_PANEL)]
LatencyMarginOpt = Annotated[Optional[str], typer.Option(help="With --max-latency: accept a child only when its latency is at most the limit less this share of it, so that timed again later, under another load, it still meets the limit (5ms with 10%: at most 4.5ms); 0 accepts up to the limit itself \\[default: 10%]. Kept on resume. See docs/budgets.md.", rich_help_panel=BUDGET_PANEL)]
RefusedRewardOpt = Annotated[Optional[float], float_option(help="reinforce and enas (controller steps): the reward of a sample over a limit (recorded as refused, never trained), so the controller learns the boundary \\[default: 0].", rich_help_panel=BUDGET_PANEL)]
ObjectiveOpt = Annotated[Optional[str], typer.Option(help="MnasNet's soft objective: reward × (cost / target)^w, for params=0.5M, macs=300M or latency=5ms. See docs/budgets.md.", rich_help_panel=BUDGET_PANEL)]
ObjectiveWOpt = Annotated[Optional[float], float_option(help="--objective's w at or below the target \\[default: -0.07, MnasNet's; 0 with --objective-w-over -1 makes the target a limit].", at_most=0, rich_help_panel=BUDGET_PANEL)]
ObjectiveWOverOpt = Annotated[Optional[float], float_option(help="--objective's w above the target \\[default: --objective-w].", at_most=0, rich_help_panel=BUDGET_PANEL)]


def within_limits(max_params: str | None, max_macs: str | None, max_latency: str | None, device: str):
    """`eval --best`'s test of a recorded child against the limits (None without any): its recorded
    params and MACs; its recorded latency, or one measured now on `device` when the run has none."""
    from ..budget import Constraints, Cost, parse_count, parse_latency

    if max_params is None and max_macs is None and max_latency is None:
        return None
    limits = Constraints(max_params=parse_count(max_params, "--max-params") if max_params else None,
                         max_macs=parse_count(max_macs, "--max-macs") if max_macs else None,
                         max_latency_ms=parse_latency(max_latency) if max_latency else None)

    def fits(child, store) -> str | None:
        latency = child.latency_ms
        if limits.needs_latency and latency is None:
            latency = _measure(child, store, device)
        return limits.over(Cost(child.params, child.macs, latency))

    return fits


def _measure(child, store, device: str) -> float:
    from ..arch import decode
    from ..budget.latency import measure_latency
    from ..runs import run_space
    from ..runs.lookup import run_settings

    settings = run_settings(store)
    return measure_latency(decode(child.tokens, run_space(store)), settings.data.load().task, device,
                           child=settings.child)
