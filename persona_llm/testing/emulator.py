"""A real HTTP server on 127.0.0.1 that speaks the wire formats of four LLM providers.

Point the official SDKs at it and they run their whole stack (HTTP client,
retries, SSE parsing, response models) against scripted replies::

    with ProviderEmulator() as emu:
        emu.enqueue("openai", Reply(wire.openai_chat("Hi")), Fault(503))
        client = openai.OpenAI(base_url=emu.openai_base_url, api_key="sk-test")
        ...
        assert emu.last_request("openai").json["model"] == "gpt-4o-mini"

Routes (``POST`` only; anything else is a 404 naming the path):

* openai: ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/responses``
* azure: ``/openai/deployments/{deployment}/chat/completions`` and ``.../embeddings``,
  the v1 API's ``/openai/v1/chat/completions``, ``/openai/v1/embeddings`` and
  ``/openai/v1/responses`` (model in the body), and the dated ``/openai/responses``
* anthropic: ``/v1/messages``
* gemini: ``/v1beta/models/{model}:generateContent``, ``:streamGenerateContent``,
  ``:batchEmbedContents``, ``:embedContent`` (``/v1/`` and ``/v1alpha/`` too)
* gemini on Vertex AI (same wire format and queue as gemini; the path tells them apart):
  ``/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent``,
  ``:streamGenerateContent``, ``:batchEmbedContents``, ``:embedContent``, ``:predict``
  (``/v1beta1/`` too)

Each provider has a FIFO queue of replies (``Reply``, ``SSEReply``, ``Fault`` or a
callable computing one from the ``RecordedRequest``; a callable may return ``None``
for the default reply). An empty queue gives a realistic default reply that echoes
the last user message (see ``_emulator_defaults``). Every routed request is recorded
before it is answered, faults included; requests to unknown routes are not recorded.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from persona_llm.settings import ProviderConfig
from persona_llm.testing._emulator_defaults import Route, default_reply
from persona_llm.testing._emulator_server import EmulatorServer
from persona_llm.testing._emulator_types import (
    Fault,
    QueueEntry,
    RecordedRequest,
    Reply,
    ReplyLike,
    SSEReply,
)

__all__ = [
    "PROVIDERS",
    "Fault",
    "ProviderEmulator",
    "RecordedRequest",
    "Reply",
    "SSEReply",
    "test_key",
]

logger = logging.getLogger(__name__)

PROVIDERS = ("openai", "azure", "anthropic", "gemini")


def test_key(provider: str) -> str:
    """The key the emulator's settings use for `provider`: stable, and without the
    provider's name in it (any 6 characters of a key are redacted from messages, so a key
    spelling "openai" would redact the word from every error)."""
    return "test-key-" + hashlib.sha256(provider.encode()).hexdigest()[:20]


test_key.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


class ProviderEmulator:
    """The emulator: start it, queue replies, point SDK clients at it, inspect requests.

    Thread-safe: SDK clients may call it from many threads at once.
    """

    __test__ = False  # not a pytest test class despite living in a testing package

    def __init__(self) -> None:
        """Creates a stopped emulator; call ``start()`` or use it as a context manager."""
        self._lock = threading.Lock()
        self._queues: dict[str, deque[QueueEntry]] = {name: deque() for name in PROVIDERS}
        self._requests: list[RecordedRequest] = []
        self._count = 0
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ProviderEmulator:
        """Binds 127.0.0.1 on a free port and serves from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        server = EmulatorServer(self._answer)
        self._thread = threading.Thread(
            target=server.serve,
            name=f"provider-emulator:{server.port}",
            daemon=True,
        )
        self._server = server
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes every open connection, idle keep-alive ones included."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ProviderEmulator:
        """Starts the emulator unless it runs already."""
        return self if self._server is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stops the emulator."""
        self.stop()

    # --- addresses ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` without a trailing slash."""
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def openai_base_url(self) -> str:
        """The ``base_url`` for ``openai.OpenAI``."""
        return self.base_url + "/v1"

    @property
    def azure_endpoint(self) -> str:
        """The ``azure_endpoint`` for ``openai.AzureOpenAI``."""
        return self.base_url

    @property
    def anthropic_base_url(self) -> str:
        """The ``base_url`` for ``anthropic.Anthropic``."""
        return self.base_url

    @property
    def gemini_base_url(self) -> str:
        """The ``base_url`` for google-genai's ``HttpOptions``."""
        return self.base_url

    def config_for(self, provider: str, **overrides: Any) -> ProviderConfig:
        """A `ProviderConfig` pointing `provider`'s SDK here: a test key and short timeouts
        (the SDKs never retry: each attempt is one request at the server). Fields can be
        overridden.
        """
        base_urls = {
            "openai": self.openai_base_url,
            "azure": self.azure_endpoint,
            "anthropic": self.anthropic_base_url,
            "gemini": self.gemini_base_url,
            "vertex": self.gemini_base_url,
        }
        fields: dict[str, Any] = {
            "name": provider,
            "api_key": test_key(provider),
            "base_url": base_urls[provider],
            "api_version": "2024-10-21" if provider == "azure" else None,
            **_VERTEX_FIELDS.get(provider, {}),
            "timeout": 5.0,
            "connect_timeout": 2.0,
        }
        return ProviderConfig(**(fields | overrides))

    # --- scripting ---------------------------------------------------------------------------

    def enqueue(self, provider: str, *replies: QueueEntry) -> None:
        """Queues replies for ``provider``; each request takes the oldest one."""
        _check_provider(provider)
        for reply in replies:
            if not isinstance(reply, Reply | SSEReply | Fault) and not callable(reply):
                raise TypeError(
                    f"enqueue() takes Reply, SSEReply, Fault or a callable, got {reply!r}"
                )
        with self._lock:
            self._queues[provider].extend(replies)

    def pending(self, provider: str) -> int:
        """Returns how many queued replies ``provider`` has not used yet."""
        _check_provider(provider)
        with self._lock:
            return len(self._queues[provider])

    def reset(self) -> None:
        """Clears the queues, the recorded requests and the request counter."""
        with self._lock:
            for queue in self._queues.values():
                queue.clear()
            self._requests.clear()
            self._count = 0

    # --- inspection --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the recorded requests in arrival order."""
        with self._lock:
            return list(self._requests)

    def open_connections(self, settle: float = 2.0) -> int:
        """How many client connections are open, idle keep-alive ones included, after
        waiting up to `settle` seconds for closed ones to go (a test that the clients closed
        their connections expects 0)."""
        if self._server is None:
            return 0
        deadline = time.monotonic() + settle
        while self._server.open_connections and time.monotonic() < deadline:
            time.sleep(0.02)
        return self._server.open_connections

    @property
    def request_count(self) -> int:
        """How many routed requests arrived since start or the last ``reset()``."""
        with self._lock:
            return self._count

    def requests_for(self, provider: str) -> list[RecordedRequest]:
        """Returns the recorded requests of one provider, in arrival order."""
        _check_provider(provider)
        return [request for request in self.requests if request.provider == provider]

    def last_request(self, provider: str | None = None) -> RecordedRequest:
        """Returns the most recent request (of ``provider`` if given).

        Raises:
            AssertionError: when no such request was recorded.
        """
        found = self.requests if provider is None else self.requests_for(provider)
        if not found:
            where = "" if provider is None else f" for provider {provider!r}"
            raise AssertionError(f"the provider emulator recorded no request{where}")
        return found[-1]

    # --- serving (called from handler threads) -----------------------------------------------

    def _answer(self, request: RecordedRequest, route: Route) -> ReplyLike:
        """Records ``request`` and returns its reply: queued, computed or default."""
        with self._lock:
            self._requests.append(request)
            self._count += 1
            queue = self._queues[request.provider]
            entry: QueueEntry | None = queue.popleft() if queue else None
        reply = _call(entry, request) if callable(entry) else entry
        if reply is None:
            reply = default_reply(route, request.kind, request.json, request.model, request.query)
        return reply


def _call(
    function: Callable[[RecordedRequest], ReplyLike | None], request: RecordedRequest
) -> ReplyLike | None:
    """Runs a reply callable; its exception becomes a 500 that the test can see."""
    try:
        return function(request)
    except Exception:
        logger.exception("reply callable failed for %s %s", request.method, request.path)
        return Fault(500, "provider emulator: reply callable raised\n" + traceback.format_exc())


# Vertex AI takes a project and location instead of a key (the test credential is a fake).
_VERTEX_FIELDS: dict[str, dict[str, Any]] = {
    "vertex": {
        "api_key": None,
        "vertex": True,
        "project": "test-project",
        "location": "us-central1",
    }
}


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {PROVIDERS}")
