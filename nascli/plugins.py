"""Plugins: Python modules that register ops (and, later, datasets) when imported.

A plugin is any module that calls `nascli.ops.register_op` (or
`declare_op`) at import time. nascli imports plugins from three places, in
this order, before any command runs:

1. installed packages' entry points in the group `nascli.plugins`
   (`[project.entry-points."nascli.plugins"] myops = "myops"`);
2. the environment variable `NASCLI_PLUGINS`: module names or .py paths,
   separated by the OS path separator (':' on Linux and macOS);
3. `nascli --plugin PATH_OR_MODULE` (repeatable).

A space file names the plugins it needs with `requires NAME`, and is refused
with a message naming the plugin when it is not loaded. A space file never
imports code itself: inspecting someone else's space runs none of theirs.
A plugin's name is its module name (a .py file's stem), or its entry point's name.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from .errors import NasError

ENTRY_POINT_GROUP = "nascli.plugins"
ENV_VAR = "NASCLI_PLUGINS"

_loaded: dict[str, ModuleType] = {}  # plugin name -> module
_refs: list[str] = []  # what was asked for, in order, so worker processes can load the same


class PluginError(NasError):
    """A plugin that cannot be found or fails while it is imported."""


def _import_file(path: Path) -> ModuleType:
    name = path.stem
    if not name.isidentifier():
        raise PluginError("a plugin file's name must be a Python identifier (it is imported by that name)",
                          where=str(path))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # exported model.py files `import` it by this name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_plugin(ref: str) -> ModuleType:
    """Import one plugin: a path to a .py file, or an importable module name."""
    if ref in _refs:
        return _loaded[_name(ref)]
    path = Path(ref)
    try:
        if ref.endswith(".py") or path.is_file():
            if not path.is_file():
                raise PluginError("no such plugin file", where=ref)
            module = _import_file(path)
        else:
            module = importlib.import_module(ref)
    except NasError:
        raise
    except ModuleNotFoundError as err:
        raise PluginError(f"cannot import plugin: {err}", where=ref) from None
    except Exception as err:  # a plugin's own bug: report it, as one line, naming the plugin
        raise PluginError(f"plugin failed while loading: {type(err).__name__}: {err}", where=ref) from None
    _loaded[module.__name__] = module
    _refs.append(ref)
    return module


def _name(ref: str) -> str:
    return Path(ref).stem if ref.endswith(".py") else ref


def load_plugins(refs: list[str] | None = None, entry_point_group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Load entry-point plugins, then `NASCLI_PLUGINS`, then `refs`; the names of all loaded plugins."""
    for ep in entry_points(group=entry_point_group):
        if ep.name not in _loaded:
            try:
                _loaded[ep.name] = ep.load()
            except Exception as err:
                raise PluginError(f"plugin failed while loading: {type(err).__name__}: {err}",
                                  where=f"entry point {ep.name}") from None
    env = [r for r in os.environ.get(ENV_VAR, "").split(os.pathsep) if r.strip()]
    for ref in env + list(refs or []):
        load_plugin(ref.strip())
    return loaded_plugins()


def loaded_plugins() -> list[str]:
    """Names a space's `requires` may use: each plugin's name and its module's last dotted part."""
    names = set(_loaded)
    names |= {module.__name__.rpartition(".")[2] for module in _loaded.values()}
    return sorted(names)


def loaded_refs() -> tuple[str, ...]:
    """The paths and module names loaded so far, to load the same in a worker process."""
    return tuple(_refs)
