"""ASGI entry point (``uvicorn persona_site.asgi:application``): the async view runs on the loop."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_site.settings")
application = get_asgi_application()
