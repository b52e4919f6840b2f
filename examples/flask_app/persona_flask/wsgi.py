"""The entry point for a production server: ``gunicorn persona_flask.wsgi:app``.

A web request has to end before the server gives up on it (gunicorn kills a worker after 30 s
by default), with an error page rather than a dropped connection. So the library's whole-call
deadline, ``LLM_DEADLINE`` (retries, waits for ``Retry-After`` and fallbacks included), is
25 s here unless the environment sets another.
"""

from __future__ import annotations

import os

os.environ.setdefault("LLM_DEADLINE", "25")

from persona_flask import create_app  # after the default is in place

app = create_app()
