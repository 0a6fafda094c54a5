"""Sources (organisations that submit events), their people, keys and submissions.

The invariants live in the database: a closed set of kinds and statuses, one current signing
key per source, one accepted submission per (source, external_id), and a private record that
is either whole or erased, never half of each.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from carhistory.sources.schemas import EventType

# Platform entries carry `"source": "platform"` (SPEC §2); no organisation may take that name.
RESERVED_SLUGS = ("platform",)


class OrganisationKind(models.TextChoices):
    DEALER_4S = "dealer_4s", _("4S dealer")
    REPAIR_SHOP = "repair_shop", _("Repair shop")
    INSURER = "insurer", _("Insurer")
    REGISTRY = "registry", _("Vehicle registry")
    INSPECTION_STATION = "inspection_station", _("Inspection station")
    OEM = "oem", _("Manufacturer (OEM)")


class OrganisationStatus(models.TextChoices):
    APPLIED = "applied", _("Applied")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUSPENDED = "suspended", _("Suspended")
    REVOKED = "revoked", _("Revoked")


class Organisation(models.Model):
    slug = models.SlugField(_("public id"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    # What readers of Chinese pages read ("上海安亭大众4S店"), when the name above is not
    # Chinese already. Display only: the log knows a source by its slug.
    name_zh_hans = models.CharField(_("name in Chinese"), max_length=200, blank=True, db_default="")
    kind = models.CharField(_("kind"), max_length=32, choices=OrganisationKind.choices)
    licence_number = models.CharField(_("licence number"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    contact_name = models.CharField(_("contact name"), max_length=200, blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=50, blank=True)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=OrganisationStatus.choices,
        default=OrganisationStatus.APPLIED,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=OrganisationKind.values), name="organisation_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrganisationStatus.values), name="organisation_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(slug__in=RESERVED_SLUGS), name="organisation_slug_not_reserved"
            ),
            models.CheckConstraint(
                condition=Q(slug__regex=r"^[a-z0-9][a-z0-9-]*$"),
                name="organisation_slug_lowercase",
            ),
            # Any decision (approve, reject, suspend, revoke) is dated.
            models.CheckConstraint(
                condition=Q(status=OrganisationStatus.APPLIED) | Q(decided_at__isnull=False),
                name="organisation_decision_dated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def may_submit(self) -> bool:
        return self.status == OrganisationStatus.APPROVED

    def named_facts(self) -> dict[str, str]:
        """The name, Chinese name and kind, as every `source_status` entry about this source
        carries them: a buyer's browser checks a report's "Source: …" against the latest."""
        facts = {"name": self.name, "kind": self.kind}
        if self.name_zh_hans:
            facts["name_zh_hans"] = self.name_zh_hans
        return facts


class MembershipRole(models.TextChoices):
    STAFF = "staff", _("Staff")
    SOURCE_ADMIN = "source_admin", _("Source administrator")


class Membership(models.Model):
    """A person who acts for one organisation (a user belongs to at most one)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(
        _("role"), max_length=16, choices=MembershipRole.choices, default=MembershipRole.STAFF
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=MembershipRole.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation.slug} ({self.role})"

    @property
    def is_source_admin(self) -> bool:
        return self.role == MembershipRole.SOURCE_ADMIN


class ApiKey(models.Model):
    """A bearer key. Only the SHA-256 of its secret part is kept; the raw key is shown once."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="api_keys"
    )
    label = models.CharField(_("label"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=64, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    is_demo = models.BooleanField(_("demo key"), default=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        constraints = [
            models.CheckConstraint(
                condition=Q(secret_hash__regex=r"^[0-9a-f]{64}$"),  # noqa: S106 - a pattern, no secret
                name="api_key_hash_is_sha256",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.label})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SigningKey(models.Model):
    """A source's own Ed25519 verifier key, proven in the log by its `source_key` entry."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="signing_keys"
    )
    verifier_key = models.CharField(_("verifier key"), max_length=300, unique=True)
    key_id = models.CharField(_("key id"), max_length=8)
    # Its `source_key` entry, by pending id: registering only enqueues the entry, so the log
    # index is not known yet (`ledger.selectors.with_log_indexes` finds it once integrated).
    pending_id = models.BigIntegerField(_("pending id of its source_key entry"), unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")
        constraints = [
            # Rotation retires the old key in the same transaction that registers the new one.
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(retired_at__isnull=True),
                name="one_current_signing_key_per_organisation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation.slug}+{self.key_id}"


class SubmissionStatus(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")


class Channel(models.TextChoices):
    API = "api", _("API")
    FORM = "form", _("Web form")
    CSV = "csv", _("CSV upload")


class Submission(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Indexed by `submission_recent_by_source` below: each index costs every batch insert.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="submissions", db_index=False
    )
    external_id = models.CharField(_("external id"), max_length=200, blank=True, default="")
    # The ledger's PendingEntry id: how the submission learns its index once integrated.
    pending_id = models.BigIntegerField(null=True, blank=True, unique=True)
    status = models.CharField(_("status"), max_length=16, choices=SubmissionStatus.choices)
    errors = models.JSONField(_("errors"), default=dict, blank=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    # Copies for the source's own lists; the log entry is the record.
    event_type = models.CharField(_("type"), max_length=32, blank=True, choices=EventType.choices)
    vin = models.CharField(_("VIN"), max_length=17, blank=True)
    # SHA-256 of the accepted event's public fields: a repeated external_id with another body is
    # a conflict, not a retry (the private details are compared with their record instead).
    body_fingerprint = models.CharField(_("body fingerprint"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")
        indexes = [
            models.Index(
                fields=["organisation", "-created_at"], name="submission_recent_by_source"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SubmissionStatus.values), name="submission_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=Channel.values), name="submission_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(event_type="") | Q(event_type__in=EventType.values),
                name="submission_event_type_valid",
            ),
            # Accepted means in the log (or on its way), so it has a pending entry; rejected never.
            models.CheckConstraint(
                condition=(Q(status=SubmissionStatus.ACCEPTED) & Q(pending_id__isnull=False))
                | (Q(status=SubmissionStatus.REJECTED) & Q(pending_id__isnull=True)),
                name="submission_accepted_has_pending_entry",
            ),
            # Idempotency even under concurrent requests: a retried external_id collides here.
            models.UniqueConstraint(
                fields=["organisation", "external_id"],
                condition=Q(status=SubmissionStatus.ACCEPTED) & ~Q(external_id=""),
                name="one_accepted_submission_per_external_id",
            ),
        ]

    def __str__(self) -> str:
        return str(self.public_id)


class PrivateRecord(models.Model):
    """The private details behind an entry's `private_commitment` (SPEC §2).

    Erasure deletes the salt and the details; the commitment in the log stays, and without the
    salt it reveals nothing.
    """

    submission = models.OneToOneField(
        Submission, on_delete=models.PROTECT, related_name="private_record"
    )
    salt = models.BinaryField(null=True, blank=True)
    details = models.JSONField(null=True, blank=True)
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("private record")
        verbose_name_plural = _("private records")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(erased_at__isnull=True) & Q(salt__isnull=False) & Q(details__isnull=False)
                )
                | (Q(erased_at__isnull=False) & Q(salt__isnull=True) & Q(details__isnull=True)),
                name="private_record_whole_or_erased",
            ),
        ]

    def __str__(self) -> str:
        return f"private record of {self.submission_id}"

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None
