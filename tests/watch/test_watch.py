"""Watching a car, through a real SMTP server (aiosmtpd) and a real HTTPS webhook receiver."""

import datetime
import hashlib
import hmac
import json
import re
import socket
import ssl
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.utils import timezone

from carhistory.moderation.services import accept_dispute, open_dispute
from carhistory.watch import services, webhooks
from carhistory.watch.models import Notice, Watch
from ledger.selectors import entries_by_index
from tests.moderation.factories import make_moderator
from tests.vehicles.logbook import VIN, Logbook

pytestmark = pytest.mark.django_db(transaction=True)

API = f"/api/v1/vehicles/{VIN}/watch"


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings):
    port = free_port()
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.SITE_URL = "https://carhistory.example"
    mailbox.controller = controller
    yield mailbox
    controller.stop()


def wait_for_mail(mailbox, count):
    deadline = time.monotonic() + 10
    while len(mailbox.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return mailbox.messages


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link(message, name: str) -> str:
    return re.search(rf"https://carhistory\.example(/watch/{name}/\S+)", body(message)).group(1)


@pytest.fixture
def logbook(log_key):
    book = Logbook()
    book.dealer = book.source("sh-anting-vw-4s")
    return book


def confirmed_watch(client, smtp, email="buyer@example.cn") -> Watch:
    assert client.post(API, {"email": email}, content_type="application/json").status_code == 202
    [confirmation] = wait_for_mail(smtp, 1)
    assert client.get(link(confirmation, "confirm")).status_code == 200
    smtp.messages.clear()
    return Watch.objects.get(email=email)


def test_api_watch_sends_a_confirmation_whose_link_starts_the_watch(client, smtp, logbook):
    response = client.post(API, {"email": "Buyer@Example.cn"}, content_type="application/json")
    assert response.status_code == 202
    [message] = wait_for_mail(smtp, 1)
    assert message["To"] == "buyer@example.cn"
    assert VIN in message["Subject"] and VIN in body(message)
    assert (
        message["List-Unsubscribe"]
        .strip()
        .startswith("<https://carhistory.example/watch/unsubscribe/")
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    watch = Watch.objects.get()
    assert not watch.is_active  # double opt-in: nothing until the link is opened

    assert client.get(link(message, "confirm")).status_code == 200
    watch.refresh_from_db()
    assert watch.is_active


def test_no_news_is_mailed_before_confirmation(client, smtp, logbook):
    client.post(API, {"email": "buyer@example.cn"}, content_type="application/json")
    wait_for_mail(smtp, 1)
    logbook.event(logbook.dealer, "service", "2024-05-01", odometer_km=1000, items=["oil"])
    time.sleep(0.3)
    assert len(smtp.messages) == 1


def test_a_new_record_is_mailed_once_and_a_second_waits_a_day(client, smtp, logbook):
    watch = confirmed_watch(client, smtp)
    first = logbook.event(logbook.dealer, "service", "2024-05-01", odometer_km=1000, items=["oil"])
    [news] = wait_for_mail(smtp, 1)
    assert VIN in body(news) and f"#{first}" in body(news)
    assert "unsubscribe" in news["List-Unsubscribe"]
    assert link(news, "unsubscribe")

    second = logbook.event(logbook.dealer, "odometer", "2024-06-01", odometer_km=2000)
    time.sleep(0.3)
    assert len(smtp.messages) == 1  # at most one e-mail a day per car
    assert Notice.objects.filter(watch=watch, sent_at__isnull=True).count() == 1

    tomorrow = timezone.now() + datetime.timedelta(days=1, minutes=1)
    assert services.send_digest(
        watch_id=watch.pk, site_url="https://carhistory.example", now=tomorrow
    )
    [_first, later] = wait_for_mail(smtp, 2)
    assert f"#{second}" in body(later)


def test_recalls_and_disputes_are_told_too(client, smtp, logbook):
    watch = confirmed_watch(client, smtp)
    oem = logbook.source("anting-motor-works", kind="oem")
    recall = logbook.event(
        oem, "recall", "2024-05-01", campaign="C-1", status="open", component="x"
    )
    dispute = open_dispute(entry=entries_by_index([recall])[recall], reason="not this car")
    # A new dispute is the moderators' alone until they accept it for review.
    assert set(Notice.objects.filter(watch=watch).values_list("kind", flat=True)) == {"recall"}
    accept_dispute(moderator=make_moderator(), dispute=dispute, site_url="https://x")
    kinds = set(Notice.objects.filter(watch=watch).values_list("kind", flat=True))
    assert kinds == {"recall", "dispute"}


def test_a_failing_smtp_server_delays_mail_but_loses_none(client, smtp, logbook, settings):
    watch = confirmed_watch(client, smtp)
    settings.EMAIL_PORT = free_port()  # nothing listens there: every send fails
    logbook.event(logbook.dealer, "service", "2024-05-01", odometer_km=1000, items=["oil"])
    with pytest.raises(OSError):
        services.send_digest(watch_id=watch.pk, site_url="https://x", now=timezone.now())
    assert Notice.objects.filter(watch=watch, sent_at__isnull=True).count() == 1

    settings.EMAIL_PORT = smtp.controller.port  # the server is back
    assert services.send_digest(watch_id=watch.pk, site_url="https://x", now=timezone.now())
    assert len(wait_for_mail(smtp, 1)) == 1
    assert not Notice.objects.filter(watch=watch, sent_at__isnull=True).exists()


def test_one_click_unsubscribe_stops_the_mail(client, smtp, logbook):
    confirmed_watch(client, smtp)
    logbook.event(logbook.dealer, "service", "2024-05-01", odometer_km=1000, items=["oil"])
    [news] = wait_for_mail(smtp, 1)
    # A mail client's one-click button (RFC 8058): a POST with no CSRF token.
    response = client.post(link(news, "unsubscribe"), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not Watch.objects.get().is_active
    logbook.event(logbook.dealer, "odometer", "2024-06-01", odometer_km=2000)
    time.sleep(0.3)
    assert len(smtp.messages) == 1


@pytest.mark.parametrize(
    "payload",
    [{}, {"email": "not an address"}, {"email": "a@b.cn", "webhook_url": "https://x.cn/"}],
)
def test_bad_watch_requests_get_field_errors(client, payload, log_key):
    response = client.post(API, payload, content_type="application/json")
    assert response.status_code == 400


def test_an_invalid_vin_cannot_be_watched(client, log_key):
    response = client.post(
        "/api/v1/vehicles/NOTAVIN/watch", {"email": "a@b.cn"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "vin" in response.json()


@pytest.mark.parametrize(
    "url",
    ["http://example.com/hook", "https://127.0.0.1/hook", "https://localhost/hook",
     "https://10.0.0.8/hook", "https://[::1]/hook", "https://169.254.169.254/latest",
     "https://user:pw@example.com/"],
)  # fmt: skip
def test_webhooks_to_private_or_plain_http_addresses_are_refused(client, url, settings, log_key):
    settings.WATCH_WEBHOOKS_ALLOW_PRIVATE = False
    response = client.post(API, {"webhook_url": url}, content_type="application/json")
    assert response.status_code == 400
    assert "webhook_url" in response.json()


# --- a real HTTPS receiver ------------------------------------------------------------------


def self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def receiver(tmp_path, settings):
    received, statuses = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's hook name
            length = int(self.headers["Content-Length"])
            received.append((dict(self.headers), self.rfile.read(length)))
            self.send_response(statuses.pop(0) if statuses else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    cert_path, key_path = self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.WATCH_WEBHOOKS_ALLOW_PRIVATE = True
    settings.WATCH_WEBHOOKS_CA_FILE = str(cert_path)
    server.url = f"https://localhost:{server.server_address[1]}/hook"
    server.received, server.statuses = received, statuses
    yield server
    server.shutdown()


def test_a_webhook_gets_each_new_record_signed_with_hmac(client, logbook, receiver):
    response = client.post(API, {"webhook_url": receiver.url}, content_type="application/json")
    assert response.status_code == 201
    secret = response.json()["secret"]
    index = logbook.event(logbook.dealer, "service", "2024-05-01", odometer_km=1000, items=["oil"])
    deadline = time.monotonic() + 10
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.05)
    [(headers, sent)] = receiver.received
    payload = json.loads(sent)
    assert (payload["vin"], payload["kind"], payload["entry_index"]) == (VIN, "record", index)
    expected = hmac.new(
        secret.encode(), headers["X-Carhistory-Timestamp"].encode() + b"." + sent, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(headers["X-Carhistory-Signature"], f"sha256={expected}")


def test_a_webhook_that_fails_is_tried_again_until_it_answers(client, logbook, receiver):
    client.post(API, {"webhook_url": receiver.url}, content_type="application/json")
    receiver.statuses.extend([503, 500])
    logbook.event(logbook.dealer, "service", "2024-05-01", odometer_km=1000, items=["oil"])
    notice = Notice.objects.get()
    # The first attempt (the task, as the entry integrated) met the 503; the sweep's next
    # attempt meets the 500; the one after that is delivered.
    with pytest.raises(webhooks.WebhookRefused):
        services.deliver_webhook(notice_id=notice.pk, site_url="https://x")
    assert Notice.objects.get(pk=notice.pk).sent_at is None
    services.deliver_webhook(notice_id=notice.pk, site_url="https://x")
    notice.refresh_from_db()
    assert notice.sent_at is not None
    assert len(receiver.received) == 3


def test_the_report_pages_form_starts_a_watch_by_e_mail(client, smtp, logbook):
    logbook.event(logbook.dealer, "service", "2024-05-01", odometer_km=1000, items=["oil"])
    page = client.get(f"/vehicles/{VIN}/").content.decode()
    assert f'action="/vehicles/{VIN}/watch"' in page
    response = client.post(f"/vehicles/{VIN}/watch", {"email": "buyer@example.cn"}, follow=True)
    assert "Check your inbox" in response.content.decode()
    [message] = wait_for_mail(smtp, 1)
    assert VIN in message["Subject"]


def test_the_form_refuses_a_bad_address_without_a_watch(client, logbook):
    response = client.post(f"/vehicles/{VIN}/watch", {"email": "nope"}, follow=True)
    assert "Enter a valid e-mail address" in response.content.decode()
    assert not Watch.objects.exists()


def test_batches_integrated_together_share_one_lookup_that_notices_them_all(
    client, logbook, receiver, monkeypatch
):
    from carhistory.watch.tasks import notice_new_entries_task

    client.post(API, {"webhook_url": receiver.url}, content_type="application/json")
    queued = []
    # The queued lookup is held back, as a worker would hold it for its countdown.
    monkeypatch.setattr(
        notice_new_entries_task, "apply_async", lambda **kwargs: queued.append(kwargs)
    )
    indexes = [
        logbook.event(logbook.dealer, "service", f"2024-05-0{day}", odometer_km=day * 100)
        for day in (1, 2, 3)
    ]
    assert queued == [{"countdown": services.LOOKUP_DELAY_SECONDS}]
    assert not Notice.objects.exists()

    services.notice_new_entries()
    assert sorted(Notice.objects.values_list("entry_index", flat=True)) == indexes
    # The lookup started: the next batch queues one of its own.
    logbook.event(logbook.dealer, "service", "2024-05-04", odometer_km=400)
    assert len(queued) == 2
