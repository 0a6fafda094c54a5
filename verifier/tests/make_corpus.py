"""Build the shared corpus of evidence bundles (verifier/tests/corpus/): valid bundles and
tampered ones, each named after its defect, with the failure every verifier must name.

Both verifiers run every case: the Python one here (test_corpus.py), the browser one in Node
and in Chromium (tests/test_corpus_in_browsers.py). The bundles are built from fixed test keys
and fixed nonces, so running this again writes the same bytes (a test checks the committed
corpus is what this script makes):

    python verifier/tests/make_corpus.py [DIRECTORY]
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carhistory_verifier import vrf
from carhistory_verifier.entry import b64encode, statement_bytes
from carhistory_verifier.note import (
    CosignatureSigner,
    Signer,
    cosign_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from carhistory_verifier.protocol import Failure
from memory_log import ORIGIN, OTHER_VIN, VIN, MemoryLog

THIRD_VIN = "LVSHFFAL9H5226410"

CORPUS = Path(__file__).resolve().parent / "corpus"
DEALER = "sh-anting-vw-4s"
MAKER = "faw-vw-changchun"
REGISTRY = "sh-vehicle-registry"
INSURER = "pingan-auto"
SEVERE_ACCIDENT = {"severity": "severe", "airbags_deployed": True, "damage_areas": ["front"]}


def fixed_seed(label: str) -> bytes:
    """32 bytes anyone can recompute: test keys, never real ones."""
    return hashlib.sha256(f"carhistory corpus {label}".encode()).digest()


def fixed_signer(name: str, label: str | None = None) -> Signer:
    return Signer(name, fixed_seed(label or name))


class CorpusLog(MemoryLog):
    """A MemoryLog with fixed keys and nonces, so the corpus is the same on every run."""

    def __init__(self, log_signer: Signer | None = None) -> None:
        self.signer = log_signer or fixed_signer(ORIGIN, "log key")
        self.key = self.signer.verifier().key_string()
        # ECVRF proofs are deterministic: a fixed key gives the same map on every run.
        self.vrf_key = vrf.VrfKey.from_seed(fixed_seed("vrf key"))
        self.entries = []

    def _signed(self, entry: dict[str, Any], signer: Signer, key: str) -> dict[str, Any]:
        entry["source_key"] = key
        entry["source_sig"] = b64encode(signer.sign(statement_bytes(entry)))
        entry["private_commitment"] = None
        entry["submitted_at"] = "2024-05-03T09:12:44Z"
        nonce = hashlib.sha256(f"nonce {len(self.entries)}".encode()).digest()[:16]
        entry["nonce"] = b64encode(nonce)
        return entry

    def replay(self, index: int) -> int:
        """Log entry `index`'s signed statement again, with a fresh nonce and time."""
        entry = copy.deepcopy(self.entries[index])
        entry["nonce"] = b64encode(hashlib.sha256(f"replay {index}".encode()).digest()[:16])
        entry["submitted_at"] = "2024-06-01T10:00:00Z"
        return self.append(entry)

    def forged_entry(self, source: str, signer: Signer, **fields: Any) -> int:
        """An entry logged with a signature that is not the key's over the statement."""
        index = self.source_entry(source, signer, **fields)
        signature = bytearray(base64.b64decode(self.entries[index]["source_sig"]))
        signature[0] ^= 0x01
        self.entries[index]["source_sig"] = b64encode(bytes(signature))
        return index

    def source_status(self, source: str, status: str) -> int:
        return self.platform_entry(
            "source_status", {"source": source, "status": status, "reason": "corpus"}
        )


@dataclass
class Case:
    name: str
    description: str
    bundle: dict[str, Any]
    failure: Failure | None = None
    vin: str = VIN


@dataclass
class History:
    """The everyday history most tampered cases start from."""

    log: CorpusLog
    dealer: Signer
    maker: Signer
    entries: list[int]
    source_keys: list[int]

    def bundle(self, **options: Any) -> dict[str, Any]:
        return self.log.bundle(self.entries, self.source_keys, **options)


