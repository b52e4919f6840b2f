"""Deprecated import path, removed in 0.3.0: use `persona_llm.features.streaming`."""

from __future__ import annotations

import warnings

from persona_llm.features.streaming import *  # noqa: F403
from persona_llm.features.streaming import __all__ as __all__

warnings.warn(
    "persona_llm.streaming moved to persona_llm.features.streaming; import it from there "
    "(or from persona_llm). The old path is removed in 0.3.0.",
    DeprecationWarning,
    stacklevel=2,
)
