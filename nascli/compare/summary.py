"""The comparison's table: per strategy, what its runs chose, summarised, and a p-value against random.

On a benchmark the figure compared is the table's test accuracy of the child
each run chose by validation (`test`), with the table's full-fidelity
validation accuracy of the same child beside it (`valid`), both in percent, as
the NAS-Bench-201 paper reports them. On real data there is no test figure:
the figure compared is each run's best validation score (`valid`; accuracies
in percent). The p-value is Welch's two-sided t-test of a strategy's figures
against random's (stats.py); random's own row, and every row when random is
not compared, have none.
"""

from __future__ import annotations

from dataclasses import dataclass

from .outcome import RunOutcome, run_outcome
from .plan import ComparisonPlan
from .stats import Summary, summarise, welch_p

TEST_NAME = "Welch's t-test, two-sided"


@dataclass(frozen=True)
class Row:
    strategy: str
    runs: int
    test: Summary | None
    valid: Summary | None
    p_vs_random: float | None

    @property
    def primary(self) -> Summary | None:
        return self.test if self.test is not None else self.valid

    @property
    def secondary(self) -> Summary | None:
        return self.valid if self.test is not None else None


@dataclass(frozen=True)
class CompareTable:
    rows: list[Row]
    outcomes: dict[str, list[RunOutcome]]  # the runs each row summarises
    benchmark: bool
    primary: str  # what the primary figure is, in words
    secondary: str
    title: str
    left_out: int = 0  # runs not finished (failed, or stopped): not in the rows
    percent: bool = True
    test_name: str = TEST_NAME

    @property
    def note(self) -> str:
        chosen = "the child each run chose by validation" if self.benchmark else "each run's best child"
        figures = f"{self.primary} and {self.secondary}" if self.benchmark else self.primary
        return (f"{figures} of {chosen}; p: {self.test_name} against random"
                + (f"; {self.left_out} unfinished runs left out" if self.left_out else ""))

    @property
    def all_outcomes(self) -> list[RunOutcome]:
        return [o for runs in self.outcomes.values() for o in runs]

    def as_json(self) -> dict:
        def number(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        strategies = {}
        for row in self.rows:
            test, valid = row.test, row.valid
            strategies[row.strategy] = {
                "runs": row.runs,
                "test_mean": number(test.mean) if test else None,
                "test_std": number(test.std) if test else None,
                "test_ci95": [number(v) for v in test.ci95] if test and test.ci95 else None,
                "valid_mean": number(valid.mean) if valid else None,
                "valid_std": number(valid.std) if valid else None,
                "p_vs_random": row.p_vs_random,
            }
        return {"strategies": strategies}


def compare_table(plan: ComparisonPlan) -> CompareTable:
    outcomes: dict[str, list[RunOutcome]] = {s: [] for s in plan.strategies}
    slots = plan.slots()
    for slot in slots:
        if slot.state() == "finished":
            found = run_outcome(slot.path)
            if found.child_id is not None:
                outcomes[slot.strategy].append(found)
    bench = plan.options.benchmark is not None
    figure = (lambda o: o.test) if bench else (lambda o: o.valid)
    baseline = [figure(o) for o in outcomes.get("random", [])]
    rows = []
    for strategy, runs in outcomes.items():
        values = [figure(o) for o in runs]
        p = None if strategy == "random" or "random" not in outcomes else welch_p(values, baseline)
        rows.append(Row(strategy, len(runs), summarise(values) if bench else None,
                        summarise([o.valid for o in runs]), p))
    included = sum(len(runs) for runs in outcomes.values())
    return CompareTable(rows=rows, outcomes=outcomes, benchmark=bench, left_out=len(slots) - included, **_names(plan))


def _names(plan: ComparisonPlan) -> dict:
    """What the table's figures are, in words, and its title."""
    from ..benchmarks import get_benchmark
    from ..search.options import search_config

    o = plan.options
    if o.benchmark is None:
        return {"primary": "best validation score", "secondary": "-", "title": f"{o.space}: best validation score"}
    bench = search_config(plan.run_options(plan.slots()[0])).benchmark
    top = max(get_benchmark(bench.name).table(bench.table).fidelities(bench.dataset))
    budget = f", {o.time_budget:,g} simulated s" if o.time_budget else ""
    return {"primary": f"test ({bench.dataset}_test_{top})", "secondary": f"valid ({bench.dataset}_valid_{top})",
            "title": f"{o.space} on {bench.name} {bench.dataset}{budget}, rewarded by {bench.dataset}_valid_"
                     f"{bench.fidelity}"}
