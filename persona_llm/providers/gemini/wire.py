"""``generateContent`` sent and read as JSON through google-genai's own transport.

google-genai has no raw-response API. Its ``models.generate_content`` spends most of its own
CPU on two conversions we do not need: validating ``contents`` and the config into pydantic
models and converting them back to a JSON dict (``_GenerateContentParameters_to_mldev``), then
building a ``GenerateContentResponse`` from the reply's JSON. This module builds the JSON body
from the dicts `persona_llm.providers.gemini.request` made and sends it with the SDK's own
``BaseApiClient.request`` / ``async_request`` (the call ``generate_content`` itself makes):
base URL, API version, the key header or Vertex AI's credentials and project path, timeouts,
retry settings, headers and the status → ``google.genai.errors.APIError`` mapping all stay the
SDK's. The reply's JSON goes to the same mapping as the SDK's model
(`persona_llm.providers.gemini.fields`).

The body is the one the SDK would send, key for key (its mix of camelCase and snake_case
included: ``inlineData.mime_type``, ``parameters_json_schema``, ``thinkingConfig.
include_thoughts``; the API reads both), bytes as URL-safe base64 as the SDK encodes them.
`tests/contract/test_gemini_wire.py` sends each request shape both ways and compares what
the server received.

Used only where it is exact: `wire_body` returns None (the adapter then takes the public
path) for anything but what the request mapping builds itself, so SDK options
(``provider_options``: ``safety_settings``, ``top_p``, SDK objects...) keep the SDK's own
checking and conversion. It relies on private SDK names (``Client._api_client``,
``_transformers.t_model``, the response converters), checked once by `supported`: a
google-genai outside the tested major versions (`TESTED_MAJOR`) or without them takes the
public path. Automatic continuation (``finishReason: CONTINUATION`` with a
``continuationToken``, which ``generate_content`` follows) is followed here too, and the
replies merged by the SDK's own merge.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping
from typing import Any

from persona_llm.providers._raw import RawReply

__all__ = [
    "TESTED_MAJOR",
    "GeminiRawReply",
    "agenerate",
    "check_reply",
    "generate",
    "supported",
    "wire_body",
]

TESTED_MAJOR = frozenset({3})
"""google-genai major versions whose transport the wire path was tested against."""

_TO_URLSAFE = str.maketrans("+/", "-_")
_PART_FIELDS = frozenset(
    {"text", "thought_signature", "inline_data", "file_data", "function_call", "function_response"}
)
# GenerateContentConfig fields the request mapping builds, and where each goes on the wire.
_GENERATION = {
    "temperature": "temperature",
    "max_output_tokens": "maxOutputTokens",
    "stop_sequences": "stopSequences",
    "response_mime_type": "responseMimeType",
    "response_json_schema": "responseJsonSchema",
}
_CONFIG_FIELDS = frozenset(
    {
        *_GENERATION,
        "automatic_function_calling",  # the SDK's own loop, never sent
        "system_instruction",
        "thinking_config",
        "tools",
        "tool_config",
    }
)
_THINKING_FIELDS = frozenset({"include_thoughts", "thinking_budget", "thinking_level"})


@functools.cache
def _sdk() -> dict[str, Any] | None:
    """The private SDK names the wire path uses, or None when this google-genai lacks one."""
    try:
        from google.genai import _extra_utils, _transformers, models, types, version

        major = int(version.__version__.split(".", 1)[0])
        names = {
            "t_model": _transformers.t_model,
            "from_mldev": models._GenerateContentResponse_from_mldev,
            "from_vertex": models._GenerateContentResponse_from_vertex,
            "from_response": types.GenerateContentResponse._from_response,
            "merge": _extra_utils.merge_continuation_responses,
        }
    except (ImportError, AttributeError, ValueError):
        return None
    return names if major in TESTED_MAJOR and all(map(callable, names.values())) else None


def supported(client: Any) -> bool:
    """Whether `client` (a ``genai.Client`` or its ``.aio``) can take the wire path."""
    api = getattr(client, "_api_client", None)
    return (
        _sdk() is not None
        and callable(getattr(api, "request", None))
        and callable(getattr(api, "async_request", None))
        and isinstance(getattr(api, "vertexai", None), bool)
    )


# -- the request body -----------------------------------------------------------------------


def _urlsafe(value: bytes | str) -> str:
    """Bytes, or base64 text in either alphabet, as the SDK sends bytes (URL-safe base64)."""
    if isinstance(value, str):
        value = base64.urlsafe_b64decode(value.translate(_TO_URLSAFE) + "=" * (-len(value) % 4))
    return base64.urlsafe_b64encode(value).decode("ascii")


def _wire_part(part: Mapping[str, Any]) -> dict[str, Any]:
    if not _PART_FIELDS.issuperset(part):
        raise KeyError(next(iter(set(part) - _PART_FIELDS)))
    wire: dict[str, Any] = {}
    if "text" in part:
        wire["text"] = part["text"]
    if "inline_data" in part:
        blob = part["inline_data"]
        wire["inlineData"] = {"data": _urlsafe(blob["data"]), "mime_type": blob["mime_type"]}
    if "file_data" in part:
        wire["fileData"] = dict(part["file_data"])
    if "function_call" in part:
        wire["functionCall"] = dict(part["function_call"])
    if "function_response" in part:
        wire["functionResponse"] = dict(part["function_response"])
    if part.get("thought_signature"):
        wire["thoughtSignature"] = _urlsafe(part["thought_signature"])
    return wire


def _contents(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"parts": [_wire_part(part) for part in content["parts"]], "role": content["role"]}
        for content in contents
    ]


def _generation_config(config: Mapping[str, Any]) -> dict[str, Any]:
    generation = {wire: config[name] for name, wire in _GENERATION.items() if name in config}
    if "temperature" in generation:
        generation["temperature"] = float(generation["temperature"])  # as the SDK's model
    thinking = config.get("thinking_config")
    if thinking is not None:
        if not _THINKING_FIELDS.issuperset(thinking):
            raise KeyError("thinking_config")
        thinking = dict(thinking)
        if "thinking_level" in thinking:  # the SDK's enum value
            thinking["thinking_level"] = str(thinking["thinking_level"]).upper()
        generation["thinkingConfig"] = thinking
    return generation


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    wire = []
    for tool in tools:
        if set(tool) != {"function_declarations"}:
            raise KeyError("tools")
        wire.append({"functionDeclarations": [dict(d) for d in tool["function_declarations"]]})
    return wire


def _tool_config(tool_config: Mapping[str, Any], vertex: bool) -> dict[str, Any]:
    calling = tool_config["function_calling_config"]
    wire = {"mode": calling["mode"]}
    if "allowed_function_names" in calling:
        # The SDK converts this model's field names for the Gemini API only.
        name = "allowed_function_names" if vertex else "allowedFunctionNames"
        wire[name] = list(calling["allowed_function_names"])
    return {"functionCallingConfig": wire}


def wire_body(
    contents: list[dict[str, Any]], config: Mapping[str, Any], vertex: bool = False
) -> dict[str, Any] | None:
    """The ``generateContent`` JSON body the SDK would send for `contents` and `config`
    (`persona_llm.providers.gemini.request`'s dicts), to the Gemini API or to Vertex AI;
    None when they hold anything else."""
    if not _CONFIG_FIELDS.issuperset(config):
        return None
    try:
        body: dict[str, Any] = {"contents": _contents(contents)}
        system = config.get("system_instruction")
        if system is not None:
            body["systemInstruction"] = {"parts": [{"text": system}], "role": "user"}
        if config.get("tools") is not None:
            body["tools"] = _tools(config["tools"])
        if config.get("tool_config") is not None:
            body["toolConfig"] = _tool_config(config["tool_config"], vertex)
        body["generationConfig"] = _generation_config(config)
    except (KeyError, TypeError, AttributeError, binascii.Error):
        return None  # not a shape this module knows: the SDK's path checks and sends it
    return body


# -- sending --------------------------------------------------------------------------------


def _path(api: Any, model: str) -> str:
    sdk = _sdk()
    assert sdk is not None  # the adapter checked `supported`
    return f"{sdk['t_model'](api, model)}:generateContent"


def _json(response: Any) -> Any:
    """The reply's JSON, read as ``generate_content`` reads it (an empty body is ``{}``)."""
    return json.loads(response.body) if response.body else {}


def _continuation(body: Any) -> str | None:
    """The continuation token to follow, as ``generate_content`` follows it (None: done)."""
    candidates = body.get("candidates") if isinstance(body, dict) else None
    first = candidates[0] if isinstance(candidates, list) and candidates else None
    if not isinstance(first, dict) or not first.get("continuationToken"):
        return None
    if first.get("finishReason") not in (None, "CONTINUATION"):
        return None
    return _urlsafe(str(first["continuationToken"]))


def generate(client: Any, model: str, body: dict[str, Any]) -> Any:
    """Send `body` to ``{model}:generateContent`` and return the reply.

    Returns:
        A `GeminiRawReply` (the JSON), or the SDK's merged ``GenerateContentResponse``
        when the reply was continued.

    Raises:
        google.genai.errors.APIError: an error status, as ``generate_content`` raises it.
        json.JSONDecodeError: a body that is not JSON.
    """
    api = client._api_client
    path, replies = _path(api, model), []
    while True:
        replies.append(_json(api.request("post", path, dict(body), None)))
        token = _continuation(replies[-1])
        if token is None:
            return _reply(replies, api.vertexai)
        body = {**body, "continuationToken": token}


async def agenerate(client: Any, model: str, body: dict[str, Any]) -> Any:
    """Asyncio twin of `generate` (``client`` is a ``genai.Client.aio``)."""
    api = client._api_client
    path, replies = _path(api, model), []
    while True:
        replies.append(_json(await api.async_request("post", path, dict(body), None)))
        token = _continuation(replies[-1])
        if token is None:
            return _reply(replies, api.vertexai)
        body = {**body, "continuationToken": token}


def _expect(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{where} is a {type(value).__name__} in gemini's reply")
    return value


def _check_part(part: Any) -> None:
    _expect(part, dict, "a part")
    _expect(part.get("text"), str, "text")
    _expect(part.get("thought"), bool, "thought")
    _expect(part.get("thoughtSignature"), str, "thoughtSignature")
    call = _expect(part.get("functionCall"), dict, "functionCall")
    if call:
        _expect(call.get("name"), str, "functionCall.name")
        _expect(call.get("id"), str, "functionCall.id")
        _expect(call.get("args"), dict, "functionCall.args")


def check_reply(body: Any) -> None:
    """Check the types of the fields the mapping reads, as the SDK's model would.

    Raises:
        TypeError: a field of the wrong type (a malformed reply).
    """
    if not isinstance(body, dict):
        return  # no candidate: the mapping raises its own error
    _expect(body.get("modelVersion"), str, "modelVersion")
    feedback = _expect(body.get("promptFeedback"), dict, "promptFeedback") or {}
    _expect(feedback.get("blockReason"), str, "promptFeedback.blockReason")
    _expect(feedback.get("blockReasonMessage"), str, "promptFeedback.blockReasonMessage")
    usage = _expect(body.get("usageMetadata"), dict, "usageMetadata") or {}
    for count in usage.values():
        _expect(count, (int, list, dict), "a usageMetadata count")
    for candidate in _expect(body.get("candidates"), list, "candidates") or []:
        _expect(candidate, dict, "a candidate")
        _expect(candidate.get("finishReason"), str, "finishReason")
        content = _expect(candidate.get("content"), dict, "content") or {}
        for part in _expect(content.get("parts"), list, "parts") or []:
            _check_part(part)


def _reply(replies: list[Any], vertex: bool) -> Any:
    if len(replies) == 1:
        only = replies[0]
        check_reply(only)
        return GeminiRawReply(only, vertex) if isinstance(only, dict) else only
    sdk = _sdk()
    assert sdk is not None
    return sdk["merge"]([GeminiRawReply(reply, vertex).sdk_model() for reply in replies])


class GeminiRawReply(RawReply):
    """The reply's JSON body (a dict), kept as `ChatResponse.raw` on the wire path.

    Read it as the dict it is (``reply.raw["usageMetadata"]``), free. Reading an attribute
    (``reply.raw.candidates[0].content``, ``reply.raw.text``) builds the SDK's
    ``GenerateContentResponse`` once, as ``generate_content`` would have (without the HTTP
    headers it keeps in ``sdk_http_response``).
    """

    __slots__ = ()

    def sdk_model(self) -> Any:
        """The SDK's ``GenerateContentResponse`` of this body, built on first use."""
        if self._model is None:
            sdk = _sdk()
            assert sdk is not None
            convert = sdk["from_vertex"] if self._model_type else sdk["from_mldev"]
            converted = convert(json.loads(json.dumps(self)), None, None)
            self._model = sdk["from_response"](response=converted, kwargs={})
        return self._model
