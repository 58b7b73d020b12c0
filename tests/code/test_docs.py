"""The documentation: the site builds with --strict, the README stays short and its links resolve.

The site (mkdocs.yml, docs/, and the API pages rendered from the docstrings of
``pipelines``) is built here exactly as ``make docs`` builds it, into a
temporary folder. With --strict every warning is an error: a link to a missing
page or anchor, a page left out of the nav, a snippet file that is gone, a
docstring griffe cannot read. A missing mkdocs is a failure, never a skip.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = REPO / "docs"
MKDOCS_YML = REPO / "mkdocs.yml"
README_MAX_LINES = 200
BUILD_TIMEOUT = 300

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def without_code(text: str) -> str:
    """Markdown without fenced code blocks and inline code, where a bracket is not a link."""
    text = FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading (its default slugify)."""
    from markdown.extensions.toc import slugify

    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"[`*_]", "", text)
    return slugify(text, "-")


def anchors(path: Path) -> set[str]:
    return {slug(heading) for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8")))}


def relative_links(path: Path) -> list[str]:
    links = LINK.findall(without_code(path.read_text(encoding="utf-8")))
    return [link for link in links if not re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I)]  # http:, mailto:, ...


def nav_pages(entry: object) -> list[str]:
    """Every page path that mkdocs.yml's nav names, however deeply nested."""
    if isinstance(entry, str):
        return [entry] if entry.endswith(".md") else []
    if isinstance(entry, list):
        return [page for item in entry for page in nav_pages(item)]
    if isinstance(entry, dict):
        return [page for value in entry.values() for page in nav_pages(value)]
    return []


def require_mkdocs() -> None:
    missing = [name for name in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
               if importlib.util.find_spec(name) is None]  # fmt: skip
    if missing:
        pytest.fail(
            f"the documentation tools are not installed ({', '.join(missing)} missing from {sys.executable}): "
            "they are pinned in requirements.lock; run `make install`"
        )


@pytest.mark.slow
def test_the_site_builds_with_strict(tmp_path: Path) -> None:
    require_mkdocs()
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(MKDOCS_YML),
               "--site-dir", str(tmp_path / "site")]  # fmt: skip
    # the snippets extension reads fairgate.yaml relative to the working folder, as `make docs` does
    built = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if built.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed (exit {built.returncode}):\n{built.stdout}\n{built.stderr}")
    assert (tmp_path / "site" / "index.html").is_file()
    for page in ("core", "data", "model", "governance", "reports", "flows"):
        html = (tmp_path / "site" / "api" / page / "index.html").read_text(encoding="utf-8")
        assert f'id="pipelines.{page}.' in html, f"the API page of pipelines.{page} renders none of its modules"


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines, at most {README_MAX_LINES}: move the depth to a page under docs/"
    )


def test_every_relative_link_of_the_readme_points_at_a_file_that_exists() -> None:
    links = relative_links(README)
    assert links, "README.md links to no page of docs/"
    broken = []
    for link in links:
        target, _, anchor = link.partition("#")
        path = (README.parent / unquote(target)).resolve() if target else README
        if not path.exists():
            broken.append(f"{link}: {path.relative_to(REPO) if path.is_relative_to(REPO) else path} does not exist")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{link}: {path.name} has no heading with the anchor #{anchor}")
    assert not broken, "README.md has broken links:\n" + "\n".join(broken)


def test_every_page_of_docs_is_in_the_nav() -> None:
    config = yaml.safe_load(MKDOCS_YML.read_text(encoding="utf-8"))
    named = nav_pages(config.get("nav"))
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert pages, "docs/ holds no page"
    assert not pages - set(named), f"pages missing from the nav of mkdocs.yml: {sorted(pages - set(named))}"
    assert not set(named) - pages, f"the nav names pages that do not exist: {sorted(set(named) - pages)}"
    assert len(named) == len(set(named)), "the nav names a page twice"
