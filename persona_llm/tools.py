"""Deprecated import path, removed in 0.3.0: use `persona_llm.features.tools`."""

from __future__ import annotations

import warnings

from persona_llm.features.tools import *  # noqa: F403
from persona_llm.features.tools import __all__ as __all__

warnings.warn(
    "persona_llm.tools moved to persona_llm.features.tools; import it from there "
    "(or from persona_llm). The old path is removed in 0.3.0.",
    DeprecationWarning,
    stacklevel=2,
)
