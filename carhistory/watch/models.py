"""Who watches which car, and what each has not yet been told.

A `Notice` is written the moment something happens and deleted never: it is marked sent once
the e-mail or webhook carrying it went out. So a failing SMTP server or a webhook that is down
delays notices but loses none, and at most one e-mail a day per watch is a question of when
unsent notices are gathered, not of which are dropped.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Watch(models.Model):
    """A buyer's e-mail subscription to one VIN: double opt-in, one-click unsubscribe."""

    vin = models.CharField(_("VIN"), max_length=17, db_index=True)
    email = models.EmailField(_("e-mail address"))
    # In the confirmation and unsubscribe links; knowing it is the only proof of the inbox.
    token = models.CharField(max_length=64, unique=True)
    language = models.CharField(max_length=16, default="en")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vin", "email"], name="one_watch_per_inbox")]

    def __str__(self) -> str:
        return f"{self.vin} → {self.email}"

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class Webhook(models.Model):
    """A dealer's or platform's HTTPS endpoint told of every change to one VIN, signed with
    HMAC-SHA256 under `secret`."""

    vin = models.CharField(_("VIN"), max_length=17, db_index=True)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.vin} → {self.url}"


class NoticeKind(models.TextChoices):
    RECORD = "record", _("New record")
    RECALL = "recall", _("Recall")
    DISPUTE = "dispute", _("Dispute")


class Notice(models.Model):
    watch = models.ForeignKey(Watch, null=True, blank=True, on_delete=models.CASCADE)
    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.CASCADE)
    kind = models.CharField(max_length=16, choices=NoticeKind.choices)
    entry_index = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(watch__isnull=True) ^ Q(webhook__isnull=True),
                name="notice_for_one_subscriber",
            ),
            models.UniqueConstraint(
                fields=["watch", "kind", "entry_index"], name="one_notice_per_watch"
            ),
            models.UniqueConstraint(
                fields=["webhook", "kind", "entry_index"], name="one_notice_per_webhook"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.entry_index}"


class Cursor(models.Model):
    """The first log index not yet looked at for watched VINs (one row)."""

    next_index = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.next_index)
