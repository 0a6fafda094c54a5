"""The mirror's audit of the VIN index (SPEC §7): the map recomputed from the entries.

Every entry with a VIN adds its index under that VIN's map key, which the mirror learns from
the VIN's VRF proof (verified once per VIN under the log's VRF key, then kept in the store).
Every `vin_index` entry at index N must then say exactly what the mirror computed: size N, the
root of the map over entries 0 … N − 1, and the log's VRF key. A log that leaves an entry out of
the map (to hide an accident from buyers) or adds one that is not there is caught at the first
`vin_index` entry after it, and the mirror names that index and refuses to cosign.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from carhistory_verifier import protocol, vrf
from carhistory_verifier.entry import b64decode, b64encode
from carhistory_verifier.vin_index import VinIndex

# A VIN as the store keeps it: its map key, its VRF proof, its entry indexes.
KnownVin = tuple[bytes, bytes, list[int]]


class MapRefused(Exception):
    """The VIN index the log committed to is not the one its entries make; the message names
    the first entry index where they differ."""


class MapAudit:
    """The map as of some tree size, grown entry by entry."""

    def __init__(self, *, vrf_key: bytes, known: Mapping[str, KnownVin]) -> None:
        """`known` is what the store holds: each VIN's map key, VRF proof and entry indexes."""
        self.vrf_key = vrf_key
        self.keys: dict[str, bytes] = {}
        self.proofs: dict[str, bytes] = {}
        self.index = VinIndex()
        self.changed: dict[str, list[int]] = {}
        for vin, (key, proof, indexes) in known.items():
            self.keys[vin] = key
            self.proofs[vin] = proof
            for entry_index in indexes:
                self.index.add(key, entry_index)

    def learn_keys(self, proofs: Mapping[str, bytes]) -> None:
        """Verify the VRF proofs of VINs not seen yet and keep their map keys."""
        for vin, proof in proofs.items():
            if vin in self.keys:
                continue
            try:
                beta = vrf.verify(self.vrf_key, vin.encode("ascii"), proof)
            except (vrf.VrfError, UnicodeEncodeError) as error:
                raise MapRefused(
                    f"the VRF proof the log sent for a VIN does not verify: {error}"
                ) from None
            self.keys[vin] = beta[:32]
            self.proofs[vin] = proof

    def observe(self, entry_index: int, data: bytes) -> None:
        """Account for entry `entry_index`; MapRefused if it is a `vin_index` entry that does
        not match the map the entries before it make."""
        try:
            entry = json.loads(data)
        except ValueError:
            raise MapRefused(f"entry {entry_index} is not JSON") from None
        vin = entry.get("vin") if isinstance(entry, dict) else None
        if entry.get("type") == protocol.VIN_INDEX:
            self._check(entry_index, entry.get("facts"))
        if isinstance(vin, str):
            key = self.keys.get(vin)
            if key is None:
                raise MapRefused(f"the log sent no VRF proof for the VIN of entry {entry_index}")
            self.index.add(key, entry_index)
            self.changed.setdefault(vin, []).append(entry_index)

    def _check(self, entry_index: int, facts: object) -> None:
        where = f"wrong map at index {entry_index}"
        if not isinstance(facts, dict) or facts.get("size") != entry_index:
            raise MapRefused(f"{where}: the vin_index entry's size is not {entry_index}")
        if facts.get("vrf_key") != b64encode(self.vrf_key):
            raise MapRefused(f"{where}: the vin_index entry names another VRF key")
        root = self.index.root()
        try:
            claimed = b64decode(facts.get("root", ""))
        except ValueError:
            claimed = b""
        if claimed != root:
            raise MapRefused(
                f"{where}: the vin_index entry commits to root {facts.get('root')}, but the "
                f"VIN index of entries 0-{entry_index - 1} has root {b64encode(root)}"
            )

    def take_changes(self) -> dict[str, KnownVin]:
        """The VINs that gained entries since the last call, with their keys, VRF proofs and
        new indexes, for the store to record in the same transaction as the entries. The
        proofs are kept so that a log restored from the store needs no VRF secret to rebuild
        its map."""
        changes = {
            vin: (self.keys[vin], self.proofs[vin], added) for vin, added in self.changed.items()
        }
        self.changed = {}
        return changes
