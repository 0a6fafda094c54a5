"""An in-test C2SP log (real keys, real RFC 9162 proofs, any origin) and a running witness, for
the tlog-witness tests."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from carhistory_verifier import merkle
from carhistory_verifier.note import Checkpoint, CosignatureSigner, Signer, sign_checkpoint
from carhistory_verifier.witness.client import request_body
from carhistory_verifier.witness.server import Witness, make_server
from carhistory_verifier.witness.state import WitnessState


class TreeLog:
    """A log that is nothing but leaf hashes and a signer: what any C2SP log shows a witness."""

    def __init__(self, origin: str = "example.com/behind-the-sofa") -> None:
        self.signer = Signer.generate(origin)
        self.leaves: list[bytes] = []

    @property
    def key(self):
        return self.signer.verifier()

    def grow(self, count: int) -> int:
        start = len(self.leaves)
        self.leaves += [merkle.leaf_hash(b"leaf %d" % i) for i in range(start, start + count)]
        return len(self.leaves)

    def checkpoint(self, size: int | None = None, *, root: bytes | None = None) -> str:
        size = len(self.leaves) if size is None else size
        root = root or merkle.root_from_leaf_hashes(self.leaves[:size])
        return sign_checkpoint(Checkpoint(self.signer.name, size, root), self.signer)

    def proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        size = len(self.leaves) if size is None else size
        if old_size == 0:
            return []
        return merkle.consistency_proof(old_size, self.leaves[:size])

    def body(self, old_size: int, size: int | None = None) -> bytes:
        return request_body(
            old_size=old_size,
            proof=self.proof(old_size, size),
            checkpoint_note=self.checkpoint(size),
        )


def other_root(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


@contextmanager
def running_witness(
    state_path: Path, *logs: TreeLog, key: CosignatureSigner | None = None
) -> Iterator[tuple[str, Witness]]:
    """A witness trusting `logs`, serving on a free port in this process; yields its URL."""
    key = key or CosignatureSigner.generate("witness.example/w1")
    witness = Witness(key=key, log_keys=[log.key for log in logs], state=WitnessState(state_path))
    server = make_server(witness, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", witness
    finally:
        server.shutdown()
        server.server_close()
        witness.state.close()
