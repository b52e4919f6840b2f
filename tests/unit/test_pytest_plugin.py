"""The pytest plugin: fixtures, markers and the network guard, used directly and from outside.

No test here ever lets a non-loopback connection through: each one that tries to reach a
remote address first checks that the guard is installed, and the address is then refused
before the socket sends anything.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time

import pytest

from persona_llm.containers import container
from persona_llm.facades import get_async_chat_client, get_chat_client, get_embedding_client
from persona_llm.providers import build_adapter
from persona_llm.settings import ProviderConfig
from persona_llm.testing import use_emulator
from persona_llm.testing.network_guard import NetworkBlockedError, NetworkGuard, is_local_address
from persona_llm.types import ChatRequest

pytest_plugins = ["pytester"]

UNREACHABLE = ("10.255.255.1", 443)
INNER_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run pytest in-process on the pytester directory.

    Hypothesis' plugin is off (it would be re-imported for every inner run), and so is
    pytest-django's (the Django example configures Django for this whole process).
    """
    off = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:django")
    return pytester.runpytest(*off, *args)


def assert_guarded(guard: NetworkGuard) -> None:
    """Refuse to go on unless the guard really replaced the socket methods."""
    assert guard.active
    assert vars(socket.socket)["connect"].__module__ == "persona_llm.testing.network_guard"
    assert socket.getaddrinfo.__module__ == "persona_llm.testing.network_guard"


# --- the guard, in this very test process -------------------------------------------------


def test_the_guard_is_on_by_default(llm_network_guard: NetworkGuard) -> None:
    assert_guarded(llm_network_guard)


def test_a_remote_connection_is_refused_before_anything_is_sent(
    llm_network_guard: NetworkGuard,
) -> None:
    assert_guarded(llm_network_guard)
    with socket.socket() as sock, pytest.raises(NetworkBlockedError) as caught:
        sock.connect(UNREACHABLE)
    message = str(caught.value)
    assert "blocked a connection to 10.255.255.1:443" in message
    assert "@pytest.mark.allow_network" in message
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        with pytest.raises(NetworkBlockedError):
            udp.sendto(b"x", ("8.8.8.8", 53))
        with pytest.raises(NetworkBlockedError):
            udp.connect_ex(("8.8.8.8", 53))
    assert len(llm_network_guard.take_blocked()) == 3  # else the plugin fails this test


def test_a_dns_lookup_of_a_remote_name_is_refused(llm_network_guard: NetworkGuard) -> None:
    assert_guarded(llm_network_guard)
    with pytest.raises(NetworkBlockedError, match=re.escape("DNS lookup of 'api.openai.com'")):
        socket.getaddrinfo("api.openai.com", 443)
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("example.com", 80), timeout=1)
    assert len(llm_network_guard.take_blocked()) == 2


def test_loopback_and_local_sockets_pass(llm_network_guard: NetworkGuard) -> None:
    assert_guarded(llm_network_guard)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    assert socket.getaddrinfo("localhost", 80)
    left, right = socket.socketpair()
    left.close()
    right.close()
    assert llm_network_guard.take_blocked() == []


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("api.localhost", True),
        ("0.0.0.0", True),
        ("", True),
        ("10.255.255.1", False),
        ("192.168.1.1", False),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
        ("api.openai.com", False),
        ("localhost.evil.com", False),
    ],
)
def test_what_counts_as_local(host: str, local: bool) -> None:
    assert is_local_address(host) is local


def test_an_sdk_call_to_the_real_api_fails_at_once_without_retries(
    llm_network_guard: NetworkGuard,
) -> None:
    assert_guarded(llm_network_guard)
    adapter = build_adapter(ProviderConfig(name="openai", api_key="sk-test-0000"))
    request = ChatRequest(messages=[{"role": "user", "content": "hi"}])
    started = time.monotonic()
    with pytest.raises(NetworkBlockedError, match=re.escape("api.openai.com")):
        adapter.chat("gpt-4o-mini", request)
    assert time.monotonic() - started < 5  # retries would back off for seconds
    assert llm_network_guard.take_blocked() == ["a DNS lookup of 'api.openai.com'"]


