"""The ``persona-llm`` command: chat, embed, providers, demo.

Errors print one line on stderr (no traceback) and exit with status 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from persona_llm.errors import ConfigurationError, LLMError

__all__ = ["main"]

_SDKS = {"openai": "openai", "azure": "openai", "anthropic": "anthropic", "gemini": "google.genai"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persona-llm", description="One client for OpenAI, Azure, Anthropic and Gemini."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser("chat", help="send a message and print the reply")
    chat.add_argument("message", nargs="*", help="the message (read from stdin when absent)")
    chat.add_argument("--service", help="provider/model, overriding LLM_SERVICE")
    chat.add_argument("--system", help="a system prompt")
    chat.add_argument("--json", action="store_true", help="ask for a JSON reply (JSON mode)")
    chat.add_argument("--temperature", type=float)
    chat.add_argument("--max-tokens", type=int)
    chat.add_argument("--stream", action="store_true", help="print the reply as it arrives")

    embed = commands.add_parser("embed", help="print embedding vectors as JSON lines")
    embed.add_argument("texts", nargs="*", help="texts (one per line from stdin when absent)")
    embed.add_argument("--service", help="provider/model, overriding EMBEDDING_SERVICE")

    commands.add_parser("providers", help="show each provider: SDK installed, configured, features")

    demo = commands.add_parser("demo", help="run the end-to-end Persona example")
    demo.add_argument("--service", help="provider/model, overriding LLM_SERVICE")
    return parser


def _use_service(chat: str | None = None, embedding: str | None = None) -> None:
    """Point the default container at other services for this process."""
    from dependency_injector import providers as di

    from persona_llm.containers import container
    from persona_llm.settings import load_settings

    overrides = {k: v for k, v in (("llm_service", chat), ("embedding_service", embedding)) if v}
    if overrides:
        container.settings.override(di.Object(load_settings(**overrides)))


def _read_stdin(stdin: TextIO) -> str:
    if stdin.isatty():
        raise ConfigurationError("no message given: pass it as arguments or pipe it on stdin")
    return stdin.read().strip()


def _chat(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from persona_llm.facades import get_chat_client

    _use_service(chat=args.service)
    text = " ".join(args.message) if args.message else _read_stdin(stdin)
    messages = [{"role": "system", "content": args.system}] if args.system else []
    messages.append({"role": "user", "content": text})
    options: dict[str, Any] = {"temperature": args.temperature, "max_tokens": args.max_tokens}
    if args.json:
        options["response_format"] = {"type": "json_object"}
    client = get_chat_client()
    if args.stream:
        for chunk in client.stream(messages, **options):
            out.write(chunk.delta)
            out.flush()
        out.write("\n")
        return 0
    reply = client.chat(messages, **options)
    out.write(reply.content + "\n")
    return 0


def _embed(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    from persona_llm.facades import get_embedding_client

    _use_service(embedding=args.service)
    texts = list(args.texts) or [line for line in _read_stdin(stdin).splitlines() if line.strip()]
    vectors = get_embedding_client().embeddings(texts)
    for text, vector in zip(texts, vectors, strict=True):
        out.write(json.dumps({"text": text, "dimensions": len(vector), "vector": vector}) + "\n")
    return 0


def _providers(out: TextIO) -> int:
    from persona_llm.providers import adapter_class
    from persona_llm.settings import OPENAI_COMPATIBLE, PROVIDERS, load_settings

    settings = load_settings()
    rows: list[tuple[str, ...]] = [
        ("provider", "sdk", "configured", "chat", "embeddings", "json", "stream")
    ]
    for name in PROVIDERS:
        sdk = _SDKS.get("openai" if name in OPENAI_COMPATIBLE else name)
        installed = sdk is None or importlib.util.find_spec(sdk.split(".")[0]) is not None
        try:
            settings.provider_config(name)
            configured = "yes"
        except ConfigurationError as exc:
            configured = "no: " + exc.message.split(":")[0]
        if installed:
            caps = adapter_class(name).capabilities
            flags = [caps.chat, caps.embeddings, caps.json_mode, caps.streaming]
            features = ["yes" if flag else "no" for flag in flags]
        else:
            features = ["?"] * 4
        rows.append((name, "installed" if installed else "missing", configured, *features))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.write("  ".join(cells).rstrip() + "\n")
    out.write(f"\nLLM_SERVICE={settings.llm_service}  (keys are shown only as set/unset)\n")
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run the command line; returns the exit status."""
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    args = _parser().parse_args(argv)
    try:
        if args.command == "chat":
            return _chat(args, out, stdin)
        if args.command == "embed":
            return _embed(args, out, stdin)
        if args.command == "providers":
            return _providers(out)
        from persona_llm.demo import run_demo

        return run_demo(out, service=args.service)
    except LLMError as exc:
        err.write(f"persona-llm: error: {type(exc).__name__}: {exc}\n")
        return 1
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except KeyboardInterrupt:
        err.write("persona-llm: interrupted\n")
        return 130
    finally:
        _reset_overrides()


def _reset_overrides() -> None:
    if "persona_llm.containers" in sys.modules:
        from persona_llm.containers import container

        container.settings.reset_override()
        container.reset_singletons()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
