"""The persona-llm command, driven in-process and as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from persona_llm.cli import main


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out=out, err=err, stdin=io.StringIO(stdin))
    return status, out.getvalue(), err.getvalue()


def test_chat_from_arguments_on_the_fake_provider() -> None:
    status, out, err = run("chat", "--service", "fake/echo", "hello", "world")
    assert (status, out, err) == (0, "hello world\n", "")


def test_chat_reads_stdin_and_honours_json_mode() -> None:
    status, out, _ = run("chat", "--service", "fake/echo", "--json-mode", stdin="from stdin\n")
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


# --- chat: --json output, modes ---------------------------------------------------------


def test_json_output_is_one_object_for_scripts() -> None:
    status, out, _ = run("chat", "--service", "fake/echo", "--json", "hello there")
    reply = json.loads(out)
    assert status == 0 and out.count("\n") == 1
    assert set(reply) == {"content", "model", "provider", "finish_reason", "usage"}
    assert (reply["content"], reply["model"], reply["provider"]) == ("hello there", "echo", "fake")
    assert reply["finish_reason"] == "stop"
    assert reply["usage"]["completion_tokens"] == 2


def test_json_stream_prints_one_json_line_per_chunk() -> None:
    status, out, _ = run("chat", "--service", "fake/echo", "--json", "--stream", "a b c")
    chunks = [json.loads(line) for line in out.splitlines()]
    assert status == 0
    assert "".join(chunk["delta"] for chunk in chunks) == "a b c"
    assert chunks[-1]["finish_reason"] == "stop" and chunks[-1]["usage"] is not None


def test_empty_piped_stdin_is_an_error_not_an_empty_message() -> None:
    status, out, err = run("chat", "--service", "fake/echo", stdin="  \n")
    assert (status, out) == (1, "") and "no message given" in err


# --- chat: the REPL ---------------------------------------------------------------------


def test_repl_keeps_history_and_the_system_prompt(llm_fake) -> None:  # type: ignore[no-untyped-def]
    script = "hello\n/system Be brief.\nsecond\n/exit\nnever sent\n"
    status, out, err = run("chat", "--repl", stdin=script)
    assert (status, out) == (0, "hello\nsecond\n")
    assert len(llm_fake.calls) == 2
    sent = [(m.role, m.content) for m in llm_fake.calls[1].request.messages]
    assert sent == [
        ("system", "Be brief."),
        ("user", "hello"),
        ("assistant", "hello"),
        ("user", "second"),
    ]
    assert "system prompt set" in err


def test_repl_ends_at_end_of_input() -> None:
    status, out, err = run("chat", "--service", "fake/echo", "--repl", stdin="one\ntwo")
    assert (status, out) == (0, "one\ntwo\n")
    assert "fake/echo" in err  # the banner names the model


def test_repl_model_switches_and_keeps_the_conversation() -> None:
    script = "first\n/model fake/other\nsecond\n/model\n"
    status, out, err = run("chat", "--service", "fake/echo", "--repl", "--json", stdin=script)
    replies = [json.loads(line) for line in out.splitlines()]
    assert status == 0
    assert [r["model"] for r in replies] == ["echo", "other"]
    assert replies[1]["usage"]["prompt_tokens"] == 3  # first + its answer + second
    assert "model: fake/other" in err


def test_repl_rejects_a_bad_model_and_keeps_the_old_one() -> None:
    script = "/model gpt-4o\n/model anthropic/claude-sonnet-4-6\nstill here\n"
    status, out, err = run("chat", "--service", "fake/echo", "--repl", "--json", stdin=script)
    assert status == 0
    assert "provider/model" in err and "ANTHROPIC_API_KEY is not set" in err
    assert json.loads(out)["model"] == "echo"


def test_repl_survives_a_failed_turn_and_does_not_keep_it(llm_fake) -> None:  # type: ignore[no-untyped-def]
    from persona_llm.errors import RateLimitError

    llm_fake.enqueue(RateLimitError("slow down", provider="fake"), "fine")
    status, out, err = run("chat", "--repl", stdin="first\nsecond\n")
    assert (status, out) == (0, "fine\n")
    assert "error: RateLimitError: [fake] slow down" in err
    assert [m.content for m in llm_fake.calls[1].request.messages] == ["second"]


def test_repl_reset_history_help_and_unknown_commands(llm_fake) -> None:  # type: ignore[no-untyped-def]
    script = "/history\nhi\n/history\n/reset\nagain\n/help\n/nope\n/quit\n"
    status, out, err = run("chat", "--repl", stdin=script)
    assert (status, out) == (0, "hi\nagain\n")
    assert "(no messages yet)" in err and "user: hi\nassistant: hi\n" in err
    assert "conversation forgotten" in err and "/system TEXT" in err
    assert "unknown command /nope" in err
    assert [m.content for m in llm_fake.calls[1].request.messages] == ["again"]


def test_repl_streams_when_asked() -> None:
    status, out, _ = run("chat", "--service", "fake/echo", "--repl", "--stream", stdin="a b\n")
    assert (status, out) == (0, "a b\n")


def test_repl_does_not_start_without_a_configured_provider() -> None:
    status, out, err = run("chat", "--service", "openai/gpt-4o-mini", "--repl", stdin="hi\n")
    assert (status, out) == (1, "") and "OPENAI_API_KEY is not set" in err


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["LLM_SERVICE"] = "fake/echo"
    return env


def test_repl_in_a_subprocess_driven_through_stdin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "persona_llm.cli", "chat", "--repl", "--system", "Be brief."],
        input="ping\n/system\npong\n/exit\n",
        capture_output=True,
        text=True,
        env=_cli_env(),
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "ping\npong\n")
    assert "system prompt removed" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_chat_without_a_message_on_a_terminal_starts_the_repl() -> None:
    import pty

    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "persona_llm.cli", "chat"],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_cli_env(),
            text=True,
        )
        os.close(follower)
        os.write(leader, b"over a terminal\n/exit\n")
        out, err = process.communicate(timeout=60)
    finally:
        os.close(leader)
    assert (process.returncode, out) == (0, "over a terminal\n")
    assert "you> " in err  # prompts go to stderr when stdout is not the terminal


# --- embed --file -------------------------------------------------------------------------


def test_embed_file_in_batches_with_progress_on_stderr(llm_fake, tmp_path) -> None:  # type: ignore[no-untyped-def]
    texts = tmp_path / "texts.txt"
    texts.write_text("alpha\n\nbeta\ngamma\n", encoding="utf-8")
    status, out, err = run("embed", "--file", str(texts), "--batch-size", "2", "--progress")
    lines = [json.loads(line) for line in out.splitlines()]
    assert status == 0 and [line["text"] for line in lines] == ["alpha", "beta", "gamma"]
    assert [call.texts for call in llm_fake.calls] == [("alpha", "beta"), ("gamma",)]
    assert "3/3" in err


def test_embed_file_shows_no_progress_when_stderr_is_not_a_terminal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    texts = tmp_path / "texts.txt"
    texts.write_text("alpha\n", encoding="utf-8")
    status, out, err = run("embed", "--service", "fake/x", "--file", str(texts))
    assert (status, err) == (0, "") and json.loads(out)["text"] == "alpha"


def test_embed_file_from_stdin_and_missing_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    status, out, _ = run("embed", "--service", "fake/x", "--file", "-", stdin="one\ntwo\n")
    assert status == 0 and len(out.splitlines()) == 2
    status, out, err = run("embed", "--service", "fake/x", "--file", str(tmp_path / "nope"))
    assert (status, out) == (1, "") and "cannot read --file" in err and err.count("\n") == 1


# --- providers and doctor -----------------------------------------------------------------


def test_providers_table_shows_sdk_versions() -> None:
    status, out, _ = run("providers")
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert status == 0
    assert rows["openai"][1].startswith("openai==") and rows["fake"][1] == "built-in"
    assert rows["gemini"][1].startswith("google-genai==")


def test_doctor_passes_on_the_fake_provider_without_sending_anything(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/echo"):
        status, out, _ = run("doctor")
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert status == 0 and "All checks passed" in out
    assert "fake/echo" in rows["LLM_SERVICE"] and "skip" in rows["online"]


def test_doctor_fails_on_a_missing_key_and_shows_no_secret(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="anthropic/", OPENAI_API_KEY="sk-test-secret-value-123"):
        status, out, _ = run("doctor")
    rows = {" ".join(line.split()[:2]): line.split() for line in out.splitlines() if line.strip()}
    assert status == 1 and "sk-test" not in out
    assert rows["provider anthropic"][2] == "FAIL"  # the chat provider
    assert rows["provider openai"][2] == "ok"  # embeddings fall back to OpenAI
    assert "fallback" in " ".join(rows["EMBEDDING_SERVICE ok"])


def test_doctor_reports_invalid_settings(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_TIMEOUT="soon"):
        status, out, _ = run("doctor")
    assert status == 1 and "LLM_TIMEOUT" in out and "FAIL" in out


def test_doctor_sends_nothing_unless_online(llm_emulator) -> None:  # type: ignore[no-untyped-def]
    status, _, _ = run("doctor")
    assert status == 0 and llm_emulator.request_count == 0


def test_doctor_online_checks_chat_and_embeddings(llm_emulator) -> None:  # type: ignore[no-untyped-def]
    from persona_llm.testing.emulator import Fault

    status, out, _ = run("doctor", "--online")
    rows = {" ".join(line.split()[:2]): line for line in out.splitlines() if line.strip()}
    assert status == 0, out
    assert "openai/gpt-4o-mini answered" in rows["online chat"]
    assert "dimensions" in rows["online embeddings"]
    assert [r.kind for r in llm_emulator.requests] == ["chat", "embeddings"]

    llm_emulator.enqueue("openai", Fault(401))
    status, out, _ = run("doctor", "--online")
    assert status == 1 and "AuthenticationError" in out


def test_main_undoes_only_its_own_overrides(llm_emulator) -> None:  # type: ignore[no-untyped-def]
    from persona_llm.containers import container

    before = len(container.settings.overridden)
    status, out, _ = run("chat", "--service", "fake/echo", "inside")
    assert (status, out) == (0, "inside\n")
    assert len(container.settings.overridden) == before
    assert run("chat", "via the emulator")[1] == "echo: via the emulator\n"
    assert llm_emulator.last_request("openai").json["messages"][-1]["content"] == "via the emulator"


def test_the_plain_progress_counter_used_without_tqdm() -> None:
    from persona_llm.cli._embed import _CounterProgress

    err = io.StringIO()
    progress = _CounterProgress(5, err)
    progress.update(2)
    progress.update(3)
    progress.close()
    assert err.getvalue() == ("\rembedded 0/5 texts\rembedded 2/5 texts\rembedded 5/5 texts\n")


def test_offline_demo_ignores_routes_to_unconfigured_providers(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_ROUTES="answer=anthropic/claude-sonnet-4-6", LLM_FALLBACKS="gemini/"):
        status, out, err = run("demo")
    assert (status, err) == (0, "")
    assert "Answered by fake/offline-demo." in out


def test_version_flag_and_python_dash_m() -> None:
    from persona_llm import __version__

    assert run("--version") == (0, f"persona-llm {__version__}\n", "")
    result = subprocess.run(
        [sys.executable, "-m", "persona_llm", "--version"],
        capture_output=True,
        text=True,
        env=_cli_env(),
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, f"persona-llm {__version__}\n")


def test_providers_embeddings_column_agrees_with_what_embeddings_accept() -> None:
    from persona_llm.settings import EMBEDDING_PROVIDERS, PROVIDERS

    _, out, _ = run("providers")
    header, *lines = out.splitlines()
    start = header.index("embeddings")
    rows = [line for line in lines if line.split()[:1] and line.split()[0] in PROVIDERS]
    cell = {line.split()[0]: line[start:].split()[0] for line in rows}
    for name in PROVIDERS:
        if cell[name] != "?":
            assert (cell[name] == "yes") == (name in EMBEDDING_PROVIDERS), name
    assert cell["groq"] == cell["openrouter"] == cell["deepseek"] == "no"


def test_repl_model_error_names_the_command_not_llm_service() -> None:
    _, _, err = run("chat", "--service", "fake/echo", "--repl", stdin="/model nope\n")
    assert "/model='nope'" in err and "LLM_SERVICE" not in err


def test_doctor_on_the_fake_says_offline_not_key_set(env) -> None:  # type: ignore[no-untyped-def]
    with env(LLM_SERVICE="fake/echo"):
        _, out, _ = run("doctor")
    fake = next(line for line in out.splitlines() if line.startswith("provider fake"))
    assert "key" not in fake and "offline" in fake


def test_doctor_lists_the_routes(env) -> None:  # type: ignore[no-untyped-def]
    routes = "extraction=fake/a,fake/b;answer=fake/c+fake/d?reasoning=low;embeddings=fake/e"
    with env(LLM_SERVICE="fake/echo", LLM_ROUTES=routes):
        status, out, _ = run("doctor")
    rows = {" ".join(line.split()[:2]): line for line in out.splitlines() if line.strip()}
    assert status == 0
    assert "fake/a -> fake/b" in rows["route extraction"]
    assert "fake/c + fake/d (reasoning=low)" in rows["route answer"]
    assert "fake/e" in rows["route embeddings"]
