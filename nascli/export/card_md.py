"""MODEL.md's text from a Card (card.py). Every name and path from a file or run folder is escaped
(markdown.py): as text, as a code span, or as a quoted word of a command in a code block."""

from __future__ import annotations

import torch

from .. import __version__
from ..data.base import ImageTask, LanguageTask, TabularTask
from .card import Card, SearchFacts
from .markdown import md_block, md_code, md_text, shell_command
from .onnx_check import TOLERANCE
from .onnx_export import EXPORTER, OPSET
from .reproduce import Command, data_words, retrain_command, search_command

UNIT = {ImageTask: "image", LanguageTask: "token", TabularTask: "row"}
FORMAT_NAMES = {"py": "PyTorch source (needs only torch)", "pt": "TorchScript, with the trained weights",
                "onnx": "ONNX, with the trained weights"}
NOT_FROM_A_RUN = ["the search's strategy, budget and seed", "the reward and its proxy (epochs, training subset)",
                  "the child's search-time score", "the `nascli fidelity` τ", "the command that reproduces the search"]


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _rows(rows: list[tuple[str, str]]) -> str:
    return "| | |\n| --- | --- |\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)


def _task(card: Card) -> str:
    task = card.data.task
    if isinstance(task, ImageTask):
        return f"images {task.channels}×{task.height}×{task.width}, {task.classes} classes"
    if isinstance(task, TabularTask):
        return f"table rows of {task.features} encoded features, {task.classes} classes"
    return f"a vocabulary of {task.vocab_size:,} tokens"


def _data(card: Card) -> str:
    source = "the embedded sample" if card.data.embedded else md_text(card.data.source)
    return f"{md_code(card.found.data.name)}, {source}"


def _architecture(card: Card) -> str:
    arch, weights, unit = card.found.arch, card.found.weights, UNIT[type(card.data.task)]
    trained = (f"trained by `nascli eval`: {md_text(str(weights.path))}" if weights.trained else
               "untrained (`nascli eval` trains it; see Reproduce)")
    return ("## Architecture\n\n" + md_block(arch.tokens, "text") + "\n" + _rows([
        ("space", f"{md_code(arch.space)}, space file sha256 {md_code(arch.space_hash)}"),
        ("input", _task(card)), ("data", _data(card)),
        ("parameters", f"{card.profile.params:,}"),
        ("MACs", f"{card.profile.macs:,} per {unit} (matrix products only, FlopCounterMode's formulas)"),
        ("weights", trained)]))


def _latency(card: Card) -> str:
    first, unit = card.latency[0], UNIT[type(card.data.task)]
    many = "s" if first.batch > 1 else ""
    what = f"{first.batch} stream{many} of {first.steps} tokens" if first.steps else f"{first.batch} {unit}{many}"
    load = f"{first.load_average:.2f}" if first.load_average is not None else "unknown"
    rows = "".join(f"| {lat.runtime} | {what} | {lat.median_ms:.3g} ms | {lat.threads} | {lat.device} |\n"
                   for lat in card.latency)
    return ("## Latency\n\nThe median of " f"{first.repeats} timed forward passes after {first.warmup} warm-up "
            f"passes (eval mode, no gradients), measured when this card was written, at a load average of {load}: "
            "other work on the machine slows every pass.\n\n"
            "| runtime | batch | median | threads | device |\n| --- | --- | --- | --- | --- |\n" + rows)


def _signature(card: Card) -> str:
    task = card.data.task
    if isinstance(task, ImageTask):
        return (f"input `images` (batch, {task.channels}, {task.height}, {task.width}) float32 → "
                f"output `logits` (batch, {task.classes})")
    if isinstance(task, TabularTask):
        return f"input `features` (batch, {task.features}) float32 → output `logits` (batch, {task.classes})"
    hidden = card.found.child.language.hidden_size
    memory = card.exported.parity is not None and "c" in card.exported.parity.inputs
    state = ", `c`" if memory else ""
    return (f"inputs `tokens` (steps, batch) int64, `h`{state} (batch, {hidden}) float32 → outputs `logits` "
            f"(steps, batch, {task.vocab_size}), `h_out`{', `c_out`' if memory else ''}: the recurrent state "
            "after the last step; feed it back as the next call's state (zeros to start)")


