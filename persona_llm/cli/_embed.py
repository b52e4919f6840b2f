"""``persona-llm embed``: one JSON line per text, written batch by batch.

Texts come from the arguments, from ``--file`` (one per line, ``-`` for stdin) or from piped
stdin; blank lines are skipped. With ``--file``, a progress bar goes to stderr when stderr is
a terminal (``--progress`` / ``--no-progress`` force it): `tqdm`'s when it is installed, else
a one-line counter.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import Any, Protocol, TextIO

from persona_llm.cli._common import use_service
from persona_llm.errors import ConfigurationError


class Progress(Protocol):
    """What the embed loop needs from a progress display."""

    def update(self, n: int) -> Any:
        """Count `n` more texts as done."""

    def close(self) -> Any:
        """Finish the display."""


class _CounterProgress:
    """The display used without tqdm: ``embedded N/M texts`` rewritten in place."""

    def __init__(self, total: int, err: TextIO) -> None:
        self.total, self.done, self.err = total, 0, err
        self._show()

    def _show(self) -> None:
        self.err.write(f"\rembedded {self.done}/{self.total} texts")
        self.err.flush()

    def update(self, n: int) -> None:
        self.done += n
        self._show()

    def close(self) -> None:
        self.err.write("\n")


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, err: TextIO, enabled: bool) -> Progress:
    """A progress display for `total` texts on `err` (tqdm if installed)."""
    if not enabled:
        return _NoProgress()
    try:
        tqdm = importlib.import_module("tqdm").tqdm  # optional: pip install tqdm
    except ImportError:
        return _CounterProgress(total, err)
    bar: Progress = tqdm(total=total, file=err, unit="text", desc="embedding")
    return bar


def _read_texts(args: argparse.Namespace, stdin: TextIO) -> list[str]:
    if args.file == "-":
        lines = stdin.read().splitlines()
    elif args.file:
        try:
            lines = Path(args.file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigurationError(f"cannot read --file {args.file}: {exc.strerror}") from None
    elif args.texts:
        return list(args.texts)
    elif stdin.isatty():
        raise ConfigurationError(
            "no texts given: pass them as arguments, with --file, or pipe them on stdin"
        )
    else:
        lines = stdin.read().splitlines()
    return [line.strip() for line in lines if line.strip()]


def run_embed(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """Run ``embed``; returns the exit status."""
    from persona_llm.facades import get_embedding_client
    from persona_llm.workflows.embeddings import batched, check_vectors

    use_service(embedding=args.service)
    texts = _read_texts(args, stdin)
    batches = batched(texts, args.batch_size)
    if not batches:
        return 0
    client = get_embedding_client()
    wanted = args.progress if args.progress is not None else bool(args.file) and err.isatty()
    progress = progress_bar(len(texts), err, wanted)
    try:
        for batch in batches:
            vectors = check_vectors(batch, client.embeddings(batch))
            for text, vector in zip(batch, vectors, strict=True):
                record = {"text": text, "dimensions": len(vector), "vector": vector}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            progress.update(len(batch))
    finally:
        progress.close()
    return 0
