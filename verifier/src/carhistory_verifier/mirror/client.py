"""The log's endpoints a mirror calls (SPEC §4 and the mirror API), over http.client.

Each thread keeps one keep-alive connection to the log: a catch-up makes a few hundred
requests, and a new TCP (and TLS) connection for each would cost more than the request.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import urllib.parse
import zlib

from carhistory_verifier.entry import b64decode
from carhistory_verifier.tiles import decode_entry_bundle

USER_AGENT = "carhistory-mirror/1"
HTTP_TIMEOUT_SECONDS = 60
# An entry is at most 64 KiB with its two length bytes; anything else a mirror reads is small.
MAX_ENTRY_BYTES = 0x10001
MAX_SMALL_RESPONSE_BYTES = 16 * 1024 * 1024
_GZIP_WINDOW_BITS = 16 + zlib.MAX_WBITS


class LogUnreachable(Exception):
    """The log could not be asked, or its answer could not be read."""


class CosignatureRefused(Exception):
    """The log answered the cosignature with an error; the message carries its reason."""


class MirrorClient:
    """Reads the public checkpoint and proofs, and the private entries with a token."""

    def __init__(self, base_url: str, token: str) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        # A mirror only talks HTTP(S), whatever else a URL can name.
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise LogUnreachable(f"--log must be an http:// or https:// URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._scheme = parsed.scheme
        self._netloc = parsed.netloc
        self._path_prefix = parsed.path.rstrip("/")
        self.token = token
        # Bytes received for entries (as sent, compressed) and for VRF proofs: the transfer
        # cost of a catch-up.
        self.entry_bytes = 0
        self.proof_bytes = 0
        self._count_lock = threading.Lock()
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if self._scheme == "https":
                connection = http.client.HTTPSConnection(
                    self._netloc,
                    timeout=HTTP_TIMEOUT_SECONDS,
                    context=ssl.create_default_context(),
                )
            else:
                connection = http.client.HTTPConnection(self._netloc, timeout=HTTP_TIMEOUT_SECONDS)
            self._local.connection = connection
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _request(
        self,
        path: str,
        *,
        json_body: dict | None = None,
        gzip_ok: bool = False,
        limit: int = MAX_SMALL_RESPONSE_BYTES,
    ) -> tuple[bytes, str]:
        url = self.base_url + path
        headers = {"User-Agent": USER_AGENT, "Authorization": f"Bearer {self.token}"}
        if gzip_ok:
            headers["Accept-Encoding"] = "gzip, identity"
        data = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(json_body).encode("utf-8")
        method = "GET" if data is None else "POST"
        # A kept-alive connection the server has meanwhile closed fails at once; one fresh
        # connection is tried before the log counts as unreachable.
        for attempt in (1, 2):
            try:
                connection = self._connection()
                connection.request(method, self._path_prefix + path, body=data, headers=headers)
                response = connection.getresponse()
                body = response.read(limit + 1)
                encoding = response.headers.get("Content-Encoding", "")
                if not response.will_close and response.length:
                    raise LogUnreachable(f"{url} answered more than {limit} bytes")
                break
            except (http.client.HTTPException, OSError) as error:
                self._drop_connection()
                if attempt == 2:
                    raise LogUnreachable(f"cannot reach {url}: {error}") from None
        if response.will_close:
            self._drop_connection()
        if len(body) > limit:
            self._drop_connection()
            raise LogUnreachable(f"{url} answered more than {limit} bytes")
        if response.status >= 300:
            detail = body[:10_000].decode("utf-8", "replace")
            if json_body is not None and response.status == 400:
                raise CosignatureRefused(detail)
            raise LogUnreachable(f"{url} answered {response.status}: {detail[:500]}")
        return body, encoding

    def _get_text(self, path: str) -> str:
        try:
            return self._request(path)[0].decode("utf-8")
        except UnicodeDecodeError as error:
            raise LogUnreachable(f"{path} is not UTF-8: {error}") from None

    def checkpoint(self) -> str:
        """The latest checkpoint note as served, cosignatures included."""
        return self._get_text("/log/checkpoint")

    def consistency_proof(self, *, first: int, second: int) -> list[bytes]:
        query = urllib.parse.urlencode({"first": first, "second": second})
        text = self._get_text(f"/api/v1/log/proof/consistency?{query}")
        try:
            data = json.loads(text)
            if (data["first"], data["second"]) != (first, second):
                raise ValueError(f"it is for sizes {data['first']} to {data['second']}")
            return [b64decode(value) for value in data["proof"]]
        except (ValueError, KeyError, TypeError) as error:
            raise LogUnreachable(
                f"the consistency proof from {first} to {second} is unreadable: {error}"
            ) from None

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries [start, end) (start a multiple of 256), decoded; LogUnreachable if the
        answer is unreadable or holds another number of entries."""
        limit = (end - start) * MAX_ENTRY_BYTES
        query = urllib.parse.urlencode({"start": start, "end": end})
        body, encoding = self._request(f"/api/v1/mirror/entries?{query}", gzip_ok=True, limit=limit)
        with self._count_lock:
            self.entry_bytes += len(body)
        try:
            if encoding == "gzip":
                decompressor = zlib.decompressobj(_GZIP_WINDOW_BITS)
                body = decompressor.decompress(body, limit)
                if decompressor.unconsumed_tail or not decompressor.eof:
                    raise ValueError("the gzip stream is truncated or longer than the range")
            entries = decode_entry_bundle(body)
        except (zlib.error, ValueError) as error:
            raise LogUnreachable(f"entries {start}-{end - 1} are unreadable: {error}") from None
        if len(entries) != end - start:
            raise LogUnreachable(
                f"the log answered {len(entries)} entries for {start}-{end - 1} (cut short?)"
            )
        return entries

    def vrf_key(self) -> bytes | None:
        """The log's VRF public key (SPEC §7), or None if the log serves none (it predates
        the VIN index)."""
        try:
            text = self._get_text("/log/vrf-key")
        except LogUnreachable as error:
            if " answered 404" in str(error):
                return None
            raise
        try:
            return b64decode(text.strip())
        except ValueError as error:
            raise LogUnreachable(f"/log/vrf-key is not base64: {error}") from None

    def vrf_proofs(self, vins: list[str]) -> dict[str, bytes]:
        """The VRF proof of each of these VINs the log has one for."""
        body, _ = self._request("/api/v1/mirror/vrf-proofs", json_body={"vins": vins})
        with self._count_lock:
            self.proof_bytes += len(body)
        try:
            data = json.loads(body)
            return {vin: b64decode(proof) for vin, proof in data["proofs"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise LogUnreachable(f"the VRF proofs the log sent are unreadable: {error}") from None

    def submit_cosignature(self, cosigned_note: str) -> None:
        """POST the cosigned checkpoint; CosignatureRefused if the log turns it down."""
        self._request("/api/v1/mirror/cosignatures", json_body={"note": cosigned_note})

    def close(self) -> None:
        self._drop_connection()
