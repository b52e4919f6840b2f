"""A guard that stops a test process from reaching any host but this machine.

While a `NetworkGuard` is installed, every Python-level way of reaching a host is checked
*before* anything is sent: ``socket.socket.connect`` / ``connect_ex`` / ``sendto`` (which the
blocking and asyncio HTTP stacks of every provider SDK end up calling) and the name lookups
``socket.getaddrinfo`` / ``gethostbyname`` / ``gethostbyname_ex`` (a DNS query is a packet
too). Loopback addresses (``127.0.0.0/8``, ``::1``), ``localhost`` names, the unspecified
address and non-IP sockets (Unix sockets) pass; anything else raises `NetworkBlockedError`
without a packet leaving the machine.

`NetworkBlockedError` derives from `BaseException`, not `Exception`: SDKs wrap and retry any
`Exception` raised under them (a connection error would be retried with back-off and then
reported as a generic ``APIConnectionError``), so the guard's error must pass through them and
fail the test at once, with its own message. Every blocked attempt is also recorded in
`NetworkGuard.blocked`, so an attempt made on a background thread, or swallowed by a broad
``except BaseException``, can still fail the test (the pytest plugin does this).

A guard built with ``only=`` blocks just the hosts that function picks (and never loopback):
the pytest plugin's default guard blocks only LLM provider hosts this way
(`persona_llm.testing._llm_hosts`), so a project's other integration tests keep their network.

The pytest plugin installs one around every test; outside pytest::

    with NetworkGuard():
        run_my_checks()
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["NetworkBlockedError", "NetworkGuard", "is_local_address"]

_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_SOCKET_METHODS = ("connect", "connect_ex", "sendto")
_LOOKUPS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex")
_MISSING = object()


class NetworkBlockedError(BaseException):
    """A connection or lookup to a non-loopback host was attempted under the network guard.

    Deliberately not an `Exception` subclass, so that SDK retry loops and broad
    ``except Exception`` handlers cannot swallow it.
    """


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def is_local_address(host: object) -> bool:
    """Whether `host` (an IP literal or a name) is this machine without asking DNS.

    Loopback and unspecified IP addresses (IPv4-mapped ones too) and ``localhost`` names are
    local; any other name is not, because resolving it would already send a DNS query.
    """
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().strip("[]").rstrip(".").lower()
    if not name:
        return True
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _target(address: Any) -> tuple[str, Any] | None:
    """The host and port of a socket address, or None when it names no IP host (Unix)."""
    if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[0], str | bytes):
        host = address[0]
        return (host.decode("ascii", "replace") if isinstance(host, bytes) else host), address[1]
    return None


class NetworkGuard:
    """Blocks every non-loopback connection and name lookup of this process while installed.

    Re-entrant in the sense that guards nest: installing a second guard wraps the first, and
    each restores exactly what it replaced. Thread-safe: the check itself holds no lock, and
    `blocked` is appended under one.

    Args:
        hint: a sentence appended to every error message (how to opt out).
        only: block only the hosts (names or IP literals) for which this returns True;
            None blocks every non-loopback host.
        reason: what the error message says is allowed instead.
    """

    def __init__(
        self,
        hint: str = "",
        *,
        only: Callable[[str], bool] | None = None,
        reason: str = (
            "tests may only reach loopback addresses (127.0.0.1, ::1, localhost), "
            "e.g. the provider emulator."
        ),
    ) -> None:
        self.hint = hint
        self.only = only
        self.reason = reason
        self.blocked: list[str] = []
        self._saved: list[tuple[object, str, object]] = []
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """Whether this guard is installed right now."""
        return bool(self._saved)

    def install(self) -> NetworkGuard:
        """Replace the socket methods and name lookups with checked ones."""
        if self._saved:
            raise RuntimeError("this network guard is already installed")
        for name in _SOCKET_METHODS:
            self._replace(socket.socket, name, self._checked_method(getattr(socket.socket, name)))
        for name in _LOOKUPS:
            self._replace(socket, name, self._checked_lookup(getattr(socket, name)))
        return self

    def uninstall(self) -> None:
        """Put back exactly what `install` replaced (nothing when not installed)."""
        while self._saved:
            owner, name, previous = self._saved.pop()
            if previous is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, previous)

    def take_blocked(self) -> list[str]:
        """The attempts blocked since the last call, and forget them."""
        with self._lock:
            blocked, self.blocked = self.blocked, []
        return blocked

    def __enter__(self) -> NetworkGuard:
        """Install the guard."""
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Uninstall the guard."""
        self.uninstall()

    # -- internals ----------------------------------------------------------------------

    def _replace(self, owner: object, name: str, replacement: object) -> None:
        # On the socket class, restore "inherited" by deleting our attribute again.
        if isinstance(owner, type):
            previous = vars(owner).get(name, _MISSING)
        else:
            previous = getattr(owner, name)
        self._saved.append((owner, name, previous))
        setattr(owner, name, replacement)

    def _block(self, what: str) -> NetworkBlockedError:
        message = f"persona-llm network guard: blocked {what}; {self.reason}"
        with self._lock:
            self.blocked.append(what)
        return NetworkBlockedError(f"{message} {self.hint}".rstrip())

    def _blocks(self, host: object) -> bool:
        if is_local_address(host):
            return False
        return self.only is None or (isinstance(host, str) and self.only(host))

    def _check(self, address: Any, verb: str) -> None:
        target = _target(address)
        if target is not None and self._blocks(target[0]):
            raise self._block(f"{verb} {target[0]}:{target[1]}")

    def _checked_method(self, original: Callable[..., Any]) -> Callable[..., Any]:
        guard, is_sendto = self, original.__name__ == "sendto"

        def checked(sock: socket.socket, *args: Any) -> Any:
            # connect(address), connect_ex(address), sendto(data[, flags], address)
            if args and is_sendto:
                guard._check(args[-1], "a datagram to")
            elif args:
                guard._check(args[0], "a connection to")
            return original(sock, *args)

        checked.__name__ = checked.__qualname__ = original.__name__
        checked.__doc__ = original.__doc__
        return checked

    def _checked_lookup(self, original: Callable[..., Any]) -> Callable[..., Any]:
        guard = self

        def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
            text = host.decode("ascii", "replace") if isinstance(host, bytes) else host
            if not (isinstance(text, str) and _is_ip_literal(text)) and guard._blocks(text):
                raise guard._block(f"a DNS lookup of {text!r}")
            return original(host, *args, **kwargs)

        lookup.__name__ = lookup.__qualname__ = original.__name__
        lookup.__doc__ = original.__doc__
        return lookup
