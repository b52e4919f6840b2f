"""WSGI entry point (``gunicorn persona_site.wsgi``): the sync view runs on worker threads."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_site.settings")
application = get_wsgi_application()
