"""Tool calling and streamed JSON on every provider: real SDK, real HTTP, the emulator.

Each test runs per provider (OpenAI, Azure, Anthropic, Gemini) and per API (blocking client,
asyncio client). A `Dialect` holds what differs between providers: how a reply with tool
calls looks on the wire, and what the follow-up request must look like.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from persona_llm import ChatResponse, ToolCall
from persona_llm.clients import AsyncChatClient, ChatClient
from persona_llm.features.streaming import acollect_stream, collect_stream
from persona_llm.features.tools import arun_tools, run_tools
from persona_llm.providers import build_adapter
from persona_llm.providers.base import ProviderAdapter
from persona_llm.testing import wire
from persona_llm.testing.emulator import ProviderEmulator, Reply, SSEReply

PROVIDERS = ("openai", "azure", "anthropic", "gemini")
MODES = ("blocking", "asyncio")
ASK = [{"role": "user", "content": "Weather in Paris and Rome?"}]
SIGNATURE = "c2lnbmF0dXJl"


def get_weather(city: str) -> str:
    """Current weather of a city.

    Args:
        city: The city name.
    """
    return {"Paris": "18C", "Rome": "24C"}.get(city, "unknown")


def now() -> str:
    """The current time."""
    return "noon"


Call = tuple[str, str, dict[str, Any]]  # (id given by the provider, name, arguments)
PARIS: Call = ("call_p", "get_weather", {"city": "Paris"})
ROME: Call = ("call_r", "get_weather", {"city": "Rome"})
NOW: Call = ("call_n", "now", {})


@dataclass(frozen=True)
class Dialect:
    """How one provider puts tool calls on the wire."""

    provider: str
    model: str

    # -- replies -----------------------------------------------------------------------

    def calls_reply(self, calls: list[Call], *, finish: str | None = None) -> Reply:
        if self.provider == "anthropic":
            blocks = [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
            return Reply(wire.anthropic_message(blocks, stop_reason=finish or "tool_use"))
        if self.provider == "gemini":
            return Reply(wire.gemini_response(self._gemini_parts(calls)))
        spec = [{"id": i, "name": n, "arguments": a} for i, n, a in calls]
        return Reply(self._openai_chat(None, tool_calls=spec, finish_reason=finish))

    def calls_stream(self, text: str, calls: list[Call]) -> SSEReply:
        if self.provider == "anthropic":
            blocks: list[Any] = [{"type": "text", "text": text}]
            blocks += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
            return wire.anthropic_events(blocks, stop_reason="tool_use")
        if self.provider == "gemini":
            return wire.gemini_events([text, *self._gemini_parts(calls)])
        spec = [{"id": i, "name": n, "arguments": a} for i, n, a in calls]
        return self._openai_chunks([text], tool_calls=spec)

    def text_reply(self, text: str) -> Reply:
        if self.provider == "anthropic":
            return Reply(wire.anthropic_message(text))
        if self.provider == "gemini":
            return Reply(wire.gemini_response(text))
        return Reply(self._openai_chat(text))

    def json_stream(self, value: dict[str, Any]) -> SSEReply:
        text = json.dumps(value)
        pieces = [text[:5], text[5:12], text[12:]]
        if self.provider == "anthropic":
            block = {"type": "tool_use", "name": "json_output", "input": value}
            return wire.anthropic_events([block], stop_reason="tool_use")
        if self.provider == "gemini":
            return wire.gemini_events(pieces)
        return self._openai_chunks(pieces)

    def _gemini_parts(self, calls: list[Call]) -> list[Any]:
        # Gemini gives no ids; the first call carries a thought signature.
        parts = [{"functionCall": {"name": n, "args": a}} for _, n, a in calls]
        if parts:
            parts[0]["thoughtSignature"] = SIGNATURE
        return parts

    def _openai_chat(self, content: str | None, **fields: Any) -> dict[str, Any]:
        return wire.openai_chat(content, azure=self.provider == "azure", **fields)

    def _openai_chunks(self, pieces: list[str], **fields: Any) -> SSEReply:
        usage = wire.openai_usage()
        return wire.openai_chunks(pieces, usage=usage, azure=self.provider == "azure", **fields)

    # -- what we expect ----------------------------------------------------------------

    def tool_calls(self, calls: list[Call]) -> list[ToolCall]:
        """The normalized calls: Gemini's ids are synthesized from position and name."""
        if self.provider == "gemini":
            return [
                ToolCall(id=f"call_{k}_{n}", name=n, arguments=a)
                for k, (_, n, a) in enumerate(calls)
            ]
        return [ToolCall(id=i, name=n, arguments=a) for i, n, a in calls]

    def declared_tools(self, body: dict[str, Any]) -> list[str]:
        if self.provider == "anthropic":
            return [tool["name"] for tool in body["tools"]]
        if self.provider == "gemini":
            return [d["name"] for d in body["tools"][0]["functionDeclarations"]]
        return [tool["function"]["name"] for tool in body["tools"]]

    def forced_choice(self, body: dict[str, Any]) -> Any:
        if self.provider == "anthropic":
            assert body["tool_choice"] == {"type": "tool", "name": "get_weather"}
        elif self.provider == "gemini":
            calling = body["toolConfig"]["functionCallingConfig"]
            assert calling == {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
        else:
            expected = {"type": "function", "function": {"name": "get_weather"}}
            assert body["tool_choice"] == expected

    def follow_up(self, body: dict[str, Any]) -> list[Any]:
        """The wire turns after the question: the assistant's calls and the results."""
        if self.provider == "gemini":
            return list(body["contents"][1:])
        return list(body["messages"][1:])

    def expected_follow_up(self, calls: list[Call], results: list[str]) -> list[Any]:
        normalized = self.tool_calls(calls)
        if self.provider == "anthropic":
            uses = [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in normalized
            ]
            outputs = [
                {"type": "tool_result", "tool_use_id": c.id, "content": r}
                for c, r in zip(normalized, results, strict=True)
            ]
            return [{"role": "assistant", "content": uses}, {"role": "user", "content": outputs}]
        if self.provider == "gemini":
            parts: list[dict[str, Any]] = [
                {"functionCall": {"args": c.arguments, "name": c.name}} for c in normalized
            ]
            parts[0]["thoughtSignature"] = SIGNATURE
            answers = [
                {"functionResponse": {"name": c.name, "response": {"output": r}}}
                for c, r in zip(normalized, results, strict=True)
            ]
            return [{"parts": parts, "role": "model"}, {"parts": answers, "role": "user"}]
        wire_calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in normalized
        ]
        turn = {"role": "assistant", "content": None, "tool_calls": wire_calls}
        outputs = [
            {"role": "tool", "tool_call_id": c.id, "content": r}
            for c, r in zip(normalized, results, strict=True)
        ]
        return [turn, *outputs]


