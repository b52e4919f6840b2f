"""Pure assembly of an OpenAI / Azure ``chat.completion.chunk`` stream into `ChatChunk`s.

Text pieces (``delta.content``) and refusal pieces (``delta.refusal``) are yielded as they
arrive. Tool calls arrive as fragments keyed by ``index`` (the first carries the id and the
name, the rest pieces of the JSON arguments); they are assembled and parsed once, and the last
chunk carries them with the finish reason, the usage (from the usage-only chunk that
``include_usage`` adds) and the model the stream reported.
"""

from __future__ import annotations

from typing import Any

from persona_llm.errors import ProviderUnavailableError
from persona_llm.providers._raw import field, wire_body
from persona_llm.providers._tool_calls import ToolCallAssembler
from persona_llm.providers.openai.mapping import from_openai_chunk, tool_calls_finish
from persona_llm.providers.openai.reasoning import reasoning_of
from persona_llm.types import ChatChunk, FinishReason, Usage

__all__ = ["OpenAIStreamState"]


class OpenAIStreamState:
    """What one stream has said so far; `feed` each event, then take `final_chunk`."""

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.finish: FinishReason | None = None
        self.usage: Usage | None = None
        self._reported_model: str | None = None
        self._calls = ToolCallAssembler()
        self._last_key: Any = 0

    def feed(self, event: Any) -> ChatChunk | None:
        """The chunk this event yields (text or refusal), None for bookkeeping events.

        `event` is the JSON data of one SSE event (a dict), or the SDK's chunk model.
        """
        event = wire_body(event)
        text, finish, usage = from_openai_chunk(event)
        self.finish = finish or self.finish
        self.usage = usage or self.usage
        # Azure's opening chunk reports model "": keep the first real name.
        self._reported_model = self._reported_model or field(event, "model") or None
        choices = field(event, "choices")
        delta = field(choices[0], "delta") if choices else None
        refusal = field(delta, "refusal") or ""
        for call in field(delta, "tool_calls") or []:
            self._add_call(call)
        reasoning = reasoning_of(delta) or "" if delta is not None else ""
        if text or refusal or reasoning:
            return ChatChunk(delta=text, refusal=refusal, reasoning=reasoning)
        return None

    def _add_call(self, call: Any) -> None:
        index = field(call, "index")
        call_id = field(call, "id")
        # A server that omits the index: a new id starts a new call, otherwise continue.
        key = index if index is not None else (call_id or self._last_key)
        self._last_key = key
        function = field(call, "function")
        self._calls.add(
            key,
            id=call_id,
            name=field(function, "name"),
            arguments=field(function, "arguments"),
        )

    def final_chunk(self) -> ChatChunk:
        """The last chunk: finish reason, usage, assembled tool calls, model and provider.

        Raises:
            ProviderUnavailableError: the stream ended without a finish reason.
            ResponseParseError: a tool call's arguments are not a JSON object.
        """
        if self.finish is None:
            raise ProviderUnavailableError(
                "stream ended early: the reply stopped without a finish reason",
                provider=self.provider,
                model=self.model,
            )
        calls = self._calls.calls(self.provider, self.model)
        return ChatChunk(
            finish_reason=tool_calls_finish(self.finish, bool(calls)),
            usage=self.usage,
            tool_calls=calls,
            model=self._reported_model or self.model,
            provider=self.provider,
        )
