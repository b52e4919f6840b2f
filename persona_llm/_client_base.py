"""What the clients of `persona_llm.clients` share, with no I/O: provider, model and
capabilities, and the checks that turn a call's arguments into a `ChatRequest`.

Only `persona_llm.clients` uses it: the asyncio clients there (and the blocking twins
``scripts/unasync.py`` generates from them) are built on `_ClientBase`, and the names keep
their underscore so the twins' text is the same as when they shared one module.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, get_args

from pydantic import BaseModel

from persona_llm._services import PROVIDERS
from persona_llm.arguments import (
    check_chat_arguments,
    check_message_text,
    check_options,
    check_texts,
)
from persona_llm.errors import InvalidRequestError
from persona_llm.messages import filled, to_messages
from persona_llm.providers.base import ProviderAdapter
from persona_llm.types import (
    Capabilities,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    MessageInput,
    Reasoning,
    Tool,
    ToolChoice,
)
from persona_llm.usage.observability import log_client_created

if TYPE_CHECKING:  # imported on first use: JSON mode and tools only
    from persona_llm.features import structured
    from persona_llm.features.tools import ToolChoiceLike, ToolLike

__all__ = ["_AsyncClosing", "_ClientBase", "_ToolCallReply", "_check_texts"]


class _ClientBase:
    """What every client shares: provider, model, capabilities, request building. No I/O."""

    kind = "chat"

    def __init__(
        self, adapter: ProviderAdapter, model: str, *, reasoning: Reasoning | None = None
    ) -> None:
        self.adapter = adapter
        self.model = model
        self.reasoning = reasoning
        """The ``reasoning`` level of calls that pass none (``LLM_REASONING``, a route's)."""
        log_client_created(self.kind, adapter.name, model)

    @property
    def provider(self) -> str:
        """Provider name, as written in ``LLM_SERVICE``."""
        return self.adapter.name

    @property
    def capabilities(self) -> Capabilities:
        """What this client can do (with its model: a text-only model has no `vision`)."""
        return self.adapter.capabilities_for(self.model)

    def get_provider_name(self) -> str:
        """The provider name (compatibility with the Persona app's client)."""
        return self.provider

    def supports_json_mode(self) -> bool:
        """Whether `response_format={"type": "json_object"}` is honoured natively."""
        return self.capabilities.json_mode

    def supports_embeddings(self) -> bool:
        """Whether the provider has an embeddings API."""
        return self.capabilities.embeddings

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, model={self.model!r})"

    def _request(
        self,
        messages: Iterable[MessageInput],
        temperature: float | None,
        max_tokens: int | None,
        response_format: Mapping[str, Any] | None,
        stop: str | Sequence[str] | None,
        options: dict[str, Any],
        tools: Iterable[ToolLike] | None = None,
        tool_choice: ToolChoiceLike | None = None,
        *,
        reasoning: Reasoning | None = None,
        cache_prompt: bool = False,
    ) -> ChatRequest:
        # cache=False skips the response cache (LLM_CACHE) for this call; never sent.
        cache = bool(options.pop("cache", True))
        unset = temperature is None and max_tokens is None and response_format is None
        if not (unset and stop is None and reasoning is None and cache_prompt is False):
            # a call with none of them set (the common one) skips the checks
            check_chat_arguments(
                self.provider,
                self.model,
                temperature=temperature,
                max_tokens=max_tokens,
                response_format=response_format,
                stop=stop,
                reasoning=reasoning,
                cache_prompt=cache_prompt,
            )
        if options:
            # a class is hashable (mypy's stub of functools.cache says otherwise)
            parameters = _chat_parameters(type(self))  # type: ignore[arg-type]
            check_options(options, parameters, self.provider, self.model, PROVIDERS)
        if response_format is not None:
            self._check_response_format(response_format)
        stops = (stop,) if isinstance(stop, str) else (tuple(stop) if stop is not None else None)
        tool_list: tuple[Tool, ...] = ()
        choice = None
        if tools is not None or tool_choice is not None:
            tool_list, choice = self._tools(tools, tool_choice)
        if tool_list and not self.capabilities.tools:
            raise self._invalid(
                f"the {self.provider} provider does not support tool calling; "
                "check client.capabilities.tools, or configure another provider"
            )
        checked = to_messages(messages)
        check_message_text(checked, self.provider, self.model)
        if reasoning is None:
            reasoning = self.reasoning
        if unset and stop is None and not tool_list and choice is None:
            plain = _plain_request(checked, cache, options, reasoning, cache_prompt)
            if plain is not None:
                return plain
        return ChatRequest(
            cache=cache,
            messages=checked,
            temperature=temperature,
            max_tokens=max_tokens,
            response_format=response_format,
            stop=stops,
            tools=tool_list,
            tool_choice=choice,
            options=options,
            reasoning=reasoning,
            cache_prompt=cache_prompt,
        )

    def _check_response_format(self, response_format: Mapping[str, Any]) -> None:
        kind = response_format.get("type")
        if kind not in {"text", "json_object", "json_schema"}:
            raise self._invalid(
                f"response_format type {kind!r} is not supported; use "
                "{'type': 'json_object'} or an OpenAI-style {'type': 'json_schema', ...}"
            )
        if kind != "text" and not self.capabilities.json_mode:
            raise self._invalid(f"the {self.provider} provider has no JSON mode")

    def _json_request(
        self,
        messages: Iterable[MessageInput],
        temperature: float | None,
        max_tokens: int | None,
        response_format: Mapping[str, Any] | None,
        stop: str | Sequence[str] | None,
        response_model: type[BaseModel] | None,
        max_reasks: int,
        options: dict[str, Any],
        tools: Iterable[ToolLike] | None,
        tool_choice: ToolChoiceLike | None,
        *,
        reasoning: Reasoning | None = None,
        cache_prompt: bool = False,
    ) -> tuple[ChatRequest, structured.OutputSpec | None]:
        """The request for `chat`, and what its reply must parse into (None: plain text)."""
        if max_reasks != 1 or response_model is not None or response_format is not None:
            check_chat_arguments(
                self.provider,
                self.model,
                response_format=response_format,
                max_reasks=max_reasks,
                response_model=response_model,
            )
        output = None
        if response_format is not None or response_model is not None:
            from persona_llm.features import structured  # JSON mode only

            output = structured.output_spec(response_format, response_model)
        request = self._request(
            messages,
            temperature,
            max_tokens,
            output.response_format if output else response_format,
            stop,
            options,
            tools,
            tool_choice,
            reasoning=reasoning,
            cache_prompt=cache_prompt,
        )
        return request, output

    def _tools(
        self, tools: Iterable[ToolLike] | None, tool_choice: ToolChoiceLike | None
    ) -> tuple[tuple[Tool, ...], ToolChoice | None]:
        """The normalized tools and tool choice (the tool modules load on first use)."""
        if tools is None and tool_choice is None:
            return (), None
        from persona_llm.features.tools import to_tool_choice, to_tools

        try:
            tool_list = to_tools(tools)
            return tool_list, to_tool_choice(tool_choice, tool_list)
        except InvalidRequestError as exc:
            raise self._invalid(exc.message) from None

    @staticmethod
    def _stop_for_tool_calls(request: ChatRequest, response: ChatResponse) -> ChatResponse:
        """In JSON mode with tools, a reply calling tools ends the parse loop unparsed."""
        if request.tools and response.tool_calls:
            raise _ToolCallReply(response)
        return response

    def _call_model(self, options: dict[str, Any]) -> str:
        """The model of this call: the ``model=`` option (popped), else the client's."""
        model = options.pop("model", None)
        if model is None:
            return self.model
        if not isinstance(model, str) or not model.strip():
            raise self._invalid(f"model must be a model name (a string), got {model!r}")
        return model

    def _invalid(self, message: str) -> InvalidRequestError:
        return InvalidRequestError(message, provider=self.provider, model=self.model)


