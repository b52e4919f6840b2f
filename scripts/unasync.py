"""Write the blocking twins of persona-llm's asyncio code from their asyncio source.

Where a blocking function and its asyncio twin differ only by ``await`` (and the names of
the calls awaited), the asyncio one is written by hand and the blocking one is generated
from it, the way httpcore writes ``_async/`` and generates ``_sync/`` (its
``scripts/unasync.py``). Why generation rather than sans-I/O helpers, and how to work with
it: docs/contributing-twins.md.

A region of asyncio source, in any module under ``persona_llm/``::

    # unasync: source NAME
    async def achat(...): ...
    # unasync: end

and its generated blocking twin, in the same module or another one::

    # unasync: generated NAME (do not edit: scripts/unasync.py writes it)
    def chat(...): ...
    # unasync: end

The twin is the source, line by line, through `RULES` (word-bounded regular expressions),
then through ``ruff format``.

    python scripts/unasync.py          # rewrite every generated region
    python scripts/unasync.py --check  # exit 1 when one is stale (tests/unit/test_unasync.py)
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "persona_llm"

RULES: list[tuple[str, str]] = [
    # syntax
    (r"async def ", "def "),
    (r"async for ", "for "),
    (r"await ", ""),
    # types
    (r"Awaitable\[(\w+)\]", r"\1"),
    (r"Async([A-Z]\w*)", r"\1"),  # AsyncIterator, AsyncChatClient, ...
    # what only the asyncio clients have (closing their event loop's connections)
    (r"_AsyncClosing, ", ""),
    # the asyncio names of our own calls
    (r"achat", "chat"),
    (r"astream", "stream"),
    (r"aembeddings", "embeddings"),
    (r"aclose", "close"),
    (r"acomplete", "complete"),
    (r"achat_validated", "chat_validated"),
    (r"_acall", "_call"),
    (r"_arun", "_run"),
    (r"_aplan", "_plan"),
    (r"_aopen", "_open"),
    (r"_asucceeded", "_succeeded"),
    (r"_afailed", "_failed"),
    (r"arun", "run"),
    (r"arun_tools", "run_tools"),
    (r"_ainvoke", "_invoke"),
    (r"asyncio_loop=True", "asyncio_loop=False"),
    (r"_astream", "_stream"),
    (r"failing_async_iterator", "failing_iterator"),
    (r"afirst_visible", "first_visible"),
    (r"asleep", "sleep"),
    (r"acollect_stream", "collect_stream"),
    (r"get_async_chat_client", "get_chat_client"),
    (r"SupportsAsyncChat", "SupportsChat"),
    (r"_observe_astream", "_observe_stream"),
    (r"aacquire", "acquire"),
    (r"asettle", "settle"),
    (r"aobserve", "observe"),
    (r"afinish", "finish"),
    (r"ahold", "hold"),
    (r"_asleep", "_sleep"),
    (r"get_async_embedding_client", "get_embedding_client"),
    # prose in docstrings and comments ("asyncio." is code, never rewritten)
    (r"asyncio(?![.\w])", "blocking"),
    (r"Asyncio", "Blocking"),
]


def _bounded(pattern: str) -> re.Pattern[str]:
    # Whole words only: `achat` is not the end of `_achat` nor the start of `achat_validated`.
    before = r"(?<!\w)" if re.match(r"\w", pattern) else ""
    after = r"(?!\w)" if re.search(r"\w$", pattern) else ""
    return re.compile(before + pattern + after)


_COMPILED = [(_bounded(pattern), repl) for pattern, repl in RULES]

_MARKER = re.compile(
    r"^(?P<indent>[ \t]*)# unasync: (?P<kind>source|generated|end)\b ?(?P<rest>.*)$"
)
_GENERATED = "{indent}# unasync: generated {name} (do not edit: scripts/unasync.py writes it)"


class UnasyncError(Exception):
    """A region marker is missing, repeated or unmatched."""


@dataclass
class Region:
    """One marked region: where it is and its lines (markers excluded)."""

    name: str
    path: Path
    start: int  # index of the opening marker line
    end: int  # index of the closing marker line
    lines: list[str]


def unasync_line(line: str, used: set[int] | None = None) -> str:
    """`line` of asyncio source as its blocking twin's line."""
    for index, (pattern, repl) in enumerate(_COMPILED):
        line, count = pattern.subn(repl, line)
        if count and used is not None:
            used.add(index)
    return line


def regions(path: Path, lines: list[str], kind: str) -> list[Region]:
    """The regions of `kind` (``source`` or ``generated``) marked in `lines`."""
    found: list[Region] = []
    opened: tuple[str, str, int] | None = None
    for number, line in enumerate(lines):
        match = _MARKER.match(line)
        if match is None:
            continue
        where = f"{_shown(path)}:{number + 1}"
        if match["kind"] == "end":
            if opened is None:
                raise UnasyncError(f"{where}: '# unasync: end' without a region to end")
            if opened[0] == kind:
                found.append(
                    Region(opened[1], path, opened[2], number, lines[opened[2] + 1 : number])
                )
            opened = None
            continue
        if opened is not None:
            raise UnasyncError(f"{where}: a region opens inside another one")
        name = match["rest"].split(" ", 1)[0]
        if not name:
            raise UnasyncError(f"{where}: the region has no name")
        opened = (match["kind"], name, number)
    if opened is not None:
        raise UnasyncError(f"{_shown(path)}: region {opened[1]!r} is never ended")
    return found


def _modules(package: Path) -> dict[Path, list[str]]:
    return {
        path: path.read_text(encoding="utf-8").splitlines(keepends=True)
        for path in sorted(package.rglob("*.py"))
    }


def _sources(modules: dict[Path, list[str]]) -> dict[str, Region]:
    sources: dict[str, Region] = {}
    for path, lines in modules.items():
        for region in regions(path, lines, "source"):
            if region.name in sources:
                raise UnasyncError(f"two asyncio source regions are named {region.name!r}")
            sources[region.name] = region
    return sources


def format_code(path: Path, text: str) -> str:
    """`text` as ``ruff format`` writes it, with the project's settings."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise UnasyncError(f"ruff format failed on the generated {_shown(path)}:\n{done.stderr}")
    return done.stdout


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def generate(package: Path = PACKAGE, *, every_rule: bool = True) -> dict[Path, tuple[str, str]]:
    """Every module with a generated region: (its text now, the text it should have).

    Raises:
        UnasyncError: a marker is wrong, a region has no source or a source no twin, or a
            rule matched nothing (the rules stay the ones in use, as httpcore checks).
    """
    modules = _modules(package)
    sources = _sources(modules)
    twinned: set[str] = set()
    used: set[int] = set()
    result: dict[Path, tuple[str, str]] = {}
    for path, lines in modules.items():
        generated = regions(path, lines, "generated")
        if not generated:
            continue
        new = list(lines)
        for region in reversed(generated):  # from the end: earlier indexes stay valid
            source = sources.get(region.name)
            if source is None:
                raise UnasyncError(
                    f"{_shown(path)}: no asyncio source region named {region.name!r}"
                )
            twinned.add(region.name)
            indent = _MARKER.match(lines[region.start])["indent"]  # type: ignore[index]
            body = [unasync_line(line, used) for line in source.lines]
            header = _GENERATED.format(indent=indent, name=region.name) + "\n"
            new[region.start : region.end] = [header, *body]
        old = "".join(lines)
        result[path] = (old, format_code(path, "".join(new)))
    if missing := sorted(set(sources) - twinned):
        raise UnasyncError(f"asyncio source regions without a generated twin: {missing}")
    if every_rule and (unused := [RULES[i] for i in range(len(RULES)) if i not in used]):
        raise UnasyncError(f"rules that matched nothing (remove them): {unused}")
    return result


def stale(package: Path = PACKAGE, *, every_rule: bool = True) -> dict[Path, str]:
    """The modules whose generated regions are out of date, each with a unified diff."""
    return {
        path: "".join(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                f"{_shown(path)} (checked in)",
                f"{_shown(path)} (generated)",
            )
        )
        for path, (old, new) in generate(package, every_rule=every_rule).items()
        if old != new
    }


def main(argv: list[str]) -> int:
    """Rewrite the generated regions, or with ``--check`` report the stale ones."""
    if "--check" in argv:
        diffs = stale()
        for diff in diffs.values():
            print(diff)
        if diffs:
            print("stale blocking twins: run python scripts/unasync.py", file=sys.stderr)
        return 1 if diffs else 0
    for path, (old, new) in generate().items():
        if old != new:
            path.write_text(new, encoding="utf-8")
            print(f"rewrote {_shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
