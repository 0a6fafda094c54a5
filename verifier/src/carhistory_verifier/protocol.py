"""The words of the carhistory protocol that every party must spell the same (SPEC §2, §5, §6).

The server, the offline verifier and the browser verifier read these from here (the browser
gets them from `GET /log/protocol.json`, rendered from this module), so a new platform-only
type or a new bundle format is one edit, not three.
"""

from __future__ import annotations

import enum

# SPEC §6: the evidence bundle's `format`.
BUNDLE_FORMAT = "carhistory-evidence/v1"

# SPEC §2: the `source` of entries the platform writes itself.
PLATFORM_SOURCE = "platform"

# SPEC §2: version of the entry object.
ENTRY_VERSION = 1

# SPEC §5: the event types a source may submit, in the order the SPEC lists them.
SOURCE_TYPES = (
    "odometer",
    "service",
    "repair",
    "accident",
    "insurance_claim",
    "registration",
    "title_brand",
    "inspection",
    "recall",
    "manufacture",
)

# SPEC §5: entry types only the platform writes, always signed by the log key.
SOURCE_KEY = "source_key"
SOURCE_STATUS = "source_status"
CORRECTION = "correction"
VIN_INDEX = "vin_index"
PLATFORM_TYPES = frozenset({SOURCE_KEY, SOURCE_STATUS, CORRECTION, VIN_INDEX})

# SPEC §5: platform entries that have no `vin`.
TYPES_WITHOUT_VIN = frozenset({SOURCE_KEY, SOURCE_STATUS, VIN_INDEX})

# SPEC §2: the fields a source cannot know or must not sign (its own signature, what the
# server fills in); the statement it signs is the entry without them.
STATEMENT_EXCLUDED_FIELDS = ("source_sig", "private_commitment", "submitted_at", "nonce")

ALL_TYPES = (*SOURCE_TYPES, SOURCE_KEY, SOURCE_STATUS, CORRECTION, VIN_INDEX)


# SPEC §5: the `status` of a `source_status` entry that ends a source's standing for good.
REVOKED = "revoked"


class Failure(enum.StrEnum):
    """Why a bundle, or one entry of it, does not verify: the names both verifiers give.

    The shared corpus (verifier/tests/corpus/) names each tampered bundle's failure with one
    of these, and the browser shows each one translated.
    """

    BUNDLE_MALFORMED = "bundle_malformed"
    WRONG_VEHICLE = "wrong_vehicle"
    LOG_KEY_MALFORMED = "log_key_malformed"
    LOG_KEY_NOT_PINNED = "log_key_not_pinned"
    CHECKPOINT_MALFORMED = "checkpoint_malformed"
    CHECKPOINT_UNSIGNED = "checkpoint_unsigned"
    CHECKPOINT_SIGNATURE = "checkpoint_signature"
    ENTRY_MALFORMED = "entry_malformed"
    ENTRY_VIN = "entry_vin"
    DUPLICATE_INDEX = "duplicate_index"
    BEYOND_CHECKPOINT = "beyond_checkpoint"
    INCLUSION_PROOF = "inclusion_proof"
    SOURCE_KEY_ENTRY = "source_key_entry"
    SOURCE_KEY_UNPROVEN = "source_key_unproven"
    KEY_NAME_MISMATCH = "key_name_mismatch"
    KEY_ROTATED_OUT = "key_rotated_out"
    SOURCE_REVOKED = "source_revoked"
    PLATFORM_ONLY_TYPE = "platform_only_type"
    SOURCE_SIGNATURE = "source_signature"
    DUPLICATE_STATEMENT = "duplicate_statement"
    # SPEC §7: the VIN index does not prove that these are all of the VIN's entries.
    VIN_INDEX = "vin_index"


def as_json() -> dict[str, object]:
    """The vocabulary as the browser verifier reads it (static/js/protocol.js must agree: a
    test compares the two)."""
    return {
        "bundle_format": BUNDLE_FORMAT,
        "platform_source": PLATFORM_SOURCE,
        "entry_version": ENTRY_VERSION,
        "source_types": list(SOURCE_TYPES),
        "platform_types": sorted(PLATFORM_TYPES),
        "types_without_vin": sorted(TYPES_WITHOUT_VIN),
        "source_key": SOURCE_KEY,
        "source_status": SOURCE_STATUS,
        "correction": CORRECTION,
        "vin_index": VIN_INDEX,
        "revoked": REVOKED,
        "statement_excluded_fields": list(STATEMENT_EXCLUDED_FIELDS),
        "failures": [failure.value for failure in Failure],
    }


# SPEC §5: the public facts of each type a source submits, and the JSON type each takes
# ("text", "list" of texts, "boolean", "integer"). The server's schemas add the rules (choices,
# dates, lengths) and a test keeps the two in step; a source's tools need only this much to
# read a CSV row into JSON without the server.
FACT_KINDS: dict[str, dict[str, str]] = {
    "odometer": {},
    "service": {"items": "list"},
    "repair": {"parts": "list", "area": "text"},
    "accident": {"severity": "text", "airbags_deployed": "boolean", "damage_areas": "list"},
    "insurance_claim": {"claim_kind": "text", "total_loss": "boolean"},
    "registration": {"event": "text", "region": "text", "use": "text"},
    "title_brand": {"brand": "text"},
    "inspection": {"result": "text"},
    "recall": {"campaign": "text", "status": "text", "component": "text"},
    "manufacture": {"plant": "text", "built_on": "text", "model": "text", "model_year": "integer"},
}
