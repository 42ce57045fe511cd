"""The model card (MODEL.md) beside every export: its fields for a real run (test accuracy after `eval`, τ after
`fidelity`), for a bare arch.json, the commands that reproduce the search, and escaping of names from files."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from nascli.arch import decode, save_architecture
from nascli.arch.sample import sample_architecture
from nascli.children import build_child, profile_child
from nascli.cli import app
from nascli.data.spec import DataSpec
from nascli.export.markdown import md_block, md_code, md_text, shell_command, shell_word
from nascli.export.reproduce import search_command
from nascli.runs import RunStore
from nascli.space import find_space_file, load_space
from nascli.space.compiler import compile_space

sys.path.insert(0, str(Path(__file__).parent))
from test_report import make_run  # noqa: E402  (a run built in a store, no training)

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore:.*torch.jit.*")]

TINY = """space tiny {
    task = image
    dataset = cifar10
    layers 2 {
        filter_height: {1, 3}
        filter_width: {1, 3}
        filters: {4, 8}
        stride = 1
        skip: anchor
    }
}
"""
FAST = ["--budget", "3", "--batch", "3", "--epochs", "1", "--train-subset", "32"]
CORPUS = Path(__file__).resolve().parents[1] / "nascli" / "data" / "embedded" / "ptb" / "ptb.valid.txt"
EVIL = "run `x` *[a](http://e.com)* <b>\n# |\x1b[31m"


class Captured(Exception):
    """Raised in place of starting a search: carries the SearchConfig the command line built."""


def _config_of(runner, args: list[str], monkeypatch) -> dict:
    """The SearchConfig that `nascli search ARGS` builds (the search itself is not started)."""
    def capture(space, config, run_dir=None):
        raise Captured(config)

    monkeypatch.setattr("nascli.search.runs.create_search", capture)
    result = runner.invoke(app, args)
    assert isinstance(result.exception, Captured), result.output
    return result.exception.args[0].model_dump(mode="json")


def _blocks(card: str, after: str) -> list[str]:
    """The sh code blocks after the line starting with `after`, up to the next section."""
    section = card[card.index(after):].split("\n## ")[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.S)


def _words(block: str) -> list[str]:
    return shlex.split(block.replace("\\\n", " "))


def _bash_words(block: str) -> list[bytes]:
    """The words bash reads from a command block (it has $'...' quoting, which shlex lacks)."""
    assert block.startswith("nascli ")
    script = "printf '%s\\0' " + block[len("nascli "):]
    return subprocess.run(["bash", "-c", script], capture_output=True, check=True).stdout.split(b"\0")[:-1]


@pytest.mark.slow
def test_model_card_of_a_real_run(runner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.space").write_text(TINY)
    run = tmp_path / "run"
    for args in (["search", "tiny.space", *FAST, "--run-dir", str(run)],
                 ["fidelity", str(run), "-n", "3", "--epochs", "1", "--train-subset", "32"],
                 ["eval", "--best", "--run", str(run), "--epochs", "1"],
                 ["export", "--best", "--run", str(run), "--format", "onnx", "-o", str(tmp_path / "out.onnx")]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    card = (tmp_path / "MODEL.md").read_text()
    with RunStore.open_readonly(run) as store:
        best, options = store.best(1)[0], store.config
    arch = decode(best.tokens, str(run / "space.space"))
    tested = json.loads((run / "eval" / f"child-{best.id}" / "result.json").read_text())
    study = json.loads((run / "fidelity" / "fidelity.json").read_text())
    task = DataSpec(name="cifar10").load().task
    profile = profile_child(build_child(arch, task), task)
    assert f"```text\n{best.tokens}\n```" in card
    assert hashlib.sha256((run / "space.space").read_bytes()).hexdigest() in card
    assert f"| parameters | {profile.params:,} |" in card and f"| MACs | {tested['macs']:,} per image" in card
    assert re.search(r"\| PyTorch [\d.+\w]+ \| 1 image \| [\d.]+ ms \| \d+ \| cpu \|", card)
    assert re.search(r"\| onnxruntime [\d.]+ \| 1 image \| [\d.]+ ms \| \d+ \| cpu \|", card)
    assert "median of 20 timed forward passes after 3 warm-up passes" in card
    assert re.search(r"max \\\|diff\\\| = [\d.e-]+, at most 1e-04 allowed", card)
    assert "| strategy | `reinforce` |" in card and "| budget | 3 children, 3 per controller step |" in card
    assert "| seed | 0 |" in card and "for 1 epoch on 32 training images per epoch" in card
    assert "(the best validation accuracy of the last 5 epochs) ^ 3" in card
    assert f"Kendall τ-b = {study['kendall_tau']['value']:.2f}" in card
    assert f"**{tested['metric']:.2%}**" in card and f"#{best.id}, the best of the 3 finished" in card
    search = _blocks(card, "The search")[0]
    assert _config_of(runner, _words(search)[1:], monkeypatch) == options
    retrain, export = _blocks(card, "The retraining")
    assert _words(retrain) == ["nascli", "eval", "--best", "--run", str(run), "--epochs", "1", "--seed", "0",
                               "--device", "cpu"]
    assert _words(export)[:4] == ["nascli", "export", "--best", "--run"] and "## Unknown" not in card


@pytest.mark.parametrize("args", [
    ["conv_strides", "--strategy", "random", "--budget", "5", "--seed", "7", "--epochs", "2", "--train-subset", "50",
     "--reward-power", "2", "--controller-lr", "0.001", "--temperature", "1.5", "--workers", "2", "--async", "1",
     "--child-timeout", "30"],
    ["mlp", "--dataset", "csv", "--target", "target", "--batch", "2", "--entropy-weight", "0.01", "--failed-reward",
     "-0.5", "--child-tries", "5"],
    ["rnn_base2", "--dataset", "text", "--data-dir", str(CORPUS), "--tokens", "char", "--vocab-size", "40",
     "--reward-c", "60", "--controller-hidden", "20"],
    ["enas_micro", "--strategy", "enas", "--epochs", "3", "--batch", "4", "--controller-steps", "2",
     "--shared-lr", "0.02", "--derive-subset", "100", "--shared-batch-size", "16", "--tanh-constant", "2"],
    ["conv", "--strategy", "enas", "--depth", "6", "--train-subset", "64"],
    ["nb201", "--benchmark", "nb201", "--benchmark-dataset", "cifar100", "--fidelity", "200",
     "--time-budget", "5000", "--controller-preset", "paper", "--baseline-decay", "0.9"],
    ["nb201", "--benchmark", "nb201", "--rungs", "12,200", "--eta", "4", "--time-budget", "9000",
     "--max-params", "0.5M", "--objective", "params=0.4M", "--objective-w", "-0.1"],
    ["conv", "--rungs", "1,2", "--max-macs", "30M", "--max-latency", "40ms", "--latency-margin", "5%", "--latency-batch", "2",
     "--refused-reward", "-0.1", "--objective", "latency=20ms"],
    ["nb201", "--benchmark", "nb201", "--strategy", "evolution", "--population", "6", "--tournament-size", "2"],
    ["conv", "--strategy", "evolution", "--rungs", "1,3", "--rung-score", "highest", "--objective", "latency=20ms",
     "--latency-model", "table"],
    ["conv", "--strategy", "enas", "--max-latency", "30ms", "--latency-model", "measured", "--latency-margin", "0"],
    ["conv", "--strategy", "evolution", "--population", "3", "--epochs", "1"],
])
def test_the_reproduced_search_command_builds_the_same_config(runner, tmp_path: Path, monkeypatch, args) -> None:
    original = _config_of(runner, ["search", *args], monkeypatch)
    run = tmp_path / "a run"
    run.mkdir()
    (run / "space.space").write_bytes(find_space_file(args[0]).read_bytes())
    command = search_command(run, original, plugins=[])
    again = _config_of(runner, _words(shell_command(command.words))[1:], monkeypatch)
    if original["strategy"] == "enas":  # ENAS reads neither: --batch and --controller-lr set its own fields
        for unused in ("batch", "reinforce"):
            original.pop(unused), again.pop(unused)
    assert again == original and command.unset == []


def test_model_card_of_a_bare_arch_json_says_what_is_unknown(runner, tmp_path: Path) -> None:
    arch = decode("conv: 1 1 24 / 1 3 24 0 / 3 1 24 - / 1 1 24 0,2 / 1 1 24 3 / 1 1 24 1,4")  # small: quick to time
    save_architecture(arch, tmp_path / "arch.json")
    result = runner.invoke(app, ["export", str(tmp_path / "arch.json"), "-o", str(tmp_path / "model.py")])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "MODEL.md").read_text()
    assert f"```text\n{arch.tokens}\n```" in card and arch.space_hash in card
    assert "PyTorch source (needs only torch)" in card and "untrained" in card and "## Search" not in card
    unknown = card[card.index("## Unknown"):]
    for field in ("strategy, budget and seed", "the reward and its proxy", "`nascli fidelity` τ",
                  "reproduces the search", "the test accuracy"):
        assert field in unknown
    retrain, export = _blocks(card, "The retraining")
    assert _words(retrain) == ["nascli", "eval", str(tmp_path / "arch.json"), "--dataset", "cifar10"]
    assert _words(export) == ["nascli", "export", str(tmp_path / "arch.json"), "--dataset", "cifar10", "-o",
                              str(tmp_path / "model.py"), "--format", "py"]


def test_a_token_string_card_decodes_before_it_retrains(runner, tmp_path: Path) -> None:
    tokens = "rnn_base2: add tanh / elem_mult relu / elem_mult sigmoid ; add relu ; 1 0"
    result = runner.invoke(app, ["export", tokens, "-o", str(tmp_path / "model.py")])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "MODEL.md").read_text()
    retrain, _ = _blocks(card, "The retraining")
    first, second = retrain.split("\n")
    assert _words(first) == ["nascli", "decode", tokens, "-o", "arch.json"]
    assert _words(second) == ["nascli", "eval", "arch.json", "--dataset", "ptb"]
    assert "1 stream of 35 tokens" in card and "exported from a token string" in card


def test_names_from_a_run_folder_are_escaped_in_the_card(runner, tmp_path: Path) -> None:
    run = tmp_path / EVIL
    make_run(run)
    result = runner.invoke(app, ["export", "--best", "--run", str(run), "-o", str(tmp_path / "model.py")])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "MODEL.md").read_text()
    assert "\x1b" not in card and "\n# |" not in card  # no raw control character, no line break from the name
    prose = re.sub(r"```.*?```", "", card, flags=re.S)  # code shows text as is: there, quoting is what counts
    assert "<b>" not in prose and "](http" not in prose and "`x`" not in prose
    assert f"| run | {md_text(str(run))} |" in card
    search = _blocks(card, "The search")[0]
    assert _bash_words(search)[1] == os.fsencode(run / "space.space")  # the exact path, quoted for the shell


@pytest.mark.parametrize("name", [EVIL, "a'b\"c$(x)`y`", "bidi \u202etxt.exe", "ok-name_1.2/x"])
def test_markdown_and_shell_escaping(name: str) -> None:
    text = md_text(name)
    assert "\n" not in text and "\x1b" not in text and "\u202e" not in text
    assert all(text[i - 1] == "\\" for i, ch in enumerate(text) if ch in "`*[]()<>#|" and i)
    span = md_code(name)
    fence = re.match(r"`+", span).group()
    assert fence not in span[len(fence):-len(fence)] and "\n" not in span
    lines = md_block(name).split("\n")  # a name's own newline stays a line break inside the block
    assert lines[0] == lines[-2] and lines[0].startswith("```") and lines[-1] == ""
    assert not any(line.startswith("```") for line in lines[1:-2])
    word = shell_word(name)
    printed = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, check=True).stdout
    assert printed == name.encode()


def test_a_name_that_is_not_utf8_keeps_its_bytes_in_commands() -> None:
    name = os.fsdecode(b"run-\xff\xfe")
    printed = subprocess.run(["bash", "-c", f"printf %s {shell_word(name)}"], capture_output=True, check=True).stdout
    assert printed == b"run-\xff\xfe" and md_text(name) == "run-\\\\xff\\\\xfe"


def test_an_enas_run_card_says_how_the_shared_weights_scored(runner, tmp_path: Path, monkeypatch) -> None:
    options = _config_of(runner, ["search", "enas_micro", "--strategy", "enas", "--epochs", "3",
                                  "--derive-subset", "200"], monkeypatch)
    text = find_space_file("enas_micro").read_text()
    arch = sample_architecture(compile_space(load_space("enas_micro")), random.Random(0), None)
    with RunStore.create(tmp_path / "run", options, text, hashlib.sha256(text.encode()).hexdigest()) as store:
        child_id, = store.add_children(0, None, [(arch.tokens, arch.model_dump_json())])
        store.finish_child(child_id, 0.4, 0.4, "valid_accuracy", 1000, 2000, 1.0)
    result = runner.invoke(app, ["export", "--best", "--run", str(tmp_path / "run"), "-o", str(tmp_path / "m.py")])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "MODEL.md").read_text()
    enas = options["enas"]
    assert "| strategy | `enas` |" in card and f"| budget | {options['budget']} children derived" in card
    assert "one shared network trained 3 epochs on all training images per epoch" in card
    assert f"took {enas['controller_steps']} steps per epoch of {enas['controller_aggregate']} children" in card
    assert "derived children: validation accuracy on the first 200 validation images" in card
    assert f"plus {enas['entropy_weight']:g} × its entropy" in card

