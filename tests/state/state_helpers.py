"""Helpers of the state suite shared by more than one module (fixtures are in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from persona_llm.testing.emulator import ProviderEmulator


def timed(call: Callable[[], object]) -> tuple[float, object]:
    """(seconds `call` took, what came out: its result or the exception it raised)."""
    started = time.monotonic()
    try:
        result: object = call()
    except Exception as exc:  # the test looks at what came out
        result = exc
    return time.monotonic() - started, result


def breaker_pool(emu: ProviderEmulator, state: str, prefix: str) -> dict[str, Any]:
    """Settings of the breaker tests' pool: ``openai`` (the one the tests fail) then
    ``anthropic`` on the emulator, the breaker opening after 2 failures for 30 s, no retries,
    the store at `state` under `prefix`."""
    return {
        "llm_service": "openai/gpt-4o-mini",
        "llm_pool": "anthropic/claude-sonnet-4-6",
        "llm_circuit_failures": 2,
        "llm_circuit_cooldown": 30,
        "llm_max_retries": 0,
        "llm_timeout": 5,
        "openai_api_key": "sk-test-breaker-0123456789",
        "openai_base_url": emu.openai_base_url,
        "anthropic_api_key": "sk-ant-test-breaker-0123456789",
        "anthropic_base_url": emu.anthropic_base_url,
        "llm_state": state,
        "llm_state_prefix": prefix,
    }
