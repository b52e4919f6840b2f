"""Tools the model may call, and the loop that runs them.

The definitions (`tool`, `to_tools`, `to_tool_choice`: a `Tool` from a Python function, a
pydantic model or a schema dict) live in `persona_llm.features.tool_defs` and are re-exported
here.

`run_tools` / `arun_tools` run the loop: call the model with the tools, run the Python
functions it asks for, send the results back, until it answers without tool calls (the
blocking one is generated from the asyncio one by ``scripts/unasync.py``):

* a step is one chat call; when the reply of call number `max_steps` still asks for tools,
  `ToolStepLimitError` is raised (it carries the conversation so far, tool results included,
  and the last reply);
* ``tool_choice`` applies to the first call only (later calls leave it to the model), so
  that ``"required"`` or a tool name cannot loop forever;
* arguments are validated (and converted: dates, enums, models) against the function's type
  hints first; invalid arguments, an unknown tool name, or an exception raised by the tool
  become an ``Error: ...`` tool result the model sees (and can correct), logged at WARNING;
* a result that is not a string is sent as JSON; calls of one reply run one after another,
  in order. `run_tools` refuses coroutine functions; `arun_tools` awaits them and runs plain
  functions in a worker thread (`asyncio.to_thread`), so a blocking tool does not stall the
  event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pydantic_core
from pydantic import BaseModel, ValidationError

from persona_llm.errors import InvalidRequestError, LLMError
from persona_llm.features.tool_defs import (
    ToolChoiceLike,
    ToolLike,
    to_tool_choice,
    to_tools,
    tool,
)
from persona_llm.features.tool_schema import arguments_model
from persona_llm.messages import to_messages
from persona_llm.types import (
    ChatMessage,
    ChatResponse,
    MessageInput,
    Tool,
    ToolCall,
)

if TYPE_CHECKING:
    from persona_llm.features.client import SupportsAsyncChat, SupportsChat

__all__ = [
    "Tool",
    "ToolChoiceLike",
    "ToolLike",
    "ToolStepLimitError",
    "arun_tools",
    "run_tools",
    "to_tool_choice",
    "to_tools",
    "tool",
]

logger = logging.getLogger(__name__)


class ToolStepLimitError(LLMError):
    """`run_tools` made `max_steps` chat calls and the model still asks for tools.

    Attributes:
        max_steps: the limit that was reached.
        messages: the conversation so far, the last tool results included: pass it to
            ``chat(..., tool_choice="none")`` for a final answer, or to `run_tools` again.
        response: the last reply (the one asking for more tools).
    """

    def __init__(
        self,
        message: str,
        *,
        max_steps: int,
        messages: tuple[ChatMessage, ...],
        response: ChatResponse,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.max_steps = max_steps
        self.messages = messages
        self.response = response


def _is_async(function: Callable[..., Any]) -> bool:
    call = getattr(function, "__call__", None)  # noqa: B004 (callable objects)
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(call)


def _result_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return pydantic_core.to_json(value, fallback=str).decode()


def _invoke(function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    return function(**kwargs)


async def _ainvoke(function: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    # A plain function runs in a worker thread, so a blocking tool does not stall the loop.
    if _is_async(function):
        return await function(**kwargs)
    return await asyncio.to_thread(function, **kwargs)


class _Runner:
    """The tools of one loop, by name, with their argument models; runs one call at a time."""

    def __init__(self, tools: Iterable[ToolLike], *, asyncio_loop: bool) -> None:
        self.tools = to_tools(tools)
        if not self.tools:
            raise InvalidRequestError("run_tools needs at least one tool")
        self._entries: dict[str, tuple[Callable[..., Any], type[BaseModel]]] = {}
        for item in self.tools:
            if item.function is None:
                raise InvalidRequestError(
                    f"tool {item.name!r} has no Python function to run: build it with "
                    "tool(spec, function=...), or call chat(tools=...) and run the calls yourself"
                )
            if not asyncio_loop and _is_async(item.function):
                raise InvalidRequestError(
                    f"tool {item.name!r} is a coroutine function: use arun_tools"
                )
            self._entries[item.name] = (item.function, arguments_model(item.function, item.name))

    def prepare(self, call: ToolCall) -> tuple[Callable[..., Any], dict[str, Any]] | str:
        """The function and its validated keyword arguments, or the error for the model."""
        entry = self._entries.get(call.name)
        if entry is None:
            return self._problem(
                call,
                f"there is no tool named {call.name!r}; the tools are: {', '.join(self._entries)}",
            )
        function, model = entry
        try:
            values = model.model_validate(call.arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                for e in exc.errors()
            )
            return self._problem(call, f"invalid arguments for tool {call.name!r}: {problems}")
        # Only the arguments the model gave: the function's own defaults apply to the rest.
        fields = model.model_fields
        kwargs = {fields[key].alias or key: getattr(values, key) for key in values.model_fields_set}
        return function, kwargs

    def _problem(self, call: ToolCall, problem: str) -> str:
        logger.warning("tool call %s: %s; told the model", call.id, problem)
        return f"Error: {problem}"

    def failed(self, call: ToolCall, exc: Exception) -> str:
        """The tool result for a tool that raised: the error, for the model to see."""
        logger.warning(
            "tool %r raised %s: %s; the error was returned to the model",
            call.name,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        return f"Error: {type(exc).__name__}: {exc}"

    # unasync: source tools.run
    async def arun(self, call: ToolCall) -> ChatMessage:
        """Run one call and return its ``tool`` message."""
        prepared = self.prepare(call)
        if isinstance(prepared, str):
            return _tool_message(call, prepared, is_error=True)
        function, kwargs = prepared
        try:
            text = _result_text(await _ainvoke(function, kwargs))
        except Exception as exc:
            return _tool_message(call, self.failed(call, exc), is_error=True)
        return _tool_message(call, text)

    # unasync: end
    # unasync: generated tools.run (do not edit: scripts/unasync.py writes it)
    def run(self, call: ToolCall) -> ChatMessage:
        """Run one call and return its ``tool`` message."""
        prepared = self.prepare(call)
        if isinstance(prepared, str):
            return _tool_message(call, prepared, is_error=True)
        function, kwargs = prepared
        try:
            text = _result_text(_invoke(function, kwargs))
        except Exception as exc:
            return _tool_message(call, self.failed(call, exc), is_error=True)
        return _tool_message(call, text)

    # unasync: end


def _tool_message(call: ToolCall, text: str, *, is_error: bool = False) -> ChatMessage:
    return ChatMessage(
        role="tool",
        tool_call_id=call.id or call.name,
        name=call.name,
        content=text,
        is_error=is_error,
    )


def _start(messages: Iterable[MessageInput], max_steps: int) -> list[ChatMessage]:
    if max_steps < 1:
        raise InvalidRequestError(f"max_steps must be 1 or more, got {max_steps!r}")
    return list(to_messages(messages))


def _limit_error(
    conversation: list[ChatMessage], response: ChatResponse, max_steps: int
) -> ToolStepLimitError:
    return ToolStepLimitError(
        f"the model still asked for tools after max_steps={max_steps} chat calls; raise "
        "max_steps, or ask for a final answer with chat(error.messages, tool_choice='none')",
        max_steps=max_steps,
        messages=tuple(conversation),
        response=response,
        provider=response.provider,
        model=response.model,
    )


# unasync: source tools.loop
async def arun_tools(
    client: SupportsAsyncChat,
    messages: Iterable[MessageInput],
    tools: Iterable[ToolLike],
    *,
    max_steps: int = 5,
    tool_choice: ToolChoiceLike | None = None,
    **chat_options: Any,
) -> ChatResponse:
    """Chat with tools, running the Python functions the model calls, until it answers in text.

    Args:
        client: the chat client.
        messages: the conversation.
        tools: functions (or tools with a `Tool.function`) the model may call; how coroutine
            functions and plain ones run: see the module docstring.
        max_steps: most chat calls; the loop stops with `ToolStepLimitError` after them.
        tool_choice: for the first call only (see the module docstring).
        **chat_options: passed to every ``client.chat`` call (``temperature``,
            ``response_model``...).

    Returns:
        The first reply without tool calls.

    Raises:
        ToolStepLimitError: still asking for tools after `max_steps` calls.
        InvalidRequestError: a tool without a function, or a coroutine function given to the
            blocking loop; any error of ``client.chat``.
    """
    runner = _Runner(tools, asyncio_loop=True)
    conversation = _start(messages, max_steps)
    choice = tool_choice
    for _ in range(max_steps):
        response = await client.chat(
            conversation, tools=runner.tools, tool_choice=choice, **chat_options
        )
        if not response.tool_calls:
            return response
        conversation.append(response.to_message())
        conversation += [await runner.arun(call) for call in response.tool_calls]
        choice = None
    raise _limit_error(conversation, response, max_steps)


# unasync: end
# unasync: generated tools.loop (do not edit: scripts/unasync.py writes it)
def run_tools(
    client: SupportsChat,
    messages: Iterable[MessageInput],
    tools: Iterable[ToolLike],
    *,
    max_steps: int = 5,
    tool_choice: ToolChoiceLike | None = None,
    **chat_options: Any,
) -> ChatResponse:
    """Chat with tools, running the Python functions the model calls, until it answers in text.

    Args:
        client: the chat client.
        messages: the conversation.
        tools: functions (or tools with a `Tool.function`) the model may call; how coroutine
            functions and plain ones run: see the module docstring.
        max_steps: most chat calls; the loop stops with `ToolStepLimitError` after them.
        tool_choice: for the first call only (see the module docstring).
        **chat_options: passed to every ``client.chat`` call (``temperature``,
            ``response_model``...).

    Returns:
        The first reply without tool calls.

    Raises:
        ToolStepLimitError: still asking for tools after `max_steps` calls.
        InvalidRequestError: a tool without a function, or a coroutine function given to the
            blocking loop; any error of ``client.chat``.
    """
    runner = _Runner(tools, asyncio_loop=False)
    conversation = _start(messages, max_steps)
    choice = tool_choice
    for _ in range(max_steps):
        response = client.chat(conversation, tools=runner.tools, tool_choice=choice, **chat_options)
        if not response.tool_calls:
            return response
        conversation.append(response.to_message())
        conversation += [runner.run(call) for call in response.tool_calls]
        choice = None
    raise _limit_error(conversation, response, max_steps)


# unasync: end
