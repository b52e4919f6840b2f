"""Content parts and cache markers per provider, dict in / dict out: no SDK call, no network."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from persona_llm import AudioPart, DocumentPart, ImagePart, TextPart
from persona_llm.errors import InvalidRequestError
from persona_llm.providers.anthropic.mapping import to_anthropic_params
from persona_llm.providers.gemini.mapping import to_gemini_request
from persona_llm.providers.openai.mapping import to_openai_params
from persona_llm.providers.openai.parts import capabilities_for
from persona_llm.testing import media
from persona_llm.types import Capabilities, ChatMessage, ChatRequest, Tool

PNG, PDF, WAV = media.png(), media.pdf(), media.wav()
B64_PNG, B64_PDF, B64_WAV = (base64.b64encode(x).decode() for x in (PNG, PDF, WAV))


def req(*messages: ChatMessage | dict[str, Any], **fields: Any) -> ChatRequest:
    built = tuple(
        m if isinstance(m, ChatMessage) else ChatMessage.model_validate(m) for m in messages
    )
    return ChatRequest(messages=built, **fields)


def user(*parts: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(parts)}


# -- OpenAI / Azure --------------------------------------------------------------------------


def test_openai_maps_every_part_kind_next_to_a_system_message() -> None:
    params = to_openai_params(
        "gpt-4o-audio-preview",
        req(
            {"role": "system", "content": "Be brief."},
            user(
                TextPart("Look:"),
                ImagePart.from_bytes(PNG, detail="high"),
                ImagePart.from_url("https://img.test/cat.jpg"),
                DocumentPart.from_bytes(PDF, filename="cv.pdf"),
                AudioPart.from_bytes(WAV),
            ),
        ),
    )
    assert params["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:image/png;base64,{B64_PNG}", "detail": "high"},
                },
                {"type": "image_url", "image_url": {"url": "https://img.test/cat.jpg"}},
                {
                    "type": "file",
                    "file": {
                        "filename": "cv.pdf",
                        "file_data": f"data:application/pdf;base64,{B64_PDF}",
                    },
                },
                {"type": "input_audio", "input_audio": {"data": B64_WAV, "format": "wav"}},
            ],
        },
    ]


def test_openai_plain_strings_keep_todays_wire_shape() -> None:
    params = to_openai_params("gpt-4o", req({"role": "user", "content": "Hi"}))
    assert params["messages"] == [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("provider", "model", "part", "match"),
    [
        ("openai", "gpt-4o", AudioPart.from_bytes(WAV), "audio model"),
        ("openai", "gpt-3.5-turbo", ImagePart.from_bytes(PNG), "text only"),
        ("openai", "gpt-4o", DocumentPart.from_url("https://d.test/a.pdf"), "never fetches"),
        ("openai", "gpt-4o", DocumentPart.from_bytes(b"notes", "text/plain"), "PDF documents only"),
        ("ollama", "llava", DocumentPart.from_bytes(PDF), "does not take documents"),
        ("groq", "whisper-audio", AudioPart.from_bytes(WAV), "audio model"),
    ],
)
def test_openai_refuses_what_the_model_or_server_cannot_take(
    provider: str, model: str, part: Any, match: str
) -> None:
    with pytest.raises(InvalidRequestError, match=match) as caught:
        to_openai_params(model, req(user(TextPart("x"), part)), provider=provider)
    assert caught.value.provider == provider and part.label() in caught.value.message


def test_openai_tool_results_take_text_parts_only() -> None:
    tool = {"role": "tool", "tool_call_id": "c1", "content": [TextPart("42")]}
    params = to_openai_params("gpt-4o", req(user("q"), tool))
    assert params["messages"][1]["content"] == [{"type": "text", "text": "42"}]
    image_tool = {"role": "tool", "tool_call_id": "c1", "content": [ImagePart.from_bytes(PNG)]}
    with pytest.raises(InvalidRequestError, match="in tool results"):
        to_openai_params("gpt-4o", req(user("q"), image_tool))


def test_openai_capabilities_follow_the_model_and_server() -> None:
    full = Capabilities(vision=True, documents=True, audio_input=True)
    assert capabilities_for(full, "openai", "gpt-4o").vision
    assert not capabilities_for(full, "openai", "gpt-4o").audio_input
    assert not capabilities_for(full, "openai", "o3-mini").vision
    assert not capabilities_for(full, "ollama", "llava").documents


# -- Anthropic -------------------------------------------------------------------------------


def test_anthropic_maps_images_and_documents_to_blocks() -> None:
    params = to_anthropic_params(
        "claude-sonnet-4-6",
        req(
            user(
                TextPart("Read these"),
                ImagePart.from_bytes(PNG),
                ImagePart.from_url("https://img.test/a.png"),
                DocumentPart.from_bytes(PDF, title="CV"),
                DocumentPart.from_bytes(b"plain notes", "text/plain"),
                DocumentPart.from_url("https://d.test/a.pdf"),
            )
        ),
    )
    assert params["messages"][0]["content"] == [
        {"type": "text", "text": "Read these"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": B64_PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://img.test/a.png"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": B64_PDF},
            "title": "CV",
        },
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "plain notes"},
        },
        {"type": "document", "source": {"type": "url", "url": "https://d.test/a.pdf"}},
    ]


def test_anthropic_tool_results_hold_images_and_merge_with_the_next_user_turn() -> None:
    assistant = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "t1", "name": "shot", "arguments": {}}],
    }
    tool = {
        "role": "tool",
        "tool_call_id": "t1",
        "content": [ImagePart.from_bytes(PNG, cache=True)],
    }
    params = to_anthropic_params(
        "claude-sonnet-4-6", req(user("go"), assistant, tool, user(TextPart("and?", cache=True)))
    )
    last = params["messages"][-1]
    assert last["role"] == "user"
    result, text = last["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "t1"
    assert result["content"] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": B64_PNG},
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert text == {"type": "text", "text": "and?", "cache_control": {"type": "ephemeral"}}


def test_anthropic_merging_user_turns_keeps_part_order_and_cache_markers() -> None:
    params = to_anthropic_params(
        "claude-sonnet-4-6",
        req(
            {"role": "system", "content": "sys"},
            user(TextPart("a", cache=True), ImagePart.from_bytes(PNG)),
            {"role": "user", "content": "b"},
            user(TextPart("c")),
        ),
    )
    (turn,) = params["messages"]
    assert [b.get("text", b["type"]) for b in turn["content"]] == ["a", "image", "b", "c"]
    assert [("cache_control" in b) for b in turn["content"]] == [True, False, False, False]
    assert params["system"] == "sys"


def test_anthropic_refuses_audio_and_oversized_images_before_sending() -> None:
    with pytest.raises(InvalidRequestError, match="Claude does not take audio"):
        to_anthropic_params("claude-sonnet-4-6", req(user(AudioPart.from_bytes(WAV))))
    big = ImagePart.from_bytes(PNG + b"\0" * (4 * 1024 * 1024))
    with pytest.raises(InvalidRequestError, match="limit of 5,242,880 bytes per image"):
        to_anthropic_params("claude-sonnet-4-6", req(user(big)))


def test_cache_prompt_marks_system_and_tools() -> None:
    tool = Tool(name="lookup", parameters={"type": "object", "properties": {}})
    params = to_anthropic_params(
        "claude-sonnet-4-6",
        req(
            {"role": "system", "content": "Long fixed prompt"},
            {"role": "system", "content": "Second part"},
            {"role": "user", "content": "hi"},
            cache_prompt=True,
            tools=(tool,),
        ),
    )
    assert params["system"] == [
        {"type": "text", "text": "Long fixed prompt"},
        {"type": "text", "text": "Second part", "cache_control": {"type": "ephemeral"}},
    ]
    assert params["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert params["messages"] == [{"role": "user", "content": "hi"}]


def test_more_than_four_breakpoints_keep_the_last_four_with_a_debug_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    parts = [TextPart(str(i), cache=True) for i in range(5)]
    with caplog.at_level(logging.DEBUG, logger="persona_llm.providers.anthropic.parts"):
        params = to_anthropic_params(
            "claude-sonnet-4-6",
            req({"role": "system", "content": "s"}, user(*parts), cache_prompt=True),
        )
    marked = [b["text"] for b in params["messages"][0]["content"] if "cache_control" in b]
    assert marked == ["1", "2", "3", "4"]
    assert "cache_control" not in params["system"][0]
    assert "dropped system[0], messages[0].content[0]" in caplog.text


# -- Gemini ----------------------------------------------------------------------------------


def test_gemini_maps_bytes_inline_and_urls_as_file_data() -> None:
    contents, config = to_gemini_request(
        req(
            {"role": "system", "content": [TextPart("sys", cache=True)]},
            user(
                TextPart("What?"),
                ImagePart.from_bytes(PNG),
                DocumentPart.from_bytes(PDF),
                AudioPart.from_bytes(media.mp3()),
                ImagePart.from_url("gs://bucket/cat.jpeg"),
            ),
        ),
        "gemini-3.8-flash",
    )
    assert config["system_instruction"] == "sys"
    assert contents == [
        {
            "role": "user",
            "parts": [
                {"text": "What?"},
                {"inline_data": {"mime_type": "image/png", "data": PNG}},
                {"inline_data": {"mime_type": "application/pdf", "data": PDF}},
                {"inline_data": {"mime_type": "audio/mp3", "data": media.mp3()}},
                {"file_data": {"mime_type": "image/jpeg", "file_uri": "gs://bucket/cat.jpeg"}},
            ],
        }
    ]


def test_gemini_refuses_media_in_tool_results_and_oversized_requests() -> None:
    assistant = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "t1", "name": "shot", "arguments": {}}],
    }
    tool = {"role": "tool", "tool_call_id": "t1", "content": [ImagePart.from_bytes(PNG)]}
    with pytest.raises(InvalidRequestError, match="gemini does not accept images in tool"):
        to_gemini_request(req(user("go"), assistant, tool), "gemini-3.8-flash")
    big = DocumentPart.from_bytes(media.pdf(padding=16 * 1024 * 1024))
    with pytest.raises(InvalidRequestError, match="over gemini's limit of 20,971,520"):
        to_gemini_request(req(user(big)), "gemini-3.8-flash")


def test_gemini_needs_a_media_type_for_urls() -> None:
    part = DocumentPart.from_url("https://d.test/download?id=3")
    with pytest.raises(InvalidRequestError, match="media_type="):
        to_gemini_request(req(user(part)), "gemini-3.8-flash")


# -- OpenAI Responses API --------------------------------------------------------------------


def test_responses_input_maps_parts_to_input_image_and_input_file() -> None:
    from persona_llm.providers.openai.responses_mapping import to_responses_params

    params = to_responses_params(
        "gpt-4o",
        req(
            user(
                TextPart("Read"),
                ImagePart.from_bytes(PNG, detail="low"),
                DocumentPart.from_bytes(PDF, filename="cv.pdf"),
                DocumentPart.from_url("https://d.test/a.pdf"),
            )
        ),
    )
    assert params["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Read"},
                {
                    "type": "input_image",
                    "image_url": f"data:image/png;base64,{B64_PNG}",
                    "detail": "low",
                },
                {
                    "type": "input_file",
                    "filename": "cv.pdf",
                    "file_data": f"data:application/pdf;base64,{B64_PDF}",
                },
                {"type": "input_file", "file_url": "https://d.test/a.pdf"},
            ],
        }
    ]
    with pytest.raises(InvalidRequestError, match="Responses API takes no audio"):
        to_responses_params("gpt-4o-audio-preview", req(user(AudioPart.from_bytes(WAV))))


# -- reasoning, dict in / dict out -----------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "level", "max_tokens", "expected"),
    [
        (
            "claude-sonnet-4-6",
            "low",
            None,
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}},
        ),
        (
            "claude-opus-4-7",
            "high",
            None,
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
        ),
        (
            "claude-sonnet-4-5",
            "low",
            8192,
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
        ),
        (
            "claude-3-7-sonnet-latest",
            "high",
            16000,
            {"thinking": {"type": "enabled", "budget_tokens": 12000}},
        ),
        (
            "claude-sonnet-4-5",
            "low",
            2000,
            {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        ),
        ("claude-sonnet-4-6", "none", None, {}),
    ],
)
def test_anthropic_reasoning_levels(
    model: str, level: str, max_tokens: int | None, expected: dict[str, Any]
) -> None:
    params = to_anthropic_params(model, req(user("q"), reasoning=level, max_tokens=max_tokens))
    assert {k: params[k] for k in ("thinking", "output_config") if k in params} == expected


def test_anthropic_reasoning_refusals_and_json_mode() -> None:
    with pytest.raises(InvalidRequestError, match="at least 1025"):
        to_anthropic_params("claude-sonnet-4-5", req(user("q"), reasoning="low", max_tokens=1024))
    with pytest.raises(InvalidRequestError, match="default temperature"):
        to_anthropic_params("claude-sonnet-4-6", req(user("q"), reasoning="low", temperature=0.2))
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    params = to_anthropic_params(
        "claude-sonnet-4-6",
        req(
            user("q"),
            reasoning="medium",
            response_format={"type": "json_schema", "json_schema": {"schema": schema}},
        ),
    )
    # Thinking rules out the forced JSON tool: native output, effort kept beside the format.
    assert params["output_config"] == {
        "effort": "medium",
        "format": {"type": "json_schema", "schema": schema},
    }
    assert "tool_choice" not in params


@pytest.mark.parametrize(
    ("model", "level", "expected"),
    [
        ("o4-mini", "high", "high"),
        ("gpt-5.1", "none", "none"),
        ("gpt-5", "none", "minimal"),
        ("gpt-4o", "none", None),
    ],
)
def test_openai_reasoning_effort(model: str, level: str, expected: str | None) -> None:
    params = to_openai_params(model, req(user("q"), reasoning=level))
    assert params.get("reasoning_effort") == expected


def test_openai_reasoning_the_model_cannot_honour_follows_the_policy() -> None:
    with pytest.raises(InvalidRequestError, match="always reasons"):
        to_openai_params("o3", req(user("q"), reasoning="none"))
    params = to_openai_params("gpt-4o", req(user("q"), reasoning="high"), unsupported_params="drop")
    assert "reasoning_effort" not in params


@pytest.mark.parametrize(
    ("model", "level", "expected"),
    [
        ("gemini-3.8-flash", "none", {"include_thoughts": False, "thinking_level": "minimal"}),
        ("gemini-3.8-flash", "medium", {"include_thoughts": True, "thinking_level": "medium"}),
        ("gemini-2.5-flash", "high", {"include_thoughts": True, "thinking_budget": 24576}),
        ("gemini-2.5-pro", "none", {"include_thoughts": False, "thinking_budget": 128}),
    ],
)
def test_gemini_thinking_config(model: str, level: str, expected: dict[str, Any]) -> None:
    _, config = to_gemini_request(req(user("q"), reasoning=level), model)
    assert config["thinking_config"] == expected


def test_a_callers_own_provider_option_wins_over_the_level() -> None:
    own = {"thinking_budget": 77}
    _, config = to_gemini_request(
        req(user("q"), reasoning="high", options={"thinking_config": own}), "gemini-2.5-flash"
    )
    assert config["thinking_config"] == own
    params = to_openai_params(
        "o4-mini", req(user("q"), reasoning="high", options={"reasoning_effort": "low"})
    )
    assert params["reasoning_effort"] == "low"
