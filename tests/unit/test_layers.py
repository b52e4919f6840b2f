"""The package's layers: each module imports only from its own layer or below, with no cycles.

Read from the source with `ast` (every import, including those inside functions and under
``TYPE_CHECKING``: a deferred import that points upward is a cycle in disguise). The layers,
top to bottom, are the ones CONTRIBUTING.md draws.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "persona_llm"

# Top to bottom; a module belongs to the first layer one of whose prefixes it starts with.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("tools", ("cli", "testing", "compat", "__main__")),
    (
        "deprecated paths",
        ("graph", "graph_types", "embeddings", "structured", "tools", "streaming", "aio"),
    ),
    ("workflows", ("workflows",)),
    ("public surface", ("__init__", "facades")),
    ("wiring", ("containers", "_wiring", "_di")),
    # built by the wiring; the router is handed their classes
    ("clients", ("clients", "_client_base")),
    ("cross-cutting", ("usage", "reliability", "routing", "state")),
    ("features", ("features",)),
    ("providers", ("providers",)),
    (
        "core",
        (
            "types",
            "messages",
            "tool_types",
            "content",
            "errors",
            "settings",
            "_provider_configs",
            "_services",
            "_secrets",
            "log_redaction",
            "arguments",
            "_deadline",
            "_lazy",
        ),
    ),
]
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts)


def layer_of(module: str) -> str:
    head = module.split(".")[0]
    for name, prefixes in LAYERS:
        if head in prefixes:
            return name
    raise AssertionError(f"persona_llm.{module} is in no layer: add it to LAYERS")


def imports_of(path: Path) -> set[str]:
    """The persona_llm modules `path` imports (``persona_llm.x.y`` → ``x.y``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "persona_llm":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("persona_llm."):
                found.add(node.module.removeprefix("persona_llm."))
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.removeprefix("persona_llm.")
                for alias in node.names
                if alias.name.startswith("persona_llm.")
            )
    return found


MODULES = {module_name(path): imports_of(path) for path in sorted(PACKAGE.rglob("*.py"))}


def resolve(target: str) -> str:
    """A module name for an imported name (``from persona_llm import x`` may name a module)."""
    while target and target not in MODULES and f"{target}.__init__" not in MODULES:
        target = target.rpartition(".")[0]
    return target if target in MODULES else f"{target}.__init__" if target else "__init__"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str) -> None:
    rank = RANK[layer_of(module)]
    upward = [
        f"{target} ({layer_of(resolve(target))})"
        for target in sorted(MODULES[module])
        if RANK[layer_of(resolve(target))] < rank
    ]
    assert not upward, f"persona_llm.{module} ({layer_of(module)}) imports upward: {upward}"


def test_nothing_below_the_workflows_imports_them() -> None:
    below = RANK["workflows"]
    offenders = [
        module
        for module, targets in MODULES.items()
        if RANK[layer_of(module)] > below and any(t.startswith("workflows") for t in targets)
    ]
    assert offenders == []


def test_there_are_no_import_cycles() -> None:
    graph = {
        module: {resolve(t) for t in targets if resolve(t) != module}
        for module, targets in MODULES.items()
    }
    # A package's __init__ re-exporting its own submodules is not a cycle of the design.
    for module in graph:
        package = module.rpartition(".")[0]
        if module.endswith("__init__"):
            graph[module] = {t for t in graph[module] if not t.startswith(package)}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " → ".join(
            [*visiting[visiting.index(module) :], module]
        )
        visiting.append(module)
        for target in sorted(graph.get(module, ())):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_the_layer_test_sees_an_upward_import() -> None:
    """The check itself works: a provider module importing the container would be caught."""
    assert RANK[layer_of("containers")] < RANK[layer_of("providers.openai.adapter")]
    assert layer_of(resolve("usage.tracker.track_usage")) == "cross-cutting"
