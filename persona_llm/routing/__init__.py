"""Task routing: `routes` parses ``LLM_ROUTES`` into a route table (values, no I/O) and names
the workflow tasks; `router` builds a chat client per route over the container's adapters.

The names of ``persona_llm.routing`` before the move are re-exported here.
"""

from __future__ import annotations

from persona_llm.routing.routes import *  # noqa: F403
from persona_llm.routing.routes import __all__ as __all__
