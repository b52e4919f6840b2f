"""Two JSON views: a blocking one (WSGI threads) and an async one (ASGI event loop).

Both take ``{"message": ..., "system"?: ...}`` and answer ``{"reply", "model", "provider",
"finish_reason"}``; their clients are injected from the app's container.
"""

from __future__ import annotations

import json

from dependency_injector.wiring import Provide, inject
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from persona_llm import (
    AsyncChatClient,
    ChatClient,
    ChatResponse,
    ConfigurationError,
    Container,
    InvalidRequestError,
    LLMError,
    LLMTimeoutError,
    RateLimitError,
)


class BadInput(ValueError):
    """The request body is not what the views accept."""


def _messages(request: HttpRequest) -> list[dict[str, str]]:
    try:
        payload = json.loads(request.body or b"null")
    except json.JSONDecodeError:
        payload = None
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, str) or not message.strip():
        raise BadInput("send a JSON object with a non-empty 'message' string")
    system = payload.get("system")
    messages = [{"role": "system", "content": system}] if isinstance(system, str) else []
    return [*messages, {"role": "user", "content": message}]


def _reply(reply: ChatResponse) -> JsonResponse:
    return JsonResponse(
        {
            "reply": reply.content,
            "model": reply.model,
            "provider": reply.provider,
            "finish_reason": reply.finish_reason,
        }
    )


def error_response(exc: Exception) -> JsonResponse:
    """A JSON error with the status this app gives each kind of failure."""
    if isinstance(exc, BadInput):
        return JsonResponse({"error": "BadRequest", "message": str(exc)}, status=400)
    status = 502  # the provider failed us
    if isinstance(exc, ConfigurationError):
        status = 500
    elif isinstance(exc, InvalidRequestError):
        status = 400
    elif isinstance(exc, RateLimitError):
        status = 429
    elif isinstance(exc, LLMTimeoutError):
        status = 504
    response = JsonResponse({"error": type(exc).__name__, "message": str(exc)}, status=status)
    if isinstance(exc, RateLimitError) and exc.retry_after:
        response["Retry-After"] = str(int(exc.retry_after))
    return response


@csrf_exempt
@require_POST
@inject
def chat(request: HttpRequest, client: ChatClient = Provide[Container.chat_client]) -> JsonResponse:
    """The blocking view: one chat call on the request's thread."""
    try:
        return _reply(client.chat(_messages(request)))
    except (BadInput, LLMError) as exc:
        return error_response(exc)


@csrf_exempt
@require_POST
@inject
async def chat_async(
    request: HttpRequest, client: AsyncChatClient = Provide[Container.async_chat_client]
) -> JsonResponse:
    """The async view: awaits the SDK's native async client, never blocking the loop."""
    try:
        return _reply(await client.chat(_messages(request)))
    except (BadInput, LLMError) as exc:
        return error_response(exc)
