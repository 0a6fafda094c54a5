"""The log's endpoints a mirror calls (SPEC §4 and the mirror API), over urllib."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.parse
import urllib.request

from carhistory_verifier.entry import b64decode
from carhistory_verifier.tiles import TileAddress, decode_entry_bundle, tile_path

USER_AGENT = "carhistory-mirror/1"
HTTP_TIMEOUT_SECONDS = 60
# A full bundle is 256 entries of at most 64 KiB each.
MAX_RESPONSE_BYTES = 256 * 0x10001 + 1024


class LogUnreachable(Exception):
    """The log could not be asked, or its answer could not be read."""


class CosignatureRefused(Exception):
    """The log answered the cosignature with an error; the message carries its reason."""


class MirrorClient:
    """Reads the public checkpoint and proofs, and the private entry bundles with a token."""

    def __init__(self, base_url: str, token: str) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        # urllib would also open file: and ftp: URLs; a mirror only talks HTTP(S).
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise LogUnreachable(f"--log must be an http:// or https:// URL, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        # Bytes received for entry bundles, as sent (compressed): the transfer cost.
        self.bundle_bytes = 0

    def _request(
        self, path: str, *, json_body: dict[str, str] | None = None, gzip_ok: bool = False
    ) -> tuple[bytes, str]:
        url = self.base_url + path
        headers = {"User-Agent": USER_AGENT, "Authorization": f"Bearer {self.token}"}
        if gzip_ok:
            headers["Accept-Encoding"] = "gzip, identity"
        data = None
        if json_body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(json_body).encode("utf-8")
        request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - scheme checked in __init__
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310 - as above
                body = response.read(MAX_RESPONSE_BYTES + 1)
                encoding = response.headers.get("Content-Encoding", "")
        except urllib.error.HTTPError as error:
            detail = error.read(10_000).decode("utf-8", "replace")
            if json_body is not None and error.code == 400:
                raise CosignatureRefused(detail) from None
            raise LogUnreachable(f"{url} answered {error.code}: {detail[:500]}") from None
        except (urllib.error.URLError, OSError) as error:
            raise LogUnreachable(f"cannot reach {url}: {error}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise LogUnreachable(f"{url} answered more than {MAX_RESPONSE_BYTES} bytes")
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

    def entry_bundle(self, address: TileAddress) -> list[bytes]:
        """The entries of one bundle, decoded; LogUnreachable if unreadable."""
        path = "/api/v1/mirror/tile/entries/" + tile_path(address).removeprefix("0/")
        body, encoding = self._request(path, gzip_ok=True)
        self.bundle_bytes += len(body)
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            return decode_entry_bundle(body)
        except (OSError, EOFError, ValueError) as error:
            raise LogUnreachable(f"entry bundle {address.index} is unreadable: {error}") from None

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

    def vrf_proofs(self, address: TileAddress) -> dict[str, bytes]:
        """The VRF proof of every VIN among the entries of one bundle."""
        path = "/api/v1/mirror/vrf-proofs/" + tile_path(address).removeprefix("0/")
        body, _ = self._request(path)
        try:
            data = json.loads(body)
            return {vin: b64decode(proof) for vin, proof in data["proofs"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise LogUnreachable(f"VRF proofs of bundle {address.index}: {error}") from None

    def submit_cosignature(self, cosigned_note: str) -> None:
        """POST the cosigned checkpoint; CosignatureRefused if the log turns it down."""
        self._request("/api/v1/mirror/cosignatures", json_body={"note": cosigned_note})
