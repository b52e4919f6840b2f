"""Price table loading and cost arithmetic: known models priced exactly, unknown ones None."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from persona_llm.errors import ConfigurationError
from persona_llm.types import Usage
from persona_llm.usage.prices import PriceTable, cost_of, default_prices, load_prices, usage_cost

DEFAULTS = [
    ("openai", "gpt-4o-mini"),
    ("openai", "text-embedding-3-small"),
    ("anthropic", "claude-sonnet-4-6"),
    ("anthropic", "claude-haiku-4-5"),
    ("gemini", "gemini-3.8-flash"),
    ("gemini", "gemini-embedding-001"),
]
DEC_2026 = dt.date(2026, 12, 1)


class UsageWithCacheWrites(Usage):
    """The `Usage` shape proposed for Anthropic cache writes (a field `Usage` may gain)."""

    cache_write_tokens: int = 0


def test_packaged_table_is_dated_and_prices_every_default_model() -> None:
    table = default_prices()
    assert table.as_of is not None
    dt.date.fromisoformat(table.as_of)
    assert any("openai" in note for note in table.notes)
    for provider, model in DEFAULTS:
        assert table.lookup(provider, model, DEC_2026) is not None, (provider, model)


def test_openai_cost_counts_cached_tokens_at_the_cached_price() -> None:
    usage = Usage(prompt_tokens=1_000, completion_tokens=500, cached_tokens=400)
    expected = (600 * 0.15 + 400 * 0.075 + 500 * 0.60) / 1e6
    assert cost_of("openai", "gpt-4o-mini", usage) == pytest.approx(expected)


def test_reasoning_tokens_are_billed_as_output_unless_the_table_prices_them() -> None:
    usage = Usage(prompt_tokens=100, completion_tokens=1_000, reasoning_tokens=800)
    assert cost_of("openai", "gpt-5", usage) == pytest.approx((100 * 1.25 + 1_000 * 10) / 1e6)
    table = PriceTable.from_dict({"x": {"m": {"input": 1, "output": 2, "reasoning": 5}}})
    assert table.cost("x", ["m"], usage, None) == pytest.approx((100 + 200 * 2 + 800 * 5) / 1e6)


def test_anthropic_cache_reads_and_writes() -> None:
    # Anthropic's normalized prompt_tokens include cache reads (and writes).
    reads = Usage(prompt_tokens=10_000, completion_tokens=200, cached_tokens=8_000)
    expected = (2_000 * 3.0 + 8_000 * 0.30 + 200 * 15.0) / 1e6
    assert cost_of("anthropic", "claude-sonnet-4-6", reads) == pytest.approx(expected)
    writes = UsageWithCacheWrites(
        prompt_tokens=10_000, completion_tokens=200, cached_tokens=0, cache_write_tokens=9_000
    )
    expected = (1_000 * 1.0 + 9_000 * 1.25 + 200 * 5.0) / 1e6
    assert cost_of("anthropic", "claude-haiku-4-5", writes) == pytest.approx(expected)


def test_gemini_thinking_tokens_and_dated_introductory_price() -> None:
    usage = Usage(prompt_tokens=1_000, completion_tokens=3_000, reasoning_tokens=2_000)
    intro = cost_of("gemini", "gemini-3.8-flash", usage, on=dt.date(2026, 12, 31))
    later = cost_of("gemini", "gemini-3.8-flash", usage, on=dt.date(2027, 1, 1))
    assert intro == pytest.approx((1_000 * 0.75 + 3_000 * 3.75) / 1e6)
    assert later == pytest.approx((1_000 * 1.50 + 3_000 * 7.50) / 1e6)


def test_long_context_tier_prices_the_whole_request() -> None:
    short = Usage(prompt_tokens=200_000, completion_tokens=1_000)
    long = Usage(prompt_tokens=200_001, completion_tokens=1_000)
    assert cost_of("gemini", "gemini-2.5-pro", short) == pytest.approx(
        (200_000 * 1.25 + 1_000 * 10) / 1e6
    )
    assert cost_of("gemini", "gemini-2.5-pro", long) == pytest.approx(
        (200_001 * 2.50 + 1_000 * 15) / 1e6
    )


def test_embeddings_are_priced_by_input_tokens() -> None:
    usage = Usage(prompt_tokens=2_000_000)
    assert cost_of("openai", "text-embedding-3-small", usage) == pytest.approx(0.04)
    assert cost_of("gemini", "gemini-embedding-001", usage) == pytest.approx(0.30)


@pytest.mark.parametrize(
    ("provider", "model", "key"),
    [
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("anthropic", "claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("gemini", "models/gemini-2.5-flash", "gemini-2.5-flash"),
    ],
)
def test_snapshot_names_resolve_to_their_model(provider: str, model: str, key: str) -> None:
    table = default_prices()
    assert table.lookup(provider, model) == table.lookup(provider, key)
    assert table.lookup(provider, model) is not None


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-9-ultra"),
        ("azure", "my-gpt4o-deployment"),  # Azure prices depend on the deployment: not guessed
        ("azure", "gpt-4o-mini"),
        ("ollama", "llama3.2"),
        ("nobody", "x"),
        ("openai", ""),
    ],
)
def test_unknown_models_cost_none_never_a_guess(provider: str, model: str) -> None:
    assert cost_of(provider, model, Usage(prompt_tokens=10, completion_tokens=10)) is None


def test_no_usage_no_cost_and_zero_usage_zero_cost() -> None:
    assert cost_of("openai", "gpt-4o-mini", None) is None
    assert cost_of("openai", "gpt-4o-mini", Usage()) == 0.0


def test_a_token_category_without_a_price_makes_the_cost_unknown() -> None:
    table = PriceTable.from_dict(
        {"x": {"embed": {"input": 0.1}, "chat": {"input": 1, "output": 2}}}
    )
    assert table.cost("x", ["embed"], Usage(prompt_tokens=10, completion_tokens=1), None) is None
    assert table.cost("x", ["chat"], Usage(prompt_tokens=10, cached_tokens=5), None) is None
    assert usage_cost(table.lookup("x", "chat") or pytest.fail(), Usage(prompt_tokens=10)) == 1e-5


def test_the_fake_provider_costs_nothing() -> None:
    assert cost_of("fake", "echo", Usage(prompt_tokens=5, completion_tokens=5)) == 0.0


def test_a_snapshot_with_its_own_price_is_not_priced_as_its_model() -> None:
    million = Usage(prompt_tokens=1_000_000)
    assert cost_of("openai", "gpt-4o-2024-05-13", million) == 5.0
    assert cost_of("openai", "gpt-4o-2024-11-20", million) == 2.5


def test_first_priced_name_wins() -> None:
    table = default_prices()
    usage = Usage(prompt_tokens=1_000_000)
    assert table.cost("openai", ["gpt-4o-mini-2024-07-18", "alias"], usage, None) == 0.15
    assert table.cost("openai", ["unknown", "gpt-4o"], usage, None) == 2.50


def test_user_file_and_inline_overrides_are_laid_over_the_packaged_table(tmp_path: Path) -> None:
    file = tmp_path / "prices.json"
    file.write_text(
        json.dumps(
            {
                "as_of": "2026-11-01",
                "providers": {
                    "azure": {"gpt-4o-mini": {"input": 0.165, "output": 0.66}},
                    "openai": {"gpt-4o-mini": {"input": 0.2, "output": 0.8}},
                },
            }
        )
    )
    table = load_prices(file, '{"ollama": {"*": {"input": 0, "output": 0}}}')
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)
    assert table.cost("azure", ["gpt-4o-mini-2024-07-18"], usage, None) == pytest.approx(0.825)
    assert table.cost("openai", ["gpt-4o-mini"], usage, None) == pytest.approx(1.0)
    assert table.cost("openai", ["gpt-4.1"], usage, None) == pytest.approx(10.0)  # kept
    assert table.cost("ollama", ["llama3.2"], usage, None) == 0.0
    assert table.as_of == "2026-11-01"
    assert load_prices().cost("openai", ["gpt-4o-mini"], usage, None) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "LLM_PRICES_FILE"),
        ('{"openai": {"m": {"output": 1}}}', "'input'"),
        ('{"openai": {"m": {"input": -1}}}', "non-negative"),
        ('{"openai": {"m": {"input": "cheap"}}}', "non-negative"),
        ('{"openai": {"m": {"input": 1, "until": "soon"}}}', "ISO date"),
        ('{"openai": ["m"]}', "map model names"),
        ('{"openai": {"m": {"input": 1, "long_context": {"input": 2}}}}', "above_prompt_tokens"),
    ],
)
def test_a_bad_price_file_is_a_configuration_error(
    tmp_path: Path, content: str, message: str
) -> None:
    file = tmp_path / "prices.json"
    file.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        load_prices(file)


def test_missing_file_and_bad_inline_json_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LLM_PRICES_FILE"):
        load_prices(tmp_path / "missing.json")
    with pytest.raises(ConfigurationError, match="LLM_PRICES is not valid JSON"):
        load_prices(overrides="{")
