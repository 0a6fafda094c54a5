"""GET /healthz: are the database and the broker reachable, and how fresh is the log?

Load balancers and monitors read it; any dependency down answers 503 so traffic moves away.
Anyone may call it, so it says which dependency is down ("down") but never the error text,
which names hosts, users and versions; that goes to the log.
"""

import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ledger import selectors

BROKER_TIMEOUT_SECONDS = 2
DOWN = "down"
logger = logging.getLogger(__name__)


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        logger.warning("healthz: the database is down", exc_info=True)
        return DOWN
    return "ok"


def _broker_status() -> str:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        # The embedded default has no broker: tasks run in the web process.
        return "eager" if settings.CELERY_TASK_ALWAYS_EAGER else f"unchecked: {url.split(':')[0]}"
    try:
        client = redis.Redis.from_url(
            url,
            socket_timeout=BROKER_TIMEOUT_SECONDS,
            socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        )
        client.ping()
        client.close()
    except redis.RedisError:
        logger.warning("healthz: the broker is down", exc_info=True)
        return DOWN
    return "ok"


def _witness_status() -> list[dict[str, object]]:
    """Each witness's last cosigned size and how long ago, as the log last heard from it."""
    now = timezone.now()
    return [
        {
            "name": witness.name,
            "active": witness.active,
            "cosigned_size": witness.cosigned_size,
            "cosigned_age_seconds": (
                round((now - witness.cosigned_at).total_seconds(), 1)
                if witness.cosigned_at
                else None
            ),
            "failures": witness.failures,
        }
        for witness in selectors.witnesses()
    ]


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report: dict[str, object] = {"database": _database_status(), "broker": _broker_status()}
    report["log_size"] = None
    report["checkpoint_age_seconds"] = None
    report["witnesses"] = []
    if report["database"] == "ok":
        latest = selectors.latest_checkpoint()
        if latest is not None:
            report["log_size"] = latest.tree_size
            age = timezone.now() - latest.created_at
            report["checkpoint_age_seconds"] = round(age.total_seconds(), 1)
        report["witnesses"] = _witness_status()
    healthy = report["database"] == "ok" and report["broker"] in ("ok", "eager")
    return JsonResponse(report, status=200 if healthy else 503)
