"""The offline verifier of carhistory evidence bundles (SPEC §6). Plain Python, no Django.

Needs only `cryptography`, `pynacl` and `rfc8785`. A buyer runs it as `carhistory-verify
BUNDLE.json [--log-key KEY|@file]` (or `python -m carhistory_verifier.verify ...`); the server's
tests run the same code.

With `--witness KEY [--witness KEY …] --quorum K` it also requires K of those witnesses to
have cosigned the checkpoint (SPEC §8) and prints when each did.

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
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carhistory_verifier import merkle, vin_index, vrf
from carhistory_verifier.entry import b64decode, b64encode, entry_bytes, statement_bytes
from carhistory_verifier.note import (
    Checkpoint,
    CosignatureVerifier,
    NoteError,
    NoteSignatureError,
    NoteUnsignedError,
    Verifier,
    verify_checkpoint,
)
from carhistory_verifier.protocol import (
    BUNDLE_FORMAT,
    PLATFORM_SOURCE,
    PLATFORM_TYPES,
    SOURCE_KEY,
    SOURCE_STATUS,
    TYPES_WITHOUT_VIN,
    VIN_INDEX,
    Failure,
)
from carhistory_verifier.quorum import QuorumFailure, require_quorum
from carhistory_verifier.source_history import SourceHistory, SourceKeyProblem

_SIGNED_FIELDS = ("type", "source", "source_key", "source_sig")


class VerificationFailure(Exception):
    """The first check that failed: `where` in the bundle, `reason` in words, and `code`, the
    failure's name in protocol.Failure (the browser verifier names it the same)."""

    def __init__(self, where: str, reason: str, code: Failure) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason
        self.code = code


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
    log_key_fingerprint: str
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
    def malformed(reason: str) -> VerificationFailure:
        return VerificationFailure(where, reason, Failure.ENTRY_MALFORMED)

    if not isinstance(item, Mapping):
        raise malformed("must be an object")
    if not _is_index(item.get("index")):
        raise malformed("index must be a non-negative integer")
    entry = item.get("entry")
    if not isinstance(entry, Mapping):
        raise malformed("entry must be an object")
    for field in _SIGNED_FIELDS:
        if not isinstance(entry.get(field), str):
            raise malformed(f"entry.{field} must be a string")
    if "vin" in entry and not isinstance(entry["vin"], str):
        raise malformed("entry.vin must be a string")
    proof = item.get("inclusion_proof")
    if not isinstance(proof, list) or not all(isinstance(h, str) for h in proof):
        raise malformed("inclusion_proof must be a list of base64 strings")


def _check_format(bundle: object, vin: str | None) -> None:
    def malformed(where: str, reason: str) -> VerificationFailure:
        return VerificationFailure(where, reason, Failure.BUNDLE_MALFORMED)

    if not isinstance(bundle, Mapping):
        raise malformed("bundle", "must be a JSON object")
    if bundle.get("format") != BUNDLE_FORMAT:
        raise malformed("format", f"must be {BUNDLE_FORMAT!r}")
    for field in ("vin", "checkpoint", "log_key"):
        if not isinstance(bundle.get(field), str):
            raise malformed(field, "must be a string")
    for field in ("entries", "source_keys"):
        if not isinstance(bundle.get(field), list):
            raise malformed(field, "must be a list")
    if vin is not None and bundle["vin"] != vin:
        raise VerificationFailure(
            "vin", f"the bundle is for {bundle['vin']}, not {vin}", Failure.WRONG_VEHICLE
        )


def _log_verifier(bundle: Mapping[str, Any], pinned_key: str | None) -> Verifier:
    if pinned_key is not None:
        try:
            pinned = Verifier.from_key_string(pinned_key.strip())
        except NoteError as error:
            raise VerificationFailure(
                "--log-key", f"not a verifier key: {error}", Failure.LOG_KEY_MALFORMED
            ) from None
    try:
        verifier = Verifier.from_key_string(bundle["log_key"])
    except NoteError as error:
        raise VerificationFailure(
            "log_key", f"not a verifier key: {error}", Failure.LOG_KEY_MALFORMED
        ) from None
    if pinned_key is not None and verifier != pinned:
        raise VerificationFailure(
            "log_key", "the bundle's log key is not the pinned log key", Failure.LOG_KEY_NOT_PINNED
        )
    return verifier


def _verified_checkpoint(note: str, log_verifier: Verifier) -> Checkpoint:
    try:
        return verify_checkpoint(note, log_verifier)
    except NoteUnsignedError as error:
        raise VerificationFailure("checkpoint", str(error), Failure.CHECKPOINT_UNSIGNED) from None
    except NoteSignatureError as error:
        raise VerificationFailure("checkpoint", str(error), Failure.CHECKPOINT_SIGNATURE) from None
    except NoteError as error:
        raise VerificationFailure("checkpoint", str(error), Failure.CHECKPOINT_MALFORMED) from None


def _prove_inclusion(item: object, where: str, checkpoint: Checkpoint) -> _ProvenItem:
    _check_item_format(item, where)
    index = item["index"]
    where = f"{where} (index {index})"
    if index >= checkpoint.size:
        raise VerificationFailure(
            where,
            f"index is not below the checkpoint's tree size {checkpoint.size}",
            Failure.BEYOND_CHECKPOINT,
        )
    proof = []
    for position, element in enumerate(item["inclusion_proof"]):
        try:
            proof.append(b64decode(element))
        except ValueError as error:
            raise VerificationFailure(
                where, f"inclusion_proof[{position}]: {error}", Failure.INCLUSION_PROOF
            ) from None
    try:
        leaf = merkle.leaf_hash(entry_bytes(item["entry"]))
    except ValueError as error:
        raise VerificationFailure(
            where, f"entry is not canonical JSON: {error}", Failure.ENTRY_MALFORMED
        ) from None
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
            where,
            f"inclusion proof does not match the checkpoint root ({error})",
            Failure.INCLUSION_PROOF,
        ) from None
    return _ProvenItem(where=where, index=index, entry=item["entry"])


def _check_signature(proven: _ProvenItem, verifier: Verifier) -> None:
    try:
        signature = b64decode(proven.entry["source_sig"])
    except ValueError as error:
        raise VerificationFailure(
            proven.where, f"source_sig: {error}", Failure.SOURCE_SIGNATURE
        ) from None
    if not verifier.verify(statement_bytes(proven.entry), signature):
        raise VerificationFailure(
            proven.where,
            f"source_sig is not {verifier.name}'s signature over the statement",
            Failure.SOURCE_SIGNATURE,
        )


def _is_platform_entry(entry: Mapping[str, Any], log_verifier: Verifier) -> bool:
    return entry["source"] == PLATFORM_SOURCE and entry["source_key"] == log_verifier.key_string()


def _source_history(items: list[_ProvenItem], log_verifier: Verifier) -> SourceHistory:
    """Check the proven `source_keys` items are the platform's own source_key and
    source_status entries, and collect what they say about each source."""
    history = SourceHistory()
    for proven in items:
        entry = proven.entry

        def bad(reason: str, where: str = proven.where) -> VerificationFailure:
            return VerificationFailure(where, reason, Failure.SOURCE_KEY_ENTRY)

        if entry["type"] not in (SOURCE_KEY, SOURCE_STATUS):
            raise bad("is not a source_key or source_status entry")
        if not _is_platform_entry(entry, log_verifier):
            raise bad(f"{entry['type']} entry is not the platform's")
        try:
            _check_signature(proven, log_verifier)
        except VerificationFailure as failure:
            raise bad(failure.reason) from None
        facts = entry.get("facts")
        if not isinstance(facts, Mapping) or not isinstance(facts.get("source"), str):
            raise bad("facts.source must be a string")
        key = None
        if entry["type"] == SOURCE_KEY:
            try:
                key = Verifier.from_key_string(facts.get("key"))
            except NoteError as error:
                raise bad(f"facts.key: {error}") from None
        history.record(index=proven.index, entry=entry, key=key)
    return history


class _SignedBy(enum.Enum):
    SOURCE = "source"
    PLATFORM_FOR_SOURCE = "platform for source"
    PLATFORM_ITSELF = "platform itself"


