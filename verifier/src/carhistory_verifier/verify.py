"""The offline verifier of carhistory evidence bundles (SPEC §6). Plain Python, no Django.

Needs only `cryptography` and `rfc8785`. A buyer runs it as `carhistory-verify BUNDLE.json
[--log-key KEY|@file]` (or `python -m carhistory_verifier.verify ...`); the server's tests run
the same code.

It trusts nothing in the bundle except what it proves: the checkpoint against the log key
(pin it with --log-key, or the bundle's own key is only as good as where the bundle came
from), every entry against the checkpoint's root, and every source signature against a key
the log itself published earlier.
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carhistory_verifier import merkle, vin_index, vrf
from carhistory_verifier.entry import b64decode, b64encode, entry_bytes, statement_bytes
from carhistory_verifier.note import Checkpoint, NoteError, Verifier, verify_checkpoint
from carhistory_verifier.protocol import BUNDLE_FORMAT, PLATFORM_SOURCE, PLATFORM_TYPES, VIN_INDEX

_SIGNED_FIELDS = ("type", "source", "source_key", "source_sig")


class VerificationFailure(Exception):
    """The first check that failed: `where` in the bundle, and `reason`."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True)
class BundleSummary:
    """What a verified bundle proves.

    `platform_signed` counts entries the log key signed on behalf of a source with no key of
    its own (the report says so); `platform_entries` counts the platform's own entries
    (corrections, key and status changes); `sources` are the slugs that stand behind entries.
    """

    vin: str
    origin: str
    tree_size: int
    root_hash: bytes
    log_key: str
    log_key_pinned: bool
    entries_checked: int
    source_keys_checked: int
    platform_signed: int
    platform_entries: int
    sources: tuple[str, ...]
    # SPEC §7: how many log entries the VIN index proves the bundle complete for (every entry
    # of this VIN among them is in `entries`), or None when the bundle has no `vin_index`.
    complete_as_of: int | None = None


@dataclass(frozen=True)
class _ProvenItem:
    where: str
    index: int
    entry: Mapping[str, Any]


