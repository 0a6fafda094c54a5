"""Demo logins: one staff account per demo source and one moderator, with a published password.

They exist so that a newcomer running `make run` can open the portal and the moderation queue
at once. The password is published, so the accounts belong to the "demo accounts" group, which
`carhistory.demo.auth` refuses whenever DEBUG is off.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from carhistory.demo.auth import DEMO_GROUP
from carhistory.sources.models import Membership, MembershipRole, Organisation

DEMO_PASSWORD = "demo-local-trials-only"  # noqa: S105 - published on purpose, DEBUG only
MODERATOR_USERNAME = "moderator"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    opens: str  # where the account lands: a source's portal, or the moderation queue


def install_demo_logins(organisations: Iterable[Organisation]) -> list[DemoLogin]:
    """Create (or reset) the demo logins; running it again changes nothing else."""
    group, _created = Group.objects.get_or_create(name=DEMO_GROUP)
    logins = []
    for organisation in organisations:
        user = _demo_user(organisation.slug, group)
        Membership.objects.update_or_create(
            user=user,
            defaults={"organisation": organisation, "role": MembershipRole.SOURCE_ADMIN},
        )
        logins.append(DemoLogin(user.username, DEMO_PASSWORD, f"/portal/ ({organisation.slug})"))
    moderator = _demo_user(MODERATOR_USERNAME, group)
    moderator.is_staff = True  # the admin, read-only, beside the queue
    moderator.save(update_fields=["is_staff"])
    app_label, codename = "moderation", "moderate"
    moderator.user_permissions.add(
        Permission.objects.get(content_type__app_label=app_label, codename=codename)
    )
    logins.append(DemoLogin(MODERATOR_USERNAME, DEMO_PASSWORD, "/moderation/"))
    return logins


def _demo_user(username: str, group: Group):
    user, _created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@demo.example.cn"}
    )
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    user.groups.add(group)
    return user
