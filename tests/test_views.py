"""Costs where children are shown (issue 20): `report --cost` and its Pareto front, `export`/`eval --child`,
the live view's costs, and `show`'s header."""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

import pytest

from nascli.arch.sample import sample_architecture
from nascli.budget import Cost
from nascli.budget.units import format_count
from nascli.budget.pareto import child_front
from nascli.cli import app
from nascli.data.spec import DataSpec
from nascli.report import ReportConfig, front_points, load_history, write_report
from nascli.runs import RunStore
from nascli.search.loop import SearchConfig
from nascli.space import load_space
from nascli.space.compiler import compile_space

# (status, validation accuracy, params, MACs) per child, in id order: the front against params is
# #1 (cheapest), #3 (more accurate at more cost), #6 (the most accurate); #2 is beaten by #1, #4 by #3,
# #5 failed and #7 was refused (a cost, no accuracy).
KNOWN = [("done", 0.50, 1_000, 90_000), ("done", 0.40, 2_000, 10_000), ("done", 0.70, 3_000, 30_000),
         ("done", 0.60, 4_000, 40_000), ("failed", None, None, None), ("done", 0.90, 9_000, 20_000),
         ("refused", None, 50_000, 500_000)]


def known_run(path: Path) -> Path:
    """A run of mlp.space on the csv data with the children of KNOWN (real token strings, made-up results)."""
    loaded = load_space("mlp")
    text = Path(loaded.source).read_text(encoding="utf-8")
    config = SearchConfig(strategy="random", data=DataSpec(name="csv"), constraints={"max_params": 10_000})
    store = RunStore.create(path, config.model_dump(mode="json"), text, hashlib.sha256(text.encode()).hexdigest())
    compiled, rng = compile_space(loaded), random.Random(0)
    archs = [sample_architecture(compiled, rng) for _ in KNOWN]
    refusals = [("50k params > --max-params 10k", None) if s == "refused" else None for s, *_ in KNOWN]
    costs = [Cost(p, m) if s == "refused" else None for s, _, p, m in KNOWN]
    ids = store.add_children(0, None, [(a.tokens, a.model_dump_json()) for a in archs], costs=costs,
                             refusals=refusals)
    for child_id, (status, acc, params, macs) in zip(ids, KNOWN):
        if status == "done":
            store.finish_child(child_id, acc ** 3, acc, "valid_accuracy", params, macs, 1.0)
        elif status == "failed":
            store.fail_child(child_id, "diverged", 0.0, 1.0)
    store.close()
    return path


def test_the_reports_front_is_child_front(tmp_path):
    run = known_run(tmp_path / "run")
    with RunStore.open_readonly(run) as store:
        children = store.children()
    for cost in ("params", "macs"):
        drawn = front_points(children, cost)
        assert [p.child_id for p in drawn.front] == [c.id for c in child_front(children, cost)]
        assert [p.child_id for p in drawn.points] == [1, 2, 3, 4, 6]  # every done child, failed and refused not
    by_params = front_points(children, "params")
    assert [(p.child_id, p.cost, p.quality) for p in by_params.front] == [(1, 1000, 0.5), (3, 3000, 0.7),
                                                                          (6, 9000, 0.9)]
    assert by_params.refused == [(7, 50_000)]
    assert [p.child_id for p in front_points(children, "macs").front] == [2, 6]  # 10k MACs, then 20k
    assert front_points(children, "latency_ms").points == []  # nothing was timed


