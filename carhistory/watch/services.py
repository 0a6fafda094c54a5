"""Watching a car: subscribe, confirm, unsubscribe; notice what happens; tell the watchers.

Plain functions; the views, the API and the Celery tasks only call them.
"""

import datetime
import secrets
from email.utils import formataddr

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from carhistory.watch import webhooks
from carhistory.watch.models import Cursor, Notice, NoticeKind, Watch, Webhook
from ledger.selectors import entries_of_vins_in_range, tree_size

# At most one e-mail a day per watched car: a busy history is one digest, not a flood.
EMAIL_INTERVAL = datetime.timedelta(days=1)
TOKEN_BYTES = 32


def subscribe(*, vin: str, email: str, language: str) -> Watch:
    """Watch `vin` for `email`, unconfirmed until the link in the e-mail is opened. Asking
    again re-sends the confirmation; it never tells a stranger whether the inbox watches."""
    watch, _created = Watch.objects.get_or_create(
        vin=vin,
        email=email.strip().lower(),
        defaults={"token": secrets.token_urlsafe(TOKEN_BYTES), "language": language},
    )
    if not watch.is_active:
        from carhistory.watch.tasks import send_confirmation_task

        transaction.on_commit(lambda: send_confirmation_task.delay(watch.pk), robust=True)
    return watch


def confirm(*, token: str) -> Watch | None:
    watch = Watch.objects.filter(token=token).first()
    if watch is None:
        return None
    watch.confirmed_at = watch.confirmed_at or timezone.now()
    watch.unsubscribed_at = None
    watch.save(update_fields=["confirmed_at", "unsubscribed_at"])
    return watch


def unsubscribe(*, token: str) -> Watch | None:
    watch = Watch.objects.filter(token=token).first()
    if watch is not None and watch.unsubscribed_at is None:
        watch.unsubscribed_at = timezone.now()
        watch.save(update_fields=["unsubscribed_at"])
    return watch


def register_webhook(*, vin: str, url: str) -> Webhook:
    """A webhook for `vin`; raises `webhooks.WebhookRefused` for a URL it will not call."""
    webhooks.check_url(url)
    return Webhook.objects.create(vin=vin, url=url, secret=secrets.token_hex(TOKEN_BYTES))


# Coalesced lookups, as the ledger coalesces its sequencer runs: set from a batch's
# announcement until a lookup starts. A batch that finds it set queues none: the queued lookup
# starts after that batch committed, so it reads its entries. The expiry bounds what a lost
# task message holds back; the beat's sweep looks too.
LOOKUP_QUEUED_KEY = "watch:lookup-queued"
LOOKUP_QUEUED_SECONDS = 30
# How long after the first batch a queued lookup starts, gathering the batches meanwhile: a
# webhook hears of an entry up to a second later, e-mail digests go out at most daily.
LOOKUP_DELAY_SECONDS = 1.0


def claim_lookup() -> bool:
    """Mark that entries were integrated: True if the caller should queue a lookup, False if
    a queued one will start after this and read them anyway."""
    return cache.add(LOOKUP_QUEUED_KEY, 1, LOOKUP_QUEUED_SECONDS)


def notice_new_entries() -> int:
    """Write a notice for every watcher of every entry integrated since the last look; the
    number of notices written. Safe to run twice at once: the cursor row is locked."""
    # Before reading the tree size: a batch committed after this queues a lookup of its own.
    cache.delete(LOOKUP_QUEUED_KEY)
    with transaction.atomic():
        cursor, _created = Cursor.objects.select_for_update().get_or_create(pk=1)
        end = tree_size()
        vins = set(Watch.objects.values_list("vin", flat=True)) | set(
            Webhook.objects.values_list("vin", flat=True)
        )
        written = 0
        for entry in entries_of_vins_in_range(vins=vins, start=cursor.next_index, end=end):
            kind = NoticeKind.RECALL if entry.type == "recall" else NoticeKind.RECORD
            written += _notice(vin=entry.vin, kind=kind, entry_index=entry.index)
        cursor.next_index = max(cursor.next_index, end)
        cursor.save(update_fields=["next_index"])
    _schedule_deliveries()
    return written


def notice_dispute(*, vin: str, entry_index: int) -> int:
    written = _notice(vin=vin, kind=NoticeKind.DISPUTE, entry_index=entry_index)
    transaction.on_commit(_schedule_deliveries, robust=True)
    return written


