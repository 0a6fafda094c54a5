"""People who act for a source: the first account, created when its application is approved,
and the set-password e-mail that lets that person in.

The e-mail carries Django's own password-reset link (a token bound to the user's current
password hash and last login, so it works once and expires after PASSWORD_RESET_TIMEOUT); the
moderator never sees or sets a password.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from carhistory.sources.models import Membership, MembershipRole, Organisation


def create_first_account(*, organisation: Organisation, site_url: str):
    """An account for the organisation's contact, administrator of its keys, with no password
    yet; the set-password e-mail goes out once the surrounding transaction commits. None when
    the application gave no e-mail address, the organisation has members already, or the
    address belongs to another account (a moderator then adds people in the admin)."""
    email = organisation.contact_email.strip()
    user_model = get_user_model()
    if (
        not email
        or Membership.objects.filter(organisation=organisation).exists()
        or user_model.objects.filter(username__iexact=email).exists()
        or user_model.objects.filter(email__iexact=email).exists()
    ):
        return None
    user = user_model.objects.create_user(username=email, email=email, password=None)
    Membership.objects.create(
        user=user, organisation=organisation, role=MembershipRole.SOURCE_ADMIN
    )
    from carhistory.sources.tasks import send_set_password_email_task

    language = translation.get_language()
    transaction.on_commit(lambda: send_set_password_email_task.delay(user.pk, site_url, language))
    return user


def set_password_url(*, user, site_url: str) -> str:
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return site_url.rstrip("/") + path


def send_set_password_email(*, user_id: int, site_url: str, language: str = "en") -> None:
    """E-mail a member the link to choose their password, in the moderator's language."""
    user = get_user_model().objects.select_related("membership__organisation").get(pk=user_id)
    context = {
        "organisation": user.membership.organisation,
        "username": user.get_username(),
        "url": set_password_url(user=user, site_url=site_url),
        "login_url": site_url.rstrip("/") + reverse("login"),
        "days": settings.PASSWORD_RESET_TIMEOUT // (24 * 3600),
    }
    with translation.override(language):
        subject = render_to_string("sources/set_password_subject.txt", context).strip()
        body = render_to_string("sources/set_password_email.txt", context)
    send_mail(subject, body, None, [user.email])
