"""A key echoed in a response header does not reach the SDKs' or transports' DEBUG logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import pytest

from persona_llm import log_redaction
from persona_llm.containers import Container
from persona_llm.errors import FRAGMENT
from persona_llm.testing.emulator import PROVIDERS, ProviderEmulator, Reply
from tests.security.test_keys import MODELS, settings_for

KEY = "hdrkey9Zy8Xw7Vu6Ts5Rq4Po3Nm2"


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    """Every record of every logger, DEBUG and up, formatted with its arguments."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def echoing_reply(emu: ProviderEmulator, provider: str) -> Reply:
    """The emulator's normal reply, with the key echoed in two response headers."""
    from persona_llm.testing import wire

    body = {
        "openai": wire.openai_chat("hi"),
        "azure": wire.openai_chat("hi"),
        "anthropic": wire.anthropic_message("hi"),
        "gemini": wire.gemini_response("hi"),
    }[provider]
    return Reply(body, headers={"x-echo-key": KEY, "x-debug": f"tail={KEY[-8:]}"})


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_key_in_a_response_header_never_reaches_debug_logs(
    provider: str,
    emu: ProviderEmulator,
    container_with: Callable[..., Container],
    debug_logs: io.StringIO,
) -> None:
    container = container_with(
        llm_service=f"{provider}/{MODELS[provider]}", **settings_for(emu, provider, KEY)
    )
    emu.enqueue(provider, echoing_reply(emu, provider))
    assert container.chat_client().chat([{"role": "user", "content": "hi"}]).content == "hi"
    logs = debug_logs.getvalue()
    assert "x-echo-key" in logs.lower() or provider == "gemini"  # the headers were logged
    for i in range(len(KEY) - FRAGMENT + 1):
        assert KEY[i : i + FRAGMENT] not in logs


def test_the_filter_can_be_taken_off_and_put_back(
    emu: ProviderEmulator, container_with: Callable[..., Container], debug_logs: io.StringIO
) -> None:
    container = container_with(llm_service="openai/gpt-4o-mini", **settings_for(emu, "openai", KEY))
    container.chat_client()
    transport = logging.getLogger("httpcore2.http11")
    assert any(isinstance(f, log_redaction.RedactingFilter) for f in transport.filters)
    log_redaction.uninstall()
    try:
        assert not any(isinstance(f, log_redaction.RedactingFilter) for f in transport.filters)
        container.reset_singletons()
        container.chat_client()  # a new adapter does not put it back
        assert not any(isinstance(f, log_redaction.RedactingFilter) for f in transport.filters)
    finally:
        log_redaction.install()
    assert any(isinstance(f, log_redaction.RedactingFilter) for f in transport.filters)


def test_a_logger_an_sdk_creates_after_install_is_redacted_too(
    emu: ProviderEmulator, container_with: Callable[..., Container], debug_logs: io.StringIO
) -> None:
    container = container_with(llm_service="openai/gpt-4o-mini", **settings_for(emu, "openai", KEY))
    container.chat_client()  # the adapter installs the filter
    late = logging.getLogger("openai.resources.late_module_imported_on_first_use")
    assert not late.filters  # created after install: no filter of its own
    late.debug("response headers: %s", {"x-echo-key": KEY})
    logs = debug_logs.getvalue()
    assert "late_module_imported_on_first_use" in logs  # the record was logged
    for i in range(len(KEY) - FRAGMENT + 1):
        assert KEY[i : i + FRAGMENT] not in logs


def test_uninstall_hands_back_the_previous_record_factory(
    emu: ProviderEmulator, container_with: Callable[..., Container], debug_logs: io.StringIO
) -> None:
    before = logging.getLogRecordFactory()
    container = container_with(llm_service="openai/gpt-4o-mini", **settings_for(emu, "openai", KEY))
    container.chat_client()
    log_redaction.uninstall()
    try:
        logging.getLogger("openai.some_later_module").debug("key %s", KEY)
        assert KEY in debug_logs.getvalue()  # taken off means taken off
        factory = logging.getLogRecordFactory()
        assert factory is before or factory is getattr(before, "inner", None)
    finally:
        log_redaction.install()
    logging.getLogger("other.app").debug("an app record %s", KEY)
    assert debug_logs.getvalue().count(KEY) == 2  # records of other loggers are left alone