def test_an_asyncio_sdk_call_to_a_remote_address_fails_too(
    llm_network_guard: NetworkGuard,
) -> None:
    assert_guarded(llm_network_guard)
    config = ProviderConfig(
        name="anthropic", api_key="sk-ant-test", base_url="http://10.255.255.1"
    )
    adapter = build_adapter(config)
    request = ChatRequest(messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(BaseException) as caught:  # anyio's happy eyeballs group the error
        asyncio.run(adapter.achat("claude-sonnet-4-6", request))
    assert caught.group_contains(NetworkBlockedError) or caught.type is NetworkBlockedError
    assert llm_network_guard.take_blocked() == ["a connection to 10.255.255.1:80"]


def test_guards_nest_and_restore_what_they_replaced(llm_network_guard: NetworkGuard) -> None:
    outer_connect = vars(socket.socket)["connect"]
    outer_lookup = socket.getaddrinfo
    with NetworkGuard() as inner:
        assert inner.active and vars(socket.socket)["connect"] is not outer_connect
    assert vars(socket.socket)["connect"] is outer_connect
    assert socket.getaddrinfo is outer_lookup and not inner.active


@pytest.mark.allow_network
def test_the_marker_turns_the_guard_off(llm_network_guard: NetworkGuard) -> None:
    assert not llm_network_guard.active
    assert "connect" not in vars(socket.socket)  # the plain socket method, untouched


# --- llm_fake and llm_emulator ------------------------------------------------------------


def test_llm_fake_scripts_every_facade(llm_fake) -> None:  # type: ignore[no-untyped-def]
    llm_fake.enqueue("scripted")
    assert get_chat_client().chat([{"role": "user", "content": "hi"}]).content == "scripted"
    assert len(get_embedding_client().embeddings(["a"])[0]) == 8
    assert [call.kind for call in llm_fake.calls] == ["chat", "embeddings"]


def test_llm_emulator_points_the_library_at_the_emulator(llm_emulator) -> None:  # type: ignore[no-untyped-def]
    reply = get_chat_client().chat([{"role": "user", "content": "over HTTP"}])
    assert reply.provider == "openai" and reply.content == "echo: over HTTP"
    assert llm_emulator.last_request("openai").json["model"] == "gpt-4o-mini"

    async def ask() -> str:
        return (await get_async_chat_client().chat([{"role": "user", "content": "async"}])).content

    assert asyncio.run(ask()) == "echo: async"


@pytest.mark.parametrize(
    ("service", "provider"),
    [
        ("anthropic/claude-sonnet-4-6", "anthropic"),
        ("gemini/gemini-3.8-flash", "gemini"),
        ("azure/", "azure"),
        ("groq/llama-3.3-70b", "openai"),  # presets go to the emulator's OpenAI routes
    ],
)
def test_llm_emulator_serves_every_provider(llm_emulator, service: str, provider: str) -> None:  # type: ignore[no-untyped-def]
    with use_emulator(llm_emulator, llm_service=service):
        get_chat_client().chat([{"role": "user", "content": "hi"}])
    assert llm_emulator.last_request().provider == provider
    assert get_chat_client().provider == "openai"  # back to the fixture's settings


def test_llm_emulator_is_reset_for_each_test(llm_emulator) -> None:  # type: ignore[no-untyped-def]
    assert llm_emulator.request_count == 0
    assert llm_emulator.config_for("openai").base_url.startswith("http://127.0.0.1:")


# --- the plugin from outside (pytester) ---------------------------------------------------


def test_fixtures_restore_the_container_after_each_test(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI)
    pytester.makepyfile(
        """
        from persona_llm import container, get_chat_client

        def test_fake(llm_fake):
            llm_fake.enqueue("scripted")
            assert get_chat_client().chat([{"role": "user", "content": "x"}]).content == "scripted"

        def test_emulator(llm_emulator):
            assert get_chat_client().chat([{"role": "user", "content": "x"}]).content == "echo: x"

        def test_after():
            assert container.chat_client.overridden == ()
            assert container.settings.overridden == ()
        """
    )
    run_inner(pytester).assert_outcomes(passed=3)
    assert container.settings.overridden == ()


def test_a_blocked_test_fails_with_a_clear_message(pytester: pytest.Pytester) -> None:
    # "all" mode: the default mode ("llm") would let 10.255.255.1 through to the outer guard.
    pytester.makeini(INNER_INI + "persona_llm_network_guard = all\n")
    pytester.makepyfile(
        """
        import socket, threading
        import pytest

        def test_connects_out():
            socket.create_connection(("10.255.255.1", 443), timeout=1)

        def test_swallows_the_error():
            try:
                socket.create_connection(("10.255.255.1", 443), timeout=1)
            except BaseException:
                pass

        def test_connects_out_on_a_thread():
            def reach():
                try:
                    socket.getaddrinfo("api.anthropic.com", 443)
                except BaseException:
                    pass
            thread = threading.Thread(target=reach)
            thread.start()
            thread.join()
        """
    )
    result = run_inner(pytester)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*NetworkBlockedError: persona-llm network guard: blocked a connection to "
            "10.255.255.1:443*",
            "*network guard blocked a DNS lookup of 'api.anthropic.com'*allow_network*",
        ]
    )


