"""Set up Django for the example's tests, whatever directory pytest is started from.

pytest-django finds Django configured (``DJANGO_SETTINGS_MODULE``) once this file is
imported, so its ``client``, ``async_client`` and ``settings`` fixtures work here; the rest
of a suite that collects this directory is not affected.
"""

import os
import sys
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_site.settings")
django.setup()
