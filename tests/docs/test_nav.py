"""The site's nav (mkdocs.yml) and the pages in docs/ agree: every page is reachable from the
nav, and every nav entry names a page that exists. `mkdocs build --strict` (in .ci/run) checks
links and references; this catches a page added without a nav entry in the normal test run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def nav_pages(entries: Any) -> list[str]:
    """The page paths of a mkdocs nav (a list of pages, ``{title: page}`` and sections)."""
    if isinstance(entries, str):
        return [] if "://" in entries else [entries]
    if isinstance(entries, list):
        return [page for entry in entries for page in nav_pages(entry)]
    if isinstance(entries, dict):
        return [page for value in entries.values() for page in nav_pages(value)]
    raise AssertionError(f"unexpected nav entry {entries!r}")


def load_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return config


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    config = load_config()
    assert config.get("docs_dir", "docs") == "docs"
    listed = nav_pages(config["nav"])
    assert len(listed) == len(set(listed)), "a page is listed twice in the nav"
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    missing_pages = sorted(set(listed) - pages)
    unlisted = sorted(pages - set(listed))
    assert not missing_pages, f"mkdocs.yml nav names pages that do not exist: {missing_pages}"
    assert not unlisted, f"pages missing from the nav of mkdocs.yml: {unlisted}"


def test_the_build_is_strict() -> None:
    assert load_config().get("strict") is True


def test_nav_pages_reads_titles_sections_and_links() -> None:
    nav = ["index.md", {"A": "a.md"}, {"S": [{"B": "s/b.md"}, "s/c.md"]}, {"X": "https://x.y"}]
    assert nav_pages(nav) == ["index.md", "a.md", "s/b.md", "s/c.md"]


def test_the_links_of_readme_and_contributing_resolve() -> None:
    """GitHub renders these two outside the site, so mkdocs does not check their links."""
    for document in (ROOT / "README.md", ROOT / "CONTRIBUTING.md"):
        text = document.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if "://" in target or target.startswith("#"):
                continue
            path = (document.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"{document.name} links to {target}, which does not exist"


def test_the_readme_sections_the_site_includes_have_no_links() -> None:
    """docs/ pages include README sections (``--8<-- "README.md:name"``); a relative link in
    one resolves from README.md on GitHub but from the including page on the site."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sections = re.findall(r"--8<-- \[start:([\w-]+)\] -->\n(.*?)<!-- --8<-- \[end:\1\]", text, re.S)
    assert sections, "README.md has no section marked for the site"
    for name, body in sections:
        links = re.findall(r"\]\(([^)]+)\)", body)
        assert not links, (
            f"README.md section {name!r} is shown on the site too: put links {links} in the "
            "README's documentation list, not inside this section"
        )
