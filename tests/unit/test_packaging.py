"""Package metadata: an SPDX license with its file, and extras that install what the docs use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]


def pyproject() -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data


def test_the_license_is_an_spdx_expression_with_its_file() -> None:
    # A table (`{ text = "MIT" }`) makes setuptools >= 77 warn on every build.
    project = pyproject()["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    requires = pyproject()["build-system"]["requires"]
    assert "setuptools>=77" in requires  # the first setuptools that reads SPDX strings


def test_the_examples_extra_installs_what_the_examples_run_with() -> None:
    extra = " ".join(pyproject()["project"]["optional-dependencies"]["examples"])
    for package in ("flask", "django", "uvicorn"):
        assert package in extra
    assert "uvicorn" in (ROOT / "examples" / "django_app" / "README.md").read_text()
