"""Modules that were split to stay readable stay under ~400 lines (STYLE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "persona_llm"


@pytest.mark.parametrize("module", ["features/structured.py", "features/strict_schema.py"])
def test_split_modules_stay_small(module: str) -> None:
    assert len((PACKAGE / module).read_text().splitlines()) <= 400


def test_structured_still_exports_the_schema_helpers() -> None:
    from persona_llm.features import strict_schema, structured

    assert structured.strict_schema is strict_schema.strict_schema
    assert structured.response_format_for is strict_schema.response_format_for
