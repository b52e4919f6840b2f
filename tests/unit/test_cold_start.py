"""A first call from a fresh process imports only what that call needs (issue 20, item 4).

Load-independent guards of the cold-start figure (`python -m benchmarks --only import`): each
runs a fresh interpreter, makes a first ``get_chat_client().chat(...)`` and checks
`sys.modules`, never a clock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from persona_llm.testing.emulator import ProviderEmulator

_FIRST_CALL = """
import json, sys
from persona_llm import get_chat_client
get_chat_client().chat([{"role": "user", "content": "hi"}])
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(code: str, **env: str) -> set[str]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "EMBEDDING_"))}
    child_env.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=child_env
    ).stdout
    modules: list[str] = json.loads(out.strip().splitlines()[-1])
    return set(modules)


def _loaded(modules: set[str], *prefixes: str) -> list[str]:
    return sorted(m for m in modules if m.startswith(prefixes))


def test_a_first_call_does_not_import_dependency_injectors_wiring() -> None:
    # `wiring` imports werkzeug (and Starlette, FastAPI) where installed: ~20 ms, unused.
    modules = _modules_after(_FIRST_CALL, LLM_SERVICE="fake/echo")
    assert _loaded(modules, "dependency_injector.wiring", "werkzeug", "starlette", "fastapi") == []


def test_wiring_still_works_when_an_application_uses_it() -> None:
    code = """
import sys, types
from persona_llm import container
from dependency_injector import providers
from dependency_injector.wiring import Provide, inject

views = types.ModuleType("views")
exec('''
from dependency_injector.wiring import Provide, inject
@inject
def model(client=Provide["chat_client"]):
    return client.model
''', views.__dict__)
sys.modules["views"] = views
container.chat_client.override(providers.Object(types.SimpleNamespace(model="wired")))
container.wire(modules=[views])
wiring = sys.modules["dependency_injector.wiring"]
print([views.model(), wiring.__file__ is not None, wiring.inject is inject])
container.unwire()
try:
    views.model()
except AttributeError:
    print("unwired")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["['wired',", "True,", "True]", "unwired"]


def test_a_first_call_imports_no_unconfigured_feature() -> None:
    # No LLM_STATE features, pool or fallbacks: their modules stay unloaded.
    modules = _modules_after(_FIRST_CALL, LLM_SERVICE="fake/echo")
    assert (
        _loaded(
            modules,
            "persona_llm.state.build",
            "persona_llm.state.store",
            "persona_llm.state.memory",
            "persona_llm.state.limit",
            "persona_llm.state.cache",
            "persona_llm.state.breaker",
            "persona_llm.state.budgets",
            "persona_llm.reliability.balance",
            "persona_llm.reliability.failover",
            "persona_llm.features.structured",
            "persona_llm.features.tool",
            "difflib",
        )
        == []
    )


def test_configured_features_are_still_built() -> None:
    # The same first call with a cache and a fallback: the modules load, and the stack has both.
    code = _FIRST_CALL + (
        "from persona_llm import container\n"
        "print(type(container.chat_adapter()).__name__)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    modules = _modules_after(
        code, LLM_SERVICE="fake/echo", LLM_CACHE="memory", LLM_FALLBACKS="fake/other"
    )
    assert "persona_llm.state.cached" in modules
    assert "persona_llm.reliability.failover" in modules


def test_lazy_package_exports_resolve() -> None:
    # Every name a package re-exports lazily is importable and is its module's object.
    code = """
import importlib, json
bad = []
for package in ("persona_llm.usage", "persona_llm.state", "persona_llm.reliability"):
    module = importlib.import_module(package)
    for name in module.__all__:
        value = getattr(module, name)
        if getattr(value, "__module__", package).split(".")[:2] != package.split(".")[:2]:
            bad.append(f"{package}.{name}")
print(json.dumps(bad))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_a_first_openai_reply_skips_the_sdks_chat_resources(emulator: ProviderEmulator) -> None:
    # The reply goes through client.post: the SDK's typed create() and its streaming models
    # (19 modules the raw SDK call imports) load only when options must be sorted by them.
    code = _FIRST_CALL + (
        "options = {'seed': 1, 'provider_options': {'openai': {'min_p': 0.1}}}\n"
        "get_chat_client().chat([{'role': 'user', 'content': 'hi'}], **options)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "OPENAI_"))},
            "LLM_SERVICE": "openai/gpt-4o-mini",
            "OPENAI_API_KEY": "sk-test-0123456789",
            "OPENAI_BASE_URL": emulator.openai_base_url,
        },
    ).stdout.splitlines()
    first, after_options = (set(json.loads(line)) for line in out[-2:])
    assert "openai" in first
    assert _loaded(first, "openai.resources.chat", "openai.lib.streaming") == []
    assert "openai.resources.chat.completions.completions" in after_options
    sent = emulator.requests[-1].json
    assert sent["seed"] == 1 and sent["min_p"] == 0.1  # known and unknown options both sent
