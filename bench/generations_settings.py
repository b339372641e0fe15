"""Settings of bench/generations_http.py only: production-like, plus the bare raw-SQL views' urls.

Never used by the application: the bare views exist only under bench.generations_urls.
"""

from config.settings.base import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.generations_urls"
# Under load every request of both variants would cross the default 100 ms and be written to the debug
# log, measuring the logger instead of the endpoint; the threshold is raised for both alike.
SLOW_REQUEST_MS = 5_000
