"""A Flask app using persona-llm: an app factory that wires the library's container.

Run it (from ``examples/flask_app``)::

    LLM_SERVICE=fake/echo flask --app persona_flask run

The library reads its configuration (``LLM_SERVICE``, the provider keys, ...) from the
environment, as in any other process; the app only wires the container into its views.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from persona_flask import views
from persona_llm import Container, container


def create_app(config: Mapping[str, Any] | None = None, *, llm: Container | None = None) -> Flask:
    """Build the app.

    Args:
        config: Flask configuration (``{"TESTING": True}`` in tests).
        llm: the container the views take their clients from; the library's default
            container (behind ``persona_llm.get_chat_client()``) when not given.
    """
    app = Flask(__name__)
    app.config.from_mapping(config or {})
    llm = llm if llm is not None else container
    llm.wire(modules=[views])
    app.extensions["persona_llm"] = llm
    app.register_blueprint(views.blueprint)
    return app