def _is_index(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_item_format(item: object, where: str) -> None:
    if not isinstance(item, Mapping):
        raise VerificationFailure(where, "must be an object")
    if not _is_index(item.get("index")):
        raise VerificationFailure(where, "index must be a non-negative integer")
    entry = item.get("entry")
    if not isinstance(entry, Mapping):
        raise VerificationFailure(where, "entry must be an object")
    for field in _SIGNED_FIELDS:
        if not isinstance(entry.get(field), str):
            raise VerificationFailure(where, f"entry.{field} must be a string")
    if "vin" in entry and not isinstance(entry["vin"], str):
        raise VerificationFailure(where, "entry.vin must be a string")
    proof = item.get("inclusion_proof")
    if not isinstance(proof, list) or not all(isinstance(h, str) for h in proof):
        raise VerificationFailure(where, "inclusion_proof must be a list of base64 strings")


def _check_format(bundle: object) -> None:
    if not isinstance(bundle, Mapping):
        raise VerificationFailure("bundle", "must be a JSON object")
    if bundle.get("format") != BUNDLE_FORMAT:
        raise VerificationFailure("format", f"must be {BUNDLE_FORMAT!r}")
    for field in ("vin", "checkpoint", "log_key"):
        if not isinstance(bundle.get(field), str):
            raise VerificationFailure(field, "must be a string")
    for field in ("entries", "source_keys"):
        items = bundle.get(field)
        if not isinstance(items, list):
            raise VerificationFailure(field, "must be a list")
        for position, item in enumerate(items):
            _check_item_format(item, f"{field}[{position}]")


def _log_verifier(bundle: Mapping[str, Any], pinned_key: str | None) -> Verifier:
    if pinned_key is not None:
        try:
            pinned = Verifier.from_key_string(pinned_key.strip())
        except NoteError as error:
            raise VerificationFailure("--log-key", f"not a verifier key: {error}") from None
    try:
        verifier = Verifier.from_key_string(bundle["log_key"])
    except NoteError as error:
        raise VerificationFailure("log_key", f"not a verifier key: {error}") from None
    if pinned_key is not None and verifier != pinned:
        raise VerificationFailure("log_key", "the bundle's log key is not the pinned log key")
    return verifier


def _prove_inclusion(item: Mapping[str, Any], where: str, checkpoint: Checkpoint) -> _ProvenItem:
    index = item["index"]
    where = f"{where} (index {index})"
    if index >= checkpoint.size:
        raise VerificationFailure(
            where, f"index is not below the checkpoint's tree size {checkpoint.size}"
        )
    proof = []
    for position, element in enumerate(item["inclusion_proof"]):
        try:
            proof.append(b64decode(element))
        except ValueError as error:
            raise VerificationFailure(where, f"inclusion_proof[{position}]: {error}") from None
    try:
        leaf = merkle.leaf_hash(entry_bytes(item["entry"]))
    except ValueError as error:
        raise VerificationFailure(where, f"entry is not canonical JSON: {error}") from None
    try:
        merkle.verify_inclusion(
            index=index,
            tree_size=checkpoint.size,
            leaf_hash=leaf,
            proof=proof,
            root=checkpoint.root_hash,
        )
    except merkle.ProofError as error:
        raise VerificationFailure(
            where, f"inclusion proof does not match the checkpoint root ({error})"
        ) from None
    return _ProvenItem(where=where, index=index, entry=item["entry"])


def _check_signature(proven: _ProvenItem, verifier: Verifier) -> None:
    try:
        signature = b64decode(proven.entry["source_sig"])
        message = statement_bytes(proven.entry)
    except ValueError as error:
        raise VerificationFailure(proven.where, f"source_sig: {error}") from None
    if not verifier.verify(message, signature):
        raise VerificationFailure(
            proven.where, f"source_sig is not {verifier.name}'s signature over the statement"
        )


@dataclass(frozen=True)
class _PublishedKey:
    index: int
    source: str
    verifier: Verifier


def _published_source_keys(
    items: list[_ProvenItem], log_verifier: Verifier
) -> dict[str, list[_PublishedKey]]:
    """Check the proven source_key entries are the platform's; map key string to entries."""
    published: dict[str, list[_PublishedKey]] = {}
    for proven in items:
        entry = proven.entry
        if entry["type"] != "source_key":
            raise VerificationFailure(proven.where, "is not a source_key entry")
        if entry["source"] != PLATFORM_SOURCE or entry["source_key"] != log_verifier.key_string():
            raise VerificationFailure(proven.where, "source_key entry is not the platform's")
        _check_signature(proven, log_verifier)
        facts = entry.get("facts")
        if not isinstance(facts, Mapping):
            raise VerificationFailure(proven.where, "facts must be an object")
        source, key = facts.get("source"), facts.get("key")
        if not isinstance(source, str) or not isinstance(key, str):
            raise VerificationFailure(proven.where, "facts.source and facts.key must be strings")
        try:
            verifier = Verifier.from_key_string(key)
        except NoteError as error:
            raise VerificationFailure(proven.where, f"facts.key: {error}") from None
        published.setdefault(key, []).append(_PublishedKey(proven.index, source, verifier))
    return published


def _source_verifier(proven: _ProvenItem, published: dict[str, list[_PublishedKey]]) -> Verifier:
    """The key that must have signed a source's entry: one the log published for this source
    at a smaller index, so a key added later cannot vouch for an older entry."""
    entry = proven.entry
    candidates = [
        key for key in published.get(entry["source_key"], ()) if key.source == entry["source"]
    ]
    if not candidates:
        raise VerificationFailure(
            proven.where,
            f"source_key is not proven in the log as a key of {entry['source']!r}",
        )
    earlier = [key for key in candidates if key.index < proven.index]
    if not earlier:
        raise VerificationFailure(
            proven.where,
            f"source_key was published at index {min(k.index for k in candidates)}, "
            "after this entry",
        )
    return earlier[0].verifier


class _SignedBy(enum.Enum):
    SOURCE = "source"
    PLATFORM_FOR_SOURCE = "platform for source"
    PLATFORM_ITSELF = "platform itself"


def _check_entry(
    proven: _ProvenItem,
    *,
    vin: str,
    log_verifier: Verifier,
    published: dict[str, list[_PublishedKey]],
) -> _SignedBy:
    """Check one proven entry's signature and VIN; say who signed it."""
    entry = proven.entry
    log_key = log_verifier.key_string()
    if entry["type"] in PLATFORM_TYPES:
        # A source must not be able to write a correction or a key in the platform's name.
        if entry["source"] != PLATFORM_SOURCE or entry["source_key"] != log_key:
            raise VerificationFailure(
                proven.where, f"a {entry['type']} entry must be signed by the platform"
            )
        _check_signature(proven, log_verifier)
        signed_by = _SignedBy.PLATFORM_ITSELF
    elif entry["source_key"] == log_key:
        _check_signature(proven, log_verifier)
        signed_by = _SignedBy.PLATFORM_FOR_SOURCE
    else:
        _check_signature(proven, _source_verifier(proven, published))
        signed_by = _SignedBy.SOURCE
    if "vin" in entry:
        if entry["vin"] != vin:
            raise VerificationFailure(proven.where, f"entry is for VIN {entry['vin']}, not {vin}")
    elif entry["type"] not in PLATFORM_TYPES:
        raise VerificationFailure(proven.where, "entry has no vin")
    return signed_by


def verify_bundle(bundle: Mapping[str, Any], *, log_key: str | None = None) -> BundleSummary:
    """Verify an evidence bundle offline and summarise it; VerificationFailure names the
    first check that fails.

    `log_key` is the log's verifier key line as the buyer obtained it independently; when
    given, the bundle's own `log_key` must equal it.
    """
    _check_format(bundle)
    log_verifier = _log_verifier(bundle, log_key)
    try:
        checkpoint = verify_checkpoint(bundle["checkpoint"], log_verifier)
    except NoteError as error:
        raise VerificationFailure("checkpoint", str(error)) from None

    entries = [
        _prove_inclusion(item, f"entries[{position}]", checkpoint)
        for position, item in enumerate(bundle["entries"])
    ]
    key_items = [
        _prove_inclusion(item, f"source_keys[{position}]", checkpoint)
        for position, item in enumerate(bundle["source_keys"])
    ]
    published = _published_source_keys(key_items, log_verifier)

    vin = bundle["vin"]
    signers = [
        _check_entry(proven, vin=vin, log_verifier=log_verifier, published=published)
        for proven in entries
    ]
    complete_as_of = _check_vin_index(
        bundle, vin=vin, checkpoint=checkpoint, log_verifier=log_verifier, entries=entries
    )
    return BundleSummary(
        complete_as_of=complete_as_of,
        vin=vin,
        origin=checkpoint.origin,
        tree_size=checkpoint.size,
        root_hash=checkpoint.root_hash,
        log_key=log_verifier.key_string(),
        log_key_pinned=log_key is not None,
        entries_checked=len(entries),
        source_keys_checked=len(key_items),
        platform_signed=signers.count(_SignedBy.PLATFORM_FOR_SOURCE),
        platform_entries=signers.count(_SignedBy.PLATFORM_ITSELF),
        sources=tuple(sorted({p.entry["source"] for p in entries} - {PLATFORM_SOURCE})),
    )


def _check_vin_index(
    bundle: Mapping[str, Any],
    *,
    vin: str,
    checkpoint: Checkpoint,
    log_verifier: Verifier,
    entries: list[_ProvenItem],
) -> int | None:
    """SPEC §7: the bundle's entries are all of the VIN's among the first N − 1. Returns N − 1,
    or None when the bundle has no `vin_index` (a log from before the VIN index)."""
    section = bundle.get("vin_index")
    if section is None:
        return None
    _check_item_format(section, "vin_index")
    proven = _prove_inclusion(section, "vin_index", checkpoint)
    entry = proven.entry
    # Step 1: the checkpoint's own last entry, written and signed by the log.
    if proven.index != checkpoint.size - 1:
        raise VerificationFailure(proven.where, "is not the checkpoint's last entry")
    if entry["type"] != VIN_INDEX or entry["source"] != PLATFORM_SOURCE:
        raise VerificationFailure(proven.where, "is not the platform's vin_index entry")
    if entry["source_key"] != log_verifier.key_string():
        raise VerificationFailure(proven.where, "is not signed by the log key")
    _check_signature(proven, log_verifier)
    try:
        return vin_index.check_bundle_section(
            section, vin=vin, entry_indexes=[item.index for item in entries]
        )
    except (vin_index.VinIndexError, vrf.VrfError) as error:
        raise VerificationFailure("vin_index", str(error)) from None


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With duplicate keys, two JSON readers may see two different entries; refuse the bundle
    # rather than verify one reading and let a viewer show the other.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_bundle(text: str) -> Any:
    """Parse bundle JSON strictly: no duplicate keys, no NaN or Infinity. ValueError if bad."""
    return json.loads(
        text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
    )


def _summary_text(summary: BundleSummary) -> str:
    on_behalf = (
        f", {summary.platform_signed} signed by the platform on a source's behalf"
        if summary.platform_signed
        else ""
    )
    sources = ", ".join(summary.sources) or "none"
    pinned = (
        " (pinned)"
        if summary.log_key_pinned
        else " (taken from the bundle: pass --log-key to check it against one you trust)"
    )
    return (
        f"OK: evidence for VIN {summary.vin} verifies.\n"
        f"Log: {summary.origin}, tree size {summary.tree_size}, "
        f"root {b64encode(summary.root_hash)}\n"
        f"Log key: {summary.log_key}{pinned}\n"
        f"Entries: {summary.entries_checked} proven and signed{on_behalf}; "
        f"{summary.platform_entries} written by the platform itself\n"
        f"Source keys: {summary.source_keys_checked} proven in the log\n"
        f"Sources: {sources}\n"
        f"{_completeness_text(summary)}\n"
    )


def _completeness_text(summary: BundleSummary) -> str:
    if summary.complete_as_of is None:
        return "Completeness: not proven (the bundle has no vin_index; other entries may exist)"
    return (
        f"Completeness: these are all {summary.entries_checked} entries the log holds for this "
        f"VIN among its first {summary.complete_as_of} (SPEC §7)"
    )


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as file:
        return file.read()


def main(argv: list[str] | None = None) -> int:
    """Command line: verify a bundle file; exit 0 if it holds, 1 if a check fails, 2 if the
    input cannot be read or is not JSON."""
    parser = argparse.ArgumentParser(
        prog="carhistory-verify",
        description="Verify a carhistory evidence bundle offline (no network, no server).",
    )
    parser.add_argument("bundle", help="the evidence bundle JSON file, or - for stdin")
    parser.add_argument(
        "--log-key",
        help="the log's verifier key line, or @FILE to read it from a file; "
        "pin it to trust no key the bundle carries itself",
    )
    arguments = parser.parse_args(argv)
    try:
        bundle = load_bundle(_read_text(arguments.bundle))
        log_key = arguments.log_key
        if log_key is not None and log_key.startswith("@"):
            log_key = _read_text(log_key[1:])
    except (OSError, UnicodeDecodeError) as error:
        print(f"FAILED: cannot read input: {error}", file=sys.stderr)
        return 2
    except (ValueError, RecursionError) as error:
        print(f"FAILED: {arguments.bundle}: not valid JSON: {error}", file=sys.stderr)
        return 2
    try:
        summary = verify_bundle(bundle, log_key=log_key)
    except VerificationFailure as failure:
        print(f"FAILED: {failure.where}: {failure.reason}", file=sys.stderr)
        return 1
    print(_summary_text(summary), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
