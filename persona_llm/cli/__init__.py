"""The ``persona-llm`` command: chat (one-shot or REPL), embed, providers, doctor, demo.

Errors print one line on stderr (no traceback) and exit with status 1. Whatever a command
changes in the default container (``--service``, ``/model``) is undone when it returns, so
`main` can be called in-process (tests, notebooks) without leaking state.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from persona_llm.errors import LLMError

__all__ = ["main"]


def _chat_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    chat = commands.add_parser(
        "chat",
        help="send a message and print the reply; no message: a REPL (or piped stdin)",
        description=(
            "With a message: one reply. Without one: an interactive REPL when stdin is a "
            "terminal (or with --repl), else the piped stdin is the message."
        ),
    )
    chat.add_argument("message", nargs="*", help="the message")
    chat.add_argument("--service", help="provider/model, overriding LLM_SERVICE")
    chat.add_argument("--system", help="a system prompt")
    chat.add_argument(
        "--json",
        action="store_true",
        help="print a JSON object (content, model, provider, finish_reason, usage)",
    )
    chat.add_argument("--json-mode", action="store_true", help="ask the model for a JSON reply")
    chat.add_argument("--temperature", type=float)
    chat.add_argument("--max-tokens", type=int)
    chat.add_argument("--stream", action="store_true", help="print the reply as it arrives")
    chat.add_argument(
        "--repl", action="store_true", help="start the REPL even when stdin is not a terminal"
    )


def _embed_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    embed = commands.add_parser("embed", help="print embedding vectors as JSON lines")
    embed.add_argument("texts", nargs="*", help="texts (one per line from stdin when absent)")
    embed.add_argument("--service", help="provider/model, overriding EMBEDDING_SERVICE")
    embed.add_argument("--file", help="read texts from this file, one per line ('-': stdin)")
    embed.add_argument("--batch-size", type=int, default=100, help="texts per request")
    embed.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: with --file when stderr is a terminal)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persona-llm", description="One client for OpenAI, Azure, Anthropic and Gemini."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command")
    _chat_parser(commands)
    _embed_parser(commands)
    commands.add_parser("providers", help="show each provider: SDK, configured, features")
    doctor = commands.add_parser(
        "doctor", help="check settings, SDKs and (with --online) that the services answer"
    )
    doctor.add_argument(
        "--online",
        action="store_true",
        help="also send one tiny chat and one embedding request to the configured services",
    )
    demo = commands.add_parser("demo", help="run the end-to-end Persona example")
    demo.add_argument("--service", help="provider/model, overriding LLM_SERVICE")
    return parser


def _run(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    if args.command == "chat":
        from persona_llm.cli._chat import run_chat

        return run_chat(args, out, err, stdin)
    if args.command == "embed":
        from persona_llm.cli._embed import run_embed

        return run_embed(args, out, err, stdin)
    if args.command == "providers":
        from persona_llm.cli._doctor import run_providers

        return run_providers(out)
    if args.command == "doctor":
        from persona_llm.cli._doctor import run_doctor

        return run_doctor(out, online=args.online)
    from persona_llm.cli._demo import run_demo

    return run_demo(out, service=args.service)


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).
        out, err, stdin: the streams to use instead of the process's own.
    """
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from persona_llm import __version__

        out.write(f"persona-llm {__version__}\n")
        return 0
    if args.command is None:
        parser.error("a command is required (chat, embed, providers, doctor, demo)")
    from persona_llm.containers import container

    overrides_before = len(container.settings.overridden)
    try:
        return _run(args, out, err, stdin)
    except LLMError as exc:
        err.write(f"persona-llm: error: {type(exc).__name__}: {exc}\n")
        return 1
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except KeyboardInterrupt:
        err.write("persona-llm: interrupted\n")
        return 130
    finally:
        # Undo exactly the settings overrides this command added (an enclosing test
        # fixture's stay), and drop the clients built for it.
        while len(container.settings.overridden) > overrides_before:
            container.settings.reset_last_overriding()
        container.reset_singletons()
