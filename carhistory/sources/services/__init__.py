"""Writes for sources, one module per concern: applications and decisions, API keys, signing
keys, submissions, erasure.

Every function takes keyword-only arguments and does one thing; the API, the portal, the CSV
importer and moderation call these and nothing below them. The names are offered here too, so
a caller writes `from carhistory.sources.services import submit_event` without knowing which
module holds it.
"""

from carhistory.sources.errors import SourceError
from carhistory.sources.services.api_keys import (
    API_KEY_PREFIX,
    API_KEY_SEPARATOR,
    authenticate_api_key,
    create_api_key,
    find_api_key,
    install_demo_api_key,
    revoke_api_key,
)
from carhistory.sources.services.applications import (
    STATUS_TRANSITIONS,
    apply_for_source,
    reject_application,
    set_source_status,
)
from carhistory.sources.services.erasure import erase_private_record
from carhistory.sources.services.signing_keys import register_signing_key, retire_signing_key
from carhistory.sources.services.submissions import (
    Outcome,
    SubmissionResult,
    submission_statement,
    submit_event,
    submit_events,
)

__all__ = [
    "API_KEY_PREFIX",
    "API_KEY_SEPARATOR",
    "STATUS_TRANSITIONS",
    "Outcome",
    "SourceError",
    "SubmissionResult",
    "apply_for_source",
    "authenticate_api_key",
    "create_api_key",
    "erase_private_record",
    "find_api_key",
    "install_demo_api_key",
    "register_signing_key",
    "reject_application",
    "retire_signing_key",
    "revoke_api_key",
    "set_source_status",
    "submission_statement",
    "submit_event",
    "submit_events",
]
