"""The HTML report: one self-contained page, the chart embedded as base64, a table of each run's best children."""

from __future__ import annotations

import base64
from html import escape

from ..budget.pareto import child_front, export_command
from ..budget.units import format_count, format_ms
from ..runs.metrics import format_metric
from .fidelity import correlation_label
from .front import COST_AXES
from .history import RunHistory

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 80em; color: #222; }
img { max-width: 100%; border: 1px solid #ddd; }
table { border-collapse: collapse; margin-bottom: 2em; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.95em; word-break: break-all; }
"""


def _front(run: RunHistory, cost: str | None) -> str:
    """The run's Pareto front against `cost`, cheapest first: id, validation, cost, the command exporting it."""
    if cost is None:
        return ""
    front = child_front(run.children, cost)
    shown = format_ms if cost == "latency_ms" else format_count
    rows = "".join(f"<tr><td class='num'>{c.id}</td><td>{escape(format_metric(c.metric_name, c.metric))}</td>"
                   f"<td class='num'>{escape(shown(getattr(c, cost)))}</td>"
                   f"<td><code>{escape(export_command(run.path, c.id))}</code></td></tr>" for c in front)
    head = f"<tr><th>child</th><th>validation</th><th>{escape(COST_AXES[cost])}</th><th>export</th></tr>"
    title = f"<p>Pareto front, validation vs {escape(COST_AXES[cost])}: {len(front)} children</p>"
    return title + (f"<table>{head}{rows}</table>" if front else "")


def _table(run: RunHistory) -> str:
    counts = {s: sum(c.status == s for c in run.children) for s in ("done", "failed", "pending", "running")}
    rows = "".join(
        f"<tr><td class='num'>{rank}</td><td class='num'>{c.id}</td><td class='num'>{c.reward:.4g}</td>"
        f"<td>{escape(format_metric(c.metric_name, c.metric))}</td><td><code>{escape(c.tokens)}</code></td></tr>"
        for rank, c in enumerate(run.top, start=1))
    made = f"reward made from ({escape(run.chance.text())})" if run.chance else "reward made from"
    head = f"<tr><th>#</th><th>child</th><th>reward</th><th>{made}</th><th>architecture (tokens)</th></tr>"
    status = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    body = f"<table>{head}{rows}</table>" if run.top else "<p>no finished child yet</p>"
    study = (f"<p>fidelity ({len(run.fidelity.pairs)} children retrained stand-alone): "
             f"{escape(correlation_label(run.fidelity))}</p>") if run.fidelity else ""
    if run.truth:
        study += (f"<p>truth ({len(run.truth.pairs)} architectures against {escape(run.truth.benchmark)}'s "
                  f"{escape(run.truth.truth_column)}): {escape(correlation_label(run.truth))}</p>")
    return (f"<h2>{escape(run.label)}</h2><p>{escape(str(run.path))}: {escape(run.state)}"
            f"{', ' + status if status else ''}</p>{study}{body}")


def _epochs(run: RunHistory) -> str:
    """ENAS runs: one row per epoch."""
    if not run.epochs:
        return ""
    rows = "".join(
        f"<tr><td class='num'>{r.epoch + 1}</td><td class='num'>{r.shared_loss:.4f}</td>"
        f"<td class='num'>{r.valid_reward:.4f}</td><td class='num'>{r.entropy:.2f}</td>"
        f"<td class='num'>{r.seconds:.1f}</td></tr>" for r in run.epochs)
    head = ("<tr><th>epoch</th><th>shared-weights loss</th><th>validation reward</th><th>controller entropy</th>"
            "<th>seconds</th></tr>")
    return f"<table>{head}{rows}</table>"


def report_page(runs: list[RunHistory], png: bytes, cost: str | None = None) -> str:
    """The page: the chart, then per run its best children, its Pareto front against `cost` (if any), its epochs."""
    image = base64.b64encode(png).decode("ascii")
    title = "nascli report: " + ", ".join(r.name for r in runs)
    return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>"
            f"<img alt='search history' src='data:image/png;base64,{image}'>"
            + "".join(_table(run) + _front(run, cost) + _epochs(run) for run in runs) + "</body></html>\n")