MODELS = {
    "openai": "gpt-4o-mini",
    "azure": "my-gpt4o-deployment",
    "anthropic": "claude-sonnet-4-6",
    "gemini": "gemini-2.5-flash",
}


@dataclass
class Env:
    """One provider's clients on the emulator, and a way to run either API."""

    dialect: Dialect
    adapter: ProviderAdapter
    emu: ProviderEmulator
    mode: str

    @property
    def provider(self) -> str:
        return self.dialect.provider

    def enqueue(self, *replies: Reply | SSEReply) -> None:
        self.emu.enqueue(self.provider, *replies)

    def bodies(self) -> list[dict[str, Any]]:
        return [request.json for request in self.emu.requests_for(self.provider)]

    def run(
        self, blocking: Callable[[ChatClient], Any], asyncio_: Callable[[AsyncChatClient], Any]
    ) -> Any:
        model = self.dialect.model
        if self.mode == "blocking":
            return blocking(ChatClient(self.adapter, model))

        async def go() -> Any:
            try:
                return await asyncio_(AsyncChatClient(self.adapter, model))
            finally:
                await self.adapter.aclose()  # inside this loop: no connection outlives it

        return asyncio.run(go())

    def chat(self, messages: Any, **options: Any) -> ChatResponse:
        return self.run(
            lambda c: c.chat(messages, **options), lambda c: c.chat(messages, **options)
        )  # type: ignore[no-any-return]

    def collect(self, messages: Any, **options: Any) -> ChatResponse:
        return self.run(  # type: ignore[no-any-return]
            lambda c: collect_stream(c.stream(messages, **options)),
            lambda c: acollect_stream(c.stream(messages, **options)),
        )

    def run_tools(self, messages: Any, tools: list[Any], **options: Any) -> ChatResponse:
        return self.run(  # type: ignore[no-any-return]
            lambda c: run_tools(c, messages, tools, **options),
            lambda c: arun_tools(c, messages, tools, **options),
        )