def _export(card: Card) -> str:
    exported = card.exported
    rows = [("file", f"{md_code(exported.path.name)}: {FORMAT_NAMES[exported.format]}"),
            ("made by", f"nascli {__version__}, torch {torch.__version__}")]
    parity = exported.parity
    if parity is not None:
        rows += [("exporter", f"`{EXPORTER}`, opset {OPSET}"), ("graph", _signature(card)),
                 ("check", f"{parity.runtime} against nascli's child with the same weights, on "
                           f"{md_code(card.found.data.name)} data ({parity.what}): max \\|diff\\| = "
                           f"{parity.max_diff:.3g}, at most {TOLERANCE:.0e} allowed")]
    return "## This export\n\n" + _rows(rows)


def _reward(search: SearchFacts, task) -> tuple[str, str]:
    """(proxy, reward) in words, for the run's strategy."""
    options, enas = search.options, search.options.get("enas")
    unit = {ImageTask: "images", LanguageTask: "tokens", TabularTask: "rows"}[type(task)]
    if enas is not None:
        proxy = (f"one shared network trained {_count(enas['epochs'], 'epoch')} on "
                 f"{enas.get('train_subset') or 'all'} training {unit} per epoch; the controller took "
                 f"{enas['controller_steps']} steps per epoch of {enas['controller_aggregate']} children each; "
                 "the derived children were scored on the shared weights")
        metric = "accuracy" if not isinstance(task, LanguageTask) else f"{enas['reward_c']:g} / perplexity"
        reward = (f"derived children: validation {metric} on the first {enas.get('derive_subset') or 'all'} "
                  f"validation {unit}; the controller's: validation-minibatch {metric} plus "
                  f"{enas['entropy_weight']:g} × its entropy")
        return proxy, reward
    train, rw = options.get("train", {}), options.get("reward", {})
    proxy = (f"each child trained from scratch for {_count(train.get('epochs'), 'epoch')} on "
             f"{train.get('train_subset') or 'all'} training {unit} per epoch")
    if isinstance(task, LanguageTask):
        return proxy, f"{rw.get('c', 80):g} / (the last epoch's validation perplexity)²"
    last = rw.get("last_epochs", 5)
    return proxy, f"(the best validation accuracy of the last {last} epochs) ^ {rw.get('power', 3):g}"


def _search(card: Card) -> str:
    search = card.search
    if search is None:
        return ""
    options, child = search.options, search.child
    budget = f"{options['budget']} children" + (" derived from the trained policy" if options.get("enas") else
                                                f", {options.get('batch')} per controller step")
    proxy, reward = _reward(search, card.data.task)
    return "## Search\n\n" + _rows([
        ("run", md_text(str(search.run))),
        ("child", f"#{child.id}, the best of the {search.finished} finished children by search-time reward"),
        ("strategy", md_code(str(options.get("strategy")))), ("budget", budget),
        ("seed", str(options.get("seed"))), ("proxy", proxy), ("reward", reward),
        ("search-time score", f"reward {child.reward:.4g}, {md_text(child.metric_name or '')} {child.metric:.4g}")])


def _fidelity(card: Card) -> str:
    search = card.search
    if search is None:
        return ""
    head = "## Does the search's ranking hold? (`nascli fidelity`)\n\n"
    study = search.fidelity
    if study is None:
        why = f"its record cannot be read ({md_text(search.fidelity_problem)})" if search.fidelity_problem else \
            "no study of this run yet"
        return head + f"Not measured: {why}. `nascli fidelity RUN` measures it.\n"
    tau, rho, s = study.kendall_tau, study.spearman_rho, study.settings

    def value(c) -> str:
        return "undefined" if c.value is None else f"{c.value:.2f} [{c.low:.2f}, {c.high:.2f}]"

    mine = next((p for p in study.pairs if p.child_id == search.child.id), None)
    this = "" if mine is None or mine.standalone_metric is None else \
        f" This child's stand-alone {md_text(study.metric_name)}: {mine.standalone_metric:.4g}."
    return head + (f"Kendall τ-b = {value(tau)}, Spearman ρ = {value(rho)} ({md_text(study.interval)}) between the "
                   f"search-time and stand-alone scores of {len(study.pairs)} of the run's {study.finished} "
                   f"finished children, each retrained for {_count(s.epochs, 'epoch')} on {s.train_subset or 'all'} "
                   f"training examples per epoch, seed {s.seed}.{this}\n")


