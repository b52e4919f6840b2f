"""The import paths of 0.1 that moved keep working for one release, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys

import pytest

MOVED = [
    ("persona_llm.graph", "persona_llm.workflows.graph", "get_nodes"),
    ("persona_llm.graph_types", "persona_llm.workflows.types", "Node"),
    ("persona_llm.embeddings", "persona_llm.workflows.embeddings", "generate_embeddings"),
    ("persona_llm.aio", "persona_llm.workflows.aio", "get_nodes"),
    ("persona_llm.structured", "persona_llm.features.structured", "chat_validated"),
    ("persona_llm.tools", "persona_llm.features.tools", "run_tools"),
    ("persona_llm.streaming", "persona_llm.features.streaming", "collect_stream"),
]


@pytest.mark.parametrize(("old", "new", "name"), MOVED)
def test_an_old_path_warns_and_still_works(old: str, new: str, name: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
    assert set(module.__all__) == set(importlib.import_module(new).__all__)


def test_the_library_itself_imports_no_old_path() -> None:
    """Importing every current module raises no DeprecationWarning (run in a fresh process)."""
    import subprocess

    code = (
        "import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
        "import persona_llm, persona_llm.workflows.graph, persona_llm.workflows.aio\n"
        "import persona_llm.features.tools, persona_llm.cli, persona_llm.testing\n"
        "import persona_llm.routing.router, persona_llm.usage.observed\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
