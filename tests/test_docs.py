"""The docs: every relative link in README.md and docs/*.md resolves, every page is in mkdocs.yml's nav,
the generated CLI reference covers every command and option, and (where mkdocs is installed) the site
builds with --strict."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _hook():
    spec = importlib.util.spec_from_file_location("nascli_docs_hook", DOCS / "hooks" / "site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOK = _hook()


def slugify(text: str) -> str:
    """A heading's anchor as MkDocs (Python-Markdown's toc) makes it; GitHub's agrees on our headings."""
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    found, fenced = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if HOOK.FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)):
            found.add(slugify(heading.group(1)))
    return found


def broken_links(page: Path, root: Path) -> list[str]:
    """`page`'s relative links whose file, or whose anchor in a Markdown file, does not exist."""
    broken = []
    for target in HOOK.link_targets(page.read_text(encoding="utf-8")):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists() or root not in resolved.parents and resolved != root:
            broken.append(f"{page.relative_to(root)}: {target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{page.relative_to(root)}: {target} (no such heading)")
    return broken


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def nav_pages() -> list[str]:
    """The pages mkdocs.yml's nav names (`  - Title: page.md` lines)."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n", 1)[1]
    return re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?(\S+\.md)\s*$", nav, flags=re.M)


def test_every_relative_link_in_the_readme_and_docs_resolves():
    broken = [problem for page in pages() for problem in broken_links(page, ROOT)]
    assert broken == []


def test_the_link_check_catches_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n## A section\n\n[ok](b.md#b-heading) [self](#a-section)\n"
                                   "[gone](missing.md) [bad](b.md#nowhere)\n\n```\n[in code](ignored.md)\n```\n")
    (tmp_path / "b.md").write_text("# B `heading`\n")
    assert broken_links(tmp_path / "a.md", tmp_path) == [
        "a.md: missing.md (no such file)", "a.md: b.md#nowhere (no such heading)"]


def test_every_docs_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    nav = nav_pages()
    on_disk = sorted(page.name for page in DOCS.glob("*.md"))
    assert sorted(set(on_disk) - set(nav)) == [], "pages missing from mkdocs.yml's nav"
    assert [page for page in nav if page not in on_disk and page not in HOOK.GENERATED_PAGES] == []
    assert set(HOOK.GENERATED_PAGES) <= set(nav)
    # Generated pages are never committed: the build makes them.
    assert [page for page in HOOK.GENERATED_PAGES if (DOCS / page).exists()] == []


def test_the_cli_reference_names_every_command_and_option():
    from nascli.cli import app

    reference = HOOK.cli_reference()
    command = typer.main.get_command(app)
    ctx = typer.Context(command)
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        assert f"## `nascli {name}`" in reference
        section = reference.split(f"## `nascli {name}`", 1)[1].split("\n## ", 1)[0]
        for param in sub.params:
            for flag in param.opts if param.param_type_name == "option" else []:
                assert f"`{flag}" in section or f" {flag}" in section, (name, flag)
        assert sub.help.split("\n")[0].strip()[:40] in section


def test_the_readme_links_map_onto_the_site():
    assert HOOK.site_target("index.md", "docs/spaces.md#ops") == "spaces.md#ops"
    assert HOOK.site_target("index.md", "docs/img/tour-best-cell.png") == "img/tour-best-cell.png"
    assert HOOK.site_target("benchmarks.md", "../bench/results/quality.txt") == "repo/bench/results/quality.txt"
    assert HOOK.site_target("spaces.md", "plugins.md#datasets") == "plugins.md#datasets"
    assert HOOK.site_target("index.md", "https://example.org/x") == "https://example.org/x"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,  # run as `python -m mkdocs` below
                    reason="mkdocs is not installed (pip install -e '.[docs]')")
def test_the_site_builds_strictly(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "cli" / "index.html").exists()
    reference = (tmp_path / "site" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "--time-budget" in reference
    assert "become &lt;unk&gt;" in reference  # help text's <unk> shown, not swallowed as an HTML tag
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert 'src="img/tour-best-cell.png"' in home and (tmp_path / "site" / "img" / "tour-best-cell.png").exists()
