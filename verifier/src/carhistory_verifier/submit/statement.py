"""What a source signs (SPEC §2) for one submission body, and the id that makes a resend safe.

The server checks the signature over the statement it builds from the *cleaned* submission
(the VIN trimmed and upper-cased, texts trimmed, `facts` as `{}` when none were sent, no
`odometer_km` when absent). `clean_payload` applies the same cleaning here and the cleaned body
is what gets sent, so the bytes signed here are the bytes checked there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from carhistory_verifier import entry as entry_format
from carhistory_verifier import note, protocol

# Not part of what the shop states about the car, so not part of a record's identity either.
IDENTITY_EXCLUDED_FIELDS = ("external_id", "source_sig")


class RecordError(ValueError):
    """A record that cannot be signed as it stands; the message says which field and why."""


def normalise_vin(raw: object) -> object:
    """Trimmed, upper-cased, spaces and dashes inside removed (`lsvau 2180-n2183294` as
    copied from a paper form); anything but text is left for the server to refuse."""
    if not isinstance(raw, str):
        return raw
    return "".join(raw.split()).replace("-", "").upper()


def _trimmed(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_trimmed(item) for item in value]
    return value


def clean_payload(record: Mapping[str, Any]) -> dict[str, Any]:
    """The submission body to send for `record`: the VIN and texts in the form the server
    keeps, so that the statement signed here matches the one it checks."""
    payload = dict(record)
    if "vin" in payload:
        payload["vin"] = normalise_vin(payload["vin"])
    facts = payload.get("facts")
    if isinstance(facts, Mapping):
        payload["facts"] = {name: _trimmed(value) for name, value in facts.items()}
    return payload


def statement(payload: Mapping[str, Any], *, source: str, source_key: str) -> bytes:
    """The RFC 8785 bytes of the statement (SPEC §2) for a cleaned submission body."""
    entry: dict[str, Any] = {
        "v": protocol.ENTRY_VERSION,
        "type": payload.get("type"),
        "vin": payload.get("vin"),
        "occurred_at": payload.get("occurred_at"),
        "facts": payload.get("facts") or {},
        "source": source,
        "source_key": source_key,
    }
    if payload.get("odometer_km") is not None:
        entry["odometer_km"] = payload["odometer_km"]
    try:
        return entry_format.statement_bytes(entry)
    except (TypeError, ValueError) as error:
        raise RecordError(f"the record cannot be written as canonical JSON: {error}") from None


def derived_external_id(payload: Mapping[str, Any], *, source: str) -> str:
    """A stable `external_id` for a record that has none: the same record sent again by the
    same source gets the same id, so the server's idempotency appends nothing twice."""
    identity = {
        name: value for name, value in payload.items() if name not in IDENTITY_EXCLUDED_FIELDS
    }
    try:
        content = entry_format.canonical_json(identity)
    except (TypeError, ValueError) as error:
        raise RecordError(f"the record cannot be written as canonical JSON: {error}") from None
    digest = hashlib.sha256(source.encode() + b"\n" + content).hexdigest()
    return f"rec-{digest}"


class RecordSigner:
    """Signs records as one source: the key's name, which the server insists is the source's
    slug, is the `source` of every statement."""

    def __init__(self, signer: note.Signer) -> None:
        self.signer = signer
        self.source = signer.name
        self.source_key = signer.verifier().key_string()

    def prepared_payload(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The body to send for one record, cleaned and with an `external_id`, not yet
        signed: enough to know whether an earlier run already sent it."""
        if not isinstance(record, Mapping):
            raise RecordError("a record must be a JSON object")
        payload = clean_payload(record)
        payload.pop("source_sig", None)
        if not payload.get("external_id"):
            payload["external_id"] = derived_external_id(payload, source=self.source)
        return payload

    def sign(self, payload: dict[str, Any]) -> dict[str, Any]:
        """`payload` with the source's own `source_sig` over its statement."""
        signed = statement(payload, source=self.source, source_key=self.source_key)
        payload["source_sig"] = entry_format.b64encode(self.signer.sign(signed))
        return payload

    def signed_payload(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The body to send for one record: cleaned, with an `external_id` and the source's
        own `source_sig`."""
        return self.sign(self.prepared_payload(record))
