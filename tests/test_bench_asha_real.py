"""bench/asha_real.py's arithmetic and table, on hand-made run results with hand-computed figures (the runs
themselves are real searches of minutes: the benchmark, not a test)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "asha_real.py"


def _load_bench():
    """The script as a module. bench/ is no package; and a dataclass looks its module up in sys.modules while it
    is defined, so the module goes there before it runs."""
    spec = importlib.util.spec_from_file_location("bench_asha_real", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


asha_real = _load_bench()
SETTINGS = {"full": {"strategy": "random", "epochs": 3}, "asha": {"strategy": "random", "rungs": "1,3", "eta": 3},
            "never-run": {"strategy": "random", "epochs": 9}}


def _result(seed, setting, chosen_test, best, started, per_rung, cpu, wall, load=(1.0, 2.0)):
    return asha_real.RunResult(seed=seed, setting=setting, chosen_id=seed + 1, chosen_arch="|x|", chosen_valid=50.0,
                               chosen_test=chosen_test, best_trained_test=best, started=started, per_rung=per_rung,
                               cpu_seconds=cpu, wall_seconds=wall, load_before=load[0], load_after=load[1])


# Seeds given out of order: the table lists them by seed. asha − full per seed: +4, 0, +2.
RESULTS = [
    _result(1, "full", 92.0, 93.0, 7, [7], 420.0, 510.0, (3.5, 1.5)),
    _result(0, "full", 90.0, 93.0, 5, [5], 300.0, 500.0),
    _result(2, "full", 94.0, 96.0, 6, [6], 360.0, 520.0, (0.5, 6.0)),
    _result(2, "asha", 96.0, 95.0, 10, [10, 2], 360.0, 520.0, (0.5, 6.0)),
    _result(0, "asha", 94.0, 95.0, 9, [9, 3], 350.0, 500.0),
    _result(1, "asha", 92.0, 95.0, 11, [11, 4], 370.0, 510.0, (3.5, 1.5)),
]


def test_children_per_cpu_hour():
    assert asha_real.per_cpu_hour(10, 1800.0) == pytest.approx(20.0)
    assert asha_real.per_cpu_hour(0, 60.0) == 0.0
    with pytest.raises(ValueError, match="positive CPU time"):
        asha_real.per_cpu_hour(3, 0.0)


def test_setting_rows():
    header, rule, full, asha = asha_real.setting_lines(RESULTS, SETTINGS)  # no row for a setting without runs
    assert header.count("|") == rule.count("|") == full.count("|") == asha.count("|") == 10
    # full: chosen 90, 92, 94 (mean 92, sd 2); best 93, 93, 96 (mean 94, sd √3); 18 children in 1080 CPU s = 60 per
    # CPU-hour; 5, 7, 6 finished the one rung
    assert full == ("| full | 3 | 92.00 ± 2.00 | 90.00, 92.00, 94.00 | 94.00 ± 1.73 | 60 | 3 ep: 6.0 | 360 | 510 |")
    # asha: chosen 94, 92, 96 (by seed); 30 children in 1080 CPU s = 100 per CPU-hour; rungs (9+11+10)/3, (3+4+2)/3
    assert asha == ("| asha | 3 | 94.00 ± 2.00 | 94.00, 92.00, 96.00 | 95.00 ± 0.00 | 100 | "
                    "1 ep: 10.0 / 3 ep: 3.0 | 360 | 510 |")


def test_a_single_run_has_no_spread():
    (row,) = asha_real.setting_lines([_result(4, "full", 91.5, 92.25, 3, [3], 100.0, 200.0)], SETTINGS)[2:]
    assert row == "| full | 1 | 91.50 | 91.50 | 92.25 | 108 | 3 ep: 3.0 | 100 | 200 |"


def test_difference_line_pairs_seeds_and_uses_welch():
    # paired differences 4, 0, 2: mean 2, sd 2, 95% CI 2 ± t(0.975, 2)·2/√3 = 2 ± 4.3027·1.1547 = [−2.97, +6.97].
    # Welch on 94, 92, 96 against 90, 92, 94: equal variances (4) and sizes, so t = 2/√(8/3) = √1.5 on 4 degrees of
    # freedom; with Student's closed form for 4, F(t) = 1/2 + 3/8·u·(1 − u²/12), u = t/√(1 + t²/4) = 1.04447,
    # p = 2(1 − F) = 0.288 (a paired t-test would give 1 − √3/√5 = 0.23)
    line = asha_real.difference_line(RESULTS, "asha", "full")
    assert line == ("asha − full, chosen cell's test %: paired mean +2.00 over 3 seeds, 95% CI [-2.97, +6.97]; "
                    "Welch's p = 0.29")


def test_difference_line_leaves_out_unpaired_seeds():
    unpaired = [_result(7, "asha", 99.0, 99.0, 1, [1, 0], 10.0, 10.0), _result(8, "full", 10.0, 10.0, 1, [1], 1.0, 1.0)]
    assert asha_real.difference_line(RESULTS + unpaired, "asha", "full") == \
        asha_real.difference_line(RESULTS, "asha", "full")
    assert asha_real.difference_line(unpaired, "asha", "full") == "asha − full: no seed has both"
    one = asha_real.difference_line(RESULTS[1:2] + RESULTS[4:5], "asha", "full")  # seed 0 only: no spread, no p
    assert one == "asha − full, chosen cell's test %: paired mean +4.00 over 1 seeds"


def test_load_line_spans_every_reading():
    assert asha_real.load_line(RESULTS) == "load average (1 min) before/after each pair: 0.5 to 6.0"


def test_search_command_sets_the_fidelity_of_each_setting(tmp_path):
    full = asha_real.search_command(SETTINGS["full"], 3, 480.0, 400, tmp_path / "f")
    asha = asha_real.search_command(SETTINGS["asha"], 3, 480.0, 400, tmp_path / "a")
    assert full[:4] == [sys.executable, "-m", "nascli", "search"] and full[-2:] == ["--epochs", "3"]
    assert asha[-4:] == ["--rungs", "1,3", "--eta", "3"] and "--epochs" not in asha
    for command in (full, asha):
        options = dict(zip(command[5::2], command[6::2]))
        assert options["--time-budget"] == "480.0" and options["--seed"] == "3" and options["--workers"] == "1"
        assert options["--cpus-per-child"] == "1" and options["--train-subset"] == "400"
        assert options["--data-dir"].endswith("cifar10-mini") and not Path(options["--data-dir"]).is_absolute()
    assert full[full.index("--run-dir") + 1] == str(tmp_path / "f")
