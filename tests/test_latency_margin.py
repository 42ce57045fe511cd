"""--latency-margin: a child is accepted only at or below --max-latency less the margin (10% by default), so that
timed again later, under another load, it still meets the limit; and --latency-model table's screening, in which
the table refuses on its prediction and a whole timing confirms each child it lets through."""

from __future__ import annotations

import pytest

from nascli.budget import Constraints, Cost
from nascli.budget.cost import screened_latency
from nascli.budget.units import parse_margin
from nascli.cli import app
from nascli.errors import RunError
from nascli.search.options import SearchOptions, search_config


@pytest.mark.parametrize("text, share", [("10%", 0.1), ("10", 0.1), ("0%", 0.0), (" 2.5 % ", 0.025), ("99.5%", 0.995)])
def test_margins_parse_as_a_share_of_the_limit(text, share):
    assert parse_margin(text, "--latency-margin") == pytest.approx(share)


@pytest.mark.parametrize("text", ["", "%", "100%", "150", "-1%", "ten", "10%%", "nan", "inf%", "10ms"])
def test_bad_margins_are_refused_naming_the_option(text):
    with pytest.raises(RunError, match="--latency-margin .*expected a percentage from 0 to below 100"):
        parse_margin(text, "--latency-margin")


def test_the_limit_less_its_margin_is_what_a_child_may_have():
    limits = Constraints(max_latency_ms=5.0, latency_margin=0.1)
    assert limits.latency_limit_ms == pytest.approx(4.5)
    assert limits.over(Cost(1, 1, 4.5)) is None
    assert limits.over(Cost(1, 1, 4.6)) == "4.6ms > --max-latency 5ms less 10% (4.5ms)"
    assert limits.describe() == "--max-latency 5ms (batch 1, accepted at most 4.5ms: a 10% margin)"
    assert Constraints(max_params=10, latency_margin=0.1).over(Cost(11, 1, 9.0)) == "11 params > --max-params 10"


def test_a_run_from_before_the_margin_resumes_with_none():
    old = Constraints.model_validate({"max_latency_ms": 5.0})  # a config.json written without latency_margin
    assert old.latency_margin == 0 and old.latency_limit_ms == 5.0
    assert old.over(Cost(1, 1, 4.9)) is None and old.describe() == "--max-latency 5ms (batch 1)"


def test_the_margin_in_the_search_config():
    given = search_config(SearchOptions(space="spaces/mobilenet.space", max_latency="5ms"))
    assert given.constraints.latency_margin == 0.1  # the default
    chosen = search_config(SearchOptions(space="spaces/mobilenet.space", max_latency="5ms", latency_margin="0"))
    assert chosen.constraints.latency_margin == 0 and chosen.constraints.latency_limit_ms == 5.0
    assert search_config(SearchOptions(space="spaces/mobilenet.space")).constraints.latency_margin == 0


@pytest.mark.parametrize("args, words", [
    (["--latency-margin", "5%"], "--latency-margin applies with --max-latency"),
    (["--max-latency", "5ms", "--latency-margin", "100%"], "--latency-margin '100%': expected a percentage"),
])
def test_a_misused_margin_is_one_line_and_exit_2(runner, tmp_path, args, words):
    result = runner.invoke(app, ["search", "spaces/mobilenet.space", *args, "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_a_resume_keeps_the_runs_margin(runner, tmp_path):
    result = runner.invoke(app, ["search", "--resume", str(tmp_path / "none"), "--latency-margin", "0%"])
    assert result.exit_code == 2 and "--latency-margin: chosen when a run starts" in result.output


def test_the_table_screens_and_a_timing_confirms():
    predicted = {"fast": 3.0, "edge": 4.4, "slow": 6.0}
    timed_whole = {"fast": 3.2, "edge": 4.7, "slow": 6.5}
    timings = []

    def measure(arch):
        timings.append(arch)
        return timed_whole[arch]

    latency = screened_latency(predicted.__getitem__, measure, limit_ms=4.5)
    assert latency("slow") == 6.0 and timings == []  # refused on the prediction: never built or timed
    assert latency("fast") == 3.2 and latency("edge") == 4.7  # the timing is the figure, within the limit or not
    assert timings == ["fast", "edge"]