def everyday_history() -> History:
    """A maker and a dealer with keys of their own, a registry the platform signs for, a
    correction, a rotated dealer key, and another car's entry in between."""
    log = CorpusLog()
    dealer, maker = fixed_signer(DEALER), fixed_signer(MAKER)
    dealer_new = fixed_signer(DEALER, f"{DEALER} second key")
    keys = [
        log.add_source_key(MAKER, maker),
        log.add_source_key(DEALER, dealer),
        log.source_status(REGISTRY, "approved"),
    ]
    entries = [
        log.source_entry(
            MAKER,
            maker,
            type="manufacture",
            occurred_at="2019-03-02",
            facts={"plant": "Changchun", "built_on": "2019-03-02", "model": "Sagitar"},
        ),
        log.source_entry(
            REGISTRY,
            None,
            type="registration",
            occurred_at="2019-04-01",
            facts={"event": "first_registration", "region": "Shanghai", "use": "private"},
        ),
        log.source_entry(
            DEALER, dealer, occurred_at="2020-05-01", odometer_km=15000, facts={"items": ["oil"]}
        ),
    ]
    log.source_entry(DEALER, dealer, vin=OTHER_VIN, facts={"items": []})
    typo = log.source_entry(
        DEALER, dealer, type="odometer", occurred_at="2021-06-01", odometer_km=4500
    )
    entries += [
        typo,
        log.platform_entry(
            "correction", {"corrects": typo, "reason": "typo", "odometer_km": 45000}, vin=VIN
        ),
    ]
    # The dealer rotates its key: entries after this are signed by the new one.
    keys.append(log.add_source_key(DEALER, dealer_new))
    entries.append(
        log.source_entry(
            DEALER,
            dealer_new,
            type="odometer",
            occurred_at="2022-07-01",
            odometer_km=52000,
        )
    )
    return History(log, dealer, maker, entries, keys)


def _flip_base64(text: str, position: int = 0) -> str:
    data = bytearray(base64.b64decode(text))
    data[position] ^= 0x01
    return b64encode(bytes(data))


def _non_canonical(text: str) -> str:
    """The same bytes in base64 whose unused trailing bits are not zero (32 bytes end in '=')."""
    assert text.endswith("=") and not text.endswith("==")
    last = text[-2]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return text[:-2] + alphabet[alphabet.index(last) | 0x01] + "="


def _non_canonical_padded(text: str) -> str:
    """The same bytes in base64 ending '==' whose unused trailing bits are not zero."""
    assert text.endswith("==")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return text[:-3] + alphabet[alphabet.index(text[-3]) | 0x01] + "=="


def _signature_lines(note: str) -> tuple[str, list[str]]:
    """A signed note's text (with its final newline) and its signature lines."""
    text, signatures = note.split("\n\n", 1)
    return text + "\n", signatures.rstrip("\n").split("\n")


def valid_cases() -> list[Case]:
    history = everyday_history()
    cases = [
        Case(
            "valid",
            "a maker and a dealer with keys of their own, a registry signed for by the "
            "platform, a correction, and a dealer key rotation",
            history.bundle(),
        )
    ]
    bundle = history.bundle()
    text, lines = _signature_lines(bundle["checkpoint"])
    witness = CosignatureSigner("witness.example/w1", fixed_seed("witness"))
    cosigned = cosign_checkpoint(bundle["checkpoint"], witness, timestamp=1_717_000_000)
    bundle["checkpoint"] = text + "\n" + cosigned + "".join(line + "\n" for line in lines)
    cases.append(
        Case(
            "valid_witness_cosignature_first",
            "the log's signature is the checkpoint's second line, after a witness's cosignature",
            bundle,
        )
    )
    empty = CorpusLog()
    empty.source_status(REGISTRY, "approved")
    cases.append(Case("valid_no_entries", "a VIN the log holds nothing for", empty.bundle([], [])))
    cases.append(twenty_entries())
    return cases


def twenty_entries() -> Case:
    """Twenty entries by a dealer with its own key: the size the performance figure uses."""
    log = CorpusLog()
    dealer = fixed_signer(DEALER)
    key = log.add_source_key(DEALER, dealer)
    entries = [
        log.source_entry(
            DEALER,
            dealer,
            type="odometer",
            occurred_at=f"20{10 + n // 2:02d}-{1 + 6 * (n % 2):02d}-01",
            odometer_km=5000 * (n + 1),
        )
        for n in range(20)
    ]
    return Case("valid_twenty_entries", "twenty dealer-signed readings", log.bundle(entries, [key]))


