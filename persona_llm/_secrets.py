"""Configured secrets: checked when settings load, and listed for redaction.

A key with a character that cannot travel in an HTTP header (inner whitespace, a control
character, anything non-ASCII) makes the HTTP client fail with an error that quotes the
header value, i.e. the key. So such a value is refused when the settings load, with a
`ConfigurationError` naming the variable and the position of the bad character, never the
value. Leading and trailing whitespace is allowed (it is stripped before use).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

__all__ = [
    "bad_secret_message",
    "first_bad_secret",
    "secret_values",
    "settings_problem",
    "url_password",
]

_NAMES = {" ": "a space", "\t": "a tab", "\n": "a line feed", "\r": "a carriage return"}


def url_password(url: str | None) -> str | None:
    """The password in a URL's ``user:password@`` part, if it has one."""
    if not url or "@" not in url:
        return None
    try:
        return urlsplit(url.strip()).password or None
    except ValueError:
        return None


def _describe(char: str) -> str:
    if char in _NAMES:
        return f"{_NAMES[char]} (U+{ord(char):04X})"
    if not char.isascii():
        return f"a non-ASCII character (U+{ord(char):04X} {unicodedata.name(char, '')})".replace(
            " )", ")"
        )
    if char.isspace():
        return f"whitespace (U+{ord(char):04X})"
    return f"a control character (U+{ord(char):04X})"


def bad_secret_message(variable: str, value: str, *, what: str = "key") -> str | None:
    """Why `value` cannot be used as a secret, or None when it can.

    The message names `variable`, the 1-based position of the first bad character and what
    kind of character it is; it never contains the value or a part of it.
    """
    stripped = value.strip()
    offset = len(value) - len(value.lstrip())
    for index, char in enumerate(stripped):
        if char.isascii() and char.isprintable() and not char.isspace():
            continue
        return (
            f"{variable} has {_describe(char)} at position {offset + index + 1} of "
            f"{len(value)}: a {what} cannot contain whitespace, control or non-ASCII "
            f"characters (they cannot be sent in an HTTP header); set it again, copied "
            f"without line breaks or spaces"
        )
    return None


def _is_url(field: str) -> bool:
    return field.endswith(("_url", "_api_base")) or field == "llm_state"


def _variable(field: str) -> str:
    """The environment variable of a settings field."""
    return "GEMINI_API_KEY (or GOOGLE_API_KEY)" if field == "gemini_api_key" else field.upper()


def first_bad_secret(fields: Mapping[str, Any]) -> str | None:
    """Why the first unusable secret among settings `fields` is unusable (None: all fine).

    Secrets are the `SecretStr` fields (keys, tokens) and passwords in ``*_URL`` fields.
    """
    for name, value in fields.items():
        if isinstance(value, SecretStr):
            problem = bad_secret_message(_variable(name), value.get_secret_value())
        elif isinstance(value, str) and _is_url(name) and (password := url_password(value)):
            variable = f"the password in {_variable(name)}"
            problem = bad_secret_message(variable, password, what="URL password")
        else:
            continue
        if problem:
            return problem
    return None


def secret_values(fields: Mapping[str, Any]) -> tuple[str, ...]:
    """Every secret among settings `fields` (keys, tokens, URL passwords), for redaction."""
    values: list[str | None] = []
    for name, value in fields.items():
        if isinstance(value, SecretStr):
            values.append(value.get_secret_value().strip())
        elif isinstance(value, str) and _is_url(name):
            values.append(url_password(value))
    return tuple(v for v in values if v)


def settings_problem(error: Any) -> str:
    """One pydantic validation error of the settings, as ``VARIABLE: message``."""
    message = str(error["msg"]).removeprefix("Value error, ")
    where = ".".join(str(p) for p in error["loc"]).upper()
    return f"{where}: {message}" if where else message
