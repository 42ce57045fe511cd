"""ENAS: shared weights (sharing, extraction = build_child), and real searches through the CLI,
resumed after SIGKILL."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nascli.arch import architecture
from nascli.children import ChildConfig, LanguageModelConfig, MicroConfig, build_child
from nascli.cli import app
from nascli.data import load_dataset
from nascli.runs import RunStore
from nascli.search.enas.supernet import SharedWeights, _covering
from nascli.space import load_space
from nascli.space.compiler import compile_space
from nascli.runs.packing import unpack

from enas_helpers import ctrl_c_after_batch

SMALL = ChildConfig(micro=MicroConfig(filters=4, cells_per_stage=1),
                    language=LanguageModelConfig(embed_size=16, hidden_size=16))
ENAS_SPACES = [("enas_macro", "cifar10"), ("enas_micro", "cifar10"), ("enas_rnn", "ptb"), ("darts", "cifar10"),
               ("nb201", "cifar10")]
# Which covering children a test compares (the n-th is op n // inputs on input n % inputs): the first
# ops of darts (none, max_pool) and nb201 (none, identity) have no weights; darts has 5 inputs.
PICK = {"darts": (20, 25), "nb201": (2, 3)}


def _shared(space: str, dataset: str):
    compiled = compile_space(load_space(space))
    data = load_dataset(dataset, None)
    torch.manual_seed(0)
    return compiled, data, SharedWeights(compiled, data.task, SMALL)


def _two_archs(compiled):
    """Two covering children: every op differs between them, the inputs are the same."""
    covering = list(_covering(compiled))
    first, second = (covering[i] for i in PICK.get(compiled.name, (0, 1)))
    return architecture(compiled, first), architecture(compiled, second)


def _inputs(data):
    if hasattr(data, "valid_x"):
        return (data.valid_x[:3],)
    return (data.valid[:24].view(8, 3),)


# What changes when the first op and the first input pick another value: these tensors, and only these.
CHANGED = {"enas_macro": r"layers\.0\.op\.", "enas_micro": r"cells\.[024]\.nodes\.0\.0\.",  # normal cells
           "enas_rnn": r"cell\.node_proj\.1\.",  # node 2: node 1 has one candidate
           "darts": r"cells\.[013467]\.nodes\.0\.0\.",  # its `network stages 3 repeat 2`: normal cells
           "nb201": r"cells\.\d+\.edges\.0\."}  # edge 0 -> 1 of every cell


def _logits(output) -> torch.Tensor:
    """An image child's logits, or a language model's (it also returns its state)."""
    return output[0] if isinstance(output, tuple) else output


@pytest.mark.parametrize("space,dataset", ENAS_SPACES)
def test_same_op_same_place_same_parameters(space, dataset, one_thread):
    compiled, _, shared = _shared(space, dataset)
    first = list(_covering(compiled))[PICK.get(space, (0,))[0]]
    second = dict(first)
    for kind in ("choice", "index"):  # another op for the first choice, another input for the first index
        d = next((d for d in compiled.decisions() if d.kind == kind and d.size > 1), None)
        if d is not None:
            values = [o.value for o in d.options] if kind == "choice" else list(d.candidates)
            second[d.path] = next(v for v in values if v != first[d.path])
    a, b = architecture(compiled, first), architecture(compiled, second)
    tensors_a = shared.child_tensors(a, shared.skeleton(a))
    tensors_b = shared.child_tensors(b, shared.skeleton(b))
    changed = [n for n in {**tensors_a, **tensors_b} if re.match(CHANGED[space], n)]
    both = [n for n in tensors_a if n in tensors_b and not n.endswith("combine.1.weight")]  # (sliced: new each call)
    assert changed and any(n not in changed for n in both)
    for n in both:
        assert (tensors_a[n] is tensors_b[n]) == (n not in changed), n


@pytest.mark.parametrize("space,dataset", ENAS_SPACES)
def test_a_shared_child_computes_what_build_child_computes(space, dataset, one_thread):
    compiled, data, shared = _shared(space, dataset)
    with torch.no_grad():  # make every shared tensor distinctive, BN statistics included
        for t in list(shared.parameters()) + [b for b in shared.stats.buffers() if b.is_floating_point()]:
            t.uniform_(0.5, 1.0)
    for arch in _two_archs(compiled):
        rebuilt = build_child(arch, data.task, SMALL)
        rebuilt.load_state_dict({**rebuilt.state_dict(), **shared.child_tensors(arch, rebuilt)})
        rebuilt.eval()
        inputs = _inputs(data)
        expect = _logits(rebuilt(*inputs))
        torch.testing.assert_close(_logits(shared.run(arch, *inputs, train=False)), expect, rtol=0, atol=1e-6)
        torch.testing.assert_close(_logits(shared.extract(arch).eval()(*inputs)), expect, rtol=0, atol=1e-6)


@pytest.mark.parametrize("space,dataset", ENAS_SPACES)
def test_a_child_trains_only_the_weights_it_picked(space, dataset, one_thread):
    compiled, data, shared = _shared(space, dataset)
    a, b = _two_archs(compiled)
    _logits(shared.run(a, *_inputs(data), train=True)).sum().backward()
    used = {id(t) for t in shared.child_tensors(a, shared.skeleton(a)).values()}
    only_b = [t for n, t in shared.child_tensors(b, shared.skeleton(b)).items()
              if id(t) not in used and isinstance(t, torch.nn.Parameter)]
    assert only_b and all(t.grad is None for t in only_b)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in shared.weights.values())


def test_nas_tree_cell_shares_every_leaf_projection(one_thread):
    compiled, data, shared = _shared("rnn", "ptb")
    a, b = _two_archs(compiled)
    tensors_a, tensors_b = (shared.child_tensors(x, shared.skeleton(x)) for x in (a, b))
    assert a.tokens != b.tokens and tensors_a.keys() == tensors_b.keys()
    assert all(tensors_a[n] is tensors_b[n] for n in tensors_a)
    rebuilt = build_child(b, data.task, SMALL)
    rebuilt.load_state_dict({**rebuilt.state_dict(), **tensors_b})
    inputs = _inputs(data)
    torch.testing.assert_close(_logits(shared.run(b, *inputs, train=False)), _logits(rebuilt.eval()(*inputs)),
                               rtol=0, atol=1e-6)


TINY = ["--strategy", "enas", "--epochs", "1", "--controller-steps", "1", "--batch", "2", "--budget", "2"]
TINY_DATA = {"cifar10": ["--train-subset", "16", "--shared-batch-size", "8", "--derive-subset", "40"],
             "ptb": ["--train-subset", "1200", "--shared-batch-size", "4", "--derive-subset", "400"]}


@pytest.mark.parametrize("space,dataset", ENAS_SPACES)
def test_enas_search_through_the_cli(space, dataset, runner, tmp_path):
    run = tmp_path / space
    result = runner.invoke(app, ["search", space, *TINY, *TINY_DATA[dataset], "--controller-hidden", "16",
                                 "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert "reference code uses" in result.output
    with RunStore.open_readonly(run) as store:
        children, epochs, config = store.children(), store.epochs(), store.config
        assert store.state == "finished"
    assert config["controller"]["hidden"] == 16 and config["controller"]["layers"] == 1  # ENAS: one layer
    assert len(children) == 2 and all(c.status == "done" and c.params > 0 for c in children)
    assert len(epochs) == 1 and epochs[0].shared_loss > 0 and epochs[0].entropy > 0
    shown = runner.invoke(app, ["show", str(run)])
    assert shown.exit_code == 0 and children[0].tokens[:20] in shown.output


def test_enas_runs_on_the_chosen_device_with_amp(runner, tmp_path):
    run = tmp_path / "cpu"
    result = runner.invoke(app, ["search", "enas_rnn", *TINY, *TINY_DATA["ptb"], "--controller-hidden", "16",
                                 "--device", "cpu", "--amp", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    with RunStore.open_readonly(run) as store:
        children, config = store.children(), store.config
    assert config["device"] == "cpu" and config["train"]["amp"] is True
    assert len(children) == 2 and all(c.status == "done" and c.device == "cpu" for c in children)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_enas_on_cuda_checkpoints_load_on_the_cpu(tmp_path, one_thread):
    search = _library_search(tmp_path / "cuda", device="cuda", amp=True)
    search.run()
    assert all(c.status == "done" and c.device == "cuda" for c in search.store.children())
    assert all(t.device.type == "cuda" for t in search.shared.state_dict().values())
    search.store.close()
    saved = unpack(torch.load(tmp_path / "cuda" / "checkpoints" / "controller.pt", map_location="cpu",
                              weights_only=True))["strategy"]
    on_cpu = SharedWeights(search.compiled, search.data.task, search.config.child)
    on_cpu.load_state_dict(saved["shared"])  # a CPU super-network takes the GPU-trained weights
    for name, tensor in search.shared.state_dict().items():
        torch.testing.assert_close(on_cpu.state_dict()[name], tensor.cpu(), rtol=0, atol=0, msg=name)


def _epochs_done(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM enas_epochs").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_enas_resume_after_sigkill(runner, tmp_path):
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "nascli", "search", "enas_rnn", *TINY, *TINY_DATA["ptb"], "--epochs", "5",
           "--run-dir", str(run)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=Path(__file__).parents[1],
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    deadline = time.time() + 240
    while time.time() < deadline and _epochs_done(run / "run.db") < 2:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with RunStore.open_readonly(run) as store:
        kept = {r.epoch: r for r in store.epochs()}
        state = store.load_checkpoint()
        assert store.summary().state == "stopped" and len(kept) < 5  # killed mid-search
    # tensors and plain containers only: the safe loader reads it
    safe = unpack(torch.load(run / "checkpoints" / "controller.pt", weights_only=True))
    assert safe["strategy"]["epoch"] == state["strategy"]["epoch"]
    assert len(kept) - 1 <= safe["strategy"]["epoch"] <= len(kept)  # the row is written just before the checkpoint
    result = runner.invoke(app, ["search", "--resume", str(run)])
    assert result.exit_code == 0, result.output
    with RunStore.open_readonly(run) as store:
        epochs = {r.epoch: r for r in store.epochs()}
        assert store.state == "finished" and len(store.children(status="done")) == 2
    assert sorted(epochs) == list(range(5))
    for e in range(safe["strategy"]["epoch"]):  # epochs checkpointed before the kill are not trained again
        assert epochs[e] == kept[e]


def _library_search(run_dir: Path, device: str = "cpu", amp: bool = False, space: str = "enas_macro"):
    from nascli.data.spec import DataSpec
    from nascli.search.enas.config import EnasConfig, enas_controller
    from nascli.search.loop import SearchConfig
    from nascli.search.runs import create_search, resume_search

    if run_dir.exists():
        return resume_search(run_dir)
    from nascli.train.config import TrainConfig

    config = SearchConfig(strategy="enas", data=DataSpec(name="cifar10"), budget=2, device=device,
                          train=TrainConfig(amp=amp), controller=enas_controller(
        "macro", hidden=16), enas=EnasConfig.for_family("macro", epochs=2, train_subset=24, batch_size=8,
                                                        controller_steps=1, controller_aggregate=2, valid_batch=8,
                                                        derive_subset=16))
    return create_search(space, config, run_dir)


@pytest.mark.parametrize("space", ["enas_macro", "conv_pool"])  # conv_pool: NAS conv slices (nas_conv.py)
def test_ctrl_c_mid_epoch_then_resume_is_an_unbroken_search(space, tmp_path, one_thread):
    unbroken = _library_search(tmp_path / "unbroken", space=space)
    unbroken.run()
    broken = _library_search(tmp_path / "broken", space=space)
    with pytest.raises(KeyboardInterrupt):
        broken.run(ctrl_c_after_batch(epoch=1, done=2))  # the second minibatch of the second epoch
    broken.store.close()
    saved = unpack(torch.load(tmp_path / "broken" / "checkpoints" / "controller.pt", weights_only=True))["strategy"]
    assert (saved["epoch"], saved["phase"], saved["index"]) == (1, "shared", 2)
    resumed = _library_search(tmp_path / "broken")
    resumed.run()
    for name, tensor in unbroken.shared.state_dict().items():
        torch.testing.assert_close(resumed.shared.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
    assert [c.tokens for c in resumed.store.children()] == [c.tokens for c in unbroken.store.children()]
    assert [r.shared_loss for r in resumed.store.epochs()] == pytest.approx(
        [r.shared_loss for r in unbroken.store.epochs()], abs=1e-6)


def test_plugin_ops_get_shared_weights_per_parameter_value(one_thread):
    from nascli.plugins import load_plugins

    root = Path(__file__).resolve().parents[1]
    load_plugins([str(root / "examples" / "plugins" / "asym_conv.py")])
    compiled, data, shared = _shared(root / "examples" / "plugins" / "asym.space", "cifar10")
    kernels = {k for k in shared.weights.keys() if "asym_conv" in k and k.startswith("layers:0:")}
    assert {k.split(":")[2] for k in kernels} == {"asym_conv[kernel=3]", "asym_conv[kernel=5]", "asym_conv[kernel=7]"}
    for arch in (architecture(compiled, a) for a in list(_covering(compiled))[:4]):
        rebuilt = build_child(arch, data.task, SMALL)
        rebuilt.load_state_dict({**rebuilt.state_dict(), **shared.child_tensors(arch, rebuilt)})
        torch.testing.assert_close(shared.run(arch, *_inputs(data), train=False), rebuilt.eval()(*_inputs(data)),
                                   rtol=0, atol=1e-6)


def test_a_diverged_language_child_gets_no_reward_instead_of_crashing_the_search():
    from types import SimpleNamespace

    from nascli.search.enas.config import EnasConfig
    from nascli.search.enas.phases import Phases

    targets = torch.zeros(3, 2, dtype=torch.long)  # (T, B)
    logits = torch.zeros(3, 2, 5)
    logits[..., 0] = -1e6  # the right word is a million nats away: exp(loss) overflows a float
    phases = Phases.__new__(Phases)  # only what reward() reads
    phases.batches = SimpleNamespace(is_text=True, device="cpu", next_valid=lambda: (None, targets, False))
    phases.shared = SimpleNamespace(run=lambda arch, inputs, state, train: (logits, "state"))
    phases.amp, phases.valid_state, phases.config = False, None, EnasConfig.for_family("dag")
    assert phases.reward(None) == 0.0
    logits[..., 0] = 0.0  # uniform over 5 words: perplexity 5
    assert phases.reward(None) == pytest.approx(phases.config.reward_c / 5)


def test_a_reward_reads_one_training_minibatch_of_validation_images():
    # the reference rewards a child on shuffle_batch(..., batch_size=self.batch_size) of validation images
    from nascli.search.enas.batches import Batches
    from nascli.search.enas.config import EnasConfig

    data = load_dataset("cifar10")
    config = EnasConfig.for_family("macro", batch_size=12)
    inputs, targets, _ = Batches(data, config, seed=0).next_valid()
    assert config.reward_batch == 12 and inputs.shape[0] == 12 and targets.shape == (12,)
    assert EnasConfig.for_family("macro", batch_size=12, valid_batch=5).reward_batch == 5
    assert EnasConfig.for_family("dag").reward_batch == 10  # text: 10 streams of bptt tokens


def test_a_language_model_search_trains_on_one_thread_and_gives_the_threads_back(tmp_path):
    # as fit_language: a recurrent child's small per-step products waste a second thread's CPU time
    from nascli.data.spec import DataSpec
    from nascli.search.enas.config import EnasConfig, enas_controller
    from nascli.search.loop import SearchConfig
    from nascli.search.runs import create_search

    config = SearchConfig(strategy="enas", data=DataSpec(name="ptb"), budget=1, controller=enas_controller(
        "dag", hidden=16), enas=EnasConfig.for_family("dag", epochs=1, train_subset=400, batch_size=4, bptt=10,
                                                      controller_steps=1, controller_aggregate=2, derive_subset=100))
    job = create_search("enas_rnn", config, tmp_path / "r")
    threads = []
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        job.run(lambda event: threads.append(torch.get_num_threads()))
        assert threads and set(threads) == {1}
        assert torch.get_num_threads() == 2
    finally:
        job.store.close()
        torch.set_num_threads(old)