_REQUEST_FIELDS = frozenset(ChatRequest.model_fields)
_REASONING_LEVELS = frozenset(get_args(Reasoning))


def _plain_request(
    messages: tuple[ChatMessage, ...],
    cache: bool,
    options: dict[str, Any],
    reasoning: Reasoning | None,
    cache_prompt: bool,
) -> ChatRequest | None:
    """The `ChatRequest` of a call without sampling arguments, format, stop or tools (the
    common call), built as validation would build it but without running it: every value
    is already checked (the messages by `to_messages`, the option names by `check_options`),
    and validating the messages again runs their validators once more (a third of a cache
    hit's request building). None when a value is not of the type validation keeps as is.
    tests/unit/test_types.py checks it against ``ChatRequest(...)``."""
    if type(cache_prompt) is not bool or (
        reasoning is not None and reasoning not in _REASONING_LEVELS
    ):
        return None
    fields = {
        "messages": messages,
        "temperature": None,
        "max_tokens": None,
        "response_format": None,
        "stop": None,
        "tools": (),
        "tool_choice": None,
        "options": dict(options),  # validation copies the mapping into a dict
        "cache": cache,
        "reasoning": reasoning,
        "cache_prompt": cache_prompt,
    }
    return filled(ChatRequest, fields, set(_REQUEST_FIELDS))


class _ToolCallReply(Exception):
    """Carries a tool-call reply out of the JSON parse-and-re-ask loop (never escapes)."""

    def __init__(self, response: ChatResponse) -> None:
        super().__init__("tool-call reply")
        self.response = response


class _AsyncClosing:
    """What only the asyncio clients have: closing their event loop's connections."""

    adapter: ProviderAdapter

    async def aclose(self) -> None:
        """Close the SDK connections this event loop opened (at an app's shutdown, or before
        a loop you manage yourself ends). ``asyncio.run()`` closes them itself when its loop
        shuts down, so scripts need not call it; closing twice is harmless."""
        await self.adapter.aclose()


def _check_texts(client: _ClientBase, texts: Sequence[str]) -> list[str]:
    items = check_texts(texts, client._invalid)
    if items and not client.capabilities.embeddings:
        raise client._invalid(f"the {client.provider} provider has no embeddings API")
    return items


@functools.cache
def _chat_parameters(client: type) -> frozenset[str]:
    """The named parameters of `client`'s ``chat()`` and ``stream()``, read from their
    signatures so a new one is known at once (the "did you mean" candidates of an unknown
    keyword). The blocking and asyncio twins take the same ones (tests/unit/test_unasync.py)."""
    names = {
        *inspect.signature(client.chat).parameters,  # type: ignore[attr-defined]
        *inspect.signature(client.stream).parameters,  # type: ignore[attr-defined]
    }
    return frozenset(names - {"self", "messages", "options"})
