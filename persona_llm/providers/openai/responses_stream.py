"""Pure assembly of an OpenAI Responses event stream into `ChatChunk`s.

``response.output_text.delta``, ``response.refusal.delta`` and
``response.reasoning_summary_text.delta`` (as `ChatChunk.reasoning`) are yielded as they arrive.
Function calls arrive as ``response.output_item.added`` (id, call id, name), then
``response.function_call_arguments.delta`` fragments keyed by ``output_index``, then
``response.output_item.done`` with the whole item; reasoning items arrive whole in
``output_item.done`` (with ``encrypted_content``). The stream ends with ``response.completed``,
``response.incomplete`` or ``response.failed``, each carrying the whole response: the last
chunk takes the finish reason, the usage and the model from it, and the tool calls from the
output items (the terminal response's own, else the ones collected from the events, in
``output_index`` order), reasoning items attached as on the non-streamed path.

An ``error`` event, or a ``response.failed``, raises the mapped `LLMError` after the chunks
already yielded; a stream that ends with no terminal event raises `ProviderUnavailableError`.
"""

from __future__ import annotations

from typing import Any

from persona_llm.errors import ProviderUnavailableError
from persona_llm.providers._errors import error_from_status
from persona_llm.providers.openai.responses_reply import (
    build_response,
    error_of_response,
    field,
    read_output,
    status_of_code,
)
from persona_llm.types import ChatChunk

__all__ = ["ResponsesStreamState"]

_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesStreamState:
    """What one Responses stream has said so far; `feed` each event, then take `final_chunk`."""

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self._items: dict[int, Any] = {}
        self._arguments: dict[int, list[str]] = {}
        self._final: Any = None
        self._summary_part: tuple[Any, Any] | None = None

    def feed(self, event: Any) -> ChatChunk | None:
        """The chunk this event yields (text or refusal), None for bookkeeping events.

        Raises:
            LLMError: an ``error`` event or a ``response.failed``.
        """
        kind = field(event, "type")
        if kind == "response.output_text.delta":
            return ChatChunk(delta=field(event, "delta") or "")
        if kind == "response.refusal.delta":
            return ChatChunk(refusal=field(event, "delta") or "")
        if kind == "response.reasoning_summary_text.delta":
            return self._summary_piece(event)
        if kind == "response.function_call_arguments.delta":
            index = field(event, "output_index") or 0
            self._arguments.setdefault(index, []).append(field(event, "delta") or "")
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._items[field(event, "output_index") or 0] = field(event, "item")
        elif kind in _TERMINAL:
            self._final = field(event, "response")
            failure = error_of_response(self._final, provider=self.provider, model=self.model)
            if failure is not None:
                raise failure
        elif kind == "error":
            raise self._error_event(event)
        return None

    def _summary_piece(self, event: Any) -> ChatChunk:
        # Summary parts are joined by a blank line, as on the non-streamed path.
        part = (field(event, "item_id"), field(event, "summary_index"))
        gap = "\n\n" if self._summary_part not in (None, part) else ""
        self._summary_part = part
        return ChatChunk(reasoning=gap + (field(event, "delta") or ""))

    def _error_event(self, event: Any) -> Exception:
        code = field(event, "code")
        message = field(event, "message") or "error event in the middle of the stream"
        return error_from_status(
            status_of_code(code), message, provider=self.provider, model=self.model, code=code
        )

    def _collected_items(self) -> list[Any]:
        items: list[Any] = []
        for index in sorted(self._items):
            item = self._items[index]
            if field(item, "type") == "function_call" and not field(item, "arguments"):
                # Only the "added" event came: its arguments are the deltas.
                arguments = "".join(self._arguments.get(index, []))
                item = {**_as_dict(item), "arguments": arguments}
            items.append(item)
        return items

    def final_chunk(self) -> ChatChunk:
        """The last chunk: finish reason, usage, tool calls, model and provider.

        Raises:
            ProviderUnavailableError: the stream ended without a terminal event.
            ResponseParseError: a tool call's arguments are not a JSON object.
        """
        if self._final is None:
            raise ProviderUnavailableError(
                "stream ended early: no response.completed event arrived",
                provider=self.provider,
                model=self.model,
            )
        items = field(self._final, "output") or self._collected_items()
        parts = read_output(items, provider=self.provider, model=self.model)
        reply = build_response(self._final, parts, provider=self.provider, model=self.model)
        return ChatChunk(
            finish_reason=reply.finish_reason,
            usage=reply.usage,
            tool_calls=reply.tool_calls,
            model=reply.model,
            provider=self.provider,
            provider_data=reply.provider_data,
        )


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    dump = getattr(item, "model_dump", None)
    return dict(dump(mode="json")) if dump else dict(vars(item))
