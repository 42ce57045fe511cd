"""Hard limits and --objective under ENAS (docs/budgets.md, docs/enas.md): no child over a limit is
trained in the shared-weights phase or derived, the controller gets --refused-reward for one, the
refusals are counted and recorded (--max-latency with its latency), a resume keeps them, and an impossible
limit is exit 2."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from rich.console import Console

from nascli.arch import Architecture
from nascli.budget import Constraints, latency_table
from nascli.budget.cost import TABLE_FILE, count_cost
from nascli.budget.latency_table import LatencyTable
from nascli.budget.units import format_ms
from nascli.cli import app
from nascli.cli.enas_cmd import EnasView
from nascli.data import load_dataset
from nascli.runs import RunStore
from nascli.runs.packing import unpack
from nascli.search.enas.phases import Phases
from nascli.search.enas.search import EnasEvent, EnasSearch
from nascli.search.loop import SearchConfig
from nascli.track.feed import RunFeed
from enas_helpers import ctrl_c_after_batch
from test_crashpoints import _crash, _outcome, _same_state
from test_latency_table import fake_timer
from track_helpers import make_run

LIMIT, TARGET, PENALTY = 150_000, 100_000, -0.25  # conv children of 6 layers: 30k to 350k params, half over 150k
ARGS = ["conv", "--strategy", "enas", "--epochs", "1", "--controller-steps", "2", "--batch", "4", "--budget", "3",
        "--train-subset", "24", "--shared-batch-size", "8", "--derive-subset", "16", "--controller-hidden", "16",
        "--seed", "1", "--max-params", "150k", "--refused-reward", str(PENALTY), "--objective", "params=100k"]
TASK = load_dataset("cifar10", None).task


def _params(arch) -> int:
    """Counted afresh, not read from the search's cache."""
    return count_cost(arch, TASK).params


