"""The Flask example, through Flask's test client, with providers overridden in the container."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from persona_flask import create_app

from persona_llm import Container, RateLimitError, container
from persona_llm.errors import AuthenticationError
from persona_llm.testing import FakeChatClient, use_emulator
from persona_llm.testing.emulator import Fault


@pytest.fixture
def app() -> Iterator[Flask]:
    app = create_app({"TESTING": True})
    yield app
    container.unwire()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def events(body: str) -> list[tuple[str, dict]]:
    """Server-sent events as (event name, data) pairs."""
    parsed = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((fields.get("event", "message"), json.loads(fields["data"])))
    return parsed


def test_chat_answers_with_the_overridden_client(client: FlaskClient) -> None:
    fake = FakeChatClient(["Hello from the fake."])
    with container.chat_client.override(fake):
        response = client.post("/chat", json={"message": "Hi", "system": "Be kind."})
    assert response.status_code == 200
    assert response.json["reply"] == "Hello from the fake."
    assert response.json["provider"] == "fake" and response.json["finish_reason"] == "stop"
    assert [(m.role, m.content) for m in fake.last_request.messages] == [
        ("system", "Be kind."),
        ("user", "Hi"),
    ]


def test_chat_with_the_plugin_fixture(client: FlaskClient, llm_fake) -> None:  # type: ignore[no-untyped-def]
    llm_fake.enqueue("Scripted by llm_fake.")
    assert client.post("/chat", json={"message": "Hi"}).json["reply"] == "Scripted by llm_fake."


def test_stream_sends_server_sent_events(client: FlaskClient) -> None:
    with container.chat_client.override(FakeChatClient(["one two three"])):
        response = client.post("/chat/stream", json={"message": "count"})
        body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    parsed = events(body)
    assert "".join(data["delta"] for name, data in parsed if name == "message") == "one two three"
    assert parsed[-1] == ("done", {"finish_reason": "stop", "usage": parsed[-1][1]["usage"]})


def test_stream_error_before_any_text_gets_a_status(client: FlaskClient) -> None:
    error = RateLimitError("slow down", provider="fake", retry_after=7)
    with container.chat_client.override(FakeChatClient([error])):
        response = client.post("/chat/stream", json={"message": "count"})
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json["error"] == "RateLimitError"


def test_graph_runs_the_persona_extraction(client: FlaskClient) -> None:
    nodes = {"nodes": [{"name": "Lisbon", "type": "State"}, {"name": "Climbing", "type": "Goal"}]}
    links = {"relationships": [{"source_id": "Node1", "relation": "ENABLES", "target_id": "Node2"}]}
    fake = FakeChatClient([nodes, links])
    with container.chat_client.override(fake):
        response = client.post("/graph", json={"text": "I moved to Lisbon to climb."})
    assert response.status_code == 200
    assert [n["name"] for n in response.json["nodes"]] == ["Lisbon", "Climbing"]
    relationship = response.json["relationships"][0]
    assert (relationship["source"], relationship["relation"]) == ("Lisbon", "ENABLES")
    assert fake.calls[0].request.json_mode  # the extraction asks for JSON


def test_bad_input_and_provider_errors_are_json(client: FlaskClient) -> None:
    with container.chat_client.override(FakeChatClient()):
        response = client.post("/chat", json={"text": "no message field"})
    assert response.status_code == 400 and "'message'" in response.json["message"]
    denied = AuthenticationError("invalid key", provider="openai", model="gpt-4o-mini")
    with container.chat_client.override(FakeChatClient([denied])):
        response = client.post("/chat", json={"message": "Hi"})
    assert (response.status_code, response.json["error"]) == (502, "AuthenticationError")


def test_chat_over_http_through_the_real_sdk(client: FlaskClient, llm_emulator) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/chat", json={"message": "Hi"})
    assert response.json == {
        "reply": "echo: Hi",
        "model": "gpt-4o-mini",
        "provider": "openai",
        "finish_reason": "stop",
        "usage": response.json["usage"],
    }
    assert llm_emulator.last_request("openai").json["messages"] == [
        {"role": "user", "content": "Hi"}
    ]
    llm_emulator.enqueue("openai", Fault(429, headers={"Retry-After": "3"}))
    assert client.post("/chat", json={"message": "Hi"}).status_code == 429


def test_an_unconfigured_provider_is_a_server_error(client: FlaskClient) -> None:
    response = client.post("/chat", json={"message": "Hi"})  # no OPENAI_API_KEY in tests
    assert (response.status_code, response.json["error"]) == (500, "ConfigurationError")
    assert "OPENAI_API_KEY is not set" in response.json["message"]


def test_an_app_with_its_own_container(llm_emulator) -> None:  # type: ignore[no-untyped-def]
    own = Container()
    app = create_app({"TESTING": True}, llm=own)
    try:
        with use_emulator(llm_emulator, container=own, llm_service="anthropic/claude-sonnet-4-6"):
            response = app.test_client().post("/chat", json={"message": "Hi"})
    finally:
        own.unwire()
    assert response.json["provider"] == "anthropic"
    assert llm_emulator.last_request().provider == "anthropic"


def test_the_documented_offline_command_answers_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    # The README's offline command, LLM_SERVICE=fake/echo flask --app persona_flask run: the
    # unscripted fake builds a small graph from the text (it once answered 502 here).
    monkeypatch.setenv("LLM_SERVICE", "fake/echo")
    own = Container()
    app = create_app({"TESTING": True}, llm=own)
    text = "I moved to Lisbon in March to climb. My sister Ana visits every summer."
    try:
        response = app.test_client().post("/graph", json={"text": text})
    finally:
        own.unwire()
    assert response.status_code == 200, response.json
    nodes = response.json["nodes"]
    assert 2 <= len(nodes) <= 3 and all(node["name"] and node["type"] for node in nodes)
    assert all(set(node["name"].lower().split()) <= set(text.lower().split()) for node in nodes)
    names = {node["name"] for node in nodes}
    relationships = response.json["relationships"]
    assert relationships
    assert all(r["source"] in names and r["target"] in names for r in relationships)


def test_the_production_entry_point_gives_web_requests_a_deadline() -> None:
    # gunicorn persona_flask.wsgi:app: LLM_DEADLINE defaults to 25 s, under gunicorn's 30 s.
    script = (
        "import persona_flask.wsgi\n"
        "from persona_llm import container\n"
        "print(container.settings().llm_deadline)"
    )
    here = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLM_")}
    env["LLM_SERVICE"] = "fake/echo"
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=here, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "25.0"
    env["LLM_DEADLINE"] = "8"
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=here, env=env, capture_output=True, text=True
    )
    assert run.stdout.strip() == "8.0"
