"""The witness's HTTP server: `POST <prefix>/add-checkpoint` as C2SP tlog-witness v1.0.0 says.

`Witness` holds the keys and the state and turns a request body into an answer; the HTTP
handler only moves bytes. Standard library only (`http.server`), with HTTP/1.1 keep-alive as
the spec recommends, so a log pushing every checkpoint reuses one connection.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from carhistory_verifier.note import CosignatureSigner, Verifier, cosign_checkpoint
from carhistory_verifier.witness.decision import (
    MAX_BODY_BYTES,
    Refusal,
    Status,
    authenticate,
    extend,
    parse_add_checkpoint,
)
from carhistory_verifier.witness.state import WitnessState

ADD_CHECKPOINT = "/add-checkpoint"
SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


class Witness:
    """A witness: its cosigning key, the log keys it trusts (by origin, the key's name, as
    C2SP checkpoints name their log) and its durable state."""

    def __init__(
        self,
        *,
        key: CosignatureSigner,
        log_keys: Sequence[Verifier],
        state: WitnessState,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.state = state
        self._clock = clock
        trusted: dict[str, list[Verifier]] = defaultdict(list)
        for log_key in log_keys:
            trusted[log_key.name].append(log_key)
        self.trusted_keys = dict(trusted)

    def add_checkpoint(self, body: bytes) -> Answer:
        """Check one add-checkpoint body, record the checkpoint, and answer the cosignature."""
        try:
            request = parse_add_checkpoint(body)
            checkpoint = authenticate(request, self.trusted_keys)
            self.state.advance(
                checkpoint.origin,
                lambda cosigned: extend(request=request, checkpoint=checkpoint, cosigned=cosigned),
            )
        except Refusal as refusal:
            return _refusal_answer(refusal)
        # Signed only after the state is committed: a crash in between leaves the witness
        # ahead of the log, which recovers through a 409, never behind what it has cosigned.
        line = cosign_checkpoint(request.checkpoint_note, self.key, timestamp=int(self._clock()))
        return Answer(Status.COSIGNED, TEXT_CONTENT_TYPE, line.encode("utf-8"))


def _refusal_answer(refusal: Refusal) -> Answer:
    if refusal.status == Status.CONFLICT:
        return Answer(refusal.status, SIZE_CONTENT_TYPE, f"{refusal.latest_size}\n".encode())
    return Answer(refusal.status, TEXT_CONTENT_TYPE, f"{refusal}\n".encode())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body leave in two writes. With Nagle's algorithm the body waits
    # for the ACK of the headers, which a keep-alive client delays by up to 40 ms: that wait,
    # not the witness's work, held one connection to about 25 answers a second.
    disable_nagle_algorithm = True
    server_version = "carhistory-witness/1"
    witness: Witness
    prefix: str

    def do_POST(self) -> None:
        if self.path != self.prefix + ADD_CHECKPOINT:
            self._send(Answer(404, TEXT_CONTENT_TYPE, b"not found\n"))
            return
        length = self._content_length()
        if length is None:
            self.close_connection = True
            self._send(Answer(400, TEXT_CONTENT_TYPE, b"a body with Content-Length is needed\n"))
            return
        self._send(self.witness.add_checkpoint(self.rfile.read(length)))

    def do_GET(self) -> None:
        self._send(Answer(404, TEXT_CONTENT_TYPE, b"not found\n"))

    def _content_length(self) -> int | None:
        value = self.headers.get("Content-Length", "")
        if not value.isascii() or not value.isdecimal() or int(value) > MAX_BODY_BYTES:
            return None
        return int(value)

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: object) -> None:
        # One line per request would be most of the work at hundreds of requests a second.
        pass


def make_server(witness: Witness, host: str, port: int, *, prefix: str = "") -> ThreadingHTTPServer:
    """An HTTP server answering `POST {prefix}/add-checkpoint`; call `serve_forever()` on it."""
    handler = type("WitnessHandler", (_Handler,), {"witness": witness, "prefix": prefix})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
