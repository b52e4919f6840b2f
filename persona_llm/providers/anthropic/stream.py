"""Pure assembly of an Anthropic Messages stream into `ChatChunk`s (no SDK, no I/O).

``message_start`` carries the model and the input counts, ``content_block_*`` events the
text (yielded as it comes), the thinking (left out of the text, kept for the tool calls) and
the tool calls (``input_json_delta`` fragments, assembled; a tool without arguments streams
``partial_json: ""`` and gets ``{}``), ``message_delta`` the stop reason, the refusal
details and the output count. The final chunk is made at ``message_stop``; a stream that
reaches it without a ``message_delta`` (no stop reason) ended early, an error.
"""

from __future__ import annotations

from typing import Any

from persona_llm.errors import ProviderUnavailableError
from persona_llm.providers._tool_calls import ToolCallAssembler
from persona_llm.providers.anthropic.mapping import (
    JSON_TOOL_NAME,
    PROVIDER,
    refusal_message,
    to_finish_reason,
    to_usage,
)
from persona_llm.providers.anthropic.tools import (
    field_of,
    thinking_block,
    thinking_data,
    with_thinking,
)
from persona_llm.types import ChatChunk

__all__ = ["StreamState"]


_USAGE_FIELDS = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "output_tokens_details",
)


class StreamState:
    """Turns Messages stream events (SDK objects or dicts) into `ChatChunk`s, one stream each.

    In JSON mode the ``json_output`` tool's ``input_json_delta`` fragments are the text.
    `model` is reported on the final chunk when ``message_start`` names none.
    """

    def __init__(self, *, json_mode: bool = False, model: str = "") -> None:
        self.json_mode = json_mode
        self.model = model
        self.stop_reason: str | None = None
        self.stop_details: Any = None
        self.finished = False
        self._usage: dict[str, Any] = {}
        self._blocks: dict[int, str] = {}
        self._calls = ToolCallAssembler()
        self._thinking: dict[int, dict[str, Any]] = {}

    def feed(self, event: Any) -> ChatChunk | None:
        """The chunk this event yields, if any (``None`` for bookkeeping events)."""
        kind = field_of(event, "type")
        if kind == "message_start":
            message = field_of(event, "message")
            self.model = field_of(message, "model") or self.model
            self._add_usage(field_of(message, "usage"))
        elif kind == "content_block_start":
            return self._start_block(field_of(event, "index"), field_of(event, "content_block"))
        elif kind == "content_block_delta":
            return self._delta(field_of(event, "index"), field_of(event, "delta"))
        elif kind == "message_delta":
            delta = field_of(event, "delta")
            self.stop_reason = field_of(delta, "stop_reason") or self.stop_reason
            self.stop_details = field_of(delta, "stop_details") or self.stop_details
            self._add_usage(field_of(event, "usage"))
        elif kind == "message_stop":
            if self.stop_reason is None:  # as OpenAI and Gemini streams without a finish reason
                raise ProviderUnavailableError(
                    "stream ended early: message_stop came without a message_delta "
                    "(no stop reason)",
                    provider=PROVIDER,
                    model=self.model or None,
                )
            self.finished = True
            return self.final_chunk()
        return None

    def final_chunk(self) -> ChatChunk:
        """The last chunk: finish reason, usage, tool calls, refusal, model and provider.

        Raises:
            ResponseParseError: a tool call's arguments are not a JSON object.
        """
        finish = to_finish_reason(self.stop_reason)
        if finish == "tool_calls" and "tool" not in self._blocks.values() and self.json_mode:
            finish = "stop"
        usage = to_usage(self._usage) if self._usage else None
        calls = self._calls.calls(PROVIDER, self.model)
        thinking = [self._thinking[index] for index in sorted(self._thinking)]
        refusal = refusal_message(self.stop_details) if self.stop_reason == "refusal" else ""
        return ChatChunk(
            finish_reason=finish,
            usage=usage,
            tool_calls=with_thinking(calls, thinking),
            provider_data=thinking_data(calls, thinking),
            refusal=refusal,
            model=self.model or None,
            provider=PROVIDER,
        )

    def _start_block(self, index: Any, block: Any) -> ChatChunk | None:
        kind = field_of(block, "type")
        if kind == "tool_use":
            is_json = self.json_mode and field_of(block, "name") == JSON_TOOL_NAME
            kind = "json" if is_json else "tool"
            if kind == "tool":
                self._calls.add(
                    index,
                    id=field_of(block, "id"),
                    name=field_of(block, "name"),
                    initial=field_of(block, "input") or None,
                )
        elif (thinking := thinking_block(block)) is not None:
            self._thinking[index] = thinking
        self._blocks[index] = str(kind)
        text = field_of(block, "text") if kind == "text" else None
        return ChatChunk(delta=text) if text else None

    def _delta(self, index: Any, delta: Any) -> ChatChunk | None:
        kind = field_of(delta, "type")
        if kind == "text_delta":
            text = field_of(delta, "text")
        elif kind == "input_json_delta" and self._blocks.get(index) == "json":
            text = field_of(delta, "partial_json")
        elif kind == "input_json_delta" and self._blocks.get(index) == "tool":
            self._calls.add(index, arguments=field_of(delta, "partial_json"))
            return None
        elif kind in ("thinking_delta", "signature_delta") and index in self._thinking:
            field = "thinking" if kind == "thinking_delta" else "signature"
            piece = field_of(delta, field) or ""
            self._thinking[index][field] += piece
            return ChatChunk(reasoning=piece) if field == "thinking" and piece else None
        else:
            return None
        return ChatChunk(delta=text) if text else None

    def _add_usage(self, usage: Any) -> None:
        if usage is None:
            return
        for name in _USAGE_FIELDS:
            value = field_of(usage, name)
            if value is not None:
                self._usage[name] = value
