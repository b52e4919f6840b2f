"""Settings of the example project: a minimal API site with one app, ``persona_chat``.

The library is configured here with ``PERSONA_LLM``: keyword arguments for
``persona_llm.settings.load_settings`` (the names of ``persona_llm.Settings``, e.g.
``llm_service``, ``llm_timeout``). What is not given here still comes from the environment,
which is where the provider keys belong (``OPENAI_API_KEY``, ...), never in this file.
"""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-key-for-the-example-only")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

INSTALLED_APPS = ["persona_chat"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "persona_site.urls"
WSGI_APPLICATION = "persona_site.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}  # the example stores nothing
USE_TZ = True

PERSONA_LLM = {
    "llm_service": os.environ.get("LLM_SERVICE", "openai/gpt-4o-mini"),
    "llm_timeout": 30,
    "llm_max_retries": 3,
    # A request must end before the server gives up on it (gunicorn: 30 s), with an error page
    # rather than a dropped connection: the whole call, retries and fallbacks included.
    "llm_deadline": float(os.environ.get("LLM_DEADLINE", "25")),
}