@pytest.fixture(scope="module")
def adapters(emulator: ProviderEmulator) -> Iterator[dict[str, ProviderAdapter]]:
    built = {p: build_adapter(emulator.config_for(p)) for p in PROVIDERS}
    yield built
    for adapter in built.values():
        adapter.close()
        getattr(getattr(adapter, "_client", None), "close", lambda: None)()


@pytest.fixture(params=[(p, m) for p in PROVIDERS for m in MODES], ids="-".join)
def env(
    request: pytest.FixtureRequest, adapters: dict[str, ProviderAdapter], emu: ProviderEmulator
) -> Env:
    provider, mode = request.param
    return Env(Dialect(provider, MODELS[provider]), adapters[provider], emu, mode)


# -- tool calls -----------------------------------------------------------------------------


def test_a_single_tool_call(env: Env) -> None:
    env.enqueue(env.dialect.calls_reply([PARIS]))
    reply = env.chat(ASK, tools=[get_weather, now])
    assert reply.tool_calls == env.dialect.tool_calls([PARIS])
    assert (reply.finish_reason, reply.content, reply.provider) == ("tool_calls", "", env.provider)
    (body,) = env.bodies()
    assert env.dialect.declared_tools(body) == ["get_weather", "now"]


def test_parallel_tool_calls_in_order(env: Env) -> None:
    env.enqueue(env.dialect.calls_reply([PARIS, ROME, NOW]))
    reply = env.chat(ASK, tools=[get_weather, now])
    assert reply.tool_calls == env.dialect.tool_calls([PARIS, ROME, NOW])
    assert reply.tool_calls[2].arguments == {}


def test_tool_results_go_back_in_the_providers_wire_shape(env: Env) -> None:
    env.enqueue(env.dialect.calls_reply([PARIS, ROME]), env.dialect.text_reply("18C and 24C."))
    reply = env.run_tools(ASK, [get_weather])
    assert reply.content == "18C and 24C."
    _, second = env.bodies()
    assert env.dialect.follow_up(second) == env.dialect.expected_follow_up(
        [PARIS, ROME], ["18C", "24C"]
    )


def test_a_forced_tool_is_sent_and_reported_as_tool_calls(env: Env) -> None:
    # OpenAI answers a forced function with finish_reason "stop": still reported as tool_calls.
    finish = "stop" if env.provider in ("openai", "azure") else None
    env.enqueue(env.dialect.calls_reply([PARIS], finish=finish))
    reply = env.chat(ASK, tools=[get_weather, now], tool_choice="get_weather")
    assert reply.finish_reason == "tool_calls"
    env.dialect.forced_choice(env.bodies()[0])


def test_a_streamed_tool_call_collects_to_what_chat_returns(env: Env) -> None:
    env.enqueue(env.dialect.calls_stream("Checking. ", [PARIS, NOW]))
    streamed = env.collect(ASK, tools=[get_weather, now])
    assert streamed.content == "Checking. "
    assert streamed.tool_calls == env.dialect.tool_calls([PARIS, NOW])
    assert (streamed.finish_reason, streamed.provider) == ("tool_calls", env.provider)
    assert streamed.usage is not None
    assert env.dialect.declared_tools(env.bodies()[0]) == ["get_weather", "now"]


