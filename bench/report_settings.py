"""Settings for the site as bench/report.py serves it under gunicorn: the real settings, with
routes that add one trivial view (bench/report_urls.py) and one trusted proxy in front.
Production never loads this module.

BENCH_CACHE_BACKEND=django swaps in Django's stock Redis backend, which builds a client for
every call and runs no scripts: every report then goes through DRF, as before the short path
for cached reports (carhistory/vehicles/api.py), to measure what that path saves.
"""

import os

from carhistory.settings import *  # noqa: F403 - the real settings, unchanged but for these
from carhistory.settings import CACHES, REST_FRAMEWORK

ROOT_URLCONF = "report_urls"
# Served as behind one reverse proxy: the load generator sends each request from one of many
# client addresses in X-Forwarded-For, as real buyers would arrive. From one address, all but
# the first few lookups a minute would be refused, and the benchmark would measure 429s.
# The throttle reads the project's own NUM_PROXIES (carhistory/rate_limits.py), DRF its own.
NUM_PROXIES = 1
REST_FRAMEWORK = {**REST_FRAMEWORK, "NUM_PROXIES": NUM_PROXIES}

if os.environ.get("BENCH_CACHE_BACKEND") == "django":
    CACHES["default"]["BACKEND"] = "django.core.cache.backends.redis.RedisCache"