def test_report_draws_the_front_and_lists_it(runner, tmp_path):
    run = known_run(tmp_path / "run")
    assert load_history(run).limited_by == "params"  # --max-params: the default cost
    assert ReportConfig().cost_for([load_history(run)]) == "params"
    assert ReportConfig(cost="none").cost_for([load_history(run)]) is None
    result = runner.invoke(app, ["report", str(run), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    assert "Pareto front, validation vs parameters: 3 children" in page
    rows = re.findall(r"<tr><td class='num'>(\d+)</td><td>valid accuracy ([\d.]+)%</td><td class='num'>([^<]+)</td>",
                      page)
    assert rows == [("1", "50.0", "1k"), ("3", "70.0", "3k"), ("6", "90.0", "9k")]
    assert f"nascli export {run} --child 6 -o child-6.py" in page
    macs = runner.invoke(app, ["report", str(run), "--cost", "macs", "-o", str(tmp_path / "m.html")])
    assert macs.exit_code == 0 and "validation vs multiply-accumulates per example: 2 children" in \
        (tmp_path / "m.html").read_text()
    png = runner.invoke(app, ["report", str(run), "--cost", "latency", "-o", str(tmp_path / "l.png")])
    assert png.exit_code == 0 and (tmp_path / "l.png").stat().st_size > 0
    none = runner.invoke(app, ["report", str(run), "--cost", "none", "-o", str(tmp_path / "n.html")])
    assert none.exit_code == 0 and "Pareto front" not in (tmp_path / "n.html").read_text()


def test_report_refuses_a_bad_cost(runner, tmp_path):
    run = known_run(tmp_path / "run")
    result = runner.invoke(app, ["report", str(run), "--cost", "flops", "-o", str(tmp_path / "r.png")])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --cost flops: expected params, macs, latency or none"
    assert not (tmp_path / "r.png").exists()


def test_a_run_without_limits_gets_no_front_unless_asked(tmp_path):
    from test_report import make_run  # noqa: E402 (a run with no limits, of the report tests)

    make_run(tmp_path / "plain")
    history = load_history(tmp_path / "plain")
    assert history.limited_by is None and ReportConfig().cost_for([history]) is None
    assert ReportConfig(cost="params").cost_for([history]) == "params"
    write_report([tmp_path / "plain"], tmp_path / "p.html", ReportConfig(dpi=30))
    assert "Pareto front" not in (tmp_path / "p.html").read_text()


def test_show_pareto_prints_the_export_commands(runner, tmp_path):
    run = known_run(tmp_path / "run")
    text = runner.invoke(app, ["show", str(run), "--pareto"]).output
    for child_id in (1, 3, 6):
        assert f"#{child_id}: nascli export {run} --child {child_id} -o child-{child_id}.py" in text


def test_show_says_how_many_it_lists(runner, tmp_path):
    run = known_run(tmp_path / "run")
    text = runner.invoke(app, ["show", str(run), "--cost", "latency"]).output
    assert "best 5 of 6 (validation" in text
    text = runner.invoke(app, ["show", str(run), "--top", "9"]).output
    assert "best 5 of 6 (validation" in text and "best 9" not in text  # 5 trained, 6 sampled (one refused)


@pytest.mark.parametrize("child_id, message", [
    (99, "the run has no child #99 (7 children recorded)"),
    (5, "child #5 is failed, not trained: diverged"),
    (7, "child #7 is refused, not trained: 50k params > --max-params 10k"),
])
def test_export_and_eval_refuse_a_child_that_did_not_train(runner, tmp_path, child_id, message):
    run = known_run(tmp_path / "run")
    for args in (["export", str(run), "--child", str(child_id), "-o", str(tmp_path / "m.py")],
                 ["export", "--run", str(run), "--child", str(child_id), "-o", str(tmp_path / "m.py")],
                 ["eval", "--run", str(run), "--child", str(child_id)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert message in result.output and len(result.output.strip().splitlines()) == 1
    both = runner.invoke(app, ["export", str(run), "--child", "1", "--best", "-o", str(tmp_path / "m.py")])
    assert both.exit_code == 2 and "--child takes one run" in both.output
    assert runner.invoke(app, ["eval", "--run", str(run), "--child", "1", "--best"]).exit_code == 2


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> tuple[Path, str]:
    """A real random search of mlp.space on the csv data (4 children, one short epoch), and its live view."""
    from typer.testing import CliRunner

    run = tmp_path_factory.mktemp("views") / "run"
    result = CliRunner().invoke(app, ["search", "mlp", "--dataset", "csv", "--strategy", "random", "--budget", "4",
                                      "--epochs", "1", "--max-params", "5k", "--seed", "4", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    return run, result.output


def test_the_live_view_shows_each_childs_cost(trained_run):
    run, view = trained_run
    with RunStore.open_readonly(run) as store:
        best = store.best(5)
        refused = store.counts()["refused"]
    top = best[0]

    row = [line for line in view.splitlines() if line.startswith(f"│ {top.id} ")]
    assert row and f"{top.params:,}" in row[-1] and format_count(top.macs) in row[-1]
    assert "│ MACs " in view.replace("┃", "│")
    if refused:
        assert f"{refused} samples refused by the limits (--max-params 5k)" in view


def test_export_a_front_child_by_id(runner, trained_run, tmp_path):
    """Each child of the front, written as PyTorch source by id, loads and has the parameter count the run recorded."""
    import importlib.util

    run, _ = trained_run
    with RunStore.open_readonly(run) as store:
        front = child_front(store.children(), "params")
    assert front
    for record in front:
        out = tmp_path / f"child-{record.id}.py"
        result = runner.invoke(app, ["export", str(run), "--child", str(record.id), "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert f"nascli eval --child {record.id} --run" in result.output  # untrained: how to train it
        spec = importlib.util.spec_from_file_location(f"exported_child_{record.id}", out)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert sum(p.numel() for p in module.Child().parameters()) == record.params
        assert record.tokens in out.read_text()
