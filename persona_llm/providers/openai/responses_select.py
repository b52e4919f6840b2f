"""Which transport an OpenAI (or Azure) request takes: Chat Completions or Responses.

``OPENAI_API`` (``AZURE_OPENAI_API`` for Azure; per profile ``<PROFILE>_OPENAI_API``; per call
the option ``openai_api=``) is ``chat``, ``responses`` or ``auto`` (the default). ``auto``
chooses the Responses API when the request needs it:

* the model is served only there (the table in ``responses_models.json``: pro, codex and
  deep-research variants...);
* the request reasons and calls tools: a reasoning model (o-series, gpt-5; gpt-5.1 and later
  only with ``reasoning=`` / ``reasoning_effort`` other than ``none``) with tools, which Chat
  Completions refuses or serves without the encrypted reasoning the next turn needs;
* the conversation carries OpenAI reasoning items from an earlier Responses turn;

and Chat Completions otherwise (so plain calls keep the path every OpenAI-compatible server
speaks). A request with ``stop`` sequences stays on Chat Completions unless the model is
Responses-only (the Responses API has no ``stop``). OpenAI-compatible presets (ollama, vllm,
groq, ...) always use Chat Completions, whatever the setting.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from importlib import resources
from typing import Literal

from persona_llm.errors import ConfigurationError
from persona_llm.providers.openai.request import _base_name, rejects_temperature
from persona_llm.types import ChatRequest

__all__ = ["API_CHOICES", "Api", "choose_api", "is_responses_only", "responses_only_patterns"]

Api = Literal["chat", "responses"]
API_CHOICES = ("chat", "responses", "auto")


@functools.lru_cache(maxsize=1)
def responses_only_patterns() -> tuple[str, ...]:
    """The model-name patterns of ``responses_models.json`` (read once)."""
    text = resources.files(__package__).joinpath("responses_models.json").read_text("utf-8")
    return tuple(json.loads(text)["responses_only"])


def is_responses_only(model: str) -> bool:
    """Whether `model` is served only on ``/v1/responses``."""
    name = _base_name(model)
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in responses_only_patterns())


def _carries_reasoning(request: ChatRequest) -> bool:
    for message in request.messages:
        for call in message.tool_calls:
            if call.provider_data.get("openai", {}).get("reasoning"):
                return True
    return False


def _reasoning_options(request: ChatRequest) -> dict[str, object]:
    """The request's reasoning effort as `rejects_temperature` reads it: the option
    ``reasoning_effort``, a ``reasoning={"effort": ...}`` option, or ``reasoning=``."""
    options = request.options
    effort = options.get("reasoning_effort")
    reasoning = options.get("reasoning")
    if effort is None and isinstance(reasoning, dict):
        effort = reasoning.get("effort")
    return {"reasoning_effort": effort if effort is not None else request.reasoning}


def choose_api(setting: str, model: str, request: ChatRequest, *, compatible: bool = False) -> Api:
    """The transport of one request (see the module docstring).

    Args:
        setting: the configured ``chat``/``responses``/``auto``; the call's ``openai_api``
            option wins over it.
        compatible: the adapter serves an OpenAI-compatible preset (always Chat Completions).

    Raises:
        ConfigurationError: `setting` (or the option) is not one of the three choices.
    """
    choice = request.options.get("openai_api", setting)
    if choice not in API_CHOICES:
        raise ConfigurationError(
            f"OPENAI_API (or the openai_api option) must be one of {', '.join(API_CHOICES)}, "
            f"got {choice!r}"
        )
    if compatible:
        return "chat"
    if choice != "auto":
        return "responses" if choice == "responses" else "chat"
    if is_responses_only(model):
        return "responses"
    if request.stop is not None:
        return "chat"
    if request.tools and rejects_temperature(model, _reasoning_options(request)):
        return "responses"
    return "responses" if _carries_reasoning(request) else "chat"
