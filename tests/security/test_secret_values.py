"""A configured secret that cannot go in an HTTP header is refused when the settings load,
and no piece of a key (6 characters or more) survives in what the library prints."""

from __future__ import annotations

import io
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from persona_llm import ConfigurationError, LLMError, get_chat_client, reset_clients
from persona_llm.containers import Container
from persona_llm.errors import FRAGMENT, redact
from persona_llm.testing.emulator import PROVIDERS, ProviderEmulator, Reply
from tests.security.test_keys import MODELS, error_body, settings_for

# A key cut by a line feed (pasted across two lines), an inner space, a tab, non-ASCII.
HEAD, TAIL = "AIzaSyAbc2Def3", "Ghi4Jkl5Mno6Pq"
BROKEN = {
    "line feed": (f"{HEAD}\n{TAIL}", 15),
    "space": (f"{HEAD} {TAIL}", 15),
    "tab": (f"{HEAD}\t{TAIL}", 15),
    "non-ASCII": (f"{HEAD}é{TAIL}", 15),
    "control": (f"{HEAD}\x7f{TAIL}", 15),
}


def pieces(value: str) -> Iterator[str]:
    """Every FRAGMENT-long piece of the key's printable parts."""
    for part in (HEAD, TAIL, value):
        for i in range(len(part) - FRAGMENT + 1):
            piece = part[i : i + FRAGMENT]
            if piece.isprintable() and " " not in piece:
                yield piece


def printed(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


@pytest.mark.parametrize("kind", BROKEN)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_key_with_a_bad_character_is_refused_by_name_and_position(
    provider: str, kind: str, emu: ProviderEmulator, env: Any
) -> None:
    key, position = BROKEN[kind]
    variables = {k.upper(): v for k, v in settings_for(emu, provider, key).items()}
    with env(LLM_SERVICE=f"{provider}/{MODELS[provider]}", **variables):
        reset_clients()
        with pytest.raises(ConfigurationError) as caught:
            get_chat_client().chat([{"role": "user", "content": "hi"}])
    message = str(caught.value)
    assert f"{provider.upper()}_API_KEY" in message
    assert f"position {position} of {len(key)}" in message
    assert kind.split()[0].lower() in message.lower()
    for piece in pieces(key):
        assert piece not in printed(caught.value)
    assert emu.requests == []  # refused before anything was sent


def test_surrounding_whitespace_is_stripped_not_refused(
    emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    container = container_with(
        llm_service="openai/gpt-4o-mini",
        **settings_for(emu, "openai", "  sk-proj-Ab12Cd34Ef56Gh78\n"),
    )
    container.chat_client().chat([{"role": "user", "content": "hi"}])
    assert emu.requests[0].headers["authorization"] == "Bearer sk-proj-Ab12Cd34Ef56Gh78"


def test_a_url_password_with_a_bad_character_is_refused(env: Any) -> None:
    url = "http://proxyuser:Pa55 w0rdSecret@127.0.0.1:9/v1"
    with env(LLM_SERVICE="openai/gpt-4o-mini", OPENAI_API_KEY="sk-ok", OPENAI_BASE_URL=url):
        reset_clients()
        with pytest.raises(
            ConfigurationError, match=r"password in OPENAI_BASE_URL has a space .*position 5 of 15"
        ) as caught:
            get_chat_client()
    assert "Pa55" not in printed(caught.value) and "w0rdSecret" not in printed(caught.value)


def test_doctor_reports_a_bad_key_without_any_piece_of_it(env: Any) -> None:
    from persona_llm.cli import main

    key, _ = BROKEN["line feed"]
    out, err = io.StringIO(), io.StringIO()
    with env(LLM_SERVICE="gemini/gemini-x", GEMINI_API_KEY=key):
        status = main(["doctor", "--online"], out=out, err=err, stdin=io.StringIO())
    text = out.getvalue() + err.getvalue()
    assert status == 1 and "GEMINI_API_KEY" in text and "position 15" in text
    for piece in pieces(key):
        assert piece not in text


PLAIN_KEY = "plainsecretvalue0123456789xyz"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_quoted_piece_of_a_key_is_redacted_through_the_sdk(
    provider: str, emu: ProviderEmulator, container_with: Callable[..., Container]
) -> None:
    """The provider quotes only a head, a middle or a tail of the key."""
    container = container_with(
        llm_service=f"{provider}/{MODELS[provider]}", **settings_for(emu, provider, PLAIN_KEY)
    )
    text = f"key {PLAIN_KEY[:7]}...{PLAIN_KEY[-6:]} rejected; middle {PLAIN_KEY[9:17]}"
    emu.enqueue(
        provider,
        Reply(error_body(provider, 401, text), status=400 if provider == "gemini" else 401),
    )
    with pytest.raises(LLMError) as caught:
        container.chat_client().chat([{"role": "user", "content": "hi"}])
    seen = printed(caught.value)
    for piece in (PLAIN_KEY[:7], PLAIN_KEY[-6:], PLAIN_KEY[9:17]):
        assert piece not in seen
    assert "rejected" in seen  # the rest of the provider's message is kept


def test_redact_cuts_runs_of_six_and_keeps_shorter_ones() -> None:
    secret = "Zq8Wx3Vb7Nm1Lk5J"
    text = f"a {secret[2:8]} b {secret[5:]} c {secret[:5]} d"
    assert redact(text, [secret]) == f"a [REDACTED] b [REDACTED] c {secret[:5]} d"
