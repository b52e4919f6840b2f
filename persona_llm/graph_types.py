"""Deprecated import path, removed in 0.3.0: use `persona_llm.workflows.types`."""

from __future__ import annotations

import warnings

from persona_llm.workflows.types import *  # noqa: F403
from persona_llm.workflows.types import __all__ as __all__

warnings.warn(
    "persona_llm.graph_types moved to persona_llm.workflows.types; import it from there "
    "(or from persona_llm). The old path is removed in 0.3.0.",
    DeprecationWarning,
    stacklevel=2,
)