def _tampered(name: str, description: str, failure: Failure, change: Callable) -> Case:
    history = everyday_history()
    bundle = history.bundle()
    change(bundle, history)
    return Case(name, description, bundle, failure)


def _entry_of_type(bundle: dict, entry_type: str, position: int = 0) -> dict:
    return [item for item in bundle["entries"] if item["entry"]["type"] == entry_type][position]


def checkpoint_cases() -> list[Case]:
    def bad_signature(bundle, history):
        text, lines = _signature_lines(bundle["checkpoint"])
        name, blob = lines[0].removeprefix("— ").split(" ")
        bundle["checkpoint"] = f"{text}\n— {name} {_flip_base64(blob, 10)}\n"

    def bad_second_line(bundle, history):
        text, lines = _signature_lines(bundle["checkpoint"])
        name, blob = lines[0].removeprefix("— ").split(" ")
        bundle["checkpoint"] = f"{text}\n{lines[0]}\n— {name} {_flip_base64(blob, 10)}\n"

    def other_signer(bundle, history):
        other = fixed_signer(ORIGIN, "another log key")
        text, _ = _signature_lines(bundle["checkpoint"])
        bundle["checkpoint"] = sign_checkpoint(parse_checkpoint(text), other)

    def bigger_tree(bundle, history):
        text, lines = _signature_lines(bundle["checkpoint"])
        origin, size, root = text.rstrip("\n").split("\n")
        bundle["checkpoint"] = f"{origin}\n{int(size) + 1}\n{root}\n\n" + "\n".join(lines) + "\n"

    def another_log_key(bundle, history):
        other = CorpusLog(fixed_signer(ORIGIN, "an impostor's log key"))
        other.entries = history.log.entries
        bundle.update(other.bundle(history.entries, history.source_keys))

    def no_format(bundle, history):
        bundle["format"] = "carhistory-evidence/v0"

    return [
        _tampered(
            "bad_checkpoint_signature",
            "a byte of the log's checkpoint signature changed",
            Failure.CHECKPOINT_SIGNATURE,
            bad_signature,
        ),
        _tampered(
            "second_log_signature_line_bad",
            "a good log signature line, then a second line by the log key that does not verify",
            Failure.CHECKPOINT_SIGNATURE,
            bad_second_line,
        ),
        _tampered(
            "checkpoint_signed_by_another_key",
            "the checkpoint is signed by a key of the log's name that is not the log key",
            Failure.CHECKPOINT_UNSIGNED,
            other_signer,
        ),
        _tampered(
            "checkpoint_tree_size_changed",
            "the checkpoint's tree size is one more than the log signed",
            Failure.CHECKPOINT_SIGNATURE,
            bigger_tree,
        ),
        _tampered(
            "log_key_not_the_pinned_one",
            "a whole log re-signed by another key, which the bundle names as the log key",
            Failure.LOG_KEY_NOT_PINNED,
            another_log_key,
        ),
        _tampered(
            "unknown_bundle_format",
            "the bundle's format is not carhistory-evidence/v1",
            Failure.BUNDLE_MALFORMED,
            no_format,
        ),
    ]


