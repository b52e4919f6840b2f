"""Commands in the Redis protocol (RESP), packed in one pass, for `persona_llm.state._wire`
and the Redis store.

`bulk` / `pack` / `script_args` pack commands and a script's arguments; `Scripts` makes the
``EVALSHA`` / ``EVAL`` commands of the store's scripts; `ScriptArgs` packs the arguments of
a limited call's reserve and settle (`persona_llm.state._lua`), keeping the packed form of
what recurs (a rule's keys, kind, limit and window; small amounts) so that a reserve packs
only its token and amounts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from persona_llm.state.store import (
    ADMITTED,
    Admission,
    Correction,
    HoldRule,
    LeaseRule,
    Rule,
    WindowRule,
)

__all__ = ["ScriptArgs", "Scripts", "bulk", "pack", "pack_args", "script_args"]


def bulk(arg: Any) -> bytes:
    """One argument as a RESP bulk string: strings UTF-8, floats by ``repr`` (exact)."""
    kind = type(arg)
    if kind is str:
        value = arg.encode()
    elif kind is int:
        value = b"%d" % arg
    elif kind is bytes:
        value = arg
    else:
        value = (repr(arg) if kind is float else str(arg)).encode()
    return b"$%d\r\n%b\r\n" % (len(value), value)


def pack_args(*args: Any) -> bytes:
    """Arguments as the bulk strings of a command, without its array header."""
    return b"".join([bulk(arg) for arg in args])


def pack(*args: Any) -> bytes:
    """One command in the Redis protocol (RESP): an array of bulk strings."""
    return b"*%d\r\n%b" % (len(args), pack_args(*args))


def script_args(keys: Sequence[str], args: Sequence[Any]) -> tuple[int, bytes]:
    """A script's arguments after its name or hash (the number of keys, the keys, the
    arguments): how many, and packed."""
    return len(keys) + len(args) + 1, pack_args(len(keys), *keys, *args)


class Scripts:
    """The scripts' bodies and hashes, and the commands that run them."""

    def __init__(self, scripts: Mapping[str, str]) -> None:
        body = {name: text.encode() for name, text in scripts.items()}
        sha = {name: hashlib.sha1(text).hexdigest() for name, text in body.items()}
        # each command's first two bulk strings, packed once
        self.evalsha_heads = {name: bulk(b"EVALSHA") + bulk(sha[name]) for name in body}
        self._eval = {name: bulk(b"EVAL") + bulk(body[name]) for name in body}

    def evalsha(self, name: str, count: int, packed: bytes) -> bytes:
        """``EVALSHA`` of script `name` with `count` more arguments, `packed`
        (`script_args`)."""
        return b"*%d\r\n%b%b" % (count + 2, self.evalsha_heads[name], packed)

    def eval(self, name: str, count: int, packed: bytes) -> bytes:
        """``EVAL`` of script `name` (its text) with the same arguments."""
        return b"*%d\r\n%b%b" % (count + 2, self._eval[name], packed)


class ScriptArgs:
    """The reserve's and the settle's arguments, packed, for keys under `prefix`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._segments: dict[Any, tuple[bytes, bytes]] = {}  # `acquire`
        self._keys: dict[str, bytes] = {}
        self._numbers: dict[float, bytes] = {}

    def acquire(
        self, rules: Sequence[Rule], token: str, corrections: Sequence[Correction]
    ) -> tuple[int, bytes]:
        """The reserve's arguments (see `_lua.ACQUIRE`), packed: what never changes for a
        rule (its keys, kind, limit, window) is packed on its first call and kept."""
        keys: list[bytes] = []
        numbers = self._numbers  # amounts recur (estimates, usages): their bulk strings kept
        number = numbers.get
        encoded = token.encode()  # `bulk`, inline
        args = [
            b"$%d\r\n%b\r\n" % (len(encoded), encoded),
            number(len(rules)) or self._number(len(rules)),
        ]
        segments = self._segments
        each: Sequence[Any] = rules  # NamedTuples read by index: `kind` tells which
        for rule in each:
            kind = type(rule)
            index = rule[0] if kind is HoldRule else rule[:3]  # a hold's amounts vary
            found = segments.get(index)
            if found is None:
                found = segments[index] = self._segment(rule)
            keys.append(found[0])
            if kind is HoldRule:
                args += (
                    found[1],
                    number(rule[1]) or self._number(rule[1]),
                    number(rule[2]) or self._number(rule[2]),
                    number(rule[3]) or self._number(rule[3]),
                )
            elif kind is WindowRule:
                args += (found[1], number(rule[3]) or self._number(rule[3]))
            else:
                args.append(found[1])
        for key, done, amount in corrections:
            keys.append(self._keys.get(key) or self._window_keys(key))
            args += (bulk(done), number(amount) or self._number(amount))
        count = 2 * len(keys)
        return 1 + count + 2 + 4 * len(rules) + 2 * len(corrections), b"".join(
            [bulk(count), *keys, *args]
        )

    def _number(self, value: float) -> bytes:
        """`value` as a bulk string, kept for the next call (up to 4,096 of them)."""
        packed = bulk(value)
        if len(self._numbers) < 4096 and type(value) is int:
            self._numbers[value] = packed
        return packed

    def _window_keys(self, key: str) -> bytes:
        """A window's two keys (its sorted set and hash), packed (kept: a target's keys)."""
        found = self._keys.get(key)
        if found is None:
            full = self.prefix + key
            found = self._keys[key] = bulk(full) + bulk(full + ":a")
        return found

    def _segment(self, rule: Rule) -> tuple[bytes, bytes]:
        """A rule's keys and the arguments of it that never change, packed."""
        if isinstance(rule, HoldRule):
            return self._window_keys(rule.key), bulk("h")
        if isinstance(rule, LeaseRule):
            return self._window_keys(rule.key), b"".join(
                [bulk("l"), bulk(rule.limit), bulk(rule.ttl), bulk(1)]
            )
        return self._window_keys(rule.key), bulk("w") + bulk(rule.limit) + bulk(rule.window)

    @staticmethod
    def admission(reply: Any) -> Admission:
        """The reserve's answer (1: admitted, else why not)."""
        if reply == 1:
            return ADMITTED
        hold = reply[4] if len(reply) > 4 else b""
        hold = hold.decode() if isinstance(hold, bytes) else str(hold)
        return Admission(False, float(reply[1]), int(reply[2]), float(reply[3]), hold)

    def settle(
        self, corrections: Sequence[Correction], releases: Sequence[tuple[str, str]]
    ) -> tuple[list[str], list[Any]]:
        """The settle's keys and arguments (see `_lua.SETTLE`)."""
        keys: list[str] = []
        args: list[Any] = [len(corrections)]
        for key, token, amount in corrections:
            keys += [self.prefix + key, self.prefix + key + ":a"]
            args += [token, amount]
        for key, token in releases:
            keys.append(self.prefix + key)
            args.append(token)
        return keys, args
