"""Builders for realistic provider reply bodies and streams.

Pure functions: each returns the dict a provider sends (or an ``SSEReply`` for a
stream), shaped after the providers' API references and recorded traffic, quirks
included (``refusal: null``, Azure's filter results, Anthropic's typed blocks and
trailing spaces, Gemini's omitted zero counts and ``\\r\\n\\r\\n`` separators). Wrap
dicts in ``Reply`` for the emulator, or feed them straight to response-mapping tests::

    emu.enqueue("openai", Reply(wire.openai_chat(None, refusal="I can't help with that.")))
    emu.enqueue("openai", Reply(wire.openai_response("Hi", reasoning=[wire.reasoning_item()])))
    emu.enqueue("anthropic", wire.anthropic_events("Hi there", stop_reason="max_tokens"))
    emu.enqueue("gemini", Reply(wire.gemini_error(400, "API key not valid.",
                                                  "INVALID_ARGUMENT", "API_KEY_INVALID"),
                                status=400))

Rate-limit headers for any reply: ``Reply(body, headers=wire.openai_rate_headers(
remaining_requests=0, reset_requests="2s"))`` (`anthropic_rate_headers` for Anthropic).

Damaged replies for fault tests (`without_field`, `without_events`, `with_comments`,
`html_page`) are built from the realistic ones.
"""

from __future__ import annotations

from persona_llm.testing._wire_anthropic import (
    anthropic_error,
    anthropic_events,
    anthropic_message,
)
from persona_llm.testing._wire_common import fake_vector, split_pieces
from persona_llm.testing._wire_faults import (
    html_page,
    with_comments,
    without_events,
    without_field,
)
from persona_llm.testing._wire_gemini import (
    gemini_embedding,
    gemini_embeddings,
    gemini_error,
    gemini_events,
    gemini_response,
    vertex_predictions,
)
from persona_llm.testing._wire_openai import (
    azure_content_filter_error,
    openai_chat,
    openai_chunks,
    openai_embeddings,
    openai_error,
    openai_usage,
)
from persona_llm.testing._wire_ratelimits import (
    anthropic_rate_headers,
    go_duration,
    openai_rate_headers,
)
from persona_llm.testing._wire_responses import (
    openai_response,
    openai_response_events,
    reasoning_item,
    responses_usage,
)

__all__ = [
    "anthropic_error",
    "anthropic_events",
    "anthropic_message",
    "anthropic_rate_headers",
    "azure_content_filter_error",
    "fake_vector",
    "gemini_embedding",
    "gemini_embeddings",
    "gemini_error",
    "gemini_events",
    "gemini_response",
    "go_duration",
    "html_page",
    "openai_chat",
    "openai_chunks",
    "openai_embeddings",
    "openai_error",
    "openai_rate_headers",
    "openai_response",
    "openai_response_events",
    "openai_usage",
    "reasoning_item",
    "responses_usage",
    "split_pieces",
    "vertex_predictions",
    "with_comments",
    "without_events",
    "without_field",
]
