"""A small in-memory carhistory log for tests of the offline verifier: real keys, real entry
bytes and proofs, no Django, so bundles can be built and tampered with freely."""

from __future__ import annotations

import copy
from typing import Any

from carhistory_verifier import merkle
from carhistory_verifier.entry import b64encode, entry_bytes, new_nonce, statement_bytes
from carhistory_verifier.note import Checkpoint, Signer, sign_checkpoint

ORIGIN = "carhistory.localhost/log"
VIN = "LSVAU2180N2183294"
OTHER_VIN = "LFV2A21K5F4032016"


class MemoryLog:
    """An append-only list of entries with the log's signer, as the server keeps them."""

    def __init__(self) -> None:
        self.signer = Signer.generate(ORIGIN)
        self.key = self.signer.verifier().key_string()
        self.entries: list[dict[str, Any]] = []

    def append(self, entry: dict[str, Any]) -> int:
        self.entries.append(entry)
        return len(self.entries) - 1

    def _entry(self, *, type: str, source: str, vin: str | None, facts: dict, **fields: Any):
        entry = {"v": 1, "type": type, "source": source, "facts": facts, **fields}
        if vin is not None:
            entry["vin"] = vin
        entry.setdefault("occurred_at", "2024-05-03")
        return entry

    def _signed(self, entry: dict[str, Any], signer: Signer, key: str) -> dict[str, Any]:
        entry["source_key"] = key
        entry["source_sig"] = b64encode(signer.sign(statement_bytes(entry)))
        entry["private_commitment"] = None
        entry["submitted_at"] = "2024-05-03T09:12:44Z"
        entry["nonce"] = new_nonce()
        return entry

    def platform_entry(self, type: str, facts: dict, vin: str | None = None) -> int:
        entry = self._entry(type=type, source="platform", vin=vin, facts=facts)
        return self.append(self._signed(entry, self.signer, self.key))

    def add_source_key(self, source: str, signer: Signer) -> int:
        facts = {"source": source, "key": signer.verifier().key_string()}
        return self.platform_entry("source_key", facts)

    def source_entry(
        self,
        source: str,
        signer: Signer | None,
        type: str = "service",
        vin: str | None = VIN,
        facts: dict | None = None,
        **fields: Any,
    ) -> int:
        """An entry signed by the source's own key, or by the log key on its behalf."""
        entry = self._entry(type=type, source=source, vin=vin, facts=facts or {}, **fields)
        if signer is None:
            return self.append(self._signed(entry, self.signer, self.key))
        return self.append(self._signed(entry, signer, signer.verifier().key_string()))

    def leaf_hashes(self, size: int) -> list[bytes]:
        return [merkle.leaf_hash(entry_bytes(entry)) for entry in self.entries[:size]]

    def checkpoint(self, size: int | None = None) -> str:
        size = len(self.entries) if size is None else size
        root = merkle.root_from_leaf_hashes(self.leaf_hashes(size))
        return sign_checkpoint(Checkpoint(ORIGIN, size, root), self.signer)

    def proven(self, index: int, size: int) -> dict[str, Any]:
        proof = merkle.inclusion_proof(index, self.leaf_hashes(size))
        return {
            "index": index,
            "entry": copy.deepcopy(self.entries[index]),
            "inclusion_proof": [b64encode(h) for h in proof],
        }

    def bundle(
        self, entries: list[int], source_keys: list[int], *, size: int | None = None
    ) -> dict[str, Any]:
        size = len(self.entries) if size is None else size
        return {
            "format": "carhistory-evidence/v1",
            "vin": VIN,
            "checkpoint": self.checkpoint(size),
            "log_key": self.key,
            "entries": [self.proven(index, size) for index in entries],
            "source_keys": [self.proven(index, size) for index in source_keys],
        }
