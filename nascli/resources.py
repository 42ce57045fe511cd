"""Where nascli's bundled files live: the grammar and the bundled spaces.

In a source checkout (and an editable install) they are the top-level
`grammars/` and `spaces/` folders; a wheel carries copies under
`nascli/_bundled/` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(folder: str) -> Path:
    for root in (_PKG / "_bundled", _PKG.parent):
        if (root / folder).is_dir():
            return root / folder
    raise FileNotFoundError(f"nascli is installed without its {folder}/ folder")


def grammar_path() -> Path:
    return _find("grammars") / "space.lark"


def spaces_dir() -> Path:
    return _find("spaces")
