"""EMBEDDING_DIMENSIONS: sent to every provider with an embeddings API, and enforced.

The Persona app's vector index holds 1536-dimension vectors; a vector of another length must
never reach it. Each test goes settings → container → adapter → real SDK → the emulator.
"""

from __future__ import annotations

import logging

import pytest

from persona_llm import ResponseParseError, get_embedding_client, reset_clients
from persona_llm.testing import use_emulator, wire
from persona_llm.testing.emulator import ProviderEmulator, Reply
from persona_llm.workflows.embeddings import generate_embeddings

SERVICES = [
    ("openai/text-embedding-3-small", "openai"),
    ("azure/emulated-embedding", "azure"),
    ("gemini/gemini-embedding-001", "gemini"),
]


def sent_dimensions(emu: ProviderEmulator, provider: str) -> list[object]:
    body = emu.last_request(provider).json
    if provider == "gemini":
        return [item.get("outputDimensionality") for item in body["requests"]]
    return [body.get("dimensions")]


@pytest.mark.parametrize(("service", "provider"), SERVICES, ids=[p for _, p in SERVICES])
def test_the_dimensions_are_sent_and_every_vector_has_them(
    llm_emulator: ProviderEmulator, service: str, provider: str
) -> None:
    with use_emulator(llm_emulator, embedding_service=service, embedding_dimensions=16):
        vectors = generate_embeddings(["alpha", "beta"])
    assert [len(v) for v in vectors] == [16, 16]
    assert set(sent_dimensions(llm_emulator, provider)) == {16}


@pytest.mark.parametrize(("service", "provider"), SERVICES, ids=[p for _, p in SERVICES])
def test_a_vector_of_another_length_is_an_error(
    llm_emulator: ProviderEmulator, service: str, provider: str
) -> None:
    short = [wire.fake_vector("alpha", 8)]
    body = wire.gemini_embeddings(short) if provider == "gemini" else wire.openai_embeddings(short)
    llm_emulator.enqueue(provider, Reply(body))
    with (
        use_emulator(llm_emulator, embedding_service=service, embedding_dimensions=1536),
        pytest.raises(ResponseParseError, match=r"\[8\].*not the 1536 asked for") as info,
    ):
        get_embedding_client().embeddings(["alpha"])
    assert info.value.provider == provider


def test_without_the_setting_nothing_is_sent_or_checked(llm_emulator: ProviderEmulator) -> None:
    with use_emulator(llm_emulator, embedding_service="openai/text-embedding-3-small"):
        vectors = get_embedding_client().embeddings(["alpha"])
    assert len(vectors[0]) == 8 and sent_dimensions(llm_emulator, "openai") == [None]


def test_the_fake_provider_follows_the_setting(llm_emulator: ProviderEmulator) -> None:
    with use_emulator(llm_emulator, llm_service="fake/x", embedding_dimensions=12):
        assert len(get_embedding_client().embeddings(["alpha"])[0]) == 12


def test_a_derived_embedding_service_logs_one_warning(
    llm_emulator: ProviderEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="persona_llm.reliability.build"),
        use_emulator(llm_emulator, llm_service="gemini/gemini-3.8-flash"),
    ):
        get_embedding_client().embeddings(["alpha"])
        get_embedding_client().embeddings(["beta"])
    warnings = [r.getMessage() for r in caplog.records if "EMBEDDING_SERVICE" in r.getMessage()]
    assert len(warnings) == 1
    assert "gemini/gemini-embedding-001" in warnings[0] and "LLM_SERVICE=gemini" in warnings[0]


def test_a_pinned_embedding_service_logs_nothing(
    llm_emulator: ProviderEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="persona_llm.reliability.build"),
        use_emulator(
            llm_emulator,
            llm_service="gemini/gemini-3.8-flash",
            embedding_service="openai/text-embedding-3-small",
        ),
    ):
        get_embedding_client().embeddings(["alpha"])
    assert not [r for r in caplog.records if "EMBEDDING_SERVICE" in r.getMessage()]
    reset_clients()