def test_opting_out_turns_the_guard_off(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.allow_network
        def test_marked(llm_network_guard):
            assert not llm_network_guard.active

        def test_unmarked(llm_network_guard):
            assert llm_network_guard.active
        """
    )
    run_inner(pytester).assert_outcomes(passed=2)
    run_inner(pytester, "--llm-allow-network").assert_outcomes(passed=1, failed=1)
    pytester.makeini(INNER_INI + "persona_llm_network_guard = false\n")
    run_inner(pytester).assert_outcomes(passed=1, failed=1)


def test_real_keys_tests_are_skipped_without_keys_and_may_use_the_network(
    pytester: pytest.Pytester, env
) -> None:  # type: ignore[no-untyped-def]
    pytester.makeini(INNER_INI)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.real_keys
        def test_default_provider(llm_network_guard):
            assert not llm_network_guard.active

        @pytest.mark.real_keys("gemini", "azure")
        def test_named_providers(llm_network_guard):
            assert not llm_network_guard.active
        """
    )
    run_inner(pytester, "-rs").assert_outcomes(skipped=2)
    with env(PERSONA_LLM_REAL_KEYS="1", OPENAI_API_KEY="sk-test", GOOGLE_API_KEY="AIza-test"):
        result = run_inner(pytester, "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*AZURE_API_KEY, AZURE_API_BASE not set*"])


def test_markers_are_registered_for_strict_suites(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.allow_network
        @pytest.mark.real_keys("openai")
        def test_marked():
            pass
        """
    )
    run_inner(pytester, "--strict-markers").assert_outcomes(skipped=1)


def test_a_background_thread_of_the_library_is_guarded_too(
    llm_network_guard: NetworkGuard,
) -> None:
    assert_guarded(llm_network_guard)
    errors: list[BaseException] = []

    def reach() -> None:
        try:
            socket.socket().connect(UNREACHABLE)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=reach)
    thread.start()
    thread.join(timeout=10)
    assert isinstance(errors[0], NetworkBlockedError)
    assert llm_network_guard.take_blocked() == ["a connection to 10.255.255.1:443"]
    assert container.settings.overridden == ()


# --- the default mode blocks LLM provider hosts only ----------------------------------------

# The inner project resolves names with a stub installed before the guard wraps the lookup, so
# a name the guard lets through is answered without a DNS packet (127.0.0.1 for everything).
STUB_RESOLVER = """
import socket

_real = {}

def pytest_configure(config):
    _real["getaddrinfo"] = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port or 0))]

    socket.getaddrinfo = resolve

