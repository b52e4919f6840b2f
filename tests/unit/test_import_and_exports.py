"""The package imports fast, loads no SDK, and exports a curated, complete, sorted API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import persona_llm

SDKS = (
    "openai",
    "anthropic",
    "google.genai",
    "redis",
    "dependency_injector",
    "pydantic_settings",
)

DESIGN_NAMES = {
    "ChatMessage", "ChatResponse", "ChatChunk", "Usage", "Capabilities",
    "get_chat_client", "get_embedding_client", "get_async_chat_client",
    "get_async_embedding_client", "reset_clients", "container", "Container", "Settings",
    "LLMError", "ConfigurationError", "AuthenticationError", "PermissionDeniedError",
    "NotFoundError", "InvalidRequestError", "ContentFilterError", "RateLimitError",
    "ProviderUnavailableError", "LLMTimeoutError", "APIConnectionError", "ResponseParseError",
}  # fmt: skip


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stderr


def test_import_loads_no_sdk_and_no_container() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, persona_llm; print([m for m in {SDKS!r} if m in sys.modules])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"


def test_import_takes_under_100_ms() -> None:
    # Best of three fresh processes, as `python -X importtime` reports the cumulative time.
    timings = []
    for _ in range(3):
        lines = [line for line in _run("import persona_llm").splitlines() if "persona_llm" in line]
        cumulative_us = int(lines[-1].split("|")[1])
        timings.append(cumulative_us / 1000)
    assert min(timings) < 100, timings


def test_using_the_container_still_loads_no_sdk() -> None:
    code = (
        "import sys\n"
        "from persona_llm import container, get_chat_client\n"
        "import os; os.environ['LLM_SERVICE'] = 'fake/echo'\n"
        "get_chat_client().chat([{'role': 'user', 'content': 'hi'}])\n"
        "print([m for m in ('openai', 'anthropic', 'google.genai', 'redis') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_call_that_needs_no_retry_or_span_loads_neither_tenacity_nor_opentelemetry() -> None:
    # Both are needed only after a retryable failure / once the app imports OpenTelemetry.
    code = (
        "import sys, os\n"
        "os.environ['LLM_SERVICE'] = 'fake/echo'\n"
        "from persona_llm import get_chat_client\n"
        "get_chat_client().chat([{'role': 'user', 'content': 'hi'}])\n"
        "print([m for m in ('tenacity', 'opentelemetry.trace') if m in sys.modules])\n"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    )
    assert out.stdout.strip() == "[]"


def test_all_is_sorted_complete_and_resolves() -> None:
    names = [n for n in persona_llm.__all__ if n != "__version__"]
    assert names == sorted(names)
    assert set(names) >= DESIGN_NAMES
    for name in names:
        assert getattr(persona_llm, name) is not None


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        persona_llm.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_no_submodule_shadows_an_exported_name() -> None:
    # Importing persona_llm.<name> would set the package attribute <name> to the module.
    import importlib.util

    for name in persona_llm.__all__:
        assert importlib.util.find_spec(f"persona_llm.{name}") is None, name


def test_literal_all_matches_the_lazy_export_table() -> None:
    assert set(persona_llm.__all__) == {"__version__", *persona_llm._EXPORTS}
    assert len(persona_llm.__all__) == len(set(persona_llm.__all__))


def test_a_user_module_type_checks_against_the_package(tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = tmp_path / "user_app.py"
    user.write_text(
        "from persona_llm import ChatResponse, get_chat_client\n\n\n"
        "def ask(question: str) -> ChatResponse:\n"
        "    return get_chat_client().chat([{'role': 'user', 'content': question}])\n"
    )
    # mypy does not follow setuptools' editable-install hooks: point it at the source.
    source_root = str(Path(persona_llm.__file__).resolve().parents[1])
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(user)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MYPYPATH": source_root},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout
