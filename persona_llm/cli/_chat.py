"""``persona-llm chat``: one reply, or a REPL that keeps the conversation.

Which mode: a message on the command line gives one reply. Without one, a terminal on stdin
(or ``--repl``) starts the REPL, and anything else (a pipe, a file) is read whole as the
message, so ``echo hi | persona-llm chat`` keeps working in scripts.

In the REPL, stdout carries only the replies (one per turn, or one JSON line with ``--json``);
prompts, command feedback and errors go to stderr. A failed turn prints its error and leaves
the conversation as it was.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any, TextIO

from persona_llm.cli._common import chunk_json, response_json, use_service
from persona_llm.errors import ConfigurationError, LLMError
from persona_llm.types import ChatResponse

PROMPT = "you> "

REPL_HELP = """\
Commands:
  /system TEXT      set the system prompt (replaces the current one)
  /system           remove the system prompt
  /model P/M        switch to provider/model (the conversation is kept)
  /model            show the provider and model
  /history          show the conversation
  /reset            forget the conversation (the system prompt stays)
  /help             this list
  /exit, /quit      leave (so does end of input, Ctrl-D)
"""


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"temperature": args.temperature, "max_tokens": args.max_tokens}
    if args.json_mode:
        options["response_format"] = {"type": "json_object"}
    return options


def _reply(
    messages: list[dict[str, str]], args: argparse.Namespace, out: TextIO
) -> ChatResponse | None:
    """Send `messages` and print the reply as the flags ask; returns it (None: streamed)."""
    from persona_llm.facades import get_chat_client

    client = get_chat_client()
    if not args.stream:
        reply = client.chat(messages, **_options(args))
        out.write((response_json(reply) if args.json else reply.content) + "\n")
        return reply
    parts: list[str] = []
    for chunk in client.stream(messages, **_options(args)):
        parts.append(chunk.delta)
        out.write(chunk_json(chunk) + "\n" if args.json else chunk.delta)
        out.flush()
    if not args.json:
        out.write("\n")
    return ChatResponse(content="".join(parts), model=client.model, provider=client.provider)


def run_chat(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run ``chat``; returns the exit status."""
    use_service(chat=args.service)
    if not args.message and (args.repl or stdin.isatty()):
        return Repl(args, out, err, stdin).run()
    text = " ".join(args.message) if args.message else stdin.read().strip()
    if not text:
        raise ConfigurationError(
            "no message given: pass it as arguments or pipe it on stdin "
            "(or run `persona-llm chat` in a terminal for the REPL)"
        )
    messages = [{"role": "system", "content": args.system}] if args.system else []
    messages.append({"role": "user", "content": text})
    _reply(messages, args, out)
    return 0


class Repl:
    """The interactive chat loop over the default container's chat client."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO):
        self.args, self.out, self.err, self.stdin = args, out, err, stdin
        self.system: str | None = args.system
        self.history: list[dict[str, str]] = []
        self.interactive = stdin is sys.stdin and stdin.isatty()

    def run(self) -> int:
        """Read and answer lines until /exit or end of input; returns the exit status."""
        from persona_llm.facades import get_chat_client

        client = get_chat_client()  # a configuration error ends the REPL before it starts
        self.err.write(
            f"persona-llm chat with {client.provider}/{client.model}. "
            "/help lists the commands, /exit leaves.\n"
        )
        while (line := self._read_line()) is not None:
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not self._command(text):
                    break
                continue
            self._turn(text)
        return 0

    def _read_line(self) -> str | None:
        if self.interactive and self.out is sys.stdout and self.out.isatty():
            with contextlib.suppress(ImportError):  # line editing and history for input()
                import readline  # noqa: F401
            try:
                return input(PROMPT)
            except EOFError:
                self.err.write("\n")
                return None
        if self.stdin.isatty():  # a person types, but stdout goes elsewhere: prompt on stderr
            self.err.write(PROMPT)
            self.err.flush()
        line = self.stdin.readline()
        return line or None

    def _turn(self, text: str) -> None:
        user = {"role": "user", "content": text}
        system = [{"role": "system", "content": self.system}] if self.system else []
        try:
            reply = _reply([*system, *self.history, user], self.args, self.out)
        except LLMError as exc:
            self.err.write(f"error: {type(exc).__name__}: {exc}\n")
            return
        except KeyboardInterrupt:
            self.err.write("\n(reply interrupted; not kept)\n")
            return
        if reply is not None:
            self.history += [user, {"role": "assistant", "content": reply.content}]

    def _command(self, text: str) -> bool:
        """Run one slash command; False means leave the REPL."""
        name, _, argument = text.partition(" ")
        argument = argument.strip()
        if name in ("/exit", "/quit"):
            return False
        if name == "/system":
            self.system = argument or None
            self.err.write("system prompt set\n" if argument else "system prompt removed\n")
        elif name == "/model":
            self._model(argument)
        elif name == "/history":
            self._show_history()
        elif name == "/reset":
            self.history.clear()
            self.err.write("conversation forgotten\n")
        elif name == "/help":
            self.err.write(REPL_HELP)
        else:
            self.err.write(f"unknown command {name}; /help lists the commands\n")
        return True

    def _model(self, service: str) -> None:
        from persona_llm.facades import get_chat_client

        if service:
            try:
                use_service(chat=service, where="/model")
            except ConfigurationError as exc:
                self.err.write(f"error: {exc}\n")
                return
        client = get_chat_client()
        self.err.write(f"model: {client.provider}/{client.model}\n")

    def _show_history(self) -> None:
        system = [{"role": "system", "content": self.system}] if self.system else []
        conversation = [*system, *self.history]
        if not conversation:
            self.err.write("(no messages yet)\n")
        for message in conversation:
            self.err.write(f"{message['role']}: {message['content']}\n")
