"""The normalized shapes every provider's replies are turned into.

Whatever the provider, a chat call returns a `ChatResponse`, a stream yields `ChatChunk`s, and
token counts come as a `Usage`. Messages go in as `ChatMessage` or as a plain
``{"role": ..., "content": ...}`` dict. A `Tool` describes a function the model may call
(build one with `persona_llm.features.tools.tool`); the calls come back as `ToolCall`s.

Tool calling in a conversation:

* an ``assistant`` message carries the reply's `tool_calls` (its content may then be ``""``);
  `ChatResponse.to_message()` builds it from a reply;
* each result goes back as a ``tool`` message with the `tool_call_id` of the call it answers
  (and optionally the tool `name`; Gemini needs the name and otherwise takes it from the
  matching assistant tool call).

`ToolCall.provider_data` holds what a provider needs to see again on the next turn (Gemini's
``thoughtSignature``, Anthropic's thinking blocks), keyed by provider name. It is opaque,
left out of ``repr()`` and of equality, but kept by ``model_dump()`` so that a stored
conversation round-trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from persona_llm.content import ContentPart, MediaPart, TextPart, content_text, parse_content
from persona_llm.tool_types import TOOL_CHOICE_MODES, Tool, ToolCall, ToolChoice

__all__ = [
    "TOOL_CHOICE_MODES",
    "Capabilities",
    "ChatChunk",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "Embeddings",
    "FinishReason",
    "MessageInput",
    "Reasoning",
    "Role",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "Usage",
    "lookup_finish_reason",
]

Role = Literal["system", "user", "assistant", "tool"]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "other"]
"""Normalized finish reasons; `other` stands for a reason no row of the table maps."""

Reasoning = Literal["none", "low", "medium", "high"]
"""How much the model should reason before answering (see docs/content.md for the mapping)."""

REASONING_LEVELS: tuple[str, ...] = ("none", "low", "medium", "high")


class ChatMessage(BaseModel):
    """One message of a conversation.

    ``system``, ``user`` and ``assistant`` messages carry `content`: a str, or a sequence of
    parts (`persona_llm.content`: text, images, documents, audio; media only in ``user`` and
    ``tool`` messages). An ``assistant`` message may carry the `tool_calls` of a reply (its
    content may then be ``""`` or left out). A ``tool`` message is the result of one call:
    `content` is the result and `tool_call_id` the id of the `ToolCall` it answers; `name`
    (the tool's name) is optional. `provider_data` holds what a provider needs back on the
    next turn (thinking blocks, thought signatures); `ChatResponse.to_message()` fills it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str | tuple[ContentPart, ...]
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    """On a ``tool`` message: the tool failed and `content` is the error. Anthropic is told
    with ``is_error: true``, Gemini with an ``error`` key in place of ``output``; OpenAI's
    APIs have no such flag (the content says it)."""
    provider_data: dict[str, Any] = Field(default_factory=dict, repr=False)

    @field_validator("content", mode="before")
    @classmethod
    def _parts(cls, content: Any) -> Any:
        return content if type(content) is str else parse_content(content)

    @property
    def text(self) -> str:
        """The text of the content (its text parts joined by newlines)."""
        return content_text(self.content)

    def __hash__(self) -> int:
        # provider_data (a dict, opaque) is left out, as ToolCall leaves out its own.
        return hash((self.role, self.content, self.tool_calls, self.tool_call_id, self.name))

    @model_validator(mode="before")
    @classmethod
    def _content_of_tool_call_turns(cls, data: Any) -> Any:
        # An assistant turn that only calls tools has no text (OpenAI sends content: null).
        if (
            isinstance(data, Mapping)
            and data.get("role") == "assistant"
            and data.get("tool_calls")
            and data.get("content") is None
        ):
            data = {**data, "content": ""}
        return data

    @model_serializer(mode="wrap")
    def _dump_set_tool_fields(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A plain message dumps as {"role", "content"}, as it did before tool calling.
        data = handler(self)
        if isinstance(data, dict):
            for key in ("tool_calls", "tool_call_id", "name", "is_error", "provider_data"):
                if key in data and not data[key]:
                    del data[key]
        return data

    def __repr_args__(self) -> Any:
        # Plain messages print as before: role and content only.
        for name, value in super().__repr_args__():
            if name in ("role", "content") or value:
                yield name, value

    @model_validator(mode="after")
    def _check_tool_fields(self) -> ChatMessage:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError(
                "a tool message needs tool_call_id, the id of the tool call it answers: "
                "{'role': 'tool', 'tool_call_id': call.id, 'content': result}"
            )
        if self.role != "tool" and (self.tool_call_id is not None or self.name is not None):
            raise ValueError("tool_call_id and name belong on role 'tool' messages only")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("tool_calls belong on role 'assistant' messages only")
        if not isinstance(self.content, str):
            self._check_parts(self.content)
        return self

    def _check_parts(self, parts: tuple[Any, ...]) -> None:
        if not parts:
            raise ValueError("content is an empty list: give a str or at least one part")
        if self.role in ("system", "assistant") and any(isinstance(p, MediaPart) for p in parts):
            raise ValueError(
                f"images, documents and audio belong in user (or tool) messages, not in "
                f"{self.role} messages; move them to a user message"
            )
        if not all(isinstance(p, (TextPart, MediaPart)) for p in parts):  # pragma: no cover
            raise ValueError("content parts must be TextPart, ImagePart, DocumentPart or AudioPart")


MessageInput = ChatMessage | Mapping[str, Any]


class Usage(BaseModel):
    """Token counts of one call. `completion_tokens` includes reasoning tokens."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @model_validator(mode="before")
    @classmethod
    def _fill_total(cls, data: Any) -> Any:
        # Providers omit the total (or report it as 0/None): derive it rather than report 0.
        if isinstance(data, Mapping) and not data.get("total_tokens"):
            data = dict(data)
            data["total_tokens"] = (data.get("prompt_tokens") or 0) + (
                data.get("completion_tokens") or 0
            )
        return data


class Capabilities(BaseModel):
    """What a client can do; `False` means the call raises rather than degrades."""

    model_config = ConfigDict(frozen=True)

    chat: bool = True
    embeddings: bool = False
    json_mode: bool = False
    streaming: bool = False
    tools: bool = False
    vision: bool = False
    """Accepts `ImagePart`s."""
    documents: bool = False
    """Accepts `DocumentPart`s (PDF)."""
    audio_input: bool = False
    """Accepts `AudioPart`s."""
    reasoning: bool = False
    """Honours ``reasoning=`` levels other than ``"none"``."""


class ChatResponse(BaseModel):
    """A chat reply, normalized across providers.

    `raw` holds what the provider answered; it is left out of `repr()`, of ``model_dump()``
    and of equality so that two replies with the same content compare equal whatever transport
    produced them. From OpenAI, Azure and Anthropic it is the reply's JSON body as a dict (the
    adapters map the body directly, without the SDK's models): ``reply.raw["usage"]`` is free,
    and reading an attribute (``reply.raw.choices[0].message``, ``reply.raw.model_dump()``)
    builds the SDK's own model once, on that first read (tens of microseconds, what the SDK
    would have spent on every call). From Gemini it is the reply's JSON as well (builds the
    SDK's ``GenerateContentResponse`` on the first attribute read), or the SDK's response object
    for a call with SDK options or a continued reply.
    `cached` is True when the reply came from the response cache (``LLM_CACHE``): its
    `usage` is the original call's, its `cost_usd` 0.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    content: str = ""
    model: str
    provider: str
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    parsed: Any = None
    cost_usd: float | None = None
    cached: bool = False
    reasoning: str | None = None
    choices: list[ChatResponse] = Field(default_factory=list, repr=False)
    """With the option ``n`` > 1 (OpenAI/Azure ``n``, Gemini ``candidate_count``): every
    reply, in order; this response's own fields are the first one's. Empty otherwise."""
    """The reasoning text or summary the provider returned (never part of `content`)."""
    provider_data: dict[str, Any] = Field(default_factory=dict, repr=False)
    """Opaque data the provider needs back on the next turn (thinking blocks, signatures)."""
    raw: Any = Field(default=None, repr=False, exclude=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChatResponse):
            return NotImplemented
        return self._compared() == other._compared()

    __hash__ = None  # type: ignore[assignment]

    def _compared(self) -> dict[str, Any]:
        return self.model_dump(
            exclude={"provider_data": True, "tool_calls": {"__all__": {"provider_data"}}}
        )

    def to_message(self) -> ChatMessage:
        """The reply as the ``assistant`` message to append to the conversation.

        It keeps the tool calls (with their `ToolCall.provider_data`), so the next request
        can answer them with ``tool`` messages, and the reply's `provider_data` (thinking
        blocks, thought signatures) that the provider wants to see again.
        """
        return ChatMessage(
            role="assistant",
            content=self.content,
            tool_calls=tuple(self.tool_calls),
            provider_data=dict(self.provider_data),
        )


class ChatChunk(BaseModel):
    """One piece of a streamed reply.

    `delta` is the next piece of text, `refusal` the next piece of a refusal (OpenAI streams
    refusals apart from the text). The last chunk carries `finish_reason`, `usage`, the
    assembled `tool_calls`, and the `model` and `provider` that answered;
    `persona_llm.features.streaming.collect_stream` turns the chunks into the `ChatResponse` that
    ``chat()`` would have returned.
    """

    model_config = ConfigDict(frozen=True)

    delta: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    refusal: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    model: str | None = None
    provider: str | None = None
    reasoning: str = ""
    """The next piece of reasoning text (never part of `delta`)."""
    provider_data: dict[str, Any] = Field(default_factory=dict, repr=False)
    """On the last chunk: what `ChatResponse.provider_data` would hold."""


class ChatRequest(BaseModel):
    """What an adapter is asked to send. `None` means "not sent": the provider default applies."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[ChatMessage, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    response_format: Mapping[str, Any] | None = None
    stop: tuple[str, ...] | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    options: Mapping[str, Any] = Field(default_factory=dict)
    cache: bool = True
    reasoning: Reasoning | None = None
    """``None``: not sent (the model's default); else mapped per provider."""
    cache_prompt: bool = False
    """Mark the system prompt and the tool definitions as a cacheable prefix."""

    @property
    def json_mode(self) -> bool:
        """Whether the caller asked for a JSON reply (``json_object`` or ``json_schema``)."""
        if not self.response_format:
            return False
        return self.response_format.get("type") in {"json_object", "json_schema"}


class Embeddings(list[list[float]]):
    """Vectors, one per input text in input order, with the call's token `usage` when the
    provider reports it (OpenAI and Azure do; Gemini's batch endpoint does not).

    A plain list in every other respect, so it passes unchanged through every wrapper and
    compares equal to a list of the same vectors.
    """

    def __init__(self, vectors: Iterable[list[float]] = (), usage: Usage | None = None) -> None:
        super().__init__(vectors)
        self.usage = usage


def lookup_finish_reason(
    table: Mapping[str, FinishReason], value: str | None
) -> FinishReason | None:
    """A provider's finish reason through its table: None stays None, unknown is ``other``."""
    if value is None:
        return None
    return table.get(value, "other")
