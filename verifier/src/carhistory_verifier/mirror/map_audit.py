"""The mirror's audit of the VIN index (SPEC §7): the map recomputed from the entries.

Every entry with a VIN adds its index under that VIN's map key, which the mirror learns from
the VIN's VRF proof (verified once per VIN under the log's VRF key, then kept in the store).
Every `vin_index` entry at index N must then say exactly what the mirror computed: size N, the
root of the map over entries 0 … N − 1, and the log's VRF key. A log that leaves an entry out of
the map (to hide an accident from buyers) or adds one that is not there is caught at the first
`vin_index` entry after it, and the mirror names that index and refuses to cosign.

A catch-up meets a new VIN every few entries, and an ECVRF verification costs about half a
millisecond, far more than anything else per entry; a log's first entries bring most of its
VINs. `KeyLearner` therefore asks the log for the proofs of the VINs a range of entries brings
as soon as that range is fetched, reads each map key from its proof at once (`proof_to_hash`,
a few point additions) so that hashing, auditing and storing go on, and checks the proofs in
worker processes meanwhile. Nothing is cosigned before `confirm` has seen every check pass,
and a wrong map is reported only after it (a forged proof is the first problem then).
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from carhistory_verifier import protocol, vrf
from carhistory_verifier.entry import b64decode, b64encode
from carhistory_verifier.vin_index import VinIndex

# A VIN as the store keeps it: its map key, its VRF proof, its entry indexes.
KnownVin = tuple[bytes, bytes, list[int]]
# A VIN's map key and the VRF proof it is read from.
KeyAndProof = tuple[bytes, bytes]
# Proofs verified in one worker call: enough to make the hand-off cheap against the work.
PROOFS_PER_TASK = 256
# The checks only need to end before the cosignature, while the mirror's own process is the
# one stage every entry passes through in order: on a busy machine it goes first.
WORKER_NICENESS = 10
# Fewer new VINs than this are verified in the mirror's own process: starting workers would
# cost more (an incremental run usually meets a handful).
PARALLEL_FROM = 2 * PROOFS_PER_TASK


class MapRefused(Exception):
    """The VIN index the log committed to is not the one its entries make; the message names
    the first entry index where they differ."""


@dataclass(frozen=True)
class ReadEntries:
    """What the audit needs of consecutive entries from index `first` on: each one's VIN
    (None when it has none), and the facts of each `vin_index` entry among them, by index."""

    first: int
    vins: list[str | None]
    vin_index_facts: dict[int, object]

    def since(self, index: int) -> ReadEntries:
        """The same for the entries from `index` on."""
        return ReadEntries(
            index,
            self.vins[index - self.first :],
            {at: facts for at, facts in self.vin_index_facts.items() if at >= index},
        )


# `json.loads` with no options decodes with this same default decoder.
_DECODER = json.JSONDecoder()
_JSON_WHITESPACE = " \t\n\r"


def _loads(data: bytes) -> object:
    """Exactly `json.loads(data)`, a fifth faster on an entry (about 1 µs of 5).

    `json.loads` reads any bytes that start with "{" and then a byte other than NUL as UTF-8
    (its encoding detection is skipped here), and then skips JSON whitespace before and after
    the value with a regular expression each time: a value starting with "{" has none before
    it, and what follows it must be JSON whitespace only."""
    if data[:1] != b"{" or data[1:2] == b"\x00":
        return json.loads(data)
    text = data.decode("utf-8", "surrogatepass")
    value, end = _DECODER.raw_decode(text)
    if end != len(text) and text[end:].lstrip(_JSON_WHITESPACE):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def read_entries(first: int, entries: Sequence[bytes]) -> ReadEntries:
    """Read entries `first`, `first` + 1, ... as a buyer's verifier reads them (`json.loads`
    of the whole entry, so a nested "vin" does not count); MapRefused naming the first that is
    not a JSON object."""
    vins: list[str | None] = []
    facts: dict[int, object] = {}
    for index, data in enumerate(entries, start=first):
        try:
            entry = _loads(data)
        except (ValueError, RecursionError):
            # RecursionError: arrays nested thousands deep, which fit in an entry's 64 KiB.
            raise MapRefused(f"entry {index} is not JSON") from None
        if not isinstance(entry, dict):
            raise MapRefused(f"entry {index} is not a JSON object")
        vin = entry.get("vin")
        vins.append(vin if isinstance(vin, str) else None)
        if entry.get("type") == protocol.VIN_INDEX:
            facts[index] = entry.get("facts")
    return ReadEntries(first, vins, facts)


def check_proofs(vrf_key: bytes, proofs: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """Check VRF proofs; return each VIN whose proof failed, with the reason. A plain
    function of plain values, so that a worker process can run it."""
    failures = []
    for vin, proof in proofs:
        try:
            vrf.check_proof(vrf_key, vin.encode("ascii"), proof)
        except (vrf.VrfError, UnicodeEncodeError) as error:
            failures.append((vin, str(error)))
    return failures


def _refuse_proof(vin: str, reason: str) -> MapRefused:
    return MapRefused(f"the VRF proof the log sent for VIN {vin} does not verify: {reason}")


def claimed_keys(proofs: Mapping[str, bytes]) -> dict[str, KeyAndProof]:
    """Each VIN's map key as its proof states it (RFC 9381 §5.2), before the proof is
    checked; MapRefused naming a VIN whose proof cannot even be read."""
    keys = {}
    for vin, proof in proofs.items():
        try:
            keys[vin] = (vrf.proof_to_hash(proof)[:32], proof)
        except vrf.VrfError as error:
            raise _refuse_proof(vin, str(error)) from None
    return keys


class KeyLearner:
    """Learns the keys of VINs the mirror has not met, from the threads that fetch ranges of
    entries, and has their proofs checked meanwhile (see the module docstring). Each VIN is
    asked for once, by the first range to bring it; any range that brings it waits for that
    answer."""

    def __init__(
        self, *, vrf_key: bytes, known: Iterable[str], fetch: Callable[[list[str]], dict]
    ) -> None:
        self.vrf_key = vrf_key
        self._fetch = fetch
        self._known = frozenset(known)
        self._batch_of: dict[str, _Batch] = {}
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._checks: list[concurrent.futures.Future] = []
        # Too few to be worth a worker process: checked in this one by `confirm`.
        self._unchecked: list[tuple[str, bytes]] = []

    def keys_for(self, vins: Iterable[str | None]) -> RangeKeys:
        """The keys of those of `vins` the mirror did not know when it started, to come."""
        wanted = {vin for vin in vins if vin is not None} - self._known
        batch = _Batch()
        with self._lock:
            new = sorted(vin for vin in wanted if vin not in self._batch_of)
            for vin in new:
                self._batch_of[vin] = batch
            batches = {id(self._batch_of[vin]): self._batch_of[vin] for vin in wanted}
        if new:
            batch.start(self, new)
        return RangeKeys(list(batches.values()))

    def check_later(self, proofs: list[tuple[str, bytes]]) -> None:
        """Have these (VIN, proof) pairs checked before `confirm` returns."""
        if len(proofs) < PARALLEL_FROM:
            with self._lock:
                self._unchecked.extend(proofs)
            return
        pool = self._workers()
        tasks = [
            pool.submit(check_proofs, self.vrf_key, proofs[start : start + PROOFS_PER_TASK])
            for start in range(0, len(proofs), PROOFS_PER_TASK)
        ]
        with self._lock:
            self._checks.extend(tasks)

    def confirm(self) -> None:
        """Wait for every check asked for so far; MapRefused naming a VIN whose proof failed."""
        with self._lock:
            unchecked, self._unchecked = self._unchecked, []
            tasks = list(self._checks)
        failures = check_proofs(self.vrf_key, unchecked)
        for task in tasks:
            failures.extend(task.result())
        if failures:
            raise _refuse_proof(*failures[0])

    def _workers(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # Spawned, not forked: the fetching threads hold locks a fork would copy.
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=os.cpu_count() or 1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=os.nice,
                    initargs=(WORKER_NICENESS,),
                )
            return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


class _Batch:
    """The VINs one range asked for first: their proofs fetched and their keys read."""

    def __init__(self) -> None:
        self._started = threading.Event()
        self._error: Exception | None = None
        self._keys: dict[str, KeyAndProof] = {}

    def start(self, learner: KeyLearner, vins: list[str]) -> None:
        try:
            proofs = learner._fetch(vins)
            self._keys = claimed_keys({vin: proofs[vin] for vin in vins if vin in proofs})
            learner.check_later([(vin, proof) for vin, (_key, proof) in self._keys.items()])
        except Exception as error:
            # Kept for the other ranges waiting on these VINs, and raised in this one.
            self._error = error
            raise
        finally:
            self._started.set()

    def take(self) -> dict[str, KeyAndProof]:
        """The batch's keys the first time (waiting for them), nothing after."""
        self._started.wait()
        if self._error is not None:
            raise self._error
        keys, self._keys = self._keys, {}
        return keys


