"""Webhooks: refuse URLs that lead inside our network, sign what is sent, send it.

A webhook URL is typed by a stranger, and the server then makes requests to it: without a
check, `https://127.0.0.1:6379/` or an address inside the data centre would let anyone reach
services that trust the local network (server-side request forgery). So the host must resolve
to public addresses only, checked when the webhook is registered and again before each
delivery (a name can be re-pointed after registration). Tests, whose receivers run on the
loopback interface, turn the check off with `WATCH_WEBHOOKS_ALLOW_PRIVATE`.

Receivers check `X-Carhistory-Signature: sha256=<hex>`, the HMAC-SHA256 (RFC 2104, Python's
`hmac`) of `<timestamp>.<body>` under the secret they were given; the timestamp header lets
them refuse old replays.
"""

import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

TIMEOUT_SECONDS = 10


class WebhookRefused(ValueError):
    """The URL cannot be a webhook; the message says why."""


def check_url(url: str) -> None:
    """Refuse anything but an HTTPS URL whose host resolves to public addresses only."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise WebhookRefused(_("Enter an https:// URL."))
    if parts.username or parts.password:
        raise WebhookRefused(_("Leave user names and passwords out of the URL."))
    if getattr(settings, "WATCH_WEBHOOKS_ALLOW_PRIVATE", False):
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (socket.gaierror, UnicodeError):
        raise WebhookRefused(_("This host name does not resolve.")) from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise WebhookRefused(
                _("This URL leads to a private, loopback or reserved address (%(address)s).")
                % {"address": ip}
            )


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def post(*, url: str, secret: str, payload: dict) -> int:
    """Send `payload` signed; the HTTP status, or an exception when it could not be sent."""
    check_url(url)
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 (check_url allows https only)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "carhistory-webhook/1",
            "X-Carhistory-Timestamp": timestamp,
            "X-Carhistory-Signature": signature(secret=secret, timestamp=timestamp, body=body),
        },
    )
    context = ssl.create_default_context(cafile=getattr(settings, "WATCH_WEBHOOKS_CA_FILE", None))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=context) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
