"""`SqliteCache`: cache entries in one SQLite file (``LLM_CACHE=sqlite:///path.db``).

Shared by the threads and processes of one machine: each thread has its own connection,
the database runs in WAL mode, and writers wait up to five seconds for the lock.
Expired entries are skipped on read and deleted on write.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from persona_llm.state.store import StoreError

__all__ = ["SqliteCache"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value BLOB, expires REAL)"


class SqliteCache:
    """A key-value cache in a SQLite file.

    Args:
        path: the database file (its directory is created).
        clock: wall-clock seconds, for expiry (tests pass a fake clock).
    """

    def __init__(self, path: str, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._local = threading.local()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self._errors():
            self._connection().execute(_SCHEMA)

    def __repr__(self) -> str:
        return f"SqliteCache({self.path!r})"

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
        return connection

    def _errors(self) -> _Translate:
        return _Translate(self.path)

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The stored values (None where missing or expired)."""
        now = self._clock()
        found: dict[str, bytes] = {}
        with self._errors():
            connection = self._connection()
            for key in keys:
                row = connection.execute(
                    "SELECT value, expires FROM cache WHERE key = ?", (key,)
                ).fetchone()
                if row is not None and (row[1] is None or row[1] > now):
                    found[key] = bytes(row[0])
        return [found.get(key) for key in keys]

    def set_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        """Store values for `ttl` seconds, in one transaction."""
        now = self._clock()
        expires = now + ttl if ttl else None
        with self._errors():
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute("DELETE FROM cache WHERE expires <= ?", (now,))
                connection.executemany(
                    "INSERT OR REPLACE INTO cache (key, value, expires) VALUES (?, ?, ?)",
                    [(key, value, expires) for key, value in items.items()],
                )
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    async def aget_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Asyncio twin of `get_many` (in a worker thread)."""
        return await asyncio.to_thread(self.get_many, keys)

    async def aset_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        """Asyncio twin of `set_many` (in a worker thread)."""
        await asyncio.to_thread(self.set_many, items, ttl)

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


class _Translate:
    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if isinstance(error, sqlite3.Error):
            raise StoreError(f"cache file {self.path}: {error}") from None