def proof_cases() -> list[Case]:
    def changed_reading(bundle, history):
        _entry_of_type(bundle, "service")["entry"]["odometer_km"] = 1500

    def flipped_sibling(bundle, history):
        item = _entry_of_type(bundle, "registration")
        item["inclusion_proof"][0] = _flip_base64(item["inclusion_proof"][0])

    def non_canonical_proof(bundle, history):
        item = _entry_of_type(bundle, "registration")
        item["inclusion_proof"][0] = _non_canonical(item["inclusion_proof"][0])

    def smaller_tree_proofs(bundle, history):
        # One more entry is logged and signed; the proofs stay those of the smaller tree.
        history.log.source_status(INSURER, "approved")
        bundle["checkpoint"] = history.log.checkpoint()

    def beyond(bundle, history):
        _entry_of_type(bundle, "service")["index"] = len(history.log.entries) + 3

    def duplicate_index(bundle, history):
        bundle["entries"].append(copy.deepcopy(_entry_of_type(bundle, "service")))

    def lone_surrogate(bundle, history):
        _entry_of_type(bundle, "service")["entry"]["facts"]["items"] = ["oil\ud800"]

    return [
        _tampered(
            "leaf_hash_mismatch",
            "an entry's odometer reading changed after it was logged",
            Failure.INCLUSION_PROOF,
            changed_reading,
        ),
        _tampered(
            "flipped_proof_sibling",
            "one bit of an inclusion proof's first sibling hash flipped",
            Failure.INCLUSION_PROOF,
            flipped_sibling,
        ),
        _tampered(
            "non_canonical_base64_in_proof",
            "a proof hash written in base64 whose unused trailing bits are set",
            Failure.INCLUSION_PROOF,
            non_canonical_proof,
        ),
        _tampered(
            "proofs_for_another_tree_size",
            "the proofs are for the tree the checkpoint does not sign (one entry smaller)",
            Failure.INCLUSION_PROOF,
            smaller_tree_proofs,
        ),
        _tampered(
            "index_beyond_checkpoint",
            "an entry claims an index the checkpoint does not cover",
            Failure.BEYOND_CHECKPOINT,
            beyond,
        ),
        _tampered(
            "two_entries_under_one_index",
            "the same entry twice under the same index",
            Failure.DUPLICATE_INDEX,
            duplicate_index,
        ),
        _tampered(
            "lone_surrogate_in_entry",
            "a fact holds a lone UTF-16 surrogate, which has no UTF-8 bytes to hash",
            Failure.ENTRY_MALFORMED,
            lone_surrogate,
        ),
    ]


def _logged_case(name: str, description: str, failure: Failure, build: Callable) -> Case:
    """A case whose defect is in the log itself: the entry is genuinely logged and proven."""
    history = everyday_history()
    index = build(history)
    history.entries.append(index)
    return Case(name, description, history.bundle(), failure)