def test_streamed_json_mode(env: Env) -> None:
    value = {"city": "Paris", "celsius": 18}
    env.enqueue(env.dialect.json_stream(value))
    streamed = env.collect(ASK, response_format={"type": "json_object"})
    assert json.loads(streamed.content) == value
    assert streamed.finish_reason == "stop"
    (body,) = env.bodies()
    if env.provider == "anthropic":
        assert body["tool_choice"] == {"type": "tool", "name": "json_output"}
    elif env.provider == "gemini":
        assert body["generationConfig"]["responseMimeType"] == "application/json"
    else:
        assert body["response_format"] == {"type": "json_object"}


# -- provider specifics ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "env", [(p, m) for p in ("openai", "azure") for m in MODES], ids="-".join, indirect=True
)
def test_a_streamed_refusal_is_collected(env: Env) -> None:
    env.enqueue(
        wire.openai_chunks(
            [], refusal=["I can't ", "help with that."], azure=env.provider == "azure"
        )
    )
    streamed = env.collect(ASK)
    assert (streamed.content, streamed.refusal) == ("", "I can't help with that.")


@pytest.mark.parametrize("env", [("anthropic", m) for m in MODES], ids="-".join, indirect=True)
def test_anthropic_thinking_goes_back_with_the_tool_calls(env: Env) -> None:
    thinking = {"type": "thinking", "thinking": "Paris first.", "signature": "sig-1"}
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    env.enqueue(
        Reply(wire.anthropic_message([thinking, use], stop_reason="tool_use")),
        env.dialect.text_reply("18C."),
    )
    enabled = {"type": "enabled", "budget_tokens": 1024}
    env.run_tools(ASK, [get_weather], provider_options={"anthropic": {"thinking": enabled}})
    _, second = env.bodies()
    assert second["messages"][1] == {"role": "assistant", "content": [thinking, use]}
    assert second["thinking"] == {"type": "enabled", "budget_tokens": 1024}


@pytest.mark.parametrize("env", [("anthropic", m) for m in MODES], ids="-".join, indirect=True)
def test_anthropic_is_told_a_tool_failed_with_is_error(env: Env) -> None:
    def broken(city: str) -> str:
        """Always fails."""
        raise RuntimeError("weather service down")

    use = {"type": "tool_use", "id": "toolu_1", "name": "broken", "input": {"city": "Oslo"}}
    other = {"type": "tool_use", "id": "toolu_2", "name": "nope", "input": {}}
    fine = {"type": "tool_use", "id": "toolu_3", "name": "get_weather", "input": {"city": "Oslo"}}
    env.enqueue(
        Reply(wire.anthropic_message([use, other, fine], stop_reason="tool_use")),
        env.dialect.text_reply("Sorry."),
    )
    env.run_tools(ASK, [broken, get_weather])
    _, second = env.bodies()
    results = {block["tool_use_id"]: block for block in second["messages"][-1]["content"]}
    assert results["toolu_1"]["is_error"] is True
    assert "weather service down" in str(results["toolu_1"]["content"])
    assert results["toolu_2"]["is_error"] is True  # no such tool
    assert "is_error" not in results["toolu_3"]


@pytest.mark.parametrize("env", [("gemini", m) for m in MODES], ids="-".join, indirect=True)
def test_gemini_is_told_a_tool_failed_with_an_error_key(env: Env) -> None:
    def broken(city: str) -> str:
        """Always fails."""
        raise RuntimeError("weather service down")

    env.enqueue(
        env.dialect.calls_reply(
            [("", "broken", {"city": "Oslo"}), ("", "get_weather", {"city": "Oslo"})]
        ),
        env.dialect.text_reply("Sorry."),
    )
    env.run_tools(ASK, [broken, get_weather])
    _, second = env.bodies()
    answers = [part["functionResponse"] for part in second["contents"][-1]["parts"]]
    assert answers[0]["name"] == "broken" and set(answers[0]["response"]) == {"error"}
    assert "weather service down" in answers[0]["response"]["error"]
    assert set(answers[1]["response"]) == {"output"}
