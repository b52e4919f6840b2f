"""The persona-llm command, driven in-process and as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

from persona_llm.cli import main


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err, stdin=io.StringIO(stdin))
    return status, out.getvalue(), err.getvalue()


def test_chat_from_arguments_on_the_fake_provider() -> None:
    status, out, err = run("chat", "--service", "fake/echo", "hello", "world")
    assert (status, out, err) == (0, "hello world\n", "")


def test_chat_reads_stdin_and_honours_json_mode() -> None:
    status, out, _ = run("chat", "--service", "fake/echo", "--json", stdin="from stdin\n")
    assert status == 0 and json.loads(out) == {"echo": "from stdin"}


def test_chat_stream_prints_the_whole_reply() -> None:
    status, out, _ = run("chat", "--service", "fake/echo", "--stream", "a b c")
    assert (status, out) == (0, "a b c\n")


def test_configuration_error_is_one_line_without_traceback() -> None:
    status, out, err = run("chat", "--service", "anthropic/claude-sonnet-4-5", "hi")
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and "ANTHROPIC_API_KEY is not set" in err
    assert "Traceback" not in err


def test_malformed_service_is_reported() -> None:
    status, _, err = run("chat", "--service", "gpt-4o", "hi")
    assert status == 1 and "provider/model" in err


def test_embed_prints_one_json_line_per_text() -> None:
    status, out, _ = run("embed", "--service", "fake/x", "alpha", "beta")
    lines = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [line["text"] for line in lines] == ["alpha", "beta"]
    assert all(line["dimensions"] == 8 for line in lines)


def test_providers_table_shows_keys_only_as_set_or_unset(env) -> None:  # type: ignore[no-untyped-def]
    with env(OPENAI_API_KEY="sk-test-secret-value-123"):
        status, out, _ = run("providers")
    assert status == 0
    assert "sk-test" not in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "yes" in rows["openai"].split()[2]
    assert rows["anthropic"].split()[2] == "no:"
    assert "fake" in rows


def test_console_script_runs_in_a_subprocess() -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["LLM_SERVICE"] = "fake/echo"
    result = subprocess.run(
        [sys.executable, "-m", "persona_llm.cli", "chat", "ping"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "ping\n")


def test_demo_runs_offline_and_says_so() -> None:
    status, out, _ = run("demo")
    assert status == 0
    assert "OPENAI_API_KEY is not set" in out and "offline on the fake provider" in out
    assert "Answered by fake/offline-demo." in out


def test_demo_on_a_configured_service_names_it() -> None:
    status, out, _ = run("demo", "--service", "fake/echo")
    assert status == 0 and "scripted replies" in out and "Answered by fake/echo." in out
    assert "Ana --VISITS--> Lives in Lisbon" in out
