"""pytest plugin (registered through the ``pytest11`` entry point, so installing persona-llm
enables it in every suite; ``-p no:persona_llm`` turns it off).

Fixtures:
    llm_fake: a `FakeProvider` behind every facade of the default container for one test;
        script it with ``llm_fake.enqueue(...)``, inspect ``llm_fake.calls``.
    llm_emulator: a running `ProviderEmulator` (one per session, reset for each test) with
        the default container's settings pointing all four providers, and the
        OpenAI-compatible presets, at it; restored after the test. ``LLM_SERVICE`` still picks
        the provider; switch inside a test with ``use_emulator(llm_emulator, llm_service=...)``.
    llm_network_guard: the session's `NetworkGuard` (``.active``, ``.blocked``).

Markers:
    real_keys(*providers): the test calls real providers. Skipped unless
        ``PERSONA_LLM_REAL_KEYS=1`` and the key variables of each named provider (default:
        the provider of ``LLM_SERVICE``) are set. Network access is allowed for it.
    allow_network: turn the network guard off for this test.

Network guard: on for every test, in one of three modes.

* ``llm`` (the default): only LLM provider hosts are blocked (the four providers' public
  hosts, Vertex AI and Azure OpenAI/Foundry domains, the hosted presets, and the host of any
  ``*_BASE_URL``/``*_API_BASE`` in the environment; see `persona_llm.testing._llm_hosts`). A
  lookup of ``api.openai.com`` fails the test at once, before any packet is sent; the
  project's other traffic (a database container in an integration test) is left alone.
* ``all``: every connection or DNS lookup to anything but a loopback address fails the test
  (what this repository's own suite uses). ``--llm-block-network`` selects it for a run.
* ``off``: no guard. ``--llm-allow-network`` selects it for a run.

Set the mode for a project with ``persona_llm_network_guard = llm | all | off`` in the pytest
configuration (``true`` means ``all``, ``false`` means ``off``, as in earlier releases). Opt
out per test with ``@pytest.mark.allow_network``. The guard covers the test process, not
subprocesses it starts.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from persona_llm.testing._llm_hosts import llm_host_matcher
from persona_llm.testing.network_guard import NetworkGuard

if TYPE_CHECKING:
    from persona_llm.providers.fake import FakeProvider
    from persona_llm.testing.emulator import ProviderEmulator

_GUARD = pytest.StashKey[NetworkGuard]()
_MODE = pytest.StashKey[str]()
_GUARD_HINT = (
    "Mark the test @pytest.mark.allow_network if it really must reach the network "
    "(or run pytest with --llm-allow-network)."
)
_MODES = {"llm": "llm", "all": "all", "off": "off", "true": "all", "false": "off"}
_LLM_REASON = (
    "that is an LLM provider host, and a call to it would be real and billed; use the "
    "llm_fake or llm_emulator fixture."
)
_KEYS = {
    "azure": ("AZURE_API_KEY", "AZURE_API_BASE"),
    "gemini": ("GEMINI_API_KEY|GOOGLE_API_KEY",),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    """The switches of the network guard."""
    parser.addini(
        "persona_llm_network_guard",
        "persona-llm: llm (default: fail tests that reach an LLM provider host), "
        "all (any non-loopback host), or off",
        default="llm",
    )
    parser.addoption(
        "--llm-allow-network",
        action="store_true",
        default=False,
        help="persona-llm: turn the network guard off for this run",
    )
    parser.addoption(
        "--llm-block-network",
        action="store_true",
        default=False,
        help="persona-llm: block every non-loopback host for this run, not only LLM providers",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin's markers and create the session's network guard."""
    config.addinivalue_line(
        "markers",
        "real_keys(*providers): calls real providers; skipped unless PERSONA_LLM_REAL_KEYS=1 "
        "and the providers' keys are set (default: the LLM_SERVICE provider)",
    )
    config.addinivalue_line(
        "markers", "allow_network: turn persona-llm's network guard off for this test"
    )
    mode = _guard_mode(config)
    if mode == "llm":
        guard = NetworkGuard(_GUARD_HINT, only=llm_host_matcher(os.environ), reason=_LLM_REASON)
    else:
        guard = NetworkGuard(_GUARD_HINT)
    config.stash[_GUARD] = guard
    config.stash[_MODE] = mode