def _spied_search(run: Path, args: list[str]) -> dict:
    """An ENAS search through the CLI into `run`, with every child it trained, rewarded or derived seen."""
    from typer.testing import CliRunner

    seen: dict[str, list] = {"trained": [], "rewarded": [], "scored": [], "derived": []}
    batch, reward, scores, score = Phases.shared_batch, Phases.reward, Phases._scores, EnasSearch._score

    def spy_batch(self, epoch, index, arch):
        seen["trained"].append(arch)
        return batch(self, epoch, index, arch)

    def spy_reward(self, arch):
        value = reward(self, arch)
        seen["rewarded"].append((arch, value))
        return value

    def spy_scores(self, archs):
        values, refused = scores(self, archs)
        seen["scored"].append((archs, values, refused))
        return values, refused

    def spy_score(self, child_id, arch):
        seen["derived"].append(arch)
        return score(self, child_id, arch)

    with pytest.MonkeyPatch.context() as patch:
        for cls, name, spy in ((Phases, "shared_batch", spy_batch), (Phases, "reward", spy_reward),
                               (Phases, "_scores", spy_scores), (EnasSearch, "_score", spy_score)):
            patch.setattr(cls, name, spy)
        result = CliRunner().invoke(app, ["search", *args, "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    return {**seen, "run": run, "output": result.output}


@pytest.fixture(scope="module")
def limited(tmp_path_factory, one_thread) -> dict:
    """A constrained ENAS search through the CLI, with every child it trained, rewarded or derived seen."""
    return _spied_search(tmp_path_factory.mktemp("limited") / "run", ARGS)


def test_no_child_over_the_limit_trains_on_the_shared_weights(limited):
    with RunStore.open_readonly(limited["run"]) as store:
        (epoch,) = store.epochs()
    assert len(limited["trained"]) == 3  # 24 images, minibatches of 8: every minibatch trained a child
    assert all(_params(arch) <= LIMIT for arch in limited["trained"])
    assert epoch.refused_shared > 0  # the policy's draws were refused and drawn again, and counted


def test_the_controller_gets_the_penalty_for_a_child_over_the_limit(limited):
    rewarded = {id(arch): value for arch, value in limited["rewarded"]}
    refused = 0
    for archs, values, count in limited["scored"]:
        assert len(archs) == 4 and count == sum(_params(a) > LIMIT for a in archs)
        refused += count
        for arch, value in zip(archs, values):
            if _params(arch) > LIMIT:  # no forward pass on the validation minibatch: the penalty
                assert id(arch) not in rewarded and value == PENALTY
            else:  # its validation accuracy times MnasNet's (params / target)^-0.07
                assert value == pytest.approx(rewarded[id(arch)] * (_params(arch) / TARGET) ** -0.07)
    with RunStore.open_readonly(limited["run"]) as store:
        (epoch,) = store.epochs()
    assert refused > 0 and epoch.refused_controller == refused


def test_only_children_within_the_limit_are_derived_and_the_refused_draws_are_rows(limited, runner):
    with RunStore.open_readonly(limited["run"]) as store:
        children, samples = store.children(), store.samples
    done = [c for c in children if c.status == "done"]
    refused = [c for c in children if c.status == "refused"]
    assert len(done) == 3 and samples == 3 and len(limited["derived"]) == 3  # refusals do not use up --budget
    assert all(_params(arch) <= LIMIT for arch in limited["derived"])
    for child, arch in zip(done, limited["derived"]):  # the derived child's own cost, and the objective
        assert child.tokens == arch.tokens and child.params == _params(arch) and child.macs > 0
        assert child.reward == pytest.approx(child.metric * (child.params / TARGET) ** -0.07)
    assert refused, "the seeded derive drew no child over the limit: pick another seed"
    for child in refused:  # as random and evolution record theirs: cost, reason, no reward
        assert child.params > LIMIT and child.macs > 0 and child.reward is None
        assert child.error.endswith("params > --max-params 150k")
    shown = runner.invoke(app, ["show", str(limited["run"])])
    assert shown.exit_code == 0 and f"{len(refused)} samples refused by the limits (--max-params 150k)" in shown.output


def test_the_enas_live_view_and_tracking_count_the_refusals_while_training(limited, tmp_path):
    with RunStore.open_readonly(limited["run"]) as store:
        (epoch,) = store.epochs()
        view = EnasView(store, SearchConfig.model_validate(store.config), Console(file=io.StringIO(), width=200))
        line = "refused while training: {} shared-weights draws / {} controller samples"
        assert epoch.refused_shared > 1 and epoch.refused_controller > 1
        finished = line.format(epoch.refused_shared, epoch.refused_controller)
        frame = " ".join(limited["output"].split())  # the search's last frame, as the CLI drew it
        assert finished in frame and f"│ {epoch.refused_shared} / {epoch.refused_controller} │" in frame
        # a second epoch in progress: its counts so far are added to the finished epochs' until its row is written
        view(EnasEvent("batch", 1, 1, 3, loss=2.0, refused={"refused_shared": 4, "refused_controller": 0}))
        assert view.training_refusals() == line.format(epoch.refused_shared + 4, epoch.refused_controller)
        view(EnasEvent("epoch_finished", 1, record=epoch))
        assert view.training_refusals() == finished
        tracked = RunFeed(limited["run"]).poll().points
    series = {(p.tag, p.step): p.value for p in tracked if p.tag.startswith("enas/refused")}
    assert series == {("enas/refused_shared", 0): epoch.refused_shared,
                      ("enas/refused_controller", 0): epoch.refused_controller}
    unlimited = RunFeed(make_run(tmp_path / "unlimited", space="enas_macro", strategy="enas")).poll().points
    assert unlimited and not [p for p in unlimited if p.tag.startswith("enas/refused")]  # no limits, no counts


# --max-latency alone (no --refused-reward, no --objective): a refused sample's controller reward is 0
LATENCY_LIMIT, FIXED_MS = 135.0, 0.5  # --max-latency 150ms less the default 10% --latency-margin
LATENCY_ARGS = [*ARGS[:ARGS.index("--max-params")], "--max-latency", "150ms"]


def _table(run: Path) -> LatencyTable:
    """The run's latency table as the search left it: predicting what the search predicted times nothing."""

    def no_timing(*args):
        raise AssertionError("an entry or a calibration the search did not time")

    return LatencyTable(TASK, path=run / TABLE_FILE, timer=no_timing, measure=no_timing)


@pytest.fixture(scope="module")
def latency_limited(tmp_path_factory, one_thread) -> dict:
    """--max-latency under ENAS, where --latency-model auto is the latency table. Its entries are timed by
    test_latency_table's deterministic stand-in (ms = the unit's parameters / 1000), and a whole child by its
    entries + FIXED_MS: real timings on this loaded machine would move the limit's boundary from run to run
    (the timer itself is tested in test_latency_table.py and measured in bench/results/budgets-real)."""
    run = tmp_path_factory.mktemp("latency") / "run"

    class DeterministicTable(LatencyTable):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs, timer=fake_timer([]),
                             measure=lambda arch: self.entry_sum(arch) + FIXED_MS)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(latency_table, "LatencyTable", DeterministicTable)
        return _spied_search(run, LATENCY_ARGS)


@pytest.mark.slow  # ~10 s, more under load: the search, and its latency table filled
def test_max_latency_under_enas_trains_and_derives_only_children_within_it(latency_limited, runner):
    run = latency_limited["run"]
    table = _table(run)
    with RunStore.open_readonly(run) as store:
        assert store.config["constraints"]["latency_model"] == "table"  # --latency-model auto under ENAS
        (epoch,) = store.epochs()
        children = store.children()

        def latency(arch) -> float:  # the run's table predicts it, and the search cached that figure
            predicted = table.predict(arch)
            assert store.cached_latency(arch.tokens, "cpu/table", 1) == pytest.approx(predicted, abs=1e-9)
            return predicted

        assert table.data.fixed_ms == pytest.approx(FIXED_MS)  # the fixed part calibrated on whole children
        assert len(latency_limited["trained"]) == 3
        assert all(latency(arch) <= LATENCY_LIMIT for arch in latency_limited["trained"])
        refused = 0
        for archs, values, count in latency_limited["scored"]:
            over = [latency(a) > LATENCY_LIMIT for a in archs]
            assert count == sum(over) and all(v == 0.0 for v, o in zip(values, over) if o)
            refused += count
        assert epoch.refused_shared > 0 and refused > 0 and epoch.refused_controller == refused
        done = [c for c in children if c.status == "done"]
        assert [c.tokens for c in done] == [a.tokens for a in latency_limited["derived"]]
        for child, arch in zip(done, latency_limited["derived"]):
            assert child.latency_ms == latency(arch) <= LATENCY_LIMIT
        rows = [c for c in children if c.status == "refused"]
        assert rows, "the seeded derive drew no child over the limit: pick another limit"
        for child in rows:  # recorded with the latency they were refused for
            predicted = latency(Architecture.model_validate_json(child.arch_json))
            assert child.latency_ms == predicted > LATENCY_LIMIT and child.reward is None
            assert child.error == f"{format_ms(predicted)} > --max-latency 150ms less 10% (135ms)"
    shown = runner.invoke(app, ["show", str(run)])
    assert shown.exit_code == 0
    assert f"{len(rows)} samples refused by the limits (--max-latency 150ms (batch 1, accepted at most 135ms: a 10% margin))" in shown.output


@pytest.mark.slow  # ~35 s under load: 100 redraw rounds, then 200 draws for the fit estimate
def test_an_impossible_limit_is_exit_2_with_the_fit_estimate(runner, tmp_path, one_thread):
    run = tmp_path / "run"
    args = [a if a != "150k" else "1k" for a in ARGS]
    result = runner.invoke(app, ["search", *args, "--run-dir", str(run)])
    assert result.exit_code == 2, result.output
    assert ("no architecture within --max-params 1k in 100 draws; about 0 of 200 architectures drawn uniformly "
            "from the space fit (0.0%): loosen the limit") in " ".join(result.output.split())
    assert "Traceback" not in result.output
    with RunStore.open_readonly(run) as store:  # the run folder is whole: nothing trained, nothing half-written
        assert store.children() == [] and store.epochs() == []
    assert runner.invoke(app, ["show", str(run)]).exit_code == 0


def _library_search(run_dir: Path):
    from nascli.data.spec import DataSpec
    from nascli.search.enas.config import EnasConfig, enas_controller
    from nascli.search.loop import SearchConfig
    from nascli.search.runs import create_search, resume_search

    if run_dir.exists():
        return resume_search(run_dir)
    config = SearchConfig(strategy="enas", data=DataSpec(name="cifar10"), budget=3, seed=1,
                          constraints=Constraints(max_params=LIMIT), controller=enas_controller("macro", hidden=16),
                          enas=EnasConfig.for_family("macro", epochs=2, train_subset=24, batch_size=8,
                                                     controller_steps=1, controller_aggregate=4, valid_batch=8,
                                                     derive_subset=16))
    return create_search("conv", config, run_dir)


def _recorded(store: RunStore) -> tuple[list, list]:
    children = [(c.tokens, c.status, c.params, c.macs, c.error, c.reward) for c in store.children()]
    epochs = [(r.epoch, r.refused_shared, r.refused_controller, r.shared_loss) for r in store.epochs()]
    return children, epochs


@pytest.mark.slow
def test_ctrl_c_in_the_shared_phase_then_resume_draws_what_an_unbroken_search_draws(tmp_path, one_thread):
    unbroken = _library_search(tmp_path / "unbroken")
    unbroken.run()
    broken = _library_search(tmp_path / "broken")
    with pytest.raises(KeyboardInterrupt):
        broken.run(ctrl_c_after_batch(epoch=1, done=2))  # the second minibatch of the second epoch
    broken.store.close()
    saved = unpack(torch.load(tmp_path / "broken" / "checkpoints" / "controller.pt", weights_only=True))["strategy"]
    assert (saved["epoch"], saved["phase"], saved["index"]) == (1, "shared", 2)
    resumed = _library_search(tmp_path / "broken")
    resumed.run()
    children, epochs = _recorded(resumed.store)
    assert (children, epochs) == _recorded(unbroken.store)
    assert "refused" in [c[1] for c in children] and sum(e[1] for e in epochs) > 0
    for name, tensor in unbroken.shared.state_dict().items():
        torch.testing.assert_close(resumed.shared.state_dict()[name], tensor, rtol=0, atol=0, msg=name)


@pytest.mark.slow
@pytest.mark.parametrize(("point", "mode"), [("enas_epoch@1", "kill"), ("child_finish@2", "kill")])
def test_a_killed_constrained_search_resumes_to_the_same_run(runner, tmp_path, limited, point, mode):
    run = tmp_path / "run"
    _crash(run, ARGS, point, mode)
    result = runner.invoke(app, ["search", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    after, expected = _outcome(run), _outcome(limited["run"])
    assert after["children"] == expected["children"]  # refused rows, costs and rewards included
    assert "refused" in [c[3] for c in after["children"]]
    assert _same_state(after["strategy"], expected["strategy"])
    with RunStore.open_readonly(run) as store, RunStore.open_readonly(limited["run"]) as reference:
        assert [e[:3] for e in _recorded(store)[1]] == [e[:3] for e in _recorded(reference)[1]]
