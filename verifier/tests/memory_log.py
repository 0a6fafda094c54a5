"""A small in-memory carhistory log for tests of the offline verifier: real keys, real entry
bytes and proofs, no Django, so bundles can be built and tampered with freely."""

from __future__ import annotations

import copy
from typing import Any

from carhistory_verifier import merkle, vrf
from carhistory_verifier.entry import b64encode, entry_bytes, new_nonce, statement_bytes
from carhistory_verifier.note import Checkpoint, Signer, sign_checkpoint
from carhistory_verifier.vin_index import VinIndex

ORIGIN = "carhistory.localhost/log"
VIN = "LSVAU2180N2183294"
OTHER_VIN = "LFV2A21K5F4032016"


class MemoryLog:
    """An append-only list of entries with the log's signer and VRF key, as the server keeps
    them. Its checkpoints commit to the VIN index (SPEC §7) once `commit_vin_index` is called."""

    def __init__(self) -> None:
        self.signer = Signer.generate(ORIGIN)
        self.key = self.signer.verifier().key_string()
        self.vrf_key = vrf.VrfKey.generate()
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

    def commit_vin_index(self) -> int:
        """Log the `vin_index` entry that ends a checkpoint: the map of every VIN's entries
        logged so far (SPEC §7)."""
        size = len(self.entries)
        facts = {
            "size": size,
            "root": b64encode(self._vin_index(size).root()),
            "vrf_key": b64encode(self.vrf_key.public_key),
        }
        return self.platform_entry("vin_index", facts)

    def _vin_index(self, size: int) -> VinIndex:
        index = VinIndex()
        for position, entry in enumerate(self.entries[:size]):
            if "vin" in entry:
                index.add(self.vin_key(entry["vin"]), position)
        return index

    def vrf_proof(self, vin: str) -> bytes:
        return vrf.prove(self.vrf_key, vin.encode("ascii"))

    def vin_key(self, vin: str) -> bytes:
        return vrf.proof_to_hash(self.vrf_proof(vin))[:32]

    def vin_index_section(self, vin: str, size: int) -> dict[str, Any]:
        """The bundle's `vin_index` for `vin` against the checkpoint of `size`, whose last
        entry must be a `vin_index` entry (SPEC §6, §7)."""
        proof = self._vin_index(size - 1).prove(self.vin_key(vin))
        leaf = proof.leaf
        return {
            **self.proven(size - 1, size),
            "vrf_proof": b64encode(self.vrf_proof(vin)),
            "siblings": [b64encode(sibling) for sibling in proof.siblings],
            "leaf": None
            if leaf is None
            else {"key": b64encode(leaf.key), "index_hash": b64encode(leaf.index_hash)},
        }

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
        """A bundle for VIN; with its `vin_index` when the checkpoint ends with one."""
        size = len(self.entries) if size is None else size
        bundle = {
            "format": "carhistory-evidence/v1",
            "vin": VIN,
            "checkpoint": self.checkpoint(size),
            "log_key": self.key,
            "entries": [self.proven(index, size) for index in entries],
            "source_keys": [self.proven(index, size) for index in source_keys],
        }
        if size and self.entries[size - 1]["type"] == "vin_index":
            bundle["vin_index"] = self.vin_index_section(VIN, size)
        return bundle
