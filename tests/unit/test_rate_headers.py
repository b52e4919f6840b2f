"""Reading the providers' rate-limit headers: OpenAI durations, Anthropic RFC 3339 times,
and headers that do not parse (left out, logged at DEBUG, never raised)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import httpx2
import pytest

from persona_llm.providers._rate_limits import (
    ProviderLimit,
    parse_duration,
    parse_reset_time,
    provider_limits,
)
from persona_llm.providers._raw import collecting, note
from persona_llm.testing import wire

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("59.999s", 59.999),
        ("0s", 0.0),
        ("250us", 0.00025),
        (" 2s ", 2.0),
    ],
)
def test_openai_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "2", "soon", "2 s", "s", "1d", "-1s", "1s2"])
def test_what_is_not_a_duration_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_anthropic_reset_times() -> None:
    assert parse_reset_time("2026-03-01T12:00:02Z", NOW) == 2.0
    assert parse_reset_time("2026-03-01T12:00:02.5Z", NOW) == 2.5
    assert parse_reset_time("2026-03-01T13:00:02+01:00", NOW) == 2.0
    assert parse_reset_time("2026-03-01T11:59:00Z", NOW) == 0.0  # passed: no wait
    for bad in ("2026-03-01T12:00:02", "tomorrow", ""):  # no offset, not a time
        with pytest.raises(ValueError):
            parse_reset_time(bad, NOW)


def test_openai_headers_give_requests_and_tokens() -> None:
    headers = wire.openai_rate_headers(
        remaining_requests=0, reset_requests="2s", remaining_tokens=150, reset_tokens="6m0s"
    )
    requests, tokens = provider_limits([headers], now=NOW)
    assert requests == ProviderLimit("requests", 0.0, 2.0, "x-ratelimit-remaining-requests", 500)
    assert tokens == ProviderLimit("tokens", 150.0, 360.0, "x-ratelimit-remaining-tokens", 200_000)
    assert requests.refill_rate() == 250.0  # 500 requests back over the 2 s
    assert tokens.refill_rate() == pytest.approx((200_000 - 150) / 360)


def test_azure_headers_without_a_reset() -> None:
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "900"}
    limits = provider_limits([headers], now=NOW)
    assert [(lim.name, lim.remaining, lim.reset) for lim in limits] == [
        ("requests", 0.0, None),
        ("tokens", 900.0, None),
    ]
    assert [lim.refill_rate() for lim in limits] == [0.0, 0.0]  # no limit, no reset


def test_anthropic_headers_give_four_limits() -> None:
    stamp = "2026-03-01T12:00:03Z"
    headers: dict[str, str] = {}
    for name, left in (
        ("requests", "0"),
        ("tokens", "100"),
        ("input-tokens", "80"),
        ("output-tokens", "20"),
    ):
        headers[f"anthropic-ratelimit-{name}-remaining"] = left
        headers[f"anthropic-ratelimit-{name}-reset"] = stamp
        headers[f"anthropic-ratelimit-{name}-limit"] = "1000"
    limits = provider_limits([headers], now=NOW)
    assert [(lim.name, lim.remaining, lim.reset, lim.limit) for lim in limits] == [
        ("requests", 0.0, 3.0, 1000.0),
        ("tokens", 100.0, 3.0, 1000.0),
        ("input-tokens", 80.0, 3.0, 1000.0),
        ("output-tokens", 20.0, 3.0, 1000.0),
    ]
    assert limits[0].refill_rate() == pytest.approx(1000 / 3)


def test_a_limit_that_is_not_a_positive_number_is_unknown() -> None:
    for bad in ("lots", "0", "-5", "inf"):
        headers = {
            "x-ratelimit-limit-requests": bad,
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1s",
        }
        (limit,) = provider_limits([headers], now=NOW)
        assert limit.limit is None and limit.refill_rate() == 0.0


def test_names_are_read_whatever_their_case_and_from_httpx_headers() -> None:
    headers = httpx2.Headers(
        [("X-RateLimit-Remaining-Requests", "0"), ("X-RateLimit-Reset-Requests", "1s")]
    )
    assert provider_limits([headers], now=NOW) == [
        ProviderLimit("requests", 0.0, 1.0, "x-ratelimit-remaining-requests")
    ]


def test_the_last_reply_wins_per_limit() -> None:
    first = {"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "1s"}
    last = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "3s"}
    assert provider_limits([first, last], now=NOW)[0].reset == 3.0


def test_malformed_headers_are_left_out_and_logged_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = {
        "x-ratelimit-remaining-requests": "zero",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-remaining-tokens": "10",
        "x-ratelimit-reset-tokens": "whenever",
        "anthropic-ratelimit-requests-remaining": "-3",
        "anthropic-ratelimit-output-tokens-remaining": "5",
        "anthropic-ratelimit-output-tokens-reset": "not a time",
        "anthropic-ratelimit-input-tokens-remaining": "nan",
    }
    with caplog.at_level(logging.DEBUG, logger="persona_llm.providers._rate_limits"):
        assert provider_limits([headers], now=NOW) == []
    logged = [r for r in caplog.records if r.name == "persona_llm.providers._rate_limits"]
    assert len(logged) == 3 and all(r.levelno == logging.DEBUG for r in logged)
    assert "whenever" in logged[1].getMessage()


def test_other_headers_give_nothing() -> None:
    assert provider_limits([{"content-type": "application/json", "retry-after": "2"}]) == []
    assert provider_limits([]) == []


def test_note_keeps_headers_only_while_collecting() -> None:
    note({"x-ratelimit-remaining-requests": "0"})  # nobody collects: dropped
    with collecting() as replies:
        note({"a": "1"})
        with collecting() as inner:
            note({"b": "2"})
        note({"c": "3"})
    assert replies == [{"a": "1"}, {"c": "3"}] and inner == [{"b": "2"}]
    note({"d": "4"})
    assert len(replies) == 2


def test_only_wanted_limits_are_read_and_the_freshest_reply_decides() -> None:
    def short(name: str, remaining: float) -> bool:
        return remaining < 1

    first = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}
    last = {"x-ratelimit-remaining-requests": "9", "x-ratelimit-reset-requests": "never"}
    # The last reply says 9 are left: nothing is short, and its reset is not even read.
    assert provider_limits([first, last], wanted=short, now=NOW) == []
    (limit,) = provider_limits([last, first], wanted=short, now=NOW)
    assert (limit.remaining, limit.reset) == (0.0, 1.0)