def _guard_mode(config: pytest.Config) -> str:
    """``llm``, ``all`` or ``off``: the command line wins over the ini setting."""
    if config.getoption("llm_allow_network"):
        return "off"
    if config.getoption("llm_block_network"):
        return "all"
    value = str(config.getini("persona_llm_network_guard")).strip().lower()
    mode = _MODES.get(value)
    if mode is None:
        raise pytest.UsageError(
            f"persona_llm_network_guard = {value!r}: use llm (block LLM provider hosts), "
            "all (block every non-loopback host) or off"
        )
    return mode


def _guard_wanted(item: pytest.Item) -> bool:
    if item.config.stash[_MODE] == "off":
        return False
    opted_out = item.get_closest_marker("allow_network") or item.get_closest_marker("real_keys")
    return opted_out is None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[Any]:
    """Run the test (setup, call and teardown) under the network guard unless it opted out."""
    guard = item.config.stash[_GUARD]
    if not _guard_wanted(item):
        return (yield)
    guard.take_blocked()
    guard.install()
    try:
        return (yield)
    finally:
        guard.uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Fail a phase that passed although the guard blocked something (on another thread,
    or caught by a broad ``except``)."""
    report = yield
    guard = item.config.stash.get(_GUARD, None)
    blocked = guard.take_blocked() if guard is not None else []
    if blocked and report.passed:
        report.outcome = "failed"
        report.longrepr = (
            "persona-llm network guard blocked " + "; ".join(blocked) + ". " + _GUARD_HINT
        )
    return report


def _missing_keys(marker: pytest.Mark) -> list[str]:
    providers = list(marker.args)
    if not providers:
        service = os.environ.get("LLM_SERVICE") or "openai/"
        providers = [service.partition("/")[0].strip().lower() or "openai"]
    missing = []
    for provider in providers:
        for variable in _KEYS.get(provider, (f"{provider.upper()}_API_KEY",)):
            if not any(os.environ.get(name, "").strip() for name in variable.split("|")):
                missing.append(variable.replace("|", " or "))
    return missing


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip `real_keys` tests unless real calls were asked for and the keys are there."""
    marker = item.get_closest_marker("real_keys")
    if marker is None:
        return
    if os.environ.get("PERSONA_LLM_REAL_KEYS") != "1":
        pytest.skip("needs real provider keys: set PERSONA_LLM_REAL_KEYS=1 and the provider key")
    missing = _missing_keys(marker)
    if missing:
        pytest.skip(f"needs real provider keys: {', '.join(missing)} not set")


@pytest.fixture
def llm_fake() -> Iterator[FakeProvider]:
    """A fake provider behind `get_chat_client()` and friends for the duration of one test."""
    from persona_llm.testing import override_llm

    with override_llm() as fake:
        yield fake


@pytest.fixture(scope="session")
def _llm_emulator_server() -> Iterator[ProviderEmulator]:
    from persona_llm.testing.emulator import ProviderEmulator

    with ProviderEmulator() as server:
        yield server


@pytest.fixture
def llm_emulator(_llm_emulator_server: ProviderEmulator) -> Iterator[ProviderEmulator]:
    """The session's provider emulator, reset, with the library pointed at it for one test."""
    from persona_llm.testing import use_emulator

    _llm_emulator_server.reset()
    with use_emulator(_llm_emulator_server) as emulator:
        yield emulator


@pytest.fixture
def llm_network_guard(request: pytest.FixtureRequest) -> NetworkGuard:
    """The network guard of this session (``active`` is False in tests that opted out)."""
    return request.config.stash[_GUARD]
