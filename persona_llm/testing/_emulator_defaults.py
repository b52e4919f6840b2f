"""What the emulator understands of a request: its route, and the reply it gets by default.

Routing and the default replies are pure functions of the request, kept apart from
the socket handling in ``emulator``.

Default replies (used when a provider's queue is empty):

* chat: the text ``"echo: " + <last user message text>`` in the provider's reply shape;
  usage counts words (prompt: the last user message, completion: the reply text).
* stream: the same text in the provider's stream shape, split into a few pieces.
* embeddings: ``wire.fake_vector(text, dim)`` per input, in input order, with ``dim``
  from ``dimensions`` / ``outputDimensionality`` (default 8); base64 for OpenAI when
  the request asks for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from persona_llm.testing import wire
from persona_llm.testing._emulator_types import Reply, SSEReply

__all__ = ["Route", "default_reply", "kind_of", "last_user_text", "match_route", "not_found"]

_OPENAI = re.compile(r"/v1/(chat/completions|embeddings|responses)")
_AZURE = re.compile(r"/openai/deployments/([^/]+)/(chat/completions|embeddings)")
# The v1 surface (model in the body), and the dated versions' Responses route.
_AZURE_V1 = re.compile(r"/openai(?:/v1)?/(chat/completions|embeddings|responses)")
_VERTEX = re.compile(
    r"/v1(?:beta1)?/projects/([^/]+)/locations/([^/]+)/publishers/google/models/([^/:]+)"
    r":(generateContent|streamGenerateContent|batchEmbedContents|embedContent|predict)"
)
_GEMINI = re.compile(
    r"/v1(?:beta|alpha)?/models/([^/:]+)"
    r":(generateContent|streamGenerateContent|batchEmbedContents|embedContent)"
)
_DEFAULT_DIM = 8
_GOOGLE = ("gemini",)  # Vertex AI routes are gemini's too: same wire format


@dataclass(frozen=True)
class Route:
    """A recognised endpoint: the provider, the operation and the model named in the path."""

    provider: str
    operation: str
    path_model: str | None = None


def match_route(method: str, path: str) -> Route | None:
    """Returns the route of ``method path``, or ``None`` for an unknown endpoint."""
    if method != "POST":
        return None
    if path == "/v1/messages":
        return Route("anthropic", "messages")
    if match := _OPENAI.fullmatch(path):
        return Route("openai", match.group(1))
    if match := _AZURE.fullmatch(path):
        return Route("azure", match.group(2), match.group(1))
    if match := _AZURE_V1.fullmatch(path):
        return Route("azure", match.group(1))
    if match := _GEMINI.fullmatch(path):
        return Route("gemini", match.group(2), match.group(1))
    if match := _VERTEX.fullmatch(path):
        return Route("gemini", match.group(4), match.group(3))
    return None


def kind_of(route: Route, body: Any) -> str:
    """Returns ``"chat"``, ``"stream"`` or ``"embeddings"`` for a routed request."""
    if route.operation in ("embeddings", "batchEmbedContents", "embedContent", "predict"):
        return "embeddings"
    if route.operation == "streamGenerateContent":
        return "stream"
    if route.provider not in _GOOGLE and isinstance(body, dict) and body.get("stream") is True:
        return "stream"
    return "chat"


def not_found(method: str, path: str) -> Reply:
    """Returns the 404 for an endpoint the emulator does not serve, naming the path."""
    message = f"provider emulator: no route for {method} {path}"
    error = {"message": message, "type": "invalid_request_error", "param": None}
    return Reply({"error": {**error, "code": "unknown_route", "path": path}}, status=404)


def _text_of(content: Any) -> str:
    """Joins the text of a string, a list of content blocks/parts, or a Gemini content."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return _text_of(content.get("parts", []))
    if isinstance(content, list):
        texts = [item.get("text") for item in content if isinstance(item, dict)]
        return "".join(text for text in texts if isinstance(text, str))
    return ""


def last_user_text(provider: str, body: Any) -> str:
    """Returns the text of the last user message of a chat request, ``""`` if none."""
    if not isinstance(body, dict):
        return ""
    key = "contents" if provider in _GOOGLE else "messages"
    messages = body.get(key, body.get("input"))
    if isinstance(messages, str):  # a Responses request's input may be one string
        return messages
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role", "user") != "user":
            continue
        return _text_of(message if provider in _GOOGLE else message.get("content"))
    return ""


def _words(text: str) -> int:
    return max(1, len(text.split()))


