"""What a source gets back for logging its records (the 激励机制): how often buyers saw them, how
often it was refused, and how disputes about it ended.

Buyers' reports are counted per source and month in the cache (Redis in production): one
counter per source, incremented when a report page shows at least one of its records. The VIN
is never part of the key or the value, so the counts cannot tell which cars were looked up.
Counters live as long as the cache keeps them (two months and a bit): a dashboard figure, not
an accounting record.
"""

import datetime
from collections.abc import Iterable

from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from carhistory.sources.models import Organisation, Submission, SubmissionStatus

COUNTER_SECONDS = 70 * 24 * 3600


def _counter_key(slug: str, month: datetime.date) -> str:
    return f"reports-shown:{month:%Y-%m}:{slug}"


def _this_month() -> datetime.date:
    return timezone.now().date().replace(day=1)


def note_report_shown(*, source_slugs: Iterable[str]) -> None:
    """Count one buyer report for each source whose records it showed."""
    month = _this_month()
    for slug in set(source_slugs):
        key = _counter_key(slug, month)
        cache.add(key, 0, COUNTER_SECONDS)
        cache.incr(key)


def reports_shown_this_month(*, organisation: Organisation) -> int:
    return cache.get(_counter_key(organisation.slug, _this_month()), 0)


def submission_figures(*, organisation: Organisation) -> dict[str, int | float | None]:
    """This month's submissions kept by the site: accepted, refused, and the refused share.
    (A single API event refused with a 400 stores nothing, so it is not counted; batch items,
    CSV rows and repair records refused one by one are.)"""
    counts = Submission.objects.filter(
        organisation=organisation, created_at__date__gte=_this_month()
    ).aggregate(
        accepted=Count("pk", filter=Q(status=SubmissionStatus.ACCEPTED)),
        refused=Count("pk", filter=Q(status=SubmissionStatus.REJECTED)),
    )
    total = counts["accepted"] + counts["refused"]
    counts["refused_rate"] = counts["refused"] / total if total else None
    return counts
