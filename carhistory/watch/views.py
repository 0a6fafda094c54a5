"""The watch pages: the form on the report, the confirmation link, the unsubscribe link."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from carhistory.vin import check_vin
from carhistory.watch import services
from carhistory.watch.forms import WatchForm


@require_POST
def watch(request: HttpRequest, vin: str) -> HttpResponse:
    """`POST /vehicles/<VIN>/watch`: the report's form; the same answer whether or not the
    address already watches (nobody learns who watches which car)."""
    check = check_vin(vin)
    form = WatchForm(request.POST)
    if not check.is_valid or not form.is_valid():
        messages.error(request, _("Enter a valid e-mail address to watch this car."))
        return redirect("vehicles:report", vin=check.vin) if check.is_valid else redirect("/")
    services.subscribe(vin=check.vin, email=form.cleaned_data["email"], language=get_language())
    messages.success(
        request, _("Check your inbox: open the link we sent to start watching this car.")
    )
    return redirect("vehicles:report", vin=check.vin)


@require_safe
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    found = services.confirm(token=token)
    return render(
        request,
        "watch/done.html",
        {"watch": found, "action": "confirmed"},
        status=200 if found else 404,
    )


# Mail clients POST here from the List-Unsubscribe button (RFC 8058) with no CSRF token; the
# token in the URL is the proof, and unsubscribing is all it can do.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    found = services.unsubscribe(token=token)
    return render(
        request,
        "watch/done.html",
        {"watch": found, "action": "unsubscribed"},
        status=200 if found else 404,
    )
