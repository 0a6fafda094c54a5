"""Who may moderate: users holding the `moderation.moderate` permission (superusers hold all).

`is_staff` alone is not enough: staff may run the admin for other reasons, and moderation
appends to a public, permanent log.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

MODERATE_PERMISSION = "moderation.moderate"


def is_moderator(user) -> bool:
    return user.is_authenticated and user.is_active and user.has_perm(MODERATE_PERMISSION)


def moderator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required(login_url="login")
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_moderator(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded
