"""Every name `persona_llm` exports is documented in the API reference (docs/api/*.md).

A page documents a name with a mkdocstrings directive: ``::: module.Name``, or ``::: module``
with no ``members:`` option (everything public), or with the name in its ``members:`` list.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import persona_llm

API = Path(__file__).resolve().parents[2] / "docs" / "api"
NOT_IN_THE_REFERENCE = {"__version__", "container"}  # the default Container instance: prose


def directives() -> dict[str, set[str] | None]:
    """Each ``::: path`` of the API pages and its members list (None: all members)."""
    found: dict[str, set[str] | None] = {}
    for page in sorted(API.glob("*.md")):
        lines = page.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            if not line.startswith("::: "):
                continue
            block = []
            for following in lines[index + 1 :]:
                if following and not following.startswith(" "):
                    break
                block.append(following)
            path = line[4:].strip()
            members = re.search(r"^\s+members:(.*)$", "\n".join(block), re.M)
            if members is None:
                found[path] = None
            elif members.group(1).strip() == "false":
                found.setdefault(path, set())
            else:
                items = re.findall(r"^\s+- (\w+)\s*$", "\n".join(block), re.M)
                found[path] = (found.get(path) or set()) | set(items)
    return found


def is_documented(name: str, module: str, found: dict[str, set[str] | None]) -> bool:
    if f"{module}.{name}" in found:
        return True
    if module not in found:
        return False
    members = found[module]
    return members is None or name in members


def homes(name: str, module: str) -> set[str]:
    """The module persona_llm imports the name from, and the one that defines it."""
    defined_in = getattr(getattr(persona_llm, name), "__module__", None)
    return {module, defined_in} - {None}  # type: ignore[arg-type]


def test_every_export_is_in_the_api_reference() -> None:
    found = directives()
    exports = persona_llm._EXPORTS
    missing = [
        f"{name} (from {exports[name]})"
        for name in sorted(set(persona_llm.__all__) - NOT_IN_THE_REFERENCE)
        if not any(is_documented(name, module, found) for module in homes(name, exports[name]))
    ]
    assert not missing, (
        f"exported by persona_llm but not in the API reference: {missing}; add each to the "
        "members of its module's ::: directive on a docs/api/ page (and to docs/api/index.md)"
    )


def test_the_reference_index_names_every_export() -> None:
    index = (API / "index.md").read_text(encoding="utf-8")
    missing = sorted(
        name for name in set(persona_llm.__all__) - {"__version__"} if f"`{name}`" not in index
    )
    assert not missing, f"docs/api/index.md does not say where to find {missing}"


def test_the_reference_sees_directives_and_members() -> None:
    found = directives()
    assert found["persona_llm.errors"] is None
    assert found["persona_llm.types"] and "ChatMessage" in found["persona_llm.types"]
    assert not is_documented("Nothing", "persona_llm.types", found)


def resolve(path: str) -> object:
    """The object a ``::: path`` directive names (a module, or an attribute of one)."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        module, _, attribute = path.rpartition(".")
        return getattr(resolve(module), attribute)


def test_every_directive_and_member_exists() -> None:
    """mkdocstrings skips a listed member that is gone without a warning, even with --strict."""
    for path, members in directives().items():
        target = resolve(path)
        gone = sorted(name for name in members or () if not hasattr(target, name))
        assert not gone, f"docs/api: ::: {path} lists members that do not exist: {gone}"