def _notice(*, vin: str, kind: str, entry_index: int) -> int:
    notices = [
        Notice(watch=watch, kind=kind, entry_index=entry_index)
        for watch in Watch.objects.filter(vin=vin, unsubscribed_at__isnull=True)
    ] + [
        Notice(webhook=webhook, kind=kind, entry_index=entry_index)
        for webhook in Webhook.objects.filter(vin=vin)
    ]
    return len(Notice.objects.bulk_create(notices, ignore_conflicts=True))


def _schedule_deliveries() -> None:
    from carhistory.watch.tasks import deliver_webhook_task, send_digest_task

    for watch_id in due_watches(now=timezone.now()):
        send_digest_task.delay(watch_id)
    pending = Notice.objects.filter(webhook__isnull=False, sent_at__isnull=True)
    for notice_id in pending.values_list("pk", flat=True):
        deliver_webhook_task.delay(notice_id)


def due_watches(*, now: datetime.datetime) -> list[int]:
    """Confirmed watches with unsent notices whose last e-mail is a day old or more."""
    return list(
        Watch.objects.filter(
            confirmed_at__isnull=False,
            unsubscribed_at__isnull=True,
            notice__sent_at__isnull=True,
        )
        .exclude(last_sent_at__gt=now - EMAIL_INTERVAL)
        .distinct()
        .values_list("pk", flat=True)
    )


def send_confirmation(*, watch_id: int, site_url: str) -> None:
    watch = Watch.objects.get(pk=watch_id)
    with translation.override(watch.language):
        subject = _("Confirm that you want to watch %(vin)s") % {"vin": watch.vin}
        body = render_to_string(
            "watch/confirm_email.txt",
            {"watch": watch, "confirm_url": site_url + reverse("watch:confirm", args=[watch.token])}
            | _links(watch, site_url),
        )
    _message(watch, subject, body, site_url).send()


def send_digest(*, watch_id: int, site_url: str, now: datetime.datetime) -> bool:
    """Send one e-mail with everything `watch` has not been told, if a day has passed since
    the last; whether one was sent. An SMTP error propagates and nothing is marked sent."""
    with transaction.atomic():
        watch = Watch.objects.select_for_update().get(pk=watch_id)
        if not watch.is_active or (
            watch.last_sent_at and now - watch.last_sent_at < EMAIL_INTERVAL
        ):
            return False
        notices = list(watch.notice_set.filter(sent_at__isnull=True).order_by("entry_index"))
        if not notices:
            return False
        with translation.override(watch.language):
            subject = _("News about %(vin)s on carhistory") % {"vin": watch.vin}
            body = render_to_string(
                "watch/digest_email.txt",
                {"watch": watch, "notices": notices} | _links(watch, site_url),
            )
        _message(watch, subject, body, site_url).send()
        Notice.objects.filter(pk__in=[notice.pk for notice in notices]).update(sent_at=now)
        watch.last_sent_at = now
        watch.save(update_fields=["last_sent_at"])
    return True


def deliver_webhook(*, notice_id: int, site_url: str) -> None:
    """Post one notice to its webhook; raises when it could not, for the task to retry."""
    notice = Notice.objects.select_related("webhook").get(pk=notice_id)
    if notice.sent_at is not None:
        return
    Notice.objects.filter(pk=notice.pk).update(attempts=notice.attempts + 1)
    webhook = notice.webhook
    status = webhooks.post(
        url=webhook.url,
        secret=webhook.secret,
        payload={
            "vin": webhook.vin,
            "kind": notice.kind,
            "entry_index": notice.entry_index,
            "report": site_url + reverse("vehicles:report", kwargs={"vin": webhook.vin}),
        },
    )
    if not 200 <= status < 300:
        raise webhooks.WebhookRefused(f"HTTP {status}")
    Notice.objects.filter(pk=notice.pk).update(sent_at=timezone.now())


def _links(watch: Watch, site_url: str) -> dict:
    return {
        "report_url": site_url + reverse("vehicles:report", kwargs={"vin": watch.vin}),
        "unsubscribe_url": site_url + reverse("watch:unsubscribe", args=[watch.token]),
    }


def _message(watch: Watch, subject: str, body: str, site_url: str) -> EmailMessage:
    unsubscribe_url = _links(watch, site_url)["unsubscribe_url"]
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[formataddr(("", watch.email))],
        headers={
            # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that POSTs here.
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