def signature_cases() -> list[Case]:
    def correction_by_source(history):
        return history.log.source_entry(
            DEALER,
            fixed_signer(DEALER, f"{DEALER} second key"),
            type="correction",
            facts={"corrects": 5, "reason": "the dealer says so", "odometer_km": 1},
        )

    def forged(history):
        return history.log.forged_entry(
            DEALER, fixed_signer(DEALER, f"{DEALER} second key"), odometer_km=60000
        )

    def rotated_out(history):
        return history.log.source_entry(DEALER, history.dealer, type="odometer", odometer_km=61000)

    def revoked(history):
        history.source_keys.append(history.log.source_status(MAKER, "revoked"))
        return history.log.source_entry(
            MAKER, history.maker, type="recall", facts={"campaign": "X", "status": "open"}
        )

    def revoked_keyless(history):
        history.source_keys.append(history.log.source_status(REGISTRY, "revoked"))
        return history.log.source_entry(
            REGISTRY, None, type="title_brand", facts={"brand": "salvage"}
        )

    def named_for_another(history):
        # The platform logs the dealer's key as the insurer's: it must not speak for the insurer.
        history.source_keys.append(history.log.add_source_key(INSURER, history.dealer))
        return history.log.source_entry(
            INSURER, history.dealer, type="accident", facts=SEVERE_ACCIDENT
        )

    def replayed(history):
        history.source_keys.append(history.log.add_source_key(INSURER, fixed_signer(INSURER)))
        first = history.log.source_entry(
            INSURER, fixed_signer(INSURER), type="accident", facts=SEVERE_ACCIDENT
        )
        history.entries.append(first)
        return history.log.replay(first)

    def key_after_entry(history):
        insurer = fixed_signer(INSURER)
        index = history.log.source_entry(INSURER, insurer, type="accident", facts=SEVERE_ACCIDENT)
        history.source_keys.append(history.log.add_source_key(INSURER, insurer))
        return index

    def never_published(history):
        return history.log.source_entry(
            INSURER, fixed_signer(INSURER), type="accident", facts=SEVERE_ACCIDENT
        )

    def non_canonical_signature(history):
        index = history.log.source_entry(REGISTRY, None, type="odometer", odometer_km=70000)
        entry = history.log.entries[index]
        # 64 bytes end in one byte and "==": the last character's four low bits are unused.
        entry["source_sig"] = _non_canonical_padded(entry["source_sig"])
        return index

    def other_vin(history):
        return history.log.source_entry(
            REGISTRY, None, vin=OTHER_VIN, type="odometer", odometer_km=1
        )

    return [
        _logged_case(
            "correction_signed_by_a_source",
            "a correction entry signed by the dealer's key, not the log key",
            Failure.PLATFORM_ONLY_TYPE,
            correction_by_source,
        ),
        _logged_case(
            "source_signature_forged",
            "an entry logged with a signature that is not its source's",
            Failure.SOURCE_SIGNATURE,
            forged,
        ),
        _logged_case(
            "key_rotated_out_before_the_entry",
            "an entry signed by the dealer's first key after the dealer rotated to a new one",
            Failure.KEY_ROTATED_OUT,
            rotated_out,
        ),
        _logged_case(
            "source_revoked_before_the_entry",
            "an entry signed by the maker's key after the maker was revoked",
            Failure.SOURCE_REVOKED,
            revoked,
        ),
        _logged_case(
            "keyless_source_revoked_before_the_entry",
            "an entry the platform signed for the registry after the registry was revoked",
            Failure.SOURCE_REVOKED,
            revoked_keyless,
        ),
        _logged_case(
            "key_named_for_another_party",
            "the dealer's key, logged as the insurer's, signs an accident as the insurer",
            Failure.KEY_NAME_MISMATCH,
            named_for_another,
        ),
        _logged_case(
            "same_signed_statement_logged_twice",
            "the insurer's signed severe accident logged a second time",
            Failure.DUPLICATE_STATEMENT,
            replayed,
        ),
        _logged_case(
            "source_key_logged_after_the_entry",
            "the insurer's key entered the log only after the entry it signed",
            Failure.SOURCE_KEY_UNPROVEN,
            key_after_entry,
        ),
        _logged_case(
            "source_key_never_logged",
            "an entry signed by a key the log never published",
            Failure.SOURCE_KEY_UNPROVEN,
            never_published,
        ),
        _logged_case(
            "non_canonical_base64_signature",
            "a logged source signature written in base64 whose unused trailing bits are set",
            Failure.SOURCE_SIGNATURE,
            non_canonical_signature,
        ),
        _logged_case(
            "entry_for_another_vin",
            "an entry of another car in this car's bundle",
            Failure.ENTRY_VIN,
            other_vin,
        ),
    ]


def bundle_cases() -> list[Case]:
    def dropped_key(bundle, history):
        bundle["source_keys"] = [
            item for item in bundle["source_keys"] if item["entry"]["facts"]["source"] != MAKER
        ]

    def key_entry_by_a_source(bundle, history):
        bundle["source_keys"].append(copy.deepcopy(_entry_of_type(bundle, "manufacture")))

    cases = [
        _tampered(
            "source_key_dropped_from_the_bundle",
            "the maker's source_key entry left out, so its signature vouches for nothing",
            Failure.SOURCE_KEY_UNPROVEN,
            dropped_key,
        ),
        _tampered(
            "source_keys_holds_an_ordinary_entry",
            "an ordinary entry offered as a source_key entry",
            Failure.SOURCE_KEY_ENTRY,
            key_entry_by_a_source,
        ),
    ]
    history = everyday_history()
    cases.append(Case("bundle_for_another_vin", "a genuine bundle for the wrong car",
                      history.bundle(), Failure.WRONG_VEHICLE, vin=OTHER_VIN))  # fmt: skip
    return cases


def indexed_history() -> History:
    """The everyday history in a log whose checkpoint ends with its `vin_index` entry, so that
    the bundle proves it holds every entry of the VIN (SPEC §7)."""
    history = everyday_history()
    history.log.commit_vin_index()
    return history


