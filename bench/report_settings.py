"""Settings for the site as bench/report.py serves it under gunicorn: the real settings, with
routes that add one trivial view (bench/report_urls.py) and one trusted proxy in front.
Production never loads this module.

BENCH_CACHE_BACKEND=reusing swaps in the Redis backend that keeps one client per pool
(carhistory/vehicles/redis_backend.py), to measure what it saves.
"""

import os

from carhistory.settings import *  # noqa: F403 - the real settings, unchanged but for these
from carhistory.settings import CACHES, REST_FRAMEWORK

ROOT_URLCONF = "report_urls"
# Served as behind one reverse proxy: the load generator sends each request from one of many
# client addresses in X-Forwarded-For, as real buyers would arrive. With one address for all,
# DRF's throttle would keep a history of every request in its window and measure that instead.
REST_FRAMEWORK = {**REST_FRAMEWORK, "NUM_PROXIES": 1}

if os.environ.get("BENCH_CACHE_BACKEND") == "reusing":
    CACHES["default"]["BACKEND"] = "carhistory.vehicles.redis_backend.RedisCache"
