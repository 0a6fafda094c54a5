"""A way in: the first account on approval, its set-password e-mail through a real SMTP
server, a page for a signed-in user with no source, and the demo logins."""

import io
import re
import socket
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from carhistory.demo.logins import DEMO_PASSWORD, MODERATOR_USERNAME
from carhistory.sources.models import Membership
from tests.moderation.factories import make_moderator
from tests.sources.factories import MembershipFactory, OrganisationFactory, UserFactory

pytestmark = pytest.mark.django_db


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free port; Django sends to it over SMTP."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield mailbox
    controller.stop()


def wait_for_mail(mailbox, count=1):
    deadline = time.monotonic() + 10
    while len(mailbox.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return mailbox.messages


def approve(client, applicant):
    client.force_login(make_moderator())
    return client.post(
        reverse("moderation:approve-application", args=[applicant.pk]), {"confirmed": "yes"}
    )


def test_approval_creates_the_first_account_and_mails_a_set_password_link(
    client, smtp_server, django_capture_on_commit_callbacks
):
    applicant = OrganisationFactory(applied=True, contact_email="wang@pudong-repair.example.cn")
    with django_capture_on_commit_callbacks(execute=True):
        response = approve(client, applicant)
    assert "wang@pudong-repair.example.cn" in response.content.decode()
    membership = Membership.objects.get(organisation=applicant)
    assert membership.is_source_admin
    assert not membership.user.has_usable_password()

    [message] = wait_for_mail(smtp_server)
    assert message["To"] == "wang@pudong-repair.example.cn"
    body = message.get_content()
    assert applicant.name in body
    link = re.search(r"http://testserver(/accounts/reset/\S+)", body).group(1)

    person = Client()
    form_page = person.get(link, follow=True)
    assert form_page.context["validlink"]
    set_url = form_page.redirect_chain[-1][0]
    person.post(
        set_url, {"new_password1": "Pudong-garage-2024", "new_password2": "Pudong-garage-2024"}
    )
    assert signs_in(person, "wang@pudong-repair.example.cn", "Pudong-garage-2024")
    assert person.get(reverse("portal:dashboard")).status_code == 200
    # The link works once.
    assert not Client().get(link, follow=True).context["validlink"]


def test_approval_without_a_contact_address_creates_no_account_and_says_so(client):
    applicant = OrganisationFactory(applied=True, contact_email="")
    response = approve(client, applicant)
    assert response.status_code == 200
    assert "No account was created" in response.content.decode()
    assert not Membership.objects.exists()


def test_an_address_that_already_has_an_account_is_not_taken_over(client):
    existing = UserFactory(username="someone", email="ops@taken.example.cn")
    applicant = OrganisationFactory(applied=True, contact_email="OPS@taken.example.cn")
    approve(client, applicant)
    assert not Membership.objects.filter(user=existing).exists()
    assert not Membership.objects.exists()


def test_a_signed_in_user_without_a_source_is_told_what_to_do(client):
    client.force_login(UserFactory())
    response = client.get(reverse("portal:dashboard"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "not linked to any organisation" in page
    assert reverse("portal:apply") in page


def test_a_moderator_lands_on_the_queue_and_a_member_on_the_portal(client):
    client.force_login(make_moderator())
    assert client.get(reverse("portal:start"))["Location"] == reverse("moderation:queue")
    client.force_login(MembershipFactory().user)
    assert client.get(reverse("portal:start"))["Location"] == reverse("portal:dashboard")


@pytest.fixture
def debug(settings):
    settings.DEBUG = True  # the demo refuses to load, and its logins to work, without it


@pytest.fixture
def demo(transactional_db, debug):
    call_command("load_demo", "--site", "http://127.0.0.1:8123", stdout=io.StringIO())


def test_load_demo_prints_the_logins_and_the_port_it_was_given(transactional_db, debug, capsys):
    call_command("load_demo", "--site", "http://127.0.0.1:8123")
    printed = capsys.readouterr().out
    assert "http://127.0.0.1:8123/accounts/login/" in printed
    assert "http://127.0.0.1:8000" not in printed
    assert f"{MODERATOR_USERNAME}" in printed and DEMO_PASSWORD in printed
    assert "bj-chaoyang-auto-repair" in printed


def signs_in(client, username, password) -> bool:
    """Through the sign-in page, as a person does (django-axes watches it)."""
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def test_demo_logins_open_the_portal_and_the_queue(demo):
    shop = Client()
    assert signs_in(shop, "bj-chaoyang-auto-repair", DEMO_PASSWORD)
    assert "Beijing Chaoyang" in shop.get(reverse("portal:dashboard")).content.decode()
    moderator = Client()
    assert signs_in(moderator, MODERATOR_USERNAME, DEMO_PASSWORD)
    assert moderator.get(reverse("moderation:queue")).status_code == 200


def test_demo_logins_are_dead_when_debug_is_off(demo, settings):
    session = Client()
    assert signs_in(session, MODERATOR_USERNAME, DEMO_PASSWORD)
    settings.DEBUG = False
    assert not signs_in(Client(), MODERATOR_USERNAME, DEMO_PASSWORD)
    # A session opened while DEBUG was on is not honoured either.
    assert session.get(reverse("moderation:queue")).status_code == 302
    # Real accounts are unaffected.
    get_user_model().objects.create_user(username="real", password="A-real-password-1")
    assert signs_in(Client(), "real", "A-real-password-1")