def pytest_unconfigure(config):
    socket.getaddrinfo = _real.pop("getaddrinfo")
"""

LOOKUPS = """
import socket

def test_neo4j():
    assert socket.getaddrinfo("neo4j", 7687)[0][4][0] == "127.0.0.1"

def test_postgres_in_the_cloud():
    socket.getaddrinfo("db.internal.example.com", 5432)

def test_openai():
    socket.getaddrinfo("api.openai.com", 443)

def test_azure():
    socket.getaddrinfo("my-resource.openai.azure.com", 443)

def test_vertex():
    socket.getaddrinfo("europe-west4-aiplatform.googleapis.com", 443)

def test_groq_preset():
    socket.getaddrinfo("api.groq.com", 443)

def test_configured_base_url():
    socket.getaddrinfo("llm-gateway.corp.example", 443)
"""


TWO_LOOKUPS = """
import socket

def test_neo4j():
    socket.getaddrinfo("neo4j", 7687)

def test_openai():
    socket.getaddrinfo("api.openai.com", 443)
"""


def outcomes_by_test(result: pytest.RunResult) -> dict[str, str]:
    found = re.findall(r"^(PASSED|FAILED) \S+::(test_\w+)", result.stdout.str(), re.M)
    return {name: outcome for outcome, name in found}


def test_the_default_mode_blocks_only_llm_provider_hosts(pytester: pytest.Pytester, env) -> None:  # type: ignore[no-untyped-def]
    pytester.makeconftest(STUB_RESOLVER)
    pytester.makeini(INNER_INI)
    pytester.makepyfile(LOOKUPS)
    with env(OPENAI_BASE_URL="https://llm-gateway.corp.example/v1"):
        result = run_inner(pytester, "-rA")
    assert outcomes_by_test(result) == {
        "test_neo4j": "PASSED",
        "test_postgres_in_the_cloud": "PASSED",
        "test_openai": "FAILED",
        "test_azure": "FAILED",
        "test_vertex": "FAILED",
        "test_groq_preset": "FAILED",
        "test_configured_base_url": "FAILED",
    }
    result.stdout.fnmatch_lines(
        ["*blocked a DNS lookup of 'api.openai.com'; that is an LLM provider host*billed*"]
    )


@pytest.mark.parametrize(
    ("ini", "args", "passed"),
    [
        ("persona_llm_network_guard = all\n", (), set()),
        ("", ("--llm-block-network",), set()),
        ("persona_llm_network_guard = off\n", (), {"test_neo4j", "test_openai"}),
        (
            "persona_llm_network_guard = all\n",
            ("--llm-allow-network",),
            {"test_neo4j", "test_openai"},
        ),
    ],
    ids=["ini-all", "option-block", "ini-off", "option-allow-wins"],
)
def test_all_blocks_every_remote_host_and_off_none(
    pytester: pytest.Pytester, ini: str, args: tuple[str, ...], passed: set[str]
) -> None:
    pytester.makeconftest(STUB_RESOLVER)
    pytester.makeini(INNER_INI + ini)
    pytester.makepyfile(TWO_LOOKUPS)
    result = run_inner(pytester, "-rA", *args)
    outcomes = outcomes_by_test(result)
    assert {name for name, outcome in outcomes.items() if outcome == "PASSED"} == passed
    assert len(outcomes) == 2


def test_an_unknown_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI + "persona_llm_network_guard = some\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run_inner(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*persona_llm_network_guard = 'some': use llm*"])


def test_this_suite_runs_with_every_remote_host_blocked(llm_network_guard: NetworkGuard) -> None:
    assert llm_network_guard.only is None  # pyproject.toml: persona_llm_network_guard = "all"
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("neo4j", 7687)
    llm_network_guard.take_blocked()  # expected here; must not fail this test
