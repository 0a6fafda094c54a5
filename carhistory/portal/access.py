"""Who may use the portal: people with a Membership, each seeing only their own organisation.

Every portal view takes the organisation from the signed-in user's membership, never from the
URL or the form, so one source's staff cannot reach another's submissions, uploads or keys.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from carhistory.sources.models import Membership


def membership_of(user) -> Membership | None:
    return Membership.objects.select_related("organisation").filter(user=user).first()


def member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in and a member of an organisation; sets `request.membership`."""

    @login_required(login_url="login")
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        membership = membership_of(request.user)
        if membership is None:
            # Signed in but acting for no source: say what to do rather than a bare 403.
            return render(request, "portal/no_organisation.html", status=403)
        request.membership = membership
        return view(request, *args, **kwargs)

    return guarded


def source_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A member whose role lets them manage the organisation's API and signing keys."""

    @member_required
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.membership.is_source_admin:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded
