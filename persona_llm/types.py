"""The normalized shapes every provider's replies are turned into.

Whatever the provider, a chat call returns a `ChatResponse`, a stream yields `ChatChunk`s, and
token counts come as a `Usage`. Messages go in as `ChatMessage` or as a plain
``{"role": ..., "content": ...}`` dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "Capabilities",
    "ChatChunk",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "FinishReason",
    "MessageInput",
    "Role",
    "ToolCall",
    "Usage",
    "lookup_finish_reason",
    "to_messages",
]

Role = Literal["system", "user", "assistant"]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "other"]
"""Normalized finish reasons; `other` stands for a reason no row of the table maps."""


class ChatMessage(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str


MessageInput = ChatMessage | Mapping[str, Any]


class ToolCall(BaseModel):
    """A function call the model asked for, with its arguments parsed."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Usage(BaseModel):
    """Token counts of one call. `completion_tokens` includes reasoning tokens."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0

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


class ChatResponse(BaseModel):
    """A chat reply, normalized across providers.

    `raw` holds the SDK's own response object; it is left out of `repr()` and of equality so
    that two replies with the same content compare equal whatever transport produced them.
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
    raw: Any = Field(default=None, repr=False, exclude=True)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChatResponse):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]


class ChatChunk(BaseModel):
    """One piece of a streamed reply; the last one carries `finish_reason` and `usage`."""

    model_config = ConfigDict(frozen=True)

    delta: str = ""
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


class ChatRequest(BaseModel):
    """What an adapter is asked to send. `None` means "not sent": the provider default applies."""

    model_config = ConfigDict(frozen=True)

    messages: tuple[ChatMessage, ...]
    temperature: float | None = None
    max_tokens: int | None = None
    response_format: Mapping[str, Any] | None = None
    stop: tuple[str, ...] | None = None
    options: Mapping[str, Any] = Field(default_factory=dict)

    @property
    def json_mode(self) -> bool:
        """Whether the caller asked for a JSON reply (``json_object`` or ``json_schema``)."""
        if not self.response_format:
            return False
        return self.response_format.get("type") in {"json_object", "json_schema"}


def lookup_finish_reason(
    table: Mapping[str, FinishReason], value: str | None
) -> FinishReason | None:
    """A provider's finish reason through its table: None stays None, unknown is ``other``."""
    if value is None:
        return None
    return table.get(value, "other")


def to_messages(messages: Iterable[MessageInput]) -> tuple[ChatMessage, ...]:
    """Validate messages given as `ChatMessage`s or dicts.

    Raises:
        InvalidRequestError: the list is empty, or a message has an unknown role or no content.
    """
    from persona_llm.errors import InvalidRequestError

    if isinstance(messages, (str, bytes)):
        raise InvalidRequestError(
            "messages must be a list of messages, not a string: "
            'pass [{"role": "user", "content": "..."}]'
        )
    result: list[ChatMessage] = []
    for index, message in enumerate(messages):
        if isinstance(message, ChatMessage):
            result.append(message)
            continue
        try:
            result.append(ChatMessage.model_validate(message))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}"
                for err in exc.errors()
            )
            raise InvalidRequestError(
                f"messages[{index}] is not a valid chat message ({problems}); expected "
                "{'role': 'system' | 'user' | 'assistant', 'content': str}"
            ) from None
    if not result:
        raise InvalidRequestError(
            "messages is empty: pass at least one message, e.g. [{'role': 'user', 'content': 'Hi'}]"
        )
    return tuple(result)
