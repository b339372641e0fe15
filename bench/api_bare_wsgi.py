"""WSGI entry of the bare app of bench/api_hot_path.py (bench.api_bare is its settings and urls)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.api_bare"
application = get_wsgi_application()