class RangeKeys:
    """The keys of the new VINs of one range, from the batches that asked for them."""

    def __init__(self, batches: list[_Batch]) -> None:
        self.batches = batches

    def result(self) -> dict[str, KeyAndProof]:
        """The keys of the batches not handed over before. A catch-up's ranges each meet
        VINs of two or three earlier batches of 16,384: handing each batch's keys to the
        audit once rather than with every range spared a few million dict operations."""
        keys: dict[str, KeyAndProof] = {}
        for batch in self.batches:
            keys.update(batch.take())
        return keys


class MapAudit:
    """The map as of some tree size, grown entry by entry."""

    def __init__(
        self, *, vrf_key: bytes, known: Iterable[tuple[str, bytes, bytes, bytes]] = ()
    ) -> None:
        """`known` is what the store holds: each VIN, its map key, its VRF proof and its
        entry indexes as 8-byte big-endian integers."""
        self.vrf_key = vrf_key
        self.keys: dict[str, bytes] = {}
        self.proofs: dict[str, bytes] = {}
        self.index = VinIndex()
        self.changed: dict[str, list[int]] = {}
        for vin, key, proof, indexes in known:
            self.keys[vin] = key
            self.proofs[vin] = proof
            self.index.add_encoded(key, indexes)

    def learn(self, keys: Mapping[str, KeyAndProof]) -> None:
        """Keep map keys read elsewhere (`KeyLearner`, whose `confirm` checks their proofs)."""
        for vin, (key, proof) in keys.items():
            self.keys.setdefault(vin, key)
            self.proofs.setdefault(vin, proof)

    def learn_keys(self, proofs: Mapping[str, bytes]) -> None:
        """Verify the VRF proofs of VINs not seen yet and keep their map keys."""
        new = {vin: proof for vin, proof in proofs.items() if vin not in self.keys}
        failures = check_proofs(self.vrf_key, list(new.items()))
        if failures:
            raise _refuse_proof(*failures[0])
        self.learn(claimed_keys(new))

    def observe(self, entry_index: int, data: bytes) -> None:
        """Account for entry `entry_index`; MapRefused if it is a `vin_index` entry that does
        not match the map the entries before it make."""
        self.observe_entries(read_entries(entry_index, [data]))

    def observe_entries(self, read: ReadEntries) -> None:
        """`observe` for each entry `read_entries` has read, in order."""
        first, vins, facts = read.first, read.vins, read.vin_index_facts
        start = first
        # Each `vin_index` entry is checked against the map of the entries before it, then
        # its own VIN (if it has one) counts like any other entry's.
        for at in sorted(facts):
            self._add(start, vins[start - first : at - first])
            self._check(at, facts[at])
            start = at
        self._add(start, vins[start - first :])

    def _add(self, first: int, vins: list[str | None]) -> None:
        keys, add, changed = self.keys, self.index.add, self.changed
        for entry_index, vin in enumerate(vins, start=first):
            if vin is None:
                continue
            key = keys.get(vin)
            if key is None:
                raise MapRefused(f"the log sent no VRF proof for the VIN of entry {entry_index}")
            add(key, entry_index)
            added = changed.get(vin)
            if added is None:
                changed[vin] = [entry_index]
            else:
                added.append(entry_index)

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
