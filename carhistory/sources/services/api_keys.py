"""API keys: created, installed for the demo, revoked, and checked on every API call without
leaking through timing which keys exist."""

import datetime
import functools
import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from carhistory.prepared_statements import prepared
from carhistory.sources.errors import SourceError
from carhistory.sources.models import (
    ApiKey,
    Organisation,
)

API_KEY_PREFIX = "ch-"
# The secret part of a raw key is everything after the first dot: `ch-1a2b3c4d5e6f.<secret>`.
API_KEY_SEPARATOR = "."
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)  # spare the database a write per request


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    *, organisation: Organisation, label: str, is_demo: bool = False
) -> tuple[ApiKey, str]:
    """A new API key; the raw key is returned here once and never stored."""
    prefix = API_KEY_PREFIX + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        organisation=organisation,
        label=label,
        prefix=prefix,
        secret_hash=_secret_hash(secret),
        is_demo=is_demo,
    )
    return api_key, f"{prefix}{API_KEY_SEPARATOR}{secret}"


def install_demo_api_key(*, organisation: Organisation, raw_key: str, label: str) -> ApiKey:
    """Store a fixed, published key for the demo; demo keys work only while DEBUG is on."""
    prefix, separator, secret = raw_key.partition(API_KEY_SEPARATOR)
    if not separator or not prefix or not secret:
        raise SourceError(_("A demo key has the form prefix.secret."))
    api_key, _created = ApiKey.objects.get_or_create(
        prefix=prefix,
        defaults={
            "organisation": organisation,
            "label": label,
            "secret_hash": _secret_hash(secret),
            "is_demo": True,
        },
    )
    return api_key


def revoke_api_key(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])


# Compared against when the prefix is unknown, so a miss costs what a hit costs.
_DECOY_HASH = _secret_hash("decoy")


def find_api_key(raw: str) -> ApiKey | None:
    """The live key `raw` names, whatever its organisation's status; None if wrong or revoked.

    Demo keys are published in the README, so they work only while DEBUG is on.
    """
    prefix, separator, secret = (raw or "").partition(API_KEY_SEPARATOR)
    api_key = None
    if separator and prefix and secret:
        api_key = _api_key_with_organisation(prefix)
    expected = api_key.secret_hash if api_key else _DECOY_HASH
    matches = hmac.compare_digest(_secret_hash(secret), expected)
    if api_key is None or not matches or api_key.revoked_at is not None:
        return None
    if api_key.is_demo and not settings.DEBUG:
        return None
    _note_use(api_key)
    return api_key


# The columns of both models, in `_api_key_statement`'s order.
_API_KEY_FIELDS = [field.attname for field in ApiKey._meta.concrete_fields]
_ORGANISATION_FIELDS = [field.attname for field in Organisation._meta.concrete_fields]


@functools.cache
def _api_key_statement() -> str:
    # Every column of both models, from their fields: a field added later is loaded too.
    def columns(model, alias):
        return [
            f"{alias}.{connection.ops.quote_name(field.column)}"
            for field in model._meta.concrete_fields
        ]

    selected = ", ".join(columns(ApiKey, "api_key") + columns(Organisation, "organisation"))
    return (
        f"SELECT {selected} FROM sources_apikey AS api_key "  # noqa: S608 - names from the models
        "JOIN sources_organisation AS organisation ON organisation.id = api_key.organisation_id "
        "WHERE api_key.prefix = $1"
    )


def _api_key_with_organisation(prefix: str) -> ApiKey | None:
    """The key with this prefix and its organisation, as `select_related` would load them.

    Every API request asks this; building the ORM's query for it cost the web process more
    than PostgreSQL spent answering, so the statement is written once per process.
    """
    if connection.vendor != "postgresql":
        # The embedded SQLite default: the ORM converts its text dates and integer booleans.
        return ApiKey.objects.select_related("organisation").filter(prefix=prefix).first()
    with connection.cursor() as cursor:
        # Prepared: PostgreSQL planned this join on every request, which cost it more than
        # running it.
        name = prepared(cursor, name="api_key_with_organisation", statement=_api_key_statement())
        cursor.execute(f"EXECUTE {name}(%s)", [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    key_columns = len(_API_KEY_FIELDS)
    api_key = ApiKey.from_db(connection.alias, _API_KEY_FIELDS, row[:key_columns])
    api_key.organisation = Organisation.from_db(
        connection.alias, _ORGANISATION_FIELDS, row[key_columns:]
    )
    return api_key


def authenticate_api_key(raw: str) -> ApiKey | None:
    """The key `raw` names if it may submit now: live, and its organisation approved."""
    api_key = find_api_key(raw)
    if api_key is None or not api_key.organisation.may_submit:
        return None
    return api_key


def _note_use(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
