"""MkDocs hooks: pages made at build time, and links to the repository outside docs/.

- `cli.md`, the CLI reference, is generated from the typer app (typer's own `typer ... utils docs`
  logic), so it cannot drift from `--help`; nothing generated is committed.
- `index.md` is the README, so the landing page exists once.
- A relative link from a page to a file of the repository outside docs/ (`../bench/quality.py`,
  README's `bench/results/x.png`) is pointed at a copy of that file in the site (`repo/...`), so
  such links work on the site as they do on GitHub, and a link to a missing file still fails
  `mkdocs build --strict`.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPO_PREFIX = "repo/"
# The pages this hook makes; tests/test_docs_links.py reads this to know they are not files.
GENERATED_PAGES = ("index.md", "cli.md")
# A Markdown link or image target: `](target)` or `](target "title")`.
LINK = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
FENCE = re.compile(r"^(```|~~~)")


def cli_reference() -> str:
    """The CLI reference in Markdown, from the typer app's click command tree."""
    import typer
    from typer.cli import get_docs_for_click

    from nascli.cli import app  # importing it registers every command

    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="nascli")
    body = get_docs_for_click(obj=command, ctx=ctx, name="nascli", title="CLI reference")
    intro = (
        "Generated from the typer app at build time (`docs/hooks/site.py`), so it says what\n"
        "`nascli COMMAND --help` says.\n\n"
    )
    title, _, rest = body.partition("\n")
    return f"{title}\n\n{intro}{escape_html(rest)}"


def escape_html(markdown: str) -> str:
    """`markdown` with `<` and `>` outside code written as entities: help text says `<unk>` and
    `runs/<timestamp>`, which Markdown would pass through as HTML tags and the page would not show."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            parts = line.split("`")  # odd parts are code spans
            line = "`".join(part if i % 2 else part.replace("<", "&lt;").replace(">", "&gt;")
                            for i, part in enumerate(parts))
        lines.append(line)
    return "\n".join(lines) + "\n"


def on_files(files, config):
    from mkdocs.structure.files import File  # imported here: tests read this module without mkdocs

    files.append(File.generated(config, "cli.md", content=cli_reference()))
    files.append(File.generated(config, "index.md", content=(ROOT / "README.md").read_text(encoding="utf-8")))
    for target in sorted(repo_targets(files)):
        files.append(File.generated(config, REPO_PREFIX + target, abs_src_path=str(ROOT / target)))
    return files


def repo_targets(files) -> set[str]:
    """The repository files outside docs/ that the Markdown pages link to (and that exist)."""
    targets = set()
    for page in files.documentation_pages():
        source = page.content_string if page.generated_by else Path(page.abs_src_path).read_text(encoding="utf-8")
        for target in links(source):
            inside = repo_path(page.src_uri, target)
            if inside is not None and (ROOT / inside).is_file():
                targets.add(inside)
    return targets


def link_targets(markdown: str) -> list[str]:
    """The link targets of `markdown` that are not URLs (`x.md#a`, `#a`), outside fenced code."""
    found, fenced = [], False
    for line in markdown.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            found += [m.group(2) for m in LINK.finditer(line) if not re.match(r"^([a-z][a-z0-9+.-]*:|/)", m.group(2))]
    return found


def links(markdown: str) -> list[str]:
    """The relative link targets of `markdown`, outside fenced code, without their anchors."""
    return [target.split("#")[0] for target in link_targets(markdown) if is_relative(target)]


def is_relative(target: str) -> bool:
    return not re.match(r"^([a-z][a-z0-9+.-]*:|/|#)", target)


def repo_path(page_uri: str, target: str) -> str | None:
    """`target`'s path in the repository when it lies outside docs/, else None."""
    if page_uri == "index.md":  # the README: its links are relative to the repository root
        path = posixpath.normpath(target)
    else:
        path = posixpath.normpath(posixpath.join("docs", posixpath.dirname(page_uri), target))
    return None if path.startswith(("docs/", "../")) else path


def site_target(page_uri: str, target: str) -> str:
    """Where `target`, written in the page `page_uri`, lies in the site."""
    path, hashmark, anchor = target.partition("#")
    if not path or not is_relative(target):
        return target
    inside = repo_path(page_uri, path)
    if inside is None:
        if page_uri == "index.md":  # README's `docs/x.md` is the site's `x.md`
            return posixpath.relpath(posixpath.normpath(path), "docs") + hashmark + anchor
        return target
    up = "../" * page_uri.count("/")
    return f"{up}{REPO_PREFIX}{inside}{hashmark}{anchor}"


def on_page_markdown(markdown: str, page, config, files) -> str:
    uri = page.file.src_uri
    lines, fenced = [], False
    for line in markdown.splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
        elif not fenced:
            line = LINK.sub(lambda m: m.group(1) + site_target(uri, m.group(2)) + m.group(3), line)
        lines.append(line)
    return "\n".join(lines) + "\n"
