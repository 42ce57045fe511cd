"""Op plugins: loaded from --plugin, NASCLI_PLUGINS and entry points; a space's `requires`; and a
plugin op searched, rendered and exported like a built-in one (examples/plugins/asym_conv.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from nascli.cli import app
from nascli.ops import OPS
from nascli.plugins import load_plugins

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "examples" / "plugins" / "asym_conv.py"
SPACE = ROOT / "examples" / "plugins" / "asym.space"
FAST = ["--budget", "2", "--batch", "2", "--epochs", "1", "--train-subset", "32"]

pytestmark = pytest.mark.filterwarnings("ignore:.*torch.jit.*:DeprecationWarning")


def test_a_space_names_the_plugin_it_requires(runner, monkeypatch):
    if "asym_conv" in OPS:  # loaded by an earlier test: this one is about the message without it
        monkeypatch.setattr("nascli.space.checks.loaded_plugins", lambda: [])
    result = runner.invoke(app, ["inspect", str(SPACE)])
    assert result.exit_code == 2
    assert "requires the plugin 'asym_conv', which is not loaded" in result.output and f"{SPACE}:4:14" in result.output


def test_a_space_that_uses_a_plugin_op_must_require_the_plugin(runner, tmp_path):
    unnamed = tmp_path / "unnamed.space"
    unnamed.write_text(SPACE.read_text().replace("    requires asym_conv\n", ""))
    result = runner.invoke(app, ["--plugin", str(PLUGIN), "inspect", str(unnamed)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{unnamed}:9:13" in result.output and "op 'asym_conv' comes from the plugin 'asym_conv'" in result.output


def test_search_render_and_export_a_plugin_op(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plugin = ["--plugin", str(PLUGIN)]
    result = runner.invoke(app, [*plugin, "inspect", str(SPACE)])
    assert result.exit_code == 0 and "asym_conv" in result.output and "40,000" in result.output
    result = runner.invoke(app, [*plugin, "search", str(SPACE), "--seed", "1", *FAST])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, [*plugin, "render", "--best"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, [*plugin, "export", "--best", "-o", str(tmp_path / "model.py")])
    assert result.exit_code == 0, result.output
    source = (tmp_path / "model.py").read_text()
    assert "import asym_conv  # plugin that registers ops" in source
    assert "nascli --plugin asym_conv search " in (tmp_path / "MODEL.md").read_text()  # the card's reproduce command
    spec = importlib.util.spec_from_file_location("exported_asym", tmp_path / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.Child()(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_plugins_from_the_environment_and_bad_plugins(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("NASCLI_PLUGINS", str(PLUGIN))
    assert runner.invoke(app, ["inspect", str(SPACE)]).exit_code == 0
    broken = tmp_path / "broken_plugin.py"
    broken.write_text("raise RuntimeError('oops')\n")
    for ref, words in [(str(broken), "plugin failed while loading: RuntimeError: oops"),
                       (str(tmp_path / "absent.py"), "no such plugin file"),
                       ("no_such_module_xyz", "cannot import plugin")]:
        result = runner.invoke(app, ["--plugin", ref, "inspect", "conv"])
        assert result.exit_code == 2 and words in result.output, result.output
        assert "Traceback" not in result.output


def test_plugins_from_entry_points(tmp_path, monkeypatch):
    (tmp_path / "entry_ops.py").write_text(
        "from torch import nn\nfrom nascli.ops import register_op\n\n"
        "@register_op('entry_identity', blocks=('layer', 'cell'))\n"
        "def entry_identity(c_in, c_out, stride, params):\n    return nn.Identity()\n")
    dist = tmp_path / "entry_ops-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: entry-ops\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[nascli.plugins]\nentry_ops = entry_ops\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert "entry_ops" in load_plugins()
        assert "layer" in OPS.get("entry_identity").blocks and OPS.get("entry_identity").plugin == "entry_ops"
    finally:
        OPS.remove("entry_identity")
        sys.modules.pop("entry_ops", None)