def _check_entry(
    proven: _ProvenItem, *, vin: str, log_verifier: Verifier, history: SourceHistory
) -> _SignedBy:
    """Check one proven entry's signature, its signer's standing and its VIN; say who signed."""
    entry = proven.entry
    try:
        if entry["type"] in PLATFORM_TYPES:
            # A source must not be able to write a correction or a key in the platform's name.
            if not _is_platform_entry(entry, log_verifier):
                raise VerificationFailure(
                    proven.where,
                    f"a {entry['type']} entry must be signed by the platform",
                    Failure.PLATFORM_ONLY_TYPE,
                )
            _check_signature(proven, log_verifier)
            signed_by = _SignedBy.PLATFORM_ITSELF
        elif entry["source_key"] == log_verifier.key_string():
            _check_signature(proven, log_verifier)
            history.check_standing(source=entry["source"], index=proven.index)
            signed_by = _SignedBy.PLATFORM_FOR_SOURCE
        else:
            key = history.key_for(
                source=entry["source"], key_string=entry["source_key"], index=proven.index
            )
            _check_signature(proven, key)
            history.check_standing(source=entry["source"], index=proven.index)
            signed_by = _SignedBy.SOURCE
    except SourceKeyProblem as problem:
        raise VerificationFailure(proven.where, problem.reason, problem.code) from None
    if "vin" in entry:
        if entry["vin"] != vin:
            raise VerificationFailure(
                proven.where, f"entry is for VIN {entry['vin']}, not {vin}", Failure.ENTRY_VIN
            )
    elif entry["type"] not in TYPES_WITHOUT_VIN:
        raise VerificationFailure(proven.where, "entry has no vin", Failure.ENTRY_MALFORMED)
    return signed_by


def _check_distinct(entries: list[_ProvenItem]) -> None:
    """One index, one entry; one signed statement, one fact. The same statement and signature
    logged twice is a replay (a second copy of an accident is not a second accident)."""
    seen_indexes: set[int] = set()
    statements: dict[tuple[bytes, str], int] = {}
    for proven in entries:
        if proven.index in seen_indexes:
            raise VerificationFailure(
                proven.where, "the bundle holds two entries at this index", Failure.DUPLICATE_INDEX
            )
        seen_indexes.add(proven.index)
        statement = (statement_bytes(proven.entry), proven.entry["source_sig"])
        if statement in statements:
            raise VerificationFailure(
                proven.where,
                f"the same signed statement as index {statements[statement]}: one fact, "
                "logged twice",
                Failure.DUPLICATE_STATEMENT,
            )
        statements[statement] = proven.index