def completeness_cases() -> list[Case]:
    """SPEC §7: bundles that prove, or fail to prove, that none of the VIN's entries is missing."""
    cases = [
        Case(
            "valid_complete",
            "the everyday history with its vin_index: every entry of the VIN, and the proof",
            indexed_history().bundle(),
        )
    ]
    others = CorpusLog()
    others.source_status(REGISTRY, "approved")
    others.source_entry(REGISTRY, None, vin=OTHER_VIN, type="odometer", odometer_km=1)
    others.source_entry(REGISTRY, None, vin=THIRD_VIN, type="odometer", odometer_km=2)
    others.commit_vin_index()
    cases.append(
        Case(
            "valid_absence_proven",
            "a VIN the log holds nothing for, among two others, and the proof of its absence",
            others.bundle([], []),
        )
    )

    def tampered(name: str, description: str, failure: Failure, change: Callable) -> Case:
        history = indexed_history()
        bundle = history.bundle()
        change(bundle, history)
        return Case(name, description, bundle, failure)

    def dropped(bundle, history):
        bundle["entries"].remove(_entry_of_type(bundle, "registration"))

    def another_vins_entry(bundle, history):
        [other] = [i for i, e in enumerate(history.log.entries) if e.get("vin") == OTHER_VIN]
        bundle["entries"].append(history.log.proven(other, len(history.log.entries)))
        bundle["entries"].sort(key=lambda item: item["index"])

    def stale(bundle, history):
        # The log grows by an accident and a new vin_index entry; the server proves the older
        # entries against the new checkpoint, hides the accident and shows the old map proof.
        older = bundle["vin_index"]
        history.log.source_entry(INSURER, None, type="accident", facts=SEVERE_ACCIDENT)
        history.log.commit_vin_index()
        bundle.update(history.bundle(), vin_index=older)

    def other_vrf_proof(bundle, history):
        bundle["vin_index"]["vrf_proof"] = b64encode(history.log.vrf_proof(OTHER_VIN))

    def flipped_sibling(bundle, history):
        siblings = bundle["vin_index"]["siblings"]
        siblings[-1] = _flip_base64(siblings[-1])

    def absence_claimed(bundle, history):
        bundle["entries"] = []
        bundle["source_keys"] = []

    cases += [
        tampered(
            "vin_index_entry_dropped",
            "the registration left out of a bundle whose vin_index lists it",
            Failure.VIN_INDEX,
            dropped,
        ),
        tampered(
            "vin_index_with_another_vins_entry",
            "another car's logged entry added to a bundle that proves its completeness",
            Failure.ENTRY_VIN,
            another_vins_entry,
        ),
        tampered(
            "stale_vin_index",
            "the vin_index of an older checkpoint, hiding an accident logged since",
            Failure.VIN_INDEX,
            stale,
        ),
        tampered(
            "another_vins_vrf_proof",
            "the VRF proof of another VIN, whose path in the map is not this VIN's",
            Failure.VIN_INDEX,
            other_vrf_proof,
        ),
        tampered(
            "vin_index_sibling_flipped",
            "one bit of the map proof's deepest sibling hash flipped",
            Failure.VIN_INDEX,
            flipped_sibling,
        ),
        tampered(
            "absence_claimed_for_a_vin_with_entries",
            "no entries, and the map proof of a VIN that has six",
            Failure.VIN_INDEX,
            absence_claimed,
        ),
    ]
    return cases


def all_cases() -> list[Case]:
    return [
        *valid_cases(),
        *checkpoint_cases(),
        *proof_cases(),
        *signature_cases(),
        *bundle_cases(),
        *completeness_cases(),
    ]


def write_corpus(directory: Path) -> None:
    """Write every case's bundle and the manifest naming what each must give."""
    directory.mkdir(parents=True, exist_ok=True)
    log_key = CorpusLog().key
    manifest = {"log_key": log_key, "cases": []}
    for case in all_cases():
        path = directory / f"{case.name}.json"
        text = json.dumps(case.bundle, indent=1, ensure_ascii=True, sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")
        manifest["cases"].append(
            {
                "name": case.name,
                "file": path.name,
                "description": case.description,
                "vin": case.vin,
                "failure": None if case.failure is None else str(case.failure),
            }
        )
    text = json.dumps(manifest, indent=1, ensure_ascii=False)
    (directory / "manifest.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
