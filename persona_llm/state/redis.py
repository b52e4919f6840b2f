"""`RedisStore`: the state store shared by every worker (``LLM_STATE=redis://host:6379/0``).

Built on the official client (``pip install "persona-llm[redis]"``), imported only when a
Redis store is configured. One connection pool per process for blocking calls and one per
event loop for asyncio calls; redis-py's pool notices a ``fork()`` (gunicorn ``--preload``)
and opens new connections in the child, so a pool is never shared across processes.

Every command has the short timeout ``LLM_STATE_TIMEOUT`` for connecting and answering, and
is tried once more only when a pooled connection turned out to be closed (Redis restarted);
every failure becomes a `StoreError` whose message shows the URL with its password
redacted. Atomic operations run as Lua scripts (`persona_llm.state._lua`) or ``MULTI``. The
two scripts of a limited call, reserve and settle, and a cache read go over connections of
their own (`persona_llm.state._wire`): one round trip for the reserve, a settle sent without
waiting, one round trip for the read.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from persona_llm.errors import ConfigurationError
from persona_llm.state import _lua
from persona_llm.state._packing import ScriptArgs
from persona_llm.state._wire import AsyncWire, Wire
from persona_llm.state.config import redact_url
from persona_llm.state.store import (
    ADMITTED,
    Admission,
    Correction,
    Hold,
    Rule,
    StateStore,
    StoreError,
    StoreInfo,
)

__all__ = ["RedisStore"]

T = TypeVar("T")
_TIMEOUT: Any = getattr(asyncio, "timeout", None)  # Python 3.11+
_SCRIPTS = {
    "acquire": _lua.ACQUIRE,
    "adjust": _lua.ADJUST,
    "hold": _lua.HOLD,
    "settle": _lua.SETTLE,
    "breaker_ready": _lua.BREAKER_READY,
    "breaker_report": _lua.BREAKER_REPORT,
}
_WIRED = {"acquire": _lua.ACQUIRE, "settle": _lua.SETTLE}  # a limited call's two scripts


def _import_redis() -> Any:
    try:
        import redis
    except ImportError:
        raise ConfigurationError(
            "LLM_STATE names a Redis server, but the redis package is not installed; "
            'pip install "persona-llm[redis]"'
        ) from None
    return redis


class RedisStore(StateStore):
    """The Redis-backed store.

    Args:
        url: ``redis://[:password@]host:port/db`` or ``rediss://...`` (TLS).
        prefix: put before every key, so several apps can share one Redis.
        timeout: seconds for connecting and for each command.
    """

    backend = "redis"

    def __init__(self, url: str, *, prefix: str = "persona-llm:", timeout: float = 0.2) -> None:
        self._redis = _import_redis()
        self._url = url
        self._prefix = prefix
        self._timeout = timeout
        self._lock = threading.Lock()
        self._client = self._redis.Redis.from_url(url, **self._options(self._redis))
        self._scripts = {name: self._client.register_script(s) for name, s in _SCRIPTS.items()}
        self._wire = Wire(self._client, _WIRED, self._redis.exceptions, self._late)
        self._args = ScriptArgs(prefix)
        self._async: weakref.WeakKeyDictionary[Any, tuple[Any, dict[str, Any], AsyncWire]] = (
            weakref.WeakKeyDictionary()
        )

    def _options(self, module: Any, *, asyncio: bool = False) -> dict[str, Any]:
        from redis.backoff import NoBackoff

        if asyncio:
            from redis.asyncio.retry import Retry
        else:
            from redis.retry import Retry  # type: ignore[assignment]

        retry = Retry(NoBackoff(), 1, supported_errors=(module.exceptions.ConnectionError,))
        return {
            "socket_timeout": self._timeout,
            "socket_connect_timeout": self._timeout,
            "retry": retry,
            "health_check_interval": 0,
        }

    @property
    def url(self) -> str:
        """The URL with its password redacted."""
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self._prefix!r})"

    # -- plumbing -----------------------------------------------------------------------

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except (self._redis.exceptions.RedisError, OSError) as exc:
            raise self._failure(what, exc) from None

    def _failure(self, what: str, exc: BaseException) -> StoreError:
        return StoreError(
            f"state store {self.url} failed on {what}: {type(exc).__name__}: {redact_url(str(exc))}"
        )

    def _late(self, error: BaseException) -> None:
        """A fired settle failed (seen when its reply was read): count and log it."""
        failure = StoreError(
            f"state store {self.url} failed on settle: {type(error).__name__}: "
            f"{redact_url(str(error))}"
        )
        if self.late_error is not None:
            self.late_error(failure, "settle a rate-limit reservation")

    def _aclient(self) -> tuple[Any, dict[str, Any], AsyncWire]:
        """The asyncio client of the running event loop, its scripts and its wire."""
        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._async.get(loop)
            if found is None:
                import redis.asyncio

                options = self._options(self._redis, asyncio=True)
                client = redis.asyncio.Redis.from_url(self._url, **options)
                scripts = {name: client.register_script(s) for name, s in _SCRIPTS.items()}
                wire = AsyncWire(client, _WIRED, self._redis.exceptions, self._late)
                found = self._async[loop] = (client, scripts, wire)
        return found

    async def _arun(self, what: str, call: Callable[[Any, dict[str, Any]], Awaitable[T]]) -> T:
        client, scripts, _ = self._aclient()
        bound = self._timeout * 2 + 0.05
        with self._errors(what):
            try:
                if _TIMEOUT is None:  # Python 3.10
                    return await asyncio.wait_for(call(client, scripts), bound)
                async with _TIMEOUT(bound):  # the same bound, without a task per call
                    return await call(client, scripts)
            except asyncio.TimeoutError:
                raise self._redis.exceptions.TimeoutError("no answer in time") from None

    def _k(self, key: str) -> str:
        return self._prefix + key

    # -- rate limits --------------------------------------------------------------------

    defers_corrections = True

    def acquire(
        self, rules: Sequence[Rule], token: str, corrections: Sequence[Correction] = ()
    ) -> Admission:
        """Take this call's share in every rule at once, or none of them (one round trip,
        `corrections` applied first)."""
        count, packed = self._args.acquire(rules, token, corrections)
        try:
            reply = self._wire.call_packed("acquire", count, packed)
        except (self._redis.exceptions.RedisError, OSError) as error:
            raise self._failure("acquire", error) from None
        return ADMITTED if reply == 1 else self._args.admission(reply)

    async def aacquire(
        self, rules: Sequence[Rule], token: str, corrections: Sequence[Correction] = ()
    ) -> Admission:
        """Asyncio twin of `acquire`."""
        count, packed = self._args.acquire(rules, token, corrections)
        wire = self._aclient()[2]
        reply = await self._arun("acquire", lambda c, s: wire.call_packed("acquire", count, packed))
        return self._args.admission(reply)

    def settle(
        self, corrections: Sequence[Correction], releases: Sequence[tuple[str, str]]
    ) -> None:
        """Apply corrections and end leases in one script, sent without waiting for its
        reply (see `persona_llm.state._wire`): the call pays a write, not a round trip."""
        keys, args = self._args.settle(corrections, releases)
        with self._errors("settle"):
            self._wire.fire("settle", keys, args)

    async def asettle(
        self, corrections: Sequence[Correction], releases: Sequence[tuple[str, str]]
    ) -> None:
        """Asyncio twin of `settle`."""
        keys, args = self._args.settle(corrections, releases)
        wire = self._aclient()[2]
        await self._arun("settle", lambda c, s: wire.fire("settle", keys, args))

    def hold(self, key: str, holds: Sequence[Hold]) -> None:
        """Hold calls of `key` by the provider's limits until their resets (one script)."""
        args = [value for hold in holds for value in hold]
        with self._errors("hold"):
            self._scripts["hold"](keys=[self._k(key)], args=args)

    async def ahold(self, key: str, holds: Sequence[Hold]) -> None:
        """Asyncio twin of `hold`."""
        args = [value for hold in holds for value in hold]
        await self._arun("hold", lambda c, s: s["hold"](keys=[self._k(key)], args=args))

    def adjust(self, key: str, token: str, amount: float) -> None:
        """Replace what the call `token` took in a window rule."""
        with self._errors("adjust"):
            self._scripts["adjust"](keys=[self._k(key), self._k(key) + ":a"], args=[token, amount])

    async def aadjust(self, key: str, token: str, amount: float) -> None:
        """Asyncio twin of `adjust`."""
        keys = [self._k(key), self._k(key) + ":a"]
        await self._arun("adjust", lambda c, s: s["adjust"](keys=keys, args=[token, amount]))

    def release(self, key: str, token: str) -> None:
        """End the call's lease."""
        with self._errors("release"):
            self._client.zrem(self._k(key), token)

    async def arelease(self, key: str, token: str) -> None:
        """Asyncio twin of `release`."""
        await self._arun("release", lambda c, s: c.zrem(self._k(key), token))

    # -- breaker ------------------------------------------------------------------------

    def breaker_ready(self, keys: Sequence[str], probe_ttl: float) -> list[float]:
        """-1 per breaker that lets a call through, else seconds until it may."""
        with self._errors("breaker"):
            reply = self._scripts["breaker_ready"](
                keys=[self._k(k) for k in keys], args=[probe_ttl]
            )
        return [float(x) for x in reply]

    async def abreaker_ready(self, keys: Sequence[str], probe_ttl: float) -> list[float]:
        """Asyncio twin of `breaker_ready`."""
        full = [self._k(k) for k in keys]
        reply = await self._arun(
            "breaker", lambda c, s: s["breaker_ready"](keys=full, args=[probe_ttl])
        )
        return [float(x) for x in reply]

    def breaker_report(self, key: str, ok: bool, threshold: int, cooldown: float) -> bool:
        """Count a success or failure; True when it closed or opened the breaker."""
        with self._errors("breaker"):
            reply = self._scripts["breaker_report"](
                keys=[self._k(key)], args=[int(ok), threshold, cooldown]
            )
        return int(reply) == 1

    async def abreaker_report(self, key: str, ok: bool, threshold: int, cooldown: float) -> bool:
        """Asyncio twin of `breaker_report`."""
        args = [int(ok), threshold, cooldown]
        reply = await self._arun(
            "breaker", lambda c, s: s["breaker_report"](keys=[self._k(key)], args=args)
        )
        return int(reply) == 1

    # -- keyed usage --------------------------------------------------------------------

    def _usage_pipeline(self, pipe: Any, key: str, amounts: Mapping[str, float], ttl: Any) -> Any:
        for name, amount in amounts.items():
            pipe.hincrbyfloat(self._k(key), name, amount)
        if ttl:
            pipe.expire(self._k(key), max(int(ttl), 1))
        return pipe

    def add_usage(self, key: str, amounts: Mapping[str, float], ttl: float | None) -> None:
        """Add `amounts` to the counters of `key`, in one ``MULTI`` transaction."""
        with self._errors("add_usage"):
            self._usage_pipeline(self._client.pipeline(), key, amounts, ttl).execute()

    async def aadd_usage(self, key: str, amounts: Mapping[str, float], ttl: float | None) -> None:
        """Asyncio twin of `add_usage`."""

        def run(client: Any, _: Any) -> Awaitable[Any]:
            return self._usage_pipeline(client.pipeline(), key, amounts, ttl).execute()  # type: ignore[no-any-return]

        await self._arun("add_usage", run)

    def read_usage(self, key: str) -> dict[str, float]:
        """The counters of `key`."""
        with self._errors("read_usage"):
            found = self._client.hgetall(self._k(key))
        return {k.decode(): float(v) for k, v in found.items()}

    async def aread_usage(self, key: str) -> dict[str, float]:
        """Asyncio twin of `read_usage`."""
        found = await self._arun("read_usage", lambda c, s: c.hgetall(self._k(key)))
        return {k.decode(): float(v) for k, v in found.items()}

    # -- values -------------------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The stored values (None where missing or expired)."""
        if not keys:
            return []
        # a cache hit's one round trip, on the wire's connections (no `_errors` block: a
        # context manager is four calls, and a hit counts each; one key packed here)
        try:
            if len(keys) == 1:
                key = (self._prefix + keys[0]).encode()
                command = b"*2\r\n$4\r\nMGET\r\n$%d\r\n%b\r\n" % (len(key), key)
                return list(self._wire.command_packed(command))
            return list(self._wire.command(b"MGET", *[self._prefix + k for k in keys]))
        except (self._redis.exceptions.RedisError, OSError) as exc:
            raise self._failure("get", exc) from None

    async def aget_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Asyncio twin of `get_many`."""
        if not keys:
            return []
        full = [self._k(k) for k in keys]
        wire = self._aclient()[2]
        return list(await self._arun("get", lambda c, s: wire.command(b"MGET", *full)))

    def _set_pipeline(self, pipe: Any, items: Mapping[str, bytes], ttl: float | None) -> Any:
        for key, value in items.items():
            pipe.set(self._k(key), value, px=int(ttl * 1000) if ttl else None)
        return pipe

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        """Store values for `ttl` seconds."""
        if items:
            with self._errors("set"):
                self._set_pipeline(self._client.pipeline(transaction=False), items, ttl).execute()

    async def aset_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        """Asyncio twin of `set_many`."""
        if items:

            def run(client: Any, _: Any) -> Awaitable[Any]:
                pipe = client.pipeline(transaction=False)
                return self._set_pipeline(pipe, items, ttl).execute()  # type: ignore[no-any-return]

            await self._arun("set", run)

    # -- lifecycle ----------------------------------------------------------------------

    def info(self) -> StoreInfo:
        """Round-trip latency and server version (raises `StoreError`)."""
        with self._errors("ping"):
            started = time.perf_counter()
            self._client.ping()
            latency = time.perf_counter() - started
            version = str(self._client.info("server").get("redis_version", "?"))
        return StoreInfo("redis", self.url, version, latency)

    def close(self) -> None:
        """Close the blocking pool (asyncio clients close with their event loop)."""
        self._wire.close()
        self._client.close()

    async def aclose(self) -> None:
        """Close the running loop's asyncio client."""
        with self._lock:
            found = self._async.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found[2].close()
            await found[0].aclose()