def verify_bundle(
    bundle: Mapping[str, Any], *, log_key: str | None = None, vin: str | None = None
) -> BundleSummary:
    """Verify an evidence bundle offline and summarise it; VerificationFailure names the
    first check that fails.

    `log_key` is the log's verifier key line as the buyer obtained it independently; when
    given, the bundle's own `log_key` must equal it. `vin`, when given, is the VIN the buyer
    asked about: a bundle for another fails.
    """
    _check_format(bundle, vin)
    log_verifier = _log_verifier(bundle, log_key)
    checkpoint = _verified_checkpoint(bundle["checkpoint"], log_verifier)
    entries = [
        _prove_inclusion(item, f"entries[{position}]", checkpoint)
        for position, item in enumerate(bundle["entries"])
    ]
    key_items = [
        _prove_inclusion(item, f"source_keys[{position}]", checkpoint)
        for position, item in enumerate(bundle["source_keys"])
    ]
    history = _source_history(key_items, log_verifier)
    signers = [
        _check_entry(proven, vin=bundle["vin"], log_verifier=log_verifier, history=history)
        for proven in entries
    ]
    _check_distinct(entries)
    complete_as_of = _check_vin_index(
        bundle, vin=bundle["vin"], checkpoint=checkpoint, log_verifier=log_verifier, entries=entries
    )
    return BundleSummary(
        complete_as_of=complete_as_of,
        vin=bundle["vin"],
        origin=checkpoint.origin,
        tree_size=checkpoint.size,
        root_hash=checkpoint.root_hash,
        log_key=log_verifier.key_string(),
        log_key_fingerprint=log_verifier.fingerprint(),
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

    def failure(where: str, reason: str) -> VerificationFailure:
        return VerificationFailure(where, reason, Failure.VIN_INDEX)

    try:
        _check_item_format(section, "vin_index")
        proven = _prove_inclusion(section, "vin_index", checkpoint)
    except VerificationFailure as error:
        raise failure(error.where, error.reason) from None
    entry = proven.entry
    # Step 1: the checkpoint's own last entry, written and signed by the log.
    if proven.index != checkpoint.size - 1:
        raise failure(proven.where, "is not the checkpoint's last entry")
    if entry["type"] != VIN_INDEX or entry["source"] != PLATFORM_SOURCE:
        raise failure(proven.where, "is not the platform's vin_index entry")
    if entry["source_key"] != log_verifier.key_string():
        raise failure(proven.where, "is not signed by the log key")
    try:
        _check_signature(proven, log_verifier)
        return vin_index.check_bundle_section(
            section, vin=vin, entry_indexes=[item.index for item in entries]
        )
    except VerificationFailure as error:
        raise failure(error.where, error.reason) from None
    except (vin_index.VinIndexError, vrf.VrfError) as error:
        raise failure("vin_index", str(error)) from None


def _completeness_text(summary: BundleSummary) -> str:
    if summary.complete_as_of is None:
        return "Completeness: not proven (the bundle has no vin_index; other entries may exist)"
    return (
        f"Completeness: these are all {summary.entries_checked} entries the log holds for this "
        f"VIN among its first {summary.complete_as_of} (SPEC §7)"
    )


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
        f"Log key fingerprint: {summary.log_key_fingerprint}\n"
        f"Entries: {summary.entries_checked} proven and signed{on_behalf}; "
        f"{summary.platform_entries} written by the platform itself\n"
        f"Source keys: {summary.source_keys_checked} proven in the log\n"
        f"Sources: {sources}\n"
        f"{_completeness_text(summary)}\n"
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
    parser.add_argument("--vin", help="the VIN you asked about: refuse a bundle for another")
    parser.add_argument(
        "--witness",
        action="append",
        default=[],
        help="a witness's cosignature verifier key line, or @FILE; repeat for each you trust",
    )
    parser.add_argument(
        "--quorum",
        type=int,
        help="how many of the --witness keys must have cosigned the checkpoint (default 1)",
    )
    arguments = parser.parse_args(argv)
    try:
        witness_keys = _witness_keys(arguments.witness)
    except (OSError, UnicodeDecodeError, NoteError) as error:
        print(f"FAILED: --witness: {error}", file=sys.stderr)
        return 2
    quorum = arguments.quorum if arguments.quorum is not None else min(1, len(witness_keys))
    if not 0 <= quorum <= len(set(witness_keys)):
        print(
            f"FAILED: --quorum {quorum} needs at least that many distinct --witness keys",
            file=sys.stderr,
        )
        return 2
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
        summary = verify_bundle(bundle, log_key=log_key, vin=arguments.vin)
    except VerificationFailure as failure:
        print(f"FAILED: {failure.where}: {failure.reason} [{failure.code}]", file=sys.stderr)
        return 1
    print(_summary_text(summary), end="")
    if not witness_keys:
        return 0
    try:
        cosigned = require_quorum(bundle["checkpoint"], witness_keys, quorum)
    except QuorumFailure as failure:
        print(f"FAILED: witnesses: {failure}", file=sys.stderr)
        return 1
    now = time.time()
    print(f"Witnesses: {len(cosigned)} of {len(set(witness_keys))} cosigned (quorum {quorum})")
    for cosignature in cosigned:
        print(f"  {cosignature.name} at {cosignature.time_text(now)}")
    return 0


def _witness_keys(values: list[str]) -> list[CosignatureVerifier]:
    keys = []
    for value in values:
        line = _read_text(value[1:]) if value.startswith("@") else value
        keys.append(CosignatureVerifier.from_key_string(line.strip()))
    return keys


if __name__ == "__main__":
    sys.exit(main())