def default_reply(
    route: Route, kind: str, body: Any, model: str | None, query: dict[str, str]
) -> Reply | SSEReply:
    """Returns the reply an empty queue gives (see the module docstring)."""
    if kind == "embeddings":
        return _default_embeddings(route, body, model)
    prompt = last_user_text(route.provider, body)
    text = "echo: " + prompt
    tokens = _Tokens(_words(prompt), _words(text))
    if route.provider == "anthropic":
        return _default_anthropic(text, kind, model or "claude-sonnet-4-5", tokens)
    if route.provider in _GOOGLE:
        as_sse = query.get("alt") == "sse"
        return _default_gemini(text, kind, model or "gemini-2.5-flash", tokens, as_sse)
    azure = route.provider == "azure"
    if route.operation == "responses":
        return _default_responses(text, kind, model or "gpt-4o-mini", tokens)
    return _default_openai(text, kind, body, model or "gpt-4o-mini", tokens, azure)


class _Tokens(NamedTuple):
    prompt: int
    reply: int


def _default_openai(
    text: str, kind: str, body: Any, model: str, tokens: _Tokens, azure: bool
) -> Reply | SSEReply:
    if kind == "chat":
        return Reply(
            wire.openai_chat(
                text,
                model=model,
                prompt_tokens=tokens.prompt,
                completion_tokens=tokens.reply,
                azure=azure,
            )
        )
    options = body.get("stream_options") if isinstance(body, dict) else None
    wants_usage = isinstance(options, dict) and options.get("include_usage") is True
    usage = wire.openai_usage(tokens.prompt, tokens.reply) if wants_usage else None
    return wire.openai_chunks(wire.split_pieces(text), model=model, usage=usage, azure=azure)


def _default_responses(text: str, kind: str, model: str, tokens: _Tokens) -> Reply | SSEReply:
    usage = wire.responses_usage(tokens.prompt, tokens.reply)
    if kind == "chat":
        return Reply(wire.openai_response(text, model=model, usage=usage))
    return wire.openai_response_events(wire.split_pieces(text), model=model, usage=usage)


def _default_anthropic(text: str, kind: str, model: str, tokens: _Tokens) -> Reply | SSEReply:
    if kind == "stream":
        return wire.anthropic_events(
            wire.split_pieces(text),
            model=model,
            input_tokens=tokens.prompt,
            output_tokens=tokens.reply,
        )
    return Reply(
        wire.anthropic_message(
            text, model=model, input_tokens=tokens.prompt, output_tokens=tokens.reply
        )
    )


def _default_gemini(
    text: str, kind: str, model: str, tokens: _Tokens, as_sse: bool
) -> Reply | SSEReply:
    if kind == "chat":
        return Reply(
            wire.gemini_response(
                text,
                model_version=model,
                prompt_tokens=tokens.prompt,
                candidates_tokens=tokens.reply,
            )
        )
    stream = wire.gemini_events(
        wire.split_pieces(text),
        model_version=model,
        prompt_tokens=tokens.prompt,
        candidates_tokens=tokens.reply,
    )
    # Without alt=sse the real API answers a stream request with one JSON array.
    return stream if as_sse else Reply(stream.events)


def _default_embeddings(route: Route, body: Any, model: str | None) -> Reply:
    body = body if isinstance(body, dict) else {}
    if route.operation == "embedContent":
        dim = body.get("outputDimensionality") or _DEFAULT_DIM
        return Reply(wire.gemini_embedding(wire.fake_vector(_text_of(body.get("content")), dim)))
    if route.operation == "predict":  # Vertex AI's older embedding models
        vectors = [
            wire.fake_vector(str(item.get("content", "")), _DEFAULT_DIM)
            for item in body.get("instances", [])
            if isinstance(item, dict)
        ]
        return Reply(wire.vertex_predictions(vectors))
    if route.operation == "batchEmbedContents":
        vectors = [
            wire.fake_vector(_text_of(item.get("content")), _gemini_dim(item, body))
            for item in body.get("requests", [])
            if isinstance(item, dict)
        ]
        return Reply(wire.gemini_embeddings(vectors))
    texts = _openai_inputs(body.get("input"))
    dim = body.get("dimensions") or _DEFAULT_DIM
    vectors = [wire.fake_vector(text, dim) for text in texts]
    return Reply(
        wire.openai_embeddings(
            vectors,
            model=model or "text-embedding-3-small",
            base64=body.get("encoding_format") == "base64",
            prompt_tokens=sum(_words(text) for text in texts),
        )
    )


def _gemini_dim(item: dict[str, Any], body: dict[str, Any]) -> int:
    dim = item.get("outputDimensionality") or body.get("outputDimensionality")
    return dim if isinstance(dim, int) else _DEFAULT_DIM


def _openai_inputs(value: Any) -> list[str]:
    """Returns the input texts; token-id inputs are embedded by their repr."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    if value and all(isinstance(item, int) for item in value):
        return [repr(value)]  # one input given as token ids
    return [item if isinstance(item, str) else repr(item) for item in value]
