"""Demo logins have passwords published in the README: they sign in only while DEBUG is on.

`load_demo` refuses to run with DEBUG off, but a database filled in development may later be
served with DEBUG off; then the demo accounts must be dead, sessions included (Django asks the
backend again for the user of every session, through `get_user`).
"""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend

DEMO_GROUP = "demo accounts"


class DemoAwareModelBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        if not settings.DEBUG and user.groups.filter(name=DEMO_GROUP).exists():
            return False
        return super().user_can_authenticate(user)