def _test(card: Card) -> str:
    test = card.test
    head = "## Test result (`nascli eval`)\n\n"
    if test is None:
        return head + "Not measured: `nascli eval` has not retrained these weights (see Reproduce).\n"
    value = f"{test.metric:.2%}" if test.metric_name == "test_accuracy" else f"{test.metric:.2f}"
    seed = "an unrecorded seed" if test.seed is None else f"seed {test.seed}"
    return head + (f"{md_text(test.metric_name.replace('_', ' '))}: **{value}** on the test split of "
                   f"{md_code(test.dataset)}, measured once after retraining from scratch for "
                   f"{_count(test.epochs, 'epoch')} on {test.train_examples:,} training and validation examples "
                   f"({seed}, on {md_text(test.device)}).\n")


def _commands(card: Card) -> tuple[Command | None, list[list[str]], list[str]]:
    """(search, retraining, export) commands; the search's is None without a run, the retraining is two
    commands for a token string (decode it to an arch.json first)."""
    found, test = card.found, card.test
    settings = (test.epochs, test.seed, test.device, test.amp) if test else (None, None, None, None)
    data = data_words(found.data)
    if card.search is not None:
        source = ["--best", "--run", str(card.search.run)]
        search = search_command(card.search.run, card.search.options, card.search.plugins)
        retrain, exported_from = [retrain_command(source, *settings).words], source
    elif found.arch_file is not None:
        search, exported_from = None, [str(found.arch_file), *data]
        retrain = [retrain_command(exported_from, *settings).words]
    else:
        search, exported_from = None, [found.arch.tokens, *data]
        retrain = [["nascli", "decode", found.arch.tokens, "-o", "arch.json"],
                   retrain_command(["arch.json", *data], *settings).words]
    export = ["nascli", "export", *exported_from, "-o", str(card.exported.path), "--format", card.exported.format]
    return search, retrain, export


def _shell(*commands: list[str]) -> str:
    return md_block("\n".join(shell_command(words) for words in commands), "sh")


def _reproduce(card: Card) -> str:
    search, retrain, export = _commands(card)
    text = "## Reproduce\n\n"
    if search is not None:
        text += "The search, on the run's own copy of its space file, with every setting the run recorded:\n\n"
        text += _shell(search.words)
        if search.unset:
            text += ("\nThe run also recorded settings no option sets (made through the library): "
                     + "; ".join(md_text(u) for u in search.unset) + ".\n")
        if card.search.plugins:
            text += "\n`--plugin` loads the plugins the space requires; give the file or module you loaded.\n"
        text += "\n"
    done = "as it ran" if card.test else "not run yet; `nascli eval`'s defaults"
    text += f"The retraining and single test measurement that make these weights ({done}):\n\n"
    return text + _shell(*retrain) + "\nThis export:\n\n" + _shell(export)


def _unknown(card: Card) -> str:
    unknown = [] if card.search is not None else list(NOT_FROM_A_RUN)
    if card.test is None:
        unknown.append("the test accuracy (`nascli eval` has not run)")
    if not unknown:
        return ""
    why = "" if card.search is not None else \
        f"This child was exported from {'an arch.json' if card.found.arch_file else 'a token string'}, not a run. "
    return "## Unknown\n\n" + why + "This card cannot say:\n\n" + "".join(f"- {u}\n" for u in unknown)


def card_markdown(card: Card) -> str:
    title = (f"# Model card: a child of the {md_code(card.found.arch.space)} space\n\n"
             f"A network found by nascli, exported as {FORMAT_NAMES[card.exported.format]}. "
             "Search-time scores come from a cheap proxy; only the test result below measures the network "
             "itself.\n")
    parts = [title, _architecture(card), _latency(card), _export(card), _search(card), _fidelity(card), _test(card),
             _reproduce(card), _unknown(card)]
    return "\n".join(part for part in parts if part)
